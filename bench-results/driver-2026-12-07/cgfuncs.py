#!/usr/bin/env python3
"""Per-function Ir (self and inclusive) from callgrind dumps, per request.
Aggregates by function symbol (callgrind's fn=, so inlined code counts in the
function it was inlined into), summing all parts given. Inclusive = self +
cost of calls made (callgrind's call cost lines; recursion is not corrected,
as in callgrind_annotate). Calls with calls=0 (in flight at the zeroing) are
counted as call cost, not self.
Usage: cgfuncs.py REQUESTS FILE... > table (tab separated: self/req incl/req calls/req name)
"""
import re, sys
from collections import defaultdict

def parse(path, selfc, incl, calls):
    names = {}
    def name(spec):
        m = re.match(r'\((\d+)\)(?:\s+(.*))?$', spec.strip())
        if not m:
            return spec.strip()
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), '?' + m.group(1))
    fn = None
    pending_call = None
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in '+-*':
                parts = line.split()
                if len(parts) < 2:
                    continue
                cost = int(parts[1])
                if pending_call is not None:
                    incl[fn] += cost
                    calls[pending_call[0]] += pending_call[1]
                    pending_call = None
                else:
                    selfc[fn] += cost
                    incl[fn] += cost
                continue
            if line.startswith('fn='):
                fn = name(line[3:])
            elif line.startswith('cfn='):
                cfn = name(line[4:])
            elif line.startswith('calls='):
                n = int(line[6:].split()[0])
                pending_call = (cfn, n)
            elif line.startswith(('fl=', 'fi=', 'fe=', 'cfi=', 'cfl=', 'ob=', 'cob=')):
                # keep name compression tables per kind separate: only fn names matter
                pass

def main():
    req = int(sys.argv[1])
    selfc, incl, calls = defaultdict(int), defaultdict(int), defaultdict(int)
    for p in sys.argv[2:]:
        parse(p, selfc, incl, calls)
    total = sum(selfc.values())
    print(f"# total Ir {total}  requests {req}  Ir/req {total/req:.1f}")
    print("self/req\tincl/req\tcalls/req\tfunction")
    for k in sorted(incl, key=lambda k: -incl[k]):
        if incl[k] / req < 0.05:
            continue
        print(f"{selfc[k]/req:.2f}\t{incl[k]/req:.2f}\t{calls[k]/req:.3f}\t{k}")

main()
