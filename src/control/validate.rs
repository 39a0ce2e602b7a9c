//! One permission's parameters → a validated [`Rule`], with the API's error for the first thing
//! wrong. The loader's parsers (`parse_cidr`, `parse_port_range`, `Protocol::parse`, …) do the
//! parsing; this module adds what requests must obey and snapshots need not (priority 110 is
//! refused, port ranges are strictly `a/b`, defaults of the request form).

use super::error::{ApiError, ErrorCode};
use super::request::PermissionParams;
use crate::input::ecs::{parse_cidr, parse_port_range};
use crate::model::{
    proto, Action, DestPorts, Direction, Family, GroupKind, NicType, PortRange, Protocol,
    RemoteObject, Rule, SecurityGroup, Snapshot,
};
use ipnet::IpNet;

/// Longest rule description, in characters.
pub const MAX_RULE_DESCRIPTION: usize = 512;
/// Most group-reference rules in one basic group (S19).
pub const MAX_GROUP_RULES: usize = 20;
/// Most rules across the groups of one NIC, lists weighted by `MaxEntries` (S19).
pub const MAX_NIC_RULES: u64 = 1000;

/// Where a permission is checked: the snapshot, the group it goes into and its direction.
pub(crate) struct RuleContext<'a> {
    pub snapshot: &'a Snapshot,
    pub group: &'a SecurityGroup,
    pub direction: Direction,
    /// How the permission is named in messages: `Permissions.2`, or empty for top-level
    /// parameters.
    pub at: String,
}

impl RuleContext<'_> {
    fn param(&self, field: &str) -> String {
        if self.at.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.at)
        }
    }

    fn where_(&self) -> String {
        if self.at.is_empty() {
            "the request".to_string()
        } else {
            self.at.clone()
        }
    }
}

