//! The CSV engine through the public `Redactor`: default deny by column, byte-exact cells, every
//! rule kind, strictness refusals, split invariance, records, subjects and consent.

mod support;

use sluice_policy::consent::ConsentList;
use sluice_policy::engine::Format;
use support::{config, keys, policy, run, run_cfg, with_consent};

fn csv(p: &sluice_policy::CompiledPolicy, input: &str) -> String {
    match run(p, Format::Csv, input) {
        Ok((o, _)) => o,
        Err(v) => panic!("expected {input:?} to pass, got {v}"),
    }
}

fn refused(p: &sluice_policy::CompiledPolicy, input: &str) -> String {
    match run(p, Format::Csv, input) {
        Ok((o, _)) => panic!("expected {input:?} to be refused, got output {o:?}"),
        Err(v) => v.to_string(),
    }
}

fn loans() -> sluice_policy::CompiledPolicy {
    policy(
        Some("$.loans[*]"),
        Some("$.loans[*].id_no"),
        r#""$.loans[*].loan_id" = "keep"
"$.loans[*].name" = "mask:name"
"$.loans[*].mobile" = "hash"
"$.loans[*].amount" = { keep = "number", min = 0, max = 10000000 }
"$.loans[*].remarks" = { keep = "string", scan = ["mobile"] }
"$.loans[*].secret" = "redact""#,
    )
}

#[test]
fn an_unlisted_column_is_dropped_from_the_header_and_every_row() {
    let p = loans();
    let out = csv(
        &p,
        "loan_id,id_no,card,amount\r\nL1,310115197511030084,6222020000000005645,12.50\r\nL2,110101199003074258,,0\r\n",
    );
    assert_eq!(out, "loan_id,amount\r\nL1,12.50\r\nL2,0\r\n");
}

#[test]
fn kept_cells_go_out_byte_exact_quoted_where_their_text_needs_it() {
    let p = loans();
    let input = "loan_id,remarks\n\"L \"\"1\"\"\",\"two\r\nlines, and a comma\"\nL2,plain\n";
    assert_eq!(csv(&p, input), input);
}

/// A kept cell went out quoted if the source quoted it, a header name too, and each row ended
/// with the CRLF or LF the source chose for it: a bit a cell and a bit a row, the source's
/// choice and no data a rule lists — over a daily file, room for any text. Cells (and names)
/// now go out quoted only where their text needs it, and every row ends as the header row did;
/// the text of a kept cell is still the source's, byte for byte.
#[test]
fn quoting_and_line_ends_go_out_in_one_spelling_whatever_the_source_chose() {
    let p = loans();
    let input = "\"loan_id\",remarks\r\n\"L1\",\"a, b\"\nL2,\"plain\"\r\n\"L3\",x\n";
    let want = "loan_id,remarks\r\nL1,\"a, b\"\r\nL2,plain\r\nL3,x\r\n";
    assert_eq!(csv(&p, input), want);
    // However the body is split (a CR and its LF in different chunks included).
    for cut in 0..=input.len() {
        let (out, _) = run_cfg(config(&p, Format::Csv), input.as_bytes(), &[cut]).expect("passes");
        assert_eq!(String::from_utf8(out).unwrap(), want, "cut {cut}");
    }
    // The last row without a line break goes out without one.
    assert_eq!(csv(&p, "loan_id\nL1\n\"L2\""), "loan_id\nL1\nL2");
}

