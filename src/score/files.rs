//! Reading scan results back from Parquet, and `posture rescore`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{Scoring, organisation, score_batch, scored_schema};

/// The name of the organisation view in an output folder.
pub const ORGANISATIONS_FILE: &str = "organisations.parquet";

/// Lists the Parquet part files of a scan: `path` itself when it is a file, else the folder's
/// `part-*.parquet` files in name order.
pub fn part_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut parts = Vec::new();
    for entry in fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("part-") && name.ends_with(".parquet") {
            parts.push(path);
        }
    }
    parts.sort();
    if parts.is_empty() {
        anyhow::bail!(
            "no part-*.parquet files in {}; give a scan's output folder or a Parquet file",
            path.display()
        );
    }
    Ok(parts)
}

/// Reads every batch of one Parquet file.
pub fn read_batches(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?
        .with_batch_size(1024)
        .build()?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Reads every batch of a scan (a folder or one file).
pub fn read_scan(path: &Path) -> anyhow::Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for part in part_files(path)? {
        batches.extend(read_batches(&part)?);
    }
    Ok(batches)
}

/// Rows decoded at a time when the organisation view reads the parts.
const GROUPING_BATCH_ROWS: usize = 8192;

fn write_properties() -> anyhow::Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by(format!("posture {}", env!("CARGO_PKG_VERSION")))
        .build())
}

/// Writes batches to one Parquet file, through a `.partial` name renamed at the end.
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) -> anyhow::Result<()> {
    let Some(first) = batches.first() else {
        anyhow::bail!("nothing to write to {}", path.display());
    };
    let partial = path.with_extension("parquet.partial");
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = ArrowWriter::try_new(file, first.schema(), Some(write_properties()?))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `organisations.parquet` in a scan's output folder from its scored parts. The parts
/// are read a batch at a time, with only the columns that grouping needs, and the groups go
/// through sorted run files in the folder, so memory stays bounded whatever the scan's size.
pub fn write_organisations(folder: &Path, rubric: &super::Rubric) -> anyhow::Result<()> {
    let mut grouper = organisation::OrganisationGrouper::with_runs_in(folder);
    for part in part_files(folder)? {
        for batch in read_grouping_columns(&part)? {
            let batch = batch.with_context(|| format!("cannot read {}", part.display()))?;
            grouper.add(&batch)?;
        }
    }

    let path = folder.join(ORGANISATIONS_FILE);
    let partial = path.with_extension("parquet.partial");
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let schema = Arc::new(Schema::new(organisation::organisation_fields()));
    let mut writer = ArrowWriter::try_new(file, schema, Some(write_properties()?))?;
    grouper.finish(rubric, |batch| Ok(writer.write(&batch)?))?;
    writer.close()?;
    fs::rename(&partial, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Opens a Parquet part for reading the columns that organisation grouping needs.
fn read_grouping_columns(path: &Path) -> anyhow::Result<ParquetRecordBatchReader> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let schema = builder.schema().clone();
    let organisation = organisation::organisation_column(&schema);
    let requested = organisation::GROUPING_COLUMNS
        .iter()
        .copied()
        .chain(organisation.as_deref());
    let indices: Vec<usize> = requested
        .filter_map(|name| schema.index_of(name).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    Ok(builder
        .with_projection(mask)
        .with_batch_size(GROUPING_BATCH_ROWS)
        .build()?)
}

/// Counts of one rescore run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RescoreSummary {
    pub parts: usize,
    pub rows: usize,
    pub graded: usize,
    pub organisations: usize,
}

/// Rescores every part of `input` with `scoring` into the folder `output`, one part for each
/// input part, then writes the organisation view. The evidence columns are copied unchanged.
pub fn rescore(input: &Path, output: &Path, scoring: &Scoring) -> anyhow::Result<RescoreSummary> {
    let parts = part_files(input)?;
    fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    if fs::canonicalize(output)? == fs::canonicalize(scan_folder(input))? {
        anyhow::bail!("the output folder must differ from the input's folder");
    }

    let mut summary = RescoreSummary::default();
    let mut all = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let batches = read_batches(part)?;
        let mut scored = Vec::with_capacity(batches.len());
        for batch in &batches {
            let batch = score_batch(batch, scoring)?;
            summary.rows += batch.num_rows();
            scored.push(batch);
        }
        if scored.is_empty() {
            continue;
        }
        debug_assert_eq!(*scored[0].schema(), *scored_schema(&batches[0].schema()));
        write_parquet(&output.join(format!("part-{index:05}.parquet")), &scored)?;
        summary.parts += 1;
        all.extend(scored);
    }

    let evidence = super::evidence::Evidence::new(&arrow::compute::concat_batches(
        &all.first().context("the input has no rows")?.schema(),
        &all,
    )?);
    summary.graded = (0..evidence.num_rows())
        .filter(|&row| evidence.row(row).text("score_status") == Some("graded"))
        .count();
    let organisations = organisation::organisations(&all, &scoring.rubric)?;
    summary.organisations = organisations.num_rows();
    write_parquet(&output.join(ORGANISATIONS_FILE), &[organisations])?;
    copy_manifest(input, output, scoring)?;
    Ok(summary)
}

/// Returns the folder of a scan given as a folder or as one of its files.
fn scan_folder(input: &Path) -> &Path {
    if input.is_dir() {
        return input;
    }
    match input.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Copies the scan's `_manifest.json` with a `rescored` entry naming the rubric.
fn copy_manifest(input: &Path, output: &Path, scoring: &Scoring) -> anyhow::Result<()> {
    let mut manifest = match fs::read_to_string(scan_folder(input).join("_manifest.json")) {
        Ok(text) => serde_json::from_str(&text).unwrap_or(serde_json::json!({})),
        Err(_) => serde_json::json!({}),
    };
    if let Some(object) = manifest.as_object_mut() {
        object.insert(
            "rescored".to_string(),
            serde_json::json!({
                "from": input.display().to_string(),
                "rubric": scoring.rubric.label(),
                "rubric_digest": scoring.rubric.digest,
                "at": chrono::Utc::now().to_rfc3339(),
            }),
        );
    }
    crate::output::write_manifest(output, &manifest)?;
    Ok(())
}
