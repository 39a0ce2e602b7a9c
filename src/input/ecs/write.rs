//! Model → the ECS API's JSON shapes: the inverse of loading. A written snapshot loads back into
//! the same model (`tests/control/control_roundtrip.rs` checks it), and every object keeps the keys the
//! API gives it: rules carry every field, unset ones as `""`, exactly as
//! DescribeSecurityGroupAttribute returns them; keys the model does not interpret (`Type`,
//! `Status`, `RequestId`, …) come back verbatim.
//!
//! The writer serializes borrowed views of the model straight to text, so writing a large
//! snapshot costs about as much as reading it.

use crate::model::{
    proto, Action, ClientTokenRecord, DestPorts, Direction, Extra, Family, InnerAccessPolicy, Nic,
    PortRangeList, PrefixList, Protocol, RemoteObject, Rule, SecurityGroup, Snapshot,
};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

/// The snapshot as one JSON object with the keys of `shared/spec/interface.md` (plus
/// `ClientTokens` when any call was made with a client token).
pub fn snapshot_to_value(snapshot: &Snapshot) -> Value {
    serde_json::to_value(WireSnapshot::whole(snapshot)).unwrap_or(Value::Null)
}

/// [`snapshot_to_value`], pretty-printed with a final newline.
pub fn snapshot_to_string(snapshot: &Snapshot) -> String {
    let mut out = Vec::with_capacity(1 << 16);
    // Writing to a Vec cannot fail, and the model only holds valid UTF-8.
    let _ = write_snapshot(snapshot, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes [`snapshot_to_string`]'s text to `out`.
pub fn write_snapshot(snapshot: &Snapshot, mut out: impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut out, &WireSnapshot::whole(snapshot))?;
    out.write_all(b"\n")
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

/// A snapshot in the API's shape; with `beside`, every group, NIC and list that `beside` holds
/// unchanged is written as its id alone ([`snapshot_to_value_beside`]).
struct WireSnapshot<'a> {
    snapshot: &'a Snapshot,
    beside: Option<&'a Snapshot>,
}

impl<'a> WireSnapshot<'a> {
    fn whole(snapshot: &'a Snapshot) -> WireSnapshot<'a> {
        WireSnapshot {
            snapshot,
            beside: None,
        }
    }
}

/// [`snapshot_to_value`] with every group, NIC and list that `other` holds unchanged (same id,
/// equal in the model) written as its id alone. Two snapshots put in this shape beside each
/// other differ exactly where the models do, at a small part of the cost of the whole shape on
/// a large account ([`super::preserve`] compares them).
pub fn snapshot_to_value_beside(snapshot: &Snapshot, other: &Snapshot) -> Value {
    let wire = WireSnapshot {
        snapshot,
        beside: Some(other),
    };
    serde_json::to_value(wire).unwrap_or(Value::Null)
}

/// An element in full, or only its id (`key`: the id's field) when the other snapshot has it
/// unchanged.
enum OrId<'a, T> {
    Full(T),
    Id(&'static str, &'a str),
}

impl<'a, T> OrId<'a, T> {
    /// `Id` when `unchanged` (the element `beside` holds under the same id equals `element`).
    fn of<E: PartialEq>(
        unchanged: Option<&E>,
        element: &E,
        key: &'static str,
        id: &'a str,
        full: impl FnOnce() -> T,
    ) -> OrId<'a, T> {
        if unchanged == Some(element) {
            OrId::Id(key, id)
        } else {
            OrId::Full(full())
        }
    }
}

impl<T: Serialize> Serialize for OrId<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OrId::Full(full) => full.serialize(serializer),
            OrId::Id(key, id) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(key, id)?;
                map.end()
            }
        }
    }
}

