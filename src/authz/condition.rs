//! The `Condition` element: operator names (with `...IfExists` and the
//! `ForAnyValue:` / `ForAllValues:` set qualifiers), policy values compiled
//! once into numbers, dates, booleans, CIDR blocks, byte strings, globs and
//! ARN patterns, and the AWS rules for evaluating one condition against a
//! request.
//!
//! This module knows the condition operators and their semantics; it does
//! not know statements, principals or how results combine across policies,
//! and it does not know which condition keys exist (an unknown key is just
//! an absent key).
//!
//! Semantics implemented (IAM User Guide, "Condition operators" and
//! "Conditions with multiple context keys or values"):
//! - several operators in one `Condition`, and several keys under one
//!   operator, are ANDed; several values for one key are ORed, and for a
//!   negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …)
//!   NORed: the request value must match none of them;
//! - a key absent from the request makes a positive operator false and a
//!   negated operator true; `...IfExists` makes any operator true on an
//!   absent key; `Null: true` means "absent", `Null: false` "present";
//! - `ForAllValues:` is true when every request value satisfies the operator
//!   (so true for an absent or empty key), `ForAnyValue:` when at least one
//!   does (so false for an absent or empty key); with a negated operator
//!   "satisfies" means "matches none of the policy values";
//! - a multi-valued key under an operator without a set qualifier (which
//!   AWS advises against) behaves like `ForAnyValue:` for positive operators
//!   and like its negation for negated ones: `StringNotEquals` is true only
//!   if no request value equals any policy value;
//! - a request value the operator cannot read (e.g. `"abc"` for
//!   `NumericLessThan`) matches no policy value.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

use super::context::{normalize_key, RequestContext};
use super::error::{PolicyError, StatementRef, ValueKind};
use super::matching::{ArnPattern, CaseMode, Pattern};
use super::policy::Json;
use crate::clock::{civil_from_days, days_from_civil};

/// `ForAnyValue:` / `ForAllValues:` / neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// The comparison of an ordered (`Numeric*`, `Date*`) operator: the request
/// value is on the left, the policy value on the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Le => ord != Ordering::Greater,
            Cmp::Gt => ord == Ordering::Greater,
            Cmp::Ge => ord != Ordering::Less,
        }
    }
}

/// Operator family, before values are compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    IpAddress,
    Arn,
    Null,
}

/// A parsed operator name.
#[derive(Clone, Copy, Debug)]
struct Operator {
    family: Family,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
}

impl Operator {
    /// Parses an operator name such as `ForAllValues:StringNotLikeIfExists`.
    /// Names are case-sensitive, as in IAM. `Null` takes neither `IfExists`
    /// nor a set qualifier.
    fn parse(name: &str) -> Option<Self> {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else {
            (SetQualifier::None, name)
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let (family, negated) = match base {
            "StringEquals" => (Family::StringEquals, false),
            "StringNotEquals" => (Family::StringEquals, true),
            "StringEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Family::StringEqualsIgnoreCase, true),
            "StringLike" => (Family::StringLike, false),
            "StringNotLike" => (Family::StringLike, true),
            "NumericEquals" => (Family::Numeric(Cmp::Eq), false),
            "NumericNotEquals" => (Family::Numeric(Cmp::Eq), true),
            "NumericLessThan" => (Family::Numeric(Cmp::Lt), false),
            "NumericLessThanEquals" => (Family::Numeric(Cmp::Le), false),
            "NumericGreaterThan" => (Family::Numeric(Cmp::Gt), false),
            "NumericGreaterThanEquals" => (Family::Numeric(Cmp::Ge), false),
            "DateEquals" => (Family::Date(Cmp::Eq), false),
            "DateNotEquals" => (Family::Date(Cmp::Eq), true),
            "DateLessThan" => (Family::Date(Cmp::Lt), false),
            "DateLessThanEquals" => (Family::Date(Cmp::Le), false),
            "DateGreaterThan" => (Family::Date(Cmp::Gt), false),
            "DateGreaterThanEquals" => (Family::Date(Cmp::Ge), false),
            "Bool" => (Family::Bool, false),
            "BinaryEquals" => (Family::Binary, false),
            "IpAddress" => (Family::IpAddress, false),
            "NotIpAddress" => (Family::IpAddress, true),
            // IAM: "ArnEquals and ArnLike behave identically" (both take
            // wildcards), as do their negations.
            "ArnEquals" | "ArnLike" => (Family::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
            "Null" => (Family::Null, false),
            _ => return None,
        };
        if family == Family::Null && (if_exists || set != SetQualifier::None) {
            return None;
        }
        Some(Self {
            family,
            negated,
            if_exists,
            set,
        })
    }
}

/// A number as IAM compares it: integers exactly, anything else as `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

/// An instant: seconds since the Unix epoch and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// A CIDR block, host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { net: u32, mask: u32 },
    V6 { net: u128, mask: u128 },
}

impl Cidr {
    fn contains(self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack
        // socket reports IPv4 peers) is compared as the IPv4 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self, ip) {
            (Cidr::V4 { net, mask }, IpAddr::V4(a)) => u32::from(a) & mask == net,
            (Cidr::V6 { net, mask }, IpAddr::V6(a)) => u128::from(a) & mask == net,
            _ => false,
        }
    }
}

