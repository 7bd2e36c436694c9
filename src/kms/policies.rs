//! Key policies: PutKeyPolicy, GetKeyPolicy, ListKeyPolicies, and the
//! compilation every stored policy goes through.

use std::sync::Arc;

use super::request::{GetKeyPolicyRequest, ListKeyPoliciesRequest, PutKeyPolicyRequest};
use super::{validate, AuthzInput, Caller, Kms, LockName};
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
    pub async fn put_key_policy(&self, caller: &Caller, req: PutKeyPolicyRequest) -> KmsResult<()> {
        check_policy_name(req.policy_name.as_deref())?;
        let compiled = compile_key_policy(&req.policy)?;
        let bypass = req.bypass_policy_lockout_safety_check;
        let input = AuthzInput::default().value(
            "kms:bypasspolicylockoutsafetycheck",
            if bypass { "true" } else { "false" },
        );
        let key = self
            .inner
            .resolve(caller, &req.key_id, Operation::PutKeyPolicy, &input)
            .await?;
        if !bypass {
            self.inner.lockout_check(caller, &key, &compiled)?;
        }
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let key = inner.recheck(&key, Operation::PutKeyPolicy)?;
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
        req: GetKeyPolicyRequest,
    ) -> KmsResult<String> {
        check_policy_name(req.policy_name.as_deref())?;
        let inner = &self.inner;
        let key = inner
            .resolve(
                caller,
                &req.key_id,
                Operation::GetKeyPolicy,
                &AuthzInput::default(),
            )
            .await?;
        let policy = inner.key_policy(&key).await?;
        Ok(policy.text().to_owned())
    }

    /// ListKeyPolicies: always `["default"]`.
    pub async fn list_key_policies(
        &self,
        caller: &Caller,
        req: ListKeyPoliciesRequest,
    ) -> KmsResult<Vec<String>> {
        validate::limit(req.page.limit)?;
        if validate::marker(req.page.marker.as_deref())?.is_some() {
            return Err(KmsError::InvalidMarker(
                "The marker is not one that ListKeyPolicies returned".into(),
            ));
        }
        self.inner
            .resolve(
                caller,
                &req.key_id,
                Operation::ListKeyPolicies,
                &AuthzInput::default(),
            )
            .await?;
        Ok(vec![POLICY_NAME.to_owned()])
    }
}
