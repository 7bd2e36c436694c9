//! Asymmetric keys' public side and signatures: GetPublicKey, Sign, Verify.
//!
//! Sign runs in the backend (the private key never leaves it); Verify and
//! GetPublicKey need only the public key, which the core takes from the
//! key's loaded material. Field rules that do not depend on the key (a
//! missing algorithm, a message type the algorithm does not take, a
//! digest of the wrong length) are checked before the key is looked up,
//! so such a request costs nothing and changes nothing.

use std::sync::Arc;

use super::key_use::{check_listed, check_usage, required, MAX_MESSAGE, MAX_SIGNATURE};
use super::request::{GetPublicKeyRequest, SignRequest, VerifyRequest};
use super::{validate, AuthzInput, Caller, Kms};
use crate::crypto::asymmetric;
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyRecord, KeyUsage, MessageType, Operation, SigningAlgorithm};

/// GetPublicKey's result.
#[derive(Debug)]
pub struct PublicKeyOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
}

/// Sign's result.
#[derive(Debug)]
pub struct SignOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The signature (ECDSA: DER).
    pub signature: Vec<u8>,
    /// The algorithm used.
    pub signing_algorithm: SigningAlgorithm,
}

/// Verify's result (a signature that does not verify is an error).
#[derive(Debug)]
pub struct VerifyOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The algorithm used.
    pub signing_algorithm: SigningAlgorithm,
}

/// Checks what Sign and Verify ask of the message, apart from the key:
/// the algorithm is given, takes this message type, and the message has
/// the length the type requires.
fn check_message(
    message: &[u8],
    message_type: Option<MessageType>,
    alg: Option<SigningAlgorithm>,
) -> KmsResult<(SigningAlgorithm, MessageType)> {
    validate::length("message", message.len(), 1, MAX_MESSAGE)?;
    let alg = required("signingAlgorithm", alg)?;
    let message_type = message_type.unwrap_or(MessageType::Raw);
    if !alg.message_types().contains(&message_type) {
        return Err(KmsError::Validation(format!(
            "The signing algorithm {alg} does not accept MessageType {message_type}"
        )));
    }
    if let Some(len) = alg.fixed_message_len(message_type) {
        if message.len() != len {
            return Err(KmsError::Validation(format!(
                "A {message_type} message for {alg} must be exactly {len} bytes long, not {}",
                message.len()
            )));
        }
    }
    Ok((alg, message_type))
}

/// The policy input of Sign and Verify.
fn signing_input(alg: SigningAlgorithm, message_type: MessageType) -> AuthzInput<'static> {
    AuthzInput::default()
        .value("kms:signingalgorithm", alg.as_aws_str())
        .value("kms:messagetype", message_type.as_aws_str())
}

