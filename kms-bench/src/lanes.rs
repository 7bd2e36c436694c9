//! The load generator's threads ("lanes"), as wrk has them: each lane is
//! one OS thread running a current-thread tokio runtime that owns its own
//! HTTP/2 connections and the workers that use them.
//!
//! Why not one multi-thread runtime for all the workers: there, a request
//! and its response cross threads several times (the calling task, tonic's
//! buffer task, the connection task), and each crossing to a parked worker
//! is a futex wake. Measured against kmsd's Verify ECC_NIST_P256 (2 cores,
//! concurrency 64, 2 connections) that was 1.5 futex calls and 24–34 µs of
//! client CPU per request, against 14 µs on one current-thread runtime;
//! and because the waste grows as the rate falls (fewer requests per
//! wake-up), it weighed more on the service than on the faster no-op
//! baseline, so every service/baseline ratio carried some of the load
//! generator's cost. In a lane a round trip never leaves its thread.
//!
//! Workers are numbered across lanes (`first..first + share`), so the mix
//! and the key each worker starts on are the same whatever the lane count.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use kms_proto::client::{connect_channel, ConnectError, ConnectOptions, KmsClient};
use tokio::sync::oneshot;

use crate::args::Limit;
use crate::mix::BenchOp;
use crate::stats::Recorder;
use crate::workload::{self, Progress, Workload};

/// Work sent to a lane: runs on its thread with its runtime and clients.
type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &[KmsClient]) + Send>;

/// Why the lanes could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaneError {
    /// A lane could not connect.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A lane's thread or runtime could not start.
    #[error("cannot start a load-generating thread: {0}")]
    Start(std::io::Error),
}

/// Load-generating threads, each with its share of the connections.
pub struct Lanes {
    lanes: Vec<Lane>,
}

struct Lane {
    jobs: mpsc::Sender<Job>,
    connections: u32,
}

/// The default number of lanes: one per connection, at most one per core.
pub fn default_threads(connections: u32) -> u32 {
    let cores = thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1);
    connections.clamp(1, cores.max(1))
}

impl Lanes {
    /// Starts `threads` lanes (at least one, at most `connections`) and
    /// opens `connections` channels with `opts`, dealt round-robin: lane
    /// `i` gets connections `i`, `i + threads`, ...
    pub async fn connect(
        opts: &ConnectOptions,
        connections: u32,
        threads: u32,
    ) -> Result<Lanes, LaneError> {
        let connections = connections.max(1);
        let threads = threads.clamp(1, connections);
        let mut lanes = Vec::new();
        let mut ready = Vec::new();
        for i in 0..threads {
            let mine = connections / threads + u32::from(i < connections % threads);
            let (jobs, inbox) = mpsc::channel::<Job>();
            let (tx, rx) = oneshot::channel();
            let opts = opts.clone();
            thread::Builder::new()
                .name(format!("kms-bench-lane-{i}"))
                .spawn(move || lane_main(&opts, mine, &inbox, tx))
                .map_err(LaneError::Start)?;
            lanes.push(Lane {
                jobs,
                connections: mine,
            });
            ready.push(rx);
        }
        for rx in ready {
            match rx.await {
                Ok(result) => result?,
                Err(_) => {
                    return Err(LaneError::Start(std::io::Error::other(
                        "a load-generating thread ended before connecting",
                    )))
                }
            }
        }
        Ok(Lanes { lanes })
    }

