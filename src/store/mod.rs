//! Durable state in RocksDB, behind a small typed layer.
//!
//! Column families (all keys binary, big-endian where numeric):
//!
//! | family         | key                                   | value                         |
//! |----------------|---------------------------------------|-------------------------------|
//! | `meta`         | name                                  | schema version, root check    |
//! | `keys`         | key id (17 bytes)                     | `KeyRecord` JSON              |
//! | `account_keys` | account (12) + key id (17)            | empty (ListKeys index)        |
//! | `material`     | key id (17) + version (4)             | material sealed by root key   |
//! | `aliases`      | account (12) + alias name             | `AliasRecord` JSON            |
//! | `key_aliases`  | key id (17) + alias name              | account (alias reverse index) |
//! | `deletions`    | due ms (8) + key id (17)              | empty (deletion schedule)     |
//!
//! Key material is written only sealed under the root key (AES-256-GCM,
//! additional data binding key id and version): plaintext material never
//! reaches RocksDB. Every batch is written with `sync = true`, so a call
//! that returned success survived a crash. All methods block: the core calls
//! them from `spawn_blocking`, never from an async task directly.

mod root_key;

use std::path::Path;

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::model::{AliasName, KeyId, KeyRecord};
use crate::secret::{KeyMaterial, RootKey};

pub use root_key::{load_or_create_dev_root_key, parse_root_key_hex};

const CF_META: &str = "meta";
const CF_KEYS: &str = "keys";
const CF_ACCOUNT_KEYS: &str = "account_keys";
const CF_MATERIAL: &str = "material";
const CF_ALIASES: &str = "aliases";
const CF_KEY_ALIASES: &str = "key_aliases";
const CF_DELETIONS: &str = "deletions";
const ALL_CFS: [&str; 7] = [
    CF_META,
    CF_KEYS,
    CF_ACCOUNT_KEYS,
    CF_MATERIAL,
    CF_ALIASES,
    CF_KEY_ALIASES,
    CF_DELETIONS,
];

const SCHEMA_VERSION: &[u8] = b"1";
const ROOT_CHECK_AAD: &[u8] = b"kmsd/root-check/v1";
const ROOT_CHECK_PLAINTEXT: &[u8] = b"kmsd root key check value";

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
    /// The configured root key does not match the one the store was made with.
    #[error(
        "the root key does not match this data directory (wrong --root-key-file / KMSD_ROOT_KEY?)"
    )]
    WrongRootKey,
    /// Sealing or unsealing with the root key failed.
    #[error("root key sealing failed")]
    Crypto,
}

/// What an alias points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    /// Target key id.
    pub target: String,
    /// Creation time, Unix ms.
    pub created_ms: i64,
    /// Last update, Unix ms.
    pub updated_ms: i64,
}

impl AliasRecord {
    /// The target key id, parsed.
    pub fn target_id(&self) -> Result<KeyId, StoreError> {
        self.target
            .parse()
            .map_err(|()| StoreError::Corrupt { what: "alias" })
    }
}

/// The RocksDB store.
pub struct Store {
    db: DB,
    root: RootKey,
}

