//! The policy reader on arbitrary text: it loads (the same way twice) or it explains, naming the
//! file, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match sluice_policy::CompiledPolicy::load("fuzz.toml", text) {
            Ok(p) => {
                let again =
                    sluice_policy::CompiledPolicy::load("fuzz.toml", text).expect("loads twice");
                assert_eq!(p.version, again.version);
            }
            Err(e) => assert!(e.to_string().starts_with("fuzz.toml"), "{e}"),
        }
    }
});
