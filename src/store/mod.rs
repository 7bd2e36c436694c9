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
//! | `key_policies` | key id (17)                           | key policy text               |
//! | `identity_policies` | principal ARN + 0 + policy name  | identity policy text          |
//! | `grants`       | key id (17) + grant id (32)           | `GrantRecord` JSON            |
//! | `grants_by_grantee` | key id (17) + grantee + 0 + grant id (32) | empty (authorization index) |
//! | `grants_by_retiring` | retiring principal + 0 + key id (17) + grant id (32) | empty |
//! | `grant_names`  | key id (17) + name                    | grant id (32)                 |
//! | `rotations`    | key id (17) + version (4)             | `RotationEntry` JSON          |
//! | `rotation_schedule` | due ms (8) + key id (17)         | empty (automatic rotations)   |
//!
//! Key material is written only sealed under the root key (AES-256-GCM,
//! additional data binding key id and version): plaintext material never
//! reaches RocksDB. Every batch is written with `sync = true`, so a call
//! that returned success survived a crash. All methods block: the core calls
//! them from `spawn_blocking`, never from an async task directly.

mod root_key;

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::model::{AliasName, GrantRecord, KeyId, KeyRecord};
use crate::secret::{KeyMaterial, RootKey};

pub use root_key::{load_or_create_dev_root_key, parse_root_key_hex};

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

/// The time-ordered job queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Keys whose deletion window ends.
    Deletion,
    /// Keys due for automatic rotation.
    Rotation,
}

impl Schedule {
    fn cf(self) -> &'static str {
        match self {
            Schedule::Deletion => CF_DELETIONS,
            Schedule::Rotation => CF_ROTATION_SCHEDULE,
        }
    }
}

/// One completed rotation of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationEntry {
    /// The material version the rotation created.
    pub version: u32,
    /// When, Unix ms.
    pub rotation_ms: i64,
    /// Automatic or on demand.
    pub rotation_type: crate::model::RotationType,
}

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

