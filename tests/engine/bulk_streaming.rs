//! `sgsim::eval::bulk::eval_csv` streams its input in blocks of several MiB: rows that straddle a
//! block boundary must come out whole, in input order, with bad rows reported at their true
//! line numbers (`shared/spec/interface.md`, the CSV contract). Fuzz inputs are too short to
//! cross a boundary, hence this test.

use sgsim::eval::bulk::{eval_csv, EvalObserver, RowError, INPUT_HEADER, OUTPUT_COLUMNS};
use sgsim::{Engine, Snapshot};
use std::path::Path;

struct Collect(Vec<RowError>);

impl EvalObserver for Collect {
    fn row_error(&mut self, error: &RowError) {
        self.0.push(error.clone());
    }
}

#[test]
fn rows_across_block_boundaries_keep_their_order_and_line_numbers() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vpc-web.json");
    let engine =
        Engine::new(Snapshot::from_json_str(&std::fs::read_to_string(example).unwrap()).unwrap());

    // ~11 MB: every row names its own source port, so each output line can be traced back.
    // Every 997th row has a bad direction; the last row has no line end.
    const ROWS: u32 = 200_000;
    let row = |i: u32| {
        let direction = if i.is_multiple_of(997) {
            "sideways"
        } else {
            "ingress"
        };
        let dport = if i.is_multiple_of(2) { 443 } else { 8443 };
        format!(
            "eni-web1,{direction},tcp,203.0.113.9,{},10.0.1.10,{dport}",
            i % 65536
        )
    };
    let mut input = format!("{INPUT_HEADER}\r\n");
    for i in 0..ROWS {
        input += &row(i);
        if i + 1 < ROWS {
            input += "\r\n";
        }
    }
    assert!(
        input.len() > 2 * (4 << 20),
        "the input spans several blocks"
    );

    let mut output = Vec::new();
    let mut errors = Collect(Vec::new());
    let summary = eval_csv(&engine, input.as_bytes(), &mut output, &mut errors).unwrap();

    let bad = (0..ROWS).filter(|i| i % 997 == 0).count() as u64;
    assert_eq!(summary.rows, u64::from(ROWS));
    assert_eq!(summary.errors, bad);
    // Port 443 is accepted by sg-web's HTTPS rule, 8443 dropped by default (basic ingress).
    assert_eq!(
        summary.accepted,
        (0..ROWS).filter(|i| i % 997 != 0 && i % 2 == 0).count() as u64
    );
    assert_eq!(summary.dropped, u64::from(ROWS) - bad - summary.accepted);

    let text = String::from_utf8(output).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("{INPUT_HEADER},{OUTPUT_COLUMNS}")
    );
    for i in 0..ROWS {
        let expected = match (i % 997 == 0, i % 2 == 0) {
            (true, _) => format!("{},error,,,", row(i)),
            (false, true) => format!("{},accept,rule,sg-web,sgr-web-https", row(i)),
            (false, false) => format!("{},drop,default,,", row(i)),
        };
        assert_eq!(lines.next(), Some(expected.as_str()), "row {i}");
    }
    assert_eq!(lines.next(), None);

    // The header is line 1, so row i is on line i + 2.
    let reported: Vec<u64> = errors.0.iter().map(|e| e.line).collect();
    let expected: Vec<u64> = (0..ROWS)
        .filter(|i| i % 997 == 0)
        .map(|i| u64::from(i) + 2)
        .collect();
    assert_eq!(reported, expected);
    assert!(errors
        .0
        .iter()
        .all(|e| e.message == r#"direction "sideways": expected ingress or egress"#));
}
