//! `sluice policy test`: unit tests that ship next to a policy, as `opa test` and `vector test`
//! do for theirs. A test file (TOML, [`file`]) names the policy and lists cases: a contract, a
//! request, a body, and the exact output or the refusal expected, optionally with the ledger's
//! counts. Each case runs through the same [`Redactor`](crate::engine::Redactor) the proxy
//! uses ([`run`]); a failing case shows a diff of the expected and actual bodies ([`diff`]).
//! Reports are text for people and JUnit XML for CI systems.

pub mod diff;
pub mod file;
pub mod run;

pub use file::{Case, CaseFile, Source, parse};
pub use run::{Loaded, Verdict};

/// One case's result, for a report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test file, as given.
    pub file: String,
    /// The case name.
    pub name: String,
    /// What running it found.
    pub verdict: Verdict,
}

/// The text report: a line per case, the details of each failure, and a total.
pub fn text(outcomes: &[Outcome]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut file = None;
    for o in outcomes {
        if file != Some(&o.file) {
            let _ = writeln!(s, "{}", o.file);
            file = Some(&o.file);
        }
        match &o.verdict {
            Verdict::Pass => {
                let _ = writeln!(s, "  ok    {}", o.name);
            }
            Verdict::Fail(lines) => {
                let _ = writeln!(s, "  FAIL  {}", o.name);
                for l in lines {
                    let _ = writeln!(s, "        {l}");
                }
            }
            Verdict::Error(e) => {
                let _ = writeln!(s, "  ERROR {}\n        {e}", o.name);
            }
        }
    }
    let (pass, fail, error) = counts(outcomes);
    let _ = writeln!(s, "{pass} passed, {fail} failed, {error} could not run");
    s
}

/// Passed, failed, and could not run.
pub fn counts(outcomes: &[Outcome]) -> (usize, usize, usize) {
    let n = |f: fn(&Verdict) -> bool| outcomes.iter().filter(|o| f(&o.verdict)).count();
    (
        n(|v| matches!(v, Verdict::Pass)),
        n(|v| matches!(v, Verdict::Fail(_))),
        n(|v| matches!(v, Verdict::Error(_))),
    )
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML (the schema Jenkins, GitLab and GitHub reporters read): a `testsuite` per file, a
/// `testcase` per case, `failure` for a failed case and `error` for one that could not run.
pub fn junit(outcomes: &[Outcome]) -> String {
    use std::fmt::Write;
    let (_, fail, error) = counts(outcomes);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"sluice policy test\" tests=\"{}\" failures=\"{fail}\" errors=\"{error}\">",
        outcomes.len()
    );
    let mut files: Vec<&str> = outcomes.iter().map(|o| o.file.as_str()).collect();
    files.dedup();
    for f in files {
        let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.file == f).collect();
        let (fails, errors) = mine.iter().fold((0, 0), |(a, b), o| match o.verdict {
            Verdict::Fail(_) => (a + 1, b),
            Verdict::Error(_) => (a, b + 1),
            Verdict::Pass => (a, b),
        });
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"{errors}\">",
            xml(f),
            mine.len()
        );
        for o in mine {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(f),
                xml(&o.name)
            );
            match &o.verdict {
                Verdict::Pass => {
                    let _ = writeln!(s, "{open}/>");
                }
                Verdict::Fail(lines) => {
                    let _ = writeln!(
                        s,
                        "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        xml(lines.first().map_or("", String::as_str)),
                        xml(&lines.join("\n"))
                    );
                }
                Verdict::Error(e) => {
                    let _ = writeln!(
                        s,
                        "{open}>\n      <error message=\"{}\"/>\n    </testcase>",
                        xml(e)
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
