//! GB18030 and GBK bodies: decoded strictly, filtered as text, re-encoded in the same charset,
//! kept values byte-exact (4-byte GB18030 sequences included), any split the same.

mod support;

use sluice_policy::engine::{Charset, Format};
use support::{config, policy, run_cfg};

fn encode(charset: &'static encoding_rs::Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = charset.encode(text);
    assert!(!unmappable, "{text:?} is not all {}", charset.name());
    bytes.into_owned()
}

fn decode(charset: &'static encoding_rs::Encoding, bytes: &[u8]) -> String {
    let (text, malformed) = charset.decode_without_bom_handling(bytes);
    assert!(!malformed);
    text.into_owned()
}

fn applicants() -> sluice_policy::CompiledPolicy {
    policy(
        Some("$.a[*]"),
        Some("$.a[*].id_no"),
        r#""$.a[*].name" = "mask:name"
"$.a[*].note" = { keep = "string", scan = ["mobile", "id_card"] }
"$.a[*].city" = "keep"
"$.a[*].id_no" = "hash""#,
    )
}

fn with(charset: Charset, format: Format) -> sluice_policy::engine::EngineConfig {
    let mut cfg = config(&applicants(), format);
    cfg.charset = charset;
    cfg
}

#[test]
fn a_gb18030_body_is_filtered_and_goes_out_in_gb18030_byte_exact_where_kept() {
    // 𠮷 (U+20BB7) is a 4-byte GB18030 sequence; 欧阳 two-byte; € two-byte (A2 E3).
    let text = r#"{"a":[{"name":"欧阳明轩","city":"上海𠮷€","note":"电话１３８１２３４５６７８","id_no":"310115197511030084","card":"6222"}]}"#;
    let body = encode(encoding_rs::GB18030, text);
    assert!(
        body.windows(4)
            .any(|w| w[0] >= 0x81 && (0x30..=0x39).contains(&w[1])),
        "a 4-byte sequence"
    );
    let (out, summary) =
        run_cfg(with(Charset::Gb18030, Format::Json), &body, &[]).unwrap_or_else(|v| panic!("{v}"));
    let got = decode(encoding_rs::GB18030, &out);
    let v: serde_json::Value = serde_json::from_str(&got).expect("JSON");
    assert_eq!(v["a"][0]["name"], "欧阳**");
    assert_eq!(v["a"][0]["note"], "电话138****5678");
    assert_eq!(v["a"][0]["id_no"].as_str().unwrap().len(), 64);
    assert!(v["a"][0].get("card").is_none());
    // The kept city is the body's own bytes.
    let city = encode(encoding_rs::GB18030, "上海𠮷€");
    assert!(out.windows(city.len()).any(|w| w == city.as_slice()));
    // The summary describes the bytes read and sent, not their UTF-8 decoding.
    assert_eq!(summary.bytes_in, body.len() as u64);
    assert_eq!(summary.bytes_out, out.len() as u64);
    let digest = ring::digest::digest(&ring::digest::SHA256, &out);
    assert_eq!(summary.output_sha256.as_slice(), digest.as_ref());
    assert_eq!(summary.subject_count, 1);
}

#[test]
fn a_gbk_csv_body_round_trips_and_full_width_digits_are_found() {
    let text = "name,city,note\r\n张三,北京,手机：１３８１２３４５６７８\r\n";
    let body = encode(encoding_rs::GBK, text);
    let (out, _) =
        run_cfg(with(Charset::Gbk, Format::Csv), &body, &[]).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(
        decode(encoding_rs::GBK, &out),
        "name,city,note\r\n张*,北京,手机：138****5678\r\n"
    );
    // The kept header and city are the body's own bytes.
    assert!(out.starts_with(&encode(encoding_rs::GBK, "name,city,note\r\n张")));
}

#[test]
fn bytes_that_are_not_the_charset_or_would_not_round_trip_are_refused() {
    let cases: [(&[u8], Charset, u64); 4] = [
        // A lead byte followed by a space: not GBK.
        (b"{\"a\":[{\"city\":\"\x81 \"}]}", Charset::Gbk, 15),
        // 0x80 decodes to the euro sign, which GB18030 writes as A2 E3: not byte-exact.
        (b"{\"a\":[{\"city\":\"\x80\"}]}", Charset::Gb18030, 15),
        // A body that ends inside a two-byte sequence.
        (b"{\"a\":[{\"city\":\"\xC4", Charset::Gbk, 15),
        // A 4-byte sequence cut short.
        (
            b"{\"a\":[{\"city\":\"\x95\x32\x82\"}]}",
            Charset::Gb18030,
            15,
        ),
    ];
    for (body, charset, at) in cases {
        let v = run_cfg(with(charset, Format::Json), body, &[])
            .map(|_| ())
            .expect_err("refused");
        assert_eq!(
            (v.kind.code(), v.offset),
            ("invalid_encoding", at),
            "{body:?}"
        );
        for cut in 0..=body.len() {
            let split = run_cfg(with(charset, Format::Json), body, &[cut])
                .map(|_| ())
                .unwrap_err();
            assert_eq!(split, v, "cut {cut} of {body:?}");
        }
    }
}

#[test]
fn output_and_verdict_do_not_depend_on_where_a_gb18030_body_is_split() {
    let text = "name,city,note,id_no\n欧阳明轩,𠮷𠮷€,证件 310115197511030084,310115197511030084\n张三,\"a,𠮷\",,1\n";
    let body = encode(encoding_rs::GB18030, text);
    let whole = run_cfg(with(Charset::Gb18030, Format::Csv), &body, &[]);
    assert!(whole.is_ok());
    for a in 0..=body.len() {
        assert_eq!(
            run_cfg(with(Charset::Gb18030, Format::Csv), &body, &[a]),
            whole,
            "cut {a}"
        );
    }
    let bytewise: Vec<usize> = (1..body.len()).collect();
    assert_eq!(
        run_cfg(with(Charset::Gb18030, Format::Csv), &body, &bytewise),
        whole
    );
}
