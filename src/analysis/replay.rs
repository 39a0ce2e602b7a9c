//! Replaying VPC flow logs against a snapshot (`sgsim replay`): which rule decided each logged
//! connection, hit counts per rule, the rules no logged traffic used, and the records whose
//! logged `action` disagrees with the simulated verdict. The rules are in `docs/flowlogs.md`.
//!
//! Records stream through in blocks (see [`crate::input::flowlog`]); each block is split across
//! rayon's threads, which read, classify and evaluate their part with the engine's batch path
//! into per-thread tallies, and the block's other results are merged in input order while the
//! next block is evaluated. Memory holds the tallies (per rule: a
//! few counters and a distinct-flow counter that turns into a fixed-size sketch past
//! [`EXACT_DISTINCT_LIMIT`] flows), the listed mismatches (at most
//! [`ReplayOptions::max_listed_mismatches`]) and the records whose role only their opposite
//! record can tell ([`Role::Undecided`]), each until its ENI's log is
//! [`PAIRING_HORIZON_SECS`] past it, so it stays flat however many records are read.

use crate::input::flowlog::json::same_bytes;
use crate::input::flowlog::{
    Block, LogDirection, LoggedAction, Record, RecordError, TrafficRecord,
};
use crate::model::{proto, Action, Direction, Flow, NicIndex, Reason, RuleRef, Target, Verdict};
use crate::{Engine, Query};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The `schema_version` of the JSON report.
pub const SCHEMA_VERSION: u32 = 1;
/// Client ports start here on current systems (Linux 32768–60999, Windows 49152–65535).
pub const EPHEMERAL_PORTS_FROM: u16 = 32768;
/// Per rule, distinct flows are counted exactly up to this many, then estimated. 1024 keeps a
/// rule's exact set (8-byte hashes in a hash table, ~16 KiB) within a few times the sketch's
/// 4 KiB, so memory stays flat with 1000s of rules however many flows each sees.
pub const EXACT_DISTINCT_LIMIT: usize = 1024;
/// Records per parallel task inside a block.
const RECORDS_PER_TASK: usize = 1024;

#[derive(Clone, Debug)]
/// How much a [`Replay`] lists one by one.
pub struct ReplayOptions {
    /// Mismatches listed one by one; the rest are only counted.
    pub max_listed_mismatches: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            max_listed_mismatches: 1000,
        }
    }
}

/// Callbacks of a replay: bad records as they are found (in input order), and progress.
pub trait ReplayObserver {
    /// A record that could not be read: its file, its location (1-based line, or row for Parquet)
    /// and why.
    fn malformed(&mut self, _file: &str, _line: u64, _error: &RecordError) {}
    /// Called after each block with the number of records read so far.
    fn progress(&mut self, _records: u64) {}
}

impl ReplayObserver for () {}

/// Whether a record is the initiator's side of its connection, as far as it alone tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that opened the connection: its verdict is the one charged to a rule.
    Initiator,
    /// The answer of the other side: stateful, so never charged to a rule.
    Reply,
    /// Only the record of the other direction can tell (ICMP, or ports that give no clue).
    Undecided,
}

/// The role of a record from its own fields (`docs/flowlogs.md`, "Replies"):
/// 1. TCP with flags: SYN without ACK is the initiator, SYN-ACK the responder;
/// 2. TCP/UDP: an ephemeral source port (>= 32768) to a lower destination port is the
///    client's side, the reverse the server's; failing that, the same with the privileged
///    ports (< 1024) as the server's;
/// 3. otherwise undecided: the replay pairs it with the opposite record on the same ENI and the
///    one that started first is the initiator.
pub fn role(traffic: &TrafficRecord) -> Role {
    if traffic.protocol == proto::TCP {
        if let Some(flags) = traffic.tcp_flags {
            match flags & 0x12 {
                0x02 => return Role::Initiator,
                0x12 => return Role::Reply,
                _ => {}
            }
        }
    }
    if matches!(traffic.protocol, proto::TCP | proto::UDP) {
        let (src, dst) = (traffic.src_port, traffic.dst_port);
        for server_below in [EPHEMERAL_PORTS_FROM, 1024] {
            match (src >= server_below, dst >= server_below) {
                (true, false) => return Role::Initiator,
                (false, true) => return Role::Reply,
                _ => {}
            }
        }
    }
    Role::Undecided
}

/// The flow a record describes, seen from its ENI.
pub(crate) fn flow_of(traffic: &TrafficRecord) -> Flow {
    Flow {
        direction: match traffic.direction {
            LogDirection::In => Direction::Ingress,
            LogDirection::Out => Direction::Egress,
        },
        protocol: traffic.protocol,
        src: traffic.src,
        src_port: traffic.src_port,
        dst: traffic.dst,
        dst_port: traffic.dst_port,
    }
}

/// Counts distinct flows: exactly (a set of 64-bit flow hashes) up to [`EXACT_DISTINCT_LIMIT`],
/// then with a HyperLogLog sketch of 4096 registers (about 1.6 % standard error) so memory stays
/// bounded. Hand-written: the sketch is 30 lines, and the crates that offer one either estimate
/// small counts too (the tests need them exact) or bring their own hashing.
#[derive(Clone, Debug)]
enum Distinct {
    Exact(FlowHashes),
    Sketch(Box<[u8; SKETCH_REGISTERS]>),
}

/// A set of 64-bit flow hashes: one flat table, linear probing, at most half full.
///
/// PERF: hand-written rather than a `std::collections::HashSet<u64>`, whose probe reads a
/// control byte and then the key, two cache misses in different places, in sets that are mostly
/// out of cache (a rule's set is hit once in a while): here a probe reads one line, which
/// [`FlowHashes::prefetch`] can ask for ahead of time. The hashes are already mixed
/// ([`flow_hash`]), so their low bits index the table as they are.
#[derive(Clone, Debug, Default)]
struct FlowHashes {
    /// Hashes, 0 for an empty slot; the length is 0 or a power of two.
    slots: Vec<u64>,
    /// Nonzero hashes in `slots`.
    nonzero: usize,
    /// Whether the hash 0 (which marks an empty slot) is in the set.
    zero: bool,
}

impl FlowHashes {
    /// An empty set that holds `count` hashes without growing.
    fn with_room(count: usize) -> FlowHashes {
        FlowHashes {
            slots: if count == 0 {
                Vec::new()
            } else {
                vec![0; (2 * count).next_power_of_two().max(16)]
            },
            ..FlowHashes::default()
        }
    }

    fn len(&self) -> usize {
        self.nonzero + usize::from(self.zero)
    }

    /// Where `hash`'s probe starts (`slots` not empty).
    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// The slot holding `hash` (nonzero), else the empty slot its probe ends at (`slots` not
    /// empty, and never full).
    #[inline]
    fn slot_of(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        while self.slots[at] != 0 && self.slots[at] != hash {
            at = (at + 1) & mask;
        }
        at
    }

