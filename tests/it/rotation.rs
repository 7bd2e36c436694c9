//! Key rotation: EnableKeyRotation, DisableKeyRotation,
//! GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations and the
//! automatic-rotation job, against AWS's semantics:
//!
//! - every rotation adds a new current material version; new encryptions
//!   (Encrypt, GenerateDataKey*, ReEncrypt) use it, and every older
//!   ciphertext still decrypts and reports the KeyMaterialId that sealed it;
//! - the schedule is measured on the server's (manual) clock, survives
//!   restarts, and after downtime performs one catch-up rotation, not a
//!   burst of the missed ones;
//! - disabled, pending-deletion and ineligible keys are refused with AWS's
//!   errors, RotationPeriodInDays is 90–2560, on-demand rotations are
//!   limited to 10 per key;
//! - the rotation actions are authorized like every other KMS action.
//!
//! Time never passes by itself here: tests advance the server's
//! `ManualClock` and then either run the job's own entry point
//! (`Kms::process_due_rotations`) or await the background job's next pass
//! (`TestServer::background_pass`, the core's "job pass done" signal) and
//! then assert: no polling, no sleeps.

use std::collections::HashSet;
use std::time::Duration;

use kmsd::clock::{Clock, ManualClock, DAY_MS};
use kmsd::model::{KeyId, KeySpec, MaterialLocation, MaterialOrigin, MaterialState};
use kmsd::proto::kms::v1 as pb;
use kmsd::service::time::to_timestamp;
use tonic::Code;

use crate::harness::*;

const SECOND: Duration = Duration::from_secs(1);
const SECOND_MS: i64 = 1_000;

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

async fn enable_rotation(
    c: &mut Client,
    key_id: &str,
    period: Option<i32>,
) -> Result<(), tonic::Status> {
    c.enable_key_rotation(pb::EnableKeyRotationRequest {
        key_id: key_id.into(),
        rotation_period_in_days: period,
    })
    .await
    .map(|_| ())
}

async fn disable_rotation(c: &mut Client, key_id: &str) -> Result<(), tonic::Status> {
    c.disable_key_rotation(pb::DisableKeyRotationRequest {
        key_id: key_id.into(),
    })
    .await
    .map(|_| ())
}

