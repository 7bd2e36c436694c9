//! Bad input, field by field: every request field with a rule (docs/api.md
//! "Limits", the proto's enums and presence rules) gets the AWS exception
//! AWS would give, with the gRPC code of docs/api.md; the server keeps
//! answering; and nothing is written — the account's keys, their metadata,
//! tags and aliases are exactly as before each refused call. The limits
//! themselves are shown to be inclusive, so each refusal is for the value
//! just past the limit, not for something else.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use tonic::{Code, Status};

use crate::door::{self as door, per_door, Door, DoorKind, DoorResult};
use crate::harness::*;

/// One RPC with its request.
#[derive(Debug, Clone)]
enum Call {
    CreateKey(pb::CreateKeyRequest),
    DescribeKey(pb::DescribeKeyRequest),
    ListKeys(pb::ListKeysRequest),
    UpdateKeyDescription(pb::UpdateKeyDescriptionRequest),
    EnableKey(pb::EnableKeyRequest),
    DisableKey(pb::DisableKeyRequest),
    ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest),
    CancelKeyDeletion(pb::CancelKeyDeletionRequest),
    CreateAlias(pb::CreateAliasRequest),
    UpdateAlias(pb::UpdateAliasRequest),
    DeleteAlias(pb::DeleteAliasRequest),
    ListAliases(pb::ListAliasesRequest),
    TagResource(pb::TagResourceRequest),
    UntagResource(pb::UntagResourceRequest),
    ListResourceTags(pb::ListResourceTagsRequest),
    Encrypt(pb::EncryptRequest),
    Decrypt(pb::DecryptRequest),
    ReEncrypt(pb::ReEncryptRequest),
    GenerateDataKey(pb::GenerateDataKeyRequest),
    GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest),
    GenerateRandom(pb::GenerateRandomRequest),
}

async fn run(c: &mut Client, call: Call) -> Result<(), Status> {
    match call {
        Call::CreateKey(r) => c.create_key(r).await.map(drop),
        Call::DescribeKey(r) => c.describe_key(r).await.map(drop),
        Call::ListKeys(r) => c.list_keys(r).await.map(drop),
        Call::UpdateKeyDescription(r) => c.update_key_description(r).await.map(drop),
        Call::EnableKey(r) => c.enable_key(r).await.map(drop),
        Call::DisableKey(r) => c.disable_key(r).await.map(drop),
        Call::ScheduleKeyDeletion(r) => c.schedule_key_deletion(r).await.map(drop),
        Call::CancelKeyDeletion(r) => c.cancel_key_deletion(r).await.map(drop),
        Call::CreateAlias(r) => c.create_alias(r).await.map(drop),
        Call::UpdateAlias(r) => c.update_alias(r).await.map(drop),
        Call::DeleteAlias(r) => c.delete_alias(r).await.map(drop),
        Call::ListAliases(r) => c.list_aliases(r).await.map(drop),
        Call::TagResource(r) => c.tag_resource(r).await.map(drop),
        Call::UntagResource(r) => c.untag_resource(r).await.map(drop),
        Call::ListResourceTags(r) => c.list_resource_tags(r).await.map(drop),
        Call::Encrypt(r) => c.encrypt(r).await.map(drop),
        Call::Decrypt(r) => c.decrypt(r).await.map(drop),
        Call::ReEncrypt(r) => c.re_encrypt(r).await.map(drop),
        Call::GenerateDataKey(r) => c.generate_data_key(r).await.map(drop),
        Call::GenerateDataKeyWithoutPlaintext(r) => {
            c.generate_data_key_without_plaintext(r).await.map(drop)
        }
        Call::GenerateRandom(r) => c.generate_random(r).await.map(drop),
    }
}

/// A refused call: what it is, and the code and exception expected.
struct Case {
    name: String,
    call: Call,
    code: Code,
    exception: &'static str,
}

fn case(name: impl Into<String>, call: Call, code: Code, exception: &'static str) -> Case {
    Case {
        name: name.into(),
        call,
        code,
        exception,
    }
}

const VALIDATION: (Code, &str) = (Code::InvalidArgument, "ValidationException");
const NOT_FOUND: (Code, &str) = (Code::NotFound, "NotFoundException");
const INVALID_ARN: (Code, &str) = (Code::InvalidArgument, "InvalidArnException");
const INVALID_ALIAS: (Code, &str) = (Code::InvalidArgument, "InvalidAliasNameException");
const TAG: (Code, &str) = (Code::InvalidArgument, "TagException");
const LIMIT: (Code, &str) = (Code::ResourceExhausted, "LimitExceededException");
const MARKER: (Code, &str) = (Code::InvalidArgument, "InvalidMarkerException");
const CIPHERTEXT: (Code, &str) = (Code::InvalidArgument, "InvalidCiphertextException");
const KEY_USAGE: (Code, &str) = (Code::InvalidArgument, "InvalidKeyUsageException");
const EXISTS: (Code, &str) = (Code::AlreadyExists, "AlreadyExistsException");
const UNSUPPORTED: (Code, &str) = (Code::Unimplemented, "UnsupportedOperationException");
const MALFORMED_POLICY: (Code, &str) = (Code::InvalidArgument, "MalformedPolicyDocumentException");

