//! The authorization choke point, RPC by RPC: a caller with no permission
//! (a user of the key's own account without identity policies, and a user
//! of another account naming the key by ARN) gets AccessDeniedException on
//! every KeyManagementService and IdentityService RPC, naming who, what and
//! which key, and nothing changes. Then the same calls succeed once an
//! identity policy allows exactly that action (so the denial was about
//! permission), and an explicit Deny — in an identity policy or in the key
//! policy — beats any Allow, the root delegation and grants.

use std::collections::{BTreeSet, HashMap};

use kmsd::proto::kms::v1 as pb;
use serde_json::json;
use tonic::{Code, Response, Status};

use crate::harness::*;

const CAROL_A: &str = "arn:aws:iam::111122223333:user/carol";

/// Every KeyManagementService RPC.
const KMS_RPCS: [&str; 32] = [
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "PutKeyPolicy",
    "GetKeyPolicy",
    "ListKeyPolicies",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
];

/// Every IdentityService RPC.
const IDENTITY_RPCS: [&str; 4] = [
    "PutPrincipalPolicy",
    "GetPrincipalPolicy",
    "ListPrincipalPolicies",
    "DeletePrincipalPolicy",
];

/// Account A's keys K and K2 (K with an alias, tags, a grant and a
/// ciphertext), account B's key KB with an alias, and an identity policy on
/// a third user of A.
struct Fixture {
    server: TestServer,
    a: Client,
    b: Client,
    key: String,
    key_arn: String,
    key2: String,
    b_key_arn: String,
    blob: Vec<u8>,
    blob_ctx: HashMap<String, String>,
    grant_id: String,
    grant_token: String,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let mut b = server.client_as(ROOT_B).await;
    let key = a
        .create_key(pb::CreateKeyRequest {
            description: "K".into(),
            tags: tags(&[("env", "prod"), ("owner", "a")]),
            ..Default::default()
        })
        .await
        .expect("create K")
        .into_inner()
        .key_metadata
        .expect("metadata")
        .key_id;
    let key2 = create_key(&mut a, "K2").await;
    a.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/k".into(),
        target_key_id: key.clone(),
    })
    .await
    .expect("alias/k");
    let blob_ctx = ctx(&[("purpose", "fixture")]);
    let blob = encrypt(&mut a, &key, b"account A secret", &blob_ctx).await;
    let g = a
        .create_grant(pb::CreateGrantRequest {
            key_id: key.clone(),
            grantee_principal: "arn:aws:iam::111122223333:role/worker".into(),
            retiring_principal: Some(CAROL_A.into()),
            operations: vec![pb::GrantOperation::Decrypt as i32],
            ..Default::default()
        })
        .await
        .expect("grant")
        .into_inner();
    let b_key = create_key(&mut b, "KB").await;
    b.create_alias(pb::CreateAliasRequest {
        alias_name: "alias/b".into(),
        target_key_id: b_key.clone(),
    })
    .await
    .expect("alias/b");
    put_identity_policy(
        &server,
        CAROL_A,
        "carol-list",
        &identity_doc("Allow", &["kms:ListKeys"], "*"),
    )
    .await;
    Fixture {
        key_arn: key_arn_of(ACCOUNT_A, &key),
        b_key_arn: key_arn_of(ACCOUNT_B, &b_key),
        server,
        a,
        b,
        key,
        key2,
        blob,
        blob_ctx,
        grant_id: g.grant_id,
        grant_token: g.grant_token,
    }
}

/// Everything the denied calls could have changed, as the roots see it.
#[derive(Debug, PartialEq)]
struct World {
    a: AccountSnapshot,
    b: AccountSnapshot,
    key_policies: Vec<String>,
    grants: Vec<Vec<pb::GrantListEntry>>,
    retirable: Vec<pb::GrantListEntry>,
    identity: Vec<Vec<String>>,
    carol_doc: String,
}

