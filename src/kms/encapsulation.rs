//! ML-KEM keys (FIPS 203): Encapsulate (with the public key: a fresh
//! shared secret and its ciphertext) and Decapsulate (with the private
//! key, in the backend).

use std::sync::Arc;

use super::key_use::{check_listed, check_usage, required};
use super::request::{DecapsulateRequest, EncapsulateRequest};
use super::{AuthzInput, Caller, Kms};
use crate::crypto::asymmetric;
use crate::error::{KmsError, KmsResult};
use crate::model::{EncapsulationAlgorithm, KeyRecord, KeyUsage, Operation};
use crate::secret::Plaintext;

/// Encapsulate's result.
#[derive(Debug)]
pub struct EncapsulateOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The 32-byte shared secret.
    pub shared_secret: Plaintext,
    /// Its ciphertext, for the holder of the private key.
    pub ciphertext: Vec<u8>,
    /// The algorithm used.
    pub encapsulation_algorithm: EncapsulationAlgorithm,
}

/// Decapsulate's result.
#[derive(Debug)]
pub struct DecapsulateOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The 32-byte shared secret.
    pub shared_secret: Plaintext,
    /// The algorithm used.
    pub encapsulation_algorithm: EncapsulationAlgorithm,
}

impl Kms {
    /// Resolves an ML-KEM key for `op` and checks it takes `alg`.
    async fn kem_key(
        &self,
        caller: &Caller,
        key_id: &str,
        grant_tokens: &[String],
        op: Operation,
        alg: EncapsulationAlgorithm,
    ) -> KmsResult<Arc<KeyRecord>> {
        let inner = &self.inner;
        inner.check_grant_tokens(grant_tokens)?;
        let key = inner
            .resolve(caller, key_id, op, &AuthzInput::default())
            .await?;
        inner.verify_grant_tokens(grant_tokens, &[key.id]).await?;
        check_usage(&key, KeyUsage::EncapsulateDecapsulate, op, &inner.region)?;
        check_listed(
            &key,
            alg,
            key.spec.encapsulation_algorithms(),
            "encapsulation algorithm",
            &inner.region,
        )?;
        Ok(key)
    }

    /// Encapsulate.
    pub async fn encapsulate(
        &self,
        caller: &Caller,
        req: EncapsulateRequest,
    ) -> KmsResult<EncapsulateOutput> {
        let alg = required("encapsulationAlgorithm", req.encapsulation_algorithm)?;
        let key = self
            .kem_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::Encapsulate,
                alg,
            )
            .await?;
        let material = self.inner.current_material(&key).await?;
        let public_key = self.inner.public_key_of(&key, &*material)?;
        let (ciphertext, shared_secret) =
            asymmetric::encapsulate(key.spec, public_key).map_err(KmsError::internal)?;
        Ok(EncapsulateOutput {
            key,
            shared_secret,
            ciphertext,
            encapsulation_algorithm: alg,
        })
    }

    /// Decapsulate. A ciphertext of the wrong length for the key's
    /// parameter set is InvalidCiphertextException; one of the right length
    /// always decapsulates (ML-KEM's implicit rejection gives a secret
    /// unrelated to the key's for a forged one).
    pub async fn decapsulate(
        &self,
        caller: &Caller,
        req: DecapsulateRequest,
    ) -> KmsResult<DecapsulateOutput> {
        let alg = required("encapsulationAlgorithm", req.encapsulation_algorithm)?;
        if req.ciphertext.is_empty() {
            return Err(super::validate::validation(
                "sharedSecretCiphertextBlob",
                "Member must have length greater than or equal to 1",
            ));
        }
        let key = self
            .kem_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::Decapsulate,
                alg,
            )
            .await?;
        if Some(req.ciphertext.len()) != key.spec.ml_kem_ciphertext_len() {
            return Err(KmsError::InvalidCiphertext(format!(
                "The ciphertext is not an {} ciphertext",
                key.spec
            )));
        }
        let material = self.inner.current_material(&key).await?;
        let shared_secret = material
            .decapsulate(&req.ciphertext)
            .map_err(|_| KmsError::InvalidCiphertext("The ciphertext is invalid.".into()))?;
        Ok(DecapsulateOutput {
            key,
            shared_secret,
            encapsulation_algorithm: alg,
        })
    }
}
