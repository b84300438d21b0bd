//! Reads domain lists one record at a time, so that no input is ever held in memory whole.
//!
//! Three layouts are recognised from the first line: CSV with a header naming the domain column,
//! headerless `rank,domain` (the Tranco list format), and one domain per line. gzip and zstd
//! input is recognised by its magic bytes and decompressed on the fly.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Input column names that are taken for the domain column, in order of preference.
pub const DOMAIN_COLUMN_NAMES: &[&str] = &[
    "domain",
    "host",
    "hostname",
    "website",
    "url",
    "site",
    "fqdn",
    "domain_name",
];

/// Maximum length of a CSV record, which may span several lines, in bytes.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Maximum length of a line read from a line-based input, in bytes. The rest of a longer line
/// is skipped, and the line is reported as invalid.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read input {path}")]
    Open { path: String, source: io::Error },
    #[error("input {0} is a folder, not a file")]
    Folder(String),
    #[error("cannot read input")]
    Read(#[from] io::Error),
    #[error("invalid CSV input")]
    Csv(#[from] csv::Error),
    #[error("column {name:?} not found in the input header; the header has: {header}")]
    ColumnNotFound { name: String, header: String },
    #[error(
        "cannot tell which input column holds the domain (header: {header}); \
         name it with --column"
    )]
    NoDomainColumn { header: String },
    #[error("input is UTF-16 (it starts with a UTF-16 byte-order mark); convert it to UTF-8")]
    Utf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// CSV whose first line is a header.
    Csv,
    /// Headerless `rank,domain`.
    Tranco,
    /// One domain per line.
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassKind {
    Text,
    Integer,
}

/// An input column copied into the output unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassColumn {
    pub name: String,
    pub kind: PassKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PassValue {
    Text(Option<String>),
    Integer(Option<i64>),
}

/// One input record: the raw domain field and the passthrough values, in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRecord {
    /// Line where the record starts, from 1, counting a header line.
    pub line: u64,
    pub field: String,
    pub passthrough: Vec<PassValue>,
    /// Reason the record cannot be read as a domain at all (bad bytes, missing field, overlong).
    pub defect: Option<String>,
}

/// Describes the input's layout and the columns passed through.
#[derive(Debug, Clone)]
pub struct InputShape {
    pub layout: Layout,
    pub columns: Vec<PassColumn>,
    domain_index: usize,
}

/// Streaming reader of input records.
pub struct InputReader {
    shape: InputShape,
    source: Source,
}

/// Physical lines of the input, and the first one, read early to decide the layout.
struct Source {
    reader: Box<dyn BufRead + Send>,
    line: u64,
    buffer: Vec<u8>,
    /// The first line and whether it was cut; `None` once returned, or for CSV (the header).
    first: Option<(Vec<u8>, bool)>,
}

/// Opens a file, or standard input for `-`, decompressing gzip and zstd.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, InputError> {
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        if path.is_dir() {
            return Err(InputError::Folder(path.display().to_string()));
        }
        let file = File::open(path).map_err(|source| InputError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Box::new(file)
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, raw);
    let magic = buffered.fill_buf()?;
    let reader: Box<dyn BufRead + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
        let decoder = flate2::read::MultiGzDecoder::new(buffered);
        Box::new(BufReader::with_capacity(256 * 1024, decoder))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = zstd::Decoder::with_buffer(buffered)?;
        Box::new(BufReader::with_capacity(256 * 1024, decoder))
    } else {
        Box::new(buffered)
    };
    Ok(reader)
}

