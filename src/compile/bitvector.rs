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
use super::partitioned::FlowKey;
use std::collections::HashMap;

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
    /// [`super::partitioned`].
    const BLOCK_LEVELS: &'static [u32];
    /// The block of `prefix_bits` bits this value lies in.
    fn block(self, prefix_bits: u32) -> u128;
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

/// Maps a field value to its class: classes are the distinct rule sets, and values are cut into
/// maximal intervals with one class each.
#[derive(Clone, Debug)]
pub struct FieldMap<K: Key> {
    /// Start of each interval, ascending; `starts[0]` is 0.
    starts: Vec<K>,
    /// Class of each interval.
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
    /// Addresses (and ports of sparse maps): one entry per block of values sharing their top
    /// `bits` bits — either the block's class, when no interval starts inside it, or where the
    /// block's starts are (see [`BucketEntry`]).
    Bucketed { bits: u32, entries: Vec<u32> },
    /// Too many starts to pack into bucket entries: binary search.
    Search,
}

/// Up to this many intervals a linear scan beats any index.
const SCAN_MAX: usize = 8;

/// How many of the ascending `starts` are <= `value`: a scan for short slices (buckets average
/// under one start), a binary search for long (clustered) ones.
#[inline(always)]
fn count_at_or_below<K: Key>(starts: &[K], value: K) -> usize {
    if starts.len() <= SCAN_MAX {
        starts.iter().take_while(|&&s| s <= value).count()
    } else {
        starts.partition_point(|&s| s <= value)
    }
}

/// A bucket entry, packed into a `u32`: `UNIFORM | class`, or the index of the bucket's first
/// start (low 24 bits) and how many starts it holds (high 7 bits, [`BucketEntry::MANY`] meaning
/// "search to the end of the starts": later buckets' starts are all above the value anyway).
struct BucketEntry;

impl BucketEntry {
    const UNIFORM: u32 = 1 << 31;
    const INDEX_BITS: u32 = 24;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;
    const MANY: u32 = 127;
}

/// Dense maps give port fields a direct table and address fields 2^16 buckets: one or two
/// loads per lookup for ~0.5–1 MB per classifier, so only big rule sets get them.
pub const DENSE_MIN_RULES: usize = 256;

impl<K: Key> FieldMap<K> {
    fn new(starts: Vec<K>, classes: Vec<u32>, dense: bool) -> Self {
        let lookup = if starts.len() <= SCAN_MAX {
            Lookup::Scan
        } else if K::BITS <= 8 || (K::BITS <= 16 && dense) {
            let mut table = Vec::with_capacity(1 << K::BITS);
            for (i, &class) in classes.iter().enumerate() {
                let end = starts
                    .get(i + 1)
                    .map_or(1usize << K::BITS, |s| s.top(K::BITS));
                table.resize(end, class);
            }
            Lookup::Direct(table)
        } else if starts.len() <= BucketEntry::INDEX_MASK as usize {
            // About four buckets per start, so a bucket holds few starts; dense maps use at
            // least 2^16, which leaves most buckets uniform.
            let wanted = (starts.len() * 4).next_power_of_two().trailing_zeros();
            let floor = if dense { 16 } else { 1 };
            let bits = wanted.max(floor).clamp(1, K::BITS.min(20));
            Lookup::Bucketed {
                bits,
                entries: bucket_entries(&starts, &classes, bits),
            }
        } else {
            Lookup::Search
        };
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
            Lookup::Scan => count_at_or_below(&self.starts, value) - 1,
            Lookup::Direct(table) => return table[value.top(K::BITS)],
            Lookup::Bucketed { bits, entries } => {
                let entry = entries[value.top(*bits)];
                if entry & BucketEntry::UNIFORM != 0 {
                    return entry & !BucketEntry::UNIFORM;
                }
                // The last start <= value is in the value's own bucket or just before it.
                let first = (entry & BucketEntry::INDEX_MASK) as usize;
                let count = entry >> BucketEntry::INDEX_BITS;
                let end = if count == BucketEntry::MANY {
                    self.starts.len()
                } else {
                    first + count as usize
                };
                first + count_at_or_below(&self.starts[first..end], value) - 1
            }
            Lookup::Search => self.starts.partition_point(|&s| s <= value) - 1,
        };
        self.classes[interval]
    }

    fn memory_bytes(&self) -> usize {
        let lookup = match &self.lookup {
            Lookup::Scan | Lookup::Search => 0,
            Lookup::Direct(table) => table.len() * 4,
            Lookup::Bucketed { entries, .. } => entries.len() * 4,
        };
        self.starts.len() * std::mem::size_of::<K>() + self.classes.len() * 4 + lookup
    }
}

