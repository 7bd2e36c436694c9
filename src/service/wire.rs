//! Wire ⇄ API: each gRPC request message decodes into the API's request
//! struct ([`IntoApi`]) and each response message is built from the API's
//! response ([`FromApi`]). Field by field and nothing more: every value
//! check is the core's. Enums go through their AWS spellings
//! (`convert.rs`); an unknown enum number is a ValidationException.

use super::convert::*;
use super::time::{from_timestamp, to_timestamp};
use crate::api::{self, Call};
use crate::error::KmsResult;
use crate::kms::validate::validation;
use crate::model::{KeyManager, KeyMaterialState, KeyMetadata};
use crate::proto::aws_enum::AwsEnum;
use crate::proto::kms::v1 as pb;
use crate::secret::Plaintext;

/// A request message the door decodes into an API request.
pub trait IntoApi: Sized {
    /// The API request it becomes.
    type Api: Call;
    /// Decodes the message.
    fn into_api(self) -> KmsResult<Self::Api>;
}

/// A response message the door builds from an API response.
pub trait FromApi<A>: Sized {
    /// Encodes the response.
    fn from_api(a: A) -> Self;
}

/// A list's paging fields on the wire.
fn page(limit: Option<i32>, marker: Option<String>) -> api::Page {
    api::Page { limit, marker }
}

/// `(NextMarker, Truncated)` on the wire.
fn next(marker: Option<String>) -> (String, bool) {
    let truncated = marker.is_some();
    (marker.unwrap_or_default(), truncated)
}

/// Requests whose fields are exactly a KeyId.
macro_rules! key_id_only {
    ($($pb:ident => $api:ident;)+) => {
        $(
            impl IntoApi for pb::$pb {
                type Api = api::$api;
                fn into_api(self) -> KmsResult<api::$api> {
                    Ok(api::$api { key_id: self.key_id })
                }
            }
        )+
    };
}

key_id_only! {
    EnableKeyRequest => EnableKeyRequest;
    DisableKeyRequest => DisableKeyRequest;
    CancelKeyDeletionRequest => CancelKeyDeletionRequest;
    DisableKeyRotationRequest => DisableKeyRotationRequest;
    GetKeyRotationStatusRequest => GetKeyRotationStatusRequest;
    RotateKeyOnDemandRequest => RotateKeyOnDemandRequest;
}

/// Responses that are empty on the wire.
macro_rules! empty_responses {
    ($($pb:ident),+ $(,)?) => {
        $(
            impl FromApi<()> for pb::$pb {
                fn from_api((): ()) -> Self {
                    pb::$pb {}
                }
            }
        )+
    };
}

empty_responses!(
    UpdateKeyDescriptionResponse,
    EnableKeyResponse,
    DisableKeyResponse,
    CreateAliasResponse,
    UpdateAliasResponse,
    DeleteAliasResponse,
    TagResourceResponse,
    UntagResourceResponse,
    PutKeyPolicyResponse,
    RetireGrantResponse,
    RevokeGrantResponse,
    EnableKeyRotationResponse,
    DisableKeyRotationResponse,
    PutPrincipalPolicyResponse,
    DeletePrincipalPolicyResponse,
    UpdateCustomKeyStoreResponse,
    ConnectCustomKeyStoreResponse,
    DisconnectCustomKeyStoreResponse,
    DeleteCustomKeyStoreResponse,
    UpdatePrimaryRegionResponse,
);

impl IntoApi for pb::ReplicateKeyRequest {
    type Api = api::ReplicateKeyRequest;
    fn into_api(self) -> KmsResult<api::ReplicateKeyRequest> {
        Ok(api::ReplicateKeyRequest {
            key_id: self.key_id,
            replica_region: self.replica_region,
            policy: self.policy,
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
            description: self.description,
            tags: tags_from(self.tags),
        })
    }
}

impl FromApi<api::ReplicateKeyResponse> for pb::ReplicateKeyResponse {
    fn from_api(a: api::ReplicateKeyResponse) -> Self {
        pb::ReplicateKeyResponse {
            replica_key_metadata: Some(key_metadata(a.replica_key_metadata)),
            replica_policy: a.replica_policy,
            replica_tags: a
                .replica_tags
                .into_iter()
                .map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value })
                .collect(),
        }
    }
}

impl IntoApi for pb::UpdatePrimaryRegionRequest {
    type Api = api::UpdatePrimaryRegionRequest;
    fn into_api(self) -> KmsResult<api::UpdatePrimaryRegionRequest> {
        Ok(api::UpdatePrimaryRegionRequest {
            key_id: self.key_id,
            primary_region: self.primary_region,
        })
    }
}

// ---------------------------------------------------------------- keys

impl IntoApi for pb::CreateKeyRequest {
    type Api = api::CreateKeyRequest;
    fn into_api(self) -> KmsResult<api::CreateKeyRequest> {
        Ok(api::CreateKeyRequest {
            policy: self.policy,
            description: self.description,
            key_spec: create_key_spec(self.key_spec, self.customer_master_key_spec)?,
            key_usage: key_usage_from(self.key_usage)?,
            origin: origin_from(self.origin)?,
            custom_key_store_id: self.custom_key_store_id,
            tags: tags_from(self.tags),
            multi_region: self.multi_region,
            xks_key_id: self.xks_key_id,
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
        })
    }
}

