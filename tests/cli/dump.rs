//! The account-dump reader (`sgsim::input::ecs::dump`): real API response shapes load, pages and
//! sources join, conflicts and gaps are reported, and a world split into API-shaped files gives
//! the same verdict, rule for rule, as the same world in one snapshot.

use crate::common;

use common::{example, sgsim};
use serde_json::{json, Value};
use sgsim::input::ecs::dump::{assemble, assemble_documents, Document, MissingKind, Shape};
use sgsim::model::{Action, Flow, GroupKind, Reason, Target};
use sgsim::{Engine, Snapshot};
use std::path::{Path, PathBuf};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/alibaba-api")
}

fn sample(name: &str) -> String {
    let path = sample_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn doc(name: &str, text: impl Into<String>) -> Document {
    Document {
        name: name.to_string(),
        text: text.into(),
    }
}

fn load(docs: Vec<Document>) -> (Snapshot, sgsim::input::ecs::dump::AssemblyReport) {
    assemble_documents(docs).unwrap_or_else(|err| panic!("{err}"))
}

fn load_error(docs: Vec<Document>) -> String {
    match assemble_documents(docs) {
        Ok(_) => panic!("loaded, expected an error"),
        Err(err) => err.to_string(),
    }
}

fn missing_kinds(report: &sgsim::input::ecs::dump::AssemblyReport) -> Vec<(MissingKind, String)> {
    report
        .missing
        .iter()
        .map(|m| (m.kind, m.id.clone()))
        .collect()
}

fn flow(direction: &str, protocol: &str, src: &str, dst: &str, dport: &str) -> Flow {
    let sport = if dport.is_empty() { "" } else { "40000" };
    Flow::parse(direction, protocol, src, sport, dst, dport).unwrap()
}

// ---- Each shape, from the real samples ----

#[test]
fn describe_security_groups_samples_load_with_their_types_and_vpcs() {
    let (snapshot, report) = load(vec![doc(
        "DescribeSecurityGroups.footmark-test-get_security_status.json",
        sample("DescribeSecurityGroups.footmark-test-get_security_status.json"),
    )]);
    assert_eq!(report.documents[0].1, Shape::DescribeSecurityGroups);
    let ids: Vec<&str> = snapshot.groups().iter().map(|g| g.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "sg-2zegbxmrjvoz4ypz3kku",
            "sg-2zeaikpg8zhl7j5rrfnt",
            "sg-2ze80xuiw0b85tzbv7x9",
            "sg-25y6ag32b"
        ]
    );
    assert_eq!(snapshot.groups()[2].vpc_id, "vpc-2zegy4zyl0nv0w5i1ay6j");
    assert!(snapshot.groups()[0].is_classic());
    assert_eq!(snapshot.groups()[0].region_id, "cn-beijing");
    // Listed groups without an attribute response have unknown rules; this old answer has no
    // SecurityGroupType either: both are reported, per group.
    let kinds = missing_kinds(&report);
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert!(kinds.contains(&(MissingKind::GroupRules, "sg-25y6ag32b".to_string())));
    assert!(kinds.contains(&(MissingKind::GroupType, "sg-25y6ag32b".to_string())));

    for name in [
        "DescribeSecurityGroups.alibabacloud-docs-en-current.json",
        "DescribeSecurityGroups.alibabaclouddocs-ecs-en-2020.json",
        "DescribeSecurityGroups.footmark-test-delete_security_group.json",
        "DescribeSecurityGroups.cloudsploit-spec-item.json",
    ] {
        let (snapshot, report) = load(vec![doc(name, sample(name))]);
        assert_eq!(snapshot.groups().len(), 1, "{name}");
        assert!(
            report
                .missing
                .iter()
                .any(|m| m.kind == MissingKind::GroupRules),
            "{name}"
        );
    }
    let (_, report) = load(vec![doc(
        "item.json",
        sample("DescribeSecurityGroups.cloudsploit-spec-item.json"),
    )]);
    assert_eq!(report.documents[0].1, Shape::DescribeSecurityGroupsItem);
}

#[test]
fn describe_security_group_attribute_samples_load_and_lack_only_their_type() {
    for name in [
        "DescribeSecurityGroupAttribute.alibabaclouddocs-ecs-en-2020.json",
        "DescribeSecurityGroupAttribute.alibabaclouddocs-ecs-zh-2021.json",
        "DescribeSecurityGroupAttribute.cloudsploit-spec.json",
    ] {
        let (snapshot, report) = load(vec![doc(name, sample(name))]);
        assert_eq!(report.documents[0].1, Shape::DescribeSecurityGroupAttribute);
        assert_eq!(snapshot.groups().len(), 1);
        assert!(!snapshot.groups()[0].rules.is_empty(), "{name}");
        assert_eq!(
            missing_kinds(&report),
            [(MissingKind::GroupType, snapshot.groups()[0].id.clone())],
            "{name}"
        );
        // The response's call keys are not kept as the group's own.
        assert!(!snapshot.groups()[0].extra.contains_key("RequestId"));
    }
}

#[test]
fn masked_documentation_samples_are_refused_naming_file_path_and_placeholder() {
    let cases = [
        (
            "DescribeNetworkInterfaces.alibabacloud-docs-en-current.json",
            "NetworkInterfaceSets.NetworkInterfaceSet[0].PrivateIpAddress: \"172.17.**.**\": not an IPv4 address (it looks like a documentation placeholder with masked digits)",
        ),
        (
            "DescribeInstances.alibabaclouddocs-ecs-en-2021.json",
            "Instances.Instance[0].NetworkInterfaces.NetworkInterface[0].PrimaryIpAddress: \"172.17.**.***\": not an IPv4 address (it looks like a documentation placeholder with masked digits)",
        ),
        (
            "DescribeInstances.alibabaclouddocs-ecs-zh-2018.json",
            "Instances.Instance[0].InnerIpAddress.IpAddress[0]: \"10.170.XX.XXX\": not an IPv4 address (it looks like a documentation placeholder with masked digits)",
        ),
        (
            "DescribeSecurityGroupAttribute.alibabacloud-docs-en-current.json",
            "Permissions.Permission[0].Ipv6SourceCidrIp: \"2001:db8:1234:1a00::***\": not an IPv6 address or CIDR block (it looks like a documentation placeholder with masked digits)",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(
            load_error(vec![doc(name, sample(name))]),
            format!("{name}: {expected}")
        );
    }
}

/// The sample with its masked digits filled in: same shape, loadable values.
fn unmasked(name: &str, fills: &[(&str, &str)]) -> String {
    let mut text = sample(name);
    for (masked, value) in fills {
        assert!(text.contains(masked), "{name} has no {masked}");
        text = text.replace(masked, value);
    }
    text
}

#[test]
fn describe_network_interfaces_samples_load_secondary_enis_and_ipv6() {
    let text = unmasked(
        "DescribeNetworkInterfaces.alibabacloud-docs-en-current.json",
        &[
            ("172.17.**.**", "172.17.3.4"),
            (
                "2408:4321:180:1701:94c7:bc38:3bfa:****",
                "2408:4321:180:1701:94c7:bc38:3bfa:1",
            ),
        ],
    );
    let group = json!({"SecurityGroupId": "sg-bp18kz60mefsicfg****", "SecurityGroupType": "normal",
                       "VpcId": "vpc-bp1j7w3gc1cexjqd****", "Permissions": {"Permission": []}});
    let (snapshot, report) = load(vec![
        doc("DescribeNetworkInterfaces.json", text),
        doc("DescribeSecurityGroupAttribute.json", group.to_string()),
    ]);
    let nic = &snapshot.nics()[0];
    assert_eq!(nic.id, "eni-bp125p95hhdhn3ot****");
    assert_eq!(nic.instance_id, "i-bp1e2l6djkndyuli****");
    let addresses: Vec<String> = nic.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        addresses,
        ["172.17.3.4", "2408:4321:180:1701:94c7:bc38:3bfa:1"]
    );
    assert_eq!(nic.extra["Type"], "Secondary");
    // The sample's NextToken says another page exists.
    assert_eq!(
        missing_kinds(&report),
        [(
            MissingKind::NextPage,
            "DescribeNetworkInterfaces".to_string()
        )]
    );
}

