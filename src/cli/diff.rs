//! `sgsim diff`: the flows whose verdict changes between two snapshots.

use super::shared::{emit, load_engine, push_boxes, EvalSwitches};
use clap::Args;
use serde_json::json;
use sgsim::analysis::diff::{diff, flipped_flows, DiffReport, FlowFlip};
use sgsim::input::flows::FlowsReader;
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
    /// Print JSON instead of text (described in docs/json.md).
    #[arg(long)]
    json: bool,
    /// Exit 0 when no verdict changes, 2 when some do (in the rule sets or the flows file), 1 on
    /// errors.
    #[arg(long)]
    detailed_exitcode: bool,
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
            let (flows, bad) = read_flows(path, &old, &new)?;
            bad_rows = bad;
            Some(flipped_flows(&old, &new, &flows))
        }
        None => None,
    };
    if args.json {
        let mut value = json!({ "schema_version": SCHEMA_VERSION });
        if let serde_json::Value::Object(report) =
            serde_json::to_value(&report).map_err(|e| e.to_string())?
        {
            value.as_object_mut().expect("an object").extend(report);
        }
        if let Some(flips) = &flips {
            value["flows"] = json!(flips);
        }
        emit(&(serde_json::to_string_pretty(&value).expect("JSON values print") + "\n"))?;
    } else {
        emit(&text(&report, flips.as_deref()))?;
    }
    let changed = !report.is_empty() || flips.as_ref().is_some_and(|f| !f.is_empty());
    // As in `eval`: bad rows stop nothing, but the exit code says some flows went unanswered.
    Ok(if bad_rows {
        ExitCode::from(1)
    } else if args.detailed_exitcode && changed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The JSON `schema_version` of diff's output (docs/json.md).
const SCHEMA_VERSION: u32 = 1;

/// A flows-file row: its line number, target id and flow.
type FlowRow = (u64, String, Flow);

/// Reads the flows file (the `eval` format, [`sgsim::input::flows`]). Bad rows, and rows whose NIC is
/// in neither snapshot, are reported on stderr with their line numbers and left out; the flag
/// says there were some.
fn read_flows(
    path: &Path,
    old: &sgsim::Engine,
    new: &sgsim::Engine,
) -> Result<(Vec<FlowRow>, bool), String> {
    let name = path.display().to_string();
    let file = super::shared::open_input(path, super::eval::FLOWS_EXPECTED)?;
    let rows = FlowsReader::new(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|err| err.in_file(&name))?;
    let mut out = Vec::new();
    let mut bad = false;
    for row in rows {
        match row.map_err(|e| format!("{name}: {e}"))? {
            Ok(row)
                if old.target(&row.target_id).is_err() && new.target(&row.target_id).is_err() =>
            {
                let why = old
                    .target(&row.target_id)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                eprintln!("{name}:{}: nic_id: {why} (in neither snapshot)", row.line);
                bad = true;
            }
            Ok(row) => out.push((row.line, row.target_id, row.flow)),
            Err(err) => {
                eprintln!("{name}:{}: {}", err.line, err.message);
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
            push_boxes(&mut out, &c.region, "      ");
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
