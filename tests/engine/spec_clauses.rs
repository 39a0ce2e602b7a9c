//! One or more tests per clause S1..S16 of `shared/spec/semantics.md`. Each test's name starts
//! with its clause. Snapshots are small JSON documents loaded through the public API, exactly as
//! a user would load them. Every question goes to every evaluator (the reference, each compiled
//! tier built eagerly, the lazy linear path, one flow at a time and as a batch: see
//! `common::evaluators`); runs of questions about one target are tables of rows.

use crate::common::evaluators::Evaluators;
use serde_json::{json, Value};
use sgsim::model::{Direction, EvalOptions, Flow, NicType};
use sgsim::{Engine, Snapshot};

// ---------------------------------------------------------------------------------------------
// Building snapshots

/// A permission as DescribeSecurityGroupAttribute returns it; `fields` holds the set fields.
fn rule(id: &str, fields: Value) -> Value {
    let mut rule = json!({ "SecurityGroupRuleId": id });
    rule.as_object_mut().unwrap().extend(
        fields
            .as_object()
            .expect("rule fields are an object")
            .clone(),
    );
    rule
}

/// A basic VPC group with InnerAccessPolicy Accept (the API's defaults).
fn group(id: &str, rules: Vec<Value>) -> Value {
    json!({
        "SecurityGroupId": id, "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
        "Permissions": { "Permission": rules }
    })
}

/// `group` with one more top-level field set (`SecurityGroupType`, `InnerAccessPolicy`, …).
fn group_with(id: &str, key: &str, value: &str, rules: Vec<Value>) -> Value {
    let mut group = group(id, rules);
    group[key] = json!(value);
    group
}

/// A NIC: the first IPv4 address is the primary one; IPv6 addresses go to `Ipv6Sets`.
fn nic(id: &str, addresses: &[&str], groups: &[&str]) -> Value {
    let (v6, v4): (Vec<&str>, Vec<&str>) = addresses.iter().partition(|a| a.contains(':'));
    json!({
        "NetworkInterfaceId": id, "InstanceId": format!("i-{id}"), "VpcId": "vpc-1",
        "PrivateIpAddress": v4.first().copied().unwrap_or(""),
        "PrivateIpSets": { "PrivateIpSet": v4.iter().map(|a| json!({"PrivateIpAddress": a})).collect::<Vec<_>>() },
        "Ipv6Sets": { "Ipv6Set": v6.iter().map(|a| json!({"Ipv6Address": a})).collect::<Vec<_>>() },
        "SecurityGroupIds": { "SecurityGroupId": groups },
    })
}

fn load(snapshot: &Value) -> Snapshot {
    Snapshot::from_json_str(&snapshot.to_string()).expect("the test snapshot loads")
}

/// Every evaluator on `snapshot`, with the default options.
fn engine(snapshot: Value) -> Evaluators {
    engine_with(snapshot, EvalOptions::default())
}

fn engine_with(snapshot: Value, options: EvalOptions) -> Evaluators {
    Evaluators::new(load(&snapshot), options)
}

// ---------------------------------------------------------------------------------------------
// Asking questions

/// `[direction, protocol, src_ip, src_port, dst_ip, dst_port]`, as the CSV contract gives them.
type FlowFields<'a> = [&'a str; 6];

fn flow(fields: FlowFields) -> Flow {
    let [direction, protocol, src, sport, dst, dport] = fields;
    Flow::parse(direction, protocol, src, sport, dst, dport).expect("the test flow parses")
}

/// The verdict in the CSV's words: `accept rule sg-a/sgr-1`, `drop default`, …
fn describe(engine: &Engine, verdict: sgsim::model::Verdict) -> String {
    let mut out = format!("{} {}", verdict.action.as_str(), verdict.reason.as_str());
    if let Some(rule_ref) = verdict.deciding_rule() {
        let (group, rule) = engine.rule(rule_ref);
        out += &format!(" {}/{}", group.id, rule.id);
    }
    out
}

/// The verdict on one flow at a NIC (or, for a bare group snapshot, a group), once every
/// evaluator agrees with the reference; a failure points at the calling line and names the
/// evaluator that disagrees.
#[track_caller]
fn ask(e: &Evaluators, target: &str, fields: FlowFields) -> String {
    let engine = e.engine();
    let index = engine.target(target).expect("the test target exists");
    match e.check(index, &flow(fields)) {
        Ok(verdict) => describe(engine, verdict),
        Err(disagreement) => panic!("{target} {fields:?}: {disagreement}"),
    }
}

/// A table of questions about one target: each row is a flow and the expected verdict.
#[track_caller]
fn rows(e: &Evaluators, target: &str, table: &[(FlowFields, &str)]) {
    for (row, (fields, expected)) in table.iter().enumerate() {
        assert_eq!(
            ask(e, target, *fields),
            *expected,
            "row {row}: {target} {fields:?}"
        );
    }
}

/// Why loading `snapshot` fails (it must fail).
fn load_error(snapshot: &Value) -> sgsim::LoadError {
    Snapshot::from_json_str(&snapshot.to_string()).expect_err("the snapshot must be refused")
}

// ---------------------------------------------------------------------------------------------
// S1: protocols

// S1: protocol names are case-insensitive in rules and in flows.
#[test]
fn s1_protocol_names_match_in_any_letter_case() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-tcp", json!({"Direction": "ingress", "IpProtocol": "tCp", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-udp", json!({"Direction": "ingress", "IpProtocol": "Udp", "PortRange": "53/53", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-icmp", json!({"Direction": "ingress", "IpProtocol": "ICMP", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-icmpv6", json!({"Direction": "ingress", "IpProtocol": "IcmpV6", "PortRange": "-1/-1", "Ipv6SourceCidrIp": "::/0"})),
            rule("sgr-gre", json!({"Direction": "ingress", "IpProtocol": "gRE", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5", "2001:db8::5"], &["sg-a"])]
    }));
    for protocol in ["tcp", "TCP", "Tcp"] {
        let fields = ["ingress", protocol, "192.0.2.1", "40000", "10.0.0.5", "22"];
        assert_eq!(ask(&e, "eni-a", fields), "accept rule sg-a/sgr-tcp");
    }
    for protocol in ["udp", "UDP"] {
        let fields = ["ingress", protocol, "192.0.2.1", "40000", "10.0.0.5", "53"];
        assert_eq!(ask(&e, "eni-a", fields), "accept rule sg-a/sgr-udp");
    }
    for protocol in ["icmp", "ICMP"] {
        let fields = ["ingress", protocol, "192.0.2.1", "", "10.0.0.5", ""];
        assert_eq!(ask(&e, "eni-a", fields), "accept rule sg-a/sgr-icmp");
    }
    for protocol in ["icmpv6", "ICMPv6"] {
        let fields = ["ingress", protocol, "2001:db8::1", "", "2001:db8::5", ""];
        assert_eq!(ask(&e, "eni-a", fields), "accept rule sg-a/sgr-icmpv6");
    }
    for protocol in ["gre", "GRE"] {
        let fields = ["ingress", protocol, "192.0.2.1", "", "10.0.0.5", ""];
        assert_eq!(ask(&e, "eni-a", fields), "accept rule sg-a/sgr-gre");
    }
}

// S1: 6, 17, 1, 58, 47 are the same as tcp, udp, icmp, icmpv6, gre — in rules and in flows.
#[test]
fn s1_protocol_numbers_are_the_same_as_their_names() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-6", json!({"Direction": "ingress", "IpProtocol": "6", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-17", json!({"Direction": "ingress", "IpProtocol": "17", "PortRange": "53/53", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-1", json!({"Direction": "ingress", "IpProtocol": "1", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-58", json!({"Direction": "ingress", "IpProtocol": "58", "PortRange": "-1/-1", "Ipv6SourceCidrIp": "::/0"})),
            rule("sgr-47", json!({"Direction": "ingress", "IpProtocol": "47", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5", "2001:db8::5"], &["sg-a"])]
    }));
    for (name, number, rule_id, src, dst, dport) in [
        ("tcp", "6", "sgr-6", "192.0.2.1", "10.0.0.5", "22"),
        ("udp", "17", "sgr-17", "192.0.2.1", "10.0.0.5", "53"),
        ("icmp", "1", "sgr-1", "192.0.2.1", "10.0.0.5", ""),
        ("icmpv6", "58", "sgr-58", "2001:db8::1", "2001:db8::5", ""),
        ("gre", "47", "sgr-47", "192.0.2.1", "10.0.0.5", ""),
    ] {
        assert_eq!(
            flow(["ingress", name, src, "40000", dst, dport]),
            flow(["ingress", number, src, "40000", dst, dport]),
            "{name} and {number} are one protocol"
        );
        let expected = format!("accept rule sg-a/{rule_id}");
        assert_eq!(
            ask(&e, "eni-a", ["ingress", name, src, "40000", dst, dport]),
            expected
        );
        assert_eq!(
            ask(&e, "eni-a", ["ingress", number, src, "40000", dst, dport]),
            expected
        );
    }
}

