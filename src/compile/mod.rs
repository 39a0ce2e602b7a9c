//! Snapshot → per-target decision structures.
//!
//! Stages, for every distinct list of groups carried by a NIC (NICs with the same groups share
//! the work) and for each bare group:
//! 1. **Candidates** (S9): the rules of each direction in all the groups, classic rules of the
//!    other NicType left out.
//! 2. **Rank** (S10): sort by priority, drop before accept, group order, rule position — so the
//!    first matching rule is the deciding one, and drop-wins-ties becomes plain first match.
//! 3. **Resolve** (S5–S7): per address family, turn every rule into one set of intervals per
//!    field: group references become their members' addresses, prefix lists their CIDRs, port
//!    lists their ranges; rules that cannot match the family are left out.
//! 4. **Classify** per direction and family: one `small::SmallClassifier` up to
//!    `SMALL_MAX_RULES` (64) rules, one `bitvector::BitVectorClassifier` below
//!    `TRIAL_MIN_RULES` rules, a `partitioned::PartitionedClassifier` above
//!    [`FLAT_MAX_RULES`], and in between whichever of the two a trial finds faster (see
//!    [`Tier`], `trial` and `docs/engine.md`). Bulk engines ([`Tier::Bulk`]) also try
//!    `crossproduct::CrossProductClassifier` tables for IPv4 rule sets of
//!    `CROSS_PRODUCT_MIN_RULES` rules and more, or where those do not fit, their first
//!    phases with bit vectors (`crossproduct::CrossVectorClassifier`) and with lists for the
//!    rules of narrow addresses (`crossproduct::CrossListClassifier`), at the cost of build
//!    time.
//!
//! Per NIC, the addresses that get inner access (S11) are collected into sorted lists, and the
//! default of S12 is fixed. The platform rule (S13) needs no compiled state.

pub(crate) mod bitvector;
mod classifier;
pub(crate) mod crossproduct;
pub(crate) mod kernel;
pub(crate) mod key;
mod linear;
pub(crate) mod partitioned;
pub(crate) mod small;
mod table;
mod tier;
mod trial;

pub use small::SMALL_MAX_RULES;
pub use tier::{Tier, CROSS_PRODUCT_MIN_RULES, FLAT_MAX_RULES, TRIAL_MIN_RULES};

use crate::model::semantics::{
    default_action, inner_access_groups, is_inner_peer, is_platform_blocked,
};

use crate::model::Query;
use crate::model::{
    Action, DestPorts, Direction, EvalOptions, Family, Flow, GroupIndex, PortRange, Precedence,
    Protocol, Reason, RemoteObject, Rule, RuleRef, Snapshot, Target, Verdict,
};
use bitvector::RuleFieldSets;
use classifier::Classifier;
use crossproduct::FrontLookup;
use ipnet::IpNet;
use kernel::{Kernel, Portable};
use key::{FlowKey, Key};
use linear::{AddressSet, LinearRules};
use partitioned::{walk_lockstep, Walker, LOCKSTEP_FLOWS};
use rayon::prelude::*;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// When the tables of a group list (see [`CompiledSnapshot`]) are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompilePolicy {
    /// Every group list's tables, in parallel, when the engine is made.
    Eager,
    /// A group list's tables once about `min_flows` flows have asked about its NICs (at once,
    /// in one batch, or one by one); until then those flows take the linear path (each group's
    /// rules in S10 order, references resolved once per snapshot), which costs nothing to
    /// build. `0` builds at the first flow, `u32::MAX` never.
    OnDemand {
        /// Flows asked about a group list before its tables are built.
        min_flows: u32,
    },
}

/// Flows of one group list that repay building its tables in an interactive engine
/// ([`crate::Engine::new`]: `check`, `apply`, `audit`, `diff`).
// The measured break-even: `tests/cli/account.rs`'s ignored `break_even` prints the build time per
// group list and both paths' time per flow; on the 20 000-NIC account it gave 1 255–1 743
// flows (three runs, README "Whole accounts"). Building at the break-even costs at most twice
// what knowing the future would (the ski-rental bound).
pub const INTERACTIVE_MIN_FLOWS: u32 = 1536;

/// The same for bulk engines ([`crate::eval::EngineBuilder::bulk`], `sgsim eval`).
pub const BULK_MIN_FLOWS: u32 = 1536;

/// The compiled form of a whole snapshot: what [`crate::Engine`] evaluates with.
#[derive(Debug)]
pub struct CompiledSnapshot {
    options: EvalOptions,
    tier: Tier,
    policy: CompilePolicy,
    /// The linear path and the member sets of every group (S6, S11).
    linear: LinearRules,
    /// Shared by every target with the same group list.
    rule_sets: Vec<RuleSetSlot>,
    nics: Vec<NicPlan>,
    /// For bare-group targets: the rule set of each group on its own.
    groups: Vec<u32>,
}

