//! `sgsim audit` and `sgsim diff` end to end: text, JSON and SARIF (validated against the
//! official SARIF 2.1.0 schema shipped in `testdata/`), `--flows`, no-op diffs, witnesses,
//! limits, and the time budgets on 1000-rule snapshots.

use serde_json::{json, Value};
use sgsim::analysis::audit::{audit, AuditOptions};
use sgsim::analysis::diff::diff;
use sgsim::analysis::sarif::audit_to_sarif;
use sgsim::{Engine, Snapshot};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::common;

use common::{example, sgsim, sgsim_ok as stdout_of};

fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sarif-schema-2.1.0.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

fn assert_valid_sarif(log: &Value) {
    let validator = sarif_validator();
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "invalid SARIF: {errors:#?}");
}

/// A snapshot with every kind of finding: a shadowed and a redundant rule, public SSH, every
/// port open to one public source, an empty group, and dangling references.
fn findings_snapshot() -> Value {
    json!({
        "SecurityGroups": [
            {"SecurityGroupId": "sg-a", "VpcId": "vpc-1", "InnerAccessPolicy": "Drop",
             "Permissions": {"Permission": [
                {"SecurityGroupRuleId": "sgr-ssh", "Direction": "ingress", "IpProtocol": "TCP",
                 "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": 1},
                {"SecurityGroupRuleId": "sgr-ssh-office", "Direction": "ingress", "IpProtocol": "TCP",
                 "PortRange": "22/22", "SourceCidrIp": "198.51.100.0/24", "Priority": 5},
                {"SecurityGroupRuleId": "sgr-deny-telnet", "Direction": "ingress", "IpProtocol": "TCP",
                 "PortRange": "23/23", "SourceCidrIp": "0.0.0.0/0", "Policy": "Drop", "Priority": 50},
                {"SecurityGroupRuleId": "sgr-partner", "Direction": "ingress", "IpProtocol": "ALL",
                 "PortRange": "-1/-1", "SourceCidrIp": "203.0.113.77", "Priority": 40},
                {"SecurityGroupRuleId": "sgr-ghost", "Direction": "ingress", "IpProtocol": "TCP",
                 "PortRange": "80/80", "SourceGroupId": "sg-gone", "Priority": 1},
                {"SecurityGroupRuleId": "sgr-nolist", "Direction": "ingress", "IpProtocol": "TCP",
                 "PortRange": "80/80", "SourcePrefixListId": "pl-gone", "Priority": 1}
             ]}},
            {"SecurityGroupId": "sg-empty", "VpcId": "vpc-1", "Permissions": {"Permission": []}}
        ],
        "NetworkInterfaces": [
            {"NetworkInterfaceId": "eni-1", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.5",
             "SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-empty"]}}
        ]
    })
}

#[test]
fn audit_finds_every_kind_with_verified_witnesses() {
    let engine = Engine::new(Snapshot::from_json_value(findings_snapshot()).unwrap());
    let report = audit(&engine, &AuditOptions::default());
    let t = &report.targets[0];
    let shadowed: Vec<(&str, bool)> = t
        .shadowed
        .iter()
        .map(|s| (s.rule.rule.as_str(), s.unmatchable))
        .collect();
    assert!(
        shadowed.contains(&("sgr-ssh-office", false)),
        "{shadowed:?}"
    );
    assert!(shadowed.contains(&("sgr-ghost", true)), "{shadowed:?}");
    assert!(shadowed.contains(&("sgr-nolist", true)), "{shadowed:?}");
    let office = t
        .shadowed
        .iter()
        .find(|s| s.rule.rule == "sgr-ssh-office")
        .unwrap();
    assert_eq!(office.covered_by, ["sg-a/sgr-ssh"]);
    // Denying what the default denies anyway: its own finding, not "redundant" (issue 16).
    assert!(t.redundant.is_empty(), "{:?}", t.redundant);
    let restates: Vec<&str> = t
        .restates_default
        .iter()
        .map(|r| r.rule.rule.as_str())
        .collect();
    assert_eq!(restates, ["sgr-deny-telnet"]);
    assert!(t.restates_default[0].default_agrees);

    let ssh = t
        .exposures
        .iter()
        .find(|e| e.ports == "22")
        .expect("public SSH");
    // TCP by the SSH rule; UDP 22 from the partner address by its all-protocol rule.
    assert_eq!(ssh.accepted_by, ["sg-a/sgr-ssh", "sg-a/sgr-partner"]);
    assert!(ssh.witness.verified, "{:?}", ssh.witness);
    assert_eq!(ssh.witness.tuple.dst_port, 22);
    let all = t
        .exposures
        .iter()
        .find(|e| e.ports == "all")
        .expect("every port");
    assert_eq!(all.witness.tuple.src_ip, "203.0.113.77");
    assert!(all.witness.verified);
    assert!(t.exposures.iter().all(|e| e.witness.verified));

    let kinds: Vec<&str> = t.limits.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        ["missing_group", "missing_prefix_list", "empty_group"]
    );

    assert_valid_sarif(&audit_to_sarif(&report, "findings.json"));
}

