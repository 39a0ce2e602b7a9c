//! ClassBench filter sets and header traces, imported as a security-group snapshot and flows.
//!
//! Both files may be plain text or gzip (recognised by its magic bytes, whatever the name).
//!
//! Filter lines look like `@sip/len dip/len sp_lo : sp_hi dp_lo : dp_hi proto/mask flags/mask`
//! (tab-separated; the flags field is optional and ignored). Trace lines are
//! `sip dip sport dport proto flags rule_idx` with 32-bit host-order addresses; only the first
//! five columns are used.
//!
//! The conversion is exactly the one of `testdata/classbench/classbench_to_sg.py`: rule line
//! `i` (0-based, counting `@` lines) of `N` becomes the ingress rule `sgr-i` of the one basic
//! group [`GROUP_ID`] on the one NIC [`NIC_ID`], with
//!
//! - priority `1 + floor(100 * i / N)`, policy drop when `i % 4 == 3`, else accept;
//! - `SourceCidrIp` the source prefix, `DestCidrIp` the destination prefix unless it is `/0`;
//! - protocol `ALL` when the mask is 0, else the protocol number (TCP, UDP, ICMP, GRE or any
//!   other number);
//! - for TCP and UDP: `PortRange` the destination range with a low end of 0 raised to 1, and
//!   `SourcePortRange` the source range unless it is `0 : 65535` (low end 0 raised to 1). Other
//!   protocols have no ports, so their ranges are dropped.
//!
//! Trace lines become ingress flows on that NIC, ports kept as they are.
//!
//! ```
//! use sgsim::input::classbench;
//! let rules = classbench::parse_rules_str(
//!     "@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t0 : 1023\t0x06/0xFF\t0x0000/0x0000\t\n", "inline")?;
//! let snapshot = classbench::snapshot(&rules);
//! let rule = &snapshot.groups()[0].rules[0];
//! assert_eq!((rule.id.as_str(), rule.priority), ("sgr-0", 1));
//! assert_eq!(rule.summary(), "accept tcp 1/1023 from 10.0.0.0/8");
//! # Ok::<(), sgsim::input::classbench::ClassBenchError>(())
//! ```

use crate::model::{
    proto, Action, DestPorts, Direction, Flow, GroupKind, InnerAccessPolicy, Nic, PortRange,
    Protocol, RemoteObject, Rule, SecurityGroup, Snapshot, Target,
};
use crate::Query;
use ipnet::{IpNet, Ipv4Net};
use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// The one security group of an imported set.
pub const GROUP_ID: &str = "sg-bench";
/// Its VPC.
pub const VPC_ID: &str = "vpc-bench";
/// The one NIC carrying [`GROUP_ID`].
pub const NIC_ID: &str = "eni-bench";
/// The instance of [`NIC_ID`].
pub const INSTANCE_ID: &str = "i-bench";
/// The private address of [`NIC_ID`].
pub const NIC_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 254);

/// One ClassBench filter, as written (before any conversion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassBenchRule {
    /// Source prefix.
    pub src: Ipv4Net,
    /// Destination prefix.
    pub dst: Ipv4Net,
    /// Inclusive source port range, `lo <= hi`.
    pub src_ports: (u16, u16),
    /// Inclusive destination port range, `lo <= hi`.
    pub dst_ports: (u16, u16),
    /// IP protocol number (meaningful when `proto_mask` is 0xFF).
    pub proto: u8,
    /// 0x00 (any protocol) or 0xFF (exactly `proto`).
    pub proto_mask: u8,
}

/// One header of a ClassBench trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
}

impl TraceHeader {
    /// The ingress flow this header stands for.
    pub fn flow(&self) -> Flow {
        Flow {
            direction: Direction::Ingress,
            protocol: self.proto,
            src: IpAddr::V4(self.src),
            src_port: self.src_port,
            dst: IpAddr::V4(self.dst),
            dst_port: self.dst_port,
        }
    }
}

/// A file that could not be read, or a line that does not parse: which file, which line, which
/// value and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassBenchError {
    /// The file as it was named (or a label for in-memory text).
    pub file: String,
    /// 1-based line number; 0 when the error is about the file as a whole.
    pub line: u64,
    /// Which field of the line, e.g. `destination ports`; empty for file-level errors.
    pub field: &'static str,
    /// The offending text.
    pub value: String,
    /// What would have been valid (or, for I/O errors, what went wrong).
    pub expected: String,
}

impl fmt::Display for ClassBenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.expected);
        }
        write!(f, "{}:{}: ", self.file, self.line)?;
        if !self.field.is_empty() {
            write!(f, "{} ", self.field)?;
        }
        write!(f, "{:?}: expected {}", self.value, self.expected)
    }
}

