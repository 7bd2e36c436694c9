//! Round trips and bad-input behaviour of every asymmetric spec, through the
//! module's public functions. The Wycheproof vectors are in
//! `wycheproof_tests.rs`.

use super::*;
use crate::model::key::{
    DataKeyPairSpec as D, EncryptionAlgorithm as E, KeySpec as K, MessageType as M,
    SigningAlgorithm as S,
};

const MSG: &[u8] = b"the message kmsd signs";

fn key(spec: K) -> PrivateKey {
    let material = generate(spec).expect("generate");
    PrivateKey::from_material(spec, material.expose_secret()).expect("parse generated material")
}

fn hash(alg: S, message: &[u8]) -> Vec<u8> {
    use ring::digest as d;
    let a = match alg {
        S::RsassaPssSha256 | S::RsassaPkcs1V15Sha256 | S::EcdsaSha256 => &d::SHA256,
        S::RsassaPssSha384 | S::RsassaPkcs1V15Sha384 | S::EcdsaSha384 => &d::SHA384,
        _ => &d::SHA512,
    };
    d::digest(a, message).as_ref().to_vec()
}

fn flip(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[i % bytes.len()] ^= 0x01;
    v
}

/// Signs with RAW and with DIGEST, and checks: each verifies under both
/// message types (a DIGEST signature is the signature of the message whose
/// digest it is); another message, a flipped signature byte, another key
/// all fail.
fn sign_verify_hashing(spec: K, algs: &[S]) {
    let k = key(spec);
    let other = key(spec);
    let pk = k.public_key_der();
    for &alg in algs {
        let digest = hash(alg, MSG);
        let raw_sig = k.sign(alg, M::Raw, MSG).expect("sign raw");
        let dig_sig = k.sign(alg, M::Digest, &digest).expect("sign digest");
        for sig in [&raw_sig, &dig_sig] {
            assert!(
                verify(spec, pk, alg, M::Raw, MSG, sig).expect("verify"),
                "{spec} {alg} raw"
            );
            assert!(
                verify(spec, pk, alg, M::Digest, &digest, sig).expect("verify"),
                "{spec} {alg} digest"
            );
            assert!(!verify(spec, pk, alg, M::Raw, b"another message", sig).expect("verify"));
            assert!(!verify(spec, pk, alg, M::Digest, &flip(&digest, 0), sig).expect("verify"));
            assert!(
                !verify(spec, pk, alg, M::Raw, MSG, &flip(sig, sig.len() / 2)).expect("verify")
            );
            assert!(!verify(spec, pk, alg, M::Raw, MSG, &sig[..sig.len() - 1]).expect("verify"));
            assert!(!verify(spec, pk, alg, M::Raw, MSG, &[]).expect("verify"));
            assert!(!verify(spec, other.public_key_der(), alg, M::Raw, MSG, sig).expect("verify"));
        }
        // Digests of the wrong length are refused, on both sides.
        for len in [0, digest.len() - 1, digest.len() + 1] {
            let bad = vec![7u8; len];
            assert!(matches!(
                k.sign(alg, M::Digest, &bad),
                Err(CryptoError::InvalidInput(_))
            ));
            assert!(matches!(
                verify(spec, pk, alg, M::Digest, &bad, &raw_sig),
                Err(CryptoError::InvalidInput(_))
            ));
        }
        assert!(matches!(
            k.sign(alg, M::ExternalMu, &[0u8; 64]),
            Err(CryptoError::InvalidInput(_))
        ));
    }
}

#[test]
fn rsa_signatures_round_trip_for_every_size_and_algorithm() {
    let algs = [
        S::RsassaPssSha256,
        S::RsassaPssSha384,
        S::RsassaPssSha512,
        S::RsassaPkcs1V15Sha256,
        S::RsassaPkcs1V15Sha384,
        S::RsassaPkcs1V15Sha512,
    ];
    for spec in [K::Rsa2048, K::Rsa3072, K::Rsa4096] {
        sign_verify_hashing(spec, &algs);
    }
}

