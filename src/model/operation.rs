//! The operations kmsd serves, with their IAM action names and the key
//! states each accepts. Authorization, auditing and state checks all key off
//! this one enum.

use super::key::StateClass;

macro_rules! operations {
    ($($variant:ident => $action:literal, $class:ident;)+) => {
        /// An operation on (or about) a key, as authorized and audited.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Operation {
            $(
                #[doc = concat!("`", $action, "`")]
                $variant,
            )+
        }

        impl Operation {
            /// The IAM action, e.g. `kms:Decrypt`.
            pub fn action(self) -> &'static str {
                match self { $(Operation::$variant => $action),+ }
            }

            /// Which key states the operation accepts.
            pub fn state_class(self) -> StateClass {
                match self { $(Operation::$variant => StateClass::$class),+ }
            }
        }
    };
}

operations! {
    CreateKey => "kms:CreateKey", Any;
    DescribeKey => "kms:DescribeKey", Any;
    ListKeys => "kms:ListKeys", Any;
    UpdateKeyDescription => "kms:UpdateKeyDescription", NotPendingDeletion;
    EnableKey => "kms:EnableKey", EnableDisable;
    DisableKey => "kms:DisableKey", EnableDisable;
    ScheduleKeyDeletion => "kms:ScheduleKeyDeletion", ScheduleDeletion;
    CancelKeyDeletion => "kms:CancelKeyDeletion", CancelDeletion;
    CreateAlias => "kms:CreateAlias", NotPendingDeletion;
    UpdateAlias => "kms:UpdateAlias", NotPendingDeletion;
    DeleteAlias => "kms:DeleteAlias", Any;
    ListAliases => "kms:ListAliases", Any;
    TagResource => "kms:TagResource", NotPendingDeletion;
    UntagResource => "kms:UntagResource", NotPendingDeletion;
    ListResourceTags => "kms:ListResourceTags", Any;
    Encrypt => "kms:Encrypt", Cryptographic;
    Decrypt => "kms:Decrypt", Cryptographic;
    ReEncryptFrom => "kms:ReEncryptFrom", Cryptographic;
    ReEncryptTo => "kms:ReEncryptTo", Cryptographic;
    GenerateDataKey => "kms:GenerateDataKey", Cryptographic;
    GenerateDataKeyWithoutPlaintext => "kms:GenerateDataKeyWithoutPlaintext", Cryptographic;
    GenerateRandom => "kms:GenerateRandom", Any;
    GetPublicKey => "kms:GetPublicKey", Cryptographic;
    Sign => "kms:Sign", Cryptographic;
    Verify => "kms:Verify", Cryptographic;
    GenerateDataKeyPair => "kms:GenerateDataKeyPair", Cryptographic;
    GenerateDataKeyPairWithoutPlaintext => "kms:GenerateDataKeyPairWithoutPlaintext", Cryptographic;
    GenerateMac => "kms:GenerateMac", Cryptographic;
    VerifyMac => "kms:VerifyMac", Cryptographic;
    DeriveSharedSecret => "kms:DeriveSharedSecret", Cryptographic;
    Encapsulate => "kms:Encapsulate", Cryptographic;
    Decapsulate => "kms:Decapsulate", Cryptographic;
    PutKeyPolicy => "kms:PutKeyPolicy", NotPendingDeletion;
    GetKeyPolicy => "kms:GetKeyPolicy", Any;
    ListKeyPolicies => "kms:ListKeyPolicies", Any;
    CreateGrant => "kms:CreateGrant", Cryptographic;
    ListGrants => "kms:ListGrants", Any;
    ListRetirableGrants => "kms:ListRetirableGrants", Any;
    RetireGrant => "kms:RetireGrant", Any;
    RevokeGrant => "kms:RevokeGrant", Any;
    EnableKeyRotation => "kms:EnableKeyRotation", Cryptographic;
    DisableKeyRotation => "kms:DisableKeyRotation", Cryptographic;
    GetKeyRotationStatus => "kms:GetKeyRotationStatus", Any;
    RotateKeyOnDemand => "kms:RotateKeyOnDemand", Cryptographic;
    ListKeyRotations => "kms:ListKeyRotations", Any;
    // Multi-Region keys. ReplicateKey: a primary key Enabled or Disabled;
    // UpdatePrimaryRegion: both keys Enabled (AWS).
    ReplicateKey => "kms:ReplicateKey", EnableDisable;
    UpdatePrimaryRegion => "kms:UpdatePrimaryRegion", Cryptographic;
    GetParametersForImport => "kms:GetParametersForImport", NotPendingDeletion;
    ImportKeyMaterial => "kms:ImportKeyMaterial", NotPendingDeletion;
    DeleteImportedKeyMaterial => "kms:DeleteImportedKeyMaterial", NotPendingDeletion;
    // Custom key stores: no key resource (IAM policies only, as in AWS).
    CreateCustomKeyStore => "kms:CreateCustomKeyStore", Any;
    DescribeCustomKeyStores => "kms:DescribeCustomKeyStores", Any;
    UpdateCustomKeyStore => "kms:UpdateCustomKeyStore", Any;
    ConnectCustomKeyStore => "kms:ConnectCustomKeyStore", Any;
    DisconnectCustomKeyStore => "kms:DisconnectCustomKeyStore", Any;
    DeleteCustomKeyStore => "kms:DeleteCustomKeyStore", Any;
    // kmsd's IAM-lite IdentityService: inline identity policies.
    PutPrincipalPolicy => "iam:PutPrincipalPolicy", Any;
    GetPrincipalPolicy => "iam:GetPrincipalPolicy", Any;
    ListPrincipalPolicies => "iam:ListPrincipalPolicies", Any;
    DeletePrincipalPolicy => "iam:DeletePrincipalPolicy", Any;
}

