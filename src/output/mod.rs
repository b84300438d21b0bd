//! Writing rows: Parquet part files (or JSON Lines), rotated every N rows, and a manifest.
//!
//! A part is written under a `.partial` name, synced to disk, and only then renamed, so that
//! after a crash, a `kill -9` or a full disk every file named `part-NNNNN.parquet` is whole and
//! readable. The manifest is written at the start with `"complete": false` and rewritten at
//! the end. `parts` reads finished parts back for a resume.

pub mod dmarc;
pub mod email;
pub mod http;
pub mod hygiene;
pub mod parts;
pub mod row;
pub mod schema;
pub mod tls;
pub mod web;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::json::reader::Decoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use std::sync::Arc;

use crate::cli::Format;
use crate::score::{Scoring, score_batch};
pub use row::Row;

/// Returns the list, or `None` for an empty one: list columns are null rather than empty
/// when there is nothing to list.
pub(crate) fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// Rows gathered before they are turned into one Arrow record batch.
const BATCH_ROWS: usize = 1024;

/// Rows per Parquet row group at most. A group is also closed once its estimated encoded size
/// passes `MAX_ROW_GROUP_BYTES`, which bounds the writer's pages in memory whatever the rows
/// contain. A group of rows with every check contains about 8,000 of them.
///
/// NOTE: a group of about 19,000 rows of names that do not exist still took 12 to 13 MiB of
/// resident memory until it was written (docs/benchmarks.md), more than this cap suggests.
const MAX_ROW_GROUP_ROWS: usize = 100_000;
const MAX_ROW_GROUP_BYTES: usize = 8 * 1024 * 1024;

/// Cap on the writer's own memory estimate for one row group, as a second bound.
///
/// NOTE: the estimate (`ArrowWriter::memory_size`, parquet 60.1) includes buffers that each of
/// the ~300 column writers allocates up front, together about 8 MiB before the first row. A
/// cap of 8 MiB on it closed groups after 1,024 to 3,072 rows, and a 250,000-row part then
/// had 89 groups, whose metadata the writer keeps until the part is closed.
const MAX_ROW_GROUP_MEMORY: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write output {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot encode output rows")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot write Parquet output")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot encode JSON output")]
    Json(#[from] serde_json::Error),
    #[error("output path {0} exists and is not a folder")]
    NotFolder(String),
    #[error(
        "output folder {0} already contains a scan (_manifest.json or part files); \
         add --resume to continue it, or choose another folder"
    )]
    NotEmpty(String),
    #[error("cannot read finished part {path}: {reason}")]
    UnreadablePart { path: String, reason: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reports a failed write of the Parquet writer (a full disk, say) as an I/O error on `path`.
fn parquet_error(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> OutputError + '_ {
    move |error| match error {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(source) => io_error(path)(*source),
                Err(inner) => OutputError::Parquet(parquet::errors::ParquetError::External(inner)),
            }
        }
        error => OutputError::Parquet(error),
    }
}

enum Part {
    Parquet(Box<ArrowWriter<File>>),
    Jsonl(BufWriter<File>),
}

/// Writes rows into rotated part files in one folder.
pub struct OutputWriter {
    dir: PathBuf,
    format: Format,
    schema: SchemaRef,
    decoder: Decoder,
    part_rows: usize,
    part: Option<(Part, PathBuf)>,
    /// Number of the next part file, which continues after the parts of earlier runs.
    next_part: usize,
    rows_in_part: usize,
    /// Rows by status and the highest input line in the open part, added to `written` when
    /// the part is finished.
    part_status_counts: BTreeMap<&'static str, u64>,
    part_last_line: u64,
    written: Written,
    buffer: Vec<Row>,
    /// Scores appended to every batch before it is written, and the schema with them.
    scoring: Option<Arc<Scoring>>,
    output_schema: SchemaRef,
}

/// Contents of the finished parts of one run.
#[derive(Debug, Default)]
pub struct Written {
    /// File names of the finished parts.
    pub parts: Vec<String>,
    pub rows: u64,
    pub status_counts: BTreeMap<&'static str, u64>,
    /// Highest input line that has a row in these parts.
    pub last_input_line: u64,
}

impl OutputWriter {
    /// Prepares `dir`, which must not hold an earlier scan.
    pub fn create(
        dir: &Path,
        format: Format,
        schema: SchemaRef,
        part_rows: usize,
    ) -> Result<Self, OutputError> {
        prepare_folder(dir)?;
        if holds_scan(dir)? {
            return Err(OutputError::NotEmpty(dir.display().to_string()));
        }
        Self::new(dir, format, schema, part_rows, 0)
    }

    /// Continues writing into `dir` after the parts of an earlier run; the first new part is
    /// numbered `next_part`.
    pub fn resume(
        dir: &Path,
        format: Format,
        schema: SchemaRef,
        part_rows: usize,
        next_part: usize,
    ) -> Result<Self, OutputError> {
        prepare_folder(dir)?;
        Self::new(dir, format, schema, part_rows, next_part)
    }

