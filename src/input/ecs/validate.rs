//! Raw API shapes → validated model. Each function takes the JSON path of what it validates so
//! that every error points at the exact value.

use super::error::LoadError;
use super::raw::*;
use crate::model::rule_check::{self, RuleCheckError, Strictness};
use crate::model::{
    Action, ClientTokenRecord, Direction, Family, GroupIndex, GroupKind, InnerAccessPolicy, Nic,
    NicType, PortRangeList, PrefixList, Protocol, RemoteObject, Rule, SecurityGroup, Snapshot,
};
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The id given to the one group of a bare `Permission` array, which carries no group id.
pub const UNNAMED_GROUP_ID: &str = "sg-unnamed";

/// Most security groups one NIC may carry (S19).
const MAX_GROUPS_PER_NIC: usize = 10;

type Result<T> = std::result::Result<T, LoadError>;

/// `Some(text)` when the field is present and non-empty: the API's `""` means unset.
pub(crate) fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

pub(crate) fn quoted(text: &str) -> String {
    format!("{text:?}")
}

pub fn snapshot(raw: RawSnapshot) -> Result<Snapshot> {
    let prefix_lists = raw
        .prefix_lists
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, list)| prefix_list(list, &format!("PrefixLists[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    unique_ids(
        prefix_lists.iter().map(|l| &l.id),
        "PrefixLists",
        "PrefixListId",
    )?;

    let port_lists = raw
        .port_range_lists
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, list)| port_range_list(list, &format!("PortRangeLists[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    unique_ids(
        port_lists.iter().map(|l| &l.id),
        "PortRangeLists",
        "PortRangeListId",
    )?;

    let groups = raw
        .security_groups
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, group)| security_group(group, &format!("SecurityGroups[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    unique_ids(
        groups.iter().map(|g| &g.id),
        "SecurityGroups",
        "SecurityGroupId",
    )?;
    let group_index: HashMap<&str, GroupIndex> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.as_str(), i as GroupIndex))
        .collect();

    let nics = raw
        .network_interfaces
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, nic)| {
            network_interface(
                nic,
                &format!("NetworkInterfaces[{i}]"),
                &groups,
                &group_index,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    unique_ids(
        nics.iter().map(|n| &n.id),
        "NetworkInterfaces",
        "NetworkInterfaceId",
    )?;

    check_list_families(&groups, &prefix_lists, "SecurityGroups")?;
    let client_tokens = raw
        .client_tokens
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, token)| client_token(token, &format!("ClientTokens[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Snapshot::new(groups, nics, prefix_lists, port_lists).with_client_tokens(client_tokens))
}

pub fn bare_group(raw: RawSecurityGroup) -> Result<Snapshot> {
    let group = security_group(raw, "")?;
    Ok(Snapshot::new(
        vec![group],
        Vec::new(),
        Vec::new(),
        Vec::new(),
    ))
}

pub fn bare_permissions(raw: Vec<RawPermission>) -> Result<Snapshot> {
    let mut group = security_group(
        RawSecurityGroup {
            security_group_id: Some(UNNAMED_GROUP_ID.to_string()),
            ..RawSecurityGroup::default()
        },
        "",
    )?;
    // The document is the array itself, so rule paths are `[i]`.
    group.rules = rules(raw, "", &group.id)?;
    Ok(Snapshot::new(
        vec![group],
        Vec::new(),
        Vec::new(),
        Vec::new(),
    ))
}

pub(crate) fn client_token(raw: RawClientToken, path: &str) -> Result<ClientTokenRecord> {
    let token = set(&raw.client_token)
        .ok_or_else(|| {
            LoadError::new(
                join(path, "ClientToken"),
                quoted(raw.client_token.as_deref().unwrap_or("")),
                "missing: every remembered call needs its ClientToken",
            )
        })?
        .to_string();
    let response = match raw.response {
        Some(value @ serde_json::Value::Object(_)) => value,
        _ => {
            return Err(LoadError::new(
                join(path, "Response"),
                "",
                "expected the API's answer to the first call, a JSON object",
            ))
        }
    };
    Ok(ClientTokenRecord {
        token,
        action: raw.action.unwrap_or_default(),
        fingerprint: raw.fingerprint.unwrap_or_default(),
        response,
    })
}

fn unique_ids<'a>(ids: impl Iterator<Item = &'a String>, array: &str, field: &str) -> Result<()> {
    let mut seen = HashMap::new();
    for (i, id) in ids.enumerate() {
        if let Some(first) = seen.insert(id.as_str(), i) {
            return Err(LoadError::new(
                format!("{array}[{i}].{field}"),
                quoted(id),
                format!("duplicate id: {array}[{first}] has it too; ids must be unique"),
            ));
        }
    }
    Ok(())
}

/// Joins a path prefix and a field name: `""` + `Permissions` → `Permissions`.
pub(crate) fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

pub(crate) fn security_group(raw: RawSecurityGroup, path: &str) -> Result<SecurityGroup> {
    let id = set(&raw.security_group_id)
        .ok_or_else(|| {
            LoadError::new(
                join(path, "SecurityGroupId"),
                quoted(raw.security_group_id.as_deref().unwrap_or("")),
                "missing: every security group needs its id (sg-…)",
            )
        })?
        .to_string();
    let kind = match set(&raw.security_group_type) {
        None => GroupKind::Normal,
        Some(t) if t.eq_ignore_ascii_case("normal") => GroupKind::Normal,
        Some(t) if t.eq_ignore_ascii_case("enterprise") => GroupKind::Enterprise,
        Some(t) => {
            return Err(LoadError::new(
                join(path, "SecurityGroupType"),
                quoted(t),
                "expected normal or enterprise",
            ))
        }
    };
    let inner_access = match set(&raw.inner_access_policy) {
        None => InnerAccessPolicy::Accept,
        Some(p) if p.eq_ignore_ascii_case("accept") => InnerAccessPolicy::Accept,
        Some(p) if p.eq_ignore_ascii_case("drop") => InnerAccessPolicy::Drop,
        Some(p) => {
            return Err(LoadError::new(
                join(path, "InnerAccessPolicy"),
                quoted(p),
                "expected Accept or Drop",
            ))
        }
    };
    let permissions = raw
        .permissions
        .and_then(|p| p.permission)
        .unwrap_or_default();
    let rules = rules(permissions, &join(path, "Permissions.Permission"), &id)?;
    Ok(SecurityGroup {
        id,
        name: raw.security_group_name.unwrap_or_default(),
        kind,
        vpc_id: raw.vpc_id.unwrap_or_default(),
        inner_access,
        rules,
        description: raw.description.unwrap_or_default(),
        region_id: raw.region_id.unwrap_or_default(),
        extra: raw.extra,
    })
}

/// Validates the rules of one group; `array_path` is the JSON path of their array.
fn rules(permissions: Vec<RawPermission>, array_path: &str, group_id: &str) -> Result<Vec<Rule>> {
    permissions
        .into_iter()
        .enumerate()
        .map(|(i, raw_rule)| permission(raw_rule, &format!("{array_path}[{i}]"), group_id, i))
        .collect()
}

/// The stable id of a rule that came without `SecurityGroupRuleId` (older API responses).
pub fn derived_rule_id(group_id: &str, position: usize) -> String {
    format!(
        "sgr-auto-{}-{}",
        group_id.strip_prefix("sg-").unwrap_or(group_id),
        position + 1
    )
}

pub use crate::model::rule_check::{parse_cidr, parse_port_range};

/// A CIDR field of a stored rule; the error names the field, the value as written and the fix.
fn cidr_field(
    value: &Option<String>,
    path: &str,
    field: &str,
    family: Family,
) -> Result<Option<IpNet>> {
    let text = value.as_deref().unwrap_or("");
    rule_check::cidr_field(Some(text), family).map_err(|err| {
        let message = match err {
            RuleCheckError::CidrWrongFamily(found) => {
                let other_field = match field {
                    "SourceCidrIp" => "Ipv6SourceCidrIp",
                    "DestCidrIp" => "Ipv6DestCidrIp",
                    "Ipv6SourceCidrIp" => "SourceCidrIp",
                    _ => "DestCidrIp",
                };
                format!(
                    "{field} takes an {} CIDR; an {} one goes in {other_field}",
                    family.as_str(),
                    found.as_str()
                )
            }
            _ => {
                let hint = if text.contains('*') {
                    " (it looks like a documentation placeholder with masked digits)"
                } else {
                    ""
                };
                format!("not an {} address or CIDR block{hint}", family.as_str())
            }
        };
        LoadError::new(join(path, field), quoted(text), message)
    })
}

/// A stored rule (S1–S8). The shared checks are `model::rule_check`'s, taken as a snapshot
/// may hold them ([`Strictness::Snapshot`]); this function orders them and words their errors.
fn permission(raw: RawPermission, path: &str, group_id: &str, position: usize) -> Result<Rule> {
    let field = |name: &str| join(path, name);

    let direction_text = raw.direction.as_deref().unwrap_or("");
    let direction = Direction::parse(direction_text).ok_or_else(|| {
        LoadError::new(
            field("Direction"),
            quoted(direction_text),
            "expected ingress or egress",
        )
    })?;
    let policy_text = raw.policy.as_deref().unwrap_or("");
    let action = Action::parse(policy_text).ok_or_else(|| {
        LoadError::new(
            field("Policy"),
            quoted(policy_text),
            "expected Accept or Drop",
        )
    })?;
    let priority = match &raw.priority {
        None => 1,
        Some(value) => {
            rule_check::parse_priority(&value.text(), Strictness::Snapshot).map_err(|err| {
                let message = match err {
                    RuleCheckError::PriorityOutOfRange(n) => {
                        format!("priority {n} is out of 1..100 (or the legacy 110)")
                    }
                    _ => "expected an integer priority 1..100".to_string(),
                };
                LoadError::new(field("Priority"), value.json(), message)
            })?
        }
    };
    let protocol_text = raw.ip_protocol.as_deref().unwrap_or("");
    let protocol = Protocol::parse(protocol_text).ok_or_else(|| {
        LoadError::new(
            field("IpProtocol"),
            quoted(protocol_text),
            "expected TCP, UDP, ICMP, ICMPv6, GRE, ALL or a protocol number 0..255",
        )
    })?;
    let nic_type_text = raw.nic_type.as_deref().unwrap_or("");
    let nic_type = NicType::parse(nic_type_text).ok_or_else(|| {
        LoadError::new(
            field("NicType"),
            quoted(nic_type_text),
            "expected intranet or internet",
        )
    })?;

    // Addresses: parse every CIDR field first (so a malformed one is reported whatever else is
    // set), then pick the remote and local objects by direction.
    let source_v4 = cidr_field(&raw.source_cidr_ip, path, "SourceCidrIp", Family::V4)?;
    let source_v6 = cidr_field(
        &raw.ipv6_source_cidr_ip,
        path,
        "Ipv6SourceCidrIp",
        Family::V6,
    )?;
    let dest_v4 = cidr_field(&raw.dest_cidr_ip, path, "DestCidrIp", Family::V4)?;
    let dest_v6 = cidr_field(&raw.ipv6_dest_cidr_ip, path, "Ipv6DestCidrIp", Family::V6)?;
    // Errors quote a CIDR as written (`10.0.0.5/8`), not as normalized (`10.0.0.0/8`).
    let written = |field_name: &str| {
        let value = match field_name {
            "SourceCidrIp" => &raw.source_cidr_ip,
            "Ipv6SourceCidrIp" => &raw.ipv6_source_cidr_ip,
            "DestCidrIp" => &raw.dest_cidr_ip,
            _ => &raw.ipv6_dest_cidr_ip,
        };
        quoted(value.as_deref().unwrap_or(""))
    };
    let (remote_cidrs, local_cidrs, group_field, list_field) = match direction {
        Direction::Ingress => (
            [("SourceCidrIp", source_v4), ("Ipv6SourceCidrIp", source_v6)],
            [("DestCidrIp", dest_v4), ("Ipv6DestCidrIp", dest_v6)],
            ("SourceGroupId", set(&raw.source_group_id)),
            ("SourcePrefixListId", set(&raw.source_prefix_list_id)),
        ),
        Direction::Egress => (
            [("DestCidrIp", dest_v4), ("Ipv6DestCidrIp", dest_v6)],
            [("SourceCidrIp", source_v4), ("Ipv6SourceCidrIp", source_v6)],
            ("DestGroupId", set(&raw.dest_group_id)),
            ("DestPrefixListId", set(&raw.dest_prefix_list_id)),
        ),
    };
    let one_of = |[(first, v4), (second, v6)]: [(&str, Option<IpNet>); 2], role: &str| {
        rule_check::one_per_side(v4, v6).map_err(|_| {
            LoadError::new(
                field(second),
                written(second),
                format!("a rule has one {role} CIDR, but {first} is set too; use one of them"),
            )
        })
    };
    let remote_cidr = one_of(remote_cidrs, "remote")?;
    let local = one_of(local_cidrs, "local")?;
    let remote =
        rule_check::remote_object(remote_cidr, group_field.1, list_field.1).map_err(|_| {
            let names = [
                remote_cidrs[0].0,
                remote_cidrs[1].0,
                group_field.0,
                list_field.0,
            ];
            LoadError::new(
                path.to_string(),
                "",
                format!(
                    "an {direction} rule needs a remote object: set one of {}",
                    names.join(", ")
                ),
            )
        })?;
    if let (Some(remote_net), Err(_)) =
        (remote_cidr, rule_check::check_families(remote_cidr, local))
    {
        let local_name = local_cidrs
            .iter()
            .find(|(_, n)| n.is_some())
            .map_or("DestCidrIp", |(f, _)| *f);
        return Err(LoadError::new(
            field(local_name),
            written(local_name),
            format!(
                "the remote CIDR {remote_net} is {}, so the local CIDR must be too",
                Family::of_net(&remote_net).as_str()
            ),
        ));
    }

    // Ports (S2). A given PortRange makes PortRangeListId ignored; `-1/-1` or `""` beside a port
    // list counts as not given.
    let port_range_text = raw.port_range.as_deref().unwrap_or("");
    let list_id = set(&raw.port_range_list_id);
    let dest_ports =
        rule_check::dest_ports(protocol, port_range_text, list_id, Strictness::Snapshot).map_err(
            |err| {
                let (name, value, message) = match err {
                    RuleCheckError::PortRange(why) => {
                        ("PortRange", port_range_text, format!("{why} for {protocol}"))
                    }
                    RuleCheckError::PortsMissing => ("PortRange", port_range_text, format!("{protocol} needs a port range a/b with 1 <= a <= b <= 65535, or a PortRangeListId")),
                    RuleCheckError::ListOnPortless => (
                        "PortRangeListId",
                        list_id.unwrap_or(""),
                        format!("{protocol} has no ports: port range lists need TCP or UDP"),
                    ),
                    _ => (
                        "PortRange",
                        port_range_text,
                        format!("{protocol} has no ports: the port range must be -1/-1"),
                    ),
                };
                LoadError::new(field(name), quoted(value), message)
            },
        )?;
    let source_port_text = raw.source_port_range.as_deref().unwrap_or("");
    let source_ports = rule_check::source_ports(protocol, source_port_text, Strictness::Snapshot)
        .map_err(|err| {
        let message = match err {
            RuleCheckError::PortRange(why) => format!("{why} for {protocol}"),
            _ => format!("{protocol} has no ports: the source port range must be empty or -1/-1"),
        };
        LoadError::new(field("SourcePortRange"), quoted(source_port_text), message)
    })?;

    // `icmp` is IPv4 only and `icmpv6` IPv6 only (S5): a rule pairing one with the other
    // family's CIDR could never match, and the API refuses it.
    if let Err(RuleCheckError::ProtocolFamily { wanted, net }) =
        rule_check::check_protocol_family(protocol, remote_cidr.or(local))
    {
        return Err(LoadError::new(
            field("IpProtocol"),
            quoted(protocol_text),
            format!(
                "{protocol} is {} only, but the rule's CIDR {net} is {}",
                wanted.as_str(),
                Family::of_net(&net).as_str()
            ),
        ));
    }

    let id = set(&raw.security_group_rule_id)
        .map(str::to_string)
        .unwrap_or_else(|| derived_rule_id(group_id, position));
    Ok(Rule::new(direction, action, protocol, remote)
        .with_id(id)
        .with_priority(priority)
        .with_ports(dest_ports, source_ports)
        .with_local(local)
        .with_nic_type(nic_type)
        .with_description(raw.description.unwrap_or_default())
        .with_create_time(raw.create_time.unwrap_or_default()))
}

/// A rule referencing a prefix list must agree with the list's family (S5).
fn check_list_families(groups: &[SecurityGroup], lists: &[PrefixList], path: &str) -> Result<()> {
    let family_of = list_families(lists);
    for (g, group) in groups.iter().enumerate() {
        check_group_list_families(group, &family_of, &format!("{path}[{g}]"))?;
    }
    Ok(())
}

/// Each prefix list's family by id, for [`check_group_list_families`].
pub(crate) fn list_families(lists: &[PrefixList]) -> HashMap<&str, Family> {
    lists.iter().map(|l| (l.id.as_str(), l.family)).collect()
}

/// [`check_list_families`] for one group; `group_path` is the JSON path of the group.
fn check_group_list_families(
    group: &SecurityGroup,
    family_of: &HashMap<&str, Family>,
    group_path: &str,
) -> Result<()> {
    for (r, rule) in group.rules.iter().enumerate() {
        list_family_clash(
            rule,
            family_of,
            &join(group_path, &format!("Permissions.Permission[{r}]")),
        )?;
    }
    Ok(())
}

/// A rule referencing a prefix list of the other family (S5) is refused; `rule_path` is the
/// JSON path of the rule.
pub(crate) fn list_family_clash(
    rule: &Rule,
    family_of: &HashMap<&str, Family>,
    rule_path: &str,
) -> Result<()> {
    let RemoteObject::PrefixList(id) = &rule.remote else {
        return Ok(());
    };
    let Some(&list_family) = family_of.get(id.as_str()) else {
        return Ok(()); // missing lists match nothing; the audit reports them
    };
    let clash = rule
        .local
        .map(|n| Family::of_net(&n))
        .filter(|f| *f != list_family)
        .or(match rule.protocol {
            Protocol::Number(crate::model::proto::ICMP) if list_family == Family::V6 => {
                Some(Family::V4)
            }
            Protocol::Number(crate::model::proto::ICMPV6) if list_family == Family::V4 => {
                Some(Family::V6)
            }
            _ => None,
        });
    let Some(rule_family) = clash else {
        return Ok(());
    };
    let field = match rule.direction {
        Direction::Ingress => "SourcePrefixListId",
        Direction::Egress => "DestPrefixListId",
    };
    Err(LoadError::new(
        join(rule_path, field),
        quoted(id),
        format!(
            "the prefix list is {} but the rule is {}",
            list_family.as_str(),
            rule_family.as_str()
        ),
    ))
}

fn network_interface(
    raw: RawNetworkInterface,
    path: &str,
    groups: &[SecurityGroup],
    group_index: &HashMap<&str, GroupIndex>,
) -> Result<Nic> {
    resolve_nic_groups(nic_draft(raw, path)?, groups, group_index)
}

/// A network interface whose addresses are validated but whose groups are still ids: the
/// account-dump reader joins NICs from several files before it knows every group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NicDraft {
    pub id: String,
    pub instance_id: String,
    pub vpc_id: String,
    pub addresses: Vec<IpAddr>,
    pub group_ids: Vec<String>,
    /// JSON path of the NIC, for errors about its groups.
    pub path: String,
    pub extra: crate::model::Extra,
}

