//! Every class of bad input is refused with the JSON path of the bad value, the value and the
//! reason (`shared/spec/interface.md`: "Nothing is silently skipped"). Also the row errors of
//! `sgsim eval`, which never stop a run.

use serde_json::{json, Value};
use sgsim::Snapshot;
use std::path::Path;
use std::process::{Command, Output};

// ---------------------------------------------------------------------------------------------
// Snapshot loading

/// The error message of a refused document, `path: value: reason`.
fn refused(document: &str) -> String {
    match Snapshot::from_json_str(document) {
        Ok(_) => panic!("the document must be refused: {document}"),
        Err(err) => err.to_string(),
    }
}

fn refused_json(document: &Value) -> String {
    refused(&document.to_string())
}

fn loads(document: &Value) {
    if let Err(err) = Snapshot::from_json_str(&document.to_string()) {
        panic!("the document must load: {err}\n{document}");
    }
}

/// The JSON path of the one rule `with_rule` puts in a snapshot.
const RULE: &str = "SecurityGroups[0].Permissions.Permission[0]";

/// A valid ingress rule (TCP 22 from anywhere) with `changes` applied; `null` removes a field.
fn rule(changes: Value) -> Value {
    let mut rule = json!({
        "SecurityGroupRuleId": "sgr-1", "Direction": "ingress", "Policy": "Accept", "Priority": 1,
        "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"
    });
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            rule.as_object_mut().unwrap().remove(key);
        } else {
            rule[key] = value.clone();
        }
    }
    rule
}

fn with_rule(rule: Value) -> Value {
    json!({"SecurityGroups": [{"SecurityGroupId": "sg-a", "Permissions": {"Permission": [rule]}}]})
}

fn rule_error(changes: Value) -> String {
    refused_json(&with_rule(rule(changes)))
}

