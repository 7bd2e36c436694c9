//! What the API says about a key: AWS's `KeyMetadata`, built from a key
//! record by the core, so every door reports the same facts (which
//! algorithms a key supports, who manages it, where its material lives)
//! and none of them hard-codes one.

use serde::{Deserialize, Serialize};

use super::ids::key_material_id;
use super::key::{aws_enum, EncryptionAlgorithm, KeyRecord, KeySpec, KeyState, KeyUsage, Origin};

aws_enum!(
    /// AWS `KeyManagerType`.
    KeyManager {
        /// An AWS managed key (`aws/...`); kmsd has none.
        Aws = "AWS",
        /// A customer managed key: every key kmsd holds.
        Customer = "CUSTOMER",
    }
);

aws_enum!(
    /// AWS `KeyMaterialState` (ListKeyRotations).
    KeyMaterialState {
        /// An older version: still decrypts, no longer encrypts.
        NonCurrent = "NON_CURRENT",
        /// The version new encryptions use.
        Current = "CURRENT",
        /// Imported, waiting to become current by a rotation.
        PendingRotation = "PENDING_ROTATION",
    }
);

/// AWS `KeyMetadata`, door-neutral. Times are Unix milliseconds; each door
/// renders them its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// AWSAccountId.
    pub aws_account_id: String,
    /// KeyId.
    pub key_id: String,
    /// Arn.
    pub arn: String,
    /// CreationDate.
    pub creation_date_ms: i64,
    /// Enabled.
    pub enabled: bool,
    /// Description.
    pub description: String,
    /// KeyUsage.
    pub key_usage: KeyUsage,
    /// KeyState.
    pub key_state: KeyState,
    /// DeletionDate (keys pending deletion).
    pub deletion_date_ms: Option<i64>,
    /// ValidTo (imported material that expires).
    pub valid_to_ms: Option<i64>,
    /// Origin.
    pub origin: Origin,
    /// CustomKeyStoreId (keys in a custom key store).
    pub custom_key_store_id: Option<String>,
    /// CloudHsmClusterId (keys in a CloudHSM key store).
    pub cloud_hsm_cluster_id: Option<String>,
    /// KeyManager.
    pub key_manager: KeyManager,
    /// KeySpec (and the deprecated CustomerMasterKeySpec, which equals it).
    pub key_spec: KeySpec,
    /// EncryptionAlgorithms (keys with ENCRYPT_DECRYPT usage).
    pub encryption_algorithms: &'static [EncryptionAlgorithm],
    /// MultiRegion.
    pub multi_region: bool,
    /// PendingDeletionWindowInDays.
    pub pending_deletion_window_in_days: Option<u32>,
    /// CurrentKeyMaterialId.
    pub current_key_material_id: String,
}

impl KeyRecord {
    /// The key's metadata as the API reports it, in `region`.
    pub fn metadata(&self, region: &str) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: self.account.clone(),
            key_id: self.id.to_string(),
            arn: self.arn(region),
            creation_date_ms: self.created_ms,
            enabled: self.enabled(),
            description: self.description.clone(),
            key_usage: self.usage,
            key_state: self.state,
            deletion_date_ms: self.deletion_date_ms,
            valid_to_ms: None,
            origin: self.origin,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
            key_manager: KeyManager::Customer,
            key_spec: self.spec,
            encryption_algorithms: if self.usage == KeyUsage::EncryptDecrypt {
                self.spec.encryption_algorithms()
            } else {
                &[]
            },
            multi_region: self.multi_region,
            pending_deletion_window_in_days: self.pending_window_days,
            current_key_material_id: key_material_id(&self.id, self.current_version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyId;

    fn record() -> KeyRecord {
        KeyRecord {
            id: KeyId::new_random(),
            account: "111122223333".into(),
            created_ms: 1_700_000_000_000,
            description: "d".into(),
            spec: KeySpec::SymmetricDefault,
            usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            state: KeyState::Enabled,
            deletion_date_ms: None,
            pending_window_days: None,
            tags: Default::default(),
            current_version: 3,
            multi_region: false,
            grant_count: 0,
            rotation: Default::default(),
        }
    }

    #[test]
    fn metadata_reports_the_records_facts() {
        let rec = record();
        let m = rec.metadata("eu-west-1");
        assert_eq!(m.arn, rec.arn("eu-west-1"));
        assert_eq!(m.key_id, rec.id.to_string());
        assert_eq!(m.key_manager, KeyManager::Customer);
        assert_eq!(
            m.encryption_algorithms,
            &[EncryptionAlgorithm::SymmetricDefault]
        );
        assert_eq!(m.current_key_material_id, key_material_id(&rec.id, 3));
        assert!(m.enabled);
        let mut disabled = record();
        disabled.state = KeyState::Disabled;
        assert!(!disabled.metadata("eu-west-1").enabled);
    }

    #[test]
    fn only_encryption_keys_list_encryption_algorithms() {
        let mut rec = record();
        rec.usage = KeyUsage::GenerateVerifyMac;
        rec.spec = KeySpec::Hmac256;
        assert!(rec.metadata("us-east-1").encryption_algorithms.is_empty());
    }
}
