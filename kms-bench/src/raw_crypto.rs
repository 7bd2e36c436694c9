//! `--raw-crypto`: the cryptography of one operation alone, in-process,
//! with the library kmsd uses for it (ring: ECDSA P-256 / P-384, Ed25519,
//! RSA PKCS#1 v1.5 and PSS signatures and their verification, HMAC-SHA-256
//! / 384 / 512; aws-lc-rs: constant-time RSA-OAEP decryption), on as many
//! threads as the server has cores.
//!
//! Every kmsd call pays the transport (what the no-op baseline measures)
//! and the crypto (what this measures); with both on the same cores the
//! best kmsd can do is the ceiling `1 / (1/baseline + 1/raw)` requests per
//! second, which the report sets beside kmsd's throughput.
//!
//! The keys are the primitive's own: ECDSA and Ed25519 keys are generated
//! here, RSA keys are fixed bench keys of each size (ring cannot generate
//! RSA keys; the cost of a private-key operation depends on the size, not
//! on which key), HMAC keys are random.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair as _};
use ring::{hmac, rand};

use super::args::Limit;
use super::mix::{BenchOp, Mix};
use super::workload::Algorithms;
use kms_proto::kms::v1 as pb;

/// Fixed RSA bench keys (PKCS#8 DER), made with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:N`. They sign
/// nothing but the benchmark's message.
const RSA_2048: &[u8] = include_bytes!("raw_keys/rsa2048.pk8.der");
const RSA_3072: &[u8] = include_bytes!("raw_keys/rsa3072.pk8.der");
const RSA_4096: &[u8] = include_bytes!("raw_keys/rsa4096.pk8.der");

/// The operations `--raw-crypto` can measure.
pub fn supports(op: BenchOp) -> bool {
    matches!(
        op,
        BenchOp::Sign
            | BenchOp::Verify
            | BenchOp::GenerateMac
            | BenchOp::VerifyMac
            | BenchOp::Decrypt
    )
}

/// The one operation of a mix `--raw-crypto` measures, or why not.
pub fn operation_of(mix: &Mix) -> Result<BenchOp, String> {
    match mix.entries() {
        [(op, _)] if supports(*op) => Ok(*op),
        _ => Err(format!(
            "--raw-crypto measures one operation: Sign, Verify, GenerateMac, VerifyMac or \
             Decrypt with an RSA key (not {mix})"
        )),
    }
}

enum Kind {
    EcdsaSign(signature::EcdsaKeyPair),
    Ed25519Sign(signature::Ed25519KeyPair),
    RsaSign(signature::RsaKeyPair, &'static dyn signature::RsaEncoding),
    Verify {
        algorithm: &'static dyn signature::VerificationAlgorithm,
        public_key: Vec<u8>,
        signature: Vec<u8>,
    },
    Mac(hmac::Key),
    VerifyMac(hmac::Key, Vec<u8>),
    OaepDecrypt {
        key: aws_lc_rs::rsa::OaepPrivateDecryptingKey,
        algorithm: &'static aws_lc_rs::rsa::OaepAlgorithm,
        ciphertext: Vec<u8>,
    },
}

/// One primitive, ready to run on many threads.
pub struct Primitive {
    kind: Kind,
    rng: SystemRandom,
    /// What it is, e.g. `ring ECDSA P-256 SHA-256 sign`.
    pub name: String,
}

impl std::fmt::Debug for Primitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Primitive")
            .field("name", &self.name)
            .finish()
    }
}

fn unsupported(what: &str) -> String {
    format!("--raw-crypto: {what} is not measured in-process (kmsd does not use ring for it)")
}

fn rsa_der(key_spec: pb::KeySpec) -> Result<&'static [u8], String> {
    match key_spec {
        pb::KeySpec::Rsa2048 => Ok(RSA_2048),
        pb::KeySpec::Rsa3072 => Ok(RSA_3072),
        pb::KeySpec::Rsa4096 => Ok(RSA_4096),
        _ => Err(unsupported("this key spec")),
    }
}

fn rsa_key(key_spec: pb::KeySpec) -> Result<signature::RsaKeyPair, String> {
    signature::RsaKeyPair::from_pkcs8(rsa_der(key_spec)?)
        .map_err(|e| format!("--raw-crypto: RSA key: {e}"))
}

