//! What every operation on an asymmetric or HMAC key checks before it
//! touches material, in one place so each answers with AWS's exception:
//! the key's usage and the algorithm (InvalidKeyUsageException), required
//! fields (ValidationException), and how a backend's failure reads to the
//! caller. Also how such operations reach their material: the current
//! version's handle, private-key work that takes milliseconds (RSA) on
//! a pool of its own, and key generation on a bounded pool.

use std::sync::Arc;

use super::{validate, Inner};
use crate::backend::{BackendError, MaterialHandle};
use crate::crypto::CryptoError;
use crate::error::{KmsError, KmsResult};
use crate::model::{KeyRecord, KeySpec, KeyUsage, MaterialVersion, Operation};

/// Maximum message for Sign, Verify, GenerateMac and VerifyMac.
pub const MAX_MESSAGE: usize = 4096;
/// Maximum signature (Verify) and MAC (VerifyMac), as AWS's model says.
pub const MAX_SIGNATURE: usize = 6144;
/// Maximum public key (DeriveSharedSecret's peer key).
pub const MAX_PUBLIC_KEY: usize = 8192;

/// The key's usage must be `usage`, else InvalidKeyUsageException.
pub(super) fn check_usage(
    key: &KeyRecord,
    usage: KeyUsage,
    op: Operation,
    region: &str,
) -> KmsResult<()> {
    if key.usage != usage {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {}.",
            key.arn(region),
            key.usage,
            op.name()
        )));
    }
    Ok(())
}

/// `alg` must be one the key's spec lists, else InvalidKeyUsageException.
pub(super) fn check_listed<T: PartialEq + std::fmt::Display>(
    key: &KeyRecord,
    alg: T,
    listed: &[T],
    what: &str,
    region: &str,
) -> KmsResult<T> {
    if !listed.contains(&alg) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "The {what} {alg} is not compatible with the key spec {} of {}",
            key.spec,
            key.arn(region)
        )));
    }
    Ok(alg)
}

/// A field AWS's model marks required.
pub(super) fn required<T>(field: &str, v: Option<T>) -> KmsResult<T> {
    v.ok_or_else(|| validate::validation(field, "Member must not be null"))
}

/// A spec kmsd does not offer (SM2).
pub(super) fn not_offered(spec: KeySpec) -> KmsError {
    KmsError::UnsupportedOperation(format!(
        "{spec} is available only in AWS China Regions; kmsd does not offer it"
    ))
}

/// The reason a backend gave for refusing input of the wrong shape (a
/// malformed public key, a digest of the wrong length), if that is why it
/// failed. Such reasons name no secret.
pub(super) fn input_reason(e: &BackendError) -> Option<&'static str> {
    match e {
        BackendError::Crypto(CryptoError::InvalidInput(reason)) => Some(reason),
        _ => None,
    }
}

/// A backend failure on a request's input: ValidationException with the
/// backend's reason when the input was malformed, else internal.
pub(super) fn input_error(field: &str, e: BackendError) -> KmsError {
    match input_reason(&e) {
        Some(reason) => validate::validation(field, reason),
        None => KmsError::internal(e),
    }
}

/// The same for a public-key operation performed by the core itself.
pub(super) fn crypto_input_error(field: &str, e: CryptoError) -> KmsError {
    input_error(field, BackendError::Crypto(e))
}

impl Inner {
    /// The handle of the key's current material version (asymmetric and
    /// HMAC keys have exactly one).
    pub(super) async fn current_material(
        self: &Arc<Self>,
        key: &KeyRecord,
    ) -> KmsResult<Arc<dyn MaterialHandle>> {
        self.material(key.id, key.current_version).await
    }

