//! kmsd integration tests: real servers (in-process or the real `kmsd`
//! binary) on ephemeral 127.0.0.1 ports, real mutual TLS, real RocksDB in
//! temp dirs. One test binary for all of them, because every binary that
//! links RocksDB is slow to link.

mod harness;

mod accounts;
mod at_rest;
mod authz_every_rpc;
mod bad_input;
mod bulk_load;
mod cli;
mod cross_account;
mod deletion;
mod door;
mod envelope;
mod grants;
mod health;
mod identity_policies;
mod key_policies;
mod keys_aliases_tags;
mod restart;
mod rotation;
mod tidy;
