//! The crypto of importing key material (BYOK): RSA wrapping key pairs,
//! unwrapping what a customer wrapped under their public half (RSA-OAEP
//! with SHA-1 or SHA-256, directly or of an ephemeral AES-256 key followed
//! by AES key wrap with padding, RFC 5649), and checking that unwrapped
//! material is what the key's spec takes.
//!
//! CONTRACT STUB (issue 13): bodies are filled in by the crypto helper.
//! Signatures are the contract with `kms::import`.

use super::CryptoError;
use crate::model::{KeySpec, WrappingAlgorithm, WrappingKeySpec};
use crate::secret::KeyMaterial;

/// A fresh RSA wrapping key pair.
pub struct WrappingKeyPair {
    /// The private key, PKCS#8 DER (sealed by the backend before storing).
    pub private_pkcs8: KeyMaterial,
    /// The public key, DER SubjectPublicKeyInfo (GetParametersForImport's
    /// PublicKey).
    pub public_spki: Vec<u8>,
}

/// Generates an RSA wrapping key pair of `spec` (RSA_2048/3072/4096;
/// SM2 is `Unsupported`). Slow (RSA_4096: about a second): callers run it
/// off the async workers.
pub fn generate_wrapping_key(spec: WrappingKeySpec) -> Result<WrappingKeyPair, CryptoError> {
    let _ = spec;
    Err(CryptoError::Unsupported)
}

/// Unwraps `encrypted` (ImportKeyMaterial's EncryptedKeyMaterial) with the
/// wrapping private key `private_pkcs8` of `spec`, under `alg`:
/// - RSAES_OAEP_SHA_1 / _256: RSA-OAEP (MGF1 with the same hash, empty
///   label) of the material; `encrypted` is exactly the modulus length.
/// - RSA_AES_KEY_WRAP_SHA_1 / _256: the first modulus-length bytes are
///   RSA-OAEP of a 32-byte AES key; the rest is the material under AES-256
///   key wrap with padding (RFC 5649).
///
/// Any failure (wrong length, OAEP or KWP integrity failure, an unwrapped
/// AES key that is not 32 bytes) is [`CryptoError::Open`], which the core
/// reports as InvalidCiphertextException; the reason is not told.
/// RSA decryption is constant-time (aws-lc-rs), never the `rsa` crate.
pub fn unwrap_key_material(
    private_pkcs8: &[u8],
    spec: WrappingKeySpec,
    alg: WrappingAlgorithm,
    encrypted: &[u8],
) -> Result<KeyMaterial, CryptoError> {
    let _ = (private_pkcs8, spec, alg, encrypted);
    Err(CryptoError::Unsupported)
}

/// Checks unwrapped `material` for a key of `spec` and returns it in the
/// form the local backend stores for that spec:
/// - SYMMETRIC_DEFAULT and HMAC: raw bytes whose length is in
///   `model::import::raw_material_len(spec)`, returned unchanged;
/// - RSA and ECC specs: a PKCS#8 DER private key of exactly `spec`
///   (modulus size, curve), that `asymmetric::PrivateKey::from_material`
///   accepts; returned in kmsd's stored encoding (PKCS#8 DER).
///
/// Material that does not fit is `InvalidInput` with a reason naming no
/// secret (the core answers ValidationException).
pub fn check_imported_material(
    spec: KeySpec,
    material: KeyMaterial,
) -> Result<KeyMaterial, CryptoError> {
    let _ = (spec, material);
    Err(CryptoError::Unsupported)
}
