//! Key rotation: EnableKeyRotation, DisableKeyRotation,
//! GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, and the
//! automatic rotations the scheduler performs (`jobs.rs`).
//!
//! A rotation adds material version `n + 1` and makes it current, in one
//! synced batch together with the key record, the rotation history entry
//! and the schedule update: a crash leaves either the old or the new
//! current version, never a half-made one. Every earlier version stays
//! stored for the life of the key, and the ciphertext names its version,
//! so Decrypt finds it in O(1) however many versions exist.

use std::sync::Arc;

use super::deletion::BATCH;
use super::request::{
    DisableKeyRotationRequest, EnableKeyRotationRequest, GetKeyRotationStatusRequest,
    ListKeyRotationsRequest, RotateKeyOnDemandRequest,
};
use super::{validate, AuthzInput, Caller, Inner, Kms, LockName};
use crate::clock::DAY_MS;
use crate::error::{KmsError, KmsResult};
use crate::model::ids::key_material_id;
use crate::model::import::spec_takes_several_materials;
use crate::model::{
    KeyRecord, KeyState, MaterialState, MaterialVersion, Operation, Origin, RotationType,
};
use crate::store::{RotationEntry, Schedule};

/// AWS's limit of on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 10;
/// Default automatic rotation period.
pub const DEFAULT_PERIOD_DAYS: u32 = 365;
/// When an automatic rotation due on a key whose primary Region is
/// changing (Updating) is tried again.
const UPDATING_RETRY_MS: i64 = 60_000;

/// GetKeyRotationStatus's result.
#[derive(Debug, Clone)]
pub struct RotationStatus {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// Whether automatic rotation is on.
    pub enabled: bool,
    /// The period in days (when rotation is on).
    pub period_days: Option<u32>,
    /// When the next automatic rotation is due, Unix ms.
    pub next_rotation_ms: Option<i64>,
}

/// One entry of ListKeyRotations.
#[derive(Debug, Clone)]
pub struct RotationInfo {
    /// The key id.
    pub key_id: String,
    /// Material version (1 is the original material).
    pub version: u32,
    /// KeyMaterialId of that version.
    pub key_material_id: String,
    /// Whether it is the current version.
    pub current: bool,
    /// When it was made by a rotation (`None` for the original material).
    pub rotation_ms: Option<i64>,
    /// How it was made (`None` for the original material).
    pub rotation_type: Option<RotationType>,
    /// Imported (NEW_KEY_MATERIAL) and waiting for RotateKeyOnDemand.
    pub pending_rotation: bool,
    /// KeyMaterialDescription (imported material).
    pub description: Option<String>,
    /// ImportState (EXTERNAL keys only).
    pub import_state: Option<crate::model::ImportState>,
    /// ExpirationModel (EXTERNAL keys only).
    pub expiration_model: Option<crate::model::ExpirationModel>,
    /// ValidTo, Unix ms (imported material that expires).
    pub valid_to_ms: Option<i64>,
}

impl Inner {
    /// Adds a new current material version to `rec` in batch `b`.
    pub(super) fn rotate_in_batch(
        &self,
        rec: &mut KeyRecord,
        kind: RotationType,
        b: &mut crate::store::Batch<'_>,
    ) -> KmsResult<()> {
        let version = rec.current_version.checked_add(1).ok_or_else(|| {
            KmsError::LimitExceeded("The key has reached the maximum number of rotations".into())
        })?;
        let material = self.new_material(rec, version)?;
        b.put_material(&rec.id, &material)
            .map_err(KmsError::internal)?;
        // The version that was current is now only for opening what it
        // sealed; its record says so in the same batch.
        if let Some(mut previous) = self
            .store
            .get_material(&rec.id, rec.current_version)
            .map_err(KmsError::internal)?
        {
            previous.state = MaterialState::NonCurrent;
            b.put_material(&rec.id, &previous)
                .map_err(KmsError::internal)?;
        }
        b.put_rotation(
            &rec.id,
            &RotationEntry {
                version,
                rotation_ms: self.now_ms(),
                rotation_type: kind,
            },
        )
        .map_err(KmsError::internal)?;
        rec.current_version = version;
        Ok(())
    }

    /// Fresh material for version `version` of key `rec`, from the backend
    /// (the one place the core makes material; call on the blocking pool).
    pub(super) fn new_material(&self, rec: &KeyRecord, version: u32) -> KmsResult<MaterialVersion> {
        self.backend
            .generate(&rec.id, version, rec.spec, self.now_ms())
            .map_err(KmsError::internal)
    }

