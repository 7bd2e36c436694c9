//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom.
//!
//! This is the hot path. With warm caches a call does: parse the KeyId,
//! look up the key record (cache), authorize, check state, look up the
//! material (cache), draw random bytes, one AES-GCM operation. No RocksDB
//! access, no blocking, nothing that grows with the number of keys.

use std::collections::HashMap;
use std::sync::Arc;

use super::{not_found_key, validate, AuthzInput, Caller, Inner, Kms};
use crate::ciphertext::{self, BlobHeader, CanonicalContext, MAX_BLOB_LEN};
use crate::error::{KmsError, KmsResult};
use crate::model::ids::key_material_id;
use crate::model::{DataKeySpec, EncryptionAlgorithm, KeyRecord, KeyUsage, Operation};
use crate::secret::Plaintext;

/// Encrypt's result.
#[derive(Debug)]
pub struct EncryptOutput {
    /// The ciphertext blob.
    pub ciphertext_blob: Vec<u8>,
    /// The key used.
    pub key: Arc<KeyRecord>,
    /// KeyMaterialId of the version used.
    pub key_material_id: String,
}

/// Decrypt's result.
#[derive(Debug)]
pub struct DecryptOutput {
    /// The plaintext.
    pub plaintext: Plaintext,
    /// The key that had sealed it.
    pub key: Arc<KeyRecord>,
    /// KeyMaterialId of the version that had sealed it.
    pub key_material_id: String,
}

/// ReEncrypt's result.
#[derive(Debug)]
pub struct ReEncryptOutput {
    /// The new ciphertext blob.
    pub ciphertext_blob: Vec<u8>,
    /// The source key.
    pub source_key: Arc<KeyRecord>,
    /// The destination key.
    pub key: Arc<KeyRecord>,
    /// KeyMaterialId that had sealed the source blob.
    pub source_key_material_id: String,
    /// KeyMaterialId that sealed the new blob.
    pub destination_key_material_id: String,
}

/// GenerateDataKey(WithoutPlaintext)'s result.
#[derive(Debug)]
pub struct DataKeyOutput {
    /// The data key sealed under the KMS key.
    pub ciphertext_blob: Vec<u8>,
    /// The data key itself (`None` for WithoutPlaintext).
    pub plaintext: Option<Plaintext>,
    /// The KMS key used.
    pub key: Arc<KeyRecord>,
    /// KeyMaterialId of the version used.
    pub key_material_id: String,
}

/// The policy input of an Encrypt/Decrypt/ReEncrypt side: the encryption
/// context and `kms:EncryptionAlgorithm`.
fn crypto_input<'a>(
    context: &'a HashMap<String, String>,
    alg: Option<EncryptionAlgorithm>,
) -> AuthzInput<'a> {
    let alg = alg.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    AuthzInput::with_context(context).value("kms:encryptionalgorithm", alg.as_aws_str())
}

/// Checks that an (optional) encryption algorithm suits a symmetric key.
fn check_algorithm(
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
    region: &str,
) -> KmsResult<()> {
    let alg = alg.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if !key.spec.encryption_algorithms().contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {alg} is not compatible with the key spec {} of {}",
            key.spec,
            key.arn(region)
        )));
    }
    Ok(())
}

fn check_usage(key: &KeyRecord, op: Operation, region: &str) -> KmsResult<()> {
    if key.usage != KeyUsage::EncryptDecrypt {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {}.",
            key.arn(region),
            key.usage,
            op.name()
        )));
    }
    Ok(())
}

impl Inner {
    /// Seals `plaintext` under the current material of `key`.
    async fn seal_current(
        self: &Arc<Self>,
        key: &KeyRecord,
        ctx: &CanonicalContext,
        plaintext: &[u8],
    ) -> KmsResult<(Vec<u8>, String)> {
        let version = key.current_version;
        let material = self.material(key.id, version).await?;
        let header = BlobHeader {
            key_id: key.id,
            version,
        };
        let blob = ciphertext::seal(header, &*material, ctx, plaintext)?;
        Ok((blob, key_material_id(&key.id, version)))
    }

