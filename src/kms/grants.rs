//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant, and grant tokens.
//!
//! kmsd's grants are strongly consistent: a grant is effective for the next
//! call once CreateGrant returns, and a retired or revoked one is gone for
//! the next call. Grant tokens are still checked as AWS checks them: a
//! token is `base64url(version ‖ key id ‖ grant id ‖ HMAC-SHA-256)` under a
//! key derived from the root key, so a forged or altered token is
//! InvalidGrantTokenException (compared in constant time by `ring`).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;

use super::request::{
    CreateGrantRequest, ListGrantsRequest, ListRetirableGrantsRequest, RetireGrantRequest,
    RevokeGrantRequest,
};
use super::{validate, AuthzInput, Caller, Inner, Kms, LockName, Resource};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::printable;
use crate::model::{GrantOperation, GrantRecord, KeyId, KeyRecord, KeyRef, Operation, Principal};
use crate::store::Counter;

/// AWS's limit of grants per key.
pub const MAX_GRANTS_PER_KEY: u32 = 50_000;
const TOKEN_VERSION: u8 = 1;
const TOKEN_LEN: usize = 1 + 17 + 32 + 32;

fn parse_grant_id(s: &str) -> KmsResult<[u8; 32]> {
    let mut g = [0u8; 32];
    if s.len() != 64 || hex::decode_to_slice(s, &mut g).is_err() {
        return Err(KmsError::InvalidGrantId(format!(
            "Invalid grant id {}",
            printable(s)
        )));
    }
    Ok(g)
}

fn check_principal(field: &str, p: &str) -> KmsResult<()> {
    validate::length(field, p.len(), 1, 256)?;
    if Principal::parse(p).is_none() {
        return Err(validate::validation(
            field,
            "Member must be an IAM principal ARN (arn:aws:iam::ACCOUNT:root, ...:user/NAME, ...:role/NAME)",
        ));
    }
    Ok(())
}

