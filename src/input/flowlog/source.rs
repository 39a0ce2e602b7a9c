//! Opening a log: stdin or a file, compressed or not, its format detected from the content, then
//! read block by block.

use super::compressed::Codec;
use super::csv::CsvLayout;
use super::json;
use super::{interpret, Block, RawRecord, Record, RecordError};
use serde_json::Map;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Bytes of text read per block: enough to keep both cores busy, small enough that memory
/// stays at a few MiB.
const BLOCK_BYTES: usize = 4 << 20;

/// A log's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// SLS JSON: one object per line (or a JSON array, or pretty-printed objects).
    Json,
    /// CSV with a header row.
    Csv,
    /// Parquet (feature `parquet`).
    Parquet,
}

impl Format {
    /// `json`, `csv` or `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// Why a whole log cannot be read (as opposed to one bad record, which never stops a run).
#[derive(Debug)]
pub struct SourceError {
    /// The file (`-` for stdin).
    pub name: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for SourceError {}

/// Reads one log block by block.
pub struct LogReader {
    name: String,
    format: Format,
    inner: Inner,
    /// Bytes of text per block (JSON lines and CSV).
    block_bytes: usize,
}

enum Inner {
    Lines {
        input: LineInput,
        kind: LineKind,
        next_line: u64,
    },
    /// A JSON array or concatenated (pretty-printed) objects, parsed whole.
    Document(Option<DocumentBlock>),
    #[cfg(feature = "parquet")]
    Parquet(super::parquet::ParquetBlocks),
}

#[derive(Clone)]
enum LineKind {
    Json,
    Csv(Arc<CsvLayout>),
}

/// Opens `path` (`-` = stdin); `format` overrides detection.
pub fn open(path: &Path, format: Option<Format>) -> Result<LogReader, SourceError> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        return open_reader(name, Box::new(io::stdin()), format);
    }
    let file = File::open(path).map_err(|err| SourceError {
        name: name.clone(),
        message: err.to_string(),
    })?;
    #[cfg(feature = "parquet")]
    {
        // A plain Parquet file is read in place (its footer first); anything else streams.
        let mut magic = [0u8; 4];
        let is_parquet = (&file).read_exact(&mut magic).is_ok() && &magic == b"PAR1";
        if is_parquet && matches!(format, None | Some(Format::Parquet)) {
            return Ok(LogReader {
                name: name.clone(),
                format: Format::Parquet,
                inner: Inner::Parquet(super::parquet::ParquetBlocks::from_file(file).map_err(
                    |message| SourceError {
                        name: name.clone(),
                        message,
                    },
                )?),
                block_bytes: BLOCK_BYTES,
            });
        }
        let file = File::open(path).map_err(|err| SourceError {
            name: name.clone(),
            message: err.to_string(),
        })?;
        open_reader(name, Box::new(file), format)
    }
    #[cfg(not(feature = "parquet"))]
    open_reader(name, Box::new(file), format)
}

/// Opens a log from any reader, compressed or not (gzip, zstd, snappy: see `compressed.rs`).
pub fn open_reader(
    name: String,
    reader: Box<dyn Read + Send>,
    format: Option<Format>,
) -> Result<LogReader, SourceError> {
    let error = |message: String| SourceError {
        name: name.clone(),
        message,
    };
    let io_error = |err: io::Error| SourceError {
        name: name.clone(),
        message: err.to_string(),
    };
    let mut input: BufReader<Box<dyn Read + Send>> = BufReader::with_capacity(1 << 20, reader);
    if let Some(codec) = Codec::detect(&name, input.fill_buf().map_err(io_error)?) {
        input = BufReader::with_capacity(1 << 20, codec.decode(Box::new(input)).map_err(io_error)?);
    }
    let head = input.fill_buf().map_err(io_error)?;
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    let detected = if head.starts_with(b"PAR1") {
        Format::Parquet
    } else if matches!(first, Some(b'{' | b'[')) {
        Format::Json
    } else {
        Format::Csv
    };
    let format = format.unwrap_or(detected);
    match format {
        Format::Parquet => {
            #[cfg(feature = "parquet")]
            {
                // Parquet needs its footer first: a compressed or piped file is read whole.
                let mut bytes = Vec::new();
                input.read_to_end(&mut bytes).map_err(io_error)?;
                let blocks = super::parquet::ParquetBlocks::from_bytes(bytes).map_err(error)?;
                Ok(LogReader {
                    name,
                    format,
                    inner: Inner::Parquet(blocks),
                    block_bytes: BLOCK_BYTES,
                })
            }
            #[cfg(not(feature = "parquet"))]
            Err(error(
                "Parquet support is not built in (cargo feature `parquet`)".to_string(),
            ))
        }
        Format::Json => {
            let first_line_end = memchr::memchr(b'\n', head).unwrap_or(head.len());
            let first_line = head[..first_line_end].trim_ascii();
            let one_per_line = first == Some(b'{') && first_line.ends_with(b"}");
            if one_per_line || first.is_none() {
                return Ok(LogReader {
                    name,
                    format,
                    inner: Inner::Lines {
                        input: LineInput::after(input),
                        kind: LineKind::Json,
                        next_line: 1,
                    },
                    block_bytes: BLOCK_BYTES,
                });
            }
            let mut text = String::new();
            input.read_to_string(&mut text).map_err(io_error)?;
            Ok(LogReader {
                name,
                format,
                inner: Inner::Document(Some(DocumentBlock::parse(&text))),
                block_bytes: BLOCK_BYTES,
            })
        }
        Format::Csv => {
            let mut header = Vec::new();
            input.read_until(b'\n', &mut header).map_err(io_error)?;
            let header = String::from_utf8_lossy(&header);
            let layout =
                CsvLayout::from_header(&header).map_err(|e| error(format!("line 1: {e}")))?;
            Ok(LogReader {
                name,
                format,
                inner: Inner::Lines {
                    input: LineInput::after(input),
                    kind: LineKind::Csv(Arc::new(layout)),
                    next_line: 2,
                },
                block_bytes: BLOCK_BYTES,
            })
        }
    }
}

