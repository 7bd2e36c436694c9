//! Key deletion at the end of the waiting period (run by `jobs.rs`).
//!
//! The schedule is the `deletions` column family, so it survives restarts.
//! Each key is deleted in one synced batch (record, index, every material
//! version, aliases, grants, policy, rotation history, schedule entries):
//! never half-deleted.

use super::{Inner, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyState;
use crate::store::Schedule;

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
    fn delete_due_batch(&self) -> KmsResult<BatchResult> {
        let _w = self.write_guard();
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
    /// entry; `true` if a key was deleted.
    fn delete_one_due(&self, due_ms: i64, id: &crate::model::KeyId) -> KmsResult<bool> {
        let id = *id;
        let rec = self.store.get_key(&id).map_err(KmsError::internal)?;
        let mut b = self.store.batch();
        b.unschedule(Schedule::Deletion, due_ms, &id);
        let doomed = rec
            .filter(|r| r.state == KeyState::PendingDeletion && r.deletion_date_ms == Some(due_ms));
        let Some(rec) = &doomed else {
            // A stale entry (the deletion was cancelled): just drop it.
            b.commit().map_err(KmsError::internal)?;
            return Ok(false);
        };
        let aliases = self.store.aliases_of_key(&id).map_err(KmsError::internal)?;
        b.delete_key(rec, &aliases);
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
