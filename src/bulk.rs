//! The bulk CSV contract of `sgsim eval` (`shared/spec/interface.md`), streaming.
//!
//! Input: the header `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port`, then one flow
//! per line. Output: the input columns followed by `verdict,reason,security_group_id,rule_id`,
//! rows in input order. A bad row stops nothing: it is reported with its line number and its
//! output row gets the verdict `error`.
//!
//! The input is read in blocks of whole lines; each block is evaluated across rayon's threads
//! and written out in order before the next is read, so memory stays flat however long the
//! input is.

use crate::model::{Flow, Reason, RuleRef, Target, Verdict};
use crate::Engine;
use rayon::prelude::*;
use std::io::{self, BufRead, Write};

/// The input header, exactly.
pub const INPUT_HEADER: &str = "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port";
/// The columns appended to each output row.
pub const OUTPUT_COLUMNS: &str = "verdict,reason,security_group_id,rule_id";

/// Bytes of input evaluated per block. Large enough to keep both cores busy, small enough that
/// memory stays at a few MiB.
const BLOCK_BYTES: usize = 4 << 20;
/// Lines per parallel task inside a block: small enough that the threads finish a block
/// together. PERF: with 8192 (~10 tasks a block) one thread often waited for the other's last
/// task; 2048 kept 2 threads 1.76–1.82 busy instead of 1.65–1.78 (CPU time ÷ wall, 10M rows,
/// 6 alternating runs), wall 1.01–1.27 s against 1.09–1.56 s.
const LINES_PER_TASK: usize = 2048;

/// A row that could not be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the input (the header is line 1).
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalSummary {
    pub rows: u64,
    pub accepted: u64,
    pub dropped: u64,
    pub errors: u64,
}

/// Why a whole run stopped (as opposed to a bad row, which never stops it).
#[derive(Debug)]
pub enum BulkError {
    Io(io::Error),
    /// The first line is not [`INPUT_HEADER`].
    Header(String),
}

impl std::fmt::Display for BulkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkError::Io(err) => write!(f, "{err}"),
            BulkError::Header(found) => write!(
                f,
                "line 1: header {found:?}: expected exactly {INPUT_HEADER:?}"
            ),
        }
    }
}

impl std::error::Error for BulkError {}

impl From<io::Error> for BulkError {
    fn from(err: io::Error) -> Self {
        BulkError::Io(err)
    }
}

/// Callbacks of a bulk run: bad rows as they are found, and progress after each block.
pub trait EvalObserver {
    fn row_error(&mut self, _error: &RowError) {}
    fn progress(&mut self, _rows: u64, _bytes: u64) {}
}

/// Ignores everything.
impl EvalObserver for () {}

/// Evaluates every flow of `input` and writes the output CSV to `output`.
pub fn eval_csv(
    engine: &Engine,
    mut input: impl BufRead + Send,
    mut output: impl Write + Send,
    observer: &mut dyn EvalObserver,
) -> Result<EvalSummary, BulkError> {
    let mut header = Vec::new();
    input.read_until(b'\n', &mut header)?;
    let header_text = String::from_utf8_lossy(trim_line_end(&header)).into_owned();
    if header_text.trim_start_matches('\u{feff}') != INPUT_HEADER {
        return Err(BulkError::Header(header_text));
    }
    writeln!(output, "{INPUT_HEADER},{OUTPUT_COLUMNS}")?;
    let labels = RuleLabels::new(engine);

    let mut summary = EvalSummary::default();
    let mut bytes_read = header.len() as u64;
    let mut block = Vec::with_capacity(BLOCK_BYTES + 4096);
    let mut next_block = Vec::with_capacity(BLOCK_BYTES + 4096);
    let mut eof = fill_block(&mut input, &mut block)?;
    let mut finished: Vec<TaskOutput> = Vec::new();
    // Output buffers of written blocks, reused for the next ones. PERF: fresh ~0.5 MB buffers
    // per task were new mappings every block, and their page faults cost ~7 % of the run.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut next_line: u64 = 2;
    while !block.is_empty() {
        bytes_read += block.len() as u64;
        let lines: Vec<&[u8]> = split_lines(&block);
        let first_line = next_line;
        next_line += lines.len() as u64;
        // PERF: the I/O of the neighbouring blocks (writing the last one's output, reading the
        // next one) overlaps the evaluation of this one, so no core idles while one thread does
        // I/O (README, performance: `sgsim eval` on 10 million rows).
        let mut buffers = std::mem::take(&mut spare);
        buffers.resize_with(lines.len().div_ceil(LINES_PER_TASK), Vec::new);
        let (io, results) = rayon::join(
            || -> io::Result<(bool, Vec<Vec<u8>>)> {
                let mut written = Vec::with_capacity(finished.len());
                for result in finished.drain(..) {
                    output.write_all(&result.csv)?;
                    written.push(result.csv);
                }
                next_block.clear();
                let eof = eof || fill_block(&mut input, &mut next_block)?;
                Ok((eof, written))
            },
            || -> Vec<TaskOutput> {
                lines
                    .par_chunks(LINES_PER_TASK)
                    .zip(buffers.into_par_iter())
                    .enumerate()
                    .map(|(task, (chunk, csv))| {
                        let first = first_line + (task * LINES_PER_TASK) as u64;
                        evaluate_lines(engine, &labels, chunk, first, csv)
                    })
                    .collect()
            },
        );
        let (at_end, written) = io?;
        eof = at_end;
        spare = written;
        for result in &results {
            for error in &result.errors {
                observer.row_error(error);
            }
            summary.rows += result.summary.rows;
            summary.accepted += result.summary.accepted;
            summary.dropped += result.summary.dropped;
            summary.errors += result.summary.errors;
        }
        observer.progress(summary.rows, bytes_read);
        finished = results;
        drop(lines);
        std::mem::swap(&mut block, &mut next_block);
    }
    for result in finished {
        output.write_all(&result.csv)?;
    }
    output.flush()?;
    Ok(summary)
}

