//! The replication listener and its peer identity checks
//! (docs/multi-region.md "Topology and identity"): only peer Region
//! certificates reach the replication RPCs, a peer speaks only for its own
//! Region, and each listener serves only its own service. Uses one data
//! dir's dev CA for every certificate, as the multi-Region demo does.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kmsd::kms::KmsConfig;
use kmsd::pki;
use kmsd::proto::kms::v1 as kms_pb;
use kmsd::proto::kms::v1::key_management_service_client::KeyManagementServiceClient;
use kmsd::proto::replication::v1 as pb;
use kmsd::proto::replication::v1::replication_client::ReplicationClient;
use kmsd::replication::ReplicationConfig;
use kmsd::server::{KmsServer, ServerConfig, ServerError, TlsPem};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Code;

use crate::harness::{assert_aws_error, connect_channel, DaemonProcess};

const OWN: &str = "us-east-1";
const PEER: &str = "us-west-2";

/// An in-process kmsd (Region us-east-1) with a replication listener and
/// one configured peer, us-west-2 (which nobody serves here: nothing is
/// replicated in these tests, so nothing dials it).
struct Node {
    tmp: tempfile::TempDir,
    addr: SocketAddr,
    repl_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Node {
    /// us-east-1 with the peer us-west-2 (unserved), its own dev CA
    /// issuing every peer certificate.
    async fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        pki::ensure_dev_pki(tmp.path()).expect("dev pki");
        let ca_dir = tmp.path().to_owned();
        let (listener, repl) = bind_two().await;
        let peers = BTreeMap::from([(PEER.to_owned(), "https://127.0.0.1:9".to_owned())]);
        Self::launch(tmp, &ca_dir, OWN, peers, listener, repl).await
    }

    /// A kmsd for `region` in `tmp` (its own dev PKI for the main
    /// listener), replicating with `peers`, its peer certificate issued by
    /// the dev CA of `ca_dir`, which is also its peer CA.
    async fn launch(
        tmp: tempfile::TempDir,
        ca_dir: &Path,
        region: &str,
        peers: BTreeMap<String, String>,
        listener: tokio::net::TcpListener,
        repl: tokio::net::TcpListener,
    ) -> Self {
        let dir = tmp.path();
        pki::ensure_dev_pki(dir).expect("dev pki");
        let own = dir.join("own-peer");
        pki::issue_peer(ca_dir, region, &own).expect("issue own peer cert");
        let kms = KmsConfig {
            region: region.to_owned(),
            ..KmsConfig::default()
        };
        let mut config = ServerConfig::dev(dir, kms, None).expect("dev config");
        config.replication = Some(ReplicationConfig {
            peers,
            tls: TlsPem::read(
                &own.join("peer.pem"),
                &own.join("peer.key"),
                &pki::DevPkiPaths::new(ca_dir).ca_cert,
            )
            .expect("peer tls"),
        });
        let server =
            KmsServer::open(config, std::sync::Arc::new(kmsd::clock::SystemClock)).expect("open");
        let addr = listener.local_addr().expect("addr");
        let repl_addr = repl.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.serve_with_replication(listener, Some(repl), async {
            let _ = rx.await;
        }));
        Self {
            tmp,
            addr,
            repl_addr,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn ca(&self) -> PathBuf {
        pki::DevPkiPaths::new(self.dir()).ca_cert
    }

    /// (cert, key) of a peer certificate for `region` from the node's CA.
    fn peer_cert(&self, region: &str) -> (PathBuf, PathBuf) {
        let out = self.dir().join("peers").join(region);
        if !out.join("peer.pem").exists() {
            pki::issue_peer(self.dir(), region, &out).expect("issue peer cert");
        }
        (out.join("peer.pem"), out.join("peer.key"))
    }

    /// (cert, key) of the dev client principal.
    fn client_cert(&self) -> (PathBuf, PathBuf) {
        let p = pki::DevPkiPaths::new(self.dir());
        (p.client_cert, p.client_key)
    }

    async fn channel(&self, addr: SocketAddr, (cert, key): (PathBuf, PathBuf)) -> Channel {
        connect_channel(addr, &self.ca(), &cert, &key).await
    }

    /// Stops cleanly (both listeners, the delivery tasks, the store).
    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
    }
}

/// A main and a replication listener on ephemeral loopback ports.
async fn bind_two() -> (tokio::net::TcpListener, tokio::net::TcpListener) {
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    (
        bind().await.expect("bind"),
        bind().await.expect("bind replication"),
    )
}

fn key_request(from: &str) -> pb::GetRegionKeyRequest {
    pb::GetRegionKeyRequest {
        from_region: from.to_owned(),
    }
}

/// A peer passed the identity check: the core answered with this
/// Region's replication public key.
fn assert_answered_by_core(r: Result<tonic::Response<pb::GetRegionKeyResponse>, tonic::Status>) {
    let resp = r.expect("the peer's GetRegionKey is answered").into_inner();
    assert_eq!(resp.region, OWN);
    assert_eq!(resp.public_key.len(), 32);
}