/// Adds `text` to `addresses` (once) if it is an address of `family`; `at` is its JSON path.
pub(crate) fn push_address(
    addresses: &mut Vec<IpAddr>,
    text: &str,
    at: String,
    family: Family,
) -> Result<()> {
    let addr: IpAddr = text
        .parse()
        .ok()
        .filter(|a| Family::of_addr(a) == family)
        .ok_or_else(|| {
            let hint = if text.contains('*') || text.contains('X') || text.contains('x') {
                " (it looks like a documentation placeholder with masked digits)"
            } else {
                ""
            };
            LoadError::new(
                at,
                quoted(text),
                format!("not an {} address{hint}", family.as_str()),
            )
        })?;
    if !addresses.contains(&addr) {
        addresses.push(addr);
    }
    Ok(())
}

/// Validates a NIC's id and addresses; its groups are resolved by [`resolve_nic_groups`].
pub(crate) fn nic_draft(raw: RawNetworkInterface, path: &str) -> Result<NicDraft> {
    let field = |name: &str| join(path, name);
    let id = set(&raw.network_interface_id)
        .ok_or_else(|| {
            LoadError::new(
                field("NetworkInterfaceId"),
                quoted(raw.network_interface_id.as_deref().unwrap_or("")),
                "missing: every network interface needs its id (eni-…)",
            )
        })?
        .to_string();

    let mut addresses: Vec<IpAddr> = Vec::new();
    if let Some(primary) = set(&raw.private_ip_address) {
        push_address(
            &mut addresses,
            primary,
            field("PrivateIpAddress"),
            Family::V4,
        )?;
    }
    let private_sets = raw
        .private_ip_sets
        .and_then(|s| s.private_ip_set)
        .unwrap_or_default();
    for (i, entry) in private_sets.iter().enumerate() {
        if let Some(text) = set(&entry.private_ip_address) {
            push_address(
                &mut addresses,
                text,
                field(&format!("PrivateIpSets.PrivateIpSet[{i}].PrivateIpAddress")),
                Family::V4,
            )?;
        }
    }
    let v6_sets = raw.ipv6_sets.and_then(|s| s.ipv6_set).unwrap_or_default();
    for (i, entry) in v6_sets.iter().enumerate() {
        if let Some(text) = set(&entry.ipv6_address) {
            push_address(
                &mut addresses,
                text,
                field(&format!("Ipv6Sets.Ipv6Set[{i}].Ipv6Address")),
                Family::V6,
            )?;
        }
    }
    Ok(NicDraft {
        id,
        instance_id: raw.instance_id.unwrap_or_default(),
        vpc_id: raw.vpc_id.unwrap_or_default(),
        addresses,
        group_ids: raw
            .security_group_ids
            .and_then(|s| s.security_group_id)
            .unwrap_or_default(),
        path: path.to_string(),
        extra: raw.extra,
    })
}

