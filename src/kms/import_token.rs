//! Import tokens (GetParametersForImport → ImportKeyMaterial): opaque to
//! clients, authenticated and encrypted by kmsd under a service key
//! derived from the root key, binding the key, its account, the set of
//! import parameters, the wrapping algorithm and key spec, and the expiry.
//!
//! Format (version 1): `b"KIT1"` || 12-byte random nonce || AES-256-GCM
//! (ring) of the claims as compact JSON, with the magic as associated
//! data, so a later format cannot be opened as this one. The claims are
//! not secret from kmsd, only from clients, who must not forge or read
//! them. The token key is a service key the core derives from the root key
//! under [`TOKEN_KEY_LABEL`]; random 96-bit nonces under that one key are
//! safe far beyond any plausible number of GetParametersForImport calls
//! (NIST's bound is 2^32 seals per key).

use ring::aead;
use serde::{Deserialize, Serialize};

use crate::crypto::CryptoError;
use crate::model::{KeyId, WrappingAlgorithm, WrappingKeySpec};
use crate::secret::KeyMaterial;

/// The service-key label the core derives the token key under
/// (`MaterialBackend::derive_service_key`).
pub const TOKEN_KEY_LABEL: &str = "kmsd/import-token/v1";
/// The service-key label of the key that names imported material
/// ([`imported_material_id`]).
pub const MATERIAL_ID_KEY_LABEL: &str = "kmsd/imported-material-id/v1";
/// `seal_secret` label of a multi-Region EXTERNAL key's own KeyMaterialId
/// secret (`MultiRegionState::material_id_key`).
pub const MR_MATERIAL_ID_KEY_LABEL: &str = "kmsd/mrk-material-id/v1";
/// Length of that secret.
pub const MR_MATERIAL_ID_KEY_LEN: usize = 32;

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

/// The format's magic and version; also the AEAD's associated data.
const MAGIC: &[u8; 4] = b"KIT1";
/// AES-GCM nonce length.
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// AWS's maximum ImportToken length (GetParametersForImport). Tokens kmsd
/// makes are far shorter (about 250 bytes); the bound keeps `open_token`
/// from decrypting arbitrarily large input.
pub const MAX_TOKEN_LEN: usize = 6144;

/// The claims as serialised inside a token: short field names (tokens
/// travel in every ImportKeyMaterial), enums in their AWS spelling, and no
/// unknown field accepted.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaims {
    k: String,
    a: String,
    p: String,
    w: String,
    s: String,
    e: i64,
}

fn aead_key(key: &KeyMaterial) -> Option<aead::LessSafeKey> {
    // `UnboundKey::new` refuses any length but 32 bytes.
    let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, key.expose_secret()).ok()?;
    Some(aead::LessSafeKey::new(unbound))
}

/// Seals `claims` into a token under `key` (32 bytes).
pub fn seal_token(key: &KeyMaterial, claims: &TokenClaims) -> Result<Vec<u8>, CryptoError> {
    let aead_key = aead_key(key).ok_or(CryptoError::InvalidInput(
        "the import-token key must be 32 bytes",
    ))?;
    let wire = WireClaims {
        k: claims.key_id.to_string(),
        a: claims.account.clone(),
        p: claims.params_id.clone(),
        w: claims.wrapping_algorithm.as_aws_str().to_owned(),
        s: claims.wrapping_key_spec.as_aws_str().to_owned(),
        e: claims.expires_ms,
    };
    let mut body = serde_json::to_vec(&wire).map_err(|_| CryptoError::Seal)?;
    let mut nonce = [0u8; NONCE_LEN];
    crate::crypto::fill_random(&mut nonce)?;
    aead_key
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(MAGIC),
            &mut body,
        )
        .map_err(|_| CryptoError::Seal)?;
    let mut token = Vec::with_capacity(MAGIC.len() + NONCE_LEN + body.len());
    token.extend_from_slice(MAGIC);
    token.extend_from_slice(&nonce);
    token.extend_from_slice(&body);
    // Claims come from kmsd itself (ids, an account, enums), so this holds
    // unless a caller passes absurd strings; refuse rather than hand out a
    // token AWS clients would not accept.
    if token.len() > MAX_TOKEN_LEN {
        return Err(CryptoError::Seal);
    }
    Ok(token)
}

/// Opens a token sealed by [`seal_token`] under `key`; `None` for anything
/// else (tampered, truncated, another key, another format version). Never
/// panics on any input.
pub fn open_token(key: &KeyMaterial, token: &[u8]) -> Option<TokenClaims> {
    if token.len() < MAGIC.len() + NONCE_LEN + TAG_LEN || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (magic, rest) = token.split_at(MAGIC.len());
    if magic != MAGIC {
        return None;
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
    let aead_key = aead_key(key)?;
    let mut buf = sealed.to_vec();
    let plain = aead_key
        .open_in_place(nonce, aead::Aad::from(MAGIC), &mut buf)
        .ok()?;
    // Authenticated: only kmsd could have written this, but parse it as
    // carefully as anything else.
    let wire: WireClaims = serde_json::from_slice(plain).ok()?;
    Some(TokenClaims {
        key_id: wire.k.parse().ok()?,
        account: wire.a,
        params_id: wire.p,
        wrapping_algorithm: WrappingAlgorithm::from_aws_str(&wire.w)?,
        wrapping_key_spec: WrappingKeySpec::from_aws_str(&wire.s)?,
        expires_ms: wire.e,
    })
}

/// The KeyMaterialId of imported `material` for key `key_id`: 64 lowercase
/// hex digits of HMAC-SHA256 under `key` (32 bytes, derived under
/// [`MATERIAL_ID_KEY_LABEL`]) of the key id and the material. The same
/// material re-imported into the same key gets the same id, so comparing
/// ids (in constant time) tells whether a re-import is the key's material;
/// the id reveals nothing of the material without the root key.
///
/// The MAC input is `len(key id) || key id || len(material) || material`
/// (lengths as 8-byte big-endian), so no two (key id, material) pairs
/// share an input by moving bytes from one field to the other.
pub fn imported_material_id(key: &KeyMaterial, key_id: &KeyId, material: &[u8]) -> String {
    let mac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.expose_secret());
    let id = key_id.to_string();
    let mut ctx = ring::hmac::Context::with_key(&mac_key);
    ctx.update(&(id.len() as u64).to_be_bytes());
    ctx.update(id.as_bytes());
    ctx.update(&(material.len() as u64).to_be_bytes());
    ctx.update(material);
    hex::encode(ctx.sign().as_ref())
}

#[cfg(test)]
mod tests;
