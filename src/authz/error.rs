//! [`PolicyError`]: why a policy document was refused, with typed payloads
//! and a `Display` that names the problem and the statement it is in.
//!
//! This module does not know the AWS exception names: kmsd wraps every
//! `PolicyError` as `MalformedPolicyDocumentException: <Display>`.

use std::fmt;

/// Which statement an error is in: its 1-based position and its `Sid`, if it
/// has one. Displays as `statement "AllowUse"` or `statement 2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// 1-based position in the `Statement` list (1 for a single object).
    pub index: usize,
    /// The statement's `Sid`, if it has a string one.
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement {sid:?}"),
            None => write!(f, "statement {}", self.index),
        }
    }
}

/// The kind of value a condition operator expected (for
/// [`PolicyError::InvalidConditionValue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// An integer or decimal (`Numeric*`).
    Number,
    /// An ISO 8601 date/time or epoch seconds (`Date*`).
    Date,
    /// `true` or `false` (`Bool`, `Null`).
    Bool,
    /// An IPv4/IPv6 address or CIDR block (`IpAddress`, `NotIpAddress`).
    IpAddress,
    /// Base64 (`BinaryEquals`).
    Base64,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Number => "a number",
            ValueKind::Date => "an ISO 8601 date-time or epoch seconds",
            ValueKind::Bool => "true or false",
            ValueKind::IpAddress => "an IP address or CIDR block",
            ValueKind::Base64 => "base64",
        })
    }
}

/// Renders `" in statement ..."` when there is a statement, else `" in the
/// policy"`.
struct Where<'a>(&'a Option<StatementRef>);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " in {s}"),
            None => f.write_str(" in the policy"),
        }
    }
}

