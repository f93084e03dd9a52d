//! The XML engine through the public `Redactor`: paths by namespace, default deny for elements
//! and attributes, byte-exact leaves, every rule kind, the refusals (XXE and entity expansion
//! among them), records and consent, and split invariance.

mod support;

use sluice_policy::CompiledPolicy;
use sluice_policy::consent::ConsentList;
use sluice_policy::engine::{Charset, Format};
use support::{config, keys, policy_text, policy_with, run_cfg, with_consent};

const NS: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03";

/// A one-route policy over a pain.001-like credit transfer.
fn pain() -> CompiledPolicy {
    policy_with(
        &format!("[namespaces]\ndoc = \"{NS}\""),
        r#"formats = ["xml"]
records = "/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]"
subject = "/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Dbtr/doc:Id""#,
        r#""/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:PmtInfId" = "keep"
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Dbtr/doc:Nm" = "mask:name"
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:DbtrAcct/doc:Id" = "mask:bank_card"
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Amt" = { keep = "number", min = 0 }
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Amt/@Ccy" = "keep"
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Rmt" = { keep = "string", scan = ["mobile"] }
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Secret" = "redact"
"/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Raw" = { keep = "subtree", plaintext_reason = "test" }"#,
    )
}

fn xml(input: &str) -> Result<String, String> {
    run_cfg(config(&pain(), Format::Xml), input.as_bytes(), &[])
        .map(|(o, _)| String::from_utf8(o).expect("UTF-8"))
        .map_err(|v| v.to_string())
}

/// `input` through `policy`'s XML route, which must pass.
fn filtered(policy: &CompiledPolicy, input: &str) -> String {
    let (out, _) = run_cfg(config(policy, Format::Xml), input.as_bytes(), &[])
        .unwrap_or_else(|v| panic!("{v}: {input}"));
    String::from_utf8(out).expect("UTF-8")
}

fn doc(pmt: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}"><CstmrCdtTrfInitn><GrpHdr><MsgId>M-1</MsgId><CreDtTm>2026-12-06</CreDtTm></GrpHdr>{pmt}</CstmrCdtTrfInitn></Document>"#
    )
}

const PMT: &str = r#"<PmtInf><PmtInfId>P1</PmtInfId><Dbtr><Nm>欧阳明轩</Nm><Id>310115197511030084</Id><PstlAdr>上海</PstlAdr></Dbtr><DbtrAcct><Id>6222020000000005645</Id></DbtrAcct><Amt Ccy="CNY" Note="x">100.50</Amt><Rmt>call 13812345678</Rmt><Secret>s</Secret></PmtInf>"#;

#[test]
fn elements_and_attributes_no_rule_lists_are_removed_and_leaves_go_out_as_written() {
    let out = xml(&doc(PMT)).unwrap();
    assert_eq!(
        out,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><doc:Document xmlns:doc="{NS}"><doc:CstmrCdtTrfInitn><doc:PmtInf><doc:PmtInfId>P1</doc:PmtInfId><doc:Dbtr><doc:Nm>欧阳**</doc:Nm></doc:Dbtr><doc:DbtrAcct><doc:Id>622202*********5645</doc:Id></doc:DbtrAcct><doc:Amt Ccy="CNY">100.50</doc:Amt><doc:Rmt>call 138****5678</doc:Rmt><doc:Secret>[REDACTED]</doc:Secret></doc:PmtInf></doc:CstmrCdtTrfInitn></doc:Document>"#
        )
    );
    let (_, summary) = run_cfg(config(&pain(), Format::Xml), doc(PMT).as_bytes(), &[]).unwrap();
    assert_eq!(summary.records, 1);
    assert_eq!(summary.subject_count, 1);
    let nm = summary
        .field("/doc:Document/doc:CstmrCdtTrfInitn/doc:PmtInf[*]/doc:Dbtr/doc:Nm")
        .expect("counted under the path as written");
    assert_eq!(nm.masked, 1);
}

#[test]
fn names_match_by_namespace_whatever_the_prefix_the_document_uses() {
    let prefixed = doc(PMT)
        .replace(
            &format!("<Document xmlns=\"{NS}\">"),
            &format!("<p:Document xmlns:p=\"{NS}\">"),
        )
        .replace("</Document>", "</p:Document>")
        .replace("<", "<p:")
        .replace("<p:/", "</p:")
        .replace("<p:?xml", "<?xml")
        .replace("<p:p:", "<p:")
        .replace("</p:p:", "</p:");
    let out = xml(&prefixed).unwrap_or_else(|e| panic!("{e}: {prefixed}"));
    // Under the policy's prefix, whatever the document's.
    assert!(out.contains("<doc:Nm>欧阳**</doc:Nm>"), "{out}");
    assert!(!out.contains("p:"), "{out}");
    assert!(!out.contains("310115197511030084") && !out.contains("上海"));
    // The same names in another namespace match nothing: everything is removed.
    let other = doc(PMT).replace(NS, "urn:other");
    let out = xml(&other).unwrap();
    assert!(
        out.ends_with("<Document xmlns=\"urn:other\"></Document>") || !out.contains("<Nm>"),
        "{out}"
    );
    assert!(!out.contains("欧阳"));
}

