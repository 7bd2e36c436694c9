//! DeriveSharedSecret: ECDH between a KEY_AGREEMENT key's private key and
//! a caller's public key (DER SubjectPublicKeyInfo on the key's curve).
//!
//! AWS can also return the secret encrypted for a Nitro enclave
//! (`Recipient` with an attestation document); kmsd has no enclaves and
//! refuses that with UnsupportedOperationException (docs/api.md).

use std::sync::Arc;

use super::key_use::{check_listed, check_usage, input_error, required, MAX_PUBLIC_KEY};
use super::request::DeriveSharedSecretRequest;
use super::{validate, AuthzInput, Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyAgreementAlgorithm, KeyRecord, KeyUsage, Operation};
use crate::secret::Plaintext;

/// DeriveSharedSecret's result. No `Debug`: it carries the secret.
pub struct SharedSecretOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The raw shared secret (the x-coordinate, as `openssl pkeyutl
    /// -derive` gives it).
    pub shared_secret: Plaintext,
    /// The algorithm used.
    pub key_agreement_algorithm: KeyAgreementAlgorithm,
}

impl Kms {
    /// DeriveSharedSecret.
    pub async fn derive_shared_secret(
        &self,
        caller: &Caller,
        req: DeriveSharedSecretRequest,
    ) -> KmsResult<SharedSecretOutput> {
        let alg = required("keyAgreementAlgorithm", req.key_agreement_algorithm)?;
        validate::length("publicKey", req.public_key.len(), 1, MAX_PUBLIC_KEY)?;
        if req.recipient_attestation_document.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Recipient attestation documents (Nitro Enclaves) are not supported by kmsd".into(),
            ));
        }
        let inner = &self.inner;
        inner.check_grant_tokens(&req.grant_tokens)?;
        let input = AuthzInput::default().value("kms:keyagreementalgorithm", alg.as_aws_str());
        let key = inner
            .resolve(caller, &req.key_id, Operation::DeriveSharedSecret, &input)
            .await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        check_usage(
            &key,
            KeyUsage::KeyAgreement,
            Operation::DeriveSharedSecret,
            &inner.region,
        )?;
        check_listed(
            &key,
            alg,
            key.spec.key_agreement_algorithms(),
            "key agreement algorithm",
            &inner.region,
        )?;
        let material = inner.current_material(&key).await?;
        // A peer key that is not an SPKI of the key's curve (or not a
        // valid point) is the caller's input error.
        let shared_secret = material
            .derive_shared_secret(&req.public_key)
            .map_err(|e| input_error("publicKey", e))?;
        Ok(SharedSecretOutput {
            key,
            shared_secret,
            key_agreement_algorithm: alg,
        })
    }
}
