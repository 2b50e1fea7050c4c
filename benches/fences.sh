#!/usr/bin/env bash
# Speed of `loci fences` on a 1,000,000-line AArch64 assembly file.
#
# The file is made by repeating loci's own filetest inputs
# (crates/fence/tests/asm/aarch64/{branches,adjacent,go_publication}.s)
# with renamed functions and labels: ~198,000 barriers, one every ~5
# lines — denser than compiler output, so the worst case for the
# analysis (every barrier is re-examined after each removal).
#
#   benches/fences.sh            # build, generate /tmp/loci-fences-1M.s, time 5 runs
#   LINES=200000 benches/fences.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
OUT=${OUT:-/tmp/loci-fences-1M.s}
cargo build --release -q -p loci
LOCI=${CARGO_TARGET_DIR:-target}/release/loci
python3 - "$LINES" "$OUT" <<'PY'
import re, sys
n, out = int(sys.argv[1]), sys.argv[2]
d = 'crates/fence/tests/asm/aarch64/'
src = ''.join(open(d + f).read() for f in ['branches.s', 'adjacent.s', 'go_publication.s'])
names = r'\b(diamond|one_arm|loop|numeric|f|alloc2|alloc_then_read)\b'
lines, i = [], 0
while len(lines) < n:
    t = re.sub(names, lambda m: f'{m.group(1)}_{i}', src)
    t = re.sub(r'\.L(\d+)', lambda m: f'.L{m.group(1)}_{i}', t)
    lines.extend(t.split('\n'))
    i += 1
open(out, 'w').write('\n'.join(lines[:n]) + '\n')
PY
echo "input: $(wc -l < "$OUT") lines, $(grep -c 'dmb' "$OUT") barriers"
"$LOCI" fences "$OUT" | tail -1
for i in 1 2 3 4 5; do
  /usr/bin/time -f "run $i: %U s user, %S s sys, %e s wall, %M KB max RSS" "$LOCI" fences "$OUT" > /dev/null
done