impl Store {
    /// Opens (or creates) the store at `path`, checking `root` against the
    /// check value written when the store was created.
    pub fn open(path: &Path, root: RootKey) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let store = Self { db, root };
        store.check_root_key()?;
        Ok(store)
    }

    fn check_root_key(&self) -> Result<(), StoreError> {
        let meta = self.cf(CF_META);
        match self.db.get_cf(meta, b"root_check")? {
            Some(sealed) => {
                crypto::open(self.root.expose_secret(), ROOT_CHECK_AAD, &sealed)
                    .map_err(|_| StoreError::WrongRootKey)?;
                Ok(())
            }
            None => {
                let sealed = crypto::seal(
                    self.root.expose_secret(),
                    ROOT_CHECK_AAD,
                    ROOT_CHECK_PLAINTEXT,
                )
                .map_err(|_| StoreError::Crypto)?;
                let mut wb = WriteBatch::default();
                wb.put_cf(meta, b"root_check", sealed);
                wb.put_cf(meta, b"schema", SCHEMA_VERSION);
                self.db.write_opt(wb, &synced())?;
                Ok(())
            }
        }
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        // The families are created at open (create_missing_column_families),
        // so a missing handle is a programming error, not an input error.
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    /// The record of key `id`, if it exists.
    pub fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        match self.db.get_pinned_cf(self.cf(CF_KEYS), id.storage_key())? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what: "key" }),
            None => Ok(None),
        }
    }

    /// Version `version` of key `id`'s material, unsealed.
    pub fn get_material(
        &self,
        id: &KeyId,
        version: u32,
    ) -> Result<Option<KeyMaterial>, StoreError> {
        let k = material_key(id, version);
        let Some(sealed) = self.db.get_pinned_cf(self.cf(CF_MATERIAL), k)? else {
            return Ok(None);
        };
        let pt = crypto::open(
            self.root.expose_secret(),
            &material_aad(id, version),
            &sealed,
        )
        .map_err(|_| StoreError::Corrupt { what: "material" })?;
        KeyMaterial::from_slice(pt.expose_secret())
            .map(Some)
            .ok_or(StoreError::Corrupt { what: "material" })
    }

    /// Ids of the keys of `account`, in id order, after `after`, at most `limit`.
    pub fn list_account_keys(
        &self,
        account: &str,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<Vec<KeyId>, StoreError> {
        let prefix = account.as_bytes().to_vec();
        let start = match after {
            Some(id) => {
                let mut s = prefix.clone();
                s.extend_from_slice(&id.storage_key());
                s.push(0); // strictly after
                s
            }
            None => prefix.clone(),
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_ACCOUNT_KEYS),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let id = KeyId::from_storage_key(&k[prefix.len()..]).ok_or(StoreError::Corrupt {
                what: "account key index",
            })?;
            out.push(id);
        }
        Ok(out)
    }

    /// The alias `alias` of `account`.
    pub fn get_alias(
        &self,
        account: &str,
        alias: &AliasName,
    ) -> Result<Option<AliasRecord>, StoreError> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_ALIASES), alias_key(account, alias))?
        {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what: "alias" }),
            None => Ok(None),
        }
    }

    /// Aliases of `account` in name order, after `after`, at most `limit`.
    pub fn list_aliases(
        &self,
        account: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(AliasName, AliasRecord)>, StoreError> {
        let prefix = account.as_bytes().to_vec();
        let mut start = prefix.clone();
        if let Some(a) = after {
            start.extend_from_slice(a.as_bytes());
            start.push(0);
        }
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_ALIASES),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let name = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| AliasName::parse(s).ok())
                .ok_or(StoreError::Corrupt { what: "alias" })?;
            let rec =
                serde_json::from_slice(&v).map_err(|_| StoreError::Corrupt { what: "alias" })?;
            out.push((name, rec));
        }
        Ok(out)
    }

    /// Names of the aliases that point at key `id`.
    pub fn aliases_of_key(&self, id: &KeyId) -> Result<Vec<AliasName>, StoreError> {
        let prefix = id.storage_key();
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_KEY_ALIASES),
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let name = std::str::from_utf8(&k[prefix.len()..])
                .ok()
                .and_then(|s| AliasName::parse(s).ok())
                .ok_or(StoreError::Corrupt {
                    what: "key alias index",
                })?;
            out.push(name);
        }
        Ok(out)
    }

    /// Keys whose deletion is due at or before `now_ms`, earliest first.
    pub fn due_deletions(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, KeyId)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_DELETIONS), IteratorMode::Start)
        {
            let (k, _) = item?;
            let (due, id) = decode_deletion_key(&k)?;
            if due > now_ms || out.len() >= limit {
                break;
            }
            out.push((due, id));
        }
        Ok(out)
    }

    /// The earliest scheduled deletion time, if any.
    pub fn next_deletion_due(&self) -> Result<Option<i64>, StoreError> {
        match self
            .db
            .iterator_cf(self.cf(CF_DELETIONS), IteratorMode::Start)
            .next()
        {
            Some(item) => {
                let (k, _) = item?;
                Ok(Some(decode_deletion_key(&k)?.0))
            }
            None => Ok(None),
        }
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
    /// Writes a key record (new or updated); indexes it under its account.
    pub fn put_key(&mut self, rec: &KeyRecord) -> Result<(), StoreError> {
        let json = serde_json::to_vec(rec).map_err(|_| StoreError::Corrupt { what: "key" })?;
        self.wb
            .put_cf(self.store.cf(CF_KEYS), rec.id.storage_key(), json);
        self.wb.put_cf(
            self.store.cf(CF_ACCOUNT_KEYS),
            account_key(&rec.account, &rec.id),
            b"",
        );
        Ok(())
    }

    /// Writes version `version` of key `id`'s material, sealed by the root key.
    pub fn put_material(
        &mut self,
        id: &KeyId,
        version: u32,
        m: &KeyMaterial,
    ) -> Result<(), StoreError> {
        let sealed = crypto::seal(
            self.store.root.expose_secret(),
            &material_aad(id, version),
            m.expose_secret(),
        )
        .map_err(|_| StoreError::Crypto)?;
        self.wb.put_cf(
            self.store.cf(CF_MATERIAL),
            material_key(id, version),
            sealed,
        );
        Ok(())
    }

    /// Creates or repoints alias `alias` of `account`.
    pub fn put_alias(
        &mut self,
        account: &str,
        alias: &AliasName,
        rec: &AliasRecord,
        previous_target: Option<&KeyId>,
    ) -> Result<(), StoreError> {
        let target = rec.target_id()?;
        if let Some(prev) = previous_target {
            self.wb
                .delete_cf(self.store.cf(CF_KEY_ALIASES), key_alias_key(prev, alias));
        }
        let json = serde_json::to_vec(rec).map_err(|_| StoreError::Corrupt { what: "alias" })?;
        self.wb
            .put_cf(self.store.cf(CF_ALIASES), alias_key(account, alias), json);
        self.wb.put_cf(
            self.store.cf(CF_KEY_ALIASES),
            key_alias_key(&target, alias),
            account.as_bytes(),
        );
        Ok(())
    }

    /// Removes alias `alias` of `account`, which points at `target`.
    pub fn delete_alias(&mut self, account: &str, alias: &AliasName, target: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(CF_ALIASES), alias_key(account, alias));
        self.wb
            .delete_cf(self.store.cf(CF_KEY_ALIASES), key_alias_key(target, alias));
    }

    /// Adds key `id` to the deletion schedule at `due_ms`.
    pub fn schedule_deletion(&mut self, due_ms: i64, id: &KeyId) {
        self.wb
            .put_cf(self.store.cf(CF_DELETIONS), deletion_key(due_ms, id), b"");
    }

    /// Removes key `id`'s entry at `due_ms` from the deletion schedule.
    pub fn unschedule_deletion(&mut self, due_ms: i64, id: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(CF_DELETIONS), deletion_key(due_ms, id));
    }

    /// Removes every trace of key `rec`: record, index, all material
    /// versions and its aliases. (The deletion-schedule entry is removed by
    /// the caller, which knows its due time.)
    pub fn delete_key(&mut self, rec: &KeyRecord, aliases: &[AliasName]) {
        let s = self.store;
        self.wb.delete_cf(s.cf(CF_KEYS), rec.id.storage_key());
        self.wb
            .delete_cf(s.cf(CF_ACCOUNT_KEYS), account_key(&rec.account, &rec.id));
        // Versions are 1..=current_version; a range delete covers them all.
        self.wb.delete_range_cf(
            s.cf(CF_MATERIAL),
            material_key(&rec.id, 0),
            material_key(&rec.id, u32::MAX),
        );
        self.wb
            .delete_cf(s.cf(CF_MATERIAL), material_key(&rec.id, u32::MAX));
        for a in aliases {
            self.delete_alias(&rec.account, a, &rec.id);
        }
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

fn material_key(id: &KeyId, version: u32) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..17].copy_from_slice(&id.storage_key());
    k[17..].copy_from_slice(&version.to_be_bytes());
    k
}

