//! Key policies: the default policy, Put/Get/ListKeyPolicies, CreateKey
//! with a policy, malformed and oversized documents, the lockout safety
//! check, immediate effect, and condition keys end to end.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use serde_json::{json, Value};
use tonic::{Code, Status};

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";

async fn try_put_policy(
    c: &mut Client,
    key: &str,
    policy: &str,
    bypass: bool,
) -> Result<(), Status> {
    c.put_key_policy(pb::PutKeyPolicyRequest {
        key_id: key.into(),
        policy_name: Some("default".into()),
        policy: policy.into(),
        bypass_policy_lockout_safety_check: bypass,
    })
    .await
    .map(drop)
}

async fn try_encrypt(
    c: &mut Client,
    key: &str,
    context: &HashMap<String, String>,
) -> Result<Vec<u8>, Status> {
    c.encrypt(pb::EncryptRequest {
        key_id: key.into(),
        plaintext: b"data".to_vec(),
        encryption_context: context.clone(),
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().ciphertext_blob)
}

async fn try_gdk(
    c: &mut Client,
    key: &str,
    context: &HashMap<String, String>,
) -> Result<(), Status> {
    c.generate_data_key(pb::GenerateDataKeyRequest {
        key_id: key.into(),
        encryption_context: context.clone(),
        number_of_bytes: Some(32),
        ..Default::default()
    })
    .await
    .map(drop)
}

async fn try_describe(c: &mut Client, key: &str) -> Result<(), Status> {
    c.describe_key(pb::DescribeKeyRequest {
        key_id: key.into(),
        ..Default::default()
    })
    .await
    .map(drop)
}

/// The default policy plus one statement allowing `principal` the
/// `actions` under `condition`.
fn allow_with(principal: Value, actions: &[&str], condition: Value) -> String {
    key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Sid": "Conditional",
            "Effect": "Allow",
            "Principal": principal,
            "Action": actions,
            "Resource": "*",
            "Condition": condition,
        })],
    )
}

#[track_caller]
fn assert_malformed(e: &Status, names: &str) {
    assert_aws_error(e, Code::InvalidArgument, "MalformedPolicyDocumentException");
    assert!(
        e.message().contains(names),
        "expected the message to name {names:?}: {}",
        e.message()
    );
}

#[tokio::test]
async fn a_new_key_has_the_default_policy() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let out = a
        .get_key_policy(pb::GetKeyPolicyRequest {
            key_id: key.clone(),
            policy_name: Some("default".into()),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(out.policy_name, "default");
    let doc: Value = serde_json::from_str(&out.policy).expect("valid JSON");
    let statements = doc["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(s["Effect"], "Allow");
    assert_eq!(s["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
    assert_eq!(s["Action"], "kms:*");
    assert_eq!(s["Resource"], "*");
    // Without a policy name: the same.
    let unnamed = a
        .get_key_policy(pb::GetKeyPolicyRequest {
            key_id: key.clone(),
            policy_name: None,
        })
        .await
        .expect("get without name")
        .into_inner();
    assert_eq!(unnamed.policy, out.policy);

    let names = a
        .list_key_policies(pb::ListKeyPoliciesRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(names.policy_names, vec!["default".to_string()]);
    assert!(!names.truncated);

    // Account B's key names B's root.
    let mut b = server.client_as(ROOT_B).await;
    let kb = create_key(&mut b, "kb").await;
    let text = get_key_policy(&mut b, &kb).await;
    assert!(text.contains("arn:aws:iam::444455556666:root"), "{text}");
    assert!(!text.contains(ACCOUNT_A), "{text}");
}

#[tokio::test]
async fn put_then_get_returns_the_same_text_and_create_key_uses_a_given_policy() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let policy = key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Sid": "Alice encrypts",
            "Effect": "Allow",
            "Principal": {"AWS": ALICE_A},
            "Action": ["kms:Encrypt", "kms:DescribeKey"],
            "Resource": "*",
        })],
    );
    put_key_policy(&mut a, &key, &policy).await;
    assert_eq!(get_key_policy(&mut a, &key).await, policy);
    // Whitespace and all, as given.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&policy).expect("json"))
            .expect("pretty");
    put_key_policy(&mut a, &key, &pretty).await;
    assert_eq!(get_key_policy(&mut a, &key).await, pretty);

    let created = a
        .create_key(pb::CreateKeyRequest {
            policy: Some(policy.clone()),
            description: "with policy".into(),
            ..Default::default()
        })
        .await
        .expect("create with policy")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    assert_eq!(get_key_policy(&mut a, &created).await, policy);
    // And it is in force: Alice (no identity policy) is named directly.
    let mut alice = server.client_as(ALICE_A).await;
    try_encrypt(&mut alice, &created, &HashMap::new())
        .await
        .expect("Alice encrypts");
    let e = try_gdk(&mut alice, &created, &HashMap::new())
        .await
        .unwrap_err();
    assert_access_denied(
        &e,
        ALICE_A,
        "kms:GenerateDataKey",
        &key_arn_of(ACCOUNT_A, &created),
    );
}

