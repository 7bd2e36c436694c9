//! ReplicateKey, UpdatePrimaryRegion, CheckAccess and the replica /
//! primary rules, on real cores: each Region is a `Kms` on its own temp
//! dir, and the transport answers CheckAccess from the other Region's core
//! (no mock of the storage or of the authorization).

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock, DAY_MS};
use crate::kms::replication::{Envelope, PeerFuture};
use crate::kms::request::{
    CancelKeyDeletionRequest, CreateKeyRequest, DescribeKeyRequest, DisableKeyRequest,
    DisableKeyRotationRequest, EnableKeyRequest, EnableKeyRotationRequest, EncryptRequest,
    GetKeyRotationStatusRequest, PutPrincipalPolicyRequest, RotateKeyOnDemandRequest,
    ScheduleKeyDeletionRequest,
};
use crate::kms::KmsConfig;
use crate::model::{KeyId, MultiRegionKeyType};
use crate::secret::{Plaintext, RootKey};
use crate::store::{Schedule, Store};

const ACCOUNT: &str = "111122223333";
const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
/// Configured as a peer of EAST but never answers.
const DOWN: &str = "eu-west-1";

fn core(region: &str, clock: &ManualClock) -> (tempfile::TempDir, Kms) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = RootKey::from_slice(&[7; 32]).expect("32 bytes");
    let store = Store::open(&dir.path().join("db")).expect("open store");
    let backend = crate::backend::local::LocalBackend::open(root, &store).expect("backend");
    let kms = Kms::new(
        store,
        Arc::new(backend),
        KmsConfig {
            region: region.into(),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    );
    (dir, kms)
}

/// A transport whose peers are real cores (CheckAccess answered by them)
/// or, for a Region without one, unreachable.
struct Peers {
    from: String,
    cores: HashMap<String, Kms>,
    down: Vec<String>,
}

impl PeerTransport for Peers {
    fn regions(&self) -> Vec<String> {
        let mut r: Vec<String> = self.cores.keys().chain(&self.down).cloned().collect();
        r.sort();
        r
    }

    fn region_key<'a>(&'a self, region: &'a str) -> PeerFuture<'a, [u8; 32]> {
        Box::pin(async move {
            Err(PeerError::Unreachable {
                region: region.into(),
                detail: "not used by these tests".into(),
            })
        })
    }

    fn check_access<'a>(&'a self, region: &'a str, check: &'a AccessCheck) -> PeerFuture<'a, ()> {
        Box::pin(async move {
            match self.cores.get(region) {
                Some(kms) => kms
                    .check_replication_access(&self.from, check.clone())
                    .await
                    .map_err(PeerError::Refused),
                None if self.down.iter().any(|d| d == region) => Err(PeerError::Unreachable {
                    region: region.into(),
                    detail: "connection refused".into(),
                }),
                None => Err(PeerError::UnknownRegion(region.into())),
            }
        })
    }

    fn deliver<'a>(&'a self, region: &'a str, _entries: Vec<Envelope>) -> PeerFuture<'a, u64> {
        Box::pin(async move {
            Err(PeerError::Unreachable {
                region: region.into(),
                detail: "not used by these tests".into(),
            })
        })
    }
}

/// Two Regions that know each other, and a third (DOWN) that EAST knows
/// but cannot reach.
struct World {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    clock: ManualClock,
    east: Kms,
    west: Kms,
    _stop: tokio::sync::watch::Sender<bool>,
}

fn world() -> World {
    let clock = ManualClock::new(1_000_000);
    let (d1, east) = core(EAST, &clock);
    let (d2, west) = core(WEST, &clock);
    let (stop, rx) = tokio::sync::watch::channel(false);
    east.start_replication(
        Arc::new(Peers {
            from: EAST.into(),
            cores: HashMap::from([(WEST.to_owned(), west.clone())]),
            down: vec![DOWN.into()],
        }),
        rx.clone(),
    );
    west.start_replication(
        Arc::new(Peers {
            from: WEST.into(),
            cores: HashMap::from([(EAST.to_owned(), east.clone())]),
            down: Vec::new(),
        }),
        rx,
    );
    World {
        _dirs: (d1, d2),
        clock,
        east,
        west,
        _stop: stop,
    }
}

fn principal(name: &str) -> Caller {
    let arn = if name == "root" {
        format!("arn:aws:iam::{ACCOUNT}:root")
    } else {
        format!("arn:aws:iam::{ACCOUNT}:user/{name}")
    };
    Caller::new(Principal::parse(&arn).expect("principal"))
}

