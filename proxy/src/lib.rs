//! # sluice
//!
//! The proxy: configuration, listeners and TLS, the request path from partner identity to
//! redacted body, upstream clients, and the command line. The engine and the policy model live in
//! `sluice-policy`; certificates in `sluice-certs`.

pub mod admin;
pub mod allow;
pub mod body;
pub mod checks;
pub mod cli;
pub mod config;
pub mod conn;
pub mod decode;
pub mod demo;
pub mod digest;
pub mod disclosure;
pub mod errors;
pub mod flow;
pub mod framing;
pub mod identity;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod outgoing;
pub mod passthrough;
pub mod ratelimit;
pub mod server;
pub mod service;
pub mod signature;
pub mod stack;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tracecontext;
pub mod upstream;
