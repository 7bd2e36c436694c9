//! Thin wrappers over the crypto crates, so the rest of kmsd never touches a
//! nonce or a cipher object directly.
//!
//! - AES-256-GCM (`aes-gcm`): [`seal`] draws a fresh random 96-bit nonce for
//!   every call (callers cannot supply one) and returns `nonce || ct || tag`;
//!   [`open`] fails opaquely.
//! - Per-blob keys ([`BlobKeys`]): AES-256-GCM under
//!   `HKDF-SHA256-Expand(key, "kmsd/blob-key/v3" ‖ salt)` (`hmac`/`sha2`,
//!   the HMAC states computed once per key), so a long-lived key never
//!   meets the GCM limit of 2^32 random nonces: each derived key seals one
//!   blob. Blobs of format v2 (`HKDF-SHA256(salt, key, "kmsd/blob-key/v2")`,
//!   `ring`) are still opened ([`open_derived_v2`]).
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
/// HKDF `info` of the per-blob keys of format v2: separates them from any
/// other use of HKDF with the same key.
const BLOB_KEY_INFO_V2: &[u8] = b"kmsd/blob-key/v2";
/// The same for format v3, where it is followed by the salt.
const BLOB_KEY_INFO_V3: &[u8] = b"kmsd/blob-key/v3";

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
/// material records under the sealing key); blobs use [`BlobKeys`].
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

/// The per-blob key of a ciphertext of format v2,
/// `HKDF-SHA256(salt, key, info = "kmsd/blob-key/v2")` (RFC 5869, extract
/// then expand; 32 bytes of output) of the AES-256 `key` (anything but 32
/// bytes fails as `Seal`). v2 blobs are still opened, no longer made
/// ([`BlobKeys`] derives the keys of v3).
pub fn derive_blob_key_v2(key: &[u8], salt: &[u8; SALT_LEN]) -> Result<BlobKey, CryptoError> {
    let mut out = BlobKey::zeroed();
    derive_v2_into(key, salt, out.expose_secret_mut())?;
    Ok(out)
}

fn derive_v2_into(
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
    prk.expand(&[BLOB_KEY_INFO_V2], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(out))
        .map_err(|_| CryptoError::Seal)
}

