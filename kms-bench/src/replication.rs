//! `kms-bench replication-lag`: how long a change to a multi-Region key
//! made in its primary Region takes to be usable in the replica Regions,
//! and whether Decrypt of ciphertexts made in another Region is as fast as
//! of ones made locally.
//!
//! The Regions are reached as kmsctl reaches them, through a config file's
//! profile ([`kms_proto::client::profile`]: `--config` or `KMSCTL_CONFIG`
//! or `~/.kmsd/config`, `--profile`), one `--primary-region` and one or
//! more `--replica-region`s. A run:
//!
//! 1. starts `--load-concurrency` workers calling GenerateDataKey on a
//!    single-Region key in the primary Region for the whole run (the lag is
//!    measured under load, not on an idle server);
//! 2. **rotation** (`--change rotate` or `both`): on a multi-Region key
//!    replicated to every replica Region, `--iterations` times: calls
//!    RotateKeyOnDemand in the primary, encrypts under the key there (so
//!    the ciphertext names the new material), and polls Decrypt of that
//!    ciphertext in every replica Region concurrently until it succeeds;
//!    the lag of a Region is the time from RotateKeyOnDemand's answer to
//!    its first successful Decrypt. AWS allows 10 on-demand rotations per
//!    key, so a fresh key is made (not timed) every 9;
//! 3. **replication** (`--change replicate` or `both`): `--iterations`
//!    times: creates a multi-Region key and encrypts under it in the
//!    primary (not timed), then for each replica Region calls ReplicateKey
//!    and polls Decrypt of that ciphertext there until it succeeds; the lag
//!    is from ReplicateKey's answer to that success;
//! 4. **cross-Region Decrypt** (unless `--decrypt-duration 0`): in the
//!    first replica Region, Decrypt throughput of `--pool-size`
//!    ciphertexts made in the primary Region against as many made in the
//!    replica Region itself, under the same replicated key, in alternating
//!    rounds so drift in the machine's load hits both alike;
//! 5. prints p50 / p99 / max of each lag (per Region and overall), the
//!    GenerateDataKey load achieved, the Decrypt throughputs and their
//!    ratio, against the targets (p99 lag < 1 s; cross-Region Decrypt
//!    throughput equal to same-Region, i.e. a ratio of at least 0.9), as
//!    text or `--json`; schedules the keys it created for deletion (7 days)
//!    unless `--keep-keys`.
//!
//! The poll interval (`--poll-interval`, 2 ms) bounds the resolution of a
//! lag from above; every poll is a real Decrypt, so polling adds a little
//! load of its own to the replica Regions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tonic::transport::Channel;

use crate::args::parse_duration;
use kms_proto::client::profile::{self, Config, ProfileError, Selection};
use kms_proto::client::{connect_channel, ConnectError, ConnectOptions, KmsClient};
use kms_proto::kms::v1 as pb;

/// AWS's limit of on-demand rotations per key, less one for margin.
const ROTATIONS_PER_KEY: u32 = 9;
/// How long set-up waits for a new replica to become usable.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Alternating rounds of the cross-Region Decrypt measurement.
const DECRYPT_ROUNDS: u32 = 4;
/// Target: p99 replication lag below this (loopback).
pub const TARGET_P99_LAG: Duration = Duration::from_secs(1);
/// Target: cross-Region Decrypt throughput at least this fraction of
/// same-Region ("equal", allowing for measurement noise).
pub const TARGET_DECRYPT_RATIO: f64 = 0.9;

/// Which changes to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Change {
    /// RotateKeyOnDemand on the primary.
    Rotate,
    /// ReplicateKey of a fresh key.
    Replicate,
    /// Both, rotation first.
    Both,
}

