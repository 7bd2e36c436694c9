//! Conversions between the wire (prost) types and the core's types.

use super::time::to_timestamp;
use crate::error::KmsResult;
use crate::kms::validate::validation;
use crate::model::{
    DataKeySpec, EncryptionAlgorithm, GrantConstraints, GrantOperation, GrantRecord, KeySpec,
    KeyState, KeyUsage, Origin, RotationType,
};
use crate::proto::kms::v1 as pb;

/// Maps a wire enum value to a core enum through the AWS spelling: the
/// wire name is the AWS value prefixed by the enum name (`KEY_SPEC_` +
/// `SYMMETRIC_DEFAULT`). 0 (`*_UNSPECIFIED`) is `None`; unknown numbers are
/// a ValidationException.
macro_rules! enum_conv {
    ($from:ident, $to:ident, $pb:ty, $core:ty, $prefix:literal, $field:literal) => {
        /// Wire to core.
        pub fn $from(v: i32) -> KmsResult<Option<$core>> {
            if v == 0 {
                return Ok(None);
            }
            <$pb>::try_from(v)
                .ok()
                .and_then(|e| e.as_str_name().strip_prefix($prefix))
                .and_then(<$core>::from_aws_str)
                .map(Some)
                .ok_or_else(|| validation($field, "Member must satisfy enum value set"))
        }

        /// Core to wire.
        pub fn $to(v: $core) -> i32 {
            <$pb>::from_str_name(&format!("{}{}", $prefix, v.as_aws_str()))
                .map(|e| e as i32)
                .unwrap_or(0)
        }
    };
}

enum_conv!(
    key_spec_from,
    key_spec_to,
    pb::KeySpec,
    KeySpec,
    "KEY_SPEC_",
    "keySpec"
);
enum_conv!(
    cmk_spec_from,
    cmk_spec_to,
    pb::CustomerMasterKeySpec,
    KeySpec,
    "CUSTOMER_MASTER_KEY_SPEC_",
    "customerMasterKeySpec"
);
enum_conv!(
    key_usage_from,
    key_usage_to,
    pb::KeyUsageType,
    KeyUsage,
    "KEY_USAGE_TYPE_",
    "keyUsage"
);
enum_conv!(
    origin_from,
    origin_to,
    pb::OriginType,
    Origin,
    "ORIGIN_TYPE_",
    "origin"
);
enum_conv!(
    alg_from,
    alg_to,
    pb::EncryptionAlgorithmSpec,
    EncryptionAlgorithm,
    "ENCRYPTION_ALGORITHM_SPEC_",
    "encryptionAlgorithm"
);
enum_conv!(
    data_key_spec_from,
    data_key_spec_to,
    pb::DataKeySpec,
    DataKeySpec,
    "DATA_KEY_SPEC_",
    "keySpec"
);

/// GrantOperation has CamelCase AWS values, so it maps explicitly.
pub fn grant_op_from(v: i32) -> KmsResult<GrantOperation> {
    use pb::GrantOperation as P;
    use GrantOperation as G;
    Ok(match P::try_from(v).unwrap_or(P::Unspecified) {
        P::Decrypt => G::Decrypt,
        P::Encrypt => G::Encrypt,
        P::GenerateDataKey => G::GenerateDataKey,
        P::GenerateDataKeyWithoutPlaintext => G::GenerateDataKeyWithoutPlaintext,
        P::ReEncryptFrom => G::ReEncryptFrom,
        P::ReEncryptTo => G::ReEncryptTo,
        P::Sign => G::Sign,
        P::Verify => G::Verify,
        P::GetPublicKey => G::GetPublicKey,
        P::CreateGrant => G::CreateGrant,
        P::RetireGrant => G::RetireGrant,
        P::DescribeKey => G::DescribeKey,
        P::GenerateDataKeyPair => G::GenerateDataKeyPair,
        P::GenerateDataKeyPairWithoutPlaintext => G::GenerateDataKeyPairWithoutPlaintext,
        P::GenerateMac => G::GenerateMac,
        P::VerifyMac => G::VerifyMac,
        P::DeriveSharedSecret => G::DeriveSharedSecret,
        P::Unspecified => {
            return Err(validation(
                "operations",
                "Member must satisfy enum value set",
            ))
        }
    })
}

