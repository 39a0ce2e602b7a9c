//! What every command uses: loading the snapshot, the evaluation switches, reading inputs and
//! writing outputs (stdout, or a file replaced atomically).

use clap::Args;
use sgsim::analysis::RegionText;
use sgsim::input::ecs::dump::{assemble, assemble_documents, AssemblyReport, Document};
use sgsim::model::{EvalOptions, NicType};
use sgsim::{Engine, Snapshot};
use std::fs::File;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

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

/// The two-NIC question (S15): a connection from one NIC to another.
#[derive(Debug, Args)]
pub struct ConnectionNics {
    /// Two-NIC question (S15): the NIC the connection leaves (its egress is evaluated).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Two-NIC question (S15): the NIC the connection enters (its ingress is evaluated).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

impl EvalSwitches {
    pub fn options(&self) -> EvalOptions {
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

/// Sets `--strict` for the run (once; later calls change nothing).
pub fn set_strict(strict: bool) {
    let _ = STRICT.set(strict);
}

/// Whether `--strict` was given.
pub fn strict() -> bool {
    STRICT.get().copied().unwrap_or(false)
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

/// [`load_snapshot`] of a snapshot with security groups, as an engine for a few questions.
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

/// The boxes of a region, one per line after `indent`, and how many more were left out.
pub fn push_boxes(out: &mut String, region: &RegionText, indent: &str) {
    for b in &region.boxes {
        out.push_str(&format!("{indent}{b}\n"));
    }
    if region.total_boxes > region.boxes.len() {
        let more = region.total_boxes - region.boxes.len();
        out.push_str(&format!("{indent}… {more} more boxes\n"));
    }
}

/// Runs the command's parallel work on `threads` threads (at least one), or on rayon's default
/// (one per core) when not given.
pub fn use_threads(threads: Option<usize>) -> Result<(), String> {
    if let Some(threads) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build_global()
            .map_err(|err| format!("--threads: {err}"))?;
    }
    Ok(())
}

/// A progress line on stderr for long runs, only when stderr is a terminal, redrawn at most
/// four times a second.
pub struct ProgressLine {
    /// When the run started and when the line was last drawn.
    times: Option<(Instant, Instant)>,
}

impl ProgressLine {
    /// A progress line, or a silent one when stderr is not a terminal.
    pub fn new() -> ProgressLine {
        ProgressLine {
            times: std::io::stderr()
                .is_terminal()
                .then(|| (Instant::now(), Instant::now())),
        }
    }

    /// Redraws the line as `text(seconds since the start)` when it is time to.
    pub fn update(&mut self, text: impl FnOnce(f64) -> String) {
        let Some((start, last)) = &mut self.times else {
            return;
        };
        if last.elapsed() >= Duration::from_millis(250) {
            *last = Instant::now();
            eprint!("\r{}   ", text(start.elapsed().as_secs_f64().max(1e-9)));
        }
    }

    /// Erases the line, before a message or at the end.
    pub fn clear(&self) {
        if self.times.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Replaces `path` whole or not at all: `write` fills a temporary file beside it (same
/// directory, so the rename is atomic), which is then renamed over `path`. On any error the
/// temporary file is removed and `path` is untouched. `fsync` flushes the data to disk before
/// the rename.
///
/// A symbolic link is followed: the file it points to is replaced and the link stays. Where
/// `path` is not an ordinary file (`/dev/null`, `/dev/stdout`, a FIFO), `write` writes to it in
/// place: renaming over a device would put an ordinary file in its place for every other
/// process (a `/dev/null` that keeps what is written to it and gives it back when read).
pub fn write_atomically<T>(
    path: &Path,
    fsync: bool,
    write: impl FnOnce(&mut File) -> Result<T, String>,
) -> Result<T, String> {
    let resolved;
    let path = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Err(format!("{}: is a directory", path.display())),
        Ok(meta) if !meta.is_file() => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|err| format!("{}: {err}", path.display()))?;
            return write(&mut file);
        }
        Ok(_) if path.is_symlink() => {
            resolved =
                std::fs::canonicalize(path).map_err(|err| format!("{}: {err}", path.display()))?;
            resolved.as_path()
        }
        _ => path,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{}: not a file path", path.display()))?;
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{}.", name.to_string_lossy());
    builder.prefix(&prefix).suffix(".tmp");
    // A temporary file is private (0600) by default; the output is an ordinary file, so it
    // gets the ordinary mode, less the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut temp = builder.tempfile_in(dir).map_err(|err| {
        format!(
            "{}: could not create a file beside it: {err}",
            path.display()
        )
    })?;
    let value = write(temp.as_file_mut())?;
    if fsync {
        temp.as_file()
            .sync_all()
            .map_err(|err| format!("{}: {err}", temp.path().display()))?;
    }
    temp.persist(path)
        .map_err(|err| format!("{}: {}", path.display(), err.error))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_failed_write_leaves_the_file_and_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, "old").unwrap();
        let result: Result<(), String> = write_atomically(&path, false, |file| {
            file.write_all(b"half").unwrap();
            Err("refused".to_string())
        });
        assert_eq!(result, Err("refused".to_string()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        write_atomically(&path, true, |file| {
            file.write_all(b"new").map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_output_is_an_ordinary_file_not_a_private_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_atomically(&path, false, |file| {
            file.write_all(b"x").map_err(|e| e.to_string())
        })
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The same mode as a file created the ordinary way under this umask (a temporary
        // file's default would be 0o600).
        let ordinary = {
            let probe = dir.path().join("probe");
            std::fs::write(&probe, "").unwrap();
            std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode, ordinary);
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_stays_and_its_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("snapshot.json");
        let link = dir.path().join("link.json");
        std::fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomically(&link, false, |file| {
            file.write_all(b"new").map_err(|e| e.to_string())
        })
        .unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A FIFO stands for devices such as `/dev/null`, which a test must not risk replacing.
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|status| status.success()) {
            panic!("mkfifo could not make {}", fifo.display());
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, true, |file| {
            file.write_all(b"rows\n").map_err(|e| e.to_string())
        })
        .unwrap();
        // Checked before joining: a reader left without a writer would wait forever.
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "{kind:?}");
        assert_eq!(reader.join().unwrap(), "rows\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(dir.path(), false, |_| Ok(())).unwrap_err();
        assert!(err.ends_with(": is a directory"), "{err}");
    }
}
