//! The local backend: material generated from the OS CSPRNG (AES and HMAC
//! keys) or by `crypto::asymmetric` (private keys), stored sealed
//! (AES-256-GCM) under a key derived from the root key, and held unsealed
//! in process memory while loaded (private keys parsed once, at load).
//!
//! The sealed form is `nonce || ciphertext || tag` (see `crypto.rs`) with
//! additional data `"kmsd/material/v1" || key id (17) || version (4, BE)`,
//! so a sealed blob opens only as the version of the key it was made for:
//! a record copied to another key or version fails as `CorruptRecord`.

use std::sync::Arc;

use super::root::{check_root_key, derive_key, MATERIAL_SEALING};
use super::{BackendError, MaterialBackend, MaterialHandle};
use crate::crypto::asymmetric::PrivateKey;
use crate::crypto::{self, BlobKeys, CryptoError, SALT_LEN};
use crate::model::{
    EncryptionAlgorithm, KeyId, KeySpec, MacAlgorithm, MaterialLocation, MaterialOrigin,
    MaterialVersion, MessageType, SealedBlob, SigningAlgorithm,
};
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
    /// A key kmsd uses for its own purposes (e.g. authenticating grant
    /// tokens), derived deterministically from the root key under `label`
    /// so it is the same after a restart. Not KMS key material: the core
    /// holds these bytes. (The local backend's alone: an HSM-held store
    /// has no root key to derive from.)
    pub fn derive_service_key(&self, label: &str) -> KeyMaterial {
        derive_key(&self.root, label)
    }

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
        // Imported HMAC material may be longer than generated material
        // (AWS accepts a range per spec).
        let fits = match (record.origin, material_len(record.spec)) {
            (MaterialOrigin::Imported, _) => crate::model::import::raw_material_len(record.spec)
                .is_none_or(|(lo, hi)| (lo..=hi).contains(&material.len())),
            (_, Some(len)) => len == material.len(),
            (_, None) => true,
        };
        if fits {
            Ok(material)
        } else {
            Err(corrupt())
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
        let material = generate_material(spec)?;
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
        // Parsed once here, so a cached handle signs without re-reading
        // PKCS#8; the unsealed bytes are wiped when `key` drops.
        let material = Loaded::new(record.spec, key).map_err(|_| BackendError::CorruptRecord {
            key_id: *key_id,
            version: record.version,
        })?;
        Ok(Arc::new(LocalHandle {
            spec: record.spec,
            material,
        }))
    }

    fn import(
        &self,
        key_id: &KeyId,
        version: u32,
        spec: KeySpec,
        material: &KeyMaterial,
        material_id: String,
        now_ms: i64,
        expires_ms: Option<i64>,
        description: Option<String>,
    ) -> Result<MaterialVersion, BackendError> {
        // Sealed exactly as generated material (same key, same additional
        // data), so `load` and `kmsd rewrap` treat both alike.
        let sealed = crypto::seal(
            self.sealing_key.expose_secret(),
            &material_aad(key_id, version),
            material.expose_secret(),
        )?;
        let mut rec = MaterialVersion::new_current(
            key_id,
            version,
            spec,
            MaterialOrigin::Imported,
            now_ms,
            MaterialLocation::Local {
                sealed: SealedBlob::new(sealed),
            },
        );
        rec.material_id = material_id;
        rec.expires_ms = expires_ms;
        rec.description = description;
        Ok(rec)
    }

    fn export_for_replication(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<KeyMaterial, BackendError> {
        self.unseal(key_id, record)
    }

    fn seal_secret(
        &self,
        label: &str,
        key_id: &KeyId,
        secret: &[u8],
    ) -> Result<SealedBlob, BackendError> {
        Ok(SealedBlob::new(crypto::seal(
            self.sealing_key.expose_secret(),
            &secret_aad(label, key_id),
            secret,
        )?))
    }

    fn open_secret(
        &self,
        label: &str,
        key_id: &KeyId,
        sealed: &SealedBlob,
    ) -> Result<KeyMaterial, BackendError> {
        let pt = crypto::open(
            self.sealing_key.expose_secret(),
            &secret_aad(label, key_id),
            sealed.as_bytes(),
        )?;
        KeyMaterial::from_slice(pt.expose_secret()).ok_or(BackendError::Crypto(CryptoError::Open))
    }
}

