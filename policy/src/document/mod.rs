//! The policy document: who may receive what.
//!
//! [`load`](crate::CompiledPolicy::load) reads the TOML text, checks every key and value, runs the
//! cross-cutting checks in [`validate`](crate::validate), and compiles each route's field rules
//! into the trie the engine walks. Nothing past this module sees an unvalidated value.

pub(crate) mod problems;
pub(crate) mod read;
mod rules;
mod values;

pub use problems::{PolicyError, Problem};
pub(crate) use problems::{Problems, describe, join, quote};

use crate::date::Instant;
use crate::engine::Format;
use crate::path::FieldPath;
use crate::rule::Action;
use crate::template::PathTemplate;
use read::TableReader;

/// How a partner is recognised from its verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A URI subject alternative name, e.g. `spiffe://partners.example/acme-loans`.
    UriSan(String),
    /// A DNS subject alternative name.
    DnsSan(String),
    /// SHA-256 of the certificate's SubjectPublicKeyInfo (a key pin).
    SpkiSha256([u8; 32]),
}

impl Identity {
    /// The keys an identity is written under, one per kind.
    pub const KINDS: [&'static str; 3] = ["uri_san", "dns_san", "spki_sha256"];

    /// The identity written as `kind = value`, `kind` one of [`Identity::KINDS`]: the one
    /// reading of a partner's identity (policy) and of an internal listener's caller
    /// (configuration), so that both match certificates alike — a DNS name in lower case, a key
    /// pin as 64 hex digits (colons allowed). `None` for a pin that is not one.
    pub fn from_written(kind: &str, value: &str) -> Option<Self> {
        match kind {
            "uri_san" => Some(Identity::UriSan(value.into())),
            "dns_san" => Some(Identity::DnsSan(value.to_ascii_lowercase())),
            _ => crate::hex::decode_sha256(value).map(Identity::SpkiSha256),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::UriSan(u) => write!(f, "uri_san {u}"),
            Identity::DnsSan(d) => write!(f, "dns_san {d}"),
            Identity::SpkiSha256(h) => {
                write!(f, "spki_sha256 {}", crate::hex::hex(h))
            }
        }
    }
}

/// A partner organisation.
#[derive(Debug, Clone)]
pub struct Partner {
    /// Stable id, used in contracts, logs and the ledger.
    pub id: String,
    /// How its certificate identifies it.
    pub identity: Identity,
    /// Where it is (ISO 3166 code); anything but `CN` is offshore.
    pub jurisdiction: String,
    /// A rate limit across all its contracts, if any.
    pub rate: Option<Rate>,
    /// Ed25519 public keys it signs requests with (RFC 9421), by `keyid`.
    pub signature_keys: Vec<SignatureKey>,
}

/// A partner's request-signing public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureKey {
    /// The `keyid` signature parameter that names it.
    pub id: String,
    /// The raw 32-byte Ed25519 public key.
    pub ed25519: [u8; 32],
}

/// The digest algorithm a contract's outgoing `Content-Digest` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestAlgorithm {
    /// `sha-256` (RFC 9530), the default.
    #[default]
    Sha256,
    /// `sm3` (GB/T 32905, the national algorithm), sent with `sha-256` beside it: partners
    /// that must check SM3 can, others still have SHA-256, and the ledger records SHA-256.
    Sm3,
}

/// Largest `buffer_limit` (16 MiB): beyond that a body streams.
pub const MAX_BUFFER_LIMIT: u32 = 16 << 20;

/// A contract's demand for signed requests (RFC 9421 HTTP message signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// Allowed clock difference, seconds, for `created` in the future and `expires` in the past.
    pub skew: u32,
    /// Oldest `created` accepted, seconds before now.
    pub max_age: u32,
}

/// Which way the data flows through sluice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// A partner calls; the institution's response body is filtered.
    Pull,
    /// An institution system calls; the request body to the partner is filtered.
    Push,
}

impl Flow {
    /// `pull` or `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Pull => "pull",
            Flow::Push => "push",
        }
    }
}

/// A contract's request rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second (a per-minute rate is converted and may be fractional).
    pub per_minute: u32,
    /// Requests allowed at once above the sustained rate.
    pub burst: u32,
}

/// JR/T 0171-2020 sensitivity class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Internal information.
    C1,
    /// Identifies a person or their financial status: masked or hashed unless justified.
    C2,
    /// Authentication data: never disclosed.
    C3,
}

