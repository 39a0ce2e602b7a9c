use super::{Family, PortRange, Rule};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Keys of an API object that the model does not interpret (`RequestId`, `Status`, `Type`, …),
/// kept verbatim so that a written snapshot keeps the API's shape.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Position of a security group in [`Snapshot::groups`].
pub type GroupIndex = u32;
/// Position of a network interface in [`Snapshot::nics`].
pub type NicIndex = u32;

/// Basic (`normal`) or advanced (`enterprise`) security group (S12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum GroupKind {
    /// A basic group: ingress dropped and egress accepted by default; may give inner access.
    #[default]
    Normal,
    /// An advanced group: both directions dropped by default; never gives inner access.
    Enterprise,
}

impl GroupKind {
    /// `normal` or `enterprise`, as `SecurityGroupType` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Normal => "normal",
            GroupKind::Enterprise => "enterprise",
        }
    }
}

/// `InnerAccessPolicy` of a group (S11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InnerAccessPolicy {
    /// NICs sharing the (basic) group reach each other whatever the rules.
    Accept,
    /// They do not: only rules decide.
    Drop,
}

/// A security group with its rules in API order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroup {
    /// `SecurityGroupId` (`sg-…`).
    pub id: String,
    /// `SecurityGroupName`; empty when not given.
    pub name: String,
    /// `SecurityGroupType`.
    pub kind: GroupKind,
    /// Empty for the classic network.
    pub vpc_id: String,
    /// `InnerAccessPolicy`.
    pub inner_access: InnerAccessPolicy,
    /// The rules of both directions, in the API's order.
    pub rules: Vec<Rule>,
    /// The group's `Description`.
    pub description: String,
    /// `RegionId`; empty when the snapshot does not say.
    pub region_id: String,
    /// Every other key of the DescribeSecurityGroupAttribute response.
    pub extra: Extra,
}

impl SecurityGroup {
    /// A classic-network group (no VPC), whose rules have a NicType (S9).
    pub fn is_classic(&self) -> bool {
        self.vpc_id.is_empty()
    }

    /// Only basic groups with `InnerAccessPolicy` `Accept` give inner access (S11).
    pub fn gives_inner_access(&self) -> bool {
        self.kind == GroupKind::Normal && self.inner_access == InnerAccessPolicy::Accept
    }
}

/// A network interface (ENI) and the groups it carries, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    /// `NetworkInterfaceId` (`eni-…`).
    pub id: String,
    /// `InstanceId` of the instance it is attached to; empty when detached.
    pub instance_id: String,
    /// `VpcId`.
    pub vpc_id: String,
    /// Private IPv4 addresses (primary first), then IPv6 addresses.
    pub addresses: Vec<IpAddr>,
    /// Its security groups, in the NIC's order (which breaks ties of S10).
    pub groups: Vec<GroupIndex>,
    /// Every other key of the NetworkInterfaceSet item (`Type`, `Status`, names, …).
    pub extra: Extra,
}

/// A managed prefix list `pl-…` (S7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixList {
    /// `PrefixListId` (`pl-…`).
    pub id: String,
    /// `AddressFamily`: every entry is of it.
    pub family: Family,
    /// `MaxEntries`: what a rule referencing the list counts against the NIC's rule quota.
    pub max_entries: u32,
    /// The entries' CIDRs.
    pub cidrs: Vec<IpNet>,
    /// `PrefixListName`.
    pub name: String,
    /// Each entry's `Description`, parallel to `cidrs` (empty when none).
    pub entry_descriptions: Vec<String>,
    /// Every other key of the DescribePrefixListAttributes response.
    pub extra: Extra,
}

/// A port range list `prl-…` (S7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRangeList {
    /// `PortRangeListId` (`prl-…`).
    pub id: String,
    /// `MaxEntries`.
    pub max_entries: u32,
    /// The entries' port ranges.
    pub ranges: Vec<PortRange>,
    /// `PortRangeListName`.
    pub name: String,
    /// Each entry's `Description`, parallel to `ranges` (empty when none).
    pub entry_descriptions: Vec<String>,
    /// Every other key of the port range list object.
    pub extra: Extra,
}

