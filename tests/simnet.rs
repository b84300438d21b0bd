//! End-to-end scans against the simulated internet (`scripts/simnet run -- cargo test ...`).
//!
//! Each test runs the real `posture` binary against the world's real NSD, Unbound and nginx,
//! names the world's resolver explicitly so nothing can reach the machine's own, and reads the
//! output back with DuckDB and pandas, as a user would.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Environment of the simulated internet; panics with instructions when it is missing.
struct Simnet {
    ca: String,
    truth: String,
    domains: String,
    resolver: String,
    access_log: PathBuf,
}

fn simnet() -> Simnet {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: these tests need the simulated internet; run them as \
                 `scripts/simnet run -- cargo test --release --test simnet`"
            )
        })
    };
    Simnet {
        ca: var("SIMNET_CA"),
        truth: var("SIMNET_TRUTH"),
        domains: var("SIMNET_DOMAINS"),
        resolver: var("SIMNET_RESOLVER"),
        access_log: Path::new(&var("SIMNET_LOGS")).join("nginx-access.log"),
    }
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `posture scan` with the simnet's resolver and CA, plus `extra` flags.
fn scan(net: &Simnet, input: &str, output: &Path, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["scan", input, "-o"])
        .arg(output)
        .args(["--resolver", &net.resolver, "--ca-file", &net.ca])
        .args([
            "--rate",
            "2000",
            "--per-address",
            "5000",
            "--concurrency",
            "400",
            "-q",
        ])
        .args(extra)
        .output()
        .expect("the posture binary runs");
    assert!(
        output.status.success(),
        "posture failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs a Python snippet with `sys.argv[1:]` set to `args`, and returns its standard output.
fn python(code: &str, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn count_lines(path: &str) -> usize {
    std::fs::read_to_string(path)
        .expect("domain list readable")
        .lines()
        .count()
}

/// Access-log lines of requests that carried `user_agent`.
fn requests_with_agent(log: &Path, user_agent: &str) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|line| line.contains(user_agent))
        .map(str::to_string)
        .collect()
}

fn unique_agent(test: &str) -> String {
    format!("posture-test-{test}-{}", std::process::id())
}

