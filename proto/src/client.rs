//! Connecting to kmsd over mutual TLS: where the endpoint and the TLS files
//! come from, and the gRPC channel and clients built from them.
//!
//! Public and reusable: kmsctl, the integration tests and benchmark tools
//! build a [`ConnectOptions`] and call [`connect`] (KeyManagementService),
//! [`connect_identity`] (IdentityService) or [`connect_channel`] (one
//! channel for both, as each client is a cheap wrapper around it). For each
//! field the caller's value wins (kmsctl fills it from its flag, else from
//! the environment; [`ConnectOptions::with_env_defaults`] does the same for
//! other callers), then the data directory (`DIR/certs/ca.pem`,
//! `DIR/certs/client.pem`, `DIR/certs/client.key`, endpoint from
//! `DIR/endpoint`), and the endpoint finally defaults to
//! [`DEFAULT_ENDPOINT`]. A client identity is always sent.
//!
//! A profile and a Region (`--profile`, `--region`) can fill the unset
//! fields first: see [`profile`].
//!
//! This module knows nothing about KMS operations or output.

mod connector;
pub mod profile;

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::kms::v1::identity_service_client::IdentityServiceClient;
use crate::kms::v1::key_management_service_client::KeyManagementServiceClient;

/// The endpoint used when neither the caller nor a data dir names one.
pub const DEFAULT_ENDPOINT: &str = "https://127.0.0.1:7878";
/// Environment variable for the endpoint URL.
pub const ENV_ENDPOINT: &str = "KMS_ENDPOINT";
/// Environment variable for the CA certificate path.
pub const ENV_CA_CERT: &str = "KMS_CA_CERT";
/// Environment variable for the client certificate path.
pub const ENV_CLIENT_CERT: &str = "KMS_CLIENT_CERT";
/// Environment variable for the client private key path.
pub const ENV_CLIENT_KEY: &str = "KMS_CLIENT_KEY";
/// Environment variable for the data directory.
pub const ENV_DATA_DIR: &str = "KMS_DATA_DIR";

/// TLS name tried for a loopback IP endpoint whose certificate does not
/// verify for the IP itself (kmsd's dev certificate names both).
const LOOPBACK_TLS_NAME: &str = "localhost";
/// How long to wait for TCP connect and for the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take (the AWS CLI's default read timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The gRPC client [`connect`] returns.
pub type KmsClient = KeyManagementServiceClient<Channel>;
/// The IdentityService (IAM-lite) client [`connect_identity`] returns.
pub type IdentityClient = IdentityServiceClient<Channel>;

/// Where to connect and with which TLS files. Unset fields are found in
/// `data_dir`; see the module docs for the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectOptions {
    /// kmsd's URL (`--endpoint-url`, `KMS_ENDPOINT`), e.g.
    /// `https://127.0.0.1:7878`; `https://` is assumed when no scheme is given.
    pub endpoint_url: Option<String>,
    /// CA certificate, PEM (`--ca-cert`, `KMS_CA_CERT`).
    pub ca_cert: Option<PathBuf>,
    /// Client certificate, PEM (`--client-cert`, `KMS_CLIENT_CERT`).
    pub client_cert: Option<PathBuf>,
    /// Client private key, PEM (`--client-key`, `KMS_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
    /// A kmsd data directory (`--data-dir`, `KMS_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
}

/// Everything [`connect`] needs, after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedConnection {
    /// The endpoint URL, with scheme.
    pub endpoint: String,
    /// CA certificate path.
    pub ca_cert: PathBuf,
    /// Client certificate path.
    pub client_cert: PathBuf,
    /// Client private key path.
    pub client_key: PathBuf,
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// No path for a TLS file was given and there is no data dir to find it in.
    #[error(
        "no {what} given: pass {flag} or set {env} (or point --data-dir / KMS_DATA_DIR \
         at a kmsd data directory)"
    )]
    MissingTlsFile {
        /// Which file, e.g. "CA certificate".
        what: &'static str,
        /// The kmsctl flag that sets it.
        flag: &'static str,
        /// The environment variable that sets it.
        env: &'static str,
    },
    /// A TLS file could not be read.
    #[error("cannot read {what} {path} ({origin}): {source}; pass {flag} or set {env}")]
    ReadTlsFile {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Where the path came from ("given" or "from the data dir").
        origin: &'static str,
        /// The kmsctl flag that sets it.
        flag: &'static str,
        /// The environment variable that sets it.
        env: &'static str,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The data dir's `endpoint` file exists but could not be read.
    #[error(
        "cannot read the endpoint file {path}: {source}; pass --endpoint-url or set KMS_ENDPOINT"
    )]
    ReadEndpointFile {
        /// Its path.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: io::Error,
    },
    /// The endpoint is not a usable `https://` URL.
    #[error("invalid endpoint URL \"{endpoint}\": {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS files were read but do not make a usable TLS configuration
    /// (e.g. not PEM).
    #[error("invalid TLS configuration (check --ca-cert, --client-cert, --client-key): {detail}")]
    Tls {
        /// The TLS library's complaint.
        detail: String,
    },
    /// Connecting or the TLS handshake failed.
    #[error("Could not connect to the endpoint URL: \"{endpoint}\": {detail}")]
    Connect {
        /// The endpoint URL.
        endpoint: String,
        /// The transport's complaint, with its causes.
        detail: String,
    },
}

