//! The kmsd server: opens the data directory (lock, root key, store),
//! starts the background jobs, serves gRPC over mutual TLS, and shuts down
//! cleanly.
//!
//! Shutdown order: stop accepting and let in-flight calls finish (tonic's
//! graceful shutdown), stop the background jobs, flush RocksDB, release the
//! data-dir lock. Tests bind `127.0.0.1:0`, pass the listener in, and
//! shut down with a oneshot.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::backend::{BackendError, LocalBackend};
use crate::clock::Clock;
use crate::kms::{Kms, KmsConfig};
use crate::proto::kms::v1::identity_service_server::IdentityServiceServer;
use crate::proto::kms::v1::key_management_service_server::KeyManagementServiceServer;
use crate::proto::kms::v1::FILE_DESCRIPTOR_SET;
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

/// Everything the server needs.
pub struct ServerConfig {
    /// The data directory (RocksDB under `db/`).
    pub data_dir: PathBuf,
    /// Core settings.
    pub kms: KmsConfig,
    /// TLS material.
    pub tls: TlsPem,
    /// The root key.
    pub root_key: RootKey,
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
            root_key,
        })
    }
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
    /// TLS set-up or serving failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The dev PKI could not be created.
    #[error("dev certificates: {0}")]
    Pki(String),
    /// Reflection set-up failed.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
}

/// An opened data directory, ready to serve.
pub struct KmsServer {
    kms: Kms,
    tls: TlsPem,
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

impl KmsServer {
    /// Locks the data directory and opens the store.
    pub fn open(config: ServerConfig, clock: Arc<dyn Clock>) -> Result<Self, ServerError> {
        let dir = &config.data_dir;
        let lock = lock_data_dir(dir)?;
        let store = Store::open(&dir.join("db"))?;
        let backend = LocalBackend::open(config.root_key, &store)?;
        Ok(Self {
            kms: Kms::new(store, Arc::new(backend), config.kms, clock),
            tls: config.tls,
            _lock: lock,
        })
    }

    /// The core (for tests and tools in the same process).
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down
    /// cleanly (see the module docs).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.tls.cert, &self.tls.key))
            .client_ca_root(Certificate::from_pem(&self.tls.client_ca));

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
        // A listener passed in skips tonic's socket options, so TCP_NODELAY
        // is set here: without it, small responses wait on delayed ACKs
        // (~40 ms per call).
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let door = GrpcDoor::new(self.kms.clone());
        let serve = Server::builder()
            .tls_config(tls)?
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(KeyManagementServiceServer::new(door.clone()))
            .add_service(IdentityServiceServer::new(door))
            .serve_with_incoming_shutdown(incoming, signal);
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