async fn world(f: &mut Fixture) -> World {
    let a = account_snapshot(&mut f.a).await;
    let b = account_snapshot(&mut f.b).await;
    let mut key_policies = Vec::new();
    let mut grants = Vec::new();
    for k in &a.keys {
        key_policies.push(get_key_policy(&mut f.a, k).await);
        grants.push(all_grants(&mut f.a, k).await);
    }
    for k in &b.keys {
        key_policies.push(get_key_policy(&mut f.b, k).await);
    }
    let retirable =
        f.a.list_retirable_grants(pb::ListRetirableGrantsRequest {
            retiring_principal: CAROL_A.into(),
            ..Default::default()
        })
        .await
        .expect("list retirable")
        .into_inner()
        .grants;
    let mut identity = Vec::new();
    for p in [ALICE_A, CAROL_A, BOB_B] {
        let mut ic = f.server.identity_client_as(&root_of(p)).await;
        identity.push(
            ic.list_principal_policies(pb::ListPrincipalPoliciesRequest {
                principal_arn: p.into(),
                ..Default::default()
            })
            .await
            .expect("list principal policies")
            .into_inner()
            .policy_names,
        );
    }
    let mut ic = f.server.identity_client_as(ROOT_A).await;
    let carol_doc = ic
        .get_principal_policy(pb::GetPrincipalPolicyRequest {
            principal_arn: CAROL_A.into(),
            policy_name: "carol-list".into(),
        })
        .await
        .expect("carol's policy")
        .into_inner()
        .policy_document;
    World {
        a,
        b,
        key_policies,
        grants,
        retirable,
        identity,
        carol_doc,
    }
}

/// Collects the outcome of each RPC; every one must be an
/// AccessDeniedException naming the principal, the action and the resource.
struct Denials {
    principal: &'static str,
    seen: BTreeSet<&'static str>,
    failures: Vec<String>,
}

