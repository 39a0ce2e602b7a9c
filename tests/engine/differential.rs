//! The compiled engine against the reference evaluator on random snapshots that use every
//! feature of the spec: several groups per NIC, basic and enterprise groups, classic NicType,
//! group references (present and missing), prefix and port lists (present and missing), IPv4
//! and IPv6, quintuple rules, source port ranges, priority ties, inner access, platform rules.
//! Addresses and ports come from small pools so that rules overlap and flows hit them.

use proptest::prelude::*;
use serde_json::{json, Value};
use sgsim::compile::{CompilePolicy, Tier};
use sgsim::model::{EvalOptions, Flow, NicType, Target};
use sgsim::{Engine, Query, Snapshot};

const V4_POOL: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.9",
    "192.168.1.5",
    "8.8.8.8",
    "100.64.0.7",
    "203.0.113.5",
];
const V6_POOL: [&str; 5] = [
    "fd00::1",
    "fd00::2",
    "fd00::3",
    "2001:db8::5",
    "2001:db8::9",
];
const V4_CIDRS: [&str; 8] = [
    "0.0.0.0/0",
    "10.0.0.0/8",
    "10.0.0.0/30",
    "10.0.0.2",
    "10.0.0.8/29",
    "192.168.0.0/16",
    "8.8.8.8/32",
    "203.0.113.0/24",
];
const V6_CIDRS: [&str; 5] = [
    "::/0",
    "fd00::/64",
    "fd00::2/127",
    "2001:db8::/32",
    "2001:db8::9",
];

fn cidr(v6: bool, pick: usize) -> &'static str {
    if v6 {
        V6_CIDRS[pick % V6_CIDRS.len()]
    } else {
        V4_CIDRS[pick % V4_CIDRS.len()]
    }
}

fn port_range() -> impl Strategy<Value = String> {
    (1u16..10, 0u16..6).prop_map(|(lo, len)| format!("{lo}/{}", lo + len))
}

/// One rule as the API writes it (every field present, unset ones as "").
fn permission(
    groups: usize,
    prefix_lists: usize,
    port_lists: usize,
) -> impl Strategy<Value = Value> {
    (
        (any::<bool>(), any::<bool>(), 1u8..4, 0usize..8),
        (0usize..4, any::<usize>(), any::<bool>(), prop::option::of(port_range())),
        (0usize..3, prop::option::weighted(0.3, any::<usize>()), port_range(), 0usize..4),
        (any::<bool>(), prop::option::weighted(0.2, any::<bool>())),
    )
        .prop_map(
            move |(
                (ingress, drop, priority, protocol_pick),
                (remote_kind, pick, v6, source_ports),
                (ports_kind, local_pick, ports, port_list_pick),
                (internet, protocol_as_number),
            )| {
                let protocol = ["TCP", "UDP", "ICMP", "ICMPv6", "ALL", "GRE", "tcp", "17"][protocol_pick];
                let has_ports = matches!(protocol, "TCP" | "UDP" | "tcp" | "17");
                // icmp is IPv4 only, icmpv6 IPv6 only: keep the rule's family consistent.
                let v6 = match protocol {
                    "ICMP" => false,
                    "ICMPv6" => true,
                    _ => v6,
                };
                let protocol = match (protocol_as_number, protocol) {
                    (Some(true), "TCP") => "6",
                    _ => protocol,
                };
                let mut rule = json!({
                    "SecurityGroupRuleId": "", "Direction": if ingress { "ingress" } else { "egress" },
                    "Policy": if drop { "Drop" } else { "accept" }, "Priority": priority.to_string(),
                    "IpProtocol": protocol, "PortRange": "-1/-1", "PortRangeListId": "",
                    "SourcePortRange": "", "SourceCidrIp": "", "Ipv6SourceCidrIp": "",
                    "SourceGroupId": "", "SourcePrefixListId": "", "DestCidrIp": "",
                    "Ipv6DestCidrIp": "", "DestGroupId": "", "DestPrefixListId": "",
                    "NicType": if internet { "internet" } else { "intranet" }, "Description": "",
                });
                if has_ports {
                    match ports_kind {
                        0 | 1 => rule["PortRange"] = json!(ports),
                        _ => {
                            rule["PortRange"] = json!("");
                            // One id past the end names a missing list.
                            rule["PortRangeListId"] = json!(format!("prl-{}", port_list_pick % (port_lists + 1)));
                        }
                    }
                    if let Some(range) = source_ports {
                        rule["SourcePortRange"] = json!(range);
                    }
                }
                let (cidr_field, v6_field, group_field, list_field, local_v4, local_v6) = if ingress {
                    ("SourceCidrIp", "Ipv6SourceCidrIp", "SourceGroupId", "SourcePrefixListId", "DestCidrIp", "Ipv6DestCidrIp")
                } else {
                    ("DestCidrIp", "Ipv6DestCidrIp", "DestGroupId", "DestPrefixListId", "SourceCidrIp", "Ipv6SourceCidrIp")
                };
                // Group and prefix-list rules stay family-free unless a local CIDR or an icmp
                // protocol pins them.
                let pinned = matches!(protocol, "ICMP" | "ICMPv6");
                match remote_kind {
                    0 | 1 => rule[if v6 { v6_field } else { cidr_field }] = json!(cidr(v6, pick)),
                    2 => rule[group_field] = json!(format!("sg-{}", pick % (groups + 1))),
                    _ => {
                        if prefix_lists == 0 || pinned {
                            rule[if v6 { v6_field } else { cidr_field }] = json!(cidr(v6, pick));
                        } else {
                            // Prefix list i has family i % 2 (see `snapshot`).
                            let list = if v6 { 1 } else { 0 } + 2 * (pick % prefix_lists.div_ceil(2));
                            rule[list_field] = json!(format!("pl-{}", list.min(prefix_lists)));
                        }
                    }
                }
                if let Some(local) = local_pick {
                    let remote_is_list = rule[list_field] != json!("");
                    if !remote_is_list {
                        rule[if v6 { local_v6 } else { local_v4 }] = json!(cidr(v6, local));
                    }
                }
                rule
            },
        )
}

