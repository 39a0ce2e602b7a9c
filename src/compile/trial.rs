//! Picking a tier by measurement: for mid-sized rule sets, build both and time them on a sample
//! of flows drawn from the rules themselves (as ClassBench traces are).
//!
//! The choice changes only speed and memory, never a verdict: both tiers are exact, and the
//! differential tests pit each against the reference evaluator.

use super::bitvector::{Key, RuleFieldSets};
use super::kernel::{run_with_best_kernel, Kernel, KernelTask};
use super::partitioned::FlowKey;
use super::Classifier;
use crate::bench::synth::Rng;
use std::time::{Duration, Instant};

/// Flows per timing pass: enough to cover the structures' hot paths, little enough that a
/// trial costs a few milliseconds at 16K rules.
const SAMPLE_FLOWS: usize = 2048;

/// Each classifier is timed this many times, alternately; the best pass counts, as the machine
/// may be busy with other work during any one.
const PASSES: usize = 3;

/// The classifier of `flat` and `tree` that decides a sample of flows faster.
pub(super) fn faster<A: Key>(
    sets: &RuleFieldSets<A>,
    flat: Classifier<A>,
    tree: Classifier<A>,
) -> Classifier<A> {
    let keys = sample_keys(sets, SAMPLE_FLOWS);
    let [flat_time, tree_time] = run_with_best_kernel(Trial {
        candidates: [&flat, &tree],
        keys: &keys,
    });
    if tree_time < flat_time {
        tree
    } else {
        flat
    }
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
    candidates: [&'a Classifier<A>; 2],
    keys: &'a [FlowKey<A>],
}

impl<A: Key> KernelTask for Trial<'_, A> {
    type Output = [Duration; 2];

    /// The best time of each candidate over all the keys, run the way a batch would run it.
    #[inline(always)]
    fn run<K: Kernel>(self, kernel: K) -> [Duration; 2] {
        let mut best = [Duration::MAX; 2];
        let mut matches = vec![None; self.keys.len()];
        for _ in 0..PASSES {
            for (candidate, best) in self.candidates.iter().zip(&mut best) {
                let start = Instant::now();
                match candidate {
                    Classifier::Flat(flat) => {
                        for (key, slot) in self.keys.iter().zip(&mut matches) {
                            *slot = flat.first_match(kernel, key);
                        }
                    }
                    Classifier::Partitioned(tree) => {
                        tree.first_matches(kernel, self.keys, &mut matches)
                    }
                }
                std::hint::black_box(&matches);
                *best = (*best).min(start.elapsed());
            }
        }
        best
    }
}
