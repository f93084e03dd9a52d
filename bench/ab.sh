#!/usr/bin/env bash
# Native A/B of two engine-report builds: alternates them N times (default 6) on one profile and
# prints the best MB/s of each. These machines move by ±30% from one minute to the next; the
# best of alternating runs is the figure that compares. For changes smaller than that, use
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
for _ in $(seq "$n"); do
  x=$(mbs "$old"); y=$(mbs "$new")
  [ "$x" -gt "$best_old" ] && best_old=$x
  [ "$y" -gt "$best_new" ] && best_new=$y
done
printf '%-40s best of %s: %5s MB/s\n' "$old" "$n" "$best_old" "$new" "$n" "$best_new"
