//! Durable state in RocksDB, behind a small typed layer.
//!
//! Column families (all keys binary, big-endian where numeric), one file of
//! this module per family or family group:
//!
//! | family         | key                                   | value                         | file |
//! |----------------|---------------------------------------|-------------------------------|------|
//! | `meta`         | name                                  | schema version, root check, rewrap marker (not tagged) | `meta.rs`, `rewrap.rs` |
//! | `keys`         | key id (17 bytes)                     | `KeyRecord` JSON              | `keys.rs` |
//! | `account_keys` | account (12) + key id (17)            | empty (ListKeys index)        | `keys.rs` |
//! | `material`     | key id (17) + version (4)             | `MaterialVersion` JSON        | `material.rs` |
//! | `aliases`      | account (12) + alias name             | `AliasRecord` JSON            | `aliases.rs` |
//! | `key_aliases`  | key id (17) + account + 0 + alias name | empty (alias reverse index)  | `aliases.rs` |
//! | `deletions`    | due ms (8) + key id (17)              | empty (deletion schedule)     | `schedules.rs` |
//! | `key_policies` | key id (17)                           | key policy text               | `policies.rs` |
//! | `identity_policies` | principal ARN + 0 + policy name  | identity policy text          | `policies.rs` |
//! | `grants`       | key id (17) + grant id (32)           | `GrantRecord` JSON            | `grants.rs` |
//! | `grants_by_grantee` | key id (17) + grantee + 0 + grant id (32) | empty (authorization index) | `grants.rs` |
//! | `grants_by_retiring` | retiring principal + 0 + key id (17) + grant id (32) | empty | `grants.rs` |
//! | `grant_names`  | key id (17) + name + 0 + grant id (32) | empty (idempotent CreateGrant) | `grants.rs` |
//! | `rotations`    | key id (17) + version (4)             | `RotationEntry` JSON          | `rotations.rs` |
//! | `rotation_schedule` | due ms (8) + key id (17)         | empty (automatic rotations)   | `schedules.rs` |
//! | `quotas`       | kind + account / key+grantee / principal | counter (u64)              | `quotas.rs` |
//! | `custom_key_stores` | store id (`cks-…`)               | `CustomKeyStoreRecord` JSON (password sealed) | `custom_key_stores.rs` |
//! | `outbox`       | peer Region + 0 + seq (8); peer Region + 1 | `OutboxRecord` JSON; next seq (u64) | `outbox.rs` |
//! | `replication`  | `in` + 0 + sender Region; `region_key`; `mik` + 0 + key id (17) | highest seq applied (u64); `RegionKeyRecord` JSON (sealed); sealed KeyMaterialId secret | `outbox.rs` |
//!
//! Every value but `meta`'s is authenticated (Vault's barrier: nothing
//! read from storage is trusted unauthenticated). The store holds a MAC key
//! derived from the root key (`backend::root` installs it once the root
//! key has passed its check, [`Store::set_record_key`]); every put writes
//! `value || tag`, tag = HMAC-SHA-256(record key, len(cf) (1) || cf ||
//! len(key) (4, BE) || key || value), and every get and scan verifies the
//! tag in constant time before anything is decoded. So a value rewritten,
//! copied to another key's slot, moved to another family, or an index
//! entry added by whoever can write the data directory but lacks the root
//! key is [`StoreError::Tampered`], naming the record, and nothing of it is
//! served. A store opened without the root key ([`Store::open`] alone)
//! reads and writes nothing but `meta`. `meta` holds only the schema, the
//! root key's check value (itself an AEAD seal) and rewrap progress.
//!
//! Key material arrives as a `MaterialVersion` record whose material is
//! already sealed (or held elsewhere) by a backend (`src/backend/`); the
//! store authenticates it like any record. Every batch is written with
//! `sync = true`, so a call that returned success survived a crash. All
//! methods block: the core calls them from `spawn_blocking`, never from an
//! async task directly.
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
mod custom_key_stores;
mod grants;
mod import_params;
mod jobs;
mod keys;
mod material;
mod meta;
mod outbox;
mod policies;
mod quotas;
mod rewrap;
mod root_key;
mod rotations;
mod schedules;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Condvar, Mutex, OnceLock};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};

