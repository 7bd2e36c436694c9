//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! An alias belongs to an account and Region and points at one key of the
//! same account. Aliases live in their own column family with a reverse
//! index by key, so "aliases of this key" and the per-key quota are cheap.

use std::sync::Arc;

use super::{alias_not_found, validate, AuthzInput, Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::alias_arn;
use crate::model::{AliasName, KeyId, Operation};
use crate::store::AliasRecord;

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

impl Kms {
    /// CreateAlias.
    pub async fn create_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        let alias = AliasName::parse_for_create(alias_name)?;
        let caller = caller.clone();
        let target_key_id = target_key_id.to_owned();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
                let key = inner.resolve_blocking(
                    &caller,
                    &target_key_id,
                    Operation::CreateAlias,
                    &AuthzInput::default(),
                )?;
                let account = caller.principal.account();
                if inner
                    .store
                    .get_alias(account, &alias)
                    .map_err(KmsError::internal)?
                    .is_some()
                {
                    return Err(KmsError::AlreadyExists(format!(
                        "An alias with the name {} already exists",
                        alias_arn(&inner.region, account, &alias)
                    )));
                }
                let count = inner
                    .store
                    .aliases_of_key(&key.id)
                    .map_err(KmsError::internal)?
                    .len();
                if count >= validate::MAX_ALIASES_PER_KEY {
                    return Err(KmsError::LimitExceeded(format!(
                        "A key can have at most {} aliases",
                        validate::MAX_ALIASES_PER_KEY
                    )));
                }
                let now = inner.now_ms();
                let rec = AliasRecord {
                    target: key.id.to_string(),
                    created_ms: now,
                    updated_ms: now,
                };
                let mut b = inner.store.batch();
                b.put_alias(account, &alias, &rec, None)
                    .map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner
                    .aliases
                    .put((account.to_owned(), alias), Arc::new(key.id));
                Ok(())
            })
            .await
    }

    /// UpdateAlias: points an existing alias at another key of the account.
    pub async fn update_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        let alias = AliasName::parse_for_create(alias_name)?;
        let caller = caller.clone();
        let target_key_id = target_key_id.to_owned();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
                let account = caller.principal.account();
                let existing = inner
                    .store
                    .get_alias(account, &alias)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| alias_not_found(&alias_arn(&inner.region, account, &alias)))?;
                let old_target = existing.target_id().map_err(KmsError::internal)?;
                // The caller needs UpdateAlias on the key the alias leaves...
                let old_key = inner.key_blocking(&old_target)?;
                inner.authorize_blocking(
                    &caller,
                    Operation::UpdateAlias,
                    old_key.as_deref(),
                    &AuthzInput::default(),
                )?;
                // ...and on the key it moves to.
                let key = inner.resolve_blocking(
                    &caller,
                    &target_key_id,
                    Operation::UpdateAlias,
                    &AuthzInput::default(),
                )?;
                if key.id != old_target {
                    let count = inner
                        .store
                        .aliases_of_key(&key.id)
                        .map_err(KmsError::internal)?
                        .len();
                    if count >= validate::MAX_ALIASES_PER_KEY {
                        return Err(KmsError::LimitExceeded(format!(
                            "A key can have at most {} aliases",
                            validate::MAX_ALIASES_PER_KEY
                        )));
                    }
                }
                let rec = AliasRecord {
                    target: key.id.to_string(),
                    created_ms: existing.created_ms,
                    updated_ms: inner.now_ms(),
                };
                let mut b = inner.store.batch();
                b.put_alias(account, &alias, &rec, Some(&old_target))
                    .map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner
                    .aliases
                    .put((account.to_owned(), alias), Arc::new(key.id));
                Ok(())
            })
            .await
    }

    /// DeleteAlias.
    pub async fn delete_alias(&self, caller: &Caller, alias_name: &str) -> KmsResult<()> {
        let alias = AliasName::parse(alias_name)?;
        let caller = caller.clone();
        self.inner
            .blocking(move |inner| {
                let _w = inner.write_guard();
                let account = caller.principal.account();
                let existing = inner
                    .store
                    .get_alias(account, &alias)
                    .map_err(KmsError::internal)?
                    .ok_or_else(|| alias_not_found(&alias_arn(&inner.region, account, &alias)))?;
                let target = existing.target_id().map_err(KmsError::internal)?;
                let key = inner.key_blocking(&target)?;
                inner.authorize_blocking(
                    &caller,
                    Operation::DeleteAlias,
                    key.as_deref(),
                    &AuthzInput::default(),
                )?;
                let mut b = inner.store.batch();
                b.delete_alias(account, &alias, &target);
                b.commit().map_err(KmsError::internal)?;
                inner.aliases.remove(&(account.to_owned(), alias));
                Ok(())
            })
            .await
    }

    /// ListAliases: the caller's account's aliases in name order, or only
    /// those of one key.
    pub async fn list_aliases(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<(Vec<AliasEntry>, Option<String>)> {
        let limit = validate::limit(limit)?;
        let after = validate::marker(marker)?.map(str::to_owned);
        if let Some(m) = &after {
            AliasName::parse(m).map_err(|_| {
                KmsError::InvalidMarker("The marker is not one that ListAliases returned".into())
            })?;
        }
        let caller = caller.clone();
        let key_id = key_id.map(str::to_owned);
        self.inner
            .blocking(move |inner| {
                let account = caller.principal.account().to_owned();
                let mut page: Vec<(AliasName, AliasRecord)> = match &key_id {
                    Some(k) => {
                        let key = inner.resolve_blocking(
                            &caller,
                            k,
                            Operation::ListAliases,
                            &AuthzInput::default(),
                        )?;
                        let mut names = inner
                            .store
                            .aliases_of_key(&key.id)
                            .map_err(KmsError::internal)?;
                        names.retain(|n| after.as_deref().is_none_or(|a| n.as_str() > a));
                        let mut out = Vec::new();
                        for n in names.into_iter().take(limit + 1) {
                            if let Some(rec) = inner
                                .store
                                .get_alias(&account, &n)
                                .map_err(KmsError::internal)?
                            {
                                out.push((n, rec));
                            }
                        }
                        out
                    }
                    None => {
                        inner.authorize_blocking(
                            &caller,
                            Operation::ListAliases,
                            None,
                            &AuthzInput::default(),
                        )?;
                        inner
                            .store
                            .list_aliases(&account, after.as_deref(), limit + 1)
                            .map_err(KmsError::internal)?
                    }
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
