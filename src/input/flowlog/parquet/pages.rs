//! Parquet column chunks decoded page by page into dictionary keys, below Arrow.
//!
//! PERF: the Arrow reader spent a quarter of `sgsim replay`'s CPU on a Parquet file (10 M
//! records): gathering INT64 dictionary values into arrays, spreading them over the null rows
//! (`pad_nulls`), zeroing buffers, and building a dictionary per batch for pages written PLAIN
//! after the writer's dictionary overflowed. Here a column of a block is a key per row into
//! tables of [`Entry`]s: the column chunk's dictionary, interpreted once (a data page's
//! dictionary indices are the keys as they are), and the block's own entries for values of
//! PLAIN pages. Nulls take the dictionary's trailing `Absent` entry, so no validity bits are
//! kept.
//!
//! Only what flat flow-log columns need is decoded: definition levels (optional columns) and
//! values PLAIN or dictionary-encoded (PLAIN_DICTIONARY, RLE_DICTIONARY), of BYTE_ARRAY
//! strings, INT64 and INT32 columns, in data pages v1 and v2. A file with anything else (other
//! encodings or integer types) is read by the Arrow reader ([`usable`]). Pages come
//! decompressed from the `parquet` crate's page reader; the RLE/bit-packed hybrid that
//! dictionary indices and levels are written in is decoded here ([`Hybrid`]), as the crate
//! keeps its decoder to its `experimental` feature.

use super::{classify_text, int_entry, Entry, FIELD_COUNT};
use crate::input::flowlog::Field;
use bytes::Bytes;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::file::metadata::ParquetMetaData;
use std::net::IpAddr;
use std::sync::Arc;

/// Keys with this bit set are into the block's own table ([`KeyColumn::local`]).
pub(super) const LOCAL: u32 = 1 << 31;

/// A column's values as the record fields read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Int64,
    Int32,
}

/// Interpreted values: a column chunk's dictionary, or a block's values from PLAIN pages.
#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) entries: Vec<Entry>,
    /// The addresses its [`Entry::Ip`] entries point into.
    pub(super) addresses: Vec<IpAddr>,
    /// Text columns: the values, one after the other, and where each ends.
    texts: String,
    ends: Vec<u32>,
    /// Integer columns: the values.
    ints: Vec<i64>,
}

impl Table {
    /// A dictionary of no values: only the trailing `Absent` that null rows take.
    fn empty_dictionary() -> Table {
        Table {
            entries: vec![Entry::Absent],
            ..Table::default()
        }
    }

    /// The `index`th value's text (text columns).
    pub(super) fn text(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        &self.texts[start..self.ends[index] as usize]
    }

    /// The values (integer columns): as many as the entries but the trailing `Absent` of a
    /// dictionary.
    pub(super) fn ints(&self) -> &[i64] {
        &self.ints
    }

    /// The `index`th value (integer columns).
    pub(super) fn int(&self, index: usize) -> i64 {
        self.ints[index]
    }

    /// Appends a value as the field reads it; `tag` marks its addresses' indices as this
    /// table's (0 for a dictionary, [`LOCAL`] for a block's own table).
    fn push_text(&mut self, field: Field, text: &str, tag: u32) {
        let entry = classify_text(field, text, &mut self.addresses, tag);
        self.entries.push(entry);
        self.texts.push_str(text);
        self.ends.push(self.texts.len() as u32);
    }

    /// Appends an IPv6 address already parsed from `text` (a block's own table).
    fn push_address(&mut self, address: IpAddr, text: &str) {
        self.addresses.push(address);
        self.entries
            .push(Entry::Ip((self.addresses.len() as u32 - 1) | LOCAL));
        self.texts.push_str(text);
        self.ends.push(self.texts.len() as u32);
    }

    fn push_int(&mut self, value: i64) {
        self.entries.push(int_entry(value));
        self.ints.push(value);
    }
}

/// One column of a block: a key per row into [`KeyColumn::dictionary`], or with [`LOCAL`]
/// set into [`KeyColumn::local`].
pub(super) struct KeyColumn {
    pub(super) keys: Vec<u32>,
    pub(super) dictionary: Arc<Table>,
    pub(super) local: Table,
    pub(super) kind: Kind,
}