fn root() -> Caller {
    principal("root")
}

async fn mr_key(kms: &Kms, policy: Option<String>) -> Arc<KeyRecord> {
    kms.create_key(
        &root(),
        CreateKeyRequest {
            multi_region: true,
            policy,
            description: "primary's".into(),
            ..Default::default()
        },
    )
    .await
    .expect("multi-Region key")
}

fn replicate(key: &KeyId, region: &str) -> ReplicateKeyRequest {
    ReplicateKeyRequest {
        key_id: key.to_string(),
        replica_region: region.into(),
        ..Default::default()
    }
}

async fn describe(kms: &Kms, key: &KeyId) -> Arc<KeyRecord> {
    kms.describe_key(
        &root(),
        DescribeKeyRequest {
            key_id: key.to_string(),
            ..Default::default()
        },
    )
    .await
    .expect("describe")
}

/// Writes `rec` (with the default key policy) into `kms`'s store, as the
/// replication engine does when it creates a replica.
fn plant(kms: &Kms, rec: KeyRecord) {
    let inner = &kms.inner;
    let mut b = inner.store.batch();
    b.put_key(&rec).expect("put key");
    b.put_key_policy(&rec.id, &default_key_policy(&rec.account));
    b.commit().expect("commit");
    inner.policies.remove(&rec.id);
    inner.cache_put_key(rec);
}

/// Turns `rec` (a primary here) into a replica of a primary in WEST, in
/// place: what this Region holds once WEST is primary.
fn make_replica_here(kms: &Kms, rec: &KeyRecord) -> KeyRecord {
    let mut r = rec.clone();
    r.mr = Some(MultiRegionState {
        primary_region: WEST.into(),
        replica_regions: vec![kms.region().to_owned()],
        version: 7,
        handoff: None,
        material_id_key: None,
    });
    plant(kms, r.clone());
    r
}

/// A replica in `kms` of `primary` (a key of another Region).
fn replica_of(kms: &Kms, primary: &KeyRecord, state: KeyState) -> KeyRecord {
    let mut r = primary.clone();
    r.state = state;
    let mut mr = primary.mr.clone().expect("multi-Region");
    mr.replica_regions.push(kms.region().to_owned());
    mr.replica_regions.sort();
    r.mr = Some(mr);
    plant(kms, r.clone());
    r
}

async fn put_identity_policy(kms: &Kms, who: &Caller, doc: &str) {
    kms.put_principal_policy(
        &root(),
        PutPrincipalPolicyRequest {
            principal_arn: who.principal.arn().to_owned(),
            policy_name: "p".into(),
            policy_document: doc.into(),
        },
    )
    .await
    .expect("identity policy");
}

