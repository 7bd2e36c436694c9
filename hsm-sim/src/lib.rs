//! hsm-sim: one node of a simulated HSM cluster (a stand-in for an AWS
//! CloudHSM cluster), the key store behind kmsd's custom key stores.
//!
//! A node serves two gRPC services (proto/hsm/v1/hsm.proto) on one TLS
//! listener: `Hsm` for the crypto user `kmsuser` (log in with the
//! password, then generate, use, find and destroy 256-bit AES keys by
//! handle; key material never leaves a node in any response) and
//! `Cluster` for the other nodes (replication of created and destroyed
//! keys, and snapshots for catch-up), which only callers with a node
//! certificate of the same cluster CA may use.
//!
//! # Files
//!
//! Cluster directory (`hsm-sim init`, mode 0700; shared by all nodes):
//! - `ca.pem`: the cluster CA certificate (PEM), the trust anchor clients
//!   verify nodes with (CreateCustomKeyStore's TrustAnchorCertificate).
//! - `ca.key` (0600): its ECDSA P-256 key (PKCS#8 PEM); each node issues
//!   its own certificate with it at start.
//! - `cluster.key` (0600): 32 raw random bytes, the AES-256-GCM key that
//!   wraps key copies travelling between nodes.
//! - `cluster.json` (0600): `{"cluster_id": "...", "kmsuser_password_hash":
//!   "$argon2id$v=19$m=19456,t=2,p=1$..."}` (a PHC string; the password is
//!   never stored).
//!
//! Node data directory (`--data-dir`, mode 0700; one per node):
//! - `master.key` (0600): 32 raw random bytes made at first start; the
//!   AES-256-GCM key sealing this node's copies of key material.
//! - `keys/<handle>` (0600): one JSON object per live key,
//!   `{"handle": "<32 hex>", "label": "...", "created_ms": <i64>,
//!   "sealed_material": "<hex>"}`, where `sealed_material` is
//!   `nonce (12) || ciphertext (32) || tag (16)` of the 32-byte material
//!   under `master.key` with additional data `cluster_id || handle` (the
//!   UTF-8 bytes of both, concatenated).
//! - `destroyed/<handle>`: an empty tombstone per destroyed key; a
//!   tombstone always wins over a key file or a peer's copy.
//! - `user.json`: `{"failures": <u32>, "locked": <bool>}`, the `kmsuser`
//!   lockout state (`hsm-sim unlock-user` resets it).
//!
//! Each write goes to `.tmp-<name>`, is fsynced, renamed over the target,
//! and the directory fsynced: a crash leaves the old or the new file.
//!
//! Between nodes a key travels as `WrappedKey`: the same
//! `nonce || ciphertext || tag` form under `cluster.key`, additional data
//! `cluster_id || handle`.
//!
//! # Module map
//! - [`secret`]: secret newtypes (keys, tokens, password).
//! - [`crypto`]: AES-256-GCM sealing.
//! - [`fsutil`], [`store`]: crash-safe files, the data directory.
//! - [`cluster`]: `init`, the cluster directory, the password hash.
//! - [`tls`]: node certificates and peer identity.
//! - [`node`]: a node's state and operations (sessions, keys,
//!   replication, catch-up).
//! - [`service`]: the gRPC services over [`node`].
//! - [`server`]: the `serve` command.

#![forbid(unsafe_code)]

pub mod cluster;
pub mod crypto;
pub mod fsutil;
pub mod node;
pub mod secret;
pub mod server;
pub mod service;
pub mod store;
pub mod tls;
