//! Issue 11, items 12 (dev mode) and 15 (transport limits): one test per
//! item (`item_NN_...`), through real servers with real mutual TLS on
//! 127.0.0.1, with the near misses an attacker would try. (Item 16's
//! operator tools are tested in `security_avail.rs`.)

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
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

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
        call_on_new_connection(
            self.addr,
            self.dir.join("certs/ca.pem"),
            cert_dir.to_owned(),
        )
        .await
    }

    /// A connected channel with the certificate in `cert_dir`.
    async fn channel_as(&self, cert_dir: &Path) -> Channel {
        crate::harness::connect_channel(
            self.addr,
            &self.dir.join("certs/ca.pem"),
            &cert_dir.join("client.pem"),
            &cert_dir.join("client.key"),
        )
        .await
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

/// See [`Served::call_as`] (a free function, so a spawned task can run it).
async fn call_on_new_connection(
    addr: SocketAddr,
    ca: PathBuf,
    cert_dir: PathBuf,
) -> Result<(), String> {
    let opts = ConnectOptions {
        endpoint_url: Some(format!("https://{addr}")),
        ca_cert: Some(ca),
        client_cert: Some(cert_dir.join("client.pem")),
        client_key: Some(cert_dir.join("client.key")),
        data_dir: None,
    };
    let call = async {
        let channel = kms_proto::client::connect_channel(&opts)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        list_keys(&mut Client::new(channel)).await
    };
    tokio::time::timeout(HANG_GUARD, call)
        .await
        .unwrap_or_else(|_| Err("hang guard".into()))
}

/// One ListKeys call: `Ok` if it reached kmsd's handlers (an answer, or an
/// AWS exception such as AccessDeniedException), `Err` otherwise.
async fn list_keys(c: &mut Client) -> Result<(), String> {
    match c.list_keys(pb::ListKeysRequest::default()).await {
        Ok(_) => Ok(()),
        Err(e) if e.message().starts_with("AccessDeniedException: ") => Ok(()),
        Err(e) => Err(format!("call: {e}")),
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

/// Item 15: an established connection is not verified again, so a
/// revocation reaches it only when it ends: at the maximum connection age
/// kmsd closes it, the client's reconnect is refused (its certificate is
/// revoked now), and every later call fails, while other certificates
/// connect as before.
#[tokio::test]
async fn item_15_a_connection_ends_at_its_maximum_age_so_a_revocation_reaches_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    pki::ensure_dev_pki(&data).expect("dev pki");
    let alice = data.join("clients/alice");
    pki::issue_client(&data, "arn:aws:iam::111122223333:user/alice", &alice).expect("alice");
    let crl = data.join("clients.crl");
    pki::write_dev_crl(&data, &[], &crl).expect("empty crl");
    let crl_for_config = crl.clone();
    let server = Served::start(&data, move |c| {
        c.client_crl = Some(crl_for_config);
        // Long enough for the steps before the age runs out, short enough
        // for a test.
        c.limits.max_connection_age = Duration::from_secs(4);
        c.limits.max_connection_age_grace = Duration::from_secs(1);
    })
    .await;
    let mut c = Client::new(server.channel_as(&alice).await);
    list_keys(&mut c)
        .await
        .expect("alice before the revocation");

    pki::write_dev_crl(&data, &[alice.join("client.pem")], &crl).expect("crl");
    server.reloader.reload().expect("reload");
    assert!(
        server.call_as(&alice).await.is_err(),
        "a new connection of alice is refused"
    );
    list_keys(&mut c)
        .await
        .expect("alice's established connection still works");

    // Until the age runs out; then the reconnect is refused. (Without a
    // maximum age the calls would go on succeeding: the hang guard fails
    // the test.)
    let ended = tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Err(e) = list_keys(&mut c).await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("alice's connection outlived the maximum age");
    assert!(!ended.is_empty());
    for _ in 0..3 {
        assert!(
            list_keys(&mut c).await.is_err(),
            "alice got back in after the age"
        );
    }
    server
        .call_as(&data.join("certs"))
        .await
        .expect("the dev client connects as before");
    server.stop().await;
}

/// Item 15: with a limit of one open connection, a second client cannot
/// complete a call while the first holds its connection (its connection
/// waits in the listen backlog), and completes it as soon as the first
/// disconnects.
#[tokio::test]
async fn item_15_connections_beyond_the_limit_wait_until_one_closes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Served::start(&data, |c| c.limits.max_connections = 1).await;
    let certs = data.join("certs");
    let mut first = Client::new(server.channel_as(&certs).await);
    list_keys(&mut first).await.expect("first client");

    let mut second = tokio::spawn(call_on_new_connection(
        server.addr,
        certs.join("ca.pem"),
        certs.clone(),
    ));
    // A bounded wait (the claim is that it does not complete): if the
    // limit did not hold, the call would be done in milliseconds.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), &mut second)
            .await
            .is_err(),
        "the second client got a connection while the first held the only one"
    );
    list_keys(&mut first)
        .await
        .expect("the first client is unaffected");
    drop(first);
    tokio::time::timeout(HANG_GUARD, second)
        .await
        .expect("the second client got in after the first left")
        .expect("task")
        .expect("the second client's call");
    server.stop().await;
}

