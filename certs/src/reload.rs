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

    /// Re-reads every file; swaps only if all of it validates.
    pub fn reload(&self) -> Result<(), CertError> {
        let loaded = build(&self.material, crate::inspect::now())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        Ok(())
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
