#!/usr/bin/env bash
# Deterministic A/B of the engine: instructions executed (valgrind) by two engine-report builds on
# the same 4 MiB reference feed. These machines are shared and have no hardware counters, so
# MB/s moves by ±30% between minutes; instruction counts do not.
#
#   bench/instructions.sh OLD_BIN NEW_BIN [reference|passthrough|strip-all|POLICY.toml]
#
# Build each side with `cargo build --release -p sluice-bench --bin engine-report` and copy
# target/release/engine-report away. Counts exclude the harness's set-up (a run with --rounds 0).
# Valgrind hides SHA-NI, so ring's SHA-256 runs its AVX path here: digest-heavy profiles count
# more instructions than they cost natively. Needs valgrind (installed from Debian
# when missing and running as root).
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
old=$1 new=$2 profile=${3:-reference}
if ! command -v valgrind >/dev/null; then
  [ "$(id -u)" = 0 ] && apt-get install -y -q valgrind >/dev/null || { echo "needs valgrind"; exit 1; }
fi
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$1" --profile "$profile" --rounds "$2" --size 4MiB 2>&1 \
    | awk '/I +refs/ { gsub(",", "", $NF); print $NF }'
}
# The feed is generated (and cached) on first use: do that outside the counts, or the first
# binary's total would include it (and read as twice the instructions).
"$old" --profile "$profile" --rounds 0 --size 4MiB >/dev/null 2>&1
for bin in "$old" "$new"; do
  total=$(count "$bin" 1)
  setup=$(count "$bin" 0)
  awk -v b="$bin" -v t="$total" -v s="$setup" 'BEGIN { printf "%-40s %8.1f M instructions\n", b, (t - s) / 1e6 }'
done
