#!/usr/bin/env python3
"""Calls per request and inclusive Ir per request of each caller->callee edge
whose callee matches REGEX. Usage: cgcallers.py REQUESTS REGEX FILE..."""
import re, sys
from collections import defaultdict
req = int(sys.argv[1]); pat = re.compile(sys.argv[2])
edges = defaultdict(lambda: [0, 0])
for path in sys.argv[3:]:
    names = {}
    def name(spec):
        m = re.match(r'\((\d+)\)(?:\s+(.*))?$', spec.strip())
        if not m: return spec.strip()
        if m.group(2) is not None: names[m.group(1)] = m.group(2)
        return names.get(m.group(1), '?')
    fn = cfn = None; pending = None
    for s in open(path, errors='replace'):
        s = s.rstrip('\n')
        if not s: continue
        if s[0].isdigit() or s[0] in '+-*':
            if pending is not None:
                parts = s.split()
                if pat.search(cfn):
                    e = edges[(fn, cfn)]; e[0] += pending; e[1] += int(parts[1])
                pending = None
            continue
        if s.startswith('fn='): fn = name(s[3:])
        elif s.startswith('cfn='): cfn = name(s[4:])
        elif s.startswith('calls='): pending = int(s[6:].split()[0])
for (a, b), (n, c) in sorted(edges.items(), key=lambda kv: -kv[1][1]):
    if c / req >= 0.5:
        print(f"{n/req:7.3f} calls {c/req:8.1f} Ir  {a[:90]}  ->  {b[:70]}")
