//! The BYOK example scripts (`examples/byok/*.sh`: the AWS "Importing key
//! material" procedure with kmsctl and openssl) run unchanged against a
//! real `kmsd serve --dev` process, the way a user runs them against
//! `make run`'s daemon: the built kmsctl first on PATH, KMS_DATA_DIR
//! pointing at the daemon's data directory. Each script checks its own
//! results and exits non-zero on the first failed check; a failure here
//! prints the script's output (its steps and the failed check) and the
//! daemon's stderr.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Runs `examples/byok/SCRIPT` with `sh` against a fresh daemon and
/// asserts that it exits 0 and reaches its last step.
fn run_example(script: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/byok")
        .join(script);
    assert!(path.is_file(), "{} missing", path.display());
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir(&scratch).expect("scratch dir");
    let daemon = DaemonProcess::start(&data);

    // The built kmsctl, not some other one, is the `kmsctl` the script finds.
    let bin_dir = kmsctl_bin()
        .parent()
        .expect("kmsctl's directory")
        .to_owned();
    let mut search_path = OsString::from(bin_dir.as_os_str());
    if let Some(inherited) = std::env::var_os("PATH") {
        search_path.push(":");
        search_path.push(inherited);
    }
    let out = Command::new("sh")
        .arg(&path)
        .env("PATH", search_path)
        .env("KMS_DATA_DIR", &data)
        // Only the data dir says where the daemon is.
        .env_remove("KMS_ENDPOINT")
        .env_remove("KMS_CA_CERT")
        .env_remove("KMS_CLIENT_CERT")
        .env_remove("KMS_CLIENT_KEY")
        .env_remove("KMSCTL")
        .env_remove("OPENSSL")
        .env("TMPDIR", &scratch)
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}).\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}\n--- kmsd stderr:\n{}",
        out.status,
        daemon.stderr()
    );
    let name = script.trim_end_matches(".sh");
    assert!(
        stderr.contains(&format!("==> {name}: OK")),
        "{script} exited 0 without reaching its last step:\n{stderr}"
    );
    // The script removes its own working directory.
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .expect("read scratch")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{script} left {left:?} behind");
}

#[test]
fn byok_01_symmetric_material_wrapped_with_rsaes_oaep_sha_256() {
    run_example("01-symmetric.sh");
}

#[test]
fn byok_02_rsa_private_key_wrapped_with_rsa_aes_key_wrap_then_signs() {
    run_example("02-rsa-signing.sh");
}

#[test]
fn byok_03_hmac_material_macs_like_openssl() {
    run_example("03-hmac.sh");
}

#[test]
fn byok_04_delete_and_reimport_same_material() {
    run_example("04-expiry-reimport.sh");
}
