//! Which institution systems an internal listener admits (`[[listener]] callers`).
//!
//! An internal listener is where institution systems push records to partners: whoever it
//! admits can have sluice send a body to a partner's API under the institution's client
//! certificate and signature, and read the partner's answer. Its client CA says only who signed
//! a certificate; when that CA also signs certificates of other systems, `callers` names the
//! ones that may push, by the same identities the policy gives partners (a URI SAN, a DNS SAN,
//! or the SHA-256 of the key). A certificate carrying a partner's identity is refused on an
//! internal listener whatever this list says (`crate::service`).

use sluice_certs::server::ClientAuth;
use sluice_policy::Identity;

use super::raw::{RawCaller, RawKind};

/// The callers of listener `key`, checked: only internal listeners that require client
/// certificates have any, each with exactly one identity.
pub(super) fn callers(
    key: &str,
    kind: RawKind,
    client_auth: ClientAuth,
    raw: &[RawCaller],
) -> Result<Vec<Identity>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if kind == RawKind::Partner {
        return Err(format!(
            "{key}.callers: set on a partner listener; expected it on internal listeners only (partners are named by the policy's identities)"
        ));
    }
    if client_auth != ClientAuth::Required {
        return Err(format!(
            "{key}.callers: needs client certificates; expected {key}.client_auth = \"required\" (or left out)"
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(j, c)| identity(&format!("{key}.callers[{j}]"), c))
        .collect()
}

fn identity(key: &str, c: &RawCaller) -> Result<Identity, String> {
    let written: Vec<(&str, &str)> = Identity::KINDS
        .into_iter()
        .zip([&c.uri_san, &c.dns_san, &c.spki_sha256])
        .filter_map(|(kind, v)| Some((kind, v.as_deref()?)))
        .collect();
    let [(kind, value)] = written[..] else {
        return Err(format!(
            "{key}: got {} of uri_san, dns_san, spki_sha256, expected exactly one",
            written.len()
        ));
    };
    // Read as the policy reads a partner's: only a key pin can be malformed.
    Identity::from_written(kind, value)
        .ok_or_else(|| format!("{key}.{kind}: got {value:?}, expected 64 hexadecimal digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uri: Option<&str>, dns: Option<&str>, spki: Option<&str>) -> RawCaller {
        RawCaller {
            uri_san: uri.map(str::to_string),
            dns_san: dns.map(str::to_string),
            spki_sha256: spki.map(str::to_string),
        }
    }

    #[test]
    fn callers_are_internal_required_and_one_identity_each() {
        let k = "listener[1]";
        let (int, req) = (RawKind::Internal, ClientAuth::Required);
        let ok = callers(
            k,
            int,
            req,
            &[
                caller(Some("spiffe://bank/core"), None, None),
                caller(None, Some("Core.Bank"), None),
            ],
        )
        .unwrap();
        assert_eq!(
            ok,
            vec![
                Identity::UriSan("spiffe://bank/core".into()),
                Identity::DnsSan("core.bank".into())
            ]
        );
        let one = [caller(Some("spiffe://bank/core"), None, None)];
        assert!(
            callers(k, RawKind::Partner, req, &one)
                .unwrap_err()
                .contains("partner listener")
        );
        assert!(
            callers(k, int, ClientAuth::Optional, &one)
                .unwrap_err()
                .contains("client_auth")
        );
        let two = [caller(Some("a"), Some("b"), None)];
        assert_eq!(
            callers(k, int, req, &two).unwrap_err(),
            "listener[1].callers[0]: got 2 of uri_san, dns_san, spki_sha256, expected exactly one"
        );
        let bad = [caller(None, None, Some("abc"))];
        assert!(
            callers(k, int, req, &bad)
                .unwrap_err()
                .starts_with("listener[1].callers[0].spki_sha256: got \"abc\"")
        );
        assert!(
            callers(k, RawKind::Partner, ClientAuth::Required, &[])
                .unwrap()
                .is_empty()
        );
    }
}
