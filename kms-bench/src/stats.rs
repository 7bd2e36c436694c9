//! Recording and summarizing one run: latency histograms (HdrHistogram,
//! nanoseconds, 3 significant digits) per operation for the calls that
//! succeeded, and error counts by gRPC code.
//!
//! Each worker records into its own [`Recorder`] (no sharing on the hot
//! path); the recorders are merged when the workers finish, and the merged
//! one becomes a [`Summary`] with the elapsed time. Throughput counts
//! successful calls only; failed calls count as errors and are not in the
//! latency figures.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use tonic::Code;

use super::mix::BenchOp;

/// Significant digits the histograms keep (0.1 % resolution).
const SIGFIGS: u8 = 3;
/// gRPC status codes are 0..=16.
const CODES: usize = 17;

fn new_histogram() -> Histogram<u64> {
    // `new` only fails for sigfigs > 5.
    Histogram::new(SIGFIGS).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
}

/// What one or more workers saw.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latency of successful calls, ns, by [`BenchOp::index`].
    latency: Vec<Histogram<u64>>,
    /// Failed calls by operation index.
    op_errors: Vec<u64>,
    /// Failed calls by gRPC code.
    codes: [u64; CODES],
    /// The first message seen for each code.
    first_message: BTreeMap<usize, String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self {
            latency: BenchOp::ALL.iter().map(|_| new_histogram()).collect(),
            op_errors: vec![0; BenchOp::ALL.len()],
            codes: [0; CODES],
            first_message: BTreeMap::new(),
        }
    }

    /// A successful call of `op` that took `elapsed`.
    pub fn record_ok(&mut self, op: BenchOp, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
        let h = &mut self.latency[op.index()];
        // `record` grows the (auto-resizing) histogram; `saturating_record`
        // would clamp to its current range instead.
        if h.record(ns).is_err() {
            h.saturating_record(ns);
        }
    }

    /// A failed call of `op`.
    pub fn record_error(&mut self, op: BenchOp, code: Code, message: &str) {
        self.op_errors[op.index()] += 1;
        let c = (code as usize).min(CODES - 1);
        self.codes[c] += 1;
        self.first_message
            .entry(c)
            .or_insert_with(|| format!("{op}: {message}"));
    }

    /// Adds `other`'s observations to this one.
    pub fn merge(&mut self, other: &Recorder) {
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            // Both auto-resize, so adding cannot fail for range reasons.
            let _ = mine.add(theirs);
        }
        for (mine, theirs) in self.op_errors.iter_mut().zip(&other.op_errors) {
            *mine += theirs;
        }
        for (mine, theirs) in self.codes.iter_mut().zip(&other.codes) {
            *mine += theirs;
        }
        for (c, m) in &other.first_message {
            self.first_message.entry(*c).or_insert_with(|| m.clone());
        }
    }

    /// Successful calls.
    pub fn ok(&self) -> u64 {
        self.latency.iter().map(Histogram::len).sum()
    }

    /// Failed calls.
    pub fn errors(&self) -> u64 {
        self.codes.iter().sum()
    }

    /// Summarizes the run, which took `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let mut all = new_histogram();
        for h in &self.latency {
            let _ = all.add(h);
        }
        let secs = elapsed.as_secs_f64();
        let per_op = BenchOp::ALL
            .iter()
            .filter(|op| self.latency[op.index()].len() + self.op_errors[op.index()] > 0)
            .map(|op| {
                let h = &self.latency[op.index()];
                (
                    *op,
                    OpSummary {
                        ok: h.len(),
                        errors: self.op_errors[op.index()],
                        throughput_rps: rate(h.len(), secs),
                        latency: Latency::of(h),
                    },
                )
            })
            .collect();
        let errors_by_code = self
            .codes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| ErrorCount {
                code: code_name(c),
                count: *n,
                first_message: self.first_message.get(&c).cloned().unwrap_or_default(),
            })
            .collect();
        Summary {
            elapsed,
            ok: all.len(),
            errors: self.errors(),
            throughput_rps: rate(all.len(), secs),
            latency: Latency::of(&all),
            errors_by_code,
            per_op,
        }
    }
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// The name of gRPC code number `c`, e.g. `PermissionDenied`.
fn code_name(c: usize) -> String {
    let code = Code::from_i32(i32::try_from(c).unwrap_or(i32::MAX));
    format!("{code:?}")
}

/// Latency percentiles of successful calls, in milliseconds (all zero when
/// there were none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latency {
    /// Percentiles of a histogram of nanoseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        Self {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1e6,
        }
    }
}

/// One operation's share of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSummary {
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput_rps: f64,
    /// Latency of successful calls.
    pub latency: Latency,
}