// S1: any other number 0..255 names that IANA protocol and matches only itself.
#[test]
fn s1_other_protocol_numbers_match_only_themselves() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-sctp", json!({"Direction": "ingress", "IpProtocol": "132", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-hopopt", json!({"Direction": "ingress", "IpProtocol": "0", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    let from = |protocol| ["ingress", protocol, "192.0.2.1", "", "10.0.0.5", "80"];
    rows(
        &e,
        "eni-a",
        &[
            (from("132"), "accept rule sg-a/sgr-sctp"),
            (from("0"), "accept rule sg-a/sgr-hopopt"),
            (from("133"), "drop default"),
            (from("255"), "drop default"),
            (from("tcp"), "drop default"),
        ],
    );
    // A flow names one protocol: 256 is no protocol number, and `all` is no flow protocol.
    for bad in ["256", "all", "sctp", "-1", ""] {
        let [direction, protocol, src, sport, dst, dport] = from(bad);
        assert!(
            Flow::parse(direction, protocol, src, sport, dst, dport).is_err(),
            "{bad:?} is no flow protocol"
        );
    }
}

// S1: `all` matches every protocol.
#[test]
fn s1_all_matches_every_protocol() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-all", json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    for protocol in ["tcp", "udp", "icmp", "gre", "0", "132", "255"] {
        let fields = ["ingress", protocol, "192.0.2.1", "1", "10.0.0.5", "80"];
        assert_eq!(
            ask(&e, "eni-a", fields),
            "accept rule sg-a/sgr-all",
            "{protocol}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// S2: port ranges

fn one_rule_snapshot(fields: Value) -> Value {
    json!({ "SecurityGroups": [group("sg-a", vec![rule("sgr-1", fields)])] })
}

// S2: TCP/UDP ranges are a/b with 1 <= a <= b <= 65535, and they are required.
#[test]
fn s2_tcp_and_udp_take_ranges_within_1_to_65535() {
    for protocol in ["TCP", "UDP"] {
        for good in ["1/65535", "22/22", "1/1", "65535/65535"] {
            let fields = json!({"Direction": "ingress", "IpProtocol": protocol, "PortRange": good, "SourceCidrIp": "0.0.0.0/0"});
            load(&one_rule_snapshot(fields));
        }
        for bad in [
            "0/80", "80/22", "1/65536", "-1/-1", "", "22", "a/b", "22/22/22",
        ] {
            let fields = json!({"Direction": "ingress", "IpProtocol": protocol, "PortRange": bad, "SourceCidrIp": "0.0.0.0/0"});
            let err = load_error(&one_rule_snapshot(fields));
            assert_eq!(
                err.path, "SecurityGroups[0].Permissions.Permission[0].PortRange",
                "{protocol} {bad:?}: {err}"
            );
            assert_eq!(err.value, format!("{bad:?}"));
        }
    }
}

// S2: every other protocol takes exactly -1/-1.
#[test]
fn s2_portless_protocols_take_exactly_minus_one_minus_one() {
    for protocol in ["ICMP", "GRE", "ALL", "132"] {
        let fields = json!({"Direction": "ingress", "IpProtocol": protocol, "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"});
        load(&one_rule_snapshot(fields));
        for bad in ["1/65535", "22/22", "-1/22"] {
            let fields = json!({"Direction": "ingress", "IpProtocol": protocol, "PortRange": bad, "SourceCidrIp": "0.0.0.0/0"});
            let err = load_error(&one_rule_snapshot(fields));
            assert_eq!(
                err.path,
                "SecurityGroups[0].Permissions.Permission[0].PortRange"
            );
            assert!(err.message.contains("-1/-1"), "{protocol} {bad}: {err}");
        }
    }
}

// S2: an empty SourcePortRange, or -1/-1, means any source port — even port 0.
#[test]
fn s2_empty_or_minus_one_source_port_range_means_any_source_port() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-empty", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "80/80", "SourcePortRange": "", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-minus-one", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "81/81", "SourcePortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    for sport in ["", "0", "1", "65535"] {
        let to = |dport| ["ingress", "tcp", "192.0.2.1", sport, "10.0.0.5", dport];
        assert_eq!(ask(&e, "eni-a", to("80")), "accept rule sg-a/sgr-empty");
        assert_eq!(ask(&e, "eni-a", to("81")), "accept rule sg-a/sgr-minus-one");
    }
}

// ---------------------------------------------------------------------------------------------
// S3: ports of a flow

// S3: a destination port of 0 is in no TCP/UDP range, not even 1/65535.
#[test]
fn s3_port_zero_matches_no_tcp_or_udp_range() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-tcp", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "1/65535", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-udp", json!({"Direction": "ingress", "IpProtocol": "UDP", "PortRange": "1/65535", "SourcePortRange": "1/65535", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    let f = |protocol, sport, dport| ["ingress", protocol, "192.0.2.1", sport, "10.0.0.5", dport];
    rows(
        &e,
        "eni-a",
        &[
            (f("tcp", "40000", "1"), "accept rule sg-a/sgr-tcp"),
            (f("tcp", "40000", "65535"), "accept rule sg-a/sgr-tcp"),
            (f("tcp", "40000", "0"), "drop default"),
            (f("udp", "40000", "53"), "accept rule sg-a/sgr-udp"),
            (f("udp", "40000", "0"), "drop default"),
        ],
    );
    // A source port of 0 (or none given) is outside the source range 1/65535.
    assert_eq!(ask(&e, "eni-a", f("udp", "0", "53")), "drop default");
    assert_eq!(ask(&e, "eni-a", f("udp", "", "53")), "drop default");
}

// S3: both ends of a range are included.
#[test]
fn s3_destination_range_bounds_are_inclusive() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-web", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "8000/8080", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    let to = |dport| ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", dport];
    rows(
        &e,
        "eni-a",
        &[
            (to("7999"), "drop default"),
            (to("8000"), "accept rule sg-a/sgr-web"),
            (to("8080"), "accept rule sg-a/sgr-web"),
            (to("8081"), "drop default"),
        ],
    );
}

// S3: a source port range limits the flow's source port.
#[test]
fn s3_source_port_range_limits_the_source_port() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-ssh", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourcePortRange": "1024/65535", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    let from = |sport| ["ingress", "tcp", "192.0.2.1", sport, "10.0.0.5", "22"];
    rows(
        &e,
        "eni-a",
        &[
            (from("1024"), "accept rule sg-a/sgr-ssh"),
            (from("65535"), "accept rule sg-a/sgr-ssh"),
            (from("1023"), "drop default"),
            (from("0"), "drop default"),
        ],
    );
}

// S3: rules of protocols other than TCP/UDP ignore ports, even a TCP flow's port 0.
#[test]
fn s3_rules_of_other_protocols_ignore_ports() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-all", json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourcePortRange": "-1/-1", "SourceCidrIp": "192.0.2.0/24"})),
            rule("sgr-gre", json!({"Direction": "ingress", "IpProtocol": "GRE", "PortRange": "-1/-1", "SourceCidrIp": "198.51.100.0/24"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    let f = |protocol, src, sport, dport| ["ingress", protocol, src, sport, "10.0.0.5", dport];
    rows(
        &e,
        "eni-a",
        &[
            (f("tcp", "192.0.2.1", "0", "0"), "accept rule sg-a/sgr-all"),
            (
                f("udp", "192.0.2.1", "7", "65535"),
                "accept rule sg-a/sgr-all",
            ),
            (
                f("gre", "198.51.100.1", "5", "6"),
                "accept rule sg-a/sgr-gre",
            ),
            (f("gre", "198.51.100.1", "", ""), "accept rule sg-a/sgr-gre"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// S4: matching one rule

// S4: direction, protocol, ports, remote, local and family must all agree.
#[test]
fn s4_a_rule_matches_only_when_every_condition_holds() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-quintuple", json!({
                "Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
                "SourcePortRange": "1000/2000", "SourceCidrIp": "192.0.2.0/24", "DestCidrIp": "10.0.0.5/32"
            })),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5", "10.0.0.6", "2001:db8::5"], &["sg-a"])]
    }));
    let matching = ["ingress", "tcp", "192.0.2.9", "1500", "10.0.0.5", "22"];
    assert_eq!(ask(&e, "eni-a", matching), "accept rule sg-a/sgr-quintuple");

    // Each variant breaks exactly one condition, so no rule matches and the default decides.
    let variants: [(&str, FlowFields); 6] = [
        (
            "direction",
            ["egress", "tcp", "192.0.2.9", "1500", "10.0.0.5", "22"],
        ),
        (
            "protocol",
            ["ingress", "udp", "192.0.2.9", "1500", "10.0.0.5", "22"],
        ),
        (
            "destination port",
            ["ingress", "tcp", "192.0.2.9", "1500", "10.0.0.5", "23"],
        ),
        (
            "source port",
            ["ingress", "tcp", "192.0.2.9", "999", "10.0.0.5", "22"],
        ),
        (
            "remote address",
            ["ingress", "tcp", "198.51.100.9", "1500", "10.0.0.5", "22"],
        ),
        (
            "local address",
            ["ingress", "tcp", "192.0.2.9", "1500", "10.0.0.6", "22"],
        ),
    ];
    for (broken, fields) in variants {
        // Basic groups accept egress and drop ingress by default (S12).
        let expected = if fields[0] == "egress" {
            "accept default"
        } else {
            "drop default"
        };
        assert_eq!(ask(&e, "eni-a", fields), expected, "{broken} differs");
    }
    let ipv6 = ["ingress", "tcp", "2001:db8::9", "1500", "2001:db8::5", "22"];
    assert_eq!(ask(&e, "eni-a", ipv6), "drop default", "family differs");
}

