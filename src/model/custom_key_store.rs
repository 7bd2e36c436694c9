//! Custom key stores (AWS_CLOUDHSM): the stored record of one store, its
//! id format, and AWS's ConnectionState / ConnectionErrorCode values.
//!
//! Pure data: how a store connects is `backend::hsm`'s business, the state
//! machine over these values is `kms::custom_key_stores`'s. The record
//! never holds the `kmsuser` password in the clear: only sealed (by the
//! core, under a key derived from the root key, bound to the store's id).

use serde::{Deserialize, Serialize};

use super::key::aws_enum;
use super::material::SealedBlob;

aws_enum!(
    /// AWS `ConnectionStateType`.
    ConnectionState {
        /// Connected: keys in the store are usable.
        Connected = "CONNECTED",
        /// ConnectCustomKeyStore is in progress.
        Connecting = "CONNECTING",
        /// The last connection attempt failed (see the error code).
        Failed = "FAILED",
        /// Never connected, or disconnected on request.
        Disconnected = "DISCONNECTED",
        /// DisconnectCustomKeyStore is in progress.
        Disconnecting = "DISCONNECTING",
    }
);

aws_enum!(
    /// AWS `ConnectionErrorCodeType`, the values that apply to a CloudHSM
    /// key store.
    ConnectionErrorCode {
        /// `kmsuser`'s password was refused.
        InvalidCredentials = "INVALID_CREDENTIALS",
        /// The cluster is unknown, or its HSMs report another cluster id.
        ClusterNotFound = "CLUSTER_NOT_FOUND",
        /// No HSM could be reached (or none presented a certificate
        /// chaining to the trust anchor).
        NetworkErrors = "NETWORK_ERRORS",
        /// Something else failed.
        InternalError = "INTERNAL_ERROR",
        /// Fewer than two active HSMs.
        InsufficientCloudHsmHsms = "INSUFFICIENT_CLOUDHSM_HSMS",
        /// `kmsuser` is locked after too many failed logins.
        UserLockedOut = "USER_LOCKED_OUT",
        /// The cluster has no `kmsuser`.
        UserNotFound = "USER_NOT_FOUND",
        /// `kmsuser` is logged in elsewhere.
        UserLoggedIn = "USER_LOGGED_IN",
    }
);

aws_enum!(
    /// AWS `CustomKeyStoreType` (kmsd offers AWS_CLOUDHSM only).
    CustomKeyStoreType {
        /// Backed by an HSM cluster.
        AwsCloudHsm = "AWS_CLOUDHSM",
        /// Backed by an external key manager (not offered).
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
);

/// The label of the root-derived key (`LocalBackend::derive_service_key`)
/// that seals `kmsuser` passwords, with the store id as additional data.
pub const PASSWORD_KEY_LABEL: &str = "kmsd/custom-key-store-password/v1";

/// The prefix of every custom key store id.
pub const STORE_ID_PREFIX: &str = "cks-";

/// How many hex digits follow the prefix (AWS: `cks-` + 17 hex digits).
pub const STORE_ID_HEX_DIGITS: usize = 17;

/// Whether `s` has the form of a custom key store id: `cks-` and 17
/// lowercase hex digits.
pub fn is_store_id(s: &str) -> bool {
    s.strip_prefix(STORE_ID_PREFIX).is_some_and(|hex| {
        hex.len() == STORE_ID_HEX_DIGITS
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// What kmsd stores about one custom key store (the `custom_key_stores`
/// family, keyed by id). Its live connection state is kept in memory only:
/// after a restart a store is DISCONNECTED, or CONNECTING again if it was
/// meant to be connected (`wants_connected`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomKeyStoreRecord {
    /// `cks-` + 17 hex digits.
    pub id: String,
    /// The owning account (that of the principal that created it).
    pub account: String,
    /// CustomKeyStoreName, unique in the account.
    pub name: String,
    /// CloudHsmClusterId, unique across stores.
    pub cluster_id: String,
    /// TrustAnchorCertificate (PEM).
    pub trust_anchor_pem: String,
    /// The `kmsuser` password, AES-256-GCM sealed under a key derived from
    /// the root key, with the store id as additional data.
    pub sealed_password: SealedBlob,
    /// CreationDate, Unix ms.
    pub created_ms: i64,
    /// Whether the store should be connected: set by ConnectCustomKeyStore,
    /// cleared by DisconnectCustomKeyStore; a restarted kmsd reconnects the
    /// stores that have it.
    pub wants_connected: bool,
    /// Why the last connection attempt failed, if it did (cleared when one
    /// succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_error_code: Option<ConnectionErrorCode>,
    /// How many KMS keys (in any state, PendingDeletion included) are in
    /// the store; changed in the batch that creates or really deletes one.
    #[serde(default)]
    pub key_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ids_are_cks_and_17_lowercase_hex_digits() {
        assert!(is_store_id("cks-0123456789abcdef0"));
        for bad in [
            "cks-0123456789abcdef",   // 16 digits
            "cks-0123456789abcdef01", // 18 digits
            "cks-0123456789ABCDEF0",  // uppercase
            "CKS-0123456789abcdef0",
            "cks-0123456789abcdefg",
            "cks0123456789abcdef01",
            "",
        ] {
            assert!(!is_store_id(bad), "{bad}");
        }
    }

    #[test]
    fn aws_spellings() {
        assert_eq!(ConnectionState::Disconnecting.as_aws_str(), "DISCONNECTING");
        assert_eq!(
            ConnectionErrorCode::from_aws_str("INSUFFICIENT_CLOUDHSM_HSMS"),
            Some(ConnectionErrorCode::InsufficientCloudHsmHsms)
        );
        for s in ConnectionState::ALL {
            assert_eq!(ConnectionState::from_aws_str(s.as_aws_str()), Some(*s));
        }
    }
}
