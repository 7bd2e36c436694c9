//! What a key spec implies for kms-bench: the key usage the operations of
//! a mix need, the default algorithms of a spec, and the sizes of kmsd's
//! answers (signatures, public keys, MACs, data key pairs), which the
//! no-op baseline answers with so that it carries the same bytes.
//!
//! The sizes are those of the standard encodings kmsd returns: DER
//! SubjectPublicKeyInfo, PKCS#8 DER private keys, DER ECDSA signatures
//! (their longest form: a DER integer is one byte longer when its top bit
//! is set), RSA signatures and ciphertexts as long as the modulus.

use super::args::KeySpecArg;
use super::mix::{BenchOp, Mix};
use kms_proto::kms::v1 as pb;

use pb::KeySpec as K;

fn spec_of(key_spec: i32) -> Option<K> {
    K::try_from(key_spec).ok()
}

/// The RSA modulus length in bytes, for RSA specs.
pub fn rsa_modulus_len(key_spec: i32) -> Option<usize> {
    match spec_of(key_spec)? {
        K::Rsa2048 => Some(256),
        K::Rsa3072 => Some(384),
        K::Rsa4096 => Some(512),
        _ => None,
    }
}

/// Whether the spec is an HMAC one.
pub fn is_hmac(key_spec: i32) -> bool {
    matches!(
        spec_of(key_spec),
        Some(K::Hmac224 | K::Hmac256 | K::Hmac384 | K::Hmac512)
    )
}

/// Whether keys of the spec can sign.
pub fn can_sign(key_spec: i32) -> bool {
    matches!(
        spec_of(key_spec),
        Some(
            K::Rsa2048
                | K::Rsa3072
                | K::Rsa4096
                | K::EccNistP256
                | K::EccNistP384
                | K::EccNistP521
                | K::EccSecgP256k1
                | K::EccNistEdwards25519
                | K::MlDsa44
                | K::MlDsa65
                | K::MlDsa87
        )
    )
}

/// The signing algorithm kms-bench uses when `--signing-algorithm` is not
/// given: the one AWS lists first for the spec.
pub fn default_signing_algorithm(key_spec: i32) -> Option<pb::SigningAlgorithmSpec> {
    use pb::SigningAlgorithmSpec as S;
    Some(match spec_of(key_spec)? {
        K::Rsa2048 | K::Rsa3072 | K::Rsa4096 => S::RsassaPkcs1V15Sha256,
        K::EccNistP256 | K::EccSecgP256k1 => S::EcdsaSha256,
        K::EccNistP384 => S::EcdsaSha384,
        K::EccNistP521 => S::EcdsaSha512,
        K::EccNistEdwards25519 => S::Ed25519Sha512,
        K::MlDsa44 | K::MlDsa65 | K::MlDsa87 => S::MlDsaShake256,
        _ => return None,
    })
}

/// The MAC algorithm of an HMAC spec.
pub fn default_mac_algorithm(key_spec: i32) -> Option<pb::MacAlgorithmSpec> {
    use pb::MacAlgorithmSpec as M;
    Some(match spec_of(key_spec)? {
        K::Hmac224 => M::HmacSha224,
        K::Hmac256 => M::HmacSha256,
        K::Hmac384 => M::HmacSha384,
        K::Hmac512 => M::HmacSha512,
        _ => return None,
    })
}

/// The encryption algorithm of Encrypt / Decrypt with the spec when
/// `--encryption-algorithm` is not given: RSAES_OAEP_SHA_256 for RSA, 0
/// (unset: SYMMETRIC_DEFAULT) otherwise.
pub fn default_encryption_algorithm(key_spec: i32) -> i32 {
    if rsa_modulus_len(key_spec).is_some() {
        pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32
    } else {
        0
    }
}

