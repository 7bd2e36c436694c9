//! Using asymmetric and HMAC keys wrongly, through the gRPC API, answers
//! exactly AWS's error:
//!
//! - every operation a key's usage does not offer, on keys of every usage
//!   (SIGN_VERIFY RSA and ECC, ENCRYPT_DECRYPT RSA and symmetric,
//!   GENERATE_VERIFY_MAC, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE):
//!   InvalidKeyUsageException (GetPublicKey of a symmetric or HMAC key:
//!   UnsupportedOperationException), while the operations it offers work;
//! - every algorithm that does not belong to the key's spec:
//!   InvalidKeyUsageException;
//! - bad DIGEST lengths, messages over 4096 bytes, RSA plaintexts over the
//!   size/algorithm limit, missing required algorithms and specs:
//!   ValidationException, and nothing changes;
//! - SM2: UnsupportedOperationException; a bad signature:
//!   KMSInvalidSignatureException (never signature_valid = false);
//!   rotation of asymmetric and HMAC keys: UnsupportedOperationException.

use kmsd::proto::kms::v1 as pb;
use tonic::{Code, Status};

use crate::harness::*;

use pb::SigningAlgorithmSpec as Alg;

const MSG: &[u8] = b"the message";

#[track_caller]
fn invalid_key_usage(e: &Status) {
    assert_aws_error(e, Code::InvalidArgument, "InvalidKeyUsageException");
}

#[track_caller]
fn validation(e: &Status) {
    assert_aws_error(e, Code::InvalidArgument, "ValidationException");
}

#[track_caller]
fn unsupported(e: &Status) {
    assert_aws_error(e, Code::Unimplemented, "UnsupportedOperationException");
}

#[track_caller]
fn invalid_signature(e: &Status) {
    assert_aws_error(e, Code::InvalidArgument, "KMSInvalidSignatureException");
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

// ---------------------------------------------------------------------------
// Requests

fn sign_req(key: &str, alg: Alg, message_type: pb::MessageType, message: &[u8]) -> pb::SignRequest {
    pb::SignRequest {
        key_id: key.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signing_algorithm: alg as i32,
        grant_tokens: vec![],
    }
}

fn verify_req(
    key: &str,
    alg: Alg,
    message_type: pb::MessageType,
    message: &[u8],
    signature: &[u8],
) -> pb::VerifyRequest {
    pb::VerifyRequest {
        key_id: key.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signature: signature.to_vec(),
        signing_algorithm: alg as i32,
        grant_tokens: vec![],
    }
}

async fn try_sign(c: &mut Client, req: pb::SignRequest) -> Result<pb::SignResponse, Status> {
    c.sign(req).await.map(tonic::Response::into_inner)
}

async fn try_verify(c: &mut Client, req: pb::VerifyRequest) -> Result<pb::VerifyResponse, Status> {
    c.verify(req).await.map(tonic::Response::into_inner)
}

fn encrypt_req(
    key: &str,
    alg: pb::EncryptionAlgorithmSpec,
    plaintext: &[u8],
) -> pb::EncryptRequest {
    pb::EncryptRequest {
        key_id: key.into(),
        plaintext: plaintext.to_vec(),
        encryption_algorithm: alg as i32,
        ..Default::default()
    }
}

fn mac_req(key: &str, alg: pb::MacAlgorithmSpec, message: &[u8]) -> pb::GenerateMacRequest {
    pb::GenerateMacRequest {
        message: message.to_vec(),
        key_id: key.into(),
        mac_algorithm: alg as i32,
        grant_tokens: vec![],
    }
}

fn verify_mac_req(
    key: &str,
    alg: pb::MacAlgorithmSpec,
    message: &[u8],
    mac: &[u8],
) -> pb::VerifyMacRequest {
    pb::VerifyMacRequest {
        message: message.to_vec(),
        key_id: key.into(),
        mac_algorithm: alg as i32,
        mac: mac.to_vec(),
        grant_tokens: vec![],
    }
}

// ---------------------------------------------------------------------------
// The keys and valid inputs for every operation

/// A key of each usage the table covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    RsaSign,
    EccSign,
    RsaEncrypt,
    Symmetric,
    Hmac,
    Agreement,
    Kem,
}

const KINDS: [Kind; 7] = [
    Kind::RsaSign,
    Kind::EccSign,
    Kind::RsaEncrypt,
    Kind::Symmetric,
    Kind::Hmac,
    Kind::Agreement,
    Kind::Kem,
];

/// Every operation that uses a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    ReEncryptTo,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateMac,
    VerifyMac,
    DeriveSharedSecret,
    Encapsulate,
    Decapsulate,
    GetPublicKey,
}

