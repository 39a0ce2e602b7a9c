//! The one-line explanation of a verdict that `sgsim check` prints, for every front end (the
//! command line and the Python package) to share.

use crate::model::{Direction, Flow, GroupKind, Reason, Target, Verdict};
use crate::Engine;

/// `DROP   by sg-web/sgr-3 (priority 1, drop tcp 22/22 from 0.0.0.0/0)`: the verdict in
/// capitals, then [`explanation`].
pub fn verdict_line(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> String {
    let word = verdict.action.as_str().to_uppercase();
    format!(
        "{word:<6} by {}",
        explanation(engine, target, flow, verdict)
    )
}

/// What decided the verdict: the rule with its group, priority and summary, the platform rule,
/// inner access (naming the peer NIC), or the default of the target's groups.
pub fn explanation(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> String {
    match verdict.reason {
        Reason::Rule(rule_ref) => {
            let (group, rule) = engine.rule(rule_ref);
            format!("{}/{} (priority {}, {})", group.id, rule.id, rule.priority, rule.summary())
        }
        Reason::Platform => {
            "platform rule (egress TCP 25 to a public IPv4 address is blocked; --no-platform-rules turns it off)"
                .to_string()
        }
        Reason::InnerAccess => {
            let snapshot = engine.snapshot();
            let peer = snapshot
                .nics_with_address(&flow.remote())
                .iter()
                .map(|&n| snapshot.nic(n).id.as_str())
                .find(|id| *id != snapshot.target_id(target))
                .unwrap_or("another NIC");
            format!(
                "inner access ({} is {peer}, which shares a basic group with InnerAccessPolicy Accept)",
                flow.remote()
            )
        }
        _ => {
            let enterprise = engine
                .snapshot()
                .target_groups(target)
                .iter()
                .any(|&g| engine.snapshot().group(g).kind == GroupKind::Enterprise);
            let rule = match (enterprise, flow.direction) {
                (true, _) => "enterprise groups drop both directions",
                (false, Direction::Ingress) => "basic groups drop ingress",
                (false, Direction::Egress) => "basic groups accept egress",
            };
            format!("default (no rule matched; {rule})")
        }
    }
}
