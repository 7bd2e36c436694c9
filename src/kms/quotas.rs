//! Quotas (issue 11 item 14): per-account resource limits, answered with
//! LimitExceededException, and a per-account request-rate limit, answered
//! with ThrottlingException.
//!
//! Resource limits are checked by writers against the store's counters
//! (`store/quotas.rs`), under the lock of what the counter counts, and the
//! counter is updated in the change's own batch: exact, no scan. The
//! defaults are AWS's (per account and Region): 100,000 customer managed
//! keys, 50,000 aliases, 500 grants for one grantee principal on one key;
//! and for kmsd's identity policies (an IAM-lite of its own) 10 per
//! principal, IAM's default for managed policies attached to a user or
//! role.
//!
//! The rate limit is a token bucket per account (refilled at `requests
//! per second`, holding at most `burst`), driven by the core's clock. A
//! request costs one shard-mutex lookup by account (no allocation once
//! the account has a bucket); memory grows with the number of accounts
//! that call, not with keys. It is off (0) unless configured.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{KmsError, KmsResult};

/// Per-account resource limits (see the module docs for the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Keys per account (customer managed keys per account and Region).
    pub keys_per_account: u64,
    /// Aliases per account.
    pub aliases_per_account: u64,
    /// Grants on one key for one grantee principal.
    pub grants_per_grantee_per_key: u64,
    /// Identity policies per principal.
    pub identity_policies_per_principal: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            keys_per_account: 100_000,
            aliases_per_account: 50_000,
            grants_per_grantee_per_key: 500,
            identity_policies_per_principal: 10,
        }
    }
}

/// A per-account request-rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per account.
    pub requests_per_second: u32,
    /// Requests an idle account may make at once.
    pub burst: u32,
}

const SHARDS: usize = 32;

/// How many idle accounts a shard keeps before it forgets the full ones.
const BUCKETS_PER_SHARD: usize = 4096;

struct Bucket {
    /// Tokens, in thousandths of a request.
    milli: u64,
    last_ms: i64,
}

/// The live quota settings and the rate limiter's buckets.
pub(crate) struct Quotas {
    keys: AtomicU64,
    aliases: AtomicU64,
    grants: AtomicU64,
    identity: AtomicU64,
    /// 0: no rate limit.
    rps: AtomicU32,
    burst: AtomicU32,
    buckets: Vec<Mutex<HashMap<Box<str>, Bucket>>>,
    hasher: RandomState,
}

impl Quotas {
    pub(crate) fn new(limits: Limits, rate: Option<RateLimit>) -> Self {
        let q = Self {
            keys: AtomicU64::new(0),
            aliases: AtomicU64::new(0),
            grants: AtomicU64::new(0),
            identity: AtomicU64::new(0),
            rps: AtomicU32::new(0),
            burst: AtomicU32::new(0),
            buckets: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        };
        q.set_limits(limits);
        q.set_rate(rate);
        q
    }

    pub(crate) fn set_limits(&self, l: Limits) {
        self.keys.store(l.keys_per_account, Ordering::Relaxed);
        self.aliases.store(l.aliases_per_account, Ordering::Relaxed);
        self.grants
            .store(l.grants_per_grantee_per_key, Ordering::Relaxed);
        self.identity
            .store(l.identity_policies_per_principal, Ordering::Relaxed);
    }

    pub(crate) fn limits(&self) -> Limits {
        Limits {
            keys_per_account: self.keys.load(Ordering::Relaxed),
            aliases_per_account: self.aliases.load(Ordering::Relaxed),
            grants_per_grantee_per_key: self.grants.load(Ordering::Relaxed),
            identity_policies_per_principal: self.identity.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_rate(&self, rate: Option<RateLimit>) {
        let (rps, burst) = rate.map_or((0, 0), |r| (r.requests_per_second, r.burst.max(1)));
        self.burst.store(burst, Ordering::Relaxed);
        self.rps.store(rps, Ordering::Relaxed);
        for s in &self.buckets {
            s.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// Takes one request's token from `account`'s bucket at `now_ms`, or
    /// refuses with ThrottlingException.
    pub(crate) fn admit(&self, account: &str, now_ms: i64) -> KmsResult<()> {
        let rps = u64::from(self.rps.load(Ordering::Relaxed));
        if rps == 0 {
            return Ok(());
        }
        let cap = u64::from(self.burst.load(Ordering::Relaxed)).saturating_mul(1000);
        let i = (self.hasher.hash_one(account) as usize) % SHARDS;
        // A poisoned shard holds only counters; keep using it.
        let mut shard = self.buckets[i].lock().unwrap_or_else(|p| p.into_inner());
        let bucket = match shard.get_mut(account) {
            Some(b) => b,
            None => {
                if shard.len() >= BUCKETS_PER_SHARD {
                    // Forget accounts that have been idle long enough to be
                    // full again: forgetting them changes nothing.
                    shard.retain(|_, b| {
                        let idle = u64::try_from(now_ms.saturating_sub(b.last_ms)).unwrap_or(0);
                        b.milli.saturating_add(idle.saturating_mul(rps)) < cap
                    });
                }
                shard.entry(account.into()).or_insert(Bucket {
                    milli: cap,
                    last_ms: now_ms,
                })
            }
        };
        // Milliseconds × requests/s = thousandths of a request.
        let elapsed = u64::try_from(now_ms.saturating_sub(bucket.last_ms)).unwrap_or(0);
        bucket.milli = bucket
            .milli
            .saturating_add(elapsed.saturating_mul(rps))
            .min(cap);
        bucket.last_ms = bucket.last_ms.max(now_ms);
        if bucket.milli >= 1000 {
            bucket.milli -= 1000;
            Ok(())
        } else {
            Err(KmsError::Throttling(
                "Rate exceeded: too many requests for this account; retry with backoff".into(),
            ))
        }
    }
}

/// LimitExceededException for a resource limit.
pub(crate) fn exceeded(what: &str, limit: u64) -> KmsError {
    KmsError::LimitExceeded(format!("The limit of {limit} {what} has been reached"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_14_token_bucket_refills_with_the_clock_and_is_per_account() {
        let q = Quotas::new(
            Limits::default(),
            Some(RateLimit {
                requests_per_second: 10,
                burst: 3,
            }),
        );
        let t = 1_000_000;
        for _ in 0..3 {
            q.admit("111122223333", t).expect("burst");
        }
        let e = q.admit("111122223333", t).expect_err("throttled");
        assert!(e.to_string().starts_with("ThrottlingException: "), "{e}");
        // Another account has its own bucket.
        q.admit("444455556666", t).expect("other account");
        // 99 ms refill 0.99 of a request: still throttled; 100 ms, one.
        assert!(q.admit("111122223333", t + 99).is_err());
        q.admit("111122223333", t + 100).expect("refilled");
        assert!(q.admit("111122223333", t + 100).is_err());
        // A clock going backwards refills nothing.
        assert!(q.admit("111122223333", t).is_err());
        // Long idle: back to the burst, not more.
        for _ in 0..3 {
            q.admit("111122223333", t + 3_600_000).expect("burst again");
        }
        assert!(q.admit("111122223333", t + 3_600_000).is_err());
        // Off: everything passes.
        q.set_rate(None);
        for _ in 0..100 {
            q.admit("111122223333", t).expect("off");
        }
    }
}
