//! Arbitrary bytes as a snapshot document: loading must refuse or accept, never panic. What
//! loads is then asked a few questions, so odd-but-valid snapshots reach the evaluator too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::model::{Flow, Target};
use sgsim::{Engine, Snapshot};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(snapshot) = Snapshot::from_json_str(text) else {
        return;
    };
    let flows = [
        Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "22"),
        Flow::parse("egress", "tcp", "10.0.0.5", "40000", "93.184.216.34", "25"),
        Flow::parse("ingress", "udp", "2001:db8::1", "5353", "2001:db8::5", "53"),
        Flow::parse("egress", "icmp", "10.0.0.5", "", "10.0.0.6", ""),
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
            let verdict = engine.check(target, flow);
            if let Some(rule_ref) = verdict.deciding_rule() {
                engine.rule(rule_ref);
            }
        }
    }
    if let [from, to, ..] = targets[..] {
        if let (Target::Nic(from), Target::Nic(to)) = (from, to) {
            engine.check_connection(from, to, &flows[0]);
        }
    }
});
