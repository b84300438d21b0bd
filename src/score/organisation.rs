//! The organisation view: scored rows grouped by an organisation input column (`company`,
//! `organisation`, ...) or else by registrable domain, with a score that weights each
//! organisation's weakest domains most.
//!
//! The organisation score is a weighted mean of its graded domains' scores, sorted from the
//! lowest: the k-th lowest has weight 1/k. One weak domain among many therefore pulls the
//! score down more than a plain mean would, and a single domain's score is its own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

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

/// Groups kept in memory before they are written out as a sorted run. By estimate, a group
/// with one domain takes about 200 bytes, so a full table takes a few MiB.
const MAX_GROUPS_IN_MEMORY: usize = 32_768;

/// Organisation rows per record batch handed to the caller.
const OUTPUT_BATCH_ROWS: usize = 8192;

/// Input columns that grouping reads, besides the organisation column.
pub const GROUPING_COLUMNS: &[&str] = &[
    "score_status",
    "domain",
    "registrable_domain",
    "score",
    "findings",
];

/// Tallies of one organisation, or of the part of it seen in one run.
#[derive(Default, Serialize, Deserialize)]
struct Group {
    domains: u32,
    findings: u32,
    /// Scores of the graded domains, in no particular order.
    scores: Vec<u32>,
    /// The lowest score and the first domain in input order that has it.
    weakest: Option<(u32, String)>,
}

impl Group {
    fn add_score(&mut self, score: u32, domain: &str) {
        self.scores.push(score);
        if self
            .weakest
            .as_ref()
            .is_none_or(|(lowest, _)| score < *lowest)
        {
            self.weakest = Some((score, domain.to_string()));
        }
    }

    /// Adds the tallies of `later`, which comes from rows after this group's rows.
    fn merge(&mut self, later: Group) {
        self.domains += later.domains;
        self.findings += later.findings;
        self.scores.extend(later.scores);
        if let Some((score, domain)) = later.weakest
            && self
                .weakest
                .as_ref()
                .is_none_or(|(lowest, _)| score < *lowest)
        {
            self.weakest = Some((score, domain));
        }
    }

    fn into_row(
        self,
        organisation: String,
        grouped_by: String,
        rubric: &Rubric,
    ) -> OrganisationRow {
        let score = weakest_weighted(&self.scores).map(|score| (score * 10.0).round() / 10.0);
        let (min_score, weakest_domain) = self.weakest.unzip();
        OrganisationRow {
            organisation,
            grouped_by,
            domains: self.domains,
            graded_domains: self.scores.len() as u32,
            grade: score.map(|score| rubric.grade(score.floor() as u32).to_string()),
            score,
            min_score,
            weakest_domain,
            mean_score: (!self.scores.is_empty()).then(|| {
                let mean = self.scores.iter().sum::<u32>() as f64 / self.scores.len() as f64;
                (mean * 10.0).round() / 10.0
            }),
            findings: self.findings,
            score_rubric: rubric.label(),
        }
    }
}

/// Key of a group: the organisation's name, then the column it was taken from.
type GroupKey = (String, String);

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

/// Groups scored rows by organisation in bounded memory. Once `max_groups` groups are in
/// memory, they are written to a run file sorted by key, and `finish` merges the runs. A scan of
/// millions of distinct registrable domains is one group each, so without the runs the
/// table would grow with the input.
pub struct OrganisationGrouper {
    groups: BTreeMap<GroupKey, Group>,
    max_groups: usize,
    /// Folder for the run files, or `None` to keep every group in memory.
    run_folder: Option<PathBuf>,
    runs: Vec<PathBuf>,
}

impl OrganisationGrouper {
    /// Creates a grouper that keeps every group in memory.
    pub fn in_memory() -> Self {
        Self {
            groups: BTreeMap::new(),
            max_groups: usize::MAX,
            run_folder: None,
            runs: Vec::new(),
        }
    }