#[test]
fn describe_instances_samples_give_vpc_and_classic_nics() {
    // Classic: no ENIs, the instance is the NIC, its address from InnerIpAddress.
    let (snapshot, report) = load(vec![doc(
        "DescribeInstances.footmark-test.json",
        sample("DescribeInstances.footmark-test.json"),
    )]);
    assert_eq!(report.documents[0].1, Shape::DescribeInstances);
    // Its group is not in this one file: the NIC has nothing else and is left out, reported.
    assert!(snapshot.nics().is_empty());
    assert_eq!(
        missing_kinds(&report),
        [(MissingKind::Group, "sg-94kd0cyg0".to_string())]
    );
    let group = json!({"SecurityGroupId": "sg-94kd0cyg0", "SecurityGroupType": "normal",
        "Permissions": {"Permission": [{"Direction": "ingress", "Policy": "Accept", "IpProtocol": "TCP",
            "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "NicType": "intranet"}]}});
    let (snapshot, report) = load(vec![
        doc(
            "DescribeInstances.footmark-test.json",
            sample("DescribeInstances.footmark-test.json"),
        ),
        doc("sg.json", group.to_string()),
    ]);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    let engine = Engine::new(snapshot);
    let nic = engine.target("i-94dehop6n").unwrap();
    let ssh = flow("ingress", "tcp", "203.0.113.9", "10.170.106.80", "22");
    assert_eq!(engine.check(nic, &ssh).action, Action::Accept);

    // VPC: the primary ENI from NetworkInterfaces, with the instance's groups.
    let text = unmasked(
        "DescribeInstances.alibabaclouddocs-ecs-en-2021.json",
        &[
            ("172.17.**.***", "172.17.5.6"),
            ("172.17.**.**", "172.17.5.6"),
        ],
    );
    let group = json!({"SecurityGroupId": "sg-bp67acfmxazb4p****", "SecurityGroupType": "enterprise",
                       "VpcId": "vpc-2zeuphj08tt7q3brd****", "Permissions": {"Permission": []}});
    let (snapshot, _) = load(vec![
        doc("DescribeInstances.json", text),
        doc("sg.json", group.to_string()),
    ]);
    let nic = &snapshot.nics()[0];
    assert_eq!(nic.id, "eni-2zeh9atclduxvf1z****");
    assert_eq!(nic.vpc_id, "vpc-2zeuphj08tt7q3brd****");
    assert_eq!(
        nic.addresses,
        ["172.17.5.6".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(snapshot.group(nic.groups[0]).id, "sg-bp67acfmxazb4p****");
}

#[test]
fn prefix_and_port_range_list_samples_load_from_their_two_calls() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "DescribePrefixLists.alibabacloud-docs-en-current.json",
        "DescribePrefixListAttributes.alibabacloud-docs-en-current.json",
        "DescribePortRangeLists.alibabacloud-docs-en-current.json",
    ] {
        std::fs::write(dir.path().join(name), sample(name)).unwrap();
    }
    // DescribePortRangeListEntries does not carry the list id: the file is named after it.
    std::fs::write(
        dir.path()
            .join("DescribePortRangeListEntries.prl-2ze9743****.json"),
        sample("DescribePortRangeListEntries.aliyun-docs-zh-current.json"),
    )
    .unwrap();
    let (snapshot, report) = assemble(&[dir.path()]).unwrap();
    let list = snapshot.prefix_list("pl-x1j1k5ykzqlixdcy****").unwrap();
    assert_eq!(list.cidrs, ["192.168.1.0/24".parse().unwrap()]);
    assert_eq!(list.max_entries, 10);
    let ports = snapshot.port_list("prl-2ze9743****").unwrap();
    assert_eq!(ports.ranges.len(), 1);
    assert_eq!((ports.ranges[0].lo, ports.ranges[0].hi), (80, 80));
    assert_eq!(ports.max_entries, 20);
    assert_eq!(ports.name, "PortRangeListNameSample");
    // Both list calls' samples carry a NextToken.
    assert_eq!(
        missing_kinds(&report),
        [
            (MissingKind::NextPage, "DescribePortRangeLists".to_string()),
            (MissingKind::NextPage, "DescribePrefixLists".to_string()),
        ]
    );

    let unnamed = "DescribePortRangeListEntries.aliyun-docs-zh-current.json";
    assert_eq!(
        load_error(vec![doc(unnamed, sample(unnamed))]),
        format!(
            "{unnamed}: a DescribePortRangeListEntries response does not say which list it \
             describes: put the list's id in the file name (DescribePortRangeListEntries.prl-….json)"
        )
    );
}

#[test]
fn sdk_variants_load_strings_for_numbers_and_null_lists() {
    // Go-SDK style: every field present, Priority a string, null lists.
    let nics = json!({"NetworkInterfaceSets": {"NetworkInterfaceSet": [{
        "NetworkInterfaceId": "eni-1", "InstanceId": "i-1", "VpcId": "vpc-1", "Type": "Primary",
        "PrivateIpAddress": "10.0.0.5", "PrivateIpSets": {"PrivateIpSet": null},
        "Ipv6Sets": {"Ipv6Set": null}, "Tags": {"Tag": null},
        "SecurityGroupIds": {"SecurityGroupId": ["sg-1"]}}]}, "PageNumber": "1", "TotalCount": "1"});
    let group = json!({"SecurityGroupId": "sg-1", "SecurityGroupType": "normal", "VpcId": "vpc-1",
        "Permissions": {"Permission": [{"SecurityGroupRuleId": "sgr-1", "Direction": "ingress",
            "Policy": "Accept", "Priority": "1", "IpProtocol": "TCP", "PortRange": "22/22",
            "SourceCidrIp": "0.0.0.0/0", "DestGroupOwnerAccount": "", "SourceGroupOwnerAccount": 123}]}});
    let instances = json!({"Instances": {"Instance": [{"InstanceId": "i-1",
        "SecurityGroupIds": {"SecurityGroupId": ["sg-1"]},
        "VpcAttributes": {"VpcId": "vpc-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.5"]}},
        "InnerIpAddress": {"IpAddress": null},
        "NetworkInterfaces": {"NetworkInterface": [{"NetworkInterfaceId": "eni-1", "Type": "Primary",
            "PrimaryIpAddress": "10.0.0.5", "SecurityGroupIds": {"SecurityGroupId": null},
            "Ipv6Sets": {"Ipv6Set": null}, "PrivateIpSets": {"PrivateIpSet": null}}]}}]},
        "PageNumber": "1"});
    let (snapshot, report) = load(vec![
        doc("nics.json", nics.to_string()),
        doc("sg.json", group.to_string()),
        doc("instances.json", instances.to_string()),
    ]);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert_eq!(snapshot.nics().len(), 1);
    assert_eq!(report.nics_from_instances, 0);
}

// ---- Joins ----

/// A DescribeSecurityGroupAttribute response of `sg-adv` (the API's answer has no type).
fn advanced_group_attribute() -> Value {
    json!({"RequestId": "r1", "SecurityGroupId": "sg-adv", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
        "Permissions": {"Permission": [{"SecurityGroupRuleId": "sgr-adv-https", "Direction": "ingress",
            "Policy": "Accept", "Priority": 1, "IpProtocol": "TCP", "PortRange": "443/443",
            "SourceCidrIp": "0.0.0.0/0", "NicType": "intranet"}]}})
}

fn two_nics_in(group: &str) -> Value {
    json!({"RequestId": "r2", "NetworkInterfaceSets": {"NetworkInterfaceSet": [
        {"NetworkInterfaceId": "eni-a", "InstanceId": "i-a", "VpcId": "vpc-1", "Type": "Primary",
         "PrivateIpAddress": "10.0.0.5", "SecurityGroupIds": {"SecurityGroupId": [group]}},
        {"NetworkInterfaceId": "eni-b", "InstanceId": "i-b", "VpcId": "vpc-1", "Type": "Primary",
         "PrivateIpAddress": "10.0.0.6", "SecurityGroupIds": {"SecurityGroupId": [group]}}]}})
}

#[test]
fn a_group_typed_only_by_describe_security_groups_is_simulated_as_advanced() {
    let listing = json!({"RequestId": "r3", "SecurityGroups": {"SecurityGroup": [
        {"SecurityGroupId": "sg-adv", "SecurityGroupType": "enterprise", "VpcId": "vpc-1"}]}});
    let (with_listing, report) = load(vec![
        doc("attribute.json", advanced_group_attribute().to_string()),
        doc("groups.json", listing.to_string()),
        doc("nics.json", two_nics_in("sg-adv").to_string()),
    ]);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert_eq!(with_listing.groups()[0].kind, GroupKind::Enterprise);
    let (alone, report) = load(vec![
        doc("attribute.json", advanced_group_attribute().to_string()),
        doc("nics.json", two_nics_in("sg-adv").to_string()),
    ]);
    assert_eq!(alone.groups()[0].kind, GroupKind::Normal);
    assert_eq!(
        missing_kinds(&report),
        [(MissingKind::GroupType, "sg-adv".to_string())]
    );

    // Between two NICs of one group: inner access in a basic group, none in an advanced one;
    // and an advanced group drops egress that no rule allows.
    let peer = flow("ingress", "tcp", "10.0.0.6", "10.0.0.5", "5432");
    let out = flow("egress", "tcp", "10.0.0.5", "93.184.216.34", "443");
    let advanced = Engine::new(with_listing);
    let basic = Engine::new(alone);
    let eni_a = advanced.target("eni-a").unwrap();
    let verdict = advanced.check(eni_a, &peer);
    assert_eq!(
        (verdict.action, verdict.reason),
        (Action::Drop, Reason::Default)
    );
    let verdict = basic.check(eni_a, &peer);
    assert_eq!(
        (verdict.action, verdict.reason),
        (Action::Accept, Reason::InnerAccess)
    );
    assert_eq!(advanced.check(eni_a, &out).action, Action::Drop);
    assert_eq!(basic.check(eni_a, &out).action, Action::Accept);
}

#[test]
fn the_type_given_twice_must_agree() {
    let mut attribute = advanced_group_attribute();
    attribute["SecurityGroupType"] = json!("normal");
    let listing = json!({"SecurityGroups": {"SecurityGroup": [
        {"SecurityGroupId": "sg-adv", "SecurityGroupType": "enterprise", "VpcId": "vpc-1"}]}});
    assert_eq!(
        load_error(vec![
            doc("a.json", attribute.to_string()),
            doc("b.json", listing.to_string()),
        ]),
        "b.json: security group \"sg-adv\" is described twice, differently (SecurityGroupType \
         normal and enterprise): first in a.json, then in b.json at SecurityGroups.SecurityGroup[0]"
    );
}

fn page(rules: &[Value], next_token: &str) -> Value {
    json!({"RequestId": "r", "SecurityGroupId": "sg-p", "SecurityGroupType": "normal", "VpcId": "vpc-1",
           "InnerAccessPolicy": "Accept", "Permissions": {"Permission": rules}, "NextToken": next_token})
}

fn rule(id: &str, port: u16, policy: &str) -> Value {
    json!({"SecurityGroupRuleId": id, "Direction": "ingress", "Policy": policy, "Priority": 1,
           "IpProtocol": "TCP", "PortRange": format!("{port}/{port}"), "SourceCidrIp": "0.0.0.0/0",
           "NicType": "intranet"})
}

#[test]
fn pages_of_one_group_merge_in_order_and_overlaps_count_once() {
    let rules: Vec<Value> = (1..=5)
        .map(|i| rule(&format!("sgr-{i}"), 1000 + i, "Accept"))
        .collect();
    let (whole, _) = load(vec![doc("one.json", page(&rules, "").to_string())]);
    // Three pages; the second repeats the first page's last rule (a rule added while paging
    // shifts the window).
    let (paged, report) = load(vec![
        doc("p-1.json", page(&rules[..2], "t1").to_string()),
        doc("p-2.json", page(&rules[1..4], "t2").to_string()),
        doc("p-3.json", page(&rules[4..], "").to_string()),
    ]);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert_eq!(paged.groups(), whole.groups());

    // The file order is the natural order of the names: page-10 after page-9.
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for i in 1..=10u16 {
        let last = if i == 10 { "" } else { "more" };
        let r = rule(&format!("sgr-{i}"), i, "Accept");
        expected.push(format!("sgr-{i}"));
        std::fs::write(
            dir.path().join(format!("sg-p.page-{i}.json")),
            page(&[r], last).to_string(),
        )
        .unwrap();
    }
    let snapshot = Snapshot::from_path(dir.path()).unwrap();
    let ids: Vec<&str> = snapshot.groups()[0]
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, expected);
}

#[test]
fn a_missing_last_page_is_reported() {
    let (_, report) = load(vec![doc(
        "p-1.json",
        page(&[rule("sgr-1", 22, "Accept")], "t1").to_string(),
    )]);
    assert_eq!(
        report.missing[0].detail,
        "security group sg-p: the last page read (p-1.json) has a NextToken, so later pages of \
         its rules are missing"
    );
}

#[test]
fn conflicting_duplicates_are_errors_naming_both_files() {
    // Same rule id on two pages, different fields.
    assert_eq!(
        load_error(vec![
            doc(
                "p-1.json",
                page(&[rule("sgr-1", 22, "Accept")], "t1").to_string()
            ),
            doc(
                "p-2.json",
                page(&[rule("sgr-1", 22, "Drop")], "").to_string()
            ),
        ]),
        "p-2.json: rule \"sgr-1\" of security group \"sg-p\" is described twice, differently \
         (same SecurityGroupRuleId, different fields): first in p-1.json at \
         Permissions.Permission[0], then in p-2.json at Permissions.Permission[0]"
    );
    // Two complete answers (no NextToken) that differ.
    assert_eq!(
        load_error(vec![
            doc(
                "old.json",
                page(&[rule("sgr-1", 22, "Accept")], "").to_string()
            ),
            doc(
                "new.json",
                page(&[rule("sgr-2", 22, "Accept")], "").to_string()
            ),
        ]),
        "new.json: security group \"sg-p\" is described twice, differently (rule sgr-2 of the \
         second is not in the first): first in old.json, then in new.json"
    );
    // The same answer twice is no conflict.
    let one = page(&[rule("sgr-1", 22, "Accept")], "").to_string();
    let (snapshot, _) = load(vec![doc("a.json", one.clone()), doc("b.json", one)]);
    assert_eq!(snapshot.groups()[0].rules.len(), 1);
    // A NIC described differently by two answers.
    let mut other = two_nics_in("sg-p");
    other["NetworkInterfaceSets"]["NetworkInterfaceSet"][1]["PrivateIpAddress"] = json!("10.0.0.9");
    let message = load_error(vec![
        doc("g.json", page(&[], "").to_string()),
        doc("n1.json", two_nics_in("sg-p").to_string()),
        doc("n2.json", other.to_string()),
    ]);
    assert!(
        message.starts_with("n2.json: network interface \"eni-b\" is described twice")
            && message.contains("first in n1.json at NetworkInterfaceSets.NetworkInterfaceSet[1], then in n2.json at NetworkInterfaceSets.NetworkInterfaceSet[1]"),
        "{message}"
    );
}

#[test]
fn classic_groups_read_with_both_nic_types_merge() {
    let mut internet = rule("sgr-net", 80, "Accept");
    internet["NicType"] = json!("internet");
    let classic = |rules: &[Value]| {
        json!({"SecurityGroupId": "sg-c", "SecurityGroupType": "normal",
               "Permissions": {"Permission": rules}})
        .to_string()
    };
    let (snapshot, _) = load(vec![
        doc("intranet.json", classic(&[rule("sgr-lan", 22, "Accept")])),
        doc("internet.json", classic(&[internet])),
    ]);
    let ids: Vec<&str> = snapshot.groups()[0]
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["sgr-lan", "sgr-net"]);
}

/// DescribeInstances with one instance per NIC of `nics` (a DescribeNetworkInterfaces answer).
fn instances_of(nics: &Value) -> Value {
    let instances: Vec<Value> = nics["NetworkInterfaceSets"]["NetworkInterfaceSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|nic| {
            json!({"InstanceId": nic["InstanceId"], "SecurityGroupIds": nic["SecurityGroupIds"],
                "VpcAttributes": {"VpcId": nic["VpcId"], "PrivateIpAddress": {"IpAddress": [nic["PrivateIpAddress"]]}},
                "InnerIpAddress": {"IpAddress": []},
                "NetworkInterfaces": {"NetworkInterface": [{"NetworkInterfaceId": nic["NetworkInterfaceId"],
                    "Type": "Primary", "PrimaryIpAddress": nic["PrivateIpAddress"]}]}})
        })
        .collect();
    json!({"RequestId": "r", "Instances": {"Instance": instances}})
}

