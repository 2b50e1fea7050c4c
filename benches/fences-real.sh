#!/usr/bin/env bash
# benches/fences-real.sh — `loci fences` on real programs (issue 5, "Real programs").
#
# For every C program in examples/fences/ and every target
#   a64      aarch64-linux-gnu-gcc -O2 -march=armv8-a   -mno-outline-atomics  (LL/SC + DMBs)
#   a64-lse  aarch64-linux-gnu-gcc -O2 -march=armv8.1-a -mno-outline-atomics  (LSE atomics)
#   x86-64   gcc -O2 (host)
# it does
#   1. compile to assembly (-S)                                   -> orig.s
#   2. loci fences --json orig.s                                  -> the finding counts
#      loci fences --fix fix.s orig.s                             -> fix.s
#      loci fences --merge --fix merge.s orig.s                   -> merge.s
#   3. assemble and link the three (-no-pie -pthread)
#   4. run each RUNS times (aarch64 under qemu-aarch64 -L /usr/aarch64-linux-gnu,
#      x86-64 natively); every run must exit 0, print the program's "OK" self-check
#      line and print exactly what the first run of the original printed
#   5. count the barriers the program executes (dynamic count), once per binary:
#      the barrier instructions of the binary are listed with objdump -d
#      (aarch64: every DMB/DSB; x86-64: MFENCE and the `lock or/add $0,(%rsp)`
#      fence idiom, i.e. the instructions loci may rewrite), and the binary is run
#      under qemu-user with one guest instruction per translation block and
#      exec logging restricted to exactly those addresses:
#          qemu-{aarch64,x86_64} -singlestep -d exec,nochain -dfilter PC+len,... -D log
#      every logged line is one executed barrier.  Only the program's own code is
#      counted (libc/libpthread barriers are not in the binary's text).  x86-64
#      binaries are counted under qemu-x86_64 too (the correctness runs are native).
# and prints a markdown table.  "dyn" columns: executed barriers, total (full ones
# in parentheses: `dmb ish`/`dmb sy` on aarch64; on x86-64 all are full).
#
# Requirements (Debian 12): gcc, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# qemu-user, binutils (objdump), jq.  The aarch64 targets are skipped with a
# notice when the cross compiler or qemu-aarch64 is missing.
#
# Usage: benches/fences-real.sh [PROGRAM...]        (default: all of examples/fences)
#        CK_SRC=DIR benches/fences-real.sh --ck-only   (only the Concurrency Kit part)
#   LOCI=path/to/loci  (default: $CARGO_TARGET_DIR/release/loci, else target/release/loci)
#   RUNS=5             correctness runs per binary and variant
#   WORK=/tmp/fences-real   build directory
#   DYN=0              skip the dynamic counts
#   CK_SRC=DIR         also run Concurrency Kit's own regression validators (a few,
#                      see ck_tests below) from the unconfigured ck checkout DIR:
#                        git clone https://github.com/concurrencykit/ck /tmp/ck
#                        (measured at commit 11baddc); built in $WORK, never in DIR.
#                      Their outputs hold timing-dependent counters, so digits are
#                      masked and lines sorted before comparing; the exit status
#                      must be 0 (their own checks fail with a non-zero exit).
#                      Their loop counts (ITERATE, STEPS: 1000000) are cut to
#                      CK_ITERATE=20000 so that runs under -singlestep stay short.
#                      No dynamic count for ck_sequence ("-"): its writer spins until
#                      the readers are done, so the count measures qemu's speed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/examples/fences
LOCI=${LOCI:-${CARGO_TARGET_DIR:-$ROOT/target}/release/loci}
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/fences-real}
DYN=${DYN:-1}
CK_ITERATE=${CK_ITERATE:-20000}
A64_SYSROOT=/usr/aarch64-linux-gnu

[ -x "$LOCI" ] || { echo "loci binary not found at $LOCI (build: cargo build --release -p loci)" >&2; exit 2; }
mkdir -p "$WORK"

if [ "${1:-}" = --ck-only ]; then
    progs=()
