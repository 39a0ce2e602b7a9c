//! Validated plain types. Everything here was checked by [`crate::input::ecs`] on the way in, so
//! nothing past this point can fail on bad data.
//!
//! Spec clauses are cited as S1..S20 (`docs/semantics.md`).

mod flow;
pub(crate) mod rule_check;
pub mod semantics;
mod snapshot;

pub(crate) use flow::{dotted_quad, parse_ip, parse_ip_bytes, parse_plain_ipv4};
pub use flow::{Flow, FlowError};
pub use snapshot::{
    ClientTokenRecord, Extra, GroupIndex, GroupKind, InnerAccessPolicy, Nic, NicIndex,
    PortRangeList, PrefixList, SecurityGroup, Snapshot, SnapshotParts, Target, TargetError,
};

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// One query of a batch: which NIC (or bare group) and which flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    /// The NIC (or bare group) whose groups decide.
    pub target: Target,
    /// The five-tuple and its direction.
    pub flow: Flow,
}

/// IANA protocol numbers with names in the API (S1).
pub mod proto {
    /// ICMP (IPv4 only, S5).
    pub const ICMP: u8 = 1;
    /// TCP: has ports.
    pub const TCP: u8 = 6;
    /// UDP: has ports.
    pub const UDP: u8 = 17;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ICMPv6 (IPv6 only, S5).
    pub const ICMPV6: u8 = 58;
}

/// Traffic direction, seen from the network interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Into the NIC: the remote address is the source.
    Ingress,
    /// Out of the NIC: the remote address is the destination.
    Egress,
}

impl Direction {
    /// Both directions, ingress first.
    pub const ALL: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// Parses `ingress` / `egress`, any letter case.
    pub fn parse(text: &str) -> Option<Direction> {
        if text.eq_ignore_ascii_case("ingress") {
            Some(Direction::Ingress)
        } else if text.eq_ignore_ascii_case("egress") {
            Some(Direction::Egress)
        } else {
            None
        }
    }

    /// `ingress` or `egress`, as the API and the CSV columns spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule (or a verdict) does with a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Drop sorts first: at equal priority drop wins (S10).
    Drop,
    /// Let the flow through.
    Accept,
}

impl Action {
    /// Parses `accept` / `drop`, any letter case; empty means accept (the API default).
    pub fn parse(text: &str) -> Option<Action> {
        if text.is_empty() || text.eq_ignore_ascii_case("accept") {
            Some(Action::Accept)
        } else if text.eq_ignore_ascii_case("drop") {
            Some(Action::Drop)
        } else {
            None
        }
    }

    /// `accept` or `drop`, as the CSV columns spell it (the API writes `Accept`, `Drop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Drop => "drop",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's protocol (S1): one IANA number, or every protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `all` (`-1` in some API versions): every protocol, ports ignored.
    All,
    /// One IANA protocol number (see [`proto`]).
    Number(u8),
}

impl Protocol {
    /// Parses a protocol name (`tcp`, `udp`, `icmp`, `icmpv6`, `gre`, `all`; any case) or a decimal
    /// IANA number 0..=255.
    pub fn parse(text: &str) -> Option<Protocol> {
        if text.eq_ignore_ascii_case("all") {
            return Some(Protocol::All);
        }
        parse_protocol_number(text).map(Protocol::Number)
    }

    /// Does this rule protocol cover a flow's protocol number?
    pub fn covers(self, flow_protocol: u8) -> bool {
        match self {
            Protocol::All => true,
            Protocol::Number(n) => n == flow_protocol,
        }
    }

    /// TCP and UDP are the only protocols with ports (S2).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Number(proto::TCP | proto::UDP))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::All => f.write_str("all"),
            Protocol::Number(n) => f.write_str(protocol_name(*n).unwrap_or(&n.to_string())),
        }
    }
}

/// Parses a flow's protocol: a name (not `all`) or a number 0..=255.
pub fn parse_protocol_number(text: &str) -> Option<u8> {
    const NAMES: [(&str, u8); 5] = [
        ("tcp", proto::TCP),
        ("udp", proto::UDP),
        ("icmp", proto::ICMP),
        ("icmpv6", proto::ICMPV6),
        ("gre", proto::GRE),
    ];
    if let Some(&(_, n)) = NAMES
        .iter()
        .find(|(name, _)| text.eq_ignore_ascii_case(name))
    {
        return Some(n);
    }
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u8>().ok()
}

/// The API name of a protocol number, if it has one.
pub fn protocol_name(n: u8) -> Option<&'static str> {
    Some(match n {
        proto::TCP => "tcp",
        proto::UDP => "udp",
        proto::ICMP => "icmp",
        proto::ICMPV6 => "icmpv6",
        proto::GRE => "gre",
        _ => return None,
    })
}

/// A protocol number's name for reports (`tcp`), or the number as text when it has none (`50`).
pub fn protocol_label(n: u8) -> String {
    protocol_name(n).map_or_else(|| n.to_string(), str::to_string)
}

