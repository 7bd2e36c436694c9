//! The result of a kms-bench run, printed as text or as one JSON object.
//!
//! JSON fields (all numbers; times in milliseconds, rates per second):
//! `operation` (the mix, canonical), `endpoint`, `concurrency`,
//! `connections`, `key_spec`, `context_pairs`, `keys`, `key_origin` (the
//! keys' origin, `AWS_KMS` or `AWS_CLOUDHSM`, ...), `custom_key_store_id`
//! (only for keys in a custom key store), `caller` (`main`,
//! or `grantee` with `--grantee-cert`), `grants` (filler grants per key,
//! `--grants`), `key_policy_bytes` (size of the key policy kms-bench put,
//! 0 if none), `build` (`debug` or
//! `release`: debug figures are not performance figures), `duration_s`
//! (measured), `warmup_s`, `requests`, `ok`, `errors`, `errors_by_code`
//! (`{"PermissionDenied": 3}`), `throughput_rps` (successful calls per
//! second), `p50_ms`, `p90_ms`, `p99_ms`, `p999_ms`, `max_ms`, `mean_ms`,
//! `operations` (per operation: `requests`, `errors`, `throughput_rps`,
//! `p50_ms`, `p99_ms`); with `--baseline` also `rounds`,
//! `baseline_requests`, `baseline_errors`, `baseline_throughput_rps`,
//! `baseline_p50_ms`, `baseline_p90_ms`, `baseline_p99_ms`,
//! `baseline_p999_ms`, `baseline_tcp_nodelay`, `ratio` (service /
//! baseline throughput) and `p99_ratio` (service / baseline p99); with
//! `--wait-ready` also `ready_ms` (from kms-bench's start to the first
//! GenerateDataKey kmsd served); `algorithm` (the signing, MAC,
//! encryption algorithm or key pair spec the requests named, for the
//! asymmetric and HMAC operations); when kms-bench created keys,
//! `create_key_count`, `create_key_p50_ms`, `create_key_mean_ms`,
//! `create_key_max_ms` (set-up CreateKey latency, with up to
//! min(16, concurrency) at once); with `--raw-crypto` also
//! `raw_primitive`, `raw_threads`, `raw_throughput_rps`, `raw_errors`
//! and, with `--baseline`, `ceiling_rps` (1/(1/baseline + 1/raw)) and
//! `ceiling_ratio` (service / ceiling).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use std::time::Duration;

use super::raw_crypto::{self, RawResult};
use super::stats::Summary;

/// Rounds to `digits` decimals (keeps the JSON readable; the histograms
/// are only 3 significant digits anyway).
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn ms(x: f64) -> f64 {
    round(x, 4)
}

fn rps(x: f64) -> f64 {
    round(x, 1)
}

/// Per-operation figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpReport {
    /// Calls made.
    pub requests: u64,
    /// Calls that failed.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput_rps: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
}

/// What was run, besides the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The mix, canonical (`GenerateDataKey=3,Decrypt=7`).
    pub operation: String,
    /// The service's endpoint.
    pub endpoint: String,
    /// Workers.
    pub concurrency: u32,
    /// HTTP/2 connections.
    pub connections: u32,
    /// Data key spec.
    pub key_spec: &'static str,
    /// Encryption-context pairs.
    pub context_pairs: usize,
    /// Keys used.
    pub keys: usize,
    /// The keys' origin (the first key's), AWS spelling: `AWS_KMS`,
    /// `AWS_CLOUDHSM`, ...; empty if unknown.
    pub key_origin: &'static str,
    /// The custom key store the keys are in (the first key's); empty for
    /// keys in kmsd's own store.
    pub custom_key_store_id: String,
    /// Who made the measured calls: `main` or `grantee`.
    pub caller: &'static str,
    /// Filler grants per key.
    pub grants: u32,
    /// Size of the key policy put on every key (0 = none put).
    pub key_policy_bytes: usize,
    /// Milliseconds from kms-bench's start to the first call kmsd served
    /// (`--wait-ready`).
    pub ready_ms: Option<f64>,
    /// Warm-up per target, seconds.
    pub warmup_s: f64,
    /// Alternating rounds (with a baseline).
    pub rounds: u32,
    /// Whether the baseline set TCP_NODELAY.
    pub baseline_tcp_nodelay: bool,
}

