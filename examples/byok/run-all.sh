#!/bin/sh
# Runs the four BYOK examples against the daemon kmsctl's environment points
# at (KMS_DATA_DIR, or KMS_ENDPOINT and the KMS_* certificate variables;
# KMSCTL for a kmsctl not on PATH). Starts nothing. Exits non-zero if any
# example fails; runs them all either way.
#
#   make run                                    # in one shell
#   KMS_DATA_DIR=./data KMSCTL=./target/release/kmsctl examples/byok/run-all.sh

set -eu

here=$(dirname "$0")
failed=""
for script in 01-symmetric.sh 02-rsa-signing.sh 03-hmac.sh 04-expiry-reimport.sh; do
    if sh "$here/$script"; then
        printf '%s: passed\n' "$script"
    else
        printf '%s: FAILED\n' "$script"
        failed="$failed $script"
    fi
done
if [ -n "$failed" ]; then
    printf 'failed:%s\n' "$failed" >&2
    exit 1
fi
printf 'all BYOK examples passed\n'
