//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt (under symmetric
//! keys and, with RSA-OAEP, RSA keys), GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom.
//!
//! This is the hot path. With warm caches a call does: parse the KeyId,
//! look up the key record (cache), authorize, check state, look up the
//! material (cache), draw random bytes, one AES-GCM operation. No RocksDB
//! access, no blocking, nothing that grows with the number of keys.

use std::collections::HashMap;
use std::sync::Arc;

use super::request::{
    DecryptRequest, EncryptRequest, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    GenerateRandomRequest, ReEncryptRequest,
};
use super::{key_use, validate, AuthzInput, Caller, Inner, Kms, Resource};
use crate::ciphertext::{self, BlobHeader, CanonicalContext, MAX_BLOB_LEN};
use crate::crypto::asymmetric;
use crate::error::{KmsError, KmsResult};
use crate::model::{EncryptionAlgorithm, KeyRecord, KeySpec, KeyUsage, Operation};
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
    /// The algorithm the blob was sealed with.
    pub encryption_algorithm: EncryptionAlgorithm,
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
    /// The algorithm the blob had been sealed with.
    pub encryption_algorithm: EncryptionAlgorithm,
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
    /// The algorithm the source blob had been sealed with.
    pub source_encryption_algorithm: EncryptionAlgorithm,
    /// The algorithm the new blob was sealed with.
    pub destination_encryption_algorithm: EncryptionAlgorithm,
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

/// Checks that an (optional) encryption algorithm suits the key; returns
/// the algorithm that applies (AWS's default is SYMMETRIC_DEFAULT).
fn check_algorithm(
    key: &KeyRecord,
    alg: Option<EncryptionAlgorithm>,
    region: &str,
) -> KmsResult<EncryptionAlgorithm> {
    let alg = alg.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if !key.spec.encryption_algorithms().contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {alg} is not compatible with the key spec {} of {}",
            key.spec,
            key.arn(region)
        )));
    }
    Ok(alg)
}

/// The error for HSM-held material whose cluster did not answer (every
/// node tried): DependencyTimeoutException, which AWS clients retry.
fn hsm_unavailable(e: crate::backend::BackendError) -> KmsError {
    KmsError::DependencyTimeout(format!(
        "The HSM cluster holding the key material did not answer ({e}); retry later"
    ))
}

/// What Decrypt and the source side of ReEncrypt ask of a blob.
struct OpenBlob<'a> {
    op: Operation,
    blob: &'a [u8],
    context: &'a HashMap<String, String>,
    ctx: &'a CanonicalContext,
    key_id: Option<&'a str>,
    alg: Option<EncryptionAlgorithm>,
}

/// An opened blob.
struct Opened {
    plaintext: Plaintext,
    key: Arc<KeyRecord>,
    key_material_id: String,
    alg: EncryptionAlgorithm,
}

/// An encryption context binds only kmsd's symmetric blobs; RSA-OAEP has
/// nowhere to put it, and accepting one silently would let a caller
/// believe it is bound (AWS supports it on symmetric keys only).
fn no_context_for_asymmetric(context: &HashMap<String, String>) -> KmsResult<()> {
    if !context.is_empty() {
        return Err(validate::validation(
            "encryptionContext",
            "An encryption context is supported only with symmetric encryption KMS keys",
        ));
    }
    Ok(())
}

fn check_usage(key: &KeyRecord, op: Operation, region: &str) -> KmsResult<()> {
    key_use::check_usage(key, KeyUsage::EncryptDecrypt, op, region)
}

/// Data keys are sealed with the symmetric ciphertext format, so they need
/// a SYMMETRIC_DEFAULT key: an RSA ENCRYPT_DECRYPT key passes the usage
/// check but cannot make them (AWS: InvalidKeyUsageException).
fn check_data_key_usage(key: &KeyRecord, op: Operation, region: &str) -> KmsResult<()> {
    check_usage(key, op, region)?;
    if key.spec != KeySpec::SymmetricDefault {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key spec is {} which is not valid for {}.",
            key.arn(region),
            key.spec,
            op.name()
        )));
    }
    Ok(())
}

