//! A cross-product classifier in the manner of RFC (Gupta & McKeown, *Recursive Flow
//! Classification*), for IPv4 rule sets of up to a few thousand rules.
//!
//! A lookup is a fixed sequence of table loads, with no branch on the flow's values: phase 0
//! maps each *chunk* of the flow (protocol, destination port, source port, and each address as
//! two 16-bit halves) to the class of rules that chunk value admits; every later step maps a
//! pair of classes to the class of their intersection, through a table indexed by both; the
//! last step's table holds the first rule of the intersection. A chunk no rule constrains
//! reads one fixed entry, and an unconstrained source port is skipped altogether.
//!
//! An address rule's condition is a *set* of intervals, and a set is not the product of its
//! projections on the two halves (two CIDRs `a.b/16` and `c.d/16` would admit `a.d`). So the
//! halves classify *boxes* — each interval cut into at most three products of a high-half range
//! and a low-half range, remembering its rule — and the step joining the halves maps the boxes
//! both admit to their rules.
//!
//! The tables grow with the product of the class counts they join, so [`Budget`] bounds their
//! total size and the work of building them; a rule set over it is left to the bit vector or
//! the tree (`None` from [`CrossProductClassifier::build`]).

use super::bitvector::{direct_table, field_classes, ClassVectors, RuleFieldSets, RuleVectors};
use super::kernel::{prefetch, Kernel, BLOCK_WORDS};
use super::key::{FlowKey, Key};
use super::table::{Pages, Table, HUGE_PAGE};
use rustc_hash::FxHashMap;
use std::marker::PhantomData;

/// Class ids and table entries are 16-bit: half the cache footprint of 32-bit ones.
type ClassId = u16;

/// The phase-0 chunks, in the order of [`CrossProductClassifier::chunks`].
const PROTOCOL: usize = 0;
const DEST_PORT: usize = 1;
const SOURCE_PORT: usize = 2;
const REMOTE_HIGH: usize = 3;
const REMOTE_LOW: usize = 4;
const LOCAL_HIGH: usize = 5;
const LOCAL_LOW: usize = 6;
const CHUNKS: usize = 7;

/// Entries of every chunk table: chunks are at most 16 bits wide.
const CHUNK_VALUES: usize = 1 << 16;

/// Phase 0 of one chunk, as built: the class of each of its values. A chunk with one class (a
/// field no rule constrains) has a zero mask, so that every lookup runs the same loads, with no
/// branch on the rule set, and reads the same entry. [`Front`] keeps the tables of its chunks
/// together, in one [`Table`].
#[derive(Clone, Debug)]
struct ChunkTable {
    mask: u32,
    /// [`CHUNK_VALUES`] entries.
    classes: Vec<ClassId>,
}

impl ChunkTable {
    /// `classes` is indexed by the chunk's value (up to [`CHUNK_VALUES`] entries).
    fn new(classes: &[ClassId], class_count: usize) -> ChunkTable {
        let mut table = vec![0; CHUNK_VALUES];
        if class_count == 1 {
            return ChunkTable {
                mask: 0,
                classes: table,
            };
        }
        table[..classes.len()].copy_from_slice(classes);
        ChunkTable {
            mask: !0,
            classes: table,
        }
    }
}

/// A later phase: the class of each pair of earlier classes (`left * right_classes + right`).
#[derive(Clone, Debug)]
struct JoinTable {
    right_classes: u32,
    classes: Table<ClassId>,
}

impl JoinTable {
    #[inline(always)]
    fn index(&self, left: u32, right: u32) -> u32 {
        left * self.right_classes + right
    }

    #[inline(always)]
    fn class(&self, left: u32, right: u32) -> u32 {
        u32::from(self.classes[self.index(left, right) as usize])
    }

    fn memory_bytes(&self) -> usize {
        self.classes.allocated_bytes()
    }
}

/// Which two of (protocol and ports, remote address, local address) are joined first; the
/// third joins the result in the last table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    PortsRemote,
    PortsLocal,
    RemoteLocal,
}

impl Order {
    /// `(first, second, third)` of the classes of ports, remote and local address.
    #[inline(always)]
    fn arrange(self, ports: u32, remote: u32, local: u32) -> (u32, u32, u32) {
        match self {
            Order::PortsRemote => (ports, remote, local),
            Order::PortsLocal => (ports, local, remote),
            Order::RemoteLocal => (remote, local, ports),
        }
    }
}

/// Limits on how large the tables may grow, and how long they may take to build, before the
/// bit vector is the better choice.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Total entries of all join tables (memory).
    pub max_join_entries: usize,
    /// Total 64-bit words ANDed to fill the join tables, those tried and dropped included
    /// (build time: about 1 ns per word here).
    pub max_word_ops: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        // PERF: 16 MiB of 16-bit entries (ipc1_1k needs 4 M entries), and ~0.6 s of build
        // (acl1_10k needs ~470 M words, 0.5 s; one 10K-rule synthetic NIC wanted 770 M for a
        // single join and took 5.5 s to build in all).
        Budget {
            max_join_entries: 8 << 20,
            max_word_ops: 600 << 20,
        }
    }
}

/// The phases both classifiers of this module run: the chunk tables, and the joins that turn
/// them into four classes — protocol and destination port, source port, remote address, local
/// address.
#[derive(Clone, Debug)]
struct Front {
    /// Per chunk, the mask of [`ChunkTable`].
    chunk_masks: [u32; CHUNKS],
    /// The [`ChunkTable`]s' classes, chunk after chunk ([`CHUNKS`] × [`CHUNK_VALUES`]
    /// entries): in huge pages where the classifier is large ([`Front::place`]).
    chunk_classes: Table<ClassId>,
    /// Protocol × destination port.
    protocol_dest_port: JoinTable,
    /// Whether some rule constrains the source port; if none does (most rule sets), its class
    /// is always 0 and its chunk is skipped.
    // PERF: 5 of ~190 instructions per flow on acl1_1k.
    source_port_matters: bool,
    /// High × low half of each address.
    remote: JoinTable,
    local: JoinTable,
}

/// The member rules of each class of [`Front`]'s four outputs, in the order of
/// [`Front::classes`].
type FrontClasses = [Classes; 4];

impl Front {
    /// The front's tables and the member rules of its output classes, or `None` for IPv6 (eight
    /// chunks per address) and past the budget.
    fn build<A: Key>(
        sets: &RuleFieldSets<A>,
        builder: &mut Builder,
    ) -> Option<(Front, FrontClasses)> {
        let rules = sets.len();
        if A::BITS != 32 || rules >= usize::from(ClassId::MAX) {
            return None;
        }
        let (protocol_table, protocol) = chunk(&sets.protocol)?;
        let (dest_port_table, dest_port) = chunk(&sets.dest_port)?;
        let (source_port_table, source_port) = chunk(&sets.source_port)?;
        // Protocol and destination port have few classes: join them first.
        let (protocol_dest_port, protocol_dest_port_classes) =
            builder.join(&protocol, &dest_port)?;
        let source_port_matters = !source_port.is_only(rules);
        let address = |sets: &[Vec<(A, A)>]| -> Vec<Vec<(u32, u32)>> {
            let value = |a: A| a.block(32) as u32;
            sets.iter()
                .map(|set| set.iter().map(|&(lo, hi)| (value(lo), value(hi))).collect())
                .collect()
        };
        let ([remote_high, remote_low], remote, remote_classes) =
            builder.address_field(&address(&sets.remote))?;
        let ([local_high, local_low], local, local_classes) =
            builder.address_field(&address(&sets.local))?;
        let chunks = [
            protocol_table,
            dest_port_table,
            source_port_table,
            remote_high,
            remote_low,
            local_high,
            local_low,
        ];
        let chunk_classes: Vec<ClassId> = chunks
            .iter()
            .flat_map(|chunk| chunk.classes.iter().copied())
            .collect();
        let front = Front {
            chunk_masks: chunks.each_ref().map(|chunk| chunk.mask),
            chunk_classes: chunk_classes.into(),
            protocol_dest_port,
            source_port_matters,
            remote,
            local,
        };
        let classes = [
            protocol_dest_port_classes,
            source_port,
            remote_classes,
            local_classes,
        ];
        Some((front, classes))
    }