/// Compiled policy values of one condition key.
#[derive(Clone, Debug)]
enum Values {
    StringEquals(Box<[Box<str>]>),
    /// Lowercased when compiled.
    StringEqualsIgnoreCase(Box<[Box<str>]>),
    StringLike(Box<[Pattern]>),
    Numeric(Cmp, Box<[Num]>),
    Date(Cmp, Box<[Timestamp]>),
    Bool(Box<[bool]>),
    Binary(Box<[Box<[u8]>]>),
    IpAddress(Box<[Cidr]>),
    Arn(Box<[ArnPattern]>),
    /// `true` = "must be absent".
    Null(Box<[bool]>),
}

impl Values {
    /// Whether the request value `v` matches at least one policy value
    /// (the positive sense; negation is applied by the caller).
    fn matches_any(&self, v: &str) -> bool {
        match self {
            Values::StringEquals(ps) => ps.iter().any(|p| **p == *v),
            Values::StringEqualsIgnoreCase(ps) => ps.iter().any(|p| eq_ignore_case(p, v)),
            Values::StringLike(ps) => ps.iter().any(|p| p.matches(v)),
            Values::Numeric(cmp, ps) => parse_number(v).is_some_and(|n| {
                ps.iter()
                    .any(|p| n.compare(*p).is_some_and(|o| cmp.holds(o)))
            }),
            Values::Date(cmp, ps) => {
                parse_date(v).is_some_and(|t| ps.iter().any(|p| cmp.holds(t.cmp(p))))
            }
            Values::Bool(ps) => parse_bool(v).is_some_and(|b| ps.contains(&b)),
            Values::Binary(ps) => ps.iter().any(|p| base64_equals(v, p)),
            Values::IpAddress(ps) => v
                .parse::<IpAddr>()
                .is_ok_and(|ip| ps.iter().any(|c| c.contains(ip))),
            Values::Arn(ps) => ps.iter().any(|p| p.matches(v)),
            // Null never compares values; see `Condition::evaluate`.
            Values::Null(_) => false,
        }
    }
}

/// One compiled condition: an operator applied to one condition key.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    /// Lowercased key name (keys are case-insensitive).
    key: Box<str>,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
    values: Values,
}

impl Condition {
    /// The lowercased condition key this condition reads.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Evaluates the condition against a request (see the module doc for
    /// the rules). Allocation-free.
    pub(crate) fn evaluate(&self, ctx: &RequestContext<'_>) -> bool {
        let found = ctx.lookup(&self.key);
        if let Values::Null(wants_absent) = &self.values {
            let absent = found.is_none();
            return wants_absent.contains(&absent);
        }
        let Some(request_values) = found else {
            return self.if_exists
                || match self.set {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => false,
                    SetQualifier::None => self.negated,
                };
        };
        let satisfies = |v: &Cow<'_, str>| self.values.matches_any(v) != self.negated;
        match self.set {
            SetQualifier::None => {
                request_values.iter().any(|v| self.values.matches_any(v)) != self.negated
            }
            SetQualifier::ForAnyValue => request_values.iter().any(satisfies),
            SetQualifier::ForAllValues => request_values.iter().all(satisfies),
        }
    }
}

