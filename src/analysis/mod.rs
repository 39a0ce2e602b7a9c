//! Questions about whole rule sets, answered symbolically over the full five-tuple space:
//! [`audit`] (shadowed, redundant and risky rules) and [`diff`] (the flows whose verdict changes
//! between two snapshots).
//!
//! Per target (NIC or bare group), direction and address family, the rules are taken from the
//! compile stages (candidates, S10 rank order, resolved interval sets per field) and turned into
//! a [`DecisionList`]: an ordered list of boxes (see [`region`]) in which the first box holding
//! a flow decides it. The steps of S14 that come before the custom rules are folded in as
//! pseudo-rules at the front — the platform block (S13: egress TCP 25 to public IPv4, when the
//! options enable it) and inner access (S11: remote address of a peer NIC) — and the default
//! (S12) decides whatever no box holds. So a flow's first box in the list gives exactly the
//! verdict of [`crate::eval::reference::evaluate`].
//!
//! ```
//! use sgsim::analysis::{audit, diff};
//! use sgsim::{Engine, Snapshot};
//!
//! let group = |extra: &str| format!(r#"{{
//!   "SecurityGroupId": "sg-web", "Permissions": {{"Permission": [
//!     {{"SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "IpProtocol": "TCP",
//!      "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": 1}},
//!     {{"SecurityGroupRuleId": "sgr-ssh-office", "Direction": "ingress", "IpProtocol": "TCP",
//!      "PortRange": "22/22", "SourceCidrIp": "198.51.100.0/24", "Priority": 2}}{extra}]}}}}"#);
//! let old = Engine::new(Snapshot::from_json_str(&group(""))?);
//!
//! // The office rule can never decide: the world-wide rule before it takes all its flows.
//! let report = audit::audit(&old, &audit::AuditOptions::default());
//! let shadowed = &report.targets[0].shadowed[0];
//! assert_eq!((shadowed.rule.rule.as_str(), shadowed.covered_by.clone()),
//!            ("sgr-ssh-office", vec!["sg-web/sgr-ssh".to_string()]));
//! // SSH from anywhere is exposed; the witness flow was re-checked with the engine.
//! let ssh = &report.targets[0].exposures[0];
//! assert!(ssh.ports == "22" && ssh.witness.verified);
//!
//! // A drop rule for one address, ahead of the others, flips exactly that address's SSH.
//! let new = Engine::new(Snapshot::from_json_str(&group(r#",
//!     {"SecurityGroupRuleId": "sgr-block", "Direction": "ingress", "IpProtocol": "TCP",
//!      "PortRange": "22/22", "SourceCidrIp": "203.0.113.9", "Policy": "Drop", "Priority": 1}"#))?);
//! let changes = &diff::diff(&old, &new).targets[0].changes;
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].region.boxes[0].remote, "203.0.113.9");
//! assert_eq!(changes[0].witness_after.engine_by, "sg-web/sgr-block");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
pub mod check;
pub mod diff;
pub mod explain;
pub mod hits;
pub mod open_port;
pub mod reach;
pub mod reach_render;
pub mod region;
pub mod replay;
pub mod sarif;
pub mod search;
pub mod services;

use crate::compile::{inner_peers, resolved_rules, v4_interval, v6_interval, ResolvedRules};
use crate::input::flows::TupleFields;
use crate::model::{
    proto, Action, Direction, EvalOptions, Family, Flow, NicIndex, Reason, Snapshot, Target,
};
use crate::Engine;
use ipnet::IpNet;
use region::{AddrKey, FlowBox, FlowPoint, Intervals, Preferred, Region};
use serde::Serialize;
use std::net::IpAddr;

/// One box of a [`DecisionList`] and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<A: AddrKey> {
    /// What this box stands for.
    pub decider: Reason,
    /// What it does to the flows it holds.
    pub action: Action,
    /// The flows it holds.
    pub flows: FlowBox<A>,
}

/// The verdict function of one target, direction and family: the first entry holding a flow
/// decides it, and `default` decides the rest.
#[derive(Clone, Debug)]
pub struct DecisionList<A: AddrKey> {
    /// The direction the list decides.
    pub direction: Direction,
    /// The boxes in S14 order: the platform block, inner access, then the rules by S10 rank.
    pub entries: Vec<Entry<A>>,
    /// The verdict (S12) of every flow no entry holds.
    pub default: Action,
}