fn allow(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

// ----------------------------------------------------------- ReplicateKey

#[tokio::test]
async fn replicate_key_answers_the_replica_and_records_the_region() {
    let w = world();
    let key = mr_key(&w.east, None).await;
    let out = w
        .east
        .replicate_key(
            &root(),
            ReplicateKeyRequest {
                tags: vec![("team".into(), "blue".into())],
                ..replicate(&key.id, WEST)
            },
        )
        .await
        .expect("replicate");
    assert_eq!(out.region, WEST);
    assert_eq!(out.replica.id, key.id);
    assert_eq!(out.replica.state, KeyState::Creating);
    assert_eq!(out.replica.description, "primary's");
    assert_eq!(
        out.replica.tags.get("team").map(String::as_str),
        Some("blue")
    );
    assert_eq!(out.policy, default_key_policy(ACCOUNT));
    let meta = out.replica.metadata(&out.region);
    assert!(meta.arn.contains(":us-west-2:"), "{}", meta.arn);
    let conf = meta.multi_region_configuration.expect("configuration");
    assert_eq!(conf.key_type, MultiRegionKeyType::Replica);
    assert_eq!(conf.primary_key.region, EAST);
    assert_eq!(conf.replica_keys.len(), 1);
    // The primary's record, committed.
    let now = describe(&w.east, &key.id).await;
    let mr = now.mr.as_ref().expect("mr");
    assert_eq!(mr.replica_regions, [WEST]);
    assert_eq!(mr.version, 2);
    assert_eq!(now.state, KeyState::Enabled);
    // The description given wins over the primary's.
    let key2 = mr_key(&w.east, None).await;
    let out = w
        .east
        .replicate_key(
            &root(),
            ReplicateKeyRequest {
                description: Some("west copy".into()),
                ..replicate(&key2.id, WEST)
            },
        )
        .await
        .expect("replicate");
    assert_eq!(out.replica.description, "west copy");
}

#[tokio::test]
async fn replicate_key_refuses_every_near_miss() {
    let w = world();
    let key = mr_key(&w.east, None).await;
    let c = root();
    let err = |r| {
        let (kms, c) = (w.east.clone(), c.clone());
        async move { kms.replicate_key(&c, r).await.expect_err("refused") }
    };
    for bad in ["US-WEST-2", "us-west", "", "us_west_2", EAST] {
        let e = err(replicate(&key.id, bad)).await;
        assert!(matches!(e, KmsError::Validation(_)), "{bad:?}: {e}");
    }
    let e = err(replicate(&key.id, "ap-south-1")).await;
    assert!(
        matches!(&e, KmsError::Validation(m) if m.contains("ap-south-1")),
        "{e}"
    );
    // A malformed policy is refused before the (unreachable) peer is asked.
    let e = err(ReplicateKeyRequest {
        policy: Some("{not json".into()),
        ..replicate(&key.id, DOWN)
    })
    .await;
    assert!(matches!(e, KmsError::MalformedPolicyDocument(_)), "{e}");
    // A reachable check that fails changes nothing; an unreachable peer
    // is a DependencyTimeout and changes nothing either.
    let e = err(replicate(&key.id, DOWN)).await;
    assert!(matches!(e, KmsError::DependencyTimeout(_)), "{e}");
    assert_eq!(describe(&w.east, &key.id).await.mr, key.mr);
    // A single-Region key.
    let single = w
        .east
        .create_key(&c, CreateKeyRequest::default())
        .await
        .expect("key");
    let e = err(replicate(&single.id, WEST)).await;
    assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
    // A replica.
    let other = mr_key(&w.east, None).await;
    make_replica_here(&w.east, &other);
    let e = err(replicate(&other.id, WEST)).await;
    assert!(
        matches!(&e, KmsError::UnsupportedOperation(m) if m.contains("only the primary")),
        "{e}"
    );
    // An existing replica.
    w.east
        .replicate_key(&c, replicate(&key.id, WEST))
        .await
        .expect("first");
    let e = err(replicate(&key.id, WEST)).await;
    assert!(matches!(e, KmsError::AlreadyExists(_)), "{e}");
    // The key exists in the replica Region already (its check refuses).
    let k3 = mr_key(&w.east, None).await;
    replica_of(&w.west, &k3, KeyState::Enabled);
    let e = err(replicate(&k3.id, WEST)).await;
    assert!(matches!(e, KmsError::AlreadyExists(_)), "{e}");
    // Disabled: allowed. PendingDeletion: refused.
    let k4 = mr_key(&w.east, None).await;
    w.east
        .disable_key(
            &c,
            DisableKeyRequest {
                key_id: k4.id.to_string(),
            },
        )
        .await
        .expect("disable");
    w.east
        .replicate_key(&c, replicate(&k4.id, WEST))
        .await
        .expect("a Disabled primary replicates");
    let k5 = mr_key(&w.east, None).await;
    w.east
        .schedule_key_deletion(
            &c,
            ScheduleKeyDeletionRequest {
                key_id: k5.id.to_string(),
                pending_window_in_days: Some(7),
            },
        )
        .await
        .expect("schedule");
    let e = err(replicate(&k5.id, WEST)).await;
    assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
}

#[tokio::test]
async fn replicate_key_follows_both_regions_policies() {
    let w = world();
    let alice = principal("alice");
    // Alice may ReplicateKey only to WEST (kms:ReplicaRegion); Bob is
    // denied ReplicateKey outright.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"kms:ReplicateKey","Resource":"*",
          "Condition":{{"StringEquals":{{"kms:ReplicaRegion":"{WEST}"}}}}}},
        {{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/bob"}},"Action":"kms:ReplicateKey","Resource":"*"}}
        ]}}"#
    );
    let key = mr_key(&w.east, Some(policy)).await;
    // DOWN would time out if asked: the denial comes first.
    let e = w
        .east
        .replicate_key(&alice, replicate(&key.id, DOWN))
        .await
        .expect_err("not DOWN");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    let bob = principal("bob");
    put_identity_policy(&w.east, &bob, &allow(r#""kms:*""#)).await;
    let e = w
        .east
        .replicate_key(&bob, replicate(&key.id, WEST))
        .await
        .expect_err("bob");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    // Allowed here, but WEST's IAM-lite does not let Alice CreateKey.
    let e = w
        .east
        .replicate_key(&alice, replicate(&key.id, WEST))
        .await
        .expect_err("no CreateKey in WEST");
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("kms:CreateKey")),
        "{e}"
    );
    assert!(describe(&w.east, &key.id)
        .await
        .mr
        .as_ref()
        .is_some_and(|m| m.replica_regions.is_empty()));
    // With CreateKey there (and her own replica policy), it works.
    put_identity_policy(&w.west, &alice, &allow(r#""kms:CreateKey""#)).await;
    let replica_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let out = w
        .east
        .replicate_key(
            &alice,
            ReplicateKeyRequest {
                policy: Some(replica_policy.clone()),
                ..replicate(&key.id, WEST)
            },
        )
        .await
        .expect("replicate");
    assert_eq!(out.policy, replica_policy);
}

// ------------------------------------------------------------ CheckAccess

fn create_check(key: KeyId, who: &Caller) -> AccessCheck {
    AccessCheck {
        principal: who.principal.arn().to_owned(),
        action: Operation::CreateKey,
        key_id: key,
        tags: Vec::new(),
        policy: None,
        bypass_policy_lockout_safety_check: false,
    }
}

#[tokio::test]
async fn check_access_for_replica_creation() {
    let w = world();
    let id = KeyId::new_random_multi_region();
    let carol = principal("carol");
    // No identity policy: denied.
    let e = w
        .west
        .check_replication_access(EAST, create_check(id, &carol))
        .await
        .expect_err("no policy");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    // CreateKey allowed only as a REPLICA whose primary is in EAST.
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*",
        "Condition":{{"StringEquals":{{"kms:MultiRegionKeyType":"REPLICA","kms:PrimaryRegion":"{EAST}","kms:MultiRegion":"true"}}}}}}]}}"#
    );
    put_identity_policy(&w.west, &carol, &doc).await;
    w.west
        .check_replication_access(EAST, create_check(id, &carol))
        .await
        .expect("allowed");
    // The same question from another Region does not match the condition.
    let e = w
        .west
        .check_replication_access("ap-south-1", create_check(id, &carol))
        .await
        .expect_err("other primary Region");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    // Tags need TagResource too.
    let tagged = AccessCheck {
        tags: vec![("k".into(), "v".into())],
        ..create_check(id, &carol)
    };
    let e = w
        .west
        .check_replication_access(EAST, tagged.clone())
        .await
        .expect_err("no TagResource");
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("kms:TagResource")),
        "{e}"
    );
    // A policy that locks the caller out, unless bypassed.
    let locked = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/nobody"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    let check = AccessCheck {
        policy: Some(locked),
        ..create_check(id, &carol)
    };
    let e = w
        .west
        .check_replication_access(EAST, check.clone())
        .await
        .expect_err("lockout");
    assert!(matches!(e, KmsError::MalformedPolicyDocument(_)), "{e}");
    w.west
        .check_replication_access(
            EAST,
            AccessCheck {
                bypass_policy_lockout_safety_check: true,
                ..check
            },
        )
        .await
        .expect("bypassed");
    // An unparsable principal; an operation other than the two.
    let e = w
        .west
        .check_replication_access(
            EAST,
            AccessCheck {
                principal: "not-an-arn".into(),
                ..create_check(id, &carol)
            },
        )
        .await
        .expect_err("principal");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    for op in [
        Operation::Decrypt,
        Operation::PutKeyPolicy,
        Operation::ScheduleKeyDeletion,
    ] {
        let e = w
            .west
            .check_replication_access(
                EAST,
                AccessCheck {
                    action: op,
                    ..create_check(id, &root())
                },
            )
            .await
            .expect_err("other operation");
        assert!(matches!(e, KmsError::AccessDenied(_)), "{op:?}: {e}");
    }
    // A key that exists here already.
    let existing = mr_key(&w.west, None).await;
    let e = w
        .west
        .check_replication_access(EAST, create_check(existing.id, &root()))
        .await
        .expect_err("exists");
    assert!(matches!(e, KmsError::AlreadyExists(_)), "{e}");
}

