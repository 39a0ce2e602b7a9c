//! Issue 16, "trust": one test (or a few) per numbered finding of the issue's "Why", each a
//! reproduction of what went wrong: lost updates (1), untouched data rewritten (2), modify by id
//! re-checking what was not sent (3), a silent source port (4), errors pointing the wrong way
//! (5), flows readers that disagree (6) and outputs not made for scripts (7).

use crate::common;

use common::{example, sgsim};
use std::fs;
use std::path::{Path, PathBuf};

/// A temp dir holding a copy of `examples/NAME` as `snapshot.json`.
fn workspace(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    fs::copy(example(name), &snapshot).unwrap();
    (dir, snapshot)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn rule_ids(snapshot: &Path) -> Vec<String> {
    let loaded = sgsim::Snapshot::from_json_str(&fs::read_to_string(snapshot).unwrap()).unwrap();
    loaded
        .groups()
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| r.description.clone()))
        .collect()
}

// 1. Lost updates: parallel `sgsim apply` runs on one snapshot, each adding rules one call at a
// time. Every accepted call must be in the final file.
#[test]
fn why1_parallel_applies_lose_no_accepted_call() {
    let (_dir, snapshot) = workspace("vpc-web.json");
    let path = snapshot.to_str().unwrap().to_string();
    const WRITERS: usize = 4;
    const CALLS: usize = 12;
    let handles: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let path = path.clone();
            std::thread::spawn(move || {
                for call in 0..CALLS {
                    let port = 20000 + writer * 100 + call;
                    let request = format!(
                        "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web\
                         &Permissions.1.IpProtocol=tcp&Permissions.1.PortRange={port}/{port}\
                         &Permissions.1.SourceCidrIp=198.51.100.0/24\
                         &Permissions.1.Description=w{writer}c{call}"
                    );
                    let out = sgsim(&["apply", &path, &request]);
                    assert!(out.status.success(), "{}", stderr(&out));
                    assert!(stdout(&out).contains("RequestId"), "{}", stdout(&out));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let descriptions = rule_ids(&snapshot);
    let missing: Vec<String> = (0..WRITERS)
        .flat_map(|w| (0..CALLS).map(move |c| format!("w{w}c{c}")))
        .filter(|d| !descriptions.contains(d))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted calls lost: {missing:?}",
        missing.len(),
        WRITERS * CALLS
    );
}

// 3. Modify by id validates only what the request sends. Stored rules the API would no longer
// accept: legacy priority 110, a prefix list and another account's group the snapshot lacks, an
// enterprise drop rule.
const STORED_ODDITIES: &str = r#"{
  "SecurityGroups": [
    {"SecurityGroupId": "sg-old", "VpcId": "vpc-1", "RegionId": "cn-hangzhou",
     "Permissions": {"Permission": [
       {"SecurityGroupRuleId": "sgr-legacy", "Direction": "ingress", "Policy": "Accept", "Priority": 110,
        "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"},
       {"SecurityGroupRuleId": "sgr-gone-list", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "443/443", "SourcePrefixListId": "pl-deleted"},
       {"SecurityGroupRuleId": "sgr-other-account", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": "sg-elsewhere",
        "SourceGroupOwnerAccount": "1234567890"}
     ]}},
    {"SecurityGroupId": "sg-ent", "VpcId": "vpc-1", "RegionId": "cn-hangzhou", "SecurityGroupType": "enterprise",
     "Permissions": {"Permission": [
       {"SecurityGroupRuleId": "sgr-ent-drop", "Direction": "ingress", "Policy": "Drop", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "23/23", "SourceCidrIp": "0.0.0.0/0"}
     ]}}
  ]
}"#;

fn modify(group: &str, rule: &str, fields: &str) -> String {
    format!(
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId={group}\
         &SecurityGroupRuleId={rule}&{fields}"
    )
}

#[test]
fn why3_modify_by_id_checks_only_the_parameters_sent() {
    let snapshot = sgsim::Snapshot::from_json_str(STORED_ODDITIES).unwrap();
    let mut sim = sgsim::Simulator::with_seed(snapshot, 7);
    for (group, rule) in [
        ("sg-old", "sgr-legacy"),
        ("sg-old", "sgr-gone-list"),
        ("sg-old", "sgr-other-account"),
        ("sg-ent", "sgr-ent-drop"),
    ] {
        common::accepts(&mut sim, &modify(group, rule, "Description=reviewed"));
        let stored = common::rules_of(&sim, group)
            .iter()
            .find(|r| r.id == rule)
            .unwrap()
            .clone();
        assert_eq!(stored.description, "reviewed", "{rule}");
    }
    let legacy = &common::rules_of(&sim, "sg-old")[0];
    assert_eq!(
        legacy.priority, 110,
        "an unsent priority keeps its stored value"
    );
    // What is sent is still checked: 110 may not be set, nor a missing prefix list named.
    common::rejects(
        &mut sim,
        &modify("sg-old", "sgr-legacy", "Priority=110"),
        "InvalidPriority.ValueNotSupported",
        400,
    );
    common::rejects(
        &mut sim,
        &modify("sg-old", "sgr-gone-list", "SourcePrefixListId=pl-also-gone"),
        "InvalidPrefixListId.NotFound",
        404,
    );
    // Sent parameters are checked against the stored rule's kind: a CIDR rule stays a CIDR rule.
    common::rejects(
        &mut sim,
        &modify("sg-old", "sgr-legacy", "SourceGroupId=sg-ent"),
        "InvalidOperation.ModifySgRuleEntityType",
        400,
    );
}

// 5. Errors that point the right way.
#[test]
fn why5_a_mistyped_nic_is_reported_before_a_missing_address() {
    let snapshot = example("vpc-web.json");
    let out = sgsim(&[
        "check",
        snapshot.to_str().unwrap(),
        "--nic",
        "eni-wbe1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--dport",
        "22",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("eni-wbe1"), "{err}");
    assert!(err.contains("eni-web1"), "no suggestion: {err}");
    assert!(!err.contains("is required"), "{err}");
}

#[test]
fn why5_empty_files_directories_and_pasted_queries_get_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    fs::write(&empty, "").unwrap();
    let (_ws, snapshot) = workspace("vpc-web.json");
    let snapshot = snapshot.to_str().unwrap();
    let check_empty = sgsim(&[
        "check",
        empty.to_str().unwrap(),
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "203.0.113.7",
        "--dport",
        "22",
    ]);
    let err = stderr(&check_empty);
    assert!(err.contains("empty.json: the file is empty"), "{err}");
    assert!(err.contains("expected a snapshot JSON object"), "{err}");
    assert!(!err.contains("EOF while parsing"), "{err}");

    // apply's REQUEST: an empty file, a directory, a query string without Action=.
    let request_dir = dir.path().join("requests");
    fs::create_dir(&request_dir).unwrap();
    let cases = [
        (empty.to_str().unwrap().to_string(), "the file is empty"),
        (request_dir.to_str().unwrap().to_string(), "is a directory"),
        (
            "RegionId=cn-hangzhou&SecurityGroupId=sg-web&InnerAccessPolicy=Drop".to_string(),
            "lacks Action=",
        ),
    ];
    for (request, says) in &cases {
        let out = sgsim(&["apply", snapshot, request]);
        assert_eq!(out.status.code(), Some(1), "{request}");
        let err = stderr(&out);
        assert!(err.contains(says), "{request}: {err}");
        assert!(err.contains("expected a file holding an API call"), "{err}");
        assert!(!err.contains("os error"), "{request}: {err}");
    }
    // eval's flows: a directory, an empty file.
    for (flows, says) in [
        (
            request_dir.to_str().unwrap(),
            "is a directory: expected a flows CSV",
        ),
        (
            empty.to_str().unwrap(),
            "the file is empty: expected the header",
        ),
    ] {
        let out = sgsim(&["eval", snapshot, flows]);
        assert_eq!(out.status.code(), Some(1), "{flows}");
        assert!(stderr(&out).contains(says), "{flows}: {}", stderr(&out));
    }
    // A query string given where the snapshot goes.
    let out = sgsim(&[
        "apply",
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-web&InnerAccessPolicy=Drop",
        snapshot,
    ]);
    let err = stderr(&out);
    assert!(
        err.contains("looks like an API call's query string"),
        "{err}"
    );
    assert!(err.contains("the snapshot file comes first"), "{err}");
}

// 4. No silent source port: without --sport, `check` answers for every source port.
fn check_ssh(src: &str, extra: &[&str]) -> std::process::Output {
    let snapshot = example("vpc-web.json");
    let mut args = vec![
        "check",
        snapshot.to_str().unwrap(),
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        src,
        "--dport",
        "22",
    ];
    args.extend_from_slice(extra);
    sgsim(&args)
}

#[test]
fn why4_an_omitted_source_port_is_answered_for_every_port() {
    // The bastion rule accepts source ports 1024-65535 from 203.0.113.7; below, the deny rule.
    let out = check_ssh("203.0.113.7", &[]);
    let text = stdout(&out);
    assert!(
        text.starts_with("DEPENDS on the source port (--sport not given):\n"),
        "{text}"
    );
    assert!(
        text.contains("  0-1023       DROP   by sg-web/sgr-web-ssh-deny"),
        "{text}"
    );
    assert!(
        text.contains("  1024-65535   ACCEPT by sg-ops/sgr-ops-ssh-bastion"),
        "{text}"
    );
    assert!(text.contains("203.0.113.7:any -> 10.0.1.10:22"), "{text}");

    let json: serde_json::Value =
        serde_json::from_slice(&check_ssh("203.0.113.7", &["--json"]).stdout).unwrap();
    assert_eq!(json["verdict"], "depends");
    assert_eq!(json["flow"]["src_port"], serde_json::Value::Null);
    let ranges: Vec<(u64, u64, &str, &str)> = json["source_ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["from"].as_u64().unwrap(),
                r["to"].as_u64().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["rule_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranges,
        [
            (0, 1023, "drop", "sgr-web-ssh-deny"),
            (1024, 65535, "accept", "sgr-ops-ssh-bastion")
        ]
    );

    // Any other source: one verdict, said to hold for every port.
    let text = stdout(&check_ssh("203.0.113.9", &[]));
    assert!(
        text.starts_with("DROP   by sg-web/sgr-web-ssh-deny"),
        "{text}"
    );
    assert!(
        text.contains("  for every source port (--sport not given)\n"),
        "{text}"
    );
    // A given --sport is answered as before, for that port only.
    let text = stdout(&check_ssh("203.0.113.7", &["--sport", "40000"]));
    assert!(
        text.starts_with("ACCEPT by sg-ops/sgr-ops-ssh-bastion"),
        "{text}"
    );
    assert!(!text.contains("every source port"), "{text}");
}

// 6. One flows reader: eval, bench, diff --flows and apply --flows read the same records.
const QUOTED_HEADER: &str =
    "\"nic_id\",\"direction\",\"protocol\",\"src_ip\",\"src_port\",\"dst_ip\",\"dst_port\"\n";

/// Header, a good row, a row whose quoted NIC id holds a line end (lines 3-4), a good row.
fn flows_with_a_multiline_field(header: &str) -> String {
    format!(
        "{header}eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n\
         \"eni-\nweb1\",ingress,tcp,203.0.113.9,40000,10.0.1.10,22\n\
         \"eni-web1\",ingress,\"tcp\",203.0.113.9,40000,10.0.1.10,22\n"
    )
}

#[test]
fn why6_a_bad_header_stops_diff_instead_of_finding_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("f.csv");
    fs::write(
        &flows,
        "a,b,c,d,e,f,g\neni-web1,ingress,tcp,1.2.3.4,1,10.0.1.10,22\n",
    )
    .unwrap();
    let old = example("vpc-web.json");
    let new = example("vpc-web-changed.json");
    let out = sgsim(&[
        "diff",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
        "--flows",
        flows.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("f.csv:1: header \"a,b,c,d,e,f,g\": expected exactly"),
        "{err}"
    );
}

#[test]
fn why6_quoted_fields_and_headers_read_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows.csv");
    fs::write(&flows, flows_with_a_multiline_field(QUOTED_HEADER)).unwrap();
    let snapshot = example("vpc-web.json");
    let (snapshot, flows_path) = (snapshot.to_str().unwrap(), flows.to_str().unwrap());

    // eval: three records, the middle one bad and reported at the line it starts on.
    let out = sgsim(&["eval", snapshot, flows_path]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("flows.csv:3: nic_id: no network interface"),
        "{err}"
    );
    assert!(err.contains("1 of 3 rows could not be evaluated"), "{err}");
    let output = out.stdout;
    assert_eq!(
        sgsim::input::flows::record_ends(&output).len(),
        4,
        "header + 3 rows"
    );
    let text = String::from_utf8(output).unwrap();
    assert!(
        text.ends_with(
            "\"eni-web1\",ingress,\"tcp\",203.0.113.9,40000,10.0.1.10,22,drop,rule,sg-web,sgr-web-ssh-deny\n"
        ),
        "{text}"
    );

    // The library reader (bench, diff, apply): the same records and the same line numbers.
    let rows: Vec<Result<u64, u64>> =
        sgsim::input::flows::FlowsReader::new(fs::read(&flows).unwrap().as_slice())
            .unwrap()
            .map(|row| match row.unwrap() {
                Ok(row) => Ok(row.line),
                Err(err) => Err(err.line),
            })
            .collect();
    assert_eq!(rows, [Ok(2), Ok(3), Ok(5)]);
    let loaded = sgsim::Snapshot::from_json_str(&fs::read_to_string(snapshot).unwrap()).unwrap();
    let err = sgsim::bench::read_flows_csv(&loaded, fs::read(&flows).unwrap().as_slice(), "f.csv")
        .unwrap_err();
    assert!(
        err.starts_with("f.csv:3: nic_id: no network interface"),
        "{err}"
    );

    // bench, diff and apply --flows accept the quoted header.
    let good = dir.path().join("good.csv");
    fs::write(
        &good,
        format!("{QUOTED_HEADER}\"eni-web1\",ingress,tcp,203.0.113.9,40000,10.0.1.10,22\n"),
    )
    .unwrap();
    let good = good.to_str().unwrap();
    let bench = sgsim(&[
        "bench",
        snapshot,
        good,
        "--threads",
        "1",
        "--min-time",
        "0",
        "--json",
    ]);
    assert!(bench.status.success(), "{}", stderr(&bench));
    let diff = sgsim(&["diff", snapshot, snapshot, "--flows", good]);
    assert!(diff.status.success(), "{}", stderr(&diff));
    let apply = sgsim(&[
        "apply",
        snapshot,
        "--dry-run",
        "--flows",
        good,
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-web&InnerAccessPolicy=Drop",
    ]);
    assert!(apply.status.success(), "{}", stderr(&apply));
    let report: serde_json::Value =
        serde_json::from_str(stdout(&apply).lines().nth(1).unwrap()).unwrap();
    assert_eq!(report["FlowsChecked"], 1);
    assert_eq!(report["FlowErrors"], 0);
}

// 7. Outputs made for scripts: --detailed-exitcode, schema_version, ports as numbers and
// protocols by name and number (the schemas: tests/json_schemas.rs).
#[test]
fn why7_detailed_exit_codes_tell_accept_from_drop_and_change_from_none() {
    let code = |out: std::process::Output| out.status.code();
    // check: 0 accepted, 2 dropped; without the flag, 0 either way.
    let accepted = check_ssh("203.0.113.7", &["--sport", "40000", "--detailed-exitcode"]);
    assert_eq!(code(accepted), Some(0));
    assert_eq!(
        code(check_ssh("203.0.113.9", &["--detailed-exitcode"])),
        Some(2)
    );
    assert_eq!(code(check_ssh("203.0.113.9", &[])), Some(0));
    // Accepted for some source ports only is not accepted.
    assert_eq!(
        code(check_ssh("203.0.113.7", &["--detailed-exitcode"])),
        Some(2)
    );

    // diff: 0 no change, 2 changes.
    let (old, new) = (example("vpc-web.json"), example("vpc-web-changed.json"));
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    assert_eq!(
        code(sgsim(&["diff", old, old, "--detailed-exitcode"])),
        Some(0)
    );
    assert_eq!(
        code(sgsim(&["diff", old, new, "--detailed-exitcode"])),
        Some(2)
    );
    assert_eq!(code(sgsim(&["diff", old, new])), Some(0));

    // audit: 2 when a finding is at or above --fail-on. The example exposes SSH (an error).
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", old, "--detailed-exitcode"];
        args.extend_from_slice(extra);
        code(sgsim(&args))
    };
    assert_eq!(audit(&[]), Some(2));
    assert_eq!(audit(&["--fail-on", "error"]), Some(2));
    let quiet = tempfile::tempdir().unwrap();
    let clean = quiet.path().join("clean.json");
    fs::write(
        &clean,
        r#"{"SecurityGroups": [{"SecurityGroupId": "sg-1", "VpcId": "vpc-1", "Permissions": {"Permission": [
            {"SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
             "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "10.0.0.0/8"}]}}],
           "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.5",
             "SecurityGroupIds": {"SecurityGroupId": ["sg-1"]}}]}"#,
    )
    .unwrap();
    let clean = clean.to_str().unwrap();
    assert_eq!(
        code(sgsim(&["audit", clean, "--detailed-exitcode"])),
        Some(0),
        "{}",
        stdout(&sgsim(&["audit", clean]))
    );
}

