# kmsd build / CI entry points.  CI runs `.ci/run`, which is `make test`.
#
#   make deps        install what the build needs, skipping anything present:
#                    apt libclang-dev + protobuf-compiler, cargo-deny, and the
#                    offline RustSec advisory DB (copied from $(SHARED)/advisory-db
#                    into $(ADVISORY_DB_ROOT), see scripts/advisory-db.sh)
#   make build       cargo build --release --workspace --bins: kmsd, kmsctl,
#                    kms-bench (RocksDB's C++ compiled once, optimized, and
#                    kept: rocksdb-prebuilt-release)
#   make run         deps + build, then a dev daemon in the foreground
#                    (DATA=./data LISTEN=127.0.0.1:7878; prints how to call it)
#   make lint        rustfmt check + clippy -D warnings over the whole workspace
#                    (cargo aliases fmt-check and lint from .cargo/config.toml,
#                    so local == CI)
#   make deny        cargo deny --offline check advisories licenses bans sources
#   make test        deps, lint, deny, then the workspace's binaries and cargo
#                    test --locked --workspace (unit + doc tests of every crate
#                    + the tests/it integration binary); fails on any failure
#   make bench       deps + build, then the standard benchmark suite
#                    (scripts/bench_suite.py): kmsd vs the no-op baseline,
#                    1,000,000 keys / 50,000 grants / 32 KB policy, restart
#                    time, memory, the issue-12 asymmetric/HMAC runs against
#                    the crypto ceiling (Sign/Verify ECC_NIST_P256,
#                    GenerateMac HMAC_256, Sign RSA_2048) and CreateKey
#                    latency per key spec, criterion micro-benchmarks; writes
#                    target/bench/latest.md (BENCH_* variables: see the script)
#   make bench-hsm   deps + build, then scripts/bench-hsm.sh: a two-node
#                    hsm-sim cluster and a kmsd using it on this host,
#                    GenerateDataKey and Decrypt with a local key and with an
#                    HSM-backed key (kms-bench --custom-key-store-id); prints
#                    and writes target/bench/hsm-latest.md (BENCH_* variables:
#                    see the script)
#   make demo-multi-region
#                    debug build of kmsd + kmsctl, then
#                    scripts/multi-region-demo.sh: three Regions (us-east-1,
#                    us-west-2, eu-west-1) on loopback, a multi-Region key
#                    created, replicated twice, used across Regions, its
#                    primary moved and rotated; everything stopped at the end
#                    (DEMO_ARGS=--keep-running leaves the Regions serving)
#   make bench-multi-region
#                    deps + build, then scripts/bench-multi-region.sh: the
#                    demo's three Regions, kms-bench replication-lag (lag of
#                    RotateKeyOnDemand and ReplicateKey under GenerateDataKey
#                    load; cross-Region vs same-Region Decrypt); writes
#                    target/bench/multi-region-latest.md
#   make clean-data  rm -rf $(DATA)
#
# Overridable: SHARED (default ../shared beside the repo), DATA, LISTEN,
# CARGO, CARGO_DENY_VERSION, ADVISORY_DB_ROOT.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
# Targets run in the order listed even under `make -j`.
.NOTPARALLEL:

CARGO              ?= cargo
SHARED             ?= $(abspath $(CURDIR)/../shared)
DATA               ?= ./data
LISTEN             ?= 127.0.0.1:7878
APT_PACKAGES       := libclang-dev protobuf-compiler openssl
CARGO_DENY_VERSION ?= 0.20.2
# Parent of advisory-db-3157b0e258782691; deny.toml reads it from
# $KMSD_ADVISORY_DB_ROOT (falling back to .tools/advisory-dbs relative to CWD).
ADVISORY_DB_ROOT   ?= $(CURDIR)/.tools/advisory-dbs
export KMSD_ADVISORY_DB_ROOT := $(ADVISORY_DB_ROOT)

