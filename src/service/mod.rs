//! The gRPC door: `kms.v1.KeyManagementService` and `kms.v1.IdentityService`
//! over the door-neutral API layer (`crate::api`).
//!
//! A call does exactly three things here: take the caller's identity from
//! the TLS session (`identity.rs`), convert the wire request into the API's
//! request struct and the API's response back (`wire.rs`, with the enum
//! mapping in `convert.rs`), and turn an error into a status
//! (`status.rs`). No rule of the service lives in this module, and it
//! never reaches the store or the core's internals: every handler is the
//! one generic [`GrpcDoor::rpc`].

pub mod convert;
pub mod identity;
pub mod status;
pub mod time;
pub mod wire;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::api::{Api, Call};
use crate::kms::{Caller, Kms};
use crate::proto::kms::v1 as pb;
use crate::proto::kms::v1::identity_service_server::IdentityService;
use crate::proto::kms::v1::key_management_service_server::KeyManagementService;
use identity::IdentityCache;
use status::to_status;
use wire::{FromApi, IntoApi};

/// The gRPC door: serves both services (cheap to clone; clones share the
/// identity cache).
#[derive(Clone)]
pub struct GrpcDoor {
    api: Api,
    identities: Arc<IdentityCache>,
}

impl GrpcDoor {
    /// A door over `kms`.
    pub fn new(kms: Kms) -> Self {
        Self {
            api: Api::new(kms),
            identities: Arc::new(IdentityCache::default()),
        }
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        self.identities.caller(req).map_err(to_status)
    }

    /// Every RPC: caller from TLS, wire → API request, the API, API
    /// response → wire.
    async fn rpc<P, W>(&self, req: Request<P>) -> Result<Response<W>, Status>
    where
        P: IntoApi,
        W: FromApi<<P::Api as Call>::Response>,
    {
        let caller = self.caller(&req)?;
        let api_req = req.into_inner().into_api().map_err(to_status)?;
        let resp = self.api.call(&caller, api_req).await.map_err(to_status)?;
        Ok(Response::new(W::from_api(resp)))
    }
}

type Rpc<T> = Result<Response<T>, Status>;

/// Implements a generated service trait with every method going through
/// [`GrpcDoor::rpc`]; the method's wire types pick the API operation.
macro_rules! grpc_door {
    ($service:ident { $($method:ident($req:ident) -> $resp:ident;)+ }) => {
        #[tonic::async_trait]
        impl $service for GrpcDoor {
            $(
                async fn $method(&self, req: Request<pb::$req>) -> Rpc<pb::$resp> {
                    self.rpc(req).await
                }
            )+
        }
    };
}

