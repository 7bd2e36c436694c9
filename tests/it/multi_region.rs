//! Multi-Region keys across three real kmsd processes on loopback, one
//! per Region (`mr_cluster`), talking over their replication listeners
//! with peer certificates (docs/multi-region.md): encrypt in one Region,
//! decrypt in the others; the MultiRegionConfiguration every Region shows;
//! rotation reaching a Region that was down; UpdatePrimaryRegion; per-Region
//! policies and properties; ReplicateKey's errors; deletion of a primary
//! with replicas.
//!
//! Waiting for replication polls the observable state (DescribeKey in the
//! receiving Region, `kmsd replication status`) with a generous overall
//! deadline (`mr_cluster::eventually`); nothing sleeps to synchronise.

use kmsd::proto::kms::v1 as pb;
use tonic::Code;

use super::harness::{
    all_aliases, all_tags, assert_aws_error, ctx, decrypt, encrypt, get_key_policy, identity_doc,
    key_policy_with, tags, try_decrypt, ACCOUNT_A, ALICE_A,
};
use super::mr_cluster::{
    all_rotations, create_mr_symmetric, is_primary, mr_view, replica_regions, replicate,
    try_describe, try_replicate, try_rotate, try_update_primary, wait_key, MrCluster, MrView,
    REGIONS,
};

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// The state of a key as DescribeKey shows it.
fn state(m: &pb::KeyMetadata) -> pb::KeyState {
    m.key_state()
}

/// The view every Region should converge to: `primary` and `replicas`
/// (slots), seen from `me`.
fn expected_view(
    cl: &MrCluster,
    key: &str,
    me: usize,
    primary: usize,
    replicas: &[usize],
) -> MrView {
    let mut reps: Vec<(String, String)> = replicas
        .iter()
        .map(|&r| (cl.key_arn(r, key), cl.regions[r].clone()))
        .collect();
    reps.sort_by(|a, b| a.1.cmp(&b.1));
    MrView {
        key_type: if me == primary {
            pb::MultiRegionKeyType::Primary
        } else {
            pb::MultiRegionKeyType::Replica
        },
        primary: (cl.key_arn(primary, key), cl.regions[primary].clone()),
        replicas: reps,
    }
}

/// Waits until the key is Enabled in slot `i` with the family `primary` +
/// `replicas`.
async fn wait_view(
    cl: &MrCluster,
    c: &super::harness::Client,
    key: &str,
    i: usize,
    primary: usize,
    replicas: &[usize],
) -> pb::KeyMetadata {
    let want = expected_view(cl, key, i, primary, replicas);
    wait_key(
        c,
        key,
        &format!("{key} in {} to be Enabled with {want:?}", cl.regions[i]),
        |m| {
            state(m) == pb::KeyState::Enabled
                && m.multi_region_configuration.is_some()
                && mr_view(m) == want
        },
    )
    .await
}

