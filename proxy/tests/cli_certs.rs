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
