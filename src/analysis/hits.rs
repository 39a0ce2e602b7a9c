//! `sgsim audit --hits REPLAY.json`: the rules a replay (`sgsim replay --json`) found no
//! logged traffic for, as an audit finding ("unused in the logs"). Kept apart from the audit's
//! own findings: it reads a report, not the rule space.

use crate::model::{Direction, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The replay report keys read here (`sgsim replay --json`, schema_version 1).
#[derive(Deserialize)]
struct ReplayJson {
    schema_version: u32,
    unused: UnusedJson,
}

#[derive(Deserialize)]
struct UnusedJson {
    from: Option<u64>,
    to: Option<u64>,
    caveats: Vec<String>,
    rules: Vec<RuleJson>,
}

#[derive(Deserialize)]
struct RuleJson {
    security_group_id: String,
    rule_id: String,
    direction: String,
}

/// The finding: rules with zero hits in the logs, over a time range, with the replay's caveats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnusedInLogs {
    /// The replay report it comes from.
    pub source: String,
    /// Unix seconds.
    pub from: Option<u64>,
    /// Unix seconds: see `from`.
    pub to: Option<u64>,
    /// The replay's caveats: why a listed rule may still be used.
    pub caveats: Vec<String>,
    /// The unused rules that the audited snapshot has.
    pub rules: Vec<UnusedInLogsRule>,
    /// Rules the replay named that the audited snapshot does not have (`sg/sgr`): the report
    /// was made against another snapshot.
    pub not_in_snapshot: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A rule with zero hits in the logs.
pub struct UnusedInLogsRule {
    /// The rule's group.
    pub security_group_id: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule's direction.
    pub direction: Direction,
    /// The rule's priority: 1 (decided first) to 100, or the legacy 110.
    pub priority: u8,
    /// The rule in words: `accept tcp 22/22 from 0.0.0.0/0`.
    pub summary: String,
}

/// Reads a replay report and matches its unused rules to the audited snapshot. Errors name the
/// JSON path and what was expected.
pub fn unused_in_logs(
    snapshot: &Snapshot,
    source: &str,
    report: &str,
) -> Result<UnusedInLogs, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(report);
    let replay: ReplayJson = serde_path_to_error::deserialize(deserializer).map_err(|err| {
        format!(
            "{source}: at {}: {} (expected the JSON report of `sgsim replay --json`)",
            err.path(),
            err.inner()
        )
    })?;
    if replay.schema_version != crate::analysis::replay::SCHEMA_VERSION {
        return Err(format!(
            "{source}: schema_version {}: expected {}",
            replay.schema_version,
            crate::analysis::replay::SCHEMA_VERSION
        ));
    }
    let mut finding = UnusedInLogs {
        source: source.to_string(),
        from: replay.unused.from,
        to: replay.unused.to,
        caveats: replay.unused.caveats,
        rules: Vec::new(),
        not_in_snapshot: Vec::new(),
    };
    for (index, listed) in replay.unused.rules.into_iter().enumerate() {
        if Direction::parse(&listed.direction).is_none() {
            return Err(format!(
                "{source}: at unused.rules[{index}].direction: {:?}: expected ingress or egress",
                listed.direction
            ));
        }
        let found = snapshot
            .group_index(&listed.security_group_id)
            .map(|g| snapshot.group(g))
            .and_then(|group| group.rules.iter().find(|r| r.id == listed.rule_id));
        match found {
            Some(rule) => finding.rules.push(UnusedInLogsRule {
                security_group_id: listed.security_group_id,
                rule_id: listed.rule_id,
                direction: rule.direction,
                priority: rule.priority,
                summary: rule.summary(),
            }),
            None => finding
                .not_in_snapshot
                .push(format!("{}/{}", listed.security_group_id, listed.rule_id)),
        }
    }
    Ok(finding)
}

/// The SARIF rule of this finding.
pub(crate) const SARIF_RULE: (&str, &str, &str, &str) = (
    "SG006",
    "unused-in-logs",
    "A rule that decided none of the connections in the replayed flow logs.",
    "note",
);

/// Adds the finding to a SARIF log made by [`super::sarif::audit_to_sarif`]: its rule, and one
/// result per unused rule.
pub fn add_to_sarif(sarif: &mut Value, finding: &UnusedInLogs, snapshot_uri: &str) {
    let Some(run) = sarif.get_mut("runs").and_then(|runs| runs.get_mut(0)) else {
        return;
    };
    let Some(rules) = run
        .pointer_mut("/tool/driver/rules")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let rule_index = rules.len();
    let (id, name, text, level) = SARIF_RULE;
    rules.push(json!({
        "id": id,
        "name": name,
        "shortDescription": { "text": text },
        "defaultConfiguration": { "level": level }
    }));
    let results: Vec<Value> = finding
        .rules
        .iter()
        .map(|rule| {
            json!({
                "ruleId": id,
                "ruleIndex": rule_index,
                "level": level,
                "message": { "text": format!(
                    "{} {}: rule {} ({}) decided no connection in the flow logs of {}",
                    rule.security_group_id, rule.direction, rule.rule_id, rule.summary, finding.source
                )},
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": snapshot_uri } },
                    "logicalLocations": [{
                        "name": rule.rule_id,
                        "fullyQualifiedName": format!("{}/{}", rule.security_group_id, rule.rule_id),
                        "kind": "object"
                    }]
                }],
                "properties": { "from": finding.from, "to": finding.to, "caveats": finding.caveats }
            })
        })
        .collect();
    if let Some(list) = run.get_mut("results").and_then(Value::as_array_mut) {
        list.extend(results);
    }
}