#[test]
fn cdata_and_references_are_values_and_kept_ones_stay_as_written() {
    let pmt = PMT
        .replace(
            "<PmtInfId>P1</PmtInfId>",
            "<PmtInfId>P&amp;1<![CDATA[<x>]]></PmtInfId>",
        )
        .replace("<Nm>欧阳明轩</Nm>", "<Nm><![CDATA[欧阳]]>&#26126;轩</Nm>");
    let out = xml(&doc(&pmt)).unwrap();
    assert!(
        out.contains("<doc:PmtInfId>P&amp;1<![CDATA[<x>]]></doc:PmtInfId>"),
        "{out}"
    );
    assert!(out.contains("<doc:Nm>欧阳**</doc:Nm>"), "{out}");
}

#[test]
fn a_repeated_element_needs_its_path_to_say_so() {
    let twice = doc(&PMT.replace(
        "<PmtInfId>P1</PmtInfId>",
        "<PmtInfId>P1</PmtInfId><PmtInfId>P2</PmtInfId>",
    ));
    assert!(xml(&twice).unwrap_err().starts_with("duplicate_key"));
    // PmtInf[*] may repeat: two records.
    let two = doc(&format!("{PMT}{}", PMT.replace("P1", "P2")));
    let (_, s) = run_cfg(config(&pain(), Format::Xml), two.as_bytes(), &[]).unwrap();
    assert_eq!(s.records, 2);
}

