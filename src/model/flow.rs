use super::{parse_protocol_number, protocol_name, Direction, Family};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// The first packet of a connection, seen from one NIC in one direction (S16).
///
/// For ingress the remote address is `src`, for egress it is `dst`. Ports are 0 for portless
/// protocols; a TCP/UDP port of 0 matches no rule range (S3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Flow {
    /// Which of the NIC's directions the packet takes.
    pub direction: Direction,
    /// IANA protocol number (see [`super::proto`]).
    pub protocol: u8,
    /// Source address; both addresses are of one family.
    pub src: IpAddr,
    /// Source port; 0 for portless protocols.
    pub src_port: u16,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port; 0 for portless protocols.
    pub dst_port: u16,
}

impl Flow {
    /// The flow in `direction` between a NIC's `local` address and a `remote` one: from remote
    /// to local for ingress, from local to remote for egress; the ports as given.
    pub fn between(
        direction: Direction,
        protocol: u8,
        remote: IpAddr,
        local: IpAddr,
        src_port: u16,
        dst_port: u16,
    ) -> Flow {
        let (src, dst) = match direction {
            Direction::Ingress => (remote, local),
            Direction::Egress => (local, remote),
        };
        Flow::new(direction, protocol, (src, src_port), (dst, dst_port))
    }

    /// The flow from `src` to `dst` (address and port each) in `direction`.
    #[inline]
    pub fn new(direction: Direction, protocol: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> Flow {
        Flow {
            direction,
            protocol,
            src: src.0,
            src_port: src.1,
            dst: dst.0,
            dst_port: dst.1,
        }
    }

    /// The address on the far side of the NIC.
    pub fn remote(&self) -> IpAddr {
        match self.direction {
            Direction::Ingress => self.src,
            Direction::Egress => self.dst,
        }
    }

    /// The NIC's own side of the flow.
    pub fn local(&self) -> IpAddr {
        match self.direction {
            Direction::Ingress => self.dst,
            Direction::Egress => self.src,
        }
    }

    /// The flow's address family.
    pub fn family(&self) -> Family {
        Family::of_addr(&self.src)
    }

    /// Parses a flow from its text fields, as the CSV contract and `sgsim check` give them.
    ///
    /// Ports may be empty (meaning 0) except a TCP/UDP destination port, which a verdict
    /// cannot do without.
    ///
    /// ```
    /// use sgsim::model::{Direction, Flow};
    /// let flow = Flow::parse("ingress", "TCP", "203.0.113.9", "40000", "10.0.0.5", "22").unwrap();
    /// assert_eq!((flow.direction, flow.protocol, flow.dst_port), (Direction::Ingress, 6, 22));
    /// let err = Flow::parse("ingress", "tcp", "203.0.113.9", "", "10.0.0.5", "65536").unwrap_err();
    /// assert_eq!(err.to_string(), "dst_port \"65536\": not a port number 0..65535");
    /// ```
    pub fn parse(
        direction: &str,
        protocol: &str,
        src_ip: &str,
        src_port: &str,
        dst_ip: &str,
        dst_port: &str,
    ) -> Result<Flow, FlowError> {
        let bad = |field: &'static str, value: &str, expected: &'static str| FlowError {
            field,
            value: value.to_string(),
            expected,
        };
        let direction = Direction::parse(direction)
            .ok_or_else(|| bad("direction", direction, "ingress or egress"))?;
        let protocol_number = parse_protocol_number(protocol).ok_or_else(|| {
            bad(
                "protocol",
                protocol,
                "tcp, udp, icmp, icmpv6, gre or a protocol number 0..255",
            )
        })?;
        let src =
            parse_ip(src_ip).ok_or_else(|| bad("src_ip", src_ip, "an IPv4 or IPv6 address"))?;
        let dst =
            parse_ip(dst_ip).ok_or_else(|| bad("dst_ip", dst_ip, "an IPv4 or IPv6 address"))?;
        if Family::of_addr(&src) != Family::of_addr(&dst) {
            return Err(bad(
                "dst_ip",
                dst_ip,
                "an address of the same family as src_ip",
            ));
        }
        let port = |field: &'static str, text: &str| -> Result<u16, FlowError> {
            if text.is_empty() {
                return Ok(0);
            }
            text.parse::<u16>()
                .map_err(|_| bad(field, text, "not a port number 0..65535"))
        };
        let src_port = port("src_port", src_port)?;
        let has_ports = matches!(protocol_number, 6 | 17);
        if has_ports && dst_port.is_empty() {
            return Err(bad(
                "dst_port",
                dst_port,
                "a destination port 0..65535 (required for tcp and udp)",
            ));
        }
        let dst_port = port("dst_port", dst_port)?;
        Ok(Flow {
            direction,
            protocol: protocol_number,
            src,
            src_port,
            dst,
            dst_port,
        })
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number;
        let proto = match protocol_name(self.protocol) {
            Some(name) => name,
            None => {
                number = self.protocol.to_string();
                &number
            }
        };
        write!(f, "{} {proto} ", self.direction)?;
        if matches!(self.protocol, 6 | 17) {
            let end = |addr: IpAddr, port: u16| match addr {
                IpAddr::V4(v4) => format!("{v4}:{port}"),
                IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            };
            write!(
                f,
                "{} -> {}",
                end(self.src, self.src_port),
                end(self.dst, self.dst_port)
            )
        } else {
            write!(f, "{} -> {}", self.src, self.dst)
        }
    }
}

