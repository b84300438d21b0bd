//! The scan pipeline: input reader, rate-limited dispatcher, per-domain tasks, output writer.
//!
//! ```text
//! reader thread ──items──▶ dispatcher ──spawn──▶ domain tasks ──rows──▶ writer thread
//! (parse, normalise,       (--rate, --concurrency)  (checks, deadline)    (Parquet parts)
//!  de-duplicate)
//! ```
//!
//! Every stage is joined by a bounded channel, so memory does not grow with the input. Lines
//! that need no scan (invalid, duplicate, excluded by name) go straight to the writer, in input
//! order with the dispatched domains. A first Ctrl-C (or SIGTERM) stops reading; domains in
//! flight finish within their deadline. A second Ctrl-C cancels them without writing their
//! rows, and a third exits at once. Lines without a row in a finished part are scanned by
//! `--resume` (see `resume`).

pub mod resume;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use governor::{Quota, RateLimiter};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::check::dns::DnsClient;
use crate::check::dnssec::DnssecClient;
use crate::check::tls::handshake::HandshakeClient;
use crate::check::web::{WebClient, WebSettings};
use crate::check::{Scanner, Status};
use crate::config::ScanConfig;
use crate::input::dedup::{Deduplicator, Seen};
use crate::input::reader::{self, InputReader};
use crate::input::{DomainName, InputRecord, normalize};
use crate::output::schema::{self, SCHEMA_VERSION};
use crate::output::{OutputError, OutputWriter, Row};
use crate::progress::Progress;
use resume::{Checkpoint, DoneLines, Prior};

/// Input items read ahead of the dispatcher.
const ITEM_QUEUE: usize = 1024;
/// Finished rows waiting for the writer.
const ROW_QUEUE: usize = 1024;
/// Domains dispatched between two clean-ups of per-address rate state.
const CLEANUP_EVERY: u64 = 10_000;

/// Item passed from the reader to the dispatcher.
enum Item {
    Scan {
        record: InputRecord,
        domain: DomainName,
    },
    Done(Box<Row>),
}

/// End state of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    Complete,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
    /// The input could not be read to its end.
    InputError,
    /// The output could not be written; the finished parts are whole.
    OutputError,
}

/// Contents of `_manifest.json`; `docs/schema.md` describes each field.
#[derive(Serialize)]
struct Manifest {
    posture_version: &'static str,
    schema_version: u16,
    input: String,
    format: &'static str,
    started_at: DateTime<Utc>,
    /// Start of each resumed run, oldest first.
    resumed_at: Vec<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    complete: bool,
    ending: Option<Ending>,
    /// Rows in the finished parts, over all runs.
    rows: u64,
    /// Highest input line that has a row in a finished part.
    last_input_line: u64,
    status_counts: BTreeMap<String, u64>,
    parts: Vec<String>,
    checkpoint: Checkpoint,
}

