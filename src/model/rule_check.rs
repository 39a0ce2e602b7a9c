//! The rule checks snapshot loading (`input::ecs`) and the API simulator (`control`) share: a
//! rule's field texts → model values, with a small typed error for the first thing wrong.
//!
//! Each caller keeps its own order of checks and its own vocabulary: the loader turns a
//! [`RuleCheckError`] into a load error naming the JSON path and the value, the simulator into
//! the API's error code. [`Strictness`] says which of the two is asking where they differ: a
//! request must obey what a stored snapshot need not (priority 110 is legacy, `+22/22` is
//! malformed, a port list beside `-1/-1` on ICMP is refused).

use super::{proto, DestPorts, Family, PortRange, Priority, Protocol, RemoteObject};
use ipnet::IpNet;
use std::net::IpAddr;

/// The legacy priority old snapshots may carry; requests may not set it.
pub const LEGACY_PRIORITY: Priority = 110;

/// Who is asking: the rules differ between what a snapshot may hold and what a call may set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// A stored rule (a snapshot, an account dump): lenient where the API's own output is.
    Snapshot,
    /// An API request: as strict as the API.
    Request,
}

/// The first thing wrong with a rule's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleCheckError {
    /// `Priority` is not an integer.
    PriorityNotInteger,
    /// `Priority` is an integer outside 1..=100 (and, for a snapshot, not the legacy 110);
    /// saturated when it does not fit an `i64`.
    PriorityOutOfRange(i64),
    /// A CIDR field holds neither an address nor a CIDR block.
    CidrMalformed,
    /// A CIDR field holds an address of the other family (e.g. IPv6 in `SourceCidrIp`).
    CidrWrongFamily(Family),
    /// One side (source or destination) has both an IPv4 and an IPv6 CIDR.
    BothFamilies,
    /// The remote and local CIDRs are of different families.
    FamilyConflict,
    /// No remote object: no CIDR, group or prefix list on the remote side.
    NoRemote,
    /// ICMP with an IPv6 CIDR or ICMPv6 with an IPv4 one (S5).
    ProtocolFamily {
        /// The protocol's family.
        wanted: Family,
        /// The CIDR of the other family.
        net: IpNet,
    },
    /// A port range that is malformed, out of 1..65535 or reversed; says why.
    PortRange(String),
    /// TCP/UDP with neither a port range nor a port list.
    PortsMissing,
    /// A port range on a protocol without ports.
    NoPorts,
    /// A port list on a protocol without ports.
    ListOnPortless,
}

/// Parses a CIDR or bare address (S8): host bits are cleared, a bare address is a /32 or /128.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses `a/b` with 1 <= a <= b <= 65535 (S2).
pub fn parse_port_range(text: &str) -> Result<PortRange, String> {
    const EXPECTED: &str = "expected a/b with 1 <= a <= b <= 65535";
    let Some((lo, hi)) = text.split_once('/') else {
        return Err(EXPECTED.to_string());
    };
    let port = |part: &str| -> Result<u16, String> {
        let value: i64 = part
            .trim()
            .parse()
            .map_err(|_| format!("{part:?} is not a number; {EXPECTED}"))?;
        if !(1..=65535).contains(&value) {
            return Err(format!("port {value} is out of 1..65535"));
        }
        Ok(value as u16)
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo > hi {
        return Err(format!("start {lo} is greater than end {hi}"));
    }
    Ok(PortRange { lo, hi })
}

/// `""` and `-1/-1`: no port range given.
pub fn is_any_ports(text: &str) -> bool {
    text.is_empty() || text == "-1/-1"
}

/// A port range as `strictness` takes it: a request's is `a/b` of plain digits.
fn port_range(text: &str, strictness: Strictness) -> Result<PortRange, RuleCheckError> {
    if strictness == Strictness::Request {
        let plain =
            |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
        if !text
            .split_once('/')
            .is_some_and(|(lo, hi)| plain(lo) && plain(hi))
        {
            return Err(RuleCheckError::PortRange(
                "expected a/b of plain digits".to_string(),
            ));
        }
    }
    parse_port_range(text).map_err(RuleCheckError::PortRange)
}

/// `Priority`: empty is 1; an integer 1..=100, or 110 in a snapshot.
pub fn parse_priority(text: &str, strictness: Strictness) -> Result<Priority, RuleCheckError> {
    if text.is_empty() {
        return Ok(1);
    }
    if strictness == Strictness::Request {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RuleCheckError::PriorityNotInteger);
        }
    }
    let n = match text.parse::<i64>() {
        Ok(n) => n,
        // Only digits reach here for a request: too long for an i64.
        Err(_) if strictness == Strictness::Request => {
            return Err(RuleCheckError::PriorityOutOfRange(
                if text.starts_with('-') {
                    i64::MIN
                } else {
                    i64::MAX
                },
            ))
        }
        Err(_) => return Err(RuleCheckError::PriorityNotInteger),
    };
    let legacy = strictness == Strictness::Snapshot && n == i64::from(LEGACY_PRIORITY);
    if (1..=100).contains(&n) || legacy {
        Ok(n as Priority)
    } else {
        Err(RuleCheckError::PriorityOutOfRange(n))
    }
}

