//! `sgsim bench`: engine build time, memory and throughput on a snapshot + flows, a ClassBench
//! set, or a synthetic rule-count sweep. Every figure is printed only after the engine's
//! verdicts were checked against the reference evaluator.

use clap::{ArgGroup, Args};
use sgsim::bench::{self, BenchError, Measurement, Progress, SweepRow};
use sgsim::compile::Tier;
use sgsim::input::classbench;
use sgsim::{Query, Snapshot};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").args(["inputs", "classbench", "sweep", "flowlogs", "estate"]).required(true)))]
pub struct BenchArgs {
    /// SNAPSHOT FLOWS: a snapshot (JSON file, directory of ECS API answers, or `-`) and a flows CSV in the `sgsim eval` format.
    #[arg(value_names = ["SNAPSHOT", "FLOWS"], num_args = 2)]
    inputs: Vec<PathBuf>,
    /// A ClassBench filter set and header trace (plain or .gz), converted as
    /// shared/baselines/classbench_to_sg.py does.
    #[arg(long, value_names = ["RULES", "TRACE"], num_args = 2)]
    classbench: Vec<PathBuf>,
    /// Synthetic rule-set sizes to sweep, e.g. 10,100,1000,10000,100000.
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    sweep: Vec<usize>,
    /// Thread counts to measure (comma-separated), timed in turns of a tenth of --min-time.
    /// Default: 1 and all cores. With --sweep: the "all threads" count (1 thread is always
    /// measured).
    #[arg(long, value_delimiter = ',', value_name = "N")]
    threads: Vec<usize>,
    /// One JSON object per measurement (rules, flows, build_ms, memory_bytes, threads,
    /// flows_per_sec, accept, drop_rule, drop_default, ...).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// --sweep only: CSV instead of a table.
    #[arg(long)]
    csv: bool,
    /// --sweep only: also write a log-log SVG chart of throughput and memory vs. rule count.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// --sweep only: flows per size [default: 100000].
    #[arg(long)]
    flows: Option<usize>,
    /// --sweep only: generator seed [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Time each measurement (each thread count) for at least this many seconds.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    min_time: f64,
    /// --sweep only: stop timing the reference scan after this many seconds per size
    /// [default: 2].
    #[arg(long, value_name = "SECS")]
    reference_time: Option<f64>,
    /// Write a synthetic snapshot and flow logs generated from it into this directory
    /// (snapshot.json, flowlogs.jsonl, flowlogs.parquet) for timing `sgsim replay`
    /// (scripts/bench_replay.sh). --records sets how many, --seed the seed.
    #[arg(long, value_name = "DIR")]
    flowlogs: Option<PathBuf>,
    /// --flowlogs only: records per file [default: 10000000].
    #[arg(long, value_name = "N")]
    records: Option<u64>,
    /// Which engine to build: `bulk` (what `sgsim eval` builds: the fastest tables for millions
    /// of flows) or `interactive` (what `sgsim check` and `apply` build: the fastest compile).
    #[arg(long, value_enum, default_value_t = EngineKind::Bulk)]
    engine: EngineKind,
    #[command(flatten)]
    estate: EstateArgs,
}

/// `--estate`: whole generated accounts.
#[derive(Debug, Args)]
struct EstateArgs {
    /// Generate whole accounts and time load, one check, a bulk pass and audit (see
    /// `--nics`, `--groups`, …); several `--nics` sizes make a sweep.
    #[arg(long)]
    estate: bool,
    /// --estate: NIC counts (comma-separated; several = a sweep, each in its own process)
    /// [default: 20000].
    #[arg(long, value_delimiter = ',', value_name = "N", requires = "estate")]
    nics: Vec<usize>,
    /// --estate: security groups [default: NICs / 10].
    #[arg(long, requires = "estate")]
    groups: Option<usize>,
    /// --estate: rules per group.
    #[arg(long, default_value_t = 40, requires = "estate")]
    rules_per_group: usize,
    /// --estate: share of rules that reference a popular group.
    #[arg(long, default_value_t = 0.25, requires = "estate")]
    group_ref_share: f64,
    /// --estate: popular groups (each NIC carries one) [default: groups / 20].
    #[arg(long, requires = "estate")]
    popular_groups: Option<usize>,
    /// --estate: distinct group sets the NICs share, or `own` (every NIC its own set).
    #[arg(long, default_value = "300", requires = "estate")]
    group_sets: String,
    /// --estate: keep snapshot.json and flows.csv in this directory (one size only).
    #[arg(long, value_name = "DIR", requires = "estate")]
    write: Option<PathBuf>,
    /// --estate: leave out the audit of the whole account.
    #[arg(long, requires = "estate")]
    no_audit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum EngineKind {
    Bulk,
    Interactive,
}

impl EngineKind {
    fn tier(self) -> Tier {
        match self {
            EngineKind::Bulk => Tier::Bulk,
            EngineKind::Interactive => Tier::Auto,
        }
    }
}

/// Progress lines on stderr, with the elapsed time.
struct Stderr {
    start: Instant,
}

impl Progress for Stderr {
    fn note(&mut self, message: &str) {
        eprintln!("[{:7.1}s] {message}", self.start.elapsed().as_secs_f64());
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("{flag} {value}: expected a number of seconds >= 0"))
    }
}

