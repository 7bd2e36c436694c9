//! Issue 11, the cryptographic items, through the real gRPC API and the
//! real `kmsd` binary: per-blob keys (ciphertext formats 2 and 3, item 8) and
//! core dumps off (item 9). Unit tests beside the code cover what the API
//! cannot reach (`ciphertext.rs`, `crypto.rs`: `item_08_*`, `item_09_*`,
//! `item_18_*`).

use std::path::Path;

use kmsd::backend::LocalBackend;
use kmsd::ciphertext::{
    CanonicalContext, FORMAT_V1, FORMAT_V2, FORMAT_V3, HEADER_LEN, MIN_BLOB_LEN,
};
use kmsd::crypto;
use kmsd::model::KeyId;
use kmsd::proto::kms::v1 as pb;
use kmsd::secret::KeyMaterial;
use kmsd::store::{parse_root_key_hex, Store};
use tonic::Code;

use crate::harness::*;

/// Offset of the salt in a format-2 or -3 blob (after version, kind, key id
/// and material version).
const SALT_AT: usize = 22;

/// Version 1 of `key_id`'s material, read from a stopped server's data dir
/// through the store and the root key file (as `at_rest.rs` does).
fn material_of(dir: &Path, key_id: &str) -> KeyMaterial {
    let root_text = std::fs::read_to_string(dir.join("root.key")).expect("root.key");
    let root = parse_root_key_hex(&root_text).expect("64 hex digits");
    let store = Store::open(&dir.join("db")).expect("open store");
    let backend = LocalBackend::open(root, &store).expect("the root key of this data dir");
    let id: KeyId = key_id.parse().expect("key id");
    let record = store
        .get_material(&id, 1)
        .expect("read material")
        .expect("material present");
    backend.unseal(&id, &record).expect("unseal material")
}

fn salt_of(blob: &[u8]) -> [u8; crypto::SALT_LEN] {
    let mut s = [0u8; crypto::SALT_LEN];
    s.copy_from_slice(&blob[SALT_AT..HEADER_LEN]);
    s
}

/// ReEncrypt of `blob` to its own key and context gives a format-3 blob
/// that decrypts to `plaintext`.
async fn upgrades_to_v3(
    c: &mut Client,
    blob: &[u8],
    key: &str,
    context: &std::collections::HashMap<String, String>,
    plaintext: &[u8],
) {
    let re = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob.to_vec(),
            source_encryption_context: context.clone(),
            destination_key_id: key.to_owned(),
            destination_encryption_context: context.clone(),
            ..Default::default()
        })
        .await
        .expect("re-encrypt")
        .into_inner();
    assert_eq!(re.ciphertext_blob[0], FORMAT_V3);
    assert_eq!(decrypt(c, &re.ciphertext_blob, context).await, plaintext);
}

/// A Decrypt that must fail with InvalidCiphertextException.
fn invalid(r: Result<pb::DecryptResponse, tonic::Status>, what: &str) {
    let e = r.expect_err(what);
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
}

/// `header || canonical(context)`.
fn aad(header: &[u8], context: &std::collections::HashMap<String, String>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(
        CanonicalContext::new(context)
            .expect("valid context")
            .as_bytes(),
    );
    aad
}

/// Item 8: every blob kmsd makes is format 3, sealed under its own key
/// derived from the material and a fresh salt; two blobs of the same
/// plaintext under the same key and context differ in salt and in key, and
/// neither is sealed under the material itself (format 1's weakness).
#[tokio::test]
async fn item_08_ciphertext_v3_derives_a_key_per_blob() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "per-blob keys").await;
    let context = ctx(&[("purpose", "item 8")]);
    let a = encrypt(&mut c, &key, b"same plaintext", &context).await;
    let b = encrypt(&mut c, &key, b"same plaintext", &context).await;
    let gdk = c
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .expect("generate data key")
        .into_inner();
    for blob in [&a, &b, &gdk.ciphertext_blob] {
        assert_eq!(blob[0], FORMAT_V3);
    }
    assert_eq!(a.len(), MIN_BLOB_LEN + 14);
    assert_eq!(gdk.ciphertext_blob.len(), MIN_BLOB_LEN + 32);
    // Same key id and version; different salts (and so different blobs).
    assert_eq!(a[..SALT_AT], b[..SALT_AT]);
    assert_ne!(salt_of(&a), salt_of(&b));
    assert_eq!(decrypt(&mut c, &a, &context).await, b"same plaintext");
    assert_eq!(decrypt(&mut c, &b, &context).await, b"same plaintext");
    drop(c);
    server.stop().await;

    let material = material_of(tmp.path(), &key);
    let keys = crypto::BlobKeys::new(material.expose_secret()).expect("AES-256 material");
    let (ka, kb) = (keys.derive(&salt_of(&a)), keys.derive(&salt_of(&b)));
    assert_ne!(ka.expose_secret(), kb.expose_secret());
    for (blob, k, other) in [(&a, &ka, &kb), (&b, &kb, &ka)] {
        let aad = aad(&blob[..HEADER_LEN], &context);
        let sealed = &blob[HEADER_LEN..];
        // Its derived key opens it; the other blob's key and the material
        // itself do not.
        let pt = crypto::open(k.expose_secret(), &aad, sealed).expect("derived key opens");
        assert_eq!(pt.expose_secret(), b"same plaintext");
        assert!(crypto::open(other.expose_secret(), &aad, sealed).is_err());
        assert!(crypto::open(material.expose_secret(), &aad, sealed).is_err());
    }
}