/// Compiles a statement's `Condition` element. `variables` is whether the
/// policy's version makes `${...}` a policy variable (`2012-10-17`).
pub(crate) fn compile_block(
    block: &Json,
    stmt: &StatementRef,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = block else {
        return Err(PolicyError::WrongType {
            stmt: Some(stmt.clone()),
            element: "Condition".into(),
            expected: "an object",
        });
    };
    super::policy::check_unique_keys(operators, Some(stmt))?;
    let mut out = Vec::new();
    for (op_name, keys) in operators {
        let op = Operator::parse(op_name).ok_or_else(|| PolicyError::UnknownConditionOperator {
            stmt: stmt.clone(),
            operator: op_name.clone(),
        })?;
        let Json::Object(keys) = keys else {
            return Err(PolicyError::WrongType {
                stmt: Some(stmt.clone()),
                element: format!("condition operator {op_name:?}"),
                expected: "an object of condition keys",
            });
        };
        if keys.is_empty() {
            return Err(PolicyError::EmptyList {
                stmt: Some(stmt.clone()),
                element: format!("condition operator {op_name:?}"),
            });
        }
        super::policy::check_unique_keys(keys, Some(stmt))?;
        for (key, value) in keys {
            if key.is_empty() {
                return Err(PolicyError::EmptyConditionKey {
                    stmt: stmt.clone(),
                    operator: op_name.clone(),
                });
            }
            let scalars =
                condition_scalars(value).ok_or_else(|| PolicyError::InvalidConditionShape {
                    stmt: stmt.clone(),
                    operator: op_name.clone(),
                    key: key.clone(),
                })?;
            let site = Site {
                stmt,
                operator: op_name,
                key,
                variables,
            };
            out.push(Condition {
                key: normalize_key(key.as_str()).into_owned().into_boxed_str(),
                negated: op.negated,
                if_exists: op.if_exists,
                set: op.set,
                values: compile_values(op.family, &scalars, &site)?,
            });
        }
    }
    Ok(out)
}

/// A policy condition value: JSON strings, numbers and booleans are all
/// accepted (IAM converts them as needed).
enum Scalar<'j> {
    Text(Cow<'j, str>),
    Number(f64, Cow<'j, str>),
    Bool(bool),
}

impl Scalar<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Scalar::Text(s) | Scalar::Number(_, s) => Cow::Borrowed(&**s),
            Scalar::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }
}

/// The value(s) of one condition key: a scalar or a non-empty list of them.
fn condition_scalars(value: &Json) -> Option<Vec<Scalar<'_>>> {
    fn scalar(v: &Json) -> Option<Scalar<'_>> {
        match v {
            Json::String(s) => Some(Scalar::Text(Cow::Borrowed(s))),
            Json::Number(n) => Some(Scalar::Number(n.as_f64(), Cow::Owned(n.to_string()))),
            Json::Bool(b) => Some(Scalar::Bool(*b)),
            Json::Null | Json::Array(_) | Json::Object(_) => None,
        }
    }
    match value {
        Json::Array(items) if items.is_empty() => None,
        Json::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|s| vec![s]),
    }
}

/// Where a value comes from, for error messages.
struct Site<'s> {
    stmt: &'s StatementRef,
    operator: &'s str,
    key: &'s str,
    variables: bool,
}

impl Site<'_> {
    fn invalid(&self, value: &str, expected: ValueKind) -> PolicyError {
        PolicyError::InvalidConditionValue {
            stmt: self.stmt.clone(),
            operator: self.operator.to_owned(),
            key: self.key.to_owned(),
            value: value.to_owned(),
            expected,
        }
    }

    /// Refuses `${` in a 2012-10-17 policy (see
    /// [`PolicyError::UnsupportedPolicyVariable`]).
    fn text<'v>(&self, scalar: &'v Scalar<'_>) -> Result<Cow<'v, str>, PolicyError> {
        let text = scalar.text();
        super::policy::check_no_variable(&text, self.variables, self.stmt)?;
        Ok(text)
    }
}

