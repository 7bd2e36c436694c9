//! The door-neutral API layer: one request of the AWS KMS API (or of
//! kmsd's IAM-lite IdentityService) in, the core called, one AWS-shaped
//! response out.
//!
//! Every door (the gRPC door in `service/`, and the AWS JSON door to come)
//! does only three things: decode its wire format into a request struct
//! of [`crate::kms::request`], take the caller from its transport, and
//! encode the response struct (or the error, whose exception name and
//! message are separate, see [`crate::error::KmsError`]) into its wire
//! format. Everything between — which core operation, which ARNs and
//! algorithm names the response reports — is here, once.
//!
//! [`Call`] is implemented for each request type, so a door can serve
//! every operation through one generic function (`Api::call`).
//!
//! Responses carry plain Rust values: times are Unix milliseconds,
//! secrets stay in their zeroizing types until the door hands them to
//! the wire.

mod responses;

use std::future::Future;

pub use crate::kms::request::*;
pub use responses::*;

use crate::error::KmsResult;
use crate::kms::{Caller, Kms};
use crate::model::{KeyMaterialState, Operation};

/// The door-neutral API over one core.
#[derive(Clone)]
pub struct Api {
    kms: Kms,
}

impl Api {
    /// The API over `kms`.
    pub fn new(kms: Kms) -> Self {
        Self { kms }
    }

    /// The core underneath (for the server's lifecycle, not for doors).
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// Performs one request for `caller`.
    pub async fn call<R: Call>(&self, caller: &Caller, req: R) -> KmsResult<R::Response> {
        // The account's request-rate limit, before any work (issue 11 item 14).
        self.kms.admit(caller)?;
        req.call(self, caller).await
    }
}

/// A request of the API: which operation it is and how the core performs it.
pub trait Call: Send + Sized + 'static {
    /// What the operation answers.
    type Response: Send + 'static;
    /// The operation, as the operation table names it.
    const OPERATION: Operation;
    /// Performs the request for `caller`.
    fn call(
        self,
        api: &Api,
        caller: &Caller,
    ) -> impl Future<Output = KmsResult<Self::Response>> + Send;
}

/// Implements [`Call`] for one request type: `|api, caller, req| body`.
macro_rules! call {
    ($req:ty => $resp:ty, $op:ident, |$api:ident, $caller:ident, $r:ident| $body:expr) => {
        impl Call for $req {
            type Response = $resp;
            const OPERATION: Operation = Operation::$op;
            async fn call(self, $api: &Api, $caller: &Caller) -> KmsResult<$resp> {
                let $r = self;
                $body
            }
        }
    };
}

// ---------------------------------------------------------------- keys

call!(CreateKeyRequest => CreateKeyResponse, CreateKey, |api, caller, r| {
    let rec = api.kms.create_key(caller, r).await?;
    Ok(CreateKeyResponse {
        key_metadata: rec.metadata(api.kms.region()),
    })
});

call!(DescribeKeyRequest => DescribeKeyResponse, DescribeKey, |api, caller, r| {
    let rec = api.kms.describe_key(caller, r).await?;
    Ok(DescribeKeyResponse {
        key_metadata: rec.metadata(api.kms.region()),
    })
});

call!(ListKeysRequest => ListKeysResponse, ListKeys, |api, caller, r| {
    let (ids, next_marker) = api.kms.list_keys(caller, r).await?;
    let account = caller.principal.account();
    Ok(ListKeysResponse {
        keys: ids
            .iter()
            .map(|id| KeyListEntry {
                key_id: id.to_string(),
                key_arn: crate::model::ids::key_arn(api.kms.region(), account, id),
            })
            .collect(),
        next_marker,
    })
});

call!(UpdateKeyDescriptionRequest => (), UpdateKeyDescription, |api, caller, r| {
    api.kms.update_key_description(caller, r).await
});

call!(EnableKeyRequest => (), EnableKey, |api, caller, r| {
    api.kms.enable_key(caller, r).await
});

call!(DisableKeyRequest => (), DisableKey, |api, caller, r| {
    api.kms.disable_key(caller, r).await
});

call!(ScheduleKeyDeletionRequest => ScheduleKeyDeletionResponse, ScheduleKeyDeletion, |api, caller, r| {
    let out = api.kms.schedule_key_deletion(caller, r).await?;
    Ok(ScheduleKeyDeletionResponse {
        key_id: api.kms.key_arn(&out.key),
        deletion_date_ms: out.deletion_date_ms,
        key_state: out.key.state,
        pending_window_in_days: out.pending_window_days,
    })
});

