//! Scale benchmarks (criterion): data-path costs that must not grow with
//! the size of the store.
//!
//! - `grants/*`: GenerateDataKey through the core by a grantee (a principal
//!   no policy allows, so only its grant does) on a key holding 1 grant vs a
//!   key holding `KMSD_BENCH_GRANTS` grants (default 50,000, AWS's per-key
//!   limit; larger values are capped to it). The grantee holds one grant in
//!   both; the others belong to other principals. The set-up creates the
//!   grants through `Kms::create_grant`, which is one synced RocksDB write
//!   each, serialized by the core's write lock (so it cannot be
//!   parallelized): about 0.5 ms per grant on the 2-core dev VM (5,000 took
//!   2.7 s in a debug build), so 50,000 take roughly half a minute to a
//!   minute there, and several minutes on a disk whose fsync takes
//!   milliseconds. The set-up time is printed.
//! - `keys/*`: key lookup in a store of `KMSD_BENCH_KEYS` keys (default
//!   1,000,000): random `Store::get_material` / `Store::get_key` reads, and
//!   GenerateDataKey through the core on one hot key vs on a random key
//!   each call (the core's caches hold 100,000 entries, so most random
//!   calls miss and read the key record, its material and its policy from
//!   RocksDB).
//!
//!   The set-up creates the keys with `Kms::create_keys_bulk` (what
//!   `kmsd create-keys` runs): CreateKey's checks and authorization once,
//!   then 10,000 keys per synced batch, instead of one synced write per key
//!   (~0.5 ms each on the dev VM, ~10 minutes for 1,000,000). It needs
//!   roughly 1 GB of temporary disk for 1,000,000 keys (~0.7 KB of record,
//!   sealed material and policy per key; RocksDB is built without
//!   compression). The load time is printed.
//!
//! Run: `cargo bench --bench scale` (release profile). Smaller set-ups:
//! `KMSD_BENCH_GRANTS=5000 KMSD_BENCH_KEYS=100000 cargo bench --bench scale`.
//! `cargo test --bench scale` runs each benchmark once (debug: use small
//! counts).

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kms_bench::fixtures::{self, SplitMix64};
use kmsd::api::{CreateGrantRequest, CreateKeyRequest, GenerateDataKeyRequest};
use kmsd::kms::{Kms, KmsConfig};
use kmsd::model::{DataKeySpec, GrantOperation, KeyId};
use kmsd::pki::DEV_PRINCIPAL;
use kmsd::testing;

/// The dev principal's account.
const ACCOUNT: &str = "111122223333";
/// The principal the grants benchmark calls as.
const GRANTEE: &str = "arn:aws:iam::111122223333:user/bench-grantee";
/// AWS's (and kmsd's) limit of grants per key.
const MAX_GRANTS_PER_KEY: usize = 50_000;

/// A count from the environment (`1_000_000` and `1000000` both work).
fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{name}={v:?}: expected a positive whole number")),
        Err(_) => default,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Times `iters` GenerateDataKey calls, the key chosen by `key_of`.
fn time_generate_data_key(
    rt: &tokio::runtime::Runtime,
    kms: &Kms,
    caller: &kmsd::kms::Caller,
    iters: u64,
    mut key_of: impl FnMut() -> String,
) -> Duration {
    let ec = fixtures::encryption_context(2);
    rt.block_on(async {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let req = GenerateDataKeyRequest {
                key_id: key_of(),
                encryption_context: ec.clone(),
                key_spec: Some(DataKeySpec::Aes256),
                ..Default::default()
            };
            let start = Instant::now();
            let out = kms
                .generate_data_key(caller, black_box(req))
                .await
                .expect("GenerateDataKey");
            total += start.elapsed();
            black_box(out);
        }
        total
    })
}