    /// Performs the automatic rotations due now (one batch of keys). An
    /// entry that fails is quarantined (`jobs.rs`) so later ones proceed.
    fn rotate_due_batch(&self) -> KmsResult<(usize, bool)> {
        let now = self.now_ms();
        let due = self
            .store
            .due_entries(Schedule::Rotation, now, BATCH)
            .map_err(KmsError::internal)?;
        let more = due.len() == BATCH;
        let mut rotated = 0;
        for entry in due {
            let result = match &entry.decoded {
                Some((due_ms, id)) => self.rotate_one_due(*due_ms, id, now),
                None => Err(KmsError::internal("undecodable rotation schedule entry")),
            };
            match result {
                Ok(true) => rotated += 1,
                Ok(false) => {}
                Err(e) => self.quarantine_entry(Schedule::Rotation, &entry, &e)?,
            }
        }
        Ok((rotated, more))
    }

    /// Rotates key `id` if its automatic rotation is due at `due_ms` (or
    /// marks it missed, or drops a stale entry); `true` if it rotated.
    fn rotate_one_due(&self, due_ms: i64, id: &crate::model::KeyId, now: i64) -> KmsResult<bool> {
        let id = *id;
        // This key's lock only, never one across the batch.
        let _w = self.lock(&[LockName::Key(&id)]);
        let mut b = self.store.batch();
        b.unschedule(Schedule::Rotation, due_ms, &id);
        let Some(current) = self.store.get_key(&id).map_err(KmsError::internal)? else {
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        };
        let mut rec = current.clone();
        let live = rec.rotation.enabled && rec.rotation.next_ms == Some(due_ms);
        if !live {
            // A stale entry (rotation disabled or rescheduled).
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        }
        if rec.is_replica_in(&self.region) {
            // A multi-Region key rotates only in its primary Region: this
            // entry is left from before it handed the primary over (the
            // new primary keeps its own schedule). Dropped.
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        }
        if rec.state == KeyState::Updating {
            // UpdatePrimaryRegion in progress here (the new primary):
            // rotating now would change shared state mid hand-over. The
            // rotation is retried shortly, once the hand-over completes.
            let retry = now.saturating_add(UPDATING_RETRY_MS);
            rec.rotation.next_ms = Some(retry);
            b.schedule(Schedule::Rotation, retry, &id);
            b.put_key(&rec).map_err(KmsError::internal)?;
            b.commit().map_err(KmsError::internal)?;
            self.cache_put_key(rec);
            return Ok(false);
        }
        let period = i64::from(rec.rotation.period_days.unwrap_or(DEFAULT_PERIOD_DAYS)) * DAY_MS;
        let mut rotated = false;
        if rec.state == KeyState::Enabled {
            self.rotate_in_batch(&mut rec, RotationType::Automatic, &mut b)?;
            rotated = true;
        } else {
            // AWS does not rotate a disabled key; it rotates it as soon
            // as it is enabled again (see EnableKey).
            rec.rotation.missed = true;
        }
        // The next rotation moves on by a period. After downtime, one
        // catch-up rotation, then the schedule continues from now (no
        // burst of missed rotations).
        let mut next = due_ms.saturating_add(period);
        if next <= now {
            next = now.saturating_add(period);
        }
        rec.rotation.next_ms = Some(next);
        b.schedule(Schedule::Rotation, next, &id);
        // A multi-Region primary: the new version (and next date) reach
        // every replica (no-op for a single-Region key).
        self.shared_changed(&mut rec, &mut b)?;
        b.put_key(&rec).map_err(KmsError::internal)?;
        b.commit().map_err(KmsError::internal)?;
        if rec.current_version != current.current_version {
            tracing::info!(key_id = %id, version = rec.current_version, "rotated key material");
        }
        self.cache_put_key(rec);
        Ok(rotated)
    }
}

impl Kms {
    /// Performs every automatic rotation that is due now; returns how many
    /// keys were rotated. The background job calls this; tests may too.
    pub async fn process_due_rotations(&self) -> KmsResult<usize> {
        let mut total = 0;
        loop {
            let (n, more) = self
                .inner
                .blocking(|inner| inner.rotate_due_batch())
                .await?;
            total += n;
            if !more {
                return Ok(total);
            }
        }
    }

