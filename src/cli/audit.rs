//! `sgsim audit`: shadowed, redundant and risky rules, per NIC and direction.

use super::shared::{emit, load_engine, push_boxes, EvalSwitches};
use clap::Args;
use sgsim::analysis::audit::{
    audit_account, audit_target, AuditOptions, AuditReport, RedundantRule, ShadowedRule,
    TargetAudit,
};
use sgsim::analysis::hits::{add_to_sarif, unused_in_logs, UnusedInLogs};
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
    /// Exit 0 when there is no finding at or above --fail-on, 2 when there is, 1 on errors.
    #[arg(long)]
    detailed_exitcode: bool,
    /// With --detailed-exitcode: the least severity that counts, as SARIF levels: error (public
    /// exposure), warning (shadowed rules, limits) or note (redundant rules, rules unused in the
    /// logs; every finding).
    #[arg(
        long,
        value_enum,
        default_value = "note",
        requires = "detailed_exitcode"
    )]
    fail_on: Severity,
    /// A `sgsim replay --json` report: add its rules with zero hits as "unused in the logs".
    #[arg(long, value_name = "REPLAY.json")]
    hits: Option<PathBuf>,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: AuditArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    let mut options = AuditOptions::default();
    options.sensitive_ports.extend(&args.ports);
    let report = match &args.nic {
        Some(id) => AuditReport::of_targets(vec![audit_target(
            &engine,
            engine.target(id).map_err(|e| e.to_string())?,
            &options,
        )]),
        None => audit_account(&engine, &options),
    };
    let unused_in_logs = match &args.hits {
        Some(path) => {
            let source = path.display().to_string();
            let report = std::fs::read_to_string(path).map_err(|err| format!("{source}: {err}"))?;
            Some(unused_in_logs(engine.snapshot(), &source, &report)?)
        }
        None => None,
    };
    if args.sarif {
        let uri = args.snapshot.display().to_string();
        let mut sarif = audit_to_sarif(&report, &uri);
        if let Some(finding) = &unused_in_logs {
            add_to_sarif(&mut sarif, finding, &uri);
        }
        emit(&(pretty(&sarif) + "\n"))?;
    } else if args.json {
        let mut value = serde_json::json!({ "schema_version": SCHEMA_VERSION });
        if let serde_json::Value::Object(report) =
            serde_json::to_value(&report).map_err(|e| e.to_string())?
        {
            value.as_object_mut().expect("an object").extend(report);
        }
        if let Some(finding) = &unused_in_logs {
            value["unused_in_logs"] = serde_json::to_value(finding).map_err(|e| e.to_string())?;
        }
        emit(&(pretty(&value) + "\n"))?;
    } else {
        let mut out = text(&report);
        if let Some(finding) = &unused_in_logs {
            out.push_str(&super::replay::unused_in_logs_text(finding));
        }
        emit(&out)?;
    }
    Ok(
        if args.detailed_exitcode && worst(&report, unused_in_logs.as_ref()) >= Some(args.fail_on) {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The JSON `schema_version` of audit's output (docs/json.md).
const SCHEMA_VERSION: u32 = 1;

/// How severe a finding is: the level its kind has in the SARIF output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
enum Severity {
    Note,
    Warning,
    Error,
}

/// The most severe finding of the report (and of the rules unused in the logs), if any.
fn worst(report: &AuditReport, unused_in_logs: Option<&UnusedInLogs>) -> Option<Severity> {
    let unused = unused_in_logs
        .filter(|finding| !finding.rules.is_empty())
        .map(|_| Severity::Note);
    report
        .targets
        .iter()
        .filter_map(worst_of_target)
        .chain((!report.shadowed_everywhere.is_empty()).then_some(Severity::Warning))
        .chain(unused)
        .max()
}

/// The most severe finding of one audited target and of its variants.
fn worst_of_target(t: &TargetAudit) -> Option<Severity> {
    [
        (!t.exposures.is_empty()).then_some(Severity::Error),
        (!t.shadowed.is_empty() || !t.limits.is_empty()).then_some(Severity::Warning),
        (!t.redundant.is_empty() || !t.restates_default.is_empty()).then_some(Severity::Note),
    ]
    .into_iter()
    .flatten()
    .chain(t.variants.iter().filter_map(worst_of_target))
    .max()
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values print")
}

/// `a, b, c, d, e, … (N in all)`.
fn some_nics(nics: &[String]) -> String {
    let shown: Vec<&str> = nics.iter().take(5).map(String::as_str).collect();
    let more = if nics.len() > shown.len() {
        format!(", … ({} in all)", nics.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

fn count(target: &TargetAudit) -> usize {
    target.shadowed.len()
        + target.redundant.len()
        + target.restates_default.len()
        + target.exposures.len()
        + target.limits.len()
}

/// The human report: one block per target (or NICs with the same groups), then the findings
/// that only some of those NICs have.
pub fn text(report: &AuditReport) -> String {
    let mut out = String::new();
    if !report.shadowed_everywhere.is_empty() {
        out.push_str(&format!(
            "every NIC that carries their group: {} finding(s)\n",
            report.shadowed_everywhere.len()
        ));
        for s in &report.shadowed_everywhere {
            for c in &s.covered {
                shadowed_line(
                    &mut out,
                    &ShadowedRule {
                        direction: s.direction,
                        rule: s.rule.clone(),
                        covered_by: c.covered_by.clone(),
                        unmatchable: c.unmatchable,
                    },
                );
                if s.covered.len() > 1 {
                    out.push_str(&format!(
                        "            in the reports of {}\n",
                        some_nics(&c.reports)
                    ));
                }
            }
            out.push_str(&format!(
                "            for all {} NIC(s) of the {} reports that carry {}\n",
                s.nics,
                s.covered.iter().map(|c| c.reports.len()).sum::<usize>(),
                s.rule.group
            ));
        }
    }
    for target in &report.targets {
        out.push_str(&target.target);
        let others = &target.applies_to[1.min(target.applies_to.len())..];
        if !others.is_empty() {
            let what = if target.variants.is_empty() {
                "with the same findings"
            } else {
                "with the same groups"
            };
            out.push_str(&format!(
                " and {} more NIC(s) {what} ({})",
                others.len(),
                some_nics(others)
            ));
        }
        out.push_str(&format!(": {} finding(s)\n", count(target)));
        findings_text(&mut out, target);
        for variant in &target.variants {
            out.push_str(&format!(
                "  and for {} NIC(s) of these ({}): {} more finding(s)\n",
                variant.applies_to.len(),
                some_nics(&variant.applies_to),
                count(variant)
            ));
            findings_text(&mut out, variant);
        }
    }
    out
}

/// A redundant rule, or one that restates the default (`label`), and a flow it decides.
fn redundant_line(out: &mut String, label: &str, r: &RedundantRule) {
    out.push_str(&format!(
        "  {label} {} {}/{} ({}): {}\n",
        r.direction, r.rule.group, r.rule.rule, r.rule.summary, r.reason
    ));
    if let Some(w) = &r.witness {
        out.push_str(&format!(
            "            it decides e.g. {} ({})\n",
            w.flow, w.engine
        ));
    }
}

fn shadowed_line(out: &mut String, s: &ShadowedRule) {
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

/// The finding lines of one report.
fn findings_text(out: &mut String, target: &TargetAudit) {
    {
        for s in &target.shadowed {
            shadowed_line(out, s);
        }
        for r in &target.redundant {
            redundant_line(out, "redundant", r);
        }
        for r in &target.restates_default {
            redundant_line(out, "restates ", r);
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
            push_boxes(out, &e.region, "            ");
            out.push_str(&format!(
                "            witness {} -> {} by {}\n",
                e.witness.flow, e.witness.engine, e.witness.engine_by
            ));
        }
        for l in &target.limits {
            out.push_str(&format!("  limit     {}: {}\n", l.kind, l.message));
        }
    }
}