    /// Creates a grouper that writes a sorted run to `folder` (a `*.partial` file, removed by
    /// `finish`) each time it has `MAX_GROUPS_IN_MEMORY` groups in memory.
    pub fn with_runs_in(folder: &Path) -> Self {
        Self::with_limit(folder, MAX_GROUPS_IN_MEMORY)
    }

    fn with_limit(folder: &Path, max_groups: usize) -> Self {
        Self {
            groups: BTreeMap::new(),
            max_groups: max_groups.max(1),
            run_folder: Some(folder.to_path_buf()),
            runs: Vec::new(),
        }
    }

    /// Adds the scanned rows of one scored batch. Batches must come in input order, so that
    /// the weakest domain of a tie is the first one in the input.
    pub fn add(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
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
                Some((column, value)) => (column, value),
                None => (
                    "registrable_domain",
                    row.text("registrable_domain").unwrap_or(domain),
                ),
            };
            let key = (name.to_string(), grouped_by.to_string());
            if self.groups.len() >= self.max_groups && !self.groups.contains_key(&key) {
                self.write_run()?;
            }
            let group = self.groups.entry(key).or_default();
            group.domains += 1;
            if let Some(score) = row.number("score") {
                group.add_score(score as u32, domain);
            }
            group.findings += count_findings(batch, index);
        }
        Ok(())
    }

    /// Writes the groups held in memory to a new run file, in key order, and empties the table.
    fn write_run(&mut self) -> anyhow::Result<()> {
        let Some(folder) = &self.run_folder else {
            return Ok(());
        };
        let path = folder.join(format!("organisations-run-{:05}.partial", self.runs.len()));
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        self.runs.push(path.clone());
        let mut writer = BufWriter::new(file);
        for entry in std::mem::take(&mut self.groups) {
            serde_json::to_writer(&mut writer, &entry)?;
            writer.write_all(b"\n")?;
        }
        writer
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Calls `write` with the organisation rows, sorted by organisation, in batches of at most
    /// `OUTPUT_BATCH_ROWS`, and returns the number of organisations. The run files are removed
    /// when the grouper is dropped, at the end of this call.
    pub fn finish(
        mut self,
        rubric: &Rubric,
        mut write: impl FnMut(RecordBatch) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        let mut batch = RowBatcher::new(rubric);
        if self.runs.is_empty() {
            for ((organisation, grouped_by), group) in std::mem::take(&mut self.groups) {
                batch.push(organisation, grouped_by, group, &mut write)?;
            }
            return batch.finish(&mut write);
        }
        self.write_run()?;
        merge_runs(&self.runs, &mut batch, &mut write)?;
        batch.finish(&mut write)
    }
}

impl Drop for OrganisationGrouper {
    /// Removes the run files, also after an error.
    fn drop(&mut self) {
        for path in &self.runs {
            if let Err(error) = fs::remove_file(path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), %error, "cannot remove a run file");
            }
        }
    }
}

/// Merges sorted run files, joining the groups of one key in run order, which is input order.
fn merge_runs(
    runs: &[PathBuf],
    batch: &mut RowBatcher<'_>,
    write: &mut impl FnMut(RecordBatch) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        readers.push(RunReader {
            lines: BufReader::new(file).lines(),
            path,
        });
    }
    // The heap orders the next key of every run. Equal keys come out in run order.
    let mut heads: Vec<Option<Group>> = runs.iter().map(|_| None).collect();
    let mut heap = BinaryHeap::new();
    for run in 0..runs.len() {
        advance(&mut readers, &mut heads, &mut heap, run)?;
    }
    while let Some(Reverse((key, run))) = heap.pop() {
        let mut group = heads[run].take().unwrap_or_default();
        advance(&mut readers, &mut heads, &mut heap, run)?;
        while let Some(Reverse((next_key, _))) = heap.peek()
            && *next_key == key
        {
            let Some(Reverse((_, later_run))) = heap.pop() else {
                break;
            };
            group.merge(heads[later_run].take().unwrap_or_default());
            advance(&mut readers, &mut heads, &mut heap, later_run)?;
        }
        let (organisation, grouped_by) = key;
        batch.push(organisation, grouped_by, group, write)?;
    }
    Ok(())
}