/// RSA-OAEP decryption with aws-lc-rs (as kmsd decrypts: constant time),
/// of a ciphertext of a data-key-sized plaintext made here.
fn oaep_decrypt(
    key_spec: pb::KeySpec,
    encryption_algorithm: i32,
) -> Result<(Kind, String), String> {
    use aws_lc_rs::rsa;
    use pb::EncryptionAlgorithmSpec as E;
    let (algorithm, alg_name) = match E::try_from(encryption_algorithm) {
        Ok(E::RsaesOaepSha1) => (&rsa::OAEP_SHA1_MGF1SHA1, "SHA-1"),
        Ok(E::RsaesOaepSha256) => (&rsa::OAEP_SHA256_MGF1SHA256, "SHA-256"),
        _ => return Err(unsupported("this encryption algorithm")),
    };
    let bad = |e: &dyn std::fmt::Display| format!("--raw-crypto: RSA-OAEP key: {e}");
    let private = rsa::PrivateDecryptingKey::from_pkcs8(rsa_der(key_spec)?).map_err(|e| bad(&e))?;
    let bits = private.key_size_bits();
    let public = rsa::OaepPublicEncryptingKey::new(private.public_key()).map_err(|e| bad(&e))?;
    let mut ciphertext = vec![0u8; public.ciphertext_size()];
    let len = public
        .encrypt(algorithm, &[0x5a; 32], &mut ciphertext, None)
        .map_err(|e| bad(&e))?
        .len();
    ciphertext.truncate(len);
    let key = rsa::OaepPrivateDecryptingKey::new(private).map_err(|e| bad(&e))?;
    Ok((
        Kind::OaepDecrypt {
            key,
            algorithm,
            ciphertext,
        },
        format!("aws-lc-rs RSA-{bits} OAEP {alg_name} decrypt"),
    ))
}

/// A signer of the spec and algorithm: (the signing kind, the matching
/// verification algorithm, a name).
fn signer(
    key_spec: pb::KeySpec,
    alg: pb::SigningAlgorithmSpec,
    rng: &SystemRandom,
) -> Result<(Kind, &'static dyn signature::VerificationAlgorithm, String), String> {
    use pb::KeySpec as K;
    use pb::SigningAlgorithmSpec as S;
    let ecdsa =
        |sign: &'static signature::EcdsaSigningAlgorithm,
         verify: &'static signature::EcdsaVerificationAlgorithm,
         name: &str|
         -> Result<(Kind, &'static dyn signature::VerificationAlgorithm, String), String> {
            let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(sign, rng)
                .map_err(|_| "--raw-crypto: ECDSA key generation failed".to_owned())?;
            let key = signature::EcdsaKeyPair::from_pkcs8(sign, pkcs8.as_ref(), rng)
                .map_err(|e| format!("--raw-crypto: ECDSA key: {e}"))?;
            Ok((Kind::EcdsaSign(key), verify, name.to_owned()))
        };
    let rsa =
        |encoding: &'static dyn signature::RsaEncoding,
         verify: &'static signature::RsaParameters,
         name: &str|
         -> Result<(Kind, &'static dyn signature::VerificationAlgorithm, String), String> {
            let key = rsa_key(key_spec)?;
            let bits = key.public().modulus_len() * 8;
            Ok((
                Kind::RsaSign(key, encoding),
                verify,
                format!("ring RSA-{bits} {name}"),
            ))
        };
    match (key_spec, alg) {
        (K::EccNistP256, S::EcdsaSha256) => ecdsa(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &signature::ECDSA_P256_SHA256_ASN1,
            "ring ECDSA P-256 SHA-256",
        ),
        (K::EccNistP384, S::EcdsaSha384) => ecdsa(
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &signature::ECDSA_P384_SHA384_ASN1,
            "ring ECDSA P-384 SHA-384",
        ),
        (K::EccNistEdwards25519, S::Ed25519Sha512) => {
            let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(rng)
                .map_err(|_| "--raw-crypto: Ed25519 key generation failed".to_owned())?;
            let key = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|e| format!("--raw-crypto: Ed25519 key: {e}"))?;
            Ok((
                Kind::Ed25519Sign(key),
                &signature::ED25519,
                "ring Ed25519".to_owned(),
            ))
        }
        (K::Rsa2048 | K::Rsa3072 | K::Rsa4096, alg) => match alg {
            S::RsassaPkcs1V15Sha256 => rsa(
                &signature::RSA_PKCS1_SHA256,
                &signature::RSA_PKCS1_2048_8192_SHA256,
                "PKCS#1 v1.5 SHA-256",
            ),
            S::RsassaPkcs1V15Sha384 => rsa(
                &signature::RSA_PKCS1_SHA384,
                &signature::RSA_PKCS1_2048_8192_SHA384,
                "PKCS#1 v1.5 SHA-384",
            ),
            S::RsassaPkcs1V15Sha512 => rsa(
                &signature::RSA_PKCS1_SHA512,
                &signature::RSA_PKCS1_2048_8192_SHA512,
                "PKCS#1 v1.5 SHA-512",
            ),
            S::RsassaPssSha256 => rsa(
                &signature::RSA_PSS_SHA256,
                &signature::RSA_PSS_2048_8192_SHA256,
                "PSS SHA-256",
            ),
            S::RsassaPssSha384 => rsa(
                &signature::RSA_PSS_SHA384,
                &signature::RSA_PSS_2048_8192_SHA384,
                "PSS SHA-384",
            ),
            S::RsassaPssSha512 => rsa(
                &signature::RSA_PSS_SHA512,
                &signature::RSA_PSS_2048_8192_SHA512,
                "PSS SHA-512",
            ),
            _ => Err(unsupported("this signing algorithm")),
        },
        _ => Err(unsupported("this key spec and signing algorithm")),
    }
}