#[test]
fn a_subtree_kept_whole_goes_out_as_written_and_a_leaf_with_children_is_refused() {
    let raw = r#"<Raw a="1"><!-- c --><X>y</X> z</Raw>"#;
    let out = xml(&doc(&PMT.replace("<Secret>s</Secret>", raw))).unwrap();
    // As written, declaring again the default namespace it was read in.
    assert!(
        out.contains(&format!(r#"<Raw xmlns="{NS}" a="1"><X>y</X> z</Raw>"#)),
        "{out}"
    );
    let nested = doc(&PMT.replace("<Nm>欧阳明轩</Nm>", "<Nm><First>欧阳</First></Nm>"));
    assert!(xml(&nested).unwrap_err().starts_with("wrong_container"));
}

#[test]
fn what_xml_parsers_read_differently_or_dangerously_is_refused() {
    let d = doc(PMT);
    let cases: Vec<(String, &str)> = vec![
        // XXE and entity expansion: no document type, so no entity, is ever read.
        (format!("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}", &d[39..]), "xml_forbidden"),
        ("<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>".into(), "xml_forbidden"),
        (d.replace("<MsgId>M-1", "<MsgId>&lol2;M-1"), "xml_forbidden"),
        (d.replace("<GrpHdr>", "<?php x?><GrpHdr>"), "xml_forbidden"),
        (d.replace("</MsgId>", "</MsgID>"), "invalid_xml"),
        (d.replace("Ccy=\"CNY\"", "Ccy=\"CNY\" Ccy=\"USD\""), "duplicate_key"),
        (d.replace("Ccy=\"CNY\"", "xmlns:a=\"u\" xmlns:b=\"u\" a:k=\"1\" b:k=\"2\""), "duplicate_key"),
        (d.replace("<Rmt>", "<q:Rmt>").replace("</Rmt>", "</q:Rmt>"), "invalid_xml"),
        (d.replace("Ccy=\"CNY\"", "Ccy=\"<\""), "invalid_xml"),
        (format!("{d}<Document/>"), "trailing_data"),
        (format!("{d}text"), "trailing_data"),
        (d.replace("encoding=\"UTF-8\"", "encoding=\"GBK\""), "invalid_encoding"),
        (d.replace("</Document>", ""), "truncated"),
        (String::new(), "empty_body"),
        (d.replace("M-1", "M\u{1}1"), "control_character"),
        (d.replace("M-1", "M&#0;1"), "invalid_xml"),
        (d.replace("M-1", "M]]>1"), "invalid_xml"),
        (d.replace("<GrpHdr>", "<!-- a -- b --><GrpHdr>"), "invalid_xml"),
        (d.replace("<MsgId>", "<MsgId >").replace("<GrpHdr>", "<GrpHdr x=1>"), "invalid_xml"),
        (d.replace("100.50", "-1"), "out_of_range"),
        // A declaration without its version (found by the xml_model fuzz target: read as one).
        (d.replace("version=\"1.0\" encoding", "encoding"), "invalid_xml"),
        (d.replace("version=\"1.0\" encoding=\"UTF-8\"", "standalone=\"yes\""), "invalid_xml"),
        (d.replace("version=\"1.0\" encoding=\"UTF-8\"", "encoding=\"UTF-8\" version=\"1.0\""), "invalid_xml"),
        (d.replace("encoding=\"UTF-8\"?>", "encoding=\"UTF-8\"/?>"), "invalid_xml"),
    ];
    for (input, code) in cases {
        let got = xml(&input).expect_err(&input);
        assert!(got.starts_with(code), "{input}\nexpected {code}, got {got}");
    }
}

#[test]
fn a_record_whose_subject_withdrew_consent_is_dropped_whole() {
    let withdrawn = keys().subject.subject_hash("310115197511030084");
    let cfg = with_consent(
        config(&pain(), Format::Xml),
        ConsentList::from_hashes([withdrawn]),
    );
    let two = doc(&format!(
        "{PMT}{}",
        PMT.replace("310115197511030084", "110101199003074258")
            .replace("P1", "P2")
    ));
    let (out, s) = run_cfg(cfg, two.as_bytes(), &[]).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        !out.contains("<doc:PmtInfId>P1") && out.contains("<doc:PmtInfId>P2"),
        "{out}"
    );
    assert_eq!((s.records, s.records_dropped), (2, 1));
}

#[test]
fn output_and_verdict_do_not_depend_on_where_the_body_is_split() {
    let bodies = [
        doc(&format!("{PMT}{}", PMT.replace("P1", "P2"))),
        doc(&PMT.replace("<Nm>欧阳明轩</Nm>", "<Nm><![CDATA[欧阳]]>&#26126;轩</Nm>")),
        doc(PMT).replace("</MsgId>", "</MsgID>"),
        "<!DOCTYPE x><x/>".to_string(),
        doc(PMT).replace("</Document>", ""),
    ];
    for body in &bodies {
        let body = body.as_bytes();
        let whole = run_cfg(config(&pain(), Format::Xml), body, &[]);
        for cut in 0..=body.len() {
            assert_eq!(
                run_cfg(config(&pain(), Format::Xml), body, &[cut]),
                whole,
                "cut {cut}"
            );
        }
        let bytewise: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            run_cfg(config(&pain(), Format::Xml), body, &bytewise),
            whole
        );
    }
}

#[test]
fn a_gb18030_document_declares_its_encoding_and_goes_out_in_it() {
    let text = doc(PMT).replace("UTF-8", "GB18030");
    let (body, _, _) = encoding_rs::GB18030.encode(&text);
    let mut cfg = config(&pain(), Format::Xml);
    cfg.charset = Charset::Gb18030;
    let (out, _) = run_cfg(cfg, &body, &[]).unwrap_or_else(|v| panic!("{v}"));
    let (out, _, bad) = encoding_rs::GB18030.decode(&out);
    assert!(!bad);
    assert!(out.contains("<doc:Nm>欧阳**</doc:Nm>") && out.contains("encoding=\"GB18030\""));
}

#[test]
fn xml_paths_and_namespaces_are_checked_when_the_policy_loads() {
    let bad = pain_text_with("\"/doc:Document/x:Y\" = \"keep\"");
    let e = CompiledPolicy::load("p.toml", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("uses the prefix \"x\", which [namespaces] does not bind"),
        "{e}"
    );
    let bad = pain_text_with("\"/doc:Document/@a/b\" = \"keep\"");
    let e = CompiledPolicy::load("p.toml", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("an attribute `@name` must be the last step"),
        "{e}"
    );
}

fn pain_text_with(rule: &str) -> String {
    policy_text(&format!("[namespaces]\ndoc = \"{NS}\""), "", rule)
}

