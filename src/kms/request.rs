//! The requests of the AWS KMS API (and kmsd's IAM-lite IdentityService),
//! as the core takes them: one struct per operation, fields named and
//! typed as AWS defines them, already decoded from whatever wire a door
//! speaks.
//!
//! A door fills one of these from its wire format (`None` = the field was
//! not given, so the AWS default applies) and hands it to the door-neutral
//! API layer (`crate::api`), which calls the core. Validation of field
//! values (lengths, ranges, combinations) is the core's job, never the
//! door's, so every door refuses the same inputs with the same errors.

use std::collections::HashMap;

use crate::model::{
    DataKeyPairSpec, DataKeySpec, EncapsulationAlgorithm, EncryptionAlgorithm, GrantConstraints,
    GrantOperation, KeyAgreementAlgorithm, KeySpec, MacAlgorithm, MessageType, SigningAlgorithm,
};
use crate::model::{
    ExpirationModel, ImportType, KeyUsage, Origin, WrappingAlgorithm, WrappingKeySpec,
};
use crate::secret::Plaintext;

/// An encryption context as it arrives: key → value.
pub type EncryptionContext = HashMap<String, String>;

/// A tag as it arrives: (TagKey, TagValue), in request order.
pub type Tag = (String, String);

/// CreateKey.
#[derive(Debug, Clone, Default)]
pub struct CreateKeyRequest {
    /// Key policy document.
    pub policy: Option<String>,
    /// Description.
    pub description: String,
    /// KeySpec (or the deprecated CustomerMasterKeySpec, reconciled by the door).
    pub key_spec: Option<KeySpec>,
    /// KeyUsage.
    pub key_usage: Option<KeyUsage>,
    /// Origin.
    pub origin: Option<Origin>,
    /// CustomKeyStoreId.
    pub custom_key_store_id: Option<String>,
    /// Tags, in request order.
    pub tags: Vec<Tag>,
    /// MultiRegion.
    pub multi_region: bool,
    /// XksKeyId.
    pub xks_key_id: Option<String>,
    /// BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
}

/// DescribeKey.
#[derive(Debug, Clone, Default)]
pub struct DescribeKeyRequest {
    /// KeyId (any of the four forms).
    pub key_id: String,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// A list operation's paging fields.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Limit (1–1000, default 100).
    pub limit: Option<i32>,
    /// Marker from the previous page's NextMarker.
    pub marker: Option<String>,
}

/// ListKeys.
#[derive(Debug, Clone, Default)]
pub struct ListKeysRequest {
    /// Paging.
    pub page: Page,
}

/// ReplicateKey.
#[derive(Debug, Clone, Default)]
pub struct ReplicateKeyRequest {
    /// KeyId (of the primary key, in this Region).
    pub key_id: String,
    /// ReplicaRegion.
    pub replica_region: String,
    /// The replica's key policy; AWS's default key policy when `None`.
    pub policy: Option<String>,
    /// BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
    /// The replica's description (`None`: the primary's).
    pub description: Option<String>,
    /// The replica's tags, in request order.
    pub tags: Vec<Tag>,
}

/// UpdatePrimaryRegion.
#[derive(Debug, Clone, Default)]
pub struct UpdatePrimaryRegionRequest {
    /// KeyId (of the current primary key, in this Region).
    pub key_id: String,
    /// PrimaryRegion: the Region of the replica to promote.
    pub primary_region: String,
}

/// UpdateKeyDescription.
#[derive(Debug, Clone, Default)]
pub struct UpdateKeyDescriptionRequest {
    /// KeyId.
    pub key_id: String,
    /// Description.
    pub description: String,
}

