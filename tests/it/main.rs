//! kmsd integration tests: real servers (in-process or the real `kmsd`
//! binary) on ephemeral 127.0.0.1 ports, real mutual TLS, real RocksDB in
//! temp dirs. One test binary for all of them, because every binary that
//! links RocksDB is slow to link.
//!
//! `harness` starts servers and daemons; `door` is the door-neutral client
//! that scenarios listed in `per_door!` run through (one test per door);
//! `tidy` checks the architecture rules by reading `src/`. Background jobs
//! are driven by the manual clock and awaited through the core's pass
//! signal (`TestServer::background_pass`): no test sleeps.

mod harness;

mod accounts;
mod asym_authz;
mod asym_interop;
mod asym_usage;
mod asymmetric;
mod at_rest;
mod authz_every_rpc;
mod bad_input;
mod bench;
mod bulk_load;
mod byok;
mod byok_authz;
mod byok_examples;
mod cli;
mod cli_asym;
mod cli_hsm;
mod cross_account;
mod deletion;
mod door;
mod envelope;
mod grants;
mod health;
mod hsm_backend;
mod hsm_cluster;
mod hsm_core;
mod hsm_failover;
mod hsm_keystore;
mod hsm_kms;
mod hsm_scan;
mod identity_policies;
mod key_policies;
mod keys_aliases_tags;
mod replication_transport;
mod restart;
mod rotation;
mod security;
mod security_atrest;
mod security_avail;
mod security_crypto;
mod security_transport;
mod tidy;
