//! Asymmetric and HMAC keys against an independent implementation: the
//! `openssl` command-line tool (installed by the Makefile) checks what kmsd
//! signs, derives and hands out, and produces what kmsd must decrypt.
//!
//! - every signing algorithm of RSA, ECDSA (P-256, P-384, P-521,
//!   secp256k1) and pure Ed25519, RAW and DIGEST: the Sign output verifies
//!   with `openssl dgst -verify` and `openssl pkeyutl -verify` against
//!   GetPublicKey's SubjectPublicKeyInfo (and fails for a changed message);
//! - RSA-OAEP (SHA-1 and SHA-256) ciphertexts made by `openssl pkeyutl
//!   -encrypt` under GetPublicKey's key decrypt through Decrypt;
//! - GenerateDataKeyPair(WithoutPlaintext): the decrypted private key is a
//!   PKCS#8 DER that openssl parses and signs with, and its public key is
//!   the one returned;
//! - DeriveSharedSecret agrees with `openssl pkeyutl -derive` on P-256,
//!   P-384 and P-521;
//! - HMAC (no outside check is possible: the key never leaves kmsd):
//!   VerifyMac accepts GenerateMac's output and refuses any one-bit change.
//!
//!
//! OpenSSL 3.0 has no ML-DSA, ML-KEM or Ed25519ph; for those the other side
//! is a Rust implementation other than the one kmsd signs or decapsulates
//! with where there is one:
//! - ML-DSA: kmsd signs RAW messages with aws-lc-rs, checked by RustCrypto's
//!   `ml-dsa`; it signs EXTERNAL_MU with `ml-dsa`, checked by aws-lc-rs;
//! - ML-KEM: kmsd decapsulates with aws-lc-rs what RustCrypto's `ml-kem`
//!   encapsulated to GetPublicKey's key;
//! - Ed25519ph: checked by `ed25519-dalek`'s RFC 8032 HashEdDSA
//!   verification (the library kmsd itself uses for Ed25519ph, as no other
//!   available one has it), over a digest computed by openssl.

use std::path::PathBuf;
use std::process::Command;

use kmsd::proto::kms::v1 as pb;
use tonic::{Code, Status};

use crate::harness::*;

use pb::SigningAlgorithmSpec as Alg;

// ---------------------------------------------------------------------------
// openssl