/// One successful API call made with a `ClientToken`: a retry with the same token and the same
/// parameters gets `response` back without being applied again. Kept in the snapshot under
/// the top-level key `ClientTokens` (see `docs/control-plane.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTokenRecord {
    /// The `ClientToken` as the caller gave it.
    pub token: String,
    /// The API action the token was used with.
    pub action: String,
    /// A stable digest of the call's parameters (everything but the token and signature fields).
    pub fingerprint: String,
    /// The answer the first call got.
    pub response: serde_json::Value,
}

/// A snapshot taken apart, to be changed and put together again with [`SnapshotParts::build`].
#[derive(Clone, Debug, Default)]
pub struct SnapshotParts {
    /// The security groups; a NIC's [`Nic::groups`] index into them.
    pub groups: Vec<SecurityGroup>,
    /// The network interfaces.
    pub nics: Vec<Nic>,
    /// The prefix lists rules may reference.
    pub prefix_lists: Vec<PrefixList>,
    /// The port range lists rules may reference.
    pub port_lists: Vec<PortRangeList>,
    /// The calls made with a `ClientToken` so far (for idempotent retries).
    pub client_tokens: Vec<ClientTokenRecord>,
}

impl SnapshotParts {
    /// Rebuilds the indexes. Same preconditions as [`Snapshot::new`].
    pub fn build(self) -> Snapshot {
        let mut snapshot =
            Snapshot::new(self.groups, self.nics, self.prefix_lists, self.port_lists);
        snapshot.client_tokens = self.client_tokens;
        snapshot
    }
}

/// What a query is asked about: a NIC, or a group of a bare DescribeSecurityGroupAttribute
/// snapshot (which has no NICs, so inner access never applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A network interface: every group it carries decides, and inner access applies.
    Nic(NicIndex),
    /// One group on its own.
    Group(GroupIndex),
}

/// The world a query is asked about: groups, NICs and the lists they reference.
///
/// Build one with [`crate::Snapshot::from_json_str`] and friends, or [`Snapshot::new`] from parts.
/// Lookups by id and the group membership of S6 are indexed once here.
#[derive(Clone, Debug)]
pub struct Snapshot {
    groups: Vec<SecurityGroup>,
    nics: Vec<Nic>,
    prefix_lists: Vec<PrefixList>,
    port_lists: Vec<PortRangeList>,
    group_by_id: HashMap<String, GroupIndex>,
    nic_by_id: HashMap<String, NicIndex>,
    prefix_list_by_id: HashMap<String, usize>,
    port_list_by_id: HashMap<String, usize>,
    /// Per group: the private addresses of every NIC carrying it (S6).
    group_members: Vec<Vec<IpAddr>>,
    /// Private address → the NICs that own it (S11).
    nics_by_address: HashMap<IpAddr, Vec<NicIndex>>,
    /// `[0, 1, …]`: lets a bare-group target lend out a one-element slice of its index.
    group_indices: Vec<GroupIndex>,
    /// Client tokens of past successful API calls (control plane).
    client_tokens: Vec<ClientTokenRecord>,
}

