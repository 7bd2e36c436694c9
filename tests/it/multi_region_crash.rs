//! Multi-Region keys across kill -9 (docs/multi-region.md, "Failure
//! behaviour"): a change and its outbox entries are one synced batch, so a
//! Region killed at any point restarts into a state the outboxes finish;
//! the Regions converge to one consistent family, and UpdatePrimaryRegion
//! never leaves two Regions acting as primary.
//!
//! Three real kmsd processes (`mr_cluster`); the killed one restarts on the
//! same data dir and ports. Convergence is awaited by polling DescribeKey
//! and `kmsd replication status` (no sleeps to synchronise).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kmsd::proto::kms::v1 as pb;
use tonic::Code;

use super::harness::{assert_aws_error, ctx, decrypt, encrypt, Client};
use super::mr_cluster::{
    create_mr_symmetric, eventually, is_primary, mr_view, replica_regions, replicate, try_describe,
    try_replicate, try_update_primary, wait_key, MrCluster, REGIONS,
};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// Waits until no message is still on its way between the Regions: an
/// ordered-delivery barrier (`mr_cluster::replication_barrier`), then
/// every Region's `kmsd replication status` shows an empty backlog.
async fn wait_no_backlog(cl: &MrCluster) {
    super::mr_cluster::replication_barrier(cl).await;
    for i in 0..cl.regions.len() {
        eventually(&format!("{}'s backlog to drain", cl.regions[i]), || async {
            let b = cl.try_backlog(i)?;
            if b.values().all(|&n| n == 0) {
                Ok(())
            } else {
                Err(format!("{b:?}"))
            }
        })
        .await;
    }
}

/// Checks that the family of `key` (primary in slot `primary`) is one
/// consistent state: the primary's replica list is exactly the Regions
/// holding a replica; every replica is Enabled, names the same primary and
/// the same list, and has the primary's current material.
async fn family_consistent(
    cl: &MrCluster,
    clients: &mut [Client],
    key: &str,
    primary: usize,
) -> Result<Vec<String>, String> {
    let pm = try_describe(&mut clients[primary], key)
        .await
        .map_err(|e| format!("primary: {e:?}"))?;
    if !is_primary(&pm) {
        return Err(format!("{} is not primary: {pm:?}", cl.regions[primary]));
    }
    let listed = replica_regions(&pm);
    let view = mr_view(&pm);
    for i in (0..cl.regions.len()).filter(|&i| i != primary) {
        let r = try_describe(&mut clients[i], key).await;
        let region = &cl.regions[i];
        match r {
            Ok(m) => {
                if !listed.contains(region) {
                    return Err(format!(
                        "{region} holds a replica its primary does not list"
                    ));
                }
                let v = mr_view(&m);
                if m.key_state() != pb::KeyState::Enabled
                    || v.primary != view.primary
                    || v.replicas != view.replicas
                    || v.key_type != pb::MultiRegionKeyType::Replica
                    || m.current_key_material_id != pm.current_key_material_id
                {
                    return Err(format!("{region}: {m:?}\nprimary: {pm:?}"));
                }
            }
            Err(e) if e.code() == Code::NotFound => {
                if listed.contains(region) {
                    return Err(format!("{region} is listed but has no replica yet"));
                }
            }
            Err(e) => return Err(format!("{region}: {e:?}")),
        }
    }
    if pm.key_state() != pb::KeyState::Enabled {
        return Err(format!("primary not Enabled: {pm:?}"));
    }
    Ok(listed)
}

