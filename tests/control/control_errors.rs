//! Every error code the control plane claims (docs/control-plane.md): each test triggers it,
//! checks the code and HTTP status, and checks that the snapshot did not change (S17).

use crate::common;

use common::*;
use sgsim::control::ErrorCode;

const TCP22: &str = "IpProtocol=tcp&PortRange=22/22";

// ---- the call itself ----

#[test]
fn missing_parameter() {
    let mut s = sim();
    // RegionId is mandatory.
    rejects(
        &mut s,
        "Action=AuthorizeSecurityGroup&SecurityGroupId=sg-a&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=22/22&Permissions.1.SourceCidrIp=1.2.3.4",
        "MissingParameter",
        400,
    );
    // So are SecurityGroupId, Action, IpProtocol and the permissions themselves.
    rejects(
        &mut s,
        "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&Permissions.1.IpProtocol=tcp",
        "MissingParameter",
        400,
    );
    rejects(&mut s, "RegionId=cn-hangzhou", "MissingParameter", 400);
    rejects(
        &mut s,
        &ingress("sg-a", "PortRange=22/22&SourceCidrIp=1.2.3.4"),
        "MissingParameter",
        400,
    );
    rejects(
        &mut s,
        "Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-a",
        "MissingParameter",
        400,
    );
    rejects(
        &mut s,
        r#"{"Action": "ModifySecurityGroupPolicy", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a"}"#,
        "MissingParameter",
        400,
    );
}

#[test]
fn invalid_action() {
    rejects(
        &mut sim(),
        "Action=AuthorizeSecurityGroupIngress&RegionId=cn-hangzhou",
        "InvalidAction.NotFound",
        404,
    );
}

#[test]
fn invalid_parameter() {
    let mut s = sim();
    // A list index outside 1..100.
    rejects(
        &mut s,
        &format!(
            "{}&Permissions.0.IpProtocol=tcp",
            ingress("sg-a", "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4")
        ),
        "InvalidParameter",
        400,
    );
    // More than 100 permissions.
    let many: Vec<String> = (1..=101)
        .map(|i| {
            format!(r#"{{"IpProtocol": "tcp", "PortRange": "{i}/{i}", "SourceCidrIp": "1.2.3.4"}}"#)
        })
        .collect();
    rejects(
        &mut s,
        &format!(
            r#"{{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a", "Permissions": [{}]}}"#,
            many.join(",")
        ),
        "InvalidParameter",
        400,
    );
    // Not JSON at all, and a nested object where a string belongs.
    rejects(&mut s, "{not json", "InvalidParameter", 400);
    rejects(
        &mut s,
        r#"{"Action": "DeleteSecurityGroup", "RegionId": {"a": 1}}"#,
        "InvalidParameter",
        400,
    );
    // The same group twice on a NIC, and basic beside enterprise.
    rejects(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-a&SecurityGroupId.2=sg-a",
        "InvalidParameter",
        400,
    );
    rejects(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-a&SecurityGroupId.2=sg-ent",
        "InvalidParameter",
        400,
    );
}

#[test]
fn client_token_malformed() {
    let token = "t".repeat(65);
    rejects(
        &mut sim(),
        &format!(
            "{}&ClientToken={token}",
            ingress("sg-a", "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4")
        ),
        "InvalidClientToken.Malformed",
        400,
    );
}

#[test]
fn idempotent_parameter_mismatch() {
    let mut s = sim();
    accepts(
        &mut s,
        &format!(
            "{}&ClientToken=tok-1",
            ingress("sg-a", "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4")
        ),
    );
    rejects(
        &mut s,
        &format!(
            "{}&ClientToken=tok-1",
            ingress("sg-a", "IpProtocol=tcp&PortRange=1/3&SourceCidrIp=1.2.3.4")
        ),
        "IdempotentParameterMismatch",
        400,
    );
}

#[test]
fn permissions_conflict() {
    let mut s = sim();
    rejects(
        &mut s,
        &format!(
            "{}&IpProtocol=udp",
            ingress("sg-a", "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4")
        ),
        "InvalidParam.Permissions",
        400,
    );
    // Revoke by rule ids and by permissions at once.
    rejects(
        &mut s,
        &format!(
            "{}&SecurityGroupRuleId.1=sgr-a-ssh",
            call(
                "RevokeSecurityGroup",
                "sg-a",
                "IpProtocol=tcp&PortRange=22/22&SourceCidrIp=10.0.0.0/8"
            )
        ),
        "InvalidParam.Permissions",
        400,
    );
}

#[test]
fn duplicate_permissions() {
    let mut s = sim();
    let perm =
        r#"{"IpProtocol": "TCP", "PortRange": "80/80", "SourceCidrIp": "1.2.3.4", "Priority": 1}"#;
    let same_but_priority = r#"{"IpProtocol": "tcp", "PortRange": "80/80", "SourceCidrIp": "1.2.3.4/32", "Priority": 7, "Description": "x"}"#;
    rejects(
        &mut s,
        &format!(
            r#"{{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a", "Permissions": [{perm}, {same_but_priority}]}}"#
        ),
        "InvalidParam.DuplicatePermissions",
        400,
    );
    rejects(
        &mut s,
        &format!(
            r#"{{"Action": "RevokeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a", "Permissions": [{perm}, {perm}]}}"#
        ),
        "InvalidParam.DuplicatePermissions",
        400,
    );
}

// ---- groups ----

#[test]
fn group_id_malformed() {
    rejects(
        &mut sim(),
        &ingress(
            "sg%20a",
            "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4",
        ),
        "InvalidSecurityGroupId.Malformed",
        400,
    );
}

#[test]
fn group_not_found() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress(
            "sg-nope",
            "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4",
        ),
        "InvalidSecurityGroupId.NotFound",
        404,
    );
    // A group of another region is not found either.
    rejects(
        &mut s,
        &ingress(
            "sg-beijing",
            "IpProtocol=tcp&PortRange=1/2&SourceCidrIp=1.2.3.4",
        ),
        "InvalidSecurityGroupId.NotFound",
        404,
    );
    rejects(
        &mut s,
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-nope",
        "InvalidSecurityGroupId.NotFound",
        404,
    );
    rejects(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-nope",
        "InvalidSecurityGroupId.NotFound",
        404,
    );
}

