//! Evaluating one compiled [`Policy`] against one [`RequestContext`]: which
//! statements apply, and with what effect, summarized as an
//! [`Evaluation`].
//!
//! This module does not decide whether a request is allowed. It knows
//! nothing of identity policies versus key policies, grants, or the
//! cross-account rules; kmsd combines the [`Evaluation`]s of the key policy
//! and the caller's identity policies (and its grants) itself. Evaluation is
//! O(statements × their conditions), allocation-free, and parses nothing
//! policy-side (request-side numbers, dates and IPs are parsed in place).
//!
//! Principal rules:
//! - `"*"` / `{"AWS": "*"}` and the caller's exact ARN match directly; so
//!   does a role ARN for that role's STS assumed-role sessions, and the
//!   account (root ARN or account id) when the caller *is* the root;
//! - otherwise the caller's account (root ARN or bare id) matches only
//!   "through the account": an Allow sets `allow_account_root` (AWS
//!   "delegates to IAM": identity policies must also allow), while a Deny
//!   applies to every principal of the account;
//! - `Service` / `Federated` / `CanonicalUser` principals never match;
//! - `NotPrincipal` (Deny only) applies to every caller except one it
//!   exempts. Following the IAM guide ("you must also specify the account
//!   ARN of the not-denied principal"), a caller is exempt only if its
//!   account is listed (root ARN or id) *and* the caller itself is listed
//!   (its ARN, its role's ARN for a session, or — for the root — the
//!   account). `"*"` exempts everyone;
//! - a statement without `Principal` (identity policy) applies to the caller
//!   directly.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::context::{Caller, RequestContext};
use super::policy::{
    ActionSpec, Effect, Policy, PrincipalArn, PrincipalEntry, PrincipalSpec, ResourceSpec,
};

/// What one policy says about one request. kmsd applies AWS's combination
/// rules: any `explicit_deny` anywhere denies; otherwise the key policy must
/// allow the caller (`allow_principal`), or allow its account
/// (`allow_account_root`) *and* an identity policy allow, or a grant allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evaluation {
    /// A `Deny` statement applies to the request.
    pub explicit_deny: bool,
    /// An `Allow` statement applies to the caller itself: its exact
    /// principal ARN (or its role's, for a session), `"*"`, `{"AWS": "*"}`,
    /// the account when the caller is the account root, or any Allow in a
    /// statement without a `Principal` element (identity policies).
    pub allow_principal: bool,
    /// An `Allow` statement applies only through the caller's account
    /// (`arn:aws:iam::ACCOUNT:root` or `ACCOUNT`): the caller's identity
    /// policies must allow too.
    pub allow_account_root: bool,
}

/// How a statement's principal element relates to the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applies {
    No,
    Directly,
    ViaAccount,
}

impl Policy {
    /// Evaluates every statement against `ctx`. A statement applies when its
    /// principal element, action element, resource element and every
    /// condition match; the flags of [`Evaluation`] record which effects
    /// applied. The result does not depend on statement order.
    pub fn evaluate(&self, ctx: &RequestContext<'_>) -> Evaluation {
        let mut ev = Evaluation::default();
        let caller = ctx.caller();
        // Only the statements whose action and resource elements match:
        // remembered per (action, resource), so a hot key's calls do no
        // pattern matching on those elements.
        let applicable = self
            .applicable
            .get_or_compute(ctx.action(), ctx.resource(), || {
                self.statements
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| {
                        st.action.matches(ctx.action()) && st.resource.matches(ctx.resource())
                    })
                    .map(|(i, _)| i as u32)
                    .collect()
            });
        for &i in applicable.iter() {
            let Some(st) = self.statements.get(i as usize) else {
                continue;
            };
            // Skip statements that cannot change the result any more.
            let settled = match st.effect {
                Effect::Allow => ev.allow_principal && ev.allow_account_root,
                Effect::Deny => ev.explicit_deny,
            };
            if settled {
                continue;
            }
            let applies = match &st.principal {
                PrincipalSpec::Absent => Applies::Directly,
                PrincipalSpec::Principal(entries) => principal_applies(entries, caller),
                PrincipalSpec::NotPrincipal(entries) if exempt(entries, caller) => Applies::No,
                PrincipalSpec::NotPrincipal(_) => Applies::Directly,
            };
            if applies == Applies::No || !st.conditions.iter().all(|c| c.evaluate(ctx)) {
                continue;
            }
            match (st.effect, applies) {
                (Effect::Deny, _) => ev.explicit_deny = true,
                (Effect::Allow, Applies::Directly) => ev.allow_principal = true,
                (Effect::Allow, Applies::ViaAccount) => ev.allow_account_root = true,
                (Effect::Allow, Applies::No) => {}
            }
        }
        ev
    }
}

/// For one policy: the statements whose action and resource elements match
/// an (action, resource) pair, computed on first use. Exact because a
/// compiled policy never changes (a new policy text is a new `Policy`).
/// Bounded: forgotten wholesale past [`MAX_MEMO_RESOURCES`] resources (an
/// identity policy sees one resource per key its principal uses).
#[derive(Default)]
pub(crate) struct ApplicableMemo {
    by_resource: RwLock<MemoMap<MemoMap<Arc<[u32]>>>>,
}

type MemoMap<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;

/// Resources remembered per policy before the memo starts over.
const MAX_MEMO_RESOURCES: usize = 1024;

