//! The reference workload: `../shared/bench/` policies and the feed from `gen_feed.py`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::{EngineConfig, EngineKeys, Format, Limits};

/// `../shared` relative to the workspace root, or `SLUICE_SHARED`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("SLUICE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// Loads a policy from `../shared/bench/NAME`.
pub fn policy(name: &str) -> CompiledPolicy {
    let path = shared_dir().join("bench").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    CompiledPolicy::load(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads the feed at `path`, generating it with `gen_feed.py --size SIZE` first if missing.
pub fn feed(path: &Path, size: &str, format: &str) -> Vec<u8> {
    if !path.exists() {
        let status = std::process::Command::new("python3")
            .arg(shared_dir().join("tools/gen_feed.py"))
            .args(["--size", size, "--format", format, "-o"])
            .arg(path)
            .status()
            .expect("run gen_feed.py");
        assert!(status.success(), "gen_feed.py failed");
    }
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The engine configuration of a policy's first route.
pub fn config(p: &CompiledPolicy, format: Format) -> EngineConfig {
    let c = &p.contracts[0];
    EngineConfig {
        program: c.routes[0].program.clone(),
        format,
        limits: Limits::default(),
        keys: Arc::new(keys(&c.id)),
        consent: None,
    }
}

/// Benchmark keys for a contract.
pub fn keys(contract: &str) -> EngineKeys {
    EngineKeys::derive(b"bench-pseudonym-master", b"bench-subject-master", contract)
}