impl Snapshot {
    /// Assembles a snapshot from validated parts. Ids must be unique and every NIC's group
    /// index in range; [`crate::input::ecs`] guarantees both for loaded data.
    pub fn new(
        groups: Vec<SecurityGroup>,
        nics: Vec<Nic>,
        prefix_lists: Vec<PrefixList>,
        port_lists: Vec<PortRangeList>,
    ) -> Snapshot {
        let index_of = |ids: Vec<&String>| -> HashMap<String, usize> {
            ids.into_iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect()
        };
        let group_by_id = index_of(groups.iter().map(|g| &g.id).collect())
            .into_iter()
            .map(|(id, i)| (id, i as GroupIndex))
            .collect();
        let nic_by_id = index_of(nics.iter().map(|n| &n.id).collect())
            .into_iter()
            .map(|(id, i)| (id, i as NicIndex))
            .collect();
        let prefix_list_by_id = index_of(prefix_lists.iter().map(|p| &p.id).collect());
        let port_list_by_id = index_of(port_lists.iter().map(|p| &p.id).collect());

        let mut group_members = vec![Vec::new(); groups.len()];
        let mut nics_by_address: HashMap<IpAddr, Vec<NicIndex>> = HashMap::new();
        for (nic_index, nic) in nics.iter().enumerate() {
            for &group in &nic.groups {
                group_members[group as usize].extend(nic.addresses.iter().copied());
            }
            for &addr in &nic.addresses {
                nics_by_address
                    .entry(addr)
                    .or_default()
                    .push(nic_index as NicIndex);
            }
        }
        for members in &mut group_members {
            members.sort_unstable();
            members.dedup();
        }
        let groups_len = groups.len();
        Snapshot {
            groups,
            nics,
            prefix_lists,
            port_lists,
            group_by_id,
            nic_by_id,
            prefix_list_by_id,
            port_list_by_id,
            group_members,
            nics_by_address,
            group_indices: (0..groups_len as GroupIndex).collect(),
            client_tokens: Vec::new(),
        }
    }

    /// The same snapshot carrying these client-token records.
    pub fn with_client_tokens(mut self, tokens: Vec<ClientTokenRecord>) -> Snapshot {
        self.client_tokens = tokens;
        self
    }

    /// Client tokens of past successful API calls, oldest first.
    pub fn client_tokens(&self) -> &[ClientTokenRecord] {
        &self.client_tokens
    }

    /// Takes the snapshot apart (dropping the indexes) so that it can be changed.
    pub fn into_parts(self) -> SnapshotParts {
        SnapshotParts {
            groups: self.groups,
            nics: self.nics,
            prefix_lists: self.prefix_lists,
            port_lists: self.port_lists,
            client_tokens: self.client_tokens,
        }
    }

    /// Every security group, in input order ([`GroupIndex`] order).
    pub fn groups(&self) -> &[SecurityGroup] {
        &self.groups
    }

    /// Every network interface, in input order ([`NicIndex`] order).
    pub fn nics(&self) -> &[Nic] {
        &self.nics
    }

    /// Every prefix list.
    pub fn prefix_lists(&self) -> &[PrefixList] {
        &self.prefix_lists
    }

    /// Every port range list.
    pub fn port_lists(&self) -> &[PortRangeList] {
        &self.port_lists
    }

    /// The group at `index` (panics when out of range: indexes come from this snapshot).
    pub fn group(&self, index: GroupIndex) -> &SecurityGroup {
        &self.groups[index as usize]
    }

    /// The NIC at `index` (panics when out of range: indexes come from this snapshot).
    pub fn nic(&self, index: NicIndex) -> &Nic {
        &self.nics[index as usize]
    }

    /// The index of the group with this id.
    pub fn group_index(&self, id: &str) -> Option<GroupIndex> {
        self.group_by_id.get(id).copied()
    }

    /// The index of the NIC with this id.
    pub fn nic_index(&self, id: &str) -> Option<NicIndex> {
        self.nic_by_id.get(id).copied()
    }

    /// The prefix list with this id.
    pub fn prefix_list(&self, id: &str) -> Option<&PrefixList> {
        self.prefix_list_by_id
            .get(id)
            .map(|&i| &self.prefix_lists[i])
    }

    /// The port range list with this id.
    pub fn port_list(&self, id: &str) -> Option<&PortRangeList> {
        self.port_list_by_id.get(id).map(|&i| &self.port_lists[i])
    }

