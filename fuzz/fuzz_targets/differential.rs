//! The compiled engine (every tier) against the reference evaluator, on snapshots and flows
//! decoded from the fuzzer's bytes by the generator the differential tests share
//! (`sgsim::bench::testkit`): values come from small pools so that rules overlap and flows hit
//! them; every feature of the spec can appear.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sgsim::bench::testkit::{self, FuzzBytes, Pools, Source};
use sgsim::compile::Tier;
use sgsim::model::Verdict;
use sgsim::{Engine, Query, Snapshot};

fuzz_target!(|data: &[u8]| {
    let mut bytes = FuzzBytes::new(data);
    let json = testkit::snapshot(&mut bytes, &Pools::WIDE);
    let snapshot = Snapshot::from_json_value(json.clone())
        .unwrap_or_else(|err| panic!("generated an invalid snapshot: {err}\n{json:#}"));
    let options = testkit::options(&mut bytes);
    let targets = testkit::targets(&snapshot);
    let mut batch = Vec::new();
    // Once the bytes run out every choice is 0: stop there.
    while !bytes.is_empty() && batch.len() < 64 {
        let target = targets[bytes.index(targets.len())];
        let flow = testkit::flow(&mut bytes, &Pools::WIDE);
        batch.push(Query { target, flow });
    }
    let tiers = testkit::TIERS
        .into_iter()
        .chain([Tier::Partitioned { leaf_max_rules: 2 }]);
    for tier in tiers {
        let engine = Engine::builder(snapshot.clone())
            .options(options)
            .tier(tier)
            .eager()
            .build();
        // `check_batch` runs the fastest kernel the CPU has (AVX-512 here), `check` the
        // portable one.
        let expected: Vec<Verdict> = batch
            .iter()
            .map(|q| engine.check_reference(q.target, &q.flow))
            .collect();
        // Its placeholder equals no real verdict, so a slot the batch skips cannot pass.
        let mut verdicts = sgsim::bench::verdict_buffer(batch.len());
        engine.check_batch(&batch, &mut verdicts);
        for ((query, reference), from_batch) in batch.iter().zip(&expected).zip(&verdicts) {
            let (target, flow) = (query.target, &query.flow);
            assert_eq!(
                &engine.check(target, flow),
                reference,
                "{tier:?} {target:?} {flow}"
            );
            assert_eq!(from_batch, reference, "{tier:?} batch {target:?} {flow}");
        }
    }
});