/// The key usage of the keys kms-bench creates for `mix` with `spec`, or
/// why the mix cannot run on keys of one spec.
pub fn key_usage_for(mix: &Mix, spec: KeySpecArg) -> Result<pb::KeyUsageType, String> {
    use pb::KeyUsageType as U;
    let wire = spec.kms_key_spec() as i32;
    let mut usage: Option<U> = None;
    for (op, _) in mix.entries() {
        let needed = match op {
            BenchOp::GenerateDataKey
            | BenchOp::GenerateDataKeyWithoutPlaintext
            | BenchOp::ReEncrypt
            | BenchOp::GenerateDataKeyPair
            | BenchOp::GenerateDataKeyPairWithoutPlaintext => {
                if !spec.is_symmetric() {
                    return Err(format!(
                        "{op} needs a symmetric key: use --key-spec AES_256 or AES_128 \
                         (not {})",
                        spec.as_str()
                    ));
                }
                Some(U::EncryptDecrypt)
            }
            BenchOp::Encrypt | BenchOp::Decrypt => {
                if !spec.is_symmetric() && rsa_modulus_len(wire).is_none() {
                    return Err(format!(
                        "{op} needs a symmetric or RSA key (not {})",
                        spec.as_str()
                    ));
                }
                Some(U::EncryptDecrypt)
            }
            BenchOp::Sign | BenchOp::Verify => {
                if !can_sign(wire) {
                    return Err(format!(
                        "{op} needs an RSA, ECC or ML-DSA --key-spec (not {})",
                        spec.as_str()
                    ));
                }
                Some(U::SignVerify)
            }
            BenchOp::GenerateMac | BenchOp::VerifyMac => {
                if !is_hmac(wire) {
                    return Err(format!(
                        "{op} needs an HMAC --key-spec (not {})",
                        spec.as_str()
                    ));
                }
                Some(U::GenerateVerifyMac)
            }
            BenchOp::GetPublicKey => {
                if spec.is_symmetric() || is_hmac(wire) {
                    return Err(format!(
                        "GetPublicKey needs an asymmetric --key-spec (not {})",
                        spec.as_str()
                    ));
                }
                None
            }
            BenchOp::GenerateRandom | BenchOp::DescribeKey => None,
        };
        match (usage, needed) {
            (Some(have), Some(want)) if have != want => {
                return Err(format!(
                    "the mix needs keys of two usages ({} and {}); run its operations separately",
                    usage_name(have),
                    usage_name(want)
                ))
            }
            (None, Some(want)) => usage = Some(want),
            _ => {}
        }
    }
    Ok(usage.unwrap_or(if spec.is_symmetric() {
        U::EncryptDecrypt
    } else if is_hmac(wire) {
        U::GenerateVerifyMac
    } else if matches!(
        spec_of(wire),
        Some(K::MlKem512 | K::MlKem768 | K::MlKem1024)
    ) {
        U::EncapsulateDecapsulate
    } else {
        U::SignVerify
    }))
}

fn usage_name(u: pb::KeyUsageType) -> &'static str {
    use kms_proto::aws_enum::AwsEnum as _;
    u.aws_name()
}

/// The length of a DER SubjectPublicKeyInfo of the spec (0 if unknown).
pub fn public_key_len(key_spec: i32) -> usize {
    match spec_of(key_spec) {
        Some(K::Rsa2048) => 294,
        Some(K::Rsa3072) => 422,
        Some(K::Rsa4096) => 550,
        Some(K::EccNistP256) => 91,
        Some(K::EccNistP384) => 120,
        Some(K::EccNistP521) => 158,
        Some(K::EccSecgP256k1) => 88,
        Some(K::EccNistEdwards25519) => 44,
        // FIPS 204 public keys plus the 22-byte SPKI header.
        Some(K::MlDsa44) => 1312 + 22,
        Some(K::MlDsa65) => 1952 + 22,
        Some(K::MlDsa87) => 2592 + 22,
        Some(K::MlKem512) => 800 + 22,
        Some(K::MlKem768) => 1184 + 22,
        Some(K::MlKem1024) => 1568 + 22,
        _ => 0,
    }
}

/// The (longest) length of a signature by a key of the spec.
pub fn signature_len(key_spec: i32) -> usize {
    if let Some(n) = rsa_modulus_len(key_spec) {
        return n;
    }
    match spec_of(key_spec) {
        Some(K::EccNistP256 | K::EccSecgP256k1) => 72,
        Some(K::EccNistP384) => 104,
        Some(K::EccNistP521) => 139,
        Some(K::EccNistEdwards25519) => 64,
        Some(K::MlDsa44) => 2420,
        Some(K::MlDsa65) => 3309,
        Some(K::MlDsa87) => 4627,
        _ => 0,
    }
}

/// The MAC length of an algorithm.
pub fn mac_len(mac_algorithm: i32) -> usize {
    use pb::MacAlgorithmSpec as M;
    match M::try_from(mac_algorithm) {
        Ok(M::HmacSha224) => 28,
        Ok(M::HmacSha384) => 48,
        Ok(M::HmacSha512) => 64,
        _ => 32,
    }
}