impl Denials {
    fn new(principal: &'static str) -> Self {
        Self {
            principal,
            seen: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    fn check<T: std::fmt::Debug>(
        &mut self,
        rpc: &'static str,
        r: Result<Response<T>, Status>,
        action: &str,
        resource: &str,
    ) {
        self.seen.insert(rpc);
        let e = match r {
            Ok(resp) => {
                self.failures
                    .push(format!("{rpc}: succeeded: {:?}", resp.into_inner()));
                return;
            }
            Err(e) => e,
        };
        let m = e.message();
        // An alias may not target another account's key: refused from the
        // ARN alone, before authorization (docs/security.md, item 4).
        let foreign_alias_target = matches!(rpc, "CreateAlias" | "UpdateAlias")
            && e.code() == Code::InvalidArgument
            && m.starts_with(
                "ValidationException: TargetKeyId must identify a KMS key in the same AWS account",
            );
        if foreign_alias_target {
            return;
        }
        if e.code() != Code::PermissionDenied || !denial_names(m, self.principal, action, resource)
        {
            self.failures.push(format!(
                "{rpc}: expected AccessDenied naming {} / {action} / {resource}, got {:?}: {m}",
                self.principal,
                e.code()
            ));
        }
    }
}

/// How a caller names things.
struct Naming {
    principal: &'static str,
    /// K, by id (own account) or ARN (other account).
    key: String,
    /// K2, the same way.
    key2: String,
    /// An alias of the caller's account, and the ARN of the key it points
    /// at (what UpdateAlias/DeleteAlias are authorized against).
    alias: &'static str,
    alias_key_arn: String,
    /// The retiring principal ListRetirableGrants asks about.
    retiring: &'static str,
}

/// Calls every KeyManagementService RPC as `n.principal`.
async fn call_every_kms_rpc(f: &Fixture, n: &Naming) -> Denials {
    let mut c = f.server.client_as(n.principal).await;
    let mut d = Denials::new(n.principal);
    let k = n.key.clone();
    let arn = f.key_arn.as_str();

    let r = c
        .create_key(pb::CreateKeyRequest {
            description: "escalation".into(),
            ..Default::default()
        })
        .await;
    d.check("CreateKey", r, "kms:CreateKey", "*");
    let r = c
        .describe_key(pb::DescribeKeyRequest {
            key_id: k.clone(),
            ..Default::default()
        })
        .await;
    d.check("DescribeKey", r, "kms:DescribeKey", arn);
    let r = c
        .list_keys(pb::ListKeysRequest {
            limit: None,
            marker: None,
        })
        .await;
    d.check("ListKeys", r, "kms:ListKeys", "*");
    let r = c
        .update_key_description(pb::UpdateKeyDescriptionRequest {
            key_id: k.clone(),
            description: "changed".into(),
        })
        .await;
    d.check("UpdateKeyDescription", r, "kms:UpdateKeyDescription", arn);
    let r = c
        .enable_key(pb::EnableKeyRequest { key_id: k.clone() })
        .await;
    d.check("EnableKey", r, "kms:EnableKey", arn);
    let r = c
        .disable_key(pb::DisableKeyRequest { key_id: k.clone() })
        .await;
    d.check("DisableKey", r, "kms:DisableKey", arn);
    let r = c
        .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
            key_id: k.clone(),
            pending_window_in_days: Some(7),
        })
        .await;
    d.check("ScheduleKeyDeletion", r, "kms:ScheduleKeyDeletion", arn);
    let r = c
        .cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: k.clone() })
        .await;
    d.check("CancelKeyDeletion", r, "kms:CancelKeyDeletion", arn);

    let r = c
        .create_alias(pb::CreateAliasRequest {
            alias_name: "alias/escalation".into(),
            target_key_id: k.clone(),
        })
        .await;
    d.check("CreateAlias", r, "kms:CreateAlias", arn);
    let r = c
        .update_alias(pb::UpdateAliasRequest {
            alias_name: n.alias.into(),
            target_key_id: n.key2.clone(),
        })
        .await;
    d.check("UpdateAlias", r, "kms:UpdateAlias", &n.alias_key_arn);
    let r = c
        .delete_alias(pb::DeleteAliasRequest {
            alias_name: n.alias.into(),
        })
        .await;
    d.check("DeleteAlias", r, "kms:DeleteAlias", &n.alias_key_arn);
    let r = c
        .list_aliases(pb::ListAliasesRequest {
            key_id: None,
            limit: None,
            marker: None,
        })
        .await;
    d.check("ListAliases", r, "kms:ListAliases", "*");
    let r = c
        .list_aliases(pb::ListAliasesRequest {
            key_id: Some(k.clone()),
            limit: None,
            marker: None,
        })
        .await;
    d.check("ListAliases", r, "kms:ListAliases", arn);

    let r = c
        .tag_resource(pb::TagResourceRequest {
            key_id: k.clone(),
            tags: tags(&[("owner", "mallory")]),
        })
        .await;
    d.check("TagResource", r, "kms:TagResource", arn);
    let r = c
        .untag_resource(pb::UntagResourceRequest {
            key_id: k.clone(),
            tag_keys: vec!["env".into()],
        })
        .await;
    d.check("UntagResource", r, "kms:UntagResource", arn);
    let r = c
        .list_resource_tags(pb::ListResourceTagsRequest {
            key_id: k.clone(),
            ..Default::default()
        })
        .await;
    d.check("ListResourceTags", r, "kms:ListResourceTags", arn);

    let r = c
        .encrypt(pb::EncryptRequest {
            key_id: k.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await;
    d.check("Encrypt", r, "kms:Encrypt", arn);
    let r = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: f.blob.clone(),
            encryption_context: f.blob_ctx.clone(),
            ..Default::default()
        })
        .await;
    d.check("Decrypt", r, "kms:Decrypt", arn);
    let r = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: f.blob.clone(),
            encryption_context: f.blob_ctx.clone(),
            key_id: Some(k.clone()),
            ..Default::default()
        })
        .await;
    d.check("Decrypt", r, "kms:Decrypt", arn);
    let r = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: f.blob.clone(),
            source_encryption_context: f.blob_ctx.clone(),
            destination_key_id: n.key2.clone(),
            ..Default::default()
        })
        .await;
    d.check("ReEncrypt", r, "kms:ReEncryptFrom", arn);
    let r = c
        .generate_data_key(pb::GenerateDataKeyRequest {
            key_id: k.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await;
    d.check("GenerateDataKey", r, "kms:GenerateDataKey", arn);
    let r = c
        .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
            key_id: k.clone(),
            key_spec: pb::DataKeySpec::Aes256 as i32,
            ..Default::default()
        })
        .await;
    d.check(
        "GenerateDataKeyWithoutPlaintext",
        r,
        "kms:GenerateDataKeyWithoutPlaintext",
        arn,
    );
    let r = c
        .generate_random(pb::GenerateRandomRequest {
            number_of_bytes: Some(32),
            custom_key_store_id: None,
        })
        .await;
    d.check("GenerateRandom", r, "kms:GenerateRandom", "*");

    let takeover = key_policy_with(
        ACCOUNT_A,
        &[json!({
            "Effect": "Allow",
            "Principal": {"AWS": n.principal},
            "Action": "kms:*",
            "Resource": "*",
        })],
    );
    let r = c
        .put_key_policy(pb::PutKeyPolicyRequest {
            key_id: k.clone(),
            policy_name: Some("default".into()),
            policy: takeover.clone(),
            bypass_policy_lockout_safety_check: false,
        })
        .await;
    d.check("PutKeyPolicy", r, "kms:PutKeyPolicy", arn);
    let r = c
        .put_key_policy(pb::PutKeyPolicyRequest {
            key_id: k.clone(),
            policy_name: None,
            policy: takeover,
            bypass_policy_lockout_safety_check: true,
        })
        .await;
    d.check("PutKeyPolicy", r, "kms:PutKeyPolicy", arn);
    let r = c
        .get_key_policy(pb::GetKeyPolicyRequest {
            key_id: k.clone(),
            policy_name: Some("default".into()),
        })
        .await;
    d.check("GetKeyPolicy", r, "kms:GetKeyPolicy", arn);
    let r = c
        .list_key_policies(pb::ListKeyPoliciesRequest {
            key_id: k.clone(),
            ..Default::default()
        })
        .await;
    d.check("ListKeyPolicies", r, "kms:ListKeyPolicies", arn);

    let r = c
        .create_grant(pb::CreateGrantRequest {
            key_id: k.clone(),
            grantee_principal: n.principal.into(),
            operations: vec![
                pb::GrantOperation::Decrypt as i32,
                pb::GrantOperation::Encrypt as i32,
            ],
            ..Default::default()
        })
        .await;
    d.check("CreateGrant", r, "kms:CreateGrant", arn);
    let r = c
        .list_grants(pb::ListGrantsRequest {
            key_id: k.clone(),
            ..Default::default()
        })
        .await;
    d.check("ListGrants", r, "kms:ListGrants", arn);
    let r = c
        .list_retirable_grants(pb::ListRetirableGrantsRequest {
            retiring_principal: n.retiring.into(),
            ..Default::default()
        })
        .await;
    d.check("ListRetirableGrants", r, "kms:ListRetirableGrants", "*");
    let r = c
        .retire_grant(pb::RetireGrantRequest {
            grant_token: Some(f.grant_token.clone()),
            key_id: None,
            grant_id: None,
        })
        .await;
    d.check("RetireGrant", r, "kms:RetireGrant", arn);
    let r = c
        .retire_grant(pb::RetireGrantRequest {
            grant_token: None,
            key_id: Some(k.clone()),
            grant_id: Some(f.grant_id.clone()),
        })
        .await;
    d.check("RetireGrant", r, "kms:RetireGrant", arn);
    let r = c
        .revoke_grant(pb::RevokeGrantRequest {
            key_id: k.clone(),
            grant_id: f.grant_id.clone(),
        })
        .await;
    d.check("RevokeGrant", r, "kms:RevokeGrant", arn);
    // Import (BYOK): authorized before the key's origin is looked at, so a
    // caller without the action learns nothing of it (K is AWS_KMS).
    let r = c
        .get_parameters_for_import(pb::GetParametersForImportRequest {
            key_id: k.clone(),
            wrapping_algorithm: pb::AlgorithmSpec::RsaesOaepSha256 as i32,
            wrapping_key_spec: pb::WrappingKeySpec::Rsa2048 as i32,
        })
        .await;
    d.check(
        "GetParametersForImport",
        r,
        "kms:GetParametersForImport",
        arn,
    );
    let r = c
        .import_key_material(pb::ImportKeyMaterialRequest {
            key_id: k.clone(),
            import_token: vec![1; 64],
            encrypted_key_material: vec![2; 256],
            expiration_model: pb::ExpirationModelType::KeyMaterialDoesNotExpire as i32,
            ..Default::default()
        })
        .await;
    d.check("ImportKeyMaterial", r, "kms:ImportKeyMaterial", arn);
    let r = c
        .delete_imported_key_material(pb::DeleteImportedKeyMaterialRequest {
            key_id: k.clone(),
            key_material_id: None,
        })
        .await;
    d.check(
        "DeleteImportedKeyMaterial",
        r,
        "kms:DeleteImportedKeyMaterial",
        arn,
    );
    d
}

