//! Test 8: the replication RPCs never carry key material in plaintext
//! (docs/multi-region.md, "Wire protection of material"). A real kmsd
//! (Region A) replicates to a capturing stand-in for Region B; see the
//! test's doc for exactly what is proven.

use std::path::{Path, PathBuf};

use kms_proto::replication::v1 as rpb;
use kmsd::proto::kms::v1 as pb;

use super::mr_cluster::{MrCluster, REGIONS};

const A: usize = 0;
const B: usize = 1;

/// A stand-in for Region B: a Replication server on B's replication
/// address with B's genuine peer certificate (so A's dial, which checks the
/// certificate names us-west-2, accepts it), whose Region key is one this
/// test holds. It records every Deliver exactly as it arrived (the encoded
/// protobuf bytes) and acknowledges it.
struct FakePeer {
    public_key: [u8; 32],
    delivered: tokio::sync::mpsc::UnboundedSender<(Vec<u8>, rpb::DeliverRequest)>,
}

#[tonic::async_trait]
impl rpb::replication_server::Replication for FakePeer {
    async fn get_region_key(
        &self,
        _request: tonic::Request<rpb::GetRegionKeyRequest>,
    ) -> Result<tonic::Response<rpb::GetRegionKeyResponse>, tonic::Status> {
        Ok(tonic::Response::new(rpb::GetRegionKeyResponse {
            region: REGIONS[B].into(),
            public_key: self.public_key.to_vec(),
        }))
    }

    async fn check_access(
        &self,
        _request: tonic::Request<rpb::CheckAccessRequest>,
    ) -> Result<tonic::Response<rpb::CheckAccessResponse>, tonic::Status> {
        Ok(tonic::Response::new(rpb::CheckAccessResponse {}))
    }

    async fn deliver(
        &self,
        request: tonic::Request<rpb::DeliverRequest>,
    ) -> Result<tonic::Response<rpb::DeliverResponse>, tonic::Status> {
        let req = request.into_inner();
        let raw = prost::Message::encode_to_vec(&req);
        let through = req.entries.iter().map(|e| e.seq).max().unwrap_or(0);
        let _ = self.delivered.send((raw, req));
        Ok(tonic::Response::new(rpb::DeliverResponse {
            applied_through: through,
        }))
    }
}

type HpkeKem = hpke::kem::X25519HkdfSha256;

/// Opens a sealed material version as its destination Region would, by
/// the `hpke` crate directly (not kmsd's code): HPKE base mode,
/// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, info
/// "kmsd replication v1", and the additional data kmsd binds (key id,
/// version, KeyMaterialId, source and destination Regions).
fn hpke_open(
    sk: &<HpkeKem as hpke::Kem>::PrivateKey,
    sealed: &rpb::WrappedSecret,
    key_id: &str,
    version: u32,
    material_id: &str,
    from: &str,
    to: &str,
) -> Option<Vec<u8>> {
    use hpke::Deserializable;
    let key: kmsd::model::KeyId = key_id.parse().ok()?;
    let aad = kmsd::crypto::hpke::material_aad(&key, version, material_id, from, to);
    let enc = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc).ok()?;
    hpke::single_shot_open::<hpke::aead::ChaCha20Poly1305, hpke::kdf::HkdfSha256, HpkeKem>(
        &hpke::OpModeR::Base,
        sk,
        &enc,
        b"kmsd replication v1",
        &sealed.ciphertext,
        &aad,
    )
    .ok()
}

/// The forms a secret could take in a file or a message: raw, hex (both
/// cases), base64 (standard, URL-safe, padded or not), and every 16-byte
/// window of the raw bytes (a partial copy).
fn forms(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let en = base64::engine::general_purpose::STANDARD_NO_PAD;
    let u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut out = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
        e.encode(secret).into_bytes(),
        en.encode(secret).into_bytes(),
        u.encode(secret).into_bytes(),
    ];
    out.extend(secret.windows(16).map(<[u8]>::to_vec));
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// The sealed material versions of `key_id` in what was delivered.
fn sealed_materials<'a>(
    delivered: &'a [(Vec<u8>, rpb::DeliverRequest)],
    key_id: &str,
) -> Vec<&'a rpb::WrappedMaterial> {
    delivered
        .iter()
        .flat_map(|(_, d)| &d.entries)
        .filter_map(|e| match &e.message {
            Some(rpb::envelope::Message::Sync(s)) if s.key_id == key_id => Some(s),
            _ => None,
        })
        .flat_map(|s| &s.materials)
        .collect()
}