    fn contains(&self, hash: u64) -> bool {
        if hash == 0 {
            return self.zero;
        }
        !self.slots.is_empty() && self.slots[self.slot_of(hash)] == hash
    }

    #[inline]
    fn insert(&mut self, hash: u64) {
        if hash == 0 {
            self.zero = true;
            return;
        }
        if 2 * (self.nonzero + 1) > self.slots.len() {
            self.grow();
        }
        self.place(hash);
    }

    /// Adds a nonzero hash, with room for it.
    #[inline]
    fn place(&mut self, hash: u64) {
        let at = self.slot_of(hash);
        if self.slots[at] == 0 {
            self.slots[at] = hash;
            self.nonzero += 1;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        self.nonzero = 0;
        for hash in old.into_iter().filter(|&hash| hash != 0) {
            self.place(hash);
        }
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let zero = self.zero.then_some(0);
        self.slots
            .iter()
            .copied()
            .filter(|&hash| hash != 0)
            .chain(zero)
    }

    /// Asks for the cache line `insert(hash)` will read first.
    fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            crate::compile::kernel::prefetch(&self.slots[self.home(hash)]);
        }
    }
}

const SKETCH_BITS: u32 = 12;
const SKETCH_REGISTERS: usize = 1 << SKETCH_BITS;

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Exact(FlowHashes::default())
    }
}

impl Distinct {
    fn insert(&mut self, hash: u64) {
        match self {
            Distinct::Exact(set) => {
                // Past the limit, the sketch takes it (never growing the table for it).
                if set.len() < EXACT_DISTINCT_LIMIT || set.contains(hash) {
                    set.insert(hash);
                } else {
                    self.become_sketch();
                    self.insert(hash);
                }
            }
            Distinct::Sketch(registers) => sketch_insert(registers, hash),
        }
    }

    fn become_sketch(&mut self) {
        if let Distinct::Exact(set) = self {
            let mut registers = Box::new([0u8; SKETCH_REGISTERS]);
            for hash in set.iter() {
                sketch_insert(&mut registers, hash);
            }
            *self = Distinct::Sketch(registers);
        }
    }

    fn merge(&mut self, other: Distinct) {
        match other {
            Distinct::Exact(set) => {
                for hash in set.iter() {
                    self.insert(hash);
                }
            }
            Distinct::Sketch(other) => {
                self.become_sketch();
                if let Distinct::Sketch(registers) = self {
                    for (mine, theirs) in registers.iter_mut().zip(other.iter()) {
                        *mine = (*mine).max(*theirs);
                    }
                }
            }
        }
    }

    /// The count, and whether it is exact.
    fn count(&self) -> (u64, bool) {
        match self {
            Distinct::Exact(set) => (set.len() as u64, true),
            Distinct::Sketch(registers) => {
                let m = SKETCH_REGISTERS as f64;
                let alpha = 0.7213 / (1.0 + 1.079 / m);
                let sum: f64 = registers.iter().map(|&r| inverse_power_of_two(r)).sum();
                let estimate = alpha * m * m / sum;
                let zeros = registers.iter().filter(|&&r| r == 0).count() as f64;
                let estimate = if estimate <= 2.5 * m && zeros > 0.0 {
                    m * (m / zeros).ln()
                } else {
                    estimate
                };
                (estimate.round() as u64, false)
            }
        }
    }
}

/// 2^-r, exactly what `2f64.powi(-r)` gives (a power of two is exact in an f64), from its bits.
///
/// PERF: `powi` per register of every sketch was ~1 % of a 10 M-record replay, on the thread
/// that writes the report after all others are done.
fn inverse_power_of_two(r: u8) -> f64 {
    // Registers hold a rank of at most 65 (`sketch_insert`): far from the subnormals.
    f64::from_bits((1023 - u64::from(r)) << 52)
}

fn sketch_insert(registers: &mut [u8; SKETCH_REGISTERS], hash: u64) {
    let index = (hash >> (64 - SKETCH_BITS)) as usize;
    let rest = (hash << SKETCH_BITS) | (1 << (SKETCH_BITS - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    registers[index] = registers[index].max(rank);
}

/// SplitMix64's finalizer: spreads every input bit over the output, as the sketch needs.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[inline]
fn flow_hash(flow: &Flow) -> u64 {
    let bits = |addr: IpAddr| match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6) ^ (1 << 127),
    };
    let (src, dst) = (bits(flow.src), bits(flow.dst));
    let ports = (u64::from(flow.protocol) << 32)
        | (u64::from(flow.src_port) << 16)
        | u64::from(flow.dst_port);
    let mut h = mix(ports);
    for word in [
        src as u64,
        (src >> 64) as u64,
        dst as u64,
        (dst >> 64) as u64,
    ] {
        h = mix(h ^ word);
    }
    h
}

/// What the tallies are kept for: a rule, or a NIC's default, inner-access or platform
/// decision in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Slot {
    Rule(RuleRef),
    Decision(NicIndex, Direction, DecisionKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum DecisionKind {
    Default,
    InnerAccess,
    Platform,
}

impl DecisionKind {
    fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Default => "default",
            DecisionKind::InnerAccess => "inner_access",
            DecisionKind::Platform => "platform",
        }
    }
}

fn slot_of(nic: NicIndex, direction: Direction, verdict: &Verdict) -> Slot {
    match verdict.reason {
        Reason::Rule(rule) => Slot::Rule(rule),
        Reason::InnerAccess => Slot::Decision(nic, direction, DecisionKind::InnerAccess),
        Reason::Platform => Slot::Decision(nic, direction, DecisionKind::Platform),
        _ => Slot::Decision(nic, direction, DecisionKind::Default),
    }
}

#[derive(Clone, Debug, Default)]
struct Tally {
    hits: u64,
    packets: u64,
    bytes: u64,
    first_seen: Option<u64>,
    last_seen: Option<u64>,
    distinct: Distinct,
}

impl Tally {
    fn add(&mut self, traffic: &TrafficRecord, flow_hash: u64) {
        self.hits += 1;
        self.packets = self.packets.saturating_add(traffic.packets);
        self.bytes = self.bytes.saturating_add(traffic.bytes);
        widen(&mut self.first_seen, &mut self.last_seen, traffic);
        self.distinct.insert(flow_hash);
    }