fn hmac_key(alg: pb::MacAlgorithmSpec, rng: &SystemRandom) -> Result<(hmac::Key, String), String> {
    use pb::MacAlgorithmSpec as M;
    let (algorithm, name) = match alg {
        M::HmacSha256 => (hmac::HMAC_SHA256, "ring HMAC-SHA-256"),
        M::HmacSha384 => (hmac::HMAC_SHA384, "ring HMAC-SHA-384"),
        M::HmacSha512 => (hmac::HMAC_SHA512, "ring HMAC-SHA-512"),
        _ => return Err(unsupported("this MAC algorithm")),
    };
    let key = hmac::Key::generate(algorithm, rng)
        .map_err(|_| "--raw-crypto: HMAC key generation failed".to_owned())?;
    Ok((key, name.to_owned()))
}

impl Primitive {
    /// The primitive of `op` for keys of `key_spec` (wire value) with the
    /// workload's algorithms, checked once on `message`.
    pub fn new(
        op: BenchOp,
        key_spec: i32,
        algorithms: &Algorithms,
        message: &[u8],
    ) -> Result<Self, String> {
        let rng = rand::SystemRandom::new();
        let spec = pb::KeySpec::try_from(key_spec).map_err(|_| unsupported("this key spec"))?;
        let (kind, name) = match op {
            BenchOp::Sign | BenchOp::Verify => {
                let alg = pb::SigningAlgorithmSpec::try_from(algorithms.signing)
                    .map_err(|_| unsupported("this signing algorithm"))?;
                let (kind, verify, name) = signer(spec, alg, &rng)?;
                if op == BenchOp::Sign {
                    (kind, format!("{name} sign"))
                } else {
                    let probe = Primitive {
                        kind,
                        rng: rng.clone(),
                        name: String::new(),
                    };
                    let signature = probe.sign(message)?;
                    let public_key = match &probe.kind {
                        Kind::EcdsaSign(k) => k.public_key().as_ref().to_vec(),
                        Kind::Ed25519Sign(k) => k.public_key().as_ref().to_vec(),
                        Kind::RsaSign(k, _) => k.public().as_ref().to_vec(),
                        _ => Vec::new(),
                    };
                    (
                        Kind::Verify {
                            algorithm: verify,
                            public_key,
                            signature,
                        },
                        format!("{name} verify"),
                    )
                }
            }
            BenchOp::GenerateMac | BenchOp::VerifyMac => {
                let alg = pb::MacAlgorithmSpec::try_from(algorithms.mac)
                    .map_err(|_| unsupported("this MAC algorithm"))?;
                let (key, name) = hmac_key(alg, &rng)?;
                if op == BenchOp::GenerateMac {
                    (Kind::Mac(key), name)
                } else {
                    let tag = hmac::sign(&key, message).as_ref().to_vec();
                    (Kind::VerifyMac(key, tag), format!("{name} verify"))
                }
            }
            BenchOp::Decrypt => oaep_decrypt(spec, algorithms.encryption)?,
            other => return Err(format!("--raw-crypto does not measure {other}")),
        };
        let p = Primitive { kind, rng, name };
        if !p.once(message) {
            return Err(format!("--raw-crypto: {} failed its first run", p.name));
        }
        Ok(p)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let failed = || format!("--raw-crypto: signing failed ({})", self.name);
        match &self.kind {
            Kind::EcdsaSign(k) => k
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| failed()),
            Kind::Ed25519Sign(k) => Ok(k.sign(message).as_ref().to_vec()),
            Kind::RsaSign(k, encoding) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(*encoding, &self.rng, message, &mut sig)
                    .map_err(|_| failed())?;
                Ok(sig)
            }
            _ => Err(failed()),
        }
    }

    /// One operation on `message`; whether it succeeded (a signature made,
    /// a signature or MAC that verifies).
    pub fn once(&self, message: &[u8]) -> bool {
        match &self.kind {
            Kind::EcdsaSign(_) | Kind::Ed25519Sign(_) | Kind::RsaSign(..) => {
                self.sign(message).is_ok()
            }
            Kind::Verify {
                algorithm,
                public_key,
                signature,
            } => signature::UnparsedPublicKey::new(*algorithm, public_key)
                .verify(message, signature)
                .is_ok(),
            Kind::Mac(key) => !hmac::sign(key, message).as_ref().is_empty(),
            Kind::VerifyMac(key, tag) => hmac::verify(key, message, tag).is_ok(),
            Kind::OaepDecrypt {
                key,
                algorithm,
                ciphertext,
            } => {
                let mut out = vec![0u8; key.min_output_size()];
                key.decrypt(algorithm, ciphertext, &mut out, None)
                    .is_ok_and(|p| p.len() == 32)
            }
        }
    }
}

