//! Thin wrappers over the crypto crates, so the rest of kmsd never touches a
//! nonce or a cipher object directly.
//!
//! - AES-256-GCM (`aes-gcm`): [`seal`] draws a fresh random 96-bit nonce for
//!   every call (callers cannot supply one) and returns `nonce || ct || tag`;
//!   [`open`] fails opaquely.
//! - Randomness (`ring::rand::SystemRandom`, the OS CSPRNG).
//! - SHA-256 and HMAC-SHA-256 (`ring`), constant-time comparison (`subtle`).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::rand::{SecureRandom, SystemRandom};

use crate::secret::{Plaintext, SYMMETRIC_KEY_LEN};

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;

/// A crypto failure. Deliberately without detail: an AEAD failure must not
/// say why it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed or the input was malformed.
    #[error("decryption failed")]
    Open,
    /// Encryption failed (input too long for GCM).
    #[error("encryption failed")]
    Seal,
    /// The operating system's random generator failed.
    #[error("random generator failed")]
    Random,
}

/// Fills `buf` from the OS CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| CryptoError::Random)
}

/// Encrypts `plaintext` under `key` with `aad`, appending
/// `nonce || ciphertext || tag` to `out`.
pub fn seal_into(
    key: &[u8; SYMMETRIC_KEY_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let cipher = Aes256Gcm::new(key.into());
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..])
        .map_err(|_| CryptoError::Seal)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// [`seal_into`] a fresh vector.
pub fn seal(
    key: &[u8; SYMMETRIC_KEY_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    seal_into(key, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts `nonce || ciphertext || tag` produced by [`seal`].
pub fn open(
    key: &[u8; SYMMETRIC_KEY_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Plaintext, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    // Decrypt inside a zeroizing holder so a failed open leaves nothing behind.
    let mut buf = Plaintext::new(ct.to_vec());
    let cipher = Aes256Gcm::new(key.into());
    let result = cipher.decrypt_in_place_detached(
        Nonce::from_slice(nonce),
        aad,
        buf_mut(&mut buf),
        tag.into(),
    );
    match result {
        Ok(()) => Ok(buf),
        Err(_) => Err(CryptoError::Open),
    }
}

// `Plaintext` hands out only shared references; decryption in place needs a
// mutable one for the moment it is being filled.
fn buf_mut(p: &mut Plaintext) -> &mut [u8] {
    p.expose_secret_mut()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[&[u8]]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for d in data {
        ctx.update(d);
    }
    let digest = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [9u8; 32];

    #[test]
    fn seal_open_round_trip() {
        let sealed = seal(&KEY, b"aad", b"hello").expect("seal");
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        let opened = open(&KEY, b"aad", &sealed).expect("open");
        assert_eq!(opened.expose_secret(), b"hello");
    }

    #[test]
    fn open_fails_on_any_change() {
        let sealed = seal(&KEY, b"aad", b"hello").expect("seal");
        assert_eq!(open(&KEY, b"aaD", &sealed).err(), Some(CryptoError::Open));
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(open(&KEY, b"aad", &t).is_err(), "byte {i}");
        }
        assert!(open(&[8u8; 32], b"aad", &sealed).is_err());
        assert!(open(&KEY, b"aad", &sealed[..20]).is_err());
    }

    #[test]
    fn nonces_are_fresh() {
        let a = seal(&KEY, b"", b"x").expect("seal");
        let b = seal(&KEY, b"", b"x").expect("seal");
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
