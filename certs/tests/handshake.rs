//! mTLS handshakes over loopback with real rustls on both sides: the client-certificate matrix,
//! revocation versus resumption, TLS versions, and hot reload.

#[path = "../../tests/src/scratch.rs"]
mod scratch;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, ServerConnection, StreamOwned};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sluice_certs::PeerIdentity;
use sluice_certs::devpki::{DevCa, LeafSpec, partner_uri};
use sluice_certs::inspect::Usage;
use sluice_certs::reload::ServerTls;
use sluice_certs::server::{ClientAuth, ServerMaterial};

fn tempdir(name: &str) -> PathBuf {
    let dir = scratch::scratch_dir(&format!("sluice-certs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A development PKI in a temp dir, plus extra certificates for the matrix.
struct Pki {
    dir: PathBuf,
    ca: DevCa,
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = tempdir(name);
        sluice_certs::devpki::init(&dir, &["acme-loans".to_string(), "safe-insure".to_string()])
            .unwrap();
        let ca = DevCa::load(&dir).unwrap();
        Self { dir, ca }
    }

    fn material(&self) -> ServerMaterial {
        ServerMaterial {
            cert: self.dir.join("server.pem"),
            key: self.dir.join("server.key"),
            client_ca: Some(self.dir.join("ca.pem")),
            crls: vec![self.dir.join("crl.pem")],
            client_auth: ClientAuth::Required,
        }
    }

    fn write_leaf(&self, name: &str, issued: &sluice_certs::devpki::Issued) -> (PathBuf, PathBuf) {
        let cert = self.dir.join(format!("{name}.pem"));
        let key = self.dir.join(format!("{name}.key"));
        std::fs::write(&cert, &issued.cert_pem).unwrap();
        std::fs::write(&key, &issued.key_pem).unwrap();
        (cert, key)
    }

    fn client(&self, partner: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
        client_config(&self.dir.join("ca.pem"), partner, None)
    }
}

fn client_config(
    ca: &Path,
    partner: Option<(&Path, &Path)>,
    versions: Option<&[&'static rustls::SupportedProtocolVersion]>,
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions.unwrap_or(rustls::DEFAULT_VERSIONS))
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match partner {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

/// A loopback server: each connection gets the current config, a full handshake, then an echo
/// loop; the peer identity (or the handshake error) of each connection is reported.
fn serve(tls: Arc<ServerTls>) -> (SocketAddr, mpsc::Receiver<Result<PeerIdentity, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(32) {
            let Ok(tcp) = tcp else { break };
            let tls = tls.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let conn = ServerConnection::new(tls.config()).unwrap();
                let mut s = StreamOwned::new(conn, tcp);
                while s.conn.is_handshaking() {
                    if let Err(e) = s.conn.complete_io(&mut s.sock) {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                }
                let leaf = s.conn.peer_certificates().and_then(|c| c.first()).cloned();
                let _ = tx.send(match leaf {
                    Some(der) => PeerIdentity::from_leaf(&der).map_err(|e| e.to_string()),
                    None => Err("no client certificate".into()),
                });
                let mut line = String::new();
                let mut reader = BufReader::new(s);
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let s = reader.get_mut();
                    if s.write_all(b"ok\n").and_then(|_| s.flush()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, rx)
}

type Client = StreamOwned<ClientConnection, TcpStream>;

/// Connects and does one round trip (with TLS 1.3 a refused client certificate only shows after
/// the client's handshake, on the first read).
fn connect(addr: SocketAddr, cfg: Arc<ClientConfig>) -> Result<Client, String> {
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = ClientConnection::new(cfg, "localhost".try_into().unwrap()).unwrap();
    let mut s = StreamOwned::new(conn, tcp);
    ping(&mut s)?;
    Ok(s)
}

fn ping(s: &mut Client) -> Result<(), String> {
    s.write_all(b"ping\n").map_err(|e| e.to_string())?;
    s.flush().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if &buf == b"ok\n" {
        Ok(())
    } else {
        Err(format!("unexpected reply {buf:?}"))
    }
}

fn server_leaf(s: &Client) -> Vec<u8> {
    s.conn.peer_certificates().unwrap()[0].to_vec()
}

fn partner(pki: &Pki, id: &str) -> (PathBuf, PathBuf) {
    (
        pki.dir.join(format!("partners/{id}.pem")),
        pki.dir.join(format!("partners/{id}.key")),
    )
}

#[test]
fn valid_partner_is_accepted_with_its_identity() {
    let pki = Pki::new("valid");
    let (addr, rx) = serve(Arc::new(ServerTls::load(pki.material()).unwrap()));
    let (cert, key) = partner(&pki, "acme-loans");
    let s = connect(addr, pki.client(Some((&cert, &key)))).unwrap();
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]));
    let id = rx.recv().unwrap().unwrap();
    assert_eq!(id.uri_sans, vec![partner_uri("acme-loans")]);
    assert_eq!(id.subject, "O=sluice development, CN=acme-loans");
    assert_eq!(id.issuer, "O=sluice development, CN=Sluice Development CA");
    let der = CertificateDer::pem_file_iter(&cert)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let (_, x) = x509_parser::parse_x509_certificate(&der).unwrap();
    let want = ring::digest::digest(&ring::digest::SHA256, x.tbs_certificate.subject_pki.raw);
    assert_eq!(&id.spki_sha256[..], want.as_ref());
    assert_eq!(id.serial.len(), 32);
    assert!(id.not_after > sluice_certs::inspect::now() + 300 * 86_400);
}

#[test]
fn client_certificate_matrix_refusals() {
    let pki = Pki::new("matrix");
    let (addr, rx) = serve(Arc::new(ServerTls::load(pki.material()).unwrap()));

    // No client certificate.
    assert!(connect(addr, pki.client(None)).is_err());
    assert!(
        rx.recv()
            .unwrap()
            .unwrap_err()
            .contains("peer sent no certificates")
    );

    // A certificate from another CA.
    let other = DevCa::generate().unwrap();
    let mut spec = LeafSpec::new("acme-loans", Usage::Client, 30);
    spec.uris = vec![partner_uri("acme-loans")];
    let (c, k) = pki.write_leaf("other-ca", &other.issue(&spec).unwrap());
    assert!(connect(addr, pki.client(Some((&c, &k)))).is_err());
    let e = rx.recv().unwrap().unwrap_err();
    assert!(
        e.contains("UnknownIssuer") || e.contains("unknown issuer") || e.contains("BadSignature"),
        "{e}"
    );

    // Expired.
    let mut spec = LeafSpec::new("acme-loans", Usage::Client, 30);
    spec.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    spec.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let (c, k) = pki.write_leaf("expired", &pki.ca.issue(&spec).unwrap());
    assert!(connect(addr, pki.client(Some((&c, &k)))).is_err());
    let e = rx.recv().unwrap().unwrap_err();
    assert!(e.contains("Expired") || e.contains("expired"), "{e}");

    // A server-auth-only certificate used as a client certificate.
    let spec = LeafSpec::new("acme-loans", Usage::Server, 30);
    let (c, k) = pki.write_leaf("server-eku", &pki.ca.issue(&spec).unwrap());
    assert!(connect(addr, pki.client(Some((&c, &k)))).is_err());
    assert!(rx.recv().unwrap().is_err());
}

#[test]
fn revoked_partner_is_refused_even_after_a_first_session() {
    let pki = Pki::new("revoked");
    let tls = Arc::new(ServerTls::load(pki.material()).unwrap());
    let (addr, rx) = serve(tls.clone());
    let (cert, key) = partner(&pki, "safe-insure");
    for (round, versions) in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ]
    .into_iter()
    .enumerate()
    {
        // Before revocation: accepted. The client keeps whatever session state it was given.
        let cfg = client_config(&pki.dir.join("ca.pem"), Some((&cert, &key)), Some(versions));
        let first = connect(addr, cfg.clone()).unwrap();
        assert!(rx.recv().unwrap().is_ok());
        drop(first);
        let again = connect(addr, cfg.clone()).unwrap();
        assert!(rx.recv().unwrap().is_ok());
        drop(again);
        // Revoke and reload: the same client (with its session cache) is refused.
        sluice_certs::devpki::revoke(&pki.dir, "safe-insure").unwrap();
        tls.reload().unwrap();
        let err = connect(addr, cfg.clone()).unwrap_err();
        let server_side = rx.recv().unwrap().unwrap_err();
        assert!(server_side.contains("Revoked"), "{server_side} / {err}");
        // Other partners are unaffected; then restore for the next protocol version.
        let (c2, k2) = partner(&pki, "acme-loans");
        connect(addr, pki.client(Some((&c2, &k2)))).unwrap();
        assert!(rx.recv().unwrap().is_ok());
        // (with a newer CRL number: an older CRL is refused, see crl_tests below)
        let number = 100 * (round as u64 + 1);
        std::fs::write(pki.dir.join("crl.pem"), pki.ca.crl(&[], number).unwrap()).unwrap();
        tls.reload().unwrap();
    }
}

/// A CRL past its nextUpdate was accepted by load and reload, and then every handshake failed;
/// an older CRL (lower number, without a revocation) was accepted and un-revoked a partner
/// (issue 28, finding 7).
#[test]
fn stale_and_older_crls_are_refused_and_the_running_one_stays() {
    let pki = Pki::new("crl-rules");
    let crl = pki.dir.join("crl.pem");
    let stale = pki
        .ca
        .crl_until(
            &[],
            50,
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        )
        .unwrap();
    // At load: refused with the file, the item and why.
    std::fs::write(&crl, &stale).unwrap();
    let err = ServerTls::load(pki.material()).unwrap_err();
    assert_eq!(err.item, "CRL 1");
    assert!(
        err.to_string().contains("stale CRL: its nextUpdate"),
        "{err}"
    );
    assert!(err.to_string().contains("crl.pem"), "{err}");

    // Running with a good CRL that revokes safe-insure (number 10).
    std::fs::write(&crl, pki.ca.crl(&[], 9).unwrap()).unwrap();
    let tls = Arc::new(ServerTls::load(pki.material()).unwrap());
    sluice_certs::devpki::revoke(&pki.dir, "safe-insure").unwrap();
    tls.reload().unwrap();
    let (addr, rx) = serve(tls.clone());
    let (cert, key) = partner(&pki, "safe-insure");
    let cfg = client_config(&pki.dir.join("ca.pem"), Some((&cert, &key)), None);
    assert!(connect(addr, cfg.clone()).is_err());
    assert!(rx.recv().unwrap().is_err());
    let revoked_crl = std::fs::read(&crl).unwrap();

    // A stale CRL at reload: refused, and the running CRL stays (partners still served).
    std::fs::write(&crl, &stale).unwrap();
    assert!(tls.reload().unwrap_err().to_string().contains("stale CRL"));
    let (c2, k2) = partner(&pki, "acme-loans");
    connect(addr, pki.client(Some((&c2, &k2)))).unwrap();
    assert!(rx.recv().unwrap().is_ok());

    // An older CRL (number 9, nothing revoked): refused; safe-insure stays revoked.
    std::fs::write(&crl, pki.ca.crl(&[], 9).unwrap()).unwrap();
    let err = tls.reload().unwrap_err().to_string();
    assert!(
        err.contains("CRL number 9") && err.contains("older than the loaded CRL number 10"),
        "{err}"
    );
    assert!(connect(addr, cfg.clone()).is_err());
    assert!(rx.recv().unwrap().is_err());
    let peer = sluice_certs::PeerIdentity::from_leaf(
        &rustls_pki_types::CertificateDer::pem_file_iter(&cert)
            .unwrap()
            .next()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert!(tls.is_revoked(&peer));

    // The same CRL again, or a newer one, is accepted.
    std::fs::write(&crl, &revoked_crl).unwrap();
    tls.reload().unwrap();
    assert!(tls.is_revoked(&peer));
}

#[test]
fn tls_1_1_client_hello_is_refused() {
    let pki = Pki::new("tls11");
    let (addr, _rx) = serve(Arc::new(ServerTls::load(pki.material()).unwrap()));
    // A minimal TLS 1.1 ClientHello: record 0x16 0x0302; version 0x0302; two CBC suites.
    let mut hello = vec![0x03, 0x02];
    hello.extend_from_slice(&[0x42; 32]);
    hello.push(0); // session id
    hello.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0xc0, 0x13]);
    hello.extend_from_slice(&[0x01, 0x00]); // compression: null
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x02, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(&record).unwrap();
    let mut reply = Vec::new();
    let _ = tcp.read_to_end(&mut reply);
    assert!(!reply.is_empty(), "expected an alert");
    assert_eq!(
        reply[0], 0x15,
        "an alert record, not a ServerHello: {reply:?}"
    );
    assert_eq!(reply[5], 2, "fatal");
    // rustls answers an offer with no version it supports with handshake_failure.
    assert!(
        matches!(reply[6], 40 | 70),
        "handshake_failure or protocol_version: {reply:?}"
    );
}

#[test]
fn reload_with_a_mismatched_key_keeps_the_old_certificate() {
    let pki = Pki::new("reload-bad");
    let tls = Arc::new(ServerTls::load(pki.material()).unwrap());
    let (addr, rx) = serve(tls.clone());
    let (cert, key) = partner(&pki, "acme-loans");
    let before = server_leaf(&connect(addr, pki.client(Some((&cert, &key)))).unwrap());
    rx.recv().unwrap().unwrap();
    // A new certificate whose key was not written (the old key stays): mismatch.
    let mut spec = LeafSpec::new("localhost", Usage::Server, 30);
    spec.dns = vec!["localhost".into()];
    let issued = pki.ca.issue(&spec).unwrap();
    std::fs::write(pki.dir.join("server.pem"), &issued.cert_pem).unwrap();
    let err = tls.reload().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: private key: the private key does not match the certificate",
            pki.dir.join("server.key").display()
        )
    );
    let after = server_leaf(&connect(addr, pki.client(Some((&cert, &key)))).unwrap());
    assert_eq!(before, after);
}

