#!/usr/bin/env python3
"""Diff two cgfuncs.py tables: per-request self and inclusive Ir by function.
Usage: cgdiff.py A.tsv B.tsv [N]"""
import sys
def load(p):
    d = {}
    for line in open(p):
        if line.startswith('#') or line.startswith('self/req'):
            continue
        s, i, c, name = line.rstrip('\n').split('\t', 3)
        d[name] = (float(s), float(i), float(c))
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 40
keys = set(a) | set(b)
z = (0.0, 0.0, 0.0)
rows = [(k, a.get(k, z), b.get(k, z)) for k in keys]
print("== by self Ir/request delta (B - A) ==")
print(f"{'dself':>8} {'selfA':>8} {'selfB':>8} {'callsA':>7} {'callsB':>7}  function")
for k, x, y in sorted(rows, key=lambda r: -abs(r[2][0] - r[1][0]))[:n]:
    print(f"{y[0]-x[0]:8.1f} {x[0]:8.1f} {y[0]:8.1f} {x[2]:7.3f} {y[2]:7.3f}  {k[:150]}")
print()
print("== by inclusive Ir/request delta (B - A) ==")
print(f"{'dincl':>8} {'inclA':>8} {'inclB':>8}  function")
for k, x, y in sorted(rows, key=lambda r: -abs(r[2][1] - r[1][1]))[:n]:
    print(f"{y[1]-x[1]:8.1f} {x[1]:8.1f} {y[1]:8.1f}  {k[:150]}")