// ---- rule values ----

#[test]
fn policy_malformed() {
    let mut s = sim();
    let rule = rejects(
        &mut s,
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Policy=allow"),
        ),
        "InvalidPolicy.Malformed",
        400,
    );
    let inner = rejects(
        &mut s,
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-a&InnerAccessPolicy=maybe",
        "InvalidPolicy.Malformed",
        400,
    );
    // One wire code, two variants with the API's two messages.
    assert_eq!(rule.error.unwrap().code, ErrorCode::PolicyMalformed);
    assert_eq!(
        rule.body["Message"],
        "The specified parameter Permissions.1.Policy is not valid."
    );
    assert_eq!(inner.error.unwrap().code, ErrorCode::InnerPolicyMalformed);
    assert_eq!(
        inner.body["Message"],
        "The Policy is invalid. Only 'Accept' and 'Drop' are supported. Ignore case."
    );
}

#[test]
fn priority_malformed() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Priority=high"),
        ),
        "InvalidPriority.Malformed",
        400,
    );
}

#[test]
fn priority_value_not_supported() {
    let mut s = sim();
    for priority in ["110", "0", "101", "-3", "99999999999999999999"] {
        rejects(
            &mut s,
            &ingress(
                "sg-a",
                &format!("{TCP22}&SourceCidrIp=1.2.3.4&Priority={priority}"),
            ),
            "InvalidPriority.ValueNotSupported",
            400,
        );
    }
    // A JSON number is read the same way.
    rejects(
        &mut s,
        r#"{"Action": "AuthorizeSecurityGroupEgress", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a",
            "Permissions": [{"IpProtocol": "ALL", "DestCidrIp": "1.2.3.4", "Priority": 110}]}"#,
        "InvalidPriority.ValueNotSupported",
        400,
    );
}

