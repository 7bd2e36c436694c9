//! Import tokens (GetParametersForImport → ImportKeyMaterial): opaque to
//! clients, authenticated and encrypted by kmsd under a service key
//! derived from the root key, binding the key, its account, the set of
//! import parameters, the wrapping algorithm and key spec, and the expiry.
//!
//! CONTRACT STUB (issue 13): bodies are filled in by the crypto helper.

use crate::crypto::CryptoError;
use crate::model::{KeyId, WrappingAlgorithm, WrappingKeySpec};
use crate::secret::KeyMaterial;

/// The service-key label the core derives the token key under
/// (`MaterialBackend::derive_service_key`).
pub const TOKEN_KEY_LABEL: &str = "kmsd/import-token/v1";
/// The service-key label of the key that names imported material
/// ([`imported_material_id`]).
pub const MATERIAL_ID_KEY_LABEL: &str = "kmsd/imported-material-id/v1";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The key the parameters are for.
    pub key_id: KeyId,
    /// The key's account.
    pub account: String,
    /// The parameter set's random id (`ImportParameters::params_id`).
    pub params_id: String,
    /// The wrapping algorithm chosen.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// The wrapping key spec chosen.
    pub wrapping_key_spec: WrappingKeySpec,
    /// When the parameters expire, Unix ms.
    pub expires_ms: i64,
}

/// Seals `claims` into a token under `key` (32 bytes).
pub fn seal_token(key: &KeyMaterial, claims: &TokenClaims) -> Result<Vec<u8>, CryptoError> {
    let _ = (key, claims);
    Err(CryptoError::Unsupported)
}

/// Opens a token sealed by [`seal_token`] under `key`; `None` for anything
/// else (tampered, truncated, another key, another format version). Never
/// panics on any input.
pub fn open_token(key: &KeyMaterial, token: &[u8]) -> Option<TokenClaims> {
    let _ = (key, token);
    None
}

/// The KeyMaterialId of imported `material` for key `key_id`: 64 lowercase
/// hex digits of HMAC-SHA256 under `key` (32 bytes, derived under
/// [`MATERIAL_ID_KEY_LABEL`]) of the key id and the material. The same
/// material re-imported into the same key gets the same id, so comparing
/// ids (in constant time) tells whether a re-import is the key's material;
/// the id reveals nothing of the material without the root key.
pub fn imported_material_id(key: &KeyMaterial, key_id: &KeyId, material: &[u8]) -> String {
    let _ = (key, key_id, material);
    String::new()
}
