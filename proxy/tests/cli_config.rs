//! `sluice config check` on the example configuration and on broken variants.

mod support;
use support::sluice;

fn example_dir(name: &str) -> std::path::PathBuf {
    let dir = support::scratch_dir(&format!("sluice-cli-config-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/examples");
    for f in ["sluice.toml", "policy.toml"] {
        std::fs::copy(format!("{examples}/{f}"), dir.join(f)).unwrap();
    }
    let (code, _, err) = sluice(&["certs", "init", dir.join("certs").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    dir
}

#[test]
fn the_example_configuration_checks_after_certs_init() {
    let dir = example_dir("ok");
    let (code, out, err) = sluice(&["config", "check", dir.join("sluice.toml").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("ok: 2 listeners, 2 upstreams, policy sha256 "),
        "{out}"
    );
}

#[test]
fn broken_configurations_name_the_problem() {
    let dir = example_dir("broken");
    let cfg = dir.join("sluice.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let cases = [
        (
            text.replace("name        = \"acme-api\"", "name = \"acme\""),
            "contract \"safe-insure-claims-2026\".route[0].upstream: got \"acme-api\", expected an [[upstream]] name in this config (institution, acme)",
        ),
        (
            text.replace(
                "address   = \"127.0.0.1:8443\"",
                "adress = \"127.0.0.1:8443\"",
            ),
            "unknown field `adress`",
        ),
        (
            text.replace("certs/server.key", "certs/missing.key"),
            "certs/missing.key: private key: cannot read the file",
        ),
        (
            text.replace(
                "url  = \"http://127.0.0.1:8080\"",
                "url  = \"ftp://127.0.0.1:8080\"",
            ),
            "upstream[0].url: got \"ftp://127.0.0.1:8080\", expected an http:// or https:// URL without a query",
        ),
    ];
    for (variant, want) in cases {
        assert_ne!(variant, text, "the example changed; {want}");
        std::fs::write(&cfg, &variant).unwrap();
        let (code, _, err) = sluice(&["config", "check", cfg.to_str().unwrap()]);
        assert_eq!(code, 2, "{want}: {err}");
        assert!(err.contains(want), "expected {want:?} in {err}");
    }
}