#[test]
fn rsa_signatures_have_aws_shapes() {
    let k = key(K::Rsa2048);
    // PKCS#1 v1.5 is deterministic; PSS is randomized (salt = hash length).
    let a = k.sign(S::RsassaPkcs1V15Sha256, M::Raw, MSG).expect("sign");
    let b = k.sign(S::RsassaPkcs1V15Sha256, M::Raw, MSG).expect("sign");
    assert_eq!(a, b);
    assert_eq!(a.len(), 256);
    let a = k.sign(S::RsassaPssSha256, M::Raw, MSG).expect("sign");
    let b = k.sign(S::RsassaPssSha256, M::Raw, MSG).expect("sign");
    assert_ne!(a, b);
    // A PSS signature is not a PKCS#1 one, nor one of another hash.
    assert!(!verify(
        K::Rsa2048,
        k.public_key_der(),
        S::RsassaPkcs1V15Sha256,
        M::Raw,
        MSG,
        &a
    )
    .expect("verify"));
    assert!(!verify(
        K::Rsa2048,
        k.public_key_der(),
        S::RsassaPssSha384,
        M::Raw,
        MSG,
        &a
    )
    .expect("verify"));
    // The public key is the RSA SPKI of the spec's size.
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let pk = rsa::PublicKey::from_public_key_der(k.public_key_der()).expect("SPKI");
    assert_eq!(pk.size(), 256);
    // The key's public key does not pass as another size.
    assert!(matches!(
        verify(
            K::Rsa3072,
            k.public_key_der(),
            S::RsassaPssSha256,
            M::Raw,
            MSG,
            &a
        ),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ecdsa_signatures_round_trip_on_every_curve() {
    sign_verify_hashing(K::EccNistP256, &[S::EcdsaSha256]);
    sign_verify_hashing(K::EccNistP384, &[S::EcdsaSha384]);
    sign_verify_hashing(K::EccNistP521, &[S::EcdsaSha512]);
    sign_verify_hashing(K::EccSecgP256k1, &[S::EcdsaSha256]);
}

#[test]
fn ecdsa_signatures_are_der_and_only_the_curves_algorithm_is_accepted() {
    for (spec, alg, wrong) in [
        (K::EccNistP256, S::EcdsaSha256, S::EcdsaSha384),
        (K::EccNistP384, S::EcdsaSha384, S::EcdsaSha256),
        (K::EccNistP521, S::EcdsaSha512, S::EcdsaSha256),
        (K::EccSecgP256k1, S::EcdsaSha256, S::EcdsaSha512),
    ] {
        let k = key(spec);
        let sig = k.sign(alg, M::Raw, MSG).expect("sign");
        // DER SEQUENCE of two INTEGERs.
        assert_eq!(sig[0], 0x30, "{spec}");
        assert!(matches!(
            k.sign(wrong, M::Raw, MSG),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            k.sign(S::RsassaPssSha256, M::Raw, MSG),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            verify(spec, k.public_key_der(), wrong, M::Raw, MSG, &sig),
            Err(CryptoError::InvalidInput(_))
        ));
    }
    // A public key on another curve is refused, not verified against.
    let p256 = key(K::EccNistP256);
    let k1 = key(K::EccSecgP256k1);
    let sig = k1.sign(S::EcdsaSha256, M::Raw, MSG).expect("sign");
    assert!(matches!(
        verify(
            K::EccNistP256,
            k1.public_key_der(),
            S::EcdsaSha256,
            M::Raw,
            MSG,
            &sig
        ),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        verify(
            K::EccSecgP256k1,
            p256.public_key_der(),
            S::EcdsaSha256,
            M::Raw,
            MSG,
            &sig
        ),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ed25519_pure_and_prehashed_round_trip() {
    let k = key(K::EccNistEdwards25519);
    let other = key(K::EccNistEdwards25519);
    let pk = k.public_key_der();
    assert_eq!(pk.len(), 44);
    // Pure Ed25519: RAW only, deterministic.
    let sig = k.sign(S::Ed25519Sha512, M::Raw, MSG).expect("sign");
    assert_eq!(sig.len(), 64);
    assert_eq!(sig, k.sign(S::Ed25519Sha512, M::Raw, MSG).expect("sign"));
    assert!(verify(
        K::EccNistEdwards25519,
        pk,
        S::Ed25519Sha512,
        M::Raw,
        MSG,
        &sig
    )
    .expect("verify"));
    assert!(!verify(
        K::EccNistEdwards25519,
        pk,
        S::Ed25519Sha512,
        M::Raw,
        b"x",
        &sig
    )
    .expect("verify"));
    assert!(!verify(
        K::EccNistEdwards25519,
        other.public_key_der(),
        S::Ed25519Sha512,
        M::Raw,
        MSG,
        &sig
    )
    .expect("verify"));
    let digest = hash(S::Ed25519PhSha512, MSG);
    assert!(matches!(
        k.sign(S::Ed25519Sha512, M::Digest, &digest),
        Err(CryptoError::InvalidInput(_))
    ));
    // Ed25519ph: RAW (kmsd hashes) and DIGEST (the caller's SHA-512) give
    // the same signature, which is not the pure one.
    let ph_raw = k.sign(S::Ed25519PhSha512, M::Raw, MSG).expect("sign");
    let ph_dig = k
        .sign(S::Ed25519PhSha512, M::Digest, &digest)
        .expect("sign");
    assert_eq!(ph_raw, ph_dig);
    assert_ne!(ph_raw, sig);
    for (t, m) in [(M::Raw, MSG), (M::Digest, &digest[..])] {
        assert!(verify(
            K::EccNistEdwards25519,
            pk,
            S::Ed25519PhSha512,
            t,
            m,
            &ph_raw
        )
        .expect("verify"));
        assert!(
            !verify(K::EccNistEdwards25519, pk, S::Ed25519PhSha512, t, m, &sig).expect("verify")
        );
        assert!(!verify(
            K::EccNistEdwards25519,
            pk,
            S::Ed25519PhSha512,
            t,
            m,
            &flip(&ph_raw, 40)
        )
        .expect("verify"));
    }
    assert!(!verify(
        K::EccNistEdwards25519,
        pk,
        S::Ed25519Sha512,
        M::Raw,
        MSG,
        &ph_raw
    )
    .expect("verify"));
    assert!(matches!(
        k.sign(S::Ed25519PhSha512, M::Digest, &digest[..32]),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        k.sign(S::EcdsaSha256, M::Raw, MSG),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ed25519ph_matches_rfc_8032_test_vector() {
    // RFC 8032 section 7.3, TEST abc: Ed25519ph of "abc" (empty context).
    let secret = hex::decode("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
        .expect("hex");
    let public = hex::decode("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
        .expect("hex");
    let expected = hex::decode(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    )
    .expect("hex");
    let sk = ed25519_dalek::SigningKey::from_bytes(&secret[..].try_into().expect("32 bytes"));
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let pkcs8 = sk.to_pkcs8_der().expect("pkcs8");
    let k = PrivateKey::from_material(K::EccNistEdwards25519, pkcs8.as_bytes()).expect("parse");
    assert_eq!(&k.public_key_der()[12..], &public[..]);
    assert_eq!(
        k.sign(S::Ed25519PhSha512, M::Raw, b"abc").expect("sign"),
        expected
    );
    let digest = hash(S::Ed25519PhSha512, b"abc");
    assert_eq!(
        k.sign(S::Ed25519PhSha512, M::Digest, &digest)
            .expect("sign"),
        expected
    );
    assert!(verify(
        K::EccNistEdwards25519,
        k.public_key_der(),
        S::Ed25519PhSha512,
        M::Raw,
        b"abc",
        &expected
    )
    .expect("verify"));
}

/// mu = SHAKE256(SHAKE256(pk, 64) || 0 || 0 || message, 64): FIPS 204's
/// message representative with an empty context, computed by `ml-dsa`.
fn external_mu(spec: K, spki_der: &[u8], message: &[u8]) -> Vec<u8> {
    fn go<P>(spki_der: &[u8], message: &[u8]) -> Vec<u8>
    where
        P: ml_dsa::MlDsaParams,
        ml_dsa::VerifyingKey<P>: spki::DecodePublicKey,
    {
        use spki::DecodePublicKey;
        let vk = ml_dsa::VerifyingKey::<P>::from_public_key_der(spki_der).expect("SPKI");
        vk.compute_mu(
            |h| {
                digest::Update::update(h, message);
                Ok(())
            },
            &[],
        )
        .expect("mu")
        .to_vec()
    }
    match spec {
        K::MlDsa44 => go::<ml_dsa::MlDsa44>(spki_der, message),
        K::MlDsa65 => go::<ml_dsa::MlDsa65>(spki_der, message),
        _ => go::<ml_dsa::MlDsa87>(spki_der, message),
    }
}

#[test]
fn ml_dsa_raw_and_external_mu_round_trip_across_both_libraries() {
    for (spec, sig_len, oid_last) in [
        (K::MlDsa44, 2420, 17u8),
        (K::MlDsa65, 3309, 18),
        (K::MlDsa87, 4627, 19),
    ] {
        let k = key(spec);
        let other = key(spec);
        let pk = k.public_key_der();
        // SPKI with the NIST OID 2.16.840.1.101.3.4.3.{17,18,19}.
        let info = spki::SubjectPublicKeyInfoRef::from_der(pk).expect("SPKI");
        assert_eq!(info.algorithm.oid.as_bytes().last(), Some(&oid_last));
        let raw = k.sign(S::MlDsaShake256, M::Raw, MSG).expect("sign");
        assert_eq!(raw.len(), sig_len);
        let mu = external_mu(spec, pk, MSG);
        let from_mu = k
            .sign(S::MlDsaShake256, M::ExternalMu, &mu)
            .expect("sign mu");
        assert_eq!(from_mu.len(), sig_len);
        // aws-lc-rs's RAW signature verifies as mu with ml-dsa, and
        // ml-dsa's mu signature verifies as RAW with aws-lc-rs.
        for sig in [&raw, &from_mu] {
            assert!(
                verify(spec, pk, S::MlDsaShake256, M::Raw, MSG, sig).expect("verify"),
                "{spec}"
            );
            assert!(
                verify(spec, pk, S::MlDsaShake256, M::ExternalMu, &mu, sig).expect("verify"),
                "{spec}"
            );
            assert!(!verify(spec, pk, S::MlDsaShake256, M::Raw, b"x", sig).expect("verify"));
            assert!(!verify(
                spec,
                pk,
                S::MlDsaShake256,
                M::ExternalMu,
                &flip(&mu, 3),
                sig
            )
            .expect("verify"));
            assert!(
                !verify(spec, pk, S::MlDsaShake256, M::Raw, MSG, &flip(sig, 100)).expect("verify")
            );
            assert!(
                !verify(spec, pk, S::MlDsaShake256, M::ExternalMu, &mu, &sig[1..]).expect("verify")
            );
            assert!(!verify(
                spec,
                other.public_key_der(),
                S::MlDsaShake256,
                M::Raw,
                MSG,
                sig
            )
            .expect("verify"));
        }
        assert!(matches!(
            k.sign(S::MlDsaShake256, M::ExternalMu, &mu[..63]),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            k.sign(S::MlDsaShake256, M::Digest, &mu),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            k.sign(S::EcdsaSha256, M::Raw, MSG),
            Err(CryptoError::InvalidInput(_))
        ));
    }
    // A key of one level is refused by another's verification.
    let k44 = key(K::MlDsa44);
    let sig = k44.sign(S::MlDsaShake256, M::Raw, MSG).expect("sign");
    assert!(matches!(
        verify(
            K::MlDsa65,
            k44.public_key_der(),
            S::MlDsaShake256,
            M::Raw,
            MSG,
            &sig
        ),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ml_dsa_material_is_the_pkcs8_seed_form() {
    let material = generate(K::MlDsa65).expect("generate");
    // PrivateKeyInfo whose privateKey is [0] IMPLICIT OCTET STRING (32).
    let info = pkcs8::PrivateKeyInfoRef::from_der(material.expose_secret()).expect("PKCS#8");
    let inner = info.private_key.as_bytes();
    assert_eq!(inner.len(), 34);
    assert_eq!(&inner[..2], &[0x80, 0x20]);
    // The same seed gives the same key, via both libraries.
    let a = PrivateKey::from_material(K::MlDsa65, material.expose_secret()).expect("parse");
    let b = PrivateKey::from_material(K::MlDsa65, material.expose_secret()).expect("parse");
    assert_eq!(a.public_key_der(), b.public_key_der());
}

#[test]
fn ml_kem_material_is_the_pkcs8_seed_form() {
    let material = generate(K::MlKem768).expect("generate");
    let info = pkcs8::PrivateKeyInfoRef::from_der(material.expose_secret()).expect("PKCS#8");
    assert_eq!(info.algorithm.oid, OID_ML_KEM_768);
    let inner = info.private_key.as_bytes();
    assert_eq!(inner.len(), 66);
    assert_eq!(&inner[..2], &[0x80, 0x40]);
    let a = PrivateKey::from_material(K::MlKem768, material.expose_secret()).expect("parse");
    let b = PrivateKey::from_material(K::MlKem768, material.expose_secret()).expect("parse");
    assert_eq!(a.public_key_der(), b.public_key_der());
    // Material of one parameter set is not read as another.
    assert!(PrivateKey::from_material(K::MlKem512, material.expose_secret()).is_err());
    assert!(PrivateKey::from_material(K::MlDsa65, material.expose_secret()).is_err());
}

#[test]
fn rsa_oaep_round_trips_and_enforces_aws_plaintext_limits() {
    for (spec, sha1_max, sha256_max) in [
        (K::Rsa2048, 214, 190),
        (K::Rsa3072, 342, 318),
        (K::Rsa4096, 470, 446),
    ] {
        let k = key(spec);
        let pk = k.public_key_der();
        for (alg, max) in [
            (E::RsaesOaepSha1, sha1_max),
            (E::RsaesOaepSha256, sha256_max),
        ] {
            assert_eq!(max_oaep_plaintext_len(spec, alg).expect("max"), max);
            for len in [0, 1, 32, max] {
                let pt = vec![0x5a; len];
                let ct = encrypt(spec, pk, alg, &pt).expect("encrypt");
                assert_eq!(ct.len() * 8, rsa_bits(spec).expect("rsa"));
                assert_eq!(
                    k.decrypt(alg, &ct).expect("decrypt").expose_secret(),
                    &pt[..]
                );
            }
            assert!(matches!(
                encrypt(spec, pk, alg, &vec![0; max + 1]),
                Err(CryptoError::InvalidInput(_))
            ));
            let ct = encrypt(spec, pk, alg, b"secret").expect("encrypt");
            // Randomized.
            assert_ne!(ct, encrypt(spec, pk, alg, b"secret").expect("encrypt"));
            // Tampered, truncated, extended, or under the other hash: opaque failure.
            assert_eq!(k.decrypt(alg, &flip(&ct, 7)).err(), Some(CryptoError::Open));
            assert_eq!(k.decrypt(alg, &ct[1..]).err(), Some(CryptoError::Open));
            let mut longer = ct.clone();
            longer.push(0);
            assert_eq!(k.decrypt(alg, &longer).err(), Some(CryptoError::Open));
            assert_eq!(k.decrypt(alg, &[]).err(), Some(CryptoError::Open));
            let other = if alg == E::RsaesOaepSha1 {
                E::RsaesOaepSha256
            } else {
                E::RsaesOaepSha1
            };
            assert_eq!(k.decrypt(other, &ct).err(), Some(CryptoError::Open));
        }
        assert!(matches!(
            k.decrypt(E::SymmetricDefault, &[0; 256]),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            encrypt(spec, pk, E::SymmetricDefault, b"x"),
            Err(CryptoError::InvalidInput(_))
        ));
    }
    // Not an RSA key / not an RSA spec.
    let ec = key(K::EccNistP256);
    assert!(matches!(
        encrypt(K::Rsa2048, ec.public_key_der(), E::RsaesOaepSha1, b"x"),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        encrypt(K::EccNistP256, ec.public_key_der(), E::RsaesOaepSha1, b"x"),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        ec.decrypt(E::RsaesOaepSha1, &[0; 64]),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ecdh_agrees_both_ways_on_every_nist_curve_and_validates_the_peer() {
    let specs = [K::EccNistP256, K::EccNistP384, K::EccNistP521];
    for (i, &spec) in specs.iter().enumerate() {
        let a = key(spec);
        let b = key(spec);
        let ab = a.derive_shared_secret(b.public_key_der()).expect("derive");
        let ba = b.derive_shared_secret(a.public_key_der()).expect("derive");
        assert_eq!(ab.expose_secret(), ba.expose_secret());
        assert_eq!(ab.len(), [32, 48, 66][i]);
        let c = key(spec);
        assert_ne!(
            a.derive_shared_secret(c.public_key_der())
                .expect("derive")
                .expose_secret(),
            ab.expose_secret()
        );
        // Another curve's key, garbage, a truncated key, an RSA key: refused.
        let other = key(specs[(i + 1) % 3]);
        for bad in [
            other.public_key_der(),
            b"garbage",
            &b.public_key_der()[..b.public_key_der().len() - 1],
            &[][..],
        ] {
            assert!(
                matches!(
                    a.derive_shared_secret(bad),
                    Err(CryptoError::InvalidInput(_))
                ),
                "{spec}"
            );
        }
        // A point off the curve: flip a bit of y.
        let pk = b.public_key_der();
        let off = flip(pk, pk.len() - 1);
        assert!(matches!(
            a.derive_shared_secret(&off),
            Err(CryptoError::InvalidInput(_))
        ));
    }
    // secp256k1, Ed25519, RSA, ML-KEM keys do not agree.
    let p = key(K::EccNistP256);
    for spec in [K::EccSecgP256k1, K::EccNistEdwards25519, K::MlKem512] {
        assert!(matches!(
            key(spec).derive_shared_secret(p.public_key_der()),
            Err(CryptoError::InvalidInput(_))
        ));
    }
}

#[test]
fn ecdh_matches_the_identity_point_rule() {
    // The identity cannot be written as an uncompressed point; its SEC1
    // encoding is the single byte 0x00, which must be refused.
    let a = key(K::EccNistP256);
    let mut spki = a.public_key_der().to_vec();
    let point_start = spki.len() - 65;
    spki.truncate(point_start);
    spki.push(0);
    // Fix the lengths: BIT STRING of 2 bytes, outer SEQUENCE.
    spki[point_start - 2] = 2;
    spki[1] = (spki.len() - 2) as u8;
    assert!(matches!(
        a.derive_shared_secret(&spki),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn ml_kem_encapsulate_decapsulate_round_trip() {
    for (spec, ct_len) in [
        (K::MlKem512, 768),
        (K::MlKem768, 1088),
        (K::MlKem1024, 1568),
    ] {
        let k = key(spec);
        let (ct, ss) = encapsulate(spec, k.public_key_der()).expect("encapsulate");
        assert_eq!(ct.len(), ct_len);
        assert_eq!(ml_kem_ciphertext_len(spec), Some(ct_len));
        assert_eq!(ss.len(), 32);
        assert_eq!(
            k.decapsulate(&ct).expect("decapsulate").expose_secret(),
            ss.expose_secret()
        );
        // Implicit rejection: a tampered ciphertext decapsulates, to
        // another secret.
        let other = k.decapsulate(&flip(&ct, 10)).expect("decapsulate");
        assert_eq!(other.len(), 32);
        assert_ne!(other.expose_secret(), ss.expose_secret());
        // Another key decapsulates to another secret.
        assert_ne!(
            key(spec)
                .decapsulate(&ct)
                .expect("decapsulate")
                .expose_secret(),
            ss.expose_secret()
        );
        for bad in [&ct[1..], &[][..], &[0u8; 4096][..]] {
            assert!(matches!(
                k.decapsulate(bad),
                Err(CryptoError::InvalidInput(_))
            ));
        }
        // SPKI with the NIST OID 2.16.840.1.101.3.4.4.{1,2,3}.
        let info = spki::SubjectPublicKeyInfoRef::from_der(k.public_key_der()).expect("SPKI");
        assert_eq!(
            info.algorithm.oid,
            MlKemLevel::of(spec).expect("ml-kem").oid()
        );
    }
    let k512 = key(K::MlKem512);
    assert!(matches!(
        encapsulate(K::MlKem768, k512.public_key_der()),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        encapsulate(K::MlKem512, b"garbage"),
        Err(CryptoError::InvalidInput(_))
    ));
    let ec = key(K::EccNistP256);
    assert!(matches!(
        encapsulate(K::MlKem512, ec.public_key_der()),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        encapsulate(K::EccNistP256, ec.public_key_der()),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        ec.decapsulate(&[0; 768]),
        Err(CryptoError::InvalidInput(_))
    ));
}

#[test]
fn data_key_pairs_parse_and_match_their_public_keys() {
    for spec in D::ALL.iter().copied().filter(|s| *s != D::Sm2) {
        let (private, public) = generate_data_key_pair(spec).expect("generate");
        let key_spec = K::from_aws_str(spec.as_aws_str()).expect("same spelling");
        let parsed = PrivateKey::from_material(key_spec, private.expose_secret()).expect("parse");
        assert_eq!(parsed.public_key_der(), &public[..], "{spec}");
        // Plain PKCS#8 that a generic parser reads.
        pkcs8::PrivateKeyInfoRef::from_der(private.expose_secret()).expect("PKCS#8");
    }
    assert_eq!(
        generate_data_key_pair(D::Sm2).err(),
        Some(CryptoError::Unsupported)
    );
}

#[test]
fn bad_material_and_unsupported_specs_are_errors() {
    for spec in [K::SymmetricDefault, K::Sm2, K::Hmac256] {
        assert_eq!(generate(spec).err(), Some(CryptoError::Unsupported));
        assert!(PrivateKey::from_material(spec, &[1, 2, 3]).is_err());
    }
    let p256 = generate(K::EccNistP256).expect("generate");
    let rsa = generate(K::Rsa2048).expect("generate");
    for spec in K::ALL.iter().copied() {
        assert!(PrivateKey::from_material(spec, b"").is_err());
        assert!(PrivateKey::from_material(spec, &[0x30; 100]).is_err());
        if spec != K::EccNistP256 {
            assert!(
                PrivateKey::from_material(spec, p256.expose_secret()).is_err(),
                "{spec}"
            );
        }
        if spec != K::Rsa2048 {
            assert!(
                PrivateKey::from_material(spec, rsa.expose_secret()).is_err(),
                "{spec}"
            );
        }
    }
    // Verification with garbage keys is an error, never a panic.
    for (spec, alg) in [
        (K::Rsa2048, S::RsassaPssSha256),
        (K::EccNistP256, S::EcdsaSha256),
        (K::EccNistP521, S::EcdsaSha512),
        (K::EccNistEdwards25519, S::Ed25519Sha512),
        (K::EccNistEdwards25519, S::Ed25519PhSha512),
        (K::MlDsa44, S::MlDsaShake256),
    ] {
        for garbage in [&b""[..], b"\x30\x03\x02\x01\x01", &[0xff; 300]] {
            assert!(
                verify(spec, garbage, alg, M::Raw, MSG, &[0; 64]).is_err(),
                "{spec} {alg}"
            );
        }
    }
    assert!(matches!(
        verify(K::Sm2, b"", S::Sm2Dsa, M::Raw, MSG, b""),
        Err(CryptoError::Unsupported)
    ));
    // RAW messages over 4096 bytes are refused on both sides.
    let k = key(K::EccNistP256);
    let long = vec![0u8; MAX_RAW_MESSAGE_LEN + 1];
    assert!(matches!(
        k.sign(S::EcdsaSha256, M::Raw, &long),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        verify(
            K::EccNistP256,
            k.public_key_der(),
            S::EcdsaSha256,
            M::Raw,
            &long,
            &[0; 70]
        ),
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(k.sign(S::EcdsaSha256, M::Raw, &long[1..]).is_ok());
}

#[test]
fn private_keys_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PrivateKey>();
}

#[test]
fn the_rsa_crate_does_no_private_key_operation() {
    // deny.toml ignores RUSTSEC-2023-0071 (Marvin) on the grounds that
    // `rsa` only parses public keys and encrypts; keep it so.
    for source in [
        include_str!("../asymmetric.rs"),
        include_str!("../mod.rs"),
        include_str!("../hmac.rs"),
    ] {
        for private in [
            "rsa::PrivateKey",
            "rsa::RsaPrivateKey",
            "DecodeRsaPrivateKey",
            "rsa::pss::SigningKey",
            "rsa::pkcs1v15::SigningKey",
        ] {
            assert!(!source.contains(private), "{private} used");
        }
    }
}