/// A key's metadata on the wire.
pub fn key_metadata(m: KeyMetadata) -> pb::KeyMetadata {
    pb::KeyMetadata {
        aws_account_id: m.aws_account_id,
        key_id: m.key_id,
        arn: m.arn,
        creation_date: Some(to_timestamp(m.creation_date_ms)),
        enabled: m.enabled,
        description: m.description,
        key_usage: key_usage_to(m.key_usage),
        key_state: key_state_to(m.key_state),
        deletion_date: m.deletion_date_ms.map(to_timestamp),
        valid_to: m.valid_to_ms.map(to_timestamp),
        origin: origin_to(m.origin),
        custom_key_store_id: m.custom_key_store_id.unwrap_or_default(),
        cloud_hsm_cluster_id: m.cloud_hsm_cluster_id.unwrap_or_default(),
        expiration_model: m.expiration_model.map(expiration_model_to).unwrap_or(0),
        key_manager: match m.key_manager {
            KeyManager::Aws => pb::KeyManagerType::Aws,
            KeyManager::Customer => pb::KeyManagerType::Customer,
        } as i32,
        customer_master_key_spec: cmk_spec_to(m.key_spec),
        key_spec: key_spec_to(m.key_spec),
        encryption_algorithms: m.encryption_algorithms.iter().map(|a| alg_to(*a)).collect(),
        signing_algorithms: m
            .signing_algorithms
            .iter()
            .map(|a| signing_alg_to(*a))
            .collect(),
        key_agreement_algorithms: m
            .key_agreement_algorithms
            .iter()
            .map(|a| key_agreement_alg_to(*a))
            .collect(),
        multi_region: m.multi_region,
        multi_region_configuration: m.multi_region_configuration.map(|c| {
            let key = |k: crate::model::MultiRegionKey| pb::MultiRegionKey {
                arn: k.arn,
                region: k.region,
            };
            pb::MultiRegionConfiguration {
                multi_region_key_type: match c.key_type {
                    crate::model::MultiRegionKeyType::Primary => pb::MultiRegionKeyType::Primary,
                    crate::model::MultiRegionKeyType::Replica => pb::MultiRegionKeyType::Replica,
                } as i32,
                primary_key: Some(key(c.primary_key)),
                replica_keys: c.replica_keys.into_iter().map(key).collect(),
            }
        }),
        pending_deletion_window_in_days: m
            .pending_deletion_window_in_days
            .and_then(|d| i32::try_from(d).ok()),
        mac_algorithms: m.mac_algorithms.iter().map(|a| mac_alg_to(*a)).collect(),
        current_key_material_id: m.current_key_material_id,
        key_encapsulation_algorithms: m
            .key_encapsulation_algorithms
            .iter()
            .map(|a| encapsulation_alg_to(*a))
            .collect(),
    }
}

impl FromApi<api::CreateKeyResponse> for pb::CreateKeyResponse {
    fn from_api(a: api::CreateKeyResponse) -> Self {
        pb::CreateKeyResponse {
            key_metadata: Some(key_metadata(a.key_metadata)),
        }
    }
}

