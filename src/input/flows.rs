//! The flows CSV, read one way by every command (`eval`, `bench`, `diff --flows`,
//! `apply --flows`), and the verdict columns written one way.
//!
//! The format: the header `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port` (its names
//! may be quoted, as spreadsheet exports write them; a UTF-8 byte-order mark is ignored), then one
//! flow per record. Records follow RFC 4180: a field that starts with `"` is quoted, `""` inside
//! it is one quote, and it may hold commas and line ends and is still one field of one record.
//! Lines end in `\n` or `\r\n`. Every error names the line the record starts on; an empty line is
//! a bad row, not skipped.
//!
//! Hand-written rather than the csv crate's reader because `sgsim eval` cuts its input into
//! blocks of whole records to evaluate them in parallel, which needs the record boundaries
//! before parsing ([`record_ends`]); the same scanner and field parser serve the row-by-row
//! [`FlowsReader`], so both agree by construction. The fuzz target `eval_csv` checks the parser
//! against the csv crate.

use crate::model::{Action, Flow, Reason, Verdict};
use crate::Engine;
use std::fmt;
use std::io::{self, BufRead};

/// The input header, exactly.
pub const INPUT_HEADER: &str = "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port";
/// The header's column names.
pub const INPUT_COLUMNS: [&str; 7] = [
    "nic_id",
    "direction",
    "protocol",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
];
/// The columns the verdict writer appends to each row.
pub const OUTPUT_COLUMNS: &str = "verdict,reason,security_group_id,rule_id";

/// Why a flows file cannot be read at all (as opposed to a bad row, which stops nothing).
#[derive(Debug)]
pub enum FlowsError {
    /// Reading the input failed.
    Io(io::Error),
    /// No bytes at all.
    Empty,
    /// The first record is not [`INPUT_HEADER`]; the text as found.
    Header(String),
}

impl fmt::Display for FlowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowsError::Io(err) => write!(f, "{err}"),
            FlowsError::Empty => write!(
                f,
                "the file is empty: expected the header {INPUT_HEADER:?}, then one flow per line"
            ),
            FlowsError::Header(found) => write!(
                f,
                "line 1: header {found:?}: expected exactly {INPUT_HEADER:?}"
            ),
        }
    }
}

impl FlowsError {
    /// The error located in `file`, as `FILE:LINE: message` where it has a line.
    pub fn in_file(&self, file: &str) -> String {
        match self {
            FlowsError::Header(_) => format!(
                "{file}:1: {}",
                self.to_string().trim_start_matches("line 1: ")
            ),
            _ => format!("{file}: {self}"),
        }
    }
}

impl std::error::Error for FlowsError {}

impl From<io::Error> for FlowsError {
    fn from(err: io::Error) -> Self {
        FlowsError::Io(err)
    }
}

/// A row that could not be read or evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line the record starts on (the header is line 1).
    pub line: u64,
    /// What is wrong with the row, and what would be valid.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for RowError {}

/// Reads one whole record (with its line end) into `buf`, however many lines its quoted fields
/// span; returns the number of lines read (0 at the end of the input).
pub(crate) fn read_record(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<u64> {
    let mut lines = 0;
    let mut state = QuoteState::FieldStart;
    loop {
        let start = buf.len();
        if input.read_until(b'\n', buf)? == 0 {
            return Ok(lines);
        }
        lines += 1;
        state = scan(&buf[start..], state).1;
        if !state.in_quotes() || buf.last() != Some(&b'\n') {
            return Ok(lines);
        }
    }
}

/// Where the scanner is relative to quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QuoteState {
    /// At the start of a field: a `"` opens a quoted field.
    FieldStart,
    /// In an unquoted field: quotes are plain characters.
    Unquoted,
    /// Inside a quoted field: a line end is part of the field.
    Quoted,
    /// Just after a `"` inside a quoted field: another `"` is an escaped quote, anything else
    /// ends the quoted part.
    QuoteInQuoted,
}

impl QuoteState {
    fn in_quotes(self) -> bool {
        self == QuoteState::Quoted
    }

