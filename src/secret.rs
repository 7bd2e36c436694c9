//! Types that hold secrets: key material, the root key, per-blob derived
//! keys, and plaintext (data keys, decrypted data).
//!
//! Every type here keeps its bytes private, zeroizes them on drop, prints as
//! `[REDACTED]` under `Debug`, has no `Display`, no serde, no `==` and no
//! `Clone` (a copy would be one more place to wipe). The bytes are reached
//! only through `expose_secret()`, so every use is easy to find with grep.
//! (`zeroize::Zeroizing` is not used as the holding type: it derives `Debug`
//! and a variable-time `==`.)

use std::fmt;

use zeroize::Zeroize;

/// Length of an AES-256 key.
pub const SYMMETRIC_KEY_LEN: usize = 32;

/// The longest key material kmsd holds: room for a PKCS#8 RSA-4096 private
/// key (about 2.4 KB) with margin. A bound, so a corrupt record cannot make
/// kmsd allocate without limit.
pub const MAX_MATERIAL_LEN: usize = 8192;

/// Key material of one version of a KMS key, of whatever length its spec
/// needs: 16 or 32 bytes of AES key, 28–64 bytes of HMAC key, a PKCS#8
/// private key. Which it is lives in the material record, not here.
///
/// Boxed once at its final length and never grown, so no reallocation can
/// leave an unwiped copy behind.
pub struct KeyMaterial(Box<[u8]>);

impl KeyMaterial {
    /// Takes a copy of `bytes`; `None` if empty or longer than
    /// [`MAX_MATERIAL_LEN`].
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > MAX_MATERIAL_LEN {
            return None;
        }
        Some(Self(bytes.into()))
    }

    /// `len` fresh random bytes from the operating system's CSPRNG. A
    /// length outside `1..=MAX_MATERIAL_LEN` (a caller's bug: lengths come
    /// from key specs) fails like the generator would.
    pub fn generate(len: usize) -> Result<Self, crate::crypto::CryptoError> {
        if len == 0 || len > MAX_MATERIAL_LEN {
            return Err(crate::crypto::CryptoError::Random);
        }
        let mut boxed = vec![0u8; len].into_boxed_slice();
        crate::crypto::fill_random(&mut boxed)?;
        Ok(Self(boxed))
    }

    /// The secret bytes. Grep for `expose_secret` to audit every use.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret: the key spec implies it).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: material is never empty (kept for clippy's
    /// `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for KeyMaterial {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No length either: it would say which spec of key this is.
        f.write_str("KeyMaterial([REDACTED])")
    }
}

/// The root key that protects all locally held key material at rest.
pub struct RootKey(Box<[u8; SYMMETRIC_KEY_LEN]>);

impl RootKey {
    /// Takes a copy of exactly 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != SYMMETRIC_KEY_LEN {
            return None;
        }
        let mut boxed = Box::new([0u8; SYMMETRIC_KEY_LEN]);
        boxed.copy_from_slice(bytes);
        Some(Self(boxed))
    }

    /// Fresh random bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, crate::crypto::CryptoError> {
        let mut boxed = Box::new([0u8; SYMMETRIC_KEY_LEN]);
        crate::crypto::fill_random(&mut boxed[..])?;
        Ok(Self(boxed))
    }

    /// The secret bytes. Grep for `expose_secret` to audit every use.
    pub fn expose_secret(&self) -> &[u8; SYMMETRIC_KEY_LEN] {
        &self.0
    }
}

impl Drop for RootKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

/// The AES-256 key of one ciphertext blob, derived from key material and the
/// blob's salt (`crypto::BlobKeys::derive`). The hot path derives it into a
/// wiped stack buffer instead; this type is for tests and tools that must
/// see the bytes.
pub struct BlobKey(Box<[u8; SYMMETRIC_KEY_LEN]>);

impl BlobKey {
    /// All zero, to be filled in place (crate only).
    pub(crate) fn zeroed() -> Self {
        Self(Box::new([0u8; SYMMETRIC_KEY_LEN]))
    }

