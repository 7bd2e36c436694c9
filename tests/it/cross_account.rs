//! Cross-account use of a key, the scenario from the issue: account A
//! encrypts under its key, lets account B use it through the key policy,
//! and a principal of B decrypts once B's root has also allowed it through
//! an identity policy. Both sides must allow: the key policy (the key's
//! account) and the caller's identity policies (the caller's account).

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use serde_json::json;
use tonic::Status;

use crate::harness::*;

const CAROL_B: &str = "arn:aws:iam::444455556666:user/carol";
const DAVE_B: &str = "arn:aws:iam::444455556666:user/dave";
const ROOT_C: &str = "arn:aws:iam::777788889999:root";
const EVE_C: &str = "arn:aws:iam::777788889999:user/eve";

/// The identity policy B's root gives its principals: A's keys, for the
/// three actions A's key policy shares.
fn b_identity_policy() -> String {
    identity_doc(
        "Allow",
        &["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
        "arn:aws:kms:*:111122223333:key/*",
    )
}

/// A's key policy: A's root keeps `kms:*`; `b_principal` may Decrypt,
/// DescribeKey and CreateGrant.
fn shared_key_policy(b_principal: &str) -> String {
    key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Sid": "Allow use by account B",
            "Effect": "Allow",
            "Principal": {"AWS": b_principal},
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"],
            "Resource": "*",
        })],
    )
}

async fn try_describe(c: &mut Client, key: &str) -> Result<pb::KeyMetadata, Status> {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key.into(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().key_metadata.expect("metadata"))
}

struct Scenario {
    server: TestServer,
    a: Client,
    key: String,
    arn: String,
    blob: Vec<u8>,
    data_key: Vec<u8>,
    context: HashMap<String, String>,
}

/// A's key and a data key generated under it with an encryption context.
async fn scenario() -> Scenario {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "shared with B").await;
    let context = ctx(&[("tenant", "acme"), ("purpose", "backup")]);
    let dk = a
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            encryption_context: context.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .expect("generate data key")
        .into_inner();
    Scenario {
        arn: key_arn_of(ACCOUNT_A, &key),
        server,
        a,
        key,
        blob: dk.ciphertext_blob,
        data_key: dk.plaintext,
        context,
    }
}

