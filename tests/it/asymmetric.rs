//! Asymmetric and HMAC keys end to end through gRPC (issue 12), smoke
//! tests of the core's path: every offered key spec is created and
//! described with its algorithm lists, publishes its public key, and
//! performs its operations; wrong usages and algorithms are refused with
//! AWS's exceptions; data key pairs decrypt to their private keys; and the
//! keys keep working after a restart (material sealed on disk, reloaded).
//!
//! Where a result can be checked without kmsd's own word for it, it is:
//! ECDH against the peer's side computed here with the `p256` crate, a
//! data key pair's public key against the one derived here from its
//! private key. Interoperability with openssl and the Wycheproof vectors
//! live in their own tests.

use std::collections::HashMap;

use kmsd::proto::kms::v1 as pb;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::Digest;
use tonic::Code;

use crate::harness::*;

type Usage = pb::KeyUsageType;
type Spec = pb::KeySpec;
type Sig = pb::SigningAlgorithmSpec;

/// Creates a key of `spec` and `usage`; returns its metadata.
async fn create(c: &mut Client, spec: Spec, usage: Usage) -> pb::KeyMetadata {
    c.create_key(pb::CreateKeyRequest {
        key_spec: spec as i32,
        key_usage: usage as i32,
        description: format!("{} {}", spec.as_str_name(), usage.as_str_name()),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create {spec:?} {usage:?}: {e:?}"))
    .into_inner()
    .key_metadata
    .expect("metadata")
}

async fn public_key(
    c: &mut Client,
    key_id: &str,
) -> Result<pb::GetPublicKeyResponse, tonic::Status> {
    c.get_public_key(pb::GetPublicKeyRequest {
        key_id: key_id.into(),
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

async fn sign(
    c: &mut Client,
    key_id: &str,
    alg: Sig,
    message_type: pb::MessageType,
    message: &[u8],
) -> Result<Vec<u8>, tonic::Status> {
    c.sign(pb::SignRequest {
        key_id: key_id.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signing_algorithm: alg as i32,
        ..Default::default()
    })
    .await
    .map(|r| r.into_inner().signature)
}

async fn verify(
    c: &mut Client,
    key_id: &str,
    alg: Sig,
    message_type: pb::MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<pb::VerifyResponse, tonic::Status> {
    c.verify(pb::VerifyRequest {
        key_id: key_id.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signature: signature.to_vec(),
        signing_algorithm: alg as i32,
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

/// What DescribeKey (and GetPublicKey) must list for a key.
struct Expected {
    spec: Spec,
    usage: Usage,
    encryption: Vec<pb::EncryptionAlgorithmSpec>,
    signing: Vec<Sig>,
    mac: Vec<pb::MacAlgorithmSpec>,
    agreement: Vec<pb::KeyAgreementAlgorithmSpec>,
    encapsulation: Vec<pb::EncapsulationAlgorithmSpec>,
}

impl Expected {
    fn new(spec: Spec, usage: Usage) -> Self {
        Self {
            spec,
            usage,
            encryption: vec![],
            signing: vec![],
            mac: vec![],
            agreement: vec![],
            encapsulation: vec![],
        }
    }
}

/// Every offered key spec with each of its usages, and the algorithms AWS
/// lists for it (RSA_3072/4096 are left out: their generation is slow in
/// debug builds and their lists are RSA_2048's).
fn every_spec() -> Vec<Expected> {
    use pb::EncryptionAlgorithmSpec as E;
    let rsa_sign = vec![
        Sig::RsassaPssSha256,
        Sig::RsassaPssSha384,
        Sig::RsassaPssSha512,
        Sig::RsassaPkcs1V15Sha256,
        Sig::RsassaPkcs1V15Sha384,
        Sig::RsassaPkcs1V15Sha512,
    ];
    let mut v = vec![
        Expected {
            encryption: vec![E::SymmetricDefault],
            ..Expected::new(Spec::SymmetricDefault, Usage::EncryptDecrypt)
        },
        Expected {
            encryption: vec![E::RsaesOaepSha1, E::RsaesOaepSha256],
            ..Expected::new(Spec::Rsa2048, Usage::EncryptDecrypt)
        },
        Expected {
            signing: rsa_sign,
            ..Expected::new(Spec::Rsa2048, Usage::SignVerify)
        },
    ];
    for (spec, alg) in [
        (Spec::EccNistP256, Sig::EcdsaSha256),
        (Spec::EccNistP384, Sig::EcdsaSha384),
        (Spec::EccNistP521, Sig::EcdsaSha512),
        (Spec::EccSecgP256k1, Sig::EcdsaSha256),
    ] {
        v.push(Expected {
            signing: vec![alg],
            ..Expected::new(spec, Usage::SignVerify)
        });
    }
    for spec in [Spec::EccNistP256, Spec::EccNistP384, Spec::EccNistP521] {
        v.push(Expected {
            agreement: vec![pb::KeyAgreementAlgorithmSpec::Ecdh],
            ..Expected::new(spec, Usage::KeyAgreement)
        });
    }
    v.push(Expected {
        signing: vec![Sig::Ed25519Sha512, Sig::Ed25519PhSha512],
        ..Expected::new(Spec::EccNistEdwards25519, Usage::SignVerify)
    });
    for spec in [Spec::MlDsa44, Spec::MlDsa65, Spec::MlDsa87] {
        v.push(Expected {
            signing: vec![Sig::MlDsaShake256],
            ..Expected::new(spec, Usage::SignVerify)
        });
    }
    for spec in [Spec::MlKem512, Spec::MlKem768, Spec::MlKem1024] {
        v.push(Expected {
            encapsulation: vec![pb::EncapsulationAlgorithmSpec::MlKem],
            ..Expected::new(spec, Usage::EncapsulateDecapsulate)
        });
    }
    for (spec, mac) in [
        (Spec::Hmac224, pb::MacAlgorithmSpec::HmacSha224),
        (Spec::Hmac256, pb::MacAlgorithmSpec::HmacSha256),
        (Spec::Hmac384, pb::MacAlgorithmSpec::HmacSha384),
        (Spec::Hmac512, pb::MacAlgorithmSpec::HmacSha512),
    ] {
        v.push(Expected {
            mac: vec![mac],
            ..Expected::new(spec, Usage::GenerateVerifyMac)
        });
    }
    v
}

fn ints<T: Copy + Into<i32>>(v: &[T]) -> Vec<i32> {
    v.iter().map(|x| (*x).into()).collect()
}

#[tokio::test]
async fn every_spec_is_created_described_and_publishes_its_public_key() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for e in every_spec() {
        let name = format!("{:?} {:?}", e.spec, e.usage);
        let m = create(&mut c, e.spec, e.usage).await;
        let d = describe(&mut c, &m.key_id).await;
        assert_eq!(d.key_spec, e.spec as i32, "{name}");
        assert_eq!(d.key_usage, e.usage as i32, "{name}");
        assert_eq!(d.encryption_algorithms, ints(&e.encryption), "{name}");
        assert_eq!(d.signing_algorithms, ints(&e.signing), "{name}");
        assert_eq!(d.mac_algorithms, ints(&e.mac), "{name}");
        assert_eq!(d.key_agreement_algorithms, ints(&e.agreement), "{name}");
        assert_eq!(
            d.key_encapsulation_algorithms,
            ints(&e.encapsulation),
            "{name}"
        );
        let asymmetric = !matches!(
            e.spec,
            Spec::SymmetricDefault | Spec::Hmac224 | Spec::Hmac256 | Spec::Hmac384 | Spec::Hmac512
        );
        match public_key(&mut c, &m.key_id).await {
            Ok(p) => {
                assert!(asymmetric, "{name}: a public key for a secret-only key");
                assert_eq!(p.key_id, key_arn_of(ACCOUNT_A, &m.key_id), "{name}");
                assert_eq!(p.key_spec, e.spec as i32, "{name}");
                assert_eq!(p.key_usage, e.usage as i32, "{name}");
                assert_eq!(p.encryption_algorithms, ints(&e.encryption), "{name}");
                assert_eq!(p.signing_algorithms, ints(&e.signing), "{name}");
                assert_eq!(p.key_agreement_algorithms, ints(&e.agreement), "{name}");
                assert_eq!(
                    p.key_encapsulation_algorithms,
                    ints(&e.encapsulation),
                    "{name}"
                );
                // DER: a SEQUENCE, and the same key each time.
                assert_eq!(p.public_key.first(), Some(&0x30), "{name}");
                let again = public_key(&mut c, &m.key_id).await.expect("again");
                assert_eq!(again.public_key, p.public_key, "{name}");
            }
            Err(s) => {
                assert!(!asymmetric, "{name}: {s:?}");
                assert_aws_error(&s, Code::Unimplemented, "UnsupportedOperationException");
            }
        }
    }
    // SM2 is China Regions only.
    let e = c
        .create_key(pb::CreateKeyRequest {
            key_spec: Spec::Sm2 as i32,
            key_usage: Usage::SignVerify as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
}

/// The digest of `m` a DIGEST message of `alg` must be.
fn digest_for(alg: Sig, m: &[u8]) -> Vec<u8> {
    match alg {
        Sig::RsassaPssSha384 | Sig::RsassaPkcs1V15Sha384 | Sig::EcdsaSha384 => {
            sha2::Sha384::digest(m).to_vec()
        }
        Sig::RsassaPssSha512
        | Sig::RsassaPkcs1V15Sha512
        | Sig::EcdsaSha512
        | Sig::Ed25519PhSha512 => sha2::Sha512::digest(m).to_vec(),
        _ => sha2::Sha256::digest(m).to_vec(),
    }
}

#[tokio::test]
async fn every_signing_algorithm_signs_and_verifies() {
    use pb::MessageType as T;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let message = b"the message kmsd signs".to_vec();
    for e in every_spec()
        .into_iter()
        .filter(|e| e.usage == Usage::SignVerify)
    {
        let key = create(&mut c, e.spec, e.usage).await.key_id;
        for alg in &e.signing {
            let alg = *alg;
            let (ty, m) = match alg {
                Sig::Ed25519PhSha512 => (T::Digest, digest_for(alg, &message)),
                _ => (T::Raw, message.clone()),
            };
            let name = format!("{:?} {alg:?} {ty:?}", e.spec);
            let sig = sign(&mut c, &key, alg, ty, &m)
                .await
                .unwrap_or_else(|s| panic!("{name}: {s:?}"));
            let ok = verify(&mut c, &key, alg, ty, &m, &sig)
                .await
                .unwrap_or_else(|s| panic!("{name}: {s:?}"));
            assert!(ok.signature_valid, "{name}");
            assert_eq!(ok.signing_algorithm, alg as i32, "{name}");
            assert_eq!(ok.key_id, key_arn_of(ACCOUNT_A, &key), "{name}");
            // Another message, or a flipped signature bit: invalid, as an
            // error and never as `signature_valid: false`.
            let mut other = m.clone();
            other[0] ^= 1;
            let bad = verify(&mut c, &key, alg, ty, &other, &sig)
                .await
                .unwrap_err();
            assert_aws_error(&bad, Code::InvalidArgument, "KMSInvalidSignatureException");
            let mut flipped = sig.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            let bad = verify(&mut c, &key, alg, ty, &m, &flipped)
                .await
                .unwrap_err();
            assert_aws_error(&bad, Code::InvalidArgument, "KMSInvalidSignatureException");
            // A signature over the message's digest (DIGEST) verifies as
            // one over the message (RAW), where the algorithm takes both.
            if matches!(ty, T::Raw) && !matches!(alg, Sig::Ed25519Sha512 | Sig::MlDsaShake256) {
                let d = digest_for(alg, &message);
                verify(&mut c, &key, alg, T::Digest, &d, &sig)
                    .await
                    .unwrap_or_else(|s| panic!("{name} as DIGEST: {s:?}"));
                let short = &d[..d.len() - 1];
                let v = sign(&mut c, &key, alg, T::Digest, short).await.unwrap_err();
                assert_aws_error(&v, Code::InvalidArgument, "ValidationException");
            }
        }
        // An algorithm the key does not have.
        let foreign = if e.signing.contains(&Sig::EcdsaSha384) {
            Sig::EcdsaSha256
        } else {
            Sig::EcdsaSha384
        };
        let s = sign(&mut c, &key, foreign, T::Raw, &message)
            .await
            .unwrap_err();
        assert_aws_error(&s, Code::InvalidArgument, "InvalidKeyUsageException");
        // No algorithm at all.
        let s = sign(&mut c, &key, Sig::Unspecified, T::Raw, &message)
            .await
            .unwrap_err();
        assert_aws_error(&s, Code::InvalidArgument, "ValidationException");
        // Too long a RAW message.
        let s = sign(&mut c, &key, e.signing[0], T::Raw, &[7u8; 4097])
            .await
            .unwrap_err();
        assert_aws_error(&s, Code::InvalidArgument, "ValidationException");
    }
}

#[tokio::test]
async fn ml_dsa_signs_its_external_mu() {
    use pb::MessageType as T;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create(&mut c, Spec::MlDsa44, Usage::SignVerify)
        .await
        .key_id;
    let mu = [9u8; 64];
    let sig = sign(&mut c, &key, Sig::MlDsaShake256, T::ExternalMu, &mu)
        .await
        .expect("sign mu");
    verify(&mut c, &key, Sig::MlDsaShake256, T::ExternalMu, &mu, &sig)
        .await
        .expect("verify mu");
    let e = sign(&mut c, &key, Sig::MlDsaShake256, T::ExternalMu, &mu[..63])
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let e = sign(&mut c, &key, Sig::MlDsaShake256, T::Digest, &[1u8; 32])
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
}

#[tokio::test]
async fn rsa_keys_encrypt_decrypt_and_re_encrypt_both_ways() {
    use pb::EncryptionAlgorithmSpec as E;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let rsa = create(&mut c, Spec::Rsa2048, Usage::EncryptDecrypt)
        .await
        .key_id;
    let sym = create_key(&mut c, "symmetric").await;
    for (alg, max) in [(E::RsaesOaepSha1, 214), (E::RsaesOaepSha256, 190)] {
        let plaintext = vec![0x5a; max];
        let out = c
            .encrypt(pb::EncryptRequest {
                key_id: rsa.clone(),
                plaintext: plaintext.clone(),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .expect("encrypt")
            .into_inner();
        assert_eq!(out.encryption_algorithm, alg as i32);
        // The raw RSA-OAEP output: exactly the modulus long, no header.
        assert_eq!(out.ciphertext_blob.len(), 256);
        let back = c
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: out.ciphertext_blob.clone(),
                key_id: Some(rsa.clone()),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .expect("decrypt")
            .into_inner();
        assert_eq!(back.plaintext, plaintext);
        assert_eq!(back.key_id, key_arn_of(ACCOUNT_A, &rsa));
        // Decrypt without KeyId cannot know the key.
        let e = c
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: out.ciphertext_blob.clone(),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
        // A tampered ciphertext: one opaque error.
        let mut bad = out.ciphertext_blob.clone();
        bad[10] ^= 1;
        let e = c
            .decrypt(pb::DecryptRequest {
                ciphertext_blob: bad,
                key_id: Some(rsa.clone()),
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
        // One byte over the limit.
        let e = c
            .encrypt(pb::EncryptRequest {
                key_id: rsa.clone(),
                plaintext: vec![1; max + 1],
                encryption_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    // No algorithm (SYMMETRIC_DEFAULT applies) is not one of an RSA key's.
    let e = c
        .encrypt(pb::EncryptRequest {
            key_id: rsa.clone(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");

    // ReEncrypt: symmetric -> RSA -> symmetric.
    let ec = ctx(&[("k", "v")]);
    let blob = encrypt(&mut c, &sym, b"travels", &ec).await;
    let to_rsa = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: blob,
            source_encryption_context: ec.clone(),
            destination_key_id: rsa.clone(),
            destination_encryption_algorithm: E::RsaesOaepSha256 as i32,
            ..Default::default()
        })
        .await
        .expect("re-encrypt to RSA")
        .into_inner();
    assert_eq!(
        to_rsa.destination_encryption_algorithm,
        E::RsaesOaepSha256 as i32
    );
    let back = c
        .re_encrypt(pb::ReEncryptRequest {
            ciphertext_blob: to_rsa.ciphertext_blob,
            source_key_id: Some(rsa.clone()),
            source_encryption_algorithm: E::RsaesOaepSha256 as i32,
            destination_key_id: sym.clone(),
            destination_encryption_context: ec.clone(),
            ..Default::default()
        })
        .await
        .expect("re-encrypt from RSA")
        .into_inner();
    assert_eq!(
        decrypt(&mut c, &back.ciphertext_blob, &ec).await,
        b"travels"
    );
    assert_eq!(back.source_key_id, key_arn_of(ACCOUNT_A, &rsa));

    // A SIGN_VERIFY RSA key does not encrypt.
    let signer = create(&mut c, Spec::Rsa2048, Usage::SignVerify)
        .await
        .key_id;
    let e = c
        .encrypt(pb::EncryptRequest {
            key_id: signer,
            plaintext: b"x".to_vec(),
            encryption_algorithm: E::RsaesOaepSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
}

#[tokio::test]
async fn hmac_keys_generate_and_verify_macs() {
    use pb::MacAlgorithmSpec as M;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for (spec, alg, len) in [
        (Spec::Hmac224, M::HmacSha224, 28),
        (Spec::Hmac256, M::HmacSha256, 32),
        (Spec::Hmac384, M::HmacSha384, 48),
        (Spec::Hmac512, M::HmacSha512, 64),
    ] {
        let key = create(&mut c, spec, Usage::GenerateVerifyMac).await.key_id;
        let mac = c
            .generate_mac(pb::GenerateMacRequest {
                message: b"authenticate me".to_vec(),
                key_id: key.clone(),
                mac_algorithm: alg as i32,
                ..Default::default()
            })
            .await
            .expect("generate mac")
            .into_inner();
        assert_eq!(mac.mac.len(), len);
        assert_eq!(mac.mac_algorithm, alg as i32);
        let verify_mac = |message: &[u8], tag: &[u8], alg: M| pb::VerifyMacRequest {
            message: message.to_vec(),
            key_id: key.clone(),
            mac_algorithm: alg as i32,
            mac: tag.to_vec(),
            ..Default::default()
        };
        let ok = c
            .verify_mac(verify_mac(b"authenticate me", &mac.mac, alg))
            .await
            .expect("verify mac")
            .into_inner();
        assert!(ok.mac_valid);
        let e = c
            .verify_mac(verify_mac(b"authenticate mE", &mac.mac, alg))
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
        let e = c
            .verify_mac(verify_mac(b"authenticate me", &mac.mac[1..], alg))
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
        // Another MAC algorithm than the key's.
        let other = if alg == M::HmacSha256 {
            M::HmacSha512
        } else {
            M::HmacSha256
        };
        let e = c
            .generate_mac(pb::GenerateMacRequest {
                message: b"m".to_vec(),
                key_id: key.clone(),
                mac_algorithm: other as i32,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
        // Empty message; missing algorithm.
        for req in [
            pb::GenerateMacRequest {
                key_id: key.clone(),
                mac_algorithm: alg as i32,
                ..Default::default()
            },
            pb::GenerateMacRequest {
                key_id: key.clone(),
                message: b"m".to_vec(),
                ..Default::default()
            },
        ] {
            let e = c.generate_mac(req).await.unwrap_err();
            assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
        }
        // An HMAC key neither encrypts nor signs.
        let e = c
            .encrypt(pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"x".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
    }
    // A symmetric encryption key does not MAC.
    let sym = create_key(&mut c, "no macs").await;
    let e = c
        .generate_mac(pb::GenerateMacRequest {
            message: b"m".to_vec(),
            key_id: sym,
            mac_algorithm: M::HmacSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
}

async fn data_key_pair(
    c: &mut Client,
    key_id: &str,
    spec: pb::DataKeyPairSpec,
    context: &HashMap<String, String>,
) -> Result<pb::GenerateDataKeyPairResponse, tonic::Status> {
    c.generate_data_key_pair(pb::GenerateDataKeyPairRequest {
        encryption_context: context.clone(),
        key_id: key_id.into(),
        key_pair_spec: spec as i32,
        ..Default::default()
    })
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn derive_shared_secret_agrees_with_the_peer() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let key = create(&mut c, Spec::EccNistP256, Usage::KeyAgreement)
        .await
        .key_id;
    let sym = create_key(&mut c, "wraps the peer").await;
    // The peer: a P-256 pair whose private key the test holds.
    let peer = data_key_pair(
        &mut c,
        &sym,
        pb::DataKeyPairSpec::EccNistP256,
        &HashMap::new(),
    )
    .await
    .expect("peer pair");
    let derive =
        |public_key: Vec<u8>, alg: pb::KeyAgreementAlgorithmSpec| pb::DeriveSharedSecretRequest {
            key_id: key.clone(),
            key_agreement_algorithm: alg as i32,
            public_key,
            ..Default::default()
        };
    let out = c
        .derive_shared_secret(derive(
            peer.public_key.clone(),
            pb::KeyAgreementAlgorithmSpec::Ecdh,
        ))
        .await
        .expect("derive")
        .into_inner();
    assert_eq!(out.key_origin, pb::OriginType::AwsKms as i32);
    // The peer's side, computed here from kmsd's public key.
    let kmsd_public = public_key(&mut c, &key)
        .await
        .expect("public key")
        .public_key;
    let kmsd_public = p256::PublicKey::from_public_key_der(&kmsd_public).expect("P-256 SPKI");
    let peer_secret =
        p256::SecretKey::from_pkcs8_der(&peer.private_key_plaintext).expect("peer PKCS#8");
    let expected =
        p256::ecdh::diffie_hellman(peer_secret.to_nonzero_scalar(), kmsd_public.as_affine());
    assert_eq!(out.shared_secret, expected.raw_secret_bytes().as_slice());

    // A peer key of another curve, garbage, or no algorithm: refused.
    let p384 = data_key_pair(
        &mut c,
        &sym,
        pb::DataKeyPairSpec::EccNistP384,
        &HashMap::new(),
    )
    .await
    .expect("P-384 pair");
    for req in [
        derive(p384.public_key, pb::KeyAgreementAlgorithmSpec::Ecdh),
        derive(b"not a key".to_vec(), pb::KeyAgreementAlgorithmSpec::Ecdh),
        derive(
            peer.public_key.clone(),
            pb::KeyAgreementAlgorithmSpec::Unspecified,
        ),
    ] {
        let e = c.derive_shared_secret(req).await.unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    // Nitro attestation: not in kmsd.
    let mut with_recipient = derive(peer.public_key.clone(), pb::KeyAgreementAlgorithmSpec::Ecdh);
    with_recipient.recipient_attestation_document = Some(vec![1, 2, 3]);
    let e = c.derive_shared_secret(with_recipient).await.unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    // A KEY_AGREEMENT key does not sign, and a signing key agrees nothing.
    let e = sign(&mut c, &key, Sig::EcdsaSha256, pb::MessageType::Raw, b"m")
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
    let signer = create(&mut c, Spec::EccNistP256, Usage::SignVerify)
        .await
        .key_id;
    let mut req = derive(peer.public_key, pb::KeyAgreementAlgorithmSpec::Ecdh);
    req.key_id = signer;
    let e = c.derive_shared_secret(req).await.unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
}

#[tokio::test]
async fn ml_kem_keys_encapsulate_and_decapsulate() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for (spec, ct_len) in [
        (Spec::MlKem512, 768),
        (Spec::MlKem768, 1088),
        (Spec::MlKem1024, 1568),
    ] {
        let key = create(&mut c, spec, Usage::EncapsulateDecapsulate)
            .await
            .key_id;
        let enc = c
            .encapsulate(pb::EncapsulateRequest {
                key_id: key.clone(),
                encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
                ..Default::default()
            })
            .await
            .expect("encapsulate")
            .into_inner();
        assert_eq!(enc.shared_secret.len(), 32);
        assert_eq!(enc.shared_secret_ciphertext_blob.len(), ct_len);
        let dec = |ct: Vec<u8>| pb::DecapsulateRequest {
            key_id: key.clone(),
            shared_secret_ciphertext_blob: ct,
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
            ..Default::default()
        };
        let out = c
            .decapsulate(dec(enc.shared_secret_ciphertext_blob.clone()))
            .await
            .expect("decapsulate")
            .into_inner();
        assert_eq!(out.shared_secret, enc.shared_secret);
        // Wrong length: InvalidCiphertextException.
        let e = c
            .decapsulate(dec(enc.shared_secret_ciphertext_blob[1..].to_vec()))
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
        // Missing algorithm.
        let e = c
            .encapsulate(pb::EncapsulateRequest {
                key_id: key.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    }
    // Another key type does not encapsulate.
    let ecc = create(&mut c, Spec::EccNistP256, Usage::SignVerify)
        .await
        .key_id;
    let e = c
        .encapsulate(pb::EncapsulateRequest {
            key_id: ecc,
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
}

#[tokio::test]
async fn data_key_pairs_decrypt_to_their_private_keys() {
    use pb::DataKeyPairSpec as P;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let sym = create_key(&mut c, "wraps data key pairs").await;
    let ec = ctx(&[("purpose", "key pairs")]);
    for spec in [
        P::EccNistP256,
        P::EccSecgP256k1,
        P::EccNistEdwards25519,
        P::Rsa2048,
    ] {
        let pair = data_key_pair(&mut c, &sym, spec, &ec)
            .await
            .unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
        assert_eq!(pair.key_pair_spec, spec as i32);
        assert_eq!(pair.key_id, key_arn_of(ACCOUNT_A, &sym));
        assert_eq!(pair.public_key.first(), Some(&0x30));
        // Sealed like a data key: Decrypt with the same context returns
        // the PKCS#8 bytes; another context does not open it.
        assert_eq!(
            decrypt(&mut c, &pair.private_key_ciphertext_blob, &ec).await,
            pair.private_key_plaintext,
            "{spec:?}"
        );
        let e = try_decrypt(&mut c, &pair.private_key_ciphertext_blob, &HashMap::new())
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
    }
    // The P-256 pair's public key is its private key's.
    let pair = c
        .generate_data_key_pair_without_plaintext(pb::GenerateDataKeyPairWithoutPlaintextRequest {
            encryption_context: ec.clone(),
            key_id: sym.clone(),
            key_pair_spec: P::EccNistP256 as i32,
            ..Default::default()
        })
        .await
        .expect("without plaintext")
        .into_inner();
    let pkcs8 = decrypt(&mut c, &pair.private_key_ciphertext_blob, &ec).await;
    let derived = p256::SecretKey::from_pkcs8_der(&pkcs8)
        .expect("PKCS#8")
        .public_key()
        .to_public_key_der()
        .expect("SPKI");
    assert_eq!(derived.as_bytes(), pair.public_key.as_slice());

    // SM2 is not offered; a spec is required; only a symmetric key wraps.
    let e = data_key_pair(&mut c, &sym, P::Sm2, &ec).await.unwrap_err();
    assert_aws_error(&e, Code::Unimplemented, "UnsupportedOperationException");
    let e = data_key_pair(&mut c, &sym, P::Unspecified, &ec)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let hmac = create(&mut c, Spec::Hmac256, Usage::GenerateVerifyMac)
        .await
        .key_id;
    let e = data_key_pair(&mut c, &hmac, P::EccNistP256, &ec)
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidKeyUsageException");
}

#[tokio::test]
async fn asymmetric_and_hmac_keys_work_after_a_restart() {
    use pb::MessageType as T;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let signers = [
        (Spec::Rsa2048, Sig::RsassaPssSha256),
        (Spec::EccNistP384, Sig::EcdsaSha384),
        (Spec::EccNistEdwards25519, Sig::Ed25519Sha512),
        (Spec::MlDsa65, Sig::MlDsaShake256),
    ];
    let mut before = Vec::new();
    for (spec, alg) in signers {
        let key = create(&mut c, spec, Usage::SignVerify).await.key_id;
        let sig = sign(&mut c, &key, alg, T::Raw, b"before")
            .await
            .expect("sign");
        let pk = public_key(&mut c, &key)
            .await
            .expect("public key")
            .public_key;
        before.push((key, alg, sig, pk));
    }
    let hmac = create(&mut c, Spec::Hmac512, Usage::GenerateVerifyMac)
        .await
        .key_id;
    let mac_req = pb::GenerateMacRequest {
        message: b"before".to_vec(),
        key_id: hmac.clone(),
        mac_algorithm: pb::MacAlgorithmSpec::HmacSha512 as i32,
        ..Default::default()
    };
    let mac = c
        .generate_mac(mac_req.clone())
        .await
        .expect("mac")
        .into_inner()
        .mac;
    let kem = create(&mut c, Spec::MlKem768, Usage::EncapsulateDecapsulate)
        .await
        .key_id;
    let enc = c
        .encapsulate(pb::EncapsulateRequest {
            key_id: kem.clone(),
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
            ..Default::default()
        })
        .await
        .expect("encapsulate")
        .into_inner();

    let server = server.restart().await;
    let mut c = server.client().await;
    for (key, alg, sig, pk) in &before {
        verify(&mut c, key, *alg, T::Raw, b"before", sig)
            .await
            .unwrap_or_else(|e| panic!("{alg:?} after restart: {e:?}"));
        let again = public_key(&mut c, key).await.expect("public key");
        assert_eq!(&again.public_key, pk);
        let new_sig = sign(&mut c, key, *alg, T::Raw, b"after")
            .await
            .expect("sign");
        verify(&mut c, key, *alg, T::Raw, b"after", &new_sig)
            .await
            .expect("verify new");
    }
    // HMAC (deterministic): the same MAC as before the restart.
    let after = c
        .generate_mac(mac_req)
        .await
        .expect("mac after")
        .into_inner()
        .mac;
    assert_eq!(after, mac);
    let dec = c
        .decapsulate(pb::DecapsulateRequest {
            key_id: kem,
            shared_secret_ciphertext_blob: enc.shared_secret_ciphertext_blob,
            encapsulation_algorithm: pb::EncapsulationAlgorithmSpec::MlKem as i32,
            ..Default::default()
        })
        .await
        .expect("decapsulate after restart")
        .into_inner();
    assert_eq!(dec.shared_secret, enc.shared_secret);
}

/// The new condition keys reach policies, and grants for the new
/// operations allow exactly those operations.
#[tokio::test]
async fn condition_keys_and_grants_cover_the_new_operations() {
    use pb::MessageType as T;
    let server = TestServer::start().await;
    let mut root = server.client().await;
    let mut alice = server.client_as(ALICE_A).await;
    let signer = create(&mut root, Spec::Rsa2048, Usage::SignVerify)
        .await
        .key_id;
    let policy = key_policy_with(
        ACCOUNT_A,
        &[serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": ALICE_A},
            "Action": ["kms:Sign", "kms:Verify"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:SigningAlgorithm": "RSASSA_PSS_SHA_256",
                    "kms:MessageType": "DIGEST",
                }
            }
        })],
    );
    put_key_policy(&mut root, &signer, &policy).await;
    let digest = sha2::Sha256::digest(b"m").to_vec();
    let sig = sign(
        &mut alice,
        &signer,
        Sig::RsassaPssSha256,
        T::Digest,
        &digest,
    )
    .await
    .expect("allowed by the conditions");
    verify(
        &mut alice,
        &signer,
        Sig::RsassaPssSha256,
        T::Digest,
        &digest,
        &sig,
    )
    .await
    .expect("verify allowed");
    let arn = key_arn_of(ACCOUNT_A, &signer);
    let e = sign(
        &mut alice,
        &signer,
        Sig::RsassaPkcs1V15Sha256,
        T::Digest,
        &digest,
    )
    .await
    .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Sign", &arn);
    let e = sign(&mut alice, &signer, Sig::RsassaPssSha256, T::Raw, b"m")
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:Sign", &arn);

    // kms:MacAlgorithm in an identity policy (the key policy delegates).
    let hmac = create(&mut root, Spec::Hmac256, Usage::GenerateVerifyMac)
        .await
        .key_id;
    let mac_req = |alg: pb::MacAlgorithmSpec| pb::GenerateMacRequest {
        message: b"m".to_vec(),
        key_id: hmac.clone(),
        mac_algorithm: alg as i32,
        ..Default::default()
    };
    let e = alice
        .generate_mac(mac_req(pb::MacAlgorithmSpec::HmacSha256))
        .await
        .unwrap_err();
    assert_access_denied(
        &e,
        ALICE_A,
        "kms:GenerateMac",
        &key_arn_of(ACCOUNT_A, &hmac),
    );
    put_identity_policy(
        &server,
        ALICE_A,
        "macs",
        &serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": "kms:GenerateMac",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}
            }]
        })
        .to_string(),
    )
    .await;
    alice
        .generate_mac(mac_req(pb::MacAlgorithmSpec::HmacSha256))
        .await
        .expect("allowed by the identity policy");

    // A grant for GetPublicKey and DeriveSharedSecret on a KEY_AGREEMENT key
    // allows those two and nothing else; Sign is not valid for the key.
    let agree = create(&mut root, Spec::EccNistP256, Usage::KeyAgreement)
        .await
        .key_id;
    let agree_arn = key_arn_of(ACCOUNT_A, &agree);
    let grant = |ops: Vec<pb::GrantOperation>| pb::CreateGrantRequest {
        key_id: agree.clone(),
        grantee_principal: ALICE_A.into(),
        operations: ops.into_iter().map(|o| o as i32).collect(),
        ..Default::default()
    };
    let e = root
        .create_grant(grant(vec![pb::GrantOperation::Sign]))
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "ValidationException");
    let e = public_key(&mut alice, &agree).await.unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:GetPublicKey", &agree_arn);
    root.create_grant(grant(vec![
        pb::GrantOperation::GetPublicKey,
        pb::GrantOperation::DeriveSharedSecret,
    ]))
    .await
    .expect("grant");
    let peer = public_key(&mut alice, &agree)
        .await
        .expect("granted")
        .public_key;
    alice
        .derive_shared_secret(pb::DeriveSharedSecretRequest {
            key_id: agree.clone(),
            key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
            public_key: peer,
            ..Default::default()
        })
        .await
        .expect("granted derive");
    let e = alice
        .describe_key(pb::DescribeKeyRequest {
            key_id: agree.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_access_denied(&e, ALICE_A, "kms:DescribeKey", &agree_arn);
}
