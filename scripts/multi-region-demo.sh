#!/usr/bin/env bash
# Multi-Region keys on one machine: three kmsd Regions (us-east-1,
# us-west-2, eu-west-1) that replicate to each other, and kmsctl --region.
#
#   scripts/multi-region-demo.sh [--dir DIR] [--keep-running | --start-only]
#   scripts/multi-region-demo.sh --stop DIR
#
#   1. in DIR (default: a new temporary directory), initialises each
#      Region's dev data directory (a first `kmsd serve --dev`, stopped once
#      its endpoint file appears: that makes its root key, dev CA and
#      client certificate);
#   2. issues one peer certificate per Region from the first Region's dev
#      CA (`kmsd certs issue-peer`): the replication identity
#      spiffe://kmsd/region/R, used both to serve and to dial peers;
#   3. starts the three Regions, each with --region, --replication-listen
#      on a free loopback port, --peer-cert/--peer-key/--peer-ca and a
#      --peer R=URL for each other Region, and waits for their endpoint
#      files;
#   4. writes DIR/kmsctl.config (data_dir.R per Region, default region
#      us-east-1), so `KMSCTL_CONFIG=DIR/kmsctl.config kmsctl --region R`
#      calls Region R;
#   5. (not with --start-only) creates a multi-Region key in us-east-1,
#      replicates it to us-west-2 and eu-west-1, waits until each replica
#      is Enabled, encrypts in one Region and decrypts in the others, makes
#      us-west-2 the primary (update-primary-region) and waits for the
#      swap to finish, then rotates the key in its new primary and decrypts
#      the new ciphertext in every Region;
#   6. stops every kmsd it started (SIGTERM by PID) and removes a temporary
#      DIR — unless --keep-running or --start-only: then the daemons keep
#      serving (their PIDs in DIR/pids) until `--stop DIR`.
#
# Settings (environment): KMSD_BIN_DIR (target/debug; `make
# demo-multi-region` builds it), RUST_LOG (warn). Logs: DIR/<region>.log.
# Needs python3 (standard library only) for free ports and JSON.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${KMSD_BIN_DIR:-$ROOT/target/debug}
KMSD="$BIN/kmsd"
KMSCTL="$BIN/kmsctl"
REGIONS=(us-east-1 us-west-2 eu-west-1)

log() { printf '[multi-region] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

DIR=""
MODE=demo
while (($#)); do
    case "$1" in
        --dir) DIR=${2:?--dir needs a directory}; shift 2 ;;
        --keep-running) MODE=keep; shift ;;
        --start-only) MODE=start; shift ;;
        --stop) MODE=stop; DIR=${2:?--stop needs the directory}; shift 2 ;;
        -h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

# Stops the daemons listed in DIR/pids (one "region pid" per line), each
# by its own PID, and waits for them to exit.
stop_dir() {
    local dir=$1 region pid
    [[ -f "$dir/pids" ]] || return 0
    while read -r region pid; do
        if kill -TERM "$pid" 2>/dev/null; then
            log "stopping $region (pid $pid)"
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    done <"$dir/pids"
    rm -f "$dir/pids"
}

if [[ "$MODE" == stop ]]; then
    stop_dir "$DIR"
    exit 0
fi

for b in "$KMSD" "$KMSCTL"; do
    [[ -x "$b" ]] || die "$b is missing: run make demo-multi-region (or set KMSD_BIN_DIR)"
done
command -v python3 >/dev/null || die "python3 is needed"

TEMP_DIR=0
if [[ -z "$DIR" ]]; then
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-multi-region.XXXXXX")
    TEMP_DIR=1
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[[ ! -s "$DIR/pids" ]] || die "$DIR/pids lists running Regions: run $0 --stop $DIR first"

