//! The one place core errors become gRPC statuses.
//!
//! The status message is the error's `Display`: the AWS exception name, a
//! colon, and the message (e.g. `NotFoundException: Key '...' does not
//! exist`). Codes follow the convention in docs/api.md.

use tonic::{Code, Status};

use crate::error::KmsError;

/// The gRPC code for a core error.
pub fn code_of(e: &KmsError) -> Code {
    match e {
        KmsError::NotFound(_)
        | KmsError::CustomKeyStoreNotFound(_)
        | KmsError::CloudHsmClusterNotFound(_) => Code::NotFound,
        KmsError::AccessDenied(_) => Code::PermissionDenied,
        KmsError::Disabled(_)
        | KmsError::InvalidState(_)
        | KmsError::CustomKeyStoreInvalidState(_)
        | KmsError::CustomKeyStoreHasCmks(_)
        | KmsError::CloudHsmClusterNotActive(_)
        | KmsError::CloudHsmClusterInvalidConfiguration(_) => Code::FailedPrecondition,
        KmsError::InvalidCiphertext(_)
        | KmsError::IncorrectKey(_)
        | KmsError::InvalidKeyUsage(_)
        | KmsError::InvalidSignature(_)
        | KmsError::InvalidMac(_)
        | KmsError::Validation(_)
        | KmsError::InvalidArn(_)
        | KmsError::InvalidAliasName(_)
        | KmsError::InvalidMarker(_)
        | KmsError::Tag(_)
        | KmsError::MalformedPolicyDocument(_)
        | KmsError::InvalidGrantToken(_)
        | KmsError::InvalidGrantId(_)
        | KmsError::InvalidImportToken(_)
        | KmsError::ExpiredImportToken(_)
        | KmsError::IncorrectKeyMaterial(_)
        | KmsError::IncorrectTrustAnchor(_)
        | KmsError::CloudHsmClusterNotRelated(_) => Code::InvalidArgument,
        KmsError::AlreadyExists(_)
        | KmsError::CustomKeyStoreNameInUse(_)
        | KmsError::CloudHsmClusterInUse(_) => Code::AlreadyExists,
        KmsError::LimitExceeded(_) | KmsError::Throttling(_) => Code::ResourceExhausted,
        KmsError::UnsupportedOperation(_) => Code::Unimplemented,
        KmsError::Unauthenticated(_) => Code::Unauthenticated,
        KmsError::DependencyTimeout(_) => Code::Unavailable,
        KmsError::Internal(_) => Code::Internal,
        // No catch-all: a new exception must be given its code here.
    }
}

/// Converts a core error to a gRPC status whose message is
/// `"<ExceptionName>: <message>"`.
pub fn to_status(e: KmsError) -> Status {
    Status::new(
        code_of(&e),
        format!("{}: {}", e.exception_name(), e.message()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_the_exception_name() {
        let s = to_status(KmsError::NotFound("Key 'x' does not exist".into()));
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(s.message(), "NotFoundException: Key 'x' does not exist");
        assert_eq!(
            to_status(KmsError::Disabled("d".into())).code(),
            Code::FailedPrecondition
        );
        assert_eq!(
            to_status(KmsError::Tag("t".into())).code(),
            Code::InvalidArgument
        );
    }
}