impl ApplicableMemo {
    fn get_or_compute(
        &self,
        action: &str,
        resource: &str,
        compute: impl FnOnce() -> Arc<[u32]>,
    ) -> Arc<[u32]> {
        {
            let map = self.by_resource.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = map
                .get(resource)
                .and_then(|by_action| by_action.get(action))
            {
                return Arc::clone(hit);
            }
        }
        let value = compute();
        let mut map = self.by_resource.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_MEMO_RESOURCES && !map.contains_key(resource) {
            map.clear();
        }
        map.entry(resource.into())
            .or_default()
            .insert(action.into(), Arc::clone(&value));
        value
    }
}

impl Clone for ApplicableMemo {
    /// A clone starts with an empty memo (it is only a cache).
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for ApplicableMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApplicableMemo")
    }
}

impl ActionSpec {
    fn matches(&self, action: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(action)) != self.negated
    }
}

impl ResourceSpec {
    fn matches(&self, resource: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(resource)) != self.negated
    }
}

impl PrincipalArn {
    /// The caller's own ARN, or — for an assumed-role session — its role.
    fn names(&self, caller: &Caller<'_>) -> bool {
        *self.arn == *caller.arn
            || (self.role_name.is_some()
                && self.role_name.as_deref() == caller.role_session_of
                && *self.account == *caller.account
                && *self.partition == *caller.partition)
    }
}

fn principal_applies(entries: &[PrincipalEntry], caller: &Caller<'_>) -> Applies {
    let mut via_account = false;
    for entry in entries {
        match entry {
            PrincipalEntry::Anyone => return Applies::Directly,
            PrincipalEntry::Account(account) if **account == *caller.account => {
                if caller.is_root {
                    return Applies::Directly;
                }
                via_account = true;
            }
            PrincipalEntry::Arn(arn) if arn.names(caller) => return Applies::Directly,
            PrincipalEntry::Account(_) | PrincipalEntry::Arn(_) | PrincipalEntry::Other => {}
        }
    }
    if via_account {
        Applies::ViaAccount
    } else {
        Applies::No
    }
}

/// Whether a `NotPrincipal` list exempts the caller (see the module doc).
fn exempt(entries: &[PrincipalEntry], caller: &Caller<'_>) -> bool {
    let (mut account_listed, mut caller_listed) = (false, false);
    for entry in entries {
        match entry {
            PrincipalEntry::Anyone => return true,
            PrincipalEntry::Account(account) if **account == *caller.account => {
                account_listed = true;
                caller_listed |= caller.is_root;
            }
            PrincipalEntry::Arn(arn) if arn.names(caller) => caller_listed = true,
            PrincipalEntry::Account(_) | PrincipalEntry::Arn(_) | PrincipalEntry::Other => {}
        }
    }
    account_listed && caller_listed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A 32 KB key policy with many statements and conditions.
    fn big_policy(star: bool) -> String {
        let first = if star { "\"*\"," } else { "" };
        let mut statements = Vec::new();
        let mut i = 0;
        loop {
            let mut s = String::new();
            write!(
                s,
                r#"{{"Sid":"S{i}","Effect":"{}","Principal":{{"AWS":[{first}"arn:aws:iam::111122223333:role/Role{i}","arn:aws:iam::444455556666:user/u{i}"]}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:*:111122223333:key/*","Condition":{{"StringEquals":{{"kms:EncryptionContext:App{i}":["a","b"],"kms:CallerAccount":"111122223333"}},"ForAllValues:StringLike":{{"kms:EncryptionContextKeys":["App*","Stage"]}},"IpAddress":{{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}}}}}"#,
                if i % 7 == 0 { "Deny" } else { "Allow" }
            )
            .unwrap();
            let total: usize =
                statements.iter().map(String::len).sum::<usize>() + s.len() + statements.len() + 64;
            if total > crate::authz::MAX_POLICY_BYTES {
                break;
            }
            statements.push(s);
            i += 1;
        }
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
            statements.join(",")
        )
    }

    #[test]
    fn big_policy_parses_and_is_under_the_limit() {
        let text = big_policy(false);
        assert!(text.len() <= crate::authz::MAX_POLICY_BYTES);
        let p = Policy::parse(&text).unwrap();
        assert!(p.statements_len() > 40, "{}", p.statements_len());
    }

    #[test]
    fn remembered_statements_give_the_same_answers_as_a_fresh_policy() {
        // Statements selected by action and by resource, so the memo's
        // entries differ per (action, resource); more resources than the
        // memo keeps, so it also starts over on the way.
        let text = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:kms:*:111122223333:key/a*"},
            {"Effect":"Allow","Principal":"*","Action":"kms:Gen*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:111122223333:key/*7"}
        ]}"#;
        let p = Policy::parse(text).unwrap();
        let caller = "arn:aws:iam::111122223333:user/alice";
        let mut seen = [0usize; 4];
        for round in 0..2 {
            for i in 0..(MAX_MEMO_RESOURCES + 50) {
                let prefix = if i % 2 == 0 { "a" } else { "b" };
                let resource = format!("arn:aws:kms:us-east-1:111122223333:key/{prefix}{i}");
                for action in ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"] {
                    let ctx = RequestContext::new(caller, action, &resource);
                    let remembered = p.evaluate(&ctx);
                    let fresh = p.clone().evaluate(&ctx);
                    assert_eq!(remembered, fresh, "round {round}, {action} on {resource}");
                    let class = usize::from(remembered.explicit_deny) * 2
                        + usize::from(remembered.allow_principal);
                    seen[class] += 1;
                }
            }
        }
        // Every outcome occurred: allowed, not allowed, denied.
        assert!(
            seen[0] > 0 && seen[1] > 0 && seen[2] + seen[3] > 0,
            "{seen:?}"
        );
    }
}
