//! The responses of the API, AWS-shaped and door-neutral. Field names are
//! AWS's in snake_case; `*_ms` fields are Unix milliseconds; a list's
//! `next_marker` is `Some` exactly when AWS would say `Truncated: true`.
//! Operations whose AWS response is empty answer `()`.

use crate::model::{
    DataKeyPairSpec, EncapsulationAlgorithm, EncryptionAlgorithm, ExpirationModel, GrantRecord,
    ImportState, KeyAgreementAlgorithm, KeyMaterialState, KeyMetadata, KeySpec, KeyState, KeyUsage,
    MacAlgorithm, Origin, RotationType, SigningAlgorithm,
};
use crate::secret::Plaintext;

/// CreateKey.
#[derive(Debug, Clone)]
pub struct CreateKeyResponse {
    /// The new key.
    pub key_metadata: KeyMetadata,
}

/// DescribeKey.
#[derive(Debug, Clone)]
pub struct DescribeKeyResponse {
    /// The key.
    pub key_metadata: KeyMetadata,
}

/// One entry of ListKeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    /// KeyId.
    pub key_id: String,
    /// KeyArn.
    pub key_arn: String,
}

/// ListKeys.
#[derive(Debug, Clone)]
pub struct ListKeysResponse {
    /// Keys.
    pub keys: Vec<KeyListEntry>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// ScheduleKeyDeletion.
#[derive(Debug, Clone)]
pub struct ScheduleKeyDeletionResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// DeletionDate (none while a multi-Region primary waits for its
    /// replicas' deletion).
    pub deletion_date_ms: Option<i64>,
    /// KeyState (PendingDeletion or PendingReplicaDeletion).
    pub key_state: KeyState,
    /// PendingWindowInDays.
    pub pending_window_in_days: u32,
}

/// CancelKeyDeletion.
#[derive(Debug, Clone)]
pub struct CancelKeyDeletionResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
}

/// One entry of ListAliases.
#[derive(Debug, Clone)]
pub struct AliasListEntry {
    /// AliasName.
    pub alias_name: String,
    /// AliasArn.
    pub alias_arn: String,
    /// TargetKeyId.
    pub target_key_id: String,
    /// CreationDate.
    pub creation_date_ms: i64,
    /// LastUpdatedDate.
    pub last_updated_date_ms: i64,
}