/// A field rule with the path it applies to.
#[derive(Debug, Clone)]
pub struct FieldRule {
    /// The path, parsed.
    pub path: FieldPath,
    /// What to do.
    pub action: Action,
}

/// A route of a contract.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Pull or push.
    pub flow: Flow,
    /// HTTP method, upper case.
    pub method: String,
    /// Request path template.
    pub path: PathTemplate,
    /// Name of the upstream in `sluice.toml`.
    pub upstream: String,
    /// Record boundary, if the body is a collection of records.
    pub records: Option<FieldPath>,
    /// Whose data a record is; its keyed hash goes to the ledger.
    pub subject: Option<FieldPath>,
    /// Extra header names the partner-bound message may carry (lower case), beyond the default
    /// allow-list (content type, accept, date, request and disclosure ids).
    pub headers: Vec<String>,
    /// The query parameters the route's target may carry (default: none): on a push route the
    /// ones forwarded to the partner (others are dropped), on a pull route the ones a partner
    /// may send to the institution (others are refused).
    pub query: Vec<String>,
    /// The rule of each parameter of the route's target, by name: every path parameter and
    /// listed query parameter of a push route, every listed query parameter of a pull route
    /// and any of its path parameters (see [`crate::param`]).
    pub params: Vec<(String, Action)>,
    /// The rule of each header in `headers` written as a table (lower case); a header listed
    /// in an array crosses as written.
    pub header_rules: Vec<(String, Action)>,
    /// Content types let through unfiltered on this route — an explicit, logged decision for
    /// bodies sluice cannot filter (a PDF the contract names). Default: none.
    pub pass_through: Vec<String>,
    /// Bodies sent to sluice on this route must carry a `Content-Digest` (RFC 9530).
    pub require_digest: bool,
    /// Filtered bodies up to this many bytes are held whole and sent with `Content-Length` and
    /// their digest (and signature) as header fields; larger ones stream with trailers.
    pub buffer_limit: Option<u32>,
    /// Body formats this route filters (`formats = ["json", "csv"]`; default JSON and NDJSON).
    /// A body of any other format is refused.
    pub formats: Vec<Format>,
    /// A pull route's request body, as the partner may send it to the institution: the fields
    /// it may carry, each kept with its checks (see [`values::read_request_fields`]). Empty: a
    /// partner's request on this route carries no body.
    pub request_fields: Vec<FieldRule>,
    /// The key path of each of `request_fields`, for problems found compiling them.
    pub request_key_paths: Vec<String>,
}

impl RouteSpec {
    /// The rule a header named in a `headers` table goes through (`None`: it crosses as
    /// written, or the route does not name it).
    pub fn header_rule(&self, name: &str) -> Option<&Action> {
        self.header_rules
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }

    /// Where parameter `name` of a push route sits, as reviews and refusals write it: `{name}` in
    /// the path, `?name` in the query.
    pub fn param_place(&self, name: &str) -> String {
        if self.path.params().any(|p| p == name) {
            format!("{{{name}}}")
        } else {
            format!("?{name}")
        }
    }
}

/// A route as requests meet it: what the policy says of it ([`RouteSpec`], reachable through
/// `Deref`: `route.path`, `route.flow`, ...) and the field rules compiled for it. Only
/// [`CompiledPolicy::load`](crate::CompiledPolicy::load) makes one, once the rules compiled: a
/// route is never seen half-built.
#[derive(Debug, Clone)]
pub struct Route {
    spec: RouteSpec,
    /// The compiled field rules for this route.
    pub program: std::sync::Arc<crate::program::FieldProgram>,
    /// The compiled `request_fields` of a pull route that takes a body (`None`: it takes none).
    pub request_program: Option<std::sync::Arc<crate::program::FieldProgram>>,
}

/// A route's compiled programs: its contract's fields, and its `request_fields` if any.
pub(crate) type Programs = (
    std::sync::Arc<crate::program::FieldProgram>,
    Option<std::sync::Arc<crate::program::FieldProgram>>,
);

impl Route {
    pub(crate) fn new(spec: RouteSpec, (program, request_program): Programs) -> Self {
        Self {
            spec,
            program,
            request_program,
        }
    }
}

impl std::ops::Deref for Route {
    type Target = RouteSpec;
    fn deref(&self) -> &RouteSpec {
        &self.spec
    }
}

