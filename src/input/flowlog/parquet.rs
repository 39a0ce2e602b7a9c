//! Parquet records as OSS shipping writes them: one column per chosen field, named like the
//! JSON keys, typed STRING or an integer type (a failed conversion is null, read as absent).
//!
//! PERF: string columns are read as Arrow dictionaries (the reader keeps a column chunk's
//! dictionary encoding, and encodes plain pages into one), so each distinct value is classified
//! once per dictionary, not once per record: an address is parsed once per distinct address.
//! Materialising every row's string and parsing it was a quarter of `sgsim replay`'s time.

use super::{
    Block, Field, LogDirection, LoggedAction, RawRecord, Record, RecordError, TrafficRecord, Value,
};
use crate::model::proto;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

/// Rows per block.
const BATCH_ROWS: usize = 65536;
/// Rows whose entries are filled column by column at a time (see [`Column::fill`]): the
/// chunk's entries (14 fields of 16-byte entries, 56 KiB) stay in the L2 cache while its
/// records are built. Tests take small chunks (more than 8 rows, so that a chunk can hold a
/// whole byte of validity bits), so that their few rows cross chunk boundaries.
const CHUNK_ROWS: usize = if cfg!(test) { 11 } else { 256 };
/// Entries from one field's chunk to the next: a cache line (4 entries) more than a chunk.
///
/// PERF: at 256 entries (4 KiB) apart, a row's 14 entries all fell in the same set of the
/// 8-way L1 cache, and evicted each other while the row's record was built.
const CHUNK_STRIDE: usize = CHUNK_ROWS + 4;
/// The fields a record has (the columns of [`BatchBlock::columns`]).
const FIELD_COUNT: usize = 14;

/// The record batches of one Parquet file.
pub struct ParquetBlocks {
    reader: ParquetRecordBatchReader,
    /// Per field sgsim reads: its column, if the file has one.
    columns: Vec<(Field, usize)>,
    /// Per column of `columns`: the last dictionary seen and its entries, reused while the
    /// batches of one column chunk share it.
    cache: Vec<Option<(ArrayRef, Entries)>>,
    next_row: u64,
    /// The reader panicked: the file is not read further.
    failed: bool,
}

