#!/usr/bin/env bash
# Times `loci litmus` on the herd7 catalogue in ../shared/litmus (read in
# place), single-threaded (-j 1) and on two threads (-j 2), and, when herd7 is
# available, herd7 on the same files single-threaded. See benches/README.md.
#
# Environment:
#   RUNS=N        timed runs of loci per set and -j (default 5)
#   HERD_RUNS=N   timed runs of herd7 per set (default 1: herd7 is slow)
#   HERD7=PATH    the herd7 binary (default: `herd7` on PATH; none: skipped)
#   HERDLIB=DIR   herd7's libdir (herdtools7's herd/libdir), when herd7 is
#                 not installed where it looks by default
#   NO_HERD=1     skip herd7 even when it is found
#   SETS="..."    which sets, among: aarch64 x86 c11 (default: all three)
#   LOCI=PATH     time this loci binary instead of building
#                 target/release/loci
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
herd_runs="${HERD_RUNS:-1}"
sets="${SETS:-aarch64 x86 c11}"
shared=../shared/litmus

die() { echo "benches/litmus.sh: $*" >&2; exit 1; }

[ -d "$shared" ] || die "$shared is absent: the herd7 catalogue must sit in ../shared/litmus beside the checkout (it is read in place, never copied)"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
[[ "$herd_runs" =~ ^[1-9][0-9]*$ ]] || die "HERD_RUNS must be a positive integer, not '$herd_runs'"

if [ -n "${LOCI:-}" ]; then
  loci="$LOCI"
else
  echo "== cargo build --release"
  cargo build --release
  loci=target/release/loci
fi
[ -x "$loci" ] || die "$loci is not an executable"

herd=""
if [ -z "${NO_HERD:-}" ]; then
  if [ -n "${HERD7:-}" ]; then
    [ -x "$HERD7" ] || die "HERD7=$HERD7 is not an executable"
    herd="$HERD7"
  elif command -v herd7 >/dev/null 2>&1; then
    herd="$(command -v herd7)"
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The directories of each set (loci gets directories, herd7 the files in them).
set_dirs() {
  case "$1" in
    aarch64) find "$shared/AARCH64" -mindepth 1 -maxdepth 1 -type d ! -name mixed | LC_ALL=C sort ;;
    x86) echo "$shared/X86" ;;
    c11) find "$shared/C11" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort ;;
    *) die "unknown set '$1' (known: aarch64 x86 c11)" ;;
  esac
}
set_label() {
  case "$1" in
    aarch64) echo "AArch64 (non-mixed)" ;;
    x86) echo "X86" ;;
    c11) echo "C11" ;;
  esac
}
# herd7's arguments per set: AArch64 and X86 take herd7's default model for
# the architecture (aarch64.cat, x86tso.cat); C is run under rc11.cat, as loci
# does (herd7's own default for C differs).
herd_args() {
  case "$1" in
    c11) echo "-model rc11.cat" ;;
    *) echo "" ;;
  esac
}

# time_cmd OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR and
# prints "wall cpu status" (seconds; cpu = user + sys of the command and its
# children).
time_cmd() {
  local out="$1" err="$2"
  shift 2
  local t status=0 TIMEFORMAT='%R %U %S'
  # `time` writes to the shell's stderr: capture it apart from the command's.
  t="$( { time "$@" >"$out" 2>"$err"; } 2>&1 )" || status=$?
  # With `set -e`, a failing command makes `t=$(...)` fail after printing.
  awk -v s="$status" '{ printf "%.3f %.3f %s\n", $1, $2 + $3, s }' <<<"$t"
}

# stats FILE: FILE holds one number per line; prints "median min max".
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

summary=()

