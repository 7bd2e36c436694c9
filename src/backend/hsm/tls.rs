//! TLS to hsm-sim nodes: the trust anchor (a custom key store's
//! TrustAnchorCertificate) as the only root, the dialled address as the
//! name the node's certificate must carry, no client certificate.
//!
//! kmsd runs the TCP connect and the TLS handshake itself (a connector
//! handed to tonic) rather than through tonic's `ClientTlsConfig`, so that
//! a certificate the anchor does not vouch for ([`DialError::Certificate`])
//! is told apart from a node that does not answer
//! ([`DialError::Network`]): the first is IncorrectTrustAnchorException
//! at CreateCustomKeyStore, the second CloudHsmClusterNotActiveException.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject, pki_types::CertificateDer};
use tokio_rustls::TlsConnector;
use tonic::codegen::http::Uri;

use super::TrustAnchorError;

/// How long a TCP connect plus TLS handshake may take.
pub(super) const DIAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a node could not be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DialError {
    /// Nothing answered, the connection broke, or the handshake timed out
    /// or failed for a reason other than the node's certificate.
    #[error("cannot reach the HSM at {0}")]
    Network(String),
    /// The node presented a certificate that does not chain to the trust
    /// anchor, or that does not name the address dialled.
    #[error("the HSM at {0} presented a certificate the trust anchor does not vouch for")]
    Certificate(String),
}

/// The one certificate of a trust anchor PEM, checked to be an X.509 CA
/// certificate (basicConstraints cA). Anything else is `Malformed`.
pub(super) fn parse_trust_anchor(pem: &str) -> Result<CertificateDer<'static>, TrustAnchorError> {
    let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes());
    let cert = match certs.next() {
        Some(Ok(c)) => c,
        _ => return Err(TrustAnchorError::Malformed),
    };
    // Exactly one certificate: AWS takes the cluster's issuing CA alone,
    // and a bundle would widen what kmsd trusts beyond what was shown.
    if certs.next().is_some() {
        return Err(TrustAnchorError::Malformed);
    }
    let (rest, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| TrustAnchorError::Malformed)?;
    if !rest.is_empty() {
        return Err(TrustAnchorError::Malformed);
    }
    match parsed.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => Ok(cert),
        _ => Err(TrustAnchorError::Malformed),
    }
}

/// A client configuration trusting only `trust_anchor_pem` (not the
/// system roots, not kmsd's own CA), offering HTTP/2 by ALPN.
pub(super) fn client_config(
    trust_anchor_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, TrustAnchorError> {
    let anchor = parse_trust_anchor(trust_anchor_pem)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(anchor).map_err(|_| TrustAnchorError::Malformed)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| TrustAnchorError::Malformed)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The name the node's certificate must carry: the host part of
/// `host:port` (an IP address, matched against IP SANs, or a DNS name).
fn server_name(addr: &str) -> Option<ServerName<'static>> {
    let (host, port) = addr.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_owned()).ok()
}

/// TCP connect and TLS handshake to `addr`, within [`DIAL_TIMEOUT`].
pub(super) async fn dial(
    config: &Arc<rustls::ClientConfig>,
    addr: &str,
) -> Result<TlsStream<TcpStream>, DialError> {
    let network = || DialError::Network(addr.to_owned());
    let name = server_name(addr).ok_or_else(network)?;
    let handshake = async {
        let tcp = TcpStream::connect(addr).await.map_err(|_| network())?;
        // Small request/response messages: do not wait to coalesce them.
        tcp.set_nodelay(true).map_err(|_| network())?;
        TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await
            .map_err(|e| classify_handshake_error(addr, &e))
    };
    tokio::time::timeout(DIAL_TIMEOUT, handshake)
        .await
        .map_err(|_| network())?
}

/// A failed handshake: the node's certificate, or anything else.
fn classify_handshake_error(addr: &str, e: &std::io::Error) -> DialError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => DialError::Certificate(addr.to_owned()),
        _ => DialError::Network(addr.to_owned()),
    }
}