    /// The classes of `key`'s protocol and destination port, source port (0 if no rule
    /// constrains it), remote address and local address.
    #[inline(always)]
    fn classes<A: Key>(&self, key: &FlowKey<A>) -> [u32; 4] {
        let remote = key.remote.block(32) as u32;
        let local = key.local.block(32) as u32;
        // PERF: one length check here, none per chunk (bounds checks were an eighth of a 1K
        // rule set's instructions, cachegrind).
        let tables: &[ClassId; CHUNKS * CHUNK_VALUES] = (*self.chunk_classes)
            .try_into()
            .expect("CHUNKS chunk tables");
        let chunk = |index: usize, value: u32| {
            let value = usize::from((value & self.chunk_masks[index]) as u16);
            u32::from(tables[index * CHUNK_VALUES + value])
        };
        [
            self.protocol_dest_port.class(
                chunk(PROTOCOL, key.protocol.into()),
                chunk(DEST_PORT, key.dest_port.into()),
            ),
            if self.source_port_matters {
                chunk(SOURCE_PORT, key.source_port.into())
            } else {
                0
            },
            self.remote.class(
                chunk(REMOTE_HIGH, remote >> 16),
                chunk(REMOTE_LOW, remote & 0xffff),
            ),
            self.local.class(
                chunk(LOCAL_HIGH, local >> 16),
                chunk(LOCAL_LOW, local & 0xffff),
            ),
        ]
    }

    /// Puts the chunk tables in huge pages if the classifier's tables (`classifier_bytes`)
    /// take at least one: every lookup reads seven entries of theirs at random, and on small
    /// pages they take 224 entries of the TLB.
    // PERF: with only the large tables in huge pages ipc1_10k ran 1.03× faster than on small
    // pages, with these too 1.06–1.08× (AMD EPYC, Zen 3; `docs/engine.md`).
    fn place(&mut self, classifier_bytes: usize) {
        if classifier_bytes >= HUGE_PAGE {
            self.chunk_classes = Table::new(&self.chunk_classes, Pages::Huge);
        }
    }

    fn memory_bytes(&self) -> usize {
        let joins: usize = [&self.protocol_dest_port, &self.remote, &self.local]
            .iter()
            .map(|j| j.memory_bytes())
            .sum();
        self.chunk_classes.allocated_bytes() + joins
    }
}

/// Builds the front of `sets` within `budget`, then `finish` builds the rest from it; `None`
/// for IPv6 and past the budget.
fn after_front<A: Key, T>(
    sets: &RuleFieldSets<A>,
    budget: Budget,
    finish: impl FnOnce(Front, &FrontClasses, &mut Builder) -> Option<T>,
) -> Option<T> {
    let mut builder = Builder::new(sets.len(), budget);
    let (front, classes) = Front::build(sets, &mut builder)?;
    finish(front, &classes, &mut builder)
}

/// The classifiers that start a lookup with the front's classes and finish it from them (the
/// front with vectors, the front with lists): batches run the two halves in separate steps, so
/// that a group of flows has its front loads in flight together.
pub trait FrontLookup<A: Key> {
    /// The front's half of a lookup: the classes of `key` (see `Front::classes`).
    fn classes(&self, key: &FlowKey<A>) -> [u32; 4];

    /// The rest of a lookup: the rank of the first rule matching a flow of `classes`, if any.
    fn first_match_of<K: Kernel>(&self, kernel: K, classes: [u32; 4]) -> Option<u32>;

    /// The rank of the first rule matching `key`, if any.
    #[inline(always)]
    fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        self.first_match_of(kernel, self.classes(key))
    }
}

/// Rules of one (target, direction) for IPv4, compiled into RFC tables.
#[derive(Clone, Debug)]
pub struct CrossProductClassifier<A: Key> {
    front: Front,
    joins: LastJoins,
    _key: PhantomData<A>,
}

/// The cross-product tables' joins after the front.
#[derive(Clone, Debug)]
struct LastJoins {
    /// The front's protocol and destination port × source port (unused when the source port
    /// does not matter).
    ports: JoinTable,
    order: Order,
    /// The first two of `order`.
    pair: JoinTable,
    /// The pair × the third; entries are `rank + 1`, 0 for no match.
    last: JoinTable,
}

impl LastJoins {
    /// The joins after a front with `classes`, or `None` past the budget.
    fn build(classes: &FrontClasses, builder: &mut Builder) -> Option<LastJoins> {
        let [protocol_dest_port, source_port, remote, local] = classes;
        let (ports_join, ports) = builder.join(protocol_dest_port, source_port)?;
        let (order, pair, last) = builder.last_joins([&ports, remote, local])?;
        Some(LastJoins {
            ports: ports_join,
            order,
            pair,
            last,
        })
    }

    /// Every join but the last: where in the last table the answer for the front's `classes`
    /// is. Without a source port condition (`source_port_matters` false) the ports' join maps
    /// each class to itself, and is skipped.
    // PERF: the flag is the caller's, so that the tables' lookup branches on the one flag for
    // the source port's chunk and its join (a flag of their own here: acl1_1k 110–118 against
    // 119–121 M flows/s, alternating).
    #[inline(always)]
    fn last_index(&self, classes: [u32; 4], source_port_matters: bool) -> u32 {
        let [protocol_dest_port, source_port, remote, local] = classes;
        let ports = if source_port_matters {
            self.ports.class(protocol_dest_port, source_port)
        } else {
            protocol_dest_port
        };
        let (a, b, c) = self.order.arrange(ports, remote, local);
        self.last.index(self.pair.class(a, b), c)
    }

    /// The entry of the last table at `index` (from [`Self::last_index`]): `rank + 1`, 0 for
    /// no match.
    #[inline(always)]
    fn last_entry(&self, index: u32) -> u32 {
        u32::from(self.last.classes[index as usize])
    }

    fn memory_bytes(&self) -> usize {
        [&self.ports, &self.pair, &self.last]
            .iter()
            .map(|join| join.memory_bytes())
            .sum()
    }
}

impl<A: Key> CrossProductClassifier<A> {
    /// Builds the tables, or `None` for IPv6 (eight chunks per address) and for rule sets whose
    /// tables would exceed `budget`.
    pub fn build(sets: &RuleFieldSets<A>, budget: Budget) -> Option<Self> {
        after_front(sets, budget, |front, classes, builder| {
            Some(Self::new(front, LastJoins::build(classes, builder)?))
        })
    }

    fn new(front: Front, joins: LastJoins) -> Self {
        let mut classifier = CrossProductClassifier {
            front,
            joins,
            _key: PhantomData,
        };
        classifier.front.place(classifier.memory_bytes());
        classifier
    }

    /// The rank of the first rule matching `key`, if any: seven chunk loads and six joins.
    #[inline(always)]
    pub fn first_match(&self, key: &FlowKey<A>) -> Option<u32> {
        self.last_entry(self.last_index(key)).checked_sub(1)
    }

    /// The chunk loads and every join but the last: where in the last table the flow's answer
    /// is. Batches find this for a group of flows before reading any of their answers, since
    /// the last table is the largest (megabytes, beyond L2, for some 1K-rule sets) and its
    /// reads miss the cache.
    #[inline(always)]
    pub fn last_index(&self, key: &FlowKey<A>) -> u32 {
        self.joins
            .last_index(self.front.classes(key), self.front.source_port_matters)
    }

    /// The entry of the last table at `index` (from [`Self::last_index`]).
    #[inline(always)]
    pub fn last_entry(&self, index: u32) -> u32 {
        self.joins.last_entry(index)
    }

    pub fn memory_bytes(&self) -> usize {
        self.front.memory_bytes() + self.joins.memory_bytes()
    }
}

