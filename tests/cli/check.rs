//! The `sgsim` binary: `check`'s text and JSON output, the two-NIC question, bare groups, file
//! errors, and `eval` from files, stdin and to `--output`. Expected verdicts on the shipped
//! example (`examples/vpc-web.json`) follow from its rules and `shared/spec/semantics.md`.

use serde_json::Value;
use std::io::Write;

use std::process::{Command, Stdio};

use crate::common;

use common::{example, sgsim, sgsim_error};

/// `sgsim check examples/vpc-web.json ARGS…`, which must succeed; its stdout.
fn check(args: &[&str]) -> String {
    let snapshot = example("vpc-web.json");
    let mut all = vec!["check", snapshot.to_str().unwrap()];
    all.extend(args);
    common::sgsim_ok(&all)
}

fn check_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&check(&all)).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

// ---------------------------------------------------------------------------------------------
// check: text

// The README's first example: the NIC's own address fills in --dst, and without --sport the
// answer holds for every source port.
#[test]
fn check_prints_the_verdict_the_deciding_rule_and_the_flow() {
    let out = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "203.0.113.9",
        "--dport",
        "22",
    ]);
    assert_eq!(
        out,
        "DROP   by sg-web/sgr-web-ssh-deny (priority 50, drop tcp 22/22 from 0.0.0.0/0)\n\
         \x20 for every source port (--sport not given)\n\
         \x20 flow: ingress tcp 203.0.113.9:any -> 10.0.1.10:22 on eni-web1\n"
    );
}

#[test]
fn check_summarizes_source_port_ranges_and_explicit_addresses() {
    let out = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "TCP",
        "--src",
        "203.0.113.7",
        "--sport",
        "40000",
        "--dst",
        "10.0.1.11",
        "--dport",
        "22",
    ]);
    assert_eq!(
        out,
        "ACCEPT by sg-ops/sgr-ops-ssh-bastion (priority 1, accept tcp 22/22 sport 1024/65535 from 203.0.113.7/32)\n\
         \x20 flow: ingress tcp 203.0.113.7:40000 -> 10.0.1.11:22 on eni-web1\n"
    );
}

#[test]
fn check_explains_default_platform_and_inner_access_verdicts() {
    let default = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "203.0.113.9",
        "--dport",
        "8443",
    ]);
    assert_eq!(
        default.lines().next().unwrap(),
        "DROP   by default (no rule matched; basic groups drop ingress)"
    );
    let vault = check(&[
        "--nic",
        "eni-vault",
        "--direction",
        "egress",
        "--protocol",
        "udp",
        "--dst",
        "8.8.8.8",
        "--dport",
        "53",
    ]);
    assert_eq!(
        vault,
        "DROP   by default (no rule matched; enterprise groups drop both directions)\n\
         \x20 for every source port (--sport not given)\n\
         \x20 flow: egress udp 10.0.3.10:any -> 8.8.8.8:53 on eni-vault\n"
    );

    let platform = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "egress",
        "--protocol",
        "tcp",
        "--dst",
        "93.184.216.34",
        "--dport",
        "25",
    ]);
    assert_eq!(
        platform,
        "DROP   by platform rule (egress TCP 25 to a public IPv4 address is blocked; --no-platform-rules turns it off)\n\
         \x20 for every source port (--sport not given)\n\
         \x20 flow: egress tcp 10.0.1.10:any -> 93.184.216.34:25 on eni-web1\n"
    );
    let platform_off = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "egress",
        "--protocol",
        "tcp",
        "--dst",
        "93.184.216.34",
        "--dport",
        "25",
        "--no-platform-rules",
    ]);
    assert_eq!(
        platform_off.lines().next().unwrap(),
        "ACCEPT by sg-web/sgr-web-smtp (priority 1, accept tcp 25/25 to 0.0.0.0/0)"
    );

    let inner = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "10.0.1.20",
        "--dport",
        "8443",
    ]);
    assert_eq!(
        inner.lines().next().unwrap(),
        "ACCEPT by inner access (10.0.1.20 is eni-web2, which shares a basic group with InnerAccessPolicy Accept)"
    );
}