/// Without a charset parameter (as legacy SOAP services send `text/xml`), the declaration names
/// the charset (RFC 7303): a GBK document is decoded as GBK, whatever the split.
#[test]
fn an_unlabelled_document_is_read_in_the_charset_its_declaration_names() {
    let text = doc(PMT).replace("UTF-8", "GBK");
    let (body, _, _) = encoding_rs::GBK.encode(&text);
    let unlabelled = || {
        let mut cfg = config(&pain(), Format::Xml);
        cfg.charset = Charset::Unlabelled;
        cfg
    };
    let whole = run_cfg(unlabelled(), &body, &[]);
    let (out, summary) = whole.clone().unwrap_or_else(|v| panic!("{v}"));
    let (out_text, _, bad) = encoding_rs::GBK.decode(&out);
    assert!(!bad);
    assert!(out_text.contains("<doc:Nm>欧阳**</doc:Nm>"), "{out_text}");
    assert_eq!(summary.bytes_in, body.len() as u64);
    for cut in 0..=body.len().min(80) {
        assert_eq!(run_cfg(unlabelled(), &body, &[cut]), whole, "cut {cut}");
    }
    // A charset sluice does not decode is refused; no declaration is UTF-8.
    let big5 = doc(PMT).replace("UTF-8", "Big5");
    let v = run_cfg(unlabelled(), big5.as_bytes(), &[])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(v.kind.code(), "invalid_encoding");
    let plain = doc(PMT).replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "");
    let (out, _) = run_cfg(unlabelled(), plain.as_bytes(), &[]).unwrap_or_else(|v| panic!("{v}"));
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("<doc:Nm>欧阳**</doc:Nm>")
    );
}

/// Found writing the closing note: a record held for a consent check was not bounded by the
/// record cap in XML (CSV and forms were) — a long record could grow the hold without limit.
#[test]
fn a_record_held_for_consent_is_bounded_by_the_record_cap() {
    use sluice_policy::engine::Limits;
    let long = PMT.replace(
        "<PstlAdr>上海</PstlAdr>",
        &format!("<PstlAdr>{}</PstlAdr>", "x".repeat(400)),
    );
    let body = doc(&long);
    let cfg = || {
        let mut cfg = with_consent(config(&pain(), Format::Xml), ConsentList::from_hashes([]));
        cfg.limits = Limits {
            record_cap: 256,
            ..Limits::default()
        };
        cfg
    };
    let v = run_cfg(cfg(), body.as_bytes(), &[])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(v.kind.code(), "record_too_large");
    for cut in (0..=body.len()).step_by(7) {
        assert_eq!(
            run_cfg(cfg(), body.as_bytes(), &[cut])
                .map(|_| ())
                .unwrap_err(),
            v,
            "cut {cut}"
        );
    }
    // Without a consent list nothing is held: the same record streams.
    let mut free = config(&pain(), Format::Xml);
    free.limits.record_cap = 256;
    assert!(run_cfg(free, body.as_bytes(), &[]).is_ok());
}

#[test]
fn a_byte_order_mark_is_refused_as_in_json() {
    let body = format!("\u{FEFF}{}", doc(PMT));
    let v = run_cfg(config(&pain(), Format::Xml), body.as_bytes(), &[])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(v.kind.code(), "invalid_xml");
}

/// The names of open elements are held until they close: together they are bounded like one
/// token, so a deep document of long names cannot grow them without limit.
#[test]
fn the_names_of_open_elements_are_bounded_like_a_token() {
    use sluice_policy::engine::Limits;
    let open: String = (0..10).map(|i| format!("<element_{i:02}>")).collect();
    let close: String = (0..10)
        .rev()
        .map(|i| format!("</element_{i:02}>"))
        .collect();
    let body = format!("{open}x{close}");
    let mut cfg = config(&pain(), Format::Xml);
    cfg.limits = Limits {
        max_token_len: 64,
        ..Limits::default()
    };
    let v = run_cfg(cfg, body.as_bytes(), &[]).map(|_| ()).unwrap_err();
    assert_eq!(v.kind.code(), "token_too_long");
}

/// Found on review against the issue's "stripped subtrees leave no trace": indentation around a
/// removed element went out, so blank lines showed where (and how many) elements were removed.
#[test]
fn a_removed_element_leaves_no_trace_not_even_its_indentation() {
    let pretty = doc(&PMT
        .replace("<PstlAdr>", "\n      <PstlAdr>")
        .replace("</PstlAdr>", "</PstlAdr>\n    "));
    let out = xml(&pretty).unwrap();
    assert!(
        out.contains("<doc:Dbtr><doc:Nm>欧阳**</doc:Nm></doc:Dbtr>"),
        "{out}"
    );
    assert!(!out.contains("\n      "), "{out}");
}