/// Calls every IdentityService RPC as `principal` on `target` (whose
/// policy `carol-list`, if any, is the existing one).
async fn call_every_identity_rpc(f: &Fixture, principal: &'static str, target: &str) -> Denials {
    let mut ic = f.server.identity_client_as(principal).await;
    let mut d = Denials::new(principal);
    let r = ic
        .put_principal_policy(pb::PutPrincipalPolicyRequest {
            principal_arn: target.into(),
            policy_name: "escalation".into(),
            policy_document: identity_doc("Allow", &["kms:*"], "*"),
        })
        .await;
    d.check("PutPrincipalPolicy", r, "iam:PutPrincipalPolicy", target);
    let r = ic
        .get_principal_policy(pb::GetPrincipalPolicyRequest {
            principal_arn: target.into(),
            policy_name: "carol-list".into(),
        })
        .await;
    d.check("GetPrincipalPolicy", r, "iam:GetPrincipalPolicy", target);
    let r = ic
        .list_principal_policies(pb::ListPrincipalPoliciesRequest {
            principal_arn: target.into(),
            ..Default::default()
        })
        .await;
    d.check(
        "ListPrincipalPolicies",
        r,
        "iam:ListPrincipalPolicies",
        target,
    );
    let r = ic
        .delete_principal_policy(pb::DeletePrincipalPolicyRequest {
            principal_arn: target.into(),
            policy_name: "carol-list".into(),
        })
        .await;
    d.check(
        "DeletePrincipalPolicy",
        r,
        "iam:DeletePrincipalPolicy",
        target,
    );
    d
}

