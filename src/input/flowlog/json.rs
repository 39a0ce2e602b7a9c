//! SLS JSON records: one object per line, every value a string (`__time__` and other SLS
//! reserved keys may be numbers; they are ignored).
//!
//! PERF: serde_json, even into a struct of borrowed `&str`s, spends most of a record's time
//! on the ~15 keys sgsim does not read and on checking every byte for escapes; records are flat
//! objects of plain strings, so [`scan_line`] reads those in one pass with `memchr` and hands
//! anything else (escapes, nested values, `true`/`null`, syntax errors) to serde_json
//! ([`parse_line_serde`]), which has the last word. The fuzz target `flowlog_json` and the unit
//! tests hold the two to the same answers (`docs/flowlogs.md`).

use super::{structural, Field, RawRecord, RecordError, Value};
use serde_json::Map;

/// Reads one line holding one JSON object. `scratch` keeps the slow path's parsed object alive
/// for the record that borrows from it; `keys` carries the keys of the lines before.
pub(crate) fn parse_line<'a>(
    line: &'a [u8],
    keys: &mut KeyLayout,
    scratch: &'a mut Option<Map<String, serde_json::Value>>,
) -> Result<RawRecord<'a>, RecordError> {
    let mut record = RawRecord::default();
    let mut room = structural::EMPTY_BITMAP;
    if scan_line_into(line, keys, &mut room, &mut record) {
        return Ok(record);
    }
    parse_line_serde(line, scratch)
}

/// The keys of the last line scanned, in order, each with its quotes and the field it names.
///
/// PERF: an export writes the same keys in the same order on every line, so each key is first
/// compared with the one at its position on the line before: a hit skips finding the key's end
/// and naming its field. A key that was accepted as a plain string, compared byte for byte,
/// ends where it ended then, so the answer is [`scan_line`]'s either way.
#[derive(Clone, Debug, Default)]
pub struct KeyLayout {
    keys: Vec<Key>,
}

/// A key as written, quotes included, with its first 16 bytes as two little-endian words and
/// the masks that keep only its bytes of them (for a compare in two loads).
#[derive(Clone, Debug)]
struct Key {
    quoted: Box<[u8]>,
    words: [u64; 2],
    masks: [u64; 2],
    field: Option<Field>,
}

impl Key {
    fn new(quoted: &[u8], field: Option<Field>) -> Key {
        let mut padded = [0u8; 16];
        let head = quoted.len().min(16);
        padded[..head].copy_from_slice(&quoted[..head]);
        let mask = |bytes: usize| match bytes {
            0 => 0,
            8.. => u64::MAX,
            n => u64::MAX >> (64 - 8 * n),
        };
        Key {
            quoted: quoted.into(),
            words: [word(&padded, 0), word(&padded, 8)],
            masks: [mask(head), mask(head.saturating_sub(8))],
            field,
        }
    }

    /// Whether the line holds this key at `at`.
    #[inline(always)]
    fn is_at(&self, line: &[u8], at: usize) -> bool {
        let len = self.quoted.len();
        if len <= 16 && at + 16 <= line.len() {
            let differ = ((word(line, at) ^ self.words[0]) & self.masks[0])
                | ((word(line, at + 8) ^ self.words[1]) & self.masks[1]);
            return differ == 0;
        }
        line.get(at..at + len) == Some(&*self.quoted)
    }
}

/// The eight bytes at `at` as a little-endian word.
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

impl KeyLayout {
    /// The key at `at`, `position`-th on its line, when it is the key at that position on the
    /// line before: its field and where it ends (its closing quote).
    #[inline(always)]
    fn known(&self, line: &[u8], at: usize, position: usize) -> Option<(Option<Field>, usize)> {
        let key = self.keys.get(position)?;
        key.is_at(line, at)
            .then(|| (key.field, at + key.quoted.len() - 1))
    }

    /// The field of the key `line[at..=end]` (quotes included), `position`-th on its line,
    /// kept for the lines after.
    #[cold]
    fn learn(&mut self, line: &[u8], at: usize, end: usize, position: usize) -> Option<Field> {
        let field = Field::of_key(&line[at + 1..end]);
        self.keys.truncate(position);
        self.keys.push(Key::new(&line[at..=end], field));
        field
    }
}

/// The fast path: `None` when the line is anything but a flat object of plain strings and
/// integers, in which case [`parse_line_serde`] decides.
pub fn scan_line(line: &[u8]) -> Option<RawRecord<'_>> {
    scan_line_with(line, &mut KeyLayout::default())
}