/// What tonic dials a node with: hands over the stream dialled (and
/// checked) at connect first, then dials afresh whenever tonic reconnects.
#[derive(Clone)]
pub(super) struct Connector {
    config: Arc<rustls::ClientConfig>,
    addr: Arc<str>,
    first: Arc<Mutex<Option<TlsStream<TcpStream>>>>,
}

impl Connector {
    pub(super) fn new(
        config: Arc<rustls::ClientConfig>,
        addr: &str,
        first: TlsStream<TcpStream>,
    ) -> Self {
        Self {
            config,
            addr: addr.into(),
            first: Arc::new(Mutex::new(Some(first))),
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
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stream) = first {
            return Box::pin(std::future::ready(Ok(TokioIo::new(stream))));
        }
        let config = Arc::clone(&self.config);
        let addr = Arc::clone(&self.addr);
        Box::pin(async move { dial(&config, &addr).await.map(TokioIo::new) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem(is_ca: bool) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        if is_ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("self-signed").pem()
    }

    #[test]
    fn a_ca_certificate_is_an_anchor() {
        assert!(parse_trust_anchor(&ca_pem(true)).is_ok());
        assert!(client_config(&ca_pem(true)).is_ok());
    }

    #[test]
    fn near_misses_are_malformed() {
        let ca = ca_pem(true);
        let two = format!("{ca}{}", ca_pem(true));
        let truncated = &ca[..ca.len() / 2];
        let garbled = ca.replacen("MII", "MIJ", 1);
        for bad in [
            "",
            "not a certificate",
            truncated,
            &two,
            &ca_pem(false),
            &garbled,
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        ] {
            assert_eq!(
                parse_trust_anchor(bad).err(),
                Some(TrustAnchorError::Malformed),
                "{bad:?}"
            );
        }
        // A private key is not a certificate.
        let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
        assert_eq!(
            parse_trust_anchor(&key).err(),
            Some(TrustAnchorError::Malformed)
        );
    }

    #[test]
    fn the_certificate_must_name_the_host_dialled() {
        assert_eq!(
            server_name("127.0.0.1:9000"),
            Some(ServerName::IpAddress(
                std::net::Ipv4Addr::new(127, 0, 0, 1).into()
            ))
        );
        assert_eq!(
            server_name("[::1]:9000"),
            Some(ServerName::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()))
        );
        assert!(matches!(
            server_name("localhost:9000"),
            Some(ServerName::DnsName(_))
        ));
        assert_eq!(server_name("localhost"), None);
        assert_eq!(server_name("localhost:port"), None);
    }

    /// A CA (PEM) and a TLS server on 127.0.0.1 presenting a certificate
    /// it issued for `san`; the server's address.
    async fn server_with_cert_for(san: &str) -> (String, String) {
        use tokio_rustls::rustls::pki_types::PrivateKeyDer;
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec![san.to_owned()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        use tokio::io::AsyncReadExt;
                        let mut buf = [0u8; 1];
                        let _ = tls.read(&mut buf).await;
                    }
                });
            }
        });
        (ca.pem(), addr)
    }

    #[tokio::test]
    async fn a_certificate_failure_is_told_from_a_network_failure() {
        let (ca, addr) = server_with_cert_for("127.0.0.1").await;
        let good = client_config(&ca).expect("config");
        assert!(dial(&good, &addr).await.is_ok());
        // Another CA: the certificate does not chain.
        let other = client_config(&ca_pem(true)).expect("config");
        assert_eq!(
            dial(&other, &addr).await.err(),
            Some(DialError::Certificate(addr.clone()))
        );
        // The right CA, but the certificate names another address.
        let (ca2, addr2) = server_with_cert_for("127.0.0.2").await;
        let config2 = client_config(&ca2).expect("config");
        assert_eq!(
            dial(&config2, &addr2).await.err(),
            Some(DialError::Certificate(addr2.clone()))
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_a_network_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        drop(listener);
        let config = client_config(&ca_pem(true)).expect("config");
        assert_eq!(
            dial(&config, &addr).await.err(),
            Some(DialError::Network(addr.clone()))
        );
    }
}
