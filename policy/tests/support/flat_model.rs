//! Reference models for the CSV and form engines under one fixed contract ([`flat_policy`]): the
//! body read whole by a well-kept crate (`csv`, `form_urlencoded`) into rows of strings, the
//! rules applied to each value, and the engine's output read the same way. Used by the
//! proptests of `policy/tests/flat_properties.rs` and by the `flat_model` fuzz target
//! (`tests/fuzz`), which feeds them any bytes.
//!
//! The engines are stricter than both crates on purpose (see `engine/csv.rs`: readers disagree
//! on what RFC 4180 leaves open, and sluice refuses it), so the direction checked on every input
//! is the one a filter lives by: whatever the engine passes, the crate reads, and the engine's
//! output reads to exactly the model's rows.

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::Format;
use sluice_policy::rule::{Detector, HashAlg, MaskKind};

const FIELDS: &str = r#""$.rows[*].keep" = "keep"
"$.rows[*].name" = "mask:name"
"$.rows[*].mobile" = "hash"
"$.rows[*].note" = { keep = "string", scan = ["mobile"] }
"$.rows[*].secret" = "redact""#;

/// The contract the models apply: one record per row (or per form body).
pub fn flat_policy() -> CompiledPolicy {
    super::policy(Some("$.rows[*]"), None, FIELDS)
}

/// What the contract makes of `value` in column (or key) `name`; `None`: it is dropped.
pub fn reference_rule(name: &str, value: &str) -> Option<String> {
    let keys = super::keys();
    let mut out = String::new();
    Some(match name {
        "keep" => value.to_string(),
        "note" if sluice_policy::detect::scan(&[Detector::Mobile], value, &mut out) > 0 => out,
        "note" => value.to_string(),
        "name" | "mobile" if value.is_empty() => String::new(),
        "name" => {
            if sluice_policy::mask::mask(MaskKind::Name, value, &mut out) {
                out
            } else {
                sluice_policy::mask::REDACTED.into()
            }
        }
        "mobile" => {
            keys.pseudonym
                .pseudonym(HashAlg::HmacSha256, value, &mut out);
            out
        }
        "secret" => sluice_policy::mask::REDACTED.into(),
        _ => return None,
    })
}

/// The records of a CSV text as the `csv` crate reads them (no header row set apart, every row
/// as long as the first), or `None` when it refuses the text.
pub fn csv_rows(bytes: &[u8]) -> Option<Vec<Vec<String>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.ok().map(|r| r.iter().map(str::to_string).collect()))
        .collect()
}

/// The contract applied to CSV rows (the first is the header): the kept columns' names, then
/// each row's kept cells through their rules; `Err` for a column named twice.
pub fn csv_reference(rows: &[Vec<String>]) -> Result<Vec<Vec<String>>, &'static str> {
    let Some((header, body)) = rows.split_first() else {
        return Ok(vec![]);
    };
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err("duplicate_key");
        }
    }
    let kept: Vec<usize> = (0..header.len())
        .filter(|&i| reference_rule(&header[i], "").is_some())
        .collect();
    let mut out = vec![kept.iter().map(|&i| header[i].clone()).collect()];
    for row in body {
        out.push(
            kept.iter()
                .map(|&i| reference_rule(&header[i], &row[i]).expect("a kept column"))
                .collect(),
        );
    }
    Ok(out)
}

/// The engine on `data` as `format`, whole and cut at `cut`, which must agree.
fn run(
    policy: &CompiledPolicy,
    format: Format,
    data: &[u8],
    cut: usize,
) -> Result<Vec<u8>, sluice_policy::engine::Violation> {
    let whole = super::run_cfg(super::config(policy, format), data, &[]).map(|(o, _)| o);
    let split = super::run_cfg(super::config(policy, format), data, &[cut]).map(|(o, _)| o);
    assert_eq!(split, whole, "cut at {cut} the engine answers otherwise");
    whole
}

/// The CSV engine against [`csv_reference`] on one body: panics when the engine passes what the
/// `csv` crate refuses, what the model refuses, or writes rows other than the model's.
pub fn csv_differential(policy: &CompiledPolicy, data: &[u8], cut: usize) {
    let Ok(out) = run(policy, Format::Csv, data, cut) else {
        return;
    };
    let rows = csv_rows(data).expect("the engine passed what the csv crate refuses");
    let want = csv_reference(&rows)
        .unwrap_or_else(|e| panic!("the engine passed what the model refuses ({e})"));
    let got = csv_rows(&out).expect("the output is CSV");
    // A header with no kept column leaves nothing to read back but empty lines.
    let want: Vec<Vec<String>> = want.into_iter().filter(|r| !r.is_empty()).collect();
    if rows[0].len() != 1 {
        assert_eq!(got, want, "output: {:?}", String::from_utf8_lossy(&out));
        return;
    }
    // In a table of one column a blank line is a row of one empty cell to the engine (written
    // back quoted) and no row to the crate, which skips it: readers differ there. The crate's
    // rows must then be the engine's, less rows that are what an empty cell becomes.
    let empty: Vec<Vec<String>> = want
        .first()
        .map(|h| vec![vec![reference_rule(&h[0], "").expect("kept")]])
        .unwrap_or_default();
    let mut rest = want.iter().peekable();
    for row in &got {
        if rest.peek() == Some(&row) {
            rest.next();
        } else {
            assert!(
                empty.contains(row),
                "output row {row:?} is not the model's: {:?}",
                String::from_utf8_lossy(&out)
            );
        }
    }
    assert!(
        rest.next().is_none(),
        "output: {:?}",
        String::from_utf8_lossy(&out)
    );
}

/// The form engine against the model on one body: whatever it passes, `form_urlencoded` reads
/// to pairs whose kept ones, through their rules, are exactly what the output reads to; no key
/// twice.
pub fn form_differential(policy: &CompiledPolicy, data: &[u8], cut: usize) {
    let Ok(out) = run(policy, Format::Form, data, cut) else {
        return;
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    for (i, (k, _)) in pairs.iter().enumerate() {
        assert!(
            !pairs[..i].iter().any(|(p, _)| p == k),
            "the engine passed a key written twice"
        );
    }
    let want: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| reference_rule(&k, &v).map(|v| (k, v)))
        .collect();
    let got: Vec<(String, String)> = form_urlencoded::parse(&out).into_owned().collect();
    assert_eq!(got, want, "output: {:?}", String::from_utf8_lossy(&out));
}
