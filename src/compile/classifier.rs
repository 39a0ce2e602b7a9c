//! One rule set's classifier, whichever tier it is: a tag and a box, so that a lookup costs one
//! branch to reach the tier's own code.

use super::bitvector::BitVectorClassifier;
use super::crossproduct::{
    CrossListClassifier, CrossProductClassifier, CrossVectorClassifier, FrontLookup,
};
use super::kernel::Kernel;
use super::key::{FlowKey, Key};
use super::partitioned::PartitionedClassifier;
use super::small::SmallClassifier;

/// One of the tiers (see `tier::build`).
#[derive(Clone, Debug)]
pub(super) enum Classifier<A: Key> {
    CrossProduct(Box<CrossProductClassifier<A>>),
    CrossVector(Box<CrossVectorClassifier<A>>),
    CrossList(Box<CrossListClassifier<A>>),
    Flat(Box<BitVectorClassifier<A>>),
    Small(Box<SmallClassifier<A>>),
    // Boxed like the others, so that the enum is a plain tag and a pointer: telling the kinds
    // apart took 7 instructions per flow with the tree inline (its fields held the niche).
    Partitioned(Box<PartitionedClassifier<A>>),
}

impl<A: Key> Classifier<A> {
    #[inline(always)]
    pub(super) fn first_match<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Option<u32> {
        match self {
            Classifier::CrossProduct(tables) => tables.first_match(key),
            Classifier::CrossVector(classifier) => classifier.first_match(kernel, key),
            Classifier::CrossList(classifier) => classifier.first_match(kernel, key),
            Classifier::Flat(flat) => flat.first_match(kernel, key),
            Classifier::Small(small) => small.first_match(key),
            Classifier::Partitioned(partitioned) => partitioned.first_match(kernel, key),
        }
    }

    pub(super) fn memory_bytes(&self) -> usize {
        match self {
            Classifier::CrossProduct(tables) => tables.memory_bytes(),
            Classifier::CrossVector(classifier) => classifier.memory_bytes(),
            Classifier::CrossList(classifier) => classifier.memory_bytes(),
            Classifier::Flat(flat) => flat.memory_bytes(),
            Classifier::Small(small) => small.memory_bytes(),
            Classifier::Partitioned(partitioned) => partitioned.memory_bytes(),
        }
    }
}