/// Builds the rule a permission describes (id and create time empty), checking every value's
/// format and the group's own restrictions; references to other objects are checked by
/// [`check_references`].
pub(crate) fn build_rule(ctx: &RuleContext, p: &PermissionParams) -> Result<Rule, ApiError> {
    let action = Action::parse(p.get("Policy").unwrap_or(""))
        .ok_or_else(|| ErrorCode::PolicyMalformed.with(&ctx.param("Policy")))?;
    let priority = parse_priority(p.get("Priority").unwrap_or(""), &ctx.param("Priority"))?;
    let protocol_text = p
        .set("IpProtocol")
        .ok_or_else(|| ErrorCode::MissingParameter.with(&ctx.param("IpProtocol")))?;
    let protocol = Protocol::parse(protocol_text)
        .ok_or_else(|| ErrorCode::ProtocolNotSupported.with(&ctx.param("IpProtocol")))?;
    let nic_type_given = NicType::parse(p.get("NicType").unwrap_or(""))
        .ok_or_else(|| ErrorCode::NicTypeNotSupported.with(&ctx.param("NicType")))?;

    // Addresses: all four CIDR fields are parsed first.
    let source_v4 = cidr(p, "SourceCidrIp", Family::V4, || {
        ErrorCode::SourceCidrMalformed.error()
    })?;
    let source_v6 = cidr(p, "Ipv6SourceCidrIp", Family::V6, || {
        ErrorCode::Ipv6SourceInvalid.with(&ctx.param("Ipv6SourceCidrIp"))
    })?;
    let dest_v4 = cidr(p, "DestCidrIp", Family::V4, || {
        ErrorCode::DestCidrMalformed.error()
    })?;
    let dest_v6 = cidr(p, "Ipv6DestCidrIp", Family::V6, || {
        ErrorCode::Ipv6DestInvalid.with(&ctx.param("Ipv6DestCidrIp"))
    })?;
    if source_v4.is_some() && source_v6.is_some() {
        return Err(ErrorCode::SourceIpBoth.with(&ctx.where_()));
    }
    if dest_v4.is_some() && dest_v6.is_some() {
        return Err(ErrorCode::DestIpBoth.with(&ctx.where_()));
    }
    let source = source_v4.or(source_v6);
    let dest = dest_v4.or(dest_v6);
    if let (Some(s), Some(d)) = (source, dest) {
        if Family::of_net(&s) != Family::of_net(&d) {
            return Err(ErrorCode::FamilyConflict.error());
        }
        if s == d {
            return Err(ErrorCode::SameSourceDest.error());
        }
    }
    let (remote_cidr, local, group, list) = match ctx.direction {
        Direction::Ingress => (
            source,
            dest,
            p.set("SourceGroupId"),
            p.set("SourcePrefixListId"),
        ),
        Direction::Egress => (
            dest,
            source,
            p.set("DestGroupId"),
            p.set("DestPrefixListId"),
        ),
    };
    let remote = match (remote_cidr, group, list) {
        (Some(net), _, _) => RemoteObject::Cidr(net),
        (None, Some(g), _) => RemoteObject::Group(g.to_string()),
        (None, None, Some(l)) => RemoteObject::PrefixList(l.to_string()),
        (None, None, None) => {
            return Err(match ctx.direction {
                Direction::Ingress => ErrorCode::MissingSource.with(&ctx.where_()),
                Direction::Egress => ErrorCode::MissingDest.with(&ctx.where_()),
            })
        }
    };

    // icmp is IPv4 only, icmpv6 IPv6 only (S5).
    let families = [source, dest]
        .into_iter()
        .flatten()
        .map(|n| Family::of_net(&n));
    for family in families {
        match (protocol, family) {
            (Protocol::Number(proto::ICMP), Family::V6) => {
                return Err(ErrorCode::V4ProtocolV6Address.error())
            }
            (Protocol::Number(proto::ICMPV6), Family::V4) => {
                return Err(ErrorCode::V6ProtocolV4Address.error())
            }
            _ => {}
        }
    }

    // Ports (S2).
    let port_text = p.get("PortRange").unwrap_or("");
    let list_id = p.set("PortRangeListId");
    let dest_ports = if protocol.has_ports() {
        if is_any_ports(port_text) {
            match list_id {
                Some(id) => DestPorts::List(id.to_string()),
                None if port_text.is_empty() => return Err(ErrorCode::PortRangeMissing.error()),
                None => return Err(ErrorCode::PortRange.with(&ctx.param("PortRange"))),
            }
        } else {
            DestPorts::Range(
                strict_port_range(port_text)
                    .ok_or_else(|| ErrorCode::PortRange.with(&ctx.param("PortRange")))?,
            )
        }
    } else {
        if !is_any_ports(port_text) {
            return Err(ErrorCode::PortRange.with(&ctx.param("PortRange")));
        }
        if list_id.is_some() {
            return Err(ErrorCode::ProtocolNoPortList.error());
        }
        DestPorts::Any
    };
    let source_port_text = p.get("SourcePortRange").unwrap_or("");
    let source_ports = if is_any_ports(source_port_text) {
        None
    } else if protocol.has_ports() {
        Some(
            strict_port_range(source_port_text)
                .ok_or_else(|| ErrorCode::PortRange.with(&ctx.param("SourcePortRange")))?,
        )
    } else {
        return Err(ErrorCode::PortRange.with(&ctx.param("SourcePortRange")));
    };

    let description = p.get("Description").unwrap_or("").to_string();
    if description.chars().count() > MAX_RULE_DESCRIPTION {
        return Err(ErrorCode::DescriptionMalformed.with(&ctx.param("Description")));
    }

    // NicType: VPC groups are intranet only; group references are intranet only; a classic
    // group's CIDR rule defaults to internet, as the API documents.
    let nic_type = match p.set("NicType") {
        Some(_) => nic_type_given,
        None if ctx.group.is_classic() && matches!(remote, RemoteObject::Cidr(_)) => {
            NicType::Internet
        }
        None => NicType::Intranet,
    };
    if nic_type == NicType::Internet {
        if let RemoteObject::Group(_) = remote {
            return Err(match ctx.direction {
                Direction::Ingress => ErrorCode::SourceGroupNicType.error(),
                Direction::Egress => ErrorCode::DestGroupNicType.error(),
            });
        }
        if !ctx.group.is_classic() {
            return Err(ErrorCode::NicTypeMismatch.error());
        }
    }

    // Enterprise groups take neither drop rules nor group references (S19).
    if ctx.group.kind == GroupKind::Enterprise
        && (action == Action::Drop || matches!(remote, RemoteObject::Group(_)))
    {
        return Err(ErrorCode::EnterpriseAttribute.error());
    }

    Ok(Rule {
        id: String::new(),
        direction: ctx.direction,
        action,
        priority,
        protocol,
        dest_ports,
        source_ports,
        remote,
        local,
        nic_type,
        description,
        create_time: String::new(),
    })
}

