//! Applying a call: first a [`Plan`] is made against the unchanged snapshot (every check happens
//! here, so a rejected call changes nothing), then [`commit`] carries it out, which cannot fail.

use super::error::{ApiError, ErrorCode};
use super::ids::IdSource;
use super::request::{ApiCall, NicRequest, PermissionParams, Request};
use super::validate::{
    build_rule, check_references, rule_weight, same_rule, RuleContext, MAX_GROUP_RULES,
    MAX_NIC_RULES,
};
use crate::input::ecs::write::{policy_api_name, protocol_api_name};
use crate::model::{
    DestPorts, Direction, Family, GroupIndex, GroupKind, InnerAccessPolicy, Nic, NicIndex, NicType,
    RemoteObject, Rule, SecurityGroup, Snapshot, SnapshotParts,
};
use std::collections::HashSet;
use std::net::IpAddr;

/// Most security groups on one network interface (S19).
pub const MAX_GROUPS_PER_NIC: usize = 10;

/// What a successful call changes.
#[derive(Debug)]
pub(crate) enum Change {
    None,
    AddRules {
        group: GroupIndex,
        rules: Vec<Rule>,
    },
    /// Positions in the group's rule list, ascending.
    RemoveRules {
        group: GroupIndex,
        positions: Vec<usize>,
    },
    ReplaceRule {
        group: GroupIndex,
        position: usize,
        rule: Rule,
    },
    SetPolicy {
        group: GroupIndex,
        policy: InnerAccessPolicy,
    },
    CreateGroup(SecurityGroup),
    DeleteGroup(GroupIndex),
    SetNicGroups {
        nic: NicIndex,
        groups: Vec<GroupIndex>,
    },
    CreateNic(Nic),
    DeleteNic(NicIndex),
}

