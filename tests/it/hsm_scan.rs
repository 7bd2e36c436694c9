//! Where an HSM key's material is not: the test learns the material the
//! way only someone holding a node's data dir could (its master key opens
//! the sealed key file), proves it is the material by opening a kmsd
//! ciphertext blob with it, then finds it in no file of kmsd's data dir,
//! of any hsm-sim data or cluster dir (other than sealed), in no log line
//! and in no hsm-sim response.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_proto::hsm::v1 as hsm;
use prost::Message;

use crate::at_rest::{contains, files_under};
use crate::harness::*;
use crate::hsm_cluster::HsmCluster;
use crate::hsm_kms::*;

/// Files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| contains(&b, needle)))
        .collect()
}

/// hsm-sim's on-disk layout (hsm-sim/src/store.rs): `DIR/master.key`, 32
/// raw bytes; `DIR/keys/<handle>`, JSON whose `sealed_material` is the hex
/// of `nonce (12) || ciphertext || tag (16)` under the master key, with
/// additional data `cluster_id || handle`.
fn material_from_node_dir(dir: &Path, cluster_id: &str, handle: &str) -> Vec<u8> {
    let master = std::fs::read(dir.join("master.key")).expect("master.key");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys").join(handle)).expect("key file"))
            .expect("key file is JSON");
    let sealed =
        hex::decode(record["sealed_material"].as_str().expect("sealed_material")).expect("hex");
    let mut aad = cluster_id.as_bytes().to_vec();
    aad.extend_from_slice(handle.as_bytes());
    let material = aes_open(&master, &sealed, &aad).expect("the master key opens the key file");
    assert_eq!(material.len(), 32, "a 256-bit key");
    material
}

/// AES-256-GCM open of `nonce (12) || ct || tag`.
fn aes_open(key: &[u8], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let (nonce, ct) = sealed.split_at(12);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_key_material_is_nowhere_but_sealed() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let kmsd_dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_with_config(kmsd_dir.path(), config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "scan", &cluster).await;
    connect_ok(&mut c, &store).await;
    let key = create_hsm_key(&mut c, &store).await.key_id;
    let context = ctx(&[("scan", "material")]);
    let blob = encrypt(&mut c, &key, b"scan me", &context).await;
    let dk = generate_data_key(&mut c, &key, &context).await;
    assert_eq!(
        decrypt(&mut c, &dk.ciphertext_blob, &context).await,
        dk.plaintext
    );

    // Everything a kmsuser session on a node answers, kept as bytes.
    let mut responses: Vec<Vec<u8>> = Vec::new();
    let mut s = HsmSession::login(&cluster, 0).await;
    responses.push(
        hsm::LoginResponse {
            session: s.session.clone(),
        }
        .encode_to_vec(),
    );
    let found = s
        .client
        .find_keys(hsm::FindKeysRequest {
            session: s.session.clone(),
            label: key.clone(),
        })
        .await
        .expect("find keys")
        .into_inner();
    responses.push(found.encode_to_vec());
    assert_eq!(found.keys.len(), 1, "{found:?}");
    let handle = found.keys[0].handle.clone();
    let all = s
        .client
        .find_keys(hsm::FindKeysRequest {
            session: s.session.clone(),
            label: String::new(),
        })
        .await
        .expect("find all keys")
        .into_inner();
    responses.push(all.encode_to_vec());
    let generated = s
        .client
        .generate_key(hsm::GenerateKeyRequest {
            session: s.session.clone(),
            label: "scan-direct".into(),
        })
        .await
        .expect("generate key")
        .into_inner();
    responses.push(generated.encode_to_vec());
    let sealed = s
        .client
        .encrypt(hsm::EncryptRequest {
            session: s.session.clone(),
            handle: handle.clone(),
            plaintext: b"direct".to_vec(),
            aad: b"aad".to_vec(),
        })
        .await
        .expect("encrypt")
        .into_inner();
    responses.push(sealed.encode_to_vec());
    let opened = s
        .client
        .decrypt(hsm::DecryptRequest {
            session: s.session.clone(),
            handle: handle.clone(),
            ciphertext: sealed.ciphertext.clone(),
            aad: b"aad".to_vec(),
        })
        .await
        .expect("decrypt")
        .into_inner();
    assert_eq!(opened.plaintext, b"direct");
    responses.push(opened.encode_to_vec());
    for i in 0..2 {
        let st = hsm_client(&cluster, i)
            .await
            .cluster_status(hsm::ClusterStatusRequest {})
            .await
            .expect("cluster status")
            .into_inner();
        assert_eq!(st.cluster_id, cluster.cluster_id);
        responses.push(st.encode_to_vec());
    }

    // The material, as only a holder of a node's data dir could learn it;
    // both nodes hold the same key.
    let material = material_from_node_dir(&cluster.data_dir(0), &cluster.cluster_id, &handle);
    assert_eq!(
        material_from_node_dir(&cluster.data_dir(1), &cluster.cluster_id, &handle),
        material
    );
    // It is the key kmsd's blobs are sealed under: header (54) || nonce ||
    // ct || tag, additional data header || canonical context.
    let canonical = kmsd::ciphertext::CanonicalContext::new(&context).expect("context");
    let open_blob = |b: &[u8]| {
        let mut aad = b[..kmsd::ciphertext::HEADER_LEN].to_vec();
        aad.extend_from_slice(canonical.as_bytes());
        aes_open(&material, &b[kmsd::ciphertext::HEADER_LEN..], &aad)
    };
    assert_eq!(open_blob(&blob).as_deref(), Some(&b"scan me"[..]));
    assert_eq!(
        open_blob(&dk.ciphertext_blob).as_deref(),
        Some(&dk.plaintext[..])
    );
    // And of the direct HSM call.
    assert_eq!(
        aes_open(&material, &sealed.ciphertext, b"aad").as_deref(),
        Some(&b"direct"[..])
    );

    // Nowhere: raw or hex, in any file, any log, any response.
    let hex_lower = hex::encode(&material);
    let hex_upper = hex_lower.to_uppercase();
    let needles: [&[u8]; 3] = [&material, hex_lower.as_bytes(), hex_upper.as_bytes()];
    let stderr_all: String = cluster.nodes.iter().flatten().map(|n| n.stderr()).collect();
    server.stop().await;
    for needle in needles {
        let mut hits = files_containing(kmsd_dir.path(), needle);
        hits.extend(files_containing(cluster.root.path(), needle));
        assert!(hits.is_empty(), "HSM key material found in {hits:?}");
        assert!(!contains(stderr_all.as_bytes(), needle), "in hsm-sim's log");
        for (i, r) in responses.iter().enumerate() {
            assert!(!contains(r, needle), "in hsm-sim response #{i}");
        }
    }
}