/// A scratch directory for openssl's input and output files (byok.rs
/// adds its own helpers to it).
pub(crate) struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write scratch file");
        p.to_string_lossy().into_owned()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read scratch file")
    }

    fn name(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// Runs `openssl ARGS` in the scratch dir; Ok(stdout) when it exits 0,
    /// Err(stdout + stderr) otherwise.
    pub(crate) fn try_openssl(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("run openssl (is it installed? `make deps` installs it)");
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    #[track_caller]
    pub(crate) fn openssl(&self, args: &[&str]) -> Vec<u8> {
        self.try_openssl(args)
            .unwrap_or_else(|e| panic!("openssl {args:?} failed:\n{e}"))
    }

    /// Writes a DER SubjectPublicKeyInfo and converts it to PEM with
    /// `openssl pkey -pubin -inform DER` (which must accept it as is);
    /// returns the PEM file's path.
    fn public_pem(&self, stem: &str, spki_der: &[u8]) -> String {
        let der = self.write(&format!("{stem}.pub.der"), spki_der);
        let pem = self.name(&format!("{stem}.pub.pem"));
        self.openssl(&[
            "pkey", "-pubin", "-inform", "DER", "-in", &der, "-out", &pem,
        ]);
        pem
    }

    /// `openssl pkey -text` of a public key file.
    fn public_text(&self, pem: &str) -> String {
        String::from_utf8_lossy(&self.openssl(&["pkey", "-pubin", "-in", pem, "-noout", "-text"]))
            .into_owned()
    }
}

// ---------------------------------------------------------------------------
// kmsd

async fn create_asym_key(c: &mut Client, spec: pb::KeySpec, usage: pb::KeyUsageType) -> String {
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

async fn get_public_key(c: &mut Client, key: &str) -> pb::GetPublicKeyResponse {
    c.get_public_key(pb::GetPublicKeyRequest {
        key_id: key.into(),
        grant_tokens: vec![],
    })
    .await
    .unwrap_or_else(|e| panic!("get public key of {key}: {e:?}"))
    .into_inner()
}

async fn sign(
    c: &mut Client,
    key: &str,
    alg: Alg,
    message_type: pb::MessageType,
    message: &[u8],
) -> pb::SignResponse {
    c.sign(pb::SignRequest {
        key_id: key.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signing_algorithm: alg as i32,
        grant_tokens: vec![],
    })
    .await
    .unwrap_or_else(|e| panic!("sign {alg:?} {message_type:?} with {key}: {e:?}"))
    .into_inner()
}

async fn try_verify(
    c: &mut Client,
    key: &str,
    alg: Alg,
    message_type: pb::MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<pb::VerifyResponse, Status> {
    c.verify(pb::VerifyRequest {
        key_id: key.into(),
        message: message.to_vec(),
        message_type: message_type as i32,
        signature: signature.to_vec(),
        signing_algorithm: alg as i32,
        grant_tokens: vec![],
    })
    .await
    .map(tonic::Response::into_inner)
}

// ---------------------------------------------------------------------------
// Sign → openssl verify

/// How openssl verifies one signing algorithm.
#[derive(Clone, Copy)]
enum Scheme {
    /// RSASSA-PSS, MGF1 with the same digest, salt length = digest length.
    Pss(&'static str),
    /// RSASSA-PKCS1-v1_5.
    Pkcs1(&'static str),
    /// ECDSA with a DER signature.
    Ecdsa(&'static str),
    /// Pure Ed25519 (RFC 8032): no digest, the message itself.
    PureEd25519,
}

impl Scheme {
    fn of(alg: Alg) -> Self {
        match alg {
            Alg::RsassaPssSha256 => Scheme::Pss("sha256"),
            Alg::RsassaPssSha384 => Scheme::Pss("sha384"),
            Alg::RsassaPssSha512 => Scheme::Pss("sha512"),
            Alg::RsassaPkcs1V15Sha256 => Scheme::Pkcs1("sha256"),
            Alg::RsassaPkcs1V15Sha384 => Scheme::Pkcs1("sha384"),
            Alg::RsassaPkcs1V15Sha512 => Scheme::Pkcs1("sha512"),
            Alg::EcdsaSha256 => Scheme::Ecdsa("sha256"),
            Alg::EcdsaSha384 => Scheme::Ecdsa("sha384"),
            Alg::EcdsaSha512 => Scheme::Ecdsa("sha512"),
            Alg::Ed25519Sha512 => Scheme::PureEd25519,
            other => panic!("no openssl 3.0 scheme for {other:?}"),
        }
    }

    fn digest(self) -> Option<&'static str> {
        match self {
            Scheme::Pss(d) | Scheme::Pkcs1(d) | Scheme::Ecdsa(d) => Some(d),
            Scheme::PureEd25519 => None,
        }
    }

    /// `openssl dgst -verify` over the whole message (Ed25519: `pkeyutl
    /// -rawin`, which is how openssl 3.0 verifies pure EdDSA).
    fn verify_message(
        self,
        s: &Scratch,
        pem: &str,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let msg = s.write("msg.bin", message);
        let sig = s.write("sig.bin", signature);
        let mut args: Vec<String> = match self {
            Scheme::PureEd25519 => [
                "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", &msg, "-sigfile",
                &sig,
            ]
            .map(String::from)
            .to_vec(),
            _ => {
                let d = self.digest().unwrap_or_default();
                ["dgst", &format!("-{d}"), "-verify", pem, "-signature", &sig]
                    .map(String::from)
                    .to_vec()
            }
        };
        if let Scheme::Pss(_) = self {
            args.extend(
                [
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    "rsa_pss_saltlen:digest",
                ]
                .map(String::from),
            );
        }
        if !matches!(self, Scheme::PureEd25519) {
            args.push(msg);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        s.try_openssl(&args).map(drop)
    }

    /// `openssl pkeyutl -verify` over a precomputed digest.
    fn verify_digest(
        self,
        s: &Scratch,
        pem: &str,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<(), String> {
        let d = self.digest().expect("a digest algorithm");
        let dig = s.write("digest.bin", digest);
        let sig = s.write("sig.bin", signature);
        let md = format!("digest:{d}");
        let mut args = vec![
            "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", &dig, "-sigfile", &sig,
            "-pkeyopt", &md,
        ];
        if let Scheme::Pss(_) = self {
            args.extend([
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                "rsa_pss_saltlen:digest",
            ]);
        }
        s.try_openssl(&args).map(drop)
    }
}

/// A message of `len` bytes that differs per algorithm.
fn message_for(alg: Alg, len: usize) -> Vec<u8> {
    let seed = format!("kmsd interop {alg:?} ");
    seed.bytes().cycle().take(len).collect()
}

/// Signs RAW (a short message and one of the 4096-byte maximum) and, for
/// digest algorithms, DIGEST, with `key`; checks every signature with
/// openssl against the public key, and that openssl refuses it for a
/// changed message (so the check is not vacuous).
async fn check_signatures_with_openssl(c: &mut Client, s: &Scratch, key: &str, algs: &[Alg]) {
    let arn = key_arn_of(ACCOUNT_A, key);
    let public = get_public_key(c, key).await;
    assert_eq!(public.key_id, arn);
    assert_eq!(public.key_usage, pb::KeyUsageType::SignVerify as i32);
    for alg in algs {
        assert!(
            public.signing_algorithms.contains(&(*alg as i32)),
            "GetPublicKey of {key} does not list {alg:?}: {:?}",
            public.signing_algorithms
        );
    }
    let pem = s.public_pem(key, &public.public_key);

    for &alg in algs {
        let scheme = Scheme::of(alg);
        for len in [1000, 4096] {
            let message = message_for(alg, len);
            let out = sign(c, key, alg, pb::MessageType::Raw, &message).await;
            assert_eq!(out.key_id, arn);
            assert_eq!(out.signing_algorithm, alg as i32);
            scheme
                .verify_message(s, &pem, &message, &out.signature)
                .unwrap_or_else(|e| {
                    panic!("openssl rejects kmsd's {alg:?} RAW signature ({len} bytes): {e}")
                });
            let mut changed = message.clone();
            changed[len / 2] ^= 0x01;
            assert!(
                scheme
                    .verify_message(s, &pem, &changed, &out.signature)
                    .is_err(),
                "openssl accepted a {alg:?} signature for a changed message"
            );
            // kmsd agrees with itself too.
            let v = try_verify(c, key, alg, pb::MessageType::Raw, &message, &out.signature)
                .await
                .unwrap_or_else(|e| panic!("kmsd Verify of its own {alg:?} signature: {e:?}"));
            assert!(v.signature_valid);
        }

        let Some(d) = scheme.digest() else { continue };
        let message = message_for(alg, 777);
        let msg = s.write("to-hash.bin", &message);
        let digest = s.openssl(&["dgst", &format!("-{d}"), "-binary", &msg]);
        let out = sign(c, key, alg, pb::MessageType::Digest, &digest).await;
        assert_eq!(out.signing_algorithm, alg as i32);
        scheme
            .verify_digest(s, &pem, &digest, &out.signature)
            .unwrap_or_else(|e| {
                panic!("openssl pkeyutl rejects kmsd's {alg:?} DIGEST signature: {e}")
            });
        // Signing a digest is signing the message it is the digest of.
        scheme
            .verify_message(s, &pem, &message, &out.signature)
            .unwrap_or_else(|e| {
                panic!("openssl dgst rejects kmsd's {alg:?} DIGEST signature for the message: {e}")
            });
        let mut changed = digest.clone();
        changed[0] ^= 0x80;
        assert!(
            scheme
                .verify_digest(s, &pem, &changed, &out.signature)
                .is_err(),
            "openssl accepted a {alg:?} signature for a changed digest"
        );
    }
}

#[tokio::test]
async fn rsa_signatures_verify_with_openssl_for_every_pss_and_pkcs1_algorithm() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    let key = create_asym_key(&mut c, pb::KeySpec::Rsa2048, pb::KeyUsageType::SignVerify).await;
    let algs = [
        Alg::RsassaPssSha256,
        Alg::RsassaPssSha384,
        Alg::RsassaPssSha512,
        Alg::RsassaPkcs1V15Sha256,
        Alg::RsassaPkcs1V15Sha384,
        Alg::RsassaPkcs1V15Sha512,
    ];
    check_signatures_with_openssl(&mut c, &s, &key, &algs).await;
    let public = get_public_key(&mut c, &key).await;
    assert_eq!(public.key_spec, pb::KeySpec::Rsa2048 as i32);
    let mut listed = public.signing_algorithms.clone();
    listed.sort_unstable();
    assert_eq!(listed, algs.map(|a| a as i32).to_vec());
    assert!(public.encryption_algorithms.is_empty());
    let text = s.public_text(&s.public_pem("rsa", &public.public_key));
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
}

#[tokio::test]
async fn ecdsa_signatures_verify_with_openssl_on_every_curve() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    // (spec, its one algorithm, what `openssl pkey -text` calls the curve)
    let cases = [
        (pb::KeySpec::EccNistP256, Alg::EcdsaSha256, "prime256v1"),
        (pb::KeySpec::EccNistP384, Alg::EcdsaSha384, "secp384r1"),
        (pb::KeySpec::EccNistP521, Alg::EcdsaSha512, "secp521r1"),
        (pb::KeySpec::EccSecgP256k1, Alg::EcdsaSha256, "secp256k1"),
    ];
    for (spec, alg, curve) in cases {
        let key = create_asym_key(&mut c, spec, pb::KeyUsageType::SignVerify).await;
        check_signatures_with_openssl(&mut c, &s, &key, &[alg]).await;
        let public = get_public_key(&mut c, &key).await;
        assert_eq!(public.key_spec, spec as i32);
        assert_eq!(public.signing_algorithms, vec![alg as i32], "{spec:?}");
        let text = s.public_text(&s.public_pem("ec", &public.public_key));
        assert!(
            text.contains(&format!("ASN1 OID: {curve}")),
            "{spec:?} is not on {curve}: {text}"
        );
    }
}

#[tokio::test]
async fn pure_ed25519_signatures_verify_with_openssl() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    let key = create_asym_key(
        &mut c,
        pb::KeySpec::EccNistEdwards25519,
        pb::KeyUsageType::SignVerify,
    )
    .await;
    // ED25519_SHA_512 is pure Ed25519 over the RAW message.
    check_signatures_with_openssl(&mut c, &s, &key, &[Alg::Ed25519Sha512]).await;
    let public = get_public_key(&mut c, &key).await;
    assert_eq!(public.key_spec, pb::KeySpec::EccNistEdwards25519 as i32);
    let text = s.public_text(&s.public_pem("ed", &public.public_key));
    assert!(text.contains("ED25519 Public-Key"), "{text}");
}

// ---------------------------------------------------------------------------
// openssl encrypt → Decrypt

#[tokio::test]
async fn rsa_oaep_ciphertexts_made_by_openssl_decrypt_through_kmsd() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    let key = create_asym_key(
        &mut c,
        pb::KeySpec::Rsa2048,
        pb::KeyUsageType::EncryptDecrypt,
    )
    .await;
    let arn = key_arn_of(ACCOUNT_A, &key);
    let public = get_public_key(&mut c, &key).await;
    assert_eq!(public.key_usage, pb::KeyUsageType::EncryptDecrypt as i32);
    let mut algs = public.encryption_algorithms.clone();
    algs.sort_unstable();
    assert_eq!(
        algs,
        vec![
            pb::EncryptionAlgorithmSpec::RsaesOaepSha1 as i32,
            pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32
        ]
    );
    assert!(public.signing_algorithms.is_empty());
    let pem = s.public_pem("rsa-enc", &public.public_key);

    // (algorithm, openssl digest, AWS's largest plaintext for RSA_2048)
    let cases = [
        (pb::EncryptionAlgorithmSpec::RsaesOaepSha1, "sha1", 214),
        (pb::EncryptionAlgorithmSpec::RsaesOaepSha256, "sha256", 190),
    ];
    for (alg, md, max) in cases {
        for len in [1, 37, max] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pt = s.write("pt.bin", &plaintext);
            let ct = s.name("ct.bin");
            let oaep_md = format!("rsa_oaep_md:{md}");
            let mgf1_md = format!("rsa_mgf1_md:{md}");
            s.openssl(&[
                "pkeyutl",
                "-encrypt",
                "-pubin",
                "-inkey",
                &pem,
                "-in",
                &pt,
                "-out",
                &ct,
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                &oaep_md,
                "-pkeyopt",
                &mgf1_md,
            ]);
            let ciphertext = s.read("ct.bin");
            assert_eq!(ciphertext.len(), 256);
            let out = c
                .decrypt(pb::DecryptRequest {
                    ciphertext_blob: ciphertext.clone(),
                    key_id: Some(key.clone()),
                    encryption_algorithm: alg as i32,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| {
                    panic!("decrypt openssl's {alg:?} ciphertext of {len} bytes: {e:?}")
                })
                .into_inner();
            assert_eq!(out.plaintext, plaintext, "{alg:?}, {len} bytes");
            assert_eq!(out.key_id, arn);
            assert_eq!(out.encryption_algorithm, alg as i32);
        }
    }

    // Padding made for one OAEP digest does not decrypt under the other.
    let pt = s.write("pt.bin", b"sha-1 padded");
    let ct = s.name("ct.bin");
    s.openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        &pem,
        "-in",
        &pt,
        "-out",
        &ct,
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
    ]);
    let e = c
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: s.read("ct.bin"),
            key_id: Some(key.clone()),
            encryption_algorithm: pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
}

// ---------------------------------------------------------------------------
// GenerateDataKeyPair

/// What `openssl asn1parse` shows as the key algorithm (and curve) of a
/// PKCS#8 private key of each spec.
fn pkcs8_algorithm(spec: pb::DataKeyPairSpec) -> (&'static str, Option<&'static str>) {
    match spec {
        pb::DataKeyPairSpec::Rsa2048
        | pb::DataKeyPairSpec::Rsa3072
        | pb::DataKeyPairSpec::Rsa4096 => ("rsaEncryption", None),
        pb::DataKeyPairSpec::EccNistP256 => ("id-ecPublicKey", Some("prime256v1")),
        pb::DataKeyPairSpec::EccNistP384 => ("id-ecPublicKey", Some("secp384r1")),
        pb::DataKeyPairSpec::EccNistP521 => ("id-ecPublicKey", Some("secp521r1")),
        pb::DataKeyPairSpec::EccSecgP256k1 => ("id-ecPublicKey", Some("secp256k1")),
        pb::DataKeyPairSpec::EccNistEdwards25519 => ("ED25519", None),
        other => panic!("no PKCS#8 expectation for {other:?}"),
    }
}

/// Checks a decrypted data-key-pair private key with openssl: it is a
/// PKCS#8 PrivateKeyInfo of the right algorithm, openssl derives exactly
/// `public_key` from it, and a signature openssl makes with it verifies
/// against `public_key`.
fn check_data_key_pair_with_openssl(
    s: &Scratch,
    spec: pb::DataKeyPairSpec,
    private_der: &[u8],
    public_key: &[u8],
) {
    let priv_der = s.write("priv.der", private_der);
    // PrivateKeyInfo ::= SEQUENCE { version INTEGER 0, AlgorithmIdentifier, OCTET STRING }
    let parsed =
        String::from_utf8_lossy(&s.openssl(&["asn1parse", "-inform", "DER", "-in", &priv_der]))
            .into_owned();
    let lines: Vec<&str> = parsed.lines().collect();
    let (alg, curve) = pkcs8_algorithm(spec);
    assert!(
        lines.len() >= 4 + usize::from(curve.is_some()),
        "{spec:?}: {parsed}"
    );
    assert!(lines[0].contains("cons: SEQUENCE"), "{spec:?}: {parsed}");
    assert!(
        lines[1].contains("prim: INTEGER") && lines[1].trim_end().ends_with(":00"),
        "{spec:?} is not PKCS#8 v1: {parsed}"
    );
    assert!(lines[2].contains("cons: SEQUENCE"), "{spec:?}: {parsed}");
    assert!(
        lines[3].contains("prim: OBJECT") && lines[3].trim_end().ends_with(&format!(":{alg}")),
        "{spec:?} algorithm: {parsed}"
    );
    if let Some(curve) = curve {
        assert!(
            lines[4].contains("prim: OBJECT")
                && lines[4].trim_end().ends_with(&format!(":{curve}")),
            "{spec:?} curve: {parsed}"
        );
    }

    // openssl reads it as a private key and derives the public key.
    let priv_pem = s.name("priv.pem");
    s.openssl(&[
        "pkey", "-inform", "DER", "-in", &priv_der, "-out", &priv_pem,
    ]);
    let derived = s.name("derived.pub.der");
    s.openssl(&[
        "pkey", "-in", &priv_pem, "-pubout", "-outform", "DER", "-out", &derived,
    ]);
    assert_eq!(
        s.read("derived.pub.der"),
        public_key,
        "{spec:?}: the public key returned is not the private key's"
    );

    // openssl signs with it; the signature verifies against the public key
    // returned by kmsd (and not for another message).
    let pub_pem = s.public_pem("data-pair", public_key);
    let msg = s.write(
        "msg.bin",
        format!("signed by openssl with a {spec:?} data key pair").as_bytes(),
    );
    let sig = s.name("sig.bin");
    let other = s.write("other.bin", b"another message");
    if spec == pb::DataKeyPairSpec::EccNistEdwards25519 {
        // Pure Ed25519: openssl 3.0 signs and verifies it with -rawin.
        s.openssl(&[
            "pkeyutl", "-sign", "-inkey", &priv_pem, "-rawin", "-in", &msg, "-out", &sig,
        ]);
        s.openssl(&[
            "pkeyutl", "-verify", "-pubin", "-inkey", &pub_pem, "-rawin", "-in", &msg, "-sigfile",
            &sig,
        ]);
        assert!(
            s.try_openssl(&[
                "pkeyutl", "-verify", "-pubin", "-inkey", &pub_pem, "-rawin", "-in", &other,
                "-sigfile", &sig,
            ])
            .is_err(),
            "{spec:?}: a signature verified for another message"
        );
        return;
    }
    s.openssl(&["dgst", "-sha256", "-sign", &priv_pem, "-out", &sig, &msg]);
    s.openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &pub_pem,
        "-signature",
        &sig,
        &msg,
    ]);
    assert!(
        s.try_openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            &pub_pem,
            "-signature",
            &sig,
            &other
        ])
        .is_err(),
        "{spec:?}: a signature verified for another message"
    );
}

