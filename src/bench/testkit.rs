//! The one random-snapshot generator behind the differential tests, the analyses' brute-force
//! tests, the fuzz targets and the benches: snapshot JSON as the API writes it, using every
//! feature of the spec — basic and enterprise groups (never mixed on one NIC), classic groups
//! and `NicType`, several groups per NIC, group references (present and missing), prefix lists
//! and port lists (present and missing, both families), local CIDRs, IPv4 and IPv6, source
//! port ranges, every protocol name and number form, priorities as numbers or strings with
//! ties, policies in any letter case, inner access either way, and the blank-field form
//! (every field present, unset ones `""`).
//!
//! Values come from small [`Pools`] so that rules overlap and flows hit them. The same code is
//! driven by a seed ([`Rng`]) in tests and benches, and by the fuzzer's bytes ([`FuzzBytes`])
//! in the fuzz targets, through [`Source`].
//!
//! ```
//! use sgsim::bench::testkit::{self, Pools};
//! use sgsim::rng::Rng;
//! let mut rng = Rng::new(7);
//! let json = testkit::snapshot(&mut rng, &Pools::WIDE);
//! let snapshot = sgsim::Snapshot::from_json_value(json).expect("generated snapshots load");
//! let flow = testkit::flow(&mut rng, &Pools::WIDE);
//! let targets = testkit::targets(&snapshot);
//! let engine = sgsim::Engine::new(snapshot);
//! let target = targets[rng.below(targets.len() as u64) as usize];
//! assert_eq!(engine.check(target, &flow), engine.check_reference(target, &flow));
//! ```

use crate::compile::Tier;
use crate::input::ecs::dump::Document;
use crate::model::{Direction, EvalOptions, Flow, NicType, Target};
use crate::rng::Rng;
use crate::Snapshot;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Every compiled tier, for tests that build each one eagerly and compare it with the
/// reference evaluator; the partitioned tree split down to one-rule leaves.
pub const TIERS: [Tier; 9] = [
    Tier::Auto,
    Tier::Bulk,
    Tier::Small,
    Tier::Flat,
    Tier::FlatDense,
    Tier::CrossProduct,
    Tier::CrossVector,
    Tier::CrossList,
    Tier::Partitioned { leaf_max_rules: 1 },
];

/// Where the generator's choices come from.
pub trait Source {
    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64;

    /// True `percent` times in a hundred (for a uniform source).
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index into something of `len` elements (`len > 0`).
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// One of `items` (not empty).
    fn pick<T: Copy>(&mut self, items: &[T]) -> T
    where
        Self: Sized,
    {
        items[self.below(items.len() as u64) as usize]
    }
}

impl Source for Rng {
    fn below(&mut self, n: u64) -> u64 {
        Rng::below(self, n)
    }
}

/// A fuzzer's input as a [`Source`]: each choice takes as few bytes as it needs; once the bytes
/// run out every choice is `0` (the smallest snapshot, no more flows), so generation always ends.
#[derive(Clone, Debug)]
pub struct FuzzBytes<'a> {
    data: &'a [u8],
}

impl<'a> FuzzBytes<'a> {
    /// Choices read from `data`, a fuzzer's input, a few bytes per choice.
    pub fn new(data: &'a [u8]) -> FuzzBytes<'a> {
        FuzzBytes { data }
    }

    /// Whether every byte has been used.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Source for FuzzBytes<'_> {
    fn below(&mut self, n: u64) -> u64 {
        let width = (64 - (n - 1).leading_zeros()).div_ceil(8) as usize;
        let take = width.min(self.data.len());
        let (head, rest) = self.data.split_at(take);
        self.data = rest;
        head.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) % n
    }
}

/// Port ranges `lo/hi` with `lo` in `lo`, `hi - lo` in `len`, and `hi` at most `max`.
#[derive(Clone, Copy, Debug)]
pub struct PortShape {
    /// The least and greatest first port.
    pub lo: (u16, u16),
    /// The least and greatest `hi - lo`.
    pub len: (u16, u16),
    /// The greatest last port.
    pub max: u16,
}

