//! Output faults: a read-only output folder and a disk that fills mid-scan.
//!
//! Each case mounts a small tmpfs inside `unshare -rmn` (new user, mount and network
//! namespaces), which needs no root on the host. The mount disappears with the namespace, so
//! the script copies the output folder out before it ends. The inputs hold only lines that are
//! not scanned, and the resolver is a closed loopback port in the new network namespace.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_no_duplicates, folder_state, manifest, read_rows};

/// Lines of the full-disk input; their rows take about 850 KiB of Parquet.
const LINES: u64 = 40_000;

/// Runs `script` with `sh -eu` in new user, mount and network namespaces. `$POSTURE` names
/// the binary and `$WORK` the test's folder on the real disk.
fn in_namespace(work: &Path, script: &str) -> Output {
    Command::new("unshare")
        .arg("-rmn")
        .args(["sh", "-eu", "-c", script])
        .env("POSTURE", env!("CARGO_BIN_EXE_posture"))
        .env("WORK", work)
        .output()
        .expect("unshare runs (it comes with util-linux)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn read_only_output_folder_fails_before_scanning() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("list.txt"), "not a domain\n").unwrap();
    let output = in_namespace(
        work.path(),
        r#"
        disk=$(mktemp -d)
        mount -t tmpfs -o size=1m tmpfs "$disk"
        mkdir "$disk/out"
        mount -o remount,ro "$disk"
        status=0
        "$POSTURE" scan "$WORK/list.txt" -o "$disk/out" --resolver 127.0.0.1:9 -q || status=$?
        echo "$status" > "$WORK/status"
        ls -A "$disk/out" > "$WORK/listing"
        "#,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let status = std::fs::read_to_string(work.path().join("status")).unwrap();
    assert_eq!(status.trim(), "1");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot write output"), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    let listing = std::fs::read_to_string(work.path().join("listing")).unwrap();
    assert_eq!(listing, "", "nothing was written");
}

#[test]
fn full_disk_keeps_parts_and_resumes() {
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("list.txt");
    let mut lines = String::new();
    for number in 0..LINES {
        lines.push_str(&format!("not a valid domain number {number}\n"));
    }
    std::fs::write(&input, lines).unwrap();

    // The same scan on the real disk, for comparison.
    let clean_out = work.path().join("clean");
    let clean = common::scan_command(&input, &clean_out)
        .args(["--part-rows", "2000", "-q"])
        .output()
        .unwrap();
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    let clean_rows = read_rows(&clean_out);
    assert_eq!(clean_rows.len() as u64, LINES);

    // 200 KiB has room for four or five parts of 2,000 rows (about 42 KiB each).
    let output = in_namespace(
        work.path(),
        r#"
        disk=$(mktemp -d)
        mount -t tmpfs -o size=200k tmpfs "$disk"
        scan() {
            "$POSTURE" scan "$WORK/list.txt" -o "$disk/out" --part-rows 2000 \
                --resolver 127.0.0.1:9 --progress never -q "$@"
        }
        status=0
        scan || status=$?
        echo "$status" > "$WORK/full-status"
        cp -a "$disk/out" "$WORK/full"
        mount -o remount,size=64m "$disk"
        status=0
        scan --resume || status=$?
        echo "$status" > "$WORK/resumed-status"
        cp -a "$disk/out" "$WORK/resumed"
        "#,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);

    // The full disk: exit code 1, a clear message, and whole parts.
    let full = work.path().join("full");
    let status = std::fs::read_to_string(work.path().join("full-status")).unwrap();
    assert_eq!(status.trim(), "1");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let (finished, partial) = folder_state(&full);
    assert!(
        !finished.is_empty(),
        "some parts were finished before the disk was full"
    );
    assert!(
        partial.is_empty(),
        "the unfinished part was removed: {partial:?}"
    );
    let full_rows = read_rows(&full);
    assert_no_duplicates(&full_rows, "on the full disk");
    assert_eq!(full_rows.len(), finished.len() * 2000);
    assert!((full_rows.len() as u64) < LINES);
    for row in &full_rows {
        let clean_row = &clean_rows[row.0 as usize - 1];
        assert_eq!(row, clean_row);
    }

    // The resume after space was freed: every line once, as in the clean run.
    let resumed = work.path().join("resumed");
    let status = std::fs::read_to_string(work.path().join("resumed-status")).unwrap();
    assert_eq!(status.trim(), "0", "{stderr}");
    let rows = read_rows(&resumed);
    assert_no_duplicates(&rows, "after the resume");
    assert!(rows == clean_rows, "rows differ from the clean run");
    let manifest = manifest(&resumed);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], LINES);
    assert_eq!(manifest["status_counts"]["invalid_input"], LINES);
}