/// Rules of one (target, direction) for IPv4: the cross-product tables' front (`Front`), then
/// the bit vectors of its four classes, for rule sets whose last tables would be too large. A
/// block is four vectors to AND instead of the bit vector's five (protocol and destination
/// port are one class), and the classes come from the front's few table loads rather than
/// searches.
// PERF (ipc1_10k, bit vector 11-12 M flows/s): 14-15 with these four vectors (4.4 MB engine),
// 12.5-13 with three (protocol and both ports one class: 3354 classes, ~8 MB engine); ~17 once
// batches found 32 flows' classes before ANDing any vectors.
#[derive(Clone, Debug)]
pub struct CrossVectorClassifier<A: Key> {
    front: Front,
    vectors: RuleVectors,
    _key: PhantomData<A>,
}

impl<A: Key> CrossVectorClassifier<A> {
    /// Builds the front and the vectors, or `None` for IPv6 and past `budget` (which counts the
    /// vectors' bytes as join entries of the same size).
    pub fn build(sets: &RuleFieldSets<A>, budget: Budget) -> Option<Self> {
        after_front(sets, budget, Self::finish)
    }

    /// The vectors after the front, or `None` if they would exceed the budget.
    fn finish(front: Front, classes: &FrontClasses, builder: &mut Builder) -> Option<Self> {
        let all: Vec<u32> = (0..builder.rules as u32).collect();
        let mut classifier = CrossVectorClassifier {
            front,
            vectors: front_vectors(classes, &all, builder)?,
            _key: PhantomData,
        };
        classifier.front.place(classifier.memory_bytes());
        Some(classifier)
    }

    pub fn memory_bytes(&self) -> usize {
        self.front.memory_bytes() + self.vectors.memory_bytes()
    }
}

impl<A: Key> FrontLookup<A> for CrossVectorClassifier<A> {
    #[inline(always)]
    fn classes(&self, key: &FlowKey<A>) -> [u32; 4] {
        self.front.classes(key)
    }

    /// The vectors' half of a lookup: the rank of the first rule in all of `classes`.
    #[inline(always)]
    fn first_match_of<K: Kernel>(&self, kernel: K, classes: [u32; 4]) -> Option<u32> {
        let [protocol_dest_port, source_port, remote, local] = classes;
        self.vectors
            .first_match_in(kernel, [protocol_dest_port, source_port, remote, local, 0])
    }
}

/// The bit vectors of the front's classes over the rules of `ranks` (ascending) alone: bit `i`
/// of a vector is rule `ranks[i]`. `None` if their bytes, counted as join entries of the same
/// size, would exceed the budget.
fn front_vectors(
    classes: &FrontClasses,
    ranks: &[u32],
    builder: &mut Builder,
) -> Option<RuleVectors> {
    let blocks = ranks.len().div_ceil(64 * BLOCK_WORDS).max(1);
    let vector_bytes: usize = classes.iter().map(|c| c.len() * blocks * 64).sum();
    builder.reserve_memory(vector_bytes / std::mem::size_of::<ClassId>())?;
    let every_rule = ranks.len() == builder.rules;
    let vectors = |classes: &Classes| {
        let sets: Vec<Vec<u64>> = (0..classes.len())
            .map(|class| {
                let members = classes.get(class);
                if every_rule {
                    return members.to_vec();
                }
                let mut set = vec![0u64; ranks.len().div_ceil(64)];
                restrict(members, ranks, &mut set);
                set
            })
            .collect();
        ClassVectors::new(&sets, blocks)
    };
    // `RuleVectors` takes five fields: the fifth holds every rule, so lookups skip it (as they
    // skip the source port when no rule constrains it).
    let [protocol_dest_port, source_port, remote, local] = classes;
    let every_one = Classes::everything(ranks.len());
    let fields = [
        vectors(protocol_dest_port),
        vectors(source_port),
        vectors(remote),
        vectors(local),
        ClassVectors::new(&[every_one.get(0)], blocks),
    ];
    Some(RuleVectors::new(ranks.len(), blocks, fields))
}

/// Rules of one (target, direction) for IPv4: the cross-product tables' front (`Front`), then
/// lists and small tables, for rule sets whose last tables would be too large.
///
/// Rules are split by the width of their addresses (*wide*: a condition of at least
/// [`WIDE_ADDRESSES`] addresses). The few wide in both have cross-product tables of their own
/// ([`WideTables`]). The others go by a join of the remote and the local class to the list, in
/// rank order, of those rules both addresses admit ([`PairLists`]); a lookup walks it until a
/// rule whose protocol and ports also match. Wide rules are what make bit vectors slow (they
/// make every class dense, so the block summaries rule little out) and the pair lists many
/// (a rule wide in one address sits in the lists of every class of that address): where the
/// lists of all rules not wide in both outgrow the budget, the pair lists hold the rules narrow
/// in both alone, and the rules wide in one address are listed by the class of the other
/// ([`SideLists`]), two more lists to walk. ipc1_10k: 122 460 lists of 5 rules on average,
/// 10.0 MB in all; split, 4 678 lists of 2 narrow rules, and side lists of 1.4 and 0.6 rules
/// per class, 6.2 MB; its 35 rules wide in both need 5 KB of tables.
// PERF: see `docs/engine.md` (ipc1_10k: the front with vectors over all rules ANDed 4.0 of
// 11.3 candidate blocks per lookup, ~37 ns of a ~46 ns lookup; with the wide rules as vectors
// beside the lists, they were ~40 % of a lookup; the side lists, ~30 % of a lookup).
#[derive(Clone, Debug)]
pub struct CrossListClassifier<A: Key> {
    front: Front,
    /// The tables of the rules wide in both addresses.
    wide: WideTables,
    /// Per entry of `wide`'s last table: the rank of the rule it names ([`NO_MATCH`] for 0).
    wide_rank: Vec<u32>,
    /// Rules wide in the remote address alone, listed by local class, where the pair lists
    /// leave them out (else empty).
    remote_wide: SideLists,
    /// Rules wide in the local address alone, listed by remote class, likewise.
    local_wide: SideLists,
    pairs: PairLists,
    /// Rules (all ranks, `words` words per class) of each protocol and destination port class,
    /// and of each source port class.
    protocol_dest_port: Vec<u64>,
    source_port: Vec<u64>,
    words: usize,
    _key: PhantomData<A>,
}

/// An address condition covering at least this many addresses (a /8) makes a rule wide for
/// [`CrossListClassifier`].
pub const WIDE_ADDRESSES: u64 = 1 << 24;

/// Where a [`CrossListClassifier`] lists its rules wide in one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sides {
    /// In the pair lists, where those fit the budget (else in side lists).
    InPairLists,
    /// In side lists: where the pair lists of all would outgrow the budget, and in tests.
    #[cfg_attr(not(test), allow(dead_code))]
    InSideLists,
}

impl<A: Key> CrossListClassifier<A> {
    /// Builds the front, the lists and the wide rules' tables, or `None` for IPv6, for rule
    /// sets whose every rule is wide in both addresses, and past `budget` (which counts the
    /// lists' entries and bytes as join entries).
    pub fn build(sets: &RuleFieldSets<A>, budget: Budget) -> Option<Self> {
        Self::build_with(sets, budget, Sides::InPairLists)
    }

    fn build_with(sets: &RuleFieldSets<A>, budget: Budget, sides: Sides) -> Option<Self> {
        after_front(sets, budget, |front, classes, builder| {
            Self::finish(front, classes, sets, builder, sides)
        })
    }

