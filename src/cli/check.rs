//! `sgsim check`: one flow, explained.

use super::{emit, load_engine, EvalSwitches};
use clap::Args;
use serde_json::{json, Value};
use sgsim::model::{Direction, Flow, NicIndex, Reason, Target, Verdict};
use sgsim::{ConnectionVerdict, Engine};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Snapshot JSON file, a directory of ECS API answers, or `-` for stdin.
    snapshot: PathBuf,
    /// The network interface the flow is evaluated on.
    #[arg(long, conflicts_with_all = ["group", "from", "to"])]
    nic: Option<String>,
    /// For a bare DescribeSecurityGroupAttribute snapshot (no NICs): the group to ask.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    group: Option<String>,
    /// Two-NIC question (S15): the NIC the connection leaves (egress side).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Two-NIC question (S15): the NIC the connection enters (ingress side).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// ingress or egress (not needed with --from/--to).
    #[arg(long, required_unless_present = "from")]
    direction: Option<String>,
    /// tcp, udp, icmp, icmpv6, gre or a protocol number.
    #[arg(long)]
    protocol: String,
    /// Source address (default for egress and --from: the NIC's primary address).
    #[arg(long)]
    src: Option<String>,
    /// Source port (TCP/UDP; omitted means 0, which matches no source port range).
    #[arg(long, default_value = "")]
    sport: String,
    /// Destination address (default for ingress and --to: the NIC's primary address).
    #[arg(long)]
    dst: Option<String>,
    /// Destination port (required for TCP/UDP).
    #[arg(long, default_value = "")]
    dport: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    let direction = args.direction.as_deref().unwrap_or("egress");
    let (src, dst) = flow_addresses(&engine, &args, direction)?;
    let flow = Flow::parse(
        direction,
        &args.protocol,
        &src,
        &args.sport,
        &dst,
        &args.dport,
    )
    .map_err(|err| {
        let option = match err.field {
            "src_ip" => "--src",
            "src_port" => "--sport",
            "dst_ip" => "--dst",
            "dst_port" => "--dport",
            "direction" => "--direction",
            _ => "--protocol",
        };
        format!("{option}: {err}")
    })?;

    if let (Some(from), Some(to)) = (&args.from, &args.to) {
        let nic = |id: &str| match engine.target(id) {
            Ok(Target::Nic(nic)) => Ok(nic),
            Ok(Target::Group(_)) => Err(format!(
                "{id}: --from/--to need network interfaces, and the snapshot has none"
            )),
            Err(why) => Err(why),
        };
        let ends = (nic(from)?, nic(to)?);
        let verdict = engine.check_connection(ends.0, ends.1, &flow);
        if args.json {
            emit(&format!(
                "{}\n",
                connection_json(&engine, ends, &flow, &verdict)
            ))?;
        } else {
            emit(&connection_text(&engine, ends, &flow, &verdict))?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let target_id = args.nic.as_deref().or(args.group.as_deref()).unwrap_or("");
    let target = engine.target(target_id)?;
    let verdict = engine.check(target, &flow);
    if args.json {
        emit(&format!(
            "{}\n",
            verdict_json(&engine, target, &flow, &verdict)
        ))?;
    } else {
        let where_ = engine.snapshot().target_id(target);
        let line = verdict_line(&engine, target, &flow, &verdict);
        emit(&format!("{line}\n  flow: {flow} on {where_}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Fills in the NIC's own address where the user left the local side out: ingress `--dst`,
/// egress `--src`, and both ends of `--from/--to`.
fn flow_addresses(
    engine: &Engine,
    args: &CheckArgs,
    direction: &str,
) -> Result<(String, String), String> {
    let snapshot = engine.snapshot();
    // The NIC's first address of the family the other end uses (IPv4 when unknown).
    let own_address = |nic_id: &str, other: Option<&String>| -> Option<String> {
        let nic = snapshot.nic(snapshot.nic_index(nic_id)?);
        let want_v6 = other.is_some_and(|a| a.contains(':'));
        nic.addresses
            .iter()
            .find(|a| a.is_ipv6() == want_v6)
            .map(|a| a.to_string())
    };
    let (src_nic, dst_nic) = match (&args.from, &args.to, &args.nic) {
        (Some(from), Some(to), _) => (Some(from.as_str()), Some(to.as_str())),
        (_, _, Some(nic)) if Direction::parse(direction) == Some(Direction::Egress) => {
            (Some(nic.as_str()), None)
        }
        (_, _, Some(nic)) => (None, Some(nic.as_str())),
        _ => (None, None),
    };
    let src = args
        .src
        .clone()
        .or_else(|| own_address(src_nic?, args.dst.as_ref()));
    let dst = args
        .dst
        .clone()
        .or_else(|| own_address(dst_nic?, args.src.as_ref()));
    match (src, dst) {
        (Some(src), Some(dst)) => Ok((src, dst)),
        (None, _) => Err("--src is required (only the NIC's own side can be left out)".to_string()),
        (_, None) => Err("--dst is required (only the NIC's own side can be left out)".to_string()),
    }
}

/// `DROP  by sg-web/sgr-3 (priority 1, drop tcp 22/22 from 0.0.0.0/0)`
fn verdict_line(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> String {
    let word = verdict.action.as_str().to_uppercase();
    format!(
        "{word:<6} by {}",
        explanation(engine, target, flow, verdict)
    )
}

fn explanation(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> String {
    match (verdict.reason, verdict.deciding_rule) {
        (Reason::Rule, Some(rule_ref)) => {
            let (group, rule) = engine.rule(rule_ref);
            format!("{}/{} (priority {}, {})", group.id, rule.id, rule.priority, rule.summary())
        }
        (Reason::Platform, _) => {
            "platform rule (egress TCP 25 to a public IPv4 address is blocked; --no-platform-rules turns it off)"
                .to_string()
        }
        (Reason::InnerAccess, _) => {
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
                .any(|&g| engine.snapshot().group(g).kind == sgsim::model::GroupKind::Enterprise);
            let rule = match (enterprise, flow.direction) {
                (true, _) => "enterprise groups drop both directions",
                (false, Direction::Ingress) => "basic groups drop ingress",
                (false, Direction::Egress) => "basic groups accept egress",
            };
            format!("default (no rule matched; {rule})")
        }
    }
}

fn verdict_json(engine: &Engine, target: Target, flow: &Flow, verdict: &Verdict) -> Value {
    let mut out = json!({
        "target": engine.snapshot().target_id(target),
        "flow": flow_json(flow),
        "verdict": verdict.action.as_str(),
        "reason": verdict.reason.as_str(),
        "security_group_id": Value::Null,
        "rule_id": Value::Null,
        "explanation": explanation(engine, target, flow, verdict),
    });
    if let Some(rule_ref) = verdict.deciding_rule {
        let (group, rule) = engine.rule(rule_ref);
        out["security_group_id"] = json!(group.id);
        out["rule_id"] = json!(rule.id);
        out["rule"] = json!({
            "priority": rule.priority,
            "policy": rule.action.as_str(),
            "protocol": rule.protocol.to_string(),
            "summary": rule.summary(),
            "description": rule.description,
        });
    }
    out
}

fn flow_json(flow: &Flow) -> Value {
    json!({
        "direction": flow.direction.as_str(),
        "protocol": flow.protocol,
        "src_ip": flow.src.to_string(),
        "src_port": flow.src_port,
        "dst_ip": flow.dst.to_string(),
        "dst_port": flow.dst_port,
    })
}

/// The NICs a connection leaves (egress side) and enters (ingress side).
type Ends = (NicIndex, NicIndex);

fn connection_text(
    engine: &Engine,
    ends: Ends,
    flow: &Flow,
    verdict: &ConnectionVerdict,
) -> String {
    let snapshot = engine.snapshot();
    let (from, to) = (&snapshot.nic(ends.0).id, &snapshot.nic(ends.1).id);
    let side = |nic: NicIndex, direction: Direction, v: &Verdict| {
        let flow = Flow { direction, ..*flow };
        format!(
            "  {:<7} {}: {}\n",
            direction.as_str(),
            snapshot.nic(nic).id,
            verdict_line(engine, Target::Nic(nic), &flow, v)
        )
    };
    let word = verdict.action().as_str().to_uppercase();
    let mut out = format!("{word:<6} connection {from} -> {to}\n");
    out += &side(ends.0, Direction::Egress, &verdict.egress);
    out += &side(ends.1, Direction::Ingress, &verdict.ingress);
    let flow_text = Flow {
        direction: Direction::Egress,
        ..*flow
    }
    .to_string();
    out += &format!("  flow: {}\n", flow_text.trim_start_matches("egress "));
    out
}

fn connection_json(engine: &Engine, ends: Ends, flow: &Flow, verdict: &ConnectionVerdict) -> Value {
    let side = |nic: NicIndex, direction: Direction, v: &Verdict| {
        verdict_json(engine, Target::Nic(nic), &Flow { direction, ..*flow }, v)
    };
    json!({
        "verdict": verdict.action().as_str(),
        "blocked_by": verdict.blocking_sides().iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
        "egress": side(ends.0, Direction::Egress, &verdict.egress),
        "ingress": side(ends.1, Direction::Ingress, &verdict.ingress),
    })
}
