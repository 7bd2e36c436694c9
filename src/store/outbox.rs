//! The replication families (docs/multi-region.md, "Replication: outbox
//! and apply"):
//!
//! - `outbox`: one ordered queue per peer Region. Key `region ‖ 0x00 ‖ seq
//!   (u64 BE)`, value an [`OutboxRecord`]; key `region ‖ 0x01` holds the
//!   next seq to allocate for that peer (u64 BE), so seqs keep increasing
//!   after the queue drained (the receiver skips seqs at or below the
//!   highest it applied).
//! - `replication`: key `in ‖ 0x00 ‖ region`: the highest seq applied
//!   from that sender (u64 BE); key `region_key`: this Region's
//!   replication private key, sealed by the backend; key `mik ‖ 0x00 ‖ key
//!   id (17)`: an EXTERNAL multi-Region key's KeyMaterialId secret, sealed
//!   by the backend (the same in every Region of the key).
//!
//! Both are authenticated like every other family.
//!
//! **Seq allocation.** Seqs must appear in the outbox in the order they
//! were allocated: a delivery task that saw seq 6 committed before seq 5
//! would send 6, be acknowledged through 6, and 5 would then be skipped by
//! the receiver for ever. So a batch that enqueues takes the store's outbox
//! mutex at its first [`Batch::enqueue_outbox`] and holds it until it has
//! committed (or is dropped): batches that enqueue commit one at a time, in
//! seq order. The persisted next-seq value is written under the same mutex,
//! so the last committed value is the largest. Hence the rule for callers:
//! enqueue after taking every lock the change needs (never take a lock
//! while a batch holding the outbox is open), and build at most one such
//! batch at a time per thread.
//!
//! **Wake-ups.** [`Batch::commit`] notifies, after the write is durable,
//! the [`Store::outbox_signal`] of every Region the batch enqueued to; a
//! `Notify` keeps one permit, so a delivery task that was busy when the
//! notification came finds it when it next waits: no wake-up is lost.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::{Batch, Store, StoreError, CF_OUTBOX, CF_REPLICATION};
use crate::model::KeyId;

/// One entry of a peer's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// When it was enqueued, Unix ms.
    pub enqueued_ms: i64,
    /// What to send.
    pub entry: OutboxEntry,
}

/// What an outbox entry says. A `Sync` is a reference: the state and
/// material it carries are read (and sealed for the peer) when it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum OutboxEntry {
    /// Send the key's current shared state.
    #[serde(rename = "SYNC")]
    Sync {
        /// The key.
        #[serde(with = "crate::model::key::key_id_string")]
        key_id: KeyId,
        /// The per-Region properties of the replica the peer is to create
        /// (ReplicateKey).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create: Option<StoredReplicaCreate>,
    },
    /// New primary → old primary: taken over at `version`.
    #[serde(rename = "HANDOFF_DONE")]
    HandoffDone {
        /// The key.
        #[serde(with = "crate::model::key::key_id_string")]
        key_id: KeyId,
        /// The hand-over's shared-state version.
        version: u64,
    },
    /// Old primary → new primary: acknowledged.
    #[serde(rename = "HANDOFF_ACK")]
    HandoffAck {
        /// The key.
        #[serde(with = "crate::model::key::key_id_string")]
        key_id: KeyId,
        /// The hand-over's shared-state version.
        version: u64,
    },
    /// `region` deleted its replica of `key_id`.
    #[serde(rename = "REPLICA_DELETED")]
    ReplicaDeleted {
        /// The key.
        #[serde(with = "crate::model::key::key_id_string")]
        key_id: KeyId,
        /// The Region whose replica is gone.
        region: String,
    },
}

/// The per-Region properties of a replica to create, as queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReplicaCreate {
    /// Key policy (`None`: the default key policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Description.
    pub description: String,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// BypassPolicyLockoutSafetyCheck.
    pub bypass_policy_lockout_safety_check: bool,
    /// The principal that called ReplicateKey.
    pub principal: String,
}

