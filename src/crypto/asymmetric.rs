//! Asymmetric keys: generation, parsing, public-key export, signatures,
//! RSA-OAEP, ECDH and ML-KEM, for every asymmetric KeySpec AWS KMS offers
//! (SM2, China-Regions-only, is refused as [`CryptoError::Unsupported`]).
//!
//! Which library does what, and why (docs/security.md, "Crypto choices
//! (issue 12)"):
//! - `ring`: RSA PSS / PKCS#1 v1.5 and ECDSA P-256 / P-384 signing of RAW
//!   messages and their verification, P-256 / P-384 key generation, pure
//!   Ed25519.
//! - `aws-lc-rs`: RSA key generation and constant-time RSA-OAEP decryption
//!   (the `rsa` crate's decryption is RUSTSEC-2023-0071, "Marvin"); signing
//!   and verifying a caller's DIGEST (ring cannot); ECDSA P-521 and
//!   secp256k1 including their key generation; Ed25519 key generation
//!   (PKCS#8 v1); ML-DSA (pure, empty context) and ML-KEM.
//! - `rsa`: public-key operations only: RSA public-key parsing and OAEP
//!   encryption.
//! - `p256` / `p384` / `p521`: static-key ECDH (ring's agreement is
//!   ephemeral-only) and validation of the caller's public key.
//! - `ed25519-dalek`: Ed25519ph (HashEdDSA), which neither ring nor
//!   aws-lc-rs offers.
//! - `ml-dsa`: ML-DSA signing from a caller's 64-byte mu (EXTERNAL_MU),
//!   which aws-lc-rs does not offer, and its verification.
//! - `ml-kem`: ML-KEM seeds in PKCS#8 and their expansion into the key
//!   aws-lc-rs decapsulates with.
//!
//! Stored private-key encodings ([`generate`]): PKCS#8 DER for RSA, ECC and
//! Ed25519 (v1, what openssl writes); for ML-DSA the PKCS#8 seed form
//! (`[0] IMPLICIT OCTET STRING` of the 32-byte seed), and for ML-KEM likewise
//! of the 64-byte seed `d || z`: the seed is the standard private-key form,
//! which `ml-dsa` / `ml-kem` read and aws-lc-rs (for ML-KEM) cannot.
//!
//! This module knows key specs and algorithms, not KMS keys, policies or
//! AWS errors: the core validates requests first and maps [`CryptoError`];
//! the checks here are a second line and never panic on input.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use spki::der::{Decode, Encode};
use spki::ObjectIdentifier;

use super::rng::OsRng;
use super::CryptoError;
use crate::model::key::{
    DataKeyPairSpec, EncryptionAlgorithm, KeySpec, MessageType, SigningAlgorithm,
};
use crate::secret::{KeyMaterial, Plaintext};

/// The longest RAW message Sign and Verify take (AWS: 4096 bytes).
pub const MAX_RAW_MESSAGE_LEN: usize = 4096;
/// Length of an ML-DSA external mu and of an Ed25519ph SHA-512 digest.
const MU_LEN: usize = 64;
/// The ML-KEM shared secret length (FIPS 203).
pub const ML_KEM_SHARED_SECRET_LEN: usize = 32;

const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ML_DSA_44: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
const OID_ML_DSA_65: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");
const OID_ML_DSA_87: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.19");
const OID_ML_KEM_512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.1");
const OID_ML_KEM_768: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.2");
const OID_ML_KEM_1024: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.3");

// ---------------------------------------------------------------------------
// Facts about specs and algorithms (kept here so that the crypto layer checks
// its own inputs; the model's tables are the core's).
// ---------------------------------------------------------------------------

