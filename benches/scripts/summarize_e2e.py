#!/usr/bin/env python3
"""Summarises run-e2e.sh and run-e2e-loops.sh: per mode, loopcore against
every other server of the run as ratios per round (throughput: loopcore /
baseline; CPU per request: loopcore / baseline, lower is better), then
median, min and max over rounds."""
import csv
import os
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

# run-paired.sh keys rounds as "N/baseline": the two servers of a key shared
# CPU 0, and their CPU time over the run against their fair share of it
# (PAIRED_FAIR_SHARE) says whether each was the bottleneck of its client.
paired = {}
for r in rows:
    if "/" in r["round"]:
        cpu, secs = paired.get((r["round"], r["mode"]), (0.0, 0.0))
        paired[(r["round"], r["mode"])] = (cpu + float(r["server_cpu_s"]), max(secs, float(r["seconds"])))
if paired:
    busy = [cpu / secs for cpu, secs in paired.values()]
    fair = float(os.environ.get("PAIRED_FAIR_SHARE", "1"))
    print()
    print(
        f"The pair's share of CPU 0: median {statistics.median(busy):.0%} "
        f"(min {min(busy):.0%}, max {max(busy):.0%}) of each run's wall time; "
        f"its fair share was {fair:.0%}"
    )
