//! The only way in: the ECS API's JSON shapes ([`raw`]) and their validation into
//! [`crate::model`] types. Every error names the JSON path, the value and what would be valid.
//!
//! Accepted top-level shapes (see `shared/spec/interface.md`):
//! - a snapshot object with any of `SecurityGroups`, `NetworkInterfaces`, `PrefixLists`,
//!   `PortRangeLists`;
//! - a bare DescribeSecurityGroupAttribute response (an object with `SecurityGroupId` or
//!   `Permissions`): one group, no NICs;
//! - a bare array of `Permission` objects, as SDK-based collectors dump them: one group named
//!   [`UNNAMED_GROUP_ID`], no NICs.
//!
//! [`dump`] reads a whole account instead: any mix of raw API answers (DescribeSecurityGroups,
//! DescribeNetworkInterfaces, DescribeInstances, list calls, pages) from files, directories or
//! stdin, joined into one snapshot with a report of what is referenced but missing.

pub mod dump;
pub mod preserve;
pub mod raw;
mod validate;
pub mod write;

pub use validate::{derived_rule_id, parse_cidr, parse_port_range, UNNAMED_GROUP_ID};
pub use write::{snapshot_to_string, snapshot_to_value};

use crate::model::Snapshot;
use std::fmt;

/// Why a snapshot was refused: where, what value, and what would be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file the value is in (`-` for stdin), or empty when the text came without a name
    /// ([`snapshot_from_str`] and friends).
    pub file: String,
    /// JSON path of the bad value, e.g. `SecurityGroups[2].Permissions.Permission[7].PortRange`;
    /// empty for errors about the document as a whole.
    pub path: String,
    /// The offending value as JSON (`"0/80"`), or empty when there is none to show.
    pub value: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(
        path: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> LoadError {
        LoadError {
            file: String::new(),
            path: path.into(),
            value: value.into(),
            message: message.into(),
        }
    }

    /// The same error, located in `file`.
    pub fn in_file(mut self, file: impl Into<String>) -> LoadError {
        self.file = file.into();
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if !self.file.is_empty() {
            f.write_str(&self.file)?;
            sep = ": ";
        }
        if !self.path.is_empty() {
            f.write_str(sep)?;
            f.write_str(&self.path)?;
            sep = ": ";
        }
        if !self.value.is_empty() {
            write!(f, "{sep}{}", self.value)?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Which top-level shape a document has.
enum Shape {
    Snapshot,
    BareGroup,
    BarePermissions,
}

fn shape_of(value: &serde_json::Value) -> Result<Shape, LoadError> {
    const SNAPSHOT_KEYS: [&str; 5] = [
        "SecurityGroups",
        "NetworkInterfaces",
        "PrefixLists",
        "PortRangeLists",
        "ClientTokens",
    ];
    match value {
        serde_json::Value::Array(_) => Ok(Shape::BarePermissions),
        serde_json::Value::Object(map) => {
            let is_group = map.contains_key("SecurityGroupId") || map.contains_key("Permissions");
            let is_snapshot = SNAPSHOT_KEYS.iter().any(|k| map.contains_key(*k));
            match (is_snapshot, is_group) {
                (true, true) => Err(LoadError::new(
                    "",
                    "",
                    "the document mixes snapshot keys (SecurityGroups, NetworkInterfaces, …) with \
                     a single group's keys (SecurityGroupId, Permissions): use one shape",
                )),
                (false, true) => Ok(Shape::BareGroup),
                // An empty object is an empty snapshot.
                _ => Ok(Shape::Snapshot),
            }
        }
        other => Err(LoadError::new(
            "",
            json_kind(other),
            "expected a snapshot object, a DescribeSecurityGroupAttribute response or an array \
             of Permission objects",
        )),
    }
}

pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Deserializes a raw shape, turning serde's type errors into path-carrying [`LoadError`]s.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    path_prefix: &str,
) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let inner = err.path().to_string();
        let path = match (path_prefix.is_empty(), inner.as_str()) {
            (_, ".") => path_prefix.to_string(),
            (true, _) => inner,
            (false, _) if inner.starts_with('[') => format!("{path_prefix}{inner}"),
            (false, _) => format!("{path_prefix}.{inner}"),
        };
        LoadError::new(path, "", err.into_inner().to_string())
    })
}

/// Loads a snapshot from a parsed JSON value of any accepted shape.
pub fn snapshot_from_value(value: serde_json::Value) -> Result<Snapshot, LoadError> {
    match shape_of(&value)? {
        Shape::Snapshot => validate::snapshot(deserialize(value, "")?),
        Shape::BareGroup => validate::bare_group(deserialize(value, "")?),
        Shape::BarePermissions => validate::bare_permissions(deserialize(value, "")?),
    }
}

/// Loads a snapshot from JSON text.
pub fn snapshot_from_str(text: &str) -> Result<Snapshot, LoadError> {
    // Fast path: a snapshot object read straight from the text into the raw shapes, without an
    // intermediate `Value`. Anything else — a bare group or permission array, or any error —
    // takes the general path, which gives the canonical answer (and error message).
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if body.starts_with('{') {
        if let Ok(top) = serde_json::from_str::<raw::RawTopLevel>(body) {
            if let Some(raw) = top.into_snapshot() {
                return validate::snapshot(raw);
            }
        }
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|err| LoadError::new("", "", format!("not valid JSON: {err}")))?;
    snapshot_from_value(value)
}

/// Loads a snapshot from a reader holding JSON.
pub fn snapshot_from_reader(mut reader: impl std::io::Read) -> Result<Snapshot, LoadError> {
    let mut text = String::new();
    reader
        .read_to_string(&mut text)
        .map_err(|err| LoadError::new("", "", format!("not valid JSON: {err}")))?;
    snapshot_from_str(&text)
}
