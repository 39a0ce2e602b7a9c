//! Measurement pieces shared by `sgsim bench` and the criterion benches: verdict counting,
//! verification against the reference evaluator, the timing loop, and a synthetic rule-set
//! generator ([`synth`]), and the random-snapshot generator the tests and fuzz targets share
//! ([`testkit`]).
//!
//! Every speed figure this module produces comes after [`verify`] has compared the engine's
//! verdicts with [`crate::eval::reference::evaluate`] on a sample of the same flows.
//!
//! ```
//! use sgsim::bench::{self, synth, Executor};
//! use sgsim::Engine;
//! let set = synth::generate(200, 2000, 7);
//! let engine = Engine::new(set.snapshot);
//! let executor = Executor::new(1).unwrap();
//! let mut out = bench::verdict_buffer(set.queries.len());
//! executor.run(&engine, &set.queries, &mut out);
//! let sample = bench::verification_sample(200, set.queries.len(), bench::SAMPLE_SEED);
//! let verified = bench::verify(&engine, &set.queries, &out, &sample, &executor)?;
//! assert_eq!(verified.checked, 2000);
//! assert_eq!(bench::VerdictCounts::of(&out).total(), 2000);
//! # Ok::<(), sgsim::bench::VerifyError>(())
//! ```

pub mod account;
pub mod estate;
pub mod flowlog;
pub mod synth;
pub mod testkit;

use crate::compile::Tier;
use crate::eval::reference;
use crate::model::{Action, Reason, RuleRef, Verdict};
use crate::{Engine, Query};
use rayon::prelude::*;
use std::fmt;
use std::time::{Duration, Instant};

/// The seed of the verification sample, so runs can be compared.
pub const SAMPLE_SEED: u64 = 0x5EED_5A3F_1E00_0001;
/// Verify every flow while `rules × flows` stays below this (about a few seconds of reference
/// scanning on two cores); otherwise a sample of [`SAMPLE_SIZE`] flows.
pub const FULL_VERIFY_BUDGET: u128 = 1_000_000_000;
/// The size of a verification sample when checking every flow is too expensive.
pub const SAMPLE_SIZE: usize = 10_000;

/// Verdict counts of one pass over a set of flows.
///
/// `accept` counts accepts by a rule or by default (basic groups accept egress by default);
/// inner access has its own count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VerdictCounts {
    /// Accepted by a rule or by default.
    pub accept: u64,
    /// Accepted by inner access (S11).
    pub accept_inner: u64,
    /// Dropped by a rule.
    pub drop_rule: u64,
    /// Dropped by default (S12).
    pub drop_default: u64,
    /// Dropped by the platform's port 25 block (S13).
    pub drop_platform: u64,
}

impl VerdictCounts {
    /// Counts a slice of verdicts.
    pub fn of(verdicts: &[Verdict]) -> VerdictCounts {
        let mut counts = VerdictCounts::default();
        for verdict in verdicts {
            counts.add(verdict);
        }
        counts
    }

    /// Counts one more verdict.
    pub fn add(&mut self, verdict: &Verdict) {
        match (verdict.action, verdict.reason) {
            (Action::Accept, Reason::InnerAccess) => self.accept_inner += 1,
            (Action::Accept, _) => self.accept += 1,
            (Action::Drop, Reason::Default) => self.drop_default += 1,
            (Action::Drop, Reason::Platform) => self.drop_platform += 1,
            (Action::Drop, _) => self.drop_rule += 1,
        }
    }

    /// All verdicts counted.
    pub fn total(&self) -> u64 {
        self.accept + self.accept_inner + self.drop_rule + self.drop_default + self.drop_platform
    }