impl LogReader {
    /// The name the log was opened under (its path, or `-` for stdin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The log's format, as given or detected.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Reads JSON lines and CSV in blocks of about `bytes` (default 4 MiB; tests use small
    /// ones to cross many block boundaries).
    pub fn with_block_bytes(mut self, bytes: usize) -> Self {
        self.block_bytes = bytes.max(1);
        self
    }

    /// The next block of records, or `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<Box<dyn Block>>, SourceError> {
        let name = &self.name;
        let block_bytes = self.block_bytes;
        match &mut self.inner {
            Inner::Lines {
                input,
                kind,
                next_line,
            } => {
                let data = input.next_block(block_bytes).map_err(|err| SourceError {
                    name: name.clone(),
                    message: format!("line {next_line}: {err}"),
                })?;
                if data.is_empty() {
                    return Ok(None);
                }
                let mut lines = Vec::with_capacity(data.len() / 128);
                let mut start = 0;
                let mut number = *next_line;
                let mut push = |start: usize, end: usize, number: u64| {
                    let mut line = &data[start..end];
                    line = line.strip_suffix(b"\r").unwrap_or(line);
                    if !line.trim_ascii().is_empty() {
                        lines.push((number, start, start + line.len()));
                    }
                };
                for end in memchr::memchr_iter(b'\n', &data) {
                    push(start, end, number);
                    number += 1;
                    start = end + 1;
                }
                if start < data.len() {
                    push(start, data.len(), number);
                    number += 1;
                }
                *next_line = number;
                Ok(Some(Box::new(LinesBlock {
                    data,
                    lines,
                    kind: kind.clone(),
                })))
            }
            Inner::Document(block) => Ok(block.take().map(|b| Box::new(b) as Box<dyn Block>)),
            #[cfg(feature = "parquet")]
            Inner::Parquet(blocks) => blocks.next_block().map_err(|message| SourceError {
                name: name.clone(),
                message,
            }),
        }
    }
}

/// Text read into blocks of whole lines.
///
/// PERF: the bytes go from the reader straight into the block (`read_to_end` fills its spare
/// room), not through a `BufReader`, whose copy was ~3 % of the time on JSON lines; the
/// unfinished line at a block's end is carried to the next block instead.
struct LineInput {
    reader: Box<dyn Read + Send>,
    /// Bytes read but in no block yet: what format detection looked ahead at, then the start
    /// of the line a block ended in.
    carry: Vec<u8>,
    at_end: bool,
}

impl LineInput {
    /// The rest of `input`, its buffered bytes first.
    fn after(input: BufReader<Box<dyn Read + Send>>) -> LineInput {
        LineInput {
            carry: input.buffer().to_vec(),
            reader: input.into_inner(),
            at_end: false,
        }
    }

