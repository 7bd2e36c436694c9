//! The HSM key-material backend: keys of custom key stores (origin
//! AWS_CLOUDHSM), whose material is generated in, and never leaves, an
//! hsm-sim cluster (`hsm-sim/`, protocol `proto/hsm/v1`).
//!
//! Nothing outside this module knows hsm-sim's protocol. The core sees:
//!
//! - [`HsmClusters`]: where each cluster's nodes are (`kmsd serve
//!   --hsm-cluster CLUSTER_ID=ADDR[,ADDR…]`), the stand-in for AWS finding
//!   a CloudHSM cluster by id.
//! - [`HsmKeyStore`]: one custom key store's link to its cluster, alive as
//!   long as the store exists in kmsd. `connect` / `disconnect` change
//!   whether it works; it is a [`MaterialBackend`] (`generate` makes a key
//!   in the HSM, `load` gives a handle whose AEAD runs in the HSM through
//!   [`RemoteAead`]). Handles keep working across a disconnect and
//!   reconnect of the same store (they refer to the store, not to one
//!   connection), and fail with `BackendError::Unavailable` meanwhile.
//! - [`ConnectFailure`]: why a connection failed, as AWS's
//!   ConnectionErrorCode.
//!
//! Connection (`connect`): TLS to every node of the cluster, accepting a
//! node only if its certificate chains to the store's trust anchor (and
//! names the address dialled); `ClusterStatus` must report the store's
//! cluster id and at least two active HSMs; `kmsuser` logs in on every
//! reachable node. Afterwards calls are spread over the live nodes; a call
//! that fails for a transport reason (node died mid-call, connection
//! refused, timeout) or an expired session (node restarted: log in again)
//! is retried on another node, so the caller sees no error while one node
//! is alive. A background task re-dials dead nodes until `disconnect`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{BackendError, MaterialBackend, MaterialHandle};
use crate::model::{KeyId, KeySpec, MaterialVersion};
use crate::secret::Password;

/// The `kmsuser` crypto user kmsd logs in as (AWS's name).
pub const KMS_USER: &str = "kmsuser";

/// Where each known cluster's nodes listen, by cluster id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HsmClusters(BTreeMap<String, Vec<String>>);

impl HsmClusters {
    /// Parses one `--hsm-cluster` value, `CLUSTER_ID=ADDR[,ADDR…]` (each
    /// ADDR `host:port`), and adds it. Refuses an empty id, an empty or
    /// malformed address, and a cluster id given twice.
    pub fn add_flag(&mut self, value: &str) -> Result<(), String> {
        let _ = value;
        Err("--hsm-cluster is not implemented yet".into())
    }

    /// The node addresses of `cluster_id`, if kmsd knows the cluster.
    pub fn nodes(&self, cluster_id: &str) -> Option<&[String]> {
        self.0.get(cluster_id).map(Vec::as_slice)
    }
}

/// Why a connection to a cluster failed: AWS's ConnectionErrorCode values
/// that apply to a CloudHSM key store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// `kmsuser`'s password was refused.
    InvalidCredentials,
    /// kmsd knows no such cluster, or the nodes report another cluster id.
    ClusterNotFound,
    /// Fewer than two of the cluster's HSMs are active.
    InsufficientHsms,
    /// No node could be reached (or none presented a certificate chaining
    /// to the trust anchor).
    NetworkErrors,
    /// `kmsuser` is locked after too many failed logins.
    UserLockedOut,
    /// Anything else.
    InternalError,
}

impl ConnectFailure {
    /// AWS's spelling, e.g. `INVALID_CREDENTIALS`.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            ConnectFailure::InvalidCredentials => "INVALID_CREDENTIALS",
            ConnectFailure::ClusterNotFound => "CLUSTER_NOT_FOUND",
            ConnectFailure::InsufficientHsms => "INSUFFICIENT_CLOUDHSM_HSMS",
            ConnectFailure::NetworkErrors => "NETWORK_ERRORS",
            ConnectFailure::UserLockedOut => "USER_LOCKED_OUT",
            ConnectFailure::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// Why a trust anchor was refused at CreateCustomKeyStore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustAnchorError {
    /// Not one PEM X.509 CA certificate.
    #[error("the trust anchor certificate is not a PEM X.509 CA certificate")]
    Malformed,
    /// The cluster's nodes present certificates that do not chain to it
    /// (AWS: IncorrectTrustAnchorException).
    #[error("the cluster's HSM certificates are not issued by the trust anchor certificate")]
    Incorrect,
    /// No node of the cluster answered (AWS: CloudHsmClusterNotActiveException).
    #[error("no HSM of the cluster answered")]
    Unreachable,
}