impl Serialize for WireSnapshot<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (snapshot, beside) = (self.snapshot, self.beside);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "SecurityGroups",
            &Seq(snapshot.groups().iter().map(|g| {
                let unchanged = beside.and_then(|o| Some(o.group(o.group_index(&g.id)?)));
                OrId::of(unchanged, g, "SecurityGroupId", &g.id, || {
                    WireGroup(snapshot, g)
                })
            })),
        )?;
        map.serialize_entry(
            "NetworkInterfaces",
            &Seq(snapshot.nics().iter().map(|n| {
                let unchanged = beside.and_then(|o| Some(o.nic(o.nic_index(&n.id)?)));
                OrId::of(unchanged, n, "NetworkInterfaceId", &n.id, || {
                    WireNic(snapshot, n)
                })
            })),
        )?;
        map.serialize_entry(
            "PrefixLists",
            &Seq(snapshot.prefix_lists().iter().map(|l| {
                let unchanged = beside.and_then(|o| o.prefix_list(&l.id));
                OrId::of(unchanged, l, "PrefixListId", &l.id, || WirePrefixList(l))
            })),
        )?;
        map.serialize_entry(
            "PortRangeLists",
            &Seq(snapshot.port_lists().iter().map(|l| {
                let unchanged = beside.and_then(|o| o.port_list(&l.id));
                OrId::of(unchanged, l, "PortRangeListId", &l.id, || WirePortList(l))
            })),
        )?;
        if !snapshot.client_tokens().is_empty() {
            map.serialize_entry(
                "ClientTokens",
                &Seq(snapshot.client_tokens().iter().map(WireToken)),
            )?;
        }
        map.end()
    }
}

/// Serializes an iterator as a JSON array.
struct Seq<I>(I);

impl<I, T> Serialize for Seq<I>
where
    I: Iterator<Item = T> + Clone,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.clone())
    }
}

/// Writes the keys of `extra` that `known` does not name.
fn serialize_extra<M: SerializeMap>(
    map: &mut M,
    extra: &Extra,
    known: &[&str],
) -> Result<(), M::Error> {
    for (key, value) in extra {
        if !known.contains(&key.as_str()) {
            map.serialize_entry(key, value)?;
        }
    }
    Ok(())
}

struct WireGroup<'a>(&'a Snapshot, &'a SecurityGroup);

impl Serialize for WireGroup<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KNOWN: [&str; 8] = [
            "SecurityGroupId",
            "SecurityGroupName",
            "SecurityGroupType",
            "VpcId",
            "InnerAccessPolicy",
            "Description",
            "RegionId",
            "Permissions",
        ];
        let (snapshot, group) = (self.0, self.1);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("SecurityGroupId", &group.id)?;
        map.serialize_entry("SecurityGroupName", &group.name)?;
        map.serialize_entry("SecurityGroupType", group.kind.as_str())?;
        map.serialize_entry("VpcId", &group.vpc_id)?;
        map.serialize_entry(
            "InnerAccessPolicy",
            match group.inner_access {
                InnerAccessPolicy::Accept => "Accept",
                InnerAccessPolicy::Drop => "Drop",
            },
        )?;
        map.serialize_entry("Description", &group.description)?;
        if !group.region_id.is_empty() {
            map.serialize_entry("RegionId", &group.region_id)?;
        }
        serialize_extra(&mut map, &group.extra, &KNOWN)?;
        map.serialize_entry("Permissions", &WirePermissions(snapshot, &group.rules))?;
        map.end()
    }
}

struct WirePermissions<'a>(&'a Snapshot, &'a [Rule]);

impl Serialize for WirePermissions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(
            "Permission",
            &Seq(self.1.iter().map(|r| WireRule::new(self.0, r))),
        )?;
        map.end()
    }
}

/// One rule with every field DescribeSecurityGroupAttribute returns, unset ones as `""`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireRule<'a> {
    security_group_rule_id: &'a str,
    direction: &'static str,
    policy: &'static str,
    priority: u8,
    ip_protocol: String,
    port_range: String,
    port_range_list_id: &'a str,
    port_range_list_name: &'a str,
    source_port_range: String,
    source_cidr_ip: String,
    ipv6_source_cidr_ip: String,
    source_group_id: &'a str,
    source_group_name: &'a str,
    source_group_owner_account: &'static str,
    source_prefix_list_id: &'a str,
    source_prefix_list_name: &'a str,
    dest_cidr_ip: String,
    ipv6_dest_cidr_ip: String,
    dest_group_id: &'a str,
    dest_group_name: &'a str,
    dest_group_owner_account: &'static str,
    dest_prefix_list_id: &'a str,
    dest_prefix_list_name: &'a str,
    nic_type: &'static str,
    description: &'a str,
    create_time: &'a str,
}

