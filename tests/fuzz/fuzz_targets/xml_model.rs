//! The XML engine against a namespace-aware DOM reference (`policy/tests/support/xml_model.rs`):
//! whatever the engine passes, `roxmltree` parses and the model passes, and the engine's output
//! parses to exactly the model's tree; what the model passes the engine refuses only for its
//! documented stricter rules; a body cut anywhere gets the same answer. A parser that reads a
//! document otherwise than the partner's parser does is how a filter is got around.
#![no_main]

#[path = "../../../policy/tests/support/mod.rs"]
mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_policy::CompiledPolicy;

fn policy() -> &'static CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(support::xml_model::differential_policy)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the second run cuts the body.
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut) * body.len() / 255;
    support::xml_model::differential(policy(), body, cut);
});
