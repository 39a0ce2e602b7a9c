//! Flow-log records generated from a snapshot and its flows, for tests and benchmarks, each
//! labelled with what it is ([`Truth`]) so that a test knows the expected hits without asking
//! the code under test.
//!
//! Every flow becomes a connection on its NIC, and on the remote NIC too when the remote
//! address is one of the snapshot's: an initiator record whose logged action is the engine's
//! verdict (or, for about 2 %, deliberately the opposite: a mismatch), and a reply
//! record when the connection was accepted. TCP initiators carry SYN (replies SYN-ACK), and some
//! connections get later windows without SYN; UDP goes from an ephemeral client port; ICMP and
//! other portless protocols are told apart only by their start times (a few pairs start in the
//! same second: ambiguous). NODATA, SKIPDATA, unknown ENIs and masked (malformed) records are
//! mixed in. Each connection's client port is drawn from the ephemeral range. Start times
//! advance with the records (by default 20 ms per connection, give or take a minute), as
//! exports are in time order.

use crate::model::{proto, Action, Direction, Flow, NicIndex, Target};
use crate::rng::Rng;
use crate::{Engine, Query};
use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};

/// What a generated record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    /// The initiator's side of a connection on its ENI; `mismatch` when its logged action is
    /// the opposite of the simulated verdict.
    Initiator {
        /// The logged action is the opposite of the simulated verdict.
        mismatch: bool,
    },
    /// The reply direction of an accepted connection.
    Reply,
    /// A pair whose initiator nothing tells.
    Ambiguous,
    /// A `NODATA` record.
    NoData,
    /// A `SKIPDATA` record.
    SkipData,
    /// Its ENI is not in the snapshot.
    Unmapped,
    /// Its addresses are masked as in documentation samples.
    Malformed,
}

/// One generated record, its values as a log would hold them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// The `eni-id` field.
    pub eni_id: String,
    /// `OK`, `NODATA` or `SKIPDATA`.
    pub log_status: &'static str,
    /// `in` or `out` (`-` for status records).
    pub direction: &'static str,
    /// IANA protocol number.
    pub protocol: u8,
    /// An address, or a masked `172.16.XX.XX`.
    pub srcaddr: String,
    /// Source port; 0 without ports.
    pub srcport: u16,
    /// Destination address, as `srcaddr`.
    pub dstaddr: String,
    /// Destination port; 0 without ports.
    pub dstport: u16,
    /// Packets in the window.
    pub packets: u64,
    /// Bytes in the window.
    pub bytes: u64,
    /// Unix seconds of the window's first packet.
    pub start: u64,
    /// Unix seconds of its last packet.
    pub end: u64,
    /// TCP flags seen in the window (TCP only).
    pub tcp_flags: Option<u16>,
    /// `ACCEPT` or `REJECT`.
    pub action: &'static str,
    /// What the record is, for the tests' expectations.
    pub truth: Truth,
}

/// ENI id of the generated records whose ENI the snapshot does not have.
pub const UNMAPPED_ENI: &str = "eni-not-in-snapshot";
/// First `start` of generated records (Unix seconds, 2024-07-03).
pub const BASE_TIME: u64 = 1_720_000_000;

/// Generates records from `queries` (NIC targets only) over `engine`'s snapshot, cycling
/// through the queries until `count` records are made. The same arguments give the same
/// records.
pub struct LogGenerator<'e> {
    engine: &'e Engine,
    queries: Vec<Query>,
    rng: Rng,
    next_query: usize,
    left: u64,
    queue: VecDeque<GeneratedRecord>,
    /// Pair keys of undecided records already used, so two connections never share one.
    pairs: HashSet<crate::analysis::replay::PairKey>,
    /// Milliseconds since [`BASE_TIME`] of the next connection: records come in time order
    /// (give or take a minute), as exports write them.
    clock_ms: u64,
    pace_ms: u64,
}

/// Milliseconds between two generated connections by default: about 100 records a second.
pub const DEFAULT_PACE_MS: u64 = 20;