elif [ $# -gt 0 ]; then
    progs=("$@")
else
    progs=()
    for f in "$SRC"/*.c; do progs+=("$(basename "$f" .c)"); done
fi

targets=(x86-64)
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    targets=(a64 a64-lse x86-64)
else
    echo "notice: aarch64-linux-gnu-gcc or qemu-aarch64 missing: aarch64 targets skipped" >&2
fi
have_qemu_x86=0
command -v qemu-x86_64 >/dev/null && have_qemu_x86=1

cc_of() {
    case $1 in
    a64) echo "aarch64-linux-gnu-gcc -march=armv8-a -mno-outline-atomics" ;;
    a64-lse) echo "aarch64-linux-gnu-gcc -march=armv8.1-a -mno-outline-atomics" ;;
    x86-64) echo "gcc" ;;
    esac
}

# run TARGET BINARY ARGS...: prints its stdout, then a line "exit=N"
run_bin() {
    local target=$1 bin=$2 rc=0 out
    shift 2
    case $target in
    a64*) out=$(qemu-aarch64 -L "$A64_SYSROOT" "$bin" "$@" 2>&1) || rc=$? ;;
    *) out=$("$bin" "$@" 2>&1) || rc=$? ;;
    esac
    printf '%s\nexit=%d\n' "$out" "$rc"
}

# the qemu -dfilter ranges of the barrier instructions of BINARY
barrier_ranges() {
    local target=$1 bin=$2
    case $target in
    a64*)
        aarch64-linux-gnu-objdump -d "$bin" | awk -F'\t' '
            $3 ~ /^(dmb|dsb)$/ { a=$1; sub(/^ */,"",a); sub(/:$/,"",a);
                                 printf "%s0x%s+4", sep, a; sep="," }' ;;
    *)
        objdump -d "$bin" | awk -F'\t' '
            $3 ~ /^(mfence|lock (or|add)[lqwb]? +\$0x0,\(%rsp\))/ {
                a=$1; sub(/^ */,"",a); sub(/:$/,"",a);
                n=split($2, bytes, / +/); len=0; for (i=1;i<=n;i++) if (bytes[i]!="") len++;
                printf "%s0x%s+%d", sep, a, len; sep="," }' ;;
    esac
}

# the addresses of the full barriers of BINARY, one per line
full_barriers() {
    local target=$1 bin=$2
    case $target in
    a64*)
        aarch64-linux-gnu-objdump -d "$bin" | awk -F'\t' '
            $3 ~ /^(dmb|dsb)$/ && $4 ~ /^(ish|sy|osh|nsh)$/ { a=$1; sub(/^ */,"",a); sub(/:$/,"",a); print a }' ;;
    *)
        objdump -d "$bin" | awk -F'\t' '
            $3 ~ /^(mfence|lock (or|add)[lqwb]? +\$0x0,\(%rsp\))/ { a=$1; sub(/^ */,"",a); sub(/:$/,"",a); print a }' ;;
    esac
}

