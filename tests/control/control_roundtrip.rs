//! Written snapshots keep the API's shape and load back into the same model, before and after
//! any sequence of API calls; rejected calls never change anything; a permission the API accepts
//! loads as the same stored rule (property tests).

use crate::common;

use common::*;
use proptest::prelude::*;
use sgsim::input::ecs::write::{snapshot_to_string, snapshot_to_value};
use sgsim::{Simulator, Snapshot};

fn assert_same_model(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.groups(), b.groups());
    assert_eq!(a.nics(), b.nics());
    assert_eq!(a.prefix_lists(), b.prefix_lists());
    assert_eq!(a.port_lists(), b.port_lists());
    assert_eq!(a.client_tokens(), b.client_tokens());
}

fn round_trip(snapshot: &Snapshot) -> Snapshot {
    let text = snapshot_to_string(snapshot);
    let again = Snapshot::from_json_str(&text)
        .unwrap_or_else(|e| panic!("written snapshot does not load: {e}\n{text}"));
    assert_same_model(snapshot, &again);
    assert_eq!(snapshot_to_string(&again), text, "writing is stable");
    again
}

#[test]
fn example_round_trips_and_keeps_api_keys() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/vpc-web.json"
    ))
    .unwrap();
    let snapshot = Snapshot::from_json_str(&text).unwrap();
    round_trip(&snapshot);
    let written = snapshot_to_value(&snapshot);
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Keys the model does not interpret come back.
    assert_eq!(
        written["NetworkInterfaces"][0]["Type"],
        original["NetworkInterfaces"][0]["Type"]
    );
    assert_eq!(written["NetworkInterfaces"][0]["Status"], "InUse");
    assert_eq!(written["SecurityGroups"][0]["RegionId"], "cn-hangzhou");
    assert_eq!(written["SecurityGroups"][0]["Description"], "web tier");
    assert_eq!(written["PrefixLists"][0]["PrefixListName"], "office");
    assert_eq!(
        written["PrefixLists"][0]["Entries"]["Entry"][0]["Description"],
        "HQ"
    );
    // Every rule has every field the API returns, with the same values where the model keeps them.
    let rules_in = original["SecurityGroups"][0]["Permissions"]["Permission"]
        .as_array()
        .unwrap();
    let rules_out = written["SecurityGroups"][0]["Permissions"]["Permission"]
        .as_array()
        .unwrap();
    for (a, b) in rules_in.iter().zip(rules_out) {
        for key in a.as_object().unwrap().keys() {
            assert!(b.get(key).is_some(), "written rule lacks {key}");
        }
        for key in [
            "SecurityGroupRuleId",
            "Direction",
            "Policy",
            "Priority",
            "IpProtocol",
            "PortRange",
            "SourceCidrIp",
            "SourcePrefixListId",
            "PortRangeListId",
            "CreateTime",
            "Description",
            "NicType",
        ] {
            assert_eq!(a[key], b[key], "{key} of {}", a["SecurityGroupRuleId"]);
        }
    }
}

#[test]
fn bare_group_and_fixture_round_trip() {
    round_trip(&fixture());
    let bare = Snapshot::from_json_str(
        r#"[{"Direction": "ingress", "IpProtocol": "tcp", "PortRange": "22/22", "SourceCidrIp": "0.0.0.0/0", "Priority": 110}]"#,
    )
    .unwrap();
    round_trip(&bare);
}