#[tokio::test]
async fn account_b_decrypts_when_the_key_policy_and_its_identity_policy_both_allow() {
    let Scenario {
        server,
        mut a,
        key,
        arn,
        blob,
        data_key,
        context,
    } = scenario().await;
    let mut bob = server.client_as(BOB_B).await;
    let mut carol = server.client_as(CAROL_B).await;

    // Before anything is shared: Bob is denied, whatever his own account says.
    put_identity_policy(&server, BOB_B, "use-a-keys", &b_identity_policy()).await;
    let e = try_decrypt(&mut bob, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);

    put_key_policy(&mut a, &key, &shared_key_policy(&root_of(BOB_B))).await;

    // Bob names nothing: the blob names the key.
    let out = try_decrypt(&mut bob, &blob, &context)
        .await
        .expect("Bob decrypts");
    assert_eq!(out.plaintext, data_key);
    assert_eq!(out.key_id, arn);
    // DescribeKey by ARN.
    let md = try_describe(&mut bob, &arn).await.expect("Bob describes");
    assert_eq!(md.arn, arn);
    assert_eq!(md.aws_account_id, ACCOUNT_A);
    assert_eq!(md.key_id, key);
    // The encryption context still has to match.
    let e = try_decrypt(&mut bob, &blob, &ctx(&[("tenant", "other")]))
        .await
        .unwrap_err();
    assert_aws_error(
        &e,
        tonic::Code::InvalidArgument,
        "InvalidCiphertextException",
    );
    // Actions the key policy does not share stay denied.
    let e = bob
        .encrypt(pb::EncryptRequest {
            key_id: arn.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Encrypt", &arn);
    let e = bob
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: arn.clone(),
            number_of_bytes: Some(32),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:GenerateDataKey", &arn);

    // Another principal of B without an identity policy: denied.
    let e = try_decrypt(&mut carol, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, CAROL_B, "kms:Decrypt", &arn);
    let e = try_describe(&mut carol, &arn).await.unwrap_err();
    assert_access_denied(&e, CAROL_B, "kms:DescribeKey", &arn);

    // B's root needs no identity policy: its account is named.
    let mut root_b = server.client_as(ROOT_B).await;
    let out = try_decrypt(&mut root_b, &blob, &context)
        .await
        .expect("B's root decrypts");
    assert_eq!(out.plaintext, data_key);
    try_describe(&mut root_b, &arn)
        .await
        .expect("B's root describes");

    // Bob's identity policy gone: the key policy alone is not enough.
    delete_identity_policy(&server, BOB_B, "use-a-keys").await;
    let e = try_decrypt(&mut bob, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
}

#[tokio::test]
async fn an_identity_policy_for_other_resources_does_not_allow() {
    let Scenario {
        server,
        mut a,
        key,
        arn,
        blob,
        context,
        ..
    } = scenario().await;
    put_key_policy(&mut a, &key, &shared_key_policy(&root_of(BOB_B))).await;
    // Bob's policy names B's own keys, not A's.
    put_identity_policy(
        &server,
        BOB_B,
        "own-keys",
        &identity_doc("Allow", &["kms:*"], "arn:aws:kms:*:444455556666:key/*"),
    )
    .await;
    let mut bob = server.client_as(BOB_B).await;
    let e = try_decrypt(&mut bob, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
    // Naming A's keys: allowed.
    put_identity_policy(&server, BOB_B, "a-keys", &b_identity_policy()).await;
    try_decrypt(&mut bob, &blob, &context)
        .await
        .expect("allowed");
    // An identity Deny in B beats A's key policy Allow.
    put_identity_policy(
        &server,
        BOB_B,
        "no-a-decrypt",
        &identity_doc("Deny", &["kms:Decrypt"], &arn),
    )
    .await;
    let e = try_decrypt(&mut bob, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
}

#[tokio::test]
async fn a_third_account_is_denied() {
    let Scenario {
        server,
        mut a,
        key,
        arn,
        blob,
        context,
        ..
    } = scenario().await;
    put_key_policy(&mut a, &key, &shared_key_policy(&root_of(BOB_B))).await;
    // Even with everything allowed on its own side.
    put_identity_policy(
        &server,
        EVE_C,
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    for principal in [ROOT_C, EVE_C] {
        let mut c = server.client_as(principal).await;
        let e = try_decrypt(&mut c, &blob, &context).await.unwrap_err();
        assert_access_denied(&e, principal, "kms:Decrypt", &arn);
        let e = try_describe(&mut c, &arn).await.unwrap_err();
        assert_access_denied(&e, principal, "kms:DescribeKey", &arn);
        let e = c
            .create_grant(pb::CreateGrantRequest {
                key_id: arn.clone(),
                grantee_principal: principal.into(),
                operations: vec![pb::GrantOperation::Decrypt as i32],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_access_denied(&e, principal, "kms:CreateGrant", &arn);
    }
    assert!(all_grants(&mut a, &key).await.is_empty());
}

#[tokio::test]
async fn narrowing_the_key_policy_to_bob_denies_the_rest_of_account_b() {
    let Scenario {
        server,
        mut a,
        key,
        arn,
        blob,
        data_key,
        context,
    } = scenario().await;
    put_key_policy(&mut a, &key, &shared_key_policy(&root_of(BOB_B))).await;
    for p in [BOB_B, DAVE_B] {
        put_identity_policy(&server, p, "use-a-keys", &b_identity_policy()).await;
    }
    let mut bob = server.client_as(BOB_B).await;
    let mut dave = server.client_as(DAVE_B).await;
    let mut root_b = server.client_as(ROOT_B).await;
    for c in [&mut bob, &mut dave, &mut root_b] {
        let out = try_decrypt(c, &blob, &context)
            .await
            .expect("whole account B allowed");
        assert_eq!(out.plaintext, data_key);
    }

    put_key_policy(&mut a, &key, &shared_key_policy(BOB_B)).await;
    assert!(get_key_policy(&mut a, &key).await.contains(BOB_B));

    // Bob still decrypts and describes.
    let out = try_decrypt(&mut bob, &blob, &context)
        .await
        .expect("Bob decrypts");
    assert_eq!(out.plaintext, data_key);
    try_describe(&mut bob, &arn).await.expect("Bob describes");
    // Dave has the same identity policy, but the key policy no longer names
    // his account.
    let e = try_decrypt(&mut dave, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, DAVE_B, "kms:Decrypt", &arn);
    let e = try_describe(&mut dave, &arn).await.unwrap_err();
    assert_access_denied(&e, DAVE_B, "kms:DescribeKey", &arn);
    // Nor B's root.
    let e = try_decrypt(&mut root_b, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Decrypt", &arn);

    // A policy naming Bob directly still needs Bob's identity policy.
    delete_identity_policy(&server, BOB_B, "use-a-keys").await;
    let e = try_decrypt(&mut bob, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
}

#[tokio::test]
async fn account_b_can_grant_a_principal_of_b_what_a_shared() {
    let Scenario {
        server,
        mut a,
        key,
        arn,
        blob,
        data_key,
        context,
    } = scenario().await;
    put_key_policy(&mut a, &key, &shared_key_policy(&root_of(BOB_B))).await;
    put_identity_policy(&server, BOB_B, "use-a-keys", &b_identity_policy()).await;
    let mut bob = server.client_as(BOB_B).await;
    let mut carol = server.client_as(CAROL_B).await;
    let e = try_decrypt(&mut carol, &blob, &context).await.unwrap_err();
    assert_access_denied(&e, CAROL_B, "kms:Decrypt", &arn);

    let g = bob
        .create_grant(pb::CreateGrantRequest {
            key_id: arn.clone(),
            grantee_principal: CAROL_B.into(),
            operations: vec![pb::GrantOperation::Decrypt as i32],
            ..Default::default()
        })
        .await
        .expect("Bob creates a grant on A's key")
        .into_inner();
    assert_eq!(g.grant_id.len(), 64);

    // Carol has no identity policy and the key policy does not name her:
    // the grant alone lets her decrypt.
    let out = try_decrypt(&mut carol, &blob, &context)
        .await
        .expect("Carol decrypts");
    assert_eq!(out.plaintext, data_key);
    let e = try_describe(&mut carol, &arn).await.unwrap_err();
    assert_access_denied(&e, CAROL_B, "kms:DescribeKey", &arn);
    // A sees the grant on its key.
    let grants = all_grants(&mut a, &key).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_id, g.grant_id);
    assert_eq!(grants[0].grantee_principal, CAROL_B);
}