impl PortShape {
    /// The shape with these bounds.
    pub const fn new(lo: (u16, u16), len: (u16, u16), max: u16) -> PortShape {
        PortShape { lo, len, max }
    }

    fn range(&self, src: &mut impl Source) -> String {
        let lo = src.range(self.lo.0.into(), self.lo.1.into()) as u16;
        let hi = (lo + src.range(self.len.0.into(), self.len.1.into()) as u16).min(self.max);
        format!("{lo}/{hi}")
    }
}

/// The values a snapshot and its flows are drawn from, and its size.
#[derive(Clone, Copy, Debug)]
pub struct Pools {
    /// Rule and prefix-list CIDRs (bare addresses included: S8).
    pub v4_nets: &'static [&'static str],
    /// The same for IPv6.
    pub v6_nets: &'static [&'static str],
    /// NIC addresses, and flow addresses.
    pub v4_hosts: &'static [&'static str],
    /// The same for IPv6.
    pub v6_hosts: &'static [&'static str],
    /// Rule protocols as the API may write them.
    pub protocols: &'static [&'static str],
    /// Rules' destination port ranges.
    pub ports: PortShape,
    /// Rules' source port ranges.
    pub source_ports: PortShape,
    /// At most this many groups (at least one) and rules per group.
    pub max_groups: u64,
    /// At most this many rules per group.
    pub max_rules: u64,
    /// NICs: `Some(n)` gives exactly `n` NICs, NIC `i` holding host `i` of each family (IPv6
    /// 60 % of the time); `None` gives 0..=4 NICs with 0..=2 IPv4 and 0..=1 IPv6 hosts each.
    pub fixed_nics: Option<usize>,
    /// Flow protocols and destination / source ports.
    pub flow_protocols: &'static [u8],
    /// Flow destination ports.
    pub flow_dst_ports: &'static [u16],
    /// Flow source ports are drawn from `0..=flow_max_src_port`.
    pub flow_max_src_port: u16,
}

impl Pools {
    /// For the differential tests and fuzz targets: wide enough for every tier's corner cases.
    pub const WIDE: Pools = Pools {
        v4_nets: &[
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.0.0/30",
            "10.0.0.2",
            "10.0.0.8/29",
            "192.168.0.0/16",
            "8.8.8.8/32",
            "203.0.113.0/24",
        ],
        v6_nets: &[
            "::/0",
            "fd00::/64",
            "fd00::2/127",
            "2001:db8::/32",
            "2001:db8::9",
        ],
        v4_hosts: &[
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "10.0.0.9",
            "192.168.1.5",
            "8.8.8.8",
            "100.64.0.7",
            "203.0.113.5",
            "10.1.0.1",
        ],
        v6_hosts: &[
            "fd00::1",
            "fd00::2",
            "fd00::3",
            "2001:db8::5",
            "2001:db8::9",
        ],
        protocols: &[
            "TCP", "UDP", "ICMP", "ICMPv6", "ALL", "GRE", "tcp", "udp", "6", "17", "icmp", "all",
            "0",
        ],
        ports: PortShape::new((1, 9), (0, 5), u16::MAX),
        source_ports: PortShape::new((1, 9), (0, 5), u16::MAX),
        max_groups: 4,
        max_rules: 10,
        fixed_nics: None,
        flow_protocols: &[6, 17, 1, 58, 47, 0],
        flow_dst_ports: &[0, 1, 2, 3, 5, 8, 9, 12, 25],
        flow_max_src_port: 11,
    };

