//! Bad input: each class gets a clear error or one `invalid_input` row per line, never a crash
//! and never a dropped line. Scans run in a network namespace with a closed resolver (see
//! `common`), so the valid names among the lines reach no server.

mod common;

use std::path::Path;
use std::process::Output;

use common::read_json_rows;

/// Scans `bytes` written to a file named `name`, as JSON Lines.
fn scan_bytes(name: &str, bytes: &[u8], extra: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(name);
    std::fs::write(&input, bytes).unwrap();
    let output = common::scan_command(&input, &dir.path().join("out"))
        .args(["--format", "jsonl", "-q"])
        .args(extra)
        .output()
        .expect("unshare and posture run");
    (output, dir)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the rows of a scan that must have ended with exit code 0.
fn successful_rows(output: &Output, dir: &Path) -> Vec<serde_json::Value> {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    read_json_rows(&dir.join("out"))
}

/// Returns each row's input line, status and reason.
fn summary(rows: &[serde_json::Value]) -> Vec<(u64, &str, Option<&str>)> {
    rows.iter()
        .map(|row| {
            (
                row["input_line"].as_u64().unwrap(),
                row["status"].as_str().unwrap(),
                row["status_reason"].as_str(),
            )
        })
        .collect()
}

#[test]
fn non_utf8_bytes_get_invalid_rows() {
    let (output, dir) = scan_bytes(
        "list.txt",
        b"a.example.com\nb\xff\xfe.example.com\n\xc3\n",
        &[],
    );
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (1, "ok", None),
            (2, "invalid_input", Some("input is not valid UTF-8")),
            (3, "invalid_input", Some("input is not valid UTF-8")),
        ]
    );

    let csv = b"domain,note\nbad\xff.example.com,x\ngood.example.com,caf\xe9\n";
    let (output, dir) = scan_bytes("list.csv", csv, &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (
                2,
                "invalid_input",
                Some("the domain field is not valid UTF-8")
            ),
            (3, "ok", None),
        ]
    );
    assert_eq!(rows[1]["note"], "caf\u{fffd}");
}

#[test]
fn nul_bytes_get_invalid_rows() {
    let bytes = b"a.exa\0mple.com\n\0\nb.example.com\0\n";
    let (output, dir) = scan_bytes("list.txt", bytes, &[]);
    let rows = successful_rows(&output, dir.path());
    let reason = Some("invalid character '\\0' in domain name");
    assert_eq!(
        summary(&rows),
        [
            (1, "invalid_input", reason),
            (2, "invalid_input", reason),
            (3, "invalid_input", reason),
        ]
    );

    let (output, dir) = scan_bytes("list.csv", b"domain,note\na.example.com,x\0y\n", &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(summary(&rows), [(2, "ok", None)]);
    assert_eq!(rows[0]["note"], "x\0y");
}

#[test]
fn megabyte_line_gets_one_row() {
    let mut bytes = b"a.example.com\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    bytes.extend_from_slice(b"\nb.example.com\n");
    let (output, dir) = scan_bytes("list.txt", &bytes, &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (1, "ok", None),
            (2, "invalid_input", Some("line longer than 65536 bytes")),
            (3, "ok", None),
        ]
    );
}

#[test]
fn megabyte_csv_record_gets_one_row() {
    let mut bytes = b"domain,note\na.example.com,1\n\"".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    bytes.extend_from_slice(b"\",2\nb.example.com,3\n");
    let (output, dir) = scan_bytes("list.csv", &bytes, &[]);
    let rows = successful_rows(&output, dir.path());
    let reason = "CSV record longer than 1048576 bytes (unbalanced quote?)";
    assert_eq!(
        summary(&rows),
        [
            (2, "ok", None),
            (3, "invalid_input", Some(reason)),
            (4, "ok", None),
        ]
    );
}

#[test]
fn csv_quoted_newlines_keep_line_numbers() {
    let csv = "domain,note\n\
               a.example.com,\"first\nsecond\"\n\
               \"b.exa\nmple.com\",x\n\
               c.example.com,\"say \"\"hi\"\"\"\n";
    let (output, dir) = scan_bytes("list.csv", csv.as_bytes(), &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (2, "ok", None),
            (
                4,
                "invalid_input",
                Some("invalid character '\\n' in domain name")
            ),
            (6, "ok", None),
        ]
    );
    assert_eq!(rows[0]["note"], "first\nsecond");
    assert_eq!(rows[2]["note"], "say \"hi\"");
}