/// A data-sharing contract with one partner. `R` is [`RouteSpec`] while the policy is being read
/// and validated, [`Route`] (with compiled rules) once it is loaded.
#[derive(Debug, Clone)]
pub struct Contract<R = Route> {
    /// Stable id.
    pub id: String,
    /// Index of the partner in [`CompiledPolicy::partners`](crate::CompiledPolicy::partners).
    pub partner: usize,
    /// Purpose of processing, as agreed.
    pub purpose: String,
    /// PIPL Art. 13 basis.
    pub legal_basis: String,
    /// First instant the contract applies (inclusive).
    pub valid_from: Instant,
    /// First instant it no longer applies (exclusive).
    pub valid_until: Instant,
    /// Rate limit, if any.
    pub rate: Option<Rate>,
    /// Requests must carry a valid RFC 9421 signature by one of the partner's keys.
    pub signatures: Option<SignaturePolicy>,
    /// The digest algorithm of the `Content-Digest` sluice sends under this contract.
    pub digest: DigestAlgorithm,
    /// Routes.
    pub routes: Vec<R>,
    /// Field rules, in the order written.
    pub fields: Vec<FieldRule>,
}

/// PIPL Art. 13 legal bases accepted in `legal_basis`.
pub const LEGAL_BASES: &[&str] = &[
    "consent",
    "separate-consent",
    "contract-necessity",
    "hr-management",
    "legal-duty",
    "public-health-emergency",
    "news-reporting",
    "publicly-disclosed",
    "other-law",
];

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

pub(crate) struct RawContract {
    pub key_path: String,
    pub contract: Contract<RouteSpec>,
    /// Key path of each field rule, parallel to `contract.fields`.
    pub field_key_paths: Vec<String>,
}

pub(crate) struct Document {
    pub classes: Vec<(FieldPath, Class, String)>,
    /// XML namespace prefixes for paths: prefix → URI.
    pub namespaces: Vec<(String, String)>,
    pub partners: Vec<(String, Partner)>,
    pub contracts: Vec<RawContract>,
}