impl InputReader {
    /// Reads the first line of `input` and decides its layout. With `column`, the input must
    /// be CSV with a header containing that column.
    pub fn new(
        mut input: Box<dyn BufRead + Send>,
        column: Option<&str>,
    ) -> Result<Self, InputError> {
        let mut first = Vec::new();
        let (_, overlong) = read_line_capped(&mut input, &mut first)?;
        if first.starts_with(b"\xff\xfe") || first.starts_with(b"\xfe\xff") {
            return Err(InputError::Utf16);
        }
        if let Some(rest) = first.strip_prefix(b"\xef\xbb\xbf") {
            first = rest.to_vec();
        }
        let header = if overlong {
            Vec::new()
        } else {
            parse_csv_line(&first)?
        };

        let wanted = column.map(str::to_ascii_lowercase);
        let named_index = header.iter().position(|name| {
            let name = name.trim().to_ascii_lowercase();
            match &wanted {
                Some(wanted) => name == *wanted,
                None => false,
            }
        });
        let guessed_index = DOMAIN_COLUMN_NAMES.iter().find_map(|candidate| {
            header
                .iter()
                .position(|name| name.trim().eq_ignore_ascii_case(candidate))
        });

        if let Some(column) = column {
            let Some(index) = named_index else {
                return Err(InputError::ColumnNotFound {
                    name: column.to_string(),
                    header: header.join(","),
                });
            };
            return Ok(Self::csv(input, header, index));
        }
        if let Some(index) = guessed_index {
            return Ok(Self::csv(input, header, index));
        }

        let first_text = String::from_utf8_lossy(&first);
        let fields: Vec<&str> = first_text
            .trim_end_matches(['\r', '\n'])
            .split(',')
            .collect();
        let is_tranco = fields.len() == 2 && fields[0].trim().parse::<u64>().is_ok();
        if fields.len() > 1 && !is_tranco {
            return Err(InputError::NoDomainColumn {
                header: header.join(","),
            });
        }

        let (layout, columns) = if is_tranco {
            let rank = PassColumn {
                name: "rank".into(),
                kind: PassKind::Integer,
            };
            (Layout::Tranco, vec![rank])
        } else {
            (Layout::Lines, Vec::new())
        };
        let first = (!first.is_empty()).then_some((first, overlong));
        Ok(Self {
            shape: InputShape {
                layout,
                columns,
                domain_index: usize::from(is_tranco),
            },
            source: Source {
                reader: input,
                line: 0,
                buffer: Vec::new(),
                first,
            },
        })
    }

    fn csv(input: Box<dyn BufRead + Send>, header: Vec<String>, domain_index: usize) -> Self {
        let columns = header
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != domain_index)
            .map(|(index, name)| {
                let name = name.trim();
                let name = if name.is_empty() {
                    format!("column_{}", index + 1)
                } else {
                    name.into()
                };
                PassColumn {
                    name,
                    kind: PassKind::Text,
                }
            })
            .collect();
        Self {
            shape: InputShape {
                layout: Layout::Csv,
                columns,
                domain_index,
            },
            source: Source {
                reader: input,
                line: 1,
                buffer: Vec::new(),
                first: None,
            },
        }
    }

    pub fn shape(&self) -> &InputShape {
        &self.shape
    }

    /// Reads the next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<InputRecord>, InputError> {
        let source = &mut self.source;
        let overlong = match source.first.take() {
            Some((first_line, overlong)) => {
                source.buffer = first_line;
                overlong
            }
            None => {
                let (read, overlong) = read_line_capped(&mut source.reader, &mut source.buffer)?;
                if read == 0 {
                    return Ok(None);
                }
                overlong
            }
        };
        source.line += 1;
        let line = source.line;
        if self.shape.layout != Layout::Csv {
            return Ok(Some(line_record(
                &self.shape,
                &source.buffer,
                line,
                overlong,
            )));
        }

        // A CSV record goes on while a quoted field is open at the end of a line (RFC 4180).
        let mut record = std::mem::take(&mut source.buffer);
        let mut overlong = overlong;
        let mut line_buffer = Vec::new();
        while !overlong && has_open_quote(&record) {
            let (read, cut) = read_line_capped(&mut source.reader, &mut line_buffer)?;
            if read == 0 {
                break;
            }
            source.line += 1;
            overlong = cut || record.len() + line_buffer.len() > MAX_RECORD_BYTES;
            record.extend_from_slice(&line_buffer[..line_buffer.len().min(MAX_RECORD_BYTES)]);
        }
        source.buffer = record;
        if overlong {
            let defect =
                format!("CSV record longer than {MAX_RECORD_BYTES} bytes (unbalanced quote?)");
            return Ok(Some(defective_record(&self.shape, line, defect)));
        }
        let fields = parse_csv_fields(&source.buffer)?;
        Ok(Some(csv_record(&self.shape, &fields, line)))
    }
}

