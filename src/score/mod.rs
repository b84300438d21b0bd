//! Findings, scores and grades, computed from the stored evidence columns of a record batch.
//!
//! The scan and `posture rescore` run the same code. [`score_batch`] takes a batch of output
//! rows, as the scan builds it or as read back from Parquet, and runs every test of
//! [`rules`] on each row's columns. It scores the verdicts with a [`Rubric`] and returns the
//! batch with the score columns appended. Columns the batch lacks read as unknown evidence.
//!
//! - [`finding`]: the catalogue of finding ids and the verdict type.
//! - [`rubric`]: the TOML rubric and the score model.
//! - [`subscores`]: Observatory-style and SSL Labs-style approximations.
//! - [`context`]: the business-context indicator, kept out of the score.
//! - [`organisation`]: the per-organisation view.
//! - [`files`], [`diff`], [`report`]: the `rescore`, `diff` and `report` commands.

pub mod commands;
pub mod context;
pub mod diff;
pub mod evidence;
pub mod files;
pub mod finding;
pub mod organisation;
pub mod report;
pub mod rubric;
pub mod rules;
pub mod subscores;
pub mod terminal;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::error::ArrowError;
use serde::Serialize;

pub use context::ContextColumns;
pub use rubric::Rubric;

use evidence::Evidence;

/// Settings of one scoring run.
#[derive(Debug, Clone)]
pub struct Scoring {
    pub rubric: Rubric,
    /// Context columns given by flags; the rest are found by name in each batch.
    pub context: ContextColumns,
}

impl Scoring {
    pub fn new(rubric: Rubric, context: ContextColumns) -> Self {
        Self { rubric, context }
    }
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// Returns the columns that [`score_batch`] appends, in order. `docs/findings.md` and `docs/scoring.md`
/// describe them.
pub fn score_fields() -> Vec<Field> {
    let finding = DataType::Struct(Fields::from(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("penalty", DataType::UInt16, false),
        Field::new("evidence", DataType::Utf8, false),
    ]));
    let text_list = |name: &str| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )
    };
    vec![
        Field::new(
            "findings",
            DataType::List(Arc::new(Field::new("item", finding, true))),
            true,
        ),
        text("score_status"),
        Field::new("score", DataType::UInt8, true),
        text("grade"),
        text("score_capped_by"),
        Field::new("score_unknown_share", DataType::Float64, true),
        text_list("score_unknown_tests"),
        Field::new("score_passed_tests", DataType::UInt32, true),
        text("score_rubric"),
        text("score_rubric_digest"),
        Field::new("observatory_approx_score", DataType::Int16, true),
        text("observatory_approx_grade"),
        text("ssllabs_approx_grade"),
        Field::new("context_employee_rating", DataType::Float64, true),
        Field::new("context_ceo_approval", DataType::Float64, true),
        Field::new("context_score", DataType::Float64, true),
    ]
}

/// Returns true for a column that [`score_batch`] writes, which `rescore` drops first.
pub fn is_score_column(name: &str) -> bool {
    score_fields().iter().any(|field| field.name() == name)
}

#[derive(Serialize)]
struct FindingColumn<'a> {
    id: &'a str,
    category: &'a str,
    severity: &'a str,
    penalty: u32,
    evidence: &'a str,
}

#[derive(Serialize)]
struct ScoreRow<'a> {
    findings: Option<Vec<FindingColumn<'a>>>,
    score_status: &'static str,
    score: Option<u32>,
    grade: Option<String>,
    score_capped_by: Option<&'static str>,
    score_unknown_share: Option<f64>,
    score_unknown_tests: Option<Vec<&'static str>>,
    score_passed_tests: Option<u32>,
    score_rubric: String,
    score_rubric_digest: &'a str,
    observatory_approx_score: Option<i64>,
    observatory_approx_grade: Option<&'static str>,
    ssllabs_approx_grade: Option<&'static str>,
    context_employee_rating: Option<f64>,
    context_ceo_approval: Option<f64>,
    context_score: Option<f64>,
}

