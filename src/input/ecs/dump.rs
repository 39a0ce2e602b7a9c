//! A whole account as the aliyun CLI and the SDKs dump it: any mix of raw ECS API responses,
//! any page, in one or many files, put together into one [`Snapshot`].
//!
//! Each document is recognised by its keys ([`Shape`]), read with serde structs named like the
//! API's, validated with the same code as a snapshot file (so errors keep the file, the JSON
//! path, the value and what would be valid), then joined by id:
//!
//! - security groups from DescribeSecurityGroupAttribute (pages of one group merged in file
//!   order, rules deduplicated by `SecurityGroupRuleId`) and from snapshot objects; their
//!   `SecurityGroupType` and `VpcId` also from DescribeSecurityGroups;
//! - network interfaces from DescribeNetworkInterfaces and snapshot objects, and from
//!   DescribeInstances (the primary ENI carries the instance's `SecurityGroupIds`; an instance
//!   without ENIs is one NIC named by its `InstanceId`); the two must agree on a NIC both give;
//! - prefix lists from DescribePrefixListAttributes (entries) and DescribePrefixLists; port
//!   range lists from DescribePortRangeListEntries (entries; the list id is taken from the file
//!   name, because the response does not carry it) and DescribePortRangeLists.
//!
//! Nothing referenced but absent is silently dropped: it is listed in the
//! [`AssemblyReport`]'s `missing`. Two different descriptions of one object outside pagination
//! are an error naming both files.

use super::raw::{
    api_list, api_object, RawIpv6Sets, RawNetworkInterface, RawPermission, RawPortRangeListEntry,
    RawPrefixList, RawPrivateIpSets, RawSecurityGroup, RawSecurityGroupIds, RawSnapshot,
    StringOrNumber,
};
use super::validate::{self, NicDraft};
use super::{deserialize, json_kind, LoadError, LoadErrorKind};
use crate::model::{
    DestPorts, Family, GroupIndex, GroupKind, InnerAccessPolicy, Nic, PortRangeList, PrefixList,
    RemoteObject, SecurityGroup, Snapshot,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One JSON document and the name errors give it (its path, or `-` for stdin).
#[derive(Clone, Debug)]
pub struct Document {
    /// Its path, or `-` for stdin, for messages.
    pub name: String,
    /// The JSON text.
    pub text: String,
}

/// The kinds of document the reader recognises, by their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shape {
    /// sgsim's snapshot object (`SecurityGroups` as an array, `NetworkInterfaces`, …).
    Snapshot,
    /// An object with `SecurityGroupId` and `Permissions`.
    DescribeSecurityGroupAttribute,
    /// A bare array of `Permission` objects (one group, [`super::UNNAMED_GROUP_ID`]).
    PermissionArray,
    /// `SecurityGroups.SecurityGroup[]`.
    DescribeSecurityGroups,
    /// One `SecurityGroup` item of DescribeSecurityGroups: `SecurityGroupId` without
    /// `Permissions`.
    DescribeSecurityGroupsItem,
    /// `NetworkInterfaceSets.NetworkInterfaceSet[]`.
    DescribeNetworkInterfaces,
    /// `Instances.Instance[]`.
    DescribeInstances,
    /// `PrefixLists.PrefixList[]`.
    DescribePrefixLists,
    /// An object with `PrefixListId` and `Entries.Entry[]`.
    DescribePrefixListAttributes,
    /// A flat `PortRangeLists[]` array (from the API: with `RequestId`, items without `Entries`).
    DescribePortRangeLists,
    /// A flat `Entries[]` array of `PortRange`s.
    DescribePortRangeListEntries,
}

impl Shape {
    /// The shape's name in reports (`snapshot`, `DescribeSecurityGroups`, …).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Snapshot => "snapshot",
            Shape::DescribeSecurityGroupAttribute => "DescribeSecurityGroupAttribute",
            Shape::PermissionArray => "Permission array",
            Shape::DescribeSecurityGroups => "DescribeSecurityGroups",
            Shape::DescribeSecurityGroupsItem => "DescribeSecurityGroups item",
            Shape::DescribeNetworkInterfaces => "DescribeNetworkInterfaces",
            Shape::DescribeInstances => "DescribeInstances",
            Shape::DescribePrefixLists => "DescribePrefixLists",
            Shape::DescribePrefixListAttributes => "DescribePrefixListAttributes",
            Shape::DescribePortRangeLists => "DescribePortRangeLists",
            Shape::DescribePortRangeListEntries => "DescribePortRangeListEntries",
        }
    }
}

/// What the shapes look like, for the error about a document that is none of them.
const EXPECTED_SHAPES: &str = "expected one of: a snapshot object (SecurityGroups[], \
    NetworkInterfaces[], PrefixLists[], PortRangeLists[]), a DescribeSecurityGroupAttribute \
    response (SecurityGroupId, Permissions), a Permission array, DescribeSecurityGroups \
    (SecurityGroups.SecurityGroup[]), DescribeNetworkInterfaces \
    (NetworkInterfaceSets.NetworkInterfaceSet[]), DescribeInstances (Instances.Instance[]), \
    DescribePrefixLists (PrefixLists.PrefixList[]), DescribePrefixListAttributes (PrefixListId, \
    Entries.Entry[]), DescribePortRangeLists (PortRangeLists[]) or DescribePortRangeListEntries \
    (Entries[])";

/// What a dump refers to but does not give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MissingKind {
    /// A security group named by a NIC or a rule.
    Group,
    /// A group whose `SecurityGroupType` no document gives: simulated as `normal`.
    GroupType,
    /// A group listed by DescribeSecurityGroups without a DescribeSecurityGroupAttribute
    /// response: simulated with no rules.
    GroupRules,
    /// A prefix list named by a rule.
    PrefixList,
    /// A port range list named by a rule.
    PortRangeList,
    /// A prefix or port range list whose entries no document gives: left out.
    ListEntries,
    /// A NIC whose security groups no document gives: left out.
    NicGroups,
    /// A response with a `NextToken` whose next page is not in the dump.
    NextPage,
}

/// One thing missing from a dump, with where it is referenced from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// What sort of thing is missing.
    pub kind: MissingKind,
    /// The id of what is missing (`sg-…`, `pl-…`, `eni-…`), or the API name for a page.
    pub id: String,
    /// A sentence saying what is missing, where it is referenced and what sgsim does instead.
    pub detail: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// What [`assemble`] read and what it found missing.
#[derive(Clone, Debug, Default)]
pub struct AssemblyReport {
    /// Every document read, in order, with its shape.
    pub documents: Vec<(String, Shape)>,
    /// NICs taken from DescribeInstances (not described by DescribeNetworkInterfaces).
    pub nics_from_instances: usize,
    /// Everything referenced but absent, in a stable order.
    pub missing: Vec<Missing>,
}

impl AssemblyReport {
    /// A human summary: documents by shape, the snapshot's counts, and what is missing.
    pub fn summary(&self, snapshot: &Snapshot) -> String {
        let mut by_shape: Vec<(Shape, usize)> = Vec::new();
        for (_, shape) in &self.documents {
            match by_shape.iter_mut().find(|(s, _)| s == shape) {
                Some((_, n)) => *n += 1,
                None => by_shape.push((*shape, 1)),
            }
        }
        by_shape.sort();
        let shapes: Vec<String> = by_shape
            .iter()
            .map(|(shape, n)| format!("{n} {}", shape.name()))
            .collect();
        let groups = snapshot.groups();
        let enterprise = groups
            .iter()
            .filter(|g| g.kind == GroupKind::Enterprise)
            .count();
        let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
        let mut out = format!(
            "documents: {} ({})\nsecurity groups: {} ({} basic, {} advanced), {} rules\n\
             network interfaces: {} ({} from DescribeInstances)\nprefix lists: {}\n\
             port range lists: {}\n",
            self.documents.len(),
            shapes.join(", "),
            groups.len(),
            groups.len() - enterprise,
            enterprise,
            rules,
            snapshot.nics().len(),
            self.nics_from_instances,
            snapshot.prefix_lists().len(),
            snapshot.port_lists().len(),
        );
        if self.missing.is_empty() {
            out.push_str("missing: nothing\n");
        } else {
            out.push_str(&format!("missing: {}\n", self.missing.len()));
            for missing in &self.missing {
                out.push_str(&format!("  {missing}\n"));
            }
        }
        out
    }
}