// S4 (objects): when several remote objects are given, CIDR > group > prefix list.
#[test]
fn s4_remote_object_precedence_is_cidr_then_group_then_prefix_list() {
    let e = engine(json!({
        "SecurityGroups": [
            group("sg-a", vec![
                rule("sgr-cidr-over-group", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
                    "SourceCidrIp": "192.0.2.0/24", "SourceGroupId": "sg-peer", "SourcePrefixListId": "pl-1"})),
                rule("sgr-group-over-list", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "80/80",
                    "SourceGroupId": "sg-peer", "SourcePrefixListId": "pl-1"})),
            ]),
            group("sg-peer", vec![]),
        ],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.5"], &["sg-a"]),
            nic("eni-peer", &["10.0.9.9"], &["sg-peer"]),
        ],
        "PrefixLists": [{"PrefixListId": "pl-1", "AddressFamily": "IPv4", "MaxEntries": 5,
                         "Entries": {"Entry": [{"Cidr": "198.51.100.0/24"}]}}]
    }));
    let from = |src, dport| ["ingress", "tcp", src, "40000", "10.0.0.5", dport];
    rows(
        &e,
        "eni-a",
        &[
            (
                from("192.0.2.1", "22"),
                "accept rule sg-a/sgr-cidr-over-group",
            ),
            (from("10.0.9.9", "22"), "drop default"),
            (from("198.51.100.1", "22"), "drop default"),
            (
                from("10.0.9.9", "80"),
                "accept rule sg-a/sgr-group-over-list",
            ),
            (from("198.51.100.1", "80"), "drop default"),
        ],
    );
}

// S4 (objects): a given PortRange makes PortRangeListId ignored.
#[test]
fn s4_port_range_makes_port_range_list_ignored() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-ssh", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22",
                "PortRangeListId": "prl-admin", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])],
        "PortRangeLists": [{"PortRangeListId": "prl-admin", "MaxEntries": 5,
                            "Entries": {"Entry": [{"PortRange": "8080/8080"}]}}]
    }));
    let to = |dport| ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", dport];
    assert_eq!(ask(&e, "eni-a", to("22")), "accept rule sg-a/sgr-ssh");
    assert_eq!(ask(&e, "eni-a", to("8080")), "drop default");
}

// S4: egress rules match the destination as remote and the source as local.
#[test]
fn s4_egress_rules_see_the_destination_as_remote() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            rule("sgr-out", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "TCP", "PortRange": "443/443",
                "DestCidrIp": "203.0.113.0/24", "SourceCidrIp": "10.0.0.6"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5", "10.0.0.6"], &["sg-a"])]
    }));
    let f = |src, dst| ["egress", "tcp", src, "40000", dst, "443"];
    rows(
        &e,
        "eni-a",
        &[
            (f("10.0.0.6", "203.0.113.7"), "drop rule sg-a/sgr-out"),
            (f("10.0.0.5", "203.0.113.7"), "accept default"),
            (f("10.0.0.6", "198.51.100.7"), "accept default"),
        ],
    );
    // The addresses swapped: an ingress flow is no candidate for an egress rule.
    let swapped = ["ingress", "tcp", "203.0.113.7", "40000", "10.0.0.6", "443"];
    assert_eq!(ask(&e, "eni-a", swapped), "drop default");
}

// ---------------------------------------------------------------------------------------------
// S5: address families

/// NIC eni-a carries sg-a; eni-peer (IPv4 and IPv6) carries sg-peer. No group is shared, so
/// inner access (S11) never applies.
fn family_snapshot(rules: Vec<Value>) -> Value {
    json!({
        "SecurityGroups": [group("sg-a", rules), group("sg-peer", vec![])],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.5", "2001:db8::5"], &["sg-a"]),
            nic("eni-peer", &["10.0.9.9", "2001:db8::99"], &["sg-peer"]),
        ],
        "PrefixLists": [{"PrefixListId": "pl-v6", "AddressFamily": "IPv6", "MaxEntries": 5,
                         "Entries": {"Entry": [{"Cidr": "2001:db8::/32"}]}}]
    })
}

/// SSH to `eni-a` of [`family_snapshot`] from the world and from the peer NIC, in each family.
const WORLD_V4: FlowFields = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "22"];
const WORLD_V6: FlowFields = [
    "ingress",
    "tcp",
    "2001:db8::1",
    "40000",
    "2001:db8::5",
    "22",
];
const PEER_V4: FlowFields = ["ingress", "tcp", "10.0.9.9", "40000", "10.0.0.5", "22"];
const PEER_V6: FlowFields = [
    "ingress",
    "tcp",
    "2001:db8::99",
    "40000",
    "2001:db8::5",
    "22",
];

// S5: an IPv4 CIDR rule matches only IPv4 flows, even when it says 0.0.0.0/0 and `all`.
#[test]
fn s5_ipv4_cidr_rules_match_only_ipv4_flows() {
    let e = engine(family_snapshot(vec![rule(
        "sgr-any-v4",
        json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"}),
    )]));
    let (v4, v6) = (WORLD_V4, WORLD_V6);
    assert_eq!(ask(&e, "eni-a", v4), "accept rule sg-a/sgr-any-v4");
    assert_eq!(ask(&e, "eni-a", v6), "drop default");
}

// S5: an IPv6 CIDR rule matches only IPv6 flows.
#[test]
fn s5_ipv6_cidr_rules_match_only_ipv6_flows() {
    let e = engine(family_snapshot(vec![rule(
        "sgr-any-v6",
        json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "Ipv6SourceCidrIp": "::/0"}),
    )]));
    let (v4, v6) = (WORLD_V4, WORLD_V6);
    assert_eq!(ask(&e, "eni-a", v4), "drop default");
    assert_eq!(ask(&e, "eni-a", v6), "accept rule sg-a/sgr-any-v6");
}

// S5: icmp matches only IPv4 flows and icmpv6 only IPv6 flows, even without a CIDR to say so.
#[test]
fn s5_icmp_is_ipv4_only_and_icmpv6_is_ipv6_only() {
    let e = engine(family_snapshot(vec![
        rule(
            "sgr-icmp",
            json!({"Direction": "ingress", "IpProtocol": "ICMP", "PortRange": "-1/-1", "SourceGroupId": "sg-peer"}),
        ),
        rule(
            "sgr-icmpv6",
            json!({"Direction": "ingress", "IpProtocol": "ICMPv6", "PortRange": "-1/-1", "SourceGroupId": "sg-peer"}),
        ),
    ]));
    let f = |protocol, src, dst| ["ingress", protocol, src, "", dst, ""];
    rows(
        &e,
        "eni-a",
        &[
            (
                f("icmp", "10.0.9.9", "10.0.0.5"),
                "accept rule sg-a/sgr-icmp",
            ),
            (f("icmp", "2001:db8::99", "2001:db8::5"), "drop default"),
            (
                f("icmpv6", "2001:db8::99", "2001:db8::5"),
                "accept rule sg-a/sgr-icmpv6",
            ),
            (f("icmpv6", "10.0.9.9", "10.0.0.5"), "drop default"),
        ],
    );
}

// S5: a group reference without a CIDR matches both families.
#[test]
fn s5_group_reference_matches_both_families() {
    let e = engine(family_snapshot(vec![rule(
        "sgr-from-peer",
        json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourceGroupId": "sg-peer"}),
    )]));
    let (v4, v6) = (PEER_V4, PEER_V6);
    assert_eq!(ask(&e, "eni-a", v4), "accept rule sg-a/sgr-from-peer");
    assert_eq!(ask(&e, "eni-a", v6), "accept rule sg-a/sgr-from-peer");
}

// S5: a local CIDR limits the family as a remote one does.
#[test]
fn s5_local_cidr_limits_the_family_of_a_group_reference_rule() {
    let e = engine(family_snapshot(vec![rule(
        "sgr-peer-to-v4",
        json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourceGroupId": "sg-peer", "DestCidrIp": "10.0.0.0/8"}),
    )]));
    let (v4, v6) = (PEER_V4, PEER_V6);
    assert_eq!(ask(&e, "eni-a", v4), "accept rule sg-a/sgr-peer-to-v4");
    assert_eq!(ask(&e, "eni-a", v6), "drop default");
}

