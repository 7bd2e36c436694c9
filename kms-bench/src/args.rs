//! kms-bench's command line (clap) and the parsers of its values.
//!
//! Connection flags and environment variables are kmsctl's
//! (`--endpoint-url`, `--ca-cert`, `--client-cert`, `--client-key`,
//! `--data-dir`, `KMS_*`); they become a [`ConnectOptions`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::mix::Mix;
use crate::fixtures::MAX_POLICY_BYTES;
use kms_proto::aws_enum::AwsEnum;
use kms_proto::client::{
    ConnectOptions, ENV_CA_CERT, ENV_CLIENT_CERT, ENV_CLIENT_KEY, ENV_DATA_DIR, ENV_ENDPOINT,
};
use kms_proto::kms::v1 as pb;

/// The longest `--duration` / `--warmup` accepted.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The largest `--context-pairs` (keeps the context under kmsd's 8 KB).
pub const MAX_CONTEXT_PAIRS: usize = 128;
/// kmsd's limit of grants per key (AWS's; `kms/grants.rs`): `--grants`
/// plus the grantee's own grant must fit.
pub const MAX_GRANTS_PER_KEY: u32 = 50_000;

/// A load generator for kmsd.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kms-bench",
    version,
    about = "A load generator for kmsd: drives a running daemon over gRPC with mutual TLS",
    long_about = "A load generator for kmsd: drives a running daemon over gRPC with mutual \
                  TLS and prints throughput, latency percentiles (p50/p90/p99/p99.9) and \
                  errors by gRPC code.\n\nIt creates the keys it needs (CreateKey; scheduled \
                  for deletion afterwards unless --keep-keys) unless given --key-id, and for \
                  Decrypt/ReEncrypt first makes a pool of ciphertexts. With --baseline it \
                  also measures an in-process no-op server of the same API, alternating with \
                  the real service, and prints the ratio.\n\nWith --grantee-cert the measured \
                  requests are made by a second identity that only grants allow (--grants \
                  adds filler grants, --key-policy-bytes a large key policy); with \
                  --wait-ready it first waits for kmsd to serve and reports how soon it \
                  did.\n\n`kms-bench replication-lag --help`: the replication lag of \
                  multi-Region keys between Regions.\n\nConnection: --endpoint-url, \
                  --ca-cert, --client-cert and --client-key (or KMS_ENDPOINT, KMS_CA_CERT, \
                  KMS_CLIENT_CERT, KMS_CLIENT_KEY), else found in --data-dir / KMS_DATA_DIR \
                  (certs/ca.pem, certs/client.pem, certs/client.key, endpoint)."
)]
pub struct BenchArgs {
    /// kmsd's URL, e.g. https://127.0.0.1:7878.
    #[arg(long, env = ENV_ENDPOINT, value_name = "URL", help_heading = "Connection")]
    pub endpoint_url: Option<String>,
    /// CA certificate (PEM) that signed kmsd's server certificate.
    #[arg(long, env = ENV_CA_CERT, value_name = "PATH", help_heading = "Connection")]
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, env = ENV_CLIENT_CERT, value_name = "PATH", help_heading = "Connection")]
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, env = ENV_CLIENT_KEY, value_name = "PATH", help_heading = "Connection")]
    pub client_key: Option<PathBuf>,
    /// A kmsd data directory to take the endpoint and certificates from.
    #[arg(long, env = ENV_DATA_DIR, value_name = "DIR", help_heading = "Connection")]
    pub data_dir: Option<PathBuf>,

    /// The operation, or a weighted mix: GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt,
    /// GenerateRandom, DescribeKey, Sign, Verify, GetPublicKey,
    /// GenerateMac, VerifyMac, GenerateDataKeyPair,
    /// GenerateDataKeyPairWithoutPlaintext; e.g.
    /// GenerateDataKey=3,Decrypt=7. Encrypt and Decrypt are asymmetric
    /// with an RSA --key-spec.
    #[arg(long, value_name = "OP[=W],...", default_value = "GenerateDataKey")]
    pub operation: Mix,
    /// Key spec: AES_256 / AES_128 (symmetric keys; the data key spec of
    /// GenerateDataKey*, also the size of Encrypt's plaintext and
    /// GenerateRandom's output), or the spec of the asymmetric or HMAC keys
    /// to create (RSA_2048, ECC_NIST_P256, HMAC_256, ...).
    #[arg(long, value_enum, default_value_t = KeySpecArg::Aes256)]
    pub key_spec: KeySpecArg,
    /// Signing algorithm of Sign and Verify [default: the key spec's
    /// first: ECDSA_SHA_256/384/512, RSASSA_PKCS1_V1_5_SHA_256,
    /// ED25519_SHA_512, ML_DSA_SHAKE_256].
    #[arg(long, value_name = "ALG", value_parser = parse_aws::<pb::SigningAlgorithmSpec>,
          help_heading = "Asymmetric and HMAC")]
    pub signing_algorithm: Option<i32>,
    /// MAC algorithm of GenerateMac and VerifyMac [default: the HMAC key
    /// spec's, e.g. HMAC_SHA_256 for HMAC_256].
    #[arg(long, value_name = "ALG", value_parser = parse_aws::<pb::MacAlgorithmSpec>,
          help_heading = "Asymmetric and HMAC")]
    pub mac_algorithm: Option<i32>,
    /// Key pair spec of GenerateDataKeyPair(WithoutPlaintext).
    #[arg(long, value_name = "SPEC", default_value = "ECC_NIST_P256",
          value_parser = parse_aws::<pb::DataKeyPairSpec>, help_heading = "Asymmetric and HMAC")]
    pub key_pair_spec: i32,
    /// Encryption algorithm of Encrypt and Decrypt with RSA keys [default
    /// RSAES_OAEP_SHA_256; SYMMETRIC_DEFAULT for symmetric keys].
    #[arg(long, value_name = "ALG", value_parser = parse_aws::<pb::EncryptionAlgorithmSpec>,
          help_heading = "Asymmetric and HMAC")]
    pub encryption_algorithm: Option<i32>,
    /// Length of the message of Sign, Verify, GenerateMac and VerifyMac
    /// (MessageType RAW), 1 to 4096 bytes.
    #[arg(long, value_name = "N", default_value_t = 32, help_heading = "Asymmetric and HMAC",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub message_bytes: u32,
    /// Also measure the operation's cryptography alone, in-process with
    /// the library kmsd uses for it (ring; aws-lc-rs for RSA-OAEP), on
    /// --raw-threads threads, and report the ceiling 1/(1/baseline + 1/raw)
    /// beside kmsd's throughput (with --baseline, whose rounds it joins:
    /// service, baseline and raw slices in turn). Sign and Verify
    /// (ECC_NIST_P256/P384, ECC_NIST_EDWARDS25519, RSA), GenerateMac and
    /// VerifyMac (HMAC_256/384/512), Decrypt (RSA).
    #[arg(long, help_heading = "Asymmetric and HMAC")]
    pub raw_crypto: bool,
    /// Threads of the raw-crypto measurement [default: this machine's
    /// cores, which are the server's when it runs here].
    #[arg(long, value_name = "N", help_heading = "Asymmetric and HMAC",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub raw_threads: Option<u32>,
    /// Pairs in the encryption context of every request (0 = none).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_context_pairs)]
    pub context_pairs: usize,
    /// Requests in flight at once (one worker each).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// HTTP/2 connections to open; requests are spread across them.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,
    /// Load-generating threads, each a single-threaded runtime with its
    /// share of the connections (at most --connections) [default: one per
    /// connection, at most one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub client_threads: Option<u32>,
    /// How long to measure, e.g. 10s, 500ms, 2m (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Option<Duration>,
    /// Measure this many requests instead of a duration.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Load before measuring (not counted), per target.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// Use this key (key id, key ARN, alias name or alias ARN) instead of
    /// creating keys; repeat for several. Requests go round-robin over them.
    #[arg(long = "key-id", value_name = "KEY", help_heading = "Keys")]
    pub key_ids: Vec<String>,
    /// How many keys to create when no --key-id is given.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Keys",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub keys: u32,
    /// Create the keys in this custom key store (origin AWS_CLOUDHSM: the
    /// key material stays in the store's HSM cluster, which performs the
    /// AEAD step of every call). The store must be CONNECTED; symmetric
    /// --key-spec only (AES_256, AES_128).
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "key_ids",
        help_heading = "Keys"
    )]
    pub custom_key_store_id: Option<String>,
    /// Ciphertexts to make beforehand for Decrypt and ReEncrypt.
    #[arg(long, value_name = "N", default_value_t = 256, help_heading = "Keys",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pool_size: u32,
    /// Do not clean up at the end: the keys kms-bench created are not
    /// scheduled for deletion, and on --key-id keys the grants it created
    /// are not revoked and the key policy it replaced is not put back.
    #[arg(long, help_heading = "Keys")]
    pub keep_keys: bool,
    /// Wait up to DURATION for kmsd to serve, before anything else: try to
    /// connect and make one GenerateDataKey on the first --key-id every
    /// ~10 ms until one succeeds, and report the time from kms-bench's
    /// start to that success as ready_ms. Needs --key-id.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration,
          requires = "key_ids", help_heading = "Keys")]
    pub wait_ready: Option<Duration>,

    /// Client certificate (PEM) of a second identity, the grantee: set-up
    /// runs as the main identity (--client-cert), grants the grantee (the
    /// principal in this certificate's URI SAN) the mix's operations on
    /// each key, and the measured requests are made as the grantee, so
    /// they are allowed by that grant (GenerateRandom, on no key, needs an
    /// identity policy instead). Needs --grantee-key.
    #[arg(
        long,
        value_name = "PATH",
        requires = "grantee_key",
        help_heading = "Authorization"
    )]
    pub grantee_cert: Option<PathBuf>,
    /// Client private key (PEM) of the grantee. Needs --grantee-cert.
    #[arg(
        long,
        value_name = "PATH",
        requires = "grantee_cert",
        help_heading = "Authorization"
    )]
    pub grantee_key: Option<PathBuf>,
    /// Filler grants to create on each key before measuring (CreateGrant
    /// for Decrypt to roles kms-bench-filler-0, -1, ... of the main
    /// identity's account, which never call). With the grantee's own grant
    /// at most 50000 per key, kmsd's limit.
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Authorization",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_GRANTS_PER_KEY)))]
    pub grants: u32,
    /// Replace each key's policy with one of about N bytes (at most 32768):
    /// the account root's default statement and as many conditional
    /// statements as fit, each naming the grantee too, so every one is
    /// evaluated for the grantee's calls and none applies (0 = leave the
    /// policy alone).
    #[arg(long, value_name = "N", default_value_t = 0, help_heading = "Authorization",
          value_parser = parse_policy_bytes)]
    pub key_policy_bytes: usize,

    /// Also measure an in-process no-op server of the same API (same TLS,
    /// same response sizes), alternating with the real service.
    #[arg(long, help_heading = "Baseline")]
    pub baseline: bool,
    /// Server certificate (PEM) for the baseline server [default:
    /// DATA_DIR/certs/server.pem].
    #[arg(
        long,
        value_name = "PATH",
        requires = "baseline_key",
        help_heading = "Baseline"
    )]
    pub baseline_cert: Option<PathBuf>,
    /// Server private key (PEM) for the baseline server [default:
    /// DATA_DIR/certs/server.key].
    #[arg(
        long,
        value_name = "PATH",
        requires = "baseline_cert",
        help_heading = "Baseline"
    )]
    pub baseline_key: Option<PathBuf>,
    /// CA (PEM) whose client certificates the baseline server accepts
    /// [default: the --ca-cert in use].
    #[arg(long, value_name = "PATH", help_heading = "Baseline")]
    pub baseline_client_ca: Option<PathBuf>,
    /// Leave Nagle's algorithm on for the baseline's connections (no
    /// TCP_NODELAY). By default the baseline sets TCP_NODELAY, as tonic's
    /// own listener does.
    #[arg(long, help_heading = "Baseline")]
    pub baseline_nagle: bool,
    /// Alternating rounds with --baseline: each round measures the service
    /// and the baseline for duration/rounds (or requests/rounds) each.
    #[arg(long, value_name = "N", default_value_t = 4, help_heading = "Baseline",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,

    /// Print one JSON object instead of the text report (and no progress bar).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,
}

