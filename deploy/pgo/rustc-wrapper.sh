#!/bin/sh
# RUSTC_WRAPPER of the profile-guided build (deploy/pgo/build.sh): adds $SLUICE_PGO_FLAGS
# (-Cprofile-generate=… or -Cprofile-use=…) to the compilation of the redaction engine's crate,
# sluice-policy, and of the executables (only their link needs it: it pulls in the profiler's
# runtime; their own code is a `main` that dispatches), and to nothing else (build scripts
# neither: they run during the build and would write counts of their own). Cargo has no
# per-package compiler flags on stable Rust; a wrapper is the usual way round it. The proxy
# (hyper, rustls, tokio, the ledger) is compiled as in a plain release build: a profile trained
# on filtering would lay its per-request paths out as cold code, and small requests measured
# slower that way (bench/README.md).
rustc=$1
shift
case " $* " in
  *" --crate-name build_script_"*) ;;
  *" --crate-name sluice_policy "* | *" --crate-type bin "*) exec "$rustc" "$@" $SLUICE_PGO_FLAGS ;;
esac
exec "$rustc" "$@"