/// Found probing default deny: the document's own prefixes and namespace declarations went out
/// as written on every element sluice emitted — text no rule lists, which a document can fill
/// with anything (a prefix may be `张三`, a namespace URI `urn:x:310115197511030084`). Elements
/// and attributes now go out under the policy's names, with the policy's declarations only.
#[test]
fn the_documents_prefixes_and_namespace_declarations_do_not_go_out() {
    let leaky = doc(PMT)
        .replace(
            &format!("<Document xmlns=\"{NS}\">"),
            &format!(
                "<张三:Document xmlns:张三=\"{NS}\" xmlns:x=\"urn:x:310115197511030084\" xmlns=\"urn:y:13812345678\">"
            ),
        )
        .replace("</Document>", "</张三:Document>")
        .replace("<CstmrCdtTrfInitn>", "<张三:CstmrCdtTrfInitn xmlns:p=\"urn:p:13812345678\">")
        .replace("</CstmrCdtTrfInitn>", "</张三:CstmrCdtTrfInitn>")
        .replace("<PmtInf>", &format!("<id:PmtInf xmlns:id=\"{NS}\">"))
        .replace("</PmtInf>", "</id:PmtInf>")
        .replace("<PmtInfId>P1</PmtInfId>", "<id:PmtInfId>P1</id:PmtInfId>")
        .replace("<Nm>欧阳明轩</Nm>", &format!("<Nm xmlns=\"{NS}\">欧阳明轩</Nm>"));
    // The rest of PmtInf is in the default namespace of the root (urn:y:…), which the policy
    // does not bind: removed.
    let out = xml(&leaky).unwrap_or_else(|e| panic!("{e}: {leaky}"));
    for leak in [
        "张三",
        "310115197511030084",
        "13812345678",
        "urn:y",
        "urn:p",
        "id:",
        "xmlns=\"",
    ] {
        assert!(!out.contains(leak), "{leak} went out: {out}");
    }
    assert_eq!(
        out,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><doc:Document xmlns:doc="{NS}"><doc:CstmrCdtTrfInitn><doc:PmtInf><doc:PmtInfId>P1</doc:PmtInfId></doc:PmtInf></doc:CstmrCdtTrfInitn></doc:Document>"#
        )
    );
}

/// The output of the default-deny fix above is namespace-well-formed wherever the document's
/// declarations were: a subtree kept whole that uses a prefix declared on an ancestor (which no
/// longer goes out) declares it again where it uses it, and an attribute in a namespace goes out under the
/// policy's prefix, declared on the outermost element.
#[test]
fn output_under_the_policys_names_is_namespace_well_formed() {
    const ATTR_NS: &str = "urn:attr";
    let policy = policy_with(
        &format!("[namespaces]\ndoc = \"{NS}\"\nat  = \"{ATTR_NS}\""),
        r#"formats = ["xml"]"#,
        r#""/doc:Document/@at:v" = "keep"
"/doc:Document/doc:Raw" = { keep = "subtree", plaintext_reason = "test" }"#,
    );
    let input = format!(
        r#"<p:Document xmlns:p="{NS}" xmlns:q="{ATTR_NS}" q:v="1" p:w="2"><p:Raw n="3"><p:X>y</p:X><q:Z/></p:Raw><p:Gone/></p:Document>"#
    );
    let out = filtered(&policy, &input);
    assert_eq!(
        out,
        format!(
            r#"<doc:Document xmlns:doc="{NS}" xmlns:at="{ATTR_NS}" at:v="1"><p:Raw xmlns:p="{NS}" n="3"><p:X>y</p:X><q:Z xmlns:q="{ATTR_NS}"/></p:Raw></doc:Document>"#
        )
    );
    // Read back by a namespace-aware parser: the same names in the same namespaces.
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().namespace(), Some(NS));
    assert_eq!(root.attribute((ATTR_NS, "v")), Some("1"));
    let raw = root.first_element_child().unwrap();
    assert_eq!(raw.tag_name().namespace(), Some(NS));
    let z = raw.last_element_child().unwrap();
    assert_eq!(
        (z.tag_name().namespace(), z.tag_name().name()),
        (Some(ATTR_NS), "Z")
    );
}