    /// For brute force over a universe of flows: so few values that a small set of
    /// representatives (`tests/analysis/bruteforce.rs`) separates every class any rule, list,
    /// group member or the platform rule draws. Three NICs, addresses `10.0.0.1..3` and
    /// `fd00::1..3`; ports within 1..=4; source ports `1/2`.
    pub const TINY: Pools = Pools {
        v4_nets: &[
            "0.0.0.0/0",
            "10.0.0.0/30",
            "10.0.0.2/31",
            "10.0.0.1",
            "10.0.0.3",
            "8.8.8.8",
        ],
        v6_nets: &["::/0", "fd00::/126", "fd00::2/127", "fd00::1"],
        v4_hosts: &["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        v6_hosts: &["fd00::1", "fd00::2", "fd00::3"],
        protocols: &[
            "tcp", "udp", "all", "icmp", "icmpv6", "gre", "TCP", "17", "6", "Udp",
        ],
        ports: PortShape::new((1, 4), (0, 3), 4),
        source_ports: PortShape::new((1, 1), (1, 1), 2),
        max_groups: 3,
        max_rules: 6,
        fixed_nics: Some(3),
        flow_protocols: &[6, 17, 1, 58, 47],
        flow_dst_ports: &[0, 1, 2, 3, 4, 5, 25],
        flow_max_src_port: 3,
    };
}

/// A rule's remote-side fields on the source side: CIDR (v4, v6), group, prefix list.
const SOURCE: [&str; 4] = [
    "SourceCidrIp",
    "Ipv6SourceCidrIp",
    "SourceGroupId",
    "SourcePrefixListId",
];
/// The same on the destination side.
const DEST: [&str; 4] = [
    "DestCidrIp",
    "Ipv6DestCidrIp",
    "DestGroupId",
    "DestPrefixListId",
];

/// A rule's direction-dependent field names: remote CIDR (v4, v6), group, prefix list, then
/// local CIDR (v4, v6).
fn fields(ingress: bool) -> [&'static str; 6] {
    let (remote, local) = if ingress {
        (SOURCE, DEST)
    } else {
        (DEST, SOURCE)
    };
    [
        remote[0], remote[1], remote[2], remote[3], local[0], local[1],
    ]
}

/// One more rule for a generated snapshot `json` (which its references may name), for tests
/// that mutate snapshots.
pub fn rule_for(src: &mut impl Source, pools: &Pools, id: String, json: &Value) -> Value {
    let count = |key: &str| json[key].as_array().map_or(0, |a| a.len() as u64);
    let counts = Counts {
        groups: count("SecurityGroups"),
        prefix_lists: count("PrefixLists"),
        port_lists: count("PortRangeLists"),
    };
    rule(src, pools, id, &counts, false)
}

/// The sizes of the snapshot being generated, which references point past to name missing
/// objects.
struct Counts {
    groups: u64,
    prefix_lists: u64,
    port_lists: u64,
}

fn rule(src: &mut impl Source, pools: &Pools, id: String, counts: &Counts, blank: bool) -> Value {
    let ingress = src.percent(50);
    let protocol = src.pick(pools.protocols);
    let lower = protocol.to_ascii_lowercase();
    // icmp is IPv4 only, icmpv6 IPv6 only (S5): keep the rule's family consistent.
    let v6 = match lower.as_str() {
        "icmp" | "1" => false,
        "icmpv6" | "58" => true,
        _ => src.percent(35),
    };
    let priority = src.range(1, 3);
    let mut rule = json!({
        "SecurityGroupRuleId": id,
        "Direction": if ingress { "ingress" } else { "egress" },
        "Policy": src.pick(&["Drop", "Accept", "accept", "drop"]),
        "Priority": if src.percent(25) { json!(priority.to_string()) } else { json!(priority) },
        "IpProtocol": protocol, "PortRange": "-1/-1",
        "NicType": if src.percent(20) { "internet" } else { "intranet" },
    });
    if blank {
        // Every field a permission may carry, unset ones "".
        let others = ["PortRangeListId", "SourcePortRange", "Description"];
        for field in SOURCE.into_iter().chain(DEST).chain(others) {
            rule[field] = json!("");
        }
    }
    if matches!(lower.as_str(), "tcp" | "udp" | "6" | "17") {
        if src.percent(20) {
            rule["PortRange"] = json!(if src.percent(50) { "" } else { "-1/-1" });
            // One past the end names a missing list.
            rule["PortRangeListId"] = json!(format!("prl-{}", src.below(counts.port_lists + 1)));
        } else {
            rule["PortRange"] = json!(pools.ports.range(src));
        }
        if src.percent(20) {
            rule["SourcePortRange"] = json!(pools.source_ports.range(src));
        }
    }
    let [cidr, cidr6, group, list, local, local6] = fields(ingress);
    // Group and prefix-list rules stay family-free unless a local CIDR or an icmp protocol
    // pins them; a prefix list of the other family would be refused at load.
    let pinned = matches!(lower.as_str(), "icmp" | "icmpv6");
    let mut remote_is_list = false;
    match src.below(8) {
        0 | 1 if !pinned => rule[group] = json!(format!("sg-{}", src.below(counts.groups + 1))),
        2 if !pinned => {
            // Prefix list i has family i % 2; one past the end is a missing list.
            let pairs = counts.prefix_lists.div_ceil(2).max(1);
            let pick = 2 * src.below(pairs) + u64::from(v6);
            rule[list] = json!(format!("pl-{}", pick.min(counts.prefix_lists)));
            remote_is_list = true;
        }
        _ => rule[if v6 { cidr6 } else { cidr }] = json!(net(src, pools, v6)),
    }
    if src.percent(20) && !remote_is_list {
        rule[if v6 { local6 } else { local }] = json!(net(src, pools, v6));
    }
    rule
}

fn net(src: &mut impl Source, pools: &Pools, v6: bool) -> &'static str {
    src.pick(if v6 { pools.v6_nets } else { pools.v4_nets })
}

