//! Grants end to end: CreateGrant returns an id and a token; the grantee
//! may use exactly the granted operations at once (with or without the
//! token), within the grant's encryption-context constraints; forged
//! tokens are refused; retiring and revoking take effect on the next call;
//! ListGrants / ListRetirableGrants; Name idempotence; validation; key
//! state; deletion; and a grant across accounts.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use kmsd::clock::Clock;
use kmsd::proto::kms::v1 as pb;
use tonic::{Code, Status};

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";
const DAVE_A: &str = "arn:aws:iam::111122223333:user/dave";
const ERIN_A: &str = "arn:aws:iam::111122223333:user/erin";

use pb::GrantOperation as Op;

fn ops(list: &[Op]) -> Vec<i32> {
    list.iter().map(|o| *o as i32).collect()
}

/// CreateGrant as the caller of `c`, expecting success.
async fn grant(c: &mut Client, req: pb::CreateGrantRequest) -> pb::CreateGrantResponse {
    c.create_grant(req)
        .await
        .unwrap_or_else(|e| panic!("create grant: {e:?}"))
        .into_inner()
}

fn grant_req(key: &str, grantee: &str, operations: &[Op]) -> pb::CreateGrantRequest {
    pb::CreateGrantRequest {
        key_id: key.into(),
        grantee_principal: grantee.into(),
        operations: ops(operations),
        ..Default::default()
    }
}