/// One peer's queue, as `Store::outbox_backlog` counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// The peer Region.
    pub region: String,
    /// Entries not yet acknowledged.
    pub pending: u64,
    /// When the oldest was enqueued, Unix ms.
    pub oldest_enqueued_ms: Option<i64>,
}

/// The sealed replication private key (`replication` family).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionKeyRecord {
    /// The private key, sealed by the backend (`seal_secret`).
    pub sealed: crate::model::SealedBlob,
    /// When it was made, Unix ms.
    pub created_ms: i64,
}

/// Key of the region key record in the `replication` family.
pub const REGION_KEY_SLOT: &[u8] = b"region_key";

/// The in-memory part of seq allocation (see the module doc).
#[derive(Default)]
pub(super) struct OutboxState {
    /// Next seq per peer, once read from the store.
    next: HashMap<String, u64>,
}

/// The outbox's shared state in a [`Store`].
#[derive(Default)]
pub(super) struct Outbox {
    state: Mutex<OutboxState>,
    signals: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
}

/// What a batch that enqueued holds until it commits.
pub(super) struct Enqueued<'a> {
    guard: MutexGuard<'a, OutboxState>,
    /// Next seqs to publish in memory once the batch commits.
    next: HashMap<String, u64>,
    /// Regions to wake after the commit.
    regions: Vec<String>,
}

fn entry_prefix(region: &str) -> Vec<u8> {
    let mut k = region.as_bytes().to_vec();
    k.push(0);
    k
}