async fn try_rotation_status(
    c: &mut Client,
    key_id: &str,
) -> Result<pb::GetKeyRotationStatusResponse, tonic::Status> {
    c.get_key_rotation_status(pb::GetKeyRotationStatusRequest {
        key_id: key_id.into(),
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn rotation_status(c: &mut Client, key_id: &str) -> pb::GetKeyRotationStatusResponse {
    try_rotation_status(c, key_id)
        .await
        .unwrap_or_else(|e| panic!("get key rotation status of {key_id}: {e:?}"))
}

async fn rotate_on_demand(
    c: &mut Client,
    key_id: &str,
) -> Result<pb::RotateKeyOnDemandResponse, tonic::Status> {
    c.rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
        key_id: key_id.into(),
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn list_page(
    c: &mut Client,
    key_id: &str,
    include: pb::IncludeKeyMaterial,
    limit: Option<i32>,
    marker: Option<String>,
) -> Result<pb::ListKeyRotationsResponse, tonic::Status> {
    c.list_key_rotations(pb::ListKeyRotationsRequest {
        key_id: key_id.into(),
        include_key_material: include as i32,
        limit,
        marker,
    })
    .await
    .map(tonic::Response::into_inner)
}

/// Every entry of ListKeyRotations, following markers with pages of
/// `limit`; checks the marker/truncated contract on the way.
async fn all_rotations_paged(
    c: &mut Client,
    key_id: &str,
    include: pb::IncludeKeyMaterial,
    limit: i32,
) -> Vec<pb::RotationsListEntry> {
    let mut out = Vec::new();
    let mut marker = None;
    for _ in 0..10_000 {
        let page = list_page(c, key_id, include, Some(limit), marker.take())
            .await
            .unwrap_or_else(|e| panic!("list key rotations of {key_id}: {e:?}"));
        assert!(
            page.rotations.len() <= limit as usize,
            "page over the limit"
        );
        out.extend(page.rotations);
        if !page.truncated {
            assert!(page.next_marker.is_empty(), "marker on the last page");
            return out;
        }
        assert!(
            !page.next_marker.is_empty(),
            "truncated page without marker"
        );
        marker = Some(page.next_marker);
    }
    panic!("ListKeyRotations of {key_id} never ended");
}

async fn all_rotations(
    c: &mut Client,
    key_id: &str,
    include: pb::IncludeKeyMaterial,
) -> Vec<pb::RotationsListEntry> {
    all_rotations_paged(c, key_id, include, 1000).await
}

async fn rotations_only(c: &mut Client, key_id: &str) -> Vec<pb::RotationsListEntry> {
    all_rotations(c, key_id, pb::IncludeKeyMaterial::RotationsOnly).await
}

/// The key's completed rotations, asserting there are exactly `n` and the
/// newest is CURRENT. Call it once the rotation is known to be committed:
/// after `TestServer::background_pass` (the pass commits the rotation and
/// updates the key cache before it is published) or after the call that
/// rotated synchronously (EnableKey of a key that missed a rotation).
async fn exactly_rotations(c: &mut Client, key_id: &str, n: usize) -> Vec<pb::RotationsListEntry> {
    let list = rotations_only(c, key_id).await;
    assert_eq!(list.len(), n, "rotations of {key_id}: {list:#?}");
    if let Some(newest) = list.last() {
        assert_eq!(
            newest.key_material_state,
            pb::KeyMaterialState::Current as i32,
            "the newest rotation is not CURRENT: {list:#?}"
        );
    }
    list
}

/// Encrypt, expecting success; the whole response.
async fn encrypt_full(c: &mut Client, key_id: &str, plaintext: &[u8]) -> pb::EncryptResponse {
    c.encrypt(pb::EncryptRequest {
        key_id: key_id.into(),
        plaintext: plaintext.to_vec(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("encrypt under {key_id}: {e:?}"))
    .into_inner()
}

async fn current_material(c: &mut Client, key_id: &str) -> String {
    let id = describe(c, key_id).await.current_key_material_id;
    assert!(!id.is_empty(), "DescribeKey has no CurrentKeyMaterialId");
    id
}

/// Runs the rotation job's entry point once. The server's own background
/// job is woken by the same clock advance and may win the race for a due
/// rotation (both run `process_due_rotations` under kmsd's write lock), so
/// this returns how many the call itself did; either way, everything due
/// has been rotated when it returns.
async fn run_rotation_job(server: &TestServer) -> usize {
    server
        .kms
        .process_due_rotations()
        .await
        .expect("rotation job")
}

fn assert_entry(
    e: &pb::RotationsListEntry,
    key_id: &str,
    kind: pb::RotationType,
    at_ms: i64,
    current: bool,
) {
    assert_eq!(e.key_id, key_id, "{e:?}");
    assert_eq!(e.rotation_type, kind as i32, "{e:?}");
    assert_eq!(e.rotation_date, Some(to_timestamp(at_ms)), "{e:?}");
    let state = if current {
        pb::KeyMaterialState::Current
    } else {
        pb::KeyMaterialState::NonCurrent
    };
    assert_eq!(e.key_material_state, state as i32, "{e:?}");
    assert_eq!(e.key_material_id.len(), 64, "{e:?}");
}

// ---------------------------------------------------------------------------

/// 1,000 automatic rotations of one key, a ciphertext sealed under every
/// version, and every one of them still decrypts.
#[tokio::test]
async fn a_thousand_rotations_keep_every_ciphertext_decryptable() {
    const ROUNDS: usize = 1_000;
    let started = std::time::Instant::now();
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "rotated a thousand times").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("enable rotation");
    let t0 = server.clock.now_ms();
    let step = days(90) + SECOND;
    let step_ms = 90 * DAY_MS + SECOND_MS;

    let mut sealed: Vec<(Vec<u8>, Vec<u8>, String)> = Vec::with_capacity(ROUNDS);
    let mut by_this_call = 0;
    for i in 0..ROUNDS {
        let plaintext = format!("plaintext number {i} under material {i}").into_bytes();
        let out = encrypt_full(&mut c, &key, &plaintext).await;
        assert_eq!(out.key_id, arn);
        sealed.push((out.ciphertext_blob, plaintext, out.key_material_id));

        server.clock.advance(step);
        let n = run_rotation_job(&server).await;
        assert!(n <= 1, "round {i}: {n} rotations of one key at once");
        by_this_call += n;
    }
    let rotating = started.elapsed();

    // Every version sealed something, and each under its own material.
    let ids: HashSet<&str> = sealed.iter().map(|(_, _, id)| id.as_str()).collect();
    assert_eq!(ids.len(), ROUNDS, "KeyMaterialIds repeat");
    let newest = current_material(&mut c, &key).await;
    assert!(
        !ids.contains(newest.as_str()),
        "the last rotation did not happen"
    );

    // Exactly one rotation per round: 1,000 AUTOMATIC entries, dated by the
    // manual clock, naming exactly the materials the Encrypts reported.
    let list = all_rotations(&mut c, &key, pb::IncludeKeyMaterial::AllKeyMaterial).await;
    assert_eq!(
        list.len(),
        ROUNDS + 1,
        "original material + one rotation per round"
    );
    assert_eq!(list[0].key_material_id, sealed[0].2);
    assert_eq!(
        list[0].rotation_date, None,
        "the original material was not rotated in"
    );
    for (i, e) in list.iter().enumerate().skip(1) {
        let expected_id = sealed.get(i).map_or(newest.as_str(), |s| s.2.as_str());
        assert_eq!(e.key_material_id, expected_id, "entry {i}");
        assert_entry(
            e,
            &key,
            pb::RotationType::Automatic,
            t0 + i as i64 * step_ms,
            i == ROUNDS,
        );
    }
    let status = rotation_status(&mut c, &key).await;
    assert_eq!(
        status.next_rotation_date,
        Some(to_timestamp(t0 + (ROUNDS as i64 + 1) * 90 * DAY_MS))
    );

    // Every blob decrypts to its plaintext and reports its own material.
    for (i, (blob, plaintext, id)) in sealed.iter().enumerate() {
        let out = try_decrypt(&mut c, blob, &ctx(&[]))
            .await
            .unwrap_or_else(|e| panic!("decrypt blob {i}: {e:?}"));
        assert_eq!(&out.plaintext, plaintext, "blob {i}");
        assert_eq!(&out.key_material_id, id, "blob {i}");
        assert_eq!(out.key_id, arn);
    }
    // And new encryptions use the newest material.
    assert_eq!(
        encrypt_full(&mut c, &key, b"after all that")
            .await
            .key_material_id,
        newest
    );
    eprintln!(
        "{ROUNDS} rotations in {rotating:?} ({by_this_call} by process_due_rotations, \
         the rest by the background job); whole test {:?}",
        started.elapsed()
    );
}

/// The schedule survives a restart: the restarted server's background job
/// performs the rotation that falls due after it comes back.
#[tokio::test]
async fn a_restart_in_the_middle_of_a_schedule_keeps_it() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "restarted").await;
    enable_rotation(&mut c, &key, None)
        .await
        .expect("enable rotation");
    let t0 = server.clock.now_ms();
    let status = rotation_status(&mut c, &key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.key_id, key_arn_of(ACCOUNT_A, &key));
    assert_eq!(status.rotation_period_in_days, Some(365));
    let first_due = t0 + 365 * DAY_MS;
    assert_eq!(status.next_rotation_date, Some(to_timestamp(first_due)));
    let original = current_material(&mut c, &key).await;
    let old = encrypt_full(&mut c, &key, b"sealed before the restart").await;
    assert_eq!(old.key_material_id, original);

    server.clock.advance(days(200));
    assert_eq!(run_rotation_job(&server).await, 0, "not due after 200 days");
    let server = server.restart().await;
    let mut c = server.client().await;
    let status = rotation_status(&mut c, &key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    assert_eq!(status.next_rotation_date, Some(to_timestamp(first_due)));
    assert!(rotations_only(&mut c, &key).await.is_empty());

    // Day 366: the restarted server's own job rotates the key.
    server.clock.advance(days(166));
    server.background_pass().await;
    let list = exactly_rotations(&mut c, &key, 1).await;
    assert_entry(
        &list[0],
        &key,
        pb::RotationType::Automatic,
        t0 + 366 * DAY_MS,
        true,
    );
    let newest = current_material(&mut c, &key).await;
    assert_ne!(newest, original);
    assert_eq!(list[0].key_material_id, newest);

    let out = try_decrypt(&mut c, &old.ciphertext_blob, &ctx(&[]))
        .await
        .expect("old ciphertext decrypts");
    assert_eq!(out.plaintext, b"sealed before the restart");
    assert_eq!(out.key_material_id, original);
    assert_eq!(
        encrypt_full(&mut c, &key, b"new").await.key_material_id,
        newest
    );

    // The schedule moved on by exactly one period from the missed due date.
    let status = rotation_status(&mut c, &key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(
        status.next_rotation_date,
        Some(to_timestamp(first_due + 365 * DAY_MS))
    );
}

/// Downtime spanning several periods gives one catch-up rotation when the
/// server comes back, then the normal period from that rotation on.
#[tokio::test]
async fn downtime_over_several_periods_gives_one_catch_up_rotation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::starting_now();
    let server = TestServer::start_in_with_clock(tmp.path(), clock.clone()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "slept through four periods").await;
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("enable rotation");
    let t0 = clock.now_ms();
    assert_eq!(
        rotation_status(&mut c, &key).await.next_rotation_date,
        Some(to_timestamp(t0 + 90 * DAY_MS))
    );
    let original = current_material(&mut c, &key).await;
    let old = encrypt_full(&mut c, &key, b"before the downtime").await;
    drop(c);
    server.stop().await;

    // Down for 400 days: four rotation dates (90, 180, 270, 360) missed.
    clock.advance(days(400));
    let server = TestServer::start_in_with_clock(tmp.path(), clock.clone()).await;
    let mut c = server.client().await;
    // The catch-up pass at start reads the clock after the downtime.
    server.background_pass().await;
    let list = exactly_rotations(&mut c, &key, 1).await;
    // Nothing else is due now: the job made exactly one catch-up rotation.
    assert_eq!(
        run_rotation_job(&server).await,
        0,
        "more catch-up rotations"
    );
    let list2 = rotations_only(&mut c, &key).await;
    assert_eq!(list2, list, "exactly one catch-up rotation, not four");
    let caught_up = t0 + 400 * DAY_MS;
    assert_entry(&list[0], &key, pb::RotationType::Automatic, caught_up, true);
    let newest = current_material(&mut c, &key).await;
    assert_ne!(newest, original);
    let out = try_decrypt(&mut c, &old.ciphertext_blob, &ctx(&[]))
        .await
        .expect("old ciphertext decrypts");
    assert_eq!(out.plaintext, b"before the downtime");
    assert_eq!(out.key_material_id, original);

    // The next one is a period after the catch-up, not on the old grid.
    let status = rotation_status(&mut c, &key).await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    assert_eq!(
        status.next_rotation_date,
        Some(to_timestamp(caught_up + 90 * DAY_MS))
    );
    server.clock.advance(days(90) - SECOND);
    assert_eq!(run_rotation_job(&server).await, 0, "rotated early");
    assert_eq!(rotations_only(&mut c, &key).await.len(), 1);
    server.clock.advance(2 * SECOND);
    run_rotation_job(&server).await;
    let list = rotations_only(&mut c, &key).await;
    assert_eq!(list.len(), 2);
    assert_entry(
        &list[0],
        &key,
        pb::RotationType::Automatic,
        caught_up,
        false,
    );
    assert_entry(
        &list[1],
        &key,
        pb::RotationType::Automatic,
        caught_up + 90 * DAY_MS + SECOND_MS,
        true,
    );
}

/// Keys that cannot be rotated (now) are refused with AWS's errors, and a
/// refused call changes nothing.
#[tokio::test]
async fn ineligible_keys_and_bad_requests_are_refused() {
    let server = TestServer::start().await;
    let mut c = server.client().await;

    // Disabled key: DisabledException for the changing calls; the status
    // can still be read and is unchanged.
    let disabled = create_key(&mut c, "disabled").await;
    c.disable_key(pb::DisableKeyRequest {
        key_id: disabled.clone(),
    })
    .await
    .expect("disable key");
    let e = enable_rotation(&mut c, &disabled, None).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    let e = enable_rotation(&mut c, &disabled, Some(90))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    let e = rotate_on_demand(&mut c, &disabled).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    let e = disable_rotation(&mut c, &disabled).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    let status = rotation_status(&mut c, &disabled).await;
    assert!(!status.key_rotation_enabled);
    assert_eq!(status.next_rotation_date, None);
    assert!(rotations_only(&mut c, &disabled).await.is_empty());

    // Pending deletion: KMSInvalidStateException.
    let pending = create_key(&mut c, "pending deletion").await;
    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: pending.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule deletion");
    let e = enable_rotation(&mut c, &pending, None).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = rotate_on_demand(&mut c, &pending).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    let e = disable_rotation(&mut c, &pending).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");

    // RotationPeriodInDays outside 90–2560: ValidationException, nothing
    // enabled; the bounds themselves are accepted.
    let key = create_key(&mut c, "periods").await;
    for days in [89, 2561, 0, -1, i32::MIN, i32::MAX] {
        let e = enable_rotation(&mut c, &key, Some(days)).await.unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
        let status = rotation_status(&mut c, &key).await;
        assert!(
            !status.key_rotation_enabled,
            "period {days} enabled rotation"
        );
    }
    let now = server.clock.now_ms();
    for days in [90, 2560] {
        enable_rotation(&mut c, &key, Some(days))
            .await
            .unwrap_or_else(|e| panic!("period {days}: {e:?}"));
        let status = rotation_status(&mut c, &key).await;
        assert!(status.key_rotation_enabled);
        assert_eq!(status.rotation_period_in_days, Some(days));
        assert_eq!(
            status.next_rotation_date,
            Some(to_timestamp(now + i64::from(days) * DAY_MS))
        );
    }

    // At most 10 on-demand rotations per key; the 11th is refused with
    // LimitExceededException and makes no new version.
    let busy = create_key(&mut c, "rotated on demand").await;
    for i in 0..10 {
        let out = rotate_on_demand(&mut c, &busy)
            .await
            .unwrap_or_else(|e| panic!("on-demand rotation {}: {e:?}", i + 1));
        assert!(
            out.key_id == busy || out.key_id == key_arn_of(ACCOUNT_A, &busy),
            "RotateKeyOnDemand names another key: {}",
            out.key_id
        );
    }
    let before = current_material(&mut c, &busy).await;
    assert_eq!(rotations_only(&mut c, &busy).await.len(), 10);
    let e = rotate_on_demand(&mut c, &busy).await.unwrap_err();
    assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException");
    assert_eq!(rotations_only(&mut c, &busy).await.len(), 10);
    assert_eq!(current_material(&mut c, &busy).await, before);
    assert_eq!(
        encrypt_full(&mut c, &busy, b"x").await.key_material_id,
        before
    );
    // The limit is on on-demand rotations only: automatic ones go on.
    enable_rotation(&mut c, &busy, Some(90))
        .await
        .expect("enable rotation");
    server.clock.advance(days(90) + SECOND);
    run_rotation_job(&server).await;
    assert_eq!(rotations_only(&mut c, &busy).await.len(), 11);
    assert_ne!(current_material(&mut c, &busy).await, before);

    // Asymmetric and HMAC keys cannot be rotated in AWS:
    // UnsupportedOperationException from both rotation calls, and nothing
    // changes. (Imported-material keys are issue 13's.)
    for (spec, usage) in [
        (pb::KeySpec::EccNistP256, pb::KeyUsageType::SignVerify),
        (pb::KeySpec::Hmac256, pb::KeyUsageType::GenerateVerifyMac),
        (
            pb::KeySpec::MlKem512,
            pb::KeyUsageType::EncapsulateDecapsulate,
        ),
    ] {
        let key = c
            .create_key(pb::CreateKeyRequest {
                key_spec: spec as i32,
                key_usage: usage as i32,
                ..Default::default()
            })
            .await
            .expect("create key")
            .into_inner()
            .key_metadata
            .expect("metadata")
            .key_id;
        let before = current_material(&mut c, &key).await;
        let e = enable_rotation(&mut c, &key, None).await.unwrap_err();
        assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
        let e = rotate_on_demand(&mut c, &key).await.unwrap_err();
        assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
        assert_eq!(current_material(&mut c, &key).await, before);
    }
    // An imported-material (EXTERNAL) key is never eligible for automatic
    // rotation; without material (PendingImport) its state is what AWS
    // refuses first (an EXTERNAL key with material gets
    // UnsupportedOperationException: kms::import's core tests).
    let external = c
        .create_key(pb::CreateKeyRequest {
            origin: pb::OriginType::External as i32,
            ..Default::default()
        })
        .await
        .expect("create EXTERNAL key")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    let e = enable_rotation(&mut c, &external, None).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
}

/// ReEncrypt to the same key moves a ciphertext to the newest material.
#[tokio::test]
async fn re_encrypt_moves_ciphertexts_to_the_newest_material() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "re-encrypted").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let ec = ctx(&[("app", "rotation")]);
    let v1 = current_material(&mut c, &key).await;
    let old_blob = encrypt(&mut c, &key, b"move me forward", &ec).await;

    rotate_on_demand(&mut c, &key).await.expect("rotate");
    let v2 = current_material(&mut c, &key).await;
    assert_ne!(v1, v2);

    let out = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: old_blob.clone(),
            source_encryption_context: ec.clone(),
            destination_key_id: key.clone(),
            destination_encryption_context: ec.clone(),
            ..Default::default()
        })
        .await
        .expect("re-encrypt")
        .into_inner();
    assert_eq!(out.source_key_id, arn);
    assert_eq!(out.key_id, arn);
    assert_eq!(out.source_key_material_id, v1);
    assert_eq!(out.destination_key_material_id, v2);
    assert_ne!(out.ciphertext_blob, old_blob);

    let new = try_decrypt(&mut c, &out.ciphertext_blob, &ec)
        .await
        .expect("decrypt the re-encrypted blob");
    assert_eq!(new.plaintext, b"move me forward");
    assert_eq!(new.key_material_id, v2);
    let old = try_decrypt(&mut c, &old_blob, &ec)
        .await
        .expect("decrypt the original blob");
    assert_eq!(old.plaintext, b"move me forward");
    assert_eq!(old.key_material_id, v1);

    // Once more, naming the source key and changing the context: from v2
    // to v3.
    rotate_on_demand(&mut c, &key).await.expect("rotate");
    let v3 = current_material(&mut c, &key).await;
    let ec2 = ctx(&[("app", "rotation"), ("generation", "3")]);
    let out2 = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: out.ciphertext_blob.clone(),
            source_encryption_context: ec.clone(),
            source_key_id: Some(arn.clone()),
            destination_key_id: arn.clone(),
            destination_encryption_context: ec2.clone(),
            ..Default::default()
        })
        .await
        .expect("re-encrypt again")
        .into_inner();
    assert_eq!(out2.source_key_material_id, v2);
    assert_eq!(out2.destination_key_material_id, v3);
    let newest = try_decrypt(&mut c, &out2.ciphertext_blob, &ec2)
        .await
        .expect("decrypt");
    assert_eq!(newest.plaintext, b"move me forward");
    assert_eq!(newest.key_material_id, v3);
    for (blob, id) in [(&old_blob, &v1), (&out.ciphertext_blob, &v2)] {
        let d = try_decrypt(&mut c, blob, &ec).await.expect("decrypt");
        assert_eq!(d.plaintext, b"move me forward");
        assert_eq!(&d.key_material_id, id);
    }
}