    /// EnableKeyRotation (period 90–2560 days, default 365).
    pub async fn enable_key_rotation(
        &self,
        caller: &Caller,
        req: EnableKeyRotationRequest,
    ) -> KmsResult<()> {
        let days = req
            .rotation_period_in_days
            .unwrap_or(DEFAULT_PERIOD_DAYS as i32);
        validate::range("rotationPeriodInDays", days, 90, 2560)?;
        let days = u32::try_from(days).unwrap_or(DEFAULT_PERIOD_DAYS);
        let input = AuthzInput::default().value("kms:rotationperiodindays", days.to_string());
        self.update_key(
            caller,
            &req.key_id,
            Operation::EnableKeyRotation,
            &input,
            move |inner, rec, b| {
                rec.check_rotation_on_primary(&inner.region)?;
                rec.check_rotation_eligible(&inner.region)?;
                if let Some(old) = rec.rotation.next_ms.take() {
                    b.unschedule(Schedule::Rotation, old, &rec.id);
                }
                let next = inner.now_ms().saturating_add(i64::from(days) * DAY_MS);
                rec.rotation.enabled = true;
                rec.rotation.period_days = Some(days);
                rec.rotation.next_ms = Some(next);
                b.schedule(Schedule::Rotation, next, &rec.id);
                // The rotation setting is shared by a multi-Region key's
                // replicas (no-op for a single-Region key).
                inner.shared_changed(rec, b)
            },
        )
        .await?;
        self.inner.schedule_changed.notify_one();
        Ok(())
    }

    /// DisableKeyRotation.
    pub async fn disable_key_rotation(
        &self,
        caller: &Caller,
        req: DisableKeyRotationRequest,
    ) -> KmsResult<()> {
        self.update_key(
            caller,
            &req.key_id,
            Operation::DisableKeyRotation,
            &AuthzInput::default(),
            move |inner, rec, b| {
                rec.check_rotation_on_primary(&inner.region)?;
                rec.check_rotation_eligible(&inner.region)?;
                if let Some(old) = rec.rotation.next_ms.take() {
                    b.unschedule(Schedule::Rotation, old, &rec.id);
                }
                rec.rotation.enabled = false;
                inner.shared_changed(rec, b)
            },
        )
        .await?;
        self.inner.schedule_changed.notify_one();
        Ok(())
    }

