//! The page headers of a Parquet column chunk, read ahead of the `parquet` crate, so that a
//! damaged header is refused before the crate allocates what it claims.
//!
//! Why: before it decompresses a page, the crate allocates the uncompressed size the page's
//! header claims (an `i32`), and for snappy and lz4 pages fills it with zeros, however small
//! the page. The fuzz target `flowlog_parquet` found a 7 KB file whose header claims 2 GB
//! (`fuzz/artifacts-kept/flowlog_parquet/page-claims-2-gb.parquet`). The crate keeps its
//! header reader private, and the `thrift` crate's compact protocol allocates the length a
//! damaged string claims, so the headers are read here, in Thrift's compact protocol, without
//! allocating.
//!
//! The crate reads a header's fields by number whatever type the field says it has; this walk
//! holds them to Parquet's schema, so that no header is read one way here and another way
//! there. A header that is not as the schema writes it is refused as damaged. Offsets outside
//! the file are left to the crate, which reports them.

use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::ChunkReader;

/// The most bytes one page may hold uncompressed: an OSS shipping object holds at most
/// 256 MiB uncompressed, so no page of a shipped log holds more.
const MAX_PAGE_BYTES: i32 = 256 << 20;

/// What a page may hold whatever its chunk's metadata says: writers cut pages at about 1 MiB.
const USUAL_PAGE_BYTES: i64 = 8 << 20;

/// The longest page header read (headers are tens of bytes; statistics make some longer).
const MAX_HEADER_BYTES: usize = 1 << 20;

/// Checks that every page header of `chunk` (a column chunk of `input`, the column `name`) is
/// one, and that none claims more bytes uncompressed than the chunk's metadata gives all its
/// pages together (but at least [`USUAL_PAGE_BYTES`]), nor more than [`MAX_PAGE_BYTES`].
pub(super) fn check_page_sizes<R: ChunkReader>(
    input: &R,
    chunk: &ColumnChunkMetaData,
    name: &str,
) -> Result<(), String> {
    let start = chunk
        .dictionary_page_offset()
        .unwrap_or(chunk.data_page_offset());
    let (Ok(mut offset), Ok(length)) =
        (u64::try_from(start), u64::try_from(chunk.compressed_size()))
    else {
        return Ok(());
    };
    let Some(end) = offset.checked_add(length).filter(|&end| end <= input.len()) else {
        return Ok(());
    };
    // A writer that left the chunk's total out (or wrote it too small) still gets pages of
    // the usual size.
    let limit = chunk
        .uncompressed_size()
        .clamp(USUAL_PAGE_BYTES, MAX_PAGE_BYTES.into());
    while offset < end {
        let header = match read_header(input, offset, end) {
            None => return Ok(()),
            Some(Err(Damaged)) => {
                return Err(format!(
                    "column {name:?}: the bytes at {offset} are not a page header: not a readable Parquet file (damaged?)"
                ))
            }
            Some(Ok(header)) => header,
        };
        if i64::from(header.uncompressed_size) > limit {
            return Err(format!(
                "column {name:?}: the page at byte {offset} claims {} bytes uncompressed, where its column chunk holds {} in all (sgsim reads pages of up to 8 MiB, or up to their chunk's size, at most 256 MiB): not a readable Parquet file (damaged?)",
                header.uncompressed_size,
                chunk.uncompressed_size(),
            ));
        }
        let Ok(compressed) = u64::try_from(header.compressed_size) else {
            return Ok(());
        };
        offset = offset
            .saturating_add(header.length as u64)
            .saturating_add(compressed);
    }
    Ok(())
}

/// What the walk needs of a page header.
#[derive(Debug, PartialEq, Eq)]
struct PageHeader {
    /// The header's own length in bytes.
    length: usize,
    uncompressed_size: i32,
    compressed_size: i32,
}

/// The header at `offset`, read from as few bytes as hold it (never beyond `end`); `None` if
/// the file cannot be read there (left to the crate).
fn read_header<R: ChunkReader>(
    input: &R,
    offset: u64,
    end: u64,
) -> Option<Result<PageHeader, Damaged>> {
    let available = usize::try_from(end - offset).unwrap_or(usize::MAX);
    let mut fetch = 256;
    loop {
        let length = fetch.min(available);
        let bytes = input.get_bytes(offset, length).ok()?;
        match parse_header(&bytes) {
            Ok(header) => return Some(Ok(header)),
            Err(Unreadable::Incomplete) if length < available && fetch < MAX_HEADER_BYTES => {
                fetch *= 16
            }
            Err(_) => return Some(Err(Damaged)),
        }
    }
}

