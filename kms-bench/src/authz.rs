//! The authorization set-up of a run and its undoing: the grantee identity
//! (`--grantee-cert`), the grants kms-bench creates (the grantee's own, one
//! per key, and `--grants` fillers), the key policy it puts
//! (`--key-policy-bytes`), and, at the end, revoking those grants and
//! putting the replaced policies back on keys it did not create (keys it
//! created are scheduled for deletion, grants and all).
//!
//! Every set-up call is made as the main identity. Grants are synced
//! writes on the server, so they are made by many concurrent workers
//! ([`concurrently`]) over all the connections.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::mix::{BenchOp, Mix};
use super::workload::{BenchKey, Progress, SetupError};
use kms_proto::client::KmsClient;
use kms_proto::kms::v1 as pb;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// An IAM principal ARN as kmsd reads it from a client certificate, with
/// its account.
///
/// kmsd's own type (`kmsd::model::Principal`) is not reachable from here:
/// kms-bench does not depend on kmsd, which links RocksDB. So its parsing
/// is restated, and kmsd's `tests/it/bench.rs` checks that both accept the
/// same ARNs and read the same principal from the same certificates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    arn: String,
    account: String,
}

impl Principal {
    /// Parses an IAM principal ARN by kmsd's rules: partition `aws`, a
    /// 12-digit account and no Region; `iam` with `root`,
    /// `user/[PATH/]NAME` or `role/[PATH/]NAME`, or `sts` with
    /// `assumed-role/ROLE/SESSION`; names of IAM's characters
    /// `[A-Za-z0-9_+=,.@-]` (1–64; sessions 2–64), path segments likewise;
    /// `None` otherwise.
    pub fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [scheme, partition, service, region, account, resource] = parts[..] else {
            return None;
        };
        let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        if arn.len() > 2048
            || scheme != "arn"
            || partition != "aws"
            || !region.is_empty()
            || !is_account
        {
            return None;
        }
        let chars = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        };
        let name = |s: &str| (1..=64).contains(&s.len()) && chars(s);
        let path_and_name = |s: &str| match s.rsplit_once('/') {
            Some((path, n)) => {
                name(n)
                    && path.len() <= 512
                    && path.split('/').all(|seg| !seg.is_empty() && chars(seg))
            }
            None => name(s),
        };
        let ok = match service {
            "iam" => {
                resource == "root"
                    || resource.strip_prefix("user/").is_some_and(path_and_name)
                    || resource.strip_prefix("role/").is_some_and(path_and_name)
            }
            "sts" => resource
                .strip_prefix("assumed-role/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(role, session)| {
                    name(role) && (2..=64).contains(&session.len()) && chars(session)
                }),
            _ => false,
        };
        ok.then(|| Self {
            arn: arn.to_owned(),
            account: account.to_owned(),
        })
    }

    /// The principal's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The principal's 12-digit account.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// The principal a client certificate (PEM) names in its URI SAN, as
/// kmsd reads it (its `service::identity::principal_from_cert`).
pub fn principal_from_pem(pem: &[u8]) -> Result<Principal, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    if pem.label != "CERTIFICATE" {
        return Err(format!(
            "expected a PEM CERTIFICATE, found a PEM {}",
            pem.label
        ));
    }
    principal_from_der(&pem.contents)
}

/// The principal a DER certificate names in its URI SAN.
pub fn principal_from_der(der: &[u8]) -> Result<Principal, String> {
    let bad = |why: &str| format!("Client certificate rejected: {why}");
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| bad("not a valid X.509 certificate"))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| bad("malformed subjectAltName"))?
        .ok_or_else(|| bad("no subjectAltName with a principal ARN"))?;
    let uri = san
        .value
        .general_names
        .iter()
        .find_map(|n| match n {
            GeneralName::URI(u) => Some(*u),
            _ => None,
        })
        .ok_or_else(|| bad("no URI subjectAltName with a principal ARN"))?;
    Principal::parse(uri).ok_or_else(|| bad("the URI subjectAltName is not an IAM principal ARN"))
}

