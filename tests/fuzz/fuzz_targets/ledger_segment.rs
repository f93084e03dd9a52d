//! The ledger's segment reader and entry decoder on arbitrary bytes: records are split, checked
//! and decoded or refused, never a panic; what scans as good is within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scan = sluice::ledger::segment::scan(data);
    assert!(scan.good_len as usize <= data.len());
    for entry in &scan.entries {
        let _ = sluice::ledger::Record::decode(entry);
    }
    let _ = sluice::ledger::Record::decode(data);
});