    /// Opens a blob: finds its key from the header, checks an optional
    /// KeyId against it, authorizes `op`, and decrypts.
    #[allow(clippy::too_many_arguments)]
    async fn open_blob(
        self: &Arc<Self>,
        caller: &Caller,
        op: Operation,
        blob: &[u8],
        context: &HashMap<String, String>,
        ctx: &CanonicalContext,
        key_id: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> KmsResult<(Plaintext, Arc<KeyRecord>, String)> {
        validate::length("ciphertextBlob", blob.len(), 1, MAX_BLOB_LEN)?;
        let header = BlobHeader::parse(blob)?;
        let input = crypto_input(context, alg);
        if let Some(k) = key_id {
            let named = self.resolve(caller, k, op, &input).await?;
            if named.id != header.key_id {
                return Err(KmsError::IncorrectKey(
                    "The key ID in the request does not identify a KMS key that can perform this operation.".into(),
                ));
            }
        }
        let key = match self.key(header.key_id).await? {
            Some(k) => k,
            // The blob names a key that does not (or no longer) exist. Its
            // account is unknown, so the message names the id only.
            None => return Err(not_found_key(&header.key_id.to_string())),
        };
        self.authorize(caller, op, Some(&key), &input).await?;
        key.check_state(op, &self.region)?;
        check_usage(&key, op, &self.region)?;
        check_algorithm(&key, alg, &self.region)?;
        if header.version == 0 || header.version > key.current_version {
            return Err(KmsError::InvalidCiphertext(
                "The ciphertext is invalid, or the encryption context does not match.".into(),
            ));
        }
        let material = self.material(key.id, header.version).await?;
        let plaintext = ciphertext::open(&*material, ctx, blob)?;
        Ok((
            plaintext,
            key,
            key_material_id(&header.key_id, header.version),
        ))
    }
}

impl Kms {
    /// Encrypt: at most 4096 bytes under a symmetric key.
    pub async fn encrypt(
        &self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &HashMap<String, String>,
        grant_tokens: &[String],
        alg: Option<EncryptionAlgorithm>,
    ) -> KmsResult<EncryptOutput> {
        validate::length("plaintext", plaintext.len(), 1, validate::MAX_PLAINTEXT)?;
        self.inner.check_grant_tokens(grant_tokens)?;
        let ctx = CanonicalContext::new(context)?;
        let inner = &self.inner;
        let key = inner
            .resolve(
                caller,
                key_id,
                Operation::Encrypt,
                &crypto_input(context, alg),
            )
            .await?;
        check_usage(&key, Operation::Encrypt, &inner.region)?;
        check_algorithm(&key, alg, &inner.region)?;
        let (ciphertext_blob, key_material_id) = inner.seal_current(&key, &ctx, plaintext).await?;
        Ok(EncryptOutput {
            ciphertext_blob,
            key,
            key_material_id,
        })
    }

    /// Decrypt: the blob names its key, so `key_id` is optional; if given
    /// and different, IncorrectKeyException.
    pub async fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &HashMap<String, String>,
        grant_tokens: &[String],
        key_id: Option<&str>,
        alg: Option<EncryptionAlgorithm>,
    ) -> KmsResult<DecryptOutput> {
        self.inner.check_grant_tokens(grant_tokens)?;
        let ctx = CanonicalContext::new(context)?;
        let (plaintext, key, key_material_id) = self
            .inner
            .open_blob(caller, Operation::Decrypt, blob, context, &ctx, key_id, alg)
            .await?;
        Ok(DecryptOutput {
            plaintext,
            key,
            key_material_id,
        })
    }

