//! `hsm-sim serve`: loads the cluster directory and the node's data
//! directory, issues the node certificate, catches up from the peers, then
//! serves `Hsm` and `Cluster` on one TLS listener until the shutdown future
//! completes, catching up every [`CATCH_UP_INTERVAL`] meanwhile.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kms_proto::hsm::v1::cluster_server::ClusterServer;
use kms_proto::hsm::v1::hsm_server::HsmServer;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

use crate::cluster::{ClusterDir, ClusterError};
use crate::node::{HsmError, Node, NodeSettings, Peer, REPLICATE_TIMEOUT};
use crate::service::{ClusterService, HsmService};
use crate::store::Store;
use crate::tls::{issue_node_cert, valid_node_id};

/// How often a node pulls a snapshot from each peer.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_secs(1);
/// How long the catch-up before serving may take.
const STARTUP_CATCH_UP: Duration = Duration::from_secs(5);
/// How long in-flight calls may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `hsm-sim serve`'s options.
pub struct ServeOptions {
    /// The directory `hsm-sim init` made.
    pub cluster_dir: PathBuf,
    /// This node's id.
    pub node_id: String,
    /// This node's own data directory.
    pub data_dir: PathBuf,
    /// Where to listen (an IP address: it goes into the certificate).
    pub listen: SocketAddr,
    /// The other nodes' addresses.
    pub peers: Vec<String>,
    /// Failed logins before `kmsuser` is locked.
    pub max_login_failures: u32,
}

/// Why a node could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Bad options.
    #[error("{0}")]
    Usage(String),
    /// The cluster directory.
    #[error("cluster directory: {0}")]
    Cluster(#[from] ClusterError),
    /// The data directory.
    #[error("data directory {path}: {source}")]
    Data {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Loading the keys.
    #[error("{0}")]
    Node(#[from] HsmError),
    /// Certificates.
    #[error("node certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// Listening.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The gRPC server.
    #[error("server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Runs a node. `ready` is called with the bound address once the node
/// accepts connections; it returns when `shutdown` completes.
pub async fn serve(
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    if !valid_node_id(&opts.node_id) {
        return Err(ServeError::Usage(
            "invalid --node-id: 1 to 32 characters of A-Z, a-z, 0-9, '-' and '_'".into(),
        ));
    }
    if opts.max_login_failures == 0 {
        return Err(ServeError::Usage(
            "--max-login-failures must be at least 1".into(),
        ));
    }
    let cluster = ClusterDir::load(&opts.cluster_dir)?;
    let (store, master) = Store::open(&opts.data_dir).map_err(|source| ServeError::Data {
        path: opts.data_dir.clone(),
        source,
    })?;
    let ident = issue_node_cert(
        &cluster.ca_pem,
        &cluster.ca_key_pem,
        &cluster.cluster_id,
        &opts.node_id,
        opts.listen.ip(),
    )?;
    let ca = Certificate::from_pem(&cluster.ca_pem);
    // Calls to peers: their server certificate must chain to the cluster CA
    // (and name the dialled IP); ours proves who we are.
    let client_tls =
        ClientTlsConfig::new()
            .ca_certificate(ca.clone())
            .identity(Identity::from_pem(
                &ident.cert_pem,
                ident.key_pem.as_bytes(),
            ));
    let mut peers = Vec::new();
    for addr in &opts.peers {
        let channel = Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|e| ServeError::Usage(format!("--peer {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(1))
            .timeout(REPLICATE_TIMEOUT)
            .tcp_nodelay(true)
            .tls_config(client_tls.clone())?
            .connect_lazy();
        peers.push(Peer::new(addr.clone(), channel));
    }
    let node = Arc::new(Node::new(
        NodeSettings {
            cluster_id: cluster.cluster_id.clone(),
            node_id: opts.node_id.clone(),
            address: opts.listen.to_string(),
            password_hash: cluster.password_hash.clone(),
            max_login_failures: opts.max_login_failures,
        },
        &cluster.cluster_key,
        &master,
        store,
        peers,
    )?);
    drop(cluster);
    drop(master);

    // Catch up before serving, so a returning node does not answer NOT_FOUND
    // for keys made while it was down. Peers that are down refuse at once.
    let _ = tokio::time::timeout(STARTUP_CATCH_UP, node.catch_up()).await;

    let incoming = TcpIncoming::bind(opts.listen)
        .map_err(|source| ServeError::Listen {
            addr: opts.listen,
            source,
        })?
        .with_nodelay(Some(true));
    let bound = incoming.local_addr().map_err(|source| ServeError::Listen {
        addr: opts.listen,
        source,
    })?;
    let server_tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            &ident.cert_pem,
            ident.key_pem.as_bytes(),
        ))
        // Optional: Hsm clients authenticate by login; the Cluster service
        // insists on a node certificate (crate::service).
        .client_ca_root(ca)
        .client_auth_optional(true);
    let router = Server::builder()
        .tls_config(server_tls)?
        .add_service(HsmServer::new(HsmService(Arc::clone(&node))))
        .add_service(ClusterServer::new(ClusterService(Arc::clone(&node))));

    let catch_up = {
        let node = Arc::clone(&node);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CATCH_UP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                node.catch_up().await;
            }
        })
    };
    ready(bound);
    // Graceful shutdown, bounded: a client that keeps a stream open must
    // not keep the node from exiting.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = router.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    });
    tokio::pin!(serving);
    let res = tokio::select! {
        r = &mut serving => r,
        () = shutdown => {
            let _ = stop_tx.send(());
            tokio::time::timeout(SHUTDOWN_GRACE, serving).await.unwrap_or(Ok(()))
        }
    };
    catch_up.abort();
    res.map_err(ServeError::from)
}
