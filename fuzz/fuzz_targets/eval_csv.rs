//! Arbitrary bytes as the flows CSV of `sgsim eval`, against the shipped example snapshot:
//! every run ends in output or an error, never a panic, and writes one record per row. The
//! flows reader (`sgsim::input::flows`) splits and unquotes records as the csv crate does, and its
//! row-by-row reader sees the rows `eval` counts; the input read and the input in memory (a
//! mapped file) give the same output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::{Engine, Snapshot};
use std::sync::OnceLock;

static ENGINE: OnceLock<Engine> = OnceLock::new();

/// The records of `text` as the flows reader reads them, without blank lines (which the csv
/// crate skips and the reader reports as bad rows), up to a record with an unclosed quote.
fn our_records(text: &str) -> Vec<Vec<String>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for end in sgsim::input::flows::record_ends(text.as_bytes()) {
        pieces.push(&text[start..end]);
        start = end + 1;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    let mut records = Vec::new();
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        match sgsim::input::flows::parse_quoted(piece) {
            Ok(fields) => records.push(fields),
            // Only the last record can hold an unclosed quote.
            Err(_) => break,
        }
    }
    records
}

fn csv_crate_records(data: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data)
        .records()
        .map_while(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    // `\r` alone ends a record for the csv crate, not for the flows format (`\n` or `\r\n`).
    if let (Ok(text), false) = (std::str::from_utf8(data), data.contains(&b'\r')) {
        // Both skip a byte-order mark at the start (the reader in its header check).
        let ours = our_records(text.strip_prefix('\u{feff}').unwrap_or(text));
        let theirs = csv_crate_records(data);
        // Ours stops at an unclosed quote, which the csv crate reads to the end.
        assert!(ours.len() <= theirs.len(), "{ours:?} vs {theirs:?}");
        assert_eq!(ours[..], theirs[..ours.len()]);
    }

    let engine = ENGINE.get_or_init(|| {
        let example = include_str!("../../examples/vpc-web.json");
        Engine::new(Snapshot::from_json_str(example).expect("the shipped example loads"))
    });
    let mut output = Vec::new();
    let read = sgsim::eval::bulk::eval_csv(engine, data, &mut output, &mut ());
    // The input in memory (`sgsim eval` on a mapped file) gives the same output.
    let mut in_memory = Vec::new();
    let mapped = sgsim::eval::bulk::eval_csv_bytes(engine, data, |_| {}, &mut in_memory, &mut ());
    assert_eq!(
        format!("{read:?}"),
        format!("{mapped:?}"),
        "the read and in-memory paths agree"
    );
    assert_eq!(output, in_memory, "the read and in-memory paths agree");
    // A bad header is an error, not a panic.
    let Ok(summary) = read else {
        return;
    };
    assert_eq!(
        summary.rows,
        summary.accepted + summary.dropped + summary.errors
    );
    // Records, not lines: a quoted field may hold a line end (RFC 4180).
    let records = sgsim::input::flows::record_ends(&output).len() as u64;
    assert_eq!(
        records,
        summary.rows + 1,
        "the header, then one record per row"
    );
    // The row-by-row reader (bench, diff, apply) sees the same rows.
    let reader = sgsim::input::flows::FlowsReader::new(data).expect("eval accepted the header");
    let rows = reader.map(|row| row.expect("reading a slice")).count() as u64;
    assert_eq!(rows, summary.rows);
});