/// Reads the document, recording every problem. Routes come back as [`RouteSpec`]s; compiling
/// their rules happens after validation and makes the [`Route`]s.
pub(crate) fn read(root: &toml::Table, problems: &mut Problems) -> Document {
    let top = TableReader::new(
        "",
        root,
        &["version", "namespaces", "classes", "partner", "contract"],
    );
    top.check_unknown(problems);
    match top.required("version", "1", problems) {
        Some(toml::Value::Integer(1)) | None => {}
        Some(v) => problems.push("version", format!("got {}, expected 1", describe(v))),
    }

    let mut namespaces: Vec<(String, String)> = Vec::new();
    if let Some(t) = top.opt_table("namespaces", problems) {
        for (prefix, v) in t {
            let key_path = join("namespaces", prefix);
            let ncname = !prefix.is_empty()
                && !prefix.contains(':')
                && prefix != "xml"
                && prefix != "xmlns"
                && crate::engine::is_xml_name(prefix);
            match v.as_str() {
                _ if !ncname => problems.push(
                    &key_path,
                    format!(
                        "got prefix {}, expected an XML name without a colon (not xml or xmlns)",
                        quote(prefix)
                    ),
                ),
                Some(uri) if !uri.is_empty() => {
                    if let Some((other, _)) = namespaces.iter().find(|(_, u)| u == uri) {
                        problems.push(
                            &key_path,
                            format!(
                                "got {}, which prefix {} already names: one prefix per namespace",
                                quote(uri),
                                quote(other)
                            ),
                        );
                    } else {
                        namespaces.push((prefix.to_string(), uri.to_string()));
                    }
                }
                _ => problems.push(
                    &key_path,
                    format!(
                        "got {}, expected a namespace URI (a non-empty string)",
                        describe(v)
                    ),
                ),
            }
        }
    }

    let mut classes = Vec::new();
    if let Some(t) = top.opt_table("classes", problems) {
        for (path_text, v) in t {
            let key_path = join("classes", path_text);
            let class = match v.as_str() {
                Some("C1") => Some(Class::C1),
                Some("C2") => Some(Class::C2),
                Some("C3") => Some(Class::C3),
                _ => {
                    problems.push(
                        &key_path,
                        format!("got {}, expected \"C1\", \"C2\" or \"C3\"", describe(v)),
                    );
                    None
                }
            };
            match FieldPath::parse(path_text) {
                Ok(p) => {
                    if let Some(c) = class {
                        classes.push((p, c, key_path));
                    }
                }
                Err(e) => problems.push(key_path, e.to_string()),
            }
        }
    }

    let mut partners: Vec<(String, Partner)> = Vec::new();
    for (i, t) in top.tables("partner", problems) {
        let id = t.get("id").and_then(|v| v.as_str());
        let path = match id {
            Some(id) => format!("partner {}", quote(id)),
            None => format!("partner[{i}]"),
        };
        let r = TableReader::new(
            path,
            t,
            &["id", "identity", "jurisdiction", "rate", "signature_keys"],
        );
        r.check_unknown(problems);
        let id = r.string("id", problems);
        let rate = read_rate(&r, problems);
        let signature_keys = read_signature_keys(&r, problems);
        let identity = read_identity(&r, problems);
        let jurisdiction = r.string("jurisdiction", problems);
        if let Some(j) = jurisdiction
            && !(j.len() == 2 && j.chars().all(|c| c.is_ascii_uppercase()))
        {
            problems.push(
                r.key_path("jurisdiction"),
                format!(
                    "got {}, expected a two-letter ISO 3166 code such as \"CN\"",
                    quote(j)
                ),
            );
        }
        if let (Some(id), Some(identity), Some(jurisdiction)) = (id, identity, jurisdiction) {
            if partners.iter().any(|(_, p)| p.id == id) {
                problems.push(
                    r.key_path("id"),
                    format!(
                        "got {}, expected a partner id not used by another [[partner]]",
                        quote(id)
                    ),
                );
            } else if let Some((_, other)) = partners.iter().find(|(_, p)| p.identity == identity) {
                problems.push(r.key_path("identity"), format!("got {identity}, expected an identity not used by another partner (partner {} has it)", quote(&other.id)));
            } else {
                partners.push((
                    r.path.clone(),
                    Partner {
                        id: id.into(),
                        identity,
                        jurisdiction: jurisdiction.into(),
                        rate,
                        signature_keys,
                    },
                ));
            }
        }
    }

    let mut contracts: Vec<RawContract> = Vec::new();
    for (i, t) in top.tables("contract", problems) {
        if let Some(c) = read_contract(i, t, &partners, problems) {
            if contracts.iter().any(|o| o.contract.id == c.contract.id) {
                problems.push(
                    join(&c.key_path, "id"),
                    format!(
                        "got {}, expected a contract id not used by another [[contract]]",
                        quote(&c.contract.id)
                    ),
                );
            } else {
                contracts.push(c);
            }
        }
    }
    Document {
        classes,
        namespaces,
        partners,
        contracts,
    }
}

fn read_identity(r: &TableReader<'_>, problems: &mut Problems) -> Option<Identity> {
    let v = r.required(
        "identity",
        "a table with exactly one of uri_san, dns_san, spki_sha256",
        problems,
    )?;
    let key_path = r.key_path("identity");
    let Some(t) = v.as_table() else {
        problems.push(
            key_path,
            format!(
                "got {}, expected a table with exactly one of uri_san, dns_san, spki_sha256",
                describe(v)
            ),
        );
        return None;
    };
    let ir = TableReader::new(key_path.clone(), t, &Identity::KINDS);
    ir.check_unknown(problems);
    let known: Vec<_> = Identity::KINDS
        .into_iter()
        .filter(|k| t.contains_key(*k))
        .collect();
    if known.len() != 1 {
        problems.push(
            key_path,
            format!(
                "got {} of uri_san, dns_san, spki_sha256, expected exactly one",
                known.len()
            ),
        );
        return None;
    }
    let value = ir.string(known[0], problems)?;
    let identity = Identity::from_written(known[0], value);
    if identity.is_none() {
        problems.push(
            ir.key_path("spki_sha256"),
            format!("got {}, expected 64 hexadecimal digits", quote(value)),
        );
    }
    identity
}

