#!/usr/bin/env bash
# HSM-backed keys against local keys (issue 14's target), on this host:
#
#   1. builds the release binaries (`make build`: kmsd, kmsctl, kms-bench,
#      hsm-sim, linking the optimized RocksDB the Makefile keeps), unless
#      SKIP_BUILD=1;
#   2. in a temporary directory: `hsm-sim init` a cluster, starts two nodes
#      on loopback ports (each the other's --peer) and waits for their ready
#      lines; starts `kmsd serve --dev --hsm-cluster ID=ADDR1,ADDR2` and waits
#      for its endpoint file;
#   3. creates a custom key store with kmsctl (trust anchor: the cluster's
#      ca.pem), connects it and waits until describe-custom-key-stores says
#      CONNECTED (fails with the ConnectionErrorCode on FAILED);
#   4. for GenerateDataKey and Decrypt: runs kms-bench with a local key and
#      with an HSM key (--custom-key-store-id), alternating, BENCH_REPEAT
#      times each, and keeps each side's median run (by throughput);
#   5. prints throughput, p50 and p99 for each, the HSM/local ratios and
#      the targets (throughput >= 0.5 x local, p99 <= 2 x local p99), and
#      writes the table and the raw reports to BENCH_OUT (target/bench):
#      hsm-latest.md, hsm-latest.json.
#
# Everything it starts is stopped on exit (SIGTERM, by PID) and the
# temporary directory removed (KEEP_TMP=1 keeps it, with the logs).
#
# Settings (environment), defaults as `make bench`'s suite:
#   BENCH_DURATION (10s) BENCH_WARMUP (2s) BENCH_CONCURRENCY (64)
#   BENCH_CONNECTIONS (2) BENCH_CONTEXT_PAIRS (3) BENCH_REPEAT (3)
#   BENCH_OUT (target/bench) SKIP_BUILD (0) KEEP_TMP (0)
#   BENCH_BIN_DIR (target/release; e.g. target/debug with SKIP_BUILD=1 for
#   a quick check that the script works — debug figures mean nothing)
# Needs python3 (standard library only) to read kms-bench's JSON.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BENCH_BIN_DIR:-$ROOT/target/release}
KMSD="$BIN/kmsd"
KMSCTL="$BIN/kmsctl"
KMS_BENCH="$BIN/kms-bench"
HSM_SIM="$BIN/hsm-sim"

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONCURRENCY=${BENCH_CONCURRENCY:-64}
CONNECTIONS=${BENCH_CONNECTIONS:-2}
CONTEXT_PAIRS=${BENCH_CONTEXT_PAIRS:-3}
REPEAT=${BENCH_REPEAT:-3}
OUT=${BENCH_OUT:-$ROOT/target/bench}

# hsm-sim's cluster ids are 19-24 characters of a-z, 0-9 and '-', like
# CloudHSM's; passwords 7-32 characters.
CLUSTER_ID=cluster-benchhsm0001
PASSWORD=bench-Pa55word

