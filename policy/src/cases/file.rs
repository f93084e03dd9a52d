//! The test file format: TOML next to the policy, one `[[case]]` per body.
//!
//! ```toml
//! policy = "policy.toml"            # relative to this file
//! key_file = "pseudonym.key"        # optional; default: the public development key
//!
//! [[case]]
//! name      = "applicants are masked"
//! contract  = "acme-prescreen-2026"
//! method    = "GET"
//! path      = "/v1/applicants/42"   # picks the contract's route whose template matches
//! direction = "response"            # optional: "request" on a pull route filters the partner's
//!                                   # request body through its request_fields
//! format    = "json"                # or "ndjson"; default json
//! body      = '''{"applicants": [...]}'''   # or body_file = "fixtures/x.json"
//! expect.body = '''...'''           # the exact output, or expect.body_file, or:
//! # expect.refusal = "duplicate_key"  # the violation's reason code
//! expect.records  = 1               # optional ledger counts
//! expect.subjects = 1
//! expect.fields."$.applicants[*].name" = { masked = 1 }
//! ```
//!
//! Parsing is pure (text in, cases out): files a case names are returned as paths for the
//! caller to read, relative to the test file as written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::engine::Format;

/// A body given inline or in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The bytes themselves.
    Inline(Vec<u8>),
    /// A file, relative to the test file.
    File(PathBuf),
}

/// Which body of the exchange a case filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The institution's response to a partner (pull routes).
    Response,
    /// The institution's request to a partner (push routes), or a partner's request body to
    /// the institution (pull routes that list `request_fields`).
    Request,
}

/// Expected per-path counts (each optional: only what is given is compared).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Values kept.
    pub kept: Option<u64>,
    /// Values masked.
    pub masked: Option<u64>,
    /// Values hashed.
    pub hashed: Option<u64>,
    /// Values redacted.
    pub redacted: Option<u64>,
    /// Members stripped.
    pub stripped: Option<u64>,
}

/// What the case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The body passes and the output is exactly this.
    Body(Source),
    /// The body is refused with this reason code.
    Refusal(String),
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Its name in reports.
    pub name: String,
    /// The contract id.
    pub contract: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Which body, when the file says so.
    pub direction: Option<Direction>,
    /// JSON or NDJSON.
    pub format: Format,
    /// The input body.
    pub body: Source,
    /// The expected output or refusal.
    pub outcome: Outcome,
    /// Expected record count.
    pub records: Option<u64>,
    /// Expected number of subject values.
    pub subjects: Option<u64>,
    /// Expected counts per rule path.
    pub fields: BTreeMap<String, Counts>,
}

/// A parsed test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFile {
    /// The policy, relative to the test file.
    pub policy: PathBuf,
    /// The pseudonym and subject master key, relative to the test file.
    pub key_file: Option<PathBuf>,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    policy: PathBuf,
    key_file: Option<PathBuf>,
    #[serde(default, rename = "case")]
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    contract: String,
    method: String,
    path: String,
    direction: Option<Direction>,
    format: Option<String>,
    body: Option<String>,
    body_file: Option<PathBuf>,
    expect: RawExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    body: Option<String>,
    body_file: Option<PathBuf>,
    refusal: Option<String>,
    records: Option<u64>,
    subjects: Option<u64>,
    #[serde(default)]
    fields: BTreeMap<String, Counts>,
}

/// Parses a test file. Errors name the key path, the bad value and what was expected.
pub fn parse(text: &str) -> Result<CaseFile, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if raw.cases.is_empty() {
        return Err("no [[case]]: expected at least one case".into());
    }
    let mut cases = Vec::with_capacity(raw.cases.len());
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in raw.cases.into_iter().enumerate() {
        let at = |key: &str| format!("case[{i}].{key}");
        if !names.insert(c.name.clone()) {
            return Err(format!(
                "{}: {:?} is used twice; expected a name unique in the file",
                at("name"),
                c.name
            ));
        }
        let format = match c.format.as_deref() {
            None => Format::Json,
            Some(name) => Format::parse(name).ok_or_else(|| {
                format!(
                    "{}: got {name:?}, expected one of \"json\", \"ndjson\", \"csv\", \"form\", \"xml\"",
                    at("format")
                )
            })?,
        };
        let body = one_of(c.body, c.body_file, &at("body"), &at("body_file"))?;
        let e = c.expect;
        let outcome = match (e.refusal, one_of(e.body, e.body_file, "", "")) {
            (Some(code), Err(_)) => Outcome::Refusal(code),
            (None, Ok(body)) => Outcome::Body(body),
            _ => {
                return Err(format!(
                    "{}: expected exactly one of expect.body, expect.body_file and expect.refusal",
                    at("expect")
                ));
            }
        };
        if !c.path.starts_with('/') {
            return Err(format!(
                "{}: got {:?}, expected a request path starting with /",
                at("path"),
                c.path
            ));
        }
        cases.push(Case {
            name: c.name,
            contract: c.contract,
            method: c.method.to_ascii_uppercase(),
            path: c.path,
            direction: c.direction,
            format,
            body,
            outcome,
            records: e.records,
            subjects: e.subjects,
            fields: e.fields,
        });
    }
    Ok(CaseFile {
        policy: raw.policy,
        key_file: raw.key_file,
        cases,
    })
}

fn one_of(
    inline: Option<String>,
    file: Option<PathBuf>,
    inline_key: &str,
    file_key: &str,
) -> Result<Source, String> {
    match (inline, file) {
        (Some(text), None) => Ok(Source::Inline(text.into_bytes())),
        (None, Some(path)) => Ok(Source::File(path)),
        _ => Err(format!(
            "{inline_key}: expected exactly one of {inline_key} and {file_key}"
        )),
    }
}