    fn step(self, byte: u8) -> QuoteState {
        use QuoteState::*;
        match (self, byte) {
            (Quoted, b'"') => QuoteInQuoted,
            (Quoted, _) => Quoted,
            (QuoteInQuoted, b'"') => Quoted,
            (FieldStart, b'"') => Quoted,
            (_, b',') | (_, b'\n') => FieldStart,
            _ => Unquoted,
        }
    }
}

/// Scans `bytes` from `state`; returns the offsets of the record-ending `\n`s and the end state.
fn scan(bytes: &[u8], mut state: QuoteState) -> (Vec<usize>, QuoteState) {
    let mut ends = Vec::new();
    for (at, &byte) in bytes.iter().enumerate() {
        if byte == b'\n' && !state.in_quotes() {
            ends.push(at);
        }
        state = state.step(byte);
    }
    (ends, state)
}

/// Offsets of the `\n`s that end records in a block that starts at a record boundary. A block
/// without quotes (the usual case) ends a record at every `\n`.
pub fn record_ends(block: &[u8]) -> Vec<usize> {
    if memchr::memchr(b'"', block).is_none() {
        return memchr::memchr_iter(b'\n', block).collect();
    }
    scan(block, QuoteState::FieldStart).0
}

/// Whether a block that starts at a record boundary ends inside a quoted field.
pub(crate) fn ends_in_quotes(block: &[u8]) -> bool {
    memchr::memchr(b'"', block).is_some() && scan(block, QuoteState::FieldStart).1.in_quotes()
}

/// A record without its line end (`\n` or `\r\n`).
#[inline]
pub(crate) fn trim_line_end(record: &[u8]) -> &[u8] {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    record.strip_suffix(b"\r").unwrap_or(record)
}

/// The fields of one record (without its line end), unquoted. The readers take a faster path
/// (`split_unquoted`) for records without quotes.
pub fn parse_quoted(record: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut state = QuoteState::FieldStart;
    for c in record.chars() {
        let next = if c.is_ascii() {
            state.step(c as u8)
        } else if state == QuoteState::Quoted {
            QuoteState::Quoted
        } else {
            QuoteState::Unquoted
        };
        match (state, next, c) {
            // Opening, closing and escaping quotes are not part of the field.
            (QuoteState::FieldStart, QuoteState::Quoted, '"') => {}
            (QuoteState::Quoted, QuoteState::QuoteInQuoted, '"') => {}
            (QuoteState::QuoteInQuoted, QuoteState::Quoted, '"') => field.push('"'),
            (_, QuoteState::FieldStart, ',') => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
        state = next;
    }
    if state == QuoteState::Quoted {
        return Err("a quoted field is not closed (a '\"' is missing)".to_string());
    }
    fields.push(field);
    Ok(fields)
}

/// The seven fields of a record without quotes, split at its commas in one pass; `None` if the
/// record has a quote (then [`parse_quoted`] reads it).
///
/// PERF: a fixed array instead of `str::split` into a Vec halved the per-row parsing cost of
/// `sgsim eval`; one byte loop for commas and quotes instead of `memchr` calls (one per field
/// and one for quotes, each with its set-up, on rows of ~50 bytes) saved ~100 of ~2 800
/// instructions a row (callgrind).
#[inline]
pub(crate) fn split_unquoted(text: &str) -> Option<Result<[&str; 7], String>> {
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

/// The error of a record with `count` fields instead of seven.
pub(crate) fn field_count_error(count: usize) -> String {
    format!("{count} fields, expected 7 ({INPUT_HEADER})")
}

/// Checks a header record (without its line end): the seven names, quoted or not, after an
/// optional byte-order mark.
pub(crate) fn check_header(record: &[u8]) -> Result<(), FlowsError> {
    let text = String::from_utf8_lossy(record);
    let body = text.trim_start_matches('\u{feff}');
    match parse_quoted(body) {
        Ok(names) if names == INPUT_COLUMNS => Ok(()),
        _ => Err(FlowsError::Header(text.into_owned())),
    }
}

/// One flows-file row, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRow {
    /// The line the record starts on.
    pub line: u64,
    /// The `nic_id` column.
    pub target_id: String,
    /// The flow of the other six columns.
    pub flow: Flow,
}

/// A record's seven text fields (without its line end) as a target id and a flow.
pub(crate) fn parse_row(record: &[u8]) -> Result<(String, Flow), String> {
    let text = std::str::from_utf8(record).map_err(|_| "the row is not valid UTF-8".to_string())?;
    let owned;
    let fields: [&str; 7] = match split_unquoted(text) {
        Some(fields) => fields?,
        None => {
            owned = parse_quoted(text)?;
            if owned.len() != 7 {
                return Err(field_count_error(owned.len()));
            }
            std::array::from_fn(|i| owned[i].as_str())
        }
    };
    let [nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port] = fields;
    let flow = Flow::parse(direction, protocol, src_ip, src_port, dst_ip, dst_port)
        .map_err(|err| err.to_string())?;
    Ok((nic_id.to_string(), flow))
}

/// A flow's fields for JSON reports: its direction, then its five-tuple inline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FlowFields {
    /// `ingress` or `egress`.
    pub direction: &'static str,
    /// The protocol, addresses and ports.
    #[serde(flatten)]
    pub tuple: TupleFields,
}

