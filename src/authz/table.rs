//! The table-driven suite: every row is `(name, policy JSON, request,
//! expected Evaluation or expected error)`. One `#[test]` per group; a
//! failing group lists every failing row by name with expected and actual
//! results. Rows assert all three [`Evaluation`] flags exactly, and error
//! rows assert the [`PolicyError`] variant and a fragment of its message.
//!
//! Row lists are `#[rustfmt::skip]` so that each row stays on one line.
//!
//! The default request is `arn:aws:iam::111122223333:user/alice` calling
//! `kms:Decrypt` on key `KEY` (account 111122223333) with no condition keys.

use std::collections::HashSet;

use super::{Evaluation, Policy, PolicyError, PolicyKind, RequestContext, ValueKind};

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";
const ROOT_ARN: &str = "arn:aws:iam::111122223333:root";
const CAROL: &str = "arn:aws:iam::444455556666:user/carol";
const ADMIN_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Admin/session-1";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";

const NONE: Evaluation = Evaluation {
    explicit_deny: false,
    allow_principal: false,
    allow_account_root: false,
};
const ALLOW: Evaluation = Evaluation {
    allow_principal: true,
    ..NONE
};
const ROOT: Evaluation = Evaluation {
    allow_account_root: true,
    ..NONE
};
const DENY: Evaluation = Evaluation {
    explicit_deny: true,
    ..NONE
};
const DENY_AND_ALLOW: Evaluation = Evaluation {
    explicit_deny: true,
    allow_principal: true,
    ..NONE
};
const ALLOW_AND_ROOT: Evaluation = Evaluation {
    allow_principal: true,
    allow_account_root: true,
    ..NONE
};

/// A condition-key value in a request row.
#[derive(Clone, Copy, Debug)]
enum V {
    /// Single-valued.
    S(&'static str),
    /// Multi-valued (possibly empty).
    M(&'static [&'static str]),
}
use V::{M, S};

/// The request of a row.
#[derive(Clone, Debug)]
struct Req {
    principal: &'static str,
    action: &'static str,
    resource: &'static str,
    keys: Vec<(&'static str, V)>,
    encryption_context: Option<&'static [(&'static str, &'static str)]>,
}

fn req() -> Req {
    Req {
        principal: ALICE,
        action: "kms:Decrypt",
        resource: KEY,
        keys: Vec::new(),
        encryption_context: None,
    }
}

impl Req {
    fn by(mut self, principal: &'static str) -> Self {
        self.principal = principal;
        self
    }

    fn act(mut self, action: &'static str) -> Self {
        self.action = action;
        self
    }

    fn on(mut self, resource: &'static str) -> Self {
        self.resource = resource;
        self
    }

    fn key(mut self, key: &'static str, value: V) -> Self {
        self.keys.push((key, value));
        self
    }

    fn ec(mut self, pairs: &'static [(&'static str, &'static str)]) -> Self {
        self.encryption_context = Some(pairs);
        self
    }

    fn context(&self) -> RequestContext<'static> {
        let mut ctx = RequestContext::new(self.principal, self.action, self.resource);
        if let Some(pairs) = self.encryption_context {
            ctx.set_encryption_context(pairs.iter().copied());
        }
        for (key, value) in &self.keys {
            match *value {
                S(v) => ctx.set(*key, v),
                M(vs) => ctx.set_multi(*key, vs.iter().copied()),
            };
        }
        ctx
    }
}

/// What a row expects.
enum Expect {
    Eval(Evaluation),
    /// The variant (as a predicate) and a fragment of the message.
    Error(fn(&PolicyError) -> bool, &'static str),
}

struct Case {
    name: &'static str,
    kind: PolicyKind,
    policy: String,
    req: Req,
    expect: Expect,
}

fn case(name: &'static str, policy: impl Into<String>, req: Req, want: Evaluation) -> Case {
    Case {
        name,
        kind: PolicyKind::Any,
        policy: policy.into(),
        req,
        expect: Expect::Eval(want),
    }
}

fn error(
    name: &'static str,
    policy: impl Into<String>,
    is: fn(&PolicyError) -> bool,
    fragment: &'static str,
) -> Case {
    Case {
        name,
        kind: PolicyKind::Any,
        policy: policy.into(),
        req: req(),
        expect: Expect::Error(is, fragment),
    }
}

/// Runs rows and returns one line per failing row.
fn failures(cases: &[Case]) -> Vec<String> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for c in cases {
        if !names.insert(c.name) {
            out.push(format!("{}: duplicate case name", c.name));
        }
        match (&c.expect, Policy::parse_as(&c.policy, c.kind)) {
            (Expect::Eval(want), Ok(policy)) => {
                let got = policy.evaluate(&c.req.context());
                if got != *want {
                    out.push(format!("{}: expected {want:?}, got {got:?}", c.name));
                }
            }
            (Expect::Eval(_), Err(e)) => {
                out.push(format!("{}: unexpected parse error: {e}", c.name))
            }
            (Expect::Error(is, fragment), Err(e)) => {
                if !is(&e) || !e.to_string().contains(fragment) {
                    out.push(format!(
                        "{}: wrong error {e:?} ({e}); expected message containing {fragment:?}",
                        c.name
                    ));
                }
            }
            (Expect::Error(..), Ok(_)) => {
                out.push(format!("{}: parsed, expected an error", c.name))
            }
        }
    }
    out
}

fn run(group: &str, cases: &[Case]) {
    let failed = failures(cases);
    assert!(
        failed.is_empty(),
        "{} of {} {group} cases failed:\n  {}",
        failed.len(),
        cases.len(),
        failed.join("\n  ")
    );
}

/// A policy whose only statement allows everything to everyone under
/// `condition` (a JSON `Condition` object): evaluates to `ALLOW` exactly
/// when the condition holds.
fn cond_policy(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"UnderTest","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{condition}}}]}}"#
    )
}

/// A one-statement policy from the statement's JSON members.
fn stmt(members: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{members}}}]}}"#)
}

/// A policy from several statements' JSON members.
fn stmts(members: &[&str]) -> String {
    let list: Vec<String> = members.iter().map(|m| format!("{{{m}}}")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        list.join(",")
    )
}

type CondRow = (
    &'static str,
    &'static str,
    &'static [(&'static str, V)],
    bool,
);