/// (PKCS#8 DER private key length, SPKI DER public key length) of a data
/// key pair spec (RSA private keys vary by a few bytes; these are typical).
pub fn data_key_pair_lens(key_pair_spec: i32) -> (usize, usize) {
    use pb::DataKeyPairSpec as D;
    match D::try_from(key_pair_spec) {
        Ok(D::Rsa2048) => (1218, 294),
        Ok(D::Rsa3072) => (1794, 422),
        Ok(D::Rsa4096) => (2374, 550),
        Ok(D::EccNistP384) => (185, 120),
        Ok(D::EccNistP521) => (241, 158),
        Ok(D::EccSecgP256k1) => (135, 88),
        Ok(D::EccNistEdwards25519) => (48, 44),
        _ => (138, 91),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(mix: &str, spec: KeySpecArg) -> Result<pb::KeyUsageType, String> {
        key_usage_for(&Mix::parse(mix).unwrap(), spec)
    }

    #[test]
    fn usages_follow_the_mix_and_spec() {
        use pb::KeyUsageType as U;
        assert_eq!(
            usage("GenerateDataKey,Decrypt", KeySpecArg::Aes256),
            Ok(U::EncryptDecrypt)
        );
        assert_eq!(
            usage("Sign,Verify,GetPublicKey", KeySpecArg::EccNistP256),
            Ok(U::SignVerify)
        );
        assert_eq!(
            usage("GetPublicKey", KeySpecArg::Rsa2048),
            Ok(U::SignVerify)
        );
        assert_eq!(
            usage("Encrypt,Decrypt,GetPublicKey", KeySpecArg::Rsa3072),
            Ok(U::EncryptDecrypt)
        );
        assert_eq!(
            usage("GenerateMac,VerifyMac", KeySpecArg::Hmac256),
            Ok(U::GenerateVerifyMac)
        );
        assert_eq!(
            usage("DescribeKey", KeySpecArg::Hmac512),
            Ok(U::GenerateVerifyMac)
        );
        assert_eq!(
            usage("GenerateDataKeyPair", KeySpecArg::Aes256),
            Ok(U::EncryptDecrypt)
        );
        assert_eq!(
            usage("GetPublicKey,DescribeKey", KeySpecArg::MlKem768),
            Ok(U::EncapsulateDecapsulate)
        );
        for (mix, spec) in [
            ("Sign", KeySpecArg::Aes256),
            ("Sign", KeySpecArg::Hmac256),
            ("GenerateMac", KeySpecArg::EccNistP256),
            ("Encrypt", KeySpecArg::EccNistP256),
            ("GenerateDataKey", KeySpecArg::Rsa2048),
            ("GenerateDataKeyPair", KeySpecArg::Rsa2048),
            ("GetPublicKey", KeySpecArg::Aes256),
            ("Sign", KeySpecArg::MlKem512),
            ("Sign,Encrypt", KeySpecArg::Rsa2048),
        ] {
            assert!(usage(mix, spec).is_err(), "{mix} {spec:?}");
        }
        let e = usage("Sign,Encrypt", KeySpecArg::Rsa2048).unwrap_err();
        assert!(
            e.contains("SIGN_VERIFY") && e.contains("ENCRYPT_DECRYPT"),
            "{e}"
        );
    }

    #[test]
    fn defaults_and_sizes_per_spec() {
        use pb::SigningAlgorithmSpec as S;
        let d = |k: K| default_signing_algorithm(k as i32);
        assert_eq!(d(K::EccNistP256), Some(S::EcdsaSha256));
        assert_eq!(d(K::EccNistP521), Some(S::EcdsaSha512));
        assert_eq!(d(K::Rsa2048), Some(S::RsassaPkcs1V15Sha256));
        assert_eq!(d(K::Hmac256), None);
        assert_eq!(
            default_mac_algorithm(K::Hmac384 as i32),
            Some(pb::MacAlgorithmSpec::HmacSha384)
        );
        assert_eq!(
            default_encryption_algorithm(K::Rsa4096 as i32),
            pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32
        );
        assert_eq!(default_encryption_algorithm(K::SymmetricDefault as i32), 0);
        assert_eq!(signature_len(K::Rsa3072 as i32), 384);
        assert_eq!(signature_len(K::EccNistP256 as i32), 72);
        assert_eq!(public_key_len(K::EccNistP256 as i32), 91);
        assert_eq!(mac_len(pb::MacAlgorithmSpec::HmacSha224 as i32), 28);
        assert_eq!(
            data_key_pair_lens(pb::DataKeyPairSpec::EccNistP256 as i32),
            (138, 91)
        );
    }
}
