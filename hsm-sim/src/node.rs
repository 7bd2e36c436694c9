//! One node's state and operations: the keys it holds (in memory, material
//! expanded into AES-GCM ciphers; on disk, sealed under the master key),
//! the sessions of logged-in clients, the login lockout, replication of
//! changes to peers and catch-up from them.
//!
//! The gRPC layer ([`crate::service`]) authenticates callers and converts
//! messages; this module decides. The key-operation hot path (Encrypt,
//! Decrypt) takes two read locks and does no I/O.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kms_proto::hsm::v1::cluster_client::ClusterClient;
use kms_proto::hsm::v1::hsm_client::HsmClient;
use kms_proto::hsm::v1::replicate_request::Change;
use kms_proto::hsm::v1::{
    ClusterStatusRequest, ClusterStatusResponse, KeyInfo, NodeStatus, ReplicateRequest,
    SnapshotRequest, SnapshotResponse, WrappedKey,
};
use ring::digest::{digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::cluster::{verify_password, KMSUSER};
use crate::crypto::{key_aad, AeadKey};
use crate::secret::{Password, Secret32};
use crate::store::{valid_handle, KeyRecord, Store, UserState};

/// How long GenerateKey waits for a peer to acknowledge a new key.
pub const REPLICATE_TIMEOUT: Duration = Duration::from_secs(3);
/// A peer that answered within this long is reported `active`.
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(3);
/// Most sessions a node keeps; logging in beyond it ends the oldest (its
/// client gets UNAUTHENTICATED and logs in again), so clients that never
/// log out cannot grow a node's memory without bound.
pub const MAX_SESSIONS: usize = 4096;
/// How long ClusterStatus waits for peers it has not heard from lately.
pub const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest label accepted (kmsd uses key ids, far shorter).
pub const MAX_LABEL_LEN: usize = 256;

/// Why an operation failed. Messages carry no secret data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// Wrong username or password, or an unknown session token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The user is locked after too many failed logins.
    #[error("user locked after {failures} failed logins; run `hsm-sim unlock-user` on this node")]
    Locked {
        /// Failed logins counted.
        failures: u32,
    },
    /// No key with that handle (or it was destroyed).
    #[error("key not found")]
    NotFound,
    /// A malformed request.
    #[error("{0}")]
    InvalidArgument(&'static str),
    /// Decrypt failed to authenticate (opaque on purpose).
    #[error("decryption failed")]
    DecryptFailed,
    /// Not enough nodes reachable to make a new key durable on two.
    #[error("insufficient HSMs: {0}")]
    Insufficient(String),
    /// A Cluster call from something that is not a node of this cluster.
    #[error("{0}")]
    NotAPeer(&'static str),
    /// A local failure (disk, randomness).
    #[error("internal error: {0}")]
    Internal(String),
}

fn internal(e: impl std::fmt::Display) -> HsmError {
    HsmError::Internal(e.to_string())
}

/// A live key in memory.
struct LiveKey {
    info: KeyInfo,
    /// The material, expanded once.
    cipher: AeadKey,
    /// The material sealed under the cluster key, as Snapshot serves it.
    wrapped: Vec<u8>,
}

/// A peer node, as this node calls it.
pub struct Peer {
    address: String,
    hsm: HsmClient<Channel>,
    cluster: ClusterClient<Channel>,
    state: Mutex<PeerState>,
}

#[derive(Default)]
struct PeerState {
    /// Learnt from the peer's ClusterStatus.
    node_id: Option<String>,
    last_ok: Option<Instant>,
}

impl Peer {
    /// A peer at `address`, reached over `channel` (TLS to the cluster CA,
    /// with this node's certificate as client identity).
    pub fn new(address: String, channel: Channel) -> Self {
        Self {
            address,
            hsm: HsmClient::new(channel.clone()),
            cluster: ClusterClient::new(channel),
            state: Mutex::new(PeerState::default()),
        }
    }

    fn is_active(&self) -> bool {
        lock(&self.state)
            .last_ok
            .is_some_and(|t| t.elapsed() <= ACTIVE_WINDOW)
    }

    fn mark_ok(&self) {
        lock(&self.state).last_ok = Some(Instant::now());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a node is set up.
pub struct NodeSettings {
    /// The cluster id.
    pub cluster_id: String,
    /// This node's id.
    pub node_id: String,
    /// The address it serves on.
    pub address: String,
    /// The `kmsuser` password hash.
    pub password_hash: String,
    /// Failed logins before the user is locked.
    pub max_login_failures: u32,
}

/// One node.
pub struct Node {
    settings: NodeSettings,
    cluster_key: AeadKey,
    master: AeadKey,
    store: Arc<Store>,
    keys: RwLock<HashMap<String, Arc<LiveKey>>>,
    destroyed: RwLock<HashSet<String>>,
    /// SHA-256 of each live session token: a lookup by hash does not depend
    /// on the token's bytes, and a memory dump does not hold usable tokens.
    sessions: RwLock<Sessions>,
    /// Serialises logins, so concurrent wrong guesses are all counted.
    login: tokio::sync::Mutex<()>,
    /// Serialises changes to the key set (create, adopt, destroy), so a
    /// tombstone and an adoption of the same handle cannot interleave.
    changes: tokio::sync::Mutex<()>,
    peers: Vec<Peer>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Node {
    /// Loads the node's keys from `store` (unsealing each with `master`).
    pub fn new(
        settings: NodeSettings,
        cluster_key: &Secret32,
        master: &Secret32,
        store: Store,
        peers: Vec<Peer>,
    ) -> Result<Self, HsmError> {
        let loaded = store.load().map_err(internal)?;
        let master = AeadKey::new(master);
        let cluster_key = AeadKey::new(cluster_key);
        let mut keys = HashMap::new();
        for rec in loaded.keys {
            let aad = key_aad(&settings.cluster_id, &rec.handle);
            let sealed = hex::decode(&rec.sealed_material)
                .map_err(|_| HsmError::Internal(format!("key file {}: bad hex", rec.handle)))?;
            let material = master.open_key(&sealed, &aad).map_err(|_| {
                HsmError::Internal(format!(
                    "key file {} does not open under this node's master key",
                    rec.handle
                ))
            })?;
            let wrapped = cluster_key
                .seal(material.expose_secret(), &aad)
                .map_err(internal)?;
            keys.insert(
                rec.handle.clone(),
                Arc::new(LiveKey {
                    info: KeyInfo {
                        handle: rec.handle,
                        label: rec.label,
                        created_ms: rec.created_ms,
                    },
                    cipher: AeadKey::new(&material),
                    wrapped,
                }),
            );
        }
        Ok(Self {
            settings,
            cluster_key,
            master,
            store: Arc::new(store),
            keys: RwLock::new(keys),
            destroyed: RwLock::new(loaded.destroyed),
            sessions: RwLock::new(Sessions::default()),
            login: tokio::sync::Mutex::new(()),
            changes: tokio::sync::Mutex::new(()),
            peers,
        })
    }

    /// The cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.settings.cluster_id
    }

    // ---------------------------------------------------------- sessions

    /// Logs `kmsuser` in; a new session token.
    pub async fn login(&self, username: &str, password: Password) -> Result<Vec<u8>, HsmError> {
        if username != KMSUSER {
            return Err(HsmError::Unauthenticated(
                "login failed: unknown user or wrong password",
            ));
        }
        let _serial = self.login.lock().await;
        // Read from disk on every login, so `hsm-sim unlock-user` takes
        // effect on a running node.
        let state = self.store.user().map_err(internal)?;
        if state.locked {
            return Err(HsmError::Locked {
                failures: state.failures,
            });
        }
        let hash = self.settings.password_hash.clone();
        // argon2 takes tens of milliseconds of CPU: off the runtime.
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(internal)?;
        if ok {
            if state != UserState::default() {
                self.set_user(UserState::default()).await?;
            }
            let mut token = Zeroizing::new([0u8; 32]);
            SystemRandom::new().fill(&mut token[..]).map_err(internal)?;
            write(&self.sessions).insert(token_hash(&token[..]));
            return Ok(token.to_vec());
        }
        let failures = state.failures.saturating_add(1);
        let locked = failures >= self.settings.max_login_failures;
        self.set_user(UserState { failures, locked }).await?;
        if locked {
            tracing::warn!(failures, "kmsuser locked after failed logins");
        }
        Err(HsmError::Unauthenticated(
            "login failed: unknown user or wrong password",
        ))
    }

    async fn set_user(&self, s: UserState) -> Result<(), HsmError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.set_user(s))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// Ends a session (unknown tokens: UNAUTHENTICATED).
    pub fn logout(&self, token: &[u8]) -> Result<(), HsmError> {
        if write(&self.sessions).remove(&token_hash(token)) {
            Ok(())
        } else {
            Err(no_session())
        }
    }

    fn check_session(&self, token: &[u8]) -> Result<(), HsmError> {
        if read(&self.sessions).live.contains(&token_hash(token)) {
            Ok(())
        } else {
            Err(no_session())
        }
    }

    // ------------------------------------------------------ key operations

    fn key(&self, handle: &str) -> Result<Arc<LiveKey>, HsmError> {
        read(&self.keys)
            .get(handle)
            .cloned()
            .ok_or(HsmError::NotFound)
    }

    /// AES-256-GCM under the key `handle`: `nonce || ct || tag`.
    pub fn encrypt(
        &self,
        token: &[u8],
        handle: &str,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        self.check_session(token)?;
        self.key(handle)?
            .cipher
            .seal(plaintext, aad)
            .map_err(internal)
    }

    /// Opens what [`Node::encrypt`] returned.
    pub fn decrypt(
        &self,
        token: &[u8],
        handle: &str,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        self.check_session(token)?;
        self.key(handle)?
            .cipher
            .open(ciphertext, aad)
            .map_err(|_| HsmError::DecryptFailed)
    }

    /// Keys whose label is `label` (all when empty), oldest first.
    pub fn find_keys(&self, token: &[u8], label: &str) -> Result<Vec<KeyInfo>, HsmError> {
        self.check_session(token)?;
        let mut out: Vec<KeyInfo> = read(&self.keys)
            .values()
            .filter(|k| label.is_empty() || k.info.label == label)
            .map(|k| k.info.clone())
            .collect();
        out.sort_by(|a, b| (a.created_ms, &a.handle).cmp(&(b.created_ms, &b.handle)));
        Ok(out)
    }

    /// Generates a key, durable here and on at least one peer before it is
    /// acknowledged; otherwise tombstoned here and UNAVAILABLE.
    pub async fn generate_key(&self, token: &[u8], label: String) -> Result<KeyInfo, HsmError> {
        self.check_session(token)?;
        if label.len() > MAX_LABEL_LEN {
            return Err(HsmError::InvalidArgument("label longer than 256 bytes"));
        }
        let material = Secret32::random().map_err(internal)?;
        let mut h = [0u8; 16];
        SystemRandom::new().fill(&mut h).map_err(internal)?;
        let info = KeyInfo {
            handle: hex::encode(h),
            label,
            created_ms: now_ms(),
        };
        let aad = key_aad(self.cluster_id(), &info.handle);
        let wrapped = self
            .cluster_key
            .seal(material.expose_secret(), &aad)
            .map_err(internal)?;
        {
            let _c = self.changes.lock().await;
            self.persist(&info, &material).await?;
        }
        let change = Change::Created(WrappedKey {
            key: Some(info.clone()),
            wrapped_material: wrapped.clone(),
        });
        let acks = self.replicate_to_peers(change, 1).await;
        let _c = self.changes.lock().await;
        if acks == 0 {
            // Never a half-made key: it was durable only here.
            self.tombstone(&info.handle).await?;
            drop(_c);
            self.replicate_to_peers(Change::Destroyed(info.handle.clone()), usize::MAX)
                .await;
            return Err(HsmError::Insufficient(format!(
                "no peer of node {} stored the new key (peers reachable: 0 of {})",
                self.settings.node_id,
                self.peers.len()
            )));
        }
        if !read(&self.destroyed).contains(&info.handle) {
            self.insert(info.clone(), &material, wrapped);
        }
        Ok(info)
    }

    /// Destroys a key here and (waiting up to [`REPLICATE_TIMEOUT`]) on the
    /// peers; a peer that is down learns it by catch-up. Destroying an
    /// already destroyed key succeeds (a retried call is harmless).
    pub async fn destroy_key(&self, token: &[u8], handle: &str) -> Result<(), HsmError> {
        self.check_session(token)?;
        {
            let _c = self.changes.lock().await;
            if !read(&self.destroyed).contains(handle) {
                if !read(&self.keys).contains_key(handle) {
                    return Err(HsmError::NotFound);
                }
                self.tombstone(handle).await?;
            }
        }
        self.replicate_to_peers(Change::Destroyed(handle.to_owned()), usize::MAX)
            .await;
        Ok(())
    }

    /// This node and its peers as it sees them. Peers not heard from
    /// within [`ACTIVE_WINDOW`] are tried first (a catch-up round with
    /// each, at most [`STATUS_PROBE_TIMEOUT`]), so a peer that has just
    /// started is reported active without waiting for the next round.
    pub async fn cluster_status(self: &Arc<Self>) -> ClusterStatusResponse {
        let stale: Vec<usize> = (0..self.peers.len())
            .filter(|&i| !self.peers[i].is_active())
            .collect();
        if !stale.is_empty() {
            let mut set = tokio::task::JoinSet::new();
            for i in stale {
                let node = Arc::clone(self);
                set.spawn(async move { node.sync_peer(i).await });
            }
            let _ = tokio::time::timeout(STATUS_PROBE_TIMEOUT, async {
                while set.join_next().await.is_some() {}
            })
            .await;
        }
        let mut nodes = vec![NodeStatus {
            node_id: self.settings.node_id.clone(),
            address: self.settings.address.clone(),
            active: true,
        }];
        for p in &self.peers {
            // Two statements: one lock at a time (a std Mutex guard lives
            // to the end of its statement).
            let node_id = lock(&p.state).node_id.clone().unwrap_or_default();
            nodes.push(NodeStatus {
                node_id,
                address: p.address.clone(),
                active: p.is_active(),
            });
        }
        ClusterStatusResponse {
            cluster_id: self.settings.cluster_id.clone(),
            node_id: self.settings.node_id.clone(),
            nodes,
        }
    }

    // ------------------------------------------------------- node to node

    /// Stores a change sent by a peer (idempotent).
    pub async fn apply(&self, change: Change) -> Result<(), HsmError> {
        match change {
            Change::Created(wk) => self.adopt(wk).await,
            Change::Destroyed(handle) => {
                if !valid_handle(&handle) {
                    return Err(HsmError::InvalidArgument("malformed handle"));
                }
                let _c = self.changes.lock().await;
                if !read(&self.destroyed).contains(&handle) {
                    self.tombstone(&handle).await?;
                }
                Ok(())
            }
        }
    }

    /// Everything this node holds, keys wrapped under the cluster key.
    pub fn snapshot(&self) -> SnapshotResponse {
        let keys = read(&self.keys)
            .values()
            .map(|k| WrappedKey {
                key: Some(k.info.clone()),
                wrapped_material: k.wrapped.clone(),
            })
            .collect();
        let destroyed = read(&self.destroyed).iter().cloned().collect();
        SnapshotResponse { keys, destroyed }
    }

    /// Takes a key a peer holds, unless it is known or tombstoned here.
    async fn adopt(&self, wk: WrappedKey) -> Result<(), HsmError> {
        let info = wk
            .key
            .ok_or(HsmError::InvalidArgument("wrapped key without key info"))?;
        if !valid_handle(&info.handle) {
            return Err(HsmError::InvalidArgument("malformed handle"));
        }
        if info.label.len() > MAX_LABEL_LEN {
            return Err(HsmError::InvalidArgument("label longer than 256 bytes"));
        }
        let _c = self.changes.lock().await;
        if read(&self.destroyed).contains(&info.handle)
            || read(&self.keys).contains_key(&info.handle)
        {
            return Ok(());
        }
        let aad = key_aad(self.cluster_id(), &info.handle);
        let material = self
            .cluster_key
            .open_key(&wk.wrapped_material, &aad)
            .map_err(|_| {
                HsmError::InvalidArgument("wrapped key does not open under the cluster key")
            })?;
        self.persist(&info, &material).await?;
        self.insert(info, &material, wk.wrapped_material);
        Ok(())
    }

    /// Writes the key file (caller holds `changes`).
    async fn persist(&self, info: &KeyInfo, material: &Secret32) -> Result<(), HsmError> {
        let aad = key_aad(self.cluster_id(), &info.handle);
        let sealed = self
            .master
            .seal(material.expose_secret(), &aad)
            .map_err(internal)?;
        let rec = KeyRecord {
            handle: info.handle.clone(),
            label: info.label.clone(),
            created_ms: info.created_ms,
            sealed_material: hex::encode(sealed),
        };
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.put_key(&rec))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    fn insert(&self, info: KeyInfo, material: &Secret32, wrapped: Vec<u8>) {
        let key = Arc::new(LiveKey {
            cipher: AeadKey::new(material),
            wrapped,
            info,
        });
        write(&self.keys).insert(key.info.handle.clone(), key);
    }

    /// Tombstones durably, then forgets the key (caller holds `changes`).
    async fn tombstone(&self, handle: &str) -> Result<(), HsmError> {
        let store = Arc::clone(&self.store);
        let h = handle.to_owned();
        tokio::task::spawn_blocking(move || store.tombstone(&h))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        write(&self.destroyed).insert(handle.to_owned());
        write(&self.keys).remove(handle);
        Ok(())
    }

    /// Sends `change` to every peer in parallel; returns once `enough`
    /// acknowledged, all answered, or [`REPLICATE_TIMEOUT`] passed, with
    /// the number of acknowledgements. Calls still running go on in the
    /// background (a late copy is still a copy).
    async fn replicate_to_peers(&self, change: Change, enough: usize) -> usize {
        let (tx, mut rx) = tokio::sync::mpsc::channel(self.peers.len().max(1));
        for p in &self.peers {
            let mut client = p.cluster.clone();
            let req = ReplicateRequest {
                from_node: self.settings.node_id.clone(),
                change: Some(change.clone()),
            };
            let tx = tx.clone();
            let addr = p.address.clone();
            tokio::spawn(async move {
                let r = tokio::time::timeout(REPLICATE_TIMEOUT, client.replicate(req)).await;
                let ok = matches!(r, Ok(Ok(_)));
                if !ok {
                    tracing::debug!(peer = %addr, "replicate failed: {r:?}");
                }
                let _ = tx.send((addr, ok)).await;
            });
        }
        drop(tx);
        let deadline = tokio::time::Instant::now() + REPLICATE_TIMEOUT;
        let mut acks = 0;
        while acks < enough {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((addr, ok))) => {
                    if ok {
                        acks += 1;
                        if let Some(p) = self.peers.iter().find(|p| p.address == addr) {
                            p.mark_ok();
                        }
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        acks
    }

    /// One catch-up round with every peer (in parallel).
    pub async fn catch_up(self: &Arc<Self>) {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..self.peers.len() {
            let node = Arc::clone(self);
            set.spawn(async move { node.sync_peer(i).await });
        }
        while set.join_next().await.is_some() {}
    }

    async fn sync_peer(&self, i: usize) {
        let Some(peer) = self.peers.get(i) else {
            return;
        };
        if lock(&peer.state).node_id.is_none() {
            let mut hsm = peer.hsm.clone();
            match hsm.cluster_status(ClusterStatusRequest {}).await {
                Ok(r) if r.get_ref().cluster_id == self.settings.cluster_id => {
                    lock(&peer.state).node_id = Some(r.into_inner().node_id);
                }
                Ok(_) => {
                    tracing::warn!(peer = %peer.address, "peer belongs to another cluster");
                    return;
                }
                Err(e) => {
                    tracing::debug!(peer = %peer.address, "peer unreachable: {e}");
                    return;
                }
            }
        }
        let mut cluster = peer.cluster.clone();
        let snap = match cluster
            .snapshot(SnapshotRequest {
                from_node: self.settings.node_id.clone(),
            })
            .await
        {
            Ok(r) => r.into_inner(),
            Err(e) => {
                tracing::debug!(peer = %peer.address, "snapshot failed: {e}");
                return;
            }
        };
        peer.mark_ok();
        // Tombstones first: a destroyed key never comes back.
        for h in snap.destroyed {
            if valid_handle(&h) && !read(&self.destroyed).contains(&h) {
                if let Err(e) = self.apply(Change::Destroyed(h)).await {
                    tracing::warn!(peer = %peer.address, "catch-up tombstone failed: {e}");
                }
            }
        }
        for wk in snap.keys {
            let known = wk.key.as_ref().is_some_and(|k| {
                read(&self.keys).contains_key(&k.handle)
                    || read(&self.destroyed).contains(&k.handle)
            });
            if !known {
                if let Err(e) = self.adopt(wk).await {
                    tracing::warn!(peer = %peer.address, "catch-up of a key failed: {e}");
                }
            }
        }
    }
}

/// Live sessions (SHA-256 of each token), oldest first for eviction.
#[derive(Default)]
struct Sessions {
    live: HashSet<[u8; 32]>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl Sessions {
    fn insert(&mut self, h: [u8; 32]) {
        while self.live.len() >= MAX_SESSIONS {
            match self.order.pop_front() {
                Some(old) => {
                    self.live.remove(&old);
                }
                None => break,
            }
        }
        self.live.insert(h);
        self.order.push_back(h);
    }

    fn remove(&mut self, h: &[u8; 32]) -> bool {
        if !self.live.remove(h) {
            return false;
        }
        self.order.retain(|o| o != h);
        true
    }
}

fn no_session() -> HsmError {
    HsmError::Unauthenticated("invalid session: log in again")
}

fn token_hash(token: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, token);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_bounded_oldest_first() {
        let mut s = Sessions::default();
        let h = |i: usize| token_hash(&i.to_le_bytes());
        for i in 0..MAX_SESSIONS + 2 {
            s.insert(h(i));
        }
        assert_eq!(s.live.len(), MAX_SESSIONS);
        assert!(!s.live.contains(&h(0)) && !s.live.contains(&h(1)));
        assert!(s.live.contains(&h(2)) && s.live.contains(&h(MAX_SESSIONS + 1)));
        assert!(s.remove(&h(2)));
        assert!(!s.remove(&h(2)));
        assert_eq!(s.order.len(), MAX_SESSIONS - 1);
    }
}
