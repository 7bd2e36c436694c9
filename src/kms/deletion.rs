//! Key deletion at the end of the waiting period (run by `jobs.rs`).
//!
//! The schedule is the `deletions` column family, so it survives restarts.
//! Each key is deleted in one synced batch (record, index, every material
//! version, aliases, grants, policy, rotation history, schedule entries):
//! never half-deleted.

use super::replication::Outgoing;
use super::{Inner, Kms, LockName};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyState;
use crate::store::{Batch, Counter, Schedule};

/// How many due keys one batch of work handles before re-checking.
pub(super) const BATCH: usize = 256;

impl Kms {
    /// Deletes every key that is due now. Returns how many were deleted.
    /// The background job calls this; tests may too.
    pub async fn process_due_deletions(&self) -> KmsResult<usize> {
        let mut total = 0;
        loop {
            let n = self
                .inner
                .blocking(|inner| inner.delete_due_batch())
                .await?;
            total += n.deleted;
            if !n.more {
                return Ok(total);
            }
        }
    }
}

struct BatchResult {
    deleted: usize,
    more: bool,
}

impl Inner {
    /// Takes a deleted key and its `aliases` aliases off its account's
    /// counters (in the deleting batch, under the account's lock).
    fn uncount_deleted_key(
        &self,
        rec: &crate::model::KeyRecord,
        aliases: usize,
        b: &mut Batch<'_>,
    ) -> KmsResult<()> {
        let keys = Counter::Keys(&rec.account);
        let have = self.store.count(keys).map_err(KmsError::internal)?;
        b.set_count(keys, have.saturating_sub(1));
        if aliases > 0 {
            let al = Counter::Aliases(&rec.account);
            let have = self.store.count(al).map_err(KmsError::internal)?;
            b.set_count(
                al,
                have.saturating_sub(u64::try_from(aliases).unwrap_or(u64::MAX)),
            );
        }
        Ok(())
    }

    /// Destroys the HSM keys of `rec`, a key of custom key store
    /// `store_id` being deleted (with its lock held, so no cancellation
    /// can come between this and the deleting batch). As AWS, best effort:
    /// a store that is not connected, or a cluster that refuses, leaves
    /// the HSM key orphaned in the cluster (logged by handle, for the
    /// cluster's owner to remove) and the KMS key is deleted anyway.
    /// Restart-safe: destroying a key already gone succeeds, so a deletion
    /// interrupted after this and before its commit destroys nothing twice
    /// in effect when the job runs it again.
    fn destroy_hsm_material(&self, rec: &crate::model::KeyRecord, store_id: &str) -> KmsResult<()> {
        let mut handles = Vec::new();
        for v in 1..=rec.current_version {
            if let Some(m) = self
                .store
                .get_material(&rec.id, v)
                .map_err(KmsError::internal)?
            {
                if let crate::model::MaterialLocation::Hsm { handle, .. } = m.location {
                    handles.push(handle);
                }
            }
        }
        let link = self.cks_link_loaded(store_id);
        for handle in handles {
            let result = match &link {
                // Blocking pool: waiting here for the HSM's answer blocks
                // no async worker.
                Some(l) => tokio::runtime::Handle::current().block_on(l.hsm.destroy_key(&handle)),
                None => Err(crate::backend::BackendError::Unavailable(
                    store_id.to_owned(),
                )),
            };
            match result {
                Ok(()) => {
                    tracing::info!(key_id = %rec.id, custom_key_store_id = %store_id, hsm_handle = %handle, "destroyed the HSM key of a deleted key")
                }
                Err(e) => tracing::warn!(
                    key_id = %rec.id,
                    custom_key_store_id = %store_id,
                    hsm_handle = %handle,
                    error = %e,
                    "could not destroy the HSM key of a deleted key: it is orphaned in the cluster; delete it there"
                ),
            }
        }
        Ok(())
    }

    fn delete_due_batch(&self) -> KmsResult<BatchResult> {
        let now = self.now_ms();
        let due = self
            .store
            .due_entries(Schedule::Deletion, now, BATCH)
            .map_err(KmsError::internal)?;
        let more = due.len() == BATCH;
        let mut deleted = 0;
        for entry in due {
            let result = match &entry.decoded {
                Some((due_ms, id)) => self.delete_one_due(*due_ms, id),
                None => Err(KmsError::internal("undecodable deletion schedule entry")),
            };
            match result {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                // One bad entry must not block every later deletion, nor be
                // retried in a loop: it moves to the quarantine (see
                // `jobs.rs`), and the queue goes on.
                Err(e) => self.quarantine_entry(Schedule::Deletion, &entry, &e)?,
            }
        }
        Ok(BatchResult { deleted, more })
    }

    /// Deletes key `id` if its deletion is due at `due_ms`, or drops a stale
    /// entry; `true` if a key was deleted. Takes the key's lock (and its
    /// account's, for the quota counters) for this one key only: never one
    /// lock across the whole batch.
    fn delete_one_due(&self, due_ms: i64, id: &crate::model::KeyId) -> KmsResult<bool> {
        let id = *id;
        // A key's account never changes, so it can be read before locking.
        let account = self
            .store
            .get_key(&id)
            .map_err(KmsError::internal)?
            .map(|r| r.account);
        let _w = match &account {
            Some(a) => self.lock(&[LockName::Key(&id), LockName::Account(a)]),
            None => self.lock(&[LockName::Key(&id)]),
        };
        let rec = self
            .store
            .get_key(&id)
            .map_err(KmsError::internal)?
            .filter(|r| Some(&r.account) == account.as_ref());
        let mut b = self.store.batch();
        b.unschedule(Schedule::Deletion, due_ms, &id);
        let doomed = rec
            .filter(|r| r.state == KeyState::PendingDeletion && r.deletion_date_ms == Some(due_ms));
        let Some(rec) = &doomed else {
            // A stale entry (the deletion was cancelled): just drop it.
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        };
        let aliases = self
            .store
            .aliases_of_key(&rec.account, &id)
            .map_err(KmsError::internal)?;
        if let Some(store_id) = &rec.custom_key_store_id {
            self.destroy_hsm_material(rec, store_id)?;
            match self.count_store_keys(store_id, -1, &mut b) {
                Err(KmsError::CustomKeyStoreNotFound(_)) => tracing::warn!(
                    key_id = %id,
                    custom_key_store_id = %store_id,
                    "the custom key store of a deleted key is gone"
                ),
                other => other?,
            }
        }
        b.delete_key(rec, &aliases);
        self.uncount_deleted_key(rec, aliases.len(), &mut b)?;
        // A multi-Region key: every other Region of it learns that this
        // Region's key is gone, in the deleting batch (so a crash cannot
        // delete it silently). The primary drops this Region from its
        // list and, if it waits in PendingReplicaDeletion for its last
        // replica, starts its own window.
        if let Some(mr) = &rec.mr {
            for other in mr.other_regions(&self.region) {
                self.enqueue(
                    &mut b,
                    other,
                    Outgoing::ReplicaDeleted {
                        key_id: id,
                        region: self.region.clone(),
                    },
                )?;
            }
        }
        let grantees = self.delete_all_grants(rec, &mut b)?;
        b.commit().map_err(KmsError::internal)?;
        self.keys.remove(&id);
        self.policies.remove(&id);
        for g in grantees {
            self.grants.remove(&(id, g));
        }
        for a in aliases {
            self.aliases.remove(&(rec.account.clone(), a));
        }
        for v in 1..=rec.current_version {
            self.materials.remove(&(id, v));
        }
        tracing::info!(key_id = %id, "deleted key at the end of its waiting period");
        Ok(true)
    }
}
