//! The bulk CSV contract of `sgsim eval` (`shared/spec/interface.md`), streaming.
//!
//! Input: the flows CSV of [`crate::input::flows`] (the header
//! `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port`, then one flow per record, RFC 4180
//! quoting). Output: the input columns followed by `verdict,reason,security_group_id,rule_id`,
//! rows in input order. A bad row stops nothing: it is reported with the line it starts on and
//! its output row gets the verdict `error`.
//!
//! The input is read in blocks of whole records; each block is evaluated across rayon's threads
//! and written out in order before the next is read, so memory stays flat however long the
//! input is.

use super::aligned::AlignedWrites;
use crate::input::flows::{
    check_header, ends_in_quotes, field_count_error, parse_quoted, read_record, record_ends,
    split_unquoted, trim_line_end, write_field, VerdictWriter,
};
pub use crate::input::flows::{FlowsError as BulkError, RowError, INPUT_HEADER, OUTPUT_COLUMNS};
use crate::model::{
    dotted_quad, parse_ip_bytes, parse_plain_ipv4, parse_protocol_number, proto, Direction, Flow,
    Target, Verdict,
};
use crate::{Engine, Query};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::io::{self, BufRead, Read, Write};
use std::net::IpAddr;
use std::ops::Range;

/// Bytes of input evaluated per block. Large enough to keep both cores busy, small enough that
/// memory stays at a few MiB. Tests take small blocks, so that their inputs cross blocks.
const BLOCK_BYTES: usize = if cfg!(test) { 300 } else { 4 << 20 };
/// Lines per parallel task inside a block: small enough that the threads finish a block
/// together. PERF: with 8192 (~10 tasks a block) one thread often waited for the other's last
/// task; 2048 kept 2 threads 1.76–1.82 busy instead of 1.65–1.78 (CPU time ÷ wall, 10M rows,
/// 6 alternating runs), wall 1.01–1.27 s against 1.09–1.56 s.
const LINES_PER_TASK: usize = 2048;
/// Bytes per parallel task in a block without quotes: about [`LINES_PER_TASK`] rows of ~50
/// bytes.
const TASK_BYTES: usize = 96 << 10;

/// Counts of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalSummary {
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows whose verdict is accept.
    pub accepted: u64,
    /// Rows whose verdict is drop.
    pub dropped: u64,
    /// Rows that could not be evaluated (their output row says `error`).
    pub errors: u64,
}

/// Callbacks of a bulk run: bad rows as they are found, and progress after each block.
pub trait EvalObserver {
    /// A row that could not be evaluated (also written as an `error` row).
    fn row_error(&mut self, _error: &RowError) {}
    /// `rows` rows and `bytes` bytes of input done so far.
    fn progress(&mut self, _rows: u64, _bytes: u64) {}
}

/// Ignores everything.
impl EvalObserver for () {}

/// Evaluates every flow of `input` and writes the output CSV to `output`.
pub fn eval_csv(
    engine: &Engine,
    mut input: impl BufRead + Send,
    output: impl Write + Send,
    observer: &mut dyn EvalObserver,
) -> Result<EvalSummary, BulkError> {
    let mut header = Vec::new();
    let header_lines = read_record(&mut input, &mut header)?;
    let source = ReadBlocks { input };
    eval_blocks(engine, (header, header_lines), source, output, observer)
}

/// [`eval_csv`] on an input held in memory whole, such as a file mapped into memory: its blocks
/// are evaluated where they lie, without the copy reading makes. `release(bytes)` says that
/// the bytes of `input` in that range will not be read again, each range following the last
/// (a mapping can let their pages go, so that memory stays flat however long the input is).
pub fn eval_csv_bytes(
    engine: &Engine,
    input: &[u8],
    release: impl FnMut(Range<usize>) + Send,
    output: impl Write + Send,
    observer: &mut dyn EvalObserver,
) -> Result<EvalSummary, BulkError> {
    let mut rest = input;
    let mut header = Vec::new();
    let header_lines = read_record(&mut rest, &mut header)?;
    let source = SliceBlocks {
        input,
        at: input.len() - rest.len(),
        handed_out: 0,
        released: 0,
        release,
    };
    eval_blocks(engine, (header, header_lines), source, output, observer)
}

/// A block of whole records, read into a buffer or borrowed from an input in memory.
enum Chunk<'m> {
    Read(Vec<u8>),
    Borrowed(&'m [u8]),
}

impl std::ops::Deref for Chunk<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Chunk::Read(block) => block,
            Chunk::Borrowed(block) => block,
        }
    }
}

/// A block and what [`fill_block`] found in it.
type NextBlock<'m> = (Chunk<'m>, Fill);

/// Where [`eval_blocks`] takes its blocks from.
trait BlockSource<'m>: Send {
    /// The next block of whole records ([`BLOCK_BYTES`] or more, unless the input ends; empty
    /// at its end), given the block before the last one, done with.
    fn next_block(&mut self, done: Chunk<'m>) -> io::Result<NextBlock<'m>>;
}

/// Blocks read from a reader into two buffers in turn.
struct ReadBlocks<R> {
    input: R,
}

impl<'m, R: BufRead + Send> BlockSource<'m> for ReadBlocks<R> {
    fn next_block(&mut self, done: Chunk<'m>) -> io::Result<NextBlock<'m>> {
        let mut block = match done {
            Chunk::Read(block) => block,
            Chunk::Borrowed(_) => Vec::new(),
        };
        block.clear();
        block.reserve(BLOCK_BYTES + 4096);
        let filled = fill_block(&mut self.input, &mut block)?;
        Ok((Chunk::Read(block), filled))
    }
}

/// Blocks cut from an input in memory.
struct SliceBlocks<'m, F> {
    input: &'m [u8],
    /// Where the next block starts.
    at: usize,
    /// Where the last block handed out starts: everything before it is done with.
    handed_out: usize,
    /// Where the bytes not yet released start.
    released: usize,
    release: F,
}

