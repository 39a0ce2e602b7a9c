//! The table of spec cases in `testdata/cases/*.json`, run through the library and through the
//! real `sgsim eval` binary. Each file holds a snapshot and the cases asked about it, one per
//! CSV row; the expected columns were worked out from `shared/spec/semantics.md`. The library
//! run asks every evaluator (`common::evaluators`): the reference, each compiled tier, the lazy
//! linear path, one flow at a time and as a batch.

use crate::common::evaluators::Evaluators;
use serde::Deserialize;
use sgsim::eval::bulk::{INPUT_HEADER, OUTPUT_COLUMNS};
use sgsim::model::{EvalOptions, Flow, Reason};
use sgsim::Snapshot;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    snapshot: serde_json::Value,
    cases: Vec<Case>,
}

/// One row of the table: the input columns of the CSV contract, then the expected output columns.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    clause: String,
    nic_id: String,
    direction: String,
    protocol: String,
    src_ip: String,
    src_port: String,
    dst_ip: String,
    dst_port: String,
    verdict: String,
    reason: String,
    security_group_id: String,
    rule_id: String,
}

impl Case {
    fn input_columns(&self) -> [&str; 7] {
        [
            &self.nic_id,
            &self.direction,
            &self.protocol,
            &self.src_ip,
            &self.src_port,
            &self.dst_ip,
            &self.dst_port,
        ]
    }

    fn expected_output(&self) -> [&str; 4] {
        [
            &self.verdict,
            &self.reason,
            &self.security_group_id,
            &self.rule_id,
        ]
    }
}

fn case_files() -> Vec<(PathBuf, CaseFile)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no case files in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (path, file)
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The four output columns the library gives for one case, once every evaluator agrees.
fn library_output(evaluators: &Evaluators, case: &Case) -> Result<[String; 4], String> {
    let engine = evaluators.engine();
    let target = engine.target(&case.nic_id).map_err(|e| e.to_string())?;
    let [_, direction, protocol, src_ip, src_port, dst_ip, dst_port] = case.input_columns();
    let flow = Flow::parse(direction, protocol, src_ip, src_port, dst_ip, dst_port)
        .map_err(|err| err.to_string())?;
    let verdict = evaluators.check(target, &flow)?;
    let (group, rule) = match verdict.reason {
        Reason::Rule(rule_ref) => {
            let (group, rule) = engine.rule(rule_ref);
            (group.id.clone(), rule.id.clone())
        }
        _ => (String::new(), String::new()),
    };
    Ok([
        verdict.action.as_str().to_string(),
        verdict.reason.as_str().to_string(),
        group,
        rule,
    ])
}

#[test]
fn every_case_through_the_library() {
    let mut failures = Vec::new();
    for (path, file) in case_files() {
        let snapshot = Snapshot::from_json_str(&file.snapshot.to_string())
            .unwrap_or_else(|err| panic!("{}: snapshot: {err}", path.display()));
        let evaluators = Evaluators::new(snapshot, EvalOptions::default());
        for case in &file.cases {
            match library_output(&evaluators, case) {
                Ok(got) if got == case.expected_output() => {}
                Ok(got) => failures.push(format!(
                    "{} [{}] {}: expected {:?}, got {got:?}",
                    file_name(&path),
                    case.clause,
                    case.name,
                    case.expected_output()
                )),
                Err(err) => failures.push(format!(
                    "{} [{}] {}: {err}",
                    file_name(&path),
                    case.clause,
                    case.name
                )),
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_case_through_sgsim_eval() {
    let mut failures = Vec::new();
    for (path, file) in case_files() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot_path = dir.path().join("snapshot.json");
        let flows_path = dir.path().join("flows.csv");
        std::fs::write(&snapshot_path, file.snapshot.to_string()).unwrap();
        let mut csv = format!("{INPUT_HEADER}\n");
        for case in &file.cases {
            csv += &case.input_columns().join(",");
            csv.push('\n');
        }
        std::fs::write(&flows_path, csv).unwrap();

        let output = Command::new(env!("CARGO_BIN_EXE_sgsim"))
            .arg("eval")
            .arg(&snapshot_path)
            .arg(&flows_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The one stderr output allowed is the warning about what the snapshot references but
        // does not give (a bare group's type, an absent referenced group).
        assert!(
            output.status.success() && (stderr.is_empty() || stderr.starts_with("warning: ")),
            "{}: sgsim eval exited {:?}: {stderr}",
            file_name(&path),
            output.status.code()
        );

        let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header.join(","), format!("{INPUT_HEADER},{OUTPUT_COLUMNS}"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(
            rows.len(),
            file.cases.len(),
            "{}: one row per case",
            file_name(&path)
        );
        for (case, row) in file.cases.iter().zip(&rows) {
            let got: Vec<&str> = row.iter().collect();
            let mut expected: Vec<&str> = case.input_columns().to_vec();
            expected.extend(case.expected_output());
            if got != expected {
                failures.push(format!(
                    "{} [{}] {}:\n  expected {expected:?}\n  got      {got:?}",
                    file_name(&path),
                    case.clause,
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// The table is the spec's worked examples: it must stay large and name real clauses.
#[test]
fn case_table_is_well_formed_and_covers_the_single_nic_clauses() {
    let mut clauses = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut total = 0;
    for (path, file) in case_files() {
        for case in &file.cases {
            total += 1;
            let number: u32 = case
                .clause
                .strip_prefix('S')
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                (1..=16).contains(&number),
                "{}: {}: clause {:?} is not S1..S16",
                file_name(&path),
                case.name,
                case.clause
            );
            clauses.insert(number);
            assert!(
                names.insert((file_name(&path), case.name.clone())),
                "{}: case name {:?} is used twice",
                file_name(&path),
                case.name
            );
            assert!(
                ["accept", "drop"].contains(&case.verdict.as_str()),
                "{}: verdict {:?}",
                case.name,
                case.verdict
            );
            let names_rule = !case.security_group_id.is_empty() && !case.rule_id.is_empty();
            let names_nothing = case.security_group_id.is_empty() && case.rule_id.is_empty();
            match case.reason.as_str() {
                "rule" => assert!(names_rule, "{}: reason rule names a rule", case.name),
                "inner_access" | "default" | "platform" => {
                    assert!(
                        names_nothing,
                        "{}: only reason rule names a rule",
                        case.name
                    )
                }
                other => panic!("{}: reason {other:?}", case.name),
            }
        }
    }
    assert!(total >= 60, "only {total} cases");
    // S15 and S16 are about two NICs and replies, which one CSV row cannot express.
    let missing: Vec<u32> = (1..=14).filter(|n| !clauses.contains(n)).collect();
    assert!(missing.is_empty(), "no case for clauses {missing:?}");
}
