# Shared helpers for the BYOK example scripts (sourced, not run).
#
# The scripts follow the AWS KMS developer guide's "Importing key material"
# procedure (steps 1-4) with `kmsctl` in place of `aws kms`, and use only
# kmsctl, openssl (3.x) and coreutils.
#
# Which daemon: whatever kmsctl itself would call. kmsctl reads
# KMS_DATA_DIR (e.g. ./data of `make run`: certificates and endpoint), or
# KMS_ENDPOINT, KMS_CA_CERT, KMS_CLIENT_CERT, KMS_CLIENT_KEY. Set KMSCTL to
# use a kmsctl that is not on PATH (e.g. KMSCTL=./target/release/kmsctl).
#
# Each script runs in a temp dir it creates and removes, prints its steps
# on stderr, and exits non-zero at the first failed step or check.

set -eu

KMSCTL=${KMSCTL:-kmsctl}
OPENSSL=${OPENSSL:-openssl}

# A relative KMSCTL or KMS_DATA_DIR must survive the cd into the temp dir.
case $KMSCTL in
    */*) KMSCTL=$(cd "$(dirname "$KMSCTL")" && pwd)/$(basename "$KMSCTL") ;;
esac
if [ -n "${KMS_DATA_DIR:-}" ]; then
    KMS_DATA_DIR=$(cd "$KMS_DATA_DIR" && pwd)
    export KMS_DATA_DIR
fi

BYOK_NAME=$(basename "$0" .sh)
BYOK_STEP="start"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/byok-$BYOK_NAME.XXXXXX")
# On any exit: remove the temp dir; on failure (a failed check, or a
# command that failed under set -e) say in which step.
byok_exit() {
    rc=$?
    cd /
    rm -rf "$WORK"
    if [ "$rc" -ne 0 ]; then
        printf '\nFAILED (%s, exit %s) in step: %s\n' "$BYOK_NAME" "$rc" "$BYOK_STEP" >&2
    fi
    exit "$rc"
}
trap byok_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$WORK"

# step TEXT: announce a step.
step() {
    BYOK_STEP=$*
    printf '\n==> %s: %s\n' "$BYOK_NAME" "$*" >&2
}

# fail TEXT: report and stop.
fail() {
    printf '\nFAIL (%s): %s\n' "$BYOK_NAME" "$*" >&2
    exit 1
}

# kms ARGS...: kmsctl with its own environment; output on stdout.
kms() {
    "$KMSCTL" "$@"
}

# hex FILE: the file's bytes as lowercase hex on one line (openssl -K and
# -macopt hexkey: take this form).
hex() {
    od -An -v -tx1 "$1" | tr -d ' \n'
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# expect_same_file A B WHAT: byte-for-byte equal.
expect_same_file() {
    cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"
}

# expect_error EXCEPTION ARGS...: the kmsctl call must fail with the AWS
# exception named (kmsctl prints "An error occurred (EXCEPTION) when
# calling the ... operation" on stderr and exits 254, as the AWS CLI does).
expect_error() {
    exception=$1
    shift
    if kms "$@" >expect_error.out 2>expect_error.err; then
        fail "kmsctl $1 succeeded; expected $exception"
    else
        rc=$?
    fi
    [ "$rc" -eq 254 ] || fail "kmsctl $1 exited $rc (expected 254): $(cat expect_error.err)"
    grep -q "An error occurred ($exception)" expect_error.err ||
        fail "kmsctl $1: expected $exception, got: $(cat expect_error.err)"
    printf '    (refused as expected: %s)\n' "$(tr -d '\n' <expect_error.err)" >&2
}

# key_state KEY_ID: the key's KeyState.
key_state() {
    kms describe-key --key-id "$1" --output text --query KeyMetadata.KeyState
}

# get_parameters KEY_ID WRAPPING_ALGORITHM WRAPPING_KEY_SPEC
# Step 2: one GetParametersForImport call; writes the wrapping public key
# (DER SubjectPublicKeyInfo) to PublicKey.bin and the import token to
# ImportToken.bin. Both come from the same call: a second call for the key
# would supersede the first call's token.
get_parameters() {
    params=$(kms get-parameters-for-import --key-id "$1" \
        --wrapping-algorithm "$2" --wrapping-key-spec "$3" \
        --query '{Key:PublicKey,Token:ImportToken}' --output text)
    printf '%s\n' "$params" | cut -f1 >PublicKey.b64
    printf '%s\n' "$params" | cut -f2 >ImportToken.b64
    "$OPENSSL" enc -d -base64 -A -in PublicKey.b64 -out PublicKey.bin
    "$OPENSSL" enc -d -base64 -A -in ImportToken.b64 -out ImportToken.bin
    [ -s PublicKey.bin ] || fail "GetParametersForImport returned no PublicKey"
    [ -s ImportToken.bin ] || fail "GetParametersForImport returned no ImportToken"
    # The public key must be an RSA key of the requested size.
    bits=$("$OPENSSL" pkey -pubin -inform DER -in PublicKey.bin -noout -text |
        sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
    expect_eq "RSA_$bits" "$3" "wrapping public key size"
}

# wrap_oaep SHA IN OUT: RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256 (step 3):
# IN encrypted with RSA-OAEP (hash and MGF1 hash SHA) under PublicKey.bin.
wrap_oaep() {
    "$OPENSSL" pkeyutl -encrypt -in "$2" -out "$3" \
        -inkey PublicKey.bin -keyform DER -pubin \
        -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:"$1" -pkeyopt rsa_mgf1_md:"$1"
}

# import_material KEY_ID ARGS...: step 4, ImportKeyMaterial with ImportToken.bin and
# EncryptedKeyMaterial.bin; prints the KeyMaterialId.
import_material() {
    key=$1
    shift
    kms import-key-material --key-id "$key" \
        --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
        --import-token fileb://ImportToken.bin \
        "$@" --output text --query KeyMaterialId
}