/// A whole snapshot JSON plus flows to ask about it.
fn snapshot_and_flows() -> impl Strategy<Value = (Value, Vec<(usize, Flow)>, EvalOptions)> {
    (1usize..5, 0usize..4, 0usize..3, any::<bool>())
        .prop_flat_map(|(groups, prefix_lists, port_lists, enterprise_world)| {
            let group = (
                prop::collection::vec(permission(groups, prefix_lists, port_lists), 0..8),
                any::<bool>(),
                prop::option::weighted(0.2, Just(())),
                any::<bool>(),
            );
            let nic = (
                prop::collection::vec(0usize..V4_POOL.len(), 0..3),
                prop::collection::vec(0usize..V6_POOL.len(), 0..2),
                prop::collection::vec(0usize..groups, 1..4),
            );
            let prefix_list = prop::collection::vec(0usize..8, 0..4);
            let port_list = prop::collection::vec(port_range(), 0..3);
            (
                prop::collection::vec(group, groups),
                prop::collection::vec(nic, 0..5),
                prop::collection::vec(prefix_list, prefix_lists),
                prop::collection::vec(port_list, port_lists),
                Just(enterprise_world),
                prop::collection::vec(flow(), 1..60),
                (any::<bool>(), prop::option::weighted(0.2, Just(()))),
            )
        })
        .prop_map(|(groups, nics, prefix_lists, port_lists, enterprise_world, flows, (platform, internet))| {
            let kinds: Vec<&str> = groups
                .iter()
                .map(|(_, enterprise, _, _)| if enterprise_world && *enterprise { "enterprise" } else { "normal" })
                .collect();
            let groups_json: Vec<Value> = groups
                .iter()
                .enumerate()
                .map(|(i, (rules, _, classic, inner_drop))| {
                    json!({
                        "SecurityGroupId": format!("sg-{i}"),
                        "SecurityGroupType": kinds[i],
                        "VpcId": if classic.is_some() { "" } else { "vpc-1" },
                        "InnerAccessPolicy": if *inner_drop { "Drop" } else { "Accept" },
                        "Permissions": {"Permission": rules},
                    })
                })
                .collect();
            let nics_json: Vec<Value> = nics
                .iter()
                .enumerate()
                .map(|(i, (v4, v6, nic_groups))| {
                    // All groups of a NIC share one type: keep those of the first group's type.
                    let first_kind = kinds[nic_groups[0]];
                    let mut ids: Vec<String> = Vec::new();
                    for &g in nic_groups {
                        let id = format!("sg-{g}");
                        if kinds[g] == first_kind && !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    json!({
                        "NetworkInterfaceId": format!("eni-{i}"),
                        "PrivateIpSets": {"PrivateIpSet": v4.iter().map(|&a| json!({"PrivateIpAddress": V4_POOL[a]})).collect::<Vec<_>>()},
                        "Ipv6Sets": {"Ipv6Set": v6.iter().map(|&a| json!({"Ipv6Address": V6_POOL[a]})).collect::<Vec<_>>()},
                        "SecurityGroupIds": {"SecurityGroupId": ids},
                    })
                })
                .collect();
            let prefix_lists_json: Vec<Value> = prefix_lists
                .iter()
                .enumerate()
                .map(|(i, picks)| {
                    let v6 = i % 2 == 1;
                    json!({
                        "PrefixListId": format!("pl-{i}"),
                        "AddressFamily": if v6 { "IPv6" } else { "IPv4" },
                        "MaxEntries": 10,
                        "Entries": {"Entry": picks.iter().map(|&p| json!({"Cidr": cidr(v6, p)})).collect::<Vec<_>>()},
                    })
                })
                .collect();
            let port_lists_json: Vec<Value> = port_lists
                .iter()
                .enumerate()
                .map(|(i, ranges)| {
                    json!({
                        "PortRangeListId": format!("prl-{i}"),
                        "MaxEntries": 5,
                        "Entries": {"Entry": ranges.iter().map(|r| json!({"PortRange": r})).collect::<Vec<_>>()},
                    })
                })
                .collect();
            let snapshot = json!({
                "SecurityGroups": groups_json,
                "NetworkInterfaces": nics_json,
                "PrefixLists": prefix_lists_json,
                "PortRangeLists": port_lists_json,
            });
            let options = EvalOptions {
                platform_rules: platform,
                nic_type: if internet.is_some() { NicType::Internet } else { NicType::Intranet },
            };
            (snapshot, flows, options)
        })
}

/// A flow on target number `usize` (reduced modulo the number of targets).
fn flow() -> impl Strategy<Value = (usize, Flow)> {
    (
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![6u8, 17, 1, 58, 47, 0]),
        (any::<usize>(), any::<usize>()),
        (
            0u16..12,
            prop::sample::select(vec![0u16, 1, 2, 3, 5, 8, 9, 12, 25]),
        ),
    )
        .prop_map(
            |(target, ingress, v6, protocol, (src, dst), (src_port, dst_port))| {
                let addr = |pick: usize| -> std::net::IpAddr {
                    if v6 {
                        V6_POOL[pick % V6_POOL.len()].parse().unwrap()
                    } else {
                        V4_POOL[pick % V4_POOL.len()].parse().unwrap()
                    }
                };
                let flow = Flow {
                    direction: if ingress {
                        sgsim::model::Direction::Ingress
                    } else {
                        sgsim::model::Direction::Egress
                    },
                    protocol,
                    src: addr(src),
                    src_port,
                    dst: addr(dst),
                    dst_port,
                };
                (target, flow)
            },
        )
}

