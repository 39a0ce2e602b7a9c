//! Timing of `sgsim apply` on a snapshot whose NIC carries 1000 rules (≈1 MB of JSON), end to
//! end: process start, load, validate, apply, write and rename. Ignored by default (timings
//! depend on the machine); run it with
//!
//! ```sh
//! cargo test --release --test control_perf -- --ignored --nocapture
//! ```

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Two groups (600 + 400 rules, every field as DescribeSecurityGroupAttribute returns it) on one
/// NIC.
fn write_snapshot(path: &Path) {
    let rule = |i: usize| {
        let cidr = format!("10.{}.{}.0/24", i / 256, i % 256);
        let (direction, source, dest) = if i.is_multiple_of(2) {
            ("ingress", cidr.as_str(), "")
        } else {
            ("egress", "", cidr.as_str())
        };
        format!(
            r#"{{"SecurityGroupRuleId": "sgr-{i:05}", "Direction": "{direction}", "Policy": "{policy}",
  "Priority": {priority}, "IpProtocol": "TCP", "PortRange": "{port}/{port}", "SourcePortRange": "",
  "SourceCidrIp": "{source}", "Ipv6SourceCidrIp": "", "SourceGroupId": "", "SourceGroupName": "",
  "SourceGroupOwnerAccount": "", "SourcePrefixListId": "", "SourcePrefixListName": "",
  "DestCidrIp": "{dest}", "Ipv6DestCidrIp": "", "DestGroupId": "", "DestGroupName": "",
  "DestGroupOwnerAccount": "", "DestPrefixListId": "", "DestPrefixListName": "",
  "PortRangeListId": "", "PortRangeListName": "", "NicType": "intranet",
  "Description": "rule {i}", "CreateTime": "2026-03-02T08:14:55Z"}}"#,
            policy = if i.is_multiple_of(3) {
                "Drop"
            } else {
                "Accept"
            },
            priority = i % 100 + 1,
            port = i + 1,
        )
    };
    let group = |id: &str, range: std::ops::Range<usize>| {
        format!(
            r#"{{"SecurityGroupId": "{id}", "SecurityGroupName": "{id}", "VpcId": "vpc-1", "RegionId": "cn-hangzhou",
  "InnerAccessPolicy": "Accept", "SecurityGroupType": "normal", "Description": "",
  "Permissions": {{"Permission": [{}]}}}}"#,
            range.map(rule).collect::<Vec<_>>().join(",\n")
        )
    };
    let text = format!(
        r#"{{"SecurityGroups": [{}, {}],
  "NetworkInterfaces": [{{"NetworkInterfaceId": "eni-big", "InstanceId": "i-big", "VpcId": "vpc-1",
    "PrivateIpAddress": "10.9.0.1", "SecurityGroupIds": {{"SecurityGroupId": ["sg-big", "sg-big2"]}}}}]}}"#,
        group("sg-big", 0..600),
        group("sg-big2", 600..1000)
    );
    fs::write(path, text).unwrap();
}

fn time_runs(snapshot: &Path, original: &[u8], request: &str, runs: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        fs::write(snapshot, original).unwrap();
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_sgsim"))
            .arg("apply")
            .arg(snapshot)
            .arg(request)
            .output()
            .unwrap();
        times.push(start.elapsed());
        assert!(out.status.code().is_some());
    }
    times.sort();
    (times[0], times[runs / 2])
}

#[test]
#[ignore]
fn apply_on_a_nic_with_1000_rules() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("nic1000.json");
    write_snapshot(&snapshot);
    let original = fs::read(&snapshot).unwrap();
    println!("snapshot: {} bytes, 1000 rules on eni-big", original.len());
    for (name, request) in [
        (
            "modify (accepted, written)",
            "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-big&SecurityGroupRuleId=sgr-00000&Priority=7",
        ),
        (
            "revoke (accepted, written)",
            "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-big&SecurityGroupRuleId.1=sgr-00002",
        ),
        (
            "authorize 1001st rule (rejected)",
            "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-big&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=1/1&Permissions.1.SourceCidrIp=10.200.0.0/24",
        ),
    ] {
        let (min, median) = time_runs(&snapshot, &original, request, 30);
        println!("{name:34} min {:6.2} ms   median {:6.2} ms", min.as_secs_f64() * 1e3, median.as_secs_f64() * 1e3);
    }
}
