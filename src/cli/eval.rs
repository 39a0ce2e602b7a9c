//! `sgsim eval`: the bulk CSV contract, streaming, with progress on a terminal.

use super::mapped::MappedFile;
use super::shared::{load_bulk_engine, use_threads, write_atomically, EvalSwitches, ProgressLine};
use clap::Args;
use sgsim::eval::bulk::{eval_csv, eval_csv_bytes, BulkError, EvalObserver, EvalSummary, RowError};
use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Snapshot JSON file, a directory of ECS API answers, or `-` for stdin.
    snapshot: PathBuf,
    /// Flows CSV (`-` = stdin) with the header nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port.
    flows: PathBuf,
    /// Write the output CSV here (replaced atomically) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// fsync the --output file before renaming it into place (durable across power loss; on
    /// 10 M rows it took longer than evaluating them).
    #[arg(long, requires = "output")]
    fsync: bool,
    #[command(flatten)]
    switches: EvalSwitches,
}

/// What a flows argument must hold, for messages.
pub(super) const FLOWS_EXPECTED: &str =
    "a flows CSV with the header nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port";

/// Bad rows beyond this many are counted, not printed one by one.
const MAX_REPORTED_ROWS: u64 = 1000;

struct Reporter {
    flows_name: String,
    reported: u64,
    progress: ProgressLine,
}

impl EvalObserver for Reporter {
    fn row_error(&mut self, error: &RowError) {
        self.reported += 1;
        if self.reported <= MAX_REPORTED_ROWS {
            self.progress.clear();
            eprintln!("{}:{}: {}", self.flows_name, error.line, error.message);
        }
    }

    fn progress(&mut self, rows: u64, bytes: u64) {
        self.progress.update(|secs| {
            format!(
                "{rows} rows, {:.0} MB, {:.2} M rows/s",
                bytes as f64 / 1e6,
                rows as f64 / secs / 1e6
            )
        });
    }
}

pub fn run(args: EvalArgs) -> Result<ExitCode, String> {
    use_threads(args.threads)?;
    let engine = load_bulk_engine(&args.snapshot, &args.switches)?;
    let flows_name = args.flows.display().to_string();
    let input = if args.flows.as_os_str() == "-" {
        Input::Read(Box::new(BufReader::with_capacity(1 << 20, io::stdin())))
    } else {
        let file = super::shared::open_input(&args.flows, FLOWS_EXPECTED)?;
        match MappedFile::of(&file) {
            Some(mapped) => Input::Mapped(mapped),
            None => Input::Read(Box::new(BufReader::with_capacity(1 << 20, file))),
        }
    };
    let mut reporter = Reporter {
        flows_name: flows_name.clone(),
        reported: 0,
        progress: ProgressLine::new(),
    };

    let summary = match &args.output {
        None => {
            // Unbuffered: eval_csv writes the tasks' outputs in whole 128 KiB pieces, each one
            // `writev` over their buffers, and a BufWriter would only copy them once more
            // (PERF: ~5 % of the run's CPU time).
            match input.eval(&engine, io::stdout(), &mut reporter) {
                // A closed pipe (`sgsim eval … | head`): the reader has what it wanted.
                Err(BulkError::Io(err)) if err.kind() == io::ErrorKind::BrokenPipe => {
                    return Ok(ExitCode::SUCCESS)
                }
                result => result.map_err(|err| format!("{flows_name}: {err}"))?,
            }
        }
        Some(path) => write_atomically(path, args.fsync, |file| {
            input
                .eval(&engine, &*file, &mut reporter)
                .map_err(|err| format!("{flows_name}: {err}"))
        })?,
    };
    reporter.progress.clear();
    if summary.errors > MAX_REPORTED_ROWS {
        eprintln!(
            "{flows_name}: {} more bad rows not shown (their output rows say error)",
            summary.errors - MAX_REPORTED_ROWS
        );
    }
    if summary.errors > 0 {
        eprintln!(
            "{flows_name}: {} of {} rows could not be evaluated",
            summary.errors, summary.rows
        );
        return Ok(ExitCode::from(1));
    }
    let _ = io::stderr().flush();
    Ok(ExitCode::SUCCESS)
}

/// The flows to evaluate: a regular file mapped into memory, else a stream read in blocks.
enum Input {
    Mapped(MappedFile),
    Read(Box<dyn io::BufRead + Send>),
}

impl Input {
    fn eval(
        self,
        engine: &sgsim::Engine,
        output: impl Write + Send,
        observer: &mut dyn EvalObserver,
    ) -> Result<EvalSummary, BulkError> {
        match self {
            Input::Read(input) => eval_csv(engine, input, output, observer),
            Input::Mapped(file) => {
                let release = |bytes| file.release(bytes);
                eval_csv_bytes(engine, file.bytes(), release, output, observer)
            }
        }
    }
}
