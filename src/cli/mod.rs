//! Argument definitions and dispatch.

mod apply;
mod audit;
mod bench;
mod check;
mod diff;
mod eval;
mod explain;
mod reach;
mod replay;
mod search;
mod snapshot;

use clap::{Args, Parser, Subcommand};
use sgsim::input::ecs::dump::{assemble, assemble_documents, AssemblyReport, Document};
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

/// `--strict`, set once before the command runs: read by [`load_snapshot`] so that no command
/// has to pass it along.
static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn strict() -> bool {
    STRICT.get().copied().unwrap_or(false)
}

pub fn run(cli: Cli) -> Result<ExitCode, String> {
    let _ = STRICT.set(cli.strict);
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

/// Loads SNAPSHOT — a file, a directory of API responses, or `-` for stdin — for any
/// command. What it references but does not give is warned about once on stderr, or refused
/// with `--strict`.
pub fn load_snapshot(path: &Path) -> Result<Snapshot, String> {
    if path.is_dir() {
        let (snapshot, report) = assemble(&[path]).map_err(|err| err.to_string())?;
        check_missing(&path.display().to_string(), &report)?;
        return Ok(snapshot);
    }
    let text = read_snapshot_text(path)?;
    load_snapshot_text(path, text)
}

/// [`load_snapshot`] of one file's text already read with [`read_snapshot_text`].
pub fn load_snapshot_text(path: &Path, text: String) -> Result<Snapshot, String> {
    let name = path.display().to_string();
    let (snapshot, report) = assemble_documents(vec![Document {
        name: name.clone(),
        text,
    }])
    .map_err(|err| err.to_string())?;
    check_missing(&name, &report)?;
    Ok(snapshot)
}

/// Warns about (or, with `--strict`, refuses) what the inputs reference but do not give.
fn check_missing(inputs: &str, report: &AssemblyReport) -> Result<(), String> {
    if report.missing.is_empty() {
        return Ok(());
    }
    const SHOWN: usize = 5;
    let count = report.missing.len();
    let things = if count == 1 { "thing" } else { "things" };
    let mut text = format!(
        "{inputs}: {count} {things} referenced but not given (`sgsim snapshot {inputs}` lists \
         them):"
    );
    for missing in report.missing.iter().take(SHOWN) {
        text.push_str(&format!("\n  {missing}"));
    }
    if report.missing.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", report.missing.len() - SHOWN));
    }
    if strict() {
        return Err(format!("{text}\n(--strict refuses an incomplete snapshot)"));
    }
    eprintln!("warning: {text}");
    Ok(())
}

/// [`load_snapshot`] for commands that ask about verdicts: a snapshot without security groups
/// has nothing to ask about.
fn load_snapshot_with_groups(path: &Path) -> Result<Snapshot, String> {
    let snapshot = load_snapshot(path)?;
    if snapshot.groups().is_empty() {
        return Err(format!(
            "{}: no security groups in it: expected DescribeSecurityGroupAttribute responses \
             or a snapshot with SecurityGroups",
            path.display()
        ));
    }
    Ok(snapshot)
}

/// What a snapshot argument must hold, for messages.
const SNAPSHOT_EXPECTED: &str = "expected a snapshot JSON object (SecurityGroups, \
    NetworkInterfaces, …), an ECS API response (DescribeSecurityGroupAttribute, \
    DescribeNetworkInterfaces, …), an array of Permission objects, or a directory of such files";

/// The text of a snapshot file (`-` = stdin), refused when empty; errors name the file.
pub fn read_snapshot_text(path: &Path) -> Result<String, String> {
    let arg = path.display().to_string();
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
            .map_err(|err| format!("{arg}: {err}"))?;
        text
    } else {
        // Read whole (sized from the file's length), then parse: the fast path of the loader.
        std::fs::read_to_string(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound && looks_like_query(&arg) {
                format!(
                    "{arg}: no such file, and this looks like an API call's query string: the \
                     snapshot file comes first ({SNAPSHOT_EXPECTED})"
                )
            } else {
                format!("{arg}: {err}")
            }
        })?
    };
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Err(format!("{arg}: the file is empty: {SNAPSHOT_EXPECTED}"));
    }
    Ok(text)
}

pub fn load_engine(path: &Path, switches: &EvalSwitches) -> Result<Engine, String> {
    Ok(Engine::builder(load_snapshot_with_groups(path)?)
        .options(switches.options())
        .build())
}

/// [`load_engine`] for commands that evaluate many flows ([`EngineBuilder::bulk`](sgsim::eval::EngineBuilder::bulk)).
pub fn load_bulk_engine(path: &Path, switches: &EvalSwitches) -> Result<Engine, String> {
    Ok(Engine::builder(load_snapshot_with_groups(path)?)
        .options(switches.options())
        .bulk()
        .build())
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

/// Whether a command-line argument looks like a pasted query string (`Key=value&Key=value`,
/// possibly a whole URL) rather than a path.
pub fn looks_like_query(arg: &str) -> bool {
    let query = arg.split_once('?').map_or(arg, |(_, q)| q);
    query.contains('=')
        && query.split('&').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(key, _)| !key.is_empty() && !key.contains(['/', '\\']))
        })
}

/// Opens a file a command reads (`what` says what it should hold, for messages): a directory, a
/// missing file or one that cannot be read is an error naming the path and what was expected.
pub fn open_input(path: &Path, what: &str) -> Result<std::fs::File, String> {
    let name = path.display();
    if path.is_dir() {
        return Err(format!("{name}: is a directory: expected {what}"));
    }
    std::fs::File::open(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => format!("{name}: no such file: expected {what}"),
        _ => format!("{name}: {err}"),
    })
}
