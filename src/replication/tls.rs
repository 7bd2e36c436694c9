//! Peer identity on the replication channel: the Region URI SAN
//! (`spiffe://kmsd/region/<region>`) read from a certificate, and the
//! rustls configurations of both directions (docs/multi-region.md
//! "Topology and identity").
//!
//! - Serving (the replication listener): the server presents `peer.pem`
//!   and requires a client certificate chaining to `--peer-ca`; which
//!   Region the client is, is checked per RPC (`server.rs`), from the
//!   certificate's one URI SAN.
//! - Dialing `--peer R=URL`: the client presents `peer.pem` and accepts
//!   only a server certificate that chains to `--peer-ca`, names the host
//!   dialled, **and** carries the Region identity of R: otherwise a
//!   certificate of another Region (or a client's) would let whoever holds
//!   it pose as R, and R's replication public key would be theirs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::DigitallySignedStruct;
use tokio_rustls::TlsConnector;
use tonic::codegen::http::Uri;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::multi_region::is_valid_region;
use crate::pki::REGION_URI_PREFIX;
use crate::server::TlsPem;

/// How long a TCP connect plus TLS handshake to a peer may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a certificate is not a Region identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionIdentityError {
    /// Not a parsable X.509 certificate, or its subjectAltName is malformed.
    #[error("the certificate cannot be parsed")]
    Malformed,
    /// No URI subjectAltName.
    #[error("the certificate has no URI subjectAltName")]
    NoUri,
    /// More than one URI subjectAltName: which one speaks would be a
    /// matter of order.
    #[error("the certificate has more than one URI subjectAltName")]
    SeveralUris,
    /// The URI is not `spiffe://kmsd/region/<valid Region>` (an IAM
    /// principal's certificate, for one).
    #[error(
        "its URI subjectAltName {0:?} is not a Region identity (spiffe://kmsd/region/<region>)"
    )]
    NotARegion(String),
}

/// The Region a Region-identity URI names: exactly
/// `spiffe://kmsd/region/` followed by a valid Region name (lowercase,
/// nothing after it), else `None`.
pub fn region_of_uri(uri: &str) -> Option<&str> {
    uri.strip_prefix(REGION_URI_PREFIX)
        .filter(|r| is_valid_region(r))
}

/// The Region named by the one URI SAN of a DER certificate.
pub fn region_from_cert(der: &[u8]) -> Result<String, RegionIdentityError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| RegionIdentityError::Malformed)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| RegionIdentityError::Malformed)?
        .ok_or(RegionIdentityError::NoUri)?;
    let mut uris = san.value.general_names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(*u),
        _ => None,
    });
    let uri = uris.next().ok_or(RegionIdentityError::NoUri)?;
    if uris.next().is_some() {
        return Err(RegionIdentityError::SeveralUris);
    }
    region_of_uri(uri)
        .map(str::to_owned)
        .ok_or_else(|| RegionIdentityError::NotARegion(uri.to_owned()))
}

/// A TLS-material problem (files given with `--peer-cert`, `--peer-key`,
/// `--peer-ca`).
fn bad(what: &str, e: &dyn std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// The peer CA as a root store.
fn roots(pem: &TlsPem) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pem.client_ca.as_bytes()) {
        let ca = ca.map_err(|e| bad("peer CA", &e))?;
        roots.add(ca).map_err(|e| bad("peer CA", &e))?;
    }
    if roots.is_empty() {
        return Err("peer CA: no certificate in the file".into());
    }
    Ok(roots)
}