fn compile_values(
    family: Family,
    scalars: &[Scalar<'_>],
    site: &Site<'_>,
) -> Result<Values, PolicyError> {
    fn each<T>(
        scalars: &[Scalar<'_>],
        f: impl FnMut(&Scalar<'_>) -> Result<T, PolicyError>,
    ) -> Result<Box<[T]>, PolicyError> {
        scalars.iter().map(f).collect()
    }
    Ok(match family {
        Family::StringEquals => Values::StringEquals(each(scalars, |s| Ok(site.text(s)?.into()))?),
        Family::StringEqualsIgnoreCase => Values::StringEqualsIgnoreCase(each(scalars, |s| {
            Ok(site
                .text(s)?
                .chars()
                .flat_map(char::to_lowercase)
                .collect::<String>()
                .into())
        })?),
        Family::StringLike => Values::StringLike(each(scalars, |s| {
            Ok(Pattern::new(&site.text(s)?, CaseMode::Sensitive))
        })?),
        Family::Arn => Values::Arn(each(scalars, |s| Ok(ArnPattern::new(&site.text(s)?)))?),
        Family::Numeric(cmp) => Values::Numeric(
            cmp,
            each(scalars, |s| match s {
                Scalar::Number(f, text) => Ok(parse_number(text).unwrap_or(Num::Float(*f))),
                _ => parse_number(&s.text())
                    .ok_or_else(|| site.invalid(&s.text(), ValueKind::Number)),
            })?,
        ),
        Family::Date(cmp) => Values::Date(
            cmp,
            each(scalars, |s| match s {
                Scalar::Number(f, text) => parse_date(text)
                    .or_else(|| epoch_from_f64(*f))
                    .ok_or_else(|| site.invalid(text, ValueKind::Date)),
                _ => parse_date(&s.text()).ok_or_else(|| site.invalid(&s.text(), ValueKind::Date)),
            })?,
        ),
        Family::Bool | Family::Null => {
            let bools = each(scalars, |s| match s {
                Scalar::Bool(b) => Ok(*b),
                _ => parse_bool(&s.text()).ok_or_else(|| site.invalid(&s.text(), ValueKind::Bool)),
            })?;
            if family == Family::Null {
                Values::Null(bools)
            } else {
                Values::Bool(bools)
            }
        }
        Family::Binary => Values::Binary(each(scalars, |s| {
            let text = s.text();
            base64_decode(&text)
                .map(Vec::into_boxed_slice)
                .ok_or_else(|| site.invalid(&text, ValueKind::Base64))
        })?),
        Family::IpAddress => Values::IpAddress(each(scalars, |s| {
            let text = s.text();
            parse_cidr(&text).ok_or_else(|| site.invalid(&text, ValueKind::IpAddress))
        })?),
    })
}

/// Case-insensitive equality against an already-lowercased policy value,
/// without allocating (ASCII fast path, Unicode lowercase otherwise).
fn eq_ignore_case(lower: &str, v: &str) -> bool {
    if v.is_ascii() {
        lower.len() == v.len()
            && lower
                .bytes()
                .zip(v.bytes())
                .all(|(p, c)| p == c.to_ascii_lowercase())
    } else {
        lower.chars().eq(v.chars().flat_map(char::to_lowercase))
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses an IAM number: optional sign, digits, optional `.digits`,
/// optional exponent. Integers that fit `i64` stay exact.
pub(crate) fn parse_number(s: &str) -> Option<Num> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    if let Some(e) = exponent {
        if !all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)) {
            return None;
        }
    }
    if frac.is_none() && exponent.is_none() {
        if let Ok(i) = s.parse::<i64>() {
            return Some(Num::Int(i));
        }
    }
    // The grammar above excludes "inf"/"NaN"; huge exponents give infinity.
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Num::Float)
}

/// `true` / `false`, ASCII case-insensitive.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An address (`/32` or `/128` implied) or CIDR block; host bits are
/// cleared, as IAM treats `203.0.113.7/24` as `203.0.113.0/24`.
pub(crate) fn parse_cidr(s: &str) -> Option<Cidr> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let bits = |max: u32| -> Option<u32> {
        match prefix {
            None => Some(max),
            Some(p) if all_digits(p) && p.len() <= 3 => p.parse::<u32>().ok().filter(|b| *b <= max),
            Some(_) => None,
        }
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let b = bits(32)?;
            let mask = u32::MAX.checked_shl(32 - b).unwrap_or(0);
            Some(Cidr::V4 {
                net: u32::from(a) & mask,
                mask,
            })
        }
        IpAddr::V6(a) => {
            let b = bits(128)?;
            let mask = u128::MAX.checked_shl(128 - b).unwrap_or(0);
            Some(Cidr::V6 {
                net: u128::from(a) & mask,
                mask,
            })
        }
    }
}

/// Epoch seconds from a JSON number.
fn epoch_from_f64(f: f64) -> Option<Timestamp> {
    // Beyond ~3e11 years nothing is meaningful; the bound also keeps the
    // float-to-int conversion exact enough and free of saturation surprises.
    if !f.is_finite() || f.abs() > 1e15 {
        return None;
    }
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9) as u32;
    Some(Timestamp {
        secs: secs as i64,
        nanos: nanos.min(999_999_999),
    })
}

