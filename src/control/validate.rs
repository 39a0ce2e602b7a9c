//! One permission's parameters → a validated [`Rule`], with the API's error for the first thing
//! wrong. The checks a stored rule shares (CIDRs, remote-object precedence, ports, ICMP
//! families) are `model::rule_check`'s, which the loader uses too; this module orders them as
//! the API does, maps their errors to API codes, and adds what only requests obey (the group's
//! NicType and enterprise restrictions, defaults of the request form).

use super::error::{ApiError, ErrorCode};
use super::request::PermissionParams;
use crate::model::rule_check::{self, RuleCheckError, Strictness};
use crate::model::{
    Action, DestPorts, Direction, Family, GroupKind, NicType, Protocol, RemoteObject, Rule,
    SecurityGroup, Snapshot,
};

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
/// [`check_references`]. The shared checks are `model::rule_check`'s, taken as strictly as the
/// API ([`Strictness::Request`]); this function orders them as the API does and gives its codes.
pub(crate) fn build_rule(ctx: &RuleContext, p: &PermissionParams) -> Result<Rule, ApiError> {
    let action = Action::parse(p.get("Policy").unwrap_or(""))
        .ok_or_else(|| ErrorCode::PolicyMalformed.with(&ctx.param("Policy")))?;
    let priority = rule_check::parse_priority(p.get("Priority").unwrap_or(""), Strictness::Request)
        .map_err(|err| match err {
            RuleCheckError::PriorityNotInteger => ErrorCode::PriorityMalformed.error(),
            _ => ErrorCode::PriorityNotSupported.with(&ctx.param("Priority")),
        })?;
    let protocol_text = p
        .set("IpProtocol")
        .ok_or_else(|| ErrorCode::MissingParameter.with(&ctx.param("IpProtocol")))?;
    let protocol = Protocol::parse(protocol_text)
        .ok_or_else(|| ErrorCode::ProtocolNotSupported.with(&ctx.param("IpProtocol")))?;
    let nic_type_given = NicType::parse(p.get("NicType").unwrap_or(""))
        .ok_or_else(|| ErrorCode::NicTypeNotSupported.with(&ctx.param("NicType")))?;

    // Addresses: all four CIDR fields are parsed first; a malformed value and one of the other
    // family are both the field's "malformed" error.
    let cidr = |field: &str, family: Family, malformed: ApiError| {
        rule_check::cidr_field(p.set(field), family).map_err(|_| malformed)
    };
    let source_v4 = cidr(
        "SourceCidrIp",
        Family::V4,
        ErrorCode::SourceCidrMalformed.error(),
    )?;
    let source_v6 = cidr(
        "Ipv6SourceCidrIp",
        Family::V6,
        ErrorCode::Ipv6SourceInvalid.with(&ctx.param("Ipv6SourceCidrIp")),
    )?;
    let dest_v4 = cidr(
        "DestCidrIp",
        Family::V4,
        ErrorCode::DestCidrMalformed.error(),
    )?;
    let dest_v6 = cidr(
        "Ipv6DestCidrIp",
        Family::V6,
        ErrorCode::Ipv6DestInvalid.with(&ctx.param("Ipv6DestCidrIp")),
    )?;
    let source = rule_check::one_per_side(source_v4, source_v6)
        .map_err(|_| ErrorCode::SourceIpBoth.with(&ctx.where_()))?;
    let dest = rule_check::one_per_side(dest_v4, dest_v6)
        .map_err(|_| ErrorCode::DestIpBoth.with(&ctx.where_()))?;
    rule_check::check_families(source, dest).map_err(|_| ErrorCode::FamilyConflict.error())?;
    if source.is_some() && source == dest {
        return Err(ErrorCode::SameSourceDest.error());
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
    let remote =
        rule_check::remote_object(remote_cidr, group, list).map_err(|_| match ctx.direction {
            Direction::Ingress => ErrorCode::MissingSource.with(&ctx.where_()),
            Direction::Egress => ErrorCode::MissingDest.with(&ctx.where_()),
        })?;

    // icmp is IPv4 only, icmpv6 IPv6 only (S5).
    rule_check::check_protocol_family(protocol, source.into_iter().chain(dest)).map_err(|err| {
        match err {
            RuleCheckError::ProtocolFamily {
                wanted: Family::V4, ..
            } => ErrorCode::V4ProtocolV6Address.error(),
            _ => ErrorCode::V6ProtocolV4Address.error(),
        }
    })?;

    // Ports (S2).
    let port_text = p.get("PortRange").unwrap_or("");
    let dest_ports = rule_check::dest_ports(
        protocol,
        port_text,
        p.set("PortRangeListId"),
        Strictness::Request,
    )
    .map_err(|err| match err {
        RuleCheckError::PortsMissing if port_text.is_empty() => ErrorCode::PortRangeMissing.error(),
        RuleCheckError::ListOnPortless => ErrorCode::ProtocolNoPortList.error(),
        _ => ErrorCode::PortRange.with(&ctx.param("PortRange")),
    })?;
    let source_ports = rule_check::source_ports(
        protocol,
        p.get("SourcePortRange").unwrap_or(""),
        Strictness::Request,
    )
    .map_err(|_| ErrorCode::PortRange.with(&ctx.param("SourcePortRange")))?;

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

    Ok(Rule::new(ctx.direction, action, protocol, remote)
        .with_priority(priority)
        .with_ports(dest_ports, source_ports)
        .with_local(local)
        .with_nic_type(nic_type)
        .with_description(description))
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
            if rule_check::protocol_family(rule.protocol).is_some_and(|f| f != list.family) {
                return Err(ErrorCode::ProtocolFamilyMismatch.error());
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
