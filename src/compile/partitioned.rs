//! The large tier: rule sets too big for one bit vector (its memory grows with classes × rules).
//!
//! A tree in the spirit of CutSplit: a node with too many rules picks an address field (remote or
//! local) and a block size (for IPv4 /8, /16, /24, /32; for IPv6 /32, /48, /64, /128) and sends
//! every rule whose set in that field lies inside such blocks to the bucket of its block(s); the
//! rules too wide for it stay in the node's *rest*. Buckets and the rest are built the same way,
//! one level finer, until they are small enough for a [`BitVectorClassifier`] leaf.
//!
//! Rules keep their global ranks, so a lookup visits one bucket per level plus the rests, keeps
//! the lowest rank, and skips any subtree whose best rank cannot win.

use super::bitvector::{BitVectorClassifier, Key, RuleFieldSets};
use super::kernel::Kernel;
use std::collections::HashMap;

/// Leaves hold at most this many rules unless no split makes progress.
// PERF: on acl1_100k, leaves of ≤ 256 rules kept every lookup inside a few small bit vectors.
pub const DEFAULT_LEAF_MAX_RULES: usize = 256;

/// Splits on a path from the root: every split uses up one block level of the remote or local
/// field, so the depth-first walk's stack never holds more than one node per level plus one.
const MAX_DEPTH: usize = 8;

/// The values of one flow, in classifier order.
pub struct FlowKey<A> {
    pub protocol: u8,
    pub dest_port: u16,
    pub source_port: u16,
    pub remote: A,
    pub local: A,
}

