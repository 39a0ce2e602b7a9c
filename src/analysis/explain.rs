//! `sgsim check --explain`: every step and every rule a flow meets, not just the one that
//! decides.
//!
//! The flow is run down the target's decision list (S14: platform, inner access, the custom
//! rules in S10 order, then the default) without stopping at the first match: every entry that
//! holds it is reported, the first one decides, and each matching rule after it says why it
//! lost — a lower priority, an accept at a tied drop, or a later place at the same priority and
//! action (group order on the NIC, then position in the group).

use super::region::FlowPoint;
use super::{DecisionList, DirectionLists, FamilyKey};
use crate::model::Reason;
use crate::model::{Action, Direction, Flow, GroupKind, Precedence, RuleRef, Snapshot, Target};
use crate::Engine;
use serde::Serialize;
use std::net::IpAddr;

/// The whole evaluation of one flow at one target.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// [`EXPLAIN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The NIC or group id.
    pub target: String,
    /// The flow in words: `ingress tcp 203.0.113.9:40000 -> 10.0.0.5:22`.
    pub flow: String,
    /// The flow's verdict at the target.
    pub verdict: Action,
    /// `sg/sgr`, `platform`, `inner_access` or `default`.
    pub decided_by: String,
    /// The four steps of S14, in order.
    pub steps: Vec<Step>,
    /// Every candidate rule that matches the flow, in S10 order.
    pub rules: Vec<MatchingRule>,
    #[serde(skip)]
    /// What decides, as a [`Reason`] (not serialized).
    pub decider: Reason,
}

/// The schema of [`Explanation`]'s JSON.
pub const EXPLAIN_SCHEMA_VERSION: u32 = 1;

/// One step of S14.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// `platform`, `inner_access`, `rules` or `default`.
    pub step: &'static str,
    /// The step holds the flow (a rule matches, the platform block covers it, …).
    pub applies: bool,
    /// This step gives the verdict.
    pub decides: bool,
    /// Why the step does or does not apply, in words.
    pub note: String,
}

/// A matching rule and what became of it.
#[derive(Clone, Debug, Serialize)]
pub struct MatchingRule {
    /// The rule's group.
    pub security_group_id: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's priority: 1 (decided first) to 100, or the legacy 110.
    pub priority: u8,
    /// The rule's policy: accept or drop.
    pub policy: Action,
    /// The rule in words: `accept tcp 22/22 from 0.0.0.0/0`.
    pub summary: String,
    /// The group's place on the NIC (1-based).
    pub group_position: usize,
    /// The rule's place in its group (1-based).
    pub rule_position: usize,
    /// This rule gives the verdict (the first in S10 order, when no step before decides).
    pub decides: bool,
    /// Why it does not decide (empty for the rule that does).
    pub lost_because: String,
    #[serde(skip)]
    /// The rule's index in the snapshot (not serialized).
    pub rule_ref: RuleRef,
}

/// Explains `flow` (in its own direction) at `target`.
pub fn explain(engine: &Engine, target: Target, flow: &Flow) -> Explanation {
    let snapshot = engine.snapshot();
    let lists = DirectionLists::build(snapshot, engine.options(), target, flow.direction);
    let hits = match (flow.remote(), flow.local()) {
        (IpAddr::V4(r), IpAddr::V4(l)) => hits(&lists.v4, flow, u32::from(r), u32::from(l)),
        (IpAddr::V6(r), IpAddr::V6(l)) => hits(&lists.v6, flow, u128::from(r), u128::from(l)),
        // A flow's two addresses are of one family (Flow::parse checks).
        _ => (Vec::new(), lists.v4.default),
    };
    let (matched, default) = hits;
    let (decider, verdict) = matched
        .first()
        .map_or((Reason::Default, default), |&(d, a)| (d, a));

    let position = |rule_ref: RuleRef| {
        snapshot
            .target_groups(target)
            .iter()
            .position(|&g| g == rule_ref.group)
            .unwrap_or(0)
    };
    let precedence = |rule_ref: RuleRef| {
        let rule = &snapshot.group(rule_ref.group).rules[rule_ref.rule as usize];
        Precedence::of(rule, position(rule_ref), rule_ref.rule as usize)
    };
    let rules: Vec<MatchingRule> = matched
        .iter()
        .filter_map(|&(d, _)| match d {
            Reason::Rule(r) => Some(r),
            _ => None,
        })
        .map(|rule_ref| {
            let group = snapshot.group(rule_ref.group);
            let rule = &group.rules[rule_ref.rule as usize];
            let decides = decider == Reason::Rule(rule_ref);
            let lost_because = match decider {
                _ if decides => String::new(),
                Reason::Platform => {
                    "not reached: the platform's TCP 25 block decides first (S13)".to_string()
                }
                Reason::InnerAccess => "not reached: inner access decides first (S11)".to_string(),
                Reason::Rule(winner) => lost_to(precedence(rule_ref), precedence(winner)),
                Reason::Default => unreachable!("a matching rule decides before the default"),
            };
            MatchingRule {
                security_group_id: group.id.clone(),
                rule_id: rule.id.clone(),
                priority: rule.priority,
                policy: rule.action,
                summary: rule.summary(),
                group_position: position(rule_ref) + 1,
                rule_position: rule_ref.rule as usize + 1,
                decides,
                lost_because,
                rule_ref,
            }
        })
        .collect();

    let applies = |d: Reason| matched.iter().any(|&(m, _)| m == d);
    let steps = vec![
        Step {
            step: "platform",
            applies: applies(Reason::Platform),
            decides: decider == Reason::Platform,
            note: platform_note(engine, flow, applies(Reason::Platform)),
        },
        Step {
            step: "inner_access",
            applies: applies(Reason::InnerAccess),
            decides: decider == Reason::InnerAccess,
            note: inner_access_note(snapshot, target, flow, applies(Reason::InnerAccess)),
        },
        Step {
            step: "rules",
            applies: !rules.is_empty(),
            decides: matches!(decider, Reason::Rule(_)),
            note: match rules.len() {
                0 => "no rule of the target's groups matches".to_string(),
                1 => "1 rule matches".to_string(),
                n => format!("{n} rules match; the first in S10 order decides"),
            },
        },
        Step {
            step: "default",
            applies: decider == Reason::Default,
            decides: decider == Reason::Default,
            note: default_note(snapshot, target, flow.direction, default),
        },
    ];
    Explanation {
        schema_version: EXPLAIN_SCHEMA_VERSION,
        target: snapshot.target_id(target).to_string(),
        flow: flow.to_string(),
        verdict,
        decided_by: decider.name(snapshot),
        steps,
        rules,
        decider,
    }
}

