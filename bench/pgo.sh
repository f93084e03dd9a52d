#!/usr/bin/env bash
# The engine as the production image builds it — profile-guided (deploy/pgo/build.sh, trained
# on synthetic records and contracts, not on this workload) — next to a plain release build:
# the two engine-report binaries alternated N times on the reference and pass-through profiles
# (best MB/s of each), then both full reports one after the other (memcpy, the naive filter and
# the pair-by-pair ratio in each binary).
#
#   bench/pgo.sh [N]      (default 6; two release builds and a training run first, ~10 minutes)
#
# Needs awk, curl and llvm-profdata (`rustup component add llvm-tools`).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-6}
out=target/pgo-compare
cargo build --release -q -p sluice-bench --bin engine-report
install -D -m 0755 target/release/engine-report "$out/plain/engine-report"
deploy/pgo/build.sh "$out/pgo" --with-bench
for profile in reference passthrough; do
  echo "== $profile, alternated, best of $n"
  bench/ab.sh "$out/plain/engine-report" "$out/pgo/engine-report" "$n" "$profile"
done
for build in plain pgo; do
  echo "== full report, $build build"
  "$out/$build/engine-report"
done
