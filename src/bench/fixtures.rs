//! Inputs shared by the load generator and the criterion benchmarks
//! (`benches/`): encryption contexts, key policies of a given size, the
//! policy request context of one data-plane call, and a small seeded PRNG.
//!
//! Nothing here touches the network; [`open_dev_server`] opens a store.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use crate::authz::{RequestContext, MAX_POLICY_BYTES};
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

/// An encryption context of `pairs` pairs, `bench-context-key-NN` →
/// `bench-context-value-NN`.
pub fn encryption_context(pairs: usize) -> HashMap<String, String> {
    (0..pairs)
        .map(|i| {
            (
                format!("bench-context-key-{i:02}"),
                format!("bench-context-value-{i:02}"),
            )
        })
        .collect()
}

/// A key policy for `account` of at most `max_bytes` (and at most
/// [`MAX_POLICY_BYTES`]) bytes: AWS's default statement (the account root
/// may do everything, so the policy lockout check passes and the root's
/// calls are allowed), followed by as many realistic statements as fit.
///
/// Every filler statement names the account root and the data-plane
/// actions, so for a call by the root its principal, action and resource
/// all match and its conditions are evaluated — the expensive case — but
/// the conditions require encryption-context pairs (`AppN`) that
/// [`encryption_context`] never has, so none of them applies: every
/// seventh is a `Deny` that stays inert, and the result is the default
/// statement's Allow.
pub fn key_policy_of_size(account: &str, max_bytes: usize) -> String {
    key_policy_of_size_for(account, max_bytes, &[])
}

/// As [`key_policy_of_size`], with `extra_principals` (principal ARNs,
/// e.g. a grantee's) also named in every filler statement's `Principal`.
/// For a call by one of them every filler statement's conditions are then
/// evaluated too, and none applies, so the policy allows it no more than
/// the default statement alone does: a grantee is still allowed only by
/// its grant. The result is never smaller than the default statement.
pub fn key_policy_of_size_for(
    account: &str,
    max_bytes: usize,
    extra_principals: &[&str],
) -> String {
    let limit = max_bytes.min(MAX_POLICY_BYTES);
    let head = format!(
        r#"{{"Version":"2012-10-17","Id":"kms-bench-policy","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}"#
    );
    let tail = "]}";
    // JSON string literals (an ARN has nothing to escape, but be exact).
    let extra: String = extra_principals
        .iter()
        .map(|p| format!(",{}", serde_json::Value::from(*p)))
        .collect();
    let mut body = String::new();
    for i in 0.. {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            r#",{{"Sid":"App{i}","Effect":"{effect}","Principal":{{"AWS":["arn:aws:iam::{account}:root","arn:aws:iam::{account}:role/App{i}Role"{extra}]}},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"arn:aws:kms:*:{account}:key/*","Condition":{{"StringEquals":{{"kms:CallerAccount":"{account}","kms:EncryptionContext:App{i}":["{value}","{value}-staging"]}},"Bool":{{"aws:SecureTransport":"true"}},"ForAllValues:StringLike":{{"kms:EncryptionContextKeys":["App{i}","bench-context-key-*"]}},"IpAddress":{{"aws:SourceIp":["10.{a}.0.0/16","2001:db8:{i:x}::/48"]}}}}}}"#,
            effect = if i % 7 == 6 { "Deny" } else { "Allow" },
            value = if i % 7 == 6 { "blocked" } else { "app" },
            a = i % 256,
        );
        if head.len() + body.len() + s.len() + tail.len() > limit {
            break;
        }
        body.push_str(&s);
    }
    format!("{head}{body}{tail}")
}

