//! What kms-bench sends and how: the set-up against the real service (keys,
//! the ciphertext pool), one request per operation, and the load loop that
//! runs `concurrency` workers over a set of channels until a [`Limit`].
//!
//! Requests are built before the clock starts, so a latency is the call
//! alone: gRPC encode, the round trip, decode. Workers pick operations with
//! the mix's [`Picker`](super::mix::Picker), keys round-robin, and pool
//! ciphertexts pseudo-randomly; every request goes to the next channel in
//! turn, so the load spreads evenly over `--connections`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tonic::Status;

use super::args::{KeySpecArg, Limit};
use super::fixtures::SplitMix64;
use super::mix::{BenchOp, Mix};
use super::stats::Recorder;
use kms_proto::client::KmsClient;
use kms_proto::kms::v1 as pb;

/// How many set-up calls run at once (pool making, key creation).
const SETUP_PARALLELISM: usize = 16;

/// A key the requests use.
#[derive(Debug, Clone)]
pub struct BenchKey {
    /// How requests name it (as given, or the new key's id).
    pub key_id: String,
    /// Its metadata (DescribeKey / CreateKey).
    pub metadata: pb::KeyMetadata,
    /// Whether kms-bench created it (and so cleans it up).
    pub created: bool,
}

/// Everything the requests are made from.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The operations.
    pub mix: Mix,
    /// Data key spec.
    pub key_spec: KeySpecArg,
    /// The keys, used round-robin.
    pub keys: Vec<BenchKey>,
    /// The encryption context of every request.
    pub context: HashMap<String, String>,
    /// Ciphertexts for Decrypt and ReEncrypt (empty if the mix has neither).
    pub pool: Vec<Vec<u8>>,
}

/// What to set up.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The operations.
    pub mix: Mix,
    /// Data key spec.
    pub key_spec: KeySpecArg,
    /// The encryption context.
    pub context: HashMap<String, String>,
    /// Keys to use; empty = create `create_keys` keys.
    pub key_ids: Vec<String>,
    /// Keys to create when `key_ids` is empty.
    pub create_keys: u32,
    /// Ciphertexts to make when the mix needs them.
    pub pool_size: u32,
}

/// A set-up call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed during set-up: {code:?}: {message}")]
pub struct SetupError {
    /// Which call, e.g. `CreateKey`, `DescribeKey alias/app`.
    pub what: String,
    /// Its gRPC code.
    pub code: tonic::Code,
    /// Its message.
    pub message: String,
}