/// A flow field that does not parse; says which field, its value and what would be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowError {
    /// The field's name as the CSV header spells it (`src_port`).
    pub field: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// What would be valid there.
    pub expected: &'static str,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.expected.starts_with("not ") {
            write!(f, "{} {:?}: {}", self.field, self.value, self.expected)
        } else {
            write!(
                f,
                "{} {:?}: expected {}",
                self.field, self.value, self.expected
            )
        }
    }
}

impl std::error::Error for FlowError {}

/// Parses an address as `IpAddr::from_str` does.
///
/// PERF: the standard parser took 8 % of `sgsim eval`'s time; plain dotted quads (what bulk
/// inputs are made of) take a short path, and everything else — IPv6, and any text the short
/// path does not accept, valid or not — goes to the standard parser, which has the last word.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    match parse_plain_ipv4(text.as_bytes()) {
        Some(v4) => Some(IpAddr::V4(v4)),
        None => text.parse().ok(),
    }
}

/// Four decimal octets of 1–3 digits without leading zeros, each at most 255, read in one
/// pass over the bytes (`None` for anything else, which the standard parser then judges).
fn parse_plain_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut octet = 0;
    let mut value = 0u32;
    let mut digits = 0;
    for &byte in text {
        match byte {
            b'0'..=b'9' => {
                if digits == 1 && value == 0 {
                    return None; // a leading zero
                }
                value = value * 10 + u32::from(byte - b'0');
                if value > 255 {
                    return None;
                }
                digits += 1;
            }
            b'.' if digits > 0 && octet < 3 => {
                octets[octet] = value as u8;
                octet += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if octet != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_short_path_agrees_with_the_standard_parser() {
        let cases = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.1.10",
            "1.2.3.4",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.-4",
            "+1.2.3.4",
            "1.2.3.4/8",
            "",
            ".",
            "1.2.3.",
            "999.0.0.0",
            "00.0.0.0",
            "1.2.3.0x1",
            "::1",
            "::ffff:1.2.3.4",
            "1.2.3.4%eth0",
            "٣.2.3.4",
        ];
        for text in cases {
            assert_eq!(parse_ip(text), text.parse::<IpAddr>().ok(), "{text:?}");
        }
        for a in [0u32, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 999] {
            let text = format!("{a}.{a}.0.{a}");
            assert_eq!(parse_ip(&text), text.parse::<IpAddr>().ok(), "{text:?}");
        }
    }

    #[test]
    fn the_ipv4_short_path_agrees_on_random_digits_and_dots() {
        let mut rng = crate::rng::Rng::new(7);
        let alphabet = b"0123456789..";
        for _ in 0..200_000 {
            let len = rng.below(18) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| *rng.pick(alphabet)).collect();
            let text = String::from_utf8(bytes).unwrap();
            assert_eq!(parse_ip(&text), text.parse::<IpAddr>().ok(), "{text:?}");
        }
    }

    #[test]
    fn the_ipv4_short_path_takes_every_canonical_address() {
        let mut rng = crate::rng::Rng::new(11);
        for _ in 0..100_000 {
            let address = Ipv4Addr::from(rng.next_u64() as u32 >> rng.below(32));
            let text = address.to_string();
            assert_eq!(parse_plain_ipv4(text.as_bytes()), Some(address), "{text:?}");
        }
    }
}