/// Opens the sealed part of a v2 blob (`nonce || ciphertext || tag`, under
/// [`derive_blob_key_v2`] of `key` and `salt`); fails opaquely (`Open`).
pub fn open_derived_v2(
    key: &[u8],
    salt: &[u8; SALT_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Plaintext, CryptoError> {
    open_under(|derived| derive_v2_into(key, salt, derived), aad, sealed)
}

/// The per-blob keys of one AES-256 material (ciphertext format v3): the
/// key of the blob with salt `s` is
/// `HKDF-SHA256-Expand(PRK = material, info = "kmsd/blob-key/v3" ‖ s, 32)`
/// (RFC 5869 §2.3), which is one `HMAC-SHA256(material, info ‖ 0x01)`.
///
/// Why expand only: HKDF's extract step turns input keying material into
/// a uniform key; the material already is one (256 random bits, generated
/// by kmsd or imported at exactly that size), and RFC 5869 §3.3 lets such
/// a key be the PRK directly. HMAC-SHA256 under it is a PRF, so distinct
/// random 256-bit salts give independent keys, each sealing one blob
/// (GCM's 2^32 bound then applies per blob; a salt collision needs about
/// 2^128 blobs). Why it matters: the HMAC's inner and outer states are
/// computed here once per loaded material, so a blob key costs two SHA-256
/// compressions, where v2's extract-then-expand cost three HMAC key
/// set-ups and six compressions per call (about 60% of sealing a data
/// key; docs/benchmarks.md).
///
/// The states are key-equivalent: they are wiped on drop (the `zeroize`
/// features of `sha2` and `hmac`, Cargo.toml), as is the per-call copy.
/// No `Debug`, no `Clone`.
pub struct BlobKeys(::hmac::Hmac<sha2::Sha256>);

impl BlobKeys {
    /// The blob keys of the AES-256 `key` (anything but 32 bytes fails as
    /// `Seal`).
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        use ::hmac::KeyInit;
        if key.len() != SYMMETRIC_KEY_LEN {
            return Err(CryptoError::Seal);
        }
        ::hmac::Hmac::new_from_slice(key)
            .map(Self)
            .map_err(|_| CryptoError::Seal)
    }

    fn derive_into(&self, salt: &[u8; SALT_LEN], out: &mut [u8; SYMMETRIC_KEY_LEN]) {
        use ::hmac::digest::FixedOutput;
        use ::hmac::Mac;
        let mut mac = self.0.clone();
        mac.update(BLOB_KEY_INFO_V3);
        mac.update(salt);
        mac.update(&[1]);
        // Straight into `out` (the caller's wiped buffer), no copy between.
        mac.finalize_into(out.into());
    }

    /// The key of the blob with `salt` (tests and tools; the hot path
    /// derives into a wiped stack buffer).
    pub fn derive(&self, salt: &[u8; SALT_LEN]) -> BlobKey {
        let mut out = BlobKey::zeroed();
        self.derive_into(salt, out.expose_secret_mut());
        out
    }

    /// Encrypts `plaintext` under the key of the blob with `salt`,
    /// appending `nonce || ciphertext || tag` to `out`. One blob-key
    /// derivation and one AES key schedule per call.
    pub fn seal_into(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        with_cipher(
            |derived| {
                self.derive_into(salt, derived);
                Ok(())
            },
            |cipher| seal_with(cipher, aad, plaintext, out),
        )
    }

    /// Opens what [`BlobKeys::seal_into`] produced with the same `salt`
    /// and `aad`; fails opaquely (`Open`).
    pub fn open(
        &self,
        salt: &[u8; SALT_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, CryptoError> {
        open_under(
            |derived| {
                self.derive_into(salt, derived);
                Ok(())
            },
            aad,
            sealed,
        )
    }
}

/// Opens `nonce || ciphertext || tag` under the per-blob key that
/// `derive` writes; fails opaquely (`Open`), a short `sealed` too.
fn open_under(
    derive: impl FnOnce(&mut [u8; SYMMETRIC_KEY_LEN]) -> Result<(), CryptoError>,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Plaintext, CryptoError> {
    with_cipher(derive, |cipher| open_with(cipher, aad, sealed)).map_err(|_| CryptoError::Open)
}

/// Runs `f` with the cipher of the per-blob key that `derive` writes into
/// a buffer of this frame. The derived bytes are wiped as soon as the key
/// schedule is built (before `f` runs); the cipher stays in this frame
/// (lent to `f`, never moved out, so no copy of its round keys is left
/// behind by a move) and wipes itself on drop.
fn with_cipher<T>(
    derive: impl FnOnce(&mut [u8; SYMMETRIC_KEY_LEN]) -> Result<(), CryptoError>,
    f: impl FnOnce(&Aes256Gcm) -> Result<T, CryptoError>,
) -> Result<T, CryptoError> {
    let mut derived = Zeroizing::new([0u8; SYMMETRIC_KEY_LEN]);
    derive(&mut derived)?;
    // From the slice: `new_from_slice` borrows it as the key array, where
    // `.into()` would leave an unwiped copy.
    let cipher = Aes256Gcm::new_from_slice(&derived[..]).map_err(|_| CryptoError::Seal)?;
    drop(derived);
    f(&cipher)
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
        let keys = BlobKeys::new(&KEY).expect("keys");
        let other_keys = BlobKeys::new(&[8u8; 32]).expect("keys");
        let mut sealed = Vec::new();
        keys.seal_into(&s1, b"aad", b"hello", &mut sealed)
            .expect("seal");
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        let opened = keys.open(&s1, b"aad", &sealed).expect("open");
        assert_eq!(opened.expose_secret(), b"hello");
        // Another salt, key or aad; the key itself; v2's derivation; one
        // flipped bit of the salt.
        assert!(keys.open(&s2, b"aad", &sealed).is_err());
        assert!(other_keys.open(&s1, b"aad", &sealed).is_err());
        assert!(keys.open(&s1, b"aaD", &sealed).is_err());
        assert!(open(&KEY, b"aad", &sealed).is_err());
        assert!(open_derived_v2(&KEY, &s1, b"aad", &sealed).is_err());
        let mut salt = s1;
        salt[31] ^= 1;
        assert!(keys.open(&salt, b"aad", &sealed).is_err());
        // Derivation is deterministic, and differs by salt and by key.
        let a = keys.derive(&s1);
        assert_eq!(a.expose_secret(), keys.derive(&s1).expose_secret());
        assert_ne!(a.expose_secret(), keys.derive(&s2).expose_secret());
        assert_ne!(a.expose_secret(), other_keys.derive(&s1).expose_secret());
        assert_ne!(a.expose_secret(), &KEY);
        assert_ne!(
            a.expose_secret(),
            derive_blob_key_v2(&KEY, &s1)
                .expect("derive")
                .expose_secret()
        );
        // Only AES-256 keys are derived from.
        assert_eq!(BlobKeys::new(&KEY[..16]).err(), Some(CryptoError::Seal));
        assert_eq!(BlobKeys::new(&[0u8; 33]).err(), Some(CryptoError::Seal));
        assert_eq!(
            derive_blob_key_v2(&KEY[..16], &s1).err(),
            Some(CryptoError::Seal)
        );
        assert!(keys
            .open(&s1, b"aad", &sealed[..NONCE_LEN + TAG_LEN - 1])
            .is_err());
    }

    #[test]
    fn blob_keys_are_hkdf_expand_with_the_key_as_prk() {
        // RFC 5869 test case 1 gives PRK and OKM for info f0..f9 (42
        // bytes): BlobKeys' HMAC is HKDF-Expand's first block, so with the
        // test's PRK and info = label || salt it must equal ring's expand
        // for many salts (ring checked against the RFC itself below).
        let prk_bytes: [u8; 32] = [
            0x07, 0x77, 0x09, 0x36, 0x2c, 0x2e, 0x32, 0xdf, 0x0d, 0xdc, 0x3f, 0x0d, 0xc4, 0x7b,
            0xba, 0x63, 0x90, 0xb6, 0xc7, 0x3b, 0xb5, 0x0f, 0x9c, 0x31, 0x22, 0xec, 0x84, 0x4a,
            0xd7, 0xc2, 0xb3, 0xe5,
        ];
        let ring_prk = ring::hkdf::Prk::new_less_safe(ring::hkdf::HKDF_SHA256, &prk_bytes);
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let mut okm = [0u8; 32];
        ring_prk
            .expand(&[&info], ring::hkdf::HKDF_SHA256)
            .expect("expand")
            .fill(&mut okm)
            .expect("fill");
        assert_eq!(
            okm[..],
            [
                0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
                0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
                0xec, 0xc4, 0xc5, 0xbf
            ][..],
            "RFC 5869 A.1 OKM"
        );
        let keys = BlobKeys::new(&prk_bytes).expect("keys");
        for i in 0..64u8 {
            let salt = [i.wrapping_mul(37); SALT_LEN];
            let mut want = [0u8; 32];
            ring_prk
                .expand(&[BLOB_KEY_INFO_V3, &salt], ring::hkdf::HKDF_SHA256)
                .expect("expand")
                .fill(&mut want)
                .expect("fill");
            assert_eq!(keys.derive(&salt).expose_secret(), &want, "salt {i}");
        }
    }

    #[test]
    fn blob_key_states_are_wiped_on_drop() {
        // A compile-time check, as for the AES round keys: the HMAC states
        // BlobKeys keeps per material are sha2 cores, wiped on drop only
        // with sha2's `zeroize` feature (Cargo.toml); the buffer of the
        // wrapper only with digest's (through hmac's feature).
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<sha2::block_api::Sha256VarCore>();
        wiped_on_drop::<::hmac::digest::block_api::Buffer<::hmac::block_api::HmacCore<sha2::Sha256>>>(
        );
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