/// [`scan_line`], with the keys of the lines before.
///
/// PERF: the common line (all ASCII, no backslash, no control byte) is read with the bitmap of
/// its quotes (`structural::PlainLine`); any other line, and any line that path refuses, is
/// read a byte at a time by [`scan_bytewise`]; both give the same answers (unit tests, fuzz
/// target).
pub fn scan_line_with<'a>(line: &'a [u8], layout: &mut KeyLayout) -> Option<RawRecord<'a>> {
    let mut record = RawRecord::default();
    let mut room = structural::EMPTY_BITMAP;
    scan_line_into(line, layout, &mut room, &mut record).then_some(record)
}

/// [`scan_line_with`] into `record`, which holds the line's fields when this returns true (and
/// anything when it returns false); `room` holds the line's quote bitmap.
///
/// PERF: a record is 14 values (336 bytes); returned by value through the scanners and the
/// block's callback it was copied three times a line (`memcpy`, ~4 % of the instructions).
/// The caller keeps `room` (256 bytes) from line to line rather than zeroing one per line.
#[inline]
pub(crate) fn scan_line_into<'a>(
    line: &'a [u8],
    layout: &mut KeyLayout,
    room: &mut structural::Bitmap,
    record: &mut RawRecord<'a>,
) -> bool {
    if let Some(plain) = structural::PlainLine::new(line, room) {
        if scan_known(&plain, &layout.keys, record).is_some()
            || scan_plain(&plain, layout, record).is_some()
        {
            return true;
        }
    }
    scan_bytewise_into(line, layout, record).is_some()
}

/// [`scan_plain`] for the common line: compact (`"key":"value",` without spaces), its keys
/// those of the line before in the same order, its values strings. `None` for any other line,
/// which [`scan_plain`] then reads (and learns its keys).
///
/// PERF: the keys are a slice here, not the layout that [`scan_plain`] may change, so the loop
/// keeps them in registers; ~40 % fewer instructions a field than [`scan_plain`] (callgrind).
#[inline(always)]
fn scan_known<'a>(
    plain: &structural::PlainLine<'a, '_>,
    keys: &[Key],
    record: &mut RawRecord<'a>,
) -> Option<()> {
    let line = plain.text.as_bytes();
    *record = RawRecord::default();
    if line.first() != Some(&b'{') {
        return None;
    }
    let mut at = 1;
    let mut seen = 0;
    for key in keys {
        if !key.is_at(line, at) {
            return None;
        }
        let close = at + key.quoted.len() - 1;
        if line.get(close + 1..close + 3) != Some(b":\"") {
            return None;
        }
        let start = close + 3;
        let end = plain.next_quote(start)?;
        if let Some(field) = key.field {
            seen = first_time(seen, field)?;
            record.set(field, Value::text(plain.slice(start, end)?));
        }
        if line.get(end + 1..end + 3) == Some(b",\"") {
            at = end + 2;
            continue;
        }
        return (end + 2 == line.len() && line[end + 1] == b'}').then_some(());
    }
    None
}

/// A line that [`structural::PlainLine`] accepted: every quote opens or closes a string, so a
/// string ends at the next quote, and only the bytes between strings (`:`, `,`, spaces,
/// integers) are looked at. `None` where [`scan_bytewise`] must judge.
///
/// PERF: `"key":"value",` without spaces, as exports write it, is checked two bytes at a time.
#[inline(always)]
fn scan_plain<'a>(
    plain: &structural::PlainLine<'a, '_>,
    layout: &mut KeyLayout,
    record: &mut RawRecord<'a>,
) -> Option<()> {
    let text = plain.text;
    let line = text.as_bytes();
    *record = RawRecord::default();
    let mut at = skip_space(line, 0);
    if line.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(line, at + 1);
    let mut position = 0;
    let mut seen = 0;
    loop {
        // A key (`{}` is left to the byte-wise scanner).
        if line.get(at) != Some(&b'"') {
            return None;
        }
        let (field, close) = match layout.known(line, at, position) {
            Some(known) => known,
            None => {
                let close = plain.next_quote(at + 1)?;
                (layout.learn(line, at, close, position), close)
            }
        };
        position += 1;
        // The value, just after `:` or after spaces around it.
        if line.get(close + 1..close + 3) == Some(b":\"") {
            at = close + 2;
        } else {
            at = skip_space(line, close + 1);
            if line.get(at) != Some(&b':') {
                return None;
            }
            at = skip_space(line, at + 1);
        }
        match *line.get(at)? {
            b'"' => {
                let end = plain.next_quote(at + 1)?;
                if let Some(field) = field {
                    seen = first_time(seen, field)?;
                    record.set(field, Value::text(plain.slice(at + 1, end)?));
                }
                at = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let (n, end) = integer(text, at)?;
                if let Some(field) = field {
                    seen = first_time(seen, field)?;
                    record.set(field, Value::Int(n));
                }
                at = end;
            }
            _ => return None,
        }
        // The next key, just after `,` or after spaces around it; or the end.
        if line.get(at..at + 2) == Some(b",\"") {
            at += 1;
            continue;
        }
        at = skip_space(line, at);
        match line.get(at) {
            Some(b',') => at = skip_space(line, at + 1),
            Some(b'}') => {
                return (skip_space(line, at + 1) == line.len()).then_some(());
            }
            _ => return None,
        }
    }
}

