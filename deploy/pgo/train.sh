#!/usr/bin/env bash
# The training run of a profile-guided build (deploy/pgo/build.sh): a `sluice` whose redaction
# engine is instrumented filters generated records, so that the optimiser knows which of the
# engine's paths are hot.
#
#   deploy/pgo/train.sh INSTRUMENTED_SLUICE WORK_DIR
#
# `sluice filter` runs over fake records from deploy/pgo/feed.awk through each contract of
# deploy/examples/policy.toml and the training contracts of deploy/pgo/policy.toml (between them
# every kind of rule), as one document and as NDJSON, read from a pipe in the uneven pieces a
# pipe delivers. Nothing here is the benchmark's workload (bench/workload), which the build is
# then measured with. Needs awk; about ten seconds.
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,12p "$0"; exit 2; }
bin=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../examples/policy.toml
mkdir -p "$work"

feed() { awk -v n="$1" -v shape="$2" -v format="$3" -f "$here/feed.awk"; }
filter() {
  "$bin" filter --policy "$1" --contract "$2" --route "$3" --format "$4" --summary \
    >/dev/null 2>"$work/filter.log" || { cat "$work/filter.log"; exit 1; }
}
for format in json ndjson; do
  feed 30000 applicants "$format" | filter "$examples" acme-prescreen-2026 1 "$format"
  feed 15000 policies "$format" | filter "$examples" safe-insure-claims-2026 0 "$format"
  feed 15000 applicants "$format" | filter "$here/policy.toml" pgo-fields 0 "$format"
  feed 10000 policies "$format" | filter "$here/policy.toml" pgo-whole 0 "$format"
done
echo "pgo training: done"
