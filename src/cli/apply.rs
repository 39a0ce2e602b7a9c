//! `sgsim apply`: the control plane. Applies API calls to a snapshot, prints the API's answers,
//! and writes the new snapshot atomically; a rejected call leaves every file untouched.

use super::shared::{load_snapshot, load_snapshot_text, read_snapshot_text, write_atomically};
use clap::Args;
use serde_json::{json, Value};
use sgsim::analysis::diff::{flow_verdicts, MissingTarget};
use sgsim::input::ecs::preserve::rewritten_snapshot_text;
use sgsim::input::flows::{FlowFields, FlowsReader, VerdictColumns};
use sgsim::{Engine, Simulator, Snapshot};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Snapshot JSON file, a directory of API responses (needs --output), or `-`.
    snapshot: PathBuf,
    /// API calls, applied in order: files holding a JSON object of parameters or a query
    /// string (`-` = stdin). An argument that is no file but contains `Action=` (or starts with
    /// `{`) is taken as the request itself.
    #[arg(required = true)]
    requests: Vec<String>,
    /// Write the new snapshot here instead of replacing SNAPSHOT.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Validate and answer, but write nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: a flows CSV (the `sgsim eval` format); prints the flows whose verdict the
    /// change would flip.
    #[arg(long, requires = "dry_run")]
    flows: Option<PathBuf>,
    /// Seed for new ids (rule, group and request ids), for reproducible output.
    #[arg(long)]
    seed: Option<u64>,
    /// Fixed clock for new rules' CreateTime, in seconds since the Unix epoch.
    #[arg(long)]
    now: Option<i64>,
    /// fsync the new snapshot before renaming it into place (durable across power loss; costs
    /// several milliseconds).
    #[arg(long)]
    fsync: bool,
}

