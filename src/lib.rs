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
//! assert_eq!(engine.rule(verdict.deciding_rule.unwrap()).1.id, "sgr-https");
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
//! Every verdict follows the numbered clauses of `shared/spec/semantics.md`: protocols and ports
//! (S1–S3), rule matching and address families (S4–S8), pooled candidates with the lowest
//! priority winning and drop winning ties (S9–S10), inner access (S11), the defaults of basic and
//! enterprise groups (S12), the platform's TCP 25 block (S13, see
//! [`model::EvalOptions::platform_rules`]), their order (S14) and the two-NIC question (S15,
//! [`Engine::check_connection`]). `docs/semantics-notes.md` records the choices the spec leaves
//! open.
//!
//! ## Layout
//!
//! - [`api`]: the ECS API's JSON shapes and their validation — the only way in.
//! - [`model`]: validated types; nothing past here fails on bad data.
//! - [`compile`]: snapshot → per-NIC, per-direction decision structures.
//! - [`eval`]: the [`Engine`], batch evaluation and the [`eval::reference`] oracle.
//! - [`bulk`]: the bulk CSV contract of `sgsim eval`, streaming.
//! - [`control`]: the ECS security-group API simulated (S17–S20): the [`Simulator`] applies
//!   API calls to a snapshot; [`api::write`] writes the result back in the API's shape.
//! - [`classbench`]: ClassBench filter sets and traces as a snapshot and flows.
//! - [`bench`](mod@bench): verdict counting, verification against the reference, timing and synthetic
//!   rule sets for `sgsim bench` and the criterion benches.
//! - [`analysis`]: whole-rule-set questions over the five-tuple space: audit and diff; and
//!   [`analysis::replay`], VPC flow logs replayed against a snapshot.
//! - [`flowlog`]: Alibaba VPC flow-log records (SLS JSON, CSV, Parquet) and a generator of them.

// Only `compile::kernel` (the AVX-512 lookup step) may use `unsafe`; it says why there.
#![deny(unsafe_code)]

pub mod analysis;
pub mod api;
pub mod bench;
pub mod bulk;
pub mod classbench;
pub mod compile;
pub mod control;
pub mod eval;
pub mod flowlog;
pub mod flows;
pub mod model;

pub use api::LoadError;
pub use control::{Answer, ApiCall, ApiError, Simulator};
pub use eval::{ConnectionVerdict, Engine, Query};
pub use model::Snapshot;

impl Snapshot {
    /// Loads a snapshot from JSON text in any accepted shape (see [`api`]).
    pub fn from_json_str(text: &str) -> Result<Snapshot, LoadError> {
        api::snapshot_from_str(text)
    }

    /// Loads a snapshot from a reader holding JSON.
    pub fn from_reader(reader: impl std::io::Read) -> Result<Snapshot, LoadError> {
        api::snapshot_from_reader(reader)
    }

    /// Loads a snapshot from a file, a directory of API responses (every `*.json` below it, in
    /// natural order of their paths) or `-` for stdin, in any mix of the shapes
    /// [`api::dump`] recognises. What the inputs reference but do not give is not an error
    /// here; [`api::dump::assemble`] returns it in its report.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Snapshot, LoadError> {
        api::dump::assemble(&[path]).map(|(snapshot, _)| snapshot)
    }

    /// Loads a snapshot from an already parsed JSON value.
    pub fn from_json_value(value: serde_json::Value) -> Result<Snapshot, LoadError> {
        api::snapshot_from_value(value)
    }
}