/// The whole result, shaped as the JSON output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The mix.
    pub operation: String,
    /// The service's endpoint.
    pub endpoint: String,
    /// Workers.
    pub concurrency: u32,
    /// HTTP/2 connections.
    pub connections: u32,
    /// Data key spec.
    pub key_spec: &'static str,
    /// Encryption-context pairs.
    pub context_pairs: usize,
    /// Keys used.
    pub keys: usize,
    /// The keys' origin (`AWS_KMS`, `AWS_CLOUDHSM`, ...), when known.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub key_origin: &'static str,
    /// The custom key store the keys are in, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub custom_key_store_id: String,
    /// Who made the measured calls: `main` (the --client-cert identity)
    /// or `grantee` (--grantee-cert, allowed by a grant).
    pub caller: &'static str,
    /// Filler grants per key (`--grants`).
    pub grants: u32,
    /// Size of the key policy put on every key (0 = none put).
    pub key_policy_bytes: usize,
    /// `--wait-ready`: milliseconds from kms-bench's start to the first
    /// GenerateDataKey kmsd served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<f64>,
    /// `debug` or `release` (of kms-bench itself).
    pub build: &'static str,
    /// Measured time against the service, seconds.
    pub duration_s: f64,
    /// Warm-up per target, seconds.
    pub warmup_s: f64,
    /// Calls made.
    pub requests: u64,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub errors: u64,
    /// Failed calls by gRPC code name.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Successful calls per second.
    pub throughput_rps: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Per operation.
    pub operations: BTreeMap<String, OpReport>,
    /// Alternating rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// Baseline: calls made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_requests: Option<u64>,
    /// Baseline: failed calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_errors: Option<u64>,
    /// Baseline: successful calls per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_throughput_rps: Option<f64>,
    /// Baseline: median latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_p50_ms: Option<f64>,
    /// Baseline: 90th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_p90_ms: Option<f64>,
    /// Baseline: 99th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_p99_ms: Option<f64>,
    /// Baseline: 99.9th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_p999_ms: Option<f64>,
    /// Baseline: whether its connections had TCP_NODELAY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_tcp_nodelay: Option<bool>,
    /// Service throughput / baseline throughput.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// Service p99 / baseline p99.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ratio: Option<f64>,
    /// The algorithm (or key pair spec) the requests named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Keys created in set-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_key_count: Option<usize>,
    /// Median set-up CreateKey latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_key_p50_ms: Option<f64>,
    /// Mean set-up CreateKey latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_key_mean_ms: Option<f64>,
    /// Slowest set-up CreateKey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_key_max_ms: Option<f64>,
    /// `--raw-crypto`: the primitive measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_primitive: Option<String>,
    /// `--raw-crypto`: threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_threads: Option<u32>,
    /// `--raw-crypto`: operations per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_throughput_rps: Option<f64>,
    /// `--raw-crypto`: failed operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_errors: Option<u64>,
    /// 1/(1/baseline + 1/raw) requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_rps: Option<f64>,
    /// Service throughput / ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ceiling_ratio: Option<f64>,
    /// The first message per error code (text output only).
    #[serde(skip)]
    pub first_errors: BTreeMap<String, String>,
}

/// Figures besides the measured calls: set-up CreateKey latencies and the
/// raw-crypto run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// The algorithm the requests named (AWS spelling).
    pub algorithm: Option<String>,
    /// How long each set-up CreateKey took.
    pub create_key_latencies: Vec<Duration>,
    /// `--raw-crypto`.
    pub raw: Option<RawResult>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| round(a / b, 4))
}