impl Clone for CompiledSnapshot {
    fn clone(&self) -> Self {
        CompiledSnapshot {
            options: self.options,
            tier: self.tier,
            policy: self.policy,
            linear: self.linear.clone(),
            rule_sets: self.rule_sets.iter().map(RuleSetSlot::clone).collect(),
            nics: self.nics.clone(),
            groups: self.groups.clone(),
        }
    }
}

/// One distinct group list: its tables once built, and how many flows asked before that.
#[derive(Debug)]
struct RuleSetSlot {
    /// The first target carrying the group list; its tables are built from it.
    target: Target,
    tables: OnceLock<CompiledRuleSet>,
    flows: AtomicU64,
    /// Set by the thread that builds `tables` (see [`CompiledSnapshot::tables_slow`]).
    building: AtomicBool,
}

impl RuleSetSlot {
    fn new(target: Target) -> RuleSetSlot {
        RuleSetSlot {
            target,
            tables: OnceLock::new(),
            flows: AtomicU64::new(0),
            building: AtomicBool::new(false),
        }
    }

    fn clone(&self) -> RuleSetSlot {
        RuleSetSlot {
            target: self.target,
            tables: self.tables.clone(),
            flows: AtomicU64::new(self.flows.load(Ordering::Relaxed)),
            building: AtomicBool::new(false),
        }
    }
}

#[derive(Clone, Debug)]
struct NicPlan {
    rule_set: u32,
    /// Whether any remote address gets inner access: most NICs have none.
    has_inner_peers: bool,
    /// The NIC's groups that give inner access (S11): their members are its peers, except its
    /// own addresses that no other NIC of those groups owns.
    inner_groups: Box<[GroupIndex]>,
    /// The NIC's own addresses, and those of them that are peers all the same.
    own: Box<[IpAddr]>,
    own_peers: Box<[IpAddr]>,
}

impl NicPlan {
    /// Whether `remote` gets inner access (S11).
    #[inline(always)]
    fn gives_inner_access(&self, members: &[AddressSet], remote: IpAddr) -> bool {
        if self.own.contains(&remote) {
            return self.own_peers.contains(&remote);
        }
        self.inner_groups
            .iter()
            .any(|&g| members[g as usize].contains(remote))
    }
}

/// Both directions of one group list.
#[derive(Clone, Debug)]
struct CompiledRuleSet {
    /// Indexed by `Direction as usize`.
    directions: [DirectionClassifiers; 2],
}

#[derive(Clone, Debug)]
struct DirectionClassifiers {
    default: Action,
    v4: RankedClassifier<u32>,
    v6: RankedClassifier<u128>,
}

/// Where [`CompiledSnapshot::route`] sends a flow.
enum Route<'a> {
    Decided(Verdict),
    V4(&'a DirectionClassifiers, FlowKey<u32>),
    V6(&'a DirectionClassifiers, FlowKey<u128>),
}

/// Queries of one target and direction, bound for a bit vector or cross-product tables:
/// everything [`CompiledSnapshot::route`] finds per flow is found once for all of them, and an
/// IPv4 flow goes straight to the classifier unless S13 or S11 may decide it.
// PERF: with the route per flow, a 1K-rule batch on cross-product tables was ~190 instructions
// per flow, half of them outside the tables' lookup; this way ~135 (acl1_1k: ~76 -> ~95 M/s).
struct TargetRun<'a> {
    ranked: &'a RankedClassifier<u32>,
    ingress: bool,
    /// Whether S13 may apply (platform rules on, egress).
    platform_rules: bool,
    /// The NIC, if it gives inner access to anyone (S11).
    inner_peers: Option<&'a NicPlan>,
    members: &'a [AddressSet],
}

/// The whole route of S14, for the flows of a [`TargetRun`] that its lean loop leaves (IPv6,
/// and those S13 or S11 may decide).
///
/// PERF: out of line, with the portable kernel. Inlined into every lean loop, the route made
/// them slower (acl1_1k 84 -> 74 M flows/s, AMD EPYC); as a closure, it had been compiled
/// without the entry point's target features, so a vector kernel's intrinsics stayed calls.
struct FullRoute<'a> {
    compiled: &'a CompiledSnapshot,
    snapshot: &'a Snapshot,
}

impl FullRoute<'_> {
    #[inline(never)]
    fn check(&self, query: &Query) -> Verdict {
        self.compiled
            .check(Portable, self.snapshot, query.target, &query.flow)
    }
}