#[track_caller]
fn assert_all_denied(d: &Denials, rpcs: &[&str]) {
    assert!(
        d.failures.is_empty(),
        "{} was not denied everywhere:\n{}",
        d.principal,
        d.failures.join("\n")
    );
    let expected: BTreeSet<&str> = rpcs.iter().copied().collect();
    let seen: BTreeSet<&str> = d.seen.iter().copied().collect();
    assert_eq!(seen, expected, "RPCs exercised");
}

#[tokio::test]
async fn a_user_of_the_account_without_identity_policies_is_denied_every_rpc() {
    let mut f = fixture().await;
    let before = world(&mut f).await;
    let naming = Naming {
        principal: ALICE_A,
        key: f.key.clone(),
        key2: f.key2.clone(),
        alias: "alias/k",
        alias_key_arn: f.key_arn.clone(),
        retiring: CAROL_A,
    };
    let d = call_every_kms_rpc(&f, &naming).await;
    assert_all_denied(&d, &KMS_RPCS);
    for target in [ALICE_A, CAROL_A] {
        let d = call_every_identity_rpc(&f, ALICE_A, target).await;
        assert_all_denied(&d, &IDENTITY_RPCS);
    }
    let after = world(&mut f).await;
    assert_eq!(before, after, "a denied call changed something");
    // Sanity: the snapshot sees what the calls would have changed.
    assert_eq!(after.a.keys.len(), 2);
    let k = &after.a.metadata[&f.key];
    assert_eq!(k.key_state, pb::KeyState::Enabled as i32);
    assert_eq!(k.description, "K");
    assert_eq!(after.a.aliases.len(), 1);
    assert_eq!(after.grants.iter().map(Vec::len).sum::<usize>(), 1);
    assert_eq!(
        after.identity,
        vec![vec![], vec!["carol-list".to_string()], vec![]]
    );
}