/// A part of a queried region and what decides it.
#[derive(Clone, Debug)]
pub struct Piece<A: AddrKey> {
    /// What decides these flows.
    pub decider: Reason,
    /// The verdict it gives them.
    pub action: Action,
    /// The part of the queried region it decides.
    pub flows: Region<A>,
}

/// Both families of one target and direction.
#[derive(Clone, Debug)]
pub struct DirectionLists {
    /// IPv4 flows, addresses as `u32`.
    pub v4: DecisionList<u32>,
    /// IPv6 flows, addresses as `u128`.
    pub v6: DecisionList<u128>,
}

impl DirectionLists {
    /// Builds the decision lists of `target` in `direction`, as [`crate::eval::reference::evaluate`]
    /// would decide them under `options`.
    pub fn build(
        snapshot: &Snapshot,
        options: &EvalOptions,
        target: Target,
        direction: Direction,
    ) -> DirectionLists {
        let (v4, v6) = resolved_rules(snapshot, target, direction, options);
        let default = crate::model::semantics::default_action(snapshot, target, direction);
        let (peers_v4, peers_v6) = match target {
            Target::Nic(nic) => inner_peers(snapshot, nic),
            Target::Group(_) => (Vec::new(), Vec::new()),
        };
        let platform = options.platform_rules && direction == Direction::Egress;
        DirectionLists {
            v4: DecisionList::build(direction, default, &v4, &peers_v4, platform),
            v6: DecisionList::build(direction, default, &v6, &peers_v6, false),
        }
    }
}

impl<A: FamilyKey> DecisionList<A> {
    fn build(
        direction: Direction,
        default: Action,
        resolved: &ResolvedRules<A>,
        inner_peers: &[A],
        platform: bool,
    ) -> DecisionList<A> {
        let mut entries = Vec::with_capacity(resolved.rules.len() + 2);
        if platform {
            // S13 comes first; it is IPv4 only, and `platform` is only set for that family.
            entries.push(Entry {
                decider: Reason::Platform,
                action: Action::Drop,
                flows: FlowBox {
                    protocol: Intervals::single(proto::TCP, proto::TCP),
                    dest_port: Intervals::single(25, 25),
                    remote: A::interval_set(&PLATFORM_PRIVATE).complement(),
                    ..FlowBox::full()
                },
            });
        }
        if !inner_peers.is_empty() {
            entries.push(Entry {
                decider: Reason::InnerAccess,
                action: Action::Accept,
                flows: FlowBox {
                    remote: Intervals::from_unsorted(inner_peers.iter().map(|&a| (a, a)).collect()),
                    ..FlowBox::full()
                },
            });
        }
        let sets = &resolved.sets;
        for (rank, (&rule, &action)) in resolved.rules.iter().zip(&resolved.actions).enumerate() {
            let flows = FlowBox {
                protocol: Intervals::from_unsorted(sets.protocol[rank].clone()),
                dest_port: Intervals::from_unsorted(sets.dest_port[rank].clone()),
                source_port: Intervals::from_unsorted(sets.source_port[rank].clone()),
                remote: Intervals::from_unsorted(sets.remote[rank].clone()),
                local: Intervals::from_unsorted(sets.local[rank].clone()),
            };
            entries.push(Entry {
                decider: Reason::Rule(rule),
                action,
                flows,
            });
        }
        DecisionList {
            direction,
            entries,
            default,
        }
    }

    /// Splits `query` by what decides each of its flows (rank order, then the default).
    pub fn decide(&self, query: Region<A>) -> Vec<Piece<A>> {
        let mut remaining = query;
        let mut pieces = Vec::new();
        for entry in &self.entries {
            if remaining.is_empty() {
                break;
            }
            if !remaining.intersects_box(&entry.flows) {
                continue;
            }
            let taken = remaining.intersect_box(&entry.flows);
            remaining.subtract_box(&entry.flows);
            pieces.push(Piece {
                decider: entry.decider,
                action: entry.action,
                flows: taken,
            });
        }
        if !remaining.is_empty() {
            pieces.push(Piece {
                decider: Reason::Default,
                action: self.default,
                flows: remaining,
            });
        }
        pieces
    }

    /// The decider of one point, by scanning the list (for tests and witnesses).
    pub fn decide_point(&self, point: &FlowPoint<A>) -> (Reason, Action) {
        self.entries
            .iter()
            .find(|e| e.flows.contains(point))
            .map_or((Reason::Default, self.default), |e| (e.decider, e.action))
    }
}

