//! The measurement side: verdict counting, verification against the reference evaluator (a
//! wrong count or verdict must be caught), the synthetic generator and the sweep chart.

use sgsim::bench::{self, synth, Executor, VerdictCounts};
use sgsim::model::{Action, Direction, Reason, RemoteObject, RuleRef, Verdict};
use sgsim::Engine;

fn verdict(action: Action, reason: Reason) -> Verdict {
    Verdict { action, reason }
}

#[test]
fn counts_every_kind_of_verdict() {
    let rule = Verdict {
        action: Action::Drop,
        reason: Reason::Rule(RuleRef { group: 0, rule: 0 }),
    };
    let verdicts = [
        verdict(Action::Accept, Reason::Rule(RuleRef { group: 0, rule: 1 })),
        verdict(Action::Accept, Reason::Default),
        verdict(Action::Accept, Reason::InnerAccess),
        rule,
        rule,
        verdict(Action::Drop, Reason::Default),
        verdict(Action::Drop, Reason::Platform),
    ];
    let counts = VerdictCounts::of(&verdicts);
    assert_eq!(
        counts,
        VerdictCounts {
            accept: 2,
            accept_inner: 1,
            drop_rule: 2,
            drop_default: 1,
            drop_platform: 1,
        }
    );
    assert_eq!(counts.total(), 7);
    assert_eq!(
        counts.to_string(),
        "accept=2 drop_rule=2 drop_default=1 accept_inner=1 drop_platform=1"
    );
    let plain = VerdictCounts::of(&verdicts[..2]);
    assert_eq!(
        plain.reported(),
        [("accept", 2), ("drop_rule", 0), ("drop_default", 0)]
    );
}

#[test]
fn a_wrong_count_is_detected() {
    let expected = VerdictCounts {
        accept: 10,
        drop_rule: 5,
        drop_default: 3,
        ..VerdictCounts::default()
    };
    assert!(bench::compare_counts(expected, expected, 18).is_ok());
    let wrong = VerdictCounts {
        accept: 11,
        drop_default: 2,
        ..expected
    };
    let err = bench::compare_counts(expected, wrong, 18).unwrap_err();
    assert_eq!(err.mismatched_flows, 1);
    assert_eq!(
        err.to_string(),
        "the engine disagrees with the reference evaluator on 1 of 18 flows checked; counts: \
         reference accept=10 drop_rule=5 drop_default=3 vs engine accept=11 drop_rule=5 drop_default=2"
    );
}

fn synthetic(rules: usize, flows: usize) -> (Engine, Vec<sgsim::Query>) {
    let set = synth::generate(rules, flows, 42);
    (Engine::new(set.snapshot), set.queries)
}

#[test]
fn verify_accepts_right_answers_and_catches_wrong_ones() {
    let (engine, queries) = synthetic(300, 3000);
    let executor = Executor::new(2).unwrap();
    let mut out = bench::verdict_buffer(queries.len());
    executor.run(&engine, &queries, &mut out);
    let sample = bench::verification_sample(300, queries.len(), bench::SAMPLE_SEED);
    assert_eq!(sample.len(), 3000, "small sets are verified in full");
    let ok = bench::verify(&engine, &queries, &out, &sample, &executor).unwrap();
    assert!(ok.all);
    assert_eq!(ok.counts, VerdictCounts::of(&out));

    // One accept turned into a default drop: the counts differ.
    let i = out.iter().position(|v| v.action == Action::Accept).unwrap();
    let mut wrong = out.clone();
    wrong[i] = verdict(Action::Drop, Reason::Default);
    let err = bench::verify(&engine, &queries, &wrong, &sample, &executor).unwrap_err();
    assert_ne!(err.expected, err.got);
    assert_eq!(err.got.drop_default, err.expected.drop_default + 1);
    assert_eq!(err.mismatched_flows, 1);
    let first = err.first_mismatch.as_deref().unwrap();
    assert!(first.starts_with(&format!("flow #{i} (")), "{first}");
    assert!(first.contains("engine drop (default)"), "{first}");

    // Two verdicts swapped: same counts, but each flow is wrong.
    let j = out
        .iter()
        .position(|v| v.action == Action::Drop && v.reason == Reason::Default)
        .unwrap();
    let mut swapped = out.clone();
    swapped.swap(i, j);
    let err = bench::verify(&engine, &queries, &swapped, &sample, &executor).unwrap_err();
    assert_eq!(err.expected, err.got);
    assert_eq!(err.mismatched_flows, 2);

    // The right action and reason, but the wrong deciding rule.
    let k = out
        .iter()
        .position(|v| v.deciding_rule().is_some_and(|rule| rule.rule > 0))
        .unwrap();
    let mut other_rule = out.clone();
    let mut rule_ref = other_rule[k].deciding_rule().unwrap();
    rule_ref.rule -= 1;
    other_rule[k].reason = Reason::Rule(rule_ref);
    let err = bench::verify(&engine, &queries, &other_rule, &sample, &executor).unwrap_err();
    assert_eq!(err.mismatched_flows, 1);
    assert!(err.to_string().contains(&format!("flow #{k}")));
}