impl FlowFields {
    /// The fields of `flow`.
    pub fn of(flow: &Flow) -> FlowFields {
        FlowFields {
            direction: flow.direction.as_str(),
            tuple: TupleFields::of(flow),
        }
    }
}

/// A five-tuple's fields for JSON reports: ports as numbers, the protocol by name and number.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TupleFields {
    /// `tcp`, or the number as text when it has no name.
    pub protocol: String,
    /// IP protocol number.
    pub protocol_number: u8,
    /// Source address.
    pub src_ip: String,
    /// Source port (0 for protocols without ports).
    pub src_port: u16,
    /// Destination address.
    pub dst_ip: String,
    /// Destination port (0 for protocols without ports).
    pub dst_port: u16,
}

impl TupleFields {
    /// The five-tuple of `flow`.
    pub fn of(flow: &Flow) -> TupleFields {
        TupleFields {
            protocol: crate::model::protocol_label(flow.protocol),
            protocol_number: flow.protocol,
            src_ip: flow.src.to_string(),
            src_port: flow.src_port,
            dst_ip: flow.dst.to_string(),
            dst_port: flow.dst_port,
        }
    }
}

/// Reads a flows file row by row: the header first ([`FlowsReader::new`] fails on a bad one),
/// then each record as a [`FlowRow`] or the [`RowError`] that names its line.
pub struct FlowsReader<R> {
    input: R,
    buf: Vec<u8>,
    next_line: u64,
}

impl<R: BufRead> FlowsReader<R> {
    /// Reads and checks the header; fails on an empty input, an unreadable one or a bad header.
    pub fn new(mut input: R) -> Result<FlowsReader<R>, FlowsError> {
        let mut buf = Vec::new();
        let lines = read_record(&mut input, &mut buf)?;
        if lines == 0 {
            return Err(FlowsError::Empty);
        }
        check_header(trim_line_end(&buf))?;
        Ok(FlowsReader {
            input,
            buf,
            next_line: 1 + lines,
        })
    }
}

impl<R: BufRead> Iterator for FlowsReader<R> {
    type Item = Result<Result<FlowRow, RowError>, io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        let lines = match read_record(&mut self.input, &mut self.buf) {
            Ok(0) => return None,
            Ok(lines) => lines,
            Err(err) => return Some(Err(err)),
        };
        let line = self.next_line;
        self.next_line += lines;
        Some(Ok(match parse_row(trim_line_end(&self.buf)) {
            Ok((target_id, flow)) => Ok(FlowRow {
                line,
                target_id,
                flow,
            }),
            Err(message) => Err(RowError { line, message }),
        }))
    }
}

/// The `verdict,reason,security_group_id,rule_id` columns of a verdict, as text: the one
/// spelling of a verdict in every flows output (CSV and JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictColumns<'a> {
    /// `accept` or `drop`.
    pub verdict: &'static str,
    /// `rule`, `inner_access`, `default` or `platform`.
    pub reason: &'static str,
    /// The deciding rule's group, empty unless `reason` is `rule`.
    pub security_group_id: &'a str,
    /// The deciding rule's id, empty unless `reason` is `rule`.
    pub rule_id: &'a str,
}

