//! HMAC keys (KeySpec HMAC_224/256/384/512) and their MACs.
//!
//! HMAC-SHA-256/384/512 run on `ring`; HMAC-SHA-224, which ring does not
//! offer, on `aws-lc-rs`. Verification recomputes the MAC and compares in
//! constant time. Key lengths follow AWS: 28, 32, 48 and 64 bytes; the MAC
//! functions take a key of any length, as HMAC does (RFC 2104), so that the
//! Wycheproof vectors with other key lengths exercise the same code.

use crate::model::key::{KeySpec, MacAlgorithm};
use crate::secret::KeyMaterial;

use super::CryptoError;

/// The key length AWS uses for an HMAC key spec; `None` for other specs.
pub fn key_len(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::Hmac224 => Some(28),
        KeySpec::Hmac256 => Some(32),
        KeySpec::Hmac384 => Some(48),
        KeySpec::Hmac512 => Some(64),
        _ => None,
    }
}

/// The length of a MAC of `alg` (the full HMAC output; AWS never truncates).
pub fn mac_len(alg: MacAlgorithm) -> usize {
    match alg {
        MacAlgorithm::HmacSha224 => 28,
        MacAlgorithm::HmacSha256 => 32,
        MacAlgorithm::HmacSha384 => 48,
        MacAlgorithm::HmacSha512 => 64,
    }
}

/// Fresh key material for an HMAC key spec, from the OS CSPRNG.
pub fn generate(spec: KeySpec) -> Result<KeyMaterial, CryptoError> {
    let len = key_len(spec).ok_or(CryptoError::Unsupported)?;
    KeyMaterial::generate(len)
}

/// HMAC of `message` under `key` with `alg`.
///
/// Neither ring's nor aws-lc-rs's HMAC key object zeroizes; both live in
/// this frame only (ring's on the stack; aws-lc-rs frees its context with
/// `OPENSSL_cleanse`).
pub fn mac(alg: MacAlgorithm, key: &[u8], message: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let ring_alg = match alg {
        MacAlgorithm::HmacSha224 => {
            let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA224, key);
            return Ok(aws_lc_rs::hmac::sign(&k, message).as_ref().to_vec());
        }
        MacAlgorithm::HmacSha256 => ring::hmac::HMAC_SHA256,
        MacAlgorithm::HmacSha384 => ring::hmac::HMAC_SHA384,
        MacAlgorithm::HmacSha512 => ring::hmac::HMAC_SHA512,
    };
    let k = ring::hmac::Key::new(ring_alg, key);
    Ok(ring::hmac::sign(&k, message).as_ref().to_vec())
}

/// Whether `mac` is the HMAC of `message` under `key` with `alg`. The
/// comparison is constant-time in the MAC's content (its length is public:
/// the algorithm fixes it).
pub fn verify_mac(
    alg: MacAlgorithm,
    key: &[u8],
    message: &[u8],
    mac: &[u8],
) -> Result<bool, CryptoError> {
    let expected = self::mac(alg, key, message)?;
    Ok(super::ct_eq(&expected, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_aws_lengths_and_macs_verify() {
        for (spec, alg) in [
            (KeySpec::Hmac224, MacAlgorithm::HmacSha224),
            (KeySpec::Hmac256, MacAlgorithm::HmacSha256),
            (KeySpec::Hmac384, MacAlgorithm::HmacSha384),
            (KeySpec::Hmac512, MacAlgorithm::HmacSha512),
        ] {
            let key = generate(spec).expect("generate");
            assert_eq!(Some(key.len()), key_len(spec));
            let other = generate(spec).expect("generate");
            assert_ne!(key.expose_secret(), other.expose_secret());
            let tag = mac(alg, key.expose_secret(), b"message").expect("mac");
            assert_eq!(tag.len(), mac_len(alg));
            assert!(verify_mac(alg, key.expose_secret(), b"message", &tag).expect("verify"));
            assert!(!verify_mac(alg, key.expose_secret(), b"messagE", &tag).expect("verify"));
            assert!(!verify_mac(alg, other.expose_secret(), b"message", &tag).expect("verify"));
            let mut bad = tag.clone();
            bad[0] ^= 1;
            assert!(!verify_mac(alg, key.expose_secret(), b"message", &bad).expect("verify"));
            assert!(!verify_mac(alg, key.expose_secret(), b"message", &tag[1..]).expect("verify"));
            assert!(!verify_mac(alg, key.expose_secret(), b"message", &[]).expect("verify"));
        }
        assert_eq!(
            generate(KeySpec::EccNistP256).err(),
            Some(CryptoError::Unsupported)
        );
    }
}
