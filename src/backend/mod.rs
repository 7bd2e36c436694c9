//! Key-material backends: where the material of KMS keys lives and who
//! performs operations with it.
//!
//! The core (`kms/`) sees material only through two traits, the way
//! rustls's `CryptoProvider` keeps crypto libraries behind one:
//!
//! - [`MaterialBackend`] makes new material versions and loads stored ones.
//!   What it hands back to be stored is a [`MaterialVersion`] record whose
//!   location (a sealed blob, an HSM reference) only that backend
//!   understands; the store keeps it without knowing what is inside.
//! - [`MaterialHandle`] is one loaded material version, performing the
//!   operations the core needs: AEAD seal/open for symmetric keys (under
//!   a key derived per blob from the material and a salt), sign, RSA
//!   decrypt, MAC, key agreement and decapsulation, each typed by the
//!   core's algorithm enums, and the public key of asymmetric material.
//!   Every method has a default answering [`BackendError::Unsupported`],
//!   so a handle implements what its material does. Private bytes never
//!   cross this interface: a backend that holds material in an HSM
//!   implements the same methods by calling the HSM.
//!
//! [`local::LocalBackend`] (material sealed under a key derived from the
//! root key, held in process memory once loaded) is the only backend so
//! far. [`root`] holds what belongs to the root key itself: the check value
//! that detects a wrong root key, and derivation of kmsd's own keys.

pub mod hsm;
pub mod local;
pub mod root;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::crypto::{CryptoError, SALT_LEN};
use crate::model::{
    EncryptionAlgorithm, KeyId, KeySpec, MacAlgorithm, MaterialVersion, MessageType, SealedBlob,
    SigningAlgorithm,
};
use crate::secret::{KeyMaterial, Plaintext};
use crate::store::StoreError;

pub use local::LocalBackend;

/// The `seal_secret` label of an import's wrapping private key
/// (`ImportParameters::sealed_private_key`).
pub const WRAPPING_KEY_LABEL: &str = "kmsd/import-wrapping-key/v1";
/// The `seal_secret` label of the Region's replication private key
/// (docs/multi-region.md, "Wire protection of material").
pub const REGION_KEY_LABEL: &str = "replication-region-key";
/// The `seal_secret` label of an EXTERNAL multi-Region key's KeyMaterialId
/// secret (bound to that key's id).
pub const MATERIAL_ID_SECRET_LABEL: &str = "mrk-material-id-key";
/// The key id a Region key is sealed under: it belongs to no KMS key, so
/// this fixed id (all zero, never a generated key's) with the label is
/// its binding.
pub const REGION_KEY_ID: KeyId = KeyId::from_parts(false, [0; 16]);

/// A failure of a backend. Carries no secret and no detail of why a
/// cryptographic operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// A cryptographic operation failed: authentication failed, the input
    /// was malformed, or the random generator failed. Deliberately opaque.
    #[error("key material operation failed: {0}")]
    Crypto(#[from] CryptoError),
    /// A stored material record cannot be used: it does not open under this
    /// backend for its key id and version, or its contents are malformed.
    #[error("corrupt key material record (version {version} of key {key_id})")]
    CorruptRecord {
        /// The key whose record it is.
        key_id: KeyId,
        /// The material version.
        version: u32,
    },
    /// The operation is not available for this material (its spec, its
    /// state, or this backend).
    #[error("{operation} is not supported for {spec} key material by the {backend} backend")]
    Unsupported {
        /// What was asked, e.g. `sign`.
        operation: &'static str,
        /// The material's spec.
        spec: KeySpec,
        /// The backend's name.
        backend: &'static str,
    },
    /// The configured root key is not the one the data directory was
    /// created with.
    #[error(
        "the root key does not match this data directory (wrong --root-key-file / KMSD_ROOT_KEY?)"
    )]
    WrongRootKey,
    /// A `kmsd rewrap` of this data directory was interrupted; it must be
    /// run again (with the same keys) before kmsd can open it.
    #[error("a rewrap of this data directory to a new root key was interrupted: run `kmsd rewrap` again with the same keys")]
    RewrapInProgress,
    /// `kmsd rewrap` was given another new root key than the one an
    /// unfinished rewrap of this data directory moves to.
    #[error("an unfinished rewrap of this data directory moves to another new root key: run it again with that key")]
    RewrapOtherTarget,
    /// The material is held outside this process (an HSM cluster) and
    /// could not be reached: the store is not connected, or no node of its
    /// cluster answered. Says which store; never why a crypto step failed.
    #[error("key material is unavailable: {0}")]
    Unavailable(String),
    /// Reading or writing the root key's check value failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Where key material lives, and the maker of new material versions.