impl<'e> LogGenerator<'e> {
    /// `count` records of connections for `queries` (whose verdicts `engine` gives), drawn
    /// from `seed`.
    pub fn new(engine: &'e Engine, queries: Vec<Query>, count: u64, seed: u64) -> LogGenerator<'e> {
        let queries = queries
            .into_iter()
            .filter(|q| matches!(q.target, Target::Nic(_)))
            .collect();
        LogGenerator {
            engine,
            queries,
            rng: Rng::new(seed),
            next_query: 0,
            left: count,
            queue: VecDeque::new(),
            pairs: HashSet::new(),
            clock_ms: 0,
            pace_ms: DEFAULT_PACE_MS,
        }
    }

    /// Milliseconds between two connections' start times (default [`DEFAULT_PACE_MS`]).
    pub fn with_pace_ms(mut self, pace_ms: u64) -> Self {
        self.pace_ms = pace_ms;
        self
    }

    fn fill(&mut self) {
        let snapshot = self.engine.snapshot();
        let roll = self.rng.below(1000);
        self.clock_ms += self.pace_ms;
        let time = BASE_TIME + self.clock_ms / 1000 + self.rng.below(60);
        let any_nic = |rng: &mut Rng| {
            snapshot
                .nic(rng.below(snapshot.nics().len() as u64) as u32)
                .id
                .clone()
        };
        let status = |eni_id: String, log_status: &'static str, truth: Truth| GeneratedRecord {
            eni_id,
            log_status,
            direction: "-",
            protocol: 0,
            srcaddr: "-".into(),
            srcport: 0,
            dstaddr: "-".into(),
            dstport: 0,
            packets: 0,
            bytes: 0,
            start: time,
            end: time + 600,
            tcp_flags: None,
            action: "-",
            truth,
        };
        if self.queries.is_empty() || roll < 3 {
            let eni = any_nic(&mut self.rng);
            self.queue.push_back(status(eni, "NODATA", Truth::NoData));
            return;
        }
        if roll < 5 {
            let eni = any_nic(&mut self.rng);
            self.queue
                .push_back(status(eni, "SKIPDATA", Truth::SkipData));
            return;
        }
        let query = self.queries[self.next_query % self.queries.len()];
        self.next_query += 1;
        let Target::Nic(nic) = query.target else {
            return;
        };
        let mut flow = query.flow;
        let ported = matches!(flow.protocol, proto::TCP | proto::UDP);
        if ported {
            flow.src_port = self.rng.range(32768, 60999) as u16;
        } else {
            // What a log's port fields hold for these has no meaning; the reader reads 0.
            flow.src_port = 0;
            flow.dst_port = 0;
        }
        if roll < 10 {
            let mut record = self.record(nic, &flow, time, Truth::Unmapped);
            record.eni_id = UNMAPPED_ENI.to_string();
            self.queue.push_back(record);
            return;
        }
        if roll < 15 {
            let mut record = self.record(nic, &flow, time, Truth::Malformed);
            record.srcaddr = "172.16.XX.XX".into();
            self.queue.push_back(record);
            return;
        }
        self.connection(nic, flow, time);
        // The other end logs the same connection when its ENI is in the snapshot too.
        let remote_nics: Vec<NicIndex> = snapshot
            .nics_with_address(&flow.remote())
            .iter()
            .copied()
            .filter(|&other| other != nic)
            .collect();
        if let Some(&other) = remote_nics.first() {
            let mirrored = Flow {
                direction: match flow.direction {
                    Direction::Ingress => Direction::Egress,
                    Direction::Egress => Direction::Ingress,
                },
                ..flow
            };
            self.connection(other, mirrored, time);
        }
    }

    /// A record of `flow` as seen on `nic` (initiator orientation), without flags.
    fn record(&mut self, nic: NicIndex, flow: &Flow, start: u64, truth: Truth) -> GeneratedRecord {
        let packets = self.rng.range(1, 50);
        GeneratedRecord {
            eni_id: self.engine.snapshot().nic(nic).id.clone(),
            log_status: "OK",
            direction: match flow.direction {
                Direction::Ingress => "in",
                Direction::Egress => "out",
            },
            protocol: flow.protocol,
            srcaddr: flow.src.to_string(),
            srcport: flow.src_port,
            dstaddr: flow.dst.to_string(),
            dstport: flow.dst_port,
            packets,
            bytes: packets * self.rng.range(40, 1500),
            start,
            end: start + self.rng.range(0, 599),
            tcp_flags: None,
            action: "ACCEPT",
            truth,
        }
    }