impl TargetRun<'_> {
    /// Decides `queries` into `out`; `full` decides the flows that need the whole route.
    #[inline(always)]
    fn decide<K: Kernel>(
        &self,
        kernel: K,
        full: &FullRoute<'_>,
        queries: &[Query],
        out: &mut [Verdict],
    ) {
        let outcomes = &self.ranked.outcomes;
        match &self.ranked.classifier {
            // The reads of the last table (megabytes for some 1K-rule sets, beyond L2) are
            // then in flight together.
            Classifier::CrossProduct(tables) => self.in_two_steps(
                queries,
                out,
                full,
                |key| tables.last_index(key),
                |place| outcomes.entry(tables.last_entry(place)),
            ),
            Classifier::CrossVector(front) => {
                self.front_in_two_steps(kernel, &**front, queries, out, full)
            }
            Classifier::CrossList(front) => {
                self.front_in_two_steps(kernel, &**front, queries, out, full)
            }
            classifier => {
                for (query, out) in queries.iter().zip(out) {
                    *out = match self.key(&query.flow) {
                        Some(key) => outcomes.verdict(classifier.first_match(kernel, &key)),
                        None => full.check(query),
                    };
                }
            }
        }
    }

    /// [`Self::in_two_steps`] for the classifiers that start with the front: the loads of the
    /// front's tables (megabytes at 10K rules) of a group of flows are in flight together, and
    /// the front with lists starts the loads of their list ids there too. PERF: ipc1_10k ~15 ->
    /// ~17 M/s with the front with vectors.
    #[inline(always)]
    fn front_in_two_steps<K: Kernel>(
        &self,
        kernel: K,
        front: &impl FrontLookup<u32>,
        queries: &[Query],
        out: &mut [Verdict],
        full: &FullRoute<'_>,
    ) {
        let outcomes = &self.ranked.outcomes;
        self.in_two_steps(
            queries,
            out,
            full,
            |key| front.classes(key),
            |classes| outcomes.verdict(front.first_match_of(kernel, classes)),
        );
    }

    /// Decides `queries` into `out` a group of [`LOCKSTEP_FLOWS`] at a time: `first` for every
    /// flow of the group, then `finish` for every flow, so that the finishing loads of the
    /// group are in flight together; `full` decides the flows that need the whole route.
    #[inline(always)]
    fn in_two_steps<T: Copy>(
        &self,
        queries: &[Query],
        out: &mut [Verdict],
        full: &FullRoute<'_>,
        first: impl Fn(&FlowKey<u32>) -> T,
        finish: impl Fn(T) -> Verdict,
    ) {
        let mut halfway = [None; LOCKSTEP_FLOWS];
        for (queries, out) in queries
            .chunks(LOCKSTEP_FLOWS)
            .zip(out.chunks_mut(LOCKSTEP_FLOWS))
        {
            for (query, halfway) in queries.iter().zip(&mut halfway) {
                *halfway = self.key(&query.flow).map(|key| first(&key));
            }
            for ((query, &halfway), out) in queries.iter().zip(&halfway).zip(out) {
                *out = match halfway {
                    Some(halfway) => finish(halfway),
                    None => full.check(query),
                };
            }
        }
    }

    /// The IPv4 key of `flow`, unless `flow` is IPv6 or S13 or S11 may decide it.
    #[inline(always)]
    fn key(&self, flow: &Flow) -> Option<FlowKey<u32>> {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (flow.src, flow.dst) else {
            return None;
        };
        let (src, dst) = (u32::from(src), u32::from(dst));
        let (remote, local) = if self.ingress { (src, dst) } else { (dst, src) };
        let decided_before_rules = (self.platform_rules && is_platform_blocked(flow))
            || self.inner_peers.is_some_and(|plan| {
                plan.gives_inner_access(self.members, IpAddr::V4(remote.into()))
            });
        (!decided_before_rules).then(|| FlowKey::of(flow, remote, local))
    }
}

impl DirectionClassifiers {
    fn default_verdict(&self) -> Verdict {
        Verdict {
            action: self.default,
            reason: Reason::Default,
        }
    }
}

/// The verdict for "no rule matched" (S12) and then, per rank, the verdict of its rule, whole:
/// a decision is one 16-byte copy, with no branch on whether a rule matched.
#[derive(Clone, Debug)]
struct Outcomes {
    verdicts: Vec<Verdict>,
}

impl Outcomes {
    fn new(default: Action, rules: &[RuleRef], actions: &[Action]) -> Outcomes {
        let mut verdicts = vec![Verdict {
            action: default,
            reason: Reason::Default,
        }];
        verdicts.extend(rules.iter().zip(actions).map(|(&rule, &action)| Verdict {
            action,
            reason: Reason::Rule(rule),
        }));
        Outcomes { verdicts }
    }

