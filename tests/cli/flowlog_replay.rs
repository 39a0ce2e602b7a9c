//! `sgsim replay`: the documentation samples are read (masked records reported, not fatal), and
//! on generated logs in every format the hits per rule, the skipped records and the mismatches
//! equal what the reference evaluator gives over the initiator records the generator labelled.

use crate::common;

use common::sgsim;
use sgsim::analysis::replay::{self, Replay, ReplayObserver, ReplayOptions, ReplayReport};
use sgsim::bench::flowlog::{self as generate, GeneratedRecord, LogGenerator, Truth};
use sgsim::bench::synth;
use sgsim::eval::reference;
use sgsim::input::flowlog::{self, Format, RecordError};
use sgsim::model::{Action, Direction, EvalOptions, Flow, Reason, Target};
use sgsim::Engine;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/flowlogs")
        .join(name)
}

/// A damaged Parquet file the fuzz target `flowlog_parquet` found.
fn kept_parquet_artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/artifacts-kept/flowlog_parquet")
        .join(name)
}

/// The error opening `path` gives (a panic if it opens).
fn open_error(path: &Path) -> String {
    match flowlog::open(path, None) {
        Ok(_) => panic!("{} was opened", path.display()),
        Err(err) => err.message,
    }
}

#[derive(Default)]
struct Collect(Vec<(String, u64, RecordError)>);

impl ReplayObserver for Collect {
    fn malformed(&mut self, file: &str, line: u64, error: &RecordError) {
        self.0.push((file.to_string(), line, error.clone()));
    }
}

fn replay(engine: &Engine, paths: &[&Path], format: Option<Format>) -> (ReplayReport, Collect) {
    let mut replay = Replay::new(
        engine,
        ReplayOptions {
            max_listed_mismatches: usize::MAX,
        },
    );
    let mut collect = Collect::default();
    for path in paths {
        let mut reader = flowlog::open(path, format).unwrap();
        replay.start_file(reader.name());
        while let Some(block) = reader.next_block().unwrap() {
            replay.add_block(block.as_ref(), &mut collect);
        }
    }
    (replay.finish(), collect)
}