    /// The records of one connection on one NIC.
    fn connection(&mut self, nic: NicIndex, flow: Flow, start: u64) {
        // The engine, for speed when generating millions; the tests hold every label to the
        // reference evaluator.
        let verdict = self.engine.check(Target::Nic(nic), &flow);
        let mismatch = self.rng.chance(0.02);
        let accepted = (verdict.action == Action::Accept) != mismatch;
        let reply_flow = Flow {
            direction: match flow.direction {
                Direction::Ingress => Direction::Egress,
                Direction::Egress => Direction::Ingress,
            },
            src: flow.dst,
            src_port: flow.dst_port,
            dst: flow.src,
            dst_port: flow.src_port,
            ..flow
        };
        let mut initiator = self.record(nic, &flow, start, Truth::Initiator { mismatch });
        initiator.action = if accepted { "ACCEPT" } else { "REJECT" };
        let mut reply = self.record(nic, &reply_flow, start, Truth::Reply);
        let server_port_clear = flow.dst_port < 32768;
        match flow.protocol {
            proto::TCP => {
                initiator.tcp_flags = Some(*self.rng.pick(&[2, 3, 11]));
                reply.tcp_flags = Some(*self.rng.pick(&[18, 19, 27]));
                self.queue.push_back(initiator.clone());
                if accepted {
                    self.queue.push_back(reply.clone());
                    if server_port_clear && self.rng.chance(0.3) {
                        // A later window of the same connection: no SYN, roles from the ports;
                        // some exports leave the flags out.
                        let later = start + 600;
                        for (record, flags) in [(&mut initiator, [8u16, 9]), (&mut reply, [8, 9])] {
                            record.start = later;
                            record.end = later + 300;
                            record.tcp_flags = self.rng.chance(0.5).then(|| *self.rng.pick(&flags));
                            self.queue.push_back(record.clone());
                        }
                    }
                }
            }
            proto::UDP if server_port_clear => {
                self.queue.push_back(initiator);
                if accepted {
                    self.queue.push_back(reply);
                }
            }
            _ => {
                // Undecided by its own fields: the start times tell, unless they are equal.
                let (key, _) = crate::analysis::replay::pair_key_of(nic, &flow);
                if !self.pairs.insert(key) {
                    return;
                }
                if !accepted {
                    self.queue.push_back(initiator);
                    return;
                }
                if self.rng.chance(0.1) {
                    initiator.truth = Truth::Ambiguous;
                    reply.truth = Truth::Ambiguous;
                } else {
                    reply.start = start + self.rng.range(1, 30);
                    reply.end = reply.end.max(reply.start);
                }
                // The reply may come first in the file: order must not matter.
                if self.rng.chance(0.5) {
                    self.queue.push_back(initiator);
                    self.queue.push_back(reply);
                } else {
                    self.queue.push_back(reply);
                    self.queue.push_back(initiator);
                }
            }
        }
    }
}

impl Iterator for LogGenerator<'_> {
    type Item = GeneratedRecord;

    fn next(&mut self) -> Option<GeneratedRecord> {
        if self.left == 0 {
            return None;
        }
        while self.queue.is_empty() {
            self.fill();
        }
        self.left -= 1;
        self.queue.pop_front()
    }
}

/// The fields written, in this order, by [`write_json`] and [`write_csv`] (all that Alibaba
/// documents; sgsim reads some of them).
pub const FIELDS: [&str; 20] = [
    "version",
    "account-id",
    "eni-id",
    "vm-id",
    "vswitch-id",
    "vpc-id",
    "srcaddr",
    "srcport",
    "dstaddr",
    "dstport",
    "protocol",
    "direction",
    "action",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
    "log-status",
    "traffic_path",
];

