//! What the classifiers look up: a field value domain ([`Key`]: protocol numbers, ports, IPv4
//! or IPv6 addresses) and the key of one flow ([`FlowKey`]), shared by every tier.

use crate::model::{Direction, Flow};

/// A field value domain: protocol numbers, ports, IPv4 or IPv6 addresses.
pub trait Key: Copy + Ord + Eq + std::hash::Hash + Default + std::fmt::Debug + Send + Sync {
    const MAX: Self;
    const BITS: u32;
    /// `self + 1`, or `None` at [`Key::MAX`].
    fn successor(self) -> Option<Self>;
    /// `self - 1`, or `None` at 0.
    fn predecessor(self) -> Option<Self>;
    /// The top `bits` bits (1 ..= `BITS`) as an index.
    fn top(self, bits: u32) -> usize;
    /// The prefix lengths a partitioned classifier buckets by, coarse to fine; see
    /// the partitioned tier.
    const BLOCK_LEVELS: &'static [u32];
    /// The block of `prefix_bits` bits this value lies in.
    fn block(self, prefix_bits: u32) -> u128;
    /// A value in `lo..=hi` picked by `random`, a uniformly random number.
    fn pick_between(lo: Self, hi: Self, random: u128) -> Self;
}

macro_rules! impl_key {
    ($($t:ty => $levels:expr),*) => {$(
        impl Key for $t {
            const MAX: Self = <$t>::MAX;
            // IPv6 allocations are /32 to /64: coarser blocks would hold everything.
            const BLOCK_LEVELS: &'static [u32] = $levels;
            const BITS: u32 = <$t>::BITS;
            fn successor(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn predecessor(self) -> Option<Self> {
                self.checked_sub(1)
            }
            #[inline]
            fn top(self, bits: u32) -> usize {
                (self >> (Self::BITS - bits)) as usize
            }
            fn pick_between(lo: Self, hi: Self, random: u128) -> Self {
                match (hi - lo).checked_add(1) {
                    Some(span) => lo + (random % span as u128) as Self,
                    None => random as Self,
                }
            }
            #[inline]
            fn block(self, prefix_bits: u32) -> u128 {
                if prefix_bits == 0 {
                    0
                } else {
                    (self >> (Self::BITS - prefix_bits)) as u128
                }
            }
        }
    )*};
}
impl_key!(u8 => &[8], u16 => &[8, 16], u32 => &[8, 16, 24, 32], u128 => &[32, 48, 64, 128]);

/// The values of one flow, in classifier order.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowKey<A> {
    pub protocol: u8,
    pub dest_port: u16,
    pub source_port: u16,
    pub remote: A,
    pub local: A,
}

impl<A> FlowKey<A> {
    /// The key of `flow`, given its source and destination addresses in the family's form:
    /// remote and local are those, swapped for egress.
    // PERF: matching the family of `Flow::remote` and `Flow::local` (17-byte `IpAddr`s) was 6 %
    // of a 1K-rule batch.
    #[inline(always)]
    pub fn of_ends(flow: &Flow, src: A, dst: A) -> FlowKey<A> {
        match flow.direction {
            Direction::Ingress => FlowKey::of(flow, src, dst),
            Direction::Egress => FlowKey::of(flow, dst, src),
        }
    }

    /// The key of `flow`, whose remote and local addresses are given in the family's form.
    #[inline(always)]
    pub fn of(flow: &Flow, remote: A, local: A) -> FlowKey<A> {
        FlowKey {
            protocol: flow.protocol,
            dest_port: flow.dst_port,
            source_port: flow.src_port,
            remote,
            local,
        }
    }
}
