//! Helpers for the HSM key-store tests (hsm_keystore, hsm_failover,
//! hsm_scan): kmsd configured with real hsm-sim clusters, the custom key
//! store RPCs, waiting for a connection to settle, and a direct client of
//! an hsm-sim node (logged in as `kmsuser`) to look inside the cluster.

#![allow(dead_code)]

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use kms_proto::hsm::v1 as hsm;
use kms_proto::hsm::v1::hsm_client::HsmClient;
use kmsd::kms::KmsConfig;
use kmsd::proto::kms::v1 as pb;
use pb::ConnectionErrorCodeType as ErrCode;
use pb::ConnectionStateType as State;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use crate::harness::*;
use crate::hsm_cluster::{HsmCluster, PASSWORD};

/// A fresh cluster id of AWS's shape and length (19–24 characters):
/// `cluster-` and 11 random lowercase letters and digits.
pub fn new_cluster_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::from("cluster-");
    let mut seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    for _ in 0..11 {
        out.push(ALPHABET[(seed % ALPHABET.len() as u64) as usize] as char);
        seed /= ALPHABET.len() as u64;
        if seed == 0 {
            seed = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish();
        }
    }
    out
}

/// A kmsd core config that knows these clusters (`--hsm-cluster` each).
pub fn config_for(clusters: &[&HsmCluster]) -> KmsConfig {
    let flags: Vec<String> = clusters.iter().map(|c| c.hsm_cluster_flag()).collect();
    config_with_flags(&flags)
}

/// A kmsd core config from raw `--hsm-cluster` values.
pub fn config_with_flags(flags: &[String]) -> KmsConfig {
    let mut config = KmsConfig::default();
    for f in flags {
        config
            .hsm_clusters
            .add_flag(f)
            .unwrap_or_else(|e| panic!("--hsm-cluster {f}: {e}"));
    }
    config
}

/// CreateCustomKeyStore.
pub async fn try_create_store(
    c: &mut Client,
    name: &str,
    cluster_id: &str,
    trust_anchor_pem: &str,
    password: &str,
) -> Result<String, tonic::Status> {
    c.create_custom_key_store(pb::CreateCustomKeyStoreRequest {
        custom_key_store_name: name.into(),
        cloud_hsm_cluster_id: Some(cluster_id.into()),
        trust_anchor_certificate: Some(trust_anchor_pem.into()),
        key_store_password: Some(password.into()),
        custom_key_store_type: pb::CustomKeyStoreType::AwsCloudhsm as i32,
    })
    .await
    .map(|r| r.into_inner().custom_key_store_id)
}

/// CreateCustomKeyStore for `cluster` with its CA and the right password,
/// expecting success.
pub async fn create_store(c: &mut Client, name: &str, cluster: &HsmCluster) -> String {
    try_create_store(c, name, &cluster.cluster_id, &cluster.ca_pem(), PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("create custom key store {name}: {e:?}"))
}

/// DescribeCustomKeyStores by id.
pub async fn try_describe_store(
    c: &mut Client,
    id: &str,
) -> Result<pb::CustomKeyStoresListEntry, tonic::Status> {
    let mut r = c
        .describe_custom_key_stores(pb::DescribeCustomKeyStoresRequest {
            custom_key_store_id: Some(id.into()),
            ..Default::default()
        })
        .await?
        .into_inner();
    assert_eq!(r.custom_key_stores.len(), 1, "one store by id: {r:?}");
    Ok(r.custom_key_stores.remove(0))
}

/// DescribeCustomKeyStores by id, expecting success.
pub async fn describe_store(c: &mut Client, id: &str) -> pb::CustomKeyStoresListEntry {
    try_describe_store(c, id)
        .await
        .unwrap_or_else(|e| panic!("describe custom key store {id}: {e:?}"))
}

/// ConnectCustomKeyStore.
pub async fn try_connect(c: &mut Client, id: &str) -> Result<(), tonic::Status> {
    c.connect_custom_key_store(pb::ConnectCustomKeyStoreRequest {
        custom_key_store_id: id.into(),
    })
    .await
    .map(drop)
}

