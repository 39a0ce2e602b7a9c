//! The large tier: rule sets too big for one bit vector (its memory grows with classes × rules).
//!
//! A tree in the spirit of CutSplit: a node with too many rules picks an address field (remote or
//! local) and a block size (for IPv4 /8, /16, /24, /32; for IPv6 /32, /48, /64, /128) and sends
//! every rule whose set in that field lies inside such blocks to the bucket of its block(s); the
//! rules too wide for it stay in the node's *rest*. Buckets and the rest are built the same way,
//! one level finer, until they hold at most a few rules.
//!
//! A leaf is a *list* of rule boxes (one interval per field) scanned in rank order, or, when its
//! rules cannot be split and expand into too many boxes, a [`BitVectorClassifier`].
//!
//! Rules keep their global ranks, so a lookup visits one bucket per level plus the rests, keeps
//! the lowest rank, and skips any subtree whose best rank cannot win.
//!
//! The tree lives in a few flat arrays, and a [`NodeRef`] says what kind of node it points at
//! and the best rank below it, so a walk knows where a child's data is before it reads it. That
//! lets [`walk_lockstep`] move many flows down their trees together, prefetching every child it
//! pushes: at 100K rules the tree is far larger than the caches, and a single walk is a chain of
//! dependent cache misses that only overlapping several flows hides.

use super::bitvector::{BitVectorClassifier, RuleFieldSets};
use super::kernel::{prefetch, Kernel};
use super::key::{FlowKey, Key};
use std::collections::HashMap;

/// Leaves hold at most this many rules unless no split makes progress.
// PERF: on the uniform 100K traces, 32 was as fast as any of 16–256 on acl1 and fw1 and within
// noise on ipc1 (see `docs/engine.md`).
pub const DEFAULT_LEAF_MAX_RULES: usize = 32;

/// The leaf size of the second tree the bulk engine's trial times at 2K–16K rules.
// PERF: on fw1_10k's trace, leaves of 8 rules ran 11.5–11.8 M flows/s against 8.3–8.6 for 32
// (16: 11.0–11.2, 64: 8.3–8.8; AMD EPYC, 2026-12-06), for 2.9 instead of 2.0 MB.
pub const SMALL_LEAF_MAX_RULES: usize = 8;

/// A leaf whose rules expand into more boxes than this (wide rest sets that no split can cut,
/// rules with prefix or port lists) gets a bit vector instead of a list. At most 64, the most
/// a [`NodeRef`] can encode.
const LIST_MAX_BOXES: usize = 64;

/// Flows a batch moves through trees together (see [`walk_lockstep`]).
// PERF: groups of 1, 8, 16 and 32 flows on the uniform 100K traces: 32 was fastest or within
// noise of the fastest on acl1, fw1 and ipc1 (acl1 8.4 → 11.8 M/s, fw1 4.0 → 9.1 from 1 to 32).
pub const LOCKSTEP_FLOWS: usize = 32;

/// Splits on a path from the root: every split uses up one block level of the remote or local
/// field, so the depth-first walk's stack never holds more than one node per level plus one.
const MAX_DEPTH: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddressField {
    Remote,
    Local,
}

/// A pointer to a node, 8 bytes: the best (lowest) rank in its subtree and a code — the kind in
/// the top two bits, then an index into the kind's array (for a list, its first box and length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeRef {
    best_rank: u32,
    code: u32,
}

/// A [`NodeRef`] decoded.
#[derive(Clone, Copy, Debug)]
enum Node {
    /// No rules: never visited (its best rank is `u32::MAX`).
    Empty,
    /// `splits[index]`.
    Split(u32),
    /// `boxes[start..start + len]`.
    List { start: u32, len: u32 },
    /// `vector_leaves[index]`.
    Vector(u32),
}

impl NodeRef {
    const EMPTY: NodeRef = NodeRef {
        best_rank: u32::MAX,
        code: 0,
    };
    const KIND_SHIFT: u32 = 30;
    const INDEX_MASK: u32 = (1 << Self::KIND_SHIFT) - 1;
    /// A list's length (minus one) takes the low bits of its index, its first box the rest.
    const LEN_BITS: u32 = 6;
    const MAX_LIST_START: usize = 1 << (Self::KIND_SHIFT - Self::LEN_BITS);

