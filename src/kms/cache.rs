//! A bounded, sharded, read-mostly cache that stays exact under concurrent
//! writes.
//!
//! The problem: a reader misses, loads a value from RocksDB, and inserts it
//! — but a writer may have changed that value between the reader's load and
//! its insert, and the reader would then cache a stale value forever.
//!
//! The fix: each shard has an epoch that every writer bumps (under the shard
//! lock) after it has committed to RocksDB and updated or removed the entry.
//! A reader notes the epoch before it loads and inserts only if the epoch is
//! unchanged. A write racing with a load therefore makes the load uncached
//! (it is still correct for the request that made it: the write had not
//! committed when the load read the store). Writes are rare (control plane),
//! so the cost is a few extra loads.
//!
//! Eviction drops an arbitrary entry when a shard is full; values are `Arc`s
//! and secret values zeroize themselves when the last `Arc` drops.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex, MutexGuard};

const SHARDS: usize = 32;

/// foldhash, keyed per process (as the request context's map): a hit
/// hashes its key twice (shard, then map) on every data-key call, and
/// SipHash made that 2% of kmsd's CPU under GenerateDataKey (perf,
/// docs/benchmarks.md). Keys a client picks (a missing key's id, an
/// alias) land in bounded shards under a seed it cannot see.
type Hasher = foldhash::fast::RandomState;

/// See the module docs. `V` may be unsized (the material cache holds
/// `Arc<dyn MaterialHandle>` directly, one pointer hop on a hit).
pub struct Cache<K, V: ?Sized> {
    shards: Vec<Mutex<Shard<K, V>>>,
    per_shard: usize,
    hasher: Hasher,
}

struct Shard<K, V: ?Sized> {
    map: HashMap<K, Arc<V>, Hasher>,
    epoch: u64,
}

/// A reader's note of a shard's epoch, taken before loading.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

impl<K: Hash + Eq + Clone, V: ?Sized> Cache<K, V> {
    /// A cache holding at most about `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::with_hasher(Hasher::default()),
                        epoch: 0,
                    })
                })
                .collect(),
            per_shard,
            hasher: Hasher::default(),
        }
    }

    // A std mutex, not tokio's: it is held for a hash-map operation only and
    // never across an await.
    fn shard<Q: Hash + ?Sized>(&self, k: &Q) -> MutexGuard<'_, Shard<K, V>> {
        let i = (self.hasher.hash_one(k) as usize) % SHARDS;
        // A poisoned shard only means another thread panicked mid-operation;
        // the map is still structurally valid, so keep using it.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached value, or the epoch to pass to [`Cache::insert_if_unchanged`]
    /// after loading it.
    pub fn get<Q>(&self, k: &Q) -> Result<Arc<V>, Epoch>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let s = self.shard(k);
        match s.map.get(k) {
            Some(v) => Ok(Arc::clone(v)),
            None => Err(Epoch(s.epoch)),
        }
    }

    /// Caches a value a reader loaded, unless a writer touched the shard
    /// since `epoch` was taken (or another reader got there first).
    pub fn insert_if_unchanged(&self, k: K, epoch: Epoch, v: Arc<V>) {
        let mut s = self.shard(&k);
        if s.epoch != epoch.0 || s.map.contains_key(&k) {
            return;
        }
        if s.map.len() >= self.per_shard {
            if let Some(victim) = s.map.keys().next().cloned() {
                s.map.remove(&victim);
            }
        }
        s.map.insert(k, v);
    }

    /// Writer: the value of `k` is now `v` (already committed to the store).
    pub fn put(&self, k: K, v: Arc<V>) {
        let mut s = self.shard(&k);
        s.epoch += 1;
        if s.map.len() >= self.per_shard && !s.map.contains_key(&k) {
            if let Some(victim) = s.map.keys().next().cloned() {
                s.map.remove(&victim);
            }
        }
        s.map.insert(k, v);
    }

    /// Writer: `k` no longer exists (already committed to the store).
    pub fn remove(&self, k: &K) {
        let mut s = self.shard(k);
        s.epoch += 1;
        s.map.remove(k);
    }

    /// Number of cached entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_during_a_load_keeps_the_stale_value_out() {
        let c: Cache<u32, &str> = Cache::new(100);
        let epoch = c.get(&1).expect_err("miss");
        // Writer commits a new value while the reader is loading the old one.
        c.put(1, Arc::new("new"));
        c.remove(&1);
        c.insert_if_unchanged(1, epoch, Arc::new("old"));
        assert!(c.get(&1).is_err(), "stale value must not be cached");
    }

    #[test]
    fn a_quiet_load_is_cached_and_writes_replace_it() {
        let c: Cache<u32, &str> = Cache::new(100);
        let epoch = c.get(&1).expect_err("miss");
        c.insert_if_unchanged(1, epoch, Arc::new("v1"));
        assert_eq!(*c.get(&1).expect("hit"), "v1");
        c.put(1, Arc::new("v2"));
        assert_eq!(*c.get(&1).expect("hit"), "v2");
    }

    #[test]
    fn capacity_is_bounded() {
        let c: Cache<u32, u32> = Cache::new(64);
        for i in 0..10_000 {
            let e = c.get(&i).expect_err("miss");
            c.insert_if_unchanged(i, e, Arc::new(i));
        }
        assert!(c.len() <= 64, "{}", c.len());
    }
}
