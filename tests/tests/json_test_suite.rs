//! JSONTestSuite (`tests/corpora/JSONTestSuite/test_parsing/`) through the engine with a
//! keep-everything policy: every `y_` passes and re-emits an equivalent document, every `n_` and
//! every `i_` is a violation, nothing panics. `test_transform/`: what sluice does with each file
//! is asserted below, one expectation per file.

use sluice_policy::engine::Format;
use sluice_tests::{corpus, filter, keep_everything};

/// `y_` files sluice refuses on purpose: duplicate keys in a kept object are a parser-differential
/// attack (first-wins vs. last-wins), so they are violations even though RFC 8259 allows them.
const REFUSED_ON_PURPOSE: &[(&str, &str)] = &[
    ("y_object_duplicated_key.json", "duplicate_key"),
    ("y_object_duplicated_key_and_value.json", "duplicate_key"),
];

#[test]
fn test_parsing_corpus() {
    let dir = corpus("JSONTestSuite/test_parsing");
    let policy = keep_everything();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut y, mut n, mut i) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let body = std::fs::read(path).unwrap();
        let result = std::panic::catch_unwind(|| filter(&policy, Format::Json, &body));
        let Ok(result) = result else {
            failures.push(format!("{name}: PANIC"));
            continue;
        };
        match name.as_bytes()[0] {
            b'y' => {
                y += 1;
                if let Some((_, code)) = REFUSED_ON_PURPOSE.iter().find(|(f, _)| *f == name) {
                    match &result {
                        Err(v) if v.kind.code() == *code => {}
                        other => failures.push(format!("{name}: expected {code}, got {other:?}")),
                    }
                    continue;
                }
                match result {
                    Ok((out, _)) => {
                        let want: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        match serde_json::from_slice::<serde_json::Value>(&out) {
                            Ok(got) if got == want => {}
                            Ok(got) => {
                                failures.push(format!("{name}: re-emitted {got} for {want}"))
                            }
                            Err(e) => failures.push(format!(
                                "{name}: output is not JSON ({e}): {}",
                                String::from_utf8_lossy(&out)
                            )),
                        }
                        let ws_outside_strings = minified_violation(&out);
                        if let Some(at) = ws_outside_strings {
                            failures.push(format!("{name}: output not minified at byte {at}"));
                        }
                    }
                    Err(v) => failures.push(format!("{name}: refused ({v})")),
                }
            }
            b'n' | b'i' => {
                if name.starts_with('n') {
                    n += 1
                } else {
                    i += 1
                }
                if let Ok((out, _)) = result {
                    failures.push(format!(
                        "{name}: accepted, emitted {}",
                        String::from_utf8_lossy(&out)
                    ));
                }
            }
            _ => {}
        }
    }
    assert_eq!((y, n, i), (95, 188, 35), "corpus size changed");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Index of the first whitespace byte outside strings, if any.
fn minified_violation(out: &[u8]) -> Option<usize> {
    let (mut in_str, mut esc) = (false, false);
    for (i, &b) in out.iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
        } else if b == b'"' {
            in_str = true;
        } else if b.is_ascii_whitespace() {
            return Some(i);
        }
    }
    None
}

#[test]
fn test_transform_corpus() {
    let dir = corpus("JSONTestSuite/test_transform");
    let policy = keep_everything();
    // What sluice does with each: "=" re-emits the input byte-exact (minus whitespace), or the
    // reason code of the violation.
    let expected: &[(&str, &str)] = &[
        ("number_1.0.json", "="),
        ("number_1.000000000000000005.json", "="),
        ("number_1000000000000000.json", "="),
        ("number_10000000000000000999.json", "="),
        ("number_1e-999.json", "number_range"),
        ("number_1e6.json", "="),
        ("number_-9223372036854775808.json", "="),
        ("number_-9223372036854775809.json", "number_range"),
        ("number_9223372036854775807.json", "="),
        ("number_9223372036854775808.json", "="),
        ("object_key_nfc_nfd.json", "="),
        ("object_key_nfd_nfc.json", "="),
        ("object_same_key_different_values.json", "duplicate_key"),
        ("object_same_key_same_value.json", "duplicate_key"),
        ("object_same_key_unclear_values.json", "duplicate_key"),
        ("string_1_escaped_invalid_codepoint.json", "lone_surrogate"),
        ("string_1_invalid_codepoint.json", "invalid_utf8"),
        ("string_2_escaped_invalid_codepoints.json", "lone_surrogate"),
        ("string_2_invalid_codepoints.json", "invalid_utf8"),
        ("string_3_escaped_invalid_codepoints.json", "lone_surrogate"),
        ("string_3_invalid_codepoints.json", "invalid_utf8"),
        ("string_with_escaped_NULL.json", "="),
    ];
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every test_transform file has an expectation"
    );
    let mut failures = Vec::new();
    for (name, want) in expected {
        let body = std::fs::read(dir.join(name)).unwrap();
        let got = match filter(&policy, Format::Json, &body) {
            Ok((out, _)) => {
                let stripped: Vec<u8> = {
                    let text = String::from_utf8(body.clone()).unwrap();
                    text.trim().as_bytes().to_vec()
                };
                if out == stripped {
                    "=".to_string()
                } else {
                    format!("changed: {}", String::from_utf8_lossy(&out))
                }
            }
            Err(v) => v.kind.code().to_string(),
        };
        if got != *want {
            failures.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Split invariance over the whole corpus: every cut point of every file up to 512 bytes gives
/// the verdict and output of the file in one piece.
#[test]
fn test_parsing_corpus_is_split_invariant() {
    let dir = corpus("JSONTestSuite/test_parsing");
    let policy = keep_everything();
    let cfg = sluice_tests::config(&policy, Format::Json);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        if body.len() > 512 {
            continue;
        }
        let whole = sluice_tests::run_split(&cfg, &body, &[]);
        for cut in 0..=body.len() {
            let split = sluice_tests::run_split(&cfg, &body, &[cut]);
            assert_eq!(whole, split, "{} cut at {cut}", path.display());
        }
    }
}
