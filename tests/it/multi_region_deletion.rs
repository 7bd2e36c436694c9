//! Test 10, the whole chain: deleting a primary that has replicas
//! (docs/multi-region.md, "Deletion"). The primary's Region is a real kmsd
//! process; the replica's Region runs in this test process on a manual
//! clock, so its 7-day deletion window can pass: the replica is deleted by
//! its Region's deletion job, which tells the primary (ReplicaDeleted), and
//! the primary, PendingReplicaDeletion with no replica left, starts its own
//! window (PendingDeletion with a DeletionDate).

use std::sync::Arc;
use std::time::Duration;

use kmsd::clock::ManualClock;
use kmsd::kms::KmsConfig;
use kmsd::proto::kms::v1 as pb;
use kmsd::replication::ReplicationConfig;
use kmsd::server::{KmsServer, ServerConfig, TlsPem};
use tonic::Code;

use super::harness::{assert_aws_error, connect, HANG_GUARD};
use super::mr_cluster::{
    create_mr_symmetric, eventually, replicate, try_describe, wait_key, MrCluster, REGIONS,
};

const A: usize = 0;
const B: usize = 1;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_primary_deletion_waits_for_replicas_then_starts_its_window() {
    let mut cl = MrCluster::init(2);

    // Region B in this process, on a manual clock, with the same listeners
    // and peer certificate a `kmsd serve` of slot B would have.
    let clock = ManualClock::starting_now();
    let dir_b = cl.dir(B);
    let mut config = ServerConfig::dev(
        &dir_b,
        KmsConfig {
            region: REGIONS[B].into(),
            ..KmsConfig::default()
        },
        None,
    )
    .expect("dev config");
    let read = |p: std::path::PathBuf| std::fs::read_to_string(&p).expect("pem");
    config.replication = Some(ReplicationConfig {
        peers: [(
            REGIONS[A].to_owned(),
            format!("https://{}", cl.repl_addrs[A]),
        )]
        .into_iter()
        .collect(),
        tls: TlsPem {
            cert: read(cl.peer_dir(B).join("peer.pem")),
            key: read(cl.peer_dir(B).join("peer.key")),
            client_ca: read(cl.peer_ca()),
        },
    });
    let server = KmsServer::open(config, Arc::new(clock.clone())).expect("open B");
    let kms_b = server.kms().clone();
    let main = tokio::net::TcpListener::bind(cl.main_addrs[B])
        .await
        .expect("bind");
    let repl = tokio::net::TcpListener::bind(cl.repl_addrs[B])
        .await
        .expect("bind");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve_with_replication(main, Some(repl), async {
        let _ = stop_rx.await;
    }));

    cl.start_region(A);
    let mut a = cl.client(A).await;
    let certs_b = dir_b.join("certs");
    let mut b = connect(
        cl.main_addrs[B],
        &certs_b.join("ca.pem"),
        &certs_b.join("client.pem"),
        &certs_b.join("client.key"),
    )
    .await;

    let key = create_mr_symmetric(&mut a, "deleted with its replica").await;
    replicate(&mut a, &key, REGIONS[B]).await;
    wait_key(&b, &key, "the replica in B", |m| {
        m.key_state() == pb::KeyState::Enabled
    })
    .await;

    let r = a
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: key.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("ScheduleKeyDeletion on the primary")
        .into_inner();
    assert_eq!(r.key_state(), pb::KeyState::PendingReplicaDeletion);
    let ma = try_describe(&mut a, &key).await.expect("describe");
    assert_eq!(ma.key_state(), pb::KeyState::PendingReplicaDeletion);
    assert!(ma.deletion_date.is_none(), "{ma:?}");

    // The replica's own deletion, in its Region, with its window.
    let rb = b
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: key.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("ScheduleKeyDeletion on the replica")
        .into_inner();
    assert_eq!(rb.key_state(), pb::KeyState::PendingDeletion);

    // Nothing happens to the primary before the replica's window ends.
    let ma = try_describe(&mut a, &key).await.expect("describe");
    assert_eq!(ma.key_state(), pb::KeyState::PendingReplicaDeletion);

    // B's window passes: its deletion job deletes the replica.
    clock.advance(Duration::from_millis((7 * DAY_MS + 1000) as u64));
    let now = kmsd::clock::Clock::now_ms(&clock);
    let pass = tokio::time::timeout(HANG_GUARD, kms_b.wait_job_pass_as_of(now))
        .await
        .expect("B's deletion pass");
    assert!(pass.ok, "{pass:?}");
    let e = try_describe(&mut b, &key)
        .await
        .expect_err("the replica is deleted");
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // The primary learns it and starts its own 7-day window.
    let ma = eventually("the primary to start its deletion window", || {
        let mut a = a.clone();
        let key = key.clone();
        async move {
            let m = try_describe(&mut a, &key)
                .await
                .map_err(|e| format!("{e:?}"))?;
            if m.key_state() == pb::KeyState::PendingDeletion {
                Ok(m)
            } else {
                Err(format!("{m:?}"))
            }
        }
    })
    .await;
    assert!(super::mr_cluster::replica_regions(&ma).is_empty(), "{ma:?}");
    let date = ma
        .deletion_date
        .expect("a DeletionDate once no replica is left");
    let days_ahead = (date.seconds * 1000 - kmsd::clock::Clock::now_ms(&kmsd::clock::SystemClock))
        as f64
        / DAY_MS as f64;
    assert!(
        (6.9..=7.1).contains(&days_ahead),
        "the primary's window is the one it was given (7 days): {days_ahead}"
    );
    // CancelKeyDeletion still works on the primary (→ Disabled).
    a.cancel_key_deletion(pb::CancelKeyDeletionRequest {
        key_id: key.clone(),
    })
    .await
    .expect("cancel");
    let ma = try_describe(&mut a, &key).await.expect("describe");
    assert_eq!(ma.key_state(), pb::KeyState::Disabled);

    cl.stop_region(A);
    let _ = stop_tx.send(());
    served.await.expect("B's task").expect("B served");
}
