//! The real binaries: kmsctl against a real `kmsd serve --dev` process
//! (envelope round trip, AWS CLI error shape and exit code), and the
//! data-directory lock that refuses a second daemon.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

/// The kmsctl binary. It belongs to another package of the workspace
/// (`kmsctl/`), so cargo neither builds it for this test nor sets
/// `CARGO_BIN_EXE_kmsctl`; it is found beside kmsd's binary, in the same
/// target directory and profile, where `cargo build --workspace --bins`
/// (which `make test` runs first) puts it.
pub(crate) fn kmsctl_bin() -> PathBuf {
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

pub(crate) fn kmsctl(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(kmsctl_bin())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("run kmsctl")
}

pub(crate) fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "kmsctl failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kmsctl prints JSON")
}

pub(crate) fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[test]
fn envelope_round_trip_through_kmsctl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let _daemon = DaemonProcess::start(dir);

    let created = stdout_json(&kmsctl(dir, &["create-key", "--description", "cli key"]));
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_owned();
    assert_eq!(created["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(created["KeyMetadata"]["KeySpec"], "SYMMETRIC_DEFAULT");

    let out = kmsctl(
        dir,
        &[
            "create-alias",
            "--alias-name",
            "alias/cli",
            "--target-key-id",
            &key_id,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dk = stdout_json(&kmsctl(
        dir,
        &[
            "generate-data-key",
            "--key-id",
            "alias/cli",
            "--key-spec",
            "AES_256",
            "--encryption-context",
            "purpose=backup,team=db",
        ],
    ));
    let plaintext = b64(dk["Plaintext"].as_str().expect("Plaintext"));
    assert_eq!(plaintext.len(), 32);
    assert!(dk["KeyId"].as_str().expect("KeyId").ends_with(&key_id));
    let blob_path = dir.join("dk.bin");
    std::fs::write(
        &blob_path,
        b64(dk["CiphertextBlob"].as_str().expect("blob")),
    )
    .expect("write blob");
    let fileb = format!("fileb://{}", blob_path.display());

    // Decrypt with the context (any order), text output of one field.
    let out = kmsctl(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &fileb,
            "--encryption-context",
            "team=db,purpose=backup",
            "--output",
            "text",
            "--query",
            "Plaintext",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(b64(text.trim()), plaintext);

    // A wrong context: the AWS CLI's error text on stderr, exit code 254.
    let out = kmsctl(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &fileb,
            "--encryption-context",
            "purpose=other",
        ],
    );
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "An error occurred (InvalidCiphertextException) when calling the Decrypt operation"
        ),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // Encrypt / decrypt of a file's bytes.
    let data_path = dir.join("data.txt");
    std::fs::write(&data_path, b"hello from kmsctl").expect("write data");
    let enc = stdout_json(&kmsctl(
        dir,
        &[
            "encrypt",
            "--key-id",
            &key_id,
            "--plaintext",
            &format!("fileb://{}", data_path.display()),
        ],
    ));
    let enc_path = dir.join("data.enc");
    std::fs::write(
        &enc_path,
        b64(enc["CiphertextBlob"].as_str().expect("blob")),
    )
    .expect("write");
    let dec = stdout_json(&kmsctl(
        dir,
        &[
            "decrypt",
            "--ciphertext-blob",
            &format!("fileb://{}", enc_path.display()),
        ],
    ));
    assert_eq!(
        b64(dec["Plaintext"].as_str().expect("Plaintext")),
        b"hello from kmsctl"
    );

    // NotFound for an unknown key id.
    let out = kmsctl(
        dir,
        &[
            "describe-key",
            "--key-id",
            "11111111-2222-3333-4444-555555555555",
        ],
    );
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(NotFoundException)"));
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let first = DaemonProcess::start(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .output()
        .expect("run second kmsd");
    assert!(!out.status.success(), "the second daemon must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another kmsd"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The first daemon still serves.
    let status = first.terminate();
    assert!(status.success(), "{status}");
}
