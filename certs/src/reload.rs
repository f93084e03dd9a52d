//! Hot reload: read every file, validate everything, then swap — or keep what is there.
//!
//! New handshakes take [`ServerTls::config`] per accepted connection, so they see the new
//! material at once; established connections keep the config they were accepted with. A failed
//! reload changes nothing and returns the error. Since resumption is off (see [`crate::server`]),
//! no ticket minted under older trust can bring a revoked partner back.

use std::sync::{Arc, RwLock};

use rustls::ServerConfig;

use crate::error::CertError;
use crate::server::{Expiry, Loaded, ServerMaterial, build};

/// A listener's TLS configuration that can be reloaded.
#[derive(Debug)]
pub struct ServerTls {
    material: ServerMaterial,
    current: RwLock<Arc<Loaded>>,
}

impl ServerTls {
    /// Loads the material; fails if anything is wrong (start-up fails closed).
    pub fn load(material: ServerMaterial) -> Result<Self, CertError> {
        let loaded = build(&material, crate::inspect::now())?;
        Ok(Self {
            material,
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The config for the next handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone()
    }

    /// Re-reads every file and validates it — including that no CRL went backwards — without
    /// swapping: [`swap`](Self::swap) installs the result. A caller reloading several listeners
    /// prepares all of them first, so that a failure changes none.
    pub fn prepare(&self) -> Result<Arc<Loaded>, CertError> {
        let loaded = build(&self.material, crate::inspect::now())?;
        loaded.crls.check_replaces(&self.current().crls)?;
        Ok(Arc::new(loaded))
    }

    /// Installs material from [`prepare`](Self::prepare).
    pub fn swap(&self, loaded: Arc<Loaded>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
    }

    /// Re-reads every file; swaps only if all of it validates.
    pub fn reload(&self) -> Result<(), CertError> {
        let loaded = self.prepare()?;
        self.swap(loaded);
        Ok(())
    }

    fn current(&self) -> Arc<Loaded> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// True when the current CRLs revoke the certificate `peer` identifies.
    pub fn is_revoked(&self, peer: &crate::PeerIdentity) -> bool {
        self.current().crls.is_revoked(&peer.issuer, &peer.serial)
    }

    /// Each current CRL's label and `nextUpdate` (Unix seconds), for readiness and gauges —
    /// without copying its revoked serials.
    pub fn crl_deadlines(&self) -> Vec<(String, i64)> {
        self.current()
            .crls
            .facts()
            .iter()
            .map(|c| (c.label.clone(), c.next_update))
            .collect()
    }

    /// Days left for every loaded certificate.
    pub fn expiries(&self) -> Vec<Expiry> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .expiries
            .clone()
    }

    /// Warnings from the last successful load.
    pub fn warnings(&self) -> Vec<crate::pem::Warning> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .warnings
            .clone()
    }
}