    /// Whole lines, at least `block_bytes` of them unless the input ends (where the last line
    /// may lack its line end); empty at the end.
    fn next_block(&mut self, block_bytes: usize) -> io::Result<Vec<u8>> {
        let mut block = Vec::with_capacity(block_bytes.max(self.carry.len()) + (64 << 10));
        // The look-ahead can hold more than a (small) block: its lines go out a block at a time.
        if let Some(line_end) = self
            .carry
            .get(block_bytes..)
            .and_then(|after| memchr::memchr(b'\n', after))
        {
            let end = block_bytes + line_end + 1;
            block.extend_from_slice(&self.carry[..end]);
            self.carry.drain(..end);
            return Ok(block);
        }
        block.append(&mut self.carry);
        let mut wanted = block_bytes;
        loop {
            if !self.at_end && block.len() < wanted {
                let want = wanted - block.len();
                let got = (&mut self.reader)
                    .take(want as u64)
                    .read_to_end(&mut block)?;
                self.at_end = got < want;
            }
            if self.at_end {
                return Ok(block);
            }
            match memchr::memrchr(b'\n', &block) {
                Some(last_end) => {
                    self.carry.extend_from_slice(&block[last_end + 1..]);
                    block.truncate(last_end + 1);
                    return Ok(block);
                }
                // One line longer than a block: read on until it ends.
                None => wanted = block.len() + block_bytes,
            }
        }
    }
}

/// Whole lines of JSON or CSV text.
struct LinesBlock {
    data: Vec<u8>,
    /// Per non-blank line: its number and byte range.
    lines: Vec<(u64, usize, usize)>,
    kind: LineKind,
}

impl Block for LinesBlock {
    fn len(&self) -> usize {
        self.lines.len()
    }

    fn records(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<RawRecord<'_>, RecordError>),
    ) {
        let mut keys = json::KeyLayout::default();
        for &(number, start, end) in &self.lines[range] {
            let line = &self.data[start..end];
            match &self.kind {
                LineKind::Json => {
                    let mut scratch = None;
                    each(number, json::parse_line(line, &mut keys, &mut scratch));
                }
                LineKind::Csv(layout) => {
                    let mut owned = Vec::new();
                    each(number, layout.parse_line(line, &mut owned));
                }
            }
        }
    }

    /// [`Block::records`] then [`interpret`], with one record reused from line to line on the
    /// JSON fast path (see `json::scan_line_into`).
    fn interpreted(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<Record<'_>, RecordError>),
    ) {
        if !matches!(self.kind, LineKind::Json) {
            return self.records(range, &mut |number, raw| {
                each(number, raw.and_then(|raw| interpret(&raw)))
            });
        }
        let mut keys = json::KeyLayout::default();
        let mut record = RawRecord::default();
        let mut quotes = super::structural::EMPTY_BITMAP;
        for &(number, start, end) in &self.lines[range] {
            let line = &self.data[start..end];
            if json::scan_line_into(line, &mut keys, &mut quotes, &mut record) {
                each(number, interpret(&record));
            } else {
                let mut scratch = None;
                let raw = json::parse_line_serde(line, &mut scratch);
                each(number, raw.and_then(|raw| interpret(&raw)));
            }
        }
    }
}

/// An object of a JSON document, or why it is not one.
type ParsedObject = Result<Map<String, serde_json::Value>, RecordError>;

/// A JSON document of records: an array of objects, or objects one after another.
struct DocumentBlock {
    /// Per object: the line it starts on, and the object or why it is not one.
    objects: Vec<(u64, ParsedObject)>,
}

impl DocumentBlock {
    fn parse(text: &str) -> DocumentBlock {
        let line_at = |offset: usize| {
            1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..offset]).count() as u64
        };
        let mut objects = Vec::new();
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            match serde_json::from_str::<Vec<serde_json::Value>>(text) {
                Ok(values) => {
                    // An array's elements have no line of their own here: they are numbered.
                    for (index, value) in values.into_iter().enumerate() {
                        objects.push((index as u64 + 1, object_of(value)));
                    }
                }
                Err(err) => objects.push((
                    err.line() as u64,
                    Err(RecordError::record(
                        "the JSON array",
                        format!("a JSON array of flow-log objects ({err})"),
                    )),
                )),
            }
            return DocumentBlock { objects };
        }
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        let mut offset = 0;
        loop {
            let start = offset + (text[offset..].len() - text[offset..].trim_start().len());
            match stream.next() {
                None => break,
                Some(Ok(value)) => objects.push((line_at(start), object_of(value))),
                Some(Err(err)) => {
                    // The rest of the document cannot be split into objects: one error, stop.
                    objects.push((
                        err.line() as u64,
                        Err(RecordError::record(
                            text[start..].lines().next().unwrap_or_default(),
                            format!("JSON objects of flow-log fields ({err})"),
                        )),
                    ));
                    break;
                }
            }
            offset = stream.byte_offset();
        }
        DocumentBlock { objects }
    }
}

