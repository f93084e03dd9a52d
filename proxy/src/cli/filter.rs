//! `sluice filter`: stdin → stdout through the same engine the proxy uses — an offline dry run
//! of a contract on a saved body.
//!
//! Exit 0 when the body passes (`--summary` prints the engine's summary as JSON on stderr);
//! exit 3 on a violation, with `violation: REASON at PATH (byte N)` on stderr. What was written
//! to stdout before a violation is an incomplete prefix and must be discarded.

use super::Failure;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sluice_policy::consent::ConsentList;
use sluice_policy::engine::{Charset, EngineConfig, EngineKeys, Format, Limits, Redactor, Summary};
use sluice_policy::hex::hex;
use sluice_policy::pseudonym::DEVELOPMENT_KEY;

#[derive(Debug, clap::Args)]
pub(crate) struct FilterArgs {
    /// The policy file.
    #[arg(long)]
    policy: PathBuf,
    /// The contract whose rules apply.
    #[arg(long)]
    contract: String,
    /// Which of the contract's routes (0-based).
    #[arg(long, default_value_t = 0)]
    route: usize,
    /// Master key for pseudonyms and subject hashes: 32 raw bytes or 64 hex digits.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Body format.
    #[arg(long, value_enum, default_value_t = FormatArg::Json)]
    format: FormatArg,
    /// The body's character set: utf-8, gb18030 or gbk (gb2312 reads as gbk).
    #[arg(long, default_value = "utf-8", value_parser = parse_charset)]
    charset: Charset,
    /// Subject hashes whose consent was withdrawn (one hex hash per line).
    #[arg(long)]
    consent_file: Option<PathBuf>,
    /// Print the summary as JSON on stderr.
    #[arg(long)]
    summary: bool,
}

fn parse_charset(label: &str) -> Result<Charset, String> {
    Charset::from_label(label)
        .ok_or_else(|| format!("got {label:?}, expected utf-8, gb18030, gbk or gb2312"))
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Json,
    Ndjson,
    /// RFC 4180 with a header row.
    Csv,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// XML (paths `/prefix:element/...`, prefixes from the policy's `[namespaces]`).
    Xml,
}

pub(crate) fn run(args: FilterArgs) -> Result<(), Failure> {
    let policy = super::load_policy(&args.policy)?;
    let Some(contract) = policy.contract(&args.contract) else {
        let ids: Vec<_> = policy.contracts.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "{}: no contract {:?}; contracts are: {}",
            args.policy.display(),
            args.contract,
            ids.join(", ")
        );
        return Err(Failure::Input);
    };
    let Some(route) = contract.routes.get(args.route) else {
        eprintln!(
            "{}: contract {:?} has {} route(s); --route {} does not exist",
            args.policy.display(),
            contract.id,
            contract.routes.len(),
            args.route
        );
        return Err(Failure::Input);
    };
    let master = match &args.key_file {
        Some(path) => match sluice::keys::read_key_file(path) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{e}");
                return Err(Failure::Input);
            }
        },
        None => {
            eprintln!(
                "sluice filter: no --key-file given; using the fixed development key (pseudonyms are NOT secret)"
            );
            DEVELOPMENT_KEY.to_vec()
        }
    };
    let consent = match &args.consent_file {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| ConsentList::parse(&t).map_err(|e| e.to_string()))
        {
            Ok(list) => Some(Arc::new(list)),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return Err(Failure::Input);
            }
        },
        None => None,
    };
    let cfg = EngineConfig {
        program: route.program.clone(),
        format: match args.format {
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Csv => Format::Csv,
            FormatArg::Form => Format::Form,
            FormatArg::Xml => Format::Xml,
        },
        limits: Limits::default(),
        keys: Arc::new(EngineKeys::derive(&master, &master, &contract.id)),
        consent,
        charset: args.charset,
    };
    match filter_stdio(cfg) {
        Ok(Ok(summary)) => {
            if args.summary {
                eprintln!("{}", summary_json(&summary));
            }
            Ok(())
        }
        Ok(Err(v)) => {
            eprintln!("violation: {v}");
            Err(Failure::Violation)
        }
        Err(e) => {
            eprintln!("sluice filter: {e}");
            Err(Failure::Failed)
        }
    }
}

fn filter_stdio(
    cfg: EngineConfig,
) -> std::io::Result<Result<Summary, sluice_policy::engine::Violation>> {
    let mut redactor = Redactor::new(cfg);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::with_capacity(1 << 17);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        if let Err(v) = redactor.feed(&buf[..n], &mut out) {
            stdout.flush()?;
            return Ok(Err(v));
        }
        stdout.write_all(&out)?;
        // Subject hashes are counted in the summary; do not let a long body accumulate them.
        let _ = redactor.take_subjects();
    }
    out.clear();
    let result = redactor.finish(&mut out);
    if result.is_ok() {
        stdout.write_all(&out)?;
    }
    stdout.flush()?;
    Ok(result)
}

fn summary_json(s: &Summary) -> serde_json::Value {
    serde_json::json!({
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "records": s.records,
        "records_dropped": s.records_dropped,
        "subjects": s.subject_count,
        "output_sha256": hex(&s.output_sha256),
        "fields": s.fields.iter().map(|f| serde_json::json!({
            "path": &*f.path, "kept": f.kept, "masked": f.masked, "hashed": f.hashed,
            "redacted": f.redacted, "stripped": f.stripped,
        })).collect::<Vec<_>>(),
    })
}