impl<'m, F: FnMut(Range<usize>) + Send> BlockSource<'m> for SliceBlocks<'m, F> {
    fn next_block(&mut self, _done: Chunk<'m>) -> io::Result<NextBlock<'m>> {
        (self.release)(self.released..self.handed_out);
        self.released = self.handed_out;
        let rest = &self.input[self.at..];
        // Whole lines of at least BLOCK_BYTES, then more lines while a quoted field spans the
        // last line end: the same blocks `fill_block` reads.
        let line_end_after = |from: usize| {
            rest.get(from..)
                .and_then(|tail| memchr::memchr(b'\n', tail))
                .map_or(rest.len(), |at| from + at + 1)
        };
        let mut end = line_end_after(BLOCK_BYTES.min(rest.len()).saturating_sub(1));
        let quoted = memchr::memchr(b'"', &rest[..end]).is_some();
        while quoted && end < rest.len() && ends_in_quotes(&rest[..end]) {
            end = line_end_after(end);
        }
        let block = &rest[..end];
        self.handed_out = self.at;
        self.at += end;
        let filled = Fill {
            eof: self.at == self.input.len(),
            quoted,
        };
        Ok((Chunk::Borrowed(block), filled))
    }
}

/// The loop of [`eval_csv`] and [`eval_csv_bytes`], after the header (its bytes and lines).
fn eval_blocks<'m>(
    engine: &Engine,
    (header, header_lines): (Vec<u8>, u64),
    mut source: impl BlockSource<'m>,
    output: impl Write + Send,
    observer: &mut dyn EvalObserver,
) -> Result<EvalSummary, BulkError> {
    if header_lines == 0 {
        return Err(BulkError::Empty);
    }
    check_header(trim_line_end(&header))?;
    // `output` may be unbuffered (`sgsim eval` writes the tasks' outputs as they are): their
    // bytes go out in whole pieces, the header with the first.
    let mut output = AlignedWrites::new(output);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let header_row = format!("{INPUT_HEADER},{OUTPUT_COLUMNS}\n");
    output.push(header_row.into_bytes(), &mut spare)?;
    let labels = VerdictWriter::new(engine);

    let mut summary = EvalSummary::default();
    let mut bytes_read = header.len() as u64;
    let (mut block, mut filled) = source.next_block(Chunk::Read(Vec::new()))?;
    let mut done = Chunk::Read(Vec::new());
    let mut finished: Vec<TaskOutput> = Vec::new();
    // `spare` holds the output buffers written, reused for the next blocks. PERF: fresh ~0.5 MB
    // buffers per task were new mappings every block, and their page faults cost ~7 % of the
    // run.
    let mut next_line: u64 = header_lines + 1;
    while !block.is_empty() {
        bytes_read += block.len() as u64;
        let first_line = next_line;
        // PERF: the I/O of the neighbouring blocks (writing the last one's output, reading the
        // next one) overlaps the evaluation of this one, so no core idles while one thread does
        // I/O (README, performance: `sgsim eval` on 10 million rows).
        let buffers = std::mem::take(&mut spare);
        let eof = filled.eof;
        let done_with = std::mem::replace(&mut done, Chunk::Read(Vec::new()));
        let (io, (results, lines)) = rayon::join(
            || -> io::Result<(NextBlock<'m>, Vec<Vec<u8>>)> {
                let mut written = Vec::with_capacity(finished.len());
                for result in finished.drain(..) {
                    output.push(result.csv, &mut written)?;
                }
                let next = if eof {
                    let end = Fill {
                        eof: true,
                        quoted: false,
                    };
                    (Chunk::Read(Vec::new()), end)
                } else {
                    source.next_block(done_with)?
                };
                Ok((next, written))
            },
            || {
                let job = BlockJob {
                    engine,
                    labels: &labels,
                    block: &block,
                    first_line,
                };
                if filled.quoted {
                    evaluate_quoted_block(&job, buffers)
                } else {
                    evaluate_plain_block(&job, buffers)
                }
            },
        );
        let ((next, next_filled), written) = io?;
        done = std::mem::replace(&mut block, next);
        filled = next_filled;
        spare = written;
        next_line += lines;
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
    }
    for result in finished {
        output.push(result.csv, &mut spare)?;
    }
    output.finish(&mut spare)?;
    Ok(summary)
}

/// What [`fill_block`] read.
struct Fill {
    /// The input ended.
    eof: bool,
    /// The block holds a `"`: its records may span lines, so it takes the quote-aware path.
    quoted: bool,
}

/// Reads whole records until the block holds at least [`BLOCK_BYTES`] or the input ends.
///
/// PERF: the block is scanned for quotes once (a second scan, to see whether a quoted field
/// spans its last line end, was ~3 % of `sgsim eval`'s CPU time on 10 M rows without quotes).
fn fill_block(input: &mut impl BufRead, block: &mut Vec<u8>) -> io::Result<Fill> {
    let mut eof = fill_lines(input, block)?;
    let quoted = memchr::memchr(b'"', block).is_some();
    // Finish the record, if a quoted field spans the block's last line end.
    while quoted && !eof && ends_in_quotes(block) {
        eof = input.read_until(b'\n', block)? == 0;
    }
    Ok(Fill { eof, quoted })
}

/// [`fill_block`]'s reading of whole lines; true at the end of the input.
fn fill_lines(input: &mut impl BufRead, block: &mut Vec<u8>) -> io::Result<bool> {
    if block.len() < BLOCK_BYTES {
        // PERF: `read_to_end` reads into the block's spare room without zeroing it, and a
        // BufReader whose buffer is empty hands such large reads straight to the file, where
        // copying out of its buffer cost one more pass over the input.
        let want = (BLOCK_BYTES - block.len()) as u64;
        if (input.by_ref().take(want).read_to_end(block)? as u64) < want {
            return Ok(true);
        }
    }
    // Finish the line the block ends in.
    Ok(block.last() != Some(&b'\n') && input.read_until(b'\n', block)? == 0)
}

/// One block of the input to evaluate, and what it is evaluated with.
struct BlockJob<'a> {
    engine: &'a Engine,
    labels: &'a VerdictWriter,
    block: &'a [u8],
    /// The line the block starts on, for messages.
    first_line: u64,
}