/// Every entry of the list holding the flow, in order, and the list's default.
fn hits<A: FamilyKey>(
    list: &DecisionList<A>,
    flow: &Flow,
    remote: A,
    local: A,
) -> (Vec<(Reason, Action)>, Action) {
    let point = FlowPoint {
        protocol: flow.protocol,
        dest_port: flow.dst_port,
        source_port: flow.src_port,
        remote,
        local,
    };
    let matched = list
        .entries
        .iter()
        .filter(|e| e.flows.contains(&point))
        .map(|e| (e.decider, e.action))
        .collect();
    (matched, list.default)
}

/// Why a matching rule lost to the winner, from their S10 keys.
fn lost_to(loser: Precedence, winner: Precedence) -> String {
    if loser.priority != winner.priority {
        format!(
            "lower priority ({} after the winner's {})",
            loser.priority, winner.priority
        )
    } else if loser.action != winner.action {
        format!(
            "an accept loses to a drop at the same priority ({})",
            loser.priority
        )
    } else if loser.group_position != winner.group_position {
        format!(
            "later in order: same priority and policy, in the NIC's group {} after group {}",
            loser.group_position + 1,
            winner.group_position + 1
        )
    } else {
        format!(
            "later in order: same priority and policy, rule {} of the group after rule {}",
            loser.rule_position + 1,
            winner.rule_position + 1
        )
    }
}

fn platform_note(engine: &Engine, flow: &Flow, applies: bool) -> String {
    if applies {
        "egress TCP 25 to a public IPv4 address is blocked (S13; --no-platform-rules turns it off)"
            .to_string()
    } else if !engine.options().platform_rules {
        "off (--no-platform-rules)".to_string()
    } else {
        let why = if flow.direction != Direction::Egress {
            "it only blocks egress"
        } else {
            "it only blocks TCP to port 25 at public IPv4 addresses"
        };
        format!("does not apply: {why}")
    }
}

fn inner_access_note(snapshot: &Snapshot, target: Target, flow: &Flow, applies: bool) -> String {
    let Target::Nic(nic) = target else {
        return "does not apply: a bare group has no NICs".to_string();
    };
    let peers: Vec<&str> = snapshot
        .nics_with_address(&flow.remote())
        .iter()
        .filter(|&&n| n != nic)
        .map(|&n| snapshot.nic(n).id.as_str())
        .collect();
    if applies {
        format!(
            "{} is {}, which shares a basic group with InnerAccessPolicy Accept (S11)",
            flow.remote(),
            peers.join(", ")
        )
    } else if peers.is_empty() {
        format!(
            "does not apply: {} is no other NIC's address",
            flow.remote()
        )
    } else {
        format!(
            "does not apply: {} is {}, which shares no basic group with InnerAccessPolicy Accept",
            flow.remote(),
            peers.join(", ")
        )
    }
}

fn default_note(
    snapshot: &Snapshot,
    target: Target,
    direction: Direction,
    default: Action,
) -> String {
    let enterprise = snapshot
        .target_groups(target)
        .iter()
        .any(|&g| snapshot.group(g).kind == GroupKind::Enterprise);
    let why = match (enterprise, direction) {
        (true, _) => "enterprise groups drop both directions",
        (false, Direction::Ingress) => "basic groups drop ingress",
        (false, Direction::Egress) => "basic groups accept egress",
    };
    format!("{default} when nothing above holds the flow ({why}, S12)")
}
