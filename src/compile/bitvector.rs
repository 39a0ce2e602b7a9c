//! A Lucent-style bit-vector classifier over rank-ordered rules.
//!
//! Every rule is one bit; rule `r` has rank `r` (its place in S10 order), so the first set bit
//! of a flow's match vector is the deciding rule. Each of the five fields (protocol, destination
//! port, source port, remote address, local address) maps a flow value to an equivalence class
//! — the set of rules whose condition on that field the value meets — and each class stores
//! that set as a bit vector. A lookup ANDs the five vectors and takes the lowest set bit.
//!
//! An aggregated summary (one bit per 512-bit block, Baboescu & Varghese's ABV) lets the lookup
//! visit only the blocks that can be non-zero in all five fields; the blocks are ANDed by a
//! [`Kernel`] (AVX-512 where the CPU has it).
//!
//! Rules carry *sets* per field (a prefix list is several CIDRs, a port list several ranges, a
//! group reference many addresses) without being expanded into one bit per combination.

use super::kernel::{Block, Kernel, BLOCK_WORDS};
use super::key::{FlowKey, Key};
use rustc_hash::FxHashMap;

/// Maps a field value to its class: classes are the distinct rule sets, and values are cut into
/// maximal intervals with one class each.
#[derive(Clone, Debug)]
pub struct FieldMap<K: Key> {
    /// Start of each interval, ascending (`starts[0]` is 0), then [`SCAN_MAX`] copies of
    /// [`Key::MAX`], so that a lookup can count the starts <= a value in a window of
    /// [`SCAN_MAX`] without checking where the starts end (see [`count_in_window`]).
    starts: Vec<K>,
    /// Class of each interval, then [`SCAN_MAX`] copies of the last one: where a window that
    /// counted the padding (only [`Key::MAX`] itself is >= it) lands.
    classes: Vec<u32>,
    lookup: Lookup,
}

/// How a value finds its interval.
///
/// PERF: a plain binary search over the interval starts took ~70 % of lookup time on acl1_1k.
#[derive(Clone, Debug)]
enum Lookup {
    /// Few intervals: scan them.
    Scan,
    /// Protocols and the port fields of dense maps: the class of every value.
    Direct(Vec<u32>),
    /// Addresses (and ports of sparse maps): a multi-level table (see [`BucketTable`]).
    Bucketed(BucketTable),
    /// Too many starts to pack into bucket entries: binary search.
    Search,
}

/// Up to this many intervals a linear scan beats any index.
pub(super) const SCAN_MAX: usize = 8;

/// How many of the [`SCAN_MAX`] values at `starts[first..]` are <= `value` (the starts end in
/// [`SCAN_MAX`] pads of [`Key::MAX`], so a window always fits).
///
/// PERF: a scan that stops at the first start above the value (the padding stops it, so it
/// never checks where the starts end). Counting all eight without branches took a third fewer
/// instructions (callgrind) but ran `examples/vpc-web.json`'s flows at 21-32 M/s against the
/// scan's 32-46 (1 thread, alternating, `docs/perf/2026-12-07-s31/`): where flows repeat, the
/// scan's exits are predicted, and the count is one long dependency chain.
#[inline(always)]
pub(super) fn count_in_window<K: Key>(starts: &[K], first: usize, value: K) -> usize {
    let window: &[K; SCAN_MAX] = starts[first..first + SCAN_MAX]
        .try_into()
        .expect("the starts end in SCAN_MAX pads");
    window.iter().take_while(|&&start| start <= value).count()
}

/// The class of every value of a small domain.
pub(super) fn direct_table<K: Key>(starts: &[K], classes: &[u32]) -> Vec<u32> {
    let mut table = Vec::with_capacity(1 << K::BITS);
    for (i, &class) in classes.iter().enumerate() {
        let end = starts
            .get(i + 1)
            .map_or(1usize << K::BITS, |s| s.top(K::BITS));
        table.resize(end, class);
    }
    table
}