/// Runs a whole scan and returns how it ended.
pub async fn run(config: ScanConfig) -> anyhow::Result<Ending> {
    let now = Utc::now();

    // 1. Input and output are opened first, so that their errors come before any traffic.
    let input = reader::open(&config.input)?;
    let input = InputReader::new(input, config.column.as_deref())?;
    let shape = input.shape().clone();
    let names: Arc<[String]> = schema::passthrough_names(&shape.columns).into();
    let output_schema = schema::schema(&shape.columns, &names);
    let checkpoint = Checkpoint::of(&config)?;
    let scoring = Arc::new(config.scoring.clone());
    let (writer, mut prior) = if config.resume {
        let prior = resume::load(&config.output, &checkpoint, config.format)?;
        let writer = OutputWriter::resume(
            &config.output,
            config.format,
            output_schema,
            config.part_rows,
            prior.next_part,
        )?
        .with_scoring(scoring);
        (writer, prior)
    } else {
        let writer = OutputWriter::create(
            &config.output,
            config.format,
            output_schema,
            config.part_rows,
        )?
        .with_scoring(scoring);
        (writer, Prior::default())
    };
    let mut resumed_at = std::mem::take(&mut prior.resumed_at);
    let started_at = match prior.started_at {
        Some(started_at) => {
            resumed_at.push(now);
            started_at
        }
        None => now,
    };
    let mut manifest = Manifest {
        posture_version: env!("CARGO_PKG_VERSION"),
        schema_version: SCHEMA_VERSION,
        input: config.input.display().to_string(),
        format: resume::format_name(config.format),
        started_at,
        resumed_at,
        finished_at: None,
        complete: false,
        ending: None,
        rows: prior.rows,
        last_input_line: prior.last_input_line,
        status_counts: prior.status_counts.clone(),
        parts: prior.parts.clone(),
        checkpoint,
    };
    writer.write_manifest(&manifest)?;
    if !prior.done.is_empty() {
        tracing::info!(
            rows = prior.rows,
            parts = prior.parts.len(),
            "resuming: lines with a row in a finished part are skipped"
        );
    }

    // 2. The shared clients.
    let web = WebClient::new(WebSettings {
        timeout: config.timeout,
        user_agent: config.user_agent.clone(),
        extra_roots: config.extra_roots.clone(),
        per_address: config.per_address,
    })
    .context("cannot set up TLS")?;
    let handshakes =
        HandshakeClient::new(web.address_limits(), config.timeout, &config.extra_roots)
            .context("cannot set up TLS")?;
    let scanner = Arc::new(Scanner {
        dns: DnsClient::new(&config.dns).context("cannot set up the DNS resolver")?,
        dnssec: DnssecClient::new(
            dnssec_resolvers(&config.dns.resolvers)?,
            config.timeout,
            config.dns.attempts,
        ),
        web,
        handshakes,
        checks: config.checks,
        dkim_selectors: config.dkim_selectors.clone().into(),
        allow_private: config.allow_private,
        allow_networks: config.allow_networks.clone(),
        exclude: config.exclude.clone(),
        deadline: config.deadline,
    });
    tracing::info!(
        input = %config.input.display(),
        output = %config.output.display(),
        layout = ?shape.layout,
        concurrency = config.concurrency,
        rate = config.rate.get(),
        "scan started"
    );

    let progress = Progress::new(config.progress, config.quiet);
    count_ahead(&config, &progress, prior.done.len());
    let soft_stop = CancellationToken::new();
    let hard_stop = CancellationToken::new();
    watch_signals(soft_stop.clone(), hard_stop.clone())?;
    let log_task = progress
        .log_interval()
        .map(|interval| spawn_progress_log(&progress, interval));

    // 3. Reader, writer and dispatcher.
    let (item_sender, item_receiver) = mpsc::channel(ITEM_QUEUE);
    let reader_thread = spawn_reader(
        input,
        &config,
        names.clone(),
        std::mem::take(&mut prior.done),
        item_sender,
        soft_stop.clone(),
    );
    let (row_sender, row_receiver) = mpsc::channel(ROW_QUEUE);
    let writer_thread = std::thread::spawn(move || write_rows(writer, row_receiver));

    dispatch(
        &config,
        scanner,
        item_receiver,
        row_sender,
        progress.clone(),
        names,
        soft_stop.clone(),
        hard_stop,
    )
    .await;

    // 4. Wind down: the dispatcher has dropped its row sender, so the writer ends. A reader
    // still blocked on input that never ends (a pipe kept open) is left behind after a stop.
    let (writer, output_error) = writer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the output writer thread panicked"))?;
    let reader_result = if soft_stop.is_cancelled() && !reader_thread.is_finished() {
        Ok(())
    } else {
        reader_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the input reader thread panicked"))?
    };
    if let Some(task) = log_task {
        task.abort();
    }
    progress.finish();

    let ending = match (&output_error, &reader_result) {
        (Some(_), _) => Ending::OutputError,
        (None, Err(_)) => Ending::InputError,
        _ if soft_stop.is_cancelled() => Ending::Interrupted,
        _ => Ending::Complete,
    };
    let (written, finish_error) = match output_error {
        Some(error) => (writer.abandon(), Some(error)),
        None => match writer.finish() {
            Ok(written) => (written, None),
            Err((written, error)) => (written, Some(error)),
        },
    };
    let ending = if finish_error.is_some() {
        Ending::OutputError
    } else {
        ending
    };
    // NOTE: the organisation view is written for Parquet output only.
    if finish_error.is_none()
        && config.format == crate::cli::Format::Parquet
        && !written.parts.is_empty()
    {
        let organisations =
            crate::score::files::write_organisations(&config.output, &config.scoring.rubric);
        if let Err(error) = organisations {
            tracing::error!(
                error = format!("{error:#}"),
                "cannot write the organisation view"
            );
        }
    }
    let rows = written.rows;
    manifest.finished_at = Some(Utc::now());
    manifest.complete = ending == Ending::Complete;
    manifest.ending = Some(ending);
    manifest.rows += written.rows;
    manifest.last_input_line = manifest.last_input_line.max(written.last_input_line);
    manifest.parts.extend(written.parts);
    for status in Status::ALL {
        let count = written.status_counts.get(status.as_str()).copied();
        *manifest
            .status_counts
            .entry(status.as_str().to_string())
            .or_default() += count.unwrap_or(0);
    }
    // After an output error the disk may be full, so the manifest is written on a best-effort
    // basis and the first error is the one reported.
    let manifest_result = crate::output::write_manifest(&config.output, &manifest);
    if let Some(error) = finish_error {
        let parts = manifest.parts.len();
        return Err(anyhow::Error::from(error).context(format!(
            "the scan stopped; its {parts} finished parts are whole, and the same command with \
             --resume continues it once the output can be written"
        )));
    }
    manifest_result?;
    progress.print_summary(&config.output);
    tracing::info!(rows, ?ending, "scan finished");

    // An input error after some rows: the rows so far are written, and the error is reported.
    reader_result?;
    Ok(ending)
}

