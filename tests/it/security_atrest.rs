//! Issue 11, the at-rest items: every stored record authenticated under a
//! root-derived key (item 10), root key handling and `kmsd rewrap` (item
//! 11), and the grant-name index (item 17, through the API). Item 4's
//! alias index is tested beside the store (`store::aliases`), as the lead's
//! refusal of foreign alias targets leaves no API path to it.
//!
//! Tampering is done the way an attacker with write access to the data
//! directory but without the root key would: RocksDB opened directly on a
//! stopped server's `db/`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use kmsd::backend::BackendError;
use kmsd::clock::ManualClock;
use kmsd::kms::KmsConfig;
use kmsd::model::KeyId;
use kmsd::proto::kms::v1 as pb;
use kmsd::secret::RootKey;
use kmsd::server::{KmsServer, ServerConfig, ServerError};
use tonic::Code;

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";
const DAVE_A: &str = "arn:aws:iam::111122223333:user/dave";

/// A policy that lets anyone do anything with the key.
const OPEN_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;

/// The stopped server's RocksDB, opened directly (every family).
fn raw_db(dir: &Path) -> rocksdb::DB {
    let path = dir.join("db");
    let opts = rocksdb::Options::default();
    let cfs = rocksdb::DB::list_cf(&opts, &path).expect("list families");
    rocksdb::DB::open_cf(&opts, &path, cfs).expect("open rocksdb")
}

fn raw_get(db: &rocksdb::DB, cf: &str, key: &[u8]) -> Vec<u8> {
    let h = db.cf_handle(cf).expect("family");
    db.get_cf(h, key).expect("get").expect("record present")
}

fn raw_put(db: &rocksdb::DB, cf: &str, key: &[u8], value: &[u8]) {
    let h = db.cf_handle(cf).expect("family");
    db.put_cf(h, key, value).expect("put");
    db.flush_cf(h).expect("flush");
}

