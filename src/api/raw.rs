//! The ECS API's JSON shapes, named exactly as the API names them. Nothing here is validated:
//! [`super::validate`] turns these into [`crate::model`] types.
//!
//! Unknown keys (`RequestId`, `CreateTime`, `SourceGroupOwnerAccount`, …) are ignored, because
//! real responses carry many fields the engine does not need. Each shape's `expecting` names it
//! as the API does, so type errors read `expected a Permission object`, not a Rust type.

use serde::Deserialize;

/// A JSON value the API sends as either a string or a number (`Priority`, `MaxEntries`).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
    /// Any other JSON value: kept so that validation can refuse it showing the value.
    Other(serde_json::Value),
}

impl StringOrNumber {
    /// The value as text, `""` for an empty string.
    pub fn text(&self) -> String {
        match self {
            StringOrNumber::String(s) => s.clone(),
            StringOrNumber::Number(n) => n.to_string(),
            StringOrNumber::Other(value) => value.to_string(),
        }
    }

    /// A JSON rendering for error messages: strings quoted, numbers bare.
    pub fn json(&self) -> String {
        match self {
            StringOrNumber::String(s) => format!("{s:?}"),
            StringOrNumber::Number(n) => n.to_string(),
            StringOrNumber::Other(value) => value.to_string(),
        }
    }
}

/// The snapshot file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a snapshot object")]
pub struct RawSnapshot {
    pub security_groups: Option<Vec<RawSecurityGroup>>,
    pub network_interfaces: Option<Vec<RawNetworkInterface>>,
    pub prefix_lists: Option<Vec<RawPrefixList>>,
    pub port_range_lists: Option<Vec<RawPortRangeList>>,
}

/// A DescribeSecurityGroupAttribute response.
#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "a DescribeSecurityGroupAttribute response"
)]
pub struct RawSecurityGroup {
    pub security_group_id: Option<String>,
    pub security_group_name: Option<String>,
    pub security_group_type: Option<String>,
    pub vpc_id: Option<String>,
    pub inner_access_policy: Option<String>,
    pub permissions: Option<RawPermissions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an object with a Permission array"
)]
pub struct RawPermissions {
    pub permission: Option<Vec<RawPermission>>,
}

/// One rule as DescribeSecurityGroupAttribute returns it: unset fields are `""`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a Permission object")]
pub struct RawPermission {
    pub security_group_rule_id: Option<String>,
    pub direction: Option<String>,
    pub policy: Option<String>,
    pub priority: Option<StringOrNumber>,
    pub ip_protocol: Option<String>,
    pub port_range: Option<String>,
    pub port_range_list_id: Option<String>,
    pub source_port_range: Option<String>,
    pub source_cidr_ip: Option<String>,
    pub ipv6_source_cidr_ip: Option<String>,
    pub source_group_id: Option<String>,
    pub source_prefix_list_id: Option<String>,
    pub dest_cidr_ip: Option<String>,
    pub ipv6_dest_cidr_ip: Option<String>,
    pub dest_group_id: Option<String>,
    pub dest_prefix_list_id: Option<String>,
    pub nic_type: Option<String>,
    pub description: Option<String>,
}

/// A DescribeNetworkInterfaces `NetworkInterfaceSet` item.
#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "a DescribeNetworkInterfaces NetworkInterfaceSet item"
)]
pub struct RawNetworkInterface {
    pub network_interface_id: Option<String>,
    pub instance_id: Option<String>,
    pub vpc_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub private_ip_sets: Option<RawPrivateIpSets>,
    pub ipv6_sets: Option<RawIpv6Sets>,
    pub security_group_ids: Option<RawSecurityGroupIds>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an object with a PrivateIpSet array"
)]
pub struct RawPrivateIpSets {
    pub private_ip_set: Option<Vec<RawPrivateIpSet>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an object with a PrivateIpAddress"
)]
pub struct RawPrivateIpSet {
    pub private_ip_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an object with an Ipv6Set array"
)]
pub struct RawIpv6Sets {
    pub ipv6_set: Option<Vec<RawIpv6Set>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with an Ipv6Address")]
pub struct RawIpv6Set {
    pub ipv6_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "an object with a SecurityGroupId array"
)]
pub struct RawSecurityGroupIds {
    pub security_group_id: Option<Vec<String>>,
}

/// A DescribePrefixListAttributes response.
#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "a DescribePrefixListAttributes response"
)]
pub struct RawPrefixList {
    pub prefix_list_id: Option<String>,
    pub address_family: Option<String>,
    pub max_entries: Option<StringOrNumber>,
    pub entries: Option<RawPrefixListEntries>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with an Entry array")]
pub struct RawPrefixListEntries {
    pub entry: Option<Vec<RawPrefixListEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with a Cidr")]
pub struct RawPrefixListEntry {
    pub cidr: Option<String>,
}

/// A port range list (DescribePortRangeListEntries folded into one object).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a port range list object")]
pub struct RawPortRangeList {
    pub port_range_list_id: Option<String>,
    pub max_entries: Option<StringOrNumber>,
    pub entries: Option<RawPortRangeListEntries>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with an Entry array")]
pub struct RawPortRangeListEntries {
    pub entry: Option<Vec<RawPortRangeListEntry>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "an object with a PortRange")]
pub struct RawPortRangeListEntry {
    pub port_range: Option<String>,
}
