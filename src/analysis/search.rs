//! `sgsim search`: find a flow in a space of flows that gets a given verdict, or prove that none
//! does.
//!
//! The space (addresses as CIDRs, a protocol, destination and source port ranges) is one box
//! of the header space per family; the target's decision list splits it by what decides each
//! part (exactly, as in audit and diff), and the parts with the wanted verdict are the answer.
//! For a connection A → B (S15) the space is split by A's egress and by B's ingress, and the
//! answer is where the two splits combine to the verdict (accept only when both accept).
//! Every reported part carries a witness flow re-checked with the engine.

use super::region::{FlowBox, FlowPoint, Intervals, Preferred, Region};
use super::{
    flow_of, own_addresses, preferred_for, DirectionLists, FamilyKey, ListFamily, Piece,
    RegionText, Witness,
};
use crate::model::Reason;
use crate::model::{Action, Direction, Family, Flow, NicIndex, Target};
use crate::Engine;
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

/// The flows to search: each field `None` means every value. The NIC's own side defaults to the
/// NIC's addresses (both ends' addresses for a connection).
#[derive(Clone, Debug, Default)]
pub struct SearchSpace {
    /// Source addresses.
    pub src: Option<IpNet>,
    /// Destination addresses.
    pub dst: Option<IpNet>,
    /// IP protocol number.
    pub protocol: Option<u8>,
    /// Destination ports `(first, last)`, inclusive.
    pub dst_ports: Option<(u16, u16)>,
    /// Source ports `(first, last)`, inclusive.
    pub src_ports: Option<(u16, u16)>,
}

/// Where the flows are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchAt {
    /// One NIC (or bare group) in one direction.
    Target(Target, Direction),
    /// A connection leaving the first NIC (egress) and entering the second (ingress).
    Connection(NicIndex, NicIndex),
}

#[derive(Clone, Debug, Serialize)]
/// The answer of a search: where in the space the flows with the verdict are.
pub struct SearchReport {
    /// [`SEARCH_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The verdict searched for.
    pub verdict: Action,
    /// Some flow of the space has the verdict.
    pub found: bool,
    /// What was searched, in words; with `found` false it is the proof statement.
    pub statement: String,
    /// Every part of the space with the verdict, by what decides it (egress side first for a
    /// connection).
    pub regions: Vec<FoundRegion>,
}

/// The schema of [`SearchReport`]'s JSON.
pub const SEARCH_SCHEMA_VERSION: u32 = 1;

/// One side's decision for a part of the space.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SideDecision {
    /// The NIC (or group) id.
    pub target: String,
    /// The side's direction (egress at the source NIC of a connection, ingress at its destination).
    pub direction: Direction,
    /// The side's verdict on the region.
    pub action: Action,
    /// `sg/sgr`, `platform`, `inner_access` or `default`.
    pub decided_by: String,
}

#[derive(Clone, Debug, Serialize)]
/// A part of the space with the verdict, and what decides it on each side.
pub struct FoundRegion {
    /// `IPv4` or `IPv6`.
    pub family: &'static str,
    /// One decision per side: one for a target, egress then ingress for a connection.
    pub sides: Vec<SideDecision>,
    /// Remote/local as seen from the ingress side for a connection (remote = source).
    pub region: RegionText,
    /// One flow of the region per side, each checked with the engine.
    pub witnesses: Vec<Witness>,
    /// Every witness agrees with the claimed verdicts and deciders.
    pub verified: bool,
    #[serde(skip)]
    /// The region's flows.
    pub(crate) flows: FamilyRegion,
    /// The direction whose remote/local the region's addresses use.
    #[serde(skip)]
    pub(crate) coordinates: Direction,
}

/// A region of either family.
#[derive(Clone, Debug)]
pub(crate) enum FamilyRegion {
    /// An IPv4 region.
    V4(Region<u32>),
    /// An IPv6 region.
    V6(Region<u128>),
}

impl FoundRegion {
    /// Does the region hold this flow (whatever the flow's own direction field says)?
    pub fn contains(&self, flow: &Flow) -> bool {
        let (remote, local) = match self.coordinates {
            Direction::Ingress => (flow.src, flow.dst),
            Direction::Egress => (flow.dst, flow.src),
        };
        fn point<A>(flow: &Flow, remote: A, local: A) -> FlowPoint<A> {
            FlowPoint {
                protocol: flow.protocol,
                dest_port: flow.dst_port,
                source_port: flow.src_port,
                remote,
                local,
            }
        }
        match (&self.flows, remote, local) {
            (FamilyRegion::V4(region), IpAddr::V4(r), IpAddr::V4(l)) => {
                region.contains(&point(flow, u32::from(r), u32::from(l)))
            }
            (FamilyRegion::V6(region), IpAddr::V6(r), IpAddr::V6(l)) => {
                region.contains(&point(flow, u128::from(r), u128::from(l)))
            }
            _ => false,
        }
    }
}

