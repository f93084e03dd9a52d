//! Why the proxy could not start, or a reload was refused: one error for every file and
//! resource start-up reads, each variant's message naming the file and key path concerned.

/// Why the proxy could not start (or reload).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The policy.
    #[error("{0}")]
    Policy(String),
    /// Certificates or keys.
    #[error("{0}")]
    Certs(#[from] sluice_certs::CertError),
    /// A key file.
    #[error("{0}")]
    Key(String),
    /// Binding a listener.
    #[error("{0}")]
    Io(String),
    /// The disclosure ledger.
    #[error("{0}")]
    Ledger(String),
    /// The telemetry pipeline (a TLS file for the collector, an exporter setting).
    #[error("{0}")]
    Telemetry(String),
}