impl ParquetBlocks {
    pub fn from_file(file: File) -> Result<ParquetBlocks, String> {
        #[cfg(unix)]
        let file = super::positioned::PositionedFile::new(file).map_err(|e| e.to_string())?;
        guarded(|| Self::build(file))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<ParquetBlocks, String> {
        guarded(|| Self::build(bytes::Bytes::from(bytes)))
    }

    fn build<R: parquet::file::reader::ChunkReader + 'static>(
        input: R,
    ) -> Result<ParquetBlocks, String> {
        let metadata = ArrowReaderMetadata::load(&input, ArrowReaderOptions::new())
            .map_err(|e| e.to_string())?;
        let schema = metadata.schema().clone();
        let mut read = Vec::new();
        for (index, column) in schema.fields().iter().enumerate() {
            let Some(field) = Field::of_key(column.name().as_bytes()) else {
                continue;
            };
            if !readable(column.data_type()) {
                return Err(format!(
                    "column {:?} has type {}: expected a string or integer column",
                    column.name(),
                    column.data_type()
                ));
            }
            read.push((field, index));
        }
        for required in [
            Field::EniId,
            Field::Direction,
            Field::Protocol,
            Field::SrcAddr,
            Field::DstAddr,
        ] {
            if !read.iter().any(|(field, _)| *field == required) {
                return Err(format!(
                    "no column {:?}: expected columns named like the flow-log fields (eni-id, direction, protocol, srcaddr, dstaddr, …)",
                    required.key()
                ));
            }
        }
        // A codec this build lacks is named up front, not met as a decoding error mid-file;
        // so is a page claiming more memory than a flow-log page needs (see `page_headers`).
        for row_group in metadata.metadata().row_groups() {
            for chunk in row_group.columns() {
                let name = chunk.column_path().string();
                let read_here = read
                    .iter()
                    .any(|&(_, index)| schema.field(index).name() == &name);
                if !read_here {
                    continue;
                }
                if !readable_codec(chunk.compression()) {
                    // `BROTLI(BrotliLevel(1))` as `brotli`.
                    let codec = chunk.compression().to_string();
                    let codec = codec.split('(').next().unwrap_or_default().to_lowercase();
                    return Err(format!(
                        "column {name:?} is compressed with {codec}: sgsim reads Parquet pages uncompressed or compressed with snappy, gzip, zstd or lz4"
                    ));
                }
                super::page_headers::check_page_sizes(&input, chunk, &name)?;
            }
        }
        // The string columns read come back as dictionaries (see the module's PERF note).
        let hinted: Vec<arrow_schema::FieldRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(index, column)| {
                let read_here = read.iter().any(|&(_, i)| i == index);
                if read_here && is_string(column.data_type()) {
                    Arc::new(column.as_ref().clone().with_data_type(dictionary_type()))
                } else {
                    column.clone()
                }
            })
            .collect();
        let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new_with_metadata(
            hinted,
            schema.metadata().clone(),
        )));
        let metadata = ArrowReaderMetadata::try_new(metadata.metadata().clone(), options)
            .map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata);
        // PERF: decode only the columns read (a shipped file may hold 20 or more).
        let mask = ProjectionMask::roots(
            builder.parquet_schema(),
            read.iter().map(|&(_, index)| index),
        );
        // In the projected batches, columns keep their order in the file.
        let mut by_position: Vec<usize> = read.iter().map(|&(_, index)| index).collect();
        by_position.sort_unstable();
        let columns = read
            .iter()
            .map(|&(field, index)| {
                let position = by_position.binary_search(&index).expect("projected");
                (field, position)
            })
            .collect();
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(ParquetBlocks {
            reader,
            cache: vec![None; read.len()],
            columns,
            next_row: 1,
            failed: false,
        })
    }

    pub fn next_block(&mut self) -> Result<Option<Box<dyn Block>>, String> {
        Ok(self
            .next_batch()?
            .map(|batch| Box::new(batch) as Box<dyn Block>))
    }

    fn next_batch(&mut self) -> Result<Option<BatchBlock>, String> {
        if self.failed {
            return Ok(None);
        }
        let reader = &mut self.reader;
        let next = guarded(|| Ok(reader.next())).inspect_err(|_| self.failed = true);
        match next.map_err(|err| format!("row {}: {err}", self.next_row))? {
            None => Ok(None),
            Some(Err(err)) => Err(format!("row {}: {err}", self.next_row)),
            Some(Ok(batch)) => {
                let first_row = self.next_row;
                self.next_row += batch.num_rows() as u64;
                let mut columns = Vec::with_capacity(self.columns.len());
                for (&(field, index), cached) in self.columns.iter().zip(&mut self.cache) {
                    let entries = match batch.column(index).as_dictionary_opt::<Int32Type>() {
                        Some(dictionary) => {
                            let values = dictionary.values();
                            match cached {
                                Some((seen, entries)) if Arc::ptr_eq(seen, values) => {
                                    Some(entries.clone())
                                }
                                _ => {
                                    let entries: Entries = classify(field, values.as_ref())
                                        .map_err(|e| format!("row {first_row}: {e}"))?
                                        .into();
                                    *cached = Some((values.clone(), entries.clone()));
                                    Some(entries)
                                }
                            }
                        }
                        None => None,
                    };
                    columns.push((field, index, entries));
                }
                Ok(Some(BatchBlock {
                    batch,
                    columns,
                    first_row,
                }))
            }
        }
    }
}

/// Runs `read`, a call into the `parquet` crate, with a panic turned into an error.
///
/// The crate still panics on some damaged files where it should return an error (its issue
/// apache/arrow-rs#9742): the fuzz target `flowlog_parquet` hit one in its first second, an
/// assertion on a negative column chunk offset. A damaged log must be an error that names the
/// file, never a crash; such a panic is kept off stderr (see [`quiet_panics`]).
fn guarded<T>(read: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    quiet_panics::install();
    let outer = quiet_panics::QUIET.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    quiet_panics::QUIET.set(outer);
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|m| m.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "not a readable Parquet file (damaged?): the Parquet reader failed: {message}"
        ))
    })
}

/// Panics [`guarded`] turns into errors are not printed: a panic hook, installed once, that
/// hands every other panic to the hook installed before it.
mod quiet_panics {
    use std::cell::Cell;
    use std::sync::Once;

    thread_local! {
        /// Whether this thread is inside [`super::guarded`].
        pub static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    pub fn install() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.get() {
                    previous(info)
                }
            }));
        });
    }
}

/// Whether this build decompresses `codec` (the `parquet` crate's features in Cargo.toml).
fn readable_codec(codec: parquet::basic::Compression) -> bool {
    use parquet::basic::Compression::*;
    matches!(
        codec,
        UNCOMPRESSED | SNAPPY | GZIP(_) | ZSTD(_) | LZ4 | LZ4_RAW
    )
}

/// What string columns are read as.
fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string(values),
        _ => false,
    }
}

fn readable(data_type: &DataType) -> bool {
    is_string(data_type)
        || matches!(
            data_type,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Null
        )
}

