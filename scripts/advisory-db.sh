#!/usr/bin/env bash
# Prepare the offline RustSec advisory database for `cargo deny --offline`.
#
# Usage: scripts/advisory-db.sh SHARED_DIR DB_ROOT
#
# cargo-deny looks for each advisory database at
#   <db-path>/<last url segment>-<xxhash64 of the url>
# which, for the default https://github.com/rustsec/advisory-db, is
#   <db-path>/advisory-db-3157b0e258782691
# and it wants a git checkout there (it reads the HEAD commit time to judge
# staleness). This script copies SHARED_DIR/advisory-db (a plain snapshot,
# no .git) into that directory and commits it. deny.toml's
# `[advisories] db-path` must point at DB_ROOT.
#
# Idempotent: the copy is redone only when it is missing, broken, its
# SNAPSHOT file differs from the shared one, or its commit is older than
# REFRESH_DAYS (cargo-deny refuses a database older than 90 days).
set -euo pipefail

shared=${1:?usage: advisory-db.sh SHARED_DIR DB_ROOT}
root=${2:?usage: advisory-db.sh SHARED_DIR DB_ROOT}
name=advisory-db-3157b0e258782691
refresh_days=${REFRESH_DAYS:-30}

src=$shared/advisory-db
dest=$root/$name

is_current() {
    [ -d "$dest/.git" ] || return 1
    git -C "$dest" rev-parse -q --verify HEAD >/dev/null 2>&1 || return 1
    cmp -s "$src/SNAPSHOT" "$dest/SNAPSHOT" || return 1
    local ct now
    ct=$(git -C "$dest" log -1 --format=%ct) || return 1
    now=$(date +%s)
    [ $(( now - ct )) -lt $(( refresh_days * 86400 )) ] || return 1
}

if [ ! -f "$src/SNAPSHOT" ]; then
    if [ -d "$dest/.git" ]; then
        echo "advisory-db: $src not found; keeping existing $dest" >&2
        exit 0
    fi
    echo "advisory-db: $src/SNAPSHOT not found (set SHARED=/path/to/shared)" >&2
    exit 1
fi

if is_current; then
    echo "advisory-db: up to date ($dest)"
    exit 0
fi

echo "advisory-db: preparing $dest from $src"
mkdir -p "$root"
tmp=$(mktemp -d "$root/.tmp-$name.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The shared snapshot is read-only; make the copy writable so git (and a
# later refresh) can work on it even when not running as root.
cp -R "$src/." "$tmp/"
chmod -R u+w "$tmp"
chmod 755 "$tmp"
(
    cd "$tmp"
    git -c init.defaultBranch=main init -q
    git add -A
    git -c user.name=advisory-db -c user.email=advisory-db@localhost \
        -c commit.gpgsign=false -c core.hooksPath=/dev/null \
        commit -q --no-verify -m "RustSec advisory-db snapshot" \
        -m "$(head -n 1 SNAPSHOT)"
)
if [ -e "$dest" ]; then
    chmod -R u+w "$dest"
    rm -rf "$dest"
fi
mv "$tmp" "$dest"
trap - EXIT
echo "advisory-db: ready ($(git -C "$dest" log -1 --format='%h %cI'))"
