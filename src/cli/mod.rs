//! Argument definitions and dispatch.

mod apply;
mod audit;
mod bench;
mod check;
mod diff;
mod eval;
mod explain;
mod mapped;
mod reach;
mod replay;
mod search;
mod shared;
mod snapshot;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Simulate Alibaba Cloud ECS security groups offline.
#[derive(Debug, Parser)]
#[command(name = "sgsim", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Refuse a SNAPSHOT that references what it does not give (a group on a NIC, a group,
    /// prefix list or port range list in a rule, a group's type) instead of warning.
    #[arg(long, global = true)]
    strict: bool,
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
    /// Assemble API responses (files, directories, `-`) into one snapshot: prints what was
    /// read and what is missing; --output writes the snapshot.
    Snapshot(snapshot::SnapshotArgs),
    /// Replay VPC flow logs: hits per rule, unused rules, logged actions the groups disagree with.
    Replay(replay::ReplayArgs),
    /// Who can reach whom on what: every pair of NICs and the internet, grouped into classes.
    Reach(reach::ReachArgs),
    /// Find a flow with a given verdict in a space of flows, or prove there is none (exit 1).
    Search(search::SearchArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode, String> {
    shared::set_strict(cli.strict);
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Reach(args) => reach::run(args),
        Command::Search(args) => search::run(args),
    }
}
