//! `sgsim audit`: per target and direction, the rules that can never decide a flow (shadowed),
//! the rules whose removal changes no verdict (redundant), the public exposure of sensitive
//! ports, and the limits of S19 and dangling references.
//!
//! Definitions (each exact over the whole five-tuple space, both families):
//! - **shadowed**: the entries before the rule in S14/S10 order (platform, inner access, rules
//!   of lower rank) hold every flow it matches, so it decides none. A rule that matches no flow
//!   at all (a missing list or group, a group without members) is shadowed with no cover and
//!   `unmatchable` set.
//! - **redundant**: not shadowed, but every flow it decides gets the same action without it —
//!   from the later rules it falls through to, or from them and the default. Shadowed rules
//!   are also redundant; they are listed once, as shadowed.
//! - **restates the default**: not shadowed, and every flow it decides falls through to the
//!   default, which has the same action (an explicit deny of what is denied anyway). Its own,
//!   lower-severity finding: such a rule often documents intent, unlike a dead rule.
//! - **exposure**: ingress TCP/UDP from public addresses (outside RFC 1918, 100.64.0.0/10,
//!   169.254.0.0/16, fc00::/7 and fe80::/10) that is accepted on a sensitive port, or on every
//!   port 1..65535 for some source. Only families the NIC has an address of are reported, and
//!   the witness goes to one of the NIC's own addresses (no finding when none is in the region).
//!
//! At account scale ([`audit_account`]) NICs whose findings are provably the same are audited
//! once and reported once with the list of NICs they apply to (see [`audit_account`]).

use super::region::{FlowBox, Intervals, Region};
use super::{
    flow_of, own_addresses, preferred_for, targets, DecisionList, DirectionLists, FamilyKey, Piece,
    RegionText, Witness,
};
use crate::model::Reason;
use crate::model::{
    proto, Action, DestPorts, Direction, EvalOptions, RemoteObject, RuleRef, Snapshot, Target,
};
use crate::Engine;
use serde::Serialize;
use std::collections::BTreeMap;

/// Ports whose exposure to public sources is reported by default.
pub const DEFAULT_SENSITIVE_PORTS: [u16; 10] =
    [22, 3389, 3306, 5432, 6379, 27017, 9200, 11211, 2375, 5900];

/// S19: at most this many rules across the groups of one NIC.
pub const NIC_RULE_QUOTA: u64 = 1000;

/// Not public, for exposure: RFC 1918, shared address space, link-local.
pub const NON_PUBLIC_V4: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
];
/// Not public, for exposure: unique local and link-local IPv6.
pub const NON_PUBLIC_V6: [&str; 2] = ["fc00::/7", "fe80::/10"];

#[derive(Clone, Debug)]
/// What an audit looks for.
pub struct AuditOptions {
    /// Destination ports reported when public sources reach them.
    pub sensitive_ports: Vec<u16>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            sensitive_ports: DEFAULT_SENSITIVE_PORTS.to_vec(),
        }
    }
}

/// The whole audit of a snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// One report per target, or per set of NICs with the same findings (account audits).
    pub targets: Vec<TargetAudit>,
    /// Account audits: rules shadowed for every NIC that carries their group, when those NICs
    /// span several reports: each is listed here once, not in every report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed_everywhere: Vec<ShadowedEverywhere>,
}

/// A rule shadowed in every report whose NICs carry its group (see
/// [`AuditReport::shadowed_everywhere`]).
#[derive(Clone, Debug, Serialize)]
pub struct ShadowedEverywhere {
    /// The rule's direction.
    pub direction: Direction,
    /// The rule.
    pub rule: RuleName,
    /// What decides its flows instead, by the reports where that is the same.
    pub covered: Vec<Covering>,
    /// How many NICs carry the rule's group.
    pub nics: usize,
}

/// What shadows a rule in some reports.
#[derive(Clone, Debug, Serialize)]
pub struct Covering {
    /// As [`ShadowedRule::covered_by`].
    pub covered_by: Vec<String>,
    /// It matches no flow at all.
    pub unmatchable: bool,
    /// The reports (by their `target`) where this holds.
    pub reports: Vec<String>,
}

impl AuditReport {
    /// A report for targets audited one by one.
    pub fn of_targets(targets: Vec<TargetAudit>) -> AuditReport {
        AuditReport {
            targets,
            shadowed_everywhere: Vec::new(),
        }
    }

