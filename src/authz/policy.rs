//! Parsing and compiling a policy document: JSON text in, a [`Policy`] out
//! whose statements hold pre-split wildcards, classified principals and
//! compiled conditions, so that evaluation parses nothing. The original text
//! is kept (GetKeyPolicy returns it verbatim).
//!
//! This module knows the policy grammar (Version, Id, Statement, Sid,
//! Effect, Principal/NotPrincipal, Action/NotAction, Resource/NotResource,
//! Condition) and refuses anything else. It does not evaluate (see
//! `eval.rs`) and does not know KMS-specific rules such as the policy
//! lockout safety check or the key-policy character set; kmsd applies
//! those around it.
//!
//! Choices made where IAM leaves room:
//! - element and operator names are case-sensitive, as in IAM;
//! - duplicate JSON keys are refused (a parser keeping the last one could
//!   silently drop a condition);
//! - `Principal` is `"*"` or a map of `AWS` / `Service` / `Federated` /
//!   `CanonicalUser` to a string or list. `AWS` values must be `*`, a
//!   12-digit account id, or an IAM root/user/role or STS
//!   assumed-role/federated-user ARN without wildcards. `Service`,
//!   `Federated` and `CanonicalUser` values are accepted (real key policies
//!   name services) but never match a kmsd caller;
//! - `NotPrincipal` is refused with `"Effect": "Allow"`, which AWS does not
//!   support;
//! - an absent `Resource`/`NotResource` means `"Resource": "*"`, except in
//!   a [`PolicyKind::Identity`] document, where IAM requires one;
//! - `${...}` policy variables are refused in `2012-10-17` policies (kmsd
//!   does not substitute them); in `2008-10-17` or unversioned policies they
//!   are literal text, as in IAM.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::condition::{self, Condition};
use super::error::{PolicyError, StatementRef};
use super::matching::{ArnPattern, CaseMode, Pattern};
use crate::model::ids::{is_account_id, ArnParts};

/// The largest policy document accepted, in bytes (AWS KMS: 32 KB).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Which statements a document may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyKind {
    /// No restriction on `Principal`/`NotPrincipal`.
    #[default]
    Any,
    /// A resource (key) policy: every statement names a `Principal` or
    /// `NotPrincipal`.
    Resource,
    /// An identity (IAM) policy: no statement names a principal, and every
    /// statement has `Resource` or `NotResource`.
    Identity,
}

/// The policy language version (`Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2008-10-17`: `${...}` is literal text.
    V2008_10_17,
    /// `2012-10-17`: `${...}` is a policy variable (refused by kmsd).
    V2012_10_17,
}

/// A statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// A compiled, immutable policy. Cheap to share (`Arc<Policy>`); evaluation
/// takes `&self`.
#[derive(Debug, Clone)]
pub struct Policy {
    text: String,
    version: Option<PolicyVersion>,
    id: Option<String>,
    pub(crate) statements: Box<[Statement]>,
    /// Every condition key the statements read, lowercase, sorted.
    condition_keys: Box<[Box<str>]>,
    /// Which statements' action and resource elements match a given
    /// (action, resource) — see [`super::eval`].
    pub(crate) applicable: super::eval::ApplicableMemo,
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    pub(crate) principal: PrincipalSpec,
    pub(crate) action: ActionSpec,
    pub(crate) resource: ResourceSpec,
    pub(crate) conditions: Box<[Condition]>,
}

/// `Principal`, `NotPrincipal`, or neither (identity policies).
#[derive(Debug, Clone)]
pub(crate) enum PrincipalSpec {
    Absent,
    Principal(Box<[PrincipalEntry]>),
    NotPrincipal(Box<[PrincipalEntry]>),
}

/// One principal named by a policy.
#[derive(Debug, Clone)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// A 12-digit account id, or that account's root ARN.
    Account(Box<str>),
    /// An IAM user/role or STS principal ARN.
    Arn(PrincipalArn),
    /// A `Service`, `Federated` or `CanonicalUser` principal: never a kmsd
    /// caller.
    Other,
}