/// DisconnectCustomKeyStore.
pub async fn try_disconnect(c: &mut Client, id: &str) -> Result<(), tonic::Status> {
    c.disconnect_custom_key_store(pb::DisconnectCustomKeyStoreRequest {
        custom_key_store_id: id.into(),
    })
    .await
    .map(drop)
}

/// DeleteCustomKeyStore.
pub async fn try_delete_store(c: &mut Client, id: &str) -> Result<(), tonic::Status> {
    c.delete_custom_key_store(pb::DeleteCustomKeyStoreRequest {
        custom_key_store_id: id.into(),
    })
    .await
    .map(drop)
}

/// UpdateCustomKeyStore with a new password.
pub async fn try_update_password(
    c: &mut Client,
    id: &str,
    password: &str,
) -> Result<(), tonic::Status> {
    c.update_custom_key_store(pb::UpdateCustomKeyStoreRequest {
        custom_key_store_id: id.into(),
        key_store_password: Some(password.into()),
        ..Default::default()
    })
    .await
    .map(drop)
}

/// How often a connection's state is looked at while it settles.
const POLL: Duration = Duration::from_millis(50);

/// Waits (polling DescribeCustomKeyStores, at most [`HANG_GUARD`]) until
/// the store is no longer CONNECTING or DISCONNECTING; returns its entry.
pub async fn wait_settled(c: &mut Client, id: &str) -> pb::CustomKeyStoresListEntry {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let e = describe_store(c, id).await;
        match e.connection_state() {
            State::Connecting | State::Disconnecting => {}
            _ => return e,
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "custom key store {id} did not settle: {e:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// ConnectCustomKeyStore, then waits for the outcome; returns the entry.
/// Right after the call the store is CONNECTING (or already CONNECTED):
/// connecting is asynchronous, as in AWS.
pub async fn connect_and_settle(c: &mut Client, id: &str) -> pb::CustomKeyStoresListEntry {
    try_connect(c, id)
        .await
        .unwrap_or_else(|e| panic!("connect custom key store {id}: {e:?}"));
    let right_after = describe_store(c, id).await.connection_state();
    assert!(
        matches!(
            right_after,
            State::Connecting | State::Connected | State::Failed
        ),
        "right after ConnectCustomKeyStore the store is {right_after:?}"
    );
    wait_settled(c, id).await
}

/// Connects and asserts CONNECTED with no error code.
pub async fn connect_ok(c: &mut Client, id: &str) {
    let e = connect_and_settle(c, id).await;
    assert_eq!(e.connection_state(), State::Connected, "{e:?}");
    assert_eq!(e.connection_error_code(), ErrCode::Unspecified, "{e:?}");
}

/// Disconnects and waits until DISCONNECTED.
pub async fn disconnect_ok(c: &mut Client, id: &str) {
    try_disconnect(c, id)
        .await
        .unwrap_or_else(|e| panic!("disconnect custom key store {id}: {e:?}"));
    let e = wait_settled(c, id).await;
    assert_eq!(e.connection_state(), State::Disconnected, "{e:?}");
}

/// Connects and asserts FAILED with `code`; returns the entry.
pub async fn connect_fails_with(
    c: &mut Client,
    id: &str,
    code: ErrCode,
) -> pb::CustomKeyStoresListEntry {
    let e = connect_and_settle(c, id).await;
    assert_eq!(e.connection_state(), State::Failed, "{e:?}");
    assert_eq!(e.connection_error_code(), code, "{e:?}");
    e
}

/// CreateKey with origin AWS_CLOUDHSM in the store.
pub async fn try_create_hsm_key(
    c: &mut Client,
    store_id: &str,
) -> Result<pb::KeyMetadata, tonic::Status> {
    c.create_key(pb::CreateKeyRequest {
        description: "hsm-backed".into(),
        origin: pb::OriginType::AwsCloudhsm as i32,
        custom_key_store_id: Some(store_id.into()),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().key_metadata.expect("metadata"))
}

/// CreateKey with origin AWS_CLOUDHSM, expecting success.
pub async fn create_hsm_key(c: &mut Client, store_id: &str) -> pb::KeyMetadata {
    try_create_hsm_key(c, store_id)
        .await
        .unwrap_or_else(|e| panic!("create an AWS_CLOUDHSM key in {store_id}: {e:?}"))
}

/// GenerateDataKey (AES_256), expecting success.
pub async fn generate_data_key(
    c: &mut Client,
    key_id: &str,
    context: &std::collections::HashMap<String, String>,
) -> pb::GenerateDataKeyResponse {
    c.generate_data_key(pb::GenerateDataKeyRequest {
        key_id: key_id.into(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        encryption_context: context.clone(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("generate data key under {key_id}: {e:?}"))
    .into_inner()
}

// ------------------------------------------------------- a direct hsm-sim client

/// A client of node `i`'s `Hsm` service, verifying the node against the
/// cluster CA (no client certificate: kmsuser logs in with its password).
pub async fn hsm_client(cluster: &HsmCluster, i: usize) -> HsmClient<Channel> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(cluster.ca_pem()));
    let channel =
        kms_proto::client::channel_with_tls(&format!("https://{}", cluster.addrs[i]), tls)
            .await
            .unwrap_or_else(|e| panic!("connect to hsm-sim node {}: {e}", i + 1));
    HsmClient::new(channel)
}

/// A logged-in session on one node.
pub struct HsmSession {
    pub client: HsmClient<Channel>,
    pub session: Vec<u8>,
}

impl HsmSession {
    /// Logs `kmsuser` in on node `i` with the cluster's password.
    pub async fn login(cluster: &HsmCluster, i: usize) -> Self {
        let mut client = hsm_client(cluster, i).await;
        let session = client
            .login(hsm::LoginRequest {
                username: "kmsuser".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("log in on hsm-sim node {}: {e:?}", i + 1))
            .into_inner()
            .session;
        Self { client, session }
    }

    /// FindKeys by label (a KMS key id, as kmsd labels its HSM keys).
    pub async fn find(&mut self, label: &str) -> Vec<hsm::KeyInfo> {
        self.client
            .find_keys(hsm::FindKeysRequest {
                session: self.session.clone(),
                label: label.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("FindKeys {label}: {e:?}"))
            .into_inner()
            .keys
    }
}

/// Polls FindKeys on node `i` (a fresh login each round, as the node may
/// just have started) until `done` holds for the keys labelled `label`.
pub async fn wait_keys_on_node(
    cluster: &HsmCluster,
    i: usize,
    label: &str,
    done: impl Fn(&[hsm::KeyInfo]) -> bool,
) -> Vec<hsm::KeyInfo> {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    let mut s = HsmSession::login(cluster, i).await;
    loop {
        let keys = s.find(label).await;
        if done(&keys) {
            return keys;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {} never reached the expected keys for {label}: {keys:?}",
            i + 1
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Asserts an AWS exception by name at the start of the message (and the
/// gRPC code, where kmsd's mapping is fixed by the reference).
#[track_caller]
pub fn assert_exception(status: &tonic::Status, exception: &str) {
    assert!(
        status.message().starts_with(&format!("{exception}: ")),
        "expected {exception}, got {:?}: {}",
        status.code(),
        status.message()
    );
}

/// Error checks that do not stop the test at the first mismatch, so one
/// run reports every wrong answer of a long scenario; `finish` fails the
/// test if any check failed.
#[derive(Default)]
pub struct Soft(Vec<String>);

impl Soft {
    /// Records a mismatch unless `r` is an error with `code` whose message
    /// starts with `exception`.
    pub fn error<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        r: Result<T, tonic::Status>,
        code: tonic::Code,
        exception: &str,
    ) {
        match r {
            Ok(v) => self
                .0
                .push(format!("{what}: expected {exception}, got Ok({v:?})")),
            Err(s) if s.code() != code || !s.message().starts_with(&format!("{exception}: ")) => {
                self.0.push(format!(
                    "{what}: expected {code:?} {exception}, got {:?}: {}",
                    s.code(),
                    s.message()
                ))
            }
            Err(_) => {}
        }
    }

    /// Fails the test with every mismatch recorded.
    pub fn finish(self) {
        assert!(self.0.is_empty(), "mismatches:\n{}", self.0.join("\n"));
    }
}