/// Counts the input's records in the background for the progress bar, for regular files only.
/// Records done by earlier runs (`done`) are left out of the total.
fn count_ahead(config: &ScanConfig, progress: &Arc<Progress>, done: u64) {
    let is_file = config.input != Path::new("-")
        && std::fs::metadata(&config.input).is_ok_and(|metadata| metadata.is_file());
    if !is_file {
        return;
    }
    let path = config.input.clone();
    let column = config.column.clone();
    let limit = config.limit;
    let progress = progress.clone();
    tokio::task::spawn_blocking(
        move || match reader::count_records(&path, column.as_deref()) {
            Ok(count) => {
                let count = limit.map_or(count, |limit| count.min(limit));
                progress.set_total(count.saturating_sub(done));
            }
            Err(error) => tracing::debug!(%error, "could not count the input ahead"),
        },
    );
}

/// Stops the scan on SIGINT (Ctrl-C) or SIGTERM: the first stops reading, the second cancels
/// the domains in flight, the third exits at once. Whatever is not in a finished part then is
/// scanned again by `--resume`.
fn watch_signals(soft_stop: CancellationToken, hard_stop: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            tokio::select! {
                Some(()) = interrupt.recv() => {}
                Some(()) = terminate.recv() => {}
                else => return,
            }
            received += 1;
            match received {
                1 => {
                    eprintln!(
                        "\nposture: stopping: no new domains; press Ctrl-C again to cancel \
                         those in flight"
                    );
                    soft_stop.cancel();
                }
                2 => {
                    eprintln!(
                        "posture: cancelling the domains in flight; their lines are left for \
                         --resume"
                    );
                    hard_stop.cancel();
                }
                _ => {
                    eprintln!("posture: exiting at once; the part being written is discarded");
                    std::process::exit(130);
                }
            }
        }
    });
    Ok(())
}

fn spawn_progress_log(progress: &Arc<Progress>, interval: Duration) -> tokio::task::JoinHandle<()> {
    let progress = progress.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            progress.log_line();
        }
    })
}

/// Reads, normalises and de-duplicates input records on a blocking thread.
fn spawn_reader(
    mut input: InputReader,
    config: &ScanConfig,
    names: Arc<[String]>,
    done: DoneLines,
    items: mpsc::Sender<Item>,
    stop: CancellationToken,
) -> std::thread::JoinHandle<Result<(), reader::InputError>> {
    let limit = config.limit.unwrap_or(u64::MAX);
    let mut seen = Deduplicator::new(config.dedup_capacity);
    let exclude = config.exclude.clone();
    std::thread::spawn(move || {
        let mut count = 0u64;
        let mut warned_full = false;
        while count < limit && !stop.is_cancelled() {
            let Some(record) = input.next_record()? else {
                break;
            };
            count += 1;
            if done.contains(record.line) {
                // The line's row is in an earlier part. Its name still goes through the
                // de-duplicator, so that a later repeat is reported as in a clean run.
                remember_name(&record, &mut seen);
                continue;
            }
            let item = classify_record(record, &names, &mut seen, &exclude, &mut warned_full);
            if items.blocking_send(item).is_err() {
                break;
            }
        }
        Ok(())
    })
}

/// Records the name of a line done by an earlier run, as `classify_record` would have.
fn remember_name(record: &InputRecord, seen: &mut Deduplicator) {
    if record.defect.is_some() {
        return;
    }
    if let Ok(domain) = normalize(&record.field) {
        seen.check(&domain.ascii, record.line);
    }
}