    fn merge(&mut self, other: Tally) {
        self.hits += other.hits;
        self.packets = self.packets.saturating_add(other.packets);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.first_seen = min_option(self.first_seen, other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.distinct.merge(other.distinct);
    }
}

/// One thread's tallies, kept across blocks and merged with the other threads' once, at the
/// end (the sums, extremes and distinct-flow sets merge the same in any order).
///
/// PERF: slots are found through a dense index (rules numbered group by group, then six
/// decision slots per NIC) instead of a hash map, and no per-block tallies are merged: the
/// merging and the hash tables' growth were ~10 % of `sgsim replay`'s time.
#[derive(Default)]
struct Tallies {
    /// Per slot number: 1 + its position in `entries`, 0 until the slot is hit.
    index: Vec<u32>,
    entries: Vec<(Slot, Tally)>,
    /// Per slot number: how many distinct flows its tally held when it was last merged, so
    /// that its next set starts that large.
    ///
    /// PERF: the sets started empty after each merge, and growing them again was ~2 % of the
    /// time.
    sizes: Vec<u16>,
}

impl Tallies {
    /// The position of `slot`'s tally in `entries`, added if new.
    fn position(&mut self, slots: &SlotNumbers, slot: Slot) -> usize {
        let number = slots.number(slot);
        if self.index.is_empty() {
            self.index = vec![0; slots.len()];
            self.sizes = vec![0; slots.len()];
        }
        match self.index[number] {
            0 => {
                let tally = Tally {
                    distinct: Distinct::Exact(FlowHashes::with_room(self.sizes[number].into())),
                    ..Tally::default()
                };
                self.entries.push((slot, tally));
                self.index[number] = self.entries.len() as u32;
                self.entries.len() - 1
            }
            n => n as usize - 1,
        }
    }
}

/// Adds tallies to a merged map.
fn merge_tallies(merged: &mut FxHashMap<Slot, Tally>, entries: Vec<(Slot, Tally)>) {
    for (slot, tally) in entries {
        match merged.entry(slot) {
            std::collections::hash_map::Entry::Occupied(mut seen) => seen.get_mut().merge(tally),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(tally);
            }
        }
    }
}

/// The threads' tallies are merged every this many blocks: each thread's distinct-flow sets
/// then hold what a few blocks brought, not what the whole run brought (memory would grow
/// with the threads' count times the rules' sets), and merging stays rare.
const MERGE_TALLIES_EVERY: u64 = 8;

/// Numbers the slots of a snapshot densely: its rules group by group, then six decision
/// slots per NIC.
struct SlotNumbers {
    /// Per group: the number of its first rule.
    group_start: Vec<usize>,
    rules: usize,
    nics: usize,
}

impl SlotNumbers {
    fn new(snapshot: &crate::model::Snapshot) -> SlotNumbers {
        let mut group_start = Vec::with_capacity(snapshot.groups().len());
        let mut rules = 0;
        for group in snapshot.groups() {
            group_start.push(rules);
            rules += group.rules.len();
        }
        SlotNumbers {
            group_start,
            rules,
            nics: snapshot.nics().len(),
        }
    }

    fn len(&self) -> usize {
        self.rules + 6 * self.nics
    }

    fn number(&self, slot: Slot) -> usize {
        match slot {
            Slot::Rule(rule) => self.group_start[rule.group as usize] + rule.rule as usize,
            Slot::Decision(nic, direction, kind) => {
                let direction = match direction {
                    Direction::Ingress => 0,
                    Direction::Egress => 3,
                };
                let kind = match kind {
                    DecisionKind::Default => 0,
                    DecisionKind::InnerAccess => 1,
                    DecisionKind::Platform => 2,
                };
                self.rules + 6 * nic as usize + direction + kind
            }
        }
    }
}

fn min_option(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Widens a seen range by a record's window (`start`, and `end` when given).
fn widen(first: &mut Option<u64>, last: &mut Option<u64>, traffic: &TrafficRecord) {
    if let Some(start) = traffic.start {
        *first = min_option(*first, Some(start));
        *last = (*last).max(Some(start));
    }
    if let Some(end) = traffic.end {
        *last = (*last).max(Some(end));
    }
}

/// Records read and what became of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    /// Every record read, malformed ones included.
    pub read: u64,
    /// Records evaluated against the snapshot and charged to what decided them.
    pub evaluated: u64,
    /// The rest, by cause.
    pub skipped: Skipped,
}

/// Records not evaluated, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `log-status` `NODATA`: the ENI had no traffic in the window.
    pub nodata: u64,
    /// `log-status` `SKIPDATA`: the platform dropped records in the window.
    pub skipdata: u64,
    /// The reply direction of a connection: stateful replies are never charged to a rule.
    pub reply: u64,
    /// A pair of records whose initiator nothing tells (same start, no flags, no port clue).
    pub ambiguous: u64,
    /// The ENI is not in the snapshot.
    pub unmapped: u64,
    /// Records that could not be read (each reported to [`ReplayObserver::malformed`]).
    pub malformed: u64,
}

impl RecordCounts {
    fn merge(&mut self, other: &RecordCounts) {
        self.read += other.read;
        self.evaluated += other.evaluated;
        let (s, o) = (&mut self.skipped, &other.skipped);
        s.nodata += o.nodata;
        s.skipdata += o.skipdata;
        s.reply += o.reply;
        s.ambiguous += o.ambiguous;
        s.unmapped += o.unmapped;
        s.malformed += o.malformed;
    }
}

/// A logged record whose `action` disagrees with the simulated verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `rejected_though_accepted` (a network ACL or something else outside the groups dropped
    /// it) or `accepted_though_dropped` (drift: the snapshot is not what ran).
    pub kind: &'static str,
    /// The log file the record came from.
    pub file: String,
    /// Its location there: 1-based line, or row for Parquet.
    pub line: u64,
    /// The ENI that logged it.
    pub eni_id: String,
    /// The record's five-tuple, in its direction on that ENI (in JSON, its fields inline:
    /// `direction`, `protocol`, `src`, `src_port`, `dst`, `dst_port`).
    #[serde(flatten)]
    pub flow: Flow,
    /// `ACCEPT` or `REJECT` as logged, `-` when the record has none.
    pub logged_action: &'static str,
    /// The verdict of the snapshot on the same flow.
    pub simulated: Action,
    /// `sg-…/sgr-…`, or `default`, `inner_access`, `platform`.
    pub decided_by: String,
}

/// Mismatches by kind (all of them, listed or not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MismatchCounts {
    /// Logged `REJECT`, simulated accept.
    pub rejected_though_accepted: u64,
    /// Logged `ACCEPT`, simulated drop.
    pub accepted_though_dropped: u64,
    /// How many are listed in `mismatches`.
    pub listed: u64,
}

/// One row of the per-rule table: a rule, or a NIC's default / inner-access / platform
/// decision in one direction (then `security_group_id` is absent and `rule_id` names it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleHits {
    /// The rule's group; `None` for decision rows.
    pub security_group_id: Option<String>,
    /// The rule's id, or the decision: `default`, `inner_access` or `platform`.
    pub rule_id: String,
    /// For decision rows: the NIC.
    pub nic_id: Option<String>,
    /// The direction of the rule or decision.
    pub direction: Direction,
    /// For rule rows: `drop tcp 22/22 from 0.0.0.0/0`.
    pub summary: Option<String>,
    /// Records charged to this row (flow-windows: they scale with the log's capture window).
    pub hits: u64,
    /// Distinct five-tuples among those records.
    pub distinct_flows: u64,
    /// False once a rule's distinct flows passed [`EXACT_DISTINCT_LIMIT`] and are estimated.
    pub distinct_flows_exact: bool,
    /// Sum of the records' `packets`.
    pub packets: u64,
    /// Sum of the records' `bytes`.
    pub bytes: u64,
    /// Unix seconds.
    pub first_seen: Option<u64>,
    /// Unix seconds: the latest `start` or `end` of those records.
    pub last_seen: Option<u64>,
}