grpc_door!(KeyManagementService {
    create_key(CreateKeyRequest) -> CreateKeyResponse;
    describe_key(DescribeKeyRequest) -> DescribeKeyResponse;
    list_keys(ListKeysRequest) -> ListKeysResponse;
    update_key_description(UpdateKeyDescriptionRequest) -> UpdateKeyDescriptionResponse;
    enable_key(EnableKeyRequest) -> EnableKeyResponse;
    disable_key(DisableKeyRequest) -> DisableKeyResponse;
    schedule_key_deletion(ScheduleKeyDeletionRequest) -> ScheduleKeyDeletionResponse;
    cancel_key_deletion(CancelKeyDeletionRequest) -> CancelKeyDeletionResponse;
    create_alias(CreateAliasRequest) -> CreateAliasResponse;
    update_alias(UpdateAliasRequest) -> UpdateAliasResponse;
    delete_alias(DeleteAliasRequest) -> DeleteAliasResponse;
    list_aliases(ListAliasesRequest) -> ListAliasesResponse;
    tag_resource(TagResourceRequest) -> TagResourceResponse;
    untag_resource(UntagResourceRequest) -> UntagResourceResponse;
    list_resource_tags(ListResourceTagsRequest) -> ListResourceTagsResponse;
    encrypt(EncryptRequest) -> EncryptResponse;
    decrypt(DecryptRequest) -> DecryptResponse;
    re_encrypt(ReEncryptRequest) -> ReEncryptResponse;
    generate_data_key(GenerateDataKeyRequest) -> GenerateDataKeyResponse;
    generate_data_key_without_plaintext(GenerateDataKeyWithoutPlaintextRequest)
        -> GenerateDataKeyWithoutPlaintextResponse;
    generate_random(GenerateRandomRequest) -> GenerateRandomResponse;
    put_key_policy(PutKeyPolicyRequest) -> PutKeyPolicyResponse;
    get_key_policy(GetKeyPolicyRequest) -> GetKeyPolicyResponse;
    list_key_policies(ListKeyPoliciesRequest) -> ListKeyPoliciesResponse;
    create_grant(CreateGrantRequest) -> CreateGrantResponse;
    list_grants(ListGrantsRequest) -> ListGrantsResponse;
    list_retirable_grants(ListRetirableGrantsRequest) -> ListRetirableGrantsResponse;
    retire_grant(RetireGrantRequest) -> RetireGrantResponse;
    revoke_grant(RevokeGrantRequest) -> RevokeGrantResponse;
    enable_key_rotation(EnableKeyRotationRequest) -> EnableKeyRotationResponse;
    disable_key_rotation(DisableKeyRotationRequest) -> DisableKeyRotationResponse;
    get_key_rotation_status(GetKeyRotationStatusRequest) -> GetKeyRotationStatusResponse;
    rotate_key_on_demand(RotateKeyOnDemandRequest) -> RotateKeyOnDemandResponse;
    replicate_key(ReplicateKeyRequest) -> ReplicateKeyResponse;
    update_primary_region(UpdatePrimaryRegionRequest) -> UpdatePrimaryRegionResponse;
    list_key_rotations(ListKeyRotationsRequest) -> ListKeyRotationsResponse;
    get_public_key(GetPublicKeyRequest) -> GetPublicKeyResponse;
    sign(SignRequest) -> SignResponse;
    verify(VerifyRequest) -> VerifyResponse;
    generate_data_key_pair(GenerateDataKeyPairRequest) -> GenerateDataKeyPairResponse;
    generate_data_key_pair_without_plaintext(GenerateDataKeyPairWithoutPlaintextRequest)
        -> GenerateDataKeyPairWithoutPlaintextResponse;
    generate_mac(GenerateMacRequest) -> GenerateMacResponse;
    verify_mac(VerifyMacRequest) -> VerifyMacResponse;
    derive_shared_secret(DeriveSharedSecretRequest) -> DeriveSharedSecretResponse;
    encapsulate(EncapsulateRequest) -> EncapsulateResponse;
    decapsulate(DecapsulateRequest) -> DecapsulateResponse;
    get_parameters_for_import(GetParametersForImportRequest) -> GetParametersForImportResponse;
    import_key_material(ImportKeyMaterialRequest) -> ImportKeyMaterialResponse;
    delete_imported_key_material(DeleteImportedKeyMaterialRequest)
        -> DeleteImportedKeyMaterialResponse;
    create_custom_key_store(CreateCustomKeyStoreRequest) -> CreateCustomKeyStoreResponse;
    describe_custom_key_stores(DescribeCustomKeyStoresRequest)
        -> DescribeCustomKeyStoresResponse;
    update_custom_key_store(UpdateCustomKeyStoreRequest) -> UpdateCustomKeyStoreResponse;
    connect_custom_key_store(ConnectCustomKeyStoreRequest) -> ConnectCustomKeyStoreResponse;
    disconnect_custom_key_store(DisconnectCustomKeyStoreRequest)
        -> DisconnectCustomKeyStoreResponse;
    delete_custom_key_store(DeleteCustomKeyStoreRequest) -> DeleteCustomKeyStoreResponse;
});

grpc_door!(IdentityService {
    put_principal_policy(PutPrincipalPolicyRequest) -> PutPrincipalPolicyResponse;
    get_principal_policy(GetPrincipalPolicyRequest) -> GetPrincipalPolicyResponse;
    list_principal_policies(ListPrincipalPoliciesRequest) -> ListPrincipalPoliciesResponse;
    delete_principal_policy(DeletePrincipalPolicyRequest) -> DeletePrincipalPolicyResponse;
});