/// The [`BucketEntry`] of each of the `2^bits` buckets.
fn bucket_entries<K: Key>(starts: &[K], classes: &[u32], bits: u32) -> Vec<u32> {
    let mut entries = Vec::with_capacity(1 << bits);
    let mut index = 0; // first start in or after the current bucket
    for bucket in 0..(1usize << bits) {
        let first = index;
        while index < starts.len() && starts[index].top(bits) == bucket {
            index += 1;
        }
        let inside = &starts[first..index];
        // A start at the bucket's very first value does not split the bucket.
        let splits =
            inside.len() - usize::from(inside.first().is_some_and(|s| is_block_start(*s, bits)));
        entries.push(if splits == 0 {
            // The class in force at the bucket's first value.
            BucketEntry::UNIFORM | classes[index - 1]
        } else {
            first as u32
                | (inside.len().min(BucketEntry::MANY as usize) as u32) << BucketEntry::INDEX_BITS
        });
    }
    entries
}

/// Whether `value` is the first value of its block of `bits` top bits.
fn is_block_start<K: Key>(value: K, bits: u32) -> bool {
    value.block(K::BITS) & ((1u128 << (K::BITS - bits)) - 1) == 0
}

/// The bit vectors of one field's classes, with their summaries.
#[derive(Clone, Debug)]
pub struct ClassVectors {
    /// `classes × blocks` rule bits.
    blocks: Vec<Block>,
    /// `classes × summary_words`: bit `b` says block `b` of the class vector is non-zero.
    summaries: Vec<u64>,
}

/// One field of the classifier: its value map and class vectors.
#[derive(Clone, Debug)]
pub struct Field<K: Key> {
    pub map: FieldMap<K>,
    vectors: ClassVectors,
}