#[tokio::test]
async fn check_access_for_promotion() {
    let w = world();
    let c = root();
    let check = |id: KeyId| AccessCheck {
        action: Operation::UpdatePrimaryRegion,
        ..create_check(id, &c)
    };
    let e = w
        .west
        .check_replication_access(EAST, check(KeyId::new_random_multi_region()))
        .await
        .expect_err("missing");
    assert!(matches!(e, KmsError::NotFound(_)), "{e}");
    let primary_here = mr_key(&w.west, None).await;
    let e = w
        .west
        .check_replication_access(EAST, check(primary_here.id))
        .await
        .expect_err("a primary");
    assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
    let east_key = mr_key(&w.east, None).await;
    let disabled = replica_of(&w.west, &east_key, KeyState::Disabled);
    let e = w
        .west
        .check_replication_access(EAST, check(disabled.id))
        .await
        .expect_err("disabled");
    assert!(matches!(e, KmsError::Disabled(_)), "{e}");
    let k2 = mr_key(&w.east, None).await;
    let replica = replica_of(&w.west, &k2, KeyState::Enabled);
    w.west
        .check_replication_access(EAST, check(replica.id))
        .await
        .expect("an Enabled replica of EAST's primary");
    // Asked by a Region that is not its primary.
    let e = w
        .west
        .check_replication_access(DOWN, check(replica.id))
        .await
        .expect_err("not its primary");
    assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
    // A caller whom the replica's policy does not allow.
    let e = w
        .west
        .check_replication_access(
            EAST,
            AccessCheck {
                action: Operation::UpdatePrimaryRegion,
                ..create_check(replica.id, &principal("mallory"))
            },
        )
        .await
        .expect_err("mallory");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
}