    /// `(key, count)` in report order; the first three are always reported, the last two only
    /// when non-zero (see [`VerdictCounts::reported`]).
    pub fn fields(&self) -> [(&'static str, u64); 5] {
        [
            ("accept", self.accept),
            ("drop_rule", self.drop_rule),
            ("drop_default", self.drop_default),
            ("accept_inner", self.accept_inner),
            ("drop_platform", self.drop_platform),
        ]
    }

    /// The fields a report shows: `accept`, `drop_rule`, `drop_default` always, the others
    /// where non-zero.
    pub fn reported(&self) -> Vec<(&'static str, u64)> {
        self.fields()
            .into_iter()
            .enumerate()
            .filter(|&(i, (_, n))| i < 3 || n > 0)
            .map(|(_, field)| field)
            .collect()
    }
}

impl fmt::Display for VerdictCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .reported()
            .into_iter()
            .map(|(key, n)| format!("{key}={n}"))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

/// The engine's answers disagree with the reference evaluator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// How many flows were compared.
    pub checked: usize,
    /// Reference counts over the compared flows.
    pub expected: VerdictCounts,
    /// Engine counts over the same flows.
    pub got: VerdictCounts,
    /// How many of the compared flows got a different verdict (action, reason or deciding rule).
    pub mismatched_flows: usize,
    /// The first differing flow, described.
    pub first_mismatch: Option<String>,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the engine disagrees with the reference evaluator on {} of {} flows checked",
            self.mismatched_flows, self.checked
        )?;
        if self.expected != self.got {
            write!(
                f,
                "; counts: reference {} vs engine {}",
                self.expected, self.got
            )?;
        }
        if let Some(first) = &self.first_mismatch {
            write!(f, "; first: {first}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

/// Compares two sets of counts over the same `checked` flows.
pub fn compare_counts(
    expected: VerdictCounts,
    got: VerdictCounts,
    checked: usize,
) -> Result<(), VerifyError> {
    if expected == got {
        return Ok(());
    }
    let differing = expected
        .fields()
        .iter()
        .zip(got.fields())
        .map(|(&(_, e), (_, g))| e.abs_diff(g))
        .sum::<u64>();
    Err(VerifyError {
        checked,
        expected,
        got,
        // Counts that differ by d in total mean at least d/2 flows changed bucket.
        mismatched_flows: differing.div_ceil(2) as usize,
        first_mismatch: None,
    })
}

/// What [`verify`] checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verification {
    /// Flows compared.
    pub checked: usize,
    /// Whether that was every flow.
    pub all: bool,
    /// Reference counts over the compared flows.
    pub counts: VerdictCounts,
}

/// The flows to verify: every index when `rules × flows` is within [`FULL_VERIFY_BUDGET`] (or
/// there are at most [`SAMPLE_SIZE`] flows), otherwise [`SAMPLE_SIZE`] distinct indices drawn
/// with `seed`, sorted.
pub fn verification_sample(rules: usize, flows: usize, seed: u64) -> Vec<usize> {
    if flows <= SAMPLE_SIZE || (rules as u128) * (flows as u128) <= FULL_VERIFY_BUDGET {
        return (0..flows).collect();
    }
    sample_indices(flows, SAMPLE_SIZE, seed)
}

/// `count` distinct indices of `0..len` (all of them when `count >= len`), sorted, drawn with
/// `seed` (Floyd's algorithm).
pub fn sample_indices(len: usize, count: usize, seed: u64) -> Vec<usize> {
    if count >= len {
        return (0..len).collect();
    }
    let mut rng = crate::rng::Rng::new(seed);
    let mut chosen = std::collections::HashSet::with_capacity(count);
    for j in (len - count)..len {
        let t = rng.below(j as u64 + 1) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut indices: Vec<usize> = chosen.into_iter().collect();
    indices.sort_unstable();
    indices
}

/// Compares the engine's verdicts `got` (one per query) with the reference evaluator on the
/// flows at `sample`: first the verdict counts, then each verdict (action, reason and deciding
/// rule). The reference runs on `executor`'s threads.
///
/// # Panics
/// When `got.len() != queries.len()` or a sample index is out of range.
pub fn verify(
    engine: &Engine,
    queries: &[Query],
    got: &[Verdict],
    sample: &[usize],
    executor: &Executor,
) -> Result<Verification, VerifyError> {
    assert_eq!(queries.len(), got.len(), "one verdict per query");
    let reference_verdict = |&i: &usize| {
        let query = &queries[i];
        reference::evaluate(
            engine.snapshot(),
            query.target,
            &query.flow,
            engine.options(),
        )
    };
    let expected: Vec<Verdict> =
        executor.install(|| sample.par_iter().map(reference_verdict).collect());
    let got_sample: Vec<Verdict> = sample.iter().map(|&i| got[i]).collect();
    let expected_counts = VerdictCounts::of(&expected);
    let got_counts = VerdictCounts::of(&got_sample);
    let mismatches: Vec<usize> = (0..sample.len())
        .filter(|&k| expected[k] != got_sample[k])
        .collect();
    let counts_result = compare_counts(expected_counts, got_counts, sample.len());
    if counts_result.is_ok() && mismatches.is_empty() {
        return Ok(Verification {
            checked: sample.len(),
            all: sample.len() == queries.len(),
            counts: expected_counts,
        });
    }
    let first_mismatch = mismatches.first().map(|&k| {
        let i = sample[k];
        format!(
            "flow #{i} ({} at {}): reference {}, engine {}",
            queries[i].flow,
            engine.snapshot().target_id(queries[i].target),
            describe(engine, &expected[k]),
            describe(engine, &got_sample[k])
        )
    });
    Err(VerifyError {
        checked: sample.len(),
        expected: expected_counts,
        got: got_counts,
        mismatched_flows: mismatches.len(),
        first_mismatch,
    })
}

fn describe(engine: &Engine, verdict: &Verdict) -> String {
    match verdict.deciding_rule() {
        Some(rule_ref)
            if (rule_ref.group as usize) < engine.snapshot().groups().len()
                && (rule_ref.rule as usize)
                    < engine.snapshot().group(rule_ref.group).rules.len() =>
        {
            let (group, rule) = engine.rule(rule_ref);
            format!(
                "{} by {} {} ({})",
                verdict.action,
                group.id,
                rule.id,
                verdict.reason.as_str()
            )
        }
        Some(rule_ref) => format!(
            "{} by nonexistent rule {}:{} ({})",
            verdict.action,
            rule_ref.group,
            rule_ref.rule,
            verdict.reason.as_str()
        ),
        None => format!("{} ({})", verdict.action, verdict.reason.as_str()),
    }
}

/// A buffer of `len` slots for [`Engine::check_batch`], each holding a placeholder that no real
/// verdict equals (it names a rule no snapshot has), so a slot a batch leaves unwritten can
/// never pass for an answer.
pub fn verdict_buffer(len: usize) -> Vec<Verdict> {
    let unwritten = Verdict {
        action: Action::Drop,
        reason: Reason::Rule(RuleRef {
            group: u32::MAX,
            rule: u32::MAX,
        }),
    };
    vec![unwritten; len]
}

/// Runs batches on one thread ([`Engine::check_batch`]) or on a dedicated rayon pool
/// ([`Engine::check_batch_parallel`]), so a benchmark's thread count does not depend on the
/// global pool.
pub struct Executor {
    threads: usize,
    pool: rayon::ThreadPool,
}

impl Executor {
    /// An executor with `threads` worker threads (at least 1).
    pub fn new(threads: usize) -> Result<Executor, String> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("sgsim-bench-{i}"))
            .build()
            .map_err(|err| format!("cannot start {threads} threads: {err}"))?;
        Ok(Executor { threads, pool })
    }

    /// Threads the executor runs batches on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Evaluates `queries` into `out`: `check_batch` on the calling thread for 1 thread,
    /// `check_batch_parallel` inside the pool otherwise.
    pub fn run(&self, engine: &Engine, queries: &[Query], out: &mut [Verdict]) {
        if self.threads == 1 {
            engine.check_batch(queries, out);
        } else {
            self.pool
                .install(|| engine.check_batch_parallel(queries, out));
        }
    }

    /// Every thread of the pool makes its own passes over all of `queries`, starting at its
    /// own offset, until `min_time` has passed; the timing counts every thread's passes.
    ///
    /// This is how the rte_acl harness runs its lcores. Splitting every pass across the
    /// threads instead puts a barrier, and a thread wake-up, after each pass: on an
    /// 8 780-flow trace a pass takes a few hundred microseconds, and two threads ran only
    /// 1.1–1.3× one.
    pub fn time_independent_passes(
        &self,
        engine: &Engine,
        queries: &[Query],
        min_time: Duration,
    ) -> Timing {
        let start = Instant::now();
        let passes: u64 = self
            .pool
            .broadcast(|context| {
                let offset = queries.len() * context.index() / context.num_threads();
                let (tail, head) = (&queries[offset..], &queries[..offset]);
                let mut out = verdict_buffer(queries.len());
                let (out_tail, out_head) = out.split_at_mut(tail.len());
                let mut passes = 0;
                loop {
                    engine.check_batch(tail, out_tail);
                    engine.check_batch(head, out_head);
                    passes += 1;
                    if start.elapsed() >= min_time {
                        return passes;
                    }
                }
            })
            .into_iter()
            .sum();
        Timing {
            passes,
            flows: queries.len(),
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// Runs `f` inside the pool (for other parallel work such as verification).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

/// The number of hardware threads, at least 1.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One timing: how many passes over the flows ran in how long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Whole passes over the flows.
    pub passes: u64,
    /// Flows in one pass.
    pub flows: usize,
    /// Wall time of all the passes.
    pub seconds: f64,
}

impl Timing {
    /// Flows decided per second (0 when nothing was timed).
    pub fn flows_per_sec(&self) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        (self.passes as f64 * self.flows as f64) / self.seconds
    }
}

/// Times whole passes over `queries` until at least `min_time` has passed (at least one pass).
/// The caller runs a warm-up pass first (the one whose verdicts it counts and verifies).
///
/// With several threads, each thread makes its own passes (see
/// [`Executor::time_independent_passes`]).
pub fn time_passes(
    engine: &Engine,
    queries: &[Query],
    out: &mut [Verdict],
    executor: &Executor,
    min_time: Duration,
) -> Timing {
    if executor.threads > 1 {
        return executor.time_independent_passes(engine, queries, min_time);
    }
    let start = Instant::now();
    let mut passes = 0u64;
    loop {
        executor.run(engine, queries, out);
        passes += 1;
        if start.elapsed() >= min_time {
            break;
        }
    }
    Timing {
        passes,
        flows: queries.len(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Slices each executor's timing is cut into by [`time_interleaved`].
const INTERLEAVED_SLICES: u32 = 10;

/// Times each of `executors` for at least `min_time` in all, in turns of `min_time /`
/// `INTERLEAVED_SLICES` (at least one pass each), so that all thread counts see the same
/// moments of a shared machine: one [`Timing`] per executor, in order.
///
/// Why: on this project's shared VM the speed of a core drifts by ±20 % over seconds, and timed
/// one after the other for a second each in separate processes, two threads ran ipc1_1k at
/// 1.35–2.15× one thread. In turns, a drift slows both thread counts alike; what spread is
/// left is the machine's (`scripts/core_scaling.c`, README's performance section).
pub fn time_interleaved(
    engine: &Engine,
    queries: &[Query],
    out: &mut [Verdict],
    executors: &[&Executor],
    min_time: Duration,
) -> Vec<Timing> {
    let slice = min_time / INTERLEAVED_SLICES;
    let mut timings: Vec<Timing> = executors
        .iter()
        .map(|_| Timing {
            passes: 0,
            flows: queries.len(),
            seconds: 0.0,
        })
        .collect();
    loop {
        for (executor, total) in executors.iter().zip(&mut timings) {
            let turn = time_passes(engine, queries, out, executor, slice);
            total.passes += turn.passes;
            total.seconds += turn.seconds;
        }
        if timings.iter().all(|t| t.seconds >= min_time.as_secs_f64()) {
            return timings;
        }
    }
}

/// The heap bytes of the engine's compiled structure ([`Engine::memory_bytes`]).
pub fn engine_memory_bytes(engine: &Engine) -> usize {
    engine.memory_bytes()
}

/// Total rules in a snapshot (every group, both directions).
pub fn rule_count(snapshot: &crate::Snapshot) -> usize {
    snapshot.groups().iter().map(|g| g.rules.len()).sum()
}

/// One measurement of an engine on a set of flows, after verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Rules in the snapshot.
    pub rules: usize,
    /// Flows in one pass.
    pub flows: usize,
    /// Time to build the engine, in milliseconds.
    pub build_ms: f64,
    /// Heap bytes of its compiled structures.
    pub memory_bytes: usize,
    /// Threads the passes ran on.
    pub threads: usize,
    /// Flows decided per second.
    pub flows_per_sec: f64,
    /// Whole passes timed.
    pub passes: u64,
    /// Wall time of those passes.
    pub seconds: f64,
    /// Counts of one full pass.
    pub counts: VerdictCounts,
    /// Flows checked against the reference evaluator before timing.
    pub verified_flows: usize,
}

impl Measurement {
    /// The `sgsim bench --json` object (`shared/spec/interface.md`): `rules`, `flows`,
    /// `build_ms`, `memory_bytes`, `threads`, `flows_per_sec`, `accept`, `drop_rule`,
    /// `drop_default` (+ `accept_inner`, `drop_platform` where non-zero), plus `passes`,
    /// `seconds` and `verified_flows`.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        let mut put = |key: &str, value: serde_json::Value| {
            map.insert(key.to_string(), value);
        };
        // docs/json.md describes these objects; the version changes when their shape does.
        put("schema_version", 1.into());
        put("rules", self.rules.into());
        put("flows", self.flows.into());
        put("build_ms", round3(self.build_ms).into());
        put("memory_bytes", self.memory_bytes.into());
        put("threads", self.threads.into());
        put("flows_per_sec", self.flows_per_sec.round().into());
        for (key, n) in self.counts.reported() {
            put(key, n.into());
        }
        put("passes", self.passes.into());
        put("seconds", round3(self.seconds).into());
        put("verified_flows", self.verified_flows.into());
        put("processor", processor_model().into());
        map
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Times the reference evaluator on one thread over `queries` from the start, until all are
/// done or `max_time` has passed; returns (flows evaluated, seconds). Returns (0, 0.0) for no
/// queries.
pub fn reference_speed(engine: &Engine, queries: &[Query], max_time: Duration) -> (usize, f64) {
    let start = Instant::now();
    let mut done = 0;
    let mut sink = 0u64;
    for chunk in queries.chunks(8) {
        for query in chunk {
            let verdict = reference::evaluate(
                engine.snapshot(),
                query.target,
                &query.flow,
                engine.options(),
            );
            sink = sink.wrapping_add(verdict.is_accept() as u64);
        }
        done += chunk.len();
        if start.elapsed() >= max_time {
            break;
        }
    }
    std::hint::black_box(sink);
    (done, start.elapsed().as_secs_f64())
}

/// Why [`measure`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BenchError {
    /// The engine's verdicts disagree with the reference evaluator.
    Verify(VerifyError),
    /// Two passes over the same flows gave different counts (e.g. 1 thread vs N threads).
    Unstable {
        /// Threads of the pass that disagreed.
        threads: usize,
        /// The counts of the first pass.
        first: VerdictCounts,
        /// The counts of the disagreeing pass.
        now: VerdictCounts,
    },
    /// A thread pool could not be started.
    Threads(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Verify(err) => write!(f, "verification failed: {err}"),
            BenchError::Unstable {
                threads,
                first,
                now,
            } => write!(
                f,
                "verification failed: a pass on {threads} threads counted {now}, the first pass {first}"
            ),
            BenchError::Threads(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<VerifyError> for BenchError {
    fn from(err: VerifyError) -> Self {
        BenchError::Verify(err)
    }
}

/// Progress and results of [`measure`], as they happen.
pub trait Progress {
    /// A line about what is being done (generating, building, timing).
    fn note(&mut self, _message: &str) {}
}

impl Progress for () {}

/// Builds the engine for `snapshot` with `tier` ([`Tier::Bulk`] for throughput,
/// [`Tier::Auto`] for what `Engine::new` builds), timed: (engine, milliseconds).
pub fn build(snapshot: crate::Snapshot, tier: Tier) -> (Engine, f64) {
    let start = Instant::now();
    let engine = Engine::builder(snapshot)
        .options(crate::model::EvalOptions::default())
        .tier(tier)
        .eager()
        .build();
    (engine, start.elapsed().as_secs_f64() * 1000.0)
}

/// The whole measurement of one rule set on a built engine (see [`build`]): run one pass and
/// verify it against the reference evaluator ([`verification_sample`]), then check that a pass
/// on each thread count gives the same counts, and time passes on every thread count for at
/// least `min_time` each, in turns ([`time_interleaved`]; a first pass that alone took over
/// twice `min_time` is used as the timing).
pub fn measure(
    engine: &Engine,
    build_ms: f64,
    queries: &[Query],
    thread_counts: &[usize],
    min_time: Duration,
    progress: &mut dyn Progress,
) -> Result<Vec<Measurement>, BenchError> {
    let rules = rule_count(engine.snapshot());
    let memory_bytes = engine_memory_bytes(engine);
    progress.note(&format!(
        "{rules} rules: engine built in {build_ms:.1} ms, {memory_bytes} bytes"
    ));

    let most = thread_counts.iter().copied().max().unwrap_or(1).max(1);
    let wide = Executor::new(most).map_err(BenchError::Threads)?;
    let mut out = verdict_buffer(queries.len());
    wide.run(engine, queries, &mut out);
    let counts = VerdictCounts::of(&out);
    let sample = verification_sample(rules, queries.len(), SAMPLE_SEED);
    progress.note(&format!(
        "{rules} rules: verifying {} of {} flows against the reference evaluator",
        sample.len(),
        queries.len()
    ));
    let verification = verify(engine, queries, &out, &sample, &wide)?;
    progress.note(&format!(
        "{rules} rules: verified {} flows ({})",
        verification.checked, verification.counts
    ));

    // One executor per thread count, each checked by a warm-up pass against the first pass.
    let mut runs = Vec::new();
    for &threads in thread_counts {
        let executor = if threads.max(1) == most {
            None
        } else {
            Some(Executor::new(threads).map_err(BenchError::Threads)?)
        };
        let warm_start = Instant::now();
        executor
            .as_ref()
            .unwrap_or(&wide)
            .run(engine, queries, &mut out);
        let warm = warm_start.elapsed();
        let now = VerdictCounts::of(&out);
        if now != counts {
            return Err(BenchError::Unstable {
                threads: threads.max(1),
                first: counts,
                now,
            });
        }
        // A pass that alone took over twice `min_time` is its own timing.
        let timing = (warm >= min_time * 2).then_some(Timing {
            passes: 1,
            flows: queries.len(),
            seconds: warm.as_secs_f64(),
        });
        runs.push((executor, timing));
    }
    let untimed: Vec<&Executor> = runs
        .iter()
        .filter(|(_, timing)| timing.is_none())
        .map(|(executor, _)| executor.as_ref().unwrap_or(&wide))
        .collect();
    let mut interleaved =
        time_interleaved(engine, queries, &mut out, &untimed, min_time).into_iter();

    let mut measurements = Vec::new();
    for (executor, timing) in &runs {
        let executor = executor.as_ref().unwrap_or(&wide);
        let timing = timing.unwrap_or_else(|| interleaved.next().expect("one timing per executor"));
        progress.note(&format!(
            "{rules} rules, {} threads: {:.3} M flows/s",
            executor.threads(),
            timing.flows_per_sec() / 1e6
        ));
        measurements.push(Measurement {
            rules,
            flows: queries.len(),
            build_ms,
            memory_bytes,
            threads: executor.threads(),
            flows_per_sec: timing.flows_per_sec(),
            passes: timing.passes,
            seconds: timing.seconds,
            counts,
            verified_flows: verification.checked,
        });
    }
    Ok(measurements)
}

/// One row of a rule-count sweep ([`sweep_size`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Measured on 1 thread and on all threads (the latter omitted when all = 1).
    pub measurements: Vec<Measurement>,
    /// Reference scan speed on one thread, over the first `reference_flows` flows.
    pub reference_flows_per_sec: f64,
    /// How many flows the reference scan was timed on.
    pub reference_flows: usize,
}

impl SweepRow {
    /// The one-thread measurement.
    pub fn first(&self) -> &Measurement {
        &self.measurements[0]
    }

    /// flows/s on `threads` threads, if measured.
    pub fn flows_per_sec(&self, threads: usize) -> Option<f64> {
        self.measurements
            .iter()
            .find(|m| m.threads == threads)
            .map(|m| m.flows_per_sec)
    }

    /// The widest measurement.
    pub fn widest(&self) -> &Measurement {
        self.measurements
            .iter()
            .max_by_key(|m| m.threads)
            .expect("a sweep row has a measurement")
    }
}

/// How [`sweep_size`] measures each size.
#[derive(Clone, Copy, Debug)]
pub struct SweepSettings {
    /// Flows generated per size.
    pub flows: usize,
    /// Seed of the generated rule sets and flows.
    pub seed: u64,
    /// The "all threads" count (1 thread is always measured).
    pub threads: usize,
    /// The least time each engine is timed for, in whole passes.
    pub min_time: Duration,
    /// The longest the reference scan is timed per size.
    pub reference_time: Duration,
    /// The classifier tier the engines are built with.
    pub tier: Tier,
}

/// One size of the sweep: generate `rules` synthetic rules and the settings' flows, build,
/// verify, time on 1 and all threads, then time the reference scan on one thread.
pub fn sweep_size(
    rules: usize,
    settings: &SweepSettings,
    progress: &mut dyn Progress,
) -> Result<SweepRow, BenchError> {
    let SweepSettings {
        flows,
        seed,
        threads,
        min_time,
        reference_time,
        tier,
    } = *settings;
    progress.note(&format!("{rules} rules: generating {flows} flows"));
    let set = synth::generate(rules, flows, seed);
    let (engine, build_ms) = build(set.snapshot, tier);
    let mut thread_counts = vec![1];
    if threads > 1 {
        thread_counts.push(threads);
    }
    let measurements = measure(
        &engine,
        build_ms,
        &set.queries,
        &thread_counts,
        min_time,
        progress,
    )?;
    progress.note(&format!(
        "{rules} rules: timing the reference scan (at most {:.1} s)",
        reference_time.as_secs_f64()
    ));
    let (reference_flows, seconds) = reference_speed(&engine, &set.queries, reference_time);
    Ok(SweepRow {
        measurements,
        reference_flows_per_sec: if seconds > 0.0 {
            reference_flows as f64 / seconds
        } else {
            0.0
        },
        reference_flows,
    })
}

/// The processor as `/proc/cpuinfo` names it — its `model name`, then its family, model and
/// stepping where it gives them — and the vector kernel the engine runs on it, or `unknown`
/// where it names none: printed with every figure `sgsim bench` reports, since the engine's
/// margins depend on the processor (issue 21). A VM's model name alone can hide the
/// generation (two different AMD EPYC generations, one with AVX-512, both said `AMD EPYC`).
pub fn processor_model() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = describe_processor(&text).unwrap_or_else(|| "unknown".to_string());
    format!(
        "{name}, {} kernel",
        crate::compile::kernel::best_kernel_name()
    )
}

/// The first processor of a `/proc/cpuinfo` text: its non-empty `model name`, followed by
/// `(family F model M stepping S)` when the text gives them.
pub fn describe_processor(cpuinfo: &str) -> Option<String> {
    let name = model_name(cpuinfo)?;
    let value = |key| cpuinfo_value(cpuinfo, key);
    Some(
        match (value("cpu family"), value("model"), value("stepping")) {
            (Some(family), Some(model), Some(stepping)) => {
                format!("{name} (family {family} model {model} stepping {stepping})")
            }
            _ => name,
        },
    )
}

/// The first non-empty `model name` of a `/proc/cpuinfo` text.
pub fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo_value(cpuinfo, "model name").map(str::to_string)
}

/// The first non-empty value of `key` in a `/proc/cpuinfo` text.
fn cpuinfo_value<'a>(cpuinfo: &'a str, key: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        (name.trim() == key && !value.is_empty()).then_some(value)
    })
}

