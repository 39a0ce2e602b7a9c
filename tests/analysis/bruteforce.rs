//! The symbolic analyses against brute force. Random small snapshots use addresses and ports
//! from tiny pools, so a small *universe* of flows holds one representative of every
//! equivalence class (every boundary any rule, list, group member, inner-access peer or the
//! platform rule draws lies between two of its values). Enumerating the universe with the
//! reference evaluator must then give exactly the analyses' answers:
//! - shadowed = the rules that decide no flow;
//! - shadowed ∪ redundant ∪ restates-the-default = the rules whose removal changes no verdict
//!   on that NIC, and restating the default means the default alone takes over its flows;
//! - diff = the flows whose verdict differs between the snapshots, with the same deciders;
//! - every witness flow, re-evaluated with the engine, has the claimed verdict.

use crate::common::findings_only;
use serde_json::{json, Value};
use sgsim::analysis::audit::{audit, audit_account, exposed_regions, AuditOptions, AuditReport};
use sgsim::analysis::diff::{diff, diff_lists};
use sgsim::analysis::region::FlowPoint;
use sgsim::analysis::{flow_of, DirectionLists};
use sgsim::bench::testkit::{self, Pools, Source};
use sgsim::eval::reference;
use sgsim::model::{Direction, EvalOptions, Flow, NicType, Target};
use sgsim::rng::Rng;
use sgsim::{Engine, Snapshot};
use std::collections::BTreeSet;
use std::net::IpAddr;

// Representatives: every class boundary of `Pools::TINY` (the generator's pools for these
// tests) falls between two of them.
const UNIVERSE_PROTOCOLS: [u8; 5] = [6, 17, 1, 58, 47];
const UNIVERSE_DPORTS: [u16; 7] = [0, 1, 2, 3, 4, 5, 25];
const UNIVERSE_SPORTS: [u16; 3] = [0, 1, 3];
const UNIVERSE_V4: [&str; 7] = [
    "10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9", "8.8.8.8", "8.8.8.9",
];
const UNIVERSE_V6: [&str; 5] = ["fd00::", "fd00::1", "fd00::2", "fd00::3", "2001:db8::1"];

/// A random snapshot over the tiny pools the universe above separates.
fn random_snapshot(rng: &mut Rng) -> Value {
    testkit::snapshot(rng, &Pools::TINY)
}