/// A snapshot as the API writes it (`SecurityGroups`, `NetworkInterfaces`, `PrefixLists`,
/// `PortRangeLists`), drawn from `pools`. It always loads.
pub fn snapshot(src: &mut impl Source, pools: &Pools) -> Value {
    let counts = Counts {
        groups: src.range(1, pools.max_groups),
        prefix_lists: src.below(4),
        port_lists: src.below(3),
    };
    let blank = src.percent(30);
    // In an enterprise world each group is enterprise half the time; a NIC's groups share its
    // first group's kind (mixing is refused at load).
    let enterprise_world = src.percent(40);
    let kinds: Vec<&str> = (0..counts.groups)
        .map(|_| {
            if enterprise_world && src.percent(50) {
                "enterprise"
            } else {
                "normal"
            }
        })
        .collect();
    let groups: Vec<Value> = (0..counts.groups)
        .map(|g| {
            let rules: Vec<Value> = (0..src.range(0, pools.max_rules))
                .map(|r| rule(src, pools, format!("sgr-{g}-{r}"), &counts, blank))
                .collect();
            json!({
                "SecurityGroupId": format!("sg-{g}"), "SecurityGroupType": kinds[g as usize],
                // Classic groups (no VPC): only rules of the asked NicType count (S9).
                "VpcId": if src.percent(20) { "" } else { "vpc-1" },
                "InnerAccessPolicy": if src.percent(50) { "Drop" } else { "Accept" },
                "Permissions": {"Permission": rules},
            })
        })
        .collect();
    let nic_count = match pools.fixed_nics {
        Some(n) => n as u64,
        None => src.below(5),
    };
    let nics: Vec<Value> = (0..nic_count)
        .map(|n| {
            let first = src.below(counts.groups);
            let mut ids = vec![format!("sg-{first}")];
            for _ in 0..src.below(3) {
                let g = src.below(counts.groups);
                let id = format!("sg-{g}");
                if kinds[g as usize] == kinds[first as usize] && !ids.contains(&id) {
                    ids.push(id);
                }
            }
            let (v4, v6): (Vec<&str>, Vec<&str>) = match pools.fixed_nics {
                Some(_) => (
                    vec![pools.v4_hosts[n as usize % pools.v4_hosts.len()]],
                    src.percent(60)
                        .then(|| pools.v6_hosts[n as usize % pools.v6_hosts.len()])
                        .into_iter()
                        .collect(),
                ),
                None => (
                    (0..src.below(3)).map(|_| src.pick(pools.v4_hosts)).collect(),
                    (0..src.below(2)).map(|_| src.pick(pools.v6_hosts)).collect(),
                ),
            };
            json!({
                "NetworkInterfaceId": format!("eni-{n}"), "VpcId": "vpc-1",
                "PrivateIpAddress": v4.first().copied().unwrap_or(""),
                "PrivateIpSets": {"PrivateIpSet": v4.iter().map(|a| json!({"PrivateIpAddress": a})).collect::<Vec<_>>()},
                "Ipv6Sets": {"Ipv6Set": v6.iter().map(|a| json!({"Ipv6Address": a})).collect::<Vec<_>>()},
                "SecurityGroupIds": {"SecurityGroupId": ids},
            })
        })
        .collect();
    let prefix_lists: Vec<Value> = (0..counts.prefix_lists)
        .map(|i| {
            let v6 = i % 2 == 1;
            let nets = if v6 { pools.v6_nets } else { pools.v4_nets };
            let entries: Vec<Value> = (0..src.below(4))
                .map(|_| json!({"Cidr": src.pick(nets)}))
                .collect();
            json!({
                "PrefixListId": format!("pl-{i}"), "AddressFamily": if v6 { "IPv6" } else { "IPv4" },
                "MaxEntries": 10, "Entries": {"Entry": entries},
            })
        })
        .collect();
    let port_lists: Vec<Value> = (0..counts.port_lists)
        .map(|i| {
            let entries: Vec<Value> = (0..src.below(4))
                .map(|_| json!({"PortRange": pools.ports.range(src)}))
                .collect();
            json!({
                "PortRangeListId": format!("prl-{i}"), "MaxEntries": 5,
                "Entries": {"Entry": entries},
            })
        })
        .collect();
    json!({
        "SecurityGroups": groups,
        "NetworkInterfaces": nics,
        "PrefixLists": prefix_lists,
        "PortRangeLists": port_lists,
    })
}

