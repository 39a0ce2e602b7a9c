//! The clauses every evaluator decides the same way, in one place so that the reference
//! evaluator, the compiled engine and the analyses cannot drift apart: who gets inner access
//! (S11), the defaults of basic and enterprise groups (S12) and the platform's port 25 block
//! (S13).

use super::{proto, Action, Direction, Flow, GroupIndex, GroupKind, NicIndex, Snapshot, Target};
use std::net::{IpAddr, Ipv4Addr};

/// S13: egress TCP to port 25 at a public IPv4 address is blocked by the platform.
pub fn is_platform_blocked(flow: &Flow) -> bool {
    flow.direction == Direction::Egress
        && flow.protocol == proto::TCP
        && flow.dst_port == 25
        && matches!(flow.dst, IpAddr::V4(v4) if !is_platform_private(v4))
}

/// The ranges S13 treats as private: RFC 1918 and the shared 100.64.0.0/10.
pub fn is_platform_private(addr: Ipv4Addr) -> bool {
    let [a, b, ..] = addr.octets();
    a == 10
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 100 && (64..128).contains(&b))
}

/// S12: basic groups drop ingress and accept egress; enterprise groups drop both.
pub fn default_action(snapshot: &Snapshot, target: Target, direction: Direction) -> Action {
    let enterprise = snapshot
        .target_groups(target)
        .iter()
        .any(|&g| snapshot.group(g).kind == GroupKind::Enterprise);
    match (enterprise, direction) {
        (false, Direction::Egress) => Action::Accept,
        _ => Action::Drop,
    }
}

/// S11: the groups of `nic` that give inner access (basic, with `InnerAccessPolicy` Accept).
pub fn inner_access_groups(snapshot: &Snapshot, nic: NicIndex) -> Vec<GroupIndex> {
    let groups = snapshot.nic(nic).groups.iter().copied();
    groups
        .filter(|&g| snapshot.group(g).gives_inner_access())
        .collect()
}

/// S11: `addr` belongs to a NIC other than `nic` that carries one of `inner_groups` (the
/// groups of `nic` that give inner access), so flows between them are accepted.
pub fn is_inner_peer(
    snapshot: &Snapshot,
    nic: NicIndex,
    inner_groups: &[GroupIndex],
    addr: &IpAddr,
) -> bool {
    snapshot
        .nics_with_address(addr)
        .iter()
        .filter(|&&other| other != nic)
        .any(|&other| {
            let groups = &snapshot.nic(other).groups;
            groups.iter().any(|g| inner_groups.contains(g))
        })
}