// ---------------------------------------------------- UpdatePrimaryRegion

#[tokio::test]
async fn update_primary_region_demotes_this_region_and_freezes_the_key() {
    let w = world();
    let c = root();
    let key = mr_key(&w.east, None).await;
    w.east
        .replicate_key(&c, replicate(&key.id, WEST))
        .await
        .expect("replicate");
    let primary = describe(&w.east, &key.id).await;
    // What the engine will have created in WEST.
    let mut in_west = (*primary).clone();
    in_west.state = KeyState::Enabled;
    plant(&w.west, in_west);
    let upr = |region: &str| UpdatePrimaryRegionRequest {
        key_id: key.id.to_string(),
        primary_region: region.into(),
    };
    for (bad, what) in [
        ("US-WEST-2", "case twin"),
        (EAST, "own"),
        (DOWN, "no replica"),
    ] {
        let e = w
            .east
            .update_primary_region(&c, upr(bad))
            .await
            .expect_err(what);
        assert!(matches!(e, KmsError::Validation(_)), "{what}: {e}");
    }
    w.east
        .update_primary_region(&c, upr(WEST))
        .await
        .expect("update");
    let now = describe(&w.east, &key.id).await;
    assert_eq!(now.state, KeyState::Updating);
    let mr = now.mr.as_ref().expect("mr");
    assert_eq!(mr.primary_region, WEST);
    assert_eq!(mr.replica_regions, [EAST]);
    assert_eq!(mr.version, primary.mr.as_ref().expect("mr").version + 1);
    assert_eq!(
        mr.handoff,
        Some(Handoff {
            role: HandoffRole::Demoting,
            peer: WEST.into(),
            version: mr.version,
            prior_state: KeyState::Enabled,
        })
    );
    assert_eq!(
        now.metadata(EAST)
            .multi_region_configuration
            .expect("conf")
            .key_type,
        MultiRegionKeyType::Replica
    );
    // Updating: cryptography works, everything that changes state or
    // shared properties does not.
    w.east
        .encrypt(
            &c,
            EncryptRequest {
                key_id: key.id.to_string(),
                plaintext: Plaintext::new(b"still serving".to_vec()),
                encryption_context: Default::default(),
                grant_tokens: Vec::new(),
                encryption_algorithm: None,
            },
        )
        .await
        .expect("encrypt while Updating");
    let id = key.id.to_string();
    let invalid = |r: KmsResult<()>, what: &str| {
        let e = r.expect_err(what);
        assert!(matches!(e, KmsError::InvalidState(_)), "{what}: {e}");
    };
    invalid(
        w.east.update_primary_region(&c, upr(WEST)).await,
        "UpdatePrimaryRegion",
    );
    invalid(
        w.east
            .enable_key(&c, EnableKeyRequest { key_id: id.clone() })
            .await,
        "EnableKey",
    );
    invalid(
        w.east
            .disable_key(&c, DisableKeyRequest { key_id: id.clone() })
            .await,
        "DisableKey",
    );
    invalid(
        w.east
            .enable_key_rotation(
                &c,
                EnableKeyRotationRequest {
                    key_id: id.clone(),
                    rotation_period_in_days: None,
                },
            )
            .await,
        "EnableKeyRotation",
    );
    invalid(
        w.east
            .rotate_key_on_demand(&c, RotateKeyOnDemandRequest { key_id: id.clone() })
            .await
            .map(|_| ()),
        "RotateKeyOnDemand",
    );
    invalid(
        w.east
            .schedule_key_deletion(
                &c,
                ScheduleKeyDeletionRequest {
                    key_id: id.clone(),
                    pending_window_in_days: None,
                },
            )
            .await
            .map(|_| ()),
        "ScheduleKeyDeletion",
    );
    invalid(
        w.east
            .replicate_key(&c, replicate(&key.id, DOWN))
            .await
            .map(|_| ()),
        "ReplicateKey",
    );
}