use crate::model::KeyId;
use crate::secret::KeyMaterial;

pub use aliases::AliasRecord;
pub use outbox::{
    OutboxBacklog, OutboxEntry, OutboxRecord, RegionKeyRecord, StoredReplicaCreate,
    MATERIAL_ID_KEY_PREFIX, REGION_KEY_SLOT,
};
pub use rewrap::RewrapProgress;

/// The family of material records (whose values hold material sealed under
/// a root-derived key, so a rewrap reseals them).
pub const MATERIAL_FAMILY: &str = CF_MATERIAL;
/// The family of import parameters (whose values hold a wrapping private
/// key sealed under a root-derived key, so a rewrap reseals them too).
pub const IMPORT_PARAMS_FAMILY: &str = CF_IMPORT_PARAMS;
/// The custom key stores family's name (`kmsd rewrap` reseals their
/// passwords).
pub const CUSTOM_KEY_STORES_FAMILY: &str = CF_CUSTOM_KEY_STORES;
/// The replication family (its `region_key` record holds the Region's
/// replication private key sealed under a root-derived key, so a rewrap
/// reseals it).
pub const REPLICATION_FAMILY: &str = CF_REPLICATION;
pub use jobs::{ClockHold, DueEntry, QuarantineEntry, ScheduledEntry};
pub use quotas::Counter;
pub use root_key::{load_or_create_dev_root_key, parse_root_key_hex, read_root_key_file};
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
const CF_IMPORT_PARAMS: &str = "import_params";
const CF_IMPORT_PARAMS_EXPIRY: &str = "import_params_expiry";
const CF_MATERIAL_EXPIRY: &str = "material_expiry";
const CF_CUSTOM_KEY_STORES: &str = "custom_key_stores";
const CF_OUTBOX: &str = "outbox";
const CF_REPLICATION: &str = "replication";
const ALL_CFS: [&str; 22] = [
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
    CF_IMPORT_PARAMS,
    CF_IMPORT_PARAMS_EXPIRY,
    CF_MATERIAL_EXPIRY,
    CF_CUSTOM_KEY_STORES,
    CF_OUTBOX,
    CF_REPLICATION,
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
    /// A stored value failed authentication under the record key: it was
    /// changed, copied from another slot or family, or added by someone
    /// without the root key. Nothing of it is used.
    #[error("record {key} of family {family} failed authentication (changed outside kmsd, or not written under this root key)")]
    Tampered {
        /// The column family.
        family: &'static str,
        /// The RocksDB key, hex.
        key: String,
    },
    /// A read-only open found a data directory that lacks column families
    /// this kmsd uses: it was last opened by an older kmsd, which a
    /// read-only open cannot upgrade.
    #[error("the data directory lacks column families this kmsd uses ({missing}): start this kmsd on it once (`kmsd serve`), which adds them, then retry")]
    MissingFamilies {
        /// The missing families, comma-separated.
        missing: String,
    },
    /// The store was opened without the root key's record key, so it can
    /// neither verify nor authenticate records.
    #[error("the store was opened without the root key: records can be neither read nor written")]
    NoRecordKey,
}

/// RocksDB's block cache, shared by every column family. The data path is
/// served from the core's own caches; this one serves cache misses and the
/// control plane.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// The RocksDB store.
pub struct Store {
    db: DB,
    /// The key that authenticates every stored value (see the module doc);
    /// set once, after the root key passed its check.
    record_key: OnceLock<KeyMaterial>,
    commits: CommitQueue,
    /// Seq allocation and delivery wake-ups of the replication outbox.
    outbox: outbox::Outbox,
}

