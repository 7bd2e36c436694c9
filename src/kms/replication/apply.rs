//! The receiving side: [`Kms::apply_replicated`](crate::kms::Kms).
//!
//! Per sender, the highest seq applied is stored (`replication` family);
//! an entry at or below it is a resend (a lost acknowledgement) and is
//! skipped. Each entry is applied under its key's lock in one synced batch
//! together with the new high-water mark, so a crash leaves it either
//! applied and counted or neither. A `Sync` is applied only when its
//! shared-state version is newer than the local one, so a stale or
//! reordered one changes nothing; it never touches per-Region fields
//! (policy, grants, aliases, tags, description, enabled state, deletion).
//!
//! A sender speaks only for itself: a `Sync` is taken only from the
//! Region it names primary or the Region this one knows as primary (the
//! old primary handing over), a `ReplicaDeleted` only about the sender's
//! own Region, a handoff message only from the handoff's peer.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::deliver::MATERIAL_ID_KEY_AAD_ID;
use super::Outgoing;
use super::{Envelope, Message, SyncKey};
use crate::clock::DAY_MS;
use crate::crypto::hpke::{material_aad, open_from_region, REPLICATION_INFO};
use crate::error::{KmsError, KmsResult};
use crate::kms::policies::compile_key_policy;
use crate::kms::{default_key_policy, Inner, LockName};
use crate::model::multi_region::is_valid_region;
use crate::model::{
    Handoff, HandoffRole, KeyId, KeyRecord, KeyState, MultiRegionState, Origin, RotationSettings,
    RotationType,
};
use crate::store::{Batch, Counter, RotationEntry, Schedule};

/// See the module doc.
pub(super) async fn apply_replicated(
    inner: &Arc<Inner>,
    from_region: &str,
    entries: Vec<Envelope>,
) -> KmsResult<u64> {
    if !is_valid_region(from_region) || from_region == inner.region {
        return Err(KmsError::Validation(format!(
            "1 validation error detected: Value '{}' at 'fromRegion' is not a peer Region",
            crate::model::ids::printable(from_region)
        )));
    }
    // One delivery at a time: each entry reads the sender's mark and
    // writes it back.
    let _serial = inner.repl.apply.lock().await;
    let from = from_region.to_owned();
    let (through, schedules_changed) = inner
        .blocking(move |inner| inner.apply_all(&from, entries))
        .await?;
    if schedules_changed {
        inner.schedule_changed.notify_one();
    }
    Ok(through)
}

/// What applying one entry did besides the key record.
#[derive(Default)]
struct Applied {
    /// A deletion or rotation schedule entry was written.
    schedule_changed: bool,
}