/// A chart series: label, colour, on the right (memory) axis, points.
pub type Series = (String, &'static str, bool, Vec<(f64, f64)>);

/// A log-log SVG chart of a sweep: throughput (1 thread, all threads, reference scan) and
/// engine memory against rule count. Series without a positive value are left out (and named
/// as such in the legend).
pub fn sweep_svg(rows: &[SweepRow]) -> String {
    let widest_threads = rows.iter().map(|r| r.widest().threads).max().unwrap_or(1);
    let points = |f: &dyn Fn(&SweepRow) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (r.first().rules as f64, f(r)))
            .filter(|&(x, y)| x > 0.0 && y > 0.0 && y.is_finite())
            .collect()
    };
    let mut series: Vec<Series> = vec![(
        "engine, 1 thread (flows/s)".to_string(),
        "#1f77b4",
        false,
        points(&|r| r.flows_per_sec(1).unwrap_or(0.0)),
    )];
    if widest_threads > 1 {
        series.push((
            format!("engine, {widest_threads} threads (flows/s)"),
            "#2ca02c",
            false,
            points(&|r| r.flows_per_sec(widest_threads).unwrap_or(0.0)),
        ));
    }
    series.push((
        "reference scan, 1 thread (flows/s)".to_string(),
        "#d62728",
        false,
        points(&|r| r.reference_flows_per_sec),
    ));
    let memory = points(&|r| r.first().memory_bytes as f64);
    series.push((
        "engine memory (bytes, right axis)".to_string(),
        "#9467bd",
        true,
        memory,
    ));
    log_log_svg(
        &format!(
            "sgsim bench --sweep: throughput and memory vs. rule count (log-log), {}",
            processor_model()
        ),
        "rules",
        ("flows per second", "engine memory (bytes)"),
        &series,
    )
}

