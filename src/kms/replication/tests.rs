//! The replication engine between two real cores (each its own RocksDB in
//! its own temp dir, its own root key), joined by an in-process
//! [`PeerTransport`] that hands envelopes to the other core's
//! `apply_replicated`: nothing of storage or apply is mocked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::deliver::pass;
use super::*;
use crate::clock::ManualClock;
use crate::kms::request::{CreateKeyRequest, DecryptRequest, DescribeKeyRequest, EncryptRequest};
use crate::kms::{Caller, Kms, KmsConfig, LockName};
use crate::model::{
    Handoff, HandoffRole, KeyId, KeyRecord, KeyState, MaterialLocation, Principal, RotationType,
};
use crate::secret::{Plaintext, RootKey};
use crate::store::{OutboxEntry, Store, StoredReplicaCreate};

/// Only detects a hang; nothing here measures time.
const HANG_GUARD: Duration = Duration::from_secs(60);
const A: &str = "us-east-1";
const B: &str = "eu-west-1";
const ACCOUNT_ROOT: &str = "arn:aws:iam::111122223333:root";

fn open_core(dir: &std::path::Path, region: &str, root_byte: u8) -> Kms {
    let root = RootKey::from_slice(&[root_byte; 32]).expect("32 bytes");
    let store = Store::open(&dir.join("db")).expect("open store");
    let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
    Kms::new(
        store,
        Arc::new(backend),
        KmsConfig {
            region: region.into(),
            ..Default::default()
        },
        Arc::new(ManualClock::new(1_000_000)),
    )
}

fn caller() -> Caller {
    Caller::new(Principal::parse(ACCOUNT_ROOT).expect("principal"))
}

/// The fake network: `from`'s view of its peers.
struct Fake {
    from: String,
    peers: Mutex<HashMap<String, Kms>>,
    /// Deliveries still to fail (as an unreachable peer).
    fail: AtomicUsize,
    /// Every envelope delivered successfully, in delivery order.
    delivered: Mutex<Vec<Envelope>>,
    /// The last `applied_through` answered.
    applied: tokio::sync::watch::Sender<u64>,
}

impl Fake {
    fn new(from: &str, peers: &[(&str, &Kms)]) -> Arc<Self> {
        Arc::new(Self {
            from: from.into(),
            peers: Mutex::new(
                peers
                    .iter()
                    .map(|(r, k)| ((*r).to_owned(), (*k).clone()))
                    .collect(),
            ),
            fail: AtomicUsize::new(0),
            delivered: Mutex::new(Vec::new()),
            applied: tokio::sync::watch::channel(0).0,
        })
    }

    fn peer(&self, region: &str) -> Result<Kms, PeerError> {
        self.peers
            .lock()
            .expect("lock")
            .get(region)
            .cloned()
            .ok_or_else(|| PeerError::UnknownRegion(region.into()))
    }

    fn delivered_seqs(&self) -> Vec<u64> {
        self.delivered
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.seq)
            .collect()
    }
}

impl PeerTransport for Fake {
    fn regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self.peers.lock().expect("lock").keys().cloned().collect();
        r.sort();
        r
    }

    fn region_key<'a>(&'a self, region: &'a str) -> PeerFuture<'a, [u8; 32]> {
        Box::pin(async move {
            self.peer(region)?
                .region_public_key()
                .await
                .map_err(PeerError::Refused)
        })
    }

    fn check_access<'a>(&'a self, _: &'a str, _: &'a AccessCheck) -> PeerFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn deliver<'a>(&'a self, region: &'a str, entries: Vec<Envelope>) -> PeerFuture<'a, u64> {
        Box::pin(async move {
            let failing = self
                .fail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(PeerError::Unreachable {
                    region: region.into(),
                    detail: "the test cut the link".into(),
                });
            }
            let peer = self.peer(region)?;
            let copy = entries.clone();
            let through = peer
                .apply_replicated(&self.from, entries)
                .await
                .map_err(PeerError::Refused)?;
            self.delivered.lock().expect("lock").extend(copy);
            self.applied.send_replace(through);
            Ok(through)
        })
    }
}