/// Reads whole lines until the block holds at least [`BLOCK_BYTES`] or the input ends; true at
/// the end.
fn fill_block(input: &mut impl BufRead, block: &mut Vec<u8>) -> io::Result<bool> {
    while block.len() < BLOCK_BYTES {
        let available = match input.fill_buf() {
            Ok(buf) => buf,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok(true);
        }
        let take = available.len().min(BLOCK_BYTES - block.len());
        block.extend_from_slice(&available[..take]);
        input.consume(take);
    }
    // Finish the line the block ends in.
    if block.last() != Some(&b'\n') && input.read_until(b'\n', block)? == 0 {
        return Ok(true);
    }
    Ok(false)
}

/// Splits a block into lines without their line ends; a final empty line is not a row.
///
/// PERF: this runs on one thread before a block is spread across all of them; splitting with
/// `memchr` instead of a byte-by-byte `split` took it from 8 % of `sgsim eval`'s time to ~1 %.
fn split_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(block.len() / 48);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        lines.push(trim_line_end(&block[start..end]));
        start = end + 1;
    }
    if start < block.len() {
        lines.push(trim_line_end(&block[start..]));
    }
    lines
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

struct TaskOutput {
    csv: Vec<u8>,
    errors: Vec<RowError>,
    summary: EvalSummary,
}

/// Evaluates `lines` (the first is line `first_line` of the input) into `csv`, a buffer to
/// reuse.
fn evaluate_lines(
    engine: &Engine,
    labels: &RuleLabels,
    lines: &[&[u8]],
    first_line: u64,
    mut csv: Vec<u8>,
) -> TaskOutput {
    csv.clear();
    csv.reserve(lines.iter().map(|l| l.len() + 40).sum());
    let mut out = TaskOutput {
        csv,
        errors: Vec::new(),
        summary: EvalSummary::default(),
    };
    // Rows usually repeat a few NIC ids: remember the last one resolved.
    let mut last_target: Option<(Vec<u8>, Target)> = None;
    for (offset, &line) in lines.iter().enumerate() {
        out.summary.rows += 1;
        let row_start = out.csv.len();
        out.csv.extend_from_slice(line);
        match parse_row(engine, line, &mut last_target) {
            Ok((target, flow)) => {
                let verdict = engine.check(target, &flow);
                if verdict.is_accept() {
                    out.summary.accepted += 1;
                } else {
                    out.summary.dropped += 1;
                }
                write_verdict(labels, &verdict, &mut out.csv);
            }
            Err(message) => {
                out.summary.errors += 1;
                out.errors.push(RowError {
                    line: first_line + offset as u64,
                    message,
                });
                // Keep the output rectangular: a row without exactly 7 input columns is
                // re-written with its first 7 fields (padded with empty ones).
                if let Some(fields) = ragged_fields(line) {
                    out.csv.truncate(row_start);
                    for (i, field) in fields.iter().enumerate() {
                        if i > 0 {
                            out.csv.push(b',');
                        }
                        write_field(field, &mut out.csv);
                    }
                }
                out.csv.extend_from_slice(b",error,,,\n");
            }
        }
    }
    out
}

fn parse_row(
    engine: &Engine,
    line: &[u8],
    last_target: &mut Option<(Vec<u8>, Target)>,
) -> Result<(Target, Flow), String> {
    let text = std::str::from_utf8(line).map_err(|_| "the row is not valid UTF-8".to_string())?;
    let quoted_fields;
    let fields = match unquoted_fields(text) {
        Some(fields) => fields?,
        None => {
            quoted_fields = parse_quoted(text)?;
            let fields: Vec<&str> = quoted_fields.iter().map(String::as_str).collect();
            seven_fields(fields.len(), fields.into_iter())?
        }
    };
    parse_fields(engine, fields, last_target)
}