impl Operation {
    /// The operation name without the service prefix (`kms:`, `iam:`).
    pub fn name(self) -> &'static str {
        let a = self.action();
        a.split_once(':').map_or(a, |(_, name)| name)
    }

    /// Whether this is an IAM-lite operation on a principal's identity
    /// policies rather than an operation on (or about) a key.
    pub fn is_identity_admin(self) -> bool {
        self.action().starts_with("iam:")
    }
}

impl Operation {
    /// Whether a multi-Region key in state Updating (UpdatePrimaryRegion in
    /// progress) refuses this operation with KMSInvalidStateException:
    /// changes of its enabled state, of its Regions, of its rotation and
    /// its deletion wait until the hand-over completes; cryptography and
    /// per-Region properties (policy, tags, aliases, grants) do not.
    pub fn refused_while_updating(self) -> bool {
        matches!(
            self,
            Operation::EnableKey
                | Operation::DisableKey
                | Operation::ReplicateKey
                | Operation::UpdatePrimaryRegion
                | Operation::EnableKeyRotation
                | Operation::DisableKeyRotation
                | Operation::RotateKeyOnDemand
                | Operation::ScheduleKeyDeletion
                | Operation::ImportKeyMaterial
                | Operation::DeleteImportedKeyMaterial
        )
    }
}

impl Operation {
    /// The grant operation that allows this operation, if grants can.
    pub fn grant_operation(self) -> Option<super::GrantOperation> {
        use super::GrantOperation as G;
        Some(match self {
            Operation::Decrypt => G::Decrypt,
            Operation::Encrypt => G::Encrypt,
            Operation::GenerateDataKey => G::GenerateDataKey,
            Operation::GenerateDataKeyWithoutPlaintext => G::GenerateDataKeyWithoutPlaintext,
            Operation::ReEncryptFrom => G::ReEncryptFrom,
            Operation::ReEncryptTo => G::ReEncryptTo,
            Operation::CreateGrant => G::CreateGrant,
            Operation::RetireGrant => G::RetireGrant,
            Operation::DescribeKey => G::DescribeKey,
            Operation::GetPublicKey => G::GetPublicKey,
            Operation::Sign => G::Sign,
            Operation::Verify => G::Verify,
            Operation::GenerateDataKeyPair => G::GenerateDataKeyPair,
            Operation::GenerateDataKeyPairWithoutPlaintext => {
                G::GenerateDataKeyPairWithoutPlaintext
            }
            Operation::GenerateMac => G::GenerateMac,
            Operation::VerifyMac => G::VerifyMac,
            Operation::DeriveSharedSecret => G::DeriveSharedSecret,
            Operation::Encapsulate => G::Encapsulate,
            Operation::Decapsulate => G::Decapsulate,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GrantOperation;

    #[test]
    fn every_grant_operation_authorizes_its_operation() {
        let ops = [
            Operation::Decrypt,
            Operation::Encrypt,
            Operation::GenerateDataKey,
            Operation::GenerateDataKeyWithoutPlaintext,
            Operation::ReEncryptFrom,
            Operation::ReEncryptTo,
            Operation::Sign,
            Operation::Verify,
            Operation::GetPublicKey,
            Operation::CreateGrant,
            Operation::RetireGrant,
            Operation::DescribeKey,
            Operation::GenerateDataKeyPair,
            Operation::GenerateDataKeyPairWithoutPlaintext,
            Operation::GenerateMac,
            Operation::VerifyMac,
            Operation::DeriveSharedSecret,
            Operation::Encapsulate,
            Operation::Decapsulate,
        ];
        for g in GrantOperation::ALL {
            let op = ops
                .iter()
                .find(|o| o.grant_operation() == Some(*g))
                .unwrap_or_else(|| panic!("no operation for grant operation {g}"));
            // The grant operation is named as the IAM action is.
            assert_eq!(op.name(), g.as_aws_str());
        }
        assert_eq!(Operation::Sign.action(), "kms:Sign");
        assert_eq!(
            Operation::GenerateDataKeyPairWithoutPlaintext.state_class(),
            StateClass::Cryptographic
        );
        assert_eq!(Operation::ListKeys.grant_operation(), None);
    }
}