// 2. Untouched data is written back as it was read.

/// The lines that differ between two texts: the old and new middles after the common first
/// and last lines.
fn changed_lines<'a>(old: &'a str, new: &'a str) -> (Vec<&'a str>, Vec<&'a str>) {
    let (old, new): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (
        old[prefix..old.len() - suffix].to_vec(),
        new[prefix..new.len() - suffix].to_vec(),
    )
}

#[test]
fn why2_revoking_one_rule_changes_only_that_rules_lines() {
    let (_dir, snapshot) = workspace("vpc-web.json");
    let original = fs::read_to_string(&snapshot).unwrap();
    let out = sgsim(&[
        "apply",
        snapshot.to_str().unwrap(),
        "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web&SecurityGroupRuleId.1=sgr-web-admin",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = fs::read_to_string(&snapshot).unwrap();
    let (removed, added) = changed_lines(&original, &written);
    assert!(added.is_empty(), "lines added: {added:#?}");
    assert!(
        removed.iter().any(|l| l.contains("\"sgr-web-admin\"")),
        "{removed:#?}"
    );
    // The rule's object (one line per field, 26 fields) and its separator, nothing else.
    assert!(
        removed.len() <= 29,
        "{} lines removed: {removed:#?}",
        removed.len()
    );
    assert!(
        !removed
            .iter()
            .any(|l| l.contains("SecurityGroupRuleId") && !l.contains("sgr-web-admin")),
        "{removed:#?}"
    );
}

#[test]
fn why2_a_change_to_one_group_leaves_the_others_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("s.json");
    // Bare addresses, a CIDR with host bits, keys in no particular order, a priority as text.
    let original = r#"{
  "NetworkInterfaces": [],
  "SecurityGroups": [
    {"SecurityGroupId": "sg-a", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
     "Permissions": {"Permission": [
       {"SourceCidrIp": "119.110.100.86", "Policy": "Accept", "IpProtocol": "tcp", "PortRange": "22/22",
        "Direction": "ingress", "Priority": "5", "SecurityGroupRuleId": "sgr-a1"}
     ]}},
    {"SecurityGroupId": "sg-b", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
     "Permissions": {"Permission": [
       {"SecurityGroupRuleId": "sgr-b1", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "10.0.0.5/8"}
     ]}}
  ]
}
"#;
    fs::write(&snapshot, original).unwrap();
    let out = sgsim(&[
        "apply",
        snapshot.to_str().unwrap(),
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-b&InnerAccessPolicy=Drop",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = fs::read_to_string(&snapshot).unwrap();
    assert_eq!(
        written,
        original.replace(
            r#""sg-b", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept""#,
            r#""sg-b", "VpcId": "vpc-1", "InnerAccessPolicy": "Drop""#
        )
    );
    // A changed rule is written in the API's shape only where it changed.
    let out = sgsim(&[
        "apply",
        snapshot.to_str().unwrap(),
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId=sgr-a1&Description=office",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = fs::read_to_string(&snapshot).unwrap();
    let (removed, added) = changed_lines(&written, &again);
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert_eq!(added.len(), 2, "{added:#?}");
    assert!(
        added.concat().contains("\"Description\": \"office\""),
        "{added:#?}"
    );
    assert!(again.contains(r#""SourceCidrIp": "119.110.100.86""#));
    assert!(again.contains(r#""Priority": "5""#));
    assert!(again.contains(r#""SourceCidrIp": "10.0.0.5/8""#));
}

/// Every kind of call: the patched text loads back into exactly the simulator's new snapshot.
#[test]
fn why2_patched_text_loads_as_the_new_snapshot_for_every_action() {
    use sgsim::input::ecs::{preserve::patch_snapshot_text, snapshot_to_value};
    let original = fs::read_to_string(example("vpc-web.json")).unwrap();
    let before = sgsim::Snapshot::from_json_str(&original).unwrap();
    let calls = [
        "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=8443/8443&Permissions.1.SourceCidrIp=10.0.0.5&Permissions.2.IpProtocol=udp&Permissions.2.PortRange=53/53&Permissions.2.SourceCidrIp=10.0.0.0/8",
        "Action=AuthorizeSecurityGroupEgress&RegionId=cn-hangzhou&SecurityGroupId=sg-db&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=443/443&Permissions.1.DestCidrIp=0.0.0.0/0&Permissions.1.Priority=1",
        "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web&SecurityGroupRuleId.1=sgr-web-https&SecurityGroupRuleId.2=sgr-web-icmp",
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-web&SecurityGroupRuleId=sgr-web-ssh-office&PortRange=2222/2222",
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-web&InnerAccessPolicy=Drop",
        "Action=CreateSecurityGroup&RegionId=cn-hangzhou&VpcId=vpc-1&ClientToken=token-1",
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-web1&SecurityGroupId.1=sg-web",
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-vault",
    ];
    let mut accepted = 0;
    for call in calls {
        let mut sim = sgsim::Simulator::with_seed(before.clone(), 3);
        let answer = sim.apply_text(call);
        if answer.error.is_some() {
            // Only the calls this snapshot accepts say anything here; they are counted below.
            continue;
        }
        accepted += 1;
        let text = patch_snapshot_text(&original, &before, sim.snapshot())
            .unwrap_or_else(|| panic!("{call}: not patched"));
        let loaded = sgsim::Snapshot::from_json_str(&text).unwrap();
        assert_eq!(
            snapshot_to_value(&loaded),
            snapshot_to_value(sim.snapshot()),
            "{call}"
        );
    }
    assert!(
        accepted >= 7,
        "only {accepted} of {} calls accepted",
        calls.len()
    );
}
