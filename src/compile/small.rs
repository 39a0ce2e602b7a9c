//! Rule sets of at most 64 rules — most of a real account's NICs — as the bit vector's idea cut
//! down to one machine word: per field, each interval of values holds the 64-bit set of rules
//! that accept it, and a lookup is five interval searches, four ANDs and a trailing-zero count.
//!
//! PERF: the general bit vector (`bitvector.rs`) spends much of a small lookup on what its size
//! range needs — a class per interval and then the class's 512-bit blocks, a choice of lookup
//! per field, unconstrained fields skipped by indirection, bounds checks on every step. Here
//! every field is searched the same way: a flow of `examples/vpc-web.json` 474 -> 339
//! instructions (callgrind), 32-46 against 21-32 M flows/s; a generated 2 000-NIC account
//! 2.8-3.3 against 1.8-2.6 M flows/s in half the memory (29 against 58 MB) (1 thread,
//! alternating, `docs/perf/2026-12-07-s31/`).

use super::bitvector::{count_in_window, field_classes, RuleFieldSets, SCAN_MAX as WINDOW};
use super::key::{FlowKey, Key};

/// The most rules a rule set may have to get the word-per-interval classifier (one bit each in
/// a `u64`; `docs/engine.md`).
pub const SMALL_MAX_RULES: usize = 64;

/// One field: the interval starts and, per interval, the rules that accept its values.
#[derive(Clone, Debug)]
struct SmallField<K: Key> {
    /// The intervals' starts, ascending (the first is 0), then [`WINDOW`] copies of
    /// [`Key::MAX`], so that the last step of a search always has a whole window to compare.
    starts: Box<[K]>,
    /// The rules (bit `r` for rank `r`) accepting each interval's values, then [`WINDOW`]
    /// copies of the last interval's: where a window that counted the padding lands, which only
    /// [`Key::MAX`] itself does.
    rules: Box<[u64]>,
    /// How many intervals there are (without the padding).
    intervals: usize,
}

impl<K: Key> SmallField<K> {
    fn build(rule_sets: &[Vec<(K, K)>]) -> SmallField<K> {
        let (mut starts, classes, vectors) = field_classes(rule_sets, 1);
        let mut rules: Vec<u64> = classes.iter().map(|&c| vectors[c as usize][0]).collect();
        let intervals = starts.len();
        let last = *rules.last().expect("the first interval starts at 0");
        starts.resize(intervals + WINDOW, K::MAX);
        rules.resize(intervals + WINDOW, last);
        SmallField {
            starts: starts.into(),
            rules: rules.into(),
            intervals,
        }
    }

    /// The rules accepting `value`.
    #[inline(always)]
    fn rules_of(&self, value: K) -> u64 {
        // Halve the candidates until a window holds them: the loop's trips depend on the
        // field's size only, and which half is kept is a conditional move.
        let (mut base, mut len) = (0, self.intervals);
        while len > WINDOW {
            let half = len / 2;
            if self.starts[base + half] <= value {
                base += half;
            }
            len -= half;
        }
        // The starts in the window from `len` on lie above the value (or are the padding), so
        // the window's scan stops inside it.
        let at_or_below = count_in_window(&self.starts, base, value);
        // `starts[0]` is 0, so at least one start is <= value.
        self.rules[base + at_or_below - 1]
    }

    fn memory_bytes(&self) -> usize {
        self.starts.len() * std::mem::size_of::<K>() + self.rules.len() * 8
    }
}

/// A rule set of at most [`SMALL_MAX_RULES`] rules (see the module documentation).
#[derive(Clone, Debug)]
pub struct SmallClassifier<A: Key> {
    protocol: SmallField<u8>,
    dest_port: SmallField<u16>,
    source_port: SmallField<u16>,
    remote: SmallField<A>,
    local: SmallField<A>,
}

impl<A: Key> SmallClassifier<A> {
    /// The classifier of `sets`, which has at most [`SMALL_MAX_RULES`] rules.
    pub fn build(sets: &RuleFieldSets<A>) -> SmallClassifier<A> {
        assert!(sets.len() <= SMALL_MAX_RULES, "one bit per rule in a u64");
        SmallClassifier {
            protocol: SmallField::build(&sets.protocol),
            dest_port: SmallField::build(&sets.dest_port),
            source_port: SmallField::build(&sets.source_port),
            remote: SmallField::build(&sets.remote),
            local: SmallField::build(&sets.local),
        }
    }

    /// The rank of the first rule matching all five values, if any.
    #[inline(always)]
    pub fn first_match(&self, key: &FlowKey<A>) -> Option<u32> {
        let matching = self.protocol.rules_of(key.protocol)
            & self.dest_port.rules_of(key.dest_port)
            & self.source_port.rules_of(key.source_port)
            & self.remote.rules_of(key.remote)
            & self.local.rules_of(key.local);
        (matching != 0).then(|| matching.trailing_zeros())
    }

    pub fn memory_bytes(&self) -> usize {
        self.protocol.memory_bytes()
            + self.dest_port.memory_bytes()
            + self.source_port.memory_bytes()
            + self.remote.memory_bytes()
            + self.local.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Every search finds the interval a binary search over the starts finds, for fields of
    /// 1 to 300 intervals (windows only, and halvings of every length), at and around every
    /// start and at the ends of the domain. Rule `r` accepts the intervals `r`, `r + 64`, … so
    /// that the rules found name the interval.
    fn check_field<K: Key>(rng: &mut Rng, to_key: impl Fn(u128) -> K) {
        for intervals in (1..40).chain([63, 64, 65, 127, 128, 129, 300]) {
            let mut starts: Vec<K> = (0..intervals * 4)
                .map(|_| to_key(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())))
                .chain([K::default()])
                .collect();
            starts.sort_unstable();
            starts.dedup();
            starts.truncate(intervals);
            let mut rule_sets: Vec<Vec<(K, K)>> = vec![Vec::new(); starts.len().min(64)];
            for (i, &start) in starts.iter().enumerate() {
                let end = starts
                    .get(i + 1)
                    .map_or(K::MAX, |s| s.predecessor().expect("above 0"));
                rule_sets[i % 64].push((start, end));
            }
            let field = SmallField::build(&rule_sets);
            assert_eq!(field.intervals, starts.len());
            let mut probes = vec![K::default(), K::MAX];
            for &start in &starts {
                probes.push(start);
                probes.extend(start.predecessor());
                probes.extend(start.successor());
            }
            for value in probes {
                let expected = starts.partition_point(|&s| s <= value) - 1;
                assert_eq!(
                    field.rules_of(value),
                    1 << (expected % 64),
                    "{value:?} in {starts:?}"
                );
            }
        }
    }

    #[test]
    fn searches_find_the_interval_of_every_value() {
        let mut rng = Rng::new(64);
        check_field(&mut rng, |v| v as u8);
        check_field(&mut rng, |v| v as u16);
        check_field(&mut rng, |v| v as u32);
        check_field(&mut rng, |v| v);
    }
}