impl std::error::Error for ClassBenchError {}

/// What is wrong with one field of a line (the caller adds file and line).
struct FieldError {
    field: &'static str,
    value: String,
    expected: String,
}

fn field_error(field: &'static str, value: &str, expected: impl Into<String>) -> FieldError {
    FieldError {
        field,
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// Opens a file for line reading, decompressing it when it starts with the gzip magic bytes.
fn open_text(path: &Path) -> Result<Box<dyn BufRead>, ClassBenchError> {
    let io_error = |err: io::Error| ClassBenchError {
        file: path.display().to_string(),
        line: 0,
        field: "",
        value: String::new(),
        expected: err.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let is_gzip = reader
        .fill_buf()
        .map_err(io_error)?
        .starts_with(&[0x1f, 0x8b]);
    if is_gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(1 << 20, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Calls `each` with (1-based line number, line without its line end) for every line; stops at
/// the first error, I/O errors included (a corrupt gzip stream is one).
fn for_each_line(
    mut reader: impl BufRead,
    file: &str,
    mut each: impl FnMut(u64, &str) -> Result<(), FieldError>,
) -> Result<(), ClassBenchError> {
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|err| ClassBenchError {
                file: file.to_string(),
                line: 0,
                field: "",
                value: String::new(),
                expected: format!("read error after line {line_no}: {err}"),
            })?;
        if read == 0 {
            return Ok(());
        }
        line_no += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|_| ClassBenchError {
            file: file.to_string(),
            line: line_no,
            field: "line",
            value: String::from_utf8_lossy(bytes).into_owned(),
            expected: "ASCII text".to_string(),
        })?;
        each(line_no, text).map_err(|err| ClassBenchError {
            file: file.to_string(),
            line: line_no,
            field: err.field,
            value: err.value,
            expected: err.expected,
        })?;
    }
}

/// Reads a filter set (plain or gzip). Blank lines are skipped; every other line must be a
/// filter.
pub fn read_rules(path: impl AsRef<Path>) -> Result<Vec<ClassBenchRule>, ClassBenchError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    parse_rules(open_text(path)?, &name)
}

/// Parses a filter set from a reader; `file` names it in errors.
pub fn parse_rules(
    reader: impl BufRead,
    file: &str,
) -> Result<Vec<ClassBenchRule>, ClassBenchError> {
    let mut rules = Vec::new();
    for_each_line(reader, file, |_, line| {
        if !line.trim().is_empty() {
            rules.push(parse_rule_line(line)?);
        }
        Ok(())
    })?;
    if rules.is_empty() {
        return Err(ClassBenchError {
            file: file.to_string(),
            line: 0,
            field: "",
            value: String::new(),
            expected: "no filters: expected tab-separated lines like @10.0.0.0/8 0.0.0.0/0 0 : 65535 80 : 80 0x06/0xFF 0x0000/0x0000".to_string(),
        });
    }
    Ok(rules)
}

/// [`parse_rules`] on text in memory.
pub fn parse_rules_str(text: &str, file: &str) -> Result<Vec<ClassBenchRule>, ClassBenchError> {
    parse_rules(text.as_bytes(), file)
}

fn parse_rule_line(line: &str) -> Result<ClassBenchRule, FieldError> {
    let Some(rest) = line.strip_prefix('@') else {
        return Err(field_error(
            "line",
            line,
            "a filter starting with '@' (@sip/len dip/len sp_lo : sp_hi dp_lo : dp_hi proto/mask flags/mask)",
        ));
    };
    let fields: Vec<&str> = rest
        .split('\t')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    if !(5..=6).contains(&fields.len()) {
        return Err(field_error(
            "line",
            line,
            format!(
                "5 or 6 tab-separated fields (sip/len dip/len sp_lo : sp_hi dp_lo : dp_hi proto/mask [flags/mask]), found {}",
                fields.len()
            ),
        ));
    }
    let src = parse_prefix(fields[0], "source prefix")?;
    let dst = parse_prefix(fields[1], "destination prefix")?;
    let src_ports = parse_port_range(fields[2], "source ports")?;
    let dst_ports = parse_port_range(fields[3], "destination ports")?;
    let (proto, proto_mask) = parse_protocol(fields[4])?;
    if proto_mask == 0xFF && matches!(proto, proto::TCP | proto::UDP) {
        // Security-group port ranges start at 1: a low end of 0 is raised to 1, which leaves
        // nothing of `0 : 0`.
        for (field, text, (_, hi)) in [
            ("source ports", fields[2], src_ports),
            ("destination ports", fields[3], dst_ports),
        ] {
            if hi == 0 {
                return Err(field_error(
                    field,
                    text,
                    "a TCP/UDP range that includes a port 1..65535 (security-group port ranges start at 1)",
                ));
            }
        }
    }
    if let Some(flags) = fields.get(5) {
        // Ignored by the conversion, but a malformed one still means a malformed file.
        let ok = flags
            .split_once('/')
            .is_some_and(|(v, m)| parse_hex(v, 0xFFFF).is_some() && parse_hex(m, 0xFFFF).is_some());
        if !ok {
            return Err(field_error(
                "flags",
                flags,
                "hex value/mask of at most 16 bits, e.g. 0x0000/0x0200",
            ));
        }
    }
    Ok(ClassBenchRule {
        src,
        dst,
        src_ports,
        dst_ports,
        proto,
        proto_mask,
    })
}

fn parse_prefix(text: &str, field: &'static str) -> Result<Ipv4Net, FieldError> {
    const EXPECTED: &str = "an IPv4 prefix a.b.c.d/len with len 0..32";
    let (addr, len) = text
        .split_once('/')
        .ok_or_else(|| field_error(field, text, EXPECTED))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| field_error(field, text, EXPECTED))?;
    let len: u8 = len
        .parse()
        .map_err(|_| field_error(field, text, EXPECTED))?;
    let net = Ipv4Net::new(addr, len).map_err(|_| field_error(field, text, EXPECTED))?;
    Ok(net.trunc())
}

