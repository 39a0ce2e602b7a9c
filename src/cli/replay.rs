//! `sgsim replay`: VPC flow logs replayed against a snapshot.

use super::shared::{emit, load_bulk_engine, use_threads, EvalSwitches, ProgressLine};
use clap::Args;
use sgsim::analysis::replay::{Replay, ReplayObserver, ReplayOptions, ReplayReport};
use sgsim::control::utc_timestamp;
use sgsim::input::flowlog::{self, Format, RecordError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Snapshot JSON file.
    snapshot: PathBuf,
    /// Flow-log files (`-` = stdin): SLS JSON lines, CSV with a header, or Parquet; plain or
    /// compressed (gzip, zstd, snappy as OSS shipping writes it, framed snappy).
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// The logs' format, instead of detecting it from their content.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Print the whole report as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print only the per-rule table, as CSV.
    #[arg(long)]
    csv: bool,
    /// List at most this many mismatches one by one (all are counted).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    max_mismatches: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    switches: EvalSwitches,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Json,
    Csv,
    Parquet,
}

/// Malformed records beyond this many are counted, not printed one by one.
const MAX_REPORTED_RECORDS: u64 = 1000;

struct Reporter {
    reported: u64,
    progress: ProgressLine,
}

impl ReplayObserver for Reporter {
    fn malformed(&mut self, file: &str, line: u64, error: &RecordError) {
        self.reported += 1;
        if self.reported <= MAX_REPORTED_RECORDS {
            self.progress.clear();
            eprintln!("{file}:{line}: {error}");
        }
    }

    fn progress(&mut self, records: u64) {
        self.progress.update(|secs| {
            format!(
                "{records} records, {:.2} M records/s",
                records as f64 / secs / 1e6
            )
        });
    }
}

pub fn run(args: ReplayArgs) -> Result<ExitCode, String> {
    use_threads(args.threads)?;
    let engine = load_bulk_engine(&args.snapshot, &args.switches)?;
    let format = args.format.map(|f| match f {
        FormatArg::Json => Format::Json,
        FormatArg::Csv => Format::Csv,
        FormatArg::Parquet => Format::Parquet,
    });
    let mut replay = Replay::new(
        &engine,
        ReplayOptions {
            max_listed_mismatches: args.max_mismatches,
        },
    );
    let mut reporter = Reporter {
        reported: 0,
        progress: ProgressLine::new(),
    };
    // PERF: the next block is read (I/O, decompression, splitting lines, Parquet decoding) on
    // one of the pool's threads while the others evaluate this one, and that thread joins them
    // once it has read: the pool's threads are the only busy ones (a reading thread of its own
    // made three on two cores; docs/flowlogs.md).
    let mut feeds = Feeds::new(&args.logs, format);
    let mut next = feeds.next();
    while let Some(feed) = next {
        next = match feed? {
            Feed::File(name) => {
                replay.start_file(&name);
                feeds.next()
            }
            Feed::Block(block) => {
                let (following, ()) = rayon::join(
                    || feeds.next(),
                    || replay.add_block(block.as_ref(), &mut reporter),
                );
                following
            }
        };
    }
    let report = replay.finish();
    reporter.progress.clear();
    if reporter.reported > MAX_REPORTED_RECORDS {
        eprintln!(
            "{} more malformed records not shown",
            reporter.reported - MAX_REPORTED_RECORDS
        );
    }
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        emit(&(text + "\n"))?;
    } else if args.csv {
        emit(&csv(&report))?;
    } else {
        emit(&text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What reading the logs gives: a file's name, then its blocks.
enum Feed {
    File(String),
    Block(Box<dyn flowlog::Block>),
}

/// The logs' files in turn, each block by block (the caller stops at the first error).
struct Feeds<'a> {
    logs: std::slice::Iter<'a, PathBuf>,
    format: Option<Format>,
    reader: Option<flowlog::LogReader>,
}

impl<'a> Feeds<'a> {
    fn new(logs: &'a [PathBuf], format: Option<Format>) -> Feeds<'a> {
        Feeds {
            logs: logs.iter(),
            format,
            reader: None,
        }
    }
}

impl Iterator for Feeds<'_> {
    type Item = Result<Feed, String>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            match self.reader.as_mut().map(flowlog::LogReader::next_block) {
                Some(Ok(Some(block))) => Ok(Feed::Block(block)),
                Some(Err(err)) => Err(err.to_string()),
                // The file ended (or none was open): the next one.
                Some(Ok(None)) | None => {
                    self.reader = None;
                    let path = self.logs.next()?;
                    match flowlog::open(path, self.format) {
                        Ok(reader) => {
                            let name = reader.name().to_string();
                            self.reader = Some(reader);
                            Ok(Feed::File(name))
                        }
                        Err(err) => Err(err.to_string()),
                    }
                }
            },
        )
    }
}

