//! # sluice-bench
//!
//! Benchmarks for sluice. Every figure is reported next to a baseline measured in the same run
//! (see `../shared/bench/README.md`): these machines are shared and absolute numbers move.
//!
//! - `engine-report` (binary): the engine on the reference workload against `memcpy` and the
//!   naive filter ([`naive`]), with allocations per record and peak heap per body.
//! - `benches/engine.rs` (criterion): the same comparisons as a criterion group.

pub mod naive;
pub mod workload;
