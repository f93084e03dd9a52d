#!/usr/bin/env bash
# Builds the release `sluice` binary with profile-guided optimisation (PGO): an instrumented
# build runs a training workload (deploy/pgo/train.sh: the engine over generated records through
# the example contracts, and requests through the demo proxy), and the release build is then
# optimised with the branch and call counts it recorded (code layout, inlining, block order).
# The redaction engine runs 10–15% faster than in a plain release build (bench/README.md), with
# the same source and the same behaviour: PGO changes how code is laid out, never what it does.
#
#   deploy/pgo/build.sh OUT_DIR [--with-bench]
#
# Installs OUT_DIR/sluice (and with --with-bench OUT_DIR/engine-report, the engine benchmark
# built with the same profile: bench/pgo.sh). Needs llvm-profdata of the toolchain's LLVM
# (`rustup component add llvm-tools`), awk and curl; takes two release builds and a training run
# of about half a minute. The profile depends on timing, so a PGO build is not bit-for-bit
# reproducible; where that matters, build plainly (`cargo build --release`; the Dockerfile's
# PGO=0).
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,16p "$0"; exit 2; }
out=$1 bench=${2:-}
cd "$(dirname "$0")/../.."
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
if [ ! -x "$profdata" ]; then
  echo "deploy/pgo/build.sh: $profdata not found; install it with: rustup component add llvm-tools" >&2
  exit 1
fi
packages=(-p sluice)
bins=(sluice)
if [ "$bench" = --with-bench ]; then
  packages+=(-p sluice-bench)
  bins+=(engine-report)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=${RUSTFLAGS:-}

echo "pgo: instrumented build"
RUSTFLAGS="$flags -Cprofile-generate=$work/raw" \
  cargo build --release --locked -q "${packages[@]}" --target-dir target/pgo-generate
deploy/pgo/train.sh target/pgo-generate/release/sluice "$work/train"
"$profdata" merge -o "$work/sluice.profdata" "$work/raw"

echo "pgo: optimised build"
RUSTFLAGS="$flags -Cprofile-use=$work/sluice.profdata" \
  cargo build --release --locked -q "${packages[@]}" --target-dir target/pgo-use
for b in "${bins[@]}"; do
  install -D -m 0755 "target/pgo-use/release/$b" "$out/$b"
done
echo "pgo: installed ${bins[*]} in $out"