    /// GetKeyRotationStatus.
    pub async fn get_key_rotation_status(
        &self,
        caller: &Caller,
        req: GetKeyRotationStatusRequest,
    ) -> KmsResult<RotationStatus> {
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
                Operation::GetKeyRotationStatus,
                &AuthzInput::default(),
            )
            .await?;
        key.check_rotation_eligible(&self.inner.region)?;
        // A key pending deletion reports rotation off (AWS); its settings
        // come back if the deletion is cancelled.
        let enabled = key.rotation.enabled && key.state != KeyState::PendingDeletion;
        Ok(RotationStatus {
            enabled,
            period_days: enabled.then_some(key.rotation.period_days).flatten(),
            next_rotation_ms: enabled.then_some(key.rotation.next_ms).flatten(),
            key,
        })
    }

    /// RotateKeyOnDemand: a new current version now (at most 10 per key).
    pub async fn rotate_key_on_demand(
        &self,
        caller: &Caller,
        req: RotateKeyOnDemandRequest,
    ) -> KmsResult<Arc<KeyRecord>> {
        self.update_key(
            caller,
            &req.key_id,
            Operation::RotateKeyOnDemand,
            &AuthzInput::default(),
            move |inner, rec, b| {
                rec.check_rotation_on_primary(&inner.region)?;
                // A symmetric EXTERNAL key rotates on demand to material
                // imported as NEW_KEY_MATERIAL; every other key must be
                // eligible for kmsd-made rotation.
                let imported = rec.origin == Origin::External
                    && spec_takes_several_materials(rec.spec)
                    && !rec.multi_region;
                if !imported {
                    rec.check_rotation_eligible(&inner.region)?;
                }
                if rec.rotation.on_demand_count >= MAX_ON_DEMAND_ROTATIONS {
                    return Err(KmsError::LimitExceeded(format!(
                        "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations",
                        rec.arn(&inner.region)
                    )));
                }
                if imported {
                    let version = inner.rotate_to_imported(rec, b)?;
                    b.put_rotation(
                        &rec.id,
                        &RotationEntry {
                            version,
                            rotation_ms: inner.now_ms(),
                            rotation_type: RotationType::OnDemand,
                        },
                    )
                    .map_err(KmsError::internal)?;
                } else {
                    inner.rotate_in_batch(rec, RotationType::OnDemand, b)?;
                }
                rec.rotation.on_demand_count += 1;
                // The new version becomes current in every Region of a
                // multi-Region key (no-op for a single-Region key).
                inner.shared_changed(rec, b)?;
                Ok(Arc::new(rec.clone()))
            },
        )
        .await
    }

    /// ListKeyRotations: completed rotations in version order (with
    /// `include_original`, the original material first, as AWS's
    /// ALL_KEY_MATERIAL).
    pub async fn list_key_rotations(
        &self,
        caller: &Caller,
        req: ListKeyRotationsRequest,
    ) -> KmsResult<(Vec<RotationInfo>, Option<String>)> {
        let include_original = req.include_original;
        let limit = validate::limit(req.page.limit)?;
        let after: u32 = match validate::marker(req.page.marker.as_deref())? {
            Some(m) => m.parse().map_err(|_| {
                KmsError::InvalidMarker(
                    "The marker is not one that ListKeyRotations returned".into(),
                )
            })?,
            None => 0,
        };
        let key = self
            .inner
            .resolve(
                caller,
                &req.key_id,
                Operation::ListKeyRotations,
                &AuthzInput::default(),
            )
            .await?;
        if key.origin == Origin::External {
            return self.list_imported_materials(key, after, limit).await;
        }
        key.check_rotation_eligible(&self.inner.region)?;
        let id = key.id;
        let entries = self
            .inner
            .blocking(move |inner| {
                inner
                    .store
                    .list_rotations(&id, after.max(1), limit + 1)
                    .map_err(KmsError::internal)
            })
            .await?;
        // The history and the key record are read separately; a rotation
        // committing in between is already in the history (same batch), so
        // the newest version seen anywhere is the current one.
        let newest_listed = entries.iter().map(|e| e.version).max().unwrap_or(0);
        let current_version = key.current_version.max(newest_listed);
        let mut page: Vec<RotationInfo> = Vec::new();
        if include_original && after == 0 {
            page.push(RotationInfo {
                key_id: id.to_string(),
                version: 1,
                key_material_id: key_material_id(&id, 1),
                current: current_version == 1,
                rotation_ms: None,
                rotation_type: None,
                pending_rotation: false,
                description: None,
                import_state: None,
                expiration_model: None,
                valid_to_ms: None,
            });
        }
        page.extend(entries.into_iter().map(|e| RotationInfo {
            key_id: id.to_string(),
            version: e.version,
            key_material_id: key_material_id(&id, e.version),
            current: e.version == current_version,
            rotation_ms: Some(e.rotation_ms),
            rotation_type: Some(e.rotation_type),
            pending_rotation: false,
            description: None,
            import_state: None,
            expiration_model: None,
            valid_to_ms: None,
        }));
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|r| r.version.to_string())
        } else {
            None
        };
        Ok((page, next))
    }
}

impl Kms {
    /// ListKeyRotations of an EXTERNAL key: every material it has (the
    /// first one too, and one pending rotation), in version order, with
    /// its import state, expiry and description; a material made current
    /// by RotateKeyOnDemand carries that rotation's time.
    async fn list_imported_materials(
        &self,
        key: Arc<KeyRecord>,
        after: u32,
        limit: usize,
    ) -> KmsResult<(Vec<RotationInfo>, Option<String>)> {
        let id = key.id;
        let (materials, rotations) = self
            .inner
            .blocking(move |inner| {
                let m = inner
                    .store
                    .list_materials(&id, after, limit + 1)
                    .map_err(KmsError::internal)?;
                let r = inner
                    .store
                    .list_rotations(&id, after.max(1), usize::MAX)
                    .map_err(KmsError::internal)?;
                Ok((m, r))
            })
            .await?;
        let mut page: Vec<RotationInfo> = materials
            .into_iter()
            .map(|m| {
                let rotation = rotations.iter().find(|r| r.version == m.version);
                let (import_state, expiration_model) = super::import::import_fields(&m);
                RotationInfo {
                    key_id: id.to_string(),
                    version: m.version,
                    current: m.version == key.current_version,
                    rotation_ms: rotation.map(|r| r.rotation_ms),
                    rotation_type: rotation.map(|r| r.rotation_type),
                    pending_rotation: m.state == MaterialState::PendingRotation,
                    description: m.description.clone(),
                    import_state: Some(import_state),
                    expiration_model,
                    valid_to_ms: m.expires_ms,
                    key_material_id: m.material_id,
                }
            })
            .collect();
        let next = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|r| r.version.to_string())
        } else {
            None
        };
        Ok((page, next))
    }
}
