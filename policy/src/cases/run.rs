//! Running one case through the engine the proxy uses, and what it found.
//!
//! The route is the contract's route whose method and path template match the case's request,
//! exactly as the proxy picks it (validity windows aside: a case tests what a contract does, not
//! today's date). The body goes through a [`Redactor`] in one chunk and again split at every
//! 1 000th byte, so a case also checks that chunking does not change the outcome.

use std::sync::Arc;

use super::diff;
use super::file::{Case, Counts, Direction};
use crate::CompiledPolicy;
use crate::document::Flow;
use crate::engine::{EngineConfig, EngineKeys, Limits, Redactor, Summary, Violation};

/// A case whose bodies are read.
#[derive(Debug, Clone)]
pub struct Loaded<'c> {
    /// The case.
    pub case: &'c Case,
    /// The input body.
    pub body: Vec<u8>,
    /// The expected output, when the case expects one.
    pub expected: Option<Vec<u8>>,
}

/// What running a case found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything expected held.
    Pass,
    /// Something did not: one line per mismatch, then a body diff if the bodies differ.
    Fail(Vec<String>),
    /// The case cannot run against this policy (no such contract or route, wrong direction).
    Error(String),
}

fn filter(cfg: &EngineConfig, body: &[u8], chunk: usize) -> (Vec<u8>, Result<Summary, Violation>) {
    let mut r = Redactor::new(cfg.clone());
    let mut out = Vec::with_capacity(body.len());
    for piece in body.chunks(chunk.max(1)) {
        if let Err(v) = r.feed(piece, &mut out) {
            return (out, Err(v));
        }
    }
    let done = r.finish(&mut out);
    (out, done)
}

/// Runs `case` against `policy` with the master key `master` (pseudonyms and subject hashes).
pub fn run(policy: &CompiledPolicy, master: &[u8], loaded: &Loaded<'_>) -> Verdict {
    let case = loaded.case;
    let Some(contract) = policy.contract(&case.contract) else {
        let ids: Vec<_> = policy.contracts.iter().map(|c| c.id.as_str()).collect();
        return Verdict::Error(format!(
            "no contract {:?}; contracts are: {}",
            case.contract,
            ids.join(", ")
        ));
    };
    let Some(route) = contract
        .routes
        .iter()
        .find(|r| r.method == case.method && r.path.matches(&case.path))
    else {
        return Verdict::Error(format!(
            "contract {:?} has no route for {} {}",
            contract.id, case.method, case.path
        ));
    };
    // A pull route filters the institution's responses and, where it lists `request_fields`,
    // the partner's request bodies; a push route its requests.
    let program = match (route.flow, case.direction) {
        (Flow::Pull, None | Some(Direction::Response))
        | (Flow::Push, None | Some(Direction::Request)) => route.program.clone(),
        (Flow::Pull, Some(Direction::Request)) => match &route.request_program {
            Some(program) => program.clone(),
            None => {
                return Verdict::Error(format!(
                    "{} {} is a pull route that takes no request body (it lists no request_fields)",
                    case.method,
                    route.path.as_str()
                ));
            }
        },
        (Flow::Push, Some(Direction::Response)) => {
            return Verdict::Error(format!(
                "{} {} is a push route: its request bodies are filtered, not its responses",
                case.method,
                route.path.as_str()
            ));
        }
    };
    let cfg = EngineConfig {
        program,
        format: case.format,
        limits: Limits::default(),
        keys: Arc::new(EngineKeys::derive(master, master, &contract.id)),
        consent: None,
        charset: Default::default(),
    };
    let (out, result) = filter(&cfg, &loaded.body, usize::MAX);
    let (split_out, split_result) = filter(&cfg, &loaded.body, 1000);
    let mut problems = Vec::new();
    if (&split_out, split_result.as_ref().map_err(|v| v.kind))
        != (&out, result.as_ref().map_err(|v| v.kind))
    {
        problems.push("the outcome changes when the body arrives in 1000-byte chunks".into());
    }
    match (&case.outcome, result) {
        (super::file::Outcome::Refusal(code), Ok(_)) => {
            problems.push(format!("expected refusal {code}, but the body passed"));
        }
        (super::file::Outcome::Refusal(code), Err(v)) => {
            if v.kind.code() != code {
                problems.push(format!("expected refusal {code}, got {v}"));
            }
        }
        (super::file::Outcome::Body(_), Err(v)) => {
            problems.push(format!("expected the body to pass, got refusal {v}"));
        }
        (super::file::Outcome::Body(_), Ok(summary)) => {
            if let Some(expected) = &loaded.expected
                && *expected != out
            {
                problems.push("the output differs from expect.body (- expected, + actual):".into());
                problems.extend(diff::bodies(expected, &out));
            }
            compare_counts(case, &summary, &mut problems);
        }
    }
    if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail(problems)
    }
}

fn compare_counts(case: &Case, s: &Summary, problems: &mut Vec<String>) {
    let mut check = |what: &str, want: Option<u64>, got: u64| {
        if let Some(want) = want
            && want != got
        {
            problems.push(format!("{what}: expected {want}, got {got}"));
        }
    };
    check("records", case.records, s.records);
    check("subjects", case.subjects, s.subject_count);
    for (path, want) in &case.fields {
        let got = s.fields.iter().find(|f| *f.path == **path);
        let n = |f: fn(&crate::engine::FieldCount) -> u64| got.map_or(0, f);
        let Counts {
            kept,
            masked,
            hashed,
            redacted,
            stripped,
        } = want;
        check(&format!("{path} kept"), *kept, n(|f| f.kept));
        check(&format!("{path} masked"), *masked, n(|f| f.masked));
        check(&format!("{path} hashed"), *hashed, n(|f| f.hashed));
        check(&format!("{path} redacted"), *redacted, n(|f| f.redacted));
        check(&format!("{path} stripped"), *stripped, n(|f| f.stripped));
    }
}