/// Nanoseconds from the digits after a decimal point (extra digits beyond
/// nanoseconds are ignored).
fn parse_fraction(f: &str) -> Option<u32> {
    if !all_digits(f) {
        return None;
    }
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = f.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    Some(nanos)
}

/// A date/time as IAM accepts it: epoch seconds (`1700000000`, optionally
/// with a fraction) or a W3C profile of ISO 8601: `YYYY-MM`, `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm`, `…:ss`, `…:ss.fff`, followed by `Z` or `±hh:mm`
/// (`±hhmm`, `±hh` also accepted; no zone means UTC). A bare four-digit
/// year is read as epoch seconds, since both spellings are all digits.
pub(crate) fn parse_date(s: &str) -> Option<Timestamp> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if all_digits(int) {
        return Some(Timestamp {
            secs: int.parse().ok()?,
            nanos: match frac {
                Some(f) => parse_fraction(f)?,
                None => 0,
            },
        });
    }
    parse_iso8601(s)
}

/// A byte cursor for the ISO 8601 parser.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let b = self.peek().filter(u8::is_ascii_digit)?;
            v = v * 10 + u32::from(b - b'0');
            self.pos += 1;
        }
        Some(v)
    }

    /// One or more digits (a fraction), as a str.
    fn digit_run(&mut self) -> Option<&str> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let run = self.bytes.get(start..self.pos)?;
        if run.is_empty() {
            return None;
        }
        std::str::from_utf8(run).ok()
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn parse_iso8601(s: &str) -> Option<Timestamp> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = i64::from(c.digits(4)?);
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(2)?;
    let day = if c.eat(b'-') { c.digits(2)? } else { 1 };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs_of_day: i64 = 0;
    let mut nanos = 0;
    let mut offset: i64 = 0;
    if c.eat(b'T') || c.eat(b't') {
        let hour = c.digits(2)?;
        if !c.eat(b':') {
            return None;
        }
        let minute = c.digits(2)?;
        let second = if c.eat(b':') { c.digits(2)? } else { 0 };
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        if c.eat(b'.') {
            nanos = parse_fraction(c.digit_run()?)?;
        }
        secs_of_day = i64::from(hour * 3600 + minute * 60 + second);
        let utc = c.eat(b'Z') || c.eat(b'z');
        if let (false, Some(sign @ (b'+' | b'-'))) = (utc, c.peek()) {
            c.pos += 1;
            let oh = c.digits(2)?;
            let om = if c.done() {
                0
            } else {
                c.eat(b':');
                c.digits(2)?
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            offset = if sign == b'+' { off } else { -off };
        }
    }
    if !c.done() {
        return None;
    }
    Some(Timestamp {
        secs: days_from_civil(year, month, day) * 86_400 + secs_of_day - offset,
        nanos,
    })
}