/// Evaluation options: platform rules off a third of the time, the internet side of classic
/// groups a fifth.
pub fn options(src: &mut impl Source) -> EvalOptions {
    EvalOptions {
        platform_rules: !src.percent(33),
        nic_type: if src.percent(20) {
            NicType::Internet
        } else {
            NicType::Intranet
        },
    }
}

/// A flow between two pool hosts of one family.
pub fn flow(src: &mut impl Source, pools: &Pools) -> Flow {
    let hosts = if src.percent(40) {
        pools.v6_hosts
    } else {
        pools.v4_hosts
    };
    let mut addr = || -> IpAddr { src.pick(hosts).parse().expect("pool hosts parse") };
    let (src_addr, dst_addr) = (addr(), addr());
    Flow {
        direction: if src.percent(50) {
            Direction::Ingress
        } else {
            Direction::Egress
        },
        protocol: src.pick(pools.flow_protocols),
        src: src_addr,
        src_port: src.range(0, pools.flow_max_src_port.into()) as u16,
        dst: dst_addr,
        dst_port: src.pick(pools.flow_dst_ports),
    }
}

/// Every NIC, then every group, of `snapshot`, as targets to ask about.
pub fn targets(snapshot: &Snapshot) -> Vec<Target> {
    let mut targets: Vec<Target> = (0..snapshot.nics().len() as u32).map(Target::Nic).collect();
    targets.extend((0..snapshot.groups().len() as u32).map(Target::Group));
    targets
}

/// One generated case: a snapshot, options and flows (each with a target index, reduced modulo
/// the number of targets).
#[derive(Clone, Debug)]
pub struct Case {
    /// The snapshot, in the API's JSON shape.
    pub json: Value,
    /// The options to evaluate with.
    pub options: EvalOptions,
    /// Flows, each with the index of its target (modulo the number of targets).
    pub flows: Vec<(usize, Flow)>,
}

impl Case {
    /// The case of `seed` with `pools`, with 1..=`max_flows` flows.
    pub fn from_seed(seed: u64, pools: &Pools, max_flows: u64) -> Case {
        let mut rng = Rng::new(seed);
        let json = snapshot(&mut rng, pools);
        let options = options(&mut rng);
        let flows = (0..rng.range(1, max_flows))
            .map(|_| (rng.next_u64() as usize, flow(&mut rng, pools)))
            .collect();
        Case {
            json,
            options,
            flows,
        }
    }

