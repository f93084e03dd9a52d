#!/usr/bin/env bash
# How fast the first stage of a simdjson-style parser — a structural index of the reference feed —
# runs on this machine with SSE2, AVX2 and AVX-512BW (bench/stage1/, a crate outside the
# workspace: it needs `unsafe`, which the workspace forbids), next to memcpy and UTF-8 validation
# of the same bytes. Each classifier's index is checked against a byte-by-byte reference first.
#
#   bench/stage1.sh [ROUNDS]      (default 7; a release build of the probe first)
#
# Read it with the "fixed work" lines of engine-report: what a redesigned walker would start
# from, before any key lookup, scalar validation or output. The feed comes from bench's gen-feed.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
feed=${TMPDIR:-/tmp}/sluice-feed-64MiB.json
[ -s "$feed" ] || cargo run -q --release -p sluice-bench --bin gen-feed -- --size 64MiB -o "$feed"
cargo build -q --release --manifest-path bench/stage1/Cargo.toml --target-dir target/stage1
target/stage1/release/sluice-stage1-probe "$feed" "$rounds"