/// Renders epoch seconds as `YYYY-MM-DDThh:mm:ssZ` (UTC).
pub fn format_iso8601(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let sod = epoch_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn base64_digit(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes standard padded base64, handing each byte to `sink`; false if
/// the text is not base64 or `sink` returned false.
fn base64_for_each(s: &str, mut sink: impl FnMut(u8) -> bool) -> bool {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let chunks = bytes.len() / 4;
    for (i, chunk) in bytes.chunks_exact(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return false;
        }
        let mut acc: u32 = 0;
        for &c in chunk.iter().take(4 - pad) {
            let Some(d) = base64_digit(c) else {
                return false;
            };
            acc = (acc << 6) | d;
        }
        acc <<= 6 * pad as u32;
        let decoded = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        for &b in decoded.iter().take(3 - pad) {
            if !sink(b) {
                return false;
            }
        }
    }
    true
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    base64_for_each(s, |b| {
        out.push(b);
        true
    })
    .then_some(out)
}

/// Whether base64 `s` decodes to exactly `expected`, without allocating.
fn base64_equals(s: &str, expected: &[u8]) -> bool {
    let mut i = 0;
    let ok = base64_for_each(s, |b| {
        let same = expected.get(i) == Some(&b);
        i += 1;
        same
    });
    ok && i == expected.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        parse_date(s).unwrap().secs
    }

    #[test]
    fn dates() {
        assert_eq!(ts("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ts("1970-01-02"), 86_400);
        assert_eq!(ts("2020-01-01T00:00:00Z"), 1_577_836_800);
        assert_eq!(ts("2020-01-01T01:00:00+01:00"), 1_577_836_800);
        assert_eq!(ts("2019-12-31T23:00:00-01:00"), 1_577_836_800);
        assert_eq!(ts("2019-12-31T23:00-0100"), 1_577_836_800);
        assert_eq!(ts("2020-01-01T00:00Z"), 1_577_836_800);
        assert_eq!(ts("2020-01"), 1_577_836_800);
        assert_eq!(ts("2020-01-01T00:00:00"), 1_577_836_800);
        assert_eq!(ts("1577836800"), 1_577_836_800);
        assert_eq!(ts("2000-02-29"), 951_782_400);
        let t = parse_date("2020-01-01T00:00:00.5Z").unwrap();
        assert_eq!((t.secs, t.nanos), (1_577_836_800, 500_000_000));
        let t = parse_date("1577836800.25").unwrap();
        assert_eq!(t.nanos, 250_000_000);
        for bad in [
            "",
            "2020",
            "2020-13-01",
            "2019-02-29",
            "2020-01-32",
            "2020-1-01",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:60Z",
            "2020-01-01T00:00:00+25:00",
            "2020-01-01 00:00:00",
            "yesterday",
            "2020-01-01T00:00:00Zjunk",
            "2020-01-01T",
            "2020-01-01T00",
            "2020-01-01T00:00:00.Z",
            "-5",
            "1.2.3",
            "99999999999999999999",
        ] {
            if bad == "2020" {
                // All digits: epoch seconds, not a year.
                assert_eq!(ts(bad), 2020);
                continue;
            }
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn iso_round_trip() {
        for secs in [
            0,
            1,
            86_399,
            951_782_400,
            1_577_836_800,
            1_700_000_000,
            4_102_444_799,
        ] {
            assert_eq!(ts(&format_iso8601(secs)), secs);
        }
        assert_eq!(format_iso8601(1_577_836_800), "2020-01-01T00:00:00Z");
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(Num::Int(10)));
        assert_eq!(parse_number("-10"), Some(Num::Int(-10)));
        assert_eq!(parse_number("+7"), Some(Num::Int(7)));
        assert_eq!(parse_number("1.5"), Some(Num::Float(1.5)));
        assert_eq!(parse_number("1e3"), Some(Num::Float(1000.0)));
        assert_eq!(
            parse_number("9223372036854775808"),
            Some(Num::Float(9.223_372_036_854_776e18))
        );
        for bad in [
            "", "abc", "1.", ".5", "inf", "NaN", "1e", "--1", "1 ", "0x10", "1e999",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        assert_eq!(Num::Int(5).compare(Num::Float(5.0)), Some(Ordering::Equal));
        assert_eq!(
            Num::Int(i64::MAX).compare(Num::Int(i64::MAX - 1)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn cidrs() {
        let c = parse_cidr("203.0.113.7/24").unwrap();
        assert!(c.contains("203.0.113.200".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.9".parse().unwrap()));
        let c = parse_cidr("2001:DB8:1234:5678::/64").unwrap();
        assert!(c.contains("2001:db8:1234:5678:ffff::1".parse().unwrap()));
        assert!(!c.contains("2001:db8:1234:5679::1".parse().unwrap()));
        assert!(!c.contains("203.0.113.1".parse().unwrap()));
        assert!(parse_cidr("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(parse_cidr("::/0").unwrap().contains("::1".parse().unwrap()));
        for bad in [
            "",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/-1",
            "1.2.3/24",
            "::/129",
            "x",
            "1.2.3.4/0024",
            "1.2.3.4/ 8",
        ] {
            assert!(parse_cidr(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(
            base64_decode("QmluYXJ5VmFsdWVJbkJhc2U2NA==").unwrap(),
            b"BinaryValueInBase64"
        );
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        for bad in ["Y", "YQ=", "Y===", "YQ==YQ==", "Y!==", "A=B="] {
            assert!(base64_decode(bad).is_none(), "{bad}");
        }
        assert!(base64_equals("YWI=", b"ab"));
        assert!(!base64_equals("YWI=", b"a"));
        assert!(!base64_equals("YQ==", b"ab"));
    }

    #[test]
    fn ignore_case() {
        assert!(eq_ignore_case("examplapp", "ExamplApp"));
        assert!(!eq_ignore_case("examplapp", "ExamplAp"));
        assert!(eq_ignore_case("straße", "STRAßE"));
        assert!(eq_ignore_case("ärger", "ÄRGER"));
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("ForAllValues:StringNotLikeIfExists").is_some());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForAnyValue:Null").is_none());
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("StringEqualz").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
        assert!(Operator::parse("IfExists").is_none());
    }
}
