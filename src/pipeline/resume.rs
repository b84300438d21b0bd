//! Resuming an interrupted scan so that every input line ends up in exactly one row.
//!
//! The finished part files are the checkpoint: a part gets its final name only after it is
//! complete and synced, so the `input_line` values of the finished parts are exactly the lines
//! that are done. A resume deletes the unfinished `*.partial` files, reads the `input_line`
//! column of every finished part into a bitmap ([`DoneLines`]), and reads the input again from
//! its start, skipping the lines in the bitmap. The manifest's [`Checkpoint`] records what
//! must not change between runs: the input file and the options that change results.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cli::Format;
use crate::config::{ScanConfig, sha256_hex};
use crate::output::parts::{self, FinishedPart};
use crate::output::schema::SCHEMA_VERSION;
use crate::output::{OutputError, holds_scan};

/// Bytes hashed at each end of the input file to recognise it.
const FINGERPRINT_BYTES: u64 = 1024 * 1024;

/// The input and options that a resumed scan must share with the run it continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The input file; `None` for standard input, which cannot be resumed.
    pub input: Option<InputFingerprint>,
    pub options: ResultOptions,
}

/// Size and hashes of an input file. Reading both ends costs at most 2 MiB whatever the size,
/// and catches a list that was replaced, re-sorted, cut or appended to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    pub bytes: u64,
    /// SHA-256 of the first MiB.
    pub head_sha256: String,
    /// SHA-256 of the last MiB (the same bytes as the head for a file of 1 MiB or less).
    pub tail_sha256: String,
}

/// The options that decide which rows a scan writes and what they contain. Rate, concurrency,
/// resolvers, timeouts and progress may differ on a resume, so that it can run slower or
/// elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultOptions {
    pub posture_version: String,
    pub schema_version: u16,
    pub format: String,
    pub column: Option<String>,
    pub limit: Option<u64>,
    pub checks: Vec<String>,
    pub allow_private: bool,
    #[serde(default)]
    pub allow_networks: Vec<String>,
    pub exclude_sha256: Option<String>,
    pub ca_file_sha256: Option<String>,
    #[serde(default)]
    pub dkim_selectors_sha256: Option<String>,
    pub dedup_capacity: usize,
}

impl Checkpoint {
    /// Builds the checkpoint of the scan that `config` describes.
    pub fn of(config: &ScanConfig) -> anyhow::Result<Self> {
        let input = if config.input == Path::new("-") {
            None
        } else {
            Some(InputFingerprint::of(&config.input)?)
        };
        let checks = config.checks;
        let checks = [
            ("dns", checks.dns),
            ("dnssec", checks.dnssec),
            ("email", checks.email),
            ("web", checks.web),
            ("tls", checks.tls),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_string())
        .collect();
        Ok(Self {
            input,
            options: ResultOptions {
                posture_version: env!("CARGO_PKG_VERSION").to_string(),
                schema_version: SCHEMA_VERSION,
                format: format_name(config.format).to_string(),
                column: config.column.clone(),
                limit: config.limit,
                checks,
                allow_private: config.allow_private,
                allow_networks: config
                    .allow_networks
                    .iter()
                    .map(|network| network.to_string())
                    .collect(),
                exclude_sha256: config.exclude_sha256.clone(),
                ca_file_sha256: config.ca_file_sha256.clone(),
                dkim_selectors_sha256: config.dkim_selectors_sha256.clone(),
                dedup_capacity: config.dedup_capacity,
            },
        })
    }
}

impl InputFingerprint {
    fn of(path: &Path) -> anyhow::Result<Self> {
        let mut file =
            File::open(path).with_context(|| format!("cannot read input {}", path.display()))?;
        let bytes = file
            .metadata()
            .with_context(|| format!("cannot read input {}", path.display()))?
            .len();
        let head = read_range(&mut file, 0)
            .with_context(|| format!("cannot read input {}", path.display()))?;
        let tail = read_range(&mut file, bytes.saturating_sub(FINGERPRINT_BYTES))
            .with_context(|| format!("cannot read input {}", path.display()))?;
        Ok(Self {
            bytes,
            head_sha256: sha256_hex(&head),
            tail_sha256: sha256_hex(&tail),
        })
    }
}