impl BenchArgs {
    /// The connection options the flags (and environment) give.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            endpoint_url: self.endpoint_url.clone(),
            ca_cert: self.ca_cert.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            data_dir: self.data_dir.clone(),
        }
    }

    /// Checks what clap cannot: the grants per key fit kmsd's limit, keys
    /// in a custom key store are symmetric.
    pub fn check(&self) -> Result<(), String> {
        let own = u32::from(self.grantee_cert.is_some());
        if self.grants.saturating_add(own) > MAX_GRANTS_PER_KEY {
            return Err(format!(
                "--grants {} plus the grantee's own grant is more than kmsd's limit of \
                 {MAX_GRANTS_PER_KEY} grants per key; use --grants {} or fewer",
                self.grants,
                MAX_GRANTS_PER_KEY - own
            ));
        }
        if self.custom_key_store_id.is_some() && !self.key_spec.is_symmetric() {
            return Err(format!(
                "--custom-key-store-id: keys in a custom key store are SYMMETRIC_DEFAULT \
                 only, as in AWS; use --key-spec AES_256 or AES_128, not {}",
                self.key_spec.as_str()
            ));
        }
        if let Some(t) = self.client_threads.filter(|&t| t > self.connections) {
            return Err(format!(
                "--client-threads {t} is more than --connections {}: each thread needs a \
                 connection of its own",
                self.connections
            ));
        }
        if self.wait_ready.is_some() && self.key_ids.is_empty() {
            return Err("--wait-ready needs --key-id (the key to call GenerateDataKey on)".into());
        }
        Ok(())
    }

    /// The load-generating threads: `--client-threads`, else one per
    /// connection up to the cores.
    pub fn client_threads(&self) -> u32 {
        self.client_threads
            .unwrap_or_else(|| crate::lanes::default_threads(self.connections))
    }

    /// What bounds the measurement: `--requests`, else `--duration`, else
    /// 10 seconds.
    pub fn limit(&self) -> Limit {
        match (self.requests, self.duration) {
            (Some(n), _) => Limit::Requests(n),
            (None, Some(d)) => Limit::Duration(d),
            (None, None) => Limit::Duration(Duration::from_secs(10)),
        }
    }
}