#[tokio::test]
async fn a_user_of_another_account_naming_the_key_by_arn_is_denied_every_rpc() {
    let mut f = fixture().await;
    let before = world(&mut f).await;
    let naming = Naming {
        principal: BOB_B,
        key: f.key_arn.clone(),
        key2: key_arn_of(ACCOUNT_A, &f.key2),
        // Aliases are per account: Bob can only name B's, which points at
        // B's key (on which he has no permission either).
        alias: "alias/b",
        alias_key_arn: f.b_key_arn.clone(),
        retiring: BOB_B,
    };
    let d = call_every_kms_rpc(&f, &naming).await;
    assert_all_denied(&d, &KMS_RPCS);
    for target in [ALICE_A, CAROL_A, BOB_B] {
        let d = call_every_identity_rpc(&f, BOB_B, target).await;
        assert_all_denied(&d, &IDENTITY_RPCS);
    }
    let after = world(&mut f).await;
    assert_eq!(before, after, "a denied call changed something");
    assert_eq!(after.b.keys.len(), 1, "Bob's CreateKey made no key in B");
}

/// Whether `r` is an AccessDeniedException.
fn is_denied<T>(r: &Result<T, Status>) -> bool {
    matches!(r, Err(e) if e.code() == Code::PermissionDenied
        && e.message().starts_with("AccessDeniedException: "))
}