#[test]
fn protocol_not_supported() {
    rejects(
        &mut sim(),
        &ingress("sg-a", "IpProtocol=sctp&PortRange=1/2&SourceCidrIp=1.2.3.4"),
        "InvalidIpProtocol.ValueNotSupported",
        400,
    );
}

#[test]
fn nic_type_not_supported() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&NicType=public"),
        ),
        "InvalidNicType.ValueNotSupported",
        400,
    );
}

#[test]
fn nic_type_mismatch() {
    // VPC groups are intranet only.
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&NicType=internet"),
        ),
        "InvalidNicType.Mismatch",
        400,
    );
}

#[test]
fn port_range_malformed_or_unfit() {
    let mut s = sim();
    for fields in [
        "IpProtocol=tcp&PortRange=0/80",
        "IpProtocol=tcp&PortRange=80/22",
        "IpProtocol=udp&PortRange=1/65536",
        "IpProtocol=tcp&PortRange=22",
        "IpProtocol=tcp&PortRange=%2B22/22",
        "IpProtocol=tcp&PortRange=-1/-1",
        "IpProtocol=icmp&PortRange=22/22",
        "IpProtocol=all&PortRange=1/65535",
        "IpProtocol=tcp&PortRange=22/22&SourcePortRange=abc",
        "IpProtocol=gre&PortRange=-1/-1&SourcePortRange=1/2",
    ] {
        rejects(
            &mut s,
            &ingress("sg-a", &format!("{fields}&SourceCidrIp=1.2.3.4")),
            "InvalidParam.PortRange",
            400,
        );
    }
}

#[test]
fn port_range_missing() {
    rejects(
        &mut sim(),
        &ingress("sg-a", "IpProtocol=tcp&SourceCidrIp=1.2.3.4"),
        "InvalidPortRange.Malformed",
        400,
    );
}

#[test]
fn port_list_needs_tcp_or_udp() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            "IpProtocol=icmp&PortRange=-1/-1&PortRangeListId=prl-1&SourceCidrIp=1.2.3.4",
        ),
        "InvalidParam.ProtocolNotSupportPortRangeList",
        400,
    );
}

#[test]
fn port_list_not_found() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            "IpProtocol=tcp&PortRangeListId=prl-nope&SourceCidrIp=1.2.3.4",
        ),
        "InvalidPortRangeListId.NotFound",
        400,
    );
}

#[test]
fn cidr_malformed() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceCidrIp=10.0.0.300/8")),
        "InvalidSourceCidrIp.Malformed",
        400,
    );
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceCidrIp=2001:db8::/32")),
        "InvalidSourceCidrIp.Malformed",
        400,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&DestCidrIp=10.0.0.0/33")),
        "InvalidDestCidrIp.Malformed",
        400,
    );
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&Ipv6SourceCidrIp=10.0.0.0/8")),
        "InvalidParam.Ipv6SourceCidrIp",
        400,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&Ipv6DestCidrIp=2001:db8::***")),
        "InvalidParam.Ipv6DestCidrIp",
        400,
    );
}

#[test]
fn both_families_of_one_side() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Ipv6SourceCidrIp=2001:db8::1"),
        ),
        "InvalidParam.SourceIp",
        400,
    );
    rejects(
        &mut s,
        &egress(
            "sg-a",
            &format!("{TCP22}&DestCidrIp=1.2.3.4&Ipv6DestCidrIp=2001:db8::1"),
        ),
        "InvalidParam.DestIp",
        400,
    );
}

#[test]
fn ipv4_and_ipv6_in_one_rule() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Ipv6DestCidrIp=2001:db8::1"),
        ),
        "InvalidParameter.Conflict",
        400,
    );
}

#[test]
fn source_equals_dest() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=10.0.0.0/24&DestCidrIp=10.0.0.0/24"),
        ),
        "InvalidParamter.Conflict",
        400,
    );
}

