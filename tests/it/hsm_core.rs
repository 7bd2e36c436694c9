//! kmsd's core with a real two-node hsm-sim cluster (in process, no gRPC
//! door: the door-level lifecycle is in the HSM end-to-end tests): create a
//! store, connect it, make and use a key in it, disconnect (Unavailable),
//! reconnect, survive a restart (it reconnects by itself), and delete the
//! key (its HSM key destroyed) and the store.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kmsd::clock::ManualClock;
use kmsd::error::KmsError;
use kmsd::kms::custom_key_stores::CustomKeyStoreEntry;
use kmsd::kms::request::{
    CreateCustomKeyStoreRequest, CreateKeyRequest, CustomKeyStoreIdRequest, DecryptRequest,
    DescribeCustomKeyStoresRequest, DescribeKeyRequest, EncryptRequest, ScheduleKeyDeletionRequest,
};
use kmsd::kms::{Caller, Kms, KmsConfig};
use kmsd::model::{ConnectionState, KeyId, KeyState, Origin};
use kmsd::secret::{Password, Plaintext};
use kmsd::server::{KmsServer, ServerConfig};

use super::harness::HANG_GUARD;
use super::hsm_cluster::{HsmCluster, PASSWORD};

const ACCOUNT_ROOT: &str = "arn:aws:iam::111122223333:root";

fn open(dir: &Path, cluster: &HsmCluster, clock: &ManualClock) -> KmsServer {
    let mut config = KmsConfig::default();
    config
        .hsm_clusters
        .add_flag(&cluster.hsm_cluster_flag())
        .expect("--hsm-cluster");
    let config = ServerConfig::dev(dir, config, None).expect("dev config");
    KmsServer::open(config, Arc::new(clock.clone())).expect("open kmsd")
}

fn caller() -> Caller {
    kmsd::testing::local_caller(ACCOUNT_ROOT).expect("caller")
}

async fn settled(kms: &Kms, id: &str) -> ConnectionState {
    tokio::time::timeout(HANG_GUARD, kms.custom_key_store_settled(id))
        .await
        .expect("the connection attempt never ended")
        .expect("settled")
        .expect("store exists")
        .0
}

async fn describe_store(kms: &Kms, id: &str) -> CustomKeyStoreEntry {
    let (mut v, _) = kms
        .describe_custom_key_stores(
            &caller(),
            DescribeCustomKeyStoresRequest {
                custom_key_store_id: Some(id.into()),
                ..Default::default()
            },
        )
        .await
        .expect("describe store");
    v.remove(0)
}

async fn key_state(kms: &Kms, key: &KeyId) -> KeyState {
    kms.describe_key(
        &caller(),
        DescribeKeyRequest {
            key_id: key.to_string(),
            ..Default::default()
        },
    )
    .await
    .expect("describe key")
    .state
}

async fn encrypt(kms: &Kms, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, KmsError> {
    kms.encrypt(
        &caller(),
        EncryptRequest {
            key_id: key.to_string(),
            plaintext: Plaintext::new(data.to_vec()),
            encryption_context: [("purpose".to_owned(), "test".to_owned())].into(),
            grant_tokens: Vec::new(),
            encryption_algorithm: None,
        },
    )
    .await
    .map(|o| o.ciphertext_blob)
}

async fn decrypt(kms: &Kms, blob: &[u8]) -> Result<Vec<u8>, KmsError> {
    kms.decrypt(
        &caller(),
        DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            encryption_context: [("purpose".to_owned(), "test".to_owned())].into(),
            grant_tokens: Vec::new(),
            key_id: None,
            encryption_algorithm: None,
        },
    )
    .await
    .map(|o| o.plaintext.expose_secret().to_vec())
}