/// A dictionary entry, interpreted once for all the records that use it, as the field it is
/// a column of (what [`super::interpret`] would make of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// Null, empty, `-` or `null`.
    Absent,
    /// Text the field takes as it is (the ENI id).
    Text,
    /// An IPv4 address, held in the entry: no second lookup per record.
    V4(u32),
    /// An IPv6 address: its index in the dictionary's [`Interpreted::addresses`].
    ///
    /// PERF: an index, not the address, keeps an entry at 16 bytes (24 with the address), so a
    /// chunk's entries take 56 KiB and each entry copies as one 16-byte move.
    Ip(u32),
    /// One of the field's words: `OK`/`NODATA`/`SKIPDATA`, `in`/`out`, `ACCEPT`/`REJECT`.
    Word(u8),
    /// A number (protocol, port, count, time, flags), range not checked yet.
    Num(u64),
    /// Not valid for the field: records with it take [`super::interpret`]'s path, which says
    /// why.
    Bad,
}

impl Entry {
    /// The address an address entry holds (`addresses`: its dictionary's IPv6 addresses).
    #[inline(always)]
    fn address(self, addresses: &[IpAddr]) -> Option<IpAddr> {
        match self {
            Entry::V4(address) => Some(IpAddr::V4(address.into())),
            Entry::Ip(index) => Some(addresses[index as usize]),
            _ => None,
        }
    }
}

// The PERF note of `Entry::Ip`.
const _: () = assert!(std::mem::size_of::<Entry>() == 16);

const OK: u8 = 0;
const NODATA: u8 = 1;
const SKIPDATA: u8 = 2;
const IN: u8 = 0;
const OUT: u8 = 1;
const ACCEPT: u8 = 0;
const REJECT: u8 = 1;

/// A string column's dictionary, interpreted entry by entry.
#[derive(Debug, Default)]
struct Interpreted {
    /// Per dictionary value, its entry; then one more, `Absent` (see [`Column::fill`]).
    entries: Vec<Entry>,
    /// The addresses [`Entry::Ip`] points into.
    addresses: Vec<IpAddr>,
}

type Entries = Arc<Interpreted>;

/// The entries of a string dictionary.
fn classify(field: Field, values: &dyn Array) -> Result<Interpreted, String> {
    let Some(values) = values.as_string_opt::<i32>() else {
        return Err(format!(
            "column {:?}: dictionary of {}: expected strings",
            field.key(),
            values.data_type()
        ));
    };
    let word = |text: &str, words: &[&[&str]]| {
        words
            .iter()
            .position(|names| names.iter().any(|name| text.eq_ignore_ascii_case(name)))
            .map_or(Entry::Bad, |n| Entry::Word(n as u8))
    };
    let mut addresses = Vec::new();
    let entries = (0..values.len())
        .map(|index| {
            if values.is_null(index) {
                return Entry::Absent;
            }
            let Value::Text(text) = Value::text(values.value(index)) else {
                return Entry::Absent;
            };
            match field {
                Field::EniId => Entry::Text,
                Field::SrcAddr | Field::DstAddr => match crate::model::parse_ip(text) {
                    Some(IpAddr::V4(v4)) => Entry::V4(v4.into()),
                    Some(address) => {
                        addresses.push(address);
                        Entry::Ip(addresses.len() as u32 - 1)
                    }
                    None => Entry::Bad,
                },
                Field::LogStatus => word(text, &[&["OK"], &["NODATA"], &["SKIPDATA"]]),
                Field::Direction => word(text, &[&["in", "ingress"], &["out", "egress"]]),
                Field::Action => word(text, &[&["ACCEPT"], &["REJECT"]]),
                Field::Protocol => crate::model::parse_protocol_number(text)
                    .map_or(Entry::Bad, |n| Entry::Num(n.into())),
                Field::SrcPort
                | Field::DstPort
                | Field::Packets
                | Field::Bytes
                | Field::Start
                | Field::End
                | Field::TcpFlags => {
                    super::parse_decimal(text.as_bytes()).map_or(Entry::Bad, Entry::Num)
                }
            }
        })
        .chain([Entry::Absent])
        .collect();
    Ok(Interpreted { entries, addresses })
}

struct BatchBlock {
    batch: RecordBatch,
    /// Per field read: its column, and for string columns their dictionary's entries.
    columns: Vec<(Field, usize, Option<Entries>)>,
    first_row: u64,
}

/// A column, downcast once per block.
///
/// PERF: the common columns hold their slices and validity bits, read inline (Arrow's
/// `is_null` was not inlined here).
enum Column<'a> {
    Dictionary {
        keys: &'a [i32],
        valid: Validity<'a>,
        values: &'a arrow_array::StringArray,
        entries: &'a [Entry],
        addresses: &'a [IpAddr],
    },
    Int64(&'a [i64], Validity<'a>),
    Int32(&'a [i32], Validity<'a>),
    Int(&'a dyn Array, fn(&dyn Array, usize) -> i64),
    Null,
}

/// A column's validity bitmap and its offset in bits, `None` when no value is null.
#[derive(Clone, Copy)]
struct Validity<'a>(Option<(&'a [u8], usize)>);

