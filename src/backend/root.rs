//! What belongs to the root key itself, whichever backend holds the KMS
//! keys' material: the check value that refuses a data directory opened
//! with another root key, and the derivation of keys from it.
//!
//! (Where the root key comes from — a file, an environment variable — is
//! `store::root_key`'s business; this module only uses it.)

use zeroize::Zeroize;

use super::{BackendError, LocalBackend};
use crate::crypto;
use crate::model::{KeyId, MaterialVersion};
use crate::secret::{KeyMaterial, RootKey};
use crate::store::{RewrapProgress, Store, StoreError};

/// HKDF label of the key that seals KMS key material (`LocalBackend`).
pub const MATERIAL_SEALING: &str = "kmsd/material-sealing/v2";
/// HKDF label of the key that authenticates every stored record
/// (`store`'s barrier).
pub const RECORD_AUTH: &str = "kmsd/record-auth/v1";
/// HKDF label of the key that authenticates grant tokens (the core asks
/// for it through `MaterialBackend::derive_service_key`).
pub const GRANT_TOKENS: &str = "kmsd/grant-token/v1";
/// HKDF label of the key that seals the root key's check value.
pub const ROOT_CHECK_KEY: &str = "kmsd/root-check/v2";
/// HKDF salt: fixed, kmsd's own (the root key is uniformly random, so a
/// fixed salt only separates kmsd's derivations from any other use).
const HKDF_SALT: &[u8] = b"kmsd root key derivations";

/// Name of the check value in the store's `meta` family.
pub(crate) const ROOT_CHECK: &str = "root_check";
/// Additional data of the check value.
const ROOT_CHECK_AAD: &[u8] = b"kmsd/root-check/v2";
/// What the check value seals (a known text: only opening it matters).
const ROOT_CHECK_PLAINTEXT: &[u8] = b"kmsd root key check value";

/// Checks `root` against the check value in `store`, or writes the check
/// value if the store has none yet (a new data directory); then installs
/// the record key derived from `root` in `store`, so it reads and writes
/// authenticated records. A wrong root key is `WrongRootKey`, before
/// anything else reads or writes a record. A data directory whose rewrap
/// was interrupted is refused until the rewrap is run again.
pub fn check_root_key(root: &RootKey, store: &Store) -> Result<(), BackendError> {
    if store.rewrap_in_progress()? {
        return Err(BackendError::RewrapInProgress);
    }
    match store.get_meta(ROOT_CHECK)? {
        Some(sealed) => {
            if !opens_check_value(root, &sealed) {
                return Err(BackendError::WrongRootKey);
            }
        }
        None => {
            let mut b = store.batch();
            b.put_meta(ROOT_CHECK, &check_value(root)?);
            b.commit()?;
        }
    }
    store.set_record_key(derive_key(root, RECORD_AUTH))?;
    Ok(())
}

/// Opens the store at `path` for reading and writing records under `root`
/// (checked first): for tools and tests that read a stopped data directory.
pub fn open_store(path: &std::path::Path, root: &RootKey) -> Result<Store, BackendError> {
    let store = Store::open(path)?;
    check_root_key(root, &store)?;
    Ok(store)
}