    /// The whole findings of `nic`: its report's ([`TargetAudit::findings_of`]) and the rules
    /// shadowed everywhere that it carries.
    pub fn findings_of(&self, nic: &str) -> Option<TargetAudit> {
        let (report, mut findings) = self
            .targets
            .iter()
            .find_map(|t| Some((t, t.findings_of(nic)?)))?;
        for s in &self.shadowed_everywhere {
            if let Some(c) = s
                .covered
                .iter()
                .find(|c| c.reports.contains(&report.target))
            {
                findings.shadowed.push(ShadowedRule {
                    direction: s.direction,
                    rule: s.rule.clone(),
                    covered_by: c.covered_by.clone(),
                    unmatchable: c.unmatchable,
                });
            }
        }
        Some(findings)
    }
}

/// The audit of one NIC (or bare group), or of several NICs with the same findings.
#[derive(Clone, Debug, Serialize)]
pub struct TargetAudit {
    /// The NIC audited (whose addresses the witnesses use).
    pub target: String,
    /// Every NIC these findings hold for, `target` first.
    pub applies_to: Vec<String>,
    /// Rules that never decide a flow: earlier entries take all of theirs.
    pub shadowed: Vec<ShadowedRule>,
    /// Rules whose flows would get the same verdict without them.
    pub redundant: Vec<RedundantRule>,
    /// Rules whose flows the default decides the same way without them.
    pub restates_default: Vec<RedundantRule>,
    /// Public sources accepted on a sensitive port, or on every port.
    pub exposures: Vec<Exposure>,
    /// S19 quota and dangling references (to missing groups, prefix lists or port lists).
    pub limits: Vec<Limit>,
    /// Account audits: NICs of `applies_to` whose groups are the same but that have further
    /// findings (each variant lists only those; its NICs also have everything above).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<TargetAudit>,
}

impl TargetAudit {
    /// The whole findings of `nic` (one of `applies_to`): these, plus its variant's.
    pub fn findings_of(&self, nic: &str) -> Option<TargetAudit> {
        if !self.applies_to.iter().any(|n| n == nic) {
            return None;
        }
        let mut all = TargetAudit {
            variants: Vec::new(),
            ..self.clone()
        };
        if let Some(variant) = self
            .variants
            .iter()
            .find(|v| v.applies_to.iter().any(|n| n == nic))
        {
            all.shadowed.extend(variant.shadowed.iter().cloned());
            all.redundant.extend(variant.redundant.iter().cloned());
            all.restates_default
                .extend(variant.restates_default.iter().cloned());
            all.exposures.extend(variant.exposures.iter().cloned());
            all.limits.extend(variant.limits.iter().cloned());
        }
        Some(all)
    }
}

/// A finding as JSON without its witness: two NICs "have the same finding" when these agree.
fn finding_key(finding: &impl Serialize) -> String {
    let mut value = serde_json::to_value(finding).expect("findings serialize");
    if let serde_json::Value::Object(map) = &mut value {
        map.remove("witness");
    }
    value.to_string()
}

/// Merges reports of NICs with the same groups into one: the findings all of them have, with
/// each report's other findings as a variant.
fn merge_same_groups(mut reports: Vec<TargetAudit>) -> TargetAudit {
    fn common<T: Serialize + Clone>(
        reports: &mut [TargetAudit],
        list: fn(&mut TargetAudit) -> &mut Vec<T>,
    ) -> Vec<T> {
        let mut counts: std::collections::HashMap<String, usize> = Default::default();
        for report in reports.iter_mut() {
            let keys: std::collections::HashSet<String> =
                list(report).iter().map(finding_key).collect();
            for key in keys {
                *counts.entry(key).or_default() += 1;
            }
        }
        let total = reports.len();
        let everywhere = |key: &String| counts.get(key) == Some(&total);
        let shared: Vec<T> = list(&mut reports[0])
            .iter()
            .filter(|f| everywhere(&finding_key(*f)))
            .cloned()
            .collect();
        let shared_keys: std::collections::HashSet<String> =
            shared.iter().map(finding_key).collect();
        for report in reports.iter_mut() {
            list(report).retain(|f| !shared_keys.contains(&finding_key(f)));
        }
        shared
    }
    if reports.len() == 1 {
        return reports.pop().expect("one report");
    }
    let mut merged = TargetAudit {
        target: reports[0].target.clone(),
        applies_to: reports.iter().flat_map(|r| r.applies_to.clone()).collect(),
        shadowed: common(&mut reports, |r| &mut r.shadowed),
        redundant: common(&mut reports, |r| &mut r.redundant),
        restates_default: common(&mut reports, |r| &mut r.restates_default),
        exposures: common(&mut reports, |r| &mut r.exposures),
        limits: common(&mut reports, |r| &mut r.limits),
        variants: Vec::new(),
    };
    merged.variants = reports
        .into_iter()
        .filter(|r| {
            !(r.shadowed.is_empty()
                && r.redundant.is_empty()
                && r.restates_default.is_empty()
                && r.exposures.is_empty()
                && r.limits.is_empty())
        })
        .collect();
    merged
}

