//! `sgsim diff`: the flows whose verdict changes between two snapshots.

use super::{emit, load_engine, EvalSwitches};
use clap::Args;
use serde_json::json;
use sgsim::analysis::diff::{diff, flipped_flows, DiffReport, FlowFlip};
use sgsim::model::Flow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The snapshot before the change.
    old: PathBuf,
    /// The snapshot after the change.
    new: PathBuf,
    /// Also list the flows of this CSV (the `eval` format) whose verdict flips.
    #[arg(long)]
    flows: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: DiffArgs) -> Result<ExitCode, String> {
    let old = load_engine(&args.old, &args.switches)?;
    let new = load_engine(&args.new, &args.switches)?;
    let report = diff(&old, &new);
    let mut bad_rows = false;
    let flips = match &args.flows {
        Some(path) => {
            let (flows, bad) = read_flows(path)?;
            bad_rows = bad;
            Some(flipped_flows(&old, &new, &flows))
        }
        None => None,
    };
    if args.json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let Some(flips) = &flips {
            value["flows"] = json!(flips);
        }
        emit(&(serde_json::to_string_pretty(&value).expect("JSON values print") + "\n"))?;
    } else {
        emit(&text(&report, flips.as_deref()))?;
    }
    // As in `eval`: bad rows stop nothing, but the exit code says some flows went unanswered.
    Ok(if bad_rows {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A flows-file row: its line number, target id and flow.
type FlowRow = (u64, String, Flow);

/// Reads an eval CSV: `nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port`. Bad rows
/// are reported on stderr with their line numbers and skipped; the flag says there were some.
fn read_flows(path: &Path) -> Result<(Vec<FlowRow>, bool), String> {
    let name = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| format!("{name}: {e}"))?;
    let mut out = Vec::new();
    let mut bad = false;
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let parsed = record.map_err(|e| e.to_string()).and_then(|record| {
            if record.len() != 7 {
                return Err(format!("expected 7 fields, found {}", record.len()));
            }
            let flow = Flow::parse(
                &record[1], &record[2], &record[3], &record[4], &record[5], &record[6],
            )
            .map_err(|e| e.to_string())?;
            Ok((line, record[0].to_string(), flow))
        });
        match parsed {
            Ok(row) => out.push(row),
            Err(message) => {
                eprintln!("{name}:{line}: {message}");
                bad = true;
            }
        }
    }
    Ok((out, bad))
}

pub fn text(report: &DiffReport, flips: Option<&[FlowFlip]>) -> String {
    let mut out = String::new();
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    for target in report.targets.iter().filter(|t| !t.changes.is_empty()) {
        out.push_str(&format!(
            "{}: {} change(s)\n",
            target.target,
            target.changes.len()
        ));
        for c in &target.changes {
            out.push_str(&format!(
                "  {} {} {} -> {}: before {}, after {}\n",
                c.direction, c.family, c.from, c.to, c.before, c.after
            ));
            for b in &c.region.boxes {
                out.push_str(&format!("      {b}\n"));
            }
            if c.region.total_boxes > c.region.boxes.len() {
                out.push_str(&format!(
                    "      … {} more boxes\n",
                    c.region.total_boxes - c.region.boxes.len()
                ));
            }
            out.push_str(&format!(
                "      witness {}: {} by {} -> {} by {}\n",
                c.witness_before.flow,
                c.witness_before.engine,
                c.witness_before.engine_by,
                c.witness_after.engine,
                c.witness_after.engine_by
            ));
        }
    }
    if let Some(flips) = flips {
        out.push_str(&format!("{} flow(s) from the file flip\n", flips.len()));
        for f in flips {
            out.push_str(&format!(
                "  line {}: {} {}: {} by {} -> {} by {}\n",
                f.line, f.target, f.flow, f.from, f.before, f.to, f.after
            ));
        }
    }
    if report.is_empty() && flips.is_none_or(|f| f.is_empty()) {
        out.push_str("no verdict changes\n");
    }
    out
}
