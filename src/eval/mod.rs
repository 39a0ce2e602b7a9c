//! Evaluation: one flow with its deciding rule, a connection between two NICs (S15), or a batch
//! written into the caller's buffer.

mod aligned;
pub mod bulk;
pub mod explain;
pub mod reference;

use crate::compile::kernel::{run_with_best_kernel, Kernel, KernelTask, Portable};
use crate::compile::{
    CompilePolicy, CompiledSnapshot, Tier, BULK_MIN_FLOWS, INTERACTIVE_MIN_FLOWS,
};
use crate::model::Query;
use crate::model::{
    Action, Direction, EvalOptions, Flow, NicIndex, Reason, Rule, RuleRef, SecurityGroup, Snapshot,
    Target, TargetError, Verdict,
};
use rayon::prelude::*;

/// Answers flow queries about one snapshot. Cheap to share across threads (`Send + Sync`).
///
/// ```
/// use sgsim::{Engine, Snapshot, model::{Action, Flow, Reason}};
/// let snapshot = Snapshot::from_json_str(r#"{
///   "SecurityGroupId": "sg-web", "Permissions": {"Permission": [
///     {"SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "IpProtocol": "TCP",
///      "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Policy": "Drop", "Priority": 1}]}}"#)?;
/// let engine = Engine::new(snapshot);
/// let target = engine.target("sg-web")?;
/// let flow = Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "22")?;
/// let verdict = engine.check(target, &flow);
/// let Reason::Rule(rule) = verdict.reason else { panic!("a rule decides") };
/// assert_eq!((verdict.action, engine.rule(rule).1.id.as_str()), (Action::Drop, "sgr-ssh"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    snapshot: Snapshot,
    options: EvalOptions,
    compiled: CompiledSnapshot,
}

/// The verdict on a connection from NIC A to NIC B (S15): A's egress and B's ingress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionVerdict {
    /// The verdict of the sending NIC's groups on the flow leaving it.
    pub egress: Verdict,
    /// The verdict of the receiving NIC's groups on the flow entering it.
    pub ingress: Verdict,
}

impl ConnectionVerdict {
    /// Allowed only when both sides accept.
    pub fn action(&self) -> Action {
        if self.egress.is_accept() && self.ingress.is_accept() {
            Action::Accept
        } else {
            Action::Drop
        }
    }

    /// The sides that drop, egress first (S15).
    pub fn blocking_sides(&self) -> Vec<(Direction, Verdict)> {
        [
            (Direction::Egress, self.egress),
            (Direction::Ingress, self.ingress),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_accept())
        .collect()
    }
}

/// The settings of an [`Engine`] before it is built; see [`Engine::builder`]. Unset, they are
/// those of [`Engine::new`].
#[derive(Debug)]
#[must_use = "an EngineBuilder does nothing until `build` is called"]
pub struct EngineBuilder {
    snapshot: Snapshot,
    options: EvalOptions,
    tier: Tier,
    policy: CompilePolicy,
}

impl EngineBuilder {
    /// The evaluation options (platform rules, which side of the NIC asks).
    pub fn options(mut self, options: EvalOptions) -> EngineBuilder {
        self.options = options;
        self
    }

    /// Forces a classifier tier (tests and benchmarks); [`Tier::Auto`] picks by size.
    pub fn tier(mut self, tier: Tier) -> EngineBuilder {
        self.tier = tier;
        self
    }

    /// When a group list's tables are built.
    pub fn policy(mut self, policy: CompilePolicy) -> EngineBuilder {
        self.policy = policy;
        self
    }

    /// Builds every group list's tables now, in parallel ([`CompilePolicy::Eager`]).
    pub fn eager(self) -> EngineBuilder {
        self.policy(CompilePolicy::Eager)
    }

    /// Set for evaluating many flows (`sgsim eval`): a group list asked about by at least
    /// [`BULK_MIN_FLOWS`] flows gets [`Tier::Bulk`] tables (up to ~0.1 s of build at 1 000
    /// rules, for the fastest lookups); the others take the linear path.
    pub fn bulk(self) -> EngineBuilder {
        self.tier(Tier::Bulk).policy(CompilePolicy::OnDemand {
            min_flows: BULK_MIN_FLOWS,
        })
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let compiled = CompiledSnapshot::new(&self.snapshot, self.options, self.tier, self.policy);
        Engine {
            snapshot: self.snapshot,
            options: self.options,
            compiled,
        }
    }
}

impl Engine {
    /// An engine with the default options (platform rules on, intranet side), for a few
    /// questions (`check`, `apply`, `audit`, `diff`): it compiles nothing up front; a NIC's group
    /// list gets tables once [`INTERACTIVE_MIN_FLOWS`] flows asked about it, and until then its
    /// flows take the linear path (see [`CompilePolicy`]). So one question about a 20,000-NIC
    /// account costs about the loading of the file. [`Engine::builder`] sets anything else.
    pub fn new(snapshot: Snapshot) -> Engine {
        Engine::builder(snapshot).build()
    }