macro_rules! key_id_requests {
    ($($(#[$m:meta])* $name:ident;)+) => {
        $(
            $(#[$m])*
            #[derive(Debug, Clone, Default)]
            pub struct $name {
                /// KeyId.
                pub key_id: String,
            }
        )+
    };
}

key_id_requests! {
    /// EnableKey.
    EnableKeyRequest;
    /// DisableKey.
    DisableKeyRequest;
    /// CancelKeyDeletion.
    CancelKeyDeletionRequest;
    /// DisableKeyRotation.
    DisableKeyRotationRequest;
    /// GetKeyRotationStatus.
    GetKeyRotationStatusRequest;
    /// RotateKeyOnDemand.
    RotateKeyOnDemandRequest;
}

/// ScheduleKeyDeletion.
#[derive(Debug, Clone, Default)]
pub struct ScheduleKeyDeletionRequest {
    /// KeyId.
    pub key_id: String,
    /// PendingWindowInDays (7–30, default 30).
    pub pending_window_in_days: Option<i32>,
}

/// CreateAlias.
#[derive(Debug, Clone, Default)]
pub struct CreateAliasRequest {
    /// AliasName (`alias/...`).
    pub alias_name: String,
    /// TargetKeyId.
    pub target_key_id: String,
}

/// UpdateAlias.
#[derive(Debug, Clone, Default)]
pub struct UpdateAliasRequest {
    /// AliasName (`alias/...`).
    pub alias_name: String,
    /// TargetKeyId.
    pub target_key_id: String,
}

/// DeleteAlias.
#[derive(Debug, Clone, Default)]
pub struct DeleteAliasRequest {
    /// AliasName.
    pub alias_name: String,
}

/// ListAliases.
#[derive(Debug, Clone, Default)]
pub struct ListAliasesRequest {
    /// Only the aliases of this key.
    pub key_id: Option<String>,
    /// Paging.
    pub page: Page,
}

/// TagResource.
#[derive(Debug, Clone, Default)]
pub struct TagResourceRequest {
    /// KeyId.
    pub key_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// UntagResource.
#[derive(Debug, Clone, Default)]
pub struct UntagResourceRequest {
    /// KeyId.
    pub key_id: String,
    /// TagKeys.
    pub tag_keys: Vec<String>,
}

/// ListResourceTags.
#[derive(Debug, Clone, Default)]
pub struct ListResourceTagsRequest {
    /// KeyId.
    pub key_id: String,
    /// Paging.
    pub page: Page,
}

/// Encrypt.
#[derive(Debug)]
pub struct EncryptRequest {
    /// KeyId.
    pub key_id: String,
    /// Plaintext (1–4096 bytes); wiped when the request is dropped.
    pub plaintext: Plaintext,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
    /// EncryptionAlgorithm.
    pub encryption_algorithm: Option<EncryptionAlgorithm>,
}

/// Decrypt.
#[derive(Debug, Clone, Default)]
pub struct DecryptRequest {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
    /// KeyId (optional for symmetric ciphertexts).
    pub key_id: Option<String>,
    /// EncryptionAlgorithm.
    pub encryption_algorithm: Option<EncryptionAlgorithm>,
}

/// ReEncrypt.
#[derive(Debug, Clone, Default)]
pub struct ReEncryptRequest {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// SourceEncryptionContext.
    pub source_encryption_context: EncryptionContext,
    /// SourceKeyId.
    pub source_key_id: Option<String>,
    /// DestinationKeyId.
    pub destination_key_id: String,
    /// DestinationEncryptionContext.
    pub destination_encryption_context: EncryptionContext,
    /// SourceEncryptionAlgorithm.
    pub source_encryption_algorithm: Option<EncryptionAlgorithm>,
    /// DestinationEncryptionAlgorithm.
    pub destination_encryption_algorithm: Option<EncryptionAlgorithm>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// GenerateDataKey.
#[derive(Debug, Clone, Default)]
pub struct GenerateDataKeyRequest {
    /// KeyId.
    pub key_id: String,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// NumberOfBytes (1–1024), exclusive with KeySpec.
    pub number_of_bytes: Option<i32>,
    /// KeySpec, exclusive with NumberOfBytes.
    pub key_spec: Option<DataKeySpec>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// GenerateDataKeyWithoutPlaintext: exactly the fields of GenerateDataKey,
/// a type of its own so that each request type names one operation.
#[derive(Debug, Clone, Default)]
pub struct GenerateDataKeyWithoutPlaintextRequest(pub GenerateDataKeyRequest);

/// GenerateRandom.
#[derive(Debug, Clone, Default)]
pub struct GenerateRandomRequest {
    /// NumberOfBytes (1–1024).
    pub number_of_bytes: Option<i32>,
    /// CustomKeyStoreId.
    pub custom_key_store_id: Option<String>,
}

/// GetPublicKey.
#[derive(Debug, Clone, Default)]
pub struct GetPublicKeyRequest {
    /// KeyId.
    pub key_id: String,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// Sign.
#[derive(Debug, Clone, Default)]
pub struct SignRequest {
    /// KeyId.
    pub key_id: String,
    /// Message (1–4096 bytes): the message, its digest, or ML-DSA's mu.
    pub message: Vec<u8>,
    /// MessageType (RAW when not given).
    pub message_type: Option<MessageType>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
    /// SigningAlgorithm (required).
    pub signing_algorithm: Option<SigningAlgorithm>,
}

/// Verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// KeyId.
    pub key_id: String,
    /// Message, as for Sign.
    pub message: Vec<u8>,
    /// MessageType (RAW when not given).
    pub message_type: Option<MessageType>,
    /// Signature.
    pub signature: Vec<u8>,
    /// SigningAlgorithm (required).
    pub signing_algorithm: Option<SigningAlgorithm>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// GenerateDataKeyPair.
#[derive(Debug, Clone, Default)]
pub struct GenerateDataKeyPairRequest {
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// KeyId: the symmetric encryption key that seals the private key.
    pub key_id: String,
    /// KeyPairSpec (required).
    pub key_pair_spec: Option<DataKeyPairSpec>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// GenerateDataKeyPairWithoutPlaintext: GenerateDataKeyPair's fields.
#[derive(Debug, Clone, Default)]
pub struct GenerateDataKeyPairWithoutPlaintextRequest(pub GenerateDataKeyPairRequest);

/// GenerateMac.
#[derive(Debug, Clone, Default)]
pub struct GenerateMacRequest {
    /// Message (1–4096 bytes).
    pub message: Vec<u8>,
    /// KeyId.
    pub key_id: String,
    /// MacAlgorithm (required).
    pub mac_algorithm: Option<MacAlgorithm>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// VerifyMac.
#[derive(Debug, Clone, Default)]
pub struct VerifyMacRequest {
    /// Message (1–4096 bytes).
    pub message: Vec<u8>,
    /// KeyId.
    pub key_id: String,
    /// MacAlgorithm (required).
    pub mac_algorithm: Option<MacAlgorithm>,
    /// Mac.
    pub mac: Vec<u8>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// DeriveSharedSecret. (No `Debug` or `Clone`: the secret-name rule of
/// tests/it/tidy.rs counts every `*Secret*` type as a secret.)
#[derive(Default)]
pub struct DeriveSharedSecretRequest {
    /// KeyId.
    pub key_id: String,
    /// KeyAgreementAlgorithm (required).
    pub key_agreement_algorithm: Option<KeyAgreementAlgorithm>,
    /// PublicKey: the other party's, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
    /// Recipient.AttestationDocument (refused: kmsd has no enclaves).
    pub recipient_attestation_document: Option<Vec<u8>>,
}

/// Encapsulate.
#[derive(Debug, Clone, Default)]
pub struct EncapsulateRequest {
    /// KeyId.
    pub key_id: String,
    /// EncapsulationAlgorithm (required).
    pub encapsulation_algorithm: Option<EncapsulationAlgorithm>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// Decapsulate.
#[derive(Debug, Clone, Default)]
pub struct DecapsulateRequest {
    /// KeyId.
    pub key_id: String,
    /// The ciphertext Encapsulate returned.
    pub ciphertext: Vec<u8>,
    /// EncapsulationAlgorithm (required).
    pub encapsulation_algorithm: Option<EncapsulationAlgorithm>,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
}

/// PutKeyPolicy.
#[derive(Debug, Clone, Default)]
pub struct PutKeyPolicyRequest {
    /// KeyId.
    pub key_id: String,
    /// PolicyName (only `default`).
    pub policy_name: Option<String>,
    /// Policy document.
    pub policy: String,
    /// BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
}

/// GetKeyPolicy.
#[derive(Debug, Clone, Default)]
pub struct GetKeyPolicyRequest {
    /// KeyId.
    pub key_id: String,
    /// PolicyName (only `default`).
    pub policy_name: Option<String>,
}

/// ListKeyPolicies.
#[derive(Debug, Clone, Default)]
pub struct ListKeyPoliciesRequest {
    /// KeyId.
    pub key_id: String,
    /// Paging.
    pub page: Page,
}

/// CreateGrant.
#[derive(Debug, Clone, Default)]
pub struct CreateGrantRequest {
    /// KeyId (any form).
    pub key_id: String,
    /// GranteePrincipal.
    pub grantee_principal: String,
    /// RetiringPrincipal.
    pub retiring_principal: Option<String>,
    /// Operations.
    pub operations: Vec<GrantOperation>,
    /// Constraints.
    pub constraints: GrantConstraints,
    /// GrantTokens.
    pub grant_tokens: Vec<String>,
    /// Name.
    pub name: Option<String>,
}

/// ListGrants.
#[derive(Debug, Clone, Default)]
pub struct ListGrantsRequest {
    /// KeyId.
    pub key_id: String,
    /// Only this grant.
    pub grant_id: Option<String>,
    /// Only grants to this grantee.
    pub grantee_principal: Option<String>,
    /// Paging.
    pub page: Page,
}

/// ListRetirableGrants.
#[derive(Debug, Clone, Default)]
pub struct ListRetirableGrantsRequest {
    /// RetiringPrincipal.
    pub retiring_principal: String,
    /// Paging.
    pub page: Page,
}

/// RetireGrant: a GrantToken, or KeyId and GrantId.
#[derive(Debug, Clone, Default)]
pub struct RetireGrantRequest {
    /// GrantToken.
    pub grant_token: Option<String>,
    /// KeyId.
    pub key_id: Option<String>,
    /// GrantId.
    pub grant_id: Option<String>,
}

/// RevokeGrant.
#[derive(Debug, Clone, Default)]
pub struct RevokeGrantRequest {
    /// KeyId.
    pub key_id: String,
    /// GrantId.
    pub grant_id: String,
}

/// EnableKeyRotation.
#[derive(Debug, Clone, Default)]
pub struct EnableKeyRotationRequest {
    /// KeyId.
    pub key_id: String,
    /// RotationPeriodInDays (90–2560, default 365).
    pub rotation_period_in_days: Option<i32>,
}

/// ListKeyRotations.
#[derive(Debug, Clone, Default)]
pub struct ListKeyRotationsRequest {
    /// KeyId.
    pub key_id: String,
    /// IncludeKeyMaterial ALL_KEY_MATERIAL: list the original material too.
    pub include_original: bool,
    /// Paging.
    pub page: Page,
}

/// PutPrincipalPolicy (IAM-lite).
#[derive(Debug, Clone, Default)]
pub struct PutPrincipalPolicyRequest {
    /// The principal whose policy this is.
    pub principal_arn: String,
    /// PolicyName.
    pub policy_name: String,
    /// PolicyDocument.
    pub policy_document: String,
}

/// GetPrincipalPolicy (IAM-lite).
#[derive(Debug, Clone, Default)]
pub struct GetPrincipalPolicyRequest {
    /// The principal whose policy this is.
    pub principal_arn: String,
    /// PolicyName.
    pub policy_name: String,
}

/// DeletePrincipalPolicy (IAM-lite).
#[derive(Debug, Clone, Default)]
pub struct DeletePrincipalPolicyRequest {
    /// The principal whose policy this is.
    pub principal_arn: String,
    /// PolicyName.
    pub policy_name: String,
}

/// ListPrincipalPolicies (IAM-lite).
#[derive(Debug, Clone, Default)]
pub struct ListPrincipalPoliciesRequest {
    /// The principal whose policies to list.
    pub principal_arn: String,
    /// Paging.
    pub page: Page,
}

/// GetParametersForImport.
#[derive(Debug, Clone, Default)]
pub struct GetParametersForImportRequest {
    /// KeyId (an EXTERNAL key; no alias, as AWS).
    pub key_id: String,
    /// WrappingAlgorithm (required).
    pub wrapping_algorithm: Option<WrappingAlgorithm>,
    /// WrappingKeySpec (required).
    pub wrapping_key_spec: Option<WrappingKeySpec>,
}

/// ImportKeyMaterial.
/// (No `Debug` or `Clone`: tests/it/tidy.rs counts every `*KeyMaterial*`
/// type as a secret.)
#[derive(Default)]
pub struct ImportKeyMaterialRequest {
    /// KeyId (an EXTERNAL key; no alias, as AWS).
    pub key_id: String,
    /// ImportToken, as GetParametersForImport returned it.
    pub import_token: Vec<u8>,
    /// EncryptedKeyMaterial: the material wrapped under the wrapping
    /// public key with the wrapping algorithm of the token's parameters.
    /// Ciphertext, so not a secret type.
    pub encrypted_key_material: Vec<u8>,
    /// ValidTo, Unix ms (required with KEY_MATERIAL_EXPIRES, refused with
    /// KEY_MATERIAL_DOES_NOT_EXPIRE).
    pub valid_to_ms: Option<i64>,
    /// ExpirationModel (AWS's default when not given: KEY_MATERIAL_EXPIRES).
    pub expiration_model: Option<ExpirationModel>,
    /// ImportType (not given: NEW_KEY_MATERIAL for a key's first import,
    /// EXISTING_KEY_MATERIAL after, as AWS).
    pub import_type: Option<ImportType>,
    /// KeyMaterialDescription (0–256 characters).
    pub key_material_description: Option<String>,
    /// KeyMaterialId (64 hex digits): with EXISTING_KEY_MATERIAL, which
    /// material is re-imported (the current one when not given).
    pub key_material_id: Option<String>,
}

/// DeleteImportedKeyMaterial.
/// (No `Debug` or `Clone`: tests/it/tidy.rs counts every `*KeyMaterial*`
/// type as a secret.)
#[derive(Default)]
pub struct DeleteImportedKeyMaterialRequest {
    /// KeyId (an EXTERNAL key; no alias, as AWS).
    pub key_id: String,
    /// KeyMaterialId (the current material when not given).
    pub key_material_id: Option<String>,
}

// ---------------------------------------------------------------- custom key stores

/// CreateCustomKeyStore.
#[derive(Debug, Default)]
pub struct CreateCustomKeyStoreRequest {
    /// CustomKeyStoreName (1–256 characters, unique in the account).
    pub custom_key_store_name: String,
    /// CloudHsmClusterId (19–24 characters; a cluster kmsd was told of
    /// with `--hsm-cluster`).
    pub cloud_hsm_cluster_id: Option<String>,
    /// TrustAnchorCertificate: PEM of the cluster's CA certificate.
    pub trust_anchor_certificate: Option<String>,
    /// KeyStorePassword: the `kmsuser` password (7–32 characters).
    pub key_store_password: Option<crate::secret::Password>,
    /// CustomKeyStoreType as AWS spells it (`AWS_CLOUDHSM` when not
    /// given; `EXTERNAL_KEY_STORE` is UnsupportedOperationException).
    pub custom_key_store_type: Option<String>,
}

/// DescribeCustomKeyStores.
#[derive(Debug, Clone, Default)]
pub struct DescribeCustomKeyStoresRequest {
    /// CustomKeyStoreId (at most one of id and name).
    pub custom_key_store_id: Option<String>,
    /// CustomKeyStoreName.
    pub custom_key_store_name: Option<String>,
    /// Paging.
    pub page: Page,
}

/// UpdateCustomKeyStore.
#[derive(Debug, Default)]
pub struct UpdateCustomKeyStoreRequest {
    /// CustomKeyStoreId.
    pub custom_key_store_id: String,
    /// NewCustomKeyStoreName.
    pub new_custom_key_store_name: Option<String>,
    /// KeyStorePassword (tells kmsd the current `kmsuser` password; the
    /// store must be disconnected).
    pub key_store_password: Option<crate::secret::Password>,
    /// CloudHsmClusterId (a related cluster; the store must be
    /// disconnected).
    pub cloud_hsm_cluster_id: Option<String>,
}

/// ConnectCustomKeyStore, DisconnectCustomKeyStore, DeleteCustomKeyStore.
#[derive(Debug, Clone, Default)]
pub struct CustomKeyStoreIdRequest {
    /// CustomKeyStoreId.
    pub custom_key_store_id: String,
}

/// ConnectCustomKeyStore.
#[derive(Debug, Clone, Default)]
pub struct ConnectCustomKeyStoreRequest(pub CustomKeyStoreIdRequest);

/// DisconnectCustomKeyStore.
#[derive(Debug, Clone, Default)]
pub struct DisconnectCustomKeyStoreRequest(pub CustomKeyStoreIdRequest);

/// DeleteCustomKeyStore.
#[derive(Debug, Clone, Default)]
pub struct DeleteCustomKeyStoreRequest(pub CustomKeyStoreIdRequest);