#[test]
fn an_instance_only_dump_gives_the_nic_dumps_verdicts() {
    let group = page(
        &[
            rule("sgr-1", 22, "Accept"),
            json!({"SecurityGroupRuleId": "sgr-db", "Direction": "ingress", "Policy": "Accept",
                   "Priority": 1, "IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": "sg-p"}),
        ],
        "",
    )
    .to_string();
    let nics = two_nics_in("sg-p");
    let (by_nics, _) = load(vec![
        doc("g.json", group.clone()),
        doc("n.json", nics.to_string()),
    ]);
    let (by_instances, report) = load(vec![
        doc("g.json", group),
        doc("i.json", instances_of(&nics).to_string()),
    ]);
    assert_eq!(report.nics_from_instances, 2);
    let (a, b) = (Engine::new(by_nics), Engine::new(by_instances));
    for (id, flow) in [
        (
            "eni-a",
            flow("ingress", "tcp", "10.0.0.6", "10.0.0.5", "5432"),
        ),
        (
            "eni-a",
            flow("ingress", "tcp", "203.0.113.9", "10.0.0.5", "5432"),
        ),
        (
            "eni-b",
            flow("ingress", "tcp", "203.0.113.9", "10.0.0.6", "22"),
        ),
        ("eni-b", flow("egress", "udp", "10.0.0.6", "8.8.8.8", "53")),
    ] {
        let (va, vb) = (
            a.check(a.target(id).unwrap(), &flow),
            b.check(b.target(id).unwrap(), &flow),
        );
        assert_eq!(va, vb, "{id} {flow:?}");
    }
}

