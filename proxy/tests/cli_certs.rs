//! `sluice certs init` / `revoke` through the real binary.

mod support;
use support::sluice;

#[test]
fn init_writes_the_pki_and_prints_policy_snippets_then_revoke_updates_the_crl() {
    let dir = support::scratch_dir("sluice-cli-certs");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let (code, stdout, err) = sluice(&["certs", "init", d, "--partner", "acme-loans"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout
            .contains("identity     = { uri_san = \"spiffe://partners.sluice.test/acme-loans\" }"),
        "{stdout}"
    );
    for f in [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "partners/acme-loans.pem",
        "partners/acme-loans.key",
        "institution.pem",
        "institution.key",
        "crl.pem",
        "signing.key",
        "signing.pub",
        "hash.key",
        "partners.toml",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    #[cfg(unix)]
    for key in [
        "ca.key",
        "server.key",
        "partners/acme-loans.key",
        "institution.key",
        "signing.key",
        "hash.key",
    ] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.join(key))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600,
            "{key}"
        );
    }
    // The snippets make a loadable policy with the example contracts' shape.
    let crl_before = std::fs::read(dir.join("crl.pem")).unwrap();
    let (code, _, err) = sluice(&["certs", "revoke", d, "--partner", "acme-loans"]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read(dir.join("crl.pem")).unwrap(), crl_before);
    let (code, _, err) = sluice(&["certs", "revoke", d, "--partner", "nobody"]);
    assert_eq!(code, 1);
    assert!(err.contains("partners/nobody.pem"));
}

/// `certs init` over an existing PKI once replaced the CA, the CRL (revocations lost), the
/// signing key and the hash key, and exited 0 (issue 26): now it refuses and changes nothing,
/// `certs issue` adds a partner with the existing CA, and only `--force` replaces the keys,
/// saying what that breaks.
#[test]
fn init_over_an_existing_pki_refuses_and_issue_adds_a_partner_without_touching_keys() {
    let dir = support::scratch_dir("sluice-cli-certs-safe");
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    assert_eq!(
        sluice(&["certs", "init", d, "--partner", "acme-loans"]).0,
        0
    );
    assert_eq!(
        sluice(&["certs", "revoke", d, "--partner", "acme-loans"]).0,
        0
    );
    const KEPT: &[&str] = &[
        "ca.pem",
        "ca.key",
        "crl.pem",
        "signing.key",
        "hash.key",
        "server.pem",
        "institution.pem",
        "partners/acme-loans.pem",
    ];
    let snapshot = || -> Vec<Vec<u8>> {
        KEPT.iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect()
    };
    let before = snapshot();

    let (code, out, err) = sluice(&[
        "certs",
        "init",
        d,
        "--partner",
        "acme-loans",
        "--partner",
        "beta-credit",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    for what in [
        "already holds a PKI",
        "ca.pem (a new CA",
        "crl.pem (a new, empty CRL",
        "hash.key (a new pseudonym",
        "signing.key (a new ledger signing key",
        "Nothing was changed",
        "sluice certs issue",
    ] {
        assert!(err.contains(what), "{what} missing from: {err}");
    }
    assert_eq!(snapshot(), before, "a refused init changed the PKI");
    assert!(!dir.join("partners/beta-credit.pem").exists());

    let (code, out, err) = sluice(&["certs", "issue", d, "--partner", "beta-credit"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("uri_san = \"spiffe://partners.sluice.test/beta-credit\""),
        "{out}"
    );
    assert!(dir.join("partners/beta-credit.pem").is_file());
    assert_eq!(snapshot(), before, "issue changed existing material");
    assert!(
        std::fs::read_to_string(dir.join("partners.toml"))
            .unwrap()
            .contains("beta-credit")
    );
    // The new certificate chains to the existing CA.
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.join("ca.pem"))
        .arg(dir.join("partners/beta-credit.pem"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // Issuing over an existing certificate is refused; --force replaces it and warns.
    let (code, _, err) = sluice(&["certs", "issue", d, "--partner", "beta-credit"]);
    assert_eq!(code, 2);
    assert!(err.contains("partners/beta-credit.pem: exists"), "{err}");
    let (code, _, err) = sluice(&["certs", "issue", d, "--partner", "beta-credit", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stays valid until it expires"), "{err}");

    // --force replaces the CA, the CRL and the keys, and says what breaks.
    let (code, _, err) = sluice(&["certs", "init", d, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: --force replaced hash.key"), "{err}");
    assert!(err.contains("warning: --force replaced ca.pem"), "{err}");
    let after = snapshot();
    for (i, f) in KEPT.iter().enumerate().take(5) {
        assert_ne!(after[i], before[i], "{f} not replaced by --force");
    }
}

/// A directory with keys but no CA (say, keys kept from an old PKI): init makes the CA and the
/// certificates and keeps the keys.
#[test]
fn init_keeps_existing_keys_where_there_is_no_ca() {
    let dir = support::scratch_dir("sluice-cli-certs-keep");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let hash = format!("{}\n", "ab".repeat(32));
    std::fs::write(dir.join("hash.key"), &hash).unwrap();
    let (code, out, err) = sluice(&["certs", "init", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept the existing hash.key"), "{out}");
    assert_eq!(std::fs::read_to_string(dir.join("hash.key")).unwrap(), hash);
    assert!(dir.join("ca.pem").is_file() && dir.join("signing.key").is_file());
}