#[tokio::test]
async fn update_primary_region_refusals() {
    let w = world();
    let c = root();
    let upr = |key: &KeyId| UpdatePrimaryRegionRequest {
        key_id: key.to_string(),
        primary_region: WEST.into(),
    };
    // A single-Region key; a replica; a Disabled primary.
    let single = w
        .east
        .create_key(&c, CreateKeyRequest::default())
        .await
        .expect("key");
    let e = w
        .east
        .update_primary_region(&c, upr(&single.id))
        .await
        .expect_err("single");
    assert!(matches!(e, KmsError::UnsupportedOperation(_)), "{e}");
    let r = mr_key(&w.east, None).await;
    make_replica_here(&w.east, &r);
    let e = w
        .east
        .update_primary_region(&c, upr(&r.id))
        .await
        .expect_err("replica");
    assert!(
        matches!(&e, KmsError::UnsupportedOperation(m) if m.contains("not the primary")),
        "{e}"
    );
    let key = mr_key(&w.east, None).await;
    w.east
        .replicate_key(&c, replicate(&key.id, WEST))
        .await
        .expect("replicate");
    w.east
        .disable_key(
            &c,
            DisableKeyRequest {
                key_id: key.id.to_string(),
            },
        )
        .await
        .expect("disable");
    let e = w
        .east
        .update_primary_region(&c, upr(&key.id))
        .await
        .expect_err("disabled");
    assert!(matches!(e, KmsError::Disabled(_)), "{e}");
    // Enabled here, but WEST has no replica yet (not delivered): WEST
    // refuses, nothing changes here.
    w.east
        .enable_key(
            &c,
            EnableKeyRequest {
                key_id: key.id.to_string(),
            },
        )
        .await
        .expect("enable");
    let before = describe(&w.east, &key.id).await;
    let e = w
        .east
        .update_primary_region(&c, upr(&key.id))
        .await
        .expect_err("no replica in WEST yet");
    assert!(matches!(e, KmsError::NotFound(_)), "{e}");
    assert_eq!(*describe(&w.east, &key.id).await, *before);
}

// ------------------------------------------------------ rotation, deletion

