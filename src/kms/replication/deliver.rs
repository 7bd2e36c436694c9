//! Delivery: one task per peer Region sends that peer's outbox queue, in
//! seq order, through the [`PeerTransport`], and deletes what the peer
//! acknowledged (docs/multi-region.md, "Replication: outbox and apply").
//!
//! A pass reads up to [`DELIVERY_BATCH`] entries and turns them into
//! envelopes *now*: a `Sync` carries the key's current record and every
//! material version, each sealed (HPKE) to the peer's Region key, which is
//! fetched through the transport (so from the channel that authenticated
//! the peer) and cached until a delivery fails. A `Sync` of a key no
//! longer here is not sent (and is acknowledged locally). On failure the
//! task waits 50 ms, doubling to 2 s, and retries the same entries for
//! ever: entries are never skipped. It wakes on a commit that enqueued to
//! its peer (`Batch::commit` notifies, after the write), on back-off
//! expiry, and at start (so a restart resends what was not acknowledged).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{
    Envelope, HpkeSealed, Message, PeerError, PeerTransport, RotationShared, SyncKey,
    WrappedMaterial,
};
use crate::crypto::hpke::{material_aad, seal_for_region, REPLICATION_INFO};
use crate::error::{KmsError, KmsResult};
use crate::kms::Inner;
use crate::model::{KeyRecord, KeyState, MaterialLocation, Origin};
use crate::store::{OutboxEntry, OutboxRecord};

/// Entries per delivery.
pub(super) const DELIVERY_BATCH: usize = 64;
/// First back-off after a failed delivery.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest back-off.
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often a non-empty backlog is logged.
const BACKLOG_LOG_EVERY: Duration = Duration::from_secs(60);
/// The `material_id` bound into the AAD of a sealed KeyMaterialId secret
/// (version 0: no material version has it).
pub(super) const MATERIAL_ID_KEY_AAD_ID: &str = "kmsd/mrk-material-id-key";

/// Starts the delivery tasks and the backlog log (see the module doc).
pub(super) fn start(
    inner: &Arc<Inner>,
    transport: Arc<dyn PeerTransport>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    *inner.repl.peers.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&transport));
    let mut handles = Vec::new();
    for region in transport.regions() {
        if region == inner.region {
            tracing::warn!(%region, "this kmsd's own Region is listed as a peer: ignored");
            continue;
        }
        handles.push(tokio::spawn(delivery_loop(
            Arc::clone(inner),
            Arc::clone(&transport),
            region,
            shutdown.clone(),
        )));
    }
    handles.push(tokio::spawn(backlog_log_loop(Arc::clone(inner), shutdown)));
    // The Region key is made on first start, not at the first request
    // that needs it.
    let init = Arc::clone(inner);
    tokio::spawn(async move {
        if let Err(e) = init
            .blocking(|inner| inner.region_secret().map(|_| ()))
            .await
        {
            tracing::error!(error = %e, "could not load or make this Region's replication key");
        }
    });
    handles
}

/// Why a delivery pass failed.
pub(super) enum PassError {
    Peer(PeerError),
    Local(KmsError),
    /// The peer applied nothing of what it was sent.
    NoProgress {
        applied_through: u64,
    },
}

impl std::fmt::Display for PassError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassError::Peer(e) => write!(f, "{e}"),
            PassError::Local(e) => write!(f, "{e}"),
            PassError::NoProgress { applied_through } => write!(
                f,
                "the peer applied nothing new (applied through seq {applied_through})"
            ),
        }
    }
}

impl From<KmsError> for PassError {
    fn from(e: KmsError) -> Self {
        PassError::Local(e)
    }
}

impl From<PeerError> for PassError {
    fn from(e: PeerError) -> Self {
        PassError::Peer(e)
    }
}