const OPS: [Op; 15] = [
    Op::Sign,
    Op::Verify,
    Op::Encrypt,
    Op::Decrypt,
    Op::ReEncryptTo,
    Op::GenerateDataKey,
    Op::GenerateDataKeyWithoutPlaintext,
    Op::GenerateDataKeyPair,
    Op::GenerateDataKeyPairWithoutPlaintext,
    Op::GenerateMac,
    Op::VerifyMac,
    Op::DeriveSharedSecret,
    Op::Encapsulate,
    Op::Decapsulate,
    Op::GetPublicKey,
];

/// The operations AWS offers for a key of each kind.
fn offered(kind: Kind) -> &'static [Op] {
    match kind {
        Kind::RsaSign | Kind::EccSign => &[Op::Sign, Op::Verify, Op::GetPublicKey],
        Kind::RsaEncrypt => &[Op::Encrypt, Op::Decrypt, Op::ReEncryptTo, Op::GetPublicKey],
        Kind::Symmetric => &[
            Op::Encrypt,
            Op::Decrypt,
            Op::ReEncryptTo,
            Op::GenerateDataKey,
            Op::GenerateDataKeyWithoutPlaintext,
            Op::GenerateDataKeyPair,
            Op::GenerateDataKeyPairWithoutPlaintext,
        ],
        Kind::Hmac => &[Op::GenerateMac, Op::VerifyMac],
        Kind::Agreement => &[Op::DeriveSharedSecret, Op::GetPublicKey],
        Kind::Kem => &[Op::Encapsulate, Op::Decapsulate, Op::GetPublicKey],
    }
}

/// The keys, and for every operation an input that is valid for the keys
/// that offer it (a real signature, MAC, ciphertext, peer key).
struct Fixture {
    rsa_sign: String,
    ecc_sign: String,
    rsa_encrypt: String,
    symmetric: String,
    hmac: String,
    agreement: String,
    kem: String,
    rsa_signature: Vec<u8>,
    ecc_signature: Vec<u8>,
    rsa_ciphertext: Vec<u8>,
    symmetric_blob: Vec<u8>,
    mac: Vec<u8>,
    p256_public_key: Vec<u8>,
    kem_ciphertext: Vec<u8>,
}