#[test]
fn every_rule_kind_applies_to_cells_and_is_counted_per_path() {
    let p = loans();
    let input = "loan_id,name,mobile,amount,remarks,secret\nL1,欧阳明轩,13812345678,100,call 13912345678 today,x\nL2,,,5,none,y\n";
    let (out, summary) = run(&p, Format::Csv, input).expect("passes");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows[0], "loan_id,name,mobile,amount,remarks,secret");
    let cells: Vec<&str> = rows[1].split(',').collect();
    assert_eq!(cells[0], "L1");
    assert_eq!(cells[1], "欧阳**");
    assert_eq!(cells[2].len(), 64, "a hex pseudonym: {}", cells[2]);
    assert!(!rows[1].contains("13812345678") && !rows[1].contains("13912345678"));
    assert_eq!(cells[3], "100");
    assert_eq!(cells[4], "call 139****5678 today");
    assert_eq!(cells[5], "[REDACTED]");
    // An empty cell carries no data: a mask or a hash leaves it empty.
    assert_eq!(rows[2], "L2,,,5,none,[REDACTED]");
    assert_eq!(summary.records, 2);
    let name = summary.field("$.loans[*].name").expect("name counted");
    assert_eq!((name.masked, name.kept), (1, 1));
    assert_eq!(
        summary.field("$.loans[*].mobile").map(|f| f.hashed),
        Some(1)
    );
    assert_eq!(
        summary
            .field("$.loans[*].remarks")
            .map(|f| (f.kept, f.masked)),
        Some((2, 1))
    );
    assert_eq!(
        summary.field("$.loans[*].secret").map(|f| f.redacted),
        Some(2)
    );
}

