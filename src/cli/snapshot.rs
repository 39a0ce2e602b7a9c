//! `sgsim snapshot`: API responses (files, directories, stdin) assembled into one snapshot.

use super::shared::{emit, strict, write_atomically};
use clap::Args;
use sgsim::input::ecs::dump::assemble;
use sgsim::input::ecs::snapshot_to_string;
use std::io::Write;
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
        let text = snapshot_to_string(&snapshot);
        write_atomically(output, false, |file| {
            file.write_all(text.as_bytes())
                .map_err(|err| format!("{}: {err}", output.display()))
        })?;
    }
    Ok(ExitCode::SUCCESS)
}
