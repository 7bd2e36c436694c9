//! `kmsd create-keys` / `Kms::create_keys_bulk`: the supported bulk-load
//! path. Keys made in bulk are ordinary keys (listed, usable, with the
//! default policy), the load spans several synced batches, an unauthorized
//! caller creates nothing, and a running daemon's data dir is refused.

use std::process::Command;

use kmsd::api::CreateKeyRequest;
use kmsd::kms::{Caller, BULK_BATCH};
use kmsd::model::Principal;

use kmsd::proto::kms::v1 as pb;

use crate::harness::*;

fn create_keys(dir: &std::path::Path, count: usize) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["create-keys", "--dev", "--description", "bulk", "--count"])
        .arg(count.to_string())
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kmsd create-keys")
}

#[tokio::test]
async fn bulk_created_keys_are_ordinary_keys_across_several_batches() {
    let dir = tempfile::tempdir().unwrap();
    let count = 2 * BULK_BATCH + 17;
    let out = create_keys(dir.path(), count);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("created {count} keys")),
        "{stdout}"
    );

    let server = TestServer::start_in(dir.path()).await;
    let mut c = server.client().await;
    let ids = all_key_ids(&mut c).await;
    assert_eq!(ids.len(), count);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), count, "every key has its own id");

    // First and last of the load: described, with the default policy, and
    // usable for envelope encryption.
    for id in [&ids[0], &ids[count - 1]] {
        let meta = describe(&mut c, id).await;
        assert_eq!(meta.description, "bulk");
        assert_eq!(meta.key_state, pb::KeyState::Enabled as i32);
        assert_eq!(
            get_key_policy(&mut c, id).await,
            kmsd::kms::default_key_policy(ACCOUNT_A)
        );
        let ec = ctx(&[("purpose", "bulk")]);
        let blob = encrypt(&mut c, id, b"bulk-loaded", &ec).await;
        assert_eq!(decrypt(&mut c, &blob, &ec).await, b"bulk-loaded");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_caller_who_may_not_create_keys_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path()).await;
    let alice = Caller::new(Principal::parse(ALICE_A).unwrap());
    let err = server
        .kms
        .create_keys_bulk(&alice, CreateKeyRequest::default(), 100, |_: &[_]| {})
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("AccessDeniedException: "),
        "{err}"
    );
    // Invalid input is refused before anything is written, too.
    let root = Caller::new(Principal::parse(ROOT_A).unwrap());
    let bad = CreateKeyRequest {
        description: "x".repeat(8193),
        ..Default::default()
    };
    let err = server
        .kms
        .create_keys_bulk(&root, bad, 100, |_: &[_]| {})
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("ValidationException"), "{err}");
    let mut c = server.client().await;
    assert!(all_key_ids(&mut c).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn create_keys_refuses_a_data_dir_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = DaemonProcess::start(dir.path());
    let out = create_keys(dir.path(), 10);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another kmsd"), "{stderr}");
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    // Nothing was created while it was refused.
    let server = TestServer::start_in(dir.path()).await;
    let mut c = server.client().await;
    assert!(all_key_ids(&mut c).await.is_empty());
    server.stop().await;
}