#[test]
fn measure_reports_verified_counts_for_each_thread_count() {
    let (engine, queries) = synthetic(100, 2000);
    let measurements = bench::measure(
        &engine,
        1.5,
        &queries,
        &[1, 2],
        std::time::Duration::from_millis(20),
        &mut (),
    )
    .unwrap();
    assert_eq!(measurements.len(), 2);
    let reference: Vec<Verdict> = queries
        .iter()
        .map(|q| engine.check(q.target, &q.flow))
        .collect();
    for (m, threads) in measurements.iter().zip([1, 2]) {
        assert_eq!(m.threads, threads);
        assert_eq!((m.rules, m.flows, m.verified_flows), (100, 2000, 2000));
        assert_eq!(m.counts, VerdictCounts::of(&reference));
        assert!(m.passes >= 1 && m.flows_per_sec > 0.0);
        let json = m.to_json();
        for key in [
            "rules",
            "flows",
            "build_ms",
            "memory_bytes",
            "threads",
            "flows_per_sec",
            "accept",
            "drop_rule",
            "drop_default",
        ] {
            assert!(json.contains_key(key), "missing {key}");
        }
        assert_eq!(json["build_ms"], 1.5);
        assert_eq!(json["accept"], m.counts.accept);
        assert_eq!(json.contains_key("accept_inner"), m.counts.accept_inner > 0);
    }
}

#[test]
fn interleaved_timing_gives_every_thread_count_its_full_time() {
    let (engine, queries) = synthetic(100, 2000);
    let executors = [Executor::new(1).unwrap(), Executor::new(2).unwrap()];
    let executors: Vec<&Executor> = executors.iter().collect();
    let mut out = bench::verdict_buffer(queries.len());
    let min_time = std::time::Duration::from_millis(30);
    let timings = bench::time_interleaved(&engine, &queries, &mut out, &executors, min_time);
    assert_eq!(timings.len(), 2);
    for timing in &timings {
        assert_eq!(timing.flows, 2000);
        assert!(timing.seconds >= 0.03, "{timing:?}");
        assert!(
            timing.passes >= 1 && timing.flows_per_sec() > 0.0,
            "{timing:?}"
        );
    }
    // The one-thread executor wrote this buffer: its verdicts are the engine's.
    let reference: Vec<Verdict> = queries
        .iter()
        .map(|q| engine.check(q.target, &q.flow))
        .collect();
    assert_eq!(out, reference);
    // No time asked: still one turn (one pass) each, so a figure can be reported.
    let once = bench::time_interleaved(&engine, &queries, &mut out, &executors, Default::default());
    assert!(once.iter().all(|t| t.passes >= 1 && t.seconds > 0.0));
}

#[test]
fn large_sets_are_verified_on_a_fixed_sample() {
    let sample = bench::verification_sample(100_000, 50_000, 7);
    assert_eq!(sample.len(), bench::SAMPLE_SIZE);
    assert!(
        sample.windows(2).all(|w| w[0] < w[1]),
        "sorted and distinct"
    );
    assert!(*sample.last().unwrap() < 50_000);
    assert_eq!(sample, bench::verification_sample(100_000, 50_000, 7));
    assert_ne!(sample, bench::verification_sample(100_000, 50_000, 8));
    assert_eq!(bench::sample_indices(5, 10, 1), [0, 1, 2, 3, 4]);
}

