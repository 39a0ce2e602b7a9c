//! The library: the spec's clauses and case table against every evaluator, the differential
//! tests, bulk evaluation, input formats (snapshots, ClassBench, samples, fuzz corpora) and the
//! bench harness. One test binary (see `tests/README.md`).

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod bulk_rows;
mod bulk_streaming;
mod case_table;
mod classbench;
mod differential;
mod fuzz_corpus;
mod load_errors;
mod samples;
mod spec_clauses;