/// Reads every input — a file, a directory (all `*.json` in it and below, in natural order of
/// their paths) or `-` for stdin — and assembles one snapshot.
pub fn assemble<P: AsRef<Path>>(inputs: &[P]) -> Result<(Snapshot, AssemblyReport), LoadError> {
    let mut documents = Vec::new();
    for input in inputs {
        for path in json_files(input.as_ref())? {
            documents.push(read_document(&path)?);
        }
    }
    assemble_documents(documents)
}

/// [`assemble`] on documents already in memory (tests, fuzzing, other front ends).
pub fn assemble_documents(
    documents: Vec<Document>,
) -> Result<(Snapshot, AssemblyReport), LoadError> {
    if documents.is_empty() {
        return Err(LoadError::new("", "", "no documents to read"));
    }
    let mut assembly = Assembly::default();
    for document in documents {
        let name = document.name.clone();
        assembly
            .add_document(document)
            .map_err(|err| err.in_file(&name))?;
    }
    assembly.finish()
}

/// The files an input names: itself, `-`, or the `*.json` files under a directory.
fn json_files(input: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let name = input.display().to_string();
    if input.as_os_str() == "-" {
        return Ok(vec![input.to_path_buf()]);
    }
    let meta = std::fs::metadata(input).map_err(|err| LoadError::io(&err).in_file(&name))?;
    if !meta.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by(|a, b| {
            natural_cmp(
                &a.file_name().to_string_lossy(),
                &b.file_name().to_string_lossy(),
            )
        });
    for entry in walk {
        let entry = entry.map_err(|err| {
            let at = err.path().map_or(name.clone(), |p| p.display().to_string());
            LoadError::io(&err).in_file(at)
        })?;
        let is_json = entry
            .path()
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
        if entry.file_type().is_file() && is_json {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(LoadError::new(
            "",
            "",
            "no *.json files in this directory or below: expected the API responses dumped there",
        )
        .in_file(name));
    }
    Ok(files)
}

/// Compares names with runs of digits as numbers, so `page-2.json` comes before `page-10.json`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (na, nb) = (
                a[..da].trim_start_matches('0'),
                b[..db].trim_start_matches('0'),
            );
            let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[da..];
            b = &b[db..];
        } else {
            if ca != cb {
                return ca.cmp(&cb);
            }
            a = &a[ca.len_utf8()..];
            b = &b[cb.len_utf8()..];
        }
    }
}

fn read_document(path: &Path) -> Result<Document, LoadError> {
    let name = path.display().to_string();
    let io_error = |err: std::io::Error| LoadError::io(&err).in_file(&name);
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(io_error)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(io_error)?
    };
    Ok(Document { name, text })
}

/// Tells a document's shape from its top-level keys.
pub fn shape_of(value: &Value) -> Result<Shape, LoadError> {
    let map = match value {
        Value::Array(_) => return Ok(Shape::PermissionArray),
        Value::Object(map) => map,
        other => {
            return Err(LoadError::new(
                "",
                json_kind(other),
                format!("matches no known shape: {EXPECTED_SHAPES}"),
            ))
        }
    };
    let has = |key: &str| map.contains_key(key);
    let is_object = |key: &str| matches!(map.get(key), Some(Value::Object(_)));
    let is_group = has("SecurityGroupId") || has("Permissions");
    let snapshot_keys = ["NetworkInterfaces", "ClientTokens"].iter().any(|k| has(k))
        || matches!(map.get("SecurityGroups"), Some(Value::Array(_)))
        || matches!(map.get("PrefixLists"), Some(Value::Array(_)));
    if is_group && (snapshot_keys || has("PortRangeLists")) {
        return Err(LoadError::new(
            "",
            "",
            "the document mixes snapshot keys (SecurityGroups, NetworkInterfaces, …) with a \
             single group's keys (SecurityGroupId, Permissions): use one shape",
        ));
    }
    if is_object("SecurityGroups") {
        return Ok(Shape::DescribeSecurityGroups);
    }
    if has("NetworkInterfaceSets") {
        return Ok(Shape::DescribeNetworkInterfaces);
    }
    if has("Instances") {
        return Ok(Shape::DescribeInstances);
    }
    if is_object("PrefixLists") {
        return Ok(Shape::DescribePrefixLists);
    }
    if let Some(Value::Array(lists)) = map.get("PortRangeLists") {
        // The API's answer has a RequestId and items without entries; a snapshot's lists
        // carry their Entries.
        let from_api = has("RequestId")
            || lists
                .iter()
                .any(|l| l.as_object().is_some_and(|o| !o.contains_key("Entries")));
        if from_api && !snapshot_keys {
            return Ok(Shape::DescribePortRangeLists);
        }
        return Ok(Shape::Snapshot);
    }
    if snapshot_keys {
        return Ok(Shape::Snapshot);
    }
    if has("PrefixListId") {
        return Ok(Shape::DescribePrefixListAttributes);
    }
    if matches!(map.get("Entries"), Some(Value::Array(_))) {
        return Ok(Shape::DescribePortRangeListEntries);
    }
    if has("Permissions") {
        return Ok(Shape::DescribeSecurityGroupAttribute);
    }
    if has("SecurityGroupId") {
        return Ok(Shape::DescribeSecurityGroupsItem);
    }
    let keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
    let found = if keys.is_empty() {
        "an empty object".to_string()
    } else {
        format!("an object with keys {}", keys.join(", "))
    };
    Err(LoadError::new(
        "",
        found,
        format!("matches no known shape: {EXPECTED_SHAPES}"),
    ))
}

// ---- The API's response shapes, named as the API names them. Unknown keys are ignored. ----

/// The items of an optional JSON array, each with its path (`{array}[{i}]`).
fn with_paths<'a, T: 'a>(
    items: Option<Vec<T>>,
    array: &'a str,
) -> impl Iterator<Item = (String, T)> + 'a {
    let items = items.unwrap_or_default().into_iter().enumerate();
    items.map(move |(i, item)| (format!("{array}[{i}]"), item))
}

/// A page of a paged Describe… call: its continuation token and its items.
trait Page: serde::de::DeserializeOwned {
    type Item: 'static;
    /// The JSON path of the item array, for messages (`SecurityGroups.SecurityGroup`).
    const ITEMS: &'static str;
    fn next_token(&self) -> &Option<String>;
    fn into_items(self) -> Vec<Self::Item>;

    /// The items, each with its JSON path.
    fn items(self) -> impl Iterator<Item = (String, Self::Item)>
    where
        Self: Sized,
    {
        with_paths(Some(self.into_items()), Self::ITEMS)
    }
}

/// [`Page`] for a response whose items are `$items` and, when nested, `.$inner` in it.
macro_rules! page {
    ($response:ty, $item:ty, $path:literal, $items:ident $(. $inner:ident)?) => {
        impl Page for $response {
            type Item = $item;
            const ITEMS: &'static str = $path;
            fn next_token(&self) -> &Option<String> {
                &self.next_token
            }
            fn into_items(self) -> Vec<$item> {
                self.$items$(.and_then(|set| set.$inner))?.unwrap_or_default()
            }
        }
    };
}

page!(
    DescribeSecurityGroupsResponse,
    SecurityGroupItem,
    "SecurityGroups.SecurityGroup",
    security_groups.security_group
);
page!(
    DescribeNetworkInterfacesResponse,
    RawNetworkInterface,
    "NetworkInterfaceSets.NetworkInterfaceSet",
    network_interface_sets.network_interface_set
);
page!(
    DescribeInstancesResponse,
    Instance,
    "Instances.Instance",
    instances.instance
);
page!(
    DescribePrefixListsResponse,
    ListItem,
    "PrefixLists.PrefixList",
    prefix_lists.prefix_list
);
page!(
    DescribePortRangeListsResponse,
    ListItem,
    "PortRangeLists",
    port_range_lists
);

api_object! {
    struct DescribeSecurityGroupsResponse, "a DescribeSecurityGroups response" {
        region_id: String,
        next_token: String,
        security_groups: SecurityGroupsSet,
    }
}

