//! SARIF 2.1.0 output of an audit, for code-scanning tools. Findings are located logically
//! (NIC → direction → group → rule) and physically at the snapshot file.

use super::audit::AuditReport;
use serde_json::{json, Value};

/// The SARIF rules (finding kinds) this tool reports, with their default levels.
const RULES: [(&str, &str, &str, &str); 5] = [
    (
        "SG001",
        "shadowed-rule",
        "A rule that can never decide a flow: rules before it in S10 order cover all it matches.",
        "warning",
    ),
    (
        "SG002",
        "redundant-rule",
        "A rule whose removal changes no verdict.",
        "note",
    ),
    (
        "SG003",
        "public-exposure",
        "Public source addresses reach a sensitive port, or every port.",
        "error",
    ),
    (
        "SG004",
        "limit",
        "A NIC at or over the rule quota, an empty group, or a reference to a missing or empty group or list.",
        "warning",
    ),
    (
        "SG005",
        "restates-default",
        "A rule whose flows the default decides the same way without it (e.g. an explicit deny of what is denied anyway).",
        "none",
    ),
];

/// The audit as a SARIF 2.1.0 log. `snapshot_uri` names the audited file.
pub fn audit_to_sarif(report: &AuditReport, snapshot_uri: &str) -> Value {
    let mut results = Vec::new();
    let location = |target: &str, path: &[&str], name: &str| {
        let mut qualified = vec![target];
        qualified.extend_from_slice(path);
        json!({
            "physicalLocation": { "artifactLocation": { "uri": snapshot_uri } },
            "logicalLocations": [{
                "name": name,
                "fullyQualifiedName": qualified.join("/"),
                "kind": "object"
            }]
        })
    };
    let result = |index: usize, message: String, location: Value, properties: Value| {
        json!({
            "ruleId": RULES[index].0,
            "ruleIndex": index,
            "level": RULES[index].3,
            "message": { "text": message },
            "locations": [location],
            "properties": properties
        })
    };
    for s in &report.shadowed_everywhere {
        let dir = s.direction.as_str();
        let cause = match s.covered.as_slice() {
            [c] if c.unmatchable => "matches no flow".to_string(),
            [c] => format!("is shadowed by {}", c.covered_by.join(", ")),
            _ => "is shadowed".to_string(),
        };
        results.push(result(
            0,
            format!(
                "{} {dir}: rule {} ({}) {cause}, for all {} NIC(s) that carry the group",
                s.rule.group, s.rule.rule, s.rule.summary, s.nics
            ),
            location(&s.rule.group, &[dir, &s.rule.rule], &s.rule.rule),
            json!({ "covered": s.covered, "nics": s.nics }),
        ));
    }
    // A variant's findings hold for its NICs (on top of its report's, for all of them).
    let reports = report
        .targets
        .iter()
        .flat_map(|t| std::iter::once(t).chain(&t.variants));
    for target in reports {
        let t = target.target.as_str();
        let first_result = results.len();
        for s in &target.shadowed {
            let dir = s.direction.as_str();
            let message = if s.unmatchable {
                format!(
                    "{t} {dir}: rule {} ({}) matches no flow",
                    s.rule.rule, s.rule.summary
                )
            } else {
                format!(
                    "{t} {dir}: rule {} ({}) is shadowed by {}",
                    s.rule.rule,
                    s.rule.summary,
                    s.covered_by.join(", ")
                )
            };
            results.push(result(
                0,
                message,
                location(t, &[dir, &s.rule.group, &s.rule.rule], &s.rule.rule),
                json!({ "coveredBy": s.covered_by, "unmatchable": s.unmatchable }),
            ));
        }
        // Redundant rules (rule 1) and rules that restate the default (rule 4): the same
        // shape of finding, told apart by what they are and what they point to.
        let redundant = target.redundant.iter().map(|r| {
            let properties = json!({ "sameAs": r.same_as, "witness": r.witness });
            (1, "is redundant", r, properties)
        });
        let restating = target.restates_default.iter().map(|r| {
            (
                4,
                "restates the default",
                r,
                json!({ "witness": r.witness }),
            )
        });
        for (rule_index, what, r, properties) in redundant.chain(restating) {
            let dir = r.direction.as_str();
            let (rule, summary) = (&r.rule.rule, &r.rule.summary);
            results.push(result(
                rule_index,
                format!("{t} {dir}: rule {rule} ({summary}) {what}: {}", r.reason),
                location(t, &[dir, &r.rule.group, rule], rule),
                properties,
            ));
        }
        for e in &target.exposures {
            let what = if e.ports == "all" {
                "every port".to_string()
            } else {
                format!("port {}", e.ports)
            };
            results.push(result(
                2,
                format!(
                    "{t}: public {} sources reach {what}, accepted by {}; e.g. {}",
                    e.family,
                    e.accepted_by.join(", "),
                    e.witness.flow
                ),
                location(t, &["ingress"], t),
                json!({ "region": e.region, "acceptedBy": e.accepted_by, "witness": e.witness }),
            ));
        }
        for l in &target.limits {
            let mut path = Vec::new();
            if let Some(group) = &l.group {
                path.push(group.as_str());
            }
            if let Some(rule) = &l.rule {
                path.push(rule.as_str());
            }
            let name = path.last().copied().unwrap_or(t);
            results.push(result(
                3,
                format!("{t}: {}", l.message),
                location(t, &path, name),
                json!({ "kind": l.kind }),
            ));
        }
        // Each finding holds for every NIC the report lists.
        for result in &mut results[first_result..] {
            result["properties"]["appliesTo"] = json!(target.applies_to);
        }
    }
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(id, name, text, level)| {
            json!({
                "id": id,
                "name": name,
                "shortDescription": { "text": text },
                "defaultConfiguration": { "level": level }
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "sgsim",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "artifacts": [{ "location": { "uri": snapshot_uri } }],
            "results": results
        }]
    })
}