/// Outside the root element the document wrote white space and its declaration, and both went
/// out as written: white space of any length in four characters (space, tab, CR, LF) carries
/// any text, and so does the spelling of the declaration (its quotes, its label's case, the
/// white space between its pseudo-attributes). The declaration now goes out as sluice writes it
/// and the white space outside the root not at all; a character reference there, which XML does
/// not allow outside an element and which sluice passed on as white space, is refused.
#[test]
fn the_declarations_spelling_and_white_space_outside_the_root_do_not_go_out() {
    let body = doc(PMT).replace(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "<?xml version='1.0'\t\n  encoding=\"utf-8\"   standalone='yes' ?> \t\r\n\t",
    ) + "\n\t \r\n ";
    let out = xml(&body).unwrap();
    // However the body is split.
    for cut in 0..=body.len() {
        let (split, _) = run_cfg(config(&pain(), Format::Xml), body.as_bytes(), &[cut])
            .unwrap_or_else(|v| panic!("cut {cut}: {v}"));
        assert_eq!(String::from_utf8(split).unwrap(), out, "cut {cut}");
    }
    let expected = xml(&doc(PMT)).unwrap().replacen(
        r#"encoding="UTF-8"?>"#,
        r#"encoding="UTF-8" standalone="yes"?>"#,
        1,
    );
    assert_eq!(out, expected);
    assert!(out.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><doc:Document "
    ));
    assert!(out.ends_with("</doc:Document>"), "{out:?}");
    // The same document without a declaration, and with white space only after its root.
    let bare = doc(PMT).replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "") + "\t\t ";
    let out = xml(&bare).unwrap();
    assert!(
        out.starts_with("<doc:Document ") && out.ends_with("</doc:Document>"),
        "{out:?}"
    );
    // White space by reference is no white space outside an element.
    let before = doc(PMT).replace("?>\n", "?>&#32;");
    assert!(
        xml(&before).unwrap_err().starts_with("invalid_xml"),
        "{before}"
    );
    assert!(
        xml(&(doc(PMT) + "&#x9;"))
            .unwrap_err()
            .starts_with("trailing_data")
    );
}

/// A policy names the XML namespace with a prefix of its own (`x`, since `xml` itself is
/// reserved) to list `xml:lang`; its elements in that namespace went out as `<x:note>`, a prefix
/// the output never declares (nor may: only `xml` is bound to that namespace), so a partner's
/// parser refused the document. They go out as `xml:`, as its attributes already did.
#[test]
fn an_element_in_the_xml_namespace_goes_out_under_the_xml_prefix() {
    const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
    let policy = policy_with(
        &format!("[namespaces]\ndoc = \"{NS}\"\nx = \"{XML_NS}\""),
        r#"formats = ["xml"]"#,
        r#""/doc:Document/x:note" = "keep"
"/doc:Document/x:note/@x:lang" = "keep"
"/doc:Document/doc:Nm/@x:lang" = "keep""#,
    );
    let input = format!(
        r#"<Document xmlns="{NS}"><xml:note xml:lang="zh">备注</xml:note><Nm xml:lang="en"/></Document>"#
    );
    let out = filtered(&policy, &input);
    assert_eq!(
        out,
        format!(
            r#"<doc:Document xmlns:doc="{NS}"><xml:note xml:lang="zh">备注</xml:note><doc:Nm xml:lang="en"></doc:Nm></doc:Document>"#
        )
    );
    // (`xml` is bound by definition, Namespaces in XML §3; roxmltree, which reads the output of
    // the other tests back, refuses elements under it, so the string is the check here.)
    assert!(
        !out.replace("xml:", "").contains("x:"),
        "an undeclared prefix: {out}"
    );
}

/// A subtree kept whole went out declaring every binding in scope where it was read — the
/// namespace declarations of its ancestors too, which it may never use: an ancestor's
/// `xmlns:x="urn:x:310115197511030084"` crossed on the kept element. A binding from outside the
/// subtree now goes out only on an element of the subtree that uses it (its name or an
/// attribute's), where the output does not already have it in scope; the subtree's own
/// declarations go out as written, with the rest of it.
#[test]
fn a_kept_subtree_declares_only_the_outside_bindings_it_uses() {
    const SECRET: &str = "urn:x:310115197511030084";
    const OTHER: &str = "urn:other";
    let policy = policy_with(
        &format!("[namespaces]\ndoc = \"{NS}\""),
        r#"formats = ["xml"]"#,
        r#""/doc:Document/doc:Raw" = { keep = "subtree", plaintext_reason = "test" }
"/doc:Document/doc:Raw2" = { keep = "subtree", plaintext_reason = "test" }"#,
    );
    let input = format!(
        r#"<Document xmlns="{NS}" xmlns:x="{SECRET}" xmlns:o="{OTHER}" xmlns:doc="urn:not-the-policys"><Raw><In a="1"><Deep o:k="2"/></In><o:Q/></Raw><Raw2 xmlns:m="urn:mine"><doc:Y/></Raw2></Document>"#
    );
    let out = filtered(&policy, &input);
    assert!(
        !out.contains("310115197511030084"),
        "an unused ancestor binding went out: {out}"
    );
    assert_eq!(
        out,
        format!(
            concat!(
                r#"<doc:Document xmlns:doc="{NS}">"#,
                r#"<Raw xmlns="{NS}"><In a="1"><Deep xmlns:o="{OTHER}" o:k="2"/></In><o:Q xmlns:o="{OTHER}"/></Raw>"#,
                r#"<Raw2 xmlns="{NS}" xmlns:m="urn:mine"><doc:Y xmlns:doc="urn:not-the-policys"/></Raw2>"#,
                r#"</doc:Document>"#
            ),
            NS = NS,
            OTHER = OTHER
        )
    );
    // Read back: the same names in the same namespaces as in the document.
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let names: Vec<(Option<&str>, &str)> = doc
        .descendants()
        .filter(|n| n.is_element())
        .map(|n| (n.tag_name().namespace(), n.tag_name().name()))
        .collect();
    assert_eq!(
        names,
        [
            (Some(NS), "Document"),
            (Some(NS), "Raw"),
            (Some(NS), "In"),
            (Some(NS), "Deep"),
            (Some(OTHER), "Q"),
            (Some(NS), "Raw2"),
            (Some("urn:not-the-policys"), "Y"),
        ]
    );
    let deep = doc.descendants().find(|n| n.has_tag_name("Deep")).unwrap();
    assert_eq!(deep.attribute((OTHER, "k")), Some("2"));
}