api_list!(
    SecurityGroupsSet {
        security_group: SecurityGroupItem
    },
    "an object with a SecurityGroup array"
);

api_object! {
    /// A DescribeSecurityGroups `SecurityGroup` item.
    struct SecurityGroupItem, "a DescribeSecurityGroups SecurityGroup item" {
        security_group_id: String,
        security_group_name: String,
        security_group_type: String,
        vpc_id: String,
        description: String,
        region_id: String,
    }
}

api_object! {
    struct DescribeNetworkInterfacesResponse, "a DescribeNetworkInterfaces response" {
        next_token: String,
        network_interface_sets: NetworkInterfaceSets,
    }
}

api_list!(
    NetworkInterfaceSets {
        network_interface_set: RawNetworkInterface
    },
    "an object with a NetworkInterfaceSet array"
);

api_object! {
    struct DescribeInstancesResponse, "a DescribeInstances response" {
        next_token: String,
        instances: InstancesSet,
    }
}

api_list!(
    InstancesSet { instance: Instance },
    "an object with an Instance array"
);

api_object! {
    /// A DescribeInstances `Instance` item: only what locates its NICs.
    struct Instance, "a DescribeInstances Instance item" {
        instance_id: String,
        security_group_ids: RawSecurityGroupIds,
        vpc_attributes: VpcAttributes,
        inner_ip_address: IpAddressSet,
        network_interfaces: InstanceNetworkInterfaces,
    }
}

api_object! {
    struct VpcAttributes, "a VpcAttributes object" {
        vpc_id: String,
        private_ip_address: IpAddressSet,
    }
}

api_list!(
    IpAddressSet { ip_address: String },
    "an object with an IpAddress array"
);

api_list!(
    InstanceNetworkInterfaces {
        network_interface: InstanceNetworkInterface
    },
    "an object with a NetworkInterface array"
);

api_object! {
    /// An instance's `NetworkInterfaces.NetworkInterface[]` item.
    struct InstanceNetworkInterface, "a DescribeInstances NetworkInterface item" {
        network_interface_id: String,
        #[serde(rename = "Type")]
        kind: String,
        primary_ip_address: String,
        private_ip_sets: RawPrivateIpSets,
        ipv6_sets: RawIpv6Sets,
        security_group_ids: RawSecurityGroupIds,
    }
}

api_object! {
    struct DescribePrefixListsResponse, "a DescribePrefixLists response" {
        next_token: String,
        prefix_lists: PrefixListsSet,
    }
}

api_list!(
    PrefixListsSet {
        prefix_list: ListItem
    },
    "an object with a PrefixList array"
);

/// Which list call a `ListItem` came from.
#[derive(Clone, Copy)]
enum ListedKind {
    PrefixLists,
    PortRangeLists,
}

api_object! {
    /// A DescribePrefixLists `PrefixList` item or a DescribePortRangeLists `PortRangeLists` item:
    /// a list's id and limits, without its entries.
    struct ListItem, "a list object" {
        prefix_list_id: String,
        prefix_list_name: String,
        address_family: String,
        port_range_list_id: String,
        port_range_list_name: String,
        max_entries: StringOrNumber,
    }
}

api_object! {
    struct DescribePortRangeListsResponse, "a DescribePortRangeLists response" {
        next_token: String,
        port_range_lists: Vec<ListItem>,
    }
}

api_list!(
    DescribePortRangeListEntriesResponse {
        entries: RawPortRangeListEntry
    },
    "a DescribePortRangeListEntries response"
);

/// A snapshot file with nothing but snapshot keys, read straight from the text: large snapshots
/// load without an intermediate `Value`. Anything else (or any error) takes the general path,
/// which tells shapes apart and gives the canonical error.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PlainSnapshot {
    security_groups: Option<Vec<RawSecurityGroup>>,
    network_interfaces: Option<Vec<RawNetworkInterface>>,
    prefix_lists: Option<Vec<RawPrefixList>>,
    port_range_lists: Option<Vec<super::raw::RawPortRangeList>>,
    client_tokens: Option<Vec<super::raw::RawClientToken>>,
}

fn plain_snapshot(body: &str) -> Option<RawSnapshot> {
    if !body.trim_start().starts_with('{') {
        return None;
    }
    let plain: PlainSnapshot = serde_json::from_str(body).ok()?;
    let empty = plain.security_groups.is_none()
        && plain.network_interfaces.is_none()
        && plain.prefix_lists.is_none()
        && plain.port_range_lists.is_none()
        && plain.client_tokens.is_none();
    // Port range lists without entries are DescribePortRangeLists items.
    let listing = plain
        .port_range_lists
        .as_ref()
        .is_some_and(|lists| lists.iter().any(|l| l.entries.is_none()));
    if empty || listing {
        return None;
    }
    Some(RawSnapshot {
        security_groups: plain.security_groups,
        network_interfaces: plain.network_interfaces,
        prefix_lists: plain.prefix_lists,
        port_range_lists: plain.port_range_lists,
        client_tokens: plain.client_tokens,
    })
}

// ---- Assembly ----

/// Where something was read: a file and the JSON path in it.
#[derive(Clone, Debug)]
struct Origin {
    file: String,
    path: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.file)
        } else {
            write!(f, "{} at {}", self.file, self.path)
        }
    }
}

/// One description of a group's rules: a DescribeSecurityGroupAttribute page, or a group of a
/// snapshot object (always complete).
struct GroupPage {
    group: SecurityGroup,
    /// Per rule: whether it came with a `SecurityGroupRuleId` (else its id is positional).
    had_id: Vec<bool>,
    type_given: bool,
    /// A non-empty `NextToken`: more pages follow.
    continues: bool,
    origin: Origin,
}

/// What DescribeSecurityGroups says about a group.
struct ListedGroup {
    kind: Option<GroupKind>,
    vpc_id: String,
    name: String,
    description: String,
    region_id: String,
    origin: Origin,
}

/// A NIC as DescribeInstances gives it.
struct InstanceNic {
    draft: NicDraft,
    /// False for a secondary ENI: DescribeInstances does not give its groups.
    groups_known: bool,
    /// True for an instance without ENIs, named by its `InstanceId`.
    named_by_instance: bool,
    origin: Origin,
}

/// Whether the responses of one list API all said more pages follow.
#[derive(Default)]
struct PageCount {
    responses: usize,
    continued: usize,
    first: Option<String>,
}

#[derive(Default)]
struct Assembly {
    report: AssemblyReport,
    /// Group ids in order of first appearance.
    group_order: Vec<String>,
    pages: HashMap<String, Vec<GroupPage>>,
    listed_groups: HashMap<String, ListedGroup>,
    nics: Vec<(NicDraft, Origin)>,
    instance_nics: Vec<InstanceNic>,
    prefix_lists: Vec<(PrefixList, Origin)>,
    listed_prefix_lists: Vec<(ListItem, Origin)>,
    port_lists: Vec<(PortRangeList, Origin)>,
    listed_port_lists: Vec<(ListItem, Origin)>,
    port_list_entries: Vec<(String, Vec<RawPortRangeListEntry>, Origin)>,
    client_tokens: Vec<crate::model::ClientTokenRecord>,
    page_counts: Vec<(Shape, PageCount)>,
}

/// A placeholder while a group is moved out of its listing.
fn empty_group() -> SecurityGroup {
    SecurityGroup {
        id: String::new(),
        name: String::new(),
        kind: GroupKind::Normal,
        vpc_id: String::new(),
        inner_access: InnerAccessPolicy::Accept,
        rules: Vec::new(),
        description: String::new(),
        region_id: String::new(),
        extra: Default::default(),
    }
}

fn non_empty(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|s| !s.is_empty())
}

/// Each item once, in first-seen order: an item given again (same id) must say the same as the
/// first time, as `key` reads it, or the two are a conflict (`differ` says in what).
fn once_each<T>(
    items: Vec<(T, Origin)>,
    id: impl Fn(&T) -> &str,
    same: impl Fn(&T, &T) -> bool,
    what: &str,
    differ: &str,
) -> Result<Vec<(T, Origin)>, LoadError> {
    let mut kept: Vec<(T, Origin)> = Vec::new();
    for (item, origin) in items {
        if let Some((first, first_origin)) = kept.iter().find(|(k, _)| id(k) == id(&item)) {
            if !same(first, &item) {
                let what = format!("{what} {:?}", id(&item));
                return Err(conflict(&what, first_origin, &origin, differ));
            }
            continue;
        }
        kept.push((item, origin));
    }
    Ok(kept)
}