#[tokio::test]
async fn a_data_key_pair_private_key_is_pkcs8_that_openssl_signs_with() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    let wrapping = create_key(&mut c, "wraps data key pairs").await;
    let arn = key_arn_of(ACCOUNT_A, &wrapping);
    let ec = ctx(&[("purpose", "data-key-pair")]);
    let specs = [
        pb::DataKeyPairSpec::Rsa2048,
        pb::DataKeyPairSpec::EccNistP256,
        pb::DataKeyPairSpec::EccNistP384,
        pb::DataKeyPairSpec::EccNistP521,
        pb::DataKeyPairSpec::EccSecgP256k1,
        pb::DataKeyPairSpec::EccNistEdwards25519,
    ];
    for spec in specs {
        let pair = c
            .generate_data_key_pair(pb::GenerateDataKeyPairRequest {
                encryption_context: ec.clone(),
                key_id: wrapping.clone(),
                key_pair_spec: spec as i32,
                grant_tokens: vec![],
            })
            .await
            .unwrap_or_else(|e| panic!("generate data key pair {spec:?}: {e:?}"))
            .into_inner();
        assert_eq!(pair.key_id, arn);
        assert_eq!(pair.key_pair_spec, spec as i32);
        // The sealed private key decrypts (with the context) to the
        // plaintext one.
        let opened = decrypt(&mut c, &pair.private_key_ciphertext_blob, &ec).await;
        assert_eq!(opened, pair.private_key_plaintext, "{spec:?}");
        let e = try_decrypt(&mut c, &pair.private_key_ciphertext_blob, &ctx(&[]))
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "InvalidCiphertextException");
        check_data_key_pair_with_openssl(&s, spec, &opened, &pair.public_key);
    }

    // Without plaintext: the same, from the sealed private key alone.
    for spec in [
        pb::DataKeyPairSpec::EccNistP256,
        pb::DataKeyPairSpec::EccSecgP256k1,
    ] {
        let pair = c
            .generate_data_key_pair_without_plaintext(
                pb::GenerateDataKeyPairWithoutPlaintextRequest {
                    encryption_context: ec.clone(),
                    key_id: wrapping.clone(),
                    key_pair_spec: spec as i32,
                    grant_tokens: vec![],
                },
            )
            .await
            .unwrap_or_else(|e| panic!("generate data key pair without plaintext {spec:?}: {e:?}"))
            .into_inner();
        assert_eq!(pair.key_id, arn);
        assert_eq!(pair.key_pair_spec, spec as i32);
        let opened = decrypt(&mut c, &pair.private_key_ciphertext_blob, &ec).await;
        check_data_key_pair_with_openssl(&s, spec, &opened, &pair.public_key);
    }
}