/// Returns whether a quoted field is still open at the end of `bytes`. A doubled quote inside
/// a quoted field toggles twice, so it leaves the state unchanged.
fn has_open_quote(bytes: &[u8]) -> bool {
    bytes.iter().filter(|byte| **byte == b'"').count() % 2 == 1
}

fn defective_record(shape: &InputShape, line: u64, defect: String) -> InputRecord {
    InputRecord {
        line,
        field: String::new(),
        passthrough: shape
            .columns
            .iter()
            .map(|_| PassValue::Text(None))
            .collect(),
        defect: Some(defect),
    }
}

fn csv_record(shape: &InputShape, fields: &[Vec<u8>], line: u64) -> InputRecord {
    let text = |bytes: &Vec<u8>| String::from_utf8_lossy(bytes).into_owned();
    let Some(domain) = fields.get(shape.domain_index) else {
        let reason = match fields.iter().all(|field| field.is_empty()) {
            true => "empty domain field",
            false => "the record has no domain field",
        };
        let mut record = defective_record(shape, line, reason.to_string());
        record.passthrough = passthrough_values(shape, fields, text);
        return record;
    };
    // Bad bytes in another column are kept, replaced, in that column; only the domain matters.
    let defect = std::str::from_utf8(domain)
        .is_err()
        .then(|| "the domain field is not valid UTF-8".to_string());
    InputRecord {
        line,
        field: text(domain),
        passthrough: passthrough_values(shape, fields, text),
        defect,
    }
}

fn passthrough_values(
    shape: &InputShape,
    fields: &[Vec<u8>],
    text: impl Fn(&Vec<u8>) -> String,
) -> Vec<PassValue> {
    (0..fields.len().max(shape.columns.len() + 1))
        .filter(|index| *index != shape.domain_index)
        .take(shape.columns.len())
        .map(|index| PassValue::Text(fields.get(index).map(&text)))
        .collect()
}

fn line_record(shape: &InputShape, bytes: &[u8], line: u64, overlong: bool) -> InputRecord {
    let mut bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let mut defect = match std::str::from_utf8(bytes) {
        Ok(_) => None,
        Err(_) => Some("input is not valid UTF-8".to_string()),
    };
    if overlong {
        defect = Some(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }
    let text = String::from_utf8_lossy(bytes);

    if shape.layout == Layout::Tranco {
        let (rank, field) = text.split_once(',').unwrap_or(("", &text));
        let rank = rank.trim().parse::<i64>().ok();
        return InputRecord {
            line,
            field: field.to_string(),
            passthrough: vec![PassValue::Integer(rank)],
            defect,
        };
    }
    InputRecord {
        line,
        field: text.into_owned(),
        passthrough: Vec::new(),
        defect,
    }
}

/// Reads one line into `buffer`, keeping at most `MAX_LINE_BYTES`; the rest of a longer line is
/// read and dropped. Returns the bytes consumed and whether the line was cut.
fn read_line_capped(reader: &mut dyn BufRead, buffer: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    buffer.clear();
    let mut consumed = 0;
    let mut overlong = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok((consumed, overlong));
        }
        let (chunk, done) = match memchr(b'\n', available) {
            Some(index) => (&available[..=index], true),
            None => (available, false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buffer.len());
        if chunk.len() > room {
            overlong = true;
        }
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let length = chunk.len();
        reader.consume(length);
        consumed += length;
        if done {
            return Ok((consumed, overlong));
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|byte| *byte == needle)
}

/// Splits one CSV record (which may span lines) into its fields, unquoted.
fn parse_csv_fields(record: &[u8]) -> Result<Vec<Vec<u8>>, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(record);
    let mut fields = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut fields)? {
        return Ok(Vec::new());
    }
    Ok(fields.iter().map(<[u8]>::to_vec).collect())
}