    /// The private addresses of every NIC carrying the group `id` (S6); empty for a group that is
    /// not in the snapshot (another account's, say).
    pub fn group_member_addresses(&self, id: &str) -> &[IpAddr] {
        match self.group_index(id) {
            Some(index) => &self.group_members[index as usize],
            None => &[],
        }
    }

    /// The NICs owning a private address.
    pub fn nics_with_address(&self, addr: &IpAddr) -> &[NicIndex] {
        self.nics_by_address
            .get(addr)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The groups a query target carries, in order.
    pub fn target_groups(&self, target: Target) -> &[GroupIndex] {
        match target {
            Target::Nic(nic) => &self.nics[nic as usize].groups,
            Target::Group(group) => std::slice::from_ref(&self.group_indices[group as usize]),
        }
    }

    /// Resolves a query target by id: a NIC id, or a group id when the snapshot has no NICs
    /// (a bare DescribeSecurityGroupAttribute response). An empty id picks the only group of a
    /// NIC-less snapshot.
    pub fn resolve_target(&self, id: &str) -> Result<Target, TargetError> {
        if let Some(nic) = self.nic_index(id) {
            return Ok(Target::Nic(nic));
        }
        let group_ids = || list_some(self.groups.iter().map(|g| g.id.as_str()));
        if !self.nics.is_empty() {
            return Err(TargetError::NoSuchNic {
                id: id.to_string(),
                known: list_some(self.nics.iter().map(|n| n.id.as_str())),
            });
        }
        if id.is_empty() {
            return match self.groups.len() {
                1 => Ok(Target::Group(0)),
                0 => Err(TargetError::NoGroups),
                count => Err(TargetError::GroupNotNamed {
                    count,
                    known: group_ids(),
                }),
            };
        }
        self.group_index(id)
            .map(Target::Group)
            .ok_or_else(|| TargetError::NoSuchGroup {
                id: id.to_string(),
                known: group_ids(),
            })
    }

    /// The display id of a target.
    pub fn target_id(&self, target: Target) -> &str {
        match target {
            Target::Nic(nic) => &self.nics[nic as usize].id,
            Target::Group(group) => &self.groups[group as usize].id,
        }
    }
}

/// Why an id names no target of a snapshot ([`Snapshot::resolve_target`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// The snapshot has network interfaces, and none has this id.
    NoSuchNic {
        /// The id asked for.
        id: String,
        /// Some of the snapshot's NIC ids, for the message.
        known: String,
    },
    /// The snapshot has no network interfaces (targets are its groups), and no group has this id.
    NoSuchGroup {
        /// The id asked for.
        id: String,
        /// Some of the snapshot's group ids, for the message.
        known: String,
    },
    /// No id was given and the snapshot has no groups to pick from.
    NoGroups,
    /// No id was given and the snapshot has several groups and no NICs.
    GroupNotNamed {
        /// How many groups the snapshot has.
        count: usize,
        /// Some of their ids, for the message.
        known: String,
    },
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::NoSuchNic { id, known } => {
                write!(
                    f,
                    "no network interface {id:?} in the snapshot (it has {known})"
                )
            }
            TargetError::NoSuchGroup { id, known } => {
                write!(
                    f,
                    "no security group {id:?} in the snapshot (it has {known})"
                )
            }
            TargetError::NoGroups => f.write_str("the snapshot has no security groups"),
            TargetError::GroupNotNamed { count, known } => {
                write!(
                    f,
                    "the snapshot has {count} groups and no NICs: name one ({known})"
                )
            }
        }
    }
}

impl std::error::Error for TargetError {}

/// `a, b, c, … (N in all)` for error messages.
fn list_some<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return "none".to_string();
    }
    let shown: Vec<&str> = ids.iter().take(5).copied().collect();
    if ids.len() > shown.len() {
        format!("{}, … ({} in all)", shown.join(", "), ids.len())
    } else {
        shown.join(", ")
    }
}