/// Whether the pages of these columns can be read here: flat (at most one definition level),
/// strings, INT64 or INT32 as Arrow reads them (`types`, per column index: the Arrow type is a
/// string, Int64 or Int32), in the encodings [`ColumnReader`] decodes.
pub(super) fn usable(metadata: &ParquetMetaData, columns: &[(usize, Kind)]) -> bool {
    let schema = metadata.file_metadata().schema_descr();
    // Only top-level leaves: then a column's index among the leaves is its Arrow field's.
    let flat = schema.num_columns() == schema.root_schema().get_fields().len()
        && (0..schema.num_columns()).all(|i| schema.column(i).path().parts().len() == 1);
    flat && columns.iter().all(|&(index, kind)| {
        let column = schema.column(index);
        let physical = match kind {
            Kind::Text => PhysicalType::BYTE_ARRAY,
            Kind::Int64 => PhysicalType::INT64,
            Kind::Int32 => PhysicalType::INT32,
        };
        column.physical_type() == physical
            && column.max_rep_level() == 0
            && column.max_def_level() <= 1
            && metadata.row_groups().iter().all(|group| {
                group.column(index).encodings().all(|encoding| {
                    matches!(
                        encoding,
                        Encoding::PLAIN
                            | Encoding::RLE
                            | Encoding::PLAIN_DICTIONARY
                            | Encoding::RLE_DICTIONARY
                    )
                })
            })
    })
}

/// Opens the page reader of a column chunk: (row group, column index).
pub(super) type OpenPages =
    Box<dyn Fn(usize, usize) -> parquet::errors::Result<Box<dyn PageReader>> + Send>;

/// The blocks of a file whose columns are [`usable`].
pub(super) struct PageBlocks {
    open: OpenPages,
    /// Rows per row group.
    groups: Vec<usize>,
    /// The next row group to open.
    next_group: usize,
    /// Rows left in the open row group.
    rows_left: usize,
    columns: Vec<ColumnReader>,
    next_row: u64,
    batch_rows: usize,
}

impl PageBlocks {
    /// `columns`: per field read, its column index and kind.
    pub(super) fn new(
        open: OpenPages,
        metadata: &ParquetMetaData,
        columns: &[(Field, usize, Kind)],
        batch_rows: usize,
    ) -> PageBlocks {
        let schema = metadata.file_metadata().schema_descr();
        PageBlocks {
            open,
            groups: metadata
                .row_groups()
                .iter()
                .map(|group| group.num_rows().max(0) as usize)
                .collect(),
            next_group: 0,
            rows_left: 0,
            columns: columns
                .iter()
                .map(|&(field, index, kind)| ColumnReader {
                    field,
                    index,
                    kind,
                    max_def: schema.column(index).max_def_level(),
                    pages: None,
                    dictionary: Arc::new(Table::empty_dictionary()),
                    has_dictionary: false,
                    page: None,
                    ipv6: Default::default(),
                    levels: Vec::new(),
                    values: Vec::new(),
                })
                .collect(),
            next_row: 1,
            batch_rows,
        }
    }

    /// The next block's columns (by field), its first row and its length; `None` at the end.
    /// A block stays within one row group.
    #[allow(clippy::type_complexity)]
    pub(super) fn next_block(
        &mut self,
    ) -> Result<Option<([Option<KeyColumn>; FIELD_COUNT], u64, usize)>, String> {
        while self.rows_left == 0 {
            let Some(&rows) = self.groups.get(self.next_group) else {
                return Ok(None);
            };
            let group = self.next_group;
            self.next_group += 1;
            self.rows_left = rows;
            for column in &mut self.columns {
                column.pages = Some((self.open)(group, column.index).map_err(|err| {
                    format!("row group {group}, column {:?}: {err}", column.field.key())
                })?);
                column.dictionary = Arc::new(Table::empty_dictionary());
                column.has_dictionary = false;
                column.ipv6.clear();
                column.page = None;
            }
        }
        let rows = self.rows_left.min(self.batch_rows);
        let first_row = self.next_row;
        let mut columns = [const { None }; FIELD_COUNT];
        for column in &mut self.columns {
            let read = column.read(rows).map_err(|err| {
                format!("row {first_row}: column {:?}: {err}", column.field.key())
            })?;
            columns[column.field as usize] = Some(read);
        }
        self.rows_left -= rows;
        self.next_row += rows as u64;
        Ok(Some((columns, first_row, rows)))
    }
}

