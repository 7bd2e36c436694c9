//! Shared test helpers: start an in-process kmsd on an ephemeral loopback
//! port with a manual clock, connect clients as any principal, restart on
//! the same data dir, and run the real binaries.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kmsd::clock::ManualClock;
use kmsd::kms::{Kms, KmsConfig};
use kmsd::pki::{self, DEV_PRINCIPAL};
use kmsd::proto::kms::v1 as pb;
use kmsd::proto::kms::v1::key_management_service_client::KeyManagementServiceClient;
use kmsd::server::{KmsServer, ServerConfig, ServerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub type Client = KeyManagementServiceClient<Channel>;

/// Principals used across tests.
pub const ROOT_A: &str = DEV_PRINCIPAL; // account 111122223333
pub const ALICE_A: &str = "arn:aws:iam::111122223333:user/alice";
pub const ROOT_B: &str = "arn:aws:iam::444455556666:root";
pub const BOB_B: &str = "arn:aws:iam::444455556666:user/bob";

/// An in-process kmsd.
pub struct TestServer {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    pub clock: ManualClock,
    pub kms: Kms,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
    // Keeps the temp dir alive for the life of the server (and restarts).
    _tmp: Option<Arc<tempfile::TempDir>>,
}

impl TestServer {
    /// A fresh server in a new temp dir.
    pub async fn start() -> Self {
        let tmp = Arc::new(tempfile::tempdir().expect("tempdir"));
        let dir = tmp.path().to_owned();
        let clock = ManualClock::starting_now();
        Self::start_at(dir, clock, Some(tmp)).await
    }

    async fn start_at(
        dir: PathBuf,
        clock: ManualClock,
        tmp: Option<Arc<tempfile::TempDir>>,
    ) -> Self {
        let config = ServerConfig::dev(&dir, KmsConfig::default(), None).expect("dev config");
        let server = KmsServer::open(config, Arc::new(clock.clone())).expect("open server");
        let kms = server.kms().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.serve(listener, async {
            let _ = rx.await;
        }));
        Self {
            dir,
            addr,
            clock,
            kms,
            shutdown: Some(tx),
            handle: Some(handle),
            _tmp: tmp,
        }
    }

    /// Stops the server cleanly and starts a new one on the same data dir
    /// and clock (a new port).
    pub async fn restart(mut self) -> Self {
        let tmp = self._tmp.take();
        let dir = self.dir.clone();
        let clock = self.clock.clone();
        self.stop().await;
        Self::start_at(dir, clock, tmp).await
    }

    /// Graceful shutdown; waits until the store is closed.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
    }

    /// A client authenticated as the dev principal (account 111122223333 root).
    pub async fn client(&self) -> Client {
        let certs = self.dir.join("certs");
        connect(
            self.addr,
            &certs.join("ca.pem"),
            &certs.join("client.pem"),
            &certs.join("client.key"),
        )
        .await
    }

    /// A client authenticated as `principal` (a certificate is issued for it).
    pub async fn client_as(&self, principal: &str) -> Client {
        let out = self.client_cert_dir(principal);
        connect(
            self.addr,
            &self.dir.join("certs/ca.pem"),
            &out.join("client.pem"),
            &out.join("client.key"),
        )
        .await
    }

    /// Issues (once) a client certificate for `principal`; returns its dir.
    pub fn client_cert_dir(&self, principal: &str) -> PathBuf {
        let name: String = principal
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let out = self.dir.join("clients").join(name);
        if !out.join("client.pem").exists() {
            pki::issue_client(&self.dir, principal, &out).expect("issue client cert");
        }
        out
    }

    /// `https://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Connects with mutual TLS.
pub async fn connect(addr: SocketAddr, ca: &Path, cert: &Path, key: &Path) -> Client {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).expect("ca")))
        .identity(Identity::from_pem(
            std::fs::read(cert).expect("cert"),
            std::fs::read(key).expect("key"),
        ))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    KeyManagementServiceClient::new(channel)
}

/// Creates a symmetric key; returns its key id.
pub async fn create_key(c: &mut Client, description: &str) -> String {
    c.create_key(pb::CreateKeyRequest {
        description: description.into(),
        ..Default::default()
    })
    .await
    .expect("create key")
    .into_inner()
    .key_metadata
    .expect("metadata")
    .key_id
}

/// A string map from pairs.
pub fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Asserts a status is an AWS error: code and exception-name prefix.
#[track_caller]
pub fn assert_aws_error(status: &tonic::Status, code: tonic::Code, exception: &str) {
    assert_eq!(status.code(), code, "status: {status:?}");
    assert!(
        status.message().starts_with(&format!("{exception}: ")),
        "expected {exception}, got: {}",
        status.message()
    );
}

/// A real `kmsd serve --dev` process on an ephemeral port.
pub struct DaemonProcess {
    pub child: Child,
    pub dir: PathBuf,
    pub endpoint: String,
}

impl DaemonProcess {
    /// Starts `kmsd serve --dev --data-dir DIR --listen 127.0.0.1:0` and
    /// waits for it to write `DIR/endpoint` (bounded).
    pub fn start(dir: &Path) -> Self {
        let _ = std::fs::remove_file(dir.join("endpoint"));
        let child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsd");
        let endpoint = wait_for_file(&dir.join("endpoint"));
        Self {
            child,
            dir: dir.to_owned(),
            endpoint: endpoint.trim().to_owned(),
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        self.child.wait().expect("wait")
    }

    /// The socket address the daemon listens on.
    pub fn addr(&self) -> SocketAddr {
        self.endpoint
            .trim_start_matches("https://")
            .parse()
            .expect("endpoint addr")
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (up to 60 s, polling) for a file to appear with content.
pub fn wait_for_file(path: &Path) -> String {
    for _ in 0..600 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return s;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} did not appear", path.display());
}
