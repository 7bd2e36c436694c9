//! Custom key stores (origin AWS_CLOUDHSM) end to end through kmsd's gRPC
//! door, against real hsm-sim clusters on loopback: the full lifecycle,
//! validation and near misses, and a kmsd restart with a connected store.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use pb::ConnectionErrorCodeType as ErrCode;
use pb::ConnectionStateType as State;
use tonic::Code;

use crate::harness::*;
use crate::hsm_cluster::{HsmCluster, PASSWORD};
use crate::hsm_kms::*;

const EIGHT_DAYS: std::time::Duration = std::time::Duration::from_secs(8 * 24 * 60 * 60);

async fn try_encrypt(c: &mut Client, key_id: &str) -> Result<Vec<u8>, tonic::Status> {
    c.encrypt(pb::EncryptRequest {
        key_id: key_id.into(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().ciphertext_blob)
}

async fn try_generate_data_key(c: &mut Client, key_id: &str) -> Result<(), tonic::Status> {
    c.generate_data_key(pb::GenerateDataKeyRequest {
        key_id: key_id.into(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        ..Default::default()
    })
    .await
    .map(drop)
}

async fn re_encrypt(
    c: &mut Client,
    blob: &[u8],
    source_ctx: &HashMap<String, String>,
    destination: &str,
    destination_ctx: &HashMap<String, String>,
) -> pb::ReEncryptResponse {
    c.re_encrypt(pb::ReEncryptRequest {
        ciphertext_blob: blob.to_vec(),
        source_encryption_context: source_ctx.clone(),
        destination_key_id: destination.into(),
        destination_encryption_context: destination_ctx.clone(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("re-encrypt to {destination}: {e:?}"))
    .into_inner()
}

/// Create (DISCONNECTED) → connect → an AWS_CLOUDHSM key → every
/// symmetric operation → disconnect (Unavailable, calls refused) →
/// reconnect (old ciphertexts open) → delete refused while connected and
/// while it has keys → the key really deleted destroys its HSM key →
/// delete the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_lifecycle_create_connect_use_disconnect_reconnect_delete() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;

    let store = create_store(&mut c, "lifecycle-store", &cluster).await;
    let e = describe_store(&mut c, &store).await;
    assert_eq!(e.custom_key_store_id, store);
    assert_eq!(e.custom_key_store_name, "lifecycle-store");
    assert_eq!(e.cloud_hsm_cluster_id, cluster.cluster_id);
    assert_eq!(e.trust_anchor_certificate.trim(), cluster.ca_pem().trim());
    assert_eq!(e.connection_state(), State::Disconnected, "{e:?}");
    assert_eq!(
        e.custom_key_store_type(),
        pb::CustomKeyStoreType::AwsCloudhsm
    );
    assert!(e.creation_date.is_some());
    // AWS: disconnecting a DISCONNECTED store is a state error.
    let err = try_disconnect(&mut c, &store).await.unwrap_err();
    assert_aws_error(
        &err,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );

    connect_ok(&mut c, &store).await;
    // Connecting a CONNECTED store is valid and changes nothing.
    try_connect(&mut c, &store).await.expect("connect again");
    assert_eq!(
        wait_settled(&mut c, &store).await.connection_state(),
        State::Connected
    );
    // While CONNECTED only the name may change (AWS), not the password.
    let err = try_update_password(&mut c, &store, "another-password")
        .await
        .unwrap_err();
    assert_aws_error(
        &err,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
    c.update_custom_key_store(pb::UpdateCustomKeyStoreRequest {
        custom_key_store_id: store.clone(),
        new_custom_key_store_name: Some("lifecycle-renamed".into()),
        ..Default::default()
    })
    .await
    .expect("rename a connected store");
    let e = describe_store(&mut c, &store).await;
    assert_eq!(e.custom_key_store_name, "lifecycle-renamed");
    assert_eq!(e.connection_state(), State::Connected);

    // The key: made in the cluster, labelled with its KMS key id.
    let meta = create_hsm_key(&mut c, &store).await;
    let key = meta.key_id.clone();
    assert_eq!(meta.origin(), pb::OriginType::AwsCloudhsm);
    assert_eq!(meta.custom_key_store_id, store);
    assert_eq!(meta.cloud_hsm_cluster_id, cluster.cluster_id);
    assert!(meta.enabled);
    assert_eq!(meta.key_state(), pb::KeyState::Enabled);
    assert_eq!(meta.key_spec(), pb::KeySpec::SymmetricDefault);
    let d = describe(&mut c, &key).await;
    assert_eq!(d.origin(), pb::OriginType::AwsCloudhsm);
    assert_eq!(d.custom_key_store_id, store);
    assert_eq!(d.cloud_hsm_cluster_id, cluster.cluster_id);
    assert!(d.enabled);
    let mut node1 = HsmSession::login(&cluster, 0).await;
    assert_eq!(
        node1.find(&key).await.len(),
        1,
        "one HSM key labelled {key}"
    );

    let local = create_key(&mut c, "local").await;
    let ctx1 = ctx(&[("purpose", "hsm-lifecycle")]);
    let ctx2 = ctx(&[("purpose", "elsewhere")]);

    // Encrypt / Decrypt.
    let blob = encrypt(&mut c, &key, b"hello from the hsm", &ctx1).await;
    let r = try_decrypt(&mut c, &blob, &ctx1).await.expect("decrypt");
    assert_eq!(r.plaintext, b"hello from the hsm");
    assert_eq!(r.key_id, key_arn_of(ACCOUNT_A, &key));
    let wrong = try_decrypt(&mut c, &blob, &ctx2).await.unwrap_err();
    assert_aws_error(&wrong, Code::InvalidArgument, "InvalidCiphertextException");

    // GenerateDataKey / Decrypt.
    let dk = generate_data_key(&mut c, &key, &ctx1).await;
    assert_eq!(dk.plaintext.len(), 32);
    assert_eq!(dk.key_id, key_arn_of(ACCOUNT_A, &key));
    assert_eq!(
        decrypt(&mut c, &dk.ciphertext_blob, &ctx1).await,
        dk.plaintext
    );

    // GenerateDataKeyWithoutPlaintext / Decrypt.
    let wp = c
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            encryption_context: ctx1.clone(),
            ..Default::default()
        })
        .await
        .expect("generate data key without plaintext")
        .into_inner();
    assert_eq!(decrypt(&mut c, &wp.ciphertext_blob, &ctx1).await.len(), 32);

    // ReEncrypt from the HSM key to a local key, and from a local key to it.
    let to_local = re_encrypt(&mut c, &blob, &ctx1, &local, &ctx2).await;
    assert_eq!(to_local.source_key_id, key_arn_of(ACCOUNT_A, &key));
    let r = try_decrypt(&mut c, &to_local.ciphertext_blob, &ctx2)
        .await
        .expect("decrypt re-encrypted");
    assert_eq!(r.plaintext, b"hello from the hsm");
    assert_eq!(r.key_id, key_arn_of(ACCOUNT_A, &local));
    let local_blob = encrypt(&mut c, &local, b"from a local key", &ctx2).await;
    let to_hsm = re_encrypt(&mut c, &local_blob, &ctx2, &key, &ctx1).await;
    let r = try_decrypt(&mut c, &to_hsm.ciphertext_blob, &ctx1)
        .await
        .expect("decrypt re-encrypted");
    assert_eq!(r.plaintext, b"from a local key");
    assert_eq!(r.key_id, key_arn_of(ACCOUNT_A, &key));

    // Disconnected: the key is Unavailable; crypto is refused with
    // KMSInvalidStateException (AWS's key-state table), a new key in the
    // store with CustomKeyStoreInvalidStateException.
    disconnect_ok(&mut c, &store).await;
    assert_eq!(
        describe(&mut c, &key).await.key_state(),
        pb::KeyState::Unavailable
    );
    let mut soft = Soft::default();
    soft.error(
        "Decrypt, store disconnected",
        try_decrypt(&mut c, &blob, &ctx1).await.map(drop),
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    soft.error(
        "ReEncrypt from the HSM key, store disconnected",
        c.re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: ctx1.clone(),
            destination_key_id: local.clone(),
            ..Default::default()
        })
        .await
        .map(drop),
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    soft.error(
        "Encrypt, store disconnected",
        try_encrypt(&mut c, &key).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    soft.error(
        "GenerateDataKey, store disconnected",
        try_generate_data_key(&mut c, &key).await,
        Code::FailedPrecondition,
        "KMSInvalidStateException",
    );
    soft.error(
        "CreateKey, store disconnected",
        try_create_hsm_key(&mut c, &store).await.map(|m| m.key_id),
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
    // The local key is untouched.
    assert_eq!(
        decrypt(&mut c, &local_blob, &ctx2).await,
        b"from a local key"
    );

    // Reconnected: everything made earlier opens again.
    connect_ok(&mut c, &store).await;
    assert_eq!(
        describe(&mut c, &key).await.key_state(),
        pb::KeyState::Enabled
    );
    assert_eq!(decrypt(&mut c, &blob, &ctx1).await, b"hello from the hsm");
    assert_eq!(
        decrypt(&mut c, &dk.ciphertext_blob, &ctx1).await,
        dk.plaintext
    );
    assert_eq!(
        decrypt(&mut c, &to_hsm.ciphertext_blob, &ctx1).await,
        b"from a local key"
    );

    // Delete refused: while connected, and (disconnected) while it has keys.
    let e = try_delete_store(&mut c, &store).await.unwrap_err();
    assert_aws_error(
        &e,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
    disconnect_ok(&mut c, &store).await;
    let e = try_delete_store(&mut c, &store).await.unwrap_err();
    assert_aws_error(
        &e,
        Code::FailedPrecondition,
        "CustomKeyStoreHasCMKsException",
    );
    connect_ok(&mut c, &store).await;

    // Really deleting the key destroys its HSM key, on every node.
    let s = c
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: key.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("schedule key deletion")
        .into_inner();
    assert_eq!(s.key_state(), pb::KeyState::PendingDeletion);
    assert_eq!(node1.find(&key).await.len(), 1, "kept while pending");
    server.clock.advance(EIGHT_DAYS);
    server.background_pass().await;
    let e = c
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    assert!(
        node1.find(&key).await.is_empty(),
        "HSM key {key} still on node 1"
    );
    wait_keys_on_node(&cluster, 1, &key, |k| k.is_empty()).await;

    // Now empty and disconnected, the store can go.
    disconnect_ok(&mut c, &store).await;
    try_delete_store(&mut c, &store)
        .await
        .expect("delete custom key store");
    let e = try_describe_store(&mut c, &store).await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "CustomKeyStoreNotFoundException");
    soft.finish();
}

/// A wrong password: FAILED with INVALID_CREDENTIALS; AWS requires a
/// disconnect before the next attempt; the right password (Update) then
/// connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_wrong_password_is_invalid_credentials() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = try_create_store(
        &mut c,
        "wrong-password",
        &cluster.cluster_id,
        &cluster.ca_pem(),
        "not-the-password",
    )
    .await
    .expect("create store");
    connect_fails_with(&mut c, &store, ErrCode::InvalidCredentials).await;
    // A FAILED store is neither connected again nor updated before a
    // disconnect (AWS).
    let e = try_connect(&mut c, &store).await.unwrap_err();
    assert_aws_error(
        &e,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
    let e = try_update_password(&mut c, &store, PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(
        &e,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
    disconnect_ok(&mut c, &store).await;
    try_update_password(&mut c, &store, PASSWORD)
        .await
        .expect("update password");
    connect_ok(&mut c, &store).await;
    create_hsm_key(&mut c, &store).await;
}

/// Wrong passwords until hsm-sim locks kmsuser (5 failures by default):
/// the store then fails with USER_LOCKED_OUT, even with the right password.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_repeated_wrong_passwords_lock_the_user_out() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = try_create_store(
        &mut c,
        "lockout",
        &cluster.cluster_id,
        &cluster.ca_pem(),
        "wrong-password-0",
    )
    .await
    .expect("create store");
    let mut codes = Vec::new();
    for attempt in 1..=12 {
        let e = connect_and_settle(&mut c, &store).await;
        assert_eq!(e.connection_state(), State::Failed, "{e:?}");
        codes.push(e.connection_error_code());
        disconnect_ok(&mut c, &store).await;
        if e.connection_error_code() == ErrCode::UserLockedOut {
            break;
        }
        try_update_password(&mut c, &store, &format!("wrong-password-{attempt}"))
            .await
            .expect("update password");
    }
    assert_eq!(codes[0], ErrCode::InvalidCredentials, "{codes:?}");
    assert_eq!(
        codes.last(),
        Some(&ErrCode::UserLockedOut),
        "no lockout after 12 attempts: {codes:?}"
    );
    assert!(
        codes[..codes.len() - 1]
            .iter()
            .all(|c| *c == ErrCode::InvalidCredentials),
        "{codes:?}"
    );
    // Locked: the right password does not help.
    try_update_password(&mut c, &store, PASSWORD)
        .await
        .expect("update password");
    connect_fails_with(&mut c, &store, ErrCode::UserLockedOut).await;
}

/// A cluster with one HSM: FAILED with INSUFFICIENT_CLOUDHSM_HSMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_single_node_cluster_is_insufficient_hsms() {
    let cluster = HsmCluster::start(&new_cluster_id(), 1);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "one-hsm", &cluster).await;
    connect_fails_with(&mut c, &store, ErrCode::InsufficientCloudhsmHsms).await;
    let e = try_create_hsm_key(&mut c, &store).await.unwrap_err();
    assert_aws_error(
        &e,
        Code::FailedPrecondition,
        "CustomKeyStoreInvalidStateException",
    );
}

/// CreateCustomKeyStore refusals: an unknown cluster id, another cluster's
/// CA as trust anchor, a name in use (a case twin is another name), a
/// cluster already used by a store of the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_create_store_refusals() {
    let a = HsmCluster::start(&new_cluster_id(), 2);
    let b = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&a, &b])).await;
    let mut c = server.client().await;

    let e = try_create_store(&mut c, "nowhere", &new_cluster_id(), &a.ca_pem(), PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "CloudHsmClusterNotFoundException");

    let e = try_create_store(&mut c, "wrong-ca", &a.cluster_id, &b.ca_pem(), PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "IncorrectTrustAnchorException");

    let first = create_store(&mut c, "Shared-Name", &a).await;
    let e = try_create_store(&mut c, "Shared-Name", &b.cluster_id, &b.ca_pem(), PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::AlreadyExists, "CustomKeyStoreNameInUseException");
    // AWS store names are case sensitive.
    let twin = create_store(&mut c, "shared-name", &b).await;
    assert_ne!(first, twin);
    // AWS: one store per cluster in an account.
    let e = try_create_store(&mut c, "again", &a.cluster_id, &a.ca_pem(), PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::AlreadyExists, "CloudHsmClusterInUseException");
    // Renaming onto a name in use is refused too.
    let e = c
        .update_custom_key_store(pb::UpdateCustomKeyStoreRequest {
            custom_key_store_id: twin.clone(),
            new_custom_key_store_name: Some("Shared-Name".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::AlreadyExists, "CustomKeyStoreNameInUseException");
    // Both are listed, and a name filter finds exactly one.
    let all = c
        .describe_custom_key_stores(pb::DescribeCustomKeyStoresRequest::default())
        .await
        .expect("describe all")
        .into_inner();
    let mut ids: Vec<_> = all
        .custom_key_stores
        .iter()
        .map(|s| s.custom_key_store_id.clone())
        .collect();
    ids.sort();
    let mut want = vec![first.clone(), twin.clone()];
    want.sort();
    assert_eq!(ids, want);
    let by_name = c
        .describe_custom_key_stores(pb::DescribeCustomKeyStoresRequest {
            custom_key_store_name: Some("shared-name".into()),
            ..Default::default()
        })
        .await
        .expect("describe by name")
        .into_inner();
    assert_eq!(by_name.custom_key_stores.len(), 1);
    assert_eq!(by_name.custom_key_stores[0].custom_key_store_id, twin);
}

/// kmsd accepts a node only if its certificate chains to the store's trust
/// anchor. A node of another cluster (another CA, but the same kmsuser
/// password, so only its certificate gives it away) listed for this
/// cluster id: at CreateCustomKeyStore it makes the trust anchor incorrect
/// (backend::hsm::check_trust_anchor: a cluster's HSMs share one CA); one
/// that appears later (kmsd restarted with another --hsm-cluster list) is
/// never used by a connected store, also when it is one of two nodes kmsd
/// knows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_node_with_a_certificate_from_another_ca_is_refused() {
    let a = HsmCluster::start(&new_cluster_id(), 2);
    let b = HsmCluster::start(&new_cluster_id(), 2);
    let genuine = format!("{}={},{}", a.cluster_id, a.addrs[0], a.addrs[1]);
    let with_impostor = format!(
        "{}={},{},{}",
        a.cluster_id, a.addrs[0], a.addrs[1], b.addrs[0]
    );
    let one_genuine = format!("{}={},{}", a.cluster_id, a.addrs[0], b.addrs[1]);
    let tmp = tempfile::tempdir().expect("tempdir");

    let server = TestServer::start_in_with_config(
        tmp.path(),
        config_with_flags(std::slice::from_ref(&with_impostor)),
    )
    .await;
    let mut c = server.client().await;
    let e = try_create_store(&mut c, "refused", &a.cluster_id, &a.ca_pem(), PASSWORD)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "IncorrectTrustAnchorException");
    server.stop().await;

    let server = TestServer::start_in_with_config(tmp.path(), config_with_flags(&[genuine])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "with-impostor", &a).await;
    server.stop().await;

    // The impostor appears in kmsd's list of the cluster's nodes.
    let server =
        TestServer::start_in_with_config(tmp.path(), config_with_flags(&[with_impostor])).await;
    let mut c = server.client().await;
    connect_ok(&mut c, &store).await;
    let ctx1 = ctx(&[("k", "v")]);
    let mut keys = Vec::new();
    for _ in 0..6 {
        let k = create_hsm_key(&mut c, &store).await.key_id;
        for _ in 0..4 {
            let blob = encrypt(&mut c, &k, b"genuine", &ctx1).await;
            assert_eq!(decrypt(&mut c, &blob, &ctx1).await, b"genuine");
        }
        keys.push(k);
    }
    let mut impostor = HsmSession::login(&b, 0).await;
    assert!(
        impostor.find("").await.is_empty(),
        "kmsd made keys on a node of another cluster"
    );
    let mut genuine = HsmSession::login(&a, 0).await;
    for k in &keys {
        assert_eq!(genuine.find(k).await.len(), 1, "{k} on cluster A");
    }
    disconnect_ok(&mut c, &store).await;
    server.stop().await;

    // kmsd knows one genuine node and an impostor. The genuine node reports
    // two active HSMs (its peer is up, kmsd just does not list it), so the
    // store connects (backend::hsm: ClusterStatus decides) — and still
    // never uses the impostor.
    let server =
        TestServer::start_in_with_config(tmp.path(), config_with_flags(&[one_genuine])).await;
    let mut c = server.client().await;
    connect_ok(&mut c, &store).await;
    for _ in 0..3 {
        let k = create_hsm_key(&mut c, &store).await.key_id;
        for _ in 0..4 {
            let blob = encrypt(&mut c, &k, b"genuine", &ctx1).await;
            assert_eq!(decrypt(&mut c, &blob, &ctx1).await, b"genuine");
        }
        assert_eq!(genuine.find(&k).await.len(), 1, "{k} on cluster A");
    }
    let mut impostor2 = HsmSession::login(&b, 1).await;
    assert!(
        impostor2.find("").await.is_empty(),
        "kmsd made keys on a node of another cluster"
    );
}

