//! The reference records as an XML feed, and the naive DOM filter the XML engine is measured
//! against.
//!
//! Each record of [`crate::feed`] becomes a `<record>` in the namespace `urn:sluice:bench`:
//! members are elements, arrays are `<item>` children, strings escaped. The naive filter is the
//! straightforward one: the whole body parsed by `roxmltree` into a tree, each record's elements
//! looked up in the route's rules, the filtered tree written out again (with the same maskers
//! and keys as the engine).

use serde_json::Value;
use sluice_policy::engine::EngineKeys;
use sluice_policy::program::{FieldProgram, NodeId};

/// The feed's namespace.
pub const NS: &str = "urn:sluice:bench";

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn element(name: &str, v: &Value, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                element(k, v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                element("item", v, out);
            }
        }
        Value::String(s) => escape(s, out),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// An XML feed of at least `min_bytes`: the reference records (2 000 of them, repeated).
pub fn xml_feed(min_bytes: usize) -> Vec<u8> {
    let mut ndjson = Vec::new();
    crate::feed::generate(
        &mut ndjson,
        crate::feed::Shape::Ndjson,
        1,
        crate::feed::Amount::Records(2000),
    )
    .expect("writing to memory");
    let records: Vec<String> = ndjson
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut s = String::new();
            element("record", &serde_json::from_slice(l).expect("JSON"), &mut s);
            s.push('\n');
            s
        })
        .collect();
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"{NS}\"><records>\n");
    'outer: loop {
        for r in &records {
            out.push_str(r);
            if out.len() >= min_bytes {
                break 'outer;
            }
        }
    }
    out.push_str("</records></feed>\n");
    out.into_bytes()
}

/// The policy's name for an element of the feed.
fn key(program: &FieldProgram, node: roxmltree::Node<'_, '_>) -> Option<String> {
    let prefix = program.namespace_prefix(node.tag_name().namespace()?)?;
    Some(format!("{prefix}:{}", node.tag_name().name()))
}

fn write(
    program: &FieldProgram,
    keys: &EngineKeys,
    id: NodeId,
    el: roxmltree::Node<'_, '_>,
    out: &mut String,
) {
    let name = el.tag_name().name();
    let node = program.node(id);
    out.push('<');
    out.push_str(name);
    if el.parent().is_some_and(|p| p.is_root()) {
        out.push_str(&format!(" xmlns=\"{NS}\""));
    }
    out.push('>');
    if let Some(r) = node.rule {
        let text: String = el
            .descendants()
            .filter(|d| d.is_text())
            .filter_map(|d| d.text())
            .collect();
        escape(&crate::flat::apply_rule(program, keys, r, &text), out);
    } else {
        for child in el.children().filter(|c| c.is_element()) {
            let Some(k) = key(program, child) else {
                continue;
            };
            let Some((_, c)) = node.child(k.as_bytes()) else {
                continue;
            };
            let c = program.node(c).any.unwrap_or(c);
            write(program, keys, c, child, out);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// The naive XML filter: parse the whole body into a tree, filter it, write it out.
pub fn naive_xml(program: &FieldProgram, keys: &EngineKeys, body: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(body).expect("the feed is UTF-8");
    let doc = roxmltree::Document::parse(text).expect("the feed is XML");
    let mut out = String::with_capacity(body.len() / 2);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let root = doc.root_element();
    if let Some(k) = key(program, root)
        && let Some((_, id)) = program.node(program.root()).child(k.as_bytes())
    {
        write(program, keys, id, root, &mut out);
    }
    out.into_bytes()
}

/// The text of every leaf element, in document order: what two filters that agree share,
/// whatever white space and empty-element forms they write.
pub fn leaf_texts(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).expect("UTF-8");
    let doc = roxmltree::Document::parse(text).expect("XML");
    doc.descendants()
        .filter(|n| n.is_element() && !n.children().any(|c| c.is_element()))
        .map(|n| {
            (
                n.tag_name().name().to_string(),
                n.text().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
