#!/usr/bin/env python3
"""One CSV row of run-loadgen.sh from a wrk text report or a loadgen JSON
report (each followed by a client_cpu_s= line) and the server's CPU ticks
around the run."""
import json
import re
import sys

path, rnd, server, client, before, after, ticks = sys.argv[1:]
text = open(path).read()
cpu = float(re.search(r"client_cpu_s=([\d.]+)", text).group(1))
unit = {"us": 1, "ms": 1e3, "s": 1e6}
if client == "wrk":
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    requests = int(m.group(1))
    seconds = float(m.group(2)) * {"s": 1, "ms": 1e-3, "m": 60}[m.group(3)]
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
    p50_us = float(p50.group(1)) * unit[p50.group(2)]
    p99_us = float(p99.group(1)) * unit[p99.group(2)]
else:
    report = json.loads(text[: text.rindex("}") + 1])
    requests = report["requests"]
    seconds = report["duration_s"]
    p50_us = report["latency_us"]["p50"]
    p99_us = report["latency_us"]["p99"]
server_share = (int(after) - int(before)) / int(ticks) / seconds
print(f"{rnd},{server},{client},{requests},{seconds:.2f},{requests / seconds:.0f},"
      f"{p50_us:.0f},{p99_us:.0f},{cpu:.3f},{cpu / requests * 1e6:.3f},{server_share:.2f}")