/// An error and its causes, joined with ": " (tonic's own `Display` says
/// only "transport error").
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ConnectOptions {
    /// Options that take everything from a kmsd data directory.
    pub fn from_data_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: Some(dir.into()),
            ..Self::default()
        }
    }

    /// Fills unset fields from `KMS_ENDPOINT`, `KMS_CA_CERT`,
    /// `KMS_CLIENT_CERT`, `KMS_CLIENT_KEY` and `KMS_DATA_DIR` (empty
    /// variables count as unset).
    pub fn with_env_defaults(mut self) -> Self {
        let path = |name| non_empty_env(name).map(PathBuf::from);
        self.endpoint_url = self.endpoint_url.or_else(|| non_empty_env(ENV_ENDPOINT));
        self.ca_cert = self.ca_cert.or_else(|| path(ENV_CA_CERT));
        self.client_cert = self.client_cert.or_else(|| path(ENV_CLIENT_CERT));
        self.client_key = self.client_key.or_else(|| path(ENV_CLIENT_KEY));
        self.data_dir = self.data_dir.or_else(|| path(ENV_DATA_DIR));
        self
    }

    /// Decides the endpoint and TLS file paths, reading `DIR/endpoint` when
    /// needed. Does not read the TLS files.
    pub fn resolve(&self) -> Result<ResolvedConnection, ConnectError> {
        let data_dir = self
            .data_dir
            .as_deref()
            .filter(|d| !d.as_os_str().is_empty());
        let endpoint = match self
            .endpoint_url
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            Some(e) => e.to_owned(),
            None => match data_dir {
                Some(dir) => {
                    endpoint_from_data_dir(dir)?.unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
                }
                None => DEFAULT_ENDPOINT.to_owned(),
            },
        };
        let file = |given: &Option<PathBuf>, in_dir: &str, what, flag, env| match (
            given.as_ref().filter(|p| !p.as_os_str().is_empty()),
            data_dir,
        ) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(dir)) => Ok(dir.join("certs").join(in_dir)),
            (None, None) => Err(ConnectError::MissingTlsFile { what, flag, env }),
        };
        Ok(ResolvedConnection {
            endpoint: normalize_endpoint(&endpoint)?,
            ca_cert: file(
                &self.ca_cert,
                "ca.pem",
                "CA certificate",
                "--ca-cert",
                ENV_CA_CERT,
            )?,
            client_cert: file(
                &self.client_cert,
                "client.pem",
                "client certificate",
                "--client-cert",
                ENV_CLIENT_CERT,
            )?,
            client_key: file(
                &self.client_key,
                "client.key",
                "client key",
                "--client-key",
                ENV_CLIENT_KEY,
            )?,
        })
    }

    /// Where a field's path came from, for error messages.
    fn origin(&self, given: &Option<PathBuf>) -> &'static str {
        if given.as_ref().is_some_and(|p| !p.as_os_str().is_empty()) {
            "given"
        } else {
            "from the data dir"
        }
    }
}

/// The endpoint a data dir's `endpoint` file names, if it has one.
pub fn endpoint_from_data_dir(dir: &Path) -> Result<Option<String>, ConnectError> {
    let path = dir.join("endpoint");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|e| !e.is_empty())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConnectError::ReadEndpointFile { path, source }),
    }
}