/// A log-log SVG chart: `series` on the left axis, or on the right one (dashed, in bytes).
pub fn log_log_svg(
    title: &str,
    x_label: &str,
    (left_label, right_label): (&str, &str),
    series: &[Series],
) -> String {
    const W: f64 = 760.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 90.0;
    const TOP: f64 = 40.0;
    const PLOT_H: f64 = 360.0;
    // Room for the axis label and one legend line per series.
    let bottom = 72.0 + 17.0 * series.len() as f64;
    let h = TOP + PLOT_H + bottom;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = PLOT_H;
    // `si` rounds below 0.01 to 0: small ticks as powers of ten.
    let tick = |v: f64| {
        if v < 0.01 {
            format!("1e{}", v.log10().round())
        } else {
            si(v)
        }
    };
    let decades = |values: &mut dyn Iterator<Item = f64>| -> (f64, f64) {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            lo = lo.min(v.log10().floor());
            hi = hi.max(v.log10().ceil());
        }
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        (lo, hi)
    };
    let (x_lo, x_hi) = decades(&mut series.iter().flat_map(|s| s.3.iter().map(|p| p.0)));
    let (y_lo, y_hi) = decades(
        &mut series
            .iter()
            .filter(|s| !s.2)
            .flat_map(|s| s.3.iter().map(|p| p.1)),
    );
    let (m_lo, m_hi) = decades(
        &mut series
            .iter()
            .filter(|s| s.2)
            .flat_map(|s| s.3.iter().map(|p| p.1)),
    );
    let sx = |x: f64| LEFT + (x.log10() - x_lo) / (x_hi - x_lo) * plot_w;
    let sy = |y: f64, (lo, hi): (f64, f64)| TOP + plot_h - (y.log10() - lo) / (hi - lo) * plot_h;

    let mut svg = String::new();
    let mut line = |text: String| {
        svg.push_str(&text);
        svg.push('\n');
    };
    line(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif" font-size="12">"#
    ));
    line(format!(r#"<rect width="{W}" height="{h}" fill="white"/>"#));
    line(format!(
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(title)
    ));
    // Grid and tick labels.
    for d in (x_lo as i32)..=(x_hi as i32) {
        let x = sx(10f64.powi(d));
        line(format!(
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + plot_h
        ));
        line(format!(
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h + 18.0,
            si(10f64.powi(d))
        ));
    }
    for d in (y_lo as i32)..=(y_hi as i32) {
        let y = sy(10f64.powi(d), (y_lo, y_hi));
        line(format!(
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/>"##,
            LEFT + plot_w
        ));
        line(format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            tick(10f64.powi(d))
        ));
    }
    if series.iter().any(|s| s.2 && !s.3.is_empty()) {
        for d in (m_lo as i32)..=(m_hi as i32) {
            let y = sy(10f64.powi(d), (m_lo, m_hi));
            line(format!(
                r##"<text x="{:.1}" y="{:.1}" fill="#9467bd">{}B</text>"##,
                LEFT + plot_w + 6.0,
                y + 4.0,
                si(10f64.powi(d))
            ));
        }
    }
    line(format!(
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
    ));
    line(format!(
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        TOP + plot_h + 36.0,
        escape(x_label)
    ));
    line(format!(
        r##"<text transform="translate({:.1},{:.1}) rotate(90)" text-anchor="middle" fill="#9467bd">{}</text>"##,
        W - 16.0,
        TOP + plot_h / 2.0,
        escape(right_label)
    ));
    line(format!(
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(left_label)
    ));
    // Series.
    for (name, color, right_axis, pts) in series {
        let range = if *right_axis {
            (m_lo, m_hi)
        } else {
            (y_lo, y_hi)
        };
        let dash = if *right_axis {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        if pts.len() > 1 {
            let path: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y, range)))
                .collect();
            line(format!(
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}><title>{}</title></polyline>"#,
                path.join(" "),
                escape(name)
            ));
        }
        for &(x, y) in pts {
            line(format!(
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{}: {} at {} {}</title></circle>"#,
                sx(x),
                sy(y, range),
                escape(name),
                si(y),
                x,
                escape(x_label)
            ));
        }
    }
    // Legend.
    for (k, (name, color, _, pts)) in series.iter().enumerate() {
        let y = TOP + plot_h + 62.0 + 17.0 * k as f64;
        let x = LEFT;
        let label = if pts.is_empty() {
            format!("{name}: not measured")
        } else {
            name.clone()
        };
        line(format!(
            r#"<rect x="{x:.1}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            y - 4.0,
            x + 20.0,
            y + 1.0,
            escape(&label)
        ));
    }
    line("</svg>".to_string());
    svg
}