    /// The verdict of the first matching rule's rank, or the default.
    #[inline(always)]
    fn verdict(&self, rank: Option<u32>) -> Verdict {
        self.entry(rank.map_or(0, |rank| rank + 1))
    }

    /// The verdict at `rank + 1`, or the default at 0.
    #[inline(always)]
    fn entry(&self, entry: u32) -> Verdict {
        self.verdicts[entry as usize]
    }
}

/// A classifier and, per rank, the rule it stands for.
#[derive(Clone, Debug)]
struct RankedClassifier<A: Key> {
    classifier: Classifier<A>,
    outcomes: Outcomes,
}

impl CompiledSnapshot {
    /// Plans every target; builds tables now ([`CompilePolicy::Eager`]) or as flows ask.
    pub fn new<'s>(
        snapshot: &'s Snapshot,
        options: EvalOptions,
        tier: Tier,
        policy: CompilePolicy,
    ) -> CompiledSnapshot {
        let linear = LinearRules::new(snapshot, &options);
        let mut rule_sets = Vec::new();
        let mut rule_set_of: HashMap<&[GroupIndex], u32> = HashMap::new();
        let mut intern = |groups: &'s [GroupIndex], target: Target| -> u32 {
            *rule_set_of.entry(groups).or_insert_with(|| {
                rule_sets.push(RuleSetSlot::new(target));
                (rule_sets.len() - 1) as u32
            })
        };
        let nics: Vec<u32> = (0..snapshot.nics().len() as u32)
            .map(|nic| {
                let target = Target::Nic(nic);
                intern(snapshot.target_groups(target), target)
            })
            .collect();
        let groups = (0..snapshot.groups().len() as u32)
            .map(|group| {
                let target = Target::Group(group);
                intern(snapshot.target_groups(target), target)
            })
            .collect();
        let nics = nics
            .into_iter()
            .enumerate()
            .map(|(nic, rule_set)| nic_plan(snapshot, &linear, nic as u32, rule_set))
            .collect();
        let compiled = CompiledSnapshot {
            options,
            tier,
            policy,
            linear,
            rule_sets,
            nics,
            groups,
        };
        if policy == CompilePolicy::Eager {
            compiled.rule_sets.par_iter().for_each(|slot| {
                slot.tables.get_or_init(|| {
                    CompiledRuleSet::new(snapshot, slot.target, &compiled.options, tier)
                });
            });
        }
        compiled
    }

    /// The tables of rule set `index`, building them if `flows` more flows make them due
    /// ([`CompilePolicy`]); `None` sends the flows down the linear path.
    #[inline(always)]
    fn tables(&self, snapshot: &Snapshot, index: u32, flows: u64) -> Option<&CompiledRuleSet> {
        let slot = &self.rule_sets[index as usize];
        if let Some(tables) = slot.tables.get() {
            return Some(tables);
        }
        self.tables_slow(snapshot, slot, flows)
    }

    #[cold]
    #[inline(never)]
    fn tables_slow<'a>(
        &'a self,
        snapshot: &Snapshot,
        slot: &'a RuleSetSlot,
        flows: u64,
    ) -> Option<&'a CompiledRuleSet> {
        let due = match self.policy {
            CompilePolicy::Eager => true,
            CompilePolicy::OnDemand { min_flows } => {
                let seen = slot.flows.fetch_add(flows, Ordering::Relaxed) + flows;
                min_flows != u32::MAX && seen >= u64::from(min_flows)
            }
        };
        if !due {
            return None;
        }
        // PERF: one thread builds; the others' flows take the linear path meanwhile instead of
        // waiting for the tables (a replay's second thread sat idle for the ~40 ms a 1000-rule
        // NIC's tables take). Both paths are exact; should the build panic, the rule set stays
        // on the linear path.
        if slot.building.swap(true, Ordering::Acquire) {
            return slot.tables.get();
        }
        Some(
            slot.tables.get_or_init(|| {
                CompiledRuleSet::new(snapshot, slot.target, &self.options, self.tier)
            }),
        )
    }

    /// How many distinct group lists have tables built (for benchmarks and tests).
    pub fn built_rule_sets(&self) -> (usize, usize) {
        let built = self
            .rule_sets
            .iter()
            .filter(|slot| slot.tables.get().is_some())
            .count();
        (built, self.rule_sets.len())
    }

    /// Decides one flow (S14: platform, inner access, custom rules, default).
    #[inline(always)]
    pub fn check<K: Kernel>(
        &self,
        kernel: K,
        snapshot: &Snapshot,
        target: Target,
        flow: &Flow,
    ) -> Verdict {
        match self.route(snapshot, target, flow) {
            Route::Decided(verdict) => verdict,
            Route::V4(classifiers, key) => classifiers.v4.decide(kernel, &key),
            Route::V6(classifiers, key) => classifiers.v6.decide(kernel, &key),
        }
    }

    /// Decides `queries` into `out` (same length), as [`CompiledSnapshot::check`] would one by
    /// one. A run of queries with the same target and direction takes a lean loop
    /// (`TargetRun`), unless the target's IPv4 rules are a partitioned tree or its tables are
    /// not built (and the run does not make them due); those go through
    /// `CompiledSnapshot::check_mixed`.
    #[inline(always)]
    pub fn check_batch<K: Kernel>(
        &self,
        kernel: K,
        snapshot: &Snapshot,
        queries: &[Query],
        out: &mut [Verdict],
    ) {
        // Queries before this one that no lean loop took yet.
        let mut mixed_from = 0;
        let mut start = 0;
        while start < queries.len() {
            let first = &queries[start];
            let end = start
                + queries[start..]
                    .iter()
                    .position(|q| {
                        q.target != first.target || q.flow.direction != first.flow.direction
                    })
                    .unwrap_or(queries.len() - start);
            if let Some(run) = self.target_run(
                snapshot,
                first.target,
                first.flow.direction,
                (end - start) as u64,
            ) {
                self.check_mixed(
                    kernel,
                    snapshot,
                    &queries[mixed_from..start],
                    &mut out[mixed_from..start],
                );
                let full = FullRoute {
                    compiled: self,
                    snapshot,
                };
                run.decide(kernel, &full, &queries[start..end], &mut out[start..end]);
                mixed_from = end;
            }
            start = end;
        }
        self.check_mixed(
            kernel,
            snapshot,
            &queries[mixed_from..],
            &mut out[mixed_from..],
        );
    }

    /// The lean loop for `target` and `direction`, unless their IPv4 rules are a partitioned
    /// tree (whose flows walk in lockstep, in [`CompiledSnapshot::check_mixed`]) or have no
    /// tables yet.
    fn target_run(
        &self,
        snapshot: &Snapshot,
        target: Target,
        direction: Direction,
        flows: u64,
    ) -> Option<TargetRun<'_>> {
        let (rule_set, inner_peers) = self.resolve(target);
        let ranked = &self.tables(snapshot, rule_set, flows)?.directions[direction as usize].v4;
        if let Classifier::Partitioned(_) = ranked.classifier {
            return None;
        }
        Some(TargetRun {
            ranked,
            ingress: direction == Direction::Ingress,
            platform_rules: self.options.platform_rules && direction == Direction::Egress,
            inner_peers,
            members: &self.linear.members,
        })
    }

    /// As [`CompiledSnapshot::check_batch`], for queries of any targets, one by one, except that
    /// flows bound for partitioned classifiers walk their trees in groups of [`LOCKSTEP_FLOWS`]
    /// (see [`partitioned::walk_lockstep`]).
    #[inline(always)]
    fn check_mixed<K: Kernel>(
        &self,
        kernel: K,
        snapshot: &Snapshot,
        queries: &[Query],
        out: &mut [Verdict],
    ) {
        if queries.is_empty() {
            return;
        }
        // The flows of a chunk that walk trees: where their verdicts go, and their walks.
        let mut waiting: Vec<(usize, &RankedClassifier<u32>)> = Vec::with_capacity(LOCKSTEP_FLOWS);
        let mut walkers: Vec<Walker<'_, u32>> = Vec::with_capacity(LOCKSTEP_FLOWS);
        for (queries, out) in queries
            .chunks(LOCKSTEP_FLOWS)
            .zip(out.chunks_mut(LOCKSTEP_FLOWS))
        {
            waiting.clear();
            walkers.clear();
            for (slot, query) in queries.iter().enumerate() {
                out[slot] = match self.route(snapshot, query.target, &query.flow) {
                    Route::V4(classifiers, key) => match &classifiers.v4.classifier {
                        Classifier::Partitioned(tree) => {
                            waiting.push((slot, &classifiers.v4));
                            walkers.push(Walker::new(tree, key));
                            continue;
                        }
                        Classifier::CrossProduct(_)
                        | Classifier::CrossVector(_)
                        | Classifier::CrossList(_)
                        | Classifier::Flat(_)
                        | Classifier::Small(_) => classifiers.v4.decide(kernel, &key),
                    },
                    Route::V6(classifiers, key) => classifiers.v6.decide(kernel, &key),
                    Route::Decided(verdict) => verdict,
                };
            }
            walk_lockstep(kernel, &mut walkers);
            for (&(slot, ranked), walker) in waiting.iter().zip(&walkers) {
                out[slot] = ranked.outcomes.verdict(walker.first_match());
            }
        }
    }

    /// The rule set of `target`, and its NIC's plan if that NIC gives anyone inner access (most
    /// give none, so most flows need not look up their remote address).
    #[inline(always)]
    fn resolve(&self, target: Target) -> (u32, Option<&NicPlan>) {
        match target {
            Target::Nic(nic) => {
                let plan = &self.nics[nic as usize];
                (plan.rule_set, plan.has_inner_peers.then_some(plan))
            }
            Target::Group(group) => (self.groups[group as usize], None),
        }
    }

    /// The steps of S14 before the custom rules, and the classifier and key for the rest (or
    /// the verdict of the linear path, for a group list without tables).
    #[inline(always)]
    fn route(&self, snapshot: &Snapshot, target: Target, flow: &Flow) -> Route<'_> {
        if self.options.platform_rules && is_platform_blocked(flow) {
            return Route::Decided(Verdict {
                action: Action::Drop,
                reason: Reason::Platform,
            });
        }
        let (rule_set, inner_peers) = self.resolve(target);
        if inner_peers
            .is_some_and(|plan| plan.gives_inner_access(&self.linear.members, flow.remote()))
        {
            return Route::Decided(Verdict {
                action: Action::Accept,
                reason: Reason::InnerAccess,
            });
        }
        let Some(tables) = self.tables(snapshot, rule_set, 1) else {
            return Route::Decided(self.linear_verdict(snapshot, target, flow));
        };
        let classifiers = &tables.directions[flow.direction as usize];
        match (flow.src, flow.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Route::V4(
                classifiers,
                FlowKey::of_ends(flow, u32::from(src), u32::from(dst)),
            ),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Route::V6(
                classifiers,
                FlowKey::of_ends(flow, u128::from(src), u128::from(dst)),
            ),
            // Flow::parse never builds mixed families; nothing can match such a flow.
            _ => Route::Decided(classifiers.default_verdict()),
        }
    }

    /// The custom rules and the default (S9, S10, S12) by the linear path.
    #[cold]
    fn linear_verdict(&self, snapshot: &Snapshot, target: Target, flow: &Flow) -> Verdict {
        let rule = if flow.src.is_ipv4() == flow.dst.is_ipv4() {
            self.linear
                .deciding_rule(snapshot.target_groups(target), flow)
        } else {
            None // as the tables: nothing matches a flow of mixed families
        };
        match rule {
            Some((rule, action)) => Verdict {
                action,
                reason: Reason::Rule(rule),
            },
            None => Verdict {
                action: default_action(snapshot, target, flow.direction),
                reason: Reason::Default,
            },
        }
    }

    /// Heap bytes of the compiled structures (the tables built so far, the linear path, the
    /// per-NIC plans).
    pub fn memory_bytes(&self) -> usize {
        let sets: usize = self
            .rule_sets
            .iter()
            .filter_map(|slot| slot.tables.get())
            .flat_map(|set| set.directions.iter())
            .map(|d| d.v4.memory_bytes() + d.v6.memory_bytes())
            .sum();
        let nics: usize = self
            .nics
            .iter()
            .map(|n| {
                std::mem::size_of::<NicPlan>()
                    + n.inner_groups.len() * 4
                    + (n.own.len() + n.own_peers.len()) * std::mem::size_of::<IpAddr>()
            })
            .sum();
        sets + nics
            + self.linear.memory_bytes()
            + self.groups.len() * 4
            + self.rule_sets.len() * std::mem::size_of::<RuleSetSlot>()
    }
}

