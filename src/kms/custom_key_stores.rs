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
use crate::error::{KmsError, KmsResult};

/// One custom key store as DescribeCustomKeyStores shows it.
#[derive(Debug, Clone)]
pub struct CustomKeyStoreEntry {
    /// CustomKeyStoreId.
    pub custom_key_store_id: String,
    /// CustomKeyStoreName.
    pub custom_key_store_name: String,
    /// CloudHsmClusterId.
    pub cloud_hsm_cluster_id: String,
    /// TrustAnchorCertificate (PEM).
    pub trust_anchor_certificate: String,
    /// ConnectionState, as AWS spells it (`CONNECTED`, ...).
    pub connection_state: &'static str,
    /// ConnectionErrorCode, as AWS spells it, when there is one.
    pub connection_error_code: Option<&'static str>,
    /// CreationDate, Unix ms.
    pub creation_date_ms: i64,
    /// CustomKeyStoreType (`AWS_CLOUDHSM`).
    pub custom_key_store_type: &'static str,
}

fn not_yet(op: &str) -> KmsError {
    KmsError::UnsupportedOperation(format!("{op} is not implemented yet"))
}

impl Kms {
    /// CreateCustomKeyStore: the new store's id.
    pub async fn create_custom_key_store(
        &self,
        caller: &Caller,
        req: CreateCustomKeyStoreRequest,
    ) -> KmsResult<String> {
        let _ = (caller, req);
        Err(not_yet("CreateCustomKeyStore"))
    }

    /// DescribeCustomKeyStores: one page of stores and the next marker.
    pub async fn describe_custom_key_stores(
        &self,
        caller: &Caller,
        req: DescribeCustomKeyStoresRequest,
    ) -> KmsResult<(Vec<CustomKeyStoreEntry>, Option<String>)> {
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
