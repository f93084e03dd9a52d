#!/usr/bin/env bash
# The cost of telemetry export: alternates sluice-reference (export off) and sluice-otel (the
# same instance exporting spans and metrics over OTLP/HTTP to an in-process sink) N times
# (default 5) on the 1 KiB h1 scenarios (16 and 256 connections), pinned as bench/run.sh pins,
# and prints per scenario the median (and range) of on ÷ off CPU µs per request, round by round.
# These machines drift by ±10% from one minute to the next: one pair of runs does not compare.
#
#   bench/otel-ab.sh [N] [SCENARIO-FILTER]
#
# Sampling follows the usual variables, e.g. OTEL_TRACES_SAMPLER=parentbased_traceidratio
# OTEL_TRACES_SAMPLER_ARG=0.1 bench/otel-ab.sh (the file's default samples every request).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5} filter=${2:-1 KiB h1}
cargo build --release -p sluice -p sluice-bench --bins >/dev/null 2>&1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=(taskset -c 1); fi
run() {
  "${pin[@]}" target/release/bench-suite --proxy-core 0 --seconds 5 --targets "$1" \
    --scenarios "$filter" --out "$out" \
    | sed -nE 's/^([a-z-]+) +(.*[^ ]) +[0-9]+ req\/s.* ([0-9.]+) µs CPU\/req.*/\2|\3/p'
}
: > "$out/pairs"
for i in $(seq "$n"); do
  off=$(run sluice-reference)
  on=$(run sluice-otel)
  while IFS='|' read -r scenario cpu_off; do
    cpu_on=$(printf '%s\n' "$on" | awk -F'|' -v s="$scenario" '$1 == s { print $2 }')
    [ -n "$cpu_on" ] && printf '%s|%s|%s\n' "$scenario" "$cpu_off" "$cpu_on" >> "$out/pairs"
  done <<< "$off"
  echo "round $i done" >&2
done
cut -d'|' -f1 "$out/pairs" | sort -u | while read -r scenario; do
  grep -F "$scenario|" "$out/pairs" | awk -F'|' -v s="$scenario" '$1 == s { print $3 / $2, $2, $3 }' | sort -n | awk -v s="$scenario" '
    { r[NR] = $1; off += $2; on += $3 }
    END {
      m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
      printf "%-16s export on / off, CPU µs per request: median %.3f (range %.3f-%.3f, %d rounds; mean off %.1f, on %.1f)\n", s, m, r[1], r[NR], NR, off / NR, on / NR }'
done
