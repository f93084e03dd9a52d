//! # sluice-certs
//!
//! Certificates and partner identity for sluice (rustls only; no tokio, no hyper). Not built yet:
//! this crate is a placeholder in the workspace layout until the certificates issue lands.
