//! Route path templates: `/v1/applicants/{id}/loans`.
//!
//! A template is a sequence of `/`-separated segments, each either literal text or a `{name}`
//! parameter that matches exactly one non-empty segment. Matching is on the request path only
//! (the query string is not part of it) and is exact: no trailing-slash folding, no case folding,
//! no percent-decoding. Literal segments are canonical ([`crate::target`]), and the proxy refuses
//! a request path that is not, so a parameter never matches `..`, `%2F` or any other segment an
//! upstream would read as structure. Two templates *overlap* when some path
//! matches both; the policy refuses overlapping routes of one partner because the contract that
//! applies would be ambiguous.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Param(String),
}

/// A parsed route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    parts: Vec<Part>,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; expected a path like \"/v1/applicants/{{id}}\"")]
pub struct TemplateError(String);

impl PathTemplate {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(TemplateError("a route path must start with `/`".into()));
        };
        if text.contains(['?', '#']) {
            return Err(TemplateError(
                "a route path has no query string or fragment".into(),
            ));
        }
        let mut parts = Vec::new();
        let mut names = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if seg.is_empty() {
                    return Err(TemplateError(
                        "empty path segment (`//` or a trailing `/`)".into(),
                    ));
                }
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let valid = !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !valid {
                        return Err(TemplateError(format!("bad parameter name {seg:?}")));
                    }
                    if names.contains(&name) {
                        return Err(TemplateError(format!("parameter {seg:?} appears twice")));
                    }
                    names.push(name);
                    parts.push(Part::Param(name.to_string()));
                } else if seg.contains(['{', '}']) {
                    return Err(TemplateError(format!(
                        "segment {seg:?} mixes text and a parameter; a parameter is a whole segment"
                    )));
                } else {
                    crate::target::check_segment(seg).map_err(|problem| {
                        TemplateError(format!(
                            "segment {seg:?} is not canonical ({problem}); a literal segment is made of A-Z a-z 0-9 - . _ and is not dots alone"
                        ))
                    })?;
                    parts.push(Part::Literal(seg.to_string()));
                }
            }
        }
        Ok(Self {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as written in the policy (safe to log: it has no ids in it).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Matches a request path (without query string). A parameter matches one canonical segment
    /// only (see [`crate::target`]): never `..`, `%2e`, `a;b` or the like.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        if rest.is_empty() {
            return self.parts.is_empty();
        }
        let mut segs = rest.split('/');
        for part in &self.parts {
            match (part, segs.next()) {
                (_, None) => return false,
                (_, Some("")) => return false,
                (Part::Literal(l), Some(s)) if l != s => return false,
                (Part::Param(_), Some(s)) if crate::target::check_segment(s).is_err() => {
                    return false;
                }
                _ => {}
            }
        }
        segs.next().is_none()
    }

    /// The names of the template's parameters, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Param(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The path rebuilt segment by segment: literals as they are, each parameter's segment
    /// replaced by what `param(name, segment)` makes of it. `None` when the path does not match.
    pub fn render<E>(
        &self,
        path: &str,
        mut param: impl FnMut(&str, &str) -> Result<String, E>,
    ) -> Option<Result<String, E>> {
        if !self.matches(path) {
            return None;
        }
        let mut out = String::with_capacity(path.len());
        for (part, seg) in self.parts.iter().zip(path[1..].split('/')) {
            out.push('/');
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Param(name) => match param(name, seg) {
                    Ok(v) => out.push_str(&v),
                    Err(e) => return Some(Err(e)),
                },
            }
        }
        if self.parts.is_empty() {
            out.push('/');
        }
        Some(Ok(out))
    }

    /// True when at least one path matches both templates.
    pub fn overlaps(&self, other: &PathTemplate) -> bool {
        self.parts.len() == other.parts.len()
            && self.parts.iter().zip(&other.parts).all(|pair| match pair {
                (Part::Literal(a), Part::Literal(b)) => a == b,
                _ => true,
            })
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> PathTemplate {
        PathTemplate::parse(s).unwrap()
    }

    #[test]
    fn matches_literals_and_params() {
        let tpl = t("/v1/applicants/{id}");
        assert!(tpl.matches("/v1/applicants/42"));
        assert!(!tpl.matches("/v1/applicants/"));
        assert!(!tpl.matches("/v1/applicants"));
        assert!(!tpl.matches("/v1/applicants/42/loans"));
        assert!(!tpl.matches("/V1/applicants/42"));
        assert!(!tpl.matches("v1/applicants/42"));
        assert!(t("/").matches("/"));
        assert!(!t("/").matches("/x"));
        assert!(t("/feed").matches("/feed"));
        assert!(!t("/feed").matches("/feed/"));
    }

    #[test]
    fn render_replaces_each_parameters_segment_and_keeps_the_literals() {
        let tpl = t("/v1/{a}/x/{b}");
        assert_eq!(tpl.params().collect::<Vec<_>>(), ["a", "b"]);
        let got = tpl.render("/v1/1/x/2", |name, seg| {
            Ok::<_, ()>(format!("{name}{seg}{seg}"))
        });
        assert_eq!(got, Some(Ok("/v1/a11/x/b22".to_string())));
        assert_eq!(tpl.render("/v1/1/y/2", |_, s| Ok::<_, ()>(s.into())), None);
        assert_eq!(
            tpl.render("/v1/1/x/2", |name, _| Err(name.to_string())),
            Some(Err("a".to_string()))
        );
        assert_eq!(
            t("/").render("/", |_, s| Ok::<_, ()>(s.into())),
            Some(Ok("/".into()))
        );
    }

    #[test]
    fn a_parameter_never_matches_a_segment_an_upstream_would_rewrite() {
        let tpl = t("/v1/applicants/{id}");
        for p in [
            "..",
            ".",
            "%2e%2e",
            ".%2e",
            "..;",
            "..%2F..%2Fadmin",
            "..\\a",
            "%00",
            "\u{ff0e}",
        ] {
            assert!(!tpl.matches(&format!("/v1/applicants/{p}")), "{p}");
        }
    }

    #[test]
    fn overlap_is_symmetric_and_structural() {
        assert!(t("/a/{x}").overlaps(&t("/a/b")));
        assert!(t("/a/b").overlaps(&t("/a/{y}")));
        assert!(!t("/a/b").overlaps(&t("/a/c")));
        assert!(!t("/a/{x}").overlaps(&t("/a/{x}/c")));
    }

    #[test]
    fn refuses_malformed_templates() {
        for (text, want) in [
            ("v1/x", "a route path must start with `/`"),
            ("/a//b", "empty path segment (`//` or a trailing `/`)"),
            ("/a/", "empty path segment (`//` or a trailing `/`)"),
            ("/a/{}", "bad parameter name \"{}\""),
            (
                "/a/x{id}",
                "segment \"x{id}\" mixes text and a parameter; a parameter is a whole segment",
            ),
            ("/a/{id}/{id}", "parameter \"{id}\" appears twice"),
            ("/a?x=1", "a route path has no query string or fragment"),
            (
                "/a/../b",
                "segment \"..\" is not canonical (the path has a dot segment); a literal segment is made of A-Z a-z 0-9 - . _ and is not dots alone",
            ),
            (
                "/a%2Fb",
                "segment \"a%2Fb\" is not canonical (the path is percent-encoded); a literal segment is made of A-Z a-z 0-9 - . _ and is not dots alone",
            ),
        ] {
            assert_eq!(
                PathTemplate::parse(text).unwrap_err().to_string(),
                format!("{want}; expected a path like \"/v1/applicants/{{id}}\""),
            );
        }
    }
}