/// What a store needs to reach its cluster.
pub struct HsmStoreConfig {
    /// The cluster id (`cluster-…`).
    pub cluster_id: String,
    /// Its nodes' addresses (from [`HsmClusters`]).
    pub nodes: Vec<String>,
    /// PEM of the trust anchor certificate given at CreateCustomKeyStore.
    pub trust_anchor_pem: String,
    /// `kmsuser`'s password.
    pub password: Password,
}

/// One custom key store's link to its HSM cluster (see the module doc).
pub struct HsmKeyStore {
    custom_key_store_id: String,
}

impl HsmKeyStore {
    /// A store's link, not connected. Must be created inside a tokio
    /// runtime (it keeps the runtime's handle for its blocking entry
    /// points and its reconnect task).
    pub fn new(custom_key_store_id: &str) -> Arc<Self> {
        Arc::new(Self {
            custom_key_store_id: custom_key_store_id.to_owned(),
        })
    }

    /// The custom key store this links.
    pub fn custom_key_store_id(&self) -> &str {
        &self.custom_key_store_id
    }

    /// Checks, before a store is created, that `trust_anchor_pem` is a CA
    /// certificate and that the nodes at `nodes` present server
    /// certificates chaining to it.
    pub async fn check_trust_anchor(
        nodes: &[String],
        trust_anchor_pem: &str,
    ) -> Result<(), TrustAnchorError> {
        let _ = (nodes, trust_anchor_pem);
        Err(TrustAnchorError::Unreachable)
    }

    /// Connects (see the module doc). On success the store serves until
    /// `disconnect`; on failure nothing stays connected.
    pub async fn connect(self: &Arc<Self>, config: HsmStoreConfig) -> Result<(), ConnectFailure> {
        let _ = config;
        Err(ConnectFailure::InternalError)
    }

    /// Logs out of every node and drops the connections; calls through
    /// this store's handles then fail with `Unavailable`. Idempotent.
    pub async fn disconnect(&self) {}

    /// Whether the store is connected.
    pub fn is_connected(&self) -> bool {
        false
    }

    /// Generates a 256-bit AES key in the cluster, labelled `label`;
    /// returns its handle once the cluster holds it durably.
    pub async fn generate_key(&self, label: &str) -> Result<String, BackendError> {
        let _ = label;
        Err(BackendError::Unavailable(self.custom_key_store_id.clone()))
    }

    /// Destroys the key `handle` in the cluster (a KMS key's real
    /// deletion). A key already gone is success.
    pub async fn destroy_key(&self, handle: &str) -> Result<(), BackendError> {
        let _ = handle;
        Err(BackendError::Unavailable(self.custom_key_store_id.clone()))
    }
}

impl MaterialBackend for HsmKeyStore {
    fn name(&self) -> &'static str {
        "hsm"
    }

    /// Blocking: generates the key in the HSM (`generate_key`) through the
    /// runtime handle kept at `new`. Call it on the blocking pool only,
    /// never on an async worker thread. Only `SymmetricDefault`.
    fn generate(
        &self,
        key_id: &KeyId,
        version: u32,
        spec: KeySpec,
        now_ms: i64,
    ) -> Result<MaterialVersion, BackendError> {
        let _ = (key_id, version, now_ms);
        Err(BackendError::Unsupported {
            operation: "generate",
            spec,
            backend: "hsm",
        })
    }

    /// No network: a handle to the record's HSM key through this store.
    fn load(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<Arc<dyn MaterialHandle>, BackendError> {
        Err(BackendError::CorruptRecord {
            key_id: *key_id,
            version: record.version,
        })
    }
}