#[test]
fn protocol_family_conflicts() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=icmp&PortRange=-1/-1&Ipv6SourceCidrIp=::/0",
        ),
        "InvalidParam.Ipv4ProtocolConflictWithIpv6Address",
        400,
    );
    rejects(
        &mut s,
        &egress(
            "sg-a",
            "IpProtocol=icmpv6&PortRange=-1/-1&DestCidrIp=0.0.0.0/0",
        ),
        "InvalidParam.Ipv6ProtocolConflictWithIpv4Address",
        400,
    );
    rejects(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=icmp&PortRange=-1/-1&SourcePrefixListId=pl-v6",
        ),
        "InvalidParam.ProtocolAndAddressFamilyMismatch",
        400,
    );
}

#[test]
fn prefix_list_family_mismatch() {
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourcePrefixListId=pl-v4&Ipv6DestCidrIp=2001:db8::5"),
        ),
        "InvalidParam.PrefixListAddressFamilyMismatch",
        400,
    );
}

#[test]
fn missing_source_or_destination() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", TCP22),
        "MissingParameter.Source",
        400,
    );
    // A local CIDR alone names no remote object.
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&DestCidrIp=10.0.0.5")),
        "MissingParameter.Source",
        400,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&SourceCidrIp=10.0.0.5")),
        "MissingParameter.Dest",
        400,
    );
}

#[test]
fn description_too_long() {
    let long = "d".repeat(513);
    rejects(
        &mut sim(),
        &ingress(
            "sg-a",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Description={long}"),
        ),
        "InvalidSecurityGroupDiscription.Malformed",
        400,
    );
}

// ---- references ----

#[test]
fn referenced_group_not_found() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceGroupId=sg-nope")),
        "InvalidSourceGroupId.NotFound",
        404,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&DestGroupId=sg-nope")),
        "InvalidDestGroupId.NotFound",
        404,
    );
    // Revoking a rule that does not exist still names a group that must exist.
    rejects(
        &mut s,
        &call(
            "RevokeSecurityGroup",
            "sg-a",
            &format!("{TCP22}&SourceGroupId=sg-nope"),
        ),
        "InvalidSourceGroupId.NotFound",
        404,
    );
}

#[test]
fn self_reference() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceGroupId=sg-a")),
        "InvalidParamter.Conflict",
        403,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&DestGroupId=sg-a")),
        "InvalidSecurityGroup.IsSame",
        403,
    );
}

#[test]
fn referenced_group_in_another_vpc() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceGroupId=sg-far")),
        "InvalidSourceGroupId.Mismatch",
        400,
    );
    rejects(
        &mut s,
        &egress("sg-a", &format!("{TCP22}&DestGroupId=sg-far")),
        "InvalidDestGroupId.Mismatch",
        400,
    );
}

#[test]
fn group_reference_must_be_intranet() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress(
            "sg-classic",
            &format!("{TCP22}&SourceGroupId=sg-classic2&NicType=internet"),
        ),
        "InvalidSourceGroupId.Mismatch",
        403,
    );
    rejects(
        &mut s,
        &egress(
            "sg-classic",
            &format!("{TCP22}&DestGroupId=sg-classic2&NicType=internet"),
        ),
        "InvalidDestGroupId.Mismatch",
        403,
    );
}

#[test]
fn network_type_mismatch() {
    let mut s = sim();
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceGroupId=sg-classic")),
        "InvalidNetworkType.Mismatch",
        403,
    );
    rejects(
        &mut s,
        &egress("sg-classic", &format!("{TCP22}&DestGroupId=sg-a")),
        "InvalidNetworkType.Conflict",
        403,
    );
}

#[test]
fn enterprise_group_restrictions() {
    let mut s = sim();
    // Enterprise groups take no drop rules and no group references.
    rejects(
        &mut s,
        &ingress(
            "sg-ent",
            &format!("{TCP22}&SourceCidrIp=1.2.3.4&Policy=drop"),
        ),
        "InvalidGroupParameter.OperationDenied",
        400,
    );
    rejects(
        &mut s,
        &ingress("sg-ent", &format!("{TCP22}&SourceGroupId=sg-a")),
        "InvalidGroupParameter.OperationDenied",
        400,
    );
    // …and cannot be referenced.
    rejects(
        &mut s,
        &ingress("sg-a", &format!("{TCP22}&SourceGroupId=sg-ent")),
        "InvalidGroupAuthParameter.OperationDenied",
        400,
    );
    rejects(
        &mut s,
        "Action=ModifySecurityGroupPolicy&RegionId=cn-hangzhou&SecurityGroupId=sg-ent&InnerAccessPolicy=Accept",
        "InvalidParameter.InnerAccessPolicy",
        404,
    );
}