impl Store {
    /// Opens (or creates) the store at `path`. A data directory of another
    /// schema is refused.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = DB::open_cf_descriptors(&opts, path, Self::families())?;
        let store = Self {
            db,
            record_key: OnceLock::new(),
            commits: CommitQueue::default(),
            outbox: outbox::Outbox::default(),
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Opens the existing store at `path` read-only, also while a kmsd
    /// serves it: RocksDB's read-only mode takes no lock and replays the
    /// write-ahead log into memory (so every synced commit is seen, as of
    /// the open). Every write fails.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        // A read-only open cannot create families (`open` does), and
        // RocksDB's own error for a missing one names no remedy.
        let existing = DB::list_cf(&Options::default(), path)?;
        let missing: Vec<&str> = ALL_CFS
            .iter()
            .copied()
            .filter(|name| !existing.iter().any(|e| e == name))
            .collect();
        if !missing.is_empty() {
            return Err(StoreError::MissingFamilies {
                missing: missing.join(", "),
            });
        }
        let db =
            DB::open_cf_descriptors_read_only(&Options::default(), path, Self::families(), false)?;
        let store = Self {
            db,
            record_key: OnceLock::new(),
            commits: CommitQueue::default(),
            outbox: outbox::Outbox::default(),
        };
        // A store of another schema is refused; one without a schema
        // record (never opened by kmsd) fails at the write this attempts.
        store.check_schema()?;
        Ok(store)
    }

    /// Every column family, with the options kmsd opens them with.
    fn families() -> impl Iterator<Item = ColumnFamilyDescriptor> {
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
        ALL_CFS
            .iter()
            .map(move |name| ColumnFamilyDescriptor::new(*name, cf_opts.clone()))
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
        cf: &'static str,
        key: impl AsRef<[u8]>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.get_verified(cf, key.as_ref())? {
            Some(bytes) => decode_json(&bytes, what).map(Some),
            None => Ok(None),
        }
    }