/// What ends a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Stop issuing requests after this long.
    Duration(Duration),
    /// Stop after this many requests.
    Requests(u64),
}

impl Limit {
    /// This limit cut into `rounds` slices, as equal as possible (the
    /// first slices get the remainder of a request count).
    pub fn split(self, rounds: u32) -> Vec<Limit> {
        let rounds = rounds.max(1);
        match self {
            Limit::Duration(d) => vec![Limit::Duration(d / rounds); rounds as usize],
            Limit::Requests(n) => {
                let r = u64::from(rounds);
                (0..r)
                    .map(|i| Limit::Requests(n / r + u64::from(i < n % r)))
                    .filter(|l| *l != Limit::Requests(0))
                    .collect()
            }
        }
    }
}

/// `--key-spec`: AES_256 / AES_128 are data key specs (symmetric keys;
/// the size of GenerateDataKey's keys, Encrypt's plaintext and
/// GenerateRandom's output); the others are the spec of the asymmetric or
/// HMAC keys kms-bench creates for Sign, Verify, GetPublicKey,
/// GenerateMac, VerifyMac and asymmetric Encrypt / Decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeySpecArg {
    /// Symmetric key, 256-bit data keys.
    #[value(name = "AES_256")]
    Aes256,
    /// Symmetric key, 128-bit data keys.
    #[value(name = "AES_128")]
    Aes128,
    /// RSA 2048-bit key pair.
    #[value(name = "RSA_2048")]
    Rsa2048,
    /// RSA 3072-bit key pair.
    #[value(name = "RSA_3072")]
    Rsa3072,
    /// RSA 4096-bit key pair.
    #[value(name = "RSA_4096")]
    Rsa4096,
    /// NIST P-256.
    #[value(name = "ECC_NIST_P256")]
    EccNistP256,
    /// NIST P-384.
    #[value(name = "ECC_NIST_P384")]
    EccNistP384,
    /// NIST P-521.
    #[value(name = "ECC_NIST_P521")]
    EccNistP521,
    /// secp256k1.
    #[value(name = "ECC_SECG_P256K1")]
    EccSecgP256k1,
    /// Ed25519.
    #[value(name = "ECC_NIST_EDWARDS25519")]
    EccNistEdwards25519,
    /// ML-DSA-44.
    #[value(name = "ML_DSA_44")]
    MlDsa44,
    /// ML-DSA-65.
    #[value(name = "ML_DSA_65")]
    MlDsa65,
    /// ML-DSA-87.
    #[value(name = "ML_DSA_87")]
    MlDsa87,
    /// ML-KEM-512 (CreateKey timing, GetPublicKey, DescribeKey).
    #[value(name = "ML_KEM_512")]
    MlKem512,
    /// ML-KEM-768.
    #[value(name = "ML_KEM_768")]
    MlKem768,
    /// ML-KEM-1024.
    #[value(name = "ML_KEM_1024")]
    MlKem1024,
    /// HMAC with SHA-224.
    #[value(name = "HMAC_224")]
    Hmac224,
    /// HMAC with SHA-256.
    #[value(name = "HMAC_256")]
    Hmac256,
    /// HMAC with SHA-384.
    #[value(name = "HMAC_384")]
    Hmac384,
    /// HMAC with SHA-512.
    #[value(name = "HMAC_512")]
    Hmac512,
}