/// Delivers `from`'s queue for `to` until it is empty (the delivery
/// task's own pass, driven by the test).
async fn drain(from: &Kms, transport: &Fake, to: &str) {
    let mut key = None;
    for _ in 0..100 {
        match pass(&from.inner, transport, to, &mut key).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => panic!("delivery failed: {e}"),
        }
    }
    panic!("the queue never drained");
}

/// What ReplicateKey's commit does (docs/multi-region.md step 4): `to`
/// joins the replica list, version + 1, a `Sync` with `create` to `to`.
async fn replicate(kms: &Kms, id: KeyId, to: &'static str) {
    kms.inner
        .blocking(move |inner| {
            let _w = inner.lock(&[LockName::Key(&id)]);
            let mut rec = (*inner.load_key(&id)?.expect("key")).clone();
            let mut b = inner.store.batch();
            let mr = rec.mr.as_mut().expect("multi-Region");
            mr.replica_regions.push(to.into());
            mr.replica_regions.sort();
            mr.version += 1;
            inner.sync_others(&rec, &mut b, &[to])?;
            inner.enqueue(
                &mut b,
                to,
                OutboxEntry::Sync {
                    key_id: id,
                    create: Some(StoredReplicaCreate {
                        description: "the replica".into(),
                        tags: vec![("team".into(), "blue".into())],
                        principal: ACCOUNT_ROOT.into(),
                        ..Default::default()
                    }),
                },
            )?;
            b.put_key(&rec).map_err(KmsError::internal)?;
            b.commit().map_err(KmsError::internal)?;
            inner.cache_put_key(rec);
            Ok(())
        })
        .await
        .expect("replicate");
}

/// What RotateKeyOnDemand on a primary does: a new version, then
/// `shared_changed`, in one batch.
async fn rotate(kms: &Kms, id: KeyId) {
    kms.inner
        .blocking(move |inner| {
            let _w = inner.lock(&[LockName::Key(&id)]);
            let mut rec = (*inner.load_key(&id)?.expect("key")).clone();
            let mut b = inner.store.batch();
            inner.rotate_in_batch(&mut rec, RotationType::OnDemand, &mut b)?;
            rec.rotation.on_demand_count += 1;
            inner.shared_changed(&mut rec, &mut b)?;
            b.put_key(&rec).map_err(KmsError::internal)?;
            b.commit().map_err(KmsError::internal)?;
            inner.cache_put_key(rec);
            Ok(())
        })
        .await
        .expect("rotate");
}

async fn create_mrk(kms: &Kms) -> KeyId {
    kms.create_key(
        &caller(),
        CreateKeyRequest {
            multi_region: true,
            ..Default::default()
        },
    )
    .await
    .expect("create")
    .id
}

async fn encrypt(kms: &Kms, id: KeyId, text: &[u8]) -> Vec<u8> {
    kms.encrypt(
        &caller(),
        EncryptRequest {
            key_id: id.to_string(),
            plaintext: Plaintext::new(text.to_vec()),
            encryption_context: Default::default(),
            grant_tokens: Vec::new(),
            encryption_algorithm: None,
        },
    )
    .await
    .expect("encrypt")
    .ciphertext_blob
}

async fn decrypt(kms: &Kms, blob: &[u8]) -> KmsResult<Vec<u8>> {
    kms.decrypt(
        &caller(),
        DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            ..Default::default()
        },
    )
    .await
    .map(|o| o.plaintext.expose_secret().to_vec())
}

async fn describe(kms: &Kms, id: KeyId) -> KmsResult<Arc<KeyRecord>> {
    kms.describe_key(
        &caller(),
        DescribeKeyRequest {
            key_id: id.to_string(),
            ..Default::default()
        },
    )
    .await
}

