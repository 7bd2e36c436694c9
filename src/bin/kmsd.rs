//! The kmsd daemon: parses arguments, sets up logging, opens the data
//! directory, binds, and serves until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use kmsd::api::CreateKeyRequest;
use kmsd::clock::SystemClock;
use kmsd::kms::{Caller, KmsConfig};
use kmsd::model::Principal;
use kmsd::pki;
use kmsd::server::{KmsServer, ServerConfig, TlsPem, TransportLimits};
use kmsd::store::parse_root_key_hex;

#[derive(Parser)]
#[command(
    name = "kmsd",
    version,
    about = "A key management service with the AWS KMS API over gRPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the KMS API.
    Serve(ServeArgs),
    /// Create many keys at once in a stopped kmsd's data directory (bulk
    /// load, e.g. for benchmarks): like CreateKey, COUNT times, committed
    /// 10,000 keys per synced write.
    CreateKeys(CreateKeysArgs),
    /// Manage dev certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Inspect or unblock the background jobs of a stopped kmsd's data
    /// directory (quarantined entries, clock-jump hold).
    #[command(subcommand)]
    Jobs(JobsCommand),
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Print the last job pass, any clock-jump hold, and the quarantined
    /// schedule entries (JSON).
    Status {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Accept the current system time after a clock-jump hold: deletions
    /// and rotations resume at the next start.
    ConfirmClock {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
    },
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Certificate revocation lists (PEM or DER) for client certificates:
    /// a revoked certificate is refused at the TLS handshake. Re-read on
    /// SIGHUP.
    #[arg(long)]
    client_crl: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Hours the clock may move forward between two background passes
    /// before key deletions and rotations are held for confirmation (a
    /// clock step must not delete keys early); 0 turns the check off.
    #[arg(long, default_value_t = 24)]
    max_clock_jump_hours: u64,
    /// Accept the current time at start, lifting a clock-jump hold (e.g.
    /// after a downtime longer than --max-clock-jump-hours).
    #[arg(long)]
    confirm_clock_jump: bool,
}

/// Connection and request limits (`kmsd::server::TransportLimits`).
#[derive(Args)]
struct LimitArgs {
    /// Seconds a connection gets to complete its TLS handshake.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout_secs: u64,
    /// TLS handshakes in progress at once (more connections wait).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_pending_handshakes: u64,
    /// Seconds one request may run.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout_secs: u64,
    /// Requests in flight per connection (also the HTTP/2 stream limit).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_requests_per_connection: u32,
    /// Seconds a connection may live before it is closed gracefully (its
    /// client reconnects and is verified again, e.g. against a new CRL).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    max_connection_age_secs: u64,
}

impl LimitArgs {
    fn limits(&self) -> Result<TransportLimits, String> {
        let secs = Duration::from_secs;
        Ok(TransportLimits {
            handshake_timeout: secs(self.handshake_timeout_secs),
            max_pending_handshakes: usize::try_from(self.max_pending_handshakes)
                .map_err(|e| format!("--max-pending-handshakes: {e}"))?,
            request_timeout: secs(self.request_timeout_secs),
            concurrency_per_connection: usize::try_from(self.max_requests_per_connection)
                .map_err(|e| format!("--max-requests-per-connection: {e}"))?,
            max_concurrent_streams: self.max_requests_per_connection,
            max_connection_age: secs(self.max_connection_age_secs),
            ..TransportLimits::default()
        })
    }
}

#[derive(Args)]
struct CreateKeysArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// How many keys to create.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    count: u64,
    /// The Description of every key.
    #[arg(long, default_value = "")]
    description: String,
    /// The principal that creates them (the keys go to its account and get
    /// the default key policy), as if it had called CreateKey.
    #[arg(long, default_value = pki::DEV_PRINCIPAL)]
    principal: String,
}