/// A policy document that cannot be used. Every variant is a malformed
/// document; kmsd reports it as `MalformedPolicyDocumentException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is larger than [`super::MAX_POLICY_BYTES`].
    #[error("policy document is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Size of the document in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// The document is not valid JSON (or nests deeper than the parser's
    /// recursion limit).
    #[error("policy document is not valid JSON: {reason}")]
    InvalidJson {
        /// The JSON parser's message, with line and column.
        reason: String,
    },

    /// An element has the wrong JSON type (e.g. `Statement` is a string).
    #[error("{element} must be {expected}{}", Where(.stmt))]
    WrongType {
        /// The statement, or `None` for a top-level element.
        stmt: Option<StatementRef>,
        /// The element, e.g. `Statement` or `Action`.
        element: String,
        /// What it must be, e.g. `an object or a list of objects`.
        expected: &'static str,
    },

    /// An element name that IAM policies do not have.
    #[error("unknown element {key:?}{}", Where(.stmt))]
    UnknownElement {
        /// The statement, or `None` for a top-level element.
        stmt: Option<StatementRef>,
        /// The unknown key.
        key: String,
    },

    /// A JSON object repeats a key. JSON parsers usually keep the last one
    /// silently, which could drop a condition; kmsd refuses instead.
    #[error("duplicate key {key:?}{}", Where(.stmt))]
    DuplicateKey {
        /// The statement, or `None` for a top-level element.
        stmt: Option<StatementRef>,
        /// The repeated key.
        key: String,
    },

    /// A required element is absent (`Statement`, `Effect`, `Action`, or a
    /// `Principal` in a key policy).
    #[error("missing {element}{}", Where(.stmt))]
    MissingElement {
        /// The statement, or `None` for a top-level element.
        stmt: Option<StatementRef>,
        /// The missing element, e.g. `Action or NotAction`.
        element: &'static str,
    },

    /// Two mutually exclusive elements are both present (e.g. `Principal`
    /// and `NotPrincipal`).
    #[error("{first} and {second} cannot both be present in {stmt}")]
    ConflictingElements {
        /// The statement.
        stmt: StatementRef,
        /// The first element.
        first: &'static str,
        /// The second element.
        second: &'static str,
    },

    /// An element that this kind of policy must not have (a `Principal` in an
    /// identity policy, `NotPrincipal` with `"Effect": "Allow"`).
    #[error("{element} is not allowed in {stmt}: {reason}")]
    NotAllowed {
        /// The statement.
        stmt: StatementRef,
        /// The element.
        element: &'static str,
        /// Why, e.g. `identity policies have no Principal`.
        reason: &'static str,
    },

    /// `Version` is not `2012-10-17` or `2008-10-17`.
    #[error("Version must be \"2012-10-17\" or \"2008-10-17\" (got {value:?})")]
    InvalidVersion {
        /// The value found.
        value: String,
    },

    /// `Effect` is not `Allow` or `Deny`.
    #[error("Effect must be \"Allow\" or \"Deny\" (got {value:?}) in {stmt}")]
    InvalidEffect {
        /// The statement.
        stmt: StatementRef,
        /// The value found.
        value: String,
    },

    /// A list (or object) that must have at least one entry is empty.
    #[error("{element} must not be empty{}", Where(.stmt))]
    EmptyList {
        /// The statement, or `None` for the `Statement` list itself.
        stmt: Option<StatementRef>,
        /// The element.
        element: String,
    },

    /// A `Principal`/`NotPrincipal` value that is not `*`, a 12-digit
    /// account id or an IAM/STS principal ARN.
    #[error("invalid principal {value:?} in {stmt}")]
    InvalidPrincipal {
        /// The statement.
        stmt: StatementRef,
        /// The value found.
        value: String,
    },

    /// A `Principal` map key other than `AWS`, `Service`, `Federated` or
    /// `CanonicalUser`.
    #[error("unknown principal type {key:?} in {stmt}")]
    UnknownPrincipalType {
        /// The statement.
        stmt: StatementRef,
        /// The key found.
        key: String,
    },

    /// An `Action`/`NotAction` value that is not `*` or `service:action`.
    #[error("invalid action {value:?} in {stmt}")]
    InvalidAction {
        /// The statement.
        stmt: StatementRef,
        /// The value found.
        value: String,
    },

    /// A `Resource`/`NotResource` value that is not `*` or an ARN.
    #[error("invalid resource {value:?} in {stmt}")]
    InvalidResource {
        /// The statement.
        stmt: StatementRef,
        /// The value found.
        value: String,
    },

    /// A condition operator that IAM does not define (or a combination it
    /// does not allow, such as `NullIfExists`).
    #[error("unknown condition operator {operator:?} in {stmt}")]
    UnknownConditionOperator {
        /// The statement.
        stmt: StatementRef,
        /// The operator as written.
        operator: String,
    },

    /// An empty condition key.
    #[error("empty condition key under {operator:?} in {stmt}")]
    EmptyConditionKey {
        /// The statement.
        stmt: StatementRef,
        /// The operator.
        operator: String,
    },

    /// A condition value that is not a string, number or boolean, or a list
    /// of them.
    #[error("value of condition key {key:?} under {operator:?} must be a string, number, boolean, or a non-empty list of them in {stmt}")]
    InvalidConditionShape {
        /// The statement.
        stmt: StatementRef,
        /// The operator.
        operator: String,
        /// The condition key.
        key: String,
    },

    /// A condition value the operator cannot use: not a number for
    /// `Numeric*`, not a date for `Date*`, not `true`/`false` for `Bool` or
    /// `Null`, not a CIDR for `IpAddress`, not base64 for `BinaryEquals`.
    #[error("{operator} value {value:?} for condition key {key:?} is not {expected} in {stmt}")]
    InvalidConditionValue {
        /// The statement.
        stmt: StatementRef,
        /// The operator.
        operator: String,
        /// The condition key.
        key: String,
        /// The value found.
        value: String,
        /// What the operator needs.
        expected: ValueKind,
    },

    /// A `${...}` policy variable in a `"Version": "2012-10-17"` policy.
    /// kmsd does not substitute policy variables, and evaluating one as
    /// literal text would silently change the policy's meaning.
    #[error("policy variables are not supported (found {value:?}) in {stmt}")]
    UnsupportedPolicyVariable {
        /// The statement.
        stmt: StatementRef,
        /// The value containing `${`.
        value: String,
    },
}