/// Builds cases from (name, call, expected) triples.
fn cases(list: Vec<(String, Call, (Code, &'static str))>) -> Vec<Case> {
    list.into_iter()
        .map(|(n, call, (code, exc))| case(n, call, code, exc))
        .collect()
}

/// Runs each case, checking the error, that the message stays a readable
/// line, and that the account is exactly as it was.
async fn check_all(c: &mut Client, list: Vec<Case>) {
    let before = account_snapshot(c).await;
    let n = list.len();
    for Case {
        name,
        call,
        code,
        exception,
    } in list
    {
        let result = run(c, call).await;
        let e = match result {
            Ok(()) => panic!("{name}: accepted, expected {exception}"),
            Err(e) => e,
        };
        assert_eq!(e.code(), code, "{name}: {e:?}");
        assert!(
            e.message().starts_with(&format!("{exception}: ")),
            "{name}: expected {exception}, got {:?}",
            e.message()
        );
        assert!(
            e.message().len() < 1024 && !e.message().contains('\n'),
            "{name}: message too long or multi-line: {} chars",
            e.message().len()
        );
        // Still answering, and nothing was written.
        let after = account_snapshot(c).await;
        assert_eq!(after, before, "{name}: the account changed");
    }
    assert!(n > 0);
}

/// The state every case runs against.
struct Fixture {
    /// Key id of the main key: description "fixture", tag team=db,
    /// alias `alias/fixture`.
    key: String,
    /// A blob sealed under `key` with no context.
    blob: Vec<u8>,
}

async fn fixture(c: &mut Client) -> Fixture {
    let key = c
        .create_key(pb::CreateKeyRequest {
            description: "fixture".into(),
            tags: tags(&[("team", "db")]),
            ..Default::default()
        })
        .await
        .expect("create key")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/fixture".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias");
    let other = create_key(c, "other").await;
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/other".into(),
        target_key_id: other,
    })
    .await
    .expect("alias");
    let blob = encrypt(c, &key, b"fixture plaintext", &ctx(&[])).await;
    Fixture { key, blob }
}

fn n_tags(n: usize, prefix: &str) -> Vec<pb::Tag> {
    (0..n)
        .map(|i| pb::Tag {
            tag_key: format!("{prefix}{i}"),
            tag_value: "v".into(),
        })
        .collect()
}

fn s(n: usize, c: char) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn describe_req(key_id: impl Into<String>) -> Call {
    Call::DescribeKey(pb::DescribeKeyRequest {
        key_id: key_id.into(),
        ..Default::default()
    })
}

fn oversized_context() -> HashMap<String, String> {
    ctx(&[("big", &s(8200, 'x'))])
}

fn empty_key_context() -> HashMap<String, String> {
    ctx(&[("", "value"), ("ok", "fine")])
}

fn grant_tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("token-{i}")).collect()
}