/// S13's private ranges: RFC 1918 and 100.64.0.0/10.
const PLATFORM_PRIVATE: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// A NIC's addresses of one family, as points.
pub(crate) fn own_addresses<A: FamilyKey>(snapshot: &Snapshot, nic: NicIndex) -> Intervals<A> {
    let addresses = snapshot.nic(nic).addresses.iter();
    Intervals::from_unsorted(
        addresses
            .filter_map(|&a| A::from_ip(a))
            .map(|a| (a, a))
            .collect(),
    )
}

/// Address families as interval sets built from CIDR text.
pub trait FamilyKey: AddrKey {
    /// The address family of this key type.
    const FAMILY: Family;
    /// The addresses of `cidrs` (CIDR text; unparsable or other-family entries are left out).
    fn interval_set(cidrs: &[&str]) -> Intervals<Self>;
}

impl FamilyKey for u32 {
    const FAMILY: Family = Family::V4;
    fn interval_set(cidrs: &[&str]) -> Intervals<u32> {
        Intervals::from_unsorted(
            cidrs
                .iter()
                .filter_map(|c| c.parse::<IpNet>().ok().as_ref().and_then(v4_interval))
                .collect(),
        )
    }
}

impl FamilyKey for u128 {
    const FAMILY: Family = Family::V6;
    fn interval_set(cidrs: &[&str]) -> Intervals<u128> {
        Intervals::from_unsorted(
            cidrs
                .iter()
                .filter_map(|c| c.parse::<IpNet>().ok().as_ref().and_then(v6_interval))
                .collect(),
        )
    }
}

/// One family's list out of a [`DirectionLists`], for code generic over the family.
pub trait ListFamily: FamilyKey {
    /// This family's list.
    fn list(lists: &DirectionLists) -> &DecisionList<Self>;
    /// This family's list, taking it out of `lists`.
    fn into_list(lists: DirectionLists) -> DecisionList<Self>;
}

impl ListFamily for u32 {
    fn list(lists: &DirectionLists) -> &DecisionList<u32> {
        &lists.v4
    }
    fn into_list(lists: DirectionLists) -> DecisionList<u32> {
        lists.v4
    }
}

impl ListFamily for u128 {
    fn list(lists: &DirectionLists) -> &DecisionList<u128> {
        &lists.v6
    }
    fn into_list(lists: DirectionLists) -> DecisionList<u128> {
        lists.v6
    }
}

impl<K: crate::compile::key::Key> Intervals<K> {
    /// Every key not in `self`.
    pub fn complement(&self) -> Intervals<K> {
        Intervals::full().subtract(self)
    }
}

/// The flow a point stands for: the remote address is the source of ingress and the
/// destination of egress.
pub fn flow_of<A: AddrKey>(direction: Direction, point: &FlowPoint<A>) -> Flow {
    let (src, dst) = match direction {
        Direction::Ingress => (point.remote.to_ip(), point.local.to_ip()),
        Direction::Egress => (point.local.to_ip(), point.remote.to_ip()),
    };
    Flow {
        direction,
        protocol: point.protocol,
        src,
        src_port: point.source_port,
        dst,
        dst_port: point.dest_port,
    }
}

/// Witness preferences for a target: its own addresses as the local side.
pub(crate) fn preferred_for<A: AddrKey>(snapshot: &Snapshot, target: Target) -> Preferred<A> {
    let own: &[IpAddr] = match target {
        Target::Nic(nic) => &snapshot.nic(nic).addresses,
        Target::Group(_) => &[],
    };
    // A bare group has no addresses of its own: a private one reads better than 0.0.0.0.
    let fallback: [IpAddr; 2] = [
        IpAddr::from([10, 0, 0, 5]),
        IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, 5]),
    ];
    let local = own
        .iter()
        .chain(&fallback)
        .filter_map(|&a| A::from_ip(a))
        .collect();
    // Documentation and private addresses read better than a range's first address (0.0.0.0).
    let remote = [
        "203.0.113.9",
        "198.51.100.9",
        "10.0.0.9",
        "2001:db8::9",
        "fd00::9",
    ]
    .iter()
    .filter_map(|a| A::from_ip(a.parse().expect("valid literal")))
    .collect();
    Preferred {
        remote,
        local,
        dest_port: Vec::new(),
    }
}