impl SetupError {
    /// The failure of call `what` with `status`.
    pub fn new(what: impl Into<String>, status: &Status) -> Self {
        Self {
            what: what.into(),
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// Prepares a workload against the real service: finds or creates the keys
/// and makes the ciphertext pool.
pub async fn setup(client: &KmsClient, opts: SetupOptions) -> Result<Workload, SetupError> {
    let mut keys = Vec::new();
    if opts.key_ids.is_empty() {
        let mut next = 0;
        while next < opts.create_keys {
            let batch = (opts.create_keys - next).min(SETUP_PARALLELISM as u32);
            let mut set = JoinSet::new();
            for _ in 0..batch {
                let mut c = client.clone();
                set.spawn(async move {
                    c.create_key(pb::CreateKeyRequest {
                        description: "kms-bench load-test key".into(),
                        ..Default::default()
                    })
                    .await
                });
            }
            while let Some(r) = set.join_next().await {
                let r = r.map_err(|e| SetupError {
                    what: "CreateKey".into(),
                    code: tonic::Code::Internal,
                    message: e.to_string(),
                })?;
                let meta = r
                    .map_err(|s| SetupError::new("CreateKey", &s))?
                    .into_inner()
                    .key_metadata
                    .unwrap_or_default();
                keys.push(BenchKey {
                    key_id: meta.key_id.clone(),
                    metadata: meta,
                    created: true,
                });
            }
            next += batch;
        }
        // Deterministic order regardless of completion order.
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    } else {
        for id in &opts.key_ids {
            let meta = client
                .clone()
                .describe_key(pb::DescribeKeyRequest {
                    key_id: id.clone(),
                    grant_tokens: Vec::new(),
                })
                .await
                .map_err(|s| SetupError::new(format!("DescribeKey {id}"), &s))?
                .into_inner()
                .key_metadata
                .unwrap_or_default();
            keys.push(BenchKey {
                key_id: id.clone(),
                metadata: meta,
                created: false,
            });
        }
    }
    let mut workload = Workload {
        mix: opts.mix,
        key_spec: opts.key_spec,
        keys,
        context: opts.context,
        pool: Vec::new(),
    };
    if workload.mix.needs_ciphertexts() {
        workload.pool = make_pool(client, &workload, opts.pool_size).await?;
    }
    Ok(workload)
}

/// Makes `size` ciphertexts with GenerateDataKeyWithoutPlaintext, over the
/// keys round-robin, with the workload's context and key spec.
async fn make_pool(
    client: &KmsClient,
    w: &Workload,
    size: u32,
) -> Result<Vec<Vec<u8>>, SetupError> {
    let size = size as usize;
    let mut pool = Vec::with_capacity(size);
    while pool.len() < size {
        let mut set = JoinSet::new();
        for i in pool.len()..(pool.len() + SETUP_PARALLELISM).min(size) {
            let mut c = client.clone();
            let req = pb::GenerateDataKeyWithoutPlaintextRequest {
                key_id: w.keys[i % w.keys.len()].key_id.clone(),
                encryption_context: w.context.clone(),
                key_spec: w.key_spec.to_proto() as i32,
                number_of_bytes: None,
                grant_tokens: Vec::new(),
            };
            set.spawn(async move { c.generate_data_key_without_plaintext(req).await });
        }
        while let Some(r) = set.join_next().await {
            let r = r.map_err(|e| SetupError {
                what: "GenerateDataKeyWithoutPlaintext".into(),
                code: tonic::Code::Internal,
                message: e.to_string(),
            })?;
            let blob = r
                .map_err(|s| {
                    SetupError::new("GenerateDataKeyWithoutPlaintext (ciphertext pool)", &s)
                })?
                .into_inner()
                .ciphertext_blob;
            pool.push(blob);
        }
    }
    Ok(pool)
}

/// Schedules the keys kms-bench created for deletion (7 days, the
/// minimum). Returns how many could not be.
pub async fn cleanup(client: &KmsClient, keys: &[BenchKey]) -> Vec<SetupError> {
    let mut failures = Vec::new();
    for k in keys.iter().filter(|k| k.created) {
        if let Err(s) = client
            .clone()
            .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                key_id: k.key_id.clone(),
                pending_window_in_days: Some(7),
            })
            .await
        {
            failures.push(SetupError::new(
                format!("ScheduleKeyDeletion {}", k.key_id),
                &s,
            ));
        }
    }
    failures
}

/// One request, ready to send.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// GenerateDataKey.
    GenerateDataKey(pb::GenerateDataKeyRequest),
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext(pb::GenerateDataKeyWithoutPlaintextRequest),
    /// Encrypt.
    Encrypt(pb::EncryptRequest),
    /// Decrypt.
    Decrypt(pb::DecryptRequest),
    /// ReEncrypt.
    ReEncrypt(pb::ReEncryptRequest),
    /// GenerateRandom.
    GenerateRandom(pb::GenerateRandomRequest),
    /// DescribeKey.
    DescribeKey(pb::DescribeKeyRequest),
}