/// Every representative flow of one direction (both families).
fn universe(direction: Direction) -> Vec<Flow> {
    let mut out = Vec::new();
    for addresses in [&UNIVERSE_V4[..], &UNIVERSE_V6[..]] {
        for &protocol in &UNIVERSE_PROTOCOLS {
            for &dport in &UNIVERSE_DPORTS {
                for &sport in &UNIVERSE_SPORTS {
                    for remote in addresses {
                        for local in addresses {
                            let (remote, local): (IpAddr, IpAddr) =
                                (remote.parse().unwrap(), local.parse().unwrap());
                            let (src, dst) = match direction {
                                Direction::Ingress => (remote, local),
                                Direction::Egress => (local, remote),
                            };
                            out.push(Flow {
                                direction,
                                protocol,
                                src,
                                src_port: sport,
                                dst,
                                dst_port: dport,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Every third case turns the platform rule (S13) off and every fourth asks about the internet
/// side of classic groups (S9), so all combinations are checked.
fn options_for(case: usize) -> EvalOptions {
    EvalOptions {
        platform_rules: !case.is_multiple_of(3),
        nic_type: if case.is_multiple_of(4) {
            NicType::Internet
        } else {
            NicType::Intranet
        },
    }
}

fn load(json: &Value) -> Snapshot {
    Snapshot::from_json_value(json.clone()).expect("generated snapshots are valid")
}

/// The snapshot without one rule.
fn without_rule(json: &Value, group: &str, rule: &str) -> Value {
    let mut out = json.clone();
    for g in out["SecurityGroups"].as_array_mut().unwrap() {
        if g["SecurityGroupId"] == group {
            g["Permissions"]["Permission"]
                .as_array_mut()
                .unwrap()
                .retain(|r| r["SecurityGroupRuleId"] != rule);
        }
    }
    out
}

fn all_witnesses_verified(report: &AuditReport) {
    let parts = report
        .targets
        .iter()
        .flat_map(|t| std::iter::once(t).chain(&t.variants));
    for t in parts {
        for r in t.redundant.iter().chain(&t.restates_default) {
            let w = r.witness.as_ref().expect("redundant rules carry a witness");
            assert!(w.verified, "{}: redundant witness {w:?}", t.target);
        }
        for e in &t.exposures {
            assert!(
                e.witness.verified,
                "{}: exposure witness {:?}",
                t.target, e.witness
            );
        }
    }
}

#[test]
fn audit_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut checked_rules = 0;
    let (mut shadowed_seen, mut redundant_seen) = (0, 0);
    for case in 0..150 {
        let options = options_for(case);
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        let report = audit(&engine, &AuditOptions::default());
        all_witnesses_verified(&report);
        for (nic, target_report) in report.targets.iter().enumerate() {
            let target = Target::Nic(nic as u32);
            for direction in Direction::ALL {
                let flows = universe(direction);
                let verdicts: Vec<_> = flows
                    .iter()
                    .map(|f| reference::evaluate(&snapshot, target, f, &options))
                    .collect();
                let deciding: BTreeSet<(String, String)> = verdicts
                    .iter()
                    .filter_map(|v| v.deciding_rule())
                    .map(|r| {
                        let g = snapshot.group(r.group);
                        (g.id.clone(), g.rules[r.rule as usize].id.clone())
                    })
                    .collect();
                let shadowed: BTreeSet<(String, String)> = target_report
                    .shadowed
                    .iter()
                    .filter(|s| s.direction == direction)
                    .map(|s| (s.rule.group.clone(), s.rule.rule.clone()))
                    .collect();
                let redundant: BTreeSet<(String, String)> = target_report
                    .redundant
                    .iter()
                    .chain(&target_report.restates_default)
                    .filter(|s| s.direction == direction)
                    .map(|s| (s.rule.group.clone(), s.rule.rule.clone()))
                    .collect();
                for r in &target_report.restates_default {
                    assert!(
                        r.same_as.is_empty() && r.default_agrees,
                        "case {case}: {r:?}"
                    );
                }
                for r in &target_report.redundant {
                    assert!(!r.same_as.is_empty(), "case {case}: {r:?}");
                }
                shadowed_seen += shadowed.len();
                redundant_seen += redundant.len();
                for &group in &snapshot.nic(nic as u32).groups {
                    let g = snapshot.group(group);
                    // Candidates only (S9): classic rules of the other NicType never count.
                    let candidate = |r: &&sgsim::model::Rule| {
                        r.direction == direction
                            && (!g.is_classic() || r.nic_type == options.nic_type)
                    };
                    for rule in g.rules.iter().filter(candidate) {
                        checked_rules += 1;
                        let key = (g.id.clone(), rule.id.clone());
                        assert_eq!(
                            shadowed.contains(&key),
                            !deciding.contains(&key),
                            "case {case} eni-{nic} {direction} {key:?}: shadowed?\n{json:#}"
                        );
                        let reduced = load(&without_rule(&json, &g.id, &rule.id));
                        let unchanged = flows.iter().zip(&verdicts).all(|(f, v)| {
                            reference::evaluate(&reduced, target, f, &options).action == v.action
                        });
                        assert_eq!(
                            shadowed.contains(&key) || redundant.contains(&key),
                            unchanged,
                            "case {case} eni-{nic} {direction} {key:?}: redundant?\n{json:#}"
                        );
                    }
                }
            }
        }
    }
    // The generator must exercise both answers, or the comparison proves little.
    assert!(checked_rules > 300, "{checked_rules}");
    assert!(
        shadowed_seen > 10 && redundant_seen > 10,
        "{shadowed_seen} {redundant_seen}"
    );
}

/// A random edit: change, add or remove a rule, flip a group's inner access, or move a NIC.
fn mutate(rng: &mut Rng, json: &Value) -> Value {
    let mut out = json.clone();
    let groups = out["SecurityGroups"].as_array().unwrap().len();
    let g = rng.index(groups);
    let rules = out["SecurityGroups"][g]["Permissions"]["Permission"]
        .as_array_mut()
        .unwrap();
    match rng.index(6) {
        0 if !rules.is_empty() => {
            let r = rng.index(rules.len());
            rules.remove(r);
        }
        1 if !rules.is_empty() => {
            let r = rng.index(rules.len());
            // The generator writes policies in any letter case.
            let drop = rules[r]["Policy"].as_str().unwrap_or("");
            let flip = if drop.eq_ignore_ascii_case("drop") {
                "Accept"
            } else {
                "Drop"
            };
            rules[r]["Policy"] = json!(flip);
        }
        2 if !rules.is_empty() => {
            let r = rng.index(rules.len());
            rules[r]["Priority"] = json!(1 + rng.index(3));
        }
        3 => {
            let policy = out["SecurityGroups"][g]["InnerAccessPolicy"] == "Accept";
            out["SecurityGroups"][g]["InnerAccessPolicy"] =
                json!(if policy { "Drop" } else { "Accept" });
        }
        _ => {
            let id = format!("sgr-new-{}", rng.index(1000));
            let rule = testkit::rule_for(rng, &Pools::TINY, id, json);
            let position = rng.index(rules.len() + 1);
            rules.insert(position, rule);
        }
    }
    out
}

#[test]
fn diff_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0002);
    let mut changed_flows = 0;
    for case in 0..200 {
        let options = options_for(case);
        let old_json = random_snapshot(&mut rng);
        let new_json = if case % 10 == 0 {
            old_json.clone() // no-op: must report nothing
        } else {
            mutate(&mut rng, &old_json)
        };
        let (old, new) = (load(&old_json), load(&new_json));
        let (old_engine, new_engine) = (
            Engine::builder(old.clone()).options(options).build(),
            Engine::builder(new.clone()).options(options).build(),
        );
        let report = diff(&old_engine, &new_engine);
        for t in &report.targets {
            for c in &t.changes {
                assert!(
                    c.witness_before.verified,
                    "case {case}: {:?}",
                    c.witness_before
                );
                assert!(
                    c.witness_after.verified,
                    "case {case}: {:?}",
                    c.witness_after
                );
            }
        }
        if case % 10 == 0 {
            assert!(
                report.is_empty(),
                "case {case}: a no-op diff reports {report:?}"
            );
        }
        for nic in 0..3u32 {
            let target = Target::Nic(nic);
            for direction in Direction::ALL {
                let before = DirectionLists::build(&old, &options, target, direction);
                let after = DirectionLists::build(&new, &options, target, direction);
                let v4 = diff_lists(&before.v4, &after.v4);
                let v6 = diff_lists(&before.v6, &after.v6);
                for flow in universe(direction) {
                    let b = reference::evaluate(&old, target, &flow, &options);
                    let a = reference::evaluate(&new, target, &flow, &options);
                    let claimed = match (flow.remote(), flow.local()) {
                        (IpAddr::V4(r), IpAddr::V4(l)) => {
                            let p = point(&flow, u32::from(r), u32::from(l));
                            v4.iter()
                                .find(|c| c.flows.contains(&p))
                                .map(|c| (c.from, c.to, c.before, c.after))
                        }
                        (IpAddr::V6(r), IpAddr::V6(l)) => {
                            let p = point(&flow, u128::from(r), u128::from(l));
                            v6.iter()
                                .find(|c| c.flows.contains(&p))
                                .map(|c| (c.from, c.to, c.before, c.after))
                        }
                        _ => unreachable!(),
                    };
                    let actual =
                        (b.action != a.action).then_some((b.action, a.action, b.reason, a.reason));
                    assert_eq!(claimed, actual, "case {case} eni-{nic} {flow}");
                    changed_flows += actual.is_some() as usize;
                }
                // Witnesses of the raw regions agree with the reference too.
                for c in &v4 {
                    let p = c.flows.witness(&Default::default()).unwrap();
                    let f = flow_of(direction, &p);
                    assert_eq!(
                        reference::evaluate(&old, target, &f, &options).action,
                        c.from
                    );
                    assert_eq!(reference::evaluate(&new, target, &f, &options).action, c.to);
                }
            }
        }
    }
    assert!(changed_flows > 1000, "{changed_flows}");
}

fn point<A: Copy>(flow: &Flow, remote: A, local: A) -> FlowPoint<A> {
    FlowPoint {
        protocol: flow.protocol,
        dest_port: flow.dst_port,
        source_port: flow.src_port,
        remote,
        local,
    }
}

/// Exposure with ports 2 and 3 as the sensitive ones (inside the tiny universe): a public
/// TCP/UDP flow is in a port's region exactly when the reference accepts it, and a flow is in
/// the every-port region exactly when all representative ports 1..65535 are accepted.
#[test]
fn exposure_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0003);
    let options = EvalOptions::default();
    let (mut exposed_flows, mut all_port_sources) = (0, 0);
    for case in 0..150 {
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        let audit_options = AuditOptions {
            sensitive_ports: vec![3, 2],
        };
        let report = audit(&engine, &audit_options);
        all_witnesses_verified(&report);
        for nic in 0..3u32 {
            let target = Target::Nic(nic);
            let lists = DirectionLists::build(&snapshot, &options, target, Direction::Ingress);
            let v4 = exposed_regions(&lists.v4, &audit_options.sensitive_ports);
            let v6 = exposed_regions(&lists.v6, &audit_options.sensitive_ports);
            let accepted =
                |flow: &Flow| reference::evaluate(&snapshot, target, flow, &options).is_accept();
            // Where a flow lies: the ports whose regions hold it, and the every-port region.
            let regions_holding = |flow: &Flow| -> (Vec<Option<u16>>, bool) {
                let holding: Vec<Option<u16>> = match (flow.remote(), flow.local()) {
                    (IpAddr::V4(r), IpAddr::V4(l)) => {
                        let p = point(flow, u32::from(r), u32::from(l));
                        v4.iter()
                            .filter(|e| e.flows.contains(&p))
                            .map(|e| e.port)
                            .collect()
                    }
                    (IpAddr::V6(r), IpAddr::V6(l)) => {
                        let p = point(flow, u128::from(r), u128::from(l));
                        v6.iter()
                            .filter(|e| e.flows.contains(&p))
                            .map(|e| e.port)
                            .collect()
                    }
                    _ => unreachable!(),
                };
                let all = holding.contains(&None);
                (holding.into_iter().filter(|p| p.is_some()).collect(), all)
            };
            let public = |addr: IpAddr| {
                ["8.8.8.8", "8.8.8.9", "2001:db8::1"].contains(&addr.to_string().as_str())
            };
            for flow in universe(Direction::Ingress) {
                let candidate = matches!(flow.protocol, 6 | 17) && public(flow.remote());
                let (ports, in_all) = regions_holding(&flow);
                let expected: Vec<Option<u16>> =
                    if candidate && matches!(flow.dst_port, 2 | 3) && accepted(&flow) {
                        vec![Some(flow.dst_port)]
                    } else {
                        vec![]
                    };
                assert_eq!(ports, expected, "case {case} eni-{nic} {flow}\n{json:#}");
                exposed_flows += ports.len();
                let every_port = candidate
                    && flow.dst_port != 0
                    && UNIVERSE_DPORTS.iter().filter(|&&p| p != 0).all(|&p| {
                        accepted(&Flow {
                            dst_port: p,
                            ..flow
                        })
                    });
                assert_eq!(
                    in_all, every_port,
                    "case {case} eni-{nic} {flow} (every port)\n{json:#}"
                );
                all_port_sources += every_port as usize;
            }
        }
    }
    assert!(
        exposed_flows > 100 && all_port_sources > 100,
        "{exposed_flows} {all_port_sources}"
    );
}

// ---- reach, search and explain (issue 20) ----

use sgsim::analysis::explain::explain;
use sgsim::analysis::reach::{pair_services, reach, Endpoint, ReachSelection};
use sgsim::analysis::search::{search, SearchAt, SearchSpace};
use sgsim::model::{Action, Family, Precedence};

const PUBLIC_V4: [&str; 2] = ["8.8.8.8", "8.8.8.9"];
const PUBLIC_V6: [&str; 1] = ["2001:db8::1"];

/// A NIC's first address of a family, as the generator wrote it.
fn nic_address(snapshot: &Snapshot, nic: u32, family: Family) -> Option<IpAddr> {
    snapshot
        .nic(nic)
        .addresses
        .iter()
        .copied()
        .find(|a| Family::of_addr(a) == family)
}

/// Which representative services the reference lets through from `src` to `dst`: egress at
/// `from` (when a NIC), ingress at `to` (when a NIC).
fn reference_services(
    snapshot: &Snapshot,
    options: &EvalOptions,
    (from, src): (Option<u32>, IpAddr),
    (to, dst): (Option<u32>, IpAddr),
) -> BTreeSet<(u8, u16, u16)> {
    let mut out = BTreeSet::new();
    for &protocol in &UNIVERSE_PROTOCOLS {
        for &dst_port in &UNIVERSE_DPORTS {
            for &src_port in &UNIVERSE_SPORTS {
                let flow = |direction| Flow {
                    direction,
                    protocol,
                    src,
                    src_port,
                    dst,
                    dst_port,
                };
                let egress = from.is_none_or(|a| {
                    reference::evaluate(snapshot, Target::Nic(a), &flow(Direction::Egress), options)
                        .is_accept()
                });
                let ingress = to.is_none_or(|b| {
                    reference::evaluate(
                        snapshot,
                        Target::Nic(b),
                        &flow(Direction::Ingress),
                        options,
                    )
                    .is_accept()
                });
                if egress && ingress {
                    out.insert((protocol, dst_port, src_port));
                }
            }
        }
    }
    out
}

fn services_points(services: &sgsim::analysis::services::Services) -> BTreeSet<(u8, u16, u16)> {
    let mut out = BTreeSet::new();
    for &p in &UNIVERSE_PROTOCOLS {
        for &d in &UNIVERSE_DPORTS {
            for &s in &UNIVERSE_SPORTS {
                if services.contains(p, d, s) {
                    out.insert((p, d, s));
                }
            }
        }
    }
    out
}

/// Every answer of `reach` (through its classes and edges) and of `pair_services` equals the
/// enumeration: NIC to NIC from first address to first address, and the internet as any
/// public representative. NICs whose enumerated answers make them interchangeable share a
/// class.
#[test]
fn reach_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0004);
    let (mut allowed_pairs, mut shared_classes) = (0, 0);
    for case in 0..120 {
        let options = options_for(case);
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        let report = reach(&engine, &ReachSelection::default());
        let nics = snapshot.nics().len() as u32;
        // answers[(from, to, family)] by enumeration; ends are NIC indexes, `nics` = internet.
        let mut answers = std::collections::BTreeMap::new();
        for family in [Family::V4, Family::V6] {
            let public = match family {
                Family::V4 => &PUBLIC_V4[..],
                Family::V6 => &PUBLIC_V6[..],
            };
            for from in 0..=nics {
                for to in 0..=nics {
                    if from == to {
                        continue;
                    }
                    let ends = |end: u32| -> Vec<(Option<u32>, IpAddr)> {
                        if end == nics {
                            public.iter().map(|a| (None, a.parse().unwrap())).collect()
                        } else {
                            nic_address(&snapshot, end, family)
                                .map(|a| (Some(end), a))
                                .into_iter()
                                .collect()
                        }
                    };
                    let mut expected = BTreeSet::new();
                    for &(a, src) in &ends(from) {
                        for &(b, dst) in &ends(to) {
                            expected.extend(reference_services(
                                &snapshot,
                                &options,
                                (a, src),
                                (b, dst),
                            ));
                        }
                    }
                    let end = |e: u32| {
                        if e == nics {
                            Endpoint::Internet
                        } else {
                            Endpoint::Nic(e)
                        }
                    };
                    let (f, t) = (end(from), end(to));
                    let reported = services_points(&report.services(f, t, family));
                    assert_eq!(
                        reported, expected,
                        "case {case} {family:?} {f:?} -> {t:?} (report)\n{json:#}"
                    );
                    let direct = match family {
                        Family::V4 => pair_services::<u32>(&engine, f, t),
                        Family::V6 => pair_services::<u128>(&engine, f, t),
                    };
                    assert_eq!(services_points(&direct), expected, "case {case} direct");
                    allowed_pairs += !expected.is_empty() as usize;
                    answers.insert((from, to, family), expected);
                }
            }
        }
        // Interchangeable NICs (same answers with every third end, same answer both ways
        // between them) must share a class.
        for a in 0..nics {
            for b in a + 1..nics {
                let same = [Family::V4, Family::V6].iter().all(|&family| {
                    answers[&(a, b, family)] == answers[&(b, a, family)]
                        && (0..=nics).filter(|&c| c != a && c != b).all(|c| {
                            answers[&(a, c, family)] == answers[&(b, c, family)]
                                && answers[&(c, a, family)] == answers[&(c, b, family)]
                        })
                });
                let together =
                    report.class_of(a).map(|c| &c.id) == report.class_of(b).map(|c| &c.id);
                assert_eq!(
                    together, same,
                    "case {case} eni-{a} eni-{b} same class?\n{json:#}"
                );
                shared_classes += together as usize;
            }
        }
    }
    assert!(
        allowed_pairs > 500 && shared_classes > 20,
        "{allowed_pairs} {shared_classes}"
    );
}

/// A random search space: addresses from the pools or none, maybe a protocol and port ranges.
fn random_space(rng: &mut Rng) -> SearchSpace {
    let v6 = rng.percent(30);
    let cidr = |rng: &mut Rng| -> Option<ipnet::IpNet> {
        if rng.percent(50) {
            return None;
        }
        let text = if v6 {
            *rng.pick(Pools::TINY.v6_nets)
        } else {
            *rng.pick(Pools::TINY.v4_nets)
        };
        // Single addresses in the pools are written without a prefix length.
        Some(
            text.parse()
                .unwrap_or_else(|_| ipnet::IpNet::from(text.parse::<IpAddr>().unwrap())),
        )
    };
    // Ranges whose ends fall on the universe's class boundaries, so that every class inside
    // the space keeps a representative.
    let ports = |rng: &mut Rng, choices: &[(u16, u16)]| rng.percent(40).then(|| *rng.pick(choices));
    let dst_ports = ports(
        rng,
        &[(0, 0), (1, 2), (2, 3), (1, 4), (25, 25), (5, 65535), (0, 3)],
    );
    let src_ports = ports(rng, &[(0, 0), (1, 2), (0, 2), (3, 65535), (1, 65535)]);
    SearchSpace {
        src: cidr(rng),
        dst: cidr(rng),
        protocol: rng.percent(50).then(|| *rng.pick(&UNIVERSE_PROTOCOLS)),
        dst_ports,
        src_ports,
    }
}

/// Does a flow lie in the space? The NIC's own side defaults to its addresses.
fn in_space(
    space: &SearchSpace,
    flow: &Flow,
    src_default: &[IpAddr],
    dst_default: &[IpAddr],
) -> bool {
    let addr_ok = |net: &Option<ipnet::IpNet>, addr: IpAddr, default: &[IpAddr]| match net {
        Some(net) => net.contains(&addr),
        None => default.is_empty() || default.contains(&addr),
    };
    let range_ok = |r: Option<(u16, u16)>, v: u16| r.is_none_or(|(lo, hi)| lo <= v && v <= hi);
    addr_ok(&space.src, flow.src, src_default)
        && addr_ok(&space.dst, flow.dst, dst_default)
        && space.protocol.is_none_or(|p| p == flow.protocol)
        && range_ok(space.dst_ports, flow.dst_port)
        && range_ok(space.src_ports, flow.src_port)
}

/// `search` finds exactly the flows of the space with the verdict, with the reference's
/// deciders, at one NIC and for connections; every witness lies in the space and was
/// re-checked with the engine.
#[test]
fn search_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0005);
    let (mut found_flows, mut empty_answers) = (0, 0);
    for case in 0..150 {
        let options = options_for(case);
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        for _ in 0..4 {
            let space = random_space(&mut rng);
            let verdict = if rng.percent(50) {
                Action::Accept
            } else {
                Action::Drop
            };
            let (a, b) = (rng.index(3) as u32, rng.index(3) as u32);
            let connection = rng.percent(40);
            let direction = *rng.pick(&Direction::ALL);
            let at = if connection {
                SearchAt::Connection(a, b)
            } else {
                SearchAt::Target(Target::Nic(a), direction)
            };
            let report = search(&engine, at, &space, verdict).unwrap();
            let own = |n: u32| snapshot.nic(n).addresses.clone();
            let (src_default, dst_default) = match at {
                SearchAt::Connection(..) => (own(a), own(b)),
                SearchAt::Target(_, Direction::Ingress) => (Vec::new(), own(a)),
                SearchAt::Target(_, Direction::Egress) => (own(a), Vec::new()),
            };
            for region in &report.regions {
                assert!(region.verified, "case {case}: {:?}", region.witnesses);
                let w = &region.witnesses.last().unwrap().raw;
                assert!(
                    in_space(&space, w, &src_default, &dst_default),
                    "case {case}: witness {w} outside"
                );
            }
            let mut any = false;
            for flow in universe(Direction::Ingress) {
                if !in_space(&space, &flow, &src_default, &dst_default) {
                    continue;
                }
                let flow_at = |d| Flow {
                    direction: d,
                    ..flow
                };
                let (expected, deciders) = match at {
                    SearchAt::Connection(a, b) => {
                        let e = reference::evaluate(
                            &snapshot,
                            Target::Nic(a),
                            &flow_at(Direction::Egress),
                            &options,
                        );
                        let i = reference::evaluate(
                            &snapshot,
                            Target::Nic(b),
                            &flow_at(Direction::Ingress),
                            &options,
                        );
                        let both = if e.is_accept() && i.is_accept() {
                            Action::Accept
                        } else {
                            Action::Drop
                        };
                        (
                            both == verdict,
                            vec![e.reason.name(&snapshot), i.reason.name(&snapshot)],
                        )
                    }
                    SearchAt::Target(target, d) => {
                        let v = reference::evaluate(&snapshot, target, &flow_at(d), &options);
                        (v.action == verdict, vec![v.reason.name(&snapshot)])
                    }
                };
                let holding: Vec<_> = report
                    .regions
                    .iter()
                    .filter(|r| r.contains(&flow))
                    .collect();
                assert!(holding.len() <= 1, "case {case}: regions overlap at {flow}");
                assert_eq!(
                    holding.len() == 1,
                    expected,
                    "case {case} {at:?} {flow} verdict {verdict}\n{space:?}\n{json:#}"
                );
                if let Some(region) = holding.first() {
                    let claimed: Vec<String> =
                        region.sides.iter().map(|s| s.decided_by.clone()).collect();
                    assert_eq!(claimed, deciders, "case {case} {flow}");
                    found_flows += 1;
                }
                any |= expected;
            }
            assert_eq!(report.found, !report.regions.is_empty());
            if !any {
                // The universe holds a representative of every class: no representative means no flow.
                assert!(
                    !report.found,
                    "case {case}: found {:?} but no representative",
                    report.regions[0].witnesses
                );
                empty_answers += 1;
            }
        }
    }
    assert!(
        found_flows > 5000 && empty_answers > 20,
        "{found_flows} {empty_answers}"
    );
}