/// Rules of the synthetic snapshot `sgsim bench --flowlogs` writes.
#[cfg(feature = "parquet")]
const BENCH_RULES: usize = 1000;
/// Distinct flows the generated records cycle through (client ports are drawn per connection).
#[cfg(feature = "parquet")]
const BENCH_FLOWS: usize = 100_000;

/// `sgsim bench --flowlogs DIR` needs Parquet to write its second file.
#[cfg(not(feature = "parquet"))]
pub fn write_bench_logs(_: &Path, _: u64, _: u64) -> Result<ExitCode, String> {
    Err("--flowlogs: built without the cargo feature `parquet`".to_string())
}

/// `sgsim bench --flowlogs DIR`: a synthetic snapshot and `records` generated flow-log records
/// in SLS JSON and Parquet, for timing `sgsim replay` (not timed here).
#[cfg(feature = "parquet")]
pub fn write_bench_logs(dir: &Path, records: u64, seed: u64) -> Result<ExitCode, String> {
    use sgsim::bench::flowlog::{write_json, LogGenerator, ParquetLogWriter};
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let set = sgsim::bench::synth::generate(BENCH_RULES, BENCH_FLOWS, seed);
    let engine = sgsim::Engine::builder(set.snapshot)
        .options(Default::default())
        .bulk()
        .build();
    let snapshot_path = dir.join("snapshot.json");
    std::fs::write(
        &snapshot_path,
        sgsim::input::ecs::write::snapshot_to_string(engine.snapshot()),
    )
    .map_err(|err| format!("{}: {err}", snapshot_path.display()))?;
    let json_path = dir.join("flowlogs.jsonl");
    let parquet_path = dir.join("flowlogs.parquet");
    let create = |path: &Path| {
        std::fs::File::create(path).map_err(|err| format!("{}: {err}", path.display()))
    };
    let mut json = std::io::BufWriter::with_capacity(1 << 20, create(&json_path)?);
    let mut parquet = ParquetLogWriter::new(create(&parquet_path)?)?;
    let mut line = Vec::with_capacity(1024);
    for (n, record) in LogGenerator::new(&engine, set.queries, records, seed).enumerate() {
        line.clear();
        write_json(&record, &mut line);
        json.write_all(&line)
            .map_err(|err| format!("{}: {err}", json_path.display()))?;
        parquet.push(&record)?;
        if n % 1_000_000 == 999_999 {
            eprintln!("{} records written", n + 1);
        }
    }
    json.flush()
        .map_err(|err| format!("{}: {err}", json_path.display()))?;
    parquet.finish()?;
    println!(
        "wrote {}, {} and {} ({records} records each)",
        snapshot_path.display(),
        json_path.display(),
        parquet_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The per-rule table as CSV.
pub fn csv(report: &ReplayReport) -> String {
    let mut out = String::from(
        "security_group_id,rule_id,nic_id,direction,hits,distinct_flows,packets,bytes,first_seen,last_seen\n",
    );
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let number = |n: Option<u64>| n.map_or(String::new(), |n| n.to_string());
    for row in &report.rules {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            field(row.security_group_id.as_deref().unwrap_or("")),
            field(&row.rule_id),
            field(row.nic_id.as_deref().unwrap_or("")),
            row.direction,
            row.hits,
            row.distinct_flows,
            row.packets,
            row.bytes,
            number(row.first_seen),
            number(row.last_seen),
        ));
    }
    out
}