#[tokio::test]
async fn replication_rpcs_take_only_the_callers_own_region_identity() {
    let node = Node::start().await;

    // A client principal's certificate (valid on the main listener) is no
    // Region identity: every replication RPC refuses it.
    let mut c = ReplicationClient::new(node.channel(node.repl_addr, node.client_cert()).await);
    let e = c
        .get_region_key(key_request(PEER))
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    let e = c
        .deliver(pb::DeliverRequest {
            from_region: PEER.into(),
            entries: vec![],
        })
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    let e = c
        .check_access(pb::CheckAccessRequest {
            from_region: PEER.into(),
            action: "kms:CreateKey".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");

    // us-west-2's certificate speaking for another Region, or for this
    // one, is refused; speaking for itself, it reaches the core.
    let mut west = ReplicationClient::new(node.channel(node.repl_addr, node.peer_cert(PEER)).await);
    for other in ["eu-west-1", OWN, "", "US-WEST-2"] {
        let e = west
            .get_region_key(key_request(other))
            .await
            .expect_err("refused");
        assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
        let e = west
            .deliver(pb::DeliverRequest {
                from_region: other.into(),
                entries: vec![],
            })
            .await
            .expect_err("refused");
        assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    }
    assert_answered_by_core(west.get_region_key(key_request(PEER)).await);

    // A malformed entry from a genuine peer is INVALID_ARGUMENT, not a
    // crash.
    let e = west
        .deliver(pb::DeliverRequest {
            from_region: PEER.into(),
            entries: vec![pb::Envelope {
                seq: 1,
                message: None,
            }],
        })
        .await
        .expect_err("invalid");
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");

    // A Region certificate from the right CA for a Region that is not a
    // configured peer.
    let mut stranger = ReplicationClient::new(
        node.channel(node.repl_addr, node.peer_cert("ap-south-1"))
            .await,
    );
    let e = stranger
        .get_region_key(key_request("ap-south-1"))
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");

    node.stop().await;
}

#[tokio::test]
async fn each_listener_serves_only_its_own_service() {
    let node = Node::start().await;

    // The KMS API is not on the replication listener, even for a peer.
    let peer_channel = node.channel(node.repl_addr, node.peer_cert(PEER)).await;
    let e = KeyManagementServiceClient::new(peer_channel)
        .list_keys(kms_pb::ListKeysRequest::default())
        .await
        .expect_err("not served");
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");

    // The replication service is not on the main listener.
    let main = node.channel(node.addr, node.client_cert()).await;
    let e = ReplicationClient::new(main.clone())
        .get_region_key(key_request(PEER))
        .await
        .expect_err("not served");
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
    // ... where the client principal works as before.
    KeyManagementServiceClient::new(main)
        .list_keys(kms_pb::ListKeysRequest::default())
        .await
        .expect("client principal on the main listener");

    // A peer certificate on the main listener is no IAM principal.
    let e = KeyManagementServiceClient::new(node.channel(node.addr, node.peer_cert(PEER)).await)
        .list_keys(kms_pb::ListKeysRequest::default())
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::Unauthenticated, "UnauthenticatedException");

    node.stop().await;
}

/// Two in-process Regions, each the other's peer, certificates from one
/// CA: a multi-Region key created in one and replicated through the
/// transport decrypts in the other what the first encrypted.
#[tokio::test]
async fn two_regions_replicate_a_key_over_the_transport() {
    let (ta, tb) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    pki::ensure_dev_pki(ta.path()).expect("dev pki");
    let ca_dir = ta.path().to_owned();
    let (la, ra) = bind_two().await;
    let (lb, rb) = bind_two().await;
    let url = |l: &tokio::net::TcpListener| format!("https://{}", l.local_addr().expect("addr"));
    let (to_a, to_b) = (url(&ra), url(&rb));
    let a = Node::launch(
        ta,
        &ca_dir,
        OWN,
        BTreeMap::from([(PEER.to_owned(), to_b)]),
        la,
        ra,
    )
    .await;
    let b = Node::launch(
        tb,
        &ca_dir,
        PEER,
        BTreeMap::from([(OWN.to_owned(), to_a)]),
        lb,
        rb,
    )
    .await;

    let mut ca = KeyManagementServiceClient::new(a.channel(a.addr, a.client_cert()).await);
    let mut cb = KeyManagementServiceClient::new(b.channel(b.addr, b.client_cert()).await);
    let key_id = ca
        .create_key(kms_pb::CreateKeyRequest {
            multi_region: true,
            ..Default::default()
        })
        .await
        .expect("CreateKey")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    assert!(key_id.starts_with("mrk-"), "{key_id}");
    // ReplicateKey asks us-west-2 (CheckAccess) and fetches its Region key
    // through the transport before answering.
    ca.replicate_key(kms_pb::ReplicateKeyRequest {
        key_id: key_id.clone(),
        replica_region: PEER.into(),
        ..Default::default()
    })
    .await
    .expect("ReplicateKey");
    let blob = ca
        .encrypt(kms_pb::EncryptRequest {
            key_id: key_id.clone(),
            plaintext: b"across Regions".to_vec(),
            ..Default::default()
        })
        .await
        .expect("Encrypt in us-east-1")
        .into_inner()
        .ciphertext_blob;

    // The replica appears in us-west-2 once the delivery task has sent it
    // (asynchronously, as in AWS): wait for it, bounded by the hang guard.
    let deadline = tokio::time::Instant::now() + crate::harness::HANG_GUARD;
    loop {
        let d = cb
            .describe_key(kms_pb::DescribeKeyRequest {
                key_id: key_id.clone(),
                ..Default::default()
            })
            .await;
        if let Ok(d) = d {
            let m = d.into_inner().key_metadata.expect("metadata");
            if m.key_state == kms_pb::KeyState::Enabled as i32 {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replica never became Enabled in us-west-2"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let plain = cb
        .decrypt(kms_pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .expect("Decrypt in us-west-2")
        .into_inner()
        .plaintext;
    assert_eq!(plain, b"across Regions");

    // With us-west-2 down, a rotation in us-east-1 waits in its outbox,
    // which `kmsd replication status` shows while us-east-1 serves.
    b.stop().await;
    ca.rotate_key_on_demand(kms_pb::RotateKeyOnDemandRequest {
        key_id: key_id.clone(),
    })
    .await
    .expect("RotateKeyOnDemand");
    let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["replication", "status", "--data-dir"])
        .arg(a.dir())
        .env_remove("KMSD_ROOT_KEY")
        .output()
        .expect("run kmsd replication status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let peers = status["peers"].as_array().expect("peers");
    assert_eq!(peers.len(), 1, "{status}");
    assert_eq!(peers[0]["region"], PEER);
    assert!(peers[0]["pending"].as_u64() >= Some(1), "{status}");
    assert!(
        peers[0]["oldest_enqueued_ms"].as_i64().is_some(),
        "{status}"
    );
    a.stop().await;
}

/// The `kmsd serve` flags: --peer with --replication-listen, the dev
/// defaults for the peer certificate and CA, and the ready line.
#[tokio::test]
async fn kmsd_serve_with_peers_prints_the_replication_ready_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let daemon = DaemonProcess::start_with(
        dir,
        &[
            "--region",
            OWN,
            "--replication-listen",
            "127.0.0.1:0",
            "--peer",
            "us-west-2=https://127.0.0.1:9",
        ],
    );
    let stderr = daemon.stderr();
    let repl_addr: SocketAddr = stderr
        .lines()
        .find_map(|l| l.strip_prefix("kmsd: replication listening on "))
        .unwrap_or_else(|| panic!("no replication ready line in:\n{stderr}"))
        .trim()
        .parse()
        .expect("address");
    // --dev issued this Region's peer certificate from the data dir's CA.
    assert!(dir.join("peer").join("peer.pem").exists());
    let ca = pki::DevPkiPaths::new(dir).ca_cert;
    let west = dir.join("west");
    pki::issue_peer(dir, PEER, &west).expect("issue");
    let channel = connect_channel(
        repl_addr,
        &ca,
        &west.join("peer.pem"),
        &west.join("peer.key"),
    )
    .await;
    let mut c = ReplicationClient::new(channel);
    assert_answered_by_core(c.get_region_key(key_request(PEER)).await);
    let e = c
        .get_region_key(key_request("eu-west-1"))
        .await
        .expect_err("refused");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    assert!(daemon.terminate().success());
}

/// Bad replication flags stop kmsd before it serves, naming the flag.
#[test]
fn kmsd_serve_refuses_bad_peer_flags() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--peer",
                "us-east-1=https://127.0.0.1:9",
                "--replication-listen",
                "127.0.0.1:0",
            ],
            "own Region",
        ),
        (
            &[
                "--peer",
                "us-west-2=https://127.0.0.1:9",
                "--peer",
                "us-west-2=https://127.0.0.1:10",
                "--replication-listen",
                "127.0.0.1:0",
            ],
            "twice",
        ),
        (
            &["--peer", "us-west-2=https://127.0.0.1:9"],
            "--replication-listen",
        ),
        (
            &[
                "--peer",
                "us-west-2=http://127.0.0.1:9",
                "--replication-listen",
                "127.0.0.1:0",
            ],
            "https",
        ),
        (
            &[
                "--peer",
                "Mars=https://127.0.0.1:9",
                "--replication-listen",
                "127.0.0.1:0",
            ],
            "not a valid Region",
        ),
        (&["--replication-listen", "127.0.0.1:0"], "--peer"),
    ];
    for (i, (flags, expected)) in cases.iter().enumerate() {
        let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args([
                "serve",
                "--dev",
                "--listen",
                "127.0.0.1:0",
                "--region",
                OWN,
                "--data-dir",
            ])
            .arg(tmp.path().join(format!("d{i}")))
            .args(*flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run kmsd");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} served: {stderr}");
        assert!(
            stderr.contains(expected),
            "case {i}: expected {expected:?} in:\n{stderr}"
        );
    }
}
