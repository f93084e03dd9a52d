//! The training workload of the profile-guided build (`deploy/pgo/`) must run what it says it
//! runs: every `sluice filter` step of `train.sh` passes its contract on the records
//! `feed.awk` generates, as one document and as NDJSON, with every rule of the contract applied
//! and no value replaced by the redaction marker (a mask that does not recognise its kind would
//! train the error paths instead of the usual ones, and a violation would stop the training
//! run), and every scan finding something to mask.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

/// One `feed N SHAPE "$format" | filter POLICY CONTRACT ROUTE "$format"` line of train.sh.
struct Step {
    shape: String,
    policy: String,
    contract: String,
    route: String,
}

fn steps() -> Vec<Step> {
    let script = std::fs::read_to_string(Path::new(DEPLOY).join("pgo/train.sh")).unwrap();
    let steps: Vec<Step> = script
        .lines()
        .filter_map(|l| l.trim().strip_prefix("feed "))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            // N SHAPE "$format" | filter POLICY CONTRACT ROUTE "$format"
            (w.len() == 9 && w[3] == "|" && w[4] == "filter").then(|| Step {
                shape: w[1].to_string(),
                policy: w[5]
                    .trim_matches('"')
                    .replace("$examples", "examples/policy.toml")
                    .replace("$here/", "pgo/"),
                contract: w[6].to_string(),
                route: w[7].to_string(),
            })
        })
        .collect();
    assert!(steps.len() >= 4, "train.sh's filter steps not found");
    steps
}

fn feed(n: usize, shape: &str, format: &str) -> Vec<u8> {
    let out = Command::new("awk")
        .args(["-v", &format!("n={n}"), "-v", &format!("shape={shape}")])
        .args(["-v", &format!("format={format}"), "-f"])
        .arg(Path::new(DEPLOY).join("pgo/feed.awk"))
        .output()
        .expect("awk runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `sluice filter --summary` over `input`: (exit code, summary or stderr).
fn filter(step: &Step, format: &str, input: &[u8]) -> (i32, String) {
    let policy = Path::new(DEPLOY).join(&step.policy);
    let mut child = Command::new(SLUICE)
        .args(["filter", "--policy", policy.to_str().unwrap()])
        .args(["--contract", &step.contract, "--route", &step.route])
        .args(["--format", format, "--summary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

/// The contract's field rules: path → rule as written.
fn rules(step: &Step) -> Vec<(String, toml::Value)> {
    let text = std::fs::read_to_string(Path::new(DEPLOY).join(&step.policy)).unwrap();
    let policy: toml::Table = text.parse().unwrap();
    let contract = policy["contract"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str() == Some(step.contract.as_str()))
        .unwrap_or_else(|| panic!("{} has no contract {}", step.policy, step.contract));
    contract["fields"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn the_pgo_training_feed_passes_every_training_contract_with_every_rule_applied() {
    let n = 300;
    for step in steps() {
        let rules = rules(&step);
        for format in ["json", "ndjson"] {
            let what = format!("{} {} ({format})", step.contract, step.shape);
            let (code, stderr) = filter(&step, format, &feed(n, &step.shape, format));
            assert_eq!(code, 0, "{what}: {stderr}");
            let summary: serde_json::Value =
                serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
            let fields = summary["fields"].as_array().unwrap();
            for (path, rule) in &rules {
                let count = fields
                    .iter()
                    .find(|f| f["path"] == path.as_str())
                    .unwrap_or_else(|| panic!("{what}: no count for {path}"));
                let n_of = |k: &str| count[k].as_u64().unwrap();
                let applied = n_of("kept") + n_of("masked") + n_of("hashed") + n_of("redacted");
                assert!(applied > 0, "{what}: the rule at {path} never ran");
                if rule.as_str() != Some("redact") {
                    assert_eq!(n_of("redacted"), 0, "{what}: {path} got redaction markers");
                }
                if rule.get("scan").is_some() {
                    assert!(
                        n_of("masked") > 0,
                        "{what}: the scan at {path} found nothing"
                    );
                }
            }
        }
    }
}

#[test]
fn the_pgo_training_feed_is_the_same_for_the_same_arguments() {
    // The training workload does not move between builds (only its timing does).
    let a = feed(50, "policies", "ndjson");
    assert_eq!(a, feed(50, "policies", "ndjson"));
    assert_eq!(a.iter().filter(|&&b| b == b'\n').count(), 50);
    assert_ne!(a, feed(50, "applicants", "ndjson"));
}