call!(CancelKeyDeletionRequest => CancelKeyDeletionResponse, CancelKeyDeletion, |api, caller, r| {
    let rec = api.kms.cancel_key_deletion(caller, r).await?;
    Ok(CancelKeyDeletionResponse {
        key_id: api.kms.key_arn(&rec),
    })
});

// ---------------------------------------------------------------- aliases

call!(CreateAliasRequest => (), CreateAlias, |api, caller, r| {
    api.kms.create_alias(caller, r).await
});

call!(UpdateAliasRequest => (), UpdateAlias, |api, caller, r| {
    api.kms.update_alias(caller, r).await
});

call!(DeleteAliasRequest => (), DeleteAlias, |api, caller, r| {
    api.kms.delete_alias(caller, r).await
});

call!(ListAliasesRequest => ListAliasesResponse, ListAliases, |api, caller, r| {
    let (entries, next_marker) = api.kms.list_aliases(caller, r).await?;
    Ok(ListAliasesResponse {
        aliases: entries
            .into_iter()
            .map(|e| AliasListEntry {
                alias_name: e.name.to_string(),
                alias_arn: e.arn,
                target_key_id: e.target.to_string(),
                creation_date_ms: e.created_ms,
                last_updated_date_ms: e.updated_ms,
            })
            .collect(),
        next_marker,
    })
});

// ---------------------------------------------------------------- tags

call!(TagResourceRequest => (), TagResource, |api, caller, r| {
    api.kms.tag_resource(caller, r).await
});

call!(UntagResourceRequest => (), UntagResource, |api, caller, r| {
    api.kms.untag_resource(caller, r).await
});

call!(ListResourceTagsRequest => ListResourceTagsResponse, ListResourceTags, |api, caller, r| {
    let (tags, next_marker) = api.kms.list_resource_tags(caller, r).await?;
    Ok(ListResourceTagsResponse { tags, next_marker })
});

// ---------------------------------------------------------------- crypto

call!(EncryptRequest => EncryptResponse, Encrypt, |api, caller, r| {
    let out = api.kms.encrypt(caller, r).await?;
    Ok(EncryptResponse {
        ciphertext_blob: out.ciphertext_blob,
        key_id: api.kms.key_arn(&out.key),
        encryption_algorithm: out.encryption_algorithm,
        key_material_id: out.key_material_id,
    })
});

call!(DecryptRequest => DecryptResponse, Decrypt, |api, caller, r| {
    let out = api.kms.decrypt(caller, r).await?;
    Ok(DecryptResponse {
        key_id: api.kms.key_arn(&out.key),
        plaintext: out.plaintext,
        encryption_algorithm: out.encryption_algorithm,
        key_material_id: out.key_material_id,
    })
});

call!(ReEncryptRequest => ReEncryptResponse, ReEncryptFrom, |api, caller, r| {
    let out = api.kms.re_encrypt(caller, r).await?;
    Ok(ReEncryptResponse {
        ciphertext_blob: out.ciphertext_blob,
        source_key_id: api.kms.key_arn(&out.source_key),
        key_id: api.kms.key_arn(&out.key),
        source_encryption_algorithm: out.source_encryption_algorithm,
        destination_encryption_algorithm: out.destination_encryption_algorithm,
        source_key_material_id: out.source_key_material_id,
        destination_key_material_id: out.destination_key_material_id,
    })
});

call!(GenerateDataKeyRequest => GenerateDataKeyResponse, GenerateDataKey, |api, caller, r| {
    let out = api.kms.generate_data_key(caller, r).await?;
    let plaintext = out.plaintext.ok_or_else(|| {
        crate::error::KmsError::internal("GenerateDataKey produced no plaintext")
    })?;
    Ok(GenerateDataKeyResponse {
        ciphertext_blob: out.ciphertext_blob,
        plaintext,
        key_id: api.kms.key_arn(&out.key),
        key_material_id: out.key_material_id,
    })
});

call!(
    GenerateDataKeyWithoutPlaintextRequest => GenerateDataKeyWithoutPlaintextResponse,
    GenerateDataKeyWithoutPlaintext,
    |api, caller, r| {
        let out = api.kms.generate_data_key_without_plaintext(caller, r).await?;
        Ok(GenerateDataKeyWithoutPlaintextResponse {
            ciphertext_blob: out.ciphertext_blob,
            key_id: api.kms.key_arn(&out.key),
            key_material_id: out.key_material_id,
        })
    }
);