/// Reads the next group of run `run` into `heads` and the heap.
fn advance(
    readers: &mut [RunReader<'_>],
    heads: &mut [Option<Group>],
    heap: &mut BinaryHeap<Reverse<(GroupKey, usize)>>,
    run: usize,
) -> anyhow::Result<()> {
    if let Some((key, group)) = readers[run].next_group()? {
        heads[run] = Some(group);
        heap.push(Reverse((key, run)));
    }
    Ok(())
}

struct RunReader<'a> {
    lines: std::io::Lines<BufReader<File>>,
    path: &'a Path,
}

impl RunReader<'_> {
    fn next_group(&mut self) -> anyhow::Result<Option<(GroupKey, Group)>> {
        let Some(line) = self.lines.next() else {
            return Ok(None);
        };
        let line = line.with_context(|| format!("cannot read {}", self.path.display()))?;
        let entry = serde_json::from_str(&line)
            .with_context(|| format!("invalid group in {}", self.path.display()))?;
        Ok(Some(entry))
    }
}

/// Turns groups into organisation rows and hands them on in record batches.
struct RowBatcher<'a> {
    rubric: &'a Rubric,
    rows: Vec<OrganisationRow>,
    count: usize,
    schema: Arc<Schema>,
}

impl<'a> RowBatcher<'a> {
    fn new(rubric: &'a Rubric) -> Self {
        Self {
            rubric,
            rows: Vec::new(),
            count: 0,
            schema: Arc::new(Schema::new(organisation_fields())),
        }
    }

    fn push(
        &mut self,
        organisation: String,
        grouped_by: String,
        group: Group,
        write: &mut impl FnMut(RecordBatch) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.rows
            .push(group.into_row(organisation, grouped_by, self.rubric));
        self.count += 1;
        if self.rows.len() >= OUTPUT_BATCH_ROWS {
            self.flush(write)?;
        }
        Ok(())
    }

    fn flush(
        &mut self,
        write: &mut impl FnMut(RecordBatch) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut decoder = arrow::json::ReaderBuilder::new(self.schema.clone())
            .with_batch_size(self.rows.len())
            .build_decoder()?;
        decoder.serialize(&self.rows)?;
        self.rows.clear();
        if let Some(batch) = decoder.flush()? {
            write(batch)?;
        }
        Ok(())
    }

    /// Writes the last rows, and returns the number of rows.
    fn finish(
        mut self,
        write: &mut impl FnMut(RecordBatch) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        self.flush(write)?;
        Ok(self.count)
    }
}