/// Checks what a rule references: groups (S6, S19), prefix lists and port lists (S7).
pub(crate) fn check_references(ctx: &RuleContext, rule: &Rule) -> Result<(), ApiError> {
    let group = ctx.group;
    match &rule.remote {
        RemoteObject::Group(id) => {
            let ingress = ctx.direction == Direction::Ingress;
            if *id == group.id {
                return Err(if ingress {
                    ErrorCode::SourceGroupSelf.error()
                } else {
                    ErrorCode::DestGroupSelf.error()
                });
            }
            let Some(index) = ctx.snapshot.group_index(id) else {
                return Err(if ingress {
                    ErrorCode::SourceGroupNotFound.error()
                } else {
                    ErrorCode::DestGroupNotFound.error()
                });
            };
            let other = ctx.snapshot.group(index);
            if other.kind == GroupKind::Enterprise {
                return Err(ErrorCode::AuthorizeToEnterprise.error());
            }
            if other.is_classic() != group.is_classic() {
                return Err(if ingress {
                    ErrorCode::SourceNetworkTypeMismatch.error()
                } else {
                    ErrorCode::DestNetworkTypeConflict.error()
                });
            }
            if other.vpc_id != group.vpc_id {
                return Err(if ingress {
                    ErrorCode::SourceGroupVpcMismatch.error()
                } else {
                    ErrorCode::DestGroupVpcMismatch.error()
                });
            }
        }
        RemoteObject::PrefixList(id) => {
            if group.is_classic() {
                return Err(ErrorCode::ClassicPrefixList.error());
            }
            let list = ctx
                .snapshot
                .prefix_list(id)
                .ok_or_else(|| ErrorCode::PrefixListNotFound.error())?;
            if rule
                .local
                .is_some_and(|local| Family::of_net(&local) != list.family)
            {
                return Err(ErrorCode::PrefixListFamilyMismatch.error());
            }
            match (rule.protocol, list.family) {
                (Protocol::Number(proto::ICMP), Family::V6)
                | (Protocol::Number(proto::ICMPV6), Family::V4) => {
                    return Err(ErrorCode::ProtocolFamilyMismatch.error())
                }
                _ => {}
            }
        }
        RemoteObject::Cidr(_) => {}
    }
    if let DestPorts::List(id) = &rule.dest_ports {
        if ctx.snapshot.port_list(id).is_none() {
            return Err(ErrorCode::PortListNotFound.error());
        }
    }
    Ok(())
}

/// Rule identity (S18): everything but priority, description, id and create time.
pub(crate) fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.direction == b.direction
        && a.remote == b.remote
        && a.local == b.local
        && a.protocol == b.protocol
        && a.dest_ports == b.dest_ports
        && a.source_ports == b.source_ports
        && a.nic_type == b.nic_type
        && a.action == b.action
}

/// How much of the NIC's 1000-rule budget a rule uses (S19): a prefix list or a port list counts
/// as its `MaxEntries` (both: the product); a missing list counts as 1.
pub(crate) fn rule_weight(snapshot: &Snapshot, rule: &Rule) -> u64 {
    let prefix = match &rule.remote {
        RemoteObject::PrefixList(id) => snapshot.prefix_list(id).map_or(1, |l| l.max_entries),
        _ => 1,
    };
    let ports = match &rule.dest_ports {
        DestPorts::List(id) => snapshot.port_list(id).map_or(1, |l| l.max_entries),
        _ => 1,
    };
    u64::from(prefix.max(1)) * u64::from(ports.max(1))
}

/// Priority in a request: an integer 1..=100. 110, legal in old snapshots, is refused here.
fn parse_priority(text: &str, param: &str) -> Result<u8, ApiError> {
    if text.is_empty() {
        return Ok(1);
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorCode::PriorityMalformed.error());
    }
    match text.parse::<i64>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n as u8),
        _ => Err(ErrorCode::PriorityNotSupported.with(param)),
    }
}

fn is_any_ports(text: &str) -> bool {
    text.is_empty() || text == "-1/-1"
}

/// `a/b` of plain digits, then the loader's range rules (S2).
fn strict_port_range(text: &str) -> Option<PortRange> {
    let (lo, hi) = text.split_once('/')?;
    let plain = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !plain(lo) || !plain(hi) {
        return None;
    }
    parse_port_range(text).ok()
}

fn cidr(
    p: &PermissionParams,
    field: &str,
    family: Family,
    malformed: impl FnOnce() -> ApiError,
) -> Result<Option<IpNet>, ApiError> {
    let Some(text) = p.set(field) else {
        return Ok(None);
    };
    match parse_cidr(text) {
        Some(net) if Family::of_net(&net) == family => Ok(Some(net)),
        _ => Err(malformed()),
    }
}