#[test]
fn malformed_json_is_refused_with_its_position() {
    assert_eq!(
        refused(r#"{"SecurityGroups": ["#),
        "not valid JSON: EOF while parsing a list at line 1 column 20"
    );
    assert_eq!(
        refused("{\n  \"SecurityGroups\": [}\n"),
        "not valid JSON: expected value at line 2 column 22"
    );
    assert_eq!(
        refused(""),
        "not valid JSON: EOF while parsing a value at line 1 column 0"
    );
}

#[test]
fn wrong_top_level_type_is_refused() {
    let expected = "expected a snapshot object, a DescribeSecurityGroupAttribute response or an array of Permission objects";
    assert_eq!(refused("42"), format!("a number: {expected}"));
    assert_eq!(refused(r#""sg-a""#), format!("a string: {expected}"));
    assert_eq!(refused("null"), format!("null: {expected}"));
    assert_eq!(refused("true"), format!("a boolean: {expected}"));
}

#[test]
fn mixing_snapshot_and_bare_group_keys_is_refused() {
    assert_eq!(
        refused(r#"{"SecurityGroups": [], "SecurityGroupId": "sg-a"}"#),
        "the document mixes snapshot keys (SecurityGroups, NetworkInterfaces, …) with a single \
         group's keys (SecurityGroupId, Permissions): use one shape"
    );
}

#[test]
fn missing_security_group_id_is_refused() {
    let expected = r#"SecurityGroups[1].SecurityGroupId: "": missing: every security group needs its id (sg-…)"#;
    let without = json!({"SecurityGroups": [{"SecurityGroupId": "sg-a"}, {"Permissions": {"Permission": []}}]});
    let empty = json!({"SecurityGroups": [{"SecurityGroupId": "sg-a"}, {"SecurityGroupId": ""}]});
    assert_eq!(refused_json(&without), expected);
    assert_eq!(refused_json(&empty), expected);
    // A bare DescribeSecurityGroupAttribute response without its id.
    assert_eq!(
        refused(r#"{"Permissions": {"Permission": []}}"#),
        r#"SecurityGroupId: "": missing: every security group needs its id (sg-…)"#
    );
}

#[test]
fn bad_group_type_and_inner_access_policy_are_refused() {
    let bad_type =
        json!({"SecurityGroups": [{"SecurityGroupId": "sg-a", "SecurityGroupType": "advanced"}]});
    assert_eq!(
        refused_json(&bad_type),
        r#"SecurityGroups[0].SecurityGroupType: "advanced": expected normal or enterprise"#
    );
    let bad_policy =
        json!({"SecurityGroups": [{"SecurityGroupId": "sg-a", "InnerAccessPolicy": "Allow"}]});
    assert_eq!(
        refused_json(&bad_policy),
        r#"SecurityGroups[0].InnerAccessPolicy: "Allow": expected Accept or Drop"#
    );
}

#[test]
fn bad_direction_is_refused() {
    assert_eq!(
        rule_error(json!({"Direction": "inbound"})),
        format!(r#"{RULE}.Direction: "inbound": expected ingress or egress"#)
    );
    assert_eq!(
        rule_error(json!({"Direction": null})),
        format!(r#"{RULE}.Direction: "": expected ingress or egress"#)
    );
}

#[test]
fn bad_policy_is_refused() {
    assert_eq!(
        rule_error(json!({"Policy": "allow"})),
        format!(r#"{RULE}.Policy: "allow": expected Accept or Drop"#)
    );
}

#[test]
fn bad_priority_is_refused_and_legacy_110_is_accepted() {
    for (priority, shown) in [
        (json!(0), "0"),
        (json!(101), "101"),
        (json!(-1), "-1"),
        (json!("0"), "\"0\""),
    ] {
        let n = priority
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_else(|| priority.as_str().unwrap().to_string());
        assert_eq!(
            rule_error(json!({ "Priority": priority })),
            format!("{RULE}.Priority: {shown}: priority {n} is out of 1..100 (or the legacy 110)")
        );
    }
    for (priority, shown) in [
        (json!("abc"), "\"abc\""),
        (json!(1.5), "1.5"),
        (json!("1 "), "\"1 \""),
    ] {
        assert_eq!(
            rule_error(json!({ "Priority": priority })),
            format!("{RULE}.Priority: {shown}: expected an integer priority 1..100")
        );
    }
    for priority in [
        json!(110),
        json!("110"),
        json!(1),
        json!(100),
        json!("100"),
        json!(""),
    ] {
        loads(&with_rule(rule(json!({ "Priority": priority }))));
    }
}

#[test]
fn bad_ip_protocol_is_refused() {
    for protocol in ["SCTP", "256", "-1", "", "tcp6"] {
        assert_eq!(
            rule_error(json!({ "IpProtocol": protocol, "PortRange": "-1/-1" })),
            format!(
                "{RULE}.IpProtocol: {protocol:?}: expected TCP, UDP, ICMP, ICMPv6, GRE, ALL or a \
                 protocol number 0..255"
            )
        );
    }
}

#[test]
fn bad_port_range_is_refused() {
    let cases = [
        ("TCP", "0/80", "port 0 is out of 1..65535 for tcp"),
        ("TCP", "80/22", "start 80 is greater than end 22 for tcp"),
        ("UDP", "1/65536", "port 65536 is out of 1..65535 for udp"),
        (
            "TCP",
            "abc",
            "expected a/b with 1 <= a <= b <= 65535 for tcp",
        ),
        (
            "TCP",
            "a/22",
            "\"a\" is not a number; expected a/b with 1 <= a <= b <= 65535 for tcp",
        ),
        (
            "TCP",
            "",
            "tcp needs a port range a/b with 1 <= a <= b <= 65535, or a PortRangeListId",
        ),
        (
            "UDP",
            "-1/-1",
            "udp needs a port range a/b with 1 <= a <= b <= 65535, or a PortRangeListId",
        ),
        (
            "ICMP",
            "1/65535",
            "icmp has no ports: the port range must be -1/-1",
        ),
        (
            "GRE",
            "22/22",
            "gre has no ports: the port range must be -1/-1",
        ),
        (
            "ALL",
            "1/65535",
            "all has no ports: the port range must be -1/-1",
        ),
    ];
    for (protocol, range, reason) in cases {
        assert_eq!(
            rule_error(json!({ "IpProtocol": protocol, "PortRange": range })),
            format!("{RULE}.PortRange: {range:?}: {reason}")
        );
    }
    // TCP without any PortRange field at all.
    assert_eq!(
        rule_error(json!({ "PortRange": null })),
        format!("{RULE}.PortRange: \"\": tcp needs a port range a/b with 1 <= a <= b <= 65535, or a PortRangeListId")
    );
}

#[test]
fn bad_source_port_range_is_refused() {
    assert_eq!(
        rule_error(json!({ "SourcePortRange": "0/1024" })),
        format!("{RULE}.SourcePortRange: \"0/1024\": port 0 is out of 1..65535 for tcp")
    );
    assert_eq!(
        rule_error(json!({ "SourcePortRange": "2000/1000" })),
        format!(
            "{RULE}.SourcePortRange: \"2000/1000\": start 2000 is greater than end 1000 for tcp"
        )
    );
    assert_eq!(
        rule_error(json!({ "IpProtocol": "ICMP", "PortRange": "-1/-1", "SourcePortRange": "1/1024" })),
        format!("{RULE}.SourcePortRange: \"1/1024\": icmp has no ports: the source port range must be empty or -1/-1")
    );
}

#[test]
fn port_range_list_on_a_portless_protocol_is_refused() {
    assert_eq!(
        rule_error(json!({ "IpProtocol": "ICMP", "PortRange": "", "PortRangeListId": "prl-1" })),
        format!("{RULE}.PortRangeListId: \"prl-1\": icmp has no ports: port range lists need TCP or UDP")
    );
}

#[test]
fn bad_cidr_is_refused_in_each_of_the_four_fields() {
    let cases = [
        (
            json!({"SourceCidrIp": "10.0.0.0/33"}),
            "SourceCidrIp",
            "10.0.0.0/33",
            "IPv4",
        ),
        (
            json!({"SourceCidrIp": null, "Ipv6SourceCidrIp": "2001:db8::/129"}),
            "Ipv6SourceCidrIp",
            "2001:db8::/129",
            "IPv6",
        ),
        (
            json!({"DestCidrIp": "10.0.0"}),
            "DestCidrIp",
            "10.0.0",
            "IPv4",
        ),
        (
            json!({"SourceCidrIp": null, "Ipv6SourceCidrIp": "::/0", "Ipv6DestCidrIp": "fe80::zz"}),
            "Ipv6DestCidrIp",
            "fe80::zz",
            "IPv6",
        ),
    ];
    for (changes, field, value, family) in cases {
        assert_eq!(
            rule_error(changes),
            format!("{RULE}.{field}: {value:?}: not an {family} address or CIDR block")
        );
    }
    // The same holds for egress, where the remote object is the destination.
    let egress = json!({"Direction": "egress", "SourceCidrIp": null, "DestCidrIp": "300.0.0.0/8"});
    assert_eq!(
        rule_error(egress),
        format!("{RULE}.DestCidrIp: \"300.0.0.0/8\": not an IPv4 address or CIDR block")
    );
}

#[test]
fn masked_documentation_address_gets_a_hint() {
    assert_eq!(
        rule_error(json!({"SourceCidrIp": "10.0.***.0/24"})),
        format!(
            "{RULE}.SourceCidrIp: \"10.0.***.0/24\": not an IPv4 address or CIDR block (it looks \
             like a documentation placeholder with masked digits)"
        )
    );
}

#[test]
fn cidr_of_the_wrong_family_for_its_field_is_refused() {
    assert_eq!(
        rule_error(json!({"SourceCidrIp": "2001:db8::/32"})),
        format!("{RULE}.SourceCidrIp: \"2001:db8::/32\": SourceCidrIp takes an IPv4 CIDR; an IPv6 one goes in Ipv6SourceCidrIp")
    );
    assert_eq!(
        rule_error(json!({"SourceCidrIp": null, "Ipv6SourceCidrIp": "10.0.0.0/8"})),
        format!("{RULE}.Ipv6SourceCidrIp: \"10.0.0.0/8\": Ipv6SourceCidrIp takes an IPv6 CIDR; an IPv4 one goes in SourceCidrIp")
    );
    assert_eq!(
        rule_error(json!({"DestCidrIp": "::1"})),
        format!("{RULE}.DestCidrIp: \"::1\": DestCidrIp takes an IPv4 CIDR; an IPv6 one goes in Ipv6DestCidrIp")
    );
    assert_eq!(
        rule_error(json!({"Ipv6DestCidrIp": "10.0.0.5"})),
        format!("{RULE}.Ipv6DestCidrIp: \"10.0.0.5\": Ipv6DestCidrIp takes an IPv6 CIDR; an IPv4 one goes in DestCidrIp")
    );
}

#[test]
fn both_ipv4_and_ipv6_remote_cidrs_are_refused() {
    assert_eq!(
        rule_error(json!({"Ipv6SourceCidrIp": "2001:db8::1/64"})),
        format!("{RULE}.Ipv6SourceCidrIp: \"2001:db8::1/64\": a rule has one remote CIDR, but SourceCidrIp is set too; use one of them")
    );
    let egress = json!({"Direction": "egress", "SourceCidrIp": null, "DestCidrIp": "0.0.0.0/0", "Ipv6DestCidrIp": "::/0"});
    assert_eq!(
        rule_error(egress),
        format!("{RULE}.Ipv6DestCidrIp: \"::/0\": a rule has one remote CIDR, but DestCidrIp is set too; use one of them")
    );
    // Two local CIDRs likewise.
    assert_eq!(
        rule_error(json!({"DestCidrIp": "10.0.0.5", "Ipv6DestCidrIp": "2001:db8::5"})),
        format!("{RULE}.Ipv6DestCidrIp: \"2001:db8::5\": a rule has one local CIDR, but DestCidrIp is set too; use one of them")
    );
}

#[test]
fn remote_and_local_cidrs_of_different_families_are_refused() {
    assert_eq!(
        rule_error(json!({"SourceCidrIp": "10.0.0.7/8", "Ipv6DestCidrIp": "2001:db8::5/64"})),
        format!("{RULE}.Ipv6DestCidrIp: \"2001:db8::5/64\": the remote CIDR 10.0.0.0/8 is IPv4, so the local CIDR must be too")
    );
    let egress =
        json!({"Direction": "egress", "SourceCidrIp": "10.0.0.5", "Ipv6DestCidrIp": "::/0"});
    assert_eq!(
        rule_error(egress),
        format!("{RULE}.SourceCidrIp: \"10.0.0.5\": the remote CIDR ::/0 is IPv6, so the local CIDR must be too")
    );
}

#[test]
fn icmp_with_an_ipv6_cidr_and_icmpv6_with_an_ipv4_cidr_are_refused() {
    assert_eq!(
        rule_error(
            json!({"IpProtocol": "ICMP", "PortRange": "-1/-1", "SourceCidrIp": null, "Ipv6SourceCidrIp": "::/0"})
        ),
        format!("{RULE}.IpProtocol: \"ICMP\": icmp is IPv4 only, but the rule's CIDR ::/0 is IPv6")
    );
    assert_eq!(
        rule_error(json!({"IpProtocol": "icmpv6", "PortRange": "-1/-1", "SourceCidrIp": "10.0.0.0/8"})),
        format!("{RULE}.IpProtocol: \"icmpv6\": icmpv6 is IPv6 only, but the rule's CIDR 10.0.0.0/8 is IPv4")
    );
    // The local CIDR counts too when the remote object is a group.
    assert_eq!(
        rule_error(json!({"IpProtocol": "58", "PortRange": "-1/-1", "SourceCidrIp": null, "SourceGroupId": "sg-b", "DestCidrIp": "10.0.0.5"})),
        format!("{RULE}.IpProtocol: \"58\": icmpv6 is IPv6 only, but the rule's CIDR 10.0.0.5/32 is IPv4")
    );
}

#[test]
fn missing_remote_object_is_refused() {
    assert_eq!(
        rule_error(json!({"SourceCidrIp": ""})),
        format!("{RULE}: an ingress rule needs a remote object: set one of SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId, SourcePrefixListId")
    );
    // An ingress rule's DestCidrIp is its local side, not a remote object.
    assert_eq!(
        rule_error(json!({"SourceCidrIp": null, "DestCidrIp": "10.0.0.5"})),
        format!("{RULE}: an ingress rule needs a remote object: set one of SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId, SourcePrefixListId")
    );
    // An egress rule's SourceGroupId is not one of its remote objects.
    assert_eq!(
        rule_error(json!({"Direction": "egress", "SourceCidrIp": null, "SourceGroupId": "sg-b"})),
        format!("{RULE}: an egress rule needs a remote object: set one of DestCidrIp, Ipv6DestCidrIp, DestGroupId, DestPrefixListId")
    );
}

#[test]
fn bad_nic_type_is_refused() {
    assert_eq!(
        rule_error(json!({"NicType": "public"})),
        format!(r#"{RULE}.NicType: "public": expected intranet or internet"#)
    );
}

// --- Network interfaces

/// A snapshot with groups sg-a, sg-b (basic) and sg-ent (enterprise) and one NIC.
fn with_nic(nic: Value) -> Value {
    let mut groups: Vec<Value> = (0..11)
        .map(|i| json!({"SecurityGroupId": format!("sg-{i}")}))
        .collect();
    groups.push(json!({"SecurityGroupId": "sg-a"}));
    groups.push(json!({"SecurityGroupId": "sg-b", "SecurityGroupType": "normal"}));
    groups.push(json!({"SecurityGroupId": "sg-ent", "SecurityGroupType": "enterprise"}));
    json!({"SecurityGroups": groups, "NetworkInterfaces": [nic]})
}

fn nic(changes: Value) -> Value {
    let mut nic = json!({
        "NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.5",
        "SecurityGroupIds": {"SecurityGroupId": ["sg-a"]}
    });
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            nic.as_object_mut().unwrap().remove(key);
        } else {
            nic[key] = value.clone();
        }
    }
    nic
}

fn nic_error(changes: Value) -> String {
    refused_json(&with_nic(nic(changes)))
}

#[test]
fn nic_without_id_is_refused() {
    let expected = r#"NetworkInterfaces[0].NetworkInterfaceId: "": missing: every network interface needs its id (eni-…)"#;
    assert_eq!(nic_error(json!({"NetworkInterfaceId": null})), expected);
    assert_eq!(nic_error(json!({"NetworkInterfaceId": ""})), expected);
}

#[test]
fn nic_with_bad_addresses_is_refused() {
    for bad in ["10.0.0.256", "2001:db8::5", "10.0.0.5/24", "eni"] {
        assert_eq!(
            nic_error(json!({"PrivateIpAddress": bad})),
            format!("NetworkInterfaces[0].PrivateIpAddress: {bad:?}: not an IPv4 address")
        );
    }
    let sets =
        json!({"PrivateIpSet": [{"PrivateIpAddress": "10.0.0.5"}, {"PrivateIpAddress": "10.0.0"}]});
    assert_eq!(
        nic_error(json!({"PrivateIpSets": sets})),
        r#"NetworkInterfaces[0].PrivateIpSets.PrivateIpSet[1].PrivateIpAddress: "10.0.0": not an IPv4 address"#
    );
    let v6 = json!({"Ipv6Set": [{"Ipv6Address": "10.0.0.6"}]});
    assert_eq!(
        nic_error(json!({"Ipv6Sets": v6})),
        r#"NetworkInterfaces[0].Ipv6Sets.Ipv6Set[0].Ipv6Address: "10.0.0.6": not an IPv6 address"#
    );
}

#[test]
fn nic_with_an_unknown_group_is_refused() {
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-nope"]}})),
        r#"NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId[1]: "sg-nope": no such security group in the snapshot's SecurityGroups"#
    );
}

#[test]
fn nic_listing_a_group_twice_is_refused() {
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-b", "sg-a"]}})),
        r#"NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId[2]: "sg-a": listed twice on this network interface"#
    );
}

#[test]
fn nic_with_0_or_11_groups_is_refused_and_10_are_accepted() {
    let path = "NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId";
    let reason = "a network interface carries 1..10 security groups";
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": []}})),
        format!("{path}: 0 groups: {reason}")
    );
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": null})),
        format!("{path}: 0 groups: {reason}")
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("sg-{i}")).collect();
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": eleven}})),
        format!("{path}: 11 groups: {reason}")
    );
    loads(&with_nic(nic(
        json!({"SecurityGroupIds": {"SecurityGroupId": eleven[..10]}}),
    )));
}

#[test]
fn nic_mixing_basic_and_enterprise_groups_is_refused() {
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": ["sg-a", "sg-ent"]}})),
        r#"NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId[1]: "sg-ent": an enterprise group beside a normal one: all groups of a network interface have the same type"#
    );
    assert_eq!(
        nic_error(json!({"SecurityGroupIds": {"SecurityGroupId": ["sg-ent", "sg-b"]}})),
        r#"NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId[1]: "sg-b": a normal group beside an enterprise one: all groups of a network interface have the same type"#
    );
}

// --- Duplicate ids

#[test]
fn duplicate_ids_are_refused() {
    let groups = json!({"SecurityGroups": [{"SecurityGroupId": "sg-a"}, {"SecurityGroupId": "sg-b"}, {"SecurityGroupId": "sg-a"}]});
    assert_eq!(
        refused_json(&groups),
        r#"SecurityGroups[2].SecurityGroupId: "sg-a": duplicate id: SecurityGroups[0] has it too; ids must be unique"#
    );
    let mut nics = with_nic(nic(json!({})));
    nics["NetworkInterfaces"] =
        json!([nic(json!({})), nic(json!({"PrivateIpAddress": "10.0.0.6"}))]);
    assert_eq!(
        refused_json(&nics),
        r#"NetworkInterfaces[1].NetworkInterfaceId: "eni-1": duplicate id: NetworkInterfaces[0] has it too; ids must be unique"#
    );
    let list = json!({"PrefixListId": "pl-1", "AddressFamily": "IPv4"});
    assert_eq!(
        refused_json(&json!({"PrefixLists": [list, list]})),
        r#"PrefixLists[1].PrefixListId: "pl-1": duplicate id: PrefixLists[0] has it too; ids must be unique"#
    );
    let ports = json!({"PortRangeListId": "prl-1"});
    assert_eq!(
        refused_json(&json!({"PortRangeLists": [ports, ports]})),
        r#"PortRangeLists[1].PortRangeListId: "prl-1": duplicate id: PortRangeLists[0] has it too; ids must be unique"#
    );
}

// Rule ids need not be unique: real SDK dumps repeat sanitized ids.
#[test]
fn duplicate_rule_ids_are_accepted() {
    let group = json!({"SecurityGroupId": "sg-a", "Permissions": {"Permission": [rule(json!({})), rule(json!({"PortRange": "80/80"}))]}});
    loads(&json!({"SecurityGroups": [group]}));
}

// --- Prefix lists

fn prefix_list_error(list: Value) -> String {
    refused_json(&json!({"PrefixLists": [list]}))
}

#[test]
fn prefix_list_errors_are_refused() {
    assert_eq!(
        prefix_list_error(json!({"AddressFamily": "IPv4"})),
        r#"PrefixLists[0].PrefixListId: "": missing: every prefix list needs its id (pl-…)"#
    );
    assert_eq!(
        prefix_list_error(json!({"PrefixListId": "pl-1", "AddressFamily": "IPv5"})),
        r#"PrefixLists[0].AddressFamily: "IPv5": expected IPv4 or IPv6"#
    );
    assert_eq!(
        prefix_list_error(json!({"PrefixListId": "pl-1"})),
        r#"PrefixLists[0].AddressFamily: "": expected IPv4 or IPv6"#
    );
    let entries = json!({"Entry": [{"Cidr": "10.0.0.0/8"}, {"Cidr": "10.0.0.0/40"}]});
    assert_eq!(
        prefix_list_error(
            json!({"PrefixListId": "pl-1", "AddressFamily": "IPv4", "Entries": entries})
        ),
        r#"PrefixLists[0].Entries.Entry[1].Cidr: "10.0.0.0/40": not an IPv4 CIDR block (the list's AddressFamily)"#
    );
    let v4_in_v6 = json!({"Entry": [{"Cidr": "10.0.0.0/8"}]});
    assert_eq!(
        prefix_list_error(
            json!({"PrefixListId": "pl-1", "AddressFamily": "IPv6", "Entries": v4_in_v6})
        ),
        r#"PrefixLists[0].Entries.Entry[0].Cidr: "10.0.0.0/8": not an IPv6 CIDR block (the list's AddressFamily)"#
    );
}

#[test]
fn prefix_list_with_more_entries_than_max_entries_is_refused() {
    let entries = json!({"Entry": [{"Cidr": "10.0.0.0/8"}, {"Cidr": "172.16.0.0/12"}, {"Cidr": "192.168.0.0/16"}]});
    assert_eq!(
        prefix_list_error(
            json!({"PrefixListId": "pl-1", "AddressFamily": "IPv4", "MaxEntries": 2, "Entries": entries})
        ),
        "PrefixLists[0].Entries.Entry: 3 entries: more entries than MaxEntries 2"
    );
    loads(
        &json!({"PrefixLists": [{"PrefixListId": "pl-1", "AddressFamily": "IPv4", "MaxEntries": "3", "Entries": entries}]}),
    );
    for (max, shown) in [
        (json!(0), "0"),
        (json!(201), "201"),
        (json!("abc"), "\"abc\""),
    ] {
        assert_eq!(
            prefix_list_error(
                json!({"PrefixListId": "pl-1", "AddressFamily": "IPv4", "MaxEntries": max})
            ),
            format!("PrefixLists[0].MaxEntries: {shown}: expected an integer 1..200")
        );
    }
}

#[test]
fn prefix_list_of_the_wrong_family_for_its_rule_is_refused() {
    let mut snapshot = with_rule(rule(json!({
        "SourceCidrIp": null, "SourcePrefixListId": "pl-v4", "Ipv6DestCidrIp": "2001:db8::/64"
    })));
    snapshot["PrefixLists"] = json!([{"PrefixListId": "pl-v4", "AddressFamily": "IPv4", "Entries": {"Entry": [{"Cidr": "10.0.0.0/8"}]}}]);
    assert_eq!(
        refused_json(&snapshot),
        format!(
            "{RULE}.SourcePrefixListId: \"pl-v4\": the prefix list is IPv4 but the rule is IPv6"
        )
    );
    let mut snapshot = with_rule(rule(json!({
        "Direction": "egress", "IpProtocol": "ICMPv6", "PortRange": "-1/-1", "SourceCidrIp": null, "DestPrefixListId": "pl-v4"
    })));
    snapshot["PrefixLists"] = json!([{"PrefixListId": "pl-v4", "AddressFamily": "IPv4"}]);
    assert_eq!(
        refused_json(&snapshot),
        format!("{RULE}.DestPrefixListId: \"pl-v4\": the prefix list is IPv4 but the rule is IPv6")
    );
}

// --- Port range lists

fn port_list_error(list: Value) -> String {
    refused_json(&json!({"PortRangeLists": [list]}))
}

#[test]
fn port_range_list_errors_are_refused() {
    assert_eq!(
        port_list_error(json!({"MaxEntries": 5})),
        r#"PortRangeLists[0].PortRangeListId: "": missing: every port range list needs its id (prl-…)"#
    );
    for (range, reason) in [
        ("0/10", "port 0 is out of 1..65535"),
        ("-1/-1", "port -1 is out of 1..65535"),
        ("90/80", "start 90 is greater than end 80"),
        ("http", "expected a/b with 1 <= a <= b <= 65535"),
    ] {
        let entries = json!({"Entry": [{"PortRange": "80/80"}, {"PortRange": range}]});
        assert_eq!(
            port_list_error(json!({"PortRangeListId": "prl-1", "Entries": entries})),
            format!("PortRangeLists[0].Entries.Entry[1].PortRange: {range:?}: {reason}")
        );
    }
    let entries = json!({"Entry": [{"PortRange": "80/80"}, {"PortRange": "443/443"}, {"PortRange": "8080/8080"}]});
    assert_eq!(
        port_list_error(json!({"PortRangeListId": "prl-1", "MaxEntries": 2, "Entries": entries})),
        "PortRangeLists[0].Entries.Entry: 3 entries: more entries than MaxEntries 2"
    );
    assert_eq!(
        port_list_error(json!({"PortRangeListId": "prl-1", "MaxEntries": 2001})),
        "PortRangeLists[0].MaxEntries: 2001: expected an integer 1..2000"
    );
    loads(&json!({"PortRangeLists": [{"PortRangeListId": "prl-1", "MaxEntries": 2000}]}));
}

// --- JSON type errors, with their path

#[test]
fn json_type_errors_name_their_path() {
    let permissions_number =
        json!({"SecurityGroups": [{"SecurityGroupId": "sg-a", "Permissions": 5}]});
    assert_eq!(
        refused_json(&permissions_number),
        "SecurityGroups[0].Permissions: invalid type: integer `5`, expected an object with a Permission array"
    );
    assert_eq!(
        refused(r#"{"SecurityGroups": {}}"#),
        "SecurityGroups: invalid type: map, expected a sequence"
    );
    assert_eq!(
        refused(r#"{"SecurityGroups": [{"SecurityGroupId": 5}]}"#),
        "SecurityGroups[0].SecurityGroupId: invalid type: integer `5`, expected a string"
    );
    assert_eq!(
        rule_error(json!({"Priority": true})),
        format!("{RULE}.Priority: true: expected an integer priority 1..100")
    );
    assert_eq!(
        refused(
            r#"{"SecurityGroups": [{"SecurityGroupId": "sg-a", "Permissions": {"Permission": {}}}]}"#
        ),
        "SecurityGroups[0].Permissions.Permission: invalid type: map, expected a sequence"
    );
    assert_eq!(
        refused(r#"{"SecurityGroups": ["sg-a"]}"#),
        "SecurityGroups[0]: invalid type: string \"sg-a\", expected a DescribeSecurityGroupAttribute response"
    );
    let nic_ids = json!({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "SecurityGroupIds": {"SecurityGroupId": "sg-a"}}]});
    assert_eq!(
        refused_json(&nic_ids),
        "NetworkInterfaces[0].SecurityGroupIds.SecurityGroupId: invalid type: string \"sg-a\", expected a sequence"
    );
}

// --- Bare shapes: paths are relative to the document

#[test]
fn bare_group_errors_name_paths_inside_the_group() {
    assert_eq!(
        refused(
            r#"{"SecurityGroupId": "sg-a", "Permissions": {"Permission": [{"Direction": "up"}]}}"#
        ),
        r#"Permissions.Permission[0].Direction: "up": expected ingress or egress"#
    );
}

#[test]
fn bare_permission_array_errors_name_paths_inside_the_array() {
    let permissions = json!([rule(json!({})), rule(json!({"PortRange": "0/80"}))]);
    assert_eq!(
        refused_json(&permissions),
        r#"[1].PortRange: "0/80": port 0 is out of 1..65535 for tcp"#
    );
    assert_eq!(
        refused(r#"[{"Direction": "ingress"}, 5]"#),
        "[1]: invalid type: integer `5`, expected a Permission object"
    );
    assert_eq!(
        refused_json(&json!([rule(json!({"SourceCidrIp": null}))])),
        "[0]: an ingress rule needs a remote object: set one of SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId, SourcePrefixListId"
    );
}

// ---------------------------------------------------------------------------------------------
// `sgsim eval` row errors

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

fn eval(flows: &str) -> (Output, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let flows_path = dir.path().join("flows.csv");
    std::fs::write(&flows_path, flows).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sgsim"))
        .args(["eval", &example("vpc-web.json")])
        .arg(&flows_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    // Row errors name the file as given; drop the temporary directory from them.
    let stderr = String::from_utf8(output.stderr.clone())
        .unwrap()
        .replace(&flows_path.display().to_string(), "flows.csv");
    (output, stdout, stderr)
}

const HEADER: &str = "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port";
const OUT_HEADER: &str = "nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port,verdict,reason,security_group_id,rule_id";

#[test]
fn eval_reports_bad_rows_with_line_numbers_and_goes_on() {
    let rows = [
        "eni-web1,sideways,tcp,203.0.113.9,40000,10.0.1.10,443",
        "eni-web1,ingress,sctp,203.0.113.9,40000,10.0.1.10,443",
        "eni-web1,ingress,tcp,203.0.113.999,40000,10.0.1.10,443",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.x,443",
        "eni-web1,ingress,tcp,203.0.113.9,40000,2408:4000:1:100::10,443",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,65536",
        "eni-web1,ingress,tcp,203.0.113.9,-1,10.0.1.10,443",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,",
        "eni-web1,ingress,udp,203.0.113.9,40000,10.0.1.10,",
        "eni-nope,ingress,tcp,203.0.113.9,40000,10.0.1.10,443",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443,extra",
        "eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443",
        "\"eni-web1\",\"ingress\",tcp,203.0.113.9,\"40000\",10.0.1.10,\"443\"",
    ];
    let (output, stdout, stderr) = eval(&format!("{HEADER}\n{}\n", rows.join("\n")));
    assert_eq!(
        output.status.code(),
        Some(1),
        "bad rows make the exit code 1"
    );

    let expected_stderr = [
        r#"flows.csv:2: direction "sideways": expected ingress or egress"#,
        r#"flows.csv:3: protocol "sctp": expected tcp, udp, icmp, icmpv6, gre or a protocol number 0..255"#,
        r#"flows.csv:4: src_ip "203.0.113.999": expected an IPv4 or IPv6 address"#,
        r#"flows.csv:5: dst_ip "10.0.1.x": expected an IPv4 or IPv6 address"#,
        r#"flows.csv:6: dst_ip "2408:4000:1:100::10": expected an address of the same family as src_ip"#,
        r#"flows.csv:7: dst_port "65536": not a port number 0..65535"#,
        r#"flows.csv:8: src_port "-1": not a port number 0..65535"#,
        r#"flows.csv:9: dst_port "": expected a destination port 0..65535 (required for tcp and udp)"#,
        r#"flows.csv:10: dst_port "": expected a destination port 0..65535 (required for tcp and udp)"#,
        r#"flows.csv:11: nic_id: no network interface "eni-nope" in the snapshot (it has eni-web1, eni-web2, eni-db1, eni-db2, eni-vault)"#,
        r#"flows.csv:12: 6 fields, expected 7 (nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port)"#,
        r#"flows.csv:13: 8 fields, expected 7 (nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port)"#,
        "flows.csv: 12 of 14 rows could not be evaluated",
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected_stderr);

    // Every row comes out, in order: bad ones say `error`, good ones (plain or quoted) are
    // evaluated. 443 from the internet is accepted by sg-web's HTTPS rule.
    // Rows without exactly 7 columns come out with their first 7 fields, padded, so that the
    // output stays rectangular (docs/semantics-notes.md).
    let mut expected_stdout = vec![OUT_HEADER.to_string()];
    for row in &rows[..10] {
        expected_stdout.push(format!("{row},error,,,"));
    }
    expected_stdout.push("eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,,error,,,".to_string());
    expected_stdout
        .push("eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443,error,,,".to_string());
    for row in &rows[12..] {
        expected_stdout.push(format!("{row},accept,rule,sg-web,sgr-web-https"));
    }
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected_stdout);
}

#[test]
fn eval_with_a_bad_header_stops_with_exit_code_1() {
    let (output, stdout, stderr) = eval("nic,direction,protocol,src,sport,dst,dport\neni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: flows.csv: line 1: header \"nic,direction,protocol,src,sport,dst,dport\": expected exactly \"nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\"\n"
    );
}

#[test]
fn eval_accepts_a_crlf_file_with_a_byte_order_mark() {
    let (output, stdout, stderr) = eval(&format!(
        "\u{feff}{HEADER}\r\neni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\r\n"
    ));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        format!("{OUT_HEADER}\neni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443,accept,rule,sg-web,sgr-web-https\n")
    );
}

#[test]
fn usage_errors_exit_with_code_2() {
    let sgsim = || Command::new(env!("CARGO_BIN_EXE_sgsim"));
    for args in [
        vec!["eval"],
        vec!["eval", "only-one-file.json"],
        vec!["frobnicate"],
        vec![
            "check",
            "snapshot.json",
            "--nic",
            "eni-1",
            "--protocol",
            "tcp",
            "--bogus",
        ],
        vec![
            "check",
            "snapshot.json",
            "--protocol",
            "tcp",
            "--from",
            "eni-a",
        ],
    ] {
        let output = sgsim().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "sgsim {args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("Usage:"),
            "sgsim {args:?}"
        );
    }
}
