//! The `rescore`, `diff` and `report` commands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use arrow::array::RecordBatch;

use super::files::{self, read_scan};
use super::report::{self, ScanInput};
use super::{ContextColumns, Rubric, Scoring, diff, score_batch};
use crate::cli::{CheckArgs, DiffArgs, ReportArgs, RescoreArgs, ScoringArgs};

/// Builds the scoring settings from the command line, reading the rubric file.
pub fn scoring(args: &ScoringArgs) -> anyhow::Result<Scoring> {
    let rubric = Rubric::load(args.rubric.as_deref())?;
    let context = ContextColumns {
        employee_rating: args.employee_rating_column.clone(),
        ceo_approval: args.ceo_approval_column.clone(),
    };
    Ok(Scoring::new(rubric, context))
}

pub fn rescore(args: &RescoreArgs) -> anyhow::Result<()> {
    let scoring = scoring(&args.scoring)?;
    let summary = files::rescore(&args.results, &args.output, &scoring)?;
    eprintln!(
        "posture: rescored {} rows in {} part(s) with {}: {} graded, {} organisations; \
         written to {}",
        summary.rows,
        summary.parts,
        scoring.rubric.label(),
        summary.graded,
        summary.organisations,
        args.output.display()
    );
    Ok(())
}

/// Reads a scan, scoring it with `rubric` when it has no score columns.
fn read_scored(path: &Path, rubric: &Rubric) -> anyhow::Result<Vec<RecordBatch>> {
    let batches = read_scan(path)?;
    let scored = batches
        .first()
        .is_some_and(|batch| batch.column_by_name("score_status").is_some());
    if scored {
        return Ok(batches);
    }
    tracing::info!(path = %path.display(), "results have no score columns; scoring them");
    let scoring = Scoring::new(rubric.clone(), ContextColumns::default());
    batches
        .iter()
        .map(|batch| score_batch(batch, &scoring).map_err(anyhow::Error::from))
        .collect()
}

pub fn diff(args: &DiffArgs) -> anyhow::Result<()> {
    let old = diff::domain_states(&read_scan(&args.old)?)?;
    let new = diff::domain_states(&read_scan(&args.new)?)?;
    let changes = diff::compare(&old, &new);
    match args.output.as_deref() {
        Some(path) if path == Path::new("-") => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            diff::write_jsonl(&changes, &mut out)?;
            out.flush()?;
            eprint!("{}", diff::summary(&changes));
        }
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = BufWriter::new(file);
            diff::write_jsonl(&changes, &mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            print!("{}", diff::summary(&changes));
        }
        None => print!("{}", diff::summary(&changes)),
    }
    Ok(())
}

pub fn report(args: &ReportArgs) -> anyhow::Result<()> {
    let rubric = Rubric::load(args.rubric.as_deref())?;
    let mut scans = Vec::with_capacity(args.results.len());
    for path in &args.results {
        scans.push(ScanInput {
            label: path.display().to_string(),
            batches: read_scored(path, &rubric)?,
        });
    }
    let grades: Vec<String> = rubric
        .grades
        .iter()
        .map(|band| band.grade.clone())
        .collect();
    let html = report::render(&scans, &grades)?;
    std::fs::write(&args.output, html)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("posture: report written to {}", args.output.display());
    Ok(())
}

/// Scans one domain through the same pipeline as `scan`, into a temporary folder, and prints
/// its grade and findings.
pub fn check(args: &CheckArgs, verbose: u8) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let input = dir.join("input.txt");
    std::fs::write(&input, format!("{}\n", args.domain))
        .with_context(|| format!("cannot write {}", input.display()))?;
    let output = dir.join("out");
    let mut argv = vec![
        "posture".to_string(),
        "scan".to_string(),
        input.display().to_string(),
        "-o".to_string(),
        output.display().to_string(),
        "--progress".to_string(),
        "never".to_string(),
        "--timeout".to_string(),
        args.timeout.clone(),
    ];
    for resolver in &args.resolver {
        argv.extend(["--resolver".to_string(), resolver.clone()]);
    }
    if let Some(ca_file) = &args.ca_file {
        argv.extend(["--ca-file".to_string(), ca_file.display().to_string()]);
    }
    if let Some(rubric) = &args.rubric {
        argv.extend(["--rubric".to_string(), rubric.display().to_string()]);
    }
    if args.allow_private {
        argv.push("--allow-private".to_string());
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(&argv)?;
    let crate::cli::Command::Scan(scan_args) = cli.command else {
        unreachable!("the arguments above name the scan command");
    };
    let config = crate::config::ScanConfig::from_args(scan_args, true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(crate::pipeline::run(config));
    let batches = result.and_then(|_| read_scan(&output));
    let removed = std::fs::remove_dir_all(&dir);
    if let Err(error) = removed {
        tracing::warn!(path = %dir.display(), %error, "cannot remove the temporary folder");
    }
    let batches = batches?;
    let Some(batch) = batches.iter().find(|batch| batch.num_rows() > 0) else {
        anyhow::bail!("the scan of {} wrote no row", args.domain);
    };
    if args.json {
        let mut buffer = Vec::new();
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut buffer);
        writer.write(batch)?;
        writer.finish()?;
        drop(writer);
        print!("{}", String::from_utf8_lossy(&buffer));
        return Ok(());
    }
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    print!(
        "{}",
        super::terminal::render_row(batch, colour, verbose > 0)
    );
    Ok(())
}

/// Creates a new private temporary folder.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let path = base.join(format!("posture-check-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot create {}", path.display()));
            }
        }
    }
    anyhow::bail!("cannot create a temporary folder in {}", base.display())
}
