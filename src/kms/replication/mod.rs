//! Replication of multi-Region keys between Regions (docs/multi-region.md).
//!
//! Each kmsd is one Region. A change to a multi-Region key's shared state
//! (made only in its primary Region) is written, in the same synced batch
//! as the change itself, to a persistent **outbox**: one ordered queue per
//! peer Region (`store/outbox.rs`). A delivery task per peer sends the
//! queue in order through a [`PeerTransport`] (the core owns the trait;
//! `src/replication/` implements it over mutual-TLS gRPC) and deletes what
//! the peer acknowledged; a peer that is down keeps its queue until it
//! returns, across restarts and kill -9 of either side. The receiver
//! applies entries idempotently and in order ([`Kms::apply_replicated`]):
//! shared state carries a version, and only a newer one is applied.
//!
//! `SyncKey` entries are stored as a reference (key id, plus the per-Region
//! properties of a replica to create); the state and material they carry
//! are read and sealed when sent, so a delivery always carries the newest
//! state and material is sealed (HPKE, to the destination Region's
//! replication key) only on its way out, never stored sealed for a peer.

mod apply;
mod deliver;
pub mod message;
mod outbox;
mod region_key;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use crate::error::{KmsError, KmsResult};

pub use message::{
    AccessCheck, Envelope, HpkeSealed, Message, ReplicaCreate, RotationShared, SyncKey,
    WrappedMaterial,
};

/// What a [`PeerTransport`] call returns.
pub type PeerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PeerError>> + Send + 'a>>;

/// How one Region reaches the others: implemented outside the core
/// (`src/replication/client.rs`, tonic over mutual TLS with each side's
/// Region identity checked), so the core knows no wire format.
pub trait PeerTransport: Send + Sync + 'static {
    /// The peer Regions configured (`--peer REGION=URL`), sorted; never
    /// this kmsd's own.
    fn regions(&self) -> Vec<String>;

    /// The replication public key (X25519, 32 bytes) of `region`, fetched
    /// over the channel that authenticated `region`.
    fn region_key<'a>(&'a self, region: &'a str) -> PeerFuture<'a, [u8; 32]>;

    /// Asks `region` whether the caller may do what `check` says there.
    /// `Err(PeerError::Refused(e))` carries the peer's AWS-style error.
    fn check_access<'a>(&'a self, region: &'a str, check: &'a AccessCheck) -> PeerFuture<'a, ()>;

    /// Delivers `entries` (in order) to `region`; answers the highest seq
    /// the peer has applied durably.
    fn deliver<'a>(&'a self, region: &'a str, entries: Vec<Envelope>) -> PeerFuture<'a, u64>;
}

/// Why a call to a peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// `region` is not a configured peer.
    #[error("{0} is not a peer Region of this kmsd")]
    UnknownRegion(String),
    /// The peer could not be reached or did not answer (retry later).
    #[error("the {region} Region is unreachable: {detail}")]
    Unreachable {
        /// The peer.
        region: String,
        /// What failed (transport detail; never secrets).
        detail: String,
    },
    /// The peer answered with an error.
    #[error("{0}")]
    Refused(KmsError),
}

impl From<PeerError> for KmsError {
    fn from(e: PeerError) -> Self {
        match e {
            PeerError::Refused(e) => e,
            PeerError::UnknownRegion(r) => KmsError::Validation(format!(
                "1 validation error detected: Value '{r}' is not a peer Region of this kmsd"
            )),
            PeerError::Unreachable { region, .. } => KmsError::DependencyTimeout(format!(
                "The {region} Region did not answer; try again later"
            )),
        }
    }
}

/// One peer's replication backlog, as `kmsd replication status` and the
/// status log report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerBacklog {
    /// The peer Region.
    pub region: String,
    /// Outbox entries not yet acknowledged by it.
    pub pending: u64,
    /// When the oldest of them was enqueued, Unix ms.
    pub oldest_enqueued_ms: Option<i64>,
}

/// The replication part of the core's state (`Inner::repl`).
#[derive(Default)]
pub(crate) struct ReplicationState {
    /// This Region's replication key, once loaded or made.
    region_key: OnceLock<Arc<crate::crypto::hpke::RegionSecretKey>>,
    /// Serializes loading or making the Region key.
    region_key_init: Mutex<()>,
    /// How peers are reached (set by `start_replication`).
    peers: RwLock<Option<Arc<dyn PeerTransport>>>,
    /// Serializes `apply_replicated` calls: each reads a sender's
    /// high-water mark and writes it back, entry by entry.
    apply: tokio::sync::Mutex<()>,
}

pub(crate) use outbox::Outgoing;

impl crate::kms::Kms {
    /// This Region's replication public key (X25519), which peers seal
    /// material to. Made on first start, its private half stored sealed by
    /// the backend.
    pub async fn region_public_key(&self) -> KmsResult<[u8; 32]> {
        self.inner
            .blocking(|inner| Ok(inner.region_secret()?.public_key()))
            .await
    }

    /// Applies entries a peer delivered, in order, each idempotently, and
    /// answers the highest seq applied durably.
    pub async fn apply_replicated(
        &self,
        from_region: &str,
        entries: Vec<Envelope>,
    ) -> KmsResult<u64> {
        apply::apply_replicated(&self.inner, from_region, entries).await
    }

    /// Starts one delivery task per peer of `transport`, until `shutdown`
    /// turns true; ReplicateKey and UpdatePrimaryRegion reach peers through
    /// `transport` from then on.
    pub fn start_replication(
        &self,
        transport: Arc<dyn PeerTransport>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        deliver::start(&self.inner, transport, shutdown)
    }

    /// The replication backlog per peer.
    pub fn replication_backlog(&self) -> KmsResult<Vec<PeerBacklog>> {
        backlog_of(&self.inner.store)
    }
}

/// The replication backlog per peer of a data dir opened read-only
/// (`kmsd replication status`, while kmsd serves it).
pub fn backlog_of(store: &crate::store::Store) -> KmsResult<Vec<PeerBacklog>> {
    Ok(store
        .outbox_backlog()
        .map_err(KmsError::internal)?
        .into_iter()
        .map(|b| PeerBacklog {
            region: b.region,
            pending: b.pending,
            oldest_enqueued_ms: b.oldest_enqueued_ms,
        })
        .collect())
}