/// Groups scored batches into one row per organisation, sorted by organisation, in memory.
pub fn organisations(batches: &[RecordBatch], rubric: &Rubric) -> anyhow::Result<RecordBatch> {
    let mut grouper = OrganisationGrouper::in_memory();
    for batch in batches {
        grouper.add(batch)?;
    }
    let schema = Arc::new(Schema::new(organisation_fields()));
    let mut written = Vec::new();
    grouper.finish(rubric, |batch| {
        written.push(batch);
        Ok(())
    })?;
    Ok(arrow::compute::concat_batches(&schema, &written)?)
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

    /// Builds a scored batch of `(status, domain, registrable domain, score, findings)` rows.
    fn scored_batch(rows: &[(&str, &str, &str, Option<i64>, usize)]) -> RecordBatch {
        use arrow::array::{Int64Array, ListBuilder, StringArray, StringBuilder};
        let mut findings = ListBuilder::new(StringBuilder::new());
        for row in rows {
            for _ in 0..row.4 {
                findings.values().append_value("finding");
            }
            findings.append(row.4 > 0);
        }
        let columns: Vec<arrow::array::ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|row| row.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|row| row.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|row| row.2))),
            Arc::new(Int64Array::from_iter(rows.iter().map(|row| row.3))),
            Arc::new(findings.finish()),
        ];
        RecordBatch::try_from_iter(GROUPING_COLUMNS.iter().copied().zip(columns)).unwrap()
    }

    /// Rows over 40 registrable domains in input order, with ties for the lowest score.
    fn many_organisations() -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        for round in 0..5 {
            let mut rows = Vec::new();
            let names: Vec<(String, String)> = (0..40)
                .map(|org| (format!("www{round}.org{org}.com"), format!("org{org}.com")))
                .collect();
            for (org, (domain, registrable)) in names.iter().enumerate() {
                let status = if (org + round) % 7 == 0 {
                    "not_scanned"
                } else {
                    "graded"
                };
                let score =
                    ((org * 13 + round * 29) % 4 != 0).then_some(((org + round) % 3) as i64 * 10);
                rows.push((
                    status,
                    domain.as_str(),
                    registrable.as_str(),
                    score,
                    org % 3,
                ));
            }
            batches.push(scored_batch(&rows));
        }
        batches
    }

    #[test]
    fn runs_give_the_in_memory_result() {
        let rubric = Rubric::builtin();
        let batches = many_organisations();
        let expected = organisations(&batches, &rubric).unwrap();

        let folder = tempfile::tempdir().unwrap();
        let mut grouper = OrganisationGrouper::with_limit(folder.path(), 3);
        for batch in &batches {
            grouper.add(batch).unwrap();
        }
        assert!(grouper.runs.len() > 10, "{} runs", grouper.runs.len());
        let mut written = Vec::new();
        let count = grouper
            .finish(&rubric, |batch| {
                written.push(batch);
                Ok(())
            })
            .unwrap();
        let merged = arrow::compute::concat_batches(&expected.schema(), &written).unwrap();

        assert_eq!(count, 40);
        assert_eq!(expected.num_rows(), 40);
        assert_eq!(merged, expected);
        let left: Vec<_> = fs::read_dir(folder.path()).unwrap().collect();
        assert!(left.is_empty(), "run files left: {left:?}");
    }

    #[test]
    fn tie_keeps_first_domain_across_runs() {
        let rubric = Rubric::builtin();
        let batches = [
            scored_batch(&[("graded", "a.org1.com", "org1.com", Some(40), 1)]),
            scored_batch(&[("graded", "a.org2.com", "org2.com", Some(90), 0)]),
            scored_batch(&[
                ("graded", "b.org1.com", "org1.com", Some(40), 2),
                ("graded", "c.org1.com", "org1.com", Some(70), 0),
                ("not_scanned", "d.org1.com", "org1.com", None, 0),
            ]),
        ];
        let folder = tempfile::tempdir().unwrap();
        let mut grouper = OrganisationGrouper::with_limit(folder.path(), 1);
        for batch in &batches {
            grouper.add(batch).unwrap();
        }
        let mut written = Vec::new();
        grouper
            .finish(&rubric, |batch| {
                written.push(batch);
                Ok(())
            })
            .unwrap();
        let batch = arrow::compute::concat_batches(&written[0].schema(), &written).unwrap();
        let evidence = Evidence::new(&batch);
        let first = evidence.row(0);

        assert_eq!(batch.num_rows(), 2);
        assert_eq!(first.text("organisation"), Some("org1.com"));
        assert_eq!(first.number("domains"), Some(3));
        assert_eq!(first.number("graded_domains"), Some(3));
        assert_eq!(first.number("min_score"), Some(40));
        assert_eq!(first.text("weakest_domain"), Some("a.org1.com"));
        assert_eq!(first.number("findings"), Some(3));
    }

    #[test]
    fn single_domain_keeps_its_score() {
        assert_eq!(weakest_weighted(&[73]), Some(73.0));
        assert_eq!(weakest_weighted(&[]), None);
    }
}