/// A page header the crate would not read as one, or would read another way than this walk.
#[derive(Debug, PartialEq, Eq)]
struct Damaged;

#[derive(Debug, PartialEq, Eq)]
enum Unreadable {
    /// The bytes end before the header does.
    Incomplete,
    /// Not a page header.
    Damaged,
}

/// The structs of a page header the crate reads field by field (their statistics it skips).
#[derive(Clone, Copy, Debug)]
enum Struct {
    PageHeader,
    DataPageHeader,
    IndexPageHeader,
    DictionaryPageHeader,
    DataPageHeaderV2,
}

/// How the crate reads a field of a [`Struct`].
#[derive(Clone, Copy, Debug)]
enum Read {
    /// A varint, whatever type the field says it has.
    I32,
    /// The field's type is its value: it must be a boolean type.
    Bool,
    /// A struct, whatever type the field says it has.
    Struct(Struct),
    /// Skipped as the type it says it has.
    Skip,
}

impl Struct {
    fn field(self, id: i16) -> Read {
        use Struct::*;
        match (self, id) {
            (PageHeader, 1..=4) => Read::I32,
            (PageHeader, 5) => Read::Struct(DataPageHeader),
            (PageHeader, 6) => Read::Struct(IndexPageHeader),
            (PageHeader, 7) => Read::Struct(DictionaryPageHeader),
            (PageHeader, 8) => Read::Struct(DataPageHeaderV2),
            (DataPageHeader, 1..=4) | (DictionaryPageHeader, 1 | 2) => Read::I32,
            (DataPageHeaderV2, 1..=6) => Read::I32,
            (DictionaryPageHeader, 3) | (DataPageHeaderV2, 7) => Read::Bool,
            _ => Read::Skip,
        }
    }
}

/// A `PageHeader` in Thrift's compact protocol: its length and fields 2
/// (`uncompressed_page_size`) and 3 (`compressed_page_size`).
fn parse_header(bytes: &[u8]) -> Result<PageHeader, Unreadable> {
    let mut reader = Compact { bytes, at: 0 };
    let (mut uncompressed_size, mut compressed_size) = (None, None);
    reader.read_struct(Struct::PageHeader, &mut |id, value| match id {
        2 => uncompressed_size = Some(value),
        3 => compressed_size = Some(value),
        _ => {}
    })?;
    match (uncompressed_size, compressed_size) {
        (Some(uncompressed_size), Some(compressed_size)) => Ok(PageHeader {
            length: reader.at,
            uncompressed_size,
            compressed_size,
        }),
        _ => Err(Unreadable::Damaged),
    }
}

// Thrift compact protocol type codes (a field's boolean is its type: true or false).
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

/// How deep the crate skips nested values.
const MAX_DEPTH: u8 = 64;