impl<A> FlowKey<A> {
    /// The key of `flow`, whose remote and local addresses are given in the family's form.
    #[inline(always)]
    pub fn of(flow: &crate::model::Flow, remote: A, local: A) -> FlowKey<A> {
        FlowKey {
            protocol: flow.protocol,
            dest_port: flow.dst_port,
            source_port: flow.src_port,
            remote,
            local,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddressField {
    Remote,
    Local,
}

#[derive(Clone, Debug)]
enum Node<A: Key> {
    Leaf {
        classifier: Box<BitVectorClassifier<A>>,
        /// Global rank of each leaf rule, ascending.
        ranks: Vec<u32>,
    },
    Split {
        field: AddressField,
        prefix_bits: u32,
        /// Which bucket a flow's block falls in.
        index: BucketIndex,
        /// The subtrees, in ascending block order.
        buckets: Vec<Node<A>>,
        rest: Box<Node<A>>,
        best_rank: u32,
    },
}

/// A split's blocks, to find a flow's bucket by.
#[derive(Clone, Debug)]
enum BucketIndex {
    /// When the node's flows all share the block of the level above (see [`Node::split`]):
    /// per value of the bits below it, the bucket index plus one (0: no bucket).
    /// PERF: on uniform 100K traces a binary search over up to 2^16 blocks took ~1 µs per
    /// lookup in cache misses; this is one load.
    Direct(Vec<u32>),
    /// The blocks, sorted. PERF: a sorted Vec beat a SipHash map.
    Sorted(Vec<u128>),
}

impl BucketIndex {
    /// Strides up to this get a direct table (1 KiB at 8 bits); IPv4's levels are all 8 bits
    /// apart.
    const MAX_DIRECT_STRIDE: u32 = 8;

    /// The index of sorted `blocks`, which differ only in their low `stride` bits.
    fn new(blocks: Vec<u128>, stride: u32) -> BucketIndex {
        if stride > Self::MAX_DIRECT_STRIDE {
            return BucketIndex::Sorted(blocks);
        }
        let mask = (1u128 << stride) - 1;
        let mut buckets = vec![0; 1 << stride];
        for (index, &block) in blocks.iter().enumerate() {
            buckets[(block & mask) as usize] = index as u32 + 1;
        }
        BucketIndex::Direct(buckets)
    }

    #[inline(always)]
    fn bucket(&self, block: u128) -> Option<usize> {
        match self {
            BucketIndex::Direct(buckets) => {
                let mask = (buckets.len() - 1) as u128;
                (buckets[(block & mask) as usize] as usize).checked_sub(1)
            }
            BucketIndex::Sorted(blocks) => blocks.binary_search(&block).ok(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            BucketIndex::Direct(buckets) => buckets.capacity() * 4,
            BucketIndex::Sorted(blocks) => blocks.capacity() * 16,
        }
    }
}

/// How far down the block levels each field has gone on the path to a node.
#[derive(Clone, Copy)]
struct Levels {
    remote: usize,
    local: usize,
    /// For a field past level 0, the block (at the level above) that every flow reaching the
    /// node lies in: the bucket the path took.
    remote_block: u128,
    local_block: u128,
}

impl<A: Key> Node<A> {
    fn build(all: &RuleFieldSets<A>, ranks: Vec<u32>, levels: Levels, leaf_max: usize) -> Node<A> {
        if ranks.len() > leaf_max {
            if let Some(split) = Self::split(all, &ranks, levels, leaf_max) {
                return split;
            }
        }
        Node::Leaf {
            classifier: Box::new(BitVectorClassifier::build(&all.subset(&ranks), false)),
            ranks,
        }
    }

    /// Splits by the field and level that bucket the most rules; `None` when nothing can be
    /// bucketed any finer.
    fn split(
        all: &RuleFieldSets<A>,
        ranks: &[u32],
        levels: Levels,
        leaf_max: usize,
    ) -> Option<Node<A>> {
        let candidates = [
            (AddressField::Remote, levels.remote, &all.remote),
            (AddressField::Local, levels.local, &all.local),
        ];
        let fits = |set: &Vec<(A, A)>, bits: u32| {
            set.iter().all(|(lo, hi)| lo.block(bits) == hi.block(bits))
        };
        let (field, level, sets, _) = candidates
            .into_iter()
            .filter_map(|(field, level, sets)| {
                let bits = *A::BLOCK_LEVELS.get(level)?;
                let count = ranks
                    .iter()
                    .filter(|&&r| fits(&sets[r as usize], bits))
                    .count();
                Some((field, level, sets, count))
            })
            .filter(|&(_, _, _, count)| count > 0)
            .max_by_key(|&(_, _, _, count)| count)?;
        let bits = A::BLOCK_LEVELS[level];

        let mut members: HashMap<u128, Vec<u32>> = HashMap::new();
        let mut rest = Vec::new();
        for &rank in ranks {
            let set = &sets[rank as usize];
            if !fits(set, bits) {
                rest.push(rank);
                continue;
            }
            // A set spanning several blocks (a prefix list, a group) goes into each.
            let mut blocks: Vec<u128> = set.iter().map(|(lo, _)| lo.block(bits)).collect();
            blocks.sort_unstable();
            blocks.dedup();
            for block in blocks {
                members.entry(block).or_default().push(rank);
            }
        }
        let finer = |block: u128| match field {
            AddressField::Remote => Levels {
                remote: level + 1,
                remote_block: block,
                ..levels
            },
            AddressField::Local => Levels {
                local: level + 1,
                local_block: block,
                ..levels
            },
        };
        let mut members: Vec<(u128, Vec<u32>)> = members.into_iter().collect();
        // Past level 0, the node's flows all lie in the block its path took at the level
        // above: buckets outside it (from rules whose set also has addresses elsewhere) can
        // never be reached, and the bits between the two levels pick the bucket.
        let above = if level == 0 {
            0
        } else {
            A::BLOCK_LEVELS[level - 1]
        };
        if level > 0 {
            let path_block = match field {
                AddressField::Remote => levels.remote_block,
                AddressField::Local => levels.local_block,
            };
            members.retain(|(block, _)| *block >> (bits - above) == path_block);
        }
        members.sort_unstable_by_key(|(block, _)| *block);
        let index = BucketIndex::new(
            members.iter().map(|(block, _)| *block).collect(),
            bits - above,
        );
        let buckets = members
            .into_iter()
            .map(|(block, ranks)| Node::build(all, ranks, finer(block), leaf_max))
            .collect();
        // The rest was too wide for this field and level: only the other field or, for the
        // same field, nothing finer can help it, so it moves on with this field exhausted.
        let rest_levels = match field {
            AddressField::Remote => Levels {
                remote: A::BLOCK_LEVELS.len(),
                ..levels
            },
            AddressField::Local => Levels {
                local: A::BLOCK_LEVELS.len(),
                ..levels
            },
        };
        Some(Node::Split {
            field,
            prefix_bits: bits,
            index,
            buckets,
            rest: Box::new(Node::build(all, rest, rest_levels, leaf_max)),
            best_rank: ranks.first().copied().unwrap_or(u32::MAX),
        })
    }

    fn best_rank(&self) -> u32 {
        match self {
            Node::Leaf { ranks, .. } => ranks.first().copied().unwrap_or(u32::MAX),
            Node::Split { best_rank, .. } => *best_rank,
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Node::Leaf { classifier, ranks } => classifier.memory_bytes() + ranks.len() * 4,
            Node::Split {
                index,
                buckets,
                rest,
                ..
            } => {
                index.memory_bytes()
                    + buckets.capacity() * std::mem::size_of::<Node<A>>()
                    + buckets.iter().map(Node::memory_bytes).sum::<usize>()
                    + rest.memory_bytes()
            }
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct PartitionedClassifier<A: Key> {
    root: Node<A>,
}

impl<A: Key> PartitionedClassifier<A> {
    /// Builds the tree with leaves of at most `leaf_max_rules` rules where a split can help.
    pub fn build(sets: &RuleFieldSets<A>, leaf_max_rules: usize) -> PartitionedClassifier<A> {
        assert!(
            2 * A::BLOCK_LEVELS.len() <= MAX_DEPTH,
            "the walk's stack is too small"
        );
        let ranks = (0..sets.len() as u32).collect();
        let levels = Levels {
            remote: 0,
            local: 0,
            remote_block: 0,
            local_block: 0,
        };
        PartitionedClassifier {
            root: Node::build(sets, ranks, levels, leaf_max_rules.max(1)),
        }
    }

    /// The best (lowest) global rank matching the flow: a depth-first walk that visits the
    /// flow's bucket before the rest and skips subtrees whose best rank cannot win.
    ///
    /// Iterative rather than recursive so that it inlines into the kernel's batch loop.
    #[inline(always)]
    pub fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        let mut best = u32::MAX;
        let mut stack = [&self.root; MAX_DEPTH + 1];
        let mut pending = 1;
        while pending > 0 {
            pending -= 1;
            let node = stack[pending];
            if node.best_rank() >= best {
                continue;
            }
            match node {
                Node::Leaf { classifier, ranks } => {
                    if let Some(local_rank) = classifier.first_match(kernel, key) {
                        best = best.min(ranks[local_rank as usize]);
                    }
                }
                Node::Split {
                    field,
                    prefix_bits,
                    index,
                    buckets,
                    rest,
                    ..
                } => {
                    stack[pending] = rest;
                    pending += 1;
                    let value = match field {
                        AddressField::Remote => key.remote,
                        AddressField::Local => key.local,
                    };
                    if let Some(bucket) = index.bucket(value.block(*prefix_bits)) {
                        stack[pending] = &buckets[bucket];
                        pending += 1;
                    }
                }
            }
        }
        (best != u32::MAX).then_some(best)
    }

    pub fn memory_bytes(&self) -> usize {
        self.root.memory_bytes()
    }
}
