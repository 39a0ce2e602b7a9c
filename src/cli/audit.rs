//! `sgsim audit`: shadowed, redundant and risky rules, per NIC and direction.

use super::{emit, load_engine, EvalSwitches};
use clap::Args;
use sgsim::analysis::audit::{audit, audit_target, AuditOptions, AuditReport};
use sgsim::analysis::sarif::audit_to_sarif;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Snapshot JSON file, a directory of ECS API answers, or `-` for stdin.
    snapshot: PathBuf,
    /// Audit only this NIC (or, for a bare group snapshot, this group).
    #[arg(long)]
    nic: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, conflicts_with = "sarif")]
    json: bool,
    /// Print a SARIF 2.1.0 log instead of text.
    #[arg(long)]
    sarif: bool,
    /// More sensitive destination ports, comma-separated (added to 22, 3389, 3306, 5432, 6379,
    /// 27017, 9200, 11211, 2375, 5900).
    #[arg(long, value_delimiter = ',')]
    ports: Vec<u16>,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: AuditArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    let mut options = AuditOptions::default();
    options.sensitive_ports.extend(&args.ports);
    let report = match &args.nic {
        Some(id) => AuditReport {
            targets: vec![audit_target(&engine, engine.target(id)?, &options)],
        },
        None => audit(&engine, &options),
    };
    if args.sarif {
        let uri = args.snapshot.display().to_string();
        emit(&(pretty(&audit_to_sarif(&report, &uri)) + "\n"))?;
    } else if args.json {
        let value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        emit(&(pretty(&value) + "\n"))?;
    } else {
        emit(&text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values print")
}

/// The human report: one block per target.
pub fn text(report: &AuditReport) -> String {
    let mut out = String::new();
    for target in &report.targets {
        let findings = target.shadowed.len()
            + target.redundant.len()
            + target.exposures.len()
            + target.limits.len();
        out.push_str(&format!("{}: {findings} finding(s)\n", target.target));
        for s in &target.shadowed {
            if s.unmatchable {
                out.push_str(&format!(
                    "  shadowed  {} {}/{} ({}): matches no flow\n",
                    s.direction, s.rule.group, s.rule.rule, s.rule.summary
                ));
            } else {
                out.push_str(&format!(
                    "  shadowed  {} {}/{} ({}): covered by {}\n",
                    s.direction,
                    s.rule.group,
                    s.rule.rule,
                    s.rule.summary,
                    s.covered_by.join(", ")
                ));
            }
        }
        for r in &target.redundant {
            out.push_str(&format!(
                "  redundant {} {}/{} ({}): {}\n",
                r.direction, r.rule.group, r.rule.rule, r.rule.summary, r.reason
            ));
            if let Some(w) = &r.witness {
                out.push_str(&format!(
                    "            it decides e.g. {} ({})\n",
                    w.flow, w.engine
                ));
            }
        }
        for e in &target.exposures {
            let what = if e.ports == "all" {
                "every port".to_string()
            } else {
                format!("port {}", e.ports)
            };
            out.push_str(&format!(
                "  exposed   public {} sources reach {what}, accepted by {}\n",
                e.family,
                e.accepted_by.join(", ")
            ));
            for b in &e.region.boxes {
                out.push_str(&format!("            {b}\n"));
            }
            if e.region.total_boxes > e.region.boxes.len() {
                out.push_str(&format!(
                    "            … {} more boxes\n",
                    e.region.total_boxes - e.region.boxes.len()
                ));
            }
            out.push_str(&format!(
                "            witness {} -> {} by {}\n",
                e.witness.flow, e.witness.engine, e.witness.engine_by
            ));
        }
        for l in &target.limits {
            out.push_str(&format!("  limit     {}: {}\n", l.kind, l.message));
        }
    }
    out
}
