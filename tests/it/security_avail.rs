//! Issue 11 items 13 and 14 (availability): quotas per account and a
//! per-account request-rate limit, through the real gRPC API; the narrow
//! write locks and group commit of item 13 are unit-tested beside the
//! code (`kms::locks`, `kms::tests`, `store::tests`), where the locks and
//! the commit queue can be observed. Item 16's quarantine as an operator
//! sees it: `kmsd jobs status` on a served data directory and `kmsd jobs
//! requeue`, through the real binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kmsd::kms::{Limits, RateLimit};
use kmsd::proto::kms::v1 as pb;
use pb::GrantOperation as Op;
use tonic::Code;

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";
const ROOT_A: &str = "arn:aws:iam::111122223333:root";

fn small(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

#[track_caller]
fn assert_limit(r: Result<impl std::fmt::Debug, tonic::Status>) {
    match r {
        Err(e) => assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException"),
        Ok(v) => panic!("expected LimitExceededException, got {v:?}"),
    }
}

async fn try_create_key(c: &mut Client) -> Result<String, tonic::Status> {
    Ok(c.create_key(pb::CreateKeyRequest::default())
        .await?
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id)
}

/// Item 14: an account has at most `keys_per_account` keys; other accounts
/// are not affected; a key pending deletion still counts (as in AWS), a
/// deleted one no longer does; the count survives a restart.
#[tokio::test]
async fn item_14_keys_per_account_are_limited() {
    let server = TestServer::start().await;
    server.kms.set_limits(small(|l| l.keys_per_account = 2));
    let mut a = server.client().await;
    let k1 = create_key(&mut a, "1").await;
    create_key(&mut a, "2").await;
    assert_limit(try_create_key(&mut a).await);
    // Another account has its own count.
    let mut b = server.client_as(ROOT_B).await;
    create_key(&mut b, "b").await;
    // Pending deletion still counts.
    a.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: k1.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule");
    assert_limit(try_create_key(&mut a).await);
    // The count is stored, not rebuilt from the default at start.
    let server = server.restart().await;
    server.kms.set_limits(small(|l| l.keys_per_account = 2));
    let mut a = server.client().await;
    assert_limit(try_create_key(&mut a).await);
    // Deleted: the slot is free again, once.
    server.clock.advance(Duration::from_secs(8 * 86_400));
    server.background_pass().await;
    let k3 = try_create_key(&mut a).await.expect("a key after deletion");
    assert_ne!(k3, k1);
    assert_limit(try_create_key(&mut a).await);
}

/// Item 14: an account has at most `aliases_per_account` aliases, counted
/// across all its keys; UpdateAlias moves one without counting; DeleteAlias
/// frees a slot; deleting a key frees its aliases' slots.
#[tokio::test]
async fn item_14_aliases_per_account_are_limited() {
    let server = TestServer::start().await;
    server.kms.set_limits(small(|l| l.aliases_per_account = 2));
    let mut a = server.client().await;
    let k1 = create_key(&mut a, "1").await;
    let k2 = create_key(&mut a, "2").await;
    let alias = |name: &str, key: &str| pb::CreateAliasRequest {
        alias_name: format!("alias/{name}"),
        target_key_id: key.into(),
    };
    a.create_alias(alias("x", &k1)).await.expect("x");
    a.create_alias(alias("y", &k2)).await.expect("y");
    assert_limit(a.create_alias(alias("z", &k2)).await);
    a.update_alias(pb::UpdateAliasRequest {
        alias_name: "alias/x".into(),
        target_key_id: k2.clone(),
    })
    .await
    .expect("update does not count");
    assert_limit(a.create_alias(alias("z", &k1)).await);
    // Another account is not affected.
    let mut b = server.client_as(ROOT_B).await;
    let kb = create_key(&mut b, "b").await;
    b.create_alias(alias("z", &kb)).await.expect("b's alias");
    a.delete_alias(pb::DeleteAliasRequest {
        alias_name: "alias/y".into(),
    })
    .await
    .expect("delete");
    a.create_alias(alias("z", &k1)).await.expect("slot freed");
    assert_limit(a.create_alias(alias("w", &k1)).await);
    // Deleting k2 (which has alias x) frees x's slot.
    a.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: k2.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule");
    server.clock.advance(Duration::from_secs(8 * 86_400));
    server.background_pass().await;
    a.create_alias(alias("w", &k1))
        .await
        .expect("slot of the deleted key's alias");
    assert_limit(a.create_alias(alias("v", &k1)).await);
}

/// Item 14: at most `grants_per_grantee_per_key` grants on one key for one
/// grantee; another grantee, or the same grantee on another key, is not
/// affected; an idempotent retry of an existing grant is not a new one;
/// retiring or revoking frees a slot.
#[tokio::test]
async fn item_14_grants_per_grantee_per_key_are_limited() {
    let server = TestServer::start().await;
    server
        .kms
        .set_limits(small(|l| l.grants_per_grantee_per_key = 2));
    let mut a = server.client().await;
    let k1 = create_key(&mut a, "1").await;
    let k2 = create_key(&mut a, "2").await;
    let req = |key: &str, grantee: &str, name: Option<&str>| pb::CreateGrantRequest {
        key_id: key.into(),
        grantee_principal: grantee.into(),
        operations: vec![Op::Decrypt as i32],
        name: name.map(str::to_owned),
        ..Default::default()
    };
    let first = a
        .create_grant(req(&k1, ALICE_A, Some("n")))
        .await
        .expect("1")
        .into_inner();
    a.create_grant(req(&k1, ALICE_A, None)).await.expect("2");
    assert_limit(a.create_grant(req(&k1, ALICE_A, None)).await);
    // The same named grant again is the existing one, even at the limit.
    let again = a
        .create_grant(req(&k1, ALICE_A, Some("n")))
        .await
        .expect("idempotent retry")
        .into_inner();
    assert_eq!(again.grant_id, first.grant_id);
    a.create_grant(req(&k1, CAROL_A, None))
        .await
        .expect("another grantee");
    a.create_grant(req(&k2, ALICE_A, None))
        .await
        .expect("another key");
    a.revoke_grant(pb::RevokeGrantRequest {
        key_id: k1.clone(),
        grant_id: first.grant_id.clone(),
    })
    .await
    .expect("revoke");
    a.create_grant(req(&k1, ALICE_A, None))
        .await
        .expect("slot freed");
    assert_limit(a.create_grant(req(&k1, ALICE_A, None)).await);
}

/// Item 14: at most `identity_policies_per_principal` identity policies per
/// principal; replacing one is not a new one; deleting frees a slot;
/// another principal of the same account is not affected.
#[tokio::test]
async fn item_14_identity_policies_per_principal_are_limited() {
    let server = TestServer::start().await;
    server
        .kms
        .set_limits(small(|l| l.identity_policies_per_principal = 2));
    let doc = identity_doc("Allow", &["kms:DescribeKey"], "*");
    let mut ic = server.identity_client_as(ROOT_A).await;
    let put = |who: &str, name: &str| pb::PutPrincipalPolicyRequest {
        principal_arn: who.into(),
        policy_name: name.into(),
        policy_document: doc.clone(),
    };
    ic.put_principal_policy(put(ALICE_A, "p1"))
        .await
        .expect("p1");
    ic.put_principal_policy(put(ALICE_A, "p2"))
        .await
        .expect("p2");
    assert_limit(ic.put_principal_policy(put(ALICE_A, "p3")).await);
    ic.put_principal_policy(put(ALICE_A, "p1"))
        .await
        .expect("replacing is not adding");
    ic.put_principal_policy(put(CAROL_A, "p1"))
        .await
        .expect("another principal");
    ic.delete_principal_policy(pb::DeletePrincipalPolicyRequest {
        principal_arn: ALICE_A.into(),
        policy_name: "p2".into(),
    })
    .await
    .expect("delete");
    ic.put_principal_policy(put(ALICE_A, "p3"))
        .await
        .expect("slot freed");
    assert_limit(ic.put_principal_policy(put(ALICE_A, "p4")).await);
}

/// Item 14: requests of one account beyond its rate are refused with
/// ThrottlingException before any work (a caller with no permission at
/// all is throttled too); other accounts keep their own budget; the
/// bucket refills with (manual) time.
#[tokio::test]
async fn item_14_request_rate_per_account_is_limited() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    server.kms.set_rate_limit(Some(RateLimit {
        requests_per_second: 2,
        burst: 3,
    }));
    for _ in 0..3 {
        describe(&mut a, &key).await;
    }
    let e = a
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .expect_err("throttled");
    assert_aws_error(&e, Code::ResourceExhausted, "ThrottlingException");
    // A principal of the same account shares the account's budget, even
    // one that may do nothing.
    let mut carol = server.client_as(CAROL_A).await;
    let e = carol
        .list_keys(pb::ListKeysRequest::default())
        .await
        .expect_err("throttled");
    assert_aws_error(&e, Code::ResourceExhausted, "ThrottlingException");
    // Another account is not affected.
    let mut b = server.client_as(ROOT_B).await;
    create_key(&mut b, "b").await;
    // Half a second refills one request.
    server.clock.advance(Duration::from_millis(500));
    describe(&mut a, &key).await;
    let e = a
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .expect_err("throttled again");
    assert_aws_error(&e, Code::ResourceExhausted, "ThrottlingException");
    // Off again: no limit.
    server.kms.set_rate_limit(None);
    for _ in 0..10 {
        describe(&mut a, &key).await;
    }
}