/// The hash of a signing algorithm that hashes (RSA, ECDSA, Ed25519ph).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn aws_lc(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Hash::Sha256 => &aws_lc_rs::digest::SHA256,
            Hash::Sha384 => &aws_lc_rs::digest::SHA384,
            Hash::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// The caller's digest as an aws-lc-rs digest, length checked.
    fn import(self, digest: &[u8]) -> Result<aws_lc_rs::digest::Digest, CryptoError> {
        if digest.len() != self.len() {
            return Err(CryptoError::InvalidInput(
                "digest length does not match the signing algorithm",
            ));
        }
        aws_lc_rs::digest::Digest::import_less_safe(digest, self.aws_lc()).map_err(|_| {
            CryptoError::InvalidInput("digest length does not match the signing algorithm")
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RsaPadding {
    Pss,
    Pkcs1,
}

/// The RSA modulus length in bits of an RSA spec.
fn rsa_bits(spec: KeySpec) -> Option<usize> {
    match spec {
        KeySpec::Rsa2048 => Some(2048),
        KeySpec::Rsa3072 => Some(3072),
        KeySpec::Rsa4096 => Some(4096),
        _ => None,
    }
}

/// The elliptic curves kmsd holds ECDSA / ECDH keys on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    fn of(spec: KeySpec) -> Option<Curve> {
        match spec {
            KeySpec::EccNistP256 => Some(Curve::P256),
            KeySpec::EccNistP384 => Some(Curve::P384),
            KeySpec::EccNistP521 => Some(Curve::P521),
            KeySpec::EccSecgP256k1 => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
            Curve::P521 => OID_P521,
            Curve::Secp256k1 => OID_SECP256K1,
        }
    }

    /// The one ECDSA algorithm AWS pairs with the curve.
    fn hash(self) -> Hash {
        match self {
            Curve::P256 | Curve::Secp256k1 => Hash::Sha256,
            Curve::P384 => Hash::Sha384,
            Curve::P521 => Hash::Sha512,
        }
    }

    fn aws_lc_signing(self) -> &'static aws_lc_rs::signature::EcdsaSigningAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            Curve::P256 => &s::ECDSA_P256_SHA256_ASN1_SIGNING,
            Curve::P384 => &s::ECDSA_P384_SHA384_ASN1_SIGNING,
            Curve::P521 => &s::ECDSA_P521_SHA512_ASN1_SIGNING,
            Curve::Secp256k1 => &s::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        }
    }

    fn aws_lc_verification(self) -> &'static aws_lc_rs::signature::EcdsaVerificationAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            Curve::P256 => &s::ECDSA_P256_SHA256_ASN1,
            Curve::P384 => &s::ECDSA_P384_SHA384_ASN1,
            Curve::P521 => &s::ECDSA_P521_SHA512_ASN1,
            Curve::Secp256k1 => &s::ECDSA_P256K1_SHA256_ASN1,
        }
    }

    /// ring's algorithm, for the curves ring has.
    fn ring_verification(self) -> Option<&'static ring::signature::EcdsaVerificationAlgorithm> {
        match self {
            Curve::P256 => Some(&ring::signature::ECDSA_P256_SHA256_ASN1),
            Curve::P384 => Some(&ring::signature::ECDSA_P384_SHA384_ASN1),
            _ => None,
        }
    }

    fn ring_signing(self) -> Option<&'static ring::signature::EcdsaSigningAlgorithm> {
        match self {
            Curve::P256 => Some(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING),
            Curve::P384 => Some(&ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MlDsaLevel {
    L44,
    L65,
    L87,
}

impl MlDsaLevel {
    fn of(spec: KeySpec) -> Option<MlDsaLevel> {
        match spec {
            KeySpec::MlDsa44 => Some(MlDsaLevel::L44),
            KeySpec::MlDsa65 => Some(MlDsaLevel::L65),
            KeySpec::MlDsa87 => Some(MlDsaLevel::L87),
            _ => None,
        }
    }

    fn signing(self) -> &'static aws_lc_rs::signature::PqdsaSigningAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            MlDsaLevel::L44 => &s::ML_DSA_44_SIGNING,
            MlDsaLevel::L65 => &s::ML_DSA_65_SIGNING,
            MlDsaLevel::L87 => &s::ML_DSA_87_SIGNING,
        }
    }

    fn verification(self) -> &'static aws_lc_rs::signature::PqdsaVerificationAlgorithm {
        use aws_lc_rs::signature as s;
        match self {
            MlDsaLevel::L44 => &s::ML_DSA_44,
            MlDsaLevel::L65 => &s::ML_DSA_65,
            MlDsaLevel::L87 => &s::ML_DSA_87,
        }
    }

    /// Signature length (FIPS 204, table 2).
    fn signature_len(self) -> usize {
        match self {
            MlDsaLevel::L44 => 2420,
            MlDsaLevel::L65 => 3309,
            MlDsaLevel::L87 => 4627,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MlKemLevel {
    L512,
    L768,
    L1024,
}

impl MlKemLevel {
    fn of(spec: KeySpec) -> Option<MlKemLevel> {
        match spec {
            KeySpec::MlKem512 => Some(MlKemLevel::L512),
            KeySpec::MlKem768 => Some(MlKemLevel::L768),
            KeySpec::MlKem1024 => Some(MlKemLevel::L1024),
            _ => None,
        }
    }

    fn algorithm(self) -> &'static aws_lc_rs::kem::Algorithm {
        match self {
            MlKemLevel::L512 => &aws_lc_rs::kem::ML_KEM_512,
            MlKemLevel::L768 => &aws_lc_rs::kem::ML_KEM_768,
            MlKemLevel::L1024 => &aws_lc_rs::kem::ML_KEM_1024,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            MlKemLevel::L512 => OID_ML_KEM_512,
            MlKemLevel::L768 => OID_ML_KEM_768,
            MlKemLevel::L1024 => OID_ML_KEM_1024,
        }
    }

    /// Ciphertext length (FIPS 203, table 3).
    pub fn ciphertext_len(self) -> usize {
        match self {
            MlKemLevel::L512 => 768,
            MlKemLevel::L768 => 1088,
            MlKemLevel::L1024 => 1568,
        }
    }

    /// Encapsulation-key length (FIPS 203, table 3).
    fn encapsulation_key_len(self) -> usize {
        match self {
            MlKemLevel::L512 => 800,
            MlKemLevel::L768 => 1184,
            MlKemLevel::L1024 => 1568,
        }
    }
}

/// The ML-KEM ciphertext length of `spec`; `None` for other specs.
pub fn ml_kem_ciphertext_len(spec: KeySpec) -> Option<usize> {
    MlKemLevel::of(spec).map(MlKemLevel::ciphertext_len)
}

/// What a signing algorithm means for a spec: how it pads or hashes.
#[derive(Clone, Copy)]
enum Scheme {
    Rsa(RsaPadding, Hash),
    Ecdsa(Curve),
    Ed25519Pure,
    Ed25519Ph,
    MlDsa(MlDsaLevel),
}

/// The scheme of `alg` on a key of `spec`, or an error if AWS does not pair
/// them.
fn scheme(spec: KeySpec, alg: SigningAlgorithm) -> Result<Scheme, CryptoError> {
    use SigningAlgorithm as A;
    let wrong = CryptoError::InvalidInput("signing algorithm not valid for this key spec");
    if rsa_bits(spec).is_some() {
        return match alg {
            A::RsassaPssSha256 => Ok(Scheme::Rsa(RsaPadding::Pss, Hash::Sha256)),
            A::RsassaPssSha384 => Ok(Scheme::Rsa(RsaPadding::Pss, Hash::Sha384)),
            A::RsassaPssSha512 => Ok(Scheme::Rsa(RsaPadding::Pss, Hash::Sha512)),
            A::RsassaPkcs1V15Sha256 => Ok(Scheme::Rsa(RsaPadding::Pkcs1, Hash::Sha256)),
            A::RsassaPkcs1V15Sha384 => Ok(Scheme::Rsa(RsaPadding::Pkcs1, Hash::Sha384)),
            A::RsassaPkcs1V15Sha512 => Ok(Scheme::Rsa(RsaPadding::Pkcs1, Hash::Sha512)),
            _ => Err(wrong),
        };
    }
    if let Some(curve) = Curve::of(spec) {
        let ok = matches!(
            (curve.hash(), alg),
            (Hash::Sha256, A::EcdsaSha256)
                | (Hash::Sha384, A::EcdsaSha384)
                | (Hash::Sha512, A::EcdsaSha512)
        );
        return if ok {
            Ok(Scheme::Ecdsa(curve))
        } else {
            Err(wrong)
        };
    }
    if spec == KeySpec::EccNistEdwards25519 {
        return match alg {
            A::Ed25519Sha512 => Ok(Scheme::Ed25519Pure),
            A::Ed25519PhSha512 => Ok(Scheme::Ed25519Ph),
            _ => Err(wrong),
        };
    }
    if let Some(level) = MlDsaLevel::of(spec) {
        return match alg {
            A::MlDsaShake256 => Ok(Scheme::MlDsa(level)),
            _ => Err(wrong),
        };
    }
    Err(CryptoError::Unsupported)
}

/// Checks the message against its type for `scheme`: RAW ≤ 4096 bytes;
/// DIGEST of exactly the hash length, where the scheme takes one;
/// EXTERNAL_MU of 64 bytes, ML-DSA only.
fn check_message(
    scheme: Scheme,
    message_type: MessageType,
    message: &[u8],
) -> Result<(), CryptoError> {
    match (message_type, scheme) {
        (MessageType::Raw, _) if message.len() > MAX_RAW_MESSAGE_LEN => {
            Err(CryptoError::InvalidInput("message longer than 4096 bytes"))
        }
        (MessageType::Raw, _) => Ok(()),
        (MessageType::Digest, Scheme::Rsa(_, h)) if message.len() == h.len() => Ok(()),
        (MessageType::Digest, Scheme::Ecdsa(c)) if message.len() == c.hash().len() => Ok(()),
        (MessageType::Digest, Scheme::Ed25519Ph) if message.len() == MU_LEN => Ok(()),
        (MessageType::Digest, Scheme::Rsa(..) | Scheme::Ecdsa(_) | Scheme::Ed25519Ph) => Err(
            CryptoError::InvalidInput("digest length does not match the signing algorithm"),
        ),
        (MessageType::ExternalMu, Scheme::MlDsa(_)) if message.len() == MU_LEN => Ok(()),
        (MessageType::ExternalMu, Scheme::MlDsa(_)) => {
            Err(CryptoError::InvalidInput("external mu must be 64 bytes"))
        }
        _ => Err(CryptoError::InvalidInput(
            "message type not valid for this signing algorithm",
        )),
    }
}

// ---------------------------------------------------------------------------
// Key generation
// ---------------------------------------------------------------------------

fn material(bytes: &[u8]) -> Result<KeyMaterial, CryptoError> {
    KeyMaterial::from_slice(bytes).ok_or(CryptoError::Operation)
}

/// Fresh private-key material for an asymmetric `spec`, in its stored
/// encoding (module doc). RSA generation takes up to seconds: callers run
/// it off the async worker threads.
pub fn generate(spec: KeySpec) -> Result<KeyMaterial, CryptoError> {
    if let Some(bits) = rsa_bits(spec) {
        let size = match bits {
            2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
            3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
            _ => aws_lc_rs::rsa::KeySize::Rsa4096,
        };
        let kp = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| CryptoError::Operation)?;
        let der = kp.as_der().map_err(|_| CryptoError::Operation)?;
        return material(der.as_ref());
    }
    if let Some(curve) = Curve::of(spec) {
        if let Some(alg) = curve.ring_signing() {
            let rng = ring::rand::SystemRandom::new();
            let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
                .map_err(|_| CryptoError::Operation)?;
            return material(doc.as_ref());
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(curve.aws_lc_signing(), &rng)
            .map_err(|_| CryptoError::Operation)?;
        return material(doc.as_ref());
    }
    if spec == KeySpec::EccNistEdwards25519 {
        // aws-lc-rs, not ring: ring writes only PKCS#8 v2, and a data key
        // pair's private key should be the v1 form every tool reads.
        let kp =
            aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|_| CryptoError::Operation)?;
        let doc = kp.to_pkcs8v1().map_err(|_| CryptoError::Operation)?;
        return material(doc.as_ref());
    }
    if let Some(level) = MlDsaLevel::of(spec) {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        super::fill_random(&mut seed[..])?;
        return ml_dsa_pkcs8_from_seed(level, &seed);
    }
    if let Some(level) = MlKemLevel::of(spec) {
        let mut seed = zeroize::Zeroizing::new([0u8; 64]);
        super::fill_random(&mut seed[..])?;
        return ml_kem_pkcs8_from_seed(level, &seed);
    }
    Err(CryptoError::Unsupported)
}