    fn new(kind: u32, index: u32, best_rank: u32) -> NodeRef {
        assert!(
            index <= Self::INDEX_MASK,
            "more tree nodes than a NodeRef can index"
        );
        NodeRef {
            best_rank,
            code: kind << Self::KIND_SHIFT | index,
        }
    }

    fn split(index: usize, best_rank: u32) -> NodeRef {
        NodeRef::new(1, index as u32, best_rank)
    }

    /// `None` when the list does not fit the encoding.
    fn list(start: usize, len: usize, best_rank: u32) -> Option<NodeRef> {
        (start < Self::MAX_LIST_START && (1..=LIST_MAX_BOXES).contains(&len)).then(|| {
            let index = (start as u32) << Self::LEN_BITS | (len as u32 - 1);
            NodeRef::new(2, index, best_rank)
        })
    }

    fn vector(index: usize, best_rank: u32) -> NodeRef {
        NodeRef::new(3, index as u32, best_rank)
    }

    #[inline(always)]
    fn node(self) -> Node {
        let index = self.code & Self::INDEX_MASK;
        match self.code >> Self::KIND_SHIFT {
            0 => Node::Empty,
            1 => Node::Split(index),
            2 => Node::List {
                start: index >> Self::LEN_BITS,
                len: (index & ((1 << Self::LEN_BITS) - 1)) + 1,
            },
            _ => Node::Vector(index),
        }
    }
}

/// An inner node: the field and block size it buckets by, its buckets and its rest.
#[derive(Clone, Debug)]
struct Split {
    rest: NodeRef,
    field: AddressField,
    prefix_bits: u32,
    /// The buckets are `slots[first_slot..]`, found by `index`.
    first_slot: u32,
    index: SlotIndex,
}

/// How a split finds the bucket of a flow's block.
#[derive(Clone, Copy, Debug)]
enum SlotIndex {
    /// When the node's flows all share the block of the level above (see
    /// [`Builder::split`]), the bits below it pick the slot directly (empty slots are
    /// [`NodeRef::EMPTY`]). PERF: on uniform 100K traces a binary search over up to 2^16
    /// blocks took ~1 µs per lookup in cache misses; this is one load.
    Direct { mask: u32 },
    /// Blocks too far apart for a table (IPv6): `sorted_blocks[first_block..][..count]`,
    /// ascending, with the slots in the same order.
    Sorted { first_block: u32, count: u32 },
}

/// Strides up to this get a direct table (256 slots, 2 KiB, at 8 bits); IPv4's levels are all
/// 8 bits apart.
const MAX_DIRECT_STRIDE: u32 = 8;

/// A field's first split may take blocks of up to this many bits at once, in a direct table
/// (2^16 slots, 512 KiB): IPv4's /16, skipping /8.
const MAX_FIRST_DIRECT_BITS: u32 = 16;

/// Nodes with at least this many rules may skip their field's first level (a 512 KiB table for
/// at least 1 024 rules: at most 512 bytes a rule).
// PERF: fw1_10k's trace 16.4–20.7 M flows/s against 11.1–14.4 (3.1 against 2.9 MB); the 100K
// sets' traces 21.8 / 30.4 / 10.8 against 18.3 / 23.0 / 9.0 M flows/s (acl1 / fw1 / ipc1),
// memory within 3 %; the sets that other tiers win unchanged (`docs/engine.md`). At 8 192 rules
// only fw1_10k's root skipped, and its trace ran 16.3–17.1 M flows/s.
const FIRST_SPLIT_SKIP_MIN_RULES: usize = 1024;

/// One rule of a list leaf, or one combination of its intervals when a field has several.
#[derive(Clone, Copy, Debug)]
struct RuleBox<A> {
    remote: (A, A),
    local: (A, A),
    dest_port: (u16, u16),
    source_port: (u16, u16),
    protocol: (u8, u8),
    rank: u32,
}

impl<A: Key> RuleBox<A> {
    #[inline(always)]
    fn matches(&self, key: &FlowKey<A>) -> bool {
        let within = |(lo, hi): (A, A), value: A| (lo <= value) & (value <= hi);
        let within_port = |(lo, hi): (u16, u16), value: u16| (lo <= value) & (value <= hi);
        within(self.remote, key.remote)
            & within(self.local, key.local)
            & within_port(self.dest_port, key.dest_port)
            & within_port(self.source_port, key.source_port)
            & (self.protocol.0 <= key.protocol)
            & (key.protocol <= self.protocol.1)
    }
}