/// A cursor over compact-protocol bytes, reading them as the crate's reader does (see the
/// module's documentation): where this reads a value the crate would refuse, the crate
/// refuses it before it allocates anything.
struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, Unreadable> {
        let byte = *self.bytes.get(self.at).ok_or(Unreadable::Incomplete)?;
        self.at += 1;
        Ok(byte)
    }

    fn advance(&mut self, count: u64) -> Result<(), Unreadable> {
        let left = (self.bytes.len() - self.at) as u64;
        if count > left {
            return Err(Unreadable::Incomplete);
        }
        self.at += count as usize;
        Ok(())
    }

    /// An unsigned LEB128 varint, of any length, bits past 64 wrapping as the crate's do.
    fn varint(&mut self) -> Result<u64, Unreadable> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift = shift.wrapping_add(7);
        }
    }

    /// A zigzag varint, kept to its low bits by the caller (`as i32`, `as i16`) as the crate
    /// does.
    fn zigzag(&mut self) -> Result<i64, Unreadable> {
        let value = self.varint()?;
        Ok((value >> 1) as i64 ^ -((value & 1) as i64))
    }

    /// A field's type and id, `None` at the struct's stop (any type code 0, as the crate
    /// takes it).
    fn field(&mut self, last_id: i16) -> Result<Option<(u8, i16)>, Unreadable> {
        let header = self.byte()?;
        let kind = header & 0x0f;
        if kind == 0 {
            return Ok(None);
        }
        if kind > UUID {
            return Err(Unreadable::Damaged);
        }
        let id = match header >> 4 {
            0 => self.zigzag()? as i16,
            delta => last_id
                .checked_add(delta.into())
                .ok_or(Unreadable::Damaged)?,
        };
        Ok(Some((kind, id)))
    }

    /// The fields of a `schema` struct up to its stop, `each` told the value of every `i32`
    /// field of this struct.
    fn read_struct(
        &mut self,
        schema: Struct,
        each: &mut dyn FnMut(i16, i32),
    ) -> Result<(), Unreadable> {
        let mut last_id = 0;
        while let Some((kind, id)) = self.field(last_id)? {
            match schema.field(id) {
                Read::I32 => each(id, self.zigzag()? as i32),
                Read::Bool if matches!(kind, TRUE | FALSE) => {}
                Read::Bool => return Err(Unreadable::Damaged),
                Read::Struct(nested) => self.read_struct(nested, &mut |_, _| {})?,
                Read::Skip => self.skip(kind, MAX_DEPTH)?,
            }
            last_id = id;
        }
        Ok(())
    }

    /// Skips a value of type `kind`, at most `depth` levels deep.
    fn skip(&mut self, kind: u8, depth: u8) -> Result<(), Unreadable> {
        if depth == 0 {
            return Err(Unreadable::Damaged);
        }
        match kind {
            TRUE | FALSE => {}
            BYTE => self.advance(1)?,
            I16 | I32 | I64 => {
                self.varint()?;
            }
            DOUBLE => self.advance(8)?,
            UUID => self.advance(16)?,
            BINARY => {
                let length = self.varint()?;
                if length > i32::MAX as u64 {
                    return Err(Unreadable::Damaged);
                }
                self.advance(length)?;
            }
            LIST | SET => {
                let header = self.byte()?;
                if header != 0 {
                    let count = match header >> 4 {
                        15 => self.varint()?,
                        count => count.into(),
                    };
                    // Each element takes at least a byte (booleans too, in a list): a count
                    // beyond the bytes left runs out of them, one element at a time.
                    for _ in 0..count {
                        self.skip_element(header & 0x0f, depth - 1)?;
                    }
                }
            }
            MAP => {
                let count = self.varint()?;
                if count > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..count {
                        self.skip_element(kinds >> 4, depth - 1)?;
                        self.skip_element(kinds & 0x0f, depth - 1)?;
                    }
                }
            }
            STRUCT => {
                let mut last_id = 0;
                while let Some((kind, id)) = self.field(last_id)? {
                    self.skip(kind, depth - 1)?;
                    last_id = id;
                }
            }
            _ => return Err(Unreadable::Damaged),
        }
        Ok(())
    }

    /// A collection's element: as [`Compact::skip`], but a boolean is a byte of its own.
    fn skip_element(&mut self, kind: u8, depth: u8) -> Result<(), Unreadable> {
        match kind {
            TRUE | FALSE => self.advance(1),
            _ => self.skip(kind, depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: u8 = 0;

    /// A compact-protocol varint.
    fn varint(mut value: u64, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn zigzag_i64(value: i64) -> u64 {
        ((value << 1) ^ (value >> 63)) as u64
    }

    /// A data page header as writers lay it out (type, sizes, a `DataPageHeader` struct with
    /// statistics holding a binary minimum `minimum` bytes long), and fields the schema does
    /// not have: a list of i32s, a boolean, and a list of booleans under a long field id.
    fn header(uncompressed: i32, compressed: i32, minimum: usize) -> Vec<u8> {
        let field = |delta: u8, kind: u8| delta << 4 | kind;
        let mut out = Vec::new();
        for value in [0, uncompressed, compressed] {
            out.push(field(1, I32)); // fields 1 (type), 2 and 3
            varint(zigzag_i64(value.into()), &mut out);
        }
        out.push(field(2, STRUCT)); // field 5: DataPageHeader
        for value in [1000, 8] {
            out.push(field(1, I32)); // num_values, encoding
            varint(zigzag_i64(value), &mut out);
        }
        out.push(field(3, STRUCT)); // field 5: statistics
        out.push(field(6, BINARY)); // field 6: min_value
        varint(minimum as u64, &mut out);
        out.extend(std::iter::repeat_n(b'a', minimum));
        out.push(field(3, LIST)); // field 9, unknown
        out.push(3 << 4 | I32);
        for n in [1, -2, 3] {
            varint(zigzag_i64(n), &mut out);
        }
        out.push(STOP); // statistics
        out.push(field(4, TRUE)); // field 9, unknown
        out.push(STOP); // DataPageHeader
        out.push(field(0, LIST)); // the long form: the id follows as a zigzag varint
        varint(zigzag_i64(20), &mut out);
        out.push(15 << 4 | TRUE); // 15: the count follows
        varint(17, &mut out);
        out.extend([1; 17]);
        out.push(STOP);
        out
    }

    #[test]
    fn reads_the_sizes_and_length_of_a_header_with_nested_fields() {
        for minimum in [0, 5, 300] {
            let bytes = header(1 << 20, 4000, minimum);
            assert_eq!(
                parse_header(&bytes),
                Ok(PageHeader {
                    length: bytes.len(),
                    uncompressed_size: 1 << 20,
                    compressed_size: 4000
                })
            );
            // Cut anywhere, it is incomplete, never misread.
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse_header(&bytes[..cut]),
                    Err(Unreadable::Incomplete),
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_string_claiming_more_than_is_there_is_incomplete_not_allocated() {
        let mut bytes = vec![0x98]; // field 9 (unknown), binary
        varint(i32::MAX as u64, &mut bytes);
        assert_eq!(parse_header(&bytes), Err(Unreadable::Incomplete));
    }

    /// Type, uncompressed and compressed size as writers write them, then `extra`.
    fn sizes(extra: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x15, 0, 0x15, 2, 0x15, 2];
        bytes.extend(extra);
        bytes
    }

    /// Read as the crate reads them, however unusual.
    #[test]
    fn odd_headers_are_read_as_the_crate_reads_them() {
        let read = |extra: &[u8]| parse_header(&sizes(extra)).map(|h| h.uncompressed_size);
        // The fuzzer's: after a DictionaryPageHeader, a long-form field 2 again, whose 5-byte
        // varint the crate keeps the low 32 bits of: 2 GB.
        let fuzzed = [
            0x7c, 0x15, 0x0a, 0x15, 0, 0x12, 0, // field 7: DictionaryPageHeader
            0x01, 0, // a long-form boolean field 0
            0x25, 0xed, 0xd2, 0x91, 0xe3, 0x50, 0, // field 2 (delta 2)
        ];
        assert_eq!(read(&fuzzed), Ok(2_043_530_057));
        // A stop byte with a delta is a stop.
        assert_eq!(read(&[0x60]), Ok(1));
        // A size field typed binary is read as a varint all the same.
        assert_eq!(read(&[0x08, 0x04, 0x07, 0]), Ok(-4));
    }

    /// What the crate refuses before it allocates, so this walk may refuse it too.
    #[test]
    fn headers_the_crate_refuses_are_damaged() {
        let cases: [(&str, Vec<u8>); 5] = [
            ("an unknown type code", sizes(&[0x1e, 0])),
            ("a header without sizes", vec![0x15, 0, 0]),
            ("a string longer than i32::MAX", {
                let mut bytes = sizes(&[0x98]);
                varint(1 << 31, &mut bytes);
                bytes
            }),
            ("nesting too deep", {
                let mut bytes = sizes(&[0x9c]); // field 9 (unknown), struct
                bytes.extend(std::iter::repeat_n(0x1c, 70));
                bytes.extend(std::iter::repeat_n(0, 72));
                bytes
            }),
            (
                "a DictionaryPageHeader whose is_sorted is an i32",
                sizes(&[0x4c, 0x35, 0, 0, 0]),
            ),
        ];
        for (what, bytes) in cases {
            assert_eq!(parse_header(&bytes), Err(Unreadable::Damaged), "{what}");
        }
        assert!(parse_header(&sizes(&[0])).is_ok());
    }
}
