//! Alibaba Cloud VPC flow-log records, read in the formats they are exported in
//! (`docs/flowlogs.md`):
//!
//! - **SLS JSON**: one object per line, as SLS queries and `aliyunlog` export them (every value
//!   a string, `-` for none, SLS reserved keys such as `__time__` ignored); a JSON array or
//!   pretty-printed objects (as the console copies them) are read too.
//! - **CSV** as OSS shipping writes it, with a header row naming the fields, delimited by `,`,
//!   `|`, tab or space.
//! - **Parquet** as OSS shipping writes it (cargo feature `parquet`, on by default): string or
//!   integer columns named like the JSON keys.
//!
//! Any of them may be compressed as OSS shipping compresses them (gzip, zstd, or a whole file
//! as one raw snappy block) or as files commonly are (gzip, zstd, framed snappy); the
//! compression and the format are detected from the content.
//!
//! A reader yields [`Block`]s of records in input order, small enough that memory stays flat;
//! each block hands out its records one at a time as [`RawRecord`]s that borrow from it, so
//! callers can spread a block over threads. Interpreting a record's values ([`interpret`])
//! is separate from reading them, so every format shares one set of rules and error messages.

mod compressed;
pub(crate) mod csv;
pub mod json;
#[cfg(feature = "parquet")]
mod page_headers;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
#[cfg(all(feature = "parquet", unix))]
mod positioned;
mod source;
mod structural;

pub use source::{open, open_reader, Format, LogReader, SourceError};

use crate::model::{parse_protocol_number, proto};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;

/// One field's value as a format gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Value<'a> {
    /// Missing, null, empty, or `-` ("not applicable").
    #[default]
    Absent,
    Text(&'a str),
    Int(i64),
    /// An address already parsed from the text it stands for (Parquet parses each dictionary
    /// entry once, not once per record). Only the Parquet reader makes one.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    Ip(IpAddr),
}

impl<'a> Value<'a> {
    /// Text, with `-`, `null` and the empty string meaning absent.
    pub fn text(text: &'a str) -> Value<'a> {
        // PERF: byte patterns compile to inline compares (string patterns call memcmp).
        match text.as_bytes() {
            b"" | b"-" | b"null" => Value::Absent,
            _ => Value::Text(text),
        }
    }

    fn shown(self) -> String {
        match self {
            Value::Absent => "-".to_string(),
            Value::Text(text) => text.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Ip(addr) => addr.to_string(),
        }
    }
}

/// The record fields sgsim reads; every other key (`version`, `vm-id`, `vpc-id`, SLS reserved
/// keys, …) is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    EniId,
    Direction,
    Protocol,
    SrcAddr,
    SrcPort,
    DstAddr,
    DstPort,
    Action,
    Packets,
    Bytes,
    Start,
    End,
    TcpFlags,
    LogStatus,
}

impl Field {
    /// The key as Alibaba names it.
    pub fn key(self) -> &'static str {
        match self {
            Field::EniId => "eni-id",
            Field::Direction => "direction",
            Field::Protocol => "protocol",
            Field::SrcAddr => "srcaddr",
            Field::SrcPort => "srcport",
            Field::DstAddr => "dstaddr",
            Field::DstPort => "dstport",
            Field::Action => "action",
            Field::Packets => "packets",
            Field::Bytes => "bytes",
            Field::Start => "start",
            Field::End => "end",
            Field::TcpFlags => "tcp-flags",
            Field::LogStatus => "log-status",
        }
    }

    /// The field a key names, if sgsim reads it. `tcp_flags` and `log_status` (underscores,
    /// as some shipping targets spell column names) are accepted too.
    pub fn of_key(key: &[u8]) -> Option<Field> {
        Some(match key {
            b"eni-id" | b"eni_id" => Field::EniId,
            b"direction" => Field::Direction,
            b"protocol" => Field::Protocol,
            b"srcaddr" => Field::SrcAddr,
            b"srcport" => Field::SrcPort,
            b"dstaddr" => Field::DstAddr,
            b"dstport" => Field::DstPort,
            b"action" => Field::Action,
            b"packets" => Field::Packets,
            b"bytes" => Field::Bytes,
            b"start" => Field::Start,
            b"end" => Field::End,
            b"tcp-flags" | b"tcp_flags" => Field::TcpFlags,
            b"log-status" | b"log_status" => Field::LogStatus,
            _ => return None,
        })
    }
}

