//! Split invariance: the engine's output and verdict do not depend on where the body is cut.
//! The first two bytes choose the format (JSON, NDJSON, CSV, form, XML) and two cut points; the
//! rest is the body. Policy: the differential policy (kept, scanned, bounded, subtree and
//! redacted fields).
#![no_main]

#[path = "../../../policy/tests/support/mod.rs"]
mod support;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_policy::CompiledPolicy;
use sluice_policy::engine::Format;

fn policy() -> &'static CompiledPolicy {
    static P: OnceLock<CompiledPolicy> = OnceLock::new();
    P.get_or_init(support::model::differential_policy)
}

fuzz_target!(|data: &[u8]| {
    let [a, b, body @ ..] = data else { return };
    let format = [
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::Form,
        Format::Xml,
    ][usize::from(*a & 7) % 5];
    let cfg = || support::config(policy(), format);
    let n = body.len() + 1;
    let mut cuts = [usize::from(*a >> 1) * n / 128, usize::from(*b) * n / 256];
    cuts.sort_unstable();
    let whole = support::run_cfg(cfg(), body, &[]);
    let split = support::run_cfg(cfg(), body, &cuts);
    let bytewise: Vec<usize> = (1..body.len().min(64)).collect();
    let small = support::run_cfg(cfg(), body, &bytewise);
    for other in [&split, &small] {
        match (&whole, other) {
            (Ok((oa, sa)), Ok((ob, sb))) => assert!(oa == ob && sa == sb, "outputs differ"),
            (Err(va), Err(vb)) => assert_eq!(va, vb),
            _ => panic!(
                "verdicts differ: whole {:?}, split {:?}",
                whole.as_ref().err(),
                other.as_ref().err()
            ),
        }
    }
});
