//! Key policies: PutKeyPolicy, GetKeyPolicy, ListKeyPolicies, and the
//! compilation every stored policy goes through.

use std::sync::Arc;

use super::{validate, AuthzInput, Caller, Kms};
use crate::authz::{Policy, PolicyError, PolicyKind};
use crate::error::{KmsError, KmsResult};
use crate::model::Operation;

/// The only key policy name.
pub const POLICY_NAME: &str = "default";

/// Compiles a key policy, mapping errors to AWS's.
pub(super) fn compile_key_policy(text: &str) -> KmsResult<Policy> {
    validate::length("policy", text.len(), 1, 131_072)?;
    Policy::parse_as(text, PolicyKind::Resource).map_err(|e| match e {
        PolicyError::TooLarge { .. } => {
            KmsError::LimitExceeded(format!("The key policy is too large: {e}"))
        }
        other => KmsError::MalformedPolicyDocument(other.to_string()),
    })
}

fn check_policy_name(name: Option<&str>) -> KmsResult<()> {
    match name {
        None => Ok(()),
        Some(n) if n == POLICY_NAME => Ok(()),
        Some(n) => Err(KmsError::NotFound(format!(
            "Key policy {} does not exist: the only key policy name is \"default\"",
            crate::model::ids::printable(n)
        ))),
    }
}

impl Kms {
    /// PutKeyPolicy: replaces the key policy, refusing one that would lock
    /// the caller out of PutKeyPolicy unless the check is bypassed.
    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
        policy: &str,
        bypass_policy_lockout_safety_check: bool,
    ) -> KmsResult<()> {
        check_policy_name(policy_name)?;
        let compiled = compile_key_policy(policy)?;
        let caller = caller.clone();
        let key_id = key_id.to_owned();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
                let input = AuthzInput::default().value(
                    "kms:bypasspolicylockoutsafetycheck",
                    if bypass_policy_lockout_safety_check {
                        "true"
                    } else {
                        "false"
                    },
                );
                let key =
                    inner.resolve_blocking(&caller, &key_id, Operation::PutKeyPolicy, &input)?;
                if !bypass_policy_lockout_safety_check {
                    inner.lockout_check(&caller, &key, &compiled)?;
                }
                let mut b = inner.store.batch();
                b.put_key_policy(&key.id, compiled.text());
                b.commit().map_err(KmsError::internal)?;
                inner.policies.put(key.id, Arc::new(compiled));
                Ok(())
            })
            .await
    }

    /// GetKeyPolicy: the policy text as stored.
    pub async fn get_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
    ) -> KmsResult<String> {
        check_policy_name(policy_name)?;
        let inner = &self.inner;
        let key = inner
            .resolve(
                caller,
                key_id,
                Operation::GetKeyPolicy,
                &AuthzInput::default(),
            )
            .await?;
        let k = (*key).clone();
        let policy = inner.blocking(move |i| i.key_policy_blocking(&k)).await?;
        Ok(policy.text().to_owned())
    }

    /// ListKeyPolicies: always `["default"]`.
    pub async fn list_key_policies(
        &self,
        caller: &Caller,
        key_id: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<Vec<String>> {
        validate::limit(limit)?;
        if validate::marker(marker)?.is_some() {
            return Err(KmsError::InvalidMarker(
                "The marker is not one that ListKeyPolicies returned".into(),
            ));
        }
        self.inner
            .resolve(
                caller,
                key_id,
                Operation::ListKeyPolicies,
                &AuthzInput::default(),
            )
            .await?;
        Ok(vec![POLICY_NAME.to_owned()])
    }
}