#[test]
fn served_http_matches_ground_truth() {
    // Without posture: curl follows the start URLs of one domain per HTTP profile and
    // compares what nginx sends with the truth's HTTP columns.
    simnet();
    let check = Command::new(repo_path("scripts/check-http-world"))
        .args(["--per-case", "1"])
        .output()
        .expect("scripts/check-http-world runs");
    assert!(
        check.status.success(),
        "served responses differ from the truth:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn scan_matches_ground_truth() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    scan(&net, &net.domains, dir.path(), &["--allow-private"]);

    // Every column the ground truth names agrees on every row (the tool lists each difference).
    let accuracy = Command::new(repo_path("scripts/accuracy"))
        .arg(dir.path())
        .arg(&net.truth)
        .output()
        .expect("scripts/accuracy runs");
    assert!(
        accuracy.status.success(),
        "accuracy check failed:\n{}{}",
        String::from_utf8_lossy(&accuracy.stdout),
        String::from_utf8_lossy(&accuracy.stderr)
    );

    // DuckDB: one row per input line, each line once.
    let glob = format!("{}/part-*.parquet", dir.path().display());
    let counts = python(
        "import duckdb, sys\n\
         r = duckdb.sql(f\"select count(*), count(distinct input_line), min(input_line), \
         max(input_line) from read_parquet('{sys.argv[1]}')\").fetchall()[0]\n\
         print(*r)",
        &[&glob],
    );
    let lines = count_lines(&net.domains);
    assert_eq!(counts, format!("{lines} {lines} 1 {lines}"));

    // pandas: the schema has the documented columns with the documented types.
    let types = python(
        "import pandas, pyarrow.parquet as pq, sys, glob\n\
         files = sorted(glob.glob(sys.argv[1]))\n\
         frame = pandas.concat([pandas.read_parquet(f) for f in files])\n\
         schema = pq.read_schema(files[0])\n\
         for name in ['input_line', 'rank', 'domain', 'status', 'dns_a', 'dns_mx', \
         'https_status', 'https_cert_not_after', 'http_redirects_to_https', 'scanned_at']:\n\
         \x20   print(name, schema.field(name).type)\n\
         print('rows', len(frame))",
        &[&glob],
    );
    let expected = [
        "input_line uint64",
        "rank int64",
        "domain string",
        "status string",
        "dns_a list<item: string>",
        "dns_mx list<item: struct<preference: uint16 not null, exchange: string not null>>",
        "https_status uint16",
        "https_cert_not_after timestamp[ms, tz=+00:00]",
        "http_redirects_to_https bool",
        "scanned_at timestamp[ms, tz=+00:00]",
    ];
    for line in expected {
        assert!(types.contains(line), "missing {line:?} in:\n{types}");
    }
    assert!(types.contains(&format!("rows {lines}")), "{types}");

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], lines as u64);
    assert_eq!(manifest["last_input_line"], lines as u64);

    // The world shows every DNSSEC state and reason, so that agreement above covers them all.
    let seen = python(
        "import duckdb, sys\n\
         rows = duckdb.sql(f\"select distinct concat_ws(' ', dnssec_state, dnssec_reason, \
         dnssec_denial, dns_a_outcome, spf_outcome, https_outcome) \
         from read_parquet('{sys.argv[1]}')\").fetchall()\n\
         print('\\n'.join(sorted(r[0] for r in rows)))",
        &[&glob],
    );
    let expected_cases = [
        "secure",
        "secure nsec3",
        "insecure no_ds",
        "insecure unsupported_algorithm",
        "bogus signature_expired nsec bogus bogus dns_bogus",
        "bogus signature_not_yet_valid nsec bogus bogus dns_bogus",
        "bogus ds_no_matching_dnskey nsec bogus bogus dns_bogus",
        "bogus no_dnskey bogus bogus dns_bogus",
        "indeterminate resolver_failure",
    ];
    for case in expected_cases {
        assert!(
            seen.lines().any(|line| line.starts_with(case)),
            "no row starts with {case:?}:\n{seen}"
        );
    }

    // The world has domains whose name servers never respond. The resolver gives up on them
    // with SERVFAIL, so their DNS-derived columns are failures and never absent records. Below
    // a bogus zone, the bogus outcomes show instead, and the accuracy check covers those.
    let unresponsive = python(
        "import duckdb, json, sys\n\
         lines = [row['input_line'] for row in map(json.loads, open(sys.argv[2])) \
         if row.get('profile') == 'unresponsive' and row['dnssec_state'] != 'bogus']\n\
         print(len(lines))\n\
         if lines:\n\
         \x20   rows = duckdb.sql(f\"select distinct concat_ws(' ', dns_a_outcome, \
         dns_txt_outcome, dnssec_state, dnssec_reason, https_outcome, spf_outcome) \
         from read_parquet('{sys.argv[1]}') \
         where input_line in ({','.join(map(str, lines))})\").fetchall()\n\
         \x20   print('\\n'.join(sorted(r[0] for r in rows)))",
        &[&glob, &net.truth],
    );
    let mut unresponsive = unresponsive.lines();
    let count: usize = unresponsive.next().unwrap().parse().unwrap();
    assert!(count > 0, "the world has no unresponsive domain");
    assert_eq!(
        unresponsive.collect::<Vec<_>>(),
        ["servfail servfail indeterminate resolver_failure dns_failure unknown"]
    );

    // Their queries reached the silent name servers, which counted and dropped them. simnet's
    // readiness check sends one query to each of the two addresses.
    let unbound_conf = PathBuf::from(std::env::var("SIMNET_UNBOUND_CONF").unwrap());
    let silent_conf = unbound_conf
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("unbound-silent/unbound.conf");
    let stats = Command::new("unbound-control")
        .arg("-c")
        .arg(&silent_conf)
        .arg("stats_noreset")
        .output()
        .expect("unbound-control runs");
    let stats = String::from_utf8_lossy(&stats.stdout);
    let dropped: u64 = stats
        .lines()
        .find_map(|line| line.strip_prefix("unwanted.queries="))
        .unwrap_or_else(|| panic!("no unwanted.queries in:\n{stats}"))
        .parse()
        .unwrap();
    assert!(
        dropped > 2,
        "the silent name servers dropped {dropped} queries, no more than simnet's 2 readiness queries"
    );
}