impl Inner {
    /// Seals `plaintext` under the current material of `key`.
    pub(super) async fn seal_current(
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
        let blob = match material.remote() {
            Some(remote) => {
                ciphertext::seal_remote(header, remote, ctx, plaintext, hsm_unavailable).await?
            }
            None => ciphertext::seal(header, &*material, ctx, plaintext)?,
        };
        Ok((blob, self.material_id_of(key, version).await?))
    }

    /// Encrypts `plaintext` under the current material of `key` with
    /// `alg` (already checked against the key): a kmsd blob for symmetric
    /// keys, the raw RSA-OAEP ciphertext for RSA keys (as AWS: no header,
    /// so Decrypt must be told the key).
    async fn seal_for(
        self: &Arc<Self>,
        key: &KeyRecord,
        alg: EncryptionAlgorithm,
        context: &HashMap<String, String>,
        ctx: &CanonicalContext,
        plaintext: &[u8],
    ) -> KmsResult<(Vec<u8>, String)> {
        if !key.spec.is_asymmetric() {
            return self.seal_current(key, ctx, plaintext).await;
        }
        no_context_for_asymmetric(context)?;
        if let Some(max) = key.spec.max_rsa_plaintext(alg) {
            validate::length("plaintext", plaintext.len(), 1, max)?;
        }
        let material = self.current_material(key).await?;
        let public_key = self.public_key_of(key, &*material)?;
        let ciphertext = asymmetric::encrypt(key.spec, public_key, alg, plaintext)
            .map_err(|e| key_use::crypto_input_error("plaintext", e))?;
        Ok((
            ciphertext,
            self.material_id_of(key, key.current_version).await?,
        ))
    }

    /// Opens a ciphertext: an RSA-OAEP one when the request names an
    /// RSA-OAEP algorithm (such a ciphertext has no header naming its
    /// key), else a kmsd blob.
    async fn open_any(self: &Arc<Self>, caller: &Caller, req: OpenBlob<'_>) -> KmsResult<Opened> {
        match req.alg {
            Some(EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256) => {
                self.open_rsa(caller, req).await
            }
            _ => self.open_blob(caller, req).await,
        }
    }

    /// Decrypts an RSA-OAEP ciphertext with the private key of the key the
    /// request names. Any failure of the decryption itself is the one
    /// opaque InvalidCiphertextException (the private-key operation is
    /// constant time in the backend; see docs/security.md).
    async fn open_rsa(self: &Arc<Self>, caller: &Caller, req: OpenBlob<'_>) -> KmsResult<Opened> {
        let OpenBlob {
            op,
            blob,
            context,
            ctx: _,
            key_id,
            alg,
        } = req;
        validate::length("ciphertextBlob", blob.len(), 1, MAX_BLOB_LEN)?;
        let key_id = key_id.ok_or_else(|| {
            validate::validation(
                "keyId",
                "KeyId is required to decrypt a ciphertext of an asymmetric KMS key",
            )
        })?;
        no_context_for_asymmetric(context)?;
        let key = self
            .resolve(caller, key_id, op, &crypto_input(context, alg))
            .await?;
        check_usage(&key, op, &self.region)?;
        let alg = check_algorithm(&key, alg, &self.region)?;
        let material = self.current_material(&key).await?;
        let ciphertext = blob.to_vec();
        let plaintext = self
            .private_op(material, move |m| {
                m.decrypt(alg, &ciphertext)
                    .map_err(|_| KmsError::InvalidCiphertext("The ciphertext is invalid.".into()))
            })
            .await?;
        Ok(Opened {
            plaintext,
            key_material_id: self.material_id_of(&key, key.current_version).await?,
            key,
            alg,
        })
    }