/// One call from a small vocabulary that reaches every action, valid and invalid.
fn any_call() -> impl Strategy<Value = String> {
    let group = prop::sample::select(vec![
        "sg-a",
        "sg-b",
        "sg-ent",
        "sg-classic",
        "sg-far",
        "sg-nope",
        "sg-beijing",
    ]);
    let protocol = prop::sample::select(vec![
        "tcp", "UDP", "icmp", "icmpv6", "all", "gre", "47", "sctp", "",
    ]);
    let ports = prop::sample::select(vec![
        "22/22", "1/65535", "-1/-1", "", "0/1", "80/22", "443/443",
    ]);
    let remote = prop::sample::select(vec![
        "SourceCidrIp=0.0.0.0/0",
        "SourceCidrIp=10.0.0.0/8",
        "Ipv6SourceCidrIp=::/0",
        "SourceGroupId=sg-b",
        "SourceGroupId=sg-a",
        "SourcePrefixListId=pl-v4",
        "SourcePrefixListId=pl-v6",
        "DestCidrIp=1.2.3.4",
        "DestGroupId=sg-b",
        "DestPrefixListId=pl-v4",
        "Ipv6DestCidrIp=2001:db8::/32",
        "",
    ]);
    let extra = prop::sample::select(vec![
        "",
        "Policy=drop",
        "Priority=100",
        "Priority=110",
        "NicType=internet",
        "PortRangeListId=prl-1",
        "SourcePortRange=1000/2000",
        "Description=x",
        "Description=",
        "DestCidrIp=10.0.0.5",
    ]);
    let action = prop::sample::select(vec![
        "AuthorizeSecurityGroup",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroup",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRule",
        "ModifySecurityGroupEgressRule",
    ]);
    let rule_id = prop::sample::select(vec![
        "sgr-a-ssh",
        "sgr-a-web",
        "sgr-a-from-b",
        "sgr-a-out",
        "sgr-nope",
    ]);
    let rule_call = (action, group.clone(), protocol, ports, remote, extra, rule_id.clone(), any::<bool>()).prop_map(
        |(action, group, protocol, ports, remote, extra, rule_id, by_id)| {
            let fields = format!("IpProtocol={protocol}&PortRange={ports}&{remote}&{extra}");
            if action.starts_with("Modify") {
                let id = if by_id { format!("&SecurityGroupRuleId={rule_id}") } else { String::new() };
                format!("Action={action}&RegionId=cn-hangzhou&SecurityGroupId={group}{id}&{fields}")
            } else if action.starts_with("Revoke") && by_id {
                format!("Action={action}&RegionId=cn-hangzhou&SecurityGroupId={group}&SecurityGroupRuleId.1={rule_id}")
            } else {
                call(action, group, &fields)
            }
        },
    );
    let other = (group.clone(), group, prop::sample::select(vec!["Accept", "drop", "x"]), any::<u8>()).prop_map(
        |(g1, g2, policy, pick)| match pick % 5 {
            0 => format!("Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId={g1}&InnerAccessPolicy={policy}"),
            1 => format!("Action=CreateSecurityGroup&RegionId=cn-hangzhou&VpcId=vpc-1&SecurityGroupName=g{pick}"),
            2 => format!("Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId={g1}"),
            3 => format!(
                "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1={g1}&SecurityGroupId.2={g2}"
            ),
            _ => format!(
                "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-b&SecurityGroupId.1={g1}&ClientToken=t{pick}"
            ),
        },
    );
    prop_oneof![4 => rule_call, 1 => other]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_call_sequence_round_trips(calls in prop::collection::vec(any_call(), 1..12)) {
        let mut sim = Simulator::with_seed(fixture(), 3);
        for call in &calls {
            let before = snapshot_to_value(sim.snapshot());
            let answer = sim.apply_text(call);
            if !answer.is_ok() {
                prop_assert_eq!(&snapshot_to_value(sim.snapshot()), &before, "{} changed the snapshot", call);
            }
        }
        round_trip(sim.snapshot());
    }
}

