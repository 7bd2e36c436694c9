//! The crypto of importing key material (BYOK): RSA wrapping key pairs,
//! unwrapping what a customer wrapped under their public half (RSA-OAEP
//! with SHA-1 or SHA-256, directly or of an ephemeral AES-256 key followed
//! by AES key wrap with padding, RFC 5649), and checking that unwrapped
//! material is what the key's spec takes.
//!
//! The unit tests (wrapping/tests.rs) wrap with independent code (the
//! `rsa` crate's public-key OAEP, the `aes-kw` crate, the openssl CLI),
//! never with this module.

use super::asymmetric::PrivateKey;
use super::CryptoError;
use crate::model::import::raw_material_len;
use crate::model::{KeySpec, WrappingAlgorithm, WrappingKeySpec};
use crate::secret::{KeyMaterial, MAX_MATERIAL_LEN, SYMMETRIC_KEY_LEN};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AesKek, KeyWrapPadded, AES_256};
use aws_lc_rs::signature::KeyPair as _;
use zeroize::Zeroizing;

/// A fresh RSA wrapping key pair.
pub struct WrappingKeyPair {
    /// The private key, PKCS#8 DER (sealed by the backend before storing).
    pub private_pkcs8: KeyMaterial,
    /// The public key, DER SubjectPublicKeyInfo (GetParametersForImport's
    /// PublicKey).
    pub public_spki: Vec<u8>,
}

/// Generates an RSA wrapping key pair of `spec` (RSA_2048/3072/4096;
/// SM2 is `Unsupported`). Slow (RSA_4096: about a second): callers run it
/// off the async workers.
pub fn generate_wrapping_key(spec: WrappingKeySpec) -> Result<WrappingKeyPair, CryptoError> {
    let size = match spec {
        WrappingKeySpec::Rsa2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
        WrappingKeySpec::Rsa3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
        WrappingKeySpec::Rsa4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        WrappingKeySpec::Sm2 => return Err(CryptoError::Unsupported),
    };
    // The same generator and encodings as asymmetric RSA keys
    // (`asymmetric::generate`, `PrivateKey::public_key_der`): PKCS#8 v1
    // and X.509 SubjectPublicKeyInfo, which openssl reads as they are.
    let kp = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| CryptoError::Operation)?;
    let private_der = kp.as_der().map_err(|_| CryptoError::Operation)?;
    let private_pkcs8 =
        KeyMaterial::from_slice(private_der.as_ref()).ok_or(CryptoError::Operation)?;
    let public_spki = kp
        .public_key()
        .as_der()
        .map_err(|_| CryptoError::Operation)?
        .as_ref()
        .to_vec();
    Ok(WrappingKeyPair {
        private_pkcs8,
        public_spki,
    })
}

/// Unwraps `encrypted` (ImportKeyMaterial's EncryptedKeyMaterial) with the
/// wrapping private key `private_pkcs8` of `spec`, under `alg`:
/// - RSAES_OAEP_SHA_1 / _256: RSA-OAEP (MGF1 with the same hash, empty
///   label) of the material; `encrypted` is exactly the modulus length.
/// - RSA_AES_KEY_WRAP_SHA_1 / _256: the first modulus-length bytes are
///   RSA-OAEP of a 32-byte AES key; the rest is the material under AES-256
///   key wrap with padding (RFC 5649).
///
/// Any failure (wrong length, OAEP or KWP integrity failure, an unwrapped
/// AES key that is not 32 bytes) is [`CryptoError::Open`], which the core
/// reports as InvalidCiphertextException; the reason is not told.
/// RSA decryption is constant-time (aws-lc-rs), never the `rsa` crate.
pub fn unwrap_key_material(
    private_pkcs8: &[u8],
    spec: WrappingKeySpec,
    alg: WrappingAlgorithm,
    encrypted: &[u8],
) -> Result<KeyMaterial, CryptoError> {
    let bits = spec.rsa_bits().ok_or(CryptoError::Open)?;
    let oaep_alg = match alg {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
            &aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1
        }
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            &aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256
        }
        // PKCS#1 v1.5 (refused by AWS since 2023) and SM2PKE.
        WrappingAlgorithm::RsaesPkcs1V15 | WrappingAlgorithm::Sm2Pke => {
            return Err(CryptoError::Open)
        }
    };
    let key = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(private_pkcs8).map_err(open)?;
    // The stored key must be the size the parameters promised; a mismatch
    // is a corrupt record, not the client's doing, but still no detail.
    if key.key_size_bits() != bits {
        return Err(CryptoError::Open);
    }
    let oaep = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(key).map_err(open)?;
    let modulus_len = oaep.key_size_bytes();
    if encrypted.len() < modulus_len {
        return Err(CryptoError::Open);
    }
    let (rsa_part, kwp_part) = encrypted.split_at(modulus_len);
    let mut buf = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
    let decrypted = oaep
        .decrypt(oaep_alg, rsa_part, &mut buf[..], None)
        .map_err(open)?;
    if !alg.is_two_step() {
        if !kwp_part.is_empty() {
            return Err(CryptoError::Open);
        }
        return KeyMaterial::from_slice(decrypted).ok_or(CryptoError::Open);
    }
    // RSA_AES_KEY_WRAP_*: the OAEP plaintext is the ephemeral AES-256 key.
    if decrypted.len() != SYMMETRIC_KEY_LEN {
        return Err(CryptoError::Open);
    }
    // KWP output is at most its input less the 8-byte integrity block; the
    // bound keeps a huge request from making a huge buffer (no material
    // kmsd holds is longer than MAX_MATERIAL_LEN anyway).
    if kwp_part.len() < 16 || kwp_part.len() > MAX_MATERIAL_LEN + 16 {
        return Err(CryptoError::Open);
    }
    // `AesKek` copies the key and wipes its copy on drop.
    let kek = AesKek::new(&AES_256, decrypted).map_err(open)?;
    let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
    let material = kek
        .unwrap_with_padding(kwp_part, &mut out[..])
        .map_err(open)?;
    KeyMaterial::from_slice(material).ok_or(CryptoError::Open)
}

