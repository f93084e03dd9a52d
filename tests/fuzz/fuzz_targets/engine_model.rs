//! The engine against the reference model (`policy/tests/support/model.rs`): whatever the engine
//! passes, `serde_json` parses, the model passes, and the engine's output parses to exactly the
//! model's output. The engine may refuse more than the model only for its documented stricter
//! rules (number interoperability, depth and size limits, duplicate keys serde merges).
#![no_main]

#[path = "../../../policy/tests/support/mod.rs"]
mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_policy::CompiledPolicy;
use sluice_policy::engine::Format;
use support::model::{Raw, model};

fn policy() -> &'static CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(support::model::differential_policy)
}

/// Refusals the model does not know about.
const STRICTER: &[&str] = &[
    "number_range",
    "depth_exceeded",
    "token_too_long",
    "too_many_keys",
    "record_too_large",
];

fuzz_target!(|data: &[u8]| {
    let got = support::run_cfg(support::config(policy(), Format::Json), data, &[]);
    let parsed: Result<Raw, _> = serde_json::from_slice(data);
    match (&got, &parsed) {
        (Ok((out, _)), Ok(raw)) => {
            let want =
                model(raw).unwrap_or_else(|e| panic!("engine passed what the model refuses ({e})"));
            let out: serde_json::Value =
                serde_json::from_slice(out).expect("engine output is JSON");
            assert_eq!(out, want, "engine output differs from the model's");
        }
        (Ok(_), Err(e)) => panic!("engine passed what serde_json cannot parse: {e}"),
        (Err(v), Ok(raw)) => match model(raw) {
            Err(kind) => assert!(
                kind == v.kind.code() || STRICTER.contains(&v.kind.code()),
                "model says {kind}, engine says {}",
                v.kind.code()
            ),
            Ok(_) => assert!(
                STRICTER.contains(&v.kind.code()),
                "engine refused ({}) what the model passes",
                v.kind.code()
            ),
        },
        (Err(_), Err(_)) => {}
    }
});