#[tokio::test]
async fn malformed_policies_are_refused_naming_the_problem() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let original = get_key_policy(&mut a, &key).await;
    let root = "arn:aws:iam::111122223333:root";
    let cases: Vec<(&str, String, &str)> =
        vec![
        (
            "unknown operator",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*",
                "Condition": {"StringEqualz": {"kms:CallerAccount": "111122223333"}}
            }]})
            .to_string(),
            "StringEqualz",
        ),
        ("bad JSON", r#"{"Version": "2012-10-17", "Statement": [{"#.to_string(), "JSON"),
        (
            "missing Effect",
            json!({"Version": "2012-10-17", "Statement": [{
                "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "Effect",
        ),
        (
            "bad Effect",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Maybe", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "Maybe",
        ),
        (
            "missing Principal",
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "Principal",
        ),
        (
            "bad Version",
            json!({"Version": "2020-01-01", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"
            }]})
            .to_string(),
            "2020-01-01",
        ),
        ("not an object", "[]".to_string(), "object"),
    ];
    let keys_before = all_key_ids(&mut a).await;
    for (what, policy, names) in &cases {
        let e = try_put_policy(&mut a, &key, policy, false)
            .await
            .expect_err(what);
        assert_malformed(&e, names);
        // Bypassing the lockout check does not bypass validation.
        let e = try_put_policy(&mut a, &key, policy, true)
            .await
            .expect_err(what);
        assert_malformed(&e, names);
        let e = a
            .create_key(pb::CreateKeyRequest {
                policy: Some(policy.clone()),
                ..Default::default()
            })
            .await
            .expect_err(what);
        assert_malformed(&e, names);
    }
    assert_eq!(
        get_key_policy(&mut a, &key).await,
        original,
        "policy unchanged"
    );
    assert_eq!(all_key_ids(&mut a).await, keys_before, "no key created");
}

/// The default policy padded with spaces to exactly `len` bytes.
fn padded_policy(len: usize) -> String {
    let p = key_policy_with(ACCOUNT_A, &[]);
    let body = p.strip_suffix('}').expect("object");
    let pad = len - p.len();
    format!("{body}{}}}", " ".repeat(pad))
}

#[tokio::test]
async fn a_policy_over_32_kb_is_refused() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let at_limit = padded_policy(32 * 1024);
    assert_eq!(at_limit.len(), 32768);
    try_put_policy(&mut a, &key, &at_limit, false)
        .await
        .expect("a 32 KB policy is accepted");
    assert_eq!(get_key_policy(&mut a, &key).await, at_limit);

    for len in [32 * 1024 + 1, 100_000] {
        let over = padded_policy(len);
        let e = try_put_policy(&mut a, &key, &over, false)
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException");
        let e = a
            .create_key(pb::CreateKeyRequest {
                policy: Some(over),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException");
    }
    assert_eq!(get_key_policy(&mut a, &key).await, at_limit);
    assert_eq!(all_key_ids(&mut a).await.len(), 1);
}

#[tokio::test]
async fn the_lockout_safety_check() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let original = get_key_policy(&mut a, &key).await;
    // Only Alice may manage the key: the root would lock itself out.
    let alice_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ALICE_A}, "Action": "kms:*", "Resource": "*"
    }]})
    .to_string();
    let e = try_put_policy(&mut a, &key, &alice_only, false)
        .await
        .unwrap_err();
    assert_malformed(&e, "will not allow you to update the key policy");
    assert_eq!(get_key_policy(&mut a, &key).await, original);
    // A policy that lets the root do everything except PutKeyPolicy.
    let no_put = key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
        })],
    );
    let e = try_put_policy(&mut a, &key, &no_put, false)
        .await
        .unwrap_err();
    assert_malformed(&e, "will not allow you to update the key policy");
    // The same on CreateKey.
    let e = a
        .create_key(pb::CreateKeyRequest {
            policy: Some(alice_only.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_malformed(&e, "will not allow you to update the key policy");
    assert_eq!(all_key_ids(&mut a).await.len(), 1);

    // Bypassed: accepted, and the root is now locked out.
    try_put_policy(&mut a, &key, &alice_only, true)
        .await
        .expect("bypassed");
    assert_eq!(
        a.get_key_policy(pb::GetKeyPolicyRequest {
            key_id: key.clone(),
            policy_name: None,
        })
        .await
        .unwrap_err()
        .code(),
        Code::PermissionDenied
    );
    let e = try_put_policy(&mut a, &key, &original, false)
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_A, "kms:PutKeyPolicy", &arn);
    // Alice, named directly, can put the default back.
    let mut alice = server.client_as(ALICE_A).await;
    assert_eq!(get_key_policy(&mut alice, &key).await, alice_only);
    put_key_policy(&mut alice, &key, &original).await;
    assert_eq!(get_key_policy(&mut a, &key).await, original);

    let created = a
        .create_key(pb::CreateKeyRequest {
            policy: Some(alice_only.clone()),
            bypass_policy_lockout_safety_check: true,
            ..Default::default()
        })
        .await
        .expect("create, bypassed")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    assert_eq!(get_key_policy(&mut alice, &created).await, alice_only);
    let e = try_describe(&mut a, &created).await.unwrap_err();
    assert_access_denied(
        &e,
        ROOT_A,
        "kms:DescribeKey",
        &key_arn_of(ACCOUNT_A, &created),
    );
}

#[tokio::test]
async fn a_policy_name_other_than_default_is_not_found() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let original = get_key_policy(&mut a, &key).await;
    for name in ["Default", "other", "default "] {
        let e = a
            .get_key_policy(pb::GetKeyPolicyRequest {
                key_id: key.clone(),
                policy_name: Some(name.into()),
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::NotFound, "NotFoundException");
        let e = a
            .put_key_policy(pb::PutKeyPolicyRequest {
                key_id: key.clone(),
                policy_name: Some(name.into()),
                policy: key_policy_with(ACCOUNT_A, &[]),
                bypass_policy_lockout_safety_check: false,
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::NotFound, "NotFoundException");
    }
    assert_eq!(get_key_policy(&mut a, &key).await, original);
}

#[tokio::test]
async fn policy_changes_take_effect_on_the_next_call() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let original = get_key_policy(&mut a, &key).await;
    let none = HashMap::new();
    let blob = try_encrypt(&mut a, &key, &none).await.expect("encrypt");
    let deny_encrypt = key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Encrypt",
            "Resource": "*",
        })],
    );
    for _ in 0..2 {
        put_key_policy(&mut a, &key, &deny_encrypt).await;
        let e = try_encrypt(&mut a, &key, &none).await.unwrap_err();
        assert_access_denied(&e, ROOT_A, "kms:Encrypt", &arn);
        assert_eq!(decrypt(&mut a, &blob, &none).await, b"data");
        put_key_policy(&mut a, &key, &original).await;
        try_encrypt(&mut a, &key, &none)
            .await
            .expect("allowed again");
    }
    // Still so after a restart (the policy is durable).
    put_key_policy(&mut a, &key, &deny_encrypt).await;
    let server = server.restart().await;
    let mut a = server.client().await;
    assert_eq!(get_key_policy(&mut a, &key).await, deny_encrypt);
    let e = try_encrypt(&mut a, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ROOT_A, "kms:Encrypt", &arn);
}

