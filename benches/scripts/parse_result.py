#!/usr/bin/env python3
"""One CSV row from a wrk (or echo_client, in wrk's words) result file and
the server's CPU ticks around the run. Used through lib.sh's result_row."""
import re
import sys

path, rnd, server, mode, before, after, ticks = sys.argv[1:]
text = open(path).read()
m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
requests = int(m.group(1))
seconds = float(m.group(2)) * {"s": 1, "ms": 1e-3, "m": 60}[m.group(3)]
# wrk counts responses, so pipelined requests are counted one by one.
p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
p99_ms = float(p99.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[p99.group(2)] if p99 else float("nan")
cpu = (int(after) - int(before)) / int(ticks)
print(f"{rnd},{server},{mode},{requests},{seconds:.2f},{requests / seconds:.0f},{p99_ms:.3f},{cpu:.2f},{cpu / requests * 1e6:.3f}")
