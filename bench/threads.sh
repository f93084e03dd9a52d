#!/usr/bin/env bash
# What one target does per request, thread by thread: CPU, voluntary and involuntary context
# switches, and the disk's writes and cache flushes (the ledger's syncs), sampled over a window
# in the middle of one bench-suite scenario; the mock behind it (on the same core) is listed too.
# TARGET is a sluice target or nginx (its worker process). This is how the ledger's extra inode write
# per sync and its needless wake-ups were found (bench/results/2026-12-07-ledger-wakeups.md).
#
#   bench/threads.sh [TARGET] [SCENARIO] [SLUICE-BINARY]
#     defaults: sluice-reference, '1 KiB h1', target/release/sluice
#
# Per request = the window's count ÷ (the scenario's requests/s × the window's seconds); the
# requests/s is the whole scenario's, so read the figures as rates, not exact counts. The disk
# counters are the whole device's (/proc/diskstats), other writers included. Pinned as
# bench/run.sh pins (the proxy and the mock on core 0, the load generator on core 1).
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
target=${1:-sluice-reference}
scenario=${2:-1 KiB h1}
binary=$(realpath "${3:-target/release/sluice}")
seconds=8 # the scenario's length
window=3  # sampled in the middle of it
cargo build --release -q -p sluice-bench --bin bench-suite
[ $# -ge 3 ] || cargo build --release -q -p sluice
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin=(taskset -c 1); fi
"${pin[@]}" target/release/bench-suite --proxy-core 0 --seconds "$seconds" --targets "$target" \
  --scenarios "$scenario" --sluice "$binary" --out "$out" > "$out/log" 2>&1 &
suite=$!
# The suite starts every sluice target of the run; the measured one is found by its config.
pattern="/$target/sluice.toml"
[ "$target" = nginx ] && pattern="nginx: worker"
pid=
for _ in $(seq 100); do
  pid=$(pgrep -f -- "$pattern" | head -1 || true)
  [ -n "$pid" ] && break
  sleep 0.1
done
[ -n "$pid" ] || { echo "threads.sh: $target did not start" >&2; exit 1; }
mock=$(pgrep -f -- "sluice-mock" | head -1 || true)
device=$(df --output=source "$out" | tail -1 | sed 's#/dev/##; s#[0-9]*$##')
snapshot() {
  for t in /proc/"$pid"/task/* ${mock:+/proc/"$mock"/task/*}; do
    [ -d "$t" ] || continue
    who=$(tr ' ' '_' < "$t/comm")
    case "$t" in "/proc/$mock/"*) who="mock:$who" ;; esac
    printf '%s/%s %s %s %s\n' "$who" "${t##*/}" \
      "$(awk '/^voluntary_ctxt/ {print $2}' "$t/status")" \
      "$(awk '/^nonvoluntary_ctxt/ {print $2}' "$t/status")" \
      "$(awk '{print $14 + $15}' "$t/stat")"
  done
  awk -v d="$device" '$3 == d { print "disk", $8, $19, 0 }' /proc/diskstats
}
sleep $(( (seconds - window) / 2 + 1 ))
snapshot > "$out/before"
sleep "$window"
snapshot > "$out/after"
wait "$suite"
rps=$(grep -E "^$target +$scenario  " "$out/log" | grep -oE '[0-9]+ req/s' | head -1 | cut -d' ' -f1)
[ -n "$rps" ] || { cat "$out/log" >&2; exit 1; }
ticks=$(getconf CLK_TCK)
echo "$target, $scenario: $rps req/s; per request over a ${window} s window:"
join <(sort "$out/before") <(sort "$out/after") | awk -v n="$((rps * window))" -v hz="$ticks" '
  $1 == "disk" { printf "  %-24s %6.3f device writes  %6.3f cache flushes\n", "(disk)", ($5-$2)/n, ($6-$3)/n; next }
  { cpu = ($7-$4) / hz * 1e6 / n
    if (cpu > 0 || $5 > $2) printf "  %-24s %6.1f µs CPU  %6.3f voluntary  %6.3f involuntary switches\n", $1, cpu, ($5-$2)/n, ($6-$3)/n }'
