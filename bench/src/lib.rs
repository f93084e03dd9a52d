//! # sluice-bench
//!
//! Benchmarks for sluice, measured against same-run baselines (see `../shared/bench/README.md`).
