//! Account isolation and authentication: a principal of another account
//! can neither see nor use account A's keys under the default key policy
//! (NotFound by bare id, which names a key of the caller's own account;
//! AccessDenied by ARN, naming the principal, the action and the key),
//! cannot change them, and has its own alias namespace; a principal of the
//! same account can use them once IAM (an identity policy) allows it; and a
//! client whose certificate the server's CA did not sign (or that has none)
//! gets nothing.

use std::path::Path;
use std::time::Duration;

use kmsd::proto::kms::v1 as pb;
use kmsd::proto::kms::v1::key_management_service_client::KeyManagementServiceClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};

use crate::harness::*;

/// Account A's key (with an alias, a tag and a ciphertext), seen from both
/// sides.
struct Setup {
    server: TestServer,
    a: Client,
    b: Client,
    key: String,
    arn: String,
    blob: Vec<u8>,
}

async fn setup() -> Setup {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let b = server.client_as(ROOT_B).await;
    let key = create_tagged_key(&mut a).await;
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/app".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias");
    let blob = encrypt(&mut a, &key, b"account A secret", &ctx(&[("app", "a")])).await;
    Setup {
        arn: key_arn_of(ACCOUNT_A, &key),
        server,
        a,
        b,
        key,
        blob,
    }
}

async fn create_tagged_key(c: &mut Client) -> String {
    c.create_key(pb::CreateKeyRequest {
        description: "account A key".into(),
        tags: tags(&[("owner", "a")]),
        ..Default::default()
    })
    .await
    .expect("create key")
    .into_inner()
    .key_metadata
    .expect("metadata")
    .key_id
}