// S5: an IPv6 prefix list matches only IPv6 flows.
#[test]
fn s5_prefix_list_family_limits_the_rule() {
    let e = engine(family_snapshot(vec![rule(
        "sgr-from-v6-list",
        json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourcePrefixListId": "pl-v6"}),
    )]));
    let v6 = [
        "ingress",
        "udp",
        "2001:db8:7::1",
        "5000",
        "2001:db8::5",
        "53",
    ];
    let v6_outside = ["ingress", "udp", "2001:db9::1", "5000", "2001:db8::5", "53"];
    let v4 = ["ingress", "udp", "192.0.2.1", "5000", "10.0.0.5", "53"];
    rows(
        &e,
        "eni-a",
        &[
            (v6, "accept rule sg-a/sgr-from-v6-list"),
            (v6_outside, "drop default"),
            (v4, "drop default"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// S6: group references

/// sg-app is carried by eni-app1 (two IPv4 addresses and one IPv6) and by eni-app2 as its
/// second group; sg-db references it. eni-stranger carries only sg-other.
fn group_reference_snapshot() -> Value {
    json!({
        "SecurityGroups": [
            group("sg-db", vec![
                rule("sgr-db-pg", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": "sg-app"})),
                rule("sgr-db-elsewhere", json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceGroupId": "sg-other-account"})),
                rule("sgr-db-empty-group", json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceGroupId": "sg-unused"})),
                rule("sgr-db-no-calls-to-app", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestGroupId": "sg-app"})),
            ]),
            group("sg-app", vec![]),
            group("sg-other", vec![]),
            group("sg-unused", vec![]),
        ],
        "NetworkInterfaces": [
            nic("eni-db", &["10.0.2.10", "2001:db8:2::10"], &["sg-db"]),
            nic("eni-app1", &["10.0.1.10", "10.0.1.11", "2001:db8:1::10"], &["sg-app"]),
            nic("eni-app2", &["10.0.1.20"], &["sg-other", "sg-app"]),
            nic("eni-stranger", &["10.0.9.9"], &["sg-other"]),
        ]
    })
}

// S6: a group reference covers every private IPv4 and IPv6 address of every NIC carrying it.
#[test]
fn s6_group_reference_covers_every_address_of_every_member_nic() {
    let e = engine(group_reference_snapshot());
    for (src, dst) in [
        ("10.0.1.10", "10.0.2.10"),           // eni-app1, primary
        ("10.0.1.11", "10.0.2.10"),           // eni-app1, secondary
        ("2001:db8:1::10", "2001:db8:2::10"), // eni-app1, IPv6
        ("10.0.1.20", "10.0.2.10"),           // eni-app2 carries sg-app second
    ] {
        let fields = ["ingress", "tcp", src, "40000", dst, "5432"];
        assert_eq!(
            ask(&e, "eni-db", fields),
            "accept rule sg-db/sgr-db-pg",
            "from {src}"
        );
    }
    // Not a member: a NIC without sg-app, and an address in sg-app's subnet that no NIC owns.
    for src in ["10.0.9.9", "10.0.1.12"] {
        let fields = ["ingress", "tcp", src, "40000", "10.0.2.10", "5432"];
        assert_eq!(ask(&e, "eni-db", fields), "drop default", "from {src}");
    }
    // Egress DestGroupId likewise.
    let to_app = ["egress", "tcp", "10.0.2.10", "40000", "10.0.1.11", "8080"];
    assert_eq!(
        ask(&e, "eni-db", to_app),
        "drop rule sg-db/sgr-db-no-calls-to-app"
    );
    let to_stranger = ["egress", "tcp", "10.0.2.10", "40000", "10.0.9.9", "8080"];
    assert_eq!(ask(&e, "eni-db", to_stranger), "accept default");
}

// S6: a group not in the snapshot (another account's), or carried by no NIC, covers nothing.
#[test]
fn s6_group_not_in_the_snapshot_or_without_nics_matches_nothing() {
    let e = engine(group_reference_snapshot());
    for src in ["10.0.1.10", "10.0.9.9", "192.0.2.1"] {
        let fields = ["ingress", "udp", src, "40000", "10.0.2.10", "53"];
        assert_eq!(ask(&e, "eni-db", fields), "drop default", "from {src}");
    }
}

// S6: membership is read from the snapshot as it stands: moving a NIC changes the verdict.
#[test]
fn s6_membership_follows_the_snapshot() {
    let mut snapshot = group_reference_snapshot();
    let from_stranger = ["ingress", "tcp", "10.0.9.9", "40000", "10.0.2.10", "5432"];
    assert_eq!(
        ask(&engine(snapshot.clone()), "eni-db", from_stranger),
        "drop default"
    );
    snapshot["NetworkInterfaces"][3]["SecurityGroupIds"]["SecurityGroupId"] = json!(["sg-app"]);
    assert_eq!(
        ask(&engine(snapshot), "eni-db", from_stranger),
        "accept rule sg-db/sgr-db-pg"
    );
}

// ---------------------------------------------------------------------------------------------
// S7: prefix lists and port lists

fn list_snapshot(rules: Vec<Value>) -> Value {
    json!({
        "SecurityGroups": [group("sg-a", rules)],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])],
        "PrefixLists": [{"PrefixListId": "pl-office", "AddressFamily": "IPv4", "MaxEntries": 10,
                         "Entries": {"Entry": [{"Cidr": "192.0.2.0/24"}, {"Cidr": "198.18.0.0/15"}]}}],
        "PortRangeLists": [{"PortRangeListId": "prl-admin", "MaxEntries": 5,
                            "Entries": {"Entry": [{"PortRange": "8080/8080"}, {"PortRange": "9000/9100"}]}}]
    })
}

// S7: a prefix-list reference covers every CIDR of the list.
#[test]
fn s7_prefix_list_covers_each_of_its_cidrs() {
    let e = engine(list_snapshot(vec![
        rule(
            "sgr-ssh-office",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourcePrefixListId": "pl-office"}),
        ),
        rule(
            "sgr-no-office-out",
            json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestPrefixListId": "pl-office"}),
        ),
    ]));
    let from = |src| ["ingress", "tcp", src, "40000", "10.0.0.5", "22"];
    rows(
        &e,
        "eni-a",
        &[
            (from("192.0.2.200"), "accept rule sg-a/sgr-ssh-office"),
            (from("198.19.255.1"), "accept rule sg-a/sgr-ssh-office"),
            (from("198.20.0.1"), "drop default"),
        ],
    );
    let to = |dst| ["egress", "udp", "10.0.0.5", "40000", dst, "53"];
    assert_eq!(
        ask(&e, "eni-a", to("198.18.3.4")),
        "drop rule sg-a/sgr-no-office-out"
    );
    assert_eq!(ask(&e, "eni-a", to("203.0.113.1")), "accept default");
}

// S7: a port-list reference covers every range of the list.
#[test]
fn s7_port_list_covers_each_of_its_ranges() {
    let e = engine(list_snapshot(vec![
        rule(
            "sgr-admin",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "-1/-1", "PortRangeListId": "prl-admin", "SourceCidrIp": "0.0.0.0/0"}),
        ),
        rule(
            "sgr-admin-udp",
            json!({"Direction": "ingress", "IpProtocol": "UDP", "PortRange": "", "PortRangeListId": "prl-admin", "SourceCidrIp": "0.0.0.0/0"}),
        ),
    ]));
    for (protocol, rule_id) in [("tcp", "sgr-admin"), ("udp", "sgr-admin-udp")] {
        let to = |dport| ["ingress", protocol, "192.0.2.1", "40000", "10.0.0.5", dport];
        for dport in ["8080", "9000", "9050", "9100"] {
            assert_eq!(
                ask(&e, "eni-a", to(dport)),
                format!("accept rule sg-a/{rule_id}"),
                "{protocol} {dport}"
            );
        }
        for dport in ["0", "8079", "8081", "8999", "9101"] {
            assert_eq!(
                ask(&e, "eni-a", to(dport)),
                "drop default",
                "{protocol} {dport}"
            );
        }
    }
}

// S7: a list that is not in the snapshot covers nothing.
#[test]
fn s7_missing_prefix_or_port_list_matches_nothing() {
    let e = engine(list_snapshot(vec![
        rule(
            "sgr-missing-pl",
            json!({"Direction": "ingress", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourcePrefixListId": "pl-gone"}),
        ),
        rule(
            "sgr-missing-prl",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRangeListId": "prl-gone", "SourceCidrIp": "0.0.0.0/0"}),
        ),
    ]));
    for dport in ["22", "8080", "65535"] {
        let fields = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", dport];
        assert_eq!(ask(&e, "eni-a", fields), "drop default");
    }
}

// S7: lists are read as they stand at evaluation time.
#[test]
fn s7_list_entries_follow_the_snapshot() {
    let mut snapshot = list_snapshot(vec![rule(
        "sgr-ssh-office",
        json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRangeListId": "prl-admin", "SourcePrefixListId": "pl-office"}),
    )]);
    let fields = ["ingress", "tcp", "203.0.113.5", "40000", "10.0.0.5", "22"];
    assert_eq!(
        ask(&engine(snapshot.clone()), "eni-a", fields),
        "drop default"
    );
    snapshot["PrefixLists"][0]["Entries"]["Entry"] = json!([{"Cidr": "203.0.113.0/24"}]);
    snapshot["PortRangeLists"][0]["Entries"]["Entry"] = json!([{"PortRange": "22/22"}]);
    assert_eq!(
        ask(&engine(snapshot), "eni-a", fields),
        "accept rule sg-a/sgr-ssh-office"
    );
}

// ---------------------------------------------------------------------------------------------
// S8: CIDR spelling

// S8: host bits are accepted and mean the network.
#[test]
fn s8_host_bits_are_accepted_and_mean_the_network() {
    let e = engine(family_snapshot(vec![
        rule(
            "sgr-v4",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "192.0.2.77/24"}),
        ),
        rule(
            "sgr-v6",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "Ipv6SourceCidrIp": "2001:db8:1::1/48"}),
        ),
        rule(
            "sgr-local",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0", "DestCidrIp": "10.0.0.99/24"}),
        ),
    ]));
    let f = |src, dst, dport| ["ingress", "tcp", src, "40000", dst, dport];
    rows(
        &e,
        "eni-a",
        &[
            (f("192.0.2.1", "10.0.0.5", "22"), "accept rule sg-a/sgr-v4"),
            (f("192.0.3.1", "10.0.0.5", "22"), "drop default"),
            (
                f("2001:db8:1:ffff::1", "2001:db8::5", "22"),
                "accept rule sg-a/sgr-v6",
            ),
            (f("2001:db8:2::1", "2001:db8::5", "22"), "drop default"),
            (
                f("192.0.2.1", "10.0.0.5", "80"),
                "accept rule sg-a/sgr-local",
            ),
            (f("192.0.2.1", "10.0.1.5", "80"), "drop default"),
        ],
    );
}

// S8: a bare address means a /32 or a /128.
#[test]
fn s8_bare_address_means_a_single_host() {
    let e = engine(family_snapshot(vec![
        rule(
            "sgr-v4",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "198.51.100.7"}),
        ),
        rule(
            "sgr-v6",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "Ipv6SourceCidrIp": "2001:db8::7"}),
        ),
    ]));
    let f = |src, dst| ["ingress", "tcp", src, "40000", dst, "22"];
    rows(
        &e,
        "eni-a",
        &[
            (f("198.51.100.7", "10.0.0.5"), "accept rule sg-a/sgr-v4"),
            (f("198.51.100.8", "10.0.0.5"), "drop default"),
            (f("2001:db8::7", "2001:db8::5"), "accept rule sg-a/sgr-v6"),
            (f("2001:db8::8", "2001:db8::5"), "drop default"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// S9: candidates

// S9: the rules of every group of the NIC compete together.
#[test]
fn s9_rules_of_all_groups_of_a_nic_are_pooled() {
    let e = engine(json!({
        "SecurityGroups": [
            group("sg-first", vec![
                rule("sgr-first-http", json!({"Direction": "ingress", "Priority": 10, "IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"})),
            ]),
            group("sg-second", vec![
                rule("sgr-second-no-http", json!({"Direction": "ingress", "Policy": "Drop", "Priority": 5, "IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"})),
                rule("sgr-second-https", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"})),
            ]),
        ],
        "NetworkInterfaces": [
            nic("eni-both", &["10.0.0.5"], &["sg-first", "sg-second"]),
            nic("eni-first", &["10.0.0.6"], &["sg-first"]),
        ]
    }));
    let to = |dst, dport| ["ingress", "tcp", "192.0.2.1", "40000", dst, dport];
    assert_eq!(
        ask(&e, "eni-both", to("10.0.0.5", "80")),
        "drop rule sg-second/sgr-second-no-http"
    );
    assert_eq!(
        ask(&e, "eni-both", to("10.0.0.5", "443")),
        "accept rule sg-second/sgr-second-https"
    );
    // Another NIC pools only its own groups.
    assert_eq!(
        ask(&e, "eni-first", to("10.0.0.6", "80")),
        "accept rule sg-first/sgr-first-http"
    );
    assert_eq!(ask(&e, "eni-first", to("10.0.0.6", "443")), "drop default");
}

fn classic_snapshot() -> Value {
    json!({
        "SecurityGroups": [group_with("sg-classic", "VpcId", "", vec![
            rule("sgr-intranet-ssh", json!({"Direction": "ingress", "NicType": "intranet", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-internet-no-ssh", json!({"Direction": "ingress", "NicType": "internet", "Policy": "Drop", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-internet-http", json!({"Direction": "ingress", "NicType": "internet", "IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "0.0.0.0/0"})),
        ])]
    })
}

// S9: in the classic network, only rules of the flow's NicType are candidates.
#[test]
fn s9_classic_network_rules_apply_by_nic_type() {
    let ssh = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "22"];
    let http = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "80"];

    let intranet = engine(classic_snapshot());
    assert_eq!(*intranet.engine().options(), EvalOptions::default());
    assert_eq!(
        ask(&intranet, "sg-classic", ssh),
        "accept rule sg-classic/sgr-intranet-ssh"
    );
    assert_eq!(ask(&intranet, "sg-classic", http), "drop default");

    let internet = engine_with(
        classic_snapshot(),
        EvalOptions {
            nic_type: NicType::Internet,
            ..EvalOptions::default()
        },
    );
    assert_eq!(
        ask(&internet, "sg-classic", ssh),
        "drop rule sg-classic/sgr-internet-no-ssh"
    );
    assert_eq!(
        ask(&internet, "sg-classic", http),
        "accept rule sg-classic/sgr-internet-http"
    );
}

// S9: VPC rules are always intranet, whatever NicType they carry or the query names.
#[test]
fn s9_vpc_rules_are_candidates_whatever_the_nic_type() {
    let mut snapshot = classic_snapshot();
    snapshot["SecurityGroups"][0]["VpcId"] = json!("vpc-1");
    let ssh = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "22"];
    let http = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "80"];
    for nic_type in [NicType::Intranet, NicType::Internet] {
        let e = engine_with(
            snapshot.clone(),
            EvalOptions {
                nic_type,
                ..EvalOptions::default()
            },
        );
        // Both SSH rules are candidates at priority 1, so the drop wins (S10).
        assert_eq!(
            ask(&e, "sg-classic", ssh),
            "drop rule sg-classic/sgr-internet-no-ssh"
        );
        assert_eq!(
            ask(&e, "sg-classic", http),
            "accept rule sg-classic/sgr-internet-http"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// S10: priority and the deciding rule

fn tcp_rule(id: &str, policy: &str, priority: Value, cidr: &str) -> Value {
    rule(
        id,
        json!({"Direction": "ingress", "Policy": policy, "Priority": priority, "IpProtocol": "TCP", "PortRange": "1/65535", "SourceCidrIp": cidr}),
    )
}

fn ssh_from(src: &'static str) -> FlowFields<'static> {
    ["ingress", "tcp", src, "40000", "10.0.0.5", "22"]
}

// S10: the lowest priority number wins, whichever policy it has.
#[test]
fn s10_lowest_priority_number_wins() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            tcp_rule("sgr-drop-2", "Drop", json!(2), "192.0.2.0/24"),
            tcp_rule("sgr-accept-1", "Accept", json!(1), "192.0.2.0/24"),
            tcp_rule("sgr-accept-100", "Accept", json!(100), "198.51.100.0/24"),
            tcp_rule("sgr-drop-99", "Drop", json!(99), "198.51.100.0/24"),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    assert_eq!(
        ask(&e, "eni-a", ssh_from("192.0.2.1")),
        "accept rule sg-a/sgr-accept-1"
    );
    assert_eq!(
        ask(&e, "eni-a", ssh_from("198.51.100.1")),
        "drop rule sg-a/sgr-drop-99"
    );
}

// S10: at equal priority a matching drop wins, wherever it stands.
#[test]
fn s10_drop_wins_ties_at_equal_priority() {
    let e = engine(json!({
        "SecurityGroups": [
            group("sg-a", vec![
                tcp_rule("sgr-accept-5", "Accept", json!(5), "0.0.0.0/0"),
                tcp_rule("sgr-drop-5", "Drop", json!(5), "192.0.2.0/24"),
            ]),
            group("sg-b", vec![tcp_rule("sgr-b-drop-5", "Drop", json!(5), "198.51.100.0/24")]),
        ],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a", "sg-b"])]
    }));
    assert_eq!(
        ask(&e, "eni-a", ssh_from("192.0.2.1")),
        "drop rule sg-a/sgr-drop-5"
    );
    // The drop is in the NIC's second group, the accept in its first: drop still wins.
    assert_eq!(
        ask(&e, "eni-a", ssh_from("198.51.100.1")),
        "drop rule sg-b/sgr-b-drop-5"
    );
    assert_eq!(
        ask(&e, "eni-a", ssh_from("203.0.113.1")),
        "accept rule sg-a/sgr-accept-5"
    );
}

// S10: among equal candidates the NIC's group order names the rule (not the snapshot's order).
#[test]
fn s10_deciding_rule_follows_the_nics_group_order() {
    let e = engine(json!({
        "SecurityGroups": [
            group("sg-alpha", vec![tcp_rule("sgr-alpha", "Drop", json!(7), "0.0.0.0/0")]),
            group("sg-beta", vec![tcp_rule("sgr-beta", "Drop", json!(7), "0.0.0.0/0")]),
        ],
        "NetworkInterfaces": [
            nic("eni-beta-first", &["10.0.0.5"], &["sg-beta", "sg-alpha"]),
            nic("eni-alpha-first", &["10.0.0.6"], &["sg-alpha", "sg-beta"]),
        ]
    }));
    assert_eq!(
        ask(&e, "eni-beta-first", ssh_from("192.0.2.1")),
        "drop rule sg-beta/sgr-beta"
    );
    assert_eq!(
        ask(&e, "eni-alpha-first", ssh_from("192.0.2.1")),
        "drop rule sg-alpha/sgr-alpha"
    );
}

// S10: within one group, the earlier rule is named.
#[test]
fn s10_deciding_rule_follows_rule_position_in_its_group() {
    let e = engine(json!({
        "SecurityGroups": [
            group("sg-a", vec![
                tcp_rule("sgr-a-wide", "Accept", json!(2), "0.0.0.0/0"),
                tcp_rule("sgr-a-narrow", "Accept", json!(2), "192.0.2.0/24"),
            ]),
            group("sg-b", vec![
                tcp_rule("sgr-b-narrow", "Accept", json!(2), "192.0.2.0/24"),
                tcp_rule("sgr-b-wide", "Accept", json!(2), "0.0.0.0/0"),
            ]),
        ],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.5"], &["sg-a"]),
            nic("eni-b", &["10.0.0.6"], &["sg-b"]),
        ]
    }));
    assert_eq!(
        ask(&e, "eni-a", ssh_from("192.0.2.1")),
        "accept rule sg-a/sgr-a-wide"
    );
    assert_eq!(
        ask(&e, "eni-b", ssh_from("192.0.2.1")),
        "accept rule sg-b/sgr-b-narrow"
    );
}

// S10: the full tie-break order — priority, then drop before accept, then the NIC's group
// order, then rule position — decides which rule is named; the verdict never changes.
#[test]
fn s10_tie_break_order_is_priority_policy_group_order_then_position() {
    let snapshot = |nic_groups: [&str; 2]| {
        json!({
            "SecurityGroups": [
                group("sg-x", vec![
                    tcp_rule("sgr-x-accept-4", "Accept", json!(4), "0.0.0.0/0"),
                    tcp_rule("sgr-x-drop-4-late", "Drop", json!(4), "0.0.0.0/0"),
                    tcp_rule("sgr-x-accept-3", "Accept", json!(3), "192.0.2.0/24"),
                ]),
                group("sg-y", vec![
                    tcp_rule("sgr-y-drop-4", "Drop", json!(4), "0.0.0.0/0"),
                    tcp_rule("sgr-y-drop-4-again", "Drop", json!(4), "0.0.0.0/0"),
                ]),
            ],
            "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &nic_groups)]
        })
    };
    let x_first = engine(snapshot(["sg-x", "sg-y"]));
    let y_first = engine(snapshot(["sg-y", "sg-x"]));
    // Priority 3 comes before every priority-4 rule.
    assert_eq!(
        ask(&x_first, "eni-a", ssh_from("192.0.2.1")),
        "accept rule sg-x/sgr-x-accept-3"
    );
    assert_eq!(
        ask(&y_first, "eni-a", ssh_from("192.0.2.1")),
        "accept rule sg-x/sgr-x-accept-3"
    );
    // At priority 4, drop before accept; then group order; then position in the group.
    assert_eq!(
        ask(&x_first, "eni-a", ssh_from("203.0.113.1")),
        "drop rule sg-x/sgr-x-drop-4-late"
    );
    assert_eq!(
        ask(&y_first, "eni-a", ssh_from("203.0.113.1")),
        "drop rule sg-y/sgr-y-drop-4"
    );
}

// S10: the legacy priority 110 (accepted in snapshots) ranks after 100.
#[test]
fn s10_legacy_priority_110_ranks_after_100() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            tcp_rule("sgr-legacy-accept", "Accept", json!(110), "0.0.0.0/0"),
            tcp_rule("sgr-drop-100", "Drop", json!(100), "192.0.2.0/24"),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    assert_eq!(
        ask(&e, "eni-a", ssh_from("192.0.2.1")),
        "drop rule sg-a/sgr-drop-100"
    );
    assert_eq!(
        ask(&e, "eni-a", ssh_from("203.0.113.1")),
        "accept rule sg-a/sgr-legacy-accept"
    );
}

// S10: Priority as a string (SDK dumps) ranks like the number; a missing or empty one is 1.
#[test]
fn s10_priority_as_string_or_missing_ranks_as_its_number() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            tcp_rule("sgr-accept-4", "Accept", json!(4), "0.0.0.0/0"),
            tcp_rule("sgr-drop-string-3", "Drop", json!("3"), "192.0.2.0/24"),
            tcp_rule("sgr-drop-2", "Drop", json!(2), "198.51.100.0/24"),
            tcp_rule("sgr-accept-empty", "Accept", json!(""), "198.51.100.0/24"),
            rule("sgr-accept-missing", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "1/65535", "SourceCidrIp": "203.0.113.0/24"})),
            tcp_rule("sgr-drop-string-2", "Drop", json!("2"), "203.0.113.0/24"),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    rows(
        &e,
        "eni-a",
        &[
            (ssh_from("192.0.2.1"), "drop rule sg-a/sgr-drop-string-3"),
            (
                ssh_from("198.51.100.1"),
                "accept rule sg-a/sgr-accept-empty",
            ),
            (
                ssh_from("203.0.113.1"),
                "accept rule sg-a/sgr-accept-missing",
            ),
        ],
    );
}

// S10: Policy is case-insensitive and defaults to accept.
#[test]
fn s10_policy_is_case_insensitive_and_defaults_to_accept() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-a", vec![
            tcp_rule("sgr-drop-upper", "DROP", json!(1), "192.0.2.0/24"),
            tcp_rule("sgr-accept-empty", "", json!(1), "198.51.100.0/24"),
            rule("sgr-accept-missing", json!({"Direction": "InGress", "IpProtocol": "TCP", "PortRange": "1/65535", "SourceCidrIp": "203.0.113.0/24"})),
        ])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5"], &["sg-a"])]
    }));
    rows(
        &e,
        "eni-a",
        &[
            (ssh_from("192.0.2.1"), "drop rule sg-a/sgr-drop-upper"),
            (
                ssh_from("198.51.100.1"),
                "accept rule sg-a/sgr-accept-empty",
            ),
            (
                ssh_from("203.0.113.1"),
                "accept rule sg-a/sgr-accept-missing",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// S11: inner access

/// eni-a and eni-b share the basic group sg-shared; eni-a's own group drops everything in
/// both directions; eni-c shares nothing with eni-a.
fn inner_access_snapshot(shared: Value) -> Value {
    json!({
        "SecurityGroups": [
            group("sg-a", vec![
                rule("sgr-a-no-in", json!({"Direction": "ingress", "Policy": "Drop", "IpProtocol": "ALL", "PortRange": "-1/-1", "SourceCidrIp": "0.0.0.0/0"})),
                rule("sgr-a-no-out", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"})),
            ]),
            shared,
            group("sg-c", vec![]),
        ],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.1"], &["sg-a", "sg-shared"]),
            nic("eni-b", &["10.0.0.2", "10.0.0.22"], &["sg-shared"]),
            nic("eni-c", &["10.0.0.3"], &["sg-c"]),
        ]
    })
}

// S11: NICs sharing a basic Accept group reach each other, before any custom rule, both ways.
#[test]
fn s11_nics_sharing_a_basic_accept_group_have_inner_access_both_ways() {
    let e = engine(inner_access_snapshot(group("sg-shared", vec![])));
    let from_b = ["ingress", "tcp", "10.0.0.2", "40000", "10.0.0.1", "22"];
    let from_b_secondary = ["ingress", "udp", "10.0.0.22", "40000", "10.0.0.1", "53"];
    let to_b = ["egress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "5432"];
    rows(
        &e,
        "eni-a",
        &[
            (from_b, "accept inner_access"),
            (from_b_secondary, "accept inner_access"),
            (to_b, "accept inner_access"),
        ],
    );
    // eni-b's side of the same traffic: sg-shared is shared, whichever NIC asks.
    let b_from_a = ["ingress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "22"];
    assert_eq!(ask(&e, "eni-b", b_from_a), "accept inner_access");
}

// S11: no shared group, the NIC's own address, or an address no NIC owns: rules decide.
#[test]
fn s11_inner_access_needs_another_nic_sharing_the_group() {
    let e = engine(inner_access_snapshot(group("sg-shared", vec![])));
    for src in ["10.0.0.3", "10.0.0.1", "10.0.0.4"] {
        let fields = ["ingress", "tcp", src, "40000", "10.0.0.1", "22"];
        assert_eq!(
            ask(&e, "eni-a", fields),
            "drop rule sg-a/sgr-a-no-in",
            "from {src}"
        );
    }
    let to_c = ["egress", "tcp", "10.0.0.1", "40000", "10.0.0.3", "22"];
    assert_eq!(ask(&e, "eni-a", to_c), "drop rule sg-a/sgr-a-no-out");
}

// S11: a shared group whose InnerAccessPolicy is Drop gives nothing: custom rules decide.
#[test]
fn s11_shared_group_with_drop_policy_gives_nothing() {
    let shared = group_with(
        "sg-shared",
        "InnerAccessPolicy",
        "Drop",
        vec![rule(
            "sgr-shared-ssh",
            json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "22/22", "SourceCidrIp": "10.0.0.0/8"}),
        )],
    );
    let e = engine(inner_access_snapshot(shared));
    let b_from_a_ssh = ["ingress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "22"];
    let b_from_a_http = ["ingress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "80"];
    let a_to_b = ["egress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "80"];
    assert_eq!(
        ask(&e, "eni-b", b_from_a_ssh),
        "accept rule sg-shared/sgr-shared-ssh"
    );
    assert_eq!(ask(&e, "eni-b", b_from_a_http), "drop default");
    assert_eq!(ask(&e, "eni-a", a_to_b), "drop rule sg-a/sgr-a-no-out");
}

// S11: one shared basic Accept group is enough; Accept groups that are not shared give nothing.
#[test]
fn s11_one_shared_accept_group_is_enough() {
    let e = engine(json!({
        "SecurityGroups": [
            group_with("sg-drop", "InnerAccessPolicy", "Drop", vec![]),
            group("sg-accept", vec![]),
            group("sg-accept-a-only", vec![]),
            group("sg-accept-d-only", vec![]),
        ],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.1"], &["sg-drop", "sg-accept-a-only"]),
            nic("eni-b", &["10.0.0.2"], &["sg-drop", "sg-accept"]),
            nic("eni-c", &["10.0.0.3"], &["sg-accept", "sg-drop"]),
            nic("eni-d", &["10.0.0.4"], &["sg-drop", "sg-accept-d-only"]),
        ]
    }));
    let from = |src, dst| ["ingress", "tcp", src, "40000", dst, "22"];
    assert_eq!(
        ask(&e, "eni-b", from("10.0.0.3", "10.0.0.2")),
        "accept inner_access"
    );
    assert_eq!(
        ask(&e, "eni-a", from("10.0.0.4", "10.0.0.1")),
        "drop default"
    );
}

// S11: enterprise groups never give inner access, whatever their InnerAccessPolicy says.
#[test]
fn s11_enterprise_groups_never_give_inner_access() {
    let enterprise = |id| group_with(id, "SecurityGroupType", "enterprise", vec![]);
    let e = engine(json!({
        "SecurityGroups": [enterprise("sg-ent")],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.1"], &["sg-ent"]),
            nic("eni-b", &["10.0.0.2"], &["sg-ent"]),
        ]
    }));
    let from_b = ["ingress", "tcp", "10.0.0.2", "40000", "10.0.0.1", "22"];
    let to_b = ["egress", "tcp", "10.0.0.1", "40000", "10.0.0.2", "22"];
    assert_eq!(ask(&e, "eni-a", from_b), "drop default");
    assert_eq!(ask(&e, "eni-a", to_b), "drop default");
}

// S11: a bare group snapshot has no NICs, so inner access never applies.
#[test]
fn s11_bare_group_snapshot_has_no_inner_access() {
    let e = engine(group("sg-alone", vec![]));
    let fields = ["ingress", "tcp", "10.0.0.2", "40000", "10.0.0.1", "22"];
    assert_eq!(ask(&e, "sg-alone", fields), "drop default");
    assert_eq!(ask(&e, "", fields), "drop default");
}

// ---------------------------------------------------------------------------------------------
// S12: defaults

// S12: basic groups drop ingress and accept egress when no rule matches.
#[test]
fn s12_basic_groups_drop_ingress_and_accept_egress_by_default() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-1", vec![]), group_with("sg-2", "SecurityGroupType", "normal", vec![])],
        "NetworkInterfaces": [nic("eni-a", &["10.0.0.5", "2001:db8::5"], &["sg-1", "sg-2"])]
    }));
    for (src, dst) in [("192.0.2.1", "10.0.0.5"), ("2001:db8::1", "2001:db8::5")] {
        assert_eq!(
            ask(&e, "eni-a", ["ingress", "tcp", src, "40000", dst, "22"]),
            "drop default"
        );
        assert_eq!(
            ask(&e, "eni-a", ["egress", "udp", dst, "40000", src, "53"]),
            "accept default"
        );
    }
}

