//! Which request paths sluice forwards: only those that every upstream reads the same way.
//!
//! A route template names a resource (`/v1/applicants/{id}`), and sluice forwards the request
//! path to the upstream. If the path is one an upstream *normalises* — dot segments (`..`, `.`,
//! `%2e%2e`, `.%2e`), percent-decoding once or twice (`..%2F..%2Fadmin`, `%252F`), backslashes
//! (`..\admin`), path parameters (`..;`), NUL, or Unicode look-alikes (full-width dots, which
//! some servers fold with NFKC) — the upstream serves a different resource than the one the
//! route describes, filtered by the wrong contract. Enumerating the spellings never ends, so the
//! rule is the other way round: a forwarded path is made only of segments that no normalisation
//! changes, and everything else is refused before routing.
//!
//! A *canonical* path starts with `/` and every `/`-separated segment is non-empty, made only of
//! the RFC 3986 unreserved characters less `~` (`A–Z a–z 0–9 - . _`), and not made of dots alone.
//! Under percent-decoding (any number of times), dot-segment removal (RFC 3986 §5.2.4),
//! backslash-to-slash, `;`-parameter stripping, slash merging and Unicode normalisation such a
//! path is unchanged, so the upstream sees exactly the resource the template matched. Template
//! literals obey the same rule (checked at load), so a canonical path loses nothing a route could
//! match. An identifier outside that alphabet (say, with spaces or CJK text) belongs in the
//! query string or the body, where no router reads it as structure.

use std::fmt;

/// Why a request path is not canonical. Names the class of problem, never the path itself
/// (paths carry identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    /// Not an origin-form path (`*`, empty, or no leading `/`).
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// `//` or a trailing `/` (some upstreams merge or strip them).
    #[error("the path has an empty segment")]
    EmptySegment,
    /// `.`, `..`, `...`: a dot segment, or one an upstream may treat as one.
    #[error("the path has a dot segment")]
    DotSegment,
    /// `%` anywhere: a decoding upstream would read other characters.
    #[error("the path is percent-encoded")]
    PercentEncoded,
    /// A byte outside `A–Z a–z 0–9 - . _`: `\`, `;`, NUL, control, non-ASCII and the like.
    #[error("the path has a character outside A-Z a-z 0-9 - . _")]
    Character,
}

impl PathProblem {
    /// Stable machine-readable code (`bad_path` refusals carry it as their detail).
    pub fn code(self) -> &'static str {
        match self {
            PathProblem::NotAbsolute => "not_absolute",
            PathProblem::EmptySegment => "empty_segment",
            PathProblem::DotSegment => "dot_segment",
            PathProblem::PercentEncoded => "percent_encoded",
            PathProblem::Character => "character",
        }
    }
}

/// True for a byte a canonical segment may hold.
pub fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

/// Checks one segment (without its `/`).
pub fn check_segment(segment: &str) -> Result<(), PathProblem> {
    if segment.is_empty() {
        return Err(PathProblem::EmptySegment);
    }
    if let Some(b) = segment.bytes().find(|&b| !is_segment_byte(b)) {
        return Err(if b == b'%' {
            PathProblem::PercentEncoded
        } else {
            PathProblem::Character
        });
    }
    if segment.bytes().all(|b| b == b'.') {
        return Err(PathProblem::DotSegment);
    }
    Ok(())
}

/// Checks a request path (without its query string): `Ok` when it is canonical.
pub fn check_path(path: &str) -> Result<(), PathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathProblem::NotAbsolute);
    };
    if rest.is_empty() {
        return Ok(()); // `/` alone
    }
    rest.split('/').try_for_each(check_segment)
}

/// A canonical request path, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalPath<'a>(&'a str);

impl<'a> CanonicalPath<'a> {
    /// Checks `path`.
    pub fn new(path: &'a str) -> Result<Self, PathProblem> {
        check_path(path).map(|()| Self(path))
    }

    /// The path.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for CanonicalPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_are_canonical() {
        for p in [
            "/",
            "/v1/applicants",
            "/v1/applicants/42",
            "/v1/applicants/11010519491231002X",
            "/v1/applicants/a.b-c_d",
            "/v1/applicants/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            "/v1/x/.well",
        ] {
            assert_eq!(check_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn every_spelling_of_a_walk_is_refused() {
        use PathProblem::*;
        for (p, want) in [
            ("", NotAbsolute),
            ("*", NotAbsolute),
            ("v1/applicants", NotAbsolute),
            ("/v1/applicants/..", DotSegment),
            ("/v1/applicants/.", DotSegment),
            ("/v1/applicants/...", DotSegment),
            ("/v1/applicants/%2e%2e", PercentEncoded),
            ("/v1/applicants/.%2e", PercentEncoded),
            ("/v1/applicants/%2E", PercentEncoded),
            ("/v1/applicants/..%2F..%2Fadmin%2Fusers", PercentEncoded),
            ("/v1/applicants/%252e%252e", PercentEncoded),
            ("/v1/applicants/%2F", PercentEncoded),
            ("/v1/applicants/%00", PercentEncoded),
            ("/v1/applicants/..;", Character),
            ("/v1/applicants/42;jsessionid=x", Character),
            ("/v1/applicants/..\\..\\admin", Character),
            ("/v1/applicants/42\0", Character),
            ("/v1/applicants/\u{ff0e}\u{ff0e}", Character),
            ("/v1/applicants/\u{2025}", Character),
            ("/v1/applicants/~root", Character),
            ("/v1/applicants/a b", Character),
            ("/v1/applicants/a:b", Character),
            ("/v1/applicants/a+b", Character),
            ("/v1//applicants", EmptySegment),
            ("/v1/applicants/", EmptySegment),
            ("//v1", EmptySegment),
        ] {
            assert_eq!(check_path(p), Err(want), "{p:?}");
        }
    }

    #[test]
    fn no_normalisation_changes_a_canonical_path() {
        // The property the module promises, checked against the normalisations it names.
        fn normalisations(p: &str) -> Vec<String> {
            let decoded = p.replace("%2e", ".").replace("%2f", "/");
            let slashes = p.replace('\\', "/");
            let params: String = p
                .split('/')
                .map(|s| s.split(';').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("/");
            let merged = p.replace("//", "/");
            let mut stack: Vec<&str> = Vec::new();
            for seg in p.split('/').skip(1) {
                match seg {
                    "." => {}
                    ".." => {
                        stack.pop();
                    }
                    s => stack.push(s),
                }
            }
            let dots = format!("/{}", stack.join("/"));
            vec![decoded, slashes, params, merged, dots]
        }
        for p in ["/v1/applicants/42", "/a/b.c/d-e_f", "/x.y"] {
            assert_eq!(check_path(p), Ok(()));
            for n in normalisations(p) {
                assert_eq!(n, p);
            }
        }
    }
}
