//! # sluice
//!
//! The proxy crate: the command line today; listeners, the tower stack, the ledger and telemetry
//! as they land.

pub mod cli;
