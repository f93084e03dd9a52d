//! `sluice policy check FILE`, `sluice policy explain FILE --contract ID`,
//! `sluice policy diff OLD NEW`, `sluice policy test PATH…` and
//! `sluice policy shadow-report FILE`.

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate a policy; print every problem with its key path, or a one-line summary.
    Check {
        /// The policy file.
        file: PathBuf,
    },
    /// Show what a contract lets its partner receive, route by route.
    Explain {
        /// The policy file.
        file: PathBuf,
        /// The contract id.
        #[arg(long)]
        contract: String,
    },
    /// What a change gives or takes from each partner: paths gained, lost or received
    /// differently, routes and contracts added or removed, changed terms. Exit 0 when nothing
    /// changes, 1 when something does.
    /// Run the test files next to a policy (`*.test.toml`: cases with a body and the exact
    /// output or refusal expected) through the proxy's engine. Exit 0 when all pass, 1 when one
    /// fails.
    Test {
        /// Test files, or directories holding `*.test.toml` files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// `text` or `junit` (JUnit XML for CI systems).
        #[arg(long, default_value = "text", value_parser = ["text", "junit"])]
        format: String,
    },
    /// Summarise a shadow evaluation's side file (`[shadow] report`): per contract, route, path
    /// and kind, how many bodies the candidate policy would have treated differently.
    ShadowReport {
        /// The side file (default location: `shadow.jsonl` in the ledger directory).
        file: PathBuf,
        /// `markdown` or `json`.
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
    },
    Diff {
        /// The policy in force.
        old: PathBuf,
        /// The candidate.
        new: PathBuf,
        /// `markdown` (a table for the change review) or `json` (one array).
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "json"])]
        format: String,
    },
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<(), Failure> {
    match cmd {
        PolicyCommand::Test { paths, format } => super::policy_test::run(&paths, &format),
        PolicyCommand::ShadowReport { file, format } => {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                eprintln!("{}: cannot read: {e}", file.display());
                Failure::Input
            })?;
            let summary = sluice::shadow::report::summarise(&text).map_err(|e| {
                eprintln!("{}: {e}", file.display());
                Failure::Input
            })?;
            if format == "json" {
                let rows: Vec<serde_json::Value> = summary
                    .totals
                    .iter()
                    .map(|((contract, route, path, kind), n)| {
                        serde_json::json!({"contract": contract, "route": route, "path": path,
                            "kind": kind, "bodies": n})
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"bodies": summary.bodies, "candidates": summary.candidates,
                        "differences": rows})
                );
            } else {
                print!("{}", sluice::shadow::report::markdown(&summary));
            }
            Ok(())
        }
        PolicyCommand::Diff { old, new, format } => {
            let (old, new) = (super::load_policy(&old)?, super::load_policy(&new)?);
            let changes = sluice_policy::diff::diff(&old, &new);
            if format == "json" {
                let rows: Vec<serde_json::Value> = changes
                    .iter()
                    .map(|c| {
                        serde_json::json!({"contract": c.contract, "partner": c.partner, "change": c.kind,
                            "what": c.what, "before": c.before, "after": c.after})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                print!("{}", sluice_policy::diff::markdown(&changes));
            }
            // 1: something a partner receives changes (for a CI gate on policy changes).
            if changes.is_empty() {
                Ok(())
            } else {
                Err(Failure::Failed)
            }
        }
        PolicyCommand::Check { file } => {
            let policy = super::load_policy(&file)?;
            println!(
                "ok: {} partners, {} contracts, {} routes, sha256 {}",
                policy.partners.len(),
                policy.contracts.len(),
                policy.route_count(),
                policy.version
            );
            Ok(())
        }
        PolicyCommand::Explain { file, contract } => {
            let policy = super::load_policy(&file)?;
            match sluice_policy::explain::explain(&policy, &contract) {
                Some(text) => {
                    print!("{text}");
                    Ok(())
                }
                None => {
                    let ids: Vec<_> = policy.contracts.iter().map(|c| c.id.as_str()).collect();
                    eprintln!(
                        "{}: no contract {contract:?}; contracts are: {}",
                        file.display(),
                        ids.join(", ")
                    );
                    Err(Failure::Input)
                }
            }
        }
    }
}