fn conflict(what: &str, first: &Origin, second: &Origin, why: &str) -> LoadError {
    LoadError::new(
        "",
        "",
        format!(
            "{what} is described twice, differently ({why}): first in {first}, then in {second}"
        ),
    )
    .of_kind(LoadErrorKind::Conflict)
    .in_file(second.file.clone())
}

/// The port range list id in a file name (`…prl-2ze9743abc….json`).
fn port_list_id_in_name(name: &str) -> Option<String> {
    let stem = Path::new(name).file_name()?.to_string_lossy().into_owned();
    let start = stem.find("prl-")?;
    let id: String = stem[start..]
        .chars()
        .enumerate()
        .take_while(|&(i, c)| i < 4 || c.is_ascii_alphanumeric() || c == '*')
        .map(|(_, c)| c)
        .collect();
    (id.len() > 4).then_some(id)
}

impl Assembly {
    /// The items of a DescribePrefixLists or DescribePortRangeLists page, each with where it
    /// came from; an item without its id is refused.
    fn listed(
        &self,
        file: &str,
        items: impl Iterator<Item = (String, ListItem)>,
        kind: ListedKind,
    ) -> Result<Vec<(ListItem, Origin)>, LoadError> {
        let (id_key, what) = match kind {
            ListedKind::PrefixLists => ("PrefixListId", "prefix list needs its id (pl-…)"),
            ListedKind::PortRangeLists => {
                ("PortRangeListId", "port range list needs its id (prl-…)")
            }
        };
        let mut listed = Vec::new();
        for (path, item) in items {
            let id = match kind {
                ListedKind::PrefixLists => &item.prefix_list_id,
                ListedKind::PortRangeLists => &item.port_range_list_id,
            };
            if non_empty(id).is_none() {
                return Err(LoadError::new(
                    format!("{path}.{id_key}"),
                    "\"\"",
                    format!("missing: every {what}"),
                ));
            }
            listed.push((item, self.origin(file, path)));
        }
        Ok(listed)
    }

    /// Reads a page of a paged call, counts it (see `PageCount`), and hands it back.
    fn page<P: Page>(&mut self, value: Value, shape: Shape, file: &str) -> Result<P, LoadError> {
        let page: P = deserialize(value, "")?;
        self.count_page(shape, file, page.next_token());
        Ok(page)
    }

    fn origin(&self, file: &str, path: impl Into<String>) -> Origin {
        Origin {
            file: file.to_string(),
            path: path.into(),
        }
    }

    fn count_page(&mut self, shape: Shape, file: &str, next_token: &Option<String>) {
        let index = match self.page_counts.iter().position(|(s, _)| *s == shape) {
            Some(i) => i,
            None => {
                self.page_counts.push((shape, PageCount::default()));
                self.page_counts.len() - 1
            }
        };
        let count = &mut self.page_counts[index].1;
        count.responses += 1;
        if non_empty(next_token).is_some() {
            count.continued += 1;
            count.first.get_or_insert_with(|| file.to_string());
        }
    }

    fn add_document(&mut self, document: Document) -> Result<(), LoadError> {
        let file = document.name;
        let body = document.text.trim_start_matches('\u{feff}');
        if let Some(raw) = plain_snapshot(body) {
            self.report.documents.push((file.clone(), Shape::Snapshot));
            return self.add_snapshot(raw, &file);
        }
        let value: Value = serde_json::from_str(body).map_err(LoadError::syntax)?;
        let shape = shape_of(&value)?;
        self.report.documents.push((file.clone(), shape));
        match shape {
            Shape::Snapshot => self.add_snapshot(deserialize(value, "")?, &file),
            Shape::DescribeSecurityGroupAttribute => {
                let raw: RawSecurityGroup = deserialize(value, "")?;
                self.add_group_page(raw, &file, "")
            }
            Shape::PermissionArray => {
                let permissions: Vec<RawPermission> = deserialize(value, "")?;
                let snapshot = validate::bare_permissions(permissions)?;
                let group = snapshot.into_parts().groups.remove(0);
                let had_id = vec![true; group.rules.len()];
                self.push_page(GroupPage {
                    group,
                    had_id,
                    type_given: false,
                    continues: false,
                    origin: self.origin(&file, ""),
                });
                Ok(())
            }
            Shape::DescribeSecurityGroups => {
                let response: DescribeSecurityGroupsResponse = self.page(value, shape, &file)?;
                let region = response.region_id.clone();
                for (path, item) in response.items() {
                    self.add_listed_group(item, region.as_deref(), &file, &path)?;
                }
                Ok(())
            }
            Shape::DescribeSecurityGroupsItem => {
                let item: SecurityGroupItem = deserialize(value, "")?;
                self.add_listed_group(item, None, &file, "")
            }
            Shape::DescribeNetworkInterfaces => {
                let response: DescribeNetworkInterfacesResponse = self.page(value, shape, &file)?;
                for (path, raw) in response.items() {
                    self.add_nic(raw, &file, &path)?;
                }
                Ok(())
            }
            Shape::DescribeInstances => {
                let response: DescribeInstancesResponse = self.page(value, shape, &file)?;
                for (path, instance) in response.items() {
                    self.add_instance(instance, &file, &path)?;
                }
                Ok(())
            }
            Shape::DescribePrefixLists => {
                let response: DescribePrefixListsResponse = self.page(value, shape, &file)?;
                let listed = self.listed(&file, response.items(), ListedKind::PrefixLists)?;
                self.listed_prefix_lists.extend(listed);
                Ok(())
            }
            Shape::DescribePrefixListAttributes => {
                let mut raw: RawPrefixList = deserialize(value, "")?;
                strip_response_keys(&mut raw.extra);
                let list = validate::prefix_list(raw, "")?;
                let origin = self.origin(&file, "");
                self.prefix_lists.push((list, origin));
                Ok(())
            }
            Shape::DescribePortRangeLists => {
                let response: DescribePortRangeListsResponse = self.page(value, shape, &file)?;
                let listed = self.listed(&file, response.items(), ListedKind::PortRangeLists)?;
                self.listed_port_lists.extend(listed);
                Ok(())
            }
            Shape::DescribePortRangeListEntries => {
                let response: DescribePortRangeListEntriesResponse = deserialize(value, "")?;
                let id = port_list_id_in_name(&file).ok_or_else(|| {
                    LoadError::new(
                        "",
                        "",
                        "a DescribePortRangeListEntries response does not say which list it \
                         describes: put the list's id in the file name \
                         (DescribePortRangeListEntries.prl-….json)",
                    )
                })?;
                let origin = self.origin(&file, "");
                self.port_list_entries
                    .push((id, response.entries.unwrap_or_default(), origin));
                Ok(())
            }
        }
    }