/// New encryptions use the newest material; ListKeyRotations reports the
/// history (types, dates, states, the original material, pages); turning
/// automatic rotation off stops it; a disabled key is skipped when due.
#[tokio::test]
async fn rotations_are_listed_and_used_and_can_be_stopped() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "history").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    assert!(rotations_only(&mut c, &key).await.is_empty());
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("enable rotation");
    let t0 = server.clock.now_ms();
    let original = current_material(&mut c, &key).await;
    assert_eq!(
        encrypt_full(&mut c, &key, b"v1").await.key_material_id,
        original
    );

    // Five rotations: on demand, automatic, on demand, automatic, on demand.
    let mut expected: Vec<(pb::RotationType, i64)> = Vec::new();
    let mut materials = vec![original.clone()];
    let mut blobs = Vec::new();
    for round in 0..5 {
        if round % 2 == 0 {
            let before = rotation_status(&mut c, &key).await.next_rotation_date;
            rotate_on_demand(&mut c, &key)
                .await
                .expect("rotate on demand");
            // AWS: on-demand rotations do not change the automatic schedule.
            assert_eq!(
                rotation_status(&mut c, &key).await.next_rotation_date,
                before
            );
            expected.push((pb::RotationType::OnDemand, server.clock.now_ms()));
            server.clock.advance(days(1));
        } else {
            let due = t0 + (round / 2 + 1) as i64 * 90 * DAY_MS;
            server
                .clock
                .advance(Duration::from_millis((due - server.clock.now_ms()) as u64) - SECOND);
            assert_eq!(run_rotation_job(&server).await, 0, "rotated before due");
            server.clock.advance(2 * SECOND);
            run_rotation_job(&server).await;
            expected.push((pb::RotationType::Automatic, due + SECOND_MS));
            assert_eq!(
                rotation_status(&mut c, &key).await.next_rotation_date,
                Some(to_timestamp(due + 90 * DAY_MS))
            );
        }
        // New encryptions use the newest material, whatever made it.
        let current = current_material(&mut c, &key).await;
        assert!(
            !materials.contains(&current),
            "round {round}: no new material"
        );
        let enc = encrypt_full(&mut c, &key, format!("round {round}").as_bytes()).await;
        assert_eq!(enc.key_material_id, current);
        let dk = c
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: key.clone(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await
            .expect("generate data key")
            .into_inner();
        assert_eq!(dk.key_material_id, current);
        let dk2 = c
            .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                key_id: key.clone(),
                number_of_bytes: Some(16),
                ..Default::default()
            })
            .await
            .expect("generate data key without plaintext")
            .into_inner();
        assert_eq!(dk2.key_material_id, current);
        blobs.push((
            enc.ciphertext_blob,
            format!("round {round}").into_bytes(),
            current.clone(),
        ));
        blobs.push((dk.ciphertext_blob, dk.plaintext, current.clone()));
        materials.push(current);
    }

    // ROTATIONS_ONLY (the default): the five rotations in order.
    let list = rotations_only(&mut c, &key).await;
    assert_eq!(list.len(), 5);
    for (i, (e, (kind, at))) in list.iter().zip(&expected).enumerate() {
        assert_entry(e, &key, *kind, *at, i == 4);
        assert_eq!(e.key_material_id, materials[i + 1], "entry {i}");
    }
    let unspecified = all_rotations(&mut c, &key, pb::IncludeKeyMaterial::Unspecified).await;
    assert_eq!(unspecified, list);
    // ALL_KEY_MATERIAL: the original material first, then the rotations.
    let all = all_rotations(&mut c, &key, pb::IncludeKeyMaterial::AllKeyMaterial).await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].key_id, key);
    assert_eq!(all[0].key_material_id, original);
    assert_eq!(
        all[0].key_material_state,
        pb::KeyMaterialState::NonCurrent as i32
    );
    assert_eq!(all[0].rotation_date, None);
    assert_eq!(all[1..], list[..]);

    // Pages of 2: markers, truncated, the same entries, no duplicates.
    for (include, total) in [
        (pb::IncludeKeyMaterial::RotationsOnly, &list),
        (pb::IncludeKeyMaterial::AllKeyMaterial, &all),
    ] {
        let mut pages = Vec::new();
        let mut marker = None;
        loop {
            let page = list_page(&mut c, &key, include, Some(2), marker.take())
                .await
                .expect("list page");
            // Each page continues exactly where the previous one ended.
            let start: usize = pages.iter().sum();
            let got = &page.rotations;
            assert!(
                start + got.len() <= total.len(),
                "{include:?}: too many entries"
            );
            assert_eq!(got[..], total[start..start + got.len()], "{include:?}");
            pages.push(got.len());
            assert!(pages.len() <= 3, "{include:?}: too many pages: {pages:?}");
            if !page.truncated {
                assert!(page.next_marker.is_empty());
                break;
            }
            assert!(!page.next_marker.is_empty());
            marker = Some(page.next_marker);
        }
        let expected_sizes = if total.len() == 5 {
            vec![2, 2, 1]
        } else {
            vec![2, 2, 2]
        };
        assert_eq!(pages, expected_sizes, "{include:?}");
        let paged = all_rotations_paged(&mut c, &key, include, 2).await;
        assert_eq!(&paged, total);
        let ids: HashSet<&str> = paged.iter().map(|e| e.key_material_id.as_str()).collect();
        assert_eq!(ids.len(), paged.len(), "duplicates across pages");
    }

    // Every ciphertext from every version still decrypts.
    for (blob, plaintext, id) in &blobs {
        let out = try_decrypt(&mut c, blob, &ctx(&[])).await.expect("decrypt");
        assert_eq!(&out.plaintext, plaintext);
        assert_eq!(&out.key_material_id, id);
        assert_eq!(out.key_id, arn);
    }

    // DisableKeyRotation stops automatic rotations.
    let newest = current_material(&mut c, &key).await;
    disable_rotation(&mut c, &key)
        .await
        .expect("disable rotation");
    let status = rotation_status(&mut c, &key).await;
    assert!(!status.key_rotation_enabled);
    assert_eq!(status.next_rotation_date, None);
    server.clock.advance(days(400));
    assert_eq!(run_rotation_job(&server).await, 0);
    assert_eq!(rotations_only(&mut c, &key).await.len(), 5);
    assert_eq!(current_material(&mut c, &key).await, newest);

    // Re-enabling starts a new schedule from the re-enable date.
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("re-enable rotation");
    let t1 = server.clock.now_ms();
    assert_eq!(
        rotation_status(&mut c, &key).await.next_rotation_date,
        Some(to_timestamp(t1 + 90 * DAY_MS))
    );

    // A disabled key is not rotated when due; its status is unchanged and
    // its schedule moves on by a period.
    c.disable_key(pb::DisableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("disable key");
    server.clock.advance(days(90) + SECOND);
    assert_eq!(run_rotation_job(&server).await, 0, "a disabled key rotated");
    assert_eq!(rotations_only(&mut c, &key).await.len(), 5);
    assert_eq!(current_material(&mut c, &key).await, newest);
    let status = rotation_status(&mut c, &key).await;
    assert!(
        status.key_rotation_enabled,
        "disabling the key changed the status"
    );
    assert_eq!(status.rotation_period_in_days, Some(90));
    assert_eq!(
        status.next_rotation_date,
        Some(to_timestamp(t1 + 180 * DAY_MS))
    );
}

