//! Real hsm-sim clusters for the HSM key-store tests: `hsm-sim init` a
//! cluster directory, then start, SIGKILL, SIGTERM and restart its nodes as
//! separate processes on 127.0.0.1.
//!
//! The `hsm-sim` binary is built by `cargo build --workspace --bins` (as
//! `make test` does) and found beside kmsd's binary: cargo gives a test
//! `CARGO_BIN_EXE_*` only for its own package's binaries.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::harness::wait_for_ready_line;

/// What `hsm-sim serve` prints on stderr once it serves, followed by the
/// address (hsm-sim/src/main.rs).
pub const READY_PREFIX: &str = "hsm-sim: node ";
/// Between the node id and the address in the ready line.
pub const READY_MIDDLE: &str = " listening on ";

/// The `kmsuser` password clusters made here start with.
pub const PASSWORD: &str = "kmsuser-Pa55word";

/// The hsm-sim binary.
pub fn hsm_sim_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_kmsd"))
        .parent()
        .expect("target dir")
        .join("hsm-sim");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}

/// A free port on 127.0.0.1 (bound, then released: nodes must know each
/// other's addresses before they start).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `hsm-sim init --cluster-id ID --kmsuser-password PW --dir DIR`.
pub fn init_cluster(dir: &Path, cluster_id: &str, password: &str) {
    let out = Command::new(hsm_sim_bin())
        .args([
            "init",
            "--cluster-id",
            cluster_id,
            "--kmsuser-password",
            password,
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("run hsm-sim init");
    assert!(
        out.status.success(),
        "hsm-sim init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One running node.
pub struct HsmNode {
    pub node_id: String,
    pub addr: String,
    pub data_dir: PathBuf,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl HsmNode {
    /// Starts `hsm-sim serve` and waits for its ready line.
    pub fn start(
        cluster_dir: &Path,
        node_id: &str,
        data_dir: &Path,
        addr: &str,
        peers: &[String],
        extra: &[&str],
    ) -> Self {
        let mut cmd = Command::new(hsm_sim_bin());
        cmd.args(["serve", "--cluster-dir"])
            .arg(cluster_dir)
            .args(["--node-id", node_id, "--data-dir"])
            .arg(data_dir)
            .args(["--listen", addr]);
        for p in peers {
            cmd.args(["--peer", p]);
        }
        cmd.args(extra);
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hsm-sim");
        let (stderr, addr) =
            wait_for_ready_line(&mut child, &format!("hsm-sim node {node_id}"), |line| {
                let rest = line.strip_prefix(READY_PREFIX)?;
                rest.split_once(READY_MIDDLE)
                    .map(|(_, a)| a.trim().to_owned())
            });
        Self {
            node_id: node_id.to_owned(),
            addr,
            data_dir: data_dir.to_owned(),
            child,
            stderr,
        }
    }

    /// What the node has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM; the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        self.child.wait().expect("wait")
    }
}

impl Drop for HsmNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cluster directory and its nodes (node ids "1", "2", …), each with its
/// own data dir under `root` and a port fixed at creation, so a node
/// restarts on the same address.
pub struct HsmCluster {
    pub root: tempfile::TempDir,
    pub cluster_id: String,
    pub cluster_dir: PathBuf,
    pub addrs: Vec<String>,
    pub nodes: Vec<Option<HsmNode>>,
}

impl HsmCluster {
    /// Inits a cluster with `n` node slots (none started).
    pub fn init(cluster_id: &str, n: usize) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let cluster_dir = root.path().join("cluster");
        init_cluster(&cluster_dir, cluster_id, PASSWORD);
        let addrs = (0..n)
            .map(|_| format!("127.0.0.1:{}", free_port()))
            .collect();
        Self {
            root,
            cluster_id: cluster_id.to_owned(),
            cluster_dir,
            addrs,
            nodes: (0..n).map(|_| None).collect(),
        }
    }

    /// Inits a cluster of `n` nodes and starts them all.
    pub fn start(cluster_id: &str, n: usize) -> Self {
        let mut c = Self::init(cluster_id, n);
        for i in 0..n {
            c.start_node(i);
        }
        c
    }

    /// The data dir of node `i` (0-based slot; node id `i + 1`).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.root.path().join(format!("node{}", i + 1))
    }

    /// Starts (or restarts) node `i` with every other slot as a peer.
    pub fn start_node(&mut self, i: usize) {
        self.start_node_with(i, &[]);
    }

    /// Starts node `i` with extra `hsm-sim serve` flags.
    pub fn start_node_with(&mut self, i: usize, extra: &[&str]) {
        let peers: Vec<String> = (0..self.addrs.len())
            .filter(|&j| j != i)
            .map(|j| self.addrs[j].clone())
            .collect();
        let node = HsmNode::start(
            &self.cluster_dir,
            &(i + 1).to_string(),
            &self.data_dir(i),
            &self.addrs[i],
            &peers,
            extra,
        );
        self.nodes[i] = Some(node);
    }

    /// SIGKILLs node `i`.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.kill();
        }
    }

    /// The cluster CA certificate (PEM): the trust anchor for
    /// CreateCustomKeyStore.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.cluster_dir.join("ca.pem")).expect("ca.pem")
    }

    /// `CLUSTER_ID=ADDR,ADDR…`, the value of `kmsd serve --hsm-cluster`.
    pub fn hsm_cluster_flag(&self) -> String {
        format!("{}={}", self.cluster_id, self.addrs.join(","))
    }
}