    fn add_snapshot(&mut self, raw: RawSnapshot, file: &str) -> Result<(), LoadError> {
        for (i, group) in raw
            .security_groups
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let path = format!("SecurityGroups[{i}]");
            let origin = self.origin(file, path.clone());
            let group = validate::security_group(group, &path)?;
            self.push_page(GroupPage {
                had_id: vec![true; group.rules.len()],
                group,
                // The snapshot shape documents `normal` as the default type.
                type_given: true,
                continues: false,
                origin,
            });
        }
        for (path, nic) in with_paths(raw.network_interfaces, "NetworkInterfaces") {
            self.add_nic(nic, file, &path)?;
        }
        for (path, list) in with_paths(raw.prefix_lists, "PrefixLists") {
            let list = validate::prefix_list(list, &path)?;
            self.prefix_lists.push((list, self.origin(file, path)));
        }
        for (path, list) in with_paths(raw.port_range_lists, "PortRangeLists") {
            let list = validate::port_range_list(list, &path)?;
            self.port_lists.push((list, self.origin(file, path)));
        }
        for (path, token) in with_paths(raw.client_tokens, "ClientTokens") {
            self.client_tokens
                .push(validate::client_token(token, &path)?);
        }
        Ok(())
    }

    fn add_group_page(
        &mut self,
        mut raw: RawSecurityGroup,
        file: &str,
        path: &str,
    ) -> Result<(), LoadError> {
        let next_token = raw
            .extra
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_string);
        strip_response_keys(&mut raw.extra);
        let type_given = non_empty(&raw.security_group_type).is_some();
        let had_id: Vec<bool> = raw
            .permissions
            .as_ref()
            .and_then(|p| p.permission.as_ref())
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| non_empty(&r.security_group_rule_id).is_some())
                    .collect()
            })
            .unwrap_or_default();
        let group = validate::security_group(raw, path)?;
        self.push_page(GroupPage {
            group,
            had_id,
            type_given,
            continues: non_empty(&next_token).is_some(),
            origin: self.origin(file, path),
        });
        Ok(())
    }

    fn push_page(&mut self, page: GroupPage) {
        let id = page.group.id.clone();
        if !self.pages.contains_key(&id) && !self.listed_groups.contains_key(&id) {
            self.group_order.push(id.clone());
        }
        self.pages.entry(id).or_default().push(page);
    }

    fn add_listed_group(
        &mut self,
        item: SecurityGroupItem,
        region: Option<&str>,
        file: &str,
        path: &str,
    ) -> Result<(), LoadError> {
        let id = non_empty(&item.security_group_id)
            .ok_or_else(|| {
                LoadError::new(
                    validate::join(path, "SecurityGroupId"),
                    "\"\"",
                    "missing: every security group needs its id (sg-…)",
                )
            })?
            .to_string();
        let kind = match non_empty(&item.security_group_type) {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("normal") => Some(GroupKind::Normal),
            Some(t) if t.eq_ignore_ascii_case("enterprise") => Some(GroupKind::Enterprise),
            Some(t) => {
                return Err(LoadError::new(
                    validate::join(path, "SecurityGroupType"),
                    validate::quoted(t),
                    "expected normal or enterprise",
                ))
            }
        };
        let listed = ListedGroup {
            kind,
            vpc_id: item.vpc_id.unwrap_or_default(),
            name: item.security_group_name.unwrap_or_default(),
            description: item.description.unwrap_or_default(),
            region_id: item
                .region_id
                .or(region.map(str::to_string))
                .unwrap_or_default(),
            origin: self.origin(file, path),
        };
        if let Some(first) = self.listed_groups.get(&id) {
            if first.kind != listed.kind || first.vpc_id != listed.vpc_id {
                return Err(conflict(
                    &format!("security group {id:?}"),
                    &first.origin,
                    &listed.origin,
                    "SecurityGroupType or VpcId differ",
                ));
            }
            return Ok(());
        }
        if !self.pages.contains_key(&id) {
            self.group_order.push(id.clone());
        }
        self.listed_groups.insert(id, listed);
        Ok(())
    }

    fn add_nic(
        &mut self,
        raw: RawNetworkInterface,
        file: &str,
        path: &str,
    ) -> Result<(), LoadError> {
        let mut draft = validate::nic_draft(raw, path)?;
        strip_response_keys(&mut draft.extra);
        let origin = self.origin(file, path);
        self.nics.push((draft, origin));
        Ok(())
    }

    fn add_instance(
        &mut self,
        instance: Instance,
        file: &str,
        path: &str,
    ) -> Result<(), LoadError> {
        let field = |name: &str| validate::join(path, name);
        let instance_id = instance.instance_id.clone().unwrap_or_default();
        let group_ids = instance
            .security_group_ids
            .and_then(|s| s.security_group_id)
            .unwrap_or_default();
        let vpc = instance.vpc_attributes.unwrap_or_default();
        let vpc_addresses = vpc
            .private_ip_address
            .and_then(|s| s.ip_address)
            .unwrap_or_default();
        let enis = instance
            .network_interfaces
            .and_then(|n| n.network_interface)
            .unwrap_or_default();
        let vpc_id = vpc.vpc_id.unwrap_or_default();
        if enis.is_empty() {
            // Classic instances (and older VPC answers) have no ENIs: the instance is the NIC.
            let id = non_empty(&instance.instance_id).ok_or_else(|| {
                LoadError::new(
                    field("InstanceId"),
                    "\"\"",
                    "missing: an instance without NetworkInterfaces needs its id (i-…)",
                )
            })?;
            let mut addresses = Vec::new();
            for (k, text) in vpc_addresses.iter().enumerate() {
                let at = field(&format!("VpcAttributes.PrivateIpAddress.IpAddress[{k}]"));
                validate::push_address(&mut addresses, text, at, Family::V4)?;
            }
            let inner = instance
                .inner_ip_address
                .and_then(|s| s.ip_address)
                .unwrap_or_default();
            for (k, text) in inner.iter().enumerate() {
                let at = field(&format!("InnerIpAddress.IpAddress[{k}]"));
                validate::push_address(&mut addresses, text, at, Family::V4)?;
            }
            self.instance_nics.push(InstanceNic {
                groups_known: !group_ids.is_empty(),
                draft: NicDraft {
                    id: id.to_string(),
                    instance_id: instance_id.clone(),
                    vpc_id,
                    addresses,
                    group_ids,
                    path: path.to_string(),
                    extra: Default::default(),
                },
                named_by_instance: true,
                origin: self.origin(file, path),
            });
            return Ok(());
        }
        let single = enis.len() == 1;
        for (j, eni) in enis.into_iter().enumerate() {
            let eni_path = field(&format!("NetworkInterfaces.NetworkInterface[{j}]"));
            let at = |name: &str| validate::join(&eni_path, name);
            let id = non_empty(&eni.network_interface_id).ok_or_else(|| {
                LoadError::new(
                    at("NetworkInterfaceId"),
                    "\"\"",
                    "missing: every network interface needs its id (eni-…)",
                )
            })?;
            let primary = match non_empty(&eni.kind) {
                Some(kind) => kind.eq_ignore_ascii_case("primary"),
                None => single,
            };
            let mut addresses = Vec::new();
            if let Some(text) = non_empty(&eni.primary_ip_address) {
                validate::push_address(&mut addresses, text, at("PrimaryIpAddress"), Family::V4)?;
            }
            let sets = eni
                .private_ip_sets
                .and_then(|s| s.private_ip_set)
                .unwrap_or_default();
            for (k, set) in sets.iter().enumerate() {
                if let Some(text) = non_empty(&set.private_ip_address) {
                    let where_ = at(&format!("PrivateIpSets.PrivateIpSet[{k}].PrivateIpAddress"));
                    validate::push_address(&mut addresses, text, where_, Family::V4)?;
                }
            }
            if primary {
                for (k, text) in vpc_addresses.iter().enumerate() {
                    let where_ = field(&format!("VpcAttributes.PrivateIpAddress.IpAddress[{k}]"));
                    validate::push_address(&mut addresses, text, where_, Family::V4)?;
                }
            }
            let v6 = eni.ipv6_sets.and_then(|s| s.ipv6_set).unwrap_or_default();
            for (k, set) in v6.iter().enumerate() {
                if let Some(text) = non_empty(&set.ipv6_address) {
                    let where_ = at(&format!("Ipv6Sets.Ipv6Set[{k}].Ipv6Address"));
                    validate::push_address(&mut addresses, text, where_, Family::V6)?;
                }
            }
            let own_groups = eni
                .security_group_ids
                .and_then(|s| s.security_group_id)
                .unwrap_or_default();
            let groups = if !own_groups.is_empty() {
                own_groups
            } else if primary {
                group_ids.clone()
            } else {
                Vec::new()
            };
            let mut extra = serde_json::Map::new();
            if let Some(kind) = non_empty(&eni.kind) {
                extra.insert("Type".to_string(), Value::String(kind.to_string()));
            }
            self.instance_nics.push(InstanceNic {
                groups_known: !groups.is_empty(),
                draft: NicDraft {
                    id: id.to_string(),
                    instance_id: instance_id.clone(),
                    vpc_id: vpc_id.clone(),
                    addresses,
                    group_ids: groups,
                    path: eni_path.clone(),
                    extra,
                },
                named_by_instance: false,
                origin: self.origin(file, eni_path),
            });
        }
        Ok(())
    }

    /// `missing`, unless the same thing is already reported missing.
    fn missing_once(&mut self, kind: MissingKind, id: &str, detail: String) {
        let known = &self.report.missing;
        if !known.iter().any(|m| m.kind == kind && m.id == id) {
            self.missing(kind, id, detail);
        }
    }

    fn missing(&mut self, kind: MissingKind, id: &str, detail: String) {
        self.report.missing.push(Missing {
            kind,
            id: id.to_string(),
            detail,
        });
    }

    fn finish(mut self) -> Result<(Snapshot, AssemblyReport), LoadError> {
        let groups = self.merge_groups()?;
        let prefix_lists = self.merge_prefix_lists()?;
        let port_lists = self.merge_port_lists()?;
        let family_of = validate::list_families(&prefix_lists);
        for listing in &groups {
            for (at, rule) in listing.group.rules.iter().enumerate() {
                if let Err(err) = validate::list_family_clash(rule, &family_of, "") {
                    let origin = listing.rule_origin(at);
                    let mut err = err.in_file(origin.file);
                    err.path = validate::join(&origin.path, &err.path);
                    return Err(err);
                }
            }
        }
        let groups: Vec<SecurityGroup> = groups.into_iter().map(|l| l.group).collect();
        let nics = self.merge_nics(&groups)?;
        self.report_pages();
        self.report_references(&groups, &prefix_lists, &port_lists);
        let snapshot = Snapshot::new(groups, nics, prefix_lists, port_lists)
            .with_client_tokens(std::mem::take(&mut self.client_tokens));
        Ok((snapshot, self.report))
    }

    /// Every group, with where each of its rules was read.
    fn merge_groups(&mut self) -> Result<Vec<Listing>, LoadError> {
        let mut merged = Vec::with_capacity(self.group_order.len());
        for id in std::mem::take(&mut self.group_order) {
            let listed = self.listed_groups.remove(&id);
            let Some(pages) = self.pages.remove(&id) else {
                let listed = listed.expect("every group id comes from a page or a listing");
                let kind = listed.kind.unwrap_or_default();
                self.missing(
                    MissingKind::GroupRules,
                    &id,
                    format!(
                        "security group {id}: listed in {} but no DescribeSecurityGroupAttribute \
                         response gives its rules; simulated with none",
                        listed.origin
                    ),
                );
                if listed.kind.is_none() {
                    self.missing_type(&id, &listed.origin);
                }
                let group = SecurityGroup {
                    id: id.clone(),
                    name: listed.name,
                    kind,
                    vpc_id: listed.vpc_id,
                    inner_access: InnerAccessPolicy::Accept,
                    rules: Vec::new(),
                    description: listed.description,
                    region_id: listed.region_id,
                    extra: Default::default(),
                };
                merged.push(Listing {
                    group,
                    pages: vec![listed.origin],
                    rule_at: Vec::new(),
                    type_given: false,
                });
                continue;
            };
            let mut listings = self.merge_pages(&id, pages)?.into_iter();
            let mut listing = listings.next().expect("a group with pages has a listing");
            let origin = listing.pages[0].clone();
            let type_given = listing.type_given;
            let mut type_known = type_given;
            for other in listings {
                let added = merge_listing(&mut listing.group, &other.group).map_err(|why| {
                    conflict(
                        &format!("security group {id:?}"),
                        &origin,
                        &other.pages[0],
                        &why,
                    )
                })?;
                for i in added {
                    listing.pages.push(other.rule_origin(i));
                    let page = (listing.pages.len() - 1) as u32;
                    listing.rule_at.push((page, u32::MAX));
                }
                type_known |= other.type_given;
            }
            let mut group = std::mem::replace(&mut listing.group, empty_group());
            // Positional ids of two listings (two NicType calls) can meet: later ones move to
            // their position in the merged group.
            let mut seen = HashSet::new();
            for (position, rule) in group.rules.iter_mut().enumerate() {
                if !seen.insert(rule.id.clone()) && rule.id.starts_with("sgr-auto-") {
                    rule.id = super::derived_rule_id(&id, position);
                }
            }
            if let Some(listed) = listed {
                if let Some(kind) = listed.kind {
                    if type_given && kind != group.kind {
                        return Err(conflict(
                            &format!("security group {id:?}"),
                            &origin,
                            &listed.origin,
                            &format!(
                                "SecurityGroupType {} and {}",
                                group.kind.as_str(),
                                kind.as_str()
                            ),
                        ));
                    }
                    group.kind = kind;
                    type_known = true;
                }
                if !listed.vpc_id.is_empty() {
                    if !group.vpc_id.is_empty() && group.vpc_id != listed.vpc_id {
                        return Err(conflict(
                            &format!("security group {id:?}"),
                            &origin,
                            &listed.origin,
                            &format!("VpcId {:?} and {:?}", group.vpc_id, listed.vpc_id),
                        ));
                    }
                    group.vpc_id = listed.vpc_id;
                }
                if group.name.is_empty() {
                    group.name = listed.name;
                }
                if group.region_id.is_empty() {
                    group.region_id = listed.region_id;
                }
            }
            if !type_known {
                self.missing_type(&id, &origin);
            }
            listing.group = group;
            merged.push(listing);
        }
        Ok(merged)
    }

    fn missing_type(&mut self, id: &str, origin: &Origin) {
        self.missing(
            MissingKind::GroupType,
            id,
            format!(
                "security group {id}: no SecurityGroupType ({origin} does not carry it; \
                 DescribeSecurityGroups does); simulated as a basic (normal) group"
            ),
        );
    }

    /// Pages of one group → its complete listings (a listing ends at a page without
    /// `NextToken`).
    fn merge_pages(&mut self, id: &str, pages: Vec<GroupPage>) -> Result<Vec<Listing>, LoadError> {
        let mut listings = Vec::new();
        let mut current: Option<Listing> = None;
        // Ids of the rules of the listing's earlier pages: a page repeats rules only across
        // pages, so a one-page listing needs no lookups.
        let mut by_rule_id: HashMap<String, usize> = HashMap::new();
        let mut positional: Vec<bool> = Vec::new();
        let mut last_continues = false;
        for page in pages {
            let GroupPage {
                mut group,
                had_id,
                type_given,
                continues,
                origin,
            } = page;
            let rules = std::mem::take(&mut group.rules);
            let listing = match current.as_mut() {
                Some(listing) if last_continues => {
                    if listing.group.inner_access != group.inner_access
                        || (type_given && listing.type_given && listing.group.kind != group.kind)
                    {
                        return Err(conflict(
                            &format!("security group {id:?}"),
                            &listing.pages[0],
                            &origin,
                            "pages disagree on InnerAccessPolicy or SecurityGroupType",
                        ));
                    }
                    if type_given && !listing.type_given {
                        listing.group.kind = group.kind;
                        listing.type_given = true;
                    }
                    // Index the previous page's rules (earlier pages are indexed already).
                    let last_page = (listing.pages.len() - 1) as u32;
                    for at in (0..listing.rule_at.len()).rev() {
                        if listing.rule_at[at].0 != last_page {
                            break;
                        }
                        if !positional[at] {
                            by_rule_id.insert(listing.group.rules[at].id.clone(), at);
                        }
                    }
                    listing.pages.push(origin);
                    listing
                }
                _ => {
                    if let Some(done) = current.take() {
                        listings.push(renumber(done, &positional));
                    }
                    by_rule_id.clear();
                    positional.clear();
                    current.insert(Listing {
                        group,
                        pages: vec![origin],
                        rule_at: Vec::new(),
                        type_given,
                    })
                }
            };
            let page_no = (listing.pages.len() - 1) as u32;
            for (i, (rule, with_id)) in rules.into_iter().zip(had_id).enumerate() {
                if with_id && page_no > 0 {
                    if let Some(&at) = by_rule_id.get(&rule.id) {
                        if listing.group.rules[at] != rule {
                            return Err(conflict(
                                &format!("rule {:?} of security group {id:?}", rule.id),
                                &listing.rule_origin(at),
                                &listing.origin_of(page_no, i as u32),
                                "same SecurityGroupRuleId, different fields",
                            ));
                        }
                        continue; // the same rule on two pages
                    }
                }
                positional.push(!with_id);
                listing.group.rules.push(rule);
                listing.rule_at.push((page_no, i as u32));
            }
            last_continues = continues;
        }
        if let Some(done) = current.take() {
            if last_continues {
                let detail = format!(
                    "security group {id}: the last page read ({}) has a NextToken, so later \
                     pages of its rules are missing",
                    done.pages[done.pages.len() - 1].file
                );
                self.missing(MissingKind::NextPage, id, detail);
            }
            listings.push(renumber(done, &positional));
        }
        Ok(listings)
    }

    fn report_pages(&mut self) {
        let counts = std::mem::take(&mut self.page_counts);
        for (shape, count) in counts {
            if count.responses > 0 && count.continued == count.responses {
                let detail = format!(
                    "{}: every response read carries a NextToken (the first: {}), so the last \
                     page is missing",
                    shape.name(),
                    count.first.unwrap_or_default()
                );
                self.missing(MissingKind::NextPage, shape.name(), detail);
            }
        }
    }

    fn merge_prefix_lists(&mut self) -> Result<Vec<PrefixList>, LoadError> {
        let mut lists = once_each(
            std::mem::take(&mut self.prefix_lists),
            |l| &l.id,
            |a, b| (a.family, a.max_entries, &a.cidrs) == (b.family, b.max_entries, &b.cidrs),
            "prefix list",
            "AddressFamily, MaxEntries or entries differ",
        )?;
        for (item, origin) in std::mem::take(&mut self.listed_prefix_lists) {
            let id = item.prefix_list_id.clone().unwrap_or_default();
            match lists.iter_mut().find(|(l, _)| l.id == id) {
                Some((list, list_origin)) => {
                    let family = item.address_family.as_deref().unwrap_or("");
                    if !family.is_empty() && !family.eq_ignore_ascii_case(list.family.as_str()) {
                        return Err(conflict(
                            &format!("prefix list {id:?}"),
                            list_origin,
                            &origin,
                            &format!("AddressFamily {} and {family}", list.family.as_str()),
                        ));
                    }
                    if list.name.is_empty() {
                        list.name = item.prefix_list_name.unwrap_or_default();
                    }
                }
                None => {
                    self.missing_once(
                        MissingKind::ListEntries,
                        &id,
                        format!(
                            "prefix list {id}: listed in {origin} but no \
                                 DescribePrefixListAttributes response gives its entries; \
                                 left out"
                        ),
                    );
                }
            }
        }
        Ok(lists.into_iter().map(|(l, _)| l).collect())
    }

    fn merge_port_lists(&mut self) -> Result<Vec<PortRangeList>, LoadError> {
        let listed = std::mem::take(&mut self.listed_port_lists);
        let mut used_items = HashSet::new();
        for (id, entries, origin) in std::mem::take(&mut self.port_list_entries) {
            let item = listed
                .iter()
                .position(|(item, _)| item.port_range_list_id.as_deref() == Some(id.as_str()));
            let mut list = PortRangeList {
                id: id.clone(),
                max_entries: 0,
                ranges: Vec::with_capacity(entries.len()),
                name: String::new(),
                entry_descriptions: Vec::with_capacity(entries.len()),
                extra: Default::default(),
            };
            for (i, entry) in entries.into_iter().enumerate() {
                let text = entry.port_range.as_deref().unwrap_or("");
                let range = super::parse_port_range(text).map_err(|why| {
                    LoadError::new(
                        format!("Entries[{i}].PortRange"),
                        validate::quoted(text),
                        why,
                    )
                    .in_file(origin.file.clone())
                })?;
                list.ranges.push(range);
                list.entry_descriptions
                    .push(entry.description.unwrap_or_default());
            }
            let mut max = None;
            if let Some(index) = item {
                used_items.insert(index);
                let (item, item_origin) = &listed[index];
                max = validate::max_entries(
                    &item.max_entries,
                    validate::join(&item_origin.path, "MaxEntries"),
                    2000,
                )
                .map_err(|err| err.in_file(item_origin.file.clone()))?;
                list.name = item.port_range_list_name.clone().unwrap_or_default();
            }
            list.max_entries = max.unwrap_or(list.ranges.len().max(1) as u32);
            if list.ranges.len() > list.max_entries as usize {
                return Err(LoadError::new(
                    "Entries",
                    format!("{} entries", list.ranges.len()),
                    format!(
                        "more entries than the list's MaxEntries {}",
                        list.max_entries
                    ),
                )
                .in_file(origin.file.clone()));
            }
            self.port_lists.push((list, origin));
        }
        let lists = once_each(
            std::mem::take(&mut self.port_lists),
            |l| &l.id,
            |a, b| (a.max_entries, &a.ranges) == (b.max_entries, &b.ranges),
            "port range list",
            "MaxEntries or entries differ",
        )?;
        for (index, (item, origin)) in listed.into_iter().enumerate() {
            let id = item.port_range_list_id.unwrap_or_default();
            if used_items.contains(&index) || lists.iter().any(|(l, _)| l.id == id) {
                continue;
            }
            self.missing_once(
                MissingKind::ListEntries,
                &id,
                format!(
                    "port range list {id}: listed in {origin} but no \
                         DescribePortRangeListEntries response (a file named after the list) \
                         gives its entries; left out"
                ),
            );
        }
        Ok(lists.into_iter().map(|(l, _)| l).collect())
    }

    fn merge_nics(&mut self, groups: &[SecurityGroup]) -> Result<Vec<Nic>, LoadError> {
        // DescribeNetworkInterfaces and snapshot NICs, one per id.
        let mut drafts: Vec<(NicDraft, Origin)> = Vec::new();
        let mut at_id: HashMap<String, usize> = HashMap::new();
        for (draft, origin) in std::mem::take(&mut self.nics) {
            if let Some(&i) = at_id.get(&draft.id) {
                let (first, first_origin) = &drafts[i];
                if !same_nic(first, &draft) {
                    return Err(conflict(
                        &format!("network interface {:?}", draft.id),
                        first_origin,
                        &origin,
                        "addresses, groups, InstanceId or VpcId differ",
                    ));
                }
                continue;
            }
            at_id.insert(draft.id.clone(), drafts.len());
            drafts.push((draft, origin));
        }
        // DescribeInstances: checked against what DescribeNetworkInterfaces says, else added.
        let primary_of: HashMap<String, usize> = drafts
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| {
                !d.instance_id.is_empty()
                    && d.extra
                        .get("Type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.eq_ignore_ascii_case("primary"))
            })
            .map(|(i, (d, _))| (d.instance_id.clone(), i))
            .collect();
        let mut from_instances: HashMap<String, usize> = HashMap::new();
        for nic in std::mem::take(&mut self.instance_nics) {
            let described = if nic.named_by_instance {
                primary_of.get(&nic.draft.instance_id).copied()
            } else {
                at_id.get(&nic.draft.id).copied()
            };
            if let Some(i) = described {
                let (other, other_origin) = &drafts[i];
                if let Some(why) = instance_disagrees(&nic, other) {
                    return Err(conflict(
                        &format!("network interface {:?}", other.id),
                        other_origin,
                        &nic.origin,
                        &why,
                    ));
                }
                continue;
            }
            if let Some(&i) = from_instances.get(&nic.draft.id) {
                let (first, first_origin) = &drafts[i];
                if !same_nic(first, &nic.draft) {
                    return Err(conflict(
                        &format!("network interface {:?}", nic.draft.id),
                        first_origin,
                        &nic.origin,
                        "addresses, groups, InstanceId or VpcId differ",
                    ));
                }
                continue;
            }
            if !nic.groups_known {
                let id = nic.draft.id.clone();
                self.missing(
                    MissingKind::NicGroups,
                    &id,
                    format!(
                        "network interface {id}: {} gives no security groups for it \
                         (DescribeNetworkInterfaces does); left out",
                        nic.origin
                    ),
                );
                continue;
            }
            from_instances.insert(nic.draft.id.clone(), drafts.len());
            self.report.nics_from_instances += 1;
            drafts.push((nic.draft, nic.origin));
        }

        let group_index: HashMap<&str, GroupIndex> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i as GroupIndex))
            .collect();
        let mut nics = Vec::with_capacity(drafts.len());
        for (mut draft, origin) in drafts {
            let absent: Vec<String> = draft
                .group_ids
                .iter()
                .filter(|g| !group_index.contains_key(g.as_str()))
                .cloned()
                .collect();
            for gid in &absent {
                let left_out = if absent.len() == draft.group_ids.len() {
                    "the NIC has no other group and is left out"
                } else {
                    "the NIC is simulated without it"
                };
                self.missing(
                    MissingKind::Group,
                    gid,
                    format!(
                        "security group {gid}: carried by network interface {} ({origin}) but \
                         absent from the dump; {left_out}",
                        draft.id
                    ),
                );
            }
            if absent.len() == draft.group_ids.len() && !absent.is_empty() {
                continue;
            }
            draft
                .group_ids
                .retain(|g| group_index.contains_key(g.as_str()));
            let nic = validate::resolve_nic_groups(draft, groups, &group_index)
                .map_err(|err| err.in_file(origin.file.clone()))?;
            nics.push(nic);
        }
        Ok(nics)
    }

    /// Rules naming a group, prefix list or port range list that is not in the snapshot.
    fn report_references(
        &mut self,
        groups: &[SecurityGroup],
        prefix_lists: &[PrefixList],
        port_lists: &[PortRangeList],
    ) {
        let group_ids: HashSet<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        let prefix_ids: HashSet<&str> = prefix_lists.iter().map(|l| l.id.as_str()).collect();
        let port_ids: HashSet<&str> = port_lists.iter().map(|l| l.id.as_str()).collect();
        // (kind, id) → (first referencing rule, count), in order of first reference.
        let mut found: Vec<((MissingKind, String), (String, usize))> = Vec::new();
        let mut note = |kind: MissingKind, id: &str, by: String| match found
            .iter_mut()
            .find(|(k, _)| k.0 == kind && k.1 == id)
        {
            Some((_, (_, count))) => *count += 1,
            None => found.push(((kind, id.to_string()), (by, 1))),
        };
        for group in groups {
            for rule in &group.rules {
                let by = || format!("{}/{}", group.id, rule.id);
                match &rule.remote {
                    RemoteObject::Group(id) if !group_ids.contains(id.as_str()) => {
                        note(MissingKind::Group, id, by())
                    }
                    RemoteObject::PrefixList(id) if !prefix_ids.contains(id.as_str()) => {
                        note(MissingKind::PrefixList, id, by())
                    }
                    _ => {}
                }
                if let DestPorts::List(id) = &rule.dest_ports {
                    if !port_ids.contains(id.as_str()) {
                        note(MissingKind::PortRangeList, id, by());
                    }
                }
            }
        }
        for ((kind, id), (by, count)) in found {
            let (what, effect) = match kind {
                MissingKind::Group => (
                    "security group",
                    "no NIC in the dump carries it, so the rules match no address",
                ),
                MissingKind::PrefixList => ("prefix list", "the rules match no address"),
                _ => ("port range list", "the rules match no port"),
            };
            let more = if count > 1 {
                format!(" and {} more rules", count - 1)
            } else {
                String::new()
            };
            self.missing(
                kind,
                &id,
                format!(
                    "{what} {id}: referenced by rule {by}{more} but absent from the dump; {effect}"
                ),
            );
        }
    }
}

