//! Thin wrappers over the crypto crates, so the rest of kmsd never touches a
//! nonce or a cipher object directly.
//!
//! - AES-256-GCM (`aes-gcm`): [`seal`] draws a fresh random 96-bit nonce for
//!   every call (callers cannot supply one) and returns `nonce || ct || tag`;
//!   [`open`] fails opaquely.
//! - Per-blob keys ([`seal_derived_into`], [`open_derived`]): AES-256-GCM
//!   under `HKDF-SHA256(salt, key, "kmsd/blob-key/v2")` (`ring`), so a
//!   long-lived key never meets the GCM limit of 2^32 random nonces: each
//!   derived key seals one blob.
//! - Cipher instances are built, used and dropped inside one function; with
//!   the `zeroize` features of `aes`, `ghash` and `polyval` (Cargo.toml)
//!   their drop wipes the AES round keys and the GHASH key.
//! - Randomness (`ring::rand::SystemRandom`, the OS CSPRNG; small requests
//!   through a per-thread buffer, see [`fill_random`]).
//! - SHA-256 and HMAC-SHA-256 (`ring`), constant-time comparison (`subtle`).
//!
//! Submodules: [`asymmetric`] (RSA, ECDSA, ECDH, Ed25519, ML-DSA, ML-KEM:
//! generation, parsing, sign/verify, OAEP, key agreement, encapsulation)
//! and [`hmac`] (HMAC keys, MAC and constant-time verification). Which
//! library does what, and why: docs/security.md, "Crypto choices (issue 12)".

pub mod asymmetric;
pub mod hmac;
pub mod hpke;
mod rng;
pub mod wrapping;
#[cfg(test)]
mod wycheproof_tests;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::{BlobKey, Plaintext, SYMMETRIC_KEY_LEN};

/// Length of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of the random salt from which a per-blob key is derived.
pub const SALT_LEN: usize = 32;
/// HKDF `info` of per-blob keys: separates them from any other use of
/// HKDF with the same key.
const BLOB_KEY_INFO: &[u8] = b"kmsd/blob-key/v2";

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
    /// The input has the wrong shape for the key or algorithm (a digest of
    /// the wrong length, a plaintext too long, an algorithm not for this
    /// key spec, a malformed public key). The reason names no secret.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The key spec, algorithm or message type is not offered by kmsd.
    #[error("unsupported key spec or algorithm")]
    Unsupported,
    /// A stored private key did not parse (corrupt or of another spec).
    #[error("key material rejected")]
    KeyRejected,
    /// A private-key operation failed (sign, key agreement, key generation).
    #[error("private-key operation failed")]
    Operation,
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
///
/// Sealing directly under a long-lived key is for few seals per key (stored
/// material records under the sealing key); blobs use [`seal_derived_into`].
pub fn seal_into(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Seal)?;
    seal_with(&cipher, aad, plaintext, out)
}

/// Seals with `cipher`; the plaintext is copied into `out` only after room
/// for the whole result is reserved (no reallocation can leave a copy
/// behind) and is wiped again if encryption fails.
fn seal_with(
    cipher: &Aes256Gcm,
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    match cipher.encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..]) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(_) => {
            out[start..].zeroize();
            out.truncate(start - NONCE_LEN);
            Err(CryptoError::Seal)
        }
    }
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
    open_with(&cipher, aad, sealed)
}

fn open_with(cipher: &Aes256Gcm, aad: &[u8], sealed: &[u8]) -> Result<Plaintext, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
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

/// The per-blob key `HKDF-SHA256(salt, key, info = "kmsd/blob-key/v2")`
/// (RFC 5869; 32 bytes of output) of the AES-256 `key` (anything but 32
/// bytes fails as `Seal`).
///
/// Why HKDF with the salt as HKDF salt: the extract step is HMAC keyed by
/// the salt, a PRF whose output is uniform as long as `key` is secret, and
/// distinct random 256-bit salts give independent keys; the 2^32 bound of
/// SP 800-38D then applies per blob (one seal), and a birthday collision of
/// salts needs about 2^128 blobs.
pub fn derive_blob_key(key: &[u8], salt: &[u8; SALT_LEN]) -> Result<BlobKey, CryptoError> {
    let mut out = BlobKey::zeroed();
    derive_into(key, salt, out.expose_secret_mut())?;
    Ok(out)
}

fn derive_into(
    key: &[u8],
    salt: &[u8; SALT_LEN],
    out: &mut [u8; SYMMETRIC_KEY_LEN],
) -> Result<(), CryptoError> {
    use ring::hkdf;
    if key.len() != SYMMETRIC_KEY_LEN {
        return Err(CryptoError::Seal);
    }
    // ring's HMAC states (here keyed by the public salt, then by the
    // pseudorandom key) have no zeroize; they live on this stack frame.
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(key);
    prk.expand(&[BLOB_KEY_INFO], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out))
        .map_err(|_| CryptoError::Seal)
}