#[tokio::test]
async fn key_id_fields() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let other_region = format!("arn:aws:kms:eu-west-1:{ACCOUNT_A}:key/{k}");
    let other_region_alias = format!("arn:aws:kms:eu-west-1:{ACCOUNT_A}:alias/fixture");
    let long = s(2049, 'k');
    let mut list: Vec<(String, Call, (Code, &str))> = vec![
        ("describe: empty".into(), describe_req(""), VALIDATION),
        (
            "describe: 2049 chars".into(),
            describe_req(&long),
            VALIDATION,
        ),
        // 2048 is within the length rule; it just names no key.
        (
            "describe: 2048 chars".into(),
            describe_req(s(2048, 'k')),
            NOT_FOUND,
        ),
        (
            "describe: garbage".into(),
            describe_req("garbage"),
            NOT_FOUND,
        ),
        (
            "describe: uppercase id".into(),
            describe_req(k.to_uppercase()),
            NOT_FOUND,
        ),
        (
            "describe: wrong Region ARN".into(),
            describe_req(&other_region),
            NOT_FOUND,
        ),
        (
            "describe: wrong Region alias ARN".into(),
            describe_req(&other_region_alias),
            NOT_FOUND,
        ),
        (
            "describe: unknown alias".into(),
            describe_req("alias/nope"),
            NOT_FOUND,
        ),
        (
            "describe: ARN with a bad key id".into(),
            describe_req(format!("arn:aws:kms:{REGION}:{ACCOUNT_A}:key/not-a-uuid")),
            INVALID_ARN,
        ),
        (
            "describe: ARN with a bad account".into(),
            describe_req(format!("arn:aws:kms:{REGION}:12345:key/{k}")),
            INVALID_ARN,
        ),
        (
            "describe: ARN of another service".into(),
            describe_req(format!("arn:aws:s3:{REGION}:{ACCOUNT_A}:key/{k}")),
            INVALID_ARN,
        ),
        (
            "describe: ARN of another resource type".into(),
            describe_req(format!("arn:aws:kms:{REGION}:{ACCOUNT_A}:grant/{k}")),
            INVALID_ARN,
        ),
    ];
    // The same rules on the key id field of every other operation.
    for (label, key_id, expected) in [
        ("empty", String::new(), VALIDATION),
        ("2049 chars", long.clone(), VALIDATION),
        ("garbage", "garbage".to_string(), NOT_FOUND),
        ("wrong Region ARN", other_region.clone(), NOT_FOUND),
    ] {
        let id = key_id.clone();
        let calls = vec![
            (
                "UpdateKeyDescription",
                Call::UpdateKeyDescription(pb::UpdateKeyDescriptionRequest {
                    key_id: id.clone(),
                    description: "changed".into(),
                }),
            ),
            (
                "EnableKey",
                Call::EnableKey(pb::EnableKeyRequest { key_id: id.clone() }),
            ),
            (
                "DisableKey",
                Call::DisableKey(pb::DisableKeyRequest { key_id: id.clone() }),
            ),
            (
                "ScheduleKeyDeletion",
                Call::ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest {
                    key_id: id.clone(),
                    pending_window_in_days: Some(7),
                }),
            ),
            (
                "CancelKeyDeletion",
                Call::CancelKeyDeletion(pb::CancelKeyDeletionRequest { key_id: id.clone() }),
            ),
            (
                "CreateAlias target",
                Call::CreateAlias(pb::CreateAliasRequest {
                    alias_name: "alias/new".into(),
                    target_key_id: id.clone(),
                }),
            ),
            (
                "UpdateAlias target",
                Call::UpdateAlias(pb::UpdateAliasRequest {
                    alias_name: "alias/fixture".into(),
                    target_key_id: id.clone(),
                }),
            ),
            (
                "TagResource",
                Call::TagResource(pb::TagResourceRequest {
                    key_id: id.clone(),
                    tags: tags(&[("new", "tag")]),
                }),
            ),
            (
                "UntagResource",
                Call::UntagResource(pb::UntagResourceRequest {
                    key_id: id.clone(),
                    tag_keys: vec!["team".into()],
                }),
            ),
            (
                "ListResourceTags",
                Call::ListResourceTags(pb::ListResourceTagsRequest {
                    key_id: id.clone(),
                    ..Default::default()
                }),
            ),
            (
                "Encrypt",
                Call::Encrypt(pb::EncryptRequest {
                    key_id: id.clone(),
                    plaintext: b"x".to_vec(),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKey",
                Call::GenerateDataKey(pb::GenerateDataKeyRequest {
                    key_id: id.clone(),
                    number_of_bytes: Some(32),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKeyWithoutPlaintext",
                Call::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: id.clone(),
                    number_of_bytes: Some(32),
                    ..Default::default()
                }),
            ),
            (
                "ReEncrypt destination",
                Call::ReEncrypt(pb::ReEncryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    destination_key_id: id.clone(),
                    ..Default::default()
                }),
            ),
        ];
        for (op, call) in calls {
            list.push((format!("{op}: key id {label}"), call, expected));
        }
        // Optional key id fields: given but bad. (An empty optional key id
        // is treated as absent, so it is not in this table.)
        if !key_id.is_empty() {
            list.push((
                format!("Decrypt: key id {label}"),
                Call::Decrypt(pb::DecryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    key_id: Some(key_id.clone()),
                    ..Default::default()
                }),
                expected,
            ));
            list.push((
                format!("ReEncrypt: source key id {label}"),
                Call::ReEncrypt(pb::ReEncryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    source_key_id: Some(key_id.clone()),
                    destination_key_id: k.clone(),
                    ..Default::default()
                }),
                expected,
            ));
            list.push((
                format!("ListAliases: key id {label}"),
                Call::ListAliases(pb::ListAliasesRequest {
                    key_id: Some(key_id.clone()),
                    ..Default::default()
                }),
                expected,
            ));
        }
    }
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn descriptions_and_tags() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let tag_req = |t: Vec<pb::Tag>| {
        Call::TagResource(pb::TagResourceRequest {
            key_id: k.clone(),
            tags: t,
        })
    };
    let create_with = |t: Vec<pb::Tag>| {
        Call::CreateKey(pb::CreateKeyRequest {
            tags: t,
            ..Default::default()
        })
    };
    let untag = |keys: &[&str]| {
        Call::UntagResource(pb::UntagResourceRequest {
            key_id: k.clone(),
            tag_keys: keys.iter().map(|s| s.to_string()).collect(),
        })
    };
    let mut fifty_one = n_tags(50, "t");
    fifty_one.push(pb::Tag {
        tag_key: "team".into(),
        tag_value: "changed".into(),
    });
    let list: Vec<(String, Call, (Code, &str))> = vec![
        (
            "CreateKey: description 8193 chars".into(),
            Call::CreateKey(pb::CreateKeyRequest {
                description: s(8193, 'd'),
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "UpdateKeyDescription: 8193 chars".into(),
            Call::UpdateKeyDescription(pb::UpdateKeyDescriptionRequest {
                key_id: k.clone(),
                description: s(8193, 'd'),
            }),
            VALIDATION,
        ),
        ("TagResource: no tags".into(), tag_req(vec![]), VALIDATION),
        (
            "TagResource: empty key".into(),
            tag_req(tags(&[("", "v")])),
            TAG,
        ),
        (
            "TagResource: 129-char key".into(),
            tag_req(tags(&[(&s(129, 'k'), "v")])),
            TAG,
        ),
        (
            "TagResource: 257-char value".into(),
            tag_req(tags(&[("k", &s(257, 'v'))])),
            TAG,
        ),
        (
            "TagResource: aws: prefix".into(),
            tag_req(tags(&[("aws:owner", "v")])),
            TAG,
        ),
        (
            "TagResource: AWS: prefix".into(),
            tag_req(tags(&[("AWS:Owner", "v")])),
            TAG,
        ),
        (
            "TagResource: duplicate keys".into(),
            tag_req(tags(&[("dup", "1"), ("dup", "2")])),
            TAG,
        ),
        (
            // A good tag next to a bad one: neither is applied.
            "TagResource: good and bad".into(),
            tag_req(tags(&[("good", "v"), ("aws:bad", "v")])),
            TAG,
        ),
        (
            // Overwriting "team" too: the good part is not applied either.
            "TagResource: 51 tags".into(),
            tag_req(fifty_one),
            LIMIT,
        ),
        (
            // 50 new ones plus the existing "team" tag make 51.
            "TagResource: 50 new tags on a key with one".into(),
            tag_req(n_tags(50, "t")),
            LIMIT,
        ),
        (
            "CreateKey: empty tag key".into(),
            create_with(tags(&[("", "v")])),
            TAG,
        ),
        (
            "CreateKey: aws: tag".into(),
            create_with(tags(&[("aws:cloudformation:stack-name", "v")])),
            TAG,
        ),
        (
            "CreateKey: 257-char tag value".into(),
            create_with(tags(&[("k", &s(257, 'v'))])),
            TAG,
        ),
        (
            "CreateKey: duplicate tag keys".into(),
            create_with(tags(&[("a", "1"), ("a", "1")])),
            TAG,
        ),
        (
            "CreateKey: 51 tags".into(),
            create_with(n_tags(51, "t")),
            LIMIT,
        ),
        ("UntagResource: no keys".into(), untag(&[]), VALIDATION),
        ("UntagResource: empty key".into(), untag(&[""]), TAG),
        ("UntagResource: aws: key".into(), untag(&["aws:x"]), TAG),
        (
            "UntagResource: a good and a 129-char key".into(),
            untag(&["team", &s(129, 'k')]),
            TAG,
        ),
    ];
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn alias_names() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let create = |name: &str| {
        Call::CreateAlias(pb::CreateAliasRequest {
            alias_name: name.into(),
            target_key_id: k.clone(),
        })
    };
    let update = |name: &str| {
        Call::UpdateAlias(pb::UpdateAliasRequest {
            alias_name: name.into(),
            target_key_id: k.clone(),
        })
    };
    let delete = |name: &str| {
        Call::DeleteAlias(pb::DeleteAliasRequest {
            alias_name: name.into(),
        })
    };
    let too_long = format!("alias/{}", s(251, 'a'));
    assert_eq!(too_long.len(), 257);
    let mut list = Vec::new();
    for (label, name, expected) in [
        ("no alias/ prefix", "fixture2", INVALID_ALIAS),
        (
            "alias prefix without slash",
            "alias-fixture2",
            INVALID_ALIAS,
        ),
        ("nothing after alias/", "alias/", INVALID_ALIAS),
        ("space", "alias/bad name", INVALID_ALIAS),
        ("punctuation", "alias/bad!", INVALID_ALIAS),
        ("dot", "alias/app.prod", INVALID_ALIAS),
        ("colon", "alias/app:prod", INVALID_ALIAS),
        ("non-ASCII", "alias/caf\u{e9}", INVALID_ALIAS),
        ("reserved alias/aws/", "alias/aws/s3", INVALID_ALIAS),
        // The name's length rule comes before its syntax (AWS model
        // constraint: 1-256), so these are ValidationException.
        ("257 chars", too_long.as_str(), VALIDATION),
        ("empty", "", VALIDATION),
    ] {
        list.push((format!("CreateAlias: {label}"), create(name), expected));
        list.push((format!("UpdateAlias: {label}"), update(name), expected));
    }
    for (label, name, expected) in [
        ("no alias/ prefix", "fixture", INVALID_ALIAS),
        ("space", "alias/bad name", INVALID_ALIAS),
        ("257 chars", too_long.as_str(), VALIDATION),
        ("empty", "", VALIDATION),
        ("unknown", "alias/nope", NOT_FOUND),
    ] {
        list.push((format!("DeleteAlias: {label}"), delete(name), expected));
    }
    list.push((
        "CreateAlias: already exists (same key)".into(),
        create("alias/fixture"),
        EXISTS,
    ));
    list.push((
        "CreateAlias: already exists (other key)".into(),
        create("alias/other"),
        EXISTS,
    ));
    list.push((
        "UpdateAlias: unknown alias".into(),
        update("alias/nope"),
        NOT_FOUND,
    ));
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn crypto_fields() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let enc = |plaintext: Vec<u8>| {
        Call::Encrypt(pb::EncryptRequest {
            key_id: k.clone(),
            plaintext,
            ..Default::default()
        })
    };
    let dec = |blob: Vec<u8>| {
        Call::Decrypt(pb::DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        })
    };
    let gdk = |n: Option<i32>, spec: i32| {
        Call::GenerateDataKey(pb::GenerateDataKeyRequest {
            key_id: k.clone(),
            number_of_bytes: n,
            key_spec: spec,
            ..Default::default()
        })
    };
    let gdk_np = |n: Option<i32>, spec: i32| {
        Call::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: k.clone(),
            number_of_bytes: n,
            key_spec: spec,
            ..Default::default()
        })
    };
    let random = |n: Option<i32>| {
        Call::GenerateRandom(pb::GenerateRandomRequest {
            number_of_bytes: n,
            custom_key_store_id: None,
        })
    };
    let aes256 = pb::DataKeySpec::Aes256 as i32;
    let mut garbage = vec![0xAB; 100];
    garbage[0] = 1; // a plausible version byte; the rest is still garbage
    let mut list: Vec<(String, Call, (Code, &str))> = vec![
        ("Encrypt: empty plaintext".into(), enc(vec![]), VALIDATION),
        ("Encrypt: 4097 bytes".into(), enc(vec![7; 4097]), VALIDATION),
        (
            "Encrypt: unknown algorithm number".into(),
            Call::Encrypt(pb::EncryptRequest {
                key_id: k.clone(),
                plaintext: b"x".to_vec(),
                encryption_algorithm: 999,
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "Encrypt: RSA algorithm on a symmetric key".into(),
            Call::Encrypt(pb::EncryptRequest {
                key_id: k.clone(),
                plaintext: b"x".to_vec(),
                encryption_algorithm: pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32,
                ..Default::default()
            }),
            KEY_USAGE,
        ),
        ("Decrypt: empty blob".into(), dec(vec![]), VALIDATION),
        (
            "Decrypt: 6145-byte blob".into(),
            dec(vec![1; 6145]),
            VALIDATION,
        ),
        (
            "Decrypt: short garbage".into(),
            dec(b"abc".to_vec()),
            CIPHERTEXT,
        ),
        ("Decrypt: garbage".into(), dec(garbage.clone()), CIPHERTEXT),
        (
            "Decrypt: unknown algorithm number".into(),
            Call::Decrypt(pb::DecryptRequest {
                ciphertext_blob: f.blob.clone(),
                encryption_algorithm: 999,
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "ReEncrypt: empty blob".into(),
            Call::ReEncrypt(pb::ReEncryptRequest {
                destination_key_id: k.clone(),
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "ReEncrypt: garbage blob".into(),
            Call::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: garbage.clone(),
                destination_key_id: k.clone(),
                ..Default::default()
            }),
            CIPHERTEXT,
        ),
        (
            "ReEncrypt: unknown destination algorithm".into(),
            Call::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: f.blob.clone(),
                destination_key_id: k.clone(),
                destination_encryption_algorithm: 999,
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "GenerateDataKey: 0 bytes".into(),
            gdk(Some(0), 0),
            VALIDATION,
        ),
        (
            "GenerateDataKey: -1 bytes".into(),
            gdk(Some(-1), 0),
            VALIDATION,
        ),
        (
            "GenerateDataKey: 1025 bytes".into(),
            gdk(Some(1025), 0),
            VALIDATION,
        ),
        (
            "GenerateDataKey: key_spec and number_of_bytes".into(),
            gdk(Some(32), aes256),
            VALIDATION,
        ),
        (
            "GenerateDataKey: neither key_spec nor number_of_bytes".into(),
            gdk(None, 0),
            VALIDATION,
        ),
        (
            "GenerateDataKey: key_spec 999".into(),
            gdk(None, 999),
            VALIDATION,
        ),
        (
            "GenerateDataKeyWithoutPlaintext: 0 bytes".into(),
            gdk_np(Some(0), 0),
            VALIDATION,
        ),
        (
            "GenerateDataKeyWithoutPlaintext: 1025 bytes".into(),
            gdk_np(Some(1025), 0),
            VALIDATION,
        ),
        (
            "GenerateDataKeyWithoutPlaintext: both".into(),
            gdk_np(Some(16), aes256),
            VALIDATION,
        ),
        (
            "GenerateDataKeyWithoutPlaintext: neither".into(),
            gdk_np(None, 0),
            VALIDATION,
        ),
        (
            "GenerateDataKeyWithoutPlaintext: key_spec 999".into(),
            gdk_np(None, 999),
            VALIDATION,
        ),
        (
            "GenerateRandom: 0 bytes".into(),
            random(Some(0)),
            VALIDATION,
        ),
        (
            "GenerateRandom: 1025 bytes".into(),
            random(Some(1025)),
            VALIDATION,
        ),
        (
            "GenerateRandom: -5 bytes".into(),
            random(Some(-5)),
            VALIDATION,
        ),
        ("GenerateRandom: missing".into(), random(None), VALIDATION),
        (
            "GenerateRandom: custom key store".into(),
            Call::GenerateRandom(pb::GenerateRandomRequest {
                number_of_bytes: Some(16),
                custom_key_store_id: Some("cks-1234567890abcdef0".into()),
            }),
            UNSUPPORTED,
        ),
    ];

    // Encryption context and grant tokens, on every operation that has them.
    let bad_contexts = [
        ("empty context key", empty_key_context()),
        ("oversized context", oversized_context()),
    ];
    for (label, ec) in &bad_contexts {
        let calls = vec![
            (
                "Encrypt",
                Call::Encrypt(pb::EncryptRequest {
                    key_id: k.clone(),
                    plaintext: b"x".to_vec(),
                    encryption_context: ec.clone(),
                    ..Default::default()
                }),
            ),
            (
                "Decrypt",
                Call::Decrypt(pb::DecryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    encryption_context: ec.clone(),
                    ..Default::default()
                }),
            ),
            (
                "ReEncrypt source",
                Call::ReEncrypt(pb::ReEncryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    source_encryption_context: ec.clone(),
                    destination_key_id: k.clone(),
                    ..Default::default()
                }),
            ),
            (
                "ReEncrypt destination",
                Call::ReEncrypt(pb::ReEncryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    destination_key_id: k.clone(),
                    destination_encryption_context: ec.clone(),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKey",
                Call::GenerateDataKey(pb::GenerateDataKeyRequest {
                    key_id: k.clone(),
                    key_spec: aes256,
                    encryption_context: ec.clone(),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKeyWithoutPlaintext",
                Call::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: k.clone(),
                    key_spec: aes256,
                    encryption_context: ec.clone(),
                    ..Default::default()
                }),
            ),
        ];
        for (op, call) in calls {
            list.push((format!("{op}: {label}"), call, VALIDATION));
        }
    }
    let bad_tokens = [
        ("11 grant tokens", grant_tokens(11)),
        ("empty grant token", vec![String::new()]),
        ("8193-char grant token", vec![s(8193, 't')]),
    ];
    for (label, gt) in &bad_tokens {
        let calls = vec![
            (
                "DescribeKey",
                Call::DescribeKey(pb::DescribeKeyRequest {
                    key_id: k.clone(),
                    grant_tokens: gt.clone(),
                }),
            ),
            (
                "Encrypt",
                Call::Encrypt(pb::EncryptRequest {
                    key_id: k.clone(),
                    plaintext: b"x".to_vec(),
                    grant_tokens: gt.clone(),
                    ..Default::default()
                }),
            ),
            (
                "Decrypt",
                Call::Decrypt(pb::DecryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    grant_tokens: gt.clone(),
                    ..Default::default()
                }),
            ),
            (
                "ReEncrypt",
                Call::ReEncrypt(pb::ReEncryptRequest {
                    ciphertext_blob: f.blob.clone(),
                    destination_key_id: k.clone(),
                    grant_tokens: gt.clone(),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKey",
                Call::GenerateDataKey(pb::GenerateDataKeyRequest {
                    key_id: k.clone(),
                    key_spec: aes256,
                    grant_tokens: gt.clone(),
                    ..Default::default()
                }),
            ),
            (
                "GenerateDataKeyWithoutPlaintext",
                Call::GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: k.clone(),
                    key_spec: aes256,
                    grant_tokens: gt.clone(),
                    ..Default::default()
                }),
            ),
        ];
        for (op, call) in calls {
            list.push((format!("{op}: {label}"), call, VALIDATION));
        }
    }
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn pagination_fields() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let mut list = Vec::new();
    for (label, limit, marker, expected) in [
        ("limit 0", Some(0), None, VALIDATION),
        ("limit -1", Some(-1), None, VALIDATION),
        ("limit 1001", Some(1001), None, VALIDATION),
        ("empty marker", None, Some(String::new()), VALIDATION),
        ("1025-char marker", None, Some(s(1025, 'm')), VALIDATION),
        (
            "bogus marker",
            None,
            Some("bogus marker".to_string()),
            MARKER,
        ),
    ] {
        list.push((
            format!("ListKeys: {label}"),
            Call::ListKeys(pb::ListKeysRequest {
                limit,
                marker: marker.clone(),
            }),
            expected,
        ));
        list.push((
            format!("ListAliases: {label}"),
            Call::ListAliases(pb::ListAliasesRequest {
                key_id: None,
                limit,
                marker: marker.clone(),
            }),
            expected,
        ));
        list.push((
            format!("ListResourceTags: {label}"),
            Call::ListResourceTags(pb::ListResourceTagsRequest {
                key_id: k.clone(),
                limit,
                marker: marker.clone(),
            }),
            expected,
        ));
    }
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn create_key_options_and_enums() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();
    let ck = Call::CreateKey;
    let d = pb::CreateKeyRequest::default;
    let mut list: Vec<(String, Call, (Code, &str))> = vec![
        (
            "CreateKey: key_spec 999".into(),
            ck(pb::CreateKeyRequest {
                key_spec: 999,
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: key_usage 999".into(),
            ck(pb::CreateKeyRequest {
                key_usage: 999,
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: origin 999".into(),
            ck(pb::CreateKeyRequest { origin: 999, ..d() }),
            VALIDATION,
        ),
        (
            "CreateKey: customer_master_key_spec 999".into(),
            ck(pb::CreateKeyRequest {
                customer_master_key_spec: 999,
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: key_spec and customer_master_key_spec".into(),
            ck(pb::CreateKeyRequest {
                key_spec: pb::KeySpec::SymmetricDefault as i32,
                customer_master_key_spec: pb::CustomerMasterKeySpec::SymmetricDefault as i32,
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: SIGN_VERIFY on a symmetric key".into(),
            ck(pb::CreateKeyRequest {
                key_usage: pb::KeyUsageType::SignVerify as i32,
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: policy with no statements".into(),
            ck(pb::CreateKeyRequest {
                policy: Some("{\"Version\":\"2012-10-17\",\"Statement\":[]}".into()),
                ..d()
            }),
            MALFORMED_POLICY,
        ),
        (
            "CreateKey: policy that is not JSON".into(),
            ck(pb::CreateKeyRequest {
                policy: Some("not json".into()),
                ..d()
            }),
            MALFORMED_POLICY,
        ),
        // MultiRegion=true is valid since issue 15 (an `mrk-` primary):
        // tests/it/multi_region*.rs.
        // CustomKeyStoreId goes with Origin AWS_CLOUDHSM only (issue 14).
        (
            "CreateKey: custom key store without origin AWS_CLOUDHSM".into(),
            ck(pb::CreateKeyRequest {
                custom_key_store_id: Some("cks-1234567890abcdef0".into()),
                ..d()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: origin AWS_CLOUDHSM, no such custom key store".into(),
            ck(pb::CreateKeyRequest {
                origin: pb::OriginType::AwsCloudhsm as i32,
                custom_key_store_id: Some("cks-1234567890abcdef0".into()),
                ..d()
            }),
            (Code::NotFound, "CustomKeyStoreNotFoundException"),
        ),
        (
            "CreateKey: XKS key id".into(),
            ck(pb::CreateKeyRequest {
                xks_key_id: Some("xks-key".into()),
                ..d()
            }),
            UNSUPPORTED,
        ),
        (
            "CreateKey: customer_master_key_spec SM2".into(),
            ck(pb::CreateKeyRequest {
                customer_master_key_spec: pb::CustomerMasterKeySpec::Sm2 as i32,
                ..d()
            }),
            UNSUPPORTED,
        ),
        (
            "CreateKey: key_spec SM2".into(),
            ck(pb::CreateKeyRequest {
                key_spec: pb::KeySpec::Sm2 as i32,
                key_usage: pb::KeyUsageType::SignVerify as i32,
                ..d()
            }),
            UNSUPPORTED,
        ),
        (
            "ScheduleKeyDeletion: 6 days".into(),
            Call::ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest {
                key_id: k.clone(),
                pending_window_in_days: Some(6),
            }),
            VALIDATION,
        ),
        (
            "ScheduleKeyDeletion: 31 days".into(),
            Call::ScheduleKeyDeletion(pb::ScheduleKeyDeletionRequest {
                key_id: k.clone(),
                pending_window_in_days: Some(31),
            }),
            VALIDATION,
        ),
    ];
    // Specs that cannot encrypt need a KeyUsage (AWS's default,
    // ENCRYPT_DECRYPT, does not apply to them); a usage the spec does not
    // have is refused too.
    for (spec, usage) in [
        (pb::KeySpec::EccNistP256, pb::KeyUsageType::Unspecified),
        (pb::KeySpec::Hmac256, pb::KeyUsageType::Unspecified),
        (pb::KeySpec::MlDsa44, pb::KeyUsageType::Unspecified),
        (pb::KeySpec::MlKem768, pb::KeyUsageType::Unspecified),
        (pb::KeySpec::EccSecgP256k1, pb::KeyUsageType::KeyAgreement),
        (pb::KeySpec::Hmac256, pb::KeyUsageType::SignVerify),
        (pb::KeySpec::SymmetricDefault, pb::KeyUsageType::SignVerify),
    ] {
        list.push((
            format!(
                "CreateKey: key_spec {} usage {}",
                spec.as_str_name(),
                usage.as_str_name()
            ),
            ck(pb::CreateKeyRequest {
                key_spec: spec as i32,
                key_usage: usage as i32,
                ..d()
            }),
            VALIDATION,
        ));
    }
    // EXTERNAL is offered (issue 13), but not for key specs kmsd only
    // generates.
    list.push((
        "CreateKey: origin EXTERNAL, key_spec ECC_NIST_EDWARDS25519".into(),
        ck(pb::CreateKeyRequest {
            origin: pb::OriginType::External as i32,
            key_spec: pb::KeySpec::EccNistEdwards25519 as i32,
            key_usage: pb::KeyUsageType::SignVerify as i32,
            ..d()
        }),
        UNSUPPORTED,
    ));
    list.push((
        "CreateKey: origin EXTERNAL_KEY_STORE".into(),
        ck(pb::CreateKeyRequest {
            origin: pb::OriginType::ExternalKeyStore as i32,
            ..d()
        }),
        UNSUPPORTED,
    ));
    // AWS_CLOUDHSM needs its custom key store (issue 14).
    list.push((
        "CreateKey: origin AWS_CLOUDHSM without a custom key store".into(),
        ck(pb::CreateKeyRequest {
            origin: pb::OriginType::AwsCloudhsm as i32,
            ..d()
        }),
        VALIDATION,
    ));
    check_all(&mut c, cases(list)).await;
}

#[tokio::test]
async fn alias_and_tag_quotas() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let full = create_key(&mut c, "full").await;
    let spare = create_key(&mut c, "spare").await;
    for i in 0..50 {
        c.create_alias(pb::CreateAliasRequest {
            alias_name: format!("alias/full/{i:02}"),
            target_key_id: full.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("alias {i}: {e:?}"));
    }
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/spare".into(),
        target_key_id: spare.clone(),
    })
    .await
    .expect("alias");
    c.tag_resource(pb::TagResourceRequest {
        key_id: full.clone(),
        tags: n_tags(50, "t"),
    })
    .await
    .expect("50 tags are allowed");

    let list: Vec<(String, Call, (Code, &str))> = vec![
        (
            "CreateAlias: 51st alias of a key".into(),
            Call::CreateAlias(pb::CreateAliasRequest {
                alias_name: "alias/full/50".into(),
                target_key_id: full.clone(),
            }),
            LIMIT,
        ),
        (
            "UpdateAlias: moving an alias onto a key with 50".into(),
            Call::UpdateAlias(pb::UpdateAliasRequest {
                alias_name: "alias/spare".into(),
                target_key_id: full.clone(),
            }),
            LIMIT,
        ),
        (
            "TagResource: a 51st tag".into(),
            Call::TagResource(pb::TagResourceRequest {
                key_id: full.clone(),
                tags: tags(&[("one-more", "v")]),
            }),
            LIMIT,
        ),
    ];
    check_all(&mut c, cases(list)).await;

    // At 50, overwriting a tag and repointing one of the key's own aliases
    // at it are still fine.
    c.tag_resource(pb::TagResourceRequest {
        key_id: full.clone(),
        tags: tags(&[("t0", "new")]),
    })
    .await
    .expect("overwrite at the limit");
    c.update_alias(pb::UpdateAliasRequest {
        alias_name: "alias/full/00".into(),
        target_key_id: full.clone(),
    })
    .await
    .expect("repoint to the same key at the limit");
    // Freeing a slot makes room again.
    c.delete_alias(pb::DeleteAliasRequest {
        alias_name: "alias/full/00".into(),
    })
    .await
    .expect("delete alias");
    c.update_alias(pb::UpdateAliasRequest {
        alias_name: "alias/spare".into(),
        target_key_id: full.clone(),
    })
    .await
    .expect("room for one more alias");
}

#[tokio::test]
async fn every_limit_is_inclusive() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let f = fixture(&mut c).await;
    let k = f.key.clone();

    let max_alias = format!("alias/{}", s(250, 'a'));
    assert_eq!(max_alias.len(), 256);
    let key = c
        .create_key(pb::CreateKeyRequest {
            description: s(8192, 'd'),
            tags: tags(&[(&s(128, 'k'), &s(256, 'v')), ("empty-value", "")]),
            ..Default::default()
        })
        .await
        .expect("8192-char description, 128-char tag key, 256-char value")
        .into_inner()
        .key_metadata
        .expect("metadata");
    assert_eq!(key.description.chars().count(), 8192);
    c.create_alias(pb::CreateAliasRequest {
        alias_name: max_alias.clone(),
        target_key_id: key.key_id.clone(),
    })
    .await
    .expect("256-char alias");
    assert_eq!(describe(&mut c, &max_alias).await.key_id, key.key_id);
    c.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/Az09/_-x".into(),
        target_key_id: key.key_id.clone(),
    })
    .await
    .expect("every allowed character");

    let blob = encrypt(&mut c, &k, &[9; 4096], &ctx(&[])).await;
    assert!(blob.len() <= 6144);
    assert_eq!(decrypt(&mut c, &blob, &ctx(&[])).await, vec![9; 4096]);
    encrypt(&mut c, &k, &[1], &ctx(&[])).await;

    // A context just under the encoded limit works.
    let big = ctx(&[("big", &s(8000, 'x'))]);
    let blob = encrypt(&mut c, &k, b"x", &big).await;
    assert_eq!(decrypt(&mut c, &blob, &big).await, b"x");

    for n in [1, 1024] {
        let dk = c
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: k.clone(),
                number_of_bytes: Some(n),
                ..Default::default()
            })
            .await
            .expect("1 and 1024 bytes")
            .into_inner();
        assert_eq!(dk.plaintext.len(), n as usize);
        let r = c
            .generate_random(pb::GenerateRandomRequest {
                number_of_bytes: Some(n),
                custom_key_store_id: None,
            })
            .await
            .expect("random")
            .into_inner();
        assert_eq!(r.plaintext.len(), n as usize);
    }
    // Ten grant tokens, and one of 8192 characters, pass the count and
    // length rules (11 and 8193 are ValidationException, see
    // `crypto_fields`); these made-up ones then fail the authenticity check.
    for tokens in [grant_tokens(10), vec![s(8192, 't')]] {
        let e = c
            .describe_key(pb::DescribeKeyRequest {
                key_id: k.clone(),
                grant_tokens: tokens,
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidGrantTokenException");
    }

    for limit in [1, 1000] {
        c.list_keys(pb::ListKeysRequest {
            limit: Some(limit),
            marker: None,
        })
        .await
        .expect("limit 1 and 1000");
        c.list_aliases(pb::ListAliasesRequest {
            key_id: None,
            limit: Some(limit),
            marker: None,
        })
        .await
        .expect("limit 1 and 1000");
    }
}

// ---------------------------------------------------------------------------
// The same refusals through every door (tests/it/door.rs): the data-plane
// and key-naming rules, in AWS's terms (exception names, AWS enum
// spellings), so a new door is held to them by listing it in `per_door!`.

per_door!(refusals_are_the_same_through_every_door);

/// One door call whose result is dropped (only refusals are checked).
enum DoorCall {
    CreateKey(door::CreateKey),
    DescribeKey(String),
    UpdateKeyDescription(String, String),
    Encrypt(door::Encrypt),
    Decrypt(door::Decrypt),
    GenerateDataKey(door::GenerateDataKey),
}

async fn run_door(d: &mut Door, call: DoorCall) -> DoorResult<()> {
    match call {
        DoorCall::CreateKey(r) => d.create_key(r).await.map(drop),
        DoorCall::DescribeKey(k) => d.describe_key(&k).await.map(drop),
        DoorCall::UpdateKeyDescription(k, text) => d.update_key_description(&k, &text).await,
        DoorCall::Encrypt(r) => d.encrypt(r).await.map(drop),
        DoorCall::Decrypt(r) => d.decrypt(r).await.map(drop),
        DoorCall::GenerateDataKey(r) => d.generate_data_key(r).await.map(drop),
    }
}

async fn refusals_are_the_same_through_every_door(kind: DoorKind) {
    let server = TestServer::start().await;
    let mut d = server.door(kind, ROOT_A).await;
    let k = d.new_key("fixture").await;
    d.create_alias("alias/fixture", &k).await.expect("alias");
    let blob = d
        .encrypt(door::Encrypt {
            key_id: k.clone(),
            plaintext: b"fixture plaintext".to_vec(),
            ..Default::default()
        })
        .await
        .expect("encrypt")
        .ciphertext_blob;
    let mut garbage = vec![0xAB; 100];
    garbage[0] = 1; // a plausible version byte; the rest is still garbage
    let describe = |id: String| DoorCall::DescribeKey(id);
    let enc = |plaintext: Vec<u8>| {
        DoorCall::Encrypt(door::Encrypt {
            key_id: k.clone(),
            plaintext,
            ..Default::default()
        })
    };
    let dec = |ciphertext_blob: Vec<u8>| {
        DoorCall::Decrypt(door::Decrypt {
            ciphertext_blob,
            ..Default::default()
        })
    };
    let gdk = |number_of_bytes: Option<i32>, key_spec: Option<&str>| {
        DoorCall::GenerateDataKey(door::GenerateDataKey {
            key_id: k.clone(),
            number_of_bytes,
            key_spec: key_spec.map(str::to_owned),
            ..Default::default()
        })
    };
    const VALIDATION: &str = "ValidationException";
    const NOT_FOUND: &str = "NotFoundException";
    const CIPHERTEXT: &str = "InvalidCiphertextException";
    let cases: Vec<(&str, DoorCall, &str)> = vec![
        ("DescribeKey: empty", describe(String::new()), VALIDATION),
        (
            "DescribeKey: 2049 chars",
            describe(s(2049, 'k')),
            VALIDATION,
        ),
        (
            "DescribeKey: garbage",
            describe("garbage".into()),
            NOT_FOUND,
        ),
        (
            "DescribeKey: wrong Region ARN",
            describe(format!("arn:aws:kms:eu-west-1:{ACCOUNT_A}:key/{k}")),
            NOT_FOUND,
        ),
        (
            "DescribeKey: unknown alias",
            describe("alias/nope".into()),
            NOT_FOUND,
        ),
        ("Encrypt: empty plaintext", enc(vec![]), VALIDATION),
        ("Encrypt: 4097 bytes", enc(vec![7; 4097]), VALIDATION),
        ("Decrypt: empty blob", dec(vec![]), VALIDATION),
        ("Decrypt: 6145-byte blob", dec(vec![1; 6145]), VALIDATION),
        ("Decrypt: short garbage", dec(b"abc".to_vec()), CIPHERTEXT),
        ("Decrypt: garbage", dec(garbage), CIPHERTEXT),
        ("GenerateDataKey: 0 bytes", gdk(Some(0), None), VALIDATION),
        (
            "GenerateDataKey: 1025 bytes",
            gdk(Some(1025), None),
            VALIDATION,
        ),
        (
            "GenerateDataKey: KeySpec and NumberOfBytes",
            gdk(Some(32), Some("AES_256")),
            VALIDATION,
        ),
        (
            "GenerateDataKey: neither KeySpec nor NumberOfBytes",
            gdk(None, None),
            VALIDATION,
        ),
        (
            "GenerateDataKey: unknown KeySpec",
            gdk(None, Some("AES_512")),
            VALIDATION,
        ),
        (
            "CreateKey: description 8193 chars",
            DoorCall::CreateKey(door::CreateKey {
                description: s(8193, 'd'),
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "CreateKey: unknown KeySpec",
            DoorCall::CreateKey(door::CreateKey {
                key_spec: Some("NOT_A_SPEC".into()),
                ..Default::default()
            }),
            VALIDATION,
        ),
        (
            "UpdateKeyDescription: 8193 chars",
            DoorCall::UpdateKeyDescription(k.clone(), s(8193, 'd')),
            VALIDATION,
        ),
    ];

    let before = (
        d.list_keys().await.expect("list keys"),
        d.describe_key(&k).await.expect("describe"),
        d.list_aliases(None).await.expect("list aliases"),
    );
    for (name, call, exception) in cases {
        let e = match run_door(&mut d, call).await {
            Ok(()) => panic!("{name}: accepted, expected {exception}"),
            Err(e) => e,
        };
        assert_eq!(e.exception, exception, "{name}: {e:?}");
        assert!(
            e.message.len() < 1024 && !e.message.contains('\n'),
            "{name}: message too long or multi-line: {} chars",
            e.message.len()
        );
        // Still answering, and nothing was written.
        let after = (
            d.list_keys().await.expect("list keys"),
            d.describe_key(&k).await.expect("describe"),
            d.list_aliases(None).await.expect("list aliases"),
        );
        assert_eq!(after, before, "{name}: the account changed");
    }
    // The fixture's ciphertext still decrypts.
    let out = d
        .decrypt(door::Decrypt {
            ciphertext_blob: blob,
            ..Default::default()
        })
        .await
        .expect("decrypt");
    assert_eq!(out.plaintext, b"fixture plaintext");
}
