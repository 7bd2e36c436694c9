//! The control plane and the rest of the data plane, end to end (the
//! scenarios listed in `per_door!` through every door, the rest over gRPC):
//! CreateKey's metadata, the four ways to name a key, descriptions,
//! enable/disable, ListKeys pagination, aliases (create, repoint, delete,
//! list, paginate), tags (add, overwrite, remove, paginate), ReEncrypt,
//! GenerateDataKeyWithoutPlaintext and GenerateRandom.

use std::collections::HashSet;
use std::time::Duration;

use kmsd::clock::Clock;
use kmsd::model::KeyId;
use kmsd::proto::kms::v1 as pb;
use kmsd::service::time::to_timestamp;
use tonic::Code;

use crate::door::{
    assert_exception, per_door, AliasEntry, Decrypt, Door, DoorKind, Encrypt, GenerateDataKey,
};
use crate::harness::*;

// Scenarios that run through every door (see tests/it/door.rs).
per_door!(
    describe_key_by_id_arn_alias_and_alias_arn,
    update_description_and_enable_disable,
    aliases_create_update_delete_and_list,
);

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn create_alias(c: &mut Client, alias: &str, key: &str) {
    c.create_alias(pb::CreateAliasRequest {
        alias_name: alias.into(),
        target_key_id: key.into(),
    })
    .await
    .unwrap_or_else(|e| panic!("create {alias}: {e:?}"));
}

async fn aliases_of(c: &mut Client, key: &str) -> Vec<String> {
    c.list_aliases(pb::ListAliasesRequest {
        key_id: Some(key.into()),
        ..Default::default()
    })
    .await
    .expect("list aliases of key")
    .into_inner()
    .aliases
    .into_iter()
    .map(|a| a.alias_name)
    .collect()
}