fn parse_port_range(text: &str, field: &'static str) -> Result<(u16, u16), FieldError> {
    const EXPECTED: &str = "a port range lo : hi with 0 <= lo <= hi <= 65535";
    let (lo, hi) = text
        .split_once(':')
        .ok_or_else(|| field_error(field, text, EXPECTED))?;
    let port = |part: &str| part.trim().parse::<u16>().ok();
    match (port(lo), port(hi)) {
        (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi)),
        _ => Err(field_error(field, text, EXPECTED)),
    }
}

fn parse_hex(text: &str, max: u32) -> Option<u32> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok().filter(|&v| v <= max)
}

fn parse_protocol(text: &str) -> Result<(u8, u8), FieldError> {
    const EXPECTED: &str =
        "protocol value/mask in hex with mask 0x00 (any protocol) or 0xFF (exactly one), e.g. 0x06/0xFF";
    let (value, mask) = text
        .split_once('/')
        .ok_or_else(|| field_error("protocol", text, EXPECTED))?;
    let (Some(value), Some(mask)) = (parse_hex(value, 0xFF), parse_hex(mask, 0xFF)) else {
        return Err(field_error("protocol", text, EXPECTED));
    };
    if mask != 0 && mask != 0xFF {
        return Err(field_error("protocol", text, EXPECTED));
    }
    if mask == 0xFF && value == u32::from(proto::ICMPV6) {
        // The security-group API refuses ICMPv6 with an IPv4 source CIDR.
        return Err(field_error(
            "protocol",
            text,
            "a protocol other than ICMPv6 (58): ClassBench sets are IPv4, and an IPv4 rule cannot name ICMPv6",
        ));
    }
    Ok((value as u8, mask as u8))
}

/// Reads a header trace (plain or gzip). Blank lines are skipped.
pub fn read_trace(path: impl AsRef<Path>) -> Result<Vec<TraceHeader>, ClassBenchError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    parse_trace(open_text(path)?, &name)
}

/// Parses a header trace from a reader; `file` names it in errors.
pub fn parse_trace(reader: impl BufRead, file: &str) -> Result<Vec<TraceHeader>, ClassBenchError> {
    let mut headers = Vec::new();
    for_each_line(reader, file, |_, line| {
        if !line.trim().is_empty() {
            headers.push(parse_trace_line(line)?);
        }
        Ok(())
    })?;
    Ok(headers)
}

/// [`parse_trace`] on text in memory.
pub fn parse_trace_str(text: &str, file: &str) -> Result<Vec<TraceHeader>, ClassBenchError> {
    parse_trace(text.as_bytes(), file)
}

