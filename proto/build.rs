//! Generates the gRPC code (client and server stubs) for `kms/v1/*.proto` and `hsm/v1/hsm.proto`
//! and a file-descriptor set that the server hands to gRPC reflection (so
//! `grpcurl` can list and call methods).

#![forbid(unsafe_code)]

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Messages that carry plaintext secrets or a key store password get a
    // hand-written, redacting `Debug` (src/lib.rs) instead of prost's
    // derived one.
    let redacted = [
        "kms.v1.EncryptRequest",
        "kms.v1.DecryptResponse",
        "kms.v1.GenerateDataKeyResponse",
        "kms.v1.GenerateRandomResponse",
        "kms.v1.CreateCustomKeyStoreRequest",
        "kms.v1.UpdateCustomKeyStoreRequest",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kms_descriptor.bin"))
        .skip_debug(redacted)
        .compile_protos(&["kms/v1/kms.proto", "kms/v1/identity.proto"], &["."])?;
    // hsm-sim's API (kmsd's HSM backend is its client). The session token
    // and key-operation payloads get a redacting `Debug` too.
    tonic_prost_build::configure()
        .skip_debug([
            "hsm.v1.LoginRequest",
            "hsm.v1.LoginResponse",
            "hsm.v1.LogoutRequest",
            "hsm.v1.GenerateKeyRequest",
            "hsm.v1.EncryptRequest",
            "hsm.v1.DecryptRequest",
            "hsm.v1.DecryptResponse",
            "hsm.v1.FindKeysRequest",
            "hsm.v1.DestroyKeyRequest",
            "hsm.v1.WrappedKey",
            "hsm.v1.BatchRequest",
            "hsm.v1.BatchResult",
        ])
        .compile_protos(&["hsm/v1/hsm.proto"], &["."])?;
    // Region-to-Region replication (kmsd ↔ kmsd). Material travels only
    // HPKE-sealed, but the sealed blobs and secrets get a redacting Debug
    // anyway, so no log line carries them.
    tonic_prost_build::configure()
        .skip_debug(["replication.v1.WrappedSecret"])
        .compile_protos(&["replication/v1/replication.proto"], &["."])?;
    // Only the .proto files: the crate's own sources do not feed codegen.
    println!("cargo:rerun-if-changed=kms");
    println!("cargo:rerun-if-changed=hsm");
    println!("cargo:rerun-if-changed=replication");
    Ok(())
}
