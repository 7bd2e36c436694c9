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
    async fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let paths = pki::ensure_dev_pki(dir).expect("dev pki");
        let own = dir.join("peers").join(OWN);
        pki::issue_peer(dir, OWN, &own).expect("issue own peer cert");
        let mut config = ServerConfig::dev(dir, KmsConfig::default(), None).expect("dev config");
        config.replication = Some(ReplicationConfig {
            peers: BTreeMap::from([(PEER.to_owned(), "https://127.0.0.1:9".to_owned())]),
            tls: TlsPem::read(&own.join("peer.pem"), &own.join("peer.key"), &paths.ca_cert)
                .expect("peer tls"),
        });
        let server =
            KmsServer::open(config, std::sync::Arc::new(kmsd::clock::SystemClock)).expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let repl = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind replication");
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

fn key_request(from: &str) -> pb::GetRegionKeyRequest {
    pb::GetRegionKeyRequest {
        from_region: from.to_owned(),
    }
}

/// A peer passed the identity check: the core answered. Until the engine
/// implements `Kms::region_public_key` it answers with its stub's
/// UnsupportedOperationException; either way no identity refusal.
fn assert_answered_by_core(r: Result<tonic::Response<pb::GetRegionKeyResponse>, tonic::Status>) {
    match r {
        Ok(resp) => {
            let resp = resp.into_inner();
            assert_eq!(resp.region, OWN);
            assert_eq!(resp.public_key.len(), 32);
        }
        Err(s) => assert!(
            s.message()
                .starts_with("UnsupportedOperationException: replication is not implemented"),
            "the peer was refused: {s:?}"
        ),
    }
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
