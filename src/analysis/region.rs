//! Header-space regions: exact sets of flows of one address family, as unions of boxes.
//!
//! A [`FlowBox`] is a product of one interval set per field (protocol, destination port, source
//! port, remote address, local address) — exactly the shape of one resolved rule in
//! `crate::compile::bitvector::RuleFieldSets`, so a rule's match set is one box, however many
//! prefix-list CIDRs, port-list ranges or group members it resolves to. A [`Region`] is a union
//! of boxes. Every boundary comes from the rules themselves, so the elementary intervals between
//! boundaries are the classifier's equivalence classes and every answer is exact: nothing is
//! sampled.

use crate::compile::key::Key;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A sorted list of disjoint, non-adjacent inclusive intervals.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Intervals<K: Key>(Vec<(K, K)>);

impl<K: Key> Intervals<K> {
    /// The empty set.
    pub fn empty() -> Self {
        Intervals(Vec::new())
    }

    /// Every key, `0..=K::MAX`.
    pub fn full() -> Self {
        Intervals(vec![(K::default(), K::MAX)])
    }

    /// The one interval `lo..=hi`.
    pub fn single(lo: K, hi: K) -> Self {
        Intervals(vec![(lo, hi)])
    }

    /// Any intervals, in any order, overlapping or not.
    pub fn from_unsorted(mut items: Vec<(K, K)>) -> Self {
        items.sort_unstable();
        let mut merged: Vec<(K, K)> = Vec::with_capacity(items.len());
        for (lo, hi) in items {
            if let Some(last) = merged.last_mut() {
                // Overlapping or adjacent: extend the last one.
                if last.1.successor().is_none_or(|after| lo <= after) {
                    last.1 = last.1.max(hi);
                    continue;
                }
            }
            merged.push((lo, hi));
        }
        Intervals(merged)
    }

    /// The intervals, sorted, as inclusive `(lo, hi)` pairs.
    pub fn as_slice(&self) -> &[(K, K)] {
        &self.0
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the set holds every key.
    pub fn is_full(&self) -> bool {
        self.0 == [(K::default(), K::MAX)]
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: K) -> bool {
        let i = self.0.partition_point(|&(lo, _)| lo <= value);
        i > 0 && value <= self.0[i - 1].1
    }

    /// The lowest key of the set.
    pub fn first(&self) -> Option<K> {
        self.0.first().map(|&(lo, _)| lo)
    }

    /// Whether the two sets share a key.
    pub fn intersects(&self, other: &Self) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            if a.0.max(b.0) <= a.1.min(b.1) {
                return true;
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    /// The keys in both sets.
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < self.0.len() && j < other.0.len() {
            let (a, b) = (self.0[i], other.0[j]);
            let (lo, hi) = (a.0.max(b.0), a.1.min(b.1));
            if lo <= hi {
                out.push((lo, hi));
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Intervals(out)
    }

    /// The keys of `self` that are not in `other`.
    pub fn subtract(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            let mut start = Some(lo);
            // Skip subtrahends entirely below this interval.
            while j < other.0.len() && other.0[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            while let Some(s) = start {
                if k >= other.0.len() || other.0[k].0 > hi {
                    out.push((s, hi));
                    break;
                }
                let (olo, ohi) = other.0[k];
                if olo > s {
                    out.push((s, predecessor(olo)));
                }
                start = ohi.successor().filter(|&after| after <= hi);
                k += 1;
            }
        }
        Intervals(out)
    }

    /// Whether every key of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.subtract(other).is_empty()
    }

    /// The keys in either set.
    pub fn union(&self, other: &Self) -> Self {
        let mut all = self.0.clone();
        all.extend_from_slice(&other.0);
        Intervals::from_unsorted(all)
    }
}

fn predecessor<K: Key>(value: K) -> K {
    // Only called on a value above another interval's start, so never on 0.
    value.predecessor().expect("above a lower bound")
}

/// Address keys that convert to and from `IpAddr`.
pub trait AddrKey: Key {
    /// The address this key stands for.
    fn to_ip(self) -> IpAddr;
    /// The key of `addr`, or `None` for an address of the other family.
    fn from_ip(addr: IpAddr) -> Option<Self>;
}

impl AddrKey for u32 {
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
    fn from_ip(addr: IpAddr) -> Option<Self> {
        match addr {
            IpAddr::V4(v4) => Some(u32::from(v4)),
            IpAddr::V6(_) => None,
        }
    }
}

impl AddrKey for u128 {
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
    fn from_ip(addr: IpAddr) -> Option<Self> {
        match addr {
            IpAddr::V6(v6) => Some(u128::from(v6)),
            IpAddr::V4(_) => None,
        }
    }
}

/// A product of one interval set per field: the flows whose five values all lie in the sets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowBox<A: Key> {
    /// IP protocol numbers.
    pub protocol: Intervals<u8>,
    /// Destination ports.
    pub dest_port: Intervals<u16>,
    /// Source ports.
    pub source_port: Intervals<u16>,
    /// Remote addresses: the source of ingress flows, the destination of egress flows.
    pub remote: Intervals<A>,
    /// Local addresses: the target NIC's side.
    pub local: Intervals<A>,
}

/// One point of the header space (the direction and family are the region's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowPoint<A> {
    /// IP protocol number.
    pub protocol: u8,
    /// Destination port.
    pub dest_port: u16,
    /// Source port.
    pub source_port: u16,
    /// Remote address (source of ingress, destination of egress).
    pub remote: A,
    /// Local address (the NIC's side).
    pub local: A,
}