/// A CIDR field that takes `family`: `None` when unset (absent or empty).
pub fn cidr_field(text: Option<&str>, family: Family) -> Result<Option<IpNet>, RuleCheckError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let net = parse_cidr(text).ok_or(RuleCheckError::CidrMalformed)?;
    match Family::of_net(&net) {
        found if found != family => Err(RuleCheckError::CidrWrongFamily(found)),
        _ => Ok(Some(net)),
    }
}

/// One side's CIDR from its IPv4 and IPv6 fields: at most one may be set.
pub fn one_per_side(v4: Option<IpNet>, v6: Option<IpNet>) -> Result<Option<IpNet>, RuleCheckError> {
    match (v4, v6) {
        (Some(_), Some(_)) => Err(RuleCheckError::BothFamilies),
        (a, b) => Ok(a.or(b)),
    }
}

/// The remote and local CIDRs must be of one family.
pub fn check_families(remote: Option<IpNet>, local: Option<IpNet>) -> Result<(), RuleCheckError> {
    match (remote, local) {
        (Some(r), Some(l)) if Family::of_net(&r) != Family::of_net(&l) => {
            Err(RuleCheckError::FamilyConflict)
        }
        _ => Ok(()),
    }
}

/// The remote object, when several are given: CIDR > group > prefix list.
pub fn remote_object(
    cidr: Option<IpNet>,
    group: Option<&str>,
    list: Option<&str>,
) -> Result<RemoteObject, RuleCheckError> {
    match (cidr, group, list) {
        (Some(net), _, _) => Ok(RemoteObject::Cidr(net)),
        (None, Some(group), _) => Ok(RemoteObject::Group(group.to_string())),
        (None, None, Some(list)) => Ok(RemoteObject::PrefixList(list.to_string())),
        (None, None, None) => Err(RuleCheckError::NoRemote),
    }
}

/// The family a protocol is limited to: ICMP is IPv4 only, ICMPv6 IPv6 only (S5).
pub fn protocol_family(protocol: Protocol) -> Option<Family> {
    match protocol {
        Protocol::Number(proto::ICMP) => Some(Family::V4),
        Protocol::Number(proto::ICMPV6) => Some(Family::V6),
        _ => None,
    }
}

/// Every CIDR of the rule must be of the protocol's family, if it has one.
pub fn check_protocol_family(
    protocol: Protocol,
    nets: impl IntoIterator<Item = IpNet>,
) -> Result<(), RuleCheckError> {
    let Some(wanted) = protocol_family(protocol) else {
        return Ok(());
    };
    match nets.into_iter().find(|n| Family::of_net(n) != wanted) {
        Some(net) => Err(RuleCheckError::ProtocolFamily { wanted, net }),
        None => Ok(()),
    }
}

/// The destination ports (S2): TCP/UDP take a range, or a port list beside an empty or `-1/-1`
/// range (a given range wins over a list); other protocols take no range and no list (a
/// snapshot's `-1/-1` beside a list is taken, the list ignored).
pub fn dest_ports(
    protocol: Protocol,
    range: &str,
    list_id: Option<&str>,
    strictness: Strictness,
) -> Result<DestPorts, RuleCheckError> {
    if protocol.has_ports() {
        return match (is_any_ports(range), list_id) {
            (false, _) => Ok(DestPorts::Range(port_range(range, strictness)?)),
            (true, Some(list)) => Ok(DestPorts::List(list.to_string())),
            (true, None) => Err(RuleCheckError::PortsMissing),
        };
    }
    if !is_any_ports(range) {
        return Err(RuleCheckError::NoPorts);
    }
    if list_id.is_some() && (strictness == Strictness::Request || range.is_empty()) {
        return Err(RuleCheckError::ListOnPortless);
    }
    Ok(DestPorts::Any)
}

