//! AES-256-GCM as hsm-sim uses it everywhere: key material sealed under the
//! node's master key (at rest) or under the cluster key (between nodes),
//! and the key operations clients ask for.
//!
//! The output format is always `nonce (12) || ciphertext || tag (16)`, with
//! a fresh random nonce chosen here (never by a caller). A failed open is
//! opaque: [`OpenError`] says nothing about why.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::secret::Secret32;

/// Nonce length.
pub const NONCE_LEN: usize = 12;
/// Tag length.
pub const TAG_LEN: usize = 16;

/// A failed AEAD operation (authentication failure, malformed input, or no
/// randomness); deliberately without detail.
#[derive(Debug, thiserror::Error)]
#[error("AES-GCM operation failed")]
pub struct OpenError;

/// An expanded AES-256-GCM key (round keys and GHASH key, wiped on drop:
/// the workspace turns on the `zeroize` features of aes and polyval).
pub struct AeadKey(Aes256Gcm);

impl AeadKey {
    /// Expands `key` once, so each operation does not re-run the key
    /// schedule.
    pub fn new(key: &Secret32) -> Self {
        Self(Aes256Gcm::new(key.expose_secret().into()))
    }

    /// `nonce || ct || tag` of `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| OpenError)?;
        let ct = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| OpenError)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens `nonce || ct || tag`; the plaintext in a wiping buffer.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| OpenError)
    }

    /// Opens a sealed 256-bit key.
    pub fn open_key(&self, sealed: &[u8], aad: &[u8]) -> Result<Secret32, OpenError> {
        let pt = self.open(sealed, aad)?;
        Secret32::from_slice(&pt).ok_or(OpenError)
    }
}

/// The additional data binding a sealed copy of a key to its cluster and
/// handle: `cluster_id || handle` (the handle has a fixed length, 32 hex
/// digits, so the split is unambiguous).
pub fn key_aad(cluster_id: &str, handle: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(cluster_id.len() + handle.len());
    aad.extend_from_slice(cluster_id.as_bytes());
    aad.extend_from_slice(handle.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let k = AeadKey::new(&Secret32::random().unwrap());
        let ct = k.seal(b"hello", b"aad").unwrap();
        assert_eq!(ct.len(), NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(&k.open(&ct, b"aad").unwrap()[..], b"hello");
        assert!(k.open(&ct, b"other").is_err());
        let mut bad = ct.clone();
        bad[NONCE_LEN] ^= 1;
        assert!(k.open(&bad, b"aad").is_err());
        assert!(k.open(&ct[..NONCE_LEN + TAG_LEN - 1], b"aad").is_err());
        // Fresh nonces: two seals of the same input differ.
        assert_ne!(ct, k.seal(b"hello", b"aad").unwrap());
    }
}
