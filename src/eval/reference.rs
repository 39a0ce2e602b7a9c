//! The reference evaluator: a short, obviously-correct linear scan of the spec, clause by
//! clause. It is the oracle that every faster engine is tested against; keep it simple rather
//! than fast.

use crate::model::semantics::{
    default_action, inner_access_groups, is_inner_peer, is_platform_blocked,
};
use crate::model::{
    proto, Action, DestPorts, EvalOptions, Flow, Precedence, Protocol, Reason, RemoteObject, Rule,
    RuleRef, Snapshot, Target, Verdict,
};
use std::net::IpAddr;

/// Decides one flow on one target (NIC or bare group) in the flow's direction (S14: platform,
/// inner access, custom rules, default).
pub fn evaluate(
    snapshot: &Snapshot,
    target: Target,
    flow: &Flow,
    options: &EvalOptions,
) -> Verdict {
    if options.platform_rules && is_platform_blocked(flow) {
        return Verdict {
            action: Action::Drop,
            reason: Reason::Platform,
        };
    }
    if has_inner_access(snapshot, target, flow) {
        return Verdict {
            action: Action::Accept,
            reason: Reason::InnerAccess,
        };
    }
    if let Some((rule_ref, action)) = deciding_rule(snapshot, target, flow, options) {
        return Verdict {
            action,
            reason: Reason::Rule(rule_ref),
        };
    }
    Verdict {
        action: default_action(snapshot, target, flow.direction),
        reason: Reason::Default,
    }
}

/// S11: the remote address belongs to another NIC sharing a basic group whose
/// InnerAccessPolicy is Accept.
pub fn has_inner_access(snapshot: &Snapshot, target: Target, flow: &Flow) -> bool {
    let Target::Nic(nic) = target else {
        return false; // a bare group has no NICs
    };
    let inner_groups = inner_access_groups(snapshot, nic);
    is_inner_peer(snapshot, nic, &inner_groups, &flow.remote())
}

/// S9 + S10: the matching candidate that comes first in (priority, drop before accept, group
/// order on the NIC, rule position) order, with its action.
pub fn deciding_rule(
    snapshot: &Snapshot,
    target: Target,
    flow: &Flow,
    options: &EvalOptions,
) -> Option<(RuleRef, Action)> {
    let mut best: Option<(Precedence, RuleRef)> = None;
    for (group_position, &group_index) in snapshot.target_groups(target).iter().enumerate() {
        let group = snapshot.group(group_index);
        for (rule_position, rule) in group.rules.iter().enumerate() {
            // S9: classic groups only consider rules of the flow's NicType; VPC rules are all
            // intranet.
            if group.is_classic() && rule.nic_type != options.nic_type {
                continue;
            }
            if !rule_matches(snapshot, rule, flow) {
                continue;
            }
            let key = Precedence::of(rule, group_position, rule_position);
            if best.as_ref().is_none_or(|(best_key, _)| key < *best_key) {
                let rule_ref = RuleRef {
                    group: group_index,
                    rule: rule_position as u32,
                };
                best = Some((key, rule_ref));
            }
        }
    }
    best.map(|(key, rule_ref)| (rule_ref, key.action))
}

/// S4: does one rule match the flow?
pub fn rule_matches(snapshot: &Snapshot, rule: &Rule, flow: &Flow) -> bool {
    rule.direction == flow.direction
        && protocol_matches(rule.protocol, flow)
        && ports_match(snapshot, rule, flow)
        && remote_matches(snapshot, &rule.remote, flow.remote())
        && rule.local.is_none_or(|local| local.contains(&flow.local()))
}

/// S1 + S5: `all` covers every protocol; `icmp` only IPv4 flows, `icmpv6` only IPv6 flows.
fn protocol_matches(protocol: Protocol, flow: &Flow) -> bool {
    let family_ok = match protocol {
        Protocol::Number(proto::ICMP) => flow.src.is_ipv4(),
        Protocol::Number(proto::ICMPV6) => flow.src.is_ipv6(),
        _ => true,
    };
    family_ok && protocol.covers(flow.protocol)
}

/// S3: only TCP/UDP rules look at ports; a missing port list matches nothing.
fn ports_match(snapshot: &Snapshot, rule: &Rule, flow: &Flow) -> bool {
    if !rule.protocol.has_ports() {
        return true;
    }
    let dest_ok = match &rule.dest_ports {
        DestPorts::Any => true,
        DestPorts::Range(range) => range.contains(flow.dst_port),
        DestPorts::List(id) => snapshot
            .port_list(id)
            .is_some_and(|list| list.ranges.iter().any(|r| r.contains(flow.dst_port))),
    };
    dest_ok
        && rule
            .source_ports
            .is_none_or(|range| range.contains(flow.src_port))
}

/// S5–S7: CIDRs contain only their own family; a group covers its members' addresses; a
/// prefix list its CIDRs. Missing groups and lists cover nothing.
fn remote_matches(snapshot: &Snapshot, remote: &RemoteObject, addr: IpAddr) -> bool {
    match remote {
        RemoteObject::Cidr(net) => net.contains(&addr),
        RemoteObject::Group(id) => snapshot.group_member_addresses(id).contains(&addr),
        RemoteObject::PrefixList(id) => snapshot
            .prefix_list(id)
            .is_some_and(|list| list.cidrs.iter().any(|net| net.contains(&addr))),
    }
}