#[tokio::test]
async fn create_key_returns_the_aws_defaults() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let now = server.clock.now_ms();
    let m = c
        .create_key(pb::CreateKeyRequest {
            description: "defaults".into(),
            ..Default::default()
        })
        .await
        .expect("create key")
        .into_inner()
        .key_metadata
        .expect("metadata");

    let id: KeyId = m.key_id.parse().expect("canonical key id");
    assert!(!id.is_multi_region());
    assert_eq!(m.aws_account_id, ACCOUNT_A);
    assert_eq!(
        m.arn,
        format!("arn:aws:kms:us-east-1:111122223333:key/{}", m.key_id)
    );
    assert_eq!(m.creation_date, Some(to_timestamp(now)));
    assert!(m.enabled);
    assert_eq!(m.description, "defaults");
    assert_eq!(m.key_state, pb::KeyState::Enabled as i32);
    assert_eq!(m.key_usage, pb::KeyUsageType::EncryptDecrypt as i32);
    assert_eq!(m.key_spec, pb::KeySpec::SymmetricDefault as i32);
    assert_eq!(
        m.customer_master_key_spec,
        pb::CustomerMasterKeySpec::SymmetricDefault as i32
    );
    assert_eq!(m.origin, pb::OriginType::AwsKms as i32);
    assert_eq!(m.key_manager, pb::KeyManagerType::Customer as i32);
    assert_eq!(
        m.encryption_algorithms,
        vec![pb::EncryptionAlgorithmSpec::SymmetricDefault as i32]
    );
    assert!(m.signing_algorithms.is_empty());
    assert!(m.mac_algorithms.is_empty());
    assert!(!m.multi_region);
    assert_eq!(m.deletion_date, None);
    assert_eq!(m.pending_deletion_window_in_days, None);
    assert!(
        is_hex64(&m.current_key_material_id),
        "{}",
        m.current_key_material_id
    );

    // The KeyMaterialId is the one crypto responses report.
    let out = c
        .encrypt(pb::EncryptRequest {
            key_id: m.key_id.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .expect("encrypt")
        .into_inner();
    assert_eq!(out.key_material_id, m.current_key_material_id);
    assert_eq!(out.key_id, m.arn);

    // Explicit defaults give the same kind of key; the deprecated
    // CustomerMasterKeySpec is accepted too.
    for req in [
        pb::CreateKeyRequest {
            key_spec: pb::KeySpec::SymmetricDefault as i32,
            key_usage: pb::KeyUsageType::EncryptDecrypt as i32,
            origin: pb::OriginType::AwsKms as i32,
            ..Default::default()
        },
        pb::CreateKeyRequest {
            customer_master_key_spec: pb::CustomerMasterKeySpec::SymmetricDefault as i32,
            ..Default::default()
        },
    ] {
        let m2 = c
            .create_key(req)
            .await
            .expect("explicit defaults")
            .into_inner()
            .key_metadata
            .expect("metadata");
        assert_eq!(m2.key_spec, pb::KeySpec::SymmetricDefault as i32);
        assert_eq!(m2.key_usage, pb::KeyUsageType::EncryptDecrypt as i32);
        assert_eq!(m2.description, "");
        assert_ne!(m2.key_id, m.key_id);
        assert_ne!(m2.current_key_material_id, m.current_key_material_id);
    }
}

async fn describe_key_by_id_arn_alias_and_alias_arn(door: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(door, ROOT_A).await;
    let key = d.new_key("four names").await;
    d.create_alias("alias/four", &key)
        .await
        .expect("create alias");
    let by_id = d.describe_key(&key).await.expect("describe by id");
    for name in [
        key_arn_of(ACCOUNT_A, &key),
        "alias/four".to_string(),
        alias_arn_of(ACCOUNT_A, "alias/four"),
    ] {
        assert_eq!(
            d.describe_key(&name).await.expect("describe"),
            by_id,
            "{name}"
        );
    }
    // The data plane takes all four too.
    for name in [
        key.clone(),
        key_arn_of(ACCOUNT_A, &key),
        "alias/four".to_string(),
        alias_arn_of(ACCOUNT_A, "alias/four"),
    ] {
        let blob = d
            .encrypt(Encrypt {
                key_id: name.clone(),
                plaintext: b"named".to_vec(),
                ..Default::default()
            })
            .await
            .expect("encrypt")
            .ciphertext_blob;
        let out = d
            .decrypt(Decrypt {
                ciphertext_blob: blob,
                ..Default::default()
            })
            .await
            .expect("decrypt");
        assert_eq!(out.key_id, by_id.arn, "{name}");
    }
}

async fn update_description_and_enable_disable(door: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(door, ROOT_A).await;
    let key = d.new_key("before").await;
    let describe = async |d: &mut Door, key: &str| d.describe_key(key).await.expect("describe");

    d.update_key_description(&key, "after")
        .await
        .expect("update description");
    assert_eq!(describe(&mut d, &key).await.description, "after");
    d.update_key_description(&key_arn_of(ACCOUNT_A, &key), "")
        .await
        .expect("clear description by ARN");
    assert_eq!(describe(&mut d, &key).await.description, "");

    // Disable twice, enable twice: idempotent both ways.
    for _ in 0..2 {
        d.disable_key(&key).await.expect("disable");
        let m = describe(&mut d, &key).await;
        assert_eq!(m.key_state, "Disabled");
        assert!(!m.enabled);
    }
    let r = d
        .generate_data_key(GenerateDataKey {
            key_id: key.clone(),
            number_of_bytes: Some(16),
            ..Default::default()
        })
        .await;
    assert_exception(r, "DisabledException");
    // A disabled key can still be renamed.
    d.update_key_description(&key, "disabled")
        .await
        .expect("rename a disabled key");
    for _ in 0..2 {
        d.enable_key(&key).await.expect("enable");
        let m = describe(&mut d, &key).await;
        assert_eq!(m.key_state, "Enabled");
        assert!(m.enabled);
    }
    assert_eq!(describe(&mut d, &key).await.description, "disabled");
    d.encrypt(Encrypt {
        key_id: key.clone(),
        plaintext: b"enabled again".to_vec(),
        ..Default::default()
    })
    .await
    .expect("encrypt under the enabled key");
}

#[tokio::test]
async fn list_keys_paginates() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let mut created = HashSet::new();
    for i in 0..5 {
        created.insert(create_key(&mut c, &format!("k{i}")).await);
    }

    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_keys(pb::ListKeysRequest {
                limit: Some(2),
                marker: marker.take(),
            })
            .await
            .expect("list keys")
            .into_inner();
        pages.push((page.keys.len(), page.truncated, page.next_marker.is_empty()));
        for k in &page.keys {
            assert_eq!(k.key_arn, key_arn_of(ACCOUNT_A, &k.key_id));
        }
        seen.extend(page.keys.into_iter().map(|k| k.key_id));
        if !page.truncated {
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
        marker = Some(page.next_marker);
    }
    assert_eq!(
        pages,
        vec![(2, true, false), (2, true, false), (1, false, true)]
    );
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);

    // Without a limit: all of them, in the same order, in one page.
    let all = c
        .list_keys(pb::ListKeysRequest::default())
        .await
        .expect("list keys")
        .into_inner();
    assert!(!all.truncated);
    assert!(all.next_marker.is_empty());
    assert_eq!(
        all.keys.into_iter().map(|k| k.key_id).collect::<Vec<_>>(),
        seen
    );
    // Limit exactly the number of keys: one page, not truncated.
    let exact = c
        .list_keys(pb::ListKeysRequest {
            limit: Some(5),
            marker: None,
        })
        .await
        .expect("list keys")
        .into_inner();
    assert_eq!(exact.keys.len(), 5);
    assert!(!exact.truncated);
}

