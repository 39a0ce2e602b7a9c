//! The cheap path: per group and direction, its rules in S10 order with every reference
//! resolved once per snapshot — a referenced group's members are one sorted address set shared
//! by every rule and target that names the group, never copied into per-target tables.
//!
//! A flow on a NIC is decided by taking, in each of the NIC's groups, the first rule that
//! matches (the group's list is already in priority, drop-before-accept, position order), and
//! then the best of those across groups by S10 (priority, drop first, the NIC's group order).
//! Building it costs one pass over the rules, whatever the number of NICs and group sets, so a
//! target with a handful of flows is answered without compiling tables for it (see
//! [`super::CompilePolicy`]); it is also where inner access (S11) looks its peers up.

use crate::model::{
    proto, Action, DestPorts, EvalOptions, Flow, GroupIndex, PortRange, Precedence, Protocol,
    RemoteObject, Rule, RuleRef, Snapshot,
};
use std::net::IpAddr;

/// One family's sorted, deduplicated addresses.
#[derive(Clone, Debug, Default)]
pub(crate) struct AddressSet {
    pub v4: Vec<u32>,
    pub v6: Vec<u128>,
}

impl AddressSet {
    pub(crate) fn of(addresses: &[IpAddr]) -> AddressSet {
        let mut set = AddressSet::default();
        for addr in addresses {
            match addr {
                IpAddr::V4(a) => set.v4.push(u32::from(*a)),
                IpAddr::V6(a) => set.v6.push(u128::from(*a)),
            }
        }
        set.v4.sort_unstable();
        set.v4.dedup();
        set.v6.sort_unstable();
        set.v6.dedup();
        set
    }

    #[inline]
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.contains_v4(u32::from(a)),
            IpAddr::V6(a) => self.v6.binary_search(&u128::from(a)).is_ok(),
        }
    }

    #[inline]
    pub(crate) fn contains_v4(&self, addr: u32) -> bool {
        self.v4.binary_search(&addr).is_ok()
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.v4.capacity() * 4 + self.v6.capacity() * 16
    }
}

/// The remote side of a rule, resolved.
#[derive(Clone, Debug)]
enum RemoteMatch {
    V4(u32, u32),
    V6(u128, u128),
    /// The members of this group ([`LinearRules::members`]).
    Group(GroupIndex),
    /// A prefix list's CIDRs as inclusive intervals, per family.
    List(Box<[(u32, u32)]>, Box<[(u128, u128)]>),
}

/// One rule, resolved for matching.
#[derive(Clone, Debug)]
struct LinearRule {
    priority: u8,
    action: Action,
    rule_position: u32,
    protocol: Protocol,
    /// Destination ports (empty = every port; only for TCP/UDP rules).
    dest_ports: Box<[PortRange]>,
    source_ports: Option<PortRange>,
    remote: RemoteMatch,
    local: Option<ipnet::IpNet>,
}

impl LinearRule {
    #[inline]
    fn matches(&self, members: &[AddressSet], flow: &Flow, remote: IpAddr) -> bool {
        let family_ok = match self.protocol {
            Protocol::Number(proto::ICMP) => flow.src.is_ipv4(),
            Protocol::Number(proto::ICMPV6) => flow.src.is_ipv6(),
            _ => true,
        };
        if !family_ok || !self.protocol.covers(flow.protocol) {
            return false;
        }
        if self.protocol.has_ports()
            && ((!self.dest_ports.is_empty()
                && !self.dest_ports.iter().any(|r| r.contains(flow.dst_port)))
                || self
                    .source_ports
                    .is_some_and(|r| !r.contains(flow.src_port)))
        {
            return false;
        }
        let remote_ok = match (&self.remote, remote) {
            (RemoteMatch::V4(lo, hi), IpAddr::V4(a)) => (*lo..=*hi).contains(&u32::from(a)),
            (RemoteMatch::V6(lo, hi), IpAddr::V6(a)) => (*lo..=*hi).contains(&u128::from(a)),
            (RemoteMatch::Group(g), addr) => members[*g as usize].contains(addr),
            (RemoteMatch::List(v4, _), IpAddr::V4(a)) => {
                let a = u32::from(a);
                v4.iter().any(|&(lo, hi)| (lo..=hi).contains(&a))
            }
            (RemoteMatch::List(_, v6), IpAddr::V6(a)) => {
                let a = u128::from(a);
                v6.iter().any(|&(lo, hi)| (lo..=hi).contains(&a))
            }
            _ => false,
        };
        remote_ok && self.local.is_none_or(|local| local.contains(&flow.local()))
    }
}