/// Runs `f` with the cipher of the per-blob key of `key` and `salt`. The
/// derived bytes are wiped as soon as the key schedule is built; the cipher
/// stays in this frame (lent to `f`, never moved out, so no copy of its
/// round keys is left behind by a move) and wipes itself on drop.
fn with_derived_cipher<T>(
    key: &[u8],
    salt: &[u8; SALT_LEN],
    f: impl FnOnce(&Aes256Gcm) -> Result<T, CryptoError>,
) -> Result<T, CryptoError> {
    let mut derived = Zeroizing::new([0u8; SYMMETRIC_KEY_LEN]);
    derive_into(key, salt, &mut derived)?;
    // From the slice: `new_from_slice` borrows it as the key array, where
    // `.into()` would leave an unwiped copy.
    let cipher = Aes256Gcm::new_from_slice(&derived[..]).map_err(|_| CryptoError::Seal)?;
    drop(derived);
    f(&cipher)
}

/// Encrypts `plaintext` under the per-blob key of `key` and `salt`
/// ([`derive_blob_key`]), appending `nonce || ciphertext || tag` to `out`.
/// One HKDF and one AES key schedule per call.
pub fn seal_derived_into(
    key: &[u8],
    salt: &[u8; SALT_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    with_derived_cipher(key, salt, |cipher| seal_with(cipher, aad, plaintext, out))
}

/// Opens what [`seal_derived_into`] produced with the same `key`, `salt`
/// and `aad`; fails opaquely (`Open`).
pub fn open_derived(
    key: &[u8],
    salt: &[u8; SALT_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Plaintext, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
    with_derived_cipher(key, salt, |cipher| open_with(cipher, aad, sealed))
        .map_err(|_| CryptoError::Open)
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
///
/// `ring::hmac::Key` has no zeroize: the key's inner and outer hash states
/// stay in this stack frame after the call (the caller's `key` bytes live in
/// a zeroizing type).
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
    fn item_09_aes_round_keys_are_wiped_on_drop() {
        // A compile-time check: `aes` implements `ZeroizeOnDrop` for its
        // ciphers only with its `zeroize` feature (Cargo.toml), which
        // `aes-gcm`'s feature of the same name does not turn on. Without
        // it, every Aes256Gcm built per call left its round keys (from
        // which the key follows) in freed memory.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<aes::Aes256>();
        wiped_on_drop::<aes::Aes256Enc>();
        wiped_on_drop::<aes::Aes128>();
    }

    #[test]
    fn item_08_derived_keys_seal_and_open_and_depend_on_key_and_salt() {
        let (s1, s2) = ([1u8; SALT_LEN], [2u8; SALT_LEN]);
        let mut sealed = Vec::new();
        seal_derived_into(&KEY, &s1, b"aad", b"hello", &mut sealed).expect("seal");
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        let opened = open_derived(&KEY, &s1, b"aad", &sealed).expect("open");
        assert_eq!(opened.expose_secret(), b"hello");
        // Another salt, key or aad; the key itself; one flipped bit.
        assert!(open_derived(&KEY, &s2, b"aad", &sealed).is_err());
        assert!(open_derived(&[8u8; 32], &s1, b"aad", &sealed).is_err());
        assert!(open_derived(&KEY, &s1, b"aaD", &sealed).is_err());
        assert!(open(&KEY, b"aad", &sealed).is_err());
        let mut salt = s1;
        salt[31] ^= 1;
        assert!(open_derived(&KEY, &salt, b"aad", &sealed).is_err());
        // Derivation is deterministic, and differs by salt and by key.
        let a = derive_blob_key(&KEY, &s1).expect("derive");
        assert_eq!(
            a.expose_secret(),
            derive_blob_key(&KEY, &s1).expect("derive").expose_secret()
        );
        assert_ne!(
            a.expose_secret(),
            derive_blob_key(&KEY, &s2).expect("derive").expose_secret()
        );
        assert_ne!(
            a.expose_secret(),
            derive_blob_key(&[8u8; 32], &s1)
                .expect("derive")
                .expose_secret()
        );
        assert_ne!(a.expose_secret(), &KEY);
        // Only AES-256 keys are derived from.
        assert_eq!(
            derive_blob_key(&KEY[..16], &s1).err(),
            Some(CryptoError::Seal)
        );
        let mut out = Vec::new();
        assert!(seal_derived_into(&KEY[..31], &s1, b"", b"x", &mut out).is_err());
        assert!(out.is_empty());
        assert!(open_derived(&KEY, &s1, b"aad", &sealed[..NONCE_LEN + TAG_LEN - 1]).is_err());
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