impl<'a> VerdictColumns<'a> {
    /// The columns of `verdict`, naming rules as `engine`'s snapshot does.
    pub fn of(engine: &'a Engine, verdict: &Verdict) -> VerdictColumns<'a> {
        let (security_group_id, rule_id) = match verdict.reason {
            Reason::Rule(rule_ref) => {
                let (group, rule) = engine.rule(rule_ref);
                (group.id.as_str(), rule.id.as_str())
            }
            _ => ("", ""),
        };
        VerdictColumns {
            verdict: verdict.action.as_str(),
            reason: verdict.reason.as_str(),
            security_group_id,
            rule_id,
        }
    }
}

/// Writes a row's verdict columns (`,verdict,reason,group,rule\n`) to CSV output, each rule's
/// text prepared once per run.
///
/// PERF: looking both ids up and checking them for characters to quote on every row cost
/// more than evaluating the row; writing the four columns as one prepared slice per rule (one
/// copy a row instead of six) took the writer from ~9 % of `sgsim eval`'s time to ~2 %. Each
/// rule's text is prepared with either action, so a row's text is one indexed slice, with no
/// check of the action its rule names (callgrind: ~70 → ~40 instructions a row).
pub(crate) struct VerdictWriter {
    /// Every rule's `,accept,rule,group,rule\n` and `,drop,rule,group,rule\n`, back to back.
    text: Vec<u8>,
    /// Where each rule's texts are in `text`: rules numbered group after group, the accept text
    /// at `2 * rule`, the drop text at `2 * rule + 1`.
    spans: Vec<(u32, u32)>,
    /// Per group, the number of its first rule.
    first_rule: Vec<u32>,
}

impl VerdictWriter {
    pub fn new(engine: &Engine) -> VerdictWriter {
        let groups = engine.snapshot().groups();
        let mut writer = VerdictWriter {
            text: Vec::new(),
            spans: Vec::new(),
            first_rule: Vec::with_capacity(groups.len()),
        };
        for group in groups {
            writer.first_rule.push((writer.spans.len() / 2) as u32);
            for rule in &group.rules {
                for action in [Action::Accept, Action::Drop] {
                    let out = &mut writer.text;
                    let start = out.len() as u32;
                    out.push(b',');
                    out.extend_from_slice(action.as_str().as_bytes());
                    out.extend_from_slice(b",rule,");
                    write_field(&group.id, out);
                    out.push(b',');
                    write_field(&rule.id, out);
                    out.push(b'\n');
                    writer.spans.push((start, out.len() as u32));
                }
            }
        }
        writer
    }

    /// Appends `,verdict,reason,group,rule` and the line end.
    #[inline(always)]
    pub fn write(&self, verdict: &Verdict, out: &mut Vec<u8>) {
        let text = match verdict.reason {
            Reason::Rule(rule_ref) => {
                // A rule decides with its own action, but the text follows the verdict's.
                let rule = self.first_rule[rule_ref.group as usize] + rule_ref.rule;
                let drop = u32::from(verdict.action == Action::Drop);
                let (start, end) = self.spans[(2 * rule + drop) as usize];
                &self.text[start as usize..end as usize]
            }
            reason => ruleless_columns(verdict.action, reason),
        };
        out.extend_from_slice(text);
    }

    /// Appends the columns of a row that could not be evaluated.
    pub fn write_error(out: &mut Vec<u8>) {
        out.extend_from_slice(b",error,,,\n");
    }
}

/// The verdict columns when no rule is named.
#[inline]
fn ruleless_columns(action: Action, reason: Reason) -> &'static [u8] {
    match (action, reason) {
        (Action::Accept, Reason::Rule(_)) => b",accept,rule,,\n",
        (Action::Accept, Reason::InnerAccess) => b",accept,inner_access,,\n",
        (Action::Accept, Reason::Default) => b",accept,default,,\n",
        (Action::Accept, Reason::Platform) => b",accept,platform,,\n",
        (Action::Drop, Reason::Rule(_)) => b",drop,rule,,\n",
        (Action::Drop, Reason::InnerAccess) => b",drop,inner_access,,\n",
        (Action::Drop, Reason::Default) => b",drop,default,,\n",
        (Action::Drop, Reason::Platform) => b",drop,platform,,\n",
    }
}

/// Writes a CSV field, quoting it only when it needs quotes.
#[inline]
pub fn write_field(value: &str, out: &mut Vec<u8>) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}