// The NIC's own side defaults to its first IPv6 address when the other end is IPv6.
#[test]
fn check_fills_in_the_nics_ipv6_address_for_an_ipv6_peer() {
    let out = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "2001:db8::1",
        "--sport",
        "40000",
        "--dport",
        "443",
    ]);
    assert_eq!(
        out,
        "ACCEPT by sg-web/sgr-web-https6 (priority 10, accept tcp 443/443 from ::/0)\n\
         \x20 flow: ingress tcp [2001:db8::1]:40000 -> [2408:4000:1:100::10]:443 on eni-web1\n"
    );
}

// ---------------------------------------------------------------------------------------------
// check: JSON

#[test]
fn check_json_has_the_verdict_columns_the_flow_and_the_rule() {
    let out = check_json(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "203.0.113.9",
        "--sport",
        "40000",
        "--dport",
        "22",
    ]);
    assert_eq!(
        keys(&out),
        [
            "explanation",
            "flow",
            "reason",
            "rule",
            "rule_id",
            "schema_version",
            "security_group_id",
            "target",
            "verdict"
        ]
    );
    assert_eq!(out["target"], "eni-web1");
    assert_eq!(out["verdict"], "drop");
    assert_eq!(out["reason"], "rule");
    assert_eq!(out["security_group_id"], "sg-web");
    assert_eq!(out["rule_id"], "sgr-web-ssh-deny");
    assert_eq!(
        out["explanation"],
        "sg-web/sgr-web-ssh-deny (priority 50, drop tcp 22/22 from 0.0.0.0/0)"
    );
    assert_eq!(
        out["flow"],
        serde_json::json!({"direction": "ingress", "protocol": "tcp", "protocol_number": 6, "src_ip": "203.0.113.9", "src_port": 40000, "dst_ip": "10.0.1.10", "dst_port": 22})
    );
    assert_eq!(
        out["rule"],
        serde_json::json!({"priority": 50, "policy": "drop", "protocol": "tcp", "protocol_number": 6, "summary": "drop tcp 22/22 from 0.0.0.0/0", "description": "no SSH from anywhere else"})
    );
}

// Without a deciding rule the rule columns are null and there is no `rule` object.
#[test]
fn check_json_without_a_deciding_rule_has_null_rule_columns() {
    let out = check_json(&[
        "--nic",
        "eni-web1",
        "--direction",
        "egress",
        "--protocol",
        "tcp",
        "--dst",
        "93.184.216.34",
        "--dport",
        "25",
    ]);
    assert_eq!(
        keys(&out),
        [
            "explanation",
            "flow",
            "reason",
            "rule_id",
            "schema_version",
            "security_group_id",
            "source_ports",
            "target",
            "verdict"
        ]
    );
    assert_eq!(out["verdict"], "drop");
    assert_eq!(out["reason"], "platform");
    assert!(out["security_group_id"].is_null() && out["rule_id"].is_null());
}

// ---------------------------------------------------------------------------------------------
// check --from/--to (S15)

#[test]
fn check_from_to_reports_both_sides_egress_first() {
    let allowed = check(&[
        "--from",
        "eni-web1",
        "--to",
        "eni-db1",
        "--protocol",
        "tcp",
        "--sport",
        "40000",
        "--dport",
        "5432",
    ]);
    assert_eq!(
        allowed,
        "ACCEPT connection eni-web1 -> eni-db1\n\
         \x20 egress  eni-web1: ACCEPT by sg-web/sgr-web-to-db (priority 1, accept tcp 5432/5432 to sg-db)\n\
         \x20 ingress eni-db1: ACCEPT by sg-db/sgr-db-pg (priority 1, accept tcp 5432/5432 from sg-web)\n\
         \x20 flow: tcp 10.0.1.10:40000 -> 10.0.2.10:5432\n"
    );
    let both_drop = check(&[
        "--from",
        "eni-db1",
        "--to",
        "eni-vault",
        "--protocol",
        "tcp",
        "--dport",
        "8200",
    ]);
    assert_eq!(
        both_drop,
        "DROP   connection eni-db1 -> eni-vault\n\
         \x20 egress  eni-db1: DROP   by sg-db/sgr-db-egress-none (priority 100, drop all to 0.0.0.0/0)\n\
         \x20 ingress eni-vault: DROP   by default (no rule matched; enterprise groups drop both directions)\n\
         \x20 for every source port (--sport not given)\n\
         \x20 flow: tcp 10.0.2.10:any -> 10.0.3.10:8200\n"
    );
}