call!(GenerateRandomRequest => GenerateRandomResponse, GenerateRandom, |api, caller, r| {
    let plaintext = api.kms.generate_random(caller, r).await?;
    Ok(GenerateRandomResponse { plaintext })
});

// ---------------------------------------------------------------- asymmetric and HMAC

call!(GetPublicKeyRequest => GetPublicKeyResponse, GetPublicKey, |api, caller, r| {
    let out = api.kms.get_public_key(caller, r).await?;
    let m = out.key.metadata(api.kms.region());
    Ok(GetPublicKeyResponse {
        key_id: m.arn,
        public_key: out.public_key,
        key_spec: m.key_spec,
        key_usage: m.key_usage,
        encryption_algorithms: m.encryption_algorithms,
        signing_algorithms: m.signing_algorithms,
        key_agreement_algorithms: m.key_agreement_algorithms,
        key_encapsulation_algorithms: m.key_encapsulation_algorithms,
    })
});

call!(SignRequest => SignResponse, Sign, |api, caller, r| {
    let out = api.kms.sign(caller, r).await?;
    Ok(SignResponse {
        key_id: api.kms.key_arn(&out.key),
        signature: out.signature,
        signing_algorithm: out.signing_algorithm,
    })
});

call!(VerifyRequest => VerifyResponse, Verify, |api, caller, r| {
    let out = api.kms.verify(caller, r).await?;
    Ok(VerifyResponse {
        key_id: api.kms.key_arn(&out.key),
        signature_valid: true,
        signing_algorithm: out.signing_algorithm,
    })
});

call!(GenerateDataKeyPairRequest => GenerateDataKeyPairResponse, GenerateDataKeyPair, |api, caller, r| {
    let out = api.kms.generate_data_key_pair(caller, r).await?;
    let private_key = out.private_key_plaintext.ok_or_else(|| {
        crate::error::KmsError::internal("GenerateDataKeyPair produced no private key")
    })?;
    // Copied straight into the zeroizing type the response carries; the
    // KeyMaterial wipes its own copy when it drops here.
    let private_key_plaintext =
        crate::secret::Plaintext::new(private_key.expose_secret().to_vec());
    Ok(GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: out.private_key_ciphertext_blob,
        private_key_plaintext,
        public_key: out.public_key,
        key_id: api.kms.key_arn(&out.key),
        key_pair_spec: out.key_pair_spec,
        key_material_id: out.key_material_id,
    })
});

call!(
    GenerateDataKeyPairWithoutPlaintextRequest => GenerateDataKeyPairWithoutPlaintextResponse,
    GenerateDataKeyPairWithoutPlaintext,
    |api, caller, r| {
        let out = api.kms.generate_data_key_pair_without_plaintext(caller, r).await?;
        Ok(GenerateDataKeyPairWithoutPlaintextResponse {
            private_key_ciphertext_blob: out.private_key_ciphertext_blob,
            public_key: out.public_key,
            key_id: api.kms.key_arn(&out.key),
            key_pair_spec: out.key_pair_spec,
            key_material_id: out.key_material_id,
        })
    }
);

call!(GenerateMacRequest => GenerateMacResponse, GenerateMac, |api, caller, r| {
    let out = api.kms.generate_mac(caller, r).await?;
    Ok(GenerateMacResponse {
        mac: out.mac,
        mac_algorithm: out.mac_algorithm,
        key_id: api.kms.key_arn(&out.key),
    })
});

call!(VerifyMacRequest => VerifyMacResponse, VerifyMac, |api, caller, r| {
    let out = api.kms.verify_mac(caller, r).await?;
    Ok(VerifyMacResponse {
        key_id: api.kms.key_arn(&out.key),
        mac_valid: true,
        mac_algorithm: out.mac_algorithm,
    })
});

call!(DeriveSharedSecretRequest => DeriveSharedSecretResponse, DeriveSharedSecret, |api, caller, r| {
    let out = api.kms.derive_shared_secret(caller, r).await?;
    Ok(DeriveSharedSecretResponse {
        key_id: api.kms.key_arn(&out.key),
        shared_secret: out.shared_secret,
        key_agreement_algorithm: out.key_agreement_algorithm,
        key_origin: out.key.origin,
    })
});

call!(EncapsulateRequest => EncapsulateResponse, Encapsulate, |api, caller, r| {
    let out = api.kms.encapsulate(caller, r).await?;
    Ok(EncapsulateResponse {
        key_id: api.kms.key_arn(&out.key),
        shared_secret: out.shared_secret,
        shared_secret_ciphertext_blob: out.ciphertext,
        encapsulation_algorithm: out.encapsulation_algorithm,
    })
});

