//! `sgsim check --explain`: the rendering of [`sgsim::analysis::explain`].

use serde_json::json;
use sgsim::analysis::explain::{explain, Explanation};
use sgsim::model::{Direction, Flow, NicIndex, Target};
use sgsim::Engine;

/// Every step and matching rule for one flow at one target, as text or JSON.
pub fn render(engine: &Engine, target: Target, flow: &Flow, as_json: bool) -> String {
    let explanation = explain(engine, target, flow);
    if as_json {
        let value = serde_json::to_value(&explanation).expect("explanations serialise");
        return serde_json::to_string_pretty(&value).expect("JSON values print") + "\n";
    }
    text(&explanation)
}

/// Both sides of a connection (S15), egress first.
pub fn render_connection(
    engine: &Engine,
    from: NicIndex,
    to: NicIndex,
    flow: &Flow,
    as_json: bool,
) -> String {
    let egress = explain(
        engine,
        Target::Nic(from),
        &Flow {
            direction: Direction::Egress,
            ..*flow
        },
    );
    let ingress = explain(
        engine,
        Target::Nic(to),
        &Flow {
            direction: Direction::Ingress,
            ..*flow
        },
    );
    if as_json {
        let both = egress.verdict == sgsim::model::Action::Accept
            && ingress.verdict == sgsim::model::Action::Accept;
        let value = json!({
            "schema_version": sgsim::analysis::explain::EXPLAIN_SCHEMA_VERSION,
            "verdict": if both { "accept" } else { "drop" },
            "egress": egress,
            "ingress": ingress,
        });
        return serde_json::to_string_pretty(&value).expect("JSON values print") + "\n";
    }
    text(&egress) + &text(&ingress)
}

fn text(e: &Explanation) -> String {
    let mut out = format!(
        "{:<6} by {} — {} on {}\n",
        e.verdict.as_str().to_uppercase(),
        e.decided_by,
        e.flow,
        e.target
    );
    for step in &e.steps {
        let mark = match (step.decides, step.applies) {
            (true, _) => "decides",
            (false, true) => "applies",
            (false, false) => "-",
        };
        out += &format!("  {:<13}{:<9}{}\n", step.step, mark, step.note);
        if step.step == "rules" {
            for rule in &e.rules {
                let outcome = if rule.decides {
                    "DECIDES".to_string()
                } else {
                    format!("lost: {}", rule.lost_because)
                };
                out += &format!(
                    "    {}/{} (priority {}, {}; group {}, rule {}): {outcome}\n",
                    rule.security_group_id,
                    rule.rule_id,
                    rule.priority,
                    rule.summary,
                    rule.group_position,
                    rule.rule_position
                );
            }
        }
    }
    out
}
