//! Synthetic but realistic rule sets and flows, from a fixed seed.
//!
//! The snapshot has one NIC under test (`eni-synth-main`, with an IPv4 and an IPv6 address)
//! carrying four basic groups that share the rules (40 %, 30 %, 20 %, 10 %), plus peer NICs:
//! one shares the first group (whose `InnerAccessPolicy` is Accept, so its traffic gets inner
//! access), the others carry `sg-synth-db`, which rules name as `SourceGroupId`/`DestGroupId`.
//!
//! Rules: 80 % ingress; about 20 % drop; priorities 1..100; TCP, UDP, ICMP, ALL and a few GRE;
//! remote CIDRs from /8 to /32 (IPv4, ~10 % IPv6 from /32 to /128) plus `0.0.0.0/0` and `::/0`,
//! drawn around a fixed set of sites so rules overlap; single ports, ranges and the full range;
//! a few rules use the prefix list `pl-synth`, the port list `prl-synth`, a source port range or
//! a local CIDR.
//!
//! Flows: about 70 % are drawn inside a random rule (so they match it, though a better rule
//! may decide), 4 % come from a peer sharing a group (inner access), 2 % are egress TCP 25 to
//! public addresses (the platform block), the rest random. All target the main NIC.
//!
//! ```
//! let set = sgsim::bench::synth::generate(1000, 5000, 1);
//! assert_eq!(sgsim::bench::rule_count(&set.snapshot), 1000);
//! assert_eq!(set.queries.len(), 5000);
//! ```

use crate::model::Family;
use crate::model::{
    proto, Action, DestPorts, Direction, Flow, GroupKind, InnerAccessPolicy, Nic, PortRange,
    PortRangeList, PrefixList, Protocol, RemoteObject, Rule, SecurityGroup, Snapshot, Target,
};
use crate::rng::Rng;
use crate::Query;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A generated snapshot and its flows.
#[derive(Clone, Debug)]
pub struct SynthSet {
    /// One NIC's groups (and the groups and lists they reference).
    pub snapshot: Snapshot,
    /// Flows on the main NIC.
    pub queries: Vec<Query>,
}

/// The NIC every generated flow is on.
pub const MAIN_NIC: &str = "eni-synth-main";
/// The VPC of every generated group and NIC.
pub const VPC: &str = "vpc-synth";
/// The main NIC's IPv4 address.
pub const MAIN_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
/// The main NIC's IPv6 address.
pub const MAIN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5);
/// The prefix list some rules reference.
pub const PREFIX_LIST: &str = "pl-synth";
/// The port range list some rules reference.
pub const PORT_LIST: &str = "prl-synth";
/// The group some rules reference (its members: other NICs).
pub const REFERENCED_GROUP: &str = "sg-synth-db";
/// The peer sharing the first group (inner access).
pub const INNER_PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 10);
const DB_PEERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(10, 0, 2, 11),
    Ipv4Addr::new(10, 0, 2, 12),
    Ipv4Addr::new(10, 0, 2, 13),
];
/// Share of the rules per group on the main NIC.
const GROUP_SHARES: [f64; 4] = [0.4, 0.3, 0.2, 0.1];
const WELL_KNOWN_PORTS: [u16; 16] = [
    22, 25, 53, 80, 123, 443, 1433, 3306, 3389, 5432, 6379, 8080, 8443, 9000, 9200, 27017,
];

/// The sites remote CIDRs are drawn around, so rules overlap as real ones do.
struct Sites {
    v4: Vec<u32>,
    v6: Vec<u128>,
}

impl Sites {
    fn new(rng: &mut Rng) -> Sites {
        Sites {
            v4: (0..64).map(|_| rng.next_u64() as u32).collect(),
            v6: (0..16)
                .map(|_| (0x2400u128 << 112) | ((rng.next_u64() as u128) << 64))
                .collect(),
        }
    }

    fn v4_near(&self, rng: &mut Rng) -> u32 {
        // Keep the site's top 8..24 bits, randomise the rest.
        let site = *rng.pick(&self.v4);
        let keep = rng.range(8, 24) as u32;
        let mask = u32::MAX << (32 - keep);
        (site & mask) | (rng.next_u64() as u32 & !mask)
    }

    fn v6_near(&self, rng: &mut Rng) -> u128 {
        let site = *rng.pick(&self.v6);
        let keep = rng.range(32, 64) as u32;
        let mask = u128::MAX << (128 - keep);
        let random = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
        (site & mask) | (random & !mask)
    }
}

fn v4_len(rng: &mut Rng) -> u8 {
    // /8../32 with the usual peaks at /16, /24 and /32.
    match rng.below(10) {
        0..=2 => 32,
        3..=4 => 24,
        5 => 16,
        _ => rng.range(8, 32) as u8,
    }
}

