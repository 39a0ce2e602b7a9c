//! Arbitrary bytes as the flows CSV of `sgsim eval`, against the shipped example snapshot:
//! every run ends in output or an error, never a panic, and writes one line per row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::{Engine, Snapshot};
use std::sync::OnceLock;

static ENGINE: OnceLock<Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        let example = include_str!("../../examples/vpc-web.json");
        Engine::new(Snapshot::from_json_str(example).expect("the shipped example loads"))
    });
    let mut output = Vec::new();
    // A bad header is an error, not a panic.
    let Ok(summary) = sgsim::bulk::eval_csv(engine, data, &mut output, &mut ()) else {
        return;
    };
    assert_eq!(
        summary.rows,
        summary.accepted + summary.dropped + summary.errors
    );
    // Records, not lines: a quoted field may hold a line end (RFC 4180).
    let records = sgsim::flows::record_ends(&output).len() as u64;
    assert_eq!(records, summary.rows + 1, "the header, then one record per row");
});
