//! The control plane (the API simulator and `sgsim apply`). One test binary (see
//! `tests/README.md`).

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod errors;
mod perf;
mod roundtrip;
mod state;