/// Adds `https://` when no scheme is given; refuses other schemes (kmsd
/// speaks only mutual TLS) and URLs without a host.
pub fn normalize_endpoint(endpoint: &str) -> Result<String, ConnectError> {
    let invalid = |reason: &str| ConnectError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = endpoint.trim();
    let url = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    let uri = url
        .parse::<tonic::transport::Uri>()
        .map_err(|e| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => {}
        Some(s) => {
            return Err(invalid(&format!(
                "scheme {s}:// is not supported; kmsd requires https://"
            )))
        }
        None => return Err(invalid("no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(url)
}

fn read_tls_file(
    opts: &ConnectOptions,
    given: &Option<PathBuf>,
    path: &Path,
    what: &'static str,
    flag: &'static str,
    env: &'static str,
) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::ReadTlsFile {
        what,
        path: path.to_owned(),
        origin: opts.origin(given),
        flag,
        env,
        source,
    })
}

/// Connects to kmsd: resolves `opts`, reads the TLS files, and completes the
/// TCP connection and TLS handshake before returning the KMS client.
pub async fn connect(opts: &ConnectOptions) -> Result<KmsClient, ConnectError> {
    connect_channel(opts)
        .await
        .map(KeyManagementServiceClient::new)
}

/// As [`connect`], returning an IdentityService client.
pub async fn connect_identity(opts: &ConnectOptions) -> Result<IdentityClient, ConnectError> {
    connect_channel(opts).await.map(IdentityServiceClient::new)
}

/// As [`connect`], returning the connected channel itself, for callers that
/// build clients of several services over one connection.
pub async fn connect_channel(opts: &ConnectOptions) -> Result<Channel, ConnectError> {
    let resolved = opts.resolve()?;
    let ca = read_tls_file(
        opts,
        &opts.ca_cert,
        &resolved.ca_cert,
        "CA certificate",
        "--ca-cert",
        ENV_CA_CERT,
    )?;
    let cert = read_tls_file(
        opts,
        &opts.client_cert,
        &resolved.client_cert,
        "client certificate",
        "--client-cert",
        ENV_CLIENT_CERT,
    )?;
    let key = read_tls_file(
        opts,
        &opts.client_key,
        &resolved.client_key,
        "client key",
        "--client-key",
        ENV_CLIENT_KEY,
    )?;
    let config =
        connector::tls_config(&ca, &cert, &key).map_err(|detail| ConnectError::Tls { detail })?;
    let url = normalize_endpoint(&resolved.endpoint)?;
    with_loopback_fallback(&url, |name| mtls_channel(&url, &config, name)).await
}

/// Connects with `connect(None)` (the URL's host as the TLS name) and, if
/// that fails on a loopback IP, with `connect(Some("localhost"))`; a
/// failure reports the first error, which names the host the user gave.
async fn with_loopback_fallback<F, Fut>(url: &str, connect: F) -> Result<Channel, ConnectError>
where
    F: Fn(Option<&'static str>) -> Fut,
    Fut: std::future::Future<Output = Result<Channel, ConnectError>>,
{
    match connect(None).await {
        Ok(channel) => Ok(channel),
        Err(e) if is_loopback_ip(url) => connect(Some(LOOPBACK_TLS_NAME)).await.map_err(|_| e),
        Err(e) => Err(e),
    }
}

/// A channel over [`connector::MtlsConnector`] to `url` (`https://…`),
/// verifying the server's certificate for `tls_name` or else the URL's
/// host.
async fn mtls_channel(
    url: &str,
    config: &std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    tls_name: Option<&str>,
) -> Result<Channel, ConnectError> {
    let invalid = |reason: String| ConnectError::InvalidEndpoint {
        endpoint: url.to_owned(),
        reason,
    };
    let origin: tonic::transport::Uri = url.parse().map_err(|e| invalid(format!("{e}")))?;
    let host = origin.host().unwrap_or_default();
    let name = tls_name
        .unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']'))
        .to_owned();
    let server_name = tokio_rustls::rustls::pki_types::ServerName::try_from(name)
        .map_err(|e| invalid(format!("not a TLS server name: {e}")))?;
    // tonic dials the endpoint's URI through the connector, which does the
    // TLS itself; an `https` URI there would make tonic want its own TLS,
    // so the dialled URI says `http` and the origin (what requests carry)
    // keeps `https`.
    let dial = format!(
        "http://{}",
        origin.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    let endpoint = Channel::from_shared(dial)
        .map_err(|e| invalid(e.to_string()))?
        .origin(origin)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    endpoint
        .connect_with_connector(connector::MtlsConnector::new(config.clone(), server_name))
        .await
        .map_err(|e| ConnectError::Connect {
            endpoint: url.to_owned(),
            detail: error_chain(&e),
        })
}

/// Connects with an explicit TLS configuration; see [`channel_with_tls`].
pub async fn connect_with_tls(
    endpoint: &str,
    tls: ClientTlsConfig,
) -> Result<KmsClient, ConnectError> {
    channel_with_tls(endpoint, tls)
        .await
        .map(KeyManagementServiceClient::new)
}

/// Opens a channel with an explicit TLS configuration. The certificate is
/// checked against the URL's host (rustls verifies IP addresses too); for a
/// loopback IP whose certificate names only `localhost`, `localhost` is
/// tried second.
pub async fn channel_with_tls(
    endpoint: &str,
    tls: ClientTlsConfig,
) -> Result<Channel, ConnectError> {
    let url = normalize_endpoint(endpoint)?;
    with_loopback_fallback(&url, |name| {
        let tls = match name {
            Some(name) => tls.clone().domain_name(name),
            None => tls.clone(),
        };
        let endpoint = channel(&url, tls);
        async {
            endpoint?
                .connect()
                .await
                .map_err(|e| ConnectError::Connect {
                    endpoint: url.clone(),
                    detail: error_chain(&e),
                })
        }
    })
    .await
}

fn channel(url: &str, tls: ClientTlsConfig) -> Result<Endpoint, ConnectError> {
    Channel::from_shared(url.to_owned())
        .map_err(|e| ConnectError::InvalidEndpoint {
            endpoint: url.to_owned(),
            reason: e.to_string(),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .tls_config(tls)
        .map_err(|e| ConnectError::Tls {
            detail: error_chain(&e),
        })
}

fn is_loopback_ip(url: &str) -> bool {
    let Ok(uri) = url.parse::<tonic::transport::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_fields_win_over_data_dir() {
        let opts = ConnectOptions {
            endpoint_url: Some("https://kms.example:9000".into()),
            ca_cert: Some("/x/ca.pem".into()),
            client_cert: None,
            client_key: None,
            data_dir: Some("/nonexistent/dd".into()),
        };
        let r = opts.resolve().expect("resolves");
        assert_eq!(r.endpoint, "https://kms.example:9000");
        assert_eq!(r.ca_cert, PathBuf::from("/x/ca.pem"));
        assert_eq!(
            r.client_cert,
            PathBuf::from("/nonexistent/dd/certs/client.pem")
        );
        assert_eq!(
            r.client_key,
            PathBuf::from("/nonexistent/dd/certs/client.key")
        );
    }

    #[test]
    fn endpoint_from_data_dir_then_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = ConnectOptions::from_data_dir(dir.path());
        assert_eq!(opts.resolve().expect("resolves").endpoint, DEFAULT_ENDPOINT);
        std::fs::write(dir.path().join("endpoint"), "https://127.0.0.1:17878\n").expect("write");
        let r = opts.resolve().expect("resolves");
        assert_eq!(r.endpoint, "https://127.0.0.1:17878");
        assert_eq!(r.ca_cert, dir.path().join("certs/ca.pem"));
    }

    #[test]
    fn missing_tls_files_name_the_flag_and_env_var() {
        let err = ConnectOptions::default().resolve().expect_err("no certs");
        let msg = err.to_string();
        assert!(matches!(err, ConnectError::MissingTlsFile { .. }));
        assert!(
            msg.contains("--ca-cert") && msg.contains("KMS_CA_CERT"),
            "{msg}"
        );
        let opts = ConnectOptions {
            ca_cert: Some("/a".into()),
            client_cert: Some("/b".into()),
            ..Default::default()
        };
        let msg = opts.resolve().expect_err("no key").to_string();
        assert!(
            msg.contains("--client-key") && msg.contains("KMS_CLIENT_KEY"),
            "{msg}"
        );
    }

    #[test]
    fn endpoints_are_normalized() {
        assert_eq!(
            normalize_endpoint("127.0.0.1:7878").expect("ok"),
            "https://127.0.0.1:7878"
        );
        assert_eq!(
            normalize_endpoint(" https://localhost:1 ").expect("ok"),
            "https://localhost:1"
        );
        for bad in [
            "http://127.0.0.1:7878",
            "https://",
            "ftp://x",
            "https://exa mple",
            "",
        ] {
            assert!(
                matches!(
                    normalize_endpoint(bad),
                    Err(ConnectError::InvalidEndpoint { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_ip("https://127.0.0.1:7878"));
        assert!(is_loopback_ip("https://[::1]:7878"));
        assert!(!is_loopback_ip("https://localhost:7878"));
        assert!(!is_loopback_ip("https://10.0.0.1:7878"));
    }

    #[tokio::test]
    async fn unreadable_tls_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = connect(&ConnectOptions::from_data_dir(dir.path()))
            .await
            .expect_err("no files");
        let msg = err.to_string();
        assert!(matches!(err, ConnectError::ReadTlsFile { .. }), "{msg}");
        assert!(msg.contains("ca.pem") && msg.contains("--ca-cert"), "{msg}");
    }

    #[tokio::test]
    async fn garbage_pem_or_no_server_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).expect("mkdir");
        for f in ["ca.pem", "client.pem", "client.key"] {
            std::fs::write(certs.join(f), "not pem").expect("write");
        }
        // Port 1 on loopback: nothing listens there.
        std::fs::write(dir.path().join("endpoint"), "https://127.0.0.1:1").expect("write");
        let err = connect(&ConnectOptions::from_data_dir(dir.path()))
            .await
            .expect_err("must fail");
        assert!(
            matches!(err, ConnectError::Tls { .. } | ConnectError::Connect { .. }),
            "{err}"
        );
    }
}
