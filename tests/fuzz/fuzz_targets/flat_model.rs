//! The CSV and form engines against reference models (`policy/tests/support/flat_model.rs`):
//! whatever an engine passes, the well-kept crate (`csv`, `form_urlencoded`) reads, and the
//! engine's output reads to exactly the model's rows; a body cut anywhere gets the same answer.
#![no_main]

#[path = "../../../policy/tests/support/mod.rs"]
mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_policy::CompiledPolicy;

fn policy() -> &'static CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(support::flat_model::flat_policy)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the format (low bit) and where the second run cuts the body.
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let cut = usize::from(first >> 1) * body.len() / 127;
    if first & 1 == 0 {
        support::flat_model::csv_differential(policy(), body, cut);
    } else {
        support::flat_model::form_differential(policy(), body, cut);
    }
});
