//! The analyses: brute force against the symbolic answers, `sgsim audit`/`diff`, and
//! `sgsim reach`/`search`/`check --explain`. One test binary (see `tests/README.md`).

#[path = "../common/mod.rs"]
mod common;

mod bruteforce;
mod cli;
mod reach_cli;
