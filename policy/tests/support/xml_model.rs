//! A namespace-aware DOM reference for the XML engine under one fixed contract
//! ([`differential_policy`]), for any input: the body parsed whole by `roxmltree` (a standard
//! non-validating parser), the contract applied to the tree, and the result reduced to a
//! canonical tree ([`Canon`]) that the engine's output must parse to. Used by the `xml_model`
//! fuzz target (`tests/fuzz`) and by the corpus test in `policy/tests/xml_properties.rs`.
//!
//! What the model knows of the contract, written out rather than read from the policy so that
//! a mistake in the policy compiler cannot hide in both: the root `{urn:n}r`; under it single
//! leaves `keep`, `name` (masked as a name), `mobile` (hashed), `note` (kept, mobile numbers
//! masked), `secret` (redacted), and `grp` holding repeating `item`s, each with a kept leaf `v`
//! and a kept unprefixed attribute `a`. Anything else is removed with its inside; text in a
//! container goes nowhere; a single child written twice is `duplicate_key`; an element inside a
//! leaf is `wrong_container`.

use roxmltree::{Document, Node};
use sluice_policy::CompiledPolicy;
use sluice_policy::rule::{Detector, HashAlg, MaskKind};

/// The namespace the contract's prefix `n` is bound to.
pub const NS: &str = "urn:n";

/// The contract the model applies.
pub fn differential_policy() -> CompiledPolicy {
    super::policy_with(
        "[namespaces]\nn = \"urn:n\"",
        "",
        r#""/n:r/n:keep" = "keep"
"/n:r/n:name" = "mask:name"
"/n:r/n:mobile" = "hash"
"/n:r/n:note" = { keep = "string", scan = ["mobile"] }
"/n:r/n:secret" = "redact"
"/n:r/n:grp/n:item[*]/n:v" = "keep"
"/n:r/n:grp/n:item[*]/@a" = "keep""#,
    )
}

/// A node of the canonical tree both sides are reduced to: names as `{namespace}local`,
/// attributes sorted, text as it reads (references decoded, CDATA merged), comments gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canon {
    El(String, Vec<(String, String)>, Vec<Canon>),
    Text(String),
}

fn expanded(ns: Option<&str>, local: &str) -> String {
    format!("{{{}}}{local}", ns.unwrap_or(""))
}

/// The canonical form of a parsed element (of the engine's output).
pub fn canon(node: Node<'_, '_>) -> Canon {
    let mut attrs: Vec<(String, String)> = node
        .attributes()
        .map(|a| (expanded(a.namespace(), a.name()), a.value().to_string()))
        .collect();
    attrs.sort();
    let mut children = Vec::new();
    for c in node.children() {
        if c.is_element() {
            children.push(canon(c));
        } else if c.is_text() {
            let t = c.text().unwrap_or_default();
            match children.last_mut() {
                Some(Canon::Text(prev)) => prev.push_str(t),
                _ => children.push(Canon::Text(t.to_string())),
            }
        }
    }
    let tag = node.tag_name();
    Canon::El(expanded(tag.namespace(), tag.name()), attrs, children)
}

/// Whether `node` is the element `{urn:n}local`.
fn is(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(NS) && node.tag_name().name() == local
}

/// A leaf's value: its text and CDATA, in order (comments dropped); an element inside is
/// `wrong_container`.
fn value(leaf: Node<'_, '_>) -> Result<String, &'static str> {
    let mut v = String::new();
    for c in leaf.children() {
        if c.is_element() {
            return Err("wrong_container");
        }
        if c.is_text() {
            v.push_str(c.text().unwrap_or_default());
        }
    }
    Ok(v)
}

/// A leaf as it goes out, under the policy's name.
fn leaf(local: &str, value: String) -> Canon {
    let children = if value.is_empty() {
        vec![]
    } else {
        vec![Canon::Text(value)]
    };
    Canon::El(expanded(Some(NS), local), vec![], children)
}

/// Refuses a second `{urn:n}local` among the children already seen.
fn once(seen: &mut Vec<&'static str>, local: &'static str) -> Result<(), &'static str> {
    if seen.contains(&local) {
        return Err("duplicate_key");
    }
    seen.push(local);
    Ok(())
}

