//! Conversions between the wire (prost) types and the core's types.

use super::time::to_timestamp;
use crate::error::KmsResult;
use crate::kms::validate::validation;
use crate::model::{
    DataKeyPairSpec, DataKeySpec, EncapsulationAlgorithm, EncryptionAlgorithm, ExpirationModel,
    GrantConstraints, GrantOperation, GrantRecord, ImportState, ImportType, KeyAgreementAlgorithm,
    KeySpec, KeyState, KeyUsage, MacAlgorithm, MessageType, Origin, RotationType, SigningAlgorithm,
    WrappingAlgorithm, WrappingKeySpec,
};
use crate::proto::aws_enum::AwsEnum;
use crate::proto::kms::v1 as pb;

/// Maps a wire enum value to a core enum through the AWS spelling, with
/// kms-proto's table (`kms_proto::aws_enum`, which kmsctl uses too): wire
/// `i32` → `SYMMETRIC_DEFAULT` → core. 0 (`*_UNSPECIFIED`) is `None`;
/// unknown numbers are a ValidationException.
macro_rules! enum_conv {
    ($from:ident, $to:ident, $pb:ty, $core:ty, $field:literal) => {
        /// Wire to core.
        pub fn $from(v: i32) -> KmsResult<Option<$core>> {
            if v == 0 {
                return Ok(None);
            }
            <$pb>::aws_name_of(v)
                .and_then(<$core>::from_aws_str)
                .map(Some)
                .ok_or_else(|| validation($field, "Member must satisfy enum value set"))
        }

        /// Core to wire.
        pub fn $to(v: $core) -> i32 {
            <$pb>::wire_of(v.as_aws_str()).unwrap_or(0)
        }
    };
}

enum_conv!(key_spec_from, key_spec_to, pb::KeySpec, KeySpec, "keySpec");
enum_conv!(
    cmk_spec_from,
    cmk_spec_to,
    pb::CustomerMasterKeySpec,
    KeySpec,
    "customerMasterKeySpec"
);
enum_conv!(
    key_usage_from,
    key_usage_to,
    pb::KeyUsageType,
    KeyUsage,
    "keyUsage"
);
enum_conv!(origin_from, origin_to, pb::OriginType, Origin, "origin");
enum_conv!(
    alg_from,
    alg_to,
    pb::EncryptionAlgorithmSpec,
    EncryptionAlgorithm,
    "encryptionAlgorithm"
);
enum_conv!(
    data_key_spec_from,
    data_key_spec_to,
    pb::DataKeySpec,
    DataKeySpec,
    "keySpec"
);

enum_conv!(
    signing_alg_from,
    signing_alg_to,
    pb::SigningAlgorithmSpec,
    SigningAlgorithm,
    "signingAlgorithm"
);
enum_conv!(
    message_type_from,
    message_type_to,
    pb::MessageType,
    MessageType,
    "messageType"
);
enum_conv!(
    mac_alg_from,
    mac_alg_to,
    pb::MacAlgorithmSpec,
    MacAlgorithm,
    "macAlgorithm"
);
enum_conv!(
    key_agreement_alg_from,
    key_agreement_alg_to,
    pb::KeyAgreementAlgorithmSpec,
    KeyAgreementAlgorithm,
    "keyAgreementAlgorithm"
);
enum_conv!(
    encapsulation_alg_from,
    encapsulation_alg_to,
    pb::EncapsulationAlgorithmSpec,
    EncapsulationAlgorithm,
    "encapsulationAlgorithm"
);
enum_conv!(
    wrapping_alg_from,
    wrapping_alg_to,
    pb::AlgorithmSpec,
    WrappingAlgorithm,
    "wrappingAlgorithm"
);
enum_conv!(
    wrapping_spec_from,
    wrapping_spec_to,
    pb::WrappingKeySpec,
    WrappingKeySpec,
    "wrappingKeySpec"
);
enum_conv!(
    import_type_from,
    import_type_to,
    pb::ImportType,
    ImportType,
    "importType"
);
enum_conv!(
    expiration_model_from,
    expiration_model_to,
    pb::ExpirationModelType,
    ExpirationModel,
    "expirationModel"
);
enum_conv!(
    import_state_from,
    import_state_to,
    pb::ImportState,
    ImportState,
    "importState"
);
enum_conv!(
    key_pair_spec_from,
    key_pair_spec_to,
    pb::DataKeyPairSpec,
    DataKeyPairSpec,
    "keyPairSpec"
);

/// Wire grant operation to core, through the same table (GrantOperation's
/// AWS values are PascalCase; the table knows). Unlike the enums above,
/// 0 is not "not given" but invalid: an operation list has no blanks.
pub fn grant_op_from(v: i32) -> KmsResult<GrantOperation> {
    pb::GrantOperation::aws_name_of(v)
        .and_then(GrantOperation::from_aws_str)
        .ok_or_else(|| validation("operations", "Member must satisfy enum value set"))
}

/// Core grant operation to wire.
pub fn grant_op_to(g: GrantOperation) -> i32 {
    pb::GrantOperation::wire_of(g.as_aws_str()).unwrap_or(0)
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
    "rotationType"
);

/// Core key state to wire (PascalCase AWS values; the table knows).
pub fn key_state_to(s: KeyState) -> i32 {
    pb::KeyState::wire_of(s.as_aws_str()).unwrap_or(0)
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
        for g in GrantOperation::ALL {
            assert_ne!(grant_op_to(*g), 0, "{g:?}");
            assert_eq!(grant_op_from(grant_op_to(*g)).ok(), Some(*g));
        }
        assert_eq!(
            key_state_to(KeyState::PendingDeletion),
            pb::KeyState::PendingDeletion as i32
        );
        assert!(grant_op_from(0).is_err());
        assert!(grant_op_from(9999).is_err());
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
