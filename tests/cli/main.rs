//! The `sgsim` binary end to end: `check`, `bench`, JSON schemas, whole accounts, account
//! dumps, flow-log replay and the issue-16 trust findings. One test binary (see
//! `tests/README.md`).

#[path = "../common/mod.rs"]
mod common;

mod account;
mod bench;
mod check;
mod dump;
mod flowlog_replay;
mod json_schemas;
mod trust;