    /// Opens a blob: finds its key from the header, checks an optional
    /// KeyId against it, authorizes the operation, and decrypts.
    async fn open_blob(self: &Arc<Self>, caller: &Caller, req: OpenBlob<'_>) -> KmsResult<Opened> {
        let OpenBlob {
            op,
            blob,
            context,
            ctx,
            key_id,
            alg,
        } = req;
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
        // A blob whose key does not exist (or no longer does), or that the
        // caller may not use, is denied in AWS's words, which name no key:
        // the blob's key id would otherwise tell its owner's account.
        let Some(key) = self.key(header.key_id).await? else {
            return Err(self.denied_ciphertext(caller, op));
        };
        self.authorize(caller, op, Resource::Key(&key), &input)
            .await
            .map_err(|e| match e {
                KmsError::AccessDenied(_) => self.denied_ciphertext(caller, op),
                other => other,
            })?;
        // A key of a custom key store that is not connected is Unavailable
        // (KMSInvalidStateException), as on the KeyId path (`resolve`);
        // the stored state alone would send the call to a disconnected
        // backend (DependencyTimeoutException).
        let key = self.effective_key(key, op).await?;
        key.check_state(op, &self.region)?;
        check_usage(&key, op, &self.region)?;
        let alg = check_algorithm(&key, alg, &self.region)?;
        if header.version == 0 || header.version > key.current_version {
            return Err(KmsError::InvalidCiphertext(
                "The ciphertext is invalid, or the encryption context does not match.".into(),
            ));
        }
        let material = self.material(key.id, header.version).await?;
        let plaintext = match material.remote() {
            Some(remote) => ciphertext::open_remote(remote, ctx, blob, hsm_unavailable).await?,
            None => ciphertext::open(&*material, ctx, blob)?,
        };
        let key_material_id = self.material_id_of(&key, header.version).await?;
        Ok(Opened {
            plaintext,
            key,
            key_material_id,
            alg,
        })
    }
}

impl Kms {
    /// Encrypt: at most 4096 bytes under a symmetric key.
    pub async fn encrypt(&self, caller: &Caller, req: EncryptRequest) -> KmsResult<EncryptOutput> {
        let plaintext = req.plaintext.expose_secret();
        validate::length("plaintext", plaintext.len(), 1, validate::MAX_PLAINTEXT)?;
        self.inner.check_grant_tokens(&req.grant_tokens)?;
        let context = &req.encryption_context;
        let alg = req.encryption_algorithm;
        let ctx = CanonicalContext::new(context)?;
        let inner = &self.inner;
        let key = inner
            .resolve(
                caller,
                &req.key_id,
                Operation::Encrypt,
                &crypto_input(context, alg),
            )
            .await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        check_usage(&key, Operation::Encrypt, &inner.region)?;
        let encryption_algorithm = check_algorithm(&key, alg, &inner.region)?;
        let (ciphertext_blob, key_material_id) = inner
            .seal_for(&key, encryption_algorithm, context, &ctx, plaintext)
            .await?;
        Ok(EncryptOutput {
            ciphertext_blob,
            key,
            key_material_id,
            encryption_algorithm,
        })
    }

    /// Decrypt: the blob names its key, so `key_id` is optional; if given
    /// and different, IncorrectKeyException.
    pub async fn decrypt(&self, caller: &Caller, req: DecryptRequest) -> KmsResult<DecryptOutput> {
        self.inner.check_grant_tokens(&req.grant_tokens)?;
        let ctx = CanonicalContext::new(&req.encryption_context)?;
        let opened = self
            .inner
            .open_any(
                caller,
                OpenBlob {
                    op: Operation::Decrypt,
                    blob: &req.ciphertext_blob,
                    context: &req.encryption_context,
                    ctx: &ctx,
                    key_id: req.key_id.as_deref(),
                    alg: req.encryption_algorithm,
                },
            )
            .await?;
        self.inner
            .verify_grant_tokens(&req.grant_tokens, &[opened.key.id])
            .await?;
        Ok(DecryptOutput {
            plaintext: opened.plaintext,
            key: opened.key,
            key_material_id: opened.key_material_id,
            encryption_algorithm: opened.alg,
        })
    }