impl<'a> Validity<'a> {
    fn of(array: &'a dyn Array) -> Validity<'a> {
        Validity(
            array
                .nulls()
                .map(|nulls| (nulls.validity(), nulls.offset())),
        )
    }

    #[inline(always)]
    fn valid(self, row: usize) -> bool {
        match self.0 {
            None => true,
            Some((bits, offset)) => {
                let bit = row + offset;
                bits[bit / 8] & (1 << (bit % 8)) != 0
            }
        }
    }
}

impl<'a> Column<'a> {
    fn of(array: &'a dyn Array, entries: Option<&'a Interpreted>) -> Column<'a> {
        fn int<T>(array: &dyn Array, row: usize) -> i64
        where
            T: arrow_array::ArrowPrimitiveType,
            T::Native: TryInto<i64>,
        {
            // Beyond i64 no count or port is valid anyway: saturate, and the range check
            // reports it.
            array
                .as_primitive::<T>()
                .value(row)
                .try_into()
                .unwrap_or(i64::MAX)
        }
        if let (Some(dictionary), Some(entries)) = (array.as_dictionary_opt::<Int32Type>(), entries)
        {
            if let Some(values) = dictionary.values().as_string_opt::<i32>() {
                return Column::Dictionary {
                    keys: dictionary.keys().values(),
                    valid: Validity::of(dictionary.keys()),
                    values,
                    entries: &entries.entries,
                    addresses: &entries.addresses,
                };
            }
        }
        match array.data_type() {
            DataType::Int8 => Column::Int(array, int::<Int8Type>),
            DataType::Int16 => Column::Int(array, int::<Int16Type>),
            DataType::Int32 => Column::Int32(
                array.as_primitive::<Int32Type>().values(),
                Validity::of(array),
            ),
            DataType::Int64 => Column::Int64(
                array.as_primitive::<Int64Type>().values(),
                Validity::of(array),
            ),
            DataType::UInt8 => Column::Int(array, int::<UInt8Type>),
            DataType::UInt16 => Column::Int(array, int::<UInt16Type>),
            DataType::UInt32 => Column::Int(array, int::<UInt32Type>),
            DataType::UInt64 => Column::Int(array, int::<UInt64Type>),
            _ => Column::Null,
        }
    }

    #[inline]
    fn value(&self, row: usize) -> Value<'a> {
        match self {
            Column::Dictionary {
                keys,
                valid,
                values,
                entries,
                addresses,
            } => {
                if !valid.valid(row) {
                    return Value::Absent;
                }
                // The reader checks keys against the dictionary: a key beyond it cannot come.
                let key = keys[row] as usize;
                let entry = entries[key];
                match entry.address(addresses) {
                    Some(address) => Value::Ip(address),
                    None if entry == Entry::Absent => Value::Absent,
                    None => Value::Text(values.value(key)),
                }
            }
            Column::Int64(values, valid) if valid.valid(row) => Value::Int(values[row]),
            Column::Int32(values, valid) if valid.valid(row) => Value::Int(values[row].into()),
            Column::Int(array, value) if array.is_valid(row) => Value::Int(value(*array, row)),
            _ => Value::Absent,
        }
    }

    /// The entries of `rows` into `out` (integer columns: `Num`, or `Bad` below zero).
    ///
    /// PERF: one loop per column and chunk of rows, its kind matched once: matching it and
    /// the validity per field and row was a quarter of the Parquet path's instructions.
    fn fill(&self, rows: Range<usize>, out: &mut [Entry]) {
        let int = |n: i64| u64::try_from(n).map_or(Entry::Bad, Entry::Num);
        let out = &mut out[..rows.len()];
        // PERF: values first, then the null rows made absent: choosing between a value and
        // `Absent` per row copied entries through the stack, where the copy stalled on store
        // forwarding (a third of this loop's cycles, `perf annotate`).
        let valid = match self {
            Column::Dictionary {
                keys,
                valid,
                entries,
                ..
            } => {
                // A null row's key may be anything: past the dictionary, it takes the
                // trailing `Absent` (see `classify`) until it is made absent below.
                let last = entries.len() - 1;
                for (entry, &key) in out.iter_mut().zip(&keys[rows.clone()]) {
                    *entry = entries[(key as usize).min(last)];
                }
                *valid
            }
            Column::Int64(values, valid) => {
                for (entry, &value) in out.iter_mut().zip(&values[rows.clone()]) {
                    *entry = int(value);
                }
                *valid
            }
            Column::Int32(values, valid) => {
                for (entry, &value) in out.iter_mut().zip(&values[rows.clone()]) {
                    *entry = int(value.into());
                }
                *valid
            }
            Column::Int(array, value) => {
                for (entry, row) in out.iter_mut().zip(rows.clone()) {
                    *entry = if array.is_valid(row) {
                        int(value(*array, row))
                    } else {
                        Entry::Absent
                    };
                }
                return;
            }
            Column::Null => {
                out.fill(Entry::Absent);
                return;
            }
        };
        if let Some((bits, offset)) = valid.0 {
            // PERF: a byte of validity bits at a time where it can (nulls are rare: most
            // bytes are all ones); testing each row's bit was a tenth of this loop.
            let mut i = 0;
            while i < out.len() {
                let bit = rows.start + i + offset;
                let byte = bits[bit / 8];
                if bit.is_multiple_of(8) && i + 8 <= out.len() {
                    if byte != u8::MAX {
                        for (j, entry) in out[i..i + 8].iter_mut().enumerate() {
                            if byte & (1 << j) == 0 {
                                *entry = Entry::Absent;
                            }
                        }
                    }
                    i += 8;
                } else {
                    if byte & (1 << (bit % 8)) == 0 {
                        out[i] = Entry::Absent;
                    }
                    i += 1;
                }
            }
        }
    }

    /// The addresses its [`Entry::Ip`] entries point into.
    fn addresses(&self) -> &'a [IpAddr] {
        match self {
            Column::Dictionary { addresses, .. } => addresses,
            _ => &[],
        }
    }

    /// The row's text, if the column's entry for it is [`Entry::Text`].
    #[inline(always)]
    fn text(&self, row: usize) -> Option<&'a str> {
        match self {
            Column::Dictionary {
                keys,
                valid,
                values,
                entries,
                ..
            } if valid.valid(row) => {
                let key = keys[row] as usize;
                (entries[key] == Entry::Text).then(|| values.value(key))
            }
            _ => None,
        }
    }
}