cleanup() {
    local rc=$?
    if [[ "$MODE" == demo || $rc != 0 ]]; then
        stop_dir "$DIR"
        if [[ $TEMP_DIR == 1 && $rc == 0 ]]; then
            rm -rf "$DIR"
        elif [[ $rc != 0 ]]; then
            log "logs kept in $DIR (*.log)"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
        kill -0 "$pid" 2>/dev/null || die "$what: the process exited; see $DIR/*.log"
        ((SECONDS < deadline)) || die "$what: not ready after ${timeout}s; see $DIR/*.log"
        sleep 0.05
    done
}

# ---------------------------------------------------------------- data dirs

for r in "${REGIONS[@]}"; do
    if [[ -f "$DIR/$r/certs/ca.pem" ]]; then
        continue
    fi
    log "initialising $DIR/$r (dev root key, CA and certificates)"
    RUST_LOG=${RUST_LOG:-warn} "$KMSD" serve --dev --data-dir "$DIR/$r" --region "$r" \
        --listen 127.0.0.1:0 >"$DIR/$r.init.log" 2>&1 &
    pid=$!
    wait_for "kmsd $r (first start)" "$pid" 120 test -s "$DIR/$r/endpoint"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    rm -f "$DIR/$r/endpoint"
done

# Peer certificates: all from the first Region's dev CA, which is then
# every Region's --peer-ca.
PEER_CA="$DIR/${REGIONS[0]}/certs/ca.pem"
for r in "${REGIONS[@]}"; do
    if [[ ! -f "$DIR/peers/$r/peer.pem" ]]; then
        "$KMSD" certs issue-peer --data-dir "$DIR/${REGIONS[0]}" --region "$r" \
            --out "$DIR/peers/$r" >/dev/null
    fi
done
log "peer certificates in $DIR/peers/<region>/ (CA $PEER_CA)"

# ---------------------------------------------------------------- start

declare -A REPL
for r in "${REGIONS[@]}"; do
    REPL[$r]="127.0.0.1:$(free_port)"
done
: >"$DIR/pids"
for r in "${REGIONS[@]}"; do
    peers=()
    for other in "${REGIONS[@]}"; do
        [[ "$other" == "$r" ]] || peers+=(--peer "$other=https://${REPL[$other]}")
    done
    rm -f "$DIR/$r/endpoint"
    RUST_LOG=${RUST_LOG:-warn} "$KMSD" serve --dev --data-dir "$DIR/$r" --region "$r" \
        --listen 127.0.0.1:0 --replication-listen "${REPL[$r]}" \
        --peer-cert "$DIR/peers/$r/peer.pem" --peer-key "$DIR/peers/$r/peer.key" \
        --peer-ca "$PEER_CA" "${peers[@]}" >"$DIR/$r.log" 2>&1 &
    echo "$r $!" >>"$DIR/pids"
done
while read -r r pid; do
    wait_for "kmsd $r" "$pid" 120 test -s "$DIR/$r/endpoint"
    log "$r: API $(cat "$DIR/$r/endpoint"), replication https://${REPL[$r]} (pid $pid)"
done <"$DIR/pids"

CONFIG="$DIR/kmsctl.config"
{
    echo "# kmsctl config for the three demo Regions (KMSCTL_CONFIG=$CONFIG)."
    echo "[default]"
    echo "region = ${REGIONS[0]}"
    for r in "${REGIONS[@]}"; do
        echo "data_dir.$r = $DIR/$r"
    done
} >"$CONFIG"
export KMSCTL_CONFIG=$CONFIG
log "kmsctl config: $CONFIG"

if [[ "$MODE" == start ]]; then
    log "Regions running; call them with: KMSCTL_CONFIG=$CONFIG $KMSCTL --region <region> ..."
    log "stop them with: $0 --stop $DIR"
    exit 0
fi

# ---------------------------------------------------------------- the demo

ctl() {
    local region=$1
    shift
    "$KMSCTL" --region "$region" "$@"
}
# show COMMAND...: prints the command, then runs it.
show() {
    printf '\n$ KMSCTL_CONFIG=%s kmsctl' "$CONFIG" >&2
    printf ' %q' "${@:2}" --region "$1" >&2
    printf '\n' >&2
    ctl "$@"
}

