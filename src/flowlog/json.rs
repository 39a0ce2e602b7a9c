//! SLS JSON records: one object per line, every value a string (`__time__` and other SLS
//! reserved keys may be numbers; they are ignored).
//!
//! PERF: serde_json, even into a struct of borrowed `&str`s, spends most of a record's time
//! on the ~15 keys sgsim does not read and on checking every byte for escapes; records are flat
//! objects of plain strings, so [`scan_line`] reads those in one pass with `memchr` and hands
//! anything else (escapes, nested values, `true`/`null`, syntax errors) to serde_json
//! ([`parse_line_serde`]), which has the last word. The fuzz target `flowlog_json` and the unit
//! tests hold the two to the same answers (`docs/flowlogs.md`).

use super::{Field, RawRecord, RecordError, Value};
use serde_json::Map;

/// Reads one line holding one JSON object. `scratch` keeps the slow path's parsed object alive
/// for the record that borrows from it.
pub fn parse_line<'a>(
    line: &'a [u8],
    scratch: &'a mut Option<Map<String, serde_json::Value>>,
) -> Result<RawRecord<'a>, RecordError> {
    if let Some(record) = scan_line(line) {
        return Ok(record);
    }
    parse_line_serde(line, scratch)
}

/// The fast path: `None` when the line is anything but a flat object of plain strings and
/// integers, in which case [`parse_line_serde`] decides.
pub fn scan_line(line: &[u8]) -> Option<RawRecord<'_>> {
    let mut record = RawRecord::default();
    // Every string, read or not, must be UTF-8 for serde_json to accept the line: checked at
    // the end, only when a string held a non-ASCII byte (outside strings only ASCII passes).
    let mut high = 0u8;
    let mut at = skip_space(line, 0);
    if line.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(line, at + 1);
    if line.get(at) == Some(&b'}') {
        return (skip_space(line, at + 1) == line.len()).then_some(record);
    }
    loop {
        if line.get(at) != Some(&b'"') {
            return None;
        }
        let (key, after_key) = plain_string(line, at + 1, &mut high)?;
        at = skip_space(line, after_key);
        if line.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(line, at + 1);
        let field = Field::of_key(key);
        match *line.get(at)? {
            b'"' => {
                let (value, after) = plain_string(line, at + 1, &mut high)?;
                if let Some(field) = field {
                    let text = std::str::from_utf8(value).ok()?;
                    record.set(field, Value::text(text));
                }
                at = after;
            }
            b'-' | b'0'..=b'9' => {
                let end = at
                    + line[at..]
                        .iter()
                        .position(|&b| !(b.is_ascii_digit() || b == b'-'))
                        .unwrap_or(line.len() - at);
                let text = std::str::from_utf8(&line[at..end]).ok()?;
                // Only plain integers; fractions and exponents go to serde_json.
                let n: i64 = text.parse().ok()?;
                if text.starts_with("-0") || (text.len() > 1 && text.starts_with('0')) {
                    return None;
                }
                if let Some(field) = field {
                    record.set(field, Value::Int(n));
                }
                at = end;
            }
            _ => return None,
        }
        at = skip_space(line, at);
        match line.get(at) {
            Some(b',') => at = skip_space(line, at + 1),
            Some(b'}') => {
                let valid = high < 0x80 || std::str::from_utf8(line).is_ok();
                return (valid && skip_space(line, at + 1) == line.len()).then_some(record);
            }
            _ => return None,
        }
    }
}

/// A string's bytes from `start` (just past the opening quote) to its closing quote, and the
/// position after that quote; `None` if it holds an escape or a control byte. `high` collects
/// the bytes' top bits, so the caller checks UTF-8 only for lines that are not ASCII.
///
/// PERF: a byte loop, not `memchr2`: values are 1–40 bytes, too short for its set-up to pay
/// (`memchr2` took ~22 % of `sgsim replay`'s time on JSON lines).
fn plain_string<'a>(line: &'a [u8], start: usize, high: &mut u8) -> Option<(&'a [u8], usize)> {
    let mut at = start;
    loop {
        let byte = *line.get(at)?;
        if byte == b'"' {
            return Some((&line[start..at], at + 1));
        }
        if byte == b'\\' || byte < 0x20 {
            return None;
        }
        *high |= byte;
        at += 1;
    }
}