fn material_aad(id: &KeyId, version: u32) -> Vec<u8> {
    let mut aad = b"kmsd/material/v1".to_vec();
    aad.extend_from_slice(&material_key(id, version));
    aad
}

fn account_key(account: &str, id: &KeyId) -> Vec<u8> {
    let mut k = account.as_bytes().to_vec();
    k.extend_from_slice(&id.storage_key());
    k
}

fn alias_key(account: &str, alias: &AliasName) -> Vec<u8> {
    let mut k = account.as_bytes().to_vec();
    k.extend_from_slice(alias.as_str().as_bytes());
    k
}

fn key_alias_key(id: &KeyId, alias: &AliasName) -> Vec<u8> {
    let mut k = id.storage_key().to_vec();
    k.extend_from_slice(alias.as_str().as_bytes());
    k
}

fn deletion_key(due_ms: i64, id: &KeyId) -> [u8; 25] {
    let mut k = [0u8; 25];
    // Times are non-negative; the cast keeps big-endian order.
    k[..8].copy_from_slice(&(due_ms.max(0) as u64).to_be_bytes());
    k[8..].copy_from_slice(&id.storage_key());
    k
}

fn decode_deletion_key(k: &[u8]) -> Result<(i64, KeyId), StoreError> {
    let corrupt = StoreError::Corrupt {
        what: "deletion schedule",
    };
    if k.len() != 25 {
        return Err(corrupt);
    }
    let mut due = [0u8; 8];
    due.copy_from_slice(&k[..8]);
    let id = KeyId::from_storage_key(&k[8..]).ok_or(corrupt)?;
    Ok((
        i64::try_from(u64::from_be_bytes(due)).unwrap_or(i64::MAX),
        id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KeySpec, KeyState, KeyUsage, Origin};
    use std::collections::BTreeMap;

    fn record(account: &str) -> KeyRecord {
        KeyRecord {
            id: KeyId::new_random(),
            account: account.into(),
            created_ms: 1,
            description: "d".into(),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            state: KeyState::Enabled,
            deletion_date_ms: None,
            pending_window_days: None,
            tags: BTreeMap::new(),
            current_version: 1,
            multi_region: false,
        }
    }

    fn root(b: u8) -> RootKey {
        RootKey::from_slice(&[b; 32]).expect("32 bytes")
    }

    #[test]
    fn keys_material_and_indexes_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), root(1)).expect("open");
        let rec = record("111122223333");
        let m = KeyMaterial::from_slice(&[42u8; 32]).expect("32");
        let mut b = store.batch();
        b.put_key(&rec).expect("put");
        b.put_material(&rec.id, 1, &m).expect("material");
        b.commit().expect("commit");
        assert_eq!(store.get_key(&rec.id).expect("get"), Some(rec.clone()));
        let got = store
            .get_material(&rec.id, 1)
            .expect("get")
            .expect("present");
        assert_eq!(got.expose_secret(), m.expose_secret());
        assert!(store.get_material(&rec.id, 2).expect("get").is_none());
        assert_eq!(
            store
                .list_account_keys("111122223333", None, 10)
                .expect("list"),
            vec![rec.id]
        );
        assert!(store
            .list_account_keys("444455556666", None, 10)
            .expect("list")
            .is_empty());

        let mut b = store.batch();
        b.delete_key(&rec, &[]);
        b.commit().expect("commit");
        assert!(store.get_key(&rec.id).expect("get").is_none());
        assert!(store.get_material(&rec.id, 1).expect("get").is_none());
    }

    #[test]
    fn wrong_root_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Store::open(dir.path(), root(1)).expect("open"));
        assert!(matches!(
            Store::open(dir.path(), root(2)),
            Err(StoreError::WrongRootKey)
        ));
        assert!(Store::open(dir.path(), root(1)).is_ok());
    }

    #[test]
    fn deletion_schedule_is_ordered_by_due_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), root(1)).expect("open");
        let (a, b) = (KeyId::new_random(), KeyId::new_random());
        let mut batch = store.batch();
        batch.schedule_deletion(2_000, &a);
        batch.schedule_deletion(1_000, &b);
        batch.commit().expect("commit");
        assert_eq!(store.next_deletion_due().expect("next"), Some(1_000));
        assert_eq!(
            store.due_deletions(1_500, 10).expect("due"),
            vec![(1_000, b)]
        );
        assert_eq!(store.due_deletions(5_000, 10).expect("due").len(), 2);
    }
}