async fn aliases_create_update_delete_and_list(door: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(door, ROOT_A).await;
    let k1 = d.new_key("one").await;
    let k2 = d.new_key("two").await;
    let t0 = server.clock.now_ms();
    d.create_alias("alias/app/current", &k1)
        .await
        .expect("create current");
    d.create_alias("alias/app/stable", &k1)
        .await
        .expect("create stable");
    let names =
        |list: Vec<AliasEntry>| -> Vec<String> { list.into_iter().map(|a| a.alias_name).collect() };

    let all = d.list_aliases(None).await.expect("list aliases");
    assert_eq!(all.len(), 2);
    for a in &all {
        assert_eq!(a.target_key_id, k1);
        assert_eq!(a.alias_arn, alias_arn_of(ACCOUNT_A, &a.alias_name));
        assert_eq!(a.creation_date_ms, Some(t0));
        assert_eq!(a.last_updated_date_ms, Some(t0));
    }
    assert_eq!(names(all), vec!["alias/app/current", "alias/app/stable"]);
    assert_eq!(
        names(d.list_aliases(Some(&k1)).await.expect("aliases of k1")),
        vec!["alias/app/current", "alias/app/stable"]
    );
    assert!(d
        .list_aliases(Some(&k2))
        .await
        .expect("aliases of k2")
        .is_empty());

    // Repoint one alias an hour later.
    server.clock.advance(Duration::from_secs(3600));
    let t1 = server.clock.now_ms();
    d.update_alias("alias/app/current", &key_arn_of(ACCOUNT_A, &k2))
        .await
        .expect("update alias");
    let target =
        async |d: &mut Door, name: &str| d.describe_key(name).await.expect("describe").key_id;
    assert_eq!(target(&mut d, "alias/app/current").await, k2);
    assert_eq!(target(&mut d, "alias/app/stable").await, k1);
    let all = d.list_aliases(None).await.expect("list aliases");
    let current = all
        .iter()
        .find(|a| a.alias_name == "alias/app/current")
        .expect("current");
    assert_eq!(current.target_key_id, k2);
    assert_eq!(current.creation_date_ms, Some(t0));
    assert_eq!(current.last_updated_date_ms, Some(t1));
    let stable = all
        .iter()
        .find(|a| a.alias_name == "alias/app/stable")
        .expect("stable");
    assert_eq!(stable.last_updated_date_ms, Some(t0));
    assert_eq!(
        names(d.list_aliases(Some(&k1)).await.expect("aliases of k1")),
        vec!["alias/app/stable"]
    );
    assert_eq!(
        names(
            d.list_aliases(Some(&key_arn_of(ACCOUNT_A, &k2)))
                .await
                .expect("aliases of k2 by ARN")
        ),
        vec!["alias/app/current"]
    );
    // Data encrypted through the alias now uses k2.
    let out = d
        .encrypt(Encrypt {
            key_id: "alias/app/current".into(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .expect("encrypt");
    assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &k2));

    // Delete.
    d.delete_alias("alias/app/stable")
        .await
        .expect("delete alias");
    let e = assert_exception(
        d.describe_key("alias/app/stable").await,
        "NotFoundException",
    );
    assert!(e.message.contains("alias/app/stable"), "{e:?}");
    assert_exception(
        d.delete_alias("alias/app/stable").await,
        "NotFoundException",
    );
    assert!(d
        .list_aliases(Some(&k1))
        .await
        .expect("aliases of k1")
        .is_empty());
    assert_eq!(d.list_aliases(None).await.expect("list aliases").len(), 1);
    // The key itself is untouched by its alias going away.
    assert_eq!(
        d.describe_key(&k1).await.expect("describe k1").key_state,
        "Enabled"
    );
    // And the name can be used again.
    d.create_alias("alias/app/stable", &k2)
        .await
        .expect("re-create alias");
    assert_eq!(target(&mut d, "alias/app/stable").await, k2);
}

#[tokio::test]
async fn list_aliases_paginates() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let k1 = create_key(&mut c, "one").await;
    let k2 = create_key(&mut c, "two").await;
    let names: Vec<String> = (0..5).map(|i| format!("alias/page/{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        create_alias(&mut c, n, if i % 2 == 0 { &k1 } else { &k2 }).await;
    }

    // All aliases, 2 at a time.
    let mut seen = Vec::new();
    let mut shape = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_aliases(pb::ListAliasesRequest {
                key_id: None,
                limit: Some(2),
                marker: marker.take(),
            })
            .await
            .expect("list aliases")
            .into_inner();
        shape.push((page.aliases.len(), page.truncated));
        seen.extend(page.aliases.into_iter().map(|a| a.alias_name));
        if !page.truncated {
            assert!(page.next_marker.is_empty());
            break;
        }
        assert!(!page.next_marker.is_empty());
        assert!(shape.len() < 10, "pagination does not end");
        marker = Some(page.next_marker);
    }
    assert_eq!(shape, vec![(2, true), (2, true), (1, false)]);
    assert_eq!(seen, names);

    // One key's aliases (0, 2, 4), 2 at a time.
    let page1 = c
        .list_aliases(pb::ListAliasesRequest {
            key_id: Some(k1.clone()),
            limit: Some(2),
            marker: None,
        })
        .await
        .expect("page 1")
        .into_inner();
    assert!(page1.truncated);
    let page2 = c
        .list_aliases(pb::ListAliasesRequest {
            key_id: Some(k1.clone()),
            limit: Some(2),
            marker: Some(page1.next_marker.clone()),
        })
        .await
        .expect("page 2")
        .into_inner();
    assert!(!page2.truncated);
    let got: Vec<String> = page1
        .aliases
        .into_iter()
        .chain(page2.aliases)
        .map(|a| a.alias_name)
        .collect();
    assert_eq!(got, vec!["alias/page/0", "alias/page/2", "alias/page/4"]);
    assert_eq!(
        aliases_of(&mut c, &k2).await,
        vec!["alias/page/1", "alias/page/3"]
    );
}

