//! The fuzz targets' seed corpora and every kept crash reproducer (`fuzz/artifacts-kept/`),
//! replayed by the normal test run: seeds stay valid inputs, and a crash once found stays fixed.

use sgsim::eval::bulk::eval_csv;
use sgsim::{Engine, Snapshot};
use std::path::{Path, PathBuf};

/// Files under `fuzz/<dir>/<target>`, sorted; none when the directory does not exist.
fn files(dir: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn load_snapshot_seeds_load_and_kept_artifacts_do_not_panic() {
    let seeds = files("corpus", "load_snapshot");
    assert!(seeds.len() >= 10, "the seed corpus is missing: {seeds:?}");
    for seed in seeds {
        let result = Snapshot::from_json_str(&std::fs::read_to_string(&seed).unwrap());
        let refused = name(&seed) == "sample-describe-sg-attribute.docs-2026.json";
        assert_eq!(
            result.is_err(),
            refused,
            "{}: {:?}",
            name(&seed),
            result.err()
        );
    }
    for artifact in files("artifacts-kept", "load_snapshot") {
        let bytes = std::fs::read(&artifact).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            // Refused or loaded, either is fine: returning at all is the point.
            let _ = Snapshot::from_json_str(text);
        }
    }
}

#[test]
fn eval_csv_seeds_and_artifacts_write_one_record_per_row() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vpc-web.json");
    let engine =
        Engine::new(Snapshot::from_json_str(&std::fs::read_to_string(example).unwrap()).unwrap());
    let seeds = files("corpus", "eval_csv");
    assert!(seeds.len() >= 3, "the seed corpus is missing: {seeds:?}");
    for input in seeds.iter().chain(&files("artifacts-kept", "eval_csv")) {
        let bytes = std::fs::read(input).unwrap();
        let mut output = Vec::new();
        let Ok(summary) = eval_csv(&engine, bytes.as_slice(), &mut output, &mut ()) else {
            continue; // a bad header is an error, not a panic
        };
        assert_eq!(
            summary.rows,
            summary.accepted + summary.dropped + summary.errors
        );
        // Records, not lines: a quoted field may hold a line end (RFC 4180).
        let records = sgsim::input::flows::record_ends(&output).len() as u64;
        assert_eq!(records, summary.rows + 1, "{}", name(input));
    }
}

#[test]
fn load_dump_corpus_and_artifacts_do_not_panic() {
    use sgsim::bench::testkit::nul_split_documents;
    use sgsim::input::ecs::dump::assemble_documents;
    let seeds = files("corpus", "load_dump");
    assert!(seeds.len() >= 10, "the seed corpus is missing: {seeds:?}");
    for input in seeds.iter().chain(&files("artifacts-kept", "load_dump")) {
        let bytes = std::fs::read(input).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        // As the fuzz target splits its input: documents separated by NUL bytes.
        let result = assemble_documents(nul_split_documents(text));
        if name(input) == "example-dump" {
            assert!(result.is_ok(), "{:?}", result.err());
        }
    }
}