impl IntoApi for pb::DescribeKeyRequest {
    type Api = api::DescribeKeyRequest;
    fn into_api(self) -> KmsResult<api::DescribeKeyRequest> {
        Ok(api::DescribeKeyRequest {
            key_id: self.key_id,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::DescribeKeyResponse> for pb::DescribeKeyResponse {
    fn from_api(a: api::DescribeKeyResponse) -> Self {
        pb::DescribeKeyResponse {
            key_metadata: Some(key_metadata(a.key_metadata)),
        }
    }
}

impl IntoApi for pb::ListKeysRequest {
    type Api = api::ListKeysRequest;
    fn into_api(self) -> KmsResult<api::ListKeysRequest> {
        Ok(api::ListKeysRequest {
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListKeysResponse> for pb::ListKeysResponse {
    fn from_api(a: api::ListKeysResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListKeysResponse {
            keys: a
                .keys
                .into_iter()
                .map(|k| pb::KeyListEntry {
                    key_id: k.key_id,
                    key_arn: k.key_arn,
                })
                .collect(),
            next_marker,
            truncated,
        }
    }
}

impl IntoApi for pb::UpdateKeyDescriptionRequest {
    type Api = api::UpdateKeyDescriptionRequest;
    fn into_api(self) -> KmsResult<api::UpdateKeyDescriptionRequest> {
        Ok(api::UpdateKeyDescriptionRequest {
            key_id: self.key_id,
            description: self.description,
        })
    }
}

impl IntoApi for pb::ScheduleKeyDeletionRequest {
    type Api = api::ScheduleKeyDeletionRequest;
    fn into_api(self) -> KmsResult<api::ScheduleKeyDeletionRequest> {
        Ok(api::ScheduleKeyDeletionRequest {
            key_id: self.key_id,
            pending_window_in_days: self.pending_window_in_days,
        })
    }
}

impl FromApi<api::ScheduleKeyDeletionResponse> for pb::ScheduleKeyDeletionResponse {
    fn from_api(a: api::ScheduleKeyDeletionResponse) -> Self {
        pb::ScheduleKeyDeletionResponse {
            key_id: a.key_id,
            deletion_date: a.deletion_date_ms.map(to_timestamp),
            key_state: key_state_to(a.key_state),
            pending_window_in_days: i32::try_from(a.pending_window_in_days).unwrap_or(30),
        }
    }
}

impl FromApi<api::CancelKeyDeletionResponse> for pb::CancelKeyDeletionResponse {
    fn from_api(a: api::CancelKeyDeletionResponse) -> Self {
        pb::CancelKeyDeletionResponse { key_id: a.key_id }
    }
}

// ---------------------------------------------------------------- aliases

impl IntoApi for pb::CreateAliasRequest {
    type Api = api::CreateAliasRequest;
    fn into_api(self) -> KmsResult<api::CreateAliasRequest> {
        Ok(api::CreateAliasRequest {
            alias_name: self.alias_name,
            target_key_id: self.target_key_id,
        })
    }
}

impl IntoApi for pb::UpdateAliasRequest {
    type Api = api::UpdateAliasRequest;
    fn into_api(self) -> KmsResult<api::UpdateAliasRequest> {
        Ok(api::UpdateAliasRequest {
            alias_name: self.alias_name,
            target_key_id: self.target_key_id,
        })
    }
}

impl IntoApi for pb::DeleteAliasRequest {
    type Api = api::DeleteAliasRequest;
    fn into_api(self) -> KmsResult<api::DeleteAliasRequest> {
        Ok(api::DeleteAliasRequest {
            alias_name: self.alias_name,
        })
    }
}

impl IntoApi for pb::ListAliasesRequest {
    type Api = api::ListAliasesRequest;
    fn into_api(self) -> KmsResult<api::ListAliasesRequest> {
        Ok(api::ListAliasesRequest {
            key_id: self.key_id,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListAliasesResponse> for pb::ListAliasesResponse {
    fn from_api(a: api::ListAliasesResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListAliasesResponse {
            aliases: a
                .aliases
                .into_iter()
                .map(|e| pb::AliasListEntry {
                    alias_name: e.alias_name,
                    alias_arn: e.alias_arn,
                    target_key_id: e.target_key_id,
                    creation_date: Some(to_timestamp(e.creation_date_ms)),
                    last_updated_date: Some(to_timestamp(e.last_updated_date_ms)),
                })
                .collect(),
            next_marker,
            truncated,
        }
    }
}

// ---------------------------------------------------------------- tags

impl IntoApi for pb::TagResourceRequest {
    type Api = api::TagResourceRequest;
    fn into_api(self) -> KmsResult<api::TagResourceRequest> {
        Ok(api::TagResourceRequest {
            key_id: self.key_id,
            tags: tags_from(self.tags),
        })
    }
}

impl IntoApi for pb::UntagResourceRequest {
    type Api = api::UntagResourceRequest;
    fn into_api(self) -> KmsResult<api::UntagResourceRequest> {
        Ok(api::UntagResourceRequest {
            key_id: self.key_id,
            tag_keys: self.tag_keys,
        })
    }
}

impl IntoApi for pb::ListResourceTagsRequest {
    type Api = api::ListResourceTagsRequest;
    fn into_api(self) -> KmsResult<api::ListResourceTagsRequest> {
        Ok(api::ListResourceTagsRequest {
            key_id: self.key_id,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListResourceTagsResponse> for pb::ListResourceTagsResponse {
    fn from_api(a: api::ListResourceTagsResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListResourceTagsResponse {
            tags: a
                .tags
                .into_iter()
                .map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value })
                .collect(),
            next_marker,
            truncated,
        }
    }
}

// ---------------------------------------------------------------- crypto

impl IntoApi for pb::EncryptRequest {
    type Api = api::EncryptRequest;
    fn into_api(mut self) -> KmsResult<api::EncryptRequest> {
        // The plaintext moves into a zeroizing holder at once.
        let plaintext = Plaintext::new(std::mem::take(&mut self.plaintext));
        Ok(api::EncryptRequest {
            key_id: self.key_id,
            plaintext,
            encryption_context: self.encryption_context,
            grant_tokens: self.grant_tokens,
            encryption_algorithm: alg_from(self.encryption_algorithm)?,
        })
    }
}

impl FromApi<api::EncryptResponse> for pb::EncryptResponse {
    fn from_api(a: api::EncryptResponse) -> Self {
        pb::EncryptResponse {
            ciphertext_blob: a.ciphertext_blob,
            key_id: a.key_id,
            encryption_algorithm: alg_to(a.encryption_algorithm),
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::DecryptRequest {
    type Api = api::DecryptRequest;
    fn into_api(self) -> KmsResult<api::DecryptRequest> {
        Ok(api::DecryptRequest {
            encryption_algorithm: alg_from(self.encryption_algorithm)?,
            ciphertext_blob: self.ciphertext_blob,
            encryption_context: self.encryption_context,
            grant_tokens: self.grant_tokens,
            key_id: self.key_id,
        })
    }
}

impl FromApi<api::DecryptResponse> for pb::DecryptResponse {
    fn from_api(a: api::DecryptResponse) -> Self {
        pb::DecryptResponse {
            key_id: a.key_id,
            plaintext: a.plaintext.into_response_bytes(),
            encryption_algorithm: alg_to(a.encryption_algorithm),
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::ReEncryptRequest {
    type Api = api::ReEncryptRequest;
    fn into_api(self) -> KmsResult<api::ReEncryptRequest> {
        Ok(api::ReEncryptRequest {
            source_encryption_algorithm: alg_from(self.source_encryption_algorithm)?,
            destination_encryption_algorithm: alg_from(self.destination_encryption_algorithm)?,
            ciphertext_blob: self.ciphertext_blob,
            source_encryption_context: self.source_encryption_context,
            source_key_id: self.source_key_id,
            destination_key_id: self.destination_key_id,
            destination_encryption_context: self.destination_encryption_context,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::ReEncryptResponse> for pb::ReEncryptResponse {
    fn from_api(a: api::ReEncryptResponse) -> Self {
        pb::ReEncryptResponse {
            ciphertext_blob: a.ciphertext_blob,
            source_key_id: a.source_key_id,
            key_id: a.key_id,
            source_encryption_algorithm: alg_to(a.source_encryption_algorithm),
            destination_encryption_algorithm: alg_to(a.destination_encryption_algorithm),
            source_key_material_id: a.source_key_material_id,
            destination_key_material_id: a.destination_key_material_id,
        }
    }
}

impl IntoApi for pb::GenerateDataKeyRequest {
    type Api = api::GenerateDataKeyRequest;
    fn into_api(self) -> KmsResult<api::GenerateDataKeyRequest> {
        Ok(api::GenerateDataKeyRequest {
            key_spec: data_key_spec_from(self.key_spec)?,
            key_id: self.key_id,
            encryption_context: self.encryption_context,
            number_of_bytes: self.number_of_bytes,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::GenerateDataKeyResponse> for pb::GenerateDataKeyResponse {
    fn from_api(a: api::GenerateDataKeyResponse) -> Self {
        pb::GenerateDataKeyResponse {
            ciphertext_blob: a.ciphertext_blob,
            plaintext: a.plaintext.into_response_bytes(),
            key_id: a.key_id,
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::GenerateDataKeyWithoutPlaintextRequest {
    type Api = api::GenerateDataKeyWithoutPlaintextRequest;
    fn into_api(self) -> KmsResult<api::GenerateDataKeyWithoutPlaintextRequest> {
        Ok(api::GenerateDataKeyWithoutPlaintextRequest(
            api::GenerateDataKeyRequest {
                key_spec: data_key_spec_from(self.key_spec)?,
                key_id: self.key_id,
                encryption_context: self.encryption_context,
                number_of_bytes: self.number_of_bytes,
                grant_tokens: self.grant_tokens,
            },
        ))
    }
}

impl FromApi<api::GenerateDataKeyWithoutPlaintextResponse>
    for pb::GenerateDataKeyWithoutPlaintextResponse
{
    fn from_api(a: api::GenerateDataKeyWithoutPlaintextResponse) -> Self {
        pb::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: a.ciphertext_blob,
            key_id: a.key_id,
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::GenerateRandomRequest {
    type Api = api::GenerateRandomRequest;
    fn into_api(self) -> KmsResult<api::GenerateRandomRequest> {
        Ok(api::GenerateRandomRequest {
            number_of_bytes: self.number_of_bytes,
            custom_key_store_id: self.custom_key_store_id,
        })
    }
}

impl FromApi<api::GenerateRandomResponse> for pb::GenerateRandomResponse {
    fn from_api(a: api::GenerateRandomResponse) -> Self {
        pb::GenerateRandomResponse {
            plaintext: a.plaintext.into_response_bytes(),
        }
    }
}

// ---------------------------------------------------------------- asymmetric and HMAC

impl IntoApi for pb::GetPublicKeyRequest {
    type Api = api::GetPublicKeyRequest;
    fn into_api(self) -> KmsResult<api::GetPublicKeyRequest> {
        Ok(api::GetPublicKeyRequest {
            key_id: self.key_id,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::GetPublicKeyResponse> for pb::GetPublicKeyResponse {
    fn from_api(a: api::GetPublicKeyResponse) -> Self {
        pb::GetPublicKeyResponse {
            key_id: a.key_id,
            public_key: a.public_key,
            customer_master_key_spec: cmk_spec_to(a.key_spec),
            key_spec: key_spec_to(a.key_spec),
            key_usage: key_usage_to(a.key_usage),
            encryption_algorithms: a.encryption_algorithms.iter().map(|x| alg_to(*x)).collect(),
            signing_algorithms: a
                .signing_algorithms
                .iter()
                .map(|x| signing_alg_to(*x))
                .collect(),
            key_agreement_algorithms: a
                .key_agreement_algorithms
                .iter()
                .map(|x| key_agreement_alg_to(*x))
                .collect(),
            key_encapsulation_algorithms: a
                .key_encapsulation_algorithms
                .iter()
                .map(|x| encapsulation_alg_to(*x))
                .collect(),
        }
    }
}

impl IntoApi for pb::SignRequest {
    type Api = api::SignRequest;
    fn into_api(self) -> KmsResult<api::SignRequest> {
        Ok(api::SignRequest {
            message_type: message_type_from(self.message_type)?,
            signing_algorithm: signing_alg_from(self.signing_algorithm)?,
            key_id: self.key_id,
            message: self.message,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::SignResponse> for pb::SignResponse {
    fn from_api(a: api::SignResponse) -> Self {
        pb::SignResponse {
            key_id: a.key_id,
            signature: a.signature,
            signing_algorithm: signing_alg_to(a.signing_algorithm),
        }
    }
}

impl IntoApi for pb::VerifyRequest {
    type Api = api::VerifyRequest;
    fn into_api(self) -> KmsResult<api::VerifyRequest> {
        Ok(api::VerifyRequest {
            message_type: message_type_from(self.message_type)?,
            signing_algorithm: signing_alg_from(self.signing_algorithm)?,
            key_id: self.key_id,
            message: self.message,
            signature: self.signature,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::VerifyResponse> for pb::VerifyResponse {
    fn from_api(a: api::VerifyResponse) -> Self {
        pb::VerifyResponse {
            key_id: a.key_id,
            signature_valid: a.signature_valid,
            signing_algorithm: signing_alg_to(a.signing_algorithm),
        }
    }
}

impl IntoApi for pb::GenerateDataKeyPairRequest {
    type Api = api::GenerateDataKeyPairRequest;
    fn into_api(self) -> KmsResult<api::GenerateDataKeyPairRequest> {
        Ok(api::GenerateDataKeyPairRequest {
            key_pair_spec: key_pair_spec_from(self.key_pair_spec)?,
            encryption_context: self.encryption_context,
            key_id: self.key_id,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::GenerateDataKeyPairResponse> for pb::GenerateDataKeyPairResponse {
    fn from_api(a: api::GenerateDataKeyPairResponse) -> Self {
        pb::GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: a.private_key_ciphertext_blob,
            private_key_plaintext: a.private_key_plaintext.into_response_bytes(),
            public_key: a.public_key,
            key_id: a.key_id,
            key_pair_spec: key_pair_spec_to(a.key_pair_spec),
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::GenerateDataKeyPairWithoutPlaintextRequest {
    type Api = api::GenerateDataKeyPairWithoutPlaintextRequest;
    fn into_api(self) -> KmsResult<api::GenerateDataKeyPairWithoutPlaintextRequest> {
        Ok(api::GenerateDataKeyPairWithoutPlaintextRequest(
            api::GenerateDataKeyPairRequest {
                key_pair_spec: key_pair_spec_from(self.key_pair_spec)?,
                encryption_context: self.encryption_context,
                key_id: self.key_id,
                grant_tokens: self.grant_tokens,
            },
        ))
    }
}

impl FromApi<api::GenerateDataKeyPairWithoutPlaintextResponse>
    for pb::GenerateDataKeyPairWithoutPlaintextResponse
{
    fn from_api(a: api::GenerateDataKeyPairWithoutPlaintextResponse) -> Self {
        pb::GenerateDataKeyPairWithoutPlaintextResponse {
            private_key_ciphertext_blob: a.private_key_ciphertext_blob,
            public_key: a.public_key,
            key_id: a.key_id,
            key_pair_spec: key_pair_spec_to(a.key_pair_spec),
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::GenerateMacRequest {
    type Api = api::GenerateMacRequest;
    fn into_api(self) -> KmsResult<api::GenerateMacRequest> {
        Ok(api::GenerateMacRequest {
            mac_algorithm: mac_alg_from(self.mac_algorithm)?,
            message: self.message,
            key_id: self.key_id,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::GenerateMacResponse> for pb::GenerateMacResponse {
    fn from_api(a: api::GenerateMacResponse) -> Self {
        pb::GenerateMacResponse {
            mac: a.mac,
            mac_algorithm: mac_alg_to(a.mac_algorithm),
            key_id: a.key_id,
        }
    }
}

impl IntoApi for pb::VerifyMacRequest {
    type Api = api::VerifyMacRequest;
    fn into_api(self) -> KmsResult<api::VerifyMacRequest> {
        Ok(api::VerifyMacRequest {
            mac_algorithm: mac_alg_from(self.mac_algorithm)?,
            message: self.message,
            key_id: self.key_id,
            mac: self.mac,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::VerifyMacResponse> for pb::VerifyMacResponse {
    fn from_api(a: api::VerifyMacResponse) -> Self {
        pb::VerifyMacResponse {
            key_id: a.key_id,
            mac_valid: a.mac_valid,
            mac_algorithm: mac_alg_to(a.mac_algorithm),
        }
    }
}

impl IntoApi for pb::DeriveSharedSecretRequest {
    type Api = api::DeriveSharedSecretRequest;
    fn into_api(self) -> KmsResult<api::DeriveSharedSecretRequest> {
        Ok(api::DeriveSharedSecretRequest {
            key_agreement_algorithm: key_agreement_alg_from(self.key_agreement_algorithm)?,
            key_id: self.key_id,
            public_key: self.public_key,
            grant_tokens: self.grant_tokens,
            recipient_attestation_document: self.recipient_attestation_document,
        })
    }
}

impl FromApi<api::DeriveSharedSecretResponse> for pb::DeriveSharedSecretResponse {
    fn from_api(a: api::DeriveSharedSecretResponse) -> Self {
        pb::DeriveSharedSecretResponse {
            key_id: a.key_id,
            shared_secret: a.shared_secret.into_response_bytes(),
            key_agreement_algorithm: key_agreement_alg_to(a.key_agreement_algorithm),
            key_origin: origin_to(a.key_origin),
        }
    }
}

impl IntoApi for pb::EncapsulateRequest {
    type Api = api::EncapsulateRequest;
    fn into_api(self) -> KmsResult<api::EncapsulateRequest> {
        Ok(api::EncapsulateRequest {
            encapsulation_algorithm: encapsulation_alg_from(self.encapsulation_algorithm)?,
            key_id: self.key_id,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::EncapsulateResponse> for pb::EncapsulateResponse {
    fn from_api(a: api::EncapsulateResponse) -> Self {
        pb::EncapsulateResponse {
            key_id: a.key_id,
            shared_secret: a.shared_secret.into_response_bytes(),
            shared_secret_ciphertext_blob: a.shared_secret_ciphertext_blob,
            encapsulation_algorithm: encapsulation_alg_to(a.encapsulation_algorithm),
        }
    }
}

impl IntoApi for pb::DecapsulateRequest {
    type Api = api::DecapsulateRequest;
    fn into_api(self) -> KmsResult<api::DecapsulateRequest> {
        Ok(api::DecapsulateRequest {
            encapsulation_algorithm: encapsulation_alg_from(self.encapsulation_algorithm)?,
            key_id: self.key_id,
            ciphertext: self.shared_secret_ciphertext_blob,
            grant_tokens: self.grant_tokens,
        })
    }
}

impl FromApi<api::DecapsulateResponse> for pb::DecapsulateResponse {
    fn from_api(a: api::DecapsulateResponse) -> Self {
        pb::DecapsulateResponse {
            key_id: a.key_id,
            shared_secret: a.shared_secret.into_response_bytes(),
            encapsulation_algorithm: encapsulation_alg_to(a.encapsulation_algorithm),
        }
    }
}

// ---------------------------------------------------------------- key policies

impl IntoApi for pb::PutKeyPolicyRequest {
    type Api = api::PutKeyPolicyRequest;
    fn into_api(self) -> KmsResult<api::PutKeyPolicyRequest> {
        Ok(api::PutKeyPolicyRequest {
            key_id: self.key_id,
            policy_name: self.policy_name,
            policy: self.policy,
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
        })
    }
}

impl IntoApi for pb::GetKeyPolicyRequest {
    type Api = api::GetKeyPolicyRequest;
    fn into_api(self) -> KmsResult<api::GetKeyPolicyRequest> {
        Ok(api::GetKeyPolicyRequest {
            key_id: self.key_id,
            policy_name: self.policy_name,
        })
    }
}

impl FromApi<api::GetKeyPolicyResponse> for pb::GetKeyPolicyResponse {
    fn from_api(a: api::GetKeyPolicyResponse) -> Self {
        pb::GetKeyPolicyResponse {
            policy: a.policy,
            policy_name: a.policy_name,
        }
    }
}

impl IntoApi for pb::ListKeyPoliciesRequest {
    type Api = api::ListKeyPoliciesRequest;
    fn into_api(self) -> KmsResult<api::ListKeyPoliciesRequest> {
        Ok(api::ListKeyPoliciesRequest {
            key_id: self.key_id,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListKeyPoliciesResponse> for pb::ListKeyPoliciesResponse {
    fn from_api(a: api::ListKeyPoliciesResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListKeyPoliciesResponse {
            policy_names: a.policy_names,
            next_marker,
            truncated,
        }
    }
}

// ---------------------------------------------------------------- grants

impl IntoApi for pb::CreateGrantRequest {
    type Api = api::CreateGrantRequest;
    fn into_api(self) -> KmsResult<api::CreateGrantRequest> {
        let operations = self
            .operations
            .iter()
            .map(|o| grant_op_from(*o))
            .collect::<KmsResult<Vec<_>>>()?;
        Ok(api::CreateGrantRequest {
            key_id: self.key_id,
            grantee_principal: self.grantee_principal,
            retiring_principal: self.retiring_principal,
            operations,
            constraints: constraints_from(self.constraints),
            grant_tokens: self.grant_tokens,
            name: self.name,
        })
    }
}

impl FromApi<api::CreateGrantResponse> for pb::CreateGrantResponse {
    fn from_api(a: api::CreateGrantResponse) -> Self {
        pb::CreateGrantResponse {
            grant_token: a.grant_token,
            grant_id: a.grant_id,
        }
    }
}

impl IntoApi for pb::ListGrantsRequest {
    type Api = api::ListGrantsRequest;
    fn into_api(self) -> KmsResult<api::ListGrantsRequest> {
        Ok(api::ListGrantsRequest {
            key_id: self.key_id,
            grant_id: self.grant_id,
            grantee_principal: self.grantee_principal,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListGrantsResponse> for pb::ListGrantsResponse {
    fn from_api(a: api::ListGrantsResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListGrantsResponse {
            grants: a.grants.into_iter().map(grant_entry).collect(),
            next_marker,
            truncated,
        }
    }
}

impl IntoApi for pb::ListRetirableGrantsRequest {
    type Api = api::ListRetirableGrantsRequest;
    fn into_api(self) -> KmsResult<api::ListRetirableGrantsRequest> {
        Ok(api::ListRetirableGrantsRequest {
            retiring_principal: self.retiring_principal,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListGrantsResponse> for pb::ListRetirableGrantsResponse {
    fn from_api(a: api::ListGrantsResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListRetirableGrantsResponse {
            grants: a.grants.into_iter().map(grant_entry).collect(),
            next_marker,
            truncated,
        }
    }
}

impl IntoApi for pb::RetireGrantRequest {
    type Api = api::RetireGrantRequest;
    fn into_api(self) -> KmsResult<api::RetireGrantRequest> {
        Ok(api::RetireGrantRequest {
            grant_token: self.grant_token,
            key_id: self.key_id,
            grant_id: self.grant_id,
        })
    }
}

impl IntoApi for pb::RevokeGrantRequest {
    type Api = api::RevokeGrantRequest;
    fn into_api(self) -> KmsResult<api::RevokeGrantRequest> {
        Ok(api::RevokeGrantRequest {
            key_id: self.key_id,
            grant_id: self.grant_id,
        })
    }
}

// ---------------------------------------------------------------- rotation

impl IntoApi for pb::EnableKeyRotationRequest {
    type Api = api::EnableKeyRotationRequest;
    fn into_api(self) -> KmsResult<api::EnableKeyRotationRequest> {
        Ok(api::EnableKeyRotationRequest {
            key_id: self.key_id,
            rotation_period_in_days: self.rotation_period_in_days,
        })
    }
}

impl FromApi<api::GetKeyRotationStatusResponse> for pb::GetKeyRotationStatusResponse {
    fn from_api(a: api::GetKeyRotationStatusResponse) -> Self {
        pb::GetKeyRotationStatusResponse {
            key_rotation_enabled: a.key_rotation_enabled,
            key_id: a.key_id,
            rotation_period_in_days: a
                .rotation_period_in_days
                .and_then(|d| i32::try_from(d).ok()),
            next_rotation_date: a.next_rotation_date_ms.map(to_timestamp),
            on_demand_rotation_start_date: None,
        }
    }
}

impl FromApi<api::RotateKeyOnDemandResponse> for pb::RotateKeyOnDemandResponse {
    fn from_api(a: api::RotateKeyOnDemandResponse) -> Self {
        pb::RotateKeyOnDemandResponse { key_id: a.key_id }
    }
}

impl IntoApi for pb::ListKeyRotationsRequest {
    type Api = api::ListKeyRotationsRequest;
    fn into_api(self) -> KmsResult<api::ListKeyRotationsRequest> {
        let include_original = match pb::IncludeKeyMaterial::try_from(self.include_key_material) {
            Ok(pb::IncludeKeyMaterial::AllKeyMaterial) => true,
            Ok(pb::IncludeKeyMaterial::RotationsOnly) | Ok(pb::IncludeKeyMaterial::Unspecified) => {
                false
            }
            Err(_) => {
                return Err(validation(
                    "includeKeyMaterial",
                    "Member must satisfy enum value set",
                ))
            }
        };
        Ok(api::ListKeyRotationsRequest {
            key_id: self.key_id,
            include_original,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListKeyRotationsResponse> for pb::ListKeyRotationsResponse {
    fn from_api(a: api::ListKeyRotationsResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListKeyRotationsResponse {
            rotations: a
                .rotations
                .into_iter()
                .map(|e| pb::RotationsListEntry {
                    key_id: e.key_id,
                    key_material_id: e.key_material_id,
                    key_material_description: e.key_material_description.unwrap_or_default(),
                    import_state: e.import_state.map(import_state_to).unwrap_or(0),
                    key_material_state: match e.key_material_state {
                        KeyMaterialState::NonCurrent => pb::KeyMaterialState::NonCurrent,
                        KeyMaterialState::Current => pb::KeyMaterialState::Current,
                        KeyMaterialState::PendingRotation => pb::KeyMaterialState::PendingRotation,
                    } as i32,
                    expiration_model: e.expiration_model.map(expiration_model_to).unwrap_or(0),
                    valid_to: e.valid_to_ms.map(to_timestamp),
                    rotation_date: e.rotation_date_ms.map(to_timestamp),
                    rotation_type: e.rotation_type.map(rotation_type_to).unwrap_or(0),
                })
                .collect(),
            next_marker,
            truncated,
        }
    }
}

// ---------------------------------------------------------------- IAM-lite

impl IntoApi for pb::PutPrincipalPolicyRequest {
    type Api = api::PutPrincipalPolicyRequest;
    fn into_api(self) -> KmsResult<api::PutPrincipalPolicyRequest> {
        Ok(api::PutPrincipalPolicyRequest {
            principal_arn: self.principal_arn,
            policy_name: self.policy_name,
            policy_document: self.policy_document,
        })
    }
}

impl IntoApi for pb::GetPrincipalPolicyRequest {
    type Api = api::GetPrincipalPolicyRequest;
    fn into_api(self) -> KmsResult<api::GetPrincipalPolicyRequest> {
        Ok(api::GetPrincipalPolicyRequest {
            principal_arn: self.principal_arn,
            policy_name: self.policy_name,
        })
    }
}

impl FromApi<api::GetPrincipalPolicyResponse> for pb::GetPrincipalPolicyResponse {
    fn from_api(a: api::GetPrincipalPolicyResponse) -> Self {
        pb::GetPrincipalPolicyResponse {
            principal_arn: a.principal_arn,
            policy_name: a.policy_name,
            policy_document: a.policy_document,
        }
    }
}

impl IntoApi for pb::ListPrincipalPoliciesRequest {
    type Api = api::ListPrincipalPoliciesRequest;
    fn into_api(self) -> KmsResult<api::ListPrincipalPoliciesRequest> {
        Ok(api::ListPrincipalPoliciesRequest {
            principal_arn: self.principal_arn,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::ListPrincipalPoliciesResponse> for pb::ListPrincipalPoliciesResponse {
    fn from_api(a: api::ListPrincipalPoliciesResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::ListPrincipalPoliciesResponse {
            policy_names: a.policy_names,
            next_marker,
            truncated,
        }
    }
}

impl IntoApi for pb::DeletePrincipalPolicyRequest {
    type Api = api::DeletePrincipalPolicyRequest;
    fn into_api(self) -> KmsResult<api::DeletePrincipalPolicyRequest> {
        Ok(api::DeletePrincipalPolicyRequest {
            principal_arn: self.principal_arn,
            policy_name: self.policy_name,
        })
    }
}

// ---------------------------------------------------------------- import (BYOK)

impl IntoApi for pb::GetParametersForImportRequest {
    type Api = api::GetParametersForImportRequest;
    fn into_api(self) -> KmsResult<api::GetParametersForImportRequest> {
        Ok(api::GetParametersForImportRequest {
            key_id: self.key_id,
            wrapping_algorithm: wrapping_alg_from(self.wrapping_algorithm)?,
            wrapping_key_spec: wrapping_spec_from(self.wrapping_key_spec)?,
        })
    }
}

impl FromApi<api::GetParametersForImportResponse> for pb::GetParametersForImportResponse {
    fn from_api(a: api::GetParametersForImportResponse) -> Self {
        pb::GetParametersForImportResponse {
            key_id: a.key_id,
            import_token: a.import_token,
            public_key: a.public_key,
            parameters_valid_to: Some(to_timestamp(a.parameters_valid_to_ms)),
        }
    }
}

impl IntoApi for pb::ImportKeyMaterialRequest {
    type Api = api::ImportKeyMaterialRequest;
    fn into_api(self) -> KmsResult<api::ImportKeyMaterialRequest> {
        let valid_to_ms = match &self.valid_to {
            None => None,
            Some(t) => Some(
                from_timestamp(t)
                    .ok_or_else(|| validation("validTo", "Member must be a valid timestamp"))?,
            ),
        };
        Ok(api::ImportKeyMaterialRequest {
            key_id: self.key_id,
            import_token: self.import_token,
            encrypted_key_material: self.encrypted_key_material,
            valid_to_ms,
            expiration_model: expiration_model_from(self.expiration_model)?,
            import_type: import_type_from(self.import_type)?,
            key_material_description: self.key_material_description,
            key_material_id: self.key_material_id,
        })
    }
}

impl FromApi<api::ImportKeyMaterialResponse> for pb::ImportKeyMaterialResponse {
    fn from_api(a: api::ImportKeyMaterialResponse) -> Self {
        pb::ImportKeyMaterialResponse {
            key_id: a.key_id,
            key_material_id: a.key_material_id,
        }
    }
}

impl IntoApi for pb::DeleteImportedKeyMaterialRequest {
    type Api = api::DeleteImportedKeyMaterialRequest;
    fn into_api(self) -> KmsResult<api::DeleteImportedKeyMaterialRequest> {
        Ok(api::DeleteImportedKeyMaterialRequest {
            key_id: self.key_id,
            key_material_id: self.key_material_id,
        })
    }
}

impl FromApi<api::DeleteImportedKeyMaterialResponse> for pb::DeleteImportedKeyMaterialResponse {
    fn from_api(a: api::DeleteImportedKeyMaterialResponse) -> Self {
        pb::DeleteImportedKeyMaterialResponse {
            key_id: a.key_id,
            key_material_id: a.key_material_id,
        }
    }
}

// ---------------------------------------------------------------- custom key stores

/// A password off the wire, straight into its zeroizing type.
fn password(p: Option<String>) -> Option<crate::secret::Password> {
    p.map(crate::secret::Password::new)
}

impl IntoApi for pb::CreateCustomKeyStoreRequest {
    type Api = api::CreateCustomKeyStoreRequest;
    fn into_api(self) -> KmsResult<api::CreateCustomKeyStoreRequest> {
        let custom_key_store_type = match self.custom_key_store_type {
            0 => None,
            v => Some(
                pb::CustomKeyStoreType::aws_name_of(v)
                    .ok_or_else(|| {
                        validation("customKeyStoreType", "Member must satisfy enum value set")
                    })?
                    .to_owned(),
            ),
        };
        Ok(api::CreateCustomKeyStoreRequest {
            custom_key_store_name: self.custom_key_store_name,
            cloud_hsm_cluster_id: self.cloud_hsm_cluster_id,
            trust_anchor_certificate: self.trust_anchor_certificate,
            key_store_password: password(self.key_store_password),
            custom_key_store_type,
        })
    }
}

impl FromApi<api::CreateCustomKeyStoreResponse> for pb::CreateCustomKeyStoreResponse {
    fn from_api(a: api::CreateCustomKeyStoreResponse) -> Self {
        pb::CreateCustomKeyStoreResponse {
            custom_key_store_id: a.custom_key_store_id,
        }
    }
}

impl IntoApi for pb::DescribeCustomKeyStoresRequest {
    type Api = api::DescribeCustomKeyStoresRequest;
    fn into_api(self) -> KmsResult<api::DescribeCustomKeyStoresRequest> {
        Ok(api::DescribeCustomKeyStoresRequest {
            custom_key_store_id: self.custom_key_store_id,
            custom_key_store_name: self.custom_key_store_name,
            page: page(self.limit, self.marker),
        })
    }
}

impl FromApi<api::DescribeCustomKeyStoresResponse> for pb::DescribeCustomKeyStoresResponse {
    fn from_api(a: api::DescribeCustomKeyStoresResponse) -> Self {
        let (next_marker, truncated) = next(a.next_marker);
        pb::DescribeCustomKeyStoresResponse {
            custom_key_stores: a
                .custom_key_stores
                .into_iter()
                .map(|e| pb::CustomKeyStoresListEntry {
                    custom_key_store_id: e.custom_key_store_id,
                    custom_key_store_name: e.custom_key_store_name,
                    cloud_hsm_cluster_id: e.cloud_hsm_cluster_id,
                    trust_anchor_certificate: e.trust_anchor_certificate,
                    connection_state: pb::ConnectionStateType::wire_of(e.connection_state)
                        .unwrap_or(0),
                    connection_error_code: e
                        .connection_error_code
                        .and_then(pb::ConnectionErrorCodeType::wire_of)
                        .unwrap_or(0),
                    creation_date: Some(to_timestamp(e.creation_date_ms)),
                    custom_key_store_type: pb::CustomKeyStoreType::wire_of(e.custom_key_store_type)
                        .unwrap_or(0),
                })
                .collect(),
            next_marker,
            truncated,
        }
    }
}

impl IntoApi for pb::UpdateCustomKeyStoreRequest {
    type Api = api::UpdateCustomKeyStoreRequest;
    fn into_api(self) -> KmsResult<api::UpdateCustomKeyStoreRequest> {
        Ok(api::UpdateCustomKeyStoreRequest {
            custom_key_store_id: self.custom_key_store_id,
            new_custom_key_store_name: self.new_custom_key_store_name,
            key_store_password: password(self.key_store_password),
            cloud_hsm_cluster_id: self.cloud_hsm_cluster_id,
        })
    }
}

/// Requests whose fields are exactly a CustomKeyStoreId.
macro_rules! store_id_only {
    ($($pb:ident => $api:ident;)+) => {
        $(
            impl IntoApi for pb::$pb {
                type Api = api::$api;
                fn into_api(self) -> KmsResult<api::$api> {
                    Ok(api::$api(api::CustomKeyStoreIdRequest {
                        custom_key_store_id: self.custom_key_store_id,
                    }))
                }
            }
        )+
    };
}

store_id_only! {
    ConnectCustomKeyStoreRequest => ConnectCustomKeyStoreRequest;
    DisconnectCustomKeyStoreRequest => DisconnectCustomKeyStoreRequest;
    DeleteCustomKeyStoreRequest => DeleteCustomKeyStoreRequest;
}