fn read_contract(
    i: usize,
    t: &toml::Table,
    partners: &[(String, Partner)],
    problems: &mut Problems,
) -> Option<RawContract> {
    let path = match t.get("id").and_then(|v| v.as_str()) {
        Some(id) => format!("contract {}", quote(id)),
        None => format!("contract[{i}]"),
    };
    let before = problems.0.len();
    let r = TableReader::new(
        path.clone(),
        t,
        &[
            "id",
            "partner",
            "purpose",
            "legal_basis",
            "valid_from",
            "valid_until",
            "rate",
            "require_signature",
            "signature_skew",
            "signature_max_age",
            "digest",
            "route",
            "fields",
        ],
    );
    r.check_unknown(problems);
    let id = r.string("id", problems);
    let partner = r.string("partner", problems).and_then(|p| {
        let found = partners.iter().position(|(_, x)| x.id == p);
        if found.is_none() {
            let known: Vec<_> = partners.iter().map(|(_, x)| quote(&x.id)).collect();
            problems.push(
                r.key_path("partner"),
                format!(
                    "got {}, expected the id of a [[partner]] ({})",
                    quote(p),
                    if known.is_empty() {
                        "none is defined".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
        found
    });
    let purpose = r.string("purpose", problems);
    let legal_basis = r.string("legal_basis", problems).filter(|b| {
        let ok = LEGAL_BASES.contains(b);
        if !ok {
            problems.push(
                r.key_path("legal_basis"),
                format!(
                    "got {}, expected one of: {}",
                    quote(b),
                    LEGAL_BASES.join(", ")
                ),
            );
        }
        ok
    });
    let date = |key: &str, problems: &mut Problems| -> Option<Instant> {
        let v = r.required(key, "a date such as 2026-01-01", problems)?;
        let res = v
            .as_datetime()
            .ok_or("expected a date such as 2026-01-01")
            .and_then(Instant::from_toml);
        res.map_err(|want| problems.push(r.key_path(key), format!("got {}, {want}", describe(v))))
            .ok()
    };
    let valid_from = date("valid_from", problems);
    let valid_until = date("valid_until", problems);
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && until <= from
    {
        problems.push(
            r.key_path("valid_until"),
            format!("got {until}, expected a time after valid_from ({from})"),
        );
    }
    let rate = read_rate(&r, problems);
    let signatures = read_signature_policy(&r, partner.map(|p| &partners[p]), problems);
    let digest = match r.opt_string("digest", problems) {
        None | Some("sha-256") => DigestAlgorithm::Sha256,
        Some("sm3") => DigestAlgorithm::Sm3,
        Some(other) => {
            problems.push(
                r.key_path("digest"),
                format!("got {}, expected \"sha-256\" or \"sm3\"", quote(other)),
            );
            DigestAlgorithm::Sha256
        }
    };

    let mut routes = Vec::new();
    let route_tables = r.tables("route", problems);
    if route_tables.is_empty() && t.get("route").is_none() {
        problems.push(
            r.key_path("route"),
            "missing; expected at least one [[contract.route]]",
        );
    }
    for (ri, rt) in route_tables {
        if let Some(route) = read_route(&format!("{path}.route[{ri}]"), rt, problems) {
            routes.push(route);
        }
    }

    let (fields, field_key_paths) = match r.opt_table("fields", problems) {
        Some(ft) => rules::read_field_table(&r.key_path("fields"), ft, problems),
        None => Default::default(),
    };
    if problems.0.len() != before {
        return None;
    }
    Some(RawContract {
        key_path: path,
        contract: Contract {
            id: id?.into(),
            partner: partner?,
            purpose: purpose?.into(),
            legal_basis: legal_basis?.into(),
            valid_from: valid_from?,
            valid_until: valid_until?,
            rate,
            signatures,
            digest,
            routes,
            fields,
        },
        field_key_paths,
    })
}

/// `signature_keys = { "KEYID" = "KEY", ... }`: Ed25519 public keys, each the base64 of a
/// SubjectPublicKeyInfo (`openssl pkey -pubout -outform DER | base64`) or of the raw 32 bytes.
fn read_signature_keys(r: &TableReader<'_>, problems: &mut Problems) -> Vec<SignatureKey> {
    let Some(t) = r.opt_table("signature_keys", problems) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (id, v) in t {
        let key_path = join(&r.key_path("signature_keys"), id);
        match v.as_str().and_then(ed25519_public_key) {
            Some(ed25519) if !id.is_empty() => keys.push(SignatureKey {
                id: id.clone(),
                ed25519,
            }),
            _ => problems.push(
                key_path,
                format!(
                    "got {}, expected a non-empty keyid naming the base64 of an Ed25519 public key \
                     (SubjectPublicKeyInfo DER, 44 bytes, or the raw 32 bytes)",
                    describe(v)
                ),
            ),
        }
    }
    keys
}

/// The raw key from base64 of an Ed25519 SubjectPublicKeyInfo or of the 32 key bytes.
pub fn ed25519_public_key(text: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let raw = match der.len() {
        32 => &der[..],
        44 if der[..12] == SPKI_PREFIX => &der[12..],
        _ => return None,
    };
    raw.try_into().ok()
}

/// `require_signature = true` with optional `signature_skew` (default 30 s) and
/// `signature_max_age` (default 300 s); the partner must have `signature_keys`.
fn read_signature_policy(
    r: &TableReader<'_>,
    partner: Option<&(String, Partner)>,
    problems: &mut Problems,
) -> Option<SignaturePolicy> {
    let require = r.opt_bool("require_signature", problems);
    let skew = r.opt_u32("signature_skew", problems);
    let max_age = r.opt_u32("signature_max_age", problems);
    if !require {
        for key in ["signature_skew", "signature_max_age"] {
            if r.has(key) {
                problems.push(
                    r.key_path(key),
                    "only meaningful with require_signature = true; expected it removed or require_signature set",
                );
            }
        }
        return None;
    }
    if let Some((_, p)) = partner
        && p.signature_keys.is_empty()
    {
        problems.push(
            r.key_path("require_signature"),
            format!(
                "got true, but partner {} has no signature_keys; expected its Ed25519 keys in [[partner]] signature_keys",
                quote(&p.id)
            ),
        );
    }
    Some(SignaturePolicy {
        skew: skew.unwrap_or(30),
        max_age: max_age.unwrap_or(300),
    })
}

/// `rate = { per_second = N | per_minute = N, burst = N }` (positive integers; burst default 1).
fn read_rate(r: &TableReader<'_>, problems: &mut Problems) -> Option<Rate> {
    let rt = r.opt_table("rate", problems)?;
    let rr = TableReader::new(
        r.key_path("rate"),
        rt,
        &["per_second", "per_minute", "burst"],
    );
    rr.check_unknown(problems);
    let ps = rr.opt_u32("per_second", problems);
    let pm = rr.opt_u32("per_minute", problems);
    let burst = rr.opt_u32("burst", problems);
    let per_minute = match (ps, pm) {
        (Some(s), None) => Some(s.saturating_mul(60)),
        (None, Some(m)) => Some(m),
        _ => {
            problems.push(
                rr.path.clone(),
                "expected exactly one of per_second, per_minute".to_string(),
            );
            None
        }
    };
    Some(Rate {
        per_minute: per_minute?,
        burst: burst.unwrap_or(1),
    })
}

fn read_route(path: &str, t: &toml::Table, problems: &mut Problems) -> Option<RouteSpec> {
    let r = TableReader::new(
        path,
        t,
        &[
            "flow",
            "method",
            "path",
            "upstream",
            "records",
            "subject",
            "headers",
            "query",
            "params",
            "pass_through",
            "require_digest",
            "buffer_limit",
            "formats",
            "request_fields",
        ],
    );
    r.check_unknown(problems);
    let flow = r.string("flow", problems).and_then(|f| match f {
        "pull" => Some(Flow::Pull),
        "push" => Some(Flow::Push),
        _ => {
            problems.push(
                r.key_path("flow"),
                format!("got {}, expected \"pull\" or \"push\"", quote(f)),
            );
            None
        }
    });
    let method = r.string("method", problems).filter(|m| {
        let ok = METHODS.contains(m);
        if !ok {
            problems.push(
                r.key_path("method"),
                format!("got {}, expected one of: {}", quote(m), METHODS.join(", ")),
            );
        }
        ok
    });
    let template = r.string("path", problems).and_then(|p| {
        PathTemplate::parse(p)
            .map_err(|e| problems.push(r.key_path("path"), format!("got {}, {e}", quote(p))))
            .ok()
    });
    let upstream = r.string("upstream", problems);
    let mut field_path = |key: &str| {
        r.opt_string(key, problems).and_then(|p| {
            FieldPath::parse(p)
                .map_err(|e| problems.push(r.key_path(key), format!("got {}: {e}", quote(p))))
                .ok()
        })
    };
    let records = field_path("records");
    let subject = field_path("subject");
    let token = |s: &str| {
        if !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            Ok(())
        } else {
            Err("a header or parameter name (letters, digits, '-', '_', '.')")
        }
    };
    // Framing, coding, integrity, caching, sluice's own and identity headers: never allow-listed.
    let header_name =
        |s: &str| token(s).and_then(|()| crate::owned_headers::owner(s).map_or(Ok(()), Err));
    let (headers, header_rules) = values::read_headers(&r, t, header_name, problems);
    let query = r.opt_strings("query", token, problems);
    let pass_through: Vec<String> = r
        .opt_strings("pass_through", |s| if s.contains('/') && !s.contains(';') && !s.to_ascii_lowercase().contains("json") { Ok(()) } else { Err("a media type without parameters that is not JSON (JSON is always filtered)") }, problems)
        .into_iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    let formats = read_formats(&r, t, problems);
    for (i, m) in pass_through.iter().enumerate() {
        if let Some(f) = FILTERED_TYPES
            .iter()
            .find(|(t, f)| t == m && formats.contains(f))
        {
            problems.push(
                format!("{}[{i}]", r.key_path("pass_through")),
                format!(
                    "got \"{m}\", which this route filters as {} (listed in formats): a type is filtered or passed through, not both",
                    f.1.name()
                ),
            );
        }
    }
    let require_digest = r.opt_bool("require_digest", problems);
    let buffer_limit = r.opt_u32("buffer_limit", problems);
    if let Some(n) = buffer_limit
        && n > MAX_BUFFER_LIMIT
    {
        problems.push(
            r.key_path("buffer_limit"),
            format!(
                "got {n}, expected at most {MAX_BUFFER_LIMIT} bytes (16 MiB): larger bodies stream"
            ),
        );
    }
    let params = values::read_params(&r, t, flow, template.as_ref(), &query, problems);
    let (request_fields, request_key_paths) =
        values::read_request_fields(&r, (flow, method), problems);
    Some(RouteSpec {
        flow: flow?,
        method: method?.into(),
        path: template?,
        upstream: upstream?.into(),
        records,
        subject,
        headers,
        query,
        params,
        header_rules,
        pass_through,
        require_digest,
        buffer_limit,
        formats,
        request_fields,
        request_key_paths,
    })
}

/// Media types of the formats a route may filter besides JSON (whose types are never passed
/// through).
const FILTERED_TYPES: &[(&str, Format)] = &[
    ("text/csv", Format::Csv),
    ("application/x-www-form-urlencoded", Format::Form),
    ("application/xml", Format::Xml),
    ("text/xml", Format::Xml),
    ("application/soap+xml", Format::Xml),
];

/// The route's `formats`: the body formats it filters (default JSON and NDJSON). A body in
/// another format is refused, so a contract opts into each format it covers.
fn read_formats(r: &TableReader<'_>, t: &toml::Table, problems: &mut Problems) -> Vec<Format> {
    if !t.contains_key("formats") {
        return vec![Format::Json, Format::Ndjson];
    }
    let names = Format::ALL.map(|(n, _)| format!("\"{n}\"")).join(", ");
    let listed = r.opt_strings(
        "formats",
        |s| {
            Format::parse(s)
                .map(|_| ())
                .ok_or(r#"one of "json", "ndjson", "csv", "form", "xml""#)
        },
        problems,
    );
    if listed.is_empty()
        && t.get("formats")
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.is_empty())
    {
        problems.push(
            r.key_path("formats"),
            format!("got [], expected at least one of {names}"),
        );
    }
    let mut formats: Vec<Format> = Vec::new();
    for f in listed.iter().filter_map(|s| Format::parse(s)) {
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    formats
}

impl<R> Contract<R> {
    /// Whether the contract is in force at `now`: its window is half-open,
    /// `valid_from <= now < valid_until`.
    pub fn in_force(&self, now: Instant) -> bool {
        self.valid_from <= now && now < self.valid_until
    }
}

impl Contract<RouteSpec> {
    /// The contract with its routes' compiled rules (one pair of programs per route, in order).
    pub(crate) fn compiled(self, programs: Vec<Programs>) -> Contract<Route> {
        debug_assert_eq!(programs.len(), self.routes.len());
        Contract {
            id: self.id,
            partner: self.partner,
            purpose: self.purpose,
            legal_basis: self.legal_basis,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            rate: self.rate,
            signatures: self.signatures,
            digest: self.digest,
            routes: self
                .routes
                .into_iter()
                .zip(programs)
                .map(|(spec, program)| Route::new(spec, program))
                .collect(),
            fields: self.fields,
        }
    }
}