/// Test 1 (and ReplicateKey's validation errors, test 9): encrypt in the
/// primary's Region, decrypt in both replicas; a data key generated in a
/// replica's Region decrypts in the other two; every Region's
/// DescribeKey shows the family, kept current after a second ReplicateKey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_ciphertexts_decrypt_in_every_region_and_configuration_stays_current() {
    let cl = MrCluster::start(3);
    let (mut a, mut b, mut c) = (cl.client(A).await, cl.client(B).await, cl.client(C).await);
    let key = create_mr_symmetric(&mut a, "mrk test 1").await;

    let m = try_describe(&mut a, &key).await.expect("describe in A");
    assert!(m.multi_region);
    assert_eq!(mr_view(&m), expected_view(&cl, &key, A, A, &[]));
    assert_eq!(m.arn, cl.key_arn(A, &key));

    // Not there before ReplicateKey.
    let e = try_describe(&mut b, &key)
        .await
        .expect_err("no replica in B yet");
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    let r = replicate(&mut a, &key, REGIONS[B]).await;
    let rm = r.replica_key_metadata.expect("replica metadata");
    assert_eq!(rm.key_id, key);
    assert_eq!(rm.arn, cl.key_arn(B, &key));
    assert!(rm.multi_region);
    // The replica as B will hold it: Creating until the material arrives
    // (docs/multi-region.md, ReplicateKey step 5).
    assert_eq!(rm.key_state(), pb::KeyState::Creating);
    assert_eq!(
        rm.multi_region_configuration
            .as_ref()
            .map(|c| c.multi_region_key_type()),
        Some(pb::MultiRegionKeyType::Replica)
    );
    assert!(
        !r.replica_policy.is_empty(),
        "the default policy is returned"
    );

    let context = ctx(&[("purpose", "mrk test 1")]);
    let blob = encrypt(&mut a, &key, b"written in us-east-1", &context).await;

    let mb = wait_view(&cl, &b, &key, B, A, &[B]).await;
    let ma = try_describe(&mut a, &key).await.expect("describe in A");
    assert_eq!(mr_view(&ma), expected_view(&cl, &key, A, A, &[B]));
    assert_eq!(
        decrypt(&mut b, &blob, &context).await,
        b"written in us-east-1"
    );

    // Shared properties are the primary's.
    assert_eq!(mb.key_spec, ma.key_spec);
    assert_eq!(mb.key_usage, ma.key_usage);
    assert_eq!(mb.origin, ma.origin);
    assert_eq!(mb.current_key_material_id, ma.current_key_material_id);
    assert!(!ma.current_key_material_id.is_empty());

    // A second replica: every Region's view lists it, including B's,
    // which learns it from the primary (a plain Sync).
    replicate(&mut a, &key, REGIONS[C]).await;
    let mc = wait_view(&cl, &c, &key, C, A, &[B, C]).await;
    wait_view(&cl, &b, &key, B, A, &[B, C]).await;
    let ma = try_describe(&mut a, &key).await.expect("describe in A");
    assert_eq!(mr_view(&ma), expected_view(&cl, &key, A, A, &[B, C]));
    assert_eq!(mc.current_key_material_id, ma.current_key_material_id);
    for (i, m) in [(A, &ma), (C, &mc)] {
        assert!(m.multi_region, "{}", cl.regions[i]);
        assert_eq!(m.arn, cl.key_arn(i, &key));
        assert_eq!(m.aws_account_id, ACCOUNT_A);
    }
    assert_eq!(
        decrypt(&mut c, &blob, &context).await,
        b"written in us-east-1"
    );

    // A data key made in a replica's Region decrypts in the other two.
    let dk = b
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            encryption_context: context.clone(),
            ..Default::default()
        })
        .await
        .expect("GenerateDataKey in B")
        .into_inner();
    assert_eq!(dk.key_id, cl.key_arn(B, &key));
    for (name, client) in [("A", &mut a), ("C", &mut c)] {
        let out = try_decrypt(client, &dk.ciphertext_blob, &context)
            .await
            .unwrap_or_else(|e| panic!("decrypt B's data key in {name}: {e:?}"));
        assert_eq!(out.plaintext, dk.plaintext, "{name}");
    }
    // The encryption context still binds across Regions.
    let e = try_decrypt(&mut c, &dk.ciphertext_blob, &ctx(&[("purpose", "other")]))
        .await
        .expect_err("wrong context");
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");

    // ---- ReplicateKey's errors (test 9, all but the down Region, which
    // `mr_rotation_reaches_a_region_that_was_down` covers). Nothing changes.
    let before = vec![a.clone(), b.clone(), c.clone()];
    let snapshot = |mut cs: Vec<super::harness::Client>, key: String| async move {
        let mut out = Vec::new();
        for c in &mut cs {
            out.push(mr_view(&try_describe(c, &key).await.expect("describe")));
        }
        out
    };
    let views = snapshot(before.clone(), key.clone()).await;
    // A second replica in the same Region.
    let e = try_replicate(&mut a, &key, REGIONS[B])
        .await
        .expect_err("twice");
    assert_aws_error(&e, Code::AlreadyExists, "AlreadyExistsException");
    // Near-miss Region names: a case twin, this Region, a well-formed
    // Region that is not a peer, garbage.
    for bad in [
        "US-WEST-2",
        "us-west-2 ",
        "Us-West-2",
        REGIONS[A],
        "ap-south-1",
        "",
        "us-west",
    ] {
        let e = try_replicate(&mut a, &key, bad)
            .await
            .expect_err(&format!("ReplicaRegion {bad:?}"));
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    // Only the primary can be replicated.
    let e = try_replicate(&mut b, &key, REGIONS[C])
        .await
        .expect_err("replicate a replica");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = try_replicate(&mut c, &key, REGIONS[A])
        .await
        .expect_err("replicate a replica to its primary's Region");
    assert!(
        matches!(
            e.code(),
            Code::Unimplemented | Code::InvalidArgument | Code::AlreadyExists
        ),
        "{e:?}"
    );
    // A single-Region key cannot be replicated.
    let single = super::harness::create_key(&mut a, "single-Region").await;
    let e = try_replicate(&mut a, &single, REGIONS[B])
        .await
        .expect_err("single-Region key");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = try_describe(&mut b, &single)
        .await
        .expect_err("not replicated");
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    assert_eq!(
        snapshot(before, key.clone()).await,
        views,
        "a refused call changed nothing"
    );
}