# dynamic count of TARGET BINARY ARGS...: prints "TOTAL (FULL)" or "n/a"
dyn_count() {
    local target=$1 bin=$2 ranges log qemu
    shift 2
    [ "$DYN" = 1 ] || { echo "-"; return; }
    case $target in
    a64*) qemu=(qemu-aarch64 -L "$A64_SYSROOT") ;;
    *)
        [ $have_qemu_x86 = 1 ] || { echo "n/a"; return; }
        qemu=(qemu-x86_64) ;;
    esac
    ranges=$(barrier_ranges "$target" "$bin")
    [ -n "$ranges" ] || { echo "0 (0)"; return; }
    # the exec log goes through a FIFO into awk: it can be hundreds of MB
    local fifo=$bin.exec.fifo fulls=$bin.full.txt
    rm -f "$fifo"
    mkfifo "$fifo"
    full_barriers "$target" "$bin" >"$fulls"
    awk 'FILENAME == ARGV[1] { f[$1]=1; next }
        /^Trace/ { t++; if (match($0, /\/[0-9a-f]+\//)) { a=substr($0, RSTART+1, RLENGTH-2); sub(/^0+/, "", a); if (a in f) n++ } }
        END { printf "%d (%d)\n", t, n }' "$fulls" "$fifo" &
    local reader=$!
    "${qemu[@]}" -singlestep -d exec,nochain -dfilter "$ranges" -D "$fifo" "$bin" "$@" >/dev/null 2>&1 || true
    wait "$reader"
    rm -f "$fifo" "$fulls"
}

# check_case NAME TARGET DIR "CC CFLAGS" SRC "EXTRA SOURCES" "ARGS" NORMALISE
#   compile DIR/SRC (in DIR) to assembly, run loci, link, run, count; print a table row.
#   NORMALISE=1: replace digit runs by N and sort the lines before comparing outputs
#   (for test suites that print timing-dependent counters from several threads, on
#   stdout and stderr); the exit status is always compared.
check_case() {
    local name=$1 t=$2 dir=$3 cc=$4 src=$5 extra=$6 args=$7 norm=$8
    local d=$WORK/$name/$t
    mkdir -p "$d"
    # shellcheck disable=SC2086
    (cd "$dir" && $cc -S -o "$d/orig.s" "$src")
    "$LOCI" fences --json "$d/orig.s" >"$d/findings.json"
    "$LOCI" fences --fix "$d/fix.s" "$d/orig.s" >/dev/null 2>&1
    "$LOCI" fences --merge --fix "$d/merge.s" "$d/orig.s" >/dev/null 2>&1
    local nb nr nm nw
    read -r nb nr nm nw < <(jq -r '[.files[0].barriers, .files[0].redundant, .files[0].mergeable, .files[0].weakenable] | @tsv' "$d/findings.json")
    for v in orig fix merge; do
        # shellcheck disable=SC2086
        (cd "$dir" && $cc -no-pie -o "$d/$v" "$d/$v.s" $extra)
    done
    local want got ok=() good v
    # shellcheck disable=SC2086
    want=$(run_bin "$t" "$d/orig" $args)
    [ "$norm" = 1 ] && want=$(sed -E '/^exit=/!s/[0-9]+/N/g' <<<"$want" | sort)
    for v in orig fix merge; do
        good=0
        for _ in $(seq "$RUNS"); do
            # shellcheck disable=SC2086
            got=$(run_bin "$t" "$d/$v" $args)
            [ "$norm" = 1 ] && got=$(sed -E '/^exit=/!s/[0-9]+/N/g' <<<"$got" | sort)
            if [ "$got" = "$want" ] && grep -qx 'exit=0' <<<"$got" &&
                { [ "$norm" = 1 ] || grep -qx OK <<<"$got"; }; then
                good=$((good + 1))
            else
                echo "MISMATCH $name $t $v:" >&2
                diff <(echo "$want") <(echo "$got") >&2 || true
                status=1
            fi
        done
        ok+=("$good/$RUNS")
    done
    local db df dm
    # shellcheck disable=SC2086
    db=$(dyn_count "$t" "$d/orig" $args)
    # shellcheck disable=SC2086
    df=$(dyn_count "$t" "$d/fix" $args)
    # shellcheck disable=SC2086
    dm=$(dyn_count "$t" "$d/merge" $args)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name" "$t" "$nb" "$nr" "$nm" "$nw" "${ok[0]} ${ok[1]} ${ok[2]}" "$db" "$df" "$dm"
}

printf '| program | arch | barriers | redundant | mergeable | weakenable | runs OK (orig/fix/merge) | dyn before | dyn --fix | dyn --merge |\n'
printf '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n'
status=0
for p in "${progs[@]}"; do
    src=$SRC/$p.c
    [ -f "$src" ] || { echo "no such program: $src" >&2; status=1; continue; }
    for t in "${targets[@]}"; do
        check_case "$p" "$t" "$SRC" "$(cc_of "$t") -O2 -pthread" "$src" "" "" 0
    done
done

# Concurrency Kit (https://github.com/concurrencykit/ck): a few of its own
# regression validators (header-only: the barriers are ck_pr.h's inline asm),
# with the flags of its own configure.  Only when CK_SRC names a checkout.
ck_tests=(
    "ck_sequence/validate ck_sequence -"
    "ck_spinlock/validate ck_cas -"
    "ck_spinlock/validate ck_spinlock -"
    "ck_rwlock/validate validate -"
    "ck_brlock/validate validate -"
    "ck_swlock/validate validate -"
    "ck_ring/validate ck_ring_spsc ../../../src/ck_barrier_centralized.c"
)
if [ -n "${CK_SRC:-}" ]; then
    for t in "${targets[@]}"; do
        [ "$t" = a64-lse ] && continue
        ck=$WORK/ck-$t
        if [ ! -f "$ck/build/regressions.build" ]; then
            rm -rf "$ck"
            cp -r "$CK_SRC" "$ck"
            case $t in
            a64) (cd "$ck" && CC=aarch64-linux-gnu-gcc ./configure --platform=aarch64 --compiler=gcc --cores=2) >"$WORK/ck-$t.configure.log" 2>&1 ;;
            *) (cd "$ck" && ./configure --cores=2) >"$WORK/ck-$t.configure.log" 2>&1 ;;
            esac
        fi
        ckcc="$(sed -n 's/^CC=//p' "$ck/build/regressions.build") $(sed -n 's/^CFLAGS=//p' "$ck/build/regressions.build") -pthread -D_GNU_SOURCE"
        for c in "${ck_tests[@]}"; do
            read -r dir bin extra <<<"$c"
            [ "$extra" = - ] && extra=
            args="2 1"
            [ "$bin" = ck_ring_spsc ] && args="2 1 1024"
            # ck_sequence's writer spins until its readers are done: its dynamic
            # count measures qemu's speed, not the program, so it is left out
            dyn=$DYN
            [ "$bin" = ck_sequence ] && dyn=0
            DYN=$dyn check_case "ck:${dir%%/*}/$bin" "$t" "$ck/regressions/$dir" \
                "$ckcc -DITERATE=$CK_ITERATE -DSTEPS=$CK_ITERATE" "$bin.c" "$extra" "$args" 1
        done
    done
fi
exit $status