impl<'a> WireRule<'a> {
    fn new(snapshot: &'a Snapshot, rule: &'a Rule) -> WireRule<'a> {
        let mut wire = WireRule {
            security_group_rule_id: &rule.id,
            direction: rule.direction.as_str(),
            policy: policy_api_name(rule.action),
            priority: rule.priority,
            ip_protocol: protocol_api_name(rule.protocol),
            port_range: String::new(),
            port_range_list_id: "",
            port_range_list_name: "",
            source_port_range: rule.source_ports.map(|r| r.to_string()).unwrap_or_default(),
            source_cidr_ip: String::new(),
            ipv6_source_cidr_ip: String::new(),
            source_group_id: "",
            source_group_name: "",
            source_group_owner_account: "",
            source_prefix_list_id: "",
            source_prefix_list_name: "",
            dest_cidr_ip: String::new(),
            ipv6_dest_cidr_ip: String::new(),
            dest_group_id: "",
            dest_group_name: "",
            dest_group_owner_account: "",
            dest_prefix_list_id: "",
            dest_prefix_list_name: "",
            nic_type: rule.nic_type.as_str(),
            description: &rule.description,
            create_time: &rule.create_time,
        };
        match &rule.dest_ports {
            DestPorts::Any => wire.port_range = "-1/-1".to_string(),
            DestPorts::Range(range) => wire.port_range = range.to_string(),
            // As DescribeSecurityGroupAttribute returns port-list rules: PortRange empty.
            DestPorts::List(id) => {
                wire.port_range_list_id = id;
                wire.port_range_list_name = snapshot.port_list(id).map_or("", |l| &l.name);
            }
        }
        let ingress = rule.direction == Direction::Ingress;
        match &rule.remote {
            RemoteObject::Cidr(net) => wire.set_cidr(ingress, *net),
            RemoteObject::Group(id) => {
                let name = snapshot
                    .group_index(id)
                    .map_or("", |g| snapshot.group(g).name.as_str());
                if ingress {
                    (wire.source_group_id, wire.source_group_name) = (id, name);
                } else {
                    (wire.dest_group_id, wire.dest_group_name) = (id, name);
                }
            }
            RemoteObject::PrefixList(id) => {
                let name = snapshot.prefix_list(id).map_or("", |l| l.name.as_str());
                if ingress {
                    (wire.source_prefix_list_id, wire.source_prefix_list_name) = (id, name);
                } else {
                    (wire.dest_prefix_list_id, wire.dest_prefix_list_name) = (id, name);
                }
            }
        }
        if let Some(local) = rule.local {
            wire.set_cidr(!ingress, local);
        }
        wire
    }

    /// Sets the source (`true`) or destination CIDR field of the net's family.
    fn set_cidr(&mut self, source: bool, net: ipnet::IpNet) {
        let text = net.to_string();
        match (source, Family::of_net(&net)) {
            (true, Family::V4) => self.source_cidr_ip = text,
            (true, Family::V6) => self.ipv6_source_cidr_ip = text,
            (false, Family::V4) => self.dest_cidr_ip = text,
            (false, Family::V6) => self.ipv6_dest_cidr_ip = text,
        }
    }
}

struct WireNic<'a>(&'a Snapshot, &'a Nic);

