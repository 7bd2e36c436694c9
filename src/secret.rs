//! Types that hold secrets: symmetric key material, the root key, and
//! plaintext (data keys, decrypted data).
//!
//! Every type here keeps its bytes private, zeroizes them on drop, prints as
//! `[REDACTED]` under `Debug`, has no `Display`, no serde, and no `==`. The
//! bytes are reached only through `expose_secret()`, so every use is easy to
//! find with grep. (`zeroize::Zeroizing` is not used as the holding type: it
//! derives `Debug` and a variable-time `==`.)

use std::fmt;

use zeroize::Zeroize;

/// Length of an AES-256 key.
pub const SYMMETRIC_KEY_LEN: usize = 32;

/// 256-bit key material of a symmetric KMS key version.
pub struct KeyMaterial(Box<[u8; SYMMETRIC_KEY_LEN]>);

/// The root key that encrypts all key material at rest.
pub struct RootKey(Box<[u8; SYMMETRIC_KEY_LEN]>);

macro_rules! symmetric_secret {
    ($ty:ident) => {
        impl $ty {
            /// Takes a copy of exactly 32 bytes; `None` for any other length.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                let arr: [u8; SYMMETRIC_KEY_LEN] = bytes.try_into().ok()?;
                let mut boxed = Box::new([0u8; SYMMETRIC_KEY_LEN]);
                boxed.copy_from_slice(&arr);
                // `arr` is a stack copy: wipe it too.
                let mut arr = arr;
                arr.zeroize();
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

        impl Drop for $ty {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "([REDACTED])"))
            }
        }
    };
}

symmetric_secret!(KeyMaterial);
symmetric_secret!(RootKey);

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
    fn from_slice_rejects_wrong_lengths() {
        assert!(KeyMaterial::from_slice(&[0u8; 31]).is_none());
        assert!(KeyMaterial::from_slice(&[0u8; 33]).is_none());
        assert!(KeyMaterial::from_slice(&[7u8; 32]).is_some());
    }

    #[test]
    fn generated_keys_differ() {
        let a = KeyMaterial::generate().expect("rng");
        let b = KeyMaterial::generate().expect("rng");
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