/// AWS: "While a KMS key is disabled, AWS KMS does not rotate it. When the
/// KMS key is re-enabled, if the key material is past its last scheduled
/// rotation date, AWS KMS rotates it immediately."
#[tokio::test]
async fn re_enabling_a_key_that_missed_its_rotation_rotates_it_at_once() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "missed a rotation").await;
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("enable rotation");
    let original = current_material(&mut c, &key).await;
    c.disable_key(pb::DisableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("disable key");
    server.clock.advance(days(100));
    assert_eq!(run_rotation_job(&server).await, 0, "a disabled key rotated");
    assert!(rotations_only(&mut c, &key).await.is_empty());

    c.enable_key(pb::EnableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("enable key");
    let re_enabled = server.clock.now_ms();
    // EnableKey performed the missed rotation in its own batch.
    assert_eq!(run_rotation_job(&server).await, 0, "nothing else is due");
    let list = exactly_rotations(&mut c, &key, 1).await;
    assert_entry(
        &list[0],
        &key,
        pb::RotationType::Automatic,
        re_enabled,
        true,
    );
    assert_ne!(current_material(&mut c, &key).await, original);
}

/// AWS: "While a KMS key is pending deletion, its key rotation status is
/// false and AWS KMS does not rotate the key material. If you cancel the
/// deletion, the original key rotation status returns to true."
#[tokio::test]
async fn a_key_pending_deletion_is_not_rotated() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "pending deletion").await;
    enable_rotation(&mut c, &key, Some(90))
        .await
        .expect("enable rotation");
    server.clock.advance(days(80));
    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: key.clone(),
        pending_window_in_days: Some(30),
    })
    .await
    .expect("schedule deletion");
    // Day 91: the rotation date passes while the key is pending deletion.
    server.clock.advance(days(11));
    assert_eq!(
        run_rotation_job(&server).await,
        0,
        "rotated while pending deletion"
    );
    assert!(rotations_only(&mut c, &key).await.is_empty());
    c.cancel_key_deletion(pb::CancelKeyDeletionRequest {
        key_id: key.clone(),
    })
    .await
    .expect("cancel deletion");
    let status = rotation_status(&mut c, &key).await;
    assert!(
        status.key_rotation_enabled,
        "status not restored after cancel"
    );
    assert!(rotations_only(&mut c, &key).await.is_empty());

    // Cancelling leaves the key Disabled; enabling it performs the rotation
    // that was skipped while it was pending deletion, at once.
    let original = current_material(&mut c, &key).await;
    c.enable_key(pb::EnableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("enable key");
    // EnableKey performed the skipped rotation in its own batch.
    let list = exactly_rotations(&mut c, &key, 1).await;
    assert_entry(
        &list[0],
        &key,
        pb::RotationType::Automatic,
        server.clock.now_ms(),
        true,
    );
    assert_ne!(current_material(&mut c, &key).await, original);
}