async fn try_gdk(
    c: &mut Client,
    key: &str,
    context: &HashMap<String, String>,
    tokens: &[String],
) -> Result<pb::GenerateDataKeyResponse, Status> {
    c.generate_data_key(pb::GenerateDataKeyRequest {
        key_id: key.into(),
        encryption_context: context.clone(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        grant_tokens: tokens.to_vec(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn try_decrypt_with(
    c: &mut Client,
    blob: &[u8],
    context: &HashMap<String, String>,
    tokens: &[String],
) -> Result<pb::DecryptResponse, Status> {
    c.decrypt(pb::DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        encryption_context: context.clone(),
        grant_tokens: tokens.to_vec(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn try_encrypt(c: &mut Client, key: &str) -> Result<(), Status> {
    c.encrypt(pb::EncryptRequest {
        key_id: key.into(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    })
    .await
    .map(drop)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn the_grantee_uses_exactly_the_granted_operations_at_once() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "granted").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let root_blob = encrypt(&mut a, &key, b"from root", &HashMap::new()).await;
    let mut alice = server.client_as(ALICE_A).await;
    // Nothing before the grant.
    let e = try_gdk(&mut alice, &key, &HashMap::new(), &[])
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:GenerateDataKey", &arn);

    let g = grant(
        &mut a,
        grant_req(&key, ALICE_A, &[Op::GenerateDataKey, Op::Decrypt]),
    )
    .await;
    assert!(is_hex64(&g.grant_id), "grant id: {}", g.grant_id);
    assert!(!g.grant_token.is_empty() && g.grant_token.len() <= 8192);
    let token = vec![g.grant_token.clone()];

    // Right away, with the token and without it.
    let c = ctx(&[("app", "x")]);
    let dk = try_gdk(&mut alice, &key, &c, &token)
        .await
        .expect("GDK with token");
    assert_eq!(dk.key_id, arn);
    let dk2 = try_gdk(&mut alice, &key, &c, &[])
        .await
        .expect("GDK without token");
    let out = try_decrypt_with(&mut alice, &dk.ciphertext_blob, &c, &token)
        .await
        .expect("decrypt with token");
    assert_eq!(out.plaintext, dk.plaintext);
    let out = try_decrypt_with(&mut alice, &dk2.ciphertext_blob, &c, &[])
        .await
        .expect("decrypt without token");
    assert_eq!(out.plaintext, dk2.plaintext);
    let out = try_decrypt_with(&mut alice, &root_blob, &HashMap::new(), &[])
        .await
        .expect("decrypt the root's ciphertext");
    assert_eq!(out.plaintext, b"from root");
    // By alias too.
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/granted".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias");
    try_gdk(&mut alice, "alias/granted", &c, &[])
        .await
        .expect("GDK by alias");

    // Operations not granted, token or not.
    let e = try_encrypt(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    let e = alice
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec(),
            grant_tokens: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    let e = alice
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: key.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            grant_tokens: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:GenerateDataKeyWithoutPlaintext", &arn);
    let e = alice
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            grant_tokens: token.clone(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
    let e = alice
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: root_blob.clone(),
            destination_key_id: key.clone(),
            grant_tokens: token.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:ReEncryptFrom", &arn);
    let e = alice
        .create_grant(pb::CreateGrantRequest {
            grant_tokens: token.clone(),
            ..grant_req(&key, CAROL_A, &[Op::Decrypt])
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:CreateGrant", &arn);

    // The token does not carry the grant to anyone else.
    let mut carol = server.client_as(CAROL_A).await;
    let e = try_gdk(&mut carol, &key, &c, &token).await.unwrap_err();
    assert_access_denied(&e, CAROL_A, "kms:GenerateDataKey", &arn);
    let e = try_decrypt_with(&mut carol, &root_blob, &HashMap::new(), &token)
        .await
        .unwrap_err();
    assert_access_denied(&e, CAROL_A, "kms:Decrypt", &arn);
}

#[tokio::test]
async fn a_grant_can_allow_creating_and_describing() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let mut alice = server.client_as(ALICE_A).await;
    grant(
        &mut a,
        grant_req(
            &key,
            ALICE_A,
            &[Op::DescribeKey, Op::CreateGrant, Op::Decrypt],
        ),
    )
    .await;
    describe(&mut alice, &key).await;
    // Alice passes Decrypt on to Carol.
    grant(&mut alice, grant_req(&key, CAROL_A, &[Op::Decrypt])).await;
    let blob = encrypt(&mut a, &key, b"s", &HashMap::new()).await;
    let mut carol = server.client_as(CAROL_A).await;
    assert_eq!(decrypt(&mut carol, &blob, &HashMap::new()).await, b"s");
    // Alice's grant does not allow encrypting, so she can neither encrypt
    // nor pass Encrypt on (a grant cannot widen itself: docs/security.md,
    // item 2).
    let e = alice
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &key_arn_of(ACCOUNT_A, &key));
    let e = alice
        .create_grant(grant_req(&key, CAROL_A, &[Op::Encrypt]))
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:CreateGrant", &key_arn_of(ACCOUNT_A, &key));
}

#[tokio::test]
async fn encryption_context_constraints_are_honoured() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "constrained").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    let mut carol = server.client_as(CAROL_A).await;
    let want = ctx(&[("purpose", "backup")]);
    grant(
        &mut a,
        pb::CreateGrantRequest {
            constraints: Some(pb::GrantConstraints {
                encryption_context_subset: want.clone(),
                encryption_context_equals: HashMap::new(),
            }),
            ..grant_req(&key, ALICE_A, &[Op::GenerateDataKey, Op::Decrypt])
        },
    )
    .await;
    grant(
        &mut a,
        pb::CreateGrantRequest {
            constraints: Some(pb::GrantConstraints {
                encryption_context_subset: HashMap::new(),
                encryption_context_equals: want.clone(),
            }),
            ..grant_req(&key, CAROL_A, &[Op::GenerateDataKey, Op::Decrypt])
        },
    )
    .await;

    let exact = want.clone();
    let superset = ctx(&[("purpose", "backup"), ("team", "db")]);
    let mismatch = ctx(&[("purpose", "other")]);
    let other_key = ctx(&[("team", "db")]);
    let missing = HashMap::new();
    // Ciphertexts under each context, made by the root.
    let mut blobs = Vec::new();
    for c in [&exact, &superset, &mismatch, &other_key, &missing] {
        blobs.push((c.clone(), encrypt(&mut a, &key, b"data", c).await));
    }

    // Subset: the exact context and supersets.
    for (c, allowed) in [
        (&exact, true),
        (&superset, true),
        (&mismatch, false),
        (&other_key, false),
        (&missing, false),
    ] {
        let r = try_gdk(&mut alice, &key, c, &[]).await;
        match (allowed, r) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_access_denied(&e, ALICE_A, "kms:GenerateDataKey", &arn),
            (_, r) => panic!("subset grant, GDK with {c:?}: {r:?}"),
        }
    }
    for (c, blob) in &blobs {
        let allowed = c == &exact || c == &superset;
        let r = try_decrypt_with(&mut alice, blob, c, &[]).await;
        match (allowed, r) {
            (true, Ok(out)) => assert_eq!(out.plaintext, b"data"),
            (false, Err(e)) => assert_access_denied(&e, ALICE_A, "kms:Decrypt", &arn),
            (_, r) => panic!("subset grant, Decrypt with {c:?}: {r:?}"),
        }
    }

    // Equals: only the exact context.
    for (c, allowed) in [
        (&exact, true),
        (&superset, false),
        (&mismatch, false),
        (&other_key, false),
        (&missing, false),
    ] {
        let r = try_gdk(&mut carol, &key, c, &[]).await;
        match (allowed, r) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_access_denied(&e, CAROL_A, "kms:GenerateDataKey", &arn),
            (_, r) => panic!("equals grant, GDK with {c:?}: {r:?}"),
        }
    }
    for (c, blob) in &blobs {
        let allowed = c == &exact;
        let r = try_decrypt_with(&mut carol, blob, c, &[]).await;
        match (allowed, r) {
            (true, Ok(out)) => assert_eq!(out.plaintext, b"data"),
            (false, Err(e)) => assert_access_denied(&e, CAROL_A, "kms:Decrypt", &arn),
            (_, r) => panic!("equals grant, Decrypt with {c:?}: {r:?}"),
        }
    }
}

/// AWS (GrantConstraints): "in a grant constraint, the key in each
/// key-value pair is not case sensitive, but the value is case sensitive".
#[tokio::test]
async fn grant_constraint_keys_are_case_insensitive_values_are_not() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    for (grantee, subset, equals) in [
        (ALICE_A, ctx(&[("Purpose", "backup")]), HashMap::new()),
        (CAROL_A, HashMap::new(), ctx(&[("Purpose", "backup")])),
    ] {
        grant(
            &mut a,
            pb::CreateGrantRequest {
                constraints: Some(pb::GrantConstraints {
                    encryption_context_subset: subset,
                    encryption_context_equals: equals,
                }),
                ..grant_req(&key, grantee, &[Op::GenerateDataKey])
            },
        )
        .await;
        let mut c = server.client_as(grantee).await;
        for k in ["Purpose", "purpose", "PURPOSE"] {
            try_gdk(&mut c, &key, &ctx(&[(k, "backup")]), &[])
                .await
                .unwrap_or_else(|e| panic!("{grantee} with key {k}: {e:?}"));
        }
        let e = try_gdk(&mut c, &key, &ctx(&[("purpose", "Backup")]), &[])
            .await
            .unwrap_err();
        assert_access_denied(&e, grantee, "kms:GenerateDataKey", &arn);
    }
}

/// Replaces the character at `i` with a different base64url character.
fn flip(token: &str, i: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn forged_or_altered_grant_tokens_are_refused_on_every_operation_taking_them() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "tokens").await;
    let blob = encrypt(&mut a, &key, b"s", &HashMap::new()).await;
    let g = grant(&mut a, grant_req(&key, ALICE_A, &[Op::Decrypt])).await;
    let t = g.grant_token.clone();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bad = [
        ("first char flipped", flip(&t, 0)),
        ("middle char flipped", flip(&t, t.len() / 2)),
        ("near-end char flipped", flip(&t, t.len() - 3)),
        ("truncated", t[..t.len() - 4].to_string()),
        (
            "random base64, same length",
            b64.encode(vec![0x5a_u8; t.len() * 3 / 4]),
        ),
        ("random base64, short", b64.encode(b"not a grant token")),
        ("not base64", "%%%not-base64%%%".to_string()),
    ];

    // Every operation succeeds with the genuine token (so the failures
    // below are the token's).
    let good = vec![t.clone()];
    call_with_tokens(&mut a, &key, &blob, &good)
        .await
        .into_iter()
        .for_each(|(op, r)| {
            r.unwrap_or_else(|e| panic!("{op} with the genuine token: {e:?}"));
        });

    for (what, token) in &bad {
        // Alone, and after a genuine token.
        for tokens in [vec![token.clone()], vec![t.clone(), token.clone()]] {
            for (op, r) in call_with_tokens(&mut a, &key, &blob, &tokens).await {
                let e = r.expect_err(&format!("{op} with a {what} token succeeded"));
                assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantTokenException");
            }
        }
        let e = a
            .retire_grant(pb::RetireGrantRequest {
                grant_token: Some(token.clone()),
                key_id: None,
                grant_id: None,
            })
            .await
            .expect_err("RetireGrant with a bad token");
        assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantTokenException");
    }
    // Nothing was created or retired.
    let grants = all_grants(&mut a, &key).await;
    let ids: Vec<_> = grants.iter().map(|g| g.grant_id.clone()).collect();
    assert!(ids.contains(&g.grant_id));
}

/// Calls every operation that takes GrantTokens, as the caller of `c`.
async fn call_with_tokens(
    c: &mut Client,
    key: &str,
    blob: &[u8],
    tokens: &[String],
) -> Vec<(&'static str, Result<(), Status>)> {
    let tokens = tokens.to_vec();
    let mut out = Vec::new();
    let r = c
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.into(),
            grant_tokens: tokens.clone(),
        })
        .await
        .map(drop);
    out.push(("DescribeKey", r));
    let r = c
        .encrypt(pb::EncryptRequest {
            key_id: key.into(),
            plaintext: b"x".to_vec(),
            grant_tokens: tokens.clone(),
            ..Default::default()
        })
        .await
        .map(drop);
    out.push(("Encrypt", r));
    let r = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            grant_tokens: tokens.clone(),
            ..Default::default()
        })
        .await
        .map(drop);
    out.push(("Decrypt", r));
    let r = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob.to_vec(),
            destination_key_id: key.into(),
            grant_tokens: tokens.clone(),
            ..Default::default()
        })
        .await
        .map(drop);
    out.push(("ReEncrypt", r));
    let r = c
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: key.into(),
            number_of_bytes: Some(32),
            grant_tokens: tokens.clone(),
            ..Default::default()
        })
        .await
        .map(drop);
    out.push(("GenerateDataKey", r));
    let r = c
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: key.into(),
            number_of_bytes: Some(32),
            grant_tokens: tokens.clone(),
            ..Default::default()
        })
        .await
        .map(drop);
    out.push(("GenerateDataKeyWithoutPlaintext", r));
    let r = c
        .create_grant(pb::CreateGrantRequest {
            grant_tokens: tokens.clone(),
            name: Some("token-check".into()),
            ..grant_req(key, CAROL_A, &[Op::Encrypt])
        })
        .await
        .map(drop);
    out.push(("CreateGrant", r));
    out
}

