//! Shared test helpers: the shipped examples, the `sgsim` binary, the control-plane fixture, and
//! every evaluator asked one question ([`evaluators`]).
#![allow(dead_code)]

pub mod evaluators;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file under `examples/`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Runs the `sgsim` binary with `args` and collects its output.
pub fn sgsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sgsim"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the `sgsim` binary with `args`, which must succeed; its stdout.
pub fn sgsim_ok(args: &[&str]) -> String {
    let output = sgsim(args);
    assert!(
        output.status.success(),
        "sgsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the `sgsim` binary with `args`, which must fail with exit code 1; its stderr.
pub fn sgsim_error(args: &[&str]) -> String {
    let output = sgsim(args);
    assert_eq!(output.status.code(), Some(1), "sgsim {args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An audit report's findings without what depends on the NIC audited (its id, its
/// witnesses), to compare one NIC's report with its part of a shared one.
pub fn findings_only(report: &sgsim::analysis::audit::TargetAudit) -> serde_json::Value {
    use serde_json::Value;
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in ["witness", "target", "applies_to", "variants"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => {
                items.iter_mut().for_each(strip);
                // A shared report lists a NIC's findings in another order.
                items.sort_by_key(|item| item.to_string());
            }
            _ => {}
        }
    }
    let mut value = serde_json::to_value(report).unwrap();
    strip(&mut value);
    value
}

use sgsim::input::ecs::write::snapshot_to_value;
use sgsim::{Answer, Simulator, Snapshot};

pub const REGION: &str = "cn-hangzhou";

/// Groups of every kind the checks distinguish: basic VPC groups (`sg-a`, `sg-b`), one in
/// another VPC, an enterprise group, two classic groups; NICs; IPv4/IPv6 prefix lists; a port
/// list.
pub const FIXTURE: &str = r#"{
  "SecurityGroups": [
    {"SecurityGroupId": "sg-a", "VpcId": "vpc-1", "RegionId": "cn-hangzhou", "SecurityGroupName": "a",
     "Permissions": {"Permission": [
       {"SecurityGroupRuleId": "sgr-a-ssh", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8", "NicType": "intranet",
        "Description": "ssh", "CreateTime": "2026-01-01T00:00:00Z"},
       {"SecurityGroupRuleId": "sgr-a-web", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "-1/-1", "PortRangeListId": "prl-1", "SourceCidrIp": "0.0.0.0/0",
        "NicType": "intranet"},
       {"SecurityGroupRuleId": "sgr-a-from-b", "Direction": "ingress", "Policy": "Accept", "Priority": 5,
        "IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": "sg-b", "NicType": "intranet"},
       {"SecurityGroupRuleId": "sgr-a-out", "Direction": "egress", "Policy": "Drop", "Priority": 100,
        "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0", "NicType": "intranet"}
     ]}},
    {"SecurityGroupId": "sg-b", "VpcId": "vpc-1", "RegionId": "cn-hangzhou"},
    {"SecurityGroupId": "sg-far", "VpcId": "vpc-2", "RegionId": "cn-hangzhou"},
    {"SecurityGroupId": "sg-ent", "VpcId": "vpc-1", "RegionId": "cn-hangzhou", "SecurityGroupType": "enterprise",
     "InnerAccessPolicy": "Drop"},
    {"SecurityGroupId": "sg-classic", "RegionId": "cn-hangzhou"},
    {"SecurityGroupId": "sg-classic2", "RegionId": "cn-hangzhou"},
    {"SecurityGroupId": "sg-beijing", "VpcId": "vpc-1", "RegionId": "cn-beijing"}
  ],
  "NetworkInterfaces": [
    {"NetworkInterfaceId": "eni-a", "InstanceId": "i-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.5",
     "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}},
    {"NetworkInterfaceId": "eni-b", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.6",
     "SecurityGroupIds": {"SecurityGroupId": ["sg-b"]}},
    {"NetworkInterfaceId": "eni-ent", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.7",
     "SecurityGroupIds": {"SecurityGroupId": ["sg-ent"]}}
  ],
  "PrefixLists": [
    {"PrefixListId": "pl-v4", "PrefixListName": "office", "AddressFamily": "IPv4", "MaxEntries": 10,
     "Entries": {"Entry": [{"Cidr": "192.0.2.0/24", "Description": "HQ"}]}},
    {"PrefixListId": "pl-v6", "AddressFamily": "IPv6", "MaxEntries": 5,
     "Entries": {"Entry": [{"Cidr": "2001:db8::/32"}]}}
  ],
  "PortRangeLists": [
    {"PortRangeListId": "prl-1", "MaxEntries": 5, "Entries": {"Entry": [{"PortRange": "80/80"}, {"PortRange": "443/443"}]}},
    {"PortRangeListId": "prl-2", "MaxEntries": 3, "Entries": {"Entry": [{"PortRange": "8080/8080"}]}}
  ]
}"#;

pub fn fixture() -> Snapshot {
    Snapshot::from_json_str(FIXTURE).expect("fixture loads")
}

pub fn sim() -> Simulator {
    let mut sim = Simulator::with_seed(fixture(), 42);
    sim.set_clock(Some(1_767_225_600)); // 2026-01-01T00:00:00Z
    sim
}

/// `Action=…&RegionId=cn-hangzhou&SecurityGroupId=…` plus one permission's fields, each
/// prefixed `Permissions.1.`.
pub fn call(action: &str, group: &str, fields: &str) -> String {
    let perm: Vec<String> = fields
        .split('&')
        .filter(|f| !f.is_empty())
        .map(|f| format!("Permissions.1.{f}"))
        .collect();
    format!(
        "Action={action}&RegionId={REGION}&SecurityGroupId={group}&{}",
        perm.join("&")
    )
}

pub fn ingress(group: &str, fields: &str) -> String {
    call("AuthorizeSecurityGroup", group, fields)
}

pub fn egress(group: &str, fields: &str) -> String {
    call("AuthorizeSecurityGroupEgress", group, fields)
}

/// Applies a call that must succeed.
pub fn accepts(sim: &mut Simulator, request: &str) -> Answer {
    let answer = sim.apply_text(request);
    assert!(answer.is_ok(), "{request}: {:?}", answer.error);
    answer
}

/// Applies a call that must be rejected with `code` and `status`, and checks that nothing changed.
pub fn rejects(sim: &mut Simulator, request: &str, code: &str, status: u16) -> Answer {
    let before = snapshot_to_value(sim.snapshot());
    let answer = sim.apply_text(request);
    let error = answer
        .error
        .clone()
        .unwrap_or_else(|| panic!("{request}: accepted, expected {code}"));
    assert_eq!(
        (error.code.as_str(), error.http_status),
        (code, status),
        "{request}: {error}"
    );
    assert_eq!(answer.body["Code"], code);
    assert_eq!(answer.body["HttpStatus"], status);
    assert!(answer.body["RequestId"].is_string());
    assert_eq!(
        snapshot_to_value(sim.snapshot()),
        before,
        "{request}: a rejected call changed the snapshot"
    );
    answer
}

pub fn rules_of<'a>(sim: &'a Simulator, group: &str) -> &'a [sgsim::model::Rule] {
    let snapshot = sim.snapshot();
    &snapshot
        .group(snapshot.group_index(group).expect("group"))
        .rules
}
