//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh
//! key pair for use outside kmsd, its private key (PKCS#8 DER) sealed under
//! a symmetric encryption key exactly as GenerateDataKey seals a data key
//! (the same blob format and encryption context), so Decrypt of the
//! private key's blob returns the PKCS#8 bytes.

use std::sync::Arc;

use super::key_use::{check_usage, not_offered, required};
use super::request::{GenerateDataKeyPairRequest, GenerateDataKeyPairWithoutPlaintextRequest};
use super::{AuthzInput, Caller, Kms};
use crate::ciphertext::CanonicalContext;
use crate::crypto::asymmetric;
use crate::error::{KmsError, KmsResult};
use crate::model::{DataKeyPairSpec, KeyRecord, KeySpec, KeyUsage, Operation};
use crate::secret::KeyMaterial;

/// GenerateDataKeyPair(WithoutPlaintext)'s result.
#[derive(Debug)]
pub struct DataKeyPairOutput {
    /// The KMS key that sealed the private key.
    pub key: Arc<KeyRecord>,
    /// The private key sealed under the KMS key.
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The private key, PKCS#8 DER (`None` for WithoutPlaintext).
    pub private_key_plaintext: Option<KeyMaterial>,
    /// The public key, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The pair's spec.
    pub key_pair_spec: DataKeyPairSpec,
    /// KeyMaterialId of the version that sealed the private key.
    pub key_material_id: String,
}

impl Kms {
    /// GenerateDataKeyPair.
    pub async fn generate_data_key_pair(
        &self,
        caller: &Caller,
        req: GenerateDataKeyPairRequest,
    ) -> KmsResult<DataKeyPairOutput> {
        self.data_key_pair(caller, req, true).await
    }

    /// GenerateDataKeyPairWithoutPlaintext.
    pub async fn generate_data_key_pair_without_plaintext(
        &self,
        caller: &Caller,
        req: GenerateDataKeyPairWithoutPlaintextRequest,
    ) -> KmsResult<DataKeyPairOutput> {
        self.data_key_pair(caller, req.0, false).await
    }

    async fn data_key_pair(
        &self,
        caller: &Caller,
        req: GenerateDataKeyPairRequest,
        with_plaintext: bool,
    ) -> KmsResult<DataKeyPairOutput> {
        let spec = required("keyPairSpec", req.key_pair_spec)?;
        if !spec.key_spec().is_offered() {
            return Err(not_offered(spec.key_spec()));
        }
        let inner = &self.inner;
        inner.check_grant_tokens(&req.grant_tokens)?;
        let context = &req.encryption_context;
        let ctx = CanonicalContext::new(context)?;
        let op = if with_plaintext {
            Operation::GenerateDataKeyPair
        } else {
            Operation::GenerateDataKeyPairWithoutPlaintext
        };
        let input =
            AuthzInput::with_context(context).value("kms:datakeypairspec", spec.as_aws_str());
        let key = inner.resolve(caller, &req.key_id, op, &input).await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        check_usage(&key, KeyUsage::EncryptDecrypt, op, &inner.region)?;
        if key.spec != KeySpec::SymmetricDefault {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} is not a symmetric encryption KMS key ({}): {} needs one",
                key.arn(&inner.region),
                key.spec,
                op.name()
            )));
        }
        // AWS: "You cannot use an asymmetric KMS key or a KMS key in a
        // custom key store to encrypt your data key pair."
        if key.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is in a custom key store: {} cannot use it",
                key.arn(&inner.region),
                op.name()
            )));
        }
        // RSA pairs take up to seconds: the bounded generation pool.
        let (private_key, public_key) = inner
            .bounded_generation(move |_| {
                asymmetric::generate_data_key_pair(spec).map_err(KmsError::internal)
            })
            .await?;
        let (private_key_ciphertext_blob, key_material_id) = inner
            .seal_current(&key, &ctx, private_key.expose_secret())
            .await?;
        Ok(DataKeyPairOutput {
            key,
            private_key_ciphertext_blob,
            private_key_plaintext: with_plaintext.then_some(private_key),
            public_key,
            key_pair_spec: spec,
            key_material_id,
        })
    }
}
