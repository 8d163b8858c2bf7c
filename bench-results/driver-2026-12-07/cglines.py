#!/usr/bin/env python3
"""Self Ir per request by source line (file:line, inlined code at its own
source line) inside the functions whose symbol matches REGEX.
Usage: cglines.py REQUESTS REGEX FILE..."""
import re, sys
from collections import defaultdict
req = int(sys.argv[1]); pat = re.compile(sys.argv[2])
cost = defaultdict(int)
for path in sys.argv[3:]:
    names = {'fn': {}, 'fl': {}}
    def name(kind, spec):
        m = re.match(r'\((\d+)\)(?:\s+(.*))?$', spec.strip())
        if not m: return spec.strip()
        if m.group(2) is not None: names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1), '?')
    fn = fl = fi = None; line_no = 0; pending = False
    for raw in open(path, errors='replace'):
        s = raw.rstrip('\n')
        if not s: continue
        c = s[0]
        if c.isdigit() or c in '+-*':
            parts = s.split()
            p = parts[0]
            if p == '*': pass
            elif p[0] in '+-': line_no += int(p)
            else: line_no = int(p)
            if pending:
                pending = False; continue
            if len(parts) > 1 and fn and pat.search(fn):
                cost[(fn, fi or fl, line_no)] += int(parts[1])
            continue
        if s.startswith('fn='): fn = name('fn', s[3:]); fi = None
        elif s.startswith('fl='): fl = name('fl', s[3:]); fi = None
        elif s.startswith(('fi=', 'fe=')): fi = name('fl', s[3:])
        elif s.startswith(('cfi=', 'cfl=')): name('fl', s[4:])
        elif s.startswith('cfn='): name('fn', s[4:])
        elif s.startswith('calls='): pending = True
srcs = {}
def src(f, n):
    if f not in srcs:
        try: srcs[f] = open(f).read().split('\n')
        except Exception: srcs[f] = []
    L = srcs[f]
    return L[n-1].strip()[:90] if 0 < n <= len(L) else ''
byfn = defaultdict(list)
for (fn, f, n), v in cost.items(): byfn[fn].append((f, n, v))
for fn, rows in sorted(byfn.items(), key=lambda kv: -sum(r[2] for r in kv[1])):
    tot = sum(r[2] for r in rows) / req
    if tot < 0.5: continue
    print(f"=== {fn}: self {tot:.1f} Ir/req")
    for f, n, v in sorted(rows, key=lambda r: (r[0] or '', r[1])):
        if v / req >= 0.5:
            short = (f or '?').replace('/work/main/', '').replace('/tmp/before/', '').replace('/tmp/mid/', '')
            print(f"  {v/req:7.1f}  {short[-45:]}:{n}  {src(f, n)}")
