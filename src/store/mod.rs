//! Durable state in RocksDB, behind a small typed layer.
//!
//! Column families (all keys binary, big-endian where numeric), one file of
//! this module per family or family group:
//!
//! | family         | key                                   | value                         | file |
//! |----------------|---------------------------------------|-------------------------------|------|
//! | `meta`         | name                                  | schema version, root check    | `meta.rs` |
//! | `keys`         | key id (17 bytes)                     | `KeyRecord` JSON              | `keys.rs` |
//! | `account_keys` | account (12) + key id (17)            | empty (ListKeys index)        | `keys.rs` |
//! | `material`     | key id (17) + version (4)             | `MaterialVersion` JSON        | `material.rs` |
//! | `aliases`      | account (12) + alias name             | `AliasRecord` JSON            | `aliases.rs` |
//! | `key_aliases`  | key id (17) + alias name              | account (alias reverse index) | `aliases.rs` |
//! | `deletions`    | due ms (8) + key id (17)              | empty (deletion schedule)     | `schedules.rs` |
//! | `key_policies` | key id (17)                           | key policy text               | `policies.rs` |
//! | `identity_policies` | principal ARN + 0 + policy name  | identity policy text          | `policies.rs` |
//! | `grants`       | key id (17) + grant id (32)           | `GrantRecord` JSON            | `grants.rs` |
//! | `grants_by_grantee` | key id (17) + grantee + 0 + grant id (32) | empty (authorization index) | `grants.rs` |
//! | `grants_by_retiring` | retiring principal + 0 + key id (17) + grant id (32) | empty | `grants.rs` |
//! | `grant_names`  | key id (17) + name                    | grant id (32)                 | `grants.rs` |
//! | `rotations`    | key id (17) + version (4)             | `RotationEntry` JSON          | `rotations.rs` |
//! | `rotation_schedule` | due ms (8) + key id (17)         | empty (automatic rotations)   | `schedules.rs` |
//! | `quotas`       | kind + account / key+grantee / principal | counter (u64)              | `quotas.rs` |
//!
//! The store knows no cryptography. Key material arrives as a
//! `MaterialVersion` record whose material is already sealed (or held
//! elsewhere) by a backend (`src/backend/`); the store keeps it as it is
//! given. Every batch is written with `sync = true`, so a call that
//! returned success survived a crash. All methods block: the core calls
//! them from `spawn_blocking`, never from an async task directly.
//!
//! Every listing goes through one helper, [`Store::scan`]: a forward walk
//! of one family under a key prefix, optionally strictly after a
//! continuation key, up to a limit.
//!
//! Commits are grouped ([`Batch::commit`], `CommitQueue`): batches
//! committed concurrently by several threads are written as one RocksDB
//! write with one WAL fsync, so writers of unrelated keys do not each pay
//! (and wait behind) a whole fsync.

mod aliases;
mod grants;
mod keys;
mod material;
mod meta;
mod policies;
mod quotas;
mod root_key;
mod rotations;
mod schedules;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};

use crate::model::KeyId;

pub use aliases::AliasRecord;
pub use quotas::Counter;
pub use root_key::{load_or_create_dev_root_key, parse_root_key_hex};
pub use rotations::RotationEntry;
pub use schedules::Schedule;

const CF_META: &str = "meta";
const CF_KEYS: &str = "keys";
const CF_ACCOUNT_KEYS: &str = "account_keys";
const CF_MATERIAL: &str = "material";
const CF_ALIASES: &str = "aliases";
const CF_KEY_ALIASES: &str = "key_aliases";
const CF_DELETIONS: &str = "deletions";
const CF_KEY_POLICIES: &str = "key_policies";
const CF_IDENTITY_POLICIES: &str = "identity_policies";
const CF_GRANTS: &str = "grants";
const CF_GRANTS_BY_GRANTEE: &str = "grants_by_grantee";
const CF_GRANTS_BY_RETIRING: &str = "grants_by_retiring";
const CF_GRANT_NAMES: &str = "grant_names";
const CF_ROTATIONS: &str = "rotations";
const CF_ROTATION_SCHEDULE: &str = "rotation_schedule";
const CF_QUOTAS: &str = "quotas";
const ALL_CFS: [&str; 16] = [
    CF_META,
    CF_KEYS,
    CF_ACCOUNT_KEYS,
    CF_MATERIAL,
    CF_ALIASES,
    CF_KEY_ALIASES,
    CF_DELETIONS,
    CF_KEY_POLICIES,
    CF_IDENTITY_POLICIES,
    CF_GRANTS,
    CF_GRANTS_BY_GRANTEE,
    CF_GRANTS_BY_RETIRING,
    CF_GRANT_NAMES,
    CF_ROTATIONS,
    CF_ROTATION_SCHEDULE,
    CF_QUOTAS,
];