/// The source ports: `None` (any) for an empty or `-1/-1` range; a range only for TCP/UDP.
pub fn source_ports(
    protocol: Protocol,
    range: &str,
    strictness: Strictness,
) -> Result<Option<PortRange>, RuleCheckError> {
    if is_any_ports(range) {
        Ok(None)
    } else if protocol.has_ports() {
        port_range(range, strictness).map(Some)
    } else {
        Err(RuleCheckError::NoPorts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Strictness::{Request, Snapshot};

    #[test]
    fn priority_by_strictness() {
        type Case = (
            &'static str,
            Result<Priority, RuleCheckError>,
            Result<Priority, RuleCheckError>,
        );
        let cases: &[Case] = &[
            ("", Ok(1), Ok(1)),
            ("100", Ok(100), Ok(100)),
            ("110", Ok(110), Err(RuleCheckError::PriorityOutOfRange(110))),
            (
                "0",
                Err(RuleCheckError::PriorityOutOfRange(0)),
                Err(RuleCheckError::PriorityOutOfRange(0)),
            ),
            ("+5", Ok(5), Err(RuleCheckError::PriorityNotInteger)),
            (
                "x",
                Err(RuleCheckError::PriorityNotInteger),
                Err(RuleCheckError::PriorityNotInteger),
            ),
            (
                "99999999999999999999",
                Err(RuleCheckError::PriorityNotInteger),
                Err(RuleCheckError::PriorityOutOfRange(i64::MAX)),
            ),
        ];
        for (text, snapshot, request) in cases {
            assert_eq!(&parse_priority(text, Snapshot), snapshot, "{text:?}");
            assert_eq!(&parse_priority(text, Request), request, "{text:?}");
        }
    }

    #[test]
    fn ports_by_strictness() {
        let tcp = Protocol::Number(proto::TCP);
        let icmp = Protocol::Number(proto::ICMP);
        assert!(matches!(
            dest_ports(tcp, "+22/22", None, Request),
            Err(RuleCheckError::PortRange(_))
        ));
        assert_eq!(
            dest_ports(tcp, "+22/22", None, Snapshot),
            Ok(DestPorts::Range(PortRange { lo: 22, hi: 22 }))
        );
        assert_eq!(
            dest_ports(tcp, "-1/-1", None, Snapshot),
            Err(RuleCheckError::PortsMissing)
        );
        assert_eq!(
            dest_ports(tcp, "", Some("prl-1"), Request),
            Ok(DestPorts::List("prl-1".into()))
        );
        assert_eq!(
            dest_ports(icmp, "-1/-1", Some("prl-1"), Snapshot),
            Ok(DestPorts::Any)
        );
        assert_eq!(
            dest_ports(icmp, "-1/-1", Some("prl-1"), Request),
            Err(RuleCheckError::ListOnPortless)
        );
        assert_eq!(
            dest_ports(icmp, "1/2", None, Snapshot),
            Err(RuleCheckError::NoPorts)
        );
        assert_eq!(
            source_ports(icmp, "1/2", Request),
            Err(RuleCheckError::NoPorts)
        );
        assert_eq!(source_ports(tcp, "-1/-1", Request), Ok(None));
    }

    #[test]
    fn addresses() {
        let v4 = parse_cidr("10.0.0.5/8");
        assert_eq!(v4, Some("10.0.0.0/8".parse().unwrap()));
        assert_eq!(cidr_field(Some(""), Family::V4), Ok(None));
        assert_eq!(
            cidr_field(Some("x"), Family::V4),
            Err(RuleCheckError::CidrMalformed)
        );
        assert_eq!(
            cidr_field(Some("::1"), Family::V4),
            Err(RuleCheckError::CidrWrongFamily(Family::V6))
        );
        let v6 = parse_cidr("::1");
        assert_eq!(one_per_side(v4, v6), Err(RuleCheckError::BothFamilies));
        assert_eq!(check_families(v4, v6), Err(RuleCheckError::FamilyConflict));
        assert_eq!(
            remote_object(v4, Some("sg-1"), Some("pl-1")),
            Ok(RemoteObject::Cidr(v4.unwrap()))
        );
        assert_eq!(
            remote_object(None, Some("sg-1"), Some("pl-1")),
            Ok(RemoteObject::Group("sg-1".into()))
        );
        assert_eq!(
            remote_object(None, None, None),
            Err(RuleCheckError::NoRemote)
        );
        assert_eq!(
            check_protocol_family(Protocol::Number(proto::ICMP), v6),
            Err(RuleCheckError::ProtocolFamily {
                wanted: Family::V4,
                net: v6.unwrap()
            })
        );
    }
}