pub fn run(args: BenchArgs) -> Result<ExitCode, String> {
    if args.threads.contains(&0) {
        return Err("--threads 0: expected thread counts of at least 1".to_string());
    }
    let min_time = seconds(args.min_time, "--min-time")?;
    let mut progress = Stderr {
        start: Instant::now(),
    };
    if !args.sweep.is_empty() {
        return sweep(&args, min_time, &mut progress);
    }
    if let Some(dir) = &args.flowlogs {
        return super::replay::write_bench_logs(
            dir,
            args.records.unwrap_or(10_000_000),
            args.seed.unwrap_or(1),
        );
    }
    if args.estate.estate {
        return estate(&args, &mut progress);
    }
    let sweep_only = [
        ("--csv", args.csv),
        ("--plot", args.plot.is_some()),
        ("--flows", args.flows.is_some()),
        ("--seed", args.seed.is_some()),
        ("--reference-time", args.reference_time.is_some()),
    ];
    if let Some((flag, _)) = sweep_only.iter().find(|(_, given)| *given) {
        eprintln!("error: {flag} only applies to --sweep\n\nFor more information, try '--help'.");
        return Ok(ExitCode::from(2));
    }
    let (label, snapshot, queries) = if args.classbench.len() == 2 {
        let (rules, trace) = (&args.classbench[0], &args.classbench[1]);
        progress.note(&format!(
            "loading {} and {}",
            rules.display(),
            trace.display()
        ));
        let set = classbench::load(rules, trace).map_err(|err| err.to_string())?;
        (
            format!("{} + {}", rules.display(), trace.display()),
            set.snapshot,
            set.queries,
        )
    } else {
        let (snapshot_path, flows_path) = (&args.inputs[0], &args.inputs[1]);
        progress.note(&format!(
            "loading {} and {}",
            snapshot_path.display(),
            flows_path.display()
        ));
        let snapshot = super::shared::load_snapshot(snapshot_path)?;
        let queries = read_flows(&snapshot, flows_path)?;
        (
            format!("{} + {}", snapshot_path.display(), flows_path.display()),
            snapshot,
            queries,
        )
    };
    if queries.is_empty() {
        return Err(format!("{label}: no flows to measure"));
    }
    let threads = if args.threads.is_empty() {
        let mut t = vec![1, bench::available_threads()];
        t.dedup();
        t
    } else {
        args.threads.clone()
    };
    let (engine, build_ms) = bench::build(snapshot, args.engine.tier());
    let measurements = bench::measure(
        &engine,
        build_ms,
        &queries,
        &threads,
        min_time,
        &mut progress,
    )
    .map_err(|err| format!("{label}: {err}"))?;
    let mut out = io::stdout().lock();
    if args.json {
        for m in &measurements {
            writeln!(out, "{}", serde_json::Value::Object(m.to_json())).map_err(io_err)?;
        }
    } else {
        print_measurements(&mut out, &label, &measurements).map_err(io_err)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn io_err(err: io::Error) -> String {
    format!("stdout: {err}")
}

fn read_flows(snapshot: &Snapshot, path: &std::path::Path) -> Result<Vec<Query>, String> {
    let name = path.display().to_string();
    if path.as_os_str() == "-" {
        bench::read_flows_csv(snapshot, io::stdin().lock(), &name)
    } else {
        let file = super::shared::open_input(path, super::eval::FLOWS_EXPECTED)?;
        bench::read_flows_csv(snapshot, io::BufReader::with_capacity(1 << 20, file), &name)
    }
}

fn memory_text(bytes: usize) -> String {
    format!("{} bytes ({}B)", bytes, bench::si(bytes as f64))
}

fn print_measurements(out: &mut dyn Write, label: &str, ms: &[Measurement]) -> io::Result<()> {
    let first = &ms[0];
    writeln!(out, "{label}")?;
    writeln!(out, "  processor {}", bench::processor_model())?;
    writeln!(
        out,
        "  rules {}, flows {}, build {:.2} ms, engine memory {}",
        first.rules,
        first.flows,
        first.build_ms,
        memory_text(first.memory_bytes)
    )?;
    writeln!(
        out,
        "  verified {} flows against the reference evaluator",
        first.verified_flows
    )?;
    writeln!(out, "  verdicts of one pass: {}", first.counts)?;
    writeln!(
        out,
        "  {:>7}  {:>14}  {:>12}  {:>10}  {:>7}  {:>8}",
        "threads", "flows/s", "ns/flow/thr", "x 1 thread", "passes", "seconds"
    )?;
    // The speed-up over one thread, when one thread was measured (in turns with the others).
    let single = ms.iter().find(|m| m.threads == 1).map(|m| m.flows_per_sec);
    for m in ms {
        let speedup = match single {
            Some(single) if single > 0.0 => format!("{:.2}", m.flows_per_sec / single),
            _ => "-".to_string(),
        };
        writeln!(
            out,
            "  {:>7}  {:>14.0}  {:>12.1}  {:>10}  {:>7}  {:>8.2}",
            m.threads,
            m.flows_per_sec,
            m.threads as f64 * 1e9 / m.flows_per_sec.max(1e-9),
            speedup,
            m.passes,
            m.seconds
        )?;
    }
    Ok(())
}

fn sweep(args: &BenchArgs, min_time: Duration, progress: &mut Stderr) -> Result<ExitCode, String> {
    if !args.inputs.is_empty() || !args.classbench.is_empty() {
        return Err("--sweep takes no SNAPSHOT FLOWS or --classbench".to_string());
    }
    if args.sweep.contains(&0) {
        return Err("--sweep: sizes must be at least 1 rule".to_string());
    }
    let flows = args.flows.unwrap_or(100_000);
    if flows == 0 {
        return Err("--flows 0: expected at least 1 flow".to_string());
    }
    if args.threads.len() > 1 {
        return Err(format!(
            "--threads {:?}: with --sweep give one thread count (1 thread is always measured)",
            args.threads
        ));
    }
    let reference_time = seconds(args.reference_time.unwrap_or(2.0), "--reference-time")?;
    let threads = args
        .threads
        .first()
        .copied()
        .unwrap_or_else(bench::available_threads);
    let settings = bench::SweepSettings {
        flows,
        seed: args.seed.unwrap_or(1),
        threads,
        min_time,
        reference_time,
        tier: args.engine.tier(),
    };
    let mut rows: Vec<SweepRow> = Vec::new();
    let mut out = io::stdout().lock();
    let is_table = !args.json && !args.csv;
    if args.csv {
        writeln!(out, "{}", CSV_HEADER).map_err(io_err)?;
    }
    for (k, &size) in args.sweep.iter().enumerate() {
        progress.note(&format!(
            "size {}/{}: {size} rules",
            k + 1,
            args.sweep.len()
        ));
        let row = bench::sweep_size(size, &settings, progress)
            .map_err(|err: BenchError| format!("--sweep {size} rules: {err}"))?;
        if args.json {
            for m in &row.measurements {
                let mut object = m.to_json();
                object.insert(
                    "reference_flows_per_sec".to_string(),
                    row.reference_flows_per_sec.round().into(),
                );
                writeln!(out, "{}", serde_json::Value::Object(object)).map_err(io_err)?;
            }
        } else if args.csv {
            writeln!(out, "{}", csv_row(&row, threads)).map_err(io_err)?;
        }
        out.flush().map_err(io_err)?;
        rows.push(row);
    }
    if is_table {
        print_table(&mut out, &rows, threads).map_err(io_err)?;
    }
    if let Some(path) = &args.plot {
        std::fs::write(path, bench::sweep_svg(&rows))
            .map_err(|err| format!("{}: {err}", path.display()))?;
        progress.note(&format!("wrote {}", path.display()));
    }
    Ok(ExitCode::SUCCESS)
}

const CSV_HEADER: &str = "rules,flows,build_ms,memory_bytes,threads,flows_per_sec_1_thread,flows_per_sec_all_threads,reference_flows_per_sec,reference_flows,accept,drop_rule,drop_default,accept_inner,drop_platform,processor";

fn csv_row(row: &SweepRow, threads: usize) -> String {
    let m = row.first();
    let c = m.counts;
    let mut processor = Vec::new();
    sgsim::input::flows::write_field(&bench::processor_model(), &mut processor);
    format!(
        "{},{},{:.3},{},{},{:.0},{:.0},{:.0},{},{},{},{},{},{},{}",
        m.rules,
        m.flows,
        m.build_ms,
        m.memory_bytes,
        threads,
        row.flows_per_sec(1).unwrap_or(0.0),
        row.flows_per_sec(threads).unwrap_or(0.0),
        row.reference_flows_per_sec,
        row.reference_flows,
        c.accept,
        c.drop_rule,
        c.drop_default,
        c.accept_inner,
        c.drop_platform,
        String::from_utf8_lossy(&processor)
    )
}

fn print_table(out: &mut dyn Write, rows: &[SweepRow], threads: usize) -> io::Result<()> {
    let all = format!("{threads} thr flows/s");
    writeln!(out, "processor {}", bench::processor_model())?;
    writeln!(
        out,
        "{:>8}  {:>8}  {:>10}  {:>12}  {:>14}  {:>14}  {:>14}  {:>9}  {:>8}  {:>9}  {:>12}  {:>7}  {:>8}",
        "rules",
        "flows",
        "build ms",
        "memory B",
        "1 thr flows/s",
        all,
        "ref flows/s",
        "speedup",
        "accept",
        "drop_rule",
        "drop_default",
        "a_inner",
        "d_platf"
    )?;
    for row in rows {
        let m = row.first();
        let c = m.counts;
        let one = row.flows_per_sec(1).unwrap_or(0.0);
        writeln!(
            out,
            "{:>8}  {:>8}  {:>10.2}  {:>12}  {:>14.0}  {:>14.0}  {:>14.0}  {:>8.1}x  {:>8}  {:>9}  {:>12}  {:>7}  {:>8}",
            m.rules,
            m.flows,
            m.build_ms,
            m.memory_bytes,
            one,
            row.flows_per_sec(threads).unwrap_or(one),
            row.reference_flows_per_sec,
            one / row.reference_flows_per_sec.max(1e-9),
            c.accept,
            c.drop_rule,
            c.drop_default,
            c.accept_inner,
            c.drop_platform
        )?;
    }
    writeln!(
        out,
        "(ref = reference scan on 1 thread, timed on at most the first flows for --reference-time; speedup = 1-thread engine / reference)"
    )?;
    Ok(())
}

fn estate(args: &BenchArgs, progress: &mut Stderr) -> Result<ExitCode, String> {
    use sgsim::bench::estate::{self as gen, EstateRow, EstateSettings, EstateShape};
    let e = &args.estate;
    if !args.inputs.is_empty() || !args.classbench.is_empty() {
        return Err("--estate takes no SNAPSHOT FLOWS or --classbench".to_string());
    }
    let sizes = if e.nics.is_empty() {
        vec![20_000]
    } else {
        e.nics.clone()
    };
    if sizes.len() > 1 && e.write.is_some() {
        return Err("--write keeps one estate: give one --nics size".to_string());
    }
    let group_sets = match e.group_sets.as_str() {
        "own" => None,
        text => Some(text.parse::<usize>().map_err(|_| {
            format!("--group-sets {text:?}: expected a number of group sets or `own`")
        })?),
    };
    let threads = args
        .threads
        .first()
        .copied()
        .unwrap_or_else(bench::available_threads);
    let settings_for = |nics: usize| {
        let groups = e.groups.unwrap_or((nics / 10).max(2));
        EstateSettings {
            shape: EstateShape {
                nics,
                groups,
                rules_per_group: e.rules_per_group,
                group_ref_share: e.group_ref_share,
                popular_groups: e.popular_groups.unwrap_or((groups / 20).max(1)),
                group_sets,
                seed: args.seed.unwrap_or(1),
            },
            flows: args.flows.unwrap_or(500_000),
            write: e.write.clone(),
            audit: !e.no_audit,
            threads,
        }
    };
    let rows: Vec<EstateRow> = if sizes.len() == 1 {
        vec![gen::measure(&settings_for(sizes[0]), progress)?]
    } else {
        // Each size in its own process, so that its peak memory is its own.
        let mut rows = Vec::new();
        for &nics in &sizes {
            progress.note(&format!("estate sweep: {nics} NICs in a child process"));
            rows.push(estate_child(&settings_for(nics))?);
        }
        rows
    };
    let mut out = io::stdout().lock();
    if args.json {
        for row in &rows {
            writeln!(
                out,
                "{}",
                serde_json::to_string(row).map_err(|e| e.to_string())?
            )
            .map_err(io_err)?;
        }
    } else {
        print_estate_table(&mut out, &rows).map_err(io_err)?;
    }
    if let Some(path) = &args.plot {
        std::fs::write(path, gen::estate_svg(&rows))
            .map_err(|err| format!("{}: {err}", path.display()))?;
        progress.note(&format!("wrote {}", path.display()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs one estate size as `sgsim bench --estate … --json` and reads its row back.
fn estate_child(
    settings: &sgsim::bench::estate::EstateSettings,
) -> Result<sgsim::bench::estate::EstateRow, String> {
    let shape = &settings.shape;
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command.args(["bench", "--estate", "--json"]);
    command.arg(format!("--nics={}", shape.nics));
    command.arg(format!("--groups={}", shape.groups));
    command.arg(format!("--rules-per-group={}", shape.rules_per_group));
    command.arg(format!("--group-ref-share={}", shape.group_ref_share));
    command.arg(format!("--popular-groups={}", shape.popular_groups));
    command.arg(format!(
        "--group-sets={}",
        shape
            .group_sets
            .map_or("own".to_string(), |k| k.to_string())
    ));
    command.arg(format!("--seed={}", shape.seed));
    command.arg(format!("--flows={}", settings.flows));
    command.arg(format!("--threads={}", settings.threads));
    if !settings.audit {
        command.arg("--no-audit");
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the estate child: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "the estate child for {} NICs failed ({})",
            shape.nics, output.status
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .map_err(|e| format!("the estate child's answer {text:?}: {e}"))
}

fn print_estate_table(
    out: &mut dyn Write,
    rows: &[sgsim::bench::estate::EstateRow],
) -> io::Result<()> {
    let processor = rows
        .first()
        .map_or_else(bench::processor_model, |r| r.processor.clone());
    writeln!(out, "processor {processor}")?;
    writeln!(
        out,
        "{:>7} {:>6} {:>7} {:>6} {:>8} {:>9} {:>7} {:>7} {:>9} {:>8} {:>8} {:>10} {:>7} {:>8} {:>9} {:>8}",
        "nics", "groups", "rules", "sets", "file MB", "py load s", "load s", "plan s",
        "check ms", "check us", "bulk s", "bulk fl/s", "built", "audit s", "report MB", "peak MB"
    )?;
    let opt = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_string(),
    };
    for r in rows {
        writeln!(
            out,
            "{:>7} {:>6} {:>7} {:>6} {:>8.1} {:>9} {:>7.3} {:>7.3} {:>9.3} {:>8.2} {:>8.3} {:>10.0} {:>7} {:>8} {:>9} {:>8}",
            r.nics,
            r.groups,
            r.rules,
            r.group_sets,
            r.snapshot_bytes as f64 / 1e6,
            opt(r.python_json_load_s, 3),
            r.load_s,
            r.plan_s,
            r.check_first_ms,
            r.check_mean_us,
            r.bulk_first_pass_s,
            r.bulk_flows_per_sec,
            r.bulk_built_sets,
            opt(r.audit_s, 2),
            opt(r.audit_json_bytes.map(|b| b as f64 / 1e6), 2),
            opt(r.peak_rss_bytes.map(|b| b as f64 / 1048576.0), 0)
        )?;
    }
    writeln!(
        out,
        "(verified against the reference evaluator first: {} flows; check ms = the first check on a fresh engine, check us = mean of {} more; bulk = first pass of {} flows on {} threads, group lists compiled as due; peak = the bench process, generator included)",
        rows.iter().map(|r| r.verified_flows).sum::<usize>(),
        rows.first().map_or(0, |r| r.check_flows),
        rows.first().map_or(0, |r| r.bulk_flows),
        rows.first().map_or(0, |r| r.bulk_threads),
    )
}
