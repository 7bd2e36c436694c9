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
    /// Whether the grant lets its grantee perform `op` with `ctx`.
    pub fn allows(&self, op: GrantOperation, ctx: Option<&HashMap<String, String>>) -> bool {
        self.operations.contains(&op) && self.constraints.allow(ctx)
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
}