fn targets(snapshot: &Snapshot) -> Vec<Target> {
    let mut targets: Vec<Target> = (0..snapshot.nics().len() as u32).map(Target::Nic).collect();
    targets.extend((0..snapshot.groups().len() as u32).map(Target::Group));
    targets
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Every flow gets the same verdict, reason and deciding rule from both engines.
    #[test]
    fn compiled_engine_equals_reference((snapshot_json, flows, options) in snapshot_and_flows()) {
        let snapshot = Snapshot::from_json_value(snapshot_json.clone())
            .unwrap_or_else(|err| panic!("generator made an invalid snapshot: {err}\n{snapshot_json:#}"));
        // Every tier, including the partitioned tree split down to tiny leaves.
        for tier in [Tier::Auto, Tier::Bulk, Tier::Flat, Tier::FlatDense, Tier::CrossProduct, Tier::CrossVector, Tier::CrossList, Tier::Partitioned { leaf_max_rules: 1 }, Tier::Partitioned { leaf_max_rules: 3 }] {
            let engine = Engine::builder(snapshot.clone()).options(options).tier(tier).eager().build();
            let targets = targets(engine.snapshot());
            let queries: Vec<Query> = flows
                .iter()
                .map(|(pick, flow)| Query { target: targets[pick % targets.len()], flow: *flow })
                .collect();
            // The batch runs the fastest kernel this CPU has; `check` the portable one.
            let mut batch = sgsim::bench::verdict_buffer(queries.len());
            engine.check_batch(&queries, &mut batch);
            for (query, from_batch) in queries.iter().zip(&batch) {
                let (target, flow) = (query.target, &query.flow);
                let reference = engine.check_reference(target, flow);
                prop_assert_eq!(engine.check(target, flow), reference, "{:?}: target {:?} flow {}", tier, target, flow);
                prop_assert_eq!(*from_batch, reference, "{:?} batch: target {:?} flow {}", tier, target, flow);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The lazy engines: the linear path alone (no tables ever), tables at the first flow, and
    /// tables once a group list has seen a few flows (so one batch mixes both paths). Each
    /// gives the reference's verdict, reason and deciding rule, one by one and in batches.
    #[test]
    fn lazy_engines_equal_reference((snapshot_json, flows, options) in snapshot_and_flows()) {
        let snapshot = Snapshot::from_json_value(snapshot_json.clone())
            .unwrap_or_else(|err| panic!("generator made an invalid snapshot: {err}\n{snapshot_json:#}"));
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
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use sgsim::model::Reason;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        let (json, flows, options) = snapshot_and_flows()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let engine = Engine::builder(Snapshot::from_json_value(json).unwrap())
            .options(options)
            .build();
        let targets = targets(engine.snapshot());
        for (pick, flow) in &flows {
            let verdict = engine.check_reference(targets[pick % targets.len()], flow);
            seen.insert((verdict.reason.as_str(), verdict.action));
        }
    }
    for reason in [
        Reason::Rule,
        Reason::InnerAccess,
        Reason::Default,
        Reason::Platform,
    ] {
        assert!(
            seen.iter().any(|(r, _)| *r == reason.as_str()),
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
    fn source_port_ranges_equal_reference((snapshot_json, flows, options) in snapshot_and_flows()) {
        use sgsim::analysis::open_port::by_source_port;
        let snapshot = Snapshot::from_json_value(snapshot_json).unwrap();
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
