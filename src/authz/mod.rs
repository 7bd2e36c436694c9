//! IAM-style policies: parse and compile a JSON policy document once
//! ([`Policy::parse`]), then evaluate it per request ([`Policy::evaluate`])
//! against a [`RequestContext`], getting an [`Evaluation`]: whether a Deny
//! applied, whether an Allow applied to the caller directly, and whether an
//! Allow applied only through the caller's account.
//!
//! This module knows the IAM policy language (elements, wildcards, condition
//! operators and their AWS semantics). It does not know gRPC, RocksDB,
//! grants, which condition keys a KMS request carries, or how kmsd combines
//! the key policy, identity policies and grants into a decision — the
//! [`Evaluation`] flags are the inputs to that combination, which lives in
//! `kms/authz.rs`.
//!
//! Layout: `policy.rs` parses and compiles (and defines the compiled form),
//! `condition.rs` holds the condition operators, `matching.rs` the wildcard
//! and ARN matchers, `context.rs` the request context, `eval.rs` the
//! evaluation, `error.rs` [`PolicyError`]; `table.rs` is the table-driven
//! test suite.

mod condition;
mod context;
mod error;
mod eval;
mod matching;
mod policy;
#[cfg(test)]
mod table;

pub use condition::format_iso8601;
pub use context::RequestContext;
pub use error::{PolicyError, StatementRef, ValueKind};
pub use eval::Evaluation;
pub use policy::{Policy, PolicyKind, PolicyVersion, MAX_POLICY_BYTES};