#[tokio::test]
async fn retiring_and_revoking_take_effect_on_the_next_call() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    let mut carol = server.client_as(CAROL_A).await;
    let mut dave = server.client_as(DAVE_A).await;
    let encrypt_grant = |retiring: Option<&str>| pb::CreateGrantRequest {
        retiring_principal: retiring.map(str::to_owned),
        ..grant_req(&key, ALICE_A, &[Op::Encrypt])
    };

    // Retired by token, by the retiring principal.
    let g = grant(&mut a, encrypt_grant(Some(CAROL_A))).await;
    try_encrypt(&mut alice, &key).await.expect("granted");
    carol
        .retire_grant(pb::RetireGrantRequest {
            grant_token: Some(g.grant_token.clone()),
            key_id: None,
            grant_id: None,
        })
        .await
        .expect("retire by token");
    let e = try_encrypt(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    assert!(all_grants(&mut a, &key).await.is_empty());

    // Retired by key id and grant id.
    let g = grant(&mut a, encrypt_grant(Some(CAROL_A))).await;
    try_encrypt(&mut alice, &key).await.expect("granted");
    carol
        .retire_grant(pb::RetireGrantRequest {
            grant_token: None,
            key_id: Some(key.clone()),
            grant_id: Some(g.grant_id.clone()),
        })
        .await
        .expect("retire by key and grant id");
    let e = try_encrypt(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);

    // Revoked by the root.
    let g = grant(&mut a, encrypt_grant(None)).await;
    try_encrypt(&mut alice, &key).await.expect("granted");
    a.revoke_grant(pb::RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: g.grant_id.clone(),
    })
    .await
    .expect("revoke");
    let e = try_encrypt(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    // Revoking it again: it no longer exists.
    let e = a
        .revoke_grant(pb::RevokeGrantRequest {
            key_id: key.clone(),
            grant_id: g.grant_id.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // Retired by the key's account root (no retiring principal named).
    let g = grant(&mut a, encrypt_grant(None)).await;
    try_encrypt(&mut alice, &key).await.expect("granted");
    a.retire_grant(pb::RetireGrantRequest {
        grant_token: None,
        key_id: Some(key.clone()),
        grant_id: Some(g.grant_id.clone()),
    })
    .await
    .expect("root retires");
    let e = try_encrypt(&mut alice, &key).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);

    // An unrelated principal, and the grantee of a grant without
    // RetireGrant, may not retire it.
    let g = grant(&mut a, encrypt_grant(Some(CAROL_A))).await;
    for (who, c) in [(DAVE_A, &mut dave), (ALICE_A, &mut alice)] {
        let e = c
            .retire_grant(pb::RetireGrantRequest {
                grant_token: Some(g.grant_token.clone()),
                key_id: None,
                grant_id: None,
            })
            .await
            .unwrap_err();
        assert_access_denied(&e, who, "kms:RetireGrant", &arn);
        let e = c
            .retire_grant(pb::RetireGrantRequest {
                grant_token: None,
                key_id: Some(key.clone()),
                grant_id: Some(g.grant_id.clone()),
            })
            .await
            .unwrap_err();
        assert_access_denied(&e, who, "kms:RetireGrant", &arn);
    }
    try_encrypt(&mut alice, &key)
        .await
        .expect("grant still in force");
    assert_eq!(all_grants(&mut a, &key).await.len(), 1);
    // Nor revoke it.
    let e = dave
        .revoke_grant(pb::RevokeGrantRequest {
            key_id: key.clone(),
            grant_id: g.grant_id.clone(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, DAVE_A, "kms:RevokeGrant", &arn);

    // The grantee may retire a grant that includes RetireGrant.
    let g2 = grant(
        &mut a,
        grant_req(&key, DAVE_A, &[Op::Encrypt, Op::RetireGrant]),
    )
    .await;
    try_encrypt(&mut dave, &key).await.expect("granted");
    dave.retire_grant(pb::RetireGrantRequest {
        grant_token: Some(g2.grant_token),
        key_id: None,
        grant_id: None,
    })
    .await
    .expect("grantee retires");
    let e = try_encrypt(&mut dave, &key).await.unwrap_err();
    assert_access_denied(&e, DAVE_A, "kms:Encrypt", &arn);
}

#[tokio::test]
async fn list_grants_shows_filters_and_paginates() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let other = create_key(&mut a, "other").await;
    let subset = ctx(&[("purpose", "backup")]);
    let g1 = grant(
        &mut a,
        pb::CreateGrantRequest {
            retiring_principal: Some(CAROL_A.into()),
            constraints: Some(pb::GrantConstraints {
                encryption_context_subset: subset.clone(),
                encryption_context_equals: HashMap::new(),
            }),
            name: Some("first".into()),
            ..grant_req(&key, ALICE_A, &[Op::Decrypt, Op::GenerateDataKey])
        },
    )
    .await;

    // Right after creation.
    let grants = all_grants(&mut a, &key).await;
    assert_eq!(grants.len(), 1);
    let e = &grants[0];
    assert_eq!(e.grant_id, g1.grant_id);
    assert!(e.key_id.ends_with(&key), "key id: {}", e.key_id);
    assert_eq!(e.name, "first");
    assert_eq!(e.grantee_principal, ALICE_A);
    assert_eq!(e.retiring_principal, CAROL_A);
    assert!(
        e.issuing_account.contains(ACCOUNT_A),
        "{}",
        e.issuing_account
    );
    let mut listed_ops = e.operations.clone();
    listed_ops.sort();
    assert_eq!(listed_ops, ops(&[Op::Decrypt, Op::GenerateDataKey]));
    let cons = e.constraints.as_ref().expect("constraints");
    assert_eq!(cons.encryption_context_subset, subset);
    assert!(cons.encryption_context_equals.is_empty());
    let created = e.creation_date.as_ref().expect("creation date");
    let now_s = server.clock.now_ms() / 1000;
    assert!(
        (created.seconds - now_s).abs() <= 5,
        "{created:?} vs {now_s}"
    );
    assert!(all_grants(&mut a, &other).await.is_empty());

    let g2 = grant(&mut a, grant_req(&key, CAROL_A, &[Op::Encrypt])).await;
    let g3 = grant(&mut a, grant_req(&key, ALICE_A, &[Op::DescribeKey])).await;

    // Filter by grant id.
    let page = a
        .list_grants(pb::ListGrantsRequest {
            key_id: key.clone(),
            grant_id: Some(g2.grant_id.clone()),
            ..Default::default()
        })
        .await
        .expect("by id")
        .into_inner();
    assert_eq!(page.grants.len(), 1);
    assert_eq!(page.grants[0].grant_id, g2.grant_id);
    assert!(!page.truncated);
    // Filter by grantee.
    let page = a
        .list_grants(pb::ListGrantsRequest {
            key_id: key.clone(),
            grantee_principal: Some(ALICE_A.into()),
            ..Default::default()
        })
        .await
        .expect("by grantee")
        .into_inner();
    let mut ids: Vec<_> = page.grants.iter().map(|g| g.grant_id.clone()).collect();
    ids.sort();
    let mut want = vec![g1.grant_id.clone(), g3.grant_id.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(page.grants.iter().all(|g| g.grantee_principal == ALICE_A));
    // A grantee with none.
    let page = a
        .list_grants(pb::ListGrantsRequest {
            key_id: key.clone(),
            grantee_principal: Some(DAVE_A.into()),
            ..Default::default()
        })
        .await
        .expect("by grantee")
        .into_inner();
    assert!(page.grants.is_empty());

    // Limit 1 over 3 grants.
    let mut seen = Vec::new();
    let mut marker = None;
    for i in 0..3 {
        let page = a
            .list_grants(pb::ListGrantsRequest {
                key_id: key.clone(),
                limit: Some(1),
                marker: marker.take(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.grants.len(), 1, "page {i}");
        seen.push(page.grants[0].grant_id.clone());
        assert_eq!(page.truncated, i < 2, "page {i}");
        if page.truncated {
            assert!(!page.next_marker.is_empty());
            marker = Some(page.next_marker);
        }
    }
    seen.sort();
    let mut all = vec![g1.grant_id, g2.grant_id, g3.grant_id];
    all.sort();
    assert_eq!(seen, all);
}

/// AWS's ListGrants gives the KeyId as the key ARN and the IssuingAccount
/// as the account's root ARN.
#[tokio::test]
async fn list_grants_entries_use_the_aws_formats() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    grant(&mut a, grant_req(&key, ALICE_A, &[Op::Decrypt])).await;
    let grants = all_grants(&mut a, &key).await;
    assert_eq!(grants[0].key_id, key_arn_of(ACCOUNT_A, &key));
    assert_eq!(grants[0].issuing_account, root_of(ALICE_A));
}

#[tokio::test]
async fn list_retirable_grants_lists_by_retiring_principal() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let k1 = create_key(&mut a, "k1").await;
    let k2 = create_key(&mut a, "k2").await;
    let retiring = |key: &str, r: &str| pb::CreateGrantRequest {
        retiring_principal: Some(r.into()),
        ..grant_req(key, ALICE_A, &[Op::Decrypt])
    };
    let g1 = grant(&mut a, retiring(&k1, CAROL_A)).await;
    let g2 = grant(&mut a, retiring(&k2, CAROL_A)).await;
    let g3 = grant(&mut a, retiring(&k1, DAVE_A)).await;
    grant(&mut a, grant_req(&k2, ALICE_A, &[Op::Encrypt])).await;

    let list =
        |who: &str, limit: Option<i32>, marker: Option<String>| pb::ListRetirableGrantsRequest {
            retiring_principal: who.into(),
            limit,
            marker,
        };
    let page = a
        .list_retirable_grants(list(CAROL_A, None, None))
        .await
        .expect("carol's")
        .into_inner();
    let mut got: Vec<_> = page
        .grants
        .iter()
        .map(|g| (g.grant_id.clone(), g.retiring_principal.clone()))
        .collect();
    got.sort();
    let mut want = vec![
        (g1.grant_id.clone(), CAROL_A.to_string()),
        (g2.grant_id.clone(), CAROL_A.to_string()),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(!page.truncated);
    let page = a
        .list_retirable_grants(list(DAVE_A, None, None))
        .await
        .expect("dave's")
        .into_inner();
    assert_eq!(page.grants.len(), 1);
    assert_eq!(page.grants[0].grant_id, g3.grant_id);
    assert!(page.grants[0].key_id.ends_with(&k1));
    let page = a
        .list_retirable_grants(list(ERIN_A, None, None))
        .await
        .expect("erin's")
        .into_inner();
    assert!(page.grants.is_empty());

    // Paginated.
    let p1 = a
        .list_retirable_grants(list(CAROL_A, Some(1), None))
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(p1.grants.len(), 1);
    assert!(p1.truncated);
    let p2 = a
        .list_retirable_grants(list(CAROL_A, Some(1), Some(p1.next_marker)))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(p2.grants.len(), 1);
    assert!(!p2.truncated);
    assert_ne!(p1.grants[0].grant_id, p2.grants[0].grant_id);

    // Carol herself needs kms:ListRetirableGrants from an identity policy.
    let mut carol = server.client_as(CAROL_A).await;
    let e = carol
        .list_retirable_grants(list(CAROL_A, None, None))
        .await
        .unwrap_err();
    assert_access_denied(&e, CAROL_A, "kms:ListRetirableGrants", "*");
    put_identity_policy(
        &server,
        CAROL_A,
        "retirable",
        &identity_doc("Allow", &["kms:ListRetirableGrants"], "*"),
    )
    .await;
    let page = carol
        .list_retirable_grants(list(CAROL_A, None, None))
        .await
        .expect("carol lists hers")
        .into_inner();
    assert_eq!(page.grants.len(), 2);

    // Retiring one removes it from the list.
    carol
        .retire_grant(pb::RetireGrantRequest {
            grant_token: Some(g1.grant_token),
            key_id: None,
            grant_id: None,
        })
        .await
        .expect("retire");
    let page = a
        .list_retirable_grants(list(CAROL_A, None, None))
        .await
        .expect("carol's")
        .into_inner();
    assert_eq!(page.grants.len(), 1);
    assert_eq!(page.grants[0].grant_id, g2.grant_id);
}

#[tokio::test]
async fn a_name_makes_create_grant_idempotent() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "k").await;
    let named = |operations: &[Op]| pb::CreateGrantRequest {
        name: Some("app-grant".into()),
        ..grant_req(&key, ALICE_A, operations)
    };
    let g1 = grant(&mut a, named(&[Op::Decrypt, Op::Encrypt])).await;
    // Same name, same parameters (operations in another order).
    let g2 = grant(&mut a, named(&[Op::Encrypt, Op::Decrypt])).await;
    assert_eq!(g1.grant_id, g2.grant_id);
    assert_eq!(all_grants(&mut a, &key).await.len(), 1);
    // The token of the retry is usable.
    let mut alice = server.client_as(ALICE_A).await;
    alice
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec(),
            grant_tokens: vec![g2.grant_token],
            ..Default::default()
        })
        .await
        .expect("encrypt with the retry's token");
    // Without a name, every call creates a grant.
    let u1 = grant(&mut a, grant_req(&key, ALICE_A, &[Op::Decrypt])).await;
    let u2 = grant(&mut a, grant_req(&key, ALICE_A, &[Op::Decrypt])).await;
    assert_ne!(u1.grant_id, u2.grant_id);
    // Same name, different parameters: a new grant.
    let g3 = grant(&mut a, named(&[Op::Decrypt])).await;
    assert_ne!(g3.grant_id, g1.grant_id);
    assert_eq!(all_grants(&mut a, &key).await.len(), 4);
}

