//! The one error of loading: where, what value, what would be valid, and what sort of problem.

use std::fmt;

/// What sort of problem a [`LoadError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// A file, directory or stream could not be read.
    Io,
    /// The text is not JSON.
    Syntax,
    /// The JSON is not one of the accepted shapes: a field of the wrong type, an unknown
    /// top-level shape, a missing required field.
    Shape,
    /// A value has the right type but is not valid (a port range `0/80`, a CIDR `10.0.0.0/33`,
    /// a duplicate id).
    Invalid,
    /// Two inputs of one account dump disagree about the same object.
    Conflict,
}

/// Why a snapshot was refused: where, what value, and what would be valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// What sort of problem it is, for callers that react differently (e.g. retry a read).
    pub kind: LoadErrorKind,
    /// The file the value is in (`-` for stdin), or empty when the text came without a name
    /// ([`super::snapshot_from_str`] and friends).
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
            kind: LoadErrorKind::Invalid,
            file: String::new(),
            path: path.into(),
            value: value.into(),
            message: message.into(),
        }
    }

    /// A file or stream that could not be read.
    pub(crate) fn io(err: &dyn fmt::Display) -> LoadError {
        LoadError::new("", "", err.to_string()).of_kind(LoadErrorKind::Io)
    }

    /// Text that is not JSON.
    pub(crate) fn syntax(err: serde_json::Error) -> LoadError {
        LoadError::new("", "", format!("not valid JSON: {err}")).of_kind(LoadErrorKind::Syntax)
    }

    pub(crate) fn of_kind(mut self, kind: LoadErrorKind) -> LoadError {
        self.kind = kind;
        self
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
