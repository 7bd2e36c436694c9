//! Grants: what a grant allows, whom, and under which encryption-context
//! constraints.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::key::GrantOperation;

/// EncryptionContextEquals / EncryptionContextSubset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    /// The request's context must contain every pair (and may have more).
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    /// The request's context must be exactly this.
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

impl GrantConstraints {
    /// Whether `ctx` (the request's encryption context) satisfies the
    /// constraints. As in AWS, constraint keys match case-insensitively and
    /// values case-sensitively.
    pub fn allow(&self, ctx: Option<&HashMap<String, String>>) -> bool {
        let empty = HashMap::new();
        let ctx = ctx.unwrap_or(&empty);
        if let Some(eq) = &self.encryption_context_equals {
            if eq.len() != ctx.len() || eq.iter().any(|(k, v)| lookup(ctx, k) != Some(v)) {
                return false;
            }
        }
        if let Some(sub) = &self.encryption_context_subset {
            if sub.iter().any(|(k, v)| lookup(ctx, k) != Some(v)) {
                return false;
            }
        }
        true
    }

    /// `EncryptionContextEquals`, `EncryptionContextSubset`, both, or none
    /// (for the `kms:GrantConstraintType` condition key).
    pub fn types(&self) -> Vec<&'static str> {
        let mut t = Vec::new();
        if self.encryption_context_equals.is_some() {
            t.push("EncryptionContextEquals");
        }
        if self.encryption_context_subset.is_some() {
            t.push("EncryptionContextSubset");
        }
        t
    }

    /// Whether no constraint is set.
    pub fn is_empty(&self) -> bool {
        self.encryption_context_equals.is_none() && self.encryption_context_subset.is_none()
    }

    /// Whether these constraints are equally strict as or stricter than
    /// `other`: every encryption context they allow, `other` allows too.
    /// AWS requires this of a grant created under the authority of a grant
    /// with constraints (keys compare case-insensitively, values exactly,
    /// as in [`GrantConstraints::allow`]).
    pub fn at_least_as_strict_as(&self, other: &GrantConstraints) -> bool {
        if let Some(want) = &other.encryption_context_equals {
            // Only a context pinned to exactly `want` is allowed by `other`.
            let Some(mine) = &self.encryption_context_equals else {
                return false;
            };
            if !same_pairs(mine, want) {
                return false;
            }
        }
        if let Some(want) = &other.encryption_context_subset {
            // Every context these allow must hold each pair of `want`: it
            // does if the pair is pinned by EncryptionContextEquals or
            // required by EncryptionContextSubset.
            let pins = |k: &str, v: &str| {
                [
                    &self.encryption_context_equals,
                    &self.encryption_context_subset,
                ]
                .into_iter()
                .flatten()
                .any(|m| lookup_ci(m, k) == Some(v))
            };
            if !want.iter().all(|(k, v)| pins(k, v)) {
                return false;
            }
        }
        true
    }
}

/// The value of `key` in a constraint map, matching keys case-insensitively.
fn lookup_ci<'a>(m: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    m.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key) || k.to_lowercase() == key.to_lowercase())
        .map(|(_, v)| v.as_str())
}

/// Whether two constraint maps hold the same pairs (keys case-insensitive).
fn same_pairs(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    a.len() == b.len() && b.iter().all(|(k, v)| lookup_ci(a, k) == Some(v.as_str()))
}

/// The value of `key` in `ctx`, matching the key case-insensitively (the
/// exact key first, so the common case costs one hash lookup).
fn lookup<'a>(ctx: &'a HashMap<String, String>, key: &str) -> Option<&'a String> {
    ctx.get(key).or_else(|| {
        let want = key.to_lowercase();
        ctx.iter()
            .find(|(k, _)| k.to_lowercase() == want)
            .map(|(_, v)| v)
    })
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// 64 hex digits.
    pub grant_id: String,
    /// The key the grant is on (its key ARN, as ListGrants reports it).
    pub key_id: String,
    /// Optional name (idempotent retries).
    pub name: Option<String>,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Who may use the grant.
    pub grantee_principal: String,
    /// Who may retire it.
    pub retiring_principal: Option<String>,
    /// The account whose principal created it, as its root ARN (AWS's
    /// `IssuingAccount`).
    pub issuing_account: String,
    /// What it allows.
    pub operations: Vec<GrantOperation>,
    /// Encryption-context constraints.
    pub constraints: GrantConstraints,
}

impl GrantRecord {
    /// Whether the grant lets its grantee perform `op` with `ctx`. As in
    /// AWS, constraints apply only to operations that take an encryption
    /// context; DescribeKey and RetireGrant ignore them. (CreateGrant
    /// through a grant is decided by [`GrantRecord::allows_creating`].)
    pub fn allows(&self, op: GrantOperation, ctx: Option<&HashMap<String, String>>) -> bool {
        self.operations.contains(&op)
            && op != GrantOperation::CreateGrant
            && (!op.takes_encryption_context() || self.constraints.allow(ctx))
    }