/// Turns a draft's group ids into indexes: 1..=10 groups, each known, none twice, all of one
/// type.
pub(crate) fn resolve_nic_groups(
    draft: NicDraft,
    groups: &[SecurityGroup],
    group_index: &HashMap<&str, GroupIndex>,
) -> Result<Nic> {
    let group_ids = &draft.group_ids;
    let ids_path = join(&draft.path, "SecurityGroupIds.SecurityGroupId");
    if group_ids.is_empty() || group_ids.len() > MAX_GROUPS_PER_NIC {
        return Err(LoadError::new(
            ids_path,
            format!("{} groups", group_ids.len()),
            format!("a network interface carries 1..{MAX_GROUPS_PER_NIC} security groups"),
        ));
    }
    let mut nic_groups = Vec::with_capacity(group_ids.len());
    let mut seen = HashSet::new();
    for (i, gid) in group_ids.iter().enumerate() {
        let at = format!("{ids_path}[{i}]");
        let &index = group_index.get(gid.as_str()).ok_or_else(|| {
            LoadError::new(
                at.clone(),
                quoted(gid),
                "no such security group in the snapshot's SecurityGroups",
            )
        })?;
        if !seen.insert(index) {
            return Err(LoadError::new(
                at,
                quoted(gid),
                "listed twice on this network interface",
            ));
        }
        let first_kind = groups[nic_groups.first().copied().unwrap_or(index) as usize].kind;
        if groups[index as usize].kind != first_kind {
            return Err(LoadError::new(
                at,
                quoted(gid),
                format!(
                    "{} group beside {} one: all groups of a network interface have the same type",
                    with_article(groups[index as usize].kind),
                    with_article(first_kind)
                ),
            ));
        }
        nic_groups.push(index);
    }
    Ok(Nic {
        id: draft.id,
        instance_id: draft.instance_id,
        vpc_id: draft.vpc_id,
        addresses: draft.addresses,
        groups: nic_groups,
        extra: draft.extra,
    })
}