/// A rule no evaluated record was decided by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnusedRule {
    /// The rule's group.
    pub security_group_id: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's direction.
    pub direction: Direction,
    /// The rule in words: `drop tcp 22/22 from 0.0.0.0/0`.
    pub summary: String,
}

/// The rules with zero hits, over the time range seen, with what limits the claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unused {
    /// Unix seconds: the earliest `start` and latest `end` among evaluated records.
    pub from: Option<u64>,
    /// Unix seconds: see `from`.
    pub to: Option<u64>,
    /// Why a listed rule may still be used: filters, SKIPDATA ENIs, ambiguous and malformed
    /// records, NICs that carry the same groups but logged nothing.
    pub caveats: Vec<String>,
    /// The rules that no evaluated record was charged to.
    pub rules: Vec<UnusedRule>,
}

/// An ENI id with a record count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EniCount {
    /// The ENI's id as logged.
    pub eni_id: String,
    /// Its records.
    pub records: u64,
}

/// The whole report of a replay.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The inputs, in the order they were read.
    pub files: Vec<String>,
    /// How many records were read, evaluated and skipped.
    pub records: RecordCounts,
    /// One row per rule of every group carried by a NIC in the logs (zero hits included), then per
    /// such NIC its `default`, `inner_access` and `platform` rows.
    pub rules: Vec<RuleHits>,
    /// The rules with zero hits.
    pub unused: Unused,
    /// The mismatches listed one by one: at most [`ReplayOptions::max_listed_mismatches`].
    pub mismatches: Vec<Mismatch>,
    /// All mismatches, by kind.
    pub mismatch_counts: MismatchCounts,
    /// ENIs of the logs that the snapshot does not have.
    pub unmapped_enis: Vec<EniCount>,
    /// ENIs with SKIPDATA records: their counts are lower bounds.
    pub skipdata_enis: Vec<EniCount>,
}

/// How long a record whose role only its opposite record tells waits for it: it is settled
/// once a record of its ENI has started this many seconds after it (both directions of a
/// connection are logged in the same capture window, at most 10 minutes; the rest is margin for
/// exports that are not exactly in time order). This is what bounds memory: see
/// `docs/flowlogs.md`, "Memory and speed".
pub const PAIRING_HORIZON_SECS: u64 = 3600;

/// A record held until its opposite record tells its role.
#[derive(Clone, Debug)]
struct Pending {
    nic: NicIndex,
    traffic: TrafficRecord,
    file: u32,
    line: u64,
}

/// The held records of one pair key (both directions of one connection on one ENI).
#[derive(Debug, Default)]
struct Held {
    /// Each with whether it is the key's forward orientation.
    records: Vec<(bool, Pending)>,
    /// The latest `start` among them.
    latest: u64,
    /// Held to the end of the run: a record without `start`, or one that came later than
    /// [`PAIRING_HORIZON_SECS`] behind its ENI's newest record (input out of time order).
    to_end: bool,
}

/// The two ends of a connection in a fixed order, with the ENI and protocol: both directions
/// of one connection on one ENI share it.
pub(crate) type PairKey = (NicIndex, u8, (IpAddr, u16), (IpAddr, u16));

/// The key both directions of `flow`'s connection on `nic` share, and whether `flow` is the
/// key's forward orientation.
pub(crate) fn pair_key_of(nic: NicIndex, flow: &Flow) -> (PairKey, bool) {
    let a = (flow.src, flow.src_port);
    let b = (flow.dst, flow.dst_port);
    let forward = a <= b;
    let (low, high) = if forward { (a, b) } else { (b, a) };
    ((nic, flow.protocol, low, high), forward)
}

/// What a run of records (a task, a thread's share of a block, or the whole replay) found.
#[derive(Default)]
struct TaskResult {
    counts: RecordCounts,
    malformed: Vec<(u64, RecordError)>,
    pending: Vec<Pending>,
    mismatches: Vec<Mismatch>,
    mismatch_counts: MismatchCounts,
    nics: FxHashSet<NicIndex>,
    unmapped: FxHashMap<String, u64>,
    skipdata: FxHashMap<String, u64>,
    first: Option<u64>,
    last: Option<u64>,
    /// Per NIC: the latest `start` of its traffic records.
    newest: FxHashMap<NicIndex, u64>,
}

impl TaskResult {
    /// Adds `later`, the result of the records that follow this one's (order is kept for the
    /// malformed records and the listed mismatches; at most `max_listed` are kept).
    fn absorb(&mut self, later: TaskResult, max_listed: usize) {
        self.counts.merge(&later.counts);
        self.malformed.extend(later.malformed);
        self.pending.extend(later.pending);
        let room = max_listed.saturating_sub(self.mismatches.len());
        self.mismatches
            .extend(later.mismatches.into_iter().take(room));
        self.mismatch_counts.rejected_though_accepted +=
            later.mismatch_counts.rejected_though_accepted;
        self.mismatch_counts.accepted_though_dropped +=
            later.mismatch_counts.accepted_though_dropped;
        self.nics.extend(later.nics);
        for (eni, n) in later.unmapped {
            *self.unmapped.entry(eni).or_default() += n;
        }
        for (eni, n) in later.skipdata {
            *self.skipdata.entry(eni).or_default() += n;
        }
        self.first = min_option(self.first, later.first);
        self.last = self.last.max(later.last);
        for (nic, start) in later.newest {
            let newest = self.newest.entry(nic).or_default();
            *newest = (*newest).max(start);
        }
    }
}

/// Counts a record of `eni` (allocating its name only the first time).
fn count_eni(counts: &mut FxHashMap<String, u64>, eni: &str) {
    match counts.get_mut(eni) {
        Some(n) => *n += 1,
        None => {
            counts.insert(eni.to_string(), 1);
        }
    }
}

fn note_newest(newest: &mut FxHashMap<NicIndex, u64>, nic: NicIndex, start: u64) {
    let newest = newest.entry(nic).or_default();
    *newest = (*newest).max(start);
}

/// A replay in progress: feed it blocks with [`Replay::add_block`], then [`Replay::finish`].
///
/// PERF: a block's result is merged into the totals (held pairs, swept pairs, tallies) while
/// the next block is read and evaluated: done in between blocks, that merging kept the
/// pool's threads waiting for ~10–15 % of the time.
pub struct Replay<'e> {
    work: Work<'e>,
    state: State,
    /// The last block's result, merged during the next [`Replay::add_block`] or in
    /// [`Replay::finish`].
    unmerged: Option<TaskResult>,
}