/// A NIC's plan: its group list's slot and who gets inner access (S11).
fn nic_plan(snapshot: &Snapshot, linear: &LinearRules, nic: u32, rule_set: u32) -> NicPlan {
    let own_nic = snapshot.nic(nic);
    let inner_groups: Box<[GroupIndex]> = inner_access_groups(snapshot, nic).into();
    let mut own: Vec<IpAddr> = own_nic.addresses.clone();
    own.sort_unstable();
    own.dedup();
    let own_peers: Box<[IpAddr]> = own
        .iter()
        .copied()
        .filter(|addr| is_inner_peer(snapshot, nic, &inner_groups, addr))
        .collect();
    // Every member of an inner-access group is a peer but the NIC's own addresses that are not.
    let not_peers = own.len() - own_peers.len();
    let has_inner_peers = inner_groups.iter().any(|&g| {
        let members = &linear.members[g as usize];
        members.v4.len() + members.v6.len() > not_peers
    });
    NicPlan {
        rule_set,
        has_inner_peers,
        inner_groups,
        own: own.into(),
        own_peers,
    }
}

impl<A: Key> RankedClassifier<A> {
    /// The verdict of the first matching rule, or the default (S12) without one.
    #[inline(always)]
    fn decide<K: Kernel>(&self, kernel: K, key: &FlowKey<A>) -> Verdict {
        self.outcomes
            .verdict(self.classifier.first_match(kernel, key))
    }

