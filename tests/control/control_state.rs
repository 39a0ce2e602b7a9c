//! State rules of the control plane: all-or-nothing calls, duplicates and unmatched revokes
//! (S18), new ids and create times, client tokens, modify semantics (S20), both request forms,
//! and evaluation through the engine afterwards.

use crate::common;

use common::*;
use serde_json::json;
use sgsim::control::{ApiCall, ErrorCode, PermissionParams, Request};
use sgsim::input::ecs::write::{snapshot_to_string, snapshot_to_value};
use sgsim::model::{Action, DestPorts, Direction, Flow, NicType, Reason, RemoteObject};
use sgsim::{Simulator, Snapshot};

#[test]
fn success_answers_with_a_fresh_request_id() {
    let mut s = sim();
    let a = accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=tcp&PortRange=80/80&SourceCidrIp=1.2.3.4",
        ),
    );
    let b = accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=tcp&PortRange=81/81&SourceCidrIp=1.2.3.4",
        ),
    );
    let id = a.body["RequestId"].as_str().unwrap();
    assert_eq!(a.body.as_object().unwrap().len(), 1, "{}", a.body);
    assert_eq!(id.len(), 36);
    assert_eq!(
        id.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert_ne!(a.body["RequestId"], b.body["RequestId"]);
    assert_eq!(a.http_status(), 200);
}

#[test]
fn new_rules_get_ids_and_utc_create_time() {
    let mut s = sim();
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=udp&PortRange=53/53&SourceCidrIp=10.1.0.0/16&Priority=7&Description=dns",
        ),
    );
    let rule = rules_of(&s, "sg-a").last().unwrap();
    assert!(
        rule.id.starts_with("sgr-") && rule.id.len() == 24,
        "{}",
        rule.id
    );
    assert!(rule.id[4..]
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(rule.create_time, "2026-01-01T00:00:00Z");
    assert_eq!((rule.priority, rule.description.as_str()), (7, "dns"));
    assert_eq!(rule.nic_type, NicType::Intranet);
    // The system clock when none is set: a UTC timestamp.
    let mut s = Simulator::new(fixture());
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=udp&PortRange=53/53&SourceCidrIp=10.1.0.0/16",
        ),
    );
    let t = &rules_of(&s, "sg-a").last().unwrap().create_time;
    assert!(
        t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
        "{t}"
    );
}

#[test]
fn utc_timestamps() {
    use sgsim::control::utc_timestamp;
    assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc_timestamp(1_772_439_295), "2026-03-02T08:14:55Z");
}

#[test]
fn several_permissions_are_all_or_nothing() {
    let mut s = sim();
    let before = snapshot_to_value(s.snapshot());
    let answer = s.apply_text(
        r#"{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a",
            "Permissions": [
              {"IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "1.2.3.4"},
              {"IpProtocol": "tcp", "PortRange": "81/81", "SourceCidrIp": "1.2.3.4"},
              {"IpProtocol": "tcp", "PortRange": "82/82", "SourceGroupId": "sg-nope"}]}"#,
    );
    assert_eq!(answer.error.unwrap().code, ErrorCode::SourceGroupNotFound);
    assert_eq!(snapshot_to_value(s.snapshot()), before);
    // The same without the bad one adds both.
    accepts(
        &mut s,
        r#"{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a",
            "Permissions": [
              {"IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "1.2.3.4"},
              {"IpProtocol": "tcp", "PortRange": "81/81", "SourceCidrIp": "1.2.3.4"}]}"#,
    );
    assert_eq!(rules_of(&s, "sg-a").len(), 6);
}

#[test]
fn duplicate_of_existing_rule_adds_nothing() {
    let mut s = sim();
    let before = snapshot_to_value(s.snapshot());
    // sgr-a-ssh: tcp 22/22 from 10.0.0.0/8, accept, intranet. Priority and description differ,
    // and the CIDR is written with host bits (S8): still the same rule (S18).
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=TCP&PortRange=22/22&SourceCidrIp=10.1.2.3/8&Priority=9&Description=again",
        ),
    );
    assert_eq!(snapshot_to_value(s.snapshot()), before);
    // A different policy is a different rule.
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=TCP&PortRange=22/22&SourceCidrIp=10.0.0.0/8&Policy=Drop",
        ),
    );
    assert_eq!(rules_of(&s, "sg-a").len(), 5);
}