/// Evaluates a block without quotes, where every line is one record, in spans of whole lines
/// across rayon's threads; returns the outputs in order and the block's line count.
///
/// PERF: no list of records is made first (splitting 10 M rows into one took ~5 % of the run,
/// on one thread before the block is spread): each task finds its own line ends as it parses.
fn evaluate_plain_block(job: &BlockJob, mut buffers: Vec<Vec<u8>>) -> (Vec<TaskOutput>, u64) {
    let (engine, labels) = (job.engine, job.labels);
    let (block, first_line) = (job.block, job.first_line);
    let mut spans = Vec::with_capacity(block.len() / TASK_BYTES + 1);
    let mut start = 0;
    while start < block.len() {
        let end = match block.get(start + TASK_BYTES..) {
            Some(rest) => {
                memchr::memchr(b'\n', rest).map_or(block.len(), |at| start + TASK_BYTES + at + 1)
            }
            None => block.len(),
        };
        spans.push(&block[start..end]);
        start = end;
    }
    buffers.resize_with(spans.len(), Vec::new);
    let mut results: Vec<TaskOutput> = spans
        .into_par_iter()
        .zip(buffers.into_par_iter())
        .map(|(span, csv)| evaluate_span(engine, labels, span, csv))
        .collect();
    // Each task numbered its bad rows from 0; without quotes, row n of the block is on line
    // first_line + n.
    let mut line = first_line;
    for result in &mut results {
        for error in &mut result.errors {
            error.line += line;
        }
        line += result.summary.rows;
    }
    (results, line - first_line)
}

/// Evaluates a block with quotes: cut into records first (a quoted field may hold a line end),
/// then evaluated across rayon's threads; returns the outputs in order and the block's line
/// count.
fn evaluate_quoted_block(job: &BlockJob, mut buffers: Vec<Vec<u8>>) -> (Vec<TaskOutput>, u64) {
    let (engine, labels) = (job.engine, job.labels);
    let (block, first_line) = (job.block, job.first_line);
    let records = split_records(block, first_line);
    let starts = records.starts.as_deref();
    buffers.resize_with(records.records.len().div_ceil(LINES_PER_TASK), Vec::new);
    let results = records
        .records
        .par_chunks(LINES_PER_TASK)
        .zip(buffers.into_par_iter())
        .enumerate()
        .map(|(task, (chunk, csv))| {
            let first = task * LINES_PER_TASK;
            let line_of = |offset: usize| match starts {
                Some(starts) => starts[first + offset],
                None => first_line + (first + offset) as u64,
            };
            evaluate_lines(engine, labels, chunk, &line_of, csv)
        })
        .collect();
    (results, records.lines)
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
        evaluate_row(
            engine,
            labels,
            line,
            line_of(offset),
            &mut last_target,
            &mut out,
        );
    }
    out
}

/// Evaluates the lines of `span` (whole lines of a block without quotes) into `csv`, a buffer
/// to reuse; bad rows are numbered from 0, the span's first line.
///
/// Each row first takes [`fast_row`], which parses it in one pass without allocating and
/// gives up (`None`) on anything unusual; such a row, and one whose NIC id does not resolve,
/// takes the general path of [`evaluate_row`], so the output and messages are the same. The
/// rows the fast path read are decided together ([`Engine::check_batch`], the engine's best
/// kernel; `docs/engine.md` found no gain from it over `check` per row on these files, and this
/// change was not measured apart from the others), then written out in order with the others.
fn evaluate_span(
    engine: &Engine,
    labels: &VerdictWriter,
    span: &[u8],
    mut csv: Vec<u8>,
) -> TaskOutput {
    csv.clear();
    csv.reserve(span.len() * 2);
    let mut out = TaskOutput {
        csv,
        errors: Vec::new(),
        summary: EvalSummary::default(),
    };
    // Taken out (not borrowed) for the task: a compile inside `check_batch` may run another
    // task on this thread, which then starts with empty lists of its own.
    let mut scratch = SCRATCH.take();
    let Scratch {
        rows,
        queries,
        verdicts,
    } = &mut scratch;
    rows.clear();
    queries.clear();
    let mut targets = Targets::default();
    let mut at = 0;
    while at < span.len() {
        let rest = &span[at..];
        if let Some(row) = fast_row(rest) {
            if let Some(target) = targets.resolve(engine, row.nic) {
                rows.push(Row {
                    start: at,
                    len: row.len,
                    fast: true,
                });
                queries.push(Query {
                    target,
                    flow: row.flow(),
                });
                at += row.next;
                continue;
            }
        }
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        rows.push(Row {
            start: at,
            len: trim_line_end(&rest[..end]).len(),
            fast: false,
        });
        at += end + 1;
    }
    engine.check_batch_into(queries, verdicts);

    let mut decided = verdicts.iter();
    let mut last_target: Option<(Vec<u8>, Target)> = None;
    for (index, row) in rows.iter().enumerate() {
        let line = &span[row.start..row.start + row.len];
        // Only the fast rows were decided, in order.
        match row.fast.then(|| decided.next()).flatten() {
            Some(verdict) => {
                out.summary.rows += 1;
                out.csv.extend_from_slice(line);
                if verdict.is_accept() {
                    out.summary.accepted += 1;
                } else {
                    out.summary.dropped += 1;
                }
                labels.write(verdict, &mut out.csv);
            }
            _ => evaluate_row(
                engine,
                labels,
                line,
                index as u64,
                &mut last_target,
                &mut out,
            ),
        }
    }
    SCRATCH.set(scratch);
    out
}

/// One row of a span: where it is, and whether the fast path read it.
struct Row {
    start: usize,
    /// Without its line end.
    len: usize,
    fast: bool,
}