// ------------------------------------------------------------ condition keys

#[tokio::test]
async fn condition_encryption_context_value() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:Decrypt", "kms:GenerateDataKey"],
            json!({"StringEquals": {"kms:EncryptionContext:purpose": "backup"}}),
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let backup = ctx(&[("purpose", "backup")]);
    let with_more = ctx(&[("purpose", "backup"), ("team", "db")]);
    let other = ctx(&[("purpose", "other")]);
    try_gdk(&mut alice, &key, &backup)
        .await
        .expect("purpose=backup");
    try_gdk(&mut alice, &key, &with_more)
        .await
        .expect("purpose=backup and more");
    // Values compare case-sensitively under StringEquals.
    for c in [&other, &ctx(&[("purpose", "Backup")]), &HashMap::new()] {
        let e = try_gdk(&mut alice, &key, c).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:GenerateDataKey", &arn);
    }
    let ok = try_encrypt(&mut a, &key, &backup).await.expect("root");
    assert_eq!(decrypt(&mut alice, &ok, &backup).await, b"data");
    let not_ok = try_encrypt(&mut a, &key, &other).await.expect("root");
    let e = try_decrypt(&mut alice, &not_ok, &other).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Decrypt", &arn);
}

#[tokio::test]
async fn condition_caller_account() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_identity_policy(
        &server,
        BOB_B,
        "describe",
        &identity_doc("Allow", &["kms:DescribeKey"], "*"),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let mut bob = server.client_as(BOB_B).await;
    let for_account = |acct: &str| {
        allow_with(
            json!("*"),
            &["kms:DescribeKey"],
            json!({"StringEquals": {"kms:CallerAccount": acct}}),
        )
    };
    put_key_policy(&mut a, &key, &for_account(ACCOUNT_A)).await;
    try_describe(&mut alice, &key)
        .await
        .expect("Alice: her account");
    let e = try_describe(&mut bob, &arn).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:DescribeKey", &arn);

    put_key_policy(&mut a, &key, &for_account(ACCOUNT_B)).await;
    try_describe(&mut bob, &arn)
        .await
        .expect("Bob: his account");
    let e = try_describe(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
}

#[tokio::test]
async fn condition_resource_tag() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = a
        .create_key(pb::CreateKeyRequest {
            tags: tags(&[("env", "dev")]),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:Encrypt"],
            json!({"StringEquals": {"aws:ResourceTag/env": "prod"}}),
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let none = HashMap::new();
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    a.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: tags(&[("env", "prod")]),
    })
    .await
    .expect("tag");
    try_encrypt(&mut alice, &key, &none)
        .await
        .expect("env=prod");
    a.untag_resource(pb::UntagResourceRequest {
        key_id: key.clone(),
        tag_keys: vec!["env".into()],
    })
    .await
    .expect("untag");
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
}