/// `explain` lists exactly the candidate rules the reference says match, in S10 order; the
/// first decides unless platform or inner access came first, as the reference says.
#[test]
fn explain_matches_brute_force() {
    let mut rng = Rng::new(0x5eed_0006);
    let mut listed = 0;
    for case in 0..40 {
        let options = options_for(case);
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        for nic in 0..3u32 {
            let target = Target::Nic(nic);
            for direction in Direction::ALL {
                for flow in universe(direction).into_iter().step_by(7) {
                    let e = explain(&engine, target, &flow);
                    let mut expected = Vec::new();
                    for (gp, &g) in snapshot.nic(nic).groups.iter().enumerate() {
                        let group = snapshot.group(g);
                        for (rp, rule) in group.rules.iter().enumerate() {
                            let candidate =
                                !group.is_classic() || rule.nic_type == options.nic_type;
                            if candidate && reference::rule_matches(&snapshot, rule, &flow) {
                                expected.push((
                                    Precedence::of(rule, gp, rp),
                                    group.id.clone(),
                                    rule.id.clone(),
                                ));
                            }
                        }
                    }
                    expected.sort();
                    let expected: Vec<(String, String)> =
                        expected.into_iter().map(|(_, g, r)| (g, r)).collect();
                    let got: Vec<(String, String)> = e
                        .rules
                        .iter()
                        .map(|r| (r.security_group_id.clone(), r.rule_id.clone()))
                        .collect();
                    assert_eq!(got, expected, "case {case} eni-{nic} {flow}\n{json:#}");
                    let v = reference::evaluate(&snapshot, target, &flow, &options);
                    assert_eq!(e.verdict, v.action, "case {case} {flow}");
                    assert_eq!(e.decider, v.reason, "case {case} {flow}");
                    let deciding = e.rules.iter().filter(|r| r.decides).count();
                    assert_eq!(deciding, usize::from(v.deciding_rule().is_some()));
                    assert!(e
                        .rules
                        .iter()
                        .all(|r| r.decides == r.lost_because.is_empty()));
                    assert_eq!(e.steps.iter().filter(|s| s.decides).count(), 1);
                    listed += e.rules.len();
                }
            }
        }
    }
    assert!(listed > 3000, "{listed}");
}

