//! The local backend: material generated from the OS CSPRNG, stored sealed
//! (AES-256-GCM) under a key derived from the root key, and held unsealed
//! in process memory while loaded.
//!
//! The sealed form is `nonce || ciphertext || tag` (see `crypto.rs`) with
//! additional data `"kmsd/material/v1" || key id (17) || version (4, BE)`,
//! so a sealed blob opens only as the version of the key it was made for:
//! a record copied to another key or version fails as `CorruptRecord`.

use std::sync::Arc;

use super::root::{check_root_key, derive_key, MATERIAL_SEALING};
use super::{BackendError, MaterialBackend, MaterialHandle};
use crate::crypto::{self, SALT_LEN};
use crate::model::{KeyId, KeySpec, MaterialLocation, MaterialOrigin, MaterialVersion, SealedBlob};
use crate::secret::{KeyMaterial, Plaintext, RootKey};
use crate::store::Store;

/// Label of the additional data that binds sealed material to its key id
/// and version.
const MATERIAL_AAD_LABEL: &[u8; 16] = b"kmsd/material/v1";
/// This backend's name.
const NAME: &str = "local";

/// Key material held by kmsd itself, sealed under a key derived from the
/// root key.
pub struct LocalBackend {
    root: RootKey,
    sealing_key: KeyMaterial,
}

impl LocalBackend {
    /// The backend for the data directory of `store`: checks `root`
    /// against the store's check value (writing it on first use).
    pub fn open(root: RootKey, store: &Store) -> Result<Self, BackendError> {
        check_root_key(&root, store)?;
        Ok(Self::new(root))
    }

    /// The backend without the check (tests, tools holding no store).
    pub fn new(root: RootKey) -> Self {
        let sealing_key = derive_key(&root, MATERIAL_SEALING);
        Self { root, sealing_key }
    }

    /// The raw material of `record`, unsealed. Only the local backend can
    /// offer this; the core never calls it (it works through handles).
    /// For tools and tests that must see the bytes, e.g. the test that
    /// scans the data directory for leaked material.
    pub fn unseal(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<KeyMaterial, BackendError> {
        let corrupt = || BackendError::CorruptRecord {
            key_id: *key_id,
            version: record.version,
        };
        let MaterialLocation::Local { sealed } = &record.location else {
            return Err(corrupt());
        };
        let pt = crypto::open(
            self.sealing_key.expose_secret(),
            &material_aad(key_id, record.version),
            sealed.as_bytes(),
        )
        .map_err(|_| corrupt())?;
        // Copied into its final box; `pt` wipes itself on drop.
        let material = KeyMaterial::from_slice(pt.expose_secret()).ok_or_else(corrupt)?;
        match material_len(record.spec) {
            Some(len) if len != material.len() => Err(corrupt()),
            _ => Ok(material),
        }
    }

    /// `record` of key `key_id` with its material resealed from this
    /// backend's root key to `to`'s (`kmsd rewrap`). Everything else in the
    /// record stays as it was.
    pub fn reseal_for(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
        to: &LocalBackend,
    ) -> Result<MaterialVersion, BackendError> {
        let MaterialLocation::Local { .. } = &record.location else {
            // Not held by this backend: nothing sealed under the root key.
            return Ok(record.clone());
        };
        let material = self.unseal(key_id, record)?;
        let sealed = crypto::seal(
            to.sealing_key.expose_secret(),
            &material_aad(key_id, record.version),
            material.expose_secret(),
        )?;
        let mut out = record.clone();
        out.location = MaterialLocation::Local {
            sealed: SealedBlob::new(sealed),
        };
        Ok(out)
    }
}

impl MaterialBackend for LocalBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn generate(
        &self,
        key_id: &KeyId,
        version: u32,
        spec: KeySpec,
        now_ms: i64,
    ) -> Result<MaterialVersion, BackendError> {
        // Only symmetric keys are made so far; HMAC and asymmetric specs
        // come with the issues that implement their operations.
        if spec != KeySpec::SymmetricDefault {
            return Err(BackendError::Unsupported {
                operation: "generate",
                spec,
                backend: NAME,
            });
        }
        let len = material_len(spec).unwrap_or(crate::secret::SYMMETRIC_KEY_LEN);
        let material = KeyMaterial::generate(len)?;
        let sealed = crypto::seal(
            self.sealing_key.expose_secret(),
            &material_aad(key_id, version),
            material.expose_secret(),
        )?;
        Ok(MaterialVersion::new_current(
            key_id,
            version,
            spec,
            MaterialOrigin::Generated,
            now_ms,
            MaterialLocation::Local {
                sealed: SealedBlob::new(sealed),
            },
        ))
    }

