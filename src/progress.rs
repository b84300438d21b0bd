//! Progress on standard error while a scan runs, and the summary table at its end.
//!
//! On a terminal, an indicatif bar shows done and total (or a spinner while the total is not
//! known), the rate, the time left, the domains in flight and the failures by kind. Elsewhere,
//! for example in CI logs, one line is printed every few seconds instead.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressMode;
use crate::output::Row;

/// Time between two progress lines when standard error is not a terminal.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Counts of what finished rows contain, by category and value.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub counts: BTreeMap<(&'static str, String), u64>,
}

impl Tally {
    fn add(&mut self, category: &'static str, value: &str) {
        *self
            .counts
            .entry((category, value.to_string()))
            .or_default() += 1;
    }

    pub fn get(&self, category: &'static str, value: &str) -> u64 {
        self.counts
            .get(&(category, value.to_string()))
            .copied()
            .unwrap_or(0)
    }

    fn failures(&self) -> String {
        let mut parts = Vec::new();
        for ((category, value), count) in &self.counts {
            let failed = match *category {
                "status" => value != "ok",
                "dns" => matches!(value.as_str(), "servfail" | "timeout" | "refused" | "error"),
                "https" => !matches!(value.as_str(), "ok" | "no_address"),
                _ => false,
            };
            if failed {
                parts.push(format!("{category} {value} {count}"));
            }
        }
        parts.join(", ")
    }
}

/// Shared progress state of a scan.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    done: AtomicU64,
    total: AtomicU64,
    in_flight: AtomicU64,
    tally: Mutex<Tally>,
    quiet: bool,
    /// Whether progress lines are printed when no bar is drawn.
    log_lines: bool,
}

impl Progress {
    pub fn new(mode: ProgressMode, quiet: bool) -> Arc<Self> {
        let draw = match mode {
            ProgressMode::Never => false,
            ProgressMode::Always => true,
            ProgressMode::Auto => std::io::stderr().is_terminal(),
        };
        let bar = (draw && !quiet).then(|| {
            // indicatif hides its standard-error target when that is not a terminal, so
            // `always` draws through console's terminal type, which writes regardless.
            let target =
                ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 4);
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(spinner_style());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Arc::new(Self {
            bar,
            started: Instant::now(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            tally: Mutex::new(Tally::default()),
            quiet,
            log_lines: !quiet && mode != ProgressMode::Never,
        })
    }

    /// Sets the number of input records, once counted.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_style(bar_style());
        }
    }

    pub fn started_domain(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished_domain(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records a finished row.
    pub fn record(&self, row: &Row) {
        self.done.fetch_add(1, Ordering::Relaxed);
        let message = {
            let mut tally = self
                .tally
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            tally.add("status", row.status);
            if let Some(outcome) = row.dns_a_outcome {
                tally.add("dns", outcome);
            }
            if let Some(outcome) = row.https_outcome {
                tally.add("https", outcome);
            }
            if let Some(verdict) = row.https_cert_verdict {
                tally.add("certificate", verdict);
            }
            if let Some(redirects) = row.http_redirects_to_https {
                tally.add("http to https", if redirects { "yes" } else { "no" });
            }
            self.bar.as_ref().map(|_| tally.failures())
        };
        if let (Some(bar), Some(failures)) = (&self.bar, message) {
            bar.inc(1);
            let in_flight = self.in_flight.load(Ordering::Relaxed);
            bar.set_message(format!("in flight {in_flight} | {failures}"));
        }
    }

    /// Prints a progress line, for runs without a terminal; called every few seconds.
    pub fn log_line(&self) {
        if self.bar.is_some() || !self.log_lines {
            return;
        }
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(0.001);
        let total_text = if total > 0 {
            format!("/{total}")
        } else {
            String::new()
        };
        let failures = self.tally().failures();
        eprintln!(
            "posture: {done}{total_text} rows, {rate:.0}/s, in flight {}, {elapsed:.0}s elapsed{}",
            self.in_flight.load(Ordering::Relaxed),
            if failures.is_empty() {
                String::new()
            } else {
                format!(" | {failures}")
            }
        );
    }

    pub fn log_interval(&self) -> Option<Duration> {
        (self.bar.is_none() && self.log_lines).then_some(LOG_INTERVAL)
    }

    pub fn tally(&self) -> Tally {
        self.tally
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Prints the summary table: rows by status and the main outcomes.
    pub fn print_summary(&self, output: &std::path::Path) {
        if self.quiet {
            return;
        }
        let tally = self.tally();
        let elapsed = self.started.elapsed().as_secs_f64();
        let done = self.done();
        eprintln!(
            "\nposture: {done} rows in {elapsed:.1}s ({:.1} rows/s), written to {}",
            done as f64 / elapsed.max(0.001),
            output.display()
        );
        let mut current = "";
        for ((category, value), count) in &tally.counts {
            if *category != current {
                eprintln!("  {category}");
                current = category;
            }
            let share = 100.0 * *count as f64 / done.max(1) as f64;
            eprintln!("    {value:<20} {count:>10} {share:>6.1}%");
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {pos} rows, {rate}, {elapsed} | {msg}")
        .map(with_rate)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{bar:30} {pos}/{len} rows, {rate}, ETA {eta} | {msg}")
        .map(with_rate)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Adds the `{rate}` key: rows per second, whole.
fn with_rate(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "rate",
        |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0}/s", state.per_sec());
        },
    )
}