impl GeneratedRecord {
    /// The values of [`FIELDS`], `-` where not applicable.
    pub fn values(&self) -> [String; 20] {
        let ok = self.log_status == "OK";
        let ported = ok && matches!(self.protocol, proto::TCP | proto::UDP);
        let number = |applies: bool, n: u64| if applies { n.to_string() } else { "-".into() };
        [
            "1".into(),
            "1234567890123456".into(),
            self.eni_id.clone(),
            self.eni_id.replace("eni-", "i-"),
            "vsw-generated".into(),
            "vpc-generated".into(),
            self.srcaddr.clone(),
            number(ported, self.srcport.into()),
            self.dstaddr.clone(),
            number(ported, self.dstport.into()),
            number(ok, self.protocol.into()),
            self.direction.into(),
            self.action.into(),
            number(ok, self.packets),
            number(ok, self.bytes),
            self.start.to_string(),
            self.end.to_string(),
            self.tcp_flags.map_or("-".into(), |f| f.to_string()),
            self.log_status.into(),
            "-".into(),
        ]
    }
}

/// Writes a record as one SLS JSON line (every value a string).
pub fn write_json(record: &GeneratedRecord, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, value)) in FIELDS.iter().zip(record.values()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"}\n");
}

/// The CSV header row for [`write_csv`].
pub fn csv_header(delimiter: u8) -> String {
    FIELDS.join(&(delimiter as char).to_string()) + "\n"
}

/// Writes a record as one CSV row.
pub fn write_csv(record: &GeneratedRecord, delimiter: u8, out: &mut Vec<u8>) {
    for (i, value) in record.values().iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
}

/// Writes records as JSON lines or CSV (header first), in one call.
pub fn write_text(
    records: impl IntoIterator<Item = GeneratedRecord>,
    csv_delimiter: Option<u8>,
    mut out: impl Write,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1 << 20);
    if let Some(delimiter) = csv_delimiter {
        buffer.extend_from_slice(csv_header(delimiter).as_bytes());
    }
    for record in records {
        match csv_delimiter {
            Some(delimiter) => write_csv(&record, delimiter, &mut buffer),
            None => write_json(&record, &mut buffer),
        }
        if buffer.len() >= 1 << 20 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)?;
    out.flush()
}

/// Writes records as a Parquet file (snappy): strings for ids, addresses and words, INT64 for
/// numbers, as an OSS shipping job with typed columns writes them; `-` becomes null.
#[cfg(feature = "parquet")]
pub fn write_parquet(
    records: impl IntoIterator<Item = GeneratedRecord>,
    out: impl Write + Send,
) -> Result<(), String> {
    write_parquet_as(records, out, ParquetLayout::default())
}

/// How [`ParquetLogWriter`] lays the columns out.
#[cfg(feature = "parquet")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParquetLayout {
    /// Numbers as INT64 columns (else strings, as the JSON has them).
    pub int_numbers: bool,
    /// Strings dictionary-encoded (Parquet's default; else plain pages).
    pub dictionary: bool,
    /// How the pages are compressed.
    pub codec: ParquetCodec,
}

#[cfg(feature = "parquet")]
impl Default for ParquetLayout {
    fn default() -> Self {
        ParquetLayout {
            int_numbers: true,
            dictionary: true,
            codec: ParquetCodec::Snappy,
        }
    }
}

/// The page compressions [`ParquetLogWriter`] writes: OSS shipping's (`compress_type`) and
/// those of common writers (Polars writes zstd, Spark and pyarrow snappy).
#[cfg(feature = "parquet")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParquetCodec {
    /// Pages as they are.
    Uncompressed,
    /// Snappy, Parquet's usual default.
    Snappy,
    /// Gzip.
    Gzip,
    /// Zstandard.
    Zstd,
    /// LZ4 (`LZ4_RAW`).
    Lz4,
}

/// [`write_parquet`] with another column layout.
#[cfg(feature = "parquet")]
pub fn write_parquet_as(
    records: impl IntoIterator<Item = GeneratedRecord>,
    out: impl Write + Send,
    layout: ParquetLayout,
) -> Result<(), String> {
    let mut writer = ParquetLogWriter::with_layout(out, layout)?;
    for record in records {
        writer.push(&record)?;
    }
    writer.finish()
}

/// Columns written as INT64 by [`ParquetLogWriter`].
#[cfg(feature = "parquet")]
const NUMERIC: [&str; 8] = [
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp-flags",
];