#[test]
fn prefix_list_not_found() {
    rejects(
        &mut sim(),
        &egress("sg-a", &format!("{TCP22}&DestPrefixListId=pl-nope")),
        "InvalidPrefixListId.NotFound",
        404,
    );
}

#[test]
fn prefix_list_in_classic_group() {
    rejects(
        &mut sim(),
        &ingress("sg-classic", &format!("{TCP22}&SourcePrefixListId=pl-v4")),
        "NotSupported.ClassicNetworkPrefixList",
        400,
    );
}

// ---- limits (S19) ----

#[test]
fn group_reference_limit() {
    let mut s = sim();
    // sg-a has one group rule already; 19 more fill it to 20.
    let perms: Vec<String> = (1..=19)
        .map(|i| {
            format!(r#"{{"IpProtocol": "tcp", "PortRange": "{i}/{i}", "SourceGroupId": "sg-b"}}"#)
        })
        .collect();
    accepts(
        &mut s,
        &format!(
            r#"{{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a", "Permissions": [{}]}}"#,
            perms.join(",")
        ),
    );
    rejects(
        &mut s,
        &egress("sg-a", "IpProtocol=tcp&PortRange=9/9&DestGroupId=sg-b"),
        "AuthorizedGroupRule.LimitExceed",
        400,
    );
}

/// A snapshot whose NIC carries `rules` single rules in one group, plus an empty group and a
/// 200-entry prefix list.
fn big_sim(rules: usize) -> sgsim::Simulator {
    let permissions: Vec<String> = (0..rules)
        .map(|i| {
            format!(
                r#"{{"SecurityGroupRuleId": "sgr-{i}", "Direction": "ingress", "IpProtocol": "tcp",
                    "PortRange": "{p}/{p}", "SourceCidrIp": "10.{a}.{b}.0/24", "Policy": "Accept", "Priority": 1}}"#,
                p = i % 65535 + 1,
                a = i / 256 % 256,
                b = i % 256
            )
        })
        .collect();
    let text = format!(
        r#"{{"SecurityGroups": [
             {{"SecurityGroupId": "sg-big", "VpcId": "vpc-1", "Permissions": {{"Permission": [{}]}}}},
             {{"SecurityGroupId": "sg-small", "VpcId": "vpc-1", "Permissions": {{"Permission": [
               {{"Direction": "egress", "IpProtocol": "udp", "PortRange": "53/53", "DestCidrIp": "8.8.8.8"}},
               {{"Direction": "egress", "IpProtocol": "udp", "PortRange": "54/54", "DestCidrIp": "8.8.8.8"}}]}}}}],
           "NetworkInterfaces": [{{"NetworkInterfaceId": "eni-big", "VpcId": "vpc-1", "PrivateIpAddress": "10.9.0.1",
             "SecurityGroupIds": {{"SecurityGroupId": ["sg-big"]}}}}],
           "PrefixLists": [{{"PrefixListId": "pl-200", "AddressFamily": "IPv4", "MaxEntries": 200,
             "Entries": {{"Entry": [{{"Cidr": "192.0.2.0/24"}}]}}}}]}}"#,
        permissions.join(",")
    );
    sgsim::Simulator::with_seed(sgsim::Snapshot::from_json_str(&text).unwrap(), 1)
}

#[test]
fn nic_rule_limit() {
    let mut s = big_sim(999);
    accepts(
        &mut s,
        &egress("sg-big", "IpProtocol=tcp&PortRange=1/1&DestCidrIp=1.1.1.1"),
    );
    // The 1001st rule on eni-big.
    rejects(
        &mut s,
        &egress("sg-big", "IpProtocol=tcp&PortRange=2/2&DestCidrIp=1.1.1.1"),
        "AuthorizationLimitExceed",
        403,
    );
}