#[tokio::test]
async fn another_account_cannot_see_the_key() {
    let Setup {
        server,
        mut a,
        mut b,
        key,
        arn,
        ..
    } = setup().await;

    assert!(all_key_ids(&mut b).await.is_empty());
    assert!(all_aliases(&mut b).await.is_empty());
    assert_eq!(all_key_ids(&mut a).await, vec![key.clone()]);

    // Bare id: names a key of B's own account, which does not exist.
    let e = b
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");
    assert!(e.message().contains(&key_arn_of(ACCOUNT_B, &key)), "{e:?}");
    // A's alias name: B's namespace has no such alias.
    let e = b
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/app".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // By ARN: denied, naming who, what and which key.
    for principal in [ROOT_B, BOB_B] {
        let mut c = server.client_as(principal).await;
        let e = c
            .describe_key(pb::DescribeKeyRequest {
                key_id: arn.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_access_denied(&e, principal, "kms:DescribeKey", &arn);
    }
    // By A's alias ARN: also denied.
    let e = b
        .describe_key(pb::DescribeKeyRequest {
            key_id: alias_arn_of(ACCOUNT_A, "alias/app"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:DescribeKey", &arn);
    let e = b
        .list_resource_tags(pb::ListResourceTagsRequest {
            key_id: arn.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:ListResourceTags", &arn);
    let e = b
        .list_aliases(pb::ListAliasesRequest {
            key_id: Some(arn.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:ListAliases", &arn);
}

#[tokio::test]
async fn another_account_cannot_use_the_key() {
    let Setup {
        server: _server,
        mut a,
        mut b,
        key,
        arn,
        blob,
    } = setup().await;

    let e = b
        .encrypt(pb::EncryptRequest {
            key_id: arn.clone(),
            plaintext: b"from B".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Encrypt", &arn);
    let e = b
        .encrypt(pb::EncryptRequest {
            key_id: alias_arn_of(ACCOUNT_A, "alias/app"),
            plaintext: b"from B".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Encrypt", &arn);
    let e = b
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: arn.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:GenerateDataKey", &arn);
    let e = b
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: arn.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:GenerateDataKeyWithoutPlaintext", &arn);

    // A's ciphertext: the blob names A's key, and B may not use it — with
    // or without the right context, with or without naming the key.
    let e = try_decrypt(&mut b, &blob, &ctx(&[("app", "a")]))
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Decrypt", &arn);
    let e = b
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: blob.clone(),
            encryption_context: ctx(&[("app", "a")]),
            key_id: Some(arn.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:Decrypt", &arn);
    let e = try_decrypt(&mut b, &blob, &ctx(&[])).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");

    // ReEncrypt A's blob to B's own key: denied on the source.
    let b_key = create_key(&mut b, "B's key").await;
    let e = b
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob.clone(),
            source_encryption_context: ctx(&[("app", "a")]),
            destination_key_id: b_key.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:ReEncryptFrom", &arn);

    // A still decrypts it.
    assert_eq!(
        decrypt(&mut a, &blob, &ctx(&[("app", "a")])).await,
        b"account A secret"
    );
    // And A's key id never shows up on B's side.
    assert_eq!(all_key_ids(&mut b).await, vec![b_key]);
    assert_eq!(all_key_ids(&mut a).await, vec![key]);
}

#[tokio::test]
async fn another_account_cannot_change_the_key() {
    let Setup {
        server: _server,
        mut a,
        mut b,
        arn,
        ..
    } = setup().await;
    let before = account_snapshot(&mut a).await;
    let b_key = create_key(&mut b, "B's key").await;

    let e = b
        .disable_key(pb::DisableKeyRequest {
            key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:DisableKey", &arn);
    let e = b
        .enable_key(pb::EnableKeyRequest {
            key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:EnableKey", &arn);
    let e = b
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: arn.clone(),
            pending_window_in_days: Some(7),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:ScheduleKeyDeletion", &arn);
    let e = b
        .cancel_key_deletion(pb::CancelKeyDeletionRequest {
            key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:CancelKeyDeletion", &arn);
    let e = b
        .update_key_description(pb::UpdateKeyDescriptionRequest {
            key_id: arn.clone(),
            description: "pwned".into(),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:UpdateKeyDescription", &arn);
    let e = b
        .tag_resource(pb::TagResourceRequest {
            key_id: arn.clone(),
            tags: tags(&[("owner", "b")]),
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:TagResource", &arn);
    let e = b
        .untag_resource(pb::UntagResourceRequest {
            key_id: arn.clone(),
            tag_keys: vec!["owner".into()],
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_B, "kms:UntagResource", &arn);
    // B cannot point its aliases at A's key: refused from the ARN alone
    // (docs/security.md, item 4).
    let e = b
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/stolen".into(),
            target_key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    b.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/mine".into(),
        target_key_id: b_key.clone(),
    })
    .await
    .expect("B's own alias");
    let e = b
        .update_alias(pb::UpdateAliasRequest {
            alias_name: "alias/mine".into(),
            target_key_id: arn.clone(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    // Deleting "alias/app" as B names B's (absent) alias, not A's.
    let e = b
        .delete_alias(pb::DeleteAliasRequest {
            alias_name: "alias/app".into(),
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::NotFound, "NotFoundException");

    // Nothing changed on A's side: state, description, tags, aliases.
    assert_eq!(account_snapshot(&mut a).await, before);
    let m = &before.metadata[&before.keys[0]];
    assert_eq!(m.key_state, pb::KeyState::Enabled as i32);
    assert_eq!(m.description, "account A key");
    // B's alias still points at B's key.
    assert_eq!(describe(&mut b, "alias/mine").await.key_id, b_key);
}

#[tokio::test]
async fn alias_namespaces_are_per_account() {
    let Setup {
        server: _server,
        mut a,
        mut b,
        key,
        ..
    } = setup().await;
    let b_key = create_key(&mut b, "B's app key").await;
    b.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/app".into(),
        target_key_id: b_key.clone(),
    })
    .await
    .expect("B may use a name A already uses");

    assert_eq!(describe(&mut a, "alias/app").await.key_id, key);
    assert_eq!(describe(&mut b, "alias/app").await.key_id, b_key);
    let a_aliases = all_aliases(&mut a).await;
    let b_aliases = all_aliases(&mut b).await;
    assert_eq!(a_aliases.len(), 1);
    assert_eq!(b_aliases.len(), 1);
    assert_eq!(a_aliases[0].target_key_id, key);
    assert_eq!(a_aliases[0].alias_arn, alias_arn_of(ACCOUNT_A, "alias/app"));
    assert_eq!(b_aliases[0].target_key_id, b_key);
    assert_eq!(b_aliases[0].alias_arn, alias_arn_of(ACCOUNT_B, "alias/app"));

    // Encrypting through the alias uses each account's own key.
    let out = b
        .encrypt(pb::EncryptRequest {
            key_id: "alias/app".into(),
            plaintext: b"b data".to_vec(),
            ..Default::default()
        })
        .await
        .expect("encrypt via B's alias")
        .into_inner();
    assert_eq!(out.key_id, key_arn_of(ACCOUNT_B, &b_key));
    let e = try_decrypt(&mut a, &out.ciphertext_blob, &ctx(&[]))
        .await
        .unwrap_err();
    assert_access_denied(&e, ROOT_A, "kms:Decrypt", &key_arn_of(ACCOUNT_B, &b_key));
    assert_eq!(
        decrypt(&mut b, &out.ciphertext_blob, &ctx(&[])).await,
        b"b data"
    );

    // Deleting B's alias leaves A's alone.
    b.delete_alias(pb::DeleteAliasRequest {
        alias_name: "alias/app".into(),
    })
    .await
    .expect("delete B's alias");
    assert_eq!(describe(&mut a, "alias/app").await.key_id, key);
    assert!(all_aliases(&mut b).await.is_empty());
}

#[tokio::test]
async fn a_principal_of_the_same_account_can_use_the_key() {
    let Setup {
        server,
        mut a,
        key,
        arn,
        blob,
        ..
    } = setup().await;
    let mut alice = server.client_as(ALICE_A).await;

    // The default key policy delegates to IAM: until alice has an identity
    // policy she is denied like anyone else (the account root never is).
    let e = try_decrypt(&mut alice, &blob, &ctx(&[("app", "a")]))
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Decrypt", &arn);
    put_identity_policy(
        &server,
        ALICE_A,
        "all-kms",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;

    assert_eq!(all_key_ids(&mut alice).await, vec![key.clone()]);
    assert_eq!(describe(&mut alice, &key).await.arn, arn);
    assert_eq!(describe(&mut alice, "alias/app").await.key_id, key);
    assert_eq!(
        decrypt(&mut alice, &blob, &ctx(&[("app", "a")])).await,
        b"account A secret"
    );
    let blob2 = encrypt(&mut alice, &arn, b"from alice", &ctx(&[])).await;
    assert_eq!(decrypt(&mut a, &blob2, &ctx(&[])).await, b"from alice");
    alice
        .tag_resource(pb::TagResourceRequest {
            key_id: key.clone(),
            tags: tags(&[("editor", "alice")]),
        })
        .await
        .expect("alice tags A's key");
    assert!(all_tags(&mut a, &key)
        .await
        .contains(&("editor".to_string(), "alice".to_string())));
    // A key alice creates belongs to the account, so root sees it.
    let alice_key = create_key(&mut alice, "alice's key").await;
    let m = describe(&mut a, &alice_key).await;
    assert_eq!(m.aws_account_id, ACCOUNT_A);

    // The same identity policy does not open another account's key to bob:
    // that needs the key policy too.
    put_identity_policy(
        &server,
        BOB_B,
        "all-kms",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    let mut bob = server.client_as(BOB_B).await;
    let e = try_decrypt(&mut bob, &blob, &ctx(&[("app", "a")]))
        .await
        .unwrap_err();
    assert_access_denied(&e, BOB_B, "kms:Decrypt", &arn);
}

/// What happened to a call made with a given client identity.
#[derive(Debug)]
enum Outcome {
    ConnectFailed,
    Rpc(Result<(), Status>),
}

async fn list_keys_with(
    addr: std::net::SocketAddr,
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Outcome {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).expect("ca")))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(
            std::fs::read(cert).expect("cert"),
            std::fs::read(key).expect("key"),
        ));
    }
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    let channel = match endpoint.connect().await {
        Ok(ch) => ch,
        Err(_) => return Outcome::ConnectFailed,
    };
    let mut c = KeyManagementServiceClient::new(channel);
    Outcome::Rpc(c.list_keys(pb::ListKeysRequest::default()).await.map(drop))
}

/// The handshake fails, so the client never gets a gRPC answer: either
/// `connect` fails, or (TLS 1.3 lets the client finish its side first) the
/// call fails in the client's own transport — UNAVAILABLE, or UNKNOWN with
/// the transport error attached, which tonic reports for a TLS alert.
#[track_caller]
fn assert_refused(outcome: &Outcome) {
    match outcome {
        Outcome::ConnectFailed => {}
        Outcome::Rpc(Err(s)) => {
            let transport_failure = std::error::Error::source(s)
                .is_some_and(|e| e.downcast_ref::<tonic::transport::Error>().is_some());
            assert!(
                matches!(s.code(), Code::Unavailable | Code::Unauthenticated)
                    || (s.code() == Code::Unknown && transport_failure),
                "{s:?}"
            );
        }
        Outcome::Rpc(Ok(())) => panic!("the server answered a client it should refuse"),
    }
}

#[tokio::test]
async fn clients_without_a_certificate_from_the_servers_ca_are_refused() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    create_key(&mut a, "guarded").await;
    let ca = server.dir.join("certs/ca.pem");

    // A client certificate from another CA (same principal and all).
    let other = tempfile::tempdir().expect("tempdir");
    let foreign = kmsd::pki::ensure_dev_pki(other.path()).expect("foreign pki");
    let outcome = list_keys_with(
        server.addr,
        &ca,
        Some((&foreign.client_cert, &foreign.client_key)),
    )
    .await;
    assert_refused(&outcome);

    // No client certificate at all.
    assert_refused(&list_keys_with(server.addr, &ca, None).await);

    // The control: the server's own client certificate works the same way,
    // and the server is still serving.
    let certs = server.dir.join("certs");
    let ok = list_keys_with(
        server.addr,
        &ca,
        Some((&certs.join("client.pem"), &certs.join("client.key"))),
    )
    .await;
    assert!(matches!(ok, Outcome::Rpc(Ok(()))), "{ok:?}");
    assert_eq!(all_key_ids(&mut a).await.len(), 1);
}