#[tokio::test]
async fn key_management_calls_refuse_aliases() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "by alias").await;
    create_alias(&mut c, "alias/mgmt", &key).await;
    let before = account_snapshot(&mut c).await;

    for name in [
        "alias/mgmt".to_string(),
        alias_arn_of(ACCOUNT_A, "alias/mgmt"),
    ] {
        let n = name.clone();
        let results = vec![
            (
                "UpdateKeyDescription",
                c.update_key_description(pb::UpdateKeyDescriptionRequest {
                    key_id: n.clone(),
                    description: "changed".into(),
                })
                .await
                .map(drop),
            ),
            (
                "DisableKey",
                c.disable_key(pb::DisableKeyRequest { key_id: n.clone() })
                    .await
                    .map(drop),
            ),
            (
                "EnableKey",
                c.enable_key(pb::EnableKeyRequest { key_id: n.clone() })
                    .await
                    .map(drop),
            ),
            (
                "ScheduleKeyDeletion",
                c.schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                    key_id: n.clone(),
                    pending_window_in_days: Some(7),
                })
                .await
                .map(drop),
            ),
            (
                "CancelKeyDeletion",
                c.cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: n.clone() })
                    .await
                    .map(drop),
            ),
            (
                "TagResource",
                c.tag_resource(pb::TagResourceRequest {
                    key_id: n.clone(),
                    tags: tags(&[("a", "b")]),
                })
                .await
                .map(drop),
            ),
            (
                "UntagResource",
                c.untag_resource(pb::UntagResourceRequest {
                    key_id: n.clone(),
                    tag_keys: vec!["a".into()],
                })
                .await
                .map(drop),
            ),
            (
                "ListResourceTags",
                c.list_resource_tags(pb::ListResourceTagsRequest {
                    key_id: n.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            ),
            (
                "CreateAlias target",
                c.create_alias(pb::CreateAliasRequest {
                    alias_name: "alias/second".into(),
                    target_key_id: n.clone(),
                })
                .await
                .map(drop),
            ),
            (
                "UpdateAlias target",
                c.update_alias(pb::UpdateAliasRequest {
                    alias_name: "alias/mgmt".into(),
                    target_key_id: n.clone(),
                })
                .await
                .map(drop),
            ),
            (
                "ListAliases filter",
                c.list_aliases(pb::ListAliasesRequest {
                    key_id: Some(n.clone()),
                    ..Default::default()
                })
                .await
                .map(drop),
            ),
        ];
        for (op, r) in results {
            let e = r.expect_err(op);
            assert_aws_error(&e, Code::NotFound, "NotFoundException");
            assert_eq!(account_snapshot(&mut c).await, before, "{op} via {name}");
        }
    }
}