/// Item 8: blobs of format 1, sealed by the old code path (AES-256-GCM
/// directly under the material, AAD = 22-byte header || canonical
/// context), still decrypt after the upgrade, and ReEncrypt turns them
/// into format 3. Relabelling a v1 blob as v2 or v3 (or a v3 blob as v1,
/// or cutting a v3 blob's salt out) does not open.
#[tokio::test]
async fn item_08_v1_blobs_made_by_the_old_code_path_still_decrypt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "old blobs").await;
    let context = ctx(&[("app", "legacy"), ("tenant", "7")]);
    let v3 = encrypt(&mut c, &key, b"new data", &context).await;
    drop(c);
    server.stop().await;

    // The old seal, byte for byte.
    let material = material_of(tmp.path(), &key);
    let id: KeyId = key.parse().expect("key id");
    let mut v1 = vec![FORMAT_V1];
    v1.extend_from_slice(&id.storage_key());
    v1.extend_from_slice(&1u32.to_be_bytes());
    assert_eq!(v1.len(), 22);
    let v1_aad = aad(&v1, &context);
    crypto::seal_into(material.expose_secret(), &v1_aad, b"old data", &mut v1).expect("seal");
    assert_eq!(v1.len(), 50 + 8);
    drop(material);

    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    assert_eq!(decrypt(&mut c, &v1, &context).await, b"old data");
    let r = try_decrypt(&mut c, &v1, &context).await.expect("decrypt");
    assert_eq!(r.key_id, key_arn_of(ACCOUNT_A, &key));
    // ReEncrypt upgrades it.
    upgrades_to_v3(&mut c, &v1, &key, &context, b"old data").await;
    // Near misses, all InvalidCiphertextException.
    invalid(
        try_decrypt(&mut c, &v1, &ctx(&[("app", "legacy")])).await,
        "v1 with another context",
    );
    for format in [FORMAT_V2, FORMAT_V3] {
        let mut up = v1.clone();
        up[0] = format;
        invalid(try_decrypt(&mut c, &up, &context).await, "v1 relabelled");
    }
    let mut down = v3.clone();
    down[0] = FORMAT_V1;
    invalid(
        try_decrypt(&mut c, &down, &context).await,
        "v3 relabelled v1",
    );
    let mut stripped = v3[..SALT_AT].to_vec();
    stripped[0] = FORMAT_V1;
    stripped.extend_from_slice(&v3[HEADER_LEN..]);
    invalid(
        try_decrypt(&mut c, &stripped, &context).await,
        "v3 without its salt",
    );
    for i in 0..v1.len() {
        if (2..18).contains(&i) {
            continue; // the key id: another key (see the test below)
        }
        let mut t = v1.clone();
        t[i] ^= 0x80;
        invalid(try_decrypt(&mut c, &t, &context).await, "flipped v1 byte");
    }
    assert_eq!(decrypt(&mut c, &v3, &context).await, b"new data");
}