#[tokio::test]
async fn condition_request_alias() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    for alias in ["alias/app", "alias/other"] {
        a.create_alias(pb::CreateAliasRequest {
            alias_name: alias.into(),
            target_key_id: key.clone(),
        })
        .await
        .expect("alias");
    }
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:Encrypt", "kms:DescribeKey"],
            json!({"StringEquals": {"kms:RequestAlias": "alias/app"}}),
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let none = HashMap::new();
    try_encrypt(&mut alice, "alias/app", &none)
        .await
        .expect("via alias/app");
    try_describe(&mut alice, "alias/app")
        .await
        .expect("describe via alias/app");
    for named in [key.as_str(), arn.as_str(), "alias/other"] {
        let e = try_encrypt(&mut alice, named, &none).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
        let e = try_describe(&mut alice, named).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
    }
}

#[tokio::test]
async fn condition_encryption_context_keys_for_all_values() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:GenerateDataKey"],
            json!({"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["purpose", "team"]}}),
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    for c in [
        ctx(&[("purpose", "x")]),
        ctx(&[("purpose", "x"), ("team", "y")]),
        ctx(&[("team", "y")]),
        // ForAllValues over no keys is true (the AWS semantics).
        HashMap::new(),
    ] {
        try_gdk(&mut alice, &key, &c)
            .await
            .unwrap_or_else(|e| panic!("{c:?}: {e:?}"));
    }
    for c in [
        ctx(&[("purpose", "x"), ("other", "z")]),
        ctx(&[("other", "z")]),
    ] {
        let e = try_gdk(&mut alice, &key, &c).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:GenerateDataKey", &arn);
    }
}

#[tokio::test]
async fn condition_source_ip() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    let none = HashMap::new();
    let from = |cidr: &str| {
        allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:Encrypt"],
            json!({"IpAddress": {"aws:SourceIp": cidr}}),
        )
    };
    // The tests connect from 127.0.0.1.
    put_key_policy(&mut a, &key, &from("127.0.0.0/8")).await;
    try_encrypt(&mut alice, &key, &none)
        .await
        .expect("from loopback");
    put_key_policy(&mut a, &key, &from("10.0.0.0/8")).await;
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
}

