//! Several real kmsd processes as Regions, for the multi-Region key tests
//! (docs/multi-region.md): each Region has its own temp data dir (its own
//! dev CA for its clients) and two ports fixed when the cluster is made,
//! the main listener's and the replication listener's, so a Region
//! restarts (after SIGTERM or SIGKILL) on the same dir and addresses, its
//! peers' `--peer` flags stay right, and a test's clients reconnect to it.
//!
//! Peer certificates all come from ONE data dir's dev CA (the first
//! Region's), issued by the real `kmsd certs issue-peer`; that CA is every
//! Region's `--peer-ca`. So the first Region's own dev client certificate
//! (an IAM principal's) is signed by the peer CA too: the strongest case
//! for "a client certificate is refused on the replication listener".
//!
//! Ports: every Region must know its peers' replication addresses before
//! any starts, so the ports are reserved by binding 127.0.0.1:0, reading
//! the port and closing the listener (as `hsm_cluster` does); kmsd binds
//! with SO_REUSEADDR, so a restart after kill -9 gets the same port back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kmsd::proto::kms::v1 as pb;

use super::harness::{connect, connect_channel, wait_for_ready_line, Client, ACCOUNT_A};
use super::hsm_cluster::free_port;

/// Region names used by the clusters here: A, B, C.
pub const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];

/// What `kmsd serve --dev` prints once the main listener serves.
const MAIN_READY: &str = "kmsd (dev) listening on ";
/// What `kmsd serve` prints once the replication listener serves.
const REPL_READY: &str = "kmsd: replication listening on ";

/// How long a test waits for replication to converge before failing. A
/// hang guard for a condition polled every [`POLL`]; never an assertion
/// about speed.
pub const CONVERGE: Duration = Duration::from_secs(30);
/// Poll interval while waiting for an observable state.
pub const POLL: Duration = Duration::from_millis(20);

/// One running Region.
struct RegionProcess {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Drop for RegionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A set of Regions (slots), each startable, stoppable, killable.
pub struct MrCluster {
    pub root: tempfile::TempDir,
    pub regions: Vec<String>,
    pub main_addrs: Vec<SocketAddr>,
    pub repl_addrs: Vec<SocketAddr>,
    procs: Vec<Option<RegionProcess>>,
    /// Extra `kmsd serve` flags per slot, kept for restarts.
    extra: Vec<Vec<String>>,
}

impl MrCluster {
    /// `n` Region slots (the first `n` of [`REGIONS`]), data dirs with
    /// their dev PKI, and a peer certificate for each Region; none started.
    pub fn init(n: usize) -> Self {
        assert!(n <= REGIONS.len());
        let root = tempfile::tempdir().expect("tempdir");
        let regions: Vec<String> = REGIONS[..n].iter().map(|r| r.to_string()).collect();
        let c = Self {
            root,
            main_addrs: (0..n).map(|_| loopback(free_port())).collect(),
            repl_addrs: (0..n).map(|_| loopback(free_port())).collect(),
            procs: (0..n).map(|_| None).collect(),
            extra: vec![Vec::new(); n],
            regions,
        };
        for i in 0..n {
            // Each Region's own dev PKI (its clients' CA), made now so that
            // clients and the peer CA exist before any Region starts.
            kmsd::pki::ensure_dev_pki(&c.dir(i)).expect("dev pki");
        }
        for i in 0..n {
            issue_peer(&c.dir(0), &c.regions[i], &c.peer_dir(i));
        }
        c
    }

    /// [`MrCluster::init`] and start every Region.
    pub fn start(n: usize) -> Self {
        let mut c = Self::init(n);
        for i in 0..n {
            c.start_region(i);
        }
        c
    }

    /// The data dir of slot `i`.
    pub fn dir(&self, i: usize) -> PathBuf {
        self.root.path().join(&self.regions[i])
    }