#[test]
fn doc_samples_are_read_and_their_masked_records_reported() {
    let docs = testdata("alibaba-vpc-docs-2025.examples.jsonl");
    let logstore = testdata("alibaba-sls-logstore-2022.example.json");
    let out = sgsim(&[
        "replay",
        common::example("vpc-web.json").to_str().unwrap(),
        docs.to_str().unwrap(),
        logstore.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("alibaba-sls-logstore-2022.example.json:1: srcaddr \"172.16.XX.XX\": expected an IPv4 or IPv6 address (this one is masked"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    let records = &report["records"];
    assert_eq!(records["read"], 5);
    assert_eq!(records["evaluated"], 0);
    let skipped = &records["skipped"];
    for (cause, n) in [
        ("nodata", 1),
        ("skipdata", 1),
        ("unmapped", 2),
        ("malformed", 1),
        ("reply", 0),
    ] {
        assert_eq!(skipped[cause], n, "{cause}: {skipped}");
    }
    assert_eq!(
        report["unmapped_enis"][0]["eni_id"],
        "eni-bp166tg9uk1ryf******"
    );
    let caveats = report["unused"]["caveats"].to_string();
    assert!(
        caveats.contains("SKIPDATA on eni-bp1dfm4xnlpruv******"),
        "{caveats}"
    );
}

/// A Parquet file whose `srcaddr` pages are brotli-compressed (pyarrow, four records of
/// `examples/flowlogs.jsonl`): a codec this build lacks is named with its column, before any
/// record is read. A file on which the `parquet` crate panics (found by the fuzz target) is an
/// error that names the file and what failed, printed as such, with no panic message.
#[test]
fn a_missing_codec_and_a_damaged_parquet_file_are_errors() {
    assert_eq!(
        open_error(&testdata("brotli-srcaddr.parquet")),
        "column \"srcaddr\" is compressed with brotli: sgsim reads Parquet pages uncompressed or compressed with snappy, gzip, zstd or lz4"
    );

    let damaged = kept_parquet_artifact("negative-column-offset.parquet");
    let mut reader = flowlog::open(&damaged, None).unwrap();
    let err = reader.next_block().err().expect("an error, not a block");
    assert_eq!(
        err.message,
        "row 1: not a readable Parquet file (damaged?): the Parquet reader failed: column start and length should not be negative"
    );
    assert!(reader.next_block().unwrap().is_none(), "not read further");
    let out = sgsim(&[
        "replay",
        common::example("vpc-web.json").to_str().unwrap(),
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.starts_with("error: ")
            && stderr
                .contains("negative-column-offset.parquet: row 1: not a readable Parquet file"),
        "{stderr}"
    );
}

/// A page header claiming more than its page holds is refused when the file is opened, before
/// the `parquet` crate allocates (and for snappy, zero-fills) what it claims: 134 MB of peak
/// memory for this 2 KB file before, and 2 GB for the fuzzer's 7 KB one.
#[test]
fn a_page_claiming_a_huge_size_is_refused_before_it_is_read() {
    assert_eq!(
        open_error(&testdata("page-claims-134-mb.parquet")),
        "column \"srcaddr\": the page at byte 179 claims 134217727 bytes uncompressed, where its column chunk holds 203 in all (sgsim reads pages of up to 8 MiB, or up to their chunk's size, at most 256 MiB): not a readable Parquet file (damaged?)"
    );
    let message = open_error(&kept_parquet_artifact("page-claims-2-gb.parquet"));
    assert!(
        message.starts_with(
            "column \"end\": the page at byte 2036 claims 2043530057 bytes uncompressed"
        ),
        "{message}"
    );
}

/// The rule (or `nic/direction/decision`) a verdict charges, as the report names it.
fn slot_name(engine: &Engine, nic: &str, direction: Direction, verdict_reason: Reason) -> String {
    match verdict_reason {
        Reason::Rule(rule) => {
            let (group, rule) = engine.rule(rule);
            format!("{}/{}", group.id, rule.id)
        }
        reason => format!("{nic}/{direction}/{}", reason.as_str()),
    }
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Expected {
    hits: BTreeMap<String, (u64, u64, u64, BTreeSet<Flow5>)>,
    mismatches: BTreeSet<u64>,
    reply: u64,
    ambiguous: u64,
    nodata: u64,
    skipdata: u64,
    unmapped: u64,
    malformed: u64,
}

type Flow5 = (u8, IpAddr, u16, IpAddr, u16);

fn flow_of(record: &GeneratedRecord) -> Flow {
    let ported = matches!(record.protocol, 6 | 17);
    Flow {
        direction: if record.direction == "in" {
            Direction::Ingress
        } else {
            Direction::Egress
        },
        protocol: record.protocol,
        src: record.srcaddr.parse().unwrap(),
        src_port: if ported { record.srcport } else { 0 },
        dst: record.dstaddr.parse().unwrap(),
        dst_port: if ported { record.dstport } else { 0 },
    }
}

/// What the report must say, from the generator's labels and the reference evaluator;
/// `first_line` is the location of the first record.
fn expected(engine: &Engine, records: &[GeneratedRecord], first_line: u64) -> Expected {
    let snapshot = engine.snapshot();
    let mut expected = Expected::default();
    for (index, record) in records.iter().enumerate() {
        match record.truth {
            Truth::Initiator { mismatch } => {
                let nic = snapshot.nic_index(&record.eni_id).unwrap();
                let flow = flow_of(record);
                let verdict =
                    reference::evaluate(snapshot, Target::Nic(nic), &flow, engine.options());
                let name = slot_name(engine, &record.eni_id, flow.direction, verdict.reason);
                let entry = expected.hits.entry(name).or_default();
                entry.0 += 1;
                entry.1 += record.packets;
                entry.2 += record.bytes;
                entry.3.insert((
                    flow.protocol,
                    flow.src,
                    flow.src_port,
                    flow.dst,
                    flow.dst_port,
                ));
                let logged_accept = record.action == "ACCEPT";
                assert_eq!(
                    logged_accept != (verdict.action == Action::Accept),
                    mismatch,
                    "the generator's label"
                );
                if mismatch {
                    expected.mismatches.insert(first_line + index as u64);
                }
            }
            Truth::Reply => expected.reply += 1,
            Truth::Ambiguous => expected.ambiguous += 1,
            Truth::NoData => expected.nodata += 1,
            Truth::SkipData => expected.skipdata += 1,
            Truth::Unmapped => expected.unmapped += 1,
            Truth::Malformed => expected.malformed += 1,
        }
    }
    expected
}

fn check(report: &ReplayReport, expected: &Expected, records: usize, what: &str) {
    let s = &report.records.skipped;
    assert_eq!(report.records.read, records as u64, "{what}");
    assert_eq!(
        (
            s.reply,
            s.ambiguous,
            s.nodata,
            s.skipdata,
            s.unmapped,
            s.malformed
        ),
        (
            expected.reply,
            expected.ambiguous,
            expected.nodata,
            expected.skipdata,
            expected.unmapped,
            expected.malformed
        ),
        "{what}: skipped records"
    );
    let evaluated: u64 = expected.hits.values().map(|e| e.0).sum();
    assert_eq!(report.records.evaluated, evaluated, "{what}");
    let mut found = BTreeMap::new();
    for row in &report.rules {
        let name = match &row.security_group_id {
            Some(group) => format!("{group}/{}", row.rule_id),
            None => format!(
                "{}/{}/{}",
                row.nic_id.as_deref().unwrap(),
                row.direction,
                row.rule_id
            ),
        };
        assert!(row.distinct_flows_exact);
        if row.hits > 0 {
            found.insert(name, (row.hits, row.packets, row.bytes, row.distinct_flows));
        }
    }
    let wanted: BTreeMap<String, (u64, u64, u64, u64)> = expected
        .hits
        .iter()
        .map(|(name, e)| (name.clone(), (e.0, e.1, e.2, e.3.len() as u64)))
        .collect();
    assert_eq!(
        found, wanted,
        "{what}: hits, packets, bytes, distinct flows per rule"
    );
    let unused: HashSet<String> = report
        .unused
        .rules
        .iter()
        .map(|r| format!("{}/{}", r.security_group_id, r.rule_id))
        .collect();
    for row in report
        .rules
        .iter()
        .filter(|r| r.security_group_id.is_some())
    {
        let name = format!(
            "{}/{}",
            row.security_group_id.as_ref().unwrap(),
            row.rule_id
        );
        assert_eq!(unused.contains(&name), row.hits == 0, "{what}: {name}");
    }
    let mismatches: BTreeSet<u64> = report.mismatches.iter().map(|m| m.line).collect();
    assert_eq!(mismatches, expected.mismatches, "{what}: mismatch lines");
    assert_eq!(
        report.mismatch_counts.rejected_though_accepted
            + report.mismatch_counts.accepted_though_dropped,
        expected.mismatches.len() as u64
    );
    for m in &report.mismatches {
        let kind = if m.logged_action == "REJECT" {
            "rejected_though_accepted"
        } else {
            "accepted_though_dropped"
        };
        assert_eq!(m.kind, kind);
    }
}

fn generated(
    rules: usize,
    flows: usize,
    records: u64,
    seed: u64,
) -> (Engine, Vec<GeneratedRecord>) {
    let set = synth::generate(rules, flows, seed);
    let engine = Engine::builder(set.snapshot)
        .options(EvalOptions::default())
        .bulk()
        .build();
    let records: Vec<GeneratedRecord> =
        LogGenerator::new(&engine, set.queries, records, seed).collect();
    (engine, records)
}

#[test]
fn generated_logs_give_the_reference_hits_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for seed in [1, 2] {
        let (engine, records) = generated(300, 2000, 6000, seed);
        // The generator's mix covers every kind of record.
        for truth in [
            Truth::Reply,
            Truth::Ambiguous,
            Truth::NoData,
            Truth::SkipData,
            Truth::Unmapped,
            Truth::Malformed,
            Truth::Initiator { mismatch: true },
        ] {
            assert!(records.iter().any(|r| r.truth == truth), "{truth:?}");
        }
        let from_line_1 = expected(&engine, &records, 1);
        let from_line_2 = expected(&engine, &records, 2);

        let json = dir.path().join(format!("log-{seed}.jsonl"));
        generate::write_text(records.clone(), None, std::fs::File::create(&json).unwrap()).unwrap();
        let (report, malformed) = replay(&engine, &[&json], None);
        check(&report, &from_line_1, records.len(), "json");
        assert_eq!(malformed.0.len() as u64, from_line_1.malformed);
        assert!(malformed.0[0].2.to_string().contains("masked"));

        // gzip, and the delimiters OSS shipping offers.
        let gz = dir.path().join(format!("log-{seed}.jsonl.gz"));
        let mut encoder = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        generate::write_text(records.clone(), None, &mut encoder).unwrap();
        encoder.finish().unwrap();
        check(
            &replay(&engine, &[&gz], None).0,
            &from_line_1,
            records.len(),
            "json.gz",
        );

        // As OSS shipping compresses an object (`compress_type`): zstd, or the whole file as
        // one raw snappy block named `….snappy`; and in the snappy framing format.
        let text = {
            let mut text = Vec::new();
            generate::write_text(records.clone(), None, &mut text).unwrap();
            text
        };
        let zst = dir.path().join(format!("log-{seed}.jsonl.zst"));
        std::fs::write(&zst, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
        let snappy = dir
            .path()
            .join(format!("54_1453812893059571256_93{seed}.snappy"));
        std::fs::write(
            &snappy,
            snap::raw::Encoder::new().compress_vec(&text).unwrap(),
        )
        .unwrap();
        let framed = dir.path().join(format!("log-{seed}.jsonl.sz"));
        let mut encoder = snap::write::FrameEncoder::new(Vec::new());
        encoder.write_all(&text).unwrap();
        std::fs::write(&framed, encoder.into_inner().unwrap()).unwrap();
        for (path, what) in [(zst, "zstd"), (snappy, "snappy"), (framed, "framed snappy")] {
            check(
                &replay(&engine, &[&path], None).0,
                &from_line_1,
                records.len(),
                what,
            );
        }

        for delimiter in [b',', b'|', b'\t', b' '] {
            let csv = dir.path().join(format!("log-{seed}-{delimiter}.csv"));
            generate::write_text(
                records.clone(),
                Some(delimiter),
                std::fs::File::create(&csv).unwrap(),
            )
            .unwrap();
            let (report, _) = replay(&engine, &[&csv], None);
            check(
                &report,
                &from_line_2,
                records.len(),
                &format!("csv {:?}", delimiter as char),
            );
        }

        let parquet = dir.path().join(format!("log-{seed}.parquet"));
        generate::write_parquet(records.clone(), std::fs::File::create(&parquet).unwrap()).unwrap();
        let (report, malformed) = replay(&engine, &[&parquet], None);
        check(&report, &from_line_1, records.len(), "parquet");
        assert_eq!(malformed.0.len() as u64, from_line_1.malformed);

        // Strings read as dictionaries whether the file encodes them so or not, and numbers
        // as strings: the same report, and the same malformed records with the same messages.
        // And pages compressed as OSS shipping and other writers compress them.
        use generate::ParquetCodec::*;
        for (int_numbers, dictionary, codec) in [
            (true, false, Snappy),
            (false, true, Snappy),
            (false, false, Snappy),
            (true, true, Uncompressed),
            (true, true, Gzip),
            (true, true, Zstd),
            (true, true, Lz4),
        ] {
            let layout = generate::ParquetLayout {
                int_numbers,
                dictionary,
                codec,
            };
            let path = dir.path().join(format!(
                "log-{seed}-{int_numbers}-{dictionary}-{codec:?}.parquet"
            ));
            generate::write_parquet_as(
                records.clone(),
                std::fs::File::create(&path).unwrap(),
                layout,
            )
            .unwrap();
            let (other, other_malformed) = replay(&engine, &[&path], None);
            let what = format!("parquet {layout:?}");
            check(&other, &from_line_1, records.len(), &what);
            let strip = |report: &ReplayReport| {
                let mut json = serde_json::to_value(report).unwrap();
                json["files"] = serde_json::Value::Null;
                for m in json["mismatches"].as_array_mut().unwrap() {
                    m["file"] = serde_json::Value::Null;
                }
                json
            };
            assert_eq!(strip(&other), strip(&report), "{what}");
            let messages = |m: &Collect| -> Vec<(u64, String)> {
                m.0.iter()
                    .map(|(_, line, e)| (*line, e.to_string()))
                    .collect()
            };
            assert_eq!(messages(&other_malformed), messages(&malformed), "{what}");
        }
    }
}

#[test]
fn replies_are_never_charged_even_alone() {
    let (engine, records) = generated(200, 1000, 4000, 7);
    let replies: Vec<GeneratedRecord> = records
        .into_iter()
        .filter(|r| r.truth == Truth::Reply && r.tcp_flags.is_some_and(|f| f & 0x12 == 0x12))
        .collect();
    assert!(replies.len() > 100);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("replies.jsonl");
    generate::write_text(replies.clone(), None, std::fs::File::create(&json).unwrap()).unwrap();
    let (report, _) = replay(&engine, &[&json], None);
    assert_eq!(report.records.skipped.reply, replies.len() as u64);
    assert_eq!(report.records.evaluated, 0);
    assert!(report.rules.iter().all(|r| r.hits == 0));
}

/// Replays one log in blocks of about `block_bytes` (text formats); also the most records held
/// waiting for their opposite record after any block.
fn replay_in_blocks(engine: &Engine, path: &Path, block_bytes: usize) -> (ReplayReport, usize) {
    let mut replay = Replay::new(
        engine,
        ReplayOptions {
            max_listed_mismatches: usize::MAX,
        },
    );
    let mut reader = flowlog::open(path, None)
        .unwrap()
        .with_block_bytes(block_bytes);
    replay.start_file(reader.name());
    let mut most_held = 0;
    while let Some(block) = reader.next_block().unwrap() {
        replay.add_block(block.as_ref(), &mut ());
        most_held = most_held.max(replay.held_records());
    }
    (replay.finish(), most_held)
}

/// Records whose role only their opposite record tells (what the replay holds).
fn undecided(records: &[GeneratedRecord]) -> usize {
    records
        .iter()
        .filter(|r| {
            matches!(
                r.truth,
                Truth::Initiator { .. } | Truth::Reply | Truth::Ambiguous
            )
        })
        .filter(|r| {
            let mut line = Vec::new();
            generate::write_json(r, &mut line);
            let raw = flowlog::json::scan_line(line.trim_ascii_end()).unwrap();
            let Ok(flowlog::Record::Traffic { traffic, .. }) = flowlog::interpret(&raw) else {
                panic!("{r:?}");
            };
            replay::role(&traffic) == replay::Role::Undecided
        })
        .count()
}

#[test]
fn held_records_settle_as_the_log_moves_on_and_hits_stay_exact() {
    let set = synth::generate(200, 1000, 11);
    let engine = Engine::builder(set.snapshot)
        .options(EvalOptions::default())
        .bulk()
        .build();
    // 30 s between connections: the log spans about a day, many pairing horizons.
    let records: Vec<GeneratedRecord> = LogGenerator::new(&engine, set.queries, 8000, 11)
        .with_pace_ms(30_000)
        .collect();
    let held_at_most = undecided(&records);
    assert!(held_at_most > 200, "{held_at_most}");
    let dir = tempfile::tempdir().unwrap();

    let json = dir.path().join("ordered.jsonl");
    generate::write_text(records.clone(), None, std::fs::File::create(&json).unwrap()).unwrap();
    let (report, most_held) = replay_in_blocks(&engine, &json, 32 << 10);
    check(
        &report,
        &expected(&engine, &records, 1),
        records.len(),
        "json, small blocks",
    );
    assert!(
        most_held * 5 < held_at_most,
        "held {most_held} of {held_at_most} undecided records at once"
    );
    assert!(!report
        .unused
        .caveats
        .iter()
        .any(|c| c.contains("time order")));

    let csv = dir.path().join("ordered.csv");
    generate::write_text(
        records.clone(),
        Some(b','),
        std::fs::File::create(&csv).unwrap(),
    )
    .unwrap();
    let (report, _) = replay_in_blocks(&engine, &csv, 32 << 10);
    check(
        &report,
        &expected(&engine, &records, 2),
        records.len(),
        "csv, small blocks",
    );

    // Newest first: nothing is settled early, so the answer is the same.
    let reversed: Vec<GeneratedRecord> = records.iter().rev().cloned().collect();
    let json = dir.path().join("reversed.jsonl");
    generate::write_text(
        reversed.clone(),
        None,
        std::fs::File::create(&json).unwrap(),
    )
    .unwrap();
    let (report, _) = replay_in_blocks(&engine, &json, 32 << 10);
    check(
        &report,
        &expected(&engine, &reversed, 1),
        reversed.len(),
        "json, reversed",
    );
    assert!(
        report
            .unused
            .caveats
            .iter()
            .any(|c| c.contains("not in time order")),
        "{:?}",
        report.unused.caveats
    );
}

#[test]
fn the_cli_prints_text_json_and_csv() {
    let (engine, records) = generated(50, 300, 800, 3);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    let value = sgsim::input::ecs::write::snapshot_to_value(engine.snapshot());
    std::fs::write(&snapshot, serde_json::to_string(&value).unwrap()).unwrap();
    let log = dir.path().join("log.csv");
    generate::write_text(records, Some(b','), std::fs::File::create(&log).unwrap()).unwrap();
    let args = |extra: &[&str]| {
        let mut args = vec!["replay", snapshot.to_str().unwrap(), log.to_str().unwrap()];
        args.extend_from_slice(extra);
        sgsim(&args)
    };
    let text = args(&[]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("records: 800 read, "), "{text}");
    assert!(text.contains("\nunused: "), "{text}");
    assert!(text.contains("\nmismatches: "), "{text}");

    let json = args(&["--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    for key in ["schema_version", "records", "rules", "unused", "mismatches"] {
        assert!(report.get(key).is_some(), "{key}");
    }
    let row = &report["rules"][0];
    for key in [
        "security_group_id",
        "rule_id",
        "hits",
        "distinct_flows",
        "packets",
        "bytes",
        "first_seen",
        "last_seen",
    ] {
        assert!(row.get(key).is_some(), "{key}: {row}");
    }

    let csv = args(&["--csv"]);
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with(
        "security_group_id,rule_id,nic_id,direction,hits,distinct_flows,packets,bytes,first_seen,last_seen\n"
    ));
    assert_eq!(
        csv.lines().count(),
        report["rules"].as_array().unwrap().len() + 1
    );

    let missing = sgsim(&[
        "replay",
        snapshot.to_str().unwrap(),
        "/nonexistent/log.jsonl",
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/log.jsonl"));
}

#[test]
fn audit_hits_adds_the_unused_rules_of_a_replay() {
    let (engine, records) = generated(40, 300, 600, 5);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(
        &snapshot,
        sgsim::input::ecs::write::snapshot_to_string(engine.snapshot()),
    )
    .unwrap();
    let log = dir.path().join("log.jsonl");
    generate::write_text(records, None, std::fs::File::create(&log).unwrap()).unwrap();
    let replay = sgsim(&[
        "replay",
        snapshot.to_str().unwrap(),
        log.to_str().unwrap(),
        "--json",
    ]);
    assert!(replay.status.success());
    let report: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    let unused: Vec<String> = report["unused"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["security_group_id"].as_str().unwrap(),
                r["rule_id"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!unused.is_empty());
    let replay_path = dir.path().join("replay.json");
    std::fs::write(&replay_path, &replay.stdout).unwrap();
    let audit = |format: &[&str]| {
        let mut args = vec![
            "audit",
            snapshot.to_str().unwrap(),
            "--hits",
            replay_path.to_str().unwrap(),
        ];
        args.extend_from_slice(format);
        let out = sgsim(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };

    let text = String::from_utf8(audit(&[])).unwrap();
    assert!(text.contains("unused in the logs ("), "{text}");
    for rule in &unused {
        assert!(text.contains(&format!(" {rule} (")), "{rule}: {text}");
    }

    let json: serde_json::Value = serde_json::from_slice(&audit(&["--json"])).unwrap();
    let listed: Vec<String> = json["unused_in_logs"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["security_group_id"].as_str().unwrap(),
                r["rule_id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(listed, unused);

    let sarif: serde_json::Value = serde_json::from_slice(&audit(&["--sarif"])).unwrap();
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sarif-schema-2.1.0.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&sarif));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let sg006 = results.iter().filter(|r| r["ruleId"] == "SG006").count();
    assert_eq!(sg006, unused.len());

    // A report that is not a replay's is refused with the path of what is wrong.
    std::fs::write(
        &replay_path,
        r#"{"schema_version": 1, "unused": {"rules": 3}}"#,
    )
    .unwrap();
    let out = sgsim(&[
        "audit",
        snapshot.to_str().unwrap(),
        "--hits",
        replay_path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("replay.json: at unused"), "{stderr}");
}

/// The fuzz targets' corpora (and any kept crash reproducer) replayed by the normal test run:
/// every file reads to the end or is refused with an error, the JSON scanner agrees with
/// serde_json on every line, and Parquet rows read field by field and a column at a time agree.
#[test]
fn flowlog_fuzz_corpora_read_and_the_json_scanner_agrees() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, format) in [
        ("flowlog_json", Format::Json),
        ("flowlog_csv", Format::Csv),
        ("flowlog_parquet", Format::Parquet),
    ] {
        let mut files = Vec::new();
        for dir in ["corpus", "artifacts-kept"] {
            if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
                files.extend(entries.map(|e| e.unwrap().path()));
            }
        }
        assert!(files.len() >= 3, "{target}: the seed corpus is missing");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if format == Format::Json {
                // The lines one after another with the keys of the line before, as a block
                // reads them, answer as each alone does.
                let mut keys = flowlog::json::KeyLayout::default();
                for line in data.split(|&b| b == b'\n') {
                    let alone = flowlog::json::scan_line(line);
                    assert_eq!(flowlog::json::scan_line_with(line, &mut keys), alone);
                    let mut fresh = flowlog::json::KeyLayout::default();
                    assert_eq!(flowlog::json::scan_bytewise(line, &mut fresh), alone);
                    if let Some(fast) = alone {
                        let mut scratch = None;
                        assert_eq!(
                            Ok(fast),
                            flowlog::json::parse_line_serde(line, &mut scratch)
                        );
                    }
                }
            }
            let Ok(mut reader) = flowlog::open_reader(
                file.display().to_string(),
                Box::new(std::io::Cursor::new(data)),
                Some(format),
            ) else {
                continue;
            };
            while let Ok(Some(block)) = reader.next_block() {
                let mut by_field = Vec::new();
                block.records(0..block.len(), &mut |line, raw| {
                    let record = raw.and_then(|raw| flowlog::interpret(&raw));
                    by_field.push((line, record.map(|r| format!("{r:?}"))));
                });
                assert_eq!(by_field.len(), block.len());
                let mut by_column = Vec::new();
                block.interpreted(0..block.len(), &mut |line, record| {
                    by_column.push((line, record.map(|r| format!("{r:?}"))));
                });
                assert_eq!(by_column, by_field, "{}", file.display());
            }
        }
    }
}

/// The README's example, as printed there.
#[test]
fn the_shipped_example_replays_as_the_readme_shows() {
    let out = sgsim(&[
        "replay",
        common::example("vpc-web.json").to_str().unwrap(),
        common::example("flowlogs.jsonl").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("records: 15 read, 8 evaluated; skipped: 4 reply, 0 ambiguous, 1 nodata, 1 skipdata, 1 unmapped, 0 malformed\n"), "{text}");
    assert!(
        text.contains("\nunused: 8 rule(s) with zero hits\n"),
        "{text}"
    );
    assert!(text.contains("flowlogs.jsonl:9: eni-web1 ingress tcp 198.51.100.20:33000 -> 10.0.1.10:8080 logged REJECT, simulated accept by sg-web/sgr-web-admin\n"), "{text}");
    assert!(text.contains("flowlogs.jsonl:12: eni-web1 ingress udp 198.18.0.1:50000 -> 10.0.1.10:53 logged ACCEPT, simulated drop by sg-ops/sgr-ops-block-udp\n"), "{text}");
    assert!(text.contains("caveat: SKIPDATA on eni-vault"), "{text}");
}
