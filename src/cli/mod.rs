//! Argument definitions and dispatch.

mod apply;
mod audit;
mod bench;
mod check;
mod diff;
mod eval;
mod explain;
mod reach;
mod search;

use clap::{Args, Parser, Subcommand};
use sgsim::model::{EvalOptions, NicType};
use sgsim::{Engine, Snapshot};
use std::path::Path;
use std::process::ExitCode;

/// Simulate Alibaba Cloud ECS security groups offline.
#[derive(Debug, Parser)]
#[command(name = "sgsim", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Would one flow be allowed? Prints the verdict, the reason and the deciding rule.
    Check(check::CheckArgs),
    /// Evaluate a CSV of flows (nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port).
    Eval(eval::EvalArgs),
    /// Apply ECS API calls (AuthorizeSecurityGroup, …) to a snapshot and write the new one.
    Apply(apply::ApplyArgs),
    /// Engine build time, memory and throughput: on SNAPSHOT FLOWS, a ClassBench set, or a
    /// synthetic rule-count sweep. Verdicts are checked against the reference evaluator first.
    Bench(bench::BenchArgs),
    /// Shadowed, redundant and risky rules per NIC and direction, with proof flows.
    Audit(audit::AuditArgs),
    /// The flows whose verdict changes between two snapshots.
    Diff(diff::DiffArgs),
    /// Who can reach whom on what: every pair of NICs and the internet, grouped into classes.
    Reach(reach::ReachArgs),
    /// Find a flow with a given verdict in a space of flows, or prove there is none (exit 1).
    Search(search::SearchArgs),
}

/// Switches shared by every evaluating command.
#[derive(Debug, Args)]
pub struct EvalSwitches {
    /// Turn off the platform's block of egress TCP 25 to public IPv4 addresses (S13).
    #[arg(long)]
    no_platform_rules: bool,
    /// Classic network only: the flow is on the internet side (S9). VPC groups ignore it.
    #[arg(long)]
    internet: bool,
}

impl EvalSwitches {
    fn options(&self) -> EvalOptions {
        EvalOptions {
            platform_rules: !self.no_platform_rules,
            nic_type: if self.internet {
                NicType::Internet
            } else {
                NicType::Intranet
            },
        }
    }
}

pub fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Reach(args) => reach::run(args),
        Command::Search(args) => search::run(args),
    }
}

/// Loads a snapshot file (`-` = stdin); errors name the file.
pub fn load_snapshot(path: &Path) -> Result<Snapshot, String> {
    let result = if path.as_os_str() == "-" {
        Snapshot::from_reader(std::io::stdin().lock())
    } else {
        // Read whole (sized from the file's length), then parse: the fast path of the loader.
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Snapshot::from_json_str(&text)
    };
    result.map_err(|err| format!("{}: {err}", path.display()))
}

pub fn load_engine(path: &Path, switches: &EvalSwitches) -> Result<Engine, String> {
    Ok(Engine::with_options(
        load_snapshot(path)?,
        switches.options(),
    ))
}

/// [`load_engine`] for commands that evaluate many flows ([`Engine::for_bulk`]).
pub fn load_bulk_engine(path: &Path, switches: &EvalSwitches) -> Result<Engine, String> {
    Ok(Engine::for_bulk(load_snapshot(path)?, switches.options()))
}

/// Writes a command's whole output to stdout. A closed pipe (`sgsim audit … | head`) is not an
/// error: the reader has what it wanted.
pub fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {err}")),
        _ => Ok(()),
    }
}
