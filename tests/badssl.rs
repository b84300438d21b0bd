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
        if case["case"] == "10000-sans" {
            // NOTE: rustls-webpki 0.103 reads most DER values only up to 65535 bytes, and this
            // certificate is about 420 KB, so it fails to parse and the verdict is invalid
            // where the truth expects trusted. rustls also rejects a handshake message of this
            // size, so a scan with rustls never receives it.
            let detail = report.verdict_detail.clone().unwrap_or_default();
            assert_eq!(report.verdict.as_str(), "invalid", "10000-sans: {detail}");
            assert!(
                detail.contains("path validation failed"),
                "10000-sans: {detail}"
            );
            assert_eq!(report.leaf.as_ref().map(|leaf| leaf.san_count), Some(10000));
            checked += 1;
            continue;
        }
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