///
/// Implementations are shared by every request (`Arc<dyn MaterialBackend>`)
/// and must be cheap to call concurrently. All methods may block (an HSM
/// round trip); the core calls `generate` and `load` on the blocking pool.
pub trait MaterialBackend: Send + Sync {
    /// A short name for messages and logs, e.g. `local`.
    fn name(&self) -> &'static str;

    /// Makes fresh material for version `version` of key `key_id`, of kind
    /// `spec`, at `now_ms`. The record it returns is what the store keeps;
    /// it is the current version.
    fn generate(
        &self,
        key_id: &KeyId,
        version: u32,
        spec: KeySpec,
        now_ms: i64,
    ) -> Result<MaterialVersion, BackendError>;

    /// Loads the stored `record` of key `key_id` into a handle. Fails with
    /// `CorruptRecord` when the record was not made by this backend for
    /// this key id and version.
    fn load(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<Arc<dyn MaterialHandle>, BackendError>;

    /// Takes imported `material` (already unwrapped and checked by the
    /// core: the stored encoding of `spec`) as version `version` of key
    /// `key_id`, with origin Imported, state Current, KeyMaterialId
    /// `material_id`, expiry `expires_ms` and `description`, held exactly as
    /// this backend holds generated material, so `load` opens it. The core
    /// sets the state (PendingRotation for a NEW material of a key that
    /// has one) on the record returned.
    #[allow(clippy::too_many_arguments)] // One record's fields; a struct would only rename them.
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
        let _ = (
            key_id,
            version,
            material,
            material_id,
            now_ms,
            expires_ms,
            description,
        );
        Err(BackendError::Unsupported {
            operation: "import",
            spec,
            backend: self.name(),
        })
    }

    /// The material of `record` of key `key_id`, in the clear, for one
    /// purpose only: sealing it (HPKE) to a peer Region that holds a
    /// replica of the key (`kms::replication`). A backend whose material
    /// never leaves it (an HSM) answers `Unsupported`, as by default.
    fn export_for_replication(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<KeyMaterial, BackendError> {
        let _ = key_id;
        Err(BackendError::Unsupported {
            operation: "export_for_replication",
            spec: record.spec,
            backend: self.name(),
        })
    }

    /// Seals `secret` (not KMS key material: e.g. an import's wrapping
    /// private key) for storage, bound to `label` and `key_id`: the blob
    /// opens only through [`MaterialBackend::open_secret`] with the same
    /// label and key id.
    fn seal_secret(
        &self,
        label: &str,
        key_id: &KeyId,
        secret: &[u8],
    ) -> Result<SealedBlob, BackendError> {
        let _ = (label, key_id, secret);
        Err(BackendError::Unsupported {
            operation: "seal_secret",
            spec: KeySpec::SymmetricDefault,
            backend: self.name(),
        })
    }

    /// Opens what [`MaterialBackend::seal_secret`] sealed for `label` and
    /// `key_id`; fails opaquely (as `Crypto`) for anything else.
    fn open_secret(
        &self,
        label: &str,
        key_id: &KeyId,
        sealed: &SealedBlob,
    ) -> Result<KeyMaterial, BackendError> {
        let _ = (label, key_id, sealed);
        Err(BackendError::Unsupported {
            operation: "open_secret",
            spec: KeySpec::SymmetricDefault,
            backend: self.name(),
        })
    }
}

/// What an asynchronous backend operation returns.
pub type BackendFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// The AEAD of symmetric material held outside this process (an HSM):
/// each call is a network round trip, so the core awaits it on the async
/// thread instead of calling [`MaterialHandle::seal_into`] /
/// [`MaterialHandle::open`], which would block.
///
/// The remote side seals directly under the material with AES-256-GCM and
/// a 96-bit nonce it draws itself (CloudHSM's AES-GCM offers no per-blob
/// key derivation); the blob's salt is still random and still bound in
/// `aad` (docs/hsm.md).
pub trait RemoteAead: Send + Sync {
    /// Seals `plaintext` with `aad`; returns `nonce || ciphertext || tag`.
    fn seal<'a>(&'a self, aad: &'a [u8], plaintext: &'a [u8]) -> BackendFuture<'a, Vec<u8>>;

