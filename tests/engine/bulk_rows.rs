//! `sgsim eval`'s bulk path (`sgsim::eval::bulk::eval_csv`) against the reference evaluator, row by
//! row, on random accounts and flows written in every way the CSV contract allows: quoted
//! fields (with `""` and line ends inside), CRLF line ends, other spellings of directions,
//! protocols, ports and addresses, IPv6, empty ports, and bad rows (unknown NIC, bad address,
//! fields too many or too few, an empty line, bytes that are not UTF-8).
//!
//! The expectations come from the row-by-row reader (`sgsim::input::flows::FlowsReader`, the general
//! parser) and `Engine::check_reference`: each good row's output is its input text (without its
//! line end) and the reference verdict's columns; each bad row's says `error`, and is reported
//! at the line the reader gives it.

use proptest::prelude::*;
use sgsim::bench::estate::{self, EstateShape};
use sgsim::eval::bulk::{eval_csv, EvalObserver, RowError, INPUT_HEADER, OUTPUT_COLUMNS};
use sgsim::input::flows::{parse_quoted, record_ends, FlowsReader, VerdictColumns};
use sgsim::model::{protocol_name, EvalOptions};
use sgsim::{Engine, Query, Snapshot};

struct Collect(Vec<RowError>);

impl EvalObserver for Collect {
    fn row_error(&mut self, error: &RowError) {
        self.0.push(error.clone());
    }
}

