//! No secret reaches the disk in the clear: after real use and a clean
//! stop, no file under the data dir (RocksDB WAL, SST, MANIFEST, logs,
//! certificates, anything) contains the bytes of a data key, of any key's
//! material, or of a plaintext that was encrypted — neither raw nor as hex.
//! The scan is shown to be meaningful by finding non-secret values that
//! were stored (a description, a tag value, an alias name). Secret files
//! (`root.key`, `certs/*.key`) are owner-only.

use std::path::{Path, PathBuf};

use kmsd::backend::LocalBackend;
use kmsd::model::KeyId;
use kmsd::proto::kms::v1 as pb;
use kmsd::store::{parse_root_key_hex, Store};

use crate::harness::*;

const DESCRIPTION_CANARY: &str = "at-rest description canary 6d1f0b";
const TAG_VALUE_CANARY: &str = "tag-value-canary-93ac51";
const ALIAS_CANARY: &str = "alias/at-rest-canary-2b7e";
const PLAINTEXT_CANARY: &[u8] = b"SECRET plaintext canary 41c9e7: must never be written to disk";

/// Every regular file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let ft = std::fs::symlink_metadata(&path)
                .expect("metadata")
                .file_type();
            if ft.is_dir() {
                todo.push(path);
            } else if ft.is_file() {
                out.push(path);
            }
        }
    }
    out
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_plaintext_key_material_data_keys_or_plaintext_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;

    let mut key_ids = Vec::new();
    for i in 0..3 {
        let id = c
            .create_key(pb::CreateKeyRequest {
                description: format!("{DESCRIPTION_CANARY} {i}"),
                tags: tags(&[("canary", TAG_VALUE_CANARY)]),
                ..Default::default()
            })
            .await
            .expect("create key")
            .into_inner()
            .key_metadata
            .expect("metadata")
            .key_id;
        key_ids.push(id);
    }
    c.create_alias(pb::CreateAliasRequest {
        alias_name: ALIAS_CANARY.into(),
        target_key_id: key_ids[0].clone(),
    })
    .await
    .expect("alias");

    // Data keys of several sizes, with and without context, remembered.
    let mut data_keys: Vec<Vec<u8>> = Vec::new();
    for (i, key) in key_ids.iter().enumerate() {
        for (spec, n) in [
            (pb::DataKeySpec::Aes256 as i32, None),
            (pb::DataKeySpec::Aes128 as i32, None),
            (0, Some(64)),
        ] {
            let dk = c
                .generate_data_key(pb::GenerateDataKeyRequest {
                    key_id: key.clone(),
                    encryption_context: ctx(&[("n", &i.to_string())]),
                    key_spec: spec,
                    number_of_bytes: n,
                    ..Default::default()
                })
                .await
                .expect("data key")
                .into_inner();
            data_keys.push(dk.plaintext);
        }
    }
    assert_eq!(data_keys.len(), 9);
    for key in &key_ids {
        let blob = encrypt(&mut c, key, PLAINTEXT_CANARY, &ctx(&[])).await;
        assert_eq!(decrypt(&mut c, &blob, &ctx(&[])).await, PLAINTEXT_CANARY);
    }
    // Rewrite records a few times so there is more than one generation of
    // them in the WAL / SST files.
    for key in &key_ids {
        c.disable_key(pb::DisableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .expect("disable");
        c.enable_key(pb::EnableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .expect("enable");
    }
    drop(c);
    server.stop().await;

    // The key material, through the store's own API and the root key file.
    let root_text = std::fs::read_to_string(tmp.path().join("root.key")).expect("root.key");
    assert_eq!(root_text.trim().len(), 64);
    let root = parse_root_key_hex(&root_text).expect("64 hex digits");
    let mut materials: Vec<Vec<u8>> = Vec::new();
    {
        let store = Store::open(&tmp.path().join("db")).expect("open store");
        let backend = LocalBackend::open(root, &store).expect("the root key of this data dir");
        for k in &key_ids {
            let id: KeyId = k.parse().expect("key id");
            let record = store
                .get_material(&id, 1)
                .expect("read material")
                .expect("material present");
            let m = backend.unseal(&id, &record).expect("unseal material");
            materials.push(m.expose_secret().to_vec());
        }
        // Closed here, before the scan.
    }
    assert_eq!(materials.len(), 3);

    let files = files_under(tmp.path());
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    // The scan covers RocksDB's own files, not just our top-level ones.
    for expected in ["CURRENT", "root.key", "ca.key"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.starts_with("MANIFEST-")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with(".sst") || n.ends_with(".log")),
        "{names:?}"
    );

    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, m) in materials.iter().enumerate() {
        secrets.push((format!("key material {i}"), m.clone()));
        secrets.push((
            format!("key material {i} (hex)"),
            hex::encode(m).into_bytes(),
        ));
    }
    for (i, d) in data_keys.iter().enumerate() {
        secrets.push((format!("data key {i}"), d.clone()));
        secrets.push((format!("data key {i} (hex)"), hex::encode(d).into_bytes()));
    }
    secrets.push(("plaintext".into(), PLAINTEXT_CANARY.to_vec()));

    let mut found_description = false;
    let mut found_tag = false;
    let mut found_alias = false;
    let mut bytes_scanned = 0usize;
    for f in &files {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        bytes_scanned += data.len();
        for (what, secret) in &secrets {
            assert!(!contains(&data, secret), "{what} found in {}", f.display());
        }
        found_description |= contains(&data, DESCRIPTION_CANARY.as_bytes());
        found_tag |= contains(&data, TAG_VALUE_CANARY.as_bytes());
        found_alias |= contains(&data, ALIAS_CANARY.as_bytes());
    }
    assert!(bytes_scanned > 0);
    assert!(
        found_description,
        "the scan did not find a stored description"
    );
    assert!(found_tag, "the scan did not find a stored tag value");
    assert!(found_alias, "the scan did not find a stored alias name");
}

#[cfg(unix)]
#[tokio::test]
async fn secret_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    create_key(&mut c, "mode check").await;
    // A client certificate issued later is owner-only too.
    let alice_dir = server.client_cert_dir(ALICE_A);
    drop(c);
    server.stop().await;

    let mut secret_files = vec![tmp.path().join("root.key"), alice_dir.join("client.key")];
    for entry in std::fs::read_dir(tmp.path().join("certs")).expect("certs dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "key") {
            secret_files.push(p);
        }
    }
    // ca.key, server.key, client.key.
    assert!(secret_files.len() >= 5, "{secret_files:?}");
    for p in &secret_files {
        let mode = std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{} has mode {:o}", p.display(), mode);
    }
}