/// The record of a row from its columns' entries, or `None` when any value is not what the
/// field needs (then [`super::interpret`] reads the row, and says what is wrong). When it gives
/// a record, it is the one [`super::interpret`] gives (`interpreted_rows_equal_interpret`).
/// `entry` gives the row's entry of a field, `eni` its ENI id if that is an [`Entry::Text`],
/// `addresses` the addresses of the source and the destination columns' [`Entry::Ip`]s.
#[inline(always)]
fn fast_record<'a>(
    eni: Option<&'a str>,
    entry: impl Fn(Field) -> Entry,
    addresses: [&[IpAddr]; 2],
) -> Option<Record<'a>> {
    let eni = eni?;
    match entry(Field::LogStatus) {
        Entry::Absent | Entry::Word(OK) => {}
        Entry::Word(NODATA) => return Some(Record::NoData { eni }),
        Entry::Word(SKIPDATA) => return Some(Record::SkipData { eni }),
        _ => return None,
    }
    let direction = match entry(Field::Direction) {
        Entry::Word(IN) => LogDirection::In,
        Entry::Word(OUT) => LogDirection::Out,
        _ => return None,
    };
    let protocol = match entry(Field::Protocol) {
        Entry::Num(n) if n <= 255 => n as u8,
        _ => return None,
    };
    let src = entry(Field::SrcAddr).address(addresses[0])?;
    let dst = entry(Field::DstAddr).address(addresses[1])?;
    if src.is_ipv4() != dst.is_ipv4() {
        return None;
    }
    let port = |field| match entry(field) {
        Entry::Num(n) if n <= u64::from(u16::MAX) => Some(n as u16),
        _ => None,
    };
    let (src_port, dst_port) = if matches!(protocol, proto::TCP | proto::UDP) {
        (port(Field::SrcPort)?, port(Field::DstPort)?)
    } else {
        (0, 0)
    };
    let action = match entry(Field::Action) {
        Entry::Absent => None,
        Entry::Word(ACCEPT) => Some(LoggedAction::Accept),
        Entry::Word(REJECT) => Some(LoggedAction::Reject),
        _ => return None,
    };
    let optional = |field| match entry(field) {
        Entry::Absent => Some(None),
        Entry::Num(n) => Some(Some(n)),
        _ => None,
    };
    let tcp_flags = match optional(Field::TcpFlags)? {
        Some(n) if n > u64::from(u16::MAX) => return None,
        flags => flags.map(|n| n as u16),
    };
    Some(Record::Traffic {
        eni,
        traffic: TrafficRecord {
            direction,
            protocol,
            src,
            src_port,
            dst,
            dst_port,
            packets: optional(Field::Packets)?.unwrap_or(0),
            bytes: optional(Field::Bytes)?.unwrap_or(0),
            start: optional(Field::Start)?,
            end: optional(Field::End)?,
            tcp_flags,
            action,
        },
    })
}