    fn memory_bytes(&self) -> usize {
        self.classifier.memory_bytes()
            + self.outcomes.verdicts.len() * std::mem::size_of::<Verdict>()
    }
}

impl CompiledRuleSet {
    fn new(
        snapshot: &Snapshot,
        target: Target,
        options: &EvalOptions,
        tier: Tier,
    ) -> CompiledRuleSet {
        let build = |direction: Direction| {
            let ranked = ranked_candidates(snapshot, target, direction, options);
            let default = default_action(snapshot, target, direction);
            DirectionClassifiers {
                default,
                v4: build_ranked(snapshot, &ranked, default, Family::V4, tier, v4_interval),
                v6: build_ranked(snapshot, &ranked, default, Family::V6, tier, v6_interval),
            }
        };
        CompiledRuleSet {
            directions: [build(Direction::Ingress), build(Direction::Egress)],
        }
    }
}

/// Stages 1–2: the candidates of one direction in S10 order.
pub(crate) fn ranked_candidates<'a>(
    snapshot: &'a Snapshot,
    target: Target,
    direction: Direction,
    options: &EvalOptions,
) -> Vec<(RuleRef, &'a Rule)> {
    let mut candidates: Vec<(Precedence, RuleRef, &Rule)> = Vec::new();
    for (group_position, &group_index) in snapshot.target_groups(target).iter().enumerate() {
        let group = snapshot.group(group_index);
        for (rule_position, rule) in group.rules.iter().enumerate() {
            if rule.direction != direction
                || (group.is_classic() && rule.nic_type != options.nic_type)
            {
                continue;
            }
            let key = Precedence::of(rule, group_position, rule_position);
            let rule_ref = RuleRef {
                group: group_index,
                rule: rule_position as u32,
            };
            candidates.push((key, rule_ref, rule));
        }
    }
    candidates.sort_unstable_by_key(|(key, _, _)| *key);
    candidates
        .into_iter()
        .map(|(_, rule_ref, rule)| (rule_ref, rule))
        .collect()
}

