//! kmsctl against a real kmsd using a real two-node hsm-sim cluster: the
//! README's HSM key store walk-through (create-custom-key-store with the
//! trust anchor as file://, connect, describe until CONNECTED, an
//! AWS_CLOUDHSM key used for a data key), then the AWS CLI's output and
//! errors for the rest of the lifecycle.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use super::cli::kmsctl_bin;
use super::harness::{DaemonProcess, HANG_GUARD};
use super::hsm_cluster::{HsmCluster, PASSWORD};

const CLUSTER_ID: &str = "cluster-clihsm00001";

fn kmsctl(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(kmsctl_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run kmsctl")
}

/// Runs kmsctl, which must succeed; its stdout.
fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = kmsctl(data_dir, args);
    assert!(
        out.status.success(),
        "kmsctl {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(data_dir, args)).expect("kmsctl prints JSON")
}

/// Runs kmsctl, which must fail as the AWS CLI does for a service error
/// (exit 254) naming `exception`.
fn fails_with(data_dir: &Path, args: &[&str], exception: &str) {
    let out = kmsctl(data_dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{args:?}: {stderr}");
    assert!(
        stderr.contains(&format!("An error occurred ({exception})")),
        "{args:?}: {stderr}"
    );
}

/// The store's ConnectionState and ConnectionErrorCode, as the README's
/// wait loop reads them.
fn state(data_dir: &Path, store: &str) -> (String, String) {
    let text = ok(
        data_dir,
        &[
            "describe-custom-key-stores",
            "--custom-key-store-id",
            store,
            "--output",
            "text",
            "--query",
            "CustomKeyStores[0].[ConnectionState,ConnectionErrorCode]",
        ],
    );
    let mut parts = text.trim_end().split('\t');
    (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    )
}

/// Polls describe-custom-key-stores until the store leaves CONNECTING
/// (connecting is asynchronous, and kmsctl has no event to wait on); the
/// final state. Bounded by the hang guard only.
fn settled(data_dir: &Path, store: &str) -> (String, String) {
    let start = Instant::now();
    loop {
        let s = state(data_dir, store);
        if s.0 != "CONNECTING" {
            return s;
        }
        assert!(
            start.elapsed() < HANG_GUARD,
            "store {store} still CONNECTING"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[test]
fn hsm_key_store_lifecycle_through_kmsctl() {
    let cluster = HsmCluster::start(CLUSTER_ID, 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let flag = cluster.hsm_cluster_flag();
    let _daemon = DaemonProcess::start_with(dir, &["--hsm-cluster", &flag]);
    let ca = cluster.cluster_dir.join("ca.pem");
    let anchor = format!("file://{}", ca.display());
    let pw_file = dir.join("kmsuser.pw");
    std::fs::write(&pw_file, PASSWORD).expect("write");
    let pw = format!("file://{}", pw_file.display());

    // create-custom-key-store: {"CustomKeyStoreId": ...}, nothing else.
    let created = json(
        dir,
        &[
            "create-custom-key-store",
            "--custom-key-store-name",
            "cli-hsm",
            "--cloud-hsm-cluster-id",
            CLUSTER_ID,
            "--trust-anchor-certificate",
            &anchor,
            "--key-store-password",
            &pw,
        ],
    );
    let store = created["CustomKeyStoreId"]
        .as_str()
        .expect("CustomKeyStoreId")
        .to_owned();
    assert!(store.starts_with("cks-"), "{created}");
    assert_eq!(created.as_object().map(|o| o.len()), Some(1), "{created}");
    assert_eq!(state(dir, &store).0, "DISCONNECTED");

    // connect prints nothing; the store connects in the background.
    assert_eq!(
        ok(
            dir,
            &["connect-custom-key-store", "--custom-key-store-id", &store]
        ),
        ""
    );
    assert_eq!(settled(dir, &store), ("CONNECTED".into(), "None".into()));

    let described = json(dir, &["describe-custom-key-stores"]);
    let stores = described["CustomKeyStores"].as_array().expect("list");
    assert_eq!(stores.len(), 1, "{described}");
    let s = &stores[0];
    assert_eq!(s["CustomKeyStoreId"], store.as_str());
    assert_eq!(s["CustomKeyStoreName"], "cli-hsm");
    assert_eq!(s["CloudHsmClusterId"], CLUSTER_ID);
    assert_eq!(s["ConnectionState"], "CONNECTED");
    assert_eq!(s["CustomKeyStoreType"], "AWS_CLOUDHSM");
    assert_eq!(
        s["TrustAnchorCertificate"].as_str(),
        Some(std::fs::read_to_string(&ca).expect("ca.pem").as_str())
    );
    assert!(s.get("ConnectionErrorCode").is_none(), "{s}");
    assert!(s["CreationDate"]
        .as_str()
        .is_some_and(|d| d.ends_with("+00:00")));
    // Every page fetched: no page tail, as the AWS CLI's paginator.
    assert!(described.get("Truncated").is_none(), "{described}");
    let page = json(dir, &["describe-custom-key-stores", "--limit", "1"]);
    assert_eq!(page["Truncated"], false, "{page}");

    // An HSM key, used for envelope encryption.
    let key = json(
        dir,
        &[
            "create-key",
            "--origin",
            "AWS_CLOUDHSM",
            "--custom-key-store-id",
            &store,
            "--description",
            "hsm key",
        ],
    );
    let meta = &key["KeyMetadata"];
    assert_eq!(meta["Origin"], "AWS_CLOUDHSM");
    assert_eq!(meta["CustomKeyStoreId"], store.as_str());
    assert_eq!(meta["CloudHsmClusterId"], CLUSTER_ID);
    let key_id = meta["KeyId"].as_str().expect("KeyId").to_owned();
    let dk = json(
        dir,
        &[
            "generate-data-key",
            "--key-id",
            &key_id,
            "--key-spec",
            "AES_256",
            "--encryption-context",
            "purpose=cli",
        ],
    );
    let blob_path = dir.join("dk.bin");
    std::fs::write(
        &blob_path,
        b64(dk["CiphertextBlob"].as_str().expect("blob")),
    )
    .expect("write");
    let blob = format!("fileb://{}", blob_path.display());
    let opened = json(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=cli",
        ],
    );
    assert_eq!(opened["Plaintext"], dk["Plaintext"]);
    assert_eq!(opened["KeyId"], dk["KeyId"]);

    // AWS's rules, in the AWS CLI's words.
    fails_with(
        dir,
        &["delete-custom-key-store", "--custom-key-store-id", &store],
        "CustomKeyStoreInvalidStateException",
    );
    assert_eq!(
        ok(
            dir,
            &[
                "update-custom-key-store",
                "--custom-key-store-id",
                &store,
                "--new-custom-key-store-name",
                "cli-hsm-renamed",
            ],
        ),
        ""
    );
    let by_name = json(
        dir,
        &[
            "describe-custom-key-stores",
            "--custom-key-store-name",
            "cli-hsm-renamed",
        ],
    );
    assert_eq!(
        by_name["CustomKeyStores"][0]["CustomKeyStoreId"],
        store.as_str()
    );
    fails_with(
        dir,
        &[
            "describe-custom-key-stores",
            "--custom-key-store-name",
            "cli-hsm",
        ],
        "CustomKeyStoreNotFoundException",
    );

    // Disconnected: the key is Unavailable and unusable.
    assert_eq!(
        ok(
            dir,
            &[
                "disconnect-custom-key-store",
                "--custom-key-store-id",
                &store
            ]
        ),
        ""
    );
    assert_eq!(state(dir, &store).0, "DISCONNECTED");
    let d = json(dir, &["describe-key", "--key-id", &key_id]);
    assert_eq!(d["KeyMetadata"]["KeyState"], "Unavailable");
    fails_with(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=cli",
        ],
        "KMSInvalidStateException",
    );
    fails_with(
        dir,
        &["delete-custom-key-store", "--custom-key-store-id", &store],
        "CustomKeyStoreHasCMKsException",
    );

    // A wrong password: FAILED with INVALID_CREDENTIALS; a FAILED store is
    // disconnected before it connects again.
    ok(
        dir,
        &[
            "update-custom-key-store",
            "--custom-key-store-id",
            &store,
            "--key-store-password",
            "not-the-Pa55word",
        ],
    );
    ok(
        dir,
        &["connect-custom-key-store", "--custom-key-store-id", &store],
    );
    assert_eq!(
        settled(dir, &store),
        ("FAILED".into(), "INVALID_CREDENTIALS".into())
    );
    fails_with(
        dir,
        &["connect-custom-key-store", "--custom-key-store-id", &store],
        "CustomKeyStoreInvalidStateException",
    );
    ok(
        dir,
        &[
            "disconnect-custom-key-store",
            "--custom-key-store-id",
            &store,
        ],
    );
    ok(
        dir,
        &[
            "update-custom-key-store",
            "--custom-key-store-id",
            &store,
            "--key-store-password",
            &pw,
        ],
    );
    ok(
        dir,
        &["connect-custom-key-store", "--custom-key-store-id", &store],
    );
    assert_eq!(settled(dir, &store), ("CONNECTED".into(), "None".into()));
    let again = json(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "purpose=cli",
        ],
    );
    assert_eq!(again["Plaintext"], dk["Plaintext"]);
}
