//! `sgsim reach`: who can reach whom on what, as text, JSON, an SVG graph or an HTML page.

use super::shared::{emit, load_engine, EvalSwitches};
use clap::Args;
use sgsim::analysis::reach::{reach, select, ReachSelection};
use sgsim::analysis::reach_render;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReachArgs {
    /// Snapshot JSON file (`-` = stdin).
    snapshot: PathBuf,
    /// Sources: NIC ids, group ids (`sg-…`: the NICs carrying it) or `internet`; comma-separated
    /// or repeated. Default: everyone.
    #[arg(long, value_delimiter = ',')]
    from: Vec<String>,
    /// Destinations, as for --from.
    #[arg(long, value_delimiter = ',')]
    to: Vec<String>,
    /// Print JSON (schema_version, classes, edges).
    #[arg(long, conflicts_with_all = ["html", "svg"])]
    json: bool,
    /// Print one self-contained HTML page: graph, matrix, details on click.
    #[arg(long, conflicts_with = "svg")]
    html: bool,
    /// Print the graph as SVG.
    #[arg(long)]
    svg: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: ReachArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    let snapshot = engine.snapshot();
    if snapshot.nics().is_empty() {
        return Err(format!(
            "{}: reach is about network interfaces, and the snapshot has none (for a bare group, ask check, search or audit)",
            args.snapshot.display()
        ));
    }
    let chosen = |selectors: &[String], option: &str| {
        if selectors.is_empty() {
            Ok(None)
        } else {
            select(snapshot, selectors)
                .map(Some)
                .map_err(|err| format!("{option}: {err}"))
        }
    };
    let selection = ReachSelection {
        from: chosen(&args.from, "--from")?,
        to: chosen(&args.to, "--to")?,
        deciding_rules: args.json || args.html,
    };
    let report = reach(&engine, &selection);
    if args.json {
        let value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        emit(&(serde_json::to_string_pretty(&value).expect("JSON values print") + "\n"))?;
    } else if args.html {
        let source = args.snapshot.display().to_string();
        emit(&reach_render::html(&report, &source))?;
    } else if args.svg {
        emit(&reach_render::svg(&report))?;
    } else {
        emit(&reach_render::text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
