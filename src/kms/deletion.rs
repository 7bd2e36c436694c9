//! The deletion job: removes keys whose PendingDeletion window has ended.
//!
//! The schedule is the `deletions` column family, so it survives restarts:
//! on start the job deletes whatever fell due while kmsd was down, then
//! sleeps (through the injectable [`Clock`](crate::clock::Clock)) until the
//! next due time or until ScheduleKeyDeletion / CancelKeyDeletion changes
//! the schedule. Each key is deleted in one synced batch (record, index,
//! every material version, aliases, schedule entry): never half-deleted.

use std::sync::Arc;

use tokio::sync::watch;

use super::{Inner, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::KeyState;

/// How many due keys one batch of work handles before re-checking.
const BATCH: usize = 256;

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

    /// Runs the deletion job until `shutdown` turns true.
    pub async fn run_deletion_job(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.process_due_deletions().await {
                tracing::error!(error = %e, "deletion job failed; retrying in a minute");
            }
            let inner = Arc::clone(&self.inner);
            let next = match inner
                .blocking(|i| i.store.next_deletion_due().map_err(KmsError::internal))
                .await
            {
                Ok(Some(due)) => due,
                // Nothing scheduled (or an error already logged): wait for a
                // change, re-checking at least once a minute of clock time.
                _ => self.inner.now_ms().saturating_add(60_000),
            };
            tokio::select! {
                _ = self.inner.clock.sleep_until(next) => {}
                _ = self.inner.deletion_changed.notified() => {}
                _ = shutdown.changed() => {}
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
            .due_deletions(now, BATCH)
            .map_err(KmsError::internal)?;
        let more = due.len() == BATCH;
        let mut deleted = 0;
        for (due_ms, id) in due {
            let rec = self.store.get_key(&id).map_err(KmsError::internal)?;
            let mut b = self.store.batch();
            b.unschedule_deletion(due_ms, &id);
            let doomed = rec.filter(|r| {
                r.state == KeyState::PendingDeletion && r.deletion_date_ms == Some(due_ms)
            });
            if let Some(rec) = &doomed {
                let aliases = self.store.aliases_of_key(&id).map_err(KmsError::internal)?;
                b.delete_key(rec, &aliases);
                b.commit().map_err(KmsError::internal)?;
                self.keys.remove(&id);
                for a in aliases {
                    self.aliases.remove(&(rec.account.clone(), a));
                }
                for v in 1..=rec.current_version {
                    self.materials.remove(&(id, v));
                }
                tracing::info!(key_id = %id, "deleted key at the end of its waiting period");
                deleted += 1;
            } else {
                // A stale entry (the deletion was cancelled): just drop it.
                b.commit().map_err(KmsError::internal)?;
            }
        }
        Ok(BatchResult { deleted, more })
    }
}