#[test]
fn synthetic_sets_are_deterministic_and_varied() {
    let a = synth::generate(2000, 20_000, 9);
    let b = synth::generate(2000, 20_000, 9);
    assert_eq!(a.queries, b.queries);
    assert_eq!(a.snapshot.groups(), b.snapshot.groups());
    assert_eq!(bench::rule_count(&a.snapshot), 2000);

    let nic = &a.snapshot.nics()[0];
    assert_eq!(nic.groups.len(), 4, "several groups per NIC");
    let rules: Vec<_> = a.snapshot.groups().iter().flat_map(|g| &g.rules).collect();
    let share = |f: &dyn Fn(&&sgsim::model::Rule) -> bool| {
        rules.iter().filter(|r| f(r)).count() as f64 / rules.len() as f64
    };
    let drops = share(&|r| r.action == Action::Drop);
    assert!((0.15..0.25).contains(&drops), "drop share {drops}");
    assert!(share(&|r| r.direction == Direction::Egress) > 0.1);
    assert!(share(&|r| matches!(&r.remote, RemoteObject::Cidr(n) if n.addr().is_ipv6())) > 0.05);
    assert!(share(&|r| matches!(&r.remote, RemoteObject::Cidr(n) if n.prefix_len() == 0)) > 0.02);
    assert!(share(&|r| matches!(r.remote, RemoteObject::PrefixList(_))) > 0.0);
    assert!(share(&|r| matches!(r.remote, RemoteObject::Group(_))) > 0.0);
    assert!(share(&|r| matches!(r.dest_ports, sgsim::model::DestPorts::List(_))) > 0.0);
    let priorities: std::collections::HashSet<u8> = rules.iter().map(|r| r.priority).collect();
    assert!(priorities.len() > 90, "priorities spread over 1..100");

    let engine = Engine::new(a.snapshot);
    let mut out = bench::verdict_buffer(a.queries.len());
    engine.check_batch(&a.queries, &mut out);
    let counts = VerdictCounts::of(&out);
    for (key, n) in counts.fields() {
        assert!(n > 0, "no {key} verdicts in {counts}");
    }
    let matched = counts.accept + counts.drop_rule;
    assert!(
        matched as f64 > 0.5 * a.queries.len() as f64,
        "most flows should be decided by a rule: {counts}"
    );
}

#[test]
fn flows_csv_is_read_with_line_numbers_in_errors() {
    let set = synth::generate(10, 1, 1);
    let snapshot = &set.snapshot;
    let good = "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\n\
                eni-synth-main,ingress,tcp,203.0.113.9,40000,10.0.0.5,22\n";
    let queries = bench::read_flows_csv(snapshot, good.as_bytes(), "f.csv").unwrap();
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].flow.dst_port, 22);

    let err = |text: &str| bench::read_flows_csv(snapshot, text.as_bytes(), "f.csv").unwrap_err();
    assert_eq!(
        err(&format!(
            "{good}eni-synth-main,ingress,tcp,203.0.113.9,40000,10.0.0.5,99999\n"
        )),
        "f.csv:3: dst_port \"99999\": not a port number 0..65535"
    );
    assert!(err(&format!(
        "{good}eni-nope,ingress,tcp,1.2.3.4,1,10.0.0.5,2\n"
    ))
    .starts_with("f.csv:3: nic_id: no network interface \"eni-nope\""));
    assert_eq!(
        err(&format!("{good}a,b\n")),
        "f.csv:3: 2 fields, expected 7 (nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port)"
    );
    assert!(err("nic,direction\n").starts_with("f.csv:1: header \"nic,direction\""));
}

#[test]
fn sweep_chart_is_a_log_log_svg() {
    let (engine, queries) = synthetic(50, 500);
    let measurements = bench::measure(
        &engine,
        0.1,
        &queries,
        &[1, 2],
        std::time::Duration::ZERO,
        &mut (),
    )
    .unwrap();
    let row = |rules: usize, fps: f64, memory: usize| {
        let mut ms = measurements.clone();
        for (k, m) in ms.iter_mut().enumerate() {
            m.rules = rules;
            m.flows_per_sec = fps * (k + 1) as f64;
            m.memory_bytes = memory;
        }
        bench::SweepRow {
            measurements: ms,
            reference_flows_per_sec: fps / 10.0,
            reference_flows: 100,
        }
    };
    let svg = bench::sweep_svg(&[
        row(10, 5e7, 4096),
        row(1000, 5e6, 1 << 20),
        row(100_000, 2e5, 0),
    ]);
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("<polyline").count(),
        4,
        "three throughput lines and memory"
    );
    assert!(svg.contains("engine, 2 threads"));
    assert!(
        svg.contains(">100k</text>"),
        "decade labels on the rule axis"
    );
    assert!(svg.contains("1MB"), "memory axis labels");
    // No NaN or infinite coordinates from the zero memory value.
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    assert_eq!(bench::si(1500.0), "1.5k");
    assert_eq!(bench::si(2e6), "2M");
}
