#!/usr/bin/env bash
# The training run of a profile-guided build (deploy/pgo/build.sh): an instrumented `sluice`
# does what production does, so that the optimiser knows which paths are hot.
#
#   deploy/pgo/train.sh INSTRUMENTED_SLUICE WORK_DIR
#
# 1. The engine: `sluice filter` over generated records (deploy/pgo/feed.awk) through each
#    contract of deploy/examples/policy.toml and the training contracts of deploy/pgo/policy.toml
#    (every kind of rule), as one document and as NDJSON.
# 2. The proxy: `sluice demo` (development PKI, mock institution and partner, sluice between
#    them), its walkthrough, then partner pulls over HTTP/2 and HTTP/1.1 and institution pushes
#    through the running proxy with curl, within the contracts' rate limits (and a burst past
#    them, so refusals are seen too).
#
# Everything is synthetic and on loopback; nothing here is the benchmark's workload. Needs awk
# and curl. Stops by itself (about half a minute).
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,14p "$0"; exit 2; }
bin=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../examples/policy.toml
mkdir -p "$work"

feed() { awk -v n="$1" -v shape="$2" -v format="$3" -f "$here/feed.awk"; }
filter() {
  "$bin" filter --policy "$1" --contract "$2" --route "$3" --format "$4" --summary \
    >/dev/null 2>"$work/filter.log" || { cat "$work/filter.log"; exit 1; }
}
echo "pgo training: sluice filter"
for format in json ndjson; do
  feed 30000 applicants "$format" | filter "$examples" acme-prescreen-2026 1 "$format"
  feed 15000 policies "$format" | filter "$examples" safe-insure-claims-2026 0 "$format"
  feed 15000 applicants "$format" | filter "$here/policy.toml" pgo-fields 0 "$format"
  feed 10000 policies "$format" | filter "$here/policy.toml" pgo-whole 0 "$format"
done

echo "pgo training: sluice demo and requests through it"
"$bin" demo --dir "$work/demo" >"$work/demo.log" 2>&1 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  grep -q '^  curl ' "$work/demo.log" && break
  kill -0 "$demo" 2>/dev/null || { cat "$work/demo.log"; exit 1; }
  sleep 0.5
done
# The two curl lines the demo prints: a partner's pull and an institution's push.
pull=$(grep -m1 '^  curl .*/v1/applicants/' "$work/demo.log") || { cat "$work/demo.log"; exit 1; }
push=$(grep -A1 '^  curl .*institution.pem' "$work/demo.log" | tr -d '\\\n') || exit 1
read -r -a pull_args <<<"${pull#  curl }"
pull_url=${pull_args[-1]%/7}
tls=("${pull_args[@]:0:6}")
# The push's body and URL, after the demo's own arguments.
push_url=$(grep -o 'https://localhost:[0-9]*/v2/policies' <<<"$push")
push_body=$(sed -n "s/.*-d '\(.*\)' *https.*/\1/p" <<<"$push")
push_tls=($(grep -o -- '--cacert [^ ]* --cert [^ ]* --key [^ ]*' <<<"$push"))
codes=$work/status-codes
: >"$codes"
get() { curl -sS --no-progress-meter -o /dev/null -w '%{http_code}\n' "${tls[@]}" "$@" >>"$codes"; }
get --http2 --rate 90/s "$pull_url/[1-1000]" &
get --http1.1 --rate 90/s "$pull_url/[1001-2000]" &
curl -sS -o /dev/null -w '%{http_code}\n' "${push_tls[@]}" -H 'content-type: application/json' \
  --rate 8/s -d "$push_body" "$push_url?[1-80]" >>"$codes" &
wait %2 %3 %4
# Past the pull rate: refusals (429) are a production path too.
get -Z --parallel-max 8 "$pull_url/[1-300]"
echo "pgo training: responses by status: $(sort "$codes" | uniq -c | xargs)"
# A training run that got no filtered body through the proxy trained nothing there.
grep -q '^200$' "$codes" || { echo "pgo training: no request succeeded"; cat "$work/demo.log"; exit 1; }
echo "pgo training: done"
