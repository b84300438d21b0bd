//! The `rescore`, `diff` and `report` commands.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use arrow::array::RecordBatch;

use super::files::{self, read_scan};
use super::report::{self, ScanInput};
use super::{ContextColumns, Rubric, Scoring, diff, score_batch};
use crate::cli::{DiffArgs, ReportArgs, RescoreArgs, ScoringArgs};

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
