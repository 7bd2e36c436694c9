//! A fixed set of threads for private-key operations that take
//! milliseconds (RSA Sign and Decrypt, the RSA unwrapping of imported key
//! material), fed from one queue.
//!
//! Why not tokio's blocking pool under a semaphore, as before: there every
//! operation went through a tokio worker twice (the freed permit woke the
//! next waiter, which then called `spawn_blocking`), and the blocking pool
//! hands each task to whichever of its idle threads it wakes, so under a
//! Sign RSA_2048 flood on 2 cores the signatures were spread over about 33
//! threads, each starting cold. Here a thread that finishes takes the next
//! operation straight from the queue, and only these threads ever run
//! them. Measured in docs/benchmarks.md ("A leaner load generator and an
//! RSA pool of its own").
//!
//! The thread count is the bound: at most that many such operations run at
//! once, whatever the flood, and the blocking pool stays free for the
//! store's reads and commits. A caller that gives up (its request
//! cancelled) does not stop an operation that has started; one still
//! queued runs and its result is dropped. Threads start on first use, so
//! a core that never signs with RSA has none.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::error::{KmsError, KmsResult};

type Job = Box<dyn FnOnce() + Send>;

/// The pool (see the module docs).
pub(crate) struct CpuPool {
    name: &'static str,
    threads: usize,
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl CpuPool {
    /// A pool of `threads` threads (at least one) named `name-N`, not yet
    /// started.
    pub(crate) fn new(name: &'static str, threads: usize) -> Self {
        Self {
            name,
            threads: threads.max(1),
            queue: OnceLock::new(),
        }
    }

    /// How many operations run at once at most.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on one of the pool's threads and returns its result. A
    /// panic in `f` is an internal error here, and the thread goes on.
    pub(crate) async fn run<T, F>(&self, f: F) -> KmsResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The receiver is gone only if the caller gave up.
            let _ = tx.send(f());
        });
        self.queue()?
            .send(job)
            .map_err(|_| KmsError::internal(format!("{} pool has stopped", self.name)))?;
        rx.await
            .map_err(|_| KmsError::internal(format!("{} pool operation failed", self.name)))
    }

    /// The queue, starting the threads on first use.
    fn queue(&self) -> KmsResult<&mpsc::Sender<Job>> {
        if let Some(q) = self.queue.get() {
            return Ok(q);
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..self.threads {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || worker(&rx))
                .map_err(|e| {
                    KmsError::internal(format!("cannot start a {} thread: {e}", self.name))
                })?;
        }
        // Another caller may have started the pool meanwhile; then this
        // one's threads see their queue closed (its sender dropped) and
        // end at once.
        Ok(self.queue.get_or_init(|| tx))
    }
}

/// A pool thread: takes jobs until every sender is gone (the pool
/// dropped).
fn worker(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while
        // running one, so a panicking job cannot poison it; a poisoned lock
        // (impossible here) still guards a usable receiver.
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            // A panic drops the job's result sender: its caller gets an
            // internal error, and this thread takes the next job.
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;

    const HANG_GUARD: Duration = Duration::from_secs(30);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_jobs_and_returns_their_results() {
        let pool = CpuPool::new("test-pool", 2);
        let mut handles = Vec::new();
        let pool = Arc::new(pool);
        for i in 0..32u64 {
            let pool = Arc::clone(&pool);
            handles.push(tokio::spawn(async move { pool.run(move || i * i).await }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let i = i as u64;
            assert_eq!(h.await.expect("task").expect("run"), i * i);
        }
    }

    /// The thread count bounds how many jobs run at once: with every
    /// thread held, another job waits; it runs once one is freed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_jobs_run_at_once_than_threads() {
        let pool = Arc::new(CpuPool::new("test-pool", 3));
        let running = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let mut holders = Vec::new();
        for _ in 0..pool.threads() {
            let (pool, running, release_rx) = (
                Arc::clone(&pool),
                Arc::clone(&running),
                Arc::clone(&release_rx),
            );
            holders.push(tokio::spawn(async move {
                pool.run(move || {
                    running.fetch_add(1, SeqCst);
                    let _ = release_rx.lock().expect("lock").recv();
                })
                .await
            }));
        }
        tokio::time::timeout(HANG_GUARD, async {
            while running.load(SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the holders started");
        let ran = Arc::new(AtomicUsize::new(0));
        let ran2 = Arc::clone(&ran);
        let pool2 = Arc::clone(&pool);
        let mut extra =
            tokio::spawn(async move { pool2.run(move || ran2.fetch_add(1, SeqCst)).await });
        // Not a speed check: a job that found a free thread would run at
        // once; one that has to wait never runs while the holders hold.
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut extra).await;
        assert!(waited.is_err(), "a fourth job ran on three held threads");
        assert_eq!(ran.load(SeqCst), 0);
        for _ in 0..3 {
            release_tx.send(()).expect("release");
        }
        tokio::time::timeout(HANG_GUARD, extra)
            .await
            .expect("hang")
            .expect("task")
            .expect("run");
        assert_eq!(ran.load(SeqCst), 1);
        for h in holders {
            h.await.expect("task").expect("holder");
        }
    }

    /// A panicking job is an internal error for its caller; the thread
    /// survives and runs the next job.
    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_goes_on() {
        let pool = CpuPool::new("test-pool", 1);
        let r: KmsResult<()> = pool.run(|| panic!("boom")).await;
        assert!(matches!(r, Err(KmsError::Internal(_))), "{r:?}");
        assert_eq!(pool.run(|| 7).await.expect("after the panic"), 7);
    }

    /// A caller that gives up does not stop the job, and the pool is
    /// usable afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_caller_leaves_the_pool_usable() {
        let pool = Arc::new(CpuPool::new("test-pool", 1));
        let done = Arc::new(AtomicUsize::new(0));
        let d = Arc::clone(&done);
        let p = Arc::clone(&pool);
        let t = tokio::spawn(async move {
            p.run(move || {
                std::thread::sleep(Duration::from_millis(50));
                d.fetch_add(1, SeqCst);
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        t.abort();
        let _ = t.await;
        assert_eq!(pool.run(|| 1).await.expect("next"), 1);
        assert_eq!(done.load(SeqCst), 1, "the started job finished first");
    }
}
