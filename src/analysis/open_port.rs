//! The verdict on a flow whose source port the user left open: one answer per range of source
//! ports, exact. `sgsim check` without `--sport` uses it instead of silently asking about port 0.
//!
//! The ranges come from the header-space decision lists ([`super::DirectionLists`]): every point
//! where the deciding entry can change is a boundary of some rule's source-port set, so the
//! pieces of the query "this flow, any source port" are the only ranges that can differ. Each
//! range's verdict is then the engine's own, taken at its first port, and neighbours with the
//! same verdict are merged.

use super::region::{FlowBox, Intervals, Region};
use super::{DecisionList, DirectionLists, FamilyKey};
use crate::model::{Flow, Target, Verdict};
use crate::Engine;

/// Source ports `from..=to` and the verdict every one of them gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePortRange {
    /// First source port, inclusive.
    pub from: u16,
    /// Last source port, inclusive.
    pub to: u16,
    /// The verdict of every port in the range (computed at `from`).
    pub verdict: Verdict,
}

/// The verdicts on `flow` at `target` for every source port 0..=65535, as maximal ranges in
/// port order (one range when all agree). `flow.src_port` is ignored.
pub fn by_source_port(engine: &Engine, target: Target, flow: &Flow) -> Vec<SourcePortRange> {
    let lists = DirectionLists::build(engine.snapshot(), engine.options(), target, flow.direction);
    let starts = match (flow.remote(), flow.local()) {
        (remote, local) if remote.is_ipv4() && local.is_ipv4() => {
            range_starts(&lists.v4, flow, remote, local)
        }
        (remote, local) => range_starts(&lists.v6, flow, remote, local),
    };
    let mut ranges: Vec<SourcePortRange> = Vec::with_capacity(starts.len());
    for (i, &from) in starts.iter().enumerate() {
        let to = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
        let verdict = engine.check(
            target,
            &Flow {
                src_port: from,
                ..*flow
            },
        );
        match ranges.last_mut() {
            Some(last) if last.verdict == verdict => last.to = to,
            _ => ranges.push(SourcePortRange { from, to, verdict }),
        }
    }
    ranges
}

/// The first port of every piece the decision list cuts the query into, sorted, from 0.
fn range_starts<A: FamilyKey>(
    list: &DecisionList<A>,
    flow: &Flow,
    remote: std::net::IpAddr,
    local: std::net::IpAddr,
) -> Vec<u16> {
    let (Some(remote), Some(local)) = (A::from_ip(remote), A::from_ip(local)) else {
        // Mixed families match no rule: one answer for every port.
        return vec![0];
    };
    let query = FlowBox {
        protocol: Intervals::single(flow.protocol, flow.protocol),
        dest_port: Intervals::single(flow.dst_port, flow.dst_port),
        source_port: Intervals::full(),
        remote: Intervals::single(remote, remote),
        local: Intervals::single(local, local),
    };
    let mut starts: Vec<u16> = list
        .decide(Region::from_box(query))
        .iter()
        .flat_map(|piece| piece.flows.boxes.iter())
        .flat_map(|b| b.source_port.as_slice().iter().map(|&(lo, _)| lo))
        .chain([0])
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}
