//! Feeds arbitrary API calls (JSON or query strings, several separated by NUL bytes) to the
//! simulator on the sample snapshot. It must never panic; a rejected call must leave the
//! snapshot exactly as it was; and whatever state results must write and load back as the same
//! model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::input::ecs::write::snapshot_to_string;
use sgsim::{Simulator, Snapshot};
use std::sync::OnceLock;

fn sample() -> &'static Snapshot {
    static SAMPLE: OnceLock<Snapshot> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        Snapshot::from_json_str(include_str!("../../examples/vpc-web.json")).expect("sample loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut sim = Simulator::with_seed(sample().clone(), 1);
    sim.set_clock(Some(1_767_225_600));
    for request in text.split('\0').take(8) {
        let before = sim.snapshot().clone();
        let answer = sim.apply_text(request);
        match &answer.error {
            Some(error) => {
                assert!(error.http_status >= 400, "{error}");
                let after = sim.snapshot();
                assert!(
                    after.groups() == before.groups()
                        && after.nics() == before.nics()
                        && after.prefix_lists() == before.prefix_lists()
                        && after.port_lists() == before.port_lists()
                        && after.client_tokens() == before.client_tokens(),
                    "rejected call changed the snapshot: {request:?}"
                );
            }
            None => assert!(answer.body["RequestId"].is_string()),
        }
    }
    let written = snapshot_to_string(sim.snapshot());
    let again = Snapshot::from_json_str(&written)
        .unwrap_or_else(|e| panic!("written snapshot does not load: {e}"));
    assert_eq!(again.groups(), sim.snapshot().groups());
    assert_eq!(again.nics(), sim.snapshot().nics());
    assert_eq!(again.client_tokens(), sim.snapshot().client_tokens());
});