/// A task's lists, kept per thread so that each task does not allocate them anew.
#[derive(Default)]
struct Scratch {
    rows: Vec<Row>,
    queries: Vec<Query>,
    verdicts: Vec<Verdict>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Evaluates one record (without its line end) on the general path, as every row was before
/// [`fast_row`].
fn evaluate_row(
    engine: &Engine,
    labels: &VerdictWriter,
    line: &[u8],
    line_number: u64,
    last_target: &mut Option<(Vec<u8>, Target)>,
    out: &mut TaskOutput,
) {
    out.summary.rows += 1;
    let row_start = out.csv.len();
    out.csv.extend_from_slice(line);
    match parse_row(engine, line, last_target) {
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
                line: line_number,
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

/// The NIC ids one task has resolved, keyed by their bytes in the block: no `String` per row.
#[derive(Default)]
struct Targets<'b> {
    /// Rows usually repeat a few NIC ids: the last one is compared first.
    last: Option<(IdBytes<'b>, Target)>,
    seen: FxHashMap<IdBytes<'b>, Target>,
}

impl<'b> Targets<'b> {
    /// The target `id` names; `None` when it names none (the general path then says why).
    #[inline]
    fn resolve(&mut self, engine: &Engine, id: &'b [u8]) -> Option<Target> {
        let id = IdBytes(id);
        if let Some((last, target)) = self.last {
            if last == id {
                return Some(target);
            }
        }
        let target = match self.seen.get(&id) {
            Some(&target) => target,
            None => {
                let target = engine.target(std::str::from_utf8(id.0).ok()?).ok()?;
                self.seen.insert(id, target);
                target
            }
        };
        self.last = Some((id, target));
        Some(target)
    }
}

/// A NIC id's bytes, compared eight at a time.
///
/// PERF: comparing slices calls `memcmp`, whose call and set-up cost more than comparing the
/// 8–24 bytes of an id; it was a tenth of the Python package's row loop (ids changing on
/// most rows).
#[derive(Clone, Copy, Eq)]
struct IdBytes<'b>(&'b [u8]);

impl std::hash::Hash for IdBytes<'_> {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for IdBytes<'_> {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        if a.len() != b.len() {
            return false;
        }
        if a.len() < 8 {
            return a.iter().zip(b).all(|(x, y)| x == y);
        }
        let word = |bytes: &[u8], at: usize| {
            u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
        };
        // Whole words from the start, then the last eight bytes (which may overlap).
        let last = a.len() - 8;
        let mut at = 0;
        while at < last {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        word(a, last) == word(b, last)
    }
}

/// The field at `rest[at..]` when it is one of the `common` spellings (each with its comma),
/// else read by `parse`, and where the next field starts.
#[inline(always)]
fn common_or_parsed<T: Copy>(
    rest: &[u8],
    at: usize,
    common: &[(&[u8], T)],
    parse: impl FnOnce(&str) -> Option<T>,
) -> Option<(T, usize)> {
    for &(spelling, value) in common {
        if rest[at..].starts_with(spelling) {
            return Some((value, at + spelling.len()));
        }
    }
    let (text, next) = text_field(rest, at)?;
    Some((parse(text)?, next))
}

/// A row [`fast_row`] read.
#[derive(Debug, PartialEq, Eq)]
///
/// PERF: its addresses are plain numbers until [`FastRow::flow`] makes them `IpAddr`s where the
/// flow is stored. An `IpAddr` made here was stored in parts (a tag, then 4 bytes of an IPv4
/// address) and copied whole right after, a load the CPU cannot forward from its store buffer:
/// ~8 % of `sgsim eval`'s time stalled on those copies (`perf annotate`).
struct FastRow<'a> {
    /// The `nic_id` field's bytes.
    nic: &'a [u8],
    direction: Direction,
    protocol: u8,
    src: (Address, u16),
    dst: (Address, u16),
    /// The record's length without its line end.
    len: usize,
    /// Where the next record starts.
    next: usize,
}

/// An address as a number; both of a flow are of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Address {
    bits: u128,
    v4: bool,
}

impl Address {
    #[inline(always)]
    fn ip(self) -> IpAddr {
        if self.v4 {
            IpAddr::V4((self.bits as u32).into())
        } else {
            IpAddr::V6(self.bits.into())
        }
    }
}

impl FastRow<'_> {
    #[inline(always)]
    fn flow(&self) -> Flow {
        Flow::new(
            self.direction,
            self.protocol,
            (self.src.0.ip(), self.src.1),
            (self.dst.0.ip(), self.dst.1),
        )
    }
}

/// Reads the record at the start of `rest` (part of a block without quotes) in one pass: the
/// fields in order, the usual spellings (`ingress`, `tcp`, dotted quads, plain port numbers)
/// matched directly and the others handed to the general parsers, up to the line end. `None`
/// for anything it does not read exactly as [`parse_row`] does — a quote, a field too many or
/// too few, a value the general parser may accept or must refuse — which the general path
/// then reads; `Some` only where [`parse_row`] gives the same flow (the unit tests and
/// `tests/engine/bulk_rows.rs` check both against each other and the reference evaluator).
///
/// PERF: splitting a row into fields, checking it is UTF-8 and parsing each field apart cost
/// ~4× the classifier; one pass over the bytes is a fraction of it.
#[inline]
fn fast_row(rest: &[u8]) -> Option<FastRow<'_>> {
    let nic_end = field_end(rest, 0)?;
    if rest[nic_end] != b',' {
        return None;
    }
    let (direction, at) = common_or_parsed(
        rest,
        nic_end + 1,
        &[
            (b"ingress,", Direction::Ingress),
            (b"egress,", Direction::Egress),
        ],
        Direction::parse,
    )?;
    let (protocol, at) = common_or_parsed(
        rest,
        at,
        &[
            (b"tcp,", proto::TCP),
            (b"udp,", proto::UDP),
            (b"icmp,", proto::ICMP),
        ],
        parse_protocol_number,
    )?;
    let (src, next) = ip_field(rest, at)?;
    let (src_port, _, end) = port_digits(rest, next)?;
    if rest.get(end) != Some(&b',') {
        return None;
    }
    let (dst, next) = ip_field(rest, end + 1)?;
    if src.v4 != dst.v4 {
        return None;
    }
    let (dst_port, digits, end) = port_digits(rest, next)?;
    if digits == 0 && matches!(protocol, proto::TCP | proto::UDP) {
        return None;
    }
    let next = match rest.get(end) {
        None => end,
        Some(b'\n') => end + 1,
        Some(b'\r') if rest.get(end + 1) == Some(&b'\n') => end + 2,
        Some(_) => return None,
    };
    Some(FastRow {
        nic: &rest[..nic_end],
        direction,
        protocol,
        src: (src, src_port),
        dst: (dst, dst_port),
        len: end,
        next,
    })
}

