//! kms-proto: kmsd's gRPC API as every side of it uses it.
//!
//! - [`kms::v1`]: the generated protobuf messages, client and server stubs
//!   (tonic/prost), and the file-descriptor set for gRPC reflection;
//!   messages that carry plaintext have a redacting `Debug`.
//! - [`aws_enum`]: the one table between the proto enums and the AWS
//!   spellings (`KEY_SPEC_SYMMETRIC_DEFAULT` ⇄ `SYMMETRIC_DEFAULT`,
//!   `GRANT_OPERATION_RE_ENCRYPT_FROM` ⇄ `ReEncryptFrom`), used by kmsd's
//!   service layer and by kmsctl alike.
//! - [`client`]: connecting to kmsd over mutual TLS (endpoint and TLS files
//!   from flags, environment or a data directory), shared by kmsctl,
//!   kms-bench and the integration tests.
//!
//! It depends on neither kmsd nor RocksDB, so the clients build without
//! them; kmsd's core works on its own types and meets these only in its
//! service layer.

#![forbid(unsafe_code)]

pub mod aws_enum;
pub mod client;

/// `kms.v1`: the KeyManagementService API.
// Generated code: not held to the workspace's clippy lints or doc rules.
#[allow(clippy::all, missing_docs)]
pub mod kms {
    pub mod v1 {
        tonic::include_proto!("kms.v1");

        /// Encoded file-descriptor set for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            tonic::include_file_descriptor_set!("kms_descriptor");

        use std::fmt;

        // Hand-written `Debug` for the messages that carry plaintext: the
        // secret fields print as their length only, so a stray `{:?}` in a log
        // line can never leak a data key.
        impl fmt::Debug for EncryptRequest {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("EncryptRequest")
                    .field("key_id", &self.key_id)
                    .field("plaintext", &Redacted(self.plaintext.len()))
                    .field("encryption_context", &self.encryption_context)
                    .field("grant_tokens", &self.grant_tokens.len())
                    .field("encryption_algorithm", &self.encryption_algorithm)
                    .finish()
            }
        }

        impl fmt::Debug for DecryptResponse {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("DecryptResponse")
                    .field("key_id", &self.key_id)
                    .field("plaintext", &Redacted(self.plaintext.len()))
                    .field("encryption_algorithm", &self.encryption_algorithm)
                    .field("key_material_id", &self.key_material_id)
                    .finish()
            }
        }

        impl fmt::Debug for GenerateDataKeyResponse {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("GenerateDataKeyResponse")
                    .field("ciphertext_blob", &self.ciphertext_blob.len())
                    .field("plaintext", &Redacted(self.plaintext.len()))
                    .field("key_id", &self.key_id)
                    .field("key_material_id", &self.key_material_id)
                    .finish()
            }
        }

        impl fmt::Debug for GenerateRandomResponse {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("GenerateRandomResponse")
                    .field("plaintext", &Redacted(self.plaintext.len()))
                    .finish()
            }
        }

        /// Prints `[REDACTED; N bytes]`.
        struct Redacted(usize);

        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "[REDACTED; {} bytes]", self.0)
            }
        }
    }
}
