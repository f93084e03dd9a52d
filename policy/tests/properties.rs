//! Properties of the engine:
//! - split invariance: output and verdict do not depend on how the body is cut into chunks
//!   (every cut point, and every pair of cut points, for small bodies; random cuts for generated
//!   ones);
//! - a differential against a reference model built on `serde_json`: on grammatical input the
//!   engine passes exactly when the model does, and its output parses to the model's output.

mod support;

use proptest::prelude::*;
use serde_json::Value;
use sluice_policy::CompiledPolicy;
use sluice_policy::engine::{Format, Summary, Violation};
use support::model::{Raw, differential_policy, model};
use support::*;

fn same(
    a: &Result<(Vec<u8>, Summary), Violation>,
    b: &Result<(Vec<u8>, Summary), Violation>,
) -> bool {
    match (a, b) {
        (Ok((oa, sa)), Ok((ob, sb))) => oa == ob && sa == sb,
        (Err(va), Err(vb)) => va == vb,
        _ => false,
    }
}

const FIELDS: &str = r#""$.a" = "keep"
"$.b[*].c" = { keep = "string", scan = ["mobile"] }
"$.b[*].n" = { keep = "number", min = 0, max = 100 }
"$.d" = { keep = "subtree" }
"$.e.f" = "redact"
"$.m" = "mask:mobile"
"$.h" = "hash""#;

const CASES: &[&[u8]] = &[
    r#"{"a":"x\u0041\ud83d\ude00客","b":[{"c":"call 13860642414","n":5,"z":[1,{"q":"\"\\"}]}],"d":{"k":[true,null,-1.5e3]},"e":{"f":"s","g":2},"m":"13860642414","h":"x","zz":"ignored 客"}"#.as_bytes(),
    br#"{"a":1,"a":2}"#,
    br#"{"b":[{"n":101}]}"#,
    br#"{"b":{"c":1}}"#,
    br#"{"x":"\ud800"}"#,
    b"{\"x\":\"\xe5\xae\xa2\xe6\"}",
    br#"{"a":"abc"} x"#,
    br#"{"a":[1,2]}"#,
    br#"{"d":{"k":1,"k":2}}"#,
    br#"{"m":"\uff11\uff13\uff18\uff16\uff10\uff16\uff14\uff12\uff14\uff11\uff14"}"#,
    br#"  {"a" : 0.5e-3 , "b" : [ ] }  "#,
    br#"{"a":18446744073709551616}"#,
];

#[test]
fn every_cut_and_every_pair_of_cuts_gives_the_same_result() {
    let p = policy(None, None, FIELDS);
    for case in CASES {
        let body = *case;
        let case = String::from_utf8_lossy(body);
        let whole = run_cfg(config(&p, Format::Json), body, &[]);
        for a in 0..=body.len() {
            let r = run_cfg(config(&p, Format::Json), body, &[a]);
            assert!(same(&whole, &r), "{case}: cut at {a}: {r:?} vs {whole:?}");
            if body.len() <= 64 {
                for b in a..=body.len() {
                    let r = run_cfg(config(&p, Format::Json), body, &[a, b]);
                    assert!(same(&whole, &r), "{case}: cuts at {a},{b}");
                }
            }
        }
        // One byte at a time.
        let cuts: Vec<usize> = (1..body.len()).collect();
        assert!(
            same(&whole, &run_cfg(config(&p, Format::Json), body, &cuts)),
            "{case}: 1-byte chunks"
        );
    }
}

