//! # sgsim — Alibaba Cloud ECS security groups, simulated offline
//!
//! Load security groups, network interfaces, prefix lists and port lists exactly as the ECS API
//! returns them, then ask whether a connection would be allowed, and which rule decides.
//!
//! ```
//! use sgsim::{Engine, Snapshot, model::{Action, Flow, Reason}};
//!
//! let snapshot = Snapshot::from_json_str(r#"{
//!   "SecurityGroups": [{
//!     "SecurityGroupId": "sg-web", "VpcId": "vpc-1", "InnerAccessPolicy": "Accept",
//!     "Permissions": {"Permission": [
//!       {"SecurityGroupRuleId": "sgr-https", "Direction": "ingress", "Policy": "Accept",
//!        "Priority": 1, "IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}
//!     ]}}],
//!   "NetworkInterfaces": [{
//!     "NetworkInterfaceId": "eni-web", "PrivateIpAddress": "10.0.0.5",
//!     "SecurityGroupIds": {"SecurityGroupId": ["sg-web"]}}]
//! }"#)?;
//! let engine = Engine::new(snapshot);
//! let nic = engine.target("eni-web")?;
//!
//! let https = Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "443")?;
//! let verdict = engine.check(nic, &https);
//! assert_eq!(verdict.action, Action::Accept);
//! assert_eq!(engine.rule(verdict.deciding_rule().unwrap()).1.id, "sgr-https");
//!
//! // S12: no rule matches SSH, and basic groups drop ingress by default.
//! let ssh = Flow::parse("ingress", "tcp", "203.0.113.9", "40000", "10.0.0.5", "22")?;
//! let verdict = engine.check(nic, &ssh);
//! assert_eq!((verdict.action, verdict.reason), (Action::Drop, Reason::Default));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Semantics
//!
//! Every verdict follows the numbered clauses of `docs/semantics.md`: protocols and ports
//! (S1–S3), rule matching and address families (S4–S8), pooled candidates with the lowest
//! priority winning and drop winning ties (S9–S10), inner access (S11), the defaults of basic and
//! enterprise groups (S12), the platform's TCP 25 block (S13, see
//! [`model::EvalOptions::platform_rules`]), their order (S14) and the two-NIC question (S15,
//! [`Engine::check_connection`]). `docs/semantics-notes.md` records the choices the spec leaves
//! open.
//!
//! ## Layout
//!
//! The modules follow the data: `input → model → compile → eval → {control, analysis}`, with
//! the command line (`src/cli/`, part of the binary) thin on top. `docs/architecture.md` draws
//! it and says where new work goes.
//!
//! - [`input`]: every input format, each read into [`model`] types — the ECS API's JSON
//!   ([`input::ecs`], also written back), flows CSV, ClassBench, VPC flow logs.
//! - [`model`]: validated types and the semantic clauses shared by every evaluator; nothing
//!   past here fails on bad data.
//! - [`compile`]: snapshot → per-NIC, per-direction decision structures.
//! - [`eval`]: the [`Engine`], batch and bulk CSV evaluation, and the [`eval::reference`]
//!   oracle.
//! - [`control`]: the ECS security-group API simulated (S17–S20): the [`Simulator`] applies
//!   API calls to a snapshot.
//! - [`analysis`]: whole-rule-set questions over the five-tuple space: audit, diff, reach,
//!   search; and [`analysis::replay`], VPC flow logs replayed against a snapshot.
//! - `bench` (cargo feature `bench`, on with the default `cli`): verdict counting, verification
//!   against the reference, timing, and the generators of rule sets, accounts and flow logs for
//!   `sgsim bench`, the tests, the benches and the fuzz targets.

// Only `compile::kernel` (the AVX-512 lookup step), `compile::table` (lookup tables in huge
// pages) and `input::flowlog::structural` (the SSE2 pass over JSON lines) may use `unsafe`;
// each says why there.
#![deny(unsafe_code)]
// Every public item says what it is; CI runs clippy with `-D warnings`, so this is enforced.
#![warn(missing_docs)]

pub mod analysis;
#[cfg(feature = "bench")]
pub mod bench;
pub mod compile;
pub mod control;
pub mod eval;
pub mod input;
pub mod model;
pub mod rng;

pub use control::{Answer, ApiCall, ApiError, ErrorCode, Simulator};
pub use eval::{ConnectionVerdict, Engine, EngineBuilder};
pub use input::ecs::LoadError;
pub use model::Query;
pub use model::Snapshot;

impl Snapshot {
    /// Loads a snapshot from JSON text in any accepted shape (see [`input::ecs`]).
    pub fn from_json_str(text: &str) -> Result<Snapshot, LoadError> {
        input::ecs::snapshot_from_str(text)
    }

    /// Loads a snapshot from a reader holding JSON.
    pub fn from_reader(reader: impl std::io::Read) -> Result<Snapshot, LoadError> {
        input::ecs::snapshot_from_reader(reader)
    }

    /// Loads a snapshot from a file, a directory of API responses (every `*.json` below it, in
    /// natural order of their paths) or `-` for stdin, in any mix of the shapes
    /// [`input::ecs::dump`] recognises. What the inputs reference but do not give is not an error
    /// here; [`input::ecs::dump::assemble`] returns it in its report.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Snapshot, LoadError> {
        input::ecs::dump::assemble(&[path]).map(|(snapshot, _)| snapshot)
    }

    /// Loads a snapshot from an already parsed JSON value.
    pub fn from_json_value(value: serde_json::Value) -> Result<Snapshot, LoadError> {
        input::ecs::snapshot_from_value(value)
    }
}
