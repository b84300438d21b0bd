//! Peak memory of the de-duplication table alone: `dedup_memory N` remembers N distinct names
//! and prints the process's peak resident set size.
use posture::input::dedup::Deduplicator;

fn main() {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let mut seen = Deduplicator::new(usize::MAX);
    for line in 1..=count {
        seen.check(&format!("bench-absent-{line}.com"), line);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status.lines().find(|l| l.starts_with("VmHWM")).unwrap();
    println!("{count} names, {} remembered, {peak}", seen.len());
}