impl Fixture {
    async fn new(c: &mut Client) -> Self {
        use pb::KeySpec as S;
        use pb::KeyUsageType as U;
        let rsa_sign = create_key_of(c, S::Rsa2048, U::SignVerify).await;
        let ecc_sign = create_key_of(c, S::EccNistP256, U::SignVerify).await;
        let rsa_encrypt = create_key_of(c, S::Rsa2048, U::EncryptDecrypt).await;
        let symmetric = create_key(c, "symmetric").await;
        let hmac = create_key_of(c, S::Hmac256, U::GenerateVerifyMac).await;
        let agreement = create_key_of(c, S::EccNistP256, U::KeyAgreement).await;
        let kem = create_key_of(c, S::MlKem768, U::EncapsulateDecapsulate).await;

        let raw = pb::MessageType::Raw;
        let rsa_signature = try_sign(c, sign_req(&rsa_sign, Alg::RsassaPssSha256, raw, MSG))
            .await
            .expect("RSA sign")
            .signature;
        let ecc_signature = try_sign(c, sign_req(&ecc_sign, Alg::EcdsaSha256, raw, MSG))
            .await
            .expect("ECDSA sign")
            .signature;
        let rsa_ciphertext = c
            .encrypt(encrypt_req(
                &rsa_encrypt,
                pb::EncryptionAlgorithmSpec::RsaesOaepSha256,
                MSG,
            ))
            .await
            .expect("RSA encrypt")
            .into_inner()
            .ciphertext_blob;
        let symmetric_blob = encrypt(c, &symmetric, MSG, &ctx(&[])).await;
        let mac = c
            .generate_mac(mac_req(&hmac, pb::MacAlgorithmSpec::HmacSha256, MSG))
            .await
            .expect("generate mac")
            .into_inner()
            .mac;
        let p256_public_key = c
            .get_public_key(pb::GetPublicKeyRequest {
                key_id: agreement.clone(),
                grant_tokens: vec![],
            })
            .await
            .expect("get public key")
            .into_inner()
            .public_key;
        let kem_ciphertext = c
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
            rsa_sign,
            ecc_sign,
            rsa_encrypt,
            symmetric,
            hmac,
            agreement,
            kem,
            rsa_signature,
            ecc_signature,
            rsa_ciphertext,
            symmetric_blob,
            mac,
            p256_public_key,
            kem_ciphertext,
        }
    }

    fn key(&self, kind: Kind) -> &str {
        match kind {
            Kind::RsaSign => &self.rsa_sign,
            Kind::EccSign => &self.ecc_sign,
            Kind::RsaEncrypt => &self.rsa_encrypt,
            Kind::Symmetric => &self.symmetric,
            Kind::Hmac => &self.hmac,
            Kind::Agreement => &self.agreement,
            Kind::Kem => &self.kem,
        }
    }

    /// Calls `op` with the key of `kind`. Every other part of the request
    /// is valid for a key that offers `op`; where a key's spec has an
    /// algorithm of the operation's family (an RSA encryption key and
    /// RSASSA-PSS, a P-256 agreement key and ECDSA_SHA_256), that one is
    /// used, so the usage is the only thing wrong.
    async fn call(&self, c: &mut Client, kind: Kind, op: Op) -> Result<(), Status> {
        let key = self.key(kind).to_owned();
        let rsa = matches!(kind, Kind::RsaSign | Kind::RsaEncrypt);
        let raw = pb::MessageType::Raw;
        let enc_alg = if rsa {
            pb::EncryptionAlgorithmSpec::RsaesOaepSha256
        } else {
            pb::EncryptionAlgorithmSpec::SymmetricDefault
        };
        match op {
            Op::Sign => {
                let alg = if rsa {
                    Alg::RsassaPssSha256
                } else {
                    Alg::EcdsaSha256
                };
                try_sign(c, sign_req(&key, alg, raw, MSG)).await.map(drop)
            }
            Op::Verify => {
                let (alg, sig) = if rsa {
                    (Alg::RsassaPssSha256, &self.rsa_signature)
                } else {
                    (Alg::EcdsaSha256, &self.ecc_signature)
                };
                try_verify(c, verify_req(&key, alg, raw, MSG, sig))
                    .await
                    .map(|r| assert!(r.signature_valid))
            }
            Op::Encrypt => c.encrypt(encrypt_req(&key, enc_alg, MSG)).await.map(drop),
            Op::Decrypt => {
                let (blob, alg) = if kind == Kind::Symmetric {
                    (
                        self.symmetric_blob.clone(),
                        pb::EncryptionAlgorithmSpec::SymmetricDefault,
                    )
                } else {
                    (
                        self.rsa_ciphertext.clone(),
                        pb::EncryptionAlgorithmSpec::RsaesOaepSha256,
                    )
                };
                c.decrypt(pb::DecryptRequest {
                    ciphertext_blob: blob,
                    key_id: Some(key),
                    encryption_algorithm: alg as i32,
                    ..Default::default()
                })
                .await
                .map(|r| assert_eq!(r.into_inner().plaintext, MSG))
            }
            Op::ReEncryptTo => c
                .re_encrypt(pb::ReEncryptRequest {
                    ciphertext_blob: self.symmetric_blob.clone(),
                    destination_key_id: key,
                    destination_encryption_algorithm: enc_alg as i32,
                    ..Default::default()
                })
                .await
                .map(drop),
            Op::GenerateDataKey => c
                .generate_data_key(pb::GenerateDataKeyRequest {
                    key_id: key,
                    key_spec: pb::DataKeySpec::Aes256 as i32,
                    ..Default::default()
                })
                .await
                .map(drop),
            Op::GenerateDataKeyWithoutPlaintext => c
                .generate_data_key_without_plaintext(pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: key,
                    key_spec: pb::DataKeySpec::Aes256 as i32,
                    ..Default::default()
                })
                .await
                .map(drop),
            Op::GenerateDataKeyPair => c
                .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                    key_id: key,
                    key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                    ..Default::default()
                })
                .await
                .map(drop),
            Op::GenerateDataKeyPairWithoutPlaintext => c
                .generate_data_key_pair_without_plaintext(
                    pb::GenerateDataKeyPairWithoutPlaintextRequest {
                        key_id: key,
                        key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
                        ..Default::default()
                    },
                )
                .await
                .map(drop),
            Op::GenerateMac => c
                .generate_mac(mac_req(&key, pb::MacAlgorithmSpec::HmacSha256, MSG))
                .await
                .map(drop),
            Op::VerifyMac => c
                .verify_mac(verify_mac_req(
                    &key,
                    pb::MacAlgorithmSpec::HmacSha256,
                    MSG,
                    &self.mac,
                ))
                .await
                .map(|r| assert!(r.into_inner().mac_valid)),
            Op::DeriveSharedSecret => c
                .derive_shared_secret(pb::DeriveSharedSecretRequest {
                    key_id: key,
                    key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
                    public_key: self.p256_public_key.clone(),
                    grant_tokens: vec![],
                    recipient_attestation_document: None,
                })
                .await
                .map(drop),
            Op::Encapsulate => c
                .encapsulate(pb::EncapsulateRequest {
                    key_id: key,
                    encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                    grant_tokens: vec![],
                })
                .await
                .map(drop),
            Op::Decapsulate => c
                .decapsulate(pb::DecapsulateRequest {
                    key_id: key,
                    shared_secret_ciphertext_blob: self.kem_ciphertext.clone(),
                    encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                    grant_tokens: vec![],
                })
                .await
                .map(drop),
            Op::GetPublicKey => c
                .get_public_key(pb::GetPublicKeyRequest {
                    key_id: key,
                    grant_tokens: vec![],
                })
                .await
                .map(drop),
        }
    }
}