// S12: enterprise groups drop both directions when no rule matches.
#[test]
fn s12_enterprise_groups_drop_both_directions_by_default() {
    let e = engine(json!({
        "SecurityGroups": [group_with("sg-ent", "SecurityGroupType", "enterprise", vec![
            rule("sgr-ent-https-out", json!({"Direction": "egress", "IpProtocol": "TCP", "PortRange": "443/443", "DestCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-ent", &["10.0.0.5"], &["sg-ent"])]
    }));
    let ingress = ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.5", "22"];
    let egress_http = ["egress", "tcp", "10.0.0.5", "40000", "192.0.2.1", "80"];
    let egress_https = ["egress", "tcp", "10.0.0.5", "40000", "192.0.2.1", "443"];
    rows(
        &e,
        "eni-ent",
        &[
            (ingress, "drop default"),
            (egress_http, "drop default"),
            (egress_https, "accept rule sg-ent/sgr-ent-https-out"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// S13: the platform's TCP 25 block

fn smtp_snapshot() -> Value {
    json!({
        "SecurityGroups": [group("sg-mail", vec![
            rule("sgr-smtp-out", json!({"Direction": "egress", "Priority": 1, "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"})),
            rule("sgr-smtp-out-v6", json!({"Direction": "egress", "Priority": 1, "IpProtocol": "ALL", "PortRange": "-1/-1", "Ipv6DestCidrIp": "::/0"})),
            rule("sgr-smtp-in", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "25/25", "SourceCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-mail", &["10.0.0.5", "2001:db8::5"], &["sg-mail"])]
    })
}

fn smtp_to(dst: &'static str) -> FlowFields<'static> {
    ["egress", "tcp", "10.0.0.5", "40000", dst, "25"]
}

// S13: egress TCP 25 to a public IPv4 address is dropped by the platform, whatever rules say.
#[test]
fn s13_egress_tcp_25_to_public_ipv4_is_dropped_by_the_platform() {
    let e = engine(smtp_snapshot());
    for dst in [
        "93.184.216.34",
        "8.8.8.8",
        "9.255.255.255",
        "11.0.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "255.255.255.255",
    ] {
        assert_eq!(
            ask(&e, "eni-mail", smtp_to(dst)),
            "drop platform",
            "to {dst}"
        );
    }
}

// S13: 10/8, 172.16/12, 192.168/16 and 100.64/10 are exempt, edges included.
#[test]
fn s13_private_ranges_are_exempt() {
    let e = engine(smtp_snapshot());
    for dst in [
        "10.0.0.0",
        "10.255.255.255",
        "172.16.0.0",
        "172.31.255.255",
        "192.168.0.0",
        "192.168.255.255",
        "100.64.0.0",
        "100.127.255.255",
    ] {
        assert_eq!(
            ask(&e, "eni-mail", smtp_to(dst)),
            "accept rule sg-mail/sgr-smtp-out",
            "to {dst}"
        );
    }
}

// S13: only egress, only TCP, only destination port 25, only IPv4.
#[test]
fn s13_only_egress_tcp_to_port_25_over_ipv4_is_blocked() {
    let e = engine(smtp_snapshot());
    let public = "93.184.216.34";
    let by_rule = "accept rule sg-mail/sgr-smtp-out";
    assert_eq!(
        ask(
            &e,
            "eni-mail",
            ["egress", "udp", "10.0.0.5", "40000", public, "25"]
        ),
        by_rule
    );
    assert_eq!(
        ask(
            &e,
            "eni-mail",
            ["egress", "tcp", "10.0.0.5", "40000", public, "26"]
        ),
        by_rule
    );
    assert_eq!(
        ask(
            &e,
            "eni-mail",
            ["egress", "tcp", "10.0.0.5", "25", public, "587"]
        ),
        by_rule
    );
    assert_eq!(
        ask(
            &e,
            "eni-mail",
            [
                "egress",
                "tcp",
                "2001:db8::5",
                "40000",
                "2606:2800:220:1::1",
                "25"
            ]
        ),
        "accept rule sg-mail/sgr-smtp-out-v6"
    );
    assert_eq!(
        ask(
            &e,
            "eni-mail",
            ["ingress", "tcp", public, "40000", "10.0.0.5", "25"]
        ),
        "accept rule sg-mail/sgr-smtp-in"
    );
}

// S13: queries may turn platform rules off; then the rules decide.
#[test]
fn s13_platform_rules_can_be_turned_off() {
    let e = engine_with(
        smtp_snapshot(),
        EvalOptions {
            platform_rules: false,
            ..EvalOptions::default()
        },
    );
    assert_eq!(
        ask(&e, "eni-mail", smtp_to("93.184.216.34")),
        "accept rule sg-mail/sgr-smtp-out"
    );
    assert!(
        EvalOptions::default().platform_rules,
        "platform rules are on by default"
    );
}

// ---------------------------------------------------------------------------------------------
// S14: order of the steps

/// eni-a and eni-b share the basic Accept group sg-shared. eni-b's private address looks public
/// (VPCs may use such ranges), so the platform rule can meet inner access.
fn steps_snapshot() -> Value {
    json!({
        "SecurityGroups": [
            group("sg-a", vec![
                rule("sgr-a-out-drop", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "TCP", "PortRange": "1/65535", "DestCidrIp": "0.0.0.0/0"})),
                rule("sgr-a-in-https", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"})),
            ]),
            group("sg-shared", vec![]),
        ],
        "NetworkInterfaces": [
            nic("eni-a", &["10.0.0.1"], &["sg-a", "sg-shared"]),
            nic("eni-b", &["47.96.0.5"], &["sg-shared"]),
        ]
    })
}

// S14: the platform rule comes before inner access.
#[test]
fn s14_platform_comes_before_inner_access() {
    let e = engine(steps_snapshot());
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["egress", "tcp", "10.0.0.1", "40000", "47.96.0.5", "25"]
        ),
        "drop platform"
    );
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["egress", "tcp", "10.0.0.1", "40000", "47.96.0.5", "80"]
        ),
        "accept inner_access"
    );
}

// S14: inner access comes before custom rules; custom rules before the default.
#[test]
fn s14_inner_access_then_custom_rules_then_default() {
    let e = engine(steps_snapshot());
    // Inner access beats sgr-a-out-drop.
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["egress", "tcp", "10.0.0.1", "40000", "47.96.0.5", "5432"]
        ),
        "accept inner_access"
    );
    // A custom rule beats the basic egress default (accept).
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["egress", "tcp", "10.0.0.1", "40000", "192.0.2.1", "80"]
        ),
        "drop rule sg-a/sgr-a-out-drop"
    );
    // A custom rule beats the basic ingress default (drop).
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.1", "443"]
        ),
        "accept rule sg-a/sgr-a-in-https"
    );
    // Nothing else applies: the default.
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["egress", "udp", "10.0.0.1", "40000", "192.0.2.1", "53"]
        ),
        "accept default"
    );
    assert_eq!(
        ask(
            &e,
            "eni-a",
            ["ingress", "tcp", "192.0.2.1", "40000", "10.0.0.1", "22"]
        ),
        "drop default"
    );
}