/// A policy of (nearly) the largest size kmsd accepts: 32 KB.
pub fn large_key_policy(account: &str) -> String {
    key_policy_of_size(account, MAX_POLICY_BYTES)
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
    let mut ctx = RequestContext::new(principal_arn, action, key_arn);
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

/// SplitMix64: a tiny, fast, seeded generator for picking keys and pool
/// entries (not for anything secret).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0; 0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the bias is negligible for our n.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Policy, PolicyKind};
    use crate::kms::default_key_policy;

    const ACCOUNT: &str = "111122223333";
    const ROOT: &str = "arn:aws:iam::111122223333:root";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn contexts_have_the_asked_size_and_fit_kmsd_limits() {
        assert!(encryption_context(0).is_empty());
        let c = encryption_context(crate::bench::args::MAX_CONTEXT_PAIRS);
        assert_eq!(c.len(), crate::bench::args::MAX_CONTEXT_PAIRS);
        assert!(crate::ciphertext::CanonicalContext::new(&c).is_ok());
    }

    #[test]
    fn the_large_policy_is_32kb_valid_and_allows_the_root_only_by_default() {
        let text = large_key_policy(ACCOUNT);
        assert!(text.len() <= MAX_POLICY_BYTES, "{}", text.len());
        assert!(text.len() > MAX_POLICY_BYTES - 1024, "{}", text.len());
        let p = Policy::parse_as(&text, PolicyKind::Resource).unwrap();
        assert!(p.statements_len() > 40, "{}", p.statements_len());
        let small = Policy::parse(&default_key_policy(ACCOUNT)).unwrap();
        for pairs in [0, 4] {
            let ec = encryption_context(pairs);
            let ctx = data_plane_request_context(ROOT, ACCOUNT, "kms:GenerateDataKey", KEY, &ec);
            let big = p.evaluate(&ctx);
            assert!(!big.explicit_deny, "{big:?}");
            assert_eq!(big, small.evaluate(&ctx));
        }
        // The Deny statements are live: a context that meets one applies it.
        let mut ec = HashMap::new();
        ec.insert("App6".to_owned(), "blocked".to_owned());
        let mut ctx = data_plane_request_context(ROOT, ACCOUNT, "kms:Decrypt", KEY, &ec);
        ctx.set("aws:sourceip", "10.6.1.2");
        assert!(p.evaluate(&ctx).explicit_deny);
    }

    #[test]
    fn smaller_policies_respect_the_size() {
        let text = key_policy_of_size(ACCOUNT, 4096);
        assert!(text.len() <= 4096 && text.len() > 3000, "{}", text.len());
        assert!(Policy::parse(&text).is_ok());
        // Too small for any filler: just the default statement.
        assert!(Policy::parse(&key_policy_of_size(ACCOUNT, 10)).is_ok());
    }

    #[test]
    fn an_extra_principal_is_named_everywhere_but_allowed_by_nothing_new() {
        const GRANTEE: &str = "arn:aws:iam::111122223333:user/kms-bench-grantee";
        const OTHER: &str = "arn:aws:iam::444455556666:role/elsewhere";
        for size in [8000, MAX_POLICY_BYTES, 100_000] {
            let text = key_policy_of_size_for(ACCOUNT, size, &[GRANTEE, OTHER]);
            assert!(text.len() <= size.min(MAX_POLICY_BYTES), "{}", text.len());
            let p = Policy::parse_as(&text, PolicyKind::Resource).unwrap();
            assert!(p.statements_len() > 5, "{}", p.statements_len());
            // Every filler statement names both.
            assert_eq!(
                text.matches(GRANTEE).count(),
                p.statements_len() - 1,
                "{text}"
            );
            let small = Policy::parse(&default_key_policy(ACCOUNT)).unwrap();
            for principal in [GRANTEE, OTHER] {
                for action in ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"] {
                    for pairs in [0, 4] {
                        let ec = encryption_context(pairs);
                        let account = &principal[13..25];
                        let ctx = data_plane_request_context(principal, account, action, KEY, &ec);
                        let big = p.evaluate(&ctx);
                        assert!(!big.explicit_deny && !big.allow_principal, "{big:?}");
                        assert_eq!(big, small.evaluate(&ctx), "{principal} {action}");
                    }
                }
            }
        }
        // Without extras it is the policy key_policy_of_size always made.
        assert_eq!(
            key_policy_of_size_for(ACCOUNT, 4096, &[]),
            key_policy_of_size(ACCOUNT, 4096)
        );
        assert!(!key_policy_of_size(ACCOUNT, 4096).contains("kms-bench-grantee"));
    }

    #[tokio::test]
    async fn a_dev_core_opens_and_serves_the_local_root() {
        let dir = tempfile::tempdir().unwrap();
        let server = open_dev_server(dir.path(), KmsConfig::default()).unwrap();
        let caller = local_caller(crate::pki::DEV_PRINCIPAL).unwrap();
        let key = server
            .kms()
            .create_key(&caller, Default::default())
            .await
            .unwrap();
        let out = server
            .kms()
            .generate_data_key(
                &caller,
                crate::api::GenerateDataKeyRequest {
                    key_id: key.id.to_string(),
                    encryption_context: encryption_context(2),
                    key_spec: Some(crate::model::DataKeySpec::Aes256),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out.ciphertext_blob.len(), 82);
        assert!(local_caller("alice").is_none());
    }

    #[test]
    fn splitmix_is_seeded_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[a.below(10)] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(a.below(0), 0);
    }
}