#[test]
fn byte_order_mark_is_skipped() {
    let (output, dir) = scan_bytes(
        "list.csv",
        b"\xef\xbb\xbfdomain,note\na.example.com,x\n",
        &[],
    );
    let rows = successful_rows(&output, dir.path());
    assert_eq!(summary(&rows), [(2, "ok", None)]);
    assert_eq!(rows[0]["note"], "x");

    let (output, dir) = scan_bytes("list.txt", b"\xef\xbb\xbfa.example.com\n", &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(summary(&rows), [(1, "ok", None)]);
    assert_eq!(rows[0]["domain"], "a.example.com");
}

#[test]
fn utf16_input_is_an_error() {
    let bytes = b"\xff\xfea\0.\0c\0o\0m\0\n\0";
    let (output, dir) = scan_bytes("list.txt", bytes, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("UTF-16"), "{}", stderr(&output));
    assert!(
        !dir.path().join("out").exists(),
        "no output before the input is readable"
    );
}

#[test]
fn crlf_line_endings_are_stripped() {
    let (output, dir) = scan_bytes("list.txt", b"a.example.com\r\n\r\nb.example.com\r\n", &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (1, "ok", None),
            (2, "invalid_input", Some("empty domain field")),
            (3, "ok", None),
        ]
    );
    assert_eq!(rows[2]["domain"], "b.example.com");

    let (output, dir) = scan_bytes("list.csv", b"1,a.example.com\r\n2,b.example.com\r\n", &[]);
    let rows = successful_rows(&output, dir.path());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["domain"], "b.example.com");
    assert_eq!(rows[1]["rank"], 2);
}

#[test]
fn empty_file_writes_no_rows() {
    let (output, dir) = scan_bytes("list.txt", b"", &[]);
    assert!(successful_rows(&output, dir.path()).is_empty());
    let manifest = common::manifest(&dir.path().join("out"));
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], 0);
}

#[test]
fn header_without_rows_writes_no_rows() {
    let (output, dir) = scan_bytes("list.csv", b"domain,company\n", &[]);
    assert!(successful_rows(&output, dir.path()).is_empty());
    let manifest = common::manifest(&dir.path().join("out"));
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], 0);
}

#[test]
fn missing_domain_column_is_an_error() {
    let (output, _dir) = scan_bytes("list.csv", b"company,city\nAcme,Paris\n", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("name it with --column"),
        "{}",
        stderr(&output)
    );

    let (output, _dir) = scan_bytes(
        "list.csv",
        b"company,site\nAcme,a.example.com\n",
        &["--column", "web"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("column \"web\" not found"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn short_csv_record_gets_a_row() {
    let (output, dir) = scan_bytes(
        "list.csv",
        b"company,domain\nAcme\nBeta,b.example.com\n",
        &[],
    );
    let rows = successful_rows(&output, dir.path());
    assert_eq!(
        summary(&rows),
        [
            (2, "invalid_input", Some("the record has no domain field")),
            (3, "ok", None),
        ]
    );
    assert_eq!(rows[0]["company"], "Acme");
}

#[test]
fn truncated_gzip_is_an_error_after_its_rows() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for number in 0..200_000 {
        writeln!(encoder, "not a domain {number}").unwrap();
    }
    let compressed = encoder.finish().unwrap();
    let (output, dir) = scan_bytes("list.txt.gz", &compressed[..compressed.len() / 2], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read input"),
        "{}",
        stderr(&output)
    );
    let out = dir.path().join("out");
    let rows = read_json_rows(&out);
    assert!(
        !rows.is_empty(),
        "the rows read before the error are written"
    );
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row["input_line"], index as u64 + 1);
    }
    let manifest = common::manifest(&out);
    assert_eq!(manifest["ending"], "input_error");
    assert_eq!(manifest["rows"], rows.len() as u64);
}
