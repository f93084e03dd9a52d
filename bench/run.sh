#!/usr/bin/env bash
# The bench harness in one command: builds sluice and the bench binaries, installs nginx (and
# perf for --profile) from Debian when missing and running as root, then runs every scenario
# against every target on loopback and writes bench/results/<date>-<commit>.{md,json,svg}.
#
#   bench/run.sh [--seconds 5] [--rounds 3] [--stream-mib 1024] [--profile] [--no-pin] [--pgo]
#
# Each scenario is measured --rounds times (3 unless given), the targets in turn within each
# round, and the rounds summed: this machine's speed drifts by tens of percent within minutes,
# and a ratio of two targets measured back to back in each round holds better than one of two
# runs a minute apart. The notes give sluice-reference ÷ nginx and sluice-otel ÷
# sluice-reference (telemetry export on ÷ off) round by round.
#
# --pgo measures the profile-guided build the container image ships (deploy/pgo/build.sh, into
# target/pgo/; results are named <date>-<commit>-pgo) instead of the plain release build.
#
# With two or more cores, the proxies and the mock API run pinned to core 0 and the load
# generator to core 1 (taskset), as the figures in the issue were taken; --no-pin shares all cores.
set -euo pipefail
cd "$(dirname "$0")/.."

pin=1
pgo=0
args=()
for a in "$@"; do
  case "$a" in
    --no-pin) pin=0 ;;
    --pgo) pgo=1 ;;
    *) args+=("$a") ;;
  esac
done
[[ " ${args[*]-} " == *" --rounds "* ]] || args+=(--rounds 3)

cargo build --release -p sluice -p sluice-bench --bins
if [ "$pgo" = 1 ]; then
  deploy/pgo/build.sh target/pgo
  args+=(--sluice target/pgo/sluice)
fi

install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
  else
    return 1
  fi
}
if [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null; then
  install nginx || echo "note: nginx is missing and cannot be installed (not root): the report has no nginx column" >&2
fi
if [[ " ${args[*]-} " == *" --profile "* ]] && ! command -v perf >/dev/null; then
  install linux-perf || echo "note: perf is missing: no profile in the report" >&2
fi

if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  exec taskset -c 1 target/release/bench-suite --proxy-core 0 "${args[@]}"
fi
exec target/release/bench-suite "${args[@]}"