#[tokio::test]
async fn every_operation_a_key_usage_does_not_offer_is_invalid_key_usage() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let fx = Fixture::new(&mut c).await;
    // Every pair is tried; the failures are reported together.
    let mut wrong = Vec::new();
    let mut checked = 0;
    for kind in KINDS {
        for op in OPS {
            let result = fx.call(&mut c, kind, op).await;
            if offered(kind).contains(&op) {
                if let Err(e) = result {
                    wrong.push(format!("{op:?} with a {kind:?} key (offered): {e:?}"));
                }
                continue;
            }
            checked += 1;
            // Symmetric and HMAC keys have no public key.
            let (code, exception) = if op == Op::GetPublicKey {
                (Code::Unimplemented, "UnsupportedOperationException")
            } else {
                (Code::InvalidArgument, "InvalidKeyUsageException")
            };
            match result {
                Ok(()) => wrong.push(format!("{op:?} with a {kind:?} key succeeded")),
                Err(e)
                    if e.code() == code && e.message().starts_with(&format!("{exception}: ")) => {}
                Err(e) => wrong.push(format!(
                    "{op:?} with a {kind:?} key: expected {exception}, got {:?}: {}",
                    e.code(),
                    e.message()
                )),
            }
        }
    }
    // 7 kinds × 15 operations, less the 24 offered.
    assert_eq!(checked, 7 * 15 - 24);
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn every_algorithm_that_does_not_belong_to_the_key_is_invalid_key_usage() {
    use pb::KeySpec as S;
    use pb::KeyUsageType as U;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let raw = pb::MessageType::Raw;

    // Signing keys: (spec, its algorithms, a message and signature to
    // Verify with).
    let all_signing = [
        Alg::RsassaPssSha256,
        Alg::RsassaPssSha384,
        Alg::RsassaPssSha512,
        Alg::RsassaPkcs1V15Sha256,
        Alg::RsassaPkcs1V15Sha384,
        Alg::RsassaPkcs1V15Sha512,
        Alg::EcdsaSha256,
        Alg::EcdsaSha384,
        Alg::EcdsaSha512,
        Alg::Sm2dsa,
        Alg::MlDsaShake256,
        Alg::Ed25519Sha512,
        Alg::Ed25519PhSha512,
    ];
    let signing_keys: [(S, &[Alg]); 7] = [
        (
            S::Rsa2048,
            &[
                Alg::RsassaPssSha256,
                Alg::RsassaPssSha384,
                Alg::RsassaPssSha512,
                Alg::RsassaPkcs1V15Sha256,
                Alg::RsassaPkcs1V15Sha384,
                Alg::RsassaPkcs1V15Sha512,
            ],
        ),
        (S::EccNistP256, &[Alg::EcdsaSha256]),
        (S::EccNistP384, &[Alg::EcdsaSha384]),
        (S::EccNistP521, &[Alg::EcdsaSha512]),
        (S::EccSecgP256k1, &[Alg::EcdsaSha256]),
        (
            S::EccNistEdwards25519,
            &[Alg::Ed25519Sha512, Alg::Ed25519PhSha512],
        ),
        (S::MlDsa44, &[Alg::MlDsaShake256]),
    ];
    for (spec, own) in signing_keys {
        let key = create_key_of(&mut c, spec, U::SignVerify).await;
        let meta = describe(&mut c, &key).await;
        let mut listed = meta.signing_algorithms.clone();
        listed.sort_unstable();
        let mut expected: Vec<i32> = own.iter().map(|a| *a as i32).collect();
        expected.sort_unstable();
        assert_eq!(listed, expected, "DescribeKey of a {spec:?} key");
        // A genuine signature by the key, so Verify fails on the algorithm
        // alone.
        let good = try_sign(&mut c, sign_req(&key, own[0], raw, MSG))
            .await
            .unwrap_or_else(|e| panic!("sign with {spec:?}: {e:?}"))
            .signature;
        for alg in all_signing.iter().filter(|a| !own.contains(a)) {
            // A message of the shape the algorithm takes, so only the key
            // is wrong for it (ED25519_PH_SHA_512 signs a SHA-512 digest).
            let (mt, msg) = if *alg == Alg::Ed25519PhSha512 {
                (pb::MessageType::Digest, vec![0x11; 64])
            } else {
                (raw, MSG.to_vec())
            };
            let e = try_sign(&mut c, sign_req(&key, *alg, mt, &msg))
                .await
                .expect_err("sign with a foreign algorithm");
            assert!(
                e.message().starts_with("InvalidKeyUsageException: "),
                "Sign {alg:?} on {spec:?}: {e:?}"
            );
            invalid_key_usage(&e);
            let e = try_verify(&mut c, verify_req(&key, *alg, mt, &msg, &good))
                .await
                .expect_err("verify with a foreign algorithm");
            assert!(
                e.message().starts_with("InvalidKeyUsageException: "),
                "Verify {alg:?} on {spec:?}: {e:?}"
            );
            invalid_key_usage(&e);
        }
    }

    // Encryption: RSA keys take only RSAES_OAEP_*, symmetric keys only
    // SYMMETRIC_DEFAULT.
    let rsa = create_key_of(&mut c, S::Rsa2048, U::EncryptDecrypt).await;
    let symmetric = create_key(&mut c, "symmetric").await;
    let blob = encrypt(&mut c, &symmetric, MSG, &ctx(&[])).await;
    for alg in [
        pb::EncryptionAlgorithmSpec::SymmetricDefault,
        pb::EncryptionAlgorithmSpec::Sm2pke,
    ] {
        let e = c.encrypt(encrypt_req(&rsa, alg, MSG)).await.unwrap_err();
        invalid_key_usage(&e);
        let e = c
            .re_encrypt(pb::ReEncryptRequest {
                ciphertext_blob: blob.clone(),
                destination_key_id: rsa.clone(),
                destination_encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        invalid_key_usage(&e);
    }
    // AWS's default EncryptionAlgorithm is SYMMETRIC_DEFAULT, which an RSA
    // key does not support.
    let e = c
        .encrypt(encrypt_req(
            &rsa,
            pb::EncryptionAlgorithmSpec::Unspecified,
            MSG,
        ))
        .await
        .unwrap_err();
    invalid_key_usage(&e);
    for alg in [
        pb::EncryptionAlgorithmSpec::RsaesOaepSha1,
        pb::EncryptionAlgorithmSpec::RsaesOaepSha256,
        pb::EncryptionAlgorithmSpec::Sm2pke,
    ] {
        let e = c
            .encrypt(encrypt_req(&symmetric, alg, MSG))
            .await
            .unwrap_err();
        invalid_key_usage(&e);
        if alg != pb::EncryptionAlgorithmSpec::Sm2pke {
            let e = c
                .decrypt(pb::DecryptRequest {
                    ciphertext_blob: blob.clone(),
                    key_id: Some(symmetric.clone()),
                    encryption_algorithm: alg as i32,
                    ..Default::default()
                })
                .await
                .unwrap_err();
            invalid_key_usage(&e);
        }
    }

    // HMAC: only the MAC algorithm of the key's own size.
    let hmac384 = create_key_of(&mut c, S::Hmac384, U::GenerateVerifyMac).await;
    let mac = c
        .generate_mac(mac_req(&hmac384, pb::MacAlgorithmSpec::HmacSha384, MSG))
        .await
        .expect("HMAC_SHA_384")
        .into_inner()
        .mac;
    for alg in [
        pb::MacAlgorithmSpec::HmacSha224,
        pb::MacAlgorithmSpec::HmacSha256,
        pb::MacAlgorithmSpec::HmacSha512,
    ] {
        let e = c
            .generate_mac(mac_req(&hmac384, alg, MSG))
            .await
            .unwrap_err();
        invalid_key_usage(&e);
        let e = c
            .verify_mac(verify_mac_req(&hmac384, alg, MSG, &mac))
            .await
            .unwrap_err();
        invalid_key_usage(&e);
    }
}

#[tokio::test]
async fn bad_lengths_and_missing_algorithms_are_validation_errors_that_change_nothing() {
    use pb::EncryptionAlgorithmSpec as E;
    use pb::KeySpec as S;
    use pb::KeyUsageType as U;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let ecc = create_key_of(&mut c, S::EccNistP256, U::SignVerify).await;
    let rsa_sign = create_key_of(&mut c, S::Rsa2048, U::SignVerify).await;
    let rsa_enc = create_key_of(&mut c, S::Rsa2048, U::EncryptDecrypt).await;
    // One key of each larger RSA size, for their plaintext limits.
    let rsa_3072 = create_key_of(&mut c, S::Rsa3072, U::EncryptDecrypt).await;
    let rsa_4096 = create_key_of(&mut c, S::Rsa4096, U::EncryptDecrypt).await;
    let hmac = create_key_of(&mut c, S::Hmac256, U::GenerateVerifyMac).await;
    let agreement = create_key_of(&mut c, S::EccNistP256, U::KeyAgreement).await;
    let kem = create_key_of(&mut c, S::MlKem768, U::EncapsulateDecapsulate).await;
    let symmetric = create_key(&mut c, "wraps pairs").await;
    let digest = pb::MessageType::Digest;
    let raw = pb::MessageType::Raw;
    let ecc_sig = try_sign(&mut c, sign_req(&ecc, Alg::EcdsaSha256, raw, MSG))
        .await
        .expect("sign")
        .signature;
    let peer = c
        .get_public_key(pb::GetPublicKeyRequest {
            key_id: agreement.clone(),
            grant_tokens: vec![],
        })
        .await
        .expect("public key")
        .into_inner()
        .public_key;
    let before = account_snapshot(&mut c).await;

    // DIGEST must be exactly the digest length of the algorithm.
    let digest_cases: [(&str, Alg, &[usize]); 5] = [
        (&ecc, Alg::EcdsaSha256, &[1, 20, 31, 33, 48, 64]),
        (&rsa_sign, Alg::RsassaPssSha256, &[31, 33, 48]),
        (&rsa_sign, Alg::RsassaPssSha384, &[32, 47, 49, 64]),
        (&rsa_sign, Alg::RsassaPkcs1V15Sha512, &[32, 48, 63, 65]),
        (&rsa_sign, Alg::RsassaPkcs1V15Sha256, &[20, 64]),
    ];
    for (key, alg, lengths) in digest_cases {
        for &len in lengths {
            let d = vec![0x5a; len];
            let e = try_sign(&mut c, sign_req(key, alg, digest, &d))
                .await
                .unwrap_err();
            validation(&e);
            let e = try_verify(&mut c, verify_req(key, alg, digest, &d, &ecc_sig))
                .await
                .unwrap_err();
            validation(&e);
        }
    }

    // RAW messages (and MAC messages) are 1 to 4096 bytes.
    let big = vec![b'm'; 4097];
    for msg in [&big[..], &[][..]] {
        let e = try_sign(&mut c, sign_req(&ecc, Alg::EcdsaSha256, raw, msg))
            .await
            .unwrap_err();
        validation(&e);
        let e = try_verify(
            &mut c,
            verify_req(&ecc, Alg::EcdsaSha256, raw, msg, &ecc_sig),
        )
        .await
        .unwrap_err();
        validation(&e);
        let e = c
            .generate_mac(mac_req(&hmac, pb::MacAlgorithmSpec::HmacSha256, msg))
            .await
            .unwrap_err();
        validation(&e);
        let e = c
            .verify_mac(verify_mac_req(
                &hmac,
                pb::MacAlgorithmSpec::HmacSha256,
                msg,
                &[0; 32],
            ))
            .await
            .unwrap_err();
        validation(&e);
    }
    // ...and the largest one is fine.
    try_sign(&mut c, sign_req(&ecc, Alg::EcdsaSha256, raw, &big[..4096]))
        .await
        .expect("a 4096-byte RAW message");
    // An empty signature is no signature.
    let e = try_verify(&mut c, verify_req(&ecc, Alg::EcdsaSha256, raw, MSG, &[]))
        .await
        .unwrap_err();
    validation(&e);

    // RSA plaintext limits (AWS), per key size and OAEP hash: the largest
    // encrypts, one byte more is refused. One key of each size.
    let limits = [
        (&rsa_enc, E::RsaesOaepSha1, 214),
        (&rsa_enc, E::RsaesOaepSha256, 190),
        (&rsa_3072, E::RsaesOaepSha1, 342),
        (&rsa_3072, E::RsaesOaepSha256, 318),
        (&rsa_4096, E::RsaesOaepSha1, 470),
        (&rsa_4096, E::RsaesOaepSha256, 446),
    ];
    for (key, alg, max) in limits {
        c.encrypt(encrypt_req(key, alg, &vec![1; max]))
            .await
            .unwrap_or_else(|e| panic!("{max} bytes with {alg:?}: {e:?}"));
        let e = c
            .encrypt(encrypt_req(key, alg, &vec![1; max + 1]))
            .await
            .unwrap_err();
        validation(&e);
    }

    // Required algorithms and specs.
    let none = Alg::Unspecified;
    let e = try_sign(&mut c, sign_req(&ecc, none, raw, MSG))
        .await
        .unwrap_err();
    validation(&e);
    let e = try_verify(&mut c, verify_req(&ecc, none, raw, MSG, &ecc_sig))
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .generate_mac(mac_req(&hmac, pb::MacAlgorithmSpec::Unspecified, MSG))
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .verify_mac(verify_mac_req(
            &hmac,
            pb::MacAlgorithmSpec::Unspecified,
            MSG,
            &[0; 32],
        ))
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .derive_shared_secret(pb::DeriveSharedSecretRequest {
            key_id: agreement.clone(),
            key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Unspecified as i32,
            public_key: peer.clone(),
            grant_tokens: vec![],
            recipient_attestation_document: None,
        })
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .encapsulate(pb::EncapsulateRequest {
            key_id: kem.clone(),
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::Unspecified as i32,
            grant_tokens: vec![],
        })
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
            key_id: symmetric.clone(),
            key_pair_spec: pb::DataKeyPairSpec::Unspecified as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    validation(&e);
    let e = c
        .generate_data_key_pair_without_plaintext(pb::GenerateDataKeyPairWithoutPlaintextRequest {
            key_id: symmetric.clone(),
            key_pair_spec: pb::DataKeyPairSpec::Unspecified as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    validation(&e);

    // None of it left a trace.
    assert_eq!(account_snapshot(&mut c).await, before);
}

#[tokio::test]
async fn public_keys_of_symmetric_and_hmac_keys_and_sm2_are_unsupported() {
    use pb::KeySpec as S;
    use pb::KeyUsageType as U;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let symmetric = create_key(&mut c, "symmetric").await;
    for key in [
        symmetric.clone(),
        create_key_of(&mut c, S::Hmac224, U::GenerateVerifyMac).await,
        create_key_of(&mut c, S::Hmac512, U::GenerateVerifyMac).await,
    ] {
        let e = c
            .get_public_key(pb::GetPublicKeyRequest {
                key_id: key,
                grant_tokens: vec![],
            })
            .await
            .unwrap_err();
        unsupported(&e);
    }

    // SM2 is for AWS's China Regions only.
    let before = account_snapshot(&mut c).await;
    for usage in [U::SignVerify, U::EncryptDecrypt, U::KeyAgreement] {
        let e = c
            .create_key(pb::CreateKeyRequest {
                key_spec: S::Sm2 as i32,
                key_usage: usage as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        unsupported(&e);
    }
    for pair in [true, false] {
        let e = if pair {
            c.generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                key_id: symmetric.clone(),
                key_pair_spec: pb::DataKeyPairSpec::Sm2 as i32,
                ..Default::default()
            })
            .await
            .map(drop)
        } else {
            c.generate_data_key_pair_without_plaintext(
                pb::GenerateDataKeyPairWithoutPlaintextRequest {
                    key_id: symmetric.clone(),
                    key_pair_spec: pb::DataKeyPairSpec::Sm2 as i32,
                    ..Default::default()
                },
            )
            .await
            .map(drop)
        }
        .unwrap_err();
        unsupported(&e);
    }
    assert_eq!(account_snapshot(&mut c).await, before);
}

#[tokio::test]
async fn a_signature_that_does_not_verify_is_kms_invalid_signature() {
    use pb::KeySpec as S;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let raw = pb::MessageType::Raw;
    let cases = [
        (
            S::Rsa2048,
            Alg::RsassaPssSha256,
            Some(Alg::RsassaPkcs1V15Sha256),
        ),
        (S::EccNistP256, Alg::EcdsaSha256, None),
        (S::EccSecgP256k1, Alg::EcdsaSha256, None),
        (S::EccNistEdwards25519, Alg::Ed25519Sha512, None),
        (S::MlDsa44, Alg::MlDsaShake256, None),
    ];
    for (spec, alg, sibling) in cases {
        let key = create_key_of(&mut c, spec, pb::KeyUsageType::SignVerify).await;
        let sig = try_sign(&mut c, sign_req(&key, alg, raw, MSG))
            .await
            .unwrap_or_else(|e| panic!("sign {spec:?}: {e:?}"))
            .signature;
        let ok = try_verify(&mut c, verify_req(&key, alg, raw, MSG, &sig))
            .await
            .unwrap_or_else(|e| panic!("verify {spec:?}: {e:?}"));
        assert!(ok.signature_valid);
        assert_eq!(ok.key_id, key_arn_of(ACCOUNT_A, &key));
        assert_eq!(ok.signing_algorithm, alg as i32);

        let mut wrong: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        for byte in [0, sig.len() / 2, sig.len() - 1] {
            let mut s = sig.clone();
            s[byte] ^= 0x01;
            wrong.push((format!("bit flip in byte {byte}"), MSG.to_vec(), s));
        }
        wrong.push((
            "truncated".into(),
            MSG.to_vec(),
            sig[..sig.len() - 1].to_vec(),
        ));
        wrong.push(("garbage".into(), MSG.to_vec(), vec![0x42; 16]));
        wrong.push((
            "another message".into(),
            b"the massage".to_vec(),
            sig.clone(),
        ));
        for (what, msg, s) in wrong {
            let e = try_verify(&mut c, verify_req(&key, alg, raw, &msg, &s))
                .await
                .err()
                .unwrap_or_else(|| panic!("{spec:?} {what}: Verify answered without an error"));
            assert!(
                e.message().starts_with("KMSInvalidSignatureException: "),
                "{spec:?} {what}: {e:?}"
            );
            invalid_signature(&e);
        }
        // A signature made with one algorithm does not verify under a
        // sibling algorithm of the same key.
        if let Some(other) = sibling {
            let e = try_verify(&mut c, verify_req(&key, other, raw, MSG, &sig))
                .await
                .unwrap_err();
            invalid_signature(&e);
        }
        // Signing the digest and verifying the message it is the digest
        // of with RAW hashes twice: no match.
        if alg == Alg::EcdsaSha256 {
            let d = ring::digest::digest(&ring::digest::SHA256, MSG);
            let e = try_verify(&mut c, verify_req(&key, alg, raw, d.as_ref(), &sig))
                .await
                .unwrap_err();
            invalid_signature(&e);
            let ok = try_verify(
                &mut c,
                verify_req(&key, alg, pb::MessageType::Digest, d.as_ref(), &sig),
            )
            .await
            .expect("the DIGEST of the message verifies the RAW signature");
            assert!(ok.signature_valid);
        }
    }
}

#[tokio::test]
async fn ml_kem_decapsulation_checks_the_ciphertext_length_and_rejects_implicitly() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // (spec, ciphertext length in FIPS 203)
    let cases = [
        (pb::KeySpec::MlKem512, 768),
        (pb::KeySpec::MlKem768, 1088),
        (pb::KeySpec::MlKem1024, 1568),
    ];
    let alg = pb::EncapsulationAlgorithmSpec::MlKem as i32;
    for (spec, len) in cases {
        let key = create_key_of(&mut c, spec, pb::KeyUsageType::EncapsulateDecapsulate).await;
        let meta = describe(&mut c, &key).await;
        assert_eq!(meta.key_encapsulation_algorithms, vec![alg]);
        let out = c
            .encapsulate(pb::EncapsulateRequest {
                key_id: key.clone(),
                encapsulation_algorithm: alg,
                grant_tokens: vec![],
            })
            .await
            .unwrap_or_else(|e| panic!("encapsulate {spec:?}: {e:?}"))
            .into_inner();
        assert_eq!(out.shared_secret.len(), 32);
        assert_eq!(out.shared_secret_ciphertext_blob.len(), len, "{spec:?}");
        let decapsulate = |c: &mut Client, ct: Vec<u8>| {
            let mut c = c.clone();
            let key = key.clone();
            async move {
                c.decapsulate(pb::DecapsulateRequest {
                    key_id: key,
                    shared_secret_ciphertext_blob: ct,
                    encapsulation_algorithm: alg,
                    grant_tokens: vec![],
                })
                .await
                .map(tonic::Response::into_inner)
            }
        };
        let back = decapsulate(&mut c, out.shared_secret_ciphertext_blob.clone())
            .await
            .unwrap_or_else(|e| panic!("decapsulate {spec:?}: {e:?}"));
        assert_eq!(back.shared_secret, out.shared_secret);
        // A changed ciphertext of the right length gives another 32-byte
        // value (implicit rejection), not an error.
        let mut changed = out.shared_secret_ciphertext_blob.clone();
        changed[len / 2] ^= 0x01;
        let other = decapsulate(&mut c, changed)
            .await
            .unwrap_or_else(|e| panic!("decapsulate a changed {spec:?} ciphertext: {e:?}"));
        assert_eq!(other.shared_secret.len(), 32);
        assert_ne!(other.shared_secret, out.shared_secret);
        // A length that is not the spec's: InvalidCiphertextException.
        for bad in [len - 1, len + 1] {
            let mut ct = out.shared_secret_ciphertext_blob.clone();
            ct.resize(bad, 0);
            let e = decapsulate(&mut c, ct).await.unwrap_err();
            assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
        }
    }
}

#[tokio::test]
async fn rotation_of_asymmetric_and_hmac_keys_is_unsupported() {
    use pb::KeySpec as S;
    use pb::KeyUsageType as U;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let keys = [
        create_key_of(&mut c, S::EccNistP256, U::SignVerify).await,
        create_key_of(&mut c, S::EccNistP384, U::KeyAgreement).await,
        create_key_of(&mut c, S::Hmac256, U::GenerateVerifyMac).await,
        create_key_of(&mut c, S::MlKem512, U::EncapsulateDecapsulate).await,
        create_key_of(&mut c, S::MlDsa44, U::SignVerify).await,
        create_key_of(&mut c, S::EccNistEdwards25519, U::SignVerify).await,
    ];
    let before = account_snapshot(&mut c).await;
    for key in &keys {
        let e = c
            .enable_key_rotation(pb::EnableKeyRotationRequest {
                key_id: key.clone(),
                rotation_period_in_days: None,
            })
            .await
            .unwrap_err();
        unsupported(&e);
        let e = c
            .enable_key_rotation(pb::EnableKeyRotationRequest {
                key_id: key.clone(),
                rotation_period_in_days: Some(90),
            })
            .await
            .unwrap_err();
        unsupported(&e);
        let e = c
            .rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
                key_id: key.clone(),
            })
            .await
            .unwrap_err();
        unsupported(&e);
    }
    assert_eq!(account_snapshot(&mut c).await, before);
}