/// Core grant operation to wire.
pub fn grant_op_to(g: GrantOperation) -> i32 {
    use pb::GrantOperation as P;
    use GrantOperation as G;
    (match g {
        G::Decrypt => P::Decrypt,
        G::Encrypt => P::Encrypt,
        G::GenerateDataKey => P::GenerateDataKey,
        G::GenerateDataKeyWithoutPlaintext => P::GenerateDataKeyWithoutPlaintext,
        G::ReEncryptFrom => P::ReEncryptFrom,
        G::ReEncryptTo => P::ReEncryptTo,
        G::Sign => P::Sign,
        G::Verify => P::Verify,
        G::GetPublicKey => P::GetPublicKey,
        G::CreateGrant => P::CreateGrant,
        G::RetireGrant => P::RetireGrant,
        G::DescribeKey => P::DescribeKey,
        G::GenerateDataKeyPair => P::GenerateDataKeyPair,
        G::GenerateDataKeyPairWithoutPlaintext => P::GenerateDataKeyPairWithoutPlaintext,
        G::GenerateMac => P::GenerateMac,
        G::VerifyMac => P::VerifyMac,
        G::DeriveSharedSecret => P::DeriveSharedSecret,
    }) as i32
}

/// A grant as the wire's GrantListEntry.
pub fn grant_entry(g: GrantRecord) -> pb::GrantListEntry {
    let constraints = (!g.constraints.is_empty()).then(|| pb::GrantConstraints {
        encryption_context_subset: g
            .constraints
            .encryption_context_subset
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        encryption_context_equals: g
            .constraints
            .encryption_context_equals
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    });
    pb::GrantListEntry {
        key_id: g.key_id,
        grant_id: g.grant_id,
        name: g.name.unwrap_or_default(),
        creation_date: Some(to_timestamp(g.created_ms)),
        grantee_principal: g.grantee_principal,
        retiring_principal: g.retiring_principal.unwrap_or_default(),
        issuing_account: g.issuing_account,
        operations: g.operations.into_iter().map(grant_op_to).collect(),
        constraints,
    }
}

/// Wire constraints to core. An empty map on the wire means "not set".
pub fn constraints_from(c: Option<pb::GrantConstraints>) -> GrantConstraints {
    match c {
        None => GrantConstraints::default(),
        Some(c) => GrantConstraints {
            encryption_context_subset: (!c.encryption_context_subset.is_empty())
                .then(|| c.encryption_context_subset.into_iter().collect()),
            encryption_context_equals: (!c.encryption_context_equals.is_empty())
                .then(|| c.encryption_context_equals.into_iter().collect()),
        },
    }
}

enum_conv!(
    rotation_type_from,
    rotation_type_to,
    pb::RotationType,
    RotationType,
    "ROTATION_TYPE_",
    "rotationType"
);

/// KeyState has CamelCase AWS values, so it maps explicitly.
pub fn key_state_to(s: KeyState) -> i32 {
    (match s {
        KeyState::Creating => pb::KeyState::Creating,
        KeyState::Enabled => pb::KeyState::Enabled,
        KeyState::Disabled => pb::KeyState::Disabled,
        KeyState::PendingDeletion => pb::KeyState::PendingDeletion,
        KeyState::PendingImport => pb::KeyState::PendingImport,
        KeyState::PendingReplicaDeletion => pb::KeyState::PendingReplicaDeletion,
        KeyState::Unavailable => pb::KeyState::Unavailable,
        KeyState::Updating => pb::KeyState::Updating,
    }) as i32
}

/// CreateKey's KeySpec, reconciling the deprecated CustomerMasterKeySpec.
pub fn create_key_spec(key_spec: i32, cmk_spec: i32) -> KmsResult<Option<KeySpec>> {
    let a = key_spec_from(key_spec)?;
    let b = cmk_spec_from(cmk_spec)?;
    match (a, b) {
        (Some(_), Some(_)) => Err(crate::error::KmsError::Validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.".into(),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Wire tags to core pairs.
pub fn tags_from(tags: Vec<pb::Tag>) -> Vec<(String, String)> {
    tags.into_iter().map(|t| (t.tag_key, t.tag_value)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_map_through_aws_spellings() {
        assert_eq!(key_spec_from(0).ok(), Some(None));
        assert_eq!(
            key_spec_from(pb::KeySpec::SymmetricDefault as i32).ok(),
            Some(Some(KeySpec::SymmetricDefault))
        );
        assert!(key_spec_from(9999).is_err());
        for s in KeySpec::ALL {
            assert_ne!(key_spec_to(*s), 0, "{s}");
            assert_eq!(key_spec_from(key_spec_to(*s)).ok(), Some(Some(*s)));
        }
        for s in KeyState::ALL {
            assert_ne!(key_state_to(*s), 0);
        }
        assert_eq!(
            data_key_spec_from(pb::DataKeySpec::Aes128 as i32).ok(),
            Some(Some(DataKeySpec::Aes128))
        );
        assert!(create_key_spec(
            pb::KeySpec::SymmetricDefault as i32,
            pb::CustomerMasterKeySpec::SymmetricDefault as i32
        )
        .is_err());
    }
}