/// A leaf too large for a list.
#[derive(Clone, Debug)]
struct VectorLeaf<A: Key> {
    classifier: BitVectorClassifier<A>,
    /// Global rank of each leaf rule, ascending.
    ranks: Vec<u32>,
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

/// See the module docs.
#[derive(Clone, Debug)]
pub struct PartitionedClassifier<A: Key> {
    root: NodeRef,
    splits: Vec<Split>,
    slots: Vec<NodeRef>,
    sorted_blocks: Vec<u128>,
    boxes: Vec<RuleBox<A>>,
    vector_leaves: Vec<VectorLeaf<A>>,
}

/// Builds a [`PartitionedClassifier`] node by node, children before parents.
struct Builder<'a, A: Key> {
    all: &'a RuleFieldSets<A>,
    leaf_max: usize,
    tree: PartitionedClassifier<A>,
}

impl<A: Key> Builder<'_, A> {
    fn node(&mut self, ranks: Vec<u32>, levels: Levels) -> NodeRef {
        if ranks.is_empty() {
            return NodeRef::EMPTY;
        }
        if ranks.len() > self.leaf_max {
            if let Some(split) = self.split(&ranks, levels) {
                return split;
            }
        }
        self.leaf(ranks)
    }

    /// A list leaf when the rules expand into few enough boxes, else a bit-vector leaf.
    fn leaf(&mut self, ranks: Vec<u32>) -> NodeRef {
        let best_rank = ranks[0];
        let start = self.tree.boxes.len();
        if let Some(boxes) = self.boxes(&ranks) {
            if let Some(node) = NodeRef::list(start, boxes.len(), best_rank) {
                self.tree.boxes.extend(boxes);
                return node;
            }
            if boxes.is_empty() {
                // Every rule has an empty set in some field (a group without members).
                return NodeRef::EMPTY;
            }
        }
        self.tree.vector_leaves.push(VectorLeaf {
            classifier: BitVectorClassifier::build(&self.all.subset(&ranks), false),
            ranks,
        });
        NodeRef::vector(self.tree.vector_leaves.len() - 1, best_rank)
    }

    /// The rules' boxes in rank order, or `None` beyond [`LIST_MAX_BOXES`].
    fn boxes(&self, ranks: &[u32]) -> Option<Vec<RuleBox<A>>> {
        let all = self.all;
        let mut boxes = Vec::new();
        for &rank in ranks {
            let r = rank as usize;
            let combinations = [
                all.remote[r].len(),
                all.local[r].len(),
                all.dest_port[r].len(),
                all.source_port[r].len(),
                all.protocol[r].len(),
            ]
            .into_iter()
            .fold(1usize, usize::saturating_mul);
            if boxes.len().saturating_add(combinations) > LIST_MAX_BOXES {
                return None;
            }
            for &remote in &all.remote[r] {
                for &local in &all.local[r] {
                    for &dest_port in &all.dest_port[r] {
                        for &source_port in &all.source_port[r] {
                            for &protocol in &all.protocol[r] {
                                boxes.push(RuleBox {
                                    remote,
                                    local,
                                    dest_port,
                                    source_port,
                                    protocol,
                                    rank,
                                });
                            }
                        }
                    }
                }
            }
        }
        Some(boxes)
    }

    /// Splits by the field and level that bucket the most rules; `None` when nothing can be
    /// bucketed any finer.
    fn split(&mut self, ranks: &[u32], levels: Levels) -> Option<NodeRef> {
        let all = self.all;
        let candidates = [
            (AddressField::Remote, levels.remote, &all.remote),
            (AddressField::Local, levels.local, &all.local),
        ];
        let fits = |set: &Vec<(A, A)>, bits: u32| {
            set.iter().all(|(lo, hi)| lo.block(bits) == hi.block(bits))
        };
        // How many of the node's rules fit inside blocks of `bits` bits in `sets`' field.
        let bucketed = |sets: &[Vec<(A, A)>], bits: u32| {
            ranks
                .iter()
                .filter(|&&r| fits(&sets[r as usize], bits))
                .count()
        };
        let (field, start_level, sets, coarse) = candidates
            .into_iter()
            .filter_map(|(field, level, sets)| {
                let bits = *A::BLOCK_LEVELS.get(level)?;
                Some((field, level, sets, bucketed(sets, bits)))
            })
            .filter(|&(_, _, _, count)| count > 0)
            .max_by_key(|&(_, _, _, count)| count)?;
        // A field's first split may skip its first level (IPv4: /16 blocks at once, not /8
        // then /16) when that buckets nearly as many rules: one dependent load fewer on every
        // path through it, for a direct table of 2^16 slots (see FIRST_SPLIT_SKIP_MIN_RULES).
        let skips = start_level == 0
            && ranks.len() >= FIRST_SPLIT_SKIP_MIN_RULES
            && A::BLOCK_LEVELS.get(1).is_some_and(|&bits| {
                bits <= MAX_FIRST_DIRECT_BITS && 10 * bucketed(sets, bits) >= 9 * coarse
            });
        let level = if skips { 1 } else { start_level };
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
        let above = if start_level == 0 {
            0
        } else {
            A::BLOCK_LEVELS[start_level - 1]
        };
        if start_level > 0 {
            let path_block = match field {
                AddressField::Remote => levels.remote_block,
                AddressField::Local => levels.local_block,
            };
            members.retain(|(block, _)| *block >> (bits - above) == path_block);
        }
        members.sort_unstable_by_key(|(block, _)| *block);
        let children: Vec<(u128, NodeRef)> = members
            .into_iter()
            .map(|(block, ranks)| (block, self.node(ranks, finer(block))))
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
        let rest = self.node(rest, rest_levels);

        let tree = &mut self.tree;
        let first_slot = tree.slots.len();
        let stride = bits - above;
        // A skipping split's table is direct too (2^16 slots at most, MAX_FIRST_DIRECT_BITS).
        let index = if stride <= MAX_DIRECT_STRIDE || skips {
            let mask = (1u32 << stride) - 1;
            tree.slots
                .resize(first_slot + (1 << stride), NodeRef::EMPTY);
            for (block, child) in children {
                tree.slots[first_slot + (block as u32 & mask) as usize] = child;
            }
            SlotIndex::Direct { mask }
        } else {
            let first_block = tree.sorted_blocks.len() as u32;
            let count = children.len() as u32;
            for (block, child) in children {
                tree.sorted_blocks.push(block);
                tree.slots.push(child);
            }
            SlotIndex::Sorted { first_block, count }
        };
        tree.splits.push(Split {
            rest,
            field,
            prefix_bits: bits,
            first_slot: first_slot as u32,
            index,
        });
        Some(NodeRef::split(tree.splits.len() - 1, ranks[0]))
    }
}

