//! `sgsim diff`: the exact set of flows whose verdict changes between two snapshots.
//!
//! Per target (matched by NIC or group id), direction and family, the two decision lists are
//! aligned: entries with the same box and action are paired greedily in rank order (a common
//! subsequence), so a renumbered or re-identified rule still pairs with itself. A flow that no
//! unpaired entry holds meets the same paired entries first in both lists, so its verdict is
//! the same; only the union of the unpaired entries' boxes (the *focus*) can change, or the
//! whole space when the default changes. Both lists decide the focus, and the pieces whose
//! actions differ are the answer — exact, and fast when few rules change.

use super::region::{FlowBox, Region};
use super::{flow_of, preferred_for, DecisionList, DirectionLists, FamilyKey, RegionText, Witness};
use crate::model::Reason;
use crate::model::{Action, Direction, Flow, Snapshot, Target, TargetError, Verdict};
use crate::Engine;
use serde::Serialize;
use std::collections::HashMap;

/// Every change between two snapshots.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// Per target present in both snapshots, its changes (possibly none).
    pub targets: Vec<TargetDiff>,
    /// Targets present in only one snapshot.
    pub notes: Vec<String>,
}

impl DiffReport {
    /// Whether nothing changes: no change and no target in only one snapshot.
    pub fn is_empty(&self) -> bool {
        self.targets.iter().all(|t| t.changes.is_empty()) && self.notes.is_empty()
    }
}

#[derive(Clone, Debug, Serialize)]
/// The changes of one target.
pub struct TargetDiff {
    /// The NIC or group id.
    pub target: String,
    /// Its changed regions, by direction and family.
    pub changes: Vec<Change>,
}

/// A region whose verdict goes from `from` to `to`, with what decides it before and after.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// The direction of the flows.
    pub direction: Direction,
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// The verdict in the old snapshot.
    pub from: Action,
    /// The verdict in the new snapshot.
    pub to: Action,
    /// What decides the region in the old snapshot (`sg/sgr`, or a step name).
    pub before: String,
    /// What decides it in the new snapshot.
    pub after: String,
    /// The flows that change.
    pub region: RegionText,
    /// One flow of the region, checked with the old engine.
    pub witness_before: Witness,
    /// The same flow, checked with the new engine.
    pub witness_after: Witness,
}

/// A change as regions, before naming (for library users and tests).
#[derive(Clone, Debug)]
pub struct RawChange<A: FamilyKey> {
    /// What decides the flows in the old list.
    pub before: Reason,
    /// What decides them in the new list.
    pub after: Reason,
    /// The old verdict.
    pub from: Action,
    /// The new verdict.
    pub to: Action,
    /// The flows that change.
    pub flows: Region<A>,
}

/// Diffs every target present in both snapshots. A target whose decision lists are built from
/// the same inputs in both (see [`same_inputs`]) has no changes and is not analysed, so a
/// change to one group of a large account costs the NICs that carry or reference it.
pub fn diff(old: &Engine, new: &Engine) -> DiffReport {
    use rayon::prelude::*;
    let (old_snapshot, new_snapshot) = (old.snapshot(), new.snapshot());
    let mut report = DiffReport {
        targets: Vec::new(),
        notes: Vec::new(),
    };
    let mut pairs = Vec::new();
    for old_target in super::targets(old_snapshot) {
        let id = old_snapshot.target_id(old_target);
        let new_target = match old_target {
            Target::Nic(_) => new_snapshot.nic_index(id).map(Target::Nic),
            Target::Group(_) if new_snapshot.nics().is_empty() => {
                new_snapshot.group_index(id).map(Target::Group)
            }
            Target::Group(_) => None,
        };
        match new_target {
            Some(new_target) => pairs.push((old_target, new_target)),
            None => report
                .notes
                .push(format!("{id} is only in the old snapshot")),
        }
    }
    report.targets = pairs
        .par_iter()
        .map(|&(old_target, new_target)| {
            if same_inputs(old, old_target, new, new_target) {
                TargetDiff {
                    target: old_snapshot.target_id(old_target).to_string(),
                    changes: Vec::new(),
                }
            } else {
                diff_target(old, old_target, new, new_target)
            }
        })
        .collect();
    for new_target in super::targets(new_snapshot) {
        let id = new_snapshot.target_id(new_target);
        if !matches!(old_snapshot.resolve_target(id), Ok(t) if old_snapshot.target_id(t) == id) {
            report
                .notes
                .push(format!("{id} is only in the new snapshot"));
        }
    }
    report
}

