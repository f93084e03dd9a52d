//! The reference workload: the policies in `bench/workload/` and the feed of [`crate::feed`].
//! Everything is in the repository; nothing is read from outside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_policy::CompiledPolicy;
use sluice_policy::engine::{EngineConfig, EngineKeys, Format, Limits};

/// `bench/workload/`: the reference and pass-through policies.
pub fn workload_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workload")
}

/// Loads a policy from `bench/workload/NAME`.
pub fn policy(name: &str) -> CompiledPolicy {
    let path = workload_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    CompiledPolicy::load(name, &text).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads the feed at `path`, generating it (`size` such as `64MiB`, `format` `json` or
/// `ndjson`, seed 1) first if it is missing.
pub fn feed(path: &Path, size: &str, format: &str) -> Vec<u8> {
    if !path.exists() {
        let amount = crate::feed::Amount::Bytes(
            crate::feed::parse_size(size).unwrap_or_else(|| panic!("feed size {size:?}")),
        );
        let shape = match format {
            "ndjson" => crate::feed::Shape::Ndjson,
            _ => crate::feed::Shape::Json,
        };
        // Written under a temporary name and renamed, so a cut-short run leaves no partial feed.
        let partial = path.with_extension("partial");
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&partial)
                .unwrap_or_else(|e| panic!("{}: {e}", partial.display())),
        );
        crate::feed::generate(&mut out, shape, 1, amount)
            .and_then(|_| std::io::Write::flush(&mut out))
            .unwrap_or_else(|e| panic!("{}: {e}", partial.display()));
        drop(out);
        std::fs::rename(&partial, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
        charset: Default::default(),
    }
}

/// Benchmark keys for a contract.
pub fn keys(contract: &str) -> EngineKeys {
    EngineKeys::derive(b"bench-pseudonym-master", b"bench-subject-master", contract)
}
