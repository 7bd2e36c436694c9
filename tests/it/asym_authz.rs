//! Authorization of the asymmetric, HMAC, key-agreement and ML-KEM
//! operations: GetPublicKey, Sign, Verify, GenerateDataKeyPair(+Without
//! Plaintext), GenerateMac, VerifyMac, DeriveSharedSecret, Encapsulate and
//! Decapsulate are each denied without a permission and allowed by a key
//! policy, an identity policy or a grant (at once, with its token), and
//! denied by an explicit Deny; a grant allows exactly its operations (a
//! grant for Sign allows neither Verify nor GetPublicKey); and the
//! condition keys kms:SigningAlgorithm, kms:MessageType, kms:MacAlgorithm,
//! kms:DataKeyPairSpec, kms:KeyAgreementAlgorithm, kms:EncryptionAlgorithm
//! (RSA keys), kms:KeySpec and kms:KeyUsage (the new specs) work in
//! conditions, where case twins and near misses of a value do not match.

use kmsd::proto::kms::v1 as pb;
use serde_json::{json, Value};
use tonic::Status;

use crate::harness::*;

use pb::GrantOperation as G;
use pb::SigningAlgorithmSpec as Alg;

const MSG: &[u8] = b"authorized message";

/// The operations of issue 12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NewOp {
    GetPublicKey,
    Sign,
    Verify,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateMac,
    VerifyMac,
    DeriveSharedSecret,
    Encapsulate,
    Decapsulate,
}

const NEW_OPS: [NewOp; 10] = [
    NewOp::GetPublicKey,
    NewOp::Sign,
    NewOp::Verify,
    NewOp::GenerateDataKeyPair,
    NewOp::GenerateDataKeyPairWithoutPlaintext,
    NewOp::GenerateMac,
    NewOp::VerifyMac,
    NewOp::DeriveSharedSecret,
    NewOp::Encapsulate,
    NewOp::Decapsulate,
];

impl NewOp {
    fn action(self) -> &'static str {
        match self {
            NewOp::GetPublicKey => "kms:GetPublicKey",
            NewOp::Sign => "kms:Sign",
            NewOp::Verify => "kms:Verify",
            NewOp::GenerateDataKeyPair => "kms:GenerateDataKeyPair",
            NewOp::GenerateDataKeyPairWithoutPlaintext => "kms:GenerateDataKeyPairWithoutPlaintext",
            NewOp::GenerateMac => "kms:GenerateMac",
            NewOp::VerifyMac => "kms:VerifyMac",
            NewOp::DeriveSharedSecret => "kms:DeriveSharedSecret",
            NewOp::Encapsulate => "kms:Encapsulate",
            NewOp::Decapsulate => "kms:Decapsulate",
        }
    }

    fn grant_operation(self) -> G {
        match self {
            NewOp::GetPublicKey => G::GetPublicKey,
            NewOp::Sign => G::Sign,
            NewOp::Verify => G::Verify,
            NewOp::GenerateDataKeyPair => G::GenerateDataKeyPair,
            NewOp::GenerateDataKeyPairWithoutPlaintext => G::GenerateDataKeyPairWithoutPlaintext,
            NewOp::GenerateMac => G::GenerateMac,
            NewOp::VerifyMac => G::VerifyMac,
            NewOp::DeriveSharedSecret => G::DeriveSharedSecret,
            NewOp::Encapsulate => G::Encapsulate,
            NewOp::Decapsulate => G::Decapsulate,
        }
    }
}

