//! Thin wrappers over the crypto crates, so the rest of kmsd never touches a
//! nonce or a cipher object directly.
//!
//! - AES-256-GCM (`aes-gcm`): [`seal`] draws a fresh random 96-bit nonce for
//!   every call (callers cannot supply one) and returns `nonce || ct || tag`;
//!   [`open`] fails opaquely.
//! - Randomness (`ring::rand::SystemRandom`, the OS CSPRNG; small requests
//!   through a per-thread buffer, see [`fill_random`]).
//! - SHA-256 and HMAC-SHA-256 (`ring`), constant-time comparison (`subtle`).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

use crate::secret::Plaintext;

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
///
/// Small requests (data keys, nonces) are served from a per-thread buffer
/// of OS randomness refilled [`POOL_LEN`] bytes at a time: a GenerateDataKey
/// needs 44 random bytes, and two `getrandom` system calls per call showed
/// as ~3% of kmsd's CPU in profiles. Every byte still comes from the OS
/// generator, is handed out once, and is zeroed in the buffer as it is
/// handed out (and the rest when the thread ends). kmsd never forks, so no
/// two processes can share a buffer.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    if buf.len() > POOL_LEN / 4 {
        return os_random(buf);
    }
    POOL.with_borrow_mut(|pool| {
        if pool.pos + buf.len() > POOL_LEN {
            os_random(&mut pool.bytes[..])?;
            pool.pos = 0;
        }
        let taken = &mut pool.bytes[pool.pos..pool.pos + buf.len()];
        buf.copy_from_slice(taken);
        taken.zeroize();
        pool.pos += buf.len();
        Ok(())
    })
}

fn os_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| CryptoError::Random)
}

/// Bytes of OS randomness fetched at once per thread.
const POOL_LEN: usize = 4096;

/// Unused OS randomness of one thread; `pos..` is unused, `..pos` zeroed.
struct RandomPool {
    bytes: Box<[u8; POOL_LEN]>,
    pos: usize,
}

impl Drop for RandomPool {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

thread_local! {
    // Starts exhausted: the first use fills it.
    static POOL: std::cell::RefCell<RandomPool> = std::cell::RefCell::new(RandomPool {
        bytes: Box::new([0; POOL_LEN]),
        pos: POOL_LEN,
    });
}

/// Encrypts `plaintext` under the AES-256 `key` with `aad`, appending
/// `nonce || ciphertext || tag` to `out`.
///
/// `key` is a slice because key material is variable-length; anything but
/// 32 bytes fails (`Seal`) rather than being used as some other cipher.
pub fn seal_into(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Seal)?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
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
pub fn seal(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    seal_into(key, aad, plaintext, &mut out)?;
    Ok(out)
}

/// Decrypts `nonce || ciphertext || tag` produced by [`seal`] (AES-256
/// `key`; any other length fails as `Open`).
pub fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Plaintext, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Open)?;
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
    // Decrypt inside a zeroizing holder so a failed open leaves nothing behind.
    let mut buf = Plaintext::new(ct.to_vec());
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

/// HMAC-SHA-256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
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
    fn pooled_randomness_never_repeats_and_zeroes_what_it_hands_out() {
        // Far more than one pool's worth, in data-key and nonce sizes, so
        // the pool refills several times.
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            let mut buf = vec![0u8; if i % 2 == 0 { 32 } else { 12 }];
            fill_random(&mut buf).unwrap();
            assert!(seen.insert(buf), "a random block repeated");
        }
        POOL.with_borrow(|pool| {
            assert!(pool.pos > 0 && pool.pos <= POOL_LEN);
            assert!(pool.bytes[..pool.pos].iter().all(|b| *b == 0));
        });
        // Large requests bypass the pool and still fill the whole buffer.
        let mut big = vec![0u8; POOL_LEN];
        fill_random(&mut big).unwrap();
        assert!(big.iter().filter(|b| **b == 0).count() < 64);
    }

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
    fn keys_other_than_aes_256_are_refused() {
        assert_eq!(seal(&[9u8; 16], b"", b"x").err(), Some(CryptoError::Seal));
        let sealed = seal(&KEY, b"", b"x").expect("seal");
        assert_eq!(
            open(&KEY[..31], b"", &sealed).err(),
            Some(CryptoError::Open)
        );
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