#[tokio::test]
async fn create_grant_validation() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "symmetric").await;

    for (op, name) in [
        (Op::Sign, "Sign"),
        (Op::Verify, "Verify"),
        (Op::GenerateMac, "GenerateMac"),
        (Op::VerifyMac, "VerifyMac"),
        (Op::GetPublicKey, "GetPublicKey"),
        (Op::DeriveSharedSecret, "DeriveSharedSecret"),
    ] {
        let e = a
            .create_grant(grant_req(&key, ALICE_A, &[Op::Decrypt, op]))
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
        assert!(e.message().contains(name), "{name}: {}", e.message());
    }
    // Constraints with an operation that takes no encryption context (and
    // is not DescribeKey, RetireGrant or CreateGrant, which AWS lets
    // accompany constraints: see security.rs, item 2).
    for op in [Op::Sign, Op::GenerateMac, Op::GetPublicKey] {
        let e = a
            .create_grant(pb::CreateGrantRequest {
                constraints: Some(pb::GrantConstraints {
                    encryption_context_subset: ctx(&[("a", "b")]),
                    encryption_context_equals: HashMap::new(),
                }),
                ..grant_req(&key, ALICE_A, &[Op::Decrypt, op])
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    // No operations; a grantee that is not a principal.
    let e = a
        .create_grant(grant_req(&key, ALICE_A, &[]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let e = a
        .create_grant(grant_req(&key, "alice", &[Op::Decrypt]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    assert!(all_grants(&mut a, &key).await.is_empty(), "nothing created");

    // Malformed grant ids.
    for bad in [
        "abc",
        "zz",
        &"g".repeat(64),
        &"a".repeat(63),
        &"a".repeat(65),
    ] {
        let e = a
            .revoke_grant(pb::RevokeGrantRequest {
                key_id: key.clone(),
                grant_id: bad.to_string(),
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantIdException");
        let e = a
            .retire_grant(pb::RetireGrantRequest {
                grant_token: None,
                key_id: Some(key.clone()),
                grant_id: Some(bad.to_string()),
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantIdException");
        let e = a
            .list_grants(pb::ListGrantsRequest {
                key_id: key.clone(),
                grant_id: Some(bad.to_string()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantIdException");
    }
    // Well-formed but unknown.
    let e = a
        .revoke_grant(pb::RevokeGrantRequest {
            key_id: key.clone(),
            grant_id: "ab".repeat(32),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
}

#[tokio::test]
async fn create_grant_respects_the_key_state_and_deletion_removes_grants() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let doomed = create_key(&mut a, "doomed").await;
    let kept = create_key(&mut a, "kept").await;
    let retiring = |key: &str| pb::CreateGrantRequest {
        retiring_principal: Some(CAROL_A.into()),
        ..grant_req(key, ALICE_A, &[Op::Decrypt])
    };
    let gd = grant(&mut a, retiring(&doomed)).await;
    let gk = grant(&mut a, retiring(&kept)).await;

    // Disabled: DisabledException; pending deletion: KMSInvalidStateException.
    a.disable_key(pb::DisableKeyRequest {
        key_id: doomed.clone(),
    })
    .await
    .expect("disable");
    let e = a.create_grant(retiring(&doomed)).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "DisabledException");
    a.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
        key_id: doomed.clone(),
        pending_window_in_days: Some(7),
    })
    .await
    .expect("schedule");
    let e = a.create_grant(retiring(&doomed)).await.unwrap_err();
    assert_aws_error(&e, Code::FailedPrecondition, "KMSInvalidStateException");
    // The grant is still there while the key is pending deletion.
    assert_eq!(all_grants(&mut a, &doomed).await.len(), 1);

    let list_carol = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            let mut ids: Vec<String> = c
                .list_retirable_grants(pb::ListRetirableGrantsRequest {
                    retiring_principal: CAROL_A.into(),
                    ..Default::default()
                })
                .await
                .expect("retirable")
                .into_inner()
                .grants
                .into_iter()
                .map(|g| g.grant_id)
                .collect();
            ids.sort();
            ids
        }
    };
    let mut both = vec![gd.grant_id.clone(), gk.grant_id.clone()];
    both.sort();
    assert_eq!(list_carol(&mut a).await, both);

    // The window ends; the background job deletes the key (awaiting its
    // pass, not racing it with a direct call).
    server.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    server.background_pass().await;

    assert_eq!(list_carol(&mut a).await, vec![gk.grant_id.clone()]);
    let e = a
        .list_grants(pb::ListGrantsRequest {
            key_id: doomed.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    assert_eq!(all_grants(&mut a, &kept).await.len(), 1);
}

#[tokio::test]
async fn a_grant_to_another_account_lets_it_use_the_key() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "shared by grant").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let c = ctx(&[("tenant", "acme")]);
    let blob = encrypt(&mut a, &key, b"for bob", &c).await;
    let mut bob = server.client_as(BOB_B).await;
    let e = try_decrypt_with(&mut bob, &blob, &c, &[])
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);

    let g = grant(&mut a, grant_req(&arn, BOB_B, &[Op::Decrypt])).await;
    // No key policy statement and no identity policy name Bob.
    let out = try_decrypt_with(&mut bob, &blob, &c, std::slice::from_ref(&g.grant_token))
        .await
        .expect("Bob decrypts with the token");
    assert_eq!(out.plaintext, b"for bob");
    let out = try_decrypt_with(&mut bob, &blob, &c, &[])
        .await
        .expect("Bob decrypts without the token");
    assert_eq!(out.key_id, arn);
    let e = try_encrypt(&mut bob, &arn).await.unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Encrypt", &arn);
    let e = bob
        .describe_key(pb::DescribeKeyRequest {
            key_id: arn.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:DescribeKey", &arn);
    // Another principal of B gets nothing from Bob's grant.
    let mut root_b = server.client_as(ROOT_B).await;
    let e = try_decrypt_with(&mut root_b, &blob, &c, &[])
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Decrypt", &arn);
    // Revoked: gone for Bob at once.
    a.revoke_grant(pb::RevokeGrantRequest {
        key_id: key.clone(),
        grant_id: g.grant_id,
    })
    .await
    .expect("revoke");
    let e = try_decrypt_with(&mut bob, &blob, &c, &[])
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
}
