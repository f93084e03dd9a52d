//! The compliance team's tools: `sluice ledger verify | show | query | prove | verify-proof |
//! stats | report | export`.

use super::Failure;
use std::path::PathBuf;

use clap::Subcommand;

use sluice::ledger::read;

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Check record checksums, entries, the Merkle tree, and every signed checkpoint (of a
    /// directory, or of every replica in the evidence store with --store).
    Verify {
        /// The ledger directory.
        #[arg(required_unless_present = "store", conflicts_with = "store")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        store: super::store::StoreArgs,
        /// The log's public key (PEM SubjectPublicKeyInfo, as `certs init` writes signing.pub).
        /// Without it, DIR/log.pub is used — which only shows the log agrees with itself.
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Print every entry as a JSON line.
    Show {
        /// The ledger directory.
        dir: PathBuf,
    },
    /// Disclosures (begin joined with end) as JSON lines, filtered (of a directory, or of every
    /// replica in the evidence store with --store, each line with its `origin`).
    Query {
        /// The ledger directory.
        #[arg(required_unless_present = "store", conflicts_with = "store")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        store: super::store::StoreArgs,
        /// Only this partner.
        #[arg(long)]
        partner: Option<String>,
        /// Only this contract.
        #[arg(long)]
        contract: Option<String>,
        /// Only this outcome: sent, aborted_policy, aborted_integrity, upstream_error,
        /// client_gone, send_timeout, incomplete (the instance stopped mid-body) or open (not
        /// ended yet). Anything else is refused (exit 2).
        #[arg(long, value_parser = outcome_name)]
        outcome: Option<String>,
        /// Only disclosures at or after this time (a date, read as midnight +08:00, or an RFC 3339
        /// date-time with offset).
        #[arg(long)]
        since: Option<String>,
        /// Only disclosures before this time (same forms as --since).
        #[arg(long)]
        until: Option<String>,
        /// Only disclosures about this data subject (an identifier; hashed with --key-file).
        #[arg(long, requires = "key_file")]
        subject: Option<String>,
        /// Only disclosures whose upstream request had exactly this path and query (e.g.
        /// `/v1/applicants/42`; hashed with --key-file, as the ledger keeps it).
        #[arg(long, requires = "key_file")]
        target: Option<String>,
        /// Only disclosures whose message carried exactly these header fields of the route's
        /// `headers`, each `name: value` as sent, repeated in the order sent (hashed with
        /// --key-file, as the ledger keeps them).
        #[arg(long = "header", requires = "key_file", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// The subject key (the `subject_key` of sluice.toml).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// An inclusion proof of entry SEQ against the latest checkpoint (JSON).
    Prove {
        /// The ledger directory.
        dir: PathBuf,
        /// The entry's sequence number.
        seq: u64,
    },
    /// Check a proof from `prove` with only the proof and the public key.
    VerifyProof {
        /// The proof file.
        proof: PathBuf,
        /// The log's public key.
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Per partner and contract: disclosures, records and distinct subjects, with the
    /// cross-border thresholds of the 2024 CAC rules (per calendar year, de-duplicated persons).
    Stats {
        /// The ledger directory.
        #[arg(required_unless_present = "store", conflicts_with = "store")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        store: super::store::StoreArgs,
        /// Only this calendar year (China Standard Time).
        #[arg(long)]
        year: Option<i32>,
    },
    /// A self-contained HTML report for the compliance team: disclosures per partner and contract
    /// per day, fields disclosed, outcomes, distinct subjects, and the log's verification.
    Report {
        /// The ledger directory.
        #[arg(required_unless_present = "store", conflicts_with = "store")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        store: super::store::StoreArgs,
        /// Write the report here.
        #[arg(long)]
        html: PathBuf,
        /// The log's public key (as for `verify`; default DIR/log.pub).
        #[arg(long)]
        pubkey: Option<PathBuf>,
        /// The calendar year for subject counts (default: the year of the newest disclosure).
        #[arg(long)]
        year: Option<i32>,
    },
    /// The evidence store's schema.
    #[command(subcommand)]
    Store(super::store::StoreCommand),
    /// Every entry as JSON lines or CSV, or one OCSF event per disclosure.
    Export {
        /// The ledger directory.
        #[arg(required_unless_present = "store", conflicts_with = "store")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        store: super::store::StoreArgs,
        /// jsonl (every entry), csv (every entry), or ocsf (one OCSF API Activity event per
        /// disclosure).
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

/// One disclosure as an OCSF 1.1 API Activity event (class 6003). The ledger coordinates
/// (`metadata.uid` = origin/seq) let a SIEM event be proven against the log.
fn ocsf(v: &serde_json::Value, time: u64, origin: &str) -> serde_json::Value {
    let pull = v["flow"] == "pull";
    let activity_id = if pull { 2 } else { 1 }; // Read / Create
    let ok = v["outcome"] == "sent";
    serde_json::json!({
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "activity_id": activity_id,
        "type_uid": 6003 * 100 + activity_id,
        "time": time,
        "severity_id": if ok { 1 } else { 3 },
        "status_id": if ok { 1 } else { 2 },
        "status": v["outcome"],
        "actor": { "user": { "name": v["partner"], "uid": v["spki_sha256"] } },
        "api": { "operation": v["route"], "request": { "uid": v["request_id"] } },
        "metadata": { "version": "1.1.0", "product": { "name": "sluice", "vendor_name": "sluice" }, "uid": format!("{origin}/{}", v["seq"]) },
        "unmapped": {
            "contract": v["contract"], "flow": v["flow"], "bytes_sent": v["bytes_sent"], "sha256_sent": v["sha256_sent"],
            "records": v["records"], "subject_count": v["subject_count"], "policy_version": v["policy_version"],
        },
    })
}

/// The columns of `export --format csv`.
const CSV_HEADER: &str =
    "seq,time_ms,kind,partner,contract,route,outcome,bytes_sent,sha256_sent,records";

/// One entry as a CSV row (the columns of [`CSV_HEADER`]).
fn csv_row(r: &sluice::ledger::Record) -> String {
    let j = r.to_json();
    let f = |k: &str| {
        j.get(k)
            .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
            .unwrap_or_default()
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{}",
        r.seq,
        r.time_ms,
        f("kind"),
        f("partner"),
        f("contract"),
        f("route"),
        f("outcome"),
        f("bytes_sent"),
        f("sha256_sent"),
        f("records")
    )
}

/// `export --store`: as on a directory, each line (or row, first column) with its origin.
fn export_store(store: super::store::StoreArgs, format: &str) -> Result<(), Failure> {
    match format {
        "jsonl" => super::store::entries(store, |origin, r| {
            let mut v = r.to_json();
            v["origin"] = serde_json::json!(origin);
            println!("{v}");
        }),
        "csv" => {
            println!("origin,{CSV_HEADER}");
            super::store::entries(store, |origin, r| println!("{origin},{}", csv_row(r)))
        }
        _ => super::store::disclosures(store, None, |origin, (v, _, time)| {
            println!("{}", ocsf(&v, time, origin));
        }),
    }
}

/// Disclosures, records, distinct inline subjects, and subjects only counted (not inline).
type PartnerStats = (u64, u64, std::collections::HashSet<[u8; 32]>, u64);

/// `--outcome`: a disclosure's outcome as the ledger names it, or `incomplete` / `open`.
fn outcome_name(name: &str) -> Result<String, String> {
    let known = sluice::ledger::Outcome::ALL.map(sluice::ledger::Outcome::as_str);
    if known.contains(&name) || name == "incomplete" || name == "open" {
        Ok(name.to_string())
    } else {
        Err(format!(
            "got {name:?}, expected one of {}, incomplete, open",
            known.join(", ")
        ))
    }
}

fn pubkey(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| sluice::ledger::checkpoint::parse_public_key(&t))
        .ok_or_else(|| {
            eprintln!(
                "{}: expected an Ed25519 public key (PEM SubjectPublicKeyInfo or 64 hex digits)",
                path.display()
            );
            Failure::Input
        })
}

fn fail(e: impl std::fmt::Display) -> Result<(), Failure> {
    eprintln!("{e}");
    Err(Failure::Failed)
}

/// Success, or the error of a walk over the log (which may have printed part of its output).
fn done(result: Result<impl Sized, String>) -> Result<(), Failure> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => fail(e),
    }
}

pub(crate) fn run(cmd: LedgerCommand) -> Result<(), Failure> {
    match cmd {
        LedgerCommand::Store(cmd) => super::store::run(cmd),
        LedgerCommand::Verify {
            dir: None, store, ..
        } => super::store::verify(store),
        LedgerCommand::Verify {
            dir: Some(dir),
            pubkey: p,
            ..
        } => {
            let p = p.unwrap_or_else(|| {
                eprintln!("note: no --pubkey; using {}/log.pub, which only shows the log agrees with itself", dir.display());
                dir.join("log.pub")
            });
            let key = pubkey(&p)?;
            match sluice::ledger::verify::verify_dir(&dir, &key) {
                Ok(r) => {
                    println!(
                        "ok: {} entries, {} checkpoints, root {}{}",
                        r.entries,
                        r.checkpoints,
                        r.root,
                        if r.torn_tail {
                            " (an incomplete last record will be cut at the next start)"
                        } else {
                            ""
                        }
                    );
                    Ok(())
                }
                Err(problem) => fail(format!("{}: {problem}", dir.display())),
            }
        }
        LedgerCommand::Report {
            dir,
            store,
            html,
            pubkey: p,
            year,
        } => {
            let summary = match dir {
                Some(dir) => {
                    let key = pubkey(&p.unwrap_or_else(|| dir.join("log.pub")))?;
                    match sluice::ledger::summary::summarize(&dir, &key, year) {
                        Ok(s) => s,
                        Err(e) => return fail(e),
                    }
                }
                None => super::store::summary(store, year)?,
            };
            let now = time::OffsetDateTime::now_utc()
                .to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("+08:00"));
            let generated = now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let page = sluice::ledger::html::render(&summary, &generated);
            let tmp = html.with_extension("html.tmp");
            if let Err(e) = std::fs::write(&tmp, page).and_then(|()| std::fs::rename(&tmp, &html)) {
                return fail(format!("{}: {e}", html.display()));
            }
            println!(
                "{}: report written ({})",
                html.display(),
                if summary.verified.is_ok() {
                    "log verified"
                } else {
                    "LOG DOES NOT VERIFY"
                }
            );
            if summary.verified.is_ok() {
                Ok(())
            } else {
                Err(Failure::Failed)
            }
        }
        LedgerCommand::Show { dir } => done(read::for_each_entry(&dir, |r, _| {
            println!("{}", r.to_json());
            Ok(())
        })),
        LedgerCommand::Export { dir, store, format } => {
            if !["jsonl", "csv", "ocsf"].contains(&format.as_str()) {
                eprintln!("--format {format:?}: expected jsonl, csv or ocsf");
                return Err(Failure::Input);
            }
            let Some(dir) = dir else {
                return export_store(store, &format);
            };
            let result = match format.as_str() {
                "jsonl" => read::for_each_entry(&dir, |r, _| {
                    println!("{}", r.to_json());
                    Ok(())
                })
                .map(drop),
                "csv" => {
                    println!("{CSV_HEADER}");
                    read::for_each_entry(&dir, |r, _| {
                        println!("{}", csv_row(r));
                        Ok(())
                    })
                    .map(drop)
                }
                // The log's origin comes from its first instance.started entry.
                _ => read::origin(&dir).and_then(|origin| {
                    read::for_each_disclosure(&dir, |(v, _, time)| {
                        println!("{}", ocsf(&v, time, &origin));
                    })
                }),
            };
            done(result)
        }
        LedgerCommand::Query {
            dir,
            store,
            partner,
            contract,
            outcome,
            since,
            until,
            subject,
            target,
            headers,
            key_file,
        } => {
            let when = |t: &Option<String>, flag: &str| -> Result<Option<u64>, Failure> {
                let Some(t) = t else { return Ok(None) };
                let parsed = t
                    .parse::<toml::value::Datetime>()
                    .ok()
                    .and_then(|d| sluice_policy::Instant::from_toml(&d).ok());
                match parsed {
                    Some(i) => Ok(Some((i.0.max(0) as u64) * 1000)),
                    None => {
                        eprintln!(
                            "{flag} {t:?}: expected a date (2026-01-01) or a date-time with offset (2026-01-01T08:00:00+08:00)"
                        );
                        Err(Failure::Input)
                    }
                }
            };
            let (since_ms, until_ms) = match (when(&since, "--since"), when(&until, "--until")) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(c), _) | (_, Err(c)) => return Err(c),
            };
            let (key, key_check) = match &key_file {
                Some(k) => match sluice::keys::read_key_file(k) {
                    Ok(key) => (
                        Some(sluice_policy::pseudonym::SubjectKey::derive(&key)),
                        Some(sluice::ledger::keycheck::check_value(&key)),
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        return Err(Failure::Input);
                    }
                },
                None => (None, None),
            };
            let wanted = key.as_ref().zip(subject).map(|(k, s)| k.subject_hash(&s));
            let wanted_target = key
                .as_ref()
                .zip(target)
                .map(|(k, t)| sluice_policy::hex::hex(&k.target_hash(&t)));
            let mut fields = Vec::new();
            for h in &headers {
                let Some((name, value)) = h.split_once(':') else {
                    eprintln!("--header {h:?}: expected `name: value`");
                    return Err(Failure::Input);
                };
                fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
            let wanted_headers = key.as_ref().filter(|_| !fields.is_empty()).map(|k| {
                let sent = fields.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
                sluice_policy::hex::hex(&k.headers_hash(sent))
            });
            // Everything but the subject, which the store answers from its index.
            let keep = |v: &serde_json::Value, time: u64| {
                let is = |k: &str, want: &Option<String>| {
                    want.as_ref().is_none_or(|w| v[k].as_str() == Some(w))
                };
                let in_time =
                    since_ms.is_none_or(|s| time >= s) && until_ms.is_none_or(|u| time < u);
                let about = wanted_target
                    .as_ref()
                    .is_none_or(|t| v["target_hmac"].as_str() == Some(t))
                    && wanted_headers
                        .as_ref()
                        .is_none_or(|h| v["headers_hmac"].as_str() == Some(h));
                is("partner", &partner)
                    && is("contract", &contract)
                    && is("outcome", &outcome)
                    && in_time
                    && about
            };
            let Some(dir) = dir else {
                return super::store::query(store, wanted, key_check, keep);
            };
            // A key file that is not the log's subject key would match nothing: refused, not
            // answered with "no disclosure".
            if let Some(check) = key_check {
                let recorded = match read::subject_key_checks(&dir) {
                    Ok(recorded) => recorded,
                    Err(e) => {
                        eprintln!("{e}");
                        return Err(Failure::Failed);
                    }
                };
                let origin = dir.display().to_string();
                if let Err(e) = sluice::ledger::keycheck::subject_key_of(&check, &recorded, &origin)
                {
                    eprintln!("{e}");
                    return Err(Failure::Input);
                }
            }
            done(read::for_each_disclosure(&dir, |(v, subjects, time)| {
                if wanted.is_none_or(|h| subjects.contains(&h)) && keep(&v, time) {
                    println!("{v}");
                }
            }))
        }
        LedgerCommand::Stats { dir, store, year } => {
            let year_of = |ms: u64| sluice::ledger::summary::day_of(ms).year();
            let mut by: std::collections::BTreeMap<(String, String), PartnerStats> =
                Default::default();
            let mut all = std::collections::HashSet::new();
            let mut opaque = 0u64;
            let mut add = |(v, subjects, time): read::Disclosure| {
                if year.is_some_and(|y| year_of(time) != y) {
                    return;
                }
                let key = (
                    v["partner"].as_str().unwrap_or("").to_string(),
                    v["contract"].as_str().unwrap_or("").to_string(),
                );
                let e = by.entry(key).or_default();
                e.0 += 1;
                e.1 += v["records"].as_u64().unwrap_or(0);
                let count = v["subject_count"].as_u64().unwrap_or(0);
                if (subjects.len() as u64) < count {
                    e.3 += count - subjects.len() as u64;
                    opaque += count - subjects.len() as u64;
                }
                for h in subjects {
                    e.2.insert(h);
                    all.insert(h);
                }
            };
            match dir {
                Some(dir) => {
                    if let Err(e) = read::for_each_disclosure(&dir, add) {
                        return fail(e);
                    }
                }
                // Across every replica: a person disclosed by two replicas counts once.
                None => super::store::disclosures(store, None, |_, d| add(d))?,
            }
            for ((partner, contract), (n, records, subjects, extra)) in &by {
                println!(
                    "{}",
                    serde_json::json!({"partner": partner, "contract": contract, "disclosures": n, "records": records, "distinct_subjects": subjects.len(), "subjects_not_inline": extra})
                );
            }
            let persons = all.len() as u64;
            let regime = sluice::ledger::summary::cross_border_regime(persons);
            println!(
                "{}",
                serde_json::json!({"distinct_subjects_total": persons, "subjects_not_inline": opaque, "cross_border_2024": regime, "note": "counts persons across all partners; sensitive-PI counts (10,000 threshold) need the contract's classes"})
            );
            Ok(())
        }
        LedgerCommand::Prove { dir, seq } => match read::prove(&dir, seq) {
            Ok(p) => {
                println!("{}", serde_json::to_string_pretty(&p).expect("JSON"));
                Ok(())
            }
            Err(e) => fail(e),
        },
        LedgerCommand::VerifyProof { proof, pubkey: p } => {
            let key = pubkey(&p)?;
            let text = match std::fs::read_to_string(&proof) {
                Ok(t) => t,
                Err(e) => return fail(format!("{}: {e}", proof.display())),
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                return fail(format!("{}: not JSON", proof.display()));
            };
            match read::verify_proof(&v, &key) {
                Ok(entry) => {
                    println!("ok: entry {} is in the log\n{entry}", v["index"]);
                    Ok(())
                }
                Err(e) => fail(format!("{}: {e}", proof.display())),
            }
        }
    }
}