/// A thread's buffers for the tasks it runs, kept from task to task.
#[derive(Default)]
struct Scratch {
    initiators: Vec<(NicIndex, TrafficRecord, u64)>,
    buffers: Buffers,
}

/// The engine's input and output for a batch of initiator records.
#[derive(Default)]
struct Buffers {
    queries: Vec<Query>,
    verdicts: Vec<Verdict>,
    /// Per query: its tally's position in [`Tallies::entries`] and its flow's hash.
    positions: Vec<(usize, u64)>,
}

/// How many records ahead [`Work::evaluate`] asks for a record's distinct-flow set's line (and
/// twice as many for its tally).
const TALLY_AHEAD: usize = 8;

/// What evaluating a block reads, shared by its tasks: the engine, the ENIs' NICs and the
/// per-thread tallies.
struct Work<'e> {
    engine: &'e Engine,
    options: ReplayOptions,
    enis: FxHashMap<Box<str>, NicIndex>,
    files: Vec<String>,
    slots: SlotNumbers,
    /// Per rayon thread (and one more for the caller's), its tallies: see [`Tallies`].
    tallies: Vec<std::sync::Mutex<Tallies>>,
}

/// What the blocks' results are merged into.
#[derive(Default)]
struct State {
    total: TaskResult,
    /// The threads' tallies merged so far (see [`MERGE_TALLIES_EVERY`]).
    merged: FxHashMap<Slot, Tally>,
    blocks: u64,
    held: FxHashMap<PairKey, Held>,
    /// Records in `held`.
    held_records: usize,
    /// Records held to the end because they came too late (see [`Held::to_end`]).
    late: u64,
    /// At most the least `latest` of the held pairs not held to the end (`u64::MAX` when none
    /// was added since the last sweep that found none): a sweep is skipped while no ENI has
    /// moved past it, as it would settle nothing.
    held_latest_bound: u64,
}

impl<'e> Replay<'e> {
    /// A replay of logs against `engine`'s snapshot.
    pub fn new(engine: &'e Engine, options: ReplayOptions) -> Replay<'e> {
        let enis = engine
            .snapshot()
            .nics()
            .iter()
            .enumerate()
            .map(|(index, nic)| (nic.id.clone().into_boxed_str(), index as NicIndex))
            .collect();
        Replay {
            work: Work {
                engine,
                options,
                enis,
                files: Vec::new(),
                slots: SlotNumbers::new(engine.snapshot()),
                tallies: (0..=rayon::current_num_threads())
                    .map(|_| Default::default())
                    .collect(),
            },
            state: State {
                held_latest_bound: u64::MAX,
                ..State::default()
            },
            unmerged: None,
        }
    }

    /// Names the next file; its blocks follow.
    pub fn start_file(&mut self, name: &str) {
        self.work.files.push(name.to_string());
    }

    /// How many records are held waiting for their opposite record (what memory grows with).
    pub fn held_records(&self) -> usize {
        self.state.held_records + self.unmerged.as_ref().map_or(0, |r| r.pending.len())
    }

    /// Reads, classifies and evaluates one block of the current file across all threads,
    /// while the block before is merged.
    pub fn add_block(&mut self, block: &dyn Block, observer: &mut dyn ReplayObserver) {
        let file = self.work.files.len().saturating_sub(1) as u32;
        let previous = self.unmerged.take();
        let (work, state) = (&self.work, &mut self.state);
        let (mut result, ()) = rayon::join(
            || work.evaluate_block(block, file),
            || {
                if let Some(previous) = previous {
                    state.merge_block(work, previous);
                }
            },
        );
        let name = self
            .work
            .files
            .get(file as usize)
            .map_or("", String::as_str);
        for (line, error) in result.malformed.drain(..) {
            observer.malformed(name, line, &error);
        }
        // The blocks before this one are merged by now.
        let read = self.state.total.counts.read + result.counts.read;
        self.unmerged = Some(result);
        observer.progress(read);
    }

    /// Settles the records still held, then builds the report.
    pub fn finish(mut self) -> ReplayReport {
        if let Some(last) = self.unmerged.take() {
            self.state.merge_block(&self.work, last);
        }
        let state = &mut self.state;
        let pairs: Vec<Vec<(bool, Pending)>> = std::mem::take(&mut state.held)
            .into_values()
            .map(|held| held.records)
            .collect();
        state.held_records = 0;
        let mut task = TaskResult::default();
        self.work.settle(pairs, &mut task);
        state
            .total
            .absorb(task, self.work.options.max_listed_mismatches);
        // Pairs settled along the way interleave with the rest: list in input order.
        let files = &self.work.files;
        state
            .total
            .mismatches
            .sort_by_key(|m| (files.iter().position(|name| *name == m.file), m.line));
        report(self.work, std::mem::take(&mut self.state))
    }
}

impl Work<'_> {
    /// Reads, classifies and evaluates a block on all threads.
    fn evaluate_block(&self, block: &dyn Block, file: u32) -> TaskResult {
        let tasks = block.len().div_ceil(RECORDS_PER_TASK);
        let max_listed = self.options.max_listed_mismatches;
        // PERF: one result per thread's run of tasks (rayon's fold), merged in input order,
        // rather than one per task: merging the per-rule tallies was ~5–7 % of the time.
        // PERF: a thread's run of tasks reuses one set of buffers (allocating them per task
        // was ~3 % of the time, in malloc).
        (0..tasks)
            .into_par_iter()
            .fold(
                || (TaskResult::default(), Scratch::default()),
                |(mut result, mut scratch), task| {
                    let start = task * RECORDS_PER_TASK;
                    let range = start..(start + RECORDS_PER_TASK).min(block.len());
                    self.run_task(&mut result, &mut scratch, block, range, file);
                    (result, scratch)
                },
            )
            .map(|(result, _)| result)
            .reduce(TaskResult::default, |mut earlier, later| {
                earlier.absorb(later, max_listed);
                earlier
            })
    }