fn entry_key(region: &str, seq: u64) -> Vec<u8> {
    let mut k = entry_prefix(region);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn next_key(region: &str) -> Vec<u8> {
    let mut k = region.as_bytes().to_vec();
    k.push(1);
    k
}

fn inbound_key(region: &str) -> Vec<u8> {
    let mut k = b"in\0".to_vec();
    k.extend_from_slice(region.as_bytes());
    k
}

/// Prefix of the KeyMaterialId secrets in the `replication` family.
pub const MATERIAL_ID_KEY_PREFIX: &[u8] = b"mik\0";

fn material_id_key_slot(id: &KeyId) -> Vec<u8> {
    let mut k = MATERIAL_ID_KEY_PREFIX.to_vec();
    k.extend_from_slice(&id.storage_key());
    k
}

fn decode_u64(v: &[u8], what: &'static str) -> Result<u64, StoreError> {
    let arr: [u8; 8] = v.try_into().map_err(|_| StoreError::Corrupt { what })?;
    Ok(u64::from_be_bytes(arr))
}

impl Store {
    /// The signal a delivery task for `region` waits on: notified after
    /// every commit that enqueued to `region`.
    pub fn outbox_signal(&self, region: &str) -> Arc<tokio::sync::Notify> {
        let mut s = self
            .outbox
            .signals
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(s.entry(region.to_owned()).or_default())
    }

    /// Up to `limit` entries of `region`'s queue, in seq order.
    pub fn outbox_peek(
        &self,
        region: &str,
        limit: usize,
    ) -> Result<Vec<(u64, OutboxRecord)>, StoreError> {
        self.scan(CF_OUTBOX, &entry_prefix(region), None, limit, |k, v| {
            let seq = decode_u64(k, "outbox")?;
            let rec: OutboxRecord = super::decode_json(v, "outbox")?;
            Ok(ControlFlow::Continue((seq, rec)))
        })
    }

    /// Every peer's queue: how many entries, and when the oldest was
    /// enqueued (peers with an empty queue are not listed).
    pub fn outbox_backlog(&self) -> Result<Vec<OutboxBacklog>, StoreError> {
        let mut out: Vec<OutboxBacklog> = Vec::new();
        self.scan(CF_OUTBOX, b"", None, usize::MAX, |k, v| {
            // Entry keys are `region 0x00 seq`; next-seq keys end in 0x01.
            let Some(split) = k.iter().position(|b| *b <= 1) else {
                return Err(StoreError::Corrupt { what: "outbox" });
            };
            if k[split] == 1 {
                return Ok(ControlFlow::Continue(()));
            }
            let region = std::str::from_utf8(&k[..split])
                .map_err(|_| StoreError::Corrupt { what: "outbox" })?;
            let rec: OutboxRecord = super::decode_json(v, "outbox")?;
            match out.last_mut() {
                Some(b) if b.region == region => {
                    b.pending += 1;
                    // Seq order is enqueue order, but clocks can step back.
                    b.oldest_enqueued_ms = b
                        .oldest_enqueued_ms
                        .map(|o| o.min(rec.enqueued_ms))
                        .or(Some(rec.enqueued_ms));
                }
                _ => out.push(OutboxBacklog {
                    region: region.to_owned(),
                    pending: 1,
                    oldest_enqueued_ms: Some(rec.enqueued_ms),
                }),
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    /// The highest seq applied from `region` (0: none yet).
    pub fn inbound_high_water(&self, region: &str) -> Result<u64, StoreError> {
        match self.get_verified(CF_REPLICATION, &inbound_key(region))? {
            Some(v) => decode_u64(&v, "replication high-water mark"),
            None => Ok(0),
        }
    }

    /// The sealed replication private key, if one was made.
    pub fn get_region_key(&self) -> Result<Option<RegionKeyRecord>, StoreError> {
        self.get_json(CF_REPLICATION, REGION_KEY_SLOT, "region key")
    }

    /// The sealed KeyMaterialId secret of EXTERNAL multi-Region key `id`.
    pub fn get_material_id_key(
        &self,
        id: &KeyId,
    ) -> Result<Option<crate::model::SealedBlob>, StoreError> {
        self.get_json(CF_REPLICATION, material_id_key_slot(id), "material id key")
    }

    /// The next seq to allocate for `region`, from the store.
    fn stored_next_seq(&self, region: &str) -> Result<u64, StoreError> {
        match self.get_verified(CF_OUTBOX, &next_key(region))? {
            Some(v) => decode_u64(&v, "outbox seq"),
            None => Ok(1),
        }
    }
}

impl<'a> Batch<'a> {
    /// Appends `entry` to `region`'s queue in this batch and answers its
    /// seq. The batch holds the outbox from now until it commits or drops
    /// (see the module doc for why, and for the rule callers follow).
    pub fn enqueue_outbox(
        &mut self,
        region: &str,
        enqueued_ms: i64,
        entry: OutboxEntry,
    ) -> Result<u64, StoreError> {
        let store: &'a Store = self.store;
        if self.outbox.is_none() {
            self.outbox = Some(Enqueued {
                guard: store.outbox.state.lock().unwrap_or_else(|p| p.into_inner()),
                next: HashMap::new(),
                regions: Vec::new(),
            });
        }
        let seq = {
            let Some(held) = self.outbox.as_mut() else {
                return Err(StoreError::Corrupt { what: "outbox" });
            };
            let seq = match held.next.get(region) {
                Some(n) => *n,
                None => match held.guard.next.get(region) {
                    Some(n) => *n,
                    None => store.stored_next_seq(region)?,
                },
            };
            held.next.insert(region.to_owned(), seq.saturating_add(1));
            if !held.regions.iter().any(|r| r == region) {
                held.regions.push(region.to_owned());
            }
            seq
        };
        self.put_json(
            CF_OUTBOX,
            entry_key(region, seq),
            &OutboxRecord { enqueued_ms, entry },
            "outbox",
        )?;
        self.put(CF_OUTBOX, &next_key(region), &(seq + 1).to_be_bytes());
        Ok(seq)
    }

    /// Removes `region`'s entries with seq ≤ `through` (acknowledged).
    pub fn outbox_ack(&mut self, region: &str, through: u64) {
        let cf = self.store.cf(CF_OUTBOX);
        let from = entry_key(region, 0);
        match through.checked_add(1) {
            Some(end) => self.wb.delete_range_cf(cf, from, entry_key(region, end)),
            None => {
                self.wb
                    .delete_range_cf(cf, from, entry_key(region, u64::MAX));
                self.wb.delete_cf(cf, entry_key(region, u64::MAX));
            }
        }
    }

    /// Records that entries from `region` through `seq` were applied.
    pub fn put_inbound_high_water(&mut self, region: &str, seq: u64) {
        self.put(CF_REPLICATION, &inbound_key(region), &seq.to_be_bytes());
    }

    /// Stores the sealed KeyMaterialId secret of key `id`.
    pub fn put_material_id_key(
        &mut self,
        id: &KeyId,
        sealed: &crate::model::SealedBlob,
    ) -> Result<(), StoreError> {
        self.put_json(
            CF_REPLICATION,
            material_id_key_slot(id),
            sealed,
            "material id key",
        )
    }

    /// Deletes the KeyMaterialId secret of key `id` (with the key).
    pub fn delete_material_id_key(&mut self, id: &KeyId) {
        let cf = self.store.cf(CF_REPLICATION);
        self.wb.delete_cf(cf, material_id_key_slot(id));
    }

    /// Stores the sealed replication private key.
    pub fn put_region_key(&mut self, rec: &RegionKeyRecord) -> Result<(), StoreError> {
        self.put_json(CF_REPLICATION, REGION_KEY_SLOT, rec, "region key")
    }
}

impl Enqueued<'_> {
    /// After the batch committed: publishes the allocated seqs (still
    /// under the outbox mutex), releases it, and wakes the delivery tasks.
    pub(super) fn committed(mut self, store: &Store) {
        for (region, next) in self.next.drain() {
            self.guard.next.insert(region, next);
        }
        let regions = std::mem::take(&mut self.regions);
        drop(self);
        for r in regions {
            store.outbox_signal(&r).notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::open_temp;
    use super::*;

    fn sync(id: KeyId) -> OutboxEntry {
        OutboxEntry::Sync {
            key_id: id,
            create: None,
        }
    }

    #[test]
    fn queues_are_per_peer_ordered_acked_and_seqs_never_reused() {
        let (dir, store) = open_temp();
        let id = KeyId::new_random_multi_region();
        let mut b = store.batch();
        assert_eq!(b.enqueue_outbox("eu-west-1", 10, sync(id)).expect("q"), 1);
        assert_eq!(b.enqueue_outbox("eu-west-1", 10, sync(id)).expect("q"), 2);
        assert_eq!(b.enqueue_outbox("us-west-2", 11, sync(id)).expect("q"), 1);
        b.commit().expect("commit");
        let mut b = store.batch();
        let created = OutboxEntry::Sync {
            key_id: id,
            create: Some(StoredReplicaCreate {
                policy: Some("{}".into()),
                description: "d".into(),
                tags: vec![("a".into(), "b".into())],
                bypass_policy_lockout_safety_check: true,
                principal: "arn:aws:iam::111122223333:root".into(),
            }),
        };
        assert_eq!(
            b.enqueue_outbox("eu-west-1", 12, created.clone())
                .expect("q"),
            3
        );
        b.commit().expect("commit");
        let seqs = |s: &Store, r| {
            s.outbox_peek(r, 10)
                .expect("peek")
                .into_iter()
                .map(|(seq, _)| seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(&store, "eu-west-1"), vec![1, 2, 3]);
        assert_eq!(
            store.outbox_peek("eu-west-1", 10).expect("peek")[2].1.entry,
            created
        );
        assert_eq!(seqs(&store, "us-west-2"), vec![1]);
        assert_eq!(store.outbox_peek("eu-west-1", 2).expect("peek").len(), 2);
        let backlog = store.outbox_backlog().expect("backlog");
        assert_eq!(
            backlog,
            vec![
                OutboxBacklog {
                    region: "eu-west-1".into(),
                    pending: 3,
                    oldest_enqueued_ms: Some(10)
                },
                OutboxBacklog {
                    region: "us-west-2".into(),
                    pending: 1,
                    oldest_enqueued_ms: Some(11)
                },
            ]
        );
        let mut b = store.batch();
        b.outbox_ack("eu-west-1", 2);
        b.commit().expect("commit");
        assert_eq!(seqs(&store, "eu-west-1"), vec![3]);
        let mut b = store.batch();
        b.outbox_ack("eu-west-1", u64::MAX);
        b.commit().expect("commit");
        assert!(seqs(&store, "eu-west-1").is_empty());
        assert_eq!(store.outbox_backlog().expect("backlog").len(), 1);
        drop(store);
        // After a reopen the drained queue continues after its last seq.
        let store = Store::open(dir.path()).expect("reopen");
        store
            .set_record_key(crate::secret::KeyMaterial::from_slice(&[3; 32]).expect("32"))
            .expect("record key");
        assert_eq!(seqs(&store, "us-west-2"), vec![1]);
        let mut b = store.batch();
        assert_eq!(b.enqueue_outbox("eu-west-1", 13, sync(id)).expect("q"), 4);
        b.commit().expect("commit");
        // A batch dropped uncommitted allocates nothing.
        let mut b = store.batch();
        assert_eq!(b.enqueue_outbox("eu-west-1", 13, sync(id)).expect("q"), 5);
        drop(b);
        let mut b = store.batch();
        assert_eq!(b.enqueue_outbox("eu-west-1", 13, sync(id)).expect("q"), 5);
        b.commit().expect("commit");
        assert_eq!(seqs(&store, "eu-west-1"), vec![4, 5]);
    }

    #[test]
    fn concurrent_enqueuers_commit_in_seq_order() {
        let (_dir, store) = open_temp();
        let store = Arc::new(store);
        let id = KeyId::new_random_multi_region();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let mut b = store.batch();
                        b.enqueue_outbox("eu-west-1", 1, sync(id)).expect("q");
                        b.commit().expect("commit");
                        // Whatever is visible is a gapless prefix.
                        let seen: Vec<u64> = store
                            .outbox_peek("eu-west-1", 1000)
                            .expect("peek")
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect();
                        assert!(seen.iter().copied().eq(1..=seen.len() as u64));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(
            store.outbox_peek("eu-west-1", 1000).expect("peek").len(),
            100
        );
    }

    #[test]
    fn a_commit_wakes_the_regions_it_enqueued_to() {
        let (_dir, store) = open_temp();
        let id = KeyId::new_random_multi_region();
        let eu = store.outbox_signal("eu-west-1");
        let us = store.outbox_signal("us-west-2");
        let mut b = store.batch();
        b.enqueue_outbox("eu-west-1", 1, sync(id)).expect("q");
        b.commit().expect("commit");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("rt");
        rt.block_on(async {
            // A zero timeout polls the wait once: the commit stored a
            // permit for the Region it enqueued to, and for no other.
            let now = std::time::Duration::ZERO;
            assert!(tokio::time::timeout(now, eu.notified()).await.is_ok());
            assert!(
                tokio::time::timeout(now, us.notified()).await.is_err(),
                "a Region nothing was enqueued to was woken"
            );
        });
    }

    #[test]
    fn high_water_marks_and_the_region_key_round_trip() {
        let (_dir, store) = open_temp();
        assert_eq!(store.inbound_high_water("eu-west-1").expect("get"), 0);
        assert!(store.get_region_key().expect("get").is_none());
        let rec = RegionKeyRecord {
            sealed: crate::model::SealedBlob::new(vec![1, 2, 3]),
            created_ms: 5,
        };
        let mut b = store.batch();
        b.put_inbound_high_water("eu-west-1", 42);
        b.put_region_key(&rec).expect("put");
        b.commit().expect("commit");
        assert_eq!(store.inbound_high_water("eu-west-1").expect("get"), 42);
        assert_eq!(store.inbound_high_water("us-west-2").expect("get"), 0);
        assert_eq!(store.get_region_key().expect("get"), Some(rec));
    }
}