/// Why a search could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchError(pub String);

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SearchError {}

/// Searches `space` at `at` for flows whose verdict is `verdict`.
pub fn search(
    engine: &Engine,
    at: SearchAt,
    space: &SearchSpace,
    verdict: Action,
) -> Result<SearchReport, SearchError> {
    let families = families(space)?;
    let mut regions = Vec::new();
    for family in &families {
        match family {
            Family::V4 => regions.extend(search_family::<u32>(engine, at, space, verdict)),
            Family::V6 => regions.extend(search_family::<u128>(engine, at, space, verdict)),
        }
    }
    let snapshot = engine.snapshot();
    let place = match at {
        SearchAt::Target(target, direction) => {
            format!("{direction} at {}", snapshot.target_id(target))
        }
        SearchAt::Connection(a, b) => format!(
            "connections from {} to {}",
            snapshot.nic(a).id,
            snapshot.nic(b).id
        ),
    };
    let family_words = match families[..] {
        [one] => format!("{} ", one.as_str()),
        _ => String::new(),
    };
    let found = !regions.is_empty();
    let statement = if found {
        format!(
            "{} part(s) of the {family_words}space of {place} have verdict {verdict}",
            regions.len()
        )
    } else {
        format!("no {family_words}flow in the space of {place} has verdict {verdict}")
    };
    Ok(SearchReport {
        schema_version: SEARCH_SCHEMA_VERSION,
        verdict,
        found,
        statement,
        regions,
    })
}

/// The families the space can hold: the addresses' family, or both.
fn families(space: &SearchSpace) -> Result<Vec<Family>, SearchError> {
    let src = space.src.as_ref().map(Family::of_net);
    let dst = space.dst.as_ref().map(Family::of_net);
    match (src, dst) {
        (Some(s), Some(d)) if s != d => Err(SearchError(format!(
            "--src {} and --dst {} are of different address families",
            space.src.expect("set"),
            space.dst.expect("set")
        ))),
        (Some(f), _) | (_, Some(f)) => Ok(vec![f]),
        (None, None) => Ok(vec![Family::V4, Family::V6]),
    }
}

fn net_interval<A: FamilyKey>(net: &IpNet) -> Intervals<A> {
    let (lo, hi) = (net.network(), net.broadcast());
    match (A::from_ip(lo), A::from_ip(hi)) {
        (Some(lo), Some(hi)) => Intervals::single(lo, hi),
        _ => Intervals::empty(),
    }
}

fn range<K: crate::compile::key::Key>(range: Option<(K, K)>) -> Intervals<K> {
    range.map_or_else(Intervals::full, |(lo, hi)| Intervals::single(lo, hi))
}

