//! Key management: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::policies::compile_key_policy;
use super::request::{
    CancelKeyDeletionRequest, CreateKeyRequest, DescribeKeyRequest, DisableKeyRequest,
    EnableKeyRequest, ListKeysRequest, ScheduleKeyDeletionRequest, UpdateKeyDescriptionRequest,
};
use super::{default_key_policy, validate, AuthzInput, Caller, Inner, Kms, LockName, Resource};
use crate::clock::DAY_MS;
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyId, KeyRecord, KeySpec, KeyState, Operation, Origin, RotationType};
use crate::store::{Batch, Counter, Schedule};

/// Keys per synced batch in [`Kms::create_keys_bulk`]: large enough that
/// the fsync is amortized, small enough that a batch (~7 MB) stays cheap.
pub const BULK_BATCH: usize = 10_000;

/// ScheduleKeyDeletion's result.
#[derive(Debug, Clone)]
pub struct ScheduledDeletion {
    /// The key, now PendingDeletion (or PendingReplicaDeletion: a
    /// multi-Region primary that still has replicas).
    pub key: Arc<KeyRecord>,
    /// When it will be deleted, Unix ms; `None` while it waits for its
    /// replicas (PendingReplicaDeletion).
    pub deletion_date_ms: Option<i64>,
    /// The window, in days.
    pub pending_window_days: u32,
}