/// A checked call: the change, and the keys its answer carries besides `RequestId`.
#[derive(Debug)]
pub(crate) struct Plan {
    pub change: Change,
    pub answer: Vec<(&'static str, String)>,
}

impl Plan {
    fn change(change: Change) -> Plan {
        Plan {
            change,
            answer: Vec::new(),
        }
    }
}

/// Checks a call against the snapshot and plans its change.
pub(crate) fn plan(
    snapshot: &Snapshot,
    call: &ApiCall,
    ids: &mut IdSource,
    now: &str,
) -> Result<Plan, ApiError> {
    let region = call.region_id.as_deref().unwrap_or("");
    match &call.request {
        Request::Authorize {
            direction,
            group_id,
            permissions,
        } => {
            let g = find_group(snapshot, group_id, region)?;
            authorize(snapshot, g, *direction, permissions, ids, now)
        }
        Request::Revoke {
            direction,
            group_id,
            rule_ids,
            permissions,
        } => {
            let g = find_group(snapshot, group_id, region)?;
            if rule_ids.is_empty() {
                revoke_by_fields(snapshot, g, *direction, permissions)
            } else {
                revoke_by_ids(snapshot, g, *direction, rule_ids)
            }
        }
        Request::ModifyRule {
            direction,
            group_id,
            rule_id,
            params,
        } => {
            let g = find_group(snapshot, group_id, region)?;
            match rule_id {
                Some(id) => modify_by_id(snapshot, g, *direction, id, params),
                None => modify_legacy(snapshot, g, *direction, params),
            }
        }
        Request::ModifyPolicy {
            group_id,
            inner_access_policy,
        } => {
            let policy = if inner_access_policy.eq_ignore_ascii_case("accept") {
                InnerAccessPolicy::Accept
            } else if inner_access_policy.eq_ignore_ascii_case("drop") {
                InnerAccessPolicy::Drop
            } else {
                return Err(ErrorCode::InnerPolicyMalformed.error());
            };
            let g = find_group(snapshot, group_id, region)?;
            if snapshot.group(g).kind == GroupKind::Enterprise {
                return Err(ErrorCode::EnterpriseInnerPolicy.error());
            }
            Ok(Plan::change(Change::SetPolicy { group: g, policy }))
        }
        Request::CreateGroup {
            vpc_id,
            name,
            description,
            group_type,
        } => create_group(snapshot, region, vpc_id, name, description, group_type, ids),
        Request::DeleteGroup { group_id } => {
            let g = find_group(snapshot, group_id, region)?;
            if snapshot.nics().iter().any(|n| n.groups.contains(&g)) {
                return Err(ErrorCode::GroupHasInstances.error());
            }
            let referenced = snapshot.groups().iter().any(|other| {
                other.id != *group_id
                    && other
                        .rules
                        .iter()
                        .any(|r| matches!(&r.remote, RemoteObject::Group(id) if id == group_id))
            });
            if referenced {
                return Err(ErrorCode::GroupReferenced.error());
            }
            Ok(Plan::change(Change::DeleteGroup(g)))
        }
        Request::ModifyNic { nic_id, group_ids } => {
            modify_nic(snapshot, region, nic_id, group_ids.as_deref())
        }
        Request::CreateNic(NicRequest {
            vswitch_id,
            group_ids,
            primary_ip,
            secondary_ips,
            ipv6_addresses,
            name,
            description,
        }) => {
            let groups = nic_groups(snapshot, region, group_ids, None)?;
            let vpc_id = snapshot.group(groups[0]).vpc_id.clone();
            if vpc_id.is_empty() {
                return Err(ErrorCode::GroupNotVpc.error());
            }
            let mut addresses: Vec<IpAddr> = Vec::new();
            let mut add = |text: &str, param: String, v6: bool| -> Result<(), ApiError> {
                let addr: IpAddr = text
                    .parse()
                    .ok()
                    .filter(|a: &IpAddr| a.is_ipv6() == v6)
                    .ok_or_else(|| ErrorCode::IpMalformed.with(&param))?;
                let taken = addresses.contains(&addr)
                    || snapshot
                        .nics_with_address(&addr)
                        .iter()
                        .any(|&n| snapshot.nic(n).vpc_id == vpc_id);
                if taken {
                    return Err(ErrorCode::IpInUse.with(text));
                }
                addresses.push(addr);
                Ok(())
            };
            add(primary_ip, "PrimaryIpAddress".into(), false)?;
            for (i, ip) in secondary_ips.iter().enumerate() {
                add(ip, format!("PrivateIpAddress.{}", i + 1), false)?;
            }
            for (i, ip) in ipv6_addresses.iter().enumerate() {
                add(ip, format!("Ipv6Address.{}", i + 1), true)?;
            }
            let mut taken: HashSet<String> = snapshot.nics().iter().map(|n| n.id.clone()).collect();
            let id = fresh_id(ids, "eni-", &mut taken);
            let mut extra = crate::model::Extra::new();
            for (key, value) in [
                ("VSwitchId", vswitch_id.as_str()),
                ("NetworkInterfaceName", name),
                ("Description", description),
                ("Type", "Secondary"),
                ("Status", "Available"),
            ] {
                extra.insert(
                    key.to_string(),
                    serde_json::Value::String(value.to_string()),
                );
            }
            let nic = Nic {
                id: id.clone(),
                instance_id: String::new(),
                vpc_id,
                addresses,
                groups,
                extra,
            };
            Ok(Plan {
                change: Change::CreateNic(nic),
                answer: vec![("NetworkInterfaceId", id)],
            })
        }
        Request::DeleteNic { nic_id } => {
            let n = snapshot
                .nic_index(nic_id)
                .ok_or_else(|| ErrorCode::EniNotFound.error())?;
            if !snapshot.nic(n).instance_id.is_empty() {
                return Err(ErrorCode::EniInUse.error());
            }
            Ok(Plan::change(Change::DeleteNic(n)))
        }
    }
}

/// Carries out a planned change. Cannot fail: the plan was checked against this snapshot.
pub(crate) fn commit(parts: &mut SnapshotParts, change: Change) {
    match change {
        Change::None => {}
        Change::AddRules { group, rules } => {
            if let Some(g) = parts.groups.get_mut(group as usize) {
                g.rules.extend(rules);
            }
        }
        Change::RemoveRules { group, positions } => {
            if let Some(g) = parts.groups.get_mut(group as usize) {
                let remove: HashSet<usize> = positions.into_iter().collect();
                let mut index = 0;
                g.rules.retain(|_| {
                    let keep = !remove.contains(&index);
                    index += 1;
                    keep
                });
            }
        }
        Change::ReplaceRule {
            group,
            position,
            rule,
        } => {
            if let Some(slot) = parts
                .groups
                .get_mut(group as usize)
                .and_then(|g| g.rules.get_mut(position))
            {
                *slot = rule;
            }
        }
        Change::SetPolicy { group, policy } => {
            if let Some(g) = parts.groups.get_mut(group as usize) {
                g.inner_access = policy;
            }
        }
        Change::CreateGroup(group) => parts.groups.push(group),
        Change::DeleteGroup(group) => {
            if (group as usize) < parts.groups.len() {
                parts.groups.remove(group as usize);
                for nic in &mut parts.nics {
                    for g in &mut nic.groups {
                        if *g > group {
                            *g -= 1;
                        }
                    }
                }
            }
        }
        Change::SetNicGroups { nic, groups } => {
            if let Some(n) = parts.nics.get_mut(nic as usize) {
                n.groups = groups;
            }
        }
        Change::CreateNic(nic) => parts.nics.push(nic),
        Change::DeleteNic(nic) => {
            if (nic as usize) < parts.nics.len() {
                parts.nics.remove(nic as usize);
            }
        }
    }
}

/// A group by id in the call's region (a group of another region is not found, as in the API).
fn find_group(snapshot: &Snapshot, id: &str, region: &str) -> Result<GroupIndex, ApiError> {
    let well_formed = !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ErrorCode::GroupIdMalformed.error());
    }
    let g = snapshot
        .group_index(id)
        .ok_or_else(|| ErrorCode::GroupNotFound.error())?;
    let group_region = &snapshot.group(g).region_id;
    if !group_region.is_empty() && group_region != region {
        return Err(ErrorCode::GroupNotFound.error());
    }
    Ok(g)
}