/// Every unwrap failure is the same opaque error: telling a wrong length
/// from a bad padding would hand out a padding oracle.
fn open<E>(_: E) -> CryptoError {
    CryptoError::Open
}

/// Checks unwrapped `material` for a key of `spec` and returns it in the
/// form the local backend stores for that spec:
/// - SYMMETRIC_DEFAULT and HMAC: raw bytes whose length is in
///   `model::import::raw_material_len(spec)`, returned unchanged;
/// - RSA and ECC specs: a PKCS#8 DER private key of exactly `spec`
///   (modulus size, curve), that `asymmetric::PrivateKey::from_material`
///   accepts; returned in kmsd's stored encoding (PKCS#8 DER).
///
/// Material that does not fit is `InvalidInput` with a reason naming no
/// secret (the core answers ValidationException).
///
/// A P-256 or P-384 key whose PKCS#8 omits the optional public key
/// (RFC 5915 allows it; `openssl ec -no_public` writes it) is rejected by
/// ring, which kmsd signs with: it is re-encoded with the public key and
/// returned in that form (the one openssl writes by default), so every
/// stored EC key is one all of kmsd's libraries read. Other accepted
/// material is returned byte for byte. Only PKCS#8 is taken, as AWS takes
/// only PKCS#8: `openssl genpkey -outform DER` writes the traditional
/// PKCS#1 / SEC1 forms, which are refused (AWS's procedure converts with
/// `openssl pkcs8 -topk8 -nocrypt -outform DER`).
pub fn check_imported_material(
    spec: KeySpec,
    material: KeyMaterial,
) -> Result<KeyMaterial, CryptoError> {
    if let Some((min, max)) = raw_material_len(spec) {
        let len = material.len();
        if len < min || len > max {
            return Err(CryptoError::InvalidInput(
                "the key material is not of a length this key spec takes",
            ));
        }
        return Ok(material);
    }
    if !crate::model::import::spec_accepts_import(spec) {
        return Err(CryptoError::Unsupported);
    }
    const NOT_FOR_SPEC: CryptoError =
        CryptoError::InvalidInput("the key material is not a PKCS#8 private key of this key spec");
    // Strict DER first: one PrivateKeyInfo and nothing after it (aws-lc-rs,
    // alone in reading secp256k1 keys, ignores trailing bytes; a stored key
    // and its KeyMaterialId should not carry them).
    {
        use pkcs8::der::Decode;
        pkcs8::PrivateKeyInfoRef::from_der(material.expose_secret()).map_err(|_| NOT_FOR_SPEC)?;
    }
    if PrivateKey::from_material(spec, material.expose_secret()).is_ok() {
        return Ok(material);
    }
    // ring (RAW signing on P-256 / P-384) is the only library that insists
    // on the public key; re-encode those two with the RustCrypto crate of
    // the curve, which checks the curve OID and writes the full form.
    let normalised = {
        use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let bytes = material.expose_secret();
        match spec {
            KeySpec::EccNistP256 => p256::SecretKey::from_pkcs8_der(bytes)
                .ok()
                .and_then(|k| k.to_pkcs8_der().ok()),
            KeySpec::EccNistP384 => p384::SecretKey::from_pkcs8_der(bytes)
                .ok()
                .and_then(|k| k.to_pkcs8_der().ok()),
            _ => None,
        }
    }
    .ok_or(NOT_FOR_SPEC)?;
    let normalised = KeyMaterial::from_slice(normalised.as_bytes()).ok_or(NOT_FOR_SPEC)?;
    PrivateKey::from_material(spec, normalised.expose_secret()).map_err(|_| NOT_FOR_SPEC)?;
    Ok(normalised)
}

#[cfg(test)]
mod tests;
