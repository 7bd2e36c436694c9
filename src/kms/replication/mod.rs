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

pub mod message;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

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

/// An outbox entry as a control-plane write enqueues it (the `Sync`
/// state and material are composed when it is sent).
// MINIMAL HOOK (ops helper): the engine's outbox replaces this type and
// the three `Inner` methods below with the real ones of the same names.
// Until the engine's outbox reads them, some fields are only written.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// Send the key's current shared state (and create a replica).
    Sync {
        /// The key.
        key_id: crate::model::KeyId,
        /// ReplicateKey: the replica's per-Region properties.
        create: Option<ReplicaCreate>,
    },
    /// New primary → old primary.
    HandoffDone {
        /// The key.
        key_id: crate::model::KeyId,
        /// The hand-over's version.
        version: u64,
    },
    /// Old primary → new primary.
    HandoffAck {
        /// The key.
        key_id: crate::model::KeyId,
        /// The hand-over's version.
        version: u64,
    },
    /// `region` deleted its replica of `key_id`.
    ReplicaDeleted {
        /// The key.
        key_id: crate::model::KeyId,
        /// The Region whose replica is gone.
        region: String,
    },
}

impl crate::kms::Inner {
    /// The peer Regions' transport (set by `start_replication`).
    pub(crate) fn peers(&self) -> KmsResult<Arc<dyn PeerTransport>> {
        self.transport
            .get()
            .cloned()
            .ok_or_else(|| KmsError::UnsupportedOperation("this kmsd has no peer Regions".into()))
    }

    /// Adds `entry` for `region` to the outbox in batch `b`.
    // MINIMAL HOOK: no outbox yet; the engine's version writes it.
    pub(crate) fn enqueue(
        &self,
        b: &mut crate::store::Batch<'_>,
        region: &str,
        entry: Outgoing,
    ) -> KmsResult<()> {
        let _ = b;
        tracing::debug!(%region, ?entry, "replication entry (no outbox yet)");
        Ok(())
    }

    /// A change of `rec`'s shared state in batch `b` (on its primary):
    /// bumps its version and enqueues a `Sync` to every other Region.
    pub(crate) fn shared_changed(
        &self,
        rec: &mut crate::model::KeyRecord,
        b: &mut crate::store::Batch<'_>,
    ) -> KmsResult<()> {
        let Some(mr) = rec.mr.as_mut() else {
            return Ok(());
        };
        mr.version = mr.version.saturating_add(1);
        let others: Vec<String> = mr.other_regions(&self.region).map(str::to_owned).collect();
        for r in others {
            self.enqueue(
                b,
                &r,
                Outgoing::Sync {
                    key_id: rec.id,
                    create: None,
                },
            )?;
        }
        Ok(())
    }
}

impl crate::kms::Kms {
    /// This Region's replication public key (X25519), which peers seal
    /// material to. Made on first start, its private half stored sealed by
    /// the backend.
    pub async fn region_public_key(&self) -> KmsResult<[u8; 32]> {
        Err(KmsError::UnsupportedOperation(
            "replication is not implemented yet".into(),
        ))
    }

    /// Applies entries a peer delivered, in order, each idempotently, and
    /// answers the highest seq applied durably.
    pub async fn apply_replicated(
        &self,
        from_region: &str,
        entries: Vec<Envelope>,
    ) -> KmsResult<u64> {
        let _ = (from_region, entries);
        Err(KmsError::UnsupportedOperation(
            "replication is not implemented yet".into(),
        ))
    }

    /// Starts one delivery task per peer of `transport`, until `shutdown`
    /// turns true; ReplicateKey and UpdatePrimaryRegion reach peers through
    /// `transport` from then on.
    pub fn start_replication(
        &self,
        transport: Arc<dyn PeerTransport>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        // MINIMAL HOOK: remembers the transport (ReplicateKey and
        // UpdatePrimaryRegion use it); the engine adds the delivery tasks.
        let _ = shutdown;
        let _ = self.inner.transport.set(transport);
        Vec::new()
    }

    /// The replication backlog per peer.
    pub fn replication_backlog(&self) -> KmsResult<Vec<PeerBacklog>> {
        Ok(Vec::new())
    }
}

/// The replication backlog per peer of a data dir opened read-only
/// (`kmsd replication status`, while kmsd serves it).
pub fn backlog_of(store: &crate::store::Store) -> KmsResult<Vec<PeerBacklog>> {
    let _ = store;
    Ok(Vec::new())
}