/// The client configuration for dialing the peer `region`: presents
/// `pem.cert`, and accepts only a server certificate that chains to
/// `pem.client_ca`, names the host dialled and carries `region`'s identity.
pub fn client_config(pem: &TlsPem, region: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots(pem)?),
        provider.clone(),
    )
    .build()
    .map_err(|e| bad("peer CA", &e))?;
    let verifier = Arc::new(RegionServerVerifier {
        inner: webpki,
        region: region.to_owned(),
    });
    let certs = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("peer certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes())
        .map_err(|e| bad("peer private key", &e))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(certs, key)
        .map_err(|e| bad("peer certificate", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The standard WebPKI check (chain to the peer CA, validity, serverAuth
/// EKU, the host name) and then the Region identity of the leaf.
#[derive(Debug)]
struct RegionServerVerifier {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    region: String,
}

impl ServerCertVerifier for RegionServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        match region_from_cert(end_entity.as_ref()) {
            Ok(r) if r == self.region => Ok(verified),
            Ok(other) => {
                tracing::warn!(expected = %self.region, presented = %other, "a peer presented another Region's certificate; refused");
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            Err(e) => {
                tracing::warn!(expected = %self.region, error = %e, "a peer presented a certificate without a Region identity; refused");
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Where a peer URL points: `host:port` to connect to and the name its
/// certificate must carry.
#[derive(Debug, Clone)]
pub struct PeerAddr {
    /// `host:port`.
    pub addr: String,
    /// The host, as the server certificate must name it.
    pub name: ServerName<'static>,
}

/// Parses `https://HOST[:PORT]` (port 443 if absent; no path, query or
/// user info).
pub fn parse_peer_url(url: &str) -> Result<PeerAddr, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{url:?}: the scheme must be https"));
    }
    if uri
        .path_and_query()
        .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
    {
        return Err(format!("{url:?}: no path or query is allowed"));
    }
    let authority = uri.authority().ok_or_else(|| format!("{url:?}: no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{url:?}: no user info is allowed"));
    }
    let host = authority.host();
    let port = authority.port_u16().unwrap_or(443);
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let name =
        ServerName::try_from(bare.to_owned()).map_err(|e| format!("{url:?}: bad host: {e}"))?;
    Ok(PeerAddr {
        addr: format!("{host}:{port}"),
        name,
    })
}

/// Why dialing a peer failed (no secret in it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DialError {
    /// Nothing answered, the connection broke, or the handshake timed out.
    #[error("cannot reach {0}")]
    Network(String),
    /// The peer's certificate was refused (wrong CA, wrong host, or not
    /// the Region dialled).
    #[error("{0} presented a certificate that is not the expected Region's")]
    Certificate(String),
    /// Another handshake failure.
    #[error("TLS handshake with {addr} failed: {detail}")]
    Handshake {
        /// The peer address.
        addr: String,
        /// The TLS error.
        detail: String,
    },
}

/// TCP connect and TLS handshake to `peer`, within [`DIAL_TIMEOUT`].
pub async fn dial(
    config: &Arc<rustls::ClientConfig>,
    peer: &PeerAddr,
) -> Result<TlsStream<TcpStream>, DialError> {
    let addr = peer.addr.clone();
    let handshake = async {
        let tcp = TcpStream::connect(&peer.addr)
            .await
            .map_err(|_| DialError::Network(addr.clone()))?;
        // Small request/response messages: do not wait to coalesce them.
        tcp.set_nodelay(true)
            .map_err(|_| DialError::Network(addr.clone()))?;
        TlsConnector::from(Arc::clone(config))
            .connect(peer.name.clone(), tcp)
            .await
            .map_err(|e| {
                match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(rustls::Error::InvalidCertificate(_)) => {
                        DialError::Certificate(addr.clone())
                    }
                    _ => DialError::Handshake {
                        addr: addr.clone(),
                        detail: e.to_string(),
                    },
                }
            })
    };
    tokio::time::timeout(DIAL_TIMEOUT, handshake)
        .await
        .map_err(|_| DialError::Network(peer.addr.clone()))?
}

/// What tonic dials a peer with (lazily, and again whenever it reconnects):
/// kmsd's own TLS, so the Region check above applies to every connection.
#[derive(Clone)]
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    peer: Arc<PeerAddr>,
}

impl Connector {
    /// A connector to `peer` with `config` (from [`client_config`]).
    pub fn new(config: Arc<rustls::ClientConfig>, peer: PeerAddr) -> Self {
        Self {
            config,
            peer: Arc::new(peer),
        }
    }
}

impl tonic::codegen::Service<Uri> for Connector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = DialError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DialError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let config = Arc::clone(&self.config);
        let peer = Arc::clone(&self.peer);
        Box::pin(async move { dial(&config, &peer).await.map(TokioIo::new) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki;
    use crate::server::TlsReloader;
    use tokio_rustls::TlsAcceptor;

    /// A self-signed certificate with these SANs (URIs and DNS names).
    fn cert_with(uris: &[&str], dns: &[&str]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        for u in uris {
            params
                .subject_alt_names
                .push(rcgen::SanType::URI((*u).try_into().expect("uri")));
        }
        for d in dns {
            params
                .subject_alt_names
                .push(rcgen::SanType::DnsName((*d).try_into().expect("dns")));
        }
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    #[test]
    fn region_identity_and_near_misses() {
        assert_eq!(
            region_from_cert(&cert_with(
                &["spiffe://kmsd/region/us-east-1"],
                &["localhost"]
            )),
            Ok("us-east-1".to_owned())
        );
        assert_eq!(
            region_from_cert(&cert_with(&["spiffe://kmsd/region/us-gov-west-1"], &[])),
            Ok("us-gov-west-1".to_owned())
        );
        for uri in [
            "spiffe://kmsd/region/US-EAST-1",
            "spiffe://kmsd/region/us-east-1/",
            "spiffe://kmsd/region/us-east-1/x",
            "spiffe://kmsd/region/",
            "spiffe://kmsd/region/us-east-1?x=1",
            "spiffe://other/region/us-east-1",
            "SPIFFE://kmsd/region/us-east-1",
            "arn:aws:iam::111122223333:root",
        ] {
            assert!(
                matches!(
                    region_from_cert(&cert_with(&[uri], &[])),
                    Err(RegionIdentityError::NotARegion(u)) if u == uri
                ),
                "{uri}"
            );
        }
        assert_eq!(
            region_from_cert(&cert_with(
                &[
                    "spiffe://kmsd/region/us-east-1",
                    "spiffe://kmsd/region/us-west-2"
                ],
                &[]
            )),
            Err(RegionIdentityError::SeveralUris)
        );
        assert_eq!(
            region_from_cert(&cert_with(&[], &["localhost"])),
            Err(RegionIdentityError::NoUri)
        );
        assert_eq!(
            region_from_cert(b"not a certificate"),
            Err(RegionIdentityError::Malformed)
        );
    }

    fn peer_pem(dir: &std::path::Path, region: &str) -> TlsPem {
        let out = dir.join(region);
        pki::issue_peer(dir, region, &out).expect("issue");
        TlsPem::read(
            &out.join("peer.pem"),
            &out.join("peer.key"),
            &pki::DevPkiPaths::new(dir).ca_cert,
        )
        .expect("read")
    }

    /// Accepts one TLS connection presenting `server`'s certificate and
    /// requiring a client certificate from its CA; answers whether the
    /// handshake succeeded.
    async fn one_handshake(server: TlsPem) -> (PeerAddr, tokio::task::JoinHandle<bool>) {
        let acceptor = TlsAcceptor::from(
            TlsReloader::new(server, None)
                .expect("server tls")
                .current(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            acceptor.accept(tcp).await.is_ok()
        });
        (
            parse_peer_url(&format!("https://{addr}")).expect("url"),
            task,
        )
    }

    #[tokio::test]
    async fn dialing_requires_the_dialled_regions_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        pki::ensure_dev_pki(dir.path()).expect("pki");
        let me = peer_pem(dir.path(), "us-east-1");
        let west = peer_pem(dir.path(), "us-west-2");
        let europe = peer_pem(dir.path(), "eu-west-1");

        // The right Region: the chain to the dev CA, serverAuth on the
        // server side and clientAuth on ours all hold.
        let config = client_config(&me, "us-west-2").expect("client config");
        let (addr, server) = one_handshake(west).await;
        dial(&config, &addr).await.expect("us-west-2 accepted");
        assert!(server.await.expect("server task"));

        // Another Region's certificate, valid in every other respect.
        let (addr, server) = one_handshake(europe).await;
        match dial(&config, &addr).await {
            Err(DialError::Certificate(_)) => {}
            other => panic!("expected a certificate refusal, got {:?}", other.err()),
        }
        assert!(!server.await.expect("server task"));

        // A client principal's certificate cannot be a peer's server
        // certificate either (no serverAuth, no Region).
        let paths = pki::DevPkiPaths::new(dir.path());
        let client_as_server =
            TlsPem::read(&paths.client_cert, &paths.client_key, &paths.ca_cert).expect("read");
        let (addr, server) = one_handshake(client_as_server).await;
        assert!(matches!(
            dial(&config, &addr).await,
            Err(DialError::Certificate(_))
        ));
        assert!(!server.await.expect("server task"));
    }
}