/// A column chunk being read.
struct ColumnReader {
    field: Field,
    index: usize,
    kind: Kind,
    max_def: i16,
    pages: Option<Box<dyn PageReader>>,
    /// The chunk's dictionary (an empty one until its dictionary page), and whether it had
    /// one.
    dictionary: Arc<Table>,
    has_dictionary: bool,
    /// The data page being read.
    page: Option<DataPage>,
    /// The IPv6 addresses of the chunk's PLAIN pages, by their text.
    ipv6: rustc_hash::FxHashMap<Box<[u8]>, IpAddr>,
    /// Scratch: a run of rows' definition levels, and the values of those with one.
    levels: Vec<u32>,
    values: Vec<u32>,
}

/// A data page being read.
struct DataPage {
    /// Rows (levels) left.
    left: usize,
    /// `None` for a required column.
    levels: Option<Hybrid>,
    values: Values,
}

enum Values {
    Dictionary(Hybrid),
    /// The page's buffer and the next value's offset.
    Plain(Bytes, usize),
}

impl ColumnReader {
    /// The next `rows` rows' keys.
    fn read(&mut self, rows: usize) -> Result<KeyColumn, String> {
        let mut keys = Vec::with_capacity(rows);
        let mut local = Table::default();
        while keys.len() < rows {
            let page = match &mut self.page {
                Some(page) if page.left > 0 => page,
                _ => {
                    self.next_page()?;
                    continue;
                }
            };
            let run = page.left.min(rows - keys.len());
            page.left -= run;
            let null_key = self.dictionary.entries.len() as u32 - 1;
            // The run's definition levels: how many of its rows have a value.
            let present = match &mut page.levels {
                None => run,
                Some(levels) => {
                    self.levels.clear();
                    levels.read(run, &mut self.levels)?;
                    let max = self.max_def as u32;
                    self.levels.iter().filter(|&&level| level == max).count()
                }
            };
            // The values go straight to the keys when every row has one, else first to
            // `values`, then spread over the rows.
            let mut values = std::mem::take(&mut self.values);
            values.clear();
            let out = if present == run {
                &mut keys
            } else {
                &mut values
            };
            let start = out.len();
            match &mut page.values {
                Values::Dictionary(indices) => {
                    indices.read(present, out)?;
                    // PERF: the greatest index, not the first bad one: a loop that vectorizes.
                    let greatest = out[start..].iter().fold(0, |max, &key| max.max(key));
                    if present > 0 && greatest >= null_key {
                        return Err(format!(
                            "dictionary index {greatest} past the dictionary's {null_key} values"
                        ));
                    }
                }
                Values::Plain(buffer, at) => {
                    for _ in 0..present {
                        let key = LOCAL | local.entries.len() as u32;
                        match self.kind {
                            Kind::Text => {
                                let value = plain_bytes(buffer, at)?;
                                let text = std::str::from_utf8(value).map_err(|_| {
                                    format!(
                                        "value {:?} is not UTF-8",
                                        String::from_utf8_lossy(value)
                                    )
                                })?;
                                match self.ipv6.get(value) {
                                    // PERF: an IPv6 address of a PLAIN page parsed once per
                                    // column chunk (parsing it was ~2000 instructions).
                                    Some(&address) => local.push_address(address, text),
                                    None => {
                                        local.push_text(self.field, text, LOCAL);
                                        if let Some(&Entry::Ip(index)) = local.entries.last() {
                                            let address =
                                                local.addresses[(index & !LOCAL) as usize];
                                            self.ipv6.insert(value.into(), address);
                                        }
                                    }
                                }
                            }
                            Kind::Int64 => local.push_int(i64::from_le_bytes(plain(buffer, at)?)),
                            Kind::Int32 => {
                                local.push_int(i32::from_le_bytes(plain(buffer, at)?).into())
                            }
                        }
                        out.push(key);
                    }
                }
            }
            if present < run {
                // PERF: without a branch per row (nulls fall anywhere: it mispredicted).
                values.push(null_key);
                let max = self.max_def as u32;
                let mut value = 0;
                for &level in &self.levels {
                    let has = usize::from(level == max);
                    keys.push(if has == 1 { values[value] } else { null_key });
                    value += has;
                }
            }
            self.values = values;
        }
        Ok(KeyColumn {
            keys,
            dictionary: self.dictionary.clone(),
            local,
            kind: self.kind,
        })
    }

