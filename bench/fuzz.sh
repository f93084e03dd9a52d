#!/usr/bin/env bash
# Coverage-guided fuzzing of the engine (and of the XML engine against a DOM reference), the policy
# reader and the ledger reader (tests/fuzz), each target for SECONDS (default 600), two at a time
# on a 2-core machine. Not run by CI.
#
#   bench/fuzz.sh [SECONDS]
#
# The machine's toolchain is stable: cargo-fuzz runs with RUSTC_BOOTSTRAP=1 and without a
# sanitizer (`-s none`; safe Rust only, `unsafe_code` is forbidden in the workspace). Corpora
# live in target/fuzz-corpus/ (seeded from tests/corpora/JSONTestSuite and the example
# policies; never committed); crashes go to target/fuzz-artifacts/. Every finding becomes a
# regression test in the crate it concerns.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
(cd tests/fuzz && cargo fuzz build -O -s none)
bin=tests/fuzz/target/x86_64-unknown-linux-gnu/release
corpus=target/fuzz-corpus
mkdir -p target/fuzz-artifacts
suite=tests/corpora/JSONTestSuite/test_parsing
targets="engine_split engine_model policy_load ledger_segment xml_model flat_model"
for t in $targets; do mkdir -p "$corpus/$t"; done
if [ -d "$suite" ]; then
  for t in engine_split engine_model; do cp -n "$suite"/*.json "$corpus/$t/" 2>/dev/null || true; done
fi
cp -n deploy/examples/policy.toml bench/workload/*.toml "$corpus/policy_load/" 2>/dev/null || true
# engine_split's first byte picks the format (0 JSON, 1 NDJSON, 2 CSV, 3 form, 4 XML): one seed of
# each of the text formats.
printf '\x02\x60%s' $'a,b,d,z\r\n1,"x,y",3,\r\n"q""",2,,4\r\n' >"$corpus/engine_split/seed-csv"
printf '\x03\x30%s' 'a=1&d=%E5%BC%A0&z=x+y&e=%41' >"$corpus/engine_split/seed-form"
printf '\x04\x90%s' '<?xml version="1.0"?><r xmlns:p="urn:x"><a>1&amp;2</a><d p:x="1"><y/></d><z><![CDATA[c]]></z></r>' \
  >"$corpus/engine_split/seed-xml"

# xml_model (the XML engine against a DOM reference) starts from documents of its contract's shape.
printf '\x80%s' '<?xml version="1.0"?><r xmlns="urn:n"><keep>a&amp;b</keep><name>x</name><mobile>13812345678</mobile><note>call 13812345678</note><secret>x</secret><grp><item a="1" b="2"><v>z</v><w>q</w></item><item/></grp><other>o</other></r>' \
  >"$corpus/xml_model/seed-shape"
printf '\x40%s' '<p:r xmlns:p="urn:n" xmlns:q="urn:q"><p:keep><![CDATA[<x>]]>t</p:keep><q:keep>no</q:keep><p:grp><p:item p:a="no" a="yes"><!-- c --><p:v>&#x5F20;</p:v></p:item></p:grp></p:r>' \
  >"$corpus/xml_model/seed-prefixes"

printf '\x00%s' $'keep,name,mobile,note,secret,other\r\n1,"x,y",13812345678,"call 13812345678",s,o\r\n' \
  >"$corpus/flat_model/seed-csv"
printf '\x01%s' 'keep=1&name=%E5%BC%A0&mobile=13812345678&note=call+13812345678&secret=s&other=o' \
  >"$corpus/flat_model/seed-form"

run() {
  local t=$1
  local dict=()
  [ "$t" = xml_model ] && dict=(-dict=tests/fuzz/xml.dict)
  "$bin/$t" "$corpus/$t" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="target/fuzz-artifacts/$t-" >"target/fuzz-$t.log" 2>&1 || true
}
run engine_split & run engine_model & wait
run policy_load & run ledger_segment & wait
run xml_model & run flat_model & wait

printf '%-16s %12s %10s %8s %s\n' target executions exec/s "cov" findings
for t in $targets; do
  log="target/fuzz-$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  rate=$(( ${execs:-0} / secs ))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  found=$(ls target/fuzz-artifacts/ 2>/dev/null | grep -c "^$t-" || true)
  printf '%-16s %12s %10s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$found"
done
