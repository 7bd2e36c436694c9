#!/usr/bin/env bash
# Multi-Region replication lag and cross-Region Decrypt (issue 15's
# targets: p99 lag < 1 s on loopback; cross-Region Decrypt throughput equal
# to same-Region), on this host:
#
#   1. builds the release binaries (`make build`) unless SKIP_BUILD=1;
#   2. starts the three demo Regions (scripts/multi-region-demo.sh
#      --start-only: us-east-1, us-west-2, eu-west-1 on loopback, each
#      replicating to the others) in a temporary directory;
#   3. runs `kms-bench replication-lag` with us-east-1 as the primary and
#      the other two as replicas: BENCH_ITERATIONS RotateKeyOnDemand and
#      ReplicateKey changes under a GenerateDataKey load of
#      BENCH_LOAD_CONCURRENCY workers, each polled with Decrypt in the
#      replicas until usable; then Decrypt in us-west-2 of ciphertexts made
#      in us-east-1 against ones made in us-west-2 (BENCH_DECRYPT_DURATION
#      each, BENCH_CONCURRENCY workers);
#   4. prints the report and writes it to BENCH_OUT (target/bench):
#      multi-region-latest.md and multi-region-latest.json;
#   5. stops the Regions and removes the directory (KEEP_TMP=1 keeps it).
#
# Settings (environment): BENCH_ITERATIONS (50) BENCH_LOAD_CONCURRENCY (16)
# BENCH_CONCURRENCY (16) BENCH_DECRYPT_DURATION (8s) BENCH_OUT
# (target/bench) SKIP_BUILD (0) KEEP_TMP (0) BENCH_BIN_DIR (target/release;
# target/debug with SKIP_BUILD=1 checks that the script works — debug
# figures mean nothing).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN_DIR:-$ROOT/target/release}
OUT=${BENCH_OUT:-$ROOT/target/bench}

log() { printf '[bench-multi-region] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries (make build)"
    make -C "$ROOT" build >&2
fi
for b in kmsd kmsctl kms-bench; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing: run make build"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-multi-region.XXXXXX")
cleanup() {
    KMSD_BIN_DIR=$BIN "$ROOT/scripts/multi-region-demo.sh" --stop "$TMP" || true
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        log "kept $TMP (logs: $TMP/*.log)"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KMSD_BIN_DIR=$BIN "$ROOT/scripts/multi-region-demo.sh" --dir "$TMP" --start-only

mkdir -p "$OUT"
common=(--config "$TMP/kmsctl.config" --primary-region us-east-1
    --replica-region us-west-2 --replica-region eu-west-1
    --iterations "${BENCH_ITERATIONS:-50}"
    --load-concurrency "${BENCH_LOAD_CONCURRENCY:-16}"
    --decrypt-concurrency "${BENCH_CONCURRENCY:-16}"
    --decrypt-duration "${BENCH_DECRYPT_DURATION:-8s}")
log "kms-bench replication-lag ${common[*]}"
"$BIN/kms-bench" replication-lag "${common[@]}" --json >"$OUT/multi-region-latest.json"

python3 - "$OUT/multi-region-latest.json" "$OUT/multi-region-latest.md" <<'PY'
import json, os, platform, sys, datetime
r = json.load(open(sys.argv[1]))
lines = [
    f"# Multi-Region replication ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
    "",
    f"Host: {platform.node()}, {os.cpu_count()} CPUs; kms-bench build: {r['build']}. "
    f"Primary {r['primary_region']}, replicas {', '.join(r['replica_regions'])}, all on loopback; "
    f"GenerateDataKey load on the primary: {r['load_rps']:.0f} req/s ({r['load_errors']} errors).",
    "",
    "| change → usable (Decrypt) in | Region | n | p50 ms | p99 ms | max ms |",
    "|---|---|---|---|---|---|",
]
for title, key in (("RotateKeyOnDemand", "rotation_lag"), ("ReplicateKey", "replicate_lag")):
    for region, s in r[key].items():
        lines.append(f"| {title} | {region} | {s['count']} | {s['p50_ms']:.2f} | "
                     f"{s['p99_ms']:.2f} | {s['max_ms']:.2f} |")
if r.get("decrypt_ratio") is not None:
    c, s = r["decrypt_cross_region"], r["decrypt_same_region"]
    lines += [
        "",
        f"Decrypt in {r['replica_regions'][0]}: ciphertexts made in {r['primary_region']} "
        f"{c['throughput_rps']:.0f} req/s (p50 {c['p50_ms']:.2f} / p99 {c['p99_ms']:.2f} ms), "
        f"made locally {s['throughput_rps']:.0f} req/s (p50 {s['p50_ms']:.2f} / p99 {s['p99_ms']:.2f} ms): "
        f"ratio **{r['decrypt_ratio']:.2f}**.",
    ]
lines += ["", f"Targets (p99 lag < 1 s, Decrypt ratio ≥ 0.9): **{'met' if r['targets_met'] else 'NOT met'}**.", ""]
text = "\n".join(lines)
print(text)
open(sys.argv[2], "w").write(text)
PY
log "wrote $OUT/multi-region-latest.md and multi-region-latest.json"
