//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! An alias belongs to an account and Region and points at one key of the
//! same account. Aliases live in their own column family with a reverse
//! index by key, so "aliases of this key" and the per-key quota are cheap.

use std::sync::Arc;

use super::request::{
    CreateAliasRequest, DeleteAliasRequest, ListAliasesRequest, UpdateAliasRequest,
};
use super::{alias_not_found, validate, AuthzInput, Caller, Inner, Kms, LockName, Resource};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::alias_arn;
use crate::model::{AliasName, KeyId, KeyRecord, KeyRef, Operation};
use crate::store::{AliasRecord, Counter};

/// One alias, as ListAliases returns it.
#[derive(Debug, Clone)]
pub struct AliasEntry {
    /// `alias/...`.
    pub name: AliasName,
    /// The alias ARN.
    pub arn: String,
    /// The key it points at.
    pub target: KeyId,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Last update, Unix ms.
    pub updated_ms: i64,
}

/// How often an alias change starts over when another writer moved the
/// alias between its authorization and taking the alias's lock.
const ALIAS_RETRIES: usize = 8;

impl Inner {
    /// Alias `alias` of `account` as stored now, with its target (blocking
    /// pool only).
    fn load_alias(&self, account: &str, alias: &AliasName) -> KmsResult<Option<AliasRecord>> {
        self.store
            .get_alias(account, alias)
            .map_err(KmsError::internal)
    }

    /// Refuses a new alias on `key` when the key already has the most
    /// aliases AWS allows (blocking pool only).
    fn check_alias_quota(&self, account: &str, key: &KeyId) -> KmsResult<()> {
        let count = self
            .store
            .aliases_of_key(account, key)
            .map_err(KmsError::internal)?
            .len();
        if count >= validate::MAX_ALIASES_PER_KEY {
            return Err(KmsError::LimitExceeded(format!(
                "A key can have at most {} aliases",
                validate::MAX_ALIASES_PER_KEY
            )));
        }
        Ok(())
    }

    /// The alias as stored and the record of the key it points at, for an
    /// alias change; NotFound if the alias does not exist.
    async fn existing_alias(
        self: &Arc<Self>,
        account: &str,
        alias: &AliasName,
    ) -> KmsResult<(AliasRecord, KeyId, Option<Arc<KeyRecord>>)> {
        let (acct, a) = (account.to_owned(), alias.clone());
        let existing = self
            .blocking(move |inner| inner.load_alias(&acct, &a))
            .await?
            .ok_or_else(|| alias_not_found(&alias_arn(&self.region, account, alias)))?;
        let target = existing.target_id().map_err(KmsError::internal)?;
        let key = self.key(target).await?;
        Ok((existing, target, key))
    }
}

/// Refuses a TargetKeyId naming a key of another account: an alias and its
/// key are always of one account (AWS), and an alias in one account must
/// not change another account's `kms:ResourceAliases`. Decided from the
/// name alone, so the answer says nothing about whether such a key exists.
fn check_target_account(caller: &Caller, target_key_id: &str) -> KmsResult<()> {
    if let KeyRef::KeyArn { account, .. } = KeyRef::parse(target_key_id)? {
        if account != caller.principal.account() {
            return Err(KmsError::Validation(
                "TargetKeyId must identify a KMS key in the same AWS account and Region as the alias"
                    .into(),
            ));
        }
    }
    Ok(())
}