fn context<'a>(
    snapshot: &'a Snapshot,
    g: GroupIndex,
    direction: Direction,
    at: String,
) -> RuleContext<'a> {
    RuleContext {
        snapshot,
        group: snapshot.group(g),
        direction,
        at,
    }
}

fn authorize(
    snapshot: &Snapshot,
    g: GroupIndex,
    direction: Direction,
    permissions: &[PermissionParams],
    ids: &mut IdSource,
    now: &str,
) -> Result<Plan, ApiError> {
    let group = snapshot.group(g);
    let mut rules: Vec<Rule> = Vec::with_capacity(permissions.len());
    for (i, params) in permissions.iter().enumerate() {
        let ctx = context(snapshot, g, direction, format!("Permissions.{}", i + 1));
        let rule = build_rule(&ctx, params)?;
        check_references(&ctx, &rule)?;
        if rules.iter().any(|r| same_rule(r, &rule)) {
            return Err(ErrorCode::DuplicatePermissions.error());
        }
        rules.push(rule);
    }
    // A rule identical to an existing one succeeds and adds nothing (S18).
    rules.retain(|rule| !group.rules.iter().any(|r| same_rule(r, rule)));
    if rules.is_empty() {
        return Ok(Plan::change(Change::None));
    }
    let mut after: Vec<&Rule> = group.rules.iter().collect();
    after.extend(rules.iter());
    check_group_rule_limit(group, &after)?;
    check_nic_limits(snapshot, g, &after)?;
    let mut taken: HashSet<String> = all_rule_ids(snapshot);
    for rule in &mut rules {
        rule.id = fresh_id(ids, "sgr-", &mut taken);
        rule.create_time = now.to_string();
    }
    Ok(Plan::change(Change::AddRules { group: g, rules }))
}

fn revoke_by_ids(
    snapshot: &Snapshot,
    g: GroupIndex,
    direction: Direction,
    rule_ids: &[String],
) -> Result<Plan, ApiError> {
    let group = snapshot.group(g);
    let mut seen = HashSet::new();
    let mut positions = Vec::with_capacity(rule_ids.len());
    for id in rule_ids {
        if !seen.insert(id.as_str()) {
            return Err(ErrorCode::RuleIdRepeated.error());
        }
        let position = group
            .rules
            .iter()
            .position(|r| r.id == *id && r.direction == direction)
            .ok_or_else(|| ErrorCode::RuleIdInvalid.error())?;
        positions.push(position);
    }
    positions.sort_unstable();
    Ok(Plan::change(Change::RemoveRules {
        group: g,
        positions,
    }))
}

