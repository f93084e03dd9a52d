#!/usr/bin/env bash
# `sluice filter` over the 1 GiB NDJSON reference feed: wall time and peak RSS.
#   bench/filter-1gib.sh [SIZE]      (default 1GiB; the feed is cached in $TMPDIR)
#   SLUICE=target/pgo/sluice bench/filter-1gib.sh   (another build, e.g. deploy/pgo/build.sh's)
# Needs /usr/bin/time; the feed comes from bench's gen-feed, the policies from bench/workload/.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1GiB}
workload=bench/workload
feed=${TMPDIR:-/tmp}/sluice-feed-$size.ndjson
[ -f "$feed" ] || cargo run -q --release -p sluice-bench --bin gen-feed -- --size "$size" --format ndjson -o "$feed"
sluice=${SLUICE:-target/release/sluice}
[ -n "${SLUICE:-}" ] || cargo build --release -q -p sluice
bytes=$(stat -c %s "$feed")
for policy in reference-policy.toml passthrough-policy.toml; do
  contract=$(awk '/^\[\[contract\]\]/{c=1} c && /^id /{gsub(/.*= *"|"/,""); print; exit}' "$workload/$policy")
  /usr/bin/time -f "%e %M" -o /tmp/sluice-time.txt \
    "$sluice" filter --policy "$workload/$policy" --contract "$contract" --format ndjson \
    < "$feed" > /dev/null 2>/tmp/sluice-filter.err || { cat /tmp/sluice-filter.err; exit 1; }
  read -r secs rss_kb < /tmp/sluice-time.txt
  awk -v b="$bytes" -v s="$secs" -v r="$rss_kb" -v p="$policy" \
    'BEGIN { printf "%-26s %8.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", p, s, b/s/1e6, r/1024 }'
done