impl KeySpecArg {
    /// The data key spec of GenerateDataKey* (AES_256 for non-AES specs).
    pub fn to_proto(self) -> pb::DataKeySpec {
        match self {
            KeySpecArg::Aes128 => pb::DataKeySpec::Aes128,
            _ => pb::DataKeySpec::Aes256,
        }
    }

    /// The KMS key spec of the keys kms-bench creates.
    pub fn kms_key_spec(self) -> pb::KeySpec {
        use pb::KeySpec as K;
        match self {
            KeySpecArg::Aes256 | KeySpecArg::Aes128 => K::SymmetricDefault,
            KeySpecArg::Rsa2048 => K::Rsa2048,
            KeySpecArg::Rsa3072 => K::Rsa3072,
            KeySpecArg::Rsa4096 => K::Rsa4096,
            KeySpecArg::EccNistP256 => K::EccNistP256,
            KeySpecArg::EccNistP384 => K::EccNistP384,
            KeySpecArg::EccNistP521 => K::EccNistP521,
            KeySpecArg::EccSecgP256k1 => K::EccSecgP256k1,
            KeySpecArg::EccNistEdwards25519 => K::EccNistEdwards25519,
            KeySpecArg::MlDsa44 => K::MlDsa44,
            KeySpecArg::MlDsa65 => K::MlDsa65,
            KeySpecArg::MlDsa87 => K::MlDsa87,
            KeySpecArg::MlKem512 => K::MlKem512,
            KeySpecArg::MlKem768 => K::MlKem768,
            KeySpecArg::MlKem1024 => K::MlKem1024,
            KeySpecArg::Hmac224 => K::Hmac224,
            KeySpecArg::Hmac256 => K::Hmac256,
            KeySpecArg::Hmac384 => K::Hmac384,
            KeySpecArg::Hmac512 => K::Hmac512,
        }
    }

