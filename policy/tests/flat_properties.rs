//! Properties of the CSV and form engines against straightforward reference models
//! (`support::flat_model`): the body parsed whole by a well-kept crate (`csv`,
//! `form_urlencoded`) into rows of strings, the rules applied to each value, and the result
//! compared with the engine's output parsed the same way; kept values byte-exact as generated;
//! any two cuts give the same output and verdict.

mod support;

use proptest::prelude::*;
use sluice_policy::engine::Format;
use support::flat_model::{csv_rows, flat_policy, reference_rule};
use support::*;

const NAMES: [&str; 7] = ["keep", "name", "mobile", "note", "secret", "other", "more"];

fn cell() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("a"),
            Just("Z"),
            Just("7"),
            Just(","),
            Just("\""),
            Just("\n"),
            Just("\r\n"),
            Just(" "),
            Just("张"),
            Just("欧阳"),
            Just("13812345678"),
            Just("+"),
            Just("&"),
            Just("="),
            Just("%"),
            Just(";"),
        ],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

/// Column names, rows of cells (each with whether it is written quoted), CRLF line ends.
type Table = (Vec<&'static str>, Vec<Vec<(String, bool)>>, bool);

/// A table of distinct column names.
fn table() -> impl Strategy<Value = Table> {
    proptest::sample::subsequence(NAMES.to_vec(), 1..=NAMES.len())
        .prop_shuffle()
        .prop_flat_map(|cols| {
            let n = cols.len();
            let rows = proptest::collection::vec(
                proptest::collection::vec((cell(), any::<bool>()), n..=n),
                0..5,
            );
            (Just(cols), rows, any::<bool>())
        })
}

fn write_cell(out: &mut String, text: &str, quoted: bool) {
    let needs = text.contains([',', '"', '\r', '\n']) || text.is_empty() && quoted;
    if quoted || needs {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn csv_matches_the_reference_model_and_keeps_cell_text_as_written(
        (cols, rows, crlf) in table(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 2),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        let mut expect = String::new();
        let kept: Vec<usize> = (0..cols.len()).filter(|&i| reference_rule(cols[i], "").is_some()).collect();
        body.push_str(&cols.join(","));
        body.push_str(eol);
        expect.push_str(&kept.iter().map(|&i| cols[i]).collect::<Vec<_>>().join(","));
        expect.push_str(eol);
        for row in &rows {
            let mut line = String::new();
            let mut out = String::new();
            for (i, (text, quoted)) in row.iter().enumerate() {
                if i > 0 { line.push(','); }
                write_cell(&mut line, text, *quoted);
            }
            // A single empty cell written bare is a blank line, which is a row only when the
            // table has one column; generate it quoted to stay unambiguous.
            if row.len() == 1 && line.is_empty() { line.push_str("\"\""); }
            for (n, &i) in kept.iter().enumerate() {
                if n > 0 { out.push(','); }
                let (text, _quoted_in_the_source) = &row[i];
                let rule = reference_rule(cols[i], text).expect("kept");
                // Kept text is the same bytes, quoted where it needs quotes (whether the source
                // quoted it or not); a lone empty cell is quoted, or the row would be a blank line.
                let lone_empty = kept.len() == 1 && rule.is_empty();
                write_cell(&mut out, &rule, lone_empty || rule.contains([',', '"', '\r', '\n']));
            }
            body.push_str(&line);
            body.push_str(eol);
            expect.push_str(&out);
            expect.push_str(eol);
        }
        let p = flat_policy();
        let whole = run_cfg(config(&p, Format::Csv), body.as_bytes(), &[]);
        let (out, summary) = whole.clone().unwrap_or_else(|v| panic!("refused {v}: {body:?}"));
        let out = String::from_utf8(out).expect("UTF-8");
        // The reference: the input parsed whole, the rules applied, against the output parsed.
        let input = csv_rows(body.as_bytes()).expect("CSV");
        let mut model: Vec<Vec<String>> = Vec::new();
        for (r, row) in input.iter().enumerate() {
            model.push(kept.iter().map(|&i| if r == 0 { row[i].clone() } else { reference_rule(cols[i], &row[i]).expect("kept") }).collect());
        }
        if !kept.is_empty() {
            prop_assert_eq!(csv_rows(out.as_bytes()).expect("CSV"), model);
        }
        prop_assert_eq!(&out, &expect);
        prop_assert_eq!(summary.records, rows.len() as u64);
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        at.sort();
        prop_assert_eq!(run_cfg(config(&p, Format::Csv), body.as_bytes(), &at), whole);
    }

    #[test]
    fn forms_match_the_reference_model_and_keep_pairs_as_written(
        pairs in proptest::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len())
            .prop_shuffle()
            .prop_flat_map(|keys| {
                let n = keys.len();
                (Just(keys), proptest::collection::vec(cell(), n..=n))
            }),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 2),
    ) {
        let (keys, values) = pairs;
        let body = {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in keys.iter().zip(&values) { s.append_pair(k, v); }
            s.finish()
        };
        let p = flat_policy();
        let whole = run_cfg(config(&p, Format::Form), body.as_bytes(), &[]);
        let (out, _) = whole.clone().unwrap_or_else(|v| panic!("refused {v}: {body:?}"));
        let got: Vec<(String, String)> = form_urlencoded::parse(&out).into_owned().collect();
        let model: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .filter_map(|(k, v)| reference_rule(&k, &v).map(|v| (k, v)))
            .collect();
        prop_assert_eq!(got, model);
        // Kept pairs are the input's own bytes.
        let raw: Vec<&str> = body.split('&').collect();
        for pair in String::from_utf8(out).unwrap().split('&').filter(|p| p.starts_with("keep=")) {
            prop_assert!(raw.contains(&pair), "{} not as written in {}", pair, body);
        }
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        at.sort();
        prop_assert_eq!(run_cfg(config(&p, Format::Form), body.as_bytes(), &at), whole);
    }
}