impl Serialize for WireNic<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KNOWN: [&str; 7] = [
            "NetworkInterfaceId",
            "InstanceId",
            "VpcId",
            "PrivateIpAddress",
            "PrivateIpSets",
            "Ipv6Sets",
            "SecurityGroupIds",
        ];
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct PrivateIp {
            private_ip_address: String,
            primary: bool,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Ipv6 {
            ipv6_address: String,
        }
        let (snapshot, nic) = (self.0, self.1);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("NetworkInterfaceId", &nic.id)?;
        map.serialize_entry("InstanceId", &nic.instance_id)?;
        map.serialize_entry("VpcId", &nic.vpc_id)?;
        let v4: Vec<String> = nic
            .addresses
            .iter()
            .filter(|a| a.is_ipv4())
            .map(|a| a.to_string())
            .collect();
        if let Some(primary) = v4.first() {
            map.serialize_entry("PrivateIpAddress", primary)?;
        }
        let sets: Vec<PrivateIp> = v4
            .iter()
            .enumerate()
            .map(|(i, a)| PrivateIp {
                private_ip_address: a.clone(),
                primary: i == 0,
            })
            .collect();
        map.serialize_entry(
            "PrivateIpSets",
            &serde_json::json!({ "PrivateIpSet": sets }),
        )?;
        let v6: Vec<Ipv6> = nic
            .addresses
            .iter()
            .filter(|a| a.is_ipv6())
            .map(|a| Ipv6 {
                ipv6_address: a.to_string(),
            })
            .collect();
        if !v6.is_empty() {
            map.serialize_entry("Ipv6Sets", &serde_json::json!({ "Ipv6Set": v6 }))?;
        }
        let ids: Vec<&str> = nic
            .groups
            .iter()
            .map(|&g| snapshot.group(g).id.as_str())
            .collect();
        map.serialize_entry(
            "SecurityGroupIds",
            &serde_json::json!({ "SecurityGroupId": ids }),
        )?;
        serialize_extra(&mut map, &nic.extra, &KNOWN)?;
        map.end()
    }
}

struct WirePrefixList<'a>(&'a PrefixList);

impl Serialize for WirePrefixList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KNOWN: [&str; 5] = [
            "PrefixListId",
            "PrefixListName",
            "AddressFamily",
            "MaxEntries",
            "Entries",
        ];
        let list = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("PrefixListId", &list.id)?;
        map.serialize_entry("PrefixListName", &list.name)?;
        map.serialize_entry("AddressFamily", list.family.as_str())?;
        map.serialize_entry("MaxEntries", &list.max_entries)?;
        let entries: Vec<Value> = list
            .cidrs
            .iter()
            .enumerate()
            .map(|(i, net)| {
                let description = list.entry_descriptions.get(i).cloned().unwrap_or_default();
                serde_json::json!({ "Cidr": net.to_string(), "Description": description })
            })
            .collect();
        map.serialize_entry("Entries", &serde_json::json!({ "Entry": entries }))?;
        serialize_extra(&mut map, &list.extra, &KNOWN)?;
        map.end()
    }
}

struct WirePortList<'a>(&'a PortRangeList);

impl Serialize for WirePortList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KNOWN: [&str; 4] = [
            "PortRangeListId",
            "PortRangeListName",
            "MaxEntries",
            "Entries",
        ];
        let list = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("PortRangeListId", &list.id)?;
        map.serialize_entry("PortRangeListName", &list.name)?;
        map.serialize_entry("MaxEntries", &list.max_entries)?;
        let entries: Vec<Value> = list
            .ranges
            .iter()
            .enumerate()
            .map(|(i, range)| {
                let description = list.entry_descriptions.get(i).cloned().unwrap_or_default();
                serde_json::json!({ "PortRange": range.to_string(), "Description": description })
            })
            .collect();
        map.serialize_entry("Entries", &serde_json::json!({ "Entry": entries }))?;
        serialize_extra(&mut map, &list.extra, &KNOWN)?;
        map.end()
    }
}

struct WireToken<'a>(&'a ClientTokenRecord);

impl Serialize for WireToken<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let record = self.0;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("ClientToken", &record.token)?;
        map.serialize_entry("Action", &record.action)?;
        map.serialize_entry("Fingerprint", &record.fingerprint)?;
        map.serialize_entry("Response", &record.response)?;
        map.end()
    }
}