/// Failed calls with one gRPC code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCount {
    /// The code's name, e.g. `PermissionDenied`.
    pub code: String,
    /// How many.
    pub count: u64,
    /// The first message seen with this code, prefixed by the operation.
    pub first_message: String,
}

/// A finished run against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Measured time (the sum of the slices when alternating).
    pub elapsed: Duration,
    /// Successful calls.
    pub ok: u64,
    /// Failed calls.
    pub errors: u64,
    /// Successful calls per second.
    pub throughput_rps: f64,
    /// Latency of successful calls, all operations.
    pub latency: Latency,
    /// Errors by code, in code order.
    pub errors_by_code: Vec<ErrorCount>,
    /// Per operation, for the operations that ran.
    pub per_op: Vec<(BenchOp, OpSummary)>,
}

impl Summary {
    /// Calls made (successful and failed).
    pub fn requests(&self) -> u64 {
        self.ok + self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        // HdrHistogram with 3 significant digits: within 0.1 %.
        (a - b).abs() <= b * 0.001 + 1e-9
    }

    #[test]
    fn percentiles_of_a_uniform_run() {
        let mut r = Recorder::new();
        for ms in 1..=1000u64 {
            r.record_ok(BenchOp::GenerateDataKey, Duration::from_millis(ms));
        }
        let s = r.summary(Duration::from_secs(2));
        assert_eq!(s.ok, 1000);
        assert_eq!(s.errors, 0);
        assert_eq!(s.requests(), 1000);
        assert!(close(s.throughput_rps, 500.0), "{}", s.throughput_rps);
        let l = s.latency;
        assert!(close(l.p50_ms, 500.0), "{l:?}");
        assert!(close(l.p90_ms, 900.0), "{l:?}");
        assert!(close(l.p99_ms, 990.0), "{l:?}");
        assert!(close(l.p999_ms, 999.0), "{l:?}");
        assert!(close(l.max_ms, 1000.0), "{l:?}");
        assert!(close(l.mean_ms, 500.5), "{l:?}");
        assert!(l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.p999_ms);
    }

    #[test]
    fn a_slow_tail_shows_only_in_the_high_percentiles() {
        let mut r = Recorder::new();
        for _ in 0..9_990 {
            r.record_ok(BenchOp::Decrypt, Duration::from_micros(200));
        }
        for _ in 0..10 {
            r.record_ok(BenchOp::Decrypt, Duration::from_millis(50));
        }
        let l = r.summary(Duration::from_secs(1)).latency;
        assert!(close(l.p50_ms, 0.2) && close(l.p99_ms, 0.2), "{l:?}");
        // 10 of 10,000 are slow: the 99.9th percentile is the last fast one.
        assert!(close(l.p999_ms, 0.2), "{l:?}");
        assert!(close(l.max_ms, 50.0), "{l:?}");
    }

    #[test]
    fn merging_adds_counts_and_keeps_first_messages() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        a.record_ok(BenchOp::GenerateDataKey, Duration::from_millis(1));
        b.record_ok(BenchOp::Decrypt, Duration::from_millis(3));
        b.record_ok(BenchOp::Decrypt, Duration::from_millis(3));
        a.record_error(BenchOp::Decrypt, Code::PermissionDenied, "denied A");
        b.record_error(BenchOp::Decrypt, Code::PermissionDenied, "denied B");
        b.record_error(BenchOp::Encrypt, Code::Unavailable, "gone");
        a.merge(&b);
        assert_eq!((a.ok(), a.errors()), (3, 3));
        let s = a.summary(Duration::from_secs(1));
        assert_eq!(s.requests(), 6);
        assert_eq!(
            s.errors_by_code,
            vec![
                ErrorCount {
                    code: "PermissionDenied".into(),
                    count: 2,
                    first_message: "Decrypt: denied A".into(),
                },
                ErrorCount {
                    code: "Unavailable".into(),
                    count: 1,
                    first_message: "Encrypt: gone".into(),
                },
            ]
        );
        let ops: Vec<BenchOp> = s.per_op.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            ops,
            [BenchOp::GenerateDataKey, BenchOp::Encrypt, BenchOp::Decrypt]
        );
        let decrypt = &s.per_op[2].1;
        assert_eq!((decrypt.ok, decrypt.errors), (2, 2));
        assert!(close(decrypt.latency.p50_ms, 3.0));
        assert!(close(s.latency.p50_ms, 3.0) && close(s.latency.max_ms, 3.0));
    }

    #[test]
    fn an_empty_run_is_all_zeros() {
        let s = Recorder::new().summary(Duration::ZERO);
        assert_eq!((s.ok, s.errors, s.throughput_rps), (0, 0, 0.0));
        assert_eq!(s.latency, Latency::default());
        assert!(s.per_op.is_empty() && s.errors_by_code.is_empty());
    }
}
