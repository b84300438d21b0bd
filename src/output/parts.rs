//! Finished part files of an output folder, read back when a scan is resumed.
//!
//! A part is named `part-NNNNN.parquet` (or `.jsonl`) only once it is complete and synced, so
//! every file with such a name is whole. Files ending in `.partial` are parts that a run did
//! not finish; they are deleted before a resume and their rows are produced again.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt64Type;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;

use super::{OutputError, io_error};
use crate::cli::Format;

/// Rows decoded at a time when a Parquet part is read back.
const READ_BATCH_ROWS: usize = 8192;

/// A finished part file: its name and the number in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedPart {
    pub name: String,
    pub index: usize,
}

/// Lists the finished parts of `format` in `dir`, by number.
pub fn list(dir: &Path, format: Format) -> Result<Vec<FinishedPart>, OutputError> {
    let suffix = match format {
        Format::Parquet => ".parquet",
        Format::Jsonl => ".jsonl",
    };
    let mut parts = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let name = entry.map_err(io_error(dir))?.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let number = name
            .strip_prefix("part-")
            .and_then(|rest| rest.strip_suffix(suffix))
            .and_then(|number| number.parse::<usize>().ok());
        if let Some(index) = number {
            parts.push(FinishedPart {
                name: name.to_string(),
                index,
            });
        }
    }
    parts.sort_by_key(|part| part.index);
    Ok(parts)
}

/// Deletes the files that a run left unfinished (`*.partial`), and returns their names.
pub fn remove_unfinished(dir: &Path) -> Result<Vec<String>, OutputError> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".partial") {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_error(&path))?;
            removed.push(name);
        }
    }
    Ok(removed)
}

/// Calls `visit` with the input line and status of every row of one finished part. Only these
/// two columns are decoded, so memory stays at one batch whatever the part's size.
pub fn read_keys(
    path: &Path,
    format: Format,
    mut visit: impl FnMut(u64, &str) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    let file = File::open(path).map_err(io_error(path))?;
    match format {
        Format::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let line_index = column_index(builder.schema(), "input_line", path)?;
            let status_index = column_index(builder.schema(), "status", path)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), [line_index, status_index]);
            let reader = builder
                .with_projection(mask)
                .with_batch_size(READ_BATCH_ROWS)
                .build()?;
            for batch in reader {
                let batch = batch?;
                let (Some(lines), Some(statuses)) = (
                    batch.column_by_name("input_line"),
                    batch.column_by_name("status"),
                ) else {
                    return Err(unreadable(
                        path,
                        "the input_line or status column is missing",
                    ));
                };
                let (Some(lines), Some(statuses)) = (
                    lines.as_primitive_opt::<UInt64Type>(),
                    statuses.as_string_opt::<i32>(),
                ) else {
                    return Err(unreadable(
                        path,
                        "input_line or status has an unexpected type",
                    ));
                };
                if lines.null_count() > 0 || statuses.null_count() > 0 {
                    return Err(unreadable(path, "input_line or status has null values"));
                }
                for (line, status) in lines.values().iter().zip(statuses.iter()) {
                    visit(*line, status.unwrap_or_default())?;
                }
            }
        }
        Format::Jsonl => {
            #[derive(Deserialize)]
            struct Key {
                input_line: u64,
                status: String,
            }
            for line in BufReader::new(file).lines() {
                let line = line.map_err(io_error(path))?;
                let key: Key = serde_json::from_str(&line)?;
                visit(key.input_line, &key.status)?;
            }
        }
    }
    Ok(())
}

fn column_index(
    schema: &arrow::datatypes::Schema,
    name: &str,
    path: &Path,
) -> Result<usize, OutputError> {
    schema
        .index_of(name)
        .map_err(|_| unreadable(path, &format!("the {name} column is missing")))
}

fn unreadable(path: &Path, reason: &str) -> OutputError {
    OutputError::UnreadablePart {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_orders_parts_and_skips_others() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "part-00010.parquet",
            "part-00002.parquet",
            "part-00003.parquet.partial",
            "part-00004.jsonl",
            "_manifest.json",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let parts = list(dir.path(), Format::Parquet).unwrap();
        let names: Vec<&str> = parts.iter().map(|part| part.name.as_str()).collect();
        assert_eq!(names, ["part-00002.parquet", "part-00010.parquet"]);
        assert_eq!(parts[1].index, 10);
    }

    #[test]
    fn remove_unfinished_keeps_finished_parts() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("part-00000.jsonl"), "").unwrap();
        fs::write(dir.path().join("part-00001.jsonl.partial"), "").unwrap();
        fs::write(dir.path().join("_manifest.json.partial"), "").unwrap();
        let mut removed = remove_unfinished(dir.path()).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            ["_manifest.json.partial", "part-00001.jsonl.partial"]
        );
        assert!(dir.path().join("part-00000.jsonl").exists());
    }
}