/// Whether the two targets' decision lists are built from equal inputs: the same options,
/// the same groups in the same order with equal contents, equal members of every group their
/// rules reference, equal prefix and port lists, and the same inner-access peers (S6, S7, S11).
/// Then both have the same verdict on every flow.
pub fn same_inputs(old: &Engine, old_target: Target, new: &Engine, new_target: Target) -> bool {
    use crate::model::{DestPorts, RemoteObject};
    let (a, b) = (old.snapshot(), new.snapshot());
    let (old_groups, new_groups) = (a.target_groups(old_target), b.target_groups(new_target));
    if old.options() != new.options() || old_groups.len() != new_groups.len() {
        return false;
    }
    for (&g, &h) in old_groups.iter().zip(new_groups) {
        let (group, other) = (a.group(g), b.group(h));
        if group != other
            || a.group_member_addresses(&group.id) != b.group_member_addresses(&other.id)
        {
            return false;
        }
        for rule in &group.rules {
            let same_remote = match &rule.remote {
                RemoteObject::Cidr(_) => true,
                RemoteObject::Group(id) => {
                    a.group_member_addresses(id) == b.group_member_addresses(id)
                }
                RemoteObject::PrefixList(id) => a.prefix_list(id) == b.prefix_list(id),
            };
            let same_ports = match &rule.dest_ports {
                DestPorts::List(id) => a.port_list(id) == b.port_list(id),
                DestPorts::Any | DestPorts::Range(_) => true,
            };
            if !same_remote || !same_ports {
                return false;
            }
        }
    }
    match (old_target, new_target) {
        (Target::Nic(x), Target::Nic(y)) => {
            crate::compile::inner_peers(a, x) == crate::compile::inner_peers(b, y)
        }
        (Target::Group(_), Target::Group(_)) => true,
        _ => false,
    }
}

/// Diffs one target between two snapshots.
pub fn diff_target(
    old: &Engine,
    old_target: Target,
    new: &Engine,
    new_target: Target,
) -> TargetDiff {
    let mut changes = Vec::new();
    for direction in Direction::ALL {
        let before = DirectionLists::build(old.snapshot(), old.options(), old_target, direction);
        let after = DirectionLists::build(new.snapshot(), new.options(), new_target, direction);
        for raw in diff_lists(&before.v4, &after.v4) {
            changes.push(describe(old, old_target, new, new_target, direction, &raw));
        }
        for raw in diff_lists(&before.v6, &after.v6) {
            changes.push(describe(old, old_target, new, new_target, direction, &raw));
        }
    }
    TargetDiff {
        target: old.snapshot().target_id(old_target).to_string(),
        changes,
    }
}

fn describe<A: FamilyKey>(
    old: &Engine,
    old_target: Target,
    new: &Engine,
    new_target: Target,
    direction: Direction,
    raw: &RawChange<A>,
) -> Change {
    let preferred = preferred_for::<A>(old.snapshot(), old_target);
    let point = raw
        .flows
        .witness(&preferred)
        .expect("changes are non-empty");
    let flow = flow_of(direction, &point);
    Change {
        direction,
        family: A::FAMILY.as_str(),
        from: raw.from,
        to: raw.to,
        before: raw.before.name(old.snapshot()),
        after: raw.after.name(new.snapshot()),
        region: RegionText::of(&raw.flows),
        witness_before: Witness::check(old, old_target, flow, raw.from, raw.before),
        witness_after: Witness::check(new, new_target, flow, raw.to, raw.after),
    }
}

/// The regions where two decision lists of one family and direction give different actions,
/// grouped by what decides them before and after.
pub fn diff_lists<A: FamilyKey>(old: &DecisionList<A>, new: &DecisionList<A>) -> Vec<RawChange<A>> {
    let focus = if old.default != new.default {
        Region::full()
    } else {
        unpaired_focus(old, new)
    };
    if focus.is_empty() {
        return Vec::new();
    }
    let before = old.decide(focus.clone());
    let after = new.decide(focus);
    let mut grouped: Vec<RawChange<A>> = Vec::new();
    let mut index: HashMap<(Reason, Reason), usize> = HashMap::new();
    for b in &before {
        for a in after.iter().filter(|a| a.action != b.action) {
            let flows = b.flows.intersect(&a.flows);
            if flows.is_empty() {
                continue;
            }
            let slot = *index.entry((b.decider, a.decider)).or_insert_with(|| {
                grouped.push(RawChange {
                    before: b.decider,
                    after: a.decider,
                    from: b.action,
                    to: a.action,
                    flows: Region::empty(),
                });
                grouped.len() - 1
            });
            grouped[slot].flows.extend(flows);
        }
    }
    grouped
}