impl Kms {
    /// CreateAlias.
    pub async fn create_alias(&self, caller: &Caller, req: CreateAliasRequest) -> KmsResult<()> {
        let alias = AliasName::parse_for_create(&req.alias_name)?;
        check_target_account(caller, &req.target_key_id)?;
        let key = self
            .inner
            .resolve(
                caller,
                &req.target_key_id,
                Operation::CreateAlias,
                &AuthzInput::default(),
            )
            .await?;
        let account = caller.principal.account().to_owned();
        self.inner
            .blocking(move |inner| {
                // The alias name, the key (its alias count and deletion)
                // and the account's alias counter.
                let _w = inner.lock(&[
                    LockName::Alias(&account, &alias),
                    LockName::Key(&key.id),
                    LockName::Account(&account),
                ]);
                let key = inner.recheck(&key, Operation::CreateAlias)?;
                if inner.load_alias(&account, &alias)?.is_some() {
                    return Err(KmsError::AlreadyExists(format!(
                        "An alias with the name {} already exists",
                        alias_arn(&inner.region, &account, &alias)
                    )));
                }
                inner.check_alias_quota(&account, &key.id)?;
                let limit = inner.quotas.limits().aliases_per_account;
                let have = inner
                    .store
                    .count(Counter::Aliases(&account))
                    .map_err(KmsError::internal)?;
                if have >= limit {
                    return Err(super::quotas::exceeded("aliases in this account", limit));
                }
                let now = inner.now_ms();
                let rec = AliasRecord {
                    target: key.id.to_string(),
                    created_ms: now,
                    updated_ms: now,
                };
                let mut b = inner.store.batch();
                b.set_count(Counter::Aliases(&account), have.saturating_add(1));
                b.put_alias(&account, &alias, &rec, None)
                    .map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner.aliases.put((account, alias), Arc::new(key.id));
                Ok(())
            })
            .await
    }

    /// UpdateAlias: points an existing alias at another key of the account.
    /// The caller needs kms:UpdateAlias on both the key the alias leaves
    /// and the key it moves to.
    pub async fn update_alias(&self, caller: &Caller, req: UpdateAliasRequest) -> KmsResult<()> {
        let alias = AliasName::parse_for_create(&req.alias_name)?;
        check_target_account(caller, &req.target_key_id)?;
        let account = caller.principal.account().to_owned();
        for _ in 0..ALIAS_RETRIES {
            let (existing, old_target, old_key) =
                self.inner.existing_alias(&account, &alias).await?;
            let old_key = old_key.as_deref().map_or(Resource::None, Resource::Key);
            self.inner
                .authorize(
                    caller,
                    Operation::UpdateAlias,
                    old_key,
                    &AuthzInput::default(),
                )
                .await?;
            let key = self
                .inner
                .resolve(
                    caller,
                    &req.target_key_id,
                    Operation::UpdateAlias,
                    &AuthzInput::default(),
                )
                .await?;
            let (account, alias) = (account.clone(), alias.clone());
            let done = self
                .inner
                .blocking(move |inner| {
                    // The alias, the key it leaves and the key it moves to.
                    let _w = inner.lock(&[
                        LockName::Alias(&account, &alias),
                        LockName::Key(&old_target),
                        LockName::Key(&key.id),
                    ]);
                    let Some(now) = inner.load_alias(&account, &alias)? else {
                        return Err(alias_not_found(&alias_arn(&inner.region, &account, &alias)));
                    };
                    if now.target != existing.target {
                        // Moved by another writer since it was authorized.
                        return Ok(false);
                    }
                    let key = inner.recheck(&key, Operation::UpdateAlias)?;
                    if key.id != old_target {
                        inner.check_alias_quota(&account, &key.id)?;
                    }
                    let rec = AliasRecord {
                        target: key.id.to_string(),
                        created_ms: existing.created_ms,
                        updated_ms: inner.now_ms(),
                    };
                    let mut b = inner.store.batch();
                    b.put_alias(&account, &alias, &rec, Some(&old_target))
                        .map_err(KmsError::internal)?;
                    b.commit().map_err(KmsError::internal)?;
                    inner.aliases.put((account, alias), Arc::new(key.id));
                    Ok(true)
                })
                .await?;
            if done {
                return Ok(());
            }
        }
        Err(KmsError::internal(format!(
            "UpdateAlias gave up after {ALIAS_RETRIES} concurrent changes of the alias"
        )))
    }

