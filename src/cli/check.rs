//! `sgsim check`: one flow, explained.

use super::shared::{emit, load_engine, ConnectionNics, EvalSwitches};
use clap::Args;
use sgsim::analysis::check::{check, check_connection, source_port_open};
use sgsim::model::{Direction, Flow, Target};
use sgsim::Engine;
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
    #[command(flatten)]
    nics: ConnectionNics,
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
    for id in [&args.nic, &args.group, &args.nics.from, &args.nics.to]
        .into_iter()
        .flatten()
    {
        engine.target(id).map_err(|e| e.to_string())?;
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

    let sport_open = source_port_open(!args.sport.is_empty(), flow.protocol);

    let accepted = if let (Some(from), Some(to)) = (&args.nics.from, &args.nics.to) {
        let nic = |id: &str| match engine.target(id) {
            Ok(Target::Nic(nic)) => Ok(nic),
            Ok(Target::Group(_)) => Err(format!(
                "{id}: --from/--to need network interfaces, and the snapshot has none"
            )),
            Err(why) => Err(why.to_string()),
        };
        let (from, to) = (nic(from)?, nic(to)?);
        if args.explain {
            warn_explained_port_zero(sport_open);
            emit(&super::explain::render_connection(
                &engine, from, to, &flow, args.json,
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        let answer = check_connection(&engine, from, to, &flow, sport_open);
        if args.json {
            emit(&format!("{}\n", answer.json(&engine)))?;
        } else {
            emit(&answer.text(&engine))?;
        }
        answer.accepted()
    } else {
        let target_id = args.nic.as_deref().or(args.group.as_deref()).unwrap_or("");
        let target = engine.target(target_id).map_err(|e| e.to_string())?;
        if args.explain {
            warn_explained_port_zero(sport_open);
            emit(&super::explain::render(&engine, target, &flow, args.json))?;
            return Ok(ExitCode::SUCCESS);
        }
        let answer = check(&engine, target, &flow, sport_open);
        if args.json {
            emit(&format!("{}\n", answer.json(&engine)))?;
        } else {
            emit(&answer.text(&engine))?;
        }
        answer.accepted()
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
    let (src_nic, dst_nic) = match (&args.nics.from, &args.nics.to, &args.nic) {
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
