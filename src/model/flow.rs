use super::{parse_protocol_number, protocol_name, Direction, Family};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
/// PERF: the standard parser took 8 % of `sgsim eval`'s time; plain dotted quads and IPv6
/// addresses without an IPv4 part (what bulk inputs are made of) take short paths, and
/// everything else, valid or not, goes to the standard parser, which has the last word.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    parse_ip_bytes(text.as_bytes())
}

/// [`parse_ip`] on bytes, which need only be UTF-8 when they take the standard parser.
pub(crate) fn parse_ip_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_plain_ipv4(bytes) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = plain_ipv6(bytes) {
        return Some(IpAddr::V6(v6));
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// A string that is a plain dotted quad and nothing else.
#[inline(always)]
pub(crate) fn parse_plain_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let (v4, end) = dotted_quad(text, 0)?;
    (end == text.len()).then_some(v4)
}

/// A plain dotted quad at `bytes[at..]` — four octets of 1–3 digits without leading zeros, each
/// at most 255, exactly what the standard parser accepts of digits and dots — and where it ends
/// (the caller checks what follows); `None` for anything else, which the standard parser then
/// judges.
///
/// PERF: one octet at a time, its up to three digits unrolled: a byte-at-a-time state machine
/// took ~20 instructions a byte (callgrind), a fifth of the run. Reading all three digit
/// positions and selecting the value without branches was slower again (10M rows, 1 thread,
/// alternating: 1.71–1.75 s user against 1.47–1.51 s).
///
/// PERF: where 16 bytes follow `at` (a quad is at most 15), the reads index a fixed window
/// without bounds checks (`sgsim eval`: ~10 % fewer instructions per address, callgrind).
#[inline(always)]
pub(crate) fn dotted_quad(bytes: &[u8], at: usize) -> Option<(Ipv4Addr, usize)> {
    let (v4, len) = match bytes.get(at..at + 16) {
        Some(window) => {
            let window: &[u8; 16] = window.try_into().expect("16 bytes");
            quad_at_start(|i| window[i & 15])
        }
        // Past the end, a byte that is neither a digit nor a dot.
        None => quad_at_start(|i| bytes.get(at + i).copied().unwrap_or(b' ')),
    }?;
    Some((v4, at + len))
}

/// [`dotted_quad`] at offset 0 of the bytes `byte` gives (it reads at most 15 of them), and
/// its length.
#[inline(always)]
fn quad_at_start(byte: impl Fn(usize) -> u8) -> Option<(Ipv4Addr, usize)> {
    let digit = |at: usize| -> Option<u32> {
        let d = byte(at).wrapping_sub(b'0');
        (d < 10).then_some(u32::from(d))
    };
    let mut at = 0;
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        let mut value = digit(at)?;
        at += 1;
        // A leading zero is an octet of its own ("01" is refused by the standard parser).
        if value != 0 {
            if let Some(d) = digit(at) {
                value = value * 10 + d;
                at += 1;
                if let Some(d) = digit(at) {
                    value = value * 10 + d;
                    at += 1;
                    if value > 255 {
                        return None;
                    }
                }
            }
        }
        *octet = value as u8;
        if i < 3 {
            if byte(at) != b'.' {
                return None;
            }
            at += 1;
        }
    }
    Some((Ipv4Addr::from(octets), at))
}

