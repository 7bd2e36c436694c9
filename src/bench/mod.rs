//! kms-bench: a load generator for kmsd, and the inputs the criterion
//! benchmarks (`benches/`) share with it.
//!
//! kms-bench drives a running kmsd over gRPC with mutual TLS, connecting
//! exactly as kmsctl does ([`crate::ctl::connect`]). A run:
//!
//! 1. connects `--connections` HTTP/2 channels;
//! 2. sets up against the real service ([`workload::setup`]): creates
//!    `--keys` keys (or describes the `--key-id`s given) and, for Decrypt
//!    and ReEncrypt, makes a pool of ciphertexts;
//! 3. with `--baseline`, starts the no-op server ([`baseline`]) on its own
//!    runtime and connects to it the same way;
//! 4. warms up each target for `--warmup`, then measures: the service alone
//!    for `--duration` / `--requests`, or — with `--baseline` — `--rounds`
//!    alternating slices of service and baseline (service first in even
//!    rounds, baseline first in odd ones), so drift in the machine's load
//!    hits both alike;
//! 5. schedules the keys it created for deletion (unless `--keep-keys`) and
//!    prints the [`report::Report`] as text or JSON.
//!
//! Layout: `args.rs` (command line, duration parsing), `mix.rs` (the
//! operation mix), `workload.rs` (set-up, requests, the load loop),
//! `stats.rs` (histograms, error counts), `report.rs` (text and JSON),
//! `baseline.rs` (the no-op server), `fixtures.rs` (contexts, policies and
//! a PRNG, also used by `benches/`).
//!
//! Figures from a debug build of kms-bench or kmsd are not performance
//! figures; the report says which build kms-bench is.

pub mod args;
pub mod baseline;
pub mod fixtures;
pub mod mix;
pub mod report;
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

