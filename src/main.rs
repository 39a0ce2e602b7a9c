//! The `sgsim` command line: thin wrappers that parse arguments, call the library and format
//! output. Exit codes: 0 success, 1 bad input (a verdict or request could not be given),
//! 2 usage error.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(1)
        }
    }
}