/// The PKCS#8 seed form of the ML-DSA key with `seed` (RFC 9881 / FIPS 204
/// `xi`), as `ml-dsa` writes it.
fn ml_dsa_pkcs8_from_seed(level: MlDsaLevel, seed: &[u8; 32]) -> Result<KeyMaterial, CryptoError> {
    use ml_dsa::{MlDsa44, MlDsa65, MlDsa87};
    fn encode<P>(seed: &[u8; 32]) -> Result<KeyMaterial, CryptoError>
    where
        P: ml_dsa::MlDsaParams
            + spki::AssociatedAlgorithmIdentifier<Params = spki::der::AnyRef<'static>>,
        ml_dsa::SigningKey<P>: pkcs8::EncodePrivateKey,
    {
        use pkcs8::EncodePrivateKey;
        let key = ml_dsa::SigningKey::<P>::from_seed(&(*seed).into());
        let doc = key.to_pkcs8_der().map_err(|_| CryptoError::Operation)?;
        material(doc.as_bytes())
    }
    match level {
        MlDsaLevel::L44 => encode::<MlDsa44>(seed),
        MlDsaLevel::L65 => encode::<MlDsa65>(seed),
        MlDsaLevel::L87 => encode::<MlDsa87>(seed),
    }
}

/// The PKCS#8 seed form of the ML-KEM key with the 64-byte `seed` (FIPS 203
/// `d || z`), as `ml-kem` writes it.
fn ml_kem_pkcs8_from_seed(level: MlKemLevel, seed: &[u8; 64]) -> Result<KeyMaterial, CryptoError> {
    use pkcs8::EncodePrivateKey;
    // ml-kem exports no trait naming its parameter sets, so one arm each.
    let doc = match level {
        MlKemLevel::L512 => ml_kem::DecapsulationKey512::from_seed((*seed).into()).to_pkcs8_der(),
        MlKemLevel::L768 => ml_kem::DecapsulationKey768::from_seed((*seed).into()).to_pkcs8_der(),
        MlKemLevel::L1024 => ml_kem::DecapsulationKey1024::from_seed((*seed).into()).to_pkcs8_der(),
    };
    material(doc.map_err(|_| CryptoError::Operation)?.as_bytes())
}

/// Parses the PKCS#8 seed form with `ml-kem` and expands it into the keys
/// aws-lc-rs takes: the FIPS 203 expanded decapsulation key (in a wiped
/// buffer) and the encapsulation key.
#[allow(deprecated)] // The expanded form is what aws-lc-rs imports.
fn ml_kem_expand(
    level: MlKemLevel,
    pkcs8_der: &[u8],
) -> Result<(aws_lc_rs::kem::DecapsulationKey, Vec<u8>), CryptoError> {
    use ml_kem::{ExpandedKeyEncoding, KeyExport};
    use pkcs8::DecodePrivateKey;
    macro_rules! expand {
        ($key:ty) => {{
            let key = <$key>::from_pkcs8_der(pkcs8_der).map_err(rejected)?;
            let expanded = zeroize::Zeroizing::new(key.to_expanded_bytes());
            let dk = aws_lc_rs::kem::DecapsulationKey::new(level.algorithm(), &expanded[..])
                .map_err(rejected)?;
            (dk, key.encapsulation_key().to_bytes().to_vec())
        }};
    }
    Ok(match level {
        MlKemLevel::L512 => expand!(ml_kem::DecapsulationKey512),
        MlKemLevel::L768 => expand!(ml_kem::DecapsulationKey768),
        MlKemLevel::L1024 => expand!(ml_kem::DecapsulationKey1024),
    })
}

