//! In-process fixtures for kmsd's criterion benchmarks (`benches/`) and
//! integration tests: a dev-mode core opened without serving, a local
//! caller, and the policy request context of a data-plane call.
//!
//! They need kmsd's core, so they live here rather than in kms-bench (which
//! must not depend on kmsd); kms-bench's `fixtures` has the inputs that do
//! not (contexts, policies, a PRNG).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use crate::authz::RequestContext;
use crate::clock::SystemClock;
use crate::kms::{Caller, KmsConfig};
use crate::model::Principal;
use crate::server::{KmsServer, ServerConfig, ServerError};

/// Opens a kmsd data directory in dev mode (dev certificates and root key
/// created on first use) with the system clock, without serving: the core
/// is `server.kms()`. The returned server holds the directory's lock.
pub fn open_dev_server(dir: &Path, config: KmsConfig) -> Result<KmsServer, ServerError> {
    let config = ServerConfig::dev(dir, config, None)?;
    KmsServer::open(config, Arc::new(SystemClock))
}

/// An in-process caller as a local gRPC client would be: `principal` from
/// 127.0.0.1. `None` if `principal` is not an IAM principal ARN.
pub fn local_caller(principal: &str) -> Option<Caller> {
    Some(Caller {
        principal: Arc::new(Principal::parse(principal)?),
        source_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    })
}

/// The policy request context of a data-plane call, filled with the
/// condition keys kmsd's core sets (`kms/authz.rs`): caller, account,
/// transport, Region, time, source IP, the key's properties and the
/// encryption context.
pub fn data_plane_request_context<'a>(
    principal_arn: &'a str,
    account: &'a str,
    action: &'a str,
    key_arn: &'a str,
    context: &'a HashMap<String, String>,
) -> RequestContext<'a> {
    let mut ctx = RequestContext::with_condition_keys(principal_arn, action, key_arn);
    ctx.set("aws:principalarn", principal_arn)
        .set("aws:principalaccount", account)
        .set("kms:calleraccount", account)
        .set_bool("aws:securetransport", true)
        .set("aws:requestedregion", "us-east-1")
        .set("aws:currenttime", "2025-01-01T00:00:00Z")
        .set("aws:sourceip", "127.0.0.1")
        .set("kms:keyspec", "SYMMETRIC_DEFAULT")
        .set("kms:keyusage", "ENCRYPT_DECRYPT")
        .set("kms:keyorigin", "AWS_KMS")
        .set_bool("kms:multiregion", false)
        .set_encryption_context(context.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    ctx
}