/// Stages 3–4 for one family: interval sets per field, then the classifier.
fn build_ranked<A: Key>(
    snapshot: &Snapshot,
    ranked: &[(RuleRef, &Rule)],
    default: Action,
    family: Family,
    tier: Tier,
    to_interval: impl Fn(&IpNet) -> Option<(A, A)>,
) -> RankedClassifier<A> {
    let resolved = resolve_ranked(snapshot, ranked, family, to_interval);
    RankedClassifier {
        classifier: tier::build(&resolved.sets, tier),
        outcomes: Outcomes::new(default, &resolved.rules, &resolved.actions),
    }
}

/// Stage 3 for one family: the candidates that can match it, in rank order, with the intervals
/// each of their fields accepts.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedRules<A: Key> {
    pub rules: Vec<RuleRef>,
    pub actions: Vec<Action>,
    pub sets: RuleFieldSets<A>,
}

/// The resolved, ranked rules of one target and direction, per family — what the classifiers
/// are built from, for analyses that reason about whole rule sets (see `crate::analysis`).
pub(crate) fn resolved_rules(
    snapshot: &Snapshot,
    target: Target,
    direction: Direction,
    options: &EvalOptions,
) -> (ResolvedRules<u32>, ResolvedRules<u128>) {
    let ranked = ranked_candidates(snapshot, target, direction, options);
    (
        resolve_ranked(snapshot, &ranked, Family::V4, v4_interval),
        resolve_ranked(snapshot, &ranked, Family::V6, v6_interval),
    )
}

pub(crate) fn v4_interval(net: &IpNet) -> Option<(u32, u32)> {
    match net {
        IpNet::V4(v4) => Some((u32::from(v4.network()), u32::from(v4.broadcast()))),
        IpNet::V6(_) => None,
    }
}

pub(crate) fn v6_interval(net: &IpNet) -> Option<(u128, u128)> {
    match net {
        IpNet::V6(v6) => Some((u128::from(v6.network()), u128::from(v6.broadcast()))),
        IpNet::V4(_) => None,
    }
}

