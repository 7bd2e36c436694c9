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
//!
//! Errors the core sees: no live node, or a disconnected store, is
//! `BackendError::Unavailable(store id)`; fewer than two active HSMs at
//! GenerateKey is `Unavailable("<store id>: … (insufficient HSMs)")`; a
//! refused session after a fresh login (password changed, user locked) is
//! `Unavailable("<store id>: … refused kmsuser's session")`; a failed
//! Decrypt is `Crypto(Open)` (opaque); a key no node holds is
//! `CorruptRecord`.
//!
//! Files: `tls` (the trust anchor, dialling a node, the connector tonic
//! uses), `pool` (the per-node channels and sessions, failover, re-login,
//! re-dial), this file (the store and its handles).

mod batch;
mod pool;
mod tls;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use kms_proto::hsm::v1::{
    batch_op, BatchOp, BatchResult, DecryptRequest, DestroyKeyRequest, EncryptRequest,
    GenerateKeyRequest,
};
use tonic::{Code, Status};

use self::pool::{CallError, Pool, CALL_TIMEOUT, CLUSTER_CALL_TIMEOUT};
use super::{BackendError, BackendFuture, MaterialBackend, MaterialHandle, RemoteAead};
use crate::crypto::{CryptoError, SALT_LEN};
use crate::model::{KeyId, KeySpec, MaterialLocation, MaterialOrigin, MaterialVersion};
use crate::secret::{Password, Plaintext};

/// The `kmsuser` crypto user kmsd logs in as (AWS's name).
pub const KMS_USER: &str = "kmsuser";

/// The backend's name (messages, `Unsupported`).
const BACKEND_NAME: &str = "hsm";

/// Where each known cluster's nodes listen, by cluster id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HsmClusters(BTreeMap<String, Vec<String>>);

impl HsmClusters {
    /// Parses one `--hsm-cluster` value, `CLUSTER_ID=ADDR[,ADDR…]` (each
    /// ADDR `host:port`), and adds it. Refuses an empty id, an empty or
    /// malformed address, a cluster id given twice, and an address given
    /// twice (in this value or for another cluster: a node belongs to one
    /// cluster).
    pub fn add_flag(&mut self, value: &str) -> Result<(), String> {
        let (id, addrs) = value.split_once('=').ok_or_else(|| {
            format!("--hsm-cluster {value:?}: expected CLUSTER_ID=HOST:PORT[,HOST:PORT…]")
        })?;
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!(
                "--hsm-cluster {value:?}: the cluster id must be a non-empty word of letters, digits, '-', '_' and '.'"
            ));
        }
        if self.0.contains_key(id) {
            return Err(format!("--hsm-cluster: cluster {id} is given twice"));
        }
        let mut nodes: Vec<String> = Vec::new();
        for addr in addrs.split(',') {
            if !is_host_port(addr) {
                return Err(format!(
                    "--hsm-cluster {value:?}: {addr:?} is not HOST:PORT (an IP address or DNS name, and a port 1-65535)"
                ));
            }
            if nodes.iter().any(|a| a == addr) || self.0.values().flatten().any(|a| a == addr) {
                return Err(format!(
                    "--hsm-cluster {value:?}: the address {addr} is given twice"
                ));
            }
            nodes.push(addr.to_owned());
        }
        self.0.insert(id.to_owned(), nodes);
        Ok(())
    }

    /// The node addresses of `cluster_id`, if kmsd knows the cluster.
    pub fn nodes(&self, cluster_id: &str) -> Option<&[String]> {
        self.0.get(cluster_id).map(Vec::as_slice)
    }
}

/// Whether `addr` is `host:port`: an IPv4 address, a bracketed IPv6
/// address or a DNS name, and a decimal port 1-65535.
fn is_host_port(addr: &str) -> bool {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0);
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        host.parse::<std::net::Ipv4Addr>().is_ok()
    } else {
        // A DNS name: labels of letters, digits and inner hyphens.
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    port_ok && host_ok
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
    inner: Arc<Inner>,
}