impl Inner {
    /// Applies `entries` in order (blocking pool); answers the highest seq
    /// applied (or skipped as already applied) and whether a job schedule
    /// changed. An entry that fails stops the delivery there: the error
    /// is answered if nothing was applied, otherwise the seq before it (the
    /// sender retries from there).
    fn apply_all(&self, from: &str, entries: Vec<Envelope>) -> KmsResult<(u64, bool)> {
        let mut high = self
            .store
            .inbound_high_water(from)
            .map_err(KmsError::internal)?;
        let mut schedule_changed = false;
        let mut applied_any = false;
        for env in entries {
            if env.seq <= high {
                continue;
            }
            let seq = env.seq;
            match self.apply_one(from, env) {
                Ok(a) => {
                    schedule_changed |= a.schedule_changed;
                    high = seq;
                    applied_any = true;
                }
                Err(e) if applied_any => {
                    tracing::warn!(%from, seq, error = %e, "a replicated entry could not be applied; the sender will retry it");
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((high, schedule_changed))
    }

    fn apply_one(&self, from: &str, env: Envelope) -> KmsResult<Applied> {
        let seq = env.seq;
        match env.message {
            Message::Sync(s) => self.apply_sync(from, seq, *s),
            Message::HandoffDone { key_id, version } => {
                self.apply_handoff(from, seq, key_id, version, HandoffRole::Demoting)
            }
            Message::HandoffAck { key_id, version } => {
                self.apply_handoff(from, seq, key_id, version, HandoffRole::Promoting)
            }
            Message::ReplicaDeleted { key_id, region } => {
                self.apply_replica_deleted(from, seq, key_id, &region)
            }
        }
    }

    /// Commits `b` (which holds only the new high-water mark when the
    /// entry changed nothing).
    fn commit_entry(&self, b: Batch<'_>) -> KmsResult<()> {
        b.commit().map_err(KmsError::internal)
    }

    fn apply_sync(&self, from: &str, seq: u64, s: SyncKey) -> KmsResult<Applied> {
        let id = s.key_id;
        let mut b = self.store.batch();
        b.put_inbound_high_water(from, seq);
        if let Err(why) = check_sync_shape(&s) {
            tracing::warn!(%from, seq, key_id = %id, why, "dropped a malformed replicated Sync");
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        let _w = self.lock(&[LockName::Key(&id), LockName::Account(&s.account)]);
        let Some(current) = self.load_key(&id)? else {
            return self.create_replica(from, s, b);
        };
        let mut rec = (*current).clone();
        let Some(mr) = rec.mr.as_mut() else {
            tracing::warn!(%from, key_id = %id, "a replicated Sync names a single-Region key here: dropped");
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        if rec.account != s.account {
            tracing::warn!(%from, key_id = %id, "a replicated Sync names another account than the key here: dropped");
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        if s.version <= mr.version {
            // Stale or a duplicate: the newer state is already here.
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        if s.primary_region != from && mr.primary_region != from {
            tracing::warn!(%from, key_id = %id, primary = %mr.primary_region, "a Sync from a Region that is not the key's primary: dropped");
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        let was_primary = mr.is_primary_in(&self.region);
        mr.version = s.version;
        mr.primary_region = s.primary_region.clone();
        mr.replica_regions = s.replica_regions.clone();
        mr.replica_regions.sort();
        mr.replica_regions.dedup();
        rec.rotation = RotationSettings {
            enabled: s.rotation.enabled,
            period_days: s.rotation.period_days,
            next_ms: s.rotation.next_ms,
            on_demand_count: s.rotation.on_demand_count,
            missed: rec.rotation.missed,
        };
        if rec.origin != Origin::External {
            self.store_materials(from, &s, &mut b)?;
            rec.current_version = s.current_version;
        }
        self.store_material_id_secret(from, &s, &mut b)?;
        let mut applied = Applied::default();
        if s.primary_region == self.region && !was_primary {
            // Promotion (UpdatePrimaryRegion step 4): this Region is the
            // primary from this commit on; it tells the old primary, and
            // the other replicas learn the new lists from it.
            let prior_state = rec.state;
            rec.state = KeyState::Updating;
            if let Some(mr) = rec.mr.as_mut() {
                mr.handoff = Some(Handoff {
                    role: HandoffRole::Promoting,
                    peer: from.to_owned(),
                    version: s.version,
                    prior_state,
                });
            }
            // Automatic rotation is the primary's job from now on.
            if rec.rotation.enabled {
                if let Some(next) = rec.rotation.next_ms {
                    b.schedule(Schedule::Rotation, next, &id);
                    applied.schedule_changed = true;
                }
            }
            self.enqueue(
                &mut b,
                from,
                Outgoing::HandoffDone {
                    key_id: id,
                    version: s.version,
                },
            )?;
            self.sync_others(&rec, &mut b, &[from])?;
            tracing::info!(key_id = %id, old_primary = %from, "this Region is now the key's primary Region");
        }
        b.put_key(&rec).map_err(KmsError::internal)?;
        self.commit_entry(b)?;
        self.cache_put_key(rec);
        Ok(applied)
    }

    /// Creates the replica a `Sync` with `create` asks for (the key is
    /// absent here; called with its lock and its account's).
    fn create_replica(&self, from: &str, s: SyncKey, mut b: Batch<'_>) -> KmsResult<Applied> {
        let id = s.key_id;
        let Some(create) = s.create.clone() else {
            // A Sync of a key this Region does not hold (deleted here, or
            // the create is still to come): nothing to update.
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        if s.primary_region != from {
            tracing::warn!(%from, key_id = %id, "a replica creation from a Region that is not the key's primary: dropped");
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        // The policy passed the replica Region's checks at ReplicateKey
        // (CheckAccess); one that does not compile now cannot be refused
        // any more, so the replica gets the default policy instead of
        // blocking the queue.
        let policy = match create.policy.as_deref() {
            Some(text) => compile_key_policy(text).or_else(|e| {
                tracing::warn!(key_id = %id, error = %e, "a replica's key policy does not compile here: it gets the default key policy");
                compile_key_policy(&default_key_policy(&s.account))
            })?,
            None => compile_key_policy(&default_key_policy(&s.account))?,
        };
        let external = s.origin == Origin::External;
        let mut replicas = s.replica_regions.clone();
        replicas.sort();
        replicas.dedup();
        let rec = KeyRecord {
            id,
            account: s.account.clone(),
            created_ms: s.created_ms,
            description: create.description.clone(),
            spec: s.spec,
            usage: s.usage,
            origin: s.origin,
            // Imported material is imported in each Region.
            state: if external {
                KeyState::PendingImport
            } else if s.primary_enabled {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            },
            deletion_date_ms: None,
            pending_window_days: None,
            tags: create.tags.iter().cloned().collect::<BTreeMap<_, _>>(),
            current_version: if external { 0 } else { s.current_version },
            multi_region: true,
            mr: Some(MultiRegionState {
                primary_region: s.primary_region.clone(),
                replica_regions: replicas,
                version: s.version,
                handoff: None,
                // The engine keeps the KeyMaterialId secret in the
                // `replication` family (store_material_id_secret below),
                // not in the record.
                material_id_key: None,
            }),
            grant_count: 0,
            rotation: RotationSettings {
                enabled: s.rotation.enabled,
                period_days: s.rotation.period_days,
                next_ms: s.rotation.next_ms,
                on_demand_count: s.rotation.on_demand_count,
                missed: false,
            },
            imported: None,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
        };
        if !external {
            self.store_materials(from, &s, &mut b)?;
        }
        self.store_material_id_secret(from, &s, &mut b)?;
        // Counted like CreateKey's keys, but never refused: the primary's
        // ReplicateKey already answered, and a refusal here could only
        // block the queue.
        let have = self
            .store
            .count(Counter::Keys(&rec.account))
            .map_err(KmsError::internal)?;
        b.set_count(Counter::Keys(&rec.account), have.saturating_add(1));
        b.put_key(&rec).map_err(KmsError::internal)?;
        b.put_key_policy(&id, policy.text());
        self.commit_entry(b)?;
        self.policies.put(id, Arc::new(policy));
        tracing::info!(key_id = %id, primary = %from, "created a replica of a multi-Region key");
        self.cache_put_key(rec);
        Ok(Applied::default())
    }

    /// Writes the material versions of `s` this Region lacks (opened from
    /// their HPKE seal and sealed locally, like generated material) and
    /// the states of those it has, with the rotation history, in `b`.
    fn store_materials(&self, from: &str, s: &SyncKey, b: &mut Batch<'_>) -> KmsResult<()> {
        let id = s.key_id;
        let mut region_key = None;
        for wm in &s.materials {
            match self
                .store
                .get_material(&id, wm.version)
                .map_err(KmsError::internal)?
            {
                Some(mut m) => {
                    if m.state != wm.state
                        || m.expires_ms != wm.expires_ms
                        || m.description != wm.description
                    {
                        m.state = wm.state;
                        m.expires_ms = wm.expires_ms;
                        m.description = wm.description.clone();
                        b.put_material(&id, &m).map_err(KmsError::internal)?;
                    }
                }
                None => {
                    let Some(sealed) = &wm.sealed else {
                        continue;
                    };
                    let sk = match &region_key {
                        Some(k) => Arc::clone(k),
                        None => {
                            let k = self.region_secret()?;
                            region_key = Some(Arc::clone(&k));
                            k
                        }
                    };
                    let aad = material_aad(&id, wm.version, &wm.material_id, from, &self.region);
                    let material = open_from_region(
                        &sk,
                        &sealed.enc,
                        &sealed.ciphertext,
                        REPLICATION_INFO,
                        &aad,
                    )
                    .map_err(|_| {
                        KmsError::internal(format!(
                            "material version {} of {id} from {from} does not open under this Region's replication key",
                            wm.version
                        ))
                    })?;
                    let mut m = self
                        .backend
                        .import(
                            &id,
                            wm.version,
                            s.spec,
                            &material,
                            wm.material_id.clone(),
                            wm.created_ms,
                            wm.expires_ms,
                            wm.description.clone(),
                        )
                        .map_err(KmsError::internal)?;
                    // As the primary has it: the record says where the
                    // material came from, not how it reached this Region.
                    m.origin = wm.origin;
                    m.state = wm.state;
                    m.created_ms = wm.created_ms;
                    b.put_material(&id, &m).map_err(KmsError::internal)?;
                    if wm.version > 1 {
                        b.put_rotation(
                            &id,
                            &RotationEntry {
                                version: wm.version,
                                rotation_ms: wm.created_ms,
                                rotation_type: wm.rotation_type.unwrap_or(RotationType::OnDemand),
                            },
                        )
                        .map_err(KmsError::internal)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Stores the KeyMaterialId secret `s` carries (EXTERNAL keys), if
    /// this Region has none yet.
    fn store_material_id_secret(
        &self,
        from: &str,
        s: &SyncKey,
        b: &mut Batch<'_>,
    ) -> KmsResult<()> {
        let Some(sealed) = &s.material_id_key else {
            return Ok(());
        };
        if self
            .store
            .get_material_id_key(&s.key_id)
            .map_err(KmsError::internal)?
            .is_some()
        {
            return Ok(());
        }
        let sk = self.region_secret()?;
        let aad = material_aad(&s.key_id, 0, MATERIAL_ID_KEY_AAD_ID, from, &self.region);
        let secret = open_from_region(
            &sk,
            &sealed.enc,
            &sealed.ciphertext,
            REPLICATION_INFO,
            &aad,
        )
        .map_err(|_| {
            KmsError::internal(format!(
                "the KeyMaterialId secret of {} from {from} does not open under this Region's replication key",
                s.key_id
            ))
        })?;
        self.put_mrk_material_id_secret(b, &s.key_id, &secret)
    }

    /// `HandoffDone` (`expect` Demoting: this Region is the old primary)
    /// or `HandoffAck` (`expect` Promoting: the new primary) of key `id`
    /// at `version`: ends this Region's side of the hand-over.
    fn apply_handoff(
        &self,
        from: &str,
        seq: u64,
        id: KeyId,
        version: u64,
        expect: HandoffRole,
    ) -> KmsResult<Applied> {
        let _w = self.lock(&[LockName::Key(&id)]);
        let mut b = self.store.batch();
        b.put_inbound_high_water(from, seq);
        let Some(current) = self.load_key(&id)? else {
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        let mut rec = (*current).clone();
        let matches = rec
            .mr
            .as_ref()
            .and_then(|mr| mr.handoff.as_ref())
            .filter(|h| h.role == expect && h.version == version && h.peer == from);
        let Some(h) = matches.cloned() else {
            // Not this hand-over (already finished, or another one).
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        if rec.state == KeyState::Updating {
            rec.state = h.prior_state;
        }
        if let Some(mr) = rec.mr.as_mut() {
            mr.handoff = None;
        }
        if expect == HandoffRole::Demoting {
            self.enqueue(
                &mut b,
                from,
                Outgoing::HandoffAck {
                    key_id: id,
                    version,
                },
            )?;
        }
        b.put_key(&rec).map_err(KmsError::internal)?;
        self.commit_entry(b)?;
        self.cache_put_key(rec);
        Ok(Applied::default())
    }

    /// `region` (the sender) deleted its replica of `id`: drop it from the
    /// lists; the primary also publishes the change and, when it waited in
    /// PendingReplicaDeletion for its last replica, starts its own window.
    fn apply_replica_deleted(
        &self,
        from: &str,
        seq: u64,
        id: KeyId,
        region: &str,
    ) -> KmsResult<Applied> {
        let _w = self.lock(&[LockName::Key(&id)]);
        let mut b = self.store.batch();
        b.put_inbound_high_water(from, seq);
        let current = if region == from {
            self.load_key(&id)?
        } else {
            tracing::warn!(%from, %region, key_id = %id, "a Region reported another Region's replica deleted: dropped");
            None
        };
        let Some(current) = current else {
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        let mut rec = (*current).clone();
        let Some(mr) = rec.mr.as_mut() else {
            self.commit_entry(b)?;
            return Ok(Applied::default());
        };
        let before = mr.replica_regions.len();
        mr.replica_regions.retain(|r| r != region);
        if mr.replica_regions.len() == before {
            self.commit_entry(b)?;
            return Ok(Applied::default());
        }
        let primary_here = mr.is_primary_in(&self.region);
        let none_left = mr.replica_regions.is_empty();
        let mut applied = Applied::default();
        if primary_here {
            self.shared_changed(&mut rec, &mut b)?;
            if rec.state == KeyState::PendingReplicaDeletion && none_left {
                let days = rec.pending_window_days.unwrap_or(30);
                let due = self.now_ms().saturating_add(i64::from(days) * DAY_MS);
                rec.state = KeyState::PendingDeletion;
                rec.deletion_date_ms = Some(due);
                rec.pending_window_days = Some(days);
                b.schedule(Schedule::Deletion, due, &id);
                applied.schedule_changed = true;
            }
        }
        b.put_key(&rec).map_err(KmsError::internal)?;
        self.commit_entry(b)?;
        self.cache_put_key(rec);
        Ok(applied)
    }
}

/// Why a `Sync` cannot be applied at all, whatever the local state.
fn check_sync_shape(s: &SyncKey) -> Result<(), &'static str> {
    if !s.key_id.is_multi_region() {
        return Err("not a multi-Region key id");
    }
    if !is_valid_region(&s.primary_region) || !s.replica_regions.iter().all(|r| is_valid_region(r))
    {
        return Err("an invalid Region name");
    }
    if s.replica_regions.contains(&s.primary_region) {
        return Err("the primary Region is also listed as a replica");
    }
    if s.version == 0 {
        return Err("shared-state version 0");
    }
    Ok(())
}
