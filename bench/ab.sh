#!/usr/bin/env bash
# Native A/B of two engine-report builds: alternates them N times (default 6) on one profile and
# prints the best MB/s of each, and the median (and range) of NEW ÷ OLD round by round. These
# machines move by ±30% from one minute to the next; the best of alternating runs and the
# per-round ratio are the figures that compare. For changes smaller than that, use
# bench/instructions.sh (deterministic).
#
#   bench/ab.sh OLD_BIN NEW_BIN [N] [reference|passthrough|strip-all|POLICY.toml]
#
# Build each side with `cargo build --release -p sluice-bench --bin engine-report` and copy
# target/release/engine-report away.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,10p "$0"; exit 2; }
old=$1 new=$2 n=${3:-6} profile=${4:-reference}
mbs() { "$1" --profile "$profile" --rounds 2 | grep -o '[0-9]* MB/s' | cut -d' ' -f1; }
best_old=0 best_new=0
ratios=()
for _ in $(seq "$n"); do
  x=$(mbs "$old"); y=$(mbs "$new")
  [ "$x" -gt "$best_old" ] && best_old=$x
  [ "$y" -gt "$best_new" ] && best_new=$y
  ratios+=("$(awk -v a="$x" -v b="$y" 'BEGIN { printf "%.3f", b / a }')")
done
printf '%-40s best of %s: %5s MB/s\n' "$old" "$n" "$best_old" "$new" "$n" "$best_new"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ r[NR] = $1 } END {
  m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
  printf "new / old round by round: median %.3f (range %.3f-%.3f, %d rounds)\n", m, r[1], r[NR], NR }'
