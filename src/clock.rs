//! Time, injectable: the daemon uses the system clock; tests use a
//! [`ManualClock`] they advance by hand, which wakes every sleeper whose
//! deadline has passed. Background jobs only ever sleep through a [`Clock`],
//! so a test never has to wait for real time to pass.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A source of the current time and of sleeps.
pub trait Clock: Send + Sync + 'static {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;

    /// Completes once `now_ms() >= deadline_ms` (it may complete early;
    /// callers re-check).
    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let wait = deadline_ms.saturating_sub(self.now_ms()).max(0);
        // Cap long sleeps so a changed wall clock is noticed within a minute.
        let wait =
            Duration::from_millis(u64::try_from(wait).unwrap_or(0)).min(Duration::from_secs(60));
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to. Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    now_ms: AtomicI64,
    changed: Notify,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        Self {
            inner: Arc::new(ManualInner {
                now_ms: AtomicI64::new(start_ms),
                changed: Notify::new(),
            }),
        }
    }

    /// A clock starting at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now_ms())
    }

    /// Moves the clock forward and wakes every sleeper.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.inner.now_ms.fetch_add(ms, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.inner.now_ms.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                // Register interest before checking, so an advance between
                // the check and the wait is not missed.
                let notified = self.inner.changed.notified();
                if self.now_ms() >= deadline_ms {
                    return;
                }
                notified.await;
            }
        })
    }
}

/// Moved to the gRPC door: the core does not produce wire types.
///
/// TRANSITIONAL shim so `src/service/{mod,convert}.rs` keep compiling until
/// they import `crate::service::time::to_timestamp`; then delete it (and its
/// entry in tests/it/tidy.rs `SHIMS`).
pub use crate::service::time::to_timestamp;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_on_advance() {
        let clock = ManualClock::new(1_000);
        let c2 = clock.clone();
        let sleeper = tokio::spawn(async move {
            c2.sleep_until(1_000 + DAY_MS).await;
            c2.now_ms()
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_millis(10));
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(86_400));
        let woke_at = sleeper.await.expect("join");
        assert!(woke_at >= 1_000 + DAY_MS);
    }
}