/// A depth-first walk in progress: the nodes still to visit and the best rank found so far.
#[derive(Clone, Copy, Debug)]
struct Walk {
    best: u32,
    pending: usize,
    stack: [NodeRef; MAX_DEPTH + 1],
}

impl Walk {
    #[inline(always)]
    fn new(root: NodeRef) -> Walk {
        let mut walk = Walk {
            best: u32::MAX,
            pending: 0,
            stack: [NodeRef::EMPTY; MAX_DEPTH + 1],
        };
        walk.push(root);
        walk
    }

    /// Queues `node` unless it cannot beat the best rank found so far.
    #[inline(always)]
    fn push(&mut self, node: NodeRef) {
        if node.best_rank < self.best {
            self.stack[self.pending] = node;
            self.pending += 1;
        }
    }

    /// The next queued node that can still beat the best rank.
    #[inline(always)]
    fn next(&mut self) -> Option<NodeRef> {
        while self.pending > 0 {
            self.pending -= 1;
            let node = self.stack[self.pending];
            if node.best_rank < self.best {
                return Some(node);
            }
        }
        None
    }

    fn first_match(&self) -> Option<u32> {
        (self.best != u32::MAX).then_some(self.best)
    }
}

impl<A: Key> PartitionedClassifier<A> {
    /// Builds the tree with leaves of at most `leaf_max_rules` rules where a split can help.
    pub fn build(sets: &RuleFieldSets<A>, leaf_max_rules: usize) -> PartitionedClassifier<A> {
        assert!(
            2 * A::BLOCK_LEVELS.len() <= MAX_DEPTH,
            "the walk's stack is too small"
        );
        let mut builder = Builder {
            all: sets,
            leaf_max: leaf_max_rules.max(1),
            tree: PartitionedClassifier {
                root: NodeRef::EMPTY,
                splits: Vec::new(),
                slots: Vec::new(),
                sorted_blocks: Vec::new(),
                boxes: Vec::new(),
                vector_leaves: Vec::new(),
            },
        };
        let levels = Levels {
            remote: 0,
            local: 0,
            remote_block: 0,
            local_block: 0,
        };
        let root = builder.node((0..sets.len() as u32).collect(), levels);
        let mut tree = builder.tree;
        tree.root = root;
        tree.splits.shrink_to_fit();
        tree.slots.shrink_to_fit();
        tree.boxes.shrink_to_fit();
        tree
    }

