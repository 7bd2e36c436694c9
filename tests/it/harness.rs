//! Shared test helpers: start an in-process kmsd on an ephemeral loopback
//! port with a manual clock, connect clients as any principal, restart on
//! the same data dir, and run the real binaries.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kms_proto::client::ConnectOptions;
use kmsd::clock::ManualClock;
use kmsd::kms::{JobPass, Kms, KmsConfig};
use kmsd::pki::{self, DEV_PRINCIPAL};
use kmsd::proto::kms::v1 as pb;
use kmsd::proto::kms::v1::key_management_service_client::KeyManagementServiceClient;
use kmsd::server::{KmsServer, ServerConfig, ServerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

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
    /// The core's settings, kept for restarts (e.g. `hsm_clusters`).
    pub config: KmsConfig,
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
        Self::start_at_with(dir, clock, tmp, KmsConfig::default()).await
    }

    async fn start_at_with(
        dir: PathBuf,
        clock: ManualClock,
        tmp: Option<Arc<tempfile::TempDir>>,
        kms_config: KmsConfig,
    ) -> Self {
        let config = ServerConfig::dev(&dir, kms_config.clone(), None).expect("dev config");
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
            config: kms_config,
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
        let config = self.config.clone();
        self.stop().await;
        Self::start_at_with(dir, clock, tmp, config).await
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
    KeyManagementServiceClient::new(connect_channel(addr, ca, cert, key).await)
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

/// Collects a spawned daemon's stderr (piped) on a reader thread, which
/// also keeps the pipe drained, and waits for the first line `ready`
/// accepts: its value, and everything written so far and later. No
/// polling; fails at once (with the stderr) if the daemon exits first.
pub fn wait_for_ready_line(
    child: &mut Child,
    what: &str,
    ready: impl Fn(&str) -> Option<String> + Send + 'static,
) -> (Arc<Mutex<String>>, String) {
    let pipe = child.stderr.take().expect("piped stderr");
    let stderr = Arc::new(Mutex::new(String::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
    {
        let stderr = Arc::clone(&stderr);
        std::thread::spawn(move || {
            // Ends at EOF, when the daemon exits; dropping `ready_tx` then
            // tells a waiter that no ready line is coming.
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                {
                    let mut all = stderr.lock().unwrap_or_else(|p| p.into_inner());
                    all.push_str(&line);
                    all.push('\n');
                }
                if let Some(value) = ready(&line) {
                    let _ = ready_tx.send(value);
                }
            }
        });
    }
    match ready_rx.recv_timeout(HANG_GUARD) {
        Ok(value) => (stderr, value),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            let text = stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
            panic!("{what} printed no ready line ({e}; exit: {status:?}); stderr:\n{text}");
        }
    }
}

/// A real `kmsd serve --dev` process on an ephemeral port.
pub struct DaemonProcess {
    pub child: Child,
    pub dir: PathBuf,
    pub endpoint: String,
    /// Everything the daemon writes to stderr, collected by a reader thread
    /// (which also keeps the pipe drained while the daemon runs).
    stderr: Arc<Mutex<String>>,
}

/// How long a test waits for an event that must happen (a daemon's ready
/// line, a background pass) before failing instead of hanging. A hang
/// guard only: no test asserts anything about how long things take.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// What `kmsd serve --dev` prints on stderr once it has bound its port and
/// written `DIR/endpoint` (src/bin/kmsd.rs), followed by the endpoint.
const READY_LINE: &str = "kmsd (dev) listening on ";

impl DaemonProcess {
    /// Starts `kmsd serve --dev --data-dir DIR --listen 127.0.0.1:0` and
    /// waits for its ready line on stderr. No polling: a reader thread
    /// forwards each line as it is written, and the wait ends at the ready
    /// line, or fails at once if the daemon exits first (with its stderr).
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    /// As [`DaemonProcess::start`], with extra `kmsd serve` flags (e.g.
    /// `--hsm-cluster`).
    pub fn start_with(dir: &Path, extra: &[&str]) -> Self {
        let _ = std::fs::remove_file(dir.join("endpoint"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsd");
        let (stderr, endpoint) = wait_for_ready_line(&mut child, "kmsd", |line| {
            line.strip_prefix(READY_LINE).map(|e| e.trim().to_owned())
        });
        // The endpoint file is written before the ready line is printed.
        let file = std::fs::read_to_string(dir.join("endpoint")).expect("endpoint file");
        assert_eq!(file.trim(), endpoint, "endpoint file and ready line differ");
        Self {
            child,
            dir: dir.to_owned(),
            endpoint,
            stderr,
        }
    }

    /// What the daemon has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

// ---------------------------------------------------------------------------
// Helpers added for the restart, deletion, at-rest, bad-input, accounts and
// control-plane tests.

/// The Region the test servers serve.
pub const REGION: &str = "us-east-1";
/// Account of `ROOT_A` and `ALICE_A`.
pub const ACCOUNT_A: &str = "111122223333";
/// Account of `ROOT_B` and `BOB_B`.
pub const ACCOUNT_B: &str = "444455556666";

impl TestServer {
    /// A server on a data dir the caller owns (it is not deleted when the
    /// server stops, so the files can be inspected or reopened), with a
    /// manual clock starting now.
    pub async fn start_in(dir: &Path) -> Self {
        Self::start_at(dir.to_owned(), ManualClock::starting_now(), None).await
    }

    /// A fresh server in a new temp dir with these core settings (e.g.
    /// `hsm_clusters`, the `--hsm-cluster` flags); restarts keep them.
    pub async fn start_with_config(config: KmsConfig) -> Self {
        let tmp = Arc::new(tempfile::tempdir().expect("tempdir"));
        let dir = tmp.path().to_owned();
        Self::start_at_with(dir, ManualClock::starting_now(), Some(tmp), config).await
    }

    /// As [`TestServer::start_with_config`] on a data dir the caller owns.
    pub async fn start_in_with_config(dir: &Path, config: KmsConfig) -> Self {
        Self::start_at_with(dir.to_owned(), ManualClock::starting_now(), None, config).await
    }
}

/// `arn:aws:kms:us-east-1:ACCOUNT:key/ID`.
pub fn key_arn_of(account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{key_id}")
}

/// `arn:aws:kms:us-east-1:ACCOUNT:alias/NAME` (pass `alias/NAME`).
pub fn alias_arn_of(account: &str, alias: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:{alias}")
}

/// DescribeKey, expecting success.
pub async fn describe(c: &mut Client, key_id: &str) -> pb::KeyMetadata {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key_id.into(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("describe {key_id}: {e:?}"))
    .into_inner()
    .key_metadata
    .expect("metadata")
}

/// Encrypt, expecting success; returns the ciphertext blob.
pub async fn encrypt(
    c: &mut Client,
    key_id: &str,
    plaintext: &[u8],
    context: &HashMap<String, String>,
) -> Vec<u8> {
    c.encrypt(pb::EncryptRequest {
        key_id: key_id.into(),
        plaintext: plaintext.to_vec(),
        encryption_context: context.clone(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("encrypt under {key_id}: {e:?}"))
    .into_inner()
    .ciphertext_blob
}

/// Decrypt, returning the status on failure.
pub async fn try_decrypt(
    c: &mut Client,
    blob: &[u8],
    context: &HashMap<String, String>,
) -> Result<pb::DecryptResponse, tonic::Status> {
    c.decrypt(pb::DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: context.clone(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

/// Decrypt, expecting success; returns the plaintext.
pub async fn decrypt(c: &mut Client, blob: &[u8], context: &HashMap<String, String>) -> Vec<u8> {
    try_decrypt(c, blob, context)
        .await
        .unwrap_or_else(|e| panic!("decrypt: {e:?}"))
        .plaintext
}

/// Every key id ListKeys returns for the caller, following markers.
pub async fn all_key_ids(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_keys(pb::ListKeysRequest {
                limit: Some(1000),
                marker: marker.take(),
            })
            .await
            .expect("list keys")
            .into_inner();
        out.extend(page.keys.into_iter().map(|k| k.key_id));
        if !page.truncated {
            return out;
        }
        marker = Some(page.next_marker);
    }
}

/// Every alias ListAliases returns for the caller (all keys), following
/// markers.
pub async fn all_aliases(c: &mut Client) -> Vec<pb::AliasListEntry> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_aliases(pb::ListAliasesRequest {
                key_id: None,
                limit: Some(1000),
                marker: marker.take(),
            })
            .await
            .expect("list aliases")
            .into_inner();
        out.extend(page.aliases);
        if !page.truncated {
            return out;
        }
        marker = Some(page.next_marker);
    }
}

/// Every tag of a key as (key, value) pairs, following markers.
pub async fn all_tags(c: &mut Client, key_id: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_resource_tags(pb::ListResourceTagsRequest {
                key_id: key_id.into(),
                limit: Some(1000),
                marker: marker.take(),
            })
            .await
            .expect("list resource tags")
            .into_inner();
        out.extend(page.tags.into_iter().map(|t| (t.tag_key, t.tag_value)));
        if !page.truncated {
            return out;
        }
        marker = Some(page.next_marker);
    }
}

/// Tags from (key, value) pairs.
pub fn tags(pairs: &[(&str, &str)]) -> Vec<pb::Tag> {
    pairs
        .iter()
        .map(|(k, v)| pb::Tag {
            tag_key: k.to_string(),
            tag_value: v.to_string(),
        })
        .collect()
}

/// Everything a principal can observe about its account's keys: key ids,
/// each key's metadata and tags, and all aliases. For "nothing changed"
/// checks (before/after equality).
#[derive(Debug, PartialEq)]
pub struct AccountSnapshot {
    pub keys: Vec<String>,
    pub metadata: std::collections::BTreeMap<String, pb::KeyMetadata>,
    pub tags: std::collections::BTreeMap<String, Vec<(String, String)>>,
    pub aliases: Vec<pb::AliasListEntry>,
}

/// Takes an [`AccountSnapshot`] as the caller of `c`.
pub async fn account_snapshot(c: &mut Client) -> AccountSnapshot {
    let mut keys = all_key_ids(c).await;
    keys.sort();
    let mut metadata = std::collections::BTreeMap::new();
    let mut tags = std::collections::BTreeMap::new();
    for k in &keys {
        metadata.insert(k.clone(), describe(c, k).await);
        tags.insert(k.clone(), all_tags(c, k).await);
    }
    AccountSnapshot {
        keys,
        metadata,
        tags,
        aliases: all_aliases(c).await,
    }
}

// ---------------------------------------------------------------------------
// Helpers added for the authorization tests (authz_every_rpc, cross_account,
// grants, key_policies, identity_policies).

/// An IdentityService client.
pub type IdentityClient =
    kmsd::proto::kms::v1::identity_service_client::IdentityServiceClient<Channel>;

/// A mutual-TLS channel to `addr` (the same set-up as [`connect`]),
/// connected as the clients connect (`kms_proto::client`, which kmsctl and
/// kms-bench use), so the tests exercise that code too.
pub async fn connect_channel(addr: SocketAddr, ca: &Path, cert: &Path, key: &Path) -> Channel {
    let opts = ConnectOptions {
        endpoint_url: Some(format!("https://{addr}")),
        ca_cert: Some(ca.to_owned()),
        client_cert: Some(cert.to_owned()),
        client_key: Some(key.to_owned()),
        data_dir: None,
    };
    kms_proto::client::connect_channel(&opts)
        .await
        .expect("connect")
}

impl TestServer {
    /// An IdentityService client authenticated as `principal`.
    pub async fn identity_client_as(&self, principal: &str) -> IdentityClient {
        let out = self.client_cert_dir(principal);
        let channel = connect_channel(
            self.addr,
            &self.dir.join("certs/ca.pem"),
            &out.join("client.pem"),
            &out.join("client.key"),
        )
        .await;
        IdentityClient::new(channel)
    }
}

/// The account id of an IAM/STS principal ARN (`arn:aws:iam::ACCT:...`).
pub fn account_of(principal: &str) -> &str {
    principal
        .split(':')
        .nth(4)
        .expect("principal ARN has an account")
}

/// `arn:aws:iam::ACCT:root` for the account of `principal`.
pub fn root_of(principal: &str) -> String {
    format!("arn:aws:iam::{}:root", account_of(principal))
}

/// Puts an identity policy on `principal`, as the root of its account.
pub async fn put_identity_policy(server: &TestServer, principal: &str, name: &str, document: &str) {
    let mut ic = server.identity_client_as(&root_of(principal)).await;
    ic.put_principal_policy(pb::PutPrincipalPolicyRequest {
        principal_arn: principal.into(),
        policy_name: name.into(),
        policy_document: document.into(),
    })
    .await
    .unwrap_or_else(|e| panic!("put identity policy {name} on {principal}: {e:?}"));
}

/// Deletes an identity policy of `principal`, as the root of its account.
pub async fn delete_identity_policy(server: &TestServer, principal: &str, name: &str) {
    let mut ic = server.identity_client_as(&root_of(principal)).await;
    ic.delete_principal_policy(pb::DeletePrincipalPolicyRequest {
        principal_arn: principal.into(),
        policy_name: name.into(),
    })
    .await
    .unwrap_or_else(|e| panic!("delete identity policy {name} of {principal}: {e:?}"));
}

/// An identity policy document with one statement (no Principal).
pub fn identity_doc(effect: &str, actions: &[&str], resource: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": effect,
            "Action": actions,
            "Resource": resource,
        }]
    })
    .to_string()
}

/// The default key policy plus further statements (JSON values).
pub fn key_policy_with(account: &str, extra: &[serde_json::Value]) -> String {
    let mut statements = vec![serde_json::json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*",
    })];
    statements.extend(extra.iter().cloned());
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// PutKeyPolicy as the caller of `c`, expecting success.
pub async fn put_key_policy(c: &mut Client, key_id: &str, policy: &str) {
    c.put_key_policy(pb::PutKeyPolicyRequest {
        key_id: key_id.into(),
        policy_name: Some("default".into()),
        policy: policy.into(),
        bypass_policy_lockout_safety_check: false,
    })
    .await
    .unwrap_or_else(|e| panic!("put key policy on {key_id}: {e:?}"));
}