#[test]
fn revoke_by_fields_and_by_ids() {
    let mut s = sim();
    let before = snapshot_to_value(s.snapshot());
    // Unmatched fields: success, nothing removed.
    accepts(
        &mut s,
        &call(
            "RevokeSecurityGroup",
            "sg-a",
            "IpProtocol=tcp&PortRange=23/23&SourceCidrIp=10.0.0.0/8",
        ),
    );
    assert_eq!(snapshot_to_value(s.snapshot()), before);
    // Matched by fields, whatever the priority given.
    accepts(
        &mut s,
        &call(
            "RevokeSecurityGroup",
            "sg-a",
            "IpProtocol=tcp&PortRange=22/22&SourceCidrIp=10.0.0.0/8&Priority=50",
        ),
    );
    assert!(rules_of(&s, "sg-a").iter().all(|r| r.id != "sgr-a-ssh"));
    // Egress by id.
    accepts(
        &mut s,
        "Action=RevokeSecurityGroupEgress&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId.1=sgr-a-out",
    );
    let ids: Vec<&str> = rules_of(&s, "sg-a").iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["sgr-a-web", "sgr-a-from-b"]);
    // The deprecated top-level form, and a port-list rule by fields.
    accepts(
        &mut s,
        "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-a&IpProtocol=tcp&PortRangeListId=prl-1&SourceCidrIp=0.0.0.0/0",
    );
    assert_eq!(rules_of(&s, "sg-a").len(), 1);
}

#[test]
fn deprecated_top_level_parameters() {
    let mut s = sim();
    accepts(
        &mut s,
        "Action=AuthorizeSecurityGroupEgress&RegionId=cn-hangzhou&SecurityGroupId=sg-a&IpProtocol=udp&PortRange=53/53&DestCidrIp=8.8.8.8&Priority=2",
    );
    let rule = rules_of(&s, "sg-a").last().unwrap();
    assert_eq!(rule.direction, Direction::Egress);
    assert_eq!(
        rule.remote,
        RemoteObject::Cidr("8.8.8.8/32".parse().unwrap())
    );
}