#[test]
fn check_from_to_json_names_the_blocking_sides_egress_first() {
    let both_drop = check_json(&[
        "--from",
        "eni-db1",
        "--to",
        "eni-vault",
        "--protocol",
        "tcp",
        "--dport",
        "8200",
    ]);
    assert_eq!(
        keys(&both_drop),
        [
            "blocked_by",
            "egress",
            "ingress",
            "schema_version",
            "source_ports",
            "verdict"
        ]
    );
    assert_eq!(both_drop["verdict"], "drop");
    assert_eq!(
        both_drop["blocked_by"],
        serde_json::json!(["egress", "ingress"])
    );
    assert_eq!(both_drop["egress"]["target"], "eni-db1");
    assert_eq!(both_drop["egress"]["rule_id"], "sgr-db-egress-none");
    assert_eq!(both_drop["ingress"]["target"], "eni-vault");
    assert_eq!(both_drop["ingress"]["reason"], "default");

    let ingress_drops = check_json(&[
        "--from",
        "eni-web1",
        "--to",
        "eni-db1",
        "--protocol",
        "tcp",
        "--dport",
        "6379",
    ]);
    assert_eq!(ingress_drops["blocked_by"], serde_json::json!(["ingress"]));
    assert_eq!(ingress_drops["egress"]["verdict"], "accept");
    assert_eq!(ingress_drops["ingress"]["rule_id"], "sgr-db-deny-all");
}

// ---------------------------------------------------------------------------------------------
// check --group on a bare DescribeSecurityGroupAttribute response

const BARE_GROUP: &str = r#"{
  "SecurityGroupId": "sg-bare", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
  "Permissions": {"Permission": [
    {"SecurityGroupRuleId": "sgr-bare-ssh", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
     "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"}
  ]}
}"#;

