#!/usr/bin/env bash
# Where the engine's time goes on the reference workload: the reference policy and variants of it
# that each drop one kind of work, run alternately (best of N each), with the cost per record of
# each step between them. The variants are derived from bench/workload/reference-policy.toml at
# run time:
#
#   keep-id    only `id` kept: parse, validation and UTF-8 of the whole record, little output
#   plain      the 9 rule paths kept as they are: + output of 9 fields and its SHA-256
#   range      + the min/max check of loan_amount
#   masks      + the name and mobile masks and the remark scan
#   reference  + the keyed hash of id_number and the subject hash (two HMAC-SHA256)
#
#   bench/decompose.sh [N]       (default 6 rounds; about a minute per round)
#
# Needs python3. The machine's speed moves by ±30% between minutes: read the
# steps as rough shares, and compare runs of this script only with each other.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-6}
cargo build --release -q -p sluice-bench --bin engine-report
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - bench/workload/reference-policy.toml "$dir" <<'EOF'
import re, sys
src, out = sys.argv[1], sys.argv[2]
ref = open(src).read()
# Plain keeps of C2 paths would need a plaintext reason: the variants drop the classes, and the
# subject with the hash.
base = re.sub(r'\[classes\]\n(?:"[^\n]*\n)*\n', '', ref)
base = re.sub(r'\n\s*subject\s*=[^\n]*', '', base)
def fields(text, edits):
    for path, rule in edits.items():
        text, k = re.subn(r'("\$\.records\[\*\]\.' + re.escape(path) + r'"\s*=\s*)[^\n]*', r'\g<1>' + rule, text)
        assert k == 1, path
    return text
masks = fields(base, {"id_number": '"keep"'})
rng = fields(masks, {"name": '"keep"', "mobile": '"keep"', "remark": '{ keep = "string" }'})
plain = fields(rng, {"loan_amount": '"keep"'})
keep_id = base[:base.index("[contract.fields]")] + '[contract.fields]\n  "$.records[*].id" = "keep"\n'
for name, text in [("keep-id", keep_id), ("plain", plain), ("range", rng), ("masks", masks)]:
    open(f"{out}/{name}.toml", "w").write(text)
EOF
names=(keep-id plain range masks reference)
declare -A best
for name in "${names[@]}"; do best[$name]=0; done
for _ in $(seq "$n"); do
  for name in "${names[@]}"; do
    profile=$name
    [ "$name" = reference ] || profile="$dir/$name.toml"
    mbs=$(target/release/engine-report --profile "$profile" --rounds 2 | grep -o '[0-9]* MB/s' | cut -d' ' -f1)
    [ "$mbs" -gt "${best[$name]}" ] && best[$name]=$mbs
  done
done
# Records and bytes of the feed engine-report uses.
feed=${TMPDIR:-/tmp}/sluice-feed-64MiB.json
records=$(grep -c '^{"id":' "$feed")
bytes=$(stat -c %s "$feed")
printf '%-10s %8s %12s %14s\n' variant "MB/s" "µs/record" "step µs/record"
prev=
for name in "${names[@]}"; do
  us=$(awk -v b="$bytes" -v r="$records" -v m="${best[$name]}" 'BEGIN { printf "%.2f", b / (m * 1e6) / r * 1e6 }')
  step=${prev:+$(awk -v a="$us" -v p="$prev" 'BEGIN { printf "%+.2f", a - p }')}
  printf '%-10s %8s %12s %14s\n' "$name" "${best[$name]}" "$us" "${step:--}"
  prev=$us
done
