//! The ledger commands on the evidence store: `ledger store init URL`, and `--store URL` for
//! `ledger verify` and `ledger query` (every replica at once, `--origin` to pick one).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Failure;
use sluice::evidence::{StoreError, StoreSettings, StoreUrl, audit, schema};
use tokio_postgres::Client;

/// Where the store is, for the commands that read it.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Read the evidence store instead of a directory: a postgresql:// URL (no password in it;
    /// `sslmode=verify-full&sslrootcert=CA.pem`, or `sslmode=disable` on a trusted loopback).
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Only this replica's log (its origin).
    #[arg(long, requires = "store")]
    pub(crate) origin: Option<String>,
    /// The store password's file (default: PGPASSWORD).
    #[arg(long, requires = "store")]
    pub(crate) password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Create the store's schema, or migrate it to this sluice's version.
    Init {
        /// postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=CA.pem
        url: String,
        /// The password's file (default: PGPASSWORD).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn settings(url: &str, password_file: Option<PathBuf>) -> Result<StoreSettings, Failure> {
    match url.parse::<StoreUrl>() {
        Ok(url) => Ok(StoreSettings { url, password_file }),
        Err(e) => {
            eprintln!("--store: {e}");
            Err(Failure::Input)
        }
    }
}

/// Runs `f` on a small runtime; a store error is printed and becomes its exit status.
fn block_on<T>(f: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            Failure::Failed
        })?;
    runtime.block_on(f).map_err(|e| {
        eprintln!("{e}");
        match e {
            StoreError::Settings(_) => Failure::Input,
            _ => Failure::Failed,
        }
    })
}

/// Runs `f` on the store `args` names (connected, its schema checked) with `--origin`; a store
/// error is printed and becomes the exit status.
fn on_store<T>(
    args: StoreArgs,
    f: impl AsyncFnOnce(&Client, &StoreUrl, Option<&str>) -> Result<T, StoreError>,
) -> Result<T, Failure> {
    let settings = settings(
        args.store.as_deref().unwrap_or_default(),
        args.password_file,
    )?;
    block_on(async {
        let client = settings.connect().await?;
        schema::check(&client, &settings.url).await?;
        f(&client, &settings.url, args.origin.as_deref()).await
    })
}

pub(crate) fn run(cmd: StoreCommand) -> Result<(), Failure> {
    match cmd {
        StoreCommand::Init { url, password_file } => {
            let settings = settings(&url, password_file)?;
            let (before, after) = block_on(async {
                let mut client = settings.connect().await?;
                schema::init(&mut client, &settings.url).await
            })?;
            if before == after {
                println!("{}: schema version {after}, up to date", settings.url);
            } else {
                println!("{}: schema version {after} (was {before})", settings.url);
            }
            Ok(())
        }
    }
}

/// `ledger verify --store`: every origin's entries and checkpoints; exit 1 if any is wrong.
pub(crate) fn verify(args: StoreArgs) -> Result<(), Failure> {
    let (verdicts, alarms) = on_store(args, async |client, url, only| {
        Ok((
            audit::verify(client, url, only).await?,
            audit::alarms(client, url, only).await?,
        ))
    })?;
    let mut failed = false;
    for v in verdicts {
        match v.result {
            Ok(ok) => println!(
                "ok: origin {}: {} entries, {} checkpoints, root {}{}",
                v.origin,
                ok.entries,
                ok.checkpoints,
                ok.root,
                if ok.covered < ok.entries {
                    format!(
                        " ({} entries after the last signed checkpoint, not yet covered: its shipper stopped mid-way or is shipping)",
                        ok.entries - ok.covered
                    )
                } else {
                    String::new()
                }
            ),
            Err(problem) => {
                failed = true;
                eprintln!("origin {}: {problem}", v.origin);
            }
        }
    }
    for (origin, seq, kind, detail) in &alarms {
        let at = seq.map(|s| format!(" at entry {s}")).unwrap_or_default();
        eprintln!("alarm: origin {origin}{at}: {kind}: {detail}");
    }
    if failed { Err(Failure::Failed) } else { Ok(()) }
}

/// `ledger query --store`: the disclosures across every origin, each with its `origin`;
/// `keep` filters them as on a directory.
pub(crate) fn query(
    args: StoreArgs,
    subject: Option<[u8; 32]>,
    key_check: Option<[u8; 32]>,
    mut keep: impl FnMut(&serde_json::Value, u64) -> bool,
) -> Result<(), Failure> {
    if let Some(check) = key_check {
        let logs = on_store(args.clone(), async |client, url, only| {
            audit::subject_key_checks(client, url, only).await
        })?;
        for (origin, recorded) in logs {
            let origin = format!("origin {origin}");
            if let Err(e) = sluice::ledger::keycheck::subject_key_of(&check, &recorded, &origin) {
                eprintln!("{e}");
                return Err(Failure::Input);
            }
        }
    }
    disclosures(args, subject, |origin, (mut v, _, time)| {
        if keep(&v, time) {
            v["origin"] = serde_json::json!(origin);
            println!("{v}");
        }
    })
}

/// Every entry of the store's logs (or `--origin`'s), with its origin, for `export --store`.
pub(crate) fn entries(
    args: StoreArgs,
    f: impl FnMut(&str, &sluice::ledger::Record),
) -> Result<(), Failure> {
    on_store(args, async |client, url, only| {
        audit::for_each_entry(client, url, only, f).await
    })
}

/// Every disclosure of the store's logs (or `--origin`'s) — with `subject`, those about that
/// subject hash — with its origin.
pub(crate) fn disclosures(
    args: StoreArgs,
    subject: Option<[u8; 32]>,
    f: impl FnMut(&str, sluice::ledger::read::Disclosure),
) -> Result<(), Failure> {
    on_store(args, async |client, url, only| {
        audit::for_each_disclosure(client, url, only, subject, f).await
    })
}

/// `report --store`: the summary of every replica's log (or `--origin`'s), verified from the
/// store's rows; the report's origin line names them all.
pub(crate) fn summary(
    args: StoreArgs,
    year: Option<i32>,
) -> Result<sluice::ledger::summary::Summary, Failure> {
    use sluice::ledger::summary::EntryPass;
    on_store(args, async |client, url, only| {
        let verdicts = audit::verify(client, url, only).await?;
        let mut first = EntryPass::default();
        let mut current = String::new();
        audit::for_each_entry(client, url, only, |origin, r| {
            if origin != current {
                first.next_log();
                current = origin.to_string();
            }
            first.add(r);
        })
        .await?;
        let origins: Vec<&str> = verdicts.iter().map(|v| v.origin.as_str()).collect();
        let verified = match verdicts.iter().find_map(|v| {
            v.result
                .as_ref()
                .err()
                .map(|e| format!("origin {}: {e}", v.origin))
        }) {
            Some(problem) => Err(problem),
            None => {
                let (entries, checkpoints) = verdicts
                    .iter()
                    .filter_map(|v| v.result.as_ref().ok())
                    .fold((0, 0), |(e, c), ok| (e + ok.entries, c + ok.checkpoints));
                Ok(format!(
                    "{} logs in the evidence store: {entries} entries, {checkpoints} signed checkpoints",
                    origins.len()
                ))
            }
        };
        let mut second = first.finish(Some(origins.join(", ")), year, verified, None);
        audit::for_each_disclosure(client, url, only, None, |_, d| second.add(d)).await?;
        Ok(second.finish())
    })
}