/// Members and stripped values that lie whole in one chunk take the fast paths (`engine/fast.rs`);
/// fed one byte at a time they take the automaton. Each case asserts the verdict and that both
/// ways agree, around the limits and grammar corners where the fast paths hand over.
#[test]
fn fast_paths_agree_with_the_automaton_on_whole_members() {
    use sluice_policy::engine::{Limits, ViolationKind as K};
    let p = policy(None, None, FIELDS);
    let dflt = Limits::default();
    let small = Limits {
        max_depth: 4,
        max_token_len: 8,
        max_keys_per_object: 2,
        ..Limits::default()
    };
    let (j, nd) = (Format::Json, Format::Ndjson);
    let cases: &[(Format, &Limits, &[u8], Option<K>)] = &[
        (j, &dflt, br#"{"zz":"\ud83d\ude00","a":1}"#, None),
        (
            j,
            &dflt,
            br#"{"zz":"\ud83d","a":1}"#,
            Some(K::LoneSurrogate),
        ),
        (
            j,
            &dflt,
            br#"{"zz":"\ud83dx\ude00"}"#,
            Some(K::LoneSurrogate),
        ),
        (j, &dflt, br#"{"zz":"\udc00"}"#, Some(K::LoneSurrogate)),
        (j, &dflt, br#"{"zz":"\x"}"#, Some(K::InvalidEscape)),
        (j, &dflt, br#"{"zz":"\u12g4"}"#, Some(K::InvalidEscape)),
        (
            j,
            &dflt,
            b"{\"zz\":\"tab\there\"}",
            Some(K::ControlCharacter),
        ),
        (j, &small, br#"{"zz":[[[1]]],"a":1}"#, None),
        (
            j,
            &small,
            br#"{"zz":[[[[1]]]],"a":1}"#,
            Some(K::DepthExceeded),
        ),
        (j, &small, br#"{"zz":"12345678","a":1}"#, None),
        (
            j,
            &small,
            br#"{"zz":"123456789","a":1}"#,
            Some(K::TokenTooLong),
        ),
        (j, &small, br#"{"zz":"123\"567","a":1}"#, None),
        (j, &small, br#"{"zz":12345678,"a":1}"#, None),
        (
            j,
            &small,
            br#"{"zz":123456789,"a":1}"#,
            Some(K::TokenTooLong),
        ),
        (j, &small, br#"{"123456789":1}"#, Some(K::TokenTooLong)),
        (j, &dflt, br#"{"zz":1e400}"#, Some(K::NumberRange)),
        (
            j,
            &dflt,
            br#"{"zz":18446744073709551616}"#,
            Some(K::NumberRange),
        ),
        (j, &dflt, br#"{"zz":-9223372036854775808,"a":1}"#, None),
        (j, &dflt, br#"{"zz":-0.000e-5,"y":0.0001e-303}"#, None),
        (j, &dflt, br#"{"zz":0.0001e-305}"#, Some(K::NumberRange)),
        (j, &dflt, br#"{"zz":01}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":1.}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":-}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":1e+}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":tru}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":[1,]}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":{"k":1,}}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":{"k" 1}}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz":[1}"#, Some(K::InvalidJson)),
        (j, &dflt, br#"{"zz" : "a" , "q" : 1 , "a" : 2 }"#, None),
        (
            j,
            &dflt,
            br#"{"zz":{"k":[true,false,null,{"q":"\/"}]},"a":2}"#,
            None,
        ),
        (j, &dflt, br#"{"zz":1,"zz":2,"a":3}"#, None),
        (j, &dflt, br#"{"a":1,"zz":2,"a":3}"#, Some(K::DuplicateKey)),
        (j, &dflt, br#"{"\u0061":5,"z\u007a":1}"#, None),
        (j, &dflt, br#"{"zz":"a"#, Some(K::Truncated)),
        (j, &dflt, br#"{"zz":1"#, Some(K::Truncated)),
        (j, &dflt, b"{\"zz\":[1,\n2],\n\"a\":1}", None),
        (nd, &dflt, b"{\"zz\":[1,\n2]}", Some(K::InvalidJson)),
        (
            nd,
            &dflt,
            b"{\"zz\":[1, 2],\n\"a\":1}",
            Some(K::InvalidJson),
        ),
        (nd, &dflt, b"{\"zz\":[1,\t2], \"a\":1}\r\n{\"a\":2}", None),
        (
            j,
            &dflt,
            br#"{"a":"x\"y","m":"13860642414","h":"a\u0062","zz":0}"#,
            None,
        ),
        (
            j,
            &dflt,
            br#"{"m":null,"h":null,"a":true,"e":{"f":1.5,"g":[]}}"#,
            None,
        ),
        (
            j,
            &dflt,
            br#"{"b":[{"c":"call 138 6064 2414","n":100}]}"#,
            None,
        ),
        (j, &dflt, br#"{"b":[{"n":101}]}"#, Some(K::OutOfRange)),
        (j, &dflt, br#"{"b":[{"n":"1"}]}"#, Some(K::TypeMismatch)),
        (j, &dflt, br#"{"b":[{"c":false}]}"#, Some(K::TypeMismatch)),
        (j, &dflt, br#"{"a":{"x":1}}"#, Some(K::TypeMismatch)),
        (j, &dflt, br#"{"e":7}"#, Some(K::WrongContainer)),
        (
            j,
            &dflt,
            br#"{"d":"whole","a":1,"a":2}"#,
            Some(K::DuplicateKey),
        ),
        (j, &small, br#"{"a":"12345678","m":12345678}"#, None),
        (j, &small, br#"{"a":"123456789"}"#, Some(K::TokenTooLong)),
        (j, &small, br#"{"m":123456789}"#, Some(K::TokenTooLong)),
        (
            j,
            &dflt,
            br#"{"d":{"k":[{"a":1},{"a":[]}],"x":{"y":null,"z":{}}}}"#,
            None,
        ),
        (
            j,
            &dflt,
            br#"{"d":{"k":[{"a":1,"a":2}]}}"#,
            Some(K::DuplicateKey),
        ),
        (
            j,
            &dflt,
            br#"{"d":{"k":[{"a":1,"\u0061":2}]}}"#,
            Some(K::DuplicateKey),
        ),
        (
            j,
            &dflt,
            br#"{"d":{"k":[ {"a" :1} ],"q":{"\u0061":1}}}"#,
            None,
        ),
        (j, &dflt, br#"{"d":{"k":[{"a":1},]}}"#, Some(K::InvalidJson)),
        (
            j,
            &dflt,
            br#"{"d":{"k":[{"a":"\ud800"}]}}"#,
            Some(K::LoneSurrogate),
        ),
        (j, &small, br#"{"d":{"k":[[1]]}}"#, None),
        (j, &small, br#"{"d":{"k":[[[1]]]}}"#, Some(K::DepthExceeded)),
        (j, &small, br#"{"d":{"k":{"a":1,"b":2}}}"#, None),
        (
            j,
            &small,
            br#"{"d":{"k":{"a":1,"b":2,"c":3}}}"#,
            Some(K::TooManyKeys),
        ),
        (nd, &dflt, b"{\"d\":{\"k\":[1,\n2]}}", Some(K::InvalidJson)),
    ];
    for (format, limits, body, want) in cases {
        let cfg = || {
            let mut c = config(&p, *format);
            c.limits = (*limits).clone();
            c
        };
        let case = String::from_utf8_lossy(body);
        let whole = run_cfg(cfg(), body, &[]);
        assert_eq!(
            whole.as_ref().err().map(|v| v.kind),
            *want,
            "{case}: {whole:?}"
        );
        let bytewise: Vec<usize> = (1..body.len()).collect();
        let slow = run_cfg(cfg(), body, &bytewise);
        assert!(same(&whole, &slow), "{case}: {whole:?} vs {slow:?}");
    }
}

/// A plain `keep` of a scalar type copies a whole member's value as written, straight from the
/// member loop; fed a byte at a time the value takes the automaton's token steps. Both must give
/// the same bytes, counts and type verdicts for every kind and spelling.
#[test]
fn values_kept_as_written_agree_with_the_automaton() {
    use sluice_policy::engine::ViolationKind as K;
    let p = policy(
        None,
        None,
        r#""$.any" = "keep"
"$.s" = { keep = "string" }
"$.n" = { keep = "number" }
"$.b" = { keep = "boolean" }
"$.z" = { keep = "null" }
"$.o.k" = "keep""#,
    );
    let kept = r#"{"any":"a\u0041\"客","s":"\ud83d\ude00\/","n":-1.5E+3,"b":false,"z":null,"o":{"k":true},"x":1}"#.as_bytes();
    // A body, and the output it gives or the violation.
    type Case<'a> = (&'a [u8], Result<&'a [u8], K>);
    let cases: &[Case<'_>] = &[
        (
            kept,
            Ok(r#"{"any":"a\u0041\"客","s":"\ud83d\ude00\/","n":-1.5E+3,"b":false,"z":null,"o":{"k":true}}"#.as_bytes()),
        ),
        (
            br#"{ "any" : 0 , "n" : 12345678901234567890 , "o" : { "k" : null } }"#,
            Ok(br#"{"any":0,"n":12345678901234567890,"o":{"k":null}}"#),
        ),
        (br#"{"any":[1]}"#, Err(K::TypeMismatch)),
        (br#"{"s":1}"#, Err(K::TypeMismatch)),
        (br#"{"n":"1"}"#, Err(K::TypeMismatch)),
        (br#"{"b":null}"#, Err(K::TypeMismatch)),
        (br#"{"z":false}"#, Err(K::TypeMismatch)),
        (br#"{"n":1,"n":1}"#, Err(K::DuplicateKey)),
    ];
    for (body, want) in cases {
        let case = String::from_utf8_lossy(body);
        let whole = run_cfg(config(&p, Format::Json), body, &[]);
        match (want, &whole) {
            (Ok(out), Ok((got, summary))) => {
                assert_eq!(
                    String::from_utf8_lossy(got),
                    String::from_utf8_lossy(out),
                    "{case}"
                );
                let kept: u64 = summary.fields.iter().map(|f| f.kept).sum();
                let members = out.windows(2).filter(|w| w == b"\":").count() as u64 - 1;
                assert_eq!(kept, members, "{case}: every kept member counted once");
            }
            (Err(kind), Err(v)) => assert_eq!(v.kind, *kind, "{case}"),
            _ => panic!("{case}: {whole:?}"),
        }
        let bytewise: Vec<usize> = (1..body.len()).collect();
        let slow = run_cfg(config(&p, Format::Json), body, &bytewise);
        assert!(same(&whole, &slow), "{case}: {whole:?} vs {slow:?}");
    }
}

/// Numbers read whole skip the range arithmetic for short plain shapes (no exponent, at most 18
/// integer digits, fewer than 300 fraction digits); on each side of those bounds the verdict
/// must still be the automaton's.
#[test]
fn whole_numbers_at_the_shortcut_bounds_agree_with_the_automaton() {
    use sluice_policy::engine::ViolationKind as K;
    let p = policy(None, None, FIELDS);
    let zeros = |n: usize| "0".repeat(n);
    // (number, verdict when stripped, verdict when kept: a kept number may not carry more
    // significant digits than binary64 holds).
    let cases: Vec<(String, Option<K>, Option<K>)> = vec![
        ("123456789012345678".into(), None, None),
        ("-123456789012345678".into(), None, None),
        ("18446744073709551615".into(), None, None),
        (
            "18446744073709551616".into(),
            Some(K::NumberRange),
            Some(K::NumberRange),
        ),
        ("-9223372036854775808".into(), None, None),
        (
            "-9223372036854775809".into(),
            Some(K::NumberRange),
            Some(K::NumberRange),
        ),
        ("1234567890123456789.5".into(), None, Some(K::NumberRange)),
        ("1234567890123456.5".into(), None, None),
        (
            format!("1{}.5", zeros(309)),
            Some(K::NumberRange),
            Some(K::NumberRange),
        ),
        (format!("1{}.5", zeros(308)), None, Some(K::NumberRange)),
        (format!("1{}e292", zeros(15)), None, None),
        (format!("0.{}1", zeros(298)), None, None),
        (format!("0.{}1", zeros(306)), None, None),
        (
            format!("0.{}1", zeros(307)),
            Some(K::NumberRange),
            Some(K::NumberRange),
        ),
        (format!("-0.{}", zeros(400)), None, Some(K::NumberRange)),
        (format!("-0.{}", zeros(17)), None, None),
        ("0.5e3".into(), None, None),
        ("12.".into(), Some(K::InvalidJson), Some(K::InvalidJson)),
        ("-01".into(), Some(K::InvalidJson), Some(K::InvalidJson)),
    ];
    for (number, stripped, kept) in cases {
        // Stripped (`zz`) and kept (`a`).
        for (key, want) in [("zz", stripped), ("a", kept)] {
            let body = format!(r#"{{"{key}":{number},"q":1}}"#);
            let whole = run_cfg(config(&p, Format::Json), body.as_bytes(), &[]);
            assert_eq!(
                whole.as_ref().err().map(|v| v.kind),
                want,
                "{key}: {number}"
            );
            let bytewise: Vec<usize> = (1..body.len()).collect();
            let slow = run_cfg(config(&p, Format::Json), body.as_bytes(), &bytewise);
            assert!(
                same(&whole, &slow),
                "{key}: {number}: {whole:?} vs {slow:?}"
            );
        }
    }
}

/// Containers kept whole (at a `keep = "subtree"` node, or inside one) are copied in one go when
/// they lie whole in the chunk; records, counts and verdicts must be the automaton's.
#[test]
fn whole_kept_containers_agree_with_the_automaton() {
    use sluice_policy::engine::ViolationKind as K;
    let root = policy(None, None, "\"$\" = { keep = \"subtree\" }");
    let records = policy(
        Some("$.rs[*]"),
        None,
        "\"$.rs[*]\" = { keep = \"subtree\" }",
    );
    let (j, nd) = (Format::Json, Format::Ndjson);
    /// Policy, format, body, and (records, values counted kept) or the violation.
    type Case<'a> = (&'a CompiledPolicy, Format, &'a [u8], Result<(u64, u64), K>);
    let cases: &[Case<'_>] = &[
        (
            &root,
            nd,
            b"{\"a\":1,\"b\":[1,2]}\n{\"c\":{\"d\":null}}\r\n\n[1,2]\n",
            Ok((3, 3)),
        ),
        (
            &root,
            nd,
            b"{\"a\":1}\n{\"a\":1,\"a\":2}\n",
            Err(K::DuplicateKey),
        ),
        (&root, nd, b"{\"a\": 1}\n{\"b\":{\"c\" :[]}}", Ok((2, 2))),
        (
            &root,
            nd,
            b"{\"a\":1}\n{\"a\":[1,\n2]}",
            Err(K::InvalidJson),
        ),
        (&root, j, br#"{"a":[{"b":1}],"c":"x"}"#, Ok((0, 1))),
        (
            &root,
            j,
            br#"[{"a":1},{"a":1,"a":2}]"#,
            Err(K::DuplicateKey),
        ),
        (
            &records,
            j,
            br#"{"rs":[{"a":1},{"b":[2]},[]],"n":1}"#,
            Ok((3, 3)),
        ),
        (
            &records,
            j,
            br#"{"rs":[{"a":1},{"b":[2],"b":3}]}"#,
            Err(K::DuplicateKey),
        ),
    ];
    for (p, format, body, want) in cases {
        let case = String::from_utf8_lossy(body);
        let whole = run_cfg(config(p, *format), body, &[]);
        let got = whole.as_ref().map_err(|v| v.kind).map(|(_, s)| {
            let kept: u64 = s.fields.iter().map(|f| f.kept).sum();
            (s.records, kept)
        });
        assert_eq!(got, *want, "{case}");
        let bytewise: Vec<usize> = (1..body.len()).collect();
        let slow = run_cfg(config(p, *format), body, &bytewise);
        assert!(same(&whole, &slow), "{case}: {whole:?} vs {slow:?}");
    }
}

#[test]
fn ndjson_split_invariance_with_consent_holding() {
    let p = policy(
        Some("$.rs[*]"),
        Some("$.rs[*].id"),
        "\"$.rs[*].id\" = \"hash\"\n\"$.rs[*].v\" = \"keep\"",
    );
    let withdrawn = keys().subject.subject_hash("2");
    let body = b"{\"id\":\"1\",\"v\":1}\r\n\n{\"v\":\"x\",\"id\":\"2\"}\n{\"id\":\"3\",\"v\":null}";
    let cfg = || {
        with_consent(
            config(&p, Format::Ndjson),
            sluice_policy::consent::ConsentList::from_hashes([withdrawn]),
        )
    };
    let whole = run_cfg(cfg(), body, &[]);
    let (out, s) = whole.as_ref().unwrap();
    assert_eq!(s.records_dropped, 1);
    assert_eq!(String::from_utf8_lossy(out).lines().count(), 2);
    for a in 0..=body.len() {
        for b in a..=body.len() {
            assert!(same(&whole, &run_cfg(cfg(), body, &[a, b])), "cuts {a},{b}");
        }
    }
}

// ---- generated documents ----

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("c".to_string()),
        Just("d".to_string()),
        Just("e".to_string()),
        Just("f".to_string()),
        Just("n".to_string()),
        Just("x".to_string()),
        Just("\\u0061".to_string()),
        Just("\\u0063".to_string()),
    ]
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        (-200i64..200).prop_map(|n| n.to_string()),
        (0u32..1000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
        Just("1e2".to_string()),
        Just("\"\"".to_string()),
        Just("\"s\"".to_string()),
        Just("\"13860642414\"".to_string()),
        Just("\"\\u5ba2\\\"\\\\ x\"".to_string()),
        Just("\"客户\"".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..5).prop_map(|kv| {
                let members: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..6).prop_map(|kv| {
        let members: Vec<String> = kv
            .into_iter()
            .map(|(k, v)| format!("\"{k}\" : {v}"))
            .collect();
        format!(" {{ {} }}", members.join(" , "))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_reference_model(doc in document()) {
        let p = differential_policy();
        let raw: Raw = serde_json::from_str(&doc).expect("generated documents are grammatical");
        let want = model(&raw);
        let got = run(&p, Format::Json, &doc);
        match (&want, &got) {
            (Ok(w), Ok((out, _))) => {
                let parsed: Value = serde_json::from_str(out).expect("engine output is JSON");
                prop_assert_eq!(&parsed, w, "doc {}", doc);
            }
            (Err(kind), Err(v)) => prop_assert_eq!(*kind, v.kind.code(), "doc {}", doc),
            _ => prop_assert!(false, "doc {}: model {:?}, engine {:?}", doc, want, got),
        }
    }

    #[test]
    fn random_cuts_never_change_the_result(doc in document(), cuts in prop::collection::vec(0usize..400, 0..8)) {
        let p = differential_policy();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = run_cfg(config(&p, Format::Json), doc.as_bytes(), &[]);
        let split = run_cfg(config(&p, Format::Json), doc.as_bytes(), &cuts);
        prop_assert!(same(&whole, &split), "doc {} cuts {:?}", doc, cuts);
    }
}