fn read_range(file: &mut File, start: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(FINGERPRINT_BYTES).read_to_end(&mut bytes)?;
    Ok(bytes)
}

pub fn format_name(format: Format) -> &'static str {
    match format {
        Format::Parquet => "parquet",
        Format::Jsonl => "jsonl",
    }
}

/// Input lines that already have a row, one bit per line up to the highest: 125,000 bytes
/// per million input lines.
#[derive(Debug, Default)]
pub struct DoneLines {
    words: Vec<u64>,
    count: u64,
}

impl DoneLines {
    /// Marks `line` as done, and returns `false` if it was done already.
    pub fn insert(&mut self, line: u64) -> bool {
        let (word, bit) = ((line / 64) as usize, line % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let new = self.words[word] & mask == 0;
        self.words[word] |= mask;
        self.count += u64::from(new);
        new
    }

    pub fn contains(&self, line: u64) -> bool {
        let word = (line / 64) as usize;
        self.words
            .get(word)
            .is_some_and(|word| word & (1u64 << (line % 64)) != 0)
    }

    /// Number of lines marked.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Heap bytes the bitmap uses.
    pub fn memory_bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
    }
}

/// The part of a manifest that a resume reads back.
#[derive(Deserialize)]
struct StoredManifest {
    started_at: DateTime<Utc>,
    #[serde(default)]
    resumed_at: Vec<DateTime<Utc>>,
    checkpoint: Option<Checkpoint>,
}

/// The state that earlier runs left in the output folder.
#[derive(Debug, Default)]
pub struct Prior {
    pub started_at: Option<DateTime<Utc>>,
    pub resumed_at: Vec<DateTime<Utc>>,
    pub done: DoneLines,
    pub parts: Vec<String>,
    pub rows: u64,
    pub status_counts: BTreeMap<String, u64>,
    pub last_input_line: u64,
    /// Number for the next part file.
    pub next_part: usize,
}

/// Checks that the scan in `dir` can be continued with `current`, deletes its unfinished
/// files, and reads which lines are done. A folder that contains no scan yet gives an empty
/// `Prior`, so that `--resume` also starts a scan.
pub fn load(dir: &Path, current: &Checkpoint, format: Format) -> anyhow::Result<Prior> {
    if current.input.is_none() {
        bail!(
            "--resume needs an input file: standard input cannot be checked to be the same \
             list as before"
        );
    }
    if !holds_scan(dir)? {
        return Ok(Prior::default());
    }
    let manifest_path = dir.join("_manifest.json");
    let finished = parts::list(dir, format)?;
    if !manifest_path.exists() {
        // A run killed while writing its first manifest has no parts yet.
        if finished.is_empty() {
            parts::remove_unfinished(dir)?;
            return Ok(Prior::default());
        }
        bail!(
            "cannot resume: {} has part files but no _manifest.json, so it cannot be checked \
             that they come from the same input and options",
            dir.display()
        );
    }
    let text = std::fs::read(&manifest_path)
        .with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: StoredManifest = serde_json::from_slice(&text)
        .with_context(|| format!("cannot resume: invalid {}", manifest_path.display()))?;
    let Some(stored) = manifest.checkpoint else {
        bail!(
            "cannot resume: {} has no checkpoint (written by a posture without --resume)",
            manifest_path.display()
        );
    };
    check_same(&stored, current)?;

    for name in parts::remove_unfinished(dir)? {
        tracing::info!(
            file = name,
            "deleted a part that the interrupted run did not finish"
        );
    }
    let mut prior = Prior {
        started_at: Some(manifest.started_at),
        resumed_at: manifest.resumed_at,
        next_part: finished.last().map_or(0, |part| part.index + 1),
        ..Prior::default()
    };
    for part in &finished {
        read_part(dir, part, format, &mut prior)?;
    }
    tracing::info!(
        parts = prior.parts.len(),
        rows = prior.rows,
        bitmap_bytes = prior.done.memory_bytes(),
        "read the finished parts of the interrupted scan"
    );
    Ok(prior)
}