/// ListAliases.
#[derive(Debug, Clone)]
pub struct ListAliasesResponse {
    /// Aliases.
    pub aliases: Vec<AliasListEntry>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// ListResourceTags.
#[derive(Debug, Clone)]
pub struct ListResourceTagsResponse {
    /// Tags as (TagKey, TagValue), in key order.
    pub tags: Vec<(String, String)>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// Encrypt.
#[derive(Debug, Clone)]
pub struct EncryptResponse {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// EncryptionAlgorithm.
    pub encryption_algorithm: EncryptionAlgorithm,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// Decrypt.
#[derive(Debug)]
pub struct DecryptResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// Plaintext.
    pub plaintext: Plaintext,
    /// EncryptionAlgorithm.
    pub encryption_algorithm: EncryptionAlgorithm,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// ReEncrypt.
#[derive(Debug, Clone)]
pub struct ReEncryptResponse {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// SourceKeyId (ARN).
    pub source_key_id: String,
    /// KeyId (the destination key ARN).
    pub key_id: String,
    /// SourceEncryptionAlgorithm.
    pub source_encryption_algorithm: EncryptionAlgorithm,
    /// DestinationEncryptionAlgorithm.
    pub destination_encryption_algorithm: EncryptionAlgorithm,
    /// SourceKeyMaterialId.
    pub source_key_material_id: String,
    /// DestinationKeyMaterialId.
    pub destination_key_material_id: String,
}

/// GenerateDataKey.
#[derive(Debug)]
pub struct GenerateDataKeyResponse {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// Plaintext.
    pub plaintext: Plaintext,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// GenerateDataKeyWithoutPlaintext.
#[derive(Debug, Clone)]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// GenerateRandom.
#[derive(Debug)]
pub struct GenerateRandomResponse {
    /// Plaintext.
    pub plaintext: Plaintext,
}

/// GetPublicKey.
#[derive(Debug, Clone)]
pub struct GetPublicKeyResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// PublicKey, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// KeySpec (and CustomerMasterKeySpec).
    pub key_spec: KeySpec,
    /// KeyUsage.
    pub key_usage: KeyUsage,
    /// EncryptionAlgorithms.
    pub encryption_algorithms: &'static [EncryptionAlgorithm],
    /// SigningAlgorithms.
    pub signing_algorithms: &'static [SigningAlgorithm],
    /// KeyAgreementAlgorithms.
    pub key_agreement_algorithms: &'static [KeyAgreementAlgorithm],
    /// KeyEncapsulationAlgorithms.
    pub key_encapsulation_algorithms: &'static [EncapsulationAlgorithm],
}

/// Sign.
#[derive(Debug, Clone)]
pub struct SignResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// Signature.
    pub signature: Vec<u8>,
    /// SigningAlgorithm.
    pub signing_algorithm: SigningAlgorithm,
}

/// Verify (only a valid signature gets a response).
#[derive(Debug, Clone)]
pub struct VerifyResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// SignatureValid: always true.
    pub signature_valid: bool,
    /// SigningAlgorithm.
    pub signing_algorithm: SigningAlgorithm,
}

/// GenerateDataKeyPair.
#[derive(Debug)]
pub struct GenerateDataKeyPairResponse {
    /// PrivateKeyCiphertextBlob.
    pub private_key_ciphertext_blob: Vec<u8>,
    /// PrivateKeyPlaintext, PKCS#8 DER.
    pub private_key_plaintext: Plaintext,
    /// PublicKey, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// KeyPairSpec.
    pub key_pair_spec: DataKeyPairSpec,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// GenerateDataKeyPairWithoutPlaintext.
#[derive(Debug, Clone)]
pub struct GenerateDataKeyPairWithoutPlaintextResponse {
    /// PrivateKeyCiphertextBlob.
    pub private_key_ciphertext_blob: Vec<u8>,
    /// PublicKey, DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// KeyPairSpec.
    pub key_pair_spec: DataKeyPairSpec,
    /// KeyMaterialId.
    pub key_material_id: String,
}

/// GenerateMac.
#[derive(Debug, Clone)]
pub struct GenerateMacResponse {
    /// Mac.
    pub mac: Vec<u8>,
    /// MacAlgorithm.
    pub mac_algorithm: MacAlgorithm,
    /// KeyId (the key ARN).
    pub key_id: String,
}

/// VerifyMac (only a valid MAC gets a response).
#[derive(Debug, Clone)]
pub struct VerifyMacResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// MacValid: always true.
    pub mac_valid: bool,
    /// MacAlgorithm.
    pub mac_algorithm: MacAlgorithm,
}

/// DeriveSharedSecret. No `Debug`: it carries the shared secret.
pub struct DeriveSharedSecretResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// SharedSecret.
    pub shared_secret: Plaintext,
    /// KeyAgreementAlgorithm.
    pub key_agreement_algorithm: KeyAgreementAlgorithm,
    /// KeyOrigin.
    pub key_origin: Origin,
}

/// Encapsulate.
#[derive(Debug)]
pub struct EncapsulateResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// SharedSecret (32 bytes).
    pub shared_secret: Plaintext,
    /// SharedSecretCiphertextBlob.
    pub shared_secret_ciphertext_blob: Vec<u8>,
    /// EncapsulationAlgorithm.
    pub encapsulation_algorithm: EncapsulationAlgorithm,
}

/// Decapsulate.
#[derive(Debug)]
pub struct DecapsulateResponse {
    /// KeyId (the key ARN).
    pub key_id: String,
    /// SharedSecret (32 bytes).
    pub shared_secret: Plaintext,
    /// EncapsulationAlgorithm.
    pub encapsulation_algorithm: EncapsulationAlgorithm,
}

/// GetKeyPolicy.
#[derive(Debug, Clone)]
pub struct GetKeyPolicyResponse {
    /// Policy.
    pub policy: String,
    /// PolicyName.
    pub policy_name: String,
}

