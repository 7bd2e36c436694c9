//! IAM-lite: named inline identity policies per principal
//! (PutPrincipalPolicy, GetPrincipalPolicy, ListPrincipalPolicies,
//! DeletePrincipalPolicy). Each is authorized at the core's one choke
//! point (`Inner::authorize` on the target principal), which lets only the
//! root principal of the target principal's account through.

use super::request::{
    DeletePrincipalPolicyRequest, GetPrincipalPolicyRequest, ListPrincipalPoliciesRequest,
    PutPrincipalPolicyRequest,
};
use super::{validate, AuthzInput, Caller, Kms, LockName, Resource};
use crate::authz::{Policy, PolicyError, PolicyKind};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::printable;
use crate::model::{Operation, Principal};
use crate::store::Counter;

/// Parses the target principal and authorizes `op` on it; returns the
/// principal whose policies are meant (an STS session's are its role's).
async fn admin(
    caller: &Caller,
    kms: &Kms,
    principal_arn: &str,
    op: Operation,
) -> KmsResult<String> {
    let target = Principal::parse(principal_arn).ok_or_else(|| {
        KmsError::Validation(format!(
            "{} is not an IAM principal ARN",
            printable(principal_arn)
        ))
    })?;
    kms.inner
        .authorize(
            caller,
            op,
            Resource::Principal(&target),
            &AuthzInput::default(),
        )
        .await?;
    Ok(target.identity_arn().to_owned())
}

fn check_name(name: &str) -> KmsResult<()> {
    validate::length("policyName", name.len(), 1, 128)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        return Err(validate::validation(
            "policyName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

impl Kms {
    /// PutPrincipalPolicy: creates or replaces an inline identity policy.
    pub async fn put_principal_policy(
        &self,
        caller: &Caller,
        req: PutPrincipalPolicyRequest,
    ) -> KmsResult<()> {
        let who = admin(
            caller,
            self,
            &req.principal_arn,
            Operation::PutPrincipalPolicy,
        )
        .await?;
        check_name(&req.policy_name)?;
        validate::length("policyDocument", req.policy_document.len(), 1, 131_072)?;
        Policy::parse_as(&req.policy_document, PolicyKind::Identity).map_err(|e| match e {
            PolicyError::TooLarge { .. } => {
                KmsError::LimitExceeded(format!("The policy is too large: {e}"))
            }
            other => KmsError::MalformedPolicyDocument(other.to_string()),
        })?;
        let (name, doc) = (req.policy_name, req.policy_document);
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Principal(&who)]);
                let mut b = inner.store.batch();
                let replaces = inner
                    .store
                    .get_identity_policy(&who, &name)
                    .map_err(KmsError::internal)?
                    .is_some();
                if !replaces {
                    let limit = inner.quotas.limits().identity_policies_per_principal;
                    let have = inner
                        .store
                        .count(Counter::IdentityPolicies(&who))
                        .map_err(KmsError::internal)?;
                    if have >= limit {
                        return Err(super::quotas::exceeded(
                            "identity policies for this principal",
                            limit,
                        ));
                    }
                    b.set_count(Counter::IdentityPolicies(&who), have.saturating_add(1));
                }
                b.put_identity_policy(&who, &name, &doc);
                b.commit().map_err(KmsError::internal)?;
                inner.identity.remove(&who);
                Ok(())
            })
            .await
    }

    /// GetPrincipalPolicy.
    pub async fn get_principal_policy(
        &self,
        caller: &Caller,
        req: GetPrincipalPolicyRequest,
    ) -> KmsResult<String> {
        let who = admin(
            caller,
            self,
            &req.principal_arn,
            Operation::GetPrincipalPolicy,
        )
        .await?;
        check_name(&req.policy_name)?;
        let name = req.policy_name;
        self.inner
            .blocking(move |inner| {
                inner
                    .store
                    .get_identity_policy(&who, &name)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| {
                        KmsError::NotFound(format!("The policy {name} of {who} does not exist"))
                    })
            })
            .await
    }

    /// ListPrincipalPolicies: policy names in order, paginated.
    pub async fn list_principal_policies(
        &self,
        caller: &Caller,
        req: ListPrincipalPoliciesRequest,
    ) -> KmsResult<(Vec<String>, Option<String>)> {
        let who = admin(
            caller,
            self,
            &req.principal_arn,
            Operation::ListPrincipalPolicies,
        )
        .await?;
        let limit = validate::limit(req.page.limit)?;
        let after = validate::marker(req.page.marker.as_deref())?.map(str::to_owned);
        self.inner
            .blocking(move |inner| {
                let mut names: Vec<String> = inner
                    .store
                    .list_identity_policies(&who, after.as_deref(), limit + 1)
                    .map_err(KmsError::internal)?
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                let next = if names.len() > limit {
                    names.truncate(limit);
                    names.last().cloned()
                } else {
                    None
                };
                Ok((names, next))
            })
            .await
    }

    /// DeletePrincipalPolicy.
    pub async fn delete_principal_policy(
        &self,
        caller: &Caller,
        req: DeletePrincipalPolicyRequest,
    ) -> KmsResult<()> {
        let who = admin(
            caller,
            self,
            &req.principal_arn,
            Operation::DeletePrincipalPolicy,
        )
        .await?;
        check_name(&req.policy_name)?;
        let name = req.policy_name;
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Principal(&who)]);
                if inner
                    .store
                    .get_identity_policy(&who, &name)
                    .map_err(KmsError::internal)?
                    .is_none()
                {
                    return Err(KmsError::NotFound(format!(
                        "The policy {name} of {who} does not exist"
                    )));
                }
                let have = inner
                    .store
                    .count(Counter::IdentityPolicies(&who))
                    .map_err(KmsError::internal)?;
                let mut b = inner.store.batch();
                b.set_count(Counter::IdentityPolicies(&who), have.saturating_sub(1));
                b.delete_identity_policy(&who, &name);
                b.commit().map_err(KmsError::internal)?;
                inner.identity.remove(&who);
                Ok(())
            })
            .await
    }
}