#[tokio::test]
async fn tags_add_overwrite_remove_and_paginate() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = c
        .create_key(pb::CreateKeyRequest {
            tags: tags(&[("created", "with key")]),
            ..Default::default()
        })
        .await
        .expect("create key")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        all_tags(&mut c, &key).await,
        pairs(&[("created", "with key")])
    );

    c.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: tags(&[("team", "db"), ("env", "dev")]),
    })
    .await
    .expect("tag");
    assert_eq!(
        all_tags(&mut c, &key).await,
        pairs(&[("created", "with key"), ("env", "dev"), ("team", "db")])
    );

    // Overwrite one, add one, by ARN.
    c.tag_resource(pb::TagResourceRequest {
        key_id: key_arn_of(ACCOUNT_A, &key),
        tags: tags(&[("env", "prod"), ("cost-center", "42")]),
    })
    .await
    .expect("overwrite");
    assert_eq!(
        all_tags(&mut c, &key).await,
        pairs(&[
            ("cost-center", "42"),
            ("created", "with key"),
            ("env", "prod"),
            ("team", "db"),
        ])
    );

    // Remove two; a key that is not there is ignored.
    c.untag_resource(pb::UntagResourceRequest {
        key_id: key.clone(),
        tag_keys: vec!["created".into(), "team".into(), "never-set".into()],
    })
    .await
    .expect("untag");
    assert_eq!(
        all_tags(&mut c, &key).await,
        pairs(&[("cost-center", "42"), ("env", "prod")])
    );

    // Pagination: 5 tags, 2 per page.
    c.tag_resource(pb::TagResourceRequest {
        key_id: key.clone(),
        tags: tags(&[("a", "1"), ("b", "2"), ("c", "3")]),
    })
    .await
    .expect("tag");
    let mut seen = Vec::new();
    let mut shape = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_resource_tags(pb::ListResourceTagsRequest {
                key_id: key.clone(),
                limit: Some(2),
                marker: marker.take(),
            })
            .await
            .expect("list tags")
            .into_inner();
        shape.push((page.tags.len(), page.truncated));
        seen.extend(page.tags.into_iter().map(|t| t.tag_key));
        if !page.truncated {
            assert!(page.next_marker.is_empty());
            break;
        }
        assert!(shape.len() < 10, "pagination does not end");
        marker = Some(page.next_marker);
    }
    assert_eq!(shape, vec![(2, true), (2, true), (1, false)]);
    assert_eq!(seen, vec!["a", "b", "c", "cost-center", "env"]);

    // Tags show in no other key.
    let other = create_key(&mut c, "untagged").await;
    assert!(all_tags(&mut c, &other).await.is_empty());
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let k1 = create_key(&mut c, "source").await;
    let k2 = create_key(&mut c, "destination").await;
    let ctx1 = ctx(&[("stage", "one")]);
    let ctx2 = ctx(&[("stage", "two"), ("extra", "pair")]);
    let src = c
        .encrypt(pb::EncryptRequest {
            key_id: k1.clone(),
            plaintext: b"moving house".to_vec(),
            encryption_context: ctx1.clone(),
            ..Default::default()
        })
        .await
        .expect("encrypt")
        .into_inner();

    let out = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: src.ciphertext_blob.clone(),
            source_encryption_context: ctx1.clone(),
            destination_key_id: k2.clone(),
            destination_encryption_context: ctx2.clone(),
            ..Default::default()
        })
        .await
        .expect("re-encrypt")
        .into_inner();
    assert_eq!(out.source_key_id, key_arn_of(ACCOUNT_A, &k1));
    assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &k2));
    assert_eq!(out.source_key_material_id, src.key_material_id);
    assert_eq!(
        out.destination_key_material_id,
        describe(&mut c, &k2).await.current_key_material_id
    );
    assert_ne!(out.ciphertext_blob, src.ciphertext_blob);

    let dec = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: out.ciphertext_blob.clone(),
            encryption_context: ctx2.clone(),
            key_id: Some(k2.clone()),
            ..Default::default()
        })
        .await
        .expect("decrypt under k2 with the new context")
        .into_inner();
    assert_eq!(dec.plaintext, b"moving house");
    assert_eq!(dec.key_id, key_arn_of(ACCOUNT_A, &k2));

    // The old context no longer opens it, and it is not k1's any more.
    let e = try_decrypt(&mut c, &out.ciphertext_blob, &ctx1)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    let e = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: out.ciphertext_blob.clone(),
            encryption_context: ctx2.clone(),
            key_id: Some(k1.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "IncorrectKeyException");

    // A wrong source context is refused, as Decrypt would.
    let e = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: src.ciphertext_blob.clone(),
            source_encryption_context: ctx2.clone(),
            destination_key_id: k2.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    // A wrong source key id too.
    let e = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: src.ciphertext_blob.clone(),
            source_encryption_context: ctx1.clone(),
            source_key_id: Some(k2.clone()),
            destination_key_id: k2.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "IncorrectKeyException");
    // The original still decrypts under k1.
    assert_eq!(
        decrypt(&mut c, &src.ciphertext_blob, &ctx1).await,
        b"moving house"
    );
}