impl Report {
    /// Builds the report of a run against the service and, optionally, the
    /// baseline.
    pub fn new(info: RunInfo, service: &Summary, baseline: Option<&Summary>) -> Self {
        let l = service.latency;
        let operations = service
            .per_op
            .iter()
            .map(|(op, s)| {
                (
                    op.name().to_owned(),
                    OpReport {
                        requests: s.ok + s.errors,
                        errors: s.errors,
                        throughput_rps: rps(s.throughput_rps),
                        p50_ms: ms(s.latency.p50_ms),
                        p99_ms: ms(s.latency.p99_ms),
                    },
                )
            })
            .collect();
        Self {
            operation: info.operation,
            endpoint: info.endpoint,
            concurrency: info.concurrency,
            connections: info.connections,
            key_spec: info.key_spec,
            context_pairs: info.context_pairs,
            keys: info.keys,
            key_origin: info.key_origin,
            custom_key_store_id: info.custom_key_store_id,
            caller: info.caller,
            grants: info.grants,
            key_policy_bytes: info.key_policy_bytes,
            ready_ms: info.ready_ms.map(|x| round(x, 3)),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            duration_s: round(service.elapsed.as_secs_f64(), 3),
            warmup_s: round(info.warmup_s, 3),
            requests: service.requests(),
            ok: service.ok,
            errors: service.errors,
            errors_by_code: service
                .errors_by_code
                .iter()
                .map(|e| (e.code.clone(), e.count))
                .collect(),
            throughput_rps: rps(service.throughput_rps),
            p50_ms: ms(l.p50_ms),
            p90_ms: ms(l.p90_ms),
            p99_ms: ms(l.p99_ms),
            p999_ms: ms(l.p999_ms),
            max_ms: ms(l.max_ms),
            mean_ms: ms(l.mean_ms),
            operations,
            rounds: baseline.map(|_| info.rounds),
            baseline_requests: baseline.map(Summary::requests),
            baseline_errors: baseline.map(|b| b.errors),
            baseline_throughput_rps: baseline.map(|b| rps(b.throughput_rps)),
            baseline_p50_ms: baseline.map(|b| ms(b.latency.p50_ms)),
            baseline_p90_ms: baseline.map(|b| ms(b.latency.p90_ms)),
            baseline_p99_ms: baseline.map(|b| ms(b.latency.p99_ms)),
            baseline_p999_ms: baseline.map(|b| ms(b.latency.p999_ms)),
            baseline_tcp_nodelay: baseline.map(|_| info.baseline_tcp_nodelay),
            ratio: baseline.and_then(|b| ratio(service.throughput_rps, b.throughput_rps)),
            p99_ratio: baseline.and_then(|b| ratio(l.p99_ms, b.latency.p99_ms)),
            algorithm: None,
            create_key_count: None,
            create_key_p50_ms: None,
            create_key_mean_ms: None,
            create_key_max_ms: None,
            raw_primitive: None,
            raw_threads: None,
            raw_throughput_rps: None,
            raw_errors: None,
            ceiling_rps: None,
            ceiling_ratio: None,
            first_errors: service
                .errors_by_code
                .iter()
                .map(|e| (e.code.clone(), e.first_message.clone()))
                .collect(),
        }
    }