fn skip_space(line: &[u8], mut at: usize) -> usize {
    while matches!(line.get(at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        at += 1;
    }
    at
}

/// The slow path: serde_json reads the object; strings and integers of the fields sgsim reads
/// are taken, `null` is absent, anything else is an error naming the key.
pub fn parse_line_serde<'a>(
    line: &[u8],
    scratch: &'a mut Option<Map<String, serde_json::Value>>,
) -> Result<RawRecord<'a>, RecordError> {
    let object: Map<String, serde_json::Value> = match serde_json::from_slice(line) {
        Ok(object) => object,
        Err(err) => {
            return Err(RecordError::record(
                String::from_utf8_lossy(line),
                format!("one JSON object of flow-log fields ({err})"),
            ))
        }
    };
    record_of_object(scratch.insert(object))
}

/// The fields sgsim reads from a parsed JSON object.
pub fn record_of_object(
    object: &Map<String, serde_json::Value>,
) -> Result<RawRecord<'_>, RecordError> {
    let mut record = RawRecord::default();
    for (key, value) in object {
        let Some(field) = Field::of_key(key.as_bytes()) else {
            continue;
        };
        let value = match value {
            serde_json::Value::Null => Value::Absent,
            serde_json::Value::String(text) => Value::text(text),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(n) => Value::Int(n),
                None => {
                    return Err(RecordError::new(
                        key.as_str(),
                        n.to_string(),
                        "an integer or a string",
                    ))
                }
            },
            other => {
                return Err(RecordError::new(
                    key.as_str(),
                    other.to_string(),
                    "a string, as flow-log records hold",
                ))
            }
        };
        record.set(field, value);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"account-id":"1210123456******","action":"ACCEPT","bytes":"2048","direction":"out","dstaddr":"172.31.16.21","dstport":"80","end":"1720775480","eni-id":"eni-bp166tg9uk1ryf******","log-status":"OK","packets":"10","protocol":"6","srcaddr":"172.31.16.139","srcport":"1332","start":"1720775420","tcp-flags":"22","traffic_path":"-","version":"-","vm-id":"1","vpc-id":"-","vswitch-id":"vpc-bp1qf0c43jb3maz******"}"#;

    fn both(
        line: &str,
    ) -> (
        Option<RawRecord<'_>>,
        Result<RawRecord<'static>, RecordError>,
    ) {
        let fast = scan_line(line.as_bytes());
        let scratch = Box::leak(Box::new(None));
        let slow = parse_line_serde(line.as_bytes(), scratch);
        (fast, slow)
    }

    #[test]
    fn the_fast_path_reads_the_doc_sample_as_serde_json_does() {
        let (fast, slow) = both(SAMPLE);
        let fast = fast.expect("a flat object of strings takes the fast path");
        assert_eq!(Ok(fast), slow);
        assert_eq!(fast.get(Field::SrcAddr), Value::Text("172.31.16.139"));
        assert_eq!(fast.get(Field::TcpFlags), Value::Text("22"));
    }

    #[test]
    fn escapes_numbers_and_nesting_agree_or_fall_back() {
        for line in [
            r#"{"eni-id":"eni-\u0031","__time__":1650964251,"srcport":"1"}"#,
            r#" { "eni-id" : "eni-1" , "__tag__:x" : {"a":1}, "bytes": 12 } "#,
            r#"{"eni-id":"eni-1","bytes":1.5}"#,
            r#"{"eni-id":null}"#,
            r#"{}"#,
            r#"{"eni-id":"a","eni-id":"b"}"#,
            r#"{"eni-id":"a"} x"#,
            r#"{"eni-id":"a""#,
            r#"["eni-id"]"#,
            r#"{"bytes":-0}"#,
            r#"{"bytes":007}"#,
            r#"{"eni-id":"ené","vm-id":"ü"}"#,
        ] {
            let (fast, slow) = both(line);
            if let Some(fast) = fast {
                assert_eq!(Ok(fast), slow, "{line}");
            }
        }
    }

    #[test]
    fn invalid_utf8_anywhere_goes_to_serde_json() {
        for line in [
            &b"{\"x\":\"\xff\"}"[..],
            b"{\"eni-id\":\"\xc3\"}",
            b"{\"\xe2\x82\":\"a\"}",
        ] {
            assert_eq!(scan_line(line), None);
            assert!(parse_line_serde(line, &mut None).is_err());
        }
    }

    #[test]
    fn bad_lines_name_what_was_expected() {
        let err = parse_line(b"172.16.XX.XX", &mut None).unwrap_err();
        assert!(err.to_string().contains("one JSON object"), "{err}");
        let err = parse_line(br#"{"bytes":[1]}"#, &mut None).unwrap_err();
        assert_eq!(err.field, "bytes");
    }
}
