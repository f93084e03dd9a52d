//! The naive filter the engine is measured against: parse the whole body into a `serde_json`
//! DOM, build the filtered document, serialise it. Same rules, same maskers and keys as the
//! engine, so the difference is the shape of the work, not the work itself.

use serde_json::{Map, Value};
use sluice_policy::engine::EngineKeys;
use sluice_policy::mask::{REDACTED, mask};
use sluice_policy::program::{FieldProgram, NodeId};
use sluice_policy::rule::Action;

/// Filters `body` with `program` the DOM way.
pub fn filter(program: &FieldProgram, keys: &EngineKeys, body: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(body).expect("the workload is valid JSON");
    let out = apply(program, keys, program.root(), &v).unwrap_or(Value::Null);
    serde_json::to_vec(&out).expect("a Value serialises")
}

fn apply(program: &FieldProgram, keys: &EngineKeys, id: NodeId, v: &Value) -> Option<Value> {
    let node = program.node(id);
    if let Some(r) = node.rule {
        let mut s = String::new();
        return Some(match (&program.rules[r as usize].action, v) {
            (Action::Keep(k), Value::String(text)) if !k.scan.is_empty() => {
                if sluice_policy::detect::scan(&k.scan, text, &mut s) > 0 {
                    Value::String(s)
                } else {
                    v.clone()
                }
            }
            (Action::Keep(_), _) => v.clone(),
            (Action::Mask(m), Value::String(text)) => Value::String(if mask(*m, text, &mut s) {
                s
            } else {
                REDACTED.into()
            }),
            (Action::Hash(alg), Value::String(text)) => {
                keys.pseudonym.pseudonym(*alg, text, &mut s);
                Value::String(s)
            }
            _ => Value::String(REDACTED.into()),
        });
    }
    match v {
        Value::Object(map) if node.expects_object() => {
            let mut out = Map::new();
            for (k, child) in node.keys.iter().zip(&node.children) {
                let key = std::str::from_utf8(k).expect("keys are UTF-8");
                if let Some(val) = map.get(key).and_then(|x| apply(program, keys, *child, x)) {
                    out.insert(key.to_string(), val);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) if node.expects_array() => {
            let any = node.any.expect("array node");
            Some(Value::Array(
                items
                    .iter()
                    .filter_map(|x| apply(program, keys, any, x))
                    .collect(),
            ))
        }
        _ => None,
    }
}