impl Inner {
    fn mint_token(&self, key: &KeyId, grant_id: &[u8; 32]) -> String {
        let mut raw = Vec::with_capacity(TOKEN_LEN);
        raw.push(TOKEN_VERSION);
        raw.extend_from_slice(&key.storage_key());
        raw.extend_from_slice(grant_id);
        let k = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            self.grant_token_key.expose_secret(),
        );
        let tag = ring::hmac::sign(&k, &raw);
        raw.extend_from_slice(tag.as_ref());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Verifies a grant token; returns the key and grant it names.
    fn verify_token(&self, token: &str) -> KmsResult<(KeyId, [u8; 32])> {
        let bad = || KmsError::InvalidGrantToken("The grant token is not valid".into());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| bad())?;
        if raw.len() != TOKEN_LEN || raw[0] != TOKEN_VERSION {
            return Err(bad());
        }
        let (body, tag) = raw.split_at(TOKEN_LEN - 32);
        let k = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            self.grant_token_key.expose_secret(),
        );
        ring::hmac::verify(&k, body, tag).map_err(|_| bad())?;
        let key = KeyId::from_storage_key(&body[1..18]).ok_or_else(bad)?;
        let g: [u8; 32] = body[18..50].try_into().map_err(|_| bad())?;
        Ok((key, g))
    }

    /// The cheap check of a request's GrantTokens, before any lookup:
    /// their count and lengths. Their MACs are checked only once the
    /// request is authorized ([`Inner::verify_grant_tokens`]).
    pub(super) fn check_grant_tokens(&self, tokens: &[String]) -> KmsResult<()> {
        validate::grant_tokens(tokens)
    }

    /// Checks the GrantTokens of an authorized request: each must be one
    /// kmsd issued, for one of the request's `keys`, naming a grant that
    /// still exists. (Grants are effective at once in kmsd, so a valid
    /// token adds no permission; an invalid one fails the request, as in
    /// AWS.)
    pub(super) async fn verify_grant_tokens(
        self: &Arc<Self>,
        tokens: &[String],
        keys: &[KeyId],
    ) -> KmsResult<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        let mut named = Vec::with_capacity(tokens.len());
        for t in tokens {
            let (kid, gid) = self.verify_token(t)?;
            if !keys.contains(&kid) {
                return Err(KmsError::InvalidGrantToken(
                    "The grant token is not for the key of this request".into(),
                ));
            }
            named.push((kid, gid));
        }
        let all_exist = self
            .blocking(move |inner| {
                for (kid, gid) in &named {
                    if inner
                        .store
                        .get_grant(kid, gid)
                        .map_err(KmsError::internal)?
                        .is_none()
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            })
            .await?;
        if !all_exist {
            return Err(KmsError::InvalidGrantToken(
                "The grant token names a grant that no longer exists".into(),
            ));
        }
        Ok(())
    }

    /// Removes grant `grant_id` of the (already authorized) key `key`:
    /// retire or revoke. Call with the key's lock held; the grant and the
    /// key record are re-read under it.
    fn remove_grant_locked(&self, key: &KeyRecord, grant_id: &[u8; 32]) -> KmsResult<()> {
        let g = self
            .store
            .get_grant(&key.id, grant_id)
            .map_err(KmsError::internal)?
            .ok_or_else(|| {
                KmsError::NotFound(format!("Grant {} does not exist", hex::encode(grant_id)))
            })?;
        let key = self
            .load_key(&key.id)?
            .ok_or_else(|| super::not_found_key(&key.arn(&self.region)))?;
        let mut rec = (*key).clone();
        rec.grant_count = rec.grant_count.saturating_sub(1);
        let per_grantee = Counter::GranteeGrants(&key.id, &g.grantee_principal);
        let have = self.store.count(per_grantee).map_err(KmsError::internal)?;
        let mut b = self.store.batch();
        b.set_count(per_grantee, have.saturating_sub(1));
        b.delete_grant(&key.id, grant_id, &g);
        b.put_key(&rec).map_err(KmsError::internal)?;
        b.commit().map_err(KmsError::internal)?;
        self.grants.remove(&(key.id, g.grantee_principal.clone()));
        self.cache_put_key(rec);
        Ok(())
    }

    /// Deletes every grant of a key being deleted (part of its batch).
    pub(super) fn delete_all_grants(
        &self,
        key: &KeyRecord,
        b: &mut crate::store::Batch<'_>,
    ) -> KmsResult<Vec<String>> {
        let grants = self
            .store
            .list_grants(&key.id, None, usize::MAX)
            .map_err(KmsError::internal)?;
        let mut grantees = Vec::with_capacity(grants.len());
        for g in grants {
            let gid = parse_grant_id(&g.grant_id).map_err(KmsError::internal)?;
            b.delete_grant(&key.id, &gid, &g);
            grantees.push(g.grantee_principal);
        }
        b.delete_grant_counts(&key.id);
        Ok(grantees)
    }
}

