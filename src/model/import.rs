//! Imported key material (BYOK, origin EXTERNAL): the wrapping algorithms
//! and wrapping key specs of GetParametersForImport, the import and
//! expiration choices of ImportKeyMaterial, the stored import parameters,
//! and AWS's rules of which material and wrapping suit which key spec.
//!
//! Pure data and rules; the wrapping crypto is `crypto::wrapping`, the
//! operations `kms::import`.

use serde::{Deserialize, Serialize};

use super::ids::KeyId;
use super::key::{aws_enum, KeySpec};
use super::material::SealedBlob;

aws_enum!(
    /// AWS `AlgorithmSpec`: how the customer wraps material for import.
    WrappingAlgorithm {
        /// Refused since October 2023, as AWS refuses it.
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        /// RSA-OAEP (SHA-1, MGF1-SHA-1) of the material itself.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSA-OAEP (SHA-256, MGF1-SHA-256) of the material itself.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// RSA-OAEP-SHA-1 of an ephemeral AES-256 key, followed by the
        /// material under AES key wrap with padding (RFC 5649).
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
        /// As `RsaAesKeyWrapSha1` with RSA-OAEP-SHA-256.
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        /// China Regions only: refused.
        Sm2Pke = "SM2PKE",
    }
);

aws_enum!(
    /// AWS `WrappingKeySpec`: the size of the RSA wrapping key pair.
    WrappingKeySpec {
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// China Regions only: refused.
        Sm2 = "SM2",
    }
);

aws_enum!(
    /// AWS `ImportType`.
    ImportType {
        /// Material the key has not had before (symmetric keys: the next
        /// material, made current by RotateKeyOnDemand).
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        /// Material the key already had, re-imported (after expiry or
        /// deletion, or to change its expiry).
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
);

aws_enum!(
    /// AWS `ExpirationModelType`.
    ExpirationModel {
        /// The material is deleted at ValidTo.
        KeyMaterialExpires = "KEY_MATERIAL_EXPIRES",
        /// The material stays until DeleteImportedKeyMaterial.
        KeyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

aws_enum!(
    /// AWS `ImportState` (ListKeyRotations of EXTERNAL keys).
    ImportState {
        /// The material is present.
        Imported = "IMPORTED",
        /// The material expired or was deleted; re-import restores it.
        PendingImport = "PENDING_IMPORT",
    }
);

/// How long import parameters (wrapping key pair and token) are valid.
pub const PARAMETERS_VALID_MS: i64 = 24 * 60 * 60 * 1000;

/// The longest KeyMaterialDescription (AWS: 256 characters).
pub const MAX_MATERIAL_DESCRIPTION_LEN: usize = 256;

impl WrappingAlgorithm {
    /// Whether kmsd (like AWS outside China) offers this algorithm.
    pub fn is_offered(self) -> bool {
        !matches!(
            self,
            WrappingAlgorithm::RsaesPkcs1V15 | WrappingAlgorithm::Sm2Pke
        )
    }

    /// Whether the material is under AES key wrap behind an RSA-wrapped
    /// ephemeral AES key (the RSA_AES_KEY_WRAP_* algorithms).
    pub fn is_two_step(self) -> bool {
        matches!(
            self,
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
        )
    }
}

impl WrappingKeySpec {
    /// The RSA modulus length in bits (`None` for SM2).
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            WrappingKeySpec::Rsa2048 => Some(2048),
            WrappingKeySpec::Rsa3072 => Some(3072),
            WrappingKeySpec::Rsa4096 => Some(4096),
            WrappingKeySpec::Sm2 => None,
        }
    }
}

/// Whether keys of `spec` can have origin EXTERNAL in kmsd: symmetric
/// (SYMMETRIC_DEFAULT), HMAC, RSA and ECC (NIST curves and secp256k1), as
/// the issue and AWS's import documentation list. Ed25519, ML-DSA and
/// ML-KEM keys are generated only (docs/api.md).
pub fn spec_accepts_import(spec: KeySpec) -> bool {
    use KeySpec::*;
    matches!(
        spec,
        SymmetricDefault
            | Hmac224
            | Hmac256
            | Hmac384
            | Hmac512
            | Rsa2048
            | Rsa3072
            | Rsa4096
            | EccNistP256
            | EccNistP384
            | EccNistP521
            | EccSecgP256k1
    )
}

/// AWS's rule of which wrapping suits material of `spec`: RSA private keys
/// only under RSA_AES_KEY_WRAP_*; ECC_NIST_P521 not under RSAES_OAEP_* with
/// an RSA_2048 wrapping key (it does not fit). `Err` is the reason, for a
/// ValidationException.
pub fn check_wrapping(
    spec: KeySpec,
    alg: WrappingAlgorithm,
    wrapping_spec: WrappingKeySpec,
) -> Result<(), &'static str> {
    if !alg.is_offered() || wrapping_spec.rsa_bits().is_none() {
        return Err("this wrapping algorithm or wrapping key spec is not supported");
    }
    let rsa = matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096);
    if rsa && !alg.is_two_step() {
        return Err("RSA key material can only be wrapped with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256");
    }
    if spec == KeySpec::EccNistP521
        && !alg.is_two_step()
        && wrapping_spec == WrappingKeySpec::Rsa2048
    {
        return Err("ECC_NIST_P521 key material cannot be wrapped with RSAES_OAEP_SHA_* under an RSA_2048 wrapping key");
    }
    Ok(())
}

