//! The compiled engine against the reference evaluator on random snapshots that use every
//! feature of the spec (see `sgsim::bench::testkit`, the generator the fuzz targets share):
//! several groups per NIC, basic and enterprise groups, classic NicType, group references
//! (present and missing), prefix and port lists (present and missing), IPv4 and IPv6, source
//! port ranges, priority ties, inner access, platform rules. Addresses and ports come from
//! small pools so that rules overlap and flows hit them. A proptest case is a seed: a failure
//! names it.

use proptest::prelude::*;
use sgsim::bench::testkit::{Case, Pools, TIERS};
use sgsim::compile::{CompilePolicy, Tier};
use sgsim::model::{EvalOptions, Flow, Target};
use sgsim::{Engine, Query, Snapshot};

/// The case of `seed`: a snapshot, options and up to 60 flows.
fn case(seed: u64) -> Case {
    Case::from_seed(seed, &Pools::WIDE, 60)
}

fn targets(snapshot: &Snapshot) -> Vec<Target> {
    sgsim::bench::testkit::targets(snapshot)
}

/// Every flow gets the same verdict, reason and deciding rule from every tier (including the
/// partitioned tree split down to tiny leaves), one by one and in a batch, as from the reference.
fn every_tier_equals_reference(
    snapshot: &Snapshot,
    options: EvalOptions,
    flows: &[(usize, Flow)],
) -> Result<(), TestCaseError> {
    for tier in TIERS
        .into_iter()
        .chain([Tier::Partitioned { leaf_max_rules: 3 }])
    {
        let engine = Engine::builder(snapshot.clone())
            .options(options)
            .tier(tier)
            .eager()
            .build();
        let targets = targets(engine.snapshot());
        let queries: Vec<Query> = flows
            .iter()
            .map(|(pick, flow)| Query {
                target: targets[pick % targets.len()],
                flow: *flow,
            })
            .collect();
        // The batch runs the fastest kernel this CPU has; `check` the portable one.
        let mut batch = sgsim::bench::verdict_buffer(queries.len());
        engine.check_batch(&queries, &mut batch);
        for (query, from_batch) in queries.iter().zip(&batch) {
            let (target, flow) = (query.target, &query.flow);
            let reference = engine.check_reference(target, flow);
            let single = engine.check(target, flow);
            prop_assert_eq!(single, reference, "{:?}: {:?} {}", tier, target, flow);
            prop_assert_eq!(
                *from_batch,
                reference,
                "{:?} batch: {:?} {}",
                tier,
                target,
                flow
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn compiled_engine_equals_reference(seed in any::<u64>()) {
        let case = case(seed);
        every_tier_equals_reference(&case.snapshot(), case.options, &case.flows)?;
    }
}

/// The cases proptest once shrank failures to (kept in `differential.proptest-regressions` from
/// the generator before `testkit`, whose seeds no longer make them), as data.
#[test]
fn kept_regressions_equal_reference() {
    use serde_json::Value;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/regressions/differential.json"
    );
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let snapshot = Snapshot::from_json_value(case["snapshot"].clone()).unwrap();
        let options = EvalOptions {
            platform_rules: case["platform_rules"].as_bool().unwrap(),
            nic_type: match case["nic_type"].as_str().unwrap() {
                "internet" => sgsim::model::NicType::Internet,
                _ => sgsim::model::NicType::Intranet,
            },
        };
        let flows: Vec<(usize, Flow)> = case["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let text = |key: &str| f[key].to_string().trim_matches('"').to_string();
                let flow = Flow::parse(
                    &text("direction"),
                    &text("protocol"),
                    &text("src"),
                    &text("src_port"),
                    &text("dst"),
                    &text("dst_port"),
                )
                .unwrap();
                (f["target"].as_u64().unwrap() as usize, flow)
            })
            .collect();
        every_tier_equals_reference(&snapshot, options, &flows).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The lazy engines: the linear path alone (no tables ever), tables at the first flow, and
    /// tables once a group list has seen a few flows (so one batch mixes both paths). Each
    /// gives the reference's verdict, reason and deciding rule, one by one and in batches.
    #[test]
    fn lazy_engines_equal_reference(seed in any::<u64>()) {
        let case = case(seed);
        let (snapshot, options, flows) = (case.snapshot(), case.options, &case.flows);
        for (tier, min_flows) in [(Tier::Auto, u32::MAX), (Tier::Auto, 0), (Tier::Bulk, 3), (Tier::Auto, 2)] {
            let policy = CompilePolicy::OnDemand { min_flows };
            let batch_engine = Engine::builder(snapshot.clone()).options(options).tier(tier).policy(policy).build();
            let single_engine = Engine::builder(snapshot.clone()).options(options).tier(tier).policy(policy).build();
            let targets = targets(batch_engine.snapshot());
            // Sorted by target, so that batches hold runs of one target and direction.
            let mut queries: Vec<Query> = flows
                .iter()
                .map(|(pick, flow)| Query { target: targets[pick % targets.len()], flow: *flow })
                .collect();
            queries.sort_by_key(|q| (format!("{:?}", q.target), q.flow.direction as u8));
            let mut batch = sgsim::bench::verdict_buffer(queries.len());
            batch_engine.check_batch(&queries, &mut batch);
            for (query, from_batch) in queries.iter().zip(&batch) {
                let (target, flow) = (query.target, &query.flow);
                let reference = single_engine.check_reference(target, flow);
                prop_assert_eq!(single_engine.check(target, flow), reference, "{:?}/{}: target {:?} flow {}", tier, min_flows, target, flow);
                prop_assert_eq!(*from_batch, reference, "{:?}/{} batch: target {:?} flow {}", tier, min_flows, target, flow);
            }
            if min_flows == u32::MAX {
                prop_assert_eq!(single_engine.built_rule_sets().0, 0);
                prop_assert_eq!(batch_engine.built_rule_sets().0, 0);
            }
        }
    }
}

/// The generator really produces the features the property claims to cover, so the property
/// is not vacuous: over many cases, every verdict reason and both actions occur.
#[test]
fn generator_covers_every_reason() {
    let mut seen = std::collections::HashSet::new();
    for seed in 0..300 {
        let case = case(seed);
        let (flows, options) = (&case.flows, case.options);
        let engine = Engine::builder(case.snapshot()).options(options).build();
        let targets = targets(engine.snapshot());
        for (pick, flow) in flows {
            let verdict = engine.check_reference(targets[pick % targets.len()], flow);
            seen.insert((verdict.reason.as_str(), verdict.action));
        }
    }
    for reason in ["rule", "inner_access", "default", "platform"] {
        assert!(
            seen.iter().any(|(r, _)| *r == reason),
            "no {reason:?} verdict in 300 snapshots: {seen:?}"
        );
    }
    assert!(seen
        .iter()
        .any(|(r, a)| *r == "rule" && *a == sgsim::model::Action::Drop));
    assert!(seen
        .iter()
        .any(|(r, a)| *r == "rule" && *a == sgsim::model::Action::Accept));
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}

/// Rule sets big enough for what small random snapshots never reach: dense field maps
/// (≥ 256 rules), several 512-rule blocks with their summaries, and the partitioned tier with
/// realistic leaves. Synthetic sets (`sgsim::bench::synth`) still use groups, prefix and port
/// lists, IPv6, source ports, inner access and the platform rule.
#[test]
fn large_rule_sets_equal_reference() {
    let tiers = [
        Tier::Auto,
        Tier::Bulk,
        Tier::CrossProduct,
        Tier::CrossVector,
        Tier::CrossList,
        Tier::Flat,
        Tier::Partitioned {
            leaf_max_rules: 256,
        },
        Tier::Partitioned { leaf_max_rules: 16 },
    ];
    for (rules, seed) in [(300, 11), (700, 12), (1500, 13), (4000, 14)] {
        let set = sgsim::bench::synth::generate(rules, 3000, seed);
        let reference = Engine::builder(set.snapshot.clone())
            .options(EvalOptions::default())
            .tier(Tier::Flat)
            .eager()
            .build();
        let expected: Vec<_> = set
            .queries
            .iter()
            .map(|q| reference.check_reference(q.target, &q.flow))
            .collect();
        for tier in tiers {
            let engine = Engine::builder(set.snapshot.clone())
                .options(EvalOptions::default())
                .tier(tier)
                .eager()
                .build();
            let mut batch = sgsim::bench::verdict_buffer(set.queries.len());
            engine.check_batch(&set.queries, &mut batch);
            for ((query, want), from_batch) in set.queries.iter().zip(&expected).zip(&batch) {
                assert_eq!(
                    from_batch, want,
                    "{rules} rules, {tier:?} batch: flow {}",
                    query.flow
                );
                let single = engine.check(query.target, &query.flow);
                assert_eq!(
                    &single, want,
                    "{rules} rules, {tier:?}: flow {}",
                    query.flow
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// `check` without `--sport` (issue 16, why 4): the ranges of source ports cover 0..=65535
    /// in order, neighbours differ, and every port the generator's rules can tell apart (0..=20,
    /// each range's ends, 65535) gets the reference's verdict from the range holding it.
    #[test]
    fn source_port_ranges_equal_reference(seed in any::<u64>()) {
        use sgsim::analysis::open_port::by_source_port;
        let case = case(seed);
        let (snapshot, options, flows) = (case.snapshot(), case.options, &case.flows);
        let engine = Engine::builder(snapshot).options(options).build();
        let targets = targets(engine.snapshot());
        for (pick, flow) in flows.iter().filter(|(_, f)| matches!(f.protocol, 6 | 17)) {
            let target = targets[pick % targets.len()];
            let ranges = by_source_port(&engine, target, flow);
            prop_assert_eq!(ranges.first().map(|r| r.from), Some(0));
            prop_assert_eq!(ranges.last().map(|r| r.to), Some(u16::MAX));
            for pair in ranges.windows(2) {
                prop_assert_eq!(u32::from(pair[0].to) + 1, u32::from(pair[1].from));
                prop_assert_ne!(pair[0].verdict, pair[1].verdict, "unmerged neighbours");
            }
            let ports = (0u16..=20)
                .chain([u16::MAX])
                .chain(ranges.iter().flat_map(|r| [r.from, r.to]));
            for port in ports {
                let at = Flow { src_port: port, ..*flow };
                let range = ranges.iter().find(|r| r.from <= port && port <= r.to).unwrap();
                prop_assert_eq!(range.verdict, engine.check_reference(target, &at), "port {} of {}", port, flow);
            }
        }
    }
}