impl LocalBackend {
    /// `sealed` (from [`MaterialBackend::seal_secret`] for `label` and
    /// `key_id`) resealed from this backend's root key to `to`'s (`kmsd
    /// rewrap`).
    pub fn reseal_secret_for(
        &self,
        label: &str,
        key_id: &KeyId,
        sealed: &SealedBlob,
        to: &LocalBackend,
    ) -> Result<SealedBlob, BackendError> {
        let secret = self.open_secret(label, key_id, sealed)?;
        to.seal_secret(label, key_id, secret.expose_secret())
    }
}

/// Label of the additional data of secrets sealed by `seal_secret`; as
/// long as [`MATERIAL_AAD_LABEL`] and different from it, so a sealed
/// secret never opens as material, nor material as a secret.
const SECRET_AAD_LABEL: &[u8; 16] = b"kmsd/secret/v1\0\0";

/// Additional data binding a sealed secret to its label and key id.
fn secret_aad(label: &str, id: &KeyId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + 2 + label.len() + 17);
    aad.extend_from_slice(SECRET_AAD_LABEL);
    // Length-prefixed, so no label can run into the key id.
    let len = u16::try_from(label.len()).unwrap_or(u16::MAX);
    aad.extend_from_slice(&len.to_be_bytes());
    aad.extend_from_slice(label.as_bytes());
    aad.extend_from_slice(&id.storage_key());
    aad
}

/// A handle over material the caller already holds in the clear (tests,
/// benchmarks; imported material, once unwrapped, later). Its operations
/// are the local backend's. Material that does not parse as its spec's
/// (a malformed private key) gives a handle that performs nothing.
pub fn handle_from_material(spec: KeySpec, material: KeyMaterial) -> Arc<dyn MaterialHandle> {
    let material = Loaded::new(spec, material).unwrap_or(Loaded::Unusable);
    Arc::new(LocalHandle { spec, material })
}

/// Fresh material of `spec`: AES and HMAC keys from the OS CSPRNG, private
/// keys in their stored encoding (PKCS#8 DER, or the FIPS 203/204 seed).
/// Slow for RSA (seconds): the core calls it off the async workers.
pub fn generate_material(spec: KeySpec) -> Result<KeyMaterial, BackendError> {
    match spec {
        KeySpec::SymmetricDefault => Ok(KeyMaterial::generate(crate::secret::SYMMETRIC_KEY_LEN)?),
        KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
            Ok(crypto::hmac::generate(spec)?)
        }
        _ if spec.is_offered() => Ok(crypto::asymmetric::generate(spec)?),
        _ => Err(BackendError::Unsupported {
            operation: "generate",
            spec,
            backend: NAME,
        }),
    }
}

/// Loaded material, in the form its operations use.
enum Loaded {
    /// An AES-256 key (SYMMETRIC_DEFAULT), with its blob-key states
    /// computed once at load (the data-key path derives a key per blob).
    Aes {
        key: KeyMaterial,
        blob_keys: BlobKeys,
    },
    /// An HMAC key.
    Hmac(KeyMaterial),
    /// A parsed private key (asymmetric specs); boxed, as it is large.
    Private(Box<PrivateKey>),
    /// Material a caller handed in that does not parse (tests only).
    Unusable,
}

impl Loaded {
    fn new(spec: KeySpec, key: KeyMaterial) -> Result<Self, CryptoError> {
        Ok(match spec {
            KeySpec::SymmetricDefault => Loaded::Aes {
                blob_keys: BlobKeys::new(key.expose_secret())?,
                key,
            },
            KeySpec::Hmac224 | KeySpec::Hmac256 | KeySpec::Hmac384 | KeySpec::Hmac512 => {
                Loaded::Hmac(key)
            }
            _ => Loaded::Private(Box::new(PrivateKey::from_material(
                spec,
                key.expose_secret(),
            )?)),
        })
    }
}

/// One unsealed material version in memory.
struct LocalHandle {
    spec: KeySpec,
    material: Loaded,
}

impl LocalHandle {
    fn aes(&self, operation: &'static str) -> Result<&[u8], BackendError> {
        match &self.material {
            Loaded::Aes { key, .. } => Ok(key.expose_secret()),
            _ => Err(self.unsupported(operation)),
        }
    }

    fn blob_keys(&self, operation: &'static str) -> Result<&BlobKeys, BackendError> {
        match &self.material {
            Loaded::Aes { blob_keys, .. } => Ok(blob_keys),
            _ => Err(self.unsupported(operation)),
        }
    }

