#!/usr/bin/env bash
# Times loci-alloc against glibc malloc, mimalloc and jemalloc on the C
# benchmarks in benches/alloc/ (each allocator through LD_PRELOAD), and
# prints per benchmark and allocator the median wall time, the spread
# ((max - min) / median), the median user+sys CPU time and the median peak
# RSS, then a summary table with times relative to mimalloc. The
# allocators take turns run by run. Multi-threaded runs in which the
# threads shared one CPU (involuntary context switches at least half the
# voluntary ones: other load on this machine) are also left out of a
# second CPU median ("cpu par"), see benches/alloc/README.md.
#
# Environment:
#   RUNS=N        runs per benchmark and allocator (default 5)
#   ALLOCS="..."  allocators, among: glibc loci mimalloc jemalloc (default all
#                 that are found)
#   BENCHES="..." benchmark names (default: all, see the table below)
#   LOCI_SO=PATH  the loci library (default: build it with cargo and use
#                 $CARGO_TARGET_DIR/release/libloci_alloc.so)
#   MIMALLOC=PATH, JEMALLOC=PATH  the libraries (default: the Debian/Ubuntu
#                 packages libmimalloc2.0 and libjemalloc2)
#   SCALE=F       multiply every operation count by F (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${RUNS:-5}"
scale="${SCALE:-1}"
die() { echo "benches/alloc.sh: $*" >&2; exit 1; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$runs'"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed for the peak RSS"
command -v cc >/dev/null || die "a C compiler (cc) is needed"

target="${CARGO_TARGET_DIR:-target}"
if [ -z "${LOCI_SO:-}" ]; then
  echo "== cargo build --release -p loci-alloc" >&2
  cargo build --release -p loci-alloc >&2
  LOCI_SO="$target/release/libloci_alloc.so"
fi
[ -f "$LOCI_SO" ] || die "$LOCI_SO not found"
LOCI_SO="$(cd "$(dirname "$LOCI_SO")" && pwd)/$(basename "$LOCI_SO")"
libdir=/usr/lib/$(uname -m)-linux-gnu
MIMALLOC="${MIMALLOC:-$libdir/libmimalloc.so.2}"
JEMALLOC="${JEMALLOC:-$libdir/libjemalloc.so.2}"

declare -A lib=([glibc]="" [loci]="$LOCI_SO" [mimalloc]="$MIMALLOC" [jemalloc]="$JEMALLOC")
allocs=""
for a in ${ALLOCS:-glibc loci mimalloc jemalloc}; do
  [ -n "${lib[$a]+x}" ] || die "unknown allocator '$a'"
  if [ -n "${lib[$a]}" ] && [ ! -f "${lib[$a]}" ]; then
    echo "notice: $a not found at ${lib[$a]}; skipped (apt-get install libmimalloc2.0 libjemalloc2)" >&2
    continue
  fi
  allocs="$allocs $a"
done

s() { awk -v n="$1" -v f="$scale" 'BEGIN { printf "%d", n * f }'; }
# name | program | arguments | what
benches=(
  "alloc-test-1t|alloc-test|1 $(s 8000000)|single-thread small-object churn, 8..1032 B"
  "alloc-test-2t|alloc-test|2 $(s 8000000)|the same on 2 threads (scaling)"
  "larson-2t|larson|2 $(s 1000000) 10|server churn, 2 threads, thread turnover"
  "xmalloc|xmalloc|$(s 4000000)|producer/consumer: every free is remote"
  "xmalloc-for|xmalloc|$(s 4000000) for|the same, allocated for the consumer (loci_malloc_for)"
  "mstress-2t|mstress|2 $(s 600000) 5|migrating objects, 8 B..1 MiB"
  "cache-scratch-2t|cache-scratch|2 $(s 50000) 2000|passive false sharing"
  "cache-thrash-2t|cache-thrash|2 $(s 50000) 2000|active false sharing"
  "realloc-grow|realloc-grow|$(s 10) 64 262144|64 buffers grown by realloc to 256 KiB"
)
bindir="$(mktemp -d /tmp/loci-alloc-bench.XXXXXX)"
trap 'rm -rf "$bindir"' EXIT
for f in benches/alloc/*.c; do
  cc -O2 -pthread -o "$bindir/$(basename "$f" .c)" "$f" -ldl || die "cannot compile $f"
done

echo "runs per measurement: $runs; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-17s %-9s %9s %7s %9s %9s %13s %9s\n' benchmark allocator "median s" spread "cpu s" "rss KiB" "cpu par s (n)" "invol cs"
summary="$bindir/summary"
: >"$summary"
for entry in "${benches[@]}"; do
  IFS='|' read -r name prog args what <<<"$entry"
  [ -z "${BENCHES:-}" ] || [[ " $BENCHES " == *" $name "* ]] || continue
  # The allocators take turns run by run (not all runs of one, then the
  # next), so that a change in the machine's load during the benchmark
  # weighs on all of them alike. xmalloc-for runs loci with "for" and, as
  # the reference for its ratio, mimalloc's plain xmalloc (the same
  # program without "for"), interleaved the same way.
  here=""
  for a in $allocs; do
    if [ "$name" = xmalloc-for ] && [ "$a" != loci ] && [ "$a" != mimalloc ]; then continue; fi
    here="$here $a"
    : >"$bindir/times.$a"
  done
  for _ in $(seq "$runs"); do
    for a in $here; do
      run_args="$args"
      if [ "$name" = xmalloc-for ] && [ "$a" != loci ]; then run_args="${args% for}"; fi
      t0=$(date +%s%N)
      # shellcheck disable=SC2086
      if ! /usr/bin/time -f '%U %S %M %c %w' -o "$bindir/t" env LD_PRELOAD="${lib[$a]}" "$bindir/$prog" $run_args >/dev/null 2>"$bindir/err"; then
        die "$name under $a failed: $(cat "$bindir/err")"
      fi
      t1=$(date +%s%N)
      # Wall time from the shell's nanosecond clock (GNU time's %e has 10 ms steps).
      echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$bindir/t")" | awk '{ printf "%.4f %s %s %s %s %s\n", $1 / 1e6, $2, $3, $4, $5, $6 }' >>"$bindir/times.$a"
    done
  done
  for a in $here; do
    read -r med spread cpu rss cpar npar invol < <(awk '
      { w[NR] = $1; c[NR] = $2 + $3; r[NR] = $4; ic[NR] = $5
        # Threads that ran in parallel (not time-sliced on one CPU).
        if ($5 * 2 < $6) p[++np] = $2 + $3 }
      function median(a, n,   i, j, t, b) {
        for (i = 1; i <= n; i++) b[i] = a[i]
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
        return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
      }
      END {
        min = w[1]; max = w[1]
        for (i = 2; i <= NR; i++) { if (w[i] < min) min = w[i]; if (w[i] > max) max = w[i] }
        m = median(w, NR)
        sp = (m > 0) ? 100 * (max - min) / m : 0
        printf "%.3f %.0f%% %.3f %d %s %d %d\n", m, sp, median(c, NR), median(r, NR), (np ? sprintf("%.3f", median(p, np)) : "-"), np, median(ic, NR)
      }' "$bindir/times.$a")
    printf '%-17s %-9s %9s %7s %9s %9s %13s %9s\n' "$name" "$a" "$med" "$spread" "$cpu" "$rss" "$cpar ($npar)" "$invol"
    echo "$name $a $med $spread $cpu $rss $cpar $npar" >>"$summary"
  done
done

echo
echo "Summary: median wall seconds (spread), peak RSS in MiB; then loci's median wall and CPU (user+sys) time over mimalloc's."
header="| benchmark |"
line="| --- |"
for a in $allocs; do header="$header $a |"; line="$line ---: |"; done
echo "$header loci / mimalloc (wall) | loci / mimalloc (cpu) | loci / mimalloc (cpu, parallel runs) |"
echo "$line ---: | ---: | ---: |"
awk -v allocs="$allocs" '
  { t[$1 " " $2] = $3; sp[$1 " " $2] = $4; c[$1 " " $2] = $5; rss[$1 " " $2] = $6; cp[$1 " " $2] = $7; np[$1 " " $2] = $8; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
  END {
    na = split(allocs, a, " ")
    for (i = 1; i <= n; i++) {
      b = order[i]; row = "| " b " |"
      for (j = 1; j <= na; j++) {
        k = b " " a[j]
        row = row ((k in t) ? sprintf(" %.3f s (%s), %.1f MiB |", t[k], sp[k], rss[k] / 1024) : " – |")
      }
      l = b " loci"; m = b " mimalloc"
      if (b == "xmalloc-for" && !(m in t)) m = "xmalloc mimalloc"
      row = row (((l in t) && (m in t) && t[m] > 0) ? sprintf(" %.2f× |", t[l] / t[m]) : " – |")
      row = row (((l in c) && (m in c) && c[m] > 0) ? sprintf(" %.2f× |", c[l] / c[m]) : " – |")
      row = row (((l in cp) && (m in cp) && cp[l] != "-" && cp[m] != "-" && cp[m] > 0) ? sprintf(" %.2f× (%d, %d runs) |", cp[l] / cp[m], np[l], np[m]) : " – |")
      print row
      if ((l in t) && (m in t) && t[m] > 0 && t[l] > 0) { lg += log(t[l] / t[m]); cnt++ }
      if ((l in c) && (m in c) && c[m] > 0 && c[l] > 0) { lc += log(c[l] / c[m]); cntc++ }
    }
    if (cnt) printf "\nGeometric mean of loci / mimalloc over %d benchmarks: wall %.2f×, cpu %.2f×\n", cnt, exp(lg / cnt), exp(lc / cntc)
  }' "$summary"
