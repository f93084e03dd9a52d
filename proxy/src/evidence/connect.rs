//! Reaching the store: a libpq-style URL, TLS by rustls, the password from a file or the
//! environment.
//!
//! `postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=/etc/sluice/pg-ca.pem`.
//! A password in the URL is refused (it would sit in `sluice.toml`, in shell histories and in
//! process listings): it comes from `password_file` (`--password-file`) or `PGPASSWORD`.
//! `sslmode` is `verify-full` (the default; `require` is read the same way: sluice always checks
//! the server's certificate and name against `sslrootcert`) or `disable`; `prefer` and `allow`,
//! which fall back to plain text when an attacker asks, are refused. `sslcert` and `sslkey` (PEM)
//! present a client certificate, for servers that authenticate clients by certificate. The URL is shown as
//! `HOST:PORT/DATABASE` in messages and logs, never with its user or password.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use tokio_postgres::Client;
use tokio_postgres::config::{Host, SslMode};

use super::StoreError;

/// A parsed store URL.
#[derive(Clone)]
pub struct StoreUrl {
    config: tokio_postgres::Config,
    /// The CA that signs the server's certificate; `None`: `sslmode=disable`.
    root: Option<PathBuf>,
    /// A client certificate chain and its key (`sslcert`, `sslkey`).
    client: Option<(PathBuf, PathBuf)>,
    shown: String,
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({})", self.shown)
    }
}

impl FromStr for StoreUrl {
    type Err = String;

    /// Parses `url`; the error names the problem, never the URL's credentials.
    fn from_str(url: &str) -> Result<Self, String> {
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err("expected a postgresql:// URL".into());
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ssl = "verify-full".to_string();
        let mut root = None;
        let (mut cert, mut key) = (None, None);
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => ssl = v.to_string(),
                Some(("sslrootcert", v)) => root = Some(PathBuf::from(v)),
                Some(("sslcert", v)) => cert = Some(PathBuf::from(v)),
                Some(("sslkey", v)) => key = Some(PathBuf::from(v)),
                Some(("password", _)) => return Err(password_refused()),
                _ => rest.push(pair),
            }
        }
        let rebuilt = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&rebuilt).map_err(|e| {
            format!("not a PostgreSQL URL ({e}); expected postgresql://USER@HOST:PORT/DATABASE")
        })?;
        if config.get_password().is_some() {
            return Err(password_refused());
        }
        let root = match ssl.as_str() {
            "disable" => {
                config.ssl_mode(SslMode::Disable);
                None
            }
            "verify-full" | "require" => {
                config.ssl_mode(SslMode::Require);
                Some(root.ok_or(
                    "sslmode=verify-full needs sslrootcert=FILE: the CA that signs the server's certificate (sslmode=disable only on a trusted loopback)",
                )?)
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not accepted; expected verify-full (or require, read the same way) or disable: a connection that falls back to plain text is not one"
                ));
            }
        };
        let client = match (cert, key) {
            (None, None) => None,
            (Some(_), Some(_)) if root.is_none() => {
                return Err("sslcert and sslkey need TLS (sslmode=verify-full)".into());
            }
            (Some(c), Some(k)) => Some((c, k)),
            _ => {
                return Err(
                    "sslcert and sslkey go together: the certificate chain and its key".into(),
                );
            }
        };
        if config.get_user().is_none() {
            return Err(
                "the URL names no user; expected postgresql://USER@HOST:PORT/DATABASE".into(),
            );
        }
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => return Err("the URL names no host".into()),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let shown = format!(
            "{host}:{port}/{}",
            config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or_default()
        );
        config.application_name("sluice");
        config.connect_timeout(std::time::Duration::from_secs(10));
        Ok(StoreUrl {
            config,
            root,
            client,
            shown,
        })
    }
}

fn password_refused() -> String {
    "the URL carries a password; give it in a file (password_file, --password-file) or PGPASSWORD instead".into()
}

/// Where the store is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The URL (no password).
    pub url: StoreUrl,
    /// The file holding the password (its first line); without it, `PGPASSWORD` if set.
    pub password_file: Option<PathBuf>,
}

impl StoreSettings {
    /// Checks what can be checked before connecting: the files exist and the CA parses.
    pub fn check(&self) -> Result<(), StoreError> {
        self.password()?;
        self.tls()?;
        Ok(())
    }