    /// The best (lowest) global rank matching the flow: a depth-first walk that visits the
    /// flow's bucket before the rest and skips subtrees whose best rank cannot win.
    ///
    /// Iterative rather than recursive so that it inlines into the kernel's batch loop.
    #[inline(always)]
    pub fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        let mut walk = Walk::new(self.root);
        while let Some(node) = walk.next() {
            self.visit::<K, false>(kernel, key, node, &mut walk);
        }
        walk.first_match()
    }

    /// One step of a walk: a split queues its rest and the flow's bucket (bucket on top, so it
    /// goes first), a leaf improves the best rank. With `PREFETCH`, every queued node's first
    /// cache lines are requested at once.
    #[inline(always)]
    fn visit<K: Kernel, const PREFETCH: bool>(
        &self,
        kernel: K,
        key: &FlowKey<A>,
        node: NodeRef,
        walk: &mut Walk,
    ) {
        match node.node() {
            Node::Empty => {}
            Node::Split(index) => {
                let split = &self.splits[index as usize];
                let bucket = self.bucket(split, key);
                walk.push(split.rest);
                walk.push(bucket);
                if PREFETCH {
                    self.prefetch(split.rest, key);
                    self.prefetch(bucket, key);
                }
            }
            Node::List { start, len } => {
                let boxes = &self.boxes[start as usize..(start + len) as usize];
                for rule in boxes {
                    if rule.rank >= walk.best {
                        break;
                    }
                    if rule.matches(key) {
                        walk.best = rule.rank;
                        break;
                    }
                }
            }
            Node::Vector(index) => {
                let leaf = &self.vector_leaves[index as usize];
                if let Some(local_rank) = leaf.classifier.first_match(kernel, key) {
                    walk.best = walk.best.min(leaf.ranks[local_rank as usize]);
                }
            }
        }
    }

    /// The bucket of `split` that the flow falls in ([`NodeRef::EMPTY`] if none).
    #[inline(always)]
    fn bucket(&self, split: &Split, key: &FlowKey<A>) -> NodeRef {
        match self.slot(split, key) {
            Some(slot) => self.slots[slot],
            None => NodeRef::EMPTY,
        }
    }

    /// Where in `slots` the flow's bucket of `split` is, if it has one.
    #[inline(always)]
    fn slot(&self, split: &Split, key: &FlowKey<A>) -> Option<usize> {
        let value = match split.field {
            AddressField::Remote => key.remote,
            AddressField::Local => key.local,
        };
        let block = value.block(split.prefix_bits);
        let first_slot = split.first_slot as usize;
        match split.index {
            SlotIndex::Direct { mask } => Some(first_slot + (block as u32 & mask) as usize),
            SlotIndex::Sorted { first_block, count } => {
                let blocks = &self.sorted_blocks[first_block as usize..][..count as usize];
                Some(first_slot + blocks.binary_search(&block).ok()?)
            }
        }
    }

    /// Requests the memory a visit of `node` will read first: a split's bucket slot, a list's
    /// first boxes; bit-vector leaves are rare and get nothing. The split's header is read here
    /// to find the slot (headers are few, 9–24 KB at 100K rules; prefetching only the header
    /// instead was slower there, see `docs/engine.md`). Sorted splits (IPv6) are left to the
    /// visit: their binary search is the visit's work.
    #[inline(always)]
    fn prefetch(&self, node: NodeRef, key: &FlowKey<A>) {
        match node.node() {
            Node::Split(index) => {
                let split = &self.splits[index as usize];
                if matches!(split.index, SlotIndex::Direct { .. }) {
                    if let Some(slot) = self.slot(split, key) {
                        prefetch(&self.slots[slot]);
                    }
                }
            }
            Node::List { start, len } => {
                // The first two cache lines: most lists are a few boxes long.
                let boxes = &self.boxes[start as usize..(start + len) as usize];
                prefetch(&boxes[0]);
                let per_line = (64 / std::mem::size_of::<RuleBox<A>>()).max(1);
                if let Some(second) = boxes.get(per_line) {
                    prefetch(second);
                }
            }
            Node::Empty | Node::Vector(_) => {}
        }
    }

    /// [`PartitionedClassifier::first_match`] for many flows, walked [`LOCKSTEP_FLOWS`] at a
    /// time as a batch does. Inlined into the caller's kernel entry point, as a batch's walk is
    /// (out of line it is compiled without the kernel's target features).
    #[inline(always)]
    pub fn first_matches<K: Kernel>(
        &self,
        kernel: K,
        keys: &[FlowKey<A>],
        out: &mut [Option<u32>],
    ) {
        let mut walkers = Vec::with_capacity(LOCKSTEP_FLOWS);
        for (keys, out) in keys
            .chunks(LOCKSTEP_FLOWS)
            .zip(out.chunks_mut(LOCKSTEP_FLOWS))
        {
            walkers.clear();
            walkers.extend(keys.iter().map(|&key| Walker::new(self, key)));
            walk_lockstep(kernel, &mut walkers);
            for (walker, slot) in walkers.iter().zip(out) {
                *slot = walker.first_match();
            }
        }
    }

    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.splits.capacity() * size_of::<Split>()
            + self.slots.capacity() * size_of::<NodeRef>()
            + self.sorted_blocks.capacity() * size_of::<u128>()
            + self.boxes.capacity() * size_of::<RuleBox<A>>()
            + self.vector_leaves.capacity() * size_of::<VectorLeaf<A>>()
            + self
                .vector_leaves
                .iter()
                .map(|leaf| leaf.classifier.memory_bytes() + leaf.ranks.capacity() * 4)
                .sum::<usize>()
    }
}