/// `seen` with `field` added, or `None` if it was there: a field given twice (`log-status` and
/// `log_status`, or one key repeated) is left to serde_json, whose object keeps one value per
/// key and is then read in key order.
#[inline(always)]
fn first_time(seen: u16, field: Field) -> Option<u16> {
    let bit = 1 << field as u16;
    (seen & bit == 0).then_some(seen | bit)
}

/// A JSON integer at `text[at..]` (a `-` or a digit there) and where it ends; `None` for a
/// fraction, an exponent, a leading zero, `-0` or one beyond `i64` (serde_json judges those).
#[inline(always)]
fn integer(text: &str, at: usize) -> Option<(i64, usize)> {
    let bytes = text.as_bytes();
    let end = at
        + bytes[at..]
            .iter()
            .position(|&b| !(b.is_ascii_digit() || b == b'-'))
            .unwrap_or(bytes.len() - at);
    let number = text.get(at..end)?;
    // Only plain integers; fractions and exponents go to serde_json.
    let n: i64 = number.parse().ok()?;
    if number.starts_with("-0") || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    Some((n, end))
}

/// [`scan_line`] a byte at a time: any line, with the keys of the lines before.
pub fn scan_bytewise<'a>(line: &'a [u8], layout: &mut KeyLayout) -> Option<RawRecord<'a>> {
    let mut record = RawRecord::default();
    scan_bytewise_into(line, layout, &mut record).map(|()| record)
}

/// [`scan_bytewise`] into `record`.
fn scan_bytewise_into<'a>(
    line: &'a [u8],
    layout: &mut KeyLayout,
    record: &mut RawRecord<'a>,
) -> Option<()> {
    // serde_json accepts only UTF-8, so a line that is not goes to it (and is refused there).
    // PERF: one check of the whole line (std's ASCII fast path), then every value is a slice of
    // it: no check per value.
    let text = std::str::from_utf8(line).ok()?;
    let bytes = text.as_bytes();
    *record = RawRecord::default();
    let mut at = skip_space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return (skip_space(bytes, at + 1) == bytes.len()).then_some(());
    }
    let mut position = 0;
    let mut seen = 0;
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (field, key_end) = match layout.known(bytes, at, position) {
            Some(known) => known,
            None => {
                let end = plain_string_end(bytes, at + 1)?;
                (layout.learn(bytes, at, end, position), end)
            }
        };
        position += 1;
        at = skip_space(bytes, key_end + 1);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(bytes, at + 1);
        match *bytes.get(at)? {
            b'"' => {
                let end = plain_string_end(bytes, at + 1)?;
                if let Some(field) = field {
                    seen = first_time(seen, field)?;
                    record.set(field, Value::text(text.get(at + 1..end)?));
                }
                at = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let (n, end) = integer(text, at)?;
                if let Some(field) = field {
                    seen = first_time(seen, field)?;
                    record.set(field, Value::Int(n));
                }
                at = end;
            }
            _ => return None,
        }
        at = skip_space(bytes, at);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(b'}') => {
                return (skip_space(bytes, at + 1) == bytes.len()).then_some(());
            }
            _ => return None,
        }
    }
}