    /// Starts an engine with settings other than the defaults: options, classifier tier, and when
    /// tables are built.
    ///
    /// ```
    /// use sgsim::{compile::Tier, model::EvalOptions, Engine, Snapshot};
    /// let snapshot = Snapshot::from_json_str(r#"{"SecurityGroupId": "sg-1"}"#)?;
    /// let options = EvalOptions { platform_rules: false, ..EvalOptions::default() };
    /// let engine = Engine::builder(snapshot).options(options).tier(Tier::Flat).eager().build();
    /// assert_eq!(engine.built_rule_sets(), (1, 1));
    /// # Ok::<(), sgsim::LoadError>(())
    /// ```
    pub fn builder(snapshot: Snapshot) -> EngineBuilder {
        EngineBuilder {
            snapshot,
            options: EvalOptions::default(),
            tier: Tier::Auto,
            policy: CompilePolicy::OnDemand {
                min_flows: INTERACTIVE_MIN_FLOWS,
            },
        }
    }

    /// How many distinct group lists have tables built so far, of how many.
    pub fn built_rule_sets(&self) -> (usize, usize) {
        self.compiled.built_rule_sets()
    }

    /// Heap bytes of the compiled decision structures (not counting the snapshot itself).
    pub fn memory_bytes(&self) -> usize {
        self.compiled.memory_bytes()
    }

    /// The snapshot the engine answers about.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The options every verdict is given under.
    pub fn options(&self) -> &EvalOptions {
        &self.options
    }

    /// Resolves a NIC id (or, for a NIC-less snapshot, a group id; empty picks its only group).
    pub fn target(&self, id: &str) -> Result<Target, TargetError> {
        self.snapshot.resolve_target(id)
    }

    /// The verdict on one flow at one target, in the flow's direction.
    pub fn check(&self, target: Target, flow: &Flow) -> Verdict {
        self.compiled.check(Portable, &self.snapshot, target, flow)
    }

    /// The same question answered by the reference evaluator (a linear scan of the spec).
    pub fn check_reference(&self, target: Target, flow: &Flow) -> Verdict {
        reference::evaluate(&self.snapshot, target, flow, &self.options)
    }

    /// The two-NIC question (S15): `flow` leaves `from` (egress) and enters `to` (ingress).
    /// The flow's own direction is ignored.
    pub fn check_connection(&self, from: NicIndex, to: NicIndex, flow: &Flow) -> ConnectionVerdict {
        let egress = Flow {
            direction: Direction::Egress,
            ..*flow
        };
        let ingress = Flow {
            direction: Direction::Ingress,
            ..*flow
        };
        ConnectionVerdict {
            egress: self.check(Target::Nic(from), &egress),
            ingress: self.check(Target::Nic(to), &ingress),
        }
    }

    /// Evaluates `queries` into `out` (same length) without allocating per flow.
    ///
    /// # Panics
    /// When `out.len() != queries.len()`.
    pub fn check_batch(&self, queries: &[Query], out: &mut [Verdict]) {
        assert_eq!(queries.len(), out.len(), "one output slot per query");
        run_with_best_kernel(Batch {
            compiled: &self.compiled,
            snapshot: &self.snapshot,
            queries,
            out,
        });
    }

    /// [`Engine::check_batch`] into `out`, which is cleared and then holds one verdict per
    /// query: a caller that decides batch after batch keeps one allocation.
    pub fn check_batch_into(&self, queries: &[Query], out: &mut Vec<Verdict>) {
        out.clear();
        out.resize(
            queries.len(),
            Verdict {
                action: Action::Drop,
                reason: Reason::Default,
            },
        );
        self.check_batch(queries, out);
    }

    /// [`Engine::check_batch`] across all rayon threads.
    pub fn check_batch_parallel(&self, queries: &[Query], out: &mut [Verdict]) {
        assert_eq!(queries.len(), out.len(), "one output slot per query");
        // About four chunks per thread so the threads finish together, but none so small that
        // scheduling costs more than the flows. PERF: fixed 4096-flow chunks split an
        // 8 780-flow trace into three, and two threads ran only 1.5× one.
        let chunk = (queries.len() / (4 * rayon::current_num_threads())).clamp(256, 4096);
        queries
            .par_chunks(chunk)
            .zip(out.par_chunks_mut(chunk))
            .for_each(|(queries, out)| self.check_batch(queries, out));
    }

    /// The group and rule a [`RuleRef`] names.
    pub fn rule(&self, rule_ref: RuleRef) -> (&SecurityGroup, &Rule) {
        let group = self.snapshot.group(rule_ref.group);
        (group, &group.rules[rule_ref.rule as usize])
    }
}

/// A batch of queries, evaluated with whichever kernel the CPU supports.
struct Batch<'a> {
    compiled: &'a CompiledSnapshot,
    snapshot: &'a Snapshot,
    queries: &'a [Query],
    out: &'a mut [Verdict],
}

impl KernelTask for Batch<'_> {
    type Output = ();

    /// PERF: moving groups of 4 or 16 flows through the bit-vector stages in lockstep (all
    /// classes, then all ANDs) was 10–30 % slower than one flow after the other on the 1K
    /// ClassBench sets; only tree walks, whose cache misses dominate, go in lockstep
    /// (`docs/engine.md`).
    #[inline(always)]
    fn run<K: Kernel>(self, kernel: K) {
        self.compiled
            .check_batch(kernel, self.snapshot, self.queries, self.out);
    }
}
