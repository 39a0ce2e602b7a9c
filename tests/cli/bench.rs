//! `sgsim bench` end to end on the ClassBench acl1_1k set in testdata.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn sgsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sgsim"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/classbench")
        .join(name)
}

#[test]
fn classbench_json_has_the_interface_keys_and_verified_counts() {
    let output = sgsim()
        .args(["bench", "--classbench"])
        .arg(testdata("acl1_1k"))
        .arg(testdata("acl1_1k_trace"))
        .args(["--json", "--threads", "1,2", "--min-time", "0.05"])
        .output()
        .unwrap();
    let stdout = successful_stdout(&output);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one object per measurement: {stdout}");
    for (object, threads) in lines.iter().zip([1, 2]) {
        assert_eq!(object["threads"], threads);
        // Every figure names the processor it was measured on (issue 21).
        assert_eq!(object["processor"], sgsim::bench::processor_model());
        assert_eq!(object["rules"], 878);
        assert_eq!(object["flows"], 8780);
        // The reference evaluator's counts; drop_default also equals rte_acl's "nomatch" on
        // the converted set.
        assert_eq!(object["accept"], 5731);
        assert_eq!(object["drop_rule"], 3039);
        assert_eq!(object["drop_default"], 10);
        assert!(object.get("accept_inner").is_none() && object.get("drop_platform").is_none());
        assert!(object["flows_per_sec"].as_f64().unwrap() > 0.0);
        assert!(object["build_ms"].as_f64().unwrap() >= 0.0);
        assert!(object["memory_bytes"].is_u64());
        assert_eq!(object["verified_flows"], 8780);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("verified 8780 flows"), "{stderr}");
}

/// Both engines give the verified counts; which tier the bulk engine's timed trial keeps may
/// differ from machine to machine, the verdicts may not.
#[test]
fn both_engines_give_the_same_verdicts() {
    for engine in ["bulk", "interactive"] {
        let output = sgsim()
            .args(["bench", "--classbench"])
            .arg(testdata("acl1_1k"))
            .arg(testdata("acl1_1k_trace"))
            .args([
                "--json",
                "--threads",
                "1",
                "--min-time",
                "0",
                "--engine",
                engine,
            ])
            .output()
            .unwrap();
        let stdout = successful_stdout(&output);
        let object: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let counts = [
            &object["accept"],
            &object["drop_rule"],
            &object["drop_default"],
        ];
        assert_eq!(counts, [5731, 3039, 10], "--engine {engine}: {stdout}");
        assert_eq!(object["verified_flows"], 8780, "--engine {engine}");
    }
    let output = sgsim()
        .args(["bench", "--sweep", "10", "--engine", "fastest"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("possible values: bulk, interactive"),
        "{stderr}"
    );
}

#[test]
fn snapshot_and_flows_mode_reads_the_eval_csv() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vpc-web.json");
    // examples/flows.csv ends with deliberately bad rows (for `sgsim eval`); bench refuses
    // those, so take the good rows at the top.
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flows.csv"))
            .unwrap();
    let flows = dir.path().join("flows.csv");
    let good: Vec<&str> = example.lines().take(10).collect();
    std::fs::write(&flows, good.join("\n") + "\n").unwrap();
    let output = sgsim()
        .arg("bench")
        .arg(&snapshot)
        .arg(&flows)
        .args(["--threads", "1,2", "--min-time", "0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = successful_stdout(&output);
    assert!(stdout.contains("verdicts of one pass: accept="), "{stdout}");
    assert!(stdout.contains("flows/s"), "{stdout}");
    // One row per thread count; the speed-up column is 1.00 on one thread.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|line| !line.contains("x 1 thread"))
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!((rows[0][0], rows[0][3]), ("1", "1.00"), "{stdout}");
    assert_eq!(rows[1][0], "2", "{stdout}");
    // A number (its size is timing, which tests do not judge: nine flows on a loaded machine
    // can print 0.00).
    let speedup: f64 = rows[1][3].parse().unwrap();
    assert!(speedup.is_finite() && speedup >= 0.0, "{stdout}");
}

#[test]
fn sweep_writes_csv_and_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("sweep.svg");
    let output = sgsim()
        .args(["bench", "--sweep", "10,100", "--flows", "500", "--csv"])
        .args([
            "--min-time",
            "0",
            "--reference-time",
            "0.01",
            "--threads",
            "2",
            "--plot",
        ])
        .arg(&plot)
        .output()
        .unwrap();
    let stdout = successful_stdout(&output);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[0].starts_with("rules,flows,build_ms,memory_bytes,threads,"));
    assert!(rows[0].ends_with(",processor"), "{stdout}");
    let mut processor = b",".to_vec();
    sgsim::input::flows::write_field(&sgsim::bench::processor_model(), &mut processor);
    let processor = String::from_utf8(processor).unwrap();
    assert!(
        rows[1..].iter().all(|row| row.ends_with(&processor)),
        "{stdout}"
    );
    assert!(rows[1].starts_with("10,500,"));
    assert!(rows[2].starts_with("100,500,"));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg "));
    assert!(String::from_utf8_lossy(&output.stderr).contains("size 2/2: 100 rules"));
}

#[test]
fn bad_input_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.rules");
    std::fs::write(
        &rules,
        "@1.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x06/0xFF\t0x0000/0x0000\t\n@1.2.3.4/40\tx\n",
    )
    .unwrap();
    let output = sgsim()
        .args(["bench", "--classbench"])
        .arg(&rules)
        .arg(testdata("acl1_1k_trace"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {}:2: line \"@1.2.3.4/40\\tx\": expected 5 or 6 tab-separated fields",
            rules.display()
        )),
        "{stderr}"
    );

    // No mode at all, two modes, or a sweep-only flag without --sweep are usage errors.
    let output = sgsim().arg("bench").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = sgsim()
        .args(["bench", "--sweep", "10", "--classbench", "a", "b"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = sgsim()
        .args(["bench", "--csv", "snapshot.json", "flows.csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--csv only applies to --sweep"));
}

/// The standard output of a run that must have succeeded (else its standard error).
fn successful_stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}