/// A storage failure. Never shown to clients (they get KMSInternalException).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// A stored value could not be decoded.
    #[error("corrupt {what} record")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
    },
    /// The data directory was written in a layout this kmsd does not read.
    #[error(
        "the data directory has store schema {found}, this kmsd reads schema {expected} only (no migration exists; use a new --data-dir)"
    )]
    Schema {
        /// The schema the data directory has.
        found: String,
        /// The schema this kmsd writes.
        expected: &'static str,
    },
}

/// RocksDB's block cache, shared by every column family. The data path is
/// served from the core's own caches; this one serves cache misses and the
/// control plane.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// The RocksDB store.
pub struct Store {
    db: DB,
    commits: CommitQueue,
}

impl Store {
    /// Opens (or creates) the store at `path`. A data directory of another
    /// schema is refused.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // One block cache for all families, so memory stays bounded
        // (RocksDB's default is a separate 32 MB cache per family), and
        // Bloom filters, so a point read of one key among millions reads at
        // most one data block.
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        let cfs = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_opts.clone()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let store = Self {
            db,
            commits: CommitQueue::default(),
        };
        store.check_schema()?;
        store.ensure_counters()?;
        Ok(store)
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        // The families are created at open (create_missing_column_families),
        // so a missing handle is a programming error, not an input error.
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    /// A JSON record from column family `cf`, decoded; `what` names it in
    /// the corruption error.
    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        key: impl AsRef<[u8]>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.db.get_pinned_cf(self.cf(cf), key)? {
            Some(bytes) => decode_json(&bytes, what).map(Some),
            None => Ok(None),
        }
    }

    /// A UTF-8 text value from column family `cf`.
    fn get_text(
        &self,
        cf: &str,
        key: impl AsRef<[u8]>,
        what: &'static str,
    ) -> Result<Option<String>, StoreError> {
        match self.db.get_cf(self.cf(cf), key)? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what }),
            None => Ok(None),
        }
    }

    /// The one way the store lists: walks family `cf` forward over the keys
    /// that start with `prefix`, beginning strictly after `prefix + after`
    /// when `after` is given (a continuation point) and at `prefix`
    /// otherwise, and hands each entry's key suffix (the key without
    /// `prefix`) and value to `visit`. Stops at the end of the prefix, after
    /// `limit` items, or when `visit` breaks.
    fn scan<T>(
        &self,
        cf: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<(), T>, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut start = prefix.to_vec();
        if let Some(a) = after {
            start.extend_from_slice(a);
            // The smallest key greater than `prefix + after`.
            start.push(0);
        }
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            let Some(suffix) = k.strip_prefix(prefix) else {
                break;
            };
            match visit(suffix, &v)? {
                ControlFlow::Continue(t) => out.push(t),
                ControlFlow::Break(()) => break,
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The JSON records of key `id` in a per-version family (`id +
    /// version` keys), versions after `after_version`, in version order, at
    /// most `limit`.
    fn list_versions<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        id: &KeyId,
        after_version: u32,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        self.scan(
            cf,
            &id.storage_key(),
            Some(&after_version.to_be_bytes()),
            limit,
            |_, v| decode_json(v, what).map(ControlFlow::Continue),
        )
    }

    /// Starts an atomic, synced batch of changes.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            wb: WriteBatch::default(),
        }
    }

    /// Flushes memtables to SST files (on clean shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        for name in ALL_CFS {
            self.db.flush_cf(self.cf(name))?;
        }
        Ok(())
    }
}

/// A set of changes applied atomically by [`Batch::commit`].
pub struct Batch<'a> {
    store: &'a Store,
    wb: WriteBatch,
}

