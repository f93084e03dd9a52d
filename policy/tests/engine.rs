//! The engine's behaviour, point by point (issue: the streaming redaction engine).

mod support;

use sluice_policy::consent::ConsentList;
use sluice_policy::engine::Format;
use support::*;

#[test]
fn default_deny_strips_unlisted_members_with_their_separators() {
    let p = policy(None, None, r#""$.a" = "keep""#);
    assert_eq!(pass(&p, r#"{"x":1,"a":2,"y":{"z":[1,2]}}"#), r#"{"a":2}"#);
    assert_eq!(pass(&p, r#"{"x":1}"#), "{}");
    assert_eq!(pass(&p, r#" { "a" : 2 , "b" : 3 } "#), r#"{"a":2}"#);
}

#[test]
fn containers_on_the_way_to_a_rule_are_kept() {
    let p = policy(None, None, r#""$.a.b[*].c" = "keep""#);
    assert_eq!(
        pass(&p, r#"{"a":{"x":1,"b":[{"c":1,"d":2},{"d":3},{"c":"s"}]}}"#),
        r#"{"a":{"b":[{"c":1},{},{"c":"s"}]}}"#
    );
}

#[test]
fn kept_scalars_are_byte_exact_and_numbers_never_re_encoded() {
    let p = policy(
        None,
        None,
        "\"$.n\" = \"keep\"\n\"$.s\" = \"keep\"\n\"$.t\" = \"keep\"\n\"$.z\" = \"keep\"",
    );
    let body = r#"{"n":1.0000000000000005e+300,"s":"a\u005f\"\/\ud83d\ude00客","t":true,"z":null}"#;
    assert_eq!(run(&p, Format::Json, body).unwrap().0, body);
    let p = policy(None, None, r#""$.n" = "keep""#);
    assert_eq!(pass(&p, r#"{"n":-0}"#), r#"{"n":-0}"#);
    assert_eq!(
        pass(&p, r#"{"n":12345678901234567e13}"#),
        r#"{"n":12345678901234567e13}"#
    );
    // Never re-encoded, and never saying more than binary64 holds: a number with more
    // significant digits is refused, not rounded (see `a_kept_number_carries_no_digit_…`).
    assert_eq!(
        fail(&p, r#"{"n":123456789012345678901234567890.5}"#),
        "number_range at $.n (byte 5)"
    );
}

#[test]
fn keys_match_after_unescaping_and_are_re_emitted_canonically() {
    let p = policy(None, None, r#""$.name_masked" = "keep""#);
    assert_eq!(
        pass(&p, r#"{"name\u005fmasked":"x"}"#),
        r#"{"name_masked":"x"}"#
    );
    assert_eq!(
        pass(&p, r#"{"\u006e\u0061\u006d\u0065_masked":"x"}"#),
        r#"{"name_masked":"x"}"#
    );
    // Case, NUL and look-alike variants are different keys.
    assert_eq!(
        pass(
            &p,
            r#"{"Name_masked":"x","name_masked\u0000":"y","name＿masked":"z"}"#
        ),
        "{}"
    );
}

#[test]
fn duplicate_keys_after_unescaping_are_violations() {
    let p = policy(None, None, r#""$.a" = "keep""#);
    assert_eq!(
        fail(&p, r#"{"a":1,"a":2}"#),
        "duplicate_key at $.a (byte 7)"
    );
    assert_eq!(
        fail(&p, r#"{"a":1,"\u0061":2}"#),
        "duplicate_key at $.a (byte 7)"
    );
    // In a subtree every key is disclosed, so every duplicate counts.
    let p = policy(None, None, r#""$.s" = { keep = "subtree" }"#);
    assert_eq!(
        fail(&p, r#"{"s":{"k":{"x":1,"x":2}}}"#),
        "duplicate_key at $.s.?.? (byte 17)"
    );
    assert_eq!(
        pass(&p, r#"{"s":{"k":{"x":1}, "j":{"x":2}}}"#),
        r#"{"s":{"k":{"x":1},"j":{"x":2}}}"#
    );
}

#[test]
fn a_scalar_rule_meeting_a_container_is_a_violation() {
    let p = policy(None, None, r#""$.amount" = "keep""#);
    assert_eq!(
        fail(&p, r#"{"amount":{"id":"110105194912310020"}}"#),
        "type_mismatch at $.amount (byte 10)"
    );
    assert_eq!(
        fail(&p, r#"{"amount":[1]}"#),
        "type_mismatch at $.amount (byte 10)"
    );
    let p = policy(None, None, r#""$.name" = "mask:name""#);
    assert_eq!(
        fail(&p, r#"{"name":["张三"]}"#),
        "type_mismatch at $.name (byte 8)"
    );
}

#[test]
fn subtree_keeps_containers_when_said_explicitly() {
    let p = policy(None, None, r#""$.meta" = { keep = "subtree" }"#);
    assert_eq!(
        pass(&p, r#"{"meta":{"a":[1,{"b":null}],"c":"d"},"x":1}"#),
        r#"{"meta":{"a":[1,{"b":null}],"c":"d"}}"#
    );
    assert_eq!(pass(&p, r#"{"meta":"scalar"}"#), r#"{"meta":"scalar"}"#);
    assert_eq!(pass(&p, r#"{"meta":{"\u0062":1}}"#), r#"{"meta":{"b":1}}"#);
}

#[test]
fn wrong_containers_on_the_way_are_violations_never_silent_strips() {
    let p = policy(None, None, r#""$.a.b" = "keep""#);
    assert_eq!(
        fail(&p, r#"{"a":[{"b":1}]}"#),
        "wrong_container at $.a (byte 5)"
    );
    assert_eq!(fail(&p, r#"{"a":"b"}"#), "wrong_container at $.a (byte 5)");
    let p = policy(None, None, r#""$.a[*]" = "keep""#);
    assert_eq!(
        fail(&p, r#"{"a":{"0":1}}"#),
        "wrong_container at $.a (byte 5)"
    );
    assert_eq!(fail(&p, r#"[1]"#), "wrong_container at $ (byte 0)");
}

#[test]
fn type_constraints_are_enforced() {
    let p = policy(
        None,
        None,
        "\"$.s\" = { keep = \"string\" }\n\"$.n\" = { keep = \"number\" }\n\"$.b\" = { keep = \"boolean\" }\n\"$.z\" = { keep = \"null\" }",
    );
    assert_eq!(
        pass(&p, r#"{"s":"x","n":1,"b":false,"z":null}"#),
        r#"{"s":"x","n":1,"b":false,"z":null}"#
    );
    assert_eq!(fail(&p, r#"{"s":1}"#), "type_mismatch at $.s (byte 5)");
    assert_eq!(fail(&p, r#"{"n":"1"}"#), "type_mismatch at $.n (byte 5)");
    assert_eq!(fail(&p, r#"{"b":null}"#), "type_mismatch at $.b (byte 5)");
    assert_eq!(fail(&p, r#"{"z":0}"#), "type_mismatch at $.z (byte 5)");
}

#[test]
fn min_max_are_exact_decimals_of_any_magnitude() {
    let p = policy(
        None,
        None,
        r#""$.amount" = { keep = "number", min = 0, max = 10000000 }"#,
    );
    assert_eq!(pass(&p, r#"{"amount":10000000}"#), r#"{"amount":10000000}"#);
    assert_eq!(pass(&p, r#"{"amount":1e7}"#), r#"{"amount":1e7}"#);
    assert_eq!(pass(&p, r#"{"amount":0.000}"#), r#"{"amount":0.000}"#);
    assert_eq!(
        fail(&p, r#"{"amount":10000000.00000001}"#),
        "out_of_range at $.amount (byte 10)"
    );
    assert_eq!(
        fail(&p, r#"{"amount":-0.0000000000000000001}"#),
        "out_of_range at $.amount (byte 10)"
    );
    assert_eq!(
        fail(&p, r#"{"amount":1e308}"#),
        "out_of_range at $.amount (byte 10)"
    );
}

/// A kept number went out with every digit the institution wrote: `1000.110101199003074578`
/// passed `{ keep = "number", min = 0, max = 10000000 }` as a loan amount — 1000.11 to the
/// partner's parser of doubles, and an identity number in the bytes it received — and the
/// count of zeros in `1000.000…0` is text of its own. A kept number now says no more than a
/// binary64 or 64-bit integer reader reads of it (`number_range` otherwise); a number that does
/// not go out (stripped, masked, hashed) is not held to it.
#[test]
fn a_kept_number_carries_no_digit_past_what_binary64_holds() {
    let p = policy(
        None,
        None,
        r#""$.amount" = { keep = "number", min = 0, max = 10000000 }
"$.any" = "keep"
"$.hashed" = "hash""#,
    );
    for body in [
        r#"{"amount":1000.110101199003074578}"#,
        r#"{"amount":0.110101199003074578}"#,
        r#"{"amount":1000.000000000000000000000}"#,
        r#"{"amount":1.0000000000000000000e3}"#,
        r#"{"amount":1e0003}"#,
        r#"{"any":110101199003074578.1}"#,
    ] {
        let at = if body.contains("any") {
            "$.any"
        } else {
            "$.amount"
        };
        assert_eq!(
            fail(&p, body),
            format!("number_range at {at} (byte {})", at.len() + 2),
            "{body}"
        );
    }
    for (body, out) in [
        (r#"{"amount":1000.11}"#, r#"{"amount":1000.11}"#),
        (
            r#"{"amount":1000.1101011990030}"#,
            r#"{"amount":1000.1101011990030}"#,
        ),
        (
            r#"{"any":18446744073709551615}"#,
            r#"{"any":18446744073709551615}"#,
        ),
        (
            r#"{"amount":1,"other":0.1000000000000000055511151231257827021181583404541015625}"#,
            r#"{"amount":1}"#,
        ),
    ] {
        assert_eq!(pass(&p, body), out, "{body}");
    }
    let hashed = pass(&p, r#"{"hashed":1000.110101199003074578}"#);
    assert!(!hashed.contains("110101199003074578"), "{hashed}");

    // The same check in the text formats, where a number is a cell's or an element's text.
    let cells = support::policy(
        Some("$.loans[*]"),
        None,
        r#""$.loans[*].loan_id" = "keep"
"$.loans[*].amount" = { keep = "number", min = 0 }"#,
    );
    let csv = |body: &str| {
        run(&cells, sluice_policy::engine::Format::Csv, body)
            .map(|(o, _)| o)
            .map_err(|v| v.to_string())
    };
    assert_eq!(
        csv("loan_id,amount\r\nL1,1000.110101199003074578\r\n").unwrap_err(),
        "number_range at $.loans[*].amount (byte 19)"
    );
    assert_eq!(
        csv("loan_id,amount\r\nL1,1000.11\r\n").unwrap(),
        "loan_id,amount\r\nL1,1000.11\r\n"
    );
    let xml = |amount: &str| {
        run(
            &cells,
            sluice_policy::engine::Format::Xml,
            &format!("<loans><loan_id>L1</loan_id><amount>{amount}</amount></loans>"),
        )
        .map(|(o, _)| o)
        .map_err(|v| v.to_string())
    };
    let refused = xml("1000.110101199003074578").unwrap_err();
    assert!(refused.starts_with("number_range at $.loans"), "{refused}");
    assert!(xml("1000.11").unwrap().contains("<amount>1000.11</amount>"));
}

#[test]
fn numbers_beyond_double_or_64_bit_range_are_refused_everywhere() {
    let p = policy(None, None, r#""$.a" = "keep""#);
    for (body, at) in [
        (r#"{"a":18446744073709551616}"#, "$.a (byte 5)"),
        (r#"{"a":-9223372036854775809}"#, "$.a (byte 5)"),
        (r#"{"x":[1e309]}"#, "$.? (byte 6)"),
        (r#"{"x":1.5e-400}"#, "$.? (byte 5)"),
        (r#"{"x":0.000001e-305}"#, "$.? (byte 5)"),
    ] {
        assert_eq!(fail(&p, body), format!("number_range at {at}"), "{body}");
    }
    for ok in [
        r#"{"a":-9223372036854775808}"#,
        r#"{"a":1e308}"#,
        r#"{"a":1e-307}"#,
        r#"{"x":0e99999}"#,
        r#"{"a":0.0e-999}"#,
    ] {
        pass(&p, ok);
    }
}

#[test]
fn pattern_and_max_len_are_enforced() {
    let p = policy(
        None,
        None,
        "\"$.no\" = { keep = \"string\", pattern = \"LA[0-9]{8}\" }\n\"$.r\" = { keep = \"string\", max_len = 3 }",
    );
    assert_eq!(
        pass(&p, r#"{"no":"LA00000001","r":"客户好"}"#),
        r#"{"no":"LA00000001","r":"客户好"}"#
    );
    assert_eq!(
        fail(&p, r#"{"no":"LA00000001x"}"#),
        "pattern_mismatch at $.no (byte 6)"
    );
    assert_eq!(
        fail(&p, r#"{"no":"xLA00000001"}"#),
        "pattern_mismatch at $.no (byte 6)"
    );
    assert_eq!(fail(&p, r#"{"r":"客户好啊"}"#), "too_long at $.r (byte 5)");
    // Escapes count as the characters they stand for.
    assert_eq!(
        pass(&p, r#"{"r":"\u5ba2\u6237"}"#),
        r#"{"r":"\u5ba2\u6237"}"#
    );
}

#[test]
fn strict_json_everywhere_including_inside_stripped_members() {
    let p = policy(None, None, r#""$.a" = "keep""#);
    let cases = [
        (
            &b"{\"x\":\"\xff\",\"a\":1}"[..],
            "invalid_utf8 at $.? (byte 6)",
        ),
        (b"{\"x\":\"\xed\xa0\x80\"}", "invalid_utf8 at $.? (byte 6)"),
        (
            br#"{"x":"\ud800","a":1}"#,
            "lone_surrogate at $.? (byte 12)",
        ),
        (br#"{"x":"\udc00"}"#, "lone_surrogate at $.? (byte 11)"),
        (b"{\"x\":\"a\x01\"}", "control_character at $.? (byte 7)"),
        (br#"{"x":"\q"}"#, "invalid_escape at $.? (byte 6)"),
        (br#"{"x":1 /* c */}"#, "invalid_json at $.? (byte 7)"),
        (br#"{"x":[1,],"a":1}"#, "invalid_json at $.? (byte 8)"),
        (br#"{"x":1,}"#, "invalid_json at $.? (byte 7)"),
        (br#"{'x':1}"#, "invalid_json at $ (byte 1)"),
        (br#"{"x":NaN}"#, "invalid_json at $.? (byte 5)"),
        (br#"{"x":Infinity}"#, "invalid_json at $.? (byte 5)"),
        (br#"{"x":01}"#, "invalid_json at $.? (byte 6)"),
        (br#"{"x":1.}"#, "invalid_json at $.? (byte 7)"),
        (br#"{"x":+1}"#, "invalid_json at $.? (byte 5)"),
        (b"\xef\xbb\xbf{\"a\":1}", "byte_order_mark at $ (byte 0)"),
        (br#"{"a":1}{"a":2}"#, "trailing_data at $ (byte 7)"),
        (br#"{"a":1"#, "truncated at $.a (byte 6)"),
        (br#"{"x":"abc"#, "truncated at $.? (byte 9)"),
        (b"", "empty_body at $ (byte 0)"),
        (b"{\"x\":\x0c1}", "invalid_json at $.? (byte 5)"),
        (b"{\"x\":\xc2\xa01}", "invalid_json at $.? (byte 5)"),
        (br#"{"x":tru}"#, "invalid_json at $.? (byte 8)"),
    ];
    for (input, want) in cases {
        let got = match run_cfg(config(&p, Format::Json), input, &[]) {
            Ok((o, _)) => panic!(
                "{:?} passed with {}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(&o)
            ),
            Err(v) => v.to_string(),
        };
        assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn depth_and_token_limits() {
    let p = policy(None, None, r#""$.a" = "keep""#);
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(64), "]".repeat(64));
    assert_eq!(fail(&p, &deep), "depth_exceeded at $.? (byte 68)");
    let ok = format!("{{\"x\":{}{}}}", "[".repeat(63), "]".repeat(63));
    assert_eq!(pass(&p, &ok), "{}");
    let mut cfg = config(&p, Format::Json);
    cfg.limits.max_token_len = 4;
    assert!(run_cfg(cfg.clone(), br#"{"x":"abcd","a":1234}"#, &[]).is_ok());
    assert_eq!(
        run_cfg(cfg.clone(), br#"{"x":"abcde"}"#, &[])
            .unwrap_err()
            .to_string(),
        "token_too_long at $.? (byte 10)"
    );
    assert_eq!(
        run_cfg(cfg.clone(), br#"{"a":12345}"#, &[])
            .unwrap_err()
            .to_string(),
        "token_too_long at $.a (byte 9)"
    );
    assert_eq!(
        run_cfg(cfg, br#"{"abcde":1}"#, &[])
            .unwrap_err()
            .to_string(),
        "token_too_long at $ (byte 6)"
    );
}

#[test]
fn masks_follow_the_reference_tables() {
    let p = policy(
        None,
        None,
        "\"$.m\" = \"mask:mobile\"\n\"$.c\" = \"mask:bank_card\"\n\"$.i\" = \"mask:id_card\"\n\"$.n1\" = \"mask:name\"\n\"$.n2\" = \"mask:name\"\n\"$.a\" = \"mask:address\"\n\"$.e\" = \"mask:email\"",
    );
    let out = pass(
        &p,
        r#"{"m":"13860642414","c":"6222029365368615645","i":"31011519751103008X","n1":"欧阳明轩","n2":"张伟","a":"上海市浦东新区张江路123弄5号1202室","e":"ouyang.mx@163.com"}"#,
    );
    assert_eq!(
        out,
        r#"{"m":"138****2414","c":"622202*********5645","i":"310115********008X","n1":"欧阳**","n2":"张*","a":"上海市浦东新区****","e":"o***@163.com"}"#
    );
    // Numbers are masked from their lexeme; escaped input is decoded first.
    assert_eq!(pass(&p, r#"{"m":13860642414}"#), r#"{"m":"138****2414"}"#);
    assert_eq!(
        pass(
            &p,
            r#"{"m":"\u0031\u0033\u0038\u0036\u0030\u0036\u0034\u0032\u0034\u0031\u0034"}"#
        ),
        r#"{"m":"138****2414"}"#
    );
}

#[test]
fn values_that_do_not_look_like_their_kind_become_the_marker_and_are_counted() {
    let p = policy(None, None, "\"$.m\" = \"mask:mobile\"");
    let (out, s) = run(&p, Format::Json, r#"{"m":"call me maybe"}"#).unwrap();
    assert_eq!(out, r#"{"m":"[REDACTED]"}"#);
    assert_eq!(s.field("$.m").unwrap().redacted, 1);
    assert_eq!(pass(&p, r#"{"m":true}"#), r#"{"m":"[REDACTED]"}"#);
    assert_eq!(pass(&p, r#"{"m":null}"#), r#"{"m":null}"#);
}

#[test]
fn hash_is_keyed_nfkc_and_per_contract() {
    let p = policy(
        None,
        None,
        "\"$.a\" = \"hash\"\n\"$.b\" = \"hash\"\n\"$.c\" = \"hash:sm3\"",
    );
    let out = pass(
        &p,
        r#"{"a":"13860642414","b":"１３８６０６４２４１４","c":"13860642414"}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (a, b, c) = (
        v["a"].as_str().unwrap(),
        v["b"].as_str().unwrap(),
        v["c"].as_str().unwrap(),
    );
    assert_eq!(a, b, "same person, same pseudonym");
    assert_eq!(a.len(), 64);
    assert_ne!(a, c, "SM3 differs");
    assert!(!out.contains("13860642414") && !out.contains("2414"));
    // Another contract's key gives another pseudonym.
    let mut cfg = config(&p, Format::Json);
    cfg.keys = std::sync::Arc::new(sluice_policy::engine::EngineKeys::derive(
        b"test-pseudonym-master",
        b"x",
        "other-contract",
    ));
    let (o2, _) = run_cfg(cfg, br#"{"a":"13860642414"}"#, &[]).unwrap();
    assert!(!String::from_utf8(o2).unwrap().contains(a));
}

#[test]
fn redact_replaces_with_the_marker() {
    let p = policy(None, None, r#""$.r" = "redact""#);
    assert_eq!(pass(&p, r#"{"r":"secret","x":1}"#), r#"{"r":"[REDACTED]"}"#);
    assert_eq!(fail(&p, r#"{"r":"\x"}"#), "invalid_escape at $.r (byte 6)");
}

#[test]
fn scan_masks_identifiers_inside_kept_strings() {
    let p = policy(
        None,
        None,
        r#""$.remark" = { keep = "string", scan = ["id_card", "mobile", "bank_card", "email"] }"#,
    );
    let (out, s) = run(&p, Format::Json, r#"{"remark":"客户补充：身份证 310115 19751103 008X，备用卡 6222 0293 6536 8615 645，手机\uff11\uff13\uff18\uff16\uff10\uff16\uff14\uff12\uff14\uff11\uff14"}"#).unwrap();
    assert_eq!(
        out,
        r#"{"remark":"客户补充：身份证 310115********008X，备用卡 622202*********5645，手机138****2414"}"#
    );
    assert_eq!(s.field("$.remark").unwrap().masked, 3);
    // Without a finding the string stays byte-exact, escapes and all.
    let clean = r#"{"remark":"\u5ba2\u6237 #42"}"#;
    assert_eq!(pass(&p, clean), clean);
}

#[test]
fn ndjson_one_record_per_line_crlf_and_blank_lines() {
    let p = policy(Some("$.records[*]"), None, r#""$.records[*].a" = "keep""#);
    let (out, s) = run(
        &p,
        Format::Ndjson,
        "{\"a\":1,\"b\":2}\r\n\n  \r\n{\"a\":\"x\"}\n{\"b\":3}",
    )
    .unwrap();
    assert_eq!(out, "{\"a\":1}\n{\"a\":\"x\"}\n{}\n");
    assert_eq!(s.records, 3);
    assert_eq!(run(&p, Format::Ndjson, "").unwrap().0, "");
    assert_eq!(
        run(&p, Format::Ndjson, "{\"a\":1} {\"a\":2}\n")
            .unwrap_err()
            .to_string(),
        "trailing_data at $ (byte 8)"
    );
    assert_eq!(
        run(&p, Format::Ndjson, "{\"a\":\n1}\n")
            .unwrap_err()
            .to_string(),
        "invalid_json at $.a (byte 5)"
    );
    assert_eq!(
        run(&p, Format::Ndjson, "{\"a\":1}\n{\"a\":")
            .unwrap_err()
            .to_string(),
        "truncated at $.a (byte 13)"
    );
}

#[test]
fn records_subjects_and_summary() {
    let p = policy(
        Some("$.rs[*]"),
        Some("$.rs[*].id"),
        "\"$.rs[*].id\" = \"mask:id_card\"\n\"$.rs[*].n\" = \"keep\"",
    );
    let body = r#"{"rs":[{"id":"31011519751103008X","n":1,"x":2},{"id":"11010519491231002X","n":2,"y":3,"z":4}],"total":2}"#;
    let (out, s) = run(&p, Format::Json, body).unwrap();
    assert_eq!(
        out,
        r#"{"rs":[{"id":"310115********008X","n":1},{"id":"110105********002X","n":2}]}"#
    );
    assert_eq!(s.records, 2);
    assert_eq!(s.subject_count, 2);
    let k = keys();
    assert_eq!(
        s.subjects,
        vec![
            k.subject.subject_hash("31011519751103008X"),
            k.subject.subject_hash("11010519491231002X")
        ]
    );
    assert_eq!(s.field("$.rs[*].id").unwrap().masked, 2);
    assert_eq!(s.field("$.rs[*].n").unwrap().kept, 2);
    assert_eq!(s.field("$.rs[*]").unwrap().stripped, 3);
    assert_eq!(s.field("$").unwrap().stripped, 1);
    assert_eq!(s.bytes_in, body.len() as u64);
    assert_eq!(s.bytes_out, out.len() as u64);
    assert_eq!(
        s.output_sha256.as_slice(),
        ring_sha256(out.as_bytes()).as_slice()
    );
}

/// The digest of the output, by ring (the end-to-end proxy test checks sluice's digests against
/// an independent SHA-256 implementation).
fn ring_sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

#[test]
fn consent_withdrawal_drops_whole_records() {
    let p = policy(
        Some("$.rs[*]"),
        Some("$.rs[*].id"),
        "\"$.rs[*].id\" = \"hash\"\n\"$.rs[*].n\" = \"keep\"",
    );
    let withdrawn = keys().subject.subject_hash("11010519491231002X");
    let cfg = with_consent(
        config(&p, Format::Json),
        ConsentList::from_hashes([withdrawn]),
    );
    let body = br#"{"rs":[{"n":1,"id":"11010519491231002X"},{"n":2,"id":"31011519751103008X"},{"id":"11010519491231002x","n":3}]}"#;
    for cut in 0..body.len() {
        let (out, s) = run_cfg(cfg.clone(), body, &[cut]).unwrap();
        let out = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["rs"].as_array().unwrap().len(), 1, "{out}");
        assert_eq!(v["rs"][0]["n"], 2);
        assert_eq!((s.records, s.records_dropped), (3, 2));
    }
    // NDJSON lines are dropped with their newline.
    let cfg = with_consent(
        config(&p, Format::Ndjson),
        ConsentList::from_hashes([withdrawn]),
    );
    let (out, _) = run_cfg(
        cfg,
        b"{\"n\":1,\"id\":\"11010519491231002X\"}\n{\"n\":2,\"id\":\"x\"}\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"n\":2,\"id\":\"4d1c54e3bd39df7b6ec81ef1c4e7d5d9af37be4bd0a89d9d83f9a6e91c4dbd3d\"}\n"
            .replace(
                "4d1c54e3bd39df7b6ec81ef1c4e7d5d9af37be4bd0a89d9d83f9a6e91c4dbd3d",
                &{
                    let mut h = String::new();
                    keys().pseudonym.pseudonym(
                        sluice_policy::rule::HashAlg::HmacSha256,
                        "x",
                        &mut h,
                    );
                    h
                }
            )
    );
}

#[test]
fn a_record_over_the_cap_is_refused_when_records_are_held() {
    let p = policy(
        Some("$.rs[*]"),
        Some("$.rs[*].id"),
        "\"$.rs[*].id\" = \"hash\"\n\"$.rs[*].s\" = \"keep\"",
    );
    let mut cfg = with_consent(config(&p, Format::Json), ConsentList::default());
    cfg.limits.record_cap = 32;
    assert!(run_cfg(cfg.clone(), br#"{"rs":[{"id":"1","s":"0123456789"}]}"#, &[]).is_ok());
    let err = run_cfg(
        cfg,
        br#"{"rs":[{"id":"1","s":"0123456789012345678901234567890"}]}"#,
        &[],
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "record_too_large at $.rs[0].s (byte 39)");
}

#[test]
fn a_scalar_kept_as_a_subtree_is_counted_once() {
    let p = policy(
        None,
        None,
        "\"$.d\" = { keep = \"subtree\" }\n\"$.e\" = { keep = \"subtree\" }",
    );
    let body = br#"{"d":"whole","e":{"x":[1,2]}}"#;
    for cuts in [vec![], (1..body.len()).collect::<Vec<_>>()] {
        let (out, s) = run_cfg(config(&p, Format::Json), body, &cuts).unwrap();
        assert_eq!(out, body.to_vec());
        assert_eq!(s.field("$.d").unwrap().kept, 1, "cuts {cuts:?}");
        assert_eq!(s.field("$.e").unwrap().kept, 1, "cuts {cuts:?}");
    }
}