pub fn run(args: ApplyArgs) -> Result<ExitCode, String> {
    let from_directory = args.snapshot.is_dir();
    if from_directory && args.output.is_none() && !args.dry_run {
        return Err(format!(
            "{}: a directory of API responses cannot take the new snapshot back: name a file \
             with --output FILE (it gets the whole assembled snapshot), or use --dry-run",
            args.snapshot.display()
        ));
    }
    // Held from the read to the rename: concurrent `sgsim apply` runs on one file serialize, so
    // no accepted call is lost to another run's write. Released when dropped.
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock_for_writing(
            args.output.as_deref().unwrap_or(&args.snapshot),
        )?)
    };
    // A directory has no one text to patch: the new snapshot is written whole.
    let (original, before) = if from_directory {
        (None, load_snapshot(&args.snapshot)?)
    } else {
        let original = read_snapshot_text(&args.snapshot)?;
        let before = load_snapshot_text(&args.snapshot, original.clone())?;
        (Some(original), before)
    };
    let texts = args
        .requests
        .iter()
        .map(|r| read_request(r))
        .collect::<Result<Vec<_>, _>>()?;

    // The unchanged snapshot: to compare flows, and to tell what changed when writing.
    let kept = before.clone();
    let mut sim = match args.seed {
        Some(seed) => Simulator::with_seed(before, seed),
        None => Simulator::new(before),
    };
    sim.set_clock(args.now);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (name, text) in &texts {
        let answer = sim.apply_text(text);
        writeln!(out, "{}", answer.body).map_err(|e| e.to_string())?;
        if let Some(error) = &answer.error {
            let _ = out.flush();
            eprintln!("{name}: rejected: {error}; nothing was written");
            return Ok(ExitCode::from(1));
        }
    }

    if args.dry_run {
        if let Some(flows) = &args.flows {
            let report = flipped_flows(&kept, sim.snapshot(), flows)?;
            writeln!(out, "{report}").map_err(|e| e.to_string())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let target = args.output.as_deref().unwrap_or(&args.snapshot);
    let text = rewritten_snapshot_text(original.as_deref(), &kept, sim.snapshot());
    write_atomically(target, args.fsync, |file| {
        file.write_all(text.as_bytes())
            .map_err(|err| format!("{}: {err}", target.display()))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The text of one request argument, with a name for messages.
fn read_request(arg: &str) -> Result<(String, String), String> {
    if arg == "-" {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        return Ok(("stdin".into(), text));
    }
    const EXPECTED: &str = "a file holding an API call's parameters as a JSON object or a \
        query string, or the query string itself (Action=AuthorizeSecurityGroup&RegionId=…)";
    let path = Path::new(arg);
    if !path.exists() && (arg.contains("Action=") || arg.trim_start().starts_with('{')) {
        return Ok(("request".into(), arg.to_string()));
    }
    if !path.exists() && super::shared::looks_like_query(arg) {
        return Err(format!(
            "{arg}: no such file; as a query string it lacks Action=: expected {EXPECTED}"
        ));
    }
    let mut text = String::new();
    super::shared::open_input(path, EXPECTED)?
        .read_to_string(&mut text)
        .map_err(|e| format!("{arg}: {e}"))?;
    if text.trim().is_empty() {
        return Err(format!("{arg}: the file is empty: expected {EXPECTED}"));
    }
    Ok((arg.to_string(), text))
}

/// An exclusive lock on the file at `path` (when it exists), taken on the file that is there
/// once the lock is held. A run that waited while another renamed a new file into place finds
/// its lock on the old, replaced inode, and locks again. No lock file is left behind.
fn lock_for_writing(path: &Path) -> Result<Option<File>, String> {
    if path.as_os_str() == "-" {
        return Ok(None);
    }
    loop {
        let file = match File::open(path) {
            Ok(file) => file,
            // Nothing there yet (a new --output): nothing to lose.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("{}: {err}", path.display())),
        };
        file.lock()
            .map_err(|e| format!("{}: cannot lock: {e}", path.display()))?;
        if still_at(&file, path) {
            return Ok(Some(file));
        }
    }
}

/// Whether `file` is still the file at `path` (not replaced by a rename meanwhile).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(held), Ok(current)) => held.dev() == current.dev() && held.ino() == current.ino(),
        _ => false,
    }
}

/// Without inode numbers, trust the first lock: Windows does not rename over an open file.
#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

/// The JSON `schema_version` of the flipped-flows report (docs/json.md).
const SCHEMA_VERSION: u32 = 1;

/// Evaluates the flows before and after, and lists those whose verdict flips. Bad rows (and
/// rows whose NIC is missing before or after) are reported on stderr with their line numbers
/// and counted in `FlowErrors`.
fn flipped_flows(before: &Snapshot, after: &Snapshot, flows: &Path) -> Result<Value, String> {
    let name = flows.display().to_string();
    let input: Box<dyn BufRead> = if flows.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file = super::shared::open_input(flows, super::eval::FLOWS_EXPECTED)?;
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let rows = FlowsReader::new(input).map_err(|err| err.in_file(&name))?;
    let (old, new) = (Engine::new(before.clone()), Engine::new(after.clone()));
    let mut flipped = Vec::new();
    let (mut checked, mut errors) = (0u64, 0u64);
    for row in rows {
        checked += 1;
        let row = match row.map_err(|e| format!("{name}: {e}"))? {
            Ok(row) => row,
            Err(err) => {
                eprintln!("{name}:{}: {}", err.line, err.message);
                errors += 1;
                continue;
            }
        };
        let v = match flow_verdicts(&old, &new, &row.target_id, &row.flow) {
            Ok(v) => v,
            Err(missing) => {
                let why = match missing {
                    MissingTarget::Before(why) => format!("{why} (before the change)"),
                    MissingTarget::After(why) => format!("{why} (after the change)"),
                };
                eprintln!("{name}:{}: nic_id: {why}", row.line);
                errors += 1;
                continue;
            }
        };
        if v.flipped() {
            let side = |engine: &Engine, verdict| {
                let c = VerdictColumns::of(engine, verdict);
                json!({"verdict": c.verdict, "reason": c.reason,
                       "security_group_id": c.security_group_id, "rule_id": c.rule_id})
            };
            let mut entry = json!({"line": row.line, "nic_id": row.target_id});
            if let Value::Object(fields) = json!(FlowFields::of(&row.flow)) {
                entry.as_object_mut().expect("an object").extend(fields);
            }
            entry["before"] = side(&old, &v.before);
            entry["after"] = side(&new, &v.after);
            flipped.push(entry);
        }
    }
    Ok(json!({
        "schema_version": SCHEMA_VERSION,
        "FlowsChecked": checked,
        "FlowErrors": errors,
        "Flipped": flipped,
    }))
}