    fn load(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<Arc<dyn MaterialHandle>, BackendError> {
        let key = self.unseal(key_id, record)?;
        Ok(Arc::new(LocalHandle {
            spec: record.spec,
            key,
        }))
    }

    fn derive_service_key(&self, label: &str) -> KeyMaterial {
        derive_key(&self.root, label)
    }
}

/// A handle over material the caller already holds in the clear (tests,
/// benchmarks; imported material, once unwrapped, later). Its operations
/// are the local backend's.
pub fn handle_from_material(spec: KeySpec, material: KeyMaterial) -> Arc<dyn MaterialHandle> {
    Arc::new(LocalHandle {
        spec,
        key: material,
    })
}

/// One unsealed material version in memory.
struct LocalHandle {
    spec: KeySpec,
    key: KeyMaterial,
}

impl MaterialHandle for LocalHandle {
    fn spec(&self) -> KeySpec {
        self.spec
    }

    fn seal_into(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), BackendError> {
        if self.spec != KeySpec::SymmetricDefault {
            return Err(self.unsupported("seal"));
        }
        // The hot path: one HKDF and one AES key schedule per call, and no
        // allocation beyond `out`.
        Ok(crypto::seal_derived_into(
            self.key.expose_secret(),
            salt,
            aad,
            plaintext,
            out,
        )?)
    }

    fn open(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError> {
        if self.spec != KeySpec::SymmetricDefault {
            return Err(self.unsupported("open"));
        }
        Ok(crypto::open_derived(
            self.key.expose_secret(),
            salt,
            aad,
            sealed,
        )?)
    }

    fn open_v1(&self, aad: &[u8], sealed: &[u8]) -> Result<Plaintext, BackendError> {
        if self.spec != KeySpec::SymmetricDefault {
            return Err(self.unsupported("open"));
        }
        Ok(crypto::open(self.key.expose_secret(), aad, sealed)?)
    }

    fn backend_name(&self) -> &'static str {
        NAME
    }
}

/// The length of material of `spec`, where it is fixed.
fn material_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::SymmetricDefault => Some(crate::secret::SYMMETRIC_KEY_LEN),
        KeySpec::Hmac224 => Some(28),
        KeySpec::Hmac256 => Some(32),
        KeySpec::Hmac384 => Some(48),
        KeySpec::Hmac512 => Some(64),
        // Private keys (PKCS#8) vary in length.
        _ => None,
    }
}

