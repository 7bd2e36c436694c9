//! The gRPC door: `kms.v1.KeyManagementService` over the core.
//!
//! Each handler only (1) takes the caller's identity from the TLS session,
//! (2) converts the request to core arguments, (3) calls the core and
//! (4) converts the result or error back. No rules live here.

pub mod convert;
pub mod identity;
pub mod status;
pub mod time;

use tonic::{Request, Response, Status};

use crate::clock::to_timestamp;
use crate::kms::{Caller, CreateGrantInput, CreateKeyInput, GrantFilter, Kms};
use crate::model::ids::key_arn;
use crate::proto::kms::v1 as pb;
use crate::proto::kms::v1::identity_service_server::IdentityService;
use crate::proto::kms::v1::key_management_service_server::KeyManagementService;
use convert::*;
use identity::IdentityCache;
use status::to_status;

/// The KeyManagementService implementation.
pub struct KmsService {
    kms: Kms,
    identities: IdentityCache,
}

impl KmsService {
    /// A service over `kms`.
    pub fn new(kms: Kms) -> Self {
        Self {
            kms,
            identities: IdentityCache::default(),
        }
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        self.identities.caller(req).map_err(to_status)
    }
}

type Rpc<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl KeyManagementService for KmsService {
    async fn create_key(&self, req: Request<pb::CreateKeyRequest>) -> Rpc<pb::CreateKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let input = CreateKeyInput {
            policy: r.policy,
            description: r.description,
            key_spec: create_key_spec(r.key_spec, r.customer_master_key_spec).map_err(to_status)?,
            key_usage: key_usage_from(r.key_usage).map_err(to_status)?,
            origin: origin_from(r.origin).map_err(to_status)?,
            custom_key_store_id: r.custom_key_store_id,
            tags: tags_from(r.tags),
            multi_region: r.multi_region,
            xks_key_id: r.xks_key_id,
            bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check,
        };
        let rec = self
            .kms
            .create_key(&caller, input)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateKeyResponse {
            key_metadata: Some(key_metadata(&rec, self.kms.region())),
        }))
    }

    async fn describe_key(
        &self,
        req: Request<pb::DescribeKeyRequest>,
    ) -> Rpc<pb::DescribeKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let rec = self
            .kms
            .describe_key(&caller, &r.key_id, &r.grant_tokens)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DescribeKeyResponse {
            key_metadata: Some(key_metadata(&rec, self.kms.region())),
        }))
    }

    async fn list_keys(&self, req: Request<pb::ListKeysRequest>) -> Rpc<pb::ListKeysResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (ids, next) = self
            .kms
            .list_keys(&caller, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        let account = caller.principal.account();
        Ok(Response::new(pb::ListKeysResponse {
            keys: ids
                .iter()
                .map(|id| pb::KeyListEntry {
                    key_id: id.to_string(),
                    key_arn: key_arn(self.kms.region(), account, id),
                })
                .collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn update_key_description(
        &self,
        req: Request<pb::UpdateKeyDescriptionRequest>,
    ) -> Rpc<pb::UpdateKeyDescriptionResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .update_key_description(&caller, &r.key_id, r.description)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateKeyDescriptionResponse {}))
    }

    async fn enable_key(&self, req: Request<pb::EnableKeyRequest>) -> Rpc<pb::EnableKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .enable_key(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::EnableKeyResponse {}))
    }

    async fn disable_key(
        &self,
        req: Request<pb::DisableKeyRequest>,
    ) -> Rpc<pb::DisableKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .disable_key(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DisableKeyResponse {}))
    }

    async fn schedule_key_deletion(
        &self,
        req: Request<pb::ScheduleKeyDeletionRequest>,
    ) -> Rpc<pb::ScheduleKeyDeletionResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let out = self
            .kms
            .schedule_key_deletion(&caller, &r.key_id, r.pending_window_in_days)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ScheduleKeyDeletionResponse {
            key_id: self.kms.key_arn(&out.key),
            deletion_date: Some(to_timestamp(out.deletion_date_ms)),
            key_state: key_state_to(out.key.state),
            pending_window_in_days: i32::try_from(out.pending_window_days).unwrap_or(30),
        }))
    }

    async fn cancel_key_deletion(
        &self,
        req: Request<pb::CancelKeyDeletionRequest>,
    ) -> Rpc<pb::CancelKeyDeletionResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let rec = self
            .kms
            .cancel_key_deletion(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CancelKeyDeletionResponse {
            key_id: self.kms.key_arn(&rec),
        }))
    }

    async fn create_alias(
        &self,
        req: Request<pb::CreateAliasRequest>,
    ) -> Rpc<pb::CreateAliasResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .create_alias(&caller, &r.alias_name, &r.target_key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateAliasResponse {}))
    }

    async fn update_alias(
        &self,
        req: Request<pb::UpdateAliasRequest>,
    ) -> Rpc<pb::UpdateAliasResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .update_alias(&caller, &r.alias_name, &r.target_key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateAliasResponse {}))
    }

    async fn delete_alias(
        &self,
        req: Request<pb::DeleteAliasRequest>,
    ) -> Rpc<pb::DeleteAliasResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .delete_alias(&caller, &r.alias_name)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteAliasResponse {}))
    }

    async fn list_aliases(
        &self,
        req: Request<pb::ListAliasesRequest>,
    ) -> Rpc<pb::ListAliasesResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (entries, next) = self
            .kms
            .list_aliases(&caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAliasesResponse {
            aliases: entries
                .into_iter()
                .map(|e| pb::AliasListEntry {
                    alias_name: e.name.to_string(),
                    alias_arn: e.arn,
                    target_key_id: e.target.to_string(),
                    creation_date: Some(to_timestamp(e.created_ms)),
                    last_updated_date: Some(to_timestamp(e.updated_ms)),
                })
                .collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn tag_resource(
        &self,
        req: Request<pb::TagResourceRequest>,
    ) -> Rpc<pb::TagResourceResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .tag_resource(&caller, &r.key_id, tags_from(r.tags))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::TagResourceResponse {}))
    }

    async fn untag_resource(
        &self,
        req: Request<pb::UntagResourceRequest>,
    ) -> Rpc<pb::UntagResourceResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .untag_resource(&caller, &r.key_id, r.tag_keys)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UntagResourceResponse {}))
    }

    async fn list_resource_tags(
        &self,
        req: Request<pb::ListResourceTagsRequest>,
    ) -> Rpc<pb::ListResourceTagsResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (tags, next) = self
            .kms
            .list_resource_tags(&caller, &r.key_id, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListResourceTagsResponse {
            tags: tags
                .into_iter()
                .map(|(tag_key, tag_value)| pb::Tag { tag_key, tag_value })
                .collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn encrypt(&self, req: Request<pb::EncryptRequest>) -> Rpc<pb::EncryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let alg = alg_from(r.encryption_algorithm).map_err(to_status)?;
        let out = self
            .kms
            .encrypt(
                &caller,
                &r.key_id,
                &r.plaintext,
                &r.encryption_context,
                &r.grant_tokens,
                alg,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::EncryptResponse {
            ciphertext_blob: out.ciphertext_blob,
            key_id: self.kms.key_arn(&out.key),
            encryption_algorithm: alg_to(crate::model::EncryptionAlgorithm::SymmetricDefault),
            key_material_id: out.key_material_id,
        }))
    }

    async fn decrypt(&self, req: Request<pb::DecryptRequest>) -> Rpc<pb::DecryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let alg = alg_from(r.encryption_algorithm).map_err(to_status)?;
        let out = self
            .kms
            .decrypt(
                &caller,
                &r.ciphertext_blob,
                &r.encryption_context,
                &r.grant_tokens,
                r.key_id.as_deref(),
                alg,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DecryptResponse {
            key_id: self.kms.key_arn(&out.key),
            plaintext: out.plaintext.into_response_bytes(),
            encryption_algorithm: alg_to(crate::model::EncryptionAlgorithm::SymmetricDefault),
            key_material_id: out.key_material_id,
        }))
    }

    async fn re_encrypt(&self, req: Request<pb::ReEncryptRequest>) -> Rpc<pb::ReEncryptResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let src_alg = alg_from(r.source_encryption_algorithm).map_err(to_status)?;
        let dst_alg = alg_from(r.destination_encryption_algorithm).map_err(to_status)?;
        let out = self
            .kms
            .re_encrypt(
                &caller,
                &r.ciphertext_blob,
                &r.source_encryption_context,
                r.source_key_id.as_deref(),
                &r.destination_key_id,
                &r.destination_encryption_context,
                src_alg,
                dst_alg,
                &r.grant_tokens,
            )
            .await
            .map_err(to_status)?;
        let sym = alg_to(crate::model::EncryptionAlgorithm::SymmetricDefault);
        Ok(Response::new(pb::ReEncryptResponse {
            ciphertext_blob: out.ciphertext_blob,
            source_key_id: self.kms.key_arn(&out.source_key),
            key_id: self.kms.key_arn(&out.key),
            source_encryption_algorithm: sym,
            destination_encryption_algorithm: sym,
            source_key_material_id: out.source_key_material_id,
            destination_key_material_id: out.destination_key_material_id,
        }))
    }

    async fn generate_data_key(
        &self,
        req: Request<pb::GenerateDataKeyRequest>,
    ) -> Rpc<pb::GenerateDataKeyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let spec = data_key_spec_from(r.key_spec).map_err(to_status)?;
        let out = self
            .kms
            .generate_data_key(
                &caller,
                &r.key_id,
                &r.encryption_context,
                r.number_of_bytes,
                spec,
                &r.grant_tokens,
                true,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GenerateDataKeyResponse {
            ciphertext_blob: out.ciphertext_blob,
            plaintext: out
                .plaintext
                .map(|p| p.into_response_bytes())
                .unwrap_or_default(),
            key_id: self.kms.key_arn(&out.key),
            key_material_id: out.key_material_id,
        }))
    }

    async fn generate_data_key_without_plaintext(
        &self,
        req: Request<pb::GenerateDataKeyWithoutPlaintextRequest>,
    ) -> Rpc<pb::GenerateDataKeyWithoutPlaintextResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let spec = data_key_spec_from(r.key_spec).map_err(to_status)?;
        let out = self
            .kms
            .generate_data_key(
                &caller,
                &r.key_id,
                &r.encryption_context,
                r.number_of_bytes,
                spec,
                &r.grant_tokens,
                false,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: out.ciphertext_blob,
            key_id: self.kms.key_arn(&out.key),
            key_material_id: out.key_material_id,
        }))
    }

    async fn generate_random(
        &self,
        req: Request<pb::GenerateRandomRequest>,
    ) -> Rpc<pb::GenerateRandomResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let bytes = self
            .kms
            .generate_random(&caller, r.number_of_bytes, r.custom_key_store_id.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GenerateRandomResponse {
            plaintext: bytes.into_response_bytes(),
        }))
    }

    async fn put_key_policy(
        &self,
        req: Request<pb::PutKeyPolicyRequest>,
    ) -> Rpc<pb::PutKeyPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .put_key_policy(
                &caller,
                &r.key_id,
                r.policy_name.as_deref(),
                &r.policy,
                r.bypass_policy_lockout_safety_check,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PutKeyPolicyResponse {}))
    }

    async fn get_key_policy(
        &self,
        req: Request<pb::GetKeyPolicyRequest>,
    ) -> Rpc<pb::GetKeyPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let policy = self
            .kms
            .get_key_policy(&caller, &r.key_id, r.policy_name.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetKeyPolicyResponse {
            policy,
            policy_name: "default".into(),
        }))
    }

    async fn list_key_policies(
        &self,
        req: Request<pb::ListKeyPoliciesRequest>,
    ) -> Rpc<pb::ListKeyPoliciesResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let names = self
            .kms
            .list_key_policies(&caller, &r.key_id, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListKeyPoliciesResponse {
            policy_names: names,
            next_marker: String::new(),
            truncated: false,
        }))
    }

    async fn create_grant(
        &self,
        req: Request<pb::CreateGrantRequest>,
    ) -> Rpc<pb::CreateGrantResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let operations = r
            .operations
            .iter()
            .map(|o| grant_op_from(*o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(to_status)?;
        let input = CreateGrantInput {
            key_id: r.key_id,
            grantee_principal: r.grantee_principal,
            retiring_principal: r.retiring_principal,
            operations,
            constraints: constraints_from(r.constraints),
            grant_tokens: r.grant_tokens,
            name: r.name,
        };
        let (grant_id, grant_token) = self
            .kms
            .create_grant(&caller, input)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateGrantResponse {
            grant_token,
            grant_id,
        }))
    }

    async fn list_grants(
        &self,
        req: Request<pb::ListGrantsRequest>,
    ) -> Rpc<pb::ListGrantsResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let filter = GrantFilter {
            grant_id: r.grant_id,
            grantee_principal: r.grantee_principal,
        };
        let (grants, next) = self
            .kms
            .list_grants(&caller, &r.key_id, filter, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListGrantsResponse {
            grants: grants.into_iter().map(grant_entry).collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn list_retirable_grants(
        &self,
        req: Request<pb::ListRetirableGrantsRequest>,
    ) -> Rpc<pb::ListRetirableGrantsResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (grants, next) = self
            .kms
            .list_retirable_grants(&caller, &r.retiring_principal, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListRetirableGrantsResponse {
            grants: grants.into_iter().map(grant_entry).collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn retire_grant(
        &self,
        req: Request<pb::RetireGrantRequest>,
    ) -> Rpc<pb::RetireGrantResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .retire_grant(
                &caller,
                r.grant_token.as_deref(),
                r.key_id.as_deref(),
                r.grant_id.as_deref(),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RetireGrantResponse {}))
    }

    async fn revoke_grant(
        &self,
        req: Request<pb::RevokeGrantRequest>,
    ) -> Rpc<pb::RevokeGrantResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .revoke_grant(&caller, &r.key_id, &r.grant_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RevokeGrantResponse {}))
    }

    async fn enable_key_rotation(
        &self,
        req: Request<pb::EnableKeyRotationRequest>,
    ) -> Rpc<pb::EnableKeyRotationResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .enable_key_rotation(&caller, &r.key_id, r.rotation_period_in_days)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::EnableKeyRotationResponse {}))
    }

    async fn disable_key_rotation(
        &self,
        req: Request<pb::DisableKeyRotationRequest>,
    ) -> Rpc<pb::DisableKeyRotationResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .disable_key_rotation(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DisableKeyRotationResponse {}))
    }

    async fn get_key_rotation_status(
        &self,
        req: Request<pb::GetKeyRotationStatusRequest>,
    ) -> Rpc<pb::GetKeyRotationStatusResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let st = self
            .kms
            .get_key_rotation_status(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetKeyRotationStatusResponse {
            key_rotation_enabled: st.enabled,
            key_id: self.kms.key_arn(&st.key),
            rotation_period_in_days: st.period_days.and_then(|d| i32::try_from(d).ok()),
            next_rotation_date: st.next_rotation_ms.map(to_timestamp),
            on_demand_rotation_start_date: None,
        }))
    }

    async fn rotate_key_on_demand(
        &self,
        req: Request<pb::RotateKeyOnDemandRequest>,
    ) -> Rpc<pb::RotateKeyOnDemandResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let rec = self
            .kms
            .rotate_key_on_demand(&caller, &r.key_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RotateKeyOnDemandResponse {
            key_id: rec.id.to_string(),
        }))
    }

    async fn list_key_rotations(
        &self,
        req: Request<pb::ListKeyRotationsRequest>,
    ) -> Rpc<pb::ListKeyRotationsResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let include_original = match pb::IncludeKeyMaterial::try_from(r.include_key_material) {
            Ok(pb::IncludeKeyMaterial::AllKeyMaterial) => true,
            Ok(pb::IncludeKeyMaterial::RotationsOnly) | Ok(pb::IncludeKeyMaterial::Unspecified) => {
                false
            }
            Err(_) => {
                return Err(to_status(crate::kms::validate::validation(
                    "includeKeyMaterial",
                    "Member must satisfy enum value set",
                )))
            }
        };
        let (entries, next) = self
            .kms
            .list_key_rotations(
                &caller,
                &r.key_id,
                include_original,
                r.limit,
                r.marker.as_deref(),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListKeyRotationsResponse {
            rotations: entries
                .into_iter()
                .map(|e| pb::RotationsListEntry {
                    key_id: e.key_id.clone(),
                    key_material_id: e.key_material_id,
                    key_material_description: String::new(),
                    import_state: 0,
                    key_material_state: if e.current {
                        pb::KeyMaterialState::Current as i32
                    } else {
                        pb::KeyMaterialState::NonCurrent as i32
                    },
                    expiration_model: 0,
                    valid_to: None,
                    rotation_date: e.rotation_ms.map(to_timestamp),
                    rotation_type: e.rotation_type.map(rotation_type_to).unwrap_or(0),
                })
                .collect(),
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }
}