/// ListKeyPolicies.
#[derive(Debug, Clone)]
pub struct ListKeyPoliciesResponse {
    /// PolicyNames.
    pub policy_names: Vec<String>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// CreateGrant.
#[derive(Debug, Clone)]
pub struct CreateGrantResponse {
    /// GrantToken.
    pub grant_token: String,
    /// GrantId.
    pub grant_id: String,
}

/// ListGrants and ListRetirableGrants.
#[derive(Debug, Clone)]
pub struct ListGrantsResponse {
    /// Grants (AWS's GrantListEntry fields).
    pub grants: Vec<GrantRecord>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// GetKeyRotationStatus.
#[derive(Debug, Clone)]
pub struct GetKeyRotationStatusResponse {
    /// KeyRotationEnabled.
    pub key_rotation_enabled: bool,
    /// KeyId (the key ARN).
    pub key_id: String,
    /// RotationPeriodInDays.
    pub rotation_period_in_days: Option<u32>,
    /// NextRotationDate.
    pub next_rotation_date_ms: Option<i64>,
}

/// ReplicateKey.
#[derive(Debug, Clone)]
pub struct ReplicateKeyResponse {
    /// ReplicaKeyMetadata: the replica, in its Region.
    pub replica_key_metadata: KeyMetadata,
    /// ReplicaPolicy.
    pub replica_policy: String,
    /// ReplicaTags.
    pub replica_tags: Vec<(String, String)>,
}

/// RotateKeyOnDemand.
#[derive(Debug, Clone)]
pub struct RotateKeyOnDemandResponse {
    /// KeyId.
    pub key_id: String,
}

/// One entry of ListKeyRotations.
#[derive(Debug, Clone)]
pub struct RotationsListEntry {
    /// KeyId.
    pub key_id: String,
    /// KeyMaterialId.
    pub key_material_id: String,
    /// KeyMaterialDescription (imported material).
    pub key_material_description: Option<String>,
    /// ImportState (EXTERNAL keys only): whether the material is present.
    pub import_state: Option<ImportState>,
    /// ExpirationModel (EXTERNAL keys only).
    pub expiration_model: Option<ExpirationModel>,
    /// ValidTo (imported material that expires).
    pub valid_to_ms: Option<i64>,
    /// KeyMaterialState.
    pub key_material_state: KeyMaterialState,
    /// RotationDate (absent for the original material).
    pub rotation_date_ms: Option<i64>,
    /// RotationType (absent for the original material).
    pub rotation_type: Option<RotationType>,
}

/// ListKeyRotations.
#[derive(Debug, Clone)]
pub struct ListKeyRotationsResponse {
    /// Rotations.
    pub rotations: Vec<RotationsListEntry>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// GetPrincipalPolicy (IAM-lite).
#[derive(Debug, Clone)]
pub struct GetPrincipalPolicyResponse {
    /// The principal.
    pub principal_arn: String,
    /// PolicyName.
    pub policy_name: String,
    /// PolicyDocument.
    pub policy_document: String,
}

/// ListPrincipalPolicies (IAM-lite).
#[derive(Debug, Clone)]
pub struct ListPrincipalPoliciesResponse {
    /// PolicyNames.
    pub policy_names: Vec<String>,
    /// NextMarker.
    pub next_marker: Option<String>,
}

/// GetParametersForImport.
#[derive(Debug, Clone)]
pub struct GetParametersForImportResponse {
    /// KeyId (the key's ARN, as AWS answers).
    pub key_id: String,
    /// ImportToken (opaque; authenticated by kmsd).
    pub import_token: Vec<u8>,
    /// PublicKey: DER SubjectPublicKeyInfo of the RSA wrapping key.
    pub public_key: Vec<u8>,
    /// ParametersValidTo.
    pub parameters_valid_to_ms: i64,
}

/// ImportKeyMaterial.
/// (No `Debug` or `Clone`: tests/it/tidy.rs counts every `*KeyMaterial*`
/// type as a secret.)
pub struct ImportKeyMaterialResponse {
    /// KeyId (ARN).
    pub key_id: String,
    /// KeyMaterialId of the imported material.
    pub key_material_id: String,
}

/// DeleteImportedKeyMaterial.
/// (No `Debug` or `Clone`: tests/it/tidy.rs counts every `*KeyMaterial*`
/// type as a secret.)
pub struct DeleteImportedKeyMaterialResponse {
    /// KeyId (ARN).
    pub key_id: String,
    /// KeyMaterialId of the deleted material.
    pub key_material_id: String,
}

// ---------------------------------------------------------------- custom key stores

/// CreateCustomKeyStore.
#[derive(Debug, Clone)]
pub struct CreateCustomKeyStoreResponse {
    /// CustomKeyStoreId.
    pub custom_key_store_id: String,
}

/// One entry of DescribeCustomKeyStores (the core's view, as it is).
pub use crate::kms::custom_key_stores::CustomKeyStoreEntry as CustomKeyStoresListEntry;

/// DescribeCustomKeyStores.
#[derive(Debug, Clone)]
pub struct DescribeCustomKeyStoresResponse {
    /// The stores.
    pub custom_key_stores: Vec<CustomKeyStoresListEntry>,
    /// NextMarker.
    pub next_marker: Option<String>,
}
