//! What the API says about a key: AWS's `KeyMetadata`, built from a key
//! record by the core, so every door reports the same facts (which
//! algorithms a key supports, who manages it, where its material lives)
//! and none of them hard-codes one.

use serde::{Deserialize, Serialize};

use super::ids::key_material_id;
use super::key::{
    aws_enum, EncapsulationAlgorithm, EncryptionAlgorithm, KeyAgreementAlgorithm, KeyRecord,
    KeySpec, KeyState, KeyUsage, MacAlgorithm, Origin, SigningAlgorithm,
};

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
    /// ExpirationModel (EXTERNAL keys with material).
    pub expiration_model: Option<super::import::ExpirationModel>,
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
    /// SigningAlgorithms (keys with SIGN_VERIFY usage).
    pub signing_algorithms: &'static [SigningAlgorithm],
    /// MacAlgorithms (keys with GENERATE_VERIFY_MAC usage).
    pub mac_algorithms: &'static [MacAlgorithm],
    /// KeyAgreementAlgorithms (keys with KEY_AGREEMENT usage).
    pub key_agreement_algorithms: &'static [KeyAgreementAlgorithm],
    /// KeyEncapsulationAlgorithms (keys with ENCAPSULATE_DECAPSULATE usage).
    pub key_encapsulation_algorithms: &'static [EncapsulationAlgorithm],
    /// MultiRegion.
    pub multi_region: bool,
    /// MultiRegionConfiguration (multi-Region keys).
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
    /// PendingDeletionWindowInDays.
    pub pending_deletion_window_in_days: Option<u32>,
    /// CurrentKeyMaterialId.
    pub current_key_material_id: String,
}

/// MultiRegionConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegionConfiguration {
    /// MultiRegionKeyType: this Region's key's role.
    pub key_type: MultiRegionKeyType,
    /// PrimaryKey.
    pub primary_key: MultiRegionKey,
    /// ReplicaKeys.
    pub replica_keys: Vec<MultiRegionKey>,
}

/// MultiRegionKey: one key of a multi-Region family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegionKey {
    /// Arn (in its Region).
    pub arn: String,
    /// Region.
    pub region: String,
}

aws_enum!(
    /// AWS `MultiRegionKeyType`.
    MultiRegionKeyType {
        /// The primary key.
        Primary = "PRIMARY",
        /// A replica key.
        Replica = "REPLICA",
    }
);

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
            valid_to_ms: self.imported.as_ref().and_then(|i| i.valid_to_ms),
            expiration_model: self.imported.as_ref().map(|i| i.expiration_model),
            origin: self.origin,
            custom_key_store_id: self.custom_key_store_id.clone(),
            cloud_hsm_cluster_id: self.cloud_hsm_cluster_id.clone(),
            key_manager: KeyManager::Customer,
            key_spec: self.spec,
            encryption_algorithms: self
                .algorithms(KeyUsage::EncryptDecrypt, |s| s.encryption_algorithms()),
            signing_algorithms: self.algorithms(KeyUsage::SignVerify, |s| s.signing_algorithms()),
            mac_algorithms: self.algorithms(KeyUsage::GenerateVerifyMac, |s| s.mac_algorithms()),
            key_agreement_algorithms: self
                .algorithms(KeyUsage::KeyAgreement, |s| s.key_agreement_algorithms()),
            key_encapsulation_algorithms: self.algorithms(KeyUsage::EncapsulateDecapsulate, |s| {
                s.encapsulation_algorithms()
            }),
            multi_region: self.multi_region,
            multi_region_configuration: self.mr.as_ref().map(|mr| {
                let key = |r: &str| MultiRegionKey {
                    arn: self.arn(r),
                    region: r.to_owned(),
                };
                MultiRegionConfiguration {
                    key_type: if mr.is_primary_in(region) {
                        MultiRegionKeyType::Primary
                    } else {
                        MultiRegionKeyType::Replica
                    },
                    primary_key: key(&mr.primary_region),
                    replica_keys: mr.replica_regions.iter().map(|r| key(r)).collect(),
                }
            }),
            pending_deletion_window_in_days: self.pending_window_days,
            // Imported material's id comes from the material (kms::import);
            // an EXTERNAL key without material has none.
            current_key_material_id: match (&self.imported, self.origin) {
                (Some(i), _) => i.material_id.clone(),
                (None, Origin::External) => String::new(),
                (None, _) => key_material_id(&self.id, self.current_version),
            },
        }
    }
}

impl KeyRecord {
    /// The algorithms of `spec` for `usage` if the key has that usage, else
    /// none (an RSA SIGN_VERIFY key lists no encryption algorithms).
    fn algorithms<T>(
        &self,
        usage: KeyUsage,
        of: impl FnOnce(KeySpec) -> &'static [T],
    ) -> &'static [T] {
        if self.usage == usage {
            of(self.spec)
        } else {
            &[]
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
            mr: None,
            grant_count: 0,
            rotation: Default::default(),
            imported: None,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
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
        let m = rec.metadata("us-east-1");
        assert!(m.encryption_algorithms.is_empty());
        assert_eq!(m.mac_algorithms, &[crate::model::MacAlgorithm::HmacSha256]);
        assert!(m.signing_algorithms.is_empty());
    }

    #[test]
    fn each_usage_lists_its_own_algorithms_only() {
        let mut rec = record();
        rec.spec = KeySpec::Rsa3072;
        rec.usage = KeyUsage::SignVerify;
        let m = rec.metadata("us-east-1");
        assert!(m.encryption_algorithms.is_empty());
        assert_eq!(m.signing_algorithms.len(), 6);
        rec.usage = KeyUsage::EncryptDecrypt;
        let m = rec.metadata("us-east-1");
        assert_eq!(m.encryption_algorithms.len(), 2);
        assert!(m.signing_algorithms.is_empty());
        rec.spec = KeySpec::EccNistP384;
        rec.usage = KeyUsage::KeyAgreement;
        let m = rec.metadata("us-east-1");
        assert_eq!(
            m.key_agreement_algorithms,
            &[crate::model::KeyAgreementAlgorithm::Ecdh]
        );
        assert!(m.signing_algorithms.is_empty());
        rec.spec = KeySpec::MlKem768;
        rec.usage = KeyUsage::EncapsulateDecapsulate;
        assert_eq!(
            rec.metadata("us-east-1").key_encapsulation_algorithms,
            &[crate::model::EncapsulationAlgorithm::MlKem]
        );
    }
}
