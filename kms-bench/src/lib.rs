//! kms-bench: a load generator for kmsd, and the inputs kmsd's criterion
//! benchmarks (`benches/`) share with it.
//!
//! kms-bench drives a running kmsd over gRPC with mutual TLS, connecting
//! exactly as kmsctl does ([`kms_proto::client`]). A run:
//!
//! 1. with `--wait-ready`, first retries one GenerateDataKey on the first
//!    `--key-id` every ~10 ms until kmsd serves it, and reports the time
//!    from kms-bench's start to then (`ready_ms`);
//! 2. connects `--connections` HTTP/2 channels as the main identity for
//!    set-up;
//! 3. sets up against the real service ([`workload::setup`]): creates
//!    `--keys` keys of `--key-spec` and the usage the mix needs (in the
//!    `--custom-key-store-id` HSM key store, origin AWS_CLOUDHSM, when
//!    given), timing each CreateKey (or describes the `--key-id`s given); for Decrypt and
//!    ReEncrypt makes a pool of ciphertexts, for Verify and VerifyMac one
//!    signature or MAC per key; then ([`authz`]) puts a
//!    `--key-policy-bytes` key policy, grants the grantee the mix's
//!    operations and creates `--grants` filler grants on every key;
//! 4. with `--baseline`, starts the no-op server ([`baseline`]) on its own
//!    runtime;
//! 5. starts the load-generating threads ([`lanes`]: `--client-threads`,
//!    each a current-thread runtime with its share of `--connections`
//!    connections of its own, as the grantee if there is one, and as many
//!    to the baseline as the main identity), warms up each target for
//!    `--warmup`, then measures: the service alone for `--duration` / `--requests`,
//!    or — with `--baseline` — `--rounds` rounds of slices of service,
//!    baseline and (with `--raw-crypto`) the operation's cryptography
//!    alone on `--raw-threads` threads, each round starting one place
//!    further along that cycle, so drift in the machine's load hits all
//!    of them alike;
//! 6. with `--raw-crypto` and no `--baseline`, runs the raw cryptography
//!    after the service, for as long as the service was measured;
//! 7. unless `--keep-keys`, schedules the keys it created for deletion and
//!    on `--key-id` keys revokes its grants and puts the old policy back;
//!    prints the [`report::Report`] as text or JSON.
//!
//! Layout: `args.rs` (command line, duration parsing), `mix.rs` (the
//! operation mix), `workload.rs` (set-up, requests, the load loop),
//! `lanes.rs` (the load-generating threads that run the load loop),
//! `authz.rs` (grantee, grants and key policy set-up and undoing),
//! `stats.rs` (histograms, error counts), `report.rs` (text and JSON),
//! `baseline.rs` (the no-op server), `fixtures.rs` (contexts, policies and
//! a PRNG, also used by `benches/`), `specs.rs` (what a key spec implies:
//! key usage, default algorithms, answer sizes), `raw_crypto.rs`
//! (`--raw-crypto`: the operation's cryptography in-process, and the
//! ceiling 1/(1/baseline + 1/raw)).
//!
//! `kms-bench replication-lag` ([`replication`]) is a separate
//! measurement: the replication lag of multi-Region keys between Regions.
//!
//! Figures from a debug build of kms-bench or kmsd are not performance
//! figures; the report says which build kms-bench is.
//!
//! It depends on `kms-proto` only (not on kmsd), so it builds without
//! RocksDB. Its tests that need a real kmsd or kmsd's dev certificates are
//! in kmsd's `tests/it/bench.rs`.

#![forbid(unsafe_code)]

pub mod args;
pub mod authz;
pub mod baseline;
pub mod fixtures;
pub mod lanes;
pub mod mix;
pub mod raw_crypto;
pub mod replication;
pub mod report;
pub mod specs;
pub mod stats;
pub mod workload;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use indicatif::{ProgressBar, ProgressStyle};

