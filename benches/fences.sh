#!/usr/bin/env bash
# Speed of `loci fences` on a 1,000,000-line AArch64 assembly file.
#
# Two inputs:
#  - real (when aarch64-linux-gnu-gcc is installed): gcc -O2 -S output of
#    examples/fences/*.c, repeated with renamed symbols and labels up to
#    1M lines (~11,000 barriers: compiler output of barrier-heavy code);
#  - dense: loci's own filetest inputs
#    (crates/fence/tests/asm/aarch64/{branches,adjacent,go_publication}.s)
#    repeated the same way: ~198,000 barriers, one every ~5 lines — far
#    denser than any compiler output, the worst case for the analysis.
#
#   benches/fences.sh                 # both inputs, 5 timed runs each
#   LINES=200000 benches/fences.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
cargo build --release -q -p loci
LOCI=${CARGO_TARGET_DIR:-target}/release/loci
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# repeat OUT FILES...: FILES concatenated, repeated to $LINES lines with
# every symbol and local label renamed per copy.
repeat() {
  local out=$1
  shift
  python3 - "$LINES" "$out" "$@" <<'PY'
import re, sys
n, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
src = ''.join(open(f).read() for f in files)
syms = sorted(set(re.findall(r'^([A-Za-z_][\w.]*):', src, re.M)), key=len, reverse=True)
pat = re.compile(r'\b(' + '|'.join(map(re.escape, syms)) + r')\b')
lines, i = [], 0
while len(lines) < n:
    t = pat.sub(lambda m: f'{m.group(1)}_{i}', src)
    t = re.sub(r'\.L(\w+)', lambda m: f'.L{m.group(1)}_{i}', t)
    lines.extend(t.split('\n'))
    i += 1
open(out, 'w').write('\n'.join(lines[:n]) + '\n')
PY
}

time_it() {
  local name=$1 file=$2
  echo "== $name: $(wc -l < "$file") lines, $(grep -c 'dmb' "$file") barriers"
  "$LOCI" fences --arch aarch64 "$file" | tail -1
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "run $i: %U s user, %S s sys, %e s wall, %M KB max RSS" \
      "$LOCI" fences --arch aarch64 "$file" > /dev/null
  done
}

if command -v aarch64-linux-gnu-gcc >/dev/null; then
  for f in examples/fences/*.c; do
    aarch64-linux-gnu-gcc -O2 -S -mno-outline-atomics "$f" -o "$TMP/$(basename "$f" .c).s"
  done
  repeat "$TMP/real.s" "$TMP"/*.s
  time_it "real (gcc -O2 -S of examples/fences, repeated)" "$TMP/real.s"
else
  echo "aarch64-linux-gnu-gcc not found: skipping the compiler-output input"
fi
d=crates/fence/tests/asm/aarch64
repeat "$TMP/dense.s" $d/branches.s $d/adjacent.s $d/go_publication.s
time_it "dense (loci's filetests, repeated)" "$TMP/dense.s"
