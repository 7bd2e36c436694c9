//! The background scheduler: key deletion, automatic rotation, and the
//! expiry of imported key material and of import parameters
//! (`import.rs`).
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
//!
//! Failure handling. A schedule entry whose processing fails (a corrupt
//! record, an undecodable schedule key, a backend error) is moved, in one
//! synced batch, to a persisted quarantine (`store/jobs.rs`), logged, and
//! listed by [`Kms::jobs_status`] and `kmsd jobs status` (which reads a
//! served data directory read-only); the entries after it proceed. `kmsd
//! jobs requeue` moves quarantined entries back once the cause is fixed. A pass that fails as a whole (e.g. the store is unreadable)
//! is retried after an exponential back-off of clock time (1 s doubling to
//! 5 min), not at once.
//!
//! Clock jumps. Deletion is irreversible and due times are wall-clock
//! times, so a forward step of the clock would delete keys early. Each
//! completed pass persists its clock reading; when a bound is set
//! ([`Kms::set_max_clock_jump`]; the daemon's default is one day) and a pass
//! finds the clock more than the bound ahead of the last pass, it places a
//! persisted hold and does nothing (neither deletions nor rotations) until
//! an operator confirms the time ([`Kms::confirm_clock`], `kmsd serve
//! --confirm-clock-jump`, `kmsd jobs confirm-clock`). While a bound is set
//! the loop wakes at least every half bound, so ordinary passing time never
//! looks like a jump; a restart after downtime longer than the bound does,
//! and needs the same confirmation.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Inner, Kms};
use crate::error::{KmsError, KmsResult};
use crate::store::{
    ClockHold, DueEntry, QuarantineEntry, Schedule, ScheduledEntry, Store, StoreError,
};

/// The longest back-off between failed passes (clock ms).
const MAX_BACKOFF_MS: i64 = 5 * 60 * 1000;
/// How often the loop re-checks when nothing wakes it sooner (clock ms).
const RECHECK_MS: i64 = 60_000;

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
    /// Whether both jobs succeeded (a failure is logged and retried after
    /// a back-off; a failing entry is quarantined and does not fail it).
    pub ok: bool,
    /// Whether the pass did nothing because of a clock-jump hold.
    pub held: bool,
}

/// The clock time to wait after `failures` consecutive failed passes:
/// 1 s, doubling, at most [`MAX_BACKOFF_MS`].
fn backoff_ms(failures: u32) -> i64 {
    1000i64
        .saturating_mul(1i64 << failures.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_MS)
}

/// What the background jobs report to an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsStatus {
    /// The clock reading of the last completed pass (Unix ms).
    pub last_pass_ms: Option<i64>,
    /// The clock-jump hold in force, if any: deletions and rotations wait
    /// for `confirm_clock`.
    pub clock_hold: Option<ClockHold>,
    /// Schedule entries that failed and were set aside.
    pub quarantined: Vec<QuarantineEntry>,
    /// The first [`STATUS_HEAD`] entries of the deletion schedule, earliest
    /// first, as stored (not authenticated: a status needs no root key).
    pub deletions: Vec<ScheduledEntry>,
    /// The same of the rotation schedule.
    pub rotations: Vec<ScheduledEntry>,
    /// The same of the import-parameter expiry schedule.
    pub import_params_expiries: Vec<ScheduledEntry>,
    /// The same of the imported-material expiry schedule.
    pub material_expiries: Vec<ScheduledEntry>,
}

/// How many entries of each schedule a status lists.
pub const STATUS_HEAD: usize = 20;