/// The contract applied to a parsed document: `Ok(None)` when nothing goes out (a root the
/// contract does not list), `Err(code)` for the refusals the contract's shape makes.
pub fn reference(doc: &Document<'_>) -> Result<Option<Canon>, &'static str> {
    let keys = super::keys();
    let root = doc.root_element();
    if !is(root, "r") {
        return Ok(None);
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for c in root.children().filter(|c| c.is_element()) {
        let mut s = String::new();
        let local = match c.tag_name().name() {
            "keep" => "keep",
            "name" => "name",
            "mobile" => "mobile",
            "note" => "note",
            "secret" => "secret",
            "grp" => "grp",
            _ => continue,
        };
        if c.tag_name().namespace() != Some(NS) {
            continue;
        }
        once(&mut seen, local)?;
        if local == "grp" {
            out.push(group(c)?);
            continue;
        }
        let v = value(c)?;
        let v = match local {
            "keep" => v,
            "name" | "mobile" if v.is_empty() => v,
            "name" => {
                if sluice_policy::mask::mask(MaskKind::Name, &v, &mut s) {
                    s
                } else {
                    sluice_policy::mask::REDACTED.into()
                }
            }
            "mobile" => {
                keys.pseudonym.pseudonym(HashAlg::HmacSha256, &v, &mut s);
                s
            }
            "note" if sluice_policy::detect::scan(&[Detector::Mobile], &v, &mut s) > 0 => s,
            "note" => v,
            _ => sluice_policy::mask::REDACTED.into(),
        };
        out.push(leaf(local, v));
    }
    Ok(Some(Canon::El(expanded(Some(NS), "r"), vec![], out)))
}

/// `grp`: its `item`s, each with its unprefixed `a` and its one `v`.
fn group(grp: Node<'_, '_>) -> Result<Canon, &'static str> {
    let mut items = Vec::new();
    for item in grp.children().filter(|i| is(*i, "item")) {
        let attrs: Vec<(String, String)> = item
            .attributes()
            .filter(|a| a.name() == "a" && a.namespace().is_none())
            .map(|a| (expanded(None, "a"), a.value().to_string()))
            .collect();
        let mut seen = Vec::new();
        let mut inner = Vec::new();
        for v in item.children().filter(|v| is(*v, "v")) {
            once(&mut seen, "v")?;
            inner.push(leaf("v", value(v)?));
        }
        items.push(Canon::El(expanded(Some(NS), "item"), attrs, inner));
    }
    Ok(Canon::El(expanded(Some(NS), "grp"), vec![], items))
}

/// Refusals the model does not know about: the engine's documented stricter rules (processing
/// instructions, an encoding label, the limits) and what a kept value may not carry.
pub const STRICTER: &[&str] = &[
    "xml_forbidden",
    "invalid_encoding",
    "depth_exceeded",
    "token_too_long",
    "record_too_large",
];

/// A text with its line ends normalized as XML 1.0 §2.11 says a processor does before parsing
/// (CR LF and a lone CR as LF): done before roxmltree reads, since 0.20 leaves a CR before a
/// reference (`\r&amp;`).
fn line_ends(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The engine against the model on one body, whole and cut at `cut`: panics, saying where, when
/// the engine passes what `roxmltree` refuses, passes what the model refuses, writes what does
/// not parse or parses to another tree than the model's, refuses what the model passes for a
/// reason not in [`STRICTER`], or gives another answer cut than whole.
pub fn differential(policy: &CompiledPolicy, data: &[u8], cut: usize) {
    use sluice_policy::engine::Format;
    let got = super::run_cfg(super::config(policy, Format::Xml), data, &[]);
    let split = super::run_cfg(super::config(policy, Format::Xml), data, &[cut]);
    assert_eq!(
        split.as_ref().map(|(o, _)| o),
        got.as_ref().map(|(o, _)| o),
        "cut at {cut} the engine answers otherwise"
    );
    let text = std::str::from_utf8(data).ok().map(line_ends);
    // roxmltree 0.20 takes an attribute `p:xmlns` for a default namespace declaration (the
    // engine, as Namespaces in XML says, for an attribute in `p`'s namespace): no verdict here.
    if text.as_deref().is_some_and(|t| t.contains(":xmlns")) {
        return;
    }
    let parsed = match text.as_deref().map(Document::parse) {
        // roxmltree binds the `xml` prefix for attributes only; Namespaces in XML binds it for
        // element names too (the engine reads `<xml:a>` in the XML namespace): no verdict here.
        Some(Err(roxmltree::Error::UnknownNamespace(p, _))) if p == "xml" => return,
        Some(Ok(doc)) => Some(doc),
        _ => None,
    };
    match (&got, &parsed) {
        (Ok(_), None) => panic!("the engine passed what roxmltree refuses"),
        (Ok((out, _)), Some(doc)) => {
            let want = reference(doc)
                .unwrap_or_else(|e| panic!("the engine passed what the model refuses ({e})"));
            let out = std::str::from_utf8(out).expect("the output is UTF-8");
            match want {
                None => assert!(
                    !out.contains('<') || out.starts_with("<?xml") && out.matches('<').count() == 1,
                    "nothing is listed, yet elements went out: {out}"
                ),
                Some(want) => {
                    let out = line_ends(out);
                    let written = Document::parse(&out)
                        .unwrap_or_else(|e| panic!("the output does not parse ({e}): {out}"));
                    assert_eq!(canon(written.root_element()), want, "output: {out}");
                }
            }
        }
        (Err(v), Some(doc)) => {
            // roxmltree reads some malformed XML (a declaration's `version="0.0"` or `"1,0"`, a
            // namespace declared twice on one element), so `invalid_xml` and `duplicate_key` are
            // not checked against it: refusing more is failing closed.
            let code = v.kind.code();
            let stricter =
                STRICTER.contains(&code) || matches!(code, "invalid_xml" | "duplicate_key");
            match reference(doc) {
                Err(kind) => assert!(
                    kind == code || stricter,
                    "the model says {kind}, the engine {code}"
                ),
                Ok(_) => assert!(stricter, "the engine refused ({v}) what the model passes"),
            }
        }
        (Err(_), None) => {}
    }
}
