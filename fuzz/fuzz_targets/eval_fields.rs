//! Arbitrary bytes as a row given as its seven fields (split at `\x1f`), as the Python
//! package's Arrow path reads them: `eval::bulk::FieldReader` gives exactly the target and flow
//! the general parser gives (`Engine::target`, then `Flow::parse`), or exactly its message,
//! whether the NIC id was seen before or not, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::eval::bulk::FieldReader;
use sgsim::model::Flow;
use sgsim::{Engine, Snapshot};
use std::sync::OnceLock;

static ENGINE: OnceLock<Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        let example = include_str!("../../examples/vpc-web.json");
        Engine::new(Snapshot::from_json_str(example).expect("the example loads"))
    });
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\x1f');
    let fields: [&str; 7] = std::array::from_fn(|_| parts.next().unwrap_or(""));
    let [nic_id, direction, protocol, src_ip, src_port, dst_ip, dst_port] = fields;
    let expected = engine
        .target(nic_id)
        .map_err(|why| format!("nic_id: {why}"))
        .and_then(|target| {
            Flow::parse(direction, protocol, src_ip, src_port, dst_ip, dst_port)
                .map(|flow| (target, flow))
                .map_err(|err| err.to_string())
        });
    let mut reader = FieldReader::new(engine);
    // Twice: the second time the NIC id may come from the reader's memory.
    for _ in 0..2 {
        assert_eq!(reader.read(fields), expected, "{fields:?}");
        let mut queries = Vec::new();
        let pushed = reader
            .read_into(fields, &mut queries)
            .map(|()| (queries[0].target, queries[0].flow));
        assert_eq!(pushed, expected, "{fields:?}");
    }
});