/// `kms-bench replication-lag`'s command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kms-bench replication-lag",
    about = "Replication lag of multi-Region keys (RotateKeyOnDemand, ReplicateKey) under \
             GenerateDataKey load, and cross-Region vs same-Region Decrypt throughput",
    long_about = None
)]
pub struct LagArgs {
    /// The kmsctl config file naming the Regions' endpoints [default:
    /// KMSCTL_CONFIG, else ~/.kmsd/config].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The config file's profile [default: KMS_PROFILE, else default].
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The Region the multi-Region keys are created in (their primary).
    #[arg(long, value_name = "REGION")]
    pub primary_region: String,
    /// A Region to replicate to; repeat for several.
    #[arg(long = "replica-region", value_name = "REGION", required = true)]
    pub replica_regions: Vec<String>,
    /// Which changes to time.
    #[arg(long, value_enum, default_value_t = Change::Both)]
    pub change: Change,
    /// Changes to time of each kind.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub iterations: u32,
    /// GenerateDataKey workers loading the primary Region during the run (0:
    /// none).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub load_concurrency: u32,
    /// Pause between two Decrypt polls of one Region.
    #[arg(long, value_name = "DURATION", default_value = "2ms", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Give up on one change after this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How long to measure cross- and same-Region Decrypt (each; 0: skip).
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration)]
    pub decrypt_duration: Duration,
    /// Decrypt workers.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub decrypt_concurrency: u32,
    /// Ciphertexts in each Decrypt pool.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pool_size: u32,
    /// Do not schedule the keys created for deletion.
    #[arg(long)]
    pub keep_keys: bool,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LagError {
    /// The config file, profile or a Region cannot be used.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// No connection could be made.
    #[error("Region {region}: {source}")]
    Connect {
        /// The Region.
        region: String,
        /// Why.
        #[source]
        source: ConnectError,
    },
    /// A call outside the timed part failed.
    #[error("{operation} in {region} failed: {code:?}: {message}")]
    Call {
        /// The operation.
        operation: &'static str,
        /// The Region.
        region: String,
        /// The gRPC code.
        code: tonic::Code,
        /// kmsd's message.
        message: String,
    },
    /// A change did not reach a Region in time.
    #[error("{what} did not reach {region} within {timeout:?} (last error: {last})")]
    Timeout {
        /// Which change.
        what: String,
        /// The Region.
        region: String,
        /// The limit.
        timeout: Duration,
        /// The last Decrypt error there.
        last: String,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
}

fn call_error(operation: &'static str, region: &str, s: &tonic::Status) -> LagError {
    LagError::Call {
        operation,
        region: region.to_owned(),
        code: s.code(),
        message: s.message().to_owned(),
    }
}

/// One Region's connection.
#[derive(Clone)]
struct Region {
    name: String,
    client: KmsClient,
}

/// Lag statistics of one kind of change in one Region (or all).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LagStats {
    /// Changes timed.
    pub count: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile (nearest rank), ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

impl LagStats {
    /// Statistics of `lags` (empty: all zero).
    pub fn of(lags: &[Duration]) -> Self {
        let mut ms: Vec<f64> = lags.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        // Nearest-rank percentile: the smallest value with at least q of
        // the samples at or below it.
        let rank = |q: f64| -> f64 {
            if ms.is_empty() {
                return 0.0;
            }
            let n = ms.len() as f64;
            let i = ((q * n).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[i]
        };
        Self {
            count: ms.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// Decrypt throughput of one pool.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecryptStats {
    /// Successful Decrypts per second.
    pub throughput_rps: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Failed Decrypts.
    pub errors: u64,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LagReport {
    /// The primary Region.
    pub primary_region: String,
    /// The replica Regions.
    pub replica_regions: Vec<String>,
    /// kms-bench's build profile (debug figures mean nothing).
    pub build: &'static str,
    /// RotateKeyOnDemand lag per Region, and `all`.
    pub rotation_lag: BTreeMap<String, LagStats>,
    /// ReplicateKey lag per Region, and `all`.
    pub replicate_lag: BTreeMap<String, LagStats>,
    /// GenerateDataKey load on the primary: successful calls per second.
    pub load_rps: f64,
    /// Failed load calls.
    pub load_errors: u64,
    /// Decrypt in the first replica Region of ciphertexts made in the primary.
    pub decrypt_cross_region: Option<DecryptStats>,
    /// Decrypt in the first replica Region of ciphertexts made there.
    pub decrypt_same_region: Option<DecryptStats>,
    /// cross / same throughput.
    pub decrypt_ratio: Option<f64>,
    /// Whether every target was met.
    pub targets_met: bool,
}

impl LagReport {
    fn check_targets(&mut self) {
        let lag_ok = self
            .rotation_lag
            .values()
            .chain(self.replicate_lag.values())
            .all(|s| s.p99_ms < TARGET_P99_LAG.as_secs_f64() * 1e3);
        let decrypt_ok = self.decrypt_ratio.is_none_or(|r| r >= TARGET_DECRYPT_RATIO);
        self.targets_met = lag_ok && decrypt_ok;
    }

    /// The text report.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "replication lag: primary {}, replicas {} (kms-bench {} build)\n",
            self.primary_region,
            self.replica_regions.join(", "),
            self.build
        );
        out += &format!(
            "load: GenerateDataKey on {} at {:.0} req/s ({} errors)\n",
            self.primary_region, self.load_rps, self.load_errors
        );
        for (title, stats) in [
            ("RotateKeyOnDemand -> Decrypt", &self.rotation_lag),
            ("ReplicateKey -> Decrypt", &self.replicate_lag),
        ] {
            if stats.is_empty() {
                continue;
            }
            out += &format!("{title} lag (target p99 < {:?}):\n", TARGET_P99_LAG);
            for (region, s) in stats {
                out += &format!(
                    "  {region:<12} n={:<5} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms\n",
                    s.count, s.p50_ms, s.p99_ms, s.max_ms
                );
            }
        }
        if let (Some(c), Some(s), Some(r)) = (
            &self.decrypt_cross_region,
            &self.decrypt_same_region,
            self.decrypt_ratio,
        ) {
            let region = self.replica_regions.first().map_or("", String::as_str);
            out += &format!("Decrypt in {region} (target cross/same >= {TARGET_DECRYPT_RATIO}):\n");
            for (label, d) in [("made in primary", c), ("made locally", s)] {
                out += &format!(
                    "  {label:<16} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}\n",
                    d.throughput_rps, d.p50_ms, d.p99_ms, d.errors
                );
            }
            out += &format!("  cross/same throughput: {r:.2}\n");
        }
        out += &format!(
            "targets: {}\n",
            if self.targets_met { "met" } else { "NOT met" }
        );
        out
    }
}

/// `kms-bench replication-lag ARGS…` (`argv` without the program name and
/// the subcommand word).
pub fn main(argv: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    let args = match LagArgs::try_parse_from(
        std::iter::once(std::ffi::OsString::from("kms-bench replication-lag")).chain(argv),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kms-bench: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => println!("{j}"),
                    Err(e) => eprintln!("kms-bench: cannot write JSON: {e}"),
                }
            } else {
                print!("{}", report.to_text());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kms-bench replication-lag: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn connect_region(
    config: Option<&Config>,
    profile_name: Option<&str>,
    region: &str,
) -> Result<Region, LagError> {
    let selection = Selection {
        profile: profile_name.map(str::to_owned),
        region: Some(region.to_owned()),
    };
    // Not the KMS_* environment: one endpoint cannot be every Region.
    let applied = profile::apply(ConnectOptions::default(), &selection, config)?;
    let channel: Channel =
        connect_channel(&applied.opts)
            .await
            .map_err(|source| LagError::Connect {
                region: region.to_owned(),
                source,
            })?;
    Ok(Region {
        name: region.to_owned(),
        client: KmsClient::new(channel),
    })
}

/// Runs the measurement `args` describes.
pub async fn run(args: &LagArgs) -> Result<LagReport, LagError> {
    if args.replica_regions.contains(&args.primary_region) {
        return Err(LagError::Usage(
            "--replica-region must differ from --primary-region".into(),
        ));
    }
    let config = match &args.config {
        Some(p) => Config::load(p, true)?,
        None => match Config::default_path() {
            Some((p, named)) => Config::load(&p, named)?,
            None => None,
        },
    };
    let profile_name = args
        .profile
        .clone()
        .or_else(|| std::env::var(profile::ENV_PROFILE).ok())
        .filter(|p| !p.is_empty());
    let primary = connect_region(
        config.as_ref(),
        profile_name.as_deref(),
        &args.primary_region,
    )
    .await?;
    let mut replicas = Vec::new();
    for r in &args.replica_regions {
        replicas.push(connect_region(config.as_ref(), profile_name.as_deref(), r).await?);
    }
    let mut created: Vec<(Region, String)> = Vec::new();

    // The load, on its own connection so it queues behind nothing of ours.
    let load_region =
        connect_region(config.as_ref(), profile_name.as_deref(), &primary.name).await?;
    let load_key = create_key(&primary, false).await?;
    created.push((primary.clone(), load_key.clone()));
    let load = Load::start(&load_region, &load_key, args.load_concurrency);

    let result = measure(args, &primary, &replicas, &mut created).await;
    let (load_rps, load_errors) = load.stop().await;
    if !args.keep_keys {
        cleanup(&created).await;
    }
    let mut report = result?;
    report.load_rps = load_rps;
    report.load_errors = load_errors;
    report.check_targets();
    Ok(report)
}

async fn measure(
    args: &LagArgs,
    primary: &Region,
    replicas: &[Region],
    created: &mut Vec<(Region, String)>,
) -> Result<LagReport, LagError> {
    let mut rotation: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut replicate: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut shared_key: Option<String> = None;
    let polling = (args.poll_interval, args.timeout);

    if matches!(args.change, Change::Rotate | Change::Both) {
        let mut key = String::new();
        for i in 0..args.iterations {
            if i % ROTATIONS_PER_KEY == 0 {
                key = replicated_key(primary, replicas, created).await?;
            }
            let mut c = primary.client.clone();
            c.rotate_key_on_demand(pb::RotateKeyOnDemandRequest {
                key_id: key.clone(),
            })
            .await
            .map_err(|s| call_error("RotateKeyOnDemand", &primary.name, &s))?;
            let t0 = Instant::now();
            let blob = encrypt(primary, &key, b"after rotation").await?;
            let what = format!("rotation {} of {key}", i % ROTATIONS_PER_KEY + 1);
            let polls = replicas
                .iter()
                .map(|r| poll_decrypt(r, blob.clone(), t0, polling, what.clone()));
            for (r, lag) in replicas.iter().zip(futures_join_all(polls).await) {
                rotation.entry(r.name.clone()).or_default().push(lag?);
            }
        }
        shared_key = Some(key);
    }

    if matches!(args.change, Change::Replicate | Change::Both) {
        for i in 0..args.iterations {
            let key = create_key(primary, true).await?;
            created.push((primary.clone(), key.clone()));
            let blob = encrypt(primary, &key, b"before replication").await?;
            for r in replicas {
                replicate_to(primary, &key, &r.name).await?;
                let t0 = Instant::now();
                created.push((r.clone(), key.clone()));
                let what = format!("ReplicateKey {} ({key})", i + 1);
                let lag = poll_decrypt(r, blob.clone(), t0, polling, what).await?;
                replicate.entry(r.name.clone()).or_default().push(lag);
            }
        }
    }

    let (cross, same) = if args.decrypt_duration.is_zero() {
        (None, None)
    } else {
        let key = match shared_key {
            Some(k) => k,
            None => replicated_key(primary, replicas, created).await?,
        };
        let (c, s) = decrypt_comparison(args, primary, &replicas[0], &key).await?;
        (Some(c), Some(s))
    };

    let summarize = |m: BTreeMap<String, Vec<Duration>>| {
        let mut out: BTreeMap<String, LagStats> = BTreeMap::new();
        if m.is_empty() {
            return out;
        }
        let all: Vec<Duration> = m.values().flatten().copied().collect();
        for (region, lags) in &m {
            out.insert(region.clone(), LagStats::of(lags));
        }
        out.insert("all".to_owned(), LagStats::of(&all));
        out
    };
    let decrypt_ratio = match (&cross, &same) {
        (Some(c), Some(s)) if s.throughput_rps > 0.0 => Some(c.throughput_rps / s.throughput_rps),
        _ => None,
    };
    Ok(LagReport {
        primary_region: primary.name.clone(),
        replica_regions: replicas.iter().map(|r| r.name.clone()).collect(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        rotation_lag: summarize(rotation),
        replicate_lag: summarize(replicate),
        load_rps: 0.0,
        load_errors: 0,
        decrypt_cross_region: cross,
        decrypt_same_region: same,
        decrypt_ratio,
        targets_met: false,
    })
}

/// Awaits every future, concurrently, keeping their order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        match h.await {
            Ok(v) => out.push(v),
            // A poll task panicking is a bug in this file; re-raise it.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

async fn create_key(region: &Region, multi_region: bool) -> Result<String, LagError> {
    let mut c = region.client.clone();
    let r = c
        .create_key(pb::CreateKeyRequest {
            description: "kms-bench replication-lag".into(),
            multi_region,
            ..Default::default()
        })
        .await
        .map_err(|s| call_error("CreateKey", &region.name, &s))?
        .into_inner();
    Ok(r.key_metadata.map(|m| m.key_id).unwrap_or_default())
}

async fn encrypt(region: &Region, key: &str, text: &[u8]) -> Result<Vec<u8>, LagError> {
    let mut c = region.client.clone();
    let r = c
        .encrypt(pb::EncryptRequest {
            key_id: key.to_owned(),
            plaintext: text.to_vec(),
            ..Default::default()
        })
        .await
        .map_err(|s| call_error("Encrypt", &region.name, &s))?;
    Ok(r.into_inner().ciphertext_blob)
}

async fn replicate_to(primary: &Region, key: &str, to: &str) -> Result<(), LagError> {
    let mut c = primary.client.clone();
    c.replicate_key(pb::ReplicateKeyRequest {
        key_id: key.to_owned(),
        replica_region: to.to_owned(),
        ..Default::default()
    })
    .await
    .map_err(|s| call_error("ReplicateKey", &primary.name, &s))?;
    Ok(())
}

/// A multi-Region key replicated to every replica Region and usable there
/// (set-up, not timed).
async fn replicated_key(
    primary: &Region,
    replicas: &[Region],
    created: &mut Vec<(Region, String)>,
) -> Result<String, LagError> {
    let key = create_key(primary, true).await?;
    created.push((primary.clone(), key.clone()));
    let blob = encrypt(primary, &key, b"set-up").await?;
    for r in replicas {
        replicate_to(primary, &key, &r.name).await?;
        created.push((r.clone(), key.clone()));
        poll_decrypt(
            r,
            blob.clone(),
            Instant::now(),
            (Duration::from_millis(10), SETUP_TIMEOUT),
            format!("set-up replica of {key}"),
        )
        .await?;
    }
    Ok(key)
}

/// Polls Decrypt of `blob` in `region` until it succeeds; the time from
/// `t0` to that success.
fn poll_decrypt(
    region: &Region,
    blob: Vec<u8>,
    t0: Instant,
    (interval, timeout): (Duration, Duration),
    what: String,
) -> impl std::future::Future<Output = Result<Duration, LagError>> + Send + 'static {
    let mut c = region.client.clone();
    let name = region.name.clone();
    async move {
        loop {
            let r = c
                .decrypt(pb::DecryptRequest {
                    ciphertext_blob: blob.clone(),
                    ..Default::default()
                })
                .await;
            let elapsed = t0.elapsed();
            match r {
                Ok(_) => return Ok(elapsed),
                Err(s) if elapsed >= timeout => {
                    return Err(LagError::Timeout {
                        what,
                        region: name,
                        timeout,
                        last: format!("{:?}: {}", s.code(), s.message()),
                    })
                }
                Err(_) => tokio::time::sleep(interval).await,
            }
        }
    }
}

/// The GenerateDataKey load on the primary.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    started: Instant,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(region: &Region, key: &str, concurrency: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let workers = (0..concurrency)
            .map(|_| {
                let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
                let mut c = region.client.clone();
                let key = key.to_owned();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = c
                            .generate_data_key(pb::GenerateDataKeyRequest {
                                key_id: key.clone(),
                                key_spec: pb::DataKeySpec::Aes256 as i32,
                                ..Default::default()
                            })
                            .await;
                        let n = if r.is_ok() { &ok } else { &errors };
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Self {
            stop,
            ok,
            errors,
            started: Instant::now(),
            workers,
        }
    }

    /// Stops the workers; (successful calls per second, failed calls).
    async fn stop(self) -> (f64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        for w in self.workers {
            let _ = w.await;
        }
        let ok = self.ok.load(Ordering::Relaxed) as f64;
        let rps = if secs > 0.0 { ok / secs } else { 0.0 };
        (rps, self.errors.load(Ordering::Relaxed))
    }
}

/// Decrypt in `replica` of ciphertexts made in `primary` (cross) and in
/// `replica` (same), alternating rounds.
async fn decrypt_comparison(
    args: &LagArgs,
    primary: &Region,
    replica: &Region,
    key: &str,
) -> Result<(DecryptStats, DecryptStats), LagError> {
    let mut cross_pool = Vec::new();
    let mut same_pool = Vec::new();
    for i in 0..args.pool_size {
        let text = format!("ciphertext {i}");
        cross_pool.push(encrypt(primary, key, text.as_bytes()).await?);
        same_pool.push(encrypt(replica, key, text.as_bytes()).await?);
    }
    let pools = [Arc::new(cross_pool), Arc::new(same_pool)];
    let slice = args.decrypt_duration / DECRYPT_ROUNDS;
    let mut totals = [Totals::default(), Totals::default()];
    for round in 0..DECRYPT_ROUNDS {
        // Which pool goes first alternates, so drift hits both alike.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let t = decrypt_slice(replica, &pools[which], args.decrypt_concurrency, slice).await;
            totals[which].add(t);
        }
    }
    let [cross, same] = totals;
    Ok((cross.stats(), same.stats()))
}

#[derive(Default)]
struct Totals {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies_us.extend(other.latencies_us);
    }

    fn stats(mut self) -> DecryptStats {
        self.latencies_us.sort_unstable();
        let pct = |q: f64| {
            if self.latencies_us.is_empty() {
                return 0.0;
            }
            let n = self.latencies_us.len();
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.latencies_us[i] as f64 / 1e3
        };
        let secs = self.elapsed.as_secs_f64();
        DecryptStats {
            throughput_rps: if secs > 0.0 {
                self.ok as f64 / secs
            } else {
                0.0
            },
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            errors: self.errors,
        }
    }
}

async fn decrypt_slice(
    region: &Region,
    pool: &Arc<Vec<Vec<u8>>>,
    concurrency: u32,
    duration: Duration,
) -> Totals {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let mut c = region.client.clone();
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut t = Totals::default();
                let mut i = w as usize;
                while Instant::now() < deadline {
                    let blob = pool[i % pool.len()].clone();
                    i += concurrency as usize;
                    let t0 = Instant::now();
                    let r = c
                        .decrypt(pb::DecryptRequest {
                            ciphertext_blob: blob,
                            ..Default::default()
                        })
                        .await;
                    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    if r.is_ok() {
                        t.ok += 1;
                        t.latencies_us.push(us);
                    } else {
                        t.errors += 1;
                    }
                }
                t
            })
        })
        .collect();
    let mut total = Totals::default();
    for w in workers {
        if let Ok(t) = w.await {
            total.add(t);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Schedules the keys created for deletion: replicas first (a primary with
/// replicas would wait for them), 7 days, errors ignored (best effort).
async fn cleanup(created: &[(Region, String)]) {
    // A key's first entry is its primary (created there before any
    // replica); later entries are its replicas.
    let mut seen = std::collections::HashSet::new();
    let (primaries, replicas): (Vec<_>, Vec<_>) = created
        .iter()
        .partition(|entry| seen.insert(entry.1.as_str()));
    for (region, key) in replicas.into_iter().chain(primaries) {
        let mut c = region.client.clone();
        let _ = c
            .schedule_key_deletion(pb::ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: Some(7),
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn lag_percentiles_are_nearest_rank() {
        let lags: Vec<Duration> = (1..=100).map(ms).collect();
        let s = LagStats::of(&lags);
        assert_eq!(s.count, 100);
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (50.0, 99.0, 100.0));
        let s = LagStats::of(&[ms(7), ms(3), ms(5)]);
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (5.0, 7.0, 7.0));
        assert_eq!(LagStats::of(&[]).count, 0);
    }

    #[test]
    fn targets() {
        let mut r = LagReport {
            primary_region: "us-east-1".into(),
            replica_regions: vec!["us-west-2".into()],
            build: "debug",
            rotation_lag: BTreeMap::from([("all".to_owned(), LagStats::of(&[ms(20)]))]),
            replicate_lag: BTreeMap::new(),
            load_rps: 100.0,
            load_errors: 0,
            decrypt_cross_region: None,
            decrypt_same_region: None,
            decrypt_ratio: Some(0.97),
            targets_met: false,
        };
        r.check_targets();
        assert!(r.targets_met);
        r.decrypt_ratio = Some(0.5);
        r.check_targets();
        assert!(!r.targets_met);
        r.decrypt_ratio = None;
        r.replicate_lag
            .insert("all".into(), LagStats::of(&[ms(1500)]));
        r.check_targets();
        assert!(!r.targets_met);
        let text = r.to_text();
        assert!(
            text.contains("ReplicateKey -> Decrypt") && text.contains("NOT met"),
            "{text}"
        );
    }

    #[test]
    fn arguments() {
        let a = LagArgs::try_parse_from([
            "x",
            "--primary-region",
            "us-east-1",
            "--replica-region",
            "us-west-2",
            "--replica-region",
            "eu-west-1",
            "--change",
            "rotate",
            "--iterations",
            "20",
            "--poll-interval",
            "1ms",
        ])
        .expect("parses");
        assert_eq!(a.replica_regions, ["us-west-2", "eu-west-1"]);
        assert_eq!((a.change, a.iterations), (Change::Rotate, 20));
        assert_eq!(a.poll_interval, ms(1));
        assert!(LagArgs::try_parse_from(["x", "--primary-region", "us-east-1"]).is_err());
    }
}