    /// DeleteAlias: needs kms:DeleteAlias on the key the alias points at.
    pub async fn delete_alias(&self, caller: &Caller, req: DeleteAliasRequest) -> KmsResult<()> {
        let alias = AliasName::parse(&req.alias_name)?;
        let account = caller.principal.account().to_owned();
        for _ in 0..ALIAS_RETRIES {
            let (existing, target, key) = self.inner.existing_alias(&account, &alias).await?;
            let resource = key.as_deref().map_or(Resource::None, Resource::Key);
            self.inner
                .authorize(
                    caller,
                    Operation::DeleteAlias,
                    resource,
                    &AuthzInput::default(),
                )
                .await?;
            let (account, alias) = (account.clone(), alias.clone());
            let done = self
                .inner
                .blocking(move |inner| {
                    let _w = inner.lock(&[
                        LockName::Alias(&account, &alias),
                        LockName::Key(&target),
                        LockName::Account(&account),
                    ]);
                    let Some(now) = inner.load_alias(&account, &alias)? else {
                        return Err(alias_not_found(&alias_arn(&inner.region, &account, &alias)));
                    };
                    if now.target != existing.target {
                        return Ok(false);
                    }
                    let have = inner
                        .store
                        .count(Counter::Aliases(&account))
                        .map_err(KmsError::internal)?;
                    let mut b = inner.store.batch();
                    b.set_count(Counter::Aliases(&account), have.saturating_sub(1));
                    b.delete_alias(&account, &alias, &target);
                    b.commit().map_err(KmsError::internal)?;
                    inner.aliases.remove(&(account, alias));
                    Ok(true)
                })
                .await?;
            if done {
                return Ok(());
            }
        }
        Err(KmsError::internal(format!(
            "DeleteAlias gave up after {ALIAS_RETRIES} concurrent changes of the alias"
        )))
    }

    /// ListAliases: the caller's account's aliases in name order, or only
    /// those of one key.
    pub async fn list_aliases(
        &self,
        caller: &Caller,
        req: ListAliasesRequest,
    ) -> KmsResult<(Vec<AliasEntry>, Option<String>)> {
        let limit = validate::limit(req.page.limit)?;
        let after = validate::marker(req.page.marker.as_deref())?.map(str::to_owned);
        if let Some(m) = &after {
            AliasName::parse(m).map_err(|_| {
                KmsError::InvalidMarker("The marker is not one that ListAliases returned".into())
            })?;
        }
        let of_key = match &req.key_id {
            Some(k) => Some(
                self.inner
                    .resolve(caller, k, Operation::ListAliases, &AuthzInput::default())
                    .await?
                    .id,
            ),
            None => {
                self.inner
                    .authorize(
                        caller,
                        Operation::ListAliases,
                        Resource::None,
                        &AuthzInput::default(),
                    )
                    .await?;
                None
            }
        };
        let account = caller.principal.account().to_owned();
        self.inner
            .blocking(move |inner| {
                let mut page: Vec<(AliasName, AliasRecord)> = match of_key {
                    Some(id) => {
                        let mut names = inner
                            .store
                            .aliases_of_key(&account, &id)
                            .map_err(KmsError::internal)?;
                        names.retain(|n| after.as_deref().is_none_or(|a| n.as_str() > a));
                        let mut out = Vec::new();
                        for n in names.into_iter().take(limit + 1) {
                            if let Some(rec) = inner.load_alias(&account, &n)? {
                                out.push((n, rec));
                            }
                        }
                        out
                    }
                    None => inner
                        .store
                        .list_aliases(&account, after.as_deref(), limit + 1)
                        .map_err(KmsError::internal)?,
                };
                let next = if page.len() > limit {
                    page.truncate(limit);
                    page.last().map(|(n, _)| n.as_str().to_owned())
                } else {
                    None
                };
                let entries = page
                    .into_iter()
                    .map(|(name, rec)| {
                        Ok(AliasEntry {
                            arn: alias_arn(&inner.region, &account, &name),
                            target: rec.target_id().map_err(KmsError::internal)?,
                            created_ms: rec.created_ms,
                            updated_ms: rec.updated_ms,
                            name,
                        })
                    })
                    .collect::<KmsResult<Vec<_>>>()?;
                Ok((entries, next))
            })
            .await
    }
}