/// Every group's rules per direction in S10 order, and every group's member addresses.
#[derive(Clone, Debug)]
pub(crate) struct LinearRules {
    /// Per group, indexed by `Direction as usize`.
    lists: Vec<[Vec<LinearRule>; 2]>,
    /// Per group: the private addresses of the NICs carrying it (S6), shared by every rule that
    /// references it and by inner access (S11).
    pub members: Vec<AddressSet>,
}

impl LinearRules {
    pub(crate) fn new(snapshot: &Snapshot, options: &EvalOptions) -> LinearRules {
        let members: Vec<AddressSet> = (0..snapshot.groups().len())
            .map(|g| AddressSet::of(snapshot.group_member_addresses(&snapshot.groups()[g].id)))
            .collect();
        let lists = snapshot
            .groups()
            .iter()
            .map(|group| {
                let mut lists: [Vec<LinearRule>; 2] = [Vec::new(), Vec::new()];
                for (position, rule) in group.rules.iter().enumerate() {
                    // S9: classic groups only consider rules of the flow's NicType.
                    if group.is_classic() && rule.nic_type != options.nic_type {
                        continue;
                    }
                    if let Some(linear) = resolve(snapshot, rule, position) {
                        lists[rule.direction as usize].push(linear);
                    }
                }
                for list in &mut lists {
                    list.sort_by_key(|r| (r.priority, r.action, r.rule_position));
                }
                lists
            })
            .collect();
        LinearRules { lists, members }
    }

    /// S9 + S10 over `groups` (the target's, in order): the deciding rule and its action.
    #[inline]
    pub(crate) fn deciding_rule(
        &self,
        groups: &[GroupIndex],
        flow: &Flow,
    ) -> Option<(RuleRef, Action)> {
        let remote = flow.remote();
        let mut best: Option<(Precedence, RuleRef)> = None;
        for (group_position, &group) in groups.iter().enumerate() {
            let list = &self.lists[group as usize][flow.direction as usize];
            // The group's first match is its best. An earlier group's match wins ties, so the
            // scan stops at the first rule that could no longer beat it.
            let mut found = None;
            for rule in list {
                if best.is_some_and(|(b, _)| (rule.priority, rule.action) >= (b.priority, b.action))
                {
                    break;
                }
                if rule.matches(&self.members, flow, remote) {
                    found = Some(rule);
                    break;
                }
            }
            let Some(rule) = found else {
                continue;
            };
            let key = Precedence {
                priority: rule.priority,
                action: rule.action,
                group_position,
                rule_position: rule.rule_position as usize,
            };
            if best.is_none_or(|(b, _)| key < b) {
                best = Some((
                    key,
                    RuleRef {
                        group,
                        rule: rule.rule_position,
                    },
                ));
            }
        }
        best.map(|(key, rule)| (rule, key.action))
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        let rules: usize = self
            .lists
            .iter()
            .flatten()
            .map(|l| l.capacity() * std::mem::size_of::<LinearRule>())
            .sum();
        rules
            + self
                .members
                .iter()
                .map(AddressSet::memory_bytes)
                .sum::<usize>()
    }
}

/// The rule with its lists and groups resolved; `None` when it can never match (a missing
/// group, prefix list or port list; S6–S7).
fn resolve(snapshot: &Snapshot, rule: &Rule, position: usize) -> Option<LinearRule> {
    let remote = match &rule.remote {
        RemoteObject::Cidr(ipnet::IpNet::V4(net)) => {
            RemoteMatch::V4(u32::from(net.network()), u32::from(net.broadcast()))
        }
        RemoteObject::Cidr(ipnet::IpNet::V6(net)) => {
            RemoteMatch::V6(u128::from(net.network()), u128::from(net.broadcast()))
        }
        RemoteObject::Group(id) => RemoteMatch::Group(snapshot.group_index(id)?),
        RemoteObject::PrefixList(id) => {
            let list = snapshot.prefix_list(id)?;
            let v4: Vec<(u32, u32)> = list.cidrs.iter().filter_map(super::v4_interval).collect();
            let v6: Vec<(u128, u128)> = list.cidrs.iter().filter_map(super::v6_interval).collect();
            RemoteMatch::List(v4.into(), v6.into())
        }
    };
    let dest_ports: Box<[PortRange]> = match &rule.dest_ports {
        _ if !rule.protocol.has_ports() => Box::new([]),
        DestPorts::Any => Box::new([]),
        DestPorts::Range(range) => Box::new([*range]),
        DestPorts::List(id) => {
            let list = snapshot.port_list(id)?;
            if list.ranges.is_empty() {
                return None; // an empty list holds no port
            }
            list.ranges.clone().into()
        }
    };
    Some(LinearRule {
        priority: rule.priority,
        action: rule.action,
        rule_position: position as u32,
        protocol: rule.protocol,
        dest_ports,
        source_ports: rule.source_ports,
        remote,
        local: rule.local,
    })
}