/// The generic gRPC client on `channel` and ListKeys' path and codec, for
/// calls whose request body the test sends itself.
async fn list_keys_by_hand(
    channel: Channel,
    body: ReceiverStream<pb::ListKeysRequest>,
) -> Result<pb::ListKeysResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<pb::ListKeysRequest, pb::ListKeysResponse>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/kms.v1.KeyManagementService/ListKeys",
    );
    grpc.client_streaming(tonic::Request::new(body), path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// A channel with no client-side deadline (kms_proto's clients set one),
/// so that a deadline the test sees can only be the server's.
async fn channel_without_deadline(server: &Served) -> Channel {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let certs = server.dir.join("certs");
    let read = |f: &str| std::fs::read_to_string(certs.join(f)).expect("read pem");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .identity(Identity::from_pem(read("client.pem"), read("client.key")))
        .domain_name("localhost");
    Channel::from_shared(format!("https://{}", server.addr))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect")
}

/// Item 15: a request that has not completed within the request timeout
/// is ended by kmsd (here a client that sends a call's headers and never
/// its body: the handler waits for it); the same connection serves a
/// complete request as usual.
#[tokio::test]
async fn item_15_a_request_that_does_not_complete_in_time_is_ended() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Served::start(&data, |c| {
        c.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let channel = channel_without_deadline(&server).await;
    // Held (never sent on, never closed) for the whole call.
    let (_held, body) = tokio::sync::mpsc::channel::<pb::ListKeysRequest>(1);
    let ended = tokio::time::timeout(
        HANG_GUARD,
        list_keys_by_hand(channel.clone(), ReceiverStream::new(body)),
    )
    .await
    .expect("kmsd let the request run past its timeout")
    .expect_err("a request without its body cannot succeed");
    assert_eq!(ended.code(), tonic::Code::Cancelled, "{ended:?}");
    assert_eq!(ended.message(), "Timeout expired", "{ended:?}");
    // The same request, complete, on the same connection.
    let (tx, body) = tokio::sync::mpsc::channel(1);
    tx.send(pb::ListKeysRequest::default()).await.expect("send");
    drop(tx);
    list_keys_by_hand(channel.clone(), ReceiverStream::new(body))
        .await
        .expect("a complete request");
    list_keys(&mut Client::new(channel))
        .await
        .expect("an ordinary call");
    server.stop().await;
}

/// Item 15: with one request in flight per connection, a request that is
/// waiting for its body holds the connection's only slot: another call on
/// the same connection waits, and completes once the first request's body
/// arrives and it completes.
#[tokio::test]
async fn item_15_requests_beyond_the_per_connection_limit_wait() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let server = Served::start(&data, |c| {
        c.limits.concurrency_per_connection = 1;
    })
    .await;
    let channel = channel_without_deadline(&server).await;
    let (tx, body) = tokio::sync::mpsc::channel(1);
    let first = tokio::spawn(list_keys_by_hand(
        channel.clone(),
        ReceiverStream::new(body),
    ));
    // Probe calls on the same connection until one waits: one that
    // completes was served before the first request took the slot. The
    // wait is bounded (the claim is that it does not complete); the loop
    // is bounded by the hang guard.
    let started = std::time::Instant::now();
    let waiting = loop {
        assert!(
            started.elapsed() < HANG_GUARD,
            "no call ever waited for the first request's slot"
        );
        let mut c = Client::new(channel.clone());
        let mut probe = tokio::spawn(async move { list_keys(&mut c).await });
        match tokio::time::timeout(Duration::from_secs(2), &mut probe).await {
            Ok(done) => done
                .expect("probe task")
                .expect("a probe that got the slot"),
            Err(_) => break probe,
        }
    };
    assert!(!first.is_finished());
    tx.send(pb::ListKeysRequest::default()).await.expect("send");
    drop(tx);
    tokio::time::timeout(HANG_GUARD, first)
        .await
        .expect("the first request completes once its body arrived")
        .expect("task")
        .expect("the first request");
    tokio::time::timeout(HANG_GUARD, waiting)
        .await
        .expect("the waiting call completes after the first")
        .expect("task")
        .expect("the waiting call");
    server.stop().await;
}
