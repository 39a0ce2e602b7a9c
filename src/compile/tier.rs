//! Which classifier a rule set gets: the tiers, the sizes that pick among them, and the
//! building of the chosen one (timed against its rivals by [`super::trial`] where size alone
//! does not decide).

use super::bitvector::{BitVectorClassifier, RuleFieldSets, DENSE_MIN_RULES};
use super::classifier::Classifier;
use super::crossproduct::{
    self, CrossListClassifier, CrossProductClassifier, CrossVectorClassifier,
};
use super::key::Key;
use super::partitioned::{self, PartitionedClassifier};
use super::small::{SmallClassifier, SMALL_MAX_RULES};
use super::trial;

/// Rule sets larger than this are always partitioned.
// PERF: at 100K rules one bit vector needs 1.25 GB and 17 s to build.
pub const FLAT_MAX_RULES: usize = 16384;

/// From this size up to [`FLAT_MAX_RULES`], both tiers are built and the one that decides a
/// sample of flows faster is kept (see `compile/trial.rs`): which wins depends on the rule
/// set, not only its size.
// PERF: at 10K rules the tree ran fw1 at 2× the bit vector's rate and acl1 and ipc1 at half of
// it; at 1K the bit vector won on all three by 4–6×.
pub const TRIAL_MIN_RULES: usize = 2048;

/// Which classifier tier to build. [`Tier::Auto`] picks by rule count (and by a timed trial
/// between [`TRIAL_MIN_RULES`] and [`FLAT_MAX_RULES`]); the others exist so that tests and
/// benchmarks can pit every tier against the reference evaluator and each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tier {
    /// By size: the small classifier up to [`SMALL_MAX_RULES`], the bit vector below
    /// [`TRIAL_MIN_RULES`], the tree above [`FLAT_MAX_RULES`], the faster of the two in a timed
    /// trial in between.
    #[default]
    Auto,
    /// The small classifier (one 64-bit word of rules per field interval) where the rule set
    /// has at most [`SMALL_MAX_RULES`] rules, else the bit vector.
    Small,
    /// One bit vector whatever the size.
    Flat,
    /// One bit vector with dense field maps whatever the size (see
    /// `bitvector::DENSE_MIN_RULES`).
    FlatDense,
    /// The partitioned tree, with leaves of at most this many rules.
    Partitioned {
        /// The most rules a leaf of the tree holds before it is split.
        leaf_max_rules: usize,
    },
    /// For bulk evaluation: as [`Tier::Auto`], but IPv4 rule sets of
    /// [`CROSS_PRODUCT_MIN_RULES`] up to [`FLAT_MAX_RULES`] rules also try RFC cross-product
    /// tables where they fit `crossproduct::Budget` — on the 1K ClassBench sets about three
    /// times the bit vector's throughput, for 5–100 ms of build instead of 1–2 ms — or else
    /// the tables' first phases with bit vectors and with lists, and from [`TRIAL_MIN_RULES`]
    /// trees with leaves of 32 and of 8 rules; the fastest is kept.
    Bulk,
    /// RFC cross-product tables where they fit the default budget (IPv4), else the bit vector.
    CrossProduct,
    /// The cross-product tables' first phases and the bit vectors of their classes
    /// (`CrossVectorClassifier`) where they fit the default budget (IPv4), else the bit vector.
    CrossVector,
    /// The cross-product tables' first phases, then lists by address classes and small tables
    /// for the rules wide in both addresses (`CrossListClassifier`) where they fit the default
    /// budget (IPv4) and some rule is narrow in an address, else the bit vector.
    CrossList,
}

/// Below this many rules the bit vector is fast enough, and cross-product tables (a few
/// hundred KiB at least) would cost more memory than they save time.
pub const CROSS_PRODUCT_MIN_RULES: usize = 256;

/// The classifier of one rule set for `tier`.
pub(super) fn build<A: Key>(sets: &RuleFieldSets<A>, tier: Tier) -> Classifier<A> {
    let flat = |dense| Classifier::Flat(Box::new(BitVectorClassifier::build(sets, dense)));
    let sized_flat = || flat(sets.len() >= DENSE_MIN_RULES);
    let tree = |leaf_max_rules| {
        Classifier::Partitioned(Box::new(PartitionedClassifier::build(sets, leaf_max_rules)))
    };
    let cross_product = || {
        CrossProductClassifier::build(sets, crossproduct::Budget::default())
            .map(|tables| Classifier::CrossProduct(Box::new(tables)))
    };
    let cross_vector = || {
        CrossVectorClassifier::build(sets, crossproduct::Budget::default())
            .map(|classifier| Classifier::CrossVector(Box::new(classifier)))
    };
    let cross_list = || {
        CrossListClassifier::build(sets, crossproduct::Budget::default())
            .map(|classifier| Classifier::CrossList(Box::new(classifier)))
    };
    let cross_fastest = || {
        crossproduct::build_fastest(sets, crossproduct::Budget::default())
            .into_iter()
            .map(|built| match built {
                crossproduct::Built::Product(tables) => Classifier::CrossProduct(Box::new(tables)),
                crossproduct::Built::Vectors(both) => Classifier::CrossVector(Box::new(both)),
                crossproduct::Built::Lists(both) => Classifier::CrossList(both),
            })
    };
    let default_tree = || tree(partitioned::DEFAULT_LEAF_MAX_RULES);
    match tier {
        Tier::Auto | Tier::Bulk | Tier::Small if sets.len() <= SMALL_MAX_RULES => {
            Classifier::Small(Box::new(SmallClassifier::build(sets)))
        }
        Tier::Auto | Tier::Bulk if sets.len() > FLAT_MAX_RULES => default_tree(),
        Tier::Bulk if sets.len() >= CROSS_PRODUCT_MIN_RULES => {
            let mut candidates = vec![sized_flat()];
            candidates.extend(cross_fastest());
            if sets.len() >= TRIAL_MIN_RULES {
                candidates.push(default_tree());
                candidates.push(tree(partitioned::SMALL_LEAF_MAX_RULES));
            }
            trial::fastest(sets, candidates)
        }
        Tier::Auto if sets.len() >= TRIAL_MIN_RULES => {
            trial::fastest(sets, vec![flat(true), default_tree()])
        }
        Tier::Auto | Tier::Bulk | Tier::Small | Tier::Flat => sized_flat(),
        Tier::FlatDense => flat(true),
        Tier::Partitioned { leaf_max_rules } => tree(leaf_max_rules),
        Tier::CrossProduct => cross_product().unwrap_or_else(sized_flat),
        Tier::CrossVector => cross_vector().unwrap_or_else(sized_flat),
        Tier::CrossList => cross_list().unwrap_or_else(sized_flat),
    }
}