/// What a store's handles share with it.
struct Inner {
    custom_key_store_id: String,
    /// The runtime `generate` blocks on and the re-dial tasks run on.
    runtime: tokio::runtime::Handle,
    /// The connection; `None` while disconnected. A std lock: held only to
    /// clone the `Arc`, never across an await.
    pool: RwLock<Option<Arc<Pool>>>,
    /// Serialises connect and disconnect.
    changing: tokio::sync::Mutex<()>,
}

impl Inner {
    fn pool(&self) -> Result<Arc<Pool>, BackendError> {
        self.pool
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| self.unavailable())
    }

    fn unavailable(&self) -> BackendError {
        BackendError::Unavailable(self.custom_key_store_id.clone())
    }

    /// A node's answer that is not the operation's own failure (the
    /// caller maps those first).
    fn answer_error(&self, operation: &'static str, status: &tonic::Status) -> BackendError {
        match status.code() {
            Code::Unavailable => BackendError::Unavailable(format!(
                "{}: fewer than two HSMs of its cluster are active (insufficient HSMs)",
                self.custom_key_store_id
            )),
            // The session was refused again after a fresh login, or
            // kmsuser got locked: the store cannot work until it is
            // reconnected.
            Code::Unauthenticated | Code::PermissionDenied => BackendError::Unavailable(format!(
                "{}: the HSM cluster refused kmsuser's session",
                self.custom_key_store_id
            )),
            code => {
                tracing::warn!(store = %self.custom_key_store_id, operation, ?code, "unexpected answer from an HSM node");
                BackendError::Crypto(CryptoError::Operation)
            }
        }
    }
}

