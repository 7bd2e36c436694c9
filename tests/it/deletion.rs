//! ScheduleKeyDeletion, CancelKeyDeletion and the deletion job: the
//! waiting period is measured on the server's (manual) clock, nothing is
//! deleted before it ends, and once it ends the key, its material and its
//! aliases are really gone — whether the job is run by hand, runs in the
//! background, or runs after a restart.

use std::time::Duration;

use kmsd::clock::{Clock, DAY_MS};
use kmsd::model::KeyId;
use kmsd::proto::kms::v1 as pb;
use kmsd::service::time::to_timestamp;
use tonic::Code;

use crate::harness::*;

const SECOND: Duration = Duration::from_secs(1);

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

async fn schedule(
    c: &mut Client,
    key_id: &str,
    days: Option<i32>,
) -> Result<pb::ScheduleKeyDeletionResponse, tonic::Status> {
    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: key_id.into(),
        pending_window_in_days: days,
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn describe_status(c: &mut Client, key_id: &str) -> Result<pb::KeyMetadata, tonic::Status> {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key_id.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().key_metadata.expect("metadata"))
}

/// Waits for the server's background pass that has seen the current clock
/// (see `TestServer::background_pass`), then asserts the key is gone. The
/// test calls no job itself, so the background job did the deletion.
async fn assert_deleted_by_background_job(server: &TestServer, c: &mut Client, key_id: &str) {
    server.background_pass().await;
    let e = describe_status(c, key_id)
        .await
        .expect_err("the key is still there after the background pass");
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
}

#[tokio::test]
async fn a_key_is_deleted_when_its_window_ends_and_not_before() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let doomed = create_key(&mut c, "doomed").await;
    let keeper = create_key(&mut c, "keeper").await;
    for (alias, key) in [
        ("alias/doomed", &doomed),
        ("alias/doomed-too", &doomed),
        ("alias/keeper", &keeper),
    ] {
        c.create_alias(pb::CreateAliasRequest {
            alias_name: alias.into(),
            target_key_id: key.clone(),
        })
        .await
        .expect("create alias");
    }
    let ec = ctx(&[("app", "deletion")]);
    let blob = encrypt(&mut c, &doomed, b"doomed data", &ec).await;
    let dk_blob = c
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: doomed.clone(),
            number_of_bytes: Some(32),
            ..Default::default()
        })
        .await
        .expect("data key")
        .into_inner()
        .ciphertext_blob;
    let keeper_blob = encrypt(&mut c, &keeper, b"keeper data", &ec).await;

    let now = server.clock.now_ms();
    let out = schedule(&mut c, &doomed, Some(7)).await.expect("schedule");
    assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &doomed));
    assert_eq!(out.deletion_date, Some(to_timestamp(now + 7 * DAY_MS)));
    assert_eq!(out.key_state, pb::KeyState::PendingDeletion as i32);
    assert_eq!(out.pending_window_in_days, 7);

    let m = describe(&mut c, &doomed).await;
    assert_eq!(m.key_state, pb::KeyState::PendingDeletion as i32);
    assert!(!m.enabled);
    assert_eq!(m.deletion_date, Some(to_timestamp(now + 7 * DAY_MS)));
    assert_eq!(m.pending_deletion_window_in_days, Some(7));

    // One second before the end of the window: nothing is due.
    server.clock.advance(days(7) - SECOND);
    assert_eq!(server.kms.process_due_deletions().await.expect("job"), 0);
    let m = describe(&mut c, &doomed).await;
    assert_eq!(m.key_state, pb::KeyState::PendingDeletion as i32);
    assert_eq!(all_aliases(&mut c).await.len(), 3);

    // Past the end: the key is deleted. (The background job may get there
    // first; either way it is gone once this call returns, because deletions
    // are serialized.)
    server.clock.advance(2 * SECOND);
    server.kms.process_due_deletions().await.expect("job");

    let e = describe_status(&mut c, &doomed).await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    let e = describe_status(&mut c, &key_arn_of(ACCOUNT_A, &doomed))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    // A blob of a deleted key is denied in AWS's generic words, which do
    // not tell whether the key ever existed (docs/security.md, item 7).
    for b in [&blob, &dk_blob] {
        let e = try_decrypt(&mut c, b, &ctx(&[])).await.unwrap_err();
        assert_access_denied(&e, ROOT_A, "kms:Decrypt", &key_arn_of(ACCOUNT_A, &doomed));
        assert!(!e.message().contains(&doomed), "{}", e.message());
    }
    let e = try_decrypt(&mut c, &blob, &ec).await.unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    assert_eq!(all_key_ids(&mut c).await, vec![keeper.clone()]);
    let aliases: Vec<String> = all_aliases(&mut c)
        .await
        .into_iter()
        .map(|a| a.alias_name)
        .collect();
    assert_eq!(aliases, vec!["alias/keeper".to_string()]);
    let e = describe_status(&mut c, "alias/doomed").await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    // The alias name is free again.
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/doomed".into(),
        target_key_id: keeper.clone(),
    })
    .await
    .expect("reuse the deleted key's alias name");

    // The other key is untouched.
    assert_eq!(decrypt(&mut c, &keeper_blob, &ec).await, b"keeper data");
    drop(c);
    server.stop().await;

    // And in the store itself: no record, no material.
    // (Records are authenticated under the root key: the store reads
    // nothing without it.)
    let root = kmsd::store::read_root_key_file(&tmp.path().join("root.key")).expect("root key");
    let store = kmsd::backend::root::open_store(&tmp.path().join("db"), &root).expect("open store");
    let doomed_id: KeyId = doomed.parse().expect("key id");
    let keeper_id: KeyId = keeper.parse().expect("key id");
    assert!(store.get_key(&doomed_id).expect("get").is_none());
    assert!(store.get_material(&doomed_id, 1).expect("get").is_none());
    assert!(store.get_key(&keeper_id).expect("get").is_some());
    assert!(store.get_material(&keeper_id, 1).expect("get").is_some());
    assert!(store
        .aliases_of_key("111122223333", &doomed_id)
        .expect("aliases")
        .is_empty());
    assert_eq!(
        store
            .next_due(kmsd::store::Schedule::Deletion)
            .expect("schedule"),
        None
    );
}