/// Decides whether a record is scanned, or gets its row at once.
fn classify_record(
    record: InputRecord,
    names: &Arc<[String]>,
    seen: &mut Deduplicator,
    exclude: &crate::check::address::ExcludeList,
    warned_full: &mut bool,
) -> Item {
    if let Some(defect) = record.defect.clone() {
        return Item::Done(Box::new(Row::unscanned(
            record,
            names.clone(),
            None,
            Status::InvalidInput,
            defect,
        )));
    }
    let domain = match normalize(&record.field) {
        Ok(domain) => domain,
        Err(reason) => {
            let reason = reason.to_string();
            let row = Row::unscanned(record, names.clone(), None, Status::InvalidInput, reason);
            return Item::Done(Box::new(row));
        }
    };
    match seen.check(&domain.ascii, record.line) {
        Seen::Duplicate { first_line } => {
            let reason = match first_line {
                Some(line) => format!("same domain as input line {line}"),
                None => "same domain as an earlier input line".to_string(),
            };
            let row = Row::unscanned(
                record,
                names.clone(),
                Some(&domain),
                Status::Duplicate,
                reason,
            );
            return Item::Done(Box::new(row));
        }
        Seen::Untracked if !*warned_full => {
            *warned_full = true;
            tracing::warn!(
                names = seen.len(),
                "the de-duplication table is full; later repeats are scanned again \
                 (raise --dedup-capacity)"
            );
        }
        Seen::First | Seen::Untracked => {}
    }
    if let Some(entry) = exclude.excluded_domain(&domain.ascii) {
        let reason = format!("domain matches exclude entry {entry}");
        let row = Row::unscanned(
            record,
            names.clone(),
            Some(&domain),
            Status::Excluded,
            reason,
        );
        return Item::Done(Box::new(row));
    }
    Item::Scan { record, domain }
}

/// Starts domain tasks in input order within the rate and concurrency limits.
#[allow(clippy::too_many_arguments)]
async fn dispatch(
    config: &ScanConfig,
    scanner: Arc<Scanner>,
    mut items: mpsc::Receiver<Item>,
    rows: mpsc::Sender<Row>,
    progress: Arc<Progress>,
    names: Arc<[String]>,
    soft_stop: CancellationToken,
    hard_stop: CancellationToken,
) {
    let limiter = RateLimiter::direct(Quota::per_second(config.rate));
    // Each permit is one domain in flight.
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut dispatched = 0u64;

    loop {
        let item = tokio::select! {
            biased;
            _ = soft_stop.cancelled() => break,
            _ = rows.closed() => break,
            item = items.recv() => match item {
                Some(item) => item,
                None => break,
            },
        };
        let (record, domain) = match item {
            Item::Done(row) => {
                progress.record(&row);
                if rows.send(*row).await.is_err() {
                    break;
                }
                continue;
            }
            Item::Scan { record, domain } => (record, domain),
        };

        tokio::select! {
            biased;
            _ = soft_stop.cancelled() => break,
            _ = rows.closed() => break,
            _ = limiter.until_ready() => {}
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        dispatched += 1;
        if dispatched.is_multiple_of(CLEANUP_EVERY) {
            scanner.web.forget_idle_addresses();
        }

        let scanner = scanner.clone();
        let rows = rows.clone();
        let progress = progress.clone();
        let names = names.clone();
        let hard_stop = hard_stop.clone();
        progress.started_domain();
        tokio::spawn(async move {
            // A cancelled domain gets no row, so that `--resume` scans its line.
            let scan = tokio::select! {
                scan = scanner.scan(&domain.ascii) => Some(scan),
                _ = hard_stop.cancelled() => None,
            };
            progress.finished_domain();
            if let Some(scan) = scan {
                let row = Row::scanned(record, names, &domain, scan);
                progress.record(&row);
                // The writer only goes away when the scan is failing already.
                let _ = rows.send(row).await;
            }
            drop(permit);
        });
    }

    // The writer only goes away after a failed write. Rows can no longer be written, so the
    // reader stops and the domains in flight are cancelled.
    if rows.is_closed() {
        soft_stop.cancel();
        hard_stop.cancel();
    }

    // Wait for every domain in flight: all permits free means all tasks ended.
    let _ = slots.acquire_many(config.concurrency as u32).await;
}

/// Resolvers for the DNSSEC check's own queries: `--resolver`, else the system's.
fn dnssec_resolvers(
    configured: &[std::net::SocketAddr],
) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let (config, _) = hickory_resolver::system_conf::read_system_conf()
        .context("cannot read the system's resolvers from /etc/resolv.conf")?;
    Ok(config
        .name_servers()
        .iter()
        .map(|server| std::net::SocketAddr::new(server.ip, 53))
        .collect())
}

/// Writes rows until every sender is gone, or until a write fails; runs on its own thread
/// because encoding and compressing Parquet is blocking work.
fn write_rows(
    mut writer: OutputWriter,
    mut rows: mpsc::Receiver<Row>,
) -> (OutputWriter, Option<OutputError>) {
    while let Some(row) = rows.blocking_recv() {
        if let Err(error) = writer.write(row) {
            tracing::error!(%error, "writing output failed; stopping the scan");
            return (writer, Some(error));
        }
    }
    (writer, None)
}