fn grants(c: &mut Criterion) {
    let mut n = env_count("KMSD_BENCH_GRANTS", MAX_GRANTS_PER_KEY);
    if n > MAX_GRANTS_PER_KEY {
        eprintln!("KMSD_BENCH_GRANTS={n} is over the per-key limit; using {MAX_GRANTS_PER_KEY}");
        n = MAX_GRANTS_PER_KEY;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = runtime();
    let server = testing::open_dev_server(dir.path(), KmsConfig::default()).expect("open core");
    let kms = server.kms().clone();
    let root = testing::local_caller(DEV_PRINCIPAL).expect("dev principal");
    let grantee = testing::local_caller(GRANTEE).expect("grantee principal");
    let grant = |key: &str, principal: String| CreateGrantRequest {
        key_id: key.to_owned(),
        grantee_principal: principal,
        operations: vec![GrantOperation::GenerateDataKey, GrantOperation::Decrypt],
        ..Default::default()
    };
    let started = Instant::now();
    let (few, many) = rt.block_on(async {
        let few = kms
            .create_key(&root, Default::default())
            .await
            .expect("create key")
            .id
            .to_string();
        let many = kms
            .create_key(&root, Default::default())
            .await
            .expect("create key")
            .id
            .to_string();
        kms.create_grant(&root, grant(&few, GRANTEE.to_owned()))
            .await
            .expect("create grant");
        for i in 0..n - 1 {
            let other = format!("arn:aws:iam::{ACCOUNT}:user/other-{i}");
            kms.create_grant(&root, grant(&many, other))
                .await
                .expect("create grant");
            if (i + 1) % 10_000 == 0 {
                eprintln!(
                    "grants: {} of {n} created ({:.0?})",
                    i + 1,
                    started.elapsed()
                );
            }
        }
        kms.create_grant(&root, grant(&many, GRANTEE.to_owned()))
            .await
            .expect("create grant");
        (few, many)
    });
    eprintln!(
        "grants: set-up of 1 + {n} grants took {:.1?}",
        started.elapsed()
    );
    let mut g = c.benchmark_group("grants");
    for (count, key) in [(1, &few), (n, &many)] {
        g.bench_function(
            BenchmarkId::new("generate_data_key_by_grantee", count),
            |b| {
                b.iter_custom(|iters| {
                    time_generate_data_key(&rt, &kms, &grantee, iters, || key.clone())
                })
            },
        );
    }
    g.finish();
}

/// Creates `n` keys of the dev account through the core's bulk path
/// (`Kms::create_keys_bulk`, what `kmsd create-keys` runs) in the data dir
/// `dir`, then closes it; returns their ids.
fn bulk_load(dir: &std::path::Path, n: usize) -> Vec<KeyId> {
    let rt = runtime();
    let server = testing::open_dev_server(dir, KmsConfig::default()).expect("open core");
    let root = testing::local_caller(DEV_PRINCIPAL).expect("dev principal");
    let ids = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let started = Instant::now();
    let input = CreateKeyRequest {
        description: "kms-bench scale key".to_owned(),
        ..Default::default()
    };
    rt.block_on(async {
        let sink = Arc::clone(&ids);
        server
            .kms()
            .create_keys_bulk(&root, input, n, move |batch| {
                let mut ids = sink.lock().expect("ids");
                ids.extend_from_slice(batch);
                if ids.len() % 100_000 == 0 {
                    eprintln!(
                        "keys: {} of {n} created ({:.0?})",
                        ids.len(),
                        started.elapsed()
                    );
                }
            })
            .await
            .expect("bulk create");
        server.kms().flush().await.expect("flush");
    });
    eprintln!("keys: bulk load of {n} keys took {:.1?}", started.elapsed());
    drop(server);
    let ids = std::mem::take(&mut *ids.lock().expect("ids"));
    ids
}

fn keys(c: &mut Criterion) {
    let n = env_count("KMSD_BENCH_KEYS", 1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = bulk_load(dir.path(), n);
    // Raw store reads (records verified under the root key; material
    // records stay sealed).
    let root = kmsd::store::read_root_key_file(&dir.path().join("root.key")).expect("root key");
    let store = kmsd::backend::root::open_store(&dir.path().join("db"), &root).expect("open store");

    let mut g = c.benchmark_group("keys");
    let mut rng = SplitMix64::new(1);
    g.bench_function(BenchmarkId::new("store_get_material_random", n), |b| {
        b.iter(|| {
            let id = &ids[rng.below(ids.len())];
            store
                .get_material(black_box(id), 1)
                .expect("read")
                .expect("material exists")
        })
    });
    g.bench_function(BenchmarkId::new("store_get_key_random", n), |b| {
        b.iter(|| {
            let id = &ids[rng.below(ids.len())];
            store
                .get_key(black_box(id))
                .expect("read")
                .expect("key exists")
        })
    });
    drop(store);

    let rt = runtime();
    let server = testing::open_dev_server(dir.path(), KmsConfig::default()).expect("open core");
    let kms = server.kms().clone();
    let caller = testing::local_caller(DEV_PRINCIPAL).expect("dev principal");
    let hot = ids[0].to_string();
    g.bench_function(BenchmarkId::new("generate_data_key_hot_key", n), |b| {
        b.iter_custom(|iters| time_generate_data_key(&rt, &kms, &caller, iters, || hot.clone()))
    });
    g.bench_function(BenchmarkId::new("generate_data_key_random_key", n), |b| {
        b.iter_custom(|iters| {
            time_generate_data_key(&rt, &kms, &caller, iters, || {
                ids[rng.below(ids.len())].to_string()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = grants, keys
}
criterion_main!(benches);