/// Moves the stopped data directory of `store` from root key `old` to
/// `new`: every record is re-authenticated under `new`'s record key and
/// every local material version resealed under `new`'s sealing key, then
/// the check value is replaced, so `old` is refused from then on.
///
/// Crash-safe and re-runnable: the first run records the target (`new`'s
/// check value) in `meta`; while it is there kmsd will not open the
/// directory; each record is rewritten idempotently (see
/// `store::rewrap`); the check value and the marker change in one synced
/// batch at the end. A run with another new key than the unfinished one is
/// refused. A directory already under `new` is left as it is. `limit`
/// stops after that many records (tests interrupt it this way).
pub fn rewrap(
    store: &Store,
    old: RootKey,
    new: RootKey,
    limit: Option<u64>,
) -> Result<RewrapProgress, BackendError> {
    let Some(check) = store.get_meta(ROOT_CHECK)? else {
        return Err(BackendError::WrongRootKey);
    };
    let target = store.rewrap_target()?;
    if target.is_none() && opens_check_value(&new, &check) {
        // Finished earlier (or the same key twice): nothing to do.
        return Ok(RewrapProgress {
            done: true,
            ..RewrapProgress::default()
        });
    }
    if !opens_check_value(&old, &check) {
        return Err(BackendError::WrongRootKey);
    }
    match target {
        Some(t) if !opens_check_value(&new, &t) => return Err(BackendError::RewrapOtherTarget),
        Some(_) => {}
        None => store.begin_rewrap(&check_value(&new)?)?,
    }
    let (old_rk, new_rk) = (derive_key(&old, RECORD_AUTH), derive_key(&new, RECORD_AUTH));
    let new_check = check_value(&new)?;
    let password_label = crate::model::custom_key_store::PASSWORD_KEY_LABEL;
    let (old_pw, new_pw) = (
        derive_key(&old, password_label),
        derive_key(&new, password_label),
    );
    let (from, to) = (LocalBackend::new(old), LocalBackend::new(new));
    let progress = store.rewrap_records(
        &old_rk,
        &new_rk,
        |cf, key, value| {
            if cf == crate::store::IMPORT_PARAMS_FAMILY {
                // The wrapping private key of pending import parameters.
                let corrupt = || {
                    BackendError::Store(StoreError::Corrupt {
                        what: "import parameters",
                    })
                };
                let mut p: crate::model::ImportParameters =
                    serde_json::from_slice(value).map_err(|_| corrupt())?;
                p.sealed_private_key = from.reseal_secret_for(
                    super::WRAPPING_KEY_LABEL,
                    &p.key_id,
                    &p.sealed_private_key,
                    &to,
                )?;
                return serde_json::to_vec(&p).map_err(|_| corrupt());
            }
            if cf == crate::store::CUSTOM_KEY_STORES_FAMILY {
                // A store's `kmsuser` password, sealed under a key derived
                // from the root key.
                let corrupt = || {
                    BackendError::Store(StoreError::Corrupt {
                        what: "custom key store",
                    })
                };
                let mut rec: crate::model::CustomKeyStoreRecord =
                    serde_json::from_slice(value).map_err(|_| corrupt())?;
                let plain = crypto::open(
                    old_pw.expose_secret(),
                    rec.id.as_bytes(),
                    rec.sealed_password.as_bytes(),
                )?;
                rec.sealed_password = crate::model::SealedBlob::new(crypto::seal(
                    new_pw.expose_secret(),
                    rec.id.as_bytes(),
                    plain.expose_secret(),
                )?);
                return serde_json::to_vec(&rec).map_err(|_| corrupt());
            }
            if cf == crate::store::REPLICATION_FAMILY && key == crate::store::REGION_KEY_SLOT {
                // The Region's replication private key (`kms::replication`).
                let corrupt = || BackendError::Store(StoreError::Corrupt { what: "region key" });
                let mut rec: crate::store::RegionKeyRecord =
                    serde_json::from_slice(value).map_err(|_| corrupt())?;
                rec.sealed = from.reseal_secret_for(
                    super::REGION_KEY_LABEL,
                    &super::REGION_KEY_ID,
                    &rec.sealed,
                    &to,
                )?;
                return serde_json::to_vec(&rec).map_err(|_| corrupt());
            }
            if cf == crate::store::REPLICATION_FAMILY {
                if let Some(id) = key.strip_prefix(crate::store::MATERIAL_ID_KEY_PREFIX) {
                    // An EXTERNAL multi-Region key's KeyMaterialId secret.
                    let corrupt = || {
                        BackendError::Store(StoreError::Corrupt {
                            what: "material id key",
                        })
                    };
                    let id = KeyId::from_storage_key(id).ok_or_else(corrupt)?;
                    let sealed: crate::model::SealedBlob =
                        serde_json::from_slice(value).map_err(|_| corrupt())?;
                    let resealed =
                        from.reseal_secret_for(super::MATERIAL_ID_SECRET_LABEL, &id, &sealed, &to)?;
                    return serde_json::to_vec(&resealed).map_err(|_| corrupt());
                }
            }
            if cf != crate::store::MATERIAL_FAMILY {
                return Ok(value.to_vec());
            }
            let corrupt = || BackendError::Store(StoreError::Corrupt { what: "material" });
            let id = key
                .get(..17)
                .and_then(KeyId::from_storage_key)
                .ok_or_else(corrupt)?;
            let record: MaterialVersion = serde_json::from_slice(value).map_err(|_| corrupt())?;
            let resealed = from.reseal_for(&id, &record, &to)?;
            serde_json::to_vec(&resealed).map_err(|_| corrupt())
        },
        limit,
    )?;
    if progress.done {
        store.finish_rewrap(ROOT_CHECK, &new_check)?;
    }
    Ok(progress)
}