    /// The classifier on the front's tables; `sides` says where the rules wide in one address
    /// go first.
    fn finish(
        front: Front,
        classes: &FrontClasses,
        sets: &RuleFieldSets<A>,
        builder: &mut Builder,
        sides: Sides,
    ) -> Option<Self> {
        let rules = builder.rules;
        let covered = |set: &[(A, A)]| -> u64 {
            let value = |a: A| u64::from(a.block(32) as u32);
            set.iter().map(|&(lo, hi)| value(hi) - value(lo) + 1).sum()
        };
        let wide = |set: &[(A, A)]| covered(set) >= WIDE_ADDRESSES;
        let (mut wide_ranks, mut remote_wide, mut local_wide) =
            (Vec::new(), Vec::new(), Vec::new());
        // Sets of all rules: those narrow in both, and those not wide in both.
        let (mut narrow, mut not_wide_in_both) =
            (vec![0u64; builder.words], vec![0u64; builder.words]);
        let add = |set: &mut [u64], rule: usize| set[rule / 64] |= 1 << (rule % 64);
        for rule in 0..rules {
            let width = (wide(&sets.remote[rule]), wide(&sets.local[rule]));
            if width != (true, true) {
                add(&mut not_wide_in_both, rule);
            }
            match width {
                (true, true) => wide_ranks.push(rule as u32),
                (true, false) => remote_wide.push(rule as u32),
                (false, true) => local_wide.push(rule as u32),
                (false, false) => add(&mut narrow, rule),
            }
        }
        if wide_ranks.len() == rules {
            return None;
        }
        let [protocol_dest_port, source_port, remote, local] = classes;

        // Every rule not wide in both in the pair lists, where they fit; each try starts from
        // the same budget (so a set may take the work of both).
        let mut whole = builder.clone();
        let all_in_pairs = match sides {
            Sides::InPairLists => PairLists::build(remote, local, &not_wide_in_both, &mut whole),
            Sides::InSideLists => None,
        };
        let (pairs, remote_wide, local_wide) = match all_in_pairs {
            Some(pairs) => {
                *builder = whole;
                (pairs, SideLists::empty(), SideLists::empty())
            }
            None => (
                PairLists::build(remote, local, &narrow, builder)?,
                SideLists::build(local, remote, &remote_wide, builder)?,
                SideLists::build(remote, local, &local_wide, builder)?,
            ),
        };
        let wide = WideTables::build(classes, &wide_ranks, builder)?;
        let wide_rank = std::iter::once(NO_MATCH).chain(wide_ranks).collect();
        let mut classifier = CrossListClassifier {
            front,
            wide,
            wide_rank,
            remote_wide,
            local_wide,
            pairs,
            protocol_dest_port: protocol_dest_port.bits.clone(),
            source_port: source_port.bits.clone(),
            words: builder.words,
            _key: PhantomData,
        };
        classifier.front.place(classifier.memory_bytes());
        Some(classifier)
    }

    pub fn memory_bytes(&self) -> usize {
        let words = self.protocol_dest_port.len() + self.source_port.len();
        self.front.memory_bytes()
            + self.wide.memory_bytes()
            + self.wide_rank.len() * 4
            + self.remote_wide.memory_bytes()
            + self.local_wide.memory_bytes()
            + self.pairs.memory_bytes()
            + words * 8
    }
}

impl<A: Key> FrontLookup<A> for CrossListClassifier<A> {
    /// The front's classes of `key`; the load of the flow's list id is started, so that a batch
    /// has it in flight with other flows'.
    #[inline(always)]
    fn classes(&self, key: &FlowKey<A>) -> [u32; 4] {
        let classes = self.front.classes(key);
        let [_, _, remote, local] = classes;
        self.pairs.prefetch_id(remote, local);
        classes
    }

    /// The rest of a lookup: the first rule wide in both addresses (the tables), then in each
    /// list of `classes` the first rule before it that the ports and the other address admit.
    #[inline(always)]
    fn first_match_of<K: Kernel>(&self, _kernel: K, classes: [u32; 4]) -> Option<u32> {
        let [protocol_dest_port, source_port, remote, local] = classes;
        let has = |sets: &[u64], class: u32, rule: u32| {
            has_bit(&sets[class as usize * self.words..], rule as usize)
        };
        let ports_match = |rule: u32| {
            has(&self.protocol_dest_port, protocol_dest_port, rule)
                && (!self.front.source_port_matters || has(&self.source_port, source_port, rule))
        };
        // The tables first: they take no branch, and their answer cuts the lists' walks short.
        let limit = self.wide_rank[self.wide.entry(classes) as usize];
        let listed = self
            .pairs
            .list(remote, local)
            .iter()
            .map(|&rule| rule.into());
        let limit = first_admitted(listed, limit, ports_match);
        let limit = self
            .remote_wide
            .first_match(local, remote, limit, ports_match);
        let limit = self
            .local_wide
            .first_match(remote, local, limit, ports_match);
        (limit != NO_MATCH).then_some(limit)
    }
}

/// A rank past every rule's.
const NO_MATCH: u32 = u32::MAX;

/// The rank in an entry of a list walked by [`first_admitted`] (the bits above are the
/// list's own).
const RANK_BITS: u32 = 0xffff;

/// The rank of the first of `entries` (ranks ascending, see [`RANK_BITS`]) that `admits`, if
/// it is below `limit`; else `limit`.
#[inline(always)]
fn first_admitted(
    entries: impl Iterator<Item = u32>,
    limit: u32,
    admits: impl Fn(u32) -> bool,
) -> u32 {
    entries
        .take_while(|&entry| entry & RANK_BITS < limit)
        .find(|&entry| admits(entry))
        .map_or(limit, |entry| entry & RANK_BITS)
}

/// Whether bit `bit` of `words` is set.
#[inline(always)]
fn has_bit(words: &[u64], bit: usize) -> bool {
    words[bit / 64] >> (bit % 64) & 1 != 0
}

/// Per remote × local class pair, the list (ranks, ascending) of the rules of a set that both
/// classes admit; pairs with the same rules share one list.
#[derive(Clone, Debug)]
struct PairLists {
    local_classes: usize,
    /// Remote × local class: the id of its list.
    ids: PairIds,
    /// List `id` is `rules[starts[id]..starts[id + 1]]`.
    starts: Table<u32>,
    rules: Table<ClassId>,
}

impl PairLists {
    /// The lists of the rules of `listed` (a set of all rules) in each pair of a `remote` and
    /// a `local` class; `None` past the budget.
    fn build(
        remote: &Classes,
        local: &Classes,
        listed: &[u64],
        builder: &mut Builder,
    ) -> Option<PairLists> {
        let pairs = builder.reserve(remote.len() * local.len(), builder.words)?;
        let mut ids = Vec::with_capacity(pairs);
        let (mut starts, mut rules) = (vec![0u32], Vec::new());
        let mut interned: FxHashMap<Box<[ClassId]>, u32> = FxHashMap::default();
        let (mut remote_listed, mut both) = (vec![0u64; builder.words], vec![0u64; builder.words]);
        let mut list = Vec::new();
        for r in 0..remote.len() {
            intersect(&mut remote_listed, remote.get(r), listed);
            for l in 0..local.len() {
                intersect(&mut both, &remote_listed, local.get(l));
                list.clear();
                // Ranks fit: the front takes fewer than `ClassId::MAX` rules.
                for_each_bit(&both, |rule| list.push(rule as ClassId));
                let id = match interned.get(list.as_slice()) {
                    Some(&id) => id,
                    None => {
                        builder.reserve_memory(list.len() + 2)?;
                        let id = u32::try_from(interned.len()).ok()?;
                        rules.extend_from_slice(&list);
                        starts.push(u32::try_from(rules.len()).ok()?);
                        interned.insert(list.as_slice().into(), id);
                        id
                    }
                };
                ids.push(id);
            }
        }
        let ids = if interned.len() <= usize::from(ClassId::MAX) + 1 {
            let narrow: Vec<ClassId> = ids.into_iter().map(|id| id as ClassId).collect();
            PairIds::Narrow(narrow.into())
        } else {
            // The second half of each id.
            builder.reserve_memory(pairs)?;
            PairIds::Wide(ids.into())
        };
        Some(PairLists {
            local_classes: local.len(),
            ids,
            starts: starts.into(),
            rules: rules.into(),
        })
    }

    #[inline(always)]
    fn index(&self, remote: u32, local: u32) -> usize {
        remote as usize * self.local_classes + local as usize
    }

    /// Starts loading the list id of the pair of `remote` and `local`.
    #[inline(always)]
    fn prefetch_id(&self, remote: u32, local: u32) {
        self.ids.prefetch(self.index(remote, local));
    }

    /// The list of the pair of `remote` and `local`.
    #[inline(always)]
    fn list(&self, remote: u32, local: u32) -> &[ClassId] {
        let id = self.ids.id(self.index(remote, local));
        &self.rules[self.starts[id] as usize..self.starts[id + 1] as usize]
    }

