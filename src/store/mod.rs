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

mod aliases;
mod grants;
mod jobs;
mod keys;
mod material;
mod meta;
mod policies;
mod root_key;
mod rotations;
mod schedules;

use std::ops::ControlFlow;
use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};

use crate::model::KeyId;

pub use aliases::AliasRecord;
pub use jobs::{ClockHold, DueEntry, QuarantineEntry};
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
const ALL_CFS: [&str; 15] = [
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
        let store = Self { db };
        store.check_schema()?;
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
    pub fn commit(self) -> Result<(), StoreError> {
        self.store.db.write_opt(self.wb, &synced())?;
        Ok(())
    }
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
}
