//! Micro-benchmarks of kmsd's hot-path pieces (criterion).
//!
//! - `ciphertext/*`: the blob format — canonical encryption context,
//!   seal and open of a 32-byte data key (0, 4 and 16 context pairs), and
//!   header parsing (`kmsd::ciphertext`).
//! - `aes_gcm/*`: AES-256-GCM seal/open of a 32-byte data key with a
//!   header-sized AAD (`kmsd::crypto`), nonce generation included: directly
//!   under a key (`seal_32B`, `open_32B`: format-1 blobs, stored material)
//!   and under a per-blob key derived with HKDF-SHA256-Expand from
//!   precomputed HMAC states (`seal_derived_32B`, `open_derived_32B`:
//!   format-3 blobs), the derivation alone (`derive_blob_key`), and v2's
//!   extract-then-expand derivation for comparison (`derive_blob_key_v2`).
//! - `authz/*`: one authorization: building a data-plane request context,
//!   and evaluating AWS's default key policy vs a 32 KB key policy against
//!   it (`kmsd::authz`); also compiling the 32 KB policy, which happens once
//!   per PutKeyPolicy, never per request.
//! - `core/*`: the whole in-process core path, `Kms::generate_data_key` and
//!   `Kms::decrypt` with a `Caller` (no gRPC, no TLS) on a key with the
//!   default policy vs a key whose policy is ~32 KB (set by
//!   `Kms::put_key_policy`), warm caches.
//!
//! Run: `cargo bench --bench micro` (release profile; a few minutes).
//! `cargo test --bench micro` runs each benchmark once, as a smoke test.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kms_bench::fixtures;
use kmsd::api::{
    DecryptRequest, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextRequest,
    PutKeyPolicyRequest,
};
use kmsd::authz::{Policy, PolicyKind};
use kmsd::backend::local::handle_from_material;
use kmsd::ciphertext::{self, BlobHeader, CanonicalContext, HEADER_LEN};
use kmsd::crypto;
use kmsd::kms::{default_key_policy, KmsConfig};
use kmsd::model::{DataKeySpec, KeyId, KeySpec};
use kmsd::pki::DEV_PRINCIPAL;
use kmsd::secret::KeyMaterial;
use kmsd::testing;

/// The dev principal's account.
const ACCOUNT: &str = "111122223333";
/// Encryption-context pairs of the authz and core benchmarks.
const CONTEXT_PAIRS: usize = 2;

fn ciphertext_format(c: &mut Criterion) {
    let material = handle_from_material(
        KeySpec::SymmetricDefault,
        KeyMaterial::from_slice(&[7u8; 32]).expect("32 bytes"),
    );
    let header = BlobHeader {
        key_id: KeyId::new_random(),
        version: 1,
    };
    let data_key = [0x42u8; 32];
    let mut g = c.benchmark_group("ciphertext");
    for pairs in [0usize, 4, 16] {
        let map = fixtures::encryption_context(pairs);
        g.bench_with_input(
            BenchmarkId::new("canonical_context", pairs),
            &map,
            |b, m| b.iter(|| CanonicalContext::new(black_box(m)).expect("valid context")),
        );
        let canon = CanonicalContext::new(&map).expect("valid context");
        g.bench_function(BenchmarkId::new("seal_32B", pairs), |b| {
            b.iter(|| {
                ciphertext::seal(header, &*material, &canon, black_box(&data_key)).expect("seal")
            })
        });
        let blob = ciphertext::seal(header, &*material, &canon, &data_key).expect("seal");
        g.bench_function(BenchmarkId::new("open_32B", pairs), |b| {
            b.iter(|| ciphertext::open(&*material, &canon, black_box(&blob)).expect("open"))
        });
    }
    let canon = CanonicalContext::new(&fixtures::encryption_context(0)).expect("valid context");
    let blob = ciphertext::seal(header, &*material, &canon, &data_key).expect("seal");
    g.bench_function("header_parse", |b| {
        b.iter(|| BlobHeader::parse(black_box(&blob)).expect("header"))
    });
    g.finish();
}

fn aes_gcm(c: &mut Criterion) {
    let key = [9u8; 32];
    let aad = [1u8; HEADER_LEN + 2];
    let data_key = [0x42u8; 32];
    let sealed = crypto::seal(&key, &aad, &data_key).expect("seal");
    let mut g = c.benchmark_group("aes_gcm");
    g.bench_function("seal_32B", |b| {
        b.iter(|| crypto::seal(&key, &aad, black_box(&data_key)).expect("seal"))
    });
    g.bench_function("open_32B", |b| {
        b.iter(|| crypto::open(&key, &aad, black_box(&sealed)).expect("open"))
    });
    let salt = [5u8; crypto::SALT_LEN];
    let blob_keys = crypto::BlobKeys::new(&key).expect("keys");
    g.bench_function("derive_blob_key", |b| {
        b.iter(|| blob_keys.derive(black_box(&salt)))
    });
    g.bench_function("derive_blob_key_v2", |b| {
        b.iter(|| crypto::derive_blob_key_v2(&key, black_box(&salt)).expect("derive"))
    });
    g.bench_function("seal_derived_32B", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(crypto::NONCE_LEN + 32 + crypto::TAG_LEN);
            blob_keys
                .seal_into(&salt, &aad, black_box(&data_key), &mut out)
                .expect("seal");
            out
        })
    });
    let mut sealed_derived = Vec::new();
    blob_keys
        .seal_into(&salt, &aad, &data_key, &mut sealed_derived)
        .expect("seal");
    g.bench_function("open_derived_32B", |b| {
        b.iter(|| {
            blob_keys
                .open(&salt, &aad, black_box(&sealed_derived))
                .expect("open")
        })
    });
    g.finish();
}