fn revoke_by_fields(
    snapshot: &Snapshot,
    g: GroupIndex,
    direction: Direction,
    permissions: &[PermissionParams],
) -> Result<Plan, ApiError> {
    let group = snapshot.group(g);
    let mut wanted: Vec<Rule> = Vec::with_capacity(permissions.len());
    let mut positions = Vec::new();
    for (i, params) in permissions.iter().enumerate() {
        let ctx = context(snapshot, g, direction, format!("Permissions.{}", i + 1));
        let rule = build_rule(&ctx, params)?;
        if wanted.iter().any(|r| same_rule(r, &rule)) {
            return Err(ErrorCode::DuplicatePermissions.error());
        }
        let matched: Vec<usize> = group
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| same_rule(r, &rule))
            .map(|(p, _)| p)
            .collect();
        if matched.is_empty() {
            // Nothing to remove; what it names must still exist (the API answers 404 else).
            check_references(&ctx, &rule)?;
        }
        positions.extend(matched);
        wanted.push(rule);
    }
    positions.sort_unstable();
    positions.dedup();
    if positions.is_empty() {
        return Ok(Plan::change(Change::None));
    }
    Ok(Plan::change(Change::RemoveRules {
        group: g,
        positions,
    }))
}

/// The four parameter names of a direction's remote object, in precedence order, with the
/// kind each gives.
fn remote_fields(direction: Direction) -> [(&'static str, RemoteKind); 4] {
    match direction {
        Direction::Ingress => [
            ("SourceCidrIp", RemoteKind::Cidr(Family::V4)),
            ("Ipv6SourceCidrIp", RemoteKind::Cidr(Family::V6)),
            ("SourceGroupId", RemoteKind::Group),
            ("SourcePrefixListId", RemoteKind::PrefixList),
        ],
        Direction::Egress => [
            ("DestCidrIp", RemoteKind::Cidr(Family::V4)),
            ("Ipv6DestCidrIp", RemoteKind::Cidr(Family::V6)),
            ("DestGroupId", RemoteKind::Group),
            ("DestPrefixListId", RemoteKind::PrefixList),
        ],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemoteKind {
    Cidr(Family),
    Group,
    PrefixList,
}

fn remote_kind(remote: &RemoteObject) -> RemoteKind {
    match remote {
        RemoteObject::Cidr(net) => RemoteKind::Cidr(Family::of_net(net)),
        RemoteObject::Group(_) => RemoteKind::Group,
        RemoteObject::PrefixList(_) => RemoteKind::PrefixList,
    }
}

/// A rule's own parameters, as a request would give them.
fn rule_params(rule: &Rule) -> PermissionParams {
    let mut p = PermissionParams::new()
        .with("Policy", policy_api_name(rule.action))
        .with("Priority", rule.priority.to_string())
        .with("IpProtocol", protocol_api_name(rule.protocol))
        .with("NicType", rule.nic_type.as_str())
        .with("Description", rule.description.clone());
    match &rule.dest_ports {
        DestPorts::Any => p.insert("PortRange", "-1/-1".into()),
        DestPorts::Range(range) => p.insert("PortRange", range.to_string()),
        DestPorts::List(id) => {
            p.insert("PortRange", String::new());
            p.insert("PortRangeListId", id.clone());
        }
    }
    if let Some(range) = rule.source_ports {
        p.insert("SourcePortRange", range.to_string());
    }
    let fields = remote_fields(rule.direction);
    let key = |kind: RemoteKind| {
        fields
            .iter()
            .find(|(_, k)| *k == kind)
            .map(|(name, _)| *name)
            .unwrap_or("")
    };
    match &rule.remote {
        RemoteObject::Cidr(net) => p.insert(key(remote_kind(&rule.remote)), net.to_string()),
        RemoteObject::Group(id) | RemoteObject::PrefixList(id) => {
            p.insert(key(remote_kind(&rule.remote)), id.clone())
        }
    }
    if let Some(local) = &rule.local {
        let other = match rule.direction {
            Direction::Ingress => Direction::Egress,
            Direction::Egress => Direction::Ingress,
        };
        let local_fields = remote_fields(other);
        let name = match Family::of_net(local) {
            Family::V4 => local_fields[0].0,
            Family::V6 => local_fields[1].0,
        };
        p.insert(name, local.to_string());
    }
    p
}

fn modify_by_id(
    snapshot: &Snapshot,
    g: GroupIndex,
    direction: Direction,
    rule_id: &str,
    params: &PermissionParams,
) -> Result<Plan, ApiError> {
    let group = snapshot.group(g);
    let position = group
        .rules
        .iter()
        .position(|r| r.id == rule_id && r.direction == direction)
        .ok_or_else(|| ErrorCode::RuleIdNotFound.error())?;
    let old = &group.rules[position];
    let mut merged = rule_params(old);

    // S20: no field may go from a value to empty.
    for (name, value) in params.iter() {
        if value.is_empty() && merged.set(name).is_some() {
            return Err(ErrorCode::ModifyClearsField.with(name));
        }
    }
    // S20: NicType cannot change.
    if let Some(text) = params.set("NicType") {
        let nic_type =
            NicType::parse(text).ok_or_else(|| ErrorCode::NicTypeNotSupported.with("NicType"))?;
        if nic_type != old.nic_type {
            return Err(ErrorCode::ModifyNicType.error());
        }
    }
    // S20: the remote object keeps its kind and family.
    let fields = remote_fields(direction);
    if let Some((name, kind)) = fields.iter().find(|(name, _)| params.set(name).is_some()) {
        if *kind != remote_kind(&old.remote) {
            return Err(ErrorCode::ModifyEntityType.error());
        }
        for (field, _) in &fields {
            merged.remove(field);
        }
        merged.insert(name, params.set(name).unwrap_or_default().to_string());
    }
    // S20: no switch between a port range and a port list.
    let old_is_list = matches!(old.dest_ports, DestPorts::List(_));
    let range_given = params.set("PortRange").is_some_and(|v| v != "-1/-1");
    if old_is_list && range_given
        || !old_is_list && params.set("PortRangeListId").is_some() && !range_given
    {
        return Err(ErrorCode::ModifyPortRangeType.error());
    }
    for (name, value) in params.iter() {
        if !value.is_empty() && !fields.iter().any(|(f, _)| *f == name) {
            merged.insert(name, value.to_string());
        }
    }
    if !old_is_list {
        merged.remove("PortRangeListId");
    }

    // S20: only what the request sends is validated, against the stored rule's kind and
    // family. A stored value the API would no longer accept (priority 110 of old snapshots, a
    // reference to a prefix list or another account's group the snapshot lacks, an enterprise
    // drop rule) stays as stored: the probe gives unsent fields neutral values, and they are put
    // back after.
    let sent = |name: &str| params.get(name).is_some();
    let remote_sent = fields.iter().any(|(name, _)| params.set(name).is_some());
    let mut probe = merged.clone();
    for (name, neutral) in [("Priority", "1"), ("Policy", "accept"), ("Description", "")] {
        if !sent(name) {
            probe.insert(name, neutral.to_string());
        }
    }
    let ctx = context(snapshot, g, direction, String::new());
    let mut rule = build_rule(&ctx, &probe)?;
    let mut referenced = rule.clone();
    if !remote_sent {
        referenced.remote = RemoteObject::Cidr(ipnet::IpNet::V4(ipnet::Ipv4Net::default()));
    }
    if !sent("PortRangeListId") {
        referenced.dest_ports = DestPorts::Any;
    }
    check_references(&ctx, &referenced)?;
    if !sent("Priority") {
        rule.priority = old.priority;
    }
    if !sent("Policy") {
        rule.action = old.action;
    }
    if !sent("Description") {
        rule.description = old.description.clone();
    }
    if remote_kind(&rule.remote) != remote_kind(&old.remote) {
        return Err(ErrorCode::ModifyEntityType.error());
    }
    // S20: the result may not duplicate another rule.
    if let Some(other) = group
        .rules
        .iter()
        .enumerate()
        .find(|(p, r)| *p != position && same_rule(r, &rule))
    {
        return Err(ErrorCode::RuleDuplicate.with(&other.1.id));
    }
    let mut after: Vec<&Rule> = group.rules.iter().collect();
    after[position] = &rule;
    check_group_rule_limit(group, &after)?;
    check_nic_limits(snapshot, g, &after)?;
    rule.id = old.id.clone();
    rule.create_time = old.create_time.clone();
    Ok(Plan::change(Change::ReplaceRule {
        group: g,
        position,
        rule,
    }))
}

/// The legacy form: the rule is found by its fields (S18); its priority and description change.
fn modify_legacy(
    snapshot: &Snapshot,
    g: GroupIndex,
    direction: Direction,
    params: &PermissionParams,
) -> Result<Plan, ApiError> {
    let group = snapshot.group(g);
    let ctx = context(snapshot, g, direction, String::new());
    let key = build_rule(&ctx, params)?;
    let Some(position) = group.rules.iter().position(|r| same_rule(r, &key)) else {
        return Err(ErrorCode::RuleNotFound.error());
    };
    let mut rule = group.rules[position].clone();
    if params.set("Priority").is_some() {
        rule.priority = key.priority;
    }
    if params.get("Description").is_some() {
        rule.description = key.description;
    }
    Ok(Plan::change(Change::ReplaceRule {
        group: g,
        position,
        rule,
    }))
}

fn create_group(
    snapshot: &Snapshot,
    region: &str,
    vpc_id: &str,
    name: &str,
    description: &str,
    group_type: &str,
    ids: &mut IdSource,
) -> Result<Plan, ApiError> {
    let kind = if group_type.is_empty() || group_type.eq_ignore_ascii_case("normal") {
        GroupKind::Normal
    } else if group_type.eq_ignore_ascii_case("enterprise") {
        GroupKind::Enterprise
    } else {
        return Err(ErrorCode::GroupTypeInvalid.error());
    };
    if kind == GroupKind::Enterprise && vpc_id.is_empty() {
        return Err(ErrorCode::EnterpriseNeedsVpc.error());
    }
    if !name.is_empty() && !valid_group_name(name) {
        return Err(ErrorCode::GroupNameMalformed.error());
    }
    if !description.is_empty() && !valid_description(description) {
        return Err(ErrorCode::DescriptionParamMalformed.error());
    }
    let mut taken: HashSet<String> = snapshot.groups().iter().map(|g| g.id.clone()).collect();
    let id = fresh_id(ids, "sg-", &mut taken);
    let group = SecurityGroup {
        id: id.clone(),
        name: name.to_string(),
        kind,
        vpc_id: vpc_id.to_string(),
        inner_access: match kind {
            GroupKind::Normal => InnerAccessPolicy::Accept,
            GroupKind::Enterprise => InnerAccessPolicy::Drop,
        },
        rules: Vec::new(),
        description: description.to_string(),
        region_id: region.to_string(),
        extra: Default::default(),
    };
    Ok(Plan {
        change: Change::CreateGroup(group),
        answer: vec![("SecurityGroupId", id)],
    })
}

fn modify_nic(
    snapshot: &Snapshot,
    region: &str,
    nic_id: &str,
    group_ids: Option<&[String]>,
) -> Result<Plan, ApiError> {
    let n = snapshot
        .nic_index(nic_id)
        .ok_or_else(|| ErrorCode::EniNotFound.error())?;
    let Some(group_ids) = group_ids else {
        return Ok(Plan::change(Change::None));
    };
    let nic = snapshot.nic(n);
    let groups = nic_groups(snapshot, region, group_ids, Some(&nic.vpc_id))?;
    let after = groups_weight(snapshot, &groups);
    if after > MAX_NIC_RULES && after > groups_weight(snapshot, &nic.groups) {
        return Err(ErrorCode::RuleLimit.error());
    }
    Ok(Plan::change(Change::SetNicGroups { nic: n, groups }))
}

fn groups_weight(snapshot: &Snapshot, groups: &[GroupIndex]) -> u64 {
    groups.iter().map(|&g| group_weight(snapshot, g)).sum()
}

/// A NIC's group list: 1..=10 existing groups, no repeats, one type, one VPC (the NIC's when it
/// has one).
fn nic_groups(
    snapshot: &Snapshot,
    region: &str,
    group_ids: &[String],
    nic_vpc: Option<&str>,
) -> Result<Vec<GroupIndex>, ApiError> {
    if group_ids.is_empty() {
        return Err(ErrorCode::InvalidParameter
            .with("The parameter SecurityGroupId.N must name 1 to 10 security groups."));
    }
    if group_ids.len() > MAX_GROUPS_PER_NIC {
        return Err(ErrorCode::NicGroupLimit.error());
    }
    let mut groups: Vec<GroupIndex> = Vec::with_capacity(group_ids.len());
    for id in group_ids {
        let g = find_group(snapshot, id, region)?;
        if groups.contains(&g) {
            return Err(ErrorCode::InvalidParameter.with(&format!(
                "The parameter SecurityGroupId.N names {id} twice."
            )));
        }
        let vpc = &snapshot.group(g).vpc_id;
        let expected = match nic_vpc {
            Some(v) if !v.is_empty() => v,
            Some(_) => vpc,
            None => &snapshot.group(groups.first().copied().unwrap_or(g)).vpc_id,
        };
        if vpc != expected {
            return Err(ErrorCode::NicVpcMismatch.with(id));
        }
        groups.push(g);
    }
    let first_kind = snapshot.group(groups[0]).kind;
    if groups.iter().any(|&g| snapshot.group(g).kind != first_kind) {
        return Err(ErrorCode::InvalidParameter.with(
            "Basic and advanced (enterprise) security groups cannot be attached to one network interface.",
        ));
    }
    if nic_vpc.is_none() && groups_weight(snapshot, &groups) > MAX_NIC_RULES {
        return Err(ErrorCode::RuleLimit.error());
    }
    Ok(groups)
}

fn group_weight(snapshot: &Snapshot, g: GroupIndex) -> u64 {
    snapshot
        .group(g)
        .rules
        .iter()
        .map(|r| rule_weight(snapshot, r))
        .sum()
}

/// S19: at most 20 group-reference rules in a basic group (only a change that adds one is
/// refused, so an over-full legacy group can still be cleaned up).
fn check_group_rule_limit(group: &SecurityGroup, after: &[&Rule]) -> Result<(), ApiError> {
    if group.kind != GroupKind::Normal {
        return Ok(());
    }
    let count = |rules: &mut dyn Iterator<Item = &Rule>| {
        rules
            .filter(|r| matches!(r.remote, RemoteObject::Group(_)))
            .count()
    };
    let new = count(&mut after.iter().copied());
    if new > MAX_GROUP_RULES && new > count(&mut group.rules.iter()) {
        return Err(ErrorCode::GroupRuleLimit.error());
    }
    Ok(())
}

/// S19: at most 1000 rules (lists weighted) across the groups of every NIC carrying the group;
/// a group on no NIC may not pass 1000 by itself, since no NIC could then carry it.
fn check_nic_limits(snapshot: &Snapshot, g: GroupIndex, after: &[&Rule]) -> Result<(), ApiError> {
    let new_weight: u64 = after.iter().map(|r| rule_weight(snapshot, r)).sum();
    let old_weight = group_weight(snapshot, g);
    if new_weight <= old_weight {
        return Ok(());
    }
    let mut carried = false;
    for nic in snapshot.nics().iter().filter(|n| n.groups.contains(&g)) {
        carried = true;
        let others: u64 = nic
            .groups
            .iter()
            .filter(|&&other| other != g)
            .map(|&other| group_weight(snapshot, other))
            .sum();
        if others + new_weight > MAX_NIC_RULES {
            return Err(ErrorCode::RuleLimit.error());
        }
    }
    if !carried && new_weight > MAX_NIC_RULES {
        return Err(ErrorCode::RuleLimit.error());
    }
    Ok(())
}

fn all_rule_ids(snapshot: &Snapshot) -> HashSet<String> {
    snapshot
        .groups()
        .iter()
        .flat_map(|g| g.rules.iter().map(|r| r.id.clone()))
        .collect()
}

fn fresh_id(ids: &mut IdSource, prefix: &str, taken: &mut HashSet<String>) -> String {
    loop {
        let id = format!("{prefix}{}", ids.suffix(20));
        if taken.insert(id.clone()) {
            return id;
        }
    }
}

/// CreateSecurityGroup's name rule: 2..=128 characters, starting with a letter, of letters,
/// digits, `:`, `_`, `.` and `-`, and not starting with `http://` or `https://`.
fn valid_group_name(name: &str) -> bool {
    let count = name.chars().count();
    (2..=128).contains(&count)
        && name.chars().next().is_some_and(char::is_alphabetic)
        && !name.starts_with("http://")
        && !name.starts_with("https://")
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ':' | '_' | '.' | '-'))
}

/// CreateSecurityGroup's description rule: 2..=256 characters, not starting with `http://` or
/// `https://`.
fn valid_description(text: &str) -> bool {
    (2..=256).contains(&text.chars().count())
        && !text.starts_with("http://")
        && !text.starts_with("https://")
}
