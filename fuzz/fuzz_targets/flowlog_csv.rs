//! Arbitrary bytes as a CSV flow log (header row first): every record is read or reported with
//! its line, never a panic, and every non-blank line after the header is one record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::input::flowlog::{self, interpret, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = flowlog::open_reader(
        "fuzz".into(),
        Box::new(std::io::Cursor::new(data.to_vec())),
        Some(Format::Csv),
    ) else {
        return;
    };
    let mut records = 0u64;
    let mut last_line = 1;
    while let Ok(Some(block)) = reader.next_block() {
        block.records(0..block.len(), &mut |line, raw| {
            assert!(line > last_line, "lines in order, after the header");
            last_line = line;
            records += 1;
            if let Ok(raw) = raw {
                let _ = interpret(&raw);
            }
        });
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        return; // gzip: the lines counted below are compressed
    }
    let body = data.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default();
    let non_blank = body
        .split(|&b| b == b'\n')
        .filter(|line| {
            !line
                .strip_suffix(b"\r")
                .unwrap_or(line)
                .trim_ascii()
                .is_empty()
        })
        .count() as u64;
    assert_eq!(records, non_blank);
});
