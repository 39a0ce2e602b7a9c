//! The control plane: the ECS security-group API, simulated (S17–S20).
//!
//! A [`Simulator`] holds a snapshot and applies API calls to it — typed ([`ApiCall`]) or raw
//! (the JSON or query-string parameters the real API takes). Each call is validated as the API
//! does and answered as the API answers: `{"RequestId": …}` on success, or the documented error
//! code, message and HTTP status. A rejected call changes nothing; a call with several
//! permissions is all-or-nothing.
//!
//! Actions: AuthorizeSecurityGroup(Egress), RevokeSecurityGroup(Egress),
//! ModifySecurityGroupRule, ModifySecurityGroupEgressRule, ModifySecurityGroupPolicy,
//! CreateSecurityGroup, DeleteSecurityGroup, ModifyNetworkInterfaceAttribute
//! (`SecurityGroupId.N`), CreateNetworkInterface and DeleteNetworkInterface.
//!
//! ```
//! use sgsim::control::Simulator;
//! use sgsim::Snapshot;
//!
//! let snapshot = Snapshot::from_json_str(r#"{"SecurityGroups": [
//!     {"SecurityGroupId": "sg-web", "VpcId": "vpc-1"}]}"#)?;
//! let mut sim = Simulator::new(snapshot);
//! let answer = sim.apply_text(r#"{"Action": "AuthorizeSecurityGroup", "RegionId": "cn-hangzhou",
//!     "SecurityGroupId": "sg-web", "Permissions": [
//!       {"IpProtocol": "TCP", "PortRange": "443/443", "SourceCidrIp": "0.0.0.0/0"}]}"#);
//! assert!(answer.is_ok());
//! assert_eq!(sim.snapshot().groups()[0].rules.len(), 1);
//!
//! let answer = sim.apply_text("Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou\
//!     &SecurityGroupId=sg-web&Permissions.1.IpProtocol=TCP&Permissions.1.PortRange=0/80\
//!     &Permissions.1.SourceCidrIp=0.0.0.0/0");
//! let error = answer.error.unwrap();
//! assert_eq!((error.code, error.http_status), ("InvalidParam.PortRange", 400));
//! assert_eq!(sim.snapshot().groups()[0].rules.len(), 1); // unchanged
//!
//! let engine = sim.engine(); // evaluate flows against the current state
//! # let _ = engine;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `docs/control-plane.md` lists every error code and the choices the documentation leaves open.

mod apply;
pub mod error;
pub mod request;
mod validate;

pub use apply::MAX_GROUPS_PER_NIC;
pub use error::ApiError;
pub use request::{ApiCall, PermissionParams, Request, MAX_PERMISSIONS, PERMISSION_FIELDS};
pub use validate::{MAX_GROUP_RULES, MAX_NIC_RULES, MAX_RULE_DESCRIPTION};

use crate::model::{ClientTokenRecord, Snapshot};
use crate::Engine;
use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The answer to one call, as the API gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// The JSON body: `{"RequestId": …}` (plus e.g. `SecurityGroupId`), or
    /// `{"RequestId": …, "Code": …, "Message": …, "HttpStatus": …}`.
    pub body: Value,
    /// Set when the call was rejected; then nothing changed.
    pub error: Option<ApiError>,
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// 200, or the error's status.
    pub fn http_status(&self) -> u16 {
        self.error.as_ref().map_or(200, |e| e.http_status)
    }

    fn rejected(request_id: String, error: ApiError) -> Answer {
        Answer {
            body: json!({
                "RequestId": request_id,
                "Code": error.code,
                "Message": error.message,
                "HttpStatus": error.http_status,
            }),
            error: Some(error),
        }
    }
}

/// Holds a snapshot and applies API calls to it.
#[derive(Clone, Debug)]
pub struct Simulator {
    snapshot: Snapshot,
    ids: IdSource,
    /// Fixed `CreateTime` clock (seconds since the Unix epoch), for reproducible output.
    clock: Option<i64>,
}

impl Simulator {
    /// A simulator whose new ids (`sgr-…`, `sg-…`, request ids) are fresh random values.
    pub fn new(snapshot: Snapshot) -> Simulator {
        Simulator {
            snapshot,
            ids: IdSource::random(),
            clock: None,
        }
    }