fn v6_len(rng: &mut Rng) -> u8 {
    match rng.below(4) {
        0 => 128,
        1 => 64,
        2 => 48,
        _ => rng.range(32, 128) as u8,
    }
}

fn port_range(rng: &mut Rng) -> PortRange {
    match rng.below(20) {
        0..=11 => {
            let port = if rng.chance(0.6) {
                *rng.pick(&WELL_KNOWN_PORTS)
            } else {
                rng.range(1, 65535) as u16
            };
            PortRange { lo: port, hi: port }
        }
        12..=18 => {
            let lo = rng.range(1, 65000) as u16;
            let widest = if rng.chance(0.8) { 100 } else { 5000 };
            let width = rng.range(1, widest) as u16;
            PortRange {
                lo,
                hi: lo.saturating_add(width),
            }
        }
        _ => PortRange::FULL,
    }
}

fn port_lists() -> Vec<PortRangeList> {
    vec![PortRangeList {
        id: PORT_LIST.to_string(),
        max_entries: 10,
        name: String::new(),
        entry_descriptions: Vec::new(),
        extra: Default::default(),
        ranges: vec![
            PortRange { lo: 80, hi: 80 },
            PortRange { lo: 443, hi: 443 },
            PortRange { lo: 8000, hi: 8099 },
        ],
    }]
}

fn prefix_lists() -> Vec<PrefixList> {
    let cidrs = [
        "198.51.100.0/24",
        "203.0.113.0/25",
        "192.0.2.128/26",
        "100.64.0.0/16",
        "172.16.8.0/22",
        "8.8.8.8/32",
    ];
    vec![PrefixList {
        id: PREFIX_LIST.to_string(),
        family: Family::V4,
        max_entries: 20,
        name: String::new(),
        entry_descriptions: Vec::new(),
        extra: Default::default(),
        cidrs: cidrs
            .iter()
            .map(|c| c.parse().expect("valid CIDR"))
            .collect(),
    }]
}

fn random_rule(rng: &mut Rng, sites: &Sites, id: String) -> Rule {
    let direction = rng.either(0.8, Direction::Ingress, Direction::Egress);
    let action = rng.either(0.2, Action::Drop, Action::Accept);
    let priority = match rng.below(4) {
        0 => *rng.pick(&[1u8, 1, 10, 50, 100]),
        _ => rng.range(1, 100) as u8,
    };
    let v6 = rng.chance(0.1);
    let protocol = match rng.below(100) {
        0..=54 => Protocol::Number(proto::TCP),
        55..=74 => Protocol::Number(proto::UDP),
        75..=84 => Protocol::Number(if v6 { proto::ICMPV6 } else { proto::ICMP }),
        85..=96 => Protocol::All,
        _ => Protocol::Number(proto::GRE),
    };
    let remote = match rng.below(100) {
        0..=1 if !v6 => RemoteObject::PrefixList(PREFIX_LIST.to_string()),
        2..=3 if !v6 => RemoteObject::Group(REFERENCED_GROUP.to_string()),
        4..=9 => RemoteObject::Cidr(if v6 {
            IpNet::V6(Ipv6Net::new(Ipv6Addr::UNSPECIFIED, 0).expect("valid"))
        } else {
            IpNet::V4(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid"))
        }),
        _ if v6 => RemoteObject::Cidr(IpNet::V6(
            Ipv6Net::new(Ipv6Addr::from(sites.v6_near(rng)), v6_len(rng))
                .expect("valid")
                .trunc(),
        )),
        _ => RemoteObject::Cidr(IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(sites.v4_near(rng)), v4_len(rng))
                .expect("valid")
                .trunc(),
        )),
    };
    // Rules open to the whole internet name a service (TCP/UDP ports) or ping, not everything:
    // one "ALL from 0.0.0.0/0" would decide every flow of its direction.
    let anywhere = matches!(&remote, RemoteObject::Cidr(net) if net.prefix_len() == 0);
    let protocol = match protocol {
        Protocol::All | Protocol::Number(proto::GRE) if anywhere => Protocol::Number(proto::TCP),
        other => other,
    };
    let (dest_ports, source_ports) = if protocol.has_ports() {
        let dest = if rng.chance(0.03) {
            DestPorts::List(PORT_LIST.to_string())
        } else {
            let mut range = port_range(rng);
            while anywhere && range == PortRange::FULL {
                range = port_range(rng);
            }
            DestPorts::Range(range)
        };
        let source = rng.chance(0.05).then_some(PortRange {
            lo: 1024,
            hi: 65535,
        });
        (dest, source)
    } else {
        (DestPorts::Any, None)
    };
    // A few quintuple rules name the NIC side: its own address, its subnet, or a subnet it is
    // not in (such a rule never matches this NIC).
    let local = if rng.chance(0.08) {
        Some(match (v6, rng.below(3)) {
            (false, 0) => IpNet::V4(Ipv4Net::new(MAIN_V4, 32).expect("valid")),
            (false, 1) => IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 24).expect("valid")),
            (false, _) => IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, 9, 0), 24).expect("valid")),
            (true, 0) => IpNet::V6(Ipv6Net::new(MAIN_V6, 128).expect("valid")),
            (true, _) => IpNet::V6(Ipv6Net::new(MAIN_V6, 64).expect("valid").trunc()),
        })
    } else {
        None
    };
    // Only a CIDR remote fixes the family; a group or list rule with a local CIDR must agree
    // with the list (IPv4 here), which `v6 == false` guarantees for those.
    Rule::new(direction, action, protocol, remote)
        .with_id(id)
        .with_priority(priority)
        .with_ports(dest_ports, source_ports)
        .with_local(local)
}