impl HsmKeyStore {
    /// A store's link, not connected. Must be created inside a tokio
    /// runtime (it keeps the runtime's handle for its blocking entry
    /// points and its reconnect task).
    pub fn new(custom_key_store_id: &str) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(Inner {
                custom_key_store_id: custom_key_store_id.to_owned(),
                runtime: tokio::runtime::Handle::current(),
                pool: RwLock::new(None),
                changing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The custom key store this links.
    pub fn custom_key_store_id(&self) -> &str {
        &self.inner.custom_key_store_id
    }

    /// Checks, before a store is created, that `trust_anchor_pem` is a CA
    /// certificate and that the nodes at `nodes` present server
    /// certificates chaining to it.
    ///
    /// `Malformed` before any network traffic; `Incorrect` as soon as one
    /// node that answers presents a certificate the anchor does not vouch
    /// for (even if others do: a cluster's HSMs share one CA); `Ok` when at
    /// least one node answered and all that answered chain to it;
    /// `Unreachable` when none answered.
    pub async fn check_trust_anchor(
        nodes: &[String],
        trust_anchor_pem: &str,
    ) -> Result<(), TrustAnchorError> {
        let config = tls::client_config(trust_anchor_pem)?;
        let mut dials = tokio::task::JoinSet::new();
        for addr in nodes {
            let (config, addr) = (Arc::clone(&config), addr.clone());
            dials.spawn(async move { tls::dial(&config, &addr).await.map(|_| ()) });
        }
        let mut answered = false;
        while let Some(joined) = dials.join_next().await {
            match joined {
                Ok(Ok(())) => answered = true,
                Ok(Err(tls::DialError::Certificate(_))) => return Err(TrustAnchorError::Incorrect),
                Ok(Err(tls::DialError::Network(_))) | Err(_) => {}
            }
        }
        if answered {
            Ok(())
        } else {
            Err(TrustAnchorError::Unreachable)
        }
    }

    /// Connects (see the module doc). On success the store serves until
    /// `disconnect`; on failure nothing stays connected. Connecting a
    /// connected store is a no-op success.
    pub async fn connect(self: &Arc<Self>, config: HsmStoreConfig) -> Result<(), ConnectFailure> {
        let _one_at_a_time = self.inner.changing.lock().await;
        if self.is_connected() {
            return Ok(());
        }
        let pool =
            Pool::connect(&self.inner.custom_key_store_id, config, &self.inner.runtime).await?;
        tracing::info!(store = %self.inner.custom_key_store_id, live_nodes = pool.live_nodes(), "custom key store connected to its HSM cluster");
        *self.inner.pool.write().unwrap_or_else(|p| p.into_inner()) = Some(pool);
        Ok(())
    }

    /// Logs out of every node and drops the connections; calls through
    /// this store's handles then fail with `Unavailable`. Idempotent.
    pub async fn disconnect(&self) {
        let _one_at_a_time = self.inner.changing.lock().await;
        let pool = self
            .inner
            .pool
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(pool) = pool {
            pool.close().await;
            tracing::info!(store = %self.inner.custom_key_store_id, "custom key store disconnected from its HSM cluster");
        }
    }

    /// Whether the store is connected.
    pub fn is_connected(&self) -> bool {
        self.inner
            .pool
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// How many of the cluster's nodes calls currently go to (0 while
    /// disconnected): for logs, health and tests.
    pub fn live_nodes(&self) -> usize {
        self.inner
            .pool
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |p| p.live_nodes())
    }

    /// Generates a 256-bit AES key in the cluster, labelled `label`;
    /// returns its handle once the cluster holds it durably.
    ///
    /// Fewer than two active HSMs is `Unavailable` with a message naming
    /// the store and saying "insufficient HSMs".
    pub async fn generate_key(&self, label: &str) -> Result<String, BackendError> {
        let inner = &self.inner;
        let pool = inner.pool()?;
        let response = pool
            .call(
                CLUSTER_CALL_TIMEOUT,
                |session| GenerateKeyRequest {
                    session,
                    label: label.to_owned(),
                },
                |mut client, request| async move { client.generate_key(request).await },
            )
            .await
            .map_err(|e| match e {
                CallError::Unavailable => inner.unavailable(),
                CallError::Status(s) => inner.answer_error("generate_key", &s),
            })?;
        match response.key {
            Some(key) if !key.handle.is_empty() => Ok(key.handle),
            _ => {
                tracing::warn!(store = %inner.custom_key_store_id, "an HSM node answered GenerateKey without a key handle");
                Err(BackendError::Crypto(CryptoError::Operation))
            }
        }
    }

    /// Destroys the key `handle` in the cluster (a KMS key's real
    /// deletion). A key already gone is success.
    pub async fn destroy_key(&self, handle: &str) -> Result<(), BackendError> {
        let inner = &self.inner;
        let pool = inner.pool()?;
        match pool
            .call(
                CLUSTER_CALL_TIMEOUT,
                |session| DestroyKeyRequest {
                    session,
                    handle: handle.to_owned(),
                },
                |mut client, request| async move { client.destroy_key(request).await },
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Status(s)) if s.code() == Code::NotFound => Ok(()),
            Err(CallError::Status(s)) => Err(inner.answer_error("destroy_key", &s)),
            Err(CallError::Unavailable) => Err(inner.unavailable()),
        }
    }
}

impl MaterialBackend for HsmKeyStore {
    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    /// Makes the key in the cluster. Called on the blocking pool (it
    /// blocks on the runtime kept at `new`).
    fn generate(
        &self,
        key_id: &KeyId,
        version: u32,
        spec: KeySpec,
        now_ms: i64,
    ) -> Result<MaterialVersion, BackendError> {
        if spec != KeySpec::SymmetricDefault {
            return Err(BackendError::Unsupported {
                operation: "generate",
                spec,
                backend: BACKEND_NAME,
            });
        }
        let label = key_id.to_string();
        let handle = self.inner.runtime.block_on(self.generate_key(&label))?;
        Ok(MaterialVersion::new_current(
            key_id,
            version,
            spec,
            MaterialOrigin::Hsm,
            now_ms,
            MaterialLocation::Hsm {
                custom_key_store_id: self.inner.custom_key_store_id.clone(),
                handle,
            },
        ))
    }