/// An inclusive TCP/UDP port range `lo/hi` with 1 <= lo <= hi (S2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// First port, inclusive.
    pub lo: u16,
    /// Last port, inclusive.
    pub hi: u16,
}

impl PortRange {
    /// Every usable port, `1/65535`.
    pub const FULL: PortRange = PortRange { lo: 1, hi: 65535 };

    /// A flow port of 0 is in no range, because ranges start at 1 (S3).
    pub fn contains(self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.lo, self.hi)
    }
}

/// Which destination ports a rule matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DestPorts {
    /// Portless protocols and `all` (`-1/-1`): ports are ignored (S3).
    Any,
    /// One range (`PortRange` `22/22`).
    Range(PortRange),
    /// A port range list `prl-…`, resolved at evaluation time (S7).
    List(String),
}

/// The remote side of a rule: where ingress comes from, where egress goes to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RemoteObject {
    /// `SourceCidrIp` / `DestCidrIp` (or their IPv6 fields): addresses of one family (S5).
    Cidr(IpNet),
    /// `SourceGroupId` / `DestGroupId`: the private addresses of the NICs carrying it (S6).
    Group(String),
    /// `SourcePrefixListId` / `DestPrefixListId` (S7).
    PrefixList(String),
}

impl fmt::Display for RemoteObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteObject::Cidr(net) => write!(f, "{net}"),
            RemoteObject::Group(id) | RemoteObject::PrefixList(id) => f.write_str(id),
        }
    }
}

/// Classic-network side of a rule (S9). VPC rules are always `intranet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum NicType {
    /// The private side, and every VPC rule.
    #[default]
    Intranet,
    /// The public side of a classic-network instance.
    Internet,
}

impl NicType {
    /// Parses `intranet` / `internet`, any letter case; empty means intranet (the API default).
    pub fn parse(text: &str) -> Option<NicType> {
        if text.is_empty() || text.eq_ignore_ascii_case("intranet") {
            Some(NicType::Intranet)
        } else if text.eq_ignore_ascii_case("internet") {
            Some(NicType::Internet)
        } else {
            None
        }
    }

    /// `intranet` or `internet`, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            NicType::Intranet => "intranet",
            NicType::Internet => "internet",
        }
    }
}

/// Rule priority, 1 (first) ..= 100; snapshots may carry the legacy 110.
pub type Priority = u8;

/// One security-group rule, validated. Built with [`Rule::new`] and its `with_…` methods (the
/// one constructor path: outside the crate the struct cannot be written literally).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Rule {
    /// `sgr-…`, or `sgr-auto-<group>-<position>` for older responses without ids.
    pub id: String,
    /// Which traffic the rule is about.
    pub direction: Direction,
    /// `Policy`: what it does with a matching flow.
    pub action: Action,
    /// `Priority`: lower decides first (S10).
    pub priority: Priority,
    /// `IpProtocol`.
    pub protocol: Protocol,
    /// `PortRange` or `PortRangeListId`: the destination ports it matches.
    pub dest_ports: DestPorts,
    /// `None` means any source port.
    pub source_ports: Option<PortRange>,
    /// Where ingress comes from or egress goes to.
    pub remote: RemoteObject,
    /// The NIC-side CIDR of a quintuple rule (`DestCidrIp` for ingress, `SourceCidrIp` for egress).
    pub local: Option<IpNet>,
    /// `NicType`: which side of a classic-network NIC the rule is for (S9).
    pub nic_type: NicType,
    /// `Description`, as given.
    pub description: String,
    /// `CreateTime` as the API gives it (`2026-03-02T08:14:55Z`, UTC); empty when unknown.
    pub create_time: String,
}

impl Rule {
    /// A rule with priority 1, any ports, no local CIDR, `intranet`, and an empty id,
    /// description and create time; the `with_…` methods set those.
    pub fn new(
        direction: Direction,
        action: Action,
        protocol: Protocol,
        remote: RemoteObject,
    ) -> Rule {
        Rule {
            id: String::new(),
            direction,
            action,
            priority: 1,
            protocol,
            dest_ports: DestPorts::Any,
            source_ports: None,
            remote,
            local: None,
            nic_type: NicType::Intranet,
            description: String::new(),
            create_time: String::new(),
        }
    }

    /// Sets the rule id.
    pub fn with_id(mut self, id: impl Into<String>) -> Rule {
        self.id = id.into();
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: Priority) -> Rule {
        self.priority = priority;
        self
    }

    /// Sets the destination and source ports.
    pub fn with_ports(mut self, dest: DestPorts, source: Option<PortRange>) -> Rule {
        self.dest_ports = dest;
        self.source_ports = source;
        self
    }

    /// Sets the NIC-side CIDR.
    pub fn with_local(mut self, local: Option<IpNet>) -> Rule {
        self.local = local;
        self
    }