#[test]
fn instances_and_network_interfaces_must_agree() {
    let nics = two_nics_in("sg-p");
    let mut instances = instances_of(&nics);
    instances["Instances"]["Instance"][1]["SecurityGroupIds"] =
        json!({"SecurityGroupId": ["sg-other"]});
    let message = load_error(vec![
        doc("g.json", page(&[], "").to_string()),
        doc("n.json", nics.to_string()),
        doc("i.json", instances.to_string()),
    ]);
    assert_eq!(
        message,
        "i.json: network interface \"eni-b\" is described twice, differently (SecurityGroupIds \
         [\"sg-p\"] and [\"sg-other\"]): first in n.json at \
         NetworkInterfaceSets.NetworkInterfaceSet[1], then in i.json at \
         Instances.Instance[1].NetworkInterfaces.NetworkInterface[0]"
    );
    let mut instances = instances_of(&nics);
    instances["Instances"]["Instance"][0]["NetworkInterfaces"]["NetworkInterface"][0]
        ["PrimaryIpAddress"] = json!("10.0.0.99");
    instances["Instances"]["Instance"][0]["VpcAttributes"]["PrivateIpAddress"]["IpAddress"] =
        json!(["10.0.0.99"]);
    let message = load_error(vec![
        doc("g.json", page(&[], "").to_string()),
        doc("n.json", nics.to_string()),
        doc("i.json", instances.to_string()),
    ]);
    assert!(
        message.contains("(IPv4 addresses [10.0.0.5] and [10.0.0.99])"),
        "{message}"
    );
}