#[tokio::test]
async fn the_background_job_deletes_a_due_key() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "background").await;
    let keeper = create_key(&mut c, "keeper").await;
    schedule(&mut c, &key, Some(7)).await.expect("schedule");

    server.clock.advance(days(7) + SECOND);
    assert_deleted_by_background_job(&server, &mut c, &key).await;
    assert_eq!(all_key_ids(&mut c).await, vec![keeper]);
}

#[tokio::test]
async fn a_scheduled_deletion_survives_a_restart() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "survives restart").await;
    let now = server.clock.now_ms();
    schedule(&mut c, &key, Some(10)).await.expect("schedule");
    drop(c);

    let server = server.restart().await;
    let mut c = server.client().await;
    let m = describe(&mut c, &key).await;
    assert_eq!(m.key_state, pb::KeyState::PendingDeletion as i32);
    assert_eq!(m.deletion_date, Some(to_timestamp(now + 10 * DAY_MS)));
    assert_eq!(m.pending_deletion_window_in_days, Some(10));

    // Not yet due.
    server.clock.advance(days(9));
    assert_eq!(server.kms.process_due_deletions().await.expect("job"), 0);
    assert_eq!(
        describe(&mut c, &key).await.key_state,
        pb::KeyState::PendingDeletion as i32
    );

    // The restarted server's own background job deletes it.
    server.clock.advance(days(1) + SECOND);
    assert_deleted_by_background_job(&server, &mut c, &key).await;
    assert!(all_key_ids(&mut c).await.is_empty());
}