fn with_article(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::Normal => "a normal",
        GroupKind::Enterprise => "an enterprise",
    }
}

pub(crate) fn max_entries(
    value: &Option<StringOrNumber>,
    at: String,
    limit: u32,
) -> Result<Option<u32>> {
    let Some(value) = value else { return Ok(None) };
    let text = value.text();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=limit).contains(&n) => Ok(Some(n)),
        _ => Err(LoadError::new(
            at,
            value.json(),
            format!("expected an integer 1..{limit}"),
        )),
    }
}

pub(crate) fn prefix_list(raw: RawPrefixList, path: &str) -> Result<PrefixList> {
    let field = |name: &str| join(path, name);
    let id = set(&raw.prefix_list_id)
        .ok_or_else(|| {
            LoadError::new(
                field("PrefixListId"),
                "\"\"",
                "missing: every prefix list needs its id (pl-…)",
            )
        })?
        .to_string();
    let family_text = raw.address_family.as_deref().unwrap_or("");
    let family = if family_text.eq_ignore_ascii_case("ipv4") {
        Family::V4
    } else if family_text.eq_ignore_ascii_case("ipv6") {
        Family::V6
    } else {
        return Err(LoadError::new(
            field("AddressFamily"),
            quoted(family_text),
            "expected IPv4 or IPv6",
        ));
    };
    let entries = raw.entries.and_then(|e| e.entry).unwrap_or_default();
    let mut cidrs = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let at = field(&format!("Entries.Entry[{i}].Cidr"));
        let text = entry.cidr.as_deref().unwrap_or("");
        let net = parse_cidr(text)
            .filter(|n| Family::of_net(n) == family)
            .ok_or_else(|| {
                LoadError::new(
                    at,
                    quoted(text),
                    format!(
                        "not an {} CIDR block (the list's AddressFamily)",
                        family.as_str()
                    ),
                )
            })?;
        cidrs.push(net);
    }
    let max = max_entries(&raw.max_entries, field("MaxEntries"), 200)?
        .unwrap_or(cidrs.len().max(1) as u32);
    if cidrs.len() > max as usize {
        return Err(LoadError::new(
            field("Entries.Entry"),
            format!("{} entries", cidrs.len()),
            format!("more entries than MaxEntries {max}"),
        ));
    }
    Ok(PrefixList {
        id,
        family,
        max_entries: max,
        cidrs,
        name: raw.prefix_list_name.unwrap_or_default(),
        entry_descriptions: entries
            .into_iter()
            .map(|e| e.description.unwrap_or_default())
            .collect(),
        extra: raw.extra,
    })
}

