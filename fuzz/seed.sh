#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ (git-ignored) before fuzzing:
#   litmus_parse, litmus_run  <- a sample of ../shared/litmus (read in place,
#                                never committed): up to PER_DIR files from
#                                each directory, evenly spread over its
#                                sorted listing (default 25)
#   cat_parse                 <- crates/model/models/*.cat
# Usage: fuzz/seed.sh            (from anywhere; idempotent)
#        PER_DIR=100 fuzz/seed.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
shared="$root/../shared/litmus"
per_dir="${PER_DIR:-25}"

if [ ! -d "$shared" ]; then
  echo "seed.sh: $shared not found (the herd7 catalogue must sit in ../shared beside the checkout)" >&2
  exit 1
fi

mkdir -p "$here/corpus/litmus_parse" "$here/corpus/litmus_run" "$here/corpus/cat_parse"

n=0
# Every directory that directly holds .litmus files (AARCH64/*, mixed included
# for the parser, X86, C11/*).
while IFS= read -r dir; do
  mapfile -t files < <(find "$dir" -maxdepth 1 -name '*.litmus' | LC_ALL=C sort)
  total=${#files[@]}
  [ "$total" -gt 0 ] || continue
  step=$(( (total + per_dir - 1) / per_dir ))
  rel="${dir#"$shared"/}"
  tag="${rel//\//_}"
  for ((i = 0; i < total; i += step)); do
    f="${files[$i]}"
    dst="${tag}__$(basename "$f")"
    cp "$f" "$here/corpus/litmus_parse/$dst"
    cp "$f" "$here/corpus/litmus_run/$dst"
    n=$((n + 1))
  done
done < <(find "$shared" -type f -name '*.litmus' -printf '%h\n' | LC_ALL=C sort -u)

cp "$root"/crates/model/models/*.cat "$here/corpus/cat_parse/"

echo "seeded $n litmus files into corpus/litmus_parse and corpus/litmus_run," \
  "$(ls "$root"/crates/model/models/*.cat | wc -l) cat files into corpus/cat_parse"