#[tokio::test]
async fn generate_data_key_without_plaintext_then_decrypt() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create_key(&mut c, "wrapped").await;
    let ec = ctx(&[("use", "later")]);
    for (spec, n, len) in [
        (pb::DataKeySpec::Aes256 as i32, None, 32),
        (pb::DataKeySpec::Aes128 as i32, None, 16),
        (0, Some(1), 1),
        (0, Some(17), 17),
        (0, Some(1024), 1024),
    ] {
        let out = c
            .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                key_id: key.clone(),
                encryption_context: ec.clone(),
                key_spec: spec,
                number_of_bytes: n,
                ..Default::default()
            })
            .await
            .expect("generate data key without plaintext")
            .into_inner();
        assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &key));
        assert!(is_hex64(&out.key_material_id));
        let pt = decrypt(&mut c, &out.ciphertext_blob, &ec).await;
        assert_eq!(pt.len(), len, "spec {spec} / {n:?}");
    }
    // Two data keys differ.
    let mut keys = HashSet::new();
    for _ in 0..2 {
        let out = c
            .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                key_id: key.clone(),
                key_spec: pb::DataKeySpec::Aes256 as i32,
                ..Default::default()
            })
            .await
            .expect("data key")
            .into_inner();
        keys.insert(decrypt(&mut c, &out.ciphertext_blob, &ctx(&[])).await);
    }
    assert_eq!(keys.len(), 2);
}

async fn random(c: &mut Client, n: i32) -> Vec<u8> {
    c.generate_random(pb::GenerateRandomRequest {
        number_of_bytes: Some(n),
        custom_key_store_id: None,
    })
    .await
    .expect("generate random")
    .into_inner()
    .plaintext
}

#[tokio::test]
async fn generate_random_gives_the_requested_length() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    assert_eq!(random(&mut c, 1).await.len(), 1);
    let a = random(&mut c, 1024).await;
    let b = random(&mut c, 1024).await;
    assert_eq!(a.len(), 1024);
    assert_eq!(b.len(), 1024);
    assert_ne!(a, b);
    // Not trivially patterned: a kilobyte of random bytes has many values.
    assert!(a.iter().collect::<HashSet<_>>().len() > 100);
    // Another account may call it too (it acts on no key).
    let mut b_client = server.client_as(ROOT_B).await;
    let r = b_client
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(8),
            custom_key_store_id: None,
        })
        .await
        .expect("random as B")
        .into_inner();
    assert_eq!(r.plaintext.len(), 8);
    c.list_keys(pb::ListKeysRequest::default())
        .await
        .expect("still serving");
}