/// A radix table over the top bits of a value, in the manner of DIR-24-8 route lookup: the root
/// has `2^root_bits` entries, and an entry is one of
/// - `UNIFORM | class`: no interval starts inside the entry's block of values;
/// - `CHILD | child`: the block is cut further by 8 more bits, in `children[child * 256..]`;
/// - otherwise the index of the block's first start (low 24 bits) and how many starts it holds
///   (bits 24–29; [`BucketTable::MANY`] means "to the end of the starts", which is still right
///   because later blocks' starts all lie above the value).
///
/// Blocks with more than a few starts get a child while 8 more bits remain, so a lookup ends in
/// a short scan at most.
// PERF: on acl1_1k a binary search inside clustered /16 blocks took 17 % of lookup time.
#[derive(Clone, Debug)]
pub struct BucketTable {
    root_bits: u32,
    root: Vec<u32>,
    children: Vec<u32>,
    child_min_starts: usize,
}

impl BucketTable {
    const UNIFORM: u32 = 1 << 31;
    const CHILD: u32 = 1 << 30;
    const INDEX_BITS: u32 = 24;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;
    const COUNT_MASK: u32 = 0x3f;
    const MANY: u32 = Self::COUNT_MASK;
    const CHILD_BITS: u32 = 8;
    /// Deeper than this, blocks are searched instead (IPv6 clusters).
    const MAX_DEPTH: u32 = 6;

    /// Whether [`BucketTable::build`] can index this many starts.
    fn fits(starts: usize) -> bool {
        starts <= Self::INDEX_MASK as usize
    }

    /// Blocks with more than this many starts get a child table (1 KiB) in dense maps; sparse
    /// ones (the leaves of the partitioned tier, tens of thousands of them) only get one for
    /// more than [`BucketTable::SPARSE_CHILD_MIN_STARTS`], so their memory stays ~32 bytes
    /// per start at most.
    // PERF: children from 4 starts on took the 1K ClassBench sets from 24–28 to 28–36 M/s, but
    // acl1_100k's leaves from 38 to 90 MB.
    const DENSE_CHILD_MIN_STARTS: usize = 4;
    const SPARSE_CHILD_MIN_STARTS: usize = 32;

    fn build<K: Key>(starts: &[K], classes: &[u32], root_bits: u32, dense: bool) -> BucketTable {
        let mut table = BucketTable {
            root_bits,
            root: Vec::new(),
            children: Vec::new(),
            child_min_starts: if dense {
                Self::DENSE_CHILD_MIN_STARTS
            } else {
                Self::SPARSE_CHILD_MIN_STARTS
            },
        };
        let all = ValueBlock {
            first_start: 0,
            end_start: starts.len(),
            base: 0,
            bits_below: K::BITS,
        };
        table.root = table.entries(starts, classes, all, root_bits, 0);
        table
    }

    /// The `2^stride` entries that cut `block` by its next `stride` bits.
    fn entries<K: Key>(
        &mut self,
        starts: &[K],
        classes: &[u32],
        block: ValueBlock,
        stride: u32,
        depth: u32,
    ) -> Vec<u32> {
        let bits_below = block.bits_below - stride;
        let sub_of = |start: &K| ((start.block(K::BITS) - block.base) >> bits_below) as usize;
        // Sub-blocks without starts inside take the class in force at their first value: fill
        // the table with that, run by run, and then visit only the sub-blocks holding starts.
        // PERF: visiting all 2^16 roots one by one was a fifth of a 1000-rule compile.
        let mut entries = Vec::with_capacity(1 << stride);
        let mut index = block.first_start;
        while index < block.end_start {
            let sub = sub_of(&starts[index]);
            let first = index;
            while index < block.end_start && sub_of(&starts[index]) == sub {
                index += 1;
            }
            if entries.len() < sub {
                // `first >= 1` here: `starts[0]` is 0, in the very first sub-block.
                entries.resize(sub, Self::UNIFORM | classes[first - 1]);
            }
            let base = block.base | (sub as u128) << bits_below;
            let count = index - first;
            // A start at the sub-block's first value does not cut it.
            let at_base = usize::from(starts[first].block(K::BITS) == base);
            let entry = if count == at_base {
                Self::UNIFORM | classes[index - 1]
            } else if count > self.child_min_starts
                && bits_below >= Self::CHILD_BITS
                && depth < Self::MAX_DEPTH
            {
                let child = ValueBlock {
                    first_start: first,
                    end_start: index,
                    base,
                    bits_below,
                };
                let slot = self.children.len() / (1 << Self::CHILD_BITS);
                self.children
                    .resize(self.children.len() + (1 << Self::CHILD_BITS), 0);
                let child_entries =
                    self.entries(starts, classes, child, Self::CHILD_BITS, depth + 1);
                let at = slot << Self::CHILD_BITS;
                self.children[at..at + child_entries.len()].copy_from_slice(&child_entries);
                Self::CHILD | slot as u32
            } else {
                first as u32 | (count.min(Self::MANY as usize) as u32) << Self::INDEX_BITS
            };
            entries.push(entry);
        }
        // After the last start, the last class in force (every block has a start).
        entries.resize(1 << stride, Self::UNIFORM | classes[index - 1]);
        entries
    }

