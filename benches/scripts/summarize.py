#!/usr/bin/env python3
"""Summarises run-micro.sh output: for each benchmark, loopcore's median time
against each baseline of the same group in the same round, as a rate ratio
(baseline time / loopcore time: above 1.0 means loopcore is faster), then the
median, min and max of that ratio over the rounds."""
import json
import pathlib
import statistics
import sys

# Criterion turns "variant/impl" function ids into "variant_impl" directory
# names, so the implementation is recognised by its suffix.
IMPLS = ["loopcore", "bare_vecdeque", "bare_binaryheap", "raw_wake_every_message", "raw_coalesced"]

root = pathlib.Path(sys.argv[1])
rounds = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("round-"))
# times[(group, variant)][impl] = [median ns per round]
times = {}
for rnd in rounds:
    for f in rnd.glob("*.json"):
        group, _, function = f.stem.partition("__")
        impl = next((i for i in IMPLS if function.endswith(i)), None)
        if impl is None:
            print(f"skipping {f}: unknown implementation", file=sys.stderr)
            continue
        variant = function[: -len(impl)].rstrip("_")
        ns = json.loads(f.read_text())["median"]["point_estimate"]
        times.setdefault((group, variant), {}).setdefault(impl, []).append(ns)

def fmt(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"

print(f"rounds: {len(rounds)}\n")
print("| benchmark | baseline | loopcore (median) | baseline (median) | ratio median | min | max |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (group, variant), impls in sorted(times.items()):
    if "loopcore" not in impls:
        continue
    ours = impls["loopcore"]
    for base, theirs in sorted(impls.items()):
        if base == "loopcore":
            continue
        n = min(len(ours), len(theirs))
        ratios = [theirs[i] / ours[i] for i in range(n)]
        name = f"{group}/{variant}" if variant else group
        print(
            f"| {name} | {base} | {fmt(statistics.median(ours))} | "
            f"{fmt(statistics.median(theirs))} | {statistics.median(ratios):.2f}x | "
            f"{min(ratios):.2f}x | {max(ratios):.2f}x |"
        )
