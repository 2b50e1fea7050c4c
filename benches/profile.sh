#!/usr/bin/env bash
# Overhead of loci's runtime (loci cc + loci profile) against gcc's
# ThreadSanitizer runtime (libtsan) and the uninstrumented build, on the
# programs in benches/profile/ (the shapes of issue 3: capture by reference,
# producer/consumer, cache-scratch, thread-private buffers, a read-mostly
# table, false sharing). See benches/README.md.
#
# Each program is compiled once with `gcc -O1 -g -fsanitize=thread -c`; that
# object is linked with libtsan and with libloci_rt.a, and the source is
# compiled again without instrumentation. Every build runs RUNS times; the
# table shows medians of wall time and of CPU time (user+sys), the slowdown
# of each instrumented build against the uninstrumented one (CPU time: the
# machine may be shared), loci's ratio to TSan, and the median max RSS.
# The last line is the geometric mean over the programs.
#
# Environment:
#   RUNS=N          runs per build (default 5)
#   LOCI_RT_LIB=F   link this libloci_rt.a instead of building it
#   PROGRAMS="..."  names in benches/profile/ (default: all)
#   CALLGRIND=1     also count the instructions each build executes
#                   (valgrind --tool=callgrind, threads serialised): the
#                   figure a shared machine cannot move
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
die() { echo "benches/profile.sh: $*" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
echo 'int main(void){return 0;}' | gcc -fsanitize=thread -x c -o /dev/null - 2>/dev/null \
  || die "gcc cannot link -fsanitize=thread programs (libtsan missing)"

if [ -n "${LOCI_RT_LIB:-}" ]; then
  rt="$LOCI_RT_LIB"
else
  echo "== cargo build -p loci-rt --release" >&2
  cargo build -p loci-rt --release >&2
  rt="${CARGO_TARGET_DIR:-target}/release/libloci_rt.a"
fi
[ -f "$rt" ] || die "$rt is not a file"

programs="${PROGRAMS:-$(cd benches/profile && ls *.c | sed 's/\.c$//' | LC_ALL=C sort | tr '\n' ' ')}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# median of the numbers on stdin
median() { LC_ALL=C sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# One timed run: wall seconds, user+sys seconds of the child (wait4,
# microsecond resolution) and its max RSS in KiB. posix_spawn keeps the
# timer's own memory out of the child's RSS.
cat > "$tmp/run.c" <<'C'
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
extern char **environ;
int main(int argc, char **argv) {
    (void)argc;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid;
    if (posix_spawn(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0)
        return 127;
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0)
        return 127;
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    printf("%.4f %.4f %ld\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
           ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
           ru.ru_maxrss);
    return 0;
}
C
gcc -O1 -o "$tmp/run" "$tmp/run.c"

# run BIN [ENV...]: RUNS times; prints "wall cpu rss_kb" medians
measure() {
  local bin="$1"; shift
  local i
  : > "$tmp/m"
  for ((i = 0; i < runs; i++)); do
    # A failure (a race: exit 66) would be a bug in the benchmark program.
    env "$@" LOCI_PROFILE_OUT="$tmp/p.json" "$tmp/run" "$bin" >> "$tmp/m" 2> "$tmp/err" \
      || die "$bin failed: $(head -3 "$tmp/err")"
  done
  printf '%s %s %s\n' \
    "$(awk '{print $1}' "$tmp/m" | median)" \
    "$(awk '{print $2}' "$tmp/m" | median)" \
    "$(awk '{print $3}' "$tmp/m" | median)"
}

printf '%-14s %9s %9s %9s %9s %8s %8s %8s %8s %9s %9s %9s\n' \
  program plain_cpu tsan_cpu loci_cpu prof_cpu tsan_x loci_x prof_x loci/tsan plain_rss tsan_rss loci_rss
: > "$tmp/ratios"
for p in $programs; do
  src="benches/profile/$p.c"
  [ -f "$src" ] || die "no $src"
  gcc -O1 -g -fsanitize=thread -c "$src" -o "$tmp/$p.o"
  gcc -o "$tmp/$p-tsan" "$tmp/$p.o" -fsanitize=thread -lpthread
  gcc -o "$tmp/$p-loci" "$tmp/$p.o" "$rt" -lpthread -ldl -lm
  gcc -O1 -g -o "$tmp/$p-plain" "$src" -lpthread
  read -r pw pc pr < <(measure "$tmp/$p-plain")
  read -r tw tc tr < <(measure "$tmp/$p-tsan")
  read -r lw lc lr < <(measure "$tmp/$p-loci")
  read -r qw qc qr < <(measure "$tmp/$p-loci" LOCI_RACES=0)
  line="$(awk -v pc="$pc" -v tc="$tc" -v lc="$lc" -v qc="$qc" 'BEGIN {
      printf "%.2f %.2f %.2f %.3f", tc / pc, lc / pc, qc / pc, lc / tc }')"
  read -r tx lx qx lt <<< "$line"
  echo "$tx $lx $qx $lt $pr $tr $lr" >> "$tmp/ratios"
  printf '%-14s %8.3fs %8.3fs %8.3fs %8.3fs %7.1fx %7.1fx %7.1fx %9.2f %7dKB %7dKB %7dKB\n' \
    "$p" "$pc" "$tc" "$lc" "$qc" "$tx" "$lx" "$qx" "$lt" "$pr" "$tr" "$lr"
  printf '%-14s wall: plain %ss tsan %ss loci %ss loci-no-races %ss\n' "" "$pw" "$tw" "$lw" "$qw"
done
awk '{ for (i = 1; i <= 7; i++) s[i] += log($i) } END {
  n = NR; printf "%-14s %9s %9s %9s %9s %7.1fx %7.1fx %7.1fx %9.2f %7.0fKB %7.0fKB %7.0fKB\n",
    "geomean", "", "", "", "", exp(s[1]/n), exp(s[2]/n), exp(s[3]/n), exp(s[4]/n), exp(s[5]/n), exp(s[6]/n), exp(s[7]/n) }' "$tmp/ratios"
echo "(cpu = user+sys seconds, median of $runs; *_x = slowdown vs plain; prof = loci with LOCI_RACES=0, profiling only)"

if [ "${CALLGRIND:-0}" = 1 ]; then
  command -v valgrind > /dev/null || die "CALLGRIND=1 needs valgrind"
  # instructions executed by BIN [ENV...] (whole process, all threads)
  instrs() {
    local bin="$1"; shift
    env "$@" LOCI_PROFILE_OUT="$tmp/p.json" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      "$bin" 2>&1 > /dev/null | awk '/I   refs:/ { gsub(",", "", $NF); print $NF }'
  }
  printf '\n%-14s %14s %14s %14s %9s\n' program tsan_instrs loci_instrs prof_instrs loci/tsan
  for p in $programs; do
    t="$(instrs "$tmp/$p-tsan")"
    l="$(instrs "$tmp/$p-loci")"
    q="$(instrs "$tmp/$p-loci" LOCI_RACES=0)"
    printf '%-14s %14s %14s %14s %9.2f\n' "$p" "$t" "$l" "$q" "$(awk -v l="$l" -v t="$t" 'BEGIN { print l / t }')"
  done
fi