fn read_part(
    dir: &Path,
    part: &FinishedPart,
    format: Format,
    prior: &mut Prior,
) -> anyhow::Result<()> {
    let path = dir.join(&part.name);
    let done = &mut prior.done;
    let status_counts = &mut prior.status_counts;
    let mut rows = 0u64;
    let mut last_line = prior.last_input_line;
    parts::read_keys(&path, format, |line, status| {
        if !done.insert(line) {
            return Err(OutputError::UnreadablePart {
                path: path.display().to_string(),
                reason: format!("input line {line} has a row in an earlier part too"),
            });
        }
        rows += 1;
        last_line = last_line.max(line);
        match status_counts.get_mut(status) {
            Some(count) => *count += 1,
            None => {
                status_counts.insert(status.to_string(), 1);
            }
        }
        Ok(())
    })
    .with_context(|| format!("cannot resume from {}", dir.display()))?;
    prior.rows += rows;
    prior.last_input_line = last_line;
    prior.parts.push(part.name.clone());
    Ok(())
}

/// Fails with a message that names every difference between two checkpoints.
fn check_same(stored: &Checkpoint, current: &Checkpoint) -> anyhow::Result<()> {
    if stored == current {
        return Ok(());
    }
    let mut differences = Vec::new();
    if stored.input != current.input {
        differences.push(match (&stored.input, &current.input) {
            (Some(before), Some(now)) if before.bytes != now.bytes => format!(
                "the input file is not the same (was {} bytes, now {})",
                before.bytes, now.bytes
            ),
            _ => "the input file is not the same (its first or last MiB changed)".to_string(),
        });
    }
    let before = serde_json::to_value(&stored.options)?;
    let now = serde_json::to_value(&current.options)?;
    if let (Some(before), Some(now)) = (before.as_object(), now.as_object()) {
        for (name, value) in now {
            let old = before.get(name).unwrap_or(&serde_json::Value::Null);
            if old != value {
                let options = match name.as_str() {
                    "dkim_selectors_sha256" => {
                        " (the DKIM selector list of --dkim-selectors and \
                         --no-builtin-selectors; null is the built-in list)"
                    }
                    "exclude_sha256" => " (the contents of the --exclude files)",
                    "ca_file_sha256" => " (the contents of --ca-file)",
                    _ => "",
                };
                differences.push(format!("{name} was {old}, now {value}{options}"));
            }
        }
    }
    bail!(
        "cannot resume: the scan in the output folder used a different input or options: {}. \
         Run with the same input and options, or start a new scan in another folder",
        differences.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_lines_insert_and_contains() {
        let mut done = DoneLines::default();
        assert!(done.insert(1));
        assert!(done.insert(64));
        assert!(done.insert(1_000_000));
        assert!(!done.insert(64));
        assert!(done.contains(1));
        assert!(done.contains(64));
        assert!(!done.contains(2));
        assert!(!done.contains(5_000_000));
        assert_eq!(done.len(), 3);
    }

    #[test]
    fn done_lines_cost_one_bit_per_line() {
        let mut done = DoneLines::default();
        for line in 1..=1_000_000 {
            done.insert(line);
        }
        assert_eq!(done.len(), 1_000_000);
        // Growth by doubling may leave up to twice the bitmap's size allocated.
        assert!(
            done.memory_bytes() <= 2 * 125_008,
            "{}",
            done.memory_bytes()
        );
        assert!(done.memory_bytes() >= 125_008, "{}", done.memory_bytes());
    }

    #[test]
    fn fingerprint_sees_changes_in_either_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        let mut text = "a.example\n".repeat(300_000);
        std::fs::write(&path, &text).unwrap();
        let first = InputFingerprint::of(&path).unwrap();
        assert_eq!(first, InputFingerprint::of(&path).unwrap());

        text.replace_range(text.len() - 10.., "b.example\n");
        std::fs::write(&path, &text).unwrap();
        let changed_tail = InputFingerprint::of(&path).unwrap();
        assert_eq!(changed_tail.bytes, first.bytes);
        assert_eq!(changed_tail.head_sha256, first.head_sha256);
        assert_ne!(changed_tail.tail_sha256, first.tail_sha256);
    }
}
