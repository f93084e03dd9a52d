//! Field rules: what a contract does with the value at a path.
//!
//! Written in the policy as a string (`"keep"`, `"mask:mobile"`, `"mask:partial(3,4)"`, `"hash"`,
//! `"hash:sm3"`, `"redact"`) or as a table for kept values with constraints:
//! `{ keep = "number", min = 0, max = 10000000 }`,
//! `{ keep = "string", pattern = "[A-Z]{2}\\d+", max_len = 32, scan = ["mobile"] }`,
//! `{ keep = "subtree", plaintext_reason = "..." }`. A constraint that fails at run time is a
//! violation: surprises abort the body, they are never passed through.

use std::fmt;

use crate::decimal::Decimal;

/// The masks of `mask:KIND`. Conventions follow `reference/pii-china.md` §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaskKind {
    /// Keep the surname (compound-surname aware): `欧阳明轩` → `欧阳**`.
    Name,
    /// Keep region code and the last four: `310115********008X`.
    IdCard,
    /// Keep 3 + 4: `138****2414`.
    Mobile,
    /// Keep BIN (6) and last 4, fixed-width middle: `622202*********5645`.
    BankCard,
    /// Keep the first character of the local part: `d***@163.com`.
    Email,
    /// Keep province / city / district: `上海市浦东新区****`.
    Address,
    /// Keep area code and last 4: `010-****5678`.
    Landline,
    /// Keep first 2 and last 2: `E1*****78`.
    Passport,
    /// Keep province, authority letter, first and last character: `京A·1***5`.
    Plate,
    /// Keep the first `first` and last `last` characters.
    Partial {
        /// Characters kept at the start.
        first: u8,
        /// Characters kept at the end.
        last: u8,
    },
}

/// The names accepted after `mask:`.
pub const MASK_KINDS: &[&str] = &[
    "name",
    "id_card",
    "mobile",
    "bank_card",
    "email",
    "address",
    "landline",
    "passport",
    "plate",
];

impl MaskKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "name" => Self::Name,
            "id_card" => Self::IdCard,
            "mobile" => Self::Mobile,
            "bank_card" => Self::BankCard,
            "email" => Self::Email,
            "address" => Self::Address,
            "landline" => Self::Landline,
            "passport" => Self::Passport,
            "plate" => Self::Plate,
            _ => {
                let args = s.strip_prefix("partial(")?.strip_suffix(')')?;
                let (f, l) = args.split_once(',')?;
                Self::Partial {
                    first: f.trim().parse().ok()?,
                    last: l.trim().parse().ok()?,
                }
            }
        })
    }
}

impl fmt::Display for MaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Partial { first, last } => write!(f, "partial({first},{last})"),
            other => f.write_str(MASK_KINDS[other.index()]),
        }
    }
}

impl MaskKind {
    fn index(self) -> usize {
        match self {
            Self::Name => 0,
            Self::IdCard => 1,
            Self::Mobile => 2,
            Self::BankCard => 3,
            Self::Email => 4,
            Self::Address => 5,
            Self::Landline => 6,
            Self::Passport => 7,
            Self::Plate => 8,
            Self::Partial { .. } => usize::MAX,
        }
    }
}

/// Keyed-hash algorithms for `hash` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// HMAC-SHA256 (`"hash"`).
    HmacSha256,
    /// HMAC-SM3, GB/T 32905 + GB/T 15852.2 (`"hash:sm3"`).
    HmacSm3,
}

/// Identifier detectors for `scan = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// Resident ID numbers: 18 characters with a valid GB 11643 check, or 15-digit legacy.
    IdCard,
    /// Mainland mobile numbers.
    Mobile,
    /// Bank card numbers.
    BankCard,
    /// E-mail addresses.
    Email,
}

/// The names accepted in `scan`.
pub const DETECTORS: &[&str] = &["id_card", "mobile", "bank_card", "email"];

impl Detector {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "id_card" => Self::IdCard,
            "mobile" => Self::Mobile,
            "bank_card" => Self::BankCard,
            "email" => Self::Email,
            _ => return None,
        })
    }

    /// The mask applied to what this detector finds.
    pub fn mask(self) -> MaskKind {
        match self {
            Self::IdCard => MaskKind::IdCard,
            Self::Mobile => MaskKind::Mobile,
            Self::BankCard => MaskKind::BankCard,
            Self::Email => MaskKind::Email,
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DETECTORS[*self as usize])
    }
}

/// What type a kept value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepKind {
    /// Any scalar (string, number, boolean, null): the plain `"keep"`.
    Scalar,
    /// A string.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// An object or array (or scalar) kept whole, explicitly.
    Subtree,
}

impl KeepKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "scalar" => Self::Scalar,
            "string" => Self::String,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "null" => Self::Null,
            "subtree" => Self::Subtree,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Null => "null",
            Self::Subtree => "subtree",
        }
    }
}

/// A kept value and its constraints.
#[derive(Debug, Clone)]
pub struct Keep {
    /// Required type.
    pub kind: KeepKind,
    /// Inclusive lower bound (numbers), compared exactly.
    pub min: Option<(Decimal, String)>,
    /// Inclusive upper bound (numbers), compared exactly.
    pub max: Option<(Decimal, String)>,
    /// The whole decoded string must match this (anchored) expression.
    pub pattern: Option<(regex::Regex, String)>,
    /// Maximum length of the decoded string, in characters.
    pub max_len: Option<u32>,
    /// Detectors run on the decoded string; findings are masked in place.
    pub scan: Vec<Detector>,
    /// Why a C2 value may go out in plaintext (required for C2 paths).
    pub plaintext_reason: Option<String>,
}

impl Keep {
    pub(crate) fn plain(kind: KeepKind) -> Self {
        Self {
            kind,
            min: None,
            max: None,
            pattern: None,
            max_len: None,
            scan: Vec::new(),
            plaintext_reason: None,
        }
    }

    /// True when the engine must see the whole value before emitting it.
    pub fn needs_whole_value(&self) -> bool {
        self.min.is_some()
            || self.max.is_some()
            || self.pattern.is_some()
            || self.max_len.is_some()
            || !self.scan.is_empty()
    }
}

/// A rule's action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Keep the value byte-exact (subject to constraints).
    Keep(Box<Keep>),
    /// Replace with a mask of the value.
    Mask(MaskKind),
    /// Replace with a keyed-hash pseudonym.
    Hash(HashAlg),
    /// Replace with the fixed redaction marker.
    Redact,
}

impl Action {
    /// Short name for tables and counters: `keep`, `mask:name`, `hash`, `hash:sm3`, `redact`.
    pub fn label(&self) -> String {
        match self {
            Action::Keep(k) if k.kind == KeepKind::Scalar => "keep".into(),
            Action::Keep(k) => format!("keep {}", k.kind.name()),
            Action::Mask(m) => format!("mask:{m}"),
            Action::Hash(HashAlg::HmacSha256) => "hash".into(),
            Action::Hash(HashAlg::HmacSm3) => "hash:sm3".into(),
            Action::Redact => "redact".into(),
        }
    }

    /// True when the value leaves in plaintext (a keep of any kind).
    pub fn is_plaintext(&self) -> bool {
        matches!(self, Action::Keep(_))
    }

    /// True for `keep = "subtree"`.
    pub fn is_subtree(&self) -> bool {
        matches!(self, Action::Keep(k) if k.kind == KeepKind::Subtree)
    }
}
