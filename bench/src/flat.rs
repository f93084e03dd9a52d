//! The reference records as CSV and forms, and the naive filters the engines are measured
//! against.
//!
//! Each record of [`crate::feed`] is flattened to one text value per member: scalars as written
//! (strings unescaped), members of nested objects as `outer.inner`, arrays and deeper objects as
//! their JSON text. The CSV feed is a header and one row per record written by the `csv` crate;
//! a form is one record written by `form_urlencoded`. The naive filters read whole records with
//! the same crates, apply the same rules (the same maskers and keys) and write them back: the
//! difference measured is the shape of the work.

use serde_json::Value;
use sluice_policy::engine::EngineKeys;
use sluice_policy::mask::{REDACTED, mask};
use sluice_policy::program::{FieldProgram, NodeId};
use sluice_policy::rule::Action;

/// The first `n` reference records (seed 1), flattened: column names and rows of values.
pub fn records(n: u64) -> (Vec<String>, Vec<Vec<String>>) {
    let mut ndjson = Vec::new();
    crate::feed::generate(
        &mut ndjson,
        crate::feed::Shape::Ndjson,
        1,
        crate::feed::Amount::Records(n),
    )
    .expect("writing to memory");
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).expect("the feed is JSON");
        let mut cells: Vec<(String, String)> = Vec::new();
        for (k, v) in v.as_object().expect("a record is an object") {
            match v {
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        cells.push((format!("{k}.{k2}"), text(v2)));
                    }
                }
                other => cells.push((k.clone(), text(other))),
            }
        }
        if columns.is_empty() {
            columns = cells.iter().map(|(k, _)| k.clone()).collect();
        }
        let row = columns
            .iter()
            .map(|c| {
                cells
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        rows.push(row);
    }
    (columns, rows)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A CSV feed of at least `min_bytes`: the header and rows of the reference records, repeated.
pub fn csv_feed(min_bytes: usize) -> Vec<u8> {
    let (columns, rows) = records(2000);
    let mut w = csv::Writer::from_writer(Vec::with_capacity(min_bytes + (1 << 16)));
    w.write_record(&columns).expect("writing to memory");
    let mut written = 0;
    'outer: loop {
        for row in &rows {
            w.write_record(row).expect("writing to memory");
            written += row.iter().map(|c| c.len() + 1).sum::<usize>();
            if written >= min_bytes {
                break 'outer;
            }
        }
    }
    w.into_inner().expect("flushing to memory")
}

/// `n` form bodies, one reference record each.
pub fn form_bodies(n: u64) -> Vec<Vec<u8>> {
    let (columns, rows) = records(n);
    rows.iter()
        .map(|row| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in columns.iter().zip(row) {
                s.append_pair(k, v);
            }
            s.finish().into_bytes()
        })
        .collect()
}

/// The record node the flat formats match at.
fn object(program: &FieldProgram) -> NodeId {
    program.record_node.unwrap_or(program.root())
}

/// The rule at member `name` applied to `value`, the straightforward way; `None` strips it.
fn apply(program: &FieldProgram, keys: &EngineKeys, name: &str, value: &str) -> Option<String> {
    let (_, n) = program.node(object(program)).child(name.as_bytes())?;
    let r = program.node(n).rule?;
    Some(apply_rule(program, keys, r, value))
}

/// Rule `r` applied to a text value, as the engines apply it to CSV cells, form values and XML
/// text (an empty value stays empty under a mask or hash), with the same maskers and keys.
pub fn apply_rule(program: &FieldProgram, keys: &EngineKeys, r: u32, value: &str) -> String {
    let mut s = String::new();
    match &program.rules[r as usize].action {
        Action::Keep(k) if !k.scan.is_empty() => {
            if sluice_policy::detect::scan(&k.scan, value, &mut s) > 0 {
                s
            } else {
                value.to_string()
            }
        }
        Action::Keep(_) => value.to_string(),
        _ if value.is_empty() => String::new(),
        Action::Mask(m) => {
            if mask(*m, value, &mut s) {
                s
            } else {
                REDACTED.into()
            }
        }
        Action::Hash(alg) => {
            keys.pseudonym.pseudonym(*alg, value, &mut s);
            s
        }
        Action::Redact => REDACTED.into(),
    }
}

/// The naive CSV filter: every record read whole by the `csv` crate, filtered, written back.
pub fn naive_csv(program: &FieldProgram, keys: &EngineKeys, body: &[u8]) -> Vec<u8> {
    let mut rd = csv::Reader::from_reader(body);
    let header = rd.headers().expect("a header").clone();
    let mut w = csv::Writer::from_writer(Vec::with_capacity(body.len()));
    let mut out_row: Vec<String> = header
        .iter()
        .filter(|name| apply(program, keys, name, "").is_some())
        .map(str::to_string)
        .collect();
    w.write_record(&out_row).expect("writing to memory");
    for record in rd.records() {
        let record = record.expect("the feed is CSV");
        out_row.clear();
        for (name, value) in header.iter().zip(record.iter()) {
            if let Some(v) = apply(program, keys, name, value) {
                out_row.push(v);
            }
        }
        w.write_record(&out_row).expect("writing to memory");
    }
    w.into_inner().expect("flushing to memory")
}

/// The naive form filter: pairs decoded by `form_urlencoded`, filtered, serialised again.
pub fn naive_form(program: &FieldProgram, keys: &EngineKeys, body: &[u8]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(body) {
        if let Some(v) = apply(program, keys, &k, &v) {
            s.append_pair(&k, &v);
        }
    }
    s.finish().into_bytes()
}