/// `kmsd jobs ARGS` (the real binary).
fn kmsd_jobs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .arg("jobs")
        .args(args)
        .env_remove("KMSD_ROOT_KEY")
        .output()
        .expect("run kmsd jobs")
}

/// `kmsd jobs status --data-dir DIR`, which must succeed, as JSON.
pub(crate) fn jobs_status(dir: &Path) -> serde_json::Value {
    let out = kmsd_jobs(&["status", "--data-dir", &dir.display().to_string()]);
    assert!(
        out.status.success(),
        "kmsd jobs status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

/// The `entry` fields of the status list `list` (`quarantined`,
/// `deletions`, `rotations`).
fn entries(status: &serde_json::Value, list: &str) -> Vec<String> {
    status[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {status}"))
        .iter()
        .map(|e| e["entry"].as_str().expect("entry").to_owned())
        .collect()
}

/// Item 16: a schedule entry that fails is quarantined, and an operator
/// sees it with `kmsd jobs status` while kmsd serves the directory
/// (read-only: the daemon's lock is not needed); `kmsd jobs requeue`
/// refuses a served directory, and on the stopped one moves an entry that
/// decodes back to its schedule, authenticated again (the next start
/// processes it instead of quarantining it again), while one that does not
/// decode stays.
#[test]
fn item_16_quarantined_entries_are_reported_live_and_can_be_requeued() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let dir_arg = dir.display().to_string();
    assert!(DaemonProcess::start(&dir).terminate().success());

    // Whoever can write the data directory adds two deletion entries due
    // at once without the root key (so without a valid tag): one with the
    // stored shape (due ms + a key id), one that does not even decode.
    let mut decodable = 0u64.to_be_bytes().to_vec();
    decodable.extend_from_slice(&kmsd::model::KeyId::new_random().storage_key());
    let mut undecodable = 0u64.to_be_bytes().to_vec();
    undecodable.push(0xff);
    {
        let path = dir.join("db");
        let opts = rocksdb::Options::default();
        let cfs = rocksdb::DB::list_cf(&opts, &path).expect("list families");
        let db = rocksdb::DB::open_cf(&opts, &path, cfs).expect("open rocksdb");
        let cf = db.cf_handle("deletions").expect("deletions family");
        db.put_cf(cf, &decodable, [0u8; 32]).expect("put");
        db.put_cf(cf, &undecodable, [0u8; 32]).expect("put");
    }
    let (decodable, undecodable) = (hex::encode(decodable), hex::encode(undecodable));

    let daemon = DaemonProcess::start(&dir);
    // The catch-up pass at start quarantines both and logs each (the wait
    // ends at the second log line; the bound is a hang guard).
    let started = Instant::now();
    while daemon.stderr().matches("it is quarantined").count() < 2 {
        assert!(
            started.elapsed() < HANG_GUARD,
            "no quarantine logged: {}",
            daemon.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let live = jobs_status(&dir);
    let mut quarantined = entries(&live, "quarantined");
    quarantined.sort();
    let mut expected = vec![decodable.clone(), undecodable.clone()];
    expected.sort();
    assert_eq!(quarantined, expected, "{live}");
    assert!(entries(&live, "deletions").is_empty(), "{live}");
    // Writing tools refuse a served directory.
    let root_key = dir.join("root.key").display().to_string();
    let refused = kmsd_jobs(&[
        "requeue",
        "--data-dir",
        &dir_arg,
        "--root-key-file",
        &root_key,
        "--all",
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use by another kmsd"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!kmsd_jobs(&["confirm-clock", "--data-dir", &dir_arg])
        .status
        .success());
    assert!(daemon.terminate().success());

    // Requeue needs the root key (schedule entries are authenticated).
    assert!(!kmsd_jobs(&["requeue", "--data-dir", &dir_arg, "--all"])
        .status
        .success());
    let one = kmsd_jobs(&[
        "requeue",
        "--data-dir",
        &dir_arg,
        "--root-key-file",
        &root_key,
        &decodable,
    ]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    let stopped = jobs_status(&dir);
    assert_eq!(
        entries(&stopped, "quarantined"),
        std::slice::from_ref(&undecodable)
    );
    assert_eq!(
        entries(&stopped, "deletions"),
        std::slice::from_ref(&decodable)
    );
    // An entry that does not decode would only fail again: it stays, and
    // the tool says so.
    let all = kmsd_jobs(&[
        "requeue",
        "--data-dir",
        &dir_arg,
        "--root-key-file",
        &root_key,
        "--all",
    ]);
    assert!(!all.status.success());
    assert!(String::from_utf8_lossy(&all.stderr).contains("stay quarantined"));
    assert_eq!(
        entries(&jobs_status(&dir), "quarantined"),
        std::slice::from_ref(&undecodable)
    );

    // The next start processes the requeued entry: its key does not
    // exist, so it is a stale entry and dropped, not quarantined again
    // (which it would be if it were not authentic now).
    let daemon = DaemonProcess::start(&dir);
    let started = Instant::now();
    let after = loop {
        let s = jobs_status(&dir);
        if entries(&s, "deletions").is_empty() {
            break s;
        }
        assert!(
            started.elapsed() < HANG_GUARD,
            "the entry was not processed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(entries(&after, "quarantined"), [undecodable]);
    assert!(daemon.terminate().success());
}