impl BatchBlock {
    /// The columns, downcast, at their field's position ([`Column::Null`] for a field the
    /// file lacks).
    fn columns(&self) -> [Column<'_>; FIELD_COUNT] {
        let mut columns = [const { Column::Null }; FIELD_COUNT];
        for (field, index, entries) in &self.columns {
            columns[*field as usize] =
                Column::of(self.batch.column(*index).as_ref(), entries.as_deref());
        }
        columns
    }
}

fn raw_record<'a>(columns: &[Column<'a>; FIELD_COUNT], row: usize) -> RawRecord<'a> {
    let mut record = RawRecord::default();
    for (value, column) in record.values.iter_mut().zip(columns) {
        *value = column.value(row);
    }
    record
}

impl Block for BatchBlock {
    fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn records(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<RawRecord<'_>, RecordError>),
    ) {
        let columns = self.columns();
        for row in range {
            each(self.first_row + row as u64, Ok(raw_record(&columns, row)));
        }
    }

    fn interpreted(
        &self,
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<Record<'_>, RecordError>),
    ) {
        thread_local! {
            /// Per field, the entries of a chunk's rows.
            ///
            /// PERF: kept per thread: allocated and filled with `Absent` per call (a task's
            /// 1024 records), it was ~3 % of a Parquet replay in `malloc` and stores.
            static ENTRIES: std::cell::RefCell<Vec<Entry>> =
                std::cell::RefCell::new(vec![Entry::Absent; FIELD_COUNT * CHUNK_STRIDE]);
        }
        ENTRIES.with(|entries| match entries.try_borrow_mut() {
            Ok(mut entries) => self.interpreted_into(&mut entries, range, each),
            // Called again from inside `each`: a buffer of its own.
            Err(_) => self.interpreted_into(
                &mut vec![Entry::Absent; FIELD_COUNT * CHUNK_STRIDE],
                range,
                each,
            ),
        });
    }
}

