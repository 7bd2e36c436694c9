#!/usr/bin/env python3
"""kmsd's standard benchmark suite (`make bench`).

Runs the release binaries against a real kmsd on 127.0.0.1 and writes a
table of every issue-6 target, met or not:

  1. minimal case: a fresh store, one key, the default key policy, the
     account root calling. GenerateDataKey and Decrypt (AES_256, 3
     encryption-context pairs) at concurrency 64, each alternating with
     kms-bench's no-op baseline server (`--baseline`).
  2. bulk load: kmsd stopped, `kmsd create-keys` adds BENCH_KEYS keys.
  3. restart: kmsd started on that store; kms-bench `--wait-ready` times
     the first GenerateDataKey it serves (from kms-bench's own start, which
     is right after kmsd's spawn; the gap between the two is added).
  4. heavy case: on that store, one key with a BENCH_POLICY_BYTES key
     policy and ~BENCH_GRANTS grants, called by a grantee (a role that the
     policy names in every statement, so every statement's conditions are
     evaluated, and that only its grant allows). GenerateDataKey and
     Decrypt as in 1, with the baseline again.
  5. kmsd's peak resident memory (VmHWM) over its life since the restart.

Between 1 and 2, on the fresh store (issue 12): Sign ECC_NIST_P256,
Verify ECC_NIST_P256, GenerateMac HMAC_256 and Sign RSA_2048 at
concurrency 64, each alternating with the baseline and followed by
kms-bench's `--raw-crypto` run of the same primitive (ring, on as many
threads as this machine has cores), against the ceiling
1/(1/baseline + 1/raw); GetPublicKey, VerifyMac, GenerateDataKeyPair and
RSA Encrypt/Decrypt once each for the record; and CreateKey latency for
every key spec (BENCH_CREATE_KEYS keys each, one at a time).

Then, unless BENCH_MICRO=0, the criterion micro-benchmarks (short runs).

Settings (environment): BENCH_DURATION (10s), BENCH_WARMUP (2s),
BENCH_CONCURRENCY (64), BENCH_CONNECTIONS (2), BENCH_ROUNDS (4),
BENCH_KEYS (1000000), BENCH_GRANTS (50000), BENCH_POLICY_BYTES (32768),
BENCH_MICRO (1), BENCH_ASYM (1: the issue-12 runs), BENCH_CREATE_KEYS (5),
BENCH_REPEAT (3: each measured case runs that many
times and the run with the median service/baseline ratio is reported),
BENCH_OUT (target/bench). Only the Python standard
library is used.
"""

import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
KMSD = RELEASE / "kmsd"
KMSCTL = RELEASE / "kmsctl"
KMS_BENCH = RELEASE / "kms-bench"
ACCOUNT = "111122223333"
GRANTEE = f"arn:aws:iam::{ACCOUNT}:role/kms-bench-grantee"
MAX_GRANTS_PER_KEY = 50_000

# The targets.
MIN_BASELINE_RATIO = 0.85
MAX_P99_RATIO = 1.5
MIN_HEAVY_RATIO = 0.90
MAX_READY_MS = 2000.0
MAX_RSS_MB = 512.0
MIN_CEILING_RATIO = 0.85

# Issue 12's targets: (operation, key spec), each at >= MIN_CEILING_RATIO of
# 1/(1/baseline + 1/raw crypto) at BENCH_CONCURRENCY.
ASYM_TARGETS = [("Sign", "ECC_NIST_P256"), ("Verify", "ECC_NIST_P256"),
                ("GenerateMac", "HMAC_256"), ("Sign", "RSA_2048")]
# Measured once each for the record (no target): (label, kms-bench flags).
ASYM_RECORD = [
    ("GetPublicKey ECC_NIST_P256", ["--operation", "GetPublicKey", "--key-spec", "ECC_NIST_P256"]),
    ("VerifyMac HMAC_256", ["--operation", "VerifyMac", "--key-spec", "HMAC_256"]),
    ("GenerateDataKeyPair ECC_NIST_P256", ["--operation", "GenerateDataKeyPair",
                                            "--key-pair-spec", "ECC_NIST_P256"]),
    ("GenerateDataKeyPair RSA_2048", ["--operation", "GenerateDataKeyPair",
                                       "--key-pair-spec", "RSA_2048"]),
    ("Encrypt RSA_2048 OAEP-SHA-256", ["--operation", "Encrypt", "--key-spec", "RSA_2048"]),
    ("Decrypt RSA_2048 OAEP-SHA-256", ["--operation", "Decrypt", "--key-spec", "RSA_2048",
                                        "--raw-crypto"]),
]
CREATE_KEY_SPECS = ["AES_256", "HMAC_256", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
                    "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "RSA_2048", "RSA_3072",
                    "RSA_4096", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ML_KEM_512",
                    "ML_KEM_768", "ML_KEM_1024"]