    /// Opens `nonce || ciphertext || tag` with `aad`. An authentication
    /// failure is `Crypto` (opaque); an unreachable HSM is `Unavailable`.
    fn open<'a>(&'a self, aad: &'a [u8], sealed: &'a [u8]) -> BackendFuture<'a, Plaintext>;
}

/// One loaded material version. Cached by the core and shared across
/// requests, so every method takes `&self`.
pub trait MaterialHandle: Send + Sync {
    /// What the material is.
    fn spec(&self) -> KeySpec;

    /// AEAD-seals `plaintext` with `aad` under a key of its own, derived
    /// from this material and `salt` (a fresh random salt per blob, so no
    /// long-lived key seals more than one blob), appending
    /// `nonce || ciphertext || tag` to `out` (symmetric keys; ciphertext
    /// format v3). The local backend derives with HKDF-SHA256-Expand
    /// (`crypto::BlobKeys`); another backend must derive the same way
    /// inside its boundary, so blobs stay portable between backends
    /// holding the same material.
    fn seal_into(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), BackendError>;

    /// Opens what [`MaterialHandle::seal_into`] produced with the same
    /// `salt` and `aad` (symmetric keys, format v3). Fails opaquely.
    fn open(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError>;

    /// Opens `nonce || ciphertext || tag` sealed under the key of format
    /// v2 derived from the material and `salt` (HKDF-SHA256 extract then
    /// expand, `crypto::derive_blob_key_v2`; kmsd no longer seals that
    /// way) with `aad`. Fails opaquely. Only material that can predate
    /// format v3 (the local backend's) implements it.
    fn open_v2(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError> {
        let _ = (salt, aad, sealed);
        Err(self.unsupported("open_v2"))
    }

    /// Opens `nonce || ciphertext || tag` sealed directly under the
    /// material (ciphertext format v1, made before per-blob keys; kmsd no
    /// longer seals that way) with `aad`. Fails opaquely. As `open_v2`.
    fn open_v1(&self, aad: &[u8], sealed: &[u8]) -> Result<Plaintext, BackendError> {
        let _ = (aad, sealed);
        Err(self.unsupported("open_v1"))
    }

    /// Signs `message` (of `message_type`, already checked by the core
    /// against the algorithm) with `algorithm`. SIGN_VERIFY keys.
    fn sign(
        &self,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, BackendError> {
        let _ = (algorithm, message_type, message);
        Err(self.unsupported("sign"))
    }

    /// Decrypts an RSA-OAEP `ciphertext` with `algorithm`. Asymmetric
    /// ENCRYPT_DECRYPT keys; fails opaquely.
    fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Plaintext, BackendError> {
        let _ = (algorithm, ciphertext);
        Err(self.unsupported("decrypt"))
    }

    /// The MAC of `message` with `algorithm`. HMAC keys.
    fn mac(&self, algorithm: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, BackendError> {
        let _ = (algorithm, message);
        Err(self.unsupported("mac"))
    }

    /// Whether `mac` is the MAC of `message` with `algorithm`, compared
    /// in constant time. HMAC keys.
    fn verify_mac(
        &self,
        algorithm: MacAlgorithm,
        message: &[u8],
        mac: &[u8],
    ) -> Result<bool, BackendError> {
        let _ = (algorithm, message, mac);
        Err(self.unsupported("verify_mac"))
    }

    /// The ECDH shared secret with `peer_public_key` (DER
    /// SubjectPublicKeyInfo). KEY_AGREEMENT keys.
    fn derive_shared_secret(&self, peer_public_key: &[u8]) -> Result<Plaintext, BackendError> {
        let _ = peer_public_key;
        Err(self.unsupported("derive_shared_secret"))
    }

    /// The shared secret an ML-KEM `ciphertext` encapsulates.
    /// ENCAPSULATE_DECAPSULATE keys.
    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Plaintext, BackendError> {
        let _ = ciphertext;
        Err(self.unsupported("decapsulate"))
    }

    /// The public key (DER SubjectPublicKeyInfo) of asymmetric material;
    /// `None` for symmetric and HMAC material. Verify, asymmetric Encrypt
    /// and Encapsulate need only this, so the core performs them with it
    /// (public-key operations need no backend boundary).
    fn public_key(&self) -> Option<&[u8]> {
        None
    }

    /// `Some` for material held outside this process: the core then seals
    /// and opens blobs through it (awaiting the round trip) and never calls
    /// `seal_into` / `open` / `open_v1`.
    fn remote(&self) -> Option<&dyn RemoteAead> {
        None
    }

    /// The backend's name (for `Unsupported`).
    fn backend_name(&self) -> &'static str;

    /// The error for an operation this handle does not perform.
    fn unsupported(&self, operation: &'static str) -> BackendError {
        BackendError::Unsupported {
            operation,
            spec: self.spec(),
            backend: self.backend_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle that implements only what every handle must.
    struct Minimal;

    impl MaterialHandle for Minimal {
        fn spec(&self) -> KeySpec {
            KeySpec::Hmac256
        }
        fn seal_into(
            &self,
            _: &[u8; SALT_LEN],
            _: &[u8],
            _: &[u8],
            _: &mut Vec<u8>,
        ) -> Result<(), BackendError> {
            Err(self.unsupported("seal"))
        }
        fn open(&self, _: &[u8; SALT_LEN], _: &[u8], _: &[u8]) -> Result<Plaintext, BackendError> {
            Err(self.unsupported("open"))
        }
        fn backend_name(&self) -> &'static str {
            "test"
        }
    }

    #[test]
    fn later_operations_default_to_unsupported() {
        let h = Minimal;
        let is_unsupported = |e: BackendError, op: &str| matches!(e, BackendError::Unsupported { operation, spec: KeySpec::Hmac256, backend: "test" } if operation == op);
        assert!(is_unsupported(
            h.sign(SigningAlgorithm::EcdsaSha256, MessageType::Raw, b"m")
                .unwrap_err(),
            "sign"
        ));
        assert!(is_unsupported(
            h.decrypt(EncryptionAlgorithm::RsaesOaepSha256, b"c")
                .unwrap_err(),
            "decrypt"
        ));
        assert!(is_unsupported(
            h.mac(MacAlgorithm::HmacSha256, b"m").unwrap_err(),
            "mac"
        ));
        assert!(is_unsupported(
            h.verify_mac(MacAlgorithm::HmacSha256, b"m", b"t")
                .unwrap_err(),
            "verify_mac"
        ));
        assert!(is_unsupported(
            h.derive_shared_secret(b"pk").unwrap_err(),
            "derive_shared_secret"
        ));
        assert!(is_unsupported(
            h.decapsulate(b"c").unwrap_err(),
            "decapsulate"
        ));
        assert!(h.public_key().is_none());
        assert!(h.remote().is_none());
        let msg = h
            .mac(MacAlgorithm::HmacSha256, b"m")
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "mac is not supported for HMAC_256 key material by the test backend"
        );
    }
}
