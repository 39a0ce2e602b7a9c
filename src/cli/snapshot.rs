//! `sgsim snapshot`: API responses (files, directories, stdin) assembled into one snapshot.

use super::apply::write_atomically;
use super::{emit, strict};
use clap::Args;
use sgsim::input::ecs::dump::assemble;
use sgsim::input::ecs::snapshot_to_string;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Files, directories (every `*.json` below, in natural order) or `-` for stdin, in any
    /// mix of the shapes ECS API calls return.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write the assembled snapshot here (atomically), in the snapshot shape every command
    /// reads.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn run(args: SnapshotArgs) -> Result<ExitCode, String> {
    let (snapshot, report) = assemble(&args.inputs).map_err(|err| err.to_string())?;
    emit(&report.summary(&snapshot))?;
    if strict() && !report.missing.is_empty() {
        return Err(format!(
            "{} missing (--strict refuses an incomplete snapshot)",
            report.missing.len()
        ));
    }
    if let Some(output) = &args.output {
        write_atomically(output, &snapshot_to_string(&snapshot), false)?;
    }
    Ok(ExitCode::SUCCESS)
}
