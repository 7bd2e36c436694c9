//! Inputs shared by the load generator and kmsd's criterion benchmarks
//! (`benches/` of the kmsd package): encryption contexts, key policies of a
//! given size, and a small seeded PRNG.
//!
//! Nothing here touches the network or kmsd's internals; the fixtures that
//! need kmsd's core (an in-process server, a caller, a policy request
//! context) are `kmsd::testing`. That the policies here parse and behave in
//! kmsd's policy engine as documented is tested in kmsd's
//! `tests/it/bench.rs`.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The largest key policy kmsd accepts, in bytes (AWS's limit; kmsd's
/// `authz::MAX_POLICY_BYTES`, which `tests/it/bench.rs` checks this equals).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

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
