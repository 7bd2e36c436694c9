//! Authorization of the import operations (issue 13): the three actions in
//! key policies, the condition keys `kms:WrappingAlgorithm`,
//! `kms:WrappingKeySpec`, `kms:ExpirationModel` and `kms:ValidTo`, and
//! near misses (a case twin of a condition value, grants, which cannot
//! carry these operations).

use serde_json::{json, Value};
use tonic::Code;

use kmsd::clock::Clock;
use kmsd::proto::kms::v1 as pb;

use crate::byok::*;
use crate::harness::*;

/// One key-policy statement for `principal`.
fn statement(principal: &str, actions: &[&str], condition: Option<Value>) -> Value {
    let mut s = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*",
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

async fn allow_alice(root: &mut Client, key: &str, statements: &[Value]) {
    put_key_policy(root, key, &key_policy_with(ACCOUNT_A, statements)).await;
}

#[tokio::test]
async fn each_import_operation_needs_its_own_action_in_the_key_policy() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_external_symmetric(&mut root).await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let material = random(32);

    // Nothing for Alice (the default policy delegates to IAM; she has no
    // identity policy).
    let e = try_params(&mut alice, &key, WAlg::RsaesOaepSha256, WSpec::Rsa2048)
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:GetParametersForImport", &arn);
    let p = quick_params(&mut root, &key).await;
    let e = Import::new(
        &key,
        &p,
        wrap(&p.public_key, WAlg::RsaesOaepSha256, &material),
    )
    .send(&mut alice)
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:ImportKeyMaterial", &arn);
    assert_pending_import(&mut root, &key, "denied import").await;

    // GetParametersForImport only.
    allow_alice(
        &mut root,
        &key,
        &[statement(ALICE_A, &["kms:GetParametersForImport"], None)],
    )
    .await;
    let p = quick_params(&mut alice, &key).await;
    let e = Import::new(
        &key,
        &p,
        wrap(&p.public_key, WAlg::RsaesOaepSha256, &material),
    )
    .send(&mut alice)
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:ImportKeyMaterial", &arn);
    assert_pending_import(&mut root, &key, "denied import").await;

    // And ImportKeyMaterial: her own parameters import.
    allow_alice(
        &mut root,
        &key,
        &[statement(
            ALICE_A,
            &["kms:GetParametersForImport", "kms:ImportKeyMaterial"],
            None,
        )],
    )
    .await;
    let p = quick_params(&mut alice, &key).await;
    let id = Import::new(
        &key,
        &p,
        wrap(&p.public_key, WAlg::RsaesOaepSha256, &material),
    )
    .send(&mut alice)
    .await
    .expect("Alice imports")
    .key_material_id;
    let e = delete_material(&mut alice, &key, None).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DeleteImportedKeyMaterial", &arn);
    assert_eq!(state(&mut root, &key).await, pb::KeyState::Enabled);

    // And DeleteImportedKeyMaterial.
    allow_alice(
        &mut root,
        &key,
        &[statement(ALICE_A, &["kms:DeleteImportedKeyMaterial"], None)],
    )
    .await;
    let r = delete_material(&mut alice, &key, None)
        .await
        .expect("Alice deletes");
    assert_eq!(r.key_material_id, id);
    assert_pending_import(&mut root, &key, "deleted by Alice").await;
}

