//! `sgsim search`: a flow in a space with a given verdict, or the proof that there is none.

use super::shared::{emit, load_engine, push_boxes, ConnectionNics, EvalSwitches};
use clap::Args;
use ipnet::IpNet;
use sgsim::analysis::search::{search, SearchAt, SearchReport, SearchSpace};
use sgsim::model::{parse_protocol_number, Action, Direction, Target};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Snapshot JSON file (`-` = stdin).
    snapshot: PathBuf,
    /// The network interface (or, for a bare group snapshot, the group) the flows meet.
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    nic: Option<String>,
    #[command(flatten)]
    nics: ConnectionNics,
    /// ingress or egress (with --nic).
    #[arg(long, required_unless_present = "from")]
    direction: Option<String>,
    /// Source addresses, a CIDR or an address (default: any; for egress and --from, the NIC's
    /// own addresses).
    #[arg(long)]
    src: Option<String>,
    /// Destination addresses (default: any; for ingress and --to, the NIC's own addresses).
    #[arg(long)]
    dst: Option<String>,
    /// tcp, udp, icmp, icmpv6, gre or a number (default: every protocol).
    #[arg(long)]
    protocol: Option<String>,
    /// Destination ports: `22` or `1000-2000` (default: all, 0-65535).
    #[arg(long)]
    dport: Option<String>,
    /// Source ports, as --dport.
    #[arg(long)]
    sport: Option<String>,
    /// The verdict to look for: accept or drop.
    #[arg(long)]
    verdict: String,
    /// List every part of the space with the verdict, not just one flow.
    #[arg(long)]
    all: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

pub fn run(args: SearchArgs) -> Result<ExitCode, String> {
    let engine = load_engine(&args.snapshot, &args.switches)?;
    let verdict = Action::parse(&args.verdict)
        .filter(|_| !args.verdict.is_empty())
        .ok_or_else(|| format!("--verdict {:?}: expected accept or drop", args.verdict))?;
    let space = SearchSpace {
        src: args.src.as_deref().map(|t| net("--src", t)).transpose()?,
        dst: args.dst.as_deref().map(|t| net("--dst", t)).transpose()?,
        protocol: args
            .protocol
            .as_deref()
            .map(|t| {
                parse_protocol_number(t).ok_or_else(|| {
                    format!(
                        "--protocol {t:?}: expected tcp, udp, icmp, icmpv6, gre or a number 0..255"
                    )
                })
            })
            .transpose()?,
        dst_ports: args
            .dport
            .as_deref()
            .map(|t| ports("--dport", t))
            .transpose()?,
        src_ports: args
            .sport
            .as_deref()
            .map(|t| ports("--sport", t))
            .transpose()?,
    };
    let at = match (&args.nics.from, &args.nics.to, &args.nic) {
        (Some(from), Some(to), _) => {
            let nic = |id: &str| match engine.target(id).map_err(|e| e.to_string())? {
                Target::Nic(nic) => Ok(nic),
                Target::Group(_) => Err(format!(
                    "{id}: --from/--to need network interfaces, and the snapshot has none"
                )),
            };
            SearchAt::Connection(nic(from)?, nic(to)?)
        }
        (_, _, nic) => {
            let text = args.direction.as_deref().unwrap_or("");
            let direction = Direction::parse(text)
                .ok_or_else(|| format!("--direction {text:?}: expected ingress or egress"))?;
            SearchAt::Target(
                engine
                    .target(nic.as_deref().unwrap_or(""))
                    .map_err(|e| e.to_string())?,
                direction,
            )
        }
    };
    let report = search(&engine, at, &space, verdict).map_err(|e| e.to_string())?;
    if args.json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if !args.all {
            value["regions"].as_array_mut().expect("a list").truncate(1);
        }
        emit(&(serde_json::to_string_pretty(&value).expect("JSON values print") + "\n"))?;
    } else {
        emit(&text(&report, args.all))?;
    }
    // No flow with the verdict is an answer, but scripts need to tell it apart.
    Ok(if report.found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A CIDR or a plain address (as a /32 or /128).
fn net(option: &str, text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("{option} {text:?}: expected an address or a CIDR (10.0.0.0/8, 2001:db8::/32)")
        })
}

/// `22` or `1000-2000`.
fn ports(option: &str, text: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{option} {text:?}: expected a port 0..65535 or a range a-b with a <= b");
    let (lo, hi) = match text.split_once('-') {
        Some((lo, hi)) => (lo.trim(), hi.trim()),
        None => (text.trim(), text.trim()),
    };
    let lo: u16 = lo.parse().map_err(|_| bad())?;
    let hi: u16 = hi.parse().map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn text(report: &SearchReport, all: bool) -> String {
    let mut out = String::new();
    if !report.found {
        out += &format!("NONE   {}\n", report.statement);
        return out;
    }
    let shown = if all { report.regions.len() } else { 1 };
    for (i, region) in report.regions.iter().take(shown).enumerate() {
        if all {
            out += &format!(
                "region {} of {} ({}):\n",
                i + 1,
                report.regions.len(),
                region.family
            );
        }
        let flow = &region.witnesses.last().expect("one witness per side").flow;
        let flow = flow
            .trim_start_matches("ingress ")
            .trim_start_matches("egress ");
        let sides: Vec<String> = region
            .sides
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} by {}",
                    s.target, s.direction, s.action, s.decided_by
                )
            })
            .collect();
        let check = if region.verified {
            "re-checked with the engine"
        } else {
            "ENGINE DISAGREES"
        };
        out += &format!(
            "{:<6} {flow}\n  decided: {}\n  witness {check}\n",
            report.verdict.as_str().to_uppercase(),
            sides.join("; ")
        );
        if all {
            push_boxes(&mut out, &region.region, "  ");
        }
    }
    if !all && report.regions.len() > 1 {
        out += &format!("  ({}; --all lists them)\n", report.statement);
    }
    out
}