log() { printf '[bench-hsm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building release binaries (make build)"
    make -C "$ROOT" build >&2
fi
for b in "$KMSD" "$KMSCTL" "$KMS_BENCH" "$HSM_SIM"; do
    [[ -x "$b" ]] || die "$b is missing: run make build"
done
command -v python3 >/dev/null || die "python3 is needed to read kms-bench's JSON"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-bench-hsm.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        log "kept $TMP (logs: $TMP/*.log)"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port free right now (the nodes must know each other's
# addresses before either starts).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for DESCRIPTION PID TIMEOUT_S COMMAND...: polls COMMAND until it
# succeeds; fails if PID exits first or the time runs out.
wait_for() {
    local what=$1 pid=$2 timeout=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "$what: the process exited; see $TMP/*.log"
        ((SECONDS < deadline)) || die "$what: not ready after ${timeout}s; see $TMP/*.log"
        sleep 0.05
    done
}

# ---------------------------------------------------------------- cluster

log "hsm-sim init --cluster-id $CLUSTER_ID --dir $TMP/cluster"
HSM_SIM_KMSUSER_PASSWORD=$PASSWORD "$HSM_SIM" init --cluster-id "$CLUSTER_ID" \
    --dir "$TMP/cluster" 2>>"$TMP/init.log" || die "hsm-sim init failed: $(cat "$TMP/init.log")"

ADDR1="127.0.0.1:$(free_port)"
ADDR2="127.0.0.1:$(free_port)"
[[ "$ADDR1" != "$ADDR2" ]] || ADDR2="127.0.0.1:$(free_port)"
start_node() {
    local id=$1 addr=$2 peer=$3
    RUST_LOG=${RUST_LOG:-warn} "$HSM_SIM" serve --cluster-dir "$TMP/cluster" --node-id "$id" \
        --data-dir "$TMP/node$id" --listen "$addr" --peer "$peer" \
        >/dev/null 2>"$TMP/node$id.log" &
    PIDS+=($!)
    NODE_PID=$!
}
start_node 1 "$ADDR1" "$ADDR2"
PID1=$NODE_PID
start_node 2 "$ADDR2" "$ADDR1"
PID2=$NODE_PID
wait_for "hsm-sim node 1" "$PID1" 30 grep -q "^hsm-sim: node 1 listening on " "$TMP/node1.log"
wait_for "hsm-sim node 2" "$PID2" 30 grep -q "^hsm-sim: node 2 listening on " "$TMP/node2.log"
log "hsm-sim nodes serving on $ADDR1 and $ADDR2"

# ---------------------------------------------------------------- kmsd

DATA="$TMP/kmsd"
RUST_LOG=${RUST_LOG:-warn} "$KMSD" serve --dev --data-dir "$DATA" --listen 127.0.0.1:0 \
    --hsm-cluster "$CLUSTER_ID=$ADDR1,$ADDR2" >"$TMP/kmsd.log" 2>&1 &
KMSD_PID=$!
PIDS+=("$KMSD_PID")
wait_for "kmsd" "$KMSD_PID" 60 test -s "$DATA/endpoint"
log "kmsd serving on $(cat "$DATA/endpoint")"

ctl() { "$KMSCTL" --data-dir "$DATA" "$@"; }

# ---------------------------------------------------------------- key store

printf '%s' "$PASSWORD" >"$TMP/kmsuser.pw"
STORE=$(ctl create-custom-key-store --custom-key-store-name bench-hsm \
    --cloud-hsm-cluster-id "$CLUSTER_ID" \
    --trust-anchor-certificate "file://$TMP/cluster/ca.pem" \
    --key-store-password "file://$TMP/kmsuser.pw" \
    --output text --query CustomKeyStoreId)
log "custom key store $STORE created; connecting"
ctl connect-custom-key-store --custom-key-store-id "$STORE"
deadline=$((SECONDS + 60))
while :; do
    described=$(ctl describe-custom-key-stores --custom-key-store-id "$STORE" \
        --output text --query 'CustomKeyStores[0].[ConnectionState,ConnectionErrorCode]')
    read -r STATE CODE <<<"$described"
    case "$STATE" in
        CONNECTED) break ;;
        FAILED) die "the key store did not connect: FAILED, ConnectionErrorCode $CODE" ;;
    esac
    ((SECONDS < deadline)) || die "the key store is still $STATE after 60s"
    sleep 0.1
done
log "custom key store $STORE is CONNECTED"

# ---------------------------------------------------------------- measuring

mkdir -p "$OUT"
REPORTS="$TMP/reports.jsonl"
: >"$REPORTS"

# bench LABEL OPERATION [kms-bench flags...]: one run, its JSON report
# appended to $REPORTS with the label and operation.
bench() {
    local label=$1 op=$2
    shift 2
    log "kms-bench $op ($label key)"
    local json
    json=$("$KMS_BENCH" --data-dir "$DATA" --json --no-progress --keep-keys \
        --operation "$op" --key-spec AES_256 --context-pairs "$CONTEXT_PAIRS" \
        --concurrency "$CONCURRENCY" --connections "$CONNECTIONS" \
        --duration "$DURATION" --warmup "$WARMUP" "$@")
    LABEL=$label OP=$op python3 -c '
import json, os, sys
r = json.loads(sys.stdin.read())
r["label"] = os.environ["LABEL"]
r["op"] = os.environ["OP"]
if r.get("errors"):
    print("[bench-hsm] warning: %d errors: %s" % (r["errors"], r.get("errors_by_code")),
          file=sys.stderr)
print(json.dumps(r))' <<<"$json" >>"$REPORTS"
}