/// Calls one RPC (by name) as the client `c` on key `k`; Ok if it
/// succeeded.
async fn call(c: &mut Client, rpc: &str, k: &str, blob: &[u8]) -> Result<(), Status> {
    match rpc {
        "DescribeKey" => c
            .describe_key(pb::DescribeKeyRequest {
                key_id: k.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "Encrypt" => c
            .encrypt(pb::EncryptRequest {
                key_id: k.into(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await
            .map(drop),
        "Decrypt" => c
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                ..Default::default()
            })
            .await
            .map(drop),
        "GenerateDataKey" => c
            .generate_data_key(pb::GenerateDataKeyRequest {
                key_id: k.into(),
                number_of_bytes: Some(16),
                ..Default::default()
            })
            .await
            .map(drop),
        "TagResource" => c
            .tag_resource(pb::TagResourceRequest {
                key_id: k.into(),
                tags: tags(&[("by", "alice")]),
            })
            .await
            .map(drop),
        "ListResourceTags" => c
            .list_resource_tags(pb::ListResourceTagsRequest {
                key_id: k.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "GetKeyPolicy" => c
            .get_key_policy(pb::GetKeyPolicyRequest {
                key_id: k.into(),
                policy_name: None,
            })
            .await
            .map(drop),
        "ListGrants" => c
            .list_grants(pb::ListGrantsRequest {
                key_id: k.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        "DisableKey" => c
            .disable_key(pb::DisableKeyRequest { key_id: k.into() })
            .await
            .map(drop),
        "ListKeys" => c
            .list_keys(pb::ListKeysRequest {
                limit: None,
                marker: None,
            })
            .await
            .map(drop),
        "GenerateRandom" => c
            .generate_random(pb::GenerateRandomRequest {
                number_of_bytes: Some(8),
                custom_key_store_id: None,
            })
            .await
            .map(drop),
        "CreateKey" => c
            .create_key(pb::CreateKeyRequest::default())
            .await
            .map(drop),
        "ListAliases" => c
            .list_aliases(pb::ListAliasesRequest::default())
            .await
            .map(drop),
        other => panic!("no call for {other}"),
    }
}

#[tokio::test]
async fn an_identity_policy_allowing_exactly_the_action_turns_the_denial_into_success() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "K").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let blob = encrypt(&mut a, &key, b"secret", &HashMap::new()).await;
    let mut alice = server.client_as(ALICE_A).await;

    // (RPC, the action, the resource the identity policy names, another
    // RPC that stays denied).
    let cases = [
        ("DescribeKey", "kms:DescribeKey", arn.as_str(), "Encrypt"),
        ("Encrypt", "kms:Encrypt", arn.as_str(), "Decrypt"),
        ("Decrypt", "kms:Decrypt", arn.as_str(), "Encrypt"),
        (
            "GenerateDataKey",
            "kms:GenerateDataKey",
            arn.as_str(),
            "Encrypt",
        ),
        (
            "TagResource",
            "kms:TagResource",
            arn.as_str(),
            "ListResourceTags",
        ),
        (
            "ListResourceTags",
            "kms:ListResourceTags",
            arn.as_str(),
            "TagResource",
        ),
        (
            "GetKeyPolicy",
            "kms:GetKeyPolicy",
            arn.as_str(),
            "DescribeKey",
        ),
        ("ListGrants", "kms:ListGrants", arn.as_str(), "DescribeKey"),
        ("ListKeys", "kms:ListKeys", "*", "ListAliases"),
        ("ListAliases", "kms:ListAliases", "*", "ListKeys"),
        ("GenerateRandom", "kms:GenerateRandom", "*", "ListKeys"),
        ("CreateKey", "kms:CreateKey", "*", "GenerateRandom"),
        ("DisableKey", "kms:DisableKey", arn.as_str(), "DescribeKey"),
    ];
    for (rpc, action, resource, other) in cases {
        let r = call(&mut alice, rpc, &key, &blob).await;
        assert!(is_denied(&r), "{rpc} before the policy: {r:?}");
        put_identity_policy(
            &server,
            ALICE_A,
            "exactly",
            &identity_doc("Allow", &[action], resource),
        )
        .await;
        call(&mut alice, rpc, &key, &blob)
            .await
            .unwrap_or_else(|e| panic!("{rpc} allowed by {action}: {e:?}"));
        let r = call(&mut alice, other, &key, &blob).await;
        assert!(is_denied(&r), "{other} with only {action} allowed: {r:?}");
        delete_identity_policy(&server, ALICE_A, "exactly").await;
        let r = call(&mut alice, rpc, &key, &blob).await;
        assert!(is_denied(&r), "{rpc} after the policy is gone: {r:?}");
    }
    // Alice's CreateKey made a key of account A (the default policy).
    let keys = all_key_ids(&mut a).await;
    assert_eq!(keys.len(), 2);
}

#[tokio::test]
async fn an_identity_policy_naming_another_key_does_not_allow() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "K").await;
    let other = create_key(&mut a, "other").await;
    let mut alice = server.client_as(ALICE_A).await;
    put_identity_policy(
        &server,
        ALICE_A,
        "other-only",
        &identity_doc(
            "Allow",
            &["kms:DescribeKey"],
            &key_arn_of(ACCOUNT_A, &other),
        ),
    )
    .await;
    describe(&mut alice, &other).await;
    let e = call(&mut alice, "DescribeKey", &key, b"")
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &key_arn_of(ACCOUNT_A, &key));
}

#[tokio::test]
async fn an_identity_deny_beats_an_identity_allow() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "K").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    put_identity_policy(
        &server,
        ALICE_A,
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    call(&mut alice, "DescribeKey", &key, b"")
        .await
        .expect("allowed");
    call(&mut alice, "Encrypt", &key, b"")
        .await
        .expect("allowed");

    // A Deny in a second policy.
    put_identity_policy(
        &server,
        ALICE_A,
        "no-describe",
        &identity_doc("Deny", &["kms:DescribeKey"], &arn),
    )
    .await;
    let e = call(&mut alice, "DescribeKey", &key, b"")
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &arn);
    call(&mut alice, "Encrypt", &key, b"")
        .await
        .expect("Encrypt still allowed");
    delete_identity_policy(&server, ALICE_A, "no-describe").await;
    call(&mut alice, "DescribeKey", &key, b"")
        .await
        .expect("allowed again");

    // A Deny next to the Allow in the same policy, by wildcard.
    let both = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:Encr*", "Resource": "*"},
        ]
    })
    .to_string();
    put_identity_policy(&server, ALICE_A, "all", &both).await;
    let e = call(&mut alice, "Encrypt", &key, b"").await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    call(&mut alice, "DescribeKey", &key, b"")
        .await
        .expect("DescribeKey allowed");
    // The root has no identity policies: unaffected.
    encrypt(&mut a, &key, b"x", &HashMap::new()).await;
}