#[test]
fn check_group_asks_a_bare_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.json");
    std::fs::write(&path, BARE_GROUP).unwrap();
    let path = path.to_str().unwrap();
    let ask = |group: Option<&str>, src: &str| {
        let mut args = vec!["check", path];
        if let Some(group) = group {
            args.extend(["--group", group]);
        }
        args.extend([
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            src,
            "--dst",
            "10.0.0.5",
            "--dport",
            "22",
        ]);
        sgsim(&args)
    };

    let accepted = ask(Some("sg-bare"), "10.1.2.3");
    assert!(accepted.status.success());
    assert_eq!(
        String::from_utf8_lossy(&accepted.stdout),
        "ACCEPT by sg-bare/sgr-bare-ssh (priority 1, accept tcp 22/22 from 10.0.0.0/8)\n\
         \x20 for every source port (--sport not given)\n\
         \x20 flow: ingress tcp 10.1.2.3:any -> 10.0.0.5:22 on sg-bare\n"
    );
    // The only group is asked when none is named.
    let dropped = ask(None, "203.0.113.9");
    assert!(dropped.status.success());
    assert_eq!(
        String::from_utf8_lossy(&dropped.stdout)
            .lines()
            .next()
            .unwrap(),
        "DROP   by default (no rule matched; basic groups drop ingress)"
    );
    let unknown = ask(Some("sg-other"), "10.1.2.3");
    assert_eq!(unknown.status.code(), Some(1));
    // A bare DescribeSecurityGroupAttribute response does not carry the group's type: that is
    // warned about first.
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.starts_with("warning: ")
            && stderr.contains("security group sg-bare: no SecurityGroupType"),
        "{stderr}"
    );
    assert!(
        stderr
            .ends_with("error: no security group \"sg-other\" in the snapshot (it has sg-bare)\n"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors that name their input

#[test]
fn check_names_a_missing_snapshot_file() {
    assert_eq!(
        sgsim_error(&[
            "check",
            "/nonexistent/snapshot.json",
            "--nic",
            "eni-1",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "192.0.2.1",
            "--dst",
            "10.0.0.5",
            "--dport",
            "22",
        ]),
        "error: /nonexistent/snapshot.json: No such file or directory (os error 2)\n"
    );
}

#[test]
fn check_names_the_bad_option_and_an_unknown_nic() {
    assert_eq!(
        sgsim_error(&[
            "check",
            example("vpc-web.json").to_str().unwrap(),
            "--nic",
            "eni-web1",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "192.0.2.1",
            "--dport",
            "http",
        ]),
        "error: --dport: dst_port \"http\": not a port number 0..65535\n"
    );
    let unknown_nic = "error: no network interface \"eni-x\" in the snapshot \
        (it has eni-web1, eni-web2, eni-db1, eni-db2, eni-vault)\n";
    assert_eq!(
        sgsim_error(&[
            "check",
            example("vpc-web.json").to_str().unwrap(),
            "--nic",
            "eni-x",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "192.0.2.1",
            "--dst",
            "10.0.0.5",
            "--dport",
            "22",
        ]),
        unknown_nic
    );
}

#[test]
fn eval_names_a_missing_flows_file() {
    let output = sgsim(&[
        "eval",
        example("vpc-web.json").to_str().unwrap(),
        "/nonexistent/flows.csv",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: /nonexistent/flows.csv: no such file: expected a flows CSV with the header \
         nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\n"
    );
    assert!(output.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// eval: the shipped example, from a file, stdin, and to --output

/// `examples/flows.csv` with each row's expected output columns, worked out from the example's
/// rules: its last two rows are bad (port 99999, unknown NIC).
const EXPECTED_EXAMPLE_OUTPUT: &str = "\
nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port,verdict,reason,security_group_id,rule_id
eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443,accept,rule,sg-web,sgr-web-https
eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,22,drop,rule,sg-web,sgr-web-ssh-deny
eni-web1,ingress,tcp,192.0.2.44,40000,10.0.1.10,22,accept,rule,sg-web,sgr-web-ssh-office
eni-web1,ingress,tcp,203.0.113.7,40000,10.0.1.10,22,accept,rule,sg-ops,sgr-ops-ssh-bastion
eni-web1,ingress,tcp,198.51.100.3,50000,10.0.1.10,9050,accept,rule,sg-web,sgr-web-admin
eni-web1,ingress,tcp,198.51.100.3,50000,10.0.1.11,9050,drop,default,,
eni-web1,ingress,udp,203.0.113.9,5353,10.0.1.10,53,drop,rule,sg-ops,sgr-ops-block-udp
eni-web1,ingress,icmp,10.9.9.9,,10.0.1.10,,accept,rule,sg-web,sgr-web-icmp
eni-web1,ingress,tcp,2001:db8::1,40000,2408:4000:1:100::10,443,accept,rule,sg-web,sgr-web-https6
eni-web1,egress,tcp,10.0.1.10,40000,93.184.216.34,25,drop,platform,,
eni-web1,egress,tcp,10.0.1.10,40000,10.0.2.10,5432,accept,rule,sg-web,sgr-web-to-db
eni-db1,ingress,tcp,10.0.1.10,40000,10.0.2.10,5432,accept,rule,sg-db,sgr-db-pg
eni-db1,ingress,tcp,10.0.2.20,40000,10.0.2.10,5432,drop,rule,sg-db,sgr-db-deny-all
eni-db1,egress,udp,10.0.2.10,40000,8.8.8.8,53,drop,rule,sg-db,sgr-db-egress-none
eni-vault,egress,udp,10.0.3.10,40000,8.8.8.8,53,drop,default,,
eni-vault,ingress,tcp,10.0.1.10,40000,10.0.3.10,8200,accept,rule,sg-vault,sgr-vault-api
eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,99999,error,,,
eni-nope,ingress,tcp,203.0.113.9,40000,10.0.1.10,22,error,,,
";

/// The stderr of a run over `examples/flows.csv` read as `name`.
fn expected_example_stderr(name: &str) -> String {
    format!(
        "{name}:18: dst_port \"99999\": not a port number 0..65535\n\
         {name}:19: nic_id: no network interface \"eni-nope\" in the snapshot (it has eni-web1, eni-web2, eni-db1, eni-db2, eni-vault)\n\
         {name}: 2 of 18 rows could not be evaluated\n"
    )
}

#[test]
fn eval_of_the_shipped_example_gives_the_expected_verdicts() {
    let flows = example("flows.csv");
    let output = sgsim(&[
        "eval",
        example("vpc-web.json").to_str().unwrap(),
        flows.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the example has two bad rows"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        EXPECTED_EXAMPLE_OUTPUT
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        expected_example_stderr(flows.to_str().unwrap())
    );
}

#[test]
fn eval_reads_flows_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sgsim"))
        .args(["eval", example("vpc-web.json").to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let flows = std::fs::read(example("flows.csv")).unwrap();
    child.stdin.take().unwrap().write_all(&flows).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        EXPECTED_EXAMPLE_OUTPUT
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        expected_example_stderr("-")
    );
}

#[test]
fn eval_output_file_holds_what_stdout_mode_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("verdicts.csv");
    let snapshot = example("vpc-web.json");
    let flows = example("flows.csv");
    let to_stdout = sgsim(&["eval", snapshot.to_str().unwrap(), flows.to_str().unwrap()]);
    for fsync in [&[][..], &["--fsync"][..]] {
        std::fs::write(&out_path, "stale content to be replaced\n").unwrap();
        let mut args = vec![
            "eval",
            snapshot.to_str().unwrap(),
            flows.to_str().unwrap(),
            "--output",
            out_path.to_str().unwrap(),
        ];
        args.extend(fsync);
        let to_file = sgsim(&args);

        assert_eq!(to_file.status.code(), to_stdout.status.code(), "{fsync:?}");
        assert!(
            to_file.stdout.is_empty(),
            "with --output nothing goes to stdout"
        );
        assert_eq!(std::fs::read(&out_path).unwrap(), to_stdout.stdout);
        assert_eq!(to_file.stderr, to_stdout.stderr);
        // The atomic replacement leaves no temporary file behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["verdicts.csv"]);
    }
}

#[test]
fn eval_with_one_thread_gives_the_same_output() {
    let snapshot = example("vpc-web.json");
    let flows = example("flows.csv");
    let output = sgsim(&[
        "eval",
        snapshot.to_str().unwrap(),
        flows.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        EXPECTED_EXAMPLE_OUTPUT
    );
}

#[test]
fn eval_keeps_the_output_rectangular_for_rows_with_too_few_or_too_many_fields() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows.csv");
    std::fs::write(
        &flows,
        "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\n\
         eni-web1,ingress,tcp\n\
         eni-web1,ingress,tcp,1.2.3.4,5,10.0.1.10,22,extra\n\
         eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n",
    )
    .unwrap();
    let snapshot = example("vpc-web.json");
    let output = sgsim(&["eval", snapshot.to_str().unwrap(), flows.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let mut reader = csv::ReaderBuilder::new().from_reader(output.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|row| row.len() == 11), "{rows:?}");
    let first: Vec<&str> = rows[0].iter().take(4).collect();
    assert_eq!(first, ["eni-web1", "ingress", "tcp", ""]);
    assert_eq!(&rows[0][7], "error");
    assert_eq!(&rows[1][6], "22");
    assert_eq!(&rows[1][7], "error");
    assert_eq!(&rows[2][7], "accept");
}