/// Test 2 (and ReplicateKey to a down Region, test 9): rotate on the
/// primary while C is stopped; the outbox keeps C's entries (`kmsd
/// replication status` shows them); C starts and a ciphertext made under
/// the new material decrypts there, and ListKeyRotations in C shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_rotation_reaches_a_region_that_was_down() {
    let mut cl = MrCluster::start(3);
    let (mut a, b, c) = (cl.client(A).await, cl.client(B).await, cl.client(C).await);
    let key = create_mr_symmetric(&mut a, "mrk test 2").await;
    replicate(&mut a, &key, REGIONS[B]).await;
    replicate(&mut a, &key, REGIONS[C]).await;
    let before = wait_view(&cl, &c, &key, C, A, &[B, C]).await;
    wait_view(&cl, &b, &key, B, A, &[B, C]).await;

    cl.stop_region(C);

    try_rotate(&mut a, &key)
        .await
        .expect("rotate on the primary");
    let ma = try_describe(&mut a, &key).await.expect("describe in A");
    assert_ne!(ma.current_key_material_id, before.current_key_material_id);
    let context = ctx(&[("after", "rotation")]);
    let blob = encrypt(&mut a, &key, b"new material", &context).await;
    // B (up) gets the new material.
    let new_id = ma.current_key_material_id.clone();
    wait_key(&b, &key, "B to take the rotation", |m| {
        m.current_key_material_id == new_id
    })
    .await;
    let mut b2 = b.clone();
    assert_eq!(decrypt(&mut b2, &blob, &context).await, b"new material");

    // ReplicateKey to the down Region: DependencyTimeoutException, and
    // nothing changes here (the list, and later C, which never gets it).
    let other = create_mr_symmetric(&mut a, "never replicated").await;
    let e = try_replicate(&mut a, &other, REGIONS[C])
        .await
        .expect_err("C is down");
    assert_aws_error(&e, Code::Unavailable, "DependencyTimeoutException");
    let mo = try_describe(&mut a, &other).await.expect("describe");
    assert_eq!(mr_view(&mo), expected_view(&cl, &other, A, A, &[]));

    // A's outbox holds C's entries while C is down (the status command
    // reads the store read-only while A serves it). Checked at the end, so
    // that a failure here does not hide the replication checks.
    let status_while_down = cl.try_backlog(A);

    cl.start_region(C);
    let mut c = c;
    let mc = wait_key(&c, &key, "C to take the rotation after its restart", |m| {
        m.current_key_material_id == new_id
    })
    .await;
    assert_eq!(mc.key_state(), pb::KeyState::Enabled);
    assert_eq!(decrypt(&mut c, &blob, &context).await, b"new material");
    let rotations = all_rotations(&mut c, &key).await;
    let ids: Vec<&str> = rotations
        .iter()
        .map(|r| r.key_material_id.as_str())
        .collect();
    assert!(ids.contains(&new_id.as_str()), "{rotations:?}");
    assert!(
        ids.contains(&before.current_key_material_id.as_str()),
        "{rotations:?}"
    );
    let in_a = all_rotations(&mut a, &key).await;
    assert_eq!(rotations.len(), in_a.len(), "C: {rotations:?}\nA: {in_a:?}");
    let entry = rotations
        .iter()
        .find(|r| r.key_material_id == new_id)
        .expect("the new material");
    assert_eq!(entry.rotation_type(), pb::RotationType::OnDemand);
    assert_eq!(entry.key_material_state(), pb::KeyMaterialState::Current);

    // The refused ReplicateKey never reached C (the barrier: everything A
    // queued for C before its probe has arrived).
    super::mr_cluster::replication_barrier(&cl).await;
    let e = try_describe(&mut c, &other)
        .await
        .expect_err("never replicated");
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // `kmsd replication status`: C's entries were waiting while C was
    // down, and A's backlog drains once C is back.
    let backlog = status_while_down.unwrap_or_else(|e| panic!("kmsd replication status: {e}"));
    assert!(
        backlog.get(REGIONS[C]).copied().unwrap_or(0) > 0,
        "A's backlog for C while C is down: {backlog:?}"
    );
    super::mr_cluster::eventually("A's backlog to drain", || async {
        let b = cl.try_backlog(A)?;
        if b.values().all(|&n| n == 0) {
            Ok(())
        } else {
            Err(format!("{b:?}"))
        }
    })
    .await;
}