// ---------------------------------------------------------------------------
// DeriveSharedSecret ↔ openssl pkeyutl -derive

#[tokio::test]
async fn derive_shared_secret_agrees_with_openssl_on_every_nist_curve() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    // (spec, openssl curve name, field size in bytes)
    let cases = [
        (pb::KeySpec::EccNistP256, "P-256", 32),
        (pb::KeySpec::EccNistP384, "P-384", 48),
        (pb::KeySpec::EccNistP521, "P-521", 66),
    ];
    for (spec, curve, size) in cases {
        let key = create_asym_key(&mut c, spec, pb::KeyUsageType::KeyAgreement).await;
        let public = get_public_key(&mut c, &key).await;
        assert_eq!(public.key_usage, pb::KeyUsageType::KeyAgreement as i32);
        assert_eq!(
            public.key_agreement_algorithms,
            vec![pb::KeyAgreementAlgorithmSpec::Ecdh as i32]
        );
        let kms_pem = s.public_pem(&key, &public.public_key);

        // openssl's own key pair on the same curve.
        let peer = s.name("peer.pem");
        let paramgen = format!("ec_paramgen_curve:{curve}");
        s.openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &paramgen,
            "-out",
            &peer,
        ]);
        let peer_pub = s.name("peer.pub.der");
        s.openssl(&[
            "pkey", "-in", &peer, "-pubout", "-outform", "DER", "-out", &peer_pub,
        ]);

        let out = c
            .derive_shared_secret(pb::DeriveSharedSecretRequest {
                key_id: key.clone(),
                key_agreement_algorithm: pb::KeyAgreementAlgorithmSpec::Ecdh as i32,
                public_key: s.read("peer.pub.der"),
                grant_tokens: vec![],
                recipient_attestation_document: None,
            })
            .await
            .unwrap_or_else(|e| panic!("derive shared secret on {spec:?}: {e:?}"))
            .into_inner();
        assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &key));
        assert_eq!(
            out.key_agreement_algorithm,
            pb::KeyAgreementAlgorithmSpec::Ecdh as i32
        );
        assert_eq!(out.key_origin, pb::OriginType::AwsKms as i32);

        let secret = s.name("secret.bin");
        s.openssl(&[
            "pkeyutl", "-derive", "-inkey", &peer, "-peerkey", &kms_pem, "-out", &secret,
        ]);
        let expected = s.read("secret.bin");
        assert_eq!(expected.len(), size);
        assert_eq!(
            out.shared_secret, expected,
            "{spec:?}: kmsd and openssl disagree"
        );
    }
}