/// One complete listing of a group's rules: one or more pages.
struct Listing {
    group: SecurityGroup,
    /// Where each page was read.
    pages: Vec<Origin>,
    /// Per rule: its page and its position there, for errors about it.
    rule_at: Vec<(u32, u32)>,
    type_given: bool,
}

impl Listing {
    fn origin_of(&self, page: u32, index: u32) -> Origin {
        let page = &self.pages[page as usize];
        if index == u32::MAX {
            return page.clone(); // a rule merged from another listing: the page is its origin
        }
        Origin {
            file: page.file.clone(),
            path: validate::join(&page.path, &format!("Permissions.Permission[{index}]")),
        }
    }

    /// The file and JSON path of rule `at`.
    fn rule_origin(&self, at: usize) -> Origin {
        let (page, index) = self.rule_at[at];
        self.origin_of(page, index)
    }
}

/// Rules without a `SecurityGroupRuleId` are named by their position in the whole listing, so
/// that a group read in pages gets the ids it would get in one answer.
fn renumber(mut listing: Listing, positional: &[bool]) -> Listing {
    if listing.pages.len() > 1 {
        let id = listing.group.id.clone();
        for (position, (rule, &derived)) in
            listing.group.rules.iter_mut().zip(positional).enumerate()
        {
            if derived {
                rule.id = super::derived_rule_id(&id, position);
            }
        }
    }
    listing
}

