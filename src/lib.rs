//! kmsd: a self-hosted key management service that serves the AWS KMS API
//! over gRPC with mutual TLS. See ARCHITECTURE.md for the map.

#![forbid(unsafe_code)]

pub mod api;
pub mod authz;
pub mod backend;
pub mod ciphertext;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod files;
pub mod kms;
pub mod model;
pub mod pki;
pub mod replication;
pub mod secret;
pub mod server;
pub mod service;
pub mod store;
pub mod testing;

/// The generated gRPC code and the proto-enum ⇄ AWS spelling table, from
/// the `kms-proto` crate (shared with the clients), re-exported so that
/// `kmsd::proto::kms::v1` paths keep working.
pub use kms_proto as proto;