impl Kms {
    /// GetPublicKey: the public key of an asymmetric key, DER
    /// SubjectPublicKeyInfo. Symmetric and HMAC keys have none
    /// (UnsupportedOperationException, as AWS).
    pub async fn get_public_key(
        &self,
        caller: &Caller,
        req: GetPublicKeyRequest,
    ) -> KmsResult<PublicKeyOutput> {
        let inner = &self.inner;
        inner.check_grant_tokens(&req.grant_tokens)?;
        let key = inner
            .resolve(
                caller,
                &req.key_id,
                Operation::GetPublicKey,
                &AuthzInput::default(),
            )
            .await?;
        inner
            .verify_grant_tokens(&req.grant_tokens, &[key.id])
            .await?;
        if !key.spec.is_asymmetric() {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is not an asymmetric KMS key ({}): it has no public key",
                key.arn(&inner.region),
                key.spec
            )));
        }
        let material = inner.current_material(&key).await?;
        let public_key = inner.public_key_of(&key, &*material)?.to_vec();
        Ok(PublicKeyOutput { key, public_key })
    }

    /// The key of a Sign or Verify, resolved and authorized with the
    /// request's signing condition keys, its grant tokens checked, and
    /// refused unless it is a SIGN_VERIFY key offering `alg`.
    async fn signing_key(
        &self,
        caller: &Caller,
        key_id: &str,
        grant_tokens: &[String],
        op: Operation,
        alg: SigningAlgorithm,
        message_type: MessageType,
    ) -> KmsResult<Arc<KeyRecord>> {
        let inner = &self.inner;
        inner.check_grant_tokens(grant_tokens)?;
        let key = inner
            .resolve(caller, key_id, op, &signing_input(alg, message_type))
            .await?;
        inner.verify_grant_tokens(grant_tokens, &[key.id]).await?;
        check_usage(&key, KeyUsage::SignVerify, op, &inner.region)?;
        check_listed(
            &key,
            alg,
            key.spec.signing_algorithms(),
            "signing algorithm",
            &inner.region,
        )?;
        Ok(key)
    }

    /// Sign: a signature by the key's private key over a message, its
    /// digest, or (ML-DSA) its representative mu.
    pub async fn sign(&self, caller: &Caller, req: SignRequest) -> KmsResult<SignOutput> {
        let (alg, message_type) =
            check_message(&req.message, req.message_type, req.signing_algorithm)?;
        let inner = &self.inner;
        let key = self
            .signing_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::Sign,
                alg,
                message_type,
            )
            .await?;
        let material = inner.current_material(&key).await?;
        let message = req.message;
        let signature = inner
            .private_op(material, move |m| {
                m.sign(alg, message_type, &message)
                    .map_err(|e| super::key_use::input_error("message", e))
            })
            .await?;
        Ok(SignOutput {
            key,
            signature,
            signing_algorithm: alg,
        })
    }

    /// Verify: checks a signature with the key's public key; one that does
    /// not verify is KMSInvalidSignatureException, never "false".
    pub async fn verify(&self, caller: &Caller, req: VerifyRequest) -> KmsResult<VerifyOutput> {
        let (alg, message_type) =
            check_message(&req.message, req.message_type, req.signing_algorithm)?;
        validate::length("signature", req.signature.len(), 1, MAX_SIGNATURE)?;
        let inner = &self.inner;
        let key = self
            .signing_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::Verify,
                alg,
                message_type,
            )
            .await?;
        let material = inner.current_material(&key).await?;
        let public_key = inner.public_key_of(&key, &*material)?;
        // A malformed signature (not DER, wrong length) is as invalid as a
        // wrong one: the caller learns only that it does not verify.
        let valid = asymmetric::verify(
            key.spec,
            public_key,
            alg,
            message_type,
            &req.message,
            &req.signature,
        )
        .unwrap_or(false);
        if !valid {
            return Err(KmsError::InvalidSignature(format!(
                "The signature does not verify for the message, {alg} and {}",
                key.arn(&inner.region)
            )));
        }
        Ok(VerifyOutput {
            key,
            signing_algorithm: alg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_rules_come_before_the_key() {
        use MessageType::*;
        use SigningAlgorithm as S;
        let digest32 = [1u8; 32];
        assert!(check_message(&digest32, Some(Digest), Some(S::EcdsaSha256)).is_ok());
        // Wrong digest length.
        assert!(matches!(
            check_message(&digest32, Some(Digest), Some(S::EcdsaSha384)),
            Err(KmsError::Validation(_))
        ));
        // No algorithm.
        assert!(matches!(
            check_message(b"m", None, None),
            Err(KmsError::Validation(_))
        ));
        // RAW is the default; empty and oversized messages are refused.
        assert_eq!(
            check_message(b"m", None, Some(S::RsassaPssSha256)).expect("raw"),
            (S::RsassaPssSha256, Raw)
        );
        assert!(check_message(b"", None, Some(S::EcdsaSha256)).is_err());
        assert!(check_message(&[0; MAX_MESSAGE], None, Some(S::EcdsaSha256)).is_ok());
        assert!(check_message(&[0; MAX_MESSAGE + 1], None, Some(S::EcdsaSha256)).is_err());
        // Message types per algorithm.
        assert!(check_message(&[0; 64], Some(Digest), Some(S::Ed25519Sha512)).is_err());
        assert!(check_message(b"m", Some(Raw), Some(S::Ed25519Sha512)).is_ok());
        assert!(check_message(&[0; 64], Some(Digest), Some(S::Ed25519PhSha512)).is_ok());
        assert!(check_message(&[0; 64], Some(ExternalMu), Some(S::MlDsaShake256)).is_ok());
        assert!(check_message(&[0; 63], Some(ExternalMu), Some(S::MlDsaShake256)).is_err());
        assert!(check_message(&[0; 64], Some(Digest), Some(S::MlDsaShake256)).is_err());
        assert!(check_message(&[0; 64], Some(ExternalMu), Some(S::EcdsaSha512)).is_err());
    }
}
