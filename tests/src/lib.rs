//! # sluice-tests
//!
//! End-to-end and conformance tests for sluice, and the helpers they share.

pub mod harness;
pub mod scratch;

use std::path::PathBuf;
use std::sync::Arc;

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::{
    EngineConfig, EngineKeys, Format, Limits, Redactor, Summary, Violation,
};

/// The shared reference material (`../shared` beside the repository, or `SLUICE_SHARED`).
///
/// Corpora are read from there, never copied into the repository. When it is missing the
/// corpus tests skip with a notice, except under CI (`CI=true`), where they fail: CI always has it.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SLUICE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the shared corpora are missing at {} (CI must have them)",
        dir.display()
    );
    eprintln!("note: {} not found; corpus test skipped", dir.display());
    None
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
