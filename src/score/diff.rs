//! `posture diff OLD NEW`: per domain, the findings that appeared and disappeared between two
//! scored scans.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use arrow::array::{Array, AsArray, RecordBatch};
use serde::Serialize;

use super::evidence::Evidence;

/// What one scan says about one domain.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainState {
    pub score: Option<u32>,
    pub grade: Option<String>,
    pub findings: BTreeSet<String>,
}

/// Reads the findings of every graded or partly graded row, keyed by domain. A domain listed
/// twice keeps its first row.
pub fn domain_states(batches: &[RecordBatch]) -> anyhow::Result<BTreeMap<String, DomainState>> {
    let mut states = BTreeMap::new();
    for batch in batches {
        if batch.column_by_name("score_status").is_none() {
            anyhow::bail!(
                "the results have no score columns; score them first with `posture rescore`"
            );
        }
        let evidence = Evidence::new(batch);
        let ids = finding_ids(batch);
        for (index, row_ids) in ids.into_iter().enumerate() {
            let row = evidence.row(index);
            let Some(domain) = row.text("domain") else {
                continue;
            };
            if row
                .text("score_status")
                .is_none_or(|status| status == "not_scanned")
            {
                continue;
            }
            states
                .entry(domain.to_string())
                .or_insert_with(|| DomainState {
                    score: row.number("score").map(|score| score as u32),
                    grade: row.text("grade").map(str::to_string),
                    findings: row_ids.into_iter().collect(),
                });
        }
    }
    Ok(states)
}

/// Returns the finding ids of each row of a scored batch.
fn finding_ids(batch: &RecordBatch) -> Vec<Vec<String>> {
    let mut ids = vec![Vec::new(); batch.num_rows()];
    let Some(lists) = batch
        .column_by_name("findings")
        .and_then(|column| column.as_list_opt::<i32>())
    else {
        return ids;
    };
    for (index, row_ids) in ids.iter_mut().enumerate() {
        if lists.is_null(index) {
            continue;
        }
        let findings = lists.value(index);
        let Some(structs) = findings.as_struct_opt() else {
            continue;
        };
        let Some(id_column) = structs.column_by_name("id") else {
            continue;
        };
        let id_column = arrow::compute::cast(id_column, &arrow::datatypes::DataType::Utf8);
        if let Ok(id_column) = id_column {
            row_ids.extend(
                id_column
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_string),
            );
        }
    }
    ids
}

/// The change of one domain between two scans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainChange {
    pub domain: String,
    /// `improved`, `regressed`, `changed` (findings differ, same score), `unchanged`,
    /// `added` (only in the new scan) or `removed` (only in the old one).
    pub change: &'static str,
    pub old_score: Option<u32>,
    pub new_score: Option<u32>,
    pub old_grade: Option<String>,
    pub new_grade: Option<String>,
    pub appeared: Vec<String>,
    pub disappeared: Vec<String>,
}

/// Compares two scans domain by domain, in domain order.
pub fn compare(
    old: &BTreeMap<String, DomainState>,
    new: &BTreeMap<String, DomainState>,
) -> Vec<DomainChange> {
    let domains: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    domains
        .into_iter()
        .map(|domain| {
            let before = old.get(domain);
            let after = new.get(domain);
            let empty = BTreeSet::new();
            let old_ids = before.map_or(&empty, |state| &state.findings);
            let new_ids = after.map_or(&empty, |state| &state.findings);
            let appeared: Vec<String> = new_ids.difference(old_ids).cloned().collect();
            let disappeared: Vec<String> = old_ids.difference(new_ids).cloned().collect();
            let old_score = before.and_then(|state| state.score);
            let new_score = after.and_then(|state| state.score);
            let change = match (before, after) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => match (old_score, new_score) {
                    (Some(old), Some(new)) if new > old => "improved",
                    (Some(old), Some(new)) if new < old => "regressed",
                    _ if appeared.is_empty() && disappeared.is_empty() => "unchanged",
                    _ => "changed",
                },
            };
            DomainChange {
                domain: domain.clone(),
                change,
                old_score,
                new_score,
                old_grade: before.and_then(|state| state.grade.clone()),
                new_grade: after.and_then(|state| state.grade.clone()),
                appeared,
                disappeared,
            }
        })
        .collect()
}

/// Writes the changes as JSON Lines, one domain per line, leaving out unchanged domains.
pub fn write_jsonl(changes: &[DomainChange], out: &mut impl Write) -> anyhow::Result<()> {
    for change in changes.iter().filter(|change| change.change != "unchanged") {
        serde_json::to_writer(&mut *out, change)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Returns a short text summary: domains per kind of change, and the findings that appeared
/// and disappeared most often.
pub fn summary(changes: &[DomainChange]) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut appeared: BTreeMap<&str, usize> = BTreeMap::new();
    let mut disappeared: BTreeMap<&str, usize> = BTreeMap::new();
    for change in changes {
        *kinds.entry(change.change).or_default() += 1;
        for id in &change.appeared {
            *appeared.entry(id).or_default() += 1;
        }
        for id in &change.disappeared {
            *disappeared.entry(id).or_default() += 1;
        }
    }
    let mut text = format!("{} domains compared\n", changes.len());
    for kind in [
        "improved",
        "regressed",
        "changed",
        "unchanged",
        "added",
        "removed",
    ] {
        text.push_str(&format!(
            "  {kind:<10} {:>6}\n",
            kinds.get(kind).unwrap_or(&0)
        ));
    }
    for (title, counts) in [
        ("findings appeared", appeared),
        ("findings disappeared", disappeared),
    ] {
        let mut sorted: Vec<(&str, usize)> = counts.into_iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        text.push_str(&format!("{title}:\n"));
        if sorted.is_empty() {
            text.push_str("  none\n");
        }
        for (id, count) in sorted.iter().take(10) {
            text.push_str(&format!("  {id:<32} {count:>6}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(score: u32, ids: &[&str]) -> DomainState {
        DomainState {
            score: Some(score),
            grade: None,
            findings: ids.iter().map(|id| id.to_string()).collect(),
        }
    }

    #[test]
    fn compare_lists_appeared_and_disappeared() {
        let old = BTreeMap::from([
            (
                "a.example".to_string(),
                state(60, &["dmarc.missing", "spf.softfail"]),
            ),
            ("b.example".to_string(), state(90, &[])),
            ("gone.example".to_string(), state(50, &[])),
        ]);
        let new = BTreeMap::from([
            ("a.example".to_string(), state(80, &["spf.softfail"])),
            ("b.example".to_string(), state(70, &["dnssec.unsigned"])),
            ("new.example".to_string(), state(50, &[])),
        ]);
        let changes = compare(&old, &new);
        let by_domain: BTreeMap<&str, &DomainChange> = changes
            .iter()
            .map(|change| (change.domain.as_str(), change))
            .collect();
        assert_eq!(by_domain["a.example"].change, "improved");
        assert_eq!(by_domain["a.example"].disappeared, vec!["dmarc.missing"]);
        assert!(by_domain["a.example"].appeared.is_empty());
        assert_eq!(by_domain["b.example"].change, "regressed");
        assert_eq!(by_domain["b.example"].appeared, vec!["dnssec.unsigned"]);
        assert_eq!(by_domain["gone.example"].change, "removed");
        assert_eq!(by_domain["new.example"].change, "added");
        let text = summary(&changes);
        assert!(text.contains("improved        1"), "{text}");
        assert!(text.contains("dnssec.unsigned"), "{text}");
    }
}