// ---------------------------------------------------------------------------
// HMAC

#[tokio::test]
async fn verify_mac_accepts_generate_mac_output_and_refuses_a_one_bit_change() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // (spec, algorithm, MAC length)
    let cases = [
        (pb::KeySpec::Hmac224, pb::MacAlgorithmSpec::HmacSha224, 28),
        (pb::KeySpec::Hmac256, pb::MacAlgorithmSpec::HmacSha256, 32),
        (pb::KeySpec::Hmac384, pb::MacAlgorithmSpec::HmacSha384, 48),
        (pb::KeySpec::Hmac512, pb::MacAlgorithmSpec::HmacSha512, 64),
    ];
    let message = b"a message to authenticate".to_vec();
    for (spec, alg, len) in cases {
        let key = create_asym_key(&mut c, spec, pb::KeyUsageType::GenerateVerifyMac).await;
        let arn = key_arn_of(ACCOUNT_A, &key);
        let meta = describe(&mut c, &key).await;
        assert_eq!(meta.mac_algorithms, vec![alg as i32], "{spec:?}");
        let generate = |c: &mut Client, message: Vec<u8>| {
            let key = key.clone();
            let mut c = c.clone();
            async move {
                c.generate_mac(pb::GenerateMacRequest {
                    message,
                    key_id: key,
                    mac_algorithm: alg as i32,
                    grant_tokens: vec![],
                })
                .await
                .unwrap_or_else(|e| panic!("generate mac {alg:?}: {e:?}"))
                .into_inner()
            }
        };
        let out = generate(&mut c, message.clone()).await;
        assert_eq!(out.mac.len(), len, "{alg:?}");
        assert_eq!(out.key_id, arn);
        assert_eq!(out.mac_algorithm, alg as i32);
        // HMAC is deterministic; another message gives another MAC.
        assert_eq!(generate(&mut c, message.clone()).await.mac, out.mac);
        assert_ne!(generate(&mut c, b"another".to_vec()).await.mac, out.mac);

        let verify = |c: &mut Client, message: Vec<u8>, mac: Vec<u8>| {
            let key = key.clone();
            let mut c = c.clone();
            async move {
                c.verify_mac(pb::VerifyMacRequest {
                    message,
                    key_id: key,
                    mac_algorithm: alg as i32,
                    mac,
                    grant_tokens: vec![],
                })
                .await
                .map(tonic::Response::into_inner)
            }
        };
        let ok = verify(&mut c, message.clone(), out.mac.clone())
            .await
            .unwrap_or_else(|e| panic!("verify mac {alg:?}: {e:?}"));
        assert!(ok.mac_valid);
        assert_eq!(ok.key_id, arn);
        assert_eq!(ok.mac_algorithm, alg as i32);

        // Every single-bit change of the MAC, in the first, a middle and
        // the last byte, and of the message.
        for byte in [0, len / 2, len - 1] {
            for bit in 0..8 {
                let mut mac = out.mac.clone();
                mac[byte] ^= 1 << bit;
                let e = verify(&mut c, message.clone(), mac).await.unwrap_err();
                assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
            }
        }
        for byte in [0, message.len() - 1] {
            let mut changed = message.clone();
            changed[byte] ^= 0x01;
            let e = verify(&mut c, changed, out.mac.clone()).await.unwrap_err();
            assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
        }
        // Nor does a truncated MAC pass.
        let e = verify(&mut c, message.clone(), out.mac[..len - 1].to_vec())
            .await
            .unwrap_err();
        assert_aws_error(&e, Code::InvalidArgument, "KMSInvalidMacException");
    }
}

