//! The [`Simulator`]: a snapshot and the calls applied to it, each answered as the API answers.

use super::apply;
use super::error::{ApiError, ErrorCode};
use super::ids::{system_seconds, utc_timestamp, IdSource};
use super::request::{ApiCall, Request};
use crate::model::{ClientTokenRecord, Snapshot};
use crate::Engine;
use serde_json::{json, Map, Value};

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
    /// Whether the call was accepted.
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
                "Code": error.code.as_str(),
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
            ids: IdSource::from_seed(seed),
            clock: None,
        }
    }

    /// Fixes the clock new rules' `CreateTime` is read from (seconds since the Unix epoch, UTC);
    /// `None` reads the system clock.
    pub fn set_clock(&mut self, unix_seconds: Option<i64>) {
        self.clock = unix_seconds;
    }

    /// The current state.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The current state, taken out of the simulator.
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
                Request::ModifyPolicy { .. } => ErrorCode::MissingRegionIdPolicy.error(),
                _ => ErrorCode::MissingParameter.with("RegionId"),
            });
        }
        let action = call.request.action();
        let fingerprint = call.fingerprint();
        if let Some(token) = &call.client_token {
            if token.is_empty() || token.len() > 64 || !token.is_ascii() {
                return Err(ErrorCode::ClientTokenMalformed.error());
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
                return Err(ErrorCode::IdempotentMismatch.error());
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
