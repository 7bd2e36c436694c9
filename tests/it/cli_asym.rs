//! kmsctl's asymmetric, HMAC and ML-KEM commands against a real
//! `kmsd serve --dev` process, the way `aws kms` scripts use them: sign
//! with kmsctl and verify with kmsctl and with openssl (from kmsctl
//! get-public-key's output), data key pairs decrypted through kmsctl and
//! used by openssl, MACs, ECDH against openssl's, and ML-KEM round trips.
//! Every blob goes through files (`fileb://`) and `--output text --query`,
//! as a shell script would pass it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

/// The kmsctl binary, beside kmsd's (see `cli.rs`: `cargo build
/// --workspace --bins` puts it there; `make test` runs that first).
fn kmsctl_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_kmsd"))
        .with_file_name(format!("kmsctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} not found: build the workspace's binaries first \
         (`cargo build --workspace --bins`; `make test` does)",
        bin.display()
    );
    bin
}

fn kmsctl(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(kmsctl_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run kmsctl")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "kmsctl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: Output) -> serde_json::Value {
    serde_json::from_slice(&ok(out).stdout).expect("kmsctl prints JSON")
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .expect("base64")
}

/// `--output text --query FIELD` of a blob field, base64-decoded (the
/// shell's `| base64 -d`).
fn text_blob(data_dir: &Path, args: &[&str], field: &str) -> Vec<u8> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--output", "text", "--query", field]);
    let out = ok(kmsctl(data_dir, &all));
    b64(&String::from_utf8(out.stdout).expect("utf8"))
}

/// Writes `bytes` to `dir/name` and returns `fileb://dir/name`.
fn fileb(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    format!("fileb://{}", path.display())
}

fn openssl(args: &[&str]) -> Output {
    let out = Command::new("openssl").args(args).output().expect(
        "run openssl (the Makefile's `make deps` installs it; tests need the command-line tool)",
    );
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A DER SubjectPublicKeyInfo as a PEM file openssl reads.
fn spki_pem(dir: &Path, name: &str, der: &[u8]) -> String {
    let der_path = dir.join(format!("{name}.der"));
    std::fs::write(&der_path, der).expect("write");
    let pem = dir.join(format!("{name}.pem"));
    openssl(&[
        "pkey",
        "-pubin",
        "-inform",
        "DER",
        "-in",
        der_path.to_str().expect("path"),
        "-out",
        pem.to_str().expect("path"),
    ]);
    pem.to_str().expect("path").to_owned()
}

fn create_key(dir: &Path, spec: &str, usage: &str) -> String {
    let created = json(kmsctl(
        dir,
        &["create-key", "--key-spec", spec, "--key-usage", usage],
    ));
    assert_eq!(created["KeyMetadata"]["KeySpec"], spec);
    assert_eq!(created["KeyMetadata"]["KeyUsage"], usage);
    created["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_owned()
}

#[test]
fn signatures_from_kmsctl_verify_with_kmsctl_and_openssl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let message = b"a release manifest, signed by kmsd\n";
    let msg = fileb(dir, "msg", message);
    let bad_msg = fileb(dir, "bad-msg", b"a release manifest, altered\n");
    let msg_path = dir.join("msg");

    // (key spec, signing algorithm, openssl dgst options)
    for (spec, alg, dgst) in [
        ("ECC_NIST_P256", "ECDSA_SHA_256", &["-sha256"][..]),
        ("ECC_NIST_P384", "ECDSA_SHA_384", &["-sha384"][..]),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", &["-sha256"][..]),
        (
            "RSA_2048",
            "RSASSA_PSS_SHA_256",
            &[
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ][..],
        ),
    ] {
        let key = create_key(dir, spec, "SIGN_VERIFY");
        let signed = json(kmsctl(
            dir,
            &[
                "sign",
                "--key-id",
                &key,
                "--message",
                &msg,
                "--message-type",
                "RAW",
                "--signing-algorithm",
                alg,
            ],
        ));
        assert!(signed["KeyId"].as_str().expect("KeyId").ends_with(&key));
        assert_eq!(signed["SigningAlgorithm"], alg);
        // The script form: `--output text --query Signature | base64 -d`.
        let signature = text_blob(
            dir,
            &[
                "sign",
                "--key-id",
                &key,
                "--message",
                &msg,
                "--message-type",
                "RAW",
                "--signing-algorithm",
                alg,
            ],
            "Signature",
        );
        let sig = fileb(dir, "sig", &signature);

        let verified = json(kmsctl(
            dir,
            &[
                "verify",
                "--key-id",
                &key,
                "--message",
                &msg,
                "--message-type",
                "RAW",
                "--signature",
                &sig,
                "--signing-algorithm",
                alg,
            ],
        ));
        assert_eq!(verified["SignatureValid"], true, "{spec} {alg}");
        assert_eq!(verified["SigningAlgorithm"], alg);

        // Another message: AWS's error, exit 254, nothing on stdout.
        let out = kmsctl(
            dir,
            &[
                "verify",
                "--key-id",
                &key,
                "--message",
                &bad_msg,
                "--signature",
                &sig,
                "--signing-algorithm",
                alg,
            ],
        );
        assert_eq!(out.status.code(), Some(254), "{spec} {alg}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "An error occurred (KMSInvalidSignatureException) when calling the Verify operation"
            ),
            "{err}"
        );
        assert!(out.stdout.is_empty());

        // openssl verifies the signature against get-public-key's output.
        let der = text_blob(dir, &["get-public-key", "--key-id", &key], "PublicKey");
        let pem = spki_pem(dir, "pub", &der);
        let sig_path = dir.join("sig");
        let mut args = vec!["dgst"];
        args.extend_from_slice(dgst);
        args.extend_from_slice(&[
            "-verify",
            &pem,
            "-signature",
            sig_path.to_str().expect("path"),
            msg_path.to_str().expect("path"),
        ]);
        let out = openssl(&args);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
            "{spec} {alg}"
        );
    }
}