/// Scores every row of `batch` and returns only the score columns, in [`score_fields`] order.
pub fn score_columns(batch: &RecordBatch, scoring: &Scoring) -> Result<RecordBatch, ArrowError> {
    let evidence = Evidence::new(batch);
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let context_columns = scoring.context.resolve(&names);
    let rubric = &scoring.rubric;
    let label = rubric.label();

    let mut scores = Vec::with_capacity(evidence.num_rows());
    for index in 0..evidence.num_rows() {
        let row = evidence.row(index);
        let scanned = !row
            .text("status")
            .is_some_and(|status| rules::NOT_SCANNED.contains(&status));
        let score = if scanned {
            rubric.score(&rules::assess(&row))
        } else {
            Rubric::not_scanned()
        };
        let context = context::context_values(&row, &context_columns);
        let observatory = scanned
            .then(|| subscores::observatory_score(&evidence, &row))
            .flatten();
        let ssl_labs = scanned
            .then(|| subscores::ssl_labs_grade(&evidence, &row))
            .flatten();
        scores.push((score, context, observatory, ssl_labs));
    }

    let rows: Vec<ScoreRow<'_>> = scores
        .iter()
        .map(|(score, context, observatory, ssl_labs)| ScoreRow {
            findings: output_findings(score),
            score_status: score.status.as_str(),
            score: score.score,
            grade: score.grade.clone(),
            score_capped_by: score.capped_by,
            score_unknown_share: score.unknown_share,
            score_unknown_tests: (!score.unknown.is_empty()).then(|| score.unknown.clone()),
            score_passed_tests: (score.status != rubric::ScoreStatus::NotScanned)
                .then_some(score.passed),
            score_rubric: label.clone(),
            score_rubric_digest: &rubric.digest,
            observatory_approx_score: *observatory,
            observatory_approx_grade: observatory.map(subscores::observatory_grade),
            ssllabs_approx_grade: *ssl_labs,
            context_employee_rating: context.employee_rating,
            context_ceo_approval: context.ceo_approval,
            context_score: context.score,
        })
        .collect();

    let schema: SchemaRef = Arc::new(Schema::new(score_fields()));
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    decoder.serialize(&rows)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema)))
}

fn output_findings(score: &rubric::RowScore) -> Option<Vec<FindingColumn<'_>>> {
    if score.findings.is_empty() {
        return None;
    }
    Some(
        score
            .findings
            .iter()
            .map(|finding| FindingColumn {
                id: finding.id,
                category: finding::lookup(finding.id).map_or("", |kind| kind.category.as_str()),
                severity: finding.severity.as_str(),
                penalty: finding.penalty,
                evidence: &finding.evidence,
            })
            .collect(),
    )
}

/// Returns `batch` without its score columns, if it has any, then with newly computed ones.
pub fn score_batch(batch: &RecordBatch, scoring: &Scoring) -> Result<RecordBatch, ArrowError> {
    let evidence = strip_score_columns(batch)?;
    let scores = score_columns(&evidence, scoring)?;
    let mut fields: Vec<Arc<Field>> = evidence.schema().fields().iter().cloned().collect();
    fields.extend(scores.schema().fields().iter().cloned());
    let mut columns = evidence.columns().to_vec();
    columns.extend(scores.columns().iter().cloned());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Removes the columns an earlier scoring appended.
pub fn strip_score_columns(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let keep: Vec<usize> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| !is_score_column(field.name()))
        .map(|(index, _)| index)
        .collect();
    batch.project(&keep)
}

/// Returns the schema of scored batches: `schema` without score columns, then the score
/// columns.
pub fn scored_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .filter(|field| !is_score_column(field.name()))
        .map(|field| field.as_ref().clone())
        .collect();
    fields.extend(score_fields());
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests;