    /// Whether the keys are symmetric encryption keys.
    pub fn is_symmetric(self) -> bool {
        matches!(self, KeySpecArg::Aes256 | KeySpecArg::Aes128)
    }

    /// The data key length in bytes (also Encrypt's plaintext length).
    pub fn byte_len(self) -> usize {
        match self {
            KeySpecArg::Aes128 => 16,
            _ => 32,
        }
    }

    /// The AWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySpecArg::Aes256 => "AES_256",
            KeySpecArg::Aes128 => "AES_128",
            other => pb::KeySpec::aws_name_of(other.kms_key_spec() as i32).unwrap_or("AES_256"),
        }
    }
}

/// Parses an AWS enum spelling (`ECDSA_SHA_256`) into the wire value.
pub fn parse_aws<E: AwsEnum>(s: &str) -> Result<i32, String> {
    E::wire_of(s.trim()).ok_or_else(|| format!("expected one of: {}", E::aws_names().join(", ")))
}

fn parse_context_pairs(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_CONTEXT_PAIRS)
        .ok_or_else(|| format!("expected a whole number from 0 to {MAX_CONTEXT_PAIRS}"))
}

fn parse_policy_bytes(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_POLICY_BYTES)
        .ok_or_else(|| format!("expected a whole number from 0 to {MAX_POLICY_BYTES}"))
}

