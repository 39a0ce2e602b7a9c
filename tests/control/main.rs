//! The control plane (the API simulator and `sgsim apply`). One test binary (see
//! `tests/README.md`); the modules keep the names of the files they were.

#[path = "../common/mod.rs"]
mod common;

mod control_cli;
mod control_errors;
mod control_perf;
mod control_roundtrip;
mod control_state;
