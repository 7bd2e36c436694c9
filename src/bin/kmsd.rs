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
use kmsd::kms::{Caller, KmsConfig, Limits, RateLimit};
use kmsd::model::Principal;
use kmsd::pki;
use kmsd::replication::ReplicationConfig;
use kmsd::secret::RootKey;
use kmsd::server::{KmsServer, ServerConfig, TlsPem, TransportLimits};
use kmsd::store::{parse_root_key_hex, read_root_key_file};
use zeroize::Zeroize;

/// The environment variable that may hold the root key (64 hex digits).
const ROOT_KEY_VAR: &str = "KMSD_ROOT_KEY";
/// The environment variable that may hold `kmsd rewrap`'s new root key.
const NEW_ROOT_KEY_VAR: &str = "KMSD_NEW_ROOT_KEY";

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
    /// Inspect the background jobs of a data directory (also while a kmsd
    /// serves it), or unblock those of a stopped one (quarantined entries,
    /// clock-jump hold).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Inspect Region-to-Region replication of multi-Region keys.
    #[command(subcommand)]
    Replication(ReplicationCommand),
    /// Move a stopped kmsd's data directory to a new root key: every
    /// record is re-authenticated and all key material resealed under the
    /// new key, after which the old key is refused. Crash-safe: if it is
    /// interrupted, run it again with the same keys (kmsd refuses to serve
    /// the directory until it has finished).
    Rewrap(RewrapArgs),
}