    fn memory_bytes(&self) -> usize {
        self.ids.allocated_bytes() + self.starts.allocated_bytes() + self.rules.allocated_bytes()
    }
}

/// The list ids of [`PairLists`]: 16-bit where the lists are few enough, as the table is a
/// lookup's largest (ipc1_10k's rules not wide in both make 122 460 lists).
#[derive(Clone, Debug)]
enum PairIds {
    Narrow(Table<ClassId>),
    Wide(Table<u32>),
}

impl PairIds {
    #[inline(always)]
    fn id(&self, index: usize) -> usize {
        match self {
            PairIds::Narrow(ids) => usize::from(ids[index]),
            PairIds::Wide(ids) => ids[index] as usize,
        }
    }

    /// Starts loading the id at `index`.
    #[inline(always)]
    fn prefetch(&self, index: usize) {
        match self {
            PairIds::Narrow(ids) => ids.get(index).into_iter().for_each(prefetch),
            PairIds::Wide(ids) => ids.get(index).into_iter().for_each(prefetch),
        }
    }

    fn allocated_bytes(&self) -> usize {
        match self {
            PairIds::Narrow(ids) => ids.allocated_bytes(),
            PairIds::Wide(ids) => ids.allocated_bytes(),
        }
    }
}

/// Rules of a [`CrossListClassifier`] wide in one address and narrow in the other, listed by
/// the class of the narrow one (the *key*): a rule narrow in an address sits in the lists of
/// few of its classes. A lookup walks the list of the flow's key class, in rank order, to the
/// first rule that its other address (a bit per class and rule) and its ports admit.
#[derive(Clone, Debug)]
struct SideLists {
    /// Key class `c` lists `entries[starts[c]..starts[c + 1]]`.
    starts: Vec<u32>,
    /// Per rule listed: its rank ([`RANK_BITS`]) and, above, its index among these rules.
    entries: Vec<u32>,
    /// Per class of the other address: which of these rules it admits, `words` words each.
    other: Vec<u64>,
    words: usize,
}

impl SideLists {
    /// Lists of the rules of `ranks` (ascending) by class of `key`, with their bits in each
    /// class of `other`; `None` past the budget.
    fn build(key: &Classes, other: &Classes, ranks: &[u32], builder: &mut Builder) -> Option<Self> {
        let words = ranks.len().div_ceil(64).max(1);
        let (mut starts, mut entries) = (vec![0u32], Vec::new());
        let mut listed = vec![0u64; words];
        for class in 0..key.len() {
            restrict(key.get(class), ranks, &mut listed);
            for_each_bit(&listed, |index| {
                entries.push(ranks[index] | (index as u32) << 16)
            });
            starts.push(u32::try_from(entries.len()).ok()?);
        }
        let mut bits = vec![0u64; other.len() * words];
        for (class, out) in bits.chunks_exact_mut(words).enumerate() {
            restrict(other.get(class), ranks, out);
        }
        let lists = SideLists {
            starts,
            entries,
            other: bits,
            words,
        };
        builder.reserve_memory(lists.memory_bytes() / std::mem::size_of::<ClassId>())?;
        Some(lists)
    }

    /// No rules: the pair lists hold them.
    fn empty() -> Self {
        SideLists {
            starts: Vec::new(),
            entries: Vec::new(),
            other: Vec::new(),
            words: 0,
        }
    }

    /// The rank of the first rule in the list of `key` that `other` and `ports_match` admit,
    /// if it ranks before `limit`; else `limit`.
    #[inline(always)]
    fn first_match(
        &self,
        key: u32,
        other: u32,
        limit: u32,
        ports_match: impl Fn(u32) -> bool,
    ) -> u32 {
        if self.entries.is_empty() {
            return limit;
        }
        let (start, end) = (self.starts[key as usize], self.starts[key as usize + 1]);
        let row = &self.other[other as usize * self.words..][..self.words];
        let entries = self.entries[start as usize..end as usize].iter().copied();
        first_admitted(entries, limit, |entry| {
            has_bit(row, (entry >> 16) as usize) && ports_match(entry & RANK_BITS)
        })
    }

    fn memory_bytes(&self) -> usize {
        (self.starts.len() + self.entries.len()) * 4 + self.other.len() * 8
    }
}

/// The last joins of the cross-product tables over the rules of a [`CrossListClassifier`]
/// wide in both addresses alone: each of the front's classes is first mapped to the class of
/// those rules it holds. Wide addresses have few boundaries, so these classes are few and the
/// tables small where those over all rules overflow.
// PERF: the tables of all of ipc1_10k's 1 884 rules wide in some address overflow 16-bit class
// ids; those of the 35 wide in both take 5 KB.
#[derive(Clone, Debug)]
struct WideTables {
    /// Per output of the front (see `Front::classes`): the wide class of each front class.
    projections: [Vec<ClassId>; 4],
    /// Whether some wide rule constrains the source port.
    source_port_matters: bool,
    joins: LastJoins,
}

impl WideTables {
    /// The tables of the rules of `ranks` (ascending), or `None` past the budget.
    fn build(classes: &FrontClasses, ranks: &[u32], builder: &mut Builder) -> Option<WideTables> {
        let mut wide = Builder {
            rules: ranks.len(),
            words: ranks.len().div_ceil(64).max(1),
            ..builder.clone()
        };
        let mut projected_classes: [Classes; 4] = std::array::from_fn(|_| Classes::new(wide.words));
        let mut projections: [Vec<ClassId>; 4] = Default::default();
        let mut set = vec![0u64; wide.words];
        for ((front, projected), projection) in classes
            .iter()
            .zip(&mut projected_classes)
            .zip(&mut projections)
        {
            for class in 0..front.len() {
                restrict(front.get(class), ranks, &mut set);
                projection.push(projected.intern(&set)?);
            }
        }
        let joins = LastJoins::build(&projected_classes, &mut wide)?;
        wide.reserve_memory(projections.iter().map(Vec::len).sum())?;
        (builder.join_entries, builder.word_ops) = (wide.join_entries, wide.word_ops);
        Some(WideTables {
            projections,
            source_port_matters: !projected_classes[1].is_only(ranks.len()),
            joins,
        })
    }

    /// The entry of the last table for the front's `classes`: 1 + the index (among the rules of
    /// these tables, in rank order) of the first rule in all of them, 0 if none.
    #[inline(always)]
    fn entry(&self, classes: [u32; 4]) -> u32 {
        let project = |field: usize| u32::from(self.projections[field][classes[field] as usize]);
        // The source port's class is not read where no wide rule constrains it.
        let source_port = if self.source_port_matters {
            project(1)
        } else {
            0
        };
        let projected = [project(0), source_port, project(2), project(3)];
        let index = self.joins.last_index(projected, self.source_port_matters);
        self.joins.last_entry(index)
    }

    fn memory_bytes(&self) -> usize {
        let projections: usize = self.projections.iter().map(Vec::len).sum();
        projections * std::mem::size_of::<ClassId>() + self.joins.memory_bytes()
    }
}

/// `out`: the members of `members` (a set of all rules) among `ranks`, bit `i` for rule
/// `ranks[i]`.
fn restrict(members: &[u64], ranks: &[u32], out: &mut [u64]) {
    out.fill(0);
    for (index, &rule) in ranks.iter().enumerate() {
        if has_bit(members, rule as usize) {
            out[index / 64] |= 1 << (index % 64);
        }
    }
}

/// What [`build_fastest`] built.
pub enum Built<A: Key> {
    Product(CrossProductClassifier<A>),
    Vectors(CrossVectorClassifier<A>),
    Lists(Box<CrossListClassifier<A>>),
}