async fn create_key_of(c: &mut Client, spec: pb::KeySpec, usage: pb::KeyUsageType) -> String {
    c.create_key(pb::CreateKeyRequest {
        key_spec: spec as i32,
        key_usage: usage as i32,
        description: format!("{spec:?} {usage:?}"),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create {spec:?} {usage:?} key: {e:?}"))
    .into_inner()
    .key_metadata
    .expect("metadata")
    .key_id
}

fn sign_req(key: &str, alg: Alg, message_type: pb::MessageType, message: &[u8]) -> pb::SignRequest {
    pb::SignRequest {
        key_id: key.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signing_algorithm: alg as i32,
        grant_tokens: vec![],
    }
}

/// The keys every new operation needs, made by the account's root, and
/// valid inputs for the operations that check one.
struct Keys {
    /// ECC_NIST_P256 SIGN_VERIFY: GetPublicKey, Sign, Verify.
    sign: String,
    /// SYMMETRIC_DEFAULT: GenerateDataKeyPair(WithoutPlaintext).
    symmetric: String,
    /// HMAC_256: GenerateMac, VerifyMac.
    hmac: String,
    /// ECC_NIST_P256 KEY_AGREEMENT: DeriveSharedSecret.
    agreement: String,
    /// ML_KEM_512: Encapsulate, Decapsulate.
    kem: String,
    signature: Vec<u8>,
    mac: Vec<u8>,
    peer_public_key: Vec<u8>,
    kem_ciphertext: Vec<u8>,
}

impl Keys {
    async fn new(root: &mut Client) -> Self {
        use pb::KeySpec as S;
        use pb::KeyUsageType as U;
        let sign = create_key_of(root, S::EccNistP256, U::SignVerify).await;
        let symmetric = create_key(root, "wraps data key pairs").await;
        let hmac = create_key_of(root, S::Hmac256, U::GenerateVerifyMac).await;
        let agreement = create_key_of(root, S::EccNistP256, U::KeyAgreement).await;
        let kem = create_key_of(root, S::MlKem512, U::EncapsulateDecapsulate).await;
        let signature = root
            .sign(sign_req(&sign, Alg::EcdsaSha256, pb::MessageType::Raw, MSG))
            .await
            .expect("sign")
            .into_inner()
            .signature;
        let mac = root
            .generate_mac(pb::GenerateMacRequest {
                message: MSG.to_vec(),
                key_id: hmac.clone(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                grant_tokens: vec![],
            })
            .await
            .expect("generate mac")
            .into_inner()
            .mac;
        // Any P-256 public key will do as the peer's.
        let peer_public_key = root
            .get_public_key(pb::GetPublicKeyRequest {
                key_id: sign.clone(),
                grant_tokens: vec![],
            })
            .await
            .expect("public key")
            .into_inner()
            .public_key;
        let kem_ciphertext = root
            .encapsulate(pb::EncapsulateRequest {
                key_id: kem.clone(),
                encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                grant_tokens: vec![],
            })
            .await
            .expect("encapsulate")
            .into_inner()
            .shared_secret_ciphertext_blob;
        Self {
            sign,
            symmetric,
            hmac,
            agreement,
            kem,
            signature,
            mac,
            peer_public_key,
            kem_ciphertext,
        }
    }

    fn key_for(&self, op: NewOp) -> &str {
        match op {
            NewOp::GetPublicKey | NewOp::Sign | NewOp::Verify => &self.sign,
            NewOp::GenerateDataKeyPair | NewOp::GenerateDataKeyPairWithoutPlaintext => {
                &self.symmetric
            }
            NewOp::GenerateMac | NewOp::VerifyMac => &self.hmac,
            NewOp::DeriveSharedSecret => &self.agreement,
            NewOp::Encapsulate | NewOp::Decapsulate => &self.kem,
        }
    }

    fn arn_for(&self, op: NewOp) -> String {
        key_arn_of(ACCOUNT_A, self.key_for(op))
    }

    /// The operations that use the same key as `op`, other than `op`.
    fn siblings(&self, op: NewOp) -> Vec<NewOp> {
        NEW_OPS
            .into_iter()
            .filter(|o| *o != op && self.key_for(*o) == self.key_for(op))
            .collect()
    }

    /// Calls `op` on its key with a valid request.
    async fn call(&self, c: &mut Client, op: NewOp, tokens: &[String]) -> Result<(), Status> {
        let key = self.key_for(op).to_owned();
        let grant_tokens = tokens.to_vec();
        match op {
            NewOp::GetPublicKey => c
                .get_public_key(pb::GetPublicKeyRequest {
                    key_id: key,
                    grant_tokens,
                })
                .await
                .map(drop),
            NewOp::Sign => c
                .sign(pb::SignRequest {
                    grant_tokens,
                    ..sign_req(&key, Alg::EcdsaSha256, pb::MessageType::Raw, MSG)
                })
                .await
                .map(drop),
            NewOp::Verify => c
                .verify(pb::VerifyRequest {
                    key_id: key,
                    message: MSG.to_vec(),
                    message_type: pb::MessageType::Raw as i32,
                    signature: self.signature.clone(),
                    signing_algorithm: Alg::EcdsaSha256 as i32,
                    grant_tokens,
                })
                .await
                .map(|r| assert!(r.into_inner().signature_valid)),
            NewOp::GenerateDataKeyPair => c
                .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                    key_id: key,
                    key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                    grant_tokens,
                    ..Default::default()
                })
                .await
                .map(drop),
            NewOp::GenerateDataKeyPairWithoutPlaintext => c
                .generate_data_key_pair_without_plaintext(
                    pb::GenerateDataKeyPairWithoutPlaintextRequest {
                        key_id: key,
                        key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                        grant_tokens,
                        ..Default::default()
                    },
                )
                .await
                .map(drop),
            NewOp::GenerateMac => c
                .generate_mac(pb::GenerateMacRequest {
                    message: MSG.to_vec(),
                    key_id: key,
                    mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                    grant_tokens,
                })
                .await
                .map(drop),
            NewOp::VerifyMac => c
                .verify_mac(pb::VerifyMacRequest {
                    message: MSG.to_vec(),
                    key_id: key,
                    mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                    mac: self.mac.clone(),
                    grant_tokens,
                })
                .await
                .map(|r| assert!(r.into_inner().mac_valid)),
            NewOp::DeriveSharedSecret => c
                .derive_shared_secret(pb::DeriveSharedSecretRequest {
                    key_id: key,
                    key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
                    public_key: self.peer_public_key.clone(),
                    grant_tokens,
                    recipient_attestation_document: None,
                })
                .await
                .map(drop),
            NewOp::Encapsulate => c
                .encapsulate(pb::EncapsulateRequest {
                    key_id: key,
                    encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                    grant_tokens,
                })
                .await
                .map(drop),
            NewOp::Decapsulate => c
                .decapsulate(pb::DecapsulateRequest {
                    key_id: key,
                    shared_secret_ciphertext_blob: self.kem_ciphertext.clone(),
                    encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                    grant_tokens,
                })
                .await
                .map(drop),
        }
    }

    /// Asserts `op` is denied to `principal` (no token).
    async fn assert_denied(&self, c: &mut Client, principal: &str, op: NewOp) {
        let e = self
            .call(c, op, &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{op:?} was allowed to {principal}"));
        assert_access_denied(&e, principal, op.action(), &self.arn_for(op));
    }
}

/// One key-policy statement for `principal`.
fn statement(effect: &str, principal: &str, actions: &[&str], condition: Option<Value>) -> Value {
    let mut s = json!({
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*",
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

#[tokio::test]
async fn key_policies_allow_and_deny_every_new_operation() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let keys = Keys::new(&mut root).await;
    let mut alice = server.client_as(ALICE_A).await;

    // Nothing without a permission: the default policy only delegates to
    // IAM, and Alice has no identity policy.
    for op in NEW_OPS {
        keys.assert_denied(&mut alice, ALICE_A, op).await;
    }

    for op in NEW_OPS {
        let key = keys.key_for(op);
        // Allowed: exactly this action, and nothing else on the key.
        let policy = key_policy_with(
            ACCOUNT_A,
            &[statement("Allow", ALICE_A, &[op.action()], None)],
        );
        put_key_policy(&mut root, key, &policy).await;
        keys.call(&mut alice, op, &[])
            .await
            .unwrap_or_else(|e| panic!("{op:?} allowed by the key policy: {e:?}"));
        for other in keys.siblings(op) {
            keys.assert_denied(&mut alice, ALICE_A, other).await;
        }
        // An explicit Deny beats an Allow of everything.
        let policy = key_policy_with(
            ACCOUNT_A,
            &[
                statement("Allow", ALICE_A, &["kms:*"], None),
                statement("Deny", ALICE_A, &[op.action()], None),
            ],
        );
        put_key_policy(&mut root, key, &policy).await;
        keys.assert_denied(&mut alice, ALICE_A, op).await;
        for other in keys.siblings(op) {
            keys.call(&mut alice, other, &[])
                .await
                .unwrap_or_else(|e| panic!("{other:?} beside a Deny of {op:?}: {e:?}"));
        }
        // Back to the default for the next operation on this key.
        put_key_policy(&mut root, key, &key_policy_with(ACCOUNT_A, &[])).await;
    }
}

#[tokio::test]
async fn identity_policies_allow_and_deny_every_new_operation() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let keys = Keys::new(&mut root).await;
    let mut alice = server.client_as(ALICE_A).await;

    for op in NEW_OPS {
        let arn = keys.arn_for(op);
        // The default key policy delegates to IAM: an identity policy for
        // this action on this key is enough.
        put_identity_policy(
            &server,
            ALICE_A,
            "one-action",
            &identity_doc("Allow", &[op.action()], &arn),
        )
        .await;
        keys.call(&mut alice, op, &[])
            .await
            .unwrap_or_else(|e| panic!("{op:?} allowed by an identity policy: {e:?}"));
        for other in keys.siblings(op) {
            keys.assert_denied(&mut alice, ALICE_A, other).await;
        }
        // For another key only: denied.
        put_identity_policy(
            &server,
            ALICE_A,
            "one-action",
            &identity_doc(
                "Allow",
                &[op.action()],
                &key_arn_of(ACCOUNT_A, "00000000-0000-0000-0000-000000000000"),
            ),
        )
        .await;
        keys.assert_denied(&mut alice, ALICE_A, op).await;
        delete_identity_policy(&server, ALICE_A, "one-action").await;
    }

    // An identity Deny beats an Allow of everything, in the identity
    // policy and in the key policy alike.
    put_identity_policy(
        &server,
        ALICE_A,
        "all",
        &identity_doc("Allow", &["kms:*"], "*"),
    )
    .await;
    for op in NEW_OPS {
        keys.call(&mut alice, op, &[])
            .await
            .unwrap_or_else(|e| panic!("{op:?} under kms:*: {e:?}"));
    }
    for op in NEW_OPS {
        let key = keys.key_for(op);
        put_key_policy(
            &mut root,
            key,
            &key_policy_with(ACCOUNT_A, &[statement("Allow", ALICE_A, &["kms:*"], None)]),
        )
        .await;
        put_identity_policy(
            &server,
            ALICE_A,
            "deny-one",
            &identity_doc("Deny", &[op.action()], "*"),
        )
        .await;
        keys.assert_denied(&mut alice, ALICE_A, op).await;
        for other in keys.siblings(op) {
            keys.call(&mut alice, other, &[])
                .await
                .unwrap_or_else(|e| panic!("{other:?} beside a Deny of {op:?}: {e:?}"));
        }
        delete_identity_policy(&server, ALICE_A, "deny-one").await;
        put_key_policy(&mut root, key, &key_policy_with(ACCOUNT_A, &[])).await;
    }
}

#[tokio::test]
async fn grants_allow_exactly_their_new_operations_at_once() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let keys = Keys::new(&mut root).await;

    for (i, op) in NEW_OPS.into_iter().enumerate() {
        // A grantee of its own for each operation, so grants do not add up.
        let grantee = format!("arn:aws:iam::{ACCOUNT_A}:user/grantee-{i}");
        let mut g = server.client_as(&grantee).await;
        keys.assert_denied(&mut g, &grantee, op).await;

        let grant = root
            .create_grant(pb::CreateGrantRequest {
                key_id: keys.key_for(op).into(),
                grantee_principal: grantee.clone(),
                operations: vec![op.grant_operation() as i32],
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("grant {op:?}: {e:?}"))
            .into_inner();
        let token = vec![grant.grant_token.clone()];
        // At once, with the token; and without it.
        keys.call(&mut g, op, &token)
            .await
            .unwrap_or_else(|e| panic!("{op:?} with its grant token: {e:?}"));
        keys.call(&mut g, op, &[])
            .await
            .unwrap_or_else(|e| panic!("{op:?} by grant without the token: {e:?}"));

        // Near misses: the other operations of the same key are not
        // granted (Sign is not Verify nor GetPublicKey, GenerateMac is
        // not VerifyMac, Encapsulate is not Decapsulate, ...), token or not.
        for other in keys.siblings(op) {
            let e = keys
                .call(&mut g, other, &token)
                .await
                .err()
                .unwrap_or_else(|| panic!("a grant for {op:?} allowed {other:?}"));
            assert_access_denied(&e, &grantee, other.action(), &keys.arn_for(other));
        }
        // Nor DescribeKey.
        let e = g
            .describe_key(pb::DescribeKeyRequest {
                key_id: keys.key_for(op).into(),
                grant_tokens: token.clone(),
            })
            .await
            .unwrap_err();
        assert_access_denied(&e, &grantee, "kms:DescribeKey", &keys.arn_for(op));

        // Revoked: denied on the next call.
        root.revoke_grant(pb::RevokeGrantRequest {
            key_id: keys.key_for(op).into(),
            grant_id: grant.grant_id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("revoke the {op:?} grant: {e:?}"));
        keys.assert_denied(&mut g, &grantee, op).await;
    }

    // The grant operations of the issue are listed as granted.
    let all = root
        .create_grant(pb::CreateGrantRequest {
            key_id: keys.sign.clone(),
            grantee_principal: ALICE_A.into(),
            operations: vec![G::Sign as i32, G::Verify as i32, G::GetPublicKey as i32],
            ..Default::default()
        })
        .await
        .expect("grant Sign, Verify, GetPublicKey")
        .into_inner();
    let listed = all_grants(&mut root, &keys.sign).await;
    let entry = listed
        .iter()
        .find(|g| g.grant_id == all.grant_id)
        .expect("the grant is listed");
    let mut ops = entry.operations.clone();
    ops.sort_unstable();
    assert_eq!(
        ops,
        vec![G::Sign as i32, G::Verify as i32, G::GetPublicKey as i32]
    );
}

// ---------------------------------------------------------------------------
// Condition keys

/// Puts a key policy on `key` that allows Alice `actions` under
/// `condition` (besides the default statement).
async fn allow_alice_if(root: &mut Client, key: &str, actions: &[&str], condition: Value) {
    let policy = key_policy_with(
        ACCOUNT_A,
        &[statement("Allow", ALICE_A, actions, Some(condition))],
    );
    put_key_policy(root, key, &policy).await;
}

#[tokio::test]
async fn signing_algorithm_and_message_type_conditions() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_key_of(
        &mut root,
        pb::KeySpec::Rsa2048,
        pb::KeyUsageType::SignVerify,
    )
    .await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let raw = pb::MessageType::Raw;
    let sign_as = |c: &mut Client, alg: Alg, message_type: pb::MessageType, msg: Vec<u8>| {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            c.sign(sign_req(&key, alg, message_type, &msg))
                .await
                .map(|r| r.into_inner().signature)
        }
    };
    let verify_as = |c: &mut Client, alg: Alg, sig: Vec<u8>| {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            c.verify(pb::VerifyRequest {
                key_id: key,
                message: MSG.to_vec(),
                message_type: pb::MessageType::Raw as i32,
                signature: sig,
                signing_algorithm: alg as i32,
                grant_tokens: vec![],
            })
            .await
            .map(drop)
        }
    };
    let pkcs1_sig = sign_as(&mut root, Alg::RsassaPkcs1V15Sha256, raw, MSG.to_vec())
        .await
        .expect("root signs PKCS#1");

    // Only RSASSA_PSS_*.
    allow_alice_if(
        &mut root,
        &key,
        &["kms:Sign", "kms:Verify"],
        json!({"StringLike": {"kms:SigningAlgorithm": "RSASSA_PSS_*"}}),
    )
    .await;
    for alg in [
        Alg::RsassaPssSha256,
        Alg::RsassaPssSha384,
        Alg::RsassaPssSha512,
    ] {
        let sig = sign_as(&mut alice, alg, raw, MSG.to_vec())
            .await
            .unwrap_or_else(|e| panic!("Alice signs {alg:?}: {e:?}"));
        verify_as(&mut alice, alg, sig)
            .await
            .unwrap_or_else(|e| panic!("Alice verifies {alg:?}: {e:?}"));
    }
    for alg in [
        Alg::RsassaPkcs1V15Sha256,
        Alg::RsassaPkcs1V15Sha384,
        Alg::RsassaPkcs1V15Sha512,
    ] {
        let e = sign_as(&mut alice, alg, raw, MSG.to_vec())
            .await
            .unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:Sign", &arn);
    }
    let e = verify_as(&mut alice, Alg::RsassaPkcs1V15Sha256, pkcs1_sig.clone())
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Verify", &arn);

    // StringEquals: the exact spelling matches; a case twin and a trailing
    // space do not.
    for (value, allowed) in [
        ("RSASSA_PSS_SHA_256", true),
        ("rsassa_pss_sha_256", false),
        ("RSASSA_PSS_SHA_256 ", false),
        ("RSASSA_PSS_SHA256", false),
    ] {
        allow_alice_if(
            &mut root,
            &key,
            &["kms:Sign"],
            json!({"StringEquals": {"kms:SigningAlgorithm": value}}),
        )
        .await;
        let r = sign_as(&mut alice, Alg::RsassaPssSha256, raw, MSG.to_vec()).await;
        match (allowed, r) {
            (true, r) => {
                r.unwrap_or_else(|e| panic!("{value:?} should match: {e:?}"));
            }
            (false, Ok(_)) => panic!("{value:?} matched RSASSA_PSS_SHA_256"),
            (false, Err(e)) => assert_access_denied(&e, ALICE_A, "kms:Sign", &arn),
        }
    }

    // kms:MessageType: signing digests denied, RAW messages allowed.
    let digest = ring::digest::digest(&ring::digest::SHA256, MSG)
        .as_ref()
        .to_vec();
    let policy = key_policy_with(
        ACCOUNT_A,
        &[
            statement("Allow", ALICE_A, &["kms:Sign"], None),
            statement(
                "Deny",
                ALICE_A,
                &["kms:Sign"],
                Some(json!({"StringEquals": {"kms:MessageType": "DIGEST"}})),
            ),
        ],
    );
    put_key_policy(&mut root, &key, &policy).await;
    sign_as(&mut alice, Alg::RsassaPssSha256, raw, MSG.to_vec())
        .await
        .expect("RAW is not denied");
    let e = sign_as(
        &mut alice,
        Alg::RsassaPssSha256,
        pb::MessageType::Digest,
        digest.clone(),
    )
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Sign", &arn);
    // A Deny of "digest" (a case twin) does not deny DIGEST.
    let policy = key_policy_with(
        ACCOUNT_A,
        &[
            statement("Allow", ALICE_A, &["kms:Sign"], None),
            statement(
                "Deny",
                ALICE_A,
                &["kms:Sign"],
                Some(json!({"StringEquals": {"kms:MessageType": "digest"}})),
            ),
        ],
    );
    put_key_policy(&mut root, &key, &policy).await;
    sign_as(
        &mut alice,
        Alg::RsassaPssSha256,
        pb::MessageType::Digest,
        digest,
    )
    .await
    .expect("a Deny of \"digest\" does not match DIGEST");
}

#[tokio::test]
async fn mac_algorithm_condition() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_key_of(
        &mut root,
        pb::KeySpec::Hmac256,
        pb::KeyUsageType::GenerateVerifyMac,
    )
    .await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let mac = root
        .generate_mac(pb::GenerateMacRequest {
            message: MSG.to_vec(),
            key_id: key.clone(),
            mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
            grant_tokens: vec![],
        })
        .await
        .expect("root's MAC")
        .into_inner()
        .mac;
    for (value, allowed) in [
        ("HMAC_SHA_256", true),
        ("HMAC_SHA_384", false),
        ("hmac_sha_256", false),
        ("HMAC_SHA_256 ", false),
    ] {
        allow_alice_if(
            &mut root,
            &key,
            &["kms:GenerateMac", "kms:VerifyMac"],
            json!({"StringEquals": {"kms:MacAlgorithm": value}}),
        )
        .await;
        let generated = alice
            .generate_mac(pb::GenerateMacRequest {
                message: MSG.to_vec(),
                key_id: key.clone(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                grant_tokens: vec![],
            })
            .await;
        let verified = alice
            .verify_mac(pb::VerifyMacRequest {
                message: MSG.to_vec(),
                key_id: key.clone(),
                mac_algorithm: pb::MacAlgorithmSpec::HmacSha256 as i32,
                mac: mac.clone(),
                grant_tokens: vec![],
            })
            .await;
        if allowed {
            generated.unwrap_or_else(|e| panic!("{value:?}: {e:?}"));
            verified.unwrap_or_else(|e| panic!("{value:?}: {e:?}"));
        } else {
            let e = generated.expect_err("GenerateMac under a non-matching condition");
            assert_access_denied(&e, ALICE_A, "kms:GenerateMac", &arn);
            let e = verified.expect_err("VerifyMac under a non-matching condition");
            assert_access_denied(&e, ALICE_A, "kms:VerifyMac", &arn);
        }
    }
}

#[tokio::test]
async fn data_key_pair_spec_condition() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_key(&mut root, "wraps data key pairs").await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let pair = |c: &mut Client, spec: pb::DataKeyPairSpec, plaintext: bool| {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            if plaintext {
                c.generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                    key_id: key,
                    key_pair_spec: spec as i32,
                    ..Default::default()
                })
                .await
                .map(drop)
            } else {
                c.generate_data_key_pair_without_plaintext(
                    pb::GenerateDataKeyPairWithoutPlaintextRequest {
                        key_id: key,
                        key_pair_spec: spec as i32,
                        ..Default::default()
                    },
                )
                .await
                .map(drop)
            }
        }
    };
    let actions = [
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
    ];
    allow_alice_if(
        &mut root,
        &key,
        &actions,
        json!({"StringEquals": {"kms:DataKeyPairSpec": "ECC_NIST_P256"}}),
    )
    .await;
    for (plaintext, action) in [(true, actions[0]), (false, actions[1])] {
        pair(&mut alice, pb::DataKeyPairSpec::EccNistP256, plaintext)
            .await
            .unwrap_or_else(|e| panic!("{action} ECC_NIST_P256: {e:?}"));
        for spec in [
            pb::DataKeyPairSpec::EccNistP384,
            pb::DataKeyPairSpec::EccSecgP256k1,
            pb::DataKeyPairSpec::Rsa2048,
        ] {
            let e = pair(&mut alice, spec, plaintext).await.unwrap_err();
            assert_access_denied(&e, ALICE_A, action, &arn);
        }
    }
    for value in ["ecc_nist_p256", "ECC_NIST_P256 ", "ECC_NIST_P25"] {
        allow_alice_if(
            &mut root,
            &key,
            &actions,
            json!({"StringEquals": {"kms:DataKeyPairSpec": value}}),
        )
        .await;
        let e = pair(&mut alice, pb::DataKeyPairSpec::EccNistP256, true)
            .await
            .unwrap_err();
        assert_access_denied(&e, ALICE_A, actions[0], &arn);
    }
}

