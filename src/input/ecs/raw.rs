//! The ECS API's JSON shapes, named exactly as the API names them. Nothing here is validated:
//! `validate` turns these into [`crate::model`] types.
//!
//! Unknown keys of a rule (`SourceGroupOwnerAccount`, `SourceGroupName`, …) are ignored, because
//! real responses carry many fields the engine does not need; unknown keys of groups, network
//! interfaces and lists are kept verbatim (`extra`) so that a written snapshot keeps them. Each
//! shape's `expecting` names it as the API does, so type errors read `expected a Permission
//! object`, not a Rust type.

use serde::Deserialize;

/// An API object whose every key may be missing: each field is an `Option` of its type, named
/// by the key in PascalCase (unless a field says otherwise), and `expecting` is what serde's
/// errors call the object.
macro_rules! api_object {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident, $expecting:literal {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(rename_all = "PascalCase", expecting = $expecting)]
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: Option<$ty>,)*
        }
    };
}
pub(crate) use api_object;

/// The API wraps each list in an object with one key (`{"Permission": […]}`): such a wrapper.
macro_rules! api_list {
    ($vis:vis $name:ident { $field_vis:vis $field:ident: $item:ty }, $expecting:literal) => {
        api_object!($vis struct $name, $expecting { $field_vis $field: Vec<$item> });
    };
}
pub(crate) use api_list;

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

api_object! {
    /// The snapshot file: every key optional.
    pub struct RawSnapshot, "a snapshot object" {
        pub security_groups: Vec<RawSecurityGroup>,
        pub network_interfaces: Vec<RawNetworkInterface>,
        pub prefix_lists: Vec<RawPrefixList>,
        pub port_range_lists: Vec<RawPortRangeList>,
        /// Client tokens of past API calls (control plane; see `docs/control-plane.md`).
        pub client_tokens: Vec<RawClientToken>,
    }
}

/// One remembered `ClientToken`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RawClientToken {
    pub client_token: Option<String>,
    pub action: Option<String>,
    pub fingerprint: Option<String>,
    pub response: Option<serde_json::Value>,
}

/// A DescribeSecurityGroupAttribute response.
///
/// Deserialized by hand rather than with `#[serde(flatten)]` for `extra`: flattening would
/// buffer the whole `Permissions` array before reading it, which doubles the load time of large
/// groups.
#[derive(Debug, Default)]
pub struct RawSecurityGroup {
    pub security_group_id: Option<String>,
    pub security_group_name: Option<String>,
    pub security_group_type: Option<String>,
    pub vpc_id: Option<String>,
    pub inner_access_policy: Option<String>,
    pub permissions: Option<RawPermissions>,
    pub description: Option<String>,
    pub region_id: Option<String>,
    /// Every other key, verbatim.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl<'de> Deserialize<'de> for RawSecurityGroup {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawSecurityGroup;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a DescribeSecurityGroupAttribute response")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawSecurityGroup, A::Error> {
                let mut group = RawSecurityGroup::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "SecurityGroupId" => group.security_group_id = map.next_value()?,
                        "SecurityGroupName" => group.security_group_name = map.next_value()?,
                        "SecurityGroupType" => group.security_group_type = map.next_value()?,
                        "VpcId" => group.vpc_id = map.next_value()?,
                        "InnerAccessPolicy" => group.inner_access_policy = map.next_value()?,
                        "Permissions" => group.permissions = map.next_value()?,
                        "Description" => group.description = map.next_value()?,
                        "RegionId" => group.region_id = map.next_value()?,
                        _ => {
                            let value: serde_json::Value = map.next_value()?;
                            group.extra.insert(key, value);
                        }
                    }
                }
                Ok(group)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The top level of a snapshot document, for the fast path that reads the text straight into
/// the raw shapes. The group keys only tell a bare group apart.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RawTopLevel {
    pub security_groups: Option<Vec<RawSecurityGroup>>,
    pub network_interfaces: Option<Vec<RawNetworkInterface>>,
    pub prefix_lists: Option<Vec<RawPrefixList>>,
    pub port_range_lists: Option<Vec<RawPortRangeList>>,
    pub client_tokens: Option<Vec<RawClientToken>>,
    pub security_group_id: Option<serde::de::IgnoredAny>,
    pub permissions: Option<serde::de::IgnoredAny>,
}

impl RawTopLevel {
    /// The snapshot, unless the document is a bare group (it has group keys).
    pub fn into_snapshot(self) -> Option<RawSnapshot> {
        if self.security_group_id.is_some() || self.permissions.is_some() {
            return None;
        }
        Some(RawSnapshot {
            security_groups: self.security_groups,
            network_interfaces: self.network_interfaces,
            prefix_lists: self.prefix_lists,
            port_range_lists: self.port_range_lists,
            client_tokens: self.client_tokens,
        })
    }
}

api_list!(pub RawPermissions { pub permission: RawPermission }, "an object with a Permission array");

api_object! {
    /// One rule as DescribeSecurityGroupAttribute returns it: unset fields are `""`.
    pub struct RawPermission, "a Permission object" {
        pub security_group_rule_id: String,
        pub direction: String,
        pub policy: String,
        pub priority: StringOrNumber,
        pub ip_protocol: String,
        pub port_range: String,
        pub port_range_list_id: String,
        pub source_port_range: String,
        pub source_cidr_ip: String,
        pub ipv6_source_cidr_ip: String,
        pub source_group_id: String,
        pub source_prefix_list_id: String,
        pub dest_cidr_ip: String,
        pub ipv6_dest_cidr_ip: String,
        pub dest_group_id: String,
        pub dest_prefix_list_id: String,
        pub nic_type: String,
        pub description: String,
        pub create_time: String,
    }
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
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

api_list!(pub RawPrivateIpSets { pub private_ip_set: RawPrivateIpSet }, "an object with a PrivateIpSet array");

api_object! {
    pub struct RawPrivateIpSet, "an object with a PrivateIpAddress" {
        pub private_ip_address: String,
    }
}

api_list!(pub RawIpv6Sets { pub ipv6_set: RawIpv6Set }, "an object with an Ipv6Set array");

api_object! {
    pub struct RawIpv6Set, "an object with an Ipv6Address" {
        pub ipv6_address: String,
    }
}

api_list!(pub RawSecurityGroupIds { pub security_group_id: String }, "an object with a SecurityGroupId array");

/// A DescribePrefixListAttributes response.
#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "PascalCase",
    expecting = "a DescribePrefixListAttributes response"
)]
pub struct RawPrefixList {
    pub prefix_list_id: Option<String>,
    pub prefix_list_name: Option<String>,
    pub address_family: Option<String>,
    pub max_entries: Option<StringOrNumber>,
    pub entries: Option<RawPrefixListEntries>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

api_list!(pub RawPrefixListEntries { pub entry: RawPrefixListEntry }, "an object with an Entry array");

api_object! {
    pub struct RawPrefixListEntry, "an object with a Cidr" {
        pub cidr: String,
        pub description: String,
    }
}

/// A port range list (DescribePortRangeListEntries folded into one object).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", expecting = "a port range list object")]
pub struct RawPortRangeList {
    pub port_range_list_id: Option<String>,
    pub port_range_list_name: Option<String>,
    pub max_entries: Option<StringOrNumber>,
    pub entries: Option<RawPortRangeListEntries>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

api_list!(pub RawPortRangeListEntries { pub entry: RawPortRangeListEntry }, "an object with an Entry array");

api_object! {
    pub struct RawPortRangeListEntry, "an object with a PortRange" {
        pub port_range: String,
        pub description: String,
    }
}
