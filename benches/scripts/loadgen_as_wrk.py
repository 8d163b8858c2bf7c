#!/usr/bin/env python3
"""Prints a loadgen JSON report in the words of wrk's report that
parse_result.py reads: "N requests in Ss" and the 99th percentile."""
import json
import sys

report = json.load(open(sys.argv[1]))
print(f"{report['requests']} requests in {report['duration_s']:.3f}s")
print(f" 99% {report['latency_us']['p99']}us")