/// A fresh check value for `root` (what `meta`'s `root_check` holds).
pub(crate) fn check_value(root: &RootKey) -> Result<Vec<u8>, BackendError> {
    let k = derive_key(root, ROOT_CHECK_KEY);
    Ok(crypto::seal(
        k.expose_secret(),
        ROOT_CHECK_AAD,
        ROOT_CHECK_PLAINTEXT,
    )?)
}

/// Whether `sealed` is a check value made for `root`.
pub(crate) fn opens_check_value(root: &RootKey, sealed: &[u8]) -> bool {
    let k = derive_key(root, ROOT_CHECK_KEY);
    crypto::open(k.expose_secret(), ROOT_CHECK_AAD, sealed).is_ok()
}

/// A 32-byte key derived from `root` for `label` (HKDF-SHA-256, RFC 5869:
/// a fixed salt, `label` as the info). Distinct labels give independent
/// keys, so one purpose's key reveals nothing about another's, and the
/// root key itself keys nothing directly.
pub fn derive_key(root: &RootKey, label: &str) -> KeyMaterial {
    struct Len32;
    impl ring::hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let prk =
        ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, HKDF_SALT).extract(root.expose_secret());
    let mut out = [0u8; 32];
    let info = [label.as_bytes()];
    // INVARIANT: 32 bytes is far below HKDF-SHA-256's 255 * 32 limit, so
    // expand and fill cannot fail; on the impossible failure `out` stays
    // zero and the derived key would simply not match anything stored.
    let filled = prk
        .expand(&info, Len32)
        .and_then(|okm| okm.fill(&mut out))
        .is_ok();
    debug_assert!(filled);
    let key = KeyMaterial::from_slice(&out);
    out.zeroize();
    // INVARIANT: 32 bytes is within KeyMaterial's 1..=MAX_MATERIAL_LEN.
    key.unwrap_or_else(|| unreachable!("32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(b: u8) -> RootKey {
        RootKey::from_slice(&[b; 32]).expect("32 bytes")
    }

    #[test]
    fn wrong_root_key_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        check_root_key(&root(1), &store).expect("first use writes the check value");
        check_root_key(&root(1), &store).expect("same key");
        assert!(matches!(
            check_root_key(&root(2), &store),
            Err(BackendError::WrongRootKey)
        ));
        assert!(store.get_meta(ROOT_CHECK).expect("meta").is_some());
        // The check value is not sealed under the raw root key.
        let sealed = store.get_meta(ROOT_CHECK).expect("meta").expect("check");
        assert!(crypto::open(root(1).expose_secret(), ROOT_CHECK_AAD, &sealed).is_err());
    }

    /// `kmsd rewrap` reseals the wrapping private key of pending import
    /// parameters too, so they still open under the new root key.
    #[test]
    fn rewrap_reseals_custom_key_store_passwords() {
        use crate::model::{CustomKeyStoreRecord, SealedBlob};
        let label = crate::model::custom_key_store::PASSWORD_KEY_LABEL;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_store(dir.path(), &root(1)).expect("open");
        let id = "cks-0123456789abcdef0";
        let sealed = crypto::seal(
            derive_key(&root(1), label).expose_secret(),
            id.as_bytes(),
            b"kmsuser-password",
        )
        .expect("seal");
        let mut b = store.batch();
        b.put_custom_key_store(&CustomKeyStoreRecord {
            id: id.into(),
            account: "111122223333".into(),
            name: "s".into(),
            cluster_id: "cluster-1234567890a".into(),
            trust_anchor_pem: "pem".into(),
            sealed_password: SealedBlob::new(sealed),
            created_ms: 1,
            wants_connected: true,
            connection_error_code: None,
            key_count: 0,
        })
        .expect("put");
        b.commit().expect("commit");
        assert!(rewrap(&store, root(1), root(2), None).expect("rewrap").done);
        drop(store);
        let store = open_store(dir.path(), &root(2)).expect("reopen under the new key");
        let rec = store
            .get_custom_key_store(id)
            .expect("read")
            .expect("record");
        let opened = crypto::open(
            derive_key(&root(2), label).expose_secret(),
            id.as_bytes(),
            rec.sealed_password.as_bytes(),
        )
        .expect("opens under the new root key");
        assert_eq!(opened.expose_secret(), b"kmsuser-password");
        assert!(crypto::open(
            derive_key(&root(1), label).expose_secret(),
            id.as_bytes(),
            rec.sealed_password.as_bytes(),
        )
        .is_err());
    }

    #[test]
    fn rewrap_reseals_import_parameters() {
        use crate::backend::MaterialBackend;
        use crate::model::{ImportParameters, KeyId, WrappingAlgorithm, WrappingKeySpec};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        check_root_key(&root(1), &store).expect("check value");
        let old = LocalBackend::new(root(1));
        let id = KeyId::new_random();
        let sealed = old
            .seal_secret(super::super::WRAPPING_KEY_LABEL, &id, b"private key")
            .expect("seal");
        let mut b = store.batch();
        b.put_import_params(&ImportParameters {
            key_id: id,
            account: "111122223333".into(),
            params_id: "00".repeat(16),
            wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
            wrapping_key_spec: WrappingKeySpec::Rsa2048,
            created_ms: 1,
            expires_ms: 2,
            sealed_private_key: sealed,
        })
        .expect("put");
        b.commit().expect("commit");
        let done = rewrap(&store, root(1), root(2), None).expect("rewrap");
        assert!(done.done);
        drop(store);
        let store = open_store(dir.path(), &root(2)).expect("reopen under the new key");
        let p = store.get_import_params(&id).expect("read").expect("params");
        let new = LocalBackend::new(root(2));
        let opened = new
            .open_secret(super::super::WRAPPING_KEY_LABEL, &id, &p.sealed_private_key)
            .expect("opens under the new root key");
        assert_eq!(opened.expose_secret(), b"private key");
        assert!(old
            .open_secret(super::super::WRAPPING_KEY_LABEL, &id, &p.sealed_private_key)
            .is_err());
    }

    /// Item 11 of issue 11: one HKDF subkey per purpose; none is the root
    /// key itself or the old HMAC(root, label) derivation.
    #[test]
    fn item_11_subkeys_are_hkdf_per_purpose() {
        let r = root(1);
        let labels = [MATERIAL_SEALING, RECORD_AUTH, GRANT_TOKENS, ROOT_CHECK_KEY];
        let keys: Vec<KeyMaterial> = labels.iter().map(|l| derive_key(&r, l)).collect();
        for (i, a) in keys.iter().enumerate() {
            assert_eq!(a.len(), 32);
            assert_ne!(a.expose_secret(), &r.expose_secret()[..]);
            let old = crypto::hmac_sha256(r.expose_secret(), labels[i].as_bytes());
            assert_ne!(a.expose_secret(), &old[..]);
            for b in &keys[i + 1..] {
                assert_ne!(a.expose_secret(), b.expose_secret());
            }
        }
        // Stable, and another root key gives another key.
        assert_eq!(
            derive_key(&r, GRANT_TOKENS).expose_secret(),
            keys[2].expose_secret()
        );
        assert_ne!(
            derive_key(&root(2), GRANT_TOKENS).expose_secret(),
            keys[2].expose_secret()
        );
        // RFC 5869 HKDF-SHA-256 with kmsd's salt, recomputed by hand.
        let prk = crypto::hmac_sha256(HKDF_SALT, r.expose_secret());
        let mut t1 = GRANT_TOKENS.as_bytes().to_vec();
        t1.push(1);
        assert_eq!(keys[2].expose_secret(), &crypto::hmac_sha256(&prk, &t1)[..]);
    }
}