/// An IPv6 address of hex groups (1–4 digits) with at most one `::` and no embedded IPv4
/// part, as the standard parser reads it; `None` for anything else (which the standard parser
/// then judges).
///
/// PERF: the standard parser tries an embedded IPv4 address before every group and took
/// ~1 400 instructions an address, ten times a dotted quad's. One pass over the bytes: splitting
/// at the colons and searching for `::` first took ~700 (`sgsim eval`, callgrind), a twelfth
/// of the README's benchmark, whose rows are one in 16 IPv6.
fn plain_ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    // PERF: not `char::to_digit(16)`, which took ~70 more instructions an address (callgrind).
    let hex = |byte: u8| match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    };
    let mut words = [0u16; 8];
    let mut count = 0;
    // How many groups come before the `::`, if there is one.
    let mut gap = None;
    let mut at = 0;
    if text.starts_with(b"::") {
        gap = Some(0);
        at = 2;
    }
    while at < text.len() {
        let start = at;
        let mut value = 0u16;
        while let Some(digit) = text.get(at).and_then(|&b| hex(b)) {
            if at - start == 4 {
                return None;
            }
            value = value << 4 | u16::from(digit);
            at += 1;
        }
        if at == start || count == 8 {
            return None;
        }
        words[count] = value;
        count += 1;
        match text.get(at..at + 2) {
            None if at == text.len() => break,
            // A group ends with a colon before another group or a second colon.
            _ if text[at] != b':' || at + 1 == text.len() => return None,
            Some(b"::") => {
                if gap.is_some() {
                    return None;
                }
                gap = Some(count);
                at += 2;
            }
            _ => at += 1,
        }
    }
    match gap {
        None => (count == 8).then(|| Ipv6Addr::from(words)),
        // `::` stands for at least one group of zeros.
        Some(_) if count > 7 => None,
        Some(before) => {
            let after = count - before;
            words.copy_within(before..count, 8 - after);
            words[before..8 - after].fill(0);
            Some(Ipv6Addr::from(words))
        }
    }
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

    #[test]
    fn dotted_quads_are_read_as_the_standard_parser_reads_them() {
        let mut rng = crate::rng::Rng::new(4);
        let alphabet = b"0123456789..";
        let mut read = 0;
        for _ in 0..200_000 {
            let len = rng.below(18) as usize;
            let text: String = (0..len).map(|_| char::from(*rng.pick(alphabet))).collect();
            let ours = parse_plain_ipv4(text.as_bytes());
            assert_eq!(ours, text.parse().ok(), "{text:?}");
            read += usize::from(ours.is_some());
        }
        for a in [
            0u32, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 999, 1000,
        ] {
            let text = format!("{a}.{a}.0.{a}");
            let ours = parse_plain_ipv4(text.as_bytes());
            assert_eq!(ours, text.parse().ok(), "{text:?}");
        }
        assert!(read > 100, "{read}");
    }

    /// Inside a longer row (the 16-byte window) as in a copy cut 15 bytes after the start (the
    /// checked reads): a quad is at most 15 bytes, so the cut changes nothing.
    #[test]
    fn dotted_quads_are_read_the_same_inside_longer_rows() {
        let mut rng = crate::rng::Rng::new(5);
        let alphabet = b"0123456789...,x";
        let mut read = 0;
        for _ in 0..200_000 {
            let len = rng.below(24) as usize;
            let row: Vec<u8> = (0..len).map(|_| *rng.pick(alphabet)).collect();
            let start = rng.below(len as u64 + 1) as usize;
            let cut = &row[..start + (len - start).min(15)];
            let in_row = dotted_quad(&row, start);
            assert_eq!(
                dotted_quad(cut, start),
                in_row,
                "{:?} at {start}",
                String::from_utf8_lossy(&row)
            );
            if let Some((v4, end)) = in_row {
                let text = std::str::from_utf8(&row[start..end]).expect("ASCII");
                assert_eq!(text.parse::<Ipv4Addr>().ok(), Some(v4), "{text:?}");
                read += 1;
            }
        }
        assert!(read > 100, "{read}");
    }

    #[test]
    fn plain_ipv6_addresses_are_read_as_the_standard_parser_reads_them() {
        let cases = [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2408:4000:1:100::10",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            ":::",
            "1:::2",
            "::1::",
            "12345::",
            "0000:0::",
            "FFFF::abcd",
            "::ffff:1.2.3.4",
            "fe80::1%eth0",
            "g::",
            "1:",
            ":1",
            "",
            "1::2::3",
        ];
        for text in cases {
            let ours = plain_ipv6(text.as_bytes());
            let std = text.parse::<Ipv6Addr>().ok();
            assert!(
                ours.is_none() || ours == std,
                "{text:?}: {ours:?} vs {std:?}"
            );
        }
        let mut rng = crate::rng::Rng::new(6);
        let alphabet = b"0123456789abcdefABCDEF::::::g.";
        let mut read = 0;
        for _ in 0..300_000 {
            let len = rng.below(24) as usize;
            let text: String = (0..len).map(|_| char::from(*rng.pick(alphabet))).collect();
            let ours = plain_ipv6(text.as_bytes());
            let std = text.parse::<Ipv6Addr>().ok();
            assert!(
                ours.is_none() || ours == std,
                "{text:?}: {ours:?} vs {std:?}"
            );
            // Every address without an IPv4 part takes the short path.
            if std.is_some() && !text.contains('.') {
                assert_eq!(ours, std, "{text:?}");
                read += 1;
            }
        }
        for _ in 0..100_000 {
            let address = Ipv6Addr::from(
                u128::from(rng.next_u64()) << rng.below(64)
                    | u128::from(rng.next_u64() >> rng.below(64)),
            );
            let text = address.to_string();
            if !text.contains('.') {
                assert_eq!(plain_ipv6(text.as_bytes()), Some(address), "{text:?}");
                read += 1;
            }
        }
        assert!(read > 50_000, "{read}");
    }
}