    /// The class of `value`, given the map's interval starts and classes.
    #[inline(always)]
    fn class_of<K: Key>(&self, starts: &[K], classes: &[u32], value: K) -> u32 {
        let mut bits_below = K::BITS - self.root_bits;
        let mut entry = self.root[value.top(self.root_bits)];
        while entry & Self::CHILD != 0 && entry & Self::UNIFORM == 0 {
            bits_below -= Self::CHILD_BITS;
            // `top` shifts in the key's own width (a u128 shift is several instructions).
            let chunk = value.top(K::BITS - bits_below) & ((1 << Self::CHILD_BITS) - 1);
            entry = self.children[(((entry & !Self::CHILD) as usize) << Self::CHILD_BITS) | chunk];
        }
        if entry & Self::UNIFORM != 0 {
            return entry & !Self::UNIFORM;
        }
        let first = (entry & Self::INDEX_MASK) as usize;
        let count = (entry >> Self::INDEX_BITS) & Self::COUNT_MASK;
        // The last start <= value is in the block or just before it. The starts after the
        // block's all lie above the value, so a window may count past the block's end.
        let below = if count as usize <= SCAN_MAX {
            count_in_window(starts, first, value)
        } else {
            let end = if count == Self::MANY {
                starts.len() - SCAN_MAX
            } else {
                first + count as usize
            };
            starts[first..end].partition_point(|&s| s <= value)
        };
        classes[first + below - 1]
    }

    fn memory_bytes(&self) -> usize {
        (self.root.len() + self.children.len()) * 4
    }
}

/// A run of starts, `starts[first_start..end_start]`, that lie in the block of values sharing
/// `base`'s bits above the lowest `bits_below`.
#[derive(Clone, Copy)]
struct ValueBlock {
    first_start: usize,
    end_start: usize,
    base: u128,
    bits_below: u32,
}

/// Dense maps give port fields a direct table and address fields 2^16 buckets: one or two
/// loads per lookup for ~0.5–1 MB per classifier, so only big rule sets get them.
pub const DENSE_MIN_RULES: usize = 256;

impl<K: Key> FieldMap<K> {
    fn new(mut starts: Vec<K>, mut classes: Vec<u32>, dense: bool) -> Self {
        // PERF: a scan of the few protocol intervals cost 3.6 ns per lookup on acl1_1k (its
        // exits are hard to predict); the 1 KiB direct table costs one L1 load, but in every
        // leaf of the partitioned tier it took acl1_100k from 38 to 57 MB.
        let lookup = if K::BITS <= 8 && (dense || starts.len() > SCAN_MAX) {
            Lookup::Direct(direct_table(&starts, &classes))
        } else if starts.len() <= SCAN_MAX {
            Lookup::Scan
        } else if K::BITS <= 16 && dense {
            Lookup::Direct(direct_table(&starts, &classes))
        } else if BucketTable::fits(starts.len()) {
            // Dense maps cut addresses by their top 16 bits; otherwise about four buckets per
            // start, so a bucket holds few starts.
            // PERF: on the 1K ClassBench sets, 2^16 roots (and direct port tables) were 15–40 %
            // faster than 2^12 or 2^8 roots with more child levels, despite the memory.
            let bits = if dense {
                16
            } else {
                (starts.len() * 4).next_power_of_two().trailing_zeros()
            };
            let bits = bits.clamp(1, K::BITS.min(20));
            Lookup::Bucketed(BucketTable::build(&starts, &classes, bits, dense))
        } else {
            Lookup::Search
        };
        let last_class = *classes.last().expect("starts[0] is 0");
        starts.resize(starts.len() + SCAN_MAX, K::MAX);
        classes.resize(classes.len() + SCAN_MAX, last_class);
        FieldMap {
            starts,
            classes,
            lookup,
        }
    }

