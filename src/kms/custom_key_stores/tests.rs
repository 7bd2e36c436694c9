//! Custom key stores without an HSM cluster: validation, account scoping,
//! the connection-state rules, what a store's state does to its keys, the
//! key count, the sealed password and the reconnect intent across a
//! restart. Connections to real hsm-sim clusters are tested end to end in
//! `tests/it` (a store whose cluster kmsd does not know fails to connect
//! with CLUSTER_NOT_FOUND, which needs no cluster; a CONNECTED store is
//! simulated with `StoreLink::force_state`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::kms::request::{
    CreateKeyRequest, DescribeKeyRequest, DisableKeyRequest, EnableKeyRequest,
    EnableKeyRotationRequest, EncryptRequest, GenerateDataKeyPairRequest,
    GetParametersForImportRequest, Page, ScheduleKeyDeletionRequest,
};
use crate::kms::KmsConfig;
use crate::model::{
    DataKeyPairSpec, KeyId, KeySpec, KeyUsage, MaterialLocation, MaterialOrigin, MaterialVersion,
    Origin, Principal,
};
use crate::secret::{Plaintext, RootKey};
use crate::store::Store;

const A: &str = "111122223333";
const B: &str = "444455556666";
const CLUSTER: &str = "cluster-1234567890a";
const PASSWORD: &str = "kmsuser-Pa55word!";
/// Only detects a hang; nothing here measures time.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn open(dir: &Path, clock: &ManualClock) -> Kms {
    let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
    let store = Store::open(&dir.join("db")).expect("open store");
    let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
    Kms::new(
        store,
        Arc::new(backend),
        KmsConfig::default(),
        Arc::new(clock.clone()),
    )
}

fn core() -> (tempfile::TempDir, Kms, ManualClock) {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(1_000_000);
    let kms = open(dir.path(), &clock);
    (dir, kms, clock)
}

fn root(account: &str) -> Caller {
    Caller::new(Principal::parse(&format!("arn:aws:iam::{account}:root")).expect("principal"))
}

/// Writes a store record as CreateCustomKeyStore would after its checks
/// (which need a live cluster), and returns its id.
fn plant_store(kms: &Kms, account: &str, name: &str, cluster: &str) -> String {
    let inner = &kms.inner;
    let id = new_store_id().expect("id");
    let rec = CustomKeyStoreRecord {
        sealed_password: inner
            .cks
            .seal_password(&id, &Password::new(PASSWORD.into()))
            .expect("seal"),
        id: id.clone(),
        account: account.into(),
        name: name.into(),
        cluster_id: cluster.into(),
        trust_anchor_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        created_ms: 5,
        wants_connected: false,
        connection_error_code: None,
        key_count: 0,
    };
    let mut b = inner.store.batch();
    b.put_custom_key_store(&rec).expect("put");
    b.commit().expect("commit");
    id
}

/// Writes a key of store `store_id` with an HSM handle, counted in the
/// store, as CreateKey would once the cluster made the key.
fn plant_hsm_key(kms: &Kms, account: &str, store_id: &str) -> KeyId {
    let inner = &kms.inner;
    let mut rec = KeyRecord::for_tests(account, KeyState::Enabled);
    rec.origin = Origin::AwsCloudHsm;
    rec.custom_key_store_id = Some(store_id.into());
    let m = MaterialVersion::new_current(
        &rec.id,
        1,
        KeySpec::SymmetricDefault,
        MaterialOrigin::Hsm,
        5,
        MaterialLocation::Hsm {
            custom_key_store_id: store_id.into(),
            handle: "hsm-handle-1".into(),
        },
    );
    let mut b = inner.store.batch();
    b.put_key(&rec).expect("key");
    b.put_material(&rec.id, &m).expect("material");
    b.put_key_policy(&rec.id, &crate::kms::default_key_policy(account));
    inner.count_store_keys(store_id, 1, &mut b).expect("count");
    b.commit().expect("commit");
    rec.id
}

async fn link(kms: &Kms, id: &str) -> Arc<StoreLink> {
    kms.inner
        .cks_link(id)
        .await
        .expect("load")
        .expect("store exists")
}