/// Values either side may find wrong, per permission field.
const FIELD_VALUES: &[(&str, &[&str])] = &[
    ("Policy", &["accept", "Drop", "allow"]),
    ("Priority", &["", "1", "100", "110", "0", "+5", "x", "007"]),
    (
        "IpProtocol",
        &["tcp", "UDP", "icmp", "icmpv6", "all", "gre", "6", ""],
    ),
    (
        "PortRange",
        &[
            "22/22", "1/65535", "-1/-1", "", "0/1", "80/22", "+22/22", " 22/22", "22",
        ],
    ),
    ("SourcePortRange", &["", "-1/-1", "1000/2000", "5/1"]),
    ("PortRangeListId", &["prl-1", ""]),
    (
        "SourceCidrIp",
        &[
            "0.0.0.0/0",
            "10.0.0.5/8",
            "1.2.3.4",
            "::/0",
            "300.1.1.1",
            "",
        ],
    ),
    (
        "Ipv6SourceCidrIp",
        &["::/0", "2001:db8::1", "10.0.0.0/8", ""],
    ),
    ("DestCidrIp", &["10.0.0.5", "1.2.3.4", "::1", ""]),
    ("Ipv6DestCidrIp", &["2001:db8::/32", "::/0", ""]),
    ("SourceGroupId", &["sg-b", ""]),
    ("DestGroupId", &["sg-b", ""]),
    ("SourcePrefixListId", &["pl-v4", "pl-v6"]),
    ("DestPrefixListId", &["pl-v4", "pl-v6"]),
    ("NicType", &["intranet", "internet", ""]),
];

/// A direction and one permission: a valid TCP rule with up to five fields set to other values
/// (or removed), so that about half pass every check and the rest fail at every step.
fn any_permission() -> impl Strategy<Value = (bool, serde_json::Map<String, serde_json::Value>)> {
    let change = (
        0..FIELD_VALUES.len(),
        any::<prop::sample::Index>(),
        prop::bool::weighted(0.15),
    );
    (any::<bool>(), prop::collection::vec(change, 0..=5)).prop_map(|(ingress, changes)| {
        let remote = if ingress {
            "SourceCidrIp"
        } else {
            "DestCidrIp"
        };
        let mut map = serde_json::Map::new();
        map.insert("IpProtocol".into(), "tcp".into());
        map.insert("PortRange".into(), "22/22".into());
        map.insert(remote.into(), "192.0.2.7/24".into());
        for (field, value, remove) in changes {
            let (name, values) = FIELD_VALUES[field];
            if remove {
                map.remove(name);
            } else {
                map.insert(name.into(), value.get(values).to_string().into());
            }
        }
        (ingress, map)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Snapshot loading and the API share one rule-check core (`model::rule_check`): a
    /// permission the API accepts loads as a stored rule, into the same model rule; the API may
    /// refuse more (it is the stricter).
    #[test]
    fn an_accepted_permission_loads_as_the_same_rule((ingress, fields) in any_permission()) {
        let action = if ingress { "AuthorizeSecurityGroup" } else { "AuthorizeSecurityGroupEgress" };
        let request = serde_json::json!({
            "Action": action, "RegionId": REGION, "SecurityGroupId": "sg-a",
            "Permissions": [serde_json::Value::Object(fields.clone())],
        });
        let mut sim = sim();
        let answer = sim.apply_json(&request);

        let mut stored = fields.clone();
        stored.insert("Direction".into(), if ingress { "ingress" } else { "egress" }.into());
        stored.insert("SecurityGroupRuleId".into(), "sgr-stored".into());
        let mut snapshot: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        snapshot["SecurityGroups"][0]["Permissions"]["Permission"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::Value::Object(stored));
        let loaded = Snapshot::from_json_str(&snapshot.to_string());

        if !answer.is_ok() {
            return Ok(());
        }
        let loaded = loaded.map_err(|e| {
            TestCaseError::fail(format!("the API accepts {request} but loading refuses it: {e}"))
        })?;
        let known: Vec<String> = fixture().groups()[0].rules.iter().map(|r| r.id.clone()).collect();
        // An identical rule already there: the API added nothing to compare with.
        let Some(added) = sim.snapshot().groups()[0].rules.iter().find(|r| !known.contains(&r.id)) else {
            return Ok(());
        };
        let from_file = loaded.groups()[0].rules.iter().find(|r| r.id == "sgr-stored").unwrap();
        let key = |r: &sgsim::model::Rule| {
            (r.direction, r.action, r.priority, r.protocol, r.dest_ports.clone(), r.source_ports,
             r.remote.clone(), r.local, r.nic_type, r.description.clone())
        };
        prop_assert_eq!(key(added), key(from_file), "{}", request);
    }
}