/// The grant operations a grantee needs for `mix` (none for
/// GenerateRandom, which uses no key), sorted and without repeats.
pub fn grant_operations(mix: &Mix) -> Vec<pb::GrantOperation> {
    use pb::GrantOperation as G;
    let mut ops: Vec<G> = mix
        .entries()
        .iter()
        .flat_map(|(op, _)| match op {
            BenchOp::GenerateDataKey => &[G::GenerateDataKey][..],
            BenchOp::GenerateDataKeyWithoutPlaintext => &[G::GenerateDataKeyWithoutPlaintext],
            BenchOp::Encrypt => &[G::Encrypt],
            BenchOp::Decrypt => &[G::Decrypt],
            BenchOp::ReEncrypt => &[G::ReEncryptFrom, G::ReEncryptTo],
            BenchOp::DescribeKey => &[G::DescribeKey],
            BenchOp::GenerateRandom => &[],
            BenchOp::Sign => &[G::Sign],
            BenchOp::Verify => &[G::Verify],
            BenchOp::GetPublicKey => &[G::GetPublicKey],
            BenchOp::GenerateMac => &[G::GenerateMac],
            BenchOp::VerifyMac => &[G::VerifyMac],
            BenchOp::GenerateDataKeyPair => &[G::GenerateDataKeyPair],
            BenchOp::GenerateDataKeyPairWithoutPlaintext => {
                &[G::GenerateDataKeyPairWithoutPlaintext]
            }
        })
        .copied()
        .collect();
    ops.sort_by_key(|o| *o as i32);
    ops.dedup();
    ops
}

/// The principal of filler grant `n`: a role of `account` that never calls.
pub fn filler_principal(account: &str, n: u64) -> String {
    format!("arn:aws:iam::{account}:role/kms-bench-filler-{n}")
}

/// What the set-up changed on keys kms-bench did not create (`--key-id`),
/// to undo at the end, and what it made.
#[derive(Debug, Default)]
pub struct AuthzState {
    /// (key id, its policy before kms-bench replaced it).
    pub replaced_policies: Vec<(String, String)>,
    /// (key id, grant id) of every grant created on such keys.
    pub grants: Vec<(String, String)>,
    /// Size in bytes of the policy put on every key (0 = none).
    pub policy_bytes: usize,
}

impl AuthzState {
    /// Whether there is anything to undo.
    pub fn is_empty(&self) -> bool {
        self.replaced_policies.is_empty() && self.grants.is_empty()
    }
}

fn join_error(what: &str, e: &tokio::task::JoinError) -> SetupError {
    SetupError {
        what: what.to_owned(),
        code: tonic::Code::Internal,
        message: e.to_string(),
    }
}

/// Who makes set-up calls: `count` concurrent workers over `clients`
/// (each call on the next client in turn), counting calls in `progress`.
#[derive(Debug, Clone, Copy)]
pub struct Workers<'a> {
    /// The connections, all as the main identity.
    pub clients: &'a [KmsClient],
    /// Calls in flight at once.
    pub count: u32,
    /// Calls done and failed, for a progress display.
    pub progress: &'a Arc<Progress>,
}

/// Runs `call(client, i)` for `i` in `0..total` on `w`'s workers. The
/// values calls return are pushed to `out` — also those of calls that
/// finished before one failed. Stops at the first failure and returns it.
pub async fn concurrently<T, F, Fut>(
    w: Workers<'_>,
    total: u64,
    out: &mut Vec<T>,
    call: F,
) -> Result<(), SetupError>
where
    T: Send + 'static,
    F: Fn(KmsClient, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<T>, SetupError>> + Send,
{
    if total == 0 || w.clients.is_empty() {
        return Ok(());
    }
    let call = Arc::new(call);
    let clients: Arc<[KmsClient]> = w.clients.iter().cloned().collect();
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers = u64::from(w.count.max(1)).min(total);
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let (call, clients, next, stop, results, progress) = (
            Arc::clone(&call),
            Arc::clone(&clients),
            Arc::clone(&next),
            Arc::clone(&stop),
            Arc::clone(&results),
            Arc::clone(w.progress),
        );
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let client = clients[(i % clients.len() as u64) as usize].clone();
                let r = call(client, i).await;
                progress.done.fetch_add(1, Ordering::Relaxed);
                match r {
                    Ok(Some(v)) => results.lock().unwrap_or_else(|p| p.into_inner()).push(v),
                    Ok(None) => {}
                    Err(e) => {
                        progress.failed.fetch_add(1, Ordering::Relaxed);
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        });
    }
    let mut first_error = None;
    while let Some(r) = set.join_next().await {
        let r = r.unwrap_or_else(|e| Err(join_error("a set-up worker", &e)));
        if let (Err(e), None) = (r, &first_error) {
            first_error = Some(e);
        }
    }
    out.append(&mut results.lock().unwrap_or_else(|p| p.into_inner()));
    first_error.map_or(Ok(()), Err)
}