/// GetKeyPolicy as the caller of `c`, expecting success.
pub async fn get_key_policy(c: &mut Client, key_id: &str) -> String {
    c.get_key_policy(pb::GetKeyPolicyRequest {
        key_id: key_id.into(),
        policy_name: Some("default".into()),
    })
    .await
    .unwrap_or_else(|e| panic!("get key policy of {key_id}: {e:?}"))
    .into_inner()
    .policy
}

/// Every grant of a key (ListGrants, following markers), sorted by id.
pub async fn all_grants(c: &mut Client, key_id: &str) -> Vec<pb::GrantListEntry> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_grants(pb::ListGrantsRequest {
                key_id: key_id.into(),
                limit: Some(1000),
                marker: marker.take(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("list grants of {key_id}: {e:?}"))
            .into_inner();
        out.extend(page.grants);
        if !page.truncated {
            out.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
            return out;
        }
        marker = Some(page.next_marker);
    }
}

/// Asserts an AccessDeniedException (PERMISSION_DENIED) whose message names
/// `principal`, `action` and `resource`.
#[track_caller]
pub fn assert_access_denied(e: &tonic::Status, principal: &str, action: &str, resource: &str) {
    assert_aws_error(e, tonic::Code::PermissionDenied, "AccessDeniedException");
    let m = e.message();
    assert!(
        denial_names(m, principal, action, resource),
        "not a denial of {action} by {principal} on {resource} as kmsd words them: {m}"
    );
}