    fn password(&self) -> Result<Option<String>, StoreError> {
        match &self.password_file {
            Some(path) => read_password(path).map(Some),
            None => Ok(std::env::var("PGPASSWORD").ok()),
        }
    }

    fn tls(&self) -> Result<Option<rustls::ClientConfig>, StoreError> {
        let Some(root) = &self.url.root else {
            return Ok(None);
        };
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let fail =
            |why: String| StoreError::Settings(format!("sslrootcert {}: {why}", root.display()));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(root)
            .map_err(|e| fail(format!("cannot read the file ({e})")))?
            .collect::<Result<_, _>>()
            .map_err(|e| fail(format!("not PEM certificates ({e})")))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| fail(format!("not a usable CA certificate ({e})")))?;
        }
        if roots.is_empty() {
            return Err(fail("holds no certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| fail(e.to_string()))?
            .with_root_certificates(roots);
        let config = match &self.url.client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect())
                    .map_err(|e| {
                        StoreError::Settings(format!(
                            "sslcert {}: expected PEM certificates ({e})",
                            cert.display()
                        ))
                    })?;
                let private = rustls_pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    StoreError::Settings(format!(
                        "sslkey {}: expected a PEM private key ({e})",
                        key.display()
                    ))
                })?;
                builder.with_client_auth_cert(chain, private).map_err(|e| {
                    StoreError::Settings(format!(
                        "sslcert {} and sslkey {}: not a usable pair ({e})",
                        cert.display(),
                        key.display()
                    ))
                })?
            }
        };
        Ok(Some(config))
    }

    /// Connects and authenticates; the connection runs on a task of the current runtime.
    pub async fn connect(&self) -> Result<Client, StoreError> {
        let mut config = self.url.config.clone();
        if let Some(password) = self.password()? {
            config.password(password);
        }
        let url = &self.url;
        match self.tls()? {
            Some(tls) => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                let (client, connection) = config
                    .connect(tls)
                    .await
                    .map_err(|e| StoreError::db(url, "connecting", e))?;
                tokio::spawn(connection);
                Ok(client)
            }
            None => {
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| StoreError::db(url, "connecting", e))?;
                tokio::spawn(connection);
                Ok(client)
            }
        }
    }
}

fn read_password(path: &Path) -> Result<String, StoreError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        StoreError::Settings(format!(
            "{}: cannot read the password file ({e})",
            path.display()
        ))
    })?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(StoreError::Settings(format!(
            "{}: the password file is empty",
            path.display()
        )));
    }
    Ok(line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_refused_without_echoing_it() {
        for url in [
            "postgresql://sluice:hunter2@db:5432/evidence?sslmode=disable",
            "postgresql://sluice@db/evidence?sslmode=disable&password=hunter2",
        ] {
            let e = StoreUrl::from_str(url).unwrap_err();
            assert!(e.contains("carries a password"), "{e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn tls_needs_a_root_and_downgradable_modes_are_refused() {
        let e = StoreUrl::from_str("postgresql://sluice@db/evidence").unwrap_err();
        assert!(e.contains("needs sslrootcert"), "{e}");
        let e = StoreUrl::from_str("postgresql://sluice@db/evidence?sslmode=prefer").unwrap_err();
        assert!(e.contains("sslmode=prefer is not accepted"), "{e}");
        let ok = StoreUrl::from_str(
            "postgresql://sluice@db:6432/evidence?sslmode=verify-full&sslrootcert=/ca.pem",
        )
        .unwrap();
        assert_eq!(ok.to_string(), "db:6432/evidence");
        assert_eq!(ok.root.as_deref(), Some(Path::new("/ca.pem")));
        let e = StoreUrl::from_str(
            "postgresql://sluice@db/evidence?sslrootcert=/ca.pem&sslcert=/c.pem",
        )
        .unwrap_err();
        assert!(e.contains("go together"), "{e}");
    }

    #[test]
    fn the_url_is_shown_without_its_user() {
        let url =
            StoreUrl::from_str("postgres://compliance@127.0.0.1:5999/ev?sslmode=disable").unwrap();
        assert_eq!(url.to_string(), "127.0.0.1:5999/ev");
        assert!(!format!("{url:?}").contains("compliance"));
    }
}