/// 1500 → `1.5k`, 2e6 → `2M`.
pub fn si(value: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    for (scale, unit) in UNITS {
        if value.abs() >= scale {
            return format!("{}{unit}", trim_number(value / scale));
        }
    }
    trim_number(value)
}

fn trim_number(v: f64) -> String {
    let text = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Reads flows in the `sgsim eval` CSV format (header
/// `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port`) as queries on `snapshot`. Unlike
/// `sgsim eval`, a bad row stops the benchmark: the error names the file, line and problem.
pub fn read_flows_csv(
    snapshot: &crate::Snapshot,
    reader: impl std::io::Read,
    file: &str,
) -> Result<Vec<Query>, String> {
    let rows = crate::input::flows::FlowsReader::new(std::io::BufReader::new(reader))
        .map_err(|err| err.in_file(file))?;
    let mut queries = Vec::new();
    let mut last_target: Option<(String, crate::model::Target)> = None;
    for row in rows {
        let row = row
            .map_err(|err| format!("{file}: {err}"))?
            .map_err(|err| format!("{file}:{}: {}", err.line, err.message))?;
        let target = match &last_target {
            Some((id, target)) if *id == row.target_id => *target,
            _ => {
                let target = snapshot
                    .resolve_target(&row.target_id)
                    .map_err(|why| format!("{file}:{}: nic_id: {why}", row.line))?;
                last_target = Some((row.target_id, target));
                target
            }
        };
        queries.push(Query {
            target,
            flow: row.flow,
        });
    }
    Ok(queries)
}

#[cfg(test)]
mod processor_tests {
    use super::*;

    #[test]
    fn the_model_name_is_read_from_cpuinfo_text() {
        let intel = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(
            model_name(intel).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        // ARM kernels give no model name; neither does an empty one count.
        assert_eq!(
            model_name("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n"),
            None
        );
        assert_eq!(model_name("model name\t:   \n"), None);
        let epyc = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\n";
        assert_eq!(
            describe_processor(epyc).as_deref(),
            Some("AMD EPYC (family 25 model 17 stepping 1)")
        );
        assert_eq!(
            describe_processor(intel).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        let here = processor_model();
        assert!(
            ["AVX-512 kernel", "AVX2 kernel", "portable kernel"]
                .iter()
                .any(|kernel| here.ends_with(kernel)),
            "{here}"
        );
    }
}