    /// Moves to the chunk's next data page, reading a dictionary page on the way.
    fn next_page(&mut self) -> Result<(), String> {
        let pages = self.pages.as_mut().ok_or("no row group open")?;
        let page = pages
            .get_next_page()
            .map_err(|err| err.to_string())?
            .ok_or("the column chunk ends before its row group")?;
        let (buffer, rows, encoding, levels) = match page {
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                ..
            } => {
                if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                    return Err(format!(
                        "dictionary page encoded {encoding}: expected PLAIN"
                    ));
                }
                self.dictionary = Arc::new(self.dictionary(&buf, num_values as usize)?);
                self.has_dictionary = true;
                return Ok(());
            }
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                ..
            } => {
                let mut at = 0;
                let levels = if self.max_def > 0 {
                    if def_level_encoding != Encoding::RLE {
                        return Err(format!(
                            "definition levels encoded {def_level_encoding}: expected RLE"
                        ));
                    }
                    let length = u32::from_le_bytes(plain(&buf, &mut at)?) as usize;
                    let levels = buf
                        .get(at..at + length)
                        .ok_or("definition levels past the page's end")?;
                    at += length;
                    Some(Hybrid::new(buf.slice_ref(levels), 1))
                } else {
                    None
                };
                (buf.slice(at..), num_values as usize, encoding, levels)
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                ..
            } => {
                let from = rep_levels_byte_len as usize;
                let to = from + def_levels_byte_len as usize;
                if to > buf.len() {
                    return Err("definition levels past the page's end".to_string());
                }
                let levels = (self.max_def > 0).then(|| Hybrid::new(buf.slice(from..to), 1));
                (buf.slice(to..), num_values as usize, encoding, levels)
            }
        };
        let values = match encoding {
            Encoding::PLAIN => Values::Plain(buffer, 0),
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => {
                if !self.has_dictionary {
                    return Err("dictionary-encoded page without a dictionary page".to_string());
                }
                // A page of nulls only may leave out even the bit width.
                let width = buffer.first().copied().unwrap_or(0);
                if width > 32 {
                    return Err(format!(
                        "dictionary index bit width {width}: expected 0..32"
                    ));
                }
                Values::Dictionary(Hybrid::new(buffer.slice(1..), width))
            }
            other => {
                return Err(format!(
                    "page encoded {other}: expected PLAIN or dictionary encoding"
                ))
            }
        };
        self.page = Some(DataPage {
            left: rows,
            levels,
            values,
        });
        Ok(())
    }

    /// A dictionary page's values, interpreted, then the trailing `Absent` null rows take.
    fn dictionary(&self, buffer: &Bytes, count: usize) -> Result<Table, String> {
        let mut table = Table::default();
        let mut at = 0;
        for _ in 0..count {
            match self.kind {
                Kind::Text => {
                    let value = plain_bytes(buffer, &mut at)?;
                    let text = std::str::from_utf8(value).map_err(|_| {
                        format!(
                            "dictionary value {:?} is not UTF-8",
                            String::from_utf8_lossy(value)
                        )
                    })?;
                    table.push_text(self.field, text, 0);
                }
                Kind::Int64 => table.push_int(i64::from_le_bytes(plain(buffer, &mut at)?)),
                Kind::Int32 => table.push_int(i32::from_le_bytes(plain(buffer, &mut at)?).into()),
            }
        }
        table.entries.push(Entry::Absent);
        Ok(table)
    }
}

/// A PLAIN fixed-width value at `*at`.
fn plain<const N: usize>(buffer: &[u8], at: &mut usize) -> Result<[u8; N], String> {
    let bytes = buffer
        .get(*at..*at + N)
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or("a value past the page's end")?;
    *at += N;
    Ok(bytes)
}

