//! Writing rows: Parquet part files (or JSON Lines), rotated every N rows, and a manifest.
//!
//! A part is written under a `.partial` name and renamed when it is complete, so that after a
//! crash every file named `part-NNNNN.parquet` is whole and readable. The manifest is written
//! at the start with `"complete": false` and rewritten at the end.

pub mod dmarc;
pub mod email;
pub mod hygiene;
pub mod row;
pub mod schema;
pub mod tls;
pub mod web;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::json::reader::Decoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::cli::Format;
pub use row::Row;

/// Returns the list, or `None` for an empty one: list columns are null rather than empty
/// when there is nothing to list.
pub(crate) fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// Rows gathered before they are turned into one Arrow record batch.
const BATCH_ROWS: usize = 1024;

/// Rows per Parquet row group at most. A group is also closed once the writer's buffers for
/// it (encoded pages, dictionaries, keys not yet encoded) pass `MAX_ROW_GROUP_MEMORY`, which
/// bounds the writer's memory whatever the rows hold: scan rows come to a few tens of
/// thousands per group.
const MAX_ROW_GROUP_ROWS: usize = 100_000;
const MAX_ROW_GROUP_MEMORY: usize = 8 * 1024 * 1024;

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
         choose another folder or remove them"
    )]
    NotEmpty(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
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
    rows_in_part: usize,
    parts: Vec<String>,
    buffer: Vec<Row>,
    rows_written: u64,
}

impl OutputWriter {
    /// Prepares `dir`, which must not hold an earlier scan.
    pub fn create(
        dir: &Path,
        format: Format,
        schema: SchemaRef,
        part_rows: usize,
    ) -> Result<Self, OutputError> {
        if dir.exists() && !dir.is_dir() {
            return Err(OutputError::NotFolder(dir.display().to_string()));
        }
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let name = entry.map_err(io_error(dir))?.file_name();
            let name = name.to_string_lossy();
            if name == "_manifest.json" || name.starts_with("part-") {
                return Err(OutputError::NotEmpty(dir.display().to_string()));
            }
        }
        let decoder = arrow::json::ReaderBuilder::new(schema.clone())
            .with_batch_size(BATCH_ROWS)
            .build_decoder()?;
        Ok(Self {
            dir: dir.to_path_buf(),
            format,
            schema,
            decoder,
            part_rows: part_rows.max(1),
            part: None,
            rows_in_part: 0,
            parts: Vec::new(),
            buffer: Vec::with_capacity(BATCH_ROWS),
            rows_written: 0,
        })
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
    pub fn finish(mut self) -> Result<Vec<String>, (Vec<String>, OutputError)> {
        match self.flush_buffer().and_then(|()| self.close_part()) {
            Ok(()) => Ok(self.parts),
            Err(error) => Err((self.abandon(), error)),
        }
    }

    /// Drops buffered rows and the unfinished part, whose file is removed, and returns the
    /// names of the parts that are whole.
    pub fn abandon(mut self) -> Vec<String> {
        self.buffer.clear();
        if let Some((part, partial_path)) = self.part.take() {
            drop(part);
            if let Err(error) = fs::remove_file(&partial_path) {
                tracing::warn!(path = %partial_path.display(), %error, "cannot remove unfinished part");
            }
        }
        std::mem::take(&mut self.parts)
    }

    pub fn rows_written(&self) -> u64 {
        self.rows_written + self.buffer.len() as u64
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
                    writer.write(&batch)?;
                }
                if writer.memory_size() > MAX_ROW_GROUP_MEMORY {
                    writer.flush()?;
                }
            }
            Part::Jsonl(writer) => {
                for row in &rows {
                    serde_json::to_writer(&mut *writer, row)?;
                    writer.write_all(b"\n").map_err(io_error(path))?;
                }
            }
        }
        self.rows_in_part += rows.len();
        self.rows_written += rows.len() as u64;
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
            .join(format!("part-{:05}.{extension}.partial", self.parts.len()));
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
                    self.schema.clone(),
                    Some(properties),
                )?))
            }
            Format::Jsonl => Part::Jsonl(BufWriter::with_capacity(256 * 1024, file)),
        };
        self.part = Some((part, path));
        self.rows_in_part = 0;
        Ok(())
    }

    fn close_part(&mut self) -> Result<(), OutputError> {
        let Some((part, partial_path)) = self.part.take() else {
            return Ok(());
        };
        match part {
            Part::Parquet(writer) => {
                writer.close()?;
            }
            Part::Jsonl(mut writer) => {
                writer.flush().map_err(io_error(&partial_path))?;
                writer
                    .get_ref()
                    .sync_all()
                    .map_err(io_error(&partial_path))?;
            }
        }
        let final_path = partial_path.with_extension("");
        fs::rename(&partial_path, &final_path).map_err(io_error(&final_path))?;
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        self.parts.push(name.unwrap_or_default());
        Ok(())
    }
}

/// Writes `_manifest.json` atomically (a temporary file, then a rename).
pub fn write_manifest(dir: &Path, manifest: &impl Serialize) -> Result<(), OutputError> {
    let path = dir.join("_manifest.json");
    let temporary = dir.join("_manifest.json.partial");
    let text = serde_json::to_vec_pretty(manifest)?;
    fs::write(&temporary, text).map_err(io_error(&temporary))?;
    fs::rename(&temporary, &path).map_err(io_error(&path))
}
