//! Arbitrary bytes as a Parquet flow log: the file is read to its end or refused with an error,
//! never a panic, and every row of a block is one record (read or reported), whether the rows
//! are read field by field or interpreted a column at a time.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::input::flowlog::{self, interpret, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = flowlog::open_reader(
        "fuzz".into(),
        Box::new(std::io::Cursor::new(data.to_vec())),
        Some(Format::Parquet),
    ) else {
        return;
    };
    while let Ok(Some(block)) = reader.next_block() {
        let mut by_field = Vec::with_capacity(block.len());
        block.records(0..block.len(), &mut |line, raw| {
            by_field.push((line, raw.and_then(|raw| interpret(&raw)).map(|r| format!("{r:?}"))));
        });
        let mut by_column = Vec::with_capacity(block.len());
        block.interpreted(0..block.len(), &mut |line, record| {
            by_column.push((line, record.map(|r| format!("{r:?}"))));
        });
        assert_eq!(by_field.len(), block.len());
        assert_eq!(by_field, by_column);
    }
});