/// The position of a string's closing quote, the string starting at `start` (just past its
/// opening quote); `None` if it holds an escape or a control byte first.
///
/// PERF: eight bytes at a time (SWAR), not `memchr2`: values are 1–40 bytes, too short for
/// its set-up to pay (`memchr2` took ~22 % of `sgsim replay`'s time on JSON lines), and a byte
/// loop spent ~12 %. In each mask, the lowest flagged byte is a true match (borrows only flag
/// bytes above a true one), so the lowest bit of their union is the first byte that ends the
/// plain string.
fn plain_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let stops = quote | backslash | control;
        if stops != 0 {
            let end = at + (stops.trailing_zeros() / 8) as usize;
            return (bytes[end] == b'"').then_some(end);
        }
        at += 8;
    }
    loop {
        match *bytes.get(at)? {
            b'"' => return Some(at),
            b'\\' | 0..=0x1f => return None,
            _ => at += 1,
        }
    }
}

/// Whether `bytes` holds `key` at `at`. PERF: eight bytes at a time, inline: `starts_with`'s
/// call to `memcmp` took ~10 % of the time on keys this short.
#[inline(always)]
pub(crate) fn same_bytes(bytes: &[u8], at: usize, key: &[u8]) -> bool {
    let Some(here) = bytes.get(at..at + key.len()) else {
        return false;
    };
    let word =
        |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
    if key.len() < 8 {
        return here == key;
    }
    let mut i = 0;
    while i + 8 <= key.len() {
        if word(here, i) != word(key, i) {
            return false;
        }
        i += 8;
    }
    // The last eight bytes, overlapping the words compared.
    let last = key.len() - 8;
    word(here, last) == word(key, last)
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
pub(crate) fn record_of_object(
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
    use proptest::prelude::*;

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
    fn the_keys_of_the_line_before_change_no_answer() {
        let lines = [
            SAMPLE,
            SAMPLE,
            r#"{"account-id":"1","action":"REJECT","bytes":"2","direction":"in"}"#,
            r#"{"account-id":"1","action-x":"REJECT","bytes":"2","direction":"in"}"#,
            r#"{"account-id":"1","action":"REJECT","bytes":"2","direction":"in"}"#,
            r#"{"account-id":"1","action" : "ACCEPT","bytes":3}"#,
            r#"{"account-id":"1","action":"ACCEPT","bytes":"3","direction":"in","x":"y"}"#,
            r#"{"account-id":"1","actio"}"#,
            r#"{"account-id":"1","action"#,
            r#"{"account-id":"1","action1":"ACCEPT"}"#,
            r#"{"account-id":"1","action":"ACCEPT","eni-id":"eni-2"}"#,
            r#"{"eni-id":"eni-3","action":"ACCEPT","account-id":"1"}"#,
            r#"{"eni-id":"eni-3"}"#,
            r#"{"eni-id":"eni-3","eni-id":"eni-4"}"#,
            SAMPLE,
        ];
        let mut layout = KeyLayout::default();
        for _ in 0..2 {
            for line in lines {
                let fresh = scan_line(line.as_bytes());
                assert_eq!(
                    scan_line_with(line.as_bytes(), &mut layout),
                    fresh,
                    "{line}"
                );
                if let Some(fast) = fresh {
                    let scratch = Box::leak(Box::new(None));
                    assert_eq!(
                        Ok(fast),
                        parse_line_serde(line.as_bytes(), scratch),
                        "{line}"
                    );
                }
            }
        }
    }

    /// serde_json keeps one value per key and is read in key order, so of `log-status` and
    /// `log_status` the latter wins wherever it stands; the scanner leaves such lines to it.
    #[test]
    fn a_field_given_twice_goes_to_serde_json() {
        for line in [
            r#"{"log_status":"","log-status":"."}"#,
            r#"{"log-status":".","log_status":""}"#,
            r#"{"eni_id":"a","eni-id":"b"}"#,
            r#"{"eni-id":"a","eni-id":"b"}"#,
        ] {
            assert_eq!(scan_line(line.as_bytes()), None, "{line}");
            assert_eq!(
                scan_bytewise(line.as_bytes(), &mut KeyLayout::default()),
                None
            );
        }
        let mut scratch = None;
        let record = parse_line(
            br#"{"log_status":"","log-status":"."}"#,
            &mut KeyLayout::default(),
            &mut scratch,
        )
        .unwrap();
        assert_eq!(record.get(Field::LogStatus), Value::Absent);
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

    /// The three readers of a line: the scanner (with `layout`), the byte-wise scanner alone,
    /// and serde_json. The scanner answers as the byte-wise one does, and where they answer,
    /// as serde_json does.
    fn agree(line: &[u8], layout: &mut KeyLayout) -> Option<RawRecord<'static>> {
        let line: &'static [u8] = Box::leak(line.to_vec().into_boxed_slice());
        let fast = scan_line_with(line, layout);
        let bytewise = scan_bytewise(line, &mut KeyLayout::default());
        let shown = String::from_utf8_lossy(line);
        assert_eq!(fast, bytewise, "{shown}");
        if let Some(fast) = fast {
            let scratch = Box::leak(Box::new(None));
            assert_eq!(Ok(fast), parse_line_serde(line, scratch), "{shown}");
        }
        fast
    }

    /// [`scan_plain`]'s record, or `None`.
    fn plain_of<'a>(
        plain: &structural::PlainLine<'a, '_>,
        layout: &mut KeyLayout,
    ) -> Option<RawRecord<'a>> {
        let mut record = RawRecord::default();
        scan_plain(plain, layout, &mut record).map(|()| record)
    }

    /// [`scan_known`]'s record, or `None`.
    fn known_of<'a>(plain: &structural::PlainLine<'a, '_>, keys: &[Key]) -> Option<RawRecord<'a>> {
        let mut record = RawRecord::default();
        scan_known(plain, keys, &mut record).map(|()| record)
    }

    #[test]
    fn the_plain_path_reads_the_sample() {
        let mut room = structural::EMPTY_BITMAP;
        let plain = structural::PlainLine::new(SAMPLE.as_bytes(), &mut room).unwrap();
        let mut layout = KeyLayout::default();
        for _ in 0..2 {
            let record = plain_of(&plain, &mut layout);
            assert_eq!(record, scan_line(SAMPLE.as_bytes()));
            assert!(record.is_some());
        }
    }

    #[test]
    fn the_known_keys_path_reads_the_sample_and_leaves_the_rest() {
        let mut layout = KeyLayout::default();
        let mut room = structural::EMPTY_BITMAP;
        let plain = structural::PlainLine::new(SAMPLE.as_bytes(), &mut room).unwrap();
        assert_eq!(known_of(&plain, &layout.keys), None, "no keys learnt yet");
        scan_line_with(SAMPLE.as_bytes(), &mut layout).unwrap();
        let record = known_of(&plain, &layout.keys);
        assert_eq!(record, scan_line(SAMPLE.as_bytes()));
        assert!(record.is_some());
        let fewer = r#"{"account-id":"1210123456******","action":"REJECT"}"#;
        let mut room = structural::EMPTY_BITMAP;
        let plain = structural::PlainLine::new(fewer.as_bytes(), &mut room).unwrap();
        assert_eq!(known_of(&plain, &layout.keys), scan_line(fewer.as_bytes()));
        for other in [
            r#"{"account-id":"1","action":"REJECT"} "#,
            r#" {"account-id":"1","action":"REJECT"}"#,
            r#"{"account-id":"1","action": "REJECT"}"#,
            r#"{"account-id":"1","action":1}"#,
            r#"{"account-id":"1","actio":"REJECT"}"#,
            r#"{"account-id":"1","action":"REJECT"}}"#,
            r#"{"account-id":"1","action":"REJECT","#,
        ] {
            let mut room = structural::EMPTY_BITMAP;
            let plain = structural::PlainLine::new(other.as_bytes(), &mut room).unwrap();
            assert_eq!(known_of(&plain, &layout.keys), None, "{other}");
        }
    }

    /// A backslash, a control byte or a non-ASCII byte in place of, or before, each byte of a
    /// record (so at every position relative to the 16- and 64-byte chunks): the line leaves the
    /// plain path and gets the byte-wise scanner's and serde_json's answer.
    #[test]
    fn unusual_bytes_anywhere_get_the_bytewise_answer() {
        let sample = SAMPLE.as_bytes();
        let mut layout = KeyLayout::default();
        let mut answered = 0;
        for at in 0..=sample.len() {
            for unusual in [
                &b"\\\\"[..],
                b"\\\"",
                b"\\u0041",
                b"\\n",
                b"\\",
                b"\t",
                b" ",
                b"\r",
                b"\n",
                b"\x01",
                b"\x7f",
                "\u{e9}".as_bytes(),
                b"\xc3",
                b"\"",
                b"\"\"",
            ] {
                let mut inserted = sample.to_vec();
                inserted.splice(at..at, unusual.iter().copied());
                answered += usize::from(agree(&inserted, &mut layout).is_some());
                if at < sample.len() {
                    let mut replaced = sample.to_vec();
                    replaced.splice(at..at + 1, unusual.iter().copied());
                    answered += usize::from(agree(&replaced, &mut layout).is_some());
                }
                agree(sample, &mut layout).expect("the sample reads");
            }
        }
        // Escapes and spaces inside strings, and spaces between tokens, are read, not refused.
        assert!(answered > 1000, "{answered}");
    }

    /// Records of flow-log keys in any order, with values from an alphabet of the plain and
    /// the unusual (escapes, spaces, non-ASCII, numbers, nesting), with spaces between tokens.
    fn line() -> impl Strategy<Value = Vec<u8>> {
        let key = proptest::sample::select(vec![
            "eni-id",
            "direction",
            "protocol",
            "srcaddr",
            "srcport",
            "dstaddr",
            "dstport",
            "action",
            "packets",
            "bytes",
            "start",
            "end",
            "tcp-flags",
            "log-status",
            "log_status",
            "version",
            "vm-id",
            "__time__",
            "__tag__:__path__",
            "eni-i",
            "x",
            "",
        ]);
        let value = prop_oneof![
            4 => "[a-z0-9.:*-]{0,20}".prop_map(|s| format!("\"{s}\"")),
            1 => "[ -~\u{e9}\\\\\t]{0,12}".prop_map(|s| format!("\"{s}\"")),
            1 => prop_oneof![
                Just("null".to_string()),
                Just("-0".to_string()),
                Just("0".to_string()),
                Just("1.5".to_string()),
                Just("[1]".to_string()),
                Just("{\"a\":\"b\"}".to_string()),
                Just("\"\\u0041\"".to_string()),
                Just("99999999999999999999".to_string()),
                (-1000i64..1_000_000).prop_map(|n| n.to_string()),
            ],
        ];
        let space = proptest::sample::select(vec!["", "", "", " ", "  ", "\t", "\r\n"]);
        let pair = (key, space.clone(), space.clone(), value, space.clone());
        (proptest::collection::vec(pair, 0..24), space.clone(), space).prop_map(
            |(pairs, before, after)| {
                let mut line = format!("{before}{{");
                for (i, (key, s1, s2, value, s3)) in pairs.iter().enumerate() {
                    if i > 0 {
                        line.push(',');
                    }
                    line.push_str(&format!("{s1}\"{key}\"{s2}:{s3}{value}"));
                }
                line.push_str(&format!("}}{after}"));
                line.into_bytes()
            },
        )
    }

    /// Compact records of a prefix of one key order, as an export writes them (so that a line
    /// often has the keys of the line before), with values from the same alphabet.
    fn compact_line() -> impl Strategy<Value = Vec<u8>> {
        const ORDER: [&str; 9] = [
            "version",
            "eni-id",
            "srcaddr",
            "srcport",
            "dstaddr",
            "protocol",
            "end",
            "log-status",
            "tcp-flags",
        ];
        let value = prop_oneof![
            6 => "[a-z0-9.:*-]{0,20}".prop_map(|s| format!("\"{s}\"")),
            1 => "[ -~\u{e9}\\\\]{0,6}".prop_map(|s| format!("\"{s}\"")),
            1 => (-1000i64..1_000_000).prop_map(|n| n.to_string()),
        ];
        (proptest::collection::vec(value, 0..=ORDER.len()), 0..3usize).prop_map(|(values, end)| {
            let pairs: Vec<String> = ORDER
                .iter()
                .zip(&values)
                .map(|(key, value)| format!("\"{key}\":{value}"))
                .collect();
            let end = ["}", "} ", "},"][end];
            format!("{{{}{end}", pairs.join(",")).into_bytes()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Compact lines of one key order, one after another: the scanner's known-keys path
        /// answers as the byte-wise scanner and serde_json do.
        #[test]
        fn compact_lines_agree(lines in proptest::collection::vec(compact_line(), 1..12)) {
            let mut layout = KeyLayout::default();
            for line in &lines {
                agree(line, &mut layout);
            }
        }

        /// Generated lines, read one after another (as a block reads them): the scanner, the
        /// byte-wise scanner and serde_json agree.
        #[test]
        fn generated_lines_agree(lines in proptest::collection::vec(line(), 1..8)) {
            let mut layout = KeyLayout::default();
            for line in &lines {
                agree(line, &mut layout);
            }
        }
    }

    #[test]
    fn bad_lines_name_what_was_expected() {
        let err = parse_line(b"172.16.XX.XX", &mut KeyLayout::default(), &mut None).unwrap_err();
        assert!(err.to_string().contains("one JSON object"), "{err}");
        let err =
            parse_line(br#"{"bytes":[1]}"#, &mut KeyLayout::default(), &mut None).unwrap_err();
        assert_eq!(err.field, "bytes");
    }
}
