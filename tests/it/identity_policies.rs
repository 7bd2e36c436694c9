//! IdentityService (IAM-lite): Put/Get/List/DeletePrincipalPolicy, durable
//! across restarts, paginated, callable only by the root of the target
//! principal's account, validated like key policies (but with no
//! Principal element), and in force from the very next call.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use serde_json::json;
use tonic::{Code, Status};

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";

async fn try_put(
    ic: &mut IdentityClient,
    principal: &str,
    name: &str,
    doc: &str,
) -> Result<(), Status> {
    ic.put_principal_policy(pb::PutPrincipalPolicyRequest {
        principal_arn: principal.into(),
        policy_name: name.into(),
        policy_document: doc.into(),
    })
    .await
    .map(drop)
}

async fn try_get(
    ic: &mut IdentityClient,
    principal: &str,
    name: &str,
) -> Result<pb::GetPrincipalPolicyResponse, Status> {
    ic.get_principal_policy(pb::GetPrincipalPolicyRequest {
        principal_arn: principal.into(),
        policy_name: name.into(),
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn try_delete(ic: &mut IdentityClient, principal: &str, name: &str) -> Result<(), Status> {
    ic.delete_principal_policy(pb::DeletePrincipalPolicyRequest {
        principal_arn: principal.into(),
        policy_name: name.into(),
    })
    .await
    .map(drop)
}

async fn try_list(
    ic: &mut IdentityClient,
    principal: &str,
    limit: Option<i32>,
    marker: Option<String>,
) -> Result<pb::ListPrincipalPoliciesResponse, Status> {
    ic.list_principal_policies(pb::ListPrincipalPoliciesRequest {
        principal_arn: principal.into(),
        limit,
        marker,
    })
    .await
    .map(tonic::Response::into_inner)
}

/// Every policy name of `principal`, following markers.
async fn all_names(ic: &mut IdentityClient, principal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker = None;
    loop {
        let page = try_list(ic, principal, Some(1000), marker.take())
            .await
            .expect("list");
        out.extend(page.policy_names);
        if !page.truncated {
            return out;
        }
        marker = Some(page.next_marker);
    }
}

async fn try_describe(c: &mut Client, key: &str) -> Result<(), Status> {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key.into(),
        ..Default::default()
    })
    .await
    .map(drop)
}

#[tokio::test]
async fn put_get_list_delete_round_trip_and_survive_a_restart() {
    let server = TestServer::start().await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    assert!(all_names(&mut ic, ALICE_A).await.is_empty());

    let describe_doc = identity_doc("Allow", &["kms:DescribeKey"], "*");
    let encrypt_doc = identity_doc("Allow", &["kms:Encrypt"], "*");
    try_put(&mut ic, ALICE_A, "describe", &describe_doc)
        .await
        .expect("put describe");
    try_put(&mut ic, ALICE_A, "encrypt", &encrypt_doc)
        .await
        .expect("put encrypt");
    try_put(&mut ic, ALICE_A, "scratch", &encrypt_doc)
        .await
        .expect("put scratch");
    let got = try_get(&mut ic, ALICE_A, "describe").await.expect("get");
    assert_eq!(got.principal_arn, ALICE_A);
    assert_eq!(got.policy_name, "describe");
    assert_eq!(got.policy_document, describe_doc);
    assert_eq!(
        all_names(&mut ic, ALICE_A).await,
        vec!["describe", "encrypt", "scratch"]
    );
    // Another principal's policies are separate.
    assert!(all_names(&mut ic, CAROL_A).await.is_empty());

    // Put replaces; Delete removes.
    let both_doc = identity_doc("Allow", &["kms:DescribeKey", "kms:Decrypt"], "*");
    try_put(&mut ic, ALICE_A, "describe", &both_doc)
        .await
        .expect("replace");
    assert_eq!(
        try_get(&mut ic, ALICE_A, "describe")
            .await
            .expect("get")
            .policy_document,
        both_doc
    );
    try_delete(&mut ic, ALICE_A, "scratch")
        .await
        .expect("delete");
    assert_eq!(
        all_names(&mut ic, ALICE_A).await,
        vec!["describe", "encrypt"]
    );

    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    drop(ic);
    let server = server.restart().await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    assert_eq!(
        all_names(&mut ic, ALICE_A).await,
        vec!["describe", "encrypt"]
    );
    assert_eq!(
        try_get(&mut ic, ALICE_A, "describe")
            .await
            .expect("get")
            .policy_document,
        both_doc
    );
    assert_eq!(
        try_get(&mut ic, ALICE_A, "encrypt")
            .await
            .expect("get")
            .policy_document,
        encrypt_doc
    );
    let e = try_get(&mut ic, ALICE_A, "scratch").await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    // And in force after the restart.
    let mut alice = server.client_as(ALICE_A).await;
    try_describe(&mut alice, &key)
        .await
        .expect("describe allowed");
    encrypt(&mut alice, &key, b"x", &HashMap::new()).await;
    let e = alice
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            number_of_bytes: Some(16),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(
        &e,
        ALICE_A,
        "kms:GenerateDataKey",
        &key_arn_of(ACCOUNT_A, &key),
    );
}

#[tokio::test]
async fn list_principal_policies_paginates() {
    let server = TestServer::start().await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    let doc = identity_doc("Allow", &["kms:ListKeys"], "*");
    let names = ["p1", "p2", "p3", "p4", "p5"];
    for n in names {
        try_put(&mut ic, ALICE_A, n, &doc).await.expect("put");
    }
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = try_list(&mut ic, ALICE_A, Some(2), marker.take())
            .await
            .expect("page");
        pages += 1;
        assert!(page.policy_names.len() <= 2);
        seen.extend(page.policy_names);
        if !page.truncated {
            assert!(page.next_marker.is_empty());
            break;
        }
        assert!(!page.next_marker.is_empty());
        marker = Some(page.next_marker);
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);
    // Limit out of range.
    for bad in [0, 1001] {
        let e = try_list(&mut ic, ALICE_A, Some(bad), None)
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
}

#[tokio::test]
async fn only_the_root_of_the_principals_account_may_manage_its_policies() {
    let server = TestServer::start().await;
    let doc = identity_doc("Allow", &["kms:*"], "*");
    // Existing policies, put by the right roots.
    put_identity_policy(&server, ALICE_A, "existing", &doc).await;
    put_identity_policy(&server, BOB_B, "existing", &doc).await;

    // (caller, target) pairs that must be refused.
    let refused = [
        (ALICE_A, ALICE_A), // on herself
        (ALICE_A, CAROL_A), // on a peer
        (ALICE_A, ROOT_A),  // on her root
        (ROOT_B, ALICE_A),  // another account's root
        (BOB_B, ALICE_A),
        (BOB_B, BOB_B),
        (ROOT_A, BOB_B), // A's root on B's user
    ];
    for (caller, target) in refused {
        let mut ic = server.identity_client_as(caller).await;
        let e = try_put(&mut ic, target, "escalate", &doc)
            .await
            .unwrap_err();
        assert_access_denied(&e, caller, "iam:PutPrincipalPolicy", target);
        let e = try_get(&mut ic, target, "existing").await.unwrap_err();
        assert_access_denied(&e, caller, "iam:GetPrincipalPolicy", target);
        let e = try_list(&mut ic, target, None, None).await.unwrap_err();
        assert_access_denied(&e, caller, "iam:ListPrincipalPolicies", target);
        let e = try_delete(&mut ic, target, "existing").await.unwrap_err();
        assert_access_denied(&e, caller, "iam:DeletePrincipalPolicy", target);
    }
    // Nothing changed.
    for p in [ALICE_A, BOB_B] {
        let mut ic = server.identity_client_as(&root_of(p)).await;
        assert_eq!(all_names(&mut ic, p).await, vec!["existing"], "{p}");
    }
    for p in [CAROL_A, ROOT_A] {
        let mut ic = server.identity_client_as(ROOT_A).await;
        assert!(all_names(&mut ic, p).await.is_empty(), "{p}");
    }
    // The right roots may.
    let mut ib = server.identity_client_as(ROOT_B).await;
    try_get(&mut ib, BOB_B, "existing")
        .await
        .expect("B's root reads Bob's");
    try_delete(&mut ib, BOB_B, "existing")
        .await
        .expect("B's root deletes Bob's");
}

#[tokio::test]
async fn malformed_identity_policies_are_refused() {
    let server = TestServer::start().await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("bad JSON", "{\"Statement\": [".to_string(), "JSON"),
        (
            "unknown operator",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "kms:*", "Resource": "*",
                "Condition": {"StringEqualz": {"kms:CallerAccount": "111122223333"}}
            }]})
            .to_string(),
            "StringEqualz",
        ),
        (
            "missing Effect",
            json!({"Version": "2012-10-17", "Statement": [{"Action": "kms:*", "Resource": "*"}]}).to_string(),
            "Effect",
        ),
        (
            "a Principal element",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": ALICE_A}, "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "Principal",
        ),
        (
            "a NotPrincipal element",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "NotPrincipal": {"AWS": ALICE_A}, "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "Principal",
        ),
        ("no statements", json!({"Version": "2012-10-17", "Statement": []}).to_string(), "Statement"),
    ];
    for (what, doc, names) in &cases {
        let e = try_put(&mut ic, ALICE_A, "bad", doc).await.expect_err(what);
        assert_aws_error(
            &e,
            Code::InvalidArgument,
            "MalformedPolicyDocumentException",
        );
        assert!(
            e.message().contains(names),
            "{what}: expected {names:?} in {}",
            e.message()
        );
    }
    assert!(
        all_names(&mut ic, ALICE_A).await.is_empty(),
        "nothing stored"
    );
    // A good policy replaced by a bad one stays as it was.
    let good = identity_doc("Allow", &["kms:ListKeys"], "*");
    try_put(&mut ic, ALICE_A, "p", &good).await.expect("good");
    let e = try_put(&mut ic, ALICE_A, "p", &cases[0].1)
        .await
        .unwrap_err();
    assert_aws_error(
        &e,
        Code::InvalidArgument,
        "MalformedPolicyDocumentException",
    );
    assert_eq!(
        try_get(&mut ic, ALICE_A, "p")
            .await
            .expect("get")
            .policy_document,
        good
    );
}