/// Test 3: UpdatePrimaryRegion A→B; both leave Updating; B rotates; A,
/// now a replica, refuses rotation with AWS's error; every Region names B
/// the primary. And test 10: ScheduleKeyDeletion of a primary with
/// replicas waits in PendingReplicaDeletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_update_primary_region_moves_rotation_and_deletion_waits_for_replicas() {
    let cl = MrCluster::start(3);
    let (mut a, mut b, mut c) = (cl.client(A).await, cl.client(B).await, cl.client(C).await);
    let key = create_mr_symmetric(&mut a, "mrk test 3").await;
    replicate(&mut a, &key, REGIONS[B]).await;
    replicate(&mut a, &key, REGIONS[C]).await;
    wait_view(&cl, &b, &key, B, A, &[B, C]).await;
    wait_view(&cl, &c, &key, C, A, &[B, C]).await;
    let context = ctx(&[("k", "v")]);
    let old_blob = encrypt(&mut a, &key, b"before the swap", &context).await;

    // Errors first: not a replica Region, a replica asked.
    let e = try_update_primary(&mut a, &key, "ap-south-1")
        .await
        .expect_err("no replica there");
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let e = try_update_primary(&mut b, &key, REGIONS[C])
        .await
        .expect_err("B is not the primary");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");

    try_update_primary(&mut a, &key, REGIONS[B])
        .await
        .expect("UpdatePrimaryRegion A -> B");
    // Both leave Updating; every Region shows B as the primary.
    wait_view(&cl, &a, &key, A, B, &[A, C]).await;
    wait_view(&cl, &b, &key, B, B, &[A, C]).await;
    wait_view(&cl, &c, &key, C, B, &[A, C]).await;

    // The new primary rotates; the new material reaches A and C.
    try_rotate(&mut b, &key)
        .await
        .expect("rotate on the new primary");
    let new_id = try_describe(&mut b, &key)
        .await
        .expect("describe")
        .current_key_material_id;
    for (i, client) in [(A, &a), (C, &c)] {
        wait_key(
            client,
            &key,
            &format!("{} to take B's rotation", cl.regions[i]),
            |m| m.current_key_material_id == new_id,
        )
        .await;
    }
    let blob = encrypt(&mut b, &key, b"after the swap", &context).await;
    assert_eq!(decrypt(&mut a, &blob, &context).await, b"after the swap");
    assert_eq!(decrypt(&mut c, &blob, &context).await, b"after the swap");
    assert_eq!(
        decrypt(&mut b, &old_blob, &context).await,
        b"before the swap"
    );

    // The old primary is a replica now: rotation calls are refused with
    // AWS's error, as is ReplicateKey and UpdatePrimaryRegion.
    let e = try_rotate(&mut a, &key).await.expect_err("A is a replica");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = a
        .enable_key_rotation(pb::EnableKeyRotationRequest {
            key_id: key.clone(),
            rotation_period_in_days: None,
        })
        .await
        .expect_err("EnableKeyRotation on a replica");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = try_rotate(&mut c, &key).await.expect_err("C is a replica");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = try_update_primary(&mut a, &key, REGIONS[C])
        .await
        .expect_err("A is no longer the primary");
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    // Automatic rotation is set on the primary and shared.
    b.enable_key_rotation(pb::EnableKeyRotationRequest {
        key_id: key.clone(),
        rotation_period_in_days: Some(180),
    })
    .await
    .expect("EnableKeyRotation on the new primary");
    super::mr_cluster::eventually("C to share the rotation setting", || {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            let s = c
                .get_key_rotation_status(pb::GetKeyRotationStatusRequest { key_id: key })
                .await
                .map_err(|e| format!("{e:?}"))?
                .into_inner();
            if s.key_rotation_enabled && s.rotation_period_in_days == Some(180) {
                Ok(())
            } else {
                Err(format!("{s:?}"))
            }
        }
    })
    .await;

    // ---- Test 10: deletion of a primary with replicas.
    let doomed = create_mr_symmetric(&mut a, "mrk test 10").await;
    replicate(&mut a, &doomed, REGIONS[B]).await;
    replicate(&mut a, &doomed, REGIONS[C]).await;
    wait_view(&cl, &b, &doomed, B, A, &[B, C]).await;
    wait_view(&cl, &c, &doomed, C, A, &[B, C]).await;
    let blob = encrypt(&mut a, &doomed, b"doomed", &context).await;
    let r = a
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: doomed.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("ScheduleKeyDeletion on the primary")
        .into_inner();
    assert_eq!(r.key_state(), pb::KeyState::PendingReplicaDeletion);
    let ma = try_describe(&mut a, &doomed).await.expect("describe");
    assert_eq!(ma.key_state(), pb::KeyState::PendingReplicaDeletion);
    // No deletion date while replicas remain.
    assert!(ma.deletion_date.is_none(), "{ma:?}");
    let e = try_decrypt(&mut a, &blob, &context)
        .await
        .expect_err("no crypto while pending replica deletion");
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    // The replicas are per-Region: still Enabled and usable.
    let mb = try_describe(&mut b, &doomed).await.expect("describe in B");
    assert_eq!(mb.key_state(), pb::KeyState::Enabled);
    assert_eq!(decrypt(&mut b, &blob, &context).await, b"doomed");
    // A replica is deleted in its own Region, with the usual window.
    let rb = b
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: doomed.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .expect("ScheduleKeyDeletion on a replica")
        .into_inner();
    assert_eq!(rb.key_state(), pb::KeyState::PendingDeletion);
    assert!(rb.deletion_date.is_some());
    let mb = try_describe(&mut b, &doomed).await.expect("describe in B");
    assert_eq!(mb.key_state(), pb::KeyState::PendingDeletion);
    // C's replica is untouched by B's.
    let mc = try_describe(&mut c, &doomed).await.expect("describe in C");
    assert_eq!(mc.key_state(), pb::KeyState::Enabled);
    // The 7-day window cannot pass in a real process (no per-process
    // manual clock): the rest of the chain (replica deleted →
    // ReplicaDeleted → the primary's window starts) is not run here.
    // CancelKeyDeletion works on PendingReplicaDeletion (→ Disabled).
    a.cancel_key_deletion(pb::CancelKeyDeletionRequest {
        key_id: doomed.clone(),
    })
    .await
    .expect("CancelKeyDeletion on PendingReplicaDeletion");
    let ma = try_describe(&mut a, &doomed).await.expect("describe");
    assert_eq!(ma.key_state(), pb::KeyState::Disabled);
    assert!(is_primary(&ma));
}