/// A data key pair for GenerateDataKeyPair: the private key as PKCS#8 DER
/// and the public key as SPKI DER. RSA generation is slow (see [`generate`]).
pub fn generate_data_key_pair(
    spec: DataKeyPairSpec,
) -> Result<(KeyMaterial, Vec<u8>), CryptoError> {
    let key_spec = match spec {
        DataKeyPairSpec::Rsa2048 => KeySpec::Rsa2048,
        DataKeyPairSpec::Rsa3072 => KeySpec::Rsa3072,
        DataKeyPairSpec::Rsa4096 => KeySpec::Rsa4096,
        DataKeyPairSpec::EccNistP256 => KeySpec::EccNistP256,
        DataKeyPairSpec::EccNistP384 => KeySpec::EccNistP384,
        DataKeyPairSpec::EccNistP521 => KeySpec::EccNistP521,
        DataKeyPairSpec::EccSecgP256k1 => KeySpec::EccSecgP256k1,
        DataKeyPairSpec::EccNistEdwards25519 => KeySpec::EccNistEdwards25519,
        DataKeyPairSpec::Sm2 => return Err(CryptoError::Unsupported),
    };
    let private = generate(key_spec)?;
    let public = PrivateKey::from_material(key_spec, private.expose_secret())?
        .public_key_der()
        .to_vec();
    Ok((private, public))
}

// ---------------------------------------------------------------------------
// Parsed private keys
// ---------------------------------------------------------------------------

/// A parsed private key, ready to use: parsed once and cached by the core.
///
/// Holds the parsed forms each library needs (module doc), never the
/// PKCS#8 bytes. No `Debug`, no `Clone`. Which parts wipe themselves on
/// drop: docs/security.md ("Crypto choices (issue 12)").
pub struct PrivateKey {
    spec: KeySpec,
    public_der: Vec<u8>,
    inner: Inner,
}

enum Inner {
    Rsa {
        // RAW signing (ring), DIGEST signing (aws-lc-rs), OAEP decryption
        // (aws-lc-rs, constant time).
        ring: ring::signature::RsaKeyPair,
        lc: aws_lc_rs::rsa::KeyPair,
        oaep: aws_lc_rs::rsa::OaepPrivateDecryptingKey,
    },
    Ec {
        curve: Curve,
        // RAW signing on P-256/P-384.
        ring: Option<ring::signature::EcdsaKeyPair>,
        // DIGEST signing, and RAW signing on P-521 / secp256k1.
        lc: aws_lc_rs::signature::EcdsaKeyPair,
        // Static-key ECDH on the NIST curves (a KEY_AGREEMENT key is an ECC
        // key like any other; the usage is the core's to check).
        ecdh: Option<EcdhSecret>,
    },
    Ed25519 {
        ring: ring::signature::Ed25519KeyPair,
        dalek: Box<ed25519_dalek::SigningKey>,
    },
    MlDsa {
        level: MlDsaLevel,
        lc: aws_lc_rs::signature::PqdsaKeyPair,
        mu: MlDsaMuKey,
    },
    MlKem {
        level: MlKemLevel,
        dk: aws_lc_rs::kem::DecapsulationKey,
    },
}

enum EcdhSecret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

enum MlDsaMuKey {
    L44(Box<ml_dsa::SigningKey<ml_dsa::MlDsa44>>),
    L65(Box<ml_dsa::SigningKey<ml_dsa::MlDsa65>>),
    L87(Box<ml_dsa::SigningKey<ml_dsa::MlDsa87>>),
}

fn rejected<E>(_: E) -> CryptoError {
    CryptoError::KeyRejected
}

impl PrivateKey {
    /// Parses stored private-key material of `spec` (the encoding
    /// [`generate`] writes). Any mismatch, e.g. material of another spec,
    /// is [`CryptoError::KeyRejected`].
    pub fn from_material(spec: KeySpec, material: &[u8]) -> Result<PrivateKey, CryptoError> {
        let (public_der, inner) = if let Some(bits) = rsa_bits(spec) {
            let lc = aws_lc_rs::rsa::KeyPair::from_pkcs8(material).map_err(rejected)?;
            if lc.public_modulus_len() * 8 != bits {
                return Err(CryptoError::KeyRejected);
            }
            let ring = ring::signature::RsaKeyPair::from_pkcs8(material).map_err(rejected)?;
            let dec =
                aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(material).map_err(rejected)?;
            // The modulus length in bytes above would admit e.g. a 2047-bit
            // key for RSA_2048. ring and aws-lc-rs happen to refuse such
            // keys already (the test of this passes without this check);
            // imported material must be exactly the spec, so say it here
            // rather than rely on them.
            if dec.key_size_bits() != bits {
                return Err(CryptoError::KeyRejected);
            }
            let oaep = aws_lc_rs::rsa::OaepPrivateDecryptingKey::new(dec).map_err(rejected)?;
            let public_der = lc
                .public_key()
                .as_der()
                .map_err(rejected)?
                .as_ref()
                .to_vec();
            (public_der, Inner::Rsa { ring, lc, oaep })
        } else if let Some(curve) = Curve::of(spec) {
            let lc =
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(curve.aws_lc_signing(), material)
                    .map_err(rejected)?;
            let ring = match curve.ring_signing() {
                Some(alg) => Some(
                    ring::signature::EcdsaKeyPair::from_pkcs8(
                        alg,
                        material,
                        &ring::rand::SystemRandom::new(),
                    )
                    .map_err(rejected)?,
                ),
                None => None,
            };
            let ecdh = {
                use p256::pkcs8::DecodePrivateKey;
                match curve {
                    Curve::P256 => Some(EcdhSecret::P256(
                        p256::SecretKey::from_pkcs8_der(material).map_err(rejected)?,
                    )),
                    Curve::P384 => Some(EcdhSecret::P384(
                        p384::SecretKey::from_pkcs8_der(material).map_err(rejected)?,
                    )),
                    Curve::P521 => Some(EcdhSecret::P521(
                        p521::SecretKey::from_pkcs8_der(material).map_err(rejected)?,
                    )),
                    Curve::Secp256k1 => None,
                }
            };
            let public_der = lc
                .public_key()
                .as_der()
                .map_err(rejected)?
                .as_ref()
                .to_vec();
            (
                public_der,
                Inner::Ec {
                    curve,
                    ring,
                    lc,
                    ecdh,
                },
            )
        } else if spec == KeySpec::EccNistEdwards25519 {
            let ring = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(material)
                .map_err(rejected)?;
            let dalek = {
                use ed25519_dalek::pkcs8::DecodePrivateKey;
                Box::new(ed25519_dalek::SigningKey::from_pkcs8_der(material).map_err(rejected)?)
            };
            use ring::signature::KeyPair as _;
            // Both parsers must agree on the key they read.
            if ring.public_key().as_ref() != dalek.verifying_key().as_bytes() {
                return Err(CryptoError::KeyRejected);
            }
            let public_der = ed25519_spki(dalek.verifying_key().as_bytes())?;
            (public_der, Inner::Ed25519 { ring, dalek })
        } else if let Some(level) = MlDsaLevel::of(spec) {
            let lc = aws_lc_rs::signature::PqdsaKeyPair::from_pkcs8(level.signing(), material)
                .map_err(rejected)?;
            let mu = {
                use ml_dsa::{MlDsa44, MlDsa65, MlDsa87};
                use pkcs8::DecodePrivateKey;
                match level {
                    MlDsaLevel::L44 => MlDsaMuKey::L44(Box::new(
                        ml_dsa::SigningKey::<MlDsa44>::from_pkcs8_der(material)
                            .map_err(rejected)?,
                    )),
                    MlDsaLevel::L65 => MlDsaMuKey::L65(Box::new(
                        ml_dsa::SigningKey::<MlDsa65>::from_pkcs8_der(material)
                            .map_err(rejected)?,
                    )),
                    MlDsaLevel::L87 => MlDsaMuKey::L87(Box::new(
                        ml_dsa::SigningKey::<MlDsa87>::from_pkcs8_der(material)
                            .map_err(rejected)?,
                    )),
                }
            };
            let public_der = lc
                .public_key()
                .as_der()
                .map_err(rejected)?
                .as_ref()
                .to_vec();
            // Both libraries must derive the same public key from the seed.
            if mu.public_key_der()? != public_der {
                return Err(CryptoError::KeyRejected);
            }
            (public_der, Inner::MlDsa { level, lc, mu })
        } else if let Some(level) = MlKemLevel::of(spec) {
            let (dk, ek) = ml_kem_expand(level, material)?;
            let public_der = ml_kem_spki(level, &ek)?;
            (public_der, Inner::MlKem { level, dk })
        } else {
            return Err(CryptoError::Unsupported);
        };
        Ok(PrivateKey {
            spec,
            public_der,
            inner,
        })
    }

