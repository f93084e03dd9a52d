//! The form engine (`application/x-www-form-urlencoded`) through the public `Redactor`.

mod support;

use sluice_policy::consent::ConsentList;
use sluice_policy::engine::Format;
use support::{config, keys, policy, run, run_cfg, with_consent};

fn form(p: &sluice_policy::CompiledPolicy, input: &str) -> String {
    match run(p, Format::Form, input) {
        Ok((o, _)) => o,
        Err(v) => panic!("expected {input:?} to pass, got {v}"),
    }
}

fn refused(p: &sluice_policy::CompiledPolicy, input: &[u8]) -> String {
    match run_cfg(config(p, Format::Form), input, &[]) {
        Ok((o, _)) => panic!(
            "expected {:?} to be refused, got output {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&o)
        ),
        Err(v) => v.to_string(),
    }
}

fn callback() -> sluice_policy::CompiledPolicy {
    policy(
        Some("$.items[*]"),
        Some("$.items[*].id_no"),
        r#""$.items[*].order" = "keep"
"$.items[*].name" = "mask:name"
"$.items[*].mobile" = "hash"
"$.items[*].amount" = { keep = "number", max = 1000 }
"$.items[*].note" = { keep = "string", scan = ["mobile"] }
"$.items[*][\"applicant.city\"]" = "keep""#,
    )
}

#[test]
fn unlisted_pairs_are_removed_and_kept_pairs_go_out_as_written() {
    let p = callback();
    assert_eq!(
        form(
            &p,
            "id_no=310115197511030084&order=A%2D1&card=6222&amount=12.5"
        ),
        "order=A%2D1&amount=12.5"
    );
    assert_eq!(form(&p, "card=1&order=x"), "order=x");
    assert_eq!(form(&p, ""), "");
    // Keys match after decoding; the value goes out as written.
    assert_eq!(
        form(&p, "order=x&applicant.city=%E4%B8%8A%E6%B5%B7"),
        "order=x&applicant.city=%E4%B8%8A%E6%B5%B7"
    );
}

/// A kept pair's key went out as the source spelled it, and each character of a key can be
/// spelled two or three ways (`e`, `%65`; `%6e`, `%6E`): a bit or two a character, text no rule
/// lists, enough over a few keys for an id number. Keys now go out as the WHATWG serializer
/// writes them; values the contract keeps are still the source's bytes.
#[test]
fn a_kept_pairs_key_goes_out_in_one_spelling_whatever_the_source_wrote() {
    let p = callback();
    for spelled in [
        "order",
        "ord%65r",
        "%6F%72%64%65%72",
        "%6f%72%64%65%72",
        "or%64er",
    ] {
        let body = format!("{spelled}=A%2D1&applicant%2Ecity=%E4%B8%8A");
        assert_eq!(
            form(&p, &body),
            "order=A%2D1&applicant.city=%E4%B8%8A",
            "{body}"
        );
    }
}

#[test]
fn replaced_values_are_encoded_as_a_form_encoder_writes_them() {
    let p = callback();
    let (out, summary) = run(
        &p,
        Format::Form,
        "name=%E6%AC%A7%E9%98%B3%E6%98%8E%E8%BD%A9&mobile=13812345678&note=call+13912345678+now",
    )
    .expect("passes");
    let pairs: Vec<&str> = out.split('&').collect();
    // 欧阳** percent-encoded, `*` unescaped.
    assert_eq!(pairs[0], "name=%E6%AC%A7%E9%98%B3**");
    assert_eq!(pairs[1].len(), "mobile=".len() + 64);
    assert_eq!(pairs[2], "note=call+139****5678+now");
    assert_eq!(summary.records, 1);
    assert_eq!(summary.field("$.items[*].name").map(|f| f.masked), Some(1));
    assert_eq!(
        summary.field("$.items[*].mobile").map(|f| f.hashed),
        Some(1)
    );
}