/// A rule named for reports.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RuleName {
    /// The group's id.
    pub group: String,
    /// The rule's id.
    pub rule: String,
    /// The rule's priority: 1 (decided first) to 100, or the legacy 110.
    pub priority: u8,
    /// The rule in words: `accept tcp 22/22 from 0.0.0.0/0`.
    pub summary: String,
    #[serde(skip)]
    /// The rule's index in the snapshot (not serialized).
    pub rule_ref: RuleRef,
}

impl RuleName {
    pub(crate) fn of(snapshot: &Snapshot, rule_ref: RuleRef) -> RuleName {
        let group = snapshot.group(rule_ref.group);
        let rule = &group.rules[rule_ref.rule as usize];
        RuleName {
            group: group.id.clone(),
            rule: rule.id.clone(),
            priority: rule.priority,
            summary: rule.summary(),
            rule_ref,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
/// A rule that never decides a flow (see `docs/analysis.md`, "Shadowed").
pub struct ShadowedRule {
    /// The rule's direction.
    pub direction: Direction,
    /// The rule.
    pub rule: RuleName,
    /// What decides its flows instead, in rank order (`sg/sgr`, `inner_access`, `platform`).
    pub covered_by: Vec<String>,
    /// It matches no flow at all.
    pub unmatchable: bool,
}

#[derive(Clone, Debug, Serialize)]
/// A rule whose flows would get the same verdict without it (see `docs/analysis.md`,
/// "Redundant").
pub struct RedundantRule {
    /// The rule's direction.
    pub direction: Direction,
    /// The rule.
    pub rule: RuleName,
    /// Why: what decides its flows, with the same action, once it is gone.
    pub reason: String,
    /// The later rules that take over its flows.
    pub same_as: Vec<String>,
    /// Part of its flows fall through to the default, which has the same action.
    pub default_agrees: bool,
    /// A flow the rule decides now (so it is not shadowed), checked with the engine.
    pub witness: Option<Witness>,
}

#[derive(Clone, Debug, Serialize)]
/// Public sources reaching a target on a sensitive port, or on every port (ingress only).
pub struct Exposure {
    /// Always `ingress`.
    pub direction: Direction,
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// `22`, or `all` for every port 1..65535.
    pub ports: String,
    /// The accepted public flows.
    pub region: RegionText,
    /// What accepts them.
    pub accepted_by: Vec<String>,
    /// One accepted flow, re-checked with the engine.
    pub witness: Witness,
}

#[derive(Clone, Debug, Serialize)]
/// A limit or dangling reference found in the rules.
pub struct Limit {
    /// `quota`, `empty_group`, `missing_group`, `memberless_group`, `missing_prefix_list`,
    /// `missing_port_list`.
    pub kind: &'static str,
    /// The finding in words.
    pub message: String,
    /// The group concerned, when one is.
    pub group: Option<String>,
    /// The rule concerned, when one is.
    pub rule: Option<String>,
}

/// What one family says about one rule.
#[derive(Clone, Debug)]
enum FamilyFinding {
    /// The rule is not in this family's list (it cannot match the family).
    Absent,
    Shadowed(Vec<Reason>),
    Redundant {
        same_as: Vec<Reason>,
        default_agrees: bool,
        witness: WitnessPoint,
    },
    /// Removing it flips this flow.
    Needed,
}

/// A witness flow with its claimed verdict, before the engine checks it.
#[derive(Clone, Copy, Debug)]
struct WitnessPoint {
    flow: crate::model::Flow,
    action: Action,
    decider: Reason,
}

/// Audits every target of the snapshot.
pub fn audit(engine: &Engine, options: &AuditOptions) -> AuditReport {
    let snapshot = engine.snapshot();
    AuditReport::of_targets(
        targets(snapshot)
            .into_iter()
            .map(|target| audit_target(engine, target, options))
            .collect(),
    )
}

/// Audits a whole account: NICs that provably get the same findings are audited once, and
/// reported once with [`TargetAudit::applies_to`] listing them (the witnesses are the first
/// NIC's). Each report holds exactly what [`audit_target`] finds for each NIC it lists, but
/// the witnesses. Two NICs share a report when they carry the same groups in the same order,
/// have addresses of the same families, and:
/// - when a rule of their groups names a local CIDR, have the same addresses;
/// - when their groups give inner access, each own address that is not its own peer (S11) is
///   excluded from the peers exactly like the other's: same family, same membership in every
///   rule's remote side and in the platform's and the audit's public ranges, and (when
///   public) the same address. Swapping such addresses maps one NIC's decision lists onto the
///   other's, so every rule's finding is the same.
pub fn audit_account(engine: &Engine, options: &AuditOptions) -> AuditReport {
    use rayon::prelude::*;
    let snapshot = engine.snapshot();
    let mut order: Vec<SharingKey> = Vec::new();
    let mut members: std::collections::HashMap<SharingKey, Vec<Target>> =
        std::collections::HashMap::new();
    for target in targets(snapshot) {
        let key = sharing_key(snapshot, engine.options(), target);
        let entry = members.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(target);
    }
    let shared: Vec<Vec<Target>> = order
        .into_iter()
        .map(|key| members.remove(&key).expect("every key has its targets"))
        .collect();
    let reports: Vec<TargetAudit> = shared
        .par_iter()
        .map(|group| {
            let mut report = audit_target(engine, group[0], options);
            report.applies_to = group
                .iter()
                .map(|&t| snapshot.target_id(t).to_string())
                .collect();
            report
        })
        .collect();
    // Reports of NICs with the same groups mostly agree (they differ where a NIC's own address
    // sits differently among the rules): one report per group list, the rest as variants.
    let mut by_groups: Vec<(&[crate::model::GroupIndex], Vec<TargetAudit>)> = Vec::new();
    let mut index_of: std::collections::HashMap<&[crate::model::GroupIndex], usize> =
        Default::default();
    for (report, group) in reports.into_iter().zip(&shared) {
        let groups = snapshot.target_groups(group[0]);
        let index = *index_of.entry(groups).or_insert_with(|| {
            by_groups.push((groups, Vec::new()));
            by_groups.len() - 1
        });
        by_groups[index].1.push(report);
    }
    let group_lists: Vec<&[crate::model::GroupIndex]> = by_groups.iter().map(|(g, _)| *g).collect();
    let mut targets: Vec<TargetAudit> = by_groups
        .into_par_iter()
        .map(|(_, reports)| merge_same_groups(reports))
        .collect();
    let shadowed_everywhere = take_shadowed_everywhere(&mut targets, &group_lists);
    AuditReport {
        targets,
        shadowed_everywhere,
    }
}

/// Moves out of `reports` (one per group list, `group_lists[i]` being report i's) each rule
/// that is shadowed for every NIC of every report that carries its group, when there are
/// several such reports, and lists it once instead.
fn take_shadowed_everywhere(
    reports: &mut [TargetAudit],
    group_lists: &[&[crate::model::GroupIndex]],
) -> Vec<ShadowedEverywhere> {
    use std::collections::HashMap;
    let mut carrying: HashMap<crate::model::GroupIndex, Vec<usize>> = HashMap::new();
    for (i, groups) in group_lists.iter().enumerate() {
        for &g in groups.iter() {
            carrying.entry(g).or_default().push(i);
        }
    }
    // Per rule and direction: the reports whose common part (all their NICs) has it shadowed.
    let mut found: HashMap<(RuleRef, Direction), Vec<usize>> = HashMap::new();
    for (i, report) in reports.iter().enumerate() {
        for s in &report.shadowed {
            found
                .entry((s.rule.rule_ref, s.direction))
                .or_default()
                .push(i);
        }
    }
    let mut everywhere: Vec<((RuleRef, Direction), Vec<usize>)> = found
        .into_iter()
        .filter(|((rule, _), found_in)| {
            found_in.len() > 1 && carrying.get(&rule.group) == Some(found_in)
        })
        .collect();
    everywhere.sort_by_key(|(id, _)| *id);
    everywhere
        .into_iter()
        .map(|((rule_ref, direction), found_in)| {
            let mut rule = None;
            let mut covered: Vec<Covering> = Vec::new();
            for &i in &found_in {
                let report = &mut reports[i];
                let at = report
                    .shadowed
                    .iter()
                    .position(|s| s.rule.rule_ref == rule_ref && s.direction == direction)
                    .expect("found in this report");
                let s = report.shadowed.remove(at);
                match covered
                    .iter_mut()
                    .find(|c| c.covered_by == s.covered_by && c.unmatchable == s.unmatchable)
                {
                    Some(c) => c.reports.push(report.target.clone()),
                    None => covered.push(Covering {
                        covered_by: s.covered_by,
                        unmatchable: s.unmatchable,
                        reports: vec![report.target.clone()],
                    }),
                }
                rule.get_or_insert(s.rule);
            }
            ShadowedEverywhere {
                direction,
                rule: rule.expect("found in at least two reports"),
                covered,
                nics: found_in.iter().map(|&i| reports[i].applies_to.len()).sum(),
            }
        })
        .collect()
}

/// What decides whether two targets share their findings (see [`audit_account`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SharingKey {
    Group(u32),
    Nic {
        groups: Vec<crate::model::GroupIndex>,
        families: (bool, bool),
        /// The NIC's addresses, when a rule of its groups names a local CIDR.
        addresses: Vec<std::net::IpAddr>,
        /// Per own address that is not a peer: its class (sorted).
        not_peers: Vec<AddressClass>,
    },
}

/// How an address sits among a group list's rules (see [`audit_account`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct AddressClass {
    v6: bool,
    /// The address itself when public (exposures look at public sources).
    public: Option<std::net::IpAddr>,
    platform_private: bool,
    /// Per candidate rule of the group list (both directions): its remote side holds it.
    in_rules: Vec<bool>,
}

fn sharing_key(snapshot: &Snapshot, options: &EvalOptions, target: Target) -> SharingKey {
    let Target::Nic(nic_index) = target else {
        let Target::Group(group) = target else {
            unreachable!()
        };
        return SharingKey::Group(group);
    };
    let nic = snapshot.nic(nic_index);
    let candidates: Vec<&crate::model::Rule> = Direction::ALL
        .iter()
        .flat_map(|&d| crate::compile::ranked_candidates(snapshot, target, d, options))
        .map(|(_, rule)| rule)
        .collect();
    let addresses = if candidates.iter().any(|r| r.local.is_some()) {
        let mut a = nic.addresses.clone();
        a.sort_unstable();
        a
    } else {
        Vec::new()
    };
    let (peers_v4, peers_v6) = crate::compile::inner_peers(snapshot, nic_index);
    let gives_inner = nic
        .groups
        .iter()
        .any(|&g| snapshot.group(g).gives_inner_access());
    let mut not_peers: Vec<AddressClass> = Vec::new();
    if gives_inner {
        for &addr in &nic.addresses {
            let peer = match addr {
                std::net::IpAddr::V4(a) => peers_v4.binary_search(&u32::from(a)).is_ok(),
                std::net::IpAddr::V6(a) => peers_v6.binary_search(&u128::from(a)).is_ok(),
            };
            if peer {
                continue;
            }
            let public = match addr {
                std::net::IpAddr::V4(a) => public_addresses::<u32>().contains(u32::from(a)),
                std::net::IpAddr::V6(a) => public_addresses::<u128>().contains(u128::from(a)),
            };
            not_peers.push(AddressClass {
                v6: addr.is_ipv6(),
                public: public.then_some(addr),
                platform_private: match addr {
                    std::net::IpAddr::V4(a) => crate::model::semantics::is_platform_private(a),
                    std::net::IpAddr::V6(_) => false,
                },
                in_rules: candidates
                    .iter()
                    .map(|rule| remote_holds(snapshot, &rule.remote, addr))
                    .collect(),
            });
        }
        not_peers.sort();
    }
    SharingKey::Nic {
        groups: nic.groups.clone(),
        families: (
            nic.addresses.iter().any(|a| a.is_ipv4()),
            nic.addresses.iter().any(|a| a.is_ipv6()),
        ),
        addresses,
        not_peers,
    }
}

/// S5–S7: the rule's remote side holds `addr`.
fn remote_holds(snapshot: &Snapshot, remote: &RemoteObject, addr: std::net::IpAddr) -> bool {
    match remote {
        RemoteObject::Cidr(net) => net.contains(&addr),
        RemoteObject::Group(id) => snapshot
            .group_member_addresses(id)
            .binary_search(&addr)
            .is_ok(),
        RemoteObject::PrefixList(id) => snapshot
            .prefix_list(id)
            .is_some_and(|list| list.cidrs.iter().any(|net| net.contains(&addr))),
    }
}

/// Audits one NIC (or bare group).
pub fn audit_target(engine: &Engine, target: Target, options: &AuditOptions) -> TargetAudit {
    let snapshot = engine.snapshot();
    let mut report = TargetAudit {
        target: snapshot.target_id(target).to_string(),
        applies_to: vec![snapshot.target_id(target).to_string()],
        shadowed: Vec::new(),
        redundant: Vec::new(),
        restates_default: Vec::new(),
        exposures: Vec::new(),
        limits: limits(snapshot, target),
        variants: Vec::new(),
    };
    for direction in Direction::ALL {
        let lists = DirectionLists::build(snapshot, engine.options(), target, direction);
        let v4 = rule_findings(&lists.v4, &preferred_for(snapshot, target));
        let v6 = rule_findings(&lists.v6, &preferred_for(snapshot, target));
        for rule_ref in candidates(snapshot, target, direction, engine.options()) {
            let name = RuleName::of(snapshot, rule_ref);
            let findings = [
                v4.get(&rule_ref).cloned().unwrap_or(FamilyFinding::Absent),
                v6.get(&rule_ref).cloned().unwrap_or(FamilyFinding::Absent),
            ];
            if findings.iter().any(|f| matches!(f, FamilyFinding::Needed)) {
                continue;
            }
            let mut covers: Vec<Reason> = Vec::new();
            let mut same_as: Vec<Reason> = Vec::new();
            let mut default_agrees = false;
            let mut witness = None;
            let mut redundant = false;
            for finding in findings {
                match finding {
                    FamilyFinding::Shadowed(by) => covers.extend(by),
                    FamilyFinding::Redundant {
                        same_as: s,
                        default_agrees: d,
                        witness: w,
                    } => {
                        redundant = true;
                        same_as.extend(s);
                        default_agrees |= d;
                        witness.get_or_insert(w);
                    }
                    FamilyFinding::Absent | FamilyFinding::Needed => {}
                }
            }
            let names = |deciders: &mut Vec<Reason>| -> Vec<String> {
                deciders.sort();
                deciders.dedup();
                deciders.iter().map(|d| d.name(snapshot)).collect()
            };
            if redundant {
                let same_as = names(&mut same_as);
                let reason = match (same_as.is_empty(), default_agrees) {
                    (false, false) => format!(
                        "later rules decide its flows the same way: {}",
                        same_as.join(", ")
                    ),
                    (false, true) => format!(
                        "later rules ({}) and the default ({}) decide its flows the same way",
                        same_as.join(", "),
                        lists.v4.default
                    ),
                    _ => format!(
                        "the default ({}) decides its flows the same way",
                        lists.v4.default
                    ),
                };
                let witness =
                    witness.map(|w| Witness::check(engine, target, w.flow, w.action, w.decider));
                let restates = same_as.is_empty() && default_agrees;
                let finding = RedundantRule {
                    direction,
                    rule: name,
                    reason,
                    same_as,
                    default_agrees,
                    witness,
                };
                if restates {
                    report.restates_default.push(finding);
                } else {
                    report.redundant.push(finding);
                }
            } else {
                let unmatchable = covers.is_empty();
                report.shadowed.push(ShadowedRule {
                    direction,
                    rule: name,
                    covered_by: names(&mut covers),
                    unmatchable,
                });
            }
        }
        if direction == Direction::Ingress {
            report
                .exposures
                .extend(exposures(engine, target, &lists.v4, options));
            report
                .exposures
                .extend(exposures(engine, target, &lists.v6, options));
        }
    }
    report
}

/// Every candidate rule of a target and direction, in S10 order (whether it resolves in a
/// family or not).
fn candidates(
    snapshot: &Snapshot,
    target: Target,
    direction: Direction,
    options: &EvalOptions,
) -> Vec<RuleRef> {
    crate::compile::ranked_candidates(snapshot, target, direction, options)
        .into_iter()
        .map(|(rule_ref, _)| rule_ref)
        .collect()
}

/// Shadowing and redundancy of every rule in one family.
fn rule_findings<A: FamilyKey>(
    list: &DecisionList<A>,
    preferred: &super::region::Preferred<A>,
) -> BTreeMap<RuleRef, FamilyFinding> {
    let mut out = BTreeMap::new();
    for (index, entry) in list.entries.iter().enumerate() {
        let Reason::Rule(rule_ref) = entry.decider else {
            continue;
        };
        // What it decides: its flows minus every earlier entry's.
        let mut decided = Region::from_box(entry.flows.clone());
        let mut covers = Vec::new();
        for earlier in &list.entries[..index] {
            if decided.is_empty() {
                break;
            }
            if decided.subtract_box(&earlier.flows) {
                covers.push(earlier.decider);
            }
        }
        if decided.is_empty() {
            let finding = if entry.flows.is_empty() {
                FamilyFinding::Absent
            } else {
                FamilyFinding::Shadowed(covers)
            };
            out.insert(rule_ref, finding);
            continue;
        }
        let point = decided
            .witness(preferred)
            .expect("a non-empty region has a point");
        let witness = WitnessPoint {
            flow: flow_of(list.direction, &point),
            action: entry.action,
            decider: entry.decider,
        };
        // Without the rule, its flows fall through to the later entries, then the default.
        let mut rest = decided;
        let mut same_as = Vec::new();
        let mut needed = false;
        for later in &list.entries[index + 1..] {
            if rest.is_empty() {
                break;
            }
            if !rest.intersects_box(&later.flows) {
                continue;
            }
            if later.action != entry.action {
                needed = true;
                break;
            }
            rest.subtract_box(&later.flows);
            same_as.push(later.decider);
        }
        let default_agrees = !rest.is_empty();
        if needed || (default_agrees && list.default != entry.action) {
            out.insert(rule_ref, FamilyFinding::Needed);
        } else {
            out.insert(
                rule_ref,
                FamilyFinding::Redundant {
                    same_as,
                    default_agrees,
                    witness,
                },
            );
        }
    }
    out
}

/// An exposed region before naming: public TCP/UDP flows the list accepts.
#[derive(Clone, Debug)]
pub struct RawExposure<A: FamilyKey> {
    /// The sensitive port, or `None` for "every port 1..65535".
    pub port: Option<u16>,
    /// The accepted public flows.
    pub flows: Region<A>,
    /// The parts of `flows` and what accepts each, in rank order.
    pub accepted_by: Vec<(Reason, Region<A>)>,
}

/// The public sources of one family as an address set (see [`NON_PUBLIC_V4`]).
pub(crate) fn public_addresses<A: FamilyKey>() -> Intervals<A> {
    let non_public: &[&str] = match A::FAMILY {
        crate::model::Family::V4 => &NON_PUBLIC_V4,
        crate::model::Family::V6 => &NON_PUBLIC_V6,
    };
    A::interval_set(non_public).complement()
}

/// Public TCP/UDP flows that the list accepts on each of `ports`, and the flows whose public
/// source, protocol, source port and local address are accepted on every port 1..65535.
pub fn exposed_regions<A: FamilyKey>(list: &DecisionList<A>, ports: &[u16]) -> Vec<RawExposure<A>> {
    let public = public_addresses::<A>();
    let tcp_udp =
        Intervals::from_unsorted(vec![(proto::TCP, proto::TCP), (proto::UDP, proto::UDP)]);
    let mut out = Vec::new();

    let mut ports = ports.to_vec();
    ports.sort_unstable();
    ports.dedup();
    let query = FlowBox {
        protocol: tcp_udp.clone(),
        dest_port: Intervals::from_unsorted(ports.iter().map(|&p| (p, p)).collect()),
        remote: public.clone(),
        ..FlowBox::full()
    };
    let accepted: Vec<Piece<A>> = list
        .decide(Region::from_box(query))
        .into_iter()
        .filter(|p| p.action == Action::Accept)
        .collect();
    for &port in &ports {
        let port_box = FlowBox {
            dest_port: Intervals::single(port, port),
            ..FlowBox::full()
        };
        let mut flows = Region::empty();
        let mut accepted_by = Vec::new();
        for piece in &accepted {
            let part = piece.flows.intersect_box(&port_box);
            if !part.is_empty() {
                flows.extend(part.clone());
                accepted_by.push((piece.decider, part));
            }
        }
        if !flows.is_empty() {
            out.push(RawExposure {
                port: Some(port),
                flows,
                accepted_by,
            });
        }
    }

    // Every port: take away from the public flows everything that shares its other four
    // fields with a dropped flow (the dropped part, projected across all ports).
    let all_ports = Intervals::single(1, u16::MAX);
    let query = FlowBox {
        protocol: tcp_udp,
        dest_port: all_ports.clone(),
        remote: public,
        ..FlowBox::full()
    };
    let mut open = Region::from_box(query.clone());
    for piece in list.decide(Region::from_box(query)) {
        if piece.action == Action::Drop {
            for mut b in piece.flows.boxes {
                b.dest_port = all_ports.clone();
                open.subtract_box(&b);
            }
        }
    }
    if !open.is_empty() {
        let accepted_by = list
            .decide(open.clone())
            .into_iter()
            .map(|p| (p.decider, p.flows))
            .collect();
        out.push(RawExposure {
            port: None,
            flows: open,
            accepted_by,
        });
    }
    out
}

/// The exposures of one family, named, each with a witness checked by the engine.
fn exposures<A: FamilyKey>(
    engine: &Engine,
    target: Target,
    list: &DecisionList<A>,
    options: &AuditOptions,
) -> Vec<Exposure> {
    let mut preferred = preferred_for::<A>(engine.snapshot(), target);
    // Only the NIC's own addresses receive its flows: a family it has no address of exposes
    // nothing, and witnesses go to its addresses (a bare group has none: any address).
    let own: Option<Intervals<A>> = match target {
        Target::Nic(nic) => Some(own_addresses(engine.snapshot(), nic)),
        Target::Group(_) => None,
    };
    if own.as_ref().is_some_and(|own| own.is_empty()) {
        return Vec::new();
    }
    let on_own = |region: &Region<A>| -> Region<A> {
        match &own {
            Some(own) => region.intersect_box(&FlowBox {
                local: own.clone(),
                ..FlowBox::full()
            }),
            None => region.clone(),
        }
    };
    exposed_regions(list, &options.sensitive_ports)
        .into_iter()
        .filter_map(|raw| {
            preferred.dest_port = vec![raw.port.unwrap_or(1)];
            let (decider, point) = raw
                .accepted_by
                .iter()
                .find_map(|(decider, part)| Some((decider, on_own(part).witness(&preferred)?)))?;
            let witness = Witness::check(
                engine,
                target,
                flow_of(list.direction, &point),
                Action::Accept,
                *decider,
            );
            let mut accepted_by: Vec<String> = Vec::new();
            for (decider, _) in &raw.accepted_by {
                let name = decider.name(engine.snapshot());
                if !accepted_by.contains(&name) {
                    accepted_by.push(name);
                }
            }
            Some(Exposure {
                direction: list.direction,
                family: A::FAMILY.as_str(),
                ports: raw.port.map_or("all".to_string(), |p| p.to_string()),
                region: RegionText::of(&raw.flows),
                accepted_by,
                witness,
            })
        })
        .collect()
}

/// S19's quota and references that resolve to nothing.
pub fn limits(snapshot: &Snapshot, target: Target) -> Vec<Limit> {
    let mut out = Vec::new();
    let mut count: u64 = 0;
    for &group_index in snapshot.target_groups(target) {
        let group = snapshot.group(group_index);
        if group.rules.is_empty() {
            out.push(Limit {
                kind: "empty_group",
                message: format!("group {} has no rules", group.id),
                group: Some(group.id.clone()),
                rule: None,
            });
        }
        for rule in &group.rules {
            let mut weight: u64 = 1;
            let dangling = |kind: &'static str, what: String| Limit {
                kind,
                message: format!("rule {} references {what}, so it matches nothing", rule.id),
                group: Some(group.id.clone()),
                rule: Some(rule.id.clone()),
            };
            match &rule.remote {
                RemoteObject::PrefixList(id) => match snapshot.prefix_list(id) {
                    Some(list) => weight = weight.max(list.max_entries as u64),
                    None => out.push(dangling(
                        "missing_prefix_list",
                        format!("the missing prefix list {id}"),
                    )),
                },
                RemoteObject::Group(id) => {
                    if snapshot.group_index(id).is_none() {
                        out.push(dangling("missing_group", format!("the missing group {id}")));
                    } else if snapshot.group_member_addresses(id).is_empty() {
                        out.push(dangling(
                            "memberless_group",
                            format!("group {id}, which no NIC in the snapshot carries"),
                        ));
                    }
                }
                RemoteObject::Cidr(_) => {}
            }
            if let DestPorts::List(id) = &rule.dest_ports {
                match snapshot.port_list(id) {
                    Some(list) => weight = weight.max(list.max_entries as u64),
                    None => out.push(dangling(
                        "missing_port_list",
                        format!("the missing port list {id}"),
                    )),
                }
            }
            count += weight;
        }
    }
    if matches!(target, Target::Nic(_)) && count >= NIC_RULE_QUOTA {
        out.push(Limit {
            kind: "quota",
            message: format!(
                "{count} rules count against the quota of {NIC_RULE_QUOTA} per NIC (S19; a rule \
                 referencing a prefix or port list counts as its MaxEntries)"
            ),
            group: None,
            rule: None,
        });
    }
    out
}
