//! # sluice-policy
//!
//! The policy model and the streaming redaction engine of sluice, a DLP reverse proxy that lets a
//! financial institution disclose to each partner only the fields its contract allows.
//!
//! This crate is pure: bytes and text in, bytes and verdicts out. It knows nothing of sockets,
//! files, tokio or hyper, which is what makes it fuzzable and benchable on its own.
//!
//! - [`CompiledPolicy::load`] reads a policy document (TOML), validates it and reports *every*
//!   problem with the file, key path, bad value and expectation; then compiles each route's field
//!   rules into a trie ([`program::FieldProgram`]).
//! - [`CompiledPolicy::resolve`] maps a partner, method and path to a contract and route.
//! - [`engine::Redactor`] filters one JSON or NDJSON body, chunk by chunk, in bounded memory.

pub mod cases;
pub mod compile;
pub mod consent;
pub mod date;
pub mod decimal;
pub mod detect;
pub mod diff;
pub mod document;
pub mod engine;
pub mod escape;
pub mod explain;
pub mod hex;
pub mod mask;
pub mod owned_headers;
pub mod param;
pub mod path;
pub mod program;
pub mod pseudonym;
pub mod resolve;
pub mod rule;
pub mod target;
pub mod template;
mod validate;

use std::sync::Arc;

pub use date::Instant;
pub use document::{
    Class, Contract, DigestAlgorithm, FieldRule, Flow, Identity, Partner, PolicyError, Problem,
    Rate, Route, RouteSpec, SignatureKey, SignaturePolicy,
};
pub use path::{FieldPath, Segment};
pub use resolve::{ResolveError, Resolved};

/// SHA-256 of the policy file's exact bytes: the version the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyVersion(pub [u8; 32]);

impl std::fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::hex(&self.0))
    }
}

/// A validated, compiled policy. Immutable; share it through `Arc`.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    /// SHA-256 of the source bytes.
    pub version: PolicyVersion,
    /// Partners, in document order.
    pub partners: Vec<Partner>,
    /// Contracts, in document order.
    pub contracts: Vec<Contract>,
    /// The institution's classification of paths.
    pub classes: Vec<(FieldPath, Class)>,
}

impl CompiledPolicy {
    /// Loads a policy from its text. `file` is only used in messages.
    pub fn load(file: &str, text: &str) -> Result<Self, PolicyError> {
        let version = PolicyVersion(
            ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
                .as_ref()
                .try_into()
                .expect("sha256 is 32 bytes"),
        );
        let fail = |problems: Vec<Problem>| PolicyError {
            file: file.to_string(),
            problems,
        };
        let root: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| line_col(text, s.start))
                .unwrap_or_default();
            fail(vec![Problem {
                key_path: at,
                message: format!("not valid TOML: {}", e.message().trim().replace('\n', "; ")),
            }])
        })?;
        let mut problems = document::Problems::default();
        let doc = document::read(&root, &mut problems);
        validate::check(&doc, &mut problems);
        let mut contracts = Vec::with_capacity(doc.contracts.len());
        for raw in doc.contracts {
            let mut programs = Vec::with_capacity(raw.contract.routes.len());
            for (ri, route) in raw.contract.routes.iter().enumerate() {
                let route_key_path = format!("{}.route[{ri}]", raw.key_path);
                let program = compile::compile_route(
                    &raw.contract.fields,
                    &raw.field_key_paths,
                    route.records.as_ref(),
                    route.subject.as_ref(),
                    &route_key_path,
                    &mut problems,
                );
                if ri > 0 {
                    // Rule problems are the same for every route of a contract: report them once.
                    dedup_tail(&mut problems.0);
                }
                let request = (!route.request_fields.is_empty()).then(|| {
                    compile::compile_route(
                        &route.request_fields,
                        &route.request_key_paths,
                        None,
                        None,
                        &route_key_path,
                        &mut problems,
                    )
                });
                programs.push((program, request));
            }
            // Every XML prefix a rule's path uses must be bound in `[namespaces]`.
            let request_rules = raw
                .contract
                .routes
                .iter()
                .flat_map(|r| r.request_fields.iter().zip(&r.request_key_paths));
            for (rule, key_path) in raw
                .contract
                .fields
                .iter()
                .zip(&raw.field_key_paths)
                .chain(request_rules)
            {
                for seg in rule.path.segments() {
                    if let Segment::Key(k) = seg
                        && rule.path.is_xml()
                        && let Some((prefix, _)) = k.trim_start_matches('@').split_once(':')
                        && !doc.namespaces.iter().any(|(p, _)| p == prefix)
                    {
                        problems.push(
                            key_path,
                            format!("uses the prefix {prefix:?}, which [namespaces] does not bind to a URI"),
                        );
                    }
                }
            }
            let programs = programs
                .into_iter()
                .map(|(p, request): document::Programs| {
                    let bound = |p: Arc<program::FieldProgram>| {
                        let mut p = Arc::unwrap_or_clone(p);
                        p.namespaces.clone_from(&doc.namespaces);
                        Arc::new(p)
                    };
                    (bound(p), request.map(bound))
                })
                .collect();
            contracts.push(raw.contract.compiled(programs));
        }
        if !problems.0.is_empty() {
            dedup_tail(&mut problems.0);
            return Err(fail(problems.0));
        }
        Ok(Self {
            version,
            partners: doc.partners.into_iter().map(|(_, p)| p).collect(),
            contracts,
            classes: doc.classes.into_iter().map(|(p, c, _)| (p, c)).collect(),
        })
    }

    /// The contract with this id.
    pub fn contract(&self, id: &str) -> Option<&Contract> {
        self.contracts.iter().find(|c| c.id == id)
    }

    /// The partner of a contract.
    pub fn partner_of(&self, contract: &Contract) -> &Partner {
        &self.partners[contract.partner]
    }

    /// Number of routes over all contracts.
    pub fn route_count(&self) -> usize {
        self.contracts.iter().map(|c| c.routes.len()).sum()
    }

    /// The class of a path, if classified (the class of the closest classified ancestor counts).
    pub fn class_of(&self, path: &FieldPath) -> Option<Class> {
        self.classes
            .iter()
            .filter(|(p, _)| path.starts_with(p))
            .map(|(_, c)| *c)
            .max()
    }
}

/// A shared policy, as the proxy holds it.
pub type SharedPolicy = Arc<CompiledPolicy>;

/// Removes repeated problems, keeping the first of each.
fn dedup_tail(problems: &mut Vec<Problem>) {
    let mut seen = std::collections::HashSet::new();
    problems.retain(|p| seen.insert((p.key_path.clone(), p.message.clone())));
}

fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {col}")
}