use args::{BenchArgs, Limit};
use authz::Principal;
use authz::{AuthzState, Workers};
use baseline::{BaselineError, BaselineServer, BaselineTls, NoopKms};
use kms_proto::aws_enum::AwsEnum as _;
use kms_proto::client::{
    connect_channel, ConnectError, ConnectOptions, KmsClient, ResolvedConnection,
};
use kms_proto::kms::v1 as pb;
use lanes::{LaneError, Lanes};
use mix::BenchOp;
use report::{Extras, Report, RunInfo};
use stats::Recorder;
use workload::{Progress, SetupError, SetupOptions, Workload};

/// How often `--wait-ready` retries.
const READY_RETRY: Duration = Duration::from_millis(10);

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// No connection could be made.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The load-generating threads could not start or connect.
    #[error(transparent)]
    Lanes(#[from] LaneError),
    /// A set-up call failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The baseline server could not start.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// `--baseline` without TLS material for the baseline server.
    #[error(
        "--baseline needs a server certificate and key for the baseline server: pass --data-dir \
         (it uses DIR/certs/server.pem and DIR/certs/server.key) or --baseline-cert and --baseline-key"
    )]
    BaselineTlsMissing,
    /// A file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadFile {
        /// Which file.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A client certificate that names no principal kms-bench can use.
    #[error("cannot use {what} {path}: {reason}")]
    Certificate {
        /// Which certificate.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--wait-ready`: kmsd did not serve in time.
    #[error(
        "kmsd did not serve GenerateDataKey on {key_id} within {waited:?} \
         ({attempts} attempt(s)); last error: {last}"
    )]
    NotReady {
        /// The key called.
        key_id: String,
        /// The `--wait-ready` duration.
        waited: Duration,
        /// Attempts made.
        attempts: u64,
        /// The last attempt's failure.
        last: String,
    },
    /// A usage error: a limit that measures nothing, or flags that do not
    /// go together.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs kms-bench with the process's arguments; the binary's `main`.
pub fn main() -> ExitCode {
    // `ready_ms` counts from here.
    let started = Instant::now();
    // The one subcommand; everything else is the flat load generator.
    let mut argv = std::env::args_os().skip(1);
    if argv.next().is_some_and(|a| a == "replication-lag") {
        return replication::main(argv);
    }
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kms-bench: {}", BenchError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let ui = Ui::new(&args);
    match runtime.block_on(run_from(&args, &ui, started)) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            if report.ok == 0 {
                eprintln!(
                    "kms-bench: no request succeeded ({} failed); see the errors above",
                    report.errors
                );
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kms-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Status lines and progress bars on stderr.
#[derive(Debug, Clone)]
pub struct Ui {
    /// Status lines ("creating 1 key...").
    pub verbose: bool,
    /// Progress bars.
    pub bars: bool,
}

impl Ui {
    /// Status lines unless `--json`; bars only on a terminal and not with
    /// `--json` or `--no-progress`.
    pub fn new(args: &BenchArgs) -> Self {
        Self {
            verbose: !args.json,
            bars: !args.json && !args.no_progress && std::io::stderr().is_terminal(),
        }
    }

    /// Silent (tests).
    pub fn quiet() -> Self {
        Self {
            verbose: false,
            bars: false,
        }
    }

    fn status(&self, msg: &str) {
        if self.verbose {
            eprintln!("kms-bench: {msg}");
        }
    }

    fn bar(&self, label: &str, limit: Limit) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let (len, template) = match limit {
            Limit::Duration(d) => (
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1),
                "{prefix:>20} [{bar:30}] {elapsed:>4} {msg}",
            ),
            Limit::Requests(n) => (n, "{prefix:>20} [{bar:30}] {pos}/{len} {msg}"),
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ProgressBar::new(len)
            .with_style(style)
            .with_prefix(label.to_owned())
    }
}

/// What a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Service,
    Baseline,
    /// The `--raw-crypto` primitive, in process.
    Raw,
}

/// Runs one benchmark as `args` describe and returns its report;
/// `ready_ms` counts from this call.
pub async fn run(args: &BenchArgs, ui: &Ui) -> Result<Report, BenchError> {
    run_from(args, ui, Instant::now()).await
}