    /// Whether the grant lets its grantee create a grant for `operations`
    /// with `constraints`: the grant must include CreateGrant, the new
    /// grant's operations must be a subset of this grant's, and its
    /// constraints equally strict or stricter (AWS's rule, so a grant
    /// cannot be used to widen itself).
    pub fn allows_creating(
        &self,
        operations: &[GrantOperation],
        constraints: &GrantConstraints,
    ) -> bool {
        self.operations.contains(&GrantOperation::CreateGrant)
            && operations.iter().all(|o| self.operations.contains(o))
            && constraints.at_least_as_strict_as(&self.constraints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn constraints() {
        let sub = GrantConstraints {
            encryption_context_subset: Some([("a".to_string(), "1".to_string())].into()),
            encryption_context_equals: None,
        };
        assert!(sub.allow(Some(&m(&[("a", "1")]))));
        assert!(sub.allow(Some(&m(&[("a", "1"), ("b", "2")]))));
        assert!(!sub.allow(Some(&m(&[("a", "2")]))));
        assert!(!sub.allow(None));
        let team = GrantConstraints {
            encryption_context_subset: Some([("team".to_string(), "db".to_string())].into()),
            encryption_context_equals: None,
        };
        assert!(
            team.allow(Some(&m(&[("TEAM", "db")]))),
            "keys are case-insensitive"
        );
        assert!(
            !team.allow(Some(&m(&[("team", "DB")]))),
            "values are case-sensitive"
        );
        let eq = GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some([("a".to_string(), "1".to_string())].into()),
        };
        assert!(eq.allow(Some(&m(&[("a", "1")]))));
        assert!(!eq.allow(Some(&m(&[("a", "1"), ("b", "2")]))));
        assert!(GrantConstraints::default().allow(None));
    }

    fn cons(eq: &[(&str, &str)], sub: &[(&str, &str)]) -> GrantConstraints {
        let map = |p: &[(&str, &str)]| {
            (!p.is_empty()).then(|| {
                p.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        GrantConstraints {
            encryption_context_equals: map(eq),
            encryption_context_subset: map(sub),
        }
    }

    #[test]
    fn strictness_of_constraints() {
        let none = GrantConstraints::default();
        let sub_a = cons(&[], &[("a", "1")]);
        let sub_ab = cons(&[], &[("a", "1"), ("b", "2")]);
        let eq_a = cons(&[("a", "1")], &[]);
        let eq_ab = cons(&[("a", "1"), ("b", "2")], &[]);
        // Anything is at least as strict as no constraint.
        for c in [&none, &sub_a, &sub_ab, &eq_a, &eq_ab] {
            assert!(c.at_least_as_strict_as(&none));
        }
        // No constraint is not as strict as any.
        for c in [&sub_a, &eq_a] {
            assert!(!none.at_least_as_strict_as(c));
        }
        // Subsets: more required pairs are stricter, fewer are not.
        assert!(sub_ab.at_least_as_strict_as(&sub_a));
        assert!(!sub_a.at_least_as_strict_as(&sub_ab));
        assert!(!cons(&[], &[("a", "2")]).at_least_as_strict_as(&sub_a));
        // Equals pins the context: it satisfies a subset it contains...
        assert!(eq_ab.at_least_as_strict_as(&sub_a));
        assert!(!eq_a.at_least_as_strict_as(&sub_ab));
        // ...but only the same Equals satisfies an Equals.
        assert!(eq_a.at_least_as_strict_as(&eq_a));
        assert!(!eq_ab.at_least_as_strict_as(&eq_a));
        assert!(!sub_a.at_least_as_strict_as(&eq_a));
        assert!(!sub_ab.at_least_as_strict_as(&eq_a));
        // Keys compare case-insensitively, values exactly.
        assert!(cons(&[], &[("A", "1")]).at_least_as_strict_as(&sub_a));
        assert!(cons(&[("A", "1")], &[]).at_least_as_strict_as(&eq_a));
        assert!(!cons(&[], &[("a", "X")]).at_least_as_strict_as(&cons(&[], &[("a", "x")])));
    }

    #[test]
    fn creating_through_a_grant_cannot_widen_it() {
        let g = GrantRecord {
            grant_id: "0".repeat(64),
            key_id: "k".into(),
            name: None,
            created_ms: 0,
            grantee_principal: "arn:aws:iam::111122223333:user/alice".into(),
            retiring_principal: None,
            issuing_account: "arn:aws:iam::111122223333:root".into(),
            operations: vec![GrantOperation::CreateGrant, GrantOperation::Decrypt],
            constraints: cons(&[], &[("team", "db")]),
        };
        let strict = cons(&[], &[("team", "db"), ("app", "x")]);
        assert!(g.allows_creating(&[GrantOperation::Decrypt], &strict));
        assert!(g.allows_creating(
            &[GrantOperation::Decrypt, GrantOperation::CreateGrant],
            &strict
        ));
        // An operation the grant lacks.
        assert!(!g.allows_creating(&[GrantOperation::Encrypt], &strict));
        // Looser constraints.
        assert!(!g.allows_creating(&[GrantOperation::Decrypt], &GrantConstraints::default()));
        // A grant without CreateGrant allows creating nothing.
        let mut no_create = g.clone();
        no_create.operations = vec![GrantOperation::Decrypt];
        assert!(!no_create.allows_creating(&[GrantOperation::Decrypt], &strict));
        // CreateGrant is never allowed through `allows` (it needs the new
        // grant's parameters), and DescribeKey ignores constraints.
        assert!(!g.allows(GrantOperation::CreateGrant, None));
        let mut describe = g.clone();
        describe.operations = vec![GrantOperation::DescribeKey];
        assert!(describe.allows(GrantOperation::DescribeKey, None));
    }
}
