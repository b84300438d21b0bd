//! The organisation view: scored rows grouped by an organisation input column (`company`,
//! `organisation`, ...) or else by registrable domain, with a score that weights each
//! organisation's weakest domains most.
//!
//! The organisation score is a weighted mean of its graded domains' scores, sorted from the
//! lowest: the k-th lowest has weight 1/k. One weak domain among many therefore pulls the
//! score down more than a plain mean would, and a single domain's score is its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use serde::Serialize;

use super::evidence::Evidence;
use super::rubric::Rubric;

/// Input column names, normalised to lowercase, that name an organisation.
const ORGANISATION_COLUMNS: &[&str] = &[
    "organisation",
    "organization",
    "company",
    "company_name",
    "org",
    "organisation_name",
    "organization_name",
];

/// Returns the organisation column of a schema, if the input had one.
pub fn organisation_column(schema: &Schema) -> Option<String> {
    ORGANISATION_COLUMNS.iter().find_map(|candidate| {
        schema
            .fields()
            .iter()
            .map(|field| field.name())
            .find(|name| name.to_ascii_lowercase().replace([' ', '-'], "_") == *candidate)
            .cloned()
    })
}

/// Computes the weighted score of a list of domain scores; `None` for an empty list.
pub fn weakest_weighted(scores: &[u32]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let mut sorted = scores.to_vec();
    sorted.sort_unstable();
    let (mut sum, mut weights) = (0.0, 0.0);
    for (rank, score) in sorted.iter().enumerate() {
        let weight = 1.0 / (rank as f64 + 1.0);
        sum += weight * f64::from(*score);
        weights += weight;
    }
    Some(sum / weights)
}

#[derive(Default)]
struct Group {
    domains: u32,
    scores: Vec<(u32, String)>,
    findings: u32,
}

#[derive(Serialize)]
struct OrganisationRow {
    organisation: String,
    grouped_by: String,
    domains: u32,
    graded_domains: u32,
    score: Option<f64>,
    grade: Option<String>,
    min_score: Option<u32>,
    weakest_domain: Option<String>,
    mean_score: Option<f64>,
    findings: u32,
    score_rubric: String,
}

pub fn organisation_fields() -> Vec<Field> {
    vec![
        Field::new("organisation", DataType::Utf8, false),
        Field::new("grouped_by", DataType::Utf8, false),
        Field::new("domains", DataType::UInt32, false),
        Field::new("graded_domains", DataType::UInt32, false),
        Field::new("score", DataType::Float64, true),
        Field::new("grade", DataType::Utf8, true),
        Field::new("min_score", DataType::UInt32, true),
        Field::new("weakest_domain", DataType::Utf8, true),
        Field::new("mean_score", DataType::Float64, true),
        Field::new("findings", DataType::UInt32, false),
        Field::new("score_rubric", DataType::Utf8, false),
    ]
}

/// Groups scored batches into one row per organisation, sorted by organisation.
pub fn organisations(batches: &[RecordBatch], rubric: &Rubric) -> anyhow::Result<RecordBatch> {
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for batch in batches {
        let column = organisation_column(&batch.schema());
        let evidence = Evidence::new(batch);
        for index in 0..evidence.num_rows() {
            let row = evidence.row(index);
            if row
                .text("score_status")
                .is_none_or(|status| status == "not_scanned")
            {
                continue;
            }
            let Some(domain) = row.text("domain") else {
                continue;
            };
            let by_column = column
                .as_deref()
                .and_then(|name| row.text(name).map(|value| (name, value.trim())))
                .filter(|(_, value)| !value.is_empty());
            let (grouped_by, name) = match by_column {
                Some((column, value)) => (column.to_string(), value.to_string()),
                None => (
                    "registrable_domain".to_string(),
                    row.text("registrable_domain").unwrap_or(domain).to_string(),
                ),
            };
            let group = groups.entry((name, grouped_by)).or_default();
            group.domains += 1;
            if let Some(score) = row.number("score") {
                group.scores.push((score as u32, domain.to_string()));
            }
            group.findings += count_findings(batch, index);
        }
    }

    let rows: Vec<OrganisationRow> = groups
        .into_iter()
        .map(|((organisation, grouped_by), group)| {
            let scores: Vec<u32> = group.scores.iter().map(|(score, _)| *score).collect();
            let score = weakest_weighted(&scores).map(|score| (score * 10.0).round() / 10.0);
            let weakest = group.scores.iter().min_by_key(|(score, _)| *score);
            OrganisationRow {
                organisation,
                grouped_by,
                domains: group.domains,
                graded_domains: scores.len() as u32,
                grade: score.map(|score| rubric.grade(score.floor() as u32).to_string()),
                score,
                min_score: weakest.map(|(score, _)| *score),
                weakest_domain: weakest.map(|(_, domain)| domain.clone()),
                mean_score: (!scores.is_empty()).then(|| {
                    let mean = scores.iter().sum::<u32>() as f64 / scores.len() as f64;
                    (mean * 10.0).round() / 10.0
                }),
                findings: group.findings,
                score_rubric: rubric.label(),
            }
        })
        .collect();

    let schema = Arc::new(Schema::new(organisation_fields()));
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    decoder.serialize(&rows)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema)))
}

/// Returns the number of entries in a row's `findings` list.
fn count_findings(batch: &RecordBatch, index: usize) -> u32 {
    use arrow::array::{Array, AsArray};
    let Some(column) = batch.column_by_name("findings") else {
        return 0;
    };
    let Some(lists) = column.as_list_opt::<i32>() else {
        return 0;
    };
    if lists.is_null(index) {
        return 0;
    }
    lists.value_length(index) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_domain_weighs_most() {
        let score = weakest_weighted(&[100, 100, 20]).unwrap();
        let mean = 220.0 / 3.0;
        assert!(score < mean, "{score} should be below the mean {mean}");
        assert!(score > 20.0);
        // 20 * 1 + 100 * 1/2 + 100 * 1/3, over 1 + 1/2 + 1/3.
        assert!((score - (20.0 + 50.0 + 100.0 / 3.0) / (11.0 / 6.0)).abs() < 1e-9);
    }

    #[test]
    fn single_domain_keeps_its_score() {
        assert_eq!(weakest_weighted(&[73]), Some(73.0));
        assert_eq!(weakest_weighted(&[]), None);
    }
}