call!(DecapsulateRequest => DecapsulateResponse, Decapsulate, |api, caller, r| {
    let out = api.kms.decapsulate(caller, r).await?;
    Ok(DecapsulateResponse {
        key_id: api.kms.key_arn(&out.key),
        shared_secret: out.shared_secret,
        encapsulation_algorithm: out.encapsulation_algorithm,
    })
});

// ---------------------------------------------------------------- key policies

call!(PutKeyPolicyRequest => (), PutKeyPolicy, |api, caller, r| {
    api.kms.put_key_policy(caller, r).await
});

call!(GetKeyPolicyRequest => GetKeyPolicyResponse, GetKeyPolicy, |api, caller, r| {
    let policy = api.kms.get_key_policy(caller, r).await?;
    Ok(GetKeyPolicyResponse {
        policy,
        policy_name: crate::kms::KEY_POLICY_NAME.to_owned(),
    })
});

call!(ListKeyPoliciesRequest => ListKeyPoliciesResponse, ListKeyPolicies, |api, caller, r| {
    let policy_names = api.kms.list_key_policies(caller, r).await?;
    Ok(ListKeyPoliciesResponse {
        policy_names,
        next_marker: None,
    })
});

// ---------------------------------------------------------------- grants

call!(CreateGrantRequest => CreateGrantResponse, CreateGrant, |api, caller, r| {
    let (grant_id, grant_token) = api.kms.create_grant(caller, r).await?;
    Ok(CreateGrantResponse {
        grant_token,
        grant_id,
    })
});

call!(ListGrantsRequest => ListGrantsResponse, ListGrants, |api, caller, r| {
    let (grants, next_marker) = api.kms.list_grants(caller, r).await?;
    Ok(ListGrantsResponse {
        grants,
        next_marker,
    })
});

call!(ListRetirableGrantsRequest => ListGrantsResponse, ListRetirableGrants, |api, caller, r| {
    let (grants, next_marker) = api.kms.list_retirable_grants(caller, r).await?;
    Ok(ListGrantsResponse {
        grants,
        next_marker,
    })
});

call!(RetireGrantRequest => (), RetireGrant, |api, caller, r| {
    api.kms.retire_grant(caller, r).await
});

call!(RevokeGrantRequest => (), RevokeGrant, |api, caller, r| {
    api.kms.revoke_grant(caller, r).await
});

// ---------------------------------------------------------------- rotation

call!(EnableKeyRotationRequest => (), EnableKeyRotation, |api, caller, r| {
    api.kms.enable_key_rotation(caller, r).await
});

call!(DisableKeyRotationRequest => (), DisableKeyRotation, |api, caller, r| {
    api.kms.disable_key_rotation(caller, r).await
});

call!(GetKeyRotationStatusRequest => GetKeyRotationStatusResponse, GetKeyRotationStatus, |api, caller, r| {
    let st = api.kms.get_key_rotation_status(caller, r).await?;
    Ok(GetKeyRotationStatusResponse {
        key_rotation_enabled: st.enabled,
        key_id: api.kms.key_arn(&st.key),
        rotation_period_in_days: st.period_days,
        next_rotation_date_ms: st.next_rotation_ms,
    })
});

call!(RotateKeyOnDemandRequest => RotateKeyOnDemandResponse, RotateKeyOnDemand, |api, caller, r| {
    let rec = api.kms.rotate_key_on_demand(caller, r).await?;
    Ok(RotateKeyOnDemandResponse {
        key_id: rec.id.to_string(),
    })
});

call!(ReplicateKeyRequest => ReplicateKeyResponse, ReplicateKey, |api, caller, r| {
    let out = api.kms.replicate_key(caller, r).await?;
    Ok(ReplicateKeyResponse {
        replica_key_metadata: out.replica.metadata(&out.region),
        replica_policy: out.policy,
        replica_tags: out.replica.tags.into_iter().collect(),
    })
});

call!(UpdatePrimaryRegionRequest => (), UpdatePrimaryRegion, |api, caller, r| {
    api.kms.update_primary_region(caller, r).await
});

