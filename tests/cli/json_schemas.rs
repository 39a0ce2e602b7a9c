//! Every JSON output matches the schema docs/json.md gives for its command, carries
//! `schema_version`, and spells ports as numbers and protocols by name and number.

use crate::common;

use common::{example, sgsim};
use serde_json::Value;

/// The JSON Schema in the first ```json block under `## {command}` in docs/json.md.
fn schema(command: &str) -> jsonschema::Validator {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md"))
        .expect("docs/json.md");
    let section = docs
        .split(&format!("\n## {command}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/json.md has no section {command}"));
    let block = section
        .split("```json\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap_or_else(|| panic!("docs/json.md: {command} has no json block"));
    let schema: Value = serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("docs/json.md: {command}'s schema: {e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{command}'s schema: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{value:#}");
    assert_eq!(value["schema_version"], 1, "{what}");
}

fn json_lines(args: &[&str]) -> Vec<Value> {
    let out = sgsim(args);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Pretty-printed documents are one value; JSON lines one per line.
    match serde_json::from_str(&text) {
        Ok(value) => vec![value],
        Err(_) => text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    }
}

fn path(name: &str) -> String {
    example(name).to_str().unwrap().to_string()
}

#[test]
fn check_outputs_match_the_check_schema() {
    let validator = schema("check");
    let snapshot = path("vpc-web.json");
    let ssh = [
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--dport",
        "22",
    ];
    let cases: Vec<Vec<&str>> = vec![
        [&ssh[..], &["--src", "203.0.113.7", "--sport", "40000"]].concat(),
        [&ssh[..], &["--src", "203.0.113.7"]].concat(),
        [&ssh[..], &["--src", "203.0.113.9"]].concat(),
        vec![
            "--nic",
            "eni-web1",
            "--direction",
            "egress",
            "--protocol",
            "icmp",
            "--dst",
            "8.8.8.8",
        ],
        vec![
            "--from",
            "eni-web1",
            "--to",
            "eni-db1",
            "--protocol",
            "tcp",
            "--dport",
            "5432",
        ],
        vec![
            "--from",
            "eni-web1",
            "--to",
            "eni-db1",
            "--protocol",
            "tcp",
            "--sport",
            "40000",
            "--dport",
            "6379",
        ],
    ];
    for case in &cases {
        let mut args = vec!["check", snapshot.as_str(), "--json"];
        args.extend(case);
        for value in json_lines(&args) {
            assert_valid(&validator, &format!("{case:?}"), &value);
        }
    }
    // Ports are numbers, protocols name and number.
    let args = [
        &["check", snapshot.as_str(), "--json"][..],
        &ssh,
        &["--src", "203.0.113.7", "--sport", "40000"],
    ]
    .concat();
    let value = &json_lines(&args)[0];
    assert_eq!(value["flow"]["dst_port"], 22);
    assert_eq!(value["flow"]["src_port"], 40000);
    assert_eq!(
        (
            value["flow"]["protocol"].as_str(),
            value["flow"]["protocol_number"].as_u64()
        ),
        (Some("tcp"), Some(6))
    );
}

#[test]
fn diff_audit_apply_and_bench_outputs_match_their_schemas() {
    let (old, new) = (path("vpc-web.json"), path("vpc-web-changed.json"));
    let flows_diff = path("flows-diff.csv");
    let diff = json_lines(&["diff", &old, &new, "--flows", &flows_diff, "--json"]);
    assert_valid(&schema("diff"), "diff", &diff[0]);
    let flips = diff[0]["flows"].as_array().unwrap();
    assert!(!flips.is_empty(), "the example diff flips flows");
    assert!(flips
        .iter()
        .all(|f| f["dst_port"].is_u64() && f["protocol_number"].is_u64()));

    let audit = json_lines(&["audit", &old, "--json"]);
    assert_valid(&schema("audit"), "audit", &audit[0]);

    let request = path("requests/modify-ssh-office.json");
    let flows = path("flows.csv");
    let out = sgsim(&["apply", &old, &request, "--dry-run", "--flows", &flows]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let report: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_valid(&schema("apply"), "apply --flows", &report);
    let flipped = report["Flipped"].as_array().unwrap();
    assert!(!flipped.is_empty(), "moving office SSH flips flows");
    assert_eq!(flipped[0]["dst_port"], 22);
    assert_eq!(flipped[0]["protocol"], "tcp");

    let bench = json_lines(&[
        "bench",
        &old,
        &flows_diff,
        "--threads",
        "1",
        "--min-time",
        "0",
        "--json",
    ]);
    for line in &bench {
        assert_valid(&schema("bench"), "bench", line);
    }
}