#[tokio::test]
async fn wrapping_algorithm_and_wrapping_key_spec_conditions() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_external_symmetric(&mut root).await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let gpi = "kms:GetParametersForImport";

    allow_alice(
        &mut root,
        &key,
        &[statement(
            ALICE_A,
            &[gpi],
            Some(json!({"StringEquals": {"kms:WrappingAlgorithm": "RSAES_OAEP_SHA_256"}})),
        )],
    )
    .await;
    try_params(&mut alice, &key, WAlg::RsaesOaepSha256, WSpec::Rsa2048)
        .await
        .expect("RSAES_OAEP_SHA_256 is allowed");
    for alg in [
        WAlg::RsaesOaepSha1,
        WAlg::RsaAesKeyWrapSha1,
        WAlg::RsaAesKeyWrapSha256,
    ] {
        let e = try_params(&mut alice, &key, alg, WSpec::Rsa2048)
            .await
            .unwrap_err();
        assert_access_denied(&e, ALICE_A, gpi, &arn);
    }

    // StringEquals compares values exactly: a case twin allows nothing.
    allow_alice(
        &mut root,
        &key,
        &[statement(
            ALICE_A,
            &[gpi],
            Some(json!({"StringEquals": {"kms:WrappingAlgorithm": "rsaes_oaep_sha_256"}})),
        )],
    )
    .await;
    let e = try_params(&mut alice, &key, WAlg::RsaesOaepSha256, WSpec::Rsa2048)
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, gpi, &arn);

    allow_alice(
        &mut root,
        &key,
        &[statement(
            ALICE_A,
            &[gpi],
            Some(json!({"StringEquals": {"kms:WrappingKeySpec": "RSA_3072"}})),
        )],
    )
    .await;
    let p = try_params(&mut alice, &key, WAlg::RsaesOaepSha256, WSpec::Rsa3072)
        .await
        .expect("RSA_3072 is allowed");
    assert_eq!(modulus_bits(&p.public_key), 3072);
    for wspec in [WSpec::Rsa2048, WSpec::Rsa4096] {
        let e = try_params(&mut alice, &key, WAlg::RsaesOaepSha256, wspec)
            .await
            .unwrap_err();
        assert_access_denied(&e, ALICE_A, gpi, &arn);
    }
}