for op in GenerateDataKey Decrypt; do
    for ((i = 0; i < REPEAT; i++)); do
        # Alternate which goes first, so drift in the machine's load hits
        # both alike.
        if ((i % 2 == 0)); then
            bench local "$op"
            bench hsm "$op" --custom-key-store-id "$STORE"
        else
            bench hsm "$op" --custom-key-store-id "$STORE"
            bench local "$op"
        fi
    done
done

# ---------------------------------------------------------------- report

python3 - "$REPORTS" "$OUT" "$CONCURRENCY" "$CONNECTIONS" "$DURATION" "$REPEAT" <<'EOF'
import json, platform, os, sys, datetime

reports_path, out, concurrency, connections, duration, repeat = sys.argv[1:7]
runs = [json.loads(l) for l in open(reports_path) if l.strip()]

MIN_RATIO = 0.5      # HSM throughput >= 50% of local
MAX_P99_RATIO = 2.0  # HSM p99 <= 2x local p99

def median(label, op):
    rs = sorted((r for r in runs if r["label"] == label and r["op"] == op),
                key=lambda r: r["throughput_rps"])
    return rs[len(rs) // 2]

rows, detail, ok_all = [], [], True
for op in ("GenerateDataKey", "Decrypt"):
    loc, hsm = median("local", op), median("hsm", op)
    if hsm.get("key_origin") != "AWS_CLOUDHSM":
        sys.exit(f"[bench-hsm] error: the HSM run used {hsm.get('key_origin')} keys")
    ratio = hsm["throughput_rps"] / loc["throughput_rps"] if loc["throughput_rps"] else 0.0
    p99_ratio = hsm["p99_ms"] / loc["p99_ms"] if loc["p99_ms"] else float("inf")
    ok = ratio >= MIN_RATIO and p99_ratio <= MAX_P99_RATIO
    ok_all &= ok
    errors = sum(r["errors"] for r in runs if r["op"] == op)
    rows.append(f"| {op} | {loc['throughput_rps']:.0f} | {hsm['throughput_rps']:.0f} | "
                f"**{ratio:.2f}** (≥ {MIN_RATIO}) | {loc['p50_ms']:.2f} / {loc['p99_ms']:.2f} | "
                f"{hsm['p50_ms']:.2f} / {hsm['p99_ms']:.2f} | **{p99_ratio:.2f}** (≤ {MAX_P99_RATIO}) | "
                f"{errors} | {'met' if ok else 'NOT met'} |")
    detail.append(f"- {op}: local runs (req/s) "
                  f"{[round(r['throughput_rps']) for r in runs if r['label'] == 'local' and r['op'] == op]}, "
                  f"HSM runs {[round(r['throughput_rps']) for r in runs if r['label'] == 'hsm' and r['op'] == op]}")

build = {r["build"] for r in runs}
lines = [
    f"# HSM-backed keys vs local keys ({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC)",
    "",
    f"Host: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}; kms-bench build: {', '.join(sorted(build))}.",
    f"Two hsm-sim nodes and kmsd on this host (loopback); AES_256 data keys, 3-pair encryption context, "
    f"concurrency {concurrency}, {connections} connection(s), {duration} per run, {repeat} alternating "
    f"run(s) per side; the median run (by throughput) of each side is shown.",
    "",
    "| operation | local req/s | HSM req/s | HSM/local | local p50 / p99 (ms) | HSM p50 / p99 (ms) | p99 HSM/local | errors | target |",
    "|---|---|---|---|---|---|---|---|---|",
    *rows,
    "",
    *detail,
    "",
]
text = "\n".join(lines)
print(text)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "hsm-latest.md"), "w") as f:
    f.write(text)
with open(os.path.join(out, "hsm-latest.json"), "w") as f:
    json.dump(runs, f, indent=1)
print(f"[bench-hsm] wrote {out}/hsm-latest.md and hsm-latest.json", file=sys.stderr)
if not ok_all:
    print("[bench-hsm] a target was not met", file=sys.stderr)
EOF