/// One flow's walk through a tree, for [`walk_lockstep`].
#[derive(Clone, Copy, Debug)]
pub struct Walker<'a, A: Key> {
    tree: &'a PartitionedClassifier<A>,
    key: FlowKey<A>,
    walk: Walk,
}

impl<'a, A: Key> Walker<'a, A> {
    #[inline(always)]
    pub fn new(tree: &'a PartitionedClassifier<A>, key: FlowKey<A>) -> Walker<'a, A> {
        Walker {
            tree,
            key,
            walk: Walk::new(tree.root),
        }
    }

    /// The walk's result, once [`walk_lockstep`] has finished it.
    pub fn first_match(&self) -> Option<u32> {
        self.walk.first_match()
    }
}

/// Walks every walker to the end, one node of each in turn, prefetching the nodes each step
/// queues: while one flow's next node is on its way from memory, the others' steps run, so the
/// flows' cache misses overlap instead of following one another.
#[inline(always)]
pub fn walk_lockstep<K: Kernel, A: Key>(kernel: K, walkers: &mut [Walker<'_, A>]) {
    loop {
        let mut any = false;
        for walker in walkers.iter_mut() {
            if let Some(node) = walker.walk.next() {
                walker
                    .tree
                    .visit::<K, true>(kernel, &walker.key, node, &mut walker.walk);
                any = true;
            }
        }
        if !any {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::kernel::Portable;
    use crate::rng::Rng;

    /// An IPv4 block of `prefix` bits around `value`, as an interval.
    fn block(value: u32, prefix: u32) -> (u32, u32) {
        let mask = u32::MAX.checked_shr(prefix).unwrap_or(0);
        (value & !mask, value | mask)
    }

    /// Rules like a firewall's: most narrow in the local address (in a few /8 regions, so that
    /// /16 buckets hold nearly all of what /8 buckets would), some narrow in the remote address,
    /// some local /8–/15 blocks (left to the rest by a skipping split), some wide in both.
    fn rules(rng: &mut Rng, count: usize) -> RuleFieldSets<u32> {
        let mut sets = RuleFieldSets::default();
        let address = |rng: &mut Rng| (rng.below(4) as u32) << 24 | rng.next_u64() as u32 >> 10;
        for _ in 0..count {
            let (remote, local) = match rng.below(20) {
                0..=11 => ((0, u32::MAX), block(address(rng), rng.range(20, 32) as u32)),
                12..=13 => (block(address(rng), rng.range(16, 32) as u32), (0, u32::MAX)),
                14 => ((0, u32::MAX), block(address(rng), rng.range(8, 15) as u32)),
                15..=16 => (
                    block(address(rng), rng.range(16, 32) as u32),
                    block(address(rng), rng.range(16, 32) as u32),
                ),
                _ => ((0, u32::MAX), (0, u32::MAX)),
            };
            let port = rng.range(0, 1000) as u16;
            let dest_port = if rng.below(3) == 0 {
                (0, u16::MAX)
            } else {
                (port, port + rng.below(3) as u16)
            };
            sets.protocol
                .push(vec![if rng.below(4) == 0 { (0, 255) } else { (6, 6) }]);
            sets.dest_port.push(vec![dest_port]);
            sets.source_port.push(vec![(0, u16::MAX)]);
            sets.remote.push(vec![remote]);
            sets.local.push(vec![local]);
        }
        sets
    }

    fn first_match_by_scan(sets: &RuleFieldSets<u32>, key: &FlowKey<u32>) -> Option<u32> {
        (0..sets.len())
            .find(|&r| sets.admits(r, key))
            .map(|r| r as u32)
    }

    /// A tree whose first split takes /16 blocks at once finds the first match a scan finds,
    /// one flow at a time and in lockstep, for flows inside random rules and anywhere.
    #[test]
    fn trees_whose_first_split_skips_a_level_equal_a_scan() {
        let mut rng = Rng::new(34);
        for leaf_max in [SMALL_LEAF_MAX_RULES, DEFAULT_LEAF_MAX_RULES] {
            let sets = rules(&mut rng, 3000);
            let tree = PartitionedClassifier::build(&sets, leaf_max);
            let Node::Split(root) = tree.root.node() else {
                panic!("the root is not a split");
            };
            let root = &tree.splits[root as usize];
            assert_eq!(root.prefix_bits, 16, "the root's split did not skip /8");
            assert!(matches!(root.index, SlotIndex::Direct { mask: 0xffff }));
            let pick = |rng: &mut Rng, (lo, hi): (u32, u32)| {
                lo + (rng.next_u64() % (u64::from(hi - lo) + 1)) as u32
            };
            let keys: Vec<FlowKey<u32>> = (0..20_000)
                .map(|n| {
                    let r = rng.below(sets.len() as u64) as usize;
                    let inside = n % 2 == 0;
                    FlowKey {
                        protocol: if inside {
                            sets.protocol[r][0].1
                        } else {
                            rng.below(256) as u8
                        },
                        dest_port: if inside {
                            sets.dest_port[r][0].0
                        } else {
                            rng.below(1100) as u16
                        },
                        source_port: rng.next_u64() as u16,
                        remote: if inside {
                            pick(&mut rng, sets.remote[r][0])
                        } else {
                            rng.next_u64() as u32
                        },
                        local: if inside {
                            pick(&mut rng, sets.local[r][0])
                        } else {
                            (rng.below(5) as u32) << 24 | rng.next_u64() as u32 >> 10
                        },
                    }
                })
                .collect();
            let mut lockstep = vec![None; keys.len()];
            tree.first_matches(Portable, &keys, &mut lockstep);
            let mut matched = 0;
            for (key, from_lockstep) in keys.iter().zip(&lockstep) {
                let expected = first_match_by_scan(&sets, key);
                matched += usize::from(expected.is_some());
                assert_eq!(tree.first_match(Portable, key), expected, "{key:?}");
                assert_eq!(*from_lockstep, expected, "lockstep {key:?}");
            }
            assert!(
                matched > keys.len() / 2,
                "only {matched} flows matched a rule"
            );
        }
    }
}
