//! Control-plane contention (issue 11 item 13), in process against a real
//! dev core (RocksDB with synced commits in a temp dir on disk, no TLS):
//!
//! 1. TagResource throughput of 1 and of 8 tenants (accounts), each
//!    looping on its own key with 4 requests in flight.
//! 2. GenerateDataKey latency (p50/p99) of one tenant, 4 in flight, alone
//!    and while another tenant floods CreateKey with 16 in flight.
//!
//! Not criterion: what matters is throughput and tail latency under
//! concurrency over a fixed time. `KMSD_BENCH_SECS` sets each phase's
//! length (default 3). Uses only APIs that main had, so the same file
//! measures main (before) and the branch (after).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmsd::kms::request::{CreateKeyRequest, GenerateDataKeyRequest, TagResourceRequest};
use kmsd::kms::{Caller, Kms, KmsConfig};
use kmsd::model::DataKeySpec;
use kmsd::testing::{local_caller, open_dev_server};

fn tenant(i: usize) -> Caller {
    local_caller(&format!(
        "arn:aws:iam::{:012}:root",
        100_000_000_000u64 + i as u64
    ))
    .expect("principal")
}

async fn key_of(kms: &Kms, c: &Caller) -> String {
    kms.create_key(c, CreateKeyRequest::default())
        .await
        .expect("create key")
        .id
        .to_string()
}

/// Runs `tenants` × `inflight` TagResource loops for `secs`; returns ops/s.
async fn tag_throughput(kms: &Kms, tenants: usize, inflight: usize, secs: Duration) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..tenants {
        let c = tenant(t);
        let key = key_of(kms, &c).await;
        for w in 0..inflight {
            let (kms, c, key, done, stop) = (
                kms.clone(),
                c.clone(),
                key.clone(),
                Arc::clone(&done),
                Arc::clone(&stop),
            );
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    kms.tag_resource(
                        &c,
                        TagResourceRequest {
                            key_id: key.clone(),
                            tags: vec![(format!("w{w}"), n.to_string())],
                        },
                    )
                    .await
                    .expect("tag");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    let start = Instant::now();
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let el = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.expect("task");
    }
    n as f64 / el
}

/// GenerateDataKey latencies (µs, sorted) of one tenant for `secs`, with
/// `flood` CreateKey loops of another tenant running meanwhile; and the
/// flood's CreateKey rate.
async fn gdk_latency(kms: &Kms, flood: usize, secs: Duration) -> (Vec<u64>, f64) {
    let reader = tenant(50);
    let key = key_of(kms, &reader).await;
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let flooder = tenant(51);
    let mut flood_tasks = Vec::new();
    for _ in 0..flood {
        let (kms, c, stop, created) = (
            kms.clone(),
            flooder.clone(),
            Arc::clone(&stop),
            Arc::clone(&created),
        );
        flood_tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                kms.create_key(&c, CreateKeyRequest::default())
                    .await
                    .expect("flood create");
                created.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (kms, c, key, stop) = (kms.clone(), reader.clone(), key.clone(), Arc::clone(&stop));
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                kms.generate_data_key(
                    &c,
                    GenerateDataKeyRequest {
                        key_id: key.clone(),
                        key_spec: Some(DataKeySpec::Aes256),
                        ..Default::default()
                    },
                )
                .await
                .expect("gdk");
                lat.push(t.elapsed().as_micros() as u64);
                // A warm GenerateDataKey never awaits anything pending:
                // yield, or these loops starve the timer.
                tokio::task::yield_now().await;
            }
            lat
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let el = start.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for r in readers {
        all.extend(r.await.expect("reader"));
    }
    for f in flood_tasks {
        f.await.expect("flooder");
    }
    all.sort_unstable();
    (all, created.load(Ordering::Relaxed) as f64 / el)
}

fn pct(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let secs = Duration::from_secs(
        std::env::var("KMSD_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    );
    // On disk (not tmpfs), so a synced commit costs a real fsync.
    let base = std::env::var("KMSD_BENCH_DIR").unwrap_or_else(|_| ".".into());
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = open_dev_server(dir.path(), KmsConfig::default()).expect("open core");
        let kms = server.kms().clone();
        let one = tag_throughput(&kms, 1, 4, secs).await;
        println!("tag_resource tenants=1 inflight=4 ops_per_s={one:.0}");
        let eight = tag_throughput(&kms, 8, 4, secs).await;
        println!("tag_resource tenants=8 inflight=4 ops_per_s={eight:.0}");
        let (quiet, _) = gdk_latency(&kms, 0, secs).await;
        println!(
            "generate_data_key alone n={} p50_us={} p99_us={}",
            quiet.len(),
            pct(&quiet, 0.5),
            pct(&quiet, 0.99)
        );
        let (busy, rate) = gdk_latency(&kms, 16, secs).await;
        println!(
            "generate_data_key with_create_key_flood n={} p50_us={} p99_us={} flood_create_key_per_s={rate:.0}",
            busy.len(),
            pct(&busy, 0.5),
            pct(&busy, 0.99)
        );
    });
}