    fn hmac(&self, operation: &'static str) -> Result<&[u8], BackendError> {
        match &self.material {
            Loaded::Hmac(k) => Ok(k.expose_secret()),
            _ => Err(self.unsupported(operation)),
        }
    }

    fn private(&self, operation: &'static str) -> Result<&PrivateKey, BackendError> {
        match &self.material {
            Loaded::Private(k) => Ok(k),
            _ => Err(self.unsupported(operation)),
        }
    }
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
        // The hot path: two SHA-256 compressions and one AES key schedule
        // per call, and no allocation beyond `out`.
        Ok(self
            .blob_keys("seal")?
            .seal_into(salt, aad, plaintext, out)?)
    }

    fn open(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError> {
        Ok(self.blob_keys("open")?.open(salt, aad, sealed)?)
    }

    fn open_v2(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError> {
        let key = self.aes("open")?;
        Ok(crypto::open_derived_v2(key, salt, aad, sealed)?)
    }

    fn open_v1(&self, aad: &[u8], sealed: &[u8]) -> Result<Plaintext, BackendError> {
        let key = self.aes("open")?;
        Ok(crypto::open(key, aad, sealed)?)
    }

    fn sign(
        &self,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, BackendError> {
        Ok(self
            .private("sign")?
            .sign(algorithm, message_type, message)?)
    }

    fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Plaintext, BackendError> {
        Ok(self.private("decrypt")?.decrypt(algorithm, ciphertext)?)
    }

    fn mac(&self, algorithm: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, BackendError> {
        Ok(crypto::hmac::mac(algorithm, self.hmac("mac")?, message)?)
    }

    fn verify_mac(
        &self,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, BackendError> {
        Ok(crypto::hmac::verify_mac(
            algorithm,
            self.hmac("verify_mac")?,
            message,
            mac,
        )?)
    }

    fn derive_shared_secret(&self, peer_public_key: &[u8]) -> Result<Plaintext, BackendError> {
        Ok(self
            .private("derive_shared_secret")?
            .derive_shared_secret(peer_public_key)?)
    }

    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Plaintext, BackendError> {
        Ok(self.private("decapsulate")?.decapsulate(ciphertext)?)
    }

    fn public_key(&self) -> Option<&[u8]> {
        match &self.material {
            Loaded::Private(k) => Some(k.public_key_der()),
            _ => None,
        }
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
    fn imported_material_is_sealed_like_generated_and_loads() {
        let be = backend(1);
        let id = KeyId::new_random();
        // HMAC_256 material longer than the digest, as AWS accepts it.
        let m = KeyMaterial::from_slice(&[0x5a; 48]).expect("material");
        let rec = be
            .import(
                &id,
                2,
                KeySpec::Hmac256,
                &m,
                "ab".repeat(32),
                5,
                Some(99),
                Some("d".into()),
            )
            .expect("import");
        assert_eq!(rec.origin, MaterialOrigin::Imported);
        assert_eq!(rec.material_id, "ab".repeat(32));
        assert_eq!(
            (rec.expires_ms, rec.description.as_deref()),
            (Some(99), Some("d"))
        );
        assert_eq!(
            be.unseal(&id, &rec).expect("unseal").expose_secret(),
            &[0x5a; 48]
        );
        let h = be.load(&id, &rec).expect("load");
        assert_eq!(h.spec(), KeySpec::Hmac256);
        // Bound to its key and version as generated material is.
        assert!(be.load(&KeyId::new_random(), &rec).is_err());
        let mut moved = rec.clone();
        moved.version = 3;
        assert!(be.load(&id, &moved).is_err());
        // Imported material outside AWS's range for the spec is corrupt.
        let short = KeyMaterial::from_slice(&[1; 16]).expect("material");
        let rec = be
            .import(&id, 1, KeySpec::Hmac256, &short, "x".into(), 0, None, None)
            .expect("import");
        assert!(be.load(&id, &rec).is_err());
    }

    #[test]
    fn sealed_secrets_open_only_for_their_label_and_key() {
        let (be, other_root) = (backend(1), backend(2));
        let (id, other) = (KeyId::new_random(), KeyId::new_random());
        let sealed = be
            .seal_secret("label/a", &id, b"wrapping key")
            .expect("seal");
        assert!(!sealed
            .as_bytes()
            .windows(b"wrapping key".len())
            .any(|w| w == b"wrapping key"));
        assert_eq!(
            be.open_secret("label/a", &id, &sealed)
                .expect("open")
                .expose_secret(),
            b"wrapping key"
        );
        assert!(be.open_secret("label/b", &id, &sealed).is_err());
        assert!(be.open_secret("label/a", &other, &sealed).is_err());
        assert!(other_root.open_secret("label/a", &id, &sealed).is_err());
        // A sealed secret is no material record, and vice versa.
        let mut rec = be
            .generate(&id, 1, KeySpec::SymmetricDefault, 0)
            .expect("gen");
        rec.location = MaterialLocation::Local {
            sealed: sealed.clone(),
        };
        assert!(be.load(&id, &rec).is_err());
        // Rewrap moves it to another root key.
        let moved = be
            .reseal_secret_for("label/a", &id, &sealed, &other_root)
            .expect("reseal");
        assert_eq!(
            other_root
                .open_secret("label/a", &id, &moved)
                .expect("open")
                .expose_secret(),
            b"wrapping key"
        );
    }

    #[test]
    fn generation_is_fresh_and_refuses_sm2() {
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
            be.generate(&id, 1, KeySpec::Sm2, 0),
            Err(BackendError::Unsupported {
                operation: "generate",
                ..
            })
        ));
    }

    #[test]
    fn every_offered_spec_generates_and_loads() {
        let be = backend(1);
        let id = KeyId::new_random();
        // RSA_3072/4096 are RSA_2048's code path, and slow in debug builds.
        let specs = KeySpec::ALL
            .iter()
            .filter(|s| s.is_offered() && !matches!(s, KeySpec::Rsa3072 | KeySpec::Rsa4096));
        for spec in specs {
            let rec = be.generate(&id, 1, *spec, 0).expect("generate");
            let h = be.load(&id, &rec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(h.spec(), *spec);
            assert_eq!(h.public_key().is_some(), spec.is_asymmetric(), "{spec}");
            // The sealed record holds no plaintext copy of the material.
            let MaterialLocation::Local { sealed } = &rec.location else {
                panic!("local record")
            };
            let raw = be.unseal(&id, &rec).expect("unseal");
            assert!(!sealed
                .as_bytes()
                .windows(raw.len().min(16))
                .any(|w| w == &raw.expose_secret()[..raw.len().min(16)]));
        }
    }

    #[test]
    fn a_handle_performs_only_its_materials_operations() {
        let be = backend(1);
        let id = KeyId::new_random();
        let load = |spec| {
            be.load(&id, &be.generate(&id, 1, spec, 0).expect("generate"))
                .expect("load")
        };
        let hmac = load(KeySpec::Hmac256);
        let tag = hmac.mac(MacAlgorithm::HmacSha256, b"m").expect("mac");
        assert!(hmac
            .verify_mac(MacAlgorithm::HmacSha256, b"m", &tag)
            .expect("verify"));
        assert!(!hmac
            .verify_mac(MacAlgorithm::HmacSha256, b"n", &tag)
            .expect("verify"));
        assert!(matches!(
            hmac.sign(SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m"),
            Err(BackendError::Unsupported { .. })
        ));
        let ecc = load(KeySpec::EccNistP256);
        let sig = ecc
            .sign(SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m")
            .expect("sign");
        assert!(crypto::asymmetric::verify(
            KeySpec::EccNistP256,
            ecc.public_key().expect("public key"),
            SigningAlgorithm::EcdsaSha256,
            MessageType::Raw,
            b"m",
            &sig
        )
        .expect("verify"));
        let mut out = Vec::new();
        assert!(matches!(
            ecc.seal_into(&[0; SALT_LEN], b"", b"x", &mut out),
            Err(BackendError::Unsupported { .. })
        ));
        assert!(matches!(
            ecc.mac(MacAlgorithm::HmacSha256, b"m"),
            Err(BackendError::Unsupported { .. })
        ));
    }

    #[test]
    fn non_aes_material_seals_nothing() {
        // An HMAC key loaded from a record (as import will make them): the
        // AEAD operations refuse, they do not treat it as an AES key.
        let h = handle_from_material(
            KeySpec::Hmac256,
            KeyMaterial::from_slice(&[5u8; 32]).expect("32 bytes"),
        );
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
