//! kmsd's HSM key-material backend (`kmsd::backend::hsm`) against real
//! hsm-sim clusters (tests/it/hsm_cluster.rs): connecting and its failure
//! codes, the trust anchor check, AEAD through the cluster, failover when a
//! node is SIGKILLed under load, re-use of a restarted node, disconnect and
//! reconnect.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kmsd::backend::hsm::{ConnectFailure, HsmKeyStore, HsmStoreConfig, TrustAnchorError};
use kmsd::backend::{BackendError, MaterialBackend, MaterialHandle};
use kmsd::model::{KeyId, KeySpec, MaterialLocation, MaterialOrigin};
use kmsd::secret::Password;

use super::harness::HANG_GUARD;
use super::hsm_cluster::{free_port, HsmCluster, PASSWORD};

const STORE: &str = "cks-0123456789abcdef0";

fn config_for(cluster_id: &str, nodes: &[String], anchor: &str, password: &str) -> HsmStoreConfig {
    HsmStoreConfig {
        cluster_id: cluster_id.to_owned(),
        nodes: nodes.to_vec(),
        trust_anchor_pem: anchor.to_owned(),
        password: Password::new(password.to_owned()),
    }
}

fn config(cluster: &HsmCluster) -> HsmStoreConfig {
    config_for(
        &cluster.cluster_id,
        &cluster.addrs,
        &cluster.ca_pem(),
        PASSWORD,
    )
}

/// Starts a cluster of `n` nodes off the async worker threads (process
/// spawns and ready-line waits block).
fn start_cluster(cluster_id: &str, n: usize) -> HsmCluster {
    tokio::task::block_in_place(|| HsmCluster::start(cluster_id, n))
}

/// A connected store over `cluster`.
async fn connected(cluster: &HsmCluster) -> Arc<HsmKeyStore> {
    let store = HsmKeyStore::new(STORE);
    store.connect(config(cluster)).await.expect("connect");
    assert!(store.is_connected());
    store
}

/// A new HSM key of `store` (through `MaterialBackend::generate`, on the
/// blocking pool as the core calls it) and its loaded handle.
async fn new_key(store: &Arc<HsmKeyStore>) -> (KeyId, Arc<dyn MaterialHandle>, String) {
    let key_id = KeyId::new_random();
    let s = Arc::clone(store);
    let record = tokio::task::spawn_blocking(move || {
        s.generate(&key_id, 1, KeySpec::SymmetricDefault, 1_000)
    })
    .await
    .expect("join")
    .expect("generate");
    assert_eq!(record.origin, MaterialOrigin::Hsm);
    assert_eq!(record.version, 1);
    let handle = match &record.location {
        MaterialLocation::Hsm {
            custom_key_store_id,
            handle,
        } => {
            assert_eq!(custom_key_store_id, STORE);
            handle.clone()
        }
        other => panic!("not an HSM location: {other:?}"),
    };
    let loaded = store.load(&key_id, &record).expect("load");
    (key_id, loaded, handle)
}