    fn run_task(
        &self,
        task: &mut TaskResult,
        scratch: &mut Scratch,
        block: &dyn Block,
        range: std::ops::Range<usize>,
        file: u32,
    ) {
        let initiators = &mut scratch.initiators;
        initiators.clear();
        // PERF: runs of records of one ENI are the rule (a log is one ENI's, or a few): the
        // last ENI's NIC and newest start are kept here rather than looked up in hash maps
        // per record.
        let mut last_eni = String::new();
        let mut last_nic: Option<Option<NicIndex>> = None;
        let mut newest: Option<(NicIndex, u64)> = None;
        block.interpreted(range, &mut |line, record| {
            task.counts.read += 1;
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    task.counts.skipped.malformed += 1;
                    task.malformed.push((line, error));
                    return;
                }
            };
            let eni = match record {
                Record::Traffic { eni, .. } | Record::NoData { eni } | Record::SkipData { eni } => {
                    eni
                }
            };
            let nic = match last_nic {
                // PERF: compared inline (`==` calls memcmp, ~3 % of the time).
                Some(nic)
                    if eni.len() == last_eni.len()
                        && same_bytes(eni.as_bytes(), 0, last_eni.as_bytes()) =>
                {
                    nic
                }
                _ => {
                    let nic = self.enis.get(eni).copied();
                    if let Some(nic) = nic {
                        task.nics.insert(nic);
                    }
                    last_eni.clear();
                    last_eni.push_str(eni);
                    last_nic = Some(nic);
                    nic
                }
            };
            match record {
                Record::NoData { .. } => task.counts.skipped.nodata += 1,
                Record::SkipData { eni } => {
                    task.counts.skipped.skipdata += 1;
                    count_eni(&mut task.skipdata, eni);
                }
                Record::Traffic { eni, traffic } => {
                    let Some(nic) = nic else {
                        task.counts.skipped.unmapped += 1;
                        count_eni(&mut task.unmapped, eni);
                        return;
                    };
                    if let Some(start) = traffic.start {
                        match &mut newest {
                            Some((of, latest)) if *of == nic => *latest = (*latest).max(start),
                            _ => {
                                if let Some((of, latest)) = newest.replace((nic, start)) {
                                    note_newest(&mut task.newest, of, latest);
                                }
                            }
                        }
                    }
                    match role(&traffic) {
                        Role::Initiator => initiators.push((nic, traffic, line)),
                        Role::Reply => task.counts.skipped.reply += 1,
                        Role::Undecided => task.pending.push(Pending {
                            nic,
                            traffic,
                            file,
                            line,
                        }),
                    }
                }
            }
        });
        if let Some((nic, latest)) = newest {
            note_newest(&mut task.newest, nic, latest);
        }
        self.evaluate(task, initiators, file, &mut scratch.buffers);
    }

    /// Evaluates initiator records with the engine's batch path and tallies them.
    fn evaluate(
        &self,
        task: &mut TaskResult,
        initiators: &[(NicIndex, TrafficRecord, u64)],
        file: u32,
        buffers: &mut Buffers,
    ) {
        let Buffers {
            queries,
            verdicts,
            positions,
        } = buffers;
        queries.clear();
        queries.extend(initiators.iter().map(|(nic, traffic, _)| Query {
            target: Target::Nic(*nic),
            flow: flow_of(traffic),
        }));
        self.engine.check_batch_into(queries, verdicts);
        // A thread's own table: the lock is only ever contended if another pool than the
        // one the replay was made in runs it.
        let thread = rayon::current_thread_index().unwrap_or(usize::MAX);
        let mut tallies = self.tallies[thread.min(self.tallies.len() - 1)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // PERF: each record's tally and the line of its distinct-flow set that it will probe
        // are asked for some records ahead (a rule's tally is mostly out of cache): first
        // where each record's tally is, then the tallies in order.
        positions.clear();
        positions.extend((queries.iter().zip(verdicts.iter()).zip(initiators)).map(
            |((query, verdict), &(nic, _, _))| {
                let slot = slot_of(nic, query.flow.direction, verdict);
                (tallies.position(&self.slots, slot), flow_hash(&query.flow))
            },
        ));
        for (index, ((query, verdict), (nic, traffic, line))) in queries
            .iter()
            .zip(verdicts.iter())
            .zip(initiators)
            .enumerate()
        {
            if let Some(&(position, _)) = positions.get(index + 2 * TALLY_AHEAD) {
                crate::compile::kernel::prefetch(&tallies.entries[position].1);
            }
            if let Some(&(position, hash)) = positions.get(index + TALLY_AHEAD) {
                if let Distinct::Exact(set) = &tallies.entries[position].1.distinct {
                    set.prefetch(hash);
                }
            }
            task.counts.evaluated += 1;
            let (position, hash) = positions[index];
            tallies.entries[position].1.add(traffic, hash);
            widen(&mut task.first, &mut task.last, traffic);
            let kind = match (traffic.action, verdict.action) {
                (Some(LoggedAction::Reject), Action::Accept) => {
                    task.mismatch_counts.rejected_though_accepted += 1;
                    "rejected_though_accepted"
                }
                (Some(LoggedAction::Accept), Action::Drop) => {
                    task.mismatch_counts.accepted_though_dropped += 1;
                    "accepted_though_dropped"
                }
                _ => continue,
            };
            if task.mismatches.len() < self.options.max_listed_mismatches {
                task.mismatches.push(Mismatch {
                    kind,
                    file: self.files.get(file as usize).cloned().unwrap_or_default(),
                    line: *line,
                    eni_id: self.engine.snapshot().nic(*nic).id.clone(),
                    flow: Flow {
                        direction: query.flow.direction,
                        ..flow_of(traffic)
                    },
                    logged_action: traffic.action.map_or("-", LoggedAction::as_str),
                    simulated: verdict.action,
                    decided_by: self.decided_by(verdict),
                });
            }
        }
    }

    fn decided_by(&self, verdict: &Verdict) -> String {
        match verdict.deciding_rule() {
            Some(rule) => {
                let (group, rule) = self.engine.rule(rule);
                format!("{}/{}", group.id, rule.id)
            }
            None => verdict.reason.as_str().to_string(),
        }
    }

    /// Tells the initiator side of each pair (the side whose earliest `start` is earlier; a
    /// side alone is the initiator; equal starts are ambiguous) and evaluates its records.
    fn settle(&self, mut pairs: Vec<Vec<(bool, Pending)>>, task: &mut TaskResult) {
        let mut by_file: BTreeMap<u32, Vec<(NicIndex, TrafficRecord, u64)>> = BTreeMap::new();
        // Input order, so listed mismatches come out in order whatever the hash map's order.
        // PERF: each pair's first record found once, not per comparison (the sort was ~2 % of
        // a Parquet replay).
        pairs.sort_by_cached_key(|records| records.iter().map(|(_, p)| (p.file, p.line)).min());
        for records in pairs {
            let earliest = |forward: bool| {
                records
                    .iter()
                    .filter(|(f, _)| *f == forward)
                    .map(|(_, p)| p.traffic.start.unwrap_or(u64::MAX))
                    .min()
            };
            let initiator_forward = match (earliest(true), earliest(false)) {
                (Some(_), None) => Some(true),
                (None, Some(_)) => Some(false),
                (Some(a), Some(b)) if a < b => Some(true),
                (Some(a), Some(b)) if b < a => Some(false),
                _ => None,
            };
            for (forward, p) in records {
                match initiator_forward {
                    Some(initiator) if initiator == forward => by_file
                        .entry(p.file)
                        .or_default()
                        .push((p.nic, p.traffic, p.line)),
                    Some(_) => task.counts.skipped.reply += 1,
                    None => task.counts.skipped.ambiguous += 1,
                }
            }
        }
        for (file, mut initiators) in by_file {
            // A file's lines are distinct: the unstable sort gives the one order.
            initiators.sort_unstable_by_key(|(_, _, line)| *line);
            self.evaluate(task, &initiators, file, &mut Buffers::default());
        }
    }
}