#[test]
fn nic_rule_limit_weights_lists_by_max_entries() {
    let mut s = big_sim(801);
    // One rule, but it references a 200-entry prefix list: 801 + 200 > 1000.
    rejects(
        &mut s,
        &ingress(
            "sg-big",
            "IpProtocol=tcp&PortRange=1/1&SourcePrefixListId=pl-200",
        ),
        "AuthorizationLimitExceed",
        403,
    );
    let mut s = big_sim(800);
    accepts(
        &mut s,
        &ingress(
            "sg-big",
            "IpProtocol=tcp&PortRange=1/1&SourcePrefixListId=pl-200",
        ),
    );
}

#[test]
fn nic_rule_limit_on_attach() {
    let mut s = big_sim(999);
    rejects(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-big&SecurityGroupId.1=sg-big&SecurityGroupId.2=sg-small",
        "AuthorizationLimitExceed",
        403,
    );
}

#[test]
fn nic_group_limit() {
    let mut s = sim();
    let mut text =
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a"
            .to_string();
    for i in 1..=11 {
        text.push_str(&format!("&SecurityGroupId.{i}=sg-a{i}"));
    }
    rejects(&mut s, &text, "InstanceSecurityGroupLimitExceeded", 400);
}

// ---- rule ids, revoke and modify (S18, S20) ----

#[test]
fn revoke_unknown_rule_id() {
    let mut s = sim();
    rejects(
        &mut s,
        "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId.1=sgr-nope",
        "InvalidParam.SecurityGroupRuleId",
        400,
    );
    // An egress rule's id given to the ingress call.
    rejects(
        &mut s,
        "Action=RevokeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId.1=sgr-a-ssh&SecurityGroupRuleId.2=sgr-a-out",
        "InvalidParam.SecurityGroupRuleId",
        400,
    );
}

#[test]
fn revoke_repeated_rule_id() {
    rejects(
        &mut sim(),
        r#"{"Action": "RevokeSecurityGroup", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-a",
            "SecurityGroupRuleId": ["sgr-a-ssh", "sgr-a-ssh"]}"#,
        "InvalidParam.SecurityGroupRuleIdRepeated",
        400,
    );
}

fn modify(rule: &str, fields: &str) -> String {
    format!("Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&SecurityGroupRuleId={rule}&{fields}")
}

#[test]
fn modify_unknown_rule_id() {
    let mut s = sim();
    rejects(
        &mut s,
        &modify("sgr-nope", "Priority=2"),
        "InvalidSecurityGroupRuleId.NotFound",
        404,
    );
    // sgr-a-out is an egress rule.
    rejects(
        &mut s,
        &modify("sgr-a-out", "Priority=2"),
        "InvalidSecurityGroupRuleId.NotFound",
        404,
    );
}

#[test]
fn legacy_modify_without_match() {
    rejects(
        &mut sim(),
        "Action=ModifySecurityGroupRule&RegionId=cn-hangzhou&SecurityGroupId=sg-a&IpProtocol=tcp&PortRange=23/23&SourceCidrIp=10.0.0.0/8&Description=x",
        "SecurityGroupRule.NotFound",
        404,
    );
}

#[test]
fn modify_cannot_change_remote_kind_or_family() {
    let mut s = sim();
    rejects(
        &mut s,
        &modify("sgr-a-ssh", "SourceGroupId=sg-b"),
        "InvalidOperation.ModifySgRuleEntityType",
        400,
    );
    rejects(
        &mut s,
        &modify("sgr-a-ssh", "Ipv6SourceCidrIp=::/0"),
        "InvalidOperation.ModifySgRuleEntityType",
        400,
    );
    rejects(
        &mut s,
        &modify("sgr-a-from-b", "SourcePrefixListId=pl-v4"),
        "InvalidOperation.ModifySgRuleEntityType",
        400,
    );
}