    /// A handle for the record (no network: it works once the store is
    /// connected, whenever that is).
    fn load(
        &self,
        key_id: &KeyId,
        record: &MaterialVersion,
    ) -> Result<Arc<dyn MaterialHandle>, BackendError> {
        let corrupt = || BackendError::CorruptRecord {
            key_id: *key_id,
            version: record.version,
        };
        match &record.location {
            MaterialLocation::Hsm {
                custom_key_store_id,
                handle,
            } if *custom_key_store_id == self.inner.custom_key_store_id
                && record.spec == KeySpec::SymmetricDefault
                && !handle.is_empty() =>
            {
                Ok(Arc::new(HsmHandle {
                    store: Arc::clone(&self.inner),
                    handle: handle.clone(),
                    key_id: *key_id,
                    version: record.version,
                }))
            }
            _ => Err(corrupt()),
        }
    }
}

/// A loaded HSM key: the store (not a connection) and the key's handle.
struct HsmHandle {
    store: Arc<Inner>,
    handle: String,
    key_id: KeyId,
    version: u32,
}

impl HsmHandle {
    /// A node's answer to Encrypt / Decrypt, as a backend error.
    fn error(&self, operation: &'static str, e: CallError) -> BackendError {
        match e {
            CallError::Unavailable => self.store.unavailable(),
            // Every node was asked: none holds the key.
            CallError::Status(s) if s.code() == Code::NotFound => BackendError::CorruptRecord {
                key_id: self.key_id,
                version: self.version,
            },
            // Decrypt: authentication failed (opaque).
            CallError::Status(s) if s.code() == Code::InvalidArgument => {
                BackendError::Crypto(if operation == "decrypt" {
                    CryptoError::Open
                } else {
                    CryptoError::Seal
                })
            }
            CallError::Status(s) => self.store.answer_error(operation, &s),
        }
    }
}

impl HsmHandle {
    /// The result of one batched operation: its output, or (a key this
    /// node does not know: it may still be catching up) `None`, so the
    /// caller asks every node with a call of its own.
    fn batched_output(
        &self,
        operation: &'static str,
        result: Result<BatchResult, CallError>,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let r = result.map_err(|e| self.error(operation, e))?;
        match Code::from(r.code) {
            Code::Ok => Ok(Some(r.output)),
            Code::NotFound => Ok(None),
            code => Err(self.error(
                operation,
                CallError::Status(Status::new(code, "batched operation failed")),
            )),
        }
    }

    /// Encrypt as a call of its own (a key one node may not know yet).
    async fn seal_alone(
        &self,
        pool: &Arc<Pool>,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, BackendError> {
        pool.call(
            CALL_TIMEOUT,
            |session| EncryptRequest {
                session,
                handle: self.handle.clone(),
                plaintext: plaintext.to_vec(),
                aad: aad.to_vec(),
            },
            |mut client, request| async move { client.encrypt(request).await },
        )
        .await
        .map(|r| r.ciphertext)
        .map_err(|e| self.error("encrypt", e))
    }

    /// Decrypt as a call of its own.
    async fn open_alone(
        &self,
        pool: &Arc<Pool>,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Plaintext, BackendError> {
        pool.call(
            CALL_TIMEOUT,
            |session| DecryptRequest {
                session,
                handle: self.handle.clone(),
                ciphertext: sealed.to_vec(),
                aad: aad.to_vec(),
            },
            |mut client, request| async move { client.decrypt(request).await },
        )
        .await
        .map(|r| Plaintext::new(r.plaintext))
        .map_err(|e| self.error("decrypt", e))
    }
}

impl RemoteAead for HsmHandle {
    fn seal<'a>(&'a self, aad: &'a [u8], plaintext: &'a [u8]) -> BackendFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let pool = self.store.pool()?;
            let op = BatchOp {
                op: Some(batch_op::Op::Encrypt(EncryptRequest {
                    session: Vec::new(),
                    handle: self.handle.clone(),
                    plaintext: plaintext.to_vec(),
                    aad: aad.to_vec(),
                })),
            };
            match self.batched_output("encrypt", pool.batched(op).await)? {
                Some(ciphertext) => Ok(ciphertext),
                None => self.seal_alone(&pool, aad, plaintext).await,
            }
        })
    }

    fn open<'a>(&'a self, aad: &'a [u8], sealed: &'a [u8]) -> BackendFuture<'a, Plaintext> {
        Box::pin(async move {
            let pool = self.store.pool()?;
            let op = BatchOp {
                op: Some(batch_op::Op::Decrypt(DecryptRequest {
                    session: Vec::new(),
                    handle: self.handle.clone(),
                    ciphertext: sealed.to_vec(),
                    aad: aad.to_vec(),
                })),
            };
            match self.batched_output("decrypt", pool.batched(op).await)? {
                Some(plaintext) => Ok(Plaintext::new(plaintext)),
                None => self.open_alone(&pool, aad, sealed).await,
            }
        })
    }
}