#[tokio::test]
async fn condition_principal_arn() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": "*"}),
            &["kms:Encrypt"],
            json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/ali*"}}),
        ),
    )
    .await;
    let none = HashMap::new();
    let mut alice = server.client_as(ALICE_A).await;
    try_encrypt(&mut alice, &key, &none)
        .await
        .expect("alice matches");
    let mut carol = server.client_as(CAROL_A).await;
    let e = try_encrypt(&mut carol, &key, &none).await.unwrap_err();
    assert_access_denied(&e, CAROL_A, "kms:Encrypt", &arn);
    // A user named alice in another account does not match either.
    put_identity_policy(
        &server,
        "arn:aws:iam::444455556666:user/alice",
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    let mut alice_b = server
        .client_as("arn:aws:iam::444455556666:user/alice")
        .await;
    let e = try_encrypt(&mut alice_b, &arn, &none).await.unwrap_err();
    assert_access_denied(
        &e,
        "arn:aws:iam::444455556666:user/alice",
        "kms:Encrypt",
        &arn,
    );
}

#[tokio::test]
async fn condition_resource_aliases() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let other = create_key(&mut a, "other").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    put_key_policy(
        &mut a,
        &key,
        &allow_with(
            json!({"AWS": ALICE_A}),
            &["kms:Encrypt"],
            json!({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/finance"}}),
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    let none = HashMap::new();
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);

    // Another alias does not match.
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/hr".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias/hr");
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);

    // With alias/finance, by key id (the alias is a property of the key).
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/finance".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias/finance");
    try_encrypt(&mut alice, &key, &none)
        .await
        .expect("key has alias/finance");
    try_encrypt(&mut alice, "alias/hr", &none)
        .await
        .expect("named by another alias");

    // Moved to another key: gone from this one.
    a.update_alias(pb::UpdateAliasRequest {
        alias_name: "alias/finance".into(),
        target_key_id: other.clone(),
    })
    .await
    .expect("move alias");
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    a.update_alias(pb::UpdateAliasRequest {
        alias_name: "alias/finance".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("move back");
    try_encrypt(&mut alice, &key, &none).await.expect("back");
    a.delete_alias(pb::DeleteAliasRequest {
        alias_name: "alias/finance".into(),
    })
    .await
    .expect("delete alias");
    let e = try_encrypt(&mut alice, &key, &none).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
}
