//! Custom key stores (AWS_CLOUDHSM): CreateCustomKeyStore,
//! DescribeCustomKeyStores, UpdateCustomKeyStore, ConnectCustomKeyStore,
//! DisconnectCustomKeyStore, DeleteCustomKeyStore, and the registry of
//! stores the rest of the core consults (a key's effective state,
//! the backend holding its material).
//!
//! The HSM protocol itself is `backend::hsm`'s: this module only keeps the
//! stores' records and connection states and asks that backend to connect.

use super::request::{
    CreateCustomKeyStoreRequest, CustomKeyStoreIdRequest, DescribeCustomKeyStoresRequest,
    UpdateCustomKeyStoreRequest,
};
use super::{Caller, Kms};
use crate::api::{CreateCustomKeyStoreResponse, DescribeCustomKeyStoresResponse};
use crate::error::{KmsError, KmsResult};

fn not_yet(op: &str) -> KmsError {
    KmsError::UnsupportedOperation(format!("{op} is not implemented yet"))
}

impl Kms {
    /// CreateCustomKeyStore.
    pub async fn create_custom_key_store(
        &self,
        caller: &Caller,
        req: CreateCustomKeyStoreRequest,
    ) -> KmsResult<CreateCustomKeyStoreResponse> {
        let _ = (caller, req);
        Err(not_yet("CreateCustomKeyStore"))
    }

    /// DescribeCustomKeyStores.
    pub async fn describe_custom_key_stores(
        &self,
        caller: &Caller,
        req: DescribeCustomKeyStoresRequest,
    ) -> KmsResult<DescribeCustomKeyStoresResponse> {
        let _ = (caller, req);
        Err(not_yet("DescribeCustomKeyStores"))
    }

    /// UpdateCustomKeyStore.
    pub async fn update_custom_key_store(
        &self,
        caller: &Caller,
        req: UpdateCustomKeyStoreRequest,
    ) -> KmsResult<()> {
        let _ = (caller, req);
        Err(not_yet("UpdateCustomKeyStore"))
    }

    /// ConnectCustomKeyStore: answers at once with the store CONNECTING;
    /// the connection is made in the background (CONNECTED or FAILED).
    pub async fn connect_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let _ = (caller, req);
        Err(not_yet("ConnectCustomKeyStore"))
    }

    /// DisconnectCustomKeyStore.
    pub async fn disconnect_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let _ = (caller, req);
        Err(not_yet("DisconnectCustomKeyStore"))
    }

    /// DeleteCustomKeyStore.
    pub async fn delete_custom_key_store(
        &self,
        caller: &Caller,
        req: CustomKeyStoreIdRequest,
    ) -> KmsResult<()> {
        let _ = (caller, req);
        Err(not_yet("DeleteCustomKeyStore"))
    }
}