use crate::ctl::connect::{
    connect_channel, ConnectError, ConnectOptions, KmsClient, ResolvedConnection,
};
use args::{BenchArgs, Limit};
use baseline::{BaselineError, BaselineServer, BaselineTls, NoopKms};
use report::{Report, RunInfo};
use stats::Recorder;
use workload::{Progress, SetupError, SetupOptions, Workload};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// No connection could be made.
    #[error(transparent)]
    Connect(#[from] ConnectError),
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
    /// A limit that measures nothing.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs kms-bench with the process's arguments; the binary's `main`.
pub fn main() -> ExitCode {
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
    match runtime.block_on(run(&args, &ui)) {
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

/// Which server a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Service,
    Baseline,
}

/// Runs one benchmark as `args` describe and returns its report.
pub async fn run(args: &BenchArgs, ui: &Ui) -> Result<Report, BenchError> {
    let limit = args.limit();
    check_limit(limit, if args.baseline { args.rounds } else { 1 })?;
    let opts = args.connect_options();
    let resolved = opts.resolve()?;
    // Fail on unusable baseline TLS files before creating anything.
    let baseline_tls = if args.baseline {
        Some(read_baseline_tls(args, &resolved)?)
    } else {
        None
    };
    let clients = connect_all(&opts, args.connections).await?;
    let setup = SetupOptions {
        mix: args.operation.clone(),
        key_spec: args.key_spec,
        context: fixtures::encryption_context(args.context_pairs),
        key_ids: args.key_ids.clone(),
        create_keys: args.keys,
        pool_size: args.pool_size,
    };
    if args.key_ids.is_empty() {
        ui.status(&format!(
            "creating {} key(s) on {}",
            args.keys, resolved.endpoint
        ));
    }
    if args.operation.needs_ciphertexts() {
        ui.status(&format!(
            "making {} ciphertexts for the pool",
            args.pool_size
        ));
    }
    let workload = Arc::new(workload::setup(&clients[0], setup).await?);
    let result = measure(args, ui, &resolved, &clients, &workload, baseline_tls).await;
    if !args.keep_keys && workload.keys.iter().any(|k| k.created) {
        for failure in workload::cleanup(&clients[0], &workload.keys).await {
            ui.status(&format!("cleanup: {failure}"));
        }
    }
    let (service, baseline) = result?;
    let info = RunInfo {
        operation: args.operation.to_string(),
        endpoint: resolved.endpoint.clone(),
        concurrency: args.concurrency,
        connections: args.connections,
        key_spec: args.key_spec.as_str(),
        context_pairs: args.context_pairs,
        keys: workload.keys.len(),
        warmup_s: args.warmup.as_secs_f64(),
        rounds: args.rounds,
        baseline_tcp_nodelay: !args.baseline_nagle,
    };
    Ok(Report::new(info, &service, baseline.as_ref()))
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

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, BenchError> {
    std::fs::read(path).map_err(|source| BenchError::ReadFile {
        what,
        path: path.to_owned(),
        source,
    })
}

fn read_baseline_tls(
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

/// Opens `n` channels (each its own HTTP/2 connection).
async fn connect_all(opts: &ConnectOptions, n: u32) -> Result<Vec<KmsClient>, ConnectError> {
    let mut clients = Vec::with_capacity(n as usize);
    for _ in 0..n {
        clients.push(KmsClient::new(connect_channel(opts).await?));
    }
    Ok(clients)
}

/// Warm-up and measurement; returns the service's summary and the
/// baseline's.
async fn measure(
    args: &BenchArgs,
    ui: &Ui,
    resolved: &ResolvedConnection,
    clients: &[KmsClient],
    workload: &Arc<Workload>,
    baseline_tls: Option<BaselineTls>,
) -> Result<(stats::Summary, Option<stats::Summary>), BenchError> {
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
            match connect_all(&opts, args.connections).await {
                Ok(c) => Some((server, c)),
                Err(e) => {
                    server.stop().await;
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let clients_of = |t: Target| match (t, &baseline) {
        (Target::Baseline, Some((_, c))) => c.as_slice(),
        _ => clients,
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
                clients_of(*t),
                workload,
                args,
                Limit::Duration(args.warmup),
            )
            .await;
        }
    }
    let limit = args.limit();
    let result = if baseline.is_none() {
        let (rec, elapsed) = phase(ui, "service", clients, workload, args, limit).await;
        (rec.summary(elapsed), None)
    } else {
        let slices = limit.split(args.rounds);
        let rounds = slices.len();
        let mut acc = [Recorder::new(), Recorder::new()];
        let mut elapsed = [Duration::ZERO; 2];
        for (i, slice) in slices.into_iter().enumerate() {
            let order = if i % 2 == 0 {
                [Target::Service, Target::Baseline]
            } else {
                [Target::Baseline, Target::Service]
            };
            for t in order {
                let label = format!("{} {}/{rounds}", name(t), i + 1);
                let (rec, el) = phase(ui, &label, clients_of(t), workload, args, slice).await;
                let k = usize::from(t == Target::Baseline);
                acc[k].merge(&rec);
                elapsed[k] += el;
            }
        }
        (acc[0].summary(elapsed[0]), Some(acc[1].summary(elapsed[1])))
    };
    if let Some((server, _)) = baseline {
        server.stop().await;
    }
    Ok(result)
}

fn name(t: Target) -> &'static str {
    match t {
        Target::Service => "service",
        Target::Baseline => "baseline",
    }
}

/// One measured (or warm-up) stretch, with a progress bar.
async fn phase(
    ui: &Ui,
    label: &str,
    clients: &[KmsClient],
    workload: &Arc<Workload>,
    args: &BenchArgs,
    limit: Limit,
) -> (Recorder, Duration) {
    let progress = Arc::new(Progress::default());
    let bar = ui.bar(label, limit);
    let ticker = {
        let bar = bar.clone();
        let progress = Arc::clone(&progress);
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
    };
    let out = workload::drive(clients, workload, args.concurrency, limit, &progress).await;
    ticker.abort();
    bar.finish_and_clear();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> BenchArgs {
        BenchArgs::try_parse_from(std::iter::once("kms-bench").chain(argv.iter().copied())).unwrap()
    }

    #[test]
    fn zero_or_too_short_durations_are_refused() {
        assert!(check_limit(Limit::Duration(Duration::ZERO), 1).is_err());
        assert!(check_limit(Limit::Duration(Duration::from_nanos(3)), 4).is_err());
        assert!(check_limit(Limit::Duration(Duration::from_secs(1)), 4).is_ok());
        assert!(check_limit(Limit::Requests(1), 4).is_ok());
    }

    #[test]
    fn baseline_tls_comes_from_the_data_dir_or_flags() {
        let resolved = ResolvedConnection {
            endpoint: "https://127.0.0.1:1".into(),
            ca_cert: "/nonexistent/ca.pem".into(),
            client_cert: "/nonexistent/client.pem".into(),
            client_key: "/nonexistent/client.key".into(),
        };
        let args = parse(&[
            "--baseline",
            "--ca-cert",
            "/a",
            "--client-cert",
            "/b",
            "--client-key",
            "/c",
        ]);
        // Without a data dir (and KMS_DATA_DIR unset) there is nothing to use.
        if args.data_dir.is_none() {
            assert!(matches!(
                read_baseline_tls(&args, &resolved),
                Err(BenchError::BaselineTlsMissing)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::ensure_dev_pki(dir.path()).unwrap();
        let d = dir.path().to_str().unwrap();
        let args = parse(&["--baseline", "--data-dir", d]);
        let resolved = args.connect_options().resolve().unwrap();
        let tls = read_baseline_tls(&args, &resolved).unwrap();
        assert_eq!(tls.cert, std::fs::read(&pki.server_cert).unwrap());
        assert_eq!(tls.client_ca, std::fs::read(&pki.ca_cert).unwrap());
        let missing = parse(&[
            "--baseline",
            "--data-dir",
            d,
            "--baseline-cert",
            "/nonexistent/s.pem",
            "--baseline-key",
            "/nonexistent/s.key",
        ]);
        let e = read_baseline_tls(&missing, &resolved).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/s.pem"), "{e}");
    }
}
