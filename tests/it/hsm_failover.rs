//! HSM key stores when cluster nodes die and return: a SIGKILLed node
//! under load costs no call; a node that was down catches up on keys made
//! and destroyed meanwhile and then serves them alone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kmsd::proto::kms::v1 as pb;
use tonic::Code;

use crate::harness::*;
use crate::hsm_cluster::HsmCluster;
use crate::hsm_kms::*;

const EIGHT_DAYS: std::time::Duration = std::time::Duration::from_secs(8 * 24 * 60 * 60);

/// Successful GenerateDataKey+Decrypt rounds wanted before the kill.
const ROUNDS_BEFORE: u64 = 20;
/// Successful rounds that started after the kill, before the load stops.
const ROUNDS_AFTER: u64 = 200;
/// Concurrent callers.
const TASKS: usize = 4;

/// Two nodes, kmsd connected, several callers looping GenerateDataKey and
/// Decrypt of its result; one node is SIGKILLed mid-stream. Not one call
/// fails, and calls keep succeeding after the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_sigkill_of_one_node_under_load_fails_no_call() {
    let mut cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "failover", &cluster).await;
    connect_ok(&mut c, &store).await;
    let key = create_hsm_key(&mut c, &store).await.key_id;

    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let after_kill = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let (progress, mut watch) = tokio::sync::watch::channel((0u64, 0u64));
    let progress = Arc::new(progress);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let mut c = server.client().await;
        let (key, stop, killed, after_kill, failures, progress) = (
            key.clone(),
            Arc::clone(&stop),
            Arc::clone(&killed),
            Arc::clone(&after_kill),
            Arc::clone(&failures),
            Arc::clone(&progress),
        );
        tasks.push(tokio::spawn(async move {
            let context = ctx(&[("task", &t.to_string())]);
            while !stop.load(Ordering::SeqCst) {
                let started_after_kill = killed.load(Ordering::SeqCst);
                let dk = c
                    .generate_data_key(pb::GenerateDataKeyRequest {
                        key_id: key.clone(),
                        key_spec: pb::DataKeySpec::Aes256 as i32,
                        encryption_context: context.clone(),
                        ..Default::default()
                    })
                    .await;
                let dk = match dk {
                    Ok(r) => r.into_inner(),
                    Err(e) => {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("GenerateDataKey: {e:?}"));
                        continue;
                    }
                };
                match try_decrypt(&mut c, &dk.ciphertext_blob, &context).await {
                    Ok(r) if r.plaintext == dk.plaintext => {}
                    Ok(_) => {
                        failures
                            .lock()
                            .unwrap()
                            .push("Decrypt returned another plaintext".into());
                        continue;
                    }
                    Err(e) => {
                        failures.lock().unwrap().push(format!("Decrypt: {e:?}"));
                        continue;
                    }
                }
                if started_after_kill {
                    after_kill.fetch_add(1, Ordering::SeqCst);
                }
                progress.send_modify(|(all, after)| {
                    *all += 1;
                    if started_after_kill {
                        *after += 1;
                    }
                });
            }
        }));
    }

    tokio::time::timeout(HANG_GUARD, watch.wait_for(|(all, _)| *all >= ROUNDS_BEFORE))
        .await
        .expect("the load made no progress before the kill")
        .expect("progress channel");
    // SIGKILL node 1 and wait until the process is gone.
    tokio::task::block_in_place(|| cluster.kill_node(0));
    killed.store(true, Ordering::SeqCst);
    tokio::time::timeout(
        HANG_GUARD,
        watch.wait_for(|(_, after)| *after >= ROUNDS_AFTER),
    )
    .await
    .expect("the load made no progress after the kill")
    .expect("progress channel");
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("load task");
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed calls, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(after_kill.load(Ordering::SeqCst) >= ROUNDS_AFTER);
    // The store is still CONNECTED (one node left is a degraded cluster,
    // not a disconnected store).
    let e = describe_store(&mut c, &store).await;
    assert_eq!(
        e.connection_state(),
        pb::ConnectionStateType::Connected,
        "{e:?}"
    );
}

/// Three nodes (a new key needs two durable copies). Node 3 stops; K2 is
/// made and K1 really deleted; node 3 returns and catches up (checked on
/// node 3 directly); nodes 1 and 2 stop; kmsd decrypts a K2 ciphertext
/// through node 3 alone, and K1's HSM key is gone from node 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_returning_node_catches_up_and_serves_alone() {
    let mut cluster = HsmCluster::start(&new_cluster_id(), 3);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "catch-up", &cluster).await;
    connect_ok(&mut c, &store).await;

    let k1 = create_hsm_key(&mut c, &store).await.key_id;
    // Node 3 holds K1 before it goes down (replication to a third node
    // may trail the acknowledgement).
    wait_keys_on_node(&cluster, 2, &k1, |k| k.len() == 1).await;
    let status = cluster.nodes[2].take().expect("node 3").terminate();
    assert!(status.success(), "node 3 exit on SIGTERM: {status:?}");

    let k2 = create_hsm_key(&mut c, &store).await.key_id;
    let ctx2 = ctx(&[("made", "while node 3 was down")]);
    let blob2 = encrypt(&mut c, &k2, b"catch me up", &ctx2).await;

    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: k1.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule deletion of K1");
    server.clock.advance(EIGHT_DAYS);
    server.background_pass().await;
    let e = c
        .describe_key(pb::DescribeKeyRequest {
            key_id: k1.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    let mut node1 = HsmSession::login(&cluster, 0).await;
    assert!(node1.find(&k1).await.is_empty(), "K1 still on node 1");

    cluster.start_node(2);
    wait_keys_on_node(&cluster, 2, &k2, |k| k.len() == 1).await;
    wait_keys_on_node(&cluster, 2, &k1, |k| k.is_empty()).await;

    for i in [0, 1] {
        let status = cluster.nodes[i].take().expect("node").terminate();
        assert!(
            status.success(),
            "node {} exit on SIGTERM: {status:?}",
            i + 1
        );
    }
    let r = try_decrypt(&mut c, &blob2, &ctx2)
        .await
        .unwrap_or_else(|e| panic!("decrypt K2's ciphertext with node 3 alone: {e:?}"));
    assert_eq!(r.plaintext, b"catch me up");
    let mut node3 = HsmSession::login(&cluster, 2).await;
    assert!(node3.find(&k1).await.is_empty(), "K1 back on node 3");
    assert_eq!(node3.find(&k2).await.len(), 1);
}