/// Blobs of format 2, sealed as kmsd did before format 3 (the v3 layout
/// with format byte 2, AES-256-GCM under HKDF-SHA256 extract-then-expand of
/// the material with the salt as HKDF salt and info "kmsd/blob-key/v2",
/// computed here with ring directly), still decrypt through a restarted
/// server, also by GenerateDataKey's data keys; ReEncrypt turns them into
/// format 3. Relabelled either way, or with the salt of another blob, they
/// are InvalidCiphertextException.
#[tokio::test]
async fn v2_blobs_made_by_the_old_derivation_still_decrypt() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "v2 blobs").await;
    let context = ctx(&[("app", "before-v3")]);
    let v3 = encrypt(&mut c, &key, b"new data", &context).await;
    drop(c);
    server.stop().await;

    let material = material_of(tmp.path(), &key);
    let id: KeyId = key.parse().expect("key id");
    let v2_of = |plaintext: &[u8], salt: [u8; crypto::SALT_LEN]| {
        let mut blob = vec![FORMAT_V2];
        blob.extend_from_slice(&id.storage_key());
        blob.extend_from_slice(&1u32.to_be_bytes());
        blob.extend_from_slice(&salt);
        assert_eq!(blob.len(), HEADER_LEN);
        let prk =
            ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &salt).extract(material.expose_secret());
        let mut k = [0u8; 32];
        prk.expand(&[b"kmsd/blob-key/v2"], ring::hkdf::HKDF_SHA256)
            .expect("expand")
            .fill(&mut k)
            .expect("fill");
        let aad = aad(&blob, &context);
        crypto::seal_into(&k, &aad, plaintext, &mut blob).expect("seal");
        blob
    };
    let v2 = v2_of(b"older data", [7u8; crypto::SALT_LEN]);
    let v2_data_key = v2_of(&[0x5a; 32], [9u8; crypto::SALT_LEN]);
    assert_eq!(v2.len(), MIN_BLOB_LEN + 10);
    drop(material);

    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    assert_eq!(decrypt(&mut c, &v2, &context).await, b"older data");
    assert_eq!(decrypt(&mut c, &v2_data_key, &context).await, [0x5a; 32]);
    upgrades_to_v3(&mut c, &v2, &key, &context, b"older data").await;
    let mut up = v2.clone();
    up[0] = FORMAT_V3;
    invalid(try_decrypt(&mut c, &up, &context).await, "v2 relabelled v3");
    let mut down = v3.clone();
    down[0] = FORMAT_V2;
    invalid(
        try_decrypt(&mut c, &down, &context).await,
        "v3 relabelled v2",
    );
    let mut swapped = v2.clone();
    swapped[SALT_AT..HEADER_LEN].copy_from_slice(&v2_data_key[SALT_AT..HEADER_LEN]);
    invalid(
        try_decrypt(&mut c, &swapped, &context).await,
        "v2 with another blob's salt",
    );
    invalid(
        try_decrypt(&mut c, &v2, &ctx(&[("app", "after-v3")])).await,
        "v2 with another context",
    );
    assert_eq!(decrypt(&mut c, &v3, &context).await, b"new data");
}

/// Item 8: flipping any bit of a format-3 blob's header, salt, nonce,
/// ciphertext or tag makes Decrypt fail with InvalidCiphertextException —
/// except in the key id, where the blob then names a key that does not
/// exist, which is denied without naming any key (as in AWS). Truncation
/// and extension fail too. The untouched blob still decrypts.
#[tokio::test]
async fn item_08_flipping_any_header_or_salt_byte_is_invalid_ciphertext() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "tamper").await;
    let context = ctx(&[("k", "v")]);
    let blob = encrypt(&mut c, &key, b"0123456789abcdef", &context).await;
    assert_eq!(blob.len(), MIN_BLOB_LEN + 16);
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = blob.clone();
            t[i] ^= bit;
            let e = try_decrypt(&mut c, &t, &context)
                .await
                .expect_err("a tampered blob decrypted");
            let names_another_key = (2..18).contains(&i) || (i == 1 && bit == 0x01);
            if names_another_key {
                assert_eq!(e.code(), Code::PermissionDenied, "byte {i}: {e:?}");
                assert!(
                    e.message().starts_with("AccessDeniedException"),
                    "byte {i}: {e:?}"
                );
            } else {
                assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
            }
        }
    }
    for bad in [
        &blob[..blob.len() - 1],
        &blob[..MIN_BLOB_LEN - 1],
        &blob[..HEADER_LEN],
    ] {
        let e = try_decrypt(&mut c, bad, &context)
            .await
            .expect_err("a truncated blob decrypted");
        assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    }
    let mut longer = blob.clone();
    longer.push(0);
    let e = try_decrypt(&mut c, &longer, &context)
        .await
        .expect_err("an extended blob decrypted");
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    assert_eq!(decrypt(&mut c, &blob, &context).await, b"0123456789abcdef");
}

/// Item 9: the real `kmsd` binary turns core dumps off first thing: both
/// the soft and the hard RLIMIT_CORE are 0, so neither a crash nor the
/// process itself can write its memory (root key, material, data keys) to
/// disk. Read from `/proc/<pid>/limits` of the running daemon; the test
/// environment's own hard limit is not 0, so this fails without the fix.
#[tokio::test]
async fn item_09_kmsd_disables_core_dumps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let daemon = DaemonProcess::start(tmp.path());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.child.id()))
        .expect("read /proc/<pid>/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap_or_else(|| panic!("no core limit in:\n{limits}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "Max core file size  <soft>  <hard>  bytes"
    assert_eq!(fields[4..6], ["0", "0"], "{line}");
    // And it serves as usual.
    let certs = tmp.path().join("certs");
    let mut c = connect(
        daemon.addr(),
        &certs.join("ca.pem"),
        &certs.join("client.pem"),
        &certs.join("client.key"),
    )
    .await;
    let r = c
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(16),
            ..Default::default()
        })
        .await
        .expect("generate random")
        .into_inner();
    assert_eq!(r.plaintext.len(), 16);
    drop(daemon);
}