fn search_family<A: SearchFamily>(
    engine: &Engine,
    at: SearchAt,
    space: &SearchSpace,
    verdict: Action,
) -> Vec<FoundRegion> {
    let snapshot = engine.snapshot();
    let src = |default: Intervals<A>| space.src.as_ref().map_or(default, net_interval);
    let dst = |default: Intervals<A>| space.dst.as_ref().map_or(default, net_interval);
    let fields = |remote, local| FlowBox {
        protocol: range(space.protocol.map(|p| (p, p))),
        dest_port: range(space.dst_ports),
        source_port: range(space.src_ports),
        remote,
        local,
    };
    match at {
        SearchAt::Target(target, direction) => {
            let own = match target {
                Target::Nic(nic) => own_addresses::<A>(engine.snapshot(), nic),
                Target::Group(_) => Intervals::full(),
            };
            let query = match direction {
                Direction::Ingress => fields(src(Intervals::full()), dst(own)),
                Direction::Egress => fields(dst(Intervals::full()), src(own)),
            };
            let lists = DirectionLists::build(snapshot, engine.options(), target, direction);
            let pieces = A::list(&lists).decide(Region::from_box(query));
            let preferred = preferred_for::<A>(snapshot, target);
            pieces
                .into_iter()
                .filter(|p| p.action == verdict)
                .map(|piece| {
                    let point = piece
                        .flows
                        .witness(&preferred)
                        .expect("pieces are non-empty");
                    let witness = Witness::check(
                        engine,
                        target,
                        flow_of(direction, &point),
                        piece.action,
                        piece.decider,
                    );
                    FoundRegion {
                        family: A::FAMILY.as_str(),
                        sides: vec![SideDecision {
                            target: snapshot.target_id(target).to_string(),
                            direction,
                            action: piece.action,
                            decided_by: piece.decider.name(snapshot),
                        }],
                        region: RegionText::of(&piece.flows),
                        verified: witness.verified,
                        witnesses: vec![witness],
                        flows: A::wrap(piece.flows),
                        coordinates: direction,
                    }
                })
                .collect()
        }
        SearchAt::Connection(from, to) => {
            // Ingress coordinates (remote = source, local = destination) throughout.
            let query = fields(
                src(own_addresses::<A>(engine.snapshot(), from)),
                dst(own_addresses::<A>(engine.snapshot(), to)),
            );
            let egress_lists = DirectionLists::build(
                snapshot,
                engine.options(),
                Target::Nic(from),
                Direction::Egress,
            );
            let ingress_lists = DirectionLists::build(
                snapshot,
                engine.options(),
                Target::Nic(to),
                Direction::Ingress,
            );
            let egress: Vec<Piece<A>> = A::list(&egress_lists)
                .decide(Region::from_box(swap(&query)))
                .into_iter()
                .map(|p| Piece {
                    flows: Region {
                        boxes: p.flows.boxes.iter().map(swap).collect(),
                    },
                    ..p
                })
                .collect();
            let ingress = A::list(&ingress_lists).decide(Region::from_box(query));
            let preferred = Preferred {
                remote: own_addresses::<A>(engine.snapshot(), from)
                    .as_slice()
                    .iter()
                    .map(|&(a, _)| a)
                    .collect(),
                local: own_addresses::<A>(engine.snapshot(), to)
                    .as_slice()
                    .iter()
                    .map(|&(a, _)| a)
                    .collect(),
                dest_port: Vec::new(),
            };
            let mut out = Vec::new();
            for e in &egress {
                for i in &ingress {
                    let both = if e.action == Action::Accept && i.action == Action::Accept {
                        Action::Accept
                    } else {
                        Action::Drop
                    };
                    if both != verdict {
                        continue;
                    }
                    let flows = e.flows.intersect(&i.flows);
                    let Some(point) = flows.witness(&preferred) else {
                        continue;
                    };
                    let flow = flow_of(Direction::Ingress, &point);
                    let egress_flow = Flow {
                        direction: Direction::Egress,
                        ..flow
                    };
                    let witnesses = vec![
                        Witness::check(engine, Target::Nic(from), egress_flow, e.action, e.decider),
                        Witness::check(engine, Target::Nic(to), flow, i.action, i.decider),
                    ];
                    let side = |nic: NicIndex, direction, action, decider: Reason| SideDecision {
                        target: snapshot.nic(nic).id.clone(),
                        direction,
                        action,
                        decided_by: decider.name(snapshot),
                    };
                    out.push(FoundRegion {
                        family: A::FAMILY.as_str(),
                        sides: vec![
                            side(from, Direction::Egress, e.action, e.decider),
                            side(to, Direction::Ingress, i.action, i.decider),
                        ],
                        region: RegionText::of(&flows),
                        verified: witnesses.iter().all(|w| w.verified),
                        witnesses,
                        flows: A::wrap(flows),
                        coordinates: Direction::Ingress,
                    });
                }
            }
            out
        }
    }
}

/// The same flows seen from the other direction: remote and local change places.
fn swap<A: FamilyKey>(b: &FlowBox<A>) -> FlowBox<A> {
    FlowBox {
        remote: b.local.clone(),
        local: b.remote.clone(),
        ..b.clone()
    }
}

/// Wraps a region of the family.
pub(crate) trait SearchFamily: ListFamily {
    /// The region as a [`FamilyRegion`].
    fn wrap(region: Region<Self>) -> FamilyRegion;
}

impl SearchFamily for u32 {
    fn wrap(region: Region<u32>) -> FamilyRegion {
        FamilyRegion::V4(region)
    }
}

impl SearchFamily for u128 {
    fn wrap(region: Region<u128>) -> FamilyRegion {
        FamilyRegion::V6(region)
    }
}