/// The human report.
pub fn text(report: &ReplayReport) -> String {
    let r = &report.records;
    let s = &r.skipped;
    let mut out = format!(
        "records: {} read, {} evaluated; skipped: {} reply, {} ambiguous, {} nodata, {} skipdata, {} unmapped, {} malformed\n",
        r.read, r.evaluated, s.reply, s.ambiguous, s.nodata, s.skipdata, s.unmapped, s.malformed
    );
    out.push_str(&format!(
        "time range: {} .. {}\n\n",
        time(report.unused.from),
        time(report.unused.to)
    ));
    let mut table = vec![[
        "GROUP/NIC".to_string(),
        "RULE".to_string(),
        "DIRECTION".to_string(),
        "HITS".to_string(),
        "FLOWS".to_string(),
        "PACKETS".to_string(),
        "BYTES".to_string(),
        "FIRST SEEN".to_string(),
        "LAST SEEN".to_string(),
    ]];
    // Decision rows without hits say nothing a reader needs; JSON and CSV keep them.
    for row in report
        .rules
        .iter()
        .filter(|row| row.security_group_id.is_some() || row.hits > 0)
    {
        table.push([
            row.security_group_id
                .clone()
                .or_else(|| row.nic_id.clone())
                .unwrap_or_default(),
            row.rule_id.clone(),
            row.direction.to_string(),
            row.hits.to_string(),
            if row.distinct_flows_exact {
                row.distinct_flows.to_string()
            } else {
                format!("~{}", row.distinct_flows)
            },
            row.packets.to_string(),
            row.bytes.to_string(),
            time(row.first_seen),
            time(row.last_seen),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            // Numbers right-aligned, words left-aligned.
            if (3..7).contains(&c) {
                line.push_str(&format!("{cell:>width$}  ", width = widths[c]));
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nunused: {} rule(s) with zero hits\n",
        report.unused.rules.len()
    ));
    for rule in &report.unused.rules {
        out.push_str(&format!(
            "  {}/{} {} ({})\n",
            rule.security_group_id, rule.rule_id, rule.direction, rule.summary
        ));
    }
    for caveat in &report.unused.caveats {
        out.push_str(&format!("  caveat: {caveat}\n"));
    }
    let m = &report.mismatch_counts;
    out.push_str(&format!(
        "\nmismatches: {} rejected though the groups accept (network ACL or other), {} accepted though the groups drop (drift: the snapshot is not what ran)\n",
        m.rejected_though_accepted, m.accepted_though_dropped
    ));
    for mismatch in &report.mismatches {
        let proto = sgsim::model::protocol_name(mismatch.flow.protocol)
            .map_or(mismatch.flow.protocol.to_string(), str::to_string);
        out.push_str(&format!(
            "  {}:{}: {} {} {proto} {}:{} -> {}:{} logged {}, simulated {} by {}\n",
            mismatch.file,
            mismatch.line,
            mismatch.eni_id,
            mismatch.flow.direction,
            mismatch.flow.src,
            mismatch.flow.src_port,
            mismatch.flow.dst,
            mismatch.flow.dst_port,
            mismatch.logged_action,
            mismatch.simulated,
            mismatch.decided_by
        ));
    }
    if m.listed < m.rejected_though_accepted + m.accepted_though_dropped {
        out.push_str(&format!(
            "  … {} more not listed (--max-mismatches)\n",
            m.rejected_though_accepted + m.accepted_though_dropped - m.listed
        ));
    }
    for eni in &report.unmapped_enis {
        out.push_str(&format!(
            "unmapped: {} ({} records): not in the snapshot\n",
            eni.eni_id, eni.records
        ));
    }
    out
}

/// `sgsim audit --hits`: the "unused in the logs" finding as text.
pub fn unused_in_logs_text(finding: &sgsim::analysis::hits::UnusedInLogs) -> String {
    let mut out = format!(
        "unused in the logs ({} .. {}, {}): {} rule(s)\n",
        time(finding.from),
        time(finding.to),
        finding.source,
        finding.rules.len()
    );
    for rule in &finding.rules {
        out.push_str(&format!(
            "  unused    {} {}/{} ({})\n",
            rule.direction, rule.security_group_id, rule.rule_id, rule.summary
        ));
    }
    for missing in &finding.not_in_snapshot {
        out.push_str(&format!(
            "  note      {missing} is in the replay but not in this snapshot\n"
        ));
    }
    for caveat in &finding.caveats {
        out.push_str(&format!("  caveat    {caveat}\n"));
    }
    out
}

/// Unix seconds as `2024-07-03T09:46:40Z`, `-` when unknown.
fn time(seconds: Option<u64>) -> String {
    seconds.map_or_else(
        || "-".to_string(),
        |s| utc_timestamp(i64::try_from(s).unwrap_or(i64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc() {
        assert_eq!(super::time(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(super::time(Some(1_720_775_420)), "2024-07-12T09:10:20Z");
        assert_eq!(super::time(Some(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(super::time(None), "-");
    }
}