/// Parses a duration: a non-negative number with a unit `ms`, `s`, `m` or
/// `h` (`10s`, `500ms`, `1.5m`); a bare number is seconds. At most
/// [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = || {
        format!("invalid duration \"{s}\": expected a number and a unit, e.g. 10s, 500ms, 2m, 1h")
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "ms" => 1e-3,
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "invalid duration \"{s}\": at most {}h",
            MAX_DURATION.as_secs() / 3600
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::BenchOp;

    #[test]
    fn durations_parse_with_units() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(" 3 "), Duration::from_secs(3));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("24h"), MAX_DURATION);
        for bad in [
            "", "s", "10x", "-1s", "1e3s", "1..2s", "ten", "25h", "10 s s", "ms",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn limits_split_into_rounds() {
        assert_eq!(
            Limit::Duration(Duration::from_secs(8)).split(4),
            vec![Limit::Duration(Duration::from_secs(2)); 4]
        );
        assert_eq!(
            Limit::Requests(10).split(4),
            vec![
                Limit::Requests(3),
                Limit::Requests(3),
                Limit::Requests(2),
                Limit::Requests(2)
            ]
        );
        assert_eq!(Limit::Requests(2).split(4).len(), 2);
        assert_eq!(Limit::Requests(5).split(0), vec![Limit::Requests(5)]);
    }

    #[test]
    fn command_line_parses_and_rejects() {
        let a = BenchArgs::try_parse_from([
            "kms-bench",
            "--data-dir",
            "/tmp/kb",
            "--operation",
            "GenerateDataKey=3,Decrypt=7",
            "--key-spec",
            "AES_128",
            "--concurrency",
            "8",
            "--duration",
            "3s",
            "--warmup",
            "1s",
        ])
        .unwrap();
        assert_eq!(a.operation.entries()[1], (BenchOp::Decrypt, 7));
        assert_eq!(a.key_spec, KeySpecArg::Aes128);
        assert_eq!(a.limit(), Limit::Duration(Duration::from_secs(3)));
        assert_eq!(a.warmup, Duration::from_secs(1));
        assert_eq!(a.connect_options().data_dir, Some(PathBuf::from("/tmp/kb")));
        let d = BenchArgs::try_parse_from(["kms-bench"]).unwrap();
        assert_eq!(d.limit(), Limit::Duration(Duration::from_secs(10)));
        assert_eq!(d.operation, Mix::single(BenchOp::GenerateDataKey));
        assert_eq!(
            BenchArgs::try_parse_from(["kms-bench", "--requests", "5"])
                .unwrap()
                .limit(),
            Limit::Requests(5)
        );
        for bad in [
            &["--operation", "Sing"][..],
            &["--operation", "Decrypt=0"],
            &["--concurrency", "0"],
            &["--duration", "1s", "--requests", "3"],
            &["--requests", "0"],
            &["--duration", "soon"],
            &["--context-pairs", "1000"],
            &["--key-spec", "AES_512"],
            &["--baseline-cert", "x.pem"],
            &["--grantee-cert", "g.pem"],
            &["--grantee-key", "g.key"],
            &["--grants", "50001"],
            &["--grants", "-1"],
            &["--key-policy-bytes", "32769"],
            &["--key-policy-bytes", "big"],
            &["--wait-ready", "30s"],
            &["--wait-ready", "soon", "--key-id", "k"],
        ] {
            let argv = std::iter::once("kms-bench").chain(bad.iter().copied());
            assert!(BenchArgs::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorization_and_readiness_flags() {
        let parse = |argv: &[&str]| {
            BenchArgs::try_parse_from(std::iter::once("kms-bench").chain(argv.iter().copied()))
        };
        let d = parse(&[]).unwrap();
        assert_eq!((d.grants, d.key_policy_bytes, d.wait_ready), (0, 0, None));
        assert!(d.grantee_cert.is_none() && d.check().is_ok());
        let a = parse(&[
            "--grantee-cert",
            "g.pem",
            "--grantee-key",
            "g.key",
            "--grants",
            "49999",
            "--key-policy-bytes",
            "32768",
            "--key-id",
            "alias/app",
            "--wait-ready",
            "30s",
        ])
        .unwrap();
        assert_eq!(a.grantee_cert, Some(PathBuf::from("g.pem")));
        assert_eq!(a.grantee_key, Some(PathBuf::from("g.key")));
        assert_eq!((a.grants, a.key_policy_bytes), (49_999, MAX_POLICY_BYTES));
        assert_eq!(a.wait_ready, Some(Duration::from_secs(30)));
        assert!(a.check().is_ok());
        // 50,000 fillers fit alone, not with the grantee's grant.
        assert!(parse(&["--grants", "50000"]).unwrap().check().is_ok());
        let over = parse(&[
            "--grants",
            "50000",
            "--grantee-cert",
            "g.pem",
            "--grantee-key",
            "g.key",
        ])
        .unwrap();
        let e = over.check().unwrap_err();
        assert!(e.contains("50000") && e.contains("--grants 49999"), "{e}");
        // clap enforces --key-id; check() says so too for a hand-built value.
        let e = parse(&["--wait-ready", "1s"]).unwrap_err().to_string();
        assert!(e.contains("--key-id"), "{e}");
        let mut w = parse(&["--key-id", "k", "--wait-ready", "1s"]).unwrap();
        w.key_ids.clear();
        assert!(w.check().unwrap_err().contains("--key-id"));
        let e = parse(&["--key-policy-bytes", "40000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("32768"), "{e}");
    }

    #[test]
    fn custom_key_store_flag() {
        let parse = |argv: &[&str]| {
            BenchArgs::try_parse_from(std::iter::once("kms-bench").chain(argv.iter().copied()))
        };
        assert_eq!(parse(&[]).unwrap().custom_key_store_id, None);
        let a = parse(&[
            "--custom-key-store-id",
            "cks-1234567890abcdef0",
            "--operation",
            "Decrypt",
            "--key-spec",
            "AES_128",
        ])
        .unwrap();
        assert_eq!(
            a.custom_key_store_id.as_deref(),
            Some("cks-1234567890abcdef0")
        );
        assert!(a.check().is_ok());
        // Keys given by id are not created, so a store makes no sense.
        let e = parse(&["--custom-key-store-id", "cks-1", "--key-id", "k"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--key-id"), "{e}");
        // AWS_CLOUDHSM keys are symmetric only.
        let rsa = parse(&[
            "--custom-key-store-id",
            "cks-1",
            "--key-spec",
            "RSA_2048",
            "--operation",
            "Sign",
        ])
        .unwrap();
        let e = rsa.check().unwrap_err();
        assert!(
            e.contains("SYMMETRIC_DEFAULT") && e.contains("RSA_2048"),
            "{e}"
        );
    }
}
