//! # sluice
//!
//! The proxy library behind the `sluice` binary (whose command line and demo are private to it).
//! The engine and the policy model live in `sluice-policy`; certificates in `sluice-certs`.
//!
//! ## The request path
//!
//! ```text
//! server      accept (per-listener cap) ─ TLS handshake ─ per-partner cap ─ hyper h1|h2 by ALPN
//! conn          └ watchdog: idle, max age, send deadline, close on revocation
//! framing       └ HTTP/1.1 heads judged on the raw bytes (the parser hyper uses)
//! stack       request id ─ span ─ refusals → errors::error_response ─ load shed ─ deadline
//! service     framing verdict ─ canonical path ─ partner (identity) ─ contract and route ─
//!             rate limit ─ signature
//! flow        pull | push: upstream request (allow) ─ type and coding ─ disclosure.begin durable
//!             (disclosure, ledger) ─ body through the engine (body) ─ digest and signature out
//!             (outgoing) ─ disclosure.end
//! ```
//!
//! Layers, bottom up (no module imports one above it; checked for cycles): `config`,
//! `startup`, `keys`, `ledger` (imports nothing else of the proxy), `metrics`, `telemetry` ←
//! `state` (what every request reads) ← `disclosure`, `flow`, `service`, `stack` ← `server`.
//!
//! ## Modules by concern
//!
//! - Data plane: [`server`], [`conn`], [`framing`], [`stack`], [`service`], [`identity`],
//!   [`flow`], [`allow`], [`body`], [`decode`], [`digest`], [`passthrough`], [`outgoing`],
//!   [`upstream`], [`ratelimit`], [`errors`].
//! - Evidence: [`disclosure`], [`ledger`], [`signature`].
//! - Operations: [`config`], [`checks`], [`startup`], [`state`], [`keys`], [`admin`],
//!   [`metrics`], [`telemetry`], [`tracecontext`].

pub mod admin;
pub mod allow;
pub mod body;
pub mod checks;
pub mod config;
pub mod conn;
pub mod decode;
pub mod digest;
pub mod disclosure;
pub mod errors;
pub mod evidence;
pub mod flow;
pub mod frames;
pub mod framing;
pub mod headers;
pub mod identity;
pub mod keys;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod outgoing;
pub mod passthrough;
pub mod ratelimit;
pub mod server;
pub mod service;
pub mod shadow;
pub mod signature;
pub mod stack;
pub mod stall;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tracecontext;
pub mod upstream;