/// Two spellings of sluice-built elements went out as the document chose them: a kept
/// attribute's quotes (`'CNY'` or `"CNY"`) and an element's form (`<a/>` or `<a></a>`) — a bit
/// an attribute and a bit an element, text no rule lists. A kept attribute now goes out between
/// double quotes (single only when its value holds a double one, which only they can hold as
/// written), a leaf as `<a/>` exactly when its value is empty, a container always with an end
/// tag; a subtree kept whole is still the document's own bytes.
#[test]
fn quotes_and_empty_element_forms_go_out_in_one_spelling() {
    let spellings = [
        (
            r#"<Amt Ccy="CNY" Note="x">1</Amt>"#,
            "<Dbtr><Nm></Nm></Dbtr>",
            "<PmtInfId/>",
        ),
        (
            r#"<Amt Ccy='CNY' Note='x'>1</Amt>"#,
            "<Dbtr><Nm/></Dbtr>",
            "<PmtInfId></PmtInfId>",
        ),
    ];
    let mut outs = Vec::new();
    for (amt, dbtr, id) in spellings {
        let body = doc(&format!("<PmtInf>{id}{dbtr}{amt}</PmtInf>"));
        outs.push(xml(&body).unwrap_or_else(|e| panic!("{e}: {body}")));
    }
    assert_eq!(outs[0], outs[1]);
    assert!(
        outs[0].contains(
            r#"<doc:PmtInfId/><doc:Dbtr><doc:Nm/></doc:Dbtr><doc:Amt Ccy="CNY">1</doc:Amt>"#
        ),
        "{}",
        outs[0]
    );
    // A value holding a double quote keeps the single quotes it was written in.
    let body = doc(r#"<PmtInf><Amt Ccy='C"Y'>1</Amt></PmtInf>"#);
    assert!(
        xml(&body)
            .unwrap()
            .contains(r#"<doc:Amt Ccy='C"Y'>1</doc:Amt>"#)
    );
    // A container: an end tag whichever form, even with nothing inside.
    let a = xml(&doc("<PmtInf><Dbtr/></PmtInf>")).unwrap();
    let b = xml(&doc("<PmtInf><Dbtr></Dbtr></PmtInf>")).unwrap();
    assert_eq!(a, b);
    assert!(a.contains("<doc:Dbtr></doc:Dbtr>"), "{a}");
}

/// A CDATA section or a comment is character data like any other: a character XML does not
/// allow (NUL, other controls, U+FFFE) is refused there too. Both were read as UTF-8 only, so a
/// kept leaf's CDATA carried NULs and controls to the partner — malformed XML its parser refuses
/// or, reading C strings, cuts short — and a comment held what no XML parser reads.
#[test]
fn a_cdata_section_or_comment_carries_no_character_xml_forbids() {
    let d = doc(PMT);
    for bad in ["\u{0}", "\u{1}", "\u{1B}", "\u{7}", "\u{FFFE}", "\u{FFFF}"] {
        for input in [
            d.replace("<PmtInfId>P1", &format!("<PmtInfId><![CDATA[P{bad}1]]>")),
            d.replace("<Rmt>call 138", &format!("<Rmt><![CDATA[138{bad}]]>")),
            d.replace(
                "</PmtInf>",
                &format!("<Raw><a><![CDATA[{bad}]]></a></Raw></PmtInf>"),
            ),
            d.replace("<GrpHdr>", &format!("<!-- {bad} --><GrpHdr>")),
            d.replace("<Secret>s", &format!("<Secret><![CDATA[{bad}]]>")),
        ] {
            let got = xml(&input).expect_err(&input);
            assert!(got.starts_with("control_character"), "{input:?}: {got}");
        }
    }
    // Tab, line ends and every other character go out as written.
    let ok = d.replace("<PmtInfId>P1", "<PmtInfId><![CDATA[P\t\r\n张\u{10000}]]>1");
    assert!(
        xml(&ok)
            .unwrap()
            .contains("<![CDATA[P\t\r\n张\u{10000}]]>1")
    );
}

/// A value is what an XML parser hands over: a line end (CR LF, or a CR alone, in text or a CDATA
/// section) is one LF, and a tab or line end in an attribute value a space (XML 1.0 §2.11,
/// §3.3.3). The engine hashed, masked and checked the bytes as written, so a value written with
/// CR LF got another pseudonym than the same value as the partner's parser reads it.
#[test]
fn a_value_is_read_with_line_ends_and_attribute_white_space_as_an_xml_parser_reads_it() {
    let p = policy_with(
        "[namespaces]\nn = \"urn:n\"",
        "",
        r#""/n:r/n:h" = "hash"
"/n:r/n:h/@a" = "hash""#,
    );
    let read = filtered(&p, "<r xmlns=\"urn:n\"><h a=\"x y z\">a\nb\nc</h></r>");
    for written in [
        "<r xmlns=\"urn:n\"><h a=\"x\ty\nz\">a\r\nb\rc</h></r>",
        "<r xmlns=\"urn:n\"><h a=\"x\r\ny\rz\">a\r\n<![CDATA[b\r]]>c</h></r>",
        "<r xmlns=\"urn:n\"><h a=\"x&#32;y z\"><![CDATA[a\r\nb\rc]]></h></r>",
    ] {
        assert_eq!(filtered(&p, written), read, "{written:?}");
    }
    // A character reference is the character it names: `&#13;` stays a CR.
    let cr = filtered(
        &p,
        "<r xmlns=\"urn:n\"><h a=\"x&#9;y z\">a&#13;\nb\nc</h></r>",
    );
    assert_ne!(cr, read);
}

/// A value sluice writes (a mask, a hash, a scanned text with its findings masked) reads back as
/// that value: a CR is written `&#13;` (raw, a parser reads it as LF) and in an attribute a tab
/// or LF as a reference (raw, a parser reads them as spaces). Both went out raw, so the partner
/// read another value than the rule produced.
#[test]
fn a_replaced_value_reads_back_as_written_whatever_white_space_it_holds() {
    let p = policy_with(
        "[namespaces]\nn = \"urn:n\"",
        "",
        r#""/n:r/n:t" = { keep = "string", scan = ["mobile"] }
"/n:r/n:t/@a" = { keep = "string", scan = ["mobile"] }"#,
    );
    let out = filtered(
        &p,
        "<r xmlns=\"urn:n\"><t a=\"x&#9;13812345678&#10;y&#13;\">call&#13;\n13812345678&#9;</t></r>",
    );
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let t = doc.root_element().first_element_child().expect("t");
    assert_eq!(t.attribute("a"), Some("x\t138****5678\ny\r"), "{out}");
    assert_eq!(t.text(), Some("call\r\n138****5678\t"), "{out}");
}

/// Comments do not go out, so the text on either side of one meets in the output: a CR before
/// it and an LF after it became one CR LF (one line end where the document had two), and `]]`
/// before it and `>` after it became `]]>`, which text may not hold — malformed XML to the
/// partner, in a leaf or in a subtree kept whole. Found by the xml_model fuzz target.
#[test]
fn text_on_either_side_of_a_removed_comment_reads_as_it_did() {
    let d = doc(PMT);
    for (written, out) in [
        ("P\r<!-- c -->\n1", "P\r&#10;1"),
        ("a]]<!-- c -->>b", "a]]&gt;b"),
        ("a]<!-- c -->]>b", "a]&#93;>b"),
        ("a<!-- c -->b<!-- d -->\nc", "ab&#10;c"),
    ] {
        let got = xml(&d.replace("<PmtInfId>P1", &format!("<PmtInfId>{written}"))).unwrap();
        let want = format!("<doc:PmtInfId>{out}</doc:PmtInfId>");
        assert!(got.contains(&want), "{written:?}: {got:?}");
    }
    let kept = d.replace(
        "</PmtInf>",
        "<Raw><a>x]]<!---->>y\r<!---->\n</a></Raw></PmtInf>",
    );
    let got = xml(&kept).unwrap();
    assert!(got.contains("<a>x]]&gt;y\r&#10;</a>"), "{got:?}");
}