/// The union of the boxes of entries that have no partner (same box, same action) in the other
/// list, pairing in rank order; kept as disjoint boxes.
fn unpaired_focus<A: FamilyKey>(old: &DecisionList<A>, new: &DecisionList<A>) -> Region<A> {
    let mut positions: HashMap<(&FlowBox<A>, Action), Vec<usize>> = HashMap::new();
    for (i, entry) in new.entries.iter().enumerate() {
        positions
            .entry((&entry.flows, entry.action))
            .or_default()
            .push(i);
    }
    let mut paired_new = vec![false; new.entries.len()];
    let mut unpaired: Vec<&FlowBox<A>> = Vec::new();
    let mut last: Option<usize> = None;
    for entry in &old.entries {
        let partner = positions
            .get(&(&entry.flows, entry.action))
            .and_then(|list| {
                // The first candidate after the last pairing keeps the pairs in order.
                let from = last.map_or(0, |l| list.partition_point(|&i| i <= l));
                list.get(from).copied()
            });
        match partner {
            Some(i) => {
                paired_new[i] = true;
                last = Some(i);
            }
            None => unpaired.push(&entry.flows),
        }
    }
    unpaired.extend(
        new.entries
            .iter()
            .zip(&paired_new)
            .filter(|(_, &paired)| !paired)
            .map(|(e, _)| &e.flows),
    );
    let mut focus = Region::empty();
    for b in unpaired {
        let mut fresh = Region::from_box(b.clone());
        fresh.subtract(&focus);
        focus.extend(fresh);
    }
    focus
}

/// A flow of a list whose verdict differs between the snapshots.
#[derive(Clone, Debug, Serialize)]
pub struct FlowFlip {
    /// 1-based line in the flows file (the header is line 1).
    pub line: u64,
    /// The row's NIC id.
    pub target: String,
    /// The flow as text; its fields follow.
    pub flow: String,
    #[serde(flatten)]
    /// The flow's fields, as `sgsim eval` writes them.
    pub fields: crate::input::flows::FlowFields,
    /// The old verdict.
    pub from: Action,
    /// The new verdict.
    pub to: Action,
    /// What decides the flow in the old snapshot (`sg/sgr`, or a step name).
    pub before: String,
    /// What decides it in the new snapshot.
    pub after: String,
}

/// One flow checked against both engines: its target in each and both verdicts.
#[derive(Clone, Debug)]
pub struct FlowVerdicts {
    /// The flow's target in the old engine's snapshot.
    pub old_target: Target,
    /// The flow's target in the new engine's snapshot.
    pub new_target: Target,
    /// The verdict before the change.
    pub before: Verdict,
    /// The verdict after the change.
    pub after: Verdict,
}

impl FlowVerdicts {
    /// Whether the change flips the flow's verdict (accept/drop).
    pub fn flipped(&self) -> bool {
        self.before.action != self.after.action
    }
}

/// Which snapshot lacks a flow's target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingTarget {
    /// The old snapshot, with the reason `Engine::target` gives.
    Before(TargetError),
    /// The new snapshot, with the reason `Engine::target` gives.
    After(TargetError),
}

/// Checks one flow against both engines: the core of [`flipped_flows`] and of
/// `sgsim apply --dry-run --flows`.
pub fn flow_verdicts(
    old: &Engine,
    new: &Engine,
    target_id: &str,
    flow: &Flow,
) -> Result<FlowVerdicts, MissingTarget> {
    let old_target = old.target(target_id).map_err(MissingTarget::Before)?;
    let new_target = new.target(target_id).map_err(MissingTarget::After)?;
    Ok(FlowVerdicts {
        old_target,
        new_target,
        before: old.check(old_target, flow),
        after: new.check(new_target, flow),
    })
}

/// The flows (with their target ids and line numbers) that flip between the two engines.
/// Rows whose target is missing from either snapshot are skipped.
pub fn flipped_flows(old: &Engine, new: &Engine, flows: &[(u64, String, Flow)]) -> Vec<FlowFlip> {
    let mut out = Vec::new();
    for (line, id, flow) in flows {
        let Ok(v) = flow_verdicts(old, new, id, flow) else {
            continue;
        };
        if v.flipped() {
            out.push(FlowFlip {
                line: *line,
                target: old.snapshot().target_id(v.old_target).to_string(),
                flow: flow.to_string(),
                fields: crate::input::flows::FlowFields::of(flow),
                from: v.before.action,
                to: v.after.action,
                before: decider_name(old.snapshot(), &v.before),
                after: decider_name(new.snapshot(), &v.after),
            });
        }
    }
    out
}

fn decider_name(snapshot: &Snapshot, verdict: &Verdict) -> String {
    match verdict.deciding_rule() {
        Some(rule) => Reason::Rule(rule).name(snapshot),
        None => verdict.reason.as_str().to_string(),
    }
}