call!(ListKeyRotationsRequest => ListKeyRotationsResponse, ListKeyRotations, |api, caller, r| {
    let (entries, next_marker) = api.kms.list_key_rotations(caller, r).await?;
    Ok(ListKeyRotationsResponse {
        rotations: entries
            .into_iter()
            .map(|e| RotationsListEntry {
                key_id: e.key_id,
                key_material_id: e.key_material_id,
                key_material_description: e.description,
                import_state: e.import_state,
                expiration_model: e.expiration_model,
                valid_to_ms: e.valid_to_ms,
                key_material_state: if e.current {
                    KeyMaterialState::Current
                } else if e.pending_rotation {
                    KeyMaterialState::PendingRotation
                } else {
                    KeyMaterialState::NonCurrent
                },
                rotation_date_ms: e.rotation_ms,
                rotation_type: e.rotation_type,
            })
            .collect(),
        next_marker,
    })
});

// ---------------------------------------------------------------- import (BYOK)

call!(GetParametersForImportRequest => GetParametersForImportResponse, GetParametersForImport, |api, caller, r| {
    let out = api.kms.get_parameters_for_import(caller, r).await?;
    Ok(GetParametersForImportResponse {
        key_id: api.kms.key_arn(&out.key),
        import_token: out.import_token,
        public_key: out.public_key,
        parameters_valid_to_ms: out.parameters_valid_to_ms,
    })
});

call!(ImportKeyMaterialRequest => ImportKeyMaterialResponse, ImportKeyMaterial, |api, caller, r| {
    let out = api.kms.import_key_material(caller, r).await?;
    Ok(ImportKeyMaterialResponse {
        key_id: api.kms.key_arn(&out.key),
        key_material_id: out.key_material_id,
    })
});

call!(DeleteImportedKeyMaterialRequest => DeleteImportedKeyMaterialResponse, DeleteImportedKeyMaterial, |api, caller, r| {
    let out = api.kms.delete_imported_key_material(caller, r).await?;
    Ok(DeleteImportedKeyMaterialResponse {
        key_id: api.kms.key_arn(&out.key),
        key_material_id: out.key_material_id,
    })
});

// ---------------------------------------------------------------- custom key stores

call!(CreateCustomKeyStoreRequest => CreateCustomKeyStoreResponse, CreateCustomKeyStore, |api, caller, r| {
    let custom_key_store_id = api.kms.create_custom_key_store(caller, r).await?;
    Ok(CreateCustomKeyStoreResponse { custom_key_store_id })
});

call!(DescribeCustomKeyStoresRequest => DescribeCustomKeyStoresResponse, DescribeCustomKeyStores, |api, caller, r| {
    let (custom_key_stores, next_marker) = api.kms.describe_custom_key_stores(caller, r).await?;
    Ok(DescribeCustomKeyStoresResponse {
        custom_key_stores,
        next_marker,
    })
});

call!(UpdateCustomKeyStoreRequest => (), UpdateCustomKeyStore, |api, caller, r| {
    api.kms.update_custom_key_store(caller, r).await
});

call!(ConnectCustomKeyStoreRequest => (), ConnectCustomKeyStore, |api, caller, r| {
    api.kms.connect_custom_key_store(caller, r.0).await
});

call!(DisconnectCustomKeyStoreRequest => (), DisconnectCustomKeyStore, |api, caller, r| {
    api.kms.disconnect_custom_key_store(caller, r.0).await
});

call!(DeleteCustomKeyStoreRequest => (), DeleteCustomKeyStore, |api, caller, r| {
    api.kms.delete_custom_key_store(caller, r.0).await
});

// ---------------------------------------------------------------- IAM-lite

call!(PutPrincipalPolicyRequest => (), PutPrincipalPolicy, |api, caller, r| {
    api.kms.put_principal_policy(caller, r).await
});

call!(GetPrincipalPolicyRequest => GetPrincipalPolicyResponse, GetPrincipalPolicy, |api, caller, r| {
    let (principal_arn, policy_name) = (r.principal_arn.clone(), r.policy_name.clone());
    let policy_document = api.kms.get_principal_policy(caller, r).await?;
    Ok(GetPrincipalPolicyResponse {
        principal_arn,
        policy_name,
        policy_document,
    })
});

call!(ListPrincipalPoliciesRequest => ListPrincipalPoliciesResponse, ListPrincipalPolicies, |api, caller, r| {
    let (policy_names, next_marker) = api.kms.list_principal_policies(caller, r).await?;
    Ok(ListPrincipalPoliciesResponse {
        policy_names,
        next_marker,
    })
});

call!(DeletePrincipalPolicyRequest => (), DeletePrincipalPolicy, |api, caller, r| {
    api.kms.delete_principal_policy(caller, r).await
});
