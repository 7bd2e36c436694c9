//! The one mapping between the proto enums and their AWS spellings.
//!
//! The proto names every enum value `PREFIX` + the AWS value in
//! UPPER_SNAKE (`DATA_KEY_SPEC_` + `AES_256`), because proto enum values
//! share one namespace per package. AWS spells most values that way too
//! (`AES_256`), but `KeyState` and `GrantOperation` values in PascalCase
//! (`PendingDeletion`, `ReEncryptFrom`). [`AwsEnum`] gives, for every enum of
//! the API, the table of (value, AWS spelling) derived from the generated
//! names, so kmsd's service layer (wire `i32` → AWS spelling → its own
//! types) and kmsctl (command-line spelling → wire `i32` → printed spelling)
//! cannot disagree.
//!
//! `UNSPECIFIED` (0) is never an AWS spelling: it means "not given".

use std::sync::OnceLock;

use crate::kms::v1 as pb;

/// How the AWS spelling is derived from the proto value name after its
/// prefix is stripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// As is: `SYMMETRIC_DEFAULT`.
    UpperSnake,
    /// `PENDING_DELETION` → `PendingDeletion`.
    Pascal,
}

/// A generated proto enum with AWS spellings for its values.
pub trait AwsEnum:
    Copy + PartialEq + std::fmt::Debug + Into<i32> + TryFrom<i32> + Send + Sync + 'static
{
    /// The AWS shape name, for messages (e.g. `DataKeySpec`).
    const AWS_NAME: &'static str;

    /// Every value except `UNSPECIFIED`, with its AWS spelling, in proto
    /// order. Built once, on first use.
    fn entries() -> &'static [(Self, &'static str)];

    /// The AWS spelling of this value, e.g. `AES_256`; `UNSPECIFIED` for
    /// the unspecified value.
    fn aws_name(self) -> &'static str {
        Self::entries()
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("UNSPECIFIED", |(_, name)| name)
    }

    /// Every AWS spelling, in proto order, without `UNSPECIFIED`.
    fn aws_names() -> Vec<&'static str> {
        Self::entries().iter().map(|(_, name)| *name).collect()
    }

    /// The value for an AWS spelling; exact match only (`aes_256` and
    /// `DATA_KEY_SPEC_AES_256` are not spellings, nor is `UNSPECIFIED`).
    fn from_aws(name: &str) -> Option<Self> {
        Self::entries()
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(v, _)| *v)
    }

    /// The AWS spelling of a wire value; `None` for 0 (`UNSPECIFIED`) and
    /// values this build does not know.
    fn aws_name_of(value: i32) -> Option<&'static str> {
        Self::entries()
            .iter()
            .find(|(v, _)| (*v).into() == value)
            .map(|(_, name)| *name)
    }

    /// The wire value of an AWS spelling; `None` when it is not one.
    fn wire_of(name: &str) -> Option<i32> {
        Self::from_aws(name).map(Into::into)
    }
}

/// `PENDING_DELETION` → `PendingDeletion`: AWS spells KeyState and
/// GrantOperation values in PascalCase where the proto has UPPER_SNAKE.
pub fn pascal_case(upper_snake: &str) -> String {
    upper_snake
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The largest wire value looked for. The API's enums are numbered densely
/// from 0 and are far smaller; a test checks that none reaches this.
const MAX_VALUE: i32 = 255;

/// Builds one enum's table from its generated value names.
fn build_table<E: AwsEnum>(
    proto_name: fn(&E) -> &'static str,
    prefix: &str,
    case: Case,
) -> Vec<(E, &'static str)> {
    (1..=MAX_VALUE)
        .filter_map(|v| E::try_from(v).ok())
        .map(|e| {
            let name = proto_name(&e);
            let bare = name.strip_prefix(prefix).unwrap_or(name);
            let aws: &'static str = match case {
                Case::UpperSnake => bare,
                // Built once per enum and kept for the life of the program
                // in a static table, so leaking these few strings is what a
                // `static` would do anyway, and lets every lookup hand out
                // `&'static str`.
                Case::Pascal => Box::leak(pascal_case(bare).into_boxed_str()),
            };
            (e, aws)
        })
        .collect()
}

macro_rules! aws_enums {
    ($($ty:ident => $prefix:literal, $case:ident;)*) => {$(
        impl AwsEnum for pb::$ty {
            const AWS_NAME: &'static str = stringify!($ty);

            fn entries() -> &'static [(Self, &'static str)] {
                static TABLE: OnceLock<Vec<(pb::$ty, &'static str)>> = OnceLock::new();
                TABLE.get_or_init(|| build_table(pb::$ty::as_str_name, $prefix, Case::$case))
            }
        }
    )*};
}