// ---------------------------------------------------------------------------------------------
// S15: connections between two NICs

fn connection_engine() -> Evaluators {
    engine(json!({
        "SecurityGroups": [
            group("sg-app", vec![
                rule("sgr-app-no-redis", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "TCP", "PortRange": "6379/6379", "DestCidrIp": "0.0.0.0/0"})),
                rule("sgr-app-no-mysql", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "TCP", "PortRange": "3306/3306", "DestGroupId": "sg-db"})),
            ]),
            group("sg-db", vec![
                rule("sgr-db-pg", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "5432/5432", "SourceGroupId": "sg-app"})),
                rule("sgr-db-redis", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "6379/6379", "SourceCidrIp": "10.0.0.0/8"})),
            ]),
        ],
        "NetworkInterfaces": [
            nic("eni-app", &["10.0.1.10"], &["sg-app"]),
            nic("eni-db", &["10.0.2.10"], &["sg-db"]),
        ]
    }))
}

/// The connection verdict as text: overall action, the blocking sides, then each side.
#[track_caller]
fn ask_connection(e: &Evaluators, direction: &str, dport: &str) -> String {
    let snapshot = e.engine().snapshot();
    let from = snapshot.nic_index("eni-app").unwrap();
    let to = snapshot.nic_index("eni-db").unwrap();
    let fields = [direction, "tcp", "10.0.1.10", "40000", "10.0.2.10", dport];
    let verdict = e
        .check_connection(from, to, &flow(fields))
        .unwrap_or_else(|disagreement| panic!("{fields:?}: {disagreement}"));
    let e = e.engine();
    let blocking: Vec<&str> = verdict
        .blocking_sides()
        .iter()
        .map(|(d, _)| d.as_str())
        .collect();
    format!(
        "{} blocked_by={blocking:?} egress=[{}] ingress=[{}]",
        verdict.action().as_str(),
        describe(e, verdict.egress),
        describe(e, verdict.ingress)
    )
}

