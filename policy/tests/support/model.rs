//! A reference model of the engine for one policy, written directly from DESIGN §4 on top of
//! `serde_json` (with a visitor that keeps duplicate keys): the proptest differential and the
//! `engine_model` fuzz target compare the engine with it.

use std::collections::HashSet;

use serde_json::Value;

use super::policy;

/// A JSON value that keeps duplicate keys (serde_json's `Value` merges them).
#[derive(Debug, Clone)]
pub enum Raw {
    /// A scalar.
    Scalar(Value),
    /// An array.
    Array(Vec<Raw>),
    /// An object, members in order, duplicates kept.
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
    /// As a `serde_json` value.
    pub fn value(&self) -> Value {
        match self {
            Raw::Scalar(v) => v.clone(),
            Raw::Array(items) => Value::Array(items.iter().map(Raw::value).collect()),
            Raw::Object(kv) => {
                Value::Object(kv.iter().map(|(k, v)| (k.clone(), v.value())).collect())
            }
        }
    }

    /// Whether any object in it repeats a key.
    pub fn has_duplicates(&self) -> bool {
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
pub fn model(raw: &Raw) -> Result<Value, &'static str> {
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

pub fn differential_policy() -> sluice_policy::CompiledPolicy {
    policy(
        None,
        None,
        "\"$.a\" = \"keep\"\n\"$.b[*].c\" = { keep = \"string\", scan = [\"mobile\"] }\n\"$.b[*].n\" = { keep = \"number\", min = 0, max = 100 }\n\"$.d\" = { keep = \"subtree\" }\n\"$.e.f\" = \"redact\"",
    )
}