impl BatchBlock {
    /// [`Block::interpreted`] with `entries` (at least `FIELD_COUNT * CHUNK_STRIDE`) to fill.
    fn interpreted_into(
        &self,
        entries: &mut [Entry],
        range: Range<usize>,
        each: &mut dyn FnMut(u64, Result<Record<'_>, RecordError>),
    ) {
        let columns = self.columns();
        let addresses = [
            columns[Field::SrcAddr as usize].addresses(),
            columns[Field::DstAddr as usize].addresses(),
        ];
        for start in range.clone().step_by(CHUNK_ROWS) {
            let rows = start..(start + CHUNK_ROWS).min(range.end);
            for (column, out) in columns.iter().zip(entries.chunks_exact_mut(CHUNK_STRIDE)) {
                column.fill(rows.clone(), out);
            }
            for (i, row) in rows.enumerate() {
                let eni = columns[Field::EniId as usize].text(row);
                let entry = |field| entries[field as usize * CHUNK_STRIDE + i];
                let line = self.first_row + row as u64;
                // PERF: `each` called on each path, so that the fast path's record is built
                // where the call takes it: moved from one temporary for both paths, it was
                // copied with 16-byte loads of fields just stored 8 bytes at a time, which the
                // CPU cannot forward from its store buffer (a fifth of this loop's time; the
                // caller's copy still pays some of it: ~2 % less CPU in all).
                match fast_record(eni, entry, addresses) {
                    Some(record) => each(line, Ok(record)),
                    None => each(line, super::interpret(&raw_record(&columns, row))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int64Builder, StringBuilder};
    use arrow_schema::Field as Column;
    use parquet::file::properties::WriterProperties;
    use proptest::prelude::*;

    const FIELDS: [Field; 14] = [
        Field::EniId,
        Field::Direction,
        Field::Protocol,
        Field::SrcAddr,
        Field::SrcPort,
        Field::DstAddr,
        Field::DstPort,
        Field::Action,
        Field::Packets,
        Field::Bytes,
        Field::Start,
        Field::End,
        Field::TcpFlags,
        Field::LogStatus,
    ];

    /// Values valid and not for some field, so that every field sees every kind.
    const TEXTS: [&str; 30] = [
        "",
        "-",
        "null",
        "eni-1",
        "OK",
        "ok",
        "NODATA",
        "SkipData",
        "bogus",
        "in",
        "Ingress",
        "out",
        "EGRESS",
        "ACCEPT",
        "reject",
        "6",
        "17",
        "1",
        "tcp",
        "256",
        "-1",
        "10.0.0.1",
        "::1",
        "172.16.XX.XX",
        "65535",
        "65536",
        "18446744073709551616",
        "0",
        "007",
        "1720000000",
    ];

    /// How [`file`] writes its columns.
    #[derive(Clone, Copy, Debug, Default)]
    struct Layout {
        /// Numbers in integer columns (else strings).
        int_numbers: bool,
        /// Those integer columns INT32 (else INT64).
        int32: bool,
        /// Dictionary-encoded (else PLAIN).
        dictionary: bool,
        /// A dictionary page of at most 40 bytes: the writer falls back to PLAIN pages
        /// within a column chunk (as the addresses of large files do).
        small_dictionary: bool,
        /// Data pages of 3 rows.
        small_pages: bool,
        /// Data pages v2.
        v2: bool,
        /// Columns not nullable (nulls written as `-`, or 0 in integer columns).
        required: bool,
        /// No `tcp-flags` column (a field a file may leave out).
        without_tcp_flags: bool,
    }

    fn layout() -> impl Strategy<Value = Layout> {
        proptest::collection::vec(any::<bool>(), 8).prop_map(|b| Layout {
            int_numbers: b[0],
            int32: b[1],
            dictionary: b[2],
            small_dictionary: b[3],
            small_pages: b[4],
            v2: b[5],
            required: b[6],
            without_tcp_flags: b[7],
        })
    }

    /// A Parquet file of `rows` (per row, per field: `None` for null, else an index into
    /// [`TEXTS`] or, for integer columns, a number), laid out as `layout` says, in row groups
    /// of 7 rows.
    fn file(rows: &[Vec<Option<(usize, i64)>>], layout: Layout) -> Vec<u8> {
        use arrow_array::builder::Int32Builder;
        let numeric = |field: Field| {
            layout.int_numbers
                && !matches!(
                    field,
                    Field::EniId
                        | Field::Direction
                        | Field::SrcAddr
                        | Field::DstAddr
                        | Field::Action
                        | Field::LogStatus
                )
        };
        let written = |field: &Field| !(layout.without_tcp_flags && *field == Field::TcpFlags);
        let schema = Arc::new(Schema::new(
            FIELDS
                .iter()
                .filter(|field| written(field))
                .map(|&field| {
                    let data_type = match numeric(field) {
                        true if layout.int32 => DataType::Int32,
                        true => DataType::Int64,
                        false => DataType::Utf8,
                    };
                    Column::new(field.key(), data_type, !layout.required)
                })
                .collect::<Vec<_>>(),
        ));
        let columns: Vec<ArrayRef> = FIELDS
            .iter()
            .enumerate()
            .filter(|(_, field)| written(field))
            .map(|(i, &field)| -> ArrayRef {
                let value = |row: &Vec<Option<(usize, i64)>>| match row[i] {
                    None if layout.required => Some((1, 0)),
                    value => value,
                };
                if numeric(field) && layout.int32 {
                    let mut builder = Int32Builder::new();
                    for row in rows {
                        builder.append_option(value(row).map(|(_, n)| n as i32));
                    }
                    Arc::new(builder.finish())
                } else if numeric(field) {
                    let mut builder = Int64Builder::new();
                    for row in rows {
                        builder.append_option(value(row).map(|(_, n)| n));
                    }
                    Arc::new(builder.finish())
                } else {
                    let mut builder = StringBuilder::new();
                    for row in rows {
                        builder.append_option(value(row).map(|(t, _)| TEXTS[t]));
                    }
                    Arc::new(builder.finish())
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let mut properties = WriterProperties::builder()
            .set_dictionary_enabled(layout.dictionary)
            .set_max_row_group_row_count(Some(7));
        if layout.small_dictionary {
            properties = properties.set_dictionary_page_size_limit(40);
        }
        if layout.small_pages {
            properties = properties
                .set_data_page_row_count_limit(3)
                .set_write_batch_size(1);
        }
        if layout.v2 {
            properties = properties
                .set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0);
        }
        let properties = properties.build();
        let mut out = Vec::new();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        out
    }

    /// Indices into [`TEXTS`] of values valid for each field of [`FIELDS`].
    const VALID: [&[usize]; 14] = [
        &[3],
        &[9, 10, 11, 12],
        &[15, 16, 17, 18],
        &[21, 22],
        &[24, 27, 29],
        &[21, 22],
        &[24, 27, 29],
        &[1, 13, 14],
        &[1, 27, 29],
        &[1, 27, 29],
        &[1, 27, 29],
        &[1, 27, 29],
        &[1, 15, 27],
        &[1, 4, 5, 6, 7],
    ];

    /// A field's value: mostly valid for it (so that whole records are), else anything.
    fn value(field: usize) -> impl Strategy<Value = Option<(usize, i64)>> {
        let number = prop_oneof![0..70000i64, -2..2i64, Just(i64::MAX)];
        prop_oneof![
            1 => Just(None),
            2 => (0..TEXTS.len(), number.clone()).prop_map(Some),
            12 => (proptest::sample::select(VALID[field]), 0..300i64).prop_map(Some),
        ]
    }

    fn row() -> impl Strategy<Value = Vec<Option<(usize, i64)>>> {
        (0..14).map(value).collect::<Vec<_>>()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The per-dictionary-entry path gives what `records` then `interpret` give, row by
        /// row, errors included, whatever the file's layout (dictionary-encoded or not, a
        /// dictionary that overflows into PLAIN pages, pages v1 or v2, INT32 or INT64
        /// numbers, nullable or not, a field missing).
        #[test]
        fn interpreted_rows_equal_interpret(
            rows in proptest::collection::vec(row(), 1..40),
            layout in layout(),
            split in 0..40usize,
        ) {
            let mut blocks = ParquetBlocks::from_bytes(file(&rows, layout)).unwrap();
            let mut seen = 0;
            while let Some(block) = blocks.next_block().unwrap() {
                let mut slow = Vec::new();
                block.records(0..block.len(), &mut |line, raw| {
                    slow.push(format!("{line}: {:?}", raw.and_then(|raw| super::super::interpret(&raw))));
                });
                let mut fast = Vec::new();
                block.interpreted(0..block.len(), &mut |line, record| {
                    fast.push(format!("{line}: {record:?}"))
                });
                prop_assert_eq!(&fast, &slow);
                // Ranges that start inside a chunk, as a task's may.
                let split = split % (block.len() + 1);
                let mut parts = Vec::new();
                for range in [0..split, split..block.len()] {
                    block.interpreted(range, &mut |line, record| {
                        parts.push(format!("{line}: {record:?}"))
                    });
                }
                prop_assert_eq!(parts, slow);
                seen += block.len();
            }
            prop_assert_eq!(seen, rows.len());
        }
    }

    /// `fill` over a range gives what it gives row by row (where it reads the validity bits one
    /// at a time), on integer and dictionary columns with nulls, sliced arrays (validity bits
    /// not starting at a byte) and ranges starting anywhere: the byte-at-a-time skipping of
    /// valid rows must not skip a null.
    #[test]
    fn filled_ranges_equal_row_by_row() {
        use arrow_array::{DictionaryArray, Int64Array};
        let null = |row: usize| row % 7 == 3 || row.is_multiple_of(29) || (40..50).contains(&row);
        let numbers: Int64Array = (0..120i64)
            .map(|n| (!null(n as usize)).then_some(n))
            .collect();
        let texts: DictionaryArray<Int32Type> = (0..120usize)
            .map(|n| (!null(n)).then_some(["10.0.0.1", "::1", "bogus"][n % 3]))
            .collect();
        let entries = classify(Field::SrcAddr, texts.values().as_ref()).unwrap();
        for offset in [0, 1, 5, 8, 13] {
            let numbers = numbers.slice(offset, 120 - offset);
            let texts = texts.slice(offset, 120 - offset);
            for column in [
                super::Column::of(&numbers, None),
                super::Column::of(&texts, Some(&entries)),
            ] {
                let one_by_one: Vec<Entry> = (0..120 - offset)
                    .map(|row| {
                        let mut entry = [Entry::Bad];
                        column.fill(row..row + 1, &mut entry);
                        assert_eq!(
                            entry[0] == Entry::Absent,
                            null(row + offset),
                            "row {row}, offset {offset}"
                        );
                        entry[0]
                    })
                    .collect();
                for start in 0..20 {
                    for len in [0, 1, 7, 8, 9, 16, 17, 40, 100 - start] {
                        let mut out = vec![Entry::Bad; len];
                        column.fill(start..start + len, &mut out);
                        assert_eq!(
                            out,
                            one_by_one[start..start + len],
                            "{start}+{len}, offset {offset}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn valid_rows_take_the_dictionary_path() {
        // eni-id, direction, protocol, srcaddr, srcport, dstaddr, dstport, action, …
        let row: Vec<Option<(usize, i64)>> = [3, 9, 15, 21, 27, 21, 24, 13, 27, 27, 29, 29, 27, 4]
            .iter()
            .map(|&t| Some((t, 6)))
            .collect();
        for int_numbers in [false, true] {
            let layout = Layout {
                int_numbers,
                dictionary: true,
                ..Layout::default()
            };
            let mut blocks =
                ParquetBlocks::from_bytes(file(std::slice::from_ref(&row), layout)).unwrap();
            let block = blocks.next_batch().unwrap().unwrap();
            let columns = block.columns();
            let mut entries = [Entry::Absent; FIELD_COUNT];
            for (column, entry) in columns.iter().zip(&mut entries) {
                column.fill(0..1, std::slice::from_mut(entry));
            }
            let eni = columns[Field::EniId as usize].text(0);
            let addresses = [
                columns[Field::SrcAddr as usize].addresses(),
                columns[Field::DstAddr as usize].addresses(),
            ];
            assert!(
                fast_record(eni, |field| entries[field as usize], addresses).is_some(),
                "int numbers: {int_numbers}"
            );
        }
    }
}