    /// The key spec this key was parsed as.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The public key as DER SubjectPublicKeyInfo (GetPublicKey's format).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs `message` of `message_type` with `alg` (see [`verify`] for the
    /// meaning of each type). ECDSA signatures are DER; RSA-PSS uses a salt
    /// as long as the hash, as AWS does.
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let scheme = scheme(self.spec, alg)?;
        check_message(scheme, message_type, message)?;
        let digest = message_type == MessageType::Digest;
        match (&self.inner, scheme) {
            (Inner::Rsa { ring, lc, .. }, Scheme::Rsa(padding, hash)) => {
                let mut sig = vec![0u8; lc.public_modulus_len()];
                if digest {
                    let d = hash.import(message)?;
                    lc.sign_digest(aws_lc_rsa_encoding(padding, hash), &d, &mut sig)
                        .map_err(|_| CryptoError::Operation)?;
                } else {
                    let rng = ring::rand::SystemRandom::new();
                    ring.sign(ring_rsa_encoding(padding, hash), &rng, message, &mut sig)
                        .map_err(|_| CryptoError::Operation)?;
                }
                Ok(sig)
            }
            (
                Inner::Ec {
                    curve, ring, lc, ..
                },
                Scheme::Ecdsa(c),
            ) if *curve == c => {
                if digest {
                    let d = c.hash().import(message)?;
                    let sig = lc.sign_digest(&d).map_err(|_| CryptoError::Operation)?;
                    return Ok(sig.as_ref().to_vec());
                }
                if let Some(ring) = ring {
                    let rng = ring::rand::SystemRandom::new();
                    let sig = ring
                        .sign(&rng, message)
                        .map_err(|_| CryptoError::Operation)?;
                    return Ok(sig.as_ref().to_vec());
                }
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let sig = lc.sign(&rng, message).map_err(|_| CryptoError::Operation)?;
                Ok(sig.as_ref().to_vec())
            }
            (Inner::Ed25519 { ring, .. }, Scheme::Ed25519Pure) => {
                Ok(ring.sign(message).as_ref().to_vec())
            }
            (Inner::Ed25519 { dalek, .. }, Scheme::Ed25519Ph) => {
                let prehash = if digest {
                    PrehashedSha512::from_digest(message)?
                } else {
                    PrehashedSha512::of(message)
                };
                let sig = dalek
                    .sign_prehashed(prehash, None)
                    .map_err(|_| CryptoError::Operation)?;
                Ok(sig.to_bytes().to_vec())
            }
            (Inner::MlDsa { level, lc, mu }, Scheme::MlDsa(l)) if *level == l => {
                if message_type == MessageType::ExternalMu {
                    return mu.sign_mu(message);
                }
                let mut sig = vec![0u8; l.signature_len()];
                let n = lc
                    .sign(message, &mut sig)
                    .map_err(|_| CryptoError::Operation)?;
                sig.truncate(n);
                Ok(sig)
            }
            _ => Err(CryptoError::InvalidInput(
                "signing algorithm not valid for this key spec",
            )),
        }
    }

    /// RSA-OAEP decryption (aws-lc-rs: constant time in the padding check).
    /// Any failure, including a ciphertext of the wrong length, is the
    /// opaque [`CryptoError::Open`].
    pub fn decrypt(
        &self,
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Plaintext, CryptoError> {
        let Inner::Rsa { oaep, .. } = &self.inner else {
            return Err(CryptoError::InvalidInput(
                "encryption algorithm not valid for this key spec",
            ));
        };
        let algorithm = oaep_algorithm(alg)?;
        if ciphertext.len() != oaep.key_size_bytes() {
            return Err(CryptoError::Open);
        }
        let mut buf = zeroize::Zeroizing::new(vec![0u8; oaep.min_output_size()]);
        let out = oaep
            .decrypt(algorithm, ciphertext, &mut buf[..], None)
            .map_err(|_| CryptoError::Open)?;
        Ok(Plaintext::new(out.to_vec()))
    }

    /// Static-key ECDH with the caller's public key (DER SPKI on this key's
    /// curve, validated: the curve, the point on it, not the identity). The
    /// result is the shared point's x-coordinate, as `openssl pkeyutl
    /// -derive` gives it.
    pub fn derive_shared_secret(
        &self,
        peer_public_key_spki_der: &[u8],
    ) -> Result<Plaintext, CryptoError> {
        let Inner::Ec {
            ecdh: Some(secret), ..
        } = &self.inner
        else {
            return Err(CryptoError::InvalidInput(
                "key agreement not valid for this key spec",
            ));
        };
        let bad =
            |_| CryptoError::InvalidInput("peer public key is not a valid key on this key's curve");
        use p256::pkcs8::DecodePublicKey;
        let shared = match secret {
            EcdhSecret::P256(sk) => {
                let pk =
                    p256::PublicKey::from_public_key_der(peer_public_key_spki_der).map_err(bad)?;
                let s = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                s.raw_secret_bytes().to_vec()
            }
            EcdhSecret::P384(sk) => {
                let pk =
                    p384::PublicKey::from_public_key_der(peer_public_key_spki_der).map_err(bad)?;
                let s = p384::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                s.raw_secret_bytes().to_vec()
            }
            EcdhSecret::P521(sk) => {
                let pk =
                    p521::PublicKey::from_public_key_der(peer_public_key_spki_der).map_err(bad)?;
                let s = p521::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                s.raw_secret_bytes().to_vec()
            }
        };
        Ok(Plaintext::new(shared))
    }

    /// ML-KEM decapsulation. A ciphertext of the wrong length is an error;
    /// any ciphertext of the right length yields 32 bytes (FIPS 203's
    /// implicit rejection: a tampered ciphertext gives an unrelated secret).
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Plaintext, CryptoError> {
        let Inner::MlKem { level, dk } = &self.inner else {
            return Err(CryptoError::InvalidInput(
                "decapsulation not valid for this key spec",
            ));
        };
        if ciphertext.len() != level.ciphertext_len() {
            return Err(CryptoError::InvalidInput(
                "ciphertext length does not match the ML-KEM parameter set",
            ));
        }
        let ss = dk
            .decapsulate(aws_lc_rs::kem::Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::Open)?;
        Ok(Plaintext::new(ss.as_ref().to_vec()))
    }
}