/// Whether an AccessDenied message names caller, action and resource the
/// way kmsd's denials do (docs/security.md, item 7): a key of the caller's
/// own account by its ARN; a key of another account not at all (neither
/// its ARN, nor its id, nor its account); Decrypt and ReEncrypt's source
/// side of a ciphertext in AWS's generic words, unless the caller named
/// the key itself.
pub fn denial_names(m: &str, principal: &str, action: &str, resource: &str) -> bool {
    if !(m.starts_with("AccessDeniedException: ") && m.contains(principal) && m.contains(action)) {
        return false;
    }
    // arn:aws:kms:REGION:ACCOUNT:key/ID
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let key = (parts.len() == 6 && parts[2] == "kms").then(|| (parts[4], parts[5]));
    match key {
        Some((account, res)) if account != account_of(principal) => {
            let id = res.rsplit('/').next().unwrap_or(res);
            !m.contains(account) && !m.contains(id)
        }
        _ => {
            m.contains(resource)
                || (matches!(action, "kms:Decrypt" | "kms:ReEncryptFrom")
                    && m.contains("associated with this ciphertext"))
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers added for the rotation tests.

impl TestServer {
    /// A server on a data dir the caller owns (as [`TestServer::start_in`])
    /// reading `clock`: a test can `stop()` it, move the clock while it is
    /// down, and start it again on the same dir and the same time line.
    pub async fn start_in_with_clock(dir: &Path, clock: ManualClock) -> Self {
        Self::start_at(dir.to_owned(), clock, None).await
    }
}

// ---------------------------------------------------------------------------
// Background jobs, driven by the manual clock.

impl TestServer {
    /// Waits for the server's background jobs to complete a pass that read
    /// the clock at or after its current reading, i.e. one that has seen
    /// every deletion and rotation due now; returns it. Call it after
    /// advancing `self.clock` past a due time (the advance wakes the jobs),
    /// after a schedule change, or after a start (the catch-up pass). No
    /// polling and no sleeping: it awaits the core's pass signal.
    pub async fn background_pass(&self) -> JobPass {
        let now = kmsd::clock::Clock::now_ms(&self.clock);
        let pass = tokio::time::timeout(HANG_GUARD, self.kms.wait_job_pass_as_of(now))
            .await
            .unwrap_or_else(|_| {
                panic!("no background pass as of clock {now}: was anything due at that time?")
            });
        assert!(pass.ok, "the background pass failed: {pass:?}");
        pass
    }
}