impl MaterialHandle for HsmHandle {
    fn spec(&self) -> KeySpec {
        KeySpec::SymmetricDefault
    }

    // The core seals and opens HSM material through `remote()` only.
    fn seal_into(
        &self,
        _: &[u8; SALT_LEN],
        _: &[u8],
        _: &[u8],
        _: &mut Vec<u8>,
    ) -> Result<(), BackendError> {
        Err(self.unsupported("seal"))
    }

    fn open(&self, _: &[u8; SALT_LEN], _: &[u8], _: &[u8]) -> Result<Plaintext, BackendError> {
        Err(self.unsupported("open"))
    }

    fn remote(&self) -> Option<&dyn RemoteAead> {
        Some(self)
    }

    fn backend_name(&self) -> &'static str {
        BACKEND_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_flags_parse() {
        let mut c = HsmClusters::default();
        c.add_flag("cluster-1234abcd=127.0.0.1:7001,127.0.0.1:7002")
            .expect("two nodes");
        c.add_flag("c2=hsm-a.example.com:7001,[::1]:7002,localhost:1")
            .expect("names and IPv6");
        assert_eq!(
            c.nodes("cluster-1234abcd"),
            Some(&["127.0.0.1:7001".to_owned(), "127.0.0.1:7002".to_owned()][..])
        );
        assert_eq!(c.nodes("c2").map(<[String]>::len), Some(3));
        assert_eq!(c.nodes("c3"), None);
    }

    #[test]
    fn cluster_flag_near_misses_are_refused() {
        for bad in [
            "",
            "=",
            "c1",
            "c1=",
            "=127.0.0.1:7001",
            "c1=127.0.0.1:7001,",
            "c1=,127.0.0.1:7001",
            "c1=127.0.0.1:7001,,127.0.0.1:7002",
            "c1=127.0.0.1",
            "c1=127.0.0.1:",
            "c1=:7001",
            "c1=127.0.0.1:0",
            "c1=127.0.0.1:65536",
            "c1=127.0.0.1:+80",
            "c1=127.0.0.1:7001 ",
            "c1= 127.0.0.1:7001",
            "c1=127.0.0.256:7001",
            "c1=::1:7001",
            "c1=[::1:7001",
            "c1=host_name:7001",
            "c1=-host:7001",
            "c1=host..com:7001",
            "c1=http://127.0.0.1:7001",
            "c1=127.0.0.1:7001=x",
            "c 1=127.0.0.1:7001",
            "c1=127.0.0.1:7001,127.0.0.1:7001",
        ] {
            let mut c = HsmClusters::default();
            assert!(c.add_flag(bad).is_err(), "{bad:?} was accepted");
            assert_eq!(c, HsmClusters::default(), "{bad:?} left a trace");
        }
    }