/// RocksDB's block cache, shared by every column family. The data path is
/// served from the core's own caches; this one serves cache misses and the
/// control plane.
const BLOCK_CACHE_BYTES: usize = 64 << 20;

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

    /// A JSON record from column family `cf`, decoded; `what` names it in
    /// the corruption error.
    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        cf: &str,
        key: impl AsRef<[u8]>,
        what: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.db.get_pinned_cf(self.cf(cf), key)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what }),
            None => Ok(None),
        }
    }

    /// The record of key `id`, if it exists.
    pub fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.get_json(CF_KEYS, id.storage_key(), "key")
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
        self.get_json(CF_ALIASES, alias_key(account, alias), "alias")
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

    /// Keys due in `which` at or before `now_ms`, earliest first.
    pub fn due(
        &self,
        which: Schedule,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(i64, KeyId)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(which.cf()), IteratorMode::Start)
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

    /// The earliest due time in `which`, if any.
    pub fn next_due(&self, which: Schedule) -> Result<Option<i64>, StoreError> {
        match self
            .db
            .iterator_cf(self.cf(which.cf()), IteratorMode::Start)
            .next()
        {
            Some(item) => {
                let (k, _) = item?;
                Ok(Some(decode_deletion_key(&k)?.0))
            }
            None => Ok(None),
        }
    }

    /// The key policy text of key `id`.
    pub fn get_key_policy(&self, id: &KeyId) -> Result<Option<String>, StoreError> {
        match self.db.get_cf(self.cf(CF_KEY_POLICIES), id.storage_key())? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what: "key policy" }),
            None => Ok(None),
        }
    }

    /// The identity policies of `principal`, in name order, after `after`.
    pub fn list_identity_policies(
        &self,
        principal: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let prefix = identity_prefix(principal);
        let mut start = prefix.clone();
        if let Some(a) = after {
            start.extend_from_slice(a.as_bytes());
            start.push(0);
        }
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_IDENTITY_POLICIES),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let corrupt = || StoreError::Corrupt {
                what: "identity policy",
            };
            let name = String::from_utf8(k[prefix.len()..].to_vec()).map_err(|_| corrupt())?;
            let text = String::from_utf8(v.to_vec()).map_err(|_| corrupt())?;
            out.push((name, text));
        }
        Ok(out)
    }

    /// One identity policy of `principal`.
    pub fn get_identity_policy(
        &self,
        principal: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut k = identity_prefix(principal);
        k.extend_from_slice(name.as_bytes());
        match self.db.get_cf(self.cf(CF_IDENTITY_POLICIES), k)? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| StoreError::Corrupt {
                    what: "identity policy",
                }),
            None => Ok(None),
        }
    }

    /// Grant `grant_id` (32 raw bytes) of key `id`.
    pub fn get_grant(
        &self,
        id: &KeyId,
        grant_id: &[u8; 32],
    ) -> Result<Option<GrantRecord>, StoreError> {
        self.get_json(CF_GRANTS, grant_key(id, grant_id), "grant")
    }

    /// Grants of key `id` in grant-id order, after `after`, at most `limit`.
    pub fn list_grants(
        &self,
        id: &KeyId,
        after: Option<&[u8; 32]>,
        limit: usize,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let prefix = id.storage_key();
        let start = match after {
            Some(g) => {
                let mut s = grant_key(id, g).to_vec();
                s.push(0);
                s
            }
            None => prefix.to_vec(),
        };
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_GRANTS),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(
                serde_json::from_slice(&v).map_err(|_| StoreError::Corrupt { what: "grant" })?,
            );
        }
        Ok(out)
    }

    /// Grants of key `id` whose grantee is `grantee` (the authorization
    /// index: cost grows with this grantee's grants on the key only).
    pub fn grants_for_grantee(
        &self,
        id: &KeyId,
        grantee: &str,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let prefix = grantee_prefix(id, grantee);
        let mut ids = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_GRANTS_BY_GRANTEE),
            IteratorMode::From(&prefix, Direction::Forward),
        ) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let g: [u8; 32] = k[prefix.len()..]
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: "grantee index",
                })?;
            ids.push(g);
        }
        let mut out = Vec::with_capacity(ids.len());
        for g in ids {
            if let Some(rec) = self.get_grant(id, &g)? {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// (key id, grant id) of the grants whose retiring principal is
    /// `principal`, after `after` (an index key suffix), at most `limit`.
    pub fn retirable_grants(
        &self,
        principal: &str,
        after: Option<(&KeyId, &[u8; 32])>,
        limit: usize,
    ) -> Result<Vec<(KeyId, [u8; 32])>, StoreError> {
        let prefix = identity_prefix(principal);
        let mut start = prefix.clone();
        if let Some((k, g)) = after {
            start.extend_from_slice(&grant_key(k, g));
            start.push(0);
        }
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_GRANTS_BY_RETIRING),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, _) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let rest = &k[prefix.len()..];
            let corrupt = || StoreError::Corrupt {
                what: "retiring index",
            };
            if rest.len() != 49 {
                return Err(corrupt());
            }
            let key = KeyId::from_storage_key(&rest[..17]).ok_or_else(corrupt)?;
            let g: [u8; 32] = rest[17..].try_into().map_err(|_| corrupt())?;
            out.push((key, g));
        }
        Ok(out)
    }

    /// The grant id recorded for grant name `name` on key `id`.
    pub fn grant_by_name(&self, id: &KeyId, name: &str) -> Result<Option<[u8; 32]>, StoreError> {
        let mut k = id.storage_key().to_vec();
        k.extend_from_slice(name.as_bytes());
        match self.db.get_cf(self.cf(CF_GRANT_NAMES), k)? {
            Some(v) => v
                .as_slice()
                .try_into()
                .map(Some)
                .map_err(|_| StoreError::Corrupt { what: "grant name" }),
            None => Ok(None),
        }
    }

    /// Rotations of key `id` with version greater than `after_version`, in
    /// version order, at most `limit`.
    pub fn list_rotations(
        &self,
        id: &KeyId,
        after_version: u32,
        limit: usize,
    ) -> Result<Vec<RotationEntry>, StoreError> {
        let prefix = id.storage_key();
        let start = material_key(id, after_version.saturating_add(1));
        let mut out = Vec::new();
        for item in self.db.iterator_cf(
            self.cf(CF_ROTATIONS),
            IteratorMode::From(&start, Direction::Forward),
        ) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            out.push(
                serde_json::from_slice(&v).map_err(|_| StoreError::Corrupt { what: "rotation" })?,
            );
        }
        Ok(out)
    }

    /// A 32-byte key derived from the root key for `label` (HMAC-SHA-256),
    /// e.g. the key that authenticates grant tokens.
    pub fn derive_key(&self, label: &str) -> KeyMaterial {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.root.expose_secret());
        let tag = ring::hmac::sign(&k, label.as_bytes());
        // A SHA-256 tag is always 32 bytes.
        KeyMaterial::from_slice(tag.as_ref())
            .unwrap_or_else(|| unreachable!("HMAC-SHA-256 is 32 bytes"))
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

    /// Adds key `id` to schedule `which` at `due_ms`.
    pub fn schedule(&mut self, which: Schedule, due_ms: i64, id: &KeyId) {
        self.wb
            .put_cf(self.store.cf(which.cf()), deletion_key(due_ms, id), b"");
    }

    /// Removes key `id`'s entry at `due_ms` from schedule `which`.
    pub fn unschedule(&mut self, which: Schedule, due_ms: i64, id: &KeyId) {
        self.wb
            .delete_cf(self.store.cf(which.cf()), deletion_key(due_ms, id));
    }

    /// Records a completed rotation.
    pub fn put_rotation(&mut self, id: &KeyId, e: &RotationEntry) -> Result<(), StoreError> {
        let json = serde_json::to_vec(e).map_err(|_| StoreError::Corrupt { what: "rotation" })?;
        self.wb.put_cf(
            self.store.cf(CF_ROTATIONS),
            material_key(id, e.version),
            json,
        );
        Ok(())
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
        self.wb
            .delete_cf(s.cf(CF_KEY_POLICIES), rec.id.storage_key());
        self.wb.delete_range_cf(
            s.cf(CF_ROTATIONS),
            material_key(&rec.id, 0),
            material_key(&rec.id, u32::MAX),
        );
        if let Some(due) = rec.rotation.next_ms {
            self.wb
                .delete_cf(s.cf(CF_ROTATION_SCHEDULE), deletion_key(due, &rec.id));
        }
    }

    /// Sets key `id`'s policy text.
    pub fn put_key_policy(&mut self, id: &KeyId, text: &str) {
        self.wb.put_cf(
            self.store.cf(CF_KEY_POLICIES),
            id.storage_key(),
            text.as_bytes(),
        );
    }

    /// Sets (or replaces) identity policy `name` of `principal`.
    pub fn put_identity_policy(&mut self, principal: &str, name: &str, text: &str) {
        let mut k = identity_prefix(principal);
        k.extend_from_slice(name.as_bytes());
        self.wb
            .put_cf(self.store.cf(CF_IDENTITY_POLICIES), k, text.as_bytes());
    }

    /// Removes identity policy `name` of `principal`.
    pub fn delete_identity_policy(&mut self, principal: &str, name: &str) {
        let mut k = identity_prefix(principal);
        k.extend_from_slice(name.as_bytes());
        self.wb.delete_cf(self.store.cf(CF_IDENTITY_POLICIES), k);
    }

    /// Writes a new grant and its indexes.
    pub fn put_grant(
        &mut self,
        id: &KeyId,
        grant_id: &[u8; 32],
        g: &GrantRecord,
    ) -> Result<(), StoreError> {
        let s = self.store;
        let json = serde_json::to_vec(g).map_err(|_| StoreError::Corrupt { what: "grant" })?;
        self.wb
            .put_cf(s.cf(CF_GRANTS), grant_key(id, grant_id), json);
        let mut gk = grantee_prefix(id, &g.grantee_principal);
        gk.extend_from_slice(grant_id);
        self.wb.put_cf(s.cf(CF_GRANTS_BY_GRANTEE), gk, b"");
        if let Some(r) = &g.retiring_principal {
            let mut rk = identity_prefix(r);
            rk.extend_from_slice(&grant_key(id, grant_id));
            self.wb.put_cf(s.cf(CF_GRANTS_BY_RETIRING), rk, b"");
        }
        if let Some(name) = &g.name {
            let mut nk = id.storage_key().to_vec();
            nk.extend_from_slice(name.as_bytes());
            self.wb.put_cf(s.cf(CF_GRANT_NAMES), nk, grant_id);
        }
        Ok(())
    }

    /// Removes a grant and its indexes.
    pub fn delete_grant(&mut self, id: &KeyId, grant_id: &[u8; 32], g: &GrantRecord) {
        let s = self.store;
        self.wb.delete_cf(s.cf(CF_GRANTS), grant_key(id, grant_id));
        let mut gk = grantee_prefix(id, &g.grantee_principal);
        gk.extend_from_slice(grant_id);
        self.wb.delete_cf(s.cf(CF_GRANTS_BY_GRANTEE), gk);
        if let Some(r) = &g.retiring_principal {
            let mut rk = identity_prefix(r);
            rk.extend_from_slice(&grant_key(id, grant_id));
            self.wb.delete_cf(s.cf(CF_GRANTS_BY_RETIRING), rk);
        }
        if let Some(name) = &g.name {
            let mut nk = id.storage_key().to_vec();
            nk.extend_from_slice(name.as_bytes());
            self.wb.delete_cf(s.cf(CF_GRANT_NAMES), nk);
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

fn identity_prefix(principal: &str) -> Vec<u8> {
    let mut k = principal.as_bytes().to_vec();
    k.push(0);
    k
}

fn grant_key(id: &KeyId, grant_id: &[u8; 32]) -> [u8; 49] {
    let mut k = [0u8; 49];
    k[..17].copy_from_slice(&id.storage_key());
    k[17..].copy_from_slice(grant_id);
    k
}

fn grantee_prefix(id: &KeyId, grantee: &str) -> Vec<u8> {
    let mut k = id.storage_key().to_vec();
    k.extend_from_slice(grantee.as_bytes());
    k.push(0);
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
            grant_count: 0,
            rotation: Default::default(),
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
        batch.schedule(Schedule::Deletion, 2_000, &a);
        batch.schedule(Schedule::Deletion, 1_000, &b);
        batch.commit().expect("commit");
        assert_eq!(
            store.next_due(Schedule::Deletion).expect("next"),
            Some(1_000)
        );
        assert_eq!(
            store.due(Schedule::Deletion, 1_500, 10).expect("due"),
            vec![(1_000, b)]
        );
        assert_eq!(
            store.due(Schedule::Deletion, 5_000, 10).expect("due").len(),
            2
        );
    }
}