/// A PLAIN BYTE_ARRAY value (its length, then its bytes) at `*at`.
fn plain_bytes<'a>(buffer: &'a [u8], at: &mut usize) -> Result<&'a [u8], String> {
    let length = u32::from_le_bytes(plain(buffer, at)?) as usize;
    let bytes = buffer
        .get(*at..*at + length)
        .ok_or("a value past the page's end")?;
    *at += length;
    Ok(bytes)
}

/// A reader of Parquet's RLE/bit-packed hybrid encoding (dictionary indices, levels): runs of
/// one repeated value, and runs of groups of 8 values of `width` bits, packed from the lowest
/// bit up.
struct Hybrid {
    data: Bytes,
    /// The next run's header.
    at: usize,
    width: u32,
    /// The current repeated run: values left, and its value.
    repeated: usize,
    value: u32,
    /// The current bit-packed run: values left (not yet in `group`), and the byte the next
    /// group starts at.
    packed: usize,
    byte: usize,
    /// A group unpacked, and how many of its values were read.
    group: [u32; 8],
    group_len: usize,
    group_read: usize,
}

impl Hybrid {
    fn new(data: Bytes, width: u8) -> Hybrid {
        Hybrid {
            data,
            at: 0,
            width: width.into(),
            repeated: 0,
            value: 0,
            packed: 0,
            byte: 0,
            group: [0; 8],
            group_len: 0,
            group_read: 0,
        }
    }

    /// Appends the next `count` values to `out`.
    ///
    /// PERF: appended, not written over a zeroed buffer (zeroing the keys was 2 % of the run).
    fn read(&mut self, count: usize, out: &mut Vec<u32>) -> Result<(), String> {
        let end = out.len() + count;
        out.reserve(count);
        while out.len() < end {
            let want = end - out.len();
            if self.group_read < self.group_len {
                let n = (self.group_len - self.group_read).min(want);
                out.extend_from_slice(&self.group[self.group_read..self.group_read + n]);
                self.group_read += n;
            } else if self.repeated > 0 {
                let n = self.repeated.min(want);
                out.extend(std::iter::repeat_n(self.value, n));
                self.repeated -= n;
            } else if self.packed >= 8 && want >= 8 {
                // Whole groups straight into `out`.
                let groups = self.packed.min(want) / 8;
                self.byte = unpack(&self.data, self.byte, self.width, groups, out);
                self.packed -= groups * 8;
            } else if self.packed > 0 {
                let mut group = Vec::with_capacity(8);
                self.byte = unpack(&self.data, self.byte, self.width, 1, &mut group);
                self.group[..8].copy_from_slice(&group);
                self.group_len = self.packed.min(8);
                self.group_read = 0;
                self.packed -= self.group_len;
            } else {
                self.next_run()?;
            }
        }
        Ok(())
    }

    fn next_run(&mut self) -> Result<(), String> {
        let mut header: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *self
                .data
                .get(self.at)
                .ok_or("encoded values end before the page's values")?;
            self.at += 1;
            header |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err("a run header longer than 64 bits".to_string());
            }
        }
        let count = usize::try_from(header >> 1).map_err(|_| "a run too long")?;
        let width = self.width as usize;
        if header & 1 == 1 {
            // Groups of 8 values; a last run may be cut short where the page ends.
            let bytes = count.saturating_mul(width);
            let available = self.data.len() - self.at;
            self.packed = count
                .saturating_mul(8)
                .min((available * 8).checked_div(width).unwrap_or(usize::MAX));
            self.byte = self.at;
            self.at = self.at.saturating_add(bytes).min(self.data.len());
        } else {
            let bytes = width.div_ceil(8);
            let value = self
                .data
                .get(self.at..self.at + bytes)
                .ok_or("encoded values end before the page's values")?;
            let mut word = [0u8; 4];
            word[..bytes].copy_from_slice(value);
            self.value = u32::from_le_bytes(word);
            self.at += bytes;
            self.repeated = count;
        }
        Ok(())
    }
}

/// Appends `groups` groups of 8 values of `width` bits packed from `data[byte..]` (zeros past
/// its end) to `out`; returns the byte after them.
///
/// PERF: a loop per width, so that the shifts are constants (unpacking a value at a time at
/// a variable width was a fifth of the decoding thread).
fn unpack(data: &[u8], byte: usize, width: u32, groups: usize, out: &mut Vec<u32>) -> usize {
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_width::<$w>(data, byte, groups, out),)*
                _ => out.extend(std::iter::repeat_n(0, groups * 8)),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    byte + groups * width as usize
}

