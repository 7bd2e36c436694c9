//! IAM-lite: named inline identity policies per principal
//! (PutPrincipalPolicy, GetPrincipalPolicy, ListPrincipalPolicies,
//! DeletePrincipalPolicy). Only the root principal of the target
//! principal's account may call these.

use super::authz::identity_principal;
use super::{validate, Caller, Kms};
use crate::authz::{Policy, PolicyError, PolicyKind};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::printable;
use crate::model::Principal;

fn check_admin(caller: &Caller, principal_arn: &str, action: &str) -> KmsResult<String> {
    let target = Principal::parse(principal_arn).ok_or_else(|| {
        KmsError::Validation(format!(
            "{} is not an IAM principal ARN",
            printable(principal_arn)
        ))
    })?;
    if caller.principal.arn() != Principal::root_arn(target.account()) {
        return Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {principal_arn}: only arn:aws:iam::{}:root may manage this principal's policies",
            caller.principal.arn(),
            target.account()
        )));
    }
    // Policies of an STS session belong to its role.
    Ok(identity_principal(target.arn()).into_owned())
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
        principal_arn: &str,
        policy_name: &str,
        document: &str,
    ) -> KmsResult<()> {
        let who = check_admin(caller, principal_arn, "iam:PutPrincipalPolicy")?;
        check_name(policy_name)?;
        validate::length("policyDocument", document.len(), 1, 131_072)?;
        Policy::parse_as(document, PolicyKind::Identity).map_err(|e| match e {
            PolicyError::TooLarge { .. } => {
                KmsError::LimitExceeded(format!("The policy is too large: {e}"))
            }
            other => KmsError::MalformedPolicyDocument(other.to_string()),
        })?;
        let name = policy_name.to_owned();
        let doc = document.to_owned();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
                let mut b = inner.store.batch();
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
        principal_arn: &str,
        policy_name: &str,
    ) -> KmsResult<String> {
        let who = check_admin(caller, principal_arn, "iam:GetPrincipalPolicy")?;
        check_name(policy_name)?;
        let name = policy_name.to_owned();
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
        principal_arn: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<(Vec<String>, Option<String>)> {
        let who = check_admin(caller, principal_arn, "iam:ListPrincipalPolicies")?;
        let limit = validate::limit(limit)?;
        let after = validate::marker(marker)?.map(str::to_owned);
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
        principal_arn: &str,
        policy_name: &str,
    ) -> KmsResult<()> {
        let who = check_admin(caller, principal_arn, "iam:DeletePrincipalPolicy")?;
        check_name(policy_name)?;
        let name = policy_name.to_owned();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
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
                let mut b = inner.store.batch();
                b.delete_identity_policy(&who, &name);
                b.commit().map_err(KmsError::internal)?;
                inner.identity.remove(&who);
                Ok(())
            })
            .await
    }
}
