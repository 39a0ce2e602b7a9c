//! Arbitrary bytes as an SLS JSON flow log: every record is read or reported, never a panic;
//! and on every line the fast scanner, when it answers, agrees with serde_json (and answers the
//! same with the keys of the line before), and it answers as the byte-wise scanner alone does
//! (so its quote-position path, taken by plain ASCII lines, is held to that one too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::input::flowlog::{self, interpret, json, Format};

fuzz_target!(|data: &[u8]| {
    // With the keys of the line before (as a block reads lines), the scanner answers as on
    // the line alone.
    let mut keys = json::KeyLayout::default();
    for line in data.split(|&b| b == b'\n') {
        let alone = json::scan_line(line);
        assert_eq!(json::scan_line_with(line, &mut keys), alone);
        let mut fresh = json::KeyLayout::default();
        assert_eq!(json::scan_bytewise(line, &mut fresh), alone);
        if let Some(fast) = alone {
            let mut scratch = None;
            let slow = json::parse_line_serde(line, &mut scratch);
            assert_eq!(Ok(fast), slow, "{:?}", String::from_utf8_lossy(line));
        }
    }
    let Ok(mut reader) = flowlog::open_reader(
        "fuzz".into(),
        Box::new(std::io::Cursor::new(data.to_vec())),
        Some(Format::Json),
    ) else {
        return;
    };
    while let Ok(Some(block)) = reader.next_block() {
        let mut seen = 0;
        block.records(0..block.len(), &mut |_, raw| {
            seen += 1;
            if let Ok(raw) = raw {
                let _ = interpret(&raw);
            }
        });
        assert_eq!(seen, block.len());
    }
});
