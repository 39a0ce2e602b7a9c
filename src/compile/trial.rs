//! Picking a tier by measurement: for mid-sized rule sets, build both and time them on a sample
//! of flows drawn from the rules themselves (as ClassBench traces are).
//!
//! The choice changes only speed and memory, never a verdict: both tiers are exact, and the
//! differential tests pit each against the reference evaluator.

use super::bitvector::RuleFieldSets;
use super::classifier::Classifier;
use super::kernel::{run_with_best_kernel, Kernel, KernelTask};
use super::key::{FlowKey, Key};
use crate::rng::Rng;
use std::time::{Duration, Instant};

/// Flows per timing pass: enough to cover the structures' hot paths, little enough that a
/// trial costs a few milliseconds at 16K rules.
const SAMPLE_FLOWS: usize = 2048;

/// Each classifier is timed this many times, alternately; the best pass counts, as the machine
/// may be busy with other work during any one.
// PERF: with 3 passes and no margin, 2 of 3 `sgsim bench` runs of ipc1_10k in a side-by-side
// comparison kept the tree, which runs it at half the bit vector's rate.
const PASSES: usize = 5;

/// How much faster than the bit vector a candidate's best pass must be to be kept: on a noisy
/// machine near-ties are not worth the bit vector's loss when the noise misleads, nor the
/// others' memory and build time.
fn required_speedup<A: Key>(candidate: &Classifier<A>) -> f64 {
    match candidate {
        Classifier::Flat(_) | Classifier::Small(_) => 1.0,
        // About the bit vector's memory (ipc1_10k: 4.4 against 4.3 MB), so kept on near-ties:
        // the sample understates it (ipc1_10k: 1.05-1.25× the bit vector's rate, 1.4× on its
        // trace, and the bit vector was kept in 1 of 6 side-by-side runs without this).
        Classifier::CrossVector(_) => 0.9,
        // The same as the front with vectors, which it is timed against too: the sample
        // understates both. With 1.0 here, the vectors' 0.9 kept them on ipc1_10k (sample:
        // 175 µs against the lists' 160 µs) where the lists ran its trace 1.6× faster (15.6
        // against 9.9 M flows/s, AMD EPYC, 2026-12-06).
        Classifier::CrossList(_) => 0.9,
        // PERF: without a margin, the bulk engine for the 10 000-rule synthetic sweep set kept
        // cross-product tables for some of its rule sets: twice the memory (46 vs 22 MB), 17×
        // the build time, and no faster within noise; and the tree on ipc1_10k, half the bit
        // vector's rate on its trace, in 2 of 3 runs (with cold timings, see `Trial::run`).
        Classifier::CrossProduct(_) | Classifier::Partitioned(_) => 1.25,
    }
}

/// Of `candidates`, the one that decides a sample of flows fastest, after
/// [`required_speedup`].
pub(super) fn fastest<A: Key>(
    sets: &RuleFieldSets<A>,
    candidates: Vec<Classifier<A>>,
) -> Classifier<A> {
    let keys = sample_keys(sets, SAMPLE_FLOWS);
    let times = run_with_best_kernel(Trial {
        candidates: &candidates,
        keys: &keys,
    });
    let best = times
        .iter()
        .zip(&candidates)
        .map(|(time, candidate)| time.as_secs_f64() * required_speedup(candidate))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(index, _)| index)
        .expect("at least one candidate");
    candidates.into_iter().nth(best).expect("index in range")
}

/// Flows that each fall inside a random rule: a random interval of each field's set, and a
/// random value in it. A fixed seed keeps the sample, and so the choice on a quiet machine,
/// the same from run to run.
fn sample_keys<A: Key>(sets: &RuleFieldSets<A>, count: usize) -> Vec<FlowKey<A>> {
    let mut rng = Rng::new(0x5EED_0001);
    let mut random = || (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
    (0..count)
        .map(|_| {
            let rule = (random() % sets.len() as u128) as usize;
            FlowKey {
                protocol: pick_in(&sets.protocol[rule], random()),
                dest_port: pick_in(&sets.dest_port[rule], random()),
                source_port: pick_in(&sets.source_port[rule], random()),
                remote: pick_in(&sets.remote[rule], random()),
                local: pick_in(&sets.local[rule], random()),
            }
        })
        .collect()
}

/// A value in one of `intervals` (the domain's minimum when there are none: the rule matches
/// nothing, and the flow is as good as any other).
fn pick_in<K: Key>(intervals: &[(K, K)], random: u128) -> K {
    if intervals.is_empty() {
        return K::default();
    }
    let (lo, hi) = intervals[(random % intervals.len() as u128) as usize];
    K::pick_between(lo, hi, random >> 32)
}

struct Trial<'a, A: Key> {
    candidates: &'a [Classifier<A>],
    keys: &'a [FlowKey<A>],
}