/// Builds one field from each rule's set of inclusive intervals (rules in rank order).
pub fn build_field<K: Key>(rule_sets: &[Vec<(K, K)>], blocks: usize, dense: bool) -> Field<K> {
    let words = blocks * BLOCK_WORDS;
    // 1. Elementary intervals: cut the domain at every interval start and after every end.
    let mut cuts: Vec<K> = vec![K::default()];
    for set in rule_sets {
        for &(lo, hi) in set {
            cuts.push(lo);
            if let Some(after) = hi.successor() {
                cuts.push(after);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();

    // 2. Sweep the intervals in order, keeping how many of each rule's intervals cover the
    //    current one (a set may overlap itself, e.g. a prefix list with nested CIDRs).
    let mut opens: Vec<Vec<u32>> = vec![Vec::new(); cuts.len()];
    let mut closes: Vec<Vec<u32>> = vec![Vec::new(); cuts.len() + 1];
    for (rule, set) in rule_sets.iter().enumerate() {
        for &(lo, hi) in set {
            let first = cuts.binary_search(&lo).expect("every start is a cut");
            let end = match hi.successor() {
                Some(after) => cuts.binary_search(&after).expect("every end+1 is a cut"),
                None => cuts.len(),
            };
            opens[first].push(rule as u32);
            closes[end].push(rule as u32);
        }
    }
    let mut cover_count = vec![0u32; rule_sets.len()];
    let mut current = vec![0u64; words];
    let mut class_of_vector: HashMap<Vec<u64>, u32> = HashMap::new();
    let mut vectors: Vec<Vec<u64>> = Vec::new();
    let mut starts: Vec<K> = Vec::new();
    let mut classes: Vec<u32> = Vec::new();
    for (index, &cut) in cuts.iter().enumerate() {
        for &rule in &closes[index] {
            cover_count[rule as usize] -= 1;
            if cover_count[rule as usize] == 0 {
                current[rule as usize / 64] &= !(1u64 << (rule % 64));
            }
        }
        for &rule in &opens[index] {
            cover_count[rule as usize] += 1;
            current[rule as usize / 64] |= 1u64 << (rule % 64);
        }
        let next_class = vectors.len() as u32;
        let class = *class_of_vector.entry(current.clone()).or_insert_with(|| {
            vectors.push(current.clone());
            next_class
        });
        // Adjacent intervals with the same class merge into one.
        if classes.last() != Some(&class) {
            starts.push(cut);
            classes.push(class);
        }
    }

    let summary_words = blocks.div_ceil(64);
    let mut class_blocks = Vec::with_capacity(vectors.len() * blocks);
    let mut summaries = vec![0u64; vectors.len() * summary_words];
    for (class, vector) in vectors.iter().enumerate() {
        for (index, chunk) in vector.chunks(BLOCK_WORDS).enumerate() {
            let block = Block(chunk.try_into().expect("vectors are whole blocks"));
            if !block.is_zero() {
                summaries[class * summary_words + index / 64] |= 1u64 << (index % 64);
            }
            class_blocks.push(block);
        }
    }
    Field {
        map: FieldMap::new(starts, classes, dense),
        vectors: ClassVectors {
            blocks: class_blocks,
            summaries,
        },
    }
}

impl<K: Key> Field<K> {
    pub fn memory_bytes(&self) -> usize {
        self.map.memory_bytes()
            + self.vectors.blocks.len() * std::mem::size_of::<Block>()
            + self.vectors.summaries.len() * 8
    }
}

/// Rules of one (target, direction, family), compiled into five fields.
#[derive(Clone, Debug)]
pub struct BitVectorClassifier<A: Key> {
    rules: usize,
    blocks: usize,
    summary_words: usize,
    pub protocol: Field<u8>,
    pub dest_port: Field<u16>,
    pub source_port: Field<u16>,
    pub remote: Field<A>,
    pub local: Field<A>,
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

    pub fn is_empty(&self) -> bool {
        self.protocol.is_empty()
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

impl<A: Key> BitVectorClassifier<A> {
    /// Builds the classifier; `dense` field maps (see [`DENSE_MIN_RULES`]) trade memory for
    /// fewer loads per lookup.
    pub fn build(sets: &RuleFieldSets<A>, dense: bool) -> Self {
        let rules = sets.protocol.len();
        let blocks = rules.div_ceil(64 * BLOCK_WORDS).max(1);
        BitVectorClassifier {
            rules,
            blocks,
            summary_words: blocks.div_ceil(64),
            protocol: build_field(&sets.protocol, blocks, dense),
            dest_port: build_field(&sets.dest_port, blocks, dense),
            source_port: build_field(&sets.source_port, blocks, dense),
            remote: build_field(&sets.remote, blocks, dense),
            local: build_field(&sets.local, blocks, dense),
        }
    }

    pub fn rules(&self) -> usize {
        self.rules
    }

    /// The rank of the first rule matching all five values, if any.
    #[inline(always)]
    pub fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        if self.rules == 0 {
            return None;
        }
        let classes = [
            self.protocol.map.class_of(key.protocol) as usize,
            self.dest_port.map.class_of(key.dest_port) as usize,
            self.source_port.map.class_of(key.source_port) as usize,
            self.remote.map.class_of(key.remote) as usize,
            self.local.map.class_of(key.local) as usize,
        ];
        let vectors = [
            &self.protocol.vectors,
            &self.dest_port.vectors,
            &self.source_port.vectors,
            &self.remote.vectors,
            &self.local.vectors,
        ];
        let (blocks, summary_words) = (self.blocks, self.summary_words);
        let block_of = |field: usize, block: usize| -> &Block {
            &vectors[field].blocks[classes[field] * blocks + block]
        };
        if blocks == 1 {
            // Up to 512 rules: no summaries to consult.
            return kernel.first_common_bit(std::array::from_fn(|field| block_of(field, 0)));
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

    pub fn memory_bytes(&self) -> usize {
        self.protocol.memory_bytes()
            + self.dest_port.memory_bytes()
            + self.source_port.memory_bytes()
            + self.remote.memory_bytes()
            + self.local.memory_bytes()
    }
}
