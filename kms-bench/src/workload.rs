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
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tonic::Status;

use super::args::{KeySpecArg, Limit};
use super::fixtures::SplitMix64;
use super::mix::{BenchOp, Mix};
use super::specs;
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

/// A ciphertext of the pool and the key (an index into
/// [`Workload::keys`]) that made it: asymmetric Decrypt must name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEntry {
    /// Index of the key in [`Workload::keys`].
    pub key: usize,
    /// The ciphertext.
    pub blob: Vec<u8>,
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
    pub pool: Vec<PoolEntry>,
    /// The algorithms of Sign / Verify, GenerateMac / VerifyMac, and
    /// Encrypt / Decrypt (0 = unset, SYMMETRIC_DEFAULT), the key pair spec
    /// of GenerateDataKeyPair*.
    pub algorithms: Algorithms,
    /// The message of Sign, Verify, GenerateMac and VerifyMac.
    pub message: Vec<u8>,
    /// Per key (same index as `keys`): the signature of `message`, for
    /// Verify (empty if the mix has no Verify).
    pub signatures: Vec<Vec<u8>>,
    /// Per key: the MAC of `message`, for VerifyMac.
    pub macs: Vec<Vec<u8>>,
    /// How long each CreateKey of the set-up took.
    pub create_key_latencies: Vec<Duration>,
}

/// The algorithms the requests name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// SigningAlgorithmSpec (0 = none: the keys cannot sign).
    pub signing: i32,
    /// MacAlgorithmSpec (0 = none).
    pub mac: i32,
    /// EncryptionAlgorithmSpec (0 = unset: symmetric).
    pub encryption: i32,
    /// DataKeyPairSpec.
    pub key_pair_spec: i32,
}

impl Algorithms {
    /// The flags' choices, or else the defaults for `key_spec` (the wire
    /// value of the keys' spec).
    pub fn resolve(
        key_spec: i32,
        signing: Option<i32>,
        mac: Option<i32>,
        encryption: Option<i32>,
        key_pair_spec: i32,
    ) -> Self {
        Self {
            signing: signing
                .or_else(|| specs::default_signing_algorithm(key_spec).map(|a| a as i32))
                .unwrap_or(0),
            mac: mac
                .or_else(|| specs::default_mac_algorithm(key_spec).map(|a| a as i32))
                .unwrap_or(0),
            encryption: encryption.unwrap_or_else(|| specs::default_encryption_algorithm(key_spec)),
            key_pair_spec,
        }
    }

    /// Whether Encrypt / Decrypt are asymmetric (an algorithm other than
    /// SYMMETRIC_DEFAULT).
    pub fn asymmetric_encryption(&self) -> bool {
        self.encryption != 0
            && self.encryption != pb::EncryptionAlgorithmSpec::SymmetricDefault as i32
    }
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
    /// Create them in this custom key store (origin AWS_CLOUDHSM).
    pub custom_key_store_id: Option<String>,
    /// CreateKey calls at once (at most 16).
    pub create_parallelism: u32,
    /// Ciphertexts to make when the mix needs them.
    pub pool_size: u32,
    /// `--signing-algorithm`.
    pub signing_algorithm: Option<i32>,
    /// `--mac-algorithm`.
    pub mac_algorithm: Option<i32>,
    /// `--encryption-algorithm`.
    pub encryption_algorithm: Option<i32>,
    /// `--key-pair-spec`.
    pub key_pair_spec: i32,
    /// `--message-bytes`.
    pub message_bytes: usize,
}

impl SetupOptions {
    /// Set-up options with the defaults of every flag not given here.
    pub fn new(mix: Mix, key_spec: KeySpecArg) -> Self {
        Self {
            mix,
            key_spec,
            context: HashMap::new(),
            key_ids: Vec::new(),
            create_keys: 1,
            custom_key_store_id: None,
            create_parallelism: SETUP_PARALLELISM as u32,
            pool_size: 16,
            signing_algorithm: None,
            mac_algorithm: None,
            encryption_algorithm: None,
            key_pair_spec: pb::DataKeyPairSpec::EccNistP256 as i32,
            message_bytes: 32,
        }
    }
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

    /// A usage error found before any call.
    pub fn usage(message: String) -> Self {
        Self {
            what: "checking the options".into(),
            code: tonic::Code::InvalidArgument,
            message,
        }
    }