impl<A: Key> KernelTask for Trial<'_, A> {
    type Output = Vec<Duration>;

    /// The best time of each candidate over all the keys, run the way a batch would run it.
    #[inline(always)]
    fn run<K: Kernel>(self, kernel: K) -> Vec<Duration> {
        let mut best = vec![Duration::MAX; self.candidates.len()];
        let mut matches = vec![None; self.keys.len()];
        for _ in 0..PASSES {
            for (candidate, best) in self.candidates.iter().zip(&mut best) {
                // Untimed first: the previous candidate's pass left the caches full of its own
                // tables, and a batch runs with warm caches.
                // PERF: timed cold, the tiers' order flipped from run to run (acl1_10k kept the
                // bit vector over 1.6× faster tables in 1 of 3 side-by-side runs, fw1_10k over
                // the 2× faster tree in 1 of 3).
                decide_all(kernel, candidate, self.keys, &mut matches);
                let start = Instant::now();
                decide_all(kernel, candidate, self.keys, &mut matches);
                *best = (*best).min(start.elapsed());
            }
        }
        best
    }
}

/// The first match of every key with `candidate`, as a batch would find them.
///
/// PERF: a function inlined into the kernel's entry point, not a closure: a closure is compiled
/// without the entry point's target features, so the vector kernels' intrinsics stayed calls
/// there and the trial timed the bit-vector tiers slower than batches run them.
#[inline(always)]
fn decide_all<A: Key, K: Kernel>(
    kernel: K,
    candidate: &Classifier<A>,
    keys: &[FlowKey<A>],
    matches: &mut [Option<u32>],
) {
    match candidate {
        Classifier::Flat(_)
        | Classifier::Small(_)
        | Classifier::CrossProduct(_)
        | Classifier::CrossVector(_)
        | Classifier::CrossList(_) => {
            for (key, slot) in keys.iter().zip(matches.iter_mut()) {
                *slot = candidate.first_match(kernel, key);
            }
        }
        Classifier::Partitioned(tree) => tree.first_matches(kernel, keys, matches),
    }
    std::hint::black_box(&matches);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sampled flow falls inside some rule in all five fields, whatever the widths.
    #[test]
    fn sampled_flows_fall_inside_rules() {
        let sets = RuleFieldSets::<u128> {
            protocol: vec![vec![(6, 6)], vec![(0, 255)], vec![(17, 17), (1, 1)]],
            dest_port: vec![vec![(22, 22)], vec![(0, 65535)], vec![(1000, 2000)]],
            source_port: vec![vec![(0, 65535)], vec![(5, 5)], vec![(0, 65535)]],
            remote: vec![
                vec![(0, u128::MAX)],
                vec![(10, 20), (u128::MAX - 3, u128::MAX)],
                vec![(7, 7)],
            ],
            local: vec![
                vec![(1 << 100, (1 << 101) - 1)],
                vec![(0, 0)],
                vec![(0, u128::MAX)],
            ],
        };
        let keys = sample_keys(&sets, 500);
        assert_eq!(keys.len(), 500);
        for key in &keys {
            let inside = (0..sets.len()).any(|r| sets.admits(r, key));
            assert!(inside, "{key:?} is in no rule");
        }
        // All three rules are drawn (about 167 times each).
        for rule in 0..3 {
            let port = |k: &FlowKey<u128>| {
                let ports = &sets.dest_port[rule];
                ports
                    .iter()
                    .any(|&(lo, hi)| lo <= k.dest_port && k.dest_port <= hi)
            };
            assert!(keys.iter().any(port), "rule {rule} never sampled");
        }
    }

    #[test]
    fn pick_between_stays_in_bounds() {
        for random in [0, 1, 12345, u128::MAX / 3, u128::MAX] {
            assert_eq!(u32::pick_between(7, 7, random), 7);
            assert!((10..=20).contains(&u16::pick_between(10, 20, random)));
            assert_eq!(u32::pick_between(0, u32::MAX, random), random as u32);
            let full = u128::pick_between(0, u128::MAX, random);
            assert_eq!(full, random);
            let top = u128::pick_between(u128::MAX - 1, u128::MAX, random);
            assert!(top >= u128::MAX - 1);
        }
    }
}