fn authz(c: &mut Criterion) {
    let default_text = default_key_policy(ACCOUNT);
    let large_text = fixtures::large_key_policy(ACCOUNT);
    let default = Policy::parse_as(&default_text, PolicyKind::Resource).expect("valid policy");
    let large = Policy::parse_as(&large_text, PolicyKind::Resource).expect("valid policy");
    let key_arn = format!(
        "arn:aws:kms:us-east-1:{ACCOUNT}:key/{}",
        KeyId::new_random()
    );
    let ec = fixtures::encryption_context(CONTEXT_PAIRS);
    let ctx = testing::data_plane_request_context(
        DEV_PRINCIPAL,
        ACCOUNT,
        "kms:GenerateDataKey",
        &key_arn,
        &ec,
    );
    let mut g = c.benchmark_group("authz");
    g.bench_function("request_context", |b| {
        b.iter(|| {
            testing::data_plane_request_context(
                DEV_PRINCIPAL,
                ACCOUNT,
                "kms:GenerateDataKey",
                black_box(&key_arn),
                &ec,
            )
        })
    });
    for (name, policy) in [("default_policy", &default), ("32kb_policy", &large)] {
        let id = format!(
            "{name}_{}_statements_{}B",
            policy.statements_len(),
            policy.text().len()
        );
        g.bench_function(BenchmarkId::new("evaluate", id), |b| {
            b.iter(|| policy.evaluate(black_box(&ctx)))
        });
    }
    g.bench_function(BenchmarkId::new("compile", "32kb_policy"), |b| {
        b.iter(|| Policy::parse_as(black_box(&large_text), PolicyKind::Resource).expect("valid"))
    });
    g.finish();
}

fn core(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = testing::open_dev_server(dir.path(), KmsConfig::default()).expect("open core");
    let kms = server.kms().clone();
    let caller = testing::local_caller(DEV_PRINCIPAL).expect("dev principal");
    let ec = fixtures::encryption_context(CONTEXT_PAIRS);
    let (default_key, large_key) = rt.block_on(async {
        let a = kms
            .create_key(&caller, Default::default())
            .await
            .expect("create key");
        let b = kms
            .create_key(&caller, Default::default())
            .await
            .expect("create key");
        let b = b.id.to_string();
        kms.put_key_policy(
            &caller,
            PutKeyPolicyRequest {
                key_id: b.clone(),
                policy: fixtures::large_key_policy(ACCOUNT),
                ..Default::default()
            },
        )
        .await
        .expect("put 32 KB key policy");
        (a.id.to_string(), b)
    });
    let mut g = c.benchmark_group("core");
    for (name, key) in [
        ("default_policy", &default_key),
        ("32kb_policy", &large_key),
    ] {
        g.bench_function(BenchmarkId::new("generate_data_key", name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let out = kms
                            .generate_data_key(
                                &caller,
                                black_box(GenerateDataKeyRequest {
                                    key_id: key.clone(),
                                    encryption_context: ec.clone(),
                                    key_spec: Some(DataKeySpec::Aes256),
                                    ..Default::default()
                                }),
                            )
                            .await
                            .expect("GenerateDataKey");
                        black_box(out);
                    }
                    start.elapsed()
                })
            })
        });
        let blob = rt
            .block_on(kms.generate_data_key_without_plaintext(
                &caller,
                GenerateDataKeyWithoutPlaintextRequest(GenerateDataKeyRequest {
                    key_id: key.clone(),
                    encryption_context: ec.clone(),
                    key_spec: Some(DataKeySpec::Aes256),
                    ..Default::default()
                }),
            ))
            .expect("GenerateDataKeyWithoutPlaintext")
            .ciphertext_blob;
        g.bench_function(BenchmarkId::new("decrypt", name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let out = kms
                            .decrypt(
                                &caller,
                                black_box(DecryptRequest {
                                    ciphertext_blob: blob.clone(),
                                    encryption_context: ec.clone(),
                                    ..Default::default()
                                }),
                            )
                            .await
                            .expect("Decrypt");
                        black_box(out);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
    drop(kms);
    rt.block_on(async { server.kms().flush().await.expect("flush") });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = ciphertext_format, aes_gcm, authz, core
}
criterion_main!(benches);