/// The data directory and how to open it: shared by every subcommand that
/// opens one.
#[derive(Args)]
struct DataDirArgs {
    /// Dev mode: create a root key, a CA, server and client certificates in
    /// the data dir on first start.
    #[arg(long)]
    dev: bool,
    /// Where kmsd keeps its state.
    #[arg(long, env = "KMSD_DATA_DIR")]
    data_dir: PathBuf,
    /// The Region this kmsd serves.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Server certificate (PEM); not with --dev.
    #[arg(long, required_unless_present = "dev")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM); not with --dev.
    #[arg(long, required_unless_present = "dev")]
    tls_key: Option<PathBuf>,
    /// CA that signs client certificates (PEM); not with --dev.
    #[arg(long, required_unless_present = "dev")]
    client_ca: Option<PathBuf>,
    /// File holding the root key as 64 hex digits (or set KMSD_ROOT_KEY).
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// How many key records / material versions to cache in memory.
    #[arg(long, default_value_t = 100_000)]
    cache_capacity: usize,
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Issue a client certificate for a principal, signed by the dev CA.
    IssueClient {
        /// The data dir whose dev CA signs.
        #[arg(long)]
        data_dir: PathBuf,
        /// The principal ARN, e.g. arn:aws:iam::111122223333:user/alice.
        #[arg(long)]
        principal: String,
        /// Where to write client.pem and client.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a CRL, signed by the dev CA, revoking the given client
    /// certificates (for `serve --client-crl`; list every revoked one).
    Revoke {
        /// The data dir whose dev CA signs.
        #[arg(long)]
        data_dir: PathBuf,
        /// A client certificate (PEM) to revoke; repeatable.
        #[arg(long = "cert")]
        certs: Vec<PathBuf>,
        /// Where to write the CRL (PEM).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::CreateKeys(args) => create_keys(args),
        Command::Certs(CertsCommand::IssueClient {
            data_dir,
            principal,
            out,
        }) => pki::issue_client(&data_dir, &principal, &out)
            .map(|()| println!("wrote {0}/client.pem and {0}/client.key", out.display()))
            .map_err(|e| e.to_string()),
        Command::Certs(CertsCommand::Revoke {
            data_dir,
            certs,
            out,
        }) => pki::write_dev_crl(&data_dir, &certs, &out)
            .map(|()| println!("wrote {}", out.display()))
            .map_err(|e| e.to_string()),
        Command::Jobs(cmd) => jobs(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmsd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration the data-directory flags describe.
fn server_config(args: &DataDirArgs) -> Result<ServerConfig, String> {
    let kms_config = KmsConfig {
        region: args.region.clone(),
        cache_capacity: args.cache_capacity,
    };
    Ok(if args.dev {
        kmsd::files::create_private_dir_all(&args.data_dir)
            .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
        ServerConfig::dev(&args.data_dir, kms_config, root_key_from_flags(args)?)
            .map_err(|e| e.to_string())?
    } else {
        let need = |p: &Option<PathBuf>, flag: &str| {
            p.clone()
                .ok_or_else(|| format!("{flag} is required without --dev"))
        };
        let tls = TlsPem::read(
            &need(&args.tls_cert, "--tls-cert")?,
            &need(&args.tls_key, "--tls-key")?,
            &need(&args.client_ca, "--client-ca")?,
        )
        .map_err(|e| e.to_string())?;
        let root_key = root_key_from_flags(args)?.ok_or(
            "a root key is required: --root-key-file FILE or KMSD_ROOT_KEY (64 hex digits)",
        )?;
        ServerConfig {
            data_dir: args.data_dir.clone(),
            kms: kms_config,
            tls,
            client_crl: None,
            limits: TransportLimits::default(),
            root_key,
        }
    })
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = server_config(&args.data)?;
    config.client_crl = args.client_crl.clone();
    config.limits = args.limits.limits()?;
    if args.data.dev {
        if let Some(warning) = kmsd::server::dev_bind_warning(&args.listen) {
            tracing::warn!("{warning}");
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let server = KmsServer::open(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("binding {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if args.data.dev {
            write_endpoint(&args.data.data_dir, addr)?;
            eprintln!(
                "kmsd (dev) listening on https://{addr}\n  try: kmsctl --data-dir {} list-keys",
                args.data.data_dir.display()
            );
        }
        let bound = (args.max_clock_jump_hours > 0)
            .then(|| Duration::from_secs(args.max_clock_jump_hours.saturating_mul(3600)));
        server.kms().set_max_clock_jump(bound);
        if args.confirm_clock_jump {
            server
                .kms()
                .confirm_clock()
                .await
                .map_err(|e| e.to_string())?;
        }
        reload_on_sighup(server.tls_reloader());
        server
            .serve(listener, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

fn root_key_from_flags(args: &DataDirArgs) -> Result<Option<kmsd::secret::RootKey>, String> {
    if let Some(path) = &args.root_key_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return parse_root_key_hex(&text)
            .map(Some)
            .ok_or_else(|| format!("{}: expected 64 hex digits", path.display()));
    }
    if let Ok(text) = std::env::var("KMSD_ROOT_KEY") {
        return parse_root_key_hex(&text)
            .map(Some)
            .ok_or_else(|| "KMSD_ROOT_KEY: expected 64 hex digits".to_owned());
    }
    Ok(None)
}

fn create_keys(args: CreateKeysArgs) -> Result<(), String> {
    let principal = Principal::parse(&args.principal).ok_or_else(|| {
        format!(
            "--principal {:?}: expected an IAM principal ARN",
            args.principal
        )
    })?;
    let count = usize::try_from(args.count).map_err(|e| format!("--count: {e}"))?;
    let config = server_config(&args.data)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let server = KmsServer::open(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
        let input = CreateKeyRequest {
            description: args.description,
            ..Default::default()
        };
        let started = Instant::now();
        let made = server
            .kms()
            .create_keys_bulk(&Caller::new(principal), input, count, {
                let mut done = 0;
                move |ids| {
                    done += ids.len();
                    if done % 100_000 == 0 || done == count {
                        eprintln!("kmsd: {done} of {count} keys created");
                    }
                }
            })
            .await
            .map_err(|e| e.to_string())?;
        // Flushed now, the next start does not replay the write-ahead log.
        server.kms().flush().await.map_err(|e| e.to_string())?;
        println!(
            "created {made} keys in {:.1} s in {}",
            started.elapsed().as_secs_f64(),
            args.data.data_dir.display()
        );
        Ok(())
    })
}

/// `kmsd jobs ...` on a stopped data directory (RocksDB refuses a second
/// opener, so a running kmsd is never written behind its back).
fn jobs(cmd: JobsCommand) -> Result<(), String> {
    let data_dir = match &cmd {
        JobsCommand::Status { data_dir } | JobsCommand::ConfirmClock { data_dir } => data_dir,
    };
    let db = data_dir.join("db");
    if !db.is_dir() {
        return Err(format!(
            "{}: no kmsd data directory here",
            data_dir.display()
        ));
    }
    let store = kmsd::store::Store::open(&db).map_err(|e| e.to_string())?;
    match cmd {
        JobsCommand::Status { .. } => {
            let s = kmsd::kms::jobs_status_of(&store).map_err(|e| e.to_string())?;
            let out = serde_json::json!({
                "last_pass_ms": s.last_pass_ms,
                "clock_hold": s.clock_hold,
                "quarantined": s.quarantined,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        JobsCommand::ConfirmClock { .. } => {
            use kmsd::clock::Clock;
            let held = kmsd::kms::confirm_clock_in(&store, SystemClock.now_ms())
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                if held {
                    "clock confirmed; the hold is lifted"
                } else {
                    "no clock hold was in force; the current time is recorded"
                }
            );
        }
    }
    Ok(())
}

/// Writes `DATA/endpoint`, which `kmsctl --data-dir` reads.
fn write_endpoint(dir: &Path, addr: SocketAddr) -> Result<(), String> {
    let path = dir.join("endpoint");
    kmsd::files::write_public(&path, format!("https://{addr}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Re-reads the client CRL on every SIGHUP (for the connections accepted
/// after it). A failed reload keeps the previous configuration.
fn reload_on_sighup(tls: kmsd::server::TlsReloader) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        if let Err(e) = tls.reload() {
                            tracing::error!(error = %e, "SIGHUP: reloading the TLS configuration failed; the previous one stays in force");
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP; the CRL will not be reloaded")
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
}