impl Workload {
    /// The request for `op` using key number `key` and pool entry `blob`
    /// (both taken modulo their lengths).
    pub fn request(&self, op: BenchOp, key: usize, blob: usize) -> Prepared {
        let k = &self.keys[key % self.keys.len()];
        let spec = self.key_spec.to_proto() as i32;
        let len = self.key_spec.byte_len();
        let blob = || {
            self.pool
                .get(blob % self.pool.len().max(1))
                .cloned()
                .unwrap_or_default()
        };
        match op {
            BenchOp::GenerateDataKey => Prepared::GenerateDataKey(pb::GenerateDataKeyRequest {
                key_id: k.key_id.clone(),
                encryption_context: self.context.clone(),
                number_of_bytes: None,
                key_spec: spec,
                grant_tokens: Vec::new(),
            }),
            BenchOp::GenerateDataKeyWithoutPlaintext => Prepared::GenerateDataKeyWithoutPlaintext(
                pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id: k.key_id.clone(),
                    encryption_context: self.context.clone(),
                    key_spec: spec,
                    number_of_bytes: None,
                    grant_tokens: Vec::new(),
                },
            ),
            BenchOp::Encrypt => Prepared::Encrypt(pb::EncryptRequest {
                key_id: k.key_id.clone(),
                plaintext: vec![0x5a; len],
                encryption_context: self.context.clone(),
                grant_tokens: Vec::new(),
                encryption_algorithm: 0,
            }),
            BenchOp::Decrypt => Prepared::Decrypt(pb::DecryptRequest {
                ciphertext_blob: blob(),
                encryption_context: self.context.clone(),
                grant_tokens: Vec::new(),
                key_id: None,
                encryption_algorithm: 0,
            }),
            BenchOp::ReEncrypt => Prepared::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: blob(),
                source_encryption_context: self.context.clone(),
                source_key_id: None,
                // To the next key (the same one when there is only one).
                destination_key_id: self.keys[(key + 1) % self.keys.len()].key_id.clone(),
                destination_encryption_context: self.context.clone(),
                source_encryption_algorithm: 0,
                destination_encryption_algorithm: 0,
                grant_tokens: Vec::new(),
            }),
            BenchOp::GenerateRandom => Prepared::GenerateRandom(pb::GenerateRandomRequest {
                number_of_bytes: Some(i32::try_from(len).unwrap_or(32)),
                custom_key_store_id: None,
            }),
            BenchOp::DescribeKey => Prepared::DescribeKey(pb::DescribeKeyRequest {
                key_id: k.key_id.clone(),
                grant_tokens: Vec::new(),
            }),
        }
    }

    /// The metadata the baseline answers with (the first key's).
    pub fn baseline_metadata(&self) -> pb::KeyMetadata {
        self.keys
            .first()
            .map(|k| k.metadata.clone())
            .unwrap_or_default()
    }
}

/// Sends one request; the response is dropped.
pub async fn call(client: &mut KmsClient, req: Prepared) -> Result<(), Status> {
    match req {
        Prepared::GenerateDataKey(r) => client.generate_data_key(r).await.map(drop),
        Prepared::GenerateDataKeyWithoutPlaintext(r) => client
            .generate_data_key_without_plaintext(r)
            .await
            .map(drop),
        Prepared::Encrypt(r) => client.encrypt(r).await.map(drop),
        Prepared::Decrypt(r) => client.decrypt(r).await.map(drop),
        Prepared::ReEncrypt(r) => client.re_encrypt(r).await.map(drop),
        Prepared::GenerateRandom(r) => client.generate_random(r).await.map(drop),
        Prepared::DescribeKey(r) => client.describe_key(r).await.map(drop),
    }
}

/// Counters a progress display reads while a run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Calls finished (successful or not).
    pub done: AtomicU64,
    /// Calls that failed.
    pub failed: AtomicU64,
}

