//! The background scheduler: key deletion and automatic rotation.
//!
//! Both schedules are column families ordered by due time, so they survive
//! restarts: on start the loop performs whatever fell due while kmsd was
//! down (catch-up), then sleeps through the injectable
//! [`Clock`](crate::clock::Clock) until the earliest due time, or until an
//! operation changes a schedule (`schedule_changed`), or shutdown. Each
//! job's unit of work is one synced RocksDB batch, so a crash leaves it
//! either done or not started, and a restart simply finds it still due.

use std::sync::Arc;

use tokio::sync::watch;

use super::Kms;
use crate::error::KmsError;
use crate::store::Schedule;

impl Kms {
    /// Runs the deletion and rotation jobs until `shutdown` turns true.
    pub async fn run_background_jobs(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.process_due_deletions().await {
                tracing::error!(error = %e, "deletion job failed; retrying");
            }
            if let Err(e) = self.process_due_rotations().await {
                tracing::error!(error = %e, "rotation job failed; retrying");
            }
            let inner = Arc::clone(&self.inner);
            let next = inner
                .blocking(|i| {
                    let d = i
                        .store
                        .next_due(Schedule::Deletion)
                        .map_err(KmsError::internal)?;
                    let r = i
                        .store
                        .next_due(Schedule::Rotation)
                        .map_err(KmsError::internal)?;
                    Ok(match (d, r) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    })
                })
                .await;
            let next = match next {
                Ok(Some(due)) => due,
                // Nothing scheduled (or an error already logged): wait for a
                // change, re-checking at least once a minute of clock time.
                _ => self.inner.now_ms().saturating_add(60_000),
            };
            tokio::select! {
                _ = self.inner.clock.sleep_until(next) => {}
                _ = self.inner.schedule_changed.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
