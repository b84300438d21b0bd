//! Checks the certificate analysis against the ground truth of the simulated internet's badssl
//! cases. It reads the chain files nginx serves, so it needs the world but no connection.
//!
//! Run as `scripts/simnet run -- cargo test --release --test badssl`.

use std::path::Path;

use chrono::Utc;
use posture::check::tls::cert::{self, ChainReport};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs the simulated internet; run it as \
             `scripts/simnet run -- cargo test --release --test badssl`"
        )
    })
}

fn read_pem(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("invalid PEM in {}: {error}", path.display()))
}

/// Returns "field: expected X, got Y" for each field of the report that differs from the truth.
fn disagreements(truth: &Value, report: &ChainReport) -> Vec<String> {
    let leaf = report.leaf.as_ref();
    let flags = serde_json::to_value(report.flags).expect("flags serialize");
    let mut actual = vec![
        ("cert_verdict", Value::from(report.verdict.as_str())),
        ("chain_length", Value::from(report.chain_length)),
        (
            "chain_order_correct",
            Value::from(report.chain_order_correct),
        ),
        (
            "key_type",
            Value::from(leaf.map(|l| l.key.key_type.clone())),
        ),
        ("key_bits", Value::from(leaf.and_then(|l| l.key.bits))),
        (
            "signature_algorithm",
            Value::from(leaf.map(|l| l.signature_algorithm.clone())),
        ),
        (
            "issuer_cn",
            Value::from(leaf.and_then(|l| l.issuer_cn.clone())),
        ),
        ("san_count", Value::from(leaf.map(|l| l.san_count))),
    ];
    for flag in [
        "expired",
        "self_signed",
        "untrusted_root",
        "incomplete_chain",
        "weak_key",
        "weak_signature",
        "name_mismatch",
    ] {
        actual.push((flag, flags[flag].clone()));
    }
    actual
        .into_iter()
        .filter(|(field, value)| &truth[*field] != value)
        .map(|(field, value)| format!("{field}: expected {}, got {value}", truth[field]))
        .collect()
}

#[test]
fn certificate_analysis_matches_badssl_truth() {
    let world = env("SIMNET_WORLD");
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in read_pem(Path::new(&env("SIMNET_CA"))) {
        roots
            .add(root)
            .expect("the world's CA file holds valid roots");
    }
    let truth = std::fs::read_to_string(env("SIMNET_BADSSL_TRUTH")).expect("truth readable");

    let mut checked = 0;
    let mut failures = Vec::new();
    for line in truth.lines() {
        let case: Value = serde_json::from_str(line).expect("truth line is JSON");
        if case["built"] != Value::Bool(true) {
            continue;
        }
        let file = case["cert_file"].as_str().expect("cert_file is a string");
        let chain = read_pem(&Path::new(&world).join(format!("badssl/certs/{file}.pem")));
        let name = case["name"].as_str().expect("name is a string");
        let report = cert::analyze(&chain, name, Utc::now(), &roots);
        for difference in disagreements(&case, &report) {
            failures.push(format!("{}: {difference}", case["case"]));
        }
        checked += 1;
    }
    assert!(checked >= 70, "only {checked} built cases in the truth");
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cases whose handshake rustls cannot complete (TLS 1.1 or older only, CBC, static RSA,
/// finite-field DHE or NULL suites only, RSA keys under 2048 bits, a 420 KB certificate), so
/// their chain comes from the Certificate message of a legacy version probe.
const NO_MODERN_HANDSHAKE: [&str; 13] = [
    "dh1024",
    "dh2048",
    "dh-composite",
    "dh-small-subgroup",
    "tls-v1-1",
    "tls-v1-0",
    "very",
    "cbc",
    "static-rsa",
    "null",
    "10000-sans",
    "rsa512",
    "rsa1024",
];

/// Scans every built case with `posture scan --checks tls` and compares the versions, weak
/// suite categories and certificate verdicts with the truth.
#[test]
fn tls_scan_matches_badssl_truth() {
    let truth_text = std::fs::read_to_string(env("SIMNET_BADSSL_TRUTH")).expect("truth readable");
    let truth: Vec<Value> = truth_text
        .lines()
        .map(|line| serde_json::from_str(line).expect("truth line is JSON"))
        .filter(|case: &Value| case["built"] == true)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.txt");
    let names: Vec<&str> = truth
        .iter()
        .map(|case| case["name"].as_str().unwrap())
        .collect();
    std::fs::write(&input, names.join("\n")).unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["scan", input.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args([
            "--checks",
            "tls",
            "--format",
            "jsonl",
            "--progress",
            "never",
            "-q",
        ])
        .args([
            "--resolver",
            &env("SIMNET_RESOLVER"),
            "--ca-file",
            &env("SIMNET_CA"),
        ])
        .args(["--allow-network", "127.0.0.0/8", "--per-address", "1000"])
        .status()
        .expect("posture runs");
    assert!(status.success());

    let mut rows = std::collections::HashMap::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "jsonl")
        {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let row: Value = serde_json::from_str(line).unwrap();
                rows.insert(row["domain"].as_str().unwrap().to_string(), row);
            }
        }
    }
    let versions = [
        ("ssl3", "tls_ssl3_offered"),
        ("tls1.0", "tls_tls1_0_offered"),
        ("tls1.1", "tls_tls1_1_offered"),
        ("tls1.2", "tls_tls1_2_offered"),
        ("tls1.3", "tls_tls1_3_offered"),
    ];
    let mut differences = Vec::new();
    for case in &truth {
        let name = case["name"].as_str().unwrap();
        let label = case["case"].as_str().unwrap();
        let row = rows
            .get(name)
            .unwrap_or_else(|| panic!("no row for {name}"));
        for (version, column) in versions {
            if row[column] != case["versions"][version] {
                differences.push(format!(
                    "{label} {version}: {} vs {}",
                    case["versions"][version], row[column]
                ));
            }
        }
        let mut expected: Vec<String> = case["weak_ciphers"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|value| value.as_str().unwrap().replace("anon", "anonymous"))
                    .collect()
            })
            .unwrap_or_default();
        let mut found: Vec<String> = row["tls_weak_categories"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|value| value.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        expected.sort();
        found.sort();
        if expected != found {
            differences.push(format!("{label} weak: {expected:?} vs {found:?}"));
        }
        let verdict = &row["tls_cert_verdict"];
        if *verdict != case["cert_verdict"] {
            differences.push(format!(
                "{label} verdict: {} vs {verdict} ({})",
                case["cert_verdict"], row["tls_cert_verdict_detail"]
            ));
        }
        let source = match NO_MODERN_HANDSHAKE.contains(&label) {
            true => "probe",
            false => "handshake",
        };
        if row["tls_cert_source"] != source {
            differences.push(format!(
                "{label} source: {source} vs {}",
                row["tls_cert_source"]
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "truth vs posture:\n{}",
        differences.join("\n")
    );
}