    /// The snapshot (generated snapshots always load).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::from_json_value(self.json.clone()).unwrap_or_else(|err| {
            panic!(
                "the generator made an invalid snapshot: {err}\n{:#}",
                self.json
            )
        })
    }
}

/// An account dump from the `load_dump` fuzz target's input: up to eight documents separated by
/// NUL bytes, each named after a port range list (`DescribePortRangeListEntries.prl-N.json`) so
/// that every shape can be reached.
pub fn nul_split_documents(text: &str) -> Vec<Document> {
    text.split('\0')
        .take(8)
        .enumerate()
        .map(|(i, part)| Document {
            name: format!("DescribePortRangeListEntries.prl-{i}.json"),
            text: part.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that shows a feature in the generated JSON.
    const FEATURES: [&str; 17] = [
        "\"enterprise\"",
        "\"VpcId\":\"\"",
        "\"internet\"",
        "SourceGroupId\":\"sg",
        "DestGroupId\":\"sg",
        "SourcePrefixListId\":\"pl",
        "DestPrefixListId\":\"pl",
        "PortRangeListId\":\"prl",
        "SourcePortRange\":\"1",
        "Ipv6SourceCidrIp\":\"fd00",
        "\"Ipv6Address\"",
        "\"AddressFamily\":\"IPv6\"",
        "\"Priority\":\"",
        "\"Policy\":\"drop\"",
        "\"InnerAccessPolicy\":\"Drop\"",
        "\"Description\":\"\"",
        "\"DestCidrIp\":\"0.0.0.0/0\"",
    ];

    /// The features the module comment promises do occur, with both pools and both sources.
    #[test]
    fn generated_snapshots_load_and_cover_every_feature() {
        for pools in [Pools::WIDE, Pools::TINY] {
            let mut seen = std::collections::BTreeSet::new();
            let mut missing: Vec<&str> = Vec::new();
            let mut rng = Rng::new(1);
            for _ in 0..300 {
                let json = snapshot(&mut rng, &pools);
                let text = json.to_string();
                Snapshot::from_json_value(json.clone()).unwrap_or_else(|e| panic!("{e}\n{json:#}"));
                for feature in FEATURES {
                    seen.extend(text.contains(feature).then_some(feature));
                }
                for &protocol in pools.protocols {
                    let field = format!("\"IpProtocol\":\"{protocol}\"");
                    seen.extend(text.contains(&field).then_some(protocol));
                }
            }
            missing.extend(
                FEATURES
                    .iter()
                    .chain(pools.protocols)
                    .filter(|f| !seen.contains(*f))
                    .copied(),
            );
            assert!(missing.is_empty(), "never generated: {missing:?}");
        }
    }

    #[test]
    fn fuzz_bytes_end_in_zeros() {
        let mut bytes = FuzzBytes::new(&[0xff, 0xff, 0x02]);
        assert_eq!(bytes.below(10), 5); // 255 % 10
        assert_eq!(bytes.below(1000), 282); // 0xff02 % 1000: two bytes for 1000 values
        assert!(bytes.is_empty());
        assert_eq!(bytes.below(7), 0);
        // The smallest snapshot still loads.
        Snapshot::from_json_value(snapshot(&mut bytes, &Pools::WIDE)).unwrap();
    }

    /// What the differential fuzz target decodes from arbitrary bytes always loads.
    #[test]
    fn snapshots_from_random_bytes_load() {
        let mut rng = Rng::new(2);
        for _ in 0..300 {
            let data: Vec<u8> = (0..rng.below(600)).map(|_| rng.next_u64() as u8).collect();
            let mut bytes = FuzzBytes::new(&data);
            for pools in [Pools::WIDE, Pools::TINY] {
                let json = snapshot(&mut bytes, &pools);
                Snapshot::from_json_value(json.clone()).unwrap_or_else(|e| panic!("{e}\n{json:#}"));
            }
        }
    }
}