/// The cross-product tables where they fit `budget`, else the front with bit vectors and the
/// front with lists where those fit: the tables are the faster where they fit (acl1_10k: ~44
/// against ~17 M flows/s), and the front is built once for all.
pub fn build_fastest<A: Key>(sets: &RuleFieldSets<A>, budget: Budget) -> Vec<Built<A>> {
    let mut builder = Builder::new(sets.len(), budget);
    let Some((front, classes)) = Front::build(sets, &mut builder) else {
        return Vec::new();
    };
    let after_front = builder.clone();
    if let Some(joins) = LastJoins::build(&classes, &mut builder) {
        return vec![Built::Product(CrossProductClassifier::new(front, joins))];
    }
    // The joins built are dropped, and each alternative starts from the front's budget: a
    // build may take the work of the front, of the joins that did not fit and of the lists.
    // PERF: ipc1_10k spends ~470 M of the 600 M words on joins that overflow, and its lists
    // need ~170 M more.
    let lists = CrossListClassifier::finish(
        front.clone(),
        &classes,
        sets,
        &mut after_front.clone(),
        Sides::InPairLists,
    )
    .map(|lists| Built::Lists(Box::new(lists)));
    let vectors = CrossVectorClassifier::finish(front, &classes, &mut after_front.clone());
    vectors
        .map(Built::Vectors)
        .into_iter()
        .chain(lists)
        .collect()
}

/// Distinct sets of `words` 64-bit words, numbered in order of first sight.
struct Classes {
    words: usize,
    bits: Vec<u64>,
    ids: FxHashMap<Vec<u64>, ClassId>,
}

impl Classes {
    fn new(words: usize) -> Classes {
        Classes {
            words,
            bits: Vec::new(),
            ids: FxHashMap::default(),
        }
    }

    /// One class holding all of `members`.
    fn everything(members: usize) -> Classes {
        let mut classes = Classes::new(members.div_ceil(64).max(1));
        let mut set = vec![0u64; classes.words];
        for member in 0..members {
            set[member / 64] |= 1 << (member % 64);
        }
        classes.intern(&set);
        classes
    }

    fn len(&self) -> usize {
        self.bits.len() / self.words
    }

    fn get(&self, class: usize) -> &[u64] {
        &self.bits[class * self.words..(class + 1) * self.words]
    }

    /// Whether the only class holds all of `members` (a field no rule constrains).
    fn is_only(&self, members: usize) -> bool {
        let count = |set: &[u64]| set.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        self.len() == 1 && count(self.get(0)) == members
    }

    /// The id of `set`, numbering it if new; `None` past [`ClassId::MAX`] classes.
    fn intern(&mut self, set: &[u64]) -> Option<ClassId> {
        if let Some(&id) = self.ids.get(set) {
            return Some(id);
        }
        let id = ClassId::try_from(self.len()).ok()?;
        self.ids.insert(set.to_vec(), id);
        self.bits.extend_from_slice(set);
        Some(id)
    }
}

#[derive(Clone, Debug)]
struct Builder {
    rules: usize,
    /// Words of a set of rules.
    words: usize,
    join_entries: usize,
    word_ops: usize,
    budget: Budget,
}

impl Builder {
    fn new(rules: usize, budget: Budget) -> Builder {
        Builder {
            rules,
            words: rules.div_ceil(64).max(1),
            join_entries: 0,
            word_ops: 0,
            budget,
        }
    }

    /// An address field: its two halves classify boxes (see the module note), and a join maps
    /// the boxes both halves admit to their rules.
    fn address_field(
        &mut self,
        sets: &[Vec<(u32, u32)>],
    ) -> Option<([ChunkTable; 2], JoinTable, Classes)> {
        // Per box: the rule it belongs to, and its one range in each half.
        let mut owners: Vec<u32> = Vec::new();
        let (mut high_ranges, mut low_ranges): (Vec<[(u16, u16); 1]>, Vec<_>) =
            (Vec::new(), Vec::new());
        for (rule, set) in sets.iter().enumerate() {
            for &(lo, hi) in set {
                for (high, low) in boxes(lo, hi) {
                    owners.push(rule as u32);
                    high_ranges.push([high]);
                    low_ranges.push([low]);
                }
            }
        }
        let (high_table, high) = chunk(&high_ranges)?;
        let (low_table, low) = chunk(&low_ranges)?;
        let entries = self.reserve(high.len() * low.len(), high.words)?;
        let mut table = Vec::with_capacity(entries);
        let mut classes = Classes::new(self.words);
        let mut both = vec![0u64; high.words];
        let mut rules = vec![0u64; self.words];
        for h in 0..high.len() {
            for l in 0..low.len() {
                intersect(&mut both, high.get(h), low.get(l));
                rules.fill(0);
                for_each_bit(&both, |atom| {
                    let rule = owners[atom] as usize;
                    rules[rule / 64] |= 1 << (rule % 64);
                });
                table.push(classes.intern(&rules)?);
            }
        }
        let join = JoinTable {
            right_classes: low.len() as u32,
            classes: table.into(),
        };
        Some(([high_table, low_table], join, classes))
    }

    /// Whether a join of `entries` over sets of `words` words would stay within the budget.
    fn affords(&self, entries: usize, words: usize) -> bool {
        self.join_entries + entries <= self.budget.max_join_entries
            && self.word_ops + entries * words <= self.budget.max_word_ops
    }

    /// Counts a join of `entries` over sets of `words` words against the budget.
    fn reserve(&mut self, entries: usize, words: usize) -> Option<usize> {
        let affordable = self.affords(entries, words);
        self.join_entries += entries;
        self.word_ops += entries * words;
        affordable.then_some(entries)
    }

    /// Counts `entries` of memory that take no ANDs to fill (they may still fit when the build
    /// time is spent: the vectors after a cross-product attempt that ran out of it).
    fn reserve_memory(&mut self, entries: usize) -> Option<()> {
        self.join_entries += entries;
        (self.join_entries <= self.budget.max_join_entries).then_some(())
    }

    /// The intersections of every class of `left` with every class of `right`.
    fn join(&mut self, left: &Classes, right: &Classes) -> Option<(JoinTable, Classes)> {
        let entries = self.reserve(left.len() * right.len(), self.words)?;
        let mut table = Vec::with_capacity(entries);
        let mut classes = Classes::new(self.words);
        let mut both = vec![0u64; self.words];
        for l in 0..left.len() {
            for r in 0..right.len() {
                intersect(&mut both, left.get(l), right.get(r));
                table.push(classes.intern(&both)?);
            }
        }
        let join = JoinTable {
            right_classes: right.len() as u32,
            classes: table.into(),
        };
        Some((join, classes))
    }

    /// The last two joins of (ports, remote, local): the pair to join first is the one whose
    /// join plus the final table is smallest (each pair is tried).
    fn last_joins(&mut self, nodes: [&Classes; 3]) -> Option<(Order, JoinTable, JoinTable)> {
        let mut best: Option<(Order, usize, JoinTable, Classes)> = None;
        for (order, [a, b, c]) in [
            (Order::PortsRemote, [0, 1, 2]),
            (Order::PortsLocal, [0, 2, 1]),
            (Order::RemoteLocal, [1, 2, 0]),
        ] {
            let entries = nodes[a].len() * nodes[b].len();
            if !self.affords(entries, self.words) {
                continue;
            }
            // A pair with too many classes for 16-bit ids is no candidate; another may do. Only
            // the kept pair's table stays (its entries are counted again below); the time spent
            // on the others does not come back.
            let joined = self.join(nodes[a], nodes[b]);
            self.join_entries -= entries;
            let Some((pair, classes)) = joined else {
                continue;
            };
            let cost = entries + classes.len() * nodes[c].len();
            if best
                .as_ref()
                .is_none_or(|(_, best_cost, _, _)| cost < *best_cost)
            {
                best = Some((order, cost, pair, classes));
            }
        }
        let (order, _, pair, pair_classes) = best?;
        self.reserve(pair.classes.len(), 0)?;
        let third = match order {
            Order::PortsRemote => nodes[2],
            Order::PortsLocal => nodes[1],
            Order::RemoteLocal => nodes[0],
        };
        let last = self.first_rules(&pair_classes, third)?;
        Some((order, pair, last))
    }