fn parse_csv_line(line: &[u8]) -> Result<Vec<String>, InputError> {
    let fields = parse_csv_fields(line)?;
    Ok(fields
        .iter()
        .map(|field| {
            String::from_utf8_lossy(field)
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect())
}

/// Counts the records of an input file ahead of the scan, for the progress bar's total.
pub fn count_records(path: &Path, column: Option<&str>) -> Result<u64, InputError> {
    let mut reader = InputReader::new(open(path)?, column)?;
    if reader.shape.layout != Layout::Csv {
        let Source {
            reader: lines,
            first,
            ..
        } = &mut reader.source;
        let mut count = u64::from(first.is_some());
        let mut last = b'\n';
        loop {
            let chunk = lines.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            count += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
            last = chunk[chunk.len() - 1];
            let length = chunk.len();
            lines.consume(length);
        }
        return Ok(count + u64::from(last != b'\n'));
    }
    let mut count = 0;
    while reader.next_record()?.is_some() {
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(text: &str, column: Option<&str>) -> InputReader {
        let input: Box<dyn BufRead + Send> = Box::new(Cursor::new(text.as_bytes().to_vec()));
        InputReader::new(input, column).unwrap()
    }

    fn records(mut reader: InputReader) -> Vec<InputRecord> {
        let mut all = Vec::new();
        while let Some(record) = reader.next_record().unwrap() {
            all.push(record);
        }
        all
    }

    #[test]
    fn tranco_layout() {
        let input = reader("1,google.com\n2,example.org\r\n", None);
        assert_eq!(input.shape().layout, Layout::Tranco);
        assert_eq!(input.shape().columns[0].name, "rank");
        let all = records(input);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].field, "example.org");
        assert_eq!(all[1].line, 2);
        assert_eq!(all[1].passthrough, vec![PassValue::Integer(Some(2))]);
    }

    #[test]
    fn plain_lines_keep_empty_lines() {
        let all = records(reader("example.com\n\nexample.org", None));
        assert_eq!(all.len(), 3);
        assert_eq!(all[1].field, "");
        assert_eq!(all[2].line, 3);
        assert_eq!(all[2].field, "example.org");
    }

    #[test]
    fn csv_with_header_and_quotes() {
        let text = "company,Website,industry\n\"Acme, Inc.\",acme.com,Retail\nBeta,beta.io\n";
        let input = reader(text, None);
        assert_eq!(input.shape().layout, Layout::Csv);
        let names: Vec<_> = input
            .shape()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["company", "industry"]);
        let all = records(input);
        assert_eq!(all[0].line, 2);
        assert_eq!(all[0].field, "acme.com");
        assert_eq!(
            all[0].passthrough[0],
            PassValue::Text(Some("Acme, Inc.".into()))
        );
        assert_eq!(all[1].passthrough[1], PassValue::Text(None));
    }

    #[test]
    fn csv_named_column() {
        let input = reader("name,homepage\nAcme,acme.com\n", Some("HomePage"));
        assert_eq!(records(input)[0].field, "acme.com");
        let input: Box<dyn BufRead + Send> = Box::new(Cursor::new(b"name,x\n".to_vec()));
        let error = InputReader::new(input, Some("homepage")).err().unwrap();
        assert!(error.to_string().contains("homepage"), "{error}");
    }

    #[test]
    fn csv_without_domain_column_is_an_error() {
        let input: Box<dyn BufRead + Send> = Box::new(Cursor::new(b"name,city\nA,B\n".to_vec()));
        let error = InputReader::new(input, None).err().unwrap();
        assert!(
            matches!(error, InputError::NoDomainColumn { .. }),
            "{error}"
        );
    }

    #[test]
    fn invalid_utf8_is_a_defect() {
        let input: Box<dyn BufRead + Send> =
            Box::new(Cursor::new(b"ok.com\nbad\xff.com\n".to_vec()));
        let all = records(InputReader::new(input, None).unwrap());
        assert_eq!(all[0].defect, None);
        assert_eq!(all[1].defect.as_deref(), Some("input is not valid UTF-8"));
        assert_eq!(all[1].field, "bad\u{fffd}.com");
    }

    #[test]
    fn overlong_line_is_cut_and_reported() {
        let text = format!("{}\nnext.com\n", "a".repeat(MAX_LINE_BYTES * 2));
        let all = records(reader(&text, None));
        assert_eq!(all.len(), 2);
        assert!(all[0].defect.as_deref().unwrap().contains("longer than"));
        assert_eq!(all[1].field, "next.com");
        assert_eq!(all[1].line, 2);
    }

    #[test]
    fn gzip_and_zstd_are_decompressed() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let gz_path = dir.path().join("list.txt.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz_path).unwrap(), Default::default());
        encoder.write_all(b"example.com\nexample.org\n").unwrap();
        encoder.finish().unwrap();
        let zst_path = dir.path().join("list.txt.zst");
        let compressed = zstd::encode_all(&b"1,example.com\n"[..], 3).unwrap();
        std::fs::write(&zst_path, compressed).unwrap();

        let all = records(InputReader::new(open(&gz_path).unwrap(), None).unwrap());
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].field, "example.org");
        let all = records(InputReader::new(open(&zst_path).unwrap(), None).unwrap());
        assert_eq!(all[0].field, "example.com");
        assert_eq!(count_records(&gz_path, None).unwrap(), 2);
    }

    #[test]
    fn count_matches_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "domain,note\na.com,\"two\nlines\"\nb.com,x\n").unwrap();
        assert_eq!(count_records(&path, None).unwrap(), 2);
        std::fs::write(&path, "a.com\nb.com").unwrap();
        assert_eq!(count_records(&path, None).unwrap(), 2);
    }

    #[test]
    fn csv_line_numbers_with_crlf_and_blank_lines() {
        let text = "domain,note\r\ngoogle.com,a\r\n\r\nmail.ru,\"two\r\nlines\"\r\nx.org,b\r\n";
        let all = records(reader(text, None));
        let lines: Vec<u64> = all.iter().map(|record| record.line).collect();
        assert_eq!(lines, [2, 3, 4, 6]);
        assert_eq!(all[1].defect.as_deref(), Some("empty domain field"));
        assert_eq!(all[2].field, "mail.ru");
        assert_eq!(
            all[2].passthrough[0],
            PassValue::Text(Some("two\r\nlines".into()))
        );
        assert_eq!(all[3].field, "x.org");
    }

    #[test]
    fn csv_unbalanced_quote_is_bounded() {
        let mut text = "domain,note\n\"a.com,1\n".to_string();
        while text.len() < MAX_RECORD_BYTES + 4096 {
            text.push_str("example.com,x\n");
        }
        text.push_str("\"\nlast.com,y\n");
        let all = records(reader(&text, None));
        assert!(all[0].defect.as_deref().unwrap().contains("longer than"));
        assert!(
            all.len() > 1,
            "the reader must go on after an overlong record"
        );
    }

    #[test]
    fn csv_bad_bytes_outside_domain_are_kept() {
        let input: Box<dyn BufRead + Send> =
            Box::new(Cursor::new(b"domain,note\ngoogle.com,caf\xe9\n".to_vec()));
        let all = records(InputReader::new(input, None).unwrap());
        assert_eq!(all[0].defect, None);
        assert_eq!(
            all[0].passthrough[0],
            PassValue::Text(Some("caf\u{fffd}".into()))
        );
    }

    #[test]
    fn utf16_is_an_error() {
        for bom in [&b"\xff\xfe"[..], &b"\xfe\xff"[..]] {
            let mut bytes = bom.to_vec();
            bytes.extend_from_slice(b"e\0x\0.\0c\0o\0m\0\n\0");
            let input: Box<dyn BufRead + Send> = Box::new(Cursor::new(bytes));
            let error = InputReader::new(input, None).err().unwrap();
            assert!(matches!(error, InputError::Utf16), "{error}");
        }
    }

    #[test]
    fn tranco_with_byte_order_mark() {
        let input = reader("\u{feff}1,google.com\n2,mail.ru\n", None);
        assert_eq!(input.shape().layout, Layout::Tranco);
        let all = records(input);
        assert_eq!(all[0].field, "google.com");
        assert_eq!(all[0].passthrough, vec![PassValue::Integer(Some(1))]);
    }
}