# RocksDB's C++ is most of a clean build, and cargo compiles it once per
# distinct fingerprint: clippy's check build and the test build differ, so a
# clean `make test` would compile it twice. `rocksdb-prebuilt` compiles it
# once (for the dev profile) and keeps the static library, keyed by the
# locked librocksdb-sys version; lint and tests then link it through
# librocksdb-sys's ROCKSDB_LIB_DIR / ROCKSDB_STATIC instead of recompiling.
ROCKSDB_SYS_VERSION := $(shell sed -n '/^name = "librocksdb-sys"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)
ROCKSDB_PREBUILT    := $(CURDIR)/target/rocksdb-prebuilt/$(ROCKSDB_SYS_VERSION)
CARGO_RDB           := ROCKSDB_LIB_DIR=$(ROCKSDB_PREBUILT) ROCKSDB_STATIC=1 $(CARGO)
# The same for optimized builds: the release binaries and `cargo bench`
# (whose profile fingerprints librocksdb-sys differently again) link one
# optimized library.
ROCKSDB_PREBUILT_RELEASE := $(ROCKSDB_PREBUILT)-release
RDB_RELEASE_ENV          := ROCKSDB_LIB_DIR=$(ROCKSDB_PREBUILT_RELEASE) ROCKSDB_STATIC=1

.PHONY: deps apt-deps cargo-deny advisory-db rocksdb-prebuilt rocksdb-prebuilt-release build run lint deny test bench bench-hsm demo-multi-region bench-multi-region clean-data

deps: apt-deps cargo-deny advisory-db

apt-deps:
	./scripts/apt-deps.sh $(APT_PACKAGES)

cargo-deny:
	@if $(CARGO) deny --version >/dev/null 2>&1; then \
		echo "cargo-deny: already installed ($$($(CARGO) deny --version))"; \
	else \
		echo "cargo-deny: installing $(CARGO_DENY_VERSION)"; \
		$(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION); \
	fi

advisory-db:
	./scripts/advisory-db.sh "$(SHARED)" "$(ADVISORY_DB_ROOT)"

build: rocksdb-prebuilt-release
	$(RDB_RELEASE_ENV) $(CARGO) build --locked --release --workspace --bins

run: deps build
	@echo "kmsd dev daemon: data in $(DATA), listening on $(LISTEN) (Ctrl-C to stop)"
	@echo "From another shell, e.g.:"
	@echo "  ./target/release/kmsctl --data-dir $(DATA) create-key --description demo"
	@echo "  ./target/release/kmsctl --data-dir $(DATA) generate-data-key --key-id <KeyId> --key-spec AES_256"
	@echo "(kmsctl --data-dir reads $(DATA)/certs/{ca.pem,client.pem,client.key} and $(DATA)/endpoint)"
	exec ./target/release/kmsd serve --dev --data-dir $(DATA) --listen $(LISTEN)

# Aliases (.cargo/config.toml):
#   fmt-check = fmt --all -- --check
#   lint      = clippy --workspace --all-targets --locked -- -D warnings
rocksdb-prebuilt:
	@if [ -f "$(ROCKSDB_PREBUILT)/librocksdb.a" ]; then \
		echo "rocksdb: using $(ROCKSDB_PREBUILT)/librocksdb.a"; \
	else \
		echo "rocksdb: compiling librocksdb-sys $(ROCKSDB_SYS_VERSION) once"; \
		env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC $(CARGO) build --locked -p librocksdb-sys; \
		lib=$$(ls -t target/debug/build/librocksdb-sys-*/out/librocksdb.a | head -1); \
		mkdir -p "$(ROCKSDB_PREBUILT)"; \
		cp "$$lib" "$(ROCKSDB_PREBUILT)/librocksdb.a.tmp"; \
		mv "$(ROCKSDB_PREBUILT)/librocksdb.a.tmp" "$(ROCKSDB_PREBUILT)/librocksdb.a"; \
	fi

rocksdb-prebuilt-release:
	@if [ -f "$(ROCKSDB_PREBUILT_RELEASE)/librocksdb.a" ]; then \
		echo "rocksdb: using $(ROCKSDB_PREBUILT_RELEASE)/librocksdb.a"; \
	else \
		echo "rocksdb: compiling librocksdb-sys $(ROCKSDB_SYS_VERSION) once (optimized)"; \
		env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC $(CARGO) build --locked --release -p librocksdb-sys; \
		lib=$$(ls -t target/release/build/librocksdb-sys-*/out/librocksdb.a | head -1); \
		mkdir -p "$(ROCKSDB_PREBUILT_RELEASE)"; \
		cp "$$lib" "$(ROCKSDB_PREBUILT_RELEASE)/librocksdb.a.tmp"; \
		mv "$(ROCKSDB_PREBUILT_RELEASE)/librocksdb.a.tmp" "$(ROCKSDB_PREBUILT_RELEASE)/librocksdb.a"; \
	fi

lint: rocksdb-prebuilt
	$(CARGO) fmt-check
	$(CARGO_RDB) lint

# cargo-deny runs `cargo metadata --offline`, so make sure the locked crates
# are downloaded first (a no-op when they are).
deny: cargo-deny advisory-db
	$(CARGO) fetch --locked
	$(CARGO) deny --offline check advisories licenses bans sources

# deny runs before the tests: it takes a second and fails fast, and this way
# the test runner's summary is the last thing CI prints. Doc tests run first
# for the same reason (they usually report 0 tests).
#
# The binaries are built first because tests/it runs kmsctl, which is
# another package's binary: cargo builds (and names in CARGO_BIN_EXE_*) only
# the tested package's own binaries, so tests/it/cli.rs finds kmsctl beside
# kmsd in the same target directory.
test: deps lint deny
	$(CARGO_RDB) build --locked --workspace --bins
	$(CARGO_RDB) test --locked --workspace --doc
	$(CARGO_RDB) test --locked --workspace --lib --bins --tests

bench: deps build
	$(RDB_RELEASE_ENV) python3 scripts/bench_suite.py

bench-hsm: deps build
	SKIP_BUILD=1 ./scripts/bench-hsm.sh

DEMO_ARGS ?=
demo-multi-region: rocksdb-prebuilt
	$(CARGO_RDB) build --locked -p kmsd -p kmsctl --bins
	KMSD_BIN_DIR=$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug ./scripts/multi-region-demo.sh $(DEMO_ARGS)

bench-multi-region: deps build
	SKIP_BUILD=1 ./scripts/bench-multi-region.sh

clean-data:
	rm -rf $(DATA)