#[test]
fn modify_cannot_change_nic_type() {
    rejects(
        &mut sim(),
        &modify("sgr-a-ssh", "NicType=internet"),
        "InvalidOperation.ModifyNicType",
        400,
    );
}

#[test]
fn modify_cannot_switch_ports_and_port_list() {
    let mut s = sim();
    rejects(
        &mut s,
        &modify("sgr-a-ssh", "PortRangeListId=prl-1"),
        "InvalidOperation.ModifyPortRangeType",
        400,
    );
    rejects(
        &mut s,
        &modify("sgr-a-web", "PortRange=80/80"),
        "InvalidOperation.ModifyPortRangeType",
        400,
    );
}

#[test]
fn modify_cannot_clear_a_field() {
    rejects(
        &mut sim(),
        &modify("sgr-a-ssh", "Description="),
        "InvalidParam.InvalidModifyRuleRequest",
        400,
    );
}

#[test]
fn modify_cannot_make_a_duplicate() {
    let mut s = sim();
    accepts(
        &mut s,
        &ingress(
            "sg-a",
            "IpProtocol=tcp&PortRange=23/23&SourceCidrIp=10.0.0.0/8",
        ),
    );
    rejects(
        &mut s,
        &modify("sgr-a-ssh", "PortRange=23/23"),
        "InvalidOperation.RuleDuplicate",
        400,
    );
}

// ---- groups and NICs ----

#[test]
fn create_group_errors() {
    let mut s = sim();
    let create = |extra: &str| format!("Action=CreateSecurityGroup&RegionId=cn-hangzhou&{extra}");
    rejects(
        &mut s,
        &create("VpcId=vpc-1&SecurityGroupType=premium"),
        "InvalidParams.GroupType",
        400,
    );
    rejects(
        &mut s,
        &create("SecurityGroupType=enterprise"),
        "InvalidParams.VpcIdGroupType",
        400,
    );
    rejects(
        &mut s,
        &create("VpcId=vpc-1&SecurityGroupName=1web"),
        "InvalidSecurityGroupName.Malformed",
        400,
    );
    rejects(
        &mut s,
        &create("VpcId=vpc-1&SecurityGroupName=http://x"),
        "InvalidSecurityGroupName.Malformed",
        400,
    );
    rejects(
        &mut s,
        &create("VpcId=vpc-1&Description=x"),
        "InvalidDescription.Malformed",
        400,
    );
    rejects(
        &mut s,
        &create("VpcId=vpc-1&Description=https://example.com"),
        "InvalidDescription.Malformed",
        400,
    );
}

#[test]
fn delete_group_in_use() {
    let mut s = sim();
    // sg-b is on eni-b.
    let on_nic = rejects(
        &mut s,
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-b",
        "DependencyViolation",
        403,
    );
    // Off the NIC, it is still referenced by sg-a's rule sgr-a-from-b.
    accepts(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-b&SecurityGroupId.1=sg-a",
    );
    let answer = rejects(
        &mut s,
        "Action=DeleteSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-b",
        "DependencyViolation",
        403,
    );
    assert_eq!(on_nic.error.unwrap().code, ErrorCode::GroupHasInstances);
    assert_eq!(
        on_nic.body["Message"],
        "There is still instance(s) in the specified security group."
    );
    assert_eq!(answer.error.unwrap().code, ErrorCode::GroupReferenced);
    assert_eq!(
        answer.body["Message"],
        "The specified security group has been authorized in another one."
    );
}

#[test]
fn nic_not_found() {
    rejects(
        &mut sim(),
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-nope&SecurityGroupId.1=sg-a",
        "InvalidEniId.NotFound",
        404,
    );
}

#[test]
fn nic_vpc_mismatch() {
    let mut s = sim();
    rejects(
        &mut s,
        "Action=ModifyNetworkInterfaceAttribute&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a&SecurityGroupId.1=sg-far",
        "InvalidOperation.VpcMismatch",
        403,
    );
    rejects(
        &mut s,
        r#"{"Action": "ModifyNetworkInterfaceAttribute", "RegionId": "cn-hangzhou", "NetworkInterfaceId": "eni-a",
            "SecurityGroupId": ["sg-a", "sg-classic"]}"#,
        "InvalidOperation.VpcMismatch",
        403,
    );
}