/// The IdentityService implementation (IAM-lite inline policies).
pub struct IdentityServiceImpl {
    kms: Kms,
    identities: std::sync::Arc<IdentityCache>,
}

impl IdentityServiceImpl {
    /// A service over `kms`.
    pub fn new(kms: Kms) -> Self {
        Self {
            kms,
            identities: std::sync::Arc::new(IdentityCache::default()),
        }
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        self.identities.caller(req).map_err(to_status)
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityServiceImpl {
    async fn put_principal_policy(
        &self,
        req: Request<pb::PutPrincipalPolicyRequest>,
    ) -> Rpc<pb::PutPrincipalPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .put_principal_policy(
                &caller,
                &r.principal_arn,
                &r.policy_name,
                &r.policy_document,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::PutPrincipalPolicyResponse {}))
    }

    async fn get_principal_policy(
        &self,
        req: Request<pb::GetPrincipalPolicyRequest>,
    ) -> Rpc<pb::GetPrincipalPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let doc = self
            .kms
            .get_principal_policy(&caller, &r.principal_arn, &r.policy_name)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetPrincipalPolicyResponse {
            principal_arn: r.principal_arn,
            policy_name: r.policy_name,
            policy_document: doc,
        }))
    }

    async fn list_principal_policies(
        &self,
        req: Request<pb::ListPrincipalPoliciesRequest>,
    ) -> Rpc<pb::ListPrincipalPoliciesResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (names, next) = self
            .kms
            .list_principal_policies(&caller, &r.principal_arn, r.limit, r.marker.as_deref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListPrincipalPoliciesResponse {
            policy_names: names,
            truncated: next.is_some(),
            next_marker: next.unwrap_or_default(),
        }))
    }

    async fn delete_principal_policy(
        &self,
        req: Request<pb::DeletePrincipalPolicyRequest>,
    ) -> Rpc<pb::DeletePrincipalPolicyResponse> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        self.kms
            .delete_principal_policy(&caller, &r.principal_arn, &r.policy_name)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeletePrincipalPolicyResponse {}))
    }
}