/// Generates `rules` rules and `flows` flows from `seed`. The same arguments always give the
/// same set.
pub fn generate(rules: usize, flows: usize, seed: u64) -> SynthSet {
    let mut rng = Rng::new(seed);
    let sites = Sites::new(&mut rng);

    // Split the rules over the four groups of the main NIC, by GROUP_SHARES.
    let mut sizes: Vec<usize> = GROUP_SHARES
        .iter()
        .map(|share| (rules as f64 * share).floor() as usize)
        .collect();
    let assigned: usize = sizes.iter().sum();
    sizes[0] += rules - assigned;

    let mut groups = Vec::new();
    let mut next_rule = 0usize;
    for (g, &size) in sizes.iter().enumerate() {
        let rules = (0..size)
            .map(|_| {
                next_rule += 1;
                random_rule(&mut rng, &sites, format!("sgr-synth-{next_rule}"))
            })
            .collect();
        groups.push(SecurityGroup {
            id: format!("sg-synth-{g}"),
            name: String::new(),
            kind: GroupKind::Normal,
            vpc_id: VPC.to_string(),
            inner_access: if g == 0 {
                InnerAccessPolicy::Accept
            } else {
                InnerAccessPolicy::Drop
            },
            rules,
            description: String::new(),
            region_id: String::new(),
            extra: Default::default(),
        });
    }
    groups.push(SecurityGroup {
        id: REFERENCED_GROUP.to_string(),
        name: String::new(),
        kind: GroupKind::Normal,
        vpc_id: VPC.to_string(),
        inner_access: InnerAccessPolicy::Drop,
        rules: Vec::new(),
        description: String::new(),
        region_id: String::new(),
        extra: Default::default(),
    });
    let db_group = (groups.len() - 1) as u32;

    let nic = |id: &str, addresses: Vec<IpAddr>, groups: Vec<u32>| Nic {
        id: id.to_string(),
        instance_id: id.replace("eni-", "i-"),
        vpc_id: VPC.to_string(),
        addresses,
        groups,
        extra: Default::default(),
    };
    let mut nics = vec![
        nic(
            MAIN_NIC,
            vec![IpAddr::V4(MAIN_V4), IpAddr::V6(MAIN_V6)],
            vec![0, 1, 2, 3],
        ),
        nic("eni-synth-peer", vec![IpAddr::V4(INNER_PEER)], vec![0]),
    ];
    for (k, addr) in DB_PEERS.iter().enumerate() {
        nics.push(nic(
            &format!("eni-synth-db-{k}"),
            vec![IpAddr::V4(*addr)],
            vec![db_group],
        ));
    }
    let snapshot = Snapshot::new(groups, nics, prefix_lists(), port_lists());

    let all_rules: Vec<&Rule> = snapshot.groups()[..4]
        .iter()
        .flat_map(|g| g.rules.iter())
        .collect();
    let queries = (0..flows)
        .map(|_| Query {
            target: Target::Nic(0),
            flow: random_flow(&mut rng, &sites, &snapshot, &all_rules),
        })
        .collect();
    SynthSet { snapshot, queries }
}