fn resolve_ranked<A: Key>(
    snapshot: &Snapshot,
    ranked: &[(RuleRef, &Rule)],
    family: Family,
    to_interval: impl Fn(&IpNet) -> Option<(A, A)>,
) -> ResolvedRules<A> {
    let mut sets = RuleFieldSets::default();
    let mut rules = Vec::new();
    let mut actions = Vec::new();
    for &(rule_ref, rule) in ranked {
        if rule.family().is_some_and(|f| f != family) {
            continue;
        }
        let Some(remote) = remote_intervals(snapshot, &rule.remote, family, &to_interval) else {
            continue;
        };
        let local = match &rule.local {
            Some(net) => match to_interval(net) {
                Some(interval) => vec![interval],
                None => continue,
            },
            None => full_domain(),
        };
        let Some(dest_port) = dest_port_intervals(snapshot, rule) else {
            continue;
        };
        let protocol = match rule.protocol {
            Protocol::All => full_domain(),
            Protocol::Number(n) => vec![(n, n)],
        };
        let source_port = match (rule.protocol.has_ports(), rule.source_ports) {
            (true, Some(PortRange { lo, hi })) => vec![(lo, hi)],
            _ => full_domain(),
        };
        sets.protocol.push(protocol);
        sets.dest_port.push(dest_port);
        sets.source_port.push(source_port);
        sets.remote.push(remote);
        sets.local.push(local);
        rules.push(rule_ref);
        actions.push(rule.action);
    }
    ResolvedRules {
        rules,
        actions,
        sets,
    }
}

/// Every value of a field.
fn full_domain<K: Key>() -> Vec<(K, K)> {
    vec![(K::default(), K::MAX)]
}

/// S5–S7: the remote object as intervals of one family; `None` when the rule can never match
/// it (a CIDR of the other family, a missing prefix list or one of the other family).
fn remote_intervals<A: Key>(
    snapshot: &Snapshot,
    remote: &RemoteObject,
    family: Family,
    to_interval: &impl Fn(&IpNet) -> Option<(A, A)>,
) -> Option<Vec<(A, A)>> {
    match remote {
        RemoteObject::Cidr(net) => to_interval(net).map(|i| vec![i]),
        RemoteObject::Group(id) => Some(
            snapshot
                .group_member_addresses(id)
                .iter()
                .filter_map(|&addr| to_interval(&IpNet::from(addr)))
                .collect(),
        ),
        RemoteObject::PrefixList(id) => {
            let list = snapshot.prefix_list(id).filter(|l| l.family == family)?;
            Some(list.cidrs.iter().filter_map(to_interval).collect())
        }
    }
}

/// S3 + S7: destination ports as intervals; portless protocols cover every port; a missing
/// port list makes the rule unmatchable (`None`).
fn dest_port_intervals(snapshot: &Snapshot, rule: &Rule) -> Option<Vec<(u16, u16)>> {
    if !rule.protocol.has_ports() {
        return Some(vec![(0, u16::MAX)]);
    }
    match &rule.dest_ports {
        DestPorts::Any => Some(vec![(0, u16::MAX)]),
        DestPorts::Range(range) => Some(vec![(range.lo, range.hi)]),
        DestPorts::List(id) => snapshot
            .port_list(id)
            .map(|list| list.ranges.iter().map(|r| (r.lo, r.hi)).collect()),
    }
}

/// S11: the addresses of other NICs that share a basic group with InnerAccessPolicy Accept:
/// the members of the NIC's inner-access groups, but its own addresses that no other NIC of
/// those groups owns.
pub(crate) fn inner_peers(snapshot: &Snapshot, nic: u32) -> (Vec<u32>, Vec<u128>) {
    let own = snapshot.nic(nic);
    let accept_groups = inner_access_groups(snapshot, nic);
    let mut peers = Vec::new();
    for &g in &accept_groups {
        peers.extend_from_slice(snapshot.group_member_addresses(&snapshot.group(g).id));
    }
    peers.sort_unstable();
    peers.dedup();
    peers.retain(|addr| {
        !own.addresses.contains(addr) || is_inner_peer(snapshot, nic, &accept_groups, addr)
    });
    let set = AddressSet::of(&peers);
    (set.v4, set.v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While another thread builds a rule set's tables, a flow of it is told to take the
    /// linear path (`None`) instead of waiting; once built, the tables are used.
    #[test]
    fn tables_being_built_elsewhere_send_flows_down_the_linear_path() {
        let snapshot =
            Snapshot::from_json_str(include_str!("../../examples/vpc-web.json")).unwrap();
        let policy = CompilePolicy::OnDemand { min_flows: 0 };
        let compiled = CompiledSnapshot::new(&snapshot, EvalOptions::default(), Tier::Auto, policy);
        let slot = &compiled.rule_sets[0];
        slot.building.store(true, Ordering::Relaxed);
        assert!(compiled.tables(&snapshot, 0, 1).is_none());
        assert!(
            slot.tables.get().is_none(),
            "built by a thread that is not the builder"
        );
        slot.building.store(false, Ordering::Relaxed);
        assert!(compiled.tables(&snapshot, 0, 1).is_some());
        // The builder flag stays set: later flows find the tables without it.
        assert!(slot.building.load(Ordering::Relaxed));
        assert!(compiled.tables(&snapshot, 0, 1).is_some());
    }
}