async fn seal(h: &Arc<dyn MaterialHandle>, aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, BackendError> {
    h.remote().expect("remote").seal(aad, pt).await
}

async fn open(h: &Arc<dyn MaterialHandle>, aad: &[u8], ct: &[u8]) -> Result<Vec<u8>, BackendError> {
    h.remote()
        .expect("remote")
        .open(aad, ct)
        .await
        .map(|p| p.expose_secret().to_vec())
}

/// Polls `cond` until it holds (a state with no event to await: the
/// re-dial task's view of a node), failing after the hang guard.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG_GUARD, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn seal_and_open_run_in_the_cluster() {
    let cluster = start_cluster("cluster-rt000000001", 2);
    let store = connected(&cluster).await;
    let (_, h, hsm_handle) = new_key(&store).await;
    let ct = seal(&h, b"aad", b"a data key").await.expect("seal");
    assert_eq!(ct.len(), 12 + b"a data key".len() + 16);
    assert!(!ct.windows(10).any(|w| w == b"a data key"));
    assert_eq!(open(&h, b"aad", &ct).await.expect("open"), b"a data key");
    // Two seals of one plaintext differ (fresh nonces).
    assert_ne!(seal(&h, b"aad", b"a data key").await.expect("seal"), ct);

    // Authentication failures are opaque crypto errors, not outages.
    assert!(matches!(
        open(&h, b"other aad", &ct).await,
        Err(BackendError::Crypto(_))
    ));
    let mut tampered = ct.clone();
    tampered[14] ^= 1;
    assert!(matches!(
        open(&h, b"aad", &tampered).await,
        Err(BackendError::Crypto(_))
    ));

    // Destroyed: the key is gone from every node; destroying again is
    // success.
    store.destroy_key(&hsm_handle).await.expect("destroy");
    assert!(matches!(
        open(&h, b"aad", &ct).await,
        Err(BackendError::CorruptRecord { version: 1, .. })
    ));
    store.destroy_key(&hsm_handle).await.expect("destroy again");

    // Only symmetric keys live in an HSM key store.
    let s = Arc::clone(&store);
    let refused = tokio::task::spawn_blocking(move || {
        s.generate(&KeyId::new_random(), 1, KeySpec::Hmac256, 0)
    })
    .await
    .expect("join");
    assert!(matches!(refused, Err(BackendError::Unsupported { .. })));
    store.disconnect().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_invalid_credentials_then_locked_out() {
    let mut cluster = tokio::task::block_in_place(|| HsmCluster::init("cluster-pw000000001", 2));
    tokio::task::block_in_place(|| {
        cluster.start_node_with(0, &["--max-login-failures", "3"]);
        cluster.start_node_with(1, &["--max-login-failures", "3"]);
    });
    let store = HsmKeyStore::new(STORE);
    let wrong = || {
        config_for(
            &cluster.cluster_id,
            &cluster.addrs,
            &cluster.ca_pem(),
            "not-the-password",
        )
    };
    assert_eq!(
        store.connect(wrong()).await,
        Err(ConnectFailure::InvalidCredentials)
    );
    assert!(!store.is_connected());
    // Each connect costs one failed login (kmsd does not retry a refused
    // login, nor try it on the other node): locked after three.
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(store.connect(wrong()).await);
    }
    let refused = 1 + outcomes
        .iter()
        .take_while(|o| **o == Err(ConnectFailure::InvalidCredentials))
        .count();
    assert!(
        (2..=3).contains(&refused),
        "three failed logins lock kmsuser: {outcomes:?}"
    );
    assert!(
        outcomes[refused - 1..]
            .iter()
            .all(|o| *o == Err(ConnectFailure::UserLockedOut)),
        "{outcomes:?}"
    );
    // Locked means locked, whatever the password.
    assert_eq!(
        store.connect(config(&cluster)).await,
        Err(ConnectFailure::UserLockedOut)
    );
    assert!(!store.is_connected());
}

