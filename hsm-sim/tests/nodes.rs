//! hsm-sim as a person runs it: the real binary (`init`, `serve`,
//! `unlock-user`) in separate processes on 127.0.0.1, driven over gRPC.

// The helpers below are test code too (clippy.toml allows unwrap only in
// #[test] functions): a panic in them is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_proto::hsm::v1::cluster_client::ClusterClient;
use kms_proto::hsm::v1::hsm_client::HsmClient;
use kms_proto::hsm::v1::replicate_request::Change;
use kms_proto::hsm::v1::*;
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

/// Longest any wait here may take before the test fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(60);
const PASSWORD: &str = "kmsuser-Pa55word";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hsm-sim")
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

fn init(dir: &Path, id: &str, pw: &str) -> std::process::Output {
    Command::new(bin())
        .args([
            "init",
            "--cluster-id",
            id,
            "--kmsuser-password",
            pw,
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap()
}

struct Node {
    child: Child,
    addr: String,
}

impl Node {
    fn start(
        cluster: &Path,
        id: &str,
        data: &Path,
        addr: &str,
        peers: &[String],
        extra: &[&str],
    ) -> Self {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--cluster-dir"])
            .arg(cluster)
            .args(["--node-id", id, "--data-dir"])
            .arg(data)
            .args(["--listen", addr]);
        for p in peers {
            cmd.args(["--peer", p]);
        }
        let mut child = cmd
            .args(extra)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let prefix = format!("hsm-sim: node {id} listening on ");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix(&prefix) {
                    let _ = tx.send(a.trim().to_owned());
                } else {
                    eprintln!("[node] {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(HANG_GUARD)
            .unwrap_or_else(|e| panic!("node {id}: no ready line ({e})"));
        Node { child, addr }
    }

    /// SIGTERM, then the exit status (a node that does not exit within
    /// [`HANG_GUARD`] fails the test instead of hanging it).
    fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < HANG_GUARD, "node ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cluster directory with `n` node slots (fixed addresses, so a node
/// restarts where its peers expect it).
struct Cluster {
    root: tempfile::TempDir,
    id: String,
    addrs: Vec<String>,
    nodes: Vec<Option<Node>>,
}

impl Cluster {
    fn init(id: &str, n: usize) -> Self {
        let root = tempfile::tempdir().unwrap();
        let out = init(&root.path().join("cluster"), id, PASSWORD);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            root,
            id: id.to_owned(),
            addrs: (0..n).map(|_| free_addr()).collect(),
            nodes: (0..n).map(|_| None).collect(),
        }
    }
    fn dir(&self) -> PathBuf {
        self.root.path().join("cluster")
    }
    fn data(&self, i: usize) -> PathBuf {
        self.root.path().join(format!("node{}", i + 1))
    }
    fn start(&mut self, i: usize, extra: &[&str]) {
        let peers: Vec<String> = (0..self.addrs.len())
            .filter(|&j| j != i)
            .map(|j| self.addrs[j].clone())
            .collect();
        let n = Node::start(
            &self.dir(),
            &(i + 1).to_string(),
            &self.data(i),
            &self.addrs[i],
            &peers,
            extra,
        );
        assert_eq!(n.addr, self.addrs[i]);
        self.nodes[i] = Some(n);
    }
    fn stop(&mut self, i: usize) {
        let n = self.nodes[i].take().expect("running");
        assert!(n.terminate().success(), "SIGTERM: clean exit 0");
    }
    fn ca(&self) -> String {
        std::fs::read_to_string(self.dir().join("ca.pem")).unwrap()
    }
    async fn hsm(&self, i: usize) -> HsmClient<Channel> {
        HsmClient::new(channel(&self.addrs[i], &self.ca(), None).await.unwrap())
    }
}

async fn channel(
    addr: &str,
    ca_pem: &str,
    ident: Option<(&str, &str)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem));
    if let Some((c, k)) = ident {
        tls = tls.identity(Identity::from_pem(c, k));
    }
    Endpoint::from_shared(format!("https://{addr}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .tls_config(tls)?
        .connect()
        .await
}

async fn login(c: &mut HsmClient<Channel>) -> Vec<u8> {
    c.login(LoginRequest {
        username: "kmsuser".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .session
}

async fn generate(
    c: &mut HsmClient<Channel>,
    s: &[u8],
    label: &str,
) -> Result<KeyInfo, tonic::Status> {
    c.generate_key(GenerateKeyRequest {
        session: s.to_vec(),
        label: label.into(),
    })
    .await
    .map(|r| r.into_inner().key.unwrap())
}

async fn encrypt(
    c: &mut HsmClient<Channel>,
    s: &[u8],
    h: &str,
    pt: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, tonic::Status> {
    c.encrypt(EncryptRequest {
        session: s.to_vec(),
        handle: h.into(),
        plaintext: pt.to_vec(),
        aad: aad.to_vec(),
    })
    .await
    .map(|r| r.into_inner().ciphertext)
}

async fn decrypt(
    c: &mut HsmClient<Channel>,
    s: &[u8],
    h: &str,
    ct: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, tonic::Status> {
    c.decrypt(DecryptRequest {
        session: s.to_vec(),
        handle: h.into(),
        ciphertext: ct.to_vec(),
        aad: aad.to_vec(),
    })
    .await
    .map(|r| r.into_inner().plaintext)
}

async fn find(c: &mut HsmClient<Channel>, s: &[u8], label: &str) -> Vec<String> {
    c.find_keys(FindKeysRequest {
        session: s.to_vec(),
        label: label.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .keys
    .into_iter()
    .map(|k| k.handle)
    .collect()
}

/// Polls `cond` (an event we cannot be told of: another process's
/// background catch-up) until true, failing after [`HANG_GUARD`].
async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < HANG_GUARD, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------- init

#[test]
fn init_validates_refuses_existing_dirs_and_stores_no_password() {
    let root = tempfile::tempdir().unwrap();
    let bad_id = root.path().join("a");
    for id in [
        "short-id",
        "Cluster-1234567ABCD",
        "cluster_1234567abcd",
        "cluster-1234567abcdefghijk",
    ] {
        let out = init(&bad_id, id, PASSWORD);
        assert!(!out.status.success(), "{id} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cluster id"));
    }
    for pw in ["short", "this-password-is-much-too-long-for-aws"] {
        let out = init(&bad_id, "cluster-1234567abcd", pw);
        assert!(!out.status.success(), "{pw} accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    }
    assert!(!bad_id.exists(), "a refused init leaves nothing");

    let dir = root.path().join("c");
    assert!(init(&dir, "cluster-1234567abcd", PASSWORD).status.success());
    let mut files = Vec::new();
    all_files(&dir, &mut files);
    let mut names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.key", "ca.pem", "cluster.json", "cluster.key"]);
    for f in &files {
        let b = std::fs::read(f).unwrap();
        assert!(
            !contains(&b, PASSWORD.as_bytes()),
            "{} holds the password",
            f.display()
        );
    }
    let json = std::fs::read_to_string(dir.join("cluster.json")).unwrap();
    assert!(json.contains("$argon2id$"), "{json}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in ["ca.key", "cluster.key"] {
        assert_eq!(
            std::fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let before = std::fs::read(dir.join("cluster.key")).unwrap();
    let out = init(&dir, "cluster-7654321abcd", PASSWORD);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(dir.join("cluster.key")).unwrap(), before);
}

#[test]
fn help_names_every_command() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["init", "serve", "unlock-user"] {
        assert!(text.contains(w), "{text}");
    }
    let out = Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for w in [
        "--cluster-dir",
        "--node-id",
        "--data-dir",
        "--listen",
        "--peer",
        "--max-login-failures",
    ] {
        assert!(text.contains(w), "{text}");
    }
}

// ------------------------------------------------------- login, sessions

#[tokio::test(flavor = "multi_thread")]
async fn login_lockout_survives_restart_until_unlock_user() {
    let mut c = Cluster::init("cluster-lockout0000001", 2);
    c.start(0, &["--max-login-failures", "3"]);
    let mut h = c.hsm(0).await;
    let wrong = LoginRequest {
        username: "kmsuser".into(),
        password: "not-the-password".into(),
    };
    for _ in 0..3 {
        let e = h.login(wrong.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    }
    // Locked: the right password no longer works either.
    let e = h
        .login(LoginRequest {
            username: "kmsuser".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().starts_with("user locked"), "{}", e.message());

    c.stop(0);
    c.start(0, &["--max-login-failures", "3"]);
    let mut h = c.hsm(0).await;
    let e = h
        .login(LoginRequest {
            username: "kmsuser".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::PermissionDenied,
        "still locked after a restart"
    );

    // unlock-user works on the running node.
    let out = Command::new(bin())
        .arg("unlock-user")
        .arg("--data-dir")
        .arg(c.data(0))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!login(&mut h).await.is_empty());
    // A success resets the count: two more failures do not lock.
    for _ in 0..2 {
        assert_eq!(
            h.login(wrong.clone()).await.unwrap_err().code(),
            Code::Unauthenticated
        );
    }
    assert!(!login(&mut h).await.is_empty());
    // Unknown users are refused.
    let e = h
        .login(LoginRequest {
            username: "admin".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
}

// --------------------------------------------------- two nodes, key ops

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_share_keys_and_sessions_are_checked() {
    let mut c = Cluster::init("cluster-twonodes00001", 2);
    c.start(0, &[]);
    c.start(1, &[]);
    let mut h1 = c.hsm(0).await;
    let mut h2 = c.hsm(1).await;

    // Node 2 started after node 1; node 1 still reports it active at once
    // (ClusterStatus tries peers it has not heard from lately).
    let st = h1
        .cluster_status(ClusterStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.cluster_id, "cluster-twonodes00001");
    assert_eq!(st.node_id, "1");
    let mut seen: Vec<(String, String, bool)> = st
        .nodes
        .into_iter()
        .map(|n| (n.node_id, n.address, n.active))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("1".to_owned(), c.addrs[0].clone(), true),
            ("2".to_owned(), c.addrs[1].clone(), true)
        ]
    );

    // No session, bogus session.
    for s in [vec![], vec![7u8; 32]] {
        let e = generate(&mut h1, &s, "x").await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let e = encrypt(&mut h1, &s, "0123456789abcdef0123456789abcdef", b"p", b"")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        let e = h1
            .find_keys(FindKeysRequest {
                session: s.clone(),
                label: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    let e = h1
        .login(LoginRequest {
            username: "kmsuser".into(),
            password: "wrong-password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    let s1 = login(&mut h1).await;
    let s2 = login(&mut h2).await;
    let k = generate(&mut h1, &s1, "alias-key").await.unwrap();
    assert_eq!(k.handle.len(), 32);
    assert_eq!(k.label, "alias-key");

    let ct = encrypt(&mut h1, &s1, &k.handle, b"data key bytes", b"ctx")
        .await
        .unwrap();
    assert_eq!(ct.len(), 12 + 14 + 16);
    // Acknowledged means stored on node 2 too: it decrypts at once.
    assert_eq!(
        decrypt(&mut h2, &s2, &k.handle, &ct, b"ctx").await.unwrap(),
        b"data key bytes"
    );
    let e = decrypt(&mut h2, &s2, &k.handle, &ct, b"other")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = decrypt(&mut h2, &s2, &k.handle, &ct[..10], b"ctx")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Sessions are per node.
    assert_eq!(
        decrypt(&mut h2, &s1, &k.handle, &ct, b"ctx")
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    assert_eq!(
        find(&mut h2, &s2, "alias-key").await,
        vec![k.handle.clone()]
    );
    assert!(find(&mut h2, &s2, "other").await.is_empty());

    // Destroy on node 2: gone on both.
    h2.destroy_key(DestroyKeyRequest {
        session: s2.clone(),
        handle: k.handle.clone(),
    })
    .await
    .unwrap();
    assert_eq!(
        encrypt(&mut h1, &s1, &k.handle, b"p", b"")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert!(find(&mut h1, &s1, "").await.is_empty());
    let e = h1
        .destroy_key(DestroyKeyRequest {
            session: s1.clone(),
            handle: "ffffffffffffffffffffffffffffffff".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Logout ends the session.
    h1.logout(LogoutRequest {
        session: s1.clone(),
    })
    .await
    .unwrap();
    assert_eq!(
        generate(&mut h1, &s1, "x").await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lone_node_refuses_to_make_keys() {
    let mut c = Cluster::init("cluster-alone00000001", 2);
    c.start(0, &[]);
    let mut h = c.hsm(0).await;
    let s = login(&mut h).await;
    let e = generate(&mut h, &s, "lonely").await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert!(
        e.message().starts_with("insufficient HSMs"),
        "{}",
        e.message()
    );
    assert!(find(&mut h, &s, "").await.is_empty());
    let st = h
        .cluster_status(ClusterStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let active: Vec<bool> = st.nodes.iter().map(|n| n.active).collect();
    assert_eq!(
        active,
        [true, false],
        "itself first, the absent peer inactive"
    );
    // Not half-made: tombstoned, no key file.
    assert_eq!(
        std::fs::read_dir(c.data(0).join("keys")).unwrap().count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(c.data(0).join("destroyed"))
            .unwrap()
            .count(),
        1
    );
    // Once the peer is there, keys can be made.
    c.start(1, &[]);
    assert!(generate(&mut h, &s, "together").await.is_ok());
}

// ---------------------------------------------------------------- catch-up

#[tokio::test(flavor = "multi_thread")]
async fn a_returning_node_catches_up_and_serves_alone() {
    let mut c = Cluster::init("cluster-catchup000001", 3);
    for i in 0..3 {
        c.start(i, &[]);
    }
    let mut h1 = c.hsm(0).await;
    let s1 = login(&mut h1).await;
    let k1 = generate(&mut h1, &s1, "k1").await.unwrap();
    c.stop(1);
    let k2 = generate(&mut h1, &s1, "k2").await.unwrap();
    h1.destroy_key(DestroyKeyRequest {
        session: s1.clone(),
        handle: k1.handle.clone(),
    })
    .await
    .unwrap();
    let ct = encrypt(
        &mut h1,
        &s1,
        &k2.handle,
        b"made while node 2 was down",
        b"aad",
    )
    .await
    .unwrap();

    c.start(1, &[]);
    let mut h2 = c.hsm(1).await;
    let s2 = login(&mut h2).await;
    wait_until("node 2 to have k2 and not k1", || {
        let (mut h2, s2) = (h2.clone(), s2.clone());
        let (k1, k2) = (k1.handle.clone(), k2.handle.clone());
        async move {
            let keys = find(&mut h2, &s2, "").await;
            keys.contains(&k2) && !keys.contains(&k1)
        }
    })
    .await;
    c.stop(0);
    c.stop(2);
    assert_eq!(
        decrypt(&mut h2, &s2, &k2.handle, &ct, b"aad")
            .await
            .unwrap(),
        b"made while node 2 was down"
    );
    assert_eq!(
        encrypt(&mut h2, &s2, &k1.handle, b"p", b"")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // And after its own restart it still has k2 (durable), not k1.
    c.stop(1);
    c.start(1, &[]);
    let mut h2 = c.hsm(1).await;
    let s2 = login(&mut h2).await;
    assert_eq!(find(&mut h2, &s2, "").await, vec![k2.handle.clone()]);
}

// ------------------------------------------------------ peer authentication

#[tokio::test(flavor = "multi_thread")]
async fn cluster_service_wants_a_node_certificate_of_this_cluster() {
    let mut c = Cluster::init("cluster-peerauth00001", 2);
    c.start(0, &[]);
    let ca = c.ca();
    // No client certificate: PERMISSION_DENIED.
    let mut anon = ClusterClient::new(channel(&c.addrs[0], &ca, None).await.unwrap());
    let e = anon
        .snapshot(SnapshotRequest {
            from_node: "2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = anon
        .replicate(ReplicateRequest {
            from_node: "2".into(),
            change: Some(Change::Destroyed("0123456789abcdef0123456789abcdef".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // A node certificate of the same cluster id but another CA: refused.
    let other_root = tempfile::tempdir().unwrap();
    let other = other_root.path().join("c");
    assert!(init(&other, &c.id, PASSWORD).status.success());
    let od = hsm_sim::cluster::ClusterDir::load(&other).unwrap();
    let foreign = hsm_sim::tls::issue_node_cert(
        &od.ca_pem,
        &od.ca_key_pem,
        &c.id,
        "2",
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    let refused = match channel(
        &c.addrs[0],
        &ca,
        Some((&foreign.cert_pem, &foreign.key_pem)),
    )
    .await
    {
        Err(_) => true,
        Ok(ch) => ClusterClient::new(ch)
            .snapshot(SnapshotRequest {
                from_node: "2".into(),
            })
            .await
            .is_err(),
    };
    assert!(refused, "a certificate from another CA was accepted");

    // A real node certificate, but claiming another node id: refused.
    let cd = hsm_sim::cluster::ClusterDir::load(&c.dir()).unwrap();
    let ours = hsm_sim::tls::issue_node_cert(
        &cd.ca_pem,
        &cd.ca_key_pem,
        &c.id,
        "2",
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    let mut peer = ClusterClient::new(
        channel(&c.addrs[0], &ca, Some((&ours.cert_pem, &ours.key_pem)))
            .await
            .unwrap(),
    );
    let e = peer
        .snapshot(SnapshotRequest {
            from_node: "3".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(peer
        .snapshot(SnapshotRequest {
            from_node: "2".into()
        })
        .await
        .is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_with_a_certificate_from_another_ca_is_not_a_peer() {
    // Two clusters with the same id and different CAs, pointed at each other.
    let a = Cluster::init("cluster-impostor00001", 1);
    let b = Cluster::init("cluster-impostor00001", 1);
    let (addr_a, addr_b) = (a.addrs[0].clone(), b.addrs[0].clone());
    let _na = Node::start(
        &a.dir(),
        "1",
        &a.data(0),
        &addr_a,
        std::slice::from_ref(&addr_b),
        &[],
    );
    let _nb = Node::start(
        &b.dir(),
        "2",
        &b.data(0),
        &addr_b,
        std::slice::from_ref(&addr_a),
        &[],
    );
    let mut h = a.hsm(0).await;
    let s = login(&mut h).await;
    let e = generate(&mut h, &s, "k").await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::Unavailable,
        "the impostor must not count as a copy"
    );
    let st = h
        .cluster_status(ClusterStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.nodes.len(), 2);
    assert!(
        !st.nodes
            .iter()
            .find(|n| n.address == addr_b)
            .unwrap()
            .active
    );
    let mut hb = b.hsm(0).await;
    let sb = login(&mut hb).await;
    assert!(find(&mut hb, &sb, "").await.is_empty());
}

// ------------------------------------------------- key material never leaks

#[tokio::test(flavor = "multi_thread")]
async fn key_material_is_in_no_file_and_no_response() {
    let mut c = Cluster::init("cluster-materialscan1", 2);
    c.start(0, &[]);
    c.start(1, &[]);
    let mut h1 = c.hsm(0).await;
    let mut h2 = c.hsm(1).await;
    let mut responses: Vec<Vec<u8>> = Vec::new();

    let r = h1
        .login(LoginRequest {
            username: "kmsuser".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    responses.push(r.encode_to_vec());
    let s1 = r.session;
    let s2 = login(&mut h2).await;
    let r = h1
        .generate_key(GenerateKeyRequest {
            session: s1.clone(),
            label: "scan".into(),
        })
        .await
        .unwrap()
        .into_inner();
    responses.push(r.encode_to_vec());
    let k = r.key.unwrap();
    let r = h1
        .encrypt(EncryptRequest {
            session: s1.clone(),
            handle: k.handle.clone(),
            plaintext: b"secret payload".to_vec(),
            aad: b"aad".to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    responses.push(r.encode_to_vec());
    let ct = r.ciphertext;
    let r = h2
        .decrypt(DecryptRequest {
            session: s2.clone(),
            handle: k.handle.clone(),
            ciphertext: ct.clone(),
            aad: b"aad".to_vec(),
        })
        .await
        .unwrap()
        .into_inner();
    responses.push(r.encode_to_vec());
    responses.push(
        h2.find_keys(FindKeysRequest {
            session: s2.clone(),
            label: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .encode_to_vec(),
    );
    responses.push(
        h1.cluster_status(ClusterStatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
    );
    let cd = hsm_sim::cluster::ClusterDir::load(&c.dir()).unwrap();
    let ident = hsm_sim::tls::issue_node_cert(
        &cd.ca_pem,
        &cd.ca_key_pem,
        &c.id,
        "9",
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    let mut peer = ClusterClient::new(
        channel(
            &c.addrs[0],
            &c.ca(),
            Some((&ident.cert_pem, &ident.key_pem)),
        )
        .await
        .unwrap(),
    );
    let snap = peer
        .snapshot(SnapshotRequest {
            from_node: "9".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(snap.keys.len(), 1);
    responses.push(snap.encode_to_vec());

    // The material, from node 2's key file and master key, by the format
    // the crate documents.
    let master = std::fs::read(c.data(1).join("master.key")).unwrap();
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.data(1).join("keys").join(&k.handle)).unwrap())
            .unwrap();
    assert_eq!(rec["label"], "scan");
    let sealed = hex::decode(rec["sealed_material"].as_str().unwrap()).unwrap();
    let aad = format!("{}{}", c.id, k.handle);
    let material = Aes256Gcm::new_from_slice(&master)
        .unwrap()
        .decrypt(
            Nonce::from_slice(&sealed[..12]),
            Payload {
                msg: &sealed[12..],
                aad: aad.as_bytes(),
            },
        )
        .unwrap();
    assert_eq!(material.len(), 32);
    // It is the real material: it opens what node 1 encrypted.
    let pt = Aes256Gcm::new_from_slice(&material)
        .unwrap()
        .decrypt(
            Nonce::from_slice(&ct[..12]),
            Payload {
                msg: &ct[12..],
                aad: b"aad",
            },
        )
        .unwrap();
    assert_eq!(pt, b"secret payload");

    let needles = [
        material.clone(),
        hex::encode(&material).into_bytes(),
        hex::encode_upper(&material).into_bytes(),
    ];
    let mut files = Vec::new();
    all_files(c.root.path(), &mut files);
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        let b = std::fs::read(f).unwrap();
        for n in &needles {
            assert!(!contains(&b, n), "{} holds the key material", f.display());
        }
    }
    for r in &responses {
        for n in &needles {
            assert!(!contains(r, n), "a response holds the key material");
        }
    }
}

fn enc_op(h: &str, pt: &[u8], aad: &[u8]) -> BatchOp {
    BatchOp {
        op: Some(batch_op::Op::Encrypt(EncryptRequest {
            session: Vec::new(),
            handle: h.into(),
            plaintext: pt.to_vec(),
            aad: aad.to_vec(),
        })),
    }
}

fn dec_op(h: &str, ct: &[u8], aad: &[u8]) -> BatchOp {
    BatchOp {
        op: Some(batch_op::Op::Decrypt(DecryptRequest {
            session: Vec::new(),
            handle: h.into(),
            ciphertext: ct.to_vec(),
            aad: aad.to_vec(),
        })),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_each_operation_on_its_own() {
    let mut c = Cluster::init("cluster-batchops00001", 2);
    c.start(0, &[]);
    c.start(1, &[]);
    let mut h1 = c.hsm(0).await;
    let mut h2 = c.hsm(1).await;
    let s1 = login(&mut h1).await;
    let s2 = login(&mut h2).await;
    let k = generate(&mut h1, &s1, "batch").await.unwrap().handle;
    let ct = encrypt(&mut h1, &s1, &k, b"data key one", b"ad")
        .await
        .unwrap();
    let missing = "0".repeat(32);

    let ops = vec![
        enc_op(&k, b"data key two", b"ad2"),
        dec_op(&k, &ct, b"ad"),
        dec_op(&k, &ct, b"other ad"),
        enc_op(&missing, b"x", b""),
        BatchOp { op: None },
    ];
    let r = h2
        .batch(BatchRequest {
            session: s2.clone(),
            ops,
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let codes: Vec<i32> = r.iter().map(|x| x.code).collect();
    assert_eq!(
        codes,
        [
            Code::Ok as i32,
            Code::Ok as i32,
            Code::InvalidArgument as i32,
            Code::NotFound as i32,
            Code::InvalidArgument as i32
        ]
    );
    assert_eq!(r[1].output, b"data key one");
    assert!(r[2].output.is_empty() && r[3].output.is_empty());
    // The batch's ciphertext opens with a single Decrypt on the other node.
    assert_eq!(
        decrypt(&mut h1, &s1, &k, &r[0].output, b"ad2")
            .await
            .unwrap(),
        b"data key two"
    );

    // A bad session fails the whole call; so does an oversized batch.
    for s in [vec![], vec![7u8; 32], s1.clone()] {
        let e = h2
            .batch(BatchRequest {
                session: s,
                ops: vec![enc_op(&k, b"x", b"")],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    }
    let e = h2
        .batch(BatchRequest {
            session: s2,
            ops: (0..1025).map(|_| enc_op(&k, b"x", b"")).collect(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}