#[tokio::test]
async fn key_agreement_algorithm_condition() {
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_key_of(
        &mut root,
        pb::KeySpec::EccNistP256,
        pb::KeyUsageType::KeyAgreement,
    )
    .await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let peer = root
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: key.clone(),
            grant_tokens: vec![],
        })
        .await
        .expect("public key")
        .into_inner()
        .public_key;
    let derive = |c: &mut Client| {
        let mut c = c.clone();
        let key = key.clone();
        let peer = peer.clone();
        async move {
            c.derive_shared_secret(pb::DeriveSharedSecretRequest {
                key_id: key,
                key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
                public_key: peer,
                grant_tokens: vec![],
                recipient_attestation_document: None,
            })
            .await
            .map(drop)
        }
    };
    for (value, allowed) in [
        ("ECDH", true),
        ("ecdh", false),
        ("ECDH ", false),
        ("ECDHE", false),
    ] {
        allow_alice_if(
            &mut root,
            &key,
            &["kms:DeriveSharedSecret"],
            json!({"StringEquals": {"kms:KeyAgreementAlgorithm": value}}),
        )
        .await;
        match (allowed, derive(&mut alice).await) {
            (true, r) => r.unwrap_or_else(|e| panic!("{value:?}: {e:?}")),
            (false, Ok(())) => panic!("{value:?} matched ECDH"),
            (false, Err(e)) => assert_access_denied(&e, ALICE_A, "kms:DeriveSharedSecret", &arn),
        }
    }
    // A Deny on ECDH beats an Allow of everything.
    let policy = key_policy_with(
        ACCOUNT_A,
        &[
            statement("Allow", ALICE_A, &["kms:*"], None),
            statement(
                "Deny",
                ALICE_A,
                &["kms:DeriveSharedSecret"],
                Some(json!({"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}})),
            ),
        ],
    );
    put_key_policy(&mut root, &key, &policy).await;
    let e = derive(&mut alice).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DeriveSharedSecret", &arn);
}

#[tokio::test]
async fn encryption_algorithm_condition_with_rsa_keys() {
    use pb::EncryptionAlgorithmSpec as E;
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let key = create_key_of(
        &mut root,
        pb::KeySpec::Rsa2048,
        pb::KeyUsageType::EncryptDecrypt,
    )
    .await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let enc = |c: &mut Client, alg: E| {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            c.encrypt(pb::EncryptRequest {
                key_id: key,
                plaintext: MSG.to_vec(),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().ciphertext_blob)
        }
    };
    let dec = |c: &mut Client, alg: E, ct: Vec<u8>| {
        let mut c = c.clone();
        let key = key.clone();
        async move {
            c.decrypt(pb::DecryptRequest {
                ciphertext_blob: ct,
                key_id: Some(key),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().plaintext)
        }
    };
    let sha1_ct = enc(&mut root, E::RsaesOaepSha1)
        .await
        .expect("root encrypts SHA-1");
    let sha256_ct = enc(&mut root, E::RsaesOaepSha256)
        .await
        .expect("root encrypts SHA-256");

    allow_alice_if(
        &mut root,
        &key,
        &["kms:Encrypt", "kms:Decrypt"],
        json!({"StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}),
    )
    .await;
    let ct = enc(&mut alice, E::RsaesOaepSha256)
        .await
        .expect("SHA-256 allowed");
    assert_eq!(
        dec(&mut alice, E::RsaesOaepSha256, ct)
            .await
            .expect("decrypt"),
        MSG
    );
    assert_eq!(
        dec(&mut alice, E::RsaesOaepSha256, sha256_ct.clone())
            .await
            .expect("decrypt root's"),
        MSG
    );
    let e = enc(&mut alice, E::RsaesOaepSha1).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
    let e = dec(&mut alice, E::RsaesOaepSha1, sha1_ct)
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Decrypt", &arn);

    for value in [
        "RSAES_OAEP_SHA_256 ",
        "rsaes_oaep_sha_256",
        "RSAES_OAEP_SHA256",
    ] {
        allow_alice_if(
            &mut root,
            &key,
            &["kms:Encrypt", "kms:Decrypt"],
            json!({"StringEquals": {"kms:EncryptionAlgorithm": value}}),
        )
        .await;
        let e = enc(&mut alice, E::RsaesOaepSha256).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:Encrypt", &arn);
        let e = dec(&mut alice, E::RsaesOaepSha256, sha256_ct.clone())
            .await
            .unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:Decrypt", &arn);
    }
}

#[tokio::test]
async fn key_spec_and_key_usage_conditions_on_the_new_specs() {
    use pb::KeySpec as S;
    use pb::KeyUsageType as U;
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let p256 = create_key_of(&mut root, S::EccNistP256, U::SignVerify).await;
    let p384 = create_key_of(&mut root, S::EccNistP384, U::SignVerify).await;
    let ed = create_key_of(&mut root, S::EccNistEdwards25519, U::SignVerify).await;
    let agreement = create_key_of(&mut root, S::EccNistP256, U::KeyAgreement).await;
    let kem = create_key_of(&mut root, S::MlKem768, U::EncapsulateDecapsulate).await;
    let get_public = |c: &mut Client, key: &str| {
        let mut c = c.clone();
        let key = key.to_owned();
        async move {
            c.get_public_key(pb::GetPublicKeyRequest {
                key_id: key,
                grant_tokens: vec![],
            })
            .await
            .map(drop)
        }
    };

    // kms:KeySpec in an identity policy (the default key policies
    // delegate to IAM).
    let doc = |condition: Value| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["kms:GetPublicKey", "kms:Sign"],
                "Resource": "*",
                "Condition": condition,
            }]
        })
        .to_string()
    };
    put_identity_policy(
        &server,
        ALICE_A,
        "spec",
        &doc(json!({"StringEquals": {"kms:KeySpec": "ECC_NIST_P256"}})),
    )
    .await;
    get_public(&mut alice, &p256).await.expect("a P-256 key");
    get_public(&mut alice, &agreement)
        .await
        .expect("a P-256 agreement key");
    alice
        .sign(sign_req(&p256, Alg::EcdsaSha256, pb::MessageType::Raw, MSG))
        .await
        .expect("sign with the P-256 key");
    for key in [&p384, &ed, &kem] {
        let e = get_public(&mut alice, key).await.unwrap_err();
        assert_access_denied(&e, ALICE_A, "kms:GetPublicKey", &key_arn_of(ACCOUNT_A, key));
    }
    for value in ["ecc_nist_p256", "ECC_NIST_P256 ", "ECC_NIST_P25"] {
        put_identity_policy(
            &server,
            ALICE_A,
            "spec",
            &doc(json!({"StringEquals": {"kms:KeySpec": value}})),
        )
        .await;
        let e = get_public(&mut alice, &p256).await.unwrap_err();
        assert_access_denied(
            &e,
            ALICE_A,
            "kms:GetPublicKey",
            &key_arn_of(ACCOUNT_A, &p256),
        );
    }
    put_identity_policy(
        &server,
        ALICE_A,
        "spec",
        &doc(json!({"StringEquals": {"kms:KeySpec": ["ML_KEM_768", "ECC_NIST_EDWARDS25519"]}})),
    )
    .await;
    get_public(&mut alice, &kem)
        .await
        .expect("the ML_KEM_768 key");
    get_public(&mut alice, &ed).await.expect("the Ed25519 key");
    let e = get_public(&mut alice, &p256).await.unwrap_err();
    assert_access_denied(
        &e,
        ALICE_A,
        "kms:GetPublicKey",
        &key_arn_of(ACCOUNT_A, &p256),
    );

    // kms:KeyUsage: the P-256 agreement key, not the P-256 signing key.
    put_identity_policy(
        &server,
        ALICE_A,
        "spec",
        &doc(json!({"StringEquals": {"kms:KeyUsage": "KEY_AGREEMENT"}})),
    )
    .await;
    get_public(&mut alice, &agreement)
        .await
        .expect("the agreement key");
    let e = get_public(&mut alice, &p256).await.unwrap_err();
    assert_access_denied(
        &e,
        ALICE_A,
        "kms:GetPublicKey",
        &key_arn_of(ACCOUNT_A, &p256),
    );
    for value in ["key_agreement", "KEY_AGREEMENT ", "ENCAPSULATE_DECAPSULATE"] {
        put_identity_policy(
            &server,
            ALICE_A,
            "spec",
            &doc(json!({"StringEquals": {"kms:KeyUsage": value}})),
        )
        .await;
        let e = get_public(&mut alice, &agreement).await.unwrap_err();
        assert_access_denied(
            &e,
            ALICE_A,
            "kms:GetPublicKey",
            &key_arn_of(ACCOUNT_A, &agreement),
        );
    }
    put_identity_policy(
        &server,
        ALICE_A,
        "spec",
        &doc(json!({"StringEquals": {"kms:KeyUsage": "ENCAPSULATE_DECAPSULATE"}})),
    )
    .await;
    get_public(&mut alice, &kem).await.expect("the ML-KEM key");
    delete_identity_policy(&server, ALICE_A, "spec").await;

    // CreateKey under kms:KeySpec and kms:KeyUsage conditions.
    let create_doc = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "kms:CreateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {
                "kms:KeySpec": "ECC_NIST_P256",
                "kms:KeyUsage": "SIGN_VERIFY",
            }},
        }]
    })
    .to_string();
    put_identity_policy(&server, ALICE_A, "create", &create_doc).await;
    create_key_of(&mut alice, S::EccNistP256, U::SignVerify).await;
    for (spec, usage) in [
        (S::EccNistP256, U::KeyAgreement),
        (S::EccNistP384, U::SignVerify),
        (S::Hmac256, U::GenerateVerifyMac),
        (S::MlDsa44, U::SignVerify),
        (S::MlKem512, U::EncapsulateDecapsulate),
    ] {
        let e = alice
            .create_key(pb::CreateKeyRequest {
                key_spec: spec as i32,
                key_usage: usage as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, tonic::Code::PermissionDenied, "AccessDeniedException");
        assert!(
            e.message().contains("kms:CreateKey") && e.message().contains(ALICE_A),
            "{spec:?} {usage:?}: {}",
            e.message()
        );
    }
}
