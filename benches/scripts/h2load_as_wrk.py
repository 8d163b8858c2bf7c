#!/usr/bin/env python3
"""Prints an h2load report in the words of wrk's report that
parse_result.py reads: "N requests in Ss" (succeeded requests over the
measured time). h2load gives no percentiles, so there is no 99% line."""
import re
import sys

text = open(sys.argv[1]).read()
seconds = float(re.search(r"finished in ([\d.]+)s", text).group(1))
succeeded = int(re.search(r"requests: .*?(\d+) succeeded", text).group(1))
failed = int(re.search(r"(\d+) failed", text).group(1))
if failed:
    sys.exit(f"{sys.argv[1]}: {failed} requests failed")
print(f"{succeeded} requests in {seconds:.3f}s")