impl MlDsaMuKey {
    fn sign_mu(&self, mu: &[u8]) -> Result<Vec<u8>, CryptoError> {
        fn go<P: ml_dsa::MlDsaParams>(
            key: &ml_dsa::SigningKey<P>,
            mu: &[u8],
        ) -> Result<Vec<u8>, CryptoError> {
            let mu = mu
                .try_into()
                .map_err(|_| CryptoError::InvalidInput("external mu must be 64 bytes"))?;
            let sig = key
                .expanded_key()
                .sign_mu_randomized(mu, &mut OsRng)
                .map_err(|_| CryptoError::Operation)?;
            Ok(sig.encode().to_vec())
        }
        match self {
            MlDsaMuKey::L44(k) => go(k, mu),
            MlDsaMuKey::L65(k) => go(k, mu),
            MlDsaMuKey::L87(k) => go(k, mu),
        }
    }

    fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        use ml_dsa::Keypair;
        use spki::EncodePublicKey;
        let der = match self {
            MlDsaMuKey::L44(k) => k.verifying_key().to_public_key_der(),
            MlDsaMuKey::L65(k) => k.verifying_key().to_public_key_der(),
            MlDsaMuKey::L87(k) => k.verifying_key().to_public_key_der(),
        };
        der.map(|d| d.into_vec()).map_err(rejected)
    }
}

// ---------------------------------------------------------------------------
// Public-key operations
// ---------------------------------------------------------------------------

/// Verifies `signature` over `message` of `message_type` with the public key
/// `public_key_spki` (DER SPKI) of `spec`. `Ok(false)` is a bad signature
/// (including a malformed one); `Err` is input of the wrong shape (a digest
/// of the wrong length, an algorithm not for this spec, a malformed key).
///
/// RAW: the message, hashed as the algorithm says (ML-DSA: the message
/// itself with an empty context; ED25519_SHA_512: pure Ed25519;
/// ED25519_PH_SHA_512: Ed25519ph over SHA-512(message)). DIGEST: the
/// caller's hash. EXTERNAL_MU: ML-DSA only, the 64-byte mu.
pub fn verify(
    spec: KeySpec,
    public_key_spki: &[u8],
    alg: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let scheme = scheme(spec, alg)?;
    check_message(scheme, message_type, message)?;
    let digest = message_type == MessageType::Digest;
    match scheme {
        Scheme::Rsa(padding, hash) => {
            let key = rsa_public_key(spec, public_key_spki)?;
            if digest {
                let d = hash.import(message)?;
                let k = aws_lc_rs::signature::UnparsedPublicKey::new(
                    aws_lc_rsa_parameters(padding, hash),
                    public_key_spki,
                );
                return Ok(k.verify_digest(&d, signature).is_ok());
            }
            use rsa::traits::PublicKeyParts;
            let (n, e) = (key.n_bytes(), key.e_bytes());
            let components = ring::signature::RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            Ok(components
                .verify(ring_rsa_parameters(padding, hash), message, signature)
                .is_ok())
        }
        Scheme::Ecdsa(curve) => {
            let point = ec_point(curve, public_key_spki)?;
            if digest {
                let d = curve.hash().import(message)?;
                let k = aws_lc_rs::signature::UnparsedPublicKey::new(
                    curve.aws_lc_verification(),
                    point,
                );
                return Ok(k.verify_digest(&d, signature).is_ok());
            }
            if let Some(alg) = curve.ring_verification() {
                let k = ring::signature::UnparsedPublicKey::new(alg, point);
                return Ok(k.verify(message, signature).is_ok());
            }
            let k =
                aws_lc_rs::signature::UnparsedPublicKey::new(curve.aws_lc_verification(), point);
            Ok(k.verify(message, signature).is_ok())
        }
        Scheme::Ed25519Pure => {
            let pk = ed25519_public_key(public_key_spki)?;
            let k = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk);
            Ok(k.verify(message, signature).is_ok())
        }
        Scheme::Ed25519Ph => {
            let pk = ed25519_public_key(public_key_spki)?;
            let pk: &[u8; 32] = pk
                .try_into()
                .map_err(|_| CryptoError::InvalidInput("malformed Ed25519 public key"))?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(pk)
                .map_err(|_| CryptoError::InvalidInput("malformed Ed25519 public key"))?;
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
                return Ok(false);
            };
            let prehash = if digest {
                PrehashedSha512::from_digest(message)?
            } else {
                PrehashedSha512::of(message)
            };
            Ok(vk.verify_prehashed_strict(prehash, None, &sig).is_ok())
        }
        Scheme::MlDsa(level) => {
            check_ml_dsa_spki(level, public_key_spki)?;
            if message_type == MessageType::ExternalMu {
                return ml_dsa_verify_mu(level, public_key_spki, message, signature);
            }
            let k =
                aws_lc_rs::signature::UnparsedPublicKey::new(level.verification(), public_key_spki);
            Ok(k.verify(message, signature).is_ok())
        }
    }
}