/// Puts `policy` on every key; for keys kms-bench did not create, first
/// saves their policy in `state` so it can be put back.
pub async fn put_policies(
    w: Workers<'_>,
    keys: &[BenchKey],
    policy: String,
    state: &mut AuthzState,
) -> Result<(), SetupError> {
    let keys: Arc<[BenchKey]> = keys.into();
    let policy: Arc<str> = policy.into();
    let total = keys.len() as u64;
    concurrently(w, total, &mut state.replaced_policies, move |mut c, i| {
        let key = keys[i as usize].clone();
        let policy = Arc::clone(&policy);
        async move {
            let original = if key.created {
                None
            } else {
                let p = c
                    .get_key_policy(pb::GetKeyPolicyRequest {
                        key_id: key.key_id.clone(),
                        policy_name: None,
                    })
                    .await
                    .map_err(|s| SetupError::new(format!("GetKeyPolicy {}", key.key_id), &s))?
                    .into_inner()
                    .policy;
                Some((key.key_id.clone(), p))
            };
            c.put_key_policy(pb::PutKeyPolicyRequest {
                key_id: key.key_id.clone(),
                policy_name: None,
                policy: policy.to_string(),
                bypass_policy_lockout_safety_check: false,
            })
            .await
            .map_err(|s| SetupError::new(format!("PutKeyPolicy {}", key.key_id), &s))?;
            Ok(original)
        }
    })
    .await
}

/// Creates `per_key` grants on every key: grant `n` (0-based) on each key
/// goes to `grantee(n)` for `operations`. Grants on keys kms-bench did not
/// create are recorded in `state`.
pub async fn create_grants(
    w: Workers<'_>,
    keys: &[BenchKey],
    per_key: u64,
    grantee: impl Fn(u64) -> String + Send + Sync + 'static,
    operations: &[pb::GrantOperation],
    state: &mut AuthzState,
) -> Result<(), SetupError> {
    let keys: Arc<[BenchKey]> = keys.into();
    let operations: Arc<[i32]> = operations.iter().map(|o| *o as i32).collect();
    let total = per_key.saturating_mul(keys.len() as u64);
    concurrently(w, total, &mut state.grants, move |mut c, i| {
        // Key-major order: all keys get their n-th grant before any
        // gets its (n+1)-th, so the keys fill evenly.
        let key = keys[(i % keys.len() as u64) as usize].clone();
        let req = pb::CreateGrantRequest {
            key_id: key.key_id.clone(),
            grantee_principal: grantee(i / keys.len() as u64),
            operations: operations.to_vec(),
            ..Default::default()
        };
        async move {
            let grant_id = c
                .create_grant(req)
                .await
                .map_err(|s| SetupError::new(format!("CreateGrant on {}", key.key_id), &s))?
                .into_inner()
                .grant_id;
            Ok((!key.created).then_some((key.key_id, grant_id)))
        }
    })
    .await
}

/// Undoes `state`: revokes the grants and puts the replaced policies back.
/// Returns the calls that failed.
pub async fn undo(w: Workers<'_>, state: &AuthzState) -> Vec<SetupError> {
    let mut failures = Vec::new();
    let grants: Arc<[(String, String)]> = state.grants.as_slice().into();
    // Keep going past failures: collect them as values.
    let _ = concurrently(w, grants.len() as u64, &mut failures, move |mut c, i| {
        let (key_id, grant_id) = grants[i as usize].clone();
        async move {
            Ok(c.revoke_grant(pb::RevokeGrantRequest {
                key_id: key_id.clone(),
                grant_id: grant_id.clone(),
            })
            .await
            .err()
            .map(|s| SetupError::new(format!("RevokeGrant {grant_id} on {key_id}"), &s)))
        }
    })
    .await;
    for (key_id, policy) in &state.replaced_policies {
        let Some(client) = w.clients.first() else {
            break;
        };
        if let Err(s) = client
            .clone()
            .put_key_policy(pb::PutKeyPolicyRequest {
                key_id: key_id.clone(),
                policy_name: None,
                policy: policy.clone(),
                bypass_policy_lockout_safety_check: false,
            })
            .await
        {
            failures.push(SetupError::new(
                format!("PutKeyPolicy {key_id} (restoring its policy)"),
                &s,
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_operations_follow_the_mix() {
        use pb::GrantOperation as G;
        let ops = |m: &str| grant_operations(&Mix::parse(m).unwrap());
        assert_eq!(ops("GenerateDataKey"), vec![G::GenerateDataKey]);
        assert_eq!(ops("GenerateRandom"), vec![]);
        assert_eq!(
            ops("ReEncrypt=2,GenerateDataKey=3,Decrypt=7,GenerateRandom"),
            vec![
                G::Decrypt,
                G::GenerateDataKey,
                G::ReEncryptFrom,
                G::ReEncryptTo
            ]
        );
        assert_eq!(
            ops("DescribeKey,Encrypt,GenerateDataKeyWithoutPlaintext,Decrypt,ReEncrypt").len(),
            6
        );
    }

    #[test]
    fn filler_principals_are_roles_of_the_account() {
        assert_eq!(
            filler_principal("111122223333", 7),
            "arn:aws:iam::111122223333:role/kms-bench-filler-7"
        );
        assert!(Principal::parse(&filler_principal("111122223333", 49_999)).is_some());
    }
}