/// Checks a request's tags on their own (count, each key and value, no
/// key twice) before anything is built from them: a request with 10,000
/// tags is refused before any condition key is formatted for them.
pub(super) fn check_request_tags(new: &[(String, String)]) -> KmsResult<()> {
    if new.len() > validate::MAX_TAGS {
        return Err(KmsError::LimitExceeded(format!(
            "A key can have at most {} tags",
            validate::MAX_TAGS
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in new {
        validate::tag_key(k)?;
        validate::tag_value(v)?;
        if !seen.insert(k.to_lowercase()) {
            return Err(KmsError::Tag(format!(
                "Duplicate tag key {} in one request (tag keys that differ only in case count as one: policy conditions name them case-insensitively)",
                crate::model::ids::printable(k)
            )));
        }
    }
    Ok(())
}

/// CreateKey's rules for a key in a custom key store (AWS), before any
/// lookup: Origin AWS_CLOUDHSM and CustomKeyStoreId go together; only
/// single-Region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys.
fn check_custom_key_store_shape(input: &CreateKeyRequest) -> KmsResult<()> {
    let hsm_origin = input.origin == Some(Origin::AwsCloudHsm);
    let Some(store_id) = input.custom_key_store_id.as_deref() else {
        if hsm_origin {
            return Err(validate::validation(
                "customKeyStoreId",
                "Member must not be null when Origin is AWS_CLOUDHSM",
            ));
        }
        return Ok(());
    };
    if !hsm_origin {
        return Err(validate::validation(
            "origin",
            "Member must be AWS_CLOUDHSM when CustomKeyStoreId is given",
        ));
    }
    validate::length("customKeyStoreId", store_id.chars().count(), 1, 64)?;
    let spec = input.key_spec.unwrap_or(KeySpec::SymmetricDefault);
    let usage = input
        .key_usage
        .unwrap_or(crate::model::KeyUsage::EncryptDecrypt);
    if spec != KeySpec::SymmetricDefault || usage != crate::model::KeyUsage::EncryptDecrypt {
        return Err(KmsError::UnsupportedOperation(format!(
            "A key in a custom key store must be a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key (asked: {spec}, {usage})"
        )));
    }
    if input.multi_region {
        return Err(KmsError::UnsupportedOperation(
            "A key in a custom key store cannot be a multi-Region key".into(),
        ));
    }
    Ok(())
}

/// Merges request tags (already checked by [`check_request_tags`]) into
/// `tags`, enforcing the per-key limit.
pub(super) fn merge_tags(
    tags: &mut BTreeMap<String, String>,
    new: &[(String, String)],
) -> KmsResult<()> {
    let mut merged = tags.clone();
    for (k, v) in new {
        // A tag whose key differs from an existing one only in case would
        // make `aws:ResourceTag/<key>` (case-insensitive, as every IAM
        // condition key) ambiguous: refused, so no policy outcome depends
        // on which of the two a condition happens to see.
        if let Some(twin) = merged
            .keys()
            .find(|old| *old != k && old.to_lowercase() == k.to_lowercase())
        {
            return Err(KmsError::Tag(format!(
                "Tag key {} differs from the existing tag key {} only in case",
                crate::model::ids::printable(k),
                crate::model::ids::printable(twin)
            )));
        }
        merged.insert(k.clone(), v.clone());
    }
    if merged.len() > validate::MAX_TAGS {
        return Err(KmsError::LimitExceeded(format!(
            "A key can have at most {} tags",
            validate::MAX_TAGS
        )));
    }
    *tags = merged;
    Ok(())
}

impl Inner {
    /// Counts `n` new keys of `account` in batch `b`, refusing them if
    /// `enforce` and the account would pass its key limit (call with the
    /// account's lock).
    fn count_new_keys(
        &self,
        account: &str,
        n: usize,
        enforce: bool,
        b: &mut Batch<'_>,
    ) -> KmsResult<()> {
        let limit = self.quotas.limits().keys_per_account;
        let have = self
            .store
            .count(Counter::Keys(account))
            .map_err(KmsError::internal)?;
        let after = have.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if enforce && after > limit {
            return Err(super::quotas::exceeded("keys in this account", limit));
        }
        b.set_count(Counter::Keys(account), after);
        Ok(())
    }
}

impl Kms {
    /// CreateKey: a new symmetric key with fresh material, in the caller's
    /// account.
    pub async fn create_key(
        &self,
        caller: &Caller,
        input: CreateKeyRequest,
    ) -> KmsResult<Arc<KeyRecord>> {
        let (rec, policy) = self.plan_key(caller, input).await?;
        if let Some(store_id) = rec.custom_key_store_id.clone() {
            return self.create_hsm_key(rec, policy, store_id).await;
        }
        // Before any lock: a key pair takes up to seconds (RSA_4096) and
        // is made on the bounded generation pool (`key_use.rs`). AES and
        // HMAC keys take microseconds: made in the commit's own hop.
        // An EXTERNAL key gets no material here (ImportKeyMaterial).
        let external = rec.origin == Origin::External;
        let pair = if rec.spec.is_asymmetric() && !external {
            Some(self.inner.generate_key_pair(&rec, 1).await?)
        } else {
            None
        };
        self.inner
            .blocking(move |inner| {
                let mut rec = rec;
                let material = match pair {
                    Some(m) => Some(m),
                    None if external => None,
                    None => Some(inner.new_material(&rec, 1)?),
                };
                if external {
                    inner.add_material_id_secret(&mut rec)?;
                }
                // The new key conflicts with nothing but its account's
                // key counter.
                let _w = inner.lock(&[LockName::Account(&rec.account)]);
                let mut b = inner.store.batch();
                inner.count_new_keys(&rec.account, 1, true, &mut b)?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                if let Some(material) = &material {
                    b.put_material(&rec.id, material)
                        .map_err(KmsError::internal)?;
                }
                b.put_key_policy(&rec.id, policy.text());
                b.commit().map_err(KmsError::internal)?;
                inner.policies.put(rec.id, Arc::new(policy));
                Ok(inner.cache_put_key(rec))
            })
            .await
    }

    /// CreateKey's commit for a key in a custom key store: the material is
    /// generated in the store's cluster (a network round trip, on the
    /// blocking pool and before any lock), then the key, its HSM handle
    /// and the store's key count are committed in one batch.
    async fn create_hsm_key(
        &self,
        rec: KeyRecord,
        policy: crate::authz::Policy,
        store_id: String,
    ) -> KmsResult<Arc<KeyRecord>> {
        let link = self.inner.cks_link(&store_id).await?.ok_or_else(|| {
            KmsError::CustomKeyStoreNotFound(format!("Custom key store {store_id} does not exist"))
        })?;
        let hsm = Arc::clone(&link.hsm);
        let (id, spec, now) = (rec.id, rec.spec, self.inner.now_ms());
        let material = tokio::task::spawn_blocking(move || {
            crate::backend::MaterialBackend::generate(&*hsm, &id, 1, spec, now)
        })
        .await
        .map_err(KmsError::internal)?
        .map_err(|e| match e {
            // Disconnected meanwhile.
            crate::backend::BackendError::Unavailable(_)
                if link.live().state != crate::model::ConnectionState::Connected =>
            {
                KmsError::CustomKeyStoreInvalidState(format!(
                    "Custom key store {store_id} is not connected: keys can be created only in a CONNECTED custom key store"
                ))
            }
            // Connected, yet the cluster cannot hold a new key durably
            // (fewer than two HSMs answer): AWS's answer for a cluster that
            // cannot serve the store.
            crate::backend::BackendError::Unavailable(_) => {
                KmsError::CloudHsmClusterInvalidConfiguration(format!(
                    "The cluster of custom key store {store_id} could not create the key: it needs at least two active HSMs"
                ))
            }
            other => KmsError::internal(other),
        })?;
        let handle = match &material.location {
            crate::model::MaterialLocation::Hsm { handle, .. } => Some(handle.clone()),
            _ => None,
        };
        let view = rec.cloud_hsm_cluster_id.clone();
        let committed = self
            .inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Account(&rec.account)]);
                let mut b = inner.store.batch();
                inner.count_new_keys(&rec.account, 1, true, &mut b)?;
                inner.count_store_keys(&store_id, 1, &mut b)?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.put_material(&rec.id, &material)
                    .map_err(KmsError::internal)?;
                b.put_key_policy(&rec.id, policy.text());
                b.commit().map_err(KmsError::internal)?;
                inner.policies.put(rec.id, Arc::new(policy));
                Ok(inner.cache_put_key(rec))
            })
            .await;
        let committed = match committed {
            Ok(c) => c,
            Err(e) => {
                // The key was not created (e.g. the account's key limit):
                // its HSM key must not stay behind in the cluster.
                if let Some(h) = handle {
                    if let Err(d) = link.hsm.destroy_key(&h).await {
                        tracing::warn!(custom_key_store_id = %link.hsm.custom_key_store_id(), hsm_handle = %h, error = %d, "could not destroy the HSM key of a key that was not created: it is orphaned in the cluster");
                    }
                }
                return Err(e);
            }
        };
        let mut out = (*committed).clone();
        out.cloud_hsm_cluster_id = view;
        Ok(Arc::new(out))
    }

    /// The caller's CONNECTED custom key store `store_id`, for CreateKey.
    async fn connected_store_of(
        &self,
        caller: &Caller,
        store_id: &str,
    ) -> KmsResult<Arc<super::custom_key_stores::StoreLink>> {
        let not_found = || {
            KmsError::CustomKeyStoreNotFound(format!(
                "Custom key store {} does not exist",
                crate::model::ids::printable(store_id)
            ))
        };
        if !crate::model::custom_key_store::is_store_id(store_id) {
            return Err(not_found());
        }
        let link = match self.inner.cks_link(store_id).await? {
            Some(l) if l.account() == caller.principal.account() => l,
            _ => return Err(not_found()),
        };
        let state = link.live().state;
        if state != crate::model::ConnectionState::Connected {
            return Err(KmsError::CustomKeyStoreInvalidState(format!(
                "Custom key store {store_id} is {state}: keys can be created only in a CONNECTED custom key store"
            )));
        }
        Ok(link)
    }

    /// Creates `count` keys alike (as CreateKey with `input`, each with its
    /// own id and fresh material), committing [`BULK_BATCH`] keys per synced
    /// batch instead of one synced write per key: the supported way to load
    /// a large store (`kmsd create-keys`, benchmarks). The caller is
    /// authorized and the input validated once, as for one CreateKey. The
    /// new keys are not cached (a million of them would evict everything
    /// else). `on_batch` is called with the ids of each batch once it is
    /// committed.
    ///
    /// On an error after some batches committed, those keys exist and the
    /// error says how many; no batch is ever half-applied.
    pub async fn create_keys_bulk(
        &self,
        caller: &Caller,
        input: CreateKeyRequest,
        count: usize,
        mut on_batch: impl FnMut(&[KeyId]) + Send + 'static,
    ) -> KmsResult<usize> {
        let (template, policy) = self.plan_key(caller, input).await?;
        if template.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Bulk key creation makes keys with kmsd's own material only, not keys in a custom key store".into(),
            ));
        }
        if template.multi_region {
            // Each would need its own `mrk-` id and Region state.
            return Err(KmsError::UnsupportedOperation(
                "Bulk key creation makes single-Region keys only".into(),
            ));
        }
        self.inner
            .blocking(move |inner| {
                let mut done = 0;
                let mut ids = Vec::with_capacity(BULK_BATCH.min(count));
                while done < count {
                    let n = BULK_BATCH.min(count - done);
                    ids.clear();
                    let _w = inner.lock(&[LockName::Account(&template.account)]);
                    let mut b = inner.store.batch();
                    // Bulk loading is an operator's tool on a stopped data
                    // dir, not an API call: it counts its keys but is not
                    // held to the API's per-account limit (the scale
                    // benchmarks load 1,000,000 keys into one account).
                    inner.count_new_keys(&template.account, n, false, &mut b)?;
                    let now = inner.now_ms();
                    for _ in 0..n {
                        let rec = KeyRecord {
                            id: KeyId::new_random(),
                            created_ms: now,
                            ..template.clone()
                        };
                        b.put_key(&rec).map_err(KmsError::internal)?;
                        // EXTERNAL keys: no material until imported.
                        if rec.origin != Origin::External {
                            let material = inner.new_material(&rec, 1)?;
                            b.put_material(&rec.id, &material)
                                .map_err(KmsError::internal)?;
                        }
                        b.put_key_policy(&rec.id, policy.text());
                        ids.push(rec.id);
                    }
                    b.commit().map_err(|e| {
                        KmsError::Internal(format!(
                            "bulk key creation stopped after {done} of {count} keys: {e}"
                        ))
                    })?;
                    for id in &ids {
                        inner.missing_keys.remove(id);
                    }
                    done += n;
                    on_batch(&ids);
                }
                Ok(done)
            })
            .await
    }

    /// CreateKey's checks, authorization and lockout check: the record to
    /// write (with a fresh id) and its compiled key policy.
    async fn plan_key(
        &self,
        caller: &Caller,
        input: CreateKeyRequest,
    ) -> KmsResult<(KeyRecord, crate::authz::Policy)> {
        validate::description(&input.description)?;
        if input.xks_key_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "External key stores (XksKeyId) are not supported by kmsd".into(),
            ));
        }
        check_custom_key_store_shape(&input)?;
        let spec = input.key_spec.unwrap_or(KeySpec::SymmetricDefault);
        if !spec.is_offered() {
            return Err(super::key_use::not_offered(spec));
        }
        // AWS's default usage is ENCRYPT_DECRYPT; a spec that cannot
        // encrypt (ECC but RSA, HMAC, ML-DSA, ML-KEM) must name its usage.
        let usage = match input.key_usage.or(spec.default_usage()) {
            Some(u) => u,
            None => {
                return Err(validate::validation(
                    "keyUsage",
                    &format!("KeyUsage is required for KeySpec {spec}"),
                ))
            }
        };
        let origin = input.origin.unwrap_or(Origin::AwsKms);
        if !spec.usages().contains(&usage) {
            return Err(validate::validation(
                "keyUsage",
                &format!("KeyUsage {usage} is not compatible with KeySpec {spec}"),
            ));
        }
        match origin {
            Origin::AwsKms => {}
            // BYOK: the key waits in PendingImport for ImportKeyMaterial.
            Origin::External if crate::model::import::spec_accepts_import(spec) => {}
            // Its store is checked after authorization (below).
            Origin::AwsCloudHsm if input.custom_key_store_id.is_some() => {}
            Origin::External => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "KeySpec {spec} does not support Origin EXTERNAL in this kmsd version (imported key material is offered for SYMMETRIC_DEFAULT, HMAC, RSA and ECC key specs)"
                )))
            }
            _ => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "Origin {origin} is not supported by this kmsd version (only AWS_KMS and EXTERNAL)"
                )))
            }
        }
        check_request_tags(&input.tags)?;
        let mut tags = BTreeMap::new();
        merge_tags(&mut tags, &input.tags)?;
        let bypass = if input.bypass_policy_lockout_safety_check {
            "true"
        } else {
            "false"
        };
        let authz = AuthzInput::default()
            .request_tags(&input.tags)
            .value("kms:bypasspolicylockoutsafetycheck", bypass)
            .value("kms:keyspec", spec.as_aws_str())
            .value("kms:keyusage", usage.as_aws_str())
            .value("kms:keyorigin", origin.as_aws_str())
            .value(
                "kms:multiregion",
                if input.multi_region { "true" } else { "false" },
            );
        let authz = if input.multi_region {
            authz.value("kms:multiregionkeytype", "PRIMARY")
        } else {
            authz
        };
        self.inner
            .authorize(caller, Operation::CreateKey, Resource::None, &authz)
            .await?;
        let store_link = match input.custom_key_store_id.as_deref() {
            Some(store_id) => Some(self.connected_store_of(caller, store_id).await?),
            None => None,
        };
        let account = caller.principal.account().to_owned();
        let policy_text = match &input.policy {
            Some(text) => text.clone(),
            None => default_key_policy(&account),
        };
        let policy = compile_key_policy(&policy_text)?;

        let rec = KeyRecord {
            id: if input.multi_region {
                KeyId::new_random_multi_region()
            } else {
                KeyId::new_random()
            },
            account,
            created_ms: self.inner.now_ms(),
            description: input.description,
            spec,
            usage,
            origin,
            // An EXTERNAL key has no material (version 0) until its first
            // ImportKeyMaterial.
            state: if origin == Origin::External {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            deletion_date_ms: None,
            pending_window_days: None,
            tags,
            current_version: u32::from(origin != Origin::External),
            multi_region: input.multi_region,
            mr: input
                .multi_region
                .then(|| crate::model::MultiRegionState::new_primary(&self.inner.region)),
            grant_count: 0,
            rotation: Default::default(),
            imported: None,
            custom_key_store_id: input.custom_key_store_id,
            cloud_hsm_cluster_id: store_link.map(|l| l.cluster_id()),
        };
        if !input.bypass_policy_lockout_safety_check {
            self.inner.lockout_check(caller, &rec, &policy)?;
        }
        Ok((rec, policy))
    }

    /// DescribeKey.
    pub async fn describe_key(
        &self,
        caller: &Caller,
        req: DescribeKeyRequest,
    ) -> KmsResult<Arc<KeyRecord>> {
        self.inner.check_grant_tokens(&req.grant_tokens)?;
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
                Operation::DescribeKey,
                &AuthzInput::default(),
            )
            .await?;
        self.inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        Ok(key)
    }

    /// ListKeys: the caller's account's keys, by id. Returns the page and
    /// the marker for the next one.
    pub async fn list_keys(
        &self,
        caller: &Caller,
        req: ListKeysRequest,
    ) -> KmsResult<(Vec<KeyId>, Option<String>)> {
        let limit = validate::limit(req.page.limit)?;
        let after = match validate::marker(req.page.marker.as_deref())? {
            Some(m) => Some(m.parse::<KeyId>().map_err(|()| {
                KmsError::InvalidMarker("The marker is not one that ListKeys returned".into())
            })?),
            None => None,
        };
        self.inner
            .authorize(
                caller,
                Operation::ListKeys,
                Resource::None,
                &AuthzInput::default(),
            )
            .await?;
        let account = caller.principal.account().to_owned();
        self.inner
            .blocking(move |inner| {
                let mut ids = inner
                    .store
                    .list_account_keys(&account, after.as_ref(), limit + 1)
                    .map_err(KmsError::internal)?;
                let next = if ids.len() > limit {
                    ids.truncate(limit);
                    ids.last().map(|id| id.to_string())
                } else {
                    None
                };
                Ok((ids, next))
            })
            .await
    }

    /// Applies `change` to the key named by `key_id`: resolve, authorize
    /// and check state (outside any lock), then under the key's lock
    /// re-read and re-check the record, change it, commit (synced), cache.
    pub(super) async fn update_key<T, F>(
        &self,
        caller: &Caller,
        key_id: &str,
        op: Operation,
        input: &AuthzInput<'_>,
        change: F,
    ) -> KmsResult<T>
    where
        F: FnOnce(&Inner, &mut KeyRecord, &mut crate::store::Batch<'_>) -> KmsResult<T>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let authorized = self.inner.resolve(caller, key_id, op, input).await?;
        self.inner
            .blocking(move |inner| {
                let _w = inner.lock(&[LockName::Key(&authorized.id)]);
                let current = inner.recheck(&authorized, op)?;
                let mut rec = (*current).clone();
                let mut b = inner.store.batch();
                let out = change(inner, &mut rec, &mut b)?;
                b.put_key(&rec).map_err(KmsError::internal)?;
                b.commit().map_err(KmsError::internal)?;
                inner.cache_put_key(rec);
                Ok(out)
            })
            .await
    }

    /// UpdateKeyDescription.
    pub async fn update_key_description(
        &self,
        caller: &Caller,
        req: UpdateKeyDescriptionRequest,
    ) -> KmsResult<()> {
        validate::description(&req.description)?;
        let description = req.description;
        self.update_key(
            caller,
            &req.key_id,
            Operation::UpdateKeyDescription,
            &AuthzInput::default(),
            move |_, rec, _| {
                rec.description = description;
                Ok(())
            },
        )
        .await
    }

    /// EnableKey (idempotent).
    pub async fn enable_key(&self, caller: &Caller, req: EnableKeyRequest) -> KmsResult<()> {
        self.update_key(
            caller,
            &req.key_id,
            Operation::EnableKey,
            &AuthzInput::default(),
            |inner, rec, b| {
                rec.state = KeyState::Enabled;
                // Only a primary rotates (a replica's flag may be left from
                // before it handed the primary over).
                if rec.rotation.missed && rec.rotation.enabled && !rec.is_replica_in(&inner.region)
                {
                    // The rotation skipped while the key was disabled happens now.
                    inner.rotate_in_batch(rec, RotationType::Automatic, b)?;
                    inner.shared_changed(rec, b)?;
                }
                rec.rotation.missed = false;
                Ok(())
            },
        )
        .await
    }

    /// DisableKey (idempotent).
    pub async fn disable_key(&self, caller: &Caller, req: DisableKeyRequest) -> KmsResult<()> {
        self.update_key(
            caller,
            &req.key_id,
            Operation::DisableKey,
            &AuthzInput::default(),
            |_, rec, _| {
                rec.state = KeyState::Disabled;
                Ok(())
            },
        )
        .await
    }

    /// ScheduleKeyDeletion: PendingDeletion for 7–30 days (default 30),
    /// then the deletion job removes the key and all its material.
    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        req: ScheduleKeyDeletionRequest,
    ) -> KmsResult<ScheduledDeletion> {
        let days = req.pending_window_in_days.unwrap_or(30);
        validate::range("pendingWindowInDays", days, 7, 30)?;
        let days = u32::try_from(days).unwrap_or(30);
        let out = self
            .update_key(
                caller,
                &req.key_id,
                Operation::ScheduleKeyDeletion,
                &AuthzInput::default().value(
                    "kms:schedulekeydeletionpendingwindowindays",
                    days.to_string(),
                ),
                move |inner, rec, b| {
                    rec.pending_window_days = Some(days);
                    let has_replicas = rec.mr.as_ref().is_some_and(|mr| {
                        mr.is_primary_in(&inner.region) && !mr.replica_regions.is_empty()
                    });
                    if has_replicas {
                        // AWS: a primary waits for its replicas to be
                        // deleted; its window starts when the last one is
                        // gone (the `ReplicaDeleted` apply schedules it).
                        rec.state = KeyState::PendingReplicaDeletion;
                        rec.deletion_date_ms = None;
                        return Ok(ScheduledDeletion {
                            key: Arc::new(rec.clone()),
                            deletion_date_ms: None,
                            pending_window_days: days,
                        });
                    }
                    let due = inner.now_ms().saturating_add(i64::from(days) * DAY_MS);
                    rec.state = KeyState::PendingDeletion;
                    rec.deletion_date_ms = Some(due);
                    b.schedule(Schedule::Deletion, due, &rec.id);
                    Ok(ScheduledDeletion {
                        key: Arc::new(rec.clone()),
                        deletion_date_ms: Some(due),
                        pending_window_days: days,
                    })
                },
            )
            .await?;
        self.inner.schedule_changed.notify_one();
        Ok(out)
    }

    /// CancelKeyDeletion: back to Disabled, as in AWS (from PendingDeletion
    /// or PendingReplicaDeletion).
    pub async fn cancel_key_deletion(
        &self,
        caller: &Caller,
        req: CancelKeyDeletionRequest,
    ) -> KmsResult<Arc<KeyRecord>> {
        let rec = self
            .update_key(
                caller,
                &req.key_id,
                Operation::CancelKeyDeletion,
                &AuthzInput::default(),
                |inner, rec, b| {
                    if let Some(due) = rec.deletion_date_ms.take() {
                        b.unschedule(Schedule::Deletion, due, &rec.id);
                    }
                    rec.pending_window_days = None;
                    // AWS: Disabled, but an EXTERNAL key whose material is
                    // absent (never imported, expired or deleted) goes
                    // back to PendingImport.
                    rec.state = if inner.has_current_material(rec)? {
                        KeyState::Disabled
                    } else {
                        KeyState::PendingImport
                    };
                    Ok(Arc::new(rec.clone()))
                },
            )
            .await?;
        self.inner.schedule_changed.notify_one();
        Ok(rec)
    }
}