#[test]
fn reload_with_a_valid_certificate_serves_it_to_new_handshakes_only() {
    let pki = Pki::new("reload-good");
    let tls = Arc::new(ServerTls::load(pki.material()).unwrap());
    let (addr, rx) = serve(tls.clone());
    let (cert, key) = partner(&pki, "acme-loans");
    let mut open = connect(addr, pki.client(Some((&cert, &key)))).unwrap();
    let before = server_leaf(&open);
    rx.recv().unwrap().unwrap();
    let mut spec = LeafSpec::new("localhost", Usage::Server, 30);
    spec.dns = vec!["localhost".into()];
    let issued = pki.ca.issue(&spec).unwrap();
    std::fs::write(pki.dir.join("server.key"), &issued.key_pem).unwrap();
    std::fs::write(pki.dir.join("server.pem"), &issued.cert_pem).unwrap();
    tls.reload().unwrap();
    let fresh = connect(addr, pki.client(Some((&cert, &key)))).unwrap();
    assert_ne!(server_leaf(&fresh), before);
    assert_eq!(
        server_leaf(&fresh),
        CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())
            .unwrap()
            .to_vec()
    );
    // The connection opened before the reload still works.
    ping(&mut open).unwrap();
    assert_eq!(tls.expiries().len(), 2);
}

#[test]
fn crl_update_takes_effect_for_new_handshakes() {
    let pki = Pki::new("crl");
    let tls = Arc::new(ServerTls::load(pki.material()).unwrap());
    let (addr, rx) = serve(tls.clone());
    let (cert, key) = partner(&pki, "acme-loans");
    let mut open = connect(addr, pki.client(Some((&cert, &key)))).unwrap();
    rx.recv().unwrap().unwrap();
    sluice_certs::devpki::revoke(&pki.dir, "acme-loans").unwrap();
    tls.reload().unwrap();
    assert!(connect(addr, pki.client(Some((&cert, &key)))).is_err());
    assert!(rx.recv().unwrap().unwrap_err().contains("Revoked"));
    // Established connections are the proxy's to close (it tracks peers per connection).
    ping(&mut open).unwrap();
}