# wait_state REGION KEY STATE [TYPE]: polls describe-key in REGION until the
# key exists there in STATE (and, given, with MultiRegionKeyType TYPE).
wait_state() {
    local region=$1 key=$2 want=$3 type=${4:-} got deadline=$((SECONDS + 30))
    while :; do
        got=$(ctl "$region" describe-key --key-id "$key" --output text \
            --query '[KeyMetadata.KeyState, KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType]' \
            2>/dev/null || true)
        if [[ -n "$got" && "$got" == "$want"*"$type" ]]; then
            log "$region: $key is $got"
            return
        fi
        ((SECONDS < deadline)) || die "$region: $key is '${got:-absent}' after 30s, expected $want $type"
        sleep 0.05
    done
}

KEY=$(show us-east-1 create-key --multi-region --description "multi-Region demo key" \
    --output text --query KeyMetadata.KeyId)
log "created $KEY in us-east-1"
for r in us-west-2 eu-west-1; do
    show us-east-1 replicate-key --key-id "$KEY" --replica-region "$r" \
        --description "replica in $r" --tags TagKey=demo,TagValue=multi-region \
        --query '{Arn: ReplicaKeyMetadata.Arn, KeyState: ReplicaKeyMetadata.KeyState}'
done
for r in us-west-2 eu-west-1; do
    wait_state "$r" "$KEY" Enabled REPLICA
done
show us-east-1 describe-key --key-id "$KEY" --query KeyMetadata.MultiRegionConfiguration

PLAINTEXT=$(printf 'hello from us-east-1' | base64)
# decrypt_everywhere CIPHERTEXT: decrypts in every Region, checks the text.
decrypt_everywhere() {
    local blob=$1 r text
    for r in "${REGIONS[@]}"; do
        text=$(ctl "$r" decrypt --ciphertext-blob "$blob" --output text --query Plaintext | base64 -d)
        [[ "$text" == "$2" ]] || die "$r decrypted '$text', expected '$2'"
        log "$r decrypted: $text"
    done
}
BLOB=$(show us-east-1 encrypt --key-id "$KEY" --plaintext "$PLAINTEXT" \
    --output text --query CiphertextBlob)
decrypt_everywhere "$BLOB" "hello from us-east-1"
BLOB=$(ctl eu-west-1 encrypt --key-id "$KEY" --plaintext "$(printf 'hello from eu-west-1' | base64)" \
    --output text --query CiphertextBlob)
decrypt_everywhere "$BLOB" "hello from eu-west-1"

# Primary swap: us-west-2 becomes the primary, us-east-1 a replica.
show us-east-1 update-primary-region --key-id "$KEY" --primary-region us-west-2
wait_state us-west-2 "$KEY" Enabled PRIMARY
wait_state us-east-1 "$KEY" Enabled REPLICA

# Rotation now happens in us-west-2; the new material reaches the others.
show us-west-2 rotate-key-on-demand --key-id "$KEY"
BLOB=$(ctl us-west-2 encrypt --key-id "$KEY" --plaintext "$(printf 'after rotation' | base64)" \
    --output text --query CiphertextBlob)
deadline=$((SECONDS + 30))
for r in "${REGIONS[@]}"; do
    until ctl "$r" decrypt --ciphertext-blob "$BLOB" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$r cannot decrypt the post-rotation ciphertext after 30s"
        sleep 0.05
    done
done
decrypt_everywhere "$BLOB" "after rotation"
show us-east-1 list-key-rotations --key-id "$KEY" --query 'Rotations[].[KeyMaterialId,RotationType]' --output text

log "demo finished"
if [[ "$MODE" == keep ]]; then
    log "Regions still running; KMSCTL_CONFIG=$CONFIG $KMSCTL --region <region> ...; stop: $0 --stop $DIR"
fi