/// Test 4: a replica's own key policy denies a principal the primary's
/// allows; description, tags, aliases and Enable/Disable are per Region:
/// a change in one Region never reaches another, even after shared-state
/// changes (rotations) have been replicated past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_replica_policy_and_per_region_properties_are_independent() {
    let cl = MrCluster::start(2);
    let (mut a, mut b) = (cl.client(A).await, cl.client(B).await);
    let alice_stmt = |effect: &str| {
        serde_json::json!({
            "Sid": format!("{effect} alice"),
            "Effect": effect,
            "Principal": {"AWS": ALICE_A},
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": "*",
        })
    };
    let primary_policy = key_policy_with(ACCOUNT_A, &[alice_stmt("Allow")]);
    let key = a
        .create_key(pb::CreateKeyRequest {
            description: "primary's description".into(),
            multi_region: true,
            policy: Some(primary_policy.clone()),
            tags: tags(&[("team", "a")]),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    // In B alice's identity policy allows Decrypt on every key, so only
    // the replica's own key policy (an explicit Deny) can refuse her.
    let mut ib = cl
        .identity_client_as(B, &super::harness::root_of(ALICE_A))
        .await;
    ib.put_principal_policy(pb::PutPrincipalPolicyRequest {
        principal_arn: ALICE_A.into(),
        policy_name: "decrypt-all".into(),
        policy_document: identity_doc("Allow", &["kms:Decrypt", "kms:DescribeKey"], "*"),
    })
    .await
    .expect("identity policy in B");
    let replica_policy = key_policy_with(ACCOUNT_A, &[alice_stmt("Deny")]);
    let r = b_replicate_with(&mut a, &key, &replica_policy).await;
    assert_eq!(r.replica_policy, replica_policy);
    let mut rtags: Vec<_> = r
        .replica_tags
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    rtags.sort();
    assert_eq!(rtags, vec![("team".to_owned(), "b".to_owned())]);
    let mb = wait_view(&cl, &b, &key, B, A, &[B]).await;
    assert_eq!(mb.description, "replica's description");
    assert_eq!(get_key_policy(&mut b, &key).await, replica_policy);
    assert_eq!(get_key_policy(&mut a, &key).await, primary_policy);
    assert_eq!(
        all_tags(&mut b, &key).await,
        vec![("team".into(), "b".into())]
    );
    assert_eq!(
        all_tags(&mut a, &key).await,
        vec![("team".into(), "a".into())]
    );

    let context = ctx(&[("who", "alice")]);
    let blob = encrypt(&mut a, &key, b"for alice", &context).await;
    let mut alice_a = cl.client_as(A, ALICE_A).await;
    let mut alice_b = cl.client_as(B, ALICE_A).await;
    assert_eq!(decrypt(&mut alice_a, &blob, &context).await, b"for alice");
    let e = try_decrypt(&mut alice_b, &blob, &context)
        .await
        .expect_err("the replica's policy denies alice");
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    // The root of the account still decrypts in B (it is the policy, not
    // the replica, that refuses alice).
    assert_eq!(decrypt(&mut b, &blob, &context).await, b"for alice");

    // Per-Region changes on both sides, then a shared change (rotation)
    // replicated past them: none crosses.
    b.update_key_description(pb::UpdateKeyDescriptionRequest {
        key_id: key.clone(),
        description: "changed in B".into(),
    })
    .await
    .expect("describe in B");
    a.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: tags(&[("env", "prod")]),
    })
    .await
    .expect("tag in A");
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/mrk-in-a".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias in A");
    b.disable_key(pb::DisableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("disable in B");
    // A policy change in A must not reach B either.
    let policy_a2 = key_policy_with(
        ACCOUNT_A,
        &[
            alice_stmt("Allow"),
            serde_json::json!({
                "Sid": "alice encrypts",
                "Effect": "Allow",
                "Principal": {"AWS": ALICE_A},
                "Action": "kms:Encrypt",
                "Resource": "*",
            }),
        ],
    );
    super::harness::put_key_policy(&mut a, &key, &policy_a2).await;

    try_rotate(&mut a, &key).await.expect("rotate");
    let new_id = try_describe(&mut a, &key)
        .await
        .expect("describe")
        .current_key_material_id;
    let mb = wait_key(&b, &key, "B to take the rotation", |m| {
        m.current_key_material_id == new_id
    })
    .await;
    // B: its own description, Disabled, its tags, no alias, its policy.
    assert_eq!(mb.description, "changed in B");
    assert_eq!(mb.key_state(), pb::KeyState::Disabled);
    assert!(!mb.enabled);
    assert_eq!(
        all_tags(&mut b, &key).await,
        vec![("team".into(), "b".into())]
    );
    assert!(
        all_aliases(&mut b)
            .await
            .iter()
            .all(|al| al.alias_name != "alias/mrk-in-a"),
        "an alias made in A appeared in B"
    );
    assert_eq!(get_key_policy(&mut b, &key).await, replica_policy);
    // A: its description, Enabled, its tags.
    let ma = try_describe(&mut a, &key).await.expect("describe in A");
    assert_eq!(ma.description, "primary's description");
    assert_eq!(ma.key_state(), pb::KeyState::Enabled);
    let mut ta = all_tags(&mut a, &key).await;
    ta.sort();
    assert_eq!(
        ta,
        vec![("env".into(), "prod".into()), ("team".into(), "a".into())]
    );
    // Disabled in B only: Decrypt fails there, works in A.
    let e = try_decrypt(&mut b, &blob, &context)
        .await
        .expect_err("disabled in B");
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    assert_eq!(decrypt(&mut a, &blob, &context).await, b"for alice");
    // The same alias name can point at the replica in B.
    b.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/mrk-in-a".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias in B");
    b.enable_key(pb::EnableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("enable in B");
    assert_eq!(decrypt(&mut b, &blob, &context).await, b"for alice");
    // Disabling the primary does not disable the replica.
    a.disable_key(pb::DisableKeyRequest {
        key_id: key.clone(),
    })
    .await
    .expect("disable in A");
    let e = try_decrypt(&mut a, &blob, &context)
        .await
        .expect_err("disabled in A");
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    assert_eq!(decrypt(&mut b, &blob, &context).await, b"for alice");
    let mb = try_describe(&mut b, &key).await.expect("describe in B");
    assert_eq!(mb.key_state(), pb::KeyState::Enabled);
    assert_eq!(replica_regions(&mb), vec![REGIONS[B].to_owned()]);
}