    /// ReEncrypt: decrypt under the source key and encrypt under the
    /// destination key, without the plaintext leaving kmsd.
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        req: ReEncryptRequest,
    ) -> KmsResult<ReEncryptOutput> {
        self.inner.check_grant_tokens(&req.grant_tokens)?;
        let src_ctx = CanonicalContext::new(&req.source_encryption_context)?;
        let dst_ctx = CanonicalContext::new(&req.destination_encryption_context)?;
        // Validate the destination's name before doing any crypto.
        crate::model::KeyRef::parse(&req.destination_key_id)?;
        let inner = &self.inner;
        let source = inner
            .open_any(
                caller,
                OpenBlob {
                    op: Operation::ReEncryptFrom,
                    blob: &req.ciphertext_blob,
                    context: &req.source_encryption_context,
                    ctx: &src_ctx,
                    key_id: req.source_key_id.as_deref(),
                    alg: req.source_encryption_algorithm,
                },
            )
            .await?;
        let dst_alg = req.destination_encryption_algorithm;
        let key = inner
            .resolve(
                caller,
                &req.destination_key_id,
                Operation::ReEncryptTo,
                &crypto_input(&req.destination_encryption_context, dst_alg),
            )
            .await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[source.key.id, key.id])
            .await?;
        check_usage(&key, Operation::ReEncryptTo, &inner.region)?;
        let destination_encryption_algorithm = check_algorithm(&key, dst_alg, &inner.region)?;
        let (ciphertext_blob, destination_key_material_id) = inner
            .seal_for(
                &key,
                destination_encryption_algorithm,
                &req.destination_encryption_context,
                &dst_ctx,
                source.plaintext.expose_secret(),
            )
            .await?;
        Ok(ReEncryptOutput {
            ciphertext_blob,
            source_key: source.key,
            key,
            source_key_material_id: source.key_material_id,
            destination_key_material_id,
            source_encryption_algorithm: source.alg,
            destination_encryption_algorithm,
        })
    }

    /// GenerateDataKey: a fresh data key, returned in plaintext and sealed
    /// under the KMS key.
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
    ) -> KmsResult<DataKeyOutput> {
        self.data_key(caller, req, true).await
    }

    /// GenerateDataKeyWithoutPlaintext: the same, returned only sealed.
    pub async fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        req: GenerateDataKeyWithoutPlaintextRequest,
    ) -> KmsResult<DataKeyOutput> {
        self.data_key(caller, req.0, false).await
    }

    async fn data_key(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
        with_plaintext: bool,
    ) -> KmsResult<DataKeyOutput> {
        let len = match (req.number_of_bytes, req.key_spec) {
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
        self.inner.check_grant_tokens(&req.grant_tokens)?;
        let context = &req.encryption_context;
        let ctx = CanonicalContext::new(context)?;
        let op = if with_plaintext {
            Operation::GenerateDataKey
        } else {
            Operation::GenerateDataKeyWithoutPlaintext
        };
        let inner = &self.inner;
        let key = inner
            .resolve(caller, &req.key_id, op, &AuthzInput::with_context(context))
            .await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        check_data_key_usage(&key, op, &inner.region)?;
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
        req: GenerateRandomRequest,
    ) -> KmsResult<Plaintext> {
        let n = req
            .number_of_bytes
            .ok_or_else(|| validate::validation("numberOfBytes", "Member must not be null"))?;
        validate::range("numberOfBytes", n, 1, 1024)?;
        if req.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported by this kmsd version".into(),
            ));
        }
        self.inner
            .authorize(
                caller,
                Operation::GenerateRandom,
                Resource::None,
                &AuthzInput::default(),
            )
            .await?;
        Plaintext::random(usize::try_from(n).unwrap_or(0)).map_err(KmsError::internal)
    }
}