/// Test 5: kill -9 of the primary while many ReplicateKey calls are in
/// flight (and right after some returned, before their delivery), then a
/// restart: every Region agrees on every key's replica list, each replica
/// that exists decrypts the primary's ciphertexts, no replica exists that
/// its primary does not list, and every call that returned success
/// survived. Plus a deterministic case: the list update for a Region that
/// is down waits in the killed primary's outbox and arrives after both
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_kill_primary_during_replicate_key_converges() {
    let mut cl = MrCluster::start(3);
    let mut a = cl.client(A).await;
    let context = ctx(&[("crash", "replicate")]);

    // Deterministic part first: K0 has a replica in B; B stops; K0 gets a
    // replica in C, whose list update for B must wait in A's outbox; A is
    // killed; B and A come back; B learns C.
    let k0 = create_mr_symmetric(&mut a, "k0").await;
    replicate(&mut a, &k0, REGIONS[B]).await;
    let b = cl.client(B).await;
    wait_key(&b, &k0, "K0 in B", |m| {
        m.key_state() == pb::KeyState::Enabled
    })
    .await;
    cl.stop_region(B);
    replicate(&mut a, &k0, REGIONS[C]).await;
    cl.kill_region(A);
    cl.start_region(B);
    cl.start_region(A);

    // The racy part: 8 keys, 16 ReplicateKey calls at once; A is killed as
    // soon as the first one returns.
    let mut keys = Vec::new();
    let mut blobs = HashMap::new();
    for n in 0..8 {
        let k = create_mr_symmetric(&mut a, &format!("k{n}")).await;
        let msg = format!("secret {n}").into_bytes();
        blobs.insert(k.clone(), (encrypt(&mut a, &k, &msg, &context).await, msg));
        keys.push(k);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for k in &keys {
        for region in [REGIONS[B], REGIONS[C]] {
            let mut a = a.clone();
            let (k, tx) = (k.clone(), tx.clone());
            tasks.spawn(async move {
                let r = try_replicate(&mut a, &k, region).await;
                let _ = tx.send(r.is_ok());
                (k, region, r)
            });
        }
    }
    drop(tx);
    // The first answer (success or not) is the signal: the calls are in
    // flight, some have committed, some may not have been delivered.
    let first = rx.recv().await.expect("an answer");
    cl.kill_region(A);
    let mut succeeded: Vec<(String, &str)> = Vec::new();
    let mut failed = 0;
    while let Some(r) = tasks.join_next().await {
        let (k, region, r) = r.expect("task");
        match r {
            Ok(_) => succeeded.push((k, region)),
            Err(_) => failed += 1,
        }
    }
    eprintln!(
        "kill -9 during ReplicateKey: first answer ok={first}, {} succeeded, {failed} failed",
        succeeded.len()
    );

    cl.start_region(A);
    let mut clients = vec![cl.client(A).await, cl.client(B).await, cl.client(C).await];
    // Converge: every key's family consistent, and nothing left in flight
    // (then check once more: a late message would show here).
    for k in keys.iter().chain([&k0]) {
        eventually(&format!("the family of {k} to converge"), || {
            let mut cs = clients.clone();
            let (cl, k) = (&cl, k.clone());
            async move { family_consistent(cl, &mut cs, &k, A).await }
        })
        .await;
    }
    wait_no_backlog(&cl).await;
    for k in keys.iter().chain([&k0]) {
        let listed = family_consistent(&cl, &mut clients, k, A)
            .await
            .unwrap_or_else(|e| panic!("{k} after the outboxes drained: {e}"));
        // A call that returned success committed before it returned.
        for (sk, region) in &succeeded {
            if sk == k {
                assert!(listed.iter().any(|r| r == region), "{k}: {region} lost");
            }
        }
        if let Some((blob, msg)) = blobs.get(k) {
            for (i, c) in clients.iter_mut().enumerate() {
                if i == A || listed.contains(&cl.regions[i]) {
                    assert_eq!(&decrypt(c, blob, &context).await, msg, "{}", cl.regions[i]);
                }
            }
        }
    }
    let k0_list = family_consistent(&cl, &mut clients, &k0, A)
        .await
        .expect("k0");
    assert_eq!(k0_list, vec![REGIONS[C].to_owned(), REGIONS[B].to_owned()]);
    // A refused-then-retried ReplicateKey works after the crash: any key
    // not yet in C can be replicated now.
    for k in &keys {
        let m = try_describe(&mut clients[A], k).await.expect("describe");
        if !replica_regions(&m).iter().any(|r| r == REGIONS[C]) {
            replicate(&mut clients[A], k, REGIONS[C]).await;
        } else {
            let e = try_replicate(&mut clients[A], k, REGIONS[C])
                .await
                .expect_err("already there");
            assert_aws_error(&e, Code::AlreadyExists, "AlreadyExistsException");
        }
    }
}

/// One DescribeKey answer of the sampler: (key, Region slot, reports
/// PRIMARY).
type Sample = (String, usize, bool);

/// Samples DescribeKey of `keys` in every Region, one after another, until
/// `stop`; a Region that is down (or restarting) gives no sample.
async fn sample(
    clients: Vec<Client>,
    keys: Vec<String>,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<Sample>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        for k in &keys {
            for (i, c) in clients.iter().enumerate() {
                let mut c = c.clone();
                let r = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    try_describe(&mut c, k),
                )
                .await;
                if let Ok(Ok(m)) = r {
                    out.lock().unwrap_or_else(|p| p.into_inner()).push((
                        k.clone(),
                        i,
                        is_primary(&m),
                    ));
                }
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Whether, in the time-ordered samples of one key, two Regions were ever
/// primary at the same moment. The samples are sequential (one answer
/// before the next request), so "X PRIMARY, then Y PRIMARY, then X PRIMARY
/// again" proves an overlap: during one UpdatePrimaryRegion each Region is
/// primary for one unbroken stretch of time (the old one until its demotion
/// commits, the new one from its promotion on), so X was primary throughout
/// Y's answer. Equivalently, the Regions reporting PRIMARY must form runs
/// (A…A B…B), each Region in at most one run. Two PRIMARY answers next to
/// each other from different Regions are not proof (the hand-over may
/// happen between them) and are allowed.
fn primaries_overlap(samples: &[Sample], key: &str) -> Option<String> {
    let seq: Vec<usize> = samples
        .iter()
        .filter(|(k, _, p)| k == key && *p)
        .map(|(_, i, _)| *i)
        .collect();
    let mut finished = BTreeSet::new();
    let mut current = None;
    for &i in &seq {
        if current != Some(i) {
            if finished.contains(&i) {
                return Some(format!("PRIMARY answers of {key} by Region slot: {seq:?}"));
            }
            if let Some(c) = current {
                finished.insert(c);
            }
            current = Some(i);
        }
    }
    None
}

/// Test 6: kill -9 during UpdatePrimaryRegion, both ways: the old primary
/// right after the call returned (its demotion committed, the promotion
/// message maybe not sent), and the new primary right after the call
/// returned (before or after it applied the promotion). After restarts
/// exactly one Region reports PRIMARY, the one asked for, and a sampler
/// running throughout never saw two Regions acting as primary at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_kill_during_update_primary_region_never_two_primaries() {
    let mut cl = MrCluster::start(3);
    let mut a = cl.client(A).await;
    let clients = vec![a.clone(), cl.client(B).await, cl.client(C).await];
    let k1 = create_mr_symmetric(&mut a, "swap, old primary killed").await;
    let k2 = create_mr_symmetric(&mut a, "swap, new primary killed").await;
    for k in [&k1, &k2] {
        replicate(&mut a, k, REGIONS[B]).await;
        replicate(&mut a, k, REGIONS[C]).await;
    }
    let mut cs = clients.clone();
    for k in [&k1, &k2] {
        eventually("the families to form", || {
            let mut cs = cs.clone();
            let (cl, k) = (&cl, k.clone());
            async move {
                let l = family_consistent(cl, &mut cs, &k, A).await?;
                if l.len() == 2 {
                    Ok(())
                } else {
                    Err(format!("{l:?}"))
                }
            }
        })
        .await;
    }
    let context = ctx(&[("crash", "swap")]);
    let blob1 = encrypt(&mut a, &k1, b"one", &context).await;
    let blob2 = encrypt(&mut a, &k2, b"two", &context).await;

    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = tokio::spawn(sample(
        clients.clone(),
        vec![k1.clone(), k2.clone()],
        Arc::clone(&stop),
        Arc::clone(&samples),
    ));

    // K1: A → B, A killed right after the call returns.
    try_update_primary(&mut a, &k1, REGIONS[B])
        .await
        .expect("UpdatePrimaryRegion K1 to B");
    cl.kill_region(A);
    cl.start_region(A);
    eventually("K1's swap to finish", || {
        let mut cs = cs.clone();
        let (cl, k) = (&cl, k1.clone());
        async move { family_consistent(cl, &mut cs, &k, B).await }
    })
    .await;

    // K2: A → C, C killed right after the call returns.
    try_update_primary(&mut a, &k2, REGIONS[C])
        .await
        .expect("UpdatePrimaryRegion K2 to C");
    cl.kill_region(C);
    // While C is down, A already refuses to act as K2's primary.
    let m = try_describe(&mut a, &k2).await.expect("describe K2 in A");
    assert!(!is_primary(&m), "A still primary after the call: {m:?}");
    cl.start_region(C);
    eventually("K2's swap to finish", || {
        let mut cs = cs.clone();
        let (cl, k) = (&cl, k2.clone());
        async move { family_consistent(cl, &mut cs, &k, C).await }
    })
    .await;
    wait_no_backlog(&cl).await;

    // Stop sampling only after some rounds over the settled state.
    let settled = samples.lock().unwrap_or_else(|p| p.into_inner()).len();
    eventually("more samples after settling", || {
        let samples = Arc::clone(&samples);
        async move {
            let n = samples.lock().unwrap_or_else(|p| p.into_inner()).len();
            if n >= settled + 12 {
                Ok(())
            } else {
                Err(format!("{n} samples"))
            }
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (k, primary) in [(&k1, B), (&k2, C)] {
        assert!(
            samples
                .iter()
                .any(|(sk, i, p)| sk == k && *i == primary && *p),
            "the sampler never saw {k}'s new primary"
        );
        if let Some(what) = primaries_overlap(&samples, k) {
            panic!("two Regions acted as primary of {k} at once: {what}");
        }
        // Exactly one primary now, the one asked for.
        for (i, c) in cs.iter_mut().enumerate() {
            let m = try_describe(c, k).await.expect("describe");
            assert_eq!(
                is_primary(&m),
                i == primary,
                "{k} in {}: {m:?}",
                cl.regions[i]
            );
            assert_eq!(mr_view(&m).primary.1, REGIONS[primary]);
        }
    }
    // The swapped keys still decrypt everywhere, and the new primaries
    // act as primaries.
    for c in cs.iter_mut() {
        assert_eq!(decrypt(c, &blob1, &context).await, b"one");
        assert_eq!(decrypt(c, &blob2, &context).await, b"two");
    }
    cs[B]
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: k1.clone() })
        .await
        .expect("the new primary of K1 rotates");
    cs[C]
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest { key_id: k2.clone() })
        .await
        .expect("the new primary of K2 rotates");
}

#[test]
fn overlap_detector_flags_only_proven_overlaps() {
    let s = |v: &[(usize, bool)]| -> Vec<Sample> {
        v.iter().map(|&(i, p)| ("k".to_owned(), i, p)).collect()
    };
    // A hand-over between two answers: fine.
    assert_eq!(
        primaries_overlap(&s(&[(0, true), (1, true), (1, true)]), "k"),
        None
    );
    assert_eq!(
        primaries_overlap(&s(&[(0, true), (1, false), (0, false), (1, true)]), "k"),
        None
    );
    // A, B, A: A was primary throughout B's answer.
    assert!(primaries_overlap(&s(&[(0, true), (1, true), (2, false), (0, true)]), "k").is_some());
    // Other keys' samples do not count.
    let mut v = s(&[(0, true), (0, true)]);
    v.insert(1, ("other".to_owned(), 1, true));
    assert_eq!(primaries_overlap(&v, "k"), None);
}