impl State {
    /// Adds a block's result, settles the pairs it moved past, and merges a thread's tallies
    /// (each thread's every [`MERGE_TALLIES_EVERY`] blocks).
    fn merge_block(&mut self, work: &Work, result: TaskResult) {
        self.merge(result, work.options.max_listed_mismatches);
        // A pass over the held pairs per block: a few thousand blocks in a run of millions of
        // records, each pass far shorter than the block's own work.
        self.sweep(work);
        self.blocks += 1;
        // PERF: one thread's table per block, in turn, each every MERGE_TALLIES_EVERY blocks,
        // and merged once its lock is released: merging all of them in one block, under their
        // locks, kept the evaluating threads waiting for the merge.
        let turn = (self.blocks % MERGE_TALLIES_EVERY) as usize;
        for table in work
            .tallies
            .iter()
            .skip(turn)
            .step_by(MERGE_TALLIES_EVERY as usize)
        {
            let entries = {
                let mut table = table
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                table.index.fill(0);
                let Tallies { entries, sizes, .. } = &mut *table;
                for (slot, tally) in entries.iter() {
                    sizes[work.slots.number(*slot)] = match &tally.distinct {
                        Distinct::Exact(set) => set.len() as u16,
                        Distinct::Sketch(_) => EXACT_DISTINCT_LIMIT as u16,
                    };
                }
                std::mem::take(entries)
            };
            merge_tallies(&mut self.merged, entries);
        }
    }

    /// Adds a block's result to the total and holds its undecided records.
    fn merge(&mut self, mut result: TaskResult, max_listed: usize) {
        let pending = std::mem::take(&mut result.pending);
        result.malformed.clear();
        self.total.absorb(result, max_listed);
        for pending in pending {
            let newest = self.total.newest.get(&pending.nic).copied().unwrap_or(0);
            let late = match pending.traffic.start {
                Some(start) => start.saturating_add(PAIRING_HORIZON_SECS) < newest,
                None => true,
            };
            if late && pending.traffic.start.is_some() {
                self.late += 1;
            }
            let (key, forward) = pair_key_of(pending.nic, &flow_of(&pending.traffic));
            let held = self.held.entry(key).or_default();
            held.latest = held.latest.max(pending.traffic.start.unwrap_or(0));
            held.to_end |= late;
            if !held.to_end {
                self.held_latest_bound = self.held_latest_bound.min(held.latest);
            }
            held.records.push((forward, pending));
            self.held_records += 1;
        }
    }

    /// Settles the held pairs whose ENI has moved [`PAIRING_HORIZON_SECS`] past them.
    fn sweep(&mut self, work: &Work) {
        let newest = &self.total.newest;
        // PERF: a pass over all held pairs per block was most of the main thread's work.
        let moved_on = newest.values().copied().max().unwrap_or(0);
        if moved_on <= self.held_latest_bound.saturating_add(PAIRING_HORIZON_SECS) {
            return;
        }
        let mut due = Vec::new();
        let mut bound = u64::MAX;
        self.held.retain(|key, held| {
            let settle = !held.to_end
                && held.latest.saturating_add(PAIRING_HORIZON_SECS)
                    < newest.get(&key.0).copied().unwrap_or(0);
            if settle {
                due.push(std::mem::take(&mut held.records));
            } else if !held.to_end {
                bound = bound.min(held.latest);
            }
            !settle
        });
        self.held_latest_bound = bound;
        if due.is_empty() {
            return;
        }
        self.held_records -= due.iter().map(Vec::len).sum::<usize>();
        let mut task = TaskResult::default();
        work.settle(due, &mut task);
        self.total.absorb(task, work.options.max_listed_mismatches);
    }
}

