//! The security fixes of docs/security.md, one test per numbered item
//! (`item_NN_...`), each through the real gRPC API where the defect was
//! reachable there, with the near misses an attacker would try.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use pb::GrantOperation as Op;
use tonic::Code;

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";

fn ops(list: &[Op]) -> Vec<i32> {
    list.iter().map(|o| *o as i32).collect()
}

fn grant_req(
    key: &str,
    grantee: &str,
    operations: &[Op],
    subset: &[(&str, &str)],
    equals: &[(&str, &str)],
) -> pb::CreateGrantRequest {
    let constraints = (!subset.is_empty() || !equals.is_empty()).then(|| pb::GrantConstraints {
        encryption_context_subset: ctx(subset),
        encryption_context_equals: ctx(equals),
    });
    pb::CreateGrantRequest {
        key_id: key.into(),
        grantee_principal: grantee.into(),
        operations: ops(operations),
        constraints,
        ..Default::default()
    }
}

async fn grant(c: &mut Client, req: pb::CreateGrantRequest) -> pb::CreateGrantResponse {
    c.create_grant(req)
        .await
        .unwrap_or_else(|e| panic!("create grant: {e:?}"))
        .into_inner()
}

/// Item 2: a grantee whose grant allows CreateGrant may create only grants
/// that are no wider than its own: a subset of its operations, with
/// constraints at least as strict. A grant with constraints may include
/// CreateGrant.
#[tokio::test]
async fn item_02_create_grant_through_a_grant_cannot_widen_it() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;
    // Constraints together with CreateGrant (and DescribeKey, RetireGrant,
    // to which they do not apply) are accepted, as in AWS.
    grant(
        &mut root,
        grant_req(
            &key,
            ALICE_A,
            &[
                Op::CreateGrant,
                Op::Decrypt,
                Op::GenerateDataKey,
                Op::DescribeKey,
                Op::RetireGrant,
            ],
            &[("team", "db")],
            &[],
        ),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;
    // Constraints do not apply to DescribeKey.
    describe(&mut alice, &key).await;

    // Within bounds: fewer operations, stricter or equal constraints (keys
    // compare case-insensitively, as constraints do).
    for ok in [
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[("team", "db")], &[]),
        grant_req(
            &key,
            CAROL_A,
            &[Op::Decrypt],
            &[("TEAM", "db"), ("app", "x")],
            &[],
        ),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[], &[("team", "db")]),
        grant_req(
            &key,
            CAROL_A,
            &[Op::Decrypt, Op::CreateGrant],
            &[("team", "db")],
            &[],
        ),
    ] {
        grant(&mut alice, ok).await;
    }
    let made = all_grants(&mut root, &key).await.len();

    // Wider: an operation Alice's grant lacks; no constraint; another
    // value; a value differing in case; a constraint on another key;
    // Alice widening her own grant; Equals that drops the pair.
    for bad in [
        grant_req(&key, CAROL_A, &[Op::Encrypt], &[("team", "db")], &[]),
        grant_req(
            &key,
            CAROL_A,
            &[Op::Decrypt, Op::ReEncryptFrom],
            &[("team", "db")],
            &[],
        ),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[], &[]),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[("team", "web")], &[]),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[("team", "DB")], &[]),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[("app", "x")], &[]),
        grant_req(&key, CAROL_A, &[Op::Decrypt], &[], &[("app", "x")]),
        grant_req(
            &key,
            ALICE_A,
            &[Op::Decrypt, Op::Encrypt],
            &[("team", "db")],
            &[],
        ),
    ] {
        let e = alice.create_grant(bad.clone()).await.unwrap_err();
        assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
        assert!(e.message().contains("kms:CreateGrant"), "{}", e.message());
    }
    assert_eq!(
        all_grants(&mut root, &key).await.len(),
        made,
        "no refused grant was created"
    );

    // A grant without constraints that includes CreateGrant still passes
    // on any constraint, but never an operation it lacks.
    let key2 = create_key(&mut root, "k2").await;
    grant(
        &mut root,
        grant_req(&key2, ALICE_A, &[Op::CreateGrant, Op::Decrypt], &[], &[]),
    )
    .await;
    grant(
        &mut alice,
        grant_req(&key2, CAROL_A, &[Op::Decrypt], &[("any", "thing")], &[]),
    )
    .await;
    let e = alice
        .create_grant(grant_req(&key2, CAROL_A, &[Op::GenerateDataKey], &[], &[]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
}

/// Item 3: a grantee's own grant with RetireGrant retires that grant
/// only, never another grantee's; retiring others needs a policy.
#[tokio::test]
async fn item_03_retire_grant_through_a_grant_retires_only_that_grant() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;
    let alices = grant(
        &mut root,
        grant_req(&key, ALICE_A, &[Op::Decrypt, Op::RetireGrant], &[], &[]),
    )
    .await;
    let carols = grant(
        &mut root,
        grant_req(&key, CAROL_A, &[Op::Decrypt, Op::RetireGrant], &[], &[]),
    )
    .await;
    let mut alice = server.client_as(ALICE_A).await;

    // By key and grant id, and by Carol's token: both refused.
    let e = alice
        .retire_grant(pb::RetireGrantRequest {
            key_id: Some(key.clone()),
            grant_id: Some(carols.grant_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    let e = alice
        .retire_grant(pb::RetireGrantRequest {
            grant_token: Some(carols.grant_token.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    let ids: Vec<String> = all_grants(&mut root, &key)
        .await
        .into_iter()
        .map(|g| g.grant_id)
        .collect();
    assert!(ids.contains(&carols.grant_id), "Carol's grant survives");

    // Her own grant she may retire.
    alice
        .retire_grant(pb::RetireGrantRequest {
            key_id: Some(key.clone()),
            grant_id: Some(alices.grant_id.clone()),
            ..Default::default()
        })
        .await
        .expect("retire own grant");

    // A policy that allows kms:RetireGrant still retires anyone's grant.
    put_identity_policy(
        &server,
        ALICE_A,
        "retire",
        &identity_doc("Allow", &["kms:RetireGrant"], "*"),
    )
    .await;
    alice
        .retire_grant(pb::RetireGrantRequest {
            key_id: Some(key.clone()),
            grant_id: Some(carols.grant_id.clone()),
            ..Default::default()
        })
        .await
        .expect("retire by policy");
    assert!(all_grants(&mut root, &key).await.is_empty());
}

/// Item 7: a denial never names a key of another account, Decrypt of a
/// blob whose key is missing or forbidden gets AWS's generic words, and a
/// foreign ARN that does not exist is denied exactly like one that does.
#[tokio::test]
async fn item_07_denials_are_no_existence_oracle() {
    let server = TestServer::start().await;
    let mut root_a = server.client().await;
    let key = create_key(&mut root_a, "a's key").await;
    let blob = encrypt(&mut root_a, &key, b"secret", &HashMap::new()).await;
    let mut bob = server.client_as(BOB_B).await;
    put_identity_policy(
        &server,
        BOB_B,
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;

    let no_leak = |e: &tonic::Status| {
        assert_aws_error(e, Code::PermissionDenied, "AccessDeniedException");
        let m = e.message();
        assert!(!m.contains(ACCOUNT_A), "names account A: {m}");
        assert!(!m.contains(&key), "names the key: {m}");
        assert!(m.contains(BOB_B), "names the caller: {m}");
    };

    // Decrypt of A's blob by B: denied without naming A or the key.
    let e = try_decrypt(&mut bob, &blob, &HashMap::new())
        .await
        .unwrap_err();
    no_leak(&e);
    assert!(
        e.message().contains("associated with this ciphertext"),
        "{}",
        e.message()
    );

    // A blob naming a key that does not exist: the same denial, not
    // NotFoundException — even for the key's own account.
    let mut forged = blob.clone();
    forged[2..18].copy_from_slice(&[0x5a; 16]);
    let missing = try_decrypt(&mut bob, &forged, &HashMap::new())
        .await
        .unwrap_err();
    no_leak(&missing);
    assert_eq!(missing.message(), e.message());
    let e = try_decrypt(&mut root_a, &forged, &HashMap::new())
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");

    // Naming A's key by ARN: an existing key and a missing one answer alike.
    let exists = key_arn_of(ACCOUNT_A, &key);
    let absent = key_arn_of(ACCOUNT_A, "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
    let mut messages = Vec::new();
    for arn in [&exists, &absent] {
        let e = bob
            .describe_key(pb::DescribeKeyRequest {
                key_id: arn.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        no_leak(&e);
        messages.push(e.message().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
    // An alias ARN of A that does not exist is denied too.
    let e = bob
        .describe_key(pb::DescribeKeyRequest {
            key_id: alias_arn_of(ACCOUNT_A, "alias/nope"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    no_leak(&e);

    // Within one's own account a missing key is still NotFoundException.
    let e = root_a
        .describe_key(pb::DescribeKeyRequest {
            key_id: "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
}

/// Item 17 (tokens): a grant token is accepted only for the key it was
/// issued for and only while its grant exists, and it is checked after
/// authorization (a caller who may not call learns nothing from it).
#[tokio::test]
async fn item_17_grant_tokens_are_bound_to_their_key_and_grant() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let k1 = create_key(&mut root, "k1").await;
    let k2 = create_key(&mut root, "k2").await;
    let g = grant(
        &mut root,
        grant_req(&k1, ALICE_A, &[Op::GenerateDataKey], &[], &[]),
    )
    .await;
    let gdk = |key: &str, tokens: Vec<String>| pb::GenerateDataKeyRequest {
        key_id: key.into(),
        key_spec: pb::DataKeySpec::Aes256 as i32,
        grant_tokens: tokens,
        ..Default::default()
    };
    // Its own key: fine.
    root.generate_data_key(gdk(&k1, vec![g.grant_token.clone()]))
        .await
        .expect("token for its key");
    // A token for another key.
    let e = root
        .generate_data_key(gdk(&k2, vec![g.grant_token.clone()]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantTokenException");
    // A caller with no permission and a forged token: AccessDenied, since
    // tokens are checked only once the call is authorized.
    let mut carol = server.client_as(CAROL_A).await;
    let e = carol
        .generate_data_key(gdk(&k1, vec!["forged".into()]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    // A token whose grant was revoked.
    root.revoke_grant(pb::RevokeGrantRequest {
        key_id: k1.clone(),
        grant_id: g.grant_id.clone(),
    })
    .await
    .expect("revoke");
    let e = root
        .generate_data_key(gdk(&k1, vec![g.grant_token.clone()]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantTokenException");
}

/// Item 18: counts and sizes are checked before any work is done for a
/// request: a caller with no permission who sends too many tags gets the
/// limit error, not a policy evaluation over them, and nothing changes.
#[tokio::test]
async fn item_18_counts_are_checked_before_work() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;
    let mut carol = server.client_as(CAROL_A).await;
    let many: Vec<pb::Tag> = (0..1000)
        .map(|i| pb::Tag {
            tag_key: format!("k{i}"),
            tag_value: "v".into(),
        })
        .collect();
    let e = carol
        .tag_resource(pb::TagResourceRequest {
            key_id: key.clone(),
            tags: many.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException");
    let e = carol
        .create_key(pb::CreateKeyRequest {
            tags: many,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::ResourceExhausted, "LimitExceededException");
    assert!(all_tags(&mut root, &key).await.is_empty());
}

/// Item 6: tag keys and constraint keys that differ only in case are
/// refused (policy condition keys name them case-insensitively, so either
/// could win), and encryption-context twins give the same decision
/// whatever order they arrive in.
#[tokio::test]
async fn item_06_case_twins_are_refused_or_order_independent() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;
    let tag = |k: &str, v: &str| pb::Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    };
    // Twins in one request, against an existing tag, and at CreateKey.
    let e = root
        .tag_resource(pb::TagResourceRequest {
            key_id: key.clone(),
            tags: vec![tag("Env", "prod"), tag("env", "dev")],
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "TagException");
    root.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: vec![tag("Env", "prod")],
    })
    .await
    .expect("tag");
    let e = root
        .tag_resource(pb::TagResourceRequest {
            key_id: key.clone(),
            tags: vec![tag("ENV", "dev")],
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "TagException");
    assert_eq!(
        all_tags(&mut root, &key).await,
        vec![("Env".into(), "prod".into())]
    );
    // The same key again replaces its value, as before.
    root.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: vec![tag("Env", "stage")],
    })
    .await
    .expect("retag");
    let e = root
        .create_key(pb::CreateKeyRequest {
            tags: vec![tag("Team", "a"), tag("team", "b")],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "TagException");

    // Constraint keys are case-insensitive: twins are ambiguous.
    let e = root
        .create_grant(grant_req(
            &key,
            ALICE_A,
            &[Op::Decrypt],
            &[("team", "db"), ("TEAM", "web")],
            &[],
        ))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");

    // Encryption-context twins: allowed for team=db, denied for team=web;
    // a context with both is denied every time, whatever the map order.
    let cond = |effect: &str, value: &str| {
        serde_json::json!({
            "Effect": effect,
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:team": value}},
        })
    };
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [cond("Allow", "db"), cond("Deny", "web")],
    })
    .to_string();
    put_identity_policy(&server, ALICE_A, "ec", &doc).await;
    let mut alice = server.client_as(ALICE_A).await;
    let try_encrypt = |c: HashMap<String, String>| pb::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"x".to_vec(),
        encryption_context: c,
        ..Default::default()
    };
    alice
        .encrypt(try_encrypt(ctx(&[("team", "db")])))
        .await
        .expect("team=db is allowed");
    for _ in 0..16 {
        for pairs in [
            [("team", "db"), ("TEAM", "web")],
            [("TEAM", "web"), ("team", "db")],
        ] {
            let e = alice.encrypt(try_encrypt(ctx(&pairs))).await.unwrap_err();
            assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
        }
    }
}

/// Item 4: an alias cannot point at another account's key, even one the
/// caller may use, so no account can add to or remove from another's
/// `kms:ResourceAliases` or spend its alias quota.
#[tokio::test]
async fn item_04_aliases_cannot_target_another_accounts_key() {
    let server = TestServer::start().await;
    let mut root_a = server.client().await;
    let key = create_key(&mut root_a, "a's key").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    // A lets account B use the key for everything.
    let policy = key_policy_with(
        ACCOUNT_A,
        &[serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_B}:root")},
            "Action": "kms:*",
            "Resource": "*",
        })],
    );
    put_key_policy(&mut root_a, &key, &policy).await;
    let mut root_b = server.client_as(ROOT_B).await;
    describe(&mut root_b, &arn).await;

    let e = root_b
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/borrowed".into(),
            target_key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    // Nor can B move an alias of its own onto A's key.
    let own = create_key(&mut root_b, "b's key").await;
    root_b
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/mine".into(),
            target_key_id: own.clone(),
        })
        .await
        .expect("alias on own key");
    let e = root_b
        .update_alias(pb::UpdateAliasRequest {
            alias_name: "alias/mine".into(),
            target_key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    // The refusal does not depend on the key existing.
    let e = root_b
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/ghost".into(),
            target_key_id: key_arn_of(ACCOUNT_A, "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let names: Vec<String> = all_aliases(&mut root_b)
        .await
        .into_iter()
        .map(|a| a.alias_name)
        .collect();
    assert_eq!(names, vec!["alias/mine".to_owned()]);
}

/// A client certificate signed by the server's dev CA with exactly the URI
/// SANs given, unchecked (what an attacker with a CA-signed certificate
/// of their choosing would present); returns a client for it.
async fn client_with_uris(
    server: &TestServer,
    uris: &[&str],
    name: &str,
) -> Result<Client, String> {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair, SanType};
    let certs = server.dir.join("certs");
    let ca_pem = std::fs::read_to_string(certs.join("ca.pem")).expect("ca.pem");
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(certs.join("ca.key")).expect("ca.key"))
        .expect("ca key");
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key).expect("issuer");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params.subject_alt_names = uris
        .iter()
        .map(|u| SanType::URI((*u).try_into().expect("ia5")))
        .collect();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).expect("sign");
    let dir = server.dir.join("raw-clients").join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("client.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("client.key"), key.serialize_pem()).expect("write");
    let mut c = connect(
        server.addr,
        &certs.join("ca.pem"),
        &dir.join("client.pem"),
        &dir.join("client.key"),
    )
    .await;
    // The TLS handshake accepts any CA-signed certificate; kmsd decides on
    // the principal at the first call.
    match c.list_keys(pb::ListKeysRequest::default()).await {
        Err(e) if e.message().starts_with("UnauthenticatedException: ") => {
            Err(e.message().to_owned())
        }
        // Authenticated (whether or not this principal may list keys).
        _ => Ok(c),
    }
}

/// Item 1: root-ness is decided from the parsed ARN; principal names follow
/// IAM's character rules; only the `aws` partition; no group callers; one
/// URI SAN per certificate.
#[tokio::test]
async fn item_01_no_principal_passes_as_the_account_root() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;

    // The name that used to pass as the root (and near misses): refused
    // at the first call, before touching any key.
    for (i, arn) in [
        "arn:aws:iam::111122223333:user/x:111122223333:root",
        "arn:aws:iam::111122223333:role/x:111122223333:root",
        "arn:aws:sts::111122223333:assumed-role/r/x:111122223333:root",
        "arn:aws:iam::111122223333:user/p:111122223333:root/x",
        "arn:aws-cn:iam::111122223333:root",
        "arn:awsfake:iam::111122223333:root",
        "arn:aws:iam::111122223333:group/admins",
        "arn:aws:iam::111122223333:ROOT",
    ]
    .iter()
    .enumerate()
    {
        let e = client_with_uris(&server, &[arn], &format!("bad{i}"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{arn} was accepted"));
        assert!(e.starts_with("UnauthenticatedException: "), "{arn}: {e}");
    }
    // Two URI SANs (a user and the root): refused, whatever the order.
    for (i, uris) in [
        ["arn:aws:iam::111122223333:user/alice", ROOT_A],
        [ROOT_A, "arn:aws:iam::111122223333:user/alice"],
    ]
    .iter()
    .enumerate()
    {
        let e = client_with_uris(&server, uris, &format!("two{i}"))
            .await
            .expect_err("two SANs accepted");
        assert!(e.starts_with("UnauthenticatedException: "), "{e}");
    }
    // A user whose path looks like the root is an ordinary user: no access.
    let mut tricky = client_with_uris(
        &server,
        &["arn:aws:iam::111122223333:user/root/alice"],
        "pathed",
    )
    .await
    .expect("a user with a path is a principal");
    let e = tricky
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    // The real root still is.
    let mut real = client_with_uris(&server, &[ROOT_A], "root")
        .await
        .expect("root");
    describe(&mut real, &key).await;
}

/// Item 5: a role with a path: identity policies put on
/// `role/team/app` apply to `assumed-role/app/SESSION`, explicit Deny
/// included; a role named like a path segment does not inherit them.
#[tokio::test]
async fn item_05_roles_with_a_path_get_their_identity_policies() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let key = create_key(&mut root, "k").await;
    let pathed = "arn:aws:iam::111122223333:role/team/app";
    put_identity_policy(
        &server,
        pathed,
        "allow",
        &identity_doc("Allow", &["kms:DescribeKey", "kms:Encrypt"], "*"),
    )
    .await;
    let mut session = server
        .client_as("arn:aws:sts::111122223333:assumed-role/app/s1")
        .await;
    describe(&mut session, &key).await;
    encrypt(&mut session, &key, b"x", &HashMap::new()).await;

    // An explicit Deny on the pathed role binds its sessions too.
    put_identity_policy(
        &server,
        pathed,
        "deny",
        &identity_doc("Deny", &["kms:Encrypt"], "*"),
    )
    .await;
    let e = session
        .encrypt(pb::EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");

    // The policies are the role's, read back under any spelling of it.
    let mut ic = server.identity_client_as(ROOT_A).await;
    for spelling in [pathed, "arn:aws:iam::111122223333:role/app"] {
        let names = ic
            .list_principal_policies(pb::ListPrincipalPoliciesRequest {
                principal_arn: spelling.into(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .policy_names;
        assert_eq!(
            names,
            vec!["allow".to_owned(), "deny".to_owned()],
            "{spelling}"
        );
    }

    // A session of role "team" (the path segment) or of another account's
    // role "app" gets nothing from them.
    for other in [
        "arn:aws:sts::111122223333:assumed-role/team/s1",
        "arn:aws:sts::444455556666:assumed-role/app/s1",
    ] {
        let mut c = server.client_as(other).await;
        let e = c
            .describe_key(pb::DescribeKeyRequest {
                key_id: key_arn_of(ACCOUNT_A, &key),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::PermissionDenied, "AccessDeniedException");
    }
}