/// The account-scale audit reports each NIC exactly once, and what it reports for a NIC is
/// what auditing that NIC alone finds (witnesses aside), on the random snapshots above.
#[test]
fn account_audit_equals_per_nic_audit() {
    let mut rng = Rng::new(0x5eed_0004);
    let mut shared = 0;
    for case in 0..150 {
        let options = options_for(case);
        let json = random_snapshot(&mut rng);
        let snapshot = load(&json);
        let engine = Engine::builder(snapshot.clone()).options(options).build();
        let per_nic = audit(&engine, &AuditOptions::default());
        let account = audit_account(&engine, &AuditOptions::default());
        all_witnesses_verified(&account);
        let mut seen = BTreeSet::new();
        for report in &account.targets {
            assert_eq!(report.applies_to[0], report.target);
            shared += report.applies_to.len() - 1;
            for nic in &report.applies_to {
                assert!(
                    seen.insert(nic.clone()),
                    "case {case}: {nic} reported twice"
                );
                let alone = per_nic
                    .targets
                    .iter()
                    .find(|t| &t.target == nic)
                    .expect("every NIC has a per-NIC report");
                assert_eq!(
                    findings_only(&account.findings_of(nic).unwrap()),
                    findings_only(alone),
                    "case {case}: {nic} as part of {}\n{json:#}",
                    report.target
                );
            }
        }
        assert_eq!(seen.len(), per_nic.targets.len(), "case {case}");
    }
    assert!(shared > 20, "NICs sharing a report: {shared}");
}
