//! hsm-sim: one node of a simulated HSM cluster (see README "HSM key
//! stores" and docs/hsm.md). This file only parses the command line, sets
//! up logging and signals, and calls the library.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hsm_sim::secret::Password;
use hsm_sim::server::{serve, ServeOptions};
use hsm_sim::store::{read_user, write_user, UserState};

/// A simulated HSM cluster node (like one HSM of an AWS CloudHSM cluster).
///
/// A cluster is two or more nodes started from the same cluster directory
/// (made once by `init`) with each other's addresses as --peer. Clients
/// (kmsd) log in as `kmsuser` and use AES-256 keys by handle; key material
/// never leaves the nodes. A new key is acknowledged only once it is
/// stored on two nodes; a node that was down catches up from the others.
#[derive(Parser)]
#[command(
    name = "hsm-sim",
    version,
    propagate_version = true,
    after_long_help = concat!(
        "Example: a two-node cluster on this host\n",
        "  hsm-sim init --cluster-id cluster-1234567abcd --kmsuser-password 'kmsuser-Pa55word' --dir cluster\n",
        "  hsm-sim serve --cluster-dir cluster --node-id 1 --data-dir node1 --listen 127.0.0.1:2301 --peer 127.0.0.1:2302 &\n",
        "  hsm-sim serve --cluster-dir cluster --node-id 2 --data-dir node2 --listen 127.0.0.1:2302 --peer 127.0.0.1:2301 &\n",
        "Then start kmsd with --hsm-cluster cluster-1234567abcd=127.0.0.1:2301,127.0.0.1:2302\n",
        "and give CreateCustomKeyStore cluster/ca.pem as the trust anchor certificate."
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a cluster directory (once per cluster).
    ///
    /// Writes the cluster CA (ca.pem, the trust anchor to give kmsd's
    /// CreateCustomKeyStore; ca.key), the cluster key that wraps keys
    /// between nodes, and the kmsuser password's argon2id hash. Refuses a
    /// directory that exists and is not empty.
    Init {
        /// Cluster id: 19 to 24 characters of a-z, 0-9 and '-' (e.g.
        /// cluster-1234567abcd), as kmsd's CloudHsmClusterId.
        #[arg(long)]
        cluster_id: String,
        /// Password of the crypto user kmsuser (7 to 32 characters), as
        /// kmsd's KeyStorePassword. Stored only as a salted argon2id hash.
        #[arg(long, env = "HSM_SIM_KMSUSER_PASSWORD", hide_env_values = true)]
        kmsuser_password: String,
        /// The cluster directory to create (mode 0700).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Run one node of the cluster.
    ///
    /// Prints `hsm-sim: node N listening on ADDR` on stderr once it serves;
    /// SIGTERM or Ctrl-C stops it cleanly (exit 0).
    Serve {
        /// The directory `hsm-sim init` made (same for every node).
        #[arg(long)]
        cluster_dir: PathBuf,
        /// This node's id (e.g. 1, 2, ...), unique in the cluster; it is
        /// written into the node's certificate.
        #[arg(long)]
        node_id: String,
        /// This node's own data directory (keys sealed under its master
        /// key, tombstones, login state); created if missing.
        #[arg(long)]
        data_dir: PathBuf,
        /// Address to listen on, IP:PORT (the IP goes into the node's
        /// certificate, which clients check against the address they dial:
        /// use the address clients and peers reach it by, not 0.0.0.0).
        #[arg(long)]
        listen: SocketAddr,
        /// Another node's address, IP:PORT (repeat for each node).
        #[arg(long = "peer", value_name = "ADDR")]
        peers: Vec<String>,
        /// Failed kmsuser logins after which the user is locked on this
        /// node (until `hsm-sim unlock-user`).
        #[arg(long, default_value_t = 5)]
        max_login_failures: u32,
    },
    /// Unlock kmsuser on one node after too many failed logins.
    ///
    /// Resets the failure count in DATA_DIR/user.json. Works on a running
    /// node too: each login reads the state afresh.
    UnlockUser {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Init {
            cluster_id,
            kmsuser_password,
            dir,
        } => {
            let pw = Password::new(kmsuser_password);
            match hsm_sim::cluster::init(&dir, &cluster_id, &pw) {
                Ok(()) => {
                    eprintln!(
                        "hsm-sim: cluster {cluster_id} created in {}; trust anchor: {}",
                        dir.display(),
                        dir.join(hsm_sim::cluster::CA_CERT).display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::UnlockUser { data_dir } => {
            let before = match read_user(&data_dir) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            match write_user(&data_dir, UserState::default()) {
                Ok(()) => {
                    eprintln!(
                        "hsm-sim: kmsuser unlocked in {} (was: {} failed logins{})",
                        data_dir.display(),
                        before.failures,
                        if before.locked { ", locked" } else { "" }
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Serve {
            cluster_dir,
            node_id,
            data_dir,
            listen,
            peers,
            max_login_failures,
        } => {
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => return fail(&e),
            };
            let id = node_id.clone();
            let opts = ServeOptions {
                cluster_dir,
                node_id,
                data_dir,
                listen,
                peers,
                max_login_failures,
            };
            let res = rt.block_on(serve(
                opts,
                |addr| eprintln!("hsm-sim: node {id} listening on {addr}"),
                shutdown_signal(),
            ));
            // Do not wait for stray tasks (a peer call in flight).
            rt.shutdown_background();
            match res {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("hsm-sim: error: {e}");
    ExitCode::FAILURE
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
