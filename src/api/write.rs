//! Model → the ECS API's JSON shapes: the inverse of loading. A written snapshot loads back into
//! the same model (`tests/control_roundtrip.rs` checks it), and every object keeps the keys the
//! API gives it: rules carry every field, unset ones as `""`, exactly as
//! DescribeSecurityGroupAttribute returns them; keys the model does not interpret (`Type`,
//! `Status`, `RequestId`, …) come back verbatim.

use crate::model::{
    proto, Action, ClientTokenRecord, DestPorts, Direction, Family, Nic, PortRangeList, PrefixList,
    Protocol, RemoteObject, Rule, SecurityGroup, Snapshot,
};
use serde_json::{json, Map, Value};

/// The snapshot as one JSON object with the keys of `shared/spec/interface.md` (plus
/// `ClientTokens` when any call was made with a client token).
pub fn snapshot_to_value(snapshot: &Snapshot) -> Value {
    let mut out = Map::new();
    out.insert(
        "SecurityGroups".into(),
        Value::Array(
            snapshot
                .groups()
                .iter()
                .map(|g| group_to_value(snapshot, g))
                .collect(),
        ),
    );
    out.insert(
        "NetworkInterfaces".into(),
        Value::Array(
            snapshot
                .nics()
                .iter()
                .map(|n| nic_to_value(snapshot, n))
                .collect(),
        ),
    );
    out.insert(
        "PrefixLists".into(),
        Value::Array(
            snapshot
                .prefix_lists()
                .iter()
                .map(prefix_list_to_value)
                .collect(),
        ),
    );
    out.insert(
        "PortRangeLists".into(),
        Value::Array(
            snapshot
                .port_lists()
                .iter()
                .map(port_list_to_value)
                .collect(),
        ),
    );
    if !snapshot.client_tokens().is_empty() {
        out.insert(
            "ClientTokens".into(),
            Value::Array(
                snapshot
                    .client_tokens()
                    .iter()
                    .map(token_to_value)
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

/// [`snapshot_to_value`], pretty-printed with a final newline.
pub fn snapshot_to_string(snapshot: &Snapshot) -> String {
    let mut text =
        serde_json::to_string_pretty(&snapshot_to_value(snapshot)).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// The API's spelling of a protocol in responses (`TCP`, `ALL`, …; other numbers as digits).
pub fn protocol_api_name(protocol: Protocol) -> String {
    match protocol {
        Protocol::All => "ALL".to_string(),
        Protocol::Number(proto::TCP) => "TCP".to_string(),
        Protocol::Number(proto::UDP) => "UDP".to_string(),
        Protocol::Number(proto::ICMP) => "ICMP".to_string(),
        Protocol::Number(proto::ICMPV6) => "ICMPv6".to_string(),
        Protocol::Number(proto::GRE) => "GRE".to_string(),
        Protocol::Number(n) => n.to_string(),
    }
}

/// The API's spelling of a policy (`Accept` / `Drop`).
pub fn policy_api_name(action: Action) -> &'static str {
    match action {
        Action::Accept => "Accept",
        Action::Drop => "Drop",
    }
}

fn group_to_value(snapshot: &Snapshot, group: &SecurityGroup) -> Value {
    let mut out = group.extra.clone();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_string(), value);
    };
    put("SecurityGroupId", json!(group.id));
    put("SecurityGroupName", json!(group.name));
    put("SecurityGroupType", json!(group.kind.as_str()));
    put("VpcId", json!(group.vpc_id));
    put(
        "InnerAccessPolicy",
        json!(match group.inner_access {
            crate::model::InnerAccessPolicy::Accept => "Accept",
            crate::model::InnerAccessPolicy::Drop => "Drop",
        }),
    );
    put("Description", json!(group.description));
    if !group.region_id.is_empty() {
        put("RegionId", json!(group.region_id));
    }
    let rules: Vec<Value> = group
        .rules
        .iter()
        .map(|r| rule_to_value(snapshot, r))
        .collect();
    put("Permissions", json!({ "Permission": rules }));
    Value::Object(out)
}

/// One rule with every field the API returns, unset ones as `""`.
pub fn rule_to_value(snapshot: &Snapshot, rule: &Rule) -> Value {
    let mut fields: [(&str, String); 26] = [
        ("SecurityGroupRuleId", rule.id.clone()),
        ("Direction", rule.direction.as_str().to_string()),
        ("Policy", policy_api_name(rule.action).to_string()),
        ("Priority", String::new()), // replaced by a number below
        ("IpProtocol", protocol_api_name(rule.protocol)),
        ("PortRange", String::new()),
        ("PortRangeListId", String::new()),
        ("PortRangeListName", String::new()),
        ("SourcePortRange", String::new()),
        ("SourceCidrIp", String::new()),
        ("Ipv6SourceCidrIp", String::new()),
        ("SourceGroupId", String::new()),
        ("SourceGroupName", String::new()),
        ("SourceGroupOwnerAccount", String::new()),
        ("SourcePrefixListId", String::new()),
        ("SourcePrefixListName", String::new()),
        ("DestCidrIp", String::new()),
        ("Ipv6DestCidrIp", String::new()),
        ("DestGroupId", String::new()),
        ("DestGroupName", String::new()),
        ("DestGroupOwnerAccount", String::new()),
        ("DestPrefixListId", String::new()),
        ("DestPrefixListName", String::new()),
        ("NicType", rule.nic_type.as_str().to_string()),
        ("Description", rule.description.clone()),
        ("CreateTime", rule.create_time.clone()),
    ];
    let mut set = |key: &str, value: String| {
        if let Some(slot) = fields.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        }
    };
    match &rule.dest_ports {
        DestPorts::Any => set("PortRange", "-1/-1".into()),
        DestPorts::Range(range) => set("PortRange", range.to_string()),
        DestPorts::List(id) => {
            // As DescribeSecurityGroupAttribute returns port-list rules.
            set("PortRange", String::new());
            set("PortRangeListId", id.clone());
            if let Some(list) = snapshot.port_list(id) {
                set("PortRangeListName", list.name.clone());
            }
        }
    }
    if let Some(range) = rule.source_ports {
        set("SourcePortRange", range.to_string());
    }
    let (remote_prefix, local_prefix) = match rule.direction {
        Direction::Ingress => ("Source", "Dest"),
        Direction::Egress => ("Dest", "Source"),
    };
    let cidr_key = |prefix: &str, family: Family| match family {
        Family::V4 => format!("{prefix}CidrIp"),
        Family::V6 => format!("Ipv6{prefix}CidrIp"),
    };
    match &rule.remote {
        RemoteObject::Cidr(net) => set(
            &cidr_key(remote_prefix, Family::of_net(net)),
            net.to_string(),
        ),
        RemoteObject::Group(id) => {
            set(&format!("{remote_prefix}GroupId"), id.clone());
            if let Some(index) = snapshot.group_index(id) {
                set(
                    &format!("{remote_prefix}GroupName"),
                    snapshot.group(index).name.clone(),
                );
            }
        }
        RemoteObject::PrefixList(id) => {
            set(&format!("{remote_prefix}PrefixListId"), id.clone());
            if let Some(list) = snapshot.prefix_list(id) {
                set(&format!("{remote_prefix}PrefixListName"), list.name.clone());
            }
        }
    }
    if let Some(local) = &rule.local {
        set(
            &cidr_key(local_prefix, Family::of_net(local)),
            local.to_string(),
        );
    }
    let mut out = Map::new();
    for (key, value) in fields {
        if key == "Priority" {
            out.insert(key.to_string(), json!(rule.priority));
        } else {
            out.insert(key.to_string(), Value::String(value));
        }
    }
    Value::Object(out)
}

fn nic_to_value(snapshot: &Snapshot, nic: &Nic) -> Value {
    let mut out = nic.extra.clone();
    out.insert("NetworkInterfaceId".into(), json!(nic.id));
    out.insert("InstanceId".into(), json!(nic.instance_id));
    out.insert("VpcId".into(), json!(nic.vpc_id));
    let v4: Vec<_> = nic.addresses.iter().filter(|a| a.is_ipv4()).collect();
    let v6: Vec<_> = nic.addresses.iter().filter(|a| a.is_ipv6()).collect();
    if let Some(primary) = v4.first() {
        out.insert("PrivateIpAddress".into(), json!(primary.to_string()));
    }
    let sets: Vec<Value> = v4
        .iter()
        .enumerate()
        .map(|(i, a)| json!({ "PrivateIpAddress": a.to_string(), "Primary": i == 0 }))
        .collect();
    out.insert("PrivateIpSets".into(), json!({ "PrivateIpSet": sets }));
    if !v6.is_empty() {
        let sets: Vec<Value> = v6
            .iter()
            .map(|a| json!({ "Ipv6Address": a.to_string() }))
            .collect();
        out.insert("Ipv6Sets".into(), json!({ "Ipv6Set": sets }));
    }
    let ids: Vec<&str> = nic
        .groups
        .iter()
        .map(|&g| snapshot.group(g).id.as_str())
        .collect();
    out.insert("SecurityGroupIds".into(), json!({ "SecurityGroupId": ids }));
    Value::Object(out)
}

fn prefix_list_to_value(list: &PrefixList) -> Value {
    let mut out = list.extra.clone();
    out.insert("PrefixListId".into(), json!(list.id));
    out.insert("PrefixListName".into(), json!(list.name));
    out.insert("AddressFamily".into(), json!(list.family.as_str()));
    out.insert("MaxEntries".into(), json!(list.max_entries));
    let entries: Vec<Value> = list
        .cidrs
        .iter()
        .enumerate()
        .map(|(i, net)| {
            let description = list.entry_descriptions.get(i).cloned().unwrap_or_default();
            json!({ "Cidr": net.to_string(), "Description": description })
        })
        .collect();
    out.insert("Entries".into(), json!({ "Entry": entries }));
    Value::Object(out)
}

fn port_list_to_value(list: &PortRangeList) -> Value {
    let mut out = list.extra.clone();
    out.insert("PortRangeListId".into(), json!(list.id));
    out.insert("PortRangeListName".into(), json!(list.name));
    out.insert("MaxEntries".into(), json!(list.max_entries));
    let entries: Vec<Value> = list
        .ranges
        .iter()
        .enumerate()
        .map(|(i, range)| {
            let description = list.entry_descriptions.get(i).cloned().unwrap_or_default();
            json!({ "PortRange": range.to_string(), "Description": description })
        })
        .collect();
    out.insert("Entries".into(), json!({ "Entry": entries }));
    Value::Object(out)
}

fn token_to_value(record: &ClientTokenRecord) -> Value {
    json!({
        "ClientToken": record.token,
        "Action": record.action,
        "Fingerprint": record.fingerprint,
        "Response": record.response,
    })
}