fn random_flow(rng: &mut Rng, sites: &Sites, snapshot: &Snapshot, rules: &[&Rule]) -> Flow {
    let roll = rng.below(100);
    if roll < 70 && !rules.is_empty() {
        let rule = rules[rng.below(rules.len() as u64) as usize];
        return flow_inside(rng, snapshot, rule);
    }
    if roll < 74 {
        // From the peer sharing the first group: inner access.
        let (peer, main) = (IpAddr::V4(INNER_PEER), IpAddr::V4(MAIN_V4));
        let src_port = rng.range(1024, 65535) as u16;
        let dst_port = *rng.pick(&WELL_KNOWN_PORTS);
        return Flow::between(
            Direction::Ingress,
            proto::TCP,
            peer,
            main,
            src_port,
            dst_port,
        );
    }
    if roll < 76 {
        // Mail to the internet: the platform block.
        // Drawn in this order so that a seed gives the same flows as it always has.
        let src_port = rng.range(1024, 65535) as u16;
        let public = IpAddr::V4(Ipv4Addr::new(203, 0, 113, rng.range(1, 254) as u8));
        let main = IpAddr::V4(MAIN_V4);
        return Flow::between(Direction::Egress, proto::TCP, public, main, src_port, 25);
    }
    // Random traffic, mostly near the sites.
    let v6 = rng.chance(0.1);
    let remote = if v6 {
        IpAddr::V6(Ipv6Addr::from(sites.v6_near(rng)))
    } else if rng.chance(0.5) {
        IpAddr::V4(Ipv4Addr::from(sites.v4_near(rng)))
    } else {
        IpAddr::V4(Ipv4Addr::from(rng.next_u64() as u32))
    };
    let protocol = *rng.pick(&[proto::TCP, proto::TCP, proto::UDP, proto::ICMP, proto::GRE]);
    let protocol = if v6 && protocol == proto::ICMP {
        proto::ICMPV6
    } else {
        protocol
    };
    let direction = rng.either(0.8, Direction::Ingress, Direction::Egress);
    build_flow(rng, direction, protocol, remote, None)
}

/// A flow that the rule matches (unless its local CIDR excludes the NIC or its group has no
/// members, in which case it is merely close).
fn flow_inside(rng: &mut Rng, snapshot: &Snapshot, rule: &Rule) -> Flow {
    let remote = match &rule.remote {
        RemoteObject::Cidr(net) => random_in(rng, net),
        RemoteObject::PrefixList(id) => {
            let list = snapshot.prefix_list(id).expect("generated list exists");
            let net = *rng.pick(&list.cidrs);
            random_in(rng, &net)
        }
        RemoteObject::Group(id) => *rng.pick(snapshot.group_member_addresses(id)),
    };
    let v6 = remote.is_ipv6();
    let protocol = match rule.protocol {
        Protocol::Number(n) => n,
        Protocol::All => *rng.pick(&if v6 {
            [proto::TCP, proto::UDP, proto::ICMPV6, 4]
        } else {
            [proto::TCP, proto::UDP, proto::ICMP, 4]
        }),
    };
    let dst_port = match &rule.dest_ports {
        DestPorts::Range(range) => Some(rng.range(range.lo.into(), range.hi.into()) as u16),
        DestPorts::List(id) => {
            let list = snapshot.port_list(id).expect("generated list exists");
            let range = rng.pick(&list.ranges);
            Some(rng.range(range.lo.into(), range.hi.into()) as u16)
        }
        DestPorts::Any => None,
    };
    let mut flow = build_flow(rng, rule.direction, protocol, remote, dst_port);
    if let Some(range) = rule.source_ports {
        flow.src_port = rng.range(range.lo.into(), range.hi.into()) as u16;
    }
    flow
}

fn build_flow(
    rng: &mut Rng,
    direction: Direction,
    protocol: u8,
    remote: IpAddr,
    dst_port: Option<u16>,
) -> Flow {
    let local = if remote.is_ipv6() {
        IpAddr::V6(MAIN_V6)
    } else {
        IpAddr::V4(MAIN_V4)
    };
    let (src_port, dst_port) = client_and_service_ports(rng, protocol, |rng| {
        dst_port.unwrap_or_else(|| {
            if rng.chance(0.5) {
                *rng.pick(&WELL_KNOWN_PORTS)
            } else {
                rng.range(1, 65535) as u16
            }
        })
    });
    Flow::between(direction, protocol, remote, local, src_port, dst_port)
}

/// An ephemeral client port and a service port from `service` for TCP and UDP; zeros for
/// protocols without ports.
pub fn client_and_service_ports(
    rng: &mut Rng,
    protocol: u8,
    service: impl FnOnce(&mut Rng) -> u16,
) -> (u16, u16) {
    if matches!(protocol, proto::TCP | proto::UDP) {
        let service = service(rng);
        (rng.range(1024, 65535) as u16, service)
    } else {
        (0, 0)
    }
}

/// A uniform address inside `net`.
fn random_in(rng: &mut Rng, net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(net) => {
            let host_bits = 32 - u32::from(net.prefix_len());
            let host = if host_bits == 0 {
                0
            } else {
                (rng.next_u64() as u32) & (u32::MAX >> (32 - host_bits))
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(net.network()) | host))
        }
        IpNet::V6(net) => {
            let host_bits = 128 - u32::from(net.prefix_len());
            let random = ((rng.next_u64() as u128) << 64) | rng.next_u64() as u128;
            let host = if host_bits == 0 {
                0
            } else {
                random & (u128::MAX >> (128 - host_bits))
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(net.network()) | host))
        }
    }
}
