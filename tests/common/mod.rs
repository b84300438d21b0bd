//! Helpers shared by the integration tests that run posture in namespaces and read its output.
//!
//! A scan runs inside `unshare -rn`: a new network namespace whose loopback interface is down,
//! with `--resolver 127.0.0.1:9`. Every DNS query fails at once or times out, so no packet
//! leaves the namespace and the machine's own resolver is never used.

#![allow(dead_code)]

use std::fs::File;
use std::path::Path;
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// One output row as tests compare it: input line, input, status and status reason.
pub type Key = (u64, String, String, Option<String>);

/// Flags that keep a scan on the closed loopback resolver and fast.
pub const OFFLINE_FLAGS: [&str; 12] = [
    "--checks",
    "dns",
    "--resolver",
    "127.0.0.1:9",
    "--timeout",
    "100ms",
    "--rate",
    "100000",
    "--dns-qps",
    "100000",
    "--progress",
    "never",
];

/// Builds a `posture scan INPUT -o OUT` command that runs in a new network namespace. `unshare` executes
/// posture in its own process, so the child's id is posture's and signals reach it directly.
pub fn scan_command(input: &Path, out: &Path) -> Command {
    let mut command = Command::new("unshare");
    command
        .arg("-rn")
        .arg(env!("CARGO_BIN_EXE_posture"))
        .arg("scan")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(OFFLINE_FLAGS);
    command
}

/// Names of the finished parts (`part-*.parquet` or `part-*.jsonl`), sorted, and of the
/// unfinished `.partial` files in `dir`.
pub fn folder_state(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut finished = Vec::new();
    let mut partial = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (finished, partial);
    };
    for entry in entries {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.starts_with("part-") {
            continue;
        }
        if name.ends_with(".partial") {
            partial.push(name);
        } else {
            finished.push(name);
        }
    }
    finished.sort();
    partial.sort();
    (finished, partial)
}

/// Reads the compared columns of every finished part in `dir`, Parquet or JSON Lines, sorted
/// by input line. Panics if a part cannot be read.
pub fn read_rows(dir: &Path) -> Vec<Key> {
    let mut rows = Vec::new();
    for name in folder_state(dir).0 {
        let path = dir.join(&name);
        if name.ends_with(".jsonl") {
            read_jsonl(&path, &mut rows);
        } else {
            read_parquet(&path, &mut rows);
        }
    }
    rows.sort();
    rows
}

fn read_parquet(path: &Path, rows: &mut Vec<Key>) {
    let file = File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|error| panic!("{} is not readable Parquet: {error}", path.display()))
        .build()
        .unwrap();
    for batch in reader {
        let batch = batch.unwrap();
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let lines = column("input_line");
        let lines = lines.as_primitive::<UInt64Type>();
        let inputs = column("input");
        let inputs = inputs.as_string::<i32>();
        let statuses = column("status");
        let statuses = statuses.as_string::<i32>();
        let reasons = column("status_reason");
        let reasons = reasons.as_string::<i32>();
        for index in 0..batch.num_rows() {
            let reason = (!reasons.is_null(index)).then(|| reasons.value(index).to_string());
            rows.push((
                lines.value(index),
                inputs.value(index).to_string(),
                statuses.value(index).to_string(),
                reason,
            ));
        }
    }
}

fn read_jsonl(path: &Path, rows: &mut Vec<Key>) {
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("{} has an invalid line: {error}", path.display()));
        rows.push((
            row["input_line"].as_u64().unwrap(),
            row["input"].as_str().unwrap().to_string(),
            row["status"].as_str().unwrap().to_string(),
            row["status_reason"].as_str().map(str::to_string),
        ));
    }
}

/// Reads every row of the JSON Lines parts in `dir`, whole, sorted by input line.
pub fn read_json_rows(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    for name in folder_state(dir).0 {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text.lines() {
            rows.push(serde_json::from_str::<serde_json::Value>(line).unwrap());
        }
    }
    rows.sort_by_key(|row| row["input_line"].as_u64());
    rows
}

/// Asserts that no input line has two rows.
pub fn assert_no_duplicates(rows: &[Key], context: &str) {
    let lines: std::collections::BTreeSet<u64> = rows.iter().map(|row| row.0).collect();
    assert_eq!(lines.len(), rows.len(), "a line has two rows {context}");
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("_manifest.json")).unwrap()).unwrap()
}