    fn new(
        dir: &Path,
        format: Format,
        schema: SchemaRef,
        part_rows: usize,
        next_part: usize,
    ) -> Result<Self, OutputError> {
        let decoder = arrow::json::ReaderBuilder::new(schema.clone())
            .with_batch_size(BATCH_ROWS)
            .build_decoder()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            format,
            output_schema: schema.clone(),
            schema,
            decoder,
            part_rows: part_rows.max(1),
            part: None,
            next_part,
            rows_in_part: 0,
            part_status_counts: BTreeMap::new(),
            part_last_line: 0,
            written: Written::default(),
            buffer: Vec::with_capacity(BATCH_ROWS),
            scoring: None,
        })
    }

    /// Appends findings and score columns to every row written from now on.
    pub fn with_scoring(mut self, scoring: Arc<Scoring>) -> Self {
        self.output_schema = crate::score::scored_schema(&self.schema);
        self.scoring = Some(scoring);
        self
    }

    pub fn write(&mut self, row: Row) -> Result<(), OutputError> {
        self.buffer.push(row);
        if self.buffer.len() >= BATCH_ROWS
            || self.rows_in_part + self.buffer.len() >= self.part_rows
        {
            self.flush_buffer()?;
        }
        Ok(())
    }

    /// Writes buffered rows and closes the current part. On failure, returns the parts that
    /// are whole with the error, and removes the unfinished part.
    pub fn finish(mut self) -> Result<Written, (Written, OutputError)> {
        match self.flush_buffer().and_then(|()| self.close_part()) {
            Ok(()) => Ok(self.written),
            Err(error) => Err((self.abandon(), error)),
        }
    }

    /// Drops buffered rows and the unfinished part, whose file is removed, and returns what
    /// the parts that are whole contain.
    pub fn abandon(mut self) -> Written {
        self.buffer.clear();
        if let Some((part, partial_path)) = self.part.take() {
            drop(part);
            if let Err(error) = fs::remove_file(&partial_path) {
                tracing::warn!(path = %partial_path.display(), %error, "cannot remove unfinished part");
            }
        }
        std::mem::take(&mut self.written)
    }

    pub fn write_manifest(&self, manifest: &impl Serialize) -> Result<(), OutputError> {
        write_manifest(&self.dir, manifest)
    }

    fn flush_buffer(&mut self) -> Result<(), OutputError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.buffer);
        if self.part.is_none() {
            self.open_part()?;
        }
        let Some((part, path)) = &mut self.part else {
            unreachable!("a part was opened above");
        };
        match part {
            Part::Parquet(writer) => {
                self.decoder.serialize(&rows)?;
                if let Some(batch) = self.decoder.flush()? {
                    match &self.scoring {
                        Some(scoring) => writer
                            .write(&score_batch(&batch, scoring)?)
                            .map_err(parquet_error(path))?,
                        None => writer.write(&batch).map_err(parquet_error(path))?,
                    }
                }
                if writer.in_progress_size() > MAX_ROW_GROUP_BYTES
                    || writer.memory_size() > MAX_ROW_GROUP_MEMORY
                {
                    writer.flush().map_err(parquet_error(path))?;
                }
            }
            Part::Jsonl(writer) => {
                let scores = match &self.scoring {
                    Some(scoring) => score_objects(&mut self.decoder, &rows, scoring)?,
                    None => Vec::new(),
                };
                // Each row is encoded apart from the file, so that a failed write (a full disk)
                // is reported as an I/O error on the part and not as an encoding error.
                let mut line = Vec::with_capacity(4096);
                for (index, row) in rows.iter().enumerate() {
                    line.clear();
                    match scores.get(index) {
                        Some(score) => {
                            let mut object = serde_json::to_value(row)?;
                            if let Some(object) = object.as_object_mut() {
                                object.extend(score.clone());
                            }
                            serde_json::to_writer(&mut line, &object)?;
                        }
                        None => serde_json::to_writer(&mut line, row)?,
                    }
                    line.push(b'\n');
                    writer.write_all(&line).map_err(io_error(path))?;
                }
            }
        }
        self.rows_in_part += rows.len();
        for row in &rows {
            *self.part_status_counts.entry(row.status).or_default() += 1;
            self.part_last_line = self.part_last_line.max(row.input_line);
        }
        self.buffer = rows;
        self.buffer.clear();
        if self.rows_in_part >= self.part_rows {
            self.close_part()?;
        }
        Ok(())
    }

    fn open_part(&mut self) -> Result<(), OutputError> {
        let extension = match self.format {
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
        };
        let path = self
            .dir
            .join(format!("part-{:05}.{extension}.partial", self.next_part));
        let file = File::create(&path).map_err(io_error(&path))?;
        let part = match self.format {
            Format::Parquet => {
                let properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                    .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
                    .set_created_by(format!("posture {}", env!("CARGO_PKG_VERSION")))
                    .build();
                Part::Parquet(Box::new(ArrowWriter::try_new(
                    file,
                    self.output_schema.clone(),
                    Some(properties),
                )?))
            }
            Format::Jsonl => Part::Jsonl(BufWriter::with_capacity(256 * 1024, file)),
        };
        self.part = Some((part, path));
        self.next_part += 1;
        self.rows_in_part = 0;
        self.part_status_counts.clear();
        self.part_last_line = 0;
        Ok(())
    }

    fn close_part(&mut self) -> Result<(), OutputError> {
        let Some((part, partial_path)) = self.part.take() else {
            return Ok(());
        };
        // The data must be on disk before the rename makes the part count as finished.
        if let Err(error) = finish_file(part, &partial_path) {
            if let Err(remove_error) = fs::remove_file(&partial_path) {
                tracing::warn!(path = %partial_path.display(), %remove_error, "cannot remove unfinished part");
            }
            return Err(error);
        }
        let final_path = partial_path.with_extension("");
        fs::rename(&partial_path, &final_path).map_err(io_error(&final_path))?;
        sync_folder(&self.dir)?;
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let written = &mut self.written;
        written.parts.push(name.unwrap_or_default());
        written.rows += self.rows_in_part as u64;
        for (status, count) in std::mem::take(&mut self.part_status_counts) {
            *written.status_counts.entry(status).or_default() += count;
        }
        written.last_input_line = written.last_input_line.max(self.part_last_line);
        self.rows_in_part = 0;
        Ok(())
    }
}