fn object_of(value: serde_json::Value) -> ParsedObject {
    match value {
        serde_json::Value::Object(object) => Ok(object),
        other => Err(RecordError::record(
            other.to_string(),
            "a JSON object of flow-log fields",
        )),
    }
}

impl Block for DocumentBlock {
    fn len(&self) -> usize {
        self.objects.len()
    }

    fn records(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<RawRecord<'_>, RecordError>),
    ) {
        for (line, object) in &self.objects[range] {
            match object {
                Ok(object) => each(*line, json::record_of_object(object)),
                Err(err) => each(*line, Err(err.clone())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::flowlog::{Field, Value};

    /// Every record of a text log as (location, eni-id or the error).
    fn read(text: &[u8], format: Option<Format>) -> Result<Vec<(u64, String)>, String> {
        read_in_blocks(text, format, BLOCK_BYTES)
    }

    /// [`read`] in blocks of about `block_bytes`.
    fn read_in_blocks(
        text: &[u8],
        format: Option<Format>,
        block_bytes: usize,
    ) -> Result<Vec<(u64, String)>, String> {
        let mut reader = open_reader(
            "log".into(),
            Box::new(io::Cursor::new(text.to_vec())),
            format,
        )
        .map_err(|e| e.to_string())?
        .with_block_bytes(block_bytes);
        let mut out = Vec::new();
        while let Some(block) = reader.next_block().map_err(|e| e.to_string())? {
            block.records(0..block.len(), &mut |line, raw| {
                out.push((
                    line,
                    match raw {
                        Ok(raw) => match raw.get(Field::EniId) {
                            Value::Text(eni) => eni.to_string(),
                            other => format!("{other:?}"),
                        },
                        Err(err) => format!("error: {err}"),
                    },
                ));
            });
        }
        Ok(out)
    }

    #[test]
    fn json_lines_arrays_and_pretty_objects() {
        let lines = b"{\"eni-id\":\"eni-1\"}\n\n{\"eni-id\":\"eni-2\"}\r\nnot json\n";
        let records = read(lines, None).unwrap();
        assert_eq!(records[0], (1, "eni-1".to_string()));
        assert_eq!(records[1], (3, "eni-2".to_string()));
        assert_eq!(records[2].0, 4);
        assert!(
            records[2].1.starts_with("error: record \"not json\""),
            "{records:?}"
        );

        let array = b"[{\"eni-id\":\"eni-1\"}, {\"eni-id\":\"eni-2\"}, 3]";
        let records = read(array, None).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1], (2, "eni-2".to_string()));
        assert!(records[2].1.contains("a JSON object"), "{records:?}");

        let pretty = b"{\n  \"eni-id\": \"eni-1\"\n}\n{\n  \"eni-id\": \"eni-2\"\n}\n";
        let records = read(pretty, None).unwrap();
        assert_eq!(records, vec![(1, "eni-1".into()), (4, "eni-2".into())]);
    }

    #[test]
    fn blocks_of_any_size_give_the_same_records() {
        let json = b"{\"eni-id\":\"eni-1\"}\n\n{\"eni-id\":\"eni-22\"}\r\nnot json\n{\"eni-id\":\"eni-333\"}";
        let csv = b"eni-id,direction,protocol,srcaddr,dstaddr\neni-1,in,6,10.0.0.1,10.0.0.2\r\n\neni-22,out,17,10.0.0.3,10.0.0.4\n";
        for (text, format) in [(&json[..], Format::Json), (&csv[..], Format::Csv)] {
            let whole = read(text, Some(format)).unwrap();
            assert_eq!(whole.len(), if format == Format::Json { 4 } else { 2 });
            // Blocks shorter than a line, a line and a half, exactly a line, and the whole.
            for block_bytes in 1..=text.len() + 1 {
                let blocks = read_in_blocks(text, Some(format), block_bytes).unwrap();
                assert_eq!(blocks, whole, "{format:?} in blocks of {block_bytes} bytes");
            }
        }
    }

    #[test]
    fn gzip_is_read_and_a_bad_header_is_refused() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(b"eni-id|direction|protocol|srcaddr|dstaddr\neni-9|in|6|10.0.0.1|10.0.0.2\n")
            .unwrap();
        let gz = encoder.finish().unwrap();
        assert_eq!(read(&gz, None).unwrap(), vec![(2, "eni-9".to_string())]);
        let err = read(b"a,b,c\n1,2,3\n", None).unwrap_err();
        assert!(err.starts_with("log: line 1: header \"a,b,c\""), "{err}");
    }
}