fn storage_key(key_id: &str) -> Vec<u8> {
    let id: KeyId = key_id.parse().expect("key id");
    id.storage_key().to_vec()
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[track_caller]
fn assert_internal(r: Result<impl std::fmt::Debug, tonic::Status>) {
    match r {
        Ok(v) => panic!("served from a tampered record: {v:?}"),
        Err(e) => assert_aws_error(&e, Code::Internal, "KMSInternalException"),
    }
}

async fn grant(
    c: &mut Client,
    key: &str,
    grantee: &str,
    ops: &[pb::GrantOperation],
    name: Option<&str>,
) -> String {
    c.create_grant(pb::CreateGrantRequest {
        key_id: key.into(),
        grantee_principal: grantee.into(),
        operations: ops.iter().map(|o| *o as i32).collect(),
        name: name.map(Into::into),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create grant: {e:?}"))
    .into_inner()
    .grant_id
}

#[tokio::test]
async fn item_10_tampered_records_are_refused_and_nothing_is_served_from_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut a = server.client().await;
    let none = ctx(&[]);
    let k_policy = create_key(&mut a, "policy rewritten").await;
    let k_src = create_key(&mut a, "record copied from here").await;
    let k_dst = create_key(&mut a, "record copied to here").await;
    let k_moved = create_key(&mut a, "record moved to another family").await;
    let k_grant = create_key(&mut a, "grant rewritten").await;
    let k_index = create_key(&mut a, "index entry added").await;
    let k_ok = create_key(&mut a, "untouched").await;
    let mut blobs = std::collections::HashMap::new();
    for k in [
        &k_policy, &k_src, &k_dst, &k_moved, &k_grant, &k_index, &k_ok,
    ] {
        blobs.insert(k.clone(), encrypt(&mut a, k, b"secret", &none).await);
    }
    let g_alice = grant(
        &mut a,
        &k_grant,
        ALICE_A,
        &[pb::GrantOperation::Decrypt],
        None,
    )
    .await;
    let g_index = grant(
        &mut a,
        &k_index,
        ALICE_A,
        &[pb::GrantOperation::Decrypt],
        None,
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    assert_eq!(
        decrypt(&mut alice, &blobs[&k_grant], &none).await,
        b"secret"
    );
    drop((a, alice));
    server.stop().await;

    {
        let db = raw_db(tmp.path());
        // 1. A key policy rewritten to "Principal": "*" (its old tag kept).
        let stored = raw_get(&db, "key_policies", &storage_key(&k_policy));
        let tag = &stored[stored.len() - 32..];
        raw_put(
            &db,
            "key_policies",
            &storage_key(&k_policy),
            &concat(&[OPEN_POLICY.as_bytes(), tag]),
        );
        // 2. A valid record copied from another key's slot.
        let src = raw_get(&db, "keys", &storage_key(&k_src));
        raw_put(&db, "keys", &storage_key(&k_dst), &src);
        // 3. A valid record moved to another family under the same RocksDB
        //    key (key record -> key policy), and a valid key policy moved
        //    into carol's identity policies.
        let rec = raw_get(&db, "keys", &storage_key(&k_moved));
        raw_put(&db, "key_policies", &storage_key(&k_moved), &rec);
        let pol = raw_get(&db, "key_policies", &storage_key(&k_ok));
        raw_put(
            &db,
            "identity_policies",
            &concat(&[CAROL_A.as_bytes(), b"\0", b"stolen"]),
            &pol,
        );
        // 4. A grant record rewritten: another grantee, its tag kept.
        let gkey = concat(&[&storage_key(&k_grant), &hex::decode(&g_alice).expect("hex")]);
        let g = raw_get(&db, "grants", &gkey);
        let (json, tag) = g.split_at(g.len() - 32);
        let json = String::from_utf8(json.to_vec())
            .expect("utf-8")
            .replace(ALICE_A, DAVE_A);
        raw_put(&db, "grants", &gkey, &concat(&[json.as_bytes(), tag]));
        // 5. Index entries added: dave as grantee of alice's grant on
        //    k_index, once without a tag and once with alice's entry's tag.
        let gi = hex::decode(&g_index).expect("hex");
        let alice_entry = concat(&[&storage_key(&k_index), ALICE_A.as_bytes(), b"\0", &gi]);
        let alice_tag = raw_get(&db, "grants_by_grantee", &alice_entry);
        assert_eq!(alice_tag.len(), 32, "an empty index value carries its tag");
        raw_put(
            &db,
            "grants_by_grantee",
            &concat(&[&storage_key(&k_index), DAVE_A.as_bytes(), b"\0", &gi]),
            b"",
        );
        raw_put(
            &db,
            "grants_by_grantee",
            &concat(&[&storage_key(&k_src), DAVE_A.as_bytes(), b"\0", &gi]),
            &alice_tag,
        );
    }

    let server = TestServer::start_in(tmp.path()).await;
    let mut a = server.client().await;
    let mut carol = server.client_as(CAROL_A).await;
    let mut dave = server.client_as(DAVE_A).await;
    let mut alice = server.client_as(ALICE_A).await;

    // 1. Neither the owner nor "anyone" gets through the rewritten policy.
    assert_internal(try_decrypt(&mut a, &blobs[&k_policy], &none).await);
    assert_internal(try_decrypt(&mut dave, &blobs[&k_policy], &none).await);
    assert_internal(
        a.get_key_policy(pb::GetKeyPolicyRequest {
            key_id: k_policy.clone(),
            policy_name: Some("default".into()),
        })
        .await,
    );
    // 2. The copied record is refused; its source still works.
    assert_internal(try_decrypt(&mut a, &blobs[&k_dst], &none).await);
    assert_internal(
        a.describe_key(pb::DescribeKeyRequest {
            key_id: k_dst.clone(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(decrypt(&mut a, &blobs[&k_src], &none).await, b"secret");
    // 3. Moved records: refused in the family they were moved to.
    assert_internal(try_decrypt(&mut a, &blobs[&k_moved], &none).await);
    assert_internal(try_decrypt(&mut carol, &blobs[&k_ok], &none).await);
    // 4. The rewritten grant serves neither its old nor its new grantee.
    assert_internal(try_decrypt(&mut alice, &blobs[&k_grant], &none).await);
    assert!(try_decrypt(&mut dave, &blobs[&k_grant], &none)
        .await
        .is_err());
    // 5. The added index entries give dave nothing.
    assert_internal(try_decrypt(&mut dave, &blobs[&k_index], &none).await);
    assert!(try_decrypt(&mut dave, &blobs[&k_src], &none).await.is_err());
    // Untouched keys and grants still work, reads and writes.
    assert_eq!(decrypt(&mut a, &blobs[&k_ok], &none).await, b"secret");
    assert_eq!(
        decrypt(&mut alice, &blobs[&k_index], &none).await,
        b"secret"
    );
    let again = encrypt(&mut a, &k_ok, b"more", &none).await;
    assert_eq!(decrypt(&mut a, &again, &none).await, b"more");
    let k_new = create_key(&mut a, "after the tampering").await;
    let blob_new = encrypt(&mut a, &k_new, b"new", &none).await;
    assert_eq!(decrypt(&mut a, &blob_new, &none).await, b"new");
    drop((a, carol, dave, alice));
    server.stop().await;
}

#[tokio::test]
async fn item_17_same_name_grants_with_other_parameters_are_kept_apart() {
    use pb::GrantOperation as Op;
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let none = ctx(&[]);
    let key = create_key(&mut a, "named grants").await;
    let g_a = grant(&mut a, &key, ALICE_A, &[Op::Decrypt], Some("n")).await;
    let g_b = grant(&mut a, &key, ALICE_A, &[Op::Encrypt], Some("n")).await;
    assert_ne!(g_a, g_b, "other parameters make a new grant");
    // Retries return the grant with identical parameters, not a third one.
    assert_eq!(
        grant(&mut a, &key, ALICE_A, &[Op::Decrypt], Some("n")).await,
        g_a
    );
    assert_eq!(
        grant(&mut a, &key, ALICE_A, &[Op::Encrypt], Some("n")).await,
        g_b
    );
    // Near misses: another grantee or another name is another grant.
    let g_c = grant(&mut a, &key, CAROL_A, &[Op::Decrypt], Some("n")).await;
    let g_d = grant(&mut a, &key, ALICE_A, &[Op::Decrypt], Some("n2")).await;
    for g in [&g_c, &g_d] {
        assert!(g != &g_a && g != &g_b);
    }
    a.revoke_grant(pb::RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: g_a.clone(),
    })
    .await
    .expect("revoke");
    // The second grant still works and a retry with B still returns it.
    let mut alice = server.client_as(ALICE_A).await;
    let blob = encrypt(&mut alice, &key, b"by grant B", &none).await;
    assert_eq!(decrypt(&mut a, &blob, &none).await, b"by grant B");
    assert_eq!(
        grant(&mut a, &key, ALICE_A, &[Op::Encrypt], Some("n")).await,
        g_b
    );
    // A retry with A now makes a new grant (the first is gone).
    let g_a2 = grant(&mut a, &key, ALICE_A, &[Op::Decrypt], Some("n")).await;
    assert!(g_a2 != g_a && g_a2 != g_b);
    assert_eq!(
        grant(&mut a, &key, ALICE_A, &[Op::Decrypt], Some("n")).await,
        g_a2
    );
    drop((a, alice));
    server.stop().await;
}

/// Writes `key` as a 0600 key file at `path`.
fn write_key_file(path: &Path, key: &[u8; 32]) {
    kmsd::files::write_private(path, hex::encode(key).as_bytes()).expect("key file");
}

fn kmsd_rewrap(dir: &Path, old: &Path, new: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .arg("rewrap")
        .arg("--data-dir")
        .arg(dir)
        .arg("--root-key-file")
        .arg(old)
        .arg("--new-root-key-file")
        .arg(new)
        .args(extra)
        .env_remove("KMSD_ROOT_KEY")
        .env_remove("KMSD_NEW_ROOT_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kmsd rewrap")
}

fn open_with(dir: &Path, root: Option<RootKey>) -> Result<KmsServer, ServerError> {
    let config = ServerConfig::dev(dir, KmsConfig::default(), root).expect("dev config");
    KmsServer::open(config, Arc::new(ManualClock::starting_now()))
}

#[tokio::test]
async fn item_11_rewrap_moves_a_stopped_store_to_a_new_root_key() {
    use pb::GrantOperation as Op;
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let old_file = dir.join("root.key");
    let new_file = keys.path().join("new.key");
    let new_bytes = [0x5a; 32];
    write_key_file(&new_file, &new_bytes);

    let server = TestServer::start_in(dir).await;
    let mut a = server.client().await;
    let none = ctx(&[]);
    let mut made = Vec::new();
    for i in 0..5 {
        let k = create_key(&mut a, &format!("key {i}")).await;
        made.push((
            k.clone(),
            encrypt(&mut a, &k, format!("data {i}").as_bytes(), &none).await,
        ));
    }
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/rewrapped".into(),
        target_key_id: made[0].0.clone(),
    })
    .await
    .expect("alias");
    grant(&mut a, &made[1].0, ALICE_A, &[Op::Decrypt], Some("g")).await;

    // Refused while the daemon holds the data dir.
    let out = kmsd_rewrap(dir, &old_file, &new_file, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by another kmsd"),
        "{out:?}"
    );
    drop(a);
    server.stop().await;

    // A new key file open to others is refused.
    let loose = keys.path().join("loose.key");
    std::fs::write(&loose, hex::encode(new_bytes)).expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let out = kmsd_rewrap(dir, &old_file, &loose, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{out:?}"
    );

    // Interrupted after 3 records: kmsd refuses the directory meanwhile,
    // with either key.
    let out = kmsd_rewrap(dir, &old_file, &new_file, &["--stop-after", "3"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run kmsd rewrap again"),
        "{out:?}"
    );
    for root in [None, Some(RootKey::from_slice(&new_bytes).expect("key"))] {
        match open_with(dir, root) {
            Err(ServerError::Backend(BackendError::RewrapInProgress)) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a directory in the middle of a rewrap"),
        }
    }
    // Continuing with another new key is refused; with the same one it
    // finishes, skipping what the first run did.
    let other = keys.path().join("other.key");
    write_key_file(&other, &[0x77; 32]);
    let out = kmsd_rewrap(dir, &old_file, &other, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another new root key"),
        "{out:?}"
    );
    let out = kmsd_rewrap(dir, &old_file, &new_file, &[]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("3 already done"), "{said}");
    // Run again: nothing left to do.
    let out = kmsd_rewrap(dir, &old_file, &new_file, &[]);
    assert!(out.status.success(), "{out:?}");

    // The old key is refused now.
    match open_with(dir, None) {
        Err(ServerError::Backend(BackendError::WrongRootKey)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the old root key opened the rewrapped directory"),
    }
    // The new key serves everything made before.
    std::fs::remove_file(&old_file).expect("remove old key");
    write_key_file(&old_file, &new_bytes);
    let server = TestServer::start_in(dir).await;
    let mut a = server.client().await;
    for (i, (_, blob)) in made.iter().enumerate() {
        assert_eq!(
            decrypt(&mut a, blob, &none).await,
            format!("data {i}").as_bytes()
        );
    }
    let via_alias = encrypt(&mut a, "alias/rewrapped", b"alias", &none).await;
    assert_eq!(decrypt(&mut a, &via_alias, &none).await, b"alias");
    let mut alice = server.client_as(ALICE_A).await;
    assert_eq!(decrypt(&mut alice, &made[1].1, &none).await, b"data 1");
    drop((a, alice));
    server.stop().await;
}