/// A concrete flow with the verdict an analysis claims for it and the one the engine gives.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Witness {
    /// `ingress tcp 203.0.113.9:40000 -> 10.0.0.5:22`.
    pub flow: String,
    /// Its protocol, addresses and ports (inline in JSON: `protocol`, `protocol_number`,
    /// `src_ip`, `src_port`, `dst_ip`, `dst_port`).
    #[serde(flatten)]
    pub tuple: TupleFields,
    /// The verdict the analysis claims.
    pub expected: String,
    /// What decides it, as the analysis claims (`sg/sgr`, or a step name).
    pub expected_by: String,
    /// The engine's verdict on the flow.
    pub engine: String,
    /// What decides it in the engine (`sg/sgr`, or a step name).
    pub engine_by: String,
    /// Engine and claim agree (both the action and what decides).
    pub verified: bool,
    #[serde(skip)]
    /// The flow itself (not serialized).
    pub raw: Flow,
}

impl Witness {
    /// Re-evaluates `flow` with the engine and records whether the claim holds.
    pub fn check(
        engine: &Engine,
        target: Target,
        flow: Flow,
        expected: Action,
        expected_by: Reason,
    ) -> Witness {
        let verdict = engine.check(target, &flow);
        let engine_by = verdict.reason;
        let snapshot = engine.snapshot();
        Witness {
            flow: flow.to_string(),
            tuple: TupleFields::of(&flow),
            expected: expected.as_str().to_string(),
            expected_by: expected_by.name(snapshot),
            engine: verdict.action.as_str().to_string(),
            engine_by: engine_by.name(snapshot),
            verified: verdict.action == expected && engine_by == expected_by,
            raw: flow,
        }
    }
}

/// A box in words, for reports.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BoxText {
    /// `any`, names where a protocol has one (`tcp`), numbers and ranges otherwise (`0-5`).
    pub protocol: String,
    /// Destination ports: `any`, or comma-separated ports and ranges (`22,8000-8080`).
    pub dst_port: String,
    /// Source ports, written as `dst_port` is.
    pub src_port: String,
    /// The remote addresses (source of ingress, destination of egress): `any`, `any except …`, or
    /// comma-separated addresses, CIDRs and ranges.
    pub remote: String,
    /// The target's own side, written as `remote` is.
    pub local: String,
}

impl BoxText {
    /// Writes out `b`.
    pub fn of<A: AddrKey>(b: &FlowBox<A>) -> BoxText {
        // Single protocols by name where they have one (`tcp`), ranges as numbers (`0-5`).
        let protocol = if b.protocol.is_full() {
            "any".to_string()
        } else {
            b.protocol
                .as_slice()
                .iter()
                .map(
                    |&(lo, hi)| match (lo == hi, crate::model::protocol_name(lo)) {
                        (true, Some(name)) => name.to_string(),
                        (true, None) => lo.to_string(),
                        (false, _) => format!("{lo}-{hi}"),
                    },
                )
                .collect::<Vec<_>>()
                .join(",")
        };
        BoxText {
            protocol,
            dst_port: region::format_numbers(&b.dest_port),
            src_port: region::format_numbers(&b.source_port),
            remote: region::format_addresses(&b.remote),
            local: region::format_addresses(&b.local),
        }
    }
}

impl std::fmt::Display for BoxText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proto {} dport {} sport {} remote {} local {}",
            self.protocol, self.dst_port, self.src_port, self.remote, self.local
        )
    }
}

/// At most this many boxes of a region are written out in reports; the count says the rest.
pub const SHOWN_BOXES: usize = 8;

/// A region in words: its first boxes and how many there are.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RegionText {
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// The first [`SHOWN_BOXES`] boxes.
    pub boxes: Vec<BoxText>,
    /// How many boxes the region has.
    pub total_boxes: usize,
}

impl RegionText {
    /// Writes out `region`.
    pub fn of<A: FamilyKey>(region: &Region<A>) -> RegionText {
        RegionText {
            family: A::FAMILY.as_str(),
            boxes: region
                .boxes
                .iter()
                .take(SHOWN_BOXES)
                .map(BoxText::of)
                .collect(),
            total_boxes: region.boxes.len(),
        }
    }
}

/// All targets of a snapshot: its NICs, or its groups when it has none.
pub fn targets(snapshot: &Snapshot) -> Vec<Target> {
    if snapshot.nics().is_empty() {
        (0..snapshot.groups().len() as u32)
            .map(Target::Group)
            .collect()
    } else {
        (0..snapshot.nics().len() as u32).map(Target::Nic).collect()
    }
}