    /// Sets the NIC type.
    pub fn with_nic_type(mut self, nic_type: NicType) -> Rule {
        self.nic_type = nic_type;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Rule {
        self.description = description.into();
        self
    }

    /// Sets the create time.
    pub fn with_create_time(mut self, create_time: impl Into<String>) -> Rule {
        self.create_time = create_time.into();
        self
    }

    /// The address family this rule is limited to (S5), or `None` when it matches either family.
    pub fn family(&self) -> Option<Family> {
        let from_remote = match &self.remote {
            RemoteObject::Cidr(net) => Some(Family::of_net(net)),
            _ => None,
        };
        from_remote
            .or(self.local.as_ref().map(Family::of_net))
            .or(match self.protocol {
                Protocol::Number(proto::ICMP) => Some(Family::V4),
                Protocol::Number(proto::ICMPV6) => Some(Family::V6),
                _ => None,
            })
    }

    /// A short human summary: `drop tcp 22/22 from 0.0.0.0/0`.
    pub fn summary(&self) -> String {
        let mut out = format!("{} {}", self.action, self.protocol);
        match &self.dest_ports {
            DestPorts::Any => {}
            DestPorts::Range(range) => out.push_str(&format!(" {range}")),
            DestPorts::List(id) => out.push_str(&format!(" ports {id}")),
        }
        if let Some(range) = self.source_ports {
            out.push_str(&format!(" sport {range}"));
        }
        let (remote_word, local_word) = match self.direction {
            Direction::Ingress => ("from", "to"),
            Direction::Egress => ("to", "from"),
        };
        out.push_str(&format!(" {remote_word} {}", self.remote));
        if let Some(local) = &self.local {
            out.push_str(&format!(" {local_word} {local}"));
        }
        if self.nic_type == NicType::Internet {
            out.push_str(" (internet)");
        }
        out
    }
}

/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of_addr(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family of a network.
    pub fn of_net(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What decided a verdict (or, in the analyses, decides a part of the header space): the
/// steps of S14, declared and ordered in S14's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The platform's TCP 25 block (S13).
    Platform,
    /// Inner access between NICs sharing a basic group (S11).
    InnerAccess,
    /// A custom rule decided (S10): this one.
    Rule(RuleRef),
    /// No rule matched (S12).
    Default,
}

impl Reason {
    /// `sg-web/sgr-ssh` for a rule, else the step's name ([`Reason::as_str`]).
    pub fn name(self, snapshot: &Snapshot) -> String {
        match self {
            Reason::Rule(rule) => {
                let group = snapshot.group(rule.group);
                format!("{}/{}", group.id, group.rules[rule.rule as usize].id)
            }
            other => other.as_str().to_string(),
        }
    }

    /// The reason as the CSV and JSON outputs spell it: `rule`, `inner_access`, `default`,
    /// `platform`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Rule(_) => "rule",
            Reason::InnerAccess => "inner_access",
            Reason::Default => "default",
            Reason::Platform => "platform",
        }
    }
}

/// S10's order of candidate rules: priority ascending, drop before accept, then the NIC's group
/// order, then the rule's position in its group. The first matching rule in this order decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Precedence {
    /// The rule's priority: lower first.
    pub priority: Priority,
    /// Drop sorts before accept.
    pub action: Action,
    /// Position of the rule's group in the NIC's group list.
    pub group_position: usize,
    /// Position of the rule in its group.
    pub rule_position: usize,
}

impl Precedence {
    /// The precedence of `rule`, the `rule_position`-th rule of the NIC's
    /// `group_position`-th group.
    pub fn of(rule: &Rule, group_position: usize, rule_position: usize) -> Precedence {
        Precedence {
            priority: rule.priority,
            action: rule.action,
            group_position,
            rule_position,
        }
    }
}

/// Names the rule that decided: its group's and its own index in the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    /// The group's index in [`Snapshot::groups`].
    pub group: GroupIndex,
    /// The rule's position in that group's `rules`.
    pub rule: u32,
}

/// The answer for one flow on one NIC (or bare group) and one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// Whether the flow gets through.
    pub action: Action,
    /// Which step of S14 decided, with the deciding rule when a rule decided.
    pub reason: Reason,
}

impl Verdict {
    /// The rule that decided, when one did ([`Reason::Rule`]).
    pub fn deciding_rule(&self) -> Option<RuleRef> {
        match self.reason {
            Reason::Rule(rule) => Some(rule),
            _ => None,
        }
    }

    /// Whether the action is accept.
    pub fn is_accept(&self) -> bool {
        self.action == Action::Accept
    }
}

/// Evaluation switches that are not part of the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalOptions {
    /// Apply the platform's TCP 25 egress block (S13). On by default.
    pub platform_rules: bool,
    /// Classic network only: which side the flow is on (S9). VPC groups ignore it.
    pub nic_type: NicType,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            platform_rules: true,
            nic_type: NicType::Intranet,
        }
    }
}