/// One record's fields, borrowed from the block that holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawRecord<'a> {
    pub(crate) values: [Value<'a>; 14],
}

impl<'a> RawRecord<'a> {
    pub(crate) fn get(&self, field: Field) -> Value<'a> {
        self.values[field as usize]
    }

    pub(crate) fn set(&mut self, field: Field, value: Value<'a>) {
        self.values[field as usize] = value;
    }
}

/// `in`: to the ENI; `out`: from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogDirection {
    /// Traffic arriving at the ENI (ingress).
    In,
    /// Traffic leaving the ENI (egress).
    Out,
}

/// The logged `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoggedAction {
    /// `ACCEPT`: the traffic was let through.
    Accept,
    /// `REJECT`: the traffic was dropped.
    Reject,
}

impl LoggedAction {
    /// `ACCEPT` or `REJECT`, as the logs write it.
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedAction::Accept => "ACCEPT",
            LoggedAction::Reject => "REJECT",
        }
    }
}

/// A record of traffic (`log-status` `OK`), interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficRecord {
    /// The direction on the logging ENI.
    pub direction: LogDirection,
    /// IANA protocol number.
    pub protocol: u8,
    /// Source address (`srcaddr`).
    pub src: IpAddr,
    /// 0 for protocols without ports.
    pub src_port: u16,
    /// Destination address (`dstaddr`), of the same family as `src`.
    pub dst: IpAddr,
    /// 0 for protocols without ports.
    pub dst_port: u16,
    /// Packets in the window (0 when not given).
    pub packets: u64,
    /// Bytes in the window (0 when not given).
    pub bytes: u64,
    /// Unix seconds of the window's first packet, when given.
    pub start: Option<u64>,
    /// Unix seconds of the window's last packet, when given.
    pub end: Option<u64>,
    /// Bitwise OR of the window's TCP flags, when given.
    pub tcp_flags: Option<u16>,
    /// `None` when the export left the field out.
    pub action: Option<LoggedAction>,
}

/// What a record says, once interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A record of traffic (`log-status` `OK` or absent).
    Traffic {
        /// The logging ENI's id.
        eni: &'a str,
        /// The record's flow and counters.
        traffic: TrafficRecord,
    },
    /// `NODATA`: no traffic on the ENI in the window.
    NoData {
        /// The ENI's id.
        eni: &'a str,
    },
    /// `SKIPDATA`: records were dropped in the window, so its counts are lower bounds.
    SkipData {
        /// The ENI's id.
        eni: &'a str,
    },
}

/// A record that cannot be read: which field, its value, and what would be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// The field's key (`srcport`), or `record` when the whole record is unreadable.
    pub field: String,
    /// The value as given (`-` when absent).
    pub value: String,
    /// What would be valid.
    pub expected: String,
}

impl RecordError {
    pub(crate) fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        RecordError {
            field: field.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// The whole record is unreadable (not a JSON object, a CSV row of the wrong width, …).
    pub(crate) fn record(value: impl Into<String>, expected: impl Into<String>) -> Self {
        RecordError::new("record", value, expected)
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = self.value.clone();
        if value.len() > 120 {
            let mut cut = 117;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push('…');
        }
        write!(f, "{} {:?}: expected {}", self.field, value, self.expected)
    }
}

impl std::error::Error for RecordError {}

/// A block of records from one input, in input order.
pub trait Block: Send + Sync {
    /// How many records (lines or rows) the block holds.
    fn len(&self) -> usize;

    /// Whether the block holds no record.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `each` with the location (1-based line, or row for Parquet) and the fields of
    /// every record in `range` (positions within the block), in order.
    fn records(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<RawRecord<'_>, RecordError>),
    );