/// AWS: the rotation status of a key pending deletion reads `false`.
#[tokio::test]
async fn a_key_pending_deletion_reports_rotation_disabled() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "pending deletion").await;
    enable_rotation(&mut c, &key, None)
        .await
        .expect("enable rotation");
    c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: key.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule deletion");
    let status = rotation_status(&mut c, &key).await;
    assert!(!status.key_rotation_enabled, "{status:?}");
    c.cancel_key_deletion(pb::CancelKeyDeletionRequest {
        key_id: key.clone(),
    })
    .await
    .expect("cancel deletion");
    assert!(rotation_status(&mut c, &key).await.key_rotation_enabled);
}

/// The rotation actions are authorized: a same-account principal without an
/// identity policy is denied every one of them; an identity policy allowing
/// exactly kms:GetKeyRotationStatus opens that one and nothing else.
#[tokio::test]
async fn rotation_actions_need_their_permissions() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "guarded").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;

    async fn all_denied(alice: &mut Client, key: &str, arn: &str, skip_status: bool) {
        let e = rotate_on_demand(alice, key).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:RotateKeyOnDemand", arn);
        let e = enable_rotation(alice, key, None).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:EnableKeyRotation", arn);
        let e = enable_rotation(alice, key, Some(90)).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:EnableKeyRotation", arn);
        let e = disable_rotation(alice, key).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:DisableKeyRotation", arn);
        let e = list_page(
            alice,
            key,
            pb::IncludeKeyMaterial::AllKeyMaterial,
            None,
            None,
        )
        .await
        .unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:ListKeyRotations", arn);
        if !skip_status {
            let e = try_rotation_status(alice, key).await.unwrap_err();
            assert_access_denied(&e, ALICE_A, "kms:GetKeyRotationStatus", arn);
        }
    }

    all_denied(&mut alice, &key, &arn, false).await;
    // Nothing she tried happened.
    assert!(!rotation_status(&mut root, &key).await.key_rotation_enabled);
    assert!(rotations_only(&mut root, &key).await.is_empty());

    put_identity_policy(
        &server,
        ALICE_A,
        "read-rotation-status",
        &identity_doc("Allow", &["kms:GetKeyRotationStatus"], &arn),
    )
    .await;
    let status = try_rotation_status(&mut alice, &key)
        .await
        .expect("alice may read the rotation status");
    assert!(!status.key_rotation_enabled);
    assert_eq!(status.key_id, arn);
    all_denied(&mut alice, &key, &arn, true).await;
    assert!(!rotation_status(&mut root, &key).await.key_rotation_enabled);
    assert!(rotations_only(&mut root, &key).await.is_empty());

    // The root (default key policy) can do all of it.
    enable_rotation(&mut root, &key, None)
        .await
        .expect("root enables");
    rotate_on_demand(&mut root, &key)
        .await
        .expect("root rotates");
    assert!(
        try_rotation_status(&mut alice, &key)
            .await
            .expect("status")
            .key_rotation_enabled
    );
}

