//! `--resume` after `kill -9`, Ctrl-C and a second Ctrl-C: the rows of the interrupted and
//! resumed runs together must equal those of a clean run, each input line exactly once.
//!
//! Each scan runs in a network namespace with a closed resolver (see `common`). The rows
//! compared are the input line, the input, the status and its reason; DNS outcomes (`error`
//! or `timeout`) depend on timing and are left out.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Key, assert_no_duplicates, folder_state, manifest, read_rows};

/// Lines in the test input.
const INPUT_LINES: usize = 30_000;
/// Rows per part: more than the writer's batch of 1,024 rows, so that a part stays open
/// (as a `.partial` file) over several writes, and few enough that a scan finishes one every
/// second or two.
const PART_ROWS: &str = "1500";
/// Maximum time of one scan before the test fails.
const SCAN_LIMIT: Duration = Duration::from_secs(300);

/// A seeded generator (splitmix64), so that a failing run can be repeated.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn seed() -> u64 {
    std::env::var("POSTURE_TEST_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_261_204)
}

/// Writes an input of scannable names, repeats (some of names whose first line is far
/// earlier), invalid lines and IP literals.
fn write_input(path: &Path) {
    let mut random = Random(7);
    let mut text = String::new();
    for line in 0..INPUT_LINES {
        let kind = random.below(100);
        let entry = match kind {
            0..60 => format!("host-{line}.example.com"),
            60..75 => format!("host-{}.example.com", random.below(line as u64 + 1)),
            75..90 => format!("not a domain {line}"),
            _ => format!("192.0.2.{}", line % 256),
        };
        text.push_str(&entry);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// The shared input and the rows of a clean, uninterrupted scan of it.
struct Fixture {
    _dir: tempfile::TempDir,
    input: PathBuf,
    clean: Vec<Key>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("list.txt");
        write_input(&input);
        let out = dir.path().join("clean");
        let status = wait(spawn_scan(&input, &out, false));
        assert_eq!(status.code(), Some(0), "the clean scan failed");
        let clean = read_rows(&out);
        assert_eq!(
            clean.len(),
            INPUT_LINES,
            "the clean scan has one row per line"
        );
        // Repeats whose first line is many parts earlier check the de-duplication table that
        // a resume rebuilds.
        let far_repeats = clean
            .iter()
            .filter(|row| row.2 == "duplicate")
            .filter_map(|row| first_line(row).map(|first| row.0 - first))
            .filter(|distance| *distance > 10_000)
            .count();
        assert!(
            far_repeats > 100,
            "{far_repeats} repeats far from their first line"
        );
        Fixture {
            _dir: dir,
            input,
            clean,
        }
    })
}

/// Returns the first line that a `duplicate` row's reason names.
fn first_line(row: &Key) -> Option<u64> {
    row.3
        .as_deref()?
        .strip_prefix("same domain as input line ")?
        .parse()
        .ok()
}

/// Starts a scan inside a new network namespace.
fn spawn_scan(input: &Path, out: &Path, resume: bool) -> Child {
    let mut command = common::scan_command(input, out);
    command
        .args(["--concurrency", "500", "--part-rows", PART_ROWS, "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        command.arg("--resume");
    }
    command
        .spawn()
        .expect("unshare and posture run (unshare comes with util-linux)")
}

/// Waits for a scan, failing the test if it takes longer than `SCAN_LIMIT`.
fn wait(mut child: Child) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            if status.code() == Some(1) {
                let mut message = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    std::io::Read::read_to_string(&mut stderr, &mut message).unwrap();
                }
                panic!("posture exited with 1: {message}");
            }
            return status;
        }
        if started.elapsed() > SCAN_LIMIT {
            child.kill().unwrap();
            panic!("a scan took longer than {SCAN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends a signal to a child process.
fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) only sends a signal; the id is that of a child not yet waited for.
    let result = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(result, 0, "kill({}, {signal}) failed", child.id());
}