    /// A UTF-8 text value from column family `cf`.
    fn get_text(
        &self,
        cf: &'static str,
        key: impl AsRef<[u8]>,
        what: &'static str,
    ) -> Result<Option<String>, StoreError> {
        match self.get_verified(cf, key.as_ref())? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what }),
            None => Ok(None),
        }
    }

    /// Installs the record key (derived from the root key by
    /// `backend::root`, after the root key passed its check). A second call
    /// keeps the first key.
    pub(crate) fn set_record_key(&self, key: KeyMaterial) -> Result<(), StoreError> {
        // Err only when already set: the root check passed for that key
        // too, so it is the same key.
        let _ = self.record_key.set(key);
        // The quota counters are records like any other, so they can be
        // rebuilt (once, for a data directory without them) only now.
        self.ensure_counters()
    }

    fn record_key(&self) -> Result<&KeyMaterial, StoreError> {
        self.record_key.get().ok_or(StoreError::NoRecordKey)
    }

    /// The value under `key` in family `cf`, its tag verified and removed
    /// (`meta` values are returned as stored).
    fn get_verified(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let record_key = if cf == CF_META {
            None
        } else {
            Some(self.record_key()?)
        };
        let Some(stored) = self.db.get_pinned_cf(self.cf(cf), key)? else {
            return Ok(None);
        };
        match record_key {
            Some(rk) => verify_record(rk, cf, key, &stored).map(|v| Some(v.to_vec())),
            None => Ok(Some(stored.to_vec())),
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
        cf: &'static str,
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
        let record_key = if cf == CF_META {
            None
        } else {
            Some(self.record_key()?)
        };
        for item in self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(&start, Direction::Forward))
        {
            let (k, v) = item?;
            let Some(suffix) = k.strip_prefix(prefix) else {
                break;
            };
            let value = match record_key {
                Some(rk) => verify_record(rk, cf, &k, &v)?,
                None => &v[..],
            };
            match visit(suffix, value)? {
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
        cf: &'static str,
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
            unkeyed: false,
            outbox: None,
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
    /// A put needed the record key and the store has none: commit fails.
    unkeyed: bool,
    /// Set once the batch enqueued to the replication outbox: holds the
    /// outbox's allocation lock until the batch commits (`outbox.rs`).
    outbox: Option<outbox::Enqueued<'a>>,
}

impl Batch<'_> {
    /// Writes `value` under `key` in family `cf`, followed by its tag (the
    /// one way a value other than `meta`'s is written).
    fn put(&mut self, cf: &'static str, key: &[u8], value: &[u8]) {
        if cf == CF_META {
            self.wb.put_cf(self.store.cf(cf), key, value);
            return;
        }
        let Ok(rk) = self.store.record_key() else {
            self.unkeyed = true;
            return;
        };
        let stored = tagged(rk, cf, key, value);
        self.wb.put_cf(self.store.cf(cf), key, stored);
    }

    /// Writes `value` as JSON under `key` in family `cf`.
    fn put_json<T: serde::Serialize>(
        &mut self,
        cf: &'static str,
        key: impl AsRef<[u8]>,
        value: &T,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_vec(value).map_err(|_| StoreError::Corrupt { what })?;
        self.put(cf, key.as_ref(), &json);
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
        if self.unkeyed {
            return Err(StoreError::NoRecordKey);
        }
        self.store.commits.commit(&self.store.db, self.wb)?;
        if let Some(enqueued) = self.outbox {
            enqueued.committed(self.store);
        }
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

/// Length of a record's tag.
const TAG_LEN: usize = 32;

/// The tag of `value` stored under `key` in family `cf`: the family and
/// the key are bound in, length-prefixed, so a value is valid only in the
/// one slot it was written to.
fn record_tag(rk: &KeyMaterial, cf: &str, key: &[u8], value: &[u8]) -> ring::hmac::Tag {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, rk.expose_secret());
    let mut ctx = ring::hmac::Context::with_key(&k);
    // Family names are short constants (< 256 bytes); keys are bounded by
    // RocksDB's and ours (< 4 GiB).
    ctx.update(&[u8::try_from(cf.len()).unwrap_or(u8::MAX)]);
    ctx.update(cf.as_bytes());
    ctx.update(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes());
    ctx.update(key);
    ctx.update(value);
    ctx.sign()
}

/// `value || tag`, as stored.
fn tagged(rk: &KeyMaterial, cf: &str, key: &[u8], value: &[u8]) -> Vec<u8> {
    let tag = record_tag(rk, cf, key, value);
    let mut out = Vec::with_capacity(value.len() + TAG_LEN);
    out.extend_from_slice(value);
    out.extend_from_slice(tag.as_ref());
    out
}

/// The value of a stored `value || tag` whose tag verifies (constant-time
/// comparison); `Tampered`, naming the record, otherwise.
fn verify_record<'v>(
    rk: &KeyMaterial,
    cf: &'static str,
    key: &[u8],
    stored: &'v [u8],
) -> Result<&'v [u8], StoreError> {
    let tampered = || StoreError::Tampered {
        family: cf,
        key: hex::encode(key),
    };
    let split = stored.len().checked_sub(TAG_LEN).ok_or_else(tampered)?;
    let (value, tag) = stored.split_at(split);
    if crate::crypto::ct_eq(record_tag(rk, cf, key, value).as_ref(), tag) {
        Ok(value)
    } else {
        Err(tampered())
    }
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
        store
            .set_record_key(KeyMaterial::from_slice(&[3; 32]).expect("32 bytes"))
            .expect("record key");
        (dir, store)
    }

    #[test]
    fn a_read_only_open_names_the_families_an_older_kmsd_lacked() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            // A data directory with only some of the families, as an older
            // kmsd left it.
            let mut opts = Options::default();
            opts.create_if_missing(true);
            opts.create_missing_column_families(true);
            let _db = DB::open_cf(&opts, dir.path(), ["keys", "material"]).expect("open");
        }
        match Store::open_read_only(dir.path()) {
            Err(StoreError::MissingFamilies { missing }) => {
                let names: Vec<&str> = missing.split(", ").collect();
                assert!(names.contains(&"import_params"), "{missing}");
                assert!(
                    !names.contains(&"keys") && !names.contains(&"material"),
                    "{missing}"
                );
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a read-only open of an incomplete store succeeded"),
        }
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

    /// Item 10 of issue 11, at the store: a changed value, a value copied
    /// to another key or family, an index entry added without (or with a
    /// copied) tag are `Tampered`, naming the record; a store without the
    /// record key reads and writes nothing.
    #[test]
    fn item_10_every_record_is_verified_on_get_and_scan() {
        let (_dir, store) = open_temp();
        let (k1, k2) = (KeyId::new_random(), KeyId::new_random());
        let mut b = store.batch();
        b.put_key_policy(&k1, "policy one");
        b.put_key_policy(&k2, "policy two");
        b.schedule(Schedule::Deletion, 5, &k1);
        b.commit().expect("commit");
        let raw = |cf: &str, key: &[u8]| {
            store
                .db
                .get_cf(store.cf(cf), key)
                .expect("get")
                .expect("present")
        };
        let put_raw = |cf: &str, key: &[u8], v: &[u8]| {
            store.db.put_cf(store.cf(cf), key, v).expect("put");
        };
        let is_tampered = |r: Result<Option<String>, StoreError>, fam: &str| match r {
            Err(e @ StoreError::Tampered { family, .. }) if family == fam => {
                assert!(
                    e.to_string().contains(&hex::encode(k1.storage_key())),
                    "{e}"
                );
            }
            other => panic!("expected Tampered in {fam}, got {other:?}"),
        };
        assert_eq!(
            store.get_key_policy(&k1).expect("get").as_deref(),
            Some("policy one")
        );
        let one = raw(CF_KEY_POLICIES, &k1.storage_key());
        let two = raw(CF_KEY_POLICIES, &k2.storage_key());
        // A value changed, its tag kept.
        let mut changed = one.clone();
        changed[0] ^= 1;
        put_raw(CF_KEY_POLICIES, &k1.storage_key(), &changed);
        is_tampered(store.get_key_policy(&k1), CF_KEY_POLICIES);
        // Another key's valid value.
        put_raw(CF_KEY_POLICIES, &k1.storage_key(), &two);
        is_tampered(store.get_key_policy(&k1), CF_KEY_POLICIES);
        // The value without any tag, and a value shorter than a tag.
        put_raw(CF_KEY_POLICIES, &k1.storage_key(), b"policy one");
        is_tampered(store.get_key_policy(&k1), CF_KEY_POLICIES);
        put_raw(CF_KEY_POLICIES, &k1.storage_key(), b"");
        is_tampered(store.get_key_policy(&k1), CF_KEY_POLICIES);
        // A valid value moved to another family under the same key.
        put_raw(CF_KEY_POLICIES, &k1.storage_key(), &one);
        assert!(store.get_key_policy(&k1).is_ok());
        put_raw(CF_KEYS, &k1.storage_key(), &one);
        assert!(matches!(
            store.get_key(&k1),
            Err(StoreError::Tampered {
                family: CF_KEYS,
                ..
            })
        ));
        // Index entries: one added without a tag, one with a copied tag.
        let entry = raw(CF_DELETIONS, &schedules::schedule_key(5, &k1));
        assert_eq!(entry.len(), TAG_LEN);
        put_raw(CF_DELETIONS, &schedules::schedule_key(4, &k2), b"");
        assert!(matches!(
            store.due(Schedule::Deletion, 10, 10),
            Err(StoreError::Tampered {
                family: CF_DELETIONS,
                ..
            })
        ));
        put_raw(CF_DELETIONS, &schedules::schedule_key(4, &k2), &entry);
        assert!(store.due(Schedule::Deletion, 10, 10).is_err());
        put_raw(
            CF_KEY_ALIASES,
            &concat(&k2.storage_key(), b"111122223333\0alias/x"),
            b"",
        );
        assert!(store.aliases_of_key("111122223333", &k2).is_err());

        // Without the record key: nothing read, nothing written.
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = Store::open(dir.path()).expect("open");
        assert!(matches!(
            bare.get_key_policy(&k1),
            Err(StoreError::NoRecordKey)
        ));
        let mut b = bare.batch();
        b.put_key_policy(&k1, "p");
        assert!(matches!(b.commit(), Err(StoreError::NoRecordKey)));
        assert!(bare.get_meta("schema").expect("meta").is_some());
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