# bench NAME TESTS NRUNS CMD...: NRUNS timed runs; prints each and the
# summary; leaves the median CPU and wall in $med_cpu, $med_wall.
bench() {
  local name="$1" tests="$2" n="$3"
  shift 3
  : >"$tmp/wall"
  : >"$tmp/cpu"
  echo "-- $name"
  local i wall cpu status
  for ((i = 1; i <= n; i++)); do
    read -r wall cpu status < <(time_cmd "$tmp/out" "$tmp/err" "$@")
    local errs
    errs=$(grep -c . "$tmp/err" || true)
    printf '   run %d: wall %8.3f s  cpu %8.3f s  exit %s%s\n' "$i" "$wall" "$cpu" "$status" \
      "$([ "$errs" -gt 0 ] && echo "  ($errs stderr lines, e.g. $(head -1 "$tmp/err" | cut -c1-100))")"
    echo "$wall" >>"$tmp/wall"
    echo "$cpu" >>"$tmp/cpu"
  done
  local wm wmin wmax cm cmin cmax
  read -r wm wmin wmax < <(stats "$tmp/wall")
  read -r cm cmin cmax < <(stats "$tmp/cpu")
  local obs
  obs=$(grep -c '^Observation ' "$tmp/out" || true)
  printf '   median wall %.3f s (min %.3f, max %.3f, spread %.1f%%)  median cpu %.3f s (min %.3f, max %.3f)\n' \
    "$wm" "$wmin" "$wmax" "$(awk -v a="$wmin" -v b="$wmax" -v m="$wm" 'BEGIN { print (m > 0) ? 100 * (b - a) / m : 0 }')" \
    "$cm" "$cmin" "$cmax"
  printf '   %d tests (%d Observation lines in the last run): %.0f tests/s wall, %.0f tests/s cpu\n' \
    "$tests" "$obs" \
    "$(awk -v t="$tests" -v w="$wm" 'BEGIN { print (w > 0) ? t / w : 0 }')" \
    "$(awk -v t="$tests" -v c="$cm" 'BEGIN { print (c > 0) ? t / c : 0 }')"
  summary+=("$(printf '%-20s %-17s %6d %10.3f %10.3f %9.1f' "$cur_label" "$name" "$tests" "$wm" "$cm" \
    "$(awk -v a="$wmin" -v b="$wmax" -v m="$wm" 'BEGIN { print (m > 0) ? 100 * (b - a) / m : 0 }')")")
  med_wall="$wm"
  med_cpu="$cm"
}

echo "== loci: $loci ($("$loci" --version 2>/dev/null || echo '?'))"
if [ -n "$herd" ]; then
  echo "== herd7: $herd ($("$herd" -version 2>/dev/null | head -1 || echo '?'))${HERDLIB:+, HERDLIB=$HERDLIB}"
else
  echo "== herd7: not found (set HERD7=/path/to/herd7 to compare), skipped"
fi
echo "== $runs runs per measurement; machine: $(nproc) cores, $(uname -m)"

for s in $sets; do
  mapfile -t dirs < <(set_dirs "$s")
  [ "${#dirs[@]}" -gt 0 ] || die "no directories for set $s under $shared"
  find "${dirs[@]}" -type f -name '*.litmus' | LC_ALL=C sort >"$tmp/files"
  ntests=$(wc -l <"$tmp/files")
  cur_label="$(set_label "$s")"
  echo
  echo "=== $cur_label: $ntests tests in ${#dirs[@]} directories"
  bench "loci -j 1" "$ntests" "$runs" "$loci" litmus --no-time -j 1 "${dirs[@]}"
  j1_cpu="$med_cpu"
  j1_wall="$med_wall"
  bench "loci -j 2" "$ntests" "$runs" "$loci" litmus --no-time -j 2 "${dirs[@]}"
  if [ -n "$herd" ]; then
    mapfile -t files <"$tmp/files"
    # shellcheck disable=SC2046 # herd_args is a word list on purpose
    if ! "$herd" $(herd_args "$s") "${files[0]}" 2>"$tmp/err" | grep -q '^Observation '; then
      die "herd7 gives no Observation for ${files[0]} ($(head -1 "$tmp/err")); if it cannot find its models, set HERDLIB=<herdtools7>/herd/libdir"
    fi
    # shellcheck disable=SC2046
    bench "herd7 (1 thread)" "$ntests" "$herd_runs" "$herd" $(herd_args "$s") "${files[@]}"
    printf '   herd7 / loci -j 1: %.0fx cpu, %.0fx wall\n' \
      "$(awk -v h="$med_cpu" -v l="$j1_cpu" 'BEGIN { print (l > 0) ? h / l : 0 }')" \
      "$(awk -v h="$med_wall" -v l="$j1_wall" 'BEGIN { print (l > 0) ? h / l : 0 }')"
  fi
done

echo
echo "=== summary (medians of $runs runs${herd:+; herd7: $herd_runs})"
printf '%-20s %-17s %6s %10s %10s %9s\n' set command tests "wall s" "cpu s" "spread %"
printf '%s\n' "${summary[@]}"