/// Waits until `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender dropped: nobody can ask to continue.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn delivery_loop(
    inner: Arc<Inner>,
    transport: Arc<dyn PeerTransport>,
    region: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let signal = inner.store.outbox_signal(&region);
    let mut peer_key: Option<[u8; 32]> = None;
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Not raced against shutdown: a pass is short and its ack must
        // not be cut between the peer's answer and the local delete
        // (harmless, but it would resend).
        match pass(&inner, &*transport, &region, &mut peer_key).await {
            Ok(sent) => {
                if failing {
                    tracing::info!(%region, "replication to the peer Region works again");
                    failing = false;
                }
                backoff = BACKOFF_MIN;
                if sent {
                    continue;
                }
                tokio::select! {
                    _ = signal.notified() => {}
                    _ = stopped(&mut shutdown) => return,
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(%region, error = %e, "replication to the peer Region failed; retrying with back-off");
                    failing = true;
                } else {
                    tracing::debug!(%region, error = %e, "replication to the peer Region failed again");
                }
                // The peer may have a new Region key (a restore, a new
                // data dir): fetch it again before the next try.
                peer_key = None;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut shutdown) => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// One delivery: `Ok(true)` if entries were sent and acknowledged,
/// `Ok(false)` if the queue was empty.
pub(super) async fn pass(
    inner: &Arc<Inner>,
    transport: &dyn PeerTransport,
    region: &str,
    peer_key: &mut Option<[u8; 32]>,
) -> Result<bool, PassError> {
    let r = region.to_owned();
    let queued = inner
        .blocking(move |inner| {
            inner
                .store
                .outbox_peek(&r, DELIVERY_BATCH)
                .map_err(KmsError::internal)
        })
        .await?;
    let (Some((first, _)), Some((last, _))) = (queued.first(), queued.last()) else {
        return Ok(false);
    };
    let (first, last) = (*first, *last);
    let pk = match *peer_key {
        Some(k) => k,
        None => {
            let k = transport.region_key(region).await?;
            *peer_key = Some(k);
            k
        }
    };
    let r = region.to_owned();
    let envelopes = inner
        .blocking(move |inner| inner.compose(&r, &pk, queued))
        .await?;
    let through = match envelopes.last().map(|e| e.seq) {
        // Nothing to send (every Sync named a key no longer here).
        None => last,
        Some(sent_last) => {
            let applied = transport.deliver(region, envelopes).await?;
            if applied < first {
                return Err(PassError::NoProgress {
                    applied_through: applied,
                });
            }
            // Entries after the last one sent were not sent at all, so
            // they are done once everything sent is.
            if applied >= sent_last {
                last
            } else {
                applied
            }
        }
    };
    let r = region.to_owned();
    inner
        .blocking(move |inner| {
            let mut b = inner.store.batch();
            b.outbox_ack(&r, through);
            b.commit().map_err(KmsError::internal)
        })
        .await?;
    Ok(true)
}

impl Inner {
    /// The envelopes for queued entries (blocking pool).
    pub(super) fn compose(
        &self,
        to_region: &str,
        peer_key: &[u8; 32],
        queued: Vec<(u64, OutboxRecord)>,
    ) -> KmsResult<Vec<Envelope>> {
        let mut out = Vec::with_capacity(queued.len());
        for (seq, rec) in queued {
            let message = match rec.entry {
                OutboxEntry::Sync { key_id, create } => {
                    // From the store, not the key cache: the entry's batch
                    // has committed (so the store holds that change), but
                    // the writer puts the record in the cache only after
                    // its commit, which has already woken this task; a
                    // cached read here could send the state from before
                    // the change and have the entry acknowledged, losing
                    // the change for this peer until the next one.
                    let Some(key) = self.store.get_key(&key_id).map_err(KmsError::internal)? else {
                        continue;
                    };
                    if key.mr.is_none() {
                        continue;
                    }
                    let mut sync = self.sync_message(&key, to_region, peer_key)?;
                    sync.create = create.map(Into::into);
                    Message::Sync(Box::new(sync))
                }
                OutboxEntry::HandoffDone { key_id, version } => {
                    Message::HandoffDone { key_id, version }
                }
                OutboxEntry::HandoffAck { key_id, version } => {
                    Message::HandoffAck { key_id, version }
                }
                OutboxEntry::ReplicaDeleted { key_id, region } => {
                    Message::ReplicaDeleted { key_id, region }
                }
            };
            out.push(Envelope { seq, message });
        }
        Ok(out)
    }

    /// `key`'s shared state as a `Sync` for `to_region`, every material
    /// version sealed to `peer_key` (blocking pool).
    pub(super) fn sync_message(
        &self,
        key: &KeyRecord,
        to_region: &str,
        peer_key: &[u8; 32],
    ) -> KmsResult<SyncKey> {
        let Some(mr) = key.mr.as_ref() else {
            return Err(KmsError::internal("a Sync of a single-Region key"));
        };
        let rotation_types: std::collections::HashMap<u32, crate::model::RotationType> = self
            .store
            .list_rotations(&key.id, 0, usize::MAX)
            .map_err(KmsError::internal)?
            .into_iter()
            .map(|e| (e.version, e.rotation_type))
            .collect();
        let mut materials = Vec::new();
        for m in self
            .store
            .list_materials(&key.id, 0, usize::MAX)
            .map_err(KmsError::internal)?
        {
            // Imported material is not replicated: every Region imports
            // the same material itself (docs/multi-region.md, "Import").
            let sealed = if key.origin == Origin::External
                || !matches!(m.location, MaterialLocation::Local { .. })
            {
                None
            } else {
                let material = self
                    .backend
                    .export_for_replication(&key.id, &m)
                    .map_err(KmsError::internal)?;
                let aad = material_aad(&key.id, m.version, &m.material_id, &self.region, to_region);
                let (enc, ciphertext) =
                    seal_for_region(peer_key, REPLICATION_INFO, &aad, &material)
                        .map_err(KmsError::internal)?;
                Some(HpkeSealed { enc, ciphertext })
            };
            materials.push(WrappedMaterial {
                version: m.version,
                rotation_type: rotation_types.get(&m.version).copied(),
                material_id: m.material_id,
                state: m.state,
                origin: m.origin,
                created_ms: m.created_ms,
                expires_ms: m.expires_ms,
                description: m.description,
                sealed,
            });
        }
        let material_id_key = match self.mrk_material_id_secret(&key.id)? {
            Some(secret) => {
                let aad = material_aad(&key.id, 0, MATERIAL_ID_KEY_AAD_ID, &self.region, to_region);
                let (enc, ciphertext) = seal_for_region(peer_key, REPLICATION_INFO, &aad, &secret)
                    .map_err(KmsError::internal)?;
                Some(HpkeSealed { enc, ciphertext })
            }
            None => None,
        };
        let enabled = key.state == KeyState::Enabled
            || mr
                .handoff
                .as_ref()
                .is_some_and(|h| h.prior_state == KeyState::Enabled);
        Ok(SyncKey {
            key_id: key.id,
            account: key.account.clone(),
            version: mr.version,
            primary_region: mr.primary_region.clone(),
            replica_regions: mr.replica_regions.clone(),
            spec: key.spec,
            usage: key.usage,
            origin: key.origin,
            created_ms: key.created_ms,
            current_version: key.current_version,
            rotation: RotationShared {
                enabled: key.rotation.enabled,
                period_days: key.rotation.period_days,
                next_ms: key.rotation.next_ms,
                on_demand_count: key.rotation.on_demand_count,
            },
            materials,
            create: None,
            primary_enabled: enabled,
            material_id_key,
        })
    }
}

/// Logs, once a minute, every peer whose queue is not empty.
async fn backlog_log_loop(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(BACKLOG_LOG_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the first log comes a minute in.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped(&mut shutdown) => return,
        }
        let backlog = inner
            .blocking(|inner| inner.store.outbox_backlog().map_err(KmsError::internal))
            .await;
        match backlog {
            Ok(peers) => {
                let now = inner.now_ms();
                for p in peers.iter().filter(|p| p.pending > 0) {
                    let oldest_age_ms = p.oldest_enqueued_ms.map(|t| now.saturating_sub(t));
                    tracing::warn!(region = %p.region, pending = p.pending, oldest_age_ms, "replication backlog");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the replication backlog"),
        }
    }
}
