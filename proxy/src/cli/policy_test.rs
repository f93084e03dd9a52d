//! `sluice policy test PATH…`: runs the test files given (or every `*.test.toml` in a directory
//! given) and reports per case. Exit 0 when every case passes, 1 when one fails or cannot run,
//! 2 when a test file, its policy, a body file or the key does not load.

use std::path::{Path, PathBuf};

use sluice_policy::cases::{self, CaseFile, Loaded, Outcome, Source, Verdict};
use sluice_policy::pseudonym::DEVELOPMENT_KEY;

use super::Failure;

/// The test files named by `paths`: files as given, directories searched (not recursively)
/// for `*.test.toml`, in name order.
fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.to_string_lossy().ends_with(".test.toml"))
                    .collect(),
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", p.display());
                    return Err(Failure::Input);
                }
            };
            if found.is_empty() {
                eprintln!("{}: no *.test.toml files", p.display());
                return Err(Failure::Input);
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read(base: &Path, rel: &Path, what: &str, file: &Path) -> Result<Vec<u8>, Failure> {
    let path = base.join(rel);
    std::fs::read(&path).map_err(|e| {
        eprintln!(
            "{}: {what} {}: cannot read: {e}",
            file.display(),
            path.display()
        );
        Failure::Input
    })
}

fn body(base: &Path, source: &Source, what: &str, file: &Path) -> Result<Vec<u8>, Failure> {
    match source {
        Source::Inline(bytes) => Ok(bytes.clone()),
        Source::File(rel) => read(base, rel, what, file),
    }
}

/// Runs one test file; its outcomes, or exit 2 when it does not load.
fn run_file(file: &Path) -> Result<Vec<Outcome>, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("{}: cannot read: {e}", file.display());
        Failure::Input
    })?;
    let parsed: CaseFile = cases::parse(&text).map_err(|e| {
        eprintln!("{}: {}", file.display(), e.trim_end());
        Failure::Input
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let policy = super::load_policy(&base.join(&parsed.policy))?;
    let master = match &parsed.key_file {
        Some(rel) => sluice::keys::read_key_file(&base.join(rel)).map_err(|e| {
            eprintln!("{}: key_file: {e}", file.display());
            Failure::Input
        })?,
        None => DEVELOPMENT_KEY.to_vec(),
    };
    let mut out = Vec::with_capacity(parsed.cases.len());
    for case in &parsed.cases {
        let expected = match &case.outcome {
            cases::file::Outcome::Body(source) => {
                Some(body(base, source, "expect.body_file", file)?)
            }
            cases::file::Outcome::Refusal(_) => None,
        };
        let loaded = Loaded {
            case,
            body: body(base, &case.body, "body_file", file)?,
            expected,
        };
        out.push(Outcome {
            file: file.display().to_string(),
            name: case.name.clone(),
            verdict: cases::run::run(&policy, &master, &loaded),
        });
    }
    Ok(out)
}

pub(crate) fn run(paths: &[PathBuf], format: &str) -> Result<(), Failure> {
    let mut outcomes = Vec::new();
    for file in test_files(paths)? {
        outcomes.extend(run_file(&file)?);
    }
    if format == "junit" {
        print!("{}", cases::junit(&outcomes));
    } else {
        print!("{}", cases::text(&outcomes));
    }
    if outcomes.iter().all(|o| o.verdict == Verdict::Pass) {
        Ok(())
    } else {
        Err(Failure::Failed)
    }
}