/// Writes the rest of a part (the Parquet footer, buffered lines) and syncs it to disk.
fn finish_file(part: Part, path: &Path) -> Result<(), OutputError> {
    let file = match part {
        Part::Parquet(writer) => writer.into_inner().map_err(parquet_error(path))?,
        Part::Jsonl(writer) => writer
            .into_inner()
            .map_err(|error| error.into_error())
            .map_err(io_error(path))?,
    };
    file.sync_all().map_err(io_error(path))
}

/// Creates `dir` if it is missing, and checks that it is a folder.
fn prepare_folder(dir: &Path) -> Result<(), OutputError> {
    if dir.exists() && !dir.is_dir() {
        return Err(OutputError::NotFolder(dir.display().to_string()));
    }
    fs::create_dir_all(dir).map_err(io_error(dir))
}

/// Returns whether `dir` contains a manifest or part files of an earlier scan.
pub fn holds_scan(dir: &Path) -> Result<bool, OutputError> {
    if !dir.exists() {
        return Ok(false);
    }
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let name = entry.map_err(io_error(dir))?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("_manifest.json") || name.starts_with("part-") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Syncs a folder, so that a rename in it survives a power loss.
fn sync_folder(dir: &Path) -> Result<(), OutputError> {
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(io_error(dir))
}

/// Scores rows for JSON Lines output: the rows go through the same Arrow batch as Parquet
/// output, so both formats get the same scores. Returns one JSON object of score columns per
/// row.
fn score_objects(
    decoder: &mut Decoder,
    rows: &[Row],
    scoring: &Scoring,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, OutputError> {
    decoder.serialize(rows)?;
    let Some(batch) = decoder.flush()? else {
        return Ok(Vec::new());
    };
    let scores = crate::score::score_columns(&batch, scoring)?;
    let mut buffer = Vec::new();
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(&mut buffer);
    writer.write(&scores)?;
    writer.finish()?;
    drop(writer);
    Ok(serde_json::from_slice(&buffer)?)
}

/// Writes `_manifest.json` atomically: a temporary file, synced, then a rename.
pub fn write_manifest(dir: &Path, manifest: &impl Serialize) -> Result<(), OutputError> {
    let path = dir.join("_manifest.json");
    let temporary = dir.join("_manifest.json.partial");
    let text = serde_json::to_vec_pretty(manifest)?;
    let mut file = File::create(&temporary).map_err(io_error(&temporary))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temporary))?;
    drop(file);
    fs::rename(&temporary, &path).map_err(io_error(&path))?;
    sync_folder(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::input::InputRecord;
    use crate::score::context::ContextColumns;
    use crate::score::rubric::Rubric;

    #[test]
    fn row_groups_hold_many_rows() {
        const ROWS: u64 = 20_000;
        let folder = tempfile::tempdir().unwrap();
        let names: Arc<[String]> = Vec::new().into();
        let schema = schema::schema(&[], &names);
        let scoring = Arc::new(Scoring::new(Rubric::builtin(), ContextColumns::default()));
        let mut writer = OutputWriter::create(folder.path(), Format::Parquet, schema, 250_000)
            .unwrap()
            .with_scoring(scoring);
        for line in 1..=ROWS {
            let record = InputRecord {
                line,
                field: format!("name-{line}.invalid"),
                passthrough: Vec::new(),
                defect: None,
            };
            let reason = "not a registrable domain".to_string();
            let row = Row::unscanned(record, names.clone(), None, Status::InvalidInput, reason);
            writer.write(row).unwrap();
        }
        let written = writer.finish().unwrap();

        let file = File::open(folder.path().join(&written.parts[0])).unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader);
        assert_eq!(written.rows, ROWS);
        assert_eq!(metadata.file_metadata().num_rows(), ROWS as i64);
        assert_eq!(metadata.num_row_groups(), 1);
    }
}