#[test]
fn a_replacement_is_quoted_only_when_its_text_needs_it() {
    let p = policy(None, None, r#""$.note" = "mask:partial(2,1)""#);
    // The masked text keeps a comma of the original: it must be quoted to stay one cell.
    assert_eq!(csv(&p, "note\n\"a,bcd\"\n"), "note\n\"a,**d\"\n");
    // Read quoted, written bare: the new text needs no quotes.
    assert_eq!(csv(&p, "note\n\"abcd\"\n"), "note\nab*d\n");
}

#[test]
fn constraints_on_cells_are_violations_with_the_column_path() {
    let p = loans();
    assert_eq!(
        refused(&p, "loan_id,amount\nL1,12.5.0\n"),
        "type_mismatch at $.loans[*].amount (byte 18)"
    );
    assert_eq!(
        refused(&p, "loan_id,amount\nL1,10000001\n"),
        "out_of_range at $.loans[*].amount (byte 18)"
    );
    let p = policy(None, None, r#""$.flag" = { keep = "boolean" }"#);
    assert!(refused(&p, "flag\nyes\n").starts_with("type_mismatch at $.flag"));
    assert_eq!(csv(&p, "flag\ntrue\nfalse\n"), "flag\ntrue\nfalse\n");
}

#[test]
fn ambiguous_csv_is_refused_not_guessed() {
    let p = loans();
    let cases = [
        ("loan_id\nL\"1\n", "invalid_csv"),
        ("loan_id\n\"L1\"x\n", "invalid_csv"),
        ("loan_id\n\"L1\" \n", "invalid_csv"),
        ("loan_id\rL1\n", "invalid_csv"),
        ("loan_id,amount\nL1\n", "ragged_row"),
        ("loan_id,amount\nL1,1,2\n", "ragged_row"),
        ("loan_id,amount\nL1,1\n\nL2,2\n", "ragged_row"),
        ("loan_id,loan_id\nL1,L2\n", "duplicate_key"),
        ("loan_id,\nL1,x\n", "invalid_csv"),
        ("", "empty_body"),
        ("loan_id\n\"L1\n", "truncated"),
        ("loan_id\nL\u{1}1\n", "control_character"),
        ("loan_id\nL1\r", "invalid_csv"),
    ];
    for (input, code) in cases {
        let got = refused(&p, input);
        assert!(
            got.starts_with(code),
            "{input:?}: expected {code}, got {got}"
        );
    }
    let bad_utf8 = b"loan_id\nL\xff1\n";
    let v = run_cfg(config(&p, Format::Csv), bad_utf8, &[]).expect_err("refused");
    assert_eq!(v.kind.code(), "invalid_utf8");
}

#[test]
fn a_column_the_policy_expects_as_an_object_is_refused_at_the_header() {
    let p = policy(None, None, r#""$.applicant.name" = "keep""#);
    assert!(refused(&p, "applicant\nx\n").starts_with("wrong_container at $.applicant"));
}

#[test]
fn the_last_row_may_end_without_a_line_end() {
    let p = loans();
    assert_eq!(csv(&p, "loan_id,x\nL1,a\nL2,b"), "loan_id\nL1\nL2");
    assert_eq!(csv(&p, "loan_id\n"), "loan_id\n");
}

#[test]
fn output_and_verdict_do_not_depend_on_where_the_body_is_split() {
    let p = loans();
    let bodies: [&[u8]; 8] = [
        // Invalid UTF-8 in a dropped column, in a kept one, and a character cut by the end.
        b"loan_id,x\nL1,\xE4\xB8x\nL2,y\n",
        b"loan_id,x\n\"L\xE4\xB8\xAD\xFF\"\"\",1\n",
        b"loan_id,x\nL1,\xE4\xB8",
        "loan_id,name,mobile,amount,remarks\r\n\"L,1\",张三,13812345678,1,\"x\"\"y 13912345678\"\r\nL2,李四,,2,\"a\nb\"\r\n".as_bytes(),
        b"loan_id,amount\nL1,12\nL2,1e3\n",
        b"loan_id\n\"L1\"x\n",
        b"loan_id,amount\nL1\n",
        b"loan_id\n\"open",
    ];
    for body in bodies {
        let whole = run_cfg(config(&p, Format::Csv), body, &[]);
        let bytewise: Vec<usize> = (1..body.len()).collect();
        assert_eq!(run_cfg(config(&p, Format::Csv), body, &bytewise), whole);
        for cut in 0..=body.len() {
            assert_eq!(
                run_cfg(config(&p, Format::Csv), body, &[cut]),
                whole,
                "cut at {cut} of {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn a_row_whose_subject_withdrew_consent_is_dropped_whole() {
    let p = loans();
    let withdrawn = keys().subject.subject_hash("310115197511030084");
    let cfg = with_consent(
        config(&p, Format::Csv),
        ConsentList::from_hashes([withdrawn]),
    );
    let input = "loan_id,id_no\nL1,310115197511030084\nL2,110101199003074258\n";
    let (out, summary) = run_cfg(cfg, input.as_bytes(), &[]).expect("passes");
    assert_eq!(String::from_utf8(out).unwrap(), "loan_id\nL2\n");
    assert_eq!((summary.records, summary.records_dropped), (2, 1));
    assert_eq!(summary.subject_count, 2);
}

#[test]
fn a_whole_row_kept_as_a_subtree_keeps_every_column() {
    let p = policy(
        Some("$.rows[*]"),
        None,
        r#""$.rows[*]" = { keep = "subtree", plaintext_reason = "test" }"#,
    );
    let input = "a,b\n1,\"x,y\"\n";
    assert_eq!(csv(&p, input), input);
}

#[test]
fn a_cell_or_held_row_past_its_limit_is_refused_at_the_same_byte_however_split() {
    use sluice_policy::engine::Limits;
    let p = loans();
    let small = |consent: bool| {
        let mut cfg = config(&p, Format::Csv);
        cfg.limits = Limits {
            max_token_len: 8,
            record_cap: 12,
            ..Limits::default()
        };
        if consent {
            cfg = with_consent(cfg, ConsentList::from_hashes([]));
        }
        cfg
    };
    let cases: [(&[u8], bool, &str); 5] = [
        (
            b"loan_id\nL12345678\n",
            false,
            "token_too_long at $.loans[*].loan_id (byte 16)",
        ),
        // The limit falls inside a character: passed at the same byte as for ASCII.
        (
            "loan_id\nL12345客\n".as_bytes(),
            false,
            "token_too_long at $.loans[*].loan_id (byte 16)",
        ),
        (
            "loan_id,x\nL1234567,ab客\n".as_bytes(),
            true,
            "record_too_large at $.loans[*] (byte 23)",
        ),
        (
            b"loan_id\n\"L1234567\"\"\"\n",
            false,
            "token_too_long at $.loans[*].loan_id (byte 18)",
        ),
        (
            b"loan_id,x\nL1234567,abcdefgh\n",
            true,
            "record_too_large at $.loans[*] (byte 23)",
        ),
    ];
    for (body, consent, want) in cases {
        let whole = run_cfg(small(consent), body, &[]).map(|_| ()).unwrap_err();
        assert_eq!(whole.to_string(), want);
        for cut in 0..=body.len() {
            let split = run_cfg(small(consent), body, &[cut])
                .map(|_| ())
                .unwrap_err();
            assert_eq!(split, whole, "cut at {cut}");
        }
    }
}

/// Found by the reference-model property: a row whose only kept cell was empty went out as a
/// blank line, which CSV readers skip — the partner would have seen one row fewer.
#[test]
fn a_row_whose_only_kept_cell_is_empty_is_not_a_blank_line() {
    let p = loans();
    assert_eq!(
        csv(&p, "loan_id,card\n,6222\nL2,1\n"),
        "loan_id\n\"\"\nL2\n"
    );
    let p = policy(Some("$.r[*]"), None, r#""$.r[*].m" = "mask:mobile""#);
    assert_eq!(csv(&p, "m,x\n,1\n"), "m\n\"\"\n");
}

#[test]
fn pattern_and_length_constraints_apply_to_cells_as_to_json_strings() {
    let p = policy(
        None,
        None,
        r#""$.code" = { keep = "string", pattern = "LA[0-9]{4}", max_len = 6 }
"$.flag" = "redact""#,
    );
    assert_eq!(
        csv(&p, "code,flag\nLA1234,x\n"),
        "code,flag\nLA1234,[REDACTED]\n"
    );
    assert!(refused(&p, "code\nLA12345\n").starts_with("too_long at $.code"));
    assert!(refused(&p, "code\nXX1234\n").starts_with("pattern_mismatch at $.code"));
}

/// The header is held until it ends, so its names together are bounded like one token: a
/// header of many long names is refused, not held without limit.
#[test]
fn a_header_larger_than_the_token_limit_is_refused() {
    use sluice_policy::engine::Limits;
    let p = loans();
    let mut cfg = config(&p, Format::Csv);
    cfg.limits = Limits {
        max_token_len: 64,
        ..Limits::default()
    };
    let names: Vec<String> = (0..20).map(|i| format!("column_{i:02}")).collect();
    let body = format!("{}\n", names.join(","));
    let v = run_cfg(cfg, body.as_bytes(), &[]).map(|_| ()).unwrap_err();
    assert_eq!(v.kind.code(), "too_many_keys");
}

/// A spreadsheet's byte order mark was read as part of the first column's name
/// (`\u{FEFF}loan_id`), a name no rule lists, so the column was dropped from every row and the
/// body went out as if it had none — the partner's file silently short of its first column. It
/// is refused at byte 0, however the body is split, as JSON refuses one; a U+FEFF inside a cell
/// is text like any other.
#[test]
fn a_byte_order_mark_is_refused_not_read_into_the_first_column() {
    let p = loans();
    let input = "\u{FEFF}loan_id,name\nL1,欧阳明轩\n";
    for cut in 0..=input.len() {
        let v = run_cfg(config(&p, Format::Csv), input.as_bytes(), &[cut]).expect_err("refused");
        assert_eq!(
            (v.kind.code(), v.offset),
            ("byte_order_mark", 0),
            "cut {cut}"
        );
    }
    assert_eq!(
        csv(&p, "loan_id,name\nL\u{FEFF}1,欧阳明轩\n"),
        "loan_id,name\nL\u{FEFF}1,欧阳**\n"
    );
}
