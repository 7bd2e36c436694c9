//! The core's error type: one variant per AWS KMS exception that kmsd can
//! return, each carrying the human-readable message that follows the
//! exception name.
//!
//! This module knows nothing of gRPC; `service::status` maps each variant to a
//! gRPC code. Messages never contain key material, plaintext or internal
//! details (file paths, RocksDB errors): those go to the log via
//! [`KmsError::internal`], and the client sees only `KMSInternalException`.

use std::fmt;

/// An AWS KMS exception.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KmsError {
    /// The named key, alias or resource does not exist.
    #[error("NotFoundException: {0}")]
    NotFound(String),
    /// The caller is not allowed to perform the action on the resource.
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    /// The key is disabled.
    #[error("DisabledException: {0}")]
    Disabled(String),
    /// The key's state does not allow the operation.
    #[error("KMSInvalidStateException: {0}")]
    InvalidState(String),
    /// The ciphertext (or its encryption context) is not valid.
    #[error("InvalidCiphertextException: {0}")]
    InvalidCiphertext(String),
    /// The KeyId given does not match the key that sealed the ciphertext.
    #[error("IncorrectKeyException: {0}")]
    IncorrectKey(String),
    /// The key's usage does not allow the operation.
    #[error("InvalidKeyUsageException: {0}")]
    InvalidKeyUsage(String),
    /// Verify: the signature does not verify for the message, key and
    /// algorithm (AWS never answers `SignatureValid: false`).
    #[error("KMSInvalidSignatureException: {0}")]
    InvalidSignature(String),
    /// VerifyMac: the MAC does not verify for the message, key and
    /// algorithm.
    #[error("KMSInvalidMacException: {0}")]
    InvalidMac(String),
    /// A request field breaks a rule (length, range, format, combination).
    #[error("ValidationException: {0}")]
    Validation(String),
    /// A malformed ARN.
    #[error("InvalidArnException: {0}")]
    InvalidArn(String),
    /// A malformed or reserved alias name.
    #[error("InvalidAliasNameException: {0}")]
    InvalidAliasName(String),
    /// A pagination marker that kmsd did not issue.
    #[error("InvalidMarkerException: {0}")]
    InvalidMarker(String),
    /// A key or identity policy document is not valid.
    #[error("MalformedPolicyDocumentException: {0}")]
    MalformedPolicyDocument(String),
    /// A grant token is forged, altered or names no grant.
    #[error("InvalidGrantTokenException: {0}")]
    InvalidGrantToken(String),
    /// A grant id is malformed or names no grant of the key.
    #[error("InvalidGrantIdException: {0}")]
    InvalidGrantId(String),
    /// A tag key or value breaks a rule.
    #[error("TagException: {0}")]
    Tag(String),
    /// The resource already exists.
    #[error("AlreadyExistsException: {0}")]
    AlreadyExists(String),
    /// A quota would be exceeded.
    #[error("LimitExceededException: {0}")]
    LimitExceeded(String),
    /// The caller's account made requests faster than its rate limit.
    #[error("ThrottlingException: {0}")]
    Throttling(String),
    /// The operation or option is not supported by kmsd (or not yet).
    #[error("UnsupportedOperationException: {0}")]
    UnsupportedOperation(String),
    /// The caller presented no usable identity.
    #[error("UnauthenticatedException: {0}")]
    Unauthenticated(String),
    /// A dependency (e.g. the HSM) did not answer in time.
    #[error("DependencyTimeoutException: {0}")]
    DependencyTimeout(String),
    /// ImportKeyMaterial: the import token is not one kmsd issued for this
    /// key and account, or its parameters were superseded or used.
    #[error("InvalidImportTokenException: {0}")]
    InvalidImportToken(String),
    /// ImportKeyMaterial: the import token (and its wrapping key) expired.
    #[error("ExpiredImportTokenException: {0}")]
    ExpiredImportToken(String),
    /// ImportKeyMaterial: the material is not the key's (a re-import of
    /// other material, or a NEW import of material the key already has).
    #[error("IncorrectKeyMaterialException: {0}")]
    IncorrectKeyMaterial(String),
    /// No custom key store of the caller's account has the id or name given.
    #[error("CustomKeyStoreNotFoundException: {0}")]
    CustomKeyStoreNotFound(String),
    /// Another custom key store of the account has that name.
    #[error("CustomKeyStoreNameInUseException: {0}")]
    CustomKeyStoreNameInUse(String),
    /// Another custom key store is bound to that HSM cluster.
    #[error("CloudHsmClusterInUseException: {0}")]
    CloudHsmClusterInUse(String),
    /// The custom key store still holds KMS keys (any state).
    #[error("CustomKeyStoreHasCMKsException: {0}")]
    CustomKeyStoreHasCmks(String),
    /// The custom key store's connection state does not allow the operation.
    #[error("CustomKeyStoreInvalidStateException: {0}")]
    CustomKeyStoreInvalidState(String),
    /// The HSM cluster does not answer (no node reachable).
    #[error("CloudHsmClusterNotActiveException: {0}")]
    CloudHsmClusterNotActive(String),
    /// The HSM cluster does not meet the key store's needs (e.g. fewer
    /// than two active HSMs).
    #[error("CloudHsmClusterInvalidConfigurationException: {0}")]
    CloudHsmClusterInvalidConfiguration(String),
    /// kmsd knows no HSM cluster with that id (`--hsm-cluster`).
    #[error("CloudHsmClusterNotFoundException: {0}")]
    CloudHsmClusterNotFound(String),
    /// The cluster's HSM certificates do not chain to the trust anchor
    /// certificate given.
    #[error("IncorrectTrustAnchorException: {0}")]
    IncorrectTrustAnchor(String),
    /// UpdateCustomKeyStore: the new cluster is not related to the
    /// store's (its certificates do not chain to the store's trust anchor).
    #[error("CloudHsmClusterNotRelatedException: {0}")]
    CloudHsmClusterNotRelated(String),
    /// Something failed inside kmsd. The message is generic on purpose.
    #[error("KMSInternalException: {0}")]
    Internal(String),
}