    /// A simulator whose new ids come from `seed`: the same calls give the same ids.
    pub fn with_seed(snapshot: Snapshot, seed: u64) -> Simulator {
        Simulator {
            snapshot,
            ids: IdSource { state: seed },
            clock: None,
        }
    }

    /// Fixes the clock new rules' `CreateTime` is read from (seconds since the Unix epoch, UTC);
    /// `None` reads the system clock.
    pub fn set_clock(&mut self, unix_seconds: Option<i64>) {
        self.clock = unix_seconds;
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn into_snapshot(self) -> Snapshot {
        self.snapshot
    }

    /// An engine over the current state (`sgsim::Engine::new(snapshot)`).
    pub fn engine(&self) -> Engine {
        Engine::new(self.snapshot.clone())
    }

    /// Applies one call given as text: a JSON object of parameters or a query string.
    pub fn apply_text(&mut self, text: &str) -> Answer {
        match ApiCall::parse(text) {
            Ok(call) => self.apply(&call),
            Err(error) => Answer::rejected(self.ids.request_id(), error),
        }
    }

    /// Applies one call given as a JSON object of parameters.
    pub fn apply_json(&mut self, value: &Value) -> Answer {
        match ApiCall::from_json(value) {
            Ok(call) => self.apply(&call),
            Err(error) => Answer::rejected(self.ids.request_id(), error),
        }
    }

    /// Applies one typed call.
    pub fn apply(&mut self, call: &ApiCall) -> Answer {
        let request_id = self.ids.request_id();
        match self.try_apply(call, &request_id) {
            Ok(body) => Answer { body, error: None },
            Err(error) => Answer::rejected(request_id, error),
        }
    }

    fn try_apply(&mut self, call: &ApiCall, request_id: &str) -> Result<Value, ApiError> {
        if call.region_id.as_deref().is_none_or(str::is_empty) {
            // ModifySecurityGroupPolicy's page documents its own code, misspelling included.
            return Err(match call.request {
                request::Request::ModifyPolicy { .. } => error::err::missing_region_id_policy(),
                _ => error::err::missing("RegionId"),
            });
        }
        let action = call.request.action();
        let fingerprint = call.fingerprint();
        if let Some(token) = &call.client_token {
            if token.is_empty() || token.len() > 64 || !token.is_ascii() {
                return Err(error::err::client_token_malformed());
            }
            if let Some(record) = self
                .snapshot
                .client_tokens()
                .iter()
                .find(|r| r.token == *token)
            {
                if record.action == action && record.fingerprint == fingerprint {
                    return Ok(record.response.clone());
                }
                return Err(error::err::idempotent_mismatch());
            }
        }

        let now = utc_timestamp(self.clock.unwrap_or_else(system_seconds));
        let plan = apply::plan(&self.snapshot, call, &mut self.ids, &now)?;
        let mut body = Map::new();
        body.insert("RequestId".into(), json!(request_id));
        for (key, value) in &plan.answer {
            body.insert((*key).to_string(), json!(value));
        }
        let body = Value::Object(body);

        let unchanged = matches!(plan.change, apply::Change::None);
        if unchanged && call.client_token.is_none() {
            return Ok(body);
        }
        let snapshot = std::mem::replace(
            &mut self.snapshot,
            Snapshot::new(Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        );
        let mut parts = snapshot.into_parts();
        apply::commit(&mut parts, plan.change);
        if let Some(token) = &call.client_token {
            parts.client_tokens.push(ClientTokenRecord {
                token: token.clone(),
                action: action.to_string(),
                fingerprint,
                response: body.clone(),
            });
        }
        self.snapshot = parts.build();
        Ok(body)
    }
}

/// Where new ids come from: a SplitMix64 stream.
#[derive(Clone, Debug)]
pub(crate) struct IdSource {
    state: u64,
}

impl IdSource {
    fn random() -> IdSource {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        IdSource {
            state: hasher.finish(),
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `len` characters of `[a-z0-9]`, as resource ids end.
    pub(crate) fn suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// An API request id: `473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E`.
    fn request_id(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

fn system_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-03-02T08:14:55Z` for seconds since the Unix epoch.
pub fn utc_timestamp(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