// S15: allowed only when A's egress and B's ingress both accept; both sides reported, egress
// named first when both drop.
#[test]
fn s15_connection_needs_egress_and_ingress_to_accept() {
    let e = connection_engine();
    assert_eq!(
        ask_connection(&e, "egress", "5432"),
        "accept blocked_by=[] egress=[accept default] ingress=[accept rule sg-db/sgr-db-pg]"
    );
    assert_eq!(
        ask_connection(&e, "egress", "6379"),
        r#"drop blocked_by=["egress"] egress=[drop rule sg-app/sgr-app-no-redis] ingress=[accept rule sg-db/sgr-db-redis]"#
    );
    assert_eq!(
        ask_connection(&e, "egress", "8080"),
        r#"drop blocked_by=["ingress"] egress=[accept default] ingress=[drop default]"#
    );
    assert_eq!(
        ask_connection(&e, "egress", "3306"),
        r#"drop blocked_by=["egress", "ingress"] egress=[drop rule sg-app/sgr-app-no-mysql] ingress=[drop default]"#
    );
}

// S15: the two-NIC question fixes the directions itself; the flow's own direction is ignored.
#[test]
fn s15_connection_ignores_the_flows_direction() {
    let e = connection_engine();
    for dport in ["5432", "6379", "8080", "3306"] {
        assert_eq!(
            ask_connection(&e, "ingress", dport),
            ask_connection(&e, "egress", dport),
            "port {dport}"
        );
    }
    let verdict = e.engine().check_connection(
        0,
        1,
        &flow(["ingress", "tcp", "10.0.1.10", "1", "10.0.2.10", "5432"]),
    );
    assert_eq!(verdict.blocking_sides(), Vec::<(Direction, _)>::new());
}

