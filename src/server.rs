//! The kmsd server: opens the data directory (lock, root key, store),
//! starts the background jobs, serves gRPC over mutual TLS, and shuts down
//! cleanly.
//!
//! Shutdown order: stop accepting and let in-flight calls finish (tonic's
//! graceful shutdown), stop the background jobs, flush RocksDB, release the
//! data-dir lock. Tests bind `127.0.0.1:0`, pass the listener in, and
//! shut down with a oneshot.
//!
//! kmsd runs the TLS accept itself rather than through tonic: each
//! accepted TCP connection gets [`TransportLimits::handshake_timeout`] to
//! finish its handshake, at most [`TransportLimits::max_pending_handshakes`]
//! handshakes are in progress at once (beyond that, connections wait in the
//! kernel's backlog), at most [`TransportLimits::max_connections`]
//! connections are open at once (handshaking or established: a permit is
//! taken before `accept` and held by the connection's stream,
//! [`LimitedStream`], until it closes), and every handshake uses the TLS
//! configuration current when it starts, so a CRL re-read on SIGHUP
//! ([`TlsReloader`]) refuses a revoked client certificate on its next
//! connection. Finished TLS streams go to tonic, which applies the
//! per-request limits.

use std::fs::File;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateRevocationListDer;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::transport::Server;

use crate::backend::{BackendError, LocalBackend};
use crate::clock::Clock;
use crate::kms::{Kms, KmsConfig};
use crate::proto::kms::v1::identity_service_server::IdentityServiceServer;
use crate::proto::kms::v1::key_management_service_server::KeyManagementServiceServer;
use crate::proto::kms::v1::FILE_DESCRIPTOR_SET;
use crate::proto::replication::v1::replication_server::ReplicationServer;
use crate::proto::transport::YieldBeforeWrite;
use crate::replication::client::PeerClient;
use crate::replication::server::ReplicationService;
use crate::replication::ReplicationConfig;
use crate::secret::RootKey;
use crate::service::GrpcDoor;
use crate::store::{Store, StoreError};

/// How long a graceful shutdown waits for open connections to close.
pub const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// PEM text of the TLS material.
#[derive(Clone)]
pub struct TlsPem {
    /// Server certificate chain.
    pub cert: String,
    /// Server private key.
    pub key: String,
    /// CA that signs client certificates.
    pub client_ca: String,
}

impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsPem([REDACTED])")
    }
}

impl TlsPem {
    /// Reads the three PEM files.
    pub fn read(cert: &Path, key: &Path, client_ca: &Path) -> Result<Self, ServerError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| ServerError::Io {
                path: p.to_owned(),
                source,
            })
        };
        Ok(Self {
            cert: read(cert)?,
            key: read(key)?,
            client_ca: read(client_ca)?,
        })
    }
}

/// Limits on connections and requests, so that neither an unauthenticated
/// peer nor a slow or greedy client can hold kmsd's resources for ever.
#[derive(Debug, Clone)]
pub struct TransportLimits {
    /// How long a TCP connection may take to complete its TLS handshake
    /// before it is closed.
    pub handshake_timeout: Duration,
    /// How many TLS handshakes may be in progress at once; further
    /// connections wait in the listen backlog until one finishes.
    pub max_pending_handshakes: usize,
    /// How long one request may run before it fails (DEADLINE_EXCEEDED
    /// style cancellation by tonic).
    pub request_timeout: Duration,
    /// How many requests one connection may have in flight at once.
    pub concurrency_per_connection: usize,
    /// The HTTP/2 concurrent-stream limit announced to clients.
    pub max_concurrent_streams: u32,
    /// How long a connection may live; then it is closed gracefully (the
    /// client reconnects, and its certificate is verified again).
    pub max_connection_age: Duration,
    /// How long in-flight requests get to finish once a connection reached
    /// its maximum age.
    pub max_connection_age_grace: Duration,
    /// HTTP/2 keepalive ping interval; a peer that does not answer within
    /// `keepalive_timeout` is disconnected.
    pub keepalive_interval: Duration,
    /// See `keepalive_interval`.
    pub keepalive_timeout: Duration,
    /// How many connections may be open at once, handshaking or
    /// established; further connections wait in the listen backlog until
    /// one closes. Bounds the file descriptors and memory that clients
    /// (which each hold a connection for up to `max_connection_age`) can
    /// take.
    pub max_connections: usize,
}