#[test]
fn get_public_key_prints_aws_fields() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let key = create_key(dir, "RSA_3072", "ENCRYPT_DECRYPT");
    let pk = json(kmsctl(dir, &["get-public-key", "--key-id", &key]));
    assert_eq!(pk["KeySpec"], "RSA_3072");
    assert_eq!(pk["CustomerMasterKeySpec"], "RSA_3072");
    assert_eq!(pk["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(
        pk["EncryptionAlgorithms"],
        serde_json::json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
    );
    assert!(pk.get("SigningAlgorithms").is_none(), "{pk}");
    let der = b64(pk["PublicKey"].as_str().expect("PublicKey"));
    let pem = spki_pem(dir, "rsa", &der);
    let out = openssl(&["pkey", "-pubin", "-in", &pem, "-noout", "-text"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3072 bit"));

    // openssl encrypts under it with OAEP SHA-256; kmsctl decrypt with
    // --key-id and --encryption-algorithm gives the plaintext back.
    let pt = dir.join("pt");
    std::fs::write(&pt, b"sealed by openssl").expect("write");
    let ct = dir.join("ct");
    openssl(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        &pem,
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-in",
        pt.to_str().expect("path"),
        "-out",
        ct.to_str().expect("path"),
    ]);
    let plain = text_blob(
        dir,
        &[
            "decrypt",
            "--key-id",
            &key,
            "--ciphertext-blob",
            &format!("fileb://{}", ct.display()),
            "--encryption-algorithm",
            "RSAES_OAEP_SHA_256",
        ],
        "Plaintext",
    );
    assert_eq!(plain, b"sealed by openssl");
}

#[test]
fn data_key_pairs_decrypt_through_kmsctl_and_work_with_openssl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let key = create_key(dir, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");

    let pair = json(kmsctl(
        dir,
        &[
            "generate-data-key-pair",
            "--key-id",
            &key,
            "--key-pair-spec",
            "ECC_NIST_P256",
            "--encryption-context",
            "purpose=signing,team=release",
        ],
    ));
    assert_eq!(pair["KeyPairSpec"], "ECC_NIST_P256");
    assert!(pair["KeyId"].as_str().expect("KeyId").ends_with(&key));
    let private = b64(pair["PrivateKeyPlaintext"].as_str().expect("plaintext"));
    let public = b64(pair["PublicKey"].as_str().expect("public"));
    let sealed = b64(pair["PrivateKeyCiphertextBlob"].as_str().expect("blob"));

    // decrypt of the sealed private key (context in any order) gives the
    // same PKCS#8.
    let blob = fileb(dir, "priv.enc", &sealed);
    let opened = text_blob(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &blob,
            "--encryption-context",
            "team=release,purpose=signing",
        ],
        "Plaintext",
    );
    assert_eq!(opened, private);
    // Without the context: InvalidCiphertextException.
    let out = kmsctl(dir, &["decrypt", "--ciphertext-blob", &blob]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(InvalidCiphertextException)"));

    // openssl signs with the private key; the signature verifies against
    // the public key.
    let priv_path = dir.join("priv.der");
    std::fs::write(&priv_path, &opened).expect("write");
    let pub_pem = spki_pem(dir, "pair-pub", &public);
    let data = dir.join("data");
    std::fs::write(&data, b"signed with a data key pair").expect("write");
    let sig = dir.join("pair.sig");
    openssl(&[
        "dgst",
        "-sha256",
        "-keyform",
        "DER",
        "-sign",
        priv_path.to_str().expect("path"),
        "-out",
        sig.to_str().expect("path"),
        data.to_str().expect("path"),
    ]);
    let out = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &pub_pem,
        "-signature",
        sig.to_str().expect("path"),
        data.to_str().expect("path"),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));

    // Without plaintext: no PrivateKeyPlaintext; the decrypted private key
    // belongs to the public key returned.
    let pair = json(kmsctl(
        dir,
        &[
            "generate-data-key-pair-without-plaintext",
            "--key-id",
            &key,
            "--key-pair-spec",
            "RSA_2048",
        ],
    ));
    assert_eq!(pair["KeyPairSpec"], "RSA_2048");
    assert!(pair.get("PrivateKeyPlaintext").is_none(), "{pair}");
    let public = b64(pair["PublicKey"].as_str().expect("public"));
    let blob = fileb(
        dir,
        "rsa-priv.enc",
        &b64(pair["PrivateKeyCiphertextBlob"].as_str().expect("blob")),
    );
    let opened = text_blob(dir, &["decrypt", "--ciphertext-blob", &blob], "Plaintext");
    let rsa_priv = dir.join("rsa-priv.der");
    std::fs::write(&rsa_priv, &opened).expect("write");
    let derived = openssl(&[
        "pkey",
        "-inform",
        "DER",
        "-in",
        rsa_priv.to_str().expect("path"),
        "-pubout",
        "-outform",
        "DER",
    ]);
    assert_eq!(derived.stdout, public);
}

