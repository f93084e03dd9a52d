//! Helpers shared by the engine tests: build a one-contract policy from a fields table, run a
//! body through the real engine in given chunks, and report everything on failure.
#![allow(dead_code)]

pub mod flat_model;
pub mod model;
pub mod xml_model;

use std::sync::Arc;

use sluice_policy::CompiledPolicy;
use sluice_policy::consent::ConsentList;
use sluice_policy::engine::{
    EngineConfig, EngineKeys, Format, Limits, Redactor, Summary, Violation,
};

/// A policy with one contract `c` whose only route has `records`/`subject` as given.
pub fn policy(records: Option<&str>, subject: Option<&str>, fields: &str) -> CompiledPolicy {
    let mut route = String::new();
    if let Some(r) = records {
        route.push_str(&format!("records = \"{r}\"\n"));
    }
    if let Some(s) = subject {
        route.push_str(&format!("subject = \"{s}\"\n"));
    }
    policy_with("", &route, fields)
}

/// A policy with one contract `c` and one route: `head` are top-level tables before the partner
/// (`[namespaces]`), `route` more keys of the route, `fields` the rules.
pub fn policy_with(head: &str, route: &str, fields: &str) -> CompiledPolicy {
    let text = policy_text(head, route, fields);
    CompiledPolicy::load("test-policy.toml", &text)
        .unwrap_or_else(|e| panic!("test policy does not load:\n{e}\n---\n{text}"))
}

/// The text [`policy_with`] loads (for tests of what does not load).
pub fn policy_text(head: &str, route: &str, fields: &str) -> String {
    format!(
        r#"version = 1
{head}
[[partner]]
id = "p"
identity = {{ uri_san = "spiffe://test/p" }}
jurisdiction = "CN"
[[contract]]
id = "c"
partner = "p"
purpose = "tests"
legal_basis = "consent"
valid_from = 2026-01-01
valid_until = 2099-01-01
[[contract.route]]
flow = "pull"
method = "GET"
path = "/x"
upstream = "u"
{route}
[contract.fields]
{fields}
"#
    )
}

pub fn keys() -> Arc<EngineKeys> {
    Arc::new(EngineKeys::derive(
        b"test-pseudonym-master",
        b"test-subject-master",
        "c",
    ))
}

pub fn config(p: &CompiledPolicy, format: Format) -> EngineConfig {
    EngineConfig {
        program: p.contracts[0].routes[0].program.clone(),
        format,
        limits: Limits::default(),
        keys: keys(),
        consent: None,
        charset: Default::default(),
    }
}

/// Runs `input` split at the given cut points.
pub fn run_cfg(
    cfg: EngineConfig,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Vec<u8>, Summary), Violation> {
    let mut r = Redactor::new(cfg);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([&input.len()]) {
        let c = c.clamp(at, input.len());
        r.feed(&input[at..c], &mut out)?;
        at = c;
    }
    let s = r.finish(&mut out)?;
    Ok((out, s))
}

pub fn run(
    p: &CompiledPolicy,
    format: Format,
    input: &str,
) -> Result<(String, Summary), Violation> {
    run_cfg(config(p, format), input.as_bytes(), &[])
        .map(|(o, s)| (String::from_utf8(o).expect("output is UTF-8"), s))
}

/// Output of a body that must pass.
pub fn pass(p: &CompiledPolicy, input: &str) -> String {
    match run(p, Format::Json, input) {
        Ok((o, _)) => {
            serde_json::from_str::<serde_json::Value>(&o)
                .unwrap_or_else(|e| panic!("output is not JSON ({e}): {o}"));
            o
        }
        Err(v) => panic!("expected {input:?} to pass, got {v}"),
    }
}

/// The violation of a body that must fail, as `code at path (byte N)`.
pub fn fail(p: &CompiledPolicy, input: &str) -> String {
    match run(p, Format::Json, input) {
        Ok((o, _)) => panic!("expected {input:?} to be refused, got output {o}"),
        Err(v) => v.to_string(),
    }
}

pub fn with_consent(mut cfg: EngineConfig, list: ConsentList) -> EngineConfig {
    cfg.consent = Some(Arc::new(list));
    cfg
}