// ---------------------------------------------------------------------------
// ML-DSA, ML-KEM and Ed25519ph against other implementations

/// The algorithm OID and the raw key of a SubjectPublicKeyInfo; the
/// parameters must be absent (as the NIST and RFC 8410 profiles say).
fn spki_parts(spki_der: &[u8]) -> (String, Vec<u8>) {
    use spki::der::Decode;
    let info = spki::SubjectPublicKeyInfoRef::from_der(spki_der).expect("a DER SPKI");
    assert!(
        info.algorithm.parameters.is_none(),
        "AlgorithmIdentifier parameters must be absent"
    );
    let raw = info
        .subject_public_key
        .as_bytes()
        .expect("a whole-byte BIT STRING")
        .to_vec();
    (info.algorithm.oid.to_string(), raw)
}

/// `ml-dsa`'s FIPS 204 ML-DSA.Verify (empty context) of `sig` over `msg`.
fn ml_dsa_verifies(spec: pb::KeySpec, spki_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    use spki::DecodePublicKey as _;
    macro_rules! verify {
        ($p:ty) => {{
            let vk = ml_dsa::VerifyingKey::<$p>::from_public_key_der(spki_der)
                .expect("ml-dsa reads kmsd's SPKI");
            match ml_dsa::Signature::<$p>::try_from(sig) {
                Ok(sig) => vk.verify_with_context(msg, &[], &sig),
                Err(_) => false,
            }
        }};
    }
    match spec {
        pb::KeySpec::MlDsa44 => verify!(ml_dsa::MlDsa44),
        pb::KeySpec::MlDsa65 => verify!(ml_dsa::MlDsa65),
        pb::KeySpec::MlDsa87 => verify!(ml_dsa::MlDsa87),
        other => panic!("not ML-DSA: {other:?}"),
    }
}