/// The report of a finished replay.
fn report(work: Work<'_>, state: State) -> ReplayReport {
    let snapshot = work.engine.snapshot();
    let total = state.total;
    let mut tallies = state.merged;
    for table in work.tallies {
        let table = table
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        merge_tallies(&mut tallies, table.entries);
    }
    let mut nics: Vec<NicIndex> = total.nics.iter().copied().collect();
    nics.sort_unstable();
    let mut groups: Vec<u32> = nics
        .iter()
        .flat_map(|&nic| snapshot.nic(nic).groups.iter().copied())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let row = |slot: Slot, security_group_id, rule_id, nic_id, direction, summary| {
        let tally = tallies.get(&slot);
        let (distinct_flows, distinct_flows_exact) =
            tally.map_or((0, true), |t| t.distinct.count());
        RuleHits {
            security_group_id,
            rule_id,
            nic_id,
            direction,
            summary,
            hits: tally.map_or(0, |t| t.hits),
            distinct_flows,
            distinct_flows_exact,
            packets: tally.map_or(0, |t| t.packets),
            bytes: tally.map_or(0, |t| t.bytes),
            first_seen: tally.and_then(|t| t.first_seen),
            last_seen: tally.and_then(|t| t.last_seen),
        }
    };
    let mut rules = Vec::new();
    let mut unused_rules = Vec::new();
    for &group_index in &groups {
        let group = snapshot.group(group_index);
        for (position, rule) in group.rules.iter().enumerate() {
            let slot = Slot::Rule(RuleRef {
                group: group_index,
                rule: position as u32,
            });
            let hits = row(
                slot,
                Some(group.id.clone()),
                rule.id.clone(),
                None,
                rule.direction,
                Some(rule.summary()),
            );
            if hits.hits == 0 {
                unused_rules.push(UnusedRule {
                    security_group_id: group.id.clone(),
                    rule_id: rule.id.clone(),
                    direction: rule.direction,
                    summary: rule.summary(),
                });
            }
            rules.push(hits);
        }
    }
    for &nic in &nics {
        let decisions: [(Direction, DecisionKind); 5] = [
            (Direction::Ingress, DecisionKind::Default),
            (Direction::Ingress, DecisionKind::InnerAccess),
            (Direction::Egress, DecisionKind::Default),
            (Direction::Egress, DecisionKind::InnerAccess),
            (Direction::Egress, DecisionKind::Platform),
        ];
        for (direction, kind) in decisions {
            rules.push(row(
                Slot::Decision(nic, direction, kind),
                None,
                kind.as_str().to_string(),
                Some(snapshot.nic(nic).id.clone()),
                direction,
                None,
            ));
        }
    }

    let mut caveats = vec![
        "flow logs may be filtered (TrafficType Allow or Drop, TrafficPath, IpVersion) or \
         cover only some ENIs: a rule unused here may be used by traffic they left out"
            .to_string(),
    ];
    let sorted = |map: FxHashMap<String, u64>| {
        let mut list: Vec<EniCount> = map
            .into_iter()
            .map(|(eni_id, records)| EniCount { eni_id, records })
            .collect();
        list.sort_by(|a, b| a.eni_id.cmp(&b.eni_id));
        list
    };
    let skipdata_enis = sorted(total.skipdata);
    if !skipdata_enis.is_empty() {
        let names: Vec<&str> = skipdata_enis.iter().map(|e| e.eni_id.as_str()).collect();
        caveats.push(format!(
            "SKIPDATA on {}: records were dropped there, so its counts are lower bounds",
            names.join(", ")
        ));
    }
    if total.counts.skipped.ambiguous > 0 {
        caveats.push(format!(
            "{} records could not be told initiator from reply and were not evaluated",
            total.counts.skipped.ambiguous
        ));
    }
    if state.late > 0 {
        caveats.push(format!(
            "{} records whose role only their opposite record tells came more than {} s \
             behind newer records of their ENI (logs not in time order): they were paired \
             only with the records still held then",
            state.late, PAIRING_HORIZON_SECS
        ));
    }
    if total.counts.skipped.malformed > 0 {
        caveats.push(format!(
            "{} malformed records were not evaluated",
            total.counts.skipped.malformed
        ));
    }
    // A group's rules are judged only on the NICs that appear in the logs.
    let silent: Vec<&str> = snapshot
        .nics()
        .iter()
        .enumerate()
        .filter(|(index, nic)| {
            !total.nics.contains(&(*index as NicIndex))
                && nic.groups.iter().any(|g| groups.binary_search(g).is_ok())
        })
        .map(|(_, nic)| nic.id.as_str())
        .collect();
    if !silent.is_empty() {
        caveats.push(format!(
            "these NICs carry the same groups but have no records: {}",
            silent.join(", ")
        ));
    }

    let mismatch_counts = MismatchCounts {
        listed: total.mismatches.len() as u64,
        ..total.mismatch_counts
    };
    ReplayReport {
        schema_version: SCHEMA_VERSION,
        files: work.files,
        records: total.counts,
        rules,
        unused: Unused {
            from: total.first,
            to: total.last,
            caveats,
            rules: unused_rules,
        },
        mismatches: total.mismatches,
        mismatch_counts,
        unmapped_enis: sorted(total.unmapped),
        skipdata_enis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn traffic(protocol: u8, src_port: u16, dst_port: u16, flags: Option<u16>) -> TrafficRecord {
        TrafficRecord {
            direction: LogDirection::In,
            protocol,
            src: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
            src_port,
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
            dst_port,
            packets: 1,
            bytes: 60,
            start: Some(100),
            end: Some(160),
            tcp_flags: flags,
            action: Some(LoggedAction::Accept),
        }
    }

    #[test]
    fn inverse_powers_of_two_are_powi() {
        for r in 0..=u8::MAX {
            assert_eq!(
                inverse_power_of_two(r).to_bits(),
                2f64.powi(-i32::from(r)).to_bits(),
                "{r}"
            );
        }
    }

    #[test]
    fn roles_follow_flags_then_ports() {
        assert_eq!(role(&traffic(6, 443, 40000, Some(2))), Role::Initiator);
        assert_eq!(role(&traffic(6, 40000, 443, Some(18))), Role::Reply);
        assert_eq!(role(&traffic(6, 40000, 443, Some(3))), Role::Initiator);
        assert_eq!(role(&traffic(6, 40000, 443, Some(24))), Role::Initiator);
        assert_eq!(role(&traffic(6, 443, 40000, None)), Role::Reply);
        assert_eq!(role(&traffic(17, 5000, 53, None)), Role::Initiator);
        assert_eq!(role(&traffic(17, 5000, 6000, None)), Role::Undecided);
        assert_eq!(role(&traffic(1, 0, 0, None)), Role::Undecided);
    }

    /// The flat set holds what a standard set holds, with 0 (its empty mark) and hashes whose
    /// low bits collide (long probe runs across the table's end) among them.
    #[test]
    fn hash_sets_hold_what_std_sets_hold() {
        let mut ours = FlowHashes::default();
        let mut roomy = FlowHashes::with_room(100);
        let mut std = std::collections::HashSet::new();
        for n in 0..3000u64 {
            let hash = match n % 4 {
                0 => mix(n),
                1 => (n % 97) << 40 | 0xffff,
                2 => n % 5,
                _ => u64::MAX - n % 300,
            };
            assert_eq!(ours.contains(hash), std.contains(&hash), "{hash:#x}");
            ours.insert(hash);
            roomy.insert(hash);
            std.insert(hash);
            assert_eq!(ours.len(), std.len());
            assert_eq!(roomy.len(), std.len());
            assert!(ours.slots.len() >= 2 * ours.nonzero);
        }
        let mut listed: Vec<u64> = ours.iter().collect();
        listed.sort_unstable();
        let mut expected: Vec<u64> = std.into_iter().collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }

    /// A count stays exact up to the limit and turns into the sketch of every hash past it,
    /// whichever way the hashes came (inserted, or merged in from sets or sketches).
    #[test]
    fn distinct_counts_turn_into_the_sketch_of_all_hashes() {
        let sketch_of = |hashes: &[u64]| {
            let mut registers = Box::new([0u8; SKETCH_REGISTERS]);
            for &hash in hashes {
                sketch_insert(&mut registers, hash);
            }
            registers
        };
        let hashes: Vec<u64> = (0..EXACT_DISTINCT_LIMIT as u64 + 1).map(mix).collect();
        let mut one = Distinct::default();
        for &hash in &hashes[..EXACT_DISTINCT_LIMIT] {
            one.insert(hash);
            one.insert(hash);
        }
        assert_eq!(one.count(), (EXACT_DISTINCT_LIMIT as u64, true));
        one.insert(hashes[EXACT_DISTINCT_LIMIT]);
        let Distinct::Sketch(registers) = &one else {
            panic!("past the limit: {:?}", one.count());
        };
        assert_eq!(registers, &sketch_of(&hashes));
        for split in [1, 500, EXACT_DISTINCT_LIMIT] {
            let (mut a, mut b) = (Distinct::default(), Distinct::default());
            hashes[..split].iter().for_each(|&h| a.insert(h));
            hashes[split - 1..].iter().for_each(|&h| b.insert(h));
            a.merge(b);
            let Distinct::Sketch(registers) = &a else {
                panic!("merged past the limit at {split}: {:?}", a.count());
            };
            assert_eq!(registers, &sketch_of(&hashes), "split {split}");
        }
    }

    #[test]
    fn distinct_counts_are_exact_then_close() {
        let mut small = Distinct::default();
        for n in 0..1000u64 {
            small.insert(mix(n));
            small.insert(mix(n));
        }
        assert_eq!(small.count(), (1000, true));
        let mut large = Distinct::default();
        let mut other = Distinct::default();
        for n in 0..100_000u64 {
            if n % 2 == 0 { &mut large } else { &mut other }.insert(mix(n));
        }
        large.merge(other);
        let (estimate, exact) = large.count();
        assert!(!exact);
        assert!((95_000..105_000).contains(&estimate), "{estimate}");
    }
}