/// The result type of the core.
pub type KmsResult<T> = Result<T, KmsError>;

impl KmsError {
    /// Logs `detail` (which may name files or storage errors, never secrets)
    /// and returns the opaque error the client sees.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        KmsError::Internal("An internal error occurred; see the kmsd log.".into())
    }

    /// The human-readable message, without the exception name (the AWS
    /// JSON protocol carries the two apart, as `__type` and `message`).
    pub fn message(&self) -> &str {
        match self {
            KmsError::NotFound(m)
            | KmsError::AccessDenied(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidState(m)
            | KmsError::InvalidCiphertext(m)
            | KmsError::IncorrectKey(m)
            | KmsError::InvalidKeyUsage(m)
            | KmsError::InvalidSignature(m)
            | KmsError::InvalidMac(m)
            | KmsError::Validation(m)
            | KmsError::InvalidArn(m)
            | KmsError::InvalidAliasName(m)
            | KmsError::InvalidMarker(m)
            | KmsError::MalformedPolicyDocument(m)
            | KmsError::InvalidGrantToken(m)
            | KmsError::InvalidGrantId(m)
            | KmsError::Tag(m)
            | KmsError::AlreadyExists(m)
            | KmsError::LimitExceeded(m)
            | KmsError::Throttling(m)
            | KmsError::UnsupportedOperation(m)
            | KmsError::Unauthenticated(m)
            | KmsError::DependencyTimeout(m)
            | KmsError::InvalidImportToken(m)
            | KmsError::ExpiredImportToken(m)
            | KmsError::IncorrectKeyMaterial(m)
            | KmsError::CustomKeyStoreNotFound(m)
            | KmsError::CustomKeyStoreNameInUse(m)
            | KmsError::CloudHsmClusterInUse(m)
            | KmsError::CustomKeyStoreHasCmks(m)
            | KmsError::CustomKeyStoreInvalidState(m)
            | KmsError::CloudHsmClusterNotActive(m)
            | KmsError::CloudHsmClusterInvalidConfiguration(m)
            | KmsError::CloudHsmClusterNotFound(m)
            | KmsError::IncorrectTrustAnchor(m)
            | KmsError::CloudHsmClusterNotRelated(m)
            | KmsError::Internal(m) => m,
        }
    }

    /// The AWS exception name, e.g. `NotFoundException`.
    pub fn exception_name(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::InvalidSignature(_) => "KMSInvalidSignatureException",
            KmsError::InvalidMac(_) => "KMSInvalidMacException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::Tag(_) => "TagException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::Throttling(_) => "ThrottlingException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::Unauthenticated(_) => "UnauthenticatedException",
            KmsError::DependencyTimeout(_) => "DependencyTimeoutException",
            KmsError::InvalidImportToken(_) => "InvalidImportTokenException",
            KmsError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::CustomKeyStoreNotFound(_) => "CustomKeyStoreNotFoundException",
            KmsError::CustomKeyStoreNameInUse(_) => "CustomKeyStoreNameInUseException",
            KmsError::CloudHsmClusterInUse(_) => "CloudHsmClusterInUseException",
            KmsError::CustomKeyStoreHasCmks(_) => "CustomKeyStoreHasCMKsException",
            KmsError::CustomKeyStoreInvalidState(_) => "CustomKeyStoreInvalidStateException",
            KmsError::CloudHsmClusterNotActive(_) => "CloudHsmClusterNotActiveException",
            KmsError::CloudHsmClusterInvalidConfiguration(_) => {
                "CloudHsmClusterInvalidConfigurationException"
            }
            KmsError::CloudHsmClusterNotFound(_) => "CloudHsmClusterNotFoundException",
            KmsError::IncorrectTrustAnchor(_) => "IncorrectTrustAnchorException",
            KmsError::CloudHsmClusterNotRelated(_) => "CloudHsmClusterNotRelatedException",
            KmsError::Internal(_) => "KMSInternalException",
        }
    }
    /// The error an AWS exception name and message stand for (the inverse
    /// of [`exception_name`](Self::exception_name) and
    /// [`message`](Self::message)), e.g. to carry a peer Region's refusal
    /// through unchanged; `None` for a name kmsd does not use.
    pub fn from_exception_name(name: &str, message: String) -> Option<Self> {
        Some(match name {
            "NotFoundException" => KmsError::NotFound(message),
            "AccessDeniedException" => KmsError::AccessDenied(message),
            "DisabledException" => KmsError::Disabled(message),
            "KMSInvalidStateException" => KmsError::InvalidState(message),
            "InvalidCiphertextException" => KmsError::InvalidCiphertext(message),
            "IncorrectKeyException" => KmsError::IncorrectKey(message),
            "InvalidKeyUsageException" => KmsError::InvalidKeyUsage(message),
            "KMSInvalidSignatureException" => KmsError::InvalidSignature(message),
            "KMSInvalidMacException" => KmsError::InvalidMac(message),
            "ValidationException" => KmsError::Validation(message),
            "InvalidArnException" => KmsError::InvalidArn(message),
            "InvalidAliasNameException" => KmsError::InvalidAliasName(message),
            "InvalidMarkerException" => KmsError::InvalidMarker(message),
            "MalformedPolicyDocumentException" => KmsError::MalformedPolicyDocument(message),
            "InvalidGrantTokenException" => KmsError::InvalidGrantToken(message),
            "InvalidGrantIdException" => KmsError::InvalidGrantId(message),
            "TagException" => KmsError::Tag(message),
            "AlreadyExistsException" => KmsError::AlreadyExists(message),
            "LimitExceededException" => KmsError::LimitExceeded(message),
            "ThrottlingException" => KmsError::Throttling(message),
            "UnsupportedOperationException" => KmsError::UnsupportedOperation(message),
            "UnauthenticatedException" => KmsError::Unauthenticated(message),
            "DependencyTimeoutException" => KmsError::DependencyTimeout(message),
            "InvalidImportTokenException" => KmsError::InvalidImportToken(message),
            "ExpiredImportTokenException" => KmsError::ExpiredImportToken(message),
            "IncorrectKeyMaterialException" => KmsError::IncorrectKeyMaterial(message),
            "CustomKeyStoreNotFoundException" => KmsError::CustomKeyStoreNotFound(message),
            "CustomKeyStoreNameInUseException" => KmsError::CustomKeyStoreNameInUse(message),
            "CloudHsmClusterInUseException" => KmsError::CloudHsmClusterInUse(message),
            "CustomKeyStoreHasCMKsException" => KmsError::CustomKeyStoreHasCmks(message),
            "CustomKeyStoreInvalidStateException" => KmsError::CustomKeyStoreInvalidState(message),
            "CloudHsmClusterNotActiveException" => KmsError::CloudHsmClusterNotActive(message),
            "CloudHsmClusterInvalidConfigurationException" => {
                KmsError::CloudHsmClusterInvalidConfiguration(message)
            }
            "CloudHsmClusterNotFoundException" => KmsError::CloudHsmClusterNotFound(message),
            "IncorrectTrustAnchorException" => KmsError::IncorrectTrustAnchor(message),
            "CloudHsmClusterNotRelatedException" => KmsError::CloudHsmClusterNotRelated(message),
            "KMSInternalException" => KmsError::Internal(message),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_starts_with_the_exception_name() {
        let cases = [
            KmsError::NotFound("x".into()),
            KmsError::InvalidState("x".into()),
            KmsError::Internal("x".into()),
            KmsError::Tag("x".into()),
        ];
        for e in cases {
            assert_eq!(
                e.to_string(),
                format!("{}: {}", e.exception_name(), e.message())
            );
            assert_eq!(e.message(), "x");
        }
    }

    #[test]
    fn exception_names_parse_back() {
        let cases = [
            KmsError::NotFound("a".into()),
            KmsError::AccessDenied("b".into()),
            KmsError::InvalidState("c".into()),
            KmsError::CustomKeyStoreHasCmks("d".into()),
            KmsError::Internal("e".into()),
        ];
        for e in cases {
            let back = KmsError::from_exception_name(e.exception_name(), e.message().to_owned())
                .expect("known name");
            assert_eq!(back.to_string(), e.to_string());
        }
        assert!(KmsError::from_exception_name("NoSuchException", "x".into()).is_none());
    }
}