/// A principal ARN, pre-split.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalArn {
    pub(crate) arn: Box<str>,
    pub(crate) partition: Box<str>,
    pub(crate) account: Box<str>,
    /// For `arn:…:iam::ACCOUNT:role/[path/]NAME`, `NAME`: the role's
    /// assumed-role sessions match it too.
    pub(crate) role_name: Option<Box<str>>,
}

/// `Action` or `NotAction`: case-insensitive globs.
#[derive(Debug, Clone)]
pub(crate) struct ActionSpec {
    pub(crate) negated: bool,
    pub(crate) patterns: Box<[Pattern]>,
}

/// `Resource` or `NotResource`: ARN globs.
#[derive(Debug, Clone)]
pub(crate) struct ResourceSpec {
    pub(crate) negated: bool,
    pub(crate) patterns: Box<[ArnPattern]>,
}

impl Policy {
    /// Parses and compiles a policy document of any kind (statements with or
    /// without principals). See [`Policy::parse_as`].
    pub fn parse(json: &str) -> Result<Self, PolicyError> {
        Self::parse_as(json, PolicyKind::Any)
    }

    /// Parses and compiles a policy document, requiring or forbidding
    /// principals according to `kind`. Never panics; any problem is a
    /// [`PolicyError`].
    pub fn parse_as(json: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        if json.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                size: json.len(),
                limit: MAX_POLICY_BYTES,
            });
        }
        let doc: Json = serde_json::from_str(json).map_err(|e| PolicyError::InvalidJson {
            reason: e.to_string(),
        })?;
        let Json::Object(fields) = &doc else {
            return Err(PolicyError::WrongType {
                stmt: None,
                element: "policy document".into(),
                expected: "a JSON object",
            });
        };
        check_unique_keys(fields, None)?;
        let (mut version, mut id, mut statement) = (None, None, None);
        for (key, value) in fields {
            match key.as_str() {
                "Version" => version = Some(value),
                "Id" => id = Some(value),
                "Statement" => statement = Some(value),
                _ => {
                    return Err(PolicyError::UnknownElement {
                        stmt: None,
                        key: key.clone(),
                    })
                }
            }
        }
        let version = match version {
            None => None,
            Some(Json::String(v)) if v == "2012-10-17" => Some(PolicyVersion::V2012_10_17),
            Some(Json::String(v)) if v == "2008-10-17" => Some(PolicyVersion::V2008_10_17),
            Some(Json::String(v)) => return Err(PolicyError::InvalidVersion { value: v.clone() }),
            Some(_) => return Err(wrong_type(None, "Version", "a string")),
        };
        let id = match id {
            None => None,
            Some(Json::String(v)) => Some(v.clone()),
            Some(_) => return Err(wrong_type(None, "Id", "a string")),
        };
        let items: Vec<&Json> = match statement {
            None => {
                return Err(PolicyError::MissingElement {
                    stmt: None,
                    element: "Statement",
                })
            }
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(PolicyError::EmptyList {
                    stmt: None,
                    element: "Statement".into(),
                })
            }
            Some(Json::Array(items)) => items.iter().collect(),
            Some(one @ Json::Object(_)) => vec![one],
            Some(_) => {
                return Err(wrong_type(
                    None,
                    "Statement",
                    "an object or a list of objects",
                ))
            }
        };
        let variables = version == Some(PolicyVersion::V2012_10_17);
        let statements = items
            .into_iter()
            .enumerate()
            .map(|(i, s)| compile_statement(i + 1, s, variables, kind))
            .collect::<Result<Box<[_]>, _>>()?;
        let mut condition_keys: Vec<Box<str>> = statements
            .iter()
            .flat_map(|s| s.conditions.iter())
            .map(|c| Box::from(c.key()))
            .collect();
        condition_keys.sort_unstable();
        condition_keys.dedup();
        Ok(Self {
            text: json.to_owned(),
            version,
            id,
            statements,
            condition_keys: condition_keys.into_boxed_slice(),
            applicable: Default::default(),
        })
    }

    /// The document exactly as given to [`Policy::parse`].
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<PolicyVersion> {
        self.version
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether any statement has a `Condition` (conditions are the only
    /// part of a policy that reads the request's condition keys).
    pub fn has_conditions(&self) -> bool {
        !self.condition_keys.is_empty()
    }

    /// Whether any condition reads `lowercase_key` (so kmsd fills costly
    /// keys such as `kms:ResourceAliases` only when a policy needs them).
    pub fn uses_condition_key(&self, lowercase_key: &str) -> bool {
        self.condition_keys
            .binary_search_by(|k| (**k).cmp(lowercase_key))
            .is_ok()
    }

    /// The number of statements.
    pub fn statements_len(&self) -> usize {
        self.statements.len()
    }
}

fn wrong_type(stmt: Option<&StatementRef>, element: &str, expected: &'static str) -> PolicyError {
    PolicyError::WrongType {
        stmt: stmt.cloned(),
        element: element.into(),
        expected,
    }
}

/// Refuses a JSON object that repeats a key.
pub(crate) fn check_unique_keys(
    fields: &[(String, Json)],
    stmt: Option<&StatementRef>,
) -> Result<(), PolicyError> {
    let mut seen = HashSet::with_capacity(fields.len());
    for (key, _) in fields {
        if !seen.insert(key.as_str()) {
            return Err(PolicyError::DuplicateKey {
                stmt: stmt.cloned(),
                key: key.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses `${` when the policy version makes it a variable.
pub(crate) fn check_no_variable(
    value: &str,
    variables: bool,
    stmt: &StatementRef,
) -> Result<(), PolicyError> {
    if variables && value.contains("${") {
        return Err(PolicyError::UnsupportedPolicyVariable {
            stmt: stmt.clone(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn compile_statement(
    index: usize,
    json: &Json,
    variables: bool,
    kind: PolicyKind,
) -> Result<Statement, PolicyError> {
    let Json::Object(fields) = json else {
        return Err(wrong_type(
            Some(&StatementRef { index, sid: None }),
            "Statement",
            "an object",
        ));
    };
    // The Sid is read first so that every later error can name it.
    let sid = match fields.iter().find(|(k, _)| k == "Sid") {
        None => None,
        Some((_, Json::String(s))) => Some(s.clone()),
        Some(_) => {
            return Err(wrong_type(
                Some(&StatementRef { index, sid: None }),
                "Sid",
                "a string",
            ))
        }
    };
    let stmt = StatementRef { index, sid };
    check_unique_keys(fields, Some(&stmt))?;

    let mut slots = Slots::default();
    for (key, value) in fields {
        let slot = match key.as_str() {
            "Sid" => continue,
            "Effect" => &mut slots.effect,
            "Principal" => &mut slots.principal,
            "NotPrincipal" => &mut slots.not_principal,
            "Action" => &mut slots.action,
            "NotAction" => &mut slots.not_action,
            "Resource" => &mut slots.resource,
            "NotResource" => &mut slots.not_resource,
            "Condition" => &mut slots.condition,
            _ => {
                return Err(PolicyError::UnknownElement {
                    stmt: Some(stmt),
                    key: key.clone(),
                })
            }
        };
        *slot = Some(value);
    }

    let effect = match slots.effect {
        None => {
            return Err(PolicyError::MissingElement {
                stmt: Some(stmt),
                element: "Effect",
            })
        }
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(Json::String(e)) => {
            return Err(PolicyError::InvalidEffect {
                value: e.clone(),
                stmt,
            })
        }
        Some(_) => return Err(wrong_type(Some(&stmt), "Effect", "\"Allow\" or \"Deny\"")),
    };

    let principal = match (slots.principal, slots.not_principal) {
        (Some(_), Some(_)) => return Err(conflict(stmt, "Principal", "NotPrincipal")),
        (Some(p), None) => PrincipalSpec::Principal(compile_principals(p, "Principal", &stmt)?),
        (None, Some(p)) => {
            if effect == Effect::Allow {
                return Err(PolicyError::NotAllowed {
                    stmt,
                    element: "NotPrincipal",
                    reason: "NotPrincipal is supported only with \"Effect\": \"Deny\"",
                });
            }
            PrincipalSpec::NotPrincipal(compile_principals(p, "NotPrincipal", &stmt)?)
        }
        (None, None) => PrincipalSpec::Absent,
    };
    match (kind, &principal) {
        (PolicyKind::Resource, PrincipalSpec::Absent) => {
            return Err(PolicyError::MissingElement {
                stmt: Some(stmt),
                element: "Principal or NotPrincipal",
            })
        }
        (PolicyKind::Identity, PrincipalSpec::Principal(_) | PrincipalSpec::NotPrincipal(_)) => {
            return Err(PolicyError::NotAllowed {
                stmt,
                element: "Principal",
                reason: "identity policies do not name principals",
            })
        }
        _ => {}
    }

    let action = match (slots.action, slots.not_action) {
        (Some(_), Some(_)) => return Err(conflict(stmt, "Action", "NotAction")),
        (None, None) => {
            return Err(PolicyError::MissingElement {
                stmt: Some(stmt),
                element: "Action or NotAction",
            })
        }
        (Some(a), None) => compile_actions(a, "Action", false, &stmt)?,
        (None, Some(a)) => compile_actions(a, "NotAction", true, &stmt)?,
    };

    let resource = match (slots.resource, slots.not_resource) {
        (Some(_), Some(_)) => return Err(conflict(stmt, "Resource", "NotResource")),
        // IAM requires a resource element in identity policies; key
        // policies may omit it.
        (None, None) if kind == PolicyKind::Identity => {
            return Err(PolicyError::MissingElement {
                stmt: Some(stmt),
                element: "Resource or NotResource",
            })
        }
        (None, None) => ResourceSpec {
            negated: false,
            patterns: Box::new([ArnPattern::new("*")]),
        },
        (Some(r), None) => compile_resources(r, "Resource", false, variables, &stmt)?,
        (None, Some(r)) => compile_resources(r, "NotResource", true, variables, &stmt)?,
    };

    let conditions = match slots.condition {
        None => Box::default(),
        Some(block) => {
            let mut conditions = condition::compile_block(block, &stmt, variables)?;
            // A statement applies only if all its conditions hold, and each
            // is a pure test of the request, so their order is free: test
            // per-pair encryption-context keys first. They are the most
            // selective (a context rarely has the pair), so a statement that
            // does not apply usually fails on its first condition.
            conditions.sort_by_key(|c| !c.key().starts_with("kms:encryptioncontext:"));
            conditions.into_boxed_slice()
        }
    };

    Ok(Statement {
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// The elements of one statement, before compilation.
#[derive(Default)]
struct Slots<'j> {
    effect: Option<&'j Json>,
    principal: Option<&'j Json>,
    not_principal: Option<&'j Json>,
    action: Option<&'j Json>,
    not_action: Option<&'j Json>,
    resource: Option<&'j Json>,
    not_resource: Option<&'j Json>,
    condition: Option<&'j Json>,
}

fn conflict(stmt: StatementRef, first: &'static str, second: &'static str) -> PolicyError {
    PolicyError::ConflictingElements {
        stmt,
        first,
        second,
    }
}

/// A string or a non-empty list of strings.
fn string_list<'j>(
    value: &'j Json,
    element: &str,
    stmt: &StatementRef,
) -> Result<Vec<&'j str>, PolicyError> {
    const EXPECTED: &str = "a string or a non-empty list of strings";
    match value {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) if items.is_empty() => Err(PolicyError::EmptyList {
            stmt: Some(stmt.clone()),
            element: element.into(),
        }),
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(s.as_str()),
                _ => Err(wrong_type(Some(stmt), element, EXPECTED)),
            })
            .collect(),
        _ => Err(wrong_type(Some(stmt), element, EXPECTED)),
    }
}

fn has_control_or_space(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// `*` or `service:action-glob` (e.g. `kms:*`, `kms:Generate*`).
fn valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    let Some((service, name)) = a.split_once(':') else {
        return false;
    };
    !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.is_empty()
        && !name.contains(':')
        && !has_control_or_space(name)
}

fn compile_actions(
    value: &Json,
    element: &str,
    negated: bool,
    stmt: &StatementRef,
) -> Result<ActionSpec, PolicyError> {
    let patterns = string_list(value, element, stmt)?
        .into_iter()
        .map(|a| {
            if valid_action(a) {
                Ok(Pattern::new(a, CaseMode::AsciiInsensitive))
            } else {
                Err(PolicyError::InvalidAction {
                    stmt: stmt.clone(),
                    value: a.to_owned(),
                })
            }
        })
        .collect::<Result<Box<[_]>, _>>()?;
    Ok(ActionSpec { negated, patterns })
}

fn compile_resources(
    value: &Json,
    element: &str,
    negated: bool,
    variables: bool,
    stmt: &StatementRef,
) -> Result<ResourceSpec, PolicyError> {
    let patterns = string_list(value, element, stmt)?
        .into_iter()
        .map(|r| {
            if !(r == "*" || r.starts_with("arn:")) || has_control_or_space(r) {
                return Err(PolicyError::InvalidResource {
                    stmt: stmt.clone(),
                    value: r.to_owned(),
                });
            }
            check_no_variable(r, variables, stmt)?;
            Ok(ArnPattern::new(r))
        })
        .collect::<Result<Box<[_]>, _>>()?;
    Ok(ResourceSpec { negated, patterns })
}

fn compile_principals(
    value: &Json,
    element: &'static str,
    stmt: &StatementRef,
) -> Result<Box<[PrincipalEntry]>, PolicyError> {
    match value {
        Json::String(s) if s == "*" => Ok(Box::new([PrincipalEntry::Anyone])),
        Json::String(s) => Err(PolicyError::InvalidPrincipal {
            stmt: stmt.clone(),
            value: s.clone(),
        }),
        Json::Object(types) => {
            if types.is_empty() {
                return Err(PolicyError::EmptyList {
                    stmt: Some(stmt.clone()),
                    element: element.into(),
                });
            }
            check_unique_keys(types, Some(stmt))?;
            let mut entries = Vec::new();
            for (ty, names) in types {
                let names = string_list(names, element, stmt)?;
                match ty.as_str() {
                    "AWS" => {
                        for name in names {
                            entries.push(parse_aws_principal(name).ok_or_else(|| {
                                PolicyError::InvalidPrincipal {
                                    stmt: stmt.clone(),
                                    value: name.to_owned(),
                                }
                            })?);
                        }
                    }
                    "Service" | "Federated" | "CanonicalUser" => {
                        entries.push(PrincipalEntry::Other)
                    }
                    _ => {
                        return Err(PolicyError::UnknownPrincipalType {
                            stmt: stmt.clone(),
                            key: ty.clone(),
                        })
                    }
                }
            }
            Ok(entries.into_boxed_slice())
        }
        _ => Err(wrong_type(
            Some(stmt),
            element,
            "\"*\" or an object such as {\"AWS\": ...}",
        )),
    }
}

/// Classifies one `AWS` principal value; `None` if it is not one IAM
/// accepts.
fn parse_aws_principal(name: &str) -> Option<PrincipalEntry> {
    if name == "*" {
        return Some(PrincipalEntry::Anyone);
    }
    if is_account_id(name) {
        return Some(PrincipalEntry::Account(name.into()));
    }
    if name.contains(['*', '?']) || has_control_or_space(name) {
        return None;
    }
    let ArnParts {
        partition,
        service,
        account,
        resource,
        ..
    } = ArnParts::split_principal(name)?;
    if partition.is_empty() {
        return None;
    }
    let has_name = |prefix: &str| resource.strip_prefix(prefix).is_some_and(|n| !n.is_empty());
    let role_name = match service {
        "iam" if resource == "root" => return Some(PrincipalEntry::Account(account.into())),
        "iam" if has_name("user/") => None,
        "iam" if has_name("role/") => resource.rsplit('/').next().filter(|n| !n.is_empty()),
        "sts" if has_name("assumed-role/") || has_name("federated-user/") => None,
        _ => return None,
    };
    Some(PrincipalEntry::Arn(PrincipalArn {
        arn: name.into(),
        partition: partition.into(),
        account: account.into(),
        role_name: role_name.map(Into::into),
    }))
}

/// A JSON value that keeps object members in order and keeps duplicate
/// keys, so that compilation can refuse them. Deserialized by serde_json
/// (whose recursion limit bounds nesting), never serialized.
#[derive(Debug)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(JsonNumber),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A JSON number as serde_json reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsonNumber {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl JsonNumber {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            JsonNumber::Unsigned(u) => u as f64,
            JsonNumber::Signed(i) => i as f64,
            JsonNumber::Float(f) => f,
        }
    }
}

impl fmt::Display for JsonNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonNumber::Unsigned(u) => write!(f, "{u}"),
            JsonNumber::Signed(i) => write!(f, "{i}"),
            JsonNumber::Float(x) => write!(f, "{x}"),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(JsonNumber::Signed(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(JsonNumber::Unsigned(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(JsonNumber::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some(entry) = map.next_entry::<String, Json>()? {
            fields.push(entry);
        }
        Ok(Json::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_context_conditions_are_tested_first() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
                "Condition":{"StringEquals":{"kms:CallerAccount":"1","kms:EncryptionContext:App":"x"},
                             "Bool":{"aws:SecureTransport":"true"}}}]}"#,
        )
        .unwrap();
        let keys: Vec<&str> = p.statements[0].conditions.iter().map(|c| c.key()).collect();
        assert_eq!(keys[0], "kms:encryptioncontext:app", "{keys:?}");
        assert_eq!(keys.len(), 3);
    }

    #[test]
    fn condition_keys_are_known_at_compile_time() {
        let plain = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert!(!plain.has_conditions());
        assert!(!plain.uses_condition_key("kms:calleraccount"));
        let cond = Policy::parse(
            r#"{"Statement":[
                {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*",
                 "Condition":{"StringEquals":{"kms:CallerAccount":"1","kms:EncryptionContext:App":"x"}}}]}"#,
        )
        .unwrap();
        assert!(cond.has_conditions());
        assert!(cond.uses_condition_key("kms:calleraccount"));
        assert!(cond.uses_condition_key("kms:encryptioncontext:app"));
        assert!(!cond.uses_condition_key("aws:sourceip"));
    }
    use crate::authz::RequestContext;

    /// A tiny deterministic PRNG (xorshift64*), so the fuzz test needs no
    /// dependency and every run sees the same inputs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const SEEDS: &[&str] = &[
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/alice","111122223333"]},"NotAction":["kms:Describe*"],"NotResource":"arn:aws:kms:*:*:key/*"}}"#,
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Condition":{"StringEquals":{"kms:CallerAccount":"111122223333","kms:EncryptionContext:App":["a","b"]},"ForAllValues:StringLike":{"kms:EncryptionContextKeys":"App*"},"NumericLessThanEquals":{"kms:RotationPeriodInDays":365},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"Bool":{"aws:SecureTransport":true},"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"},"Null":{"kms:GranteePrincipal":"true"},"BinaryEquals":{"k":"YWJj"}}}]}"#,
    ];

    const ALPHABET: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\\",
        "*",
        "?",
        "${",
        "0",
        "-1",
        "1e9",
        "true",
        "null",
        "\u{e9}",
        "\u{65e5}",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Action\"",
        "\"Condition\"",
        "\"StringLike\"",
        "\"ForAnyValue:Null\"",
        "\"arn:aws:iam::111122223333:root\"",
        "\"*\"",
        " ",
        "\n",
        "/",
    ];

    fn mutate(rng: &mut Rng, seed: &str) -> String {
        let mut s: Vec<u8> = seed.as_bytes().to_vec();
        for _ in 0..=rng.below(2) {
            match rng.below(5) {
                0 if !s.is_empty() => {
                    let i = rng.below(s.len());
                    s[i] = rng.next() as u8;
                }
                1 if !s.is_empty() => {
                    let i = rng.below(s.len());
                    let n = rng.below(8).min(s.len() - i);
                    s.drain(i..i + n);
                }
                2 => {
                    let i = rng.below(s.len() + 1);
                    let tok = rng.pick(ALPHABET).as_bytes().to_vec();
                    s.splice(i..i, tok);
                }
                3 if !s.is_empty() => {
                    let i = rng.below(s.len());
                    s.truncate(i);
                }
                _ => {
                    let i = rng.below(s.len() + 1);
                    let j = rng.below(s.len() + 1);
                    let (a, b) = (i.min(j), i.max(j));
                    let chunk = s[a..b].to_vec();
                    s.splice(a..a, chunk);
                }
            }
        }
        String::from_utf8_lossy(&s).into_owned()
    }

    /// A random but mostly well-formed document: random operators, keys and
    /// values, so that evaluation (not just parsing) sees odd inputs.
    fn structured(rng: &mut Rng) -> String {
        const OPS: &[&str] = &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotLike",
            "StringLike",
            "NumericLessThan",
            "NumericNotEquals",
            "DateGreaterThanEquals",
            "DateNotEquals",
            "Bool",
            "BinaryEquals",
            "IpAddress",
            "NotIpAddress",
            "ArnLike",
            "ArnNotEquals",
            "Null",
            "ForAnyValue:StringLike",
            "ForAllValues:StringNotEquals",
            "StringLikeIfExists",
            "ForAllValues:NumericGreaterThanIfExists",
        ];
        const KEYS: &[&str] = &[
            "kms:CallerAccount",
            "aws:SourceIp",
            "aws:CurrentTime",
            "kms:EncryptionContextKeys",
            "aws:TagKeys",
            "k",
            "kms:encryptioncontext:app",
        ];
        const VALUES: &[&str] = &[
            "\"111122223333\"",
            "\"10.0.0.0/8\"",
            "\"::/0\"",
            "\"2020-01-01T00:00:00Z\"",
            "1700000000",
            "true",
            "\"false\"",
            "\"*\"",
            "\"a*b?\"",
            "\"YWJj\"",
            "\"arn:aws:*:*:*:*\"",
            "[\"App\",\"Other\"]",
            "-3.5",
            "\"\"",
            "\"\\u65e5*\"",
        ];
        const PRINCIPALS: &[&str] = &[
            "\"*\"",
            "{\"AWS\":\"111122223333\"}",
            "{\"AWS\":[\"arn:aws:iam::111122223333:root\",\"arn:aws:iam::111122223333:role/R\"]}",
            "{\"Service\":\"logs.amazonaws.com\"}",
            "{\"AWS\":\"arn:aws:iam::111122223333:user/alice\"}",
        ];
        let mut conditions = Vec::new();
        for _ in 0..rng.below(4) {
            let op = rng.pick(OPS);
            let key = rng.pick(KEYS);
            let value = rng.pick(VALUES);
            conditions.push(format!("\"{op}\":{{\"{key}\":{value}}}"));
        }
        let (effect, principal_element) = if rng.below(4) == 0 {
            ("Deny", "NotPrincipal")
        } else {
            (rng.pick(&["Allow", "Deny"]), "Principal")
        };
        format!(
            "{{\"Statement\":[{{\"Effect\":\"{effect}\",\"{principal_element}\":{},\"Action\":\"{}\",\"Resource\":\"{}\",\"Condition\":{{{}}}}}]}}",
            rng.pick(PRINCIPALS),
            rng.pick(&["*", "kms:*", "kms:Decrypt", "kms:*Data?ey*"]),
            rng.pick(&["*", "arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:*"]),
            conditions.join(",")
        )
    }

    fn contexts() -> Vec<RequestContext<'static>> {
        let mut a = RequestContext::new(
            "arn:aws:iam::111122223333:user/alice",
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        );
        a.set("kms:CallerAccount", "111122223333")
            .set("aws:SourceIp", "10.1.2.3")
            .set("aws:CurrentTime", "2024-01-01T00:00:00Z")
            .set("kms:RotationPeriodInDays", "not a number")
            .set_encryption_context([("App", "a"), ("Other", "\u{65e5}")]);
        let b = RequestContext::new("garbage", "", "");
        let mut c = RequestContext::new(
            "arn:aws:sts::111122223333:assumed-role/R/s",
            "KMS:GENERATEDATAKEY",
            "*",
        );
        c.set_multi("aws:TagKeys", ["", "*", "?"]).set("k", "YWJj");
        vec![a, b, c]
    }

    /// Hundreds of random and mutated documents: parsing and evaluating must
    /// never panic, whatever the input.
    #[test]
    fn fuzz_no_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let ctxs = contexts();
        let mut parsed = 0;
        for round in 0..3000 {
            let doc = if round % 10 == 0 {
                // Fully random token soup.
                (0..rng.below(40))
                    .map(|_| rng.pick(ALPHABET))
                    .collect::<String>()
            } else if round % 3 == 0 {
                structured(&mut rng)
            } else {
                let seed = SEEDS[rng.below(SEEDS.len())];
                mutate(&mut rng, seed)
            };
            if let Ok(p) = Policy::parse(&doc) {
                parsed += 1;
                for ctx in &ctxs {
                    let _ = p.evaluate(ctx);
                }
            }
            let _ = Policy::parse_as(&doc, PolicyKind::Resource);
            let _ = Policy::parse_as(&doc, PolicyKind::Identity);
        }
        // The mutations must leave a fair share parseable, or the test only
        // exercises the JSON parser.
        assert!(parsed > 500, "only {parsed} of 3000 documents parsed");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            Policy::parse(&doc),
            Err(PolicyError::InvalidJson { .. })
        ));
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Action":"*","Condition":{}1{}}}}}"#,
            "{\"a\":".repeat(5000),
            "}".repeat(5000)
        );
        assert!(Policy::parse(&doc).is_err());
    }

    #[test]
    fn compiled_policy_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Policy>();
        assert_send_sync::<PolicyError>();
    }

    #[test]
    fn keeps_text_and_metadata() {
        let text = "{ \"Version\" : \"2012-10-17\", \"Id\": \"key-default-1\",\n \"Statement\": {\"Effect\":\"Allow\",\"Action\":\"*\"} }";
        let p = Policy::parse(text).unwrap();
        assert_eq!(p.text(), text);
        assert_eq!(p.id(), Some("key-default-1"));
        assert_eq!(p.version(), Some(PolicyVersion::V2012_10_17));
        assert_eq!(p.statements_len(), 1);
    }

    #[test]
    fn error_messages_name_the_problem() {
        let e = Policy::parse(r#"{"Statement":[{"Sid":"AllowUse","Effect":"Allow","Action":"*","Condition":{"StringEqualz":{"a":"b"}}}]}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"unknown condition operator "StringEqualz" in statement "AllowUse""#
        );
        let e = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"*"},{"Effect":"Permit","Action":"*"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"Effect must be "Allow" or "Deny" (got "Permit") in statement 2"#
        );
        let big = format!("{{\"Statement\":[]{}}}", " ".repeat(MAX_POLICY_BYTES));
        let e = Policy::parse(&big).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "policy document is {} bytes; the limit is 32768 bytes",
                big.len()
            )
        );
        let e = Policy::parse("{").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("policy document is not valid JSON: EOF while parsing"),
            "{e}"
        );
        let e = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Principal":"*","NotPrincipal":"*"}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Principal and NotPrincipal cannot both be present in statement 1"
        );
        let e = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"soon"}}}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"DateLessThan value "soon" for condition key "aws:CurrentTime" is not an ISO 8601 date-time or epoch seconds in statement 1"#
        );
        let e =
            Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"*"},"Foo":1}"#).unwrap_err();
        assert_eq!(e.to_string(), r#"unknown element "Foo" in the policy"#);
    }
}