#[test]
fn sarif_of_the_example_validates() {
    let snapshot = example("vpc-web.json");
    let text = stdout_of(&["audit", snapshot.to_str().unwrap(), "--sarif"]);
    let log: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(!log["runs"][0]["results"].as_array().unwrap().is_empty());
    assert_valid_sarif(&log);
    // The validator does reject what is not SARIF.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = json!("fatal");
    assert!(!sarif_validator().is_valid(&broken));
}

#[test]
fn audit_json_and_text_on_the_example() {
    let snapshot = example("vpc-web.json");
    let path = snapshot.to_str().unwrap();
    let report: Value = serde_json::from_str(&stdout_of(&["audit", path, "--json"])).unwrap();
    let web1 = &report["targets"][0];
    assert_eq!(web1["target"], "eni-web1");
    assert_eq!(web1["shadowed"][0]["rule"]["rule"], "sgr-ops-dns");
    let ssh = web1["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ports"] == "22")
        .unwrap();
    assert_eq!(ssh["witness"]["verified"], true);
    let text = stdout_of(&["audit", path, "--ports", "8080"]);
    assert!(text.contains("eni-web1: "), "{text}");
    assert!(
        text.contains("shadowed  ingress sg-ops/sgr-ops-dns"),
        "{text}"
    );
}

#[test]
fn diff_reports_flips_with_witnesses_and_flows() {
    let dir = tempfile::tempdir().unwrap();
    let old_path = example("vpc-web.json");
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&old_path).unwrap()).unwrap();
    // Open SSH to the world on the web group, ahead of everything.
    snapshot["SecurityGroups"][0]["Permissions"]["Permission"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"SecurityGroupRuleId": "sgr-open-ssh", "Direction": "ingress",
                     "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0",
                     "Priority": 1}),
        );
    let new_path = dir.path().join("new.json");
    std::fs::write(&new_path, snapshot.to_string()).unwrap();
    let (old, new) = (old_path.to_str().unwrap(), new_path.to_str().unwrap());

    let noop = stdout_of(&["diff", old, old]);
    assert_eq!(noop, "no verdict changes\n");

    let report: Value = serde_json::from_str(&stdout_of(&["diff", old, new, "--json"])).unwrap();
    let changes: Vec<&Value> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["changes"].as_array().unwrap())
        .collect();
    assert!(!changes.is_empty());
    for c in &changes {
        assert_eq!(c["from"], "drop");
        assert_eq!(c["to"], "accept");
        assert_eq!(c["after"], "sg-web/sgr-open-ssh");
        assert_eq!(c["witness_before"]["verified"], true);
        assert_eq!(c["witness_after"]["verified"], true);
        assert_eq!(c["witness_after"]["dst_port"], 22);
    }

    let all_flows = std::fs::read_to_string(example("flows.csv")).unwrap();
    let flows = dir.path().join("flows.csv");
    let good: Vec<&str> = all_flows.lines().take(5).collect();
    std::fs::write(&flows, good.join("\n") + "\n").unwrap();
    let text = stdout_of(&["diff", old, new, "--flows", flows.to_str().unwrap()]);
    assert!(text.contains("flow(s) from the file flip"), "{text}");
    assert!(
        text.contains("line 3: eni-web1 ingress tcp 203.0.113.9:40000 -> 10.0.1.10:22: drop by"),
        "{text}"
    );
    // The shipped file has bad rows: they are reported, the rest still compared, exit 1.
    let output = sgsim(&[
        "diff",
        old,
        new,
        "--flows",
        example("flows.csv").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("flows.csv:18:"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("line 3: eni-web1"));
}

/// `groups` groups of rules on one NIC, `rules` in all, from a fixed seed: wide and narrow
/// CIDRs, port ranges, both policies, priorities 1..100.
fn big_snapshot(rules: usize) -> Value {
    let mut state: u64 = 42;
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let groups = 4;
    let mut all = Vec::new();
    for g in 0..groups {
        let mut perms = Vec::new();
        for i in 0..rules / groups {
            let ingress = next(10) < 6;
            let protocol = ["TCP", "TCP", "UDP", "ALL", "ICMP"][next(5) as usize];
            let lo = 1 + next(65000);
            let hi = (lo + [0, 0, 10, 1000][next(4) as usize]).min(65535);
            let cidr = format!(
                "{}.{}.{}.0/{}",
                [10, 172, 8, 47, 203][next(5) as usize],
                next(256),
                next(256),
                [8, 16, 24, 32][next(4) as usize]
            );
            let mut rule = json!({
                "SecurityGroupRuleId": format!("sgr-{g}-{i}"),
                "Direction": if ingress { "ingress" } else { "egress" },
                "Policy": if next(10) < 3 { "Drop" } else { "Accept" },
                "Priority": 1 + next(100), "IpProtocol": protocol,
                "PortRange": if matches!(protocol, "TCP" | "UDP") { format!("{lo}/{hi}") } else { "-1/-1".into() },
            });
            rule[if ingress {
                "SourceCidrIp"
            } else {
                "DestCidrIp"
            }] = json!(cidr);
            perms.push(rule);
        }
        all.push(
            json!({"SecurityGroupId": format!("sg-{g}"), "VpcId": "vpc-1",
                        "Permissions": {"Permission": perms}}),
        );
    }
    json!({
        "SecurityGroups": all,
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-big", "VpcId": "vpc-1",
            "PrivateIpAddress": "10.1.2.3",
            "SecurityGroupIds": {"SecurityGroupId": ["sg-0", "sg-1", "sg-2", "sg-3"]}}]
    })
}