    #[inline(always)]
    pub fn class_of(&self, value: K) -> u32 {
        let interval = match &self.lookup {
            // `starts[0]` is 0, so at least one start is <= value.
            Lookup::Scan => count_in_window(&self.starts, 0, value) - 1,
            Lookup::Direct(table) => return table[value.top(K::BITS)],
            Lookup::Bucketed(table) => return table.class_of(&self.starts, &self.classes, value),
            Lookup::Search => {
                let starts = &self.starts[..self.starts.len() - SCAN_MAX];
                starts.partition_point(|&s| s <= value) - 1
            }
        };
        self.classes[interval]
    }

    fn memory_bytes(&self) -> usize {
        let lookup = match &self.lookup {
            Lookup::Scan | Lookup::Search => 0,
            Lookup::Direct(table) => table.len() * 4,
            Lookup::Bucketed(table) => table.memory_bytes(),
        };
        self.starts.len() * std::mem::size_of::<K>() + self.classes.len() * 4 + lookup
    }
}

/// The bit vectors of one field's classes, with their summaries.
#[derive(Clone, Debug)]
pub struct ClassVectors {
    /// `classes × blocks` rule bits.
    blocks: Vec<Block>,
    /// `classes × summary_words`: bit `b` says block `b` of the class vector is non-zero.
    summaries: Vec<u64>,
}