    /// The public key of an asymmetric key's material.
    pub(super) fn public_key_of<'m>(
        &self,
        key: &KeyRecord,
        material: &'m dyn MaterialHandle,
    ) -> KmsResult<&'m [u8]> {
        material.public_key().ok_or_else(|| {
            KmsError::internal(format!(
                "material of {} ({}) has no public key",
                key.id, key.spec
            ))
        })
    }

    /// Runs a private-key operation on `material`: RSA's take
    /// milliseconds, so they run on [`Inner::private_ops`] (`cpu_pool.rs`:
    /// two threads per core, the bound on how many run at once) rather
    /// than hold an async worker or take the blocking pool's threads from
    /// the cache misses and commits of other callers. The others
    /// (microseconds) run in place.
    pub(super) async fn private_op<T, F>(
        self: &Arc<Self>,
        material: Arc<dyn MaterialHandle>,
        f: F,
    ) -> KmsResult<T>
    where
        F: FnOnce(&dyn MaterialHandle) -> KmsResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if is_slow(material.spec()) {
            self.private_ops.run(move || f(&*material)).await?
        } else {
            f(&*material)
        }
    }

    /// Runs slow CPU-bound generation (key pairs) on the blocking pool,
    /// at most [`Inner::keygen`]'s permits at a time, so a flood of
    /// CreateKey RSA_4096 or GenerateDataKeyPair queues here instead of
    /// occupying every core and the blocking pool that cache misses and
    /// control-plane writes share.
    pub(super) async fn bounded_generation<T, F>(self: &Arc<Self>, f: F) -> KmsResult<T>
    where
        F: FnOnce(&Inner) -> KmsResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.keygen)
            .acquire_owned()
            .await
            .map_err(|e| KmsError::internal(format!("bounded pool closed: {e}")))?;
        // The permit moves into the blocking task: a caller that gives up
        // (its request cancelled) does not free it while the work it
        // started still runs, so the bound holds.
        self.blocking(move |inner| {
            let _permit = permit;
            f(inner)
        })
        .await
    }

    /// Fresh key-pair material for version `version` of `rec`, made on
    /// the bounded generation pool.
    pub(super) async fn generate_key_pair(
        self: &Arc<Self>,
        rec: &KeyRecord,
        version: u32,
    ) -> KmsResult<MaterialVersion> {
        let rec = rec.clone();
        self.bounded_generation(move |inner| inner.new_material(&rec, version))
            .await
    }
}

/// Whether private-key operations of `spec` are slow enough (RSA:
/// around a millisecond for 2048 bits, several for 4096) to leave the
/// async workers.
fn is_slow(spec: KeySpec) -> bool {
    matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096)
}

/// How many RSA private-key operations run at once (the private-op pool's
/// threads): two per core. With one per core, a core sat idle whenever a
/// tokio worker took the other's turn for I/O and in every hand-over from
/// a finished operation to the next (measured in docs/benchmarks.md); two
/// keep the cores busy and still bound what an RSA flood can take.
pub(super) fn private_op_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(2)
        .max(2)
}

/// How many key pairs are generated at once: half the cores (at least
/// one), so generation never takes all of them from the data path.
pub(super) fn keygen_permits() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().div_ceil(2))
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyState;

    #[test]
    fn usage_and_algorithm_mismatches_are_invalid_key_usage() {
        let mut key = KeyRecord::for_tests("111122223333", KeyState::Enabled);
        key.spec = KeySpec::EccNistP256;
        key.usage = KeyUsage::KeyAgreement;
        let e = check_usage(&key, KeyUsage::SignVerify, Operation::Sign, "us-east-1")
            .expect_err("wrong usage");
        assert!(matches!(e, KmsError::InvalidKeyUsage(_)), "{e}");
        assert!(e.message().contains("KEY_AGREEMENT"), "{e}");
        assert!(check_usage(
            &key,
            KeyUsage::KeyAgreement,
            Operation::DeriveSharedSecret,
            "us-east-1"
        )
        .is_ok());
        let listed = KeySpec::EccNistP256.signing_algorithms();
        assert!(check_listed(
            &key,
            crate::model::SigningAlgorithm::EcdsaSha256,
            listed,
            "signing algorithm",
            "r"
        )
        .is_ok());
        assert!(matches!(
            check_listed(
                &key,
                crate::model::SigningAlgorithm::EcdsaSha384,
                listed,
                "signing algorithm",
                "r"
            ),
            Err(KmsError::InvalidKeyUsage(_))
        ));
    }

    #[test]
    fn missing_fields_and_bad_input_are_validation_errors() {
        assert!(matches!(
            required::<u8>("signingAlgorithm", None),
            Err(KmsError::Validation(_))
        ));
        assert_eq!(required("x", Some(3)).expect("given"), 3);
        let e = crypto_input_error("publicKey", CryptoError::InvalidInput("not an SPKI"));
        assert!(
            matches!(&e, KmsError::Validation(m) if m.contains("not an SPKI")),
            "{e}"
        );
        // Anything else is opaque.
        assert!(matches!(
            crypto_input_error("publicKey", CryptoError::Operation),
            KmsError::Internal(_)
        ));
    }

    #[test]
    fn generation_leaves_cores_to_the_data_path() {
        let n = keygen_permits();
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        assert!(n >= 1 && n <= cores.max(1));
    }
}