#[tokio::test]
async fn each_version_has_a_stored_material_record_and_only_the_newest_is_current() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path()).await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "material records").await;
    let mut reported = vec![current_material(&mut c, &key).await];
    for _ in 0..2 {
        rotate_on_demand(&mut c, &key).await.expect("rotate");
        reported.push(current_material(&mut c, &key).await);
    }
    drop(c);
    server.stop().await;

    // The records as the store keeps them (the material inside stays
    // sealed; the records are authenticated, so reading needs the root key).
    let root = kmsd::store::read_root_key_file(&tmp.path().join("root.key")).expect("root key");
    let store = kmsd::backend::root::open_store(&tmp.path().join("db"), &root).expect("open store");
    let id: KeyId = key.parse().expect("key id");
    let records = store.list_materials(&id, 0, 10).expect("list material");
    let versions: Vec<u32> = records.iter().map(|r| r.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    let ids: Vec<&str> = records.iter().map(|r| r.material_id.as_str()).collect();
    assert_eq!(ids, reported, "stored KeyMaterialIds are the ones reported");
    let states: Vec<MaterialState> = records.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            MaterialState::NonCurrent,
            MaterialState::NonCurrent,
            MaterialState::Current
        ]
    );
    for r in &records {
        assert_eq!(r.origin, MaterialOrigin::Generated);
        assert_eq!(r.spec, KeySpec::SymmetricDefault);
        assert!(
            matches!(&r.location, MaterialLocation::Local { sealed } if !sealed.as_bytes().is_empty()),
            "{r:?}"
        );
    }
}