    /// Calls `each` with the location and the [`interpret`]ed record of every record in
    /// `range`, in order: the same as [`Block::records`] then [`interpret`], which a format
    /// overrides when it can interpret a value once for many records (Parquet dictionaries).
    fn interpreted(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<Record<'_>, RecordError>),
    ) {
        self.records(range, &mut |line, raw| {
            each(line, raw.and_then(|raw| interpret(&raw)))
        });
    }
}

/// Interprets a record's fields (see `docs/flowlogs.md` for the rules).
pub fn interpret<'a>(raw: &RawRecord<'a>) -> Result<Record<'a>, RecordError> {
    let eni = match raw.get(Field::EniId) {
        Value::Text(text) => text,
        other => {
            return Err(RecordError::new(
                "eni-id",
                other.shown(),
                "the ENI id (eni-…)",
            ))
        }
    };
    match raw.get(Field::LogStatus) {
        Value::Absent => {}
        Value::Text(status) if status.eq_ignore_ascii_case("OK") => {}
        Value::Text(status) if status.eq_ignore_ascii_case("NODATA") => {
            return Ok(Record::NoData { eni })
        }
        Value::Text(status) if status.eq_ignore_ascii_case("SKIPDATA") => {
            return Ok(Record::SkipData { eni })
        }
        other => {
            return Err(RecordError::new(
                "log-status",
                other.shown(),
                "OK, NODATA or SKIPDATA",
            ))
        }
    }
    let direction = match raw.get(Field::Direction) {
        Value::Text(text)
            if text.eq_ignore_ascii_case("in") || text.eq_ignore_ascii_case("ingress") =>
        {
            LogDirection::In
        }
        Value::Text(text)
            if text.eq_ignore_ascii_case("out") || text.eq_ignore_ascii_case("egress") =>
        {
            LogDirection::Out
        }
        other => return Err(RecordError::new("direction", other.shown(), "in or out")),
    };
    let protocol = match raw.get(Field::Protocol) {
        Value::Int(n) if (0..=255).contains(&n) => n as u8,
        // PERF: numbers (what the logs write) before the names `parse_protocol_number` tries
        // first; it reads 1–3 digits the same way.
        Value::Text(text) => match parse_decimal(text.as_bytes()) {
            Some(n) if text.len() <= 3 && n <= 255 => n as u8,
            _ => parse_protocol_number(text).ok_or_else(|| {
                RecordError::new("protocol", text, "an IANA protocol number 0..255")
            })?,
        },
        other => {
            return Err(RecordError::new(
                "protocol",
                other.shown(),
                "an IANA protocol number 0..255",
            ))
        }
    };
    let src = address(raw.get(Field::SrcAddr), "srcaddr")?;
    let dst = address(raw.get(Field::DstAddr), "dstaddr")?;
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(RecordError::new(
            "dstaddr",
            dst.to_string(),
            format!("an address of the same family as srcaddr {src}"),
        ));
    }
    let has_ports = matches!(protocol, proto::TCP | proto::UDP);
    let (src_port, dst_port) = if has_ports {
        (
            port(raw.get(Field::SrcPort), "srcport")?,
            port(raw.get(Field::DstPort), "dstport")?,
        )
    } else {
        // ICMP and other portless protocols: whatever the log writes there has no meaning
        // for rules (S3).
        (0, 0)
    };
    let action = match raw.get(Field::Action) {
        Value::Absent => None,
        Value::Text(text) if text.eq_ignore_ascii_case("ACCEPT") => Some(LoggedAction::Accept),
        Value::Text(text) if text.eq_ignore_ascii_case("REJECT") => Some(LoggedAction::Reject),
        other => {
            return Err(RecordError::new(
                "action",
                other.shown(),
                "ACCEPT or REJECT",
            ))
        }
    };
    let tcp_flags = optional_number(raw.get(Field::TcpFlags), "tcp-flags", u64::from(u16::MAX))?
        .map(|n| n as u16);
    Ok(Record::Traffic {
        eni,
        traffic: TrafficRecord {
            direction,
            protocol,
            src,
            src_port,
            dst,
            dst_port,
            packets: optional_number(raw.get(Field::Packets), "packets", u64::MAX)?.unwrap_or(0),
            bytes: optional_number(raw.get(Field::Bytes), "bytes", u64::MAX)?.unwrap_or(0),
            start: optional_number(raw.get(Field::Start), "start", u64::MAX)?,
            end: optional_number(raw.get(Field::End), "end", u64::MAX)?,
            tcp_flags,
            action,
        },
    })
}

