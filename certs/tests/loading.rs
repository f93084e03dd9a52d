//! Loading errors name the file, the item and the reason; `certs init` output verifies.

#[path = "../../tests/src/scratch.rs"]
mod scratch;

use std::path::PathBuf;

use sluice_certs::devpki::{DevCa, LeafSpec};
use sluice_certs::inspect::Usage;
use sluice_certs::reload::ServerTls;
use sluice_certs::server::{ClientAuth, ServerMaterial};

fn tempdir(name: &str) -> PathBuf {
    let dir = scratch::scratch_dir(&format!("sluice-certs-load-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn material(dir: &std::path::Path) -> ServerMaterial {
    ServerMaterial {
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        client_ca: Some(dir.join("ca.pem")),
        crls: vec![dir.join("crl.pem")],
        client_auth: ClientAuth::Required,
    }
}

#[test]
fn errors_name_file_item_and_reason() {
    let dir = tempdir("errors");
    sluice_certs::devpki::init(&dir, &["p".into()]).unwrap();
    let m = material(&dir);
    let show = |m: &ServerMaterial| ServerTls::load(m.clone()).unwrap_err().to_string();

    let mut missing = m.clone();
    missing.cert = dir.join("nope.pem");
    assert!(show(&missing).starts_with(&format!(
        "{}: certificates: cannot read the file:",
        dir.join("nope.pem").display()
    )));

    std::fs::write(dir.join("empty.pem"), "hello\n").unwrap();
    let mut empty = m.clone();
    empty.cert = dir.join("empty.pem");
    assert_eq!(
        show(&empty),
        format!(
            "{}: certificates: no certificate found (expected a PEM block)",
            dir.join("empty.pem").display()
        )
    );
    let mut nokey = m.clone();
    nokey.key = dir.join("empty.pem");
    assert_eq!(
        show(&nokey),
        format!(
            "{}: private key: no private key found (expected a PEM block)",
            dir.join("empty.pem").display()
        )
    );

    let ca = DevCa::load(&dir).unwrap();
    let mut spec = LeafSpec::new("localhost", Usage::Server, 1);
    spec.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(10);
    spec.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(2);
    let old = ca.issue(&spec).unwrap();
    std::fs::write(dir.join("old.pem"), &old.cert_pem).unwrap();
    let mut expired = m.clone();
    expired.cert = dir.join("old.pem");
    let msg = show(&expired);
    assert!(
        msg.starts_with(&format!(
            "{}: certificate 1: certificate expired at ",
            dir.join("old.pem").display()
        )),
        "{msg}"
    );

    let client_only = ca
        .issue(&LeafSpec::new("localhost", Usage::Client, 30))
        .unwrap();
    std::fs::write(dir.join("client-eku.pem"), &client_only.cert_pem).unwrap();
    let mut wrong = m.clone();
    wrong.cert = dir.join("client-eku.pem");
    assert_eq!(
        show(&wrong),
        format!(
            "{}: certificate 1: wrong key usage: the certificate is not allowed for TLS server authentication",
            dir.join("client-eku.pem").display()
        )
    );

    let mut no_ca = m.clone();
    no_ca.client_ca = None;
    assert!(show(&no_ca).contains("client CA: no client CA bundle configured"));
}

#[test]
fn group_readable_key_gets_a_warning() {
    let dir = tempdir("perms");
    sluice_certs::devpki::init(&dir, &["p".into()]).unwrap();
    let tls = ServerTls::load(material(&dir)).unwrap();
    assert!(tls.warnings().is_empty(), "init writes keys 0600");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        tls.reload().unwrap();
        let w = tls.warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().ends_with(
            "private key file is readable by group or others (mode 644); use chmod 600"
        ));
    }
}

#[test]
fn init_output_passes_openssl_verify() {
    // No silent skip: the check needs the openssl command (`.ci/run` installs it).
    let out = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .unwrap_or_else(|e| {
            panic!("this test runs `openssl verify` and needs the openssl command ({e}); install it (Debian: apt-get install openssl)")
        });
    assert!(out.status.success());
    let dir = tempdir("openssl");
    sluice_certs::devpki::init(&dir, &["acme-loans".into(), "safe-insure".into()]).unwrap();
    for leaf in [
        "server.pem",
        "institution.pem",
        "partners/acme-loans.pem",
        "partners/safe-insure.pem",
    ] {
        let out = std::process::Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(dir.join("ca.pem"))
            .args(["-crl_check", "-CRLfile"])
            .arg(dir.join("crl.pem"))
            .arg(dir.join(leaf))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{leaf}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .trim_end()
                .ends_with(": OK")
        );
    }
    // A revoked partner no longer verifies against the CRL.
    sluice_certs::devpki::revoke(&dir, "acme-loans").unwrap();
    let out = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(dir.join("ca.pem"))
        .args(["-crl_check", "-CRLfile"])
        .arg(dir.join("crl.pem"))
        .arg(dir.join("partners/acme-loans.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate revoked")
            || String::from_utf8_lossy(&out.stdout).contains("certificate revoked")
    );
}