fn create_req(name: &str, cluster: &str, password: &str) -> CreateCustomKeyStoreRequest {
    CreateCustomKeyStoreRequest {
        custom_key_store_name: name.into(),
        cloud_hsm_cluster_id: Some(cluster.into()),
        trust_anchor_certificate: Some("-----BEGIN CERTIFICATE-----".into()),
        key_store_password: Some(Password::new(password.into())),
        custom_key_store_type: None,
    }
}

fn id_req(id: &str) -> CustomKeyStoreIdRequest {
    CustomKeyStoreIdRequest {
        custom_key_store_id: id.into(),
    }
}

async fn describe_one(kms: &Kms, caller: &Caller, id: &str) -> KmsResult<CustomKeyStoreEntry> {
    let (mut v, next) = kms
        .describe_custom_key_stores(
            caller,
            DescribeCustomKeyStoresRequest {
                custom_key_store_id: Some(id.into()),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(v.len(), 1);
    assert!(next.is_none());
    Ok(v.remove(0))
}

async fn describe_key(kms: &Kms, caller: &Caller, id: &KeyId) -> Arc<KeyRecord> {
    kms.describe_key(
        caller,
        DescribeKeyRequest {
            key_id: id.to_string(),
            ..Default::default()
        },
    )
    .await
    .expect("describe key")
}

async fn settled(l: &StoreLink) -> Live {
    tokio::time::timeout(HANG_GUARD, l.settled())
        .await
        .expect("the connection attempt never ended")
}

fn name_of(e: &KmsError) -> &'static str {
    e.exception_name()
}

/// Lengths and required members, at each side of each limit; the type;
/// a cluster kmsd was not told of.
#[tokio::test]
async fn create_validates_each_member_at_its_limits() {
    let (_dir, kms, _) = core();
    let c = root(A);
    let create = |r| kms.create_custom_key_store(&c, r);
    let long = "n".repeat(257);
    let cases: Vec<(CreateCustomKeyStoreRequest, &str)> = vec![
        (create_req("", CLUSTER, PASSWORD), "ValidationException"),
        (create_req(&long, CLUSTER, PASSWORD), "ValidationException"),
        (
            create_req("s", "cluster-123456789a", PASSWORD),
            "ValidationException",
        ), // 18
        (
            create_req("s", "cluster-1234567890abcdef0", PASSWORD),
            "ValidationException",
        ), // 25
        (create_req("s", CLUSTER, "123456"), "ValidationException"), // 6
        (
            create_req("s", CLUSTER, &"p".repeat(33)),
            "ValidationException",
        ),
        // At the limits everything passes validation; the cluster is unknown.
        (
            create_req("s", CLUSTER, "1234567"),
            "CloudHsmClusterNotFoundException",
        ),
        (
            create_req("s", CLUSTER, &"p".repeat(32)),
            "CloudHsmClusterNotFoundException",
        ),
        (
            create_req(&"n".repeat(256), "cluster-123456789ab", PASSWORD),
            "CloudHsmClusterNotFoundException",
        ),
        (
            create_req("s", "cluster-1234567890abcdef", PASSWORD),
            "CloudHsmClusterNotFoundException",
        ),
    ];
    for (req, want) in cases {
        let e = create(req).await.expect_err("refused");
        assert_eq!(name_of(&e), want, "{e}");
    }
    let mut no_anchor = create_req("s", CLUSTER, PASSWORD);
    no_anchor.trust_anchor_certificate = None;
    let e = create(no_anchor).await.expect_err("refused");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    let mut long_anchor = create_req("s", CLUSTER, PASSWORD);
    long_anchor.trust_anchor_certificate = Some("a".repeat(5001));
    let e = create(long_anchor).await.expect_err("refused");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    let mut no_password = create_req("s", CLUSTER, PASSWORD);
    no_password.key_store_password = None;
    let e = create(no_password).await.expect_err("refused");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    let mut xks = create_req("s", CLUSTER, PASSWORD);
    xks.custom_key_store_type = Some("EXTERNAL_KEY_STORE".into());
    let e = create(xks).await.expect_err("refused");
    assert_eq!(name_of(&e), "UnsupportedOperationException", "{e}");
    let mut odd = create_req("s", CLUSTER, PASSWORD);
    odd.custom_key_store_type = Some("aws_cloudhsm".into());
    let e = create(odd).await.expect_err("refused");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    // Nothing was stored by any of them.
    assert!(kms
        .inner
        .store
        .list_custom_key_stores()
        .expect("list")
        .is_empty());
}

/// Names are unique per account (exactly: a case twin is another name);
/// a cluster serves one store, whatever the account.
#[tokio::test]
async fn names_are_unique_per_account_and_clusters_per_kmsd() {
    let (_dir, kms, _) = core();
    plant_store(&kms, A, "Prod", CLUSTER);
    let e = kms
        .create_custom_key_store(
            &root(A),
            create_req("Prod", "cluster-other0000000", PASSWORD),
        )
        .await
        .expect_err("name in use");
    assert_eq!(name_of(&e), "CustomKeyStoreNameInUseException", "{e}");
    // Past the name check (then the other cluster is unknown to kmsd).
    for (caller, name) in [(root(A), "prod"), (root(B), "Prod")] {
        let e = kms
            .create_custom_key_store(&caller, create_req(name, "cluster-other0000000", PASSWORD))
            .await
            .expect_err("unknown cluster");
        assert_eq!(name_of(&e), "CloudHsmClusterNotFoundException", "{e}");
    }
    let e = kms
        .create_custom_key_store(&root(B), create_req("Other", CLUSTER, PASSWORD))
        .await
        .expect_err("cluster in use");
    assert_eq!(name_of(&e), "CloudHsmClusterInUseException", "{e}");
}

/// Another account's store, and ids of the wrong form, are not found;
/// an over-long id is a validation error.
#[tokio::test]
async fn stores_are_invisible_to_other_accounts() {
    let (_dir, kms, _) = core();
    let id = plant_store(&kms, A, "s", CLUSTER);
    let b = root(B);
    let e = describe_one(&kms, &b, &id)
        .await
        .expect_err("B sees nothing");
    assert_eq!(name_of(&e), "CustomKeyStoreNotFoundException", "{e}");
    for op in 0..3 {
        let r = id_req(&id);
        let e = match op {
            0 => kms.connect_custom_key_store(&b, r).await,
            1 => kms.disconnect_custom_key_store(&b, r).await,
            _ => kms.delete_custom_key_store(&b, r).await,
        }
        .expect_err("B may not");
        assert_eq!(name_of(&e), "CustomKeyStoreNotFoundException", "{e}");
    }
    let e = kms
        .update_custom_key_store(
            &b,
            UpdateCustomKeyStoreRequest {
                custom_key_store_id: id.clone(),
                new_custom_key_store_name: Some("mine".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("B may not");
    assert_eq!(name_of(&e), "CustomKeyStoreNotFoundException", "{e}");
    let a = root(A);
    let upper = id.to_uppercase().replacen("CKS", "cks", 1);
    for bad in [&id[..id.len() - 1], &format!("{id}0"), &upper] {
        let e = kms
            .connect_custom_key_store(&a, id_req(bad))
            .await
            .expect_err("no such store");
        assert_eq!(name_of(&e), "CustomKeyStoreNotFoundException", "{bad}: {e}");
    }
    let e = kms
        .connect_custom_key_store(&a, id_req(&"c".repeat(65)))
        .await
        .expect_err("too long");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    // And A's own store is there, untouched.
    let entry = describe_one(&kms, &a, &id).await.expect("A's store");
    assert_eq!(entry.custom_key_store_name, "s");
    assert_eq!(entry.connection_state, "DISCONNECTED");
}

#[tokio::test]
async fn describe_filters_and_pages() {
    let (_dir, kms, _) = core();
    let a = root(A);
    let mut ids: Vec<String> = (0..3)
        .map(|i| {
            plant_store(
                &kms,
                A,
                &format!("s{i}"),
                &format!("cluster-000000000000{i}"),
            )
        })
        .collect();
    plant_store(&kms, B, "theirs", "cluster-b000000000000");
    ids.sort();
    let page = |limit, marker: Option<String>| {
        kms.describe_custom_key_stores(
            &a,
            DescribeCustomKeyStoresRequest {
                page: Page { limit, marker },
                ..Default::default()
            },
        )
    };
    let (all, next) = page(None, None).await.expect("all");
    assert!(next.is_none());
    let got: Vec<_> = all.iter().map(|e| e.custom_key_store_id.clone()).collect();
    assert_eq!(got, ids);
    assert!(all
        .iter()
        .all(|e| e.custom_key_store_type == "AWS_CLOUDHSM"));
    let mut walked = Vec::new();
    let mut marker = None;
    loop {
        let (p, next) = page(Some(1), marker).await.expect("page");
        assert_eq!(p.len(), 1);
        walked.push(p[0].custom_key_store_id.clone());
        match next {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(walked, ids);
    let e = page(Some(1), Some("not-a-marker".into()))
        .await
        .expect_err("bad marker");
    assert_eq!(name_of(&e), "InvalidMarkerException", "{e}");
    let e = page(Some(0), None).await.expect_err("limit 0");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    let e = page(Some(1001), None).await.expect_err("limit 1001");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    let by_name = |name: &str| {
        kms.describe_custom_key_stores(
            &a,
            DescribeCustomKeyStoresRequest {
                custom_key_store_name: Some(name.into()),
                ..Default::default()
            },
        )
    };
    let (one, _) = by_name("s1").await.expect("by name");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].custom_key_store_name, "s1");
    for missing in ["S1", "theirs", "s"] {
        let e = by_name(missing).await.expect_err("no such name");
        assert_eq!(
            name_of(&e),
            "CustomKeyStoreNotFoundException",
            "{missing}: {e}"
        );
    }
    let e = kms
        .describe_custom_key_stores(
            &a,
            DescribeCustomKeyStoresRequest {
                custom_key_store_id: Some(ids[0].clone()),
                custom_key_store_name: Some("s0".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("both");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
}

/// AWS's connection-state rules (CustomKeyStoreInvalidStateException).
#[tokio::test]
async fn connection_state_rules() {
    let (_dir, kms, _) = core();
    let a = root(A);
    let id = plant_store(&kms, A, "s", CLUSTER);
    let l = link(&kms, &id).await;
    let invalid = "CustomKeyStoreInvalidStateException";
    let e = kms
        .disconnect_custom_key_store(&a, id_req(&id))
        .await
        .expect_err("already disconnected");
    assert_eq!(name_of(&e), invalid, "{e}");

    // kmsd knows no such cluster: the attempt fails in the background.
    kms.connect_custom_key_store(&a, id_req(&id))
        .await
        .expect("connect answers at once");
    let live = settled(&l).await;
    assert_eq!(live.state, ConnectionState::Failed);
    let entry = describe_one(&kms, &a, &id).await.expect("describe");
    assert_eq!(entry.connection_state, "FAILED");
    assert_eq!(entry.connection_error_code, Some("CLUSTER_NOT_FOUND"));
    let rec = kms
        .inner
        .store
        .get_custom_key_store(&id)
        .expect("get")
        .expect("rec");
    assert!(rec.wants_connected);
    assert_eq!(
        rec.connection_error_code,
        Some(ConnectionErrorCode::ClusterNotFound)
    );

    // FAILED: no reconnect, update or delete; disconnect first.
    let e = kms
        .connect_custom_key_store(&a, id_req(&id))
        .await
        .expect_err("FAILED");
    assert_eq!(name_of(&e), invalid, "{e}");
    let rename = |name: &str| UpdateCustomKeyStoreRequest {
        custom_key_store_id: id.clone(),
        new_custom_key_store_name: Some(name.into()),
        ..Default::default()
    };
    let e = kms
        .update_custom_key_store(&a, rename("t"))
        .await
        .expect_err("FAILED");
    assert_eq!(name_of(&e), invalid, "{e}");
    let e = kms
        .delete_custom_key_store(&a, id_req(&id))
        .await
        .expect_err("FAILED");
    assert_eq!(name_of(&e), invalid, "{e}");
    kms.disconnect_custom_key_store(&a, id_req(&id))
        .await
        .expect("disconnect a FAILED store");
    let entry = describe_one(&kms, &a, &id).await.expect("describe");
    assert_eq!(entry.connection_state, "DISCONNECTED");
    assert_eq!(entry.connection_error_code, None);
    assert!(
        !kms.inner
            .store
            .get_custom_key_store(&id)
            .expect("get")
            .expect("rec")
            .wants_connected
    );

    // CONNECTED: Connect is a no-op, a rename is allowed, a new password
    // or cluster is not, nor Delete.
    l.force_state(ConnectionState::Connected);
    kms.connect_custom_key_store(&a, id_req(&id))
        .await
        .expect("no-op");
    assert_eq!(l.live().state, ConnectionState::Connected);
    kms.update_custom_key_store(&a, rename("renamed"))
        .await
        .expect("rename while connected");
    let e = kms
        .update_custom_key_store(
            &a,
            UpdateCustomKeyStoreRequest {
                custom_key_store_id: id.clone(),
                key_store_password: Some(Password::new("another-password".into())),
                ..Default::default()
            },
        )
        .await
        .expect_err("password while connected");
    assert_eq!(name_of(&e), invalid, "{e}");
    let e = kms
        .delete_custom_key_store(&a, id_req(&id))
        .await
        .expect_err("connected");
    assert_eq!(name_of(&e), invalid, "{e}");
    l.force_state(ConnectionState::Disconnected);

    // DISCONNECTED: a new password is sealed anew; a rename to a name in
    // use is refused; an unknown cluster is not found.
    kms.update_custom_key_store(
        &a,
        UpdateCustomKeyStoreRequest {
            custom_key_store_id: id.clone(),
            key_store_password: Some(Password::new("another-password".into())),
            ..Default::default()
        },
    )
    .await
    .expect("password while disconnected");
    let rec = kms
        .inner
        .store
        .get_custom_key_store(&id)
        .expect("get")
        .expect("rec");
    assert_eq!(rec.name, "renamed");
    assert_eq!(
        kms.inner
            .cks
            .open_password(&rec)
            .expect("open")
            .expose_secret(),
        "another-password"
    );
    plant_store(&kms, A, "taken", "cluster-taken00000000");
    let e = kms
        .update_custom_key_store(&a, rename("taken"))
        .await
        .expect_err("name in use");
    assert_eq!(name_of(&e), "CustomKeyStoreNameInUseException", "{e}");
    let e = kms
        .update_custom_key_store(
            &a,
            UpdateCustomKeyStoreRequest {
                custom_key_store_id: id.clone(),
                cloud_hsm_cluster_id: Some("cluster-unknown000000".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("unknown cluster");
    assert_eq!(name_of(&e), "CloudHsmClusterNotFoundException", "{e}");
    let e = kms
        .update_custom_key_store(
            &a,
            UpdateCustomKeyStoreRequest {
                custom_key_store_id: id.clone(),
                key_store_password: Some(Password::new("short".into())),
                ..Default::default()
            },
        )
        .await
        .expect_err("6-char password");
    assert_eq!(name_of(&e), "ValidationException", "{e}");
    kms.delete_custom_key_store(&a, id_req(&id))
        .await
        .expect("delete");
    let e = describe_one(&kms, &a, &id).await.expect_err("gone");
    assert_eq!(name_of(&e), "CustomKeyStoreNotFoundException", "{e}");
}

/// Keys of a store: Unavailable while it is not connected (PendingDeletion
/// stays), refused for crypto then, still enabled and disabled (the
/// stored state shows once the store connects); the store cannot be
/// deleted while it holds any key; the deletion job deletes a key even
/// when its HSM key cannot be destroyed (orphaned, as AWS), and uncounts it.
#[tokio::test]
async fn keys_follow_their_store() {
    let (_dir, kms, clock) = core();
    let a = root(A);
    let store_id = plant_store(&kms, A, "s", CLUSTER);
    let key = plant_hsm_key(&kms, A, &store_id);
    let l = link(&kms, &store_id).await;

    let rec = describe_key(&kms, &a, &key).await;
    assert_eq!(rec.state, KeyState::Unavailable);
    let m = rec.metadata("us-east-1");
    assert_eq!(m.key_state, KeyState::Unavailable);
    assert!(!m.enabled);
    assert_eq!(m.custom_key_store_id.as_deref(), Some(store_id.as_str()));
    assert_eq!(m.cloud_hsm_cluster_id.as_deref(), Some(CLUSTER));
    assert_eq!(m.origin, Origin::AwsCloudHsm);
    assert_eq!(m.key_manager, crate::model::KeyManager::Customer);
    // The stored record is untouched.
    let stored = kms.inner.store.get_key(&key).expect("get").expect("rec");
    assert_eq!(stored.state, KeyState::Enabled);

    let encrypt = || {
        kms.encrypt(
            &a,
            EncryptRequest {
                key_id: key.to_string(),
                plaintext: Plaintext::new(b"data".to_vec()),
                encryption_context: Default::default(),
                grant_tokens: Vec::new(),
                encryption_algorithm: None,
            },
        )
    };
    let e = encrypt().await.expect_err("unavailable");
    assert_eq!(name_of(&e), "KMSInvalidStateException", "{e}");

    kms.disable_key(
        &a,
        DisableKeyRequest {
            key_id: key.to_string(),
        },
    )
    .await
    .expect("disable while unavailable");
    assert_eq!(
        describe_key(&kms, &a, &key).await.state,
        KeyState::Unavailable
    );
    l.force_state(ConnectionState::Connected);
    assert_eq!(describe_key(&kms, &a, &key).await.state, KeyState::Disabled);
    let e = encrypt().await.expect_err("disabled");
    assert_eq!(name_of(&e), "DisabledException", "{e}");
    kms.enable_key(
        &a,
        EnableKeyRequest {
            key_id: key.to_string(),
        },
    )
    .await
    .expect("enable");
    assert_eq!(describe_key(&kms, &a, &key).await.state, KeyState::Enabled);

    // No rotation, no import, no data key pairs under an HSM key.
    let e = kms
        .enable_key_rotation(
            &a,
            EnableKeyRotationRequest {
                key_id: key.to_string(),
                rotation_period_in_days: None,
            },
        )
        .await
        .expect_err("rotation");
    assert_eq!(name_of(&e), "UnsupportedOperationException", "{e}");
    let e = kms
        .get_parameters_for_import(
            &a,
            GetParametersForImportRequest {
                key_id: key.to_string(),
                wrapping_algorithm: Some(crate::model::WrappingAlgorithm::RsaesOaepSha256),
                wrapping_key_spec: Some(crate::model::WrappingKeySpec::Rsa2048),
            },
        )
        .await
        .expect_err("import");
    assert_eq!(name_of(&e), "UnsupportedOperationException", "{e}");
    let e = kms
        .generate_data_key_pair(
            &a,
            GenerateDataKeyPairRequest {
                key_id: key.to_string(),
                key_pair_spec: Some(DataKeyPairSpec::EccNistP256),
                ..Default::default()
            },
        )
        .await
        .expect_err("data key pair");
    assert_eq!(name_of(&e), "UnsupportedOperationException", "{e}");

    l.force_state(ConnectionState::Disconnected);
    kms.schedule_key_deletion(
        &a,
        ScheduleKeyDeletionRequest {
            key_id: key.to_string(),
            pending_window_in_days: Some(7),
        },
    )
    .await
    .expect("schedule while unavailable");
    assert_eq!(
        describe_key(&kms, &a, &key).await.state,
        KeyState::PendingDeletion
    );
    let e = kms
        .delete_custom_key_store(&a, id_req(&store_id))
        .await
        .expect_err("a key pending deletion still counts");
    assert_eq!(name_of(&e), "CustomKeyStoreHasCMKsException", "{e}");

    clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(kms.process_due_deletions().await.expect("job"), 1);
    assert!(kms.inner.store.get_key(&key).expect("get").is_none());
    let rec = kms
        .inner
        .store
        .get_custom_key_store(&store_id)
        .expect("get")
        .expect("rec");
    assert_eq!(rec.key_count, 0);
    kms.delete_custom_key_store(&a, id_req(&store_id))
        .await
        .expect("empty store deleted");
}

/// CreateKey's rules for custom key stores, each refused before anything
/// is written.
#[tokio::test]
async fn create_key_in_a_store_follows_aws_rules() {
    let (_dir, kms, _) = core();
    let a = root(A);
    let mine = plant_store(&kms, A, "s", CLUSTER);
    let theirs = plant_store(&kms, B, "t", "cluster-b000000000000");
    let req = |store: Option<&str>, origin: Option<Origin>| CreateKeyRequest {
        custom_key_store_id: store.map(str::to_owned),
        origin,
        ..Default::default()
    };
    let hsm = Some(Origin::AwsCloudHsm);
    let cases: Vec<(CreateKeyRequest, &str)> = vec![
        (req(None, hsm), "ValidationException"),
        (req(Some(&mine), None), "ValidationException"),
        (
            req(Some(&mine), Some(Origin::AwsKms)),
            "ValidationException",
        ),
        (
            CreateKeyRequest {
                key_spec: Some(KeySpec::Hmac256),
                key_usage: Some(KeyUsage::GenerateVerifyMac),
                ..req(Some(&mine), hsm)
            },
            "UnsupportedOperationException",
        ),
        (
            CreateKeyRequest {
                key_spec: Some(KeySpec::Rsa2048),
                ..req(Some(&mine), hsm)
            },
            "UnsupportedOperationException",
        ),
        (
            CreateKeyRequest {
                multi_region: true,
                ..req(Some(&mine), hsm)
            },
            "UnsupportedOperationException",
        ),
        (req(Some(&theirs), hsm), "CustomKeyStoreNotFoundException"),
        (
            req(Some("cks-0000000000000000"), hsm),
            "CustomKeyStoreNotFoundException",
        ),
        (req(Some(&mine), hsm), "CustomKeyStoreInvalidStateException"),
    ];
    for (r, want) in cases {
        let e = kms.create_key(&a, r).await.expect_err("refused");
        assert_eq!(name_of(&e), want, "{e}");
    }
    assert!(kms
        .inner
        .store
        .list_account_keys(A, None, 10)
        .expect("list")
        .is_empty());
    let rec = kms
        .inner
        .store
        .get_custom_key_store(&mine)
        .expect("get")
        .expect("rec");
    assert_eq!(rec.key_count, 0);
}

/// The password is stored sealed, bound to its store: not in the record
/// nor anywhere in the data directory, and a record moved to another id
/// does not open.
#[tokio::test]
async fn the_password_is_never_stored_in_the_clear() {
    let (dir, kms, _) = core();
    let id = plant_store(&kms, A, "s", CLUSTER);
    let rec = kms
        .inner
        .store
        .get_custom_key_store(&id)
        .expect("get")
        .expect("rec");
    let json = serde_json::to_string(&rec).expect("json");
    assert!(!json.contains(PASSWORD), "{json}");
    assert_eq!(
        kms.inner
            .cks
            .open_password(&rec)
            .expect("open")
            .expose_secret(),
        PASSWORD
    );
    let mut moved = rec.clone();
    moved.id = new_store_id().expect("id");
    assert!(kms.inner.cks.open_password(&moved).is_err());
    kms.flush().await.expect("flush");
    let mut stack = vec![dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files += 1;
                let bytes = std::fs::read(&path).expect("read");
                assert!(
                    !bytes
                        .windows(PASSWORD.len())
                        .any(|w| w == PASSWORD.as_bytes()),
                    "{} holds the password",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0);
}

/// A store that was connected (or connecting) when kmsd stopped connects
/// again at start; one disconnected on request does not.
#[tokio::test]
async fn a_restarted_kmsd_reconnects_the_stores_meant_to_be_connected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(1_000_000);
    let (wanted, idle) = {
        let kms = open(dir.path(), &clock);
        let a = root(A);
        let wanted = plant_store(&kms, A, "wanted", CLUSTER);
        let idle = plant_store(&kms, A, "idle", "cluster-idle000000000");
        kms.connect_custom_key_store(&a, id_req(&wanted))
            .await
            .expect("connect");
        settled(&*link(&kms, &wanted).await).await;
        (wanted, idle)
    };
    let kms = open(dir.path(), &clock);
    // Before the resume nothing connects by itself.
    assert_eq!(
        link(&kms, &wanted).await.live().state,
        ConnectionState::Disconnected
    );
    let l = link(&kms, &wanted).await;
    let mut rx = l.live.subscribe();
    kms.resume_custom_key_stores().await.expect("resume");
    // It connects again (and, its cluster being unknown here, fails again).
    let state = rx.borrow_and_update().state;
    assert!(
        matches!(state, ConnectionState::Connecting | ConnectionState::Failed),
        "{state}"
    );
    assert_eq!(
        settled(&l).await.error,
        Some(ConnectionErrorCode::ClusterNotFound)
    );
    assert_eq!(
        link(&kms, &idle).await.live().state,
        ConnectionState::Disconnected
    );
}