/// The jobs' status in `store`: a running core's, a stopped data
/// directory's, or a served one's opened read-only (`kmsd jobs status`).
/// Reads only what needs no root key.
pub fn jobs_status_of(store: &Store) -> Result<JobsStatus, StoreError> {
    Ok(JobsStatus {
        last_pass_ms: store.last_job_pass_ms()?,
        clock_hold: store.clock_hold()?,
        quarantined: store.quarantined()?,
        deletions: store.schedule_head(Schedule::Deletion, STATUS_HEAD)?,
        rotations: store.schedule_head(Schedule::Rotation, STATUS_HEAD)?,
        import_params_expiries: store.schedule_head(Schedule::ImportParamsExpiry, STATUS_HEAD)?,
        material_expiries: store.schedule_head(Schedule::MaterialExpiry, STATUS_HEAD)?,
    })
}

/// Lifts a clock-jump hold in `store`, accepting `now_ms` as the correct
/// time (recorded as the last pass). Returns whether a hold was in force.
pub fn confirm_clock_in(store: &Store, now_ms: i64) -> Result<bool, StoreError> {
    let held = store.clock_hold()?.is_some();
    let mut b = store.batch();
    b.clear_clock_hold();
    b.put_last_job_pass(now_ms);
    b.commit()?;
    Ok(held)
}

/// The publishing side of the pass signal, one per core (in `Inner`).
pub(crate) struct JobSignal {
    passes: watch::Sender<JobPass>,
    /// The clock-jump bound in ms; `i64::MAX` when off.
    max_clock_jump_ms: AtomicI64,
}

impl JobSignal {
    pub(crate) fn new() -> Self {
        Self {
            passes: watch::Sender::new(JobPass::default()),
            max_clock_jump_ms: AtomicI64::new(i64::MAX),
        }
    }

    fn completed(&self, as_of_ms: i64, ok: bool, held: bool) {
        self.passes.send_modify(|p| {
            *p = JobPass {
                seq: p.seq.saturating_add(1),
                as_of_ms,
                ok,
                held,
            }
        });
    }

    fn bound(&self) -> Option<i64> {
        let b = self.max_clock_jump_ms.load(Ordering::Relaxed);
        (b != i64::MAX).then_some(b)
    }
}

impl Inner {
    /// Moves a failing schedule entry to the quarantine (one synced
    /// batch) and logs it.
    pub(super) fn quarantine_entry(
        &self,
        which: Schedule,
        entry: &DueEntry,
        error: &KmsError,
    ) -> KmsResult<()> {
        let mut b = self.store.batch();
        b.quarantine(which, entry, &error.to_string(), self.now_ms());
        b.commit().map_err(KmsError::internal)?;
        tracing::error!(
            schedule = ?which,
            key_id = ?entry.decoded.as_ref().map(|(_, id)| id.to_string()),
            error = %error,
            "a job schedule entry failed; it is quarantined (see `kmsd jobs status`) and later entries proceed"
        );
        Ok(())
    }