#[derive(Subcommand)]
enum ReplicationCommand {
    /// Print, per peer Region, the outbox entries not yet acknowledged and
    /// the age of the oldest (JSON). Reads the store read-only, so it works
    /// while a kmsd serves the directory.
    Status {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Print the last job pass, any clock-jump hold, the quarantined
    /// schedule entries and the head of each schedule (JSON). Reads the
    /// store read-only, so it works while a kmsd serves the directory.
    Status {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Accept the current system time after a clock-jump hold: deletions
    /// and rotations resume at the next start (the daemon must be stopped).
    ConfirmClock {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Move quarantined schedule entries back to their schedules, once
    /// what made them fail is fixed; the next start processes them (the
    /// daemon must be stopped). An entry that does not decode stays.
    Requeue {
        /// The data directory.
        #[arg(long, env = "KMSD_DATA_DIR")]
        data_dir: PathBuf,
        /// File holding the root key as 64 hex digits (or set
        /// KMSD_ROOT_KEY): schedule entries are authenticated records.
        #[arg(long)]
        root_key_file: Option<PathBuf>,
        /// Every quarantined entry.
        #[arg(long, conflicts_with = "entry", required_unless_present = "entry")]
        all: bool,
        /// One quarantined entry, as `kmsd jobs status` lists it (`entry`,
        /// hex).
        entry: Option<String>,
    },
}

#[derive(Args)]
struct RewrapArgs {
    /// The data directory (the daemon must be stopped).
    #[arg(long, env = "KMSD_DATA_DIR")]
    data_dir: PathBuf,
    /// File holding the current root key as 64 hex digits (or set
    /// KMSD_ROOT_KEY).
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// File holding the new root key as 64 hex digits (or set
    /// KMSD_NEW_ROOT_KEY).
    #[arg(long)]
    new_root_key_file: Option<PathBuf>,
    /// Stop after rewriting this many records (testing an interruption).
    #[arg(long, hide = true)]
    stop_after: Option<u64>,
}

/// Root keys taken from the environment at start-up (and removed from it).
struct EnvKeys {
    root: Option<Result<RootKey, String>>,
    new_root: Option<Result<RootKey, String>>,
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
    #[command(flatten)]
    replication: ReplicationArgs,
}

/// Region-to-Region replication of multi-Region keys
/// (docs/multi-region.md "Topology and identity").
#[derive(Args)]
struct ReplicationArgs {
    /// A peer Region and the URL of its replication listener,
    /// REGION=https://HOST:PORT (not this kmsd's own Region). Repeatable.
    #[arg(long = "peer", value_name = "REGION=URL")]
    peers: Vec<String>,
    /// Address of the replication listener, which serves only the
    /// replication service and only to peers' certificates. Required with
    /// --peer.
    #[arg(long, requires = "peers")]
    replication_listen: Option<SocketAddr>,
    /// This Region's peer certificate (PEM, from `kmsd certs issue-peer
    /// --region REGION`): the replication listener's server certificate
    /// and the client certificate peers are dialled with. With --dev,
    /// default DATA/peer/peer.pem, issued by the data dir's dev CA at
    /// first start.
    #[arg(long, requires = "peers", requires = "peer_key")]
    peer_cert: Option<PathBuf>,
    /// The private key of --peer-cert (PEM). With --dev, default
    /// DATA/peer/peer.key.
    #[arg(long, requires = "peers", requires = "peer_cert")]
    peer_key: Option<PathBuf>,
    /// The CA peers' certificates must chain to, both ways (PEM). With
    /// --dev, default the data dir's dev CA (DATA/certs/ca.pem); Regions
    /// whose certificates come from another data dir's CA need it here.
    #[arg(long, requires = "peers")]
    peer_ca: Option<PathBuf>,
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
    /// Connections open at once, handshaking or established (more wait in
    /// the listen backlog until one closes).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
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
            max_connections: usize::try_from(self.max_connections)
                .map_err(|e| format!("--max-connections: {e}"))?,
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
    /// Most keys one account may have (AWS's default).
    #[arg(long, default_value_t = 100_000)]
    max_keys_per_account: u64,
    /// Most aliases one account may have (AWS's default).
    #[arg(long, default_value_t = 50_000)]
    max_aliases_per_account: u64,
    /// Most grants on one key for one grantee principal (AWS's default).
    #[arg(long, default_value_t = 500)]
    max_grants_per_grantee: u64,
    /// Most identity policies one principal may have (IAM's default for
    /// managed policies attached to a user or role).
    #[arg(long, default_value_t = 10)]
    max_identity_policies_per_principal: u64,
    /// Requests per second one account may make (token bucket); 0: no
    /// limit. Default: off with --dev, else 5500 (AWS's smallest default
    /// for cryptographic operations per account and Region).
    #[arg(long)]
    rate_limit_rps: Option<u32>,
    /// Requests an idle account may make at once (default: one second's
    /// worth, --rate-limit-rps).
    #[arg(long)]
    rate_limit_burst: Option<u32>,
    /// An HSM cluster custom key stores may use: CLUSTER_ID=ADDR[,ADDR…]
    /// (each ADDR host:port of one hsm-sim node). Repeatable.
    #[arg(long = "hsm-cluster", value_name = "CLUSTER_ID=ADDR[,ADDR…]")]
    hsm_cluster: Vec<String>,
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
    /// Issue a Region's peer certificate for replication (URI SAN
    /// spiffe://kmsd/region/REGION, server and client use), signed by the
    /// dev CA.
    IssuePeer {
        /// The data dir whose dev CA signs.
        #[arg(long)]
        data_dir: PathBuf,
        /// The Region, e.g. us-west-2.
        #[arg(long)]
        region: String,
        /// Where to write peer.pem and peer.key.
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

/// Sets RLIMIT_CORE to 0 (soft and hard).
fn disable_core_dumps() -> std::io::Result<()> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let zero = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    setrlimit(Resource::Core, zero).map_err(std::io::Error::from)
}

fn main() -> ExitCode {
    // First of all, before any secret is in memory: no core dumps, which
    // would write the root key, key material and data keys to disk. Both
    // limits go to 0 so nothing in the process can raise them again. Fails
    // closed: lowering a limit is always allowed, so a failure means
    // something is badly wrong.
    if let Err(e) = disable_core_dumps() {
        eprintln!("kmsd: cannot disable core dumps (setrlimit RLIMIT_CORE): {e}");
        return ExitCode::FAILURE;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Before any thread starts (no runtime exists yet): removing a variable
    // while another thread reads the environment is a data race in libc,
    // which is why edition 2024 makes `remove_var` unsafe.
    let env = EnvKeys {
        root: take_env_key(ROOT_KEY_VAR),
        new_root: take_env_key(NEW_ROOT_KEY_VAR),
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args, env),
        Command::CreateKeys(args) => create_keys(args, env),
        Command::Rewrap(args) => rewrap(args, env),
        Command::Certs(CertsCommand::IssueClient {
            data_dir,
            principal,
            out,
        }) => pki::issue_client(&data_dir, &principal, &out)
            .map(|()| println!("wrote {0}/client.pem and {0}/client.key", out.display()))
            .map_err(|e| e.to_string()),
        Command::Certs(CertsCommand::IssuePeer {
            data_dir,
            region,
            out,
        }) => pki::issue_peer(&data_dir, &region, &out)
            .map(|()| println!("wrote {0}/peer.pem and {0}/peer.key", out.display()))
            .map_err(|e| e.to_string()),
        Command::Replication(cmd) => replication(cmd),
        Command::Certs(CertsCommand::Revoke {
            data_dir,
            certs,
            out,
        }) => pki::write_dev_crl(&data_dir, &certs, &out)
            .map(|()| println!("wrote {}", out.display()))
            .map_err(|e| e.to_string()),
        Command::Jobs(cmd) => jobs(cmd, env),
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
fn server_config(args: &DataDirArgs, env: EnvKeys) -> Result<ServerConfig, String> {
    let mut hsm_clusters = kmsd::backend::hsm::HsmClusters::default();
    for value in &args.hsm_cluster {
        hsm_clusters
            .add_flag(value)
            .map_err(|e| format!("--hsm-cluster {value}: {e}"))?;
    }
    let kms_config = KmsConfig {
        hsm_clusters,
        region: args.region.clone(),
        cache_capacity: args.cache_capacity,
        limits: Limits {
            keys_per_account: args.max_keys_per_account,
            aliases_per_account: args.max_aliases_per_account,
            grants_per_grantee_per_key: args.max_grants_per_grantee,
            identity_policies_per_principal: args.max_identity_policies_per_principal,
        },
        rate_limit: match args
            .rate_limit_rps
            .unwrap_or(if args.dev { 0 } else { 5_500 })
        {
            0 => None,
            rps => Some(RateLimit {
                requests_per_second: rps,
                burst: args.rate_limit_burst.unwrap_or(rps),
            }),
        },
    };
    Ok(if args.dev {
        kmsd::files::create_private_dir_all(&args.data_dir)
            .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
        ServerConfig::dev(
            &args.data_dir,
            kms_config,
            root_key(args.root_key_file.as_deref(), env.root)?,
        )
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
        let root_key = root_key(args.root_key_file.as_deref(), env.root)?.ok_or(
            "a root key is required: --root-key-file FILE or KMSD_ROOT_KEY (64 hex digits)",
        )?;
        ServerConfig {
            data_dir: args.data_dir.clone(),
            kms: kms_config,
            tls,
            client_crl: None,
            limits: TransportLimits::default(),
            root_key,
            replication: None,
        }
    })
}

fn serve(args: ServeArgs, env: EnvKeys) -> Result<(), String> {
    let mut config = server_config(&args.data, env)?;
    config.replication = replication_config(&args.data, &args.replication)?;
    config.client_crl = args.client_crl.clone();
    config.limits = args.limits.limits()?;
    if args.data.dev {
        if let Some(warning) = kmsd::server::dev_bind_warning(&args.listen) {
            tracing::warn!("{warning}");
        }
    }
    let config_has_peers = config.replication.is_some();
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
        let replication_listener = match args.replication.replication_listen {
            Some(at) if config_has_peers => {
                let l = tokio::net::TcpListener::bind(at)
                    .await
                    .map_err(|e| format!("binding --replication-listen {at}: {e}"))?;
                Some(l)
            }
            _ => None,
        };
        // Before the ready line: a SIGTERM sent as soon as it is printed
        // must shut down cleanly, not kill the process.
        let shutdown = shutdown_signal()?;
        reload_on_sighup(server.tls_reloader());
        if let Some(l) = &replication_listener {
            let at = l.local_addr().map_err(|e| e.to_string())?;
            eprintln!("kmsd: replication listening on {at}");
        }
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
        server
            .serve_with_replication(listener, replication_listener, shutdown)
            .await
            .map_err(|e| e.to_string())
    })
}

/// The replication configuration the flags describe (`None` without
/// --peer). Without --dev, --replication-listen, --peer-cert, --peer-key
/// and --peer-ca are all required with --peer; with --dev the last three
/// default to DATA/peer/peer.pem and peer.key (issued by the data dir's
/// dev CA for --region on first start, or again if they name another
/// Region) and the dev CA.
fn replication_config(
    data: &DataDirArgs,
    args: &ReplicationArgs,
) -> Result<Option<ReplicationConfig>, String> {
    if args.peers.is_empty() {
        return Ok(None);
    }
    let mut peers = std::collections::BTreeMap::new();
    for value in &args.peers {
        let (region, url) = kmsd::replication::parse_peer_flag(&data.region, value)?;
        if peers.insert(region.clone(), url).is_some() {
            return Err(format!("--peer {region} is given twice"));
        }
    }
    if args.replication_listen.is_none() {
        return Err("--replication-listen ADDR is required with --peer".into());
    }
    let (cert, key) = match (&args.peer_cert, &args.peer_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) if data.dev => dev_peer_cert(&data.data_dir, &data.region)?,
        (None, None) => {
            return Err(
                "--peer-cert and --peer-key are required with --peer (without --dev)".into(),
            )
        }
        _ => return Err("--peer-cert and --peer-key go together".into()),
    };
    let ca = match &args.peer_ca {
        Some(ca) => ca.clone(),
        None if data.dev => pki::DevPkiPaths::new(&data.data_dir).ca_cert,
        None => return Err("--peer-ca is required with --peer (without --dev)".into()),
    };
    let tls = TlsPem::read(&cert, &key, &ca).map_err(|e| e.to_string())?;
    Ok(Some(ReplicationConfig { peers, tls }))
}

/// DATA/peer/peer.pem and peer.key for `region`, issued by the dev CA if
/// they are missing or name another Region.
fn dev_peer_cert(data_dir: &Path, region: &str) -> Result<(PathBuf, PathBuf), String> {
    let dir = data_dir.join("peer");
    let (cert, key) = (dir.join("peer.pem"), dir.join("peer.key"));
    let current = std::fs::read_to_string(&cert).ok().and_then(|pem| {
        use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
        kmsd::replication::tls::region_from_cert(der.as_ref()).ok()
    });
    if current.as_deref() != Some(region) || !key.exists() {
        pki::issue_peer(data_dir, region, &dir).map_err(|e| e.to_string())?;
    }
    Ok((cert, key))
}

/// `kmsd replication status`: the backlog per peer, read-only.
fn replication(cmd: ReplicationCommand) -> Result<(), String> {
    use kmsd::clock::Clock;
    match cmd {
        ReplicationCommand::Status { data_dir } => {
            let store = kmsd::server::open_store_read_only(&data_dir).map_err(|e| e.to_string())?;
            let backlog = kmsd::kms::replication::backlog_of(&store).map_err(|e| e.to_string())?;
            let now = SystemClock.now_ms();
            let peers: Vec<serde_json::Value> = backlog
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "region": b.region,
                        "pending": b.pending,
                        "oldest_enqueued_ms": b.oldest_enqueued_ms,
                        "oldest_age_secs": b.oldest_enqueued_ms.map(|t| now.saturating_sub(t).max(0) / 1000),
                    })
                })
                .collect();
            let out = serde_json::json!({ "peers": peers });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
    }
    Ok(())
}

