//! What belongs to the root key itself, whichever backend holds the KMS
//! keys' material: the check value that refuses a data directory opened
//! with another root key, and the derivation of keys from it.
//!
//! (Where the root key comes from — a file, an environment variable — is
//! `store::root_key`'s business; this module only uses it.)

use zeroize::Zeroize;

use super::BackendError;
use crate::crypto;
use crate::secret::{KeyMaterial, RootKey};
use crate::store::Store;

/// Name of the check value in the store's `meta` family.
const ROOT_CHECK: &str = "root_check";
/// Additional data of the check value.
const ROOT_CHECK_AAD: &[u8] = b"kmsd/root-check/v1";
/// What the check value seals (a known text: only opening it matters).
const ROOT_CHECK_PLAINTEXT: &[u8] = b"kmsd root key check value";

/// Checks `root` against the check value in `store`, or writes the check
/// value if the store has none yet (a new data directory). A wrong root key
/// is `WrongRootKey`, before anything else reads or writes material.
pub fn check_root_key(root: &RootKey, store: &Store) -> Result<(), BackendError> {
    match store.get_meta(ROOT_CHECK)? {
        Some(sealed) => {
            crypto::open(root.expose_secret(), ROOT_CHECK_AAD, &sealed)
                .map_err(|_| BackendError::WrongRootKey)?;
            Ok(())
        }
        None => {
            let sealed = crypto::seal(root.expose_secret(), ROOT_CHECK_AAD, ROOT_CHECK_PLAINTEXT)?;
            let mut b = store.batch();
            b.put_meta(ROOT_CHECK, &sealed);
            b.commit()?;
            Ok(())
        }
    }
}

/// A 32-byte key derived from `root` for `label` (HMAC-SHA-256 of the
/// label under the root key). Distinct labels give independent keys, so
/// one purpose's key reveals nothing about another's.
pub fn derive_key(root: &RootKey, label: &str) -> KeyMaterial {
    let mut tag = crypto::hmac_sha256(root.expose_secret(), label.as_bytes());
    let key = KeyMaterial::from_slice(&tag);
    tag.zeroize();
    // INVARIANT: an HMAC-SHA-256 tag is 32 bytes, within KeyMaterial's
    // 1..=MAX_MATERIAL_LEN.
    key.unwrap_or_else(|| unreachable!("HMAC-SHA-256 is 32 bytes"))
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
    }

    #[test]
    fn derived_keys_are_stable_and_separate() {
        let a = derive_key(&root(1), "kmsd/grant-token/v1");
        let b = derive_key(&root(1), "kmsd/grant-token/v1");
        let c = derive_key(&root(1), "kmsd/other/v1");
        let d = derive_key(&root(2), "kmsd/grant-token/v1");
        assert_eq!(a.len(), 32);
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
        assert_ne!(a.expose_secret(), d.expose_secret());
        // The same derivation as ring's HMAC, so grant tokens minted before
        // the backend split still verify.
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[1u8; 32]);
        let tag = ring::hmac::sign(&k, b"kmsd/grant-token/v1");
        assert_eq!(a.expose_secret(), tag.as_ref());
    }
}