/// A field's equivalence classes: the domain cut at every interval start and after every end
/// into maximal intervals with one rule set each. Returns each interval's start (the first is
/// the domain's minimum) and class, and each class's rule set as `words` 64-bit words; classes
/// are numbered in order of first sight, lowest values first. Shared by the bit vector's field
/// maps and the cross-product tables' chunks.
pub(super) fn field_classes<K: Key, S: AsRef<[(K, K)]>>(
    rule_sets: &[S],
    words: usize,
) -> (Vec<K>, Vec<u32>, Vec<Vec<u64>>) {
    // 1. Elementary intervals: cut the domain at every interval start and after every end.
    let mut cuts: Vec<K> = vec![K::default()];
    for set in rule_sets {
        for &(lo, hi) in set.as_ref() {
            cuts.push(lo);
            if let Some(after) = hi.successor() {
                cuts.push(after);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();

    // 2. Sweep the intervals in order, keeping how many of each rule's intervals cover the
    //    current one (a set may overlap itself, e.g. a prefix list with nested CIDRs). Where
    //    each interval opens and closes, as (cut, opens, rule), sorted by cut.
    let mut events: Vec<(usize, bool, u32)> = Vec::new();
    for (rule, set) in rule_sets.iter().enumerate() {
        for &(lo, hi) in set.as_ref() {
            let first = cuts.binary_search(&lo).expect("every start is a cut");
            events.push((first, true, rule as u32));
            if let Some(after) = hi.successor() {
                let end = cuts.binary_search(&after).expect("every end+1 is a cut");
                events.push((end, false, rule as u32));
            }
        }
    }
    events.sort_unstable();
    let mut events = events.into_iter().peekable();
    let mut cover_count = vec![0u32; rule_sets.len()];
    let mut current = vec![0u64; words];
    let mut class_of_vector: FxHashMap<Vec<u64>, u32> = FxHashMap::default();
    let mut vectors: Vec<Vec<u64>> = Vec::new();
    let mut starts: Vec<K> = Vec::new();
    let mut classes: Vec<u32> = Vec::new();
    for (index, &cut) in cuts.iter().enumerate() {
        while let Some((_, opens, rule)) = events.next_if(|event| event.0 == index) {
            let rule = rule as usize;
            if opens {
                cover_count[rule] += 1;
            } else {
                cover_count[rule] -= 1;
            }
            if cover_count[rule] == 0 {
                current[rule / 64] &= !(1u64 << (rule % 64));
            } else {
                current[rule / 64] |= 1u64 << (rule % 64);
            }
        }
        // Look up by slice first: most cuts repeat a known class, and cloning the vector for
        // every cut was most of a 1000-rule compile's allocations.
        let class = match class_of_vector.get(current.as_slice()) {
            Some(&class) => class,
            None => {
                let class = vectors.len() as u32;
                class_of_vector.insert(current.clone(), class);
                vectors.push(current.clone());
                class
            }
        };
        // Adjacent intervals with the same class merge into one.
        if classes.last() != Some(&class) {
            starts.push(cut);
            classes.push(class);
        }
    }
    (starts, classes, vectors)
}

/// Builds one field from each rule's set of inclusive intervals (rules in rank order).
pub fn build_field<K: Key>(
    rule_sets: &[Vec<(K, K)>],
    blocks: usize,
    dense: bool,
) -> (FieldMap<K>, ClassVectors) {
    let (starts, classes, vectors) = field_classes(rule_sets, blocks * BLOCK_WORDS);
    (
        FieldMap::new(starts, classes, dense),
        ClassVectors::new(&vectors, blocks),
    )
}

impl ClassVectors {
    /// The blocks and summaries of each class's rule set (`vectors`, of up to `blocks` blocks'
    /// words; shorter ones end in zeros).
    pub(super) fn new<V: AsRef<[u64]>>(vectors: &[V], blocks: usize) -> ClassVectors {
        let summary_words = blocks.div_ceil(64);
        let mut class_blocks = Vec::with_capacity(vectors.len() * blocks);
        let mut summaries = vec![0u64; vectors.len() * summary_words];
        for (class, vector) in vectors.iter().enumerate() {
            let vector = vector.as_ref();
            for index in 0..blocks {
                let mut block = Block::default();
                let words = vector.iter().skip(index * BLOCK_WORDS).take(BLOCK_WORDS);
                for (word, &value) in block.0.iter_mut().zip(words) {
                    *word = value;
                }
                if !block.is_zero() {
                    summaries[class * summary_words + index / 64] |= 1u64 << (index % 64);
                }
                class_blocks.push(block);
            }
        }
        ClassVectors {
            blocks: class_blocks,
            summaries,
        }
    }

    fn memory_bytes(&self) -> usize {
        self.blocks.len() * std::mem::size_of::<Block>() + self.summaries.len() * 8
    }
}

/// Up to this many blocks per vector, lookups skip the summaries.
const SUMMARY_MIN_BLOCKS: usize = 4;

/// The class vectors of all five fields: the half of a classifier that a lookup needs once it
/// knows the flow's classes (field order: protocol, destination port, source port, remote,
/// local).
#[derive(Clone, Debug)]
pub struct RuleVectors {
    rules: usize,
    blocks: usize,
    summary_words: usize,
    fields: [ClassVectors; 5],
    /// Per field, the field whose vectors a lookup reads for it: itself, or for a field that
    /// no rule constrains (one class holding every rule, such as the source port in most rule
    /// sets) an active field, since ANDing a vector twice changes nothing. Such a field costs
    /// neither a class lookup nor a cache miss (rte_acl likewise drops all-wildcard fields).
    stand_in: [usize; 5],
}

impl RuleVectors {
    pub(super) fn new(rules: usize, blocks: usize, fields: [ClassVectors; 5]) -> RuleVectors {
        let unconstrained = |field: &ClassVectors| {
            field.blocks.len() == blocks
                && field
                    .blocks
                    .iter()
                    .map(|b| b.0.iter().map(|w| w.count_ones() as usize).sum::<usize>())
                    .sum::<usize>()
                    == rules
        };
        let active: Vec<usize> = (0..5).filter(|&f| !unconstrained(&fields[f])).collect();
        let fallback = active.first().copied().unwrap_or(0);
        let stand_in = std::array::from_fn(|f| if active.contains(&f) { f } else { fallback });
        RuleVectors {
            rules,
            blocks,
            summary_words: blocks.div_ceil(64),
            fields,
            stand_in,
        }
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.fields.iter().map(ClassVectors::memory_bytes).sum()
    }

    /// Whether a lookup needs `field`'s class.
    #[inline(always)]
    fn is_active(&self, field: usize) -> bool {
        self.stand_in[field] == field
    }
}

/// Rules of one (target, direction, family), compiled into five fields.
#[derive(Clone, Debug)]
pub struct BitVectorClassifier<A: Key> {
    protocol: FieldMap<u8>,
    dest_port: FieldMap<u16>,
    source_port: FieldMap<u16>,
    remote: FieldMap<A>,
    local: FieldMap<A>,
    vectors: RuleVectors,
}

/// Per rule (rank order), the intervals each field accepts.
#[derive(Clone, Debug, Default)]
pub struct RuleFieldSets<A: Key> {
    pub protocol: Vec<Vec<(u8, u8)>>,
    pub dest_port: Vec<Vec<(u16, u16)>>,
    pub source_port: Vec<Vec<(u16, u16)>>,
    pub remote: Vec<Vec<(A, A)>>,
    pub local: Vec<Vec<(A, A)>>,
}

impl<A: Key> RuleFieldSets<A> {
    pub fn len(&self) -> usize {
        self.protocol.len()
    }

    /// The rules at `indices`, in that order.
    pub fn subset(&self, indices: &[u32]) -> RuleFieldSets<A> {
        let pick = |i: &u32| *i as usize;
        RuleFieldSets {
            protocol: indices
                .iter()
                .map(|i| self.protocol[pick(i)].clone())
                .collect(),
            dest_port: indices
                .iter()
                .map(|i| self.dest_port[pick(i)].clone())
                .collect(),
            source_port: indices
                .iter()
                .map(|i| self.source_port[pick(i)].clone())
                .collect(),
            remote: indices
                .iter()
                .map(|i| self.remote[pick(i)].clone())
                .collect(),
            local: indices
                .iter()
                .map(|i| self.local[pick(i)].clone())
                .collect(),
        }
    }
}

#[cfg(test)]
impl<A: Key> RuleFieldSets<A> {
    /// Whether rule `rule` admits `key` in all five fields: what every classifier's answer is
    /// checked against in the unit tests.
    pub(super) fn admits(&self, rule: usize, key: &FlowKey<A>) -> bool {
        fn within<K: Key>(intervals: &[(K, K)], value: K) -> bool {
            intervals.iter().any(|&(lo, hi)| lo <= value && value <= hi)
        }
        within(&self.protocol[rule], key.protocol)
            && within(&self.dest_port[rule], key.dest_port)
            && within(&self.source_port[rule], key.source_port)
            && within(&self.remote[rule], key.remote)
            && within(&self.local[rule], key.local)
    }
}

impl<A: Key> BitVectorClassifier<A> {
    /// Builds the classifier; `dense` field maps (see [`DENSE_MIN_RULES`]) trade memory for
    /// fewer loads per lookup.
    pub fn build(sets: &RuleFieldSets<A>, dense: bool) -> Self {
        let rules = sets.protocol.len();
        let blocks = rules.div_ceil(64 * BLOCK_WORDS).max(1);
        let (protocol, protocol_vectors) = build_field(&sets.protocol, blocks, dense);
        let (dest_port, dest_port_vectors) = build_field(&sets.dest_port, blocks, dense);
        let (source_port, source_port_vectors) = build_field(&sets.source_port, blocks, dense);
        let (remote, remote_vectors) = build_field(&sets.remote, blocks, dense);
        let (local, local_vectors) = build_field(&sets.local, blocks, dense);
        BitVectorClassifier {
            protocol,
            dest_port,
            source_port,
            remote,
            local,
            vectors: RuleVectors::new(
                rules,
                blocks,
                [
                    protocol_vectors,
                    dest_port_vectors,
                    source_port_vectors,
                    remote_vectors,
                    local_vectors,
                ],
            ),
        }
    }

    /// The rank of the first rule matching all five values, if any.
    #[inline(always)]
    pub fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        self.vectors.first_match_in(kernel, self.classes(key))
    }

    /// The class of each field value: the first half of a lookup.
    #[inline(always)]
    fn classes(&self, key: &FlowKey<A>) -> [u32; 5] {
        // An unconstrained field's class is never read (see `RuleVectors::stand_in`).
        // PERF: not `[Option<u32>; 5].map(..)`, which LLVM left as a call to `try_map` inside
        // the batch loop.
        let active = |field: usize| self.vectors.is_active(field);
        [
            if active(0) {
                self.protocol.class_of(key.protocol)
            } else {
                0
            },
            if active(1) {
                self.dest_port.class_of(key.dest_port)
            } else {
                0
            },
            if active(2) {
                self.source_port.class_of(key.source_port)
            } else {
                0
            },
            if active(3) {
                self.remote.class_of(key.remote)
            } else {
                0
            },
            if active(4) {
                self.local.class_of(key.local)
            } else {
                0
            },
        ]
    }

    pub fn memory_bytes(&self) -> usize {
        self.protocol.memory_bytes()
            + self.dest_port.memory_bytes()
            + self.source_port.memory_bytes()
            + self.remote.memory_bytes()
            + self.local.memory_bytes()
            + self.vectors.memory_bytes()
    }
}

impl RuleVectors {
    /// The rank of the first rule in all five classes, if any: the second half of a lookup.
    #[inline(always)]
    pub(super) fn first_match_in<K: Kernel>(&self, kernel: K, classes: [u32; 5]) -> Option<u32> {
        if self.rules == 0 {
            return None;
        }
        let fields: [usize; 5] = self.stand_in;
        let classes: [usize; 5] = std::array::from_fn(|f| classes[fields[f]] as usize);
        let vectors: [&ClassVectors; 5] = std::array::from_fn(|f| &self.fields[fields[f]]);
        let (blocks, summary_words) = (self.blocks, self.summary_words);
        let block_of = |field: usize, block: usize| -> &Block {
            &vectors[field].blocks[classes[field] * blocks + block]
        };
        if blocks <= SUMMARY_MIN_BLOCKS {
            // Few blocks: AND them in order; consulting summaries first would only add a load
            // that the block loads must wait for.
            for block in 0..blocks {
                let bit =
                    kernel.first_common_bit(std::array::from_fn(|field| block_of(field, block)));
                if let Some(bit) = bit {
                    return Some((block * BLOCK_WORDS * 64) as u32 + bit);
                }
            }
            return None;
        }
        for s in 0..summary_words {
            let mut candidates = !0u64;
            for (field, &class) in vectors.iter().zip(&classes) {
                candidates &= field.summaries[class * summary_words + s];
            }
            while candidates != 0 {
                let block = s * 64 + candidates.trailing_zeros() as usize;
                let blocks = std::array::from_fn(|field| block_of(field, block));
                if let Some(bit) = kernel.first_common_bit(blocks) {
                    return Some((block * BLOCK_WORDS * 64) as u32 + bit);
                }
                candidates &= candidates - 1;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Every lookup strategy gives the class a binary search over the starts gives, on
    /// clustered starts (so that child tables and scans both occur) and at block edges.
    fn check_map<K: Key>(starts: Vec<K>, probes: &[K]) {
        let classes: Vec<u32> = (0..starts.len() as u32).collect();
        for dense in [false, true] {
            let map = FieldMap::new(starts.clone(), classes.clone(), dense);
            for &value in probes {
                let expected = starts.partition_point(|&s| s <= value) as u32 - 1;
                assert_eq!(map.class_of(value), expected, "{value:?} (dense {dense})");
            }
        }
    }

    fn clustered<K: Key>(rng: &mut Rng, to_key: impl Fn(u128) -> K, bits: u32) -> (Vec<K>, Vec<K>) {
        let mut starts = vec![K::default()];
        for _ in 0..rng.range(1, 400) {
            // A few hot regions, each with a burst of nearby starts.
            let region = (rng.below(4) as u128) << (bits - 3);
            let spread = 1u128 << rng.range(1, u64::from(bits - 4));
            starts.push(to_key(region + u128::from(rng.next_u64()) % spread));
        }
        starts.sort_unstable();
        starts.dedup();
        let mut probes: Vec<K> = Vec::new();
        for &s in &starts {
            let v = s.block(K::BITS);
            probes.extend([to_key(v), to_key(v.saturating_sub(1)), to_key(v + 1)]);
        }
        probes.extend(
            (0..500).map(|_| to_key(u128::from(rng.next_u64()) << (bits.saturating_sub(64)))),
        );
        (starts, probes)
    }

    #[test]
    fn field_maps_agree_with_binary_search() {
        let mut rng = Rng::new(7);
        for _ in 0..30 {
            let (starts, probes) = clustered(&mut rng, |v| v as u32, 32);
            check_map(starts, &probes);
            let (starts, probes) = clustered(&mut rng, |v| v as u16, 16);
            check_map(starts, &probes);
            let (starts, probes) = clustered(&mut rng, |v| v << 64 | v, 128);
            check_map(starts, &probes);
        }
    }
}