/// Condition-operator rows: `(name, Condition object, request keys, holds)`.
#[rustfmt::skip]
const CONDITION_ROWS: &[CondRow] = &[
    // --- StringEquals / StringNotEquals -------------------------------
    ("string_equals_match", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#, &[("kms:CallerAccount", S("111122223333"))], true),
    ("string_equals_mismatch", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#, &[("kms:CallerAccount", S("444455556666"))], false),
    ("string_equals_value_is_case_sensitive", r#"{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#, &[("kms:KeySpec", S("symmetric_default"))], false),
    ("string_equals_missing_key_is_false", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#, &[], false),
    ("string_equals_values_are_ored", r#"{"StringEquals":{"kms:KeyUsage":["SIGN_VERIFY","ENCRYPT_DECRYPT"]}}"#, &[("kms:KeyUsage", S("ENCRYPT_DECRYPT"))], true),
    ("string_equals_keys_are_anded_all_match", r#"{"StringEquals":{"kms:KeySpec":"RSA_2048","kms:KeyUsage":"SIGN_VERIFY"}}"#, &[("kms:KeySpec", S("RSA_2048")), ("kms:KeyUsage", S("SIGN_VERIFY"))], true),
    ("string_equals_keys_are_anded_one_fails", r#"{"StringEquals":{"kms:KeySpec":"RSA_2048","kms:KeyUsage":"SIGN_VERIFY"}}"#, &[("kms:KeySpec", S("RSA_2048")), ("kms:KeyUsage", S("ENCRYPT_DECRYPT"))], false),
    ("string_equals_keys_are_anded_one_missing", r#"{"StringEquals":{"kms:KeySpec":"RSA_2048","kms:KeyUsage":"SIGN_VERIFY"}}"#, &[("kms:KeySpec", S("RSA_2048"))], false),
    ("key_name_case_insensitive_in_policy", r#"{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}"#, &[("kms:CallerAccount", S("111122223333"))], true),
    ("key_name_case_insensitive_in_request", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#, &[("Kms:CALLERaccount", S("111122223333"))], true),
    ("string_equals_json_number_value", r#"{"StringEquals":{"kms:RotationPeriodInDays":365}}"#, &[("kms:RotationPeriodInDays", S("365"))], true),
    ("string_equals_json_bool_value", r#"{"StringEquals":{"kms:MultiRegion":true}}"#, &[("kms:MultiRegion", S("true"))], true),
    ("string_equals_has_no_wildcards", r#"{"StringEquals":{"kms:RequestAlias":"alias/app-*"}}"#, &[("kms:RequestAlias", S("alias/app-prod"))], false),
    ("string_equals_literal_star", r#"{"StringEquals":{"kms:RequestAlias":"alias/app-*"}}"#, &[("kms:RequestAlias", S("alias/app-*"))], true),
    ("string_equals_empty_string", r#"{"StringEquals":{"k":""}}"#, &[("k", S(""))], true),
    ("string_not_equals_other_value", r#"{"StringNotEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}"#, &[("kms:EncryptionAlgorithm", S("RSAES_OAEP_SHA_1"))], true),
    ("string_not_equals_same_value", r#"{"StringNotEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}"#, &[("kms:EncryptionAlgorithm", S("RSAES_OAEP_SHA_256"))], false),
    ("string_not_equals_missing_key_is_true", r#"{"StringNotEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}"#, &[], true),
    ("string_not_equals_matches_none_of_values", r#"{"StringNotEquals":{"k":["a","b"]}}"#, &[("k", S("c"))], true),
    ("string_not_equals_matches_one_of_values", r#"{"StringNotEquals":{"k":["a","b"]}}"#, &[("k", S("b"))], false),
    ("string_not_equals_is_case_sensitive", r#"{"StringNotEquals":{"k":"Prod"}}"#, &[("k", S("prod"))], true),
    // --- StringEqualsIgnoreCase / StringNotEqualsIgnoreCase ------------
    ("ignore_case_match", r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ExampleApp"}}"#, &[("aws:PrincipalTag/team", S("EXAMPLEAPP"))], true),
    ("ignore_case_mismatch", r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ExampleApp"}}"#, &[("aws:PrincipalTag/team", S("ExampleAp"))], false),
    ("ignore_case_missing_key", r#"{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"ExampleApp"}}"#, &[], false),
    ("ignore_case_unicode", r#"{"StringEqualsIgnoreCase":{"k":"ÄRGER"}}"#, &[("k", S("ärger"))], true),
    ("ignore_case_values_ored", r#"{"StringEqualsIgnoreCase":{"k":["dev","test"]}}"#, &[("k", S("TEST"))], true),
    ("not_ignore_case_equal_but_case", r#"{"StringNotEqualsIgnoreCase":{"k":"Prod"}}"#, &[("k", S("PROD"))], false),
    ("not_ignore_case_different", r#"{"StringNotEqualsIgnoreCase":{"k":"Prod"}}"#, &[("k", S("dev"))], true),
    ("not_ignore_case_missing_key", r#"{"StringNotEqualsIgnoreCase":{"k":"Prod"}}"#, &[], true),
    // --- StringLike / StringNotLike ------------------------------------
    ("like_trailing_star", r#"{"StringLike":{"kms:RequestAlias":"alias/app-*"}}"#, &[("kms:RequestAlias", S("alias/app-prod"))], true),
    ("like_trailing_star_no_match", r#"{"StringLike":{"kms:RequestAlias":"alias/app-*"}}"#, &[("kms:RequestAlias", S("alias/other"))], false),
    ("like_star_matches_empty", r#"{"StringLike":{"kms:RequestAlias":"alias/app-*"}}"#, &[("kms:RequestAlias", S("alias/app-"))], true),
    ("like_leading_star", r#"{"StringLike":{"k":"*-prod"}}"#, &[("k", S("billing-prod"))], true),
    ("like_question_one_char", r#"{"StringLike":{"k":"v?"}}"#, &[("k", S("v1"))], true),
    ("like_question_not_two_chars", r#"{"StringLike":{"k":"v?"}}"#, &[("k", S("v12"))], false),
    ("like_question_not_zero_chars", r#"{"StringLike":{"k":"v?"}}"#, &[("k", S("v"))], false),
    ("like_literal_segments_in_order", r#"{"StringLike":{"k":"a*b*c"}}"#, &[("k", S("aXXbYYc"))], true),
    ("like_literal_segments_out_of_order", r#"{"StringLike":{"k":"a*b*c"}}"#, &[("k", S("acb"))], false),
    ("like_is_case_sensitive", r#"{"StringLike":{"k":"App*"}}"#, &[("k", S("app1"))], false),
    ("like_values_ored", r#"{"StringLike":{"k":["x*","*y"]}}"#, &[("k", S("zy"))], true),
    ("like_star_only_matches_empty_value", r#"{"StringLike":{"k":"*"}}"#, &[("k", S(""))], true),
    ("like_exact_without_wildcards", r#"{"StringLike":{"k":"abc"}}"#, &[("k", S("abcd"))], false),
    ("like_missing_key", r#"{"StringLike":{"k":"*"}}"#, &[], false),
    ("like_mixed_wildcards", r#"{"StringLike":{"k":"*-??-*"}}"#, &[("k", S("app-eu-west"))], true),
    ("not_like_matching_pattern", r#"{"StringNotLike":{"k":"test-*"}}"#, &[("k", S("test-1"))], false),
    ("not_like_other_value", r#"{"StringNotLike":{"k":"test-*"}}"#, &[("k", S("prod-1"))], true),
    ("not_like_missing_key_is_true", r#"{"StringNotLike":{"k":"test-*"}}"#, &[], true),
    ("not_like_matches_none_of_patterns", r#"{"StringNotLike":{"k":["a*","b*"]}}"#, &[("k", S("c1"))], true),
    ("not_like_matches_one_of_patterns", r#"{"StringNotLike":{"k":["a*","b*"]}}"#, &[("k", S("b1"))], false),
    // --- Numeric -------------------------------------------------------
    ("numeric_equals", r#"{"NumericEquals":{"kms:RotationPeriodInDays":"365"}}"#, &[("kms:RotationPeriodInDays", S("365"))], true),
    ("numeric_equals_different", r#"{"NumericEquals":{"kms:RotationPeriodInDays":"365"}}"#, &[("kms:RotationPeriodInDays", S("366"))], false),
    ("numeric_equals_decimal_form", r#"{"NumericEquals":{"n":"90"}}"#, &[("n", S("90.0"))], true),
    ("numeric_not_equals_different", r#"{"NumericNotEquals":{"n":"90"}}"#, &[("n", S("91"))], true),
    ("numeric_not_equals_same", r#"{"NumericNotEquals":{"n":"90"}}"#, &[("n", S("90"))], false),
    ("numeric_not_equals_missing_is_true", r#"{"NumericNotEquals":{"n":"90"}}"#, &[], true),
    ("numeric_less_than_below", r#"{"NumericLessThan":{"n":"100"}}"#, &[("n", S("99"))], true),
    ("numeric_less_than_boundary", r#"{"NumericLessThan":{"n":"100"}}"#, &[("n", S("100"))], false),
    ("numeric_less_than_equals_boundary", r#"{"NumericLessThanEquals":{"n":"100"}}"#, &[("n", S("100"))], true),
    ("numeric_less_than_equals_above", r#"{"NumericLessThanEquals":{"n":"100"}}"#, &[("n", S("101"))], false),
    ("numeric_greater_than_boundary", r#"{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}"#, &[("kms:ScheduleKeyDeletionPendingWindowInDays", S("7"))], false),
    ("numeric_greater_than_above", r#"{"NumericGreaterThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"7"}}"#, &[("kms:ScheduleKeyDeletionPendingWindowInDays", S("8"))], true),
    ("numeric_greater_than_equals_boundary", r#"{"NumericGreaterThanEquals":{"n":"7"}}"#, &[("n", S("7"))], true),
    ("numeric_greater_than_equals_below", r#"{"NumericGreaterThanEquals":{"n":"7"}}"#, &[("n", S("6"))], false),
    ("numeric_negative", r#"{"NumericLessThan":{"n":"0"}}"#, &[("n", S("-1"))], true),
    ("numeric_decimal_policy_value", r#"{"NumericGreaterThan":{"n":"1.5"}}"#, &[("n", S("2"))], true),
    ("numeric_decimal_request_value", r#"{"NumericLessThan":{"n":"2"}}"#, &[("n", S("1.999"))], true),
    ("numeric_json_number_value", r#"{"NumericLessThanEquals":{"n":365}}"#, &[("n", S("30"))], true),
    ("numeric_values_ored", r#"{"NumericEquals":{"n":["90","180"]}}"#, &[("n", S("180"))], true),
    ("numeric_request_not_a_number", r#"{"NumericLessThan":{"n":"10"}}"#, &[("n", S("abc"))], false),
    ("numeric_not_equals_request_not_a_number", r#"{"NumericNotEquals":{"n":"10"}}"#, &[("n", S("abc"))], true),
    ("numeric_missing_key", r#"{"NumericLessThan":{"n":"10"}}"#, &[], false),
    ("numeric_large_integers_exact", r#"{"NumericLessThan":{"n":"9007199254740993"}}"#, &[("n", S("9007199254740992"))], true),
    // --- Date ----------------------------------------------------------
    ("date_less_than_before", r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2024-12-31T23:59:59Z"))], true),
    ("date_less_than_boundary", r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2025-01-01T00:00:00Z"))], false),
    ("date_less_than_equals_boundary", r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2025-01-01T00:00:00Z"))], true),
    ("date_less_than_equals_after", r#"{"DateLessThanEquals":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2025-01-01T00:00:01Z"))], false),
    ("date_greater_than_after", r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2020-01-01T00:00:01Z"))], true),
    ("date_greater_than_boundary", r#"{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2020-01-01T00:00:00Z"))], false),
    ("date_greater_than_equals_boundary", r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2020-01-01T00:00:00Z"))], true),
    ("date_greater_than_equals_before", r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", S("2019-12-31T23:59:59Z"))], false),
    ("date_equals_across_time_zones", r#"{"DateEquals":{"d":"2020-01-01T00:00:00Z"}}"#, &[("d", S("2020-01-01T01:00:00+01:00"))], true),
    ("date_equals_epoch_policy_iso_request", r#"{"DateEquals":{"d":"1577836800"}}"#, &[("d", S("2020-01-01T00:00:00Z"))], true),
    ("date_less_than_equals_epoch_request", r#"{"DateLessThanEquals":{"aws:EpochTime":"2020-01-01T00:00:00Z"}}"#, &[("aws:EpochTime", S("1577836800"))], true),
    ("date_json_number_epoch", r#"{"DateGreaterThan":{"aws:EpochTime":1577836800}}"#, &[("aws:EpochTime", S("2021-01-01T00:00:00Z"))], true),
    ("date_not_equals_different_day", r#"{"DateNotEquals":{"d":"2020-01-01"}}"#, &[("d", S("2020-01-02"))], true),
    ("date_not_equals_same_instant", r#"{"DateNotEquals":{"d":"2020-01-01"}}"#, &[("d", S("2020-01-01T00:00:00Z"))], false),
    ("date_not_equals_missing_is_true", r#"{"DateNotEquals":{"d":"2020-01-01"}}"#, &[], true),
    ("date_fractional_seconds", r#"{"DateLessThan":{"d":"2020-01-01T00:00:00.5Z"}}"#, &[("d", S("2020-01-01T00:00:00.25Z"))], true),
    ("date_leap_day", r#"{"DateEquals":{"d":"2024-02-29T12:00:00Z"}}"#, &[("d", S("2024-02-29T12:00:00Z"))], true),
    ("date_request_unparseable", r#"{"DateLessThan":{"d":"2025-01-01T00:00:00Z"}}"#, &[("d", S("tomorrow"))], false),
    ("date_missing_key", r#"{"DateLessThan":{"d":"2025-01-01T00:00:00Z"}}"#, &[], false),
    // --- Bool ----------------------------------------------------------
    ("bool_true_matches_true", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", S("true"))], true),
    ("bool_true_vs_false", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", S("false"))], false),
    ("bool_false_matches_false", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", S("false"))], true),
    ("bool_false_vs_true", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[("aws:SecureTransport", S("true"))], false),
    ("bool_json_boolean", r#"{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":true}}"#, &[("kms:BypassPolicyLockoutSafetyCheck", S("true"))], true),
    ("bool_request_case_insensitive", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", S("True"))], true),
    ("bool_missing_key", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[], false),
    ("bool_request_not_a_bool", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", S("yes"))], false),
    // --- BinaryEquals --------------------------------------------------
    ("binary_equals", r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#, &[("k", S("QmluYXJ5VmFsdWVJbkJhc2U2NA=="))], true),
    ("binary_different", r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}"#, &[("k", S("YWJj"))], false),
    ("binary_request_not_base64", r#"{"BinaryEquals":{"k":"YWJj"}}"#, &[("k", S("abc"))], false),
    ("binary_missing_key", r#"{"BinaryEquals":{"k":"YWJj"}}"#, &[], false),
    // --- IpAddress / NotIpAddress --------------------------------------
    ("ip_v4_in_cidr", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("203.0.113.5"))], true),
    ("ip_v4_outside_cidr", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("203.0.114.5"))], false),
    ("ip_v4_last_address_of_cidr", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("203.0.113.255"))], true),
    ("ip_host_bits_ignored", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.77/24"}}"#, &[("aws:SourceIp", S("203.0.113.1"))], true),
    ("ip_bare_address_is_slash_32", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}"#, &[("aws:SourceIp", S("203.0.113.5"))], true),
    ("ip_bare_address_other_host", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}"#, &[("aws:SourceIp", S("203.0.113.6"))], false),
    ("ip_v6_in_cidr", r#"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#, &[("aws:SourceIp", S("2001:db8:1234:5678::1"))], true),
    ("ip_v6_outside_cidr", r#"{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}"#, &[("aws:SourceIp", S("2001:db8:1234:5679::1"))], false),
    ("ip_v4_rule_v6_request", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("2001:db8::1"))], false),
    ("ip_mixed_v4_v6_list", r#"{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8::/32"]}}"#, &[("aws:SourceIp", S("2001:db8::5"))], true),
    ("ip_v4_mapped_v6_request", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("::ffff:203.0.113.9"))], true),
    ("ip_zero_prefix_matches_all_v4", r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[("aws:SourceIp", S("8.8.8.8"))], true),
    ("ip_request_not_an_ip", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", S("not-an-ip"))], false),
    ("ip_missing_key", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[], false),
    ("not_ip_outside", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", S("192.168.1.1"))], true),
    ("not_ip_inside", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", S("10.1.2.3"))], false),
    ("not_ip_inside_one_of_list", r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","fd00::/8"]}}"#, &[("aws:SourceIp", S("fd12::1"))], false),
    ("not_ip_missing_key_is_true", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
    // --- ARN -----------------------------------------------------------
    ("arn_like_account_wildcard", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:role/Admin"))], true),
    ("arn_like_partition_wildcard", r#"{"ArnLike":{"aws:PrincipalArn":"arn:*:iam::111122223333:role/Admin"}}"#, &[("aws:PrincipalArn", S("arn:aws-cn:iam::111122223333:role/Admin"))], true),
    ("arn_like_service_wildcard", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:*:us-east-1:111122223333:*"}}"#, &[("aws:SourceArn", S("arn:aws:sns:us-east-1:111122223333:topic"))], true),
    ("arn_like_region_wildcard", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:kms:*:111122223333:key/*"}}"#, &[("aws:SourceArn", S(KEY))], true),
    ("arn_like_wildcard_does_not_span_colons", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#, &[("aws:SourceArn", S("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"))], false),
    ("string_like_same_pattern_spans_colons", r#"{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}"#, &[("aws:SourceArn", S("arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"))], true),
    ("arn_like_resource_wildcard", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:role/path/Admin"))], true),
    ("arn_like_question_mark", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::11112222333?:root"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:root"))], true),
    ("arn_like_is_case_sensitive", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/admin"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:role/Admin"))], false),
    ("arn_like_request_too_few_components", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam"))], false),
    ("arn_equals_exact", r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Admin"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:role/Admin"))], true),
    ("arn_equals_takes_wildcards_like_arn_like", r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:role/X"))], true),
    ("arn_not_like_matching", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:*"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::111122223333:user/bob"))], false),
    ("arn_not_like_other_account", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:*"}}"#, &[("aws:PrincipalArn", S("arn:aws:iam::444455556666:user/bob"))], true),
    ("arn_not_equals_missing_is_true", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:root"}}"#, &[], true),
    ("arn_like_missing_key", r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:*"}}"#, &[], false),
    // --- ...IfExists ---------------------------------------------------
    ("if_exists_missing_is_true", r#"{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#, &[], true),
    ("if_exists_present_match", r#"{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#, &[("kms:KeySpec", S("SYMMETRIC_DEFAULT"))], true),
    ("if_exists_present_mismatch", r#"{"StringEqualsIfExists":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}"#, &[("kms:KeySpec", S("RSA_2048"))], false),
    ("not_equals_if_exists_missing_is_true", r#"{"StringNotEqualsIfExists":{"k":"a"}}"#, &[], true),
    ("not_equals_if_exists_present_equal", r#"{"StringNotEqualsIfExists":{"k":"a"}}"#, &[("k", S("a"))], false),
    ("like_if_exists_missing", r#"{"StringLikeIfExists":{"k":"t1.*"}}"#, &[], true),
    ("like_if_exists_present_no_match", r#"{"StringLikeIfExists":{"k":"t1.*"}}"#, &[("k", S("m5.large"))], false),
    ("numeric_if_exists_missing", r#"{"NumericLessThanIfExists":{"n":"365"}}"#, &[], true),
    ("numeric_if_exists_present_above", r#"{"NumericLessThanIfExists":{"n":"365"}}"#, &[("n", S("500"))], false),
    ("date_if_exists_present_match", r#"{"DateLessThanIfExists":{"d":"2030-01-01"}}"#, &[("d", S("2029-06-01T00:00:00Z"))], true),
    ("ip_if_exists_missing", r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
    ("ip_if_exists_present_outside", r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", S("11.0.0.1"))], false),
    ("bool_if_exists_missing", r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#, &[], true),
    ("arn_if_exists_missing", r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::b"}}"#, &[], true),
    ("binary_if_exists_missing", r#"{"BinaryEqualsIfExists":{"k":"YWJj"}}"#, &[], true),
    // --- Null ----------------------------------------------------------
    ("null_true_key_absent", r#"{"Null":{"kms:GranteePrincipal":"true"}}"#, &[], true),
    ("null_true_key_present", r#"{"Null":{"kms:GranteePrincipal":"true"}}"#, &[("kms:GranteePrincipal", S(ALICE))], false),
    ("null_false_key_present", r#"{"Null":{"kms:EncryptionContextKeys":"false"}}"#, &[("kms:EncryptionContextKeys", M(&["a"]))], true),
    ("null_false_key_absent", r#"{"Null":{"kms:EncryptionContextKeys":"false"}}"#, &[], false),
    ("null_json_boolean", r#"{"Null":{"kms:BypassPolicyLockoutSafetyCheck":true}}"#, &[], true),
    ("null_true_empty_multi_valued_is_absent", r#"{"Null":{"aws:TagKeys":"true"}}"#, &[("aws:TagKeys", M(&[]))], true),
    ("null_false_empty_string_is_present", r#"{"Null":{"k":"false"}}"#, &[("k", S(""))], true),
    ("null_both_values_always_true", r#"{"Null":{"k":["true","false"]}}"#, &[("k", S("x"))], true),
    ("null_key_name_case_insensitive", r#"{"Null":{"AWS:TOKENISSUETIME":"false"}}"#, &[("aws:TokenIssueTime", S("2024-01-01T00:00:00Z"))], true),
    // --- ForAnyValue / ForAllValues ------------------------------------
    ("for_any_value_one_matches", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[("kms:EncryptionContextKeys", M(&["AppName", "Project"]))], true),
    ("for_any_value_none_match", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[("kms:EncryptionContextKeys", M(&["Project"]))], false),
    ("for_any_value_missing_is_false", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[], false),
    ("for_any_value_empty_is_false", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[("kms:EncryptionContextKeys", M(&[]))], false),
    ("for_any_value_single_valued_key", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[("kms:EncryptionContextKeys", S("AppName"))], true),
    ("for_any_value_is_case_sensitive", r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"AppName"}}"#, &[("kms:EncryptionContextKeys", M(&["appname"]))], false),
    ("for_any_value_ignore_case", r#"{"ForAnyValue:StringEqualsIgnoreCase":{"kms:EncryptionContextKeys":"appname"}}"#, &[("kms:EncryptionContextKeys", M(&["AppName"]))], true),
    ("for_any_value_like", r#"{"ForAnyValue:StringLike":{"aws:TagKeys":["ID","Post*"]}}"#, &[("aws:TagKeys", M(&["UserName", "PostDateTime"]))], true),
    ("for_all_values_all_listed", r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]}}"#, &[("kms:EncryptionContextKeys", M(&["Department", "Project"]))], true),
    ("for_all_values_subset", r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]}}"#, &[("kms:EncryptionContextKeys", M(&["Project"]))], true),
    ("for_all_values_one_unlisted", r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]}}"#, &[("kms:EncryptionContextKeys", M(&["Department", "Other"]))], false),
    ("for_all_values_missing_is_true", r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department"]}}"#, &[], true),
    ("for_all_values_empty_is_true", r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department"]}}"#, &[("kms:EncryptionContextKeys", M(&[]))], true),
    ("for_all_values_like", r#"{"ForAllValues:StringLike":{"aws:TagKeys":"key1*"}}"#, &[("aws:TagKeys", M(&["key1a", "key1b"]))], true),
    ("for_all_values_not_like_none_match", r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}"#, &[("aws:TagKeys", M(&["key2", "key3"]))], true),
    ("for_all_values_not_like_one_matches", r#"{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}"#, &[("aws:TagKeys", M(&["key1", "key2"]))], false),
    ("for_all_values_not_equals_missing_is_true", r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#, &[], true),
    ("for_any_value_not_equals_one_unlisted", r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#, &[("aws:TagKeys", M(&["a", "c"]))], true),
    ("for_any_value_not_equals_all_listed", r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#, &[("aws:TagKeys", M(&["a", "b"]))], false),
    ("for_any_value_not_equals_missing_is_false", r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["a","b"]}}"#, &[], false),
    ("for_any_value_if_exists_missing_is_true", r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}"#, &[], true),
    ("for_all_values_numeric_all_below", r#"{"ForAllValues:NumericLessThan":{"n":"10"}}"#, &[("n", M(&["1", "2", "3"]))], true),
    ("for_all_values_numeric_one_above", r#"{"ForAllValues:NumericLessThan":{"n":"10"}}"#, &[("n", M(&["1", "20"]))], false),
    ("for_any_value_ip", r#"{"ForAnyValue:IpAddress":{"ips":"10.0.0.0/8"}}"#, &[("ips", M(&["192.168.0.1", "10.9.9.9"]))], true),
    ("for_all_values_arn_like", r#"{"ForAllValues:ArnLike":{"kms:ResourceAliases":"arn:aws:kms:*:111122223333:alias/app-*"}}"#, &[("kms:ResourceAliases", M(&["arn:aws:kms:us-east-1:111122223333:alias/app-a", "arn:aws:kms:us-east-1:111122223333:alias/other"]))], false),
    ("plain_operator_on_multi_valued_any", r#"{"StringEquals":{"aws:TagKeys":"b"}}"#, &[("aws:TagKeys", M(&["a", "b"]))], true),
    ("plain_negated_on_multi_valued_one_equal", r#"{"StringNotEquals":{"aws:TagKeys":"b"}}"#, &[("aws:TagKeys", M(&["a", "b"]))], false),
    ("plain_negated_on_multi_valued_none_equal", r#"{"StringNotEquals":{"aws:TagKeys":"b"}}"#, &[("aws:TagKeys", M(&["a", "c"]))], true),
    // --- several operators --------------------------------------------
    ("operators_anded_both_true", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"},"Bool":{"aws:SecureTransport":"true"}}"#, &[("kms:CallerAccount", S("111122223333")), ("aws:SecureTransport", S("true"))], true),
    ("operators_anded_one_false", r#"{"StringEquals":{"kms:CallerAccount":"111122223333"},"Bool":{"aws:SecureTransport":"true"}}"#, &[("kms:CallerAccount", S("111122223333")), ("aws:SecureTransport", S("false"))], false),
    ("operators_anded_with_negation", r#"{"StringLike":{"k":"a*"},"StringNotLike":{"k":"ab*"}}"#, &[("k", S("ac"))], true),
    ("same_key_under_two_operators", r#"{"NumericGreaterThanEquals":{"n":"90"},"NumericLessThanEquals":{"n":"365"}}"#, &[("n", S("400"))], false),
    ("empty_condition_object", r#"{}"#, &[], true),
];

#[test]
fn condition_operators() {
    let cases: Vec<Case> = CONDITION_ROWS
        .iter()
        .map(|&(name, condition, keys, holds)| {
            let mut r = req();
            r.keys = keys.to_vec();
            case(
                name,
                cond_policy(condition),
                r,
                if holds { ALLOW } else { NONE },
            )
        })
        .collect();
    run("condition", &cases);
}

#[rustfmt::skip]
fn encryption_context_cases() -> Vec<Case> {
    const APP: &[(&str, &str)] = &[("AppName", "ExampleApp")];
    const APP_AND_STAGE: &[(&str, &str)] = &[("AppName", "ExampleApp"), ("Stage", "Restricted")];
    const CASE_TWINS: &[(&str, &str)] = &[("Stage", "Test"), ("stage", "Restricted")];
    let deny_restricted = stmts(&[
        r#""Effect":"Allow","Principal":"*","Action":"kms:*""#,
        r#""Effect":"Deny","Principal":"*","Action":"kms:*","Condition":{"StringEquals":{"kms:EncryptionContext:Stage":"Restricted"}}"#,
    ]);
    let only_app = cond_policy(
        r#"{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"},"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["AppName"]}}"#,
    );
    vec![
        case("ec_pair_matches", cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:AppName":"ExampleApp"}}"#), req().ec(APP), ALLOW),
        case("ec_context_key_is_case_insensitive", cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:appname":"ExampleApp"}}"#), req().ec(APP), ALLOW),
        case("ec_prefix_is_case_insensitive", cond_policy(r#"{"StringEquals":{"KMS:ENCRYPTIONCONTEXT:AppName":"ExampleApp"}}"#), req().ec(APP), ALLOW),
        case("ec_value_is_case_sensitive", cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:AppName":"exampleapp"}}"#), req().ec(APP), NONE),
        case("ec_value_ignore_case_operator", cond_policy(r#"{"StringEqualsIgnoreCase":{"kms:EncryptionContext:AppName":"exampleapp"}}"#), req().ec(APP), ALLOW),
        case("ec_other_pair_absent", cond_policy(r#"{"StringEquals":{"kms:EncryptionContext:Stage":"Prod"}}"#), req().ec(APP), NONE),
        case("ec_keys_condition_is_case_sensitive", cond_policy(r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"appname"}}"#), req().ec(APP), NONE),
        case("ec_only_listed_pairs_exact", only_app.clone(), req().ec(APP), ALLOW),
        case("ec_only_listed_pairs_extra_pair", only_app.clone(), req().ec(APP_AND_STAGE), NONE),
        case("ec_only_listed_pairs_no_context", only_app, req(), NONE),
        case("ec_require_any_context_null_false", cond_policy(r#"{"Null":{"kms:EncryptionContextKeys":"false"}}"#), req().ec(APP), ALLOW),
        case("ec_require_any_context_empty", cond_policy(r#"{"Null":{"kms:EncryptionContextKeys":"false"}}"#), req().ec(&[]), NONE),
        case("ec_deny_restricted_pair", deny_restricted.clone(), req().ec(APP_AND_STAGE), DENY_AND_ALLOW),
        case("ec_deny_restricted_other_value", deny_restricted.clone(), req().ec(APP), ALLOW),
        // Pairs differing only in key case fold into one multi-valued key:
        // a Deny naming either value still applies.
        case("ec_case_twin_keys_still_denied", deny_restricted, req().ec(CASE_TWINS), DENY_AND_ALLOW),
    ]
}

#[test]
fn encryption_context() {
    run("encryption context", &encryption_context_cases());
}

#[rustfmt::skip]
fn principal_cases() -> Vec<Case> {
    let allow = |principal: &str| stmt(&format!(r#""Effect":"Allow","Principal":{principal},"Action":"kms:*","Resource":"*""#));
    let deny = |principal: &str| stmt(&format!(r#""Effect":"Deny","Principal":{principal},"Action":"kms:*","Resource":"*""#));
    let deny_not = |principal: &str| stmt(&format!(r#""Effect":"Deny","NotPrincipal":{principal},"Action":"kms:*","Resource":"*""#));
    let alice_and_account = r#"{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]}"#;
    vec![
        case("principal_star_string", allow(r#""*""#), req(), ALLOW),
        case("principal_aws_star", allow(r#"{"AWS":"*"}"#), req(), ALLOW),
        case("principal_aws_star_in_list", allow(r#"{"AWS":["arn:aws:iam::444455556666:root","*"]}"#), req(), ALLOW),
        case("principal_account_id_is_via_account", allow(r#"{"AWS":"111122223333"}"#), req(), ROOT),
        case("principal_root_arn_is_via_account", allow(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), req(), ROOT),
        case("principal_other_account_root", allow(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#), req(), NONE),
        case("principal_account_id_caller_is_root", allow(r#"{"AWS":"111122223333"}"#), req().by(ROOT_ARN), ALLOW),
        case("principal_root_arn_caller_is_root", allow(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), req().by(ROOT_ARN), ALLOW),
        case("principal_user_arn_exact", allow(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#), req(), ALLOW),
        case("principal_user_arn_other_user", allow(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#), req().by(BOB), NONE),
        case("principal_user_arn_is_case_sensitive", allow(r#"{"AWS":"arn:aws:iam::111122223333:user/Alice"}"#), req(), NONE),
        case("principal_list_user_and_account_for_alice", allow(r#"{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]}"#), req(), ROOT),
        case("principal_list_user_and_account_for_bob", allow(r#"{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]}"#), req().by(BOB), ALLOW),
        case("principal_list_other_account_and_alice", allow(r#"{"AWS":["444455556666","arn:aws:iam::111122223333:user/alice"]}"#), req(), ALLOW),
        case("principal_role_matches_its_session", allow(r#"{"AWS":"arn:aws:iam::111122223333:role/Admin"}"#), req().by(ADMIN_SESSION), ALLOW),
        case("principal_role_with_path_matches_session", allow(r#"{"AWS":"arn:aws:iam::111122223333:role/ops/Admin"}"#), req().by(ADMIN_SESSION), ALLOW),
        case("principal_role_other_account_no_session_match", allow(r#"{"AWS":"arn:aws:iam::444455556666:role/Admin"}"#), req().by(ADMIN_SESSION), NONE),
        case("principal_role_other_role_session", allow(r#"{"AWS":"arn:aws:iam::111122223333:role/Reader"}"#), req().by(ADMIN_SESSION), NONE),
        case("principal_session_arn_exact", allow(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Admin/session-1"}"#), req().by(ADMIN_SESSION), ALLOW),
        case("principal_account_for_session_is_via_account", allow(r#"{"AWS":"111122223333"}"#), req().by(ADMIN_SESSION), ROOT),
        case("principal_service_never_matches", allow(r#"{"Service":"logs.us-east-1.amazonaws.com"}"#), req(), NONE),
        case("principal_service_and_aws", allow(r#"{"Service":"logs.amazonaws.com","AWS":"arn:aws:iam::111122223333:user/alice"}"#), req(), ALLOW),
        case("principal_federated_never_matches", allow(r#"{"Federated":"cognito-identity.amazonaws.com"}"#), req(), NONE),
        case("principal_cross_account_root", allow(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#), req().by(CAROL), ROOT),
        case("principal_cross_account_user", allow(r#"{"AWS":"arn:aws:iam::444455556666:user/carol"}"#), req().by(CAROL), ALLOW),
        case("principal_malformed_caller_vs_account", allow(r#"{"AWS":"111122223333"}"#), req().by("not-an-arn"), NONE),
        case("principal_malformed_caller_vs_star", allow(r#""*""#), req().by("not-an-arn"), ALLOW),
        case("deny_account_applies_to_its_users", deny(r#"{"AWS":"111122223333"}"#), req(), DENY),
        case("deny_root_arn_applies_to_its_users", deny(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), req(), DENY),
        case("deny_star_applies_to_all", deny(r#""*""#), req().by(CAROL), DENY),
        case("deny_other_user_not_alice", deny(r#"{"AWS":"arn:aws:iam::111122223333:user/bob"}"#), req(), NONE),
        case("deny_other_account_not_alice", deny(r#"{"AWS":"444455556666"}"#), req(), NONE),
        case("deny_role_applies_to_session", deny(r#"{"AWS":"arn:aws:iam::111122223333:role/Admin"}"#), req().by(ADMIN_SESSION), DENY),
        case("no_principal_element_allow_is_direct", stmt(r#""Effect":"Allow","Action":"kms:Decrypt","Resource":"*""#), req(), ALLOW),
        case("no_principal_element_deny", stmt(r#""Effect":"Deny","Action":"kms:Decrypt","Resource":"*""#), req(), DENY),
        case("not_principal_user_and_account_exempt", deny_not(alice_and_account), req(), NONE),
        case("not_principal_other_user_denied", deny_not(alice_and_account), req().by(BOB), DENY),
        case("not_principal_user_without_account_not_exempt", deny_not(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#), req(), DENY),
        case("not_principal_account_only_exempts_root", deny_not(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), req().by(ROOT_ARN), NONE),
        case("not_principal_account_only_not_users", deny_not(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#), req(), DENY),
        case("not_principal_account_id_form", deny_not(r#"{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]}"#), req(), NONE),
        case("not_principal_star_exempts_all", deny_not(r#"{"AWS":"*"}"#), req().by(CAROL), NONE),
        case("not_principal_other_account_caller", deny_not(alice_and_account), req().by(CAROL), DENY),
        case("not_principal_role_and_account_exempt_session", deny_not(r#"{"AWS":["arn:aws:iam::111122223333:role/Admin","111122223333"]}"#), req().by(ADMIN_SESSION), NONE),
        case("not_principal_service_only_denies_all", deny_not(r#"{"Service":"logs.amazonaws.com"}"#), req(), DENY),
    ]
}

#[test]
fn principals() {
    run("principal", &principal_cases());
}

#[rustfmt::skip]
fn action_resource_cases() -> Vec<Case> {
    let action = |a: &str| stmt(&format!(r#""Effect":"Allow","Principal":"*","Action":{a},"Resource":"*""#));
    let not_action = |a: &str| stmt(&format!(r#""Effect":"Allow","Principal":"*","NotAction":{a},"Resource":"*""#));
    let resource = |r: &str| stmt(&format!(r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":{r}"#));
    let not_resource = |r: &str| stmt(&format!(r#""Effect":"Allow","Principal":"*","Action":"kms:*","NotResource":{r}"#));
    let deny_not_describe = stmt(r#""Effect":"Deny","Principal":"*","NotAction":"kms:Describe*","Resource":"*""#);
    vec![
        case("action_exact", action(r#""kms:Decrypt""#), req(), ALLOW),
        case("action_other", action(r#""kms:Encrypt""#), req(), NONE),
        case("action_case_insensitive_policy", action(r#""KMS:decrypt""#), req(), ALLOW),
        case("action_case_insensitive_request", action(r#""kms:Decrypt""#), req().act("kms:DECRYPT"), ALLOW),
        case("action_kms_star", action(r#""kms:*""#), req(), ALLOW),
        case("action_star", action(r#""*""#), req(), ALLOW),
        case("action_other_service_star", action(r#""s3:*""#), req(), NONE),
        case("action_generate_star_matches", action(r#""kms:Generate*""#), req().act("kms:GenerateDataKeyWithoutPlaintext"), ALLOW),
        case("action_generate_star_not_decrypt", action(r#""kms:Generate*""#), req(), NONE),
        case("action_datakey_infix_matches", action(r#""kms:*DataKey*""#), req().act("kms:GenerateDataKeyPair"), ALLOW),
        case("action_datakey_infix_lowercase", action(r#""kms:*datakey*""#), req().act("kms:GenerateDataKey"), ALLOW),
        case("action_datakey_infix_no_match", action(r#""kms:*DataKey*""#), req().act("kms:ReEncryptFrom"), NONE),
        case("action_question_mark", action(r#""kms:?ncrypt""#), req().act("kms:Encrypt"), ALLOW),
        case("action_question_mark_no_match", action(r#""kms:?ncrypt""#), req(), NONE),
        case("action_reencrypt_star", action(r#""kms:ReEncrypt*""#), req().act("kms:ReEncryptTo"), ALLOW),
        case("action_list", action(r#"["kms:Encrypt","kms:Decrypt"]"#), req(), ALLOW),
        case("action_is_whole_string", action(r#""kms:Decrypt""#), req().act("kms:DecryptX"), NONE),
        case("action_service_must_match", action(r#""kms:Decrypt""#), req().act("kmsx:Decrypt"), NONE),
        case("not_action_excludes_request", not_action(r#""kms:Decrypt""#), req(), NONE),
        case("not_action_other_action", not_action(r#""kms:Encrypt""#), req(), ALLOW),
        case("not_action_wildcard_excludes", not_action(r#""kms:*Key*""#), req().act("kms:CreateKey"), NONE),
        case("not_action_wildcard_other", not_action(r#""kms:*Key*""#), req(), ALLOW),
        case("not_action_list", not_action(r#"["kms:Encrypt","kms:Decrypt"]"#), req().act("kms:Sign"), ALLOW),
        case("deny_not_action_denies_others", deny_not_describe.clone(), req(), DENY),
        case("deny_not_action_spares_listed", deny_not_describe, req().act("kms:DescribeKey"), NONE),
        case("resource_star", resource(r#""*""#), req(), ALLOW),
        case("resource_exact_key", resource(&format!("{KEY:?}")), req(), ALLOW),
        case("resource_other_key", resource(&format!("{OTHER_KEY:?}")), req(), NONE),
        case("resource_key_wildcards", resource(r#""arn:aws:kms:*:111122223333:key/*""#), req(), ALLOW),
        case("resource_account_mismatch", resource(r#""arn:aws:kms:*:444455556666:key/*""#), req(), NONE),
        case("resource_alias_pattern_vs_key", resource(r#""arn:aws:kms:us-east-1:111122223333:alias/*""#), req(), NONE),
        case("resource_is_case_sensitive", resource(r#""arn:aws:kms:US-EAST-1:111122223333:key/*""#), req(), NONE),
        case("resource_question_mark", resource(r#""arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890a?""#), req(), ALLOW),
        case("resource_trailing_component_star", resource(r#""arn:aws:kms:*""#), req(), ALLOW),
        case("resource_list", resource(&format!("[{OTHER_KEY:?},{KEY:?}]")), req(), ALLOW),
        case("resource_absent_means_star", stmt(r#""Effect":"Allow","Principal":"*","Action":"kms:*""#), req(), ALLOW),
        case("resource_request_star_policy_star", resource(r#""*""#), req().on("*"), ALLOW),
        case("resource_request_star_policy_arn", resource(r#""arn:aws:kms:*:111122223333:key/*""#), req().on("*"), NONE),
        case("not_resource_excludes_key", not_resource(&format!("{KEY:?}")), req(), NONE),
        case("not_resource_other_key", not_resource(&format!("{OTHER_KEY:?}")), req(), ALLOW),
        case("not_resource_wildcard", not_resource(r#""arn:aws:kms:*:*:alias/*""#), req(), ALLOW),
    ]
}

#[test]
fn actions_and_resources() {
    run("action/resource", &action_resource_cases());
}

#[rustfmt::skip]
fn statement_cases() -> Vec<Case> {
    const ALLOW_ALL: &str = r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#;
    const DENY_ALL: &str = r#""Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*""#;
    const DENY_INSECURE: &str = r#""Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}"#;
    let default_key_policy = r#"{
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*",
            "Resource": "*"
        }]
    }"#;
    let caller_account = r#"{
        "Version": "2012-10-17",
        "Statement": {
            "Sid": "Allow access through EBS for all principals in the account",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
            "Resource": "*"
        }
    }"#;
    let only_oaep = stmts(&[
        ALLOW_ALL,
        r#""Sid":"Allow only one encryption algorithm","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*"],"Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}"#,
    ]);
    let padded = {
        let mut p = stmt(ALLOW_ALL);
        let pad = crate::authz::MAX_POLICY_BYTES - p.len();
        p.push_str(&" ".repeat(pad));
        p
    };
    vec![
        case("deny_and_allow_in_one_policy", stmts(&[ALLOW_ALL, DENY_ALL]), req(), DENY_AND_ALLOW),
        case("deny_and_allow_order_independent", stmts(&[DENY_ALL, ALLOW_ALL]), req(), DENY_AND_ALLOW),
        case("deny_condition_not_met", stmts(&[ALLOW_ALL, DENY_INSECURE]), req().key("aws:SecureTransport", S("true")), ALLOW),
        case("deny_condition_met", stmts(&[ALLOW_ALL, DENY_INSECURE]), req().key("aws:SecureTransport", S("false")), DENY_AND_ALLOW),
        case("deny_other_action_only", stmts(&[ALLOW_ALL, r#""Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*""#]), req(), ALLOW),
        case("deny_other_action_applies", stmts(&[ALLOW_ALL, r#""Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*""#]), req().act("kms:ScheduleKeyDeletion"), DENY_AND_ALLOW),
        case("direct_and_account_allows", stmts(&[r#""Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*""#, r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt""#]), req(), ALLOW_AND_ROOT),
        case("direct_allow_other_action_account_allow", stmts(&[r#""Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*""#, r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt""#]), req(), ROOT),
        case("single_statement_object", r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"}}"#, req(), ALLOW),
        case("second_statement_matches", stmts(&[r#""Effect":"Allow","Principal":"*","Action":"kms:Encrypt""#, r#""Effect":"Allow","Principal":"*","Action":"kms:Decrypt""#]), req(), ALLOW),
        case("no_statement_matches", stmts(&[r#""Effect":"Allow","Principal":"*","Action":"kms:Encrypt""#, r#""Effect":"Deny","Principal":"*","Action":"kms:Sign""#]), req(), NONE),
        case("version_absent", r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}"#, req(), ALLOW),
        case("version_2008_variable_is_literal", r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":"${aws:username}"}}}]}"#, req().key("k", S("${aws:username}")), ALLOW),
        case("version_absent_variable_is_literal", r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":"${aws:username}"}}}]}"#, req().key("k", S("alice")), NONE),
        case("document_of_exactly_32kb", padded, req(), ALLOW),
        case("default_key_policy_user_needs_iam", default_key_policy, req(), ROOT),
        case("default_key_policy_root", default_key_policy, req().by(ROOT_ARN), ALLOW),
        case("default_key_policy_other_account", default_key_policy, req().by(CAROL), NONE),
        case("caller_account_pattern_same_account", caller_account, req().key("kms:CallerAccount", S("111122223333")), ALLOW),
        case("caller_account_pattern_other_account", caller_account, req().by(CAROL).key("kms:CallerAccount", S("444455556666")), NONE),
        case("caller_account_pattern_other_action", caller_account, req().act("kms:ScheduleKeyDeletion").key("kms:CallerAccount", S("111122223333")), NONE),
        case("only_oaep_wrong_algorithm_denied", only_oaep.clone(), req().key("kms:EncryptionAlgorithm", S("RSAES_OAEP_SHA_1")), DENY_AND_ALLOW),
        case("only_oaep_right_algorithm", only_oaep.clone(), req().key("kms:EncryptionAlgorithm", S("RSAES_OAEP_SHA_256")), ALLOW),
        case("only_oaep_algorithm_missing_denied", only_oaep.clone(), req(), DENY_AND_ALLOW),
        case("only_oaep_other_user", only_oaep, req().by(BOB).key("kms:EncryptionAlgorithm", S("RSAES_OAEP_SHA_1")), ALLOW),
        case("identity_policy_scoped_to_key", stmt(&format!(r#""Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":{KEY:?}"#)), req(), ALLOW),
        case("identity_policy_scoped_to_other_key", stmt(&format!(r#""Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":{OTHER_KEY:?}"#)), req(), NONE),
    ]
}

#[test]
fn statements_and_precedence() {
    run("statement", &statement_cases());
}

#[rustfmt::skip]
fn kind_cases() -> Vec<Case> {
    let with_kind = |mut c: Case, kind| {
        c.kind = kind;
        c
    };
    vec![
        with_kind(case("key_policy_with_principal", stmt(r#""Effect":"Allow","Principal":"*","Action":"*""#), req(), ALLOW), PolicyKind::Resource),
        with_kind(
            error("key_policy_without_principal", stmt(r#""Effect":"Allow","Action":"*""#), |e| matches!(e, PolicyError::MissingElement { element: "Principal or NotPrincipal", .. }), "missing Principal or NotPrincipal in statement 1"),
            PolicyKind::Resource,
        ),
        with_kind(case("identity_policy_without_principal", stmt(r#""Effect":"Allow","Action":"*","Resource":"*""#), req(), ALLOW), PolicyKind::Identity),
        with_kind(
            error("identity_policy_without_resource", stmt(r#""Effect":"Allow","Action":"*""#), |e| matches!(e, PolicyError::MissingElement { element: "Resource or NotResource", .. }), "missing Resource or NotResource"),
            PolicyKind::Identity,
        ),
        with_kind(case("key_policy_without_resource", stmt(r#""Effect":"Allow","Principal":"*","Action":"kms:Decrypt""#), req(), ALLOW), PolicyKind::Resource),
        with_kind(
            error("identity_policy_with_principal", stmt(r#""Effect":"Allow","Principal":"*","Action":"*","Resource":"*""#), |e| matches!(e, PolicyError::NotAllowed { element: "Principal", .. }), "identity policies do not name principals"),
            PolicyKind::Identity,
        ),
    ]
}

#[test]
fn policy_kinds() {
    run("policy kind", &kind_cases());
}

#[rustfmt::skip]
fn error_cases() -> Vec<Case> {
    use PolicyError as E;
    fn value_kind(e: &PolicyError, want: ValueKind) -> bool {
        matches!(e, E::InvalidConditionValue { expected, .. } if *expected == want)
    }
    let with_condition = |c: &str| cond_policy(c);
    let too_large = {
        let mut p = stmt(r#""Effect":"Allow","Action":"*""#);
        p.push_str(&" ".repeat(crate::authz::MAX_POLICY_BYTES + 1 - p.len()));
        p
    };
    vec![
        error("not_json", "{", |e| matches!(e, E::InvalidJson { .. }), "not valid JSON"),
        error("not_json_empty", "", |e| matches!(e, E::InvalidJson { .. }), "not valid JSON"),
        error("not_json_trailing_garbage", r#"{"Statement":{"Effect":"Allow","Action":"*"}} x"#, |e| matches!(e, E::InvalidJson { .. }), "trailing characters"),
        error("not_json_single_quotes", "{'Statement': []}", |e| matches!(e, E::InvalidJson { .. }), "line 1"),
        error("too_large", too_large, |e| matches!(e, E::TooLarge { size: 32769, limit: 32768 }), "32769 bytes"),
        error("top_level_not_object", "[]", |e| matches!(e, E::WrongType { stmt: None, .. }), "policy document must be a JSON object"),
        error("missing_statement", r#"{"Version":"2012-10-17"}"#, |e| matches!(e, E::MissingElement { element: "Statement", .. }), "missing Statement"),
        error("statement_is_string", r#"{"Statement":"Allow"}"#, |e| matches!(e, E::WrongType { stmt: None, .. }), "Statement must be an object or a list of objects"),
        error("statement_is_number", r#"{"Statement":1}"#, |e| matches!(e, E::WrongType { .. }), "Statement must be"),
        error("statement_empty_list", r#"{"Statement":[]}"#, |e| matches!(e, E::EmptyList { stmt: None, .. }), "Statement must not be empty"),
        error("statement_list_of_strings", r#"{"Statement":["x"]}"#, |e| matches!(e, E::WrongType { stmt: Some(s), .. } if s.index == 1), "Statement must be an object in statement 1"),
        error("second_statement_not_object", r#"{"Statement":[{"Effect":"Allow","Action":"*"},null]}"#, |e| matches!(e, E::WrongType { stmt: Some(s), .. } if s.index == 2), "in statement 2"),
        error("unknown_top_level_key", r#"{"Statement":[{"Effect":"Allow","Action":"*"}],"Statements":[]}"#, |e| matches!(e, E::UnknownElement { stmt: None, key } if key == "Statements"), r#"unknown element "Statements" in the policy"#),
        error("unknown_statement_key", stmt(r#""Sid":"S1","Effect":"Allow","Actions":"*""#), |e| matches!(e, E::UnknownElement { stmt: Some(_), .. }), r#"unknown element "Actions" in statement "S1""#),
        error("element_names_are_case_sensitive", stmt(r#""effect":"Allow","Action":"*""#), |e| matches!(e, E::UnknownElement { .. }), r#""effect""#),
        error("bad_version", r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*"}}"#, |e| matches!(e, E::InvalidVersion { .. }), "Version must be"),
        error("version_not_string", r#"{"Version":2012,"Statement":{"Effect":"Allow","Action":"*"}}"#, |e| matches!(e, E::WrongType { .. }), "Version must be a string"),
        error("id_not_string", r#"{"Id":[],"Statement":{"Effect":"Allow","Action":"*"}}"#, |e| matches!(e, E::WrongType { .. }), "Id must be a string"),
        error("sid_not_string", stmt(r#""Sid":1,"Effect":"Allow","Action":"*""#), |e| matches!(e, E::WrongType { .. }), "Sid must be a string in statement 1"),
        error("missing_effect", stmt(r#""Action":"*""#), |e| matches!(e, E::MissingElement { element: "Effect", .. }), "missing Effect in statement 1"),
        error("bad_effect", stmts(&[r#""Effect":"Allow","Action":"*""#, r#""Effect":"Permit","Action":"*""#]), |e| matches!(e, E::InvalidEffect { .. }), r#"Effect must be "Allow" or "Deny" (got "Permit") in statement 2"#),
        error("effect_wrong_case", stmt(r#""Effect":"allow","Action":"*""#), |e| matches!(e, E::InvalidEffect { .. }), r#"got "allow""#),
        error("effect_not_string", stmt(r#""Effect":true,"Action":"*""#), |e| matches!(e, E::WrongType { .. }), "Effect must be"),
        error("missing_action", stmt(r#""Sid":"NoAction","Effect":"Allow","Resource":"*""#), |e| matches!(e, E::MissingElement { element: "Action or NotAction", .. }), r#"missing Action or NotAction in statement "NoAction""#),
        error("action_and_not_action", stmt(r#""Effect":"Allow","Action":"*","NotAction":"kms:Decrypt""#), |e| matches!(e, E::ConflictingElements { first: "Action", second: "NotAction", .. }), "Action and NotAction cannot both be present"),
        error("principal_and_not_principal", stmt(r#""Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"111122223333"},"Action":"*""#), |e| matches!(e, E::ConflictingElements { first: "Principal", .. }), "Principal and NotPrincipal cannot both be present"),
        error("resource_and_not_resource", stmt(r#""Effect":"Allow","Action":"*","Resource":"*","NotResource":"*""#), |e| matches!(e, E::ConflictingElements { first: "Resource", .. }), "Resource and NotResource"),
        error("empty_action_list", stmt(r#""Effect":"Allow","Action":[]"#), |e| matches!(e, E::EmptyList { .. }), "Action must not be empty"),
        error("empty_resource_list", stmt(r#""Effect":"Allow","Action":"*","Resource":[]"#), |e| matches!(e, E::EmptyList { .. }), "Resource must not be empty"),
        error("action_not_string", stmt(r#""Effect":"Allow","Action":5"#), |e| matches!(e, E::WrongType { .. }), "Action must be a string or a non-empty list of strings"),
        error("action_list_with_number", stmt(r#""Effect":"Allow","Action":["kms:Decrypt",5]"#), |e| matches!(e, E::WrongType { .. }), "Action must be"),
        error("action_without_service", stmt(r#""Effect":"Allow","Action":"Decrypt""#), |e| matches!(e, E::InvalidAction { .. }), r#"invalid action "Decrypt""#),
        error("action_with_space", stmt(r#""Effect":"Allow","Action":"kms:Gen erate""#), |e| matches!(e, E::InvalidAction { .. }), "invalid action"),
        error("resource_not_arn", stmt(r#""Effect":"Allow","Action":"*","Resource":"key/1234""#), |e| matches!(e, E::InvalidResource { .. }), r#"invalid resource "key/1234""#),
        error("principal_bare_arn_string", stmt(r#""Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"*""#), |e| matches!(e, E::InvalidPrincipal { .. }), "invalid principal"),
        error("principal_short_account", stmt(r#""Effect":"Allow","Principal":{"AWS":"1234"},"Action":"*""#), |e| matches!(e, E::InvalidPrincipal { .. }), r#"invalid principal "1234""#),
        error("principal_wildcard_in_arn", stmt(r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/*"},"Action":"*""#), |e| matches!(e, E::InvalidPrincipal { .. }), "invalid principal"),
        error("principal_group_arn", stmt(r#""Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:group/devs"},"Action":"*""#), |e| matches!(e, E::InvalidPrincipal { .. }), "invalid principal"),
        error("principal_empty_list", stmt(r#""Effect":"Allow","Principal":{"AWS":[]},"Action":"*""#), |e| matches!(e, E::EmptyList { .. }), "Principal must not be empty"),
        error("principal_empty_object", stmt(r#""Effect":"Allow","Principal":{},"Action":"*""#), |e| matches!(e, E::EmptyList { .. }), "Principal must not be empty"),
        error("principal_not_string_or_object", stmt(r#""Effect":"Allow","Principal":5,"Action":"*""#), |e| matches!(e, E::WrongType { .. }), "Principal must be"),
        error("unknown_principal_type", stmt(r#""Effect":"Allow","Principal":{"Aws":"*"},"Action":"*""#), |e| matches!(e, E::UnknownPrincipalType { .. }), r#"unknown principal type "Aws""#),
        error("not_principal_with_allow", stmt(r#""Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"*""#), |e| matches!(e, E::NotAllowed { element: "NotPrincipal", .. }), "only with \"Effect\": \"Deny\""),
        error("unknown_operator", stmts(&[r#""Sid":"AllowUse","Effect":"Allow","Action":"*","Condition":{"StringEqualz":{"k":"v"}}"#]), |e| matches!(e, E::UnknownConditionOperator { operator, .. } if operator == "StringEqualz"), r#"unknown condition operator "StringEqualz" in statement "AllowUse""#),
        error("operator_wrong_case", with_condition(r#"{"stringEquals":{"k":"v"}}"#), |e| matches!(e, E::UnknownConditionOperator { .. }), "stringEquals"),
        error("null_if_exists", with_condition(r#"{"NullIfExists":{"k":"true"}}"#), |e| matches!(e, E::UnknownConditionOperator { .. }), "NullIfExists"),
        error("set_qualifier_on_null", with_condition(r#"{"ForAnyValue:Null":{"k":"true"}}"#), |e| matches!(e, E::UnknownConditionOperator { .. }), "ForAnyValue:Null"),
        error("unknown_set_qualifier", with_condition(r#"{"ForSomeValues:StringEquals":{"k":"v"}}"#), |e| matches!(e, E::UnknownConditionOperator { .. }), "ForSomeValues"),
        error("binary_not_equals_does_not_exist", with_condition(r#"{"BinaryNotEquals":{"k":"YWJj"}}"#), |e| matches!(e, E::UnknownConditionOperator { .. }), "BinaryNotEquals"),
        error("condition_not_object", with_condition("[]"), |e| matches!(e, E::WrongType { .. }), "Condition must be an object"),
        error("operator_block_not_object", with_condition(r#"{"StringEquals":"v"}"#), |e| matches!(e, E::WrongType { .. }), "must be an object of condition keys"),
        error("operator_block_empty", with_condition(r#"{"StringEquals":{}}"#), |e| matches!(e, E::EmptyList { .. }), "must not be empty"),
        error("empty_condition_key", with_condition(r#"{"StringEquals":{"":"v"}}"#), |e| matches!(e, E::EmptyConditionKey { .. }), "empty condition key"),
        error("condition_value_object", with_condition(r#"{"StringEquals":{"k":{"a":"b"}}}"#), |e| matches!(e, E::InvalidConditionShape { .. }), r#"value of condition key "k""#),
        error("condition_value_null", with_condition(r#"{"StringEquals":{"k":null}}"#), |e| matches!(e, E::InvalidConditionShape { .. }), "must be a string, number, boolean"),
        error("condition_value_empty_list", with_condition(r#"{"StringEquals":{"k":[]}}"#), |e| matches!(e, E::InvalidConditionShape { .. }), "non-empty list"),
        error("condition_value_nested_list", with_condition(r#"{"StringEquals":{"k":[["a"]]}}"#), |e| matches!(e, E::InvalidConditionShape { .. }), "StringEquals"),
        error("bad_number", with_condition(r#"{"NumericLessThan":{"n":"ten"}}"#), |e| value_kind(e, ValueKind::Number), r#"NumericLessThan value "ten" for condition key "n" is not a number"#),
        error("bad_number_in_list", with_condition(r#"{"NumericEquals":{"n":["1","1,5"]}}"#), |e| value_kind(e, ValueKind::Number), r#""1,5""#),
        error("bad_number_bool", with_condition(r#"{"NumericEquals":{"n":true}}"#), |e| value_kind(e, ValueKind::Number), "is not a number"),
        error("bad_date_month", with_condition(r#"{"DateLessThan":{"aws:CurrentTime":"2020-13-01T00:00:00Z"}}"#), |e| value_kind(e, ValueKind::Date), "is not an ISO 8601 date-time"),
        error("bad_date_text", with_condition(r#"{"DateGreaterThan":{"aws:CurrentTime":"next tuesday"}}"#), |e| value_kind(e, ValueKind::Date), "next tuesday"),
        error("bad_date_feb_30", with_condition(r#"{"DateEquals":{"d":"2023-02-29"}}"#), |e| value_kind(e, ValueKind::Date), "2023-02-29"),
        error("bad_bool", with_condition(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#), |e| value_kind(e, ValueKind::Bool), "is not true or false"),
        error("bad_bool_number", with_condition(r#"{"Bool":{"aws:SecureTransport":1}}"#), |e| value_kind(e, ValueKind::Bool), "true or false"),
        error("bad_null_value", with_condition(r#"{"Null":{"k":"maybe"}}"#), |e| value_kind(e, ValueKind::Bool), "Null value"),
        error("bad_cidr_prefix", with_condition(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#), |e| value_kind(e, ValueKind::IpAddress), "is not an IP address or CIDR block"),
        error("bad_cidr_text", with_condition(r#"{"NotIpAddress":{"aws:SourceIp":"corp-network"}}"#), |e| value_kind(e, ValueKind::IpAddress), "corp-network"),
        error("bad_cidr_v6_prefix", with_condition(r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/129"}}"#), |e| value_kind(e, ValueKind::IpAddress), "/129"),
        error("bad_base64", with_condition(r#"{"BinaryEquals":{"k":"not base64!"}}"#), |e| value_kind(e, ValueKind::Base64), "is not base64"),
        error("duplicate_statement_key", stmt(r#""Effect":"Allow","Effect":"Deny","Action":"*""#), |e| matches!(e, E::DuplicateKey { key, .. } if key == "Effect"), r#"duplicate key "Effect" in statement 1"#),
        error("duplicate_operator", with_condition(r#"{"StringEquals":{"a":"1"},"StringEquals":{"b":"2"}}"#), |e| matches!(e, E::DuplicateKey { .. }), r#"duplicate key "StringEquals""#),
        error("duplicate_condition_key", with_condition(r#"{"StringEquals":{"a":"1","a":"2"}}"#), |e| matches!(e, E::DuplicateKey { .. }), r#"duplicate key "a""#),
        error("duplicate_top_level_key", r#"{"Statement":{"Effect":"Allow","Action":"*"},"Statement":[]}"#, |e| matches!(e, E::DuplicateKey { stmt: None, .. }), "in the policy"),
        error("policy_variable_in_condition", with_condition(r#"{"StringEquals":{"kms:EncryptionContext:user":"${aws:username}"}}"#), |e| matches!(e, E::UnsupportedPolicyVariable { .. }), "policy variables are not supported"),
        error("policy_variable_in_resource", stmt(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:kms:*:${aws:PrincipalAccount}:key/*""#), |e| matches!(e, E::UnsupportedPolicyVariable { .. }), "${aws:PrincipalAccount}"),
    ]
}

#[test]
fn malformed_documents() {
    run("error", &error_cases());
}

#[test]
fn suite_size_and_failure_reporting() {
    let total = CONDITION_ROWS.len()
        + encryption_context_cases().len()
        + principal_cases().len()
        + action_resource_cases().len()
        + statement_cases().len()
        + kind_cases().len()
        + error_cases().len();
    assert!(total >= 170, "only {total} table cases");
    assert!(error_cases().len() >= 20);

    // The harness itself must be able to fail: wrong expectations are
    // reported by name.
    let wrong = vec![
        case("wrong_eval", cond_policy("{}"), req(), NONE),
        case("wrong_parse", "{", req(), ALLOW),
        error(
            "wrong_variant",
            "{",
            |e| matches!(e, PolicyError::TooLarge { .. }),
            "",
        ),
        error(
            "wrong_fragment",
            "{",
            |e| matches!(e, PolicyError::InvalidJson { .. }),
            "no such text",
        ),
        error("parses_fine", cond_policy("{}"), |_| true, ""),
    ];
    let failed = failures(&wrong);
    assert_eq!(failed.len(), wrong.len(), "{failed:#?}");
    for (line, c) in failed.iter().zip(&wrong) {
        assert!(line.starts_with(c.name), "{line}");
    }
}