/// The target and flow of one row given as its seven fields, in the order of [`INPUT_HEADER`]
/// (an empty field where the CSV has one); the error is the message `sgsim eval` reports for
/// the row. Other front ends (the Python package's Arrow input) call this so that their
/// verdicts and messages are `sgsim eval`'s. `last_target` remembers the last NIC id resolved:
/// rows usually repeat a few.
pub fn parse_fields(
    engine: &Engine,
    fields: [&str; 7],
    last_target: &mut Option<(Vec<u8>, Target)>,
) -> Result<(Target, Flow), String> {
    let [nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port] = fields;
    let target = match last_target {
        Some((id, target)) if id.as_slice() == nic_id.as_bytes() => *target,
        _ => {
            let target = engine
                .target(nic_id)
                .map_err(|why| format!("nic_id: {why}"))?;
            *last_target = Some((nic_id.as_bytes().to_vec(), target));
            target
        }
    };
    let flow = Flow::parse(direction, protocol, src_ip, src_port, dst_ip, dst_port)
        .map_err(|err| err.to_string())?;
    Ok((target, flow))
}

/// The seven fields of a row, split at its commas in one pass over the bytes; `None` if the
/// row has a quote (the csv crate reads those, see [`parse_quoted`]).
///
/// PERF: a fixed array instead of `str::split` into a Vec halved the per-row parsing cost of
/// `sgsim eval`; one byte loop for commas and quotes instead of `memchr` calls (one per field
/// and one for quotes, each with its set-up, on rows of ~50 bytes) saved ~100 of ~2 800
/// instructions a row (callgrind).
fn unquoted_fields(text: &str) -> Option<Result<[&str; 7], String>> {
    let mut fields = [""; 7];
    let mut count = 0;
    let mut start = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if byte == b',' {
            if count < 7 {
                fields[count] = &text[start..at];
            }
            count += 1;
            start = at + 1;
        } else if byte == b'"' {
            return None;
        }
    }
    if count < 7 {
        fields[count] = &text[start..];
    }
    count += 1;
    Some(if count == 7 {
        Ok(fields)
    } else {
        Err(field_count_error(count))
    })
}

fn seven_fields<'a>(
    count: usize,
    mut fields: impl Iterator<Item = &'a str>,
) -> Result<[&'a str; 7], String> {
    if count != 7 {
        return Err(field_count_error(count));
    }
    Ok(std::array::from_fn(|_| fields.next().unwrap_or_default()))
}

fn field_count_error(count: usize) -> String {
    format!("{count} fields, expected 7 ({INPUT_HEADER})")
}

/// The first 7 fields of a row that does not have exactly 7, padded; `None` for a row with 7.
fn ragged_fields(line: &[u8]) -> Option<Vec<String>> {
    let text = String::from_utf8_lossy(line);
    let mut fields: Vec<String> = if memchr::memchr(b'"', line).is_some() {
        parse_quoted(&text).unwrap_or_else(|_| vec![text.to_string()])
    } else {
        text.split(',').map(str::to_string).collect()
    };
    if fields.len() == 7 {
        return None;
    }
    fields.resize(7, String::new());
    Some(fields)
}

/// A row with quotes goes through the csv crate, so quoted fields parse as any CSV reader would.
fn parse_quoted(text: &str) -> Result<Vec<String>, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => Ok(record.iter().map(str::to_string).collect()),
        Some(Err(err)) => Err(format!("malformed CSV: {err}")),
        None => Ok(Vec::new()),
    }
}

/// The `group_id,rule_id` output columns of every rule, written once per run.
///
/// PERF: looking both ids up and checking them for characters to quote on every row cost
/// more than evaluating the row.
struct RuleLabels {
    /// Per group, per rule: the two columns as CSV.
    columns: Vec<Vec<Vec<u8>>>,
}

impl RuleLabels {
    fn new(engine: &Engine) -> RuleLabels {
        let columns = engine
            .snapshot()
            .groups()
            .iter()
            .map(|group| {
                group
                    .rules
                    .iter()
                    .map(|rule| {
                        let mut columns = Vec::new();
                        write_field(&group.id, &mut columns);
                        columns.push(b',');
                        write_field(&rule.id, &mut columns);
                        columns
                    })
                    .collect()
            })
            .collect();
        RuleLabels { columns }
    }

    fn of(&self, rule: RuleRef) -> &[u8] {
        &self.columns[rule.group as usize][rule.rule as usize]
    }
}

fn write_verdict(labels: &RuleLabels, verdict: &Verdict, out: &mut Vec<u8>) {
    out.push(b',');
    out.extend_from_slice(verdict.action.as_str().as_bytes());
    out.push(b',');
    out.extend_from_slice(verdict.reason.as_str().as_bytes());
    match (verdict.reason, verdict.deciding_rule) {
        (Reason::Rule, Some(rule_ref)) => {
            out.push(b',');
            out.extend_from_slice(labels.of(rule_ref));
            out.push(b'\n');
        }
        _ => out.extend_from_slice(b",,\n"),
    }
}

/// Writes a CSV field, quoting it only when it needs quotes.
fn write_field(value: &str, out: &mut Vec<u8>) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}