#[tokio::test]
async fn cancelling_returns_the_key_to_disabled_and_keeps_it() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "reprieved").await;
    let blob = encrypt(&mut c, &key, b"still needed", &ctx(&[])).await;
    schedule(&mut c, &key, Some(7)).await.expect("schedule");

    let out = c
        .cancel_key_deletion(pb::CancelKeyDeletionRequest {
            key_id: key.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &key));
    let m = describe(&mut c, &key).await;
    assert_eq!(m.key_state, pb::KeyState::Disabled as i32);
    assert!(!m.enabled);
    assert_eq!(m.deletion_date, None);
    assert_eq!(m.pending_deletion_window_in_days, None);

    // Cancelling again: the key is not pending deletion.
    let e = c
        .cancel_key_deletion(pb::CancelKeyDeletionRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");

    // Well past the old deletion date, the job leaves it alone.
    server.clock.advance(days(8));
    assert_eq!(server.kms.process_due_deletions().await.expect("job"), 0);
    let m = describe(&mut c, &key).await;
    assert_eq!(m.key_state, pb::KeyState::Disabled as i32);

    // Disabled means disabled; once enabled it decrypts again.
    let e = try_decrypt(&mut c, &blob, &ctx(&[])).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    c.enable_key(pb::EnableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("enable");
    assert_eq!(decrypt(&mut c, &blob, &ctx(&[])).await, b"still needed");

    // A new schedule after a cancel uses the new date only.
    let now = server.clock.now_ms();
    let out = schedule(&mut c, &key, Some(7)).await.expect("reschedule");
    assert_eq!(out.deletion_date, Some(to_timestamp(now + 7 * DAY_MS)));
    server.clock.advance(days(7) + SECOND);
    server.kms.process_due_deletions().await.expect("job");
    let e = describe_status(&mut c, &key).await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
}

#[tokio::test]
async fn the_default_window_is_30_days() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "default window").await;
    let now = server.clock.now_ms();
    let out = schedule(&mut c, &key, None).await.expect("schedule");
    assert_eq!(out.pending_window_in_days, 30);
    assert_eq!(out.deletion_date, Some(to_timestamp(now + 30 * DAY_MS)));
    assert_eq!(
        describe(&mut c, &key).await.pending_deletion_window_in_days,
        Some(30)
    );

    server.clock.advance(days(29));
    assert_eq!(server.kms.process_due_deletions().await.expect("job"), 0);
    assert_eq!(
        describe(&mut c, &key).await.key_state,
        pb::KeyState::PendingDeletion as i32
    );
    server.clock.advance(days(1) + SECOND);
    server.kms.process_due_deletions().await.expect("job");
    let e = describe_status(&mut c, &key).await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
}

#[tokio::test]
async fn windows_outside_7_to_30_days_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "out of range").await;
    let before = describe(&mut c, &key).await;

    for days in [6, 31, 0, -1, i32::MAX] {
        let e = schedule(&mut c, &key, Some(days)).await.unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
        assert_eq!(describe(&mut c, &key).await, before, "window {days}");
    }
    // Nothing was put on the schedule either.
    server.clock.advance(days(400));
    assert_eq!(server.kms.process_due_deletions().await.expect("job"), 0);
    assert_eq!(describe(&mut c, &key).await, before);

    // The bounds themselves are accepted.
    for days in [7, 30] {
        let k = create_key(&mut c, "bound").await;
        let out = schedule(&mut c, &k, Some(days)).await.expect("in range");
        assert_eq!(out.pending_window_in_days, days);
    }
}

#[tokio::test]
async fn a_pending_key_refuses_use_and_changes() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "pending").await;
    schedule(&mut c, &key, Some(7)).await.expect("schedule");

    let e = c
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = c
        .enable_key(pb::EnableKeyRequest {
            key_id: key.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = schedule(&mut c, &key, Some(7)).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = c
        .update_key_description(pb::UpdateKeyDescriptionRequest {
            key_id: key.clone(),
            description: "changed".into(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = c
        .tag_resource(pb::TagResourceRequest {
            key_id: key.clone(),
            tags: tags(&[("a", "b")]),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = c
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/pending".into(),
            target_key_id: key.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");

    let m = describe(&mut c, &key).await;
    assert_eq!(m.key_state, pb::KeyState::PendingDeletion as i32);
    assert_eq!(m.description, "pending");
    assert!(all_tags(&mut c, &key).await.is_empty());
    assert!(all_aliases(&mut c).await.is_empty());
}