/// The budgets are 1 s (audit) and 100 ms (diff) in release builds on an idle machine; the
/// asserted bounds are looser because tests share the machine. Debug builds only check results.
#[test]
fn thousand_rule_snapshots_stay_fast() {
    let old_json = big_snapshot(1000);
    let old = Engine::new(Snapshot::from_json_value(old_json.clone()).unwrap());

    let start = Instant::now();
    let report = audit(&old, &AuditOptions::default());
    let audit_time = start.elapsed();

    // Flip the policy of a rule that decides some flows (one that is not shadowed): the
    // flows it decides must change verdict.
    let shadowed: Vec<&str> = report.targets[0]
        .shadowed
        .iter()
        .map(|s| s.rule.rule.as_str())
        .collect();
    let mut new_json = old_json.clone();
    let rules = new_json["SecurityGroups"][1]["Permissions"]["Permission"]
        .as_array_mut()
        .unwrap();
    let flipped = rules
        .iter_mut()
        .find(|r| !shadowed.contains(&r["SecurityGroupRuleId"].as_str().unwrap()))
        .unwrap();
    let policy = if flipped["Policy"] == "Drop" {
        "Accept"
    } else {
        "Drop"
    };
    flipped["Policy"] = json!(policy);
    let flipped_id = format!("sg-1/{}", flipped["SecurityGroupRuleId"].as_str().unwrap());
    let new = Engine::new(Snapshot::from_json_value(new_json).unwrap());
    assert!(report.targets[0].limits.iter().any(|l| l.kind == "quota"));
    assert!(report.targets[0]
        .exposures
        .iter()
        .all(|e| e.witness.verified));

    let start = Instant::now();
    let changes = diff(&old, &new);
    let diff_time = start.elapsed();
    let noop = diff(&old, &old);
    assert!(noop.is_empty());
    assert!(
        !changes.is_empty(),
        "flipping a rule that decides flows changes verdicts"
    );
    for c in changes.targets.iter().flat_map(|t| &t.changes) {
        assert!(c.witness_before.verified && c.witness_after.verified);
        assert!(c.before == flipped_id || c.after == flipped_id, "{c:?}");
    }
    eprintln!("1000 rules: audit {audit_time:?}, diff {diff_time:?}");
    if !cfg!(debug_assertions) {
        assert!(audit_time.as_secs_f64() < 5.0, "audit took {audit_time:?}");
        assert!(diff_time.as_secs_f64() < 0.5, "diff took {diff_time:?}");
    }
}

/// The examples in `docs/analysis.md` are real: each console block's command, run from the
/// crate root, prints exactly the lines shown.
#[test]
fn documented_examples_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/analysis.md")).unwrap();
    let mut blocks = 0;
    for block in doc.split("```console\n").skip(1) {
        let block = &block[..block.find("```").unwrap()];
        let (command, expected) = block.split_once('\n').unwrap();
        let args: Vec<&str> = command
            .strip_prefix("$ sgsim ")
            .unwrap()
            .split_whitespace()
            .collect();
        let output = Command::new(env!("CARGO_BIN_EXE_sgsim"))
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{command}"
        );
        blocks += 1;
    }
    assert_eq!(blocks, 3);
}

/// Writes the 1000-rule snapshots of `thousand_rule_snapshots_stay_fast` (and the copy with one
/// rule's policy flipped) for timing the command line, as `docs/analysis.md` describes:
/// `cargo test --release --test analysis_cli -- --ignored write_thousand_rule_snapshots`.
#[test]
#[ignore = "writes files for manual timing"]
fn write_thousand_rule_snapshots() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analysis-perf");
    std::fs::create_dir_all(&dir).unwrap();
    let old = big_snapshot(1000);
    let mut new = old.clone();
    // Rule 7 of sg-1 decides flows (checked by the timing test's logic on this seed).
    let rule = &mut new["SecurityGroups"][1]["Permissions"]["Permission"][7];
    let policy = if rule["Policy"] == "Drop" {
        "Accept"
    } else {
        "Drop"
    };
    rule["Policy"] = json!(policy);
    std::fs::write(dir.join("old1000.json"), old.to_string()).unwrap();
    std::fs::write(dir.join("new1000.json"), new.to_string()).unwrap();
    eprintln!("wrote {}", dir.display());
}
