//! Properties of the engine:
//! - split invariance: output and verdict do not depend on how the body is cut into chunks
//!   (every cut point, and every pair of cut points, for small bodies; random cuts for generated
//!   ones);
//! - a differential against a reference model built on `serde_json`: on grammatical input the
//!   engine passes exactly when the model does, and its output parses to the model's output.

mod support;

use std::collections::HashSet;

use proptest::prelude::*;
use serde_json::Value;
use sluice_policy::engine::{Format, Summary, Violation};
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

/// A JSON value that keeps duplicate keys (serde_json's `Value` merges them).
#[derive(Debug, Clone)]
enum Raw {
    Scalar(Value),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

impl<'de> serde::Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(Raw::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Scalar(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Raw::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, Raw>()? {
                    v.push((k, x));
                }
                Ok(Raw::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Raw {
    fn value(&self) -> Value {
        match self {
            Raw::Scalar(v) => v.clone(),
            Raw::Array(items) => Value::Array(items.iter().map(Raw::value).collect()),
            Raw::Object(kv) => {
                Value::Object(kv.iter().map(|(k, v)| (k.clone(), v.value())).collect())
            }
        }
    }

    fn has_duplicates(&self) -> bool {
        match self {
            Raw::Scalar(_) => false,
            Raw::Array(items) => items.iter().any(Raw::has_duplicates),
            Raw::Object(kv) => {
                let mut seen = HashSet::new();
                kv.iter()
                    .any(|(k, v)| !seen.insert(k) || v.has_duplicates())
            }
        }
    }
}

/// The reference model of [`FIELDS`], written directly from the semantics in DESIGN §4. The first
/// violation in document order wins, as in the engine.
fn model(raw: &Raw) -> Result<Value, &'static str> {
    let Raw::Object(top) = raw else {
        return Err("wrong_container");
    };
    let mut out = serde_json::Map::new();
    let mut seen = HashSet::new();
    for (k, v) in top {
        if matches!(k.as_str(), "a" | "b" | "d" | "e") && !seen.insert(k.clone()) {
            return Err("duplicate_key");
        }
        let kept = match k.as_str() {
            "a" => {
                let Raw::Scalar(s) = v else {
                    return Err("type_mismatch");
                };
                s.clone()
            }
            "b" => {
                let Raw::Array(items) = v else {
                    return Err("wrong_container");
                };
                let mut arr = Vec::new();
                for item in items {
                    let Raw::Object(kv) = item else {
                        return Err("wrong_container");
                    };
                    let mut o = serde_json::Map::new();
                    let mut seen_inner = HashSet::new();
                    for (ik, iv) in kv {
                        if !matches!(ik.as_str(), "c" | "n") {
                            continue;
                        }
                        if !seen_inner.insert(ik.clone()) {
                            return Err("duplicate_key");
                        }
                        let Raw::Scalar(s) = iv else {
                            return Err("type_mismatch");
                        };
                        if ik == "c" {
                            let Value::String(text) = s else {
                                return Err("type_mismatch");
                            };
                            let mut masked = String::new();
                            let n = sluice_policy::detect::scan(
                                &[sluice_policy::rule::Detector::Mobile],
                                text,
                                &mut masked,
                            );
                            o.insert(
                                ik.clone(),
                                Value::String(if n > 0 { masked } else { text.clone() }),
                            );
                        } else {
                            let Value::Number(num) = s else {
                                return Err("type_mismatch");
                            };
                            let f = num.as_f64().unwrap();
                            if !(0.0..=100.0).contains(&f) {
                                return Err("out_of_range");
                            }
                            o.insert(ik.clone(), s.clone());
                        }
                    }
                    arr.push(Value::Object(o));
                }
                Value::Array(arr)
            }
            "d" => {
                if v.has_duplicates() {
                    return Err("duplicate_key");
                }
                v.value()
            }
            "e" => {
                let Raw::Object(kv) = v else {
                    return Err("wrong_container");
                };
                let mut o = serde_json::Map::new();
                let mut seen_inner = HashSet::new();
                for (ik, iv) in kv {
                    if ik != "f" {
                        continue;
                    }
                    if !seen_inner.insert(ik.clone()) {
                        return Err("duplicate_key");
                    }
                    if !matches!(iv, Raw::Scalar(_)) {
                        return Err("type_mismatch");
                    }
                    o.insert("f".into(), Value::String("[REDACTED]".into()));
                }
                Value::Object(o)
            }
            _ => continue,
        };
        out.insert(k.clone(), kept);
    }
    Ok(Value::Object(out))
}

fn differential_policy() -> sluice_policy::CompiledPolicy {
    policy(
        None,
        None,
        "\"$.a\" = \"keep\"\n\"$.b[*].c\" = { keep = \"string\", scan = [\"mobile\"] }\n\"$.b[*].n\" = { keep = \"number\", min = 0, max = 100 }\n\"$.d\" = { keep = \"subtree\" }\n\"$.e.f\" = \"redact\"",
    )
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
