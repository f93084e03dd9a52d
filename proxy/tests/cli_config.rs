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

/// An internal listener that should ask for no certificate says so (`client_auth = "none"`):
/// left out, client certificates are required (before, left out meant none asked).
#[test]
fn an_internal_listener_asks_for_no_certificate_only_when_told() {
    let dir = example_dir("internal-none");
    let cfg = dir.join("sluice.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let none = text.replace(
        "client_ca   = \"certs/ca.pem\"\nclient_auth = \"required\"\n",
        "client_auth = \"none\"\n",
    );
    assert_ne!(none, text, "the example changed");
    std::fs::write(&cfg, none).unwrap();
    let (code, out, err) = sluice(&["config", "check", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 2 listeners"), "{out}");
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
        (
            text.replace("[ledger]\n", "[ledger]\ncommit_delay_us = 250000\n"),
            "ledger.commit_delay_us: 250000 is too long; expected 0 to 100000 (0.1 s)",
        ),
        (
            format!(
                "{text}\n[ledger.store]\nurl = \"postgresql://shipper@db/evidence?sslmode=disable\"\npassword_file = \"missing.password\"\n"
            ),
            "missing.password: cannot read the password file",
        ),
        (
            format!(
                "{text}\n[ledger.store]\nurl = \"postgresql://shipper:hunter2@db/evidence?sslmode=disable\"\n"
            ),
            "ledger.store.url: the URL carries a password; give it in a file (password_file, --password-file) or PGPASSWORD instead",
        ),
        (
            format!(
                "{text}\n[ledger.store]\nurl = \"postgresql://shipper@db/evidence?sslmode=prefer\"\n"
            ),
            "ledger.store.url: sslmode=prefer is not accepted",
        ),
        (
            text.replace(
                "max_header_bytes           = 16384",
                "max_header_bytes           = 4096",
            ),
            "limits.max_header_bytes: got 4096, expected 8192 to 4294967295 (bytes)",
        ),
        (
            text.replace(
                "max_header_bytes           = 16384",
                "max_header_bytes = 16384\nmax_in_flight = 100\nmax_in_flight_per_partner = 101",
            ),
            "limits.max_in_flight_per_partner: got 101, expected at most limits.max_in_flight (100)",
        ),
        (
            text.replace("[ledger]\n", "[ledger]\nidle_commit_wait_us = 100001\n"),
            "ledger.idle_commit_wait_us: 100001 is too long; expected 0 to 100000 (0.1 s)",
        ),
        (
            text.replace(
                "[telemetry]\n",
                "[telemetry]\notlp_endpoint = \"https://collector:4317\"\nprotocol = \"grpc\"\nca = \"certs/collector-ca.pem\"\n",
            ),
            "certs/collector-ca.pem",
        ),
        (
            text.replace(
                "[telemetry]\n",
                "[telemetry]\notlp_endpoint = \"https://collector:4317\"\n",
            ),
            "telemetry.ca: required for the https:// collector telemetry.otlp_endpoint names",
        ),
        (
            text.replace(
                "client_auth = \"required\"\n",
                "client_auth = \"required\"\ncallers = [{ uri_san = \"spiffe://bank/core\", dns_san = \"core.bank\" }]\n",
            ),
            "listener[1].callers[0]: got 2 of uri_san, dns_san, spki_sha256, expected exactly one",
        ),
        (
            text.replace(
                "client_auth = \"required\"\n",
                "client_auth = \"optional\"\ncallers = [{ uri_san = \"spiffe://bank/core\" }]\n",
            ),
            "listener[1].callers: needs client certificates; expected listener[1].client_auth = \"required\" (or left out)",
        ),
        // An internal listener asks for client certificates unless told not to.
        (
            text.replace(
                "client_ca   = \"certs/ca.pem\"\nclient_auth = \"required\"\n",
                "",
            ),
            "listener[1].client_ca: missing; expected the CA bundle that the institution systems' certificates must chain to (client certificates are required unless client_auth = \"none\", which lets whoever reaches the listener push)",
        ),
        (
            text.replace(
                "crls      = [\"certs/crl.pem\"]\n",
                "crls      = [\"certs/crl.pem\"]\nclient_auth = \"none\"\n",
            ),
            "listener[0].client_auth: got \"none\", expected \"required\" (partner listeners always require client certificates)",
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

/// `config check` passed what `run` refuses, and said nothing about what `run` should warn
/// about (issue 26, item 3). Each case now names the file and the key path.
#[test]
fn config_check_runs_what_run_checks_and_warns_with_file_and_key_path() {
    let dir = example_dir("complete");
    let cfg = dir.join("sluice.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["config", "check", cfg.to_str().unwrap()];
        args.extend_from_slice(extra);
        sluice(&args)
    };
    // Errors (exit 2).
    let cases = [
        (
            text.replace("ca          = \"certs/ca.pem\"\n", ""),
            "upstream[1].ca: missing for https upstream \"acme-api\"; expected the CA bundle its server certificate chains to (or upstream[1].system_roots = true)".to_string(),
        ),
        (
            text.replace("cert      = \"certs/server.pem\"", "cert      = \"certs/nowhere.pem\""),
            format!("{}: listener[0].cert: {}", cfg.display(), dir.join("certs/nowhere.pem").display()),
        ),
        (
            text.replace("client_key  = \"certs/institution.key\"", "client_key  = \"certs/gone.key\""),
            format!("{}: upstream[1].client_key: {}", cfg.display(), dir.join("certs/gone.key").display()),
        ),
    ];
    for (variant, want) in &cases {
        assert_ne!(*variant, text, "the example changed; {want}");
        std::fs::write(&cfg, variant).unwrap();
        let (code, _, err) = check(&[]);
        assert_eq!(code, 2, "{want}: {err}");
        assert!(err.contains(want.as_str()), "expected {want:?} in {err}");
    }
    std::fs::write(&cfg, &text).unwrap();

    // The ledger signing key against the ledger already in the directory.
    let ledger = dir.join("var/ledger");
    // A ledger written there with `key` by an instance with `keys`, and closed.
    let write_ledger = |key, keys| {
        let options = sluice::ledger::LedgerOptions {
            dir: ledger.clone(),
            origin: "sluice.example/ledger/instance-1".into(),
            key,
            commit_window: std::time::Duration::ZERO,
            checkpoint_every: 1,
            checkpoint_min_interval: std::time::Duration::ZERO,
            commit_delay: sluice::ledger::CommitDelay::default(),
            segment_bytes: 1 << 20,
            idle_commit_wait: std::time::Duration::ZERO,
        };
        sluice::ledger::Ledger::open_checked(options, keys)
            .unwrap()
            .0
            .close();
    };
    write_ledger(support::signing_key().0, None);
    let (code, _, err) = check(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}: ledger.signing_key: {} is not the key of the ledger in {}",
            cfg.display(),
            dir.join("certs/signing.key").display(),
            ledger.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&ledger).unwrap();

    // The origin and the subject key against the ones the ledger recorded (its first
    // `instance.started`, `keys.loaded`), with the right signing key: what start-up would refuse,
    // `config check` names first.
    let signing = sluice::ledger::store::load_signing_key(&dir.join("certs/signing.key")).unwrap();
    write_ledger(
        std::sync::Arc::new(signing),
        Some(sluice::ledger::keycheck::KeyChecks::of(&[9; 32], &[9; 32])),
    );
    let renamed = text.replace(
        "\"sluice.example/ledger/instance-1\"",
        "\"sluice.example/ledger/instance-2\"",
    );
    assert_ne!(renamed, text, "the example changed");
    std::fs::write(&cfg, renamed).unwrap();
    let (code, _, err) = check(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}: ledger.origin: \"sluice.example/ledger/instance-2\" is not the origin of the ledger in {} (\"sluice.example/ledger/instance-1\")",
            cfg.display(),
            ledger.display()
        )),
        "{err}"
    );
    std::fs::write(&cfg, &text).unwrap();
    let (code, _, err) = check(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{}: keys.subject_key: ", cfg.display()))
            && err.contains(&format!(
                "is not the subject key of the ledger in {}",
                ledger.display()
            )),
        "{err}"
    );
    std::fs::remove_dir_all(&ledger).unwrap();

    // Warnings (exit 0, or 1 with --strict): every readable private key, a contract that ended
    // and one ending within 30 days, each with its file and key path.
    use std::os::unix::fs::PermissionsExt;
    for key in [
        "certs/signing.key",
        "certs/hash.key",
        "certs/institution.key",
        "certs/server.key",
    ] {
        std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let policy = dir.join("policy.toml");
    let p = std::fs::read_to_string(&policy).unwrap();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    let soon = format!(
        "{:04}-{:02}-{:02}",
        soon.year(),
        u8::from(soon.month()),
        soon.day()
    );
    let p = p
        .replacen("valid_until = 2027-01-01", "valid_until = 2021-01-01", 1)
        .replacen(
            "valid_from  = 2026-01-01\nvalid_until = 2027-07-01",
            &format!("valid_from  = 2020-01-01\nvalid_until = {soon}"),
            1,
        )
        .replacen(
            "valid_from  = 2026-01-01\nvalid_until = 2021-01-01",
            "valid_from  = 2020-01-01\nvalid_until = 2021-01-01",
            1,
        );
    std::fs::write(&policy, p).unwrap();
    let (code, _, err) = check(&[]);
    assert_eq!(code, 0, "{err}");
    for (file, key) in [
        ("certs/signing.key", "ledger.signing_key"),
        ("certs/hash.key", "keys.pseudonym_key"),
        ("certs/institution.key", "upstream[1].client_key"),
        ("certs/server.key", "listener[0].key"),
    ] {
        let want = format!(
            "warning: {} ({key}): readable by group or others (mode 0644)",
            dir.join(file).display()
        );
        assert!(err.contains(&want), "expected {want:?} in {err}");
    }
    let at = format!("{}: contract", policy.display());
    assert!(
        err.contains(&format!(
            "{at} \"acme-prescreen-2026\".valid_until: the contract with acme-loans ended at"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{at} \"safe-insure-claims-2026\".valid_until: the contract with safe-insure ends at"
        )),
        "{err}"
    );
    // A listener certificate expiring within 30 days.
    let ca = sluice_certs::devpki::DevCa::load(&dir.join("certs")).unwrap();
    let mut spec =
        sluice_certs::devpki::LeafSpec::new("localhost", sluice_certs::inspect::Usage::Server, 10);
    spec.dns = vec!["localhost".into()];
    let short = ca.issue(&spec).unwrap();
    std::fs::write(dir.join("certs/server.pem"), short.cert_pem).unwrap();
    std::fs::write(dir.join("certs/server.key"), short.key_pem).unwrap();
    let (code, _, err) = check(&["--strict"]);
    assert_eq!(code, 1, "{err}");
    let want = format!(
        "warning: {} (certificate 1), listener[0] expires in ",
        dir.join("certs/server.pem").display()
    );
    assert!(err.contains(&want), "expected {want:?} in {err}");
}