pub(crate) fn port_range_list(raw: RawPortRangeList, path: &str) -> Result<PortRangeList> {
    let field = |name: &str| join(path, name);
    let id = set(&raw.port_range_list_id)
        .ok_or_else(|| {
            LoadError::new(
                field("PortRangeListId"),
                "\"\"",
                "missing: every port range list needs its id (prl-…)",
            )
        })?
        .to_string();
    let entries = raw.entries.and_then(|e| e.entry).unwrap_or_default();
    let mut ranges = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let text = entry.port_range.as_deref().unwrap_or("");
        let range = parse_port_range(text).map_err(|why| {
            LoadError::new(
                field(&format!("Entries.Entry[{i}].PortRange")),
                quoted(text),
                why,
            )
        })?;
        ranges.push(range);
    }
    let max = max_entries(&raw.max_entries, field("MaxEntries"), 2000)?
        .unwrap_or(ranges.len().max(1) as u32);
    if ranges.len() > max as usize {
        return Err(LoadError::new(
            field("Entries.Entry"),
            format!("{} entries", ranges.len()),
            format!("more entries than MaxEntries {max}"),
        ));
    }
    Ok(PortRangeList {
        id,
        max_entries: max,
        ranges,
        name: raw.port_range_list_name.unwrap_or_default(),
        entry_descriptions: entries
            .into_iter()
            .map(|e| e.description.unwrap_or_default())
            .collect(),
        extra: raw.extra,
    })
}