/// ReplicateKey to B with a policy, description and tags for the replica.
async fn b_replicate_with(
    a: &mut super::harness::Client,
    key: &str,
    policy: &str,
) -> pb::ReplicateKeyResponse {
    a.replicate_key(pb::ReplicateKeyRequest {
        key_id: key.into(),
        replica_region: REGIONS[B].into(),
        policy: Some(policy.into()),
        bypass_policy_lockout_safety_check: false,
        description: Some("replica's description".into()),
        tags: tags(&[("team", "b")]),
    })
    .await
    .unwrap_or_else(|e| panic!("replicate {key} to B: {e:?}"))
    .into_inner()
}

/// Signatures and MACs made under a multi-Region key verify in every other
/// Region holding it, with no call between Regions at verify time: the
/// replica holds the primary's private key / HMAC key (the issue: "the same
/// holds for signatures and MACs of asymmetric and HMAC multi-Region
/// keys"). Both directions, plus a near miss (a signature of another
/// message) that must not verify anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_signatures_and_macs_verify_in_every_region() {
    use super::mr_cluster::create_mr_key;
    let cl = MrCluster::start(2);
    let (mut a, mut b) = (cl.client(A).await, cl.client(B).await);
    let ecc = create_mr_key(
        &mut a,
        "mrk sign",
        pb::KeySpec::EccNistP256,
        pb::KeyUsageType::SignVerify,
    )
    .await;
    let hmac = create_mr_key(
        &mut a,
        "mrk mac",
        pb::KeySpec::Hmac256,
        pb::KeyUsageType::GenerateVerifyMac,
    )
    .await;
    for k in [&ecc, &hmac] {
        replicate(&mut a, k, REGIONS[B]).await;
        wait_key(&b, k, "replica Enabled in B", |m| {
            state(m) == pb::KeyState::Enabled
        })
        .await;
    }

    // The same public key in both Regions.
    let public_key = |c: &mut super::harness::Client| {
        let mut c = c.clone();
        let id = ecc.clone();
        async move {
            c.get_public_key(pb::GetPublicKeyRequest {
                key_id: id,
                ..Default::default()
            })
            .await
            .expect("GetPublicKey")
            .into_inner()
            .public_key
        }
    };
    let pk_a = public_key(&mut a).await;
    assert!(!pk_a.is_empty());
    assert_eq!(pk_a, public_key(&mut b).await);

    let sign = |c: &mut super::harness::Client, msg: &'static [u8]| {
        let mut c = c.clone();
        let id = ecc.clone();
        async move {
            c.sign(pb::SignRequest {
                key_id: id,
                message: msg.to_vec(),
                message_type: pb::MessageType::Raw as i32,
                signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
                ..Default::default()
            })
            .await
            .expect("Sign")
            .into_inner()
            .signature
        }
    };
    let verify = |c: &mut super::harness::Client, msg: &'static [u8], sig: Vec<u8>| {
        let mut c = c.clone();
        let id = ecc.clone();
        async move {
            c.verify(pb::VerifyRequest {
                key_id: id,
                message: msg.to_vec(),
                message_type: pb::MessageType::Raw as i32,
                signature: sig,
                signing_algorithm: pb::SigningAlgorithmSpec::EcdsaSha256 as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().signature_valid)
        }
    };
    let sig_a = sign(&mut a, b"signed in us-east-1").await;
    assert_eq!(
        verify(&mut b, b"signed in us-east-1", sig_a.clone())
            .await
            .ok(),
        Some(true)
    );
    let sig_b = sign(&mut b, b"signed in us-west-2").await;
    assert_eq!(
        verify(&mut a, b"signed in us-west-2", sig_b).await.ok(),
        Some(true)
    );
    for c in [&mut a, &mut b] {
        let e = verify(c, b"another message", sig_a.clone())
            .await
            .expect_err("a signature of another message");
        assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidSignatureException");
    }

    // A MAC made in the replica verifies in the primary, and the reverse.
    let mac = |c: &mut super::harness::Client| {
        let mut c = c.clone();
        let id = hmac.clone();
        async move {
            c.generate_mac(pb::GenerateMacRequest {
                key_id: id,
                message: b"mac me".to_vec(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                ..Default::default()
            })
            .await
            .expect("GenerateMac")
            .into_inner()
            .mac
        }
    };
    let verify_mac = |c: &mut super::harness::Client, m: Vec<u8>| {
        let mut c = c.clone();
        let id = hmac.clone();
        async move {
            c.verify_mac(pb::VerifyMacRequest {
                key_id: id,
                message: b"mac me".to_vec(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                mac: m,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().mac_valid)
        }
    };
    let mac_b = mac(&mut b).await;
    assert_eq!(mac_b, mac(&mut a).await, "one HMAC key in both Regions");
    assert_eq!(verify_mac(&mut a, mac_b.clone()).await.ok(), Some(true));
    let mut bad = mac_b;
    bad[0] ^= 1;
    let e = verify_mac(&mut b, bad).await.expect_err("a flipped MAC");
    assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
}
