//! kms-proto: kmsd's gRPC API as every side of it uses it.
//!
//! - [`kms::v1`]: the generated protobuf messages, client and server stubs
//!   (tonic/prost), and the file-descriptor set for gRPC reflection;
//!   messages that carry plaintext have a redacting `Debug`.
//! - [`hsm::v1`]: hsm-sim's API (the simulated HSM cluster), spoken by
//!   hsm-sim nodes to each other and by kmsd's HSM key-material backend;
//!   messages carrying a password, session token or plaintext have a
//!   redacting `Debug`.
//! - [`aws_enum`]: the one table between the proto enums and the AWS
//!   spellings (`KEY_SPEC_SYMMETRIC_DEFAULT` ⇄ `SYMMETRIC_DEFAULT`,
//!   `GRANT_OPERATION_RE_ENCRYPT_FROM` ⇄ `ReEncryptFrom`), used by kmsd's
//!   service layer and by kmsctl alike.
//! - [`client`]: connecting to kmsd over mutual TLS (endpoint and TLS files
//!   from flags, environment or a data directory), shared by kmsctl,
//!   kms-bench and the integration tests.
//! - [`transport`]: the server-side stream wrapper kmsd and kms-bench's
//!   baseline server both serve through (write batching under load).
//!
//! It depends on neither kmsd nor RocksDB, so the clients build without
//! them; kmsd's core works on its own types and meets these only in its
//! service layer.

#![forbid(unsafe_code)]

pub mod aws_enum;
pub mod client;
pub mod transport;

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

        // The kmsuser password (KeyStorePassword) prints as its length only.
        impl fmt::Debug for CreateCustomKeyStoreRequest {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("CreateCustomKeyStoreRequest")
                    .field("custom_key_store_name", &self.custom_key_store_name)
                    .field("cloud_hsm_cluster_id", &self.cloud_hsm_cluster_id)
                    .field(
                        "trust_anchor_certificate",
                        &self.trust_anchor_certificate.as_ref().map(String::len),
                    )
                    .field(
                        "key_store_password",
                        &self.key_store_password.as_ref().map(|p| Redacted(p.len())),
                    )
                    .field("custom_key_store_type", &self.custom_key_store_type)
                    .finish()
            }
        }

        impl fmt::Debug for UpdateCustomKeyStoreRequest {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("UpdateCustomKeyStoreRequest")
                    .field("custom_key_store_id", &self.custom_key_store_id)
                    .field("new_custom_key_store_name", &self.new_custom_key_store_name)
                    .field(
                        "key_store_password",
                        &self.key_store_password.as_ref().map(|p| Redacted(p.len())),
                    )
                    .field("cloud_hsm_cluster_id", &self.cloud_hsm_cluster_id)
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

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn key_store_passwords_never_print() {
                let c = CreateCustomKeyStoreRequest {
                    custom_key_store_name: "ExampleKeyStore".into(),
                    cloud_hsm_cluster_id: Some("cluster-1234567abcd".into()),
                    trust_anchor_certificate: Some("-----BEGIN CERTIFICATE-----".into()),
                    key_store_password: Some("kmsuser-Pa55word".into()),
                    custom_key_store_type: 1,
                };
                let d = format!("{c:?}");
                assert!(
                    d.contains("ExampleKeyStore")
                        && d.contains("cluster-1234567abcd")
                        && d.contains("[REDACTED; 16 bytes]")
                        && !d.contains("Pa55word"),
                    "{d}"
                );
                let u = UpdateCustomKeyStoreRequest {
                    custom_key_store_id: "cks-1".into(),
                    new_custom_key_store_name: None,
                    key_store_password: Some("new-Pa55word".into()),
                    cloud_hsm_cluster_id: None,
                };
                let d = format!("{u:?}");
                assert!(
                    d.contains("cks-1")
                        && d.contains("[REDACTED; 12 bytes]")
                        && !d.contains("Pa55word"),
                    "{d}"
                );
            }
        }
    }
}

/// `hsm.v1`: the hsm-sim node API (`Hsm` for crypto users, `Cluster` between
/// nodes).
#[allow(clippy::all, missing_docs)]
pub mod hsm {
    pub mod v1 {
        tonic::include_proto!("hsm.v1");

        use std::fmt;

        struct Redacted(usize);

        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "[REDACTED; {} bytes]", self.0)
            }
        }

        // Passwords, session tokens and plaintexts print as their length
        // only.
        macro_rules! redacted_debug {
            ($($ty:ident { $($field:ident: $how:ident),* $(,)? })*) => {$(
                impl fmt::Debug for $ty {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.debug_struct(stringify!($ty))
                            $(.field(stringify!($field), &redacted_debug!(@$how self.$field)))*
                            .finish()
                    }
                }
            )*};
            (@secret $e:expr) => { Redacted($e.len()) };
            (@shown $e:expr) => { &$e };
        }

        redacted_debug! {
            LoginRequest { username: shown, password: secret }
            LoginResponse { session: secret }
            LogoutRequest { session: secret }
            GenerateKeyRequest { session: secret, label: shown }
            EncryptRequest { session: secret, handle: shown, plaintext: secret, aad: shown }
            DecryptRequest { session: secret, handle: shown, ciphertext: shown, aad: shown }
            DecryptResponse { plaintext: secret }
            FindKeysRequest { session: secret, label: shown }
            DestroyKeyRequest { session: secret, handle: shown }
            WrappedKey { key: shown, wrapped_material: secret }
            BatchRequest { session: secret, ops: shown }
            BatchResult { code: shown, output: secret }
        }

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn secrets_never_print() {
                let r = LoginRequest {
                    username: "kmsuser".into(),
                    password: "hunter2-secret".into(),
                };
                let d = format!("{r:?}");
                assert!(d.contains("kmsuser") && !d.contains("hunter2"), "{d}");
                let e = EncryptRequest {
                    session: b"sess-token-bytes".to_vec(),
                    handle: "h1".into(),
                    plaintext: b"the-data-key".to_vec(),
                    aad: b"ad".to_vec(),
                };
                let d = format!("{e:?}");
                assert!(
                    !d.contains("115, 101") && d.contains("REDACTED; 12 bytes"),
                    "{d}"
                );
                let p = DecryptResponse {
                    plaintext: b"the-data-key".to_vec(),
                };
                assert_eq!(
                    format!("{p:?}"),
                    "DecryptResponse { plaintext: [REDACTED; 12 bytes] }"
                );
            }
        }
    }
}

/// `replication.v1`: Region-to-Region replication of multi-Region keys
/// (kmsd ↔ kmsd, on the replication listener; docs/multi-region.md).
#[allow(clippy::all, missing_docs)]
pub mod replication {
    pub mod v1 {
        tonic::include_proto!("replication.v1");

        // HPKE-sealed material is not plaintext, but it is nobody's
        // business in a log line either: only its length prints.
        impl std::fmt::Debug for WrappedSecret {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "WrappedSecret([SEALED; {} + {} bytes])",
                    self.enc.len(),
                    self.ciphertext.len()
                )
            }
        }
    }
}