#[test]
fn a_secondary_eni_known_only_to_describe_instances_is_reported() {
    let instances = json!({"Instances": {"Instance": [{"InstanceId": "i-1",
        "SecurityGroupIds": {"SecurityGroupId": ["sg-p"]},
        "VpcAttributes": {"VpcId": "vpc-1", "PrivateIpAddress": {"IpAddress": ["10.0.0.5"]}},
        "NetworkInterfaces": {"NetworkInterface": [
            {"NetworkInterfaceId": "eni-1", "Type": "Primary", "PrimaryIpAddress": "10.0.0.5"},
            {"NetworkInterfaceId": "eni-2", "Type": "Secondary", "PrimaryIpAddress": "10.0.0.8"}]}}]}});
    let (snapshot, report) = load(vec![
        doc("g.json", page(&[], "").to_string()),
        doc("i.json", instances.to_string()),
    ]);
    assert_eq!(snapshot.nics().len(), 1);
    assert_eq!(
        missing_kinds(&report),
        [(MissingKind::NicGroups, "eni-2".to_string())]
    );
}

// ---- Nothing silently empty ----

#[test]
fn documents_of_no_known_shape_and_empty_directories_are_errors() {
    let message = load_error(vec![doc("empty.json", "{}")]);
    assert!(
        message.starts_with("empty.json: an empty object: matches no known shape: expected one of: a snapshot object"),
        "{message}"
    );
    let regions = json!({"RequestId": "r", "Regions": {"Region": [{"RegionId": "cn-hangzhou"}]}});
    let message = load_error(vec![doc("regions.json", regions.to_string())]);
    assert!(
        message.starts_with(
            "regions.json: an object with keys Regions, RequestId: matches no known shape: \
             expected one of:"
        ) && message.contains("DescribeInstances (Instances.Instance[])"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not json").unwrap();
    let err = assemble(&[dir.path()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no *.json files in this directory or below: expected the API responses dumped there",
            dir.path().display()
        )
    );
    let message = load_error(vec![doc("bad.json", "{\"SecurityGroups\": ")]);
    assert!(
        message.starts_with("bad.json: not valid JSON: "),
        "{message}"
    );
}

#[test]
fn missing_references_are_listed() {
    let rules = [
        json!({"SecurityGroupRuleId": "sgr-g", "Direction": "ingress", "Policy": "Accept", "IpProtocol": "TCP",
               "PortRange": "22/22", "SourceGroupId": "sg-gone"}),
        json!({"SecurityGroupRuleId": "sgr-pl", "Direction": "egress", "Policy": "Accept", "IpProtocol": "TCP",
               "PortRange": "443/443", "DestPrefixListId": "pl-gone"}),
        json!({"SecurityGroupRuleId": "sgr-prl", "Direction": "ingress", "Policy": "Accept", "IpProtocol": "TCP",
               "PortRange": "", "PortRangeListId": "prl-gone", "SourceCidrIp": "0.0.0.0/0"}),
        json!({"SecurityGroupRuleId": "sgr-g2", "Direction": "ingress", "Policy": "Accept", "IpProtocol": "UDP",
               "PortRange": "53/53", "SourceGroupId": "sg-gone"}),
    ];
    let mut nics = two_nics_in("sg-p");
    nics["NetworkInterfaceSets"]["NetworkInterfaceSet"][0]["SecurityGroupIds"] =
        json!({"SecurityGroupId": ["sg-p", "sg-elsewhere"]});
    let (snapshot, report) = load(vec![
        doc("g.json", page(&rules, "").to_string()),
        doc("n.json", nics.to_string()),
    ]);
    let details: Vec<&str> = report.missing.iter().map(|m| m.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "security group sg-elsewhere: carried by network interface eni-a (n.json at \
             NetworkInterfaceSets.NetworkInterfaceSet[0]) but absent from the dump; the NIC is \
             simulated without it",
            "security group sg-gone: referenced by rule sg-p/sgr-g and 1 more rules but absent \
             from the dump; no NIC in the dump carries it, so the rules match no address",
            "prefix list pl-gone: referenced by rule sg-p/sgr-pl but absent from the dump; the \
             rules match no address",
            "port range list prl-gone: referenced by rule sg-p/sgr-prl but absent from the dump; \
             the rules match no port",
        ]
    );
    assert_eq!(snapshot.nics()[0].groups.len(), 1);
}

// ---- The command line ----

#[test]
fn the_shipped_example_dump_reads_whole() {
    let dir = example("dump");
    let out = sgsim(&["snapshot", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "documents: 12 (4 DescribeSecurityGroupAttribute, 2 DescribeSecurityGroups, \
         1 DescribeNetworkInterfaces, 1 DescribeInstances, 1 DescribePrefixLists, \
         1 DescribePrefixListAttributes, 1 DescribePortRangeLists, 1 DescribePortRangeListEntries)\n\
         security groups: 3 (2 basic, 1 advanced), 8 rules\n\
         network interfaces: 4 (1 from DescribeInstances)\n\
         prefix lists: 1\n\
         port range lists: 1\n\
         missing: nothing\n"
    );
    assert!(out.stderr.is_empty());

    // sg-admin is advanced only by DescribeSecurityGroups; eni-bastion only in DescribeInstances.
    let check = |args: &[&str]| {
        let mut all = vec!["check", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = sgsim(&all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ssh = |src: &str| {
        check(&[
            "--nic",
            "eni-bastion",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            src,
            "--dport",
            "22",
        ])
    };
    assert!(ssh("192.0.2.7").starts_with("ACCEPT by sg-admin/sgr-admin-ssh-office"));
    assert!(ssh("203.0.113.9").starts_with(
        "DROP   by default (no rule matched; enterprise groups drop both directions)"
    ));
    let https = check(&[
        "--nic",
        "eni-web1",
        "--direction",
        "ingress",
        "--protocol",
        "tcp",
        "--src",
        "203.0.113.9",
        "--dport",
        "443",
    ]);
    assert!(
        https.starts_with("ACCEPT by sg-web/sgr-web-https"),
        "{https}"
    );

    // The assembled snapshot, written out, gives the same answers.
    let out_dir = tempfile::tempdir().unwrap();
    let written = out_dir.path().join("account.json");
    let out = sgsim(&[
        "snapshot",
        dir.to_str().unwrap(),
        "--output",
        written.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let (from_dir, _) = assemble(&[&dir]).unwrap();
    let from_file = Snapshot::from_json_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(from_file.groups(), from_dir.groups());
    assert_eq!(from_file.nics(), from_dir.nics());
}

#[test]
fn commands_warn_once_and_strict_refuses() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sg.json"),
        advanced_group_attribute().to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nics.json"),
        two_nics_in("sg-adv").to_string(),
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let ask = |strict: bool| {
        let mut args = vec![
            "check",
            path,
            "--nic",
            "eni-a",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "203.0.113.9",
            "--dport",
            "443",
        ];
        if strict {
            args.push("--strict");
        }
        sgsim(&args)
    };
    let out = ask(false);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "warning: {path}: 1 thing referenced but not given (`sgsim snapshot {path}` lists \
             them):\n  \
             security group sg-adv: no SecurityGroupType ({path}/sg.json does not carry it; \
             DescribeSecurityGroups does); simulated as a basic (normal) group\n"
        )
    );
    let out = ask(true);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .ends_with("(--strict refuses an incomplete snapshot)\n"));
    let out = sgsim(&["snapshot", path, "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("missing: 1\n"));
}

#[test]
fn snapshots_without_groups_are_refused_by_the_commands_that_ask_about_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let nics = dir.path().join("nics.json");
    std::fs::write(&nics, two_nics_in("sg-x").to_string()).unwrap();
    let nics = nics.to_str().unwrap();
    for args in [
        vec!["audit", nics],
        vec!["diff", nics, nics],
        vec!["eval", nics, "-"],
        vec![
            "check",
            nics,
            "--nic",
            "eni-a",
            "--direction",
            "ingress",
            "--protocol",
            "tcp",
            "--src",
            "1.2.3.4",
            "--dport",
            "1",
        ],
    ] {
        let out = sgsim(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.ends_with(&format!(
                "error: {nics}: no security groups in it: expected DescribeSecurityGroupAttribute \
                 responses or a snapshot with SecurityGroups\n"
            )),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn apply_on_a_directory_needs_an_output_file() {
    let dir = example("dump");
    let revoke = "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-web&SecurityGroupRuleId.1=sgr-web-ssh-deny";
    let out = sgsim(&["apply", dir.to_str().unwrap(), revoke]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: a directory of API responses cannot take the new snapshot back: name a \
             file with --output FILE (it gets the whole assembled snapshot), or use --dry-run\n",
            dir.display()
        )
    );
    let out_dir = tempfile::tempdir().unwrap();
    let written = out_dir.path().join("new.json");
    let out = sgsim(&[
        "apply",
        dir.to_str().unwrap(),
        revoke,
        "--output",
        written.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = Snapshot::from_json_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let web = &after.groups()[after.group_index("sg-web").unwrap() as usize];
    assert!(web.rules.iter().all(|r| r.id != "sgr-web-ssh-deny"));
    assert_eq!(web.rules.len(), 3);
    // The types joined from DescribeSecurityGroups are kept in the written snapshot.
    let admin = &after.groups()[after.group_index("sg-admin").unwrap() as usize];
    assert_eq!(admin.kind, GroupKind::Enterprise);
}

#[test]
fn stdin_is_read_as_one_document() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sgsim"))
        .args(["snapshot", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(advanced_group_attribute().to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("documents: 1 (1 DescribeSecurityGroupAttribute)\n")
            && stdout
                .contains("  security group sg-adv: no SecurityGroupType (- does not carry it"),
        "{stdout}"
    );
}

// ---- Random worlds: split into API files, same verdicts ----

mod random_worlds {
    use super::*;
    use proptest::prelude::*;
    use sgsim::eval::reference;

    const V4: [&str; 6] = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.9",
        "192.168.1.5",
        "8.8.8.8",
        "203.0.113.5",
    ];
    const V6: [&str; 3] = ["fd00::1", "fd00::2", "2001:db8::5"];
    const V4_CIDRS: [&str; 5] = [
        "0.0.0.0/0",
        "10.0.0.0/8",
        "10.0.0.0/30",
        "192.168.0.0/16",
        "8.8.8.8",
    ];
    const V6_CIDRS: [&str; 3] = ["::/0", "fd00::/64", "2001:db8::/32"];

    /// One rule as the API writes it; `id` empty for older answers without rule ids.
    fn permission(groups: usize, lists: usize) -> impl Strategy<Value = Value> {
        (
            (any::<bool>(), any::<bool>(), 1u8..4, 0usize..4),
            (0usize..5, any::<usize>(), any::<bool>()),
            (0usize..3, 1u16..8, 0u16..4, any::<bool>()),
        )
            .prop_map(
                move |(
                    (ingress, drop, priority, proto),
                    (remote, pick, v6),
                    (ports, lo, len, internet),
                )| {
                    let protocol = ["TCP", "UDP", "ICMP", "ALL"][proto];
                    let v6 = v6 && protocol != "ICMP";
                    let (cidr_field, group_field, list_field) = if ingress {
                        (
                            if v6 {
                                "Ipv6SourceCidrIp"
                            } else {
                                "SourceCidrIp"
                            },
                            "SourceGroupId",
                            "SourcePrefixListId",
                        )
                    } else {
                        (
                            if v6 { "Ipv6DestCidrIp" } else { "DestCidrIp" },
                            "DestGroupId",
                            "DestPrefixListId",
                        )
                    };
                    let mut rule = json!({"Direction": if ingress { "ingress" } else { "egress" },
                        "Policy": if drop { "Drop" } else { "Accept" }, "Priority": priority,
                        "IpProtocol": protocol, "PortRange": "-1/-1",
                        "NicType": if internet { "internet" } else { "intranet" }});
                    if matches!(protocol, "TCP" | "UDP") {
                        if ports == 2 && lists > 0 {
                            // One past the end names a missing list.
                            rule["PortRange"] = json!("");
                            rule["PortRangeListId"] = json!(format!("prl-{}", pick % (lists + 1)));
                        } else {
                            rule["PortRange"] = json!(format!("{lo}/{}", lo + len));
                        }
                    }
                    match remote {
                        0 | 1 => {
                            let cidrs: &[&str] = if v6 { &V6_CIDRS } else { &V4_CIDRS };
                            rule[cidr_field] = json!(cidrs[pick % cidrs.len()]);
                        }
                        2 | 3 => rule[group_field] = json!(format!("sg-{}", pick % (groups + 1))),
                        _ if protocol == "ICMP" || lists == 0 => {
                            rule[cidr_field] = json!(if v6 { "::/0" } else { "0.0.0.0/0" })
                        }
                        // Prefix list i has family i % 2.
                        _ => {
                            rule[list_field] =
                                json!(format!("pl-{}", (pick % lists) / 2 * 2 + usize::from(v6)))
                        }
                    }
                    rule
                },
            )
    }

    /// A world as one snapshot object, and which NICs source to dump it from.
    fn world() -> impl Strategy<Value = (Value, u8, u64)> {
        (1usize..5, 0usize..3)
            .prop_flat_map(|(groups, lists)| {
                let group = (
                    prop::collection::vec(permission(groups, lists), 0..7),
                    any::<bool>(),
                    any::<bool>(),
                    any::<bool>(),
                    any::<bool>(),
                );
                let nic = (
                    prop::collection::vec(0usize..V4.len(), 1..3),
                    prop::collection::vec(0usize..V6.len(), 0..2),
                    prop::collection::vec(0usize..groups, 1..3),
                );
                (
                    prop::collection::vec(group, groups),
                    prop::collection::vec(nic, 0..4),
                    prop::collection::vec(prop::collection::vec(0usize..5, 0..3), lists * 2),
                    prop::collection::vec(prop::collection::vec((1u16..8, 0u16..3), 0..3), lists),
                    0u8..3,
                    any::<u64>(),
                )
            })
            .prop_map(|(groups, nics, prefix_lists, port_lists, source, split)| {
                let kinds: Vec<&str> = groups
                    .iter()
                    .map(|g| if g.1 { "enterprise" } else { "normal" })
                    .collect();
                let groups_json: Vec<Value> = groups
                    .iter()
                    .enumerate()
                    .map(|(i, (rules, _, classic, inner_drop, with_ids))| {
                        let rules: Vec<Value> = rules
                            .iter()
                            .enumerate()
                            .map(|(r, rule)| {
                                let mut rule = rule.clone();
                                if *with_ids {
                                    rule["SecurityGroupRuleId"] = json!(format!("sgr-{i}-{r}"));
                                }
                                rule
                            })
                            .collect();
                        json!({"SecurityGroupId": format!("sg-{i}"), "SecurityGroupType": kinds[i],
                               "VpcId": if *classic { "" } else { "vpc-1" },
                               "InnerAccessPolicy": if *inner_drop { "Drop" } else { "Accept" },
                               "Permissions": {"Permission": rules}})
                    })
                    .collect();
                let nics_json: Vec<Value> = nics
                    .iter()
                    .enumerate()
                    .map(|(i, (v4, v6, nic_groups))| {
                        let first = kinds[nic_groups[0]];
                        let mut ids: Vec<String> = Vec::new();
                        for &g in nic_groups {
                            let id = format!("sg-{g}");
                            if kinds[g] == first && !ids.contains(&id) {
                                ids.push(id);
                            }
                        }
                        let v4: Vec<&str> = v4.iter().map(|&a| V4[a]).collect();
                        json!({"NetworkInterfaceId": format!("eni-{i}"), "InstanceId": format!("i-{i}"),
                               "VpcId": "vpc-1", "Type": "Primary", "PrivateIpAddress": v4[0],
                               "PrivateIpSets": {"PrivateIpSet": v4.iter().map(|a| json!({"PrivateIpAddress": a})).collect::<Vec<_>>()},
                               "Ipv6Sets": {"Ipv6Set": v6.iter().map(|&a| json!({"Ipv6Address": V6[a]})).collect::<Vec<_>>()},
                               "SecurityGroupIds": {"SecurityGroupId": ids}})
                    })
                    .collect();
                let prefix_json: Vec<Value> = prefix_lists
                    .iter()
                    .enumerate()
                    .map(|(i, picks)| {
                        let v6 = i % 2 == 1;
                        let cidrs: &[&str] = if v6 { &V6_CIDRS } else { &V4_CIDRS };
                        json!({"PrefixListId": format!("pl-{i}"), "AddressFamily": if v6 { "IPv6" } else { "IPv4" },
                               "MaxEntries": 10,
                               "Entries": {"Entry": picks.iter().map(|&p| json!({"Cidr": cidrs[p % cidrs.len()]})).collect::<Vec<_>>()}})
                    })
                    .collect();
                let port_json: Vec<Value> = port_lists
                    .iter()
                    .enumerate()
                    .map(|(i, ranges)| {
                        json!({"PortRangeListId": format!("prl-{i}"), "MaxEntries": 5,
                               "Entries": {"Entry": ranges.iter().map(|(lo, len)| json!({"PortRange": format!("{lo}/{}", lo + len)})).collect::<Vec<_>>()}})
                    })
                    .collect();
                let snapshot = json!({"SecurityGroups": groups_json, "NetworkInterfaces": nics_json,
                                      "PrefixLists": prefix_json, "PortRangeLists": port_json});
                (snapshot, source, split)
            })
    }

    /// Writes the world as the aliyun CLI would dump it: DescribeSecurityGroups pages (the
    /// only source of the types), DescribeSecurityGroupAttribute pages per group (rules split
    /// at random, with an overlap when rules have ids), NICs from DescribeNetworkInterfaces
    /// (source 0), DescribeInstances (1) or both (2), and the two calls of each list.
    fn write_dump(world: &Value, source: u8, mut split: u64, dir: &Path) {
        let mut next = |n: u64| {
            split = split
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (split >> 33) % n.max(1)
        };
        let write = |name: String, value: Value| {
            std::fs::write(
                dir.join(name),
                serde_json::to_string_pretty(&value).unwrap(),
            )
            .unwrap()
        };
        let groups = world["SecurityGroups"].as_array().unwrap();
        let items: Vec<Value> = groups
            .iter()
            .map(|g| json!({"SecurityGroupId": g["SecurityGroupId"], "SecurityGroupType": g["SecurityGroupType"], "VpcId": g["VpcId"]}))
            .collect();
        let half = items.len().div_ceil(2);
        for (n, chunk) in items.chunks(half.max(1)).enumerate() {
            let token = if (n + 1) * half < items.len() {
                "more"
            } else {
                ""
            };
            write(
                format!("DescribeSecurityGroups.page-{}.json", n + 1),
                json!({"RequestId": "r", "RegionId": "cn-hangzhou", "NextToken": token,
                       "SecurityGroups": {"SecurityGroup": chunk}}),
            );
        }
        for group in groups {
            let id = group["SecurityGroupId"].as_str().unwrap();
            let rules = group["Permissions"]["Permission"].as_array().unwrap();
            let with_ids = rules
                .first()
                .is_some_and(|r| r.get("SecurityGroupRuleId").is_some());
            let pages = 1 + next(3) as usize;
            let size = rules.len().div_ceil(pages).max(1);
            let chunks: Vec<&[Value]> = if rules.is_empty() {
                vec![&[]]
            } else {
                rules.chunks(size).collect()
            };
            for (n, chunk) in chunks.iter().enumerate() {
                let mut page_rules = chunk.to_vec();
                // A rule added during paging shifts the window: the next page repeats one.
                if with_ids && n > 0 && next(2) == 0 {
                    page_rules.insert(0, chunks[n - 1].last().unwrap().clone());
                }
                let mut response = group.clone();
                response
                    .as_object_mut()
                    .unwrap()
                    .remove("SecurityGroupType");
                response["RequestId"] = json!("r");
                response["Permissions"] = json!({"Permission": page_rules});
                response["NextToken"] = json!(if n + 1 < chunks.len() { "more" } else { "" });
                write(
                    format!("DescribeSecurityGroupAttribute.{id}.page-{}.json", n + 1),
                    response,
                );
            }
        }
        let nics = world["NetworkInterfaces"].as_array().unwrap();
        if source != 1 {
            write(
                "DescribeNetworkInterfaces.page-1.json".to_string(),
                json!({"RequestId": "r", "NextToken": "", "NetworkInterfaceSets": {"NetworkInterfaceSet": nics}}),
            );
        }
        if source != 0 {
            let instances: Vec<Value> = nics
                .iter()
                .map(|nic| {
                    let v4 = &nic["PrivateIpSets"];
                    json!({"InstanceId": nic["InstanceId"], "SecurityGroupIds": nic["SecurityGroupIds"],
                        "VpcAttributes": {"VpcId": "vpc-1", "PrivateIpAddress": {"IpAddress": [nic["PrivateIpAddress"]]}},
                        "NetworkInterfaces": {"NetworkInterface": [{"NetworkInterfaceId": nic["NetworkInterfaceId"],
                            "Type": "Primary", "PrimaryIpAddress": nic["PrivateIpAddress"],
                            "PrivateIpSets": v4, "Ipv6Sets": nic["Ipv6Sets"]}]}})
                })
                .collect();
            write(
                "DescribeInstances.page-1.json".to_string(),
                json!({"RequestId": "r", "NextToken": "", "Instances": {"Instance": instances}}),
            );
        }
        let mut listed = Vec::new();
        for list in world["PrefixLists"].as_array().unwrap() {
            let id = list["PrefixListId"].as_str().unwrap();
            let mut response = list.clone();
            response["RequestId"] = json!("r");
            write(format!("DescribePrefixListAttributes.{id}.json"), response);
            listed.push(json!({"PrefixListId": id, "AddressFamily": list["AddressFamily"], "MaxEntries": 10}));
        }
        write(
            "DescribePrefixLists.json".to_string(),
            json!({"RequestId": "r", "PrefixLists": {"PrefixList": listed}}),
        );
        let mut listed = Vec::new();
        for list in world["PortRangeLists"].as_array().unwrap() {
            let id = list["PortRangeListId"].as_str().unwrap();
            write(
                format!("DescribePortRangeListEntries.{id}.json"),
                json!({"RequestId": "r", "Entries": list["Entries"]["Entry"]}),
            );
            listed.push(json!({"PortRangeListId": id, "MaxEntries": 5}));
        }
        write(
            "DescribePortRangeLists.json".to_string(),
            json!({"RequestId": "r", "PortRangeLists": listed}),
        );
    }

    fn flows() -> Vec<Flow> {
        let mut flows = Vec::new();
        for (i, (src, dst)) in [
            ("10.0.0.1", "10.0.0.2"),
            ("10.0.0.2", "10.0.0.9"),
            ("192.168.1.5", "10.0.0.1"),
            ("8.8.8.8", "10.0.0.9"),
            ("10.0.0.9", "203.0.113.5"),
            ("fd00::1", "fd00::2"),
            ("2001:db8::5", "fd00::1"),
        ]
        .iter()
        .enumerate()
        {
            for direction in ["ingress", "egress"] {
                for (protocol, port) in [("tcp", "3"), ("udp", "5"), ("icmp", ""), ("tcp", "25")] {
                    if protocol == "icmp" && src.contains(':') {
                        continue;
                    }
                    let (s, d) = if i % 2 == 0 {
                        (*src, *dst)
                    } else {
                        (*dst, *src)
                    };
                    flows.push(flow(direction, protocol, s, d, port));
                }
            }
        }
        flows
    }

    /// The deciding rule by ids, which do not depend on positions.
    fn decided(
        engine: &Engine,
        target: Target,
        flow: &Flow,
    ) -> (Action, Reason, Option<(String, String)>) {
        let verdict = engine.check(target, flow);
        let rule = verdict.deciding_rule().map(|r| {
            let (group, rule) = engine.rule(r);
            (group.id.clone(), rule.id.clone())
        });
        (verdict.action, verdict.reason, rule)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn a_world_split_into_api_files_gives_the_same_verdicts((world, source, split) in world()) {
            let whole = Snapshot::from_json_value(world.clone()).unwrap();
            let dir = tempfile::tempdir().unwrap();
            write_dump(&world, source, split, dir.path());
            let (dumped, report) = assemble(&[dir.path()]).unwrap();
            // Only what the world itself lacks is missing: rules naming absent groups or lists.
            for missing in &report.missing {
                prop_assert!(
                    matches!(missing.kind, MissingKind::Group | MissingKind::PrefixList | MissingKind::PortRangeList),
                    "{}", missing
                );
            }
            prop_assert_eq!(dumped.groups().len(), whole.groups().len());
            prop_assert_eq!(dumped.nics().len(), whole.nics().len());
            let (one, many) = (Engine::new(whole), Engine::new(dumped));
            let mut ids: Vec<String> = one.snapshot().nics().iter().map(|n| n.id.clone()).collect();
            if ids.is_empty() {
                ids = one.snapshot().groups().iter().map(|g| g.id.clone()).collect();
            }
            for id in &ids {
                let (a, b) = (one.target(id).unwrap(), many.target(id).unwrap());
                for flow in flows() {
                    let expected = decided(&one, a, &flow);
                    prop_assert_eq!(&decided(&many, b, &flow), &expected, "{} {:?}", id, flow);
                    let oracle = reference::evaluate(many.snapshot(), b, &flow, many.options());
                    prop_assert_eq!((oracle.action, oracle.reason), (expected.0, expected.1));
                }
            }
        }
    }
}
