//! The background scheduler: key deletion and automatic rotation.
//!
//! Both schedules are column families ordered by due time, so they survive
//! restarts: on start the loop performs whatever fell due while kmsd was
//! down (catch-up), then sleeps through the injectable
//! [`Clock`](crate::clock::Clock) until the earliest due time, or until an
//! operation changes a schedule (`schedule_changed`), or shutdown. Each
//! job's unit of work is one synced RocksDB batch, so a crash leaves it
//! either done or not started, and a restart simply finds it still due.
//!
//! Every completed pass is published on a watch channel ([`JobPass`]), so a
//! test that advances a `ManualClock` to `t` can await
//! [`Kms::wait_job_pass_as_of`]`(t)`, the first pass that read the clock at
//! or after `t`, and then assert, with neither polling nor sleeping.

use std::sync::Arc;

use tokio::sync::watch;

use super::Kms;
use crate::error::KmsError;
use crate::store::Schedule;

/// One completed pass of the background jobs (deletion, then rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobPass {
    /// Passes completed since this core started (1 for the first; 0 means
    /// none yet).
    pub seq: u64,
    /// The clock reading (Unix ms) the pass took before doing any work:
    /// everything due at or before this instant had been processed when the
    /// pass completed.
    pub as_of_ms: i64,
    /// Whether both jobs succeeded (a failure is logged and retried).
    pub ok: bool,
}

/// The publishing side of the pass signal, one per core (in `Inner`).
pub(crate) struct JobSignal {
    passes: watch::Sender<JobPass>,
}

impl JobSignal {
    pub(crate) fn new() -> Self {
        Self {
            passes: watch::Sender::new(JobPass::default()),
        }
    }

    fn completed(&self, as_of_ms: i64, ok: bool) {
        self.passes.send_modify(|p| {
            *p = JobPass {
                seq: p.seq.saturating_add(1),
                as_of_ms,
                ok,
            }
        });
    }
}

impl Kms {
    /// The latest completed background pass, as a watch receiver (its value
    /// is [`JobPass::default`] until the first pass completes).
    pub fn job_passes(&self) -> watch::Receiver<JobPass> {
        self.inner.jobs.passes.subscribe()
    }

    /// Waits until a background pass that read the clock at or after
    /// `as_of_ms` has completed, and returns it. Passes run one after
    /// another, so at that point every deletion and rotation due at
    /// `as_of_ms` has been performed (or the pass reports `ok == false`).
    ///
    /// Something must make such a pass happen: a due time at or before
    /// `as_of_ms` that the clock has reached (advancing a `ManualClock`
    /// wakes the job), a schedule change, or the start of the jobs (the
    /// catch-up pass). Without one (or once the jobs have been stopped) it
    /// waits for ever, so a test should bound the wait as a hang guard.
    pub async fn wait_job_pass_as_of(&self, as_of_ms: i64) -> JobPass {
        let mut rx = self.job_passes();
        let pass = rx
            .wait_for(|p| p.seq > 0 && p.as_of_ms >= as_of_ms)
            .await
            .map(|p| *p);
        match pass {
            Ok(pass) => pass,
            // The sender lives in `Inner`, which `self` keeps alive, so the
            // channel cannot close while we wait.
            Err(_) => std::future::pending().await,
        }
    }

    /// Runs the deletion and rotation jobs until `shutdown` turns true.
    pub async fn run_background_jobs(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Read before any work: the pass covers everything due by then.
            let as_of = self.inner.now_ms();
            let mut ok = true;
            if let Err(e) = self.process_due_deletions().await {
                tracing::error!(error = %e, "deletion job failed; retrying");
                ok = false;
            }
            if let Err(e) = self.process_due_rotations().await {
                tracing::error!(error = %e, "rotation job failed; retrying");
                ok = false;
            }
            self.inner.jobs.completed(as_of, ok);
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
                // change, re-checking a minute of clock time after this pass
                // began (not after now: a clock moved past that minute while
                // this pass ran must still wake the next one).
                _ => as_of.saturating_add(60_000),
            };
            tokio::select! {
                _ = self.inner.clock.sleep_until(next) => {}
                _ = self.inner.schedule_changed.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::kms::KmsConfig;
    use crate::secret::RootKey;
    use crate::store::Store;

    /// Each pass is published with the clock reading it started from, and
    /// advancing a manual clock past the loop's deadline wakes it for a new
    /// pass: awaiting the signal needs no real sleep.
    #[tokio::test]
    async fn passes_are_published_and_a_clock_advance_wakes_the_loop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
        let store = Store::open(&dir.path().join("db")).expect("open store");
        let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
        let clock = ManualClock::new(1_000_000);
        let kms = Kms::new(
            store,
            Arc::new(backend),
            KmsConfig::default(),
            Arc::new(clock.clone()),
        );
        assert_eq!(*kms.job_passes().borrow(), JobPass::default());
        let (stop, stop_rx) = watch::channel(false);
        let jobs = tokio::spawn(kms.clone().run_background_jobs(stop_rx));

        // The catch-up pass at start.
        let first = kms.wait_job_pass_as_of(1_000_000).await;
        assert_eq!(first.as_of_ms, 1_000_000);
        assert!(first.ok);
        assert!(first.seq >= 1);

        // Nothing is scheduled, so the loop re-checks a minute of clock time
        // later; moving the clock past that wakes it.
        clock.advance(Duration::from_secs(61));
        let t = clock.now_ms();
        let next = kms.wait_job_pass_as_of(t).await;
        assert!(next.seq > first.seq);
        assert!(next.as_of_ms >= t);

        stop.send(true).expect("jobs running");
        jobs.await.expect("jobs task");
    }
}