impl<A: Key> FlowBox<A> {
    /// Every flow of the family.
    pub fn full() -> Self {
        FlowBox {
            protocol: Intervals::full(),
            dest_port: Intervals::full(),
            source_port: Intervals::full(),
            remote: Intervals::full(),
            local: Intervals::full(),
        }
    }

    /// Whether the box holds no flow (some field is empty).
    pub fn is_empty(&self) -> bool {
        self.protocol.is_empty()
            || self.dest_port.is_empty()
            || self.source_port.is_empty()
            || self.remote.is_empty()
            || self.local.is_empty()
    }

    /// Whether the two boxes share a flow.
    pub fn intersects(&self, other: &Self) -> bool {
        self.protocol.intersects(&other.protocol)
            && self.dest_port.intersects(&other.dest_port)
            && self.source_port.intersects(&other.source_port)
            && self.remote.intersects(&other.remote)
            && self.local.intersects(&other.local)
    }

    /// `None` when the intersection is empty.
    pub fn intersect(&self, other: &Self) -> Option<Self> {
        let out = FlowBox {
            protocol: self.protocol.intersect(&other.protocol),
            dest_port: self.dest_port.intersect(&other.dest_port),
            source_port: self.source_port.intersect(&other.source_port),
            remote: self.remote.intersect(&other.remote),
            local: self.local.intersect(&other.local),
        };
        (!out.is_empty()).then_some(out)
    }

    /// Whether every flow of `self` is in `other` (an empty box is a subset of any box).
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.is_empty()
            || (self.protocol.is_subset_of(&other.protocol)
                && self.dest_port.is_subset_of(&other.dest_port)
                && self.source_port.is_subset_of(&other.source_port)
                && self.remote.is_subset_of(&other.remote)
                && self.local.is_subset_of(&other.local))
    }

    /// `self − other` as at most five disjoint boxes: field by field, the part of `self` outside
    /// `other` on that field, restricted to `other` on the fields before it.
    pub fn subtract(&self, other: &Self, out: &mut Vec<FlowBox<A>>) {
        if !self.intersects(other) {
            out.push(self.clone());
            return;
        }
        let mut rest = self.clone();
        macro_rules! cut {
            ($field:ident) => {
                let outside = rest.$field.subtract(&other.$field);
                if !outside.is_empty() {
                    let mut piece = rest.clone();
                    piece.$field = outside;
                    out.push(piece);
                    rest.$field = rest.$field.intersect(&other.$field);
                }
            };
        }
        // Addresses first: they are where rules differ most, so the pieces stay few and wide.
        cut!(remote);
        cut!(dest_port);
        cut!(protocol);
        cut!(source_port);
        cut!(local);
        // What is left of `rest` lies inside `other`: dropped.
    }

    /// Whether `point` lies in the box.
    pub fn contains(&self, point: &FlowPoint<A>) -> bool {
        self.protocol.contains(point.protocol)
            && self.dest_port.contains(point.dest_port)
            && self.source_port.contains(point.source_port)
            && self.remote.contains(point.remote)
            && self.local.contains(point.local)
    }

    /// A point of the box, preferring `preferred` values where the box holds them (a NIC's own
    /// address, TCP, a typical ephemeral source port), else each field's lowest value.
    pub fn witness(&self, preferred: &Preferred<A>) -> Option<FlowPoint<A>> {
        fn pick<K: Key>(set: &Intervals<K>, wanted: &[K]) -> Option<K> {
            wanted
                .iter()
                .copied()
                .find(|&w| set.contains(w))
                .or_else(|| set.first())
        }
        Some(FlowPoint {
            protocol: pick(&self.protocol, &[6, 17, 1, 58])?,
            // Port 0 is legal but reads like a mistake: prefer 1 when the set allows it.
            dest_port: pick(
                &self.dest_port,
                &[preferred.dest_port.as_slice(), &[1]].concat(),
            )?,
            source_port: pick(&self.source_port, &[40000])?,
            remote: pick(&self.remote, &preferred.remote)?,
            local: pick(&self.local, &preferred.local)?,
        })
    }
}

