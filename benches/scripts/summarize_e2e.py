#!/usr/bin/env python3
"""Summarises run-e2e.sh and run-e2e-loops.sh: per mode, loopcore against
every other server of the run as ratios per round (throughput: loopcore /
baseline; CPU per request: loopcore / baseline, lower is better), then
median, min and max over rounds."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault((r["mode"], r["server"]), {})[r["round"]] = r

print("| mode | baseline | loopcore req/s | baseline req/s | req/s ratio (median, min-max) | loopcore CPU/req | baseline CPU/req | CPU/req ratio (median, min-max) | p99 loopcore / baseline |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for mode in sorted({m for m, _ in by}):
    ours = by.get((mode, "loopcore"), {})
    for base in sorted({s for m, s in by if m == mode and s != "loopcore"}):
        theirs = by.get((mode, base), {})
        rounds = sorted(set(ours) & set(theirs))
        if not rounds:
            continue
        tput = [float(ours[r]["req_per_s"]) / float(theirs[r]["req_per_s"]) for r in rounds]
        cpu = [float(ours[r]["cpu_us_per_req"]) / float(theirs[r]["cpu_us_per_req"]) for r in rounds]
        med = lambda key, d: statistics.median(float(d[r][key]) for r in rounds)
        print(
            f"| {mode} | {base} | {med('req_per_s', ours):,.0f} | {med('req_per_s', theirs):,.0f} | "
            f"{statistics.median(tput):.2f}x ({min(tput):.2f}-{max(tput):.2f}) | "
            f"{med('cpu_us_per_req', ours):.2f} us | {med('cpu_us_per_req', theirs):.2f} us | "
            f"{statistics.median(cpu):.2f}x ({min(cpu):.2f}-{max(cpu):.2f}) | "
            f"{med('p99_ms', ours):.2f} / {med('p99_ms', theirs):.2f} ms |"
        )
