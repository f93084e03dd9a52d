//! `deploy/docs/configuration.md` lists every key the code accepts. The key lists come from the
//! code itself: an unknown key placed in each table makes `sluice config check` / `sluice policy
//! check` answer with the keys that table allows, and each must appear in the reference as
//! `` `table.key` ``.

mod support;
use support::SLUICE;

use std::path::PathBuf;
use std::process::Command;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");

fn reference() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/docs/configuration.md"
    ))
    .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = support::scratch_dir(&format!("sluice-docs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sluice ARGS` expecting exit 2 and returns stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(SLUICE).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

/// The allowed keys an "unknown key" error lists: serde's "unknown field `k`, expected `a` or
/// `b`" / "expected one of `a`, `b`, …", or the policy reader's "expected one of: a, b".
fn allowed(err: &str) -> Vec<String> {
    if let Some((_, rest)) = err.split_once("unknown field `zz_unknown`, expected") {
        let rest = rest.lines().next().unwrap();
        return rest
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect();
    }
    let (_, rest) = err
        .split_once("expected one of: ")
        .unwrap_or_else(|| panic!("no key list in {err}"));
    let rest = rest.lines().next().unwrap();
    rest.split(", ").map(|s| s.trim().to_string()).collect()
}

fn assert_documented(table: &str, keys: &[String], doc: &str) {
    assert!(!keys.is_empty(), "{table}: no keys found");
    for key in keys {
        let name = if table.is_empty() {
            key.clone()
        } else {
            format!("{table}.{key}")
        };
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "`{name}` is not in the configuration reference"
        );
    }
}

#[test]
fn every_configuration_key_is_documented() {
    let doc = reference();
    let text = std::fs::read_to_string(format!("{EXAMPLES}/sluice.toml")).unwrap();
    let dir = scratch("config");
    let cfg = dir.join("sluice.toml");
    // (table, the line after which the unknown key goes)
    let tables = [
        ("", "policy = \"policy.toml\""),
        ("keys", "[keys]"),
        ("limits", "[limits]"),
        ("listener", "[[listener]]"),
        ("admin", "[admin]"),
        ("telemetry", "[telemetry]"),
        ("ledger", "[ledger]"),
        ("upstream", "[[upstream]]"),
        // Not in the example: appended.
        ("shadow", "[shadow]"),
    ];
    for (table, after) in tables {
        let variant = if text.contains(after) {
            text.replacen(after, &format!("{after}\nzz_unknown = 1"), 1)
        } else {
            assert_eq!(table, "shadow", "{after} is missing from the example");
            format!("{text}\n{after}\nzz_unknown = 1\n")
        };
        std::fs::write(&cfg, variant).unwrap();
        let err = refused(&["config", "check", cfg.to_str().unwrap()]);
        assert!(err.contains("unknown field `zz_unknown`"), "{err}");
        assert_documented(table, &allowed(&err), &doc);
    }
}

#[test]
fn every_policy_key_is_documented() {
    let doc = reference();
    let text = std::fs::read_to_string(format!("{EXAMPLES}/policy.toml")).unwrap();
    let dir = scratch("policy");
    let file = dir.join("policy.toml");
    // (table, text to find, its replacement with an unknown key inside that table)
    let tables = [
        ("", "version = 1", "version = 1\nzz_unknown = 1"),
        (
            "partner",
            "jurisdiction = \"CN\"",
            "jurisdiction = \"CN\"\nzz_unknown = 1",
        ),
        (
            "partner.identity",
            "identity     = { uri_san",
            "identity = { zz_unknown = 1, uri_san",
        ),
        (
            "contract",
            "purpose     = \"loan",
            "zz_unknown = 1\npurpose = \"loan",
        ),
        (
            "contract.rate",
            "rate        = { per_second",
            "rate = { zz_unknown = 1, per_second",
        ),
        (
            "contract.route",
            "flow     = \"pull\"",
            "flow = \"pull\"\nzz_unknown = 1",
        ),
        (
            "rule",
            "{ keep = \"string\", pattern = \"LA",
            "{ zz_unknown = 1, keep = \"string\", pattern = \"LA",
        ),
    ];
    for (table, find, replace) in tables {
        assert!(text.contains(find), "{find}");
        std::fs::write(&file, text.replacen(find, replace, 1)).unwrap();
        let err = refused(&["policy", "check", file.to_str().unwrap()]);
        let line = err
            .lines()
            .find(|l| l.contains("zz_unknown") && l.contains("unknown key"))
            .unwrap_or_else(|| panic!("{table}: {err}"));
        assert_documented(table, &allowed(line), &doc);
    }
}

/// The subcommands `sluice … --help` lists.
fn subcommands(args: &[&str]) -> Vec<String> {
    let out = Command::new(SLUICE)
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some(list) = help.split("Commands:\n").nth(1) else {
        return Vec::new();
    };
    list.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_is_in_the_cli_reference() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/docs/cli.md"
    ))
    .unwrap();
    let top = subcommands(&[]);
    assert!(top.len() >= 8, "{top:?}");
    for command in top {
        let nested = subcommands(&[command.as_str()]);
        if nested.is_empty() {
            assert!(
                doc.contains(&format!("`sluice {command}")),
                "sluice {command} is not in cli.md"
            );
            continue;
        }
        for sub in nested {
            assert!(
                doc.contains(&format!("`sluice {command} {sub}")),
                "sluice {command} {sub} is not in cli.md"
            );
        }
    }
}