#[inline(always)]
fn unpack_width<const W: usize>(data: &[u8], byte: usize, groups: usize, out: &mut Vec<u32>) {
    let mask = u64::from(u32::MAX >> (32 - W));
    for group in 0..groups {
        let at = byte + group * W;
        // A group takes W bytes; every value loads 8 bytes from its first: where the data
        // ends sooner, from a copy padded with zeros.
        let mut padded = [0u8; 40];
        let bytes = match data.get(at..at + W + 8) {
            Some(bytes) => bytes,
            None => {
                let tail = data.get(at..).unwrap_or_default();
                let n = tail.len().min(40);
                padded[..n].copy_from_slice(&tail[..n]);
                &padded[..]
            }
        };
        let mut values = [0u32; 8];
        for (i, value) in values.iter_mut().enumerate() {
            let bit = i * W;
            let word = u64::from_le_bytes(
                bytes[bit / 8..bit / 8 + 8]
                    .try_into()
                    .expect("within the group's bytes"),
            );
            *value = ((word >> (bit % 8)) & mask) as u32;
        }
        out.extend_from_slice(&values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hybrid decoder reads what [`encode`] writes, at bit widths 0 to 32, for runs of
    /// repeats and of distinct values, read in pieces of any size. (Files the `parquet` crate
    /// writes are read in `parquet::tests`, against the Arrow reader.)
    #[test]
    fn hybrid_reads_what_the_crate_writes() {
        for width in [0u8, 1, 2, 3, 7, 8, 13, 16, 20, 31, 32] {
            let max = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width) - 1
            };
            let mut values: Vec<u32> = Vec::new();
            for i in 0..1000u32 {
                // Runs of repeats, then distinct values, then short runs.
                let v = match i % 300 {
                    0..=99 => 5,
                    100..=199 => i.wrapping_mul(2654435761),
                    _ => i / 3,
                };
                values.push(v & max);
            }
            let bytes = encode(&values, width);
            for piece in [1, 7, 8, 9, 64, 1000] {
                let mut hybrid = Hybrid::new(bytes.clone(), width);
                let mut read = Vec::new();
                while read.len() < values.len() {
                    let n = piece.min(values.len() - read.len());
                    hybrid.read(n, &mut read).unwrap();
                }
                assert_eq!(read, values, "width {width}, piece {piece}");
            }
            // Past the end: an error, not a panic.
            let mut hybrid = Hybrid::new(bytes.clone(), width);
            if width > 0 {
                let mut out = Vec::new();
                assert!(
                    hybrid.read(values.len() + 64, &mut out).is_err(),
                    "width {width}"
                );
            }
        }
    }

    /// The RLE/bit-packed hybrid encoding of `values` as the spec describes it (a writer
    /// independent of the decoder): bit-packed groups of 8 where values differ, repeated runs
    /// of 8 or more equal values.
    fn encode(values: &[u32], width: u8) -> Bytes {
        let width = usize::from(width);
        let mut out = Vec::new();
        let varint = |out: &mut Vec<u8>, mut n: u64| loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        };
        let mut i = 0;
        while i < values.len() {
            let same = values[i..].iter().take_while(|&&v| v == values[i]).count();
            if same >= 8 {
                varint(&mut out, (same as u64) << 1);
                out.extend_from_slice(&values[i].to_le_bytes()[..width.div_ceil(8)]);
                i += same;
            } else {
                // One group of 8 (padded with zeros past the end), bit by bit.
                varint(&mut out, (1 << 1) | 1);
                let mut group = vec![0u8; width];
                for j in 0..8 {
                    let v = values.get(i + j).copied().unwrap_or(0);
                    for b in 0..width {
                        if v >> b & 1 == 1 {
                            let bit = j * width + b;
                            group[bit / 8] |= 1 << (bit % 8);
                        }
                    }
                }
                out.extend_from_slice(&group);
                i += 8;
            }
        }
        Bytes::from(out)
    }
}
