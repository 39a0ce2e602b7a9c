//! The bulk CSV contract of `sgsim eval` (`shared/spec/interface.md`), streaming.
//!
//! Input: the flows CSV of [`crate::flows`] (the header
//! `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port`, then one flow per record, RFC 4180
//! quoting). Output: the input columns followed by `verdict,reason,security_group_id,rule_id`,
//! rows in input order. A bad row stops nothing: it is reported with the line it starts on and
//! its output row gets the verdict `error`.
//!
//! The input is read in blocks of whole records; each block is evaluated across rayon's threads
//! and written out in order before the next is read, so memory stays flat however long the
//! input is.

use crate::flows::{
    check_header, ends_in_quotes, field_count_error, parse_quoted, read_record, record_ends,
    split_unquoted, trim_line_end, write_field, VerdictWriter,
};
pub use crate::flows::{FlowsError as BulkError, RowError, INPUT_HEADER, OUTPUT_COLUMNS};
use crate::model::{Flow, Target};
use crate::Engine;
use rayon::prelude::*;
use std::io::{self, BufRead, Write};

/// Bytes of input evaluated per block. Large enough to keep both cores busy, small enough that
/// memory stays at a few MiB.
const BLOCK_BYTES: usize = 4 << 20;
/// Lines per parallel task inside a block: small enough that the threads finish a block
/// together. PERF: with 8192 (~10 tasks a block) one thread often waited for the other's last
/// task; 2048 kept 2 threads 1.76–1.82 busy instead of 1.65–1.78 (CPU time ÷ wall, 10M rows,
/// 6 alternating runs), wall 1.01–1.27 s against 1.09–1.56 s.
const LINES_PER_TASK: usize = 2048;

/// Counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalSummary {
    pub rows: u64,
    pub accepted: u64,
    pub dropped: u64,
    pub errors: u64,
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
    let header_lines = read_record(&mut input, &mut header)?;
    if header_lines == 0 {
        return Err(BulkError::Empty);
    }
    check_header(trim_line_end(&header))?;
    writeln!(output, "{INPUT_HEADER},{OUTPUT_COLUMNS}")?;
    let labels = VerdictWriter::new(engine);

    let mut summary = EvalSummary::default();
    let mut bytes_read = header.len() as u64;
    let mut block = Vec::with_capacity(BLOCK_BYTES + 4096);
    let mut next_block = Vec::with_capacity(BLOCK_BYTES + 4096);
    let mut eof = fill_block(&mut input, &mut block)?;
    let mut finished: Vec<TaskOutput> = Vec::new();
    // Output buffers of written blocks, reused for the next ones. PERF: fresh ~0.5 MB buffers
    // per task were new mappings every block, and their page faults cost ~7 % of the run.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut next_line: u64 = header_lines + 1;
    while !block.is_empty() {
        bytes_read += block.len() as u64;
        let records = split_records(&block, next_line);
        let lines = records.records;
        let first_line = next_line;
        next_line += records.lines;
        let starts = records.starts.as_deref();
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
                        let first = task * LINES_PER_TASK;
                        let line_of = |offset: usize| match starts {
                            Some(starts) => starts[first + offset],
                            None => first_line + (first + offset) as u64,
                        };
                        evaluate_lines(engine, &labels, chunk, &line_of, csv)
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

/// Reads whole records until the block holds at least [`BLOCK_BYTES`] or the input ends; true
/// at the end.
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
    // Finish the line the block ends in, then the record, if a quoted field spans lines.
    if block.last() != Some(&b'\n') && input.read_until(b'\n', block)? == 0 {
        return Ok(true);
    }
    while ends_in_quotes(block) {
        if input.read_until(b'\n', block)? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A block cut into records.
struct Records<'a> {
    /// Each record without its line end; a final empty line is not a record.
    records: Vec<&'a [u8]>,
    /// The line each record starts on, when a quoted field spans lines (else record `i` starts
    /// on the block's first line plus `i`).
    starts: Option<Vec<u64>>,
    /// Lines in the block.
    lines: u64,
}

/// Splits a block into records.
///
/// PERF: this runs on one thread before a block is spread across all of them; splitting with
/// `memchr` instead of a byte-by-byte `split` took it from 8 % of `sgsim eval`'s time to ~1 %.
/// Blocks without quotes (the usual case) take that path; see [`record_ends`].
fn split_records(block: &[u8], first_line: u64) -> Records<'_> {
    let mut records = Vec::with_capacity(block.len() / 48);
    let mut start = 0;
    let mut push_until = |end: usize| {
        records.push(trim_line_end(&block[start..end]));
        start = end + 1;
    };
    let quoted = memchr::memchr(b'"', block).is_some();
    let mut newlines = 0;
    if quoted {
        let ends = record_ends(block);
        ends.iter().for_each(|&end| push_until(end));
        newlines = memchr::memchr_iter(b'\n', block).count();
    } else {
        for end in memchr::memchr_iter(b'\n', block) {
            push_until(end);
            newlines += 1;
        }
    }
    if start < block.len() {
        records.push(trim_line_end(&block[start..]));
    }
    let lines = (newlines + usize::from(block.last().is_some_and(|&b| b != b'\n'))) as u64;
    // Every line end ends a record unless a quoted field holds one.
    let starts = (records.len() as u64 != lines).then(|| {
        let mut line = first_line;
        records
            .iter()
            .map(|record| {
                let at = line;
                line += 1 + memchr::memchr_iter(b'\n', record).count() as u64;
                at
            })
            .collect()
    });
    Records {
        records,
        starts,
        lines,
    }
}

struct TaskOutput {
    csv: Vec<u8>,
    errors: Vec<RowError>,
    summary: EvalSummary,
}

/// Evaluates `lines` (record `i` starts on line `line_of(i)` of the input) into `csv`, a buffer
/// to reuse.
fn evaluate_lines(
    engine: &Engine,
    labels: &VerdictWriter,
    lines: &[&[u8]],
    line_of: &dyn Fn(usize) -> u64,
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
                labels.write(&verdict, &mut out.csv);
            }
            Err(message) => {
                out.summary.errors += 1;
                out.errors.push(RowError {
                    line: line_of(offset),
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
                VerdictWriter::write_error(&mut out.csv);
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
    let fields = match split_unquoted(text) {
        Some(fields) => fields?,
        None => {
            quoted_fields = parse_quoted(text)?;
            if quoted_fields.len() != 7 {
                return Err(field_count_error(quoted_fields.len()));
            }
            std::array::from_fn(|i| quoted_fields[i].as_str())
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