#[tokio::test]
async fn replicas_refuse_rotation_and_the_job_skips_them() {
    let w = world();
    let c = root();
    let key = mr_key(&w.east, None).await;
    let mut replica = make_replica_here(&w.east, &key);
    let id = key.id.to_string();
    let unsupported = |r: KmsResult<()>, what: &str| {
        let e = r.expect_err(what);
        assert!(
            matches!(&e, KmsError::UnsupportedOperation(m) if m.contains("replica")),
            "{what}: {e}"
        );
    };
    unsupported(
        w.east
            .rotate_key_on_demand(&c, RotateKeyOnDemandRequest { key_id: id.clone() })
            .await
            .map(|_| ()),
        "RotateKeyOnDemand",
    );
    unsupported(
        w.east
            .enable_key_rotation(
                &c,
                EnableKeyRotationRequest {
                    key_id: id.clone(),
                    rotation_period_in_days: Some(90),
                },
            )
            .await,
        "EnableKeyRotation",
    );
    unsupported(
        w.east
            .disable_key_rotation(&c, DisableKeyRotationRequest { key_id: id.clone() })
            .await,
        "DisableKeyRotation",
    );
    // The replicated setting reads fine.
    replica.rotation.enabled = true;
    replica.rotation.period_days = Some(90);
    let due = w.clock.now_ms() + 90 * DAY_MS;
    replica.rotation.next_ms = Some(due);
    plant(&w.east, replica.clone());
    let st = w
        .east
        .get_key_rotation_status(&c, GetKeyRotationStatusRequest { key_id: id.clone() })
        .await
        .expect("status");
    assert!(st.enabled);
    // A schedule entry left from when it was primary: dropped, no rotation.
    let mut b = w.east.inner.store.batch();
    b.schedule(Schedule::Rotation, due, &key.id);
    b.commit().expect("commit");
    w.clock.advance(Duration::from_millis(
        u64::try_from(91 * DAY_MS).expect("positive"),
    ));
    assert_eq!(w.east.process_due_rotations().await.expect("job"), 0);
    let after = describe(&w.east, &key.id).await;
    assert_eq!(after.current_version, 1);
    assert_eq!(after.mr, replica.mr);
}

#[tokio::test]
async fn primary_rotation_changes_the_shared_version() {
    let w = world();
    let c = root();
    let key = mr_key(&w.east, None).await;
    let v0 = key.mr.as_ref().expect("mr").version;
    w.east
        .enable_key_rotation(
            &c,
            EnableKeyRotationRequest {
                key_id: key.id.to_string(),
                rotation_period_in_days: Some(90),
            },
        )
        .await
        .expect("enable rotation");
    let rec = w
        .east
        .rotate_key_on_demand(
            &c,
            RotateKeyOnDemandRequest {
                key_id: key.id.to_string(),
            },
        )
        .await
        .expect("rotate");
    assert_eq!(rec.current_version, 2);
    assert_eq!(rec.mr.as_ref().expect("mr").version, v0 + 2);
    w.clock.advance(Duration::from_millis(
        u64::try_from(91 * DAY_MS).expect("positive"),
    ));
    assert_eq!(w.east.process_due_rotations().await.expect("job"), 1);
    let after = describe(&w.east, &key.id).await;
    assert_eq!(after.current_version, 3);
    assert_eq!(after.mr.as_ref().expect("mr").version, v0 + 3);
}

#[tokio::test]
async fn a_primary_with_replicas_waits_in_pending_replica_deletion() {
    let w = world();
    let c = root();
    let key = mr_key(&w.east, None).await;
    w.east
        .replicate_key(&c, replicate(&key.id, WEST))
        .await
        .expect("replicate");
    let out = w
        .east
        .schedule_key_deletion(
            &c,
            ScheduleKeyDeletionRequest {
                key_id: key.id.to_string(),
                pending_window_in_days: Some(9),
            },
        )
        .await
        .expect("schedule");
    assert_eq!(out.key.state, KeyState::PendingReplicaDeletion);
    assert_eq!(out.deletion_date_ms, None);
    assert_eq!(out.pending_window_days, 9);
    let rec = describe(&w.east, &key.id).await;
    assert_eq!(rec.state, KeyState::PendingReplicaDeletion);
    assert_eq!(rec.pending_window_days, Some(9));
    assert_eq!(rec.metadata(EAST).deletion_date_ms, None);
    // Not deleted when a window would have ended.
    w.clock.advance(Duration::from_millis(
        u64::try_from(31 * DAY_MS).expect("positive"),
    ));
    assert_eq!(w.east.process_due_deletions().await.expect("job"), 0);
    // Scheduling again is refused; cancelling returns it to Disabled.
    let e = w
        .east
        .schedule_key_deletion(
            &c,
            ScheduleKeyDeletionRequest {
                key_id: key.id.to_string(),
                pending_window_in_days: None,
            },
        )
        .await
        .expect_err("again");
    assert!(matches!(e, KmsError::InvalidState(_)), "{e}");
    let back = w
        .east
        .cancel_key_deletion(
            &c,
            CancelKeyDeletionRequest {
                key_id: key.id.to_string(),
            },
        )
        .await
        .expect("cancel");
    assert_eq!(back.state, KeyState::Disabled);
    assert_eq!(back.pending_window_days, None);
    // Without replicas: PendingDeletion as usual, and the job deletes it.
    let lone = mr_key(&w.east, None).await;
    let out = w
        .east
        .schedule_key_deletion(
            &c,
            ScheduleKeyDeletionRequest {
                key_id: lone.id.to_string(),
                pending_window_in_days: Some(7),
            },
        )
        .await
        .expect("schedule");
    assert_eq!(out.key.state, KeyState::PendingDeletion);
    assert!(out.deletion_date_ms.is_some());
    // A replica: PendingDeletion as usual (its primary is elsewhere), and
    // the job deletes it (telling the other Regions in the same batch).
    let k = mr_key(&w.east, None).await;
    make_replica_here(&w.east, &k);
    let out = w
        .east
        .schedule_key_deletion(
            &c,
            ScheduleKeyDeletionRequest {
                key_id: k.id.to_string(),
                pending_window_in_days: Some(7),
            },
        )
        .await
        .expect("schedule a replica");
    assert_eq!(out.key.state, KeyState::PendingDeletion);
    w.clock.advance(Duration::from_millis(
        u64::try_from(8 * DAY_MS).expect("positive"),
    ));
    assert_eq!(w.east.process_due_deletions().await.expect("job"), 2);
    for gone in [lone.id, k.id] {
        let e = w
            .east
            .describe_key(
                &c,
                DescribeKeyRequest {
                    key_id: gone.to_string(),
                    ..Default::default()
                },
            )
            .await
            .expect_err("deleted");
        assert!(matches!(e, KmsError::NotFound(_)), "{e}");
    }
}