/// The field at `at` as text and where the next one starts; `None` when it is the last field
/// or holds a quote or a line end.
#[inline]
fn text_field(rest: &[u8], at: usize) -> Option<(&str, usize)> {
    let end = field_end(rest, at)?;
    if rest[end] != b',' {
        return None;
    }
    Some((std::str::from_utf8(&rest[at..end]).ok()?, end + 1))
}

/// Where the first `,`, `"` or line feed at or after `at` is, if any.
///
/// PERF: eight bytes at a time ([`bytes_equal_to`]). A byte at a time, the NIC id's end took
/// ~75 instructions a row of `sgsim eval` and the two ports ~95 (see [`short_number`]); eight
/// bytes at a time, the two together ~40 fewer (callgrind; not timed apart from the small
/// classifier, `docs/perf/2026-12-07-s31/`).
#[inline(always)]
fn field_end(rest: &[u8], mut at: usize) -> Option<usize> {
    while let Some(chunk) = rest.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let ends =
            bytes_equal_to(word, b',') | bytes_equal_to(word, b'"') | bytes_equal_to(word, b'\n');
        if ends != 0 {
            return Some(at + (ends.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = rest.get(at..)?;
    let end = tail
        .iter()
        .position(|&b| matches!(b, b',' | b'"' | b'\n'))?;
    Some(at + end)
}

/// Eight bytes at once (SWAR): the high bit of each byte of `word` that equals `byte`, and no
/// other bit.
#[inline(always)]
fn bytes_equal_to(word: u64, byte: u8) -> u64 {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero_where_equal = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    // A byte's high bit ends up set exactly when the byte is non-zero; no carry crosses bytes.
    !(((zero_where_equal & LOW_SEVEN) + LOW_SEVEN) | zero_where_equal | LOW_SEVEN)
}

/// The address field at `at` (followed by a comma) and where the next field starts. A plain
/// dotted quad is read in the same pass; anything else goes to [`parse_ip_bytes`], as in
/// [`Flow::parse`].
///
/// PERF: inlined, so that a dotted quad stays in registers (see [`FastRow`]).
#[inline(always)]
fn ip_field(rest: &[u8], at: usize) -> Option<(Address, usize)> {
    if let Some((v4, end)) = dotted_quad(rest, at) {
        if rest.get(end) == Some(&b',') {
            let bits = u32::from(v4).into();
            return Some((Address { bits, v4: true }, end + 1));
        }
    }
    parsed_ip_field(rest, at)
}

/// [`ip_field`] for addresses other than a plain dotted quad.
#[inline(never)]
fn parsed_ip_field(rest: &[u8], at: usize) -> Option<(Address, usize)> {
    let end = field_end(rest, at)?;
    if rest[end] != b',' {
        return None;
    }
    let address = match parse_ip_bytes(&rest[at..end])? {
        IpAddr::V4(v4) => Address {
            bits: u32::from(v4).into(),
            v4: true,
        },
        IpAddr::V6(v6) => Address {
            bits: v6.into(),
            v4: false,
        },
    };
    Some((address, end + 1))
}

/// The decimal digits at `at` as a port: its value (0 for none), how many digits and where
/// they end; `None` above 65535.
#[inline]
fn port_digits(rest: &[u8], mut at: usize) -> Option<(u16, usize, usize)> {
    if let Some(chunk) = rest.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if let Some((value, digits)) = short_number(word) {
            return u16::try_from(value)
                .ok()
                .map(|port| (port, digits, at + digits));
        }
    }
    let start = at;
    let mut value = 0u32;
    while let Some(&byte) = rest.get(at) {
        if !byte.is_ascii_digit() {
            break;
        }
        value = value * 10 + u32::from(byte - b'0');
        if value > u32::from(u16::MAX) {
            return None;
        }
        at += 1;
    }
    Some((value as u16, at - start, at))
}

/// The number the decimal digits at the start of `word` (eight bytes, the first in the low
/// byte) spell, and how many digits there are, when there are at most five; `None` for more.
///
/// PERF: eight bytes at once (SWAR, as in Lemire's "parse eight digits"; see [`field_end`]).
#[inline(always)]
fn short_number(word: u64) -> Option<(u32, usize)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // A byte is a digit when its high nibble is 3 and its low nibble plus 6 stays below 16.
    let high_nibble_3 = bytes_equal_to(word & (0xf0 * ONES), 0x30);
    let low_below_10 = !((word & (0x0f * ONES)) + 0x06 * ONES) & (0x10 * ONES);
    let digit_bits = high_nibble_3 & (low_below_10 << 3);
    // The digits are the bytes before the first byte that is not one.
    let digits = ((!digit_bits & (0x80 * ONES)).trailing_zeros() / 8) as usize;
    if digits > 5 {
        return None;
    }
    if digits == 0 {
        return Some((0, 0));
    }
    // The digits' values, shifted to the top bytes: an eight-digit number with leading zeros.
    let values = (word.wrapping_sub(0x30 * ONES)) << (8 * (8 - digits));
    let pairs = values.wrapping_mul(10).wrapping_add(values >> 8);
    let quads = ((pairs & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32))
        + ((pairs >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some((quads as u32, digits))
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

/// Reads rows that come already split into their seven fields (the Python package's Arrow
/// columns) as `sgsim eval` reads a CSV row: the same targets and flows, and for a row it
/// cannot evaluate the same message. The usual spellings are read in one pass over each field,
/// with the short paths of the CSV reader, and NIC ids are resolved once per reader; anything
/// else goes to the general parser.
pub struct FieldReader<'e, 'b> {
    engine: &'e Engine,
    /// Keyed by the fields' bytes, which outlive the reader: no `String` per row.
    targets: Targets<'b>,
    last_target: Option<(Vec<u8>, Target)>,
}

impl<'e, 'b> FieldReader<'e, 'b> {
    /// A reader of rows for `engine`'s snapshot.
    pub fn new(engine: &'e Engine) -> FieldReader<'e, 'b> {
        FieldReader {
            engine,
            targets: Targets::default(),
            last_target: None,
        }
    }

    /// The target and flow of one row given as its seven fields, in the order of
    /// [`INPUT_HEADER`] (an empty field where the CSV has one); the error is the message
    /// `sgsim eval` reports for the row.
    pub fn read(&mut self, fields: [&'b str; 7]) -> Result<(Target, Flow), String> {
        match self.read_usual(fields) {
            Some(read) => Ok(read),
            None => parse_fields(self.engine, fields, &mut self.last_target),
        }
    }

    /// [`FieldReader::read`], the row's query pushed onto `queries`.
    ///
    /// PERF: each path pushes its own query. When both paths' answers met in one value, that
    /// value went through memory, and copying it into `queries` stalled on the narrower stores
    /// that wrote it (a quarter of the row loop's time).
    #[inline]
    pub fn read_into(
        &mut self,
        fields: [&'b str; 7],
        queries: &mut Vec<Query>,
    ) -> Result<(), String> {
        if let Some((target, flow)) = self.read_usual(fields) {
            queries.push(Query { target, flow });
            return Ok(());
        }
        let (target, flow) = parse_fields(self.engine, fields, &mut self.last_target)?;
        queries.push(Query { target, flow });
        Ok(())
    }

    /// The row when every field is in a spelling the short paths read exactly as
    /// [`Flow::parse`] does (addresses: dotted quads); `None` sends the row to the general
    /// parser, which has the last word (and the error message).
    #[inline(always)]
    fn read_usual(&mut self, fields: [&'b str; 7]) -> Option<(Target, Flow)> {
        let [nic, direction, protocol, src_ip, src_port, dst_ip, dst_port] = fields;
        let direction = match direction.as_bytes() {
            b"ingress" => Direction::Ingress,
            b"egress" => Direction::Egress,
            _ => Direction::parse(direction)?,
        };
        let protocol = match protocol.as_bytes() {
            b"tcp" => proto::TCP,
            b"udp" => proto::UDP,
            b"icmp" => proto::ICMP,
            _ => parse_protocol_number(protocol)?,
        };
        // PERF: other addresses (IPv6, or text the standard parser must judge) go to the
        // general path: an `IpAddr` from either of two parsers came back through memory and
        // stalled the loads that followed.
        let src = parse_plain_ipv4(src_ip.as_bytes())?;
        let dst = parse_plain_ipv4(dst_ip.as_bytes())?;
        let src_port = port_text(src_port)?;
        if dst_port.is_empty() && matches!(protocol, proto::TCP | proto::UDP) {
            return None;
        }
        let dst_port = port_text(dst_port)?;
        let target = self.targets.resolve(self.engine, nic.as_bytes())?;
        Some((
            target,
            Flow::new(
                direction,
                protocol,
                (IpAddr::V4(src), src_port),
                (IpAddr::V4(dst), dst_port),
            ),
        ))
    }
}

/// A port field of digits only (empty is 0, as in [`Flow::parse`]); `None` for anything else.
#[inline]
fn port_text(text: &str) -> Option<u16> {
    let (port, _, end) = port_digits(text.as_bytes(), 0)?;
    (end == text.len()).then_some(port)
}

/// The target and flow of one row given as its seven fields (see [`FieldReader::read`]).
/// `last_target` remembers the last NIC id resolved: rows usually repeat a few.
fn parse_fields(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    // Field values for the random row tests: the usual spelling first, then spellings the
    // general parser accepts or refuses.
    const DIRECTIONS: [&str; 6] = ["ingress", "egress", "INGRESS", "Egress", "in", ""];
    const PROTOCOLS: [&str; 13] = [
        "tcp", "udp", "icmp", "TCP", "Udp", "6", "17", "006", "256", "gre", "icmpv6", "all", "",
    ];
    const IPS: [&str; 15] = [
        "10.0.0.1",
        "1.2.3.4",
        "255.255.255.255",
        "0.0.0.0",
        "01.2.3.4",
        "256.0.0.1",
        "::1",
        "2001:db8::1",
        "::ffff:1.2.3.4",
        "1.2.3",
        "",
        " 1.2.3.4",
        "1.2.3.4.5",
        "1.2.3.4,",
        "fe80::1%eth0",
    ];
    const PORTS: [&str; 12] = [
        "80", "0", "", "65535", "65536", "+80", "0080", "99999999", "-1", "8 0", "00000", "1",
    ];

    /// The byte-at-a-time forms [`port_digits`] and [`field_end`] had before they read eight
    /// bytes at once.
    fn port_digits_bytewise(rest: &[u8], at: usize) -> Option<(u16, usize, usize)> {
        let digits = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut value = 0u32;
        for &byte in &rest[at..at + digits] {
            value = value * 10 + u32::from(byte - b'0');
            if value > u32::from(u16::MAX) {
                return None;
            }
        }
        Some((value as u16, digits, at + digits))
    }

    fn field_end_bytewise(rest: &[u8], at: usize) -> Option<usize> {
        let end = rest[at..]
            .iter()
            .position(|&b| matches!(b, b',' | b'"' | b'\n'))?;
        Some(at + end)
    }

    #[test]
    fn eight_bytes_at_once_read_ports_and_field_ends_as_a_byte_at_a_time() {
        let mut rng = Rng::new(21);
        // Bytes around the digits and the ends, including their neighbours in ASCII and the
        // high bit set.
        let alphabet = b"0123456789,\"\n/:;+- .ab\x80\xb0\xb9\xff\x00";
        for port in (0..100_000u32).step_by(7).chain([65535, 65536, 99999, 0]) {
            for text in [
                format!("{port}"),
                format!("{port:05}"),
                format!("{port:08}"),
            ] {
                for tail in [&b",1"[..], b"\n", b"", b"x,,,,,,,,", b"\x8a1234567"] {
                    let mut row = text.clone().into_bytes();
                    row.extend_from_slice(tail);
                    assert_eq!(
                        port_digits(&row, 0),
                        port_digits_bytewise(&row, 0),
                        "{:?}",
                        String::from_utf8_lossy(&row)
                    );
                }
            }
        }
        for _ in 0..200_000 {
            let len = rng.below(24) as usize;
            let row: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let at = rng.below(len as u64 + 1) as usize;
            assert_eq!(
                port_digits(&row, at),
                port_digits_bytewise(&row, at),
                "{row:?} at {at}"
            );
            assert_eq!(
                field_end(&row, at),
                field_end_bytewise(&row, at),
                "{row:?} at {at}"
            );
        }
    }

    /// Half the time a field's usual spelling (the first of its list), so that many rows are
    /// whole usual rows and the fast paths' answers are checked, not only their refusals.
    fn pick(rng: &mut Rng, items: &[&'static str]) -> &'static str {
        if rng.chance(0.5) {
            items[0]
        } else {
            items[rng.below(items.len() as u64) as usize]
        }
    }

    /// A row's seven fields drawn with [`pick`], the NIC id from `nics`.
    fn random_fields(rng: &mut Rng, nics: &[&'static str]) -> [&'static str; 7] {
        let lists: [&[&'static str]; 7] =
            [nics, &DIRECTIONS, &PROTOCOLS, &IPS, &PORTS, &IPS, &PORTS];
        lists.map(|items| pick(rng, items))
    }

    /// Checks `fast_row` on `record` (with its line end) against the general parser; true when
    /// the fast path took it.
    fn agrees(record: &[u8]) -> bool {
        let Some(row) = fast_row(record) else {
            return false;
        };
        let line = trim_line_end(&record[..row.next]);
        assert_eq!(
            &record[..row.len],
            line,
            "{:?}",
            String::from_utf8_lossy(record)
        );
        assert!(
            row.next == record.len() || record[row.next - 1] == b'\n',
            "{:?}",
            String::from_utf8_lossy(record)
        );
        let (nic, flow) = crate::input::flows::parse_row(line).unwrap_or_else(|err| {
            panic!(
                "the fast path read {:?}, the general one refuses it: {err}",
                String::from_utf8_lossy(record)
            )
        });
        assert_eq!((nic.as_bytes(), flow), (row.nic, row.flow()));
        true
    }

    #[test]
    fn the_fast_path_reads_usual_rows_as_the_general_parser_does() {
        let rows: [&[u8]; 9] = [
            b"eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n",
            b"eni-web1,egress,udp,10.0.1.10,40000,8.8.8.8,53\r\n",
            b"eni-web1,ingress,icmp,10.9.9.9,,10.0.1.10,",
            b"eni-web1,ingress,tcp,2001:db8::1,40000,2408:4000:1:100::10,443\n",
            b"eni-web1,INGRESS,TCP,0.0.0.0,0,255.255.255.255,65535\n",
            b"sg-1,Egress,6,1.2.3.4,00080,5.6.7.8,0000443\n",
            b"x,ingress,gre,1.2.3.4,,5.6.7.8,\n",
            b",ingress,47,1.2.3.4,1,5.6.7.8,2\nnext,row",
            b"eni-\xc3\xa9,ingress,icmpv6,::1,,::2,\n",
        ];
        for row in rows {
            assert!(agrees(row), "{:?}", String::from_utf8_lossy(row));
        }
    }

    #[test]
    fn the_fast_path_leaves_unusual_rows_to_the_general_path() {
        let rows: [&[u8]; 16] = [
            b"\"eni-web1\",ingress,tcp,1.2.3.4,1,5.6.7.8,2\n",
            b"eni\"x,ingress,tcp,1.2.3.4,1,5.6.7.8,2\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,2,\n",
            b"eni,ingress,tcp,1.2.3.4,+1,5.6.7.8,2\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,65536\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,\n",
            b"eni,ingress,tcp,1.2.3.4,1,::1,2\n",
            b"eni,ingress,tcp,01.2.3.4,1,5.6.7.8,2\n",
            b"eni,ingress,tcp,1.2.3.4 ,1,5.6.7.8,2\n",
            b"eni,sideways,tcp,1.2.3.4,1,5.6.7.8,2\n",
            b"eni,ingress,all,1.2.3.4,1,5.6.7.8,2\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,2\r\r\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,2 \n",
            b"\n",
            b"eni,ingress,tcp,1.2.3.4,1,5.6.7.8,\xff\n",
        ];
        for row in rows {
            assert_eq!(fast_row(row), None, "{:?}", String::from_utf8_lossy(row));
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_parser_on_random_rows() {
        const NICS: [&str; 5] = ["eni-1", "", "eni-é", "e\"x", "a b"];
        const ENDS: [&str; 5] = ["\n", "\r\n", "", "\r", "\n\n"];
        let mut rng = Rng::new(21);
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut fields = random_fields(&mut rng, &NICS).to_vec();
            let (shape, end) = (rng.below(20), *rng.pick(&ENDS));
            match shape {
                0 => {
                    fields.pop();
                }
                1 => fields.push("extra"),
                _ => {}
            }
            let record = fields.join(",") + end;
            taken += usize::from(agrees(record.as_bytes()));
        }
        // Not vacuous: the usual spellings take the fast path.
        assert!(taken > 10_000, "{taken}");
    }

    /// Errors and progress reports, kept.
    #[derive(Default)]
    struct Seen {
        errors: Vec<(u64, String)>,
        progress: Vec<(u64, u64)>,
    }

    impl EvalObserver for Seen {
        fn row_error(&mut self, error: &RowError) {
            self.errors.push((error.line, error.message.clone()));
        }
        fn progress(&mut self, rows: u64, bytes: u64) {
            self.progress.push((rows, bytes));
        }
    }

    /// A reader that gives at most 7 bytes a read, so that reads end anywhere in a record.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_input_in_memory_is_evaluated_as_the_same_input_read() {
        let engine = Engine::new(
            crate::Snapshot::from_json_str(include_str!("../../examples/vpc-web.json")).unwrap(),
        );
        const NICS: [&str; 5] = [
            "eni-web1",
            "eni-db1",
            "\"eni-web2\"",
            "\"eni\nweb1\"",
            "eni-x",
        ];
        const ENDS: [&str; 3] = ["\n", "\r\n", "\n\n"];
        let mut rng = Rng::new(47);
        let mut quoted_blocks = 0;
        for case in 0..60 {
            let mut input = String::from(INPUT_HEADER);
            input.push('\n');
            for _ in 0..rng.below(200) {
                input += &random_fields(&mut rng, &NICS).join(",");
                input += *rng.pick(&ENDS);
            }
            if rng.chance(0.3) {
                input += "eni-web1,ingress,tcp,1.2.3.4,1,10.0.1.10,22"; // no line end
            }
            let bytes = input.as_bytes();
            let (mut read_out, mut read_seen) = (Vec::new(), Seen::default());
            let read = eval_csv(
                &engine,
                io::BufReader::with_capacity(16, Trickle(bytes)),
                &mut read_out,
                &mut read_seen,
            )
            .unwrap();
            let (mut mapped_out, mut mapped_seen) = (Vec::new(), Seen::default());
            let mut released = Vec::new();
            let release = |bytes: Range<usize>| released.push(bytes.end);
            let mapped =
                eval_csv_bytes(&engine, bytes, release, &mut mapped_out, &mut mapped_seen).unwrap();
            assert_eq!(read, mapped, "case {case}");
            assert_eq!(
                String::from_utf8_lossy(&read_out),
                String::from_utf8_lossy(&mapped_out),
                "case {case}"
            );
            assert_eq!(read_seen.errors, mapped_seen.errors, "case {case}");
            assert_eq!(read_seen.progress, mapped_seen.progress, "case {case}");
            // What is released ends where a block starts (after a line end), in order, never at
            // the input's end (its last block is evaluated after the last release); and memory
            // stays flat.
            assert!(released.windows(2).all(|w| w[0] <= w[1]), "{released:?}");
            assert!(
                released
                    .iter()
                    .all(|&r| r == 0 || (r < bytes.len() && bytes[r - 1] == b'\n')),
                "{released:?}"
            );
            if bytes.len() > 4 * BLOCK_BYTES {
                assert!(released.last() > Some(&BLOCK_BYTES), "{released:?}");
            }
            quoted_blocks += usize::from(input.contains("\"eni\nweb1\""));
        }
        assert!(quoted_blocks > 10, "{quoted_blocks}");
    }

    #[test]
    fn id_bytes_are_equal_exactly_when_the_slices_are() {
        let mut rng = Rng::new(31);
        let mut equal = 0;
        for _ in 0..100_000 {
            let len = rng.below(30) as usize;
            let a: Vec<u8> = (0..len).map(|_| *rng.pick(b"ab")).collect();
            let mut b = a.clone();
            match rng.below(4) {
                0 => b.push(b'a'),
                1 if len > 0 => {
                    let at = rng.below(len as u64) as usize;
                    b[at] = if b[at] == b'a' { b'b' } else { b'a' };
                }
                _ => {}
            }
            assert_eq!(IdBytes(&a) == IdBytes(&b), a == b, "{a:?} {b:?}");
            equal += usize::from(a == b);
        }
        assert!(equal > 10_000, "{equal}");
    }

    #[test]
    fn the_field_reader_agrees_with_the_general_parser_on_random_fields() {
        let text = r#"{"SecurityGroups": [{"SecurityGroupId": "sg-a", "Permissions": {"Permission": []}}],
            "NetworkInterfaces": [
                {"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.1", "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}},
                {"NetworkInterfaceId": "eni-é", "PrivateIpAddress": "10.0.0.2", "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}}]}"#;
        let engine = Engine::new(crate::Snapshot::from_json_str(text).unwrap());
        const NICS: [&str; 6] = ["eni-1", "eni-é", "sg-a", "", "eni-2", "ENI-1"];
        let mut rng = Rng::new(18);
        let mut reader = FieldReader::new(&engine);
        let mut last_target = None;
        let (mut read, mut refused) = (0, 0);
        for _ in 0..200_000 {
            let fields = random_fields(&mut rng, &NICS);
            let ours = reader.read(fields);
            assert_eq!(
                ours,
                parse_fields(&engine, fields, &mut last_target),
                "{fields:?}"
            );
            let mut queries = Vec::new();
            let pushed = reader.read_into(fields, &mut queries).map(|()| {
                assert_eq!(queries.len(), 1);
                (queries[0].target, queries[0].flow)
            });
            assert_eq!(pushed, ours, "{fields:?}");
            read += usize::from(ours.is_ok() && reader.read_usual(fields).is_some());
            refused += usize::from(ours.is_err());
        }
        // Not vacuous: the short paths answer many rows, and many are refused.
        assert!(read > 10_000 && refused > 10_000, "{read} {refused}");
    }

    #[test]
    fn the_prepared_verdict_columns_are_the_columns_of_each_verdict() {
        use crate::model::{Action, Reason, RuleRef, Verdict};
        let text = r#"{"SecurityGroups": [
            {"SecurityGroupId": "sg-a", "Permissions": {"Permission": [
                {"Direction": "ingress", "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "Policy": "Drop", "Priority": 1, "SecurityGroupRuleId": "sgr-1"},
                {"Direction": "ingress", "IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 1, "SecurityGroupRuleId": "sgr,\"2\""}]}},
            {"SecurityGroupId": "sg,b", "Permissions": {"Permission": [
                {"Direction": "ingress", "IpProtocol": "udp", "PortRange": "53/53", "SourceCidrIp": "0.0.0.0/0", "Policy": "Accept", "Priority": 1, "SecurityGroupRuleId": "sgr-3"}]}}]}"#;
        let engine = Engine::new(crate::Snapshot::from_json_str(text).unwrap());
        let writer = VerdictWriter::new(&engine);
        let mut verdicts = Vec::new();
        for action in [Action::Accept, Action::Drop] {
            for reason in [Reason::InnerAccess, Reason::Default, Reason::Platform] {
                verdicts.push(Verdict { action, reason });
            }
            for (group, rules) in [(0, 2), (1, 1)] {
                for rule in 0..rules {
                    verdicts.push(Verdict {
                        action,
                        reason: Reason::Rule(RuleRef { group, rule }),
                    });
                }
            }
        }
        for verdict in &verdicts {
            let columns = crate::input::flows::VerdictColumns::of(&engine, verdict);
            let mut expected = format!(",{},{},", columns.verdict, columns.reason).into_bytes();
            write_field(columns.security_group_id, &mut expected);
            expected.push(b',');
            write_field(columns.rule_id, &mut expected);
            expected.push(b'\n');
            let mut written = Vec::new();
            writer.write(verdict, &mut written);
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{verdict:?}"
            );
        }
    }
}
