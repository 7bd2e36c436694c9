//! Issue 11, items 12 (dev mode), 15 (transport limits) and 16 (the
//! scheduler): one test per item (`item_NN_...`), through real servers with
//! real mutual TLS on 127.0.0.1, with the near misses an attacker would try.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kms_proto::client::ConnectOptions;
use kmsd::clock::ManualClock;
use kmsd::kms::KmsConfig;
use kmsd::pki;
use kmsd::proto::kms::v1 as pb;
use kmsd::server::{dev_bind_warning, KmsServer, ServerConfig, ServerError, TlsReloader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{Client, HANG_GUARD};

/// An in-process kmsd on a dev data dir, with its configuration adjusted
/// by the test before it opens.
struct Served {
    addr: SocketAddr,
    dir: PathBuf,
    reloader: TlsReloader,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Served {
    async fn start(dir: &Path, adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let mut config = ServerConfig::dev(dir, KmsConfig::default(), None).expect("dev config");
        adjust(&mut config);
        let server =
            KmsServer::open(config, Arc::new(ManualClock::starting_now())).expect("open server");
        let reloader = server.tls_reloader();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.serve(listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            dir: dir.to_owned(),
            reloader,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// One ListKeys call on a new connection with the certificate in
    /// `cert_dir` (client.pem / client.key): `Ok` if the call reached
    /// kmsd's handlers (an answer, or an AWS exception such as
    /// AccessDeniedException for a principal without permissions), `Err` if
    /// the connection was refused.
    async fn call_as(&self, cert_dir: &Path) -> Result<(), String> {
        let opts = ConnectOptions {
            endpoint_url: Some(format!("https://{}", self.addr)),
            ca_cert: Some(self.dir.join("certs/ca.pem")),
            client_cert: Some(cert_dir.join("client.pem")),
            client_key: Some(cert_dir.join("client.key")),
            data_dir: None,
        };
        let call = async {
            let channel = kms_proto::client::connect_channel(&opts)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let mut c = Client::new(channel);
            match c.list_keys(pb::ListKeysRequest::default()).await {
                Ok(_) => Ok(()),
                Err(e) if e.message().starts_with("AccessDeniedException: ") => Ok(()),
                Err(e) => Err(format!("call: {e}")),
            }
        };
        tokio::time::timeout(HANG_GUARD, call)
            .await
            .unwrap_or_else(|_| Err("hang guard".into()))
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server result");
        }
    }
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn der_of_pem_file(path: &Path) -> Vec<u8> {
    use base64::Engine;
    let text = std::fs::read_to_string(path).expect("read pem");
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
}

/// Item 12: a dev start makes its directories 0700 (whatever the umask),
/// its secrets 0600, and a CA that can sign only what dev mode needs: no
/// intermediate CA (path length 0), only certificate and CRL signing, and
/// server names only `localhost` / loopback addresses.
#[cfg(unix)]
#[tokio::test]
async fn item_12_dev_start_is_private_and_the_dev_ca_is_constrained() {
    use tokio_rustls::rustls::client::danger::ServerCertVerifier;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::{FromDer, X509Certificate};

    let tmp = tempfile::tempdir().expect("tempdir");
    // A data dir that does not exist yet, below a directory that does: dev
    // mode creates it.
    let data = tmp.path().join("data");
    let server = Served::start(&data, |_| {}).await;
    assert!(server.call_as(&data.join("certs")).await.is_ok());
    for d in [data.clone(), data.join("certs"), data.join("db")] {
        assert_eq!(mode_of(&d), 0o700, "{}", d.display());
    }
    for f in [
        "root.key",
        "certs/ca.key",
        "certs/server.key",
        "certs/client.key",
    ] {
        assert_eq!(mode_of(&data.join(f)), 0o600, "{f}");
    }
    // Issued client certificates go to private directories too.
    let out = data.join("clients/alice");
    pki::issue_client(&data, "arn:aws:iam::111122223333:user/alice", &out).expect("issue");
    assert_eq!(mode_of(&data.join("clients")), 0o700);
    assert_eq!(mode_of(&out), 0o700);
    assert!(server.call_as(&out).await.is_ok());
    server.stop().await;

    let der = der_of_pem_file(&data.join("certs/ca.pem"));
    let (_, ca) = X509Certificate::from_der(&der).expect("CA certificate");
    let bc = ca
        .basic_constraints()
        .expect("basicConstraints parse")
        .expect("basicConstraints present");
    assert!(bc.critical);
    assert!(bc.value.ca);
    assert_eq!(bc.value.path_len_constraint, Some(0));
    let ku = ca
        .key_usage()
        .expect("keyUsage parse")
        .expect("keyUsage present");
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
    assert!(
        !ku.value.digital_signature()
            && !ku.value.key_encipherment()
            && !ku.value.key_agreement()
            && !ku.value.non_repudiation()
            && !ku.value.data_encipherment(),
        "{:?}",
        ku.value
    );
    let nc = ca
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::NameConstraints(nc) => Some(nc.clone()),
            _ => None,
        })
        .expect("nameConstraints present");
    assert!(nc.excluded_subtrees.is_none());
    let permitted: Vec<String> = nc
        .permitted_subtrees
        .expect("permitted subtrees")
        .iter()
        .map(|s| match &s.base {
            GeneralName::DNSName(n) => format!("dns:{n}"),
            GeneralName::IPAddress(b) => format!("ip:{}", hex::encode(b)),
            other => format!("other:{other:?}"),
        })
        .collect();
    assert_eq!(
        permitted,
        [
            "dns:localhost".to_owned(),
            "ip:7f000001ffffffff".to_owned(),
            format!("ip:{}{}", "0".repeat(31) + "1", "f".repeat(32)),
        ]
    );

    // Near miss: the CA key, if stolen, cannot make a server certificate
    // for another host that a client accepts.
    let ca_key = rcgen::KeyPair::from_pem(
        &std::fs::read_to_string(data.join("certs/ca.key")).expect("ca key"),
    )
    .expect("ca key pem");
    let ca_pem = std::fs::read_to_string(data.join("certs/ca.pem")).expect("ca pem");
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, &ca_key).expect("issuer");
    let evil_key = rcgen::KeyPair::generate().expect("key");
    let evil = rcgen::CertificateParams::new(vec!["kms.example.com".to_owned()])
        .expect("params")
        .signed_by(&evil_key, &issuer)
        .expect("sign");
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add(der.clone().into()).expect("root");
    let roots = Arc::new(roots);
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let server_verifier =
        tokio_rustls::rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&roots),
            Arc::clone(&provider),
        )
        .build()
        .expect("verifier");
    let now = tokio_rustls::rustls::pki_types::UnixTime::now();
    let name =
        tokio_rustls::rustls::pki_types::ServerName::try_from("kms.example.com").expect("name");
    assert!(server_verifier
        .verify_server_cert(&evil.der().clone(), &[], &name, &[], now)
        .is_err());
    // Control: the dev server certificate passes the same verifier.
    let dev_server = der_of_pem_file(&data.join("certs/server.pem"));
    let localhost =
        tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("name");
    server_verifier
        .verify_server_cert(&dev_server.into(), &[], &localhost, &[], now)
        .expect("the dev server certificate verifies");

    // (The CA's path length 0 is for verifiers that enforce it on a trust
    // anchor, e.g. OpenSSL; rustls takes from an anchor only its name and
    // name constraints.)
    let client_verifier =
        tokio_rustls::rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .expect("verifier");
    let dev_client = der_of_pem_file(&data.join("certs/client.pem"));
    client_verifier
        .verify_client_cert(&dev_client.into(), &[], now)
        .expect("the dev client certificate verifies");
}