/// Writes records to a Parquet file one at a time, handed to the Arrow writer 65 536 at a time;
/// it gathers them into row groups of its default size (1 048 576 rows: a 10 M-record file has
/// 10 row groups, `docs/perf/2026-12-06-i19u`).
#[cfg(feature = "parquet")]
pub struct ParquetLogWriter<W: Write + Send> {
    writer: parquet::arrow::ArrowWriter<W>,
    schema: std::sync::Arc<arrow_schema::Schema>,
    strings: Vec<arrow_array::builder::StringBuilder>,
    numbers: Vec<arrow_array::builder::Int64Builder>,
    rows: usize,
    layout: ParquetLayout,
}

#[cfg(feature = "parquet")]
impl<W: Write + Send> ParquetLogWriter<W> {
    /// A writer of one Parquet file with the columns OSS shipping writes.
    pub fn new(out: W) -> Result<Self, String> {
        Self::with_layout(out, ParquetLayout::default())
    }

    /// A writer of one Parquet file with another column layout.
    pub fn with_layout(out: W, layout: ParquetLayout) -> Result<Self, String> {
        use arrow_schema::{DataType, Field as Column, Schema};
        use parquet::basic::Compression;
        use parquet::file::properties::WriterProperties;
        let schema = std::sync::Arc::new(Schema::new(
            FIELDS
                .iter()
                .map(|name| {
                    let data_type = if layout.int_numbers && NUMERIC.contains(name) {
                        DataType::Int64
                    } else {
                        DataType::Utf8
                    };
                    Column::new(*name, data_type, true)
                })
                .collect::<Vec<_>>(),
        ));
        let compression = match layout.codec {
            ParquetCodec::Uncompressed => Compression::UNCOMPRESSED,
            ParquetCodec::Snappy => Compression::SNAPPY,
            ParquetCodec::Gzip => Compression::GZIP(Default::default()),
            ParquetCodec::Zstd => Compression::ZSTD(Default::default()),
            ParquetCodec::Lz4 => Compression::LZ4_RAW,
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_dictionary_enabled(layout.dictionary)
            .build();
        let writer = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(properties))
            .map_err(|e| e.to_string())?;
        let mut new = ParquetLogWriter {
            writer,
            schema,
            strings: Vec::new(),
            numbers: Vec::new(),
            rows: 0,
            layout,
        };
        new.reset();
        Ok(new)
    }

    fn reset(&mut self) {
        self.strings = FIELDS
            .iter()
            .filter(|name| !self.numeric(name))
            .map(|_| arrow_array::builder::StringBuilder::new())
            .collect();
        self.numbers = FIELDS
            .iter()
            .filter(|name| self.numeric(name))
            .map(|_| arrow_array::builder::Int64Builder::new())
            .collect();
        self.rows = 0;
    }

    fn numeric(&self, name: &str) -> bool {
        self.layout.int_numbers && NUMERIC.contains(&name)
    }

    /// Adds a record (written out in row groups as they fill).
    pub fn push(&mut self, record: &GeneratedRecord) -> Result<(), String> {
        let (mut s, mut n) = (0, 0);
        for (name, value) in FIELDS.iter().zip(record.values()) {
            let absent = value == "-";
            if self.numeric(name) {
                self.numbers[n]
                    .append_option((!absent).then(|| value.parse::<i64>().unwrap_or(-1)));
                n += 1;
            } else {
                self.strings[s].append_option((!absent).then_some(value));
                s += 1;
            }
        }
        self.rows += 1;
        if self.rows == 65536 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        use arrow_array::ArrayRef;
        use std::sync::Arc;
        if self.rows == 0 {
            return Ok(());
        }
        let mut strings = std::mem::take(&mut self.strings).into_iter();
        let mut numbers = std::mem::take(&mut self.numbers).into_iter();
        let columns: Vec<ArrayRef> = FIELDS
            .iter()
            .map(|name| -> ArrayRef {
                if self.numeric(name) {
                    Arc::new(numbers.next().expect("one builder per column").finish())
                } else {
                    Arc::new(strings.next().expect("one builder per column").finish())
                }
            })
            .collect();
        let batch = arrow_array::RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| e.to_string())?;
        self.writer.write(&batch).map_err(|e| e.to_string())?;
        self.reset();
        Ok(())
    }

    /// Writes what is left and the file's footer.
    pub fn finish(mut self) -> Result<(), String> {
        self.flush()?;
        self.writer.close().map_err(|e| e.to_string())?;
        Ok(())
    }
}