/// RSA-OAEP encryption under the public key `public_key_spki` of `spec`
/// (the `rsa` crate: a public operation, to which RUSTSEC-2023-0071 does
/// not apply). A plaintext longer than `k - 2*hLen - 2` bytes is
/// `InvalidInput`.
pub fn encrypt(
    spec: KeySpec,
    public_key_spki: &[u8],
    alg: EncryptionAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = rsa_public_key(spec, public_key_spki)?;
    let max = max_oaep_plaintext_len(spec, alg)?;
    if plaintext.len() > max {
        return Err(CryptoError::InvalidInput(
            "plaintext too long for this key spec and algorithm",
        ));
    }
    let ct = match alg {
        EncryptionAlgorithm::RsaesOaepSha1 => {
            key.encrypt(&mut OsRng, rsa::Oaep::<sha1::Sha1>::new(), plaintext)
        }
        EncryptionAlgorithm::RsaesOaepSha256 => {
            key.encrypt(&mut OsRng, rsa::Oaep::<sha2::Sha256>::new(), plaintext)
        }
        _ => {
            return Err(CryptoError::InvalidInput(
                "encryption algorithm not valid for this key spec",
            ))
        }
    };
    ct.map_err(|_| CryptoError::Seal)
}

/// The longest OAEP plaintext for `spec` and `alg` (`k - 2*hLen - 2`):
/// RSA_2048 214 / 190, RSA_3072 342 / 318, RSA_4096 470 / 446 bytes for
/// SHA-1 / SHA-256, AWS's limits.
pub fn max_oaep_plaintext_len(
    spec: KeySpec,
    alg: EncryptionAlgorithm,
) -> Result<usize, CryptoError> {
    let bits = rsa_bits(spec).ok_or(CryptoError::InvalidInput(
        "encryption algorithm not valid for this key spec",
    ))?;
    let h = match alg {
        EncryptionAlgorithm::RsaesOaepSha1 => 20,
        EncryptionAlgorithm::RsaesOaepSha256 => 32,
        _ => {
            return Err(CryptoError::InvalidInput(
                "encryption algorithm not valid for this key spec",
            ))
        }
    };
    Ok(bits / 8 - 2 * h - 2)
}

/// ML-KEM encapsulation to the public key `public_key_spki` (standard SPKI
/// with the NIST OID of `spec`'s parameter set): the ciphertext and the
/// 32-byte shared secret.
pub fn encapsulate(
    spec: KeySpec,
    public_key_spki: &[u8],
) -> Result<(Vec<u8>, Plaintext), CryptoError> {
    let level = MlKemLevel::of(spec).ok_or(CryptoError::InvalidInput(
        "encapsulation not valid for this key spec",
    ))?;
    let bad = CryptoError::InvalidInput("malformed ML-KEM public key");
    let info = spki::SubjectPublicKeyInfoRef::from_der(public_key_spki).map_err(|_| bad)?;
    if info.algorithm.oid != level.oid() || info.algorithm.parameters.is_some() {
        return Err(bad);
    }
    let ek_bytes = info.subject_public_key.as_bytes().ok_or(bad)?;
    if ek_bytes.len() != level.encapsulation_key_len() {
        return Err(bad);
    }
    let ek = aws_lc_rs::kem::EncapsulationKey::new(level.algorithm(), ek_bytes).map_err(|_| bad)?;
    let (ct, ss) = ek.encapsulate().map_err(|_| CryptoError::Operation)?;
    Ok((ct.as_ref().to_vec(), Plaintext::new(ss.as_ref().to_vec())))
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn oaep_algorithm(
    alg: EncryptionAlgorithm,
) -> Result<&'static aws_lc_rs::rsa::OaepAlgorithm, CryptoError> {
    match alg {
        EncryptionAlgorithm::RsaesOaepSha1 => Ok(&aws_lc_rs::rsa::OAEP_SHA1_MGF1SHA1),
        EncryptionAlgorithm::RsaesOaepSha256 => Ok(&aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256),
        _ => Err(CryptoError::InvalidInput(
            "encryption algorithm not valid for this key spec",
        )),
    }
}