#[test]
fn macs_round_trip_and_a_wrong_mac_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let key = create_key(dir, "HMAC_256", "GENERATE_VERIFY_MAC");
    let msg = fileb(dir, "m", b"webhook body");
    let mac = text_blob(
        dir,
        &[
            "generate-mac",
            "--key-id",
            &key,
            "--message",
            &msg,
            "--mac-algorithm",
            "HMAC_SHA_256",
        ],
        "Mac",
    );
    assert_eq!(mac.len(), 32);
    let mac_file = fileb(dir, "mac", &mac);
    let v = json(kmsctl(
        dir,
        &[
            "verify-mac",
            "--key-id",
            &key,
            "--message",
            &msg,
            "--mac-algorithm",
            "HMAC_SHA_256",
            "--mac",
            &mac_file,
        ],
    ));
    assert_eq!(v["MacValid"], true);
    assert_eq!(v["MacAlgorithm"], "HMAC_SHA_256");

    let mut wrong = mac.clone();
    wrong[0] ^= 1;
    let wrong_file = fileb(dir, "wrong-mac", &wrong);
    let out = kmsctl(
        dir,
        &[
            "verify-mac",
            "--key-id",
            &key,
            "--message",
            &msg,
            "--mac-algorithm",
            "HMAC_SHA_256",
            "--mac",
            &wrong_file,
        ],
    );
    assert_eq!(out.status.code(), Some(254));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "An error occurred (KMSInvalidMacException) when calling the VerifyMac operation"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A MAC key cannot sign: InvalidKeyUsageException.
    let out = kmsctl(
        dir,
        &[
            "sign",
            "--key-id",
            &key,
            "--message",
            &msg,
            "--signing-algorithm",
            "ECDSA_SHA_256",
        ],
    );
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(InvalidKeyUsageException)"));
}

#[test]
fn derive_shared_secret_agrees_with_openssl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let key = create_key(dir, "ECC_NIST_P256", "KEY_AGREEMENT");

    let peer_key = dir.join("peer.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        peer_key.to_str().expect("path"),
    ]);
    let peer_pub = dir.join("peer.der");
    openssl(&[
        "pkey",
        "-in",
        peer_key.to_str().expect("path"),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        peer_pub.to_str().expect("path"),
    ]);
    let derived = json(kmsctl(
        dir,
        &[
            "derive-shared-secret",
            "--key-id",
            &key,
            "--key-agreement-algorithm",
            "ECDH",
            "--public-key",
            &format!("fileb://{}", peer_pub.display()),
        ],
    ));
    assert_eq!(derived["KeyAgreementAlgorithm"], "ECDH");
    assert_eq!(derived["KeyOrigin"], "AWS_KMS");
    let secret = b64(derived["SharedSecret"].as_str().expect("secret"));

    let kms_pub = text_blob(dir, &["get-public-key", "--key-id", &key], "PublicKey");
    let kms_pem = spki_pem(dir, "kms-pub", &kms_pub);
    let out = openssl(&[
        "pkeyutl",
        "-derive",
        "-inkey",
        peer_key.to_str().expect("path"),
        "-peerkey",
        &kms_pem,
    ]);
    assert_eq!(secret, out.stdout);
}

#[test]
fn ml_kem_encapsulate_and_decapsulate_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);
    let key = create_key(dir, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE");
    let enc = json(kmsctl(
        dir,
        &[
            "encapsulate",
            "--key-id",
            &key,
            "--encapsulation-algorithm",
            "ML_KEM",
        ],
    ));
    assert_eq!(enc["EncapsulationAlgorithm"], "ML_KEM");
    let secret = b64(enc["SharedSecret"].as_str().expect("secret"));
    let ct = b64(enc["SharedSecretCiphertextBlob"].as_str().expect("ct"));
    assert_eq!((secret.len(), ct.len()), (32, 1088));
    let ct_file = fileb(dir, "ct", &ct);
    let again = text_blob(
        dir,
        &[
            "decapsulate",
            "--key-id",
            &key,
            "--shared-secret-ciphertext-blob",
            &ct_file,
            "--encapsulation-algorithm",
            "ML_KEM",
        ],
        "SharedSecret",
    );
    assert_eq!(again, secret);
}