#[tokio::test]
async fn expiration_model_and_valid_to_conditions() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_external_symmetric(&mut root).await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let ikm = "kms:ImportKeyMaterial";
    let material = random(32);
    let now = server.clock.now_ms();

    // Alice's attempt with the given expiry and fresh parameters.
    async fn attempt(
        alice: &mut Client,
        key: &str,
        material: &[u8],
        expiry: Expiry,
    ) -> Result<pb::ImportKeyMaterialResponse, tonic::Status> {
        let p = quick_params(alice, key).await;
        let mut imp = Import::new(
            key,
            &p,
            wrap(&p.public_key, WAlg::RsaesOaepSha256, material),
        );
        imp.expiry = expiry;
        imp.send(alice).await
    }

    let params_stmt = statement(ALICE_A, &["kms:GetParametersForImport"], None);
    allow_alice(
        &mut root,
        &key,
        &[
            params_stmt.clone(),
            statement(
                ALICE_A,
                &[ikm],
                Some(json!({"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})),
            ),
        ],
    )
    .await;
    let e = attempt(&mut alice, &key, &material, Expiry::At(now + 3_600_000))
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, ikm, &arn);
    assert_pending_import(&mut root, &key, "denied expiring import").await;

    // The case twin of the value allows nothing.
    allow_alice(
        &mut root,
        &key,
        &[
            params_stmt.clone(),
            statement(
                ALICE_A,
                &[ikm],
                Some(json!({"StringEquals": {"kms:ExpirationModel": "key_material_does_not_expire"}})),
            ),
        ],
    )
    .await;
    let e = attempt(&mut alice, &key, &material, Expiry::Never)
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, ikm, &arn);
    assert_pending_import(&mut root, &key, "case twin").await;

    // kms:ValidTo is in epoch seconds: at most one day from now.
    let limit_s = (now + DAY_MS) / 1000;
    allow_alice(
        &mut root,
        &key,
        &[
            params_stmt.clone(),
            statement(
                ALICE_A,
                &[ikm],
                Some(json!({"NumericLessThanEquals": {"kms:ValidTo": limit_s.to_string()}})),
            ),
        ],
    )
    .await;
    let e = attempt(
        &mut alice,
        &key,
        &material,
        Expiry::At((limit_s + 3_600) * 1000),
    )
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, ikm, &arn);
    assert_pending_import(&mut root, &key, "ValidTo beyond the condition").await;
    let id = attempt(
        &mut alice,
        &key,
        &material,
        Expiry::At((limit_s - 3_600) * 1000),
    )
    .await
    .expect("a ValidTo within the condition imports")
    .key_material_id;
    assert_eq!(describe(&mut root, &key).await.current_key_material_id, id);

    // The exact value of ExpirationModel allows DOES_NOT_EXPIRE (a
    // re-import of the same material, changing its expiry).
    allow_alice(
        &mut root,
        &key,
        &[
            params_stmt,
            statement(
                ALICE_A,
                &[ikm],
                Some(json!({"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}})),
            ),
        ],
    )
    .await;
    attempt(&mut alice, &key, &material, Expiry::Never)
        .await
        .expect("DOES_NOT_EXPIRE is allowed");
    let md = describe(&mut root, &key).await;
    assert_eq!(
        md.expiration_model,
        pb::ExpirationModelType::KeyMaterialDoesNotExpire as i32
    );
}

#[tokio::test]
async fn grants_cannot_carry_the_import_operations() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_external_symmetric(&mut root).await;
    let arn = key_arn_of(ACCOUNT_A, &key);

    // The wire's GrantOperation has no value for them (AWS's list has
    // none), and a number outside the enum is refused.
    for name in [
        "GRANT_OPERATION_GET_PARAMETERS_FOR_IMPORT",
        "GRANT_OPERATION_IMPORT_KEY_MATERIAL",
        "GRANT_OPERATION_DELETE_IMPORTED_KEY_MATERIAL",
    ] {
        assert!(pb::GrantOperation::from_str_name(name).is_none(), "{name}");
    }
    let before = all_grants(&mut root, &key).await;
    for op in [20, 21, 99, -1] {
        let e = root
            .create_grant(pb::CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: ALICE_A.into(),
                operations: vec![op],
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    assert_eq!(all_grants(&mut root, &key).await, before);

    // A grant of every operation a symmetric key takes (made once the key
    // has material: kmsd refuses CreateGrant on a PendingImport key) still
    // lets Alice do none of the import operations.
    import_material(&mut root, &key, &random(32)).await;
    let token = root
        .create_grant(pb::CreateGrantRequest {
            key_id: key.clone(),
            grantee_principal: ALICE_A.into(),
            operations: [
                pb::GrantOperation::Decrypt,
                pb::GrantOperation::Encrypt,
                pb::GrantOperation::GenerateDataKey,
                pb::GrantOperation::GenerateDataKeyWithoutPlaintext,
                pb::GrantOperation::ReEncryptFrom,
                pb::GrantOperation::ReEncryptTo,
                pb::GrantOperation::CreateGrant,
                pb::GrantOperation::RetireGrant,
                pb::GrantOperation::DescribeKey,
            ]
            .iter()
            .map(|o| *o as i32)
            .collect(),
            ..Default::default()
        })
        .await
        .expect("grant of the symmetric operations")
        .into_inner()
        .grant_token;
    assert!(!token.is_empty());
    // The grant works (DescribeKey) ...
    describe(&mut alice, &key).await;
    // ... and does not reach the import operations.
    let e = try_params(&mut alice, &key, WAlg::RsaesOaepSha256, WSpec::Rsa2048)
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:GetParametersForImport", &arn);
    let p = quick_params(&mut root, &key).await;
    let e = Import::new(
        &key,
        &p,
        wrap(&p.public_key, WAlg::RsaesOaepSha256, &random(32)),
    )
    .send(&mut alice)
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:ImportKeyMaterial", &arn);
    let e = delete_material(&mut alice, &key, None).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DeleteImportedKeyMaterial", &arn);
    assert_eq!(state(&mut root, &key).await, pb::KeyState::Enabled);
}