// The table: every enum of the API, its proto value-name prefix, and how
// AWS spells its values.
aws_enums! {
    KeySpec => "KEY_SPEC_", UpperSnake;
    CustomerMasterKeySpec => "CUSTOMER_MASTER_KEY_SPEC_", UpperSnake;
    KeyUsageType => "KEY_USAGE_TYPE_", UpperSnake;
    OriginType => "ORIGIN_TYPE_", UpperSnake;
    KeyState => "KEY_STATE_", Pascal;
    KeyManagerType => "KEY_MANAGER_TYPE_", UpperSnake;
    EncryptionAlgorithmSpec => "ENCRYPTION_ALGORITHM_SPEC_", UpperSnake;
    SigningAlgorithmSpec => "SIGNING_ALGORITHM_SPEC_", UpperSnake;
    MacAlgorithmSpec => "MAC_ALGORITHM_SPEC_", UpperSnake;
    KeyAgreementAlgorithmSpec => "KEY_AGREEMENT_ALGORITHM_SPEC_", UpperSnake;
    MessageType => "MESSAGE_TYPE_", UpperSnake;
    EncapsulationAlgorithmSpec => "ENCAPSULATION_ALGORITHM_SPEC_", UpperSnake;
    DataKeyPairSpec => "DATA_KEY_PAIR_SPEC_", UpperSnake;
    DataKeySpec => "DATA_KEY_SPEC_", UpperSnake;
    ExpirationModelType => "EXPIRATION_MODEL_TYPE_", UpperSnake;
    MultiRegionKeyType => "MULTI_REGION_KEY_TYPE_", UpperSnake;
    RotationType => "ROTATION_TYPE_", UpperSnake;
    KeyMaterialState => "KEY_MATERIAL_STATE_", UpperSnake;
    ImportState => "IMPORT_STATE_", UpperSnake;
    IncludeKeyMaterial => "INCLUDE_KEY_MATERIAL_", UpperSnake;
    AlgorithmSpec => "ALGORITHM_SPEC_", UpperSnake;
    WrappingKeySpec => "WRAPPING_KEY_SPEC_", UpperSnake;
    ImportType => "IMPORT_TYPE_", UpperSnake;
    ConnectionStateType => "CONNECTION_STATE_TYPE_", UpperSnake;
    ConnectionErrorCodeType => "CONNECTION_ERROR_CODE_TYPE_", UpperSnake;
    CustomKeyStoreType => "CUSTOM_KEY_STORE_TYPE_", UpperSnake;
    GrantOperation => "GRANT_OPERATION_", Pascal;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of `E`: its proto name starts with the prefix, its AWS
    /// spelling maps back to it, and no value lies beyond [`MAX_VALUE`].
    fn check<E: AwsEnum>(proto_name: fn(&E) -> &'static str, prefix: &str) {
        assert!(!E::entries().is_empty(), "{}", E::AWS_NAME);
        for (value, aws) in E::entries() {
            assert!(proto_name(value).starts_with(prefix), "{}", E::AWS_NAME);
            assert_eq!(E::from_aws(aws), Some(*value), "{aws}");
            assert_eq!(E::aws_name_of((*value).into()), Some(*aws), "{aws}");
            assert_eq!(value.aws_name(), *aws);
        }
        assert!(
            (MAX_VALUE + 1..=4 * MAX_VALUE).all(|v| E::try_from(v).is_err()),
            "{}",
            E::AWS_NAME
        );
        assert_eq!(E::aws_name_of(0), None);
        assert_eq!(E::from_aws("UNSPECIFIED"), None);
        assert_eq!(E::from_aws(""), None);
    }

    macro_rules! check_all {
        ($($ty:ident => $prefix:literal),* $(,)?) => {$(
            check::<pb::$ty>(pb::$ty::as_str_name, $prefix);
        )*};
    }

    #[test]
    fn every_enum_round_trips() {
        check_all! {
            KeySpec => "KEY_SPEC_",
            CustomerMasterKeySpec => "CUSTOMER_MASTER_KEY_SPEC_",
            KeyUsageType => "KEY_USAGE_TYPE_",
            OriginType => "ORIGIN_TYPE_",
            KeyState => "KEY_STATE_",
            KeyManagerType => "KEY_MANAGER_TYPE_",
            EncryptionAlgorithmSpec => "ENCRYPTION_ALGORITHM_SPEC_",
            SigningAlgorithmSpec => "SIGNING_ALGORITHM_SPEC_",
            MacAlgorithmSpec => "MAC_ALGORITHM_SPEC_",
            KeyAgreementAlgorithmSpec => "KEY_AGREEMENT_ALGORITHM_SPEC_",
            MessageType => "MESSAGE_TYPE_",
            EncapsulationAlgorithmSpec => "ENCAPSULATION_ALGORITHM_SPEC_",
            DataKeyPairSpec => "DATA_KEY_PAIR_SPEC_",
            DataKeySpec => "DATA_KEY_SPEC_",
            ExpirationModelType => "EXPIRATION_MODEL_TYPE_",
            MultiRegionKeyType => "MULTI_REGION_KEY_TYPE_",
            RotationType => "ROTATION_TYPE_",
            KeyMaterialState => "KEY_MATERIAL_STATE_",
            ImportState => "IMPORT_STATE_",
            IncludeKeyMaterial => "INCLUDE_KEY_MATERIAL_",
            AlgorithmSpec => "ALGORITHM_SPEC_",
            WrappingKeySpec => "WRAPPING_KEY_SPEC_",
            ImportType => "IMPORT_TYPE_",
            ConnectionStateType => "CONNECTION_STATE_TYPE_",
            ConnectionErrorCodeType => "CONNECTION_ERROR_CODE_TYPE_",
            CustomKeyStoreType => "CUSTOM_KEY_STORE_TYPE_",
            GrantOperation => "GRANT_OPERATION_",
        }
    }

    #[test]
    fn upper_snake_spellings() {
        assert_eq!(pb::DataKeySpec::aws_names(), ["AES_256", "AES_128"]);
        assert_eq!(pb::KeyUsageType::aws_name_of(0), None);
        assert_eq!(pb::KeyUsageType::aws_name_of(999), None);
        assert_eq!(
            pb::EncryptionAlgorithmSpec::aws_name_of(1),
            Some("SYMMETRIC_DEFAULT")
        );
        assert_eq!(
            pb::KeySpec::wire_of("SYMMETRIC_DEFAULT"),
            Some(pb::KeySpec::SymmetricDefault as i32)
        );
        for bad in ["aes_256", "AES_512", "DATA_KEY_SPEC_AES_256"] {
            assert_eq!(pb::DataKeySpec::from_aws(bad), None, "{bad}");
        }
        assert_eq!(pb::DataKeySpec::Unspecified.aws_name(), "UNSPECIFIED");
    }

    /// The mapping written independently of the code under test: an
    /// underscore before every inner capital, then upper case.
    fn camel_to_upper_snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if i > 0 && c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn grant_operations_are_pascal_case() {
        // Every proto value has a PascalCase name that maps back to it, and
        // the proto name is the PascalCase name in UPPER_SNAKE.
        let table = pb::GrantOperation::entries();
        assert_eq!(table.len(), 19);
        for (op, name) in table {
            assert_eq!(
                op.as_str_name(),
                format!("GRANT_OPERATION_{}", camel_to_upper_snake(name))
            );
        }
        assert_eq!(
            pb::GrantOperation::aws_name_of(
                pb::GrantOperation::GenerateDataKeyPairWithoutPlaintext as i32
            ),
            Some("GenerateDataKeyPairWithoutPlaintext")
        );
        assert_eq!(
            pb::GrantOperation::aws_name_of(pb::GrantOperation::ReEncryptFrom as i32),
            Some("ReEncryptFrom")
        );
        assert_eq!(pb::GrantOperation::aws_name_of(0), None);
        assert_eq!(pb::GrantOperation::aws_name_of(999), None);
        for bad in ["decrypt", "DECRYPT", "GRANT_OPERATION_DECRYPT", "Décrypt"] {
            assert_eq!(pb::GrantOperation::from_aws(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_states_are_pascal_case() {
        assert_eq!(pascal_case("PENDING_DELETION"), "PendingDeletion");
        assert_eq!(
            pascal_case("PENDING_REPLICA_DELETION"),
            "PendingReplicaDeletion"
        );
        assert_eq!(pascal_case("ENABLED"), "Enabled");
        assert_eq!(
            pb::KeyState::aws_name_of(pb::KeyState::PendingDeletion as i32),
            Some("PendingDeletion")
        );
        assert_eq!(
            pb::KeyState::from_aws("PendingReplicaDeletion"),
            Some(pb::KeyState::PendingReplicaDeletion)
        );
        assert_eq!(pb::KeyState::aws_name_of(999), None);
    }
}