// ---------------------------------------------------------------------------------------------
// S16: state

/// A web server: HTTPS in from anywhere, every egress dropped.
fn stateful_engine() -> Evaluators {
    engine(json!({
        "SecurityGroups": [group("sg-web", vec![
            rule("sgr-https-in", json!({"Direction": "ingress", "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"})),
            rule("sgr-no-egress", json!({"Direction": "egress", "Policy": "Drop", "IpProtocol": "ALL", "PortRange": "-1/-1", "DestCidrIp": "0.0.0.0/0"})),
        ])],
        "NetworkInterfaces": [nic("eni-web", &["10.0.0.5"], &["sg-web"])]
    }))
}

// S16: a verdict is about the opening packet. The reply of an accepted connection is allowed
// by the platform's connection tracking, which the engine does not model: evaluating the
// reversed five-tuple asks a different question — would the server *open* that connection?
#[test]
fn s16_verdict_is_about_the_opening_packet_and_replies_are_not_implied() {
    let e = stateful_engine();
    let opening = ["ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "443"];
    assert_eq!(
        ask(&e, "eni-web", opening),
        "accept rule sg-web/sgr-https-in"
    );
    // The same addresses and ports reversed, as a new egress connection: dropped by the rule,
    // although the real reply to the connection above flows freely.
    let reversed = ["egress", "tcp", "10.0.0.5", "443", "203.0.113.9", "40000"];
    assert_eq!(
        ask(&e, "eni-web", reversed),
        "drop rule sg-web/sgr-no-egress"
    );
}

// S16: an accepted outbound connection does not make the reversed inbound flow accepted either.
#[test]
fn s16_accepted_egress_does_not_accept_the_reversed_ingress() {
    let e = engine(json!({
        "SecurityGroups": [group("sg-client", vec![])],
        "NetworkInterfaces": [nic("eni-client", &["10.0.0.7"], &["sg-client"])]
    }));
    let opening = ["egress", "tcp", "10.0.0.7", "40000", "203.0.113.9", "443"];
    let reversed = ["ingress", "tcp", "203.0.113.9", "443", "10.0.0.7", "40000"];
    assert_eq!(ask(&e, "eni-client", opening), "accept default");
    assert_eq!(ask(&e, "eni-client", reversed), "drop default");
}