/// The lengths (inclusive range, bytes) of imported symmetric and HMAC
/// material of `spec`, as AWS accepts them: 32 bytes for SYMMETRIC_DEFAULT;
/// for HMAC from the digest length up to the hash's block size... as AWS
/// lists them (HMAC_224 28–64, HMAC_256 32–64, HMAC_384 48–128, HMAC_512
/// 64–128). `None` for asymmetric specs (a PKCS#8 private key instead).
pub fn raw_material_len(spec: KeySpec) -> Option<(usize, usize)> {
    match spec {
        KeySpec::SymmetricDefault => Some((32, 32)),
        KeySpec::Hmac224 => Some((28, 64)),
        KeySpec::Hmac256 => Some((32, 64)),
        KeySpec::Hmac384 => Some((48, 128)),
        KeySpec::Hmac512 => Some((64, 128)),
        _ => None,
    }
}

/// Whether a key of `spec` may hold several imported materials (AWS:
/// single-Region symmetric encryption keys only).
pub fn spec_takes_several_materials(spec: KeySpec) -> bool {
    spec == KeySpec::SymmetricDefault
}

/// The import parameters GetParametersForImport made for a key (one per
/// key: a newer call replaces them, which supersedes older tokens). The
/// `import_params` column family's value, keyed by key id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParameters {
    /// The key they are for.
    #[serde(with = "super::key::key_id_string")]
    pub key_id: KeyId,
    /// The key's account.
    pub account: String,
    /// Random id of this set (hex), bound into the token: a token whose id
    /// is not the stored one is superseded.
    pub params_id: String,
    /// The wrapping algorithm chosen.
    pub wrapping_algorithm: WrappingAlgorithm,
    /// The wrapping key spec chosen.
    pub wrapping_key_spec: WrappingKeySpec,
    /// When made, Unix ms.
    pub created_ms: i64,
    /// When the parameters expire (created + 24 h), Unix ms.
    pub expires_ms: i64,
    /// The wrapping private key (PKCS#8), sealed by the backend; never
    /// stored in the clear.
    pub sealed_private_key: SealedBlob,
}

/// What DescribeKey reports of an EXTERNAL key's current imported
/// material, kept on the key record (written in the same batch as the
/// material) so DescribeKey needs no material read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedMaterialInfo {
    /// KeyMaterialId of the current material.
    pub material_id: String,
    /// Its expiration model.
    pub expiration_model: ExpirationModel,
    /// ValidTo, Unix ms (KEY_MATERIAL_EXPIRES only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_rules_follow_aws() {
        use WrappingAlgorithm as A;
        use WrappingKeySpec as W;
        for alg in A::ALL {
            for w in W::ALL {
                let r = check_wrapping(KeySpec::SymmetricDefault, *alg, *w);
                assert_eq!(r.is_ok(), alg.is_offered() && *w != W::Sm2, "{alg} {w}");
            }
        }
        assert!(check_wrapping(KeySpec::Rsa2048, A::RsaesOaepSha256, W::Rsa4096).is_err());
        assert!(check_wrapping(KeySpec::Rsa4096, A::RsaAesKeyWrapSha1, W::Rsa2048).is_ok());
        assert!(check_wrapping(KeySpec::EccNistP521, A::RsaesOaepSha1, W::Rsa2048).is_err());
        assert!(check_wrapping(KeySpec::EccNistP521, A::RsaesOaepSha1, W::Rsa3072).is_ok());
        assert!(check_wrapping(KeySpec::EccNistP521, A::RsaAesKeyWrapSha256, W::Rsa2048).is_ok());
        assert!(check_wrapping(KeySpec::EccNistP384, A::RsaesOaepSha256, W::Rsa2048).is_ok());
    }

    #[test]
    fn import_specs_and_lengths() {
        assert!(spec_accepts_import(KeySpec::EccSecgP256k1));
        assert!(!spec_accepts_import(KeySpec::EccNistEdwards25519));
        assert!(!spec_accepts_import(KeySpec::MlDsa44));
        assert_eq!(raw_material_len(KeySpec::SymmetricDefault), Some((32, 32)));
        assert_eq!(raw_material_len(KeySpec::Hmac512), Some((64, 128)));
        assert_eq!(raw_material_len(KeySpec::Rsa2048), None);
        assert!(spec_takes_several_materials(KeySpec::SymmetricDefault));
        assert!(!spec_takes_several_materials(KeySpec::Hmac256));
    }
}
