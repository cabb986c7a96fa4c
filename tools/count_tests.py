#!/usr/bin/env python3
"""Sums a meson test log into one line "N passed, N failed[, N skipped]".

Criterion programs count each of their tests (from their "Synthesis" line); other test programs count
once. Exits 1 if anything failed or a test program crashed without a synthesis line.
"""
import json
import re
import sys

passed = failed = skipped = 0
synth = re.compile(r'Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)')
with open(sys.argv[1], encoding='utf-8') as log:
    for line in log:
        entry = json.loads(line)
        out = (entry.get('stdout') or '') + (entry.get('stderr') or '')
        ok = entry.get('result') == 'OK'
        m = synth.search(out)
        if m:
            tested, passing, failing, crashing = map(int, m.groups())
            passed += passing
            failed += failing + crashing
            skipped += len(re.findall(r'\[SKIP\]', out))
            if not ok and failing + crashing == 0:
                failed += 1  # the program failed outside any test (setup, timeout)
        elif entry.get('result') == 'SKIP':
            skipped += 1
        else:
            passed += ok
            failed += not ok
line = f'{passed} passed, {failed} failed'
if skipped:
    line += f', {skipped} skipped'
print(line)
sys.exit(1 if failed else 0)