/// Another account neither sees nor uses the store; a principal without
/// kms:CreateCustomKeyStore cannot create one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_store_is_private_to_its_account_and_needs_permission() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut a = server.client().await;
    let store = create_store(&mut a, "private", &cluster).await;

    let mut b = server.client_as(ROOT_B).await;
    let e = try_describe_store(&mut b, &store).await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "CustomKeyStoreNotFoundException");
    let all = b
        .describe_custom_key_stores(pb::DescribeCustomKeyStoresRequest::default())
        .await
        .expect("describe all as B")
        .into_inner();
    assert!(all.custom_key_stores.is_empty(), "{all:?}");
    for e in [
        try_connect(&mut b, &store).await.unwrap_err(),
        try_disconnect(&mut b, &store).await.unwrap_err(),
        try_delete_store(&mut b, &store).await.unwrap_err(),
        try_update_password(&mut b, &store, "another-pass")
            .await
            .unwrap_err(),
        try_create_hsm_key(&mut b, &store).await.unwrap_err(),
    ] {
        assert_aws_error(&e, Code::NotFound, "CustomKeyStoreNotFoundException");
    }
    // Still there, still disconnected, for its owner.
    let e = describe_store(&mut a, &store).await;
    assert_eq!(e.connection_state(), State::Disconnected);

    // Alice has no identity policy allowing kms:CreateCustomKeyStore.
    put_identity_policy(
        &server,
        ALICE_A,
        "describe-only",
        &identity_doc("Allow", &["kms:DescribeCustomKeyStores"], "*"),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let e = try_create_store(
        &mut alice,
        "alice-store",
        &cluster.cluster_id,
        &cluster.ca_pem(),
        PASSWORD,
    )
    .await
    .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    assert!(e.message().contains(ALICE_A), "{}", e.message());
    assert!(
        e.message().contains("kms:CreateCustomKeyStore"),
        "{}",
        e.message()
    );
    let e = try_connect(&mut alice, &store).await.unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    // What she may do, she can.
    let seen = describe_store(&mut alice, &store).await;
    assert_eq!(seen.custom_key_store_id, store);
}