#[test]
fn json_and_query_forms_are_the_same_call() {
    let json_text = r#"{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a",
        "ClientToken": "abc", "Permissions": [
          {"IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0", "Priority": 3, "Description": "a b&c"},
          {"IpProtocol": "ICMP", "PortRange": "-1/-1", "SourcePrefixListId": "pl-v4"}]}"#;
    let from_json = ApiCall::parse(json_text).unwrap();
    let query = from_json.to_query_string();
    assert!(
        query.contains("Permissions.1.Description=a%20b%26c"),
        "{query}"
    );
    let from_query = ApiCall::parse(&query).unwrap();
    assert_eq!(from_json, from_query);
    assert_eq!(from_json.fingerprint(), from_query.fingerprint());
    // A whole URL, `+` for spaces, and a JSON array in one parameter.
    let url =
        "https://ecs.aliyuncs.com/?Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou\
               &NetworkInterfaceId=eni-a&SecurityGroupId=%5B%22sg-a%22%2C%22sg-b%22%5D";
    // A `?` inside a value is data.
    let call = ApiCall::parse(
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId=sgr-a-ssh&Description=why%3F?",
    )
    .unwrap();
    match call.request {
        Request::ModifyRule { params, .. } => assert_eq!(params.get("Description"), Some("why??")),
        other => panic!("{other:?}"),
    }
    match ApiCall::parse(url).unwrap().request {
        Request::ModifyNic { group_ids, .. } => assert_eq!(group_ids.unwrap(), ["sg-a", "sg-b"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn typed_requests() {
    let mut s = sim();
    let call = ApiCall::new(
        "cn-hangzhou",
        Request::Authorize {
            direction: Direction::Ingress,
            group_id: "sg-b".into(),
            permissions: vec![PermissionParams::new()
                .with("IpProtocol", "tcp")
                .with("PortRange", "6379/6379")
                .with("SourceGroupId", "sg-a")],
        },
    );
    assert!(s.apply(&call).is_ok());
    let rule = rules_of(&s, "sg-b").last().unwrap();
    assert_eq!(rule.remote, RemoteObject::Group("sg-a".into()));
    assert_eq!(
        rule.dest_ports,
        DestPorts::Range(sgsim::model::PortRange { lo: 6379, hi: 6379 })
    );
}

#[test]
fn client_token_replays_the_first_answer() {
    let mut s = sim();
    let request = format!(
        "{}&ClientToken=123e4567-e89b-12d3-a456-426655440000",
        ingress(
            "sg-a",
            "IpProtocol=tcp&PortRange=8080/8080&SourceCidrIp=1.2.3.4"
        )
    );
    let first = accepts(&mut s, &request);
    let after_first = snapshot_to_value(s.snapshot());
    assert_eq!(rules_of(&s, "sg-a").len(), 5);
    let again = accepts(&mut s, &request);
    assert_eq!(again.body, first.body, "the retry gets the first answer");
    assert_eq!(
        snapshot_to_value(s.snapshot()),
        after_first,
        "and changes nothing"
    );
    // The token survives writing and loading, so a retry in a later run replays too.
    let text = snapshot_to_string(s.snapshot());
    assert!(text.contains("\"ClientTokens\""));
    let mut later = Simulator::new(Snapshot::from_json_str(&text).unwrap());
    let replay = accepts(&mut later, &request);
    assert_eq!(replay.body, first.body);
    assert_eq!(rules_of(&later, "sg-a").len(), 5);
    // Rejected calls are not remembered: retrying one validates it again.
    let bad = format!(
        "{}&ClientToken=t2",
        ingress("sg-a", "IpProtocol=tcp&PortRange=0/1&SourceCidrIp=1.2.3.4")
    );
    assert!(!s.apply_text(&bad).is_ok());
    assert!(s.snapshot().client_tokens().iter().all(|t| t.token != "t2"));
}

#[test]
fn client_token_on_other_actions() {
    let mut s = sim();
    let create = "Action=CreateSecurityGroup&RegionId=cn-hangzhou&VpcId=vpc-1&SecurityGroupName=web&ClientToken=c1";
    let first = accepts(&mut s, create);
    let groups = s.snapshot().groups().len();
    let again = accepts(&mut s, create);
    assert_eq!(again.body["SecurityGroupId"], first.body["SecurityGroupId"]);
    assert_eq!(s.snapshot().groups().len(), groups, "no second group");
    // Same token, other action.
    rejects(
        &mut s,
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-far&ClientToken=c1",
        "IdempotentParameterMismatch",
        400,
    );
}

#[test]
fn modify_by_rule_id() {
    let mut s = sim();
    accepts(
        &mut s,
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId=sgr-a-ssh\
         &PortRange=2222/2222&SourceCidrIp=192.168.0.0/16&Priority=3&Policy=drop&DestCidrIp=10.0.0.5",
    );
    let rule = rules_of(&s, "sg-a")
        .iter()
        .find(|r| r.id == "sgr-a-ssh")
        .unwrap();
    assert_eq!(
        rule.dest_ports,
        DestPorts::Range(sgsim::model::PortRange { lo: 2222, hi: 2222 })
    );
    assert_eq!(
        rule.remote,
        RemoteObject::Cidr("192.168.0.0/16".parse().unwrap())
    );
    assert_eq!(rule.local, Some("10.0.0.5/32".parse().unwrap()));
    assert_eq!((rule.priority, rule.action), (3, Action::Drop));
    assert_eq!(
        rule.description, "ssh",
        "absent parameters keep their values"
    );
    assert_eq!(rule.create_time, "2026-01-01T00:00:00Z", "create time kept");
    // Position kept.
    assert_eq!(rules_of(&s, "sg-a")[0].id, "sgr-a-ssh");
    // A port-list rule may move to another list; a group rule to another group.
    accepts(
        &mut s,
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId=sgr-a-web&PortRangeListId=prl-2",
    );
    assert_eq!(
        rules_of(&s, "sg-a")[1].dest_ports,
        DestPorts::List("prl-2".into())
    );
    // Egress modify.
    accepts(
        &mut s,
        "Action=ModifySecurityGroupEgressRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId=sgr-a-out&Priority=99",
    );
    assert_eq!(rules_of(&s, "sg-a")[3].priority, 99);
}

#[test]
fn modify_legacy_changes_priority_and_description() {
    let mut s = sim();
    accepts(
        &mut s,
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&IpProtocol=tcp&PortRange=22/22\
         &SourceCidrIp=10.0.0.0/8&Priority=40&Description=bastion",
    );
    let rule = &rules_of(&s, "sg-a")[0];
    assert_eq!((rule.priority, rule.description.as_str()), (40, "bastion"));
}

#[test]
fn policy_groups_and_nics() {
    let mut s = sim();
    accepts(&mut s, "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-a&InnerAccessPolicy=drop");
    let snapshot = s.snapshot();
    assert_eq!(
        snapshot
            .group(snapshot.group_index("sg-a").unwrap())
            .inner_access,
        sgsim::model::InnerAccessPolicy::Drop
    );
    // Create, attach beside sg-a, detach, delete.
    let created = accepts(
        &mut s,
        "Action=CreateSecurityGroup&RegionId=cn-hangzhou&VpcId=vpc-1&SecurityGroupName=cache&Description=redis",
    );
    let id = created.body["SecurityGroupId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("sg-"));
    let snapshot = s.snapshot();
    let group = snapshot.group(snapshot.group_index(&id).unwrap());
    assert_eq!(
        (
            group.name.as_str(),
            group.region_id.as_str(),
            group.vpc_id.as_str()
        ),
        ("cache", "cn-hangzhou", "vpc-1")
    );
    accepts(
        &mut s,
        &format!("Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-a&SecurityGroupId.2={id}"),
    );
    let snapshot = s.snapshot();
    let nic = snapshot.nic(snapshot.nic_index("eni-a").unwrap());
    assert_eq!(nic.groups.len(), 2);
    accepts(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-a",
    );
    accepts(
        &mut s,
        &format!("Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId={id}"),
    );
    assert!(s.snapshot().group_index(&id).is_none());
    // Deleting a group before others keeps the NICs' group references right.
    accepts(
        &mut s,
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-far",
    );
    let snapshot = s.snapshot();
    let nic = snapshot.nic(snapshot.nic_index("eni-ent").unwrap());
    assert_eq!(snapshot.group(nic.groups[0]).id, "sg-ent");
    // An enterprise group starts with InnerAccessPolicy Drop.
    let ent = accepts(
        &mut s,
        "Action=CreateSecurityGroup&RegionId=cn-hangzhou&VpcId=vpc-1&SecurityGroupType=enterprise",
    );
    let snapshot = s.snapshot();
    let group = snapshot.group(
        snapshot
            .group_index(ent.body["SecurityGroupId"].as_str().unwrap())
            .unwrap(),
    );
    assert_eq!(group.inner_access, sgsim::model::InnerAccessPolicy::Drop);
}

#[test]
fn classic_groups_default_to_internet_for_cidr_rules() {
    let mut s = sim();
    accepts(
        &mut s,
        &ingress(
            "sg-classic",
            "IpProtocol=tcp&PortRange=80/80&SourceCidrIp=0.0.0.0/0",
        ),
    );
    accepts(
        &mut s,
        &ingress(
            "sg-classic",
            "IpProtocol=tcp&PortRange=80/80&SourceGroupId=sg-classic2",
        ),
    );
    let rules = rules_of(&s, "sg-classic");
    assert_eq!(rules[0].nic_type, NicType::Internet);
    assert_eq!(rules[1].nic_type, NicType::Intranet);
}

#[test]
fn the_engine_sees_the_new_state() {
    let mut s = sim();
    let flow = Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "3306").unwrap();
    let engine = s.engine();
    let nic = engine.target("eni-a").unwrap();
    assert_eq!(engine.check(nic, &flow).reason, Reason::Default);
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=tcp&PortRange=3306/3306&SourceCidrIp=203.0.113.0/24",
        ),
    );
    let engine = s.engine();
    let verdict = engine.check(nic, &flow);
    assert_eq!(
        (verdict.action, verdict.reason.as_str()),
        (Action::Accept, "rule")
    );
    assert_eq!(
        engine.rule(verdict.deciding_rule().unwrap()).1.id,
        rules_of(&s, "sg-a").last().unwrap().id
    );
}

#[test]
fn answers_have_the_api_shape() {
    let mut s = sim();
    let answer = s.apply_text(&ingress(
        "sg-a",
        "IpProtocol=tcp&PortRange=0/1&SourceCidrIp=1.2.3.4",
    ));
    let body = answer.body.as_object().unwrap();
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["Code", "HttpStatus", "Message", "RequestId"]);
    assert_eq!(answer.body["Message"], json!("The specified parameter Permissions.1.PortRange is not valid. It should be two integers less than 65535 in ?/? format."));
}
