//! kmsd: a self-hosted key management service that serves the AWS KMS API
//! over gRPC with mutual TLS. See ARCHITECTURE.md for the map.

#![forbid(unsafe_code)]

pub mod authz;
pub mod backend;
pub mod bench;
pub mod ciphertext;
pub mod clock;
pub mod crypto;
pub mod ctl;
pub mod error;
pub mod files;
pub mod kms;
pub mod model;
pub mod pki;
pub mod proto;
pub mod secret;
pub mod server;
pub mod service;
pub mod store;