    fn join(what: &str, e: &tokio::task::JoinError) -> Self {
        Self {
            what: what.into(),
            code: tonic::Code::Internal,
            message: e.to_string(),
        }
    }
}

/// The message of Sign / GenerateMac: `len` bytes, the same every run.
pub fn bench_message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The CreateKey request of the set-up: the key spec and the usage the mix
/// needs; in `custom_key_store_id` with origin AWS_CLOUDHSM when given.
pub fn create_key_request(opts: &SetupOptions) -> Result<pb::CreateKeyRequest, SetupError> {
    let usage = specs::key_usage_for(&opts.mix, opts.key_spec).map_err(SetupError::usage)?;
    let mut request = pb::CreateKeyRequest {
        description: "kms-bench load-test key".into(),
        key_spec: opts.key_spec.kms_key_spec() as i32,
        key_usage: usage as i32,
        ..Default::default()
    };
    if let Some(store) = &opts.custom_key_store_id {
        request.origin = pb::OriginType::AwsCloudhsm as i32;
        request.custom_key_store_id = Some(store.clone());
        request.description = "kms-bench load-test key (HSM)".into();
    }
    Ok(request)
}

/// Prepares a workload against the real service: finds or creates the keys
/// and makes the ciphertext pool, the signatures and the MACs the mix
/// needs.
pub async fn setup(client: &KmsClient, opts: SetupOptions) -> Result<Workload, SetupError> {
    let mut keys = Vec::new();
    let mut create_key_latencies = Vec::new();
    if opts.key_ids.is_empty() {
        let request = create_key_request(&opts)?;
        let parallelism = opts.create_parallelism.clamp(1, SETUP_PARALLELISM as u32);
        let mut next = 0;
        while next < opts.create_keys {
            let batch = (opts.create_keys - next).min(parallelism);
            let mut set = JoinSet::new();
            for _ in 0..batch {
                let mut c = client.clone();
                let req = request.clone();
                set.spawn(async move {
                    let t = Instant::now();
                    let r = c.create_key(req).await;
                    (r, t.elapsed())
                });
            }
            while let Some(r) = set.join_next().await {
                let (r, took) = r.map_err(|e| SetupError::join("CreateKey", &e))?;
                let meta = r
                    .map_err(|s| SetupError::new("CreateKey", &s))?
                    .into_inner()
                    .key_metadata
                    .unwrap_or_default();
                create_key_latencies.push(took);
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
    let spec = keys.first().map_or(0, |k| k.metadata.key_spec);
    let mut workload = Workload {
        algorithms: Algorithms::resolve(
            spec,
            opts.signing_algorithm,
            opts.mac_algorithm,
            opts.encryption_algorithm,
            opts.key_pair_spec,
        ),
        mix: opts.mix,
        key_spec: opts.key_spec,
        keys,
        context: opts.context,
        pool: Vec::new(),
        message: bench_message(opts.message_bytes),
        signatures: Vec::new(),
        macs: Vec::new(),
        create_key_latencies,
    };
    if workload.mix.needs_ciphertexts() {
        workload.pool = make_pool(client, &workload, opts.pool_size).await?;
    }
    if workload.mix.contains(BenchOp::Verify) {
        workload.signatures = per_key(client, &workload, BenchOp::Sign).await?;
    }
    if workload.mix.contains(BenchOp::VerifyMac) {
        workload.macs = per_key(client, &workload, BenchOp::GenerateMac).await?;
    }
    Ok(workload)
}

/// One Sign or GenerateMac of the workload's message per key, in key
/// order: the signatures / MACs Verify and VerifyMac check.
async fn per_key(
    client: &KmsClient,
    w: &Workload,
    op: BenchOp,
) -> Result<Vec<Vec<u8>>, SetupError> {
    let mut out = Vec::with_capacity(w.keys.len());
    for i in 0..w.keys.len() {
        let mut c = client.clone();
        let what = format!("{op} (set-up for {})", w.keys[i].key_id);
        let bytes = match w.request(op, i, 0) {
            Prepared::Sign(r) => c.sign(r).await.map(|r| r.into_inner().signature),
            Prepared::GenerateMac(r) => c.generate_mac(r).await.map(|r| r.into_inner().mac),
            _ => Ok(Vec::new()),
        }
        .map_err(|s| SetupError::new(what, &s))?;
        out.push(bytes);
    }
    Ok(out)
}

/// Makes `size` ciphertexts over the keys round-robin: with
/// GenerateDataKeyWithoutPlaintext (the workload's context and key spec)
/// for symmetric keys, with Encrypt of a data-key-sized plaintext for
/// asymmetric encryption.
async fn make_pool(
    client: &KmsClient,
    w: &Workload,
    size: u32,
) -> Result<Vec<PoolEntry>, SetupError> {
    let size = size as usize;
    let what = if w.algorithms.asymmetric_encryption() {
        "Encrypt (ciphertext pool)"
    } else {
        "GenerateDataKeyWithoutPlaintext (ciphertext pool)"
    };
    let mut pool = Vec::with_capacity(size);
    while pool.len() < size {
        let mut set = JoinSet::new();
        for i in pool.len()..(pool.len() + SETUP_PARALLELISM).min(size) {
            let mut c = client.clone();
            let key = i % w.keys.len();
            let req = w.request(
                if w.algorithms.asymmetric_encryption() {
                    BenchOp::Encrypt
                } else {
                    BenchOp::GenerateDataKeyWithoutPlaintext
                },
                key,
                0,
            );
            set.spawn(async move {
                let blob = match req {
                    Prepared::Encrypt(r) => {
                        c.encrypt(r).await.map(|r| r.into_inner().ciphertext_blob)
                    }
                    Prepared::GenerateDataKeyWithoutPlaintext(r) => c
                        .generate_data_key_without_plaintext(r)
                        .await
                        .map(|r| r.into_inner().ciphertext_blob),
                    _ => Ok(Vec::new()),
                };
                blob.map(|blob| PoolEntry { key, blob })
            });
        }
        while let Some(r) = set.join_next().await {
            let entry = r
                .map_err(|e| SetupError::join(what, &e))?
                .map_err(|s| SetupError::new(what, &s))?;
            pool.push(entry);
        }
    }
    // Deterministic order regardless of completion order.
    pool.sort_by_key(|e| e.key);
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
    /// Sign.
    Sign(pb::SignRequest),
    /// Verify.
    Verify(pb::VerifyRequest),
    /// GetPublicKey.
    GetPublicKey(pb::GetPublicKeyRequest),
    /// GenerateMac.
    GenerateMac(pb::GenerateMacRequest),
    /// VerifyMac.
    VerifyMac(pb::VerifyMacRequest),
    /// GenerateDataKeyPair.
    GenerateDataKeyPair(pb::GenerateDataKeyPairRequest),
    /// GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairWithoutPlaintext(pb::GenerateDataKeyPairWithoutPlaintextRequest),
}

impl Workload {
    /// The request for `op` using key number `key` and pool entry `blob`
    /// (both taken modulo their lengths).
    pub fn request(&self, op: BenchOp, key: usize, blob: usize) -> Prepared {
        let key = key % self.keys.len().max(1);
        let key_id = self
            .keys
            .get(key)
            .map(|k| k.key_id.clone())
            .unwrap_or_default();
        let spec = self.key_spec.to_proto() as i32;
        let len = self.key_spec.byte_len();
        let alg = self.algorithms;
        let entry = || {
            self.pool
                .get(blob % self.pool.len().max(1))
                .cloned()
                .unwrap_or(PoolEntry {
                    key,
                    blob: Vec::new(),
                })
        };
        let per_key = |v: &[Vec<u8>]| v.get(key).cloned().unwrap_or_default();
        match op {
            BenchOp::GenerateDataKey => Prepared::GenerateDataKey(pb::GenerateDataKeyRequest {
                key_id,
                encryption_context: self.context.clone(),
                number_of_bytes: None,
                key_spec: spec,
                grant_tokens: Vec::new(),
            }),
            BenchOp::GenerateDataKeyWithoutPlaintext => Prepared::GenerateDataKeyWithoutPlaintext(
                pb::GenerateDataKeyWithoutPlaintextRequest {
                    key_id,
                    encryption_context: self.context.clone(),
                    key_spec: spec,
                    number_of_bytes: None,
                    grant_tokens: Vec::new(),
                },
            ),
            BenchOp::Encrypt => Prepared::Encrypt(pb::EncryptRequest {
                key_id,
                plaintext: vec![0x5a; len],
                // An RSA key takes no encryption context.
                encryption_context: if alg.asymmetric_encryption() {
                    HashMap::new()
                } else {
                    self.context.clone()
                },
                grant_tokens: Vec::new(),
                encryption_algorithm: alg.encryption,
            }),
            BenchOp::Decrypt => {
                let e = entry();
                let asymmetric = alg.asymmetric_encryption();
                Prepared::Decrypt(pb::DecryptRequest {
                    ciphertext_blob: e.blob,
                    encryption_context: if asymmetric {
                        HashMap::new()
                    } else {
                        self.context.clone()
                    },
                    grant_tokens: Vec::new(),
                    // An RSA ciphertext does not name its key: AWS requires it.
                    key_id: asymmetric
                        .then(|| self.keys.get(e.key).map(|k| k.key_id.clone()))
                        .flatten(),
                    encryption_algorithm: alg.encryption,
                })
            }
            BenchOp::ReEncrypt => Prepared::ReEncrypt(pb::ReEncryptRequest {
                ciphertext_blob: entry().blob,
                source_encryption_context: self.context.clone(),
                source_key_id: None,
                // To the next key (the same one when there is only one).
                destination_key_id: self
                    .keys
                    .get((key + 1) % self.keys.len().max(1))
                    .map(|k| k.key_id.clone())
                    .unwrap_or_default(),
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
                key_id,
                grant_tokens: Vec::new(),
            }),
            BenchOp::Sign => Prepared::Sign(pb::SignRequest {
                key_id,
                message: self.message.clone(),
                message_type: pb::MessageType::Raw as i32,
                grant_tokens: Vec::new(),
                signing_algorithm: alg.signing,
            }),
            BenchOp::Verify => Prepared::Verify(pb::VerifyRequest {
                key_id,
                message: self.message.clone(),
                message_type: pb::MessageType::Raw as i32,
                signature: per_key(&self.signatures),
                signing_algorithm: alg.signing,
                grant_tokens: Vec::new(),
            }),
            BenchOp::GetPublicKey => Prepared::GetPublicKey(pb::GetPublicKeyRequest {
                key_id,
                grant_tokens: Vec::new(),
            }),
            BenchOp::GenerateMac => Prepared::GenerateMac(pb::GenerateMacRequest {
                message: self.message.clone(),
                key_id,
                mac_algorithm: alg.mac,
                grant_tokens: Vec::new(),
            }),
            BenchOp::VerifyMac => Prepared::VerifyMac(pb::VerifyMacRequest {
                message: self.message.clone(),
                key_id,
                mac_algorithm: alg.mac,
                mac: per_key(&self.macs),
                grant_tokens: Vec::new(),
            }),
            BenchOp::GenerateDataKeyPair => {
                Prepared::GenerateDataKeyPair(pb::GenerateDataKeyPairRequest {
                    encryption_context: self.context.clone(),
                    key_id,
                    key_pair_spec: alg.key_pair_spec,
                    grant_tokens: Vec::new(),
                })
            }
            BenchOp::GenerateDataKeyPairWithoutPlaintext => {
                Prepared::GenerateDataKeyPairWithoutPlaintext(
                    pb::GenerateDataKeyPairWithoutPlaintextRequest {
                        encryption_context: self.context.clone(),
                        key_id,
                        key_pair_spec: alg.key_pair_spec,
                        grant_tokens: Vec::new(),
                    },
                )
            }
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
        Prepared::Sign(r) => client.sign(r).await.map(drop),
        Prepared::Verify(r) => client.verify(r).await.map(drop),
        Prepared::GetPublicKey(r) => client.get_public_key(r).await.map(drop),
        Prepared::GenerateMac(r) => client.generate_mac(r).await.map(drop),
        Prepared::VerifyMac(r) => client.verify_mac(r).await.map(drop),
        Prepared::GenerateDataKeyPair(r) => client.generate_data_key_pair(r).await.map(drop),
        Prepared::GenerateDataKeyPairWithoutPlaintext(r) => client
            .generate_data_key_pair_without_plaintext(r)
            .await
            .map(drop),
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

/// Runs the workers numbered `workers` against `clients` until `limit`;
/// returns what they saw and how long it took (until the last call
/// finished). A worker's number picks where it starts in the mix and its
/// random stream, so a run split over several calls (lanes) with disjoint
/// ranges issues what one call with the whole range would.
pub async fn drive(
    clients: &[KmsClient],
    workload: &Arc<Workload>,
    workers: Range<usize>,
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
    for worker in workers {
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
            pool: vec![
                PoolEntry {
                    key: 0,
                    blob: vec![1; 66],
                },
                PoolEntry {
                    key: 1,
                    blob: vec![2; 66],
                },
            ],
            algorithms: Algorithms::default(),
            message: bench_message(32),
            signatures: vec![vec![7; 72], vec![8; 72]],
            macs: vec![vec![9; 32], vec![10; 32]],
            create_key_latencies: Vec::new(),
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

    #[test]
    fn asymmetric_and_mac_requests_name_key_algorithm_and_material() {
        let mut w = workload("Sign,Verify,GenerateMac,VerifyMac,Decrypt");
        w.algorithms = Algorithms::resolve(
            pb::KeySpec::Rsa2048 as i32,
            None,
            Some(pb::MacAlgorithmSpec::HmacSha384 as i32),
            None,
            pb::DataKeyPairSpec::Rsa3072 as i32,
        );
        assert!(w.algorithms.asymmetric_encryption());
        let Prepared::Sign(r) = w.request(BenchOp::Sign, 1, 0) else {
            panic!("sign")
        };
        assert_eq!(r.key_id, "k2");
        assert_eq!(r.message, bench_message(32));
        assert_eq!(r.message_type, pb::MessageType::Raw as i32);
        assert_eq!(
            r.signing_algorithm,
            pb::SigningAlgorithmSpec::RsassaPkcs1V15Sha256 as i32
        );
        let Prepared::Verify(v) = w.request(BenchOp::Verify, 1, 0) else {
            panic!("verify")
        };
        // The signature made for that key.
        assert_eq!(
            (v.key_id.as_str(), v.signature.clone()),
            ("k2", vec![8; 72])
        );
        let Prepared::VerifyMac(m) = w.request(BenchOp::VerifyMac, 2, 0) else {
            panic!("verify-mac")
        };
        assert_eq!((m.key_id.as_str(), m.mac.clone()), ("k1", vec![9; 32]));
        assert_eq!(m.mac_algorithm, pb::MacAlgorithmSpec::HmacSha384 as i32);
        // An RSA Decrypt names the key that made the ciphertext, and the
        // algorithm, and has no context.
        let Prepared::Decrypt(d) = w.request(BenchOp::Decrypt, 0, 1) else {
            panic!("decrypt")
        };
        assert_eq!(d.key_id.as_deref(), Some("k2"));
        assert_eq!(
            d.encryption_algorithm,
            pb::EncryptionAlgorithmSpec::RsaesOaepSha256 as i32
        );
        assert!(d.encryption_context.is_empty());
        let Prepared::GenerateDataKeyPair(p) = w.request(BenchOp::GenerateDataKeyPair, 0, 0) else {
            panic!("gdkp")
        };
        assert_eq!(p.key_pair_spec, pb::DataKeyPairSpec::Rsa3072 as i32);
        // Symmetric keys keep Decrypt as before: no key id, no algorithm.
        let sym = workload("Decrypt");
        let Prepared::Decrypt(d) = sym.request(BenchOp::Decrypt, 0, 1) else {
            panic!("decrypt")
        };
        assert_eq!((d.key_id, d.encryption_algorithm), (None, 0));
    }

    #[test]
    fn create_key_requests_local_and_in_a_custom_key_store() {
        let local = SetupOptions::new(Mix::parse("GenerateDataKey").unwrap(), KeySpecArg::Aes256);
        let r = create_key_request(&local).unwrap();
        assert_eq!(r.key_spec, pb::KeySpec::SymmetricDefault as i32);
        assert_eq!(r.key_usage, pb::KeyUsageType::EncryptDecrypt as i32);
        // The service's default origin, AWS_KMS.
        assert_eq!((r.origin, r.custom_key_store_id), (0, None));

        let hsm = SetupOptions {
            custom_key_store_id: Some("cks-1234567890abcdef0".into()),
            ..SetupOptions::new(Mix::parse("Decrypt").unwrap(), KeySpecArg::Aes256)
        };
        let r = create_key_request(&hsm).unwrap();
        assert_eq!(r.origin, pb::OriginType::AwsCloudhsm as i32);
        assert_eq!(
            r.custom_key_store_id.as_deref(),
            Some("cks-1234567890abcdef0")
        );
        assert_eq!(r.key_spec, pb::KeySpec::SymmetricDefault as i32);
    }
}
