#!/usr/bin/env python3
"""Summarises run-loadgen.sh: per server, loadgen against wrk as ratios
per round (req/s, p50, client CPU per request), then median, min and max
over rounds, with the server's CPU share under each client."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault((r["server"], r["client"]), {})[r["round"]] = r


def spread(values):
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


print("| server | loadgen req/s | wrk req/s | req/s ratio | p50 ratio | client CPU/req ratio | server CPU share (loadgen / wrk) |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for server in sorted({s for s, _ in by}):
    ours, theirs = by.get((server, "loadgen"), {}), by.get((server, "wrk"), {})
    rounds = sorted(set(ours) & set(theirs))
    if not rounds:
        continue
    ratio = lambda key: [float(ours[r][key]) / max(float(theirs[r][key]), 1e-9) for r in rounds]
    med = lambda d, key: statistics.median(float(d[r][key]) for r in rounds)
    print(
        f"| {server} | {med(ours, 'rps'):,.0f} | {med(theirs, 'rps'):,.0f} | {spread(ratio('rps'))} | "
        f"{spread(ratio('p50_us'))} | {spread(ratio('client_us_per_req'))} | "
        f"{med(ours, 'server_cpu_share'):.2f} / {med(theirs, 'server_cpu_share'):.2f} |"
    )