fn ring_rsa_encoding(padding: RsaPadding, hash: Hash) -> &'static dyn ring::signature::RsaEncoding {
    use ring::signature as s;
    match (padding, hash) {
        (RsaPadding::Pss, Hash::Sha256) => &s::RSA_PSS_SHA256,
        (RsaPadding::Pss, Hash::Sha384) => &s::RSA_PSS_SHA384,
        (RsaPadding::Pss, Hash::Sha512) => &s::RSA_PSS_SHA512,
        (RsaPadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_SHA256,
        (RsaPadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_SHA384,
        (RsaPadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_SHA512,
    }
}

fn aws_lc_rsa_encoding(
    padding: RsaPadding,
    hash: Hash,
) -> &'static dyn aws_lc_rs::signature::RsaEncoding {
    use aws_lc_rs::signature as s;
    match (padding, hash) {
        (RsaPadding::Pss, Hash::Sha256) => &s::RSA_PSS_SHA256,
        (RsaPadding::Pss, Hash::Sha384) => &s::RSA_PSS_SHA384,
        (RsaPadding::Pss, Hash::Sha512) => &s::RSA_PSS_SHA512,
        (RsaPadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_SHA256,
        (RsaPadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_SHA384,
        (RsaPadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_SHA512,
    }
}

fn ring_rsa_parameters(padding: RsaPadding, hash: Hash) -> &'static ring::signature::RsaParameters {
    use ring::signature as s;
    match (padding, hash) {
        (RsaPadding::Pss, Hash::Sha256) => &s::RSA_PSS_2048_8192_SHA256,
        (RsaPadding::Pss, Hash::Sha384) => &s::RSA_PSS_2048_8192_SHA384,
        (RsaPadding::Pss, Hash::Sha512) => &s::RSA_PSS_2048_8192_SHA512,
        (RsaPadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_2048_8192_SHA256,
        (RsaPadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_2048_8192_SHA384,
        (RsaPadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_2048_8192_SHA512,
    }
}

fn aws_lc_rsa_parameters(
    padding: RsaPadding,
    hash: Hash,
) -> &'static aws_lc_rs::signature::RsaParameters {
    use aws_lc_rs::signature as s;
    match (padding, hash) {
        (RsaPadding::Pss, Hash::Sha256) => &s::RSA_PSS_2048_8192_SHA256,
        (RsaPadding::Pss, Hash::Sha384) => &s::RSA_PSS_2048_8192_SHA384,
        (RsaPadding::Pss, Hash::Sha512) => &s::RSA_PSS_2048_8192_SHA512,
        (RsaPadding::Pkcs1, Hash::Sha256) => &s::RSA_PKCS1_2048_8192_SHA256,
        (RsaPadding::Pkcs1, Hash::Sha384) => &s::RSA_PKCS1_2048_8192_SHA384,
        (RsaPadding::Pkcs1, Hash::Sha512) => &s::RSA_PKCS1_2048_8192_SHA512,
    }
}

/// Parses an RSA SPKI with the `rsa` crate and checks its size against
/// `spec`.
fn rsa_public_key(spec: KeySpec, spki_der: &[u8]) -> Result<rsa::PublicKey, CryptoError> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let bits = rsa_bits(spec).ok_or(CryptoError::InvalidInput("not an RSA key spec"))?;
    let key = rsa::PublicKey::from_public_key_der(spki_der)
        .map_err(|_| CryptoError::InvalidInput("malformed RSA public key"))?;
    if key.size() * 8 != bits {
        return Err(CryptoError::InvalidInput(
            "RSA public key of another size than its key spec",
        ));
    }
    Ok(key)
}

/// The encoded point of an EC SPKI, after checking that the key is an EC
/// key on `curve` (the libraries check the point itself).
fn ec_point(curve: Curve, spki_der: &[u8]) -> Result<&[u8], CryptoError> {
    let bad = CryptoError::InvalidInput("malformed EC public key or wrong curve");
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| bad)?;
    if info.algorithm.oid != OID_EC_PUBLIC_KEY {
        return Err(bad);
    }
    let named = info.algorithm.parameters_oid().map_err(|_| bad)?;
    if named != curve.oid() {
        return Err(bad);
    }
    info.subject_public_key.as_bytes().ok_or(bad)
}

/// The 32-byte key of an Ed25519 SPKI (RFC 8410: no parameters).
fn ed25519_public_key(spki_der: &[u8]) -> Result<&[u8], CryptoError> {
    let bad = CryptoError::InvalidInput("malformed Ed25519 public key");
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| bad)?;
    if info.algorithm.oid != OID_ED25519 || info.algorithm.parameters.is_some() {
        return Err(bad);
    }
    let key = info.subject_public_key.as_bytes().ok_or(bad)?;
    if key.len() != 32 {
        return Err(bad);
    }
    Ok(key)
}

fn ed25519_spki(key: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
    spki_der(OID_ED25519, key)
}

fn ml_kem_spki(level: MlKemLevel, ek: &[u8]) -> Result<Vec<u8>, CryptoError> {
    spki_der(level.oid(), ek)
}

/// A SubjectPublicKeyInfo with an absent-parameters AlgorithmIdentifier
/// (RFC 8410 for Ed25519, the NIST ML-KEM profile).
fn spki_der(oid: ObjectIdentifier, key: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let info = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid,
            parameters: None,
        },
        subject_public_key: spki::der::asn1::BitStringRef::from_bytes(key)
            .map_err(|_| CryptoError::Operation)?,
    };
    info.to_der().map_err(|_| CryptoError::Operation)
}

/// Checks that an ML-DSA SPKI is of `level` (aws-lc-rs checks the rest).
fn check_ml_dsa_spki(level: MlDsaLevel, spki_der: &[u8]) -> Result<(), CryptoError> {
    let bad = CryptoError::InvalidInput("malformed ML-DSA public key or wrong parameter set");
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| bad)?;
    let expected = match level {
        MlDsaLevel::L44 => OID_ML_DSA_44,
        MlDsaLevel::L65 => OID_ML_DSA_65,
        MlDsaLevel::L87 => OID_ML_DSA_87,
    };
    if info.algorithm.oid != expected {
        return Err(bad);
    }
    Ok(())
}

fn ml_dsa_verify_mu(
    level: MlDsaLevel,
    spki_der: &[u8],
    mu: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    fn go<P>(spki_der: &[u8], mu: &[u8], signature: &[u8]) -> Result<bool, CryptoError>
    where
        P: ml_dsa::MlDsaParams,
        ml_dsa::VerifyingKey<P>: spki::DecodePublicKey,
    {
        use spki::DecodePublicKey;
        let vk = ml_dsa::VerifyingKey::<P>::from_public_key_der(spki_der).map_err(|_| {
            CryptoError::InvalidInput("malformed ML-DSA public key or wrong parameter set")
        })?;
        let mu = mu
            .try_into()
            .map_err(|_| CryptoError::InvalidInput("external mu must be 64 bytes"))?;
        let Ok(encoded) = ml_dsa::EncodedSignature::<P>::try_from(signature) else {
            return Ok(false);
        };
        let Some(sig) = ml_dsa::Signature::<P>::decode(&encoded) else {
            return Ok(false);
        };
        Ok(vk.verify_mu(mu, &sig))
    }
    match level {
        MlDsaLevel::L44 => go::<ml_dsa::MlDsa44>(spki_der, mu, signature),
        MlDsaLevel::L65 => go::<ml_dsa::MlDsa65>(spki_der, mu, signature),
        MlDsaLevel::L87 => go::<ml_dsa::MlDsa87>(spki_der, mu, signature),
    }
}

/// A SHA-512 value already computed, presented to `ed25519-dalek` as the
/// `Digest` its Ed25519ph functions take (they only finalize it). For RAW
/// messages kmsd hashes first ([`PrehashedSha512::of`]), for DIGEST it
/// takes the caller's 64 bytes ([`PrehashedSha512::from_digest`]); one code
/// path for both, so the two agree by construction.
#[derive(Clone)]
struct PrehashedSha512([u8; MU_LEN]);

impl PrehashedSha512 {
    fn of(message: &[u8]) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA512, message);
        let mut out = [0u8; MU_LEN];
        out.copy_from_slice(d.as_ref());
        PrehashedSha512(out)
    }

    fn from_digest(digest: &[u8]) -> Result<Self, CryptoError> {
        let d: [u8; MU_LEN] = digest.try_into().map_err(|_| {
            CryptoError::InvalidInput("digest length does not match the signing algorithm")
        })?;
        Ok(PrehashedSha512(d))
    }
}

impl Default for PrehashedSha512 {
    fn default() -> Self {
        PrehashedSha512::of(b"")
    }
}

impl digest::HashMarker for PrehashedSha512 {}

impl digest::OutputSizeUser for PrehashedSha512 {
    type OutputSize = digest::consts::U64;
}

impl digest::Update for PrehashedSha512 {
    // Never called by ed25519-dalek's prehashed functions, which take the
    // digest whole. Feeding more data has no meaning for a finished hash;
    // it rehashes so that the value at least changes with the data.
    fn update(&mut self, data: &[u8]) {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA512);
        ctx.update(&self.0);
        ctx.update(data);
        self.0.copy_from_slice(ctx.finish().as_ref());
    }
}

impl digest::FixedOutput for PrehashedSha512 {
    fn finalize_into(self, out: &mut digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

#[cfg(test)]
mod tests;