    #[test]
    fn a_cluster_or_node_given_twice_is_refused() {
        let mut c = HsmClusters::default();
        c.add_flag("c1=127.0.0.1:7001,127.0.0.1:7002")
            .expect("first");
        let err = c.add_flag("c1=127.0.0.1:7003").expect_err("same id");
        assert!(err.contains("twice"), "{err}");
        let err = c.add_flag("c2=127.0.0.1:7002").expect_err("same node");
        assert!(err.contains("127.0.0.1:7002"), "{err}");
        assert_eq!(c.nodes("c2"), None);
        c.add_flag("c2=127.0.0.1:7003").expect("another cluster");
    }

    fn hsm_record(store: &str, handle: &str) -> (KeyId, MaterialVersion) {
        let key_id = KeyId::new_random();
        let record = MaterialVersion::new_current(
            &key_id,
            1,
            KeySpec::SymmetricDefault,
            MaterialOrigin::Hsm,
            0,
            MaterialLocation::Hsm {
                custom_key_store_id: store.into(),
                handle: handle.into(),
            },
        );
        (key_id, record)
    }

    #[tokio::test]
    async fn load_takes_only_this_stores_records() {
        let store = HsmKeyStore::new("cks-1111111111111111a");
        let (key_id, record) = hsm_record("cks-1111111111111111a", "h-1");
        let handle = store.load(&key_id, &record).expect("own record");
        assert_eq!(handle.spec(), KeySpec::SymmetricDefault);
        assert!(handle.remote().is_some());
        assert!(matches!(
            handle.open_v1(b"", b""),
            Err(BackendError::Unsupported { .. })
        ));
        let (other_id, other) = hsm_record("cks-2222222222222222b", "h-1");
        assert!(matches!(
            store.load(&other_id, &other),
            Err(BackendError::CorruptRecord { version: 1, .. })
        ));
        let (id, mut local) = hsm_record("cks-1111111111111111a", "h-1");
        local.location = MaterialLocation::Absent;
        assert!(matches!(
            store.load(&id, &local),
            Err(BackendError::CorruptRecord { .. })
        ));
    }

    #[tokio::test]
    async fn a_disconnected_store_is_unavailable() {
        let store = HsmKeyStore::new("cks-1111111111111111a");
        assert!(!store.is_connected());
        let (key_id, record) = hsm_record("cks-1111111111111111a", "h-1");
        let handle = store.load(&key_id, &record).expect("own record");
        let remote = handle.remote().expect("remote");
        match remote.seal(b"aad", b"pt").await {
            Err(BackendError::Unavailable(s)) => assert_eq!(s, "cks-1111111111111111a"),
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(matches!(
            remote.open(b"aad", &[0; 40]).await,
            Err(BackendError::Unavailable(_))
        ));
        assert!(matches!(
            store.generate_key("k").await,
            Err(BackendError::Unavailable(_))
        ));
        store.disconnect().await;
        assert!(!store.is_connected());
    }

    #[tokio::test]
    async fn connect_without_nodes_is_cluster_not_found() {
        let store = HsmKeyStore::new("cks-1111111111111111a");
        let config = HsmStoreConfig {
            cluster_id: "cluster-1".into(),
            nodes: vec![],
            trust_anchor_pem: String::new(),
            password: Password::new("pw".into()),
        };
        assert_eq!(
            store.connect(config).await,
            Err(ConnectFailure::ClusterNotFound)
        );
    }

    #[tokio::test]
    async fn a_malformed_anchor_is_refused_before_dialling() {
        // Nothing listens at port 9 on loopback in the test environment;
        // the anchor is refused before any dial anyway.
        let nodes = vec!["127.0.0.1:9".to_owned()];
        assert_eq!(
            HsmKeyStore::check_trust_anchor(&nodes, "junk").await,
            Err(TrustAnchorError::Malformed)
        );
    }
}