    /// Whether this pass may act: not when a clock-jump hold is in force,
    /// nor when the clock is more than the bound ahead of the last pass (a
    /// hold is placed then).
    fn clock_gate(&self, as_of: i64, bound: Option<i64>) -> KmsResult<bool> {
        if self
            .store
            .clock_hold()
            .map_err(KmsError::internal)?
            .is_some()
        {
            return Ok(false);
        }
        let (Some(bound), Some(last)) = (
            bound,
            self.store.last_job_pass_ms().map_err(KmsError::internal)?,
        ) else {
            return Ok(true);
        };
        if as_of.saturating_sub(last) <= bound {
            return Ok(true);
        }
        let hold = ClockHold {
            last_pass_ms: last,
            seen_ms: as_of,
        };
        let mut b = self.store.batch();
        b.put_clock_hold(&hold);
        b.commit().map_err(KmsError::internal)?;
        tracing::error!(
            last_pass_ms = last,
            now_ms = as_of,
            bound_ms = bound,
            "the clock moved forward more than the bound since the last job pass; key deletions and rotations are on hold until an operator confirms the time (`kmsd jobs confirm-clock` or `kmsd serve --confirm-clock-jump`)"
        );
        Ok(false)
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

    /// Sets the clock-jump bound (`None`: off, the default of a core; the
    /// daemon sets one day). See the module docs.
    pub fn set_max_clock_jump(&self, bound: Option<Duration>) {
        let ms = bound
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX - 1).max(1))
            .unwrap_or(i64::MAX);
        self.inner
            .jobs
            .max_clock_jump_ms
            .store(ms, Ordering::Relaxed);
        self.inner.schedule_changed.notify_one();
    }

    /// The background jobs' status: last pass, clock-jump hold, quarantine.
    pub async fn jobs_status(&self) -> KmsResult<JobsStatus> {
        self.inner
            .blocking(|i| jobs_status_of(&i.store).map_err(KmsError::internal))
            .await
    }

    /// Lifts a clock-jump hold, accepting the current clock reading as the
    /// correct time; wakes the jobs. Returns whether a hold was in force.
    pub async fn confirm_clock(&self) -> KmsResult<bool> {
        let held = self
            .inner
            .blocking(|i| confirm_clock_in(&i.store, i.now_ms()).map_err(KmsError::internal))
            .await?;
        if held {
            tracing::warn!("clock confirmed by the operator; the background jobs resume");
        }
        self.inner.schedule_changed.notify_one();
        Ok(held)
    }

    /// Runs the deletion and rotation jobs until `shutdown` turns true.
    pub async fn run_background_jobs(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            // Read before any work: the pass covers everything due by then.
            let as_of = self.inner.now_ms();
            let bound = self.inner.jobs.bound();
            let mut ok = true;
            let gate = self
                .inner
                .blocking(move |i| i.clock_gate(as_of, bound))
                .await;
            let held = match gate {
                Ok(proceed) => !proceed,
                Err(e) => {
                    tracing::error!(error = %e, "reading the job state failed; retrying");
                    ok = false;
                    true
                }
            };
            if !held {
                if let Err(e) = self.process_due_deletions().await {
                    tracing::error!(error = %e, "deletion job failed; retrying");
                    ok = false;
                }
                if let Err(e) = self.process_due_rotations().await {
                    tracing::error!(error = %e, "rotation job failed; retrying");
                    ok = false;
                }
                if let Err(e) = self.process_due_import_expiry().await {
                    tracing::error!(error = %e, "imported-material expiry job failed; retrying");
                    ok = false;
                }
                let recorded = self
                    .inner
                    .blocking(move |i| {
                        let mut b = i.store.batch();
                        b.put_last_job_pass(as_of);
                        b.commit().map_err(KmsError::internal)
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "recording the job pass failed");
                    ok = false;
                }
            }
            self.inner.jobs.completed(as_of, ok, held && ok);
            failures = if ok { 0 } else { failures.saturating_add(1) };
            let inner = Arc::clone(&self.inner);
            let next = inner
                .blocking(|i| {
                    let mut next: Option<i64> = None;
                    for which in Schedule::ALL {
                        let due = i.store.next_due(which).map_err(KmsError::internal)?;
                        next = match (next, due) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    Ok(next)
                })
                .await;
            let next = match next {
                Ok(Some(due)) => due,
                // Nothing scheduled (or an error already logged): wait for a
                // change, re-checking a minute of clock time after this pass
                // began (not after now: a clock moved past that minute while
                // this pass ran must still wake the next one).
                _ => as_of.saturating_add(RECHECK_MS),
            };
            let next = if held {
                // Only a confirmation (which notifies) or a restart lifts a
                // hold; re-check now and then anyway.
                as_of.saturating_add(RECHECK_MS)
            } else if !ok {
                // A persistent error must not spin: back off (clock time).
                next.max(as_of.saturating_add(backoff_ms(failures)))
            } else {
                next
            };
            // With a bound, wake at least every half bound, so that time
            // passing while kmsd runs is never mistaken for a jump.
            let next = match bound {
                Some(b) => next.min(as_of.saturating_add((b / 2).max(1))),
                None => next,
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

    /// Item 16: failed passes are retried after a growing, bounded wait,
    /// never at once (a persistent error used to pin a CPU).
    #[test]
    fn item_16_failed_passes_back_off() {
        assert_eq!(backoff_ms(1), 1000);
        assert_eq!(backoff_ms(2), 2000);
        assert_eq!(backoff_ms(5), 16_000);
        assert_eq!(backoff_ms(9), 256_000);
        assert_eq!(backoff_ms(10), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);
        let mut last = 0;
        for n in 1..100 {
            let b = backoff_ms(n);
            assert!(b >= last && b > 0);
            last = b;
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        kms: Kms,
        clock: ManualClock,
        stop: watch::Sender<bool>,
        jobs: tokio::task::JoinHandle<()>,
    }

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    async fn fixture(bound: Option<Duration>, before_start: impl FnOnce(&Kms)) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
        let store = Store::open(&dir.path().join("db")).expect("open store");
        let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
        let clock = ManualClock::new(1_000_000_000);
        let kms = Kms::new(
            store,
            Arc::new(backend),
            KmsConfig::default(),
            Arc::new(clock.clone()),
        );
        kms.set_max_clock_jump(bound);
        before_start(&kms);
        let (stop, stop_rx) = watch::channel(false);
        let jobs = tokio::spawn(kms.clone().run_background_jobs(stop_rx));
        kms.wait_job_pass_as_of(clock.now_ms()).await;
        Fixture {
            _dir: dir,
            kms,
            clock,
            stop,
            jobs,
        }
    }

    impl Fixture {
        async fn pass(&self) -> JobPass {
            let now = self.clock.now_ms();
            tokio::time::timeout(Duration::from_secs(60), self.kms.wait_job_pass_as_of(now))
                .await
                .expect("a pass")
        }

        /// A key scheduled for deletion in 7 days.
        async fn doomed_key(&self) -> crate::model::KeyId {
            let caller = crate::testing::local_caller(crate::pki::DEV_PRINCIPAL).expect("caller");
            let key = self
                .kms
                .create_key(&caller, crate::kms::request::CreateKeyRequest::default())
                .await
                .expect("create");
            self.kms
                .schedule_key_deletion(
                    &caller,
                    crate::kms::request::ScheduleKeyDeletionRequest {
                        key_id: key.id.to_string(),
                        pending_window_in_days: Some(7),
                    },
                )
                .await
                .expect("schedule");
            key.id
        }

        fn exists(&self, id: &crate::model::KeyId) -> bool {
            self.kms.inner.store.get_key(id).expect("get").is_some()
        }

        async fn stop(self) {
            self.stop.send(true).expect("jobs running");
            self.jobs.await.expect("jobs task");
        }
    }

    /// Item 16: an entry that cannot be processed (here undecodable
    /// schedule keys at the head of both queues) is quarantined, persisted
    /// and reported, and does not block the entries after it or fail the
    /// passes; the loop does not spin on it.
    #[tokio::test]
    async fn item_16_a_failing_entry_is_quarantined_and_later_work_proceeds() {
        let f = fixture(None, |_| {}).await;
        let id = f.doomed_key().await;
        // Corrupt entries due long ago, ahead of the key in each queue.
        {
            let mut b = f.kms.inner.store.batch();
            b.put_raw_schedule_key(Schedule::Deletion, &[0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
            b.put_raw_schedule_key(Schedule::Rotation, &[0xee; 5]);
            b.commit().expect("commit");
        }
        f.clock.advance(8 * DAY);
        let pass = f.pass().await;
        assert!(pass.ok, "{pass:?}");
        assert!(!pass.held);
        assert!(!f.exists(&id), "the key after the bad entry was deleted");
        let status = f.kms.jobs_status().await.expect("status");
        assert_eq!(status.quarantined.len(), 2, "{status:?}");
        let kinds: Vec<&str> = status
            .quarantined
            .iter()
            .map(|q| q.schedule.as_str())
            .collect();
        assert!(kinds.contains(&"deletion") && kinds.contains(&"rotation"));
        assert!(status.quarantined.iter().all(|q| q.key_id.is_none()));
        // Out of the queues: nothing is due any more, and later passes
        // stay clean and quarantine nothing more.
        assert_eq!(
            f.kms
                .inner
                .store
                .next_due(Schedule::Deletion)
                .expect("next"),
            None
        );
        f.clock.advance(Duration::from_secs(120));
        assert!(f.pass().await.ok);
        assert_eq!(
            f.kms.jobs_status().await.expect("status").quarantined.len(),
            2
        );
        f.stop().await;
    }

    /// Item 16: with a bound, a forward clock step larger than the bound
    /// holds deletions (and rotations) until an operator confirms the time,
    /// and the hold is persisted and reported; time passing normally while
    /// kmsd runs (the loop wakes at least every half bound) does not hold.
    #[tokio::test]
    async fn item_16_a_forward_clock_jump_holds_deletions_until_confirmed() {
        let f = fixture(Some(DAY), |_| {}).await;
        let id = f.doomed_key().await;
        f.pass().await;
        // One step of 8 days: the key would be due, but the clock jumped.
        f.clock.advance(8 * DAY);
        let pass = f.pass().await;
        assert!(pass.held && pass.ok, "{pass:?}");
        assert!(f.exists(&id), "nothing is deleted on a jumped clock");
        let status = f.kms.jobs_status().await.expect("status");
        let hold = status.clock_hold.expect("a hold");
        assert_eq!(hold.seen_ms, pass.as_of_ms);
        // Near miss: the hold does not lift itself as time goes on.
        f.clock.advance(Duration::from_secs(61));
        let again = f.pass().await;
        assert!(again.held);
        assert!(f.exists(&id));
        // The operator confirms: the next pass deletes.
        assert!(f.kms.confirm_clock().await.expect("confirm"));
        // A pass that began before the confirmation may still finish held:
        // wait for one that read the clock after it (the clock moves on).
        f.clock.advance(Duration::from_millis(1));
        let after = f.pass().await;
        assert!(!after.held && after.ok, "{after:?}");
        assert!(!f.exists(&id));
        assert_eq!(f.kms.jobs_status().await.expect("status").clock_hold, None);

        // Ordinary time: 16 steps of half a day reach another key's due
        // time with no hold.
        let id2 = f.doomed_key().await;
        for _ in 0..16 {
            f.clock.advance(DAY / 2);
            let p = f.pass().await;
            assert!(!p.held, "{p:?}");
        }
        assert!(!f.exists(&id2));
        f.stop().await;
    }

    /// Item 16: a clock jump while kmsd was down is caught by the first pass
    /// after the restart (the last pass is persisted).
    #[tokio::test]
    async fn item_16_a_clock_jump_across_a_restart_is_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new(1_000_000_000);
        let open = |clock: &ManualClock| {
            let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
            let store = Store::open(&dir.path().join("db")).expect("open store");
            let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
            let kms = Kms::new(
                store,
                Arc::new(backend),
                KmsConfig::default(),
                Arc::new(clock.clone()),
            );
            kms.set_max_clock_jump(Some(DAY));
            kms
        };
        {
            let kms = open(&clock);
            let (stop, rx) = watch::channel(false);
            let jobs = tokio::spawn(kms.clone().run_background_jobs(rx));
            assert!(!kms.wait_job_pass_as_of(clock.now_ms()).await.held);
            stop.send(true).expect("stop");
            jobs.await.expect("jobs");
        }
        clock.advance(3 * DAY);
        let kms = open(&clock);
        let (stop, rx) = watch::channel(false);
        let jobs = tokio::spawn(kms.clone().run_background_jobs(rx));
        assert!(kms.wait_job_pass_as_of(clock.now_ms()).await.held);
        assert!(kms
            .jobs_status()
            .await
            .expect("status")
            .clock_hold
            .is_some());
        stop.send(true).expect("stop");
        jobs.await.expect("jobs");
    }
}
