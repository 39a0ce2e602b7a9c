//! `sgsim check`: one flow, explained.

use super::{emit, load_engine, EvalSwitches};
use clap::Args;
use serde_json::{json, Value};
use sgsim::analysis::open_port::{by_source_port, SourcePortRange};
use sgsim::eval::explain::{explanation, verdict_line};
use sgsim::model::{protocol_label, Action, Direction, Flow, NicIndex, Protocol, Target, Verdict};
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
    /// Source port (TCP/UDP). Omitted: the answer covers every source port, as one verdict
    /// when all agree, else one per range of ports.
    #[arg(long, default_value = "")]
    sport: String,
    /// Destination address (default for ingress and --to: the NIC's primary address).
    #[arg(long)]
    dst: Option<String>,
    /// Destination port (required for TCP/UDP).
    #[arg(long, default_value = "")]
    dport: String,
    /// Print JSON instead of text (described in docs/json.md).
    #[arg(long)]
    json: bool,
    /// Exit 0 when the flow is accepted (for every source port, when --sport is not given),
    /// 2 when it is dropped (for any), 1 on errors.
    #[arg(long)]
    detailed_exitcode: bool,
    /// List every step and every matching rule in S10 order, and why each one lost.
    #[arg(long)]
    explain: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    // A mistyped id is the first thing to report (with the ids there are): the missing-address
    // errors below would otherwise point at an option the user got right.
    for id in [&args.nic, &args.group, &args.from, &args.to]
        .into_iter()
        .flatten()
    {
        engine.target(id)?;
    }
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

    // S2: only TCP and UDP have ports; for them an omitted --sport is left open.
    let sport_open = args.sport.is_empty() && matches!(flow.protocol, 6 | 17);

    let accepted = if let (Some(from), Some(to)) = (&args.from, &args.to) {
        let nic = |id: &str| match engine.target(id) {
            Ok(Target::Nic(nic)) => Ok(nic),
            Ok(Target::Group(_)) => Err(format!(
                "{id}: --from/--to need network interfaces, and the snapshot has none"
            )),
            Err(why) => Err(why),
        };
        let ends = (nic(from)?, nic(to)?);
        if args.explain {
            warn_explained_port_zero(sport_open);
            emit(&super::explain::render_connection(
                &engine, ends.0, ends.1, &flow, args.json,
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        let ranges = connection_ranges(&engine, ends, &flow, sport_open);
        if args.json {
            emit(&format!(
                "{}\n",
                connection_json(&engine, ends, &flow, &ranges, sport_open)
            ))?;
        } else {
            emit(&connection_text(&engine, ends, &flow, &ranges, sport_open))?;
        }
        ranges.iter().all(|r| r.verdict.action() == Action::Accept)
    } else {
        let target_id = args.nic.as_deref().or(args.group.as_deref()).unwrap_or("");
        let target = engine.target(target_id)?;
        if args.explain {
            warn_explained_port_zero(sport_open);
            emit(&super::explain::render(&engine, target, &flow, args.json))?;
            return Ok(ExitCode::SUCCESS);
        }
        let ranges = if sport_open {
            by_source_port(&engine, target, &flow)
        } else {
            vec![SourcePortRange {
                from: flow.src_port,
                to: flow.src_port,
                verdict: engine.check(target, &flow),
            }]
        };
        if args.json {
            emit(&format!(
                "{}\n",
                target_json(&engine, target, &flow, &ranges, sport_open)
            ))?;
        } else {
            emit(&target_text(&engine, target, &flow, &ranges, sport_open))?;
        }
        ranges.iter().all(|r| r.verdict.is_accept())
    };
    Ok(if args.detailed_exitcode && !accepted {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--explain` follows one flow: without --sport that is source port 0, which the user did not
/// give, so say so (on stderr, keeping --json output clean).
fn warn_explained_port_zero(sport_open: bool) {
    if sport_open {
        eprintln!(
            "note: --sport not given: explained for source port 0; without --explain, check \
             answers for every source port"
        );
    }
}

/// The JSON `schema_version` of check's output (docs/json.md).
const SCHEMA_VERSION: u32 = 1;

/// `0-1023` or `22`.
fn port_span(from: u16, to: u16) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// The flow as text, its source port `any` when left open (only TCP and UDP flows, which show
/// ports, are left open).
fn flow_text(flow: &Flow, sport_open: bool) -> String {
    if !sport_open {
        return flow.to_string();
    }
    let end = |addr: std::net::IpAddr, port: &str| match addr {
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    };
    format!(
        "{} {} {} -> {}",
        flow.direction,
        protocol_label(flow.protocol),
        end(flow.src, "any"),
        end(flow.dst, &flow.dst_port.to_string())
    )
}

fn target_text(
    engine: &Engine,
    target: Target,
    flow: &Flow,
    ranges: &[SourcePortRange],
    sport_open: bool,
) -> String {
    let where_ = engine.snapshot().target_id(target);
    let flow_line = format!("  flow: {} on {where_}\n", flow_text(flow, sport_open));
    match ranges {
        [only] => {
            let line = verdict_line(engine, target, flow, &only.verdict);
            let every = if sport_open {
                "  for every source port (--sport not given)\n"
            } else {
                ""
            };
            format!("{line}\n{every}{flow_line}")
        }
        _ => {
            let mut out = "DEPENDS on the source port (--sport not given):\n".to_string();
            for r in ranges {
                let at = Flow {
                    src_port: r.from,
                    ..*flow
                };
                out += &format!(
                    "  {:<12} {}\n",
                    port_span(r.from, r.to),
                    verdict_line(engine, target, &at, &r.verdict)
                );
            }
            out + &flow_line
        }
    }
}

fn target_json(
    engine: &Engine,
    target: Target,
    flow: &Flow,
    ranges: &[SourcePortRange],
    sport_open: bool,
) -> Value {
    let mut out = match ranges {
        [only] => verdict_json(engine, target, flow, &only.verdict),
        _ => json!({
            "target": engine.snapshot().target_id(target),
            "flow": flow_json(flow),
            "verdict": "depends",
            "reason": Value::Null,
            "security_group_id": Value::Null,
            "rule_id": Value::Null,
            "explanation": "the verdict depends on the source port: see source_ports",
        }),
    };
    if sport_open {
        out["flow"]["src_port"] = Value::Null;
        out["source_ports"] = ranges
            .iter()
            .map(|r| {
                let at = Flow {
                    src_port: r.from,
                    ..*flow
                };
                let mut range = verdict_json(engine, target, &at, &r.verdict);
                let range_map = range.as_object_mut().expect("verdict_json is an object");
                range_map.remove("target");
                range_map.remove("flow");
                let mut entry = json!({"from": r.from, "to": r.to});
                entry.as_object_mut().expect("an object").append(range_map);
                entry
            })
            .collect();
    }
    with_schema_version(out)
}

/// `{"schema_version": 1, …}`: the version first, for readers of the raw text.
fn with_schema_version(value: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("schema_version".into(), json!(SCHEMA_VERSION));
    if let Value::Object(map) = value {
        out.extend(map);
    }
    Value::Object(out)
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
            "protocol_number": match rule.protocol {
                Protocol::All => Value::Null,
                Protocol::Number(n) => json!(n),
            },
            "summary": rule.summary(),
            "description": rule.description,
        });
    }
    out
}

fn flow_json(flow: &Flow) -> Value {
    json!({
        "direction": flow.direction.as_str(),
        "protocol": protocol_label(flow.protocol),
        "protocol_number": flow.protocol,
        "src_ip": flow.src.to_string(),
        "src_port": flow.src_port,
        "dst_ip": flow.dst.to_string(),
        "dst_port": flow.dst_port,
    })
}

/// The NICs a connection leaves (egress side) and enters (ingress side).
type Ends = (NicIndex, NicIndex);

/// Source ports `from..=to` and the two-NIC verdict every one of them gets.
struct ConnectionRange {
    from: u16,
    to: u16,
    verdict: ConnectionVerdict,
}

/// The connection's verdicts: one range for a given --sport, else every range where either side
/// can change (the union of both sides' ranges), neighbours with the same verdicts merged.
fn connection_ranges(
    engine: &Engine,
    ends: Ends,
    flow: &Flow,
    sport_open: bool,
) -> Vec<ConnectionRange> {
    if !sport_open {
        return vec![ConnectionRange {
            from: flow.src_port,
            to: flow.src_port,
            verdict: engine.check_connection(ends.0, ends.1, flow),
        }];
    }
    let side = |nic: NicIndex, direction: Direction| {
        by_source_port(engine, Target::Nic(nic), &Flow { direction, ..*flow })
    };
    let mut starts: Vec<u16> = side(ends.0, Direction::Egress)
        .into_iter()
        .chain(side(ends.1, Direction::Ingress))
        .map(|r| r.from)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let mut ranges: Vec<ConnectionRange> = Vec::new();
    for (i, &from) in starts.iter().enumerate() {
        let to = starts.get(i + 1).map_or(u16::MAX, |next| next - 1);
        let at = Flow {
            src_port: from,
            ..*flow
        };
        let verdict = engine.check_connection(ends.0, ends.1, &at);
        match ranges.last_mut() {
            Some(last) if last.verdict == verdict => last.to = to,
            _ => ranges.push(ConnectionRange { from, to, verdict }),
        }
    }
    ranges
}

fn connection_text(
    engine: &Engine,
    ends: Ends,
    flow: &Flow,
    ranges: &[ConnectionRange],
    sport_open: bool,
) -> String {
    let snapshot = engine.snapshot();
    let (from, to) = (&snapshot.nic(ends.0).id, &snapshot.nic(ends.1).id);
    let side = |indent: &str, nic: NicIndex, direction: Direction, v: &Verdict, port: u16| {
        let flow = Flow {
            direction,
            src_port: port,
            ..*flow
        };
        format!(
            "{indent}{:<7} {}: {}\n",
            direction.as_str(),
            snapshot.nic(nic).id,
            verdict_line(engine, Target::Nic(nic), &flow, v)
        )
    };
    let mut out = String::new();
    match ranges {
        [only] => {
            let word = only.verdict.action().as_str().to_uppercase();
            out += &format!("{word:<6} connection {from} -> {to}\n");
            out += &side(
                "  ",
                ends.0,
                Direction::Egress,
                &only.verdict.egress,
                only.from,
            );
            out += &side(
                "  ",
                ends.1,
                Direction::Ingress,
                &only.verdict.ingress,
                only.from,
            );
            if sport_open {
                out += "  for every source port (--sport not given)\n";
            }
        }
        _ => {
            out += &format!(
                "DEPENDS connection {from} -> {to} on the source port (--sport not given):\n"
            );
            for r in ranges {
                let word = r.verdict.action().as_str().to_uppercase();
                out += &format!("  {:<12} {word}\n", port_span(r.from, r.to));
                out += &side("    ", ends.0, Direction::Egress, &r.verdict.egress, r.from);
                out += &side(
                    "    ",
                    ends.1,
                    Direction::Ingress,
                    &r.verdict.ingress,
                    r.from,
                );
            }
        }
    }
    let flow_line = flow_text(
        &Flow {
            direction: Direction::Egress,
            ..*flow
        },
        sport_open,
    );
    out += &format!("  flow: {}\n", flow_line.trim_start_matches("egress "));
    out
}

fn connection_json(
    engine: &Engine,
    ends: Ends,
    flow: &Flow,
    ranges: &[ConnectionRange],
    sport_open: bool,
) -> Value {
    let one = |r: &ConnectionRange| {
        let side = |nic: NicIndex, direction: Direction, v: &Verdict| {
            let at = Flow {
                direction,
                src_port: r.from,
                ..*flow
            };
            let mut value = verdict_json(engine, Target::Nic(nic), &at, v);
            if sport_open {
                value["flow"]["src_port"] = Value::Null;
            }
            value
        };
        json!({
            "verdict": r.verdict.action().as_str(),
            "blocked_by": r.verdict.blocking_sides().iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
            "egress": side(ends.0, Direction::Egress, &r.verdict.egress),
            "ingress": side(ends.1, Direction::Ingress, &r.verdict.ingress),
        })
    };
    let mut out = match ranges {
        [only] => one(only),
        _ => json!({
            "verdict": "depends",
            "blocked_by": Value::Null,
            "egress": Value::Null,
            "ingress": Value::Null,
        }),
    };
    if sport_open {
        out["source_ports"] = ranges
            .iter()
            .map(|r| {
                let mut entry = json!({"from": r.from, "to": r.to});
                if let (Value::Object(entry), Value::Object(verdict)) = (&mut entry, one(r)) {
                    entry.extend(verdict);
                }
                entry
            })
            .collect();
    }
    with_schema_version(out)
}