    /// Adds the set-up and raw-crypto figures.
    pub fn with_extras(mut self, extras: Extras) -> Self {
        self.algorithm = extras.algorithm;
        let mut lat: Vec<f64> = extras
            .create_key_latencies
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        if !lat.is_empty() {
            lat.sort_by(f64::total_cmp);
            self.create_key_count = Some(lat.len());
            self.create_key_p50_ms = Some(ms(lat[(lat.len() - 1) / 2]));
            self.create_key_mean_ms = Some(ms(lat.iter().sum::<f64>() / lat.len() as f64));
            self.create_key_max_ms = lat.last().map(|x| ms(*x));
        }
        if let Some(raw) = extras.raw {
            let raw_rps = raw.throughput_rps();
            self.raw_primitive = Some(raw.primitive.clone());
            self.raw_threads = Some(raw.threads);
            self.raw_throughput_rps = Some(rps(raw_rps));
            self.raw_errors = Some(raw.failed);
            self.ceiling_rps = self
                .baseline_throughput_rps
                .and_then(|b| raw_crypto::ceiling(b, raw_rps))
                .map(rps);
            self.ceiling_ratio = self.ceiling_rps.and_then(|c| ratio(self.throughput_rps, c));
        }
        self
    }

    /// The one-line JSON object.
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and maps of them always serializes.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human-readable report.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut o);
        o
    }

    fn write_text(&self, o: &mut String) -> std::fmt::Result {
        writeln!(o, "kms-bench: {} against {}", self.operation, self.endpoint)?;
        writeln!(
            o,
            "  concurrency {}, connections {}, key spec {}, {} context pair(s), {} key(s)",
            self.concurrency, self.connections, self.key_spec, self.context_pairs, self.keys
        )?;
        let grants = match self.grants {
            0 => "no filler grants".to_owned(),
            n => format!("{n} filler grant(s) per key"),
        };
        let policy = match self.key_policy_bytes {
            0 => "key policy unchanged".to_owned(),
            n => format!("key policy of {n} bytes"),
        };
        writeln!(o, "  caller {}, {grants}, {policy}", self.caller)?;
        if !self.custom_key_store_id.is_empty() {
            writeln!(
                o,
                "  keys of origin {} in custom key store {}",
                self.key_origin, self.custom_key_store_id
            )?;
        }
        if let Some(r) = self.ready_ms {
            writeln!(
                o,
                "  ready: kmsd served its first GenerateDataKey {r:.1} ms after kms-bench started"
            )?;
        }
        match self.rounds {
            Some(r) => writeln!(
                o,
                "  measured {:.2} s against the service in {r} round(s) alternating with the baseline, after {:.2} s warm-up each",
                self.duration_s, self.warmup_s
            )?,
            None => writeln!(
                o,
                "  measured {:.2} s after {:.2} s warm-up",
                self.duration_s, self.warmup_s
            )?,
        }
        if self.build == "debug" {
            writeln!(
                o,
                "  NOTE: kms-bench is a debug build; its figures are not performance figures"
            )?;
        }
        writeln!(o)?;
        let base = self.baseline_throughput_rps.is_some();
        let row = |o: &mut String, name: &str, svc: String, b: Option<String>| match (base, b) {
            (true, Some(b)) => writeln!(o, "  {name:<22}{svc:>14}{b:>14}"),
            _ => writeln!(o, "  {name:<22}{svc:>14}"),
        };
        if base {
            writeln!(o, "  {:<22}{:>14}{:>14}", "", "service", "baseline")?;
        }
        let f_ms = |x: f64| format!("{x:.3}");
        row(
            o,
            "requests",
            self.requests.to_string(),
            self.baseline_requests.map(|x| x.to_string()),
        )?;
        row(
            o,
            "errors",
            self.errors.to_string(),
            self.baseline_errors.map(|x| x.to_string()),
        )?;
        row(
            o,
            "throughput (req/s)",
            format!("{:.1}", self.throughput_rps),
            self.baseline_throughput_rps.map(|x| format!("{x:.1}")),
        )?;
        row(
            o,
            "latency p50 (ms)",
            f_ms(self.p50_ms),
            self.baseline_p50_ms.map(f_ms),
        )?;
        row(
            o,
            "latency p90 (ms)",
            f_ms(self.p90_ms),
            self.baseline_p90_ms.map(f_ms),
        )?;
        row(
            o,
            "latency p99 (ms)",
            f_ms(self.p99_ms),
            self.baseline_p99_ms.map(f_ms),
        )?;
        row(
            o,
            "latency p99.9 (ms)",
            f_ms(self.p999_ms),
            self.baseline_p999_ms.map(f_ms),
        )?;
        row(o, "latency max (ms)", f_ms(self.max_ms), None)?;
        if let Some(r) = self.ratio {
            writeln!(o)?;
            writeln!(o, "  throughput ratio service/baseline: {r:.3}")?;
        }
        if self.baseline_tcp_nodelay == Some(false) {
            writeln!(o, "  (baseline without TCP_NODELAY: --baseline-nagle)")?;
        }
        if let Some(r) = self.p99_ratio {
            writeln!(o, "  p99 ratio service/baseline:        {r:.3}")?;
        }
        if let Some(a) = &self.algorithm {
            writeln!(o, "  algorithm: {a}")?;
        }
        if let (Some(p), Some(t), Some(r)) = (
            &self.raw_primitive,
            self.raw_threads,
            self.raw_throughput_rps,
        ) {
            writeln!(o)?;
            writeln!(o, "  raw crypto ({p}, {t} thread(s)): {r:.1} op/s")?;
            if let (Some(c), Some(cr)) = (self.ceiling_rps, self.ceiling_ratio) {
                writeln!(
                    o,
                    "  ceiling 1/(1/baseline + 1/raw): {c:.1} req/s; service {:.1} req/s = {cr:.3} of the ceiling",
                    self.throughput_rps
                )?;
            }
        }
        if let (Some(n), Some(p50), Some(max)) = (
            self.create_key_count,
            self.create_key_p50_ms,
            self.create_key_max_ms,
        ) {
            writeln!(
                o,
                "  set-up CreateKey ({} {n} key(s)): p50 {p50:.1} ms, max {max:.1} ms",
                self.key_spec
            )?;
        }
        if self.operations.len() > 1 {
            writeln!(o)?;
            writeln!(
                o,
                "  {:<34}{:>10}{:>8}{:>12}{:>10}{:>10}",
                "operation", "requests", "errors", "req/s", "p50 ms", "p99 ms"
            )?;
            for (name, r) in &self.operations {
                writeln!(
                    o,
                    "  {name:<34}{:>10}{:>8}{:>12.1}{:>10.3}{:>10.3}",
                    r.requests, r.errors, r.throughput_rps, r.p50_ms, r.p99_ms
                )?;
            }
        }
        if !self.errors_by_code.is_empty() {
            writeln!(o)?;
            writeln!(o, "  errors by gRPC code:")?;
            for (code, n) in &self.errors_by_code {
                let first = self.first_errors.get(code).map_or("", String::as_str);
                writeln!(o, "    {code}: {n} (first: {first})")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::BenchOp;
    use crate::stats::Recorder;
    use std::time::Duration;

    fn info() -> RunInfo {
        RunInfo {
            operation: "GenerateDataKey=3,Decrypt=7".into(),
            endpoint: "https://127.0.0.1:17900".into(),
            concurrency: 16,
            connections: 2,
            key_spec: "AES_256",
            context_pairs: 0,
            keys: 1,
            key_origin: "AWS_KMS",
            custom_key_store_id: String::new(),
            caller: "main",
            grants: 0,
            key_policy_bytes: 0,
            ready_ms: None,
            warmup_s: 1.0,
            rounds: 4,
            baseline_tcp_nodelay: true,
        }
    }

    fn summary(ms: u64, errors: u64) -> Summary {
        let mut r = Recorder::new();
        for _ in 0..100 {
            r.record_ok(BenchOp::GenerateDataKey, Duration::from_millis(ms));
            r.record_ok(BenchOp::Decrypt, Duration::from_millis(ms));
        }
        for _ in 0..errors {
            r.record_error(BenchOp::Decrypt, tonic::Code::PermissionDenied, "denied");
        }
        r.summary(Duration::from_secs(2))
    }

    #[test]
    fn json_has_the_documented_fields() {
        let report = Report::new(info(), &summary(2, 3), None);
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let obj = v.as_object().unwrap();
        for k in [
            "operation",
            "concurrency",
            "requests",
            "errors",
            "throughput_rps",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "p999_ms",
            "errors_by_code",
            "operations",
            "build",
            "caller",
            "grants",
            "key_policy_bytes",
        ] {
            assert!(obj.contains_key(k), "missing {k}: {v}");
        }
        for k in [
            "baseline_throughput_rps",
            "baseline_p99_ms",
            "ratio",
            "rounds",
            "ready_ms",
        ] {
            assert!(!obj.contains_key(k), "unexpected {k}: {v}");
        }
        assert!(!obj.contains_key("first_errors"));
        assert_eq!(v["operation"], "GenerateDataKey=3,Decrypt=7");
        assert_eq!(v["caller"], "main");
        assert_eq!(v["grants"], 0);
        assert_eq!(v["key_policy_bytes"], 0);
        assert_eq!(v["concurrency"], 16);
        assert_eq!(v["requests"], 203);
        assert_eq!(v["errors"], 3);
        assert_eq!(v["errors_by_code"]["PermissionDenied"], 3);
        assert_eq!(v["throughput_rps"], 100.0);
        assert!((v["p50_ms"].as_f64().unwrap() - 2.0).abs() < 0.01);
        assert_eq!(v["operations"]["Decrypt"]["requests"], 103);
        assert_eq!(v["operations"]["Decrypt"]["errors"], 3);
        // One line, one object.
        assert!(!report.to_json().contains('\n'));
    }

    #[test]
    fn json_with_a_baseline_has_the_ratio() {
        let report = Report::new(info(), &summary(4, 0), Some(&summary(1, 0)));
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["baseline_throughput_rps"], 100.0);
        assert!((v["baseline_p99_ms"].as_f64().unwrap() - 1.0).abs() < 0.01);
        assert_eq!(v["ratio"], 1.0);
        assert!((v["p99_ratio"].as_f64().unwrap() - 4.0).abs() < 0.01);
        assert_eq!(v["rounds"], 4);
        assert_eq!(v["baseline_tcp_nodelay"], true);
        assert_eq!(v["baseline_requests"], 200);
        // A baseline that served nothing: no ratio rather than infinity.
        let empty = Recorder::new().summary(Duration::from_secs(1));
        let r = Report::new(info(), &summary(4, 0), Some(&empty));
        assert_eq!(r.ratio, None);
        assert!(serde_json::from_str::<serde_json::Value>(&r.to_json()).is_ok());
    }

    #[test]
    fn text_shows_both_columns_operations_and_errors() {
        let t = Report::new(info(), &summary(4, 2), Some(&summary(1, 0))).to_text();
        assert!(t.contains("service") && t.contains("baseline"), "{t}");
        assert!(t.contains("throughput ratio service/baseline"), "{t}");
        assert!(t.contains("latency p99.9 (ms)"), "{t}");
        assert!(
            t.contains("GenerateDataKey") && t.contains("Decrypt"),
            "{t}"
        );
        assert!(
            t.contains("PermissionDenied: 2 (first: Decrypt: denied)"),
            "{t}"
        );
        let plain = Report::new(info(), &summary(4, 0), None).to_text();
        assert!(!plain.contains("baseline"), "{plain}");
    }

    #[test]
    fn authorization_and_readiness_are_reported() {
        let heavy = RunInfo {
            caller: "grantee",
            grants: 49_999,
            key_policy_bytes: 32_700,
            ready_ms: Some(123.456_789),
            ..info()
        };
        let report = Report::new(heavy, &summary(2, 0), None);
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["caller"], "grantee");
        assert_eq!(v["grants"], 49_999);
        assert_eq!(v["key_policy_bytes"], 32_700);
        assert_eq!(v["ready_ms"], 123.457);
        // The existing fields are still there.
        assert_eq!(v["requests"], 200);
        assert_eq!(v["errors"], 0);
        let t = report.to_text();
        assert!(
            t.contains("caller grantee, 49999 filler grant(s) per key, key policy of 32700 bytes"),
            "{t}"
        );
        assert!(t.contains("first GenerateDataKey 123.5 ms after"), "{t}");
        let plain = Report::new(info(), &summary(2, 0), None).to_text();
        assert!(
            plain.contains("caller main, no filler grants, key policy unchanged"),
            "{plain}"
        );
        assert!(!plain.contains("ready"), "{plain}");
    }

    #[test]
    fn raw_crypto_and_create_key_figures_are_reported() {
        let extras = Extras {
            algorithm: Some("ECDSA_SHA_256".into()),
            create_key_latencies: vec![
                Duration::from_millis(3),
                Duration::from_millis(1),
                Duration::from_millis(2),
            ],
            raw: Some(RawResult {
                primitive: "ring ECDSA P-256 SHA-256 sign".into(),
                threads: 2,
                ok: 300,
                failed: 0,
                elapsed: Duration::from_secs(1),
            }),
        };
        // Service 100 rps, baseline 100 rps, raw 300 op/s: ceiling 75.
        let r = Report::new(info(), &summary(2, 0), Some(&summary(1, 0))).with_extras(extras);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["algorithm"], "ECDSA_SHA_256");
        assert_eq!(v["create_key_count"], 3);
        assert_eq!(v["create_key_p50_ms"], 2.0);
        assert_eq!(v["create_key_max_ms"], 3.0);
        assert_eq!(v["raw_threads"], 2);
        assert_eq!(v["raw_throughput_rps"], 300.0);
        assert_eq!(v["ceiling_rps"], 75.0);
        assert!((v["ceiling_ratio"].as_f64().unwrap() - 100.0 / 75.0).abs() < 1e-3);
        let t = r.to_text();
        assert!(
            t.contains("raw crypto (ring ECDSA P-256 SHA-256 sign, 2 thread(s))"),
            "{t}"
        );
        assert!(
            t.contains("ceiling 1/(1/baseline + 1/raw): 75.0 req/s"),
            "{t}"
        );
        assert!(
            t.contains("set-up CreateKey (AES_256 3 key(s)): p50 2.0 ms"),
            "{t}"
        );
        // Without a baseline: the raw figure, no ceiling.
        let plain = Report::new(info(), &summary(2, 0), None).with_extras(Extras {
            raw: Some(RawResult {
                primitive: "x".into(),
                threads: 1,
                ok: 10,
                failed: 0,
                elapsed: Duration::from_secs(1),
            }),
            ..Extras::default()
        });
        assert_eq!(plain.raw_throughput_rps, Some(10.0));
        assert_eq!((plain.ceiling_rps, plain.ceiling_ratio), (None, None));
        assert_eq!(plain.create_key_count, None);
    }

    #[test]
    fn hsm_keys_are_reported() {
        let local = Report::new(info(), &summary(2, 0), None);
        let v: serde_json::Value = serde_json::from_str(&local.to_json()).unwrap();
        assert_eq!(v["key_origin"], "AWS_KMS");
        assert!(v.get("custom_key_store_id").is_none(), "{v}");
        assert!(!local.to_text().contains("custom key store"));

        let hsm = RunInfo {
            key_origin: "AWS_CLOUDHSM",
            custom_key_store_id: "cks-1234567890abcdef0".into(),
            ..info()
        };
        let report = Report::new(hsm, &summary(2, 0), None);
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(v["key_origin"], "AWS_CLOUDHSM");
        assert_eq!(v["custom_key_store_id"], "cks-1234567890abcdef0");
        let t = report.to_text();
        assert!(
            t.contains("keys of origin AWS_CLOUDHSM in custom key store cks-1234567890abcdef0"),
            "{t}"
        );
    }
}