fn parse_trace_line(line: &str) -> Result<TraceHeader, FieldError> {
    let mut columns = line.split_ascii_whitespace();
    let mut next = |field: &'static str| {
        columns.next().ok_or_else(|| {
            field_error(
                field,
                line,
                "at least 5 whitespace-separated columns: sip dip sport dport proto [flags rule_idx]",
            )
        })
    };
    let (src, dst, sport, dport, protocol) = (
        next("source address")?,
        next("destination address")?,
        next("source port")?,
        next("destination port")?,
        next("protocol")?,
    );
    let addr = |text: &str, field| {
        text.parse::<u32>().map(Ipv4Addr::from).map_err(|_| {
            field_error(
                field,
                text,
                "an IPv4 address as a decimal integer 0..4294967295",
            )
        })
    };
    let port = |text: &str, field| {
        text.parse::<u16>()
            .map_err(|_| field_error(field, text, "a port number 0..65535"))
    };
    Ok(TraceHeader {
        src: addr(src, "source address")?,
        dst: addr(dst, "destination address")?,
        src_port: port(sport, "source port")?,
        dst_port: port(dport, "destination port")?,
        proto: protocol
            .parse::<u8>()
            .map_err(|_| field_error("protocol", protocol, "a protocol number 0..255"))?,
    })
}

/// The security-group rule that filter line `index` (0-based) of `count` becomes.
///
/// A TCP/UDP range `0 : 0` (which the parser refuses) would become the empty range `1/0`.
///
/// # Panics
/// When `index >= count`.
pub fn convert_rule(index: usize, count: usize, rule: &ClassBenchRule) -> Rule {
    assert!(index < count, "rule index {index} out of 0..{count}");
    let priority = 1 + (100 * index as u64 / count as u64) as u8;
    let action = if index % 4 == 3 {
        Action::Drop
    } else {
        Action::Accept
    };
    let protocol = if rule.proto_mask == 0 {
        Protocol::All
    } else {
        Protocol::Number(rule.proto)
    };
    let raise = |(lo, hi): (u16, u16)| PortRange { lo: lo.max(1), hi };
    let (dest_ports, source_ports) = if protocol.has_ports() {
        let source = (rule.src_ports != (0, 65535)).then(|| raise(rule.src_ports));
        (DestPorts::Range(raise(rule.dst_ports)), source)
    } else {
        (DestPorts::Any, None)
    };
    let remote = RemoteObject::Cidr(IpNet::V4(rule.src));
    Rule::new(Direction::Ingress, action, protocol, remote)
        .with_id(format!("sgr-{index}"))
        .with_priority(priority)
        .with_ports(dest_ports, source_ports)
        .with_local((rule.dst.prefix_len() != 0).then_some(IpNet::V4(rule.dst)))
}

/// The snapshot a filter set becomes: one basic group [`GROUP_ID`] holding every rule, on one
/// NIC [`NIC_ID`].
pub fn snapshot(rules: &[ClassBenchRule]) -> Snapshot {
    let count = rules.len();
    let rules = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| convert_rule(i, count, rule))
        .collect();
    let group = SecurityGroup {
        id: GROUP_ID.to_string(),
        name: String::new(),
        kind: GroupKind::Normal,
        vpc_id: VPC_ID.to_string(),
        inner_access: InnerAccessPolicy::Accept,
        rules,
        description: String::new(),
        region_id: String::new(),
        extra: Default::default(),
    };
    let nic = Nic {
        id: NIC_ID.to_string(),
        instance_id: INSTANCE_ID.to_string(),
        vpc_id: VPC_ID.to_string(),
        addresses: vec![IpAddr::V4(NIC_ADDRESS)],
        groups: vec![0],
        extra: Default::default(),
    };
    Snapshot::new(vec![group], vec![nic], Vec::new(), Vec::new())
}

/// The query target of every flow of an imported set: the NIC [`NIC_ID`] (index 0).
pub const TARGET: Target = Target::Nic(0);

/// The queries a trace becomes: ingress flows on [`NIC_ID`].
pub fn queries(trace: &[TraceHeader]) -> Vec<Query> {
    trace
        .iter()
        .map(|header| Query {
            target: TARGET,
            flow: header.flow(),
        })
        .collect()
}

/// A filter set and trace, converted.
#[derive(Clone, Debug)]
pub struct ClassBenchSet {
    /// The filter set as a snapshot (see [`snapshot`]).
    pub snapshot: Snapshot,
    /// The trace as queries (see [`queries`]).
    pub queries: Vec<Query>,
}

/// Reads and converts a filter set and a trace (each plain or gzip).
pub fn load(
    rules_path: impl AsRef<Path>,
    trace_path: impl AsRef<Path>,
) -> Result<ClassBenchSet, ClassBenchError> {
    let rules = read_rules(rules_path)?;
    let trace = read_trace(trace_path)?;
    Ok(ClassBenchSet {
        snapshot: snapshot(&rules),
        queries: queries(&trace),
    })
}