impl Default for TransportLimits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            max_pending_handshakes: 256,
            request_timeout: Duration::from_secs(60),
            concurrency_per_connection: 256,
            max_concurrent_streams: 256,
            max_connection_age: Duration::from_secs(60 * 60),
            max_connection_age_grace: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(20),
            max_connections: 10_000,
        }
    }
}

/// Everything the server needs.
pub struct ServerConfig {
    /// The data directory (RocksDB under `db/`).
    pub data_dir: PathBuf,
    /// Core settings.
    pub kms: KmsConfig,
    /// TLS material.
    pub tls: TlsPem,
    /// A file of certificate revocation lists (PEM or DER) for client
    /// certificates, re-read by [`TlsReloader::reload`] (SIGHUP).
    pub client_crl: Option<PathBuf>,
    /// Connection and request limits.
    pub limits: TransportLimits,
    /// The root key.
    pub root_key: RootKey,
    /// Region-to-Region replication (`--peer`, `--peer-cert`, ...), if
    /// this kmsd has peers; its listener is passed to
    /// [`KmsServer::serve_with_replication`].
    pub replication: Option<ReplicationConfig>,
}

impl ServerConfig {
    /// Dev-mode configuration for `data_dir`: creates (on first use) the
    /// dev PKI under `certs/` and the root key file `root.key` (0600).
    /// `root_key` overrides the file when given.
    pub fn dev(
        data_dir: &Path,
        kms: KmsConfig,
        root_key: Option<RootKey>,
    ) -> Result<Self, ServerError> {
        let paths =
            crate::pki::ensure_dev_pki(data_dir).map_err(|e| ServerError::Pki(e.to_string()))?;
        let tls = TlsPem::read(&paths.server_cert, &paths.server_key, &paths.ca_cert)?;
        let root_key = match root_key {
            Some(k) => k,
            None => {
                let path = data_dir.join("root.key");
                crate::store::load_or_create_dev_root_key(&path)
                    .map_err(|source| ServerError::Io { path, source })?
            }
        };
        Ok(Self {
            data_dir: data_dir.to_owned(),
            kms,
            tls,
            client_crl: None,
            limits: TransportLimits::default(),
            root_key,
            replication: None,
        })
    }
}

/// Whether dev mode listening on `addr` deserves a warning, and the
/// warning: dev mode keeps its root key and CA key in plain files next to
/// the data, which is for a developer's own machine, not a network.
pub fn dev_bind_warning(addr: &SocketAddr) -> Option<String> {
    let ip = match addr.ip() {
        // An IPv4-mapped IPv6 address is as loopback as its IPv4 address.
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(std::net::IpAddr::V4)
            .unwrap_or(std::net::IpAddr::V6(v6)),
        v4 => v4,
    };
    if ip.is_loopback() {
        return None;
    }
    Some(format!(
        "--dev is listening on {addr}, which is not a loopback address: dev mode keeps its root key \
         and its CA's private key unprotected in the data directory, and any client certificate \
         that CA signs is accepted; use it only on 127.0.0.1 / ::1"
    ))
}