impl Kms {
    /// CreateGrant: returns (grant id, grant token).
    pub async fn create_grant(
        &self,
        caller: &Caller,
        input: CreateGrantRequest,
    ) -> KmsResult<(String, String)> {
        check_principal("granteePrincipal", &input.grantee_principal)?;
        if let Some(r) = &input.retiring_principal {
            check_principal("retiringPrincipal", r)?;
        }
        if input.operations.is_empty() {
            return Err(validate::validation(
                "operations",
                "Member must not be empty",
            ));
        }
        for map in [
            &input.constraints.encryption_context_equals,
            &input.constraints.encryption_context_subset,
        ]
        .into_iter()
        .flatten()
        {
            // Constraint keys match case-insensitively (AWS), so two keys
            // that differ only in case would make the constraint mean
            // whichever one a lookup meets first.
            let mut seen = std::collections::HashSet::new();
            if map.keys().any(|k| !seen.insert(k.to_lowercase())) {
                return Err(KmsError::Validation(
                    "A grant constraint cannot have two keys that differ only in case: constraint keys are case-insensitive".into(),
                ));
            }
        }
        if !input.constraints.is_empty() {
            // AWS: constraints need operations that take an encryption
            // context; DescribeKey and RetireGrant may come along (the
            // constraint does not apply to them), and CreateGrant (every
            // grant created through it must be as strict).
            if let Some(op) = input.operations.iter().find(|o| {
                !o.takes_encryption_context()
                    && !matches!(
                        o,
                        GrantOperation::DescribeKey
                            | GrantOperation::RetireGrant
                            | GrantOperation::CreateGrant
                    )
            }) {
                return Err(KmsError::Validation(format!(
                    "Grant constraints are not supported for the {op} operation: it takes no encryption context"
                )));
            }
        }
        if let Some(n) = &input.name {
            validate::length("name", n.len(), 1, 256)?;
            if !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b))
            {
                return Err(validate::validation(
                    "name",
                    "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
                ));
            }
        }
        self.inner.check_grant_tokens(&input.grant_tokens)?;

        let mut ops: Vec<GrantOperation> = input.operations.clone();
        ops.sort_by_key(|o| o.as_aws_str());
        ops.dedup();
        let authz = AuthzInput::default()
            .multi(
                "kms:grantoperations",
                ops.iter().map(|o| Cow::Borrowed(o.as_aws_str())).collect(),
            )
            .value("kms:granteeprincipal", input.grantee_principal.as_str())
            .value("kms:grantisforawsresource", "false")
            .multi(
                "kms:grantconstrainttype",
                input
                    .constraints
                    .types()
                    .into_iter()
                    .map(Cow::Borrowed)
                    .collect(),
            );
        let mut authz = match &input.retiring_principal {
            Some(r) => authz.value("kms:retiringprincipal", r.as_str()),
            None => authz,
        };
        authz.new_grant = Some((&ops, &input.constraints));
        let key = self
            .inner
            .resolve(caller, &input.key_id, Operation::CreateGrant, &authz)
            .await?;
        self.inner
            .verify_grant_tokens(&input.grant_tokens, &[key.id])
            .await?;
        if let Some(op) = ops.iter().find(|o| !o.valid_for(key.spec, key.usage)) {
            return Err(KmsError::Validation(format!(
                "The grant operation {op} is not valid for a key with KeySpec {} and KeyUsage {}",
                key.spec, key.usage
            )));
        }
        let issuing_account = Principal::root_arn(caller.principal.account());
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                let key = inner.recheck(&key, Operation::CreateGrant)?;
                // Idempotent retry: a grant of the same name with the
                // same parameters. Several grants may share a name (one
                // per set of parameters, as in AWS).
                if let Some(name) = &input.name {
                    for gid in inner
                        .store
                        .grants_by_name(&key.id, name)
                        .map_err(KmsError::internal)?
                    {
                        if let Some(g) = inner
                            .store
                            .get_grant(&key.id, &gid)
                            .map_err(KmsError::internal)?
                        {
                            if g.grantee_principal == input.grantee_principal
                                && g.retiring_principal == input.retiring_principal
                                && g.operations == ops
                                && g.constraints == input.constraints
                            {
                                return Ok((g.grant_id, inner.mint_token(&key.id, &gid)));
                            }
                        }
                    }
                }
                if key.grant_count >= MAX_GRANTS_PER_KEY {
                    return Err(KmsError::LimitExceeded(format!(
                        "A key can have at most {MAX_GRANTS_PER_KEY} grants"
                    )));
                }
                let per_grantee = Counter::GranteeGrants(&key.id, &input.grantee_principal);
                let limit = inner.quotas.limits().grants_per_grantee_per_key;
                let have = inner.store.count(per_grantee).map_err(KmsError::internal)?;
                if have >= limit {
                    return Err(super::quotas::exceeded(
                        "grants on this key for this grantee principal",
                        limit,
                    ));
                }
                let mut gid = [0u8; 32];
                crate::crypto::fill_random(&mut gid).map_err(KmsError::internal)?;
                let grant = GrantRecord {
                    grant_id: hex::encode(gid),
                    key_id: key.arn(&inner.region),
                    name: input.name.clone(),
                    created_ms: inner.now_ms(),
                    grantee_principal: input.grantee_principal.clone(),
                    retiring_principal: input.retiring_principal.clone(),
                    issuing_account,
                    operations: ops,
                    constraints: input.constraints.clone(),
                };
                let mut rec = (*key).clone();
                rec.grant_count += 1;
                let mut b = inner.store.batch();
                b.set_count(
                    Counter::GranteeGrants(&key.id, &grant.grantee_principal),
                    have.saturating_add(1),
                );
                b.put_grant(&key.id, &gid, &grant)
                    .map_err(KmsError::internal)?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner
                    .grants
                    .remove(&(key.id, grant.grantee_principal.clone()));
                inner.cache_put_key(rec);
                Ok((grant.grant_id, inner.mint_token(&key.id, &gid)))
            })
            .await
    }

    /// ListGrants: the key's grants in grant-id order, optionally filtered.
    pub async fn list_grants(
        &self,
        caller: &Caller,
        req: ListGrantsRequest,
    ) -> KmsResult<(Vec<GrantRecord>, Option<String>)> {
        let limit = validate::limit(req.page.limit)?;
        let after = match validate::marker(req.page.marker.as_deref())? {
            Some(m) => Some(parse_grant_id(m).map_err(|_| {
                KmsError::InvalidMarker("The marker is not one that ListGrants returned".into())
            })?),
            None => None,
        };
        let wanted = req.grant_id.as_deref().map(parse_grant_id).transpose()?;
        if let Some(g) = &req.grantee_principal {
            validate::length("granteePrincipal", g.len(), 1, 256)?;
        }
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
                Operation::ListGrants,
                &AuthzInput::default(),
            )
            .await?;
        let grantee = req.grantee_principal;
        self.inner
            .blocking(move |inner| {
                let mut page: Vec<GrantRecord> = match (&wanted, &grantee) {
                    (Some(gid), _) => inner
                        .store
                        .get_grant(&key.id, gid)
                        .map_err(KmsError::internal)?
                        .into_iter()
                        .filter(|g| grantee.as_ref().is_none_or(|p| &g.grantee_principal == p))
                        .collect(),
                    (None, Some(p)) => {
                        let mut v = inner
                            .store
                            .grants_for_grantee(&key.id, p)
                            .map_err(KmsError::internal)?;
                        v.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
                        v.retain(|g| after.is_none_or(|a| g.grant_id > hex::encode(a)));
                        v.truncate(limit + 1);
                        v
                    }
                    (None, None) => inner
                        .store
                        .list_grants(&key.id, after.as_ref(), limit + 1)
                        .map_err(KmsError::internal)?,
                };
                let next = if page.len() > limit {
                    page.truncate(limit);
                    page.last().map(|g| g.grant_id.clone())
                } else {
                    None
                };
                Ok((page, next))
            })
            .await
    }

    /// ListRetirableGrants: grants whose retiring principal is `principal`
    /// (a principal of the caller's account).
    pub async fn list_retirable_grants(
        &self,
        caller: &Caller,
        req: ListRetirableGrantsRequest,
    ) -> KmsResult<(Vec<GrantRecord>, Option<String>)> {
        let retiring_principal = req.retiring_principal.as_str();
        check_principal("retiringPrincipal", retiring_principal)?;
        let limit = validate::limit(req.page.limit)?;
        let after = match validate::marker(req.page.marker.as_deref())? {
            Some(m) => {
                let bad = || {
                    KmsError::InvalidMarker(
                        "The marker is not one that ListRetirableGrants returned".into(),
                    )
                };
                let raw = hex::decode(m).map_err(|_| bad())?;
                if raw.len() != 49 {
                    return Err(bad());
                }
                let key = KeyId::from_storage_key(&raw[..17]).ok_or_else(bad)?;
                let g: [u8; 32] = raw[17..].try_into().map_err(|_| bad())?;
                Some((key, g))
            }
            None => None,
        };
        let target = Principal::parse(retiring_principal).ok_or_else(|| {
            validate::validation("retiringPrincipal", "Member must be an IAM principal ARN")
        })?;
        let input = AuthzInput::default();
        self.inner
            .authorize(
                caller,
                Operation::ListRetirableGrants,
                Resource::None,
                &input,
            )
            .await?;
        if target.account() != caller.principal.account() {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:ListRetirableGrants for principals of account {}",
                caller.principal.arn(),
                target.account()
            )));
        }
        let who = retiring_principal.to_owned();
        self.inner
            .blocking(move |inner| {
                let ids = inner
                    .store
                    .retirable_grants(&who, after.as_ref().map(|(k, g)| (k, g)), limit + 1)
                    .map_err(KmsError::internal)?;
                let more = ids.len() > limit;
                let mut page = Vec::new();
                let mut last = None;
                for (key, gid) in ids.into_iter().take(limit) {
                    if let Some(g) = inner
                        .store
                        .get_grant(&key, &gid)
                        .map_err(KmsError::internal)?
                    {
                        page.push(g);
                    }
                    last = Some((key, gid));
                }
                let next = if more {
                    last.map(|(k, g)| {
                        let mut m = k.storage_key().to_vec();
                        m.extend_from_slice(&g);
                        hex::encode(m)
                    })
                } else {
                    None
                };
                Ok((page, next))
            })
            .await
    }

    /// RetireGrant: by token, or by key and grant id. Allowed for the
    /// retiring principal, the grantee when the grant includes RetireGrant,
    /// the root of the key's account, or a principal whose policies allow
    /// kms:RetireGrant on the key.
    pub async fn retire_grant(&self, caller: &Caller, req: RetireGrantRequest) -> KmsResult<()> {
        let from_token = match req.grant_token.as_deref() {
            Some(t) => {
                validate::length("grantToken", t.len(), 1, 8192)?;
                Some(self.inner.verify_token(t)?)
            }
            None => None,
        };
        let gid_param = req.grant_id.as_deref().map(parse_grant_id).transpose()?;
        if from_token.is_none() && (req.key_id.is_none() || gid_param.is_none()) {
            return Err(KmsError::Validation(
                "Specify GrantToken, or both KeyId and GrantId".into(),
            ));
        }
        let inner = &self.inner;
        let (key, gid) = match (from_token, req.key_id.as_deref()) {
            (Some((kid, gid)), named) => {
                let key = inner
                    .key(kid)
                    .await?
                    .ok_or_else(|| KmsError::NotFound("The grant's key does not exist".into()))?;
                if let Some(n) = named {
                    let matches = match KeyRef::parse(n)? {
                        KeyRef::Id(id) | KeyRef::KeyArn { id, .. } => id == kid,
                        _ => false,
                    };
                    if !matches {
                        return Err(KmsError::InvalidGrantToken(
                            "The grant token does not belong to the key given".into(),
                        ));
                    }
                }
                if gid_param.is_some_and(|g| g != gid) {
                    return Err(KmsError::InvalidGrantToken(
                        "The grant token does not name the grant id given".into(),
                    ));
                }
                (key, gid)
            }
            (None, Some(n)) => {
                let (account, id) = match KeyRef::parse(n)? {
                    KeyRef::Id(id) => (caller.principal.account().to_owned(), id),
                    KeyRef::KeyArn { account, id, .. } => (account, id),
                    _ => {
                        return Err(KmsError::NotFound(format!(
                            "Invalid keyId {}: RetireGrant takes a key id or key ARN",
                            printable(n)
                        )))
                    }
                };
                let key = inner.owned_by(&account, &id, inner.key(id).await?)?;
                let gid =
                    gid_param.ok_or_else(|| KmsError::Validation("GrantId is required".into()))?;
                (key, gid)
            }
            (None, None) => {
                return Err(KmsError::Validation(
                    "Specify GrantToken, or both KeyId and GrantId".into(),
                ))
            }
        };
        let id = key.id;
        let grant = inner
            .blocking(move |i| i.store.get_grant(&id, &gid).map_err(KmsError::internal))
            .await?
            .ok_or_else(|| {
                KmsError::NotFound(format!("Grant {} does not exist", hex::encode(gid)))
            })?;
        let who = caller.principal.arn();
        let permitted = grant.retiring_principal.as_deref() == Some(who)
            || (grant.grantee_principal == who
                && grant.operations.contains(&GrantOperation::RetireGrant))
            || who == Principal::root_arn(&key.account)
            // Anyone else needs kms:RetireGrant from the key policy or
            // their identity policies: a grant of their own with
            // RetireGrant retires that grant only (above), never another's.
            || inner
                .authorize(
                    caller,
                    Operation::RetireGrant,
                    Resource::Key(&key),
                    &AuthzInput {
                        policies_only: true,
                        ..AuthzInput::default()
                    },
                )
                .await
                .is_ok();
        if !permitted {
            // The one denial wording: it names no key of another account.
            return Err(inner.denied(caller, Operation::RetireGrant, Some(&key)));
        }
        inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                inner.remove_grant_locked(&key, &gid)
            })
            .await
    }

    /// RevokeGrant: needs kms:RevokeGrant on the key.
    pub async fn revoke_grant(&self, caller: &Caller, req: RevokeGrantRequest) -> KmsResult<()> {
        let gid = parse_grant_id(&req.grant_id)?;
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
                Operation::RevokeGrant,
                &AuthzInput::default(),
            )
            .await?;
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&key.id)]);
                inner.remove_grant_locked(&key, &gid)
            })
            .await
    }
}