fn id_req(id: &str) -> CustomKeyStoreIdRequest {
    CustomKeyStoreIdRequest {
        custom_key_store_id: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_store_lifecycle_through_the_core() {
    let cluster = tokio::task::block_in_place(|| HsmCluster::start("cluster-corelifecycle1", 2));
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::starting_now();
    let c = caller();
    let (store_id, key, blob) = {
        let server = open(dir.path(), &cluster, &clock);
        let kms = server.kms().clone();
        let store_id = kms
            .create_custom_key_store(
                &c,
                CreateCustomKeyStoreRequest {
                    custom_key_store_name: "lifecycle".into(),
                    cloud_hsm_cluster_id: Some(cluster.cluster_id.clone()),
                    trust_anchor_certificate: Some(cluster.ca_pem()),
                    key_store_password: Some(Password::new(PASSWORD.into())),
                    custom_key_store_type: None,
                },
            )
            .await
            .expect("create store");
        assert_eq!(
            describe_store(&kms, &store_id).await.connection_state,
            "DISCONNECTED"
        );
        let hsm_key = || CreateKeyRequest {
            origin: Some(Origin::AwsCloudHsm),
            custom_key_store_id: Some(store_id.clone()),
            ..Default::default()
        };
        let e = kms
            .create_key(&c, hsm_key())
            .await
            .expect_err("not connected");
        assert_eq!(
            e.exception_name(),
            "CustomKeyStoreInvalidStateException",
            "{e}"
        );

        kms.connect_custom_key_store(&c, id_req(&store_id))
            .await
            .expect("connect");
        assert_eq!(settled(&kms, &store_id).await, ConnectionState::Connected);
        assert_eq!(
            describe_store(&kms, &store_id).await.connection_state,
            "CONNECTED"
        );

        let rec = kms
            .create_key(&c, hsm_key())
            .await
            .expect("key in the store");
        let m = rec.metadata(kms.region());
        assert_eq!(m.origin, Origin::AwsCloudHsm);
        assert_eq!(m.custom_key_store_id.as_deref(), Some(store_id.as_str()));
        assert_eq!(
            m.cloud_hsm_cluster_id.as_deref(),
            Some(cluster.cluster_id.as_str())
        );
        assert_eq!(m.key_state, KeyState::Enabled);
        let key = rec.id;
        let blob = encrypt(&kms, &key, b"secret data").await.expect("encrypt");
        assert_eq!(decrypt(&kms, &blob).await.expect("decrypt"), b"secret data");

        let e = kms
            .delete_custom_key_store(&c, id_req(&store_id))
            .await
            .expect_err("connected");
        assert_eq!(
            e.exception_name(),
            "CustomKeyStoreInvalidStateException",
            "{e}"
        );

        kms.disconnect_custom_key_store(&c, id_req(&store_id))
            .await
            .expect("disconnect");
        assert_eq!(key_state(&kms, &key).await, KeyState::Unavailable);
        let e = decrypt(&kms, &blob).await.expect_err("unavailable");
        assert_eq!(e.exception_name(), "KMSInvalidStateException", "{e}");
        let e = kms
            .delete_custom_key_store(&c, id_req(&store_id))
            .await
            .expect_err("holds a key");
        assert_eq!(e.exception_name(), "CustomKeyStoreHasCMKsException", "{e}");

        kms.connect_custom_key_store(&c, id_req(&store_id))
            .await
            .expect("reconnect");
        assert_eq!(settled(&kms, &store_id).await, ConnectionState::Connected);
        assert_eq!(
            decrypt(&kms, &blob).await.expect("decrypt again"),
            b"secret data"
        );
        (store_id, key, blob)
    };

    // A restarted kmsd reconnects the store by itself.
    let server = open(dir.path(), &cluster, &clock);
    let kms = server.kms().clone();
    kms.resume_custom_key_stores().await.expect("resume");
    assert_eq!(settled(&kms, &store_id).await, ConnectionState::Connected);
    assert_eq!(key_state(&kms, &key).await, KeyState::Enabled);
    assert_eq!(
        decrypt(&kms, &blob).await.expect("after restart"),
        b"secret data"
    );

    // Deletion: the job destroys the HSM key and uncounts the key.
    kms.schedule_key_deletion(
        &c,
        ScheduleKeyDeletionRequest {
            key_id: key.to_string(),
            pending_window_in_days: Some(7),
        },
    )
    .await
    .expect("schedule");
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(kms.process_due_deletions().await.expect("deletion job"), 1);
    kms.disconnect_custom_key_store(&c, id_req(&store_id))
        .await
        .expect("disconnect");
    kms.delete_custom_key_store(&c, id_req(&store_id))
        .await
        .expect("the empty store is deleted");
    let e = kms
        .describe_custom_key_stores(
            &c,
            DescribeCustomKeyStoresRequest {
                custom_key_store_id: Some(store_id.clone()),
                ..Default::default()
            },
        )
        .await
        .expect_err("gone");
    assert_eq!(e.exception_name(), "CustomKeyStoreNotFoundException", "{e}");
}