impl Batch<'_> {
    /// Writes `value` as JSON under `key` in family `cf`.
    fn put_json<T: serde::Serialize>(
        &mut self,
        cf: &str,
        key: impl AsRef<[u8]>,
        value: &T,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).map_err(|_| StoreError::Corrupt { what })?;
        self.wb.put_cf(self.store.cf(cf), key, json);
        Ok(())
    }

    /// Deletes every per-version entry of key `id` in family `cf` (keys
    /// `id + version`): a range delete for versions below `u32::MAX`, and
    /// that one last key itself (a range's end is exclusive).
    fn delete_versions(&mut self, cf: &str, id: &KeyId) {
        let cf = self.store.cf(cf);
        self.wb
            .delete_range_cf(cf, version_key(id, 0), version_key(id, u32::MAX));
        self.wb.delete_cf(cf, version_key(id, u32::MAX));
    }

    /// Applies the batch atomically and syncs the WAL before returning.
    ///
    /// Group commit: the batch joins the store's commit queue. If no other
    /// thread is writing, this one becomes the leader: it takes every
    /// queued batch (its own and those that arrived while the previous
    /// group was being written), writes them as one `WriteBatch` with
    /// `sync = true` (one fsync for the group), and hands each member the
    /// group's result. Otherwise it waits for a leader to do so. Each
    /// member's batch stays atomic (a group is one atomic write); a failed
    /// group fails every member, so no caller is told success for a change
    /// that is not durable.
    pub fn commit(self) -> Result<(), StoreError> {
        self.store.commits.commit(&self.store.db, self.wb)?;
        Ok(())
    }
}

/// The group-commit queue of one store (see [`Batch::commit`]).
#[derive(Default)]
struct CommitQueue {
    state: Mutex<QueueState>,
    /// Signalled when a group's results are in.
    written: Condvar,
}

#[derive(Default)]
struct QueueState {
    /// The next ticket to hand out.
    next_ticket: u64,
    /// Batches waiting for a leader, with their tickets.
    queued: Vec<(u64, WriteBatch)>,
    /// Whether a leader is writing a group now.
    writing: bool,
    /// Results of written groups not yet collected, by ticket.
    results: HashMap<u64, Result<(), rocksdb::Error>>,
    /// How many groups were written (for tests and metrics).
    groups: u64,
}

/// A `WriteBatch`'s header: 8 bytes of sequence number, 4 of count (LE).
const WRITE_BATCH_HEADER: usize = 12;

impl CommitQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A poisoned queue means a thread panicked while holding the lock,
        // which it never does across a write; the state is still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn commit(&self, db: &DB, wb: WriteBatch) -> Result<(), rocksdb::Error> {
        let mut s = self.lock();
        let ticket = s.next_ticket;
        s.next_ticket = s.next_ticket.wrapping_add(1);
        s.queued.push((ticket, wb));
        loop {
            if let Some(r) = s.results.remove(&ticket) {
                return r;
            }
            if !s.writing {
                // Lead: the queue holds this thread's batch (no other
                // leader took it, or its result would be in).
                s.writing = true;
                let group = std::mem::take(&mut s.queued);
                drop(s);
                let tickets: Vec<u64> = group.iter().map(|(t, _)| *t).collect();
                let result = write_group(db, group);
                s = self.lock();
                for t in tickets {
                    s.results.insert(t, result.clone());
                }
                s.writing = false;
                s.groups = s.groups.wrapping_add(1);
                self.written.notify_all();
                continue;
            }
            s = self.written.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Writes a group of batches as one synced, atomic RocksDB write.
fn write_group(db: &DB, mut group: Vec<(u64, WriteBatch)>) -> Result<(), rocksdb::Error> {
    if group.len() == 1 {
        if let Some((_, only)) = group.pop() {
            return db.write_opt(only, &synced());
        }
    }
    db.write_opt(merge_batches(group.iter().map(|(_, b)| b)), &synced())
}

/// One `WriteBatch` holding every record of `batches`, in order. RocksDB's
/// own `WriteBatchInternal::Append` does the same: a batch is a 12-byte
/// header (sequence number, record count) followed by its records, so the
/// merge is one header with the summed count and the records concatenated.
fn merge_batches<'a>(batches: impl Iterator<Item = &'a WriteBatch>) -> WriteBatch {
    let mut data = vec![0u8; WRITE_BATCH_HEADER];
    let mut count: u32 = 0;
    for b in batches {
        let d = b.data();
        if d.len() > WRITE_BATCH_HEADER {
            data.extend_from_slice(&d[WRITE_BATCH_HEADER..]);
            count = count.saturating_add(u32::try_from(b.len()).unwrap_or(u32::MAX));
        }
    }
    data[8..WRITE_BATCH_HEADER].copy_from_slice(&count.to_le_bytes());
    WriteBatch::from_data(&data)
}