/// The root key of environment variable `name`, parsed, the text wiped,
/// and the variable removed from the process environment (so no child
/// process or later reader of the environment sees it). Must be called
/// before any thread starts (see `main`).
fn take_env_key(name: &str) -> Option<Result<RootKey, String>> {
    let value = std::env::var_os(name)?;
    std::env::remove_var(name);
    let mut bytes = value.into_encoded_bytes();
    let key = std::str::from_utf8(&bytes)
        .ok()
        .and_then(parse_root_key_hex)
        .ok_or_else(|| format!("{name}: expected 64 hex digits"));
    bytes.zeroize();
    Some(key)
}

/// The root key from `file` (refused if group or others may access it),
/// else the one taken from the environment.
fn root_key(
    file: Option<&Path>,
    from_env: Option<Result<RootKey, String>>,
) -> Result<Option<RootKey>, String> {
    if let Some(path) = file {
        return read_root_key_file(path)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    from_env.transpose()
}

fn rewrap(args: RewrapArgs, env: EnvKeys) -> Result<(), String> {
    let old = root_key(args.root_key_file.as_deref(), env.root)?
        .ok_or("the current root key is required: --root-key-file FILE or KMSD_ROOT_KEY")?;
    let new = root_key(args.new_root_key_file.as_deref(), env.new_root)?
        .ok_or("the new root key is required: --new-root-key-file FILE or KMSD_NEW_ROOT_KEY")?;
    let p = kmsd::server::rewrap_data_dir(&args.data_dir, old, new, args.stop_after)
        .map_err(|e| e.to_string())?;
    if p.done {
        println!(
            "rewrapped {}: {} records rewritten, {} already done; the old root key is no longer accepted",
            args.data_dir.display(),
            p.rewritten,
            p.skipped
        );
        Ok(())
    } else {
        Err(format!(
            "stopped after {} records ({} already done): run kmsd rewrap again with the same keys to finish",
            p.rewritten, p.skipped
        ))
    }
}

fn create_keys(args: CreateKeysArgs, env: EnvKeys) -> Result<(), String> {
    let principal = Principal::parse(&args.principal).ok_or_else(|| {
        format!(
            "--principal {:?}: expected an IAM principal ARN",
            args.principal
        )
    })?;
    let count = usize::try_from(args.count).map_err(|e| format!("--count: {e}"))?;
    let config = server_config(&args.data, env)?;
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

/// `kmsd jobs ...`. `status` opens the store read-only (RocksDB takes no
/// lock then), so it works while a kmsd serves the directory; the commands
/// that write hold the data-dir lock, so they refuse a served directory
/// and no daemon starts while they run.
fn jobs(cmd: JobsCommand, env: EnvKeys) -> Result<(), String> {
    use kmsd::server::{open_store_read_only, StoppedStore};
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).map_err(|e| e.to_string());
    match cmd {
        JobsCommand::Status { data_dir } => {
            let store = open_store_read_only(&data_dir).map_err(|e| e.to_string())?;
            let s = kmsd::kms::jobs_status_of(&store).map_err(|e| e.to_string())?;
            let out = serde_json::json!({
                "last_pass_ms": s.last_pass_ms,
                "clock_hold": s.clock_hold,
                "quarantined": s.quarantined,
                "deletions": s.deletions,
                "rotations": s.rotations,
                "import_params_expiries": s.import_params_expiries,
                "material_expiries": s.material_expiries,
            });
            println!("{}", pretty(&out)?);
        }
        JobsCommand::ConfirmClock { data_dir } => {
            use kmsd::clock::Clock;
            let stopped = StoppedStore::open(&data_dir, None).map_err(|e| e.to_string())?;
            let held = kmsd::kms::confirm_clock_in(stopped.store(), SystemClock.now_ms())
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
        JobsCommand::Requeue {
            data_dir,
            root_key_file,
            all: _,
            entry,
        } => {
            let root = root_key(root_key_file.as_deref(), env.root)?
                .ok_or("the root key is required: --root-key-file FILE or KMSD_ROOT_KEY")?;
            let stopped = StoppedStore::open(&data_dir, Some(root)).map_err(|e| e.to_string())?;
            let done = stopped
                .requeue(entry.as_deref())
                .map_err(|e| e.to_string())?;
            if let Some(e) = &entry {
                if done.requeued.is_empty() && done.kept.is_empty() {
                    return Err(format!("no quarantined entry {e} (see `kmsd jobs status`)"));
                }
            }
            let out = serde_json::json!({
                "requeued": done.requeued,
                "kept": done.kept,
            });
            println!("{}", pretty(&out)?);
            if !done.kept.is_empty() {
                return Err(format!(
                    "{} entries do not decode as a schedule entry and stay quarantined",
                    done.kept.len()
                ));
            }
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

/// Installs the SIGINT and SIGTERM handlers now (tokio registers a signal
/// when its stream is created, not when it is first polled) and returns
/// the future that completes on either.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutdown signal received");
    })
}

/// Ctrl-C elsewhere.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 11 of issue 11: the root key variable is gone from the
    /// environment once read, whether or not its value parses.
    #[test]
    fn item_11_root_key_variable_is_removed_from_the_environment() {
        // A name of this test's own: no other test reads it.
        let var = "KMSD_TEST_ITEM_11_ROOT_KEY";
        std::env::set_var(var, "ab".repeat(32));
        let key = match take_env_key(var) {
            Some(Ok(k)) => k,
            _ => panic!("a valid key in the variable"),
        };
        assert_eq!(key.expose_secret(), &[0xab; 32]);
        assert!(std::env::var_os(var).is_none());
        std::env::set_var(var, "not hex");
        assert!(matches!(take_env_key(var), Some(Err(_))));
        assert!(std::env::var_os(var).is_none());
        assert!(take_env_key(var).is_none());
    }
}