    /// Runs `concurrency` workers, spread over the lanes by their share of
    /// the connections, until `limit` (a request count is split the same
    /// way). Returns what they saw together and the longest lane's time.
    pub async fn drive(
        &self,
        workload: &Arc<Workload>,
        concurrency: u32,
        limit: Limit,
        progress: &Arc<Progress>,
    ) -> (Recorder, Duration) {
        let weights: Vec<u64> = self
            .lanes
            .iter()
            .map(|l| u64::from(l.connections))
            .collect();
        let shares = split(u64::from(concurrency), &weights);
        // A request count goes by the workers each lane got.
        let requests = match limit {
            Limit::Requests(n) => split(n, &shares),
            Limit::Duration(_) => vec![0; shares.len()],
        };
        let mut pending = Vec::new();
        let mut first = 0usize;
        for ((lane, &share), &n) in self.lanes.iter().zip(&shares).zip(&requests) {
            let share = usize::try_from(share).unwrap_or(usize::MAX);
            let lane_limit = match limit {
                Limit::Duration(d) => Limit::Duration(d),
                Limit::Requests(_) => Limit::Requests(n),
            };
            if share == 0 || lane_limit == Limit::Requests(0) {
                continue;
            }
            let workers = first..first + share;
            first += share;
            let (tx, rx) = oneshot::channel();
            let workload = Arc::clone(workload);
            let progress = Arc::clone(progress);
            let job: Job = Box::new(move |rt, clients| {
                let out = rt.block_on(workload::drive(
                    clients, &workload, workers, lane_limit, &progress,
                ));
                // The receiver only goes away if the run was abandoned.
                let _ = tx.send(out);
            });
            // A lane that cannot take the job has ended: its receiver
            // then reports the run as failed below.
            let _ = lane.jobs.send(job);
            pending.push(rx);
        }
        let mut total = Recorder::new();
        let mut longest = Duration::ZERO;
        for rx in pending {
            match rx.await {
                Ok((rec, elapsed)) => {
                    total.merge(&rec);
                    longest = longest.max(elapsed);
                }
                Err(_) => total.record_error(
                    BenchOp::ALL[0],
                    tonic::Code::Internal,
                    "a load-generating thread ended during the run",
                ),
            }
        }
        (total, longest)
    }
}

/// A lane's thread: its runtime, its connections, then jobs until the
/// [`Lanes`] are dropped.
fn lane_main(
    opts: &ConnectOptions,
    connections: u32,
    inbox: &mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<(), LaneError>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(LaneError::Start(e)));
            return;
        }
    };
    let clients = match rt.block_on(connect_n(opts, connections)) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok(job) = inbox.recv() {
        job(&rt, &clients);
    }
}

/// Opens `n` channels (each its own HTTP/2 connection) on the current
/// runtime.
pub async fn connect_n(opts: &ConnectOptions, n: u32) -> Result<Vec<KmsClient>, ConnectError> {
    let mut clients = Vec::with_capacity(n as usize);
    for _ in 0..n {
        clients.push(KmsClient::new(connect_channel(opts).await?));
    }
    Ok(clients)
}

/// `total` split in proportion to `weights`, the remainder going one
/// each to the first parts; sums to `total`.
fn split(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|&w| u64::try_from(u128::from(total) * u128::from(w) / sum).unwrap_or(0))
        .collect();
    let mut left = total - parts.iter().sum::<u64>();
    for p in parts.iter_mut() {
        if left == 0 {
            break;
        }
        *p += 1;
        left -= 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_the_weights_and_sums_to_the_total() {
        assert_eq!(split(64, &[1, 1]), vec![32, 32]);
        assert_eq!(split(65, &[1, 1]), vec![33, 32]);
        assert_eq!(split(64, &[2, 1]), vec![43, 21]);
        assert_eq!(split(1, &[1, 1, 1]), vec![1, 0, 0]);
        assert_eq!(split(0, &[1, 1]), vec![0, 0]);
        assert_eq!(split(5, &[]), Vec::<u64>::new());
        assert_eq!(split(1000, &[43, 21]), vec![672, 328]);
        for (total, weights) in [(7u64, vec![3u64, 2, 2]), (100, vec![5, 1]), (3, vec![1; 8])] {
            assert_eq!(split(total, &weights).iter().sum::<u64>(), total);
        }
    }

    #[test]
    fn default_lanes_are_one_per_connection_up_to_the_cores() {
        let cores = thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        assert_eq!(default_threads(1), 1);
        assert_eq!(default_threads(0), 1);
        assert_eq!(default_threads(1024), cores.min(1024));
        assert_eq!(default_threads(2), 2.min(cores));
    }
}