fn synced() -> WriteOptions {
    let mut w = WriteOptions::default();
    w.set_sync(true);
    w
}

fn decode_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt { what })
}

/// Key of a per-version entry (material, rotations): key id + version.
fn version_key(id: &KeyId, version: u32) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..17].copy_from_slice(&id.storage_key());
    k[17..].copy_from_slice(&version.to_be_bytes());
    k
}

/// `principal` + 0: the prefix of a principal's entries.
fn identity_prefix(principal: &str) -> Vec<u8> {
    let mut k = principal.as_bytes().to_vec();
    k.push(0);
    k
}

/// `a` followed by `b`.
fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len());
    k.extend_from_slice(a);
    k.extend_from_slice(b);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn open_temp() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        (dir, store)
    }

    #[test]
    fn scan_walks_one_prefix_after_a_point_up_to_a_limit() {
        let (_dir, store) = open_temp();
        let mut b = store.batch();
        for k in ["a\u{0}1", "a\u{0}2", "a\u{0}3", "ab\u{0}1", "b\u{0}1"] {
            b.wb.put_cf(store.cf(CF_META), k, k);
        }
        b.commit().expect("commit");
        let all = |after: Option<&[u8]>, limit| {
            store
                .scan(CF_META, b"a\0", after, limit, |suffix, v| {
                    assert!(v.ends_with(suffix));
                    Ok(ControlFlow::Continue(suffix.to_vec()))
                })
                .expect("scan")
        };
        assert_eq!(
            all(None, 10),
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
        assert_eq!(all(Some(b"1"), 10), vec![b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(all(None, 2).len(), 2);
        assert!(all(None, 0).is_empty());
        assert!(all(Some(b"3"), 10).is_empty());
        // `visit` may stop the walk.
        let first = store
            .scan(CF_META, b"a\0", None, 10, |suffix, _| {
                Ok(if suffix == b"2" {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })
            .expect("scan");
        assert_eq!(first.len(), 1);
    }

    /// Issue 11 item 13: batches are merged into one write, each whole.
    #[test]
    fn item_13_group_commit_merges_batches_into_one_atomic_write() {
        let (_dir, store) = open_temp();
        let batches: Vec<WriteBatch> = (0..5u8)
            .map(|i| {
                let mut b = store.batch();
                b.wb.put_cf(store.cf(CF_META), [b'g', i], [i]);
                b.wb.put_cf(store.cf(CF_META), [b'h', i], [i]);
                if i == 3 {
                    b.wb.delete_cf(store.cf(CF_META), [b'g', 1]);
                }
                b.wb
            })
            .chain(std::iter::once(WriteBatch::default()))
            .collect();
        let merged = merge_batches(batches.iter());
        assert_eq!(merged.len(), 11);
        let group: Vec<(u64, WriteBatch)> = batches
            .into_iter()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect();
        write_group(&store.db, group).expect("write");
        for i in 0..5u8 {
            let g = store
                .get_meta(std::str::from_utf8(&[b'g', i]).expect("ascii"))
                .expect("get");
            // Later batches of a group apply after earlier ones.
            assert_eq!(g, if i == 1 { None } else { Some(vec![i]) }, "g{i}");
            assert!(store
                .get_meta(std::str::from_utf8(&[b'h', i]).expect("ascii"))
                .expect("get")
                .is_some());
        }
    }

    /// Issue 11 item 13: many threads committing at once are all applied,
    /// each told success, in fewer synced writes than commits when they
    /// overlap (never more).
    #[test]
    fn item_13_concurrent_commits_are_grouped_and_all_durable() {
        let (dir, store) = open_temp();
        let store = std::sync::Arc::new(store);
        let threads: Vec<_> = (0..8u8)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..25u8 {
                        let mut b = store.batch();
                        b.wb.put_cf(store.cf(CF_META), [b'c', t, i], [t, i]);
                        b.commit().expect("commit");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let groups = store.commits.lock().groups;
        assert!(groups <= 200 && groups > 0, "{groups}");
        assert!(store.commits.lock().results.is_empty());
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        for t in 0..8u8 {
            for i in 0..25u8 {
                let v = store
                    .db
                    .get_cf(store.cf(CF_META), [b'c', t, i])
                    .expect("get");
                assert_eq!(v, Some(vec![t, i]));
            }
        }
    }
}
