#!/usr/bin/env python3
"""Summarizes a kmsd CPU profile: where the samples go, by layer, and what
the hot frames' children cost.

    perf record -F 499 -e cpu-clock --call-graph dwarf,16384 -p $(pidof kmsd) -- sleep 5
    perf script > kmsd.script
    scripts/perf_summary.py kmsd.script [--folded out.folded] [FRAME ...]

Prints the share of samples per layer (kernel, h2/hyper/tonic, TLS, crypto,
allocator, kmsd's own code, ...) by leaf frame, then for every FRAME given
(a substring of a symbol, e.g. "Inner>::decide") its inclusive share and
its children's. With --folded, also writes folded stacks (one
`frame;frame;... count` line per distinct stack) for a flame graph tool
such as inferno-flamegraph. Only the Python standard library is used.
"""

import collections
import re
import sys

FRAME = re.compile(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$")

# First match wins; tested against the leaf frame's symbol and its object.
LAYERS = [
    ("kernel (TCP, syscalls, scheduling)", lambda s, o: "kernel" in o),
    ("allocator", lambda s, o: re.search(r"malloc|free|_int_|realloc|unlink_chunk|tcache", s)),
    ("memcpy/memmove", lambda s, o: re.search(r"mem(move|cpy|set|cmp)", s)),
    ("libc (other)", lambda s, o: "libc" in o),
    ("HTTP/2 (h2, hyper)", lambda s, o: re.search(r"\bh2::|hyper", s)),
    ("TLS (rustls)", lambda s, o: "rustls" in s),
    ("crypto (ring, aes-gcm)", lambda s, o: re.search(r"ring::|aes|gcm|ghash|sha256|_gfmul|ChaCha", s, re.I)),
    ("gRPC (tonic, tower, axum, prost)", lambda s, o: re.search(r"tonic|tower|axum|prost", s)),
    ("tokio", lambda s, o: "tokio" in s or "mio::" in s),
    ("hashing / hash maps", lambda s, o: re.search(r"hash", s, re.I)),
    ("kmsd: authorization", lambda s, o: "kmsd::authz" in s or "kmsd::kms::authz" in s),
    ("kmsd: other", lambda s, o: "kmsd::" in s),
    ("other", lambda s, o: True),
]


def read_stacks(path):
    stacks, cur = [], []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if cur:
                    stacks.append(cur)
                    cur = []
                continue
            m = FRAME.match(line)
            if m:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
                cur.append((sym, m.group(2)))
    if cur:
        stacks.append(cur)
    return stacks  # each leaf-first


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    path, rest = argv[1], argv[2:]
    folded_out = None
    if "--folded" in rest:
        i = rest.index("--folded")
        folded_out = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    stacks = read_stacks(path)
    total = len(stacks)
    if not total:
        raise SystemExit("no samples")
    layers = collections.Counter()
    for st in stacks:
        sym, obj = st[0]
        for name, test in LAYERS:
            if test(sym, obj):
                layers[name] += 1
                break
    print(f"{total} samples; by leaf frame:")
    for name, n in layers.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    for target in rest:
        children = collections.Counter()
        n = 0
        for st in stacks:
            idx = [i for i, (s, _) in enumerate(st) if target in s]
            if not idx:
                continue
            n += 1
            i = max(idx)  # the outermost occurrence
            children[st[i - 1][0] if i > 0 else "(self)"] += 1
        print(f"\n{100 * n / total:.1f}% in {target}; its children:")
        for child, c in children.most_common(12):
            print(f"  {100 * c / total:5.1f}%  {child[:110]}")
    if folded_out:
        folded = collections.Counter(";".join(s for s, _ in reversed(st)) for st in stacks)
        with open(folded_out, "w") as f:
            for stack, c in folded.items():
                f.write(f"{stack} {c}\n")


if __name__ == "__main__":
    main(sys.argv)