/// Values a witness should use when the region allows them, so witnesses read naturally.
#[derive(Clone, Debug, Default)]
pub struct Preferred<A> {
    /// Remote addresses to try first.
    pub remote: Vec<A>,
    /// Local addresses to try first.
    pub local: Vec<A>,
    /// Destination ports to try first (before port 1).
    pub dest_port: Vec<u16>,
}

/// A union of boxes (not necessarily disjoint, though every operation here that splits keeps
/// its pieces disjoint).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Region<A: Key> {
    /// The boxes (the operations here never add an empty one).
    pub boxes: Vec<FlowBox<A>>,
}

impl<A: Key> Region<A> {
    /// The empty region.
    pub fn empty() -> Self {
        Region { boxes: Vec::new() }
    }

    /// Every flow of the family.
    pub fn full() -> Self {
        Region::from_box(FlowBox::full())
    }

    /// The flows of `b` (the empty region when `b` is empty).
    pub fn from_box(b: FlowBox<A>) -> Self {
        let boxes = if b.is_empty() { Vec::new() } else { vec![b] };
        Region { boxes }
    }

    /// Whether the region holds no flow.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// Adds the flows of `b` (an empty box is left out).
    pub fn push(&mut self, b: FlowBox<A>) {
        if !b.is_empty() {
            self.boxes.push(b);
        }
    }

    /// Adds the flows of `other`.
    pub fn extend(&mut self, other: Region<A>) {
        self.boxes.extend(other.boxes);
    }

    /// Whether the region shares a flow with `other`.
    pub fn intersects_box(&self, other: &FlowBox<A>) -> bool {
        self.boxes.iter().any(|b| b.intersects(other))
    }

    /// The flows of the region that are in `other`.
    pub fn intersect_box(&self, other: &FlowBox<A>) -> Region<A> {
        Region {
            boxes: self
                .boxes
                .iter()
                .filter_map(|b| b.intersect(other))
                .collect(),
        }
    }

    /// The flows in both regions.
    pub fn intersect(&self, other: &Region<A>) -> Region<A> {
        let mut out = Region::empty();
        for b in &other.boxes {
            out.extend(self.intersect_box(b));
        }
        out
    }

    /// Removes `other` in place; returns whether anything was removed.
    pub fn subtract_box(&mut self, other: &FlowBox<A>) -> bool {
        if !self.intersects_box(other) {
            return false;
        }
        let mut out = Vec::with_capacity(self.boxes.len() + 4);
        for b in &self.boxes {
            b.subtract(other, &mut out);
        }
        self.boxes = out;
        true
    }

    /// Removes the flows of `other` in place.
    pub fn subtract(&mut self, other: &Region<A>) {
        for b in &other.boxes {
            if self.is_empty() {
                return;
            }
            self.subtract_box(b);
        }
    }

    /// Whether `point` lies in the region.
    pub fn contains(&self, point: &FlowPoint<A>) -> bool {
        self.boxes.iter().any(|b| b.contains(point))
    }

    /// A point of the region, the first box's that has one, chosen as [`FlowBox::witness`] does.
    pub fn witness(&self, preferred: &Preferred<A>) -> Option<FlowPoint<A>> {
        self.boxes.iter().find_map(|b| b.witness(preferred))
    }
}

