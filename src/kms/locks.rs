//! The control plane's write locks: one per thing a change conflicts
//! with, instead of one for the whole control plane.
//!
//! A writer names what it changes ([`LockName`]: a key, an alias name of
//! an account, a principal's identity policies, an account's quota
//! counters) and holds the locks of exactly those across its re-check,
//! its synced commit and its cache update. Two writers conflict only if
//! they name a common thing, so a tenant looping TagResource on its own
//! key, or CreateKey in its own account, queues behind nobody else; its
//! commits still share fsyncs with everyone's (group commit, `store`).
//!
//! This keeps `cache.rs`'s coherence rule: every writer of a cache entry
//! (a key's record, material, policy and grants; an alias; a principal's
//! identity policies) holds that entry's lock from its store read to its
//! cache update, so no two writers of one entry interleave.
//!
//! The locks are a fixed table of striped std mutexes (a name hashes to a
//! stripe): memory does not grow with the number of keys, and two names
//! sharing a stripe only serialize (rarely), never deadlock, because a
//! writer takes all its stripes at once, in ascending order, and never
//! takes more while holding some.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use crate::model::{AliasName, KeyId};

/// Stripes in the table: enough that unrelated writers rarely share one.
const STRIPES: usize = 4096;

/// Something a control-plane change conflicts on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LockName<'a> {
    /// A key: its record, material, key policy, grants and the aliases
    /// that point at it.
    Key(&'a KeyId),
    /// An alias name in an account.
    Alias(&'a str, &'a AliasName),
    /// A principal's identity policies (and their counter).
    Principal(&'a str),
    /// An account's quota counters (keys, aliases).
    Account(&'a str),
}

impl Hash for LockName<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            LockName::Key(id) => {
                0u8.hash(h);
                id.storage_key().hash(h);
            }
            LockName::Alias(account, alias) => {
                1u8.hash(h);
                account.hash(h);
                alias.as_str().hash(h);
            }
            LockName::Principal(p) => {
                2u8.hash(h);
                p.hash(h);
            }
            LockName::Account(a) => {
                3u8.hash(h);
                a.hash(h);
            }
        }
    }
}

/// The lock table (see the module docs).
pub(crate) struct Locks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

/// Held locks; dropping it releases them.
pub(crate) struct Held<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl Locks {
    pub(crate) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    fn stripe(&self, n: &LockName<'_>) -> usize {
        (self.hasher.hash_one(n) as usize) % STRIPES
    }

    /// Whether two names share a stripe (tests pick names that do not).
    #[cfg(test)]
    pub(crate) fn share_a_stripe(&self, a: LockName<'_>, b: LockName<'_>) -> bool {
        self.stripe(&a) == self.stripe(&b)
    }

    /// Takes the locks of every name in `names` (blocking pool only). Call
    /// it once per change, never while holding another [`Held`].
    pub(crate) fn lock(&self, names: &[LockName<'_>]) -> Held<'_> {
        let mut idx: Vec<usize> = names.iter().map(|n| self.stripe(n)).collect();
        idx.sort_unstable();
        idx.dedup();
        Held {
            _guards: idx
                .into_iter()
                // A poisoned stripe only means a writer panicked while
                // holding it; the lock guards no data of its own.
                .map(|i| self.stripes[i].lock().unwrap_or_else(|p| p.into_inner()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_13_unrelated_writers_do_not_wait_for_each_other() {
        let locks = Locks::new();
        let (a, b) = (KeyId::new_random(), KeyId::new_random());
        let held = locks.lock(&[LockName::Key(&a), LockName::Account("111122223333")]);
        // Another key, another account: free unless the stripes collide
        // (then try_lock would fail; find a pair that does not).
        let ia = (locks.hasher.hash_one(LockName::Key(&a)) as usize) % STRIPES;
        let ib = (locks.hasher.hash_one(LockName::Key(&b)) as usize) % STRIPES;
        if ia != ib {
            assert!(locks.stripes[ib].try_lock().is_ok());
        }
        // The same key is taken.
        assert!(locks.stripes[ia].try_lock().is_err());
        drop(held);
        assert!(locks.stripes[ia].try_lock().is_ok());
        // Naming one thing twice does not self-deadlock.
        let _h = locks.lock(&[LockName::Key(&a), LockName::Key(&a)]);
    }
}
