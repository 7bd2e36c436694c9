//! HMAC keys: GenerateMac and VerifyMac. The comparison of VerifyMac is
//! the backend's, in constant time; a MAC that does not verify is
//! KMSInvalidMacException.

use std::sync::Arc;

use super::key_use::{check_listed, check_usage, required, MAX_MESSAGE, MAX_SIGNATURE};
use super::request::{GenerateMacRequest, VerifyMacRequest};
use super::{validate, AuthzInput, Caller, Kms};
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyRecord, KeyUsage, MacAlgorithm, Operation};

/// GenerateMac's result.
#[derive(Debug)]
pub struct MacOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The MAC.
    pub mac: Vec<u8>,
    /// The algorithm used.
    pub mac_algorithm: MacAlgorithm,
}

/// VerifyMac's result (a MAC that does not verify is an error).
#[derive(Debug)]
pub struct VerifyMacOutput {
    /// The key.
    pub key: Arc<KeyRecord>,
    /// The algorithm used.
    pub mac_algorithm: MacAlgorithm,
}

impl Kms {
    /// Resolves an HMAC key for `op` and checks it takes `alg`.
    async fn mac_key(
        &self,
        caller: &Caller,
        key_id: &str,
        grant_tokens: &[String],
        op: Operation,
        alg: MacAlgorithm,
    ) -> KmsResult<Arc<KeyRecord>> {
        let inner = &self.inner;
        inner.check_grant_tokens(grant_tokens)?;
        let input = AuthzInput::default().value("kms:macalgorithm", alg.as_aws_str());
        let key = inner.resolve(caller, key_id, op, &input).await?;
        inner.verify_grant_tokens(grant_tokens, &[key.id]).await?;
        check_usage(&key, KeyUsage::GenerateVerifyMac, op, &inner.region)?;
        check_listed(
            &key,
            alg,
            key.spec.mac_algorithms(),
            "MAC algorithm",
            &inner.region,
        )?;
        Ok(key)
    }

    /// GenerateMac: the HMAC of a 1–4096-byte message.
    pub async fn generate_mac(
        &self,
        caller: &Caller,
        req: GenerateMacRequest,
    ) -> KmsResult<MacOutput> {
        validate::length("message", req.message.len(), 1, MAX_MESSAGE)?;
        let alg = required("macAlgorithm", req.mac_algorithm)?;
        let key = self
            .mac_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::GenerateMac,
                alg,
            )
            .await?;
        let material = self.inner.current_material(&key).await?;
        let mac = material
            .mac(alg, &req.message)
            .map_err(KmsError::internal)?;
        Ok(MacOutput {
            key,
            mac,
            mac_algorithm: alg,
        })
    }

    /// VerifyMac: whether `mac` is the message's HMAC under the key.
    pub async fn verify_mac(
        &self,
        caller: &Caller,
        req: VerifyMacRequest,
    ) -> KmsResult<VerifyMacOutput> {
        validate::length("message", req.message.len(), 1, MAX_MESSAGE)?;
        validate::length("mac", req.mac.len(), 1, MAX_SIGNATURE)?;
        let alg = required("macAlgorithm", req.mac_algorithm)?;
        let key = self
            .mac_key(
                caller,
                &req.key_id,
                &req.grant_tokens,
                Operation::VerifyMac,
                alg,
            )
            .await?;
        let material = self.inner.current_material(&key).await?;
        // A MAC of the wrong length is as invalid as a wrong one.
        let valid = match material.verify_mac(alg, &req.message, &req.mac) {
            Ok(valid) => valid,
            Err(e) if super::key_use::input_reason(&e).is_some() => false,
            Err(e) => return Err(KmsError::internal(e)),
        };
        if !valid {
            return Err(KmsError::InvalidMac(format!(
                "The MAC does not verify for the message, {alg} and {}",
                key.arn(&self.inner.region)
            )));
        }
        Ok(VerifyMacOutput {
            key,
            mac_algorithm: alg,
        })
    }
}