fn stored(kms: &Kms, id: KeyId) -> KeyRecord {
    kms.inner.store.get_key(&id).expect("get").expect("present")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_creates_a_replica_that_decrypts_and_follows_rotations() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let t = Fake::new(A, &[(B, &b)]);
    let id = create_mrk(&a).await;
    let before = encrypt(&a, id, b"before replication").await;
    assert!(matches!(describe(&b, id).await, Err(KmsError::NotFound(_))));

    replicate(&a, id, B).await;
    drain(&a, &t, B).await;
    let replica = describe(&b, id).await.expect("the replica exists");
    assert_eq!(replica.state, KeyState::Enabled);
    assert_eq!(replica.description, "the replica");
    assert_eq!(replica.tags.get("team").map(String::as_str), Some("blue"));
    let mr = replica.mr.as_ref().expect("multi-Region");
    assert_eq!((mr.primary_region.as_str(), mr.version), (A, 2));
    assert_eq!(mr.replica_regions, vec![B.to_owned()]);
    assert_eq!(
        b.key_arn(&replica),
        format!("arn:aws:kms:{B}:111122223333:key/{id}")
    );
    // Same material: A's ciphertext opens in B, and B's in A.
    assert_eq!(
        decrypt(&b, &before).await.expect("B decrypts"),
        b"before replication"
    );
    let from_b = encrypt(&b, id, b"sealed in B").await;
    assert_eq!(
        decrypt(&a, &from_b).await.expect("A decrypts"),
        b"sealed in B"
    );
    // The replica counts in its account's keys.
    assert_eq!(
        b.inner
            .store
            .count(crate::store::Counter::Keys("111122223333"))
            .expect("count"),
        1
    );

    rotate(&a, id).await;
    let after = encrypt(&a, id, b"after rotation").await;
    // Not yet replicated: B lacks version 2.
    assert!(decrypt(&b, &after).await.is_err());
    drain(&a, &t, B).await;
    assert_eq!(
        decrypt(&b, &after).await.expect("B decrypts v2"),
        b"after rotation"
    );
    assert_eq!(
        decrypt(&b, &before).await.expect("B decrypts v1"),
        b"before replication"
    );
    let replica = stored(&b, id);
    assert_eq!(replica.current_version, 2);
    assert_eq!(replica.rotation.on_demand_count, 1);
    assert_eq!(replica.mr.as_ref().map(|m| m.version), Some(3));
    let history = b.inner.store.list_rotations(&id, 0, 10).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].version, history[0].rotation_type),
        (2, RotationType::OnDemand)
    );
    // Per-Region fields were left alone by the second Sync.
    assert_eq!(replica.description, "the replica");
    assert!(a.replication_backlog().expect("backlog").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_stale_syncs_change_nothing() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let t = Fake::new(A, &[(B, &b)]);
    let id = create_mrk(&a).await;
    replicate(&a, id, B).await;
    drain(&a, &t, B).await;
    rotate(&a, id).await;
    drain(&a, &t, B).await;
    rotate(&a, id).await;
    drain(&a, &t, B).await;
    let sent: Vec<Envelope> = t.delivered.lock().expect("lock").clone();
    assert_eq!(
        sent.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let settled = stored(&b, id);
    assert_eq!(settled.current_version, 3);

    // The whole stream again (a lost acknowledgement): skipped.
    assert_eq!(b.apply_replicated(A, sent.clone()).await.expect("apply"), 3);
    assert_eq!(stored(&b, id), settled);
    // The older states under new seqs (reordered): stale, ignored.
    let stale: Vec<Envelope> = sent
        .iter()
        .rev()
        .zip(4..)
        .map(|(e, seq)| Envelope {
            seq,
            message: e.message.clone(),
        })
        .collect();
    assert_eq!(b.apply_replicated(A, stale).await.expect("apply"), 6);
    assert_eq!(stored(&b, id), settled);
    assert_eq!(b.inner.store.inbound_high_water(A).expect("mark"), 6);
    // A Sync whose material was sealed for another Region does not open
    // here: refused, nothing applied, the mark unchanged.
    let c = tempfile::tempdir().expect("dir");
    let other = open_core(c.path(), "us-west-2", 3);
    let other_key = other.region_public_key().await.expect("key");
    rotate(&a, id).await;
    let rec = stored(&a, id);
    let misdirected = a
        .inner
        .blocking(move |inner| inner.sync_message(&rec, "us-west-2", &other_key))
        .await
        .expect("compose");
    let e = b
        .apply_replicated(
            A,
            vec![Envelope {
                seq: 7,
                message: Message::Sync(Box::new(misdirected)),
            }],
        )
        .await
        .expect_err("sealed for another Region");
    assert!(matches!(e, KmsError::Internal(_)), "{e}");
    assert_eq!(b.inner.store.inbound_high_water(A).expect("mark"), 6);
    assert_eq!(stored(&b, id), settled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_restart_and_is_delivered_after_it() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let b = open_core(db.path(), B, 2);
    let id = {
        let a = open_core(da.path(), A, 1);
        let id = create_mrk(&a).await;
        replicate(&a, id, B).await;
        rotate(&a, id).await;
        let backlog = a.replication_backlog().expect("backlog");
        assert_eq!(backlog.len(), 1);
        assert_eq!((backlog[0].region.as_str(), backlog[0].pending), (B, 2));
        assert_eq!(backlog[0].oldest_enqueued_ms, Some(1_000_000));
        a.flush().await.expect("flush");
        assert!(a.is_last_handle());
        id
    };
    // Read-only, as `kmsd replication status` opens it.
    let ro = Store::open_read_only(&da.path().join("db")).expect("read-only");
    let root = RootKey::from_slice(&[1; 32]).expect("32 bytes");
    ro.set_record_key(crate::backend::root::derive_key(
        &root,
        crate::backend::root::RECORD_AUTH,
    ))
    .expect("record key");
    assert_eq!(backlog_of(&ro).expect("backlog")[0].pending, 2);
    drop(ro);

    let a = open_core(da.path(), A, 1);
    let t = Fake::new(A, &[(B, &b)]);
    drain(&a, &t, B).await;
    assert_eq!(t.delivered_seqs(), vec![1, 2]);
    assert_eq!(stored(&b, id).current_version, 2);
    // After the queue drained, seqs go on from where they were.
    rotate(&a, id).await;
    drain(&a, &t, B).await;
    assert_eq!(t.delivered_seqs(), vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_peer_gets_everything_in_order_once_it_answers() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let t = Fake::new(A, &[(B, &b)]);
    t.fail.store(4, Ordering::SeqCst);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut applied = t.applied.subscribe();
    let tasks = a.start_replication(Arc::clone(&t) as Arc<dyn PeerTransport>, shutdown);
    assert!(a.inner.peers().is_ok());

    let id = create_mrk(&a).await;
    replicate(&a, id, B).await;
    for _ in 0..3 {
        rotate(&a, id).await;
    }
    tokio::time::timeout(HANG_GUARD, applied.wait_for(|s| *s >= 4))
        .await
        .expect("delivered in time")
        .expect("watch");
    assert_eq!(
        t.fail.load(Ordering::SeqCst),
        0,
        "every failure was retried"
    );
    let seqs = t.delivered_seqs();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seqs.last(), Some(&4));
    assert_eq!(stored(&b, id).current_version, 4);
    let blob = encrypt(&a, id, b"x").await;
    assert_eq!(decrypt(&b, &blob).await.expect("decrypt"), b"x");

    // A later change is delivered by the running task (woken by the
    // commit, no polling).
    rotate(&a, id).await;
    tokio::time::timeout(HANG_GUARD, applied.wait_for(|s| *s >= 5))
        .await
        .expect("delivered in time")
        .expect("watch");
    // The ack follows the answer; wait for the queue to empty.
    tokio::time::timeout(HANG_GUARD, async {
        while !a.replication_backlog().expect("backlog").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("acknowledged");

    stop.send_replace(true);
    for task in tasks {
        tokio::time::timeout(HANG_GUARD, task)
            .await
            .expect("stops on shutdown")
            .expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_core_without_peers_reaches_them() {
    let d = tempfile::tempdir().expect("dir");
    let a = open_core(d.path(), A, 1);
    match a.inner.peers() {
        Err(KmsError::UnsupportedOperation(m)) => assert!(m.contains("no peer Regions"), "{m}"),
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("peers without start_replication"),
    }
    // The Region key is made once and kept across a reopen.
    let pk = a.region_public_key().await.expect("key");
    assert_eq!(a.region_public_key().await.expect("key"), pk);
    drop(a);
    let a = open_core(d.path(), A, 1);
    assert_eq!(a.region_public_key().await.expect("key"), pk);
    // Entries from a sender that is not a Region, or this Region, are refused.
    for bad in ["", "not a region", A] {
        assert!(matches!(
            a.apply_replicated(bad, Vec::new()).await,
            Err(KmsError::Validation(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_hand_over_completes_through_both_outboxes() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let (ta, tb) = (Fake::new(A, &[(B, &b)]), Fake::new(B, &[(A, &a)]));
    let id = create_mrk(&a).await;
    replicate(&a, id, B).await;
    drain(&a, &ta, B).await;

    // UpdatePrimaryRegion step 3 at A (the ops helper's commit).
    a.inner
        .blocking(move |inner| {
            let _w = inner.lock(&[LockName::Key(&id)]);
            let mut rec = (*inner.load_key(&id)?.expect("key")).clone();
            let mut batch = inner.store.batch();
            let mr = rec.mr.as_mut().expect("mr");
            mr.version += 1;
            mr.primary_region = B.into();
            mr.replica_regions = vec![A.into()];
            mr.handoff = Some(Handoff {
                role: HandoffRole::Demoting,
                peer: B.into(),
                version: mr.version,
                prior_state: KeyState::Enabled,
            });
            rec.state = KeyState::Updating;
            inner.enqueue(
                &mut batch,
                B,
                OutboxEntry::Sync {
                    key_id: id,
                    create: None,
                },
            )?;
            batch.put_key(&rec).map_err(KmsError::internal)?;
            batch.commit().map_err(KmsError::internal)?;
            inner.cache_put_key(rec);
            Ok(())
        })
        .await
        .expect("demote");
    drain(&a, &ta, B).await;
    // Step 4: B is primary, Updating, and told A.
    let rb = stored(&b, id);
    assert_eq!(rb.state, KeyState::Updating);
    let mr = rb.mr.as_ref().expect("mr");
    assert!(mr.is_primary_in(B));
    assert_eq!(
        mr.handoff.as_ref().map(|h| h.role),
        Some(HandoffRole::Promoting)
    );
    assert!(!stored(&a, id).mr.as_ref().expect("mr").is_primary_in(A));
    drain(&b, &tb, A).await;
    // Step 5: A is a replica again, Enabled; it acknowledged.
    let ra = stored(&a, id);
    assert_eq!(ra.state, KeyState::Enabled);
    assert!(ra.mr.as_ref().expect("mr").handoff.is_none());
    drain(&a, &ta, B).await;
    // Step 6.
    let rb = stored(&b, id);
    assert_eq!(rb.state, KeyState::Enabled);
    assert!(rb.mr.as_ref().expect("mr").handoff.is_none());
    // The new primary's changes reach the old one.
    rotate(&b, id).await;
    drain(&b, &tb, A).await;
    let blob = encrypt(&b, id, b"from the new primary").await;
    assert_eq!(
        decrypt(&a, &blob).await.expect("decrypt"),
        b"from the new primary"
    );
    // An old Sync from A (no longer primary) is stale at B.
    assert!(b.inner.store.outbox_peek(A, 10).expect("peek").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_replica_leaves_the_lists_and_releases_a_waiting_primary() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let (ta, tb) = (Fake::new(A, &[(B, &b)]), Fake::new(B, &[(A, &a)]));
    let id = create_mrk(&a).await;
    replicate(&a, id, B).await;
    drain(&a, &ta, B).await;
    // The primary waits for its replica (ScheduleKeyDeletion, ops).
    a.inner
        .blocking(move |inner| {
            let _w = inner.lock(&[LockName::Key(&id)]);
            let mut rec = (*inner.load_key(&id)?.expect("key")).clone();
            rec.state = KeyState::PendingReplicaDeletion;
            rec.pending_window_days = Some(7);
            let mut batch = inner.store.batch();
            batch.put_key(&rec).map_err(KmsError::internal)?;
            batch.commit().map_err(KmsError::internal)?;
            inner.cache_put_key(rec);
            Ok(())
        })
        .await
        .expect("pending replica deletion");
    // B's deletion job deleted its replica and told the others.
    b.inner
        .blocking(move |inner| {
            let mut batch = inner.store.batch();
            inner.enqueue(
                &mut batch,
                A,
                OutboxEntry::ReplicaDeleted {
                    key_id: id,
                    region: B.into(),
                },
            )?;
            batch.commit().map_err(KmsError::internal)
        })
        .await
        .expect("deleted");
    drain(&b, &tb, A).await;
    let ra = stored(&a, id);
    assert_eq!(ra.state, KeyState::PendingDeletion);
    assert_eq!(
        ra.deletion_date_ms,
        Some(1_000_000 + 7 * crate::clock::DAY_MS)
    );
    let mr = ra.mr.as_ref().expect("mr");
    assert!(mr.replica_regions.is_empty());
    assert_eq!(mr.version, 3);
    let due = a
        .inner
        .store
        .due(crate::store::Schedule::Deletion, i64::MAX, 10)
        .expect("due");
    assert_eq!(due.len(), 1);
}

/// Material never appears outside its seal: not in what crosses the
/// wire, not in either data directory's files (outbox included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn material_is_never_in_the_clear_on_the_wire_or_on_disk() {
    let (da, db) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (a, b) = (open_core(da.path(), A, 1), open_core(db.path(), B, 2));
    let t = Fake::new(A, &[(B, &b)]);
    let id = create_mrk(&a).await;
    replicate(&a, id, B).await;
    rotate(&a, id).await;
    // The queued entries, as stored, before delivery.
    let queued = a.inner.store.outbox_peek(B, 10).expect("peek");
    assert_eq!(queued.len(), 2);
    drain(&a, &t, B).await;

    let mut secrets = Vec::new();
    for m in a.inner.store.list_materials(&id, 0, 10).expect("list") {
        assert!(matches!(m.location, MaterialLocation::Local { .. }));
        let clear = a
            .inner
            .backend
            .export_for_replication(&id, &m)
            .expect("export");
        secrets.push(clear.expose_secret().to_vec());
    }
    assert_eq!(secrets.len(), 2);
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let wire = format!("{:?}", t.delivered.lock().expect("lock"));
    let mut sealed_bytes = Vec::new();
    for e in t.delivered.lock().expect("lock").iter() {
        if let Message::Sync(s) = &e.message {
            for m in &s.materials {
                let sealed = m.sealed.as_ref().expect("sealed");
                sealed_bytes.extend_from_slice(&sealed.enc);
                sealed_bytes.extend_from_slice(&sealed.ciphertext);
            }
        }
    }
    assert!(!sealed_bytes.is_empty());
    let queued_json =
        serde_json::to_vec(&queued.iter().map(|(_, r)| r).collect::<Vec<_>>()).expect("json");
    a.flush().await.expect("flush");
    b.flush().await.expect("flush");
    let mut disk = Vec::new();
    for dir in [da.path(), db.path()] {
        for entry in std::fs::read_dir(dir.join("db")).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                disk.extend(std::fs::read(&path).expect("read"));
            }
        }
    }
    for s in &secrets {
        assert!(!contains(&sealed_bytes, s), "material on the wire");
        assert!(!contains(wire.as_bytes(), s), "material in Debug");
        assert!(!contains(&queued_json, s), "material in the outbox");
        assert!(!contains(&disk, s), "material on disk");
    }
    // B holds the very same material, sealed under its own root key.
    for (m, clear) in b
        .inner
        .store
        .list_materials(&id, 0, 10)
        .expect("list")
        .iter()
        .zip(&secrets)
    {
        let mine = b
            .inner
            .backend
            .export_for_replication(&id, m)
            .expect("B opens its copy");
        assert_eq!(mine.expose_secret(), &clear[..]);
        assert!(a.inner.backend.export_for_replication(&id, m).is_err());
    }
}