/// Waits until `ready` is true for the output folder, or the scan has ended. Returns whether
/// the scan is still running.
fn wait_for(child: &mut Child, out: &Path, ready: impl Fn(&[String], &[String]) -> bool) -> bool {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let (finished, partial) = folder_state(out);
        if ready(&finished, &partial) {
            return true;
        }
        assert!(
            started.elapsed() < SCAN_LIMIT,
            "the scan made no progress in {SCAN_LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn kill_9_then_resume_equals_clean_run() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let seed = seed();
    let mut random = Random(seed);
    let mut kills = 0;
    let mut moments = [0u32; 3];

    // Every run uses --resume, the first too: on an empty folder it starts a new scan.
    while kills < 24 {
        let mut child = spawn_scan(&fixture.input, &out, true);
        let parts_before = folder_state(&out).0.len();
        let moment = random.below(3) as usize;
        let running = match moment {
            // While a part is being written: its .partial file exists.
            0 => wait_for(&mut child, &out, |_, partial| !partial.is_empty()),
            // Right after a new part was finished: the next one is about to open.
            1 => wait_for(&mut child, &out, |finished, _| {
                finished.len() > parts_before
            }),
            // At a random moment of the first 400 ms: start-up, the resume's reading of
            // the finished parts, or skipping done lines.
            _ => {
                let delay = Duration::from_millis(random.below(400));
                let started = Instant::now();
                wait_for(&mut child, &out, |_, _| started.elapsed() >= delay)
            }
        };
        // Also vary the moment within the observed state by up to 30 ms.
        std::thread::sleep(Duration::from_millis(random.below(30)));
        if !running || child.try_wait().unwrap().is_some() {
            panic!(
                "the scan finished before kill {} (seed {seed}); the input is too small",
                kills + 1
            );
        }
        signal(&child, libc::SIGKILL);
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        kills += 1;
        moments[moment] += 1;
        let rows = read_rows(&out);
        assert_no_duplicates(&rows, &format!("after kill {kills} (seed {seed})"));
    }

    let status = wait(spawn_scan(&fixture.input, &out, true));
    assert_eq!(status.code(), Some(0), "seed {seed}");
    let rows = read_rows(&out);
    assert_no_duplicates(&rows, &format!("after the last resume (seed {seed})"));
    assert_eq!(rows.len(), fixture.clean.len(), "seed {seed}");
    assert!(
        rows == fixture.clean,
        "rows differ from a clean run (seed {seed})"
    );
    assert!(
        moments.iter().all(|count| *count > 0),
        "every kind of moment was used: {moments:?}"
    );

    let manifest = manifest(&out);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], INPUT_LINES as u64);
    assert!(folder_state(&out).1.is_empty(), "no .partial file is left");
}

#[test]
fn ctrl_c_twice_then_resume_equals_clean_run() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");

    // One Ctrl-C: the domains in flight finish, then the part is closed.
    let mut child = spawn_scan(&fixture.input, &out, false);
    assert!(wait_for(&mut child, &out, |finished, _| finished.len() >= 2));
    signal(&child, libc::SIGINT);
    assert_eq!(wait(child).code(), Some(130));
    let after_first = manifest(&out);
    assert_eq!(after_first["ending"], "interrupted");
    assert_eq!(after_first["complete"], false);
    let rows = read_rows(&out);
    assert_no_duplicates(&rows, "after one Ctrl-C");
    assert_eq!(after_first["rows"], rows.len() as u64);
    assert!(folder_state(&out).1.is_empty(), "no .partial file is left");

    // Two Ctrl-C: the domains in flight are cancelled and get no row.
    let mut child = spawn_scan(&fixture.input, &out, true);
    let parts_before = folder_state(&out).0.len();
    assert!(wait_for(&mut child, &out, |finished, _| finished.len()
        > parts_before));
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGINT);
    assert_eq!(wait(child).code(), Some(130));
    let after_second = manifest(&out);
    assert_eq!(after_second["ending"], "interrupted");
    assert_eq!(after_second["resumed_at"].as_array().unwrap().len(), 1);
    let rows = read_rows(&out);
    assert_no_duplicates(&rows, "after two Ctrl-C");
    assert_eq!(after_second["rows"], rows.len() as u64);
    assert!(rows.iter().all(|row| row.2 != "cancelled"));

    let status = wait(spawn_scan(&fixture.input, &out, true));
    assert_eq!(status.code(), Some(0));
    let rows = read_rows(&out);
    assert_no_duplicates(&rows, "after the resume");
    assert!(rows == fixture.clean, "rows differ from a clean run");
    let last = manifest(&out);
    assert_eq!(last["complete"], true);
    assert_eq!(last["started_at"], after_first["started_at"]);
    assert_eq!(last["rows"], INPUT_LINES as u64);
    let counted: u64 = last["status_counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|count| count.as_u64().unwrap())
        .sum();
    assert_eq!(counted, INPUT_LINES as u64);
}