    /// Where slot `i`'s peer certificate (`peer.pem`, `peer.key`) is.
    pub fn peer_dir(&self, i: usize) -> PathBuf {
        self.root.path().join("peers").join(&self.regions[i])
    }

    /// The CA of every peer certificate: the first Region's dev CA.
    pub fn peer_ca(&self) -> PathBuf {
        self.dir(0).join("certs/ca.pem")
    }

    /// The index of a Region name.
    pub fn index(&self, region: &str) -> usize {
        self.regions
            .iter()
            .position(|r| r == region)
            .unwrap_or_else(|| panic!("no Region {region} in the cluster"))
    }
}

impl Drop for MrCluster {
    fn drop(&mut self) {
        // A failing test shows what each Region said last.
        if let Ok(dir) = std::env::var("MR_LOG_DIR") {
            // Every Region's whole log, for diagnosis.
            let _ = std::fs::create_dir_all(&dir);
            for i in 0..self.regions.len() {
                let name = format!("{}-{}.log", self.root.path().display(), self.regions[i])
                    .replace('/', "_");
                let _ = std::fs::write(Path::new(&dir).join(name), self.stderr(i));
            }
        }
        if std::thread::panicking() {
            for i in 0..self.regions.len() {
                let text = self.stderr(i);
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(400)..];
                eprintln!(
                    "---- {} stderr (last {} lines):",
                    self.regions[i],
                    tail.len()
                );
                for l in tail {
                    eprintln!("{l}");
                }
            }
        }
    }
}

impl MrCluster {
    /// `--peer R=https://ADDR` for every other slot.
    fn peer_flags(&self, i: usize) -> Vec<String> {
        (0..self.regions.len())
            .filter(|&j| j != i)
            .flat_map(|j| {
                [
                    "--peer".to_owned(),
                    format!("{}=https://{}", self.regions[j], self.repl_addrs[j]),
                ]
            })
            .collect()
    }

    /// Starts (or restarts) slot `i` and waits until both its listeners
    /// serve (their ready lines, in any order).
    pub fn start_region(&mut self, i: usize) {
        assert!(self.procs[i].is_none(), "{} is running", self.regions[i]);
        let dir = self.dir(i);
        let peer = self.peer_dir(i);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmsd"));
        cmd.args(["serve", "--dev", "--data-dir"])
            .arg(&dir)
            .args(["--region", &self.regions[i]])
            .args(["--listen", &self.main_addrs[i].to_string()])
            .args(["--replication-listen", &self.repl_addrs[i].to_string()])
            .arg("--peer-cert")
            .arg(peer.join("peer.pem"))
            .arg("--peer-key")
            .arg(peer.join("peer.key"))
            .arg("--peer-ca")
            .arg(self.peer_ca())
            .args(self.peer_flags(i))
            .args(&self.extra[i]);
        let mut child = cmd
            // MR_RUST_LOG=debug (say) to see the Regions' logs, which a
            // failing test prints (the end of each).
            .env(
                "RUST_LOG",
                std::env::var("MR_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kmsd");
        // Both ready lines, in whichever order the daemon prints them.
        let seen = Arc::new(Mutex::new((false, false)));
        let what = format!("kmsd {}", self.regions[i]);
        let (stderr, _) = wait_for_ready_line(&mut child, &what, move |line| {
            let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
            if line.contains(MAIN_READY) {
                s.0 = true;
            }
            if line.contains(REPL_READY) {
                s.1 = true;
            }
            (s.0 && s.1).then(String::new)
        });
        self.procs[i] = Some(RegionProcess { child, stderr });
    }

    /// As [`MrCluster::start_region`] with extra `kmsd serve` flags, kept
    /// for later restarts of the slot.
    pub fn start_region_with(&mut self, i: usize, extra: &[&str]) {
        self.extra[i] = extra.iter().map(|s| s.to_string()).collect();
        self.start_region(i);
    }

    /// Whether slot `i` runs.
    pub fn is_running(&self, i: usize) -> bool {
        self.procs[i].is_some()
    }

    /// SIGTERM slot `i`; asserts a clean exit.
    pub fn stop_region(&mut self, i: usize) {
        let mut p = self.procs[i].take().expect("region running");
        let pid = p.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let status = p.child.wait().expect("wait");
        let stderr = p.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM; stderr:\n{stderr}",
            self.regions[i]
        );
    }