/// Additional data binding sealed material to its key id and version.
fn material_aad(id: &KeyId, version: u32) -> [u8; 16 + 17 + 4] {
    let mut aad = [0u8; 16 + 17 + 4];
    aad[..16].copy_from_slice(MATERIAL_AAD_LABEL);
    aad[16..33].copy_from_slice(&id.storage_key());
    aad[33..].copy_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MaterialState;

    fn backend(b: u8) -> LocalBackend {
        LocalBackend::new(RootKey::from_slice(&[b; 32]).expect("32 bytes"))
    }

    #[test]
    fn aad_keeps_the_v1_label_and_layout() {
        let id = KeyId::new_random();
        let aad = material_aad(&id, 7);
        assert_eq!(&aad[..16], b"kmsd/material/v1");
        assert_eq!(&aad[16..33], &id.storage_key());
        assert_eq!(&aad[33..], &7u32.to_be_bytes());
    }

    #[test]
    fn generated_material_round_trips_through_a_handle() {
        let be = backend(1);
        let id = KeyId::new_random();
        let rec = be
            .generate(&id, 1, KeySpec::SymmetricDefault, 123)
            .expect("generate");
        assert_eq!(rec.version, 1);
        assert_eq!(rec.created_ms, 123);
        assert_eq!(rec.state, MaterialState::Current);
        assert_eq!(rec.origin, MaterialOrigin::Generated);
        assert_eq!(rec.material_id, crate::model::ids::key_material_id(&id, 1));
        let h = be.load(&id, &rec).expect("load");
        assert_eq!(h.spec(), KeySpec::SymmetricDefault);
        let mut sealed = Vec::new();
        h.seal_into(&[6u8; SALT_LEN], b"aad", b"secret", &mut sealed)
            .expect("seal");
        assert_eq!(
            h.open(&[6u8; SALT_LEN], b"aad", &sealed)
                .expect("open")
                .expose_secret(),
            b"secret"
        );
        // A second load of the same record is the same key.
        let h2 = be.load(&id, &rec).expect("load");
        assert_eq!(
            h2.open(&[6u8; SALT_LEN], b"aad", &sealed)
                .expect("open")
                .expose_secret(),
            b"secret"
        );
        assert_eq!(be.unseal(&id, &rec).expect("unseal").len(), 32);
    }

    #[test]
    fn tampered_sealed_data_fails_opaquely() {
        let be = backend(1);
        let id = KeyId::new_random();
        let h = be
            .load(
                &id,
                &be.generate(&id, 1, KeySpec::SymmetricDefault, 0)
                    .expect("generate"),
            )
            .expect("load");
        let mut sealed = Vec::new();
        h.seal_into(&[6u8; SALT_LEN], b"aad", b"secret", &mut sealed)
            .expect("seal");
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(
                matches!(
                    h.open(&[6u8; SALT_LEN], b"aad", &t),
                    Err(BackendError::Crypto(_))
                ),
                "byte {i}"
            );
        }
        assert!(h.open(&[6u8; SALT_LEN], b"aaD", &sealed).is_err());
    }

    #[test]
    fn a_record_opens_only_for_its_key_version_and_root() {
        let be = backend(1);
        let (id, other) = (KeyId::new_random(), KeyId::new_random());
        let rec = be
            .generate(&id, 2, KeySpec::SymmetricDefault, 0)
            .expect("generate");
        let corrupt = |r: Result<Arc<dyn MaterialHandle>, BackendError>| {
            matches!(r, Err(BackendError::CorruptRecord { .. }))
        };
        // Another key id: the AAD differs.
        assert!(corrupt(be.load(&other, &rec)));
        // Another version number in the record.
        let mut moved = rec.clone();
        moved.version = 3;
        assert!(corrupt(be.load(&id, &moved)));
        // Another root key.
        assert!(corrupt(backend(2).load(&id, &rec)));
        // A flipped bit of the sealed blob.
        let MaterialLocation::Local { sealed } = &rec.location else {
            panic!("local record")
        };
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[20] ^= 1;
        let mut flipped = rec.clone();
        flipped.location = MaterialLocation::Local {
            sealed: SealedBlob::new(bytes),
        };
        assert!(corrupt(be.load(&id, &flipped)));
        // A spec whose length does not match the material.
        let mut respec = rec.clone();
        respec.spec = KeySpec::Hmac512;
        assert!(corrupt(be.load(&id, &respec)));
        // Not a local record at all.
        let mut hsm = rec.clone();
        hsm.location = MaterialLocation::Absent;
        assert!(corrupt(be.load(&id, &hsm)));
        // The untouched record still loads.
        assert!(be.load(&id, &rec).is_ok());
    }

    #[test]
    fn generation_is_fresh_and_limited_to_symmetric_keys() {
        let be = backend(1);
        let id = KeyId::new_random();
        let a = be
            .generate(&id, 1, KeySpec::SymmetricDefault, 0)
            .expect("generate");
        let b = be
            .generate(&id, 1, KeySpec::SymmetricDefault, 0)
            .expect("generate");
        assert_ne!(
            be.unseal(&id, &a).expect("a").expose_secret(),
            be.unseal(&id, &b).expect("b").expose_secret()
        );
        assert!(matches!(
            be.generate(&id, 1, KeySpec::Rsa2048, 0),
            Err(BackendError::Unsupported {
                operation: "generate",
                ..
            })
        ));
    }

    #[test]
    fn non_aes_material_seals_nothing() {
        // An HMAC key loaded from a record (as import will make them): the
        // AEAD operations refuse, they do not treat it as an AES key.
        let h = LocalHandle {
            spec: KeySpec::Hmac256,
            key: KeyMaterial::from_slice(&[5u8; 32]).expect("32 bytes"),
        };
        let mut out = Vec::new();
        assert!(matches!(
            h.seal_into(&[6u8; SALT_LEN], b"", b"x", &mut out),
            Err(BackendError::Unsupported {
                operation: "seal",
                ..
            })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn service_keys_come_from_the_root_key() {
        let a = backend(1).derive_service_key("kmsd/grant-token/v1");
        let b = backend(1).derive_service_key("kmsd/grant-token/v1");
        let c = backend(2).derive_service_key("kmsd/grant-token/v1");
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), c.expose_secret());
    }
}
