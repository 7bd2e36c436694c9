//! Generates the gRPC code (client and server stubs) for `kms/v1/*.proto`
//! and a file-descriptor set that the server hands to gRPC reflection (so
//! `grpcurl` can list and call methods).

#![forbid(unsafe_code)]

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Messages that carry plaintext secrets get a hand-written, redacting
    // `Debug` (src/lib.rs) instead of prost's derived one.
    let redacted = [
        "kms.v1.EncryptRequest",
        "kms.v1.DecryptResponse",
        "kms.v1.GenerateDataKeyResponse",
        "kms.v1.GenerateRandomResponse",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("kms_descriptor.bin"))
        .skip_debug(redacted)
        .compile_protos(&["kms/v1/kms.proto", "kms/v1/identity.proto"], &["."])?;
    // Only the .proto files: the crate's own sources do not feed codegen.
    println!("cargo:rerun-if-changed=kms");
    Ok(())
}
