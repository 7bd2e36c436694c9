//! Secret values of a node: 256-bit keys (key material, the node's master
//! key, the cluster key, session tokens) and the `kmsuser` password.
//!
//! Each is a newtype with a private field, wiped on drop, with a `Debug`
//! that prints `[REDACTED]`, no `Display`, no `Clone`, no serde: the bytes
//! are reached only through `expose_secret()`, which is easy to grep for.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroize;

/// 32 secret bytes: an AES-256 key or a session token.
pub struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn random() -> Result<Self, ring::error::Unspecified> {
        // Boxed so the bytes are not copied around by moves of the value.
        let mut b = Box::new([0u8; 32]);
        SystemRandom::new().fill(&mut b[..])?;
        Ok(Self(b))
    }

    /// Copies a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 32 {
            return None;
        }
        let mut b = Box::new([0u8; 32]);
        b.copy_from_slice(bytes);
        Some(Self(b))
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32([REDACTED])")
    }
}

/// The `kmsuser` password as a client sent it (or as `init` was given it).
pub struct Password(String);

impl Password {
    /// Takes ownership of the string (wiped when the password drops).
    pub fn new(s: String) -> Self {
        Self(s)
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
        let s = Secret32::from_slice(&[0xAB; 32]).unwrap();
        let d = format!("{s:?}");
        assert!(
            !d.contains("ab") && !d.contains("AB") && !d.contains("171"),
            "{d}"
        );
        let p = Password::new("hunter2-secret".to_owned());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn random_keys_differ_and_slices_must_be_32_bytes() {
        let a = Secret32::random().unwrap();
        let b = Secret32::random().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(Secret32::from_slice(&[0; 31]).is_none());
        assert!(Secret32::from_slice(&[0; 33]).is_none());
    }
}
