//! Arbitrary bytes as an account dump: up to eight documents separated by NUL bytes, each named
//! after a port range list (`DescribePortRangeListEntries.prl-N.json`) so that every shape can be
//! reached. Assembly must refuse or accept, never panic. What loads must write out as a snapshot
//! that loads back to the same groups, NICs and lists, and must answer a few questions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::bench::testkit::nul_split_documents;
use sgsim::input::ecs::dump::assemble_documents;
use sgsim::input::ecs::snapshot_to_string;
use sgsim::model::{Flow, Target};
use sgsim::{Engine, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((snapshot, report)) = assemble_documents(nul_split_documents(text)) else {
        return;
    };
    let _ = report.summary(&snapshot);

    let written = snapshot_to_string(&snapshot);
    let reloaded = Snapshot::from_json_str(&written).unwrap_or_else(|err| {
        panic!("the assembled snapshot does not load back: {err}\n{written}")
    });
    assert_eq!(reloaded.groups(), snapshot.groups());
    assert_eq!(reloaded.nics(), snapshot.nics());
    assert_eq!(reloaded.prefix_lists(), snapshot.prefix_lists());
    assert_eq!(reloaded.port_lists(), snapshot.port_lists());

    let flows = [
        Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "22"),
        Flow::parse("egress", "udp", "2001:db8::1", "5353", "2001:db8::5", "53"),
    ]
    .map(|flow| flow.expect("fixed flows parse"));
    let targets: Vec<Target> = if snapshot.nics().is_empty() {
        (0..snapshot.groups().len() as u32)
            .map(Target::Group)
            .collect()
    } else {
        (0..snapshot.nics().len() as u32).map(Target::Nic).collect()
    };
    let engine = Engine::new(snapshot);
    for &target in &targets {
        for flow in &flows {
            engine.check(target, flow);
        }
    }
});