/// `ml-dsa`'s FIPS 204 mu (external mu) of `msg` for the key, empty
/// context.
fn ml_dsa_mu(spec: pb::KeySpec, spki_der: &[u8], msg: &[u8]) -> Vec<u8> {
    use digest::Update as _;
    use spki::DecodePublicKey as _;
    macro_rules! mu {
        ($p:ty) => {{
            let vk = ml_dsa::VerifyingKey::<$p>::from_public_key_der(spki_der)
                .expect("ml-dsa reads kmsd's SPKI");
            vk.compute_mu(
                |h| {
                    h.update(msg);
                    Ok(())
                },
                &[],
            )
            .expect("mu")
            .to_vec()
        }};
    }
    match spec {
        pb::KeySpec::MlDsa44 => mu!(ml_dsa::MlDsa44),
        pb::KeySpec::MlDsa65 => mu!(ml_dsa::MlDsa65),
        pb::KeySpec::MlDsa87 => mu!(ml_dsa::MlDsa87),
        other => panic!("not ML-DSA: {other:?}"),
    }
}

#[tokio::test]
async fn ml_dsa_signatures_verify_with_another_implementation() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // (spec, NIST OID, public key length, signature length: FIPS 204)
    let cases = [
        (pb::KeySpec::MlDsa44, "2.16.840.1.101.3.4.3.17", 1312, 2420),
        (pb::KeySpec::MlDsa65, "2.16.840.1.101.3.4.3.18", 1952, 3309),
        (pb::KeySpec::MlDsa87, "2.16.840.1.101.3.4.3.19", 2592, 4627),
    ];
    let alg = Alg::MlDsaShake256;
    for (spec, oid, pk_len, sig_len) in cases {
        let key = create_asym_key(&mut c, spec, pb::KeyUsageType::SignVerify).await;
        let public = get_public_key(&mut c, &key).await;
        assert_eq!(public.signing_algorithms, vec![alg as i32], "{spec:?}");
        let (got_oid, raw) = spki_parts(&public.public_key);
        assert_eq!(got_oid, oid, "{spec:?}");
        assert_eq!(raw.len(), pk_len, "{spec:?}");
        let aws_lc_alg = match spec {
            pb::KeySpec::MlDsa44 => &aws_lc_rs::signature::ML_DSA_44,
            pb::KeySpec::MlDsa65 => &aws_lc_rs::signature::ML_DSA_65,
            _ => &aws_lc_rs::signature::ML_DSA_87,
        };
        let aws_lc_verifies = |msg: &[u8], sig: &[u8]| {
            aws_lc_rs::signature::UnparsedPublicKey::new(aws_lc_alg, &raw)
                .verify(msg, sig)
                .is_ok()
        };

        for len in [1, 1000, 4096] {
            let message = message_for(alg, len);
            // RAW: ML-DSA of the message itself, empty context.
            let out = sign(&mut c, &key, alg, pb::MessageType::Raw, &message).await;
            assert_eq!(out.signature.len(), sig_len, "{spec:?}");
            assert!(
                ml_dsa_verifies(spec, &public.public_key, &message, &out.signature),
                "ml-dsa rejects kmsd's {spec:?} RAW signature of {len} bytes"
            );
            let mut changed = message.clone();
            changed[0] ^= 0x01;
            assert!(!ml_dsa_verifies(
                spec,
                &public.public_key,
                &changed,
                &out.signature
            ));

            // EXTERNAL_MU: the caller's mu; the signature is one over the
            // message.
            let mu = ml_dsa_mu(spec, &public.public_key, &message);
            assert_eq!(mu.len(), 64);
            let out = sign(&mut c, &key, alg, pb::MessageType::ExternalMu, &mu).await;
            assert_eq!(out.signature.len(), sig_len, "{spec:?}");
            assert!(
                aws_lc_verifies(&message, &out.signature),
                "aws-lc-rs rejects kmsd's {spec:?} EXTERNAL_MU signature"
            );
            assert!(!aws_lc_verifies(&changed, &out.signature));
            // kmsd verifies it both ways too.
            for (mt, m) in [
                (pb::MessageType::ExternalMu, mu.as_slice()),
                (pb::MessageType::Raw, message.as_slice()),
            ] {
                let v = try_verify(&mut c, &key, alg, mt, m, &out.signature)
                    .await
                    .unwrap_or_else(|e| panic!("kmsd Verify {spec:?} {mt:?}: {e:?}"));
                assert!(v.signature_valid);
            }
        }
    }
}