/// Runs `concurrency` workers against `clients` until `limit`; returns
/// what they saw and how long it took (until the last call finished).
pub async fn drive(
    clients: &[KmsClient],
    workload: &Arc<Workload>,
    concurrency: u32,
    limit: Limit,
    progress: &Arc<Progress>,
) -> (Recorder, Duration) {
    let issued = Arc::new(AtomicU64::new(0));
    let next_channel = Arc::new(AtomicUsize::new(0));
    let clients: Arc<[KmsClient]> = clients.iter().cloned().collect();
    let start = Instant::now();
    let deadline = match limit {
        Limit::Duration(d) => Some(start + d),
        Limit::Requests(_) => None,
    };
    let max_requests = match limit {
        Limit::Requests(n) => Some(n),
        Limit::Duration(_) => None,
    };
    let mut set = JoinSet::new();
    for worker in 0..concurrency as usize {
        let workload = Arc::clone(workload);
        let clients = Arc::clone(&clients);
        let issued = Arc::clone(&issued);
        let next_channel = Arc::clone(&next_channel);
        let progress = Arc::clone(progress);
        set.spawn(async move {
            let mut rec = Recorder::new();
            let mut picker = workload.mix.picker();
            picker.skip(worker);
            let mut rng = SplitMix64::new(0x6b6d_7364_0000_0000 ^ worker as u64);
            let mut n = worker;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if let Some(max) = max_requests {
                    if issued.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                }
                let op = picker.next_op();
                let req = workload.request(op, n, rng.below(workload.pool.len().max(1)));
                n = n.wrapping_add(1);
                let i = next_channel.fetch_add(1, Ordering::Relaxed) % clients.len();
                let mut client = clients[i].clone();
                let t = Instant::now();
                let result = call(&mut client, req).await;
                let elapsed = t.elapsed();
                match result {
                    Ok(()) => rec.record_ok(op, elapsed),
                    Err(s) => {
                        rec.record_error(op, s.code(), s.message());
                        progress.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                progress.done.fetch_add(1, Ordering::Relaxed);
            }
            rec
        });
    }
    let mut total = Recorder::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(rec) => total.merge(&rec),
            // A worker panicked: count it as an internal error, not a crash.
            Err(e) => total.record_error(BenchOp::ALL[0], tonic::Code::Internal, &e.to_string()),
        }
    }
    (total, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(mix: &str) -> Workload {
        let key = |id: &str| BenchKey {
            key_id: id.into(),
            metadata: pb::KeyMetadata {
                key_id: id.into(),
                arn: format!("arn:aws:kms:us-east-1:111122223333:key/{id}"),
                ..Default::default()
            },
            created: true,
        };
        Workload {
            mix: Mix::parse(mix).unwrap(),
            key_spec: KeySpecArg::Aes128,
            keys: vec![key("k1"), key("k2")],
            context: super::super::fixtures::encryption_context(2),
            pool: vec![vec![1; 66], vec![2; 66]],
        }
    }

    #[test]
    fn requests_carry_key_context_and_sizes() {
        let w = workload("Encrypt,ReEncrypt,Decrypt");
        let Prepared::Encrypt(e) = w.request(BenchOp::Encrypt, 3, 0) else {
            panic!("encrypt")
        };
        assert_eq!((e.key_id.as_str(), e.plaintext.len()), ("k2", 16));
        assert_eq!(e.encryption_context.len(), 2);
        let Prepared::ReEncrypt(r) = w.request(BenchOp::ReEncrypt, 0, 1) else {
            panic!("reencrypt")
        };
        assert_eq!(r.ciphertext_blob, vec![2; 66]);
        assert_eq!(r.destination_key_id, "k2");
        let Prepared::Decrypt(d) = w.request(BenchOp::Decrypt, 0, 4) else {
            panic!("decrypt")
        };
        assert_eq!(d.ciphertext_blob, vec![1; 66]);
        let Prepared::GenerateDataKey(g) = w.request(BenchOp::GenerateDataKey, 0, 0) else {
            panic!("gdk")
        };
        assert_eq!(g.key_spec, pb::DataKeySpec::Aes128 as i32);
        assert_eq!(g.number_of_bytes, None);
        assert_eq!(w.baseline_metadata().key_id, "k1");
    }
}