#[tokio::test]
async fn bad_names_and_missing_policies() {
    let server = TestServer::start().await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    let doc = identity_doc("Allow", &["kms:ListKeys"], "*");
    for (what, r) in [
        ("get", try_get(&mut ic, ALICE_A, "nope").await.map(drop)),
        ("delete", try_delete(&mut ic, ALICE_A, "nope").await),
    ] {
        let e = r.expect_err(what);
        assert_aws_error(&e, Code::NotFound, "NotFoundException");
    }
    try_put(&mut ic, ALICE_A, "p", &doc).await.expect("put");
    try_delete(&mut ic, ALICE_A, "p").await.expect("delete");
    let e = try_delete(&mut ic, ALICE_A, "p").await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    let e = try_get(&mut ic, ALICE_A, "p").await.unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // Not a principal ARN; not a policy name.
    let e = try_put(&mut ic, "alice", "p", &doc).await.unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    for bad in ["", "has space", "slash/name", &"x".repeat(129)] {
        let e = try_put(&mut ic, ALICE_A, bad, &doc).await.unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    assert!(all_names(&mut ic, ALICE_A).await.is_empty());
}

#[tokio::test]
async fn identity_policies_take_effect_on_the_next_call() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let other = create_key(&mut a, "other").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    let mut ic = server.identity_client_as(ROOT_A).await;
    for _ in 0..2 {
        let e = try_describe(&mut alice, &key).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
        try_put(
            &mut ic,
            ALICE_A,
            "p",
            &identity_doc("Allow", &["kms:DescribeKey"], "*"),
        )
        .await
        .expect("put");
        try_describe(&mut alice, &key)
            .await
            .expect("allowed right after Put");
        try_describe(&mut alice, &other).await.expect("any key");
        // Replaced by a narrower one: in force at once.
        try_put(
            &mut ic,
            ALICE_A,
            "p",
            &identity_doc(
                "Allow",
                &["kms:DescribeKey"],
                &key_arn_of(ACCOUNT_A, &other),
            ),
        )
        .await
        .expect("replace");
        let e = try_describe(&mut alice, &key).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
        try_describe(&mut alice, &other)
            .await
            .expect("still the other key");
        try_delete(&mut ic, ALICE_A, "p").await.expect("delete");
        let e = try_describe(&mut alice, &other).await.unwrap_err();
        assert_access_denied(
            &e,
            ALICE_A,
            "kms:DescribeKey",
            &key_arn_of(ACCOUNT_A, &other),
        );
    }
    // Policies on another principal do nothing for Alice.
    try_put(
        &mut ic,
        CAROL_A,
        "p",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await
    .expect("carol");
    let e = try_describe(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
}

#[tokio::test]
async fn an_assumed_role_session_uses_its_roles_policies() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let role = "arn:aws:iam::111122223333:role/app";
    let session = "arn:aws:sts::111122223333:assumed-role/app/session-1";
    let mut s = server.client_as(session).await;
    let e = try_describe(&mut s, &key).await.unwrap_err();
    assert_access_denied(&e, session, "kms:DescribeKey", &arn);
    put_identity_policy(
        &server,
        role,
        "role-policy",
        &identity_doc("Allow", &["kms:DescribeKey"], "*"),
    )
    .await;
    try_describe(&mut s, &key)
        .await
        .expect("session uses its role's policy");
    // Policies put on the session ARN are the role's.
    let mut ic = server.identity_client_as(ROOT_A).await;
    assert_eq!(all_names(&mut ic, session).await, vec!["role-policy"]);
    try_delete(&mut ic, role, "role-policy")
        .await
        .expect("delete");
    let e = try_describe(&mut s, &key).await.unwrap_err();
    assert_access_denied(&e, session, "kms:DescribeKey", &arn);
}
