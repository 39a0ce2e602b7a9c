//! Engine compile and batch-evaluation benchmarks: synthetic sets of 10, 1000, 10000 and 30000
//! rules (the last in the partitioned tier) and ClassBench acl1_1k from testdata. Before
//! anything is timed, each set's verdicts are checked against the reference evaluator (every
//! flow) and the run stops on any mismatch.
//!
//! `cargo bench --bench engine`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sgsim::bench::{self, synth, Executor, VerdictCounts};
use sgsim::input::classbench;
use sgsim::{Engine, Query, Snapshot};
use std::path::Path;
use std::time::Duration;

struct Set {
    name: String,
    snapshot: Snapshot,
    queries: Vec<Query>,
}

fn sets() -> Vec<Set> {
    let mut sets: Vec<Set> = [
        (10, 10_000),
        (1000, 10_000),
        (10_000, 2_000),
        (30_000, 2_000),
    ]
    .into_iter()
    .map(|(rules, flows)| {
        let set = synth::generate(rules, flows, 1);
        Set {
            name: format!("synth_{rules}"),
            snapshot: set.snapshot,
            queries: set.queries,
        }
    })
    .collect();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/classbench");
    let acl = classbench::load(data.join("acl1_1k"), data.join("acl1_1k_trace"))
        .unwrap_or_else(|err| panic!("{err}"));
    sets.push(Set {
        name: "classbench_acl1_1k".to_string(),
        snapshot: acl.snapshot,
        queries: acl.queries,
    });
    sets
}

/// Verdict counts of `engine` on every query, after checking each verdict against the
/// reference evaluator; panics (stopping the benchmark) on any mismatch.
fn verified_counts(
    name: &str,
    engine: &Engine,
    queries: &[Query],
    executor: &Executor,
) -> VerdictCounts {
    let mut out = bench::verdict_buffer(queries.len());
    executor.run(engine, queries, &mut out);
    let all: Vec<usize> = (0..queries.len()).collect();
    match bench::verify(engine, queries, &out, &all, executor) {
        Ok(verification) => {
            assert_eq!(verification.counts, VerdictCounts::of(&out));
            verification.counts
        }
        Err(err) => panic!("{name}: {err}"),
    }
}

fn engine_benches(c: &mut Criterion) {
    let executor1 = Executor::new(1).expect("one thread");
    let executor_all = Executor::new(bench::available_threads()).expect("threads");
    for set in sets() {
        let engine = Engine::new(set.snapshot.clone());
        let counts = verified_counts(&set.name, &engine, &set.queries, &executor1);
        // The parallel path must agree with the sequential one.
        let counts_all = verified_counts(&set.name, &engine, &set.queries, &executor_all);
        assert_eq!(counts, counts_all, "{}: 1 thread vs all threads", set.name);
        eprintln!(
            "{}: {} rules, {} flows, verified: {counts}",
            set.name,
            bench::rule_count(&set.snapshot),
            set.queries.len()
        );

        let mut group = c.benchmark_group(format!("engine/{}", set.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        group.bench_function("compile", |b| {
            b.iter_batched(|| set.snapshot.clone(), Engine::new, BatchSize::LargeInput)
        });
        group.throughput(Throughput::Elements(set.queries.len() as u64));
        let mut out = bench::verdict_buffer(set.queries.len());
        // A filter on the command line (`cargo bench -- synth_1000`) skips the other sets'
        // timings, and their buffers stay unwritten.
        let mut timed = false;
        group.bench_function("check_batch", |b| {
            b.iter(|| executor1.run(&engine, &set.queries, &mut out));
            timed = true;
        });
        group.bench_function(
            format!("check_batch_parallel_{}t", executor_all.threads()),
            |b| {
                b.iter(|| executor_all.run(&engine, &set.queries, &mut out));
                timed = true;
            },
        );
        group.finish();
        // The timed passes still give the verified answers.
        if timed {
            assert_eq!(
                VerdictCounts::of(&out),
                counts,
                "{}: after timing",
                set.name
            );
        }
    }
}

criterion_group!(benches, engine_benches);
criterion_main!(benches);