    /// The secret bytes. Grep for `expose_secret` to audit every use.
    pub fn expose_secret(&self) -> &[u8; SYMMETRIC_KEY_LEN] {
        &self.0
    }

    /// Mutable access, for filling the key in place (crate only).
    pub(crate) fn expose_secret_mut(&mut self) -> &mut [u8; SYMMETRIC_KEY_LEN] {
        &mut self.0
    }
}

impl Drop for BlobKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlobKey([REDACTED])")
    }
}

/// Secret bytes of variable length: a data key, or decrypted plaintext.
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    /// Wraps bytes that are already secret; they are wiped when this drops.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Fresh random bytes from the operating system's CSPRNG.
    pub fn random(len: usize) -> Result<Self, crate::crypto::CryptoError> {
        let mut v = vec![0u8; len];
        crate::crypto::fill_random(&mut v)?;
        Ok(Self(v))
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Mutable access, for filling the buffer in place (crate only).
    pub(crate) fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands the bytes to a response message. The protobuf layer owns them
    /// from here and cannot zeroize them; this is the one place a secret
    /// leaves a zeroizing type, and it happens only on the way to the wire.
    pub fn into_response_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext([REDACTED; {} bytes])", self.0.len())
    }
}

/// A password (a custom key store's `kmsuser` password): wiped on drop,
/// printed as `[REDACTED]`, never `Clone`.
pub struct Password(String);

impl Password {
    /// Takes a password the caller gave; it is wiped when this drops.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The password.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let bytes = [0xABu8; 32];
        let m = KeyMaterial::from_slice(&bytes).expect("32 bytes");
        let r = RootKey::from_slice(&bytes).expect("32 bytes");
        let p = Plaintext::new(bytes.to_vec());
        for s in [format!("{m:?}"), format!("{r:?}"), format!("{p:?}")] {
            assert!(s.contains("REDACTED"), "{s}");
            assert!(!s.to_lowercase().contains("ab, ab"), "{s}");
            assert!(!s.contains("171"), "{s}");
        }
    }

    #[test]
    fn variable_length_material_is_redacted_whatever_its_length() {
        // AES-128, HMAC-224, HMAC-512 and a PKCS#8-sized key.
        for len in [16usize, 28, 64, 1218] {
            let m = KeyMaterial::from_slice(&vec![0xCDu8; len]).expect("valid length");
            assert_eq!(m.len(), len);
            assert_eq!(m.expose_secret(), &vec![0xCDu8; len][..]);
            let s = format!("{m:?}");
            assert_eq!(s, "KeyMaterial([REDACTED])");
            assert!(!s.contains(&len.to_string()), "{s}");
            assert!(
                !s.contains("205") && !s.to_lowercase().contains("cd"),
                "{s}"
            );
        }
    }

    #[test]
    fn from_slice_rejects_wrong_lengths() {
        assert!(RootKey::from_slice(&[0u8; 31]).is_none());
        assert!(RootKey::from_slice(&[0u8; 33]).is_none());
        assert!(RootKey::from_slice(&[7u8; 32]).is_some());
        assert!(KeyMaterial::from_slice(&[]).is_none());
        assert!(KeyMaterial::from_slice(&vec![1u8; MAX_MATERIAL_LEN + 1]).is_none());
        assert!(KeyMaterial::from_slice(&vec![1u8; MAX_MATERIAL_LEN]).is_some());
    }

    #[test]
    fn generated_keys_differ_and_have_the_asked_length() {
        let a = KeyMaterial::generate(32).expect("rng");
        let b = KeyMaterial::generate(32).expect("rng");
        assert_eq!(a.len(), 32);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(KeyMaterial::generate(48).expect("rng").len(), 48);
        assert!(KeyMaterial::generate(0).is_err());
        let r = RootKey::generate().expect("rng");
        let s = RootKey::generate().expect("rng");
        assert_ne!(r.expose_secret(), s.expose_secret());
    }
}