/// PERF: `interpret` reads two addresses and up to seven numbers a record: these are inlined
/// and their errors built out of line (`#[cold]`), so the common case stays in registers.
#[inline(always)]
fn address(value: Value<'_>, field: &str) -> Result<IpAddr, RecordError> {
    match value {
        Value::Ip(addr) => Ok(addr),
        Value::Text(text) => match crate::model::parse_ip(text) {
            Some(addr) => Ok(addr),
            None => Err(address_error(value, field)),
        },
        _ => Err(address_error(value, field)),
    }
}

#[cold]
#[inline(never)]
fn address_error(value: Value<'_>, field: &str) -> RecordError {
    if let Value::Text(text) = value {
        if text.contains("XX") || text.contains('*') {
            return RecordError::new(
                field,
                text,
                "an IPv4 or IPv6 address (this one is masked, as in documentation samples)",
            );
        }
    }
    RecordError::new(field, value.shown(), "an IPv4 or IPv6 address")
}

#[inline(always)]
fn port(value: Value<'_>, field: &str) -> Result<u16, RecordError> {
    match optional_number(value, field, u64::from(u16::MAX))? {
        Some(n) => Ok(n as u16),
        None => Err(missing_port(field)),
    }
}

#[cold]
#[inline(never)]
fn missing_port(field: &str) -> RecordError {
    RecordError::new(field, "-", "a port number 0..65535 (tcp and udp need one)")
}

/// A decimal count at most `max`, or absent.
#[inline(always)]
fn optional_number(value: Value<'_>, field: &str, max: u64) -> Result<Option<u64>, RecordError> {
    match value {
        Value::Absent => Ok(None),
        Value::Text(text) => match parse_decimal(text.as_bytes()) {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(number_error(value, field, max)),
        },
        Value::Int(n) if n >= 0 && (n as u64) <= max => Ok(Some(n as u64)),
        _ => Err(number_error(value, field, max)),
    }
}

#[cold]
#[inline(never)]
fn number_error(value: Value<'_>, field: &str, max: u64) -> RecordError {
    let expected = if max == u64::MAX {
        "a decimal number".to_string()
    } else {
        format!("a decimal number 0..{max}")
    };
    RecordError::new(field, value.shown(), expected)
}

/// ASCII digits only (1–20 of them), no sign: what Alibaba writes for counts, ports and times.
#[inline(always)]
pub(crate) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    // PERF: 19 digits cannot overflow (u64::MAX has 20), so no checked arithmetic per digit;
    // and eight digits at a time (SWAR) where there are eight: times have ten, byte counts often
    // more (a byte loop took ~15 instructions a digit).
    if text.len() <= 19 {
        let mut n: u64 = 0;
        let mut rest = text;
        while let Some((eight, after)) = rest.split_first_chunk::<8>() {
            n = n * 100_000_000 + u64::from(eight_digits(u64::from_le_bytes(*eight))?);
            rest = after;
        }
        for &byte in rest {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + u64::from(digit);
        }
        return Some(n);
    }
    let mut n: u64 = 0;
    for &byte in text {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(n)
}