/// Item 12: `--dev` warns when it listens on anything but loopback
/// (including the wildcard addresses and IPv4-mapped non-loopback IPv6).
#[test]
fn item_12_dev_mode_warns_on_a_non_loopback_listen_address() {
    for quiet in [
        "127.0.0.1:7878",
        "127.0.0.2:1",
        "[::1]:7878",
        "[::ffff:127.0.0.1]:7878",
    ] {
        let addr: SocketAddr = quiet.parse().expect("addr");
        assert_eq!(dev_bind_warning(&addr), None, "{quiet}");
    }
    for loud in [
        "0.0.0.0:7878",
        "[::]:7878",
        "192.168.1.10:7878",
        "10.0.0.1:0",
        "[::ffff:10.0.0.1]:7878",
        "[2001:db8::1]:7878",
    ] {
        let addr: SocketAddr = loud.parse().expect("addr");
        let w = dev_bind_warning(&addr).unwrap_or_else(|| panic!("no warning for {loud}"));
        assert!(w.contains("not a loopback address"), "{w}");
    }
}

/// Item 15: a client certificate listed in the `--client-crl` file is
/// refused at the handshake while other certificates of the same CA work;
/// a new CRL takes effect for the next connection after a reload (what
/// SIGHUP calls); an unreadable CRL on reload keeps the previous one.
#[tokio::test]
async fn item_15_a_revoked_client_certificate_is_refused_and_the_crl_reloads() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    pki::ensure_dev_pki(&data).expect("dev pki");
    let alice = data.join("clients/alice");
    let bob = data.join("clients/bob");
    pki::issue_client(&data, "arn:aws:iam::111122223333:user/alice", &alice).expect("alice");
    pki::issue_client(&data, "arn:aws:iam::111122223333:user/bob", &bob).expect("bob");
    let crl = data.join("clients.crl");
    pki::write_dev_crl(&data, &[alice.join("client.pem")], &crl).expect("crl");

    let crl_for_config = crl.clone();
    let server = Served::start(&data, move |c| c.client_crl = Some(crl_for_config)).await;
    let dev = data.join("certs");
    assert!(server.call_as(&alice).await.is_err(), "alice is revoked");
    server.call_as(&bob).await.expect("bob is not revoked");
    server
        .call_as(&dev)
        .await
        .expect("the dev client is not revoked");

    // Bob's certificate leaks: revoke it too, and reload.
    pki::write_dev_crl(
        &data,
        &[alice.join("client.pem"), bob.join("client.pem")],
        &crl,
    )
    .expect("crl");
    // Until the reload, the old CRL is in force.
    server.call_as(&bob).await.expect("bob until the reload");
    server.reloader.reload().expect("reload");
    assert!(server.call_as(&bob).await.is_err(), "bob is revoked now");
    assert!(server.call_as(&alice).await.is_err(), "alice still is");
    server
        .call_as(&dev)
        .await
        .expect("the dev client still works");

    // A broken CRL file does not open the door (nor close it for everyone).
    std::fs::write(&crl, b"not a CRL").expect("write");
    assert!(server.reloader.reload().is_err());
    assert!(server.call_as(&bob).await.is_err(), "bob stays revoked");
    server
        .call_as(&dev)
        .await
        .expect("the dev client still works");
    // An emptied CRL file is refused too (not read as "nothing revoked").
    std::fs::write(&crl, b"").expect("write");
    assert!(server.reloader.reload().is_err());
    assert!(server.call_as(&bob).await.is_err(), "bob stays revoked");
    server.stop().await;

    // A CRL signed by another CA says nothing about this CA's certificates:
    // the server refuses to guess (fail closed).
    let other = tmp.path().join("other");
    pki::ensure_dev_pki(&other).expect("other pki");
    let other_crl = tmp.path().join("other.crl");
    pki::write_dev_crl(&other, &[], &other_crl).expect("crl");
    let server = Served::start(&data, move |c| c.client_crl = Some(other_crl)).await;
    assert!(server.call_as(&dev).await.is_err());
    server.stop().await;
}

/// Item 15: a peer that opens TCP and never completes a TLS handshake (says
/// nothing, or starts a ClientHello and stalls) is disconnected after the
/// handshake timeout, and does not keep others out even when it holds the
/// only handshake slot.
#[tokio::test]
async fn item_15_a_peer_that_stalls_its_handshake_is_cut() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Served::start(&data, |c| {
        c.limits.handshake_timeout = Duration::from_millis(200);
        c.limits.max_pending_handshakes = 1;
    })
    .await;

    async fn closed_by_server(mut s: tokio::net::TcpStream) {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(HANG_GUARD, async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    // A TLS alert, if any, then the close.
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(read.is_ok(), "the server kept a stalled handshake open");
    }

    // Silent.
    let silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    closed_by_server(silent).await;
    // The first bytes of a ClientHello record, then nothing.
    let mut partial = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .expect("write");
    closed_by_server(partial).await;

    // A stalled peer holding the only slot delays a real client until it
    // is cut, but does not lock it out.
    let _stalled = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("tcp");
    server
        .call_as(&data.join("certs"))
        .await
        .expect("a real client still gets in");
    server.stop().await;
}
