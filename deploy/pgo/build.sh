#!/usr/bin/env bash
# Builds the release `sluice` binary with its redaction engine optimised by profile (PGO): a
# build whose engine crate (sluice-policy) is instrumented filters generated records
# (deploy/pgo/train.sh), and the release build then lays the engine out by the branch and call
# counts it recorded (block order, inlining, hot and cold code). Same source, same behaviour:
# PGO changes where code goes, never what it does. Only the engine is compiled with the profile
# (deploy/pgo/rustc-wrapper.sh); the proxy around it is compiled as in a plain release build.
#
#   deploy/pgo/build.sh OUT_DIR [--with-bench]
#
# Installs OUT_DIR/sluice (and with --with-bench OUT_DIR/engine-report, the engine benchmark
# built with the same profile: bench/pgo.sh). Needs llvm-profdata of the toolchain's LLVM
# (`rustup component add llvm-tools`) and awk; takes two release builds and ten seconds of
# training. The training is deterministic (fixed records, one thread), so the profile is the same
# for the same source; that two PGO builds are identical bit for bit has not been checked, so
# where a reproducible build matters, build plainly (`cargo build --release`; the Dockerfile's
# PGO=0).
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,18p "$0"; exit 2; }
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
# A fixed place for the counts (not a fresh temporary name each time): the profile's path is one
# of the compiler's arguments.
work=$PWD/target/pgo-work
rm -rf "$work"
export RUSTC_WRAPPER=$PWD/deploy/pgo/rustc-wrapper.sh
# Cargo does not see the wrapper's flags: the engine crate is rebuilt explicitly each time.
build() {
  cargo clean --release -q -p sluice-policy --target-dir "$1"
  cargo build --release --locked -q "${packages[@]}" --target-dir "$1"
}

echo "pgo: build with the engine instrumented"
SLUICE_PGO_FLAGS="-Cprofile-generate=$work/raw" build target/pgo-generate
deploy/pgo/train.sh target/pgo-generate/release/sluice "$work/train"
"$profdata" merge -o "$work/sluice.profdata" "$work/raw"

echo "pgo: build with the engine optimised by the profile"
SLUICE_PGO_FLAGS="-Cprofile-use=$work/sluice.profdata" build target/pgo-use
for b in "${bins[@]}"; do
  install -D -m 0755 "target/pgo-use/release/$b" "$out/$b"
done
echo "pgo: installed ${bins[*]} in $out"