/// The grantee identity (`--grantee-cert`).
#[derive(Debug, Clone)]
struct Grantee {
    principal: Principal,
    opts: ConnectOptions,
}

/// As [`run`], with `ready_ms` counted from `started` (the process's start).
pub async fn run_from(args: &BenchArgs, ui: &Ui, started: Instant) -> Result<Report, BenchError> {
    let limit = args.limit();
    check_limit(limit, if args.baseline { args.rounds } else { 1 })?;
    args.check().map_err(BenchError::Usage)?;
    let raw_op = if args.raw_crypto {
        Some(raw_crypto::operation_of(&args.operation).map_err(BenchError::Usage)?)
    } else {
        None
    };
    if args.key_ids.is_empty() {
        specs::key_usage_for(&args.operation, args.key_spec).map_err(BenchError::Usage)?;
    }
    let opts = args.connect_options();
    let ready_ms = match args.wait_ready {
        Some(wait) => Some(wait_ready(args, &opts, ui, started, wait).await?),
        None => None,
    };
    let resolved = opts.resolve()?;
    // Fail on unusable baseline or grantee files before creating anything.
    let baseline_tls = if args.baseline {
        Some(read_baseline_tls(args, &resolved)?)
    } else {
        None
    };
    let grantee = match (&args.grantee_cert, &args.grantee_key) {
        (Some(cert), Some(key)) => Some(Grantee {
            principal: read_principal("grantee certificate", cert)?,
            opts: ConnectOptions {
                endpoint_url: Some(resolved.endpoint.clone()),
                ca_cert: Some(resolved.ca_cert.clone()),
                client_cert: Some(cert.clone()),
                client_key: Some(key.clone()),
                data_dir: None,
            },
        }),
        _ => None,
    };
    // The filler grants' principals and the policy name the main
    // identity's account.
    let account = if args.grants > 0 || args.key_policy_bytes > 0 {
        let main = read_principal("client certificate", &resolved.client_cert)?;
        main.account().to_owned()
    } else {
        String::new()
    };
    let clients = lanes::connect_n(&opts, args.connections).await?;
    let setup = SetupOptions {
        context: fixtures::encryption_context(args.context_pairs),
        key_ids: args.key_ids.clone(),
        create_keys: args.keys,
        custom_key_store_id: args.custom_key_store_id.clone(),
        create_parallelism: args.concurrency,
        pool_size: args.pool_size,
        signing_algorithm: args.signing_algorithm,
        mac_algorithm: args.mac_algorithm,
        encryption_algorithm: args.encryption_algorithm,
        key_pair_spec: args.key_pair_spec,
        message_bytes: args.message_bytes as usize,
        ..SetupOptions::new(args.operation.clone(), args.key_spec)
    };
    if args.key_ids.is_empty() {
        let place = match &args.custom_key_store_id {
            Some(store) => format!(" in custom key store {store}"),
            None => String::new(),
        };
        ui.status(&format!(
            "creating {} {} key(s){place} on {}",
            args.keys,
            if args.key_spec.is_symmetric() {
                "SYMMETRIC_DEFAULT"
            } else {
                args.key_spec.as_str()
            },
            resolved.endpoint
        ));
    }
    if args.operation.needs_ciphertexts() {
        ui.status(&format!(
            "making {} ciphertexts for the pool",
            args.pool_size
        ));
    }
    let mut workload = workload::setup(&clients[0], setup).await?;
    if let Some(g) = &grantee {
        // Another account's keys are named by ARN, as AWS requires.
        for k in &mut workload.keys {
            if !k.metadata.arn.is_empty() && k.metadata.aws_account_id != g.principal.account() {
                k.key_id = k.metadata.arn.clone();
            }
        }
    }
    let workload = Arc::new(workload);
    let mut state = AuthzState::default();
    let result = match prepare_authz(
        args,
        ui,
        &clients,
        &workload,
        &account,
        grantee.as_ref(),
        &mut state,
    )
    .await
    {
        Ok(()) => {
            // The measured calls are the grantee's when there is one.
            let measured = grantee.as_ref().map_or(&opts, |g| &g.opts);
            match raw_primitive(raw_op, &workload) {
                Ok(primitive) => {
                    let raw = primitive.map(|p| RawCrypto::new(args, ui, p, &workload));
                    measure(args, ui, &resolved, measured, &workload, baseline_tls, raw).await
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    if !args.keep_keys {
        if !state.is_empty() {
            ui.status(&format!(
                "revoking {} grant(s) and restoring {} key policy(ies) on --key-id keys",
                state.grants.len(),
                state.replaced_policies.len()
            ));
            let progress = Arc::new(Progress::default());
            let limit = Limit::Requests(state.grants.len() as u64);
            let bar = ui.bar("revoking grants", limit);
            let ticker = spawn_ticker(bar.clone(), Arc::clone(&progress), limit);
            let w = Workers {
                clients: &clients,
                count: args.concurrency,
                progress: &progress,
            };
            let failures = authz::undo(w, &state).await;
            ticker.abort();
            bar.finish_and_clear();
            for failure in failures {
                ui.status(&format!("cleanup: {failure}"));
            }
        }
        if workload.keys.iter().any(|k| k.created) {
            for failure in workload::cleanup(&clients[0], &workload.keys).await {
                ui.status(&format!("cleanup: {failure}"));
            }
        }
    }
    let (service, baseline, raw) = result?;
    let info = RunInfo {
        operation: args.operation.to_string(),
        endpoint: resolved.endpoint.clone(),
        concurrency: args.concurrency,
        connections: args.connections,
        key_spec: args.key_spec.as_str(),
        context_pairs: args.context_pairs,
        keys: workload.keys.len(),
        key_origin: workload
            .keys
            .first()
            .and_then(|k| pb::OriginType::aws_name_of(k.metadata.origin))
            .unwrap_or(""),
        custom_key_store_id: workload
            .keys
            .first()
            .map(|k| k.metadata.custom_key_store_id.clone())
            .unwrap_or_default(),
        caller: if grantee.is_some() { "grantee" } else { "main" },
        grants: args.grants,
        key_policy_bytes: state.policy_bytes,
        ready_ms,
        warmup_s: args.warmup.as_secs_f64(),
        rounds: args.rounds,
        baseline_tcp_nodelay: !args.baseline_nagle,
    };
    let extras = Extras {
        algorithm: algorithm_name(&workload),
        create_key_latencies: workload.create_key_latencies.clone(),
        raw,
    };
    Ok(Report::new(info, &service, baseline.as_ref()).with_extras(extras))
}

/// The AWS spelling of the algorithm (or key pair spec) the mix's
/// asymmetric or HMAC operations name, if any.
fn algorithm_name(w: &Workload) -> Option<String> {
    let a = w.algorithms;
    let has = |ops: &[BenchOp]| ops.iter().any(|op| w.mix.contains(*op));
    let name = if has(&[BenchOp::Sign, BenchOp::Verify]) {
        pb::SigningAlgorithmSpec::aws_name_of(a.signing)
    } else if has(&[BenchOp::GenerateMac, BenchOp::VerifyMac]) {
        pb::MacAlgorithmSpec::aws_name_of(a.mac)
    } else if has(&[
        BenchOp::GenerateDataKeyPair,
        BenchOp::GenerateDataKeyPairWithoutPlaintext,
    ]) {
        pb::DataKeyPairSpec::aws_name_of(a.key_pair_spec)
    } else if a.asymmetric_encryption() && has(&[BenchOp::Encrypt, BenchOp::Decrypt]) {
        pb::EncryptionAlgorithmSpec::aws_name_of(a.encryption)
    } else {
        None
    };
    name.map(str::to_owned)
}

/// The `--raw-crypto` primitive for the workload's keys and algorithms.
fn raw_primitive(
    op: Option<BenchOp>,
    w: &Workload,
) -> Result<Option<raw_crypto::Primitive>, BenchError> {
    let Some(op) = op else { return Ok(None) };
    let spec = w.keys.first().map_or(0, |k| k.metadata.key_spec);
    raw_crypto::Primitive::new(op, spec, &w.algorithms, &w.message)
        .map(Some)
        .map_err(BenchError::Usage)
}

/// The `--raw-crypto` measurement: the primitive, run off the async threads
/// on `--raw-threads` threads, in slices alternating with the service's and
/// the baseline's (or after the service, without `--baseline`), so that the
/// machine's drift hits the three alike.
struct RawCrypto {
    primitive: Arc<raw_crypto::Primitive>,
    message: Arc<Vec<u8>>,
    threads: u32,
}

impl RawCrypto {
    fn new(args: &BenchArgs, ui: &Ui, primitive: raw_crypto::Primitive, w: &Workload) -> Self {
        let threads = args.raw_threads.unwrap_or_else(raw_crypto::default_threads);
        ui.status(&format!(
            "raw crypto: {} on {threads} thread(s)",
            primitive.name
        ));
        Self {
            primitive: Arc::new(primitive),
            message: Arc::new(w.message.clone()),
            threads,
        }
    }

    /// One slice of `limit`.
    async fn slice(&self, limit: Limit) -> Result<raw_crypto::RawResult, BenchError> {
        let (p, m, threads) = (
            Arc::clone(&self.primitive),
            Arc::clone(&self.message),
            self.threads,
        );
        tokio::task::spawn_blocking(move || raw_crypto::run(&p, &m, threads, limit))
            .await
            .map_err(|e| BenchError::Usage(format!("the raw-crypto run failed: {e}")))
    }
}

fn check_limit(limit: Limit, rounds: u32) -> Result<(), BenchError> {
    match limit {
        Limit::Duration(d) if d.is_zero() => {
            Err(BenchError::Usage("--duration must be more than 0".into()))
        }
        Limit::Duration(d) if (d / rounds.max(1)).is_zero() => Err(BenchError::Usage(format!(
            "--duration {d:?} is too short for {rounds} rounds"
        ))),
        _ => Ok(()),
    }
}

/// Puts the key policy, grants the grantee and creates the filler grants,
/// as `args` ask, recording in `state` what is to be undone.
async fn prepare_authz(
    args: &BenchArgs,
    ui: &Ui,
    clients: &[KmsClient],
    workload: &Workload,
    account: &str,
    grantee: Option<&Grantee>,
    state: &mut AuthzState,
) -> Result<(), BenchError> {
    let keys = &workload.keys;
    let progress = Arc::new(Progress::default());
    let w = Workers {
        clients,
        count: args.concurrency,
        progress: &progress,
    };
    if args.key_policy_bytes > 0 {
        let extra: Vec<&str> = grantee.map(|g| g.principal.arn()).into_iter().collect();
        let policy = fixtures::key_policy_of_size_for(account, args.key_policy_bytes, &extra);
        ui.status(&format!(
            "putting a key policy of {} bytes on {} key(s)",
            policy.len(),
            keys.len()
        ));
        state.policy_bytes = policy.len();
        authz::put_policies(w, keys, policy, state).await?;
    }
    if let Some(g) = grantee {
        if args.operation.contains(BenchOp::GenerateRandom) {
            ui.status(
                "note: no grant can allow GenerateRandom; the grantee needs an identity policy \
                 that allows kms:GenerateRandom",
            );
        }
        let ops = authz::grant_operations(&args.operation);
        if ops.is_empty() {
            ui.status("the mix needs no grant: the grantee gets none");
        } else {
            let names: Vec<String> = ops.iter().map(|o| format!("{o:?}")).collect();
            ui.status(&format!(
                "granting {} {} on {} key(s)",
                g.principal.arn(),
                names.join(", "),
                keys.len()
            ));
            let arn = g.principal.arn().to_owned();
            authz::create_grants(w, keys, 1, move |_| arn.clone(), &ops, state).await?;
        }
    }
    if args.grants > 0 {
        let total = u64::from(args.grants) * keys.len() as u64;
        ui.status(&format!(
            "creating {} filler grant(s) on each of {} key(s): {total} CreateGrant calls",
            args.grants,
            keys.len()
        ));
        let progress = Arc::new(Progress::default());
        let bar = ui.bar("filler grants", Limit::Requests(total));
        let ticker = spawn_ticker(bar.clone(), Arc::clone(&progress), Limit::Requests(total));
        let start = Instant::now();
        let account = account.to_owned();
        let result = authz::create_grants(
            Workers {
                progress: &progress,
                ..w
            },
            keys,
            u64::from(args.grants),
            move |n| authz::filler_principal(&account, n),
            &[pb::GrantOperation::Decrypt],
            state,
        )
        .await;
        ticker.abort();
        bar.finish_and_clear();
        result?;
        let secs = start.elapsed().as_secs_f64();
        ui.status(&format!(
            "created {total} filler grant(s) in {secs:.2} s ({:.0} per second)",
            total as f64 / secs.max(1e-9)
        ));
    }
    Ok(())
}

/// `--wait-ready`: connects and calls GenerateDataKey on the first
/// `--key-id` every [`READY_RETRY`] until one succeeds (returns the
/// milliseconds since `started`) or `wait` has passed.
async fn wait_ready(
    args: &BenchArgs,
    opts: &ConnectOptions,
    ui: &Ui,
    started: Instant,
    wait: Duration,
) -> Result<f64, BenchError> {
    let key_id = args
        .key_ids
        .first()
        .ok_or_else(|| BenchError::Usage("--wait-ready needs --key-id".into()))?;
    let request = pb::GenerateDataKeyRequest {
        key_id: key_id.clone(),
        encryption_context: fixtures::encryption_context(args.context_pairs),
        number_of_bytes: None,
        key_spec: pb::DataKeySpec::Aes256 as i32,
        grant_tokens: Vec::new(),
    };
    ui.status(&format!(
        "waiting up to {wait:?} for kmsd to serve GenerateDataKey on {key_id}"
    ));
    let deadline = Instant::now() + wait;
    let mut attempts = 0u64;
    let mut last = None;
    loop {
        attempts += 1;
        let attempt = async {
            // Resolved on every attempt: a (re)starting kmsd may write its
            // data dir's endpoint file and certificates late.
            let channel = connect_channel(opts).await.map_err(|e| match e {
                ConnectError::MissingTlsFile { .. } | ConnectError::InvalidEndpoint { .. } => {
                    Err(BenchError::Connect(e))
                }
                e => Ok(e.to_string()),
            })?;
            KmsClient::new(channel)
                .generate_data_key(request.clone())
                .await
                .map(drop)
                .map_err(|s| Ok(format!("{:?}: {}", s.code(), s.message())))
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, attempt).await {
            Ok(Ok(())) => return Ok(started.elapsed().as_secs_f64() * 1e3),
            Ok(Err(Err(fatal))) => return Err(fatal),
            Ok(Err(Ok(why))) => last = Some(why),
            // Cut off by the deadline: the previous failure says more.
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(BenchError::NotReady {
                key_id: key_id.clone(),
                waited: wait,
                attempts,
                last: last.unwrap_or_else(|| "no attempt finished in time".to_owned()),
            });
        }
        tokio::time::sleep(READY_RETRY.min(deadline - now)).await;
    }
}

/// The principal in a PEM client certificate's URI SAN.
fn read_principal(what: &'static str, path: &Path) -> Result<Principal, BenchError> {
    let pem = read_file(what, path)?;
    authz::principal_from_pem(&pem).map_err(|reason| BenchError::Certificate {
        what,
        path: path.to_owned(),
        reason,
    })
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, BenchError> {
    std::fs::read(path).map_err(|source| BenchError::ReadFile {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The baseline server's TLS material: `--baseline-cert`/`--baseline-key`
/// or the data dir's server certificate, and `--baseline-client-ca` or the
/// CA the client trusts.
pub fn read_baseline_tls(
    args: &BenchArgs,
    resolved: &ResolvedConnection,
) -> Result<BaselineTls, BenchError> {
    let data_dir = args
        .data_dir
        .as_deref()
        .filter(|d| !d.as_os_str().is_empty());
    let (cert, key) = match (&args.baseline_cert, &args.baseline_key, data_dir) {
        (Some(c), Some(k), _) => (c.clone(), k.clone()),
        (None, None, Some(dir)) => (
            dir.join("certs").join("server.pem"),
            dir.join("certs").join("server.key"),
        ),
        _ => return Err(BenchError::BaselineTlsMissing),
    };
    let ca = args
        .baseline_client_ca
        .clone()
        .unwrap_or_else(|| resolved.ca_cert.clone());
    Ok(BaselineTls {
        cert: read_file("baseline server certificate", &cert)?,
        key: read_file("baseline server key", &key)?,
        client_ca: read_file("baseline client CA", &ca)?,
    })
}

/// What [`measure`] returns: the service's summary, the baseline's and the
/// raw crypto's result.
type Measured = (
    stats::Summary,
    Option<stats::Summary>,
    Option<raw_crypto::RawResult>,
);

/// Warm-up and measurement; returns the service's summary, the baseline's
/// and the raw crypto's.
async fn measure(
    args: &BenchArgs,
    ui: &Ui,
    resolved: &ResolvedConnection,
    measured: &ConnectOptions,
    workload: &Arc<Workload>,
    baseline_tls: Option<BaselineTls>,
    raw: Option<RawCrypto>,
) -> Result<Measured, BenchError> {
    let baseline = match baseline_tls {
        Some(tls) => {
            let server = BaselineServer::start(
                NoopKms::new(workload.baseline_metadata()),
                &tls,
                !args.baseline_nagle,
            )?;
            let opts = ConnectOptions {
                endpoint_url: Some(server.endpoint()),
                ca_cert: Some(resolved.ca_cert.clone()),
                client_cert: Some(resolved.client_cert.clone()),
                client_key: Some(resolved.client_key.clone()),
                data_dir: None,
            };
            ui.status(&format!("baseline server on {}", server.endpoint()));
            match Lanes::connect(&opts, args.connections, args.client_threads()).await {
                Ok(c) => Some((server, c)),
                Err(e) => {
                    server.stop().await;
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let service = match Lanes::connect(measured, args.connections, args.client_threads()).await {
        Ok(lanes) => lanes,
        Err(e) => {
            if let Some((server, _)) = baseline {
                server.stop().await;
            }
            return Err(e.into());
        }
    };
    let lanes_of = |t: Target| match (t, &baseline) {
        (Target::Baseline, Some((_, lanes))) => lanes,
        _ => &service,
    };
    let targets: &[Target] = if baseline.is_some() {
        &[Target::Service, Target::Baseline]
    } else {
        &[Target::Service]
    };
    if !args.warmup.is_zero() {
        for t in targets {
            let label = format!("warm-up {}", name(*t));
            phase(
                ui,
                &label,
                lanes_of(*t),
                workload,
                args,
                Limit::Duration(args.warmup),
            )
            .await;
        }
    }
    let limit = args.limit();
    let result = if baseline.is_none() {
        let (rec, elapsed) = phase(ui, "service", &service, workload, args, limit).await;
        let raw = match &raw {
            Some(r) => Some(r.slice(limit).await),
            None => None,
        };
        raw.transpose().map(|raw| (rec.summary(elapsed), None, raw))
    } else {
        measure_rounds(args, ui, &lanes_of, workload, raw.as_ref(), limit).await
    };
    if let Some((server, _)) = baseline {
        server.stop().await;
    }
    result
}

/// `--rounds` slices of the service, the baseline and (with
/// `--raw-crypto`) the raw crypto, each round starting one place further
/// along that cycle.
async fn measure_rounds<'a>(
    args: &BenchArgs,
    ui: &Ui,
    lanes_of: &dyn Fn(Target) -> &'a Lanes,
    workload: &Arc<Workload>,
    raw: Option<&RawCrypto>,
    limit: Limit,
) -> Result<Measured, BenchError> {
    let slices = limit.split(args.rounds);
    let rounds = slices.len();
    let mut acc = [Recorder::new(), Recorder::new()];
    let mut elapsed = [Duration::ZERO; 2];
    let mut raw_total: Option<raw_crypto::RawResult> = None;
    let cycle: &[Target] = if raw.is_some() {
        &[Target::Service, Target::Baseline, Target::Raw]
    } else {
        &[Target::Service, Target::Baseline]
    };
    for (i, slice) in slices.into_iter().enumerate() {
        for t in round_order(cycle, i) {
            let label = format!("{} {}/{rounds}", name(t), i + 1);
            if let (Target::Raw, Some(r)) = (t, raw) {
                let result = r.slice(slice).await?;
                match &mut raw_total {
                    Some(total) => total.merge(&result),
                    None => raw_total = Some(result),
                }
                continue;
            }
            let (rec, el) = phase(ui, &label, lanes_of(t), workload, args, slice).await;
            let k = usize::from(t == Target::Baseline);
            acc[k].merge(&rec);
            elapsed[k] += el;
        }
    }
    Ok((
        acc[0].summary(elapsed[0]),
        Some(acc[1].summary(elapsed[1])),
        raw_total,
    ))
}

/// The order of round `round`: `cycle` started `round` places along.
fn round_order(cycle: &[Target], round: usize) -> impl Iterator<Item = Target> + '_ {
    (0..cycle.len()).map(move |j| cycle[(round + j) % cycle.len()])
}

fn name(t: Target) -> &'static str {
    match t {
        Target::Service => "service",
        Target::Baseline => "baseline",
        Target::Raw => "raw crypto",
    }
}

/// One measured (or warm-up) stretch, with a progress bar.
async fn phase(
    ui: &Ui,
    label: &str,
    lanes: &Lanes,
    workload: &Arc<Workload>,
    args: &BenchArgs,
    limit: Limit,
) -> (Recorder, Duration) {
    let progress = Arc::new(Progress::default());
    let bar = ui.bar(label, limit);
    let ticker = spawn_ticker(bar.clone(), Arc::clone(&progress), limit);
    let out = lanes
        .drive(workload, args.concurrency, limit, &progress)
        .await;
    ticker.abort();
    bar.finish_and_clear();
    out
}

/// Moves `bar` along with `progress` every 100 ms until aborted.
fn spawn_ticker(
    bar: ProgressBar,
    progress: Arc<Progress>,
    limit: Limit,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let done = progress.done.load(Ordering::Relaxed);
            let failed = progress.failed.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64();
            match limit {
                Limit::Duration(_) => {
                    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    bar.set_position(ms.min(bar.length().unwrap_or(ms)));
                }
                Limit::Requests(_) => bar.set_position(done),
            }
            let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
            bar.set_message(format!("{done} req  {rate:.0} req/s  {failed} errors"));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_too_short_durations_are_refused() {
        assert!(check_limit(Limit::Duration(Duration::ZERO), 1).is_err());
        assert!(check_limit(Limit::Duration(Duration::from_nanos(3)), 4).is_err());
        assert!(check_limit(Limit::Duration(Duration::from_secs(1)), 4).is_ok());
        assert!(check_limit(Limit::Requests(1), 4).is_ok());
    }

    #[test]
    fn each_round_runs_every_target_once_starting_one_further() {
        use Target::{Baseline, Raw, Service};
        let three = [Service, Baseline, Raw];
        let orders: Vec<Vec<Target>> = (0..4).map(|i| round_order(&three, i).collect()).collect();
        assert_eq!(orders[0], [Service, Baseline, Raw]);
        assert_eq!(orders[1], [Baseline, Raw, Service]);
        assert_eq!(orders[2], [Raw, Service, Baseline]);
        assert_eq!(orders[3], [Service, Baseline, Raw]);
        // Without raw crypto: service first in even rounds, baseline in odd.
        let two = [Service, Baseline];
        assert_eq!(
            round_order(&two, 0).collect::<Vec<_>>(),
            [Service, Baseline]
        );
        assert_eq!(
            round_order(&two, 1).collect::<Vec<_>>(),
            [Baseline, Service]
        );
    }
}