/// The value of eight ASCII digits read as a little-endian word (the first digit in the low
/// byte), `None` if any byte is not a digit. The multiplications are the well-known SWAR
/// reduction (pairs, then fours, then eight digits; as in fast_float).
#[inline(always)]
fn eight_digits(word: u64) -> Option<u32> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // A digit is 0x30..=0x39: high nibble 3, and adding 6 keeps it 3.
    let nibbles =
        (word & HIGH_NIBBLES) | ((word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) >> 4);
    if nibbles != 0x3333_3333_3333_3333 {
        return None;
    }
    let mut v = word - 0x3030_3030_3030_3030;
    // Each byte pair becomes the two-digit value in its low byte.
    v = (v * 10) + (v >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    v = ((v & MASK).wrapping_mul(MUL1) + ((v >> 16) & MASK).wrapping_mul(MUL2)) >> 32;
    Some(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_up_to_u64_max() {
        for (text, n) in [
            ("0", Some(0)),
            ("007", Some(7)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("99999999999999999999", None),
            ("000000000000000000001", None),
            ("", None),
            ("1a", None),
            ("-1", None),
            ("+1", None),
        ] {
            assert_eq!(parse_decimal(text.as_bytes()), n, "{text}");
        }
    }

    /// The SWAR path against a digit-at-a-time reading, with a non-digit at every place.
    #[test]
    fn eight_digits_at_a_time_read_as_one_at_a_time() {
        fn slow(text: &[u8]) -> Option<u64> {
            if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(text).ok()?.parse().ok()
        }
        let digits = b"98765432109876543210";
        for len in 0..=21 {
            let text: Vec<u8> = digits.iter().cycle().take(len).copied().collect();
            assert_eq!(parse_decimal(&text), slow(&text), "{text:?}");
            for at in 0..len {
                for odd in [b'/', b':', b'a', b' ', 0, 0x80, 0xb9, b'0' + 16, b'0' - 16] {
                    let mut bad = text.clone();
                    bad[at] = odd;
                    assert_eq!(parse_decimal(&bad), None, "{bad:?}");
                }
            }
        }
        for n in [
            0,
            7,
            10_000_000,
            12_345_678,
            99_999_999,
            100_000_000,
            1_720_000_057,
        ] {
            assert_eq!(parse_decimal(n.to_string().as_bytes()), Some(n));
            assert_eq!(parse_decimal(format!("{n:08}").as_bytes()), Some(n));
            assert_eq!(parse_decimal(format!("{n:016}").as_bytes()), Some(n));
        }
    }

    proptest::proptest! {
        #[test]
        fn decimals_read_as_std_does(n: u64, zeros in 0usize..4) {
            let text = format!("{}{n}", "0".repeat(zeros));
            let expected = (text.len() <= 20).then_some(n);
            proptest::prop_assert_eq!(parse_decimal(text.as_bytes()), expected);
        }
    }

    fn raw<'a>(pairs: &[(Field, &'a str)]) -> RawRecord<'a> {
        let mut raw = RawRecord::default();
        for &(field, text) in pairs {
            raw.set(field, Value::text(text));
        }
        raw
    }

    #[test]
    fn a_traffic_record_interprets() {
        let record = raw(&[
            (Field::EniId, "eni-1"),
            (Field::Direction, "in"),
            (Field::Protocol, "6"),
            (Field::SrcAddr, "203.0.113.9"),
            (Field::SrcPort, "40000"),
            (Field::DstAddr, "10.0.0.5"),
            (Field::DstPort, "22"),
            (Field::Action, "REJECT"),
            (Field::TcpFlags, "2"),
            (Field::LogStatus, "OK"),
        ]);
        let Ok(Record::Traffic { eni, traffic }) = interpret(&record) else {
            panic!("{:?}", interpret(&record));
        };
        assert_eq!(eni, "eni-1");
        assert_eq!(traffic.direction, LogDirection::In);
        assert_eq!((traffic.src_port, traffic.dst_port), (40000, 22));
        assert_eq!(traffic.tcp_flags, Some(2));
        assert_eq!(traffic.action, Some(LoggedAction::Reject));
        assert_eq!(traffic.start, None);
    }

    #[test]
    fn masked_addresses_and_bad_numbers_are_named() {
        let record = raw(&[
            (Field::EniId, "eni-1"),
            (Field::Direction, "out"),
            (Field::Protocol, "17"),
            (Field::SrcAddr, "172.16.XX.XX"),
        ]);
        let err = interpret(&record).unwrap_err();
        assert_eq!(err.field, "srcaddr");
        assert!(err.to_string().contains("masked"), "{err}");
        let record = raw(&[
            (Field::EniId, "eni-1"),
            (Field::Direction, "out"),
            (Field::Protocol, "6"),
            (Field::SrcAddr, "10.0.0.1"),
            (Field::DstAddr, "10.0.0.2"),
            (Field::SrcPort, "70000"),
        ]);
        assert_eq!(
            interpret(&record).unwrap_err().to_string(),
            "srcport \"70000\": expected a decimal number 0..65535"
        );
    }

    #[test]
    fn status_records_need_only_the_eni() {
        let record = raw(&[(Field::EniId, "eni-1"), (Field::LogStatus, "SKIPDATA")]);
        assert_eq!(interpret(&record), Ok(Record::SkipData { eni: "eni-1" }));
        let record = raw(&[(Field::EniId, "eni-1"), (Field::LogStatus, "NODATA")]);
        assert_eq!(interpret(&record), Ok(Record::NoData { eni: "eni-1" }));
    }
}