/// Human form of an address interval set: CIDRs where an interval is one, else `a-b`.
pub(crate) fn format_addresses<A: AddrKey>(set: &Intervals<A>) -> String {
    if set.is_full() {
        return "any".to_string();
    }
    // "Everything but a few addresses" reads better as what is left out.
    let missing = Intervals::full().subtract(set);
    if set.as_slice().len() > 1 && missing.as_slice().len() < set.as_slice().len() {
        return format!("any except {}", format_addresses(&missing));
    }
    let parts: Vec<String> = set
        .as_slice()
        .iter()
        .map(|&(lo, hi)| {
            let (lo_ip, hi_ip) = (lo.to_ip(), hi.to_ip());
            if lo == hi {
                return lo_ip.to_string();
            }
            match single_cidr(lo_ip, hi_ip) {
                Some(net) => net,
                None => format!("{lo_ip}-{hi_ip}"),
            }
        })
        .collect();
    parts.join(",")
}

fn single_cidr(lo: IpAddr, hi: IpAddr) -> Option<String> {
    let (lo, hi, bits) = match (lo, hi) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return None,
    };
    let size = hi.wrapping_sub(lo).wrapping_add(1); // 0 means the whole 128-bit space
    let host_bits = if size == 0 {
        128
    } else {
        size.trailing_zeros()
    };
    let aligned = size == 0 || (size.is_power_of_two() && lo.trailing_zeros() >= host_bits);
    if !aligned || host_bits > bits {
        return None;
    }
    let lo_ip = if bits == 32 {
        IpAddr::V4(Ipv4Addr::from(lo as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(lo))
    };
    Some(format!("{lo_ip}/{}", bits - host_bits))
}

/// Human form of a port or protocol interval set.
pub(crate) fn format_numbers<K: Key + fmt::Display>(set: &Intervals<K>) -> String {
    if set.is_full() {
        return "any".to_string();
    }
    let parts: Vec<String> = set
        .as_slice()
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(items: &[(u16, u16)]) -> Intervals<u16> {
        Intervals::from_unsorted(items.to_vec())
    }

    #[test]
    fn interval_algebra_matches_sets() {
        let a = iv(&[(1, 5), (8, 10), (20, 30)]);
        let b = iv(&[(3, 9), (25, 40)]);
        let set = |x: &Intervals<u16>| (0u16..50).filter(|&v| x.contains(v)).collect::<Vec<_>>();
        let sa = set(&a);
        let sb = set(&b);
        let inter: Vec<u16> = sa.iter().copied().filter(|v| sb.contains(v)).collect();
        let diff: Vec<u16> = sa.iter().copied().filter(|v| !sb.contains(v)).collect();
        assert_eq!(set(&a.intersect(&b)), inter);
        assert_eq!(set(&a.subtract(&b)), diff);
        assert_eq!(a.intersects(&b), !inter.is_empty());
        assert_eq!(a.subtract(&b), iv(&[(1, 2), (10, 10), (20, 24)]));
        assert_eq!(iv(&[(0, 3), (4, 6)]), iv(&[(0, 6)]));
        assert_eq!(
            Intervals::<u16>::full().subtract(&iv(&[(0, 0), (65535, 65535)])),
            iv(&[(1, 65534)])
        );
    }

    #[test]
    fn box_subtraction_is_exact_and_disjoint() {
        let full = FlowBox::<u32>::full();
        let mut hole = FlowBox::<u32>::full();
        hole.protocol = Intervals::single(6, 6);
        hole.dest_port = Intervals::single(22, 22);
        hole.remote = Intervals::single(10, 20);
        let mut pieces = Vec::new();
        full.subtract(&hole, &mut pieces);
        assert!(pieces.len() <= 5);
        let inside = FlowPoint {
            protocol: 6,
            dest_port: 22,
            source_port: 9,
            remote: 15,
            local: 1,
        };
        let outside = FlowPoint {
            dest_port: 23,
            ..inside
        };
        assert_eq!(pieces.iter().filter(|b| b.contains(&inside)).count(), 0);
        assert_eq!(pieces.iter().filter(|b| b.contains(&outside)).count(), 1);
    }

    #[test]
    fn addresses_print_as_cidrs_or_ranges() {
        let set = Intervals::from_unsorted(vec![
            (
                u32::from(Ipv4Addr::new(10, 0, 0, 0)),
                u32::from(Ipv4Addr::new(10, 255, 255, 255)),
            ),
            (
                u32::from(Ipv4Addr::new(11, 0, 0, 1)),
                u32::from(Ipv4Addr::new(11, 0, 0, 2)),
            ),
        ]);
        assert_eq!(format_addresses(&set), "10.0.0.0/8,11.0.0.1-11.0.0.2");
        assert_eq!(format_addresses(&Intervals::<u128>::full()), "any");
    }
}