/// A start-up or serving failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Another kmsd holds the data directory.
    #[error("data directory {0} is in use by another kmsd (its lock file is held); stop that daemon or use another --data-dir")]
    Locked(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("opening the key store: {0}")]
    Store(#[from] StoreError),
    /// The key material backend could not be opened (e.g. a wrong root key).
    #[error("opening the key material backend: {0}")]
    Backend(#[from] BackendError),
    /// Serving failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The TLS configuration (certificates, key, CA or CRL) is unusable.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The dev PKI could not be created.
    #[error("dev certificates: {0}")]
    Pki(String),
    /// Reflection set-up failed.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    /// The replication configuration is unusable.
    #[error("replication: {0}")]
    Replication(String),
}

/// The TLS server configuration of new handshakes, rebuilt from the PEM
/// material and the CRL file on [`TlsReloader::reload`]. A handshake uses
/// the configuration current when it starts; connections already
/// established are not affected (they end at the maximum connection age).
#[derive(Clone)]
pub struct TlsReloader {
    inner: Arc<TlsShared>,
}

struct TlsShared {
    pem: TlsPem,
    crl: Option<PathBuf>,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl TlsReloader {
    pub(crate) fn new(pem: TlsPem, crl: Option<PathBuf>) -> Result<Self, ServerError> {
        let config = build_tls_config(&pem, crl.as_deref())?;
        Ok(Self {
            inner: Arc::new(TlsShared {
                pem,
                crl,
                current: RwLock::new(config),
            }),
        })
    }

    /// Re-reads the CRL file and makes the result the configuration of every
    /// later handshake. On an error (unreadable or invalid CRL) the previous
    /// configuration stays in force and the error is returned.
    pub fn reload(&self) -> Result<(), ServerError> {
        let config = build_tls_config(&self.inner.pem, self.inner.crl.as_deref())?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = config;
        tracing::info!(crl = ?self.inner.crl, "TLS configuration reloaded");
        Ok(())
    }

    pub(crate) fn current(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.inner.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The rustls configuration: the server identity, client certificates
/// required and verified against the client CA and (if given) the CRLs,
/// HTTP/2 by ALPN.
fn build_tls_config(
    pem: &TlsPem,
    crl: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let crls = match crl {
        Some(path) => read_crls(path)?,
        None => Vec::new(),
    };
    crate::proto::transport::server_tls_config(
        pem.cert.as_bytes(),
        pem.key.as_bytes(),
        pem.client_ca.as_bytes(),
        crls,
    )
    .map_err(ServerError::Tls)
}

/// The CRLs in `path`: PEM (any number of `X509 CRL` blocks) or one DER CRL.
fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, ServerError> {
    let bytes = std::fs::read(path).map_err(|source| ServerError::Io {
        path: path.to_owned(),
        source,
    })?;
    let bad = |why: String| ServerError::Tls(format!("{}: {why}", path.display()));
    let crls = if bytes.starts_with(b"-----") || bytes.iter().take(64).all(u8::is_ascii) {
        CertificateRevocationListDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?
    } else {
        vec![CertificateRevocationListDer::from(bytes)]
    };
    if crls.is_empty() {
        return Err(bad("no certificate revocation list in the file".into()));
    }
    Ok(crls)
}

/// A client's TLS stream, holding one of the [`TransportLimits::max_connections`]
/// permits until tonic drops it (the connection closed).
///
/// Its writes go through [`YieldBeforeWrite`], which lets the responses
/// ready on the same worker leave in one TLS record (see
/// `kms_proto::transport`).
pub struct LimitedStream {
    inner: YieldBeforeWrite<TlsStream<TcpStream>>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for LimitedStream {
    // The TLS stream's own: the service reads the client certificate from
    // it (`Request::peer_certs`).
    type ConnectInfo = <YieldBeforeWrite<TlsStream<TcpStream>> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Accepts TCP connections and runs their TLS handshakes under the limits,
/// handing finished TLS streams to `out` (tonic's incoming). Ends when
/// tonic drops the receiving side (shutdown).
async fn accept_loop(
    listener: TcpListener,
    tls: TlsReloader,
    limits: TransportLimits,
    out: mpsc::Sender<std::io::Result<LimitedStream>>,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let pending = Arc::new(Semaphore::new(limits.max_pending_handshakes.max(1)));
    loop {
        // Permits first: while the limit of connections is open, or of
        // handshakes is in progress, nothing more is accepted from the
        // backlog (so a flood costs kmsd no file descriptors).
        let connection = tokio::select! {
            p = Arc::clone(&open).acquire_owned() => p,
            _ = out.closed() => return,
        };
        let Ok(connection) = connection else { return };
        let permit = tokio::select! {
            p = Arc::clone(&pending).acquire_owned() => p,
            _ = out.closed() => return,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = out.closed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // E.g. out of file descriptors: pause rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Without TCP_NODELAY small responses wait on delayed ACKs (~40 ms
        // per call).
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(tls.current());
        let out = out.clone();
        let timeout = limits.handshake_timeout;
        tokio::spawn(async move {
            let result = tokio::time::timeout(timeout, acceptor.accept(tcp)).await;
            drop(permit);
            match result {
                Ok(Ok(stream)) => {
                    let stream = LimitedStream {
                        inner: YieldBeforeWrite::new(stream),
                        _permit: connection,
                    };
                    let _ = out.send(Ok(stream)).await;
                }
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake failed; connection closed")
                }
                Err(_) => {
                    tracing::info!(%peer, ?timeout, "TLS handshake timed out; connection closed")
                }
            }
        });
    }
}

/// An opened data directory, ready to serve.
pub struct KmsServer {
    kms: Kms,
    tls: TlsReloader,
    limits: TransportLimits,
    /// The replication configuration and the TLS of its listener (peer
    /// certificate, peer CA).
    replication: Option<(ReplicationConfig, TlsReloader)>,
    // Held for the server's life: the OS releases the lock when it closes.
    _lock: File,
}

/// Takes the data directory's lock (creating the directory), or
/// `Locked` when another kmsd (a daemon, a bulk load, a rewrap) holds it.
/// The OS releases the lock when the returned file is closed.
fn lock_data_dir(dir: &Path) -> Result<File, ServerError> {
    std::fs::create_dir_all(dir).map_err(|source| ServerError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let lock_path = dir.join("kmsd.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| ServerError::Io {
            path: lock_path.clone(),
            source,
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServerError::Locked(dir.to_owned())),
        Err(std::fs::TryLockError::Error(source)) => Err(ServerError::Io {
            path: lock_path,
            source,
        }),
    }
}

/// `kmsd rewrap`: moves the stopped data directory `data_dir` from root
/// key `old` to `new` (see `backend::root::rewrap`), holding the data-dir
/// lock so no daemon runs meanwhile. `limit` stops after that many records
/// (tests); run it again to continue.
pub fn rewrap_data_dir(
    data_dir: &Path,
    old: RootKey,
    new: RootKey,
    limit: Option<u64>,
) -> Result<crate::store::RewrapProgress, ServerError> {
    let db = data_dir.join("db");
    if !db.is_dir() {
        return Err(ServerError::Io {
            path: db,
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    let _lock = lock_data_dir(data_dir)?;
    let store = Store::open(&db)?;
    let progress = crate::backend::root::rewrap(&store, old, new, limit)?;
    store.flush()?;
    Ok(progress)
}

/// A stopped data directory's store, opened by an offline tool that writes
/// (`kmsd jobs confirm-clock`, `kmsd jobs requeue`): the data-dir lock is
/// held while it lives, so a running kmsd makes the open fail with
/// [`ServerError::Locked`] and no daemon starts meanwhile.
pub struct StoppedStore {
    store: Store,
    _lock: File,
}

impl StoppedStore {
    /// Opens the store of `data_dir`, which must exist. With `root_key`,
    /// the key is checked and the store can read and write authenticated
    /// records (the schedules); without, only `meta`.
    pub fn open(data_dir: &Path, root_key: Option<RootKey>) -> Result<Self, ServerError> {
        let db = existing_db(data_dir)?;
        let lock = lock_data_dir(data_dir)?;
        let store = Store::open(&db)?;
        if let Some(root_key) = root_key {
            crate::backend::root::check_root_key(&root_key, &store)?;
        }
        Ok(Self { store, _lock: lock })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Moves quarantined schedule entries back to their schedules (all of
    /// them, or the one whose `entry`, the raw key in hex, is given), in
    /// one synced batch, for the next start to process; needs the store
    /// opened with the root key. An entry that does not decode as a due
    /// time and a key would only fail again, and stays (see
    /// `store::Batch::requeue`).
    pub fn requeue(&self, entry: Option<&str>) -> Result<Requeued, ServerError> {
        let mut done = Requeued::default();
        let mut b = self.store.batch();
        for q in self.store.quarantined()? {
            if entry.is_some_and(|e| !e.eq_ignore_ascii_case(&q.entry)) {
                continue;
            }
            if b.requeue(&q) {
                done.requeued.push(q);
            } else {
                done.kept.push(q);
            }
        }
        b.commit()?;
        Ok(done)
    }
}

/// What [`StoppedStore::requeue`] did.
#[derive(Debug, Default)]
pub struct Requeued {
    /// The entries moved back to their schedules.
    pub requeued: Vec<crate::store::QuarantineEntry>,
    /// The selected entries left in the quarantine (they do not decode).
    pub kept: Vec<crate::store::QuarantineEntry>,
}

/// The store of `data_dir` opened read-only, whether or not a kmsd serves
/// it: RocksDB's read-only mode takes no lock and replays the write-ahead
/// log into memory, so it sees every commit the daemon has synced, and can
/// write nothing (`kmsd jobs status`).
pub fn open_store_read_only(data_dir: &Path) -> Result<Store, ServerError> {
    Ok(Store::open_read_only(&existing_db(data_dir)?)?)
}

/// `data_dir/db`, if it is a directory.
fn existing_db(data_dir: &Path) -> Result<PathBuf, ServerError> {
    let db = data_dir.join("db");
    if db.is_dir() {
        Ok(db)
    } else {
        Err(ServerError::Io {
            path: db,
            source: std::io::ErrorKind::NotFound.into(),
        })
    }
}

impl KmsServer {
    /// Locks the data directory and opens the store.
    pub fn open(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Self, ServerError> {
        let dir = &config.data_dir;
        let db_dir = dir.join("db");
        crate::files::create_private_dir_all(&db_dir).map_err(|source| ServerError::Io {
            path: db_dir.clone(),
            source,
        })?;
        let tls = TlsReloader::new(config.tls, config.client_crl)?;
        let replication = match config.replication {
            Some(r) => {
                r.validate(&config.kms.region)
                    .map_err(ServerError::Replication)?;
                let tls = TlsReloader::new(r.tls.clone(), None)?;
                Some((r, tls))
            }
            None => None,
        };
        let lock = lock_data_dir(dir)?;
        let store = Store::open(&db_dir)?;
        let backend = LocalBackend::open(config.root_key, &store)?;
        Ok(Self {
            kms: Kms::new(store, Arc::new(backend), config.kms, clock),
            tls,
            limits: config.limits,
            replication,
            _lock: lock,
        })
    }

    /// The handle that re-reads the CRL for new handshakes (the daemon calls
    /// it on SIGHUP).
    pub fn tls_reloader(&self) -> TlsReloader {
        self.tls.clone()
    }

    /// The core (for tests and tools in the same process).
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down
    /// cleanly (see the module docs). For a server without replication.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        self.serve_with_replication(listener, None, shutdown).await
    }

    /// Serves the KMS API on `listener` and, when replication is
    /// configured, the replication service (only it) on
    /// `replication_listener`, under the same connection limits, requiring
    /// client certificates from the peer CA; starts the delivery tasks to
    /// the peers. Until `shutdown` completes; then both listeners stop, the
    /// delivery tasks and background jobs end (joined), and the store is
    /// flushed.
    pub async fn serve_with_replication(
        self,
        listener: TcpListener,
        replication_listener: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let replication = match (&self.replication, replication_listener) {
            (Some((config, tls)), Some(l)) => {
                // Before anything starts: a bad peer URL fails the start.
                let client =
                    PeerClient::new(config, self.kms.region()).map_err(ServerError::Replication)?;
                Some((config.clone(), tls.clone(), l, client))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ServerError::Replication(
                    "peers are configured but no replication listener was given".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ServerError::Replication(
                    "a replication listener was given but no peers are configured".into(),
                ))
            }
        };
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_serving::<KeyManagementServiceServer<GrpcDoor>>()
            .await;
        health
            .set_serving::<IdentityServiceServer<GrpcDoor>>()
            .await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| ServerError::Reflection(e.to_string()))?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| ServerError::Reflection(e.to_string()))?;

        // Stores that were connected when kmsd stopped connect again (in
        // the background: serving does not wait for the HSMs).
        if let Err(e) = self.kms.resume_custom_key_stores().await {
            tracing::error!(error = %e, "could not load the custom key stores");
        }
        let (stop_jobs, jobs_rx) = watch::channel(false);
        let jobs = tokio::spawn(self.kms.clone().run_background_jobs(jobs_rx));

        let local = listener.local_addr().ok();
        tracing::info!(addr = ?local, region = self.kms.region(), "kmsd serving");
        // Graceful shutdown waits for every connection to close, and an
        // HTTP/2 client that never answers GOAWAY would hold kmsd forever:
        // once the signal has fired, connections get DRAIN_LIMIT to finish.
        let (fired_tx, mut fired_rx) = watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = fired_tx.send(true);
        };
        let (tls_tx, tls_rx) = mpsc::channel(16);
        let acceptor = tokio::spawn(accept_loop(
            listener,
            self.tls.clone(),
            self.limits.clone(),
            tls_tx,
        ));
        let incoming = ReceiverStream::new(tls_rx);
        let door = GrpcDoor::new(self.kms.clone());
        let limits = &self.limits;

        // The replication listener: its own accept loop (same limits) and
        // a tonic server with the Replication service alone, stopping on
        // the same signal. Then the delivery tasks, which dial out.
        let (stop_replication, replication_rx) = watch::channel(false);
        let mut replication_tasks = Vec::new();
        let mut replication_acceptor = None;
        let replication_serve = match replication {
            Some((config, tls, repl_listener, client)) => {
                let addr = repl_listener.local_addr().ok();
                tracing::info!(addr = ?addr, peers = ?config.peers, "replication listening");
                let (tx, rx) = mpsc::channel(16);
                replication_acceptor = Some(tokio::spawn(accept_loop(
                    repl_listener,
                    tls,
                    limits.clone(),
                    tx,
                )));
                let service =
                    ReplicationService::new(self.kms.clone(), config.peers.keys().cloned());
                let mut fired = fired_rx.clone();
                let signal = async move {
                    while !*fired.borrow_and_update() {
                        if fired.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                };
                let serve = Server::builder()
                    .timeout(limits.request_timeout)
                    .concurrency_limit_per_connection(limits.concurrency_per_connection)
                    .max_concurrent_streams(limits.max_concurrent_streams)
                    .max_connection_age(limits.max_connection_age)
                    .max_connection_age_grace(limits.max_connection_age_grace)
                    .http2_keepalive_interval(Some(limits.keepalive_interval))
                    .http2_keepalive_timeout(Some(limits.keepalive_timeout))
                    .add_service(ReplicationServer::new(service))
                    .serve_with_incoming_shutdown(ReceiverStream::new(rx), signal);
                replication_tasks = self.kms.start_replication(Arc::new(client), replication_rx);
                Some(serve)
            }
            None => None,
        };
        let replication_serve = async move {
            match replication_serve {
                Some(serve) => serve.await,
                None => Ok(()),
            }
        };

        let serve = Server::builder()
            .timeout(limits.request_timeout)
            .concurrency_limit_per_connection(limits.concurrency_per_connection)
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_connection_age(limits.max_connection_age)
            .max_connection_age_grace(limits.max_connection_age_grace)
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(KeyManagementServiceServer::new(door.clone()))
            .add_service(IdentityServiceServer::new(door))
            .serve_with_incoming_shutdown(incoming, signal);
        // Both servers end on the one signal; the main server's result is
        // the one returned, a replication server's failure is logged.
        let serve = async move {
            let (main, repl) = tokio::join!(serve, replication_serve);
            if let Err(e) = repl {
                tracing::error!(error = %e, "the replication listener failed");
            }
            main
        };
        tokio::pin!(serve);
        let drain_deadline = async {
            while !*fired_rx.borrow_and_update() {
                if fired_rx.changed().await.is_err() {
                    // The signal future was dropped without firing.
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(DRAIN_LIMIT).await;
        };
        let result = tokio::select! {
            r = &mut serve => {
                tracing::info!("stopped accepting; in-flight calls finished");
                r
            }
            _ = drain_deadline => {
                tracing::warn!(limit = ?DRAIN_LIMIT, "connections still open after the drain limit; closing them");
                Ok(())
            }
        };

        acceptor.abort();
        if let Some(a) = replication_acceptor {
            a.abort();
        }
        let _ = stop_replication.send(true);
        for task in replication_tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a replication delivery task ended abnormally");
            }
        }
        let _ = stop_jobs.send(true);
        if let Err(e) = jobs.await {
            tracing::error!(error = %e, "background jobs ended abnormally");
        }
        if let Err(e) = self.kms.flush().await {
            tracing::error!(error = %e, "flushing the store failed");
        }
        tracing::info!("store flushed; kmsd stopped");
        result.map_err(ServerError::from)
    }
}