    /// The last join: per pair of classes, the first rule of their intersection (`rank + 1`).
    fn first_rules(&mut self, left: &Classes, right: &Classes) -> Option<JoinTable> {
        let entries = self.reserve(left.len() * right.len(), self.words)?;
        let mut table = Vec::with_capacity(entries);
        for l in 0..left.len() {
            let a = left.get(l);
            for r in 0..right.len() {
                let b = right.get(r);
                let first = a
                    .iter()
                    .zip(b)
                    .enumerate()
                    .find(|(_, (a, b))| *a & *b != 0)
                    .map_or(0, |(word, (a, b))| {
                        word as u32 * 64 + (a & b).trailing_zeros() + 1
                    });
                table.push(first as ClassId);
            }
        }
        Some(JoinTable {
            right_classes: right.len() as u32,
            classes: table.into(),
        })
    }
}

/// `out = a & b`, word by word.
fn intersect(out: &mut [u64], a: &[u64], b: &[u64]) {
    for ((out, a), b) in out.iter_mut().zip(a).zip(b) {
        *out = a & b;
    }
}

/// Calls `f` with the index of every set bit.
fn for_each_bit(words: &[u64], mut f: impl FnMut(usize)) {
    for (index, &word) in words.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            f(index * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}

/// A chunk's table (the class of each of its values) and its classes' member sets, from each
/// member's intervals in the chunk (members are rules, or an address's boxes); `None` past
/// [`ClassId::MAX`] classes.
fn chunk<K: Key, S: AsRef<[(K, K)]>>(sets: &[S]) -> Option<(ChunkTable, Classes)> {
    let words = sets.len().div_ceil(64).max(1);
    let (starts, interval_classes, vectors) = field_classes(sets, words);
    let mut classes = Classes::new(words);
    for vector in &vectors {
        classes.intern(vector)?;
    }
    let table: Vec<ClassId> = direct_table(&starts, &interval_classes)
        .into_iter()
        .map(|class| class as ClassId)
        .collect();
    Some((ChunkTable::new(&table, classes.len()), classes))
}

/// An inclusive interval of 32-bit values as at most three boxes `(high range, low range)` of
/// 16-bit halves: the partial first high block, the whole ones, the partial last.
fn boxes(lo: u32, hi: u32) -> Vec<((u16, u16), (u16, u16))> {
    let (h1, l1, h2, l2) = ((lo >> 16) as u16, lo as u16, (hi >> 16) as u16, hi as u16);
    if h1 == h2 {
        return vec![((h1, h1), (l1, l2))];
    }
    let mut out = Vec::with_capacity(3);
    let first_whole = if l1 == 0 {
        h1
    } else {
        out.push(((h1, h1), (l1, 0xffff)));
        h1 + 1
    };
    let last_whole = if l2 == 0xffff {
        h2
    } else {
        out.push(((h2, h2), (0, l2)));
        h2 - 1
    };
    if first_whole <= last_whole {
        out.push(((first_whole, last_whole), (0, 0xffff)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Random IPv4 rules with every shape the tables must handle: sets of several CIDRs
    /// (nested and not, some across 16-bit boundaries), port ranges and lists, protocols, empty
    /// sets, and wildcards.
    fn random_sets(rng: &mut Rng, rules: usize) -> RuleFieldSets<u32> {
        let mut sets = RuleFieldSets::default();
        let cidr = |rng: &mut Rng| -> (u32, u32) {
            let len = [0, 8, 12, 16, 20, 24, 28, 32][rng.below(8) as usize];
            let base = (rng.below(4) as u32) << 30 | (rng.next_u64() as u32 & 0x00ff_ffff);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (base & mask, (base & mask) | !mask)
        };
        let ports = |rng: &mut Rng| -> (u16, u16) {
            let lo = [0, 22, 80, 443, 1024, 8000][rng.below(6) as usize];
            (lo, lo.saturating_add(rng.below(3) as u16 * 1000))
        };
        for _ in 0..rules {
            let count = |rng: &mut Rng| rng.below(3) as usize + usize::from(rng.below(10) == 0);
            sets.protocol.push(match rng.below(4) {
                0 => vec![(0, 255)],
                _ => vec![[6, 17, 1][rng.below(3) as usize]; 2]
                    .into_iter()
                    .map(|p| (p, p))
                    .collect(),
            });
            sets.dest_port
                .push((0..count(rng)).map(|_| ports(rng)).collect());
            sets.source_port.push(vec![(0, u16::MAX)]);
            sets.remote
                .push((0..count(rng)).map(|_| cidr(rng)).collect());
            sets.local.push(if rng.below(2) == 0 {
                vec![(0, u32::MAX)]
            } else {
                vec![cidr(rng)]
            });
        }
        sets
    }

    /// The tables give the first matching rule of a linear scan, on flows near every rule's
    /// edges and at random.
    #[test]
    fn tables_equal_a_linear_scan() {
        let mut rng = Rng::new(99);
        for round in 0..20 {
            let rules = [0, 1, 5, 40, 300][round % 5];
            let sets = random_sets(&mut rng, rules);
            let tables = CrossProductClassifier::build(&sets, Budget::default())
                .expect("small sets fit the budget");
            let keys = keys_near_rules(&mut rng, &sets);
            let expected = linear_scan(&sets, &keys);
            for (key, want) in keys.iter().zip(&expected) {
                assert_eq!(tables.first_match(key), *want, "{rules} rules, {key:?}");
            }
            // In two steps, as batches run them.
            let places: Vec<u32> = keys.iter().map(|k| tables.last_index(k)).collect();
            for (&place, want) in places.iter().zip(&expected) {
                let rank = tables.last_entry(place).checked_sub(1);
                assert_eq!(rank, *want, "{rules} rules, in two steps");
            }
        }
    }

    /// `classifier` finds the first rule of `sets` that a linear scan finds, for every key,
    /// with the portable kernel and with AVX-512 and AVX2 where the CPU has them.
    fn assert_equals_linear_scan(
        classifier: &impl FrontLookup<u32>,
        sets: &RuleFieldSets<u32>,
        keys: &[FlowKey<u32>],
    ) {
        let rules = sets.len();
        let avx512 = super::super::kernel::Avx512::detect();
        let avx2 = super::super::kernel::Avx2::detect();
        for (key, want) in keys.iter().zip(linear_scan(sets, keys)) {
            let portable = classifier.first_match(super::super::kernel::Portable, key);
            assert_eq!(portable, want, "{rules} rules, {key:?}");
            if let Some(avx512) = avx512 {
                assert_eq!(classifier.first_match(avx512, key), want, "{rules} rules");
            }
            if let Some(avx2) = avx2 {
                assert_eq!(classifier.first_match(avx2, key), want, "{rules} rules");
            }
        }
    }

    /// The front with bit vectors finds the first matching rule, with both kernels, across
    /// several blocks and with the blocks' summaries (over 2048 rules).
    #[test]
    fn front_and_vectors_equal_a_linear_scan() {
        let mut rng = Rng::new(98);
        for rules in [0, 1, 40, 700, 2600] {
            let sets = random_sets(&mut rng, rules);
            let classifier = CrossVectorClassifier::build(&sets, Budget::default())
                .expect("the sets fit the budget");
            let keys = keys_near_rules(&mut rng, &sets);
            assert_equals_linear_scan(&classifier, &sets, &keys);
        }
    }

    /// The front with the wide rules' tables and the other rules' lists finds the first
    /// matching rule, with both kernels: with few and many wide rules, the rules wide in one
    /// address in the pair lists or in side lists, and with constrained source ports.
    #[test]
    fn front_with_lists_equals_a_linear_scan() {
        let mut rng = Rng::new(97);
        let mut placements = Vec::new();
        for (rules, sides) in [1, 2, 40, 700, 5000]
            .into_iter()
            .flat_map(|rules| [(rules, Sides::InPairLists), (rules, Sides::InSideLists)])
        {
            let mut sets = random_sets(&mut rng, rules);
            if rules == 700 {
                for source_port in sets.source_port.iter_mut().step_by(3) {
                    *source_port = vec![(0, 32767)];
                }
            }
            let covered = |set: &[(u32, u32)]| -> u64 {
                set.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum()
            };
            let wide = |set: &[(u32, u32)]| covered(set) >= WIDE_ADDRESSES;
            let kinds: Vec<(bool, bool)> = (0..rules)
                .map(|r| (wide(&sets.remote[r]), wide(&sets.local[r])))
                .collect();
            let count = |kind: (bool, bool)| kinds.iter().filter(|&&k| k == kind).count();
            let Some(classifier) = CrossListClassifier::build_with(&sets, Budget::default(), sides)
            else {
                assert_eq!(
                    count((true, true)),
                    rules,
                    "built unless every rule is wide ({sides:?})"
                );
                continue;
            };
            assert_eq!(classifier.wide_rank.len(), 1 + count((true, true)));
            let listed = |lists: &SideLists| lists.entries.len();
            if rules >= 700 {
                // Every kind of rule is there, and each side's lists hold some, unless the
                // pair lists hold them.
                assert!(count((false, false)) > 0 && count((true, true)) > 0);
                assert!(count((true, false)) > 0 && count((false, true)) > 0);
                if sides == Sides::InSideLists {
                    assert!(listed(&classifier.remote_wide) >= count((true, false)));
                    assert!(listed(&classifier.local_wide) >= count((false, true)));
                }
            }
            if sides == Sides::InPairLists && rules <= 700 {
                // These fit the budget with every rule in the pair lists.
                assert_eq!(listed(&classifier.remote_wide), 0);
                assert_eq!(listed(&classifier.local_wide), 0);
            }
            let mut keys = keys_near_rules(&mut rng, &sets);
            // And flows inside each rule's addresses and first port, any source port.
            for rule in 0..rules {
                let (Some(&(protocol, _)), Some(&(dest_port, _))) =
                    (sets.protocol[rule].first(), sets.dest_port[rule].first())
                else {
                    continue;
                };
                let (Some(&(remote, _)), Some(&(local, _))) =
                    (sets.remote[rule].first(), sets.local[rule].first())
                else {
                    continue;
                };
                let source_port = rng.next_u64() as u16;
                keys.push(FlowKey {
                    protocol,
                    dest_port,
                    source_port,
                    remote,
                    local,
                });
            }
            assert_equals_linear_scan(&classifier, &sets, &keys);
            placements.push(classifier.front.chunk_classes.in_huge_pages());
            // The chunk tables are in huge pages where the classifier takes at least one.
            let chunk_bytes = CHUNKS * CHUNK_VALUES * std::mem::size_of::<ClassId>();
            let on_small_pages = classifier.memory_bytes()
                - classifier.front.chunk_classes.allocated_bytes()
                + chunk_bytes;
            assert_eq!(
                classifier.front.chunk_classes.in_huge_pages(),
                on_small_pages >= HUGE_PAGE,
                "{rules} rules, {on_small_pages} bytes"
            );
        }
        // Both placements were checked against the scan.
        assert!(placements.contains(&true) && placements.contains(&false));
    }

    /// As the budget shrinks, the rules wide in one address leave the pair lists for side lists,
    /// then the build is refused; whatever is built finds the first matching rule.
    #[test]
    fn lists_leave_the_pairs_for_side_lists_as_the_budget_shrinks() {
        let mut rng = Rng::new(96);
        let sets = random_sets(&mut rng, 700);
        let keys = keys_near_rules(&mut rng, &sets);
        let mut seen = Vec::new();
        let mut max_join_entries = Budget::default().max_join_entries;
        loop {
            let budget = Budget {
                max_join_entries,
                ..Budget::default()
            };
            let Some(classifier) = CrossListClassifier::build(&sets, budget) else {
                break;
            };
            let in_side_lists = !classifier.remote_wide.entries.is_empty();
            if seen.last() != Some(&in_side_lists) {
                assert_equals_linear_scan(&classifier, &sets, &keys);
                seen.push(in_side_lists);
            }
            max_join_entries = max_join_entries * 9 / 10;
        }
        assert_eq!(
            seen,
            [false, true],
            "all in the pair lists, then side lists, then none"
        );
    }

    /// Where the last tables do not fit the budget but the vectors do, the fastest build is
    /// the front with vectors; where they fit, the tables.
    #[test]
    fn fastest_build_falls_back_to_vectors() {
        let sets = random_sets(&mut Rng::new(6), 300);
        assert!(matches!(
            build_fastest(&sets, Budget::default()).as_slice(),
            [Built::Product(_)]
        ));
        // Room for the front and the vectors (one block per class), not for the last joins.
        let mut builder = Builder::new(sets.len(), Budget::default());
        let (_, classes) = Front::build(&sets, &mut builder).expect("fits");
        let vector_entries: usize = classes.iter().map(|c| c.len() * 64 / 2).sum();
        let no_room_for_joins = Budget {
            max_join_entries: builder.join_entries + vector_entries,
            ..Budget::default()
        };
        assert!(CrossProductClassifier::build(&sets, no_room_for_joins).is_none());
        assert!(matches!(
            build_fastest(&sets, no_room_for_joins).first(),
            Some(Built::Vectors(_))
        ));
    }

    /// Flows near a random rule's remote and local intervals (or anywhere), with assorted
    /// protocols and ports.
    fn keys_near_rules(rng: &mut Rng, sets: &RuleFieldSets<u32>) -> Vec<FlowKey<u32>> {
        let rules = sets.len();
        let mut keys = Vec::new();
        for _ in 0..2000 {
            let near = |rng: &mut Rng, intervals: &[(u32, u32)]| match intervals.first() {
                Some(&(lo, hi)) if rng.below(2) == 0 => {
                    [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)][rng.below(4) as usize]
                }
                _ => rng.next_u64() as u32,
            };
            let rule = if rules == 0 {
                0
            } else {
                rng.below(rules as u64) as usize
            };
            let (remote, local) = if rules == 0 {
                (rng.next_u64() as u32, rng.next_u64() as u32)
            } else {
                (near(rng, &sets.remote[rule]), near(rng, &sets.local[rule]))
            };
            keys.push(FlowKey {
                protocol: [6, 17, 1, 47][rng.below(4) as usize],
                dest_port: [22, 80, 443, 1500, 8000, 9000][rng.below(6) as usize],
                source_port: rng.next_u64() as u16,
                remote,
                local,
            });
        }
        keys
    }

    /// The rank of the first rule admitting each key.
    fn linear_scan(sets: &RuleFieldSets<u32>, keys: &[FlowKey<u32>]) -> Vec<Option<u32>> {
        keys.iter()
            .map(|key| {
                (0..sets.len())
                    .find(|&r| sets.admits(r, key))
                    .map(|r| r as u32)
            })
            .collect()
    }

    /// A rule set whose tables would outgrow the budget is refused, not truncated.
    #[test]
    fn over_budget_is_refused() {
        let sets = random_sets(&mut Rng::new(5), 300);
        let few_entries = Budget {
            max_join_entries: 1000,
            ..Budget::default()
        };
        assert!(CrossProductClassifier::build(&sets, few_entries).is_none());
        let little_time = Budget {
            max_word_ops: 1000,
            ..Budget::default()
        };
        assert!(CrossProductClassifier::build(&sets, little_time).is_none());
        assert!(CrossProductClassifier::build(&sets, Budget::default()).is_some());
    }

    #[test]
    fn boxes_cover_exactly_the_interval() {
        for (lo, hi) in [
            (0, u32::MAX),
            (0x0a00_0000, 0x0aff_ffff),
            (0x0a01_0203, 0x0a01_0203),
            (0x0a01_8000, 0x0a03_7fff),
            (0x0a01_0000, 0x0a02_7fff),
            (0x0a01_8000, 0x0a02_ffff),
            (0x0000_ffff, 0x0001_0000),
        ] {
            let boxes = boxes(lo, hi);
            let count: u64 = boxes
                .iter()
                .map(|&((h1, h2), (l1, l2))| {
                    (u64::from(h2) - u64::from(h1) + 1) * (u64::from(l2) - u64::from(l1) + 1)
                })
                .sum();
            assert_eq!(
                count,
                u64::from(hi - lo) + 1,
                "{lo:#x}..={hi:#x}: {boxes:?}"
            );
            for ((h1, h2), (l1, l2)) in boxes {
                let value = |high: u16, low: u16| u32::from(high) << 16 | u32::from(low);
                assert!(
                    value(h1, l1) >= lo && value(h2, l2) <= hi,
                    "{lo:#x}..={hi:#x}"
                );
            }
        }
    }
}