    /// ReEncrypt: decrypt under the source key and encrypt under the
    /// destination key, without the plaintext leaving kmsd.
    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        source_context: &HashMap<String, String>,
        source_key_id: Option<&str>,
        destination_key_id: &str,
        destination_context: &HashMap<String, String>,
        source_alg: Option<EncryptionAlgorithm>,
        destination_alg: Option<EncryptionAlgorithm>,
        grant_tokens: &[String],
    ) -> KmsResult<ReEncryptOutput> {
        self.inner.check_grant_tokens(grant_tokens)?;
        let src_ctx = CanonicalContext::new(source_context)?;
        let dst_ctx = CanonicalContext::new(destination_context)?;
        // Validate the destination's name before doing any crypto.
        crate::model::KeyRef::parse(destination_key_id)?;
        let inner = &self.inner;
        let (plaintext, source_key, source_key_material_id) = inner
            .open_blob(
                caller,
                Operation::ReEncryptFrom,
                blob,
                source_context,
                &src_ctx,
                source_key_id,
                source_alg,
            )
            .await?;
        let key = inner
            .resolve(
                caller,
                destination_key_id,
                Operation::ReEncryptTo,
                &crypto_input(destination_context, destination_alg),
            )
            .await?;
        check_usage(&key, Operation::ReEncryptTo, &inner.region)?;
        check_algorithm(&key, destination_alg, &inner.region)?;
        let (ciphertext_blob, destination_key_material_id) = inner
            .seal_current(&key, &dst_ctx, plaintext.expose_secret())
            .await?;
        Ok(ReEncryptOutput {
            ciphertext_blob,
            source_key,
            key,
            source_key_material_id,
            destination_key_material_id,
        })
    }

    /// GenerateDataKey (with_plaintext) or GenerateDataKeyWithoutPlaintext.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        key_id: &str,
        context: &HashMap<String, String>,
        number_of_bytes: Option<i32>,
        key_spec: Option<DataKeySpec>,
        grant_tokens: &[String],
        with_plaintext: bool,
    ) -> KmsResult<DataKeyOutput> {
        let len = match (number_of_bytes, key_spec) {
            (Some(_), Some(_)) => {
                return Err(KmsError::Validation(
                    "Specify either KeySpec or NumberOfBytes, not both".into(),
                ))
            }
            (None, None) => {
                return Err(KmsError::Validation(
                    "Specify either KeySpec or NumberOfBytes".into(),
                ))
            }
            (Some(n), None) => {
                validate::range("numberOfBytes", n, 1, 1024)?;
                usize::try_from(n).unwrap_or(0)
            }
            (None, Some(spec)) => spec.byte_len(),
        };
        self.inner.check_grant_tokens(grant_tokens)?;
        let ctx = CanonicalContext::new(context)?;
        let op = if with_plaintext {
            Operation::GenerateDataKey
        } else {
            Operation::GenerateDataKeyWithoutPlaintext
        };
        let inner = &self.inner;
        let key = inner
            .resolve(caller, key_id, op, &AuthzInput::with_context(context))
            .await?;
        check_usage(&key, op, &inner.region)?;
        let data_key = Plaintext::random(len).map_err(KmsError::internal)?;
        let (ciphertext_blob, key_material_id) = inner
            .seal_current(&key, &ctx, data_key.expose_secret())
            .await?;
        Ok(DataKeyOutput {
            ciphertext_blob,
            plaintext: with_plaintext.then_some(data_key),
            key,
            key_material_id,
        })
    }

    /// GenerateRandom: 1–1024 random bytes.
    pub async fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: Option<i32>,
        custom_key_store_id: Option<&str>,
    ) -> KmsResult<Plaintext> {
        let n = number_of_bytes
            .ok_or_else(|| validate::validation("numberOfBytes", "Member must not be null"))?;
        validate::range("numberOfBytes", n, 1, 1024)?;
        if custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported by this kmsd version".into(),
            ));
        }
        self.inner
            .authorize(
                caller,
                Operation::GenerateRandom,
                None,
                &AuthzInput::default(),
            )
            .await?;
        Plaintext::random(usize::try_from(n).unwrap_or(0)).map_err(KmsError::internal)
    }
}