/// A field as CSV, quoted (with its quotes doubled).
fn quoted(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// The seven fields of a flow, spelled in one of several ways the contract accepts (or, for
/// some `style`s, a way it refuses).
fn row_text(snapshot: &Snapshot, query: &Query, style: u8, quotes: bool) -> Vec<u8> {
    let flow = &query.flow;
    let ported = matches!(flow.protocol, 6 | 17);
    let port = |p: u16| if ported { p.to_string() } else { String::new() };
    let protocol = protocol_name(flow.protocol)
        .map(str::to_string)
        .unwrap_or_else(|| flow.protocol.to_string());
    let mut fields: Vec<String> = vec![
        snapshot.target_id(query.target).to_string(),
        flow.direction.as_str().to_string(),
        protocol,
        flow.src.to_string(),
        port(flow.src_port),
        flow.dst.to_string(),
        port(flow.dst_port),
    ];
    match style {
        0..=9 => {} // the usual spelling
        10 => fields[1] = fields[1].to_uppercase(),
        11 => fields[2] = fields[2].to_uppercase(),
        12 => fields[2] = flow.protocol.to_string(),
        13 if ported => fields[6] = format!("00{}", fields[6]),
        14 if ported => fields[4] = format!("+{}", flow.src_port),
        15 => fields[0] = "eni-nowhere".to_string(),
        16 => fields[3] = "10.0.0.256".to_string(),
        17 => {
            fields.pop();
        }
        18 => fields.push("extra".to_string()),
        19 if ported => fields[6] = "65536".to_string(),
        20 if ported => fields[6] = String::new(),
        21 => fields[1] = "sideways".to_string(),
        22 => return Vec::new(), // an empty line
        23 => fields[0] = "eni-\u{e9}".to_string(),
        24 => {
            let mut bytes = fields.join(",").into_bytes();
            bytes[0] = 0xff;
            return bytes;
        }
        25 if quotes => fields[0] = quoted(&fields[0]),
        26 if quotes => fields[3] = quoted(&fields[3]),
        27 if quotes => fields[0] = quoted(&format!("{}\"x", fields[0])),
        28 if quotes => fields[0] = quoted(&format!("{}\nx", fields[0])),
        29 if quotes => fields[2] = quoted(&format!("{},", fields[2])),
        _ => {}
    }
    fields.join(",").into_bytes()
}

fn check(seed: u64, styles: &[(u8, bool)], quotes: bool) {
    let shape = EstateShape {
        nics: 30,
        groups: 12,
        rules_per_group: 6,
        group_ref_share: 0.25,
        popular_groups: 2,
        group_sets: Some(6),
        seed,
    };
    let account = estate::generate(&shape, styles.len());
    let snapshot = account.snapshot.clone();
    let engine = Engine::builder(account.snapshot)
        .options(EvalOptions::default())
        .bulk()
        .build();

    let mut input = format!("{INPUT_HEADER}\n").into_bytes();
    let mut records = Vec::new();
    for (query, &(style, crlf)) in account.queries.iter().zip(styles) {
        let record = row_text(&snapshot, query, style, quotes);
        input.extend_from_slice(&record);
        input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        records.push(record);
    }

    let mut output = Vec::new();
    let mut errors = Collect(Vec::new());
    let summary = eval_csv(&engine, input.as_slice(), &mut output, &mut errors).unwrap();
    assert_eq!(summary.rows, records.len() as u64);

    // The output's records.
    let mut outputs = Vec::new();
    let mut start = 0;
    for end in record_ends(&output) {
        outputs.push(&output[start..end]);
        start = end + 1;
    }
    assert_eq!(start, output.len(), "the output ends with a line end");
    assert_eq!(
        outputs[0],
        format!("{INPUT_HEADER},{OUTPUT_COLUMNS}").as_bytes()
    );
    let outputs = &outputs[1..];
    assert_eq!(outputs.len(), records.len());

    let reader = FlowsReader::new(input.as_slice()).unwrap();
    let mut expected_errors = Vec::new();
    let mut accepted = 0;
    for ((row, record), out) in reader.zip(&records).zip(outputs) {
        let row = row.unwrap();
        let verdict = row.as_ref().map_err(|e| e.clone()).and_then(|row| {
            let target = engine.target(&row.target_id).map_err(|why| RowError {
                line: row.line,
                message: format!("nic_id: {why}"),
            })?;
            Ok(engine.check_reference(target, &row.flow))
        });
        match verdict {
            Ok(verdict) => {
                accepted += u64::from(verdict.is_accept());
                let columns = VerdictColumns::of(&engine, &verdict);
                let mut expected = record.clone();
                expected.extend_from_slice(
                    format!(",{},{},", columns.verdict, columns.reason).as_bytes(),
                );
                let ids = [columns.security_group_id, columns.rule_id];
                let ids: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        if id.contains([',', '"', '\n', '\r']) {
                            quoted(id)
                        } else {
                            id.to_string()
                        }
                    })
                    .collect();
                expected.extend_from_slice(ids.join(",").as_bytes());
                assert_eq!(
                    String::from_utf8_lossy(out),
                    String::from_utf8_lossy(&expected)
                );
            }
            Err(error) => {
                let text = String::from_utf8_lossy(out);
                let fields = parse_quoted(&text).unwrap();
                assert_eq!(fields.len(), 11, "{text:?}");
                assert_eq!(fields[7..], ["error", "", "", ""], "{text:?}");
                if parse_quoted(&String::from_utf8_lossy(record)).map(|f| f.len()) == Ok(7) {
                    // A row of seven fields is copied through as it came.
                    assert_eq!(&out[..record.len()], &record[..], "{text:?}");
                }
                expected_errors.push(error);
            }
        }
    }
    let lines: Vec<u64> = errors.0.iter().map(|e| e.line).collect();
    let expected_lines: Vec<u64> = expected_errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, expected_lines);
    // Where the reader parsed the row and only the NIC is unknown, the message is the same.
    for (got, expected) in errors.0.iter().zip(&expected_errors) {
        if expected.message.starts_with("nic_id:") {
            assert_eq!(got.message, expected.message);
        }
    }
    assert_eq!(summary.errors, expected_errors.len() as u64);
    assert_eq!(summary.accepted, accepted);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Blocks without a quote take the fast path; with one, the quote-aware path.
    #[test]
    fn eval_rows_match_the_reference_evaluator(
        seed in 1u64..1000,
        styles in prop::collection::vec((0u8..32, any::<bool>()), 1..300),
        quotes in any::<bool>(),
    ) {
        check(seed, &styles, quotes);
    }
}

#[test]
fn eval_rows_of_every_style_match_the_reference_evaluator() {
    let styles: Vec<(u8, bool)> = (0..4)
        .flat_map(|round| (0u8..32).map(move |s| (s, (s + round) % 2 == 0)))
        .collect();
    check(7, &styles, false);
    check(7, &styles, true);
}