#[tokio::test]
async fn update_primary_region_fills_kms_primary_region() {
    let w = world();
    // Erin may move the primary only to DOWN (kms:PrimaryRegion).
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/erin"}},"Action":"kms:UpdatePrimaryRegion","Resource":"*",
          "Condition":{{"StringEquals":{{"kms:PrimaryRegion":"{DOWN}"}}}}}}
        ]}}"#
    );
    let key = mr_key(&w.east, Some(policy)).await;
    w.east
        .replicate_key(&root(), replicate(&key.id, WEST))
        .await
        .expect("replicate");
    let e = w
        .east
        .update_primary_region(
            &principal("erin"),
            UpdatePrimaryRegionRequest {
                key_id: key.id.to_string(),
                primary_region: WEST.into(),
            },
        )
        .await
        .expect_err("only DOWN");
    assert!(
        matches!(&e, KmsError::AccessDenied(m) if m.contains("kms:UpdatePrimaryRegion")),
        "{e}"
    );
}

// ---------------------------------------------------------- condition keys

#[tokio::test]
async fn multi_region_condition_keys_are_in_every_key_context() {
    let w = world();
    let dave = principal("dave");
    // Dave may Encrypt only with a multi-Region PRIMARY key.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/dave"}},"Action":["kms:Encrypt","kms:DescribeKey"],"Resource":"*",
          "Condition":{{"StringEquals":{{"kms:MultiRegionKeyType":"PRIMARY"}},"Bool":{{"kms:MultiRegion":"true"}}}}}}
        ]}}"#
    );
    let enc = |kms: Kms, key: KeyId| {
        let dave = dave.clone();
        async move {
            kms.encrypt(
                &dave,
                EncryptRequest {
                    key_id: key.to_string(),
                    plaintext: Plaintext::new(b"x".to_vec()),
                    encryption_context: Default::default(),
                    grant_tokens: Vec::new(),
                    encryption_algorithm: None,
                },
            )
            .await
        }
    };
    let primary = mr_key(&w.east, Some(policy.clone())).await;
    enc(w.east.clone(), primary.id).await.expect("primary");
    let replica = mr_key(&w.east, Some(policy.clone())).await;
    make_replica_here(&w.east, &replica);
    // `plant` wrote the default policy: put Dave's back.
    let mut b = w.east.inner.store.batch();
    b.put_key_policy(&replica.id, &policy);
    b.commit().expect("commit");
    w.east.inner.policies.remove(&replica.id);
    let e = enc(w.east.clone(), replica.id)
        .await
        .expect_err("a replica");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
    let single = w
        .east
        .create_key(
            &root(),
            CreateKeyRequest {
                policy: Some(policy),
                ..Default::default()
            },
        )
        .await
        .expect("single");
    let e = enc(w.east.clone(), single.id)
        .await
        .expect_err("single-Region");
    assert!(matches!(e, KmsError::AccessDenied(_)), "{e}");
}
