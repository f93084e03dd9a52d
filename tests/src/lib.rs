//! # sluice-tests
//!
//! End-to-end and conformance tests for sluice, and the helpers they share.

pub mod client_tls;
pub mod harness;
pub mod otlp;
pub mod people;
pub mod scratch;

use std::path::PathBuf;
use std::sync::Arc;

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::{
    EngineConfig, EngineKeys, Format, Limits, Redactor, Summary, Violation,
};

/// A test corpus in the repository (`tests/corpora/NAME`, with its licence and provenance).
/// A missing corpus fails the test that needs it, naming what is missing: a corpus test never
/// passes by skipping.
pub fn corpus(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpora")
        .join(name);
    assert!(
        dir.exists(),
        "test corpus {} is missing; it is part of the repository (see its PROVENANCE.md)",
        dir.display()
    );
    dir
}

/// A policy whose only contract keeps the whole document (`"$" = { keep = "subtree" }`).
pub fn keep_everything() -> CompiledPolicy {
    let text = r#"version = 1
[[partner]]
id = "p"
identity = { uri_san = "spiffe://test/p" }
jurisdiction = "CN"
[[contract]]
id = "keep-all"
partner = "p"
purpose = "conformance"
legal_basis = "consent"
valid_from = 2026-01-01
valid_until = 2099-01-01
[[contract.route]]
flow = "pull"
method = "GET"
path = "/x"
upstream = "u"
[contract.fields]
"$" = { keep = "subtree" }
"#;
    CompiledPolicy::load("keep-everything.toml", text).expect("keep-everything policy loads")
}

/// Runs a body through a policy's first route in one chunk.
pub fn filter(
    policy: &CompiledPolicy,
    format: Format,
    body: &[u8],
) -> Result<(Vec<u8>, Summary), Violation> {
    let mut r = Redactor::new(config(policy, format));
    let mut out = Vec::new();
    r.feed(body, &mut out)?;
    let s = r.finish(&mut out)?;
    Ok((out, s))
}

/// The engine configuration of a policy's first route.
pub fn config(policy: &CompiledPolicy, format: Format) -> EngineConfig {
    EngineConfig {
        program: policy.contracts[0].routes[0].program.clone(),
        format,
        limits: Limits::default(),
        keys: Arc::new(EngineKeys::derive(
            b"conformance",
            b"conformance",
            &policy.contracts[0].id,
        )),
        consent: None,
        charset: Default::default(),
    }
}

/// Runs a body cut at `cuts`; the output and summary, or the violation.
pub fn run_split(
    cfg: &EngineConfig,
    body: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, Summary), Violation> {
    let mut r = Redactor::new(cfg.clone());
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([&body.len()]) {
        r.feed(&body[at..c], &mut out)?;
        at = c;
    }
    let s = r.finish(&mut out)?;
    Ok((out, s))
}
