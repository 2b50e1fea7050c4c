#!/usr/bin/env bash
# Events per second of `loci sim` replaying large loci traces, single-
# threaded, end to end (file read, checksum, decode, MESI + NUMA + store
# buffer replay), then the replay alone (the loci-sim `replay` bench, traces
# generated in memory). See benches/README.md.
#
# Environment:
#   RUNS=N        timed runs per trace (default 5)
#   MACHINE=FILE  machine preset (default presets/xeon-gold-6242-2s.toml)
#   LOCI=PATH     time this loci binary instead of building one
#   NO_REPLAY_BENCH=1   skip `cargo bench -p loci-sim --bench replay`
#   CALLGRIND=1   also count instructions per event end to end with
#                 `valgrind --tool=callgrind` on traces a tenth as long
#                 (deterministic, unlike the times, on a shared machine)
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
machine="${MACHINE:-presets/xeon-gold-6242-2s.toml}"
die() { echo "benches/sim.sh: $*" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
[ -f "$machine" ] || die "no machine file $machine"

if [ -n "${LOCI:-}" ]; then
  loci="$LOCI"
else
  echo "== cargo build --release -p loci"
  cargo build --release -p loci
  loci="${CARGO_TARGET_DIR:-target}/release/loci"
fi
[ -x "$loci" ] || die "$loci is not an executable"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# name, then `loci sim --workload` arguments: about 10 M events each.
traces=(
  "capture-by-ref|--workload capture-by-ref --threads 4 --iters 50000 --object-size 4096"
  "producer-consumer|--workload producer-consumer --threads 4 --iters 1000000"
  "false-sharing|--workload false-sharing --threads 4 --iters 2500000"
  "publication|--workload publication --threads 4 --iters 200000 --object-size 256"
)

echo "== $loci, machine $machine, $runs runs per trace, $(nproc) cores ($(uname -m))"
echo "   (wall: elapsed seconds; CPU: user + system seconds of the process, the"
echo "   steadier figure on a shared machine; rates are events / median seconds)"
printf '%-20s %11s %5s %10s %10s %10s %10s %10s\n' trace events MB "wall med" "wall min" "CPU med" \
  "Mev/s wall" "Mev/s CPU"
TIMEFORMAT='%R %U %S'
median() { sort -g | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1] }'; }
for t in "${traces[@]}"; do
  name="${t%%|*}"
  # shellcheck disable=SC2086 # the workload arguments are a word list
  "$loci" sim ${t#*|} --emit-trace "$tmp/$name.locitrace" --json >"$tmp/emit.json"
  events=$(sed -n 's/.*"events": \([0-9]*\).*/\1/p' "$tmp/emit.json")
  mb=$(( $(stat -c %s "$tmp/$name.locitrace") / 1000000 ))
  : >"$tmp/times"
  for ((i = 1; i <= runs; i++)); do
    { time "$loci" sim --machine "$machine" --pin spread "$tmp/$name.locitrace" --json \
        >"$tmp/out.json"; } 2>>"$tmp/times"
  done
  read -r wmed wmin < <(awk '{ print $1 }' "$tmp/times" | median)
  read -r cmed _ < <(awk '{ print $2 + $3 }' "$tmp/times" | median)
  rate() { awk -v e="$events" -v m="$1" 'BEGIN { print (m > 0) ? e / m / 1e6 : 0 }'; }
  printf '%-20s %11d %5d %10.3f %10.3f %10.3f %10.1f %10.1f\n' "$name" "$events" "$mb" \
    "$wmed" "$wmin" "$cmed" "$(rate "$wmed")" "$(rate "$cmed")"
done

if [ -n "${CALLGRIND:-}" ]; then
  command -v valgrind >/dev/null || die "CALLGRIND=1 needs valgrind"
  echo
  echo "== instructions per event, end to end (callgrind; traces of a tenth of the iterations)"
  printf '%-20s %11s %16s %12s\n' trace events instructions "instr/event"
  for t in "${traces[@]}"; do
    name="${t%%|*}"
    # shellcheck disable=SC2086 # the workload arguments are a word list
    set -- ${t#*|}
    args=()
    while [ $# -gt 0 ]; do
      if [ "$1" = --iters ]; then args+=(--iters "$(( $2 / 10 ))"); shift 2; else args+=("$1"); shift; fi
    done
    "$loci" sim "${args[@]}" --emit-trace "$tmp/$name.small" --json >"$tmp/emit.json"
    events=$(sed -n 's/.*"events": \([0-9]*\).*/\1/p' "$tmp/emit.json")
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$loci" sim --machine "$machine" \
      --pin spread "$tmp/$name.small" --json >/dev/null 2>"$tmp/cg.log"
    instr=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/cg.log")
    printf '%-20s %11d %16d %12.1f\n' "$name" "$events" "$instr" \
      "$(awk -v i="$instr" -v e="$events" 'BEGIN { print (e > 0) ? i / e : 0 }')"
  done
fi

if [ -z "${NO_REPLAY_BENCH:-}" ]; then
  echo
  echo "== replay alone (cargo bench -p loci-sim --bench replay -- $runs)"
  cargo bench -q -p loci-sim --bench replay -- "$runs"
fi