#[tokio::test]
async fn a_key_policy_deny_beats_the_root_delegation_and_grants() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let key = create_key(&mut a, "K").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mut alice = server.client_as(ALICE_A).await;
    put_identity_policy(
        &server,
        ALICE_A,
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    call(&mut alice, "Encrypt", &key, b"")
        .await
        .expect("allowed");

    put_key_policy(
        &mut a,
        &key,
        &key_policy_with(
            ACCOUNT_A,
            &[json!({
                "Sid": "NoAliceEncrypt",
                "Effect": "Deny",
                "Principal": {"AWS": ALICE_A},
                "Action": "kms:Encrypt",
                "Resource": "*",
            })],
        ),
    )
    .await;
    let e = call(&mut alice, "Encrypt", &key, b"").await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    call(&mut alice, "DescribeKey", &key, b"")
        .await
        .expect("DescribeKey still allowed");
    encrypt(&mut a, &key, b"root unaffected", &HashMap::new()).await;

    // A grant for Encrypt does not beat the Deny either.
    a.create_grant(pb::CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: ALICE_A.into(),
        operations: vec![pb::GrantOperation::Encrypt as i32],
        ..Default::default()
    })
    .await
    .expect("grant");
    let e = call(&mut alice, "Encrypt", &key, b"").await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);

    // A Deny naming the account applies to every principal of it, root
    // included.
    put_key_policy(
        &mut a,
        &key,
        &key_policy_with(
            ACCOUNT_A,
            &[json!({
                "Effect": "Deny",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_A}:root")},
                "Action": "kms:GenerateDataKey",
                "Resource": "*",
            })],
        ),
    )
    .await;
    for c in [&mut a, &mut alice] {
        let r = call(c, "GenerateDataKey", &key, b"").await;
        assert!(
            is_denied(&r),
            "GenerateDataKey under an account Deny: {r:?}"
        );
    }
    call(&mut alice, "Encrypt", &key, b"")
        .await
        .expect("Encrypt allowed again");
}
