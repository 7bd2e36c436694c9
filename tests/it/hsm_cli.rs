//! The README's HSM flow with the real binaries: a two-node hsm-sim
//! cluster, `kmsd serve --dev --hsm-cluster ID=ADDR,ADDR`, and kmsctl's
//! custom key store commands down to an envelope round trip under an
//! AWS_CLOUDHSM key.

use std::time::Duration;

use crate::cli::{b64, kmsctl, stdout_json};
use crate::harness::*;
use crate::hsm_cluster::{HsmCluster, PASSWORD};
use crate::hsm_kms::new_cluster_id;

/// The store's ConnectionState as kmsctl prints it.
fn connection_state(dir: &std::path::Path, store: &str) -> String {
    let out = stdout_json(&kmsctl(
        dir,
        &["describe-custom-key-stores", "--custom-key-store-id", store],
    ));
    let stores = out["CustomKeyStores"].as_array().expect("CustomKeyStores");
    assert_eq!(stores.len(), 1, "{out}");
    stores[0]["ConnectionState"]
        .as_str()
        .expect("ConnectionState")
        .to_owned()
}

#[test]
fn hsm_readme_flow_through_kmsctl() {
    let cluster = HsmCluster::start(&new_cluster_id(), 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let flag = cluster.hsm_cluster_flag();
    let _daemon = DaemonProcess::start_with(dir, &["--hsm-cluster", &flag]);

    let anchor = format!("file://{}", cluster.cluster_dir.join("ca.pem").display());
    let created = stdout_json(&kmsctl(
        dir,
        &[
            "create-custom-key-store",
            "--custom-key-store-name",
            "ExampleKeyStore",
            "--cloud-hsm-cluster-id",
            &cluster.cluster_id,
            "--trust-anchor-certificate",
            &anchor,
            "--key-store-password",
            PASSWORD,
        ],
    ));
    let store = created["CustomKeyStoreId"]
        .as_str()
        .expect("CustomKeyStoreId")
        .to_owned();
    assert_eq!(connection_state(dir, &store), "DISCONNECTED");

    let out = kmsctl(
        dir,
        &["connect-custom-key-store", "--custom-key-store-id", &store],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Connecting is asynchronous: poll until it settles.
    let deadline = std::time::Instant::now() + HANG_GUARD;
    let state = loop {
        let s = connection_state(dir, &store);
        if s != "CONNECTING" {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "still CONNECTING");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state, "CONNECTED");

    let key = stdout_json(&kmsctl(
        dir,
        &[
            "create-key",
            "--origin",
            "AWS_CLOUDHSM",
            "--custom-key-store-id",
            &store,
            "--description",
            "HSM-backed",
        ],
    ));
    let meta = &key["KeyMetadata"];
    assert_eq!(meta["Origin"], "AWS_CLOUDHSM", "{key}");
    assert_eq!(meta["CustomKeyStoreId"], store.as_str(), "{key}");
    assert_eq!(
        meta["CloudHsmClusterId"],
        cluster.cluster_id.as_str(),
        "{key}"
    );
    let key_id = meta["KeyId"].as_str().expect("KeyId").to_owned();

    let dk = stdout_json(&kmsctl(
        dir,
        &[
            "generate-data-key",
            "--key-id",
            &key_id,
            "--key-spec",
            "AES_256",
            "--encryption-context",
            "app=readme",
        ],
    ));
    let plaintext = b64(dk["Plaintext"].as_str().expect("Plaintext"));
    assert_eq!(plaintext.len(), 32);
    let blob_path = dir.join("dk.bin");
    std::fs::write(
        &blob_path,
        b64(dk["CiphertextBlob"].as_str().expect("blob")),
    )
    .expect("write blob");
    let out = kmsctl(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &format!("fileb://{}", blob_path.display()),
            "--encryption-context",
            "app=readme",
            "--output",
            "text",
            "--query",
            "Plaintext",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(b64(String::from_utf8_lossy(&out.stdout).trim()), plaintext);

    let out = kmsctl(
        dir,
        &[
            "disconnect-custom-key-store",
            "--custom-key-store-id",
            &store,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + HANG_GUARD;
    loop {
        let s = connection_state(dir, &store);
        if s == "DISCONNECTED" {
            break;
        }
        assert_eq!(s, "DISCONNECTING");
        assert!(std::time::Instant::now() < deadline, "still DISCONNECTING");
        std::thread::sleep(Duration::from_millis(100));
    }
}
