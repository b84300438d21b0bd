//! Command-line behaviour that needs no network: usage and operational errors, exit codes, and
//! input made only of lines that are not scanned. The resolver is pointed at a closed loopback
//! port so that nothing could leave the machine even if a line were scanned by mistake.

use std::path::Path;
use std::process::{Command, Output};

fn posture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(args)
        .output()
        .expect("the posture binary runs")
}

fn scan(input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "scan",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    args.extend(["--resolver", "127.0.0.1:9", "--timeout", "200ms", "-q"]);
    args.extend(extra);
    posture(&args)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unknown_flag_exits_2() {
    let output = posture(&["scan", "list.txt", "-o", "out", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn missing_input_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = scan(&dir.path().join("absent.txt"), &dir.path().join("out"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read input"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn output_with_earlier_scan_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    std::fs::write(&input, "not a domain\n").unwrap();
    let out = dir.path().join("out");
    assert_eq!(scan(&input, &out, &[]).status.code(), Some(0));
    let again = scan(&input, &out, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already contains a scan"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn unwritable_output_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    std::fs::write(&input, "not a domain\n").unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let output = scan(&input, &blocker.join("out"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot write output"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_checks_list_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    std::fs::write(&input, "example.com\n").unwrap();
    let output = scan(&input, &dir.path().join("out"), &["--checks", "dns,ssl"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unknown check \"ssl\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unscannable_lines_each_get_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    let lines = [
        "",
        "192.0.2.1",
        "[2001:db8::1]:443",
        "co.uk",
        "localhost",
        "bad_name.example",
        "bad\u{0}nul.example",
        "-lead.example",
    ];
    let mut bytes = lines.join("\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\nnot\xffutf8.example\n");
    std::fs::write(&input, bytes).unwrap();
    let out = dir.path().join("out");
    let output = scan(&input, &out, &["--format", "jsonl"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let text = std::fs::read_to_string(out.join("part-00000.jsonl")).unwrap();
    let mut rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    rows.sort_by_key(|row| row["input_line"].as_u64());
    assert_eq!(rows.len(), lines.len() + 1);
    let reasons: Vec<&str> = rows
        .iter()
        .map(|row| row["status_reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "empty domain field",
            "IP address, not a domain name",
            "IP address, not a domain name",
            "public suffix, not a registrable domain",
            "single-label name, not a domain",
            "invalid character '_' in domain name",
            "invalid character '\\0' in domain name",
            "label starts or ends with a hyphen",
            "input is not valid UTF-8",
        ]
    );
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row["input_line"], index as u64 + 1);
        assert_eq!(row["status"], "invalid_input");
    }

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], 9);
    assert_eq!(manifest["status_counts"]["invalid_input"], 9);
}

#[test]
fn empty_input_writes_manifest_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.txt");
    std::fs::write(&input, "").unwrap();
    let out = dir.path().join("out");
    let output = scan(&input, &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"], 0);
    assert_eq!(manifest["complete"], true);
}

fn parse_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("posture parse prints JSON")
}

#[test]
fn parse_valid_dmarc_exits_0() {
    let output = posture(&[
        "parse",
        "dmarc",
        "v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@example.com",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = parse_json(&output);
    assert_eq!(json["type"], "dmarc");
    assert_eq!(json["valid"], true);
    assert_eq!(json["record"]["p"], "quarantine");
    assert_eq!(json["record"]["sp"], "reject");
    assert_eq!(json["record"]["pct"], 100);
    assert_eq!(json["record"]["explicit"][2], "sp");
}

#[test]
fn parse_invalid_dmarc_exits_1() {
    let output = posture(&["parse", "dmarc", "v=DMARC1; p=none; p=reject"]);
    assert_eq!(output.status.code(), Some(1));
    let json = parse_json(&output);
    assert_eq!(json["valid"], false);
    assert_eq!(json["record"]["errors"][0]["kind"], "duplicate_tag");
}

#[test]
fn parse_dkim_reports_key_size() {
    // The RSA key of RFC 6376 appendix C.
    let record = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkMoGeLnQg1\
                  fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/\
                  NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
    let output = posture(&["parse", "dkim", record]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = parse_json(&output);
    assert_eq!(json["record"]["k"], "rsa");
    assert_eq!(json["record"]["key_bits"], 1024);
    assert_eq!(json["record"]["warnings"][0]["kind"], "short_key");
}

#[test]
fn parse_invalid_dkim_exits_1() {
    let output = posture(&[
        "parse",
        "dkim",
        "v=DKIM1; k=ed25519; p=HbawiMnQXTCopHTkR0jlKQ==",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let json = parse_json(&output);
    assert_eq!(json["record"]["errors"][0]["kind"], "invalid_public_key");
}

#[test]
fn parse_policy_from_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["parse", "mta-sts-policy", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the posture binary runs");
    let policy = b"version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n";
    child.stdin.take().unwrap().write_all(policy).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json = parse_json(&output);
    assert_eq!(json["record"]["mode"], "enforce");
    assert_eq!(json["record"]["mx"][0], "*.example.com");
}

#[test]
fn parse_unknown_type_exits_2() {
    let output = posture(&["parse", "dane", "x"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn parse_hsts_reports_preload_readiness() {
    let output = posture(&[
        "parse",
        "hsts",
        "max-age=63072000; includeSubDomains; preload",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = parse_json(&output);
    assert_eq!(json["type"], "hsts");
    assert_eq!(json["record"]["max_age"], 63_072_000);
    assert_eq!(json["record"]["preload_readiness"]["ready"], true);
    assert!(json["record"]["errors"].as_array().unwrap().is_empty());
}

#[test]
fn parse_duplicate_hsts_exits_1() {
    let output = posture(&["parse", "hsts", "max-age=1; max-age=2"]);
    assert_eq!(output.status.code(), Some(1));
    let json = parse_json(&output);
    assert_eq!(json["record"]["errors"][0]["kind"], "duplicate_directive");
}

#[test]
fn parse_cookie_never_prints_value() {
    let output = posture(&[
        "parse",
        "cookie",
        "secure_token=S3CR3T; Path=/; HttpOnly",
        "--origin",
        "http://www.example.com/login",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("S3CR3T"));
    let json = parse_json(&output);
    assert_eq!(json["type"], "cookie");
    assert_eq!(json["record"]["name"], "secure_token");
    assert_eq!(json["record"]["secure"], false);
    assert_eq!(json["record"]["domain"], "www.example.com");
    let warnings: Vec<&str> = json["record"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|warning| warning["kind"].as_str().unwrap())
        .collect();
    assert!(warnings.contains(&"no_secure"), "{warnings:?}");
    assert!(warnings.contains(&"session_name"), "{warnings:?}");
}

#[test]
fn parse_rejected_cookie_exits_1() {
    let output = posture(&["parse", "cookie", "id=1; SameSite=None"]);
    assert_eq!(output.status.code(), Some(1));
    let json = parse_json(&output);
    assert_eq!(
        json["record"]["errors"][0]["kind"],
        "same_site_none_without_secure"
    );
}

#[test]
fn parse_server_headers_from_stdin() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_posture"))
        .args(["parse", "server", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the posture binary runs");
    let headers = b"Server: Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips\nX-Powered-By: PHP/5.4.16\n";
    child.stdin.take().unwrap().write_all(headers).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json = parse_json(&output);
    let products = json["record"]["products"].as_array().unwrap();
    assert_eq!(products.len(), 3);
    assert_eq!(products[0]["os"], "CentOS");
    assert_eq!(products[2]["header"], "x-powered-by");
    assert_eq!(products[2]["eol"]["status"], "end_of_life");
    assert_eq!(products[2]["eol"]["cycle"], "5.4");
}

#[test]
fn parse_csp_flags_unsafe_inline() {
    let output = posture(&[
        "parse",
        "csp",
        "default-src 'self'; script-src 'self' 'unsafe-inline'",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json = parse_json(&output);
    assert_eq!(json["record"]["unsafe_inline"], true);
    assert_eq!(json["record"]["warnings"][0]["kind"], "unsafe_inline");
}

#[test]
fn parse_html_as_security_txt_exits_1() {
    let output = posture(&[
        "parse",
        "security-txt",
        "<!doctype html><html><body>hi</body></html>",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let json = parse_json(&output);
    assert_eq!(json["record"]["not_security_txt"], "html");
    assert_eq!(json["record"]["errors"][0]["kind"], "not_security_txt");
}

#[test]
fn spf_evaluate_single_label_domain() {
    // A single-label domain gives `none` before any DNS query (RFC 7208 section 4.3), so
    // the unreachable resolver is never contacted.
    let output = posture(&[
        "spf",
        "evaluate",
        "--ip",
        "192.0.2.1",
        "--sender",
        "alice@localhost",
        "--resolver",
        "127.0.0.1:9",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["result"], "none");
    assert_eq!(report["domain"], "localhost");
    assert_eq!(report["sender"], "alice@localhost");
    assert_eq!(report["lookups"], 0);
    assert!(report["problem"].as_str().is_some());
}