#[test]
fn what_parsers_read_differently_is_refused() {
    let p = callback();
    let cases: [(&[u8], &str); 14] = [
        (b"order=1;name=x", "invalid_form"),
        (b"order=a b", "invalid_form"),
        (b"order=a=b", "invalid_form"),
        (b"order", "invalid_form"),
        (b"order=1&&name=x", "invalid_form"),
        (b"&order=1", "invalid_form"),
        (b"order=1&", "invalid_form"),
        (b"=1", "invalid_form"),
        (b"order=%G1", "invalid_form"),
        (b"order=%4", "truncated"),
        (b"order=%FF", "invalid_utf8"),
        (b"order=1&order=2", "duplicate_key"),
        (b"order=1&%6Frder=2", "duplicate_key"),
        ("order=张".as_bytes(), "invalid_form"),
    ];
    for (input, code) in cases {
        let got = refused(&p, input);
        assert!(
            got.starts_with(code),
            "{:?}: expected {code}, got {got}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(
        refused(&p, b"amount=2000"),
        "out_of_range at $.items[*].amount (byte 0)"
    );
    // A duplicate of a stripped key is refused as well: another parser might keep the other one.
    assert!(refused(&p, b"card=1&card=2").starts_with("duplicate_key at $.items[*].?"));
}

#[test]
fn output_and_verdict_do_not_depend_on_where_the_body_is_split() {
    let p = callback();
    let bodies: [&[u8]; 4] = [
        b"order=A%2D1&name=%E5%BC%A0%E4%B8%89&mobile=13812345678&card=1&note=x+13912345678",
        b"order=1&order=2",
        b"order=%4",
        b"order=a;b",
    ];
    for body in bodies {
        let whole = run_cfg(config(&p, Format::Form), body, &[]);
        for cut in 0..=body.len() {
            assert_eq!(
                run_cfg(config(&p, Format::Form), body, &[cut]),
                whole,
                "cut {cut}"
            );
        }
        let bytewise: Vec<usize> = (1..body.len()).collect();
        assert_eq!(run_cfg(config(&p, Format::Form), body, &bytewise), whole);
    }
}

#[test]
fn a_form_whose_subject_withdrew_consent_goes_out_empty() {
    let p = callback();
    let withdrawn = keys().subject.subject_hash("310115197511030084");
    let cfg = with_consent(
        config(&p, Format::Form),
        ConsentList::from_hashes([withdrawn]),
    );
    let (out, summary) =
        run_cfg(cfg.clone(), b"order=1&id_no=310115197511030084", &[]).expect("passes");
    assert!(out.is_empty());
    assert_eq!((summary.records, summary.records_dropped), (1, 1));
    let (out, _) = run_cfg(cfg, b"order=1&id_no=110101199003074258", &[]).expect("passes");
    assert_eq!(out, b"order=1");
}

#[test]
fn a_key_or_value_past_the_token_limit_is_refused_at_the_same_byte_however_split() {
    use sluice_policy::engine::Limits;
    let p = callback();
    let small = || {
        let mut cfg = config(&p, Format::Form);
        cfg.limits = Limits {
            max_token_len: 8,
            ..Limits::default()
        };
        cfg
    };
    for (body, want) in [
        (
            &b"order=12345678&n=%E5%BC%A0"[..],
            "token_too_long at $.items[*] (byte 25)",
        ),
        // Keys count together against the same limit, checked at each key's `=`.
        (
            &b"order=1&name=%E5%BC%A0"[..],
            "too_many_keys at $.items[*].name (byte 8)",
        ),
        (
            b"order=%E5%BC%A0%E5",
            "token_too_long at $.items[*] (byte 14)",
        ),
    ] {
        let whole = run_cfg(small(), body, &[]).map(|_| ()).unwrap_err();
        assert_eq!(whole.to_string(), want);
        for cut in 0..=body.len() {
            assert_eq!(
                run_cfg(small(), body, &[cut]).map(|_| ()).unwrap_err(),
                whole,
                "cut {cut}"
            );
        }
    }
}

#[test]
fn a_redacted_pair_keeps_its_key_and_loses_its_value() {
    let p = policy(None, None, r#""$.secret" = "redact""#);
    let (out, summary) = run(&p, Format::Form, "secret=abc&x=1").expect("passes");
    assert_eq!(out, "secret=%5BREDACTED%5D");
    assert_eq!(summary.field("$.secret").map(|f| f.redacted), Some(1));
}
