//! The ECS API's JSON, in and out: its shapes (`raw`) and their validation into
//! [`crate::model`] types, and ([`write`](mod@write), [`preserve`]) the snapshot written back
//! in the same shapes. Every error names the JSON path, the value and what would be valid.
//!
//! Accepted top-level shapes (see `docs/json.md`):
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
mod error;
pub mod preserve;
pub(crate) mod raw;
mod validate;
pub mod write;

pub use error::{LoadError, LoadErrorKind};
pub use validate::{derived_rule_id, parse_cidr, parse_port_range, UNNAMED_GROUP_ID};
pub use write::{snapshot_to_string, snapshot_to_value};

use crate::model::Snapshot;

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
                )
                .of_kind(LoadErrorKind::Shape)),
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
        )
        .of_kind(LoadErrorKind::Shape)),
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
        LoadError::new(path, "", err.into_inner().to_string()).of_kind(LoadErrorKind::Shape)
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
    let value: serde_json::Value = serde_json::from_str(text).map_err(LoadError::syntax)?;
    snapshot_from_value(value)
}

/// Loads a snapshot from a reader holding JSON.
pub fn snapshot_from_reader(mut reader: impl std::io::Read) -> Result<Snapshot, LoadError> {
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|err| {
        // Text that is not UTF-8 is not JSON; anything else is the reader's failure.
        let kind = match err.kind() {
            std::io::ErrorKind::InvalidData => LoadErrorKind::Syntax,
            _ => LoadErrorKind::Io,
        };
        LoadError::new("", "", format!("not valid JSON: {err}")).of_kind(kind)
    })?;
    snapshot_from_str(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> LoadErrorKind {
        snapshot_from_str(text).expect_err(text).kind
    }

    #[test]
    fn each_error_says_its_kind() {
        assert_eq!(kind_of("{\"SecurityGroups\": ["), LoadErrorKind::Syntax);
        assert_eq!(kind_of("42"), LoadErrorKind::Shape);
        assert_eq!(kind_of(r#"{"SecurityGroups": 3}"#), LoadErrorKind::Shape);
        let bad_port = r#"{"SecurityGroupId": "sg-1", "Permissions": {"Permission": [
            {"IpProtocol": "TCP", "PortRange": "0/80", "SourceCidrIp": "0.0.0.0/0"}]}}"#;
        assert_eq!(kind_of(bad_port), LoadErrorKind::Invalid);
        let missing = dump::assemble(&["/nonexistent/sgsim-test"]).expect_err("no such file");
        assert_eq!(missing.kind, LoadErrorKind::Io);
    }

    #[test]
    fn a_dump_that_disagrees_with_itself_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let group = |kind: &str| {
            format!(
                r#"{{"SecurityGroups": {{"SecurityGroup": [{{"SecurityGroupId": "sg-1",
                   "VpcId": "vpc-1", "SecurityGroupType": "{kind}"}}]}}}}"#
            )
        };
        std::fs::write(dir.path().join("a.json"), group("normal")).unwrap();
        std::fs::write(dir.path().join("b.json"), group("enterprise")).unwrap();
        let err = dump::assemble(&[dir.path()]).expect_err("two descriptions of sg-1");
        assert_eq!(err.kind, LoadErrorKind::Conflict, "{err}");
    }
}