#[tokio::test]
async fn ml_kem_encapsulation_by_another_implementation_decapsulates_through_kmsd() {
    use ml_kem::pkcs8::DecodePublicKey as _;
    use ml_kem::Encapsulate as _;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    // (spec, NIST OID, encapsulation key length, ciphertext length: FIPS 203)
    let cases = [
        (pb::KeySpec::MlKem512, "2.16.840.1.101.3.4.4.1", 800, 768),
        (pb::KeySpec::MlKem768, "2.16.840.1.101.3.4.4.2", 1184, 1088),
        (pb::KeySpec::MlKem1024, "2.16.840.1.101.3.4.4.3", 1568, 1568),
    ];
    let alg = pb::EncapsulationAlgorithmSpec::MlKem as i32;
    for (spec, oid, ek_len, ct_len) in cases {
        let key = create_asym_key(&mut c, spec, pb::KeyUsageType::EncapsulateDecapsulate).await;
        let public = get_public_key(&mut c, &key).await;
        assert_eq!(
            public.key_usage,
            pb::KeyUsageType::EncapsulateDecapsulate as i32
        );
        assert_eq!(public.key_encapsulation_algorithms, vec![alg], "{spec:?}");
        let (got_oid, raw) = spki_parts(&public.public_key);
        assert_eq!(got_oid, oid, "{spec:?}");
        assert_eq!(raw.len(), ek_len, "{spec:?}");

        macro_rules! encapsulate {
            ($p:ty) => {{
                let ek = ml_kem::EncapsulationKey::<$p>::from_public_key_der(&public.public_key)
                    .expect("ml-kem reads kmsd's SPKI");
                let (ct, k) = ek.encapsulate();
                (ct.to_vec(), k.to_vec())
            }};
        }
        let (ciphertext, secret) = match spec {
            pb::KeySpec::MlKem512 => encapsulate!(ml_kem::MlKem512),
            pb::KeySpec::MlKem768 => encapsulate!(ml_kem::MlKem768),
            _ => encapsulate!(ml_kem::MlKem1024),
        };
        assert_eq!(ciphertext.len(), ct_len);
        let out = c
            .decapsulate(pb::DecapsulateRequest {
                key_id: key.clone(),
                shared_secret_ciphertext_blob: ciphertext,
                encapsulation_algorithm: alg,
                grant_tokens: vec![],
            })
            .await
            .unwrap_or_else(|e| panic!("decapsulate ml-kem's {spec:?} ciphertext: {e:?}"))
            .into_inner();
        assert_eq!(out.key_id, key_arn_of(ACCOUNT_A, &key));
        assert_eq!(out.encapsulation_algorithm, alg);
        assert_eq!(
            out.shared_secret, secret,
            "{spec:?}: kmsd and ml-kem disagree"
        );
    }
}

#[tokio::test]
async fn ed25519ph_signatures_verify_as_rfc_8032_hash_eddsa() {
    use sha2::Digest as _;
    use spki::DecodePublicKey as _;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let s = Scratch::new();
    let key = create_asym_key(
        &mut c,
        pb::KeySpec::EccNistEdwards25519,
        pb::KeyUsageType::SignVerify,
    )
    .await;
    let public = get_public_key(&mut c, &key).await;
    let (oid, raw) = spki_parts(&public.public_key);
    assert_eq!(oid, "1.3.101.112", "id-Ed25519");
    assert_eq!(raw.len(), 32);
    let mut listed = public.signing_algorithms.clone();
    listed.sort_unstable();
    assert_eq!(
        listed,
        vec![Alg::Ed25519Sha512 as i32, Alg::Ed25519PhSha512 as i32]
    );
    let vk = ed25519_dalek::VerifyingKey::from_public_key_der(&public.public_key)
        .expect("ed25519-dalek reads kmsd's SPKI");

    for len in [1, 1000, 4096] {
        let message = message_for(Alg::Ed25519PhSha512, len);
        let msg = s.write("msg.bin", &message);
        let digest = s.openssl(&["dgst", "-sha512", "-binary", &msg]);
        assert_eq!(digest.len(), 64);
        let out = sign(
            &mut c,
            &key,
            Alg::Ed25519PhSha512,
            pb::MessageType::Digest,
            &digest,
        )
        .await;
        let sig = ed25519_dalek::Signature::from_slice(&out.signature).expect("64 bytes");
        vk.verify_prehashed(sha2::Sha512::new().chain_update(&message), None, &sig)
            .unwrap_or_else(|e| {
                panic!("kmsd's Ed25519ph signature ({len} bytes) does not verify: {e}")
            });
        let mut changed = message.clone();
        changed[0] ^= 0x01;
        assert!(vk
            .verify_prehashed(sha2::Sha512::new().chain_update(&changed), None, &sig)
            .is_err());
        // HashEdDSA is domain-separated from pure Ed25519: the signature is
        // not a pure one over the digest (nor over the message), which
        // openssl checks.
        let pem = s.public_pem("ed", &public.public_key);
        let sig_file = s.write("ph.sig", &out.signature);
        for signed in [&digest, &message] {
            let m = s.write("m.bin", signed);
            assert!(s
                .try_openssl(&[
                    "pkeyutl", "-verify", "-pubin", "-inkey", &pem, "-rawin", "-in", &m,
                    "-sigfile", &sig_file,
                ])
                .is_err());
        }
    }
}