def env(name, default):
    return os.environ.get(name, default)


def env_int(name, default):
    return int(env(name, str(default)).replace("_", ""))


SETTINGS = {
    "duration": env("BENCH_DURATION", "10s"),
    "warmup": env("BENCH_WARMUP", "2s"),
    "concurrency": env_int("BENCH_CONCURRENCY", 64),
    "connections": env_int("BENCH_CONNECTIONS", 2),
    "rounds": env_int("BENCH_ROUNDS", 4),
    "keys": env_int("BENCH_KEYS", 1_000_000),
    "grants": min(env_int("BENCH_GRANTS", MAX_GRANTS_PER_KEY), MAX_GRANTS_PER_KEY),
    "policy_bytes": env_int("BENCH_POLICY_BYTES", 32768),
    "micro": env("BENCH_MICRO", "1") != "0",
    "asym": env("BENCH_ASYM", "1") != "0",
    "create_keys": max(env_int("BENCH_CREATE_KEYS", 5), 1),
    "repeat": max(env_int("BENCH_REPEAT", 3), 1),
}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Kmsd:
    """A `kmsd serve --dev` process on an ephemeral loopback port."""

    def __init__(self, data_dir, log_path, port=0):
        self.data_dir = data_dir
        endpoint = data_dir / "endpoint"
        if endpoint.exists():
            endpoint.unlink()
        self.log = open(log_path, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(KMSD), "serve", "--dev", "--data-dir", str(data_dir),
             "--listen", f"127.0.0.1:{port}"],
            stdout=self.log, stderr=self.log,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )

    def wait_endpoint(self, timeout=60.0):
        path = self.data_dir / "endpoint"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return path.read_text().strip()
            if self.proc.poll() is not None:
                raise SystemExit(f"kmsd exited with {self.proc.returncode}; see {self.log.name}")
            time.sleep(0.01)
        raise SystemExit("kmsd did not write its endpoint in time")

    def peak_rss_mb(self):
        """Peak resident set size (VmHWM) so far, MiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit("kmsd did not stop within 30 s of SIGTERM")
        self.log.close()
        if code != 0:
            raise SystemExit(f"kmsd exited with {code}; see {self.log.name}")


def free_port():
    """A loopback port free right now (for a kmsd whose endpoint must be
    known before it starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def kms_bench(data_dir, *extra, concurrency=None, connections=None, warmup=None):
    cmd = [KMS_BENCH, "--data-dir", data_dir, "--json", "--no-progress",
           "--concurrency", concurrency or SETTINGS["concurrency"],
           "--connections", connections or SETTINGS["connections"],
           "--warmup", warmup or SETTINGS["warmup"], *extra]
    out = run(cmd, stdout=subprocess.PIPE)
    report = json.loads(out.stdout)
    if report.get("errors"):
        log(f"warning: {report['errors']} errors: {report.get('errors_by_code')}")
    return report


def measured(data_dir, operation, *extra):
    return kms_bench(data_dir, "--operation", operation, "--context-pairs", 3,
                     "--duration", SETTINGS["duration"], "--baseline",
                     "--rounds", SETTINGS["rounds"], *extra)


def median_run(measure, key="ratio"):
    """Runs `measure` BENCH_REPEAT times; returns the run whose `key`
    (service/baseline ratio by default) is the median, with every run's
    ratio and throughput attached (`all_ratios`, `all_rps`)."""
    reports = [measure() for _ in range(SETTINGS["repeat"])]
    reports.sort(key=lambda r: r[key])
    mid = dict(reports[len(reports) // 2])
    mid["all_ratios"] = [r[key] for r in reports]
    mid["all_rps"] = [r["throughput_rps"] for r in reports]
    return mid


def asym_measured(data_dir, *flags):
    """An issue-12 run: the service alternating with the baseline, then
    the same primitive's raw crypto on this machine's cores."""
    return kms_bench(data_dir, *flags, "--duration", SETTINGS["duration"], "--baseline",
                     "--rounds", SETTINGS["rounds"], "--raw-crypto")


def asym_cases(data_dir, results):
    for op, spec in ASYM_TARGETS:
        results["asym"][f"{op} {spec}"] = median_run(
            lambda: asym_measured(data_dir, "--operation", op, "--key-spec", spec),
            key="ceiling_ratio")
    for label, flags in ASYM_RECORD:
        results["asym_record"][label] = kms_bench(
            data_dir, *flags, "--duration", SETTINGS["duration"], "--baseline",
            "--rounds", SETTINGS["rounds"])
    for spec in CREATE_KEY_SPECS:
        r = kms_bench(data_dir, "--operation", "DescribeKey", "--key-spec", spec,
                      "--keys", SETTINGS["create_keys"], "--requests", 1,
                      concurrency=1, connections=1, warmup="0s")
        results["create_key"][spec] = {k: r.get(k) for k in (
            "create_key_count", "create_key_p50_ms", "create_key_mean_ms", "create_key_max_ms")}


def asym_table(results):
    rows = ["| target | measured | goal | result |", "|---|---|---|---|"]
    for name, r in results["asym"].items():
        rows.append(f"| {name} ({r.get('algorithm')}): throughput vs ceiling "
                    f"1/(1/baseline + 1/raw) | {r['throughput_rps']:.0f} vs "
                    f"{r['ceiling_rps']:.0f} rps = {r['ceiling_ratio']:.2f} (baseline "
                    f"{r['baseline_throughput_rps']:.0f} rps, raw {r['raw_primitive']} "
                    f"{r['raw_throughput_rps']:.0f} op/s on {r['raw_threads']} threads) | "
                    f"≥ {MIN_CEILING_RATIO} | "
                    f"{verdict(r['ceiling_ratio'] >= MIN_CEILING_RATIO)} |")
    return "\n".join(rows)


def asym_detail_table(results):
    rows = ["| run | rps | p50 ms | p99 ms | errors | baseline rps | ratio | "
            "ceiling ratio of each repeat |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results["asym"].items():
        rows.append(f"| {name} | {r['throughput_rps']:.0f} | {r['p50_ms']:.2f} | "
                    f"{r['p99_ms']:.2f} | {r['errors']} | {r['baseline_throughput_rps']:.0f} | "
                    f"{r['ratio']:.2f} | {', '.join(f'{x:.2f}' for x in r['all_ratios'])} |")
    for name, r in results["asym_record"].items():
        once = (f"{r['ceiling_ratio']:.2f} (once; ceiling {r['ceiling_rps']:.0f} rps)"
                if r.get("ceiling_ratio") is not None else "(once)")
        rows.append(f"| {name} | {r['throughput_rps']:.0f} | {r['p50_ms']:.2f} | "
                    f"{r['p99_ms']:.2f} | {r['errors']} | {r['baseline_throughput_rps']:.0f} | "
                    f"{r['ratio']:.2f} | {once} |")
    return "\n".join(rows)


def create_key_table(results):
    rows = ["| key spec | keys | p50 ms | mean ms | max ms |", "|---|---|---|---|---|"]
    for spec, r in results["create_key"].items():
        rows.append(f"| {spec} | {r['create_key_count']} | {r['create_key_p50_ms']:.1f} | "
                    f"{r['create_key_mean_ms']:.1f} | {r['create_key_max_ms']:.1f} |")
    return "\n".join(rows)


def verdict(ok):
    return "met" if ok else "**not met**"


def table(results):
    s = SETTINGS
    rows = ["| target | measured | goal | result |", "|---|---|---|---|"]
    for op in ("GenerateDataKey", "Decrypt"):
        m = results["minimal"][op]
        rows.append(f"| {op}: throughput vs baseline (minimal case) | "
                    f"{m['throughput_rps']:.0f} vs {m['baseline_throughput_rps']:.0f} rps "
                    f"= {m['ratio']:.2f} | ≥ {MIN_BASELINE_RATIO} | "
                    f"{verdict(m['ratio'] >= MIN_BASELINE_RATIO)} |")
        rows.append(f"| {op}: p99 vs baseline p99 (minimal case) | "
                    f"{m['p99_ms']:.2f} vs {m['baseline_p99_ms']:.2f} ms "
                    f"= {m['p99_ratio']:.2f}× | ≤ {MAX_P99_RATIO}× | "
                    f"{verdict(m['p99_ratio'] <= MAX_P99_RATIO)} |")
    for op in ("GenerateDataKey", "Decrypt"):
        h = results["heavy"][op]
        m = results["minimal"][op]
        raw = h["throughput_rps"] / m["throughput_rps"]
        # The two runs are minutes apart; each is normalized by the
        # baseline measured alternately with it, which cancels the
        # machine's drift between them (the raw ratio is shown too).
        norm = h["ratio"] / m["ratio"]
        rows.append(f"| {op}: heavy case ({s['keys']:,} keys, {h['total_grants']:,} grants, "
                    f"{h['key_policy_bytes']:,} B policy, grantee) vs minimal | "
                    f"baseline-normalized {h['ratio']:.2f} / {m['ratio']:.2f} = {norm:.2f} "
                    f"(raw {h['throughput_rps']:.0f} / {m['throughput_rps']:.0f} rps = {raw:.2f}; "
                    f"p99 {h['p99_ms']:.2f} ms) | ≥ {MIN_HEAVY_RATIO} | "
                    f"{verdict(norm >= MIN_HEAVY_RATIO)} |")
    ready = results["restart"]["ready_ms"]
    rows.append(f"| first GenerateDataKey after restart on {s['keys']:,} keys | "
                f"{ready:.0f} ms | ≤ {MAX_READY_MS:.0f} ms | {verdict(ready <= MAX_READY_MS)} |")
    rss = results["peak_rss_mb"]
    rows.append(f"| kmsd peak RSS (restart, heavy runs) | {rss:.0f} MiB | < {MAX_RSS_MB:.0f} MiB | "
                f"{verdict(rss < MAX_RSS_MB)} |")
    return "\n".join(rows)


def detail_table(results):
    rows = ["| run | op | rps | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | "
            "baseline rps | baseline p99 ms | ratio of each repeat |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for case in ("minimal", "heavy"):
        for op, r in results[case].items():
            rows.append(f"| {case} | {op} | {r['throughput_rps']:.0f} | {r['p50_ms']:.2f} | "
                        f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | "
                        f"{r['errors']} | {r['baseline_throughput_rps']:.0f} | "
                        f"{r['baseline_p99_ms']:.2f} | "
                        f"{', '.join(f'{x:.2f}' for x in r['all_ratios'])} |")
    return "\n".join(rows)


def micro_table(since):
    """Criterion's point estimates (mean) from target/criterion, for the
    benchmarks run since `since` (epoch seconds)."""
    rows = ["| benchmark | mean |", "|---|---|"]
    base = ROOT / "target" / "criterion"
    for est in sorted(base.glob("**/new/estimates.json")):
        if est.stat().st_mtime < since:
            continue
        name = str(est.parent.parent.relative_to(base))
        mean_ns = json.loads(est.read_text())["mean"]["point_estimate"]
        if mean_ns >= 1e6:
            v = f"{mean_ns / 1e6:.2f} ms"
        elif mean_ns >= 1e3:
            v = f"{mean_ns / 1e3:.2f} µs"
        else:
            v = f"{mean_ns:.0f} ns"
        rows.append(f"| {name} | {v} |")
    return "\n".join(rows)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, {platform.platform()}"


def main():
    for b in (KMSD, KMSCTL, KMS_BENCH):
        if not b.exists():
            raise SystemExit(f"{b} is missing: run `make build` (make bench does)")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = Path(env("BENCH_OUT", str(ROOT / "target" / "bench"))) / stamp
    out_dir.mkdir(parents=True)
    data = Path(tempfile.mkdtemp(prefix="kmsd-bench-", dir=ROOT / "target"))
    kmsd_log = out_dir / "kmsd.log"
    results = {"settings": SETTINGS, "machine": machine(), "started": stamp,
               "minimal": {}, "heavy": {}, "asym": {}, "asym_record": {},
               "create_key": {}}
    log(f"settings {SETTINGS}; data dir {data}; results in {out_dir}")
    kmsd = None
    try:
        # 1. Minimal case.
        kmsd = Kmsd(data, kmsd_log)
        kmsd.wait_endpoint()
        key = json.loads(run([KMSCTL, "--data-dir", data, "create-key", "--description",
                              "bench suite heavy-case key"],
                             stdout=subprocess.PIPE).stdout)["KeyMetadata"]["KeyId"]
        for op in ("GenerateDataKey", "Decrypt"):
            results["minimal"][op] = median_run(lambda: measured(data, op))
        if SETTINGS["asym"]:
            asym_cases(data, results)
        kmsd.stop()

        # 2. Bulk load.
        t0 = time.monotonic()
        run([KMSD, "create-keys", "--dev", "--data-dir", data, "--count", SETTINGS["keys"],
             "--description", "bench suite bulk"])
        results["bulk_load_s"] = time.monotonic() - t0

        # 3. Restart. kms-bench starts right after kmsd's spawn, before kmsd
        # has written its endpoint file, so the port is fixed beforehand.
        port = free_port()
        kmsd = Kmsd(data, kmsd_log, port)
        gap_ms = (time.monotonic() - kmsd.started) * 1000.0
        results["restart"] = kms_bench(data, "--endpoint-url", f"https://127.0.0.1:{port}",
                                       "--wait-ready", "60s", "--key-id", key,
                                       "--requests", 1, "--context-pairs", 3,
                                       concurrency=1, connections=1, warmup="0s")
        # From kmsd's spawn, not kms-bench's start.
        results["restart"]["ready_ms"] += gap_ms
        kmsd.wait_endpoint()

        # 4. Heavy case. kmsd's limit is 50,000 grants per key; each run
        # adds one grant for the grantee, so the first run's fillers leave
        # room for both.
        grantee_dir = data / "grantee"
        run([KMSD, "certs", "issue-client", "--data-dir", data, "--principal", GRANTEE,
             "--out", grantee_dir], stdout=subprocess.DEVNULL)
        runs = 2 * SETTINGS["repeat"]
        fillers = max(SETTINGS["grants"] - runs, 0)
        total = 0

        def heavy_run(op):
            nonlocal total
            first = total == 0
            extra = ["--key-id", key, "--keep-keys",
                     "--grantee-cert", grantee_dir / "client.pem",
                     "--grantee-key", grantee_dir / "client.key",
                     "--key-policy-bytes", SETTINGS["policy_bytes"],
                     "--grants", fillers if first else 0]
            r = measured(data, op, *extra)
            total += (fillers if first else 0) + 1
            r["total_grants"] = total
            return r

        for op in ("GenerateDataKey", "Decrypt"):
            results["heavy"][op] = median_run(lambda: heavy_run(op))

        # 5. Memory.
        results["peak_rss_mb"] = kmsd.peak_rss_mb()
        kmsd.stop()
    finally:
        if kmsd is not None and kmsd.proc.poll() is None:
            kmsd.proc.kill()
            kmsd.proc.wait()
        if env("BENCH_KEEP_DATA", "0") == "0":
            shutil.rmtree(data, ignore_errors=True)

    if SETTINGS["micro"]:
        micro_started = time.time()
        run(["cargo", "bench", "--locked", "--bench", "micro", "--",
             "--warm-up-time", "1", "--measurement-time", "2"])
        results["micro"] = micro_table(micro_started)

    md = [f"# kmsd benchmark suite, {stamp}", "",
          f"Machine: {machine()}. Client and server on the same host.",
          f"Settings: {json.dumps(SETTINGS)}.",
          f"Bulk load of {SETTINGS['keys']:,} keys: {results['bulk_load_s']:.1f} s.", "",
          "## Targets", "", table(results), "",
          "## Runs", "", detail_table(results), ""]
    if results["asym"]:
        md += ["## Asymmetric and HMAC (issue 12): kmsd vs the crypto ceiling", "",
               asym_table(results), "", asym_detail_table(results), "",
               f"## CreateKey latency per key spec ({SETTINGS['create_keys']} keys each, "
               "one at a time, fresh store)", "", create_key_table(results), ""]
    if "micro" in results:
        md += ["## Criterion micro-benchmarks (short runs)", "", results["micro"], ""]
    text = "\n".join(md)
    (out_dir / "results.md").write_text(text)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    latest = out_dir.parent / "latest.md"
    latest.write_text(text)
    print(text)
    log(f"written {out_dir / 'results.md'} and {latest}")


if __name__ == "__main__":
    main()