/// What a raw-crypto run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RawResult {
    /// The primitive's name.
    pub primitive: String,
    /// Threads used.
    pub threads: u32,
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed (a bug: they should not).
    pub failed: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl RawResult {
    /// Adds `other` (another slice of the same primitive) to this result.
    pub fn merge(&mut self, other: &RawResult) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.elapsed += other.elapsed;
    }

    /// Successful operations per second.
    pub fn throughput_rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

/// The ceiling of a service whose every call costs the baseline's
/// transport and the raw crypto: `1 / (1/baseline + 1/raw)`; `None` when
/// either is not positive.
pub fn ceiling(baseline_rps: f64, raw_rps: f64) -> Option<f64> {
    (baseline_rps > 0.0 && raw_rps > 0.0).then(|| 1.0 / (1.0 / baseline_rps + 1.0 / raw_rps))
}

/// The number of threads `--raw-threads` defaults to: this machine's cores.
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(1))
        .unwrap_or(1)
}

/// Runs `p` on `message` from `threads` threads until `limit` (a duration,
/// or a number of operations in all). Blocking: call it off the async
/// runtime.
pub fn run(p: &Primitive, message: &[u8], threads: u32, limit: Limit) -> RawResult {
    let threads = threads.max(1);
    let issued = AtomicU64::new(0);
    let ok = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let (mut good, mut bad) = (0u64, 0u64);
                loop {
                    match limit {
                        Limit::Duration(d) => {
                            if start.elapsed() >= d {
                                break;
                            }
                        }
                        Limit::Requests(n) => {
                            if issued.fetch_add(1, Ordering::Relaxed) >= n {
                                break;
                            }
                        }
                    }
                    if p.once(message) {
                        good += 1;
                    } else {
                        bad += 1;
                    }
                }
                ok.fetch_add(good, Ordering::Relaxed);
                failed.fetch_add(bad, Ordering::Relaxed);
            });
        }
    });
    RawResult {
        primitive: p.name.clone(),
        threads,
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn algs(signing: pb::SigningAlgorithmSpec, mac: pb::MacAlgorithmSpec) -> Algorithms {
        Algorithms {
            signing: signing as i32,
            mac: mac as i32,
            encryption: 0,
            key_pair_spec: 0,
        }
    }

    #[test]
    fn every_supported_primitive_runs_and_counts() {
        use pb::KeySpec as K;
        use pb::MacAlgorithmSpec as M;
        use pb::SigningAlgorithmSpec as S;
        let msg = b"kms-bench raw crypto";
        for (op, spec, a, name) in [
            (
                BenchOp::Sign,
                K::EccNistP256,
                algs(S::EcdsaSha256, M::Unspecified),
                "ECDSA P-256",
            ),
            (
                BenchOp::Verify,
                K::EccNistP256,
                algs(S::EcdsaSha256, M::Unspecified),
                "verify",
            ),
            (
                BenchOp::Sign,
                K::EccNistP384,
                algs(S::EcdsaSha384, M::Unspecified),
                "P-384",
            ),
            (
                BenchOp::Verify,
                K::EccNistEdwards25519,
                algs(S::Ed25519Sha512, M::Unspecified),
                "Ed25519",
            ),
            (
                BenchOp::Sign,
                K::Rsa2048,
                algs(S::RsassaPkcs1V15Sha256, M::Unspecified),
                "RSA-2048 PKCS#1",
            ),
            (
                BenchOp::Verify,
                K::Rsa3072,
                algs(S::RsassaPssSha384, M::Unspecified),
                "RSA-3072 PSS",
            ),
            (
                BenchOp::GenerateMac,
                K::Hmac256,
                algs(S::Unspecified, M::HmacSha256),
                "HMAC-SHA-256",
            ),
            (
                BenchOp::VerifyMac,
                K::Hmac512,
                algs(S::Unspecified, M::HmacSha512),
                "HMAC-SHA-512 verify",
            ),
        ] {
            let p = Primitive::new(op, spec as i32, &a, msg).unwrap();
            assert!(p.name.contains(name), "{} vs {name}", p.name);
            let r = run(&p, msg, 2, Limit::Requests(10));
            assert_eq!((r.ok, r.failed, r.threads), (10, 0, 2), "{}", p.name);
        }
        for (spec, alg, name) in [
            (
                K::Rsa2048,
                pb::EncryptionAlgorithmSpec::RsaesOaepSha256,
                "aws-lc-rs RSA-2048 OAEP SHA-256 decrypt",
            ),
            (
                K::Rsa4096,
                pb::EncryptionAlgorithmSpec::RsaesOaepSha1,
                "aws-lc-rs RSA-4096 OAEP SHA-1 decrypt",
            ),
        ] {
            let a = Algorithms {
                encryption: alg as i32,
                ..Algorithms::default()
            };
            let p = Primitive::new(BenchOp::Decrypt, spec as i32, &a, msg).unwrap();
            assert_eq!(p.name, name);
            let r = run(&p, msg, 1, Limit::Requests(3));
            assert_eq!((r.ok, r.failed), (3, 0), "{}", p.name);
        }
    }

    #[test]
    fn primitives_kmsd_does_not_run_with_ring_are_refused() {
        use pb::KeySpec as K;
        use pb::MacAlgorithmSpec as M;
        use pb::SigningAlgorithmSpec as S;
        for (op, spec, a) in [
            (
                BenchOp::Sign,
                K::EccNistP521,
                algs(S::EcdsaSha512, M::Unspecified),
            ),
            (
                BenchOp::Sign,
                K::EccSecgP256k1,
                algs(S::EcdsaSha256, M::Unspecified),
            ),
            (
                BenchOp::GenerateMac,
                K::Hmac224,
                algs(S::Unspecified, M::HmacSha224),
            ),
            (
                BenchOp::Sign,
                K::EccNistP256,
                algs(S::EcdsaSha384, M::Unspecified),
            ),
            (
                BenchOp::Encrypt,
                K::Rsa2048,
                algs(S::Unspecified, M::Unspecified),
            ),
            // Decrypt is RSA-OAEP only.
            (
                BenchOp::Decrypt,
                K::EccNistP256,
                algs(S::Unspecified, M::Unspecified),
            ),
            (
                BenchOp::Decrypt,
                K::Rsa2048,
                algs(S::Unspecified, M::Unspecified),
            ),
        ] {
            assert!(
                Primitive::new(op, spec as i32, &a, b"m").is_err(),
                "{op} {spec:?}"
            );
        }
        assert!(operation_of(&Mix::parse("Sign").unwrap()).is_ok());
        assert!(operation_of(&Mix::parse("Sign,Verify").unwrap()).is_err());
        assert!(operation_of(&Mix::parse("GenerateDataKey").unwrap()).is_err());
        assert!(operation_of(&Mix::parse("Decrypt").unwrap()).is_ok());
    }

    #[test]
    fn the_ceiling_adds_the_costs() {
        // 1 ms of transport and 1 ms of crypto per call: 500 per second.
        let c = ceiling(1000.0, 1000.0).unwrap();
        assert!((c - 500.0).abs() < 1e-9);
        let c = ceiling(40_000.0, 10_000.0).unwrap();
        assert!((c - 8_000.0).abs() < 1e-9);
        assert_eq!(ceiling(0.0, 10.0), None);
        assert_eq!(ceiling(10.0, 0.0), None);
    }

    #[test]
    fn a_duration_limit_ends_the_run() {
        let a = algs(
            pb::SigningAlgorithmSpec::Unspecified,
            pb::MacAlgorithmSpec::HmacSha256,
        );
        let p =
            Primitive::new(BenchOp::GenerateMac, pb::KeySpec::Hmac256 as i32, &a, b"m").unwrap();
        let r = run(&p, b"m", 1, Limit::Duration(Duration::from_millis(20)));
        assert!(r.ok > 0 && r.failed == 0);
        assert!(r.elapsed >= Duration::from_millis(20));
        assert!(r.throughput_rps() > 0.0);
    }
}