/// Merges a second complete listing of a group into the first. A listing may hold one
/// direction or one `NicType` only (`--Direction`, and the classic network's two `NicType`
/// calls), so listings are compared per (direction, NicType): where both have rules they must
/// have the same ones; rules of a class only the second has are added. Returns the positions
/// of the added rules in `other`, or why the listings differ.
fn merge_listing(group: &mut SecurityGroup, other: &SecurityGroup) -> Result<Vec<usize>, String> {
    if group.inner_access != other.inner_access {
        return Err("InnerAccessPolicy differs".to_string());
    }
    let class = |r: &crate::model::Rule| (r.direction, r.nic_type);
    let classes_of = |g: &SecurityGroup| g.rules.iter().map(class).collect::<HashSet<_>>();
    let (mine, theirs) = (classes_of(group), classes_of(other));
    for shared in mine.intersection(&theirs) {
        let in_class = |g: &SecurityGroup| {
            g.rules
                .iter()
                .filter(|r| class(r) == *shared)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (a, b) = (in_class(group), in_class(other));
        if let Some(rule) = b.iter().find(|r| !a.contains(r)) {
            return Err(format!(
                "rule {} of the second is not in the first",
                rule.id
            ));
        }
        if let Some(rule) = a.iter().find(|r| !b.contains(r)) {
            return Err(format!(
                "rule {} of the first is not in the second",
                rule.id
            ));
        }
    }
    let mut added = Vec::new();
    for (i, rule) in other.rules.iter().enumerate() {
        if !mine.contains(&class(rule)) {
            group.rules.push(rule.clone());
            added.push(i);
        }
    }
    Ok(added)
}

fn same_nic(a: &NicDraft, b: &NicDraft) -> bool {
    let set = |addrs: &[IpAddr]| addrs.iter().copied().collect::<HashSet<_>>();
    a.instance_id == b.instance_id
        && a.vpc_id == b.vpc_id
        && set(&a.addresses) == set(&b.addresses)
        && a.group_ids == b.group_ids
}

/// Where DescribeInstances and DescribeNetworkInterfaces disagree about one NIC. Each side is
/// compared on what it gives: groups when the instance gives them, each address family when
/// the instance lists any of it.
fn instance_disagrees(nic: &InstanceNic, described: &NicDraft) -> Option<String> {
    let groups = |ids: &[String]| ids.iter().cloned().collect::<HashSet<_>>();
    if nic.groups_known && groups(&nic.draft.group_ids) != groups(&described.group_ids) {
        return Some(format!(
            "SecurityGroupIds {:?} and {:?}",
            described.group_ids, nic.draft.group_ids
        ));
    }
    for family in [Family::V4, Family::V6] {
        let of = |addrs: &[IpAddr]| {
            addrs
                .iter()
                .copied()
                .filter(|a| Family::of_addr(a) == family)
                .collect::<HashSet<_>>()
        };
        let (mine, theirs) = (of(&nic.draft.addresses), of(&described.addresses));
        if !mine.is_empty() && mine != theirs {
            let list = |set: &HashSet<IpAddr>| {
                let mut v: Vec<String> = set.iter().map(IpAddr::to_string).collect();
                v.sort();
                v.join(", ")
            };
            return Some(format!(
                "{} addresses [{}] and [{}]",
                family.as_str(),
                list(&theirs),
                list(&mine)
            ));
        }
    }
    None
}

/// Keys of one API answer that describe the call, not the object.
fn strip_response_keys(extra: &mut serde_json::Map<String, Value>) {
    for key in [
        "RequestId",
        "NextToken",
        "PageNumber",
        "PageSize",
        "TotalCount",
        "MaxResults",
    ] {
        extra.remove(key);
    }
}