    /// SIGKILL slot `i` (kill -9) and reap it.
    pub fn kill_region(&mut self, i: usize) {
        let mut p = self.procs[i].take().expect("region running");
        let _ = p.child.kill();
        let _ = p.child.wait();
    }

    /// What slot `i` has written to stderr (its current process).
    pub fn stderr(&self, i: usize) -> String {
        self.procs[i]
            .as_ref()
            .map(|p| p.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// A client of slot `i`'s main listener as the dev principal (account
    /// 111122223333 root). The address is fixed, so the channel reconnects
    /// after the Region restarts.
    pub async fn client(&self, i: usize) -> Client {
        let certs = self.dir(i).join("certs");
        connect(
            self.main_addrs[i],
            &certs.join("ca.pem"),
            &certs.join("client.pem"),
            &certs.join("client.key"),
        )
        .await
    }

    /// A client of slot `i` as `principal` (a certificate from slot `i`'s
    /// dev CA is issued for it once).
    pub async fn client_as(&self, i: usize, principal: &str) -> Client {
        let out = self.client_cert_dir(i, principal);
        connect(
            self.main_addrs[i],
            &self.dir(i).join("certs/ca.pem"),
            &out.join("client.pem"),
            &out.join("client.key"),
        )
        .await
    }

    /// Issues (once) a client certificate of slot `i`'s dev CA for
    /// `principal`; its dir.
    pub fn client_cert_dir(&self, i: usize, principal: &str) -> PathBuf {
        let name: String = principal
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let out = self.dir(i).join("clients").join(name);
        if !out.join("client.pem").exists() {
            kmsd::pki::issue_client(&self.dir(i), principal, &out).expect("issue client cert");
        }
        out
    }

    /// An IdentityService client of slot `i` as `principal`.
    pub async fn identity_client_as(
        &self,
        i: usize,
        principal: &str,
    ) -> super::harness::IdentityClient {
        let out = self.client_cert_dir(i, principal);
        let channel = connect_channel(
            self.main_addrs[i],
            &self.dir(i).join("certs/ca.pem"),
            &out.join("client.pem"),
            &out.join("client.key"),
        )
        .await;
        super::harness::IdentityClient::new(channel)
    }

    /// `arn:aws:kms:REGION:111122223333:key/ID` for slot `i`.
    pub fn key_arn(&self, i: usize, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{ACCOUNT_A}:key/{key_id}", self.regions[i])
    }

    /// `kmsd replication status --data-dir DIR` (read-only; works while the
    /// Region serves): its stdout, or why it failed.
    pub fn replication_status(&self, i: usize) -> Result<String, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["replication", "status", "--data-dir"])
            .arg(self.dir(i))
            .output()
            .expect("run kmsd replication status");
        if !out.status.success() {
            return Err(format!(
                "kmsd replication status failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8(out.stdout).map_err(|e| e.to_string())
    }

    /// Entries slot `i` has not yet had acknowledged, per peer Region, from
    /// `kmsd replication status` (JSON).
    pub fn try_backlog(&self, i: usize) -> Result<HashMap<String, u64>, String> {
        let text = self.replication_status(i)?;
        parse_backlog(&text).ok_or_else(|| format!("unexpected replication status:\n{text}"))
    }
}

/// Reads the per-peer pending counts from `kmsd replication status`'s
/// JSON: `{"peers": [{"region": R, "pending": N, ...}, ...]}` or a bare
/// array of such objects.
fn parse_backlog(text: &str) -> Option<HashMap<String, u64>> {
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    let peers = match &v {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => o
            .get("peers")
            .or_else(|| o.get("backlog"))?
            .as_array()?
            .clone(),
        _ => return None,
    };
    peers
        .iter()
        .map(|p| {
            Some((
                p.get("region")?.as_str()?.to_owned(),
                p.get("pending")?.as_u64()?,
            ))
        })
        .collect()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `kmsd certs issue-peer --data-dir CA_DIR --region R --out OUT`.
pub fn issue_peer(ca_dir: &Path, region: &str, out: &Path) {
    let res = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["certs", "issue-peer", "--data-dir"])
        .arg(ca_dir)
        .args(["--region", region, "--out"])
        .arg(out)
        .output()
        .expect("run kmsd certs issue-peer");
    assert!(
        res.status.success(),
        "kmsd certs issue-peer --region {region} failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.join("peer.pem").exists() && out.join("peer.key").exists());
}

// ---------------------------------------------------------------------------
// Waiting for replication and reading multi-Region state.

/// Polls `f` every [`POLL`] until it yields `Some`, for at most
/// [`CONVERGE`]; panics with `what` (and the last observation) if it never
/// does. Waiting for an event, not timing it.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + CONVERGE;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("gave up waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// DescribeKey, returning the status on failure.
pub async fn try_describe(c: &mut Client, key_id: &str) -> Result<pb::KeyMetadata, tonic::Status> {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key_id.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().key_metadata.unwrap_or_default())
}

/// Waits until DescribeKey of `key_id` succeeds through `c` and `pred`
/// accepts the metadata; returns it.
pub async fn wait_key(
    c: &Client,
    key_id: &str,
    what: &str,
    pred: impl Fn(&pb::KeyMetadata) -> bool,
) -> pb::KeyMetadata {
    eventually(what, || {
        let mut c = c.clone();
        let pred = &pred;
        async move {
            match try_describe(&mut c, key_id).await {
                Ok(m) if pred(&m) => Ok(m),
                Ok(m) => Err(format!("{m:?}")),
                Err(e) => Err(format!("{e:?}")),
            }
        }
    })
    .await
}

/// A key's multi-Region view, in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrView {
    pub key_type: pb::MultiRegionKeyType,
    /// (ARN, Region) of the primary.
    pub primary: (String, String),
    /// (ARN, Region) of each replica, sorted by Region.
    pub replicas: Vec<(String, String)>,
}

/// The multi-Region view in `m` (panics for a single-Region key's).
pub fn mr_view(m: &pb::KeyMetadata) -> MrView {
    let cfg = m
        .multi_region_configuration
        .as_ref()
        .unwrap_or_else(|| panic!("no MultiRegionConfiguration: {m:?}"));
    let p = cfg.primary_key.clone().unwrap_or_default();
    let mut replicas: Vec<(String, String)> = cfg
        .replica_keys
        .iter()
        .map(|r| (r.arn.clone(), r.region.clone()))
        .collect();
    replicas.sort_by(|a, b| a.1.cmp(&b.1));
    MrView {
        key_type: cfg.multi_region_key_type(),
        primary: (p.arn, p.region),
        replicas,
    }
}

/// The replica Regions in `m`, sorted.
pub fn replica_regions(m: &pb::KeyMetadata) -> Vec<String> {
    mr_view(m).replicas.into_iter().map(|(_, r)| r).collect()
}

/// Whether `m` says this Region holds the primary.
pub fn is_primary(m: &pb::KeyMetadata) -> bool {
    m.multi_region_configuration
        .as_ref()
        .is_some_and(|c| c.multi_region_key_type() == pb::MultiRegionKeyType::Primary)
}

/// Creates a multi-Region key of `spec` and `usage` (symmetric default for
/// `KeySpec::Unspecified`) through `c`; its id.
pub async fn create_mr_key(
    c: &mut Client,
    description: &str,
    spec: pb::KeySpec,
    usage: pb::KeyUsageType,
) -> String {
    let m = c
        .create_key(pb::CreateKeyRequest {
            description: description.into(),
            key_spec: spec as i32,
            key_usage: usage as i32,
            multi_region: true,
            ..Default::default()
        })
        .await
        .expect("create multi-Region key")
        .into_inner()
        .key_metadata
        .expect("metadata");
    assert!(m.key_id.starts_with("mrk-"), "{}", m.key_id);
    m.key_id
}

/// A symmetric multi-Region key.
pub async fn create_mr_symmetric(c: &mut Client, description: &str) -> String {
    create_mr_key(
        c,
        description,
        pb::KeySpec::Unspecified,
        pb::KeyUsageType::Unspecified,
    )
    .await
}

/// ReplicateKey, returning the status on failure.
pub async fn try_replicate(
    c: &mut Client,
    key_id: &str,
    region: &str,
) -> Result<pb::ReplicateKeyResponse, tonic::Status> {
    c.replicate_key(pb::ReplicateKeyRequest {
        key_id: key_id.into(),
        replica_region: region.into(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

/// ReplicateKey, expecting success.
pub async fn replicate(c: &mut Client, key_id: &str, region: &str) -> pb::ReplicateKeyResponse {
    try_replicate(c, key_id, region)
        .await
        .unwrap_or_else(|e| panic!("replicate {key_id} to {region}: {e:?}"))
}

/// RotateKeyOnDemand, returning the status on failure.
pub async fn try_rotate(c: &mut Client, key_id: &str) -> Result<(), tonic::Status> {
    c.rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
        key_id: key_id.into(),
    })
    .await
    .map(|_| ())
}

/// UpdatePrimaryRegion, returning the status on failure.
pub async fn try_update_primary(
    c: &mut Client,
    key_id: &str,
    region: &str,
) -> Result<(), tonic::Status> {
    c.update_primary_region(pb::UpdatePrimaryRegionRequest {
        key_id: key_id.into(),
        primary_region: region.into(),
    })
    .await
    .map(|_| ())
}

/// Every entry of ListKeyRotations (all material, following markers).
pub async fn all_rotations(c: &mut Client, key_id: &str) -> Vec<pb::RotationsListEntry> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_key_rotations(pb::ListKeyRotationsRequest {
                key_id: key_id.into(),
                include_key_material: pb::IncludeKeyMaterial::AllKeyMaterial as i32,
                limit: Some(1000),
                marker: marker.take(),
            })
            .await
            .unwrap_or_else(|e| panic!("list key rotations of {key_id}: {e:?}"))
            .into_inner();
        out.extend(page.rotations);
        if !page.truncated {
            return out;
        }
        marker = Some(page.next_marker);
    }
}

/// A barrier on every replication path between running Regions, without
/// reading any outbox: from each Region, a fresh probe key is replicated
/// to every other, and the probe's arrival is awaited. Delivery to a peer
/// is in outbox order and never skips an entry (docs/multi-region.md), so
/// once a probe has arrived everything its sender enqueued for that peer
/// before it has been applied.
pub async fn replication_barrier(cl: &MrCluster) {
    let up: Vec<usize> = (0..cl.regions.len())
        .filter(|&i| cl.is_running(i))
        .collect();
    for &from in &up {
        let mut c = cl.client(from).await;
        let probe = create_mr_symmetric(&mut c, "replication barrier probe").await;
        for &to in up.iter().filter(|&&to| to != from) {
            replicate(&mut c, &probe, &cl.regions[to]).await;
        }
        for &to in up.iter().filter(|&&to| to != from) {
            let ct = cl.client(to).await;
            wait_key(
                &ct,
                &probe,
                &format!(
                    "the barrier probe from {} in {}",
                    cl.regions[from], cl.regions[to]
                ),
                |m| m.key_state() == pb::KeyState::Enabled,
            )
            .await;
        }
    }
}