/// An email-only scan gets its MX records without the DNS check, so its email columns must
/// agree with the ground truth as a full scan's do. Two columns need other checks:
/// `dmarc_at_apex` needs the DNS check's TXT records, and a bogus zone shows as `bogus` only
/// with the DNSSEC check (email alone reports `unknown`).
#[test]
fn email_only_scan_matches_ground_truth() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    scan(
        &net,
        &net.domains,
        dir.path(),
        &["--allow-private", "--format", "jsonl", "--checks", "email"],
    );
    let rows = read_jsonl(dir.path());
    let truth = truth_by_line(&net);
    assert_eq!(rows.len(), truth.len());

    let prefixes = [
        "spf_", "dmarc_", "dkim_", "mtasts_", "tlsrpt_", "bimi_", "email_",
    ];
    let mut differences = Vec::new();
    for row in &rows {
        let expected = &truth[&row["input_line"].as_u64().unwrap()];
        for (column, value) in expected.as_object().unwrap() {
            let needs_other_checks = column == "dmarc_at_apex"
                || (value == "bogus"
                    && ["spf_outcome", "dmarc_outcome"].contains(&column.as_str()));
            if !prefixes.iter().any(|prefix| column.starts_with(prefix)) || needs_other_checks {
                continue;
            }
            if &row[column] != value {
                differences.push(format!(
                    "{} {column}: {} != {value}",
                    row["domain"], row[column]
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // The world has null MX domains and MTA-STS policies, so the MX columns were compared.
    let null_mx = rows
        .iter()
        .filter(|row| row["email_null_mx"] == true)
        .count();
    assert!(null_mx > 0, "no row has a null MX");
    let covered = rows
        .iter()
        .filter(|row| !row["mtasts_mx_covered"].is_null())
        .count();
    assert!(
        covered > 0,
        "no row compares MTA-STS patterns with MX hosts"
    );
}

/// `--no-builtin-selectors` with a one-selector file: only that selector is queried, and keys
/// under the dictionary's other selectors are no longer found.
#[test]
fn builtin_selectors_can_be_left_out() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    let selectors = dir.path().join("selectors.txt");
    std::fs::write(&selectors, "# only this one\nSelector1\n").unwrap();
    let out = dir.path().join("out");
    scan(
        &net,
        &net.domains,
        &out,
        &[
            "--allow-private",
            "--format",
            "jsonl",
            "--checks",
            "email",
            "--no-builtin-selectors",
            "--dkim-selectors",
            selectors.to_str().unwrap(),
        ],
    );
    let truth = truth_by_line(&net);
    let (mut kept, mut lost, mut differences) = (0, 0, Vec::new());
    for row in read_jsonl(&out) {
        let truth_row = &truth[&row["input_line"].as_u64().unwrap()];
        let Some(queries) = truth_row["dkim_queries"].as_u64() else {
            continue;
        };
        let selectors: Vec<&str> = truth_row["dkim_selectors"]
            .as_array()
            .map(|list| list.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        let with_selector1 = selectors.contains(&"selector1");
        let evidence = match truth_row["dkim_evidence"].as_str() {
            Some("keys_found") if !with_selector1 => {
                lost += 1;
                "ent_only"
            }
            Some(evidence) => {
                kept += usize::from(with_selector1);
                evidence
            }
            None => continue,
        };
        let expected = (
            if queries == 1 { 1 } else { 3 },
            evidence,
            with_selector1.then(|| serde_json::json!(["selector1"])),
        );
        let found = (
            row["dkim_queries"].as_u64().unwrap_or(0),
            row["dkim_evidence"].as_str().unwrap_or(""),
            Some(row["dkim_selectors"].clone()).filter(|value| !value.is_null()),
        );
        if found != expected {
            differences.push(format!("{}: {found:?} != {expected:?}", row["domain"]));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(
        kept > 0 && lost > 0,
        "{kept} rows kept selector1, {lost} lost their keys"
    );
}

#[test]
fn private_addresses_are_not_contacted() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    let agent = unique_agent("private");
    let list = dir.path().join("list.txt");
    let domains: Vec<String> = std::fs::read_to_string(&net.domains)
        .unwrap()
        .lines()
        .take(200)
        .map(|line| line.rsplit(',').next().unwrap().to_string())
        .collect();
    std::fs::write(&list, domains.join("\n")).unwrap();
    let out = dir.path().join("out");
    scan(
        &net,
        list.to_str().unwrap(),
        &out,
        &["--user-agent", &agent, "--format", "jsonl"],
    );

    let rows = read_jsonl(&out);
    assert_eq!(rows.len(), domains.len());
    let private: Vec<_> = rows
        .iter()
        .filter(|row| row["status"] == "private_address")
        .collect();
    // Every domain with an address in the world resolves to loopback.
    let with_address = rows
        .iter()
        .filter(|row| row["dns_a_outcome"] == "data")
        .count();
    assert!(with_address > 100, "only {with_address} domains resolved");
    assert_eq!(private.len(), with_address);
    for row in &private {
        assert_eq!(row["https_outcome"], "blocked_address");
        assert_eq!(row["http_outcome"], "blocked_address");
        assert!(row["status_reason"].as_str().unwrap().contains("loopback"));
    }
    assert_eq!(
        requests_with_agent(&net.access_log, &agent),
        Vec::<String>::new()
    );
}

#[test]
fn excluded_domains_and_networks_are_not_contacted() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    let agent = unique_agent("exclude");

    // Scan a first slice of the world to learn which domains sit on which address.
    let list = dir.path().join("list.txt");
    let domains: Vec<String> = std::fs::read_to_string(&net.domains)
        .unwrap()
        .lines()
        .take(300)
        .map(|line| line.rsplit(',').next().unwrap().to_string())
        .collect();
    std::fs::write(&list, domains.join("\n")).unwrap();
    let first = dir.path().join("first");
    scan(
        &net,
        list.to_str().unwrap(),
        &first,
        &["--allow-private", "--format", "jsonl", "--checks", "dns"],
    );
    let rows = read_jsonl(&first);
    let on_address = |address: &str| -> Vec<String> {
        rows.iter()
            .filter(|row| {
                row["dns_a"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == address))
            })
            .map(|row| row["domain"].as_str().unwrap().to_string())
            .collect()
    };
    let excluded_network = "127.10.0.3";
    let network_domains = on_address(excluded_network);
    let other_domains = on_address("127.10.0.1");
    assert!(network_domains.len() > 10, "{network_domains:?}");
    assert!(other_domains.len() > 10, "{other_domains:?}");
    let excluded_domain = other_domains[0].clone();

    let exclude = dir.path().join("exclude.txt");
    std::fs::write(
        &exclude,
        format!("# opt-outs\n{excluded_domain}\n{excluded_network}/32\n"),
    )
    .unwrap();
    let out = dir.path().join("out");
    scan(
        &net,
        list.to_str().unwrap(),
        &out,
        &[
            "--allow-private",
            "--user-agent",
            &agent,
            "--format",
            "jsonl",
            "--exclude",
            exclude.to_str().unwrap(),
        ],
    );

    let rows = read_jsonl(&out);
    let status_of = |name: &str| {
        let row = rows
            .iter()
            .find(|row| row["domain"] == name)
            .expect("row for domain");
        row["status"].as_str().unwrap().to_string()
    };
    assert_eq!(status_of(&excluded_domain), "excluded");
    for name in &network_domains {
        assert_eq!(status_of(name), "excluded", "domain {name}");
    }

    let requests = requests_with_agent(&net.access_log, &agent);
    // Requests to the other domains prove that the log records this scan.
    assert!(
        requests.len() > 10,
        "only {} requests logged",
        requests.len()
    );
    for line in &requests {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_ne!(
            fields[1], excluded_network,
            "request to an excluded network: {line}"
        );
        assert_ne!(
            fields[3], excluded_domain,
            "request to an excluded domain: {line}"
        );
    }
}

#[test]
fn csv_input_passes_columns_through() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    let truth = std::fs::read_to_string(&net.truth).unwrap();
    let first: serde_json::Value = serde_json::from_str(truth.lines().next().unwrap()).unwrap();
    let domain = first["domain"].as_str().unwrap();

    let input = dir.path().join("companies.csv");
    let csv = format!(
        "company,Website,industry,status\n\
         \"Acme, Inc.\",https://{domain}/about,Retail,active\n\
         Beta,{},Energy,\n\
         Gamma,not a domain,Retail,x\n\
         Delta,co.uk,Retail,x\n",
        domain.to_uppercase()
    );
    std::fs::write(&input, csv).unwrap();
    let out = dir.path().join("out");
    scan(
        &net,
        input.to_str().unwrap(),
        &out,
        &["--allow-private", "--format", "jsonl"],
    );

    let mut rows = read_jsonl(&out);
    rows.sort_by_key(|row| row["input_line"].as_u64());
    let lines: Vec<u64> = rows
        .iter()
        .map(|row| row["input_line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert_eq!(rows[0]["company"], "Acme, Inc.");
    assert_eq!(rows[0]["industry"], "Retail");
    assert_eq!(rows[0]["input_status"], "active");
    assert_eq!(rows[0]["domain"], domain);
    assert_eq!(rows[0]["status"], "ok");
    assert_eq!(rows[1]["status"], "duplicate");
    assert_eq!(rows[1]["status_reason"], "same domain as input line 2");
    assert_eq!(rows[2]["status"], "invalid_input");
    assert_eq!(
        rows[2]["status_reason"],
        "invalid character ' ' in domain name"
    );
    assert_eq!(rows[3]["status"], "invalid_input");
    assert_eq!(
        rows[3]["status_reason"],
        "public suffix, not a registrable domain"
    );
    let columns: HashSet<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(columns.contains("status"));
    assert!(columns.contains("input_status"));
}

/// Reads the world's ground truth, one row per input line.
fn truth_by_line(net: &Simnet) -> std::collections::HashMap<u64, serde_json::Value> {
    std::fs::read_to_string(&net.truth)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|row| (row["input_line"].as_u64().unwrap(), row))
        .collect()
}

fn read_jsonl(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                rows.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    rows
}

#[test]
fn ctrl_c_keeps_every_line_before_stop() {
    let net = simnet();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["scan", &net.domains, "-o"])
        .arg(&out)
        .args([
            "--resolver",
            &net.resolver,
            "--ca-file",
            &net.ca,
            "--allow-private",
        ])
        .args([
            "--rate",
            "40",
            "--per-address",
            "5000",
            "--format",
            "jsonl",
            "--part-rows",
            "20",
        ])
        .args(["-q"])
        .spawn()
        .expect("the posture binary starts");

    // Wait until two parts are complete, so the stop comes in the middle of the list.
    let started = std::time::Instant::now();
    while !out.join("part-00001.jsonl").exists() {
        assert!(
            started.elapsed().as_secs() < 60,
            "no second part after 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    assert_eq!(manifest["ending"], "interrupted");
    let last_line = manifest["last_input_line"].as_u64().unwrap();
    let total = count_lines(&net.domains) as u64;
    assert!(last_line >= 40, "last_input_line {last_line}");
    assert!(last_line < total, "last_input_line {last_line} of {total}");

    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let rows = read_jsonl(&out);
    let mut lines: Vec<u64> = rows
        .iter()
        .map(|row| row["input_line"].as_u64().unwrap())
        .collect();
    lines.sort_unstable();
    let expected: Vec<u64> = (1..=last_line).collect();
    assert_eq!(lines, expected);
    assert_eq!(manifest["rows"], last_line);
}
