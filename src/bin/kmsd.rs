//! The kmsd daemon: parses arguments, sets up logging, opens the data
//! directory, binds, and serves until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use kmsd::clock::SystemClock;
use kmsd::kms::KmsConfig;
use kmsd::pki;
use kmsd::server::{KmsServer, ServerConfig, TlsPem};
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
    /// Manage dev certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Dev mode: create a root key, a CA, server and client certificates in
    /// the data dir on first start.
    #[arg(long)]
    dev: bool,
    /// Where kmsd keeps its state.
    #[arg(long, env = "KMSD_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
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
        Command::Certs(CertsCommand::IssueClient {
            data_dir,
            principal,
            out,
        }) => pki::issue_client(&data_dir, &principal, &out)
            .map(|()| println!("wrote {0}/client.pem and {0}/client.key", out.display()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmsd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let kms_config = KmsConfig {
        region: args.region.clone(),
        cache_capacity: args.cache_capacity,
    };
    let config = if args.dev {
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
        ServerConfig::dev(&args.data_dir, kms_config, root_key_from_flags(&args)?)
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
        let root_key = root_key_from_flags(&args)?.ok_or(
            "a root key is required: --root-key-file FILE or KMSD_ROOT_KEY (64 hex digits)",
        )?;
        ServerConfig {
            data_dir: args.data_dir.clone(),
            kms: kms_config,
            tls,
            root_key,
        }
    };
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
        if args.dev {
            write_endpoint(&args.data_dir, addr)?;
            eprintln!(
                "kmsd (dev) listening on https://{addr}\n  try: kmsctl --data-dir {} list-keys",
                args.data_dir.display()
            );
        }
        server
            .serve(listener, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

fn root_key_from_flags(args: &ServeArgs) -> Result<Option<kmsd::secret::RootKey>, String> {
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

/// Writes `DATA/endpoint`, which `kmsctl --data-dir` reads.
fn write_endpoint(dir: &Path, addr: SocketAddr) -> Result<(), String> {
    let path = dir.join("endpoint");
    kmsd::files::write_public(&path, format!("https://{addr}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
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