#[tokio::test(flavor = "multi_thread")]
async fn fewer_than_two_active_hsms_cannot_connect() {
    let one = start_cluster("cluster-one00000001", 1);
    let store = HsmKeyStore::new(STORE);
    assert_eq!(
        store.connect(config(&one)).await,
        Err(ConnectFailure::InsufficientHsms)
    );
    // A two-node cluster with one node down.
    let mut half = tokio::task::block_in_place(|| HsmCluster::init("cluster-half0000001", 2));
    tokio::task::block_in_place(|| half.start_node(0));
    assert_eq!(
        store.connect(config(&half)).await,
        Err(ConnectFailure::InsufficientHsms)
    );
    assert!(!store.is_connected());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_cluster_id_or_no_node_is_refused() {
    let cluster = start_cluster("cluster-id000000001", 2);
    let store = HsmKeyStore::new(STORE);
    let other = config_for(
        "cluster-id000000002",
        &cluster.addrs,
        &cluster.ca_pem(),
        PASSWORD,
    );
    assert_eq!(
        store.connect(other).await,
        Err(ConnectFailure::ClusterNotFound)
    );
    // Nothing listening.
    let nowhere = vec![
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    ];
    let config = config_for(&cluster.cluster_id, &nowhere, &cluster.ca_pem(), PASSWORD);
    assert_eq!(
        store.connect(config).await,
        Err(ConnectFailure::NetworkErrors)
    );
    assert!(!store.is_connected());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_certified_by_another_ca_is_refused() {
    // Two clusters with the same id and password but their own CAs: only
    // the certificate tells them apart.
    let a = start_cluster("cluster-same0000001", 2);
    let b = start_cluster("cluster-same0000001", 2);
    let anchor = a.ca_pem();
    assert_eq!(
        HsmKeyStore::check_trust_anchor(&a.addrs, &anchor).await,
        Ok(())
    );
    assert_eq!(
        HsmKeyStore::check_trust_anchor(&b.addrs, &anchor).await,
        Err(TrustAnchorError::Incorrect)
    );
    let mixed = vec![a.addrs[0].clone(), b.addrs[0].clone()];
    assert_eq!(
        HsmKeyStore::check_trust_anchor(&mixed, &anchor).await,
        Err(TrustAnchorError::Incorrect)
    );
    let nowhere = vec![format!("127.0.0.1:{}", free_port())];
    assert_eq!(
        HsmKeyStore::check_trust_anchor(&nowhere, &anchor).await,
        Err(TrustAnchorError::Unreachable)
    );
    assert_eq!(
        HsmKeyStore::check_trust_anchor(&a.addrs, "not a pem").await,
        Err(TrustAnchorError::Malformed)
    );

    // Only B's nodes: none is accepted.
    let store = HsmKeyStore::new(STORE);
    assert_eq!(
        store
            .connect(config_for(&a.cluster_id, &b.addrs, &anchor, PASSWORD))
            .await,
        Err(ConnectFailure::NetworkErrors)
    );
    // A's first node and B's first node: connected through A's node alone.
    // With A's node gone, calls fail rather than reach B's node (which
    // would accept the same login).
    let mut a = a;
    let nodes = vec![a.addrs[0].clone(), b.addrs[0].clone()];
    store
        .connect(config_for(&a.cluster_id, &nodes, &anchor, PASSWORD))
        .await
        .expect("connect through A's node");
    let (_, h, _) = new_key(&store).await;
    let ct = seal(&h, b"", b"pt").await.expect("seal");
    tokio::task::block_in_place(|| a.kill_node(0));
    assert!(matches!(
        open(&h, b"", &ct).await,
        Err(BackendError::Unavailable(_))
    ));
    store.disconnect().await;
}

/// Runs `tasks` loops of seal + open on `h` until `stop`; counts the round
/// trips, records every failure.
struct Load {
    done: Arc<AtomicU64>,
    progress: Arc<tokio::sync::Notify>,
    failures: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(h: &Arc<dyn MaterialHandle>, tasks: usize) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let progress = Arc::new(tokio::sync::Notify::new());
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..tasks)
            .map(|t| {
                let (h, done, progress, failures, stop) = (
                    Arc::clone(h),
                    Arc::clone(&done),
                    Arc::clone(&progress),
                    Arc::clone(&failures),
                    Arc::clone(&stop),
                );
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let pt = format!("task {t} call {i}");
                        let aad = i.to_be_bytes();
                        let outcome = match seal(&h, &aad, pt.as_bytes()).await {
                            Ok(ct) => open(&h, &aad, &ct).await.map(|back| back == pt.as_bytes()),
                            Err(e) => Err(e),
                        };
                        match outcome {
                            Ok(true) => {}
                            Ok(false) => failures
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("task {t} call {i}: wrong plaintext")),
                            Err(e) => failures
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("task {t} call {i}: {e}")),
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                        progress.notify_waiters();
                        i += 1;
                    }
                })
            })
            .collect();
        Self {
            done,
            progress,
            failures,
            stop,
            tasks,
        }
    }

    /// Waits until `more` further round trips have completed.
    async fn wait_for(&self, more: u64) {
        let target = self.done.load(Ordering::Relaxed) + more;
        tokio::time::timeout(HANG_GUARD, async {
            loop {
                let notified = self.progress.notified();
                if self.done.load(Ordering::Relaxed) >= target {
                    return;
                }
                notified.await;
            }
        })
        .await
        .expect("the load made no progress");
    }

    async fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("load task");
        }
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_a_node_under_load_fails_no_call_and_a_restarted_node_is_used_again() {
    let mut cluster = start_cluster("cluster-fo000000001", 2);
    let store = connected(&cluster).await;
    let (_, h, _) = new_key(&store).await;
    let load = Load::start(&h, 6);
    load.wait_for(200).await;

    tokio::task::block_in_place(|| cluster.kill_node(0));
    load.wait_for(300).await;
    // Round-robin reached the dead node and took it out of rotation.
    assert_eq!(store.live_nodes(), 1);

    // Restarted, node 1 is re-dialled and logged in again…
    tokio::task::block_in_place(|| cluster.start_node(0));
    eventually("the restarted node back in use", || store.live_nodes() == 2).await;
    load.wait_for(200).await;
    // … and carries the load alone once the other node dies.
    tokio::task::block_in_place(|| cluster.kill_node(1));
    load.wait_for(300).await;
    let failures = load.finish().await;
    assert!(
        failures.is_empty(),
        "{} failed calls, first: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(store.live_nodes(), 1);
    // With one of two nodes, no new key can be made durable: the node
    // answers "insufficient HSMs" (it is slow, waiting for its peer, not
    // dead) and kmsd says so.
    match store.generate_key("k").await {
        Err(BackendError::Unavailable(m)) => {
            assert!(
                m.starts_with(STORE) && m.contains("insufficient HSMs"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.live_nodes(), 1);
    store.disconnect().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnect_makes_handles_unavailable_until_reconnected() {
    let cluster = start_cluster("cluster-dc000000001", 2);
    let store = connected(&cluster).await;
    let (_, h, hsm_handle) = new_key(&store).await;
    let ct = seal(&h, b"aad", b"kept").await.expect("seal");

    store.disconnect().await;
    assert!(!store.is_connected());
    assert_eq!(store.live_nodes(), 0);
    match seal(&h, b"aad", b"x").await {
        Err(BackendError::Unavailable(s)) => assert_eq!(s, STORE),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        open(&h, b"aad", &ct).await,
        Err(BackendError::Unavailable(_))
    ));
    assert!(matches!(
        store.destroy_key(&hsm_handle).await,
        Err(BackendError::Unavailable(_))
    ));
    store.disconnect().await;

    store.connect(config(&cluster)).await.expect("reconnect");
    assert_eq!(open(&h, b"aad", &ct).await.expect("open"), b"kept");
    // Connecting a connected store changes nothing.
    store
        .connect(config(&cluster))
        .await
        .expect("connect again");
    assert_eq!(open(&h, b"aad", &ct).await.expect("open"), b"kept");
    store.disconnect().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_restarted_between_calls_is_used_with_a_fresh_session() {
    let mut cluster = start_cluster("cluster-rs000000001", 2);
    let store = connected(&cluster).await;
    let (_, h, _) = new_key(&store).await;
    let ct = seal(&h, b"", b"before").await.expect("seal");
    // A clean restart (SIGTERM) while no call runs: the node forgets
    // kmsd's session. kmsd's next calls to it either find the connection
    // gone (the node is re-dialled) or get UNAUTHENTICATED (kmsd logs in
    // again); either way no call fails.
    tokio::task::block_in_place(|| {
        let node = cluster.nodes[0].take().expect("node 1 runs");
        assert!(node.terminate().success());
        cluster.start_node(0);
    });
    for i in 0..20u8 {
        let pt = [i; 32];
        let sealed = seal(&h, &[i], &pt).await.expect("seal after restart");
        assert_eq!(open(&h, &[i], &sealed).await.expect("open"), pt);
        assert_eq!(open(&h, b"", &ct).await.expect("open"), b"before");
    }
    eventually("both nodes in use", || store.live_nodes() == 2).await;
    // The restarted node alone serves the key.
    tokio::task::block_in_place(|| cluster.kill_node(1));
    assert_eq!(open(&h, b"", &ct).await.expect("open"), b"before");
    store.disconnect().await;
}