fn create_nic(extra: &str) -> String {
    format!("Action=CreateNetworkInterface&RegionId=cn-hangzhou&VSwitchId=vsw-1&{extra}")
}

#[test]
fn create_nic_errors() {
    let mut s = sim();
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-a"),
        "MissingParameter",
        400,
    );
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-a&PrimaryIpAddress=10.0.0.300"),
        "InvalidPrivateIpAddress.Malformed",
        400,
    );
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-a&PrimaryIpAddress=10.0.1.1&Ipv6Address.1=10.0.1.2"),
        "InvalidPrivateIpAddress.Malformed",
        400,
    );
    // 10.0.0.5 is eni-a's, in the same VPC.
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-a&PrimaryIpAddress=10.0.0.5"),
        "InvalidIPAddress.AlreadyUsed",
        400,
    );
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-a&PrimaryIpAddress=10.0.1.1&PrivateIpAddress.1=10.0.1.1"),
        "InvalidIPAddress.AlreadyUsed",
        400,
    );
    rejects(
        &mut s,
        &create_nic("SecurityGroupId=sg-classic&PrimaryIpAddress=10.0.1.1"),
        "InvalidSecurityGroupId.NotVpc",
        403,
    );
    rejects(
        &mut s,
        &create_nic("SecurityGroupIds.1=sg-a&SecurityGroupIds.2=sg-far&PrimaryIpAddress=10.0.1.1"),
        "InvalidOperation.VpcMismatch",
        403,
    );
    // The same address in another VPC is free.
    accepts(
        &mut s,
        &create_nic("SecurityGroupId=sg-far&PrimaryIpAddress=10.0.0.5"),
    );
}

#[test]
fn delete_nic_errors() {
    let mut s = sim();
    rejects(
        &mut s,
        "Action=DeleteNetworkInterface&RegionId=cn-hangzhou&NetworkInterfaceId=eni-nope",
        "InvalidEniId.NotFound",
        404,
    );
    // eni-a is attached to instance i-a.
    rejects(
        &mut s,
        "Action=DeleteNetworkInterface&RegionId=cn-hangzhou&NetworkInterfaceId=eni-a",
        "InvalidOperation.InvalidEniState",
        400,
    );
    accepts(
        &mut s,
        "Action=DeleteNetworkInterface&RegionId=cn-hangzhou&NetworkInterfaceId=eni-b",
    );
}

/// Issue 16, why 3: ModifySecurityGroupPolicy's page lists `MissingParamter.RegionId`.
#[test]
fn modify_policy_without_region_answers_its_documented_code() {
    let mut sim = sim();
    let answer = rejects(
        &mut sim,
        "Action=ModifySecurityGroupPolicy&SecurityGroupId=sg-a&InnerAccessPolicy=Drop",
        "MissingParamter.RegionId",
        400,
    );
    assert_eq!(answer.body["Message"], "The RegionId should not be null.");
}

/// docs/control-plane.md's table of error codes is `ErrorCode`'s table, rendered.
#[test]
fn docs_table_is_the_code_table() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/control-plane.md"
    ))
    .expect("docs/control-plane.md");
    let table = ErrorCode::docs_table();
    assert!(
        docs.contains(&table),
        "docs/control-plane.md's error table differs from ErrorCode's; paste this there:\n{table}"
    );
}

/// Every error of `ErrorCode`'s table (so every row of the docs' table) is triggered by a test
/// in this file, which expects its wire code and status.
#[test]
fn every_code_is_tested() {
    let this: String = include_str!("control_errors.rs")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for code in ErrorCode::ALL {
        let (wire, status) = (code.as_str(), code.http_status());
        assert!(
            this.contains(&format!("\"{wire}\",{status}")),
            "{code:?} ({wire} {status}) is in the table but no test here expects it"
        );
    }
    assert!(ErrorCode::ALL.len() >= 60);
}