/// Test 8. What it proves, for three multi-Region keys of the real kmsd in
/// A replicated to a capturing stand-in for B:
/// - symmetric (AWS_KMS) and HMAC keys: the Deliver carries each material
///   version HPKE-sealed; opening it with B's private key gives material
///   that opens A's ciphertext (by hand, docs/ciphertext-format.md) and
///   reproduces A's MAC — so the sealed blob really is the key material —
///   while opening it with another private key, or as bound for another
///   Region or version, fails;
/// - that material, in any common encoding or as any 16-byte piece, is in
///   none of the captured Deliver bytes and in no file of A's data dir;
/// - an EXTERNAL key, whose material this test imported and so knows: no
///   material travels at all (each Region imports its own), and the known
///   bytes are in no captured message and no file of A's data dir.
/// What it does not prove: anything about a real peer's own storage (the
/// at-rest tests cover a Region's store), or about TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_replication_never_carries_material_in_plaintext() {
    use hpke::{Deserializable, Kem};
    let mut cl = MrCluster::init(2);

    // B's stand-in, with a Region key this test holds.
    let sk_bytes = super::byok::random(32);
    let sk = <HpkeKem as Kem>::PrivateKey::from_bytes(&sk_bytes).expect("x25519 key");
    let pk = <HpkeKem as Kem>::sk_to_pk(&sk);
    let mut public_key = [0u8; 32];
    public_key.copy_from_slice(&hpke::Serializable::to_bytes(&pk));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let peer_dir = cl.peer_dir(B);
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(
            std::fs::read(peer_dir.join("peer.pem")).expect("peer.pem"),
            std::fs::read(peer_dir.join("peer.key")).expect("peer.key"),
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(
            std::fs::read(cl.peer_ca()).expect("peer ca"),
        ));
    let listener = tokio::net::TcpListener::bind(cl.repl_addrs[B])
        .await
        .expect("bind B's replication address");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls)
            .expect("tls")
            .add_service(rpb::replication_server::ReplicationServer::new(FakePeer {
                public_key,
                delivered: tx,
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stop_rx.await;
                },
            ),
    );

    cl.start_region(A);
    let mut a = cl.client(A).await;
    let sym = super::mr_cluster::create_mr_symmetric(&mut a, "scan: symmetric").await;
    let blob =
        super::harness::encrypt(&mut a, &sym, b"sealed in transit", &Default::default()).await;
    let hmac = super::mr_cluster::create_mr_key(
        &mut a,
        "scan: hmac",
        pb::KeySpec::Hmac256,
        pb::KeyUsageType::GenerateVerifyMac,
    )
    .await;
    let message = b"a message to MAC".to_vec();
    let mac = a
        .generate_mac(pb::GenerateMacRequest {
            message: message.clone(),
            key_id: hmac.clone(),
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
            grant_tokens: Vec::new(),
        })
        .await
        .expect("GenerateMac")
        .into_inner()
        .mac;
    let ext = a
        .create_key(pb::CreateKeyRequest {
            origin: pb::OriginType::External as i32,
            multi_region: true,
            ..Default::default()
        })
        .await
        .expect("create EXTERNAL multi-Region key")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    let known = super::byok::random(32);
    super::byok::import_material(&mut a, &ext, &known).await;

    for k in [&sym, &hmac, &ext] {
        super::mr_cluster::replicate(&mut a, k, REGIONS[B]).await;
    }
    // Collect Delivers until each key's creating Sync has arrived.
    let mut delivered: Vec<(Vec<u8>, rpb::DeliverRequest)> = Vec::new();
    let created = |d: &[(Vec<u8>, rpb::DeliverRequest)], key: &str| {
        d.iter().flat_map(|(_, r)| &r.entries).any(|e| {
            matches!(&e.message, Some(rpb::envelope::Message::Sync(s)) if s.key_id == key && s.create.is_some())
        })
    };
    while ![&sym, &hmac, &ext].iter().all(|k| created(&delivered, k)) {
        let d = tokio::time::timeout(super::harness::HANG_GUARD, rx.recv())
            .await
            .expect("A delivered to B's stand-in")
            .expect("channel open");
        assert!(d.1.from_region == REGIONS[A]);
        delivered.push(d);
    }

    let mut secrets: Vec<(String, Vec<u8>)> = vec![("imported".into(), known.clone())];
    for (name, key) in [("symmetric", &sym), ("hmac", &hmac)] {
        let mats = sealed_materials(&delivered, key);
        assert!(!mats.is_empty(), "{name}: no material delivered");
        for m in mats {
            let sealed = m.sealed.as_ref().expect("material travels sealed");
            assert_eq!(sealed.enc.len(), 32, "an X25519 encapsulated key");
            let material = hpke_open(
                &sk,
                sealed,
                key,
                m.version,
                &m.key_material_id,
                REGIONS[A],
                REGIONS[B],
            )
            .unwrap_or_else(|| panic!("{name}: B's key does not open the sealed material"));
            // It is the key's material: it does what the key does in A.
            if name == "symmetric" {
                assert_eq!(
                    super::byok::open_blob_with(&material, &blob).as_deref(),
                    Some(&b"sealed in transit"[..]),
                    "the opened material opens A's ciphertext"
                );
            } else {
                assert_eq!(super::byok::hmac_sha256(&material, &message), mac);
            }
            // Bound to its destination, version and recipient.
            assert!(hpke_open(
                &sk,
                sealed,
                key,
                m.version,
                &m.key_material_id,
                REGIONS[A],
                "eu-west-1"
            )
            .is_none());
            assert!(hpke_open(
                &sk,
                sealed,
                key,
                m.version + 1,
                &m.key_material_id,
                REGIONS[A],
                REGIONS[B]
            )
            .is_none());
            assert!(hpke_open(
                &sk,
                sealed,
                key,
                m.version,
                &m.key_material_id,
                REGIONS[B],
                REGIONS[B]
            )
            .is_none());
            let other =
                <HpkeKem as Kem>::PrivateKey::from_bytes(&super::byok::random(32)).expect("key");
            assert!(hpke_open(
                &other,
                sealed,
                key,
                m.version,
                &m.key_material_id,
                REGIONS[A],
                REGIONS[B]
            )
            .is_none());
            secrets.push((format!("{name} v{}", m.version), material));
        }
    }
    // EXTERNAL: no material is replicated (each Region imports it).
    for m in sealed_materials(&delivered, &ext) {
        assert!(m.sealed.is_none(), "imported material was sent: {m:?}");
    }

    // The scan: every captured Deliver, byte for byte, then every file of
    // A's data dir (after a clean stop, so everything is on disk) and
    // A's log.
    let stderr = cl.stderr(A);
    cl.stop_region(A);
    let _ = stop_tx.send(());
    let _ = server.await;
    let mut haystacks: Vec<(String, Vec<u8>)> = delivered
        .iter()
        .enumerate()
        .map(|(i, (raw, _))| (format!("Deliver #{i}"), raw.clone()))
        .collect();
    haystacks.push(("A's stderr".into(), stderr.into_bytes()));
    let files = files_under(&cl.dir(A));
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "log")),
        "no RocksDB WAL found"
    );
    for f in files {
        haystacks.push((f.display().to_string(), std::fs::read(&f).expect("read")));
    }
    for (name, secret) in &secrets {
        for form in forms(secret) {
            for (where_, hay) in &haystacks {
                assert!(!contains(hay, &form), "{name} material found in {where_}");
            }
        }
    }
}

/// The scan itself finds a secret planted in any of the forms it looks
/// for, so a clean scan above means something.
#[test]
fn scan_finds_planted_material() {
    use base64::Engine;
    let secret = super::byok::random(32);
    let plant = |form: Vec<u8>| {
        let mut hay = super::byok::random(1000);
        hay.splice(500..500, form);
        hay
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
    for hay in [
        plant(secret.clone()),
        plant(hex::encode(&secret).into_bytes()),
        plant(hex::encode_upper(&secret).into_bytes()),
        plant(b64.into_bytes()),
        plant(secret[7..23].to_vec()),
    ] {
        assert!(forms(&secret).iter().any(|f| contains(&hay, f)));
    }
    assert!(!forms(&secret)
        .iter()
        .any(|f| contains(&super::byok::random(1000), f)));
}