/// Scans `input`, whose lines are all invalid so that nothing is resolved, into `out`.
fn scan_invalid(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    common::scan_command(input, out)
        .args(["-q"])
        .args(extra)
        .output()
        .expect("unshare and posture run")
}

fn write_invalid_input(path: &Path, lines: usize) {
    let text: String = (0..lines).map(|n| format!("not a domain {n}\n")).collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn resume_rejects_changed_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    let out = dir.path().join("out");
    write_invalid_input(&input, 100);
    assert_eq!(scan_invalid(&input, &out, &[]).status.code(), Some(0));

    write_invalid_input(&input, 101);
    let output = scan_invalid(&input, &out, &["--resume"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the input file is not the same"),
        "{stderr}"
    );
    assert_eq!(manifest(&out)["rows"], 100, "the folder is left as it was");
}

#[test]
fn resume_rejects_changed_options() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    let out = dir.path().join("out");
    write_invalid_input(&input, 100);
    assert_eq!(scan_invalid(&input, &out, &[]).status.code(), Some(0));

    let output = scan_invalid(&input, &out, &["--resume", "--checks", "dns,web"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"checks was ["dns"], now ["dns","web"]"#),
        "{stderr}"
    );

    let output = scan_invalid(&input, &out, &["--resume", "--format", "jsonl"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"format was "parquet", now "jsonl""#),
        "{stderr}"
    );

    // Without the email check the selectors change no row, so they may change.
    let output = scan_invalid(&input, &out, &["--resume", "--no-builtin-selectors"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let email = dir.path().join("email");
    let output = scan_invalid(&input, &email, &["--checks", "email"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = scan_invalid(
        &input,
        &email,
        &["--resume", "--checks", "email", "--no-builtin-selectors"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("dkim_selectors_sha256 was null, now")
            && stderr.contains("--no-builtin-selectors; null is the built-in list"),
        "{stderr}"
    );
}

#[test]
fn resume_of_complete_scan_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    let out = dir.path().join("out");
    write_invalid_input(&input, 100);
    assert_eq!(scan_invalid(&input, &out, &[]).status.code(), Some(0));
    let before = read_rows(&out);

    let output = scan_invalid(&input, &out, &["--resume"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(read_rows(&out), before);
    assert_eq!(folder_state(&out).0.len(), 1, "no new part");
    let manifest = manifest(&out);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["rows"], 100);
    assert_eq!(manifest["status_counts"]["invalid_input"], 100);
}

#[test]
fn resume_from_standard_input_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let output = scan_invalid(Path::new("-"), &dir.path().join("out"), &["--resume"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--resume needs an input file"), "{stderr}");
}

#[test]
fn scan_without_resume_rejects_used_folder() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.txt");
    let out = dir.path().join("out");
    write_invalid_input(&input, 10);
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("part-00000.parquet.partial"), "").unwrap();
    let output = scan_invalid(&input, &out, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("add --resume to continue it"), "{stderr}");
}