/// AWS's rules for keys in a CloudHSM key store: symmetric only, not
/// multi-Region, no rotation, no import; an unknown store is NotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_keys_refuse_what_aws_refuses() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let server = TestServer::start_with_config(config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "rules", &cluster).await;
    connect_ok(&mut c, &store).await;

    for (spec, usage) in [
        (pb::KeySpec::Rsa2048, pb::KeyUsageType::EncryptDecrypt),
        (pb::KeySpec::Hmac256, pb::KeyUsageType::GenerateVerifyMac),
    ] {
        let e = c
            .create_key(pb::CreateKeyRequest {
                origin: pb::OriginType::AwsCloudhsm as i32,
                custom_key_store_id: Some(store.clone()),
                key_spec: spec as i32,
                key_usage: usage as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    }
    let e = c
        .create_key(pb::CreateKeyRequest {
            origin: pb::OriginType::AwsCloudhsm as i32,
            custom_key_store_id: Some(store.clone()),
            multi_region: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = try_create_hsm_key(&mut c, "cks-00000000000000000")
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "CustomKeyStoreNotFoundException");

    let key = create_hsm_key(&mut c, &store).await.key_id;
    let e = c
        .enable_key_rotation(pb::EnableKeyRotationRequest {
            key_id: key.clone(),
            rotation_period_in_days: None,
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = c
        .rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = c
        .get_parameters_for_import(pb::GetParametersForImportRequest {
            key_id: key.clone(),
            wrapping_algorithm: pb::AlgorithmSpec::RsaesOaepSha256 as i32,
            wrapping_key_spec: pb::WrappingKeySpec::Rsa2048 as i32,
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    // The key itself is fine.
    let blob = encrypt(&mut c, &key, b"still works", &HashMap::new()).await;
    assert_eq!(
        decrypt(&mut c, &blob, &HashMap::new()).await,
        b"still works"
    );
}

/// A kmsd restart with a CONNECTED store: it reconnects by itself and old
/// ciphertexts open; the password is nowhere in kmsd's data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_connected_store_reconnects_after_restart_and_password_is_sealed() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_with_config(tmp.path(), config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "survives-restarts", &cluster).await;
    connect_ok(&mut c, &store).await;
    let key = create_hsm_key(&mut c, &store).await.key_id;
    let ctx1 = ctx(&[("restart", "yes")]);
    let blob = encrypt(&mut c, &key, b"before the restart", &ctx1).await;

    let server = server.restart().await;
    let mut c = server.client().await;
    let e = wait_settled(&mut c, &store).await;
    assert_eq!(e.connection_state(), State::Connected, "{e:?}");
    assert_eq!(decrypt(&mut c, &blob, &ctx1).await, b"before the restart");
    assert_eq!(
        describe(&mut c, &key).await.key_state(),
        pb::KeyState::Enabled
    );
    // A disconnected store stays disconnected across a restart.
    disconnect_ok(&mut c, &store).await;
    let server = server.restart().await;
    let mut c = server.client().await;
    assert_eq!(
        describe_store(&mut c, &store).await.connection_state(),
        State::Disconnected
    );
    server.stop().await;

    let hits = crate::hsm_scan::files_containing(tmp.path(), PASSWORD.as_bytes());
    assert!(hits.is_empty(), "the kmsuser password in clear in {hits:?}");
}

/// Unreachable nodes: connection refused → FAILED with NETWORK_ERRORS; a
/// node that accepts TCP but never answers the TLS handshake keeps the
/// store CONNECTING (observably: connecting is asynchronous) until kmsd
/// gives up with NETWORK_ERRORS.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hsm_unreachable_nodes_are_network_errors_and_connecting_is_asynchronous() {
    let mut cluster = HsmCluster::start(&new_cluster_id(), 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in_with_config(tmp.path(), config_for(&[&cluster])).await;
    let mut c = server.client().await;
    let store = create_store(&mut c, "unreachable", &cluster).await;
    cluster.kill_node(0);
    cluster.kill_node(1);
    connect_fails_with(&mut c, &store, ErrCode::NetworkErrors).await;
    disconnect_ok(&mut c, &store).await;
    server.stop().await;

    // Listening sockets that never accept: the kernel completes the TCP
    // handshake, nobody ever answers kmsd's ClientHello.
    let holes: Vec<std::net::TcpListener> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let addrs: Vec<String> = holes
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    let flag = format!("{}={}", cluster.cluster_id, addrs.join(","));
    let server = TestServer::start_in_with_config(tmp.path(), config_with_flags(&[flag])).await;
    let mut c = server.client().await;
    try_connect(&mut c, &store).await.expect("connect");
    let e = describe_store(&mut c, &store).await;
    assert_eq!(e.connection_state(), State::Connecting, "{e:?}");
    let e = wait_settled(&mut c, &store).await;
    assert_eq!(e.connection_state(), State::Failed, "{e:?}");
    assert_eq!(e.connection_error_code(), ErrCode::NetworkErrors, "{e:?}");
    drop(holes);
}
