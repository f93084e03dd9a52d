//! Verifying a partner's request signature (RFC 9421 §3.2) against the keys its contract's
//! partner declares, before any body is read or any upstream is called.

use http::HeaderMap;
use ring::signature::{ED25519, UnparsedPublicKey};
use sfv::{BareItem, InnerList, ListEntry};
use sluice_policy::{SignatureKey, SignaturePolicy};

use super::base::{Message, signature_base};
pub use super::error::SignatureError;

/// What a verified signature established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The label (`sig1`).
    pub label: String,
    /// The partner key that made it.
    pub keyid: String,
}

/// The dictionary field `name` (several field lines form one dictionary).
pub(crate) fn dictionary(
    headers: &HeaderMap,
    name: &str,
) -> Result<Option<sfv::Dictionary>, SignatureError> {
    let values: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    if values.is_empty() {
        return Ok(None);
    }
    sfv::Parser::new(&values.join(&b", "[..]))
        .parse_dictionary()
        .map(Some)
        .map_err(|_| SignatureError::Malformed)
}

/// Checks the signature parameters' times and algorithm.
fn check_params(
    params: &InnerList,
    policy: SignaturePolicy,
    now: i64,
) -> Result<(), SignatureError> {
    let int = |key: &str| -> Result<Option<i64>, SignatureError> {
        match params.params.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_integer()
                .map(|i| Some(i64::from(i)))
                .ok_or(SignatureError::Malformed),
        }
    };
    if let Some(alg) = params.params.get("alg")
        && alg.as_string().map(|s| s.as_str()) != Some("ed25519")
    {
        return Err(SignatureError::Unsupported);
    }
    let created = int("created")?.ok_or(SignatureError::CreatedMissing)?;
    let (skew, max_age) = (i64::from(policy.skew), i64::from(policy.max_age));
    if created > now + skew {
        return Err(SignatureError::NotYetValid);
    }
    if now - created > max_age {
        return Err(SignatureError::Expired);
    }
    if let Some(expires) = int("expires")?
        && expires + skew < now
    {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

/// Verifies the signature under `label` in `signatures` over `msg` with the Ed25519 key `public`.
fn check(
    signatures: &sfv::Dictionary,
    label: &sfv::Key,
    params: &InnerList,
    msg: &Message<'_>,
    public: &[u8],
) -> Result<(), SignatureError> {
    let signature = match signatures.get(label) {
        Some(ListEntry::Item(item)) => item
            .bare_item
            .as_byte_sequence()
            .ok_or(SignatureError::Malformed)?,
        _ => return Err(SignatureError::Malformed),
    };
    let base = signature_base(params, msg)?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(base.as_bytes(), signature)
        .map_err(|_| SignatureError::Invalid)
}

/// Verifies the request described by `msg` against `keys`. `has_body`: the request carries
/// content, so `content-digest` must be covered.
pub fn verify_request(
    msg: &Message<'_>,
    keys: &[SignatureKey],
    policy: SignaturePolicy,
    has_body: bool,
    now: i64,
) -> Result<VerifiedSignature, SignatureError> {
    let (Some(inputs), Some(signatures)) = (
        dictionary(msg.headers, "signature-input")?,
        dictionary(msg.headers, "signature")?,
    ) else {
        return Err(SignatureError::Missing);
    };
    // The first label signed by one of this partner's keys is the one verified.
    let mut chosen = None;
    for (label, entry) in &inputs {
        let ListEntry::InnerList(params) = entry else {
            return Err(SignatureError::Malformed);
        };
        let keyid = params.params.get("keyid").and_then(BareItem::as_string);
        if let Some(key) = keyid.and_then(|k| keys.iter().find(|key| key.id == k.as_str())) {
            chosen = Some((label, params, key));
            break;
        }
    }
    let (label, params, key) = chosen.ok_or(SignatureError::UnknownKey)?;
    let covers = |name: &str| {
        params.items.iter().any(|i| {
            i.params.is_empty() && i.bare_item.as_string().map(|s| s.as_str()) == Some(name)
        })
    };
    let mut required = vec!["@method", "@target-uri"];
    if has_body {
        required.push("content-digest");
    }
    if !required.iter().all(|c| covers(c)) {
        return Err(SignatureError::NotCovered);
    }
    check_params(params, policy, now)?;
    check(&signatures, label, params, msg, &key.ed25519)?;
    Ok(VerifiedSignature {
        label: label.as_str().to_string(),
        keyid: key.id.clone(),
    })
}

/// Verifies a saved response signed by sluice with the institution's public key `pubkey`
/// (raw 32 bytes): the signature must cover `sluice-disclosure` and `content-digest` — from the
/// trailers (`;tr`) when the signature is there, from the header section when it is.
/// Returns the `keyid` and `created` of the signature.
pub fn verify_response(
    status: u16,
    headers: &HeaderMap,
    trailers: &HeaderMap,
    pubkey: &[u8],
) -> Result<(String, i64), SignatureError> {
    // Sluice sends its signature in the trailers (the digest is known only at the end), or in
    // the header section with a body sent whole (`buffer_limit`).
    let section = if trailers.contains_key("signature") {
        trailers
    } else {
        headers
    };
    let (Some(inputs), Some(signatures)) = (
        dictionary(section, "signature-input")?,
        dictionary(section, "signature")?,
    ) else {
        return Err(SignatureError::Missing);
    };
    let (label, params) = inputs
        .iter()
        .find_map(|(l, e)| match e {
            ListEntry::InnerList(p)
                if p.params
                    .get("tag")
                    .and_then(BareItem::as_string)
                    .map(|s| s.as_str())
                    == Some(super::RESPONSE_TAG) =>
            {
                Some((l, p))
            }
            _ => None,
        })
        .ok_or(SignatureError::Missing)?;
    let covers = |name: &str, tr: bool| {
        params.items.iter().any(|i| {
            i.bare_item.as_string().map(|s| s.as_str()) == Some(name)
                && i.params.contains_key("tr") == tr
        })
    };
    let digest_in_trailers = std::ptr::eq(section, trailers);
    if !covers("content-digest", digest_in_trailers) || !covers("sluice-disclosure", false) {
        return Err(SignatureError::NotCovered);
    }
    let msg = Message {
        method: None,
        target_uri: None,
        status: Some(status),
        headers,
        trailers: Some(trailers),
    };
    check(&signatures, label, params, &msg, pubkey)?;
    let keyid = params
        .params
        .get("keyid")
        .and_then(BareItem::as_string)
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let created = params
        .params
        .get("created")
        .and_then(BareItem::as_integer)
        .map_or(0, i64::from);
    Ok((keyid, created))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::MessageSigner;
    use http::HeaderValue;

    /// RFC 9421 Appendix B.1.4 `test-key-ed25519` (public part).
    const RFC_KEY: &str = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";

    fn rfc_request_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.com"));
        h.insert(
            "date",
            HeaderValue::from_static("Tue, 20 Apr 2021 02:07:55 GMT"),
        );
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "content-digest",
            HeaderValue::from_static("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
        );
        h.insert("content-length", HeaderValue::from_static("18"));
        h.insert(
            "signature-input",
            HeaderValue::from_static(r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#),
        );
        h.insert(
            "signature",
            HeaderValue::from_static("sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"),
        );
        h
    }

    #[test]
    fn the_rfc_9421_ed25519_example_gives_the_published_base_and_verifies() {
        let headers = rfc_request_headers();
        let msg = Message {
            method: Some("POST"),
            target_uri: Some("https://example.com/foo?param=Value&Pet=dog"),
            status: None,
            headers: &headers,
            trailers: None,
        };
        let inputs = dictionary(&headers, "signature-input").unwrap().unwrap();
        let ListEntry::InnerList(params) = &inputs["sig-b26"] else {
            panic!("an inner list")
        };
        let base = signature_base(params, &msg).unwrap();
        assert_eq!(
            base,
            concat!(
                "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
                "\"@method\": POST\n",
                "\"@path\": /foo\n",
                "\"@authority\": example.com\n",
                "\"content-type\": application/json\n",
                "\"content-length\": 18\n",
                "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
            )
        );
        let key = sluice_policy::document::ed25519_public_key(RFC_KEY).unwrap();
        let signatures = dictionary(&headers, "signature").unwrap().unwrap();
        let ListEntry::Item(sig) = &signatures["sig-b26"] else {
            panic!("an item")
        };
        UnparsedPublicKey::new(&ED25519, &key)
            .verify(base.as_bytes(), sig.bare_item.as_byte_sequence().unwrap())
            .expect("the RFC's signature verifies");

        // The example covers @path and @authority, not @target-uri: sluice's policy refuses it.
        let keys = [SignatureKey {
            id: "test-key-ed25519".into(),
            ed25519: key,
        }];
        let policy = SignaturePolicy {
            skew: 30,
            max_age: u32::MAX,
        };
        assert_eq!(
            verify_request(&msg, &keys, policy, true, 1618884473),
            Err(SignatureError::NotCovered)
        );
    }

    struct Partner {
        signer: MessageSigner,
        keys: Vec<SignatureKey>,
    }

    fn partner() -> Partner {
        let pkcs8 =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                .unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public: [u8; 32] = ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .try_into()
            .unwrap();
        Partner {
            signer: MessageSigner::new(pair, "p1-2026"),
            keys: vec![SignatureKey {
                id: "p1-2026".into(),
                ed25519: public,
            }],
        }
    }

    const NOW: i64 = 1_800_000_000;
    const POLICY: SignaturePolicy = SignaturePolicy {
        skew: 30,
        max_age: 300,
    };
    const URI: &str = "https://sluice.example:8443/loans?since=2026-01-01";

    /// A POST with a body, signed by `p` over `components` at `created`.
    fn signed(
        p: &Partner,
        components: &[(&str, bool)],
        created: i64,
        expires: Option<i64>,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert(
            "content-digest",
            HeaderValue::from_static("sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"),
        );
        let msg = Message {
            method: Some("POST"),
            target_uri: Some(URI),
            status: None,
            headers: &h,
            trailers: None,
        };
        let (input, sig) = p
            .signer
            .sign_message(components, None, expires, &msg, created)
            .unwrap();
        h.insert("signature-input", input);
        h.insert("signature", sig);
        h
    }

    fn check(
        p: &Partner,
        h: &HeaderMap,
        method: &str,
        uri: &str,
        now: i64,
    ) -> Result<VerifiedSignature, SignatureError> {
        let msg = Message {
            method: Some(method),
            target_uri: Some(uri),
            status: None,
            headers: h,
            trailers: None,
        };
        verify_request(&msg, &p.keys, POLICY, true, now)
    }

    const FULL: [(&str, bool); 3] = [
        ("@method", false),
        ("@target-uri", false),
        ("content-digest", false),
    ];

    #[test]
    fn a_partner_signature_over_method_target_and_digest_verifies() {
        let p = partner();
        let h = signed(&p, &FULL, NOW - 10, None);
        let v = check(&p, &h, "POST", URI, NOW).unwrap();
        assert_eq!((v.label.as_str(), v.keyid.as_str()), ("sluice", "p1-2026"));
    }

    #[test]
    fn tampering_with_any_covered_part_is_refused() {
        let p = partner();
        let h = signed(&p, &FULL, NOW - 10, None);
        assert_eq!(check(&p, &h, "PUT", URI, NOW), Err(SignatureError::Invalid));
        assert_eq!(
            check(
                &p,
                &h,
                "POST",
                "https://sluice.example:8443/loans?since=2020-01-01",
                NOW
            ),
            Err(SignatureError::Invalid)
        );
        let mut other = h.clone();
        other.insert(
            "content-digest",
            HeaderValue::from_static("sha-256=:AAAAqy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"),
        );
        assert_eq!(
            check(&p, &other, "POST", URI, NOW),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn times_are_checked_with_skew_and_age() {
        let p = partner();
        assert_eq!(
            check(&p, &signed(&p, &FULL, NOW + 31, None), "POST", URI, NOW),
            Err(SignatureError::NotYetValid)
        );
        assert!(check(&p, &signed(&p, &FULL, NOW + 29, None), "POST", URI, NOW).is_ok());
        assert_eq!(
            check(&p, &signed(&p, &FULL, NOW - 301, None), "POST", URI, NOW),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check(
                &p,
                &signed(&p, &FULL, NOW - 10, Some(NOW - 31)),
                "POST",
                URI,
                NOW
            ),
            Err(SignatureError::Expired)
        );
        assert!(
            check(
                &p,
                &signed(&p, &FULL, NOW - 10, Some(NOW + 60)),
                "POST",
                URI,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn missing_coverage_unknown_keys_and_absent_signatures_are_refused() {
        let p = partner();
        let partial = signed(&p, &FULL[..2], NOW, None);
        assert_eq!(
            check(&p, &partial, "POST", URI, NOW),
            Err(SignatureError::NotCovered)
        );
        // Without a body, content-digest need not be covered.
        let msg = Message {
            method: Some("POST"),
            target_uri: Some(URI),
            status: None,
            headers: &partial,
            trailers: None,
        };
        assert!(verify_request(&msg, &p.keys, POLICY, false, NOW).is_ok());
        // Same keyid, another key: the signature does not verify.
        let stranger = partner();
        assert_eq!(
            check(&stranger, &signed(&p, &FULL, NOW, None), "POST", URI, NOW),
            Err(SignatureError::Invalid)
        );
        let mut renamed = stranger;
        renamed.keys[0].id = "other".into();
        assert_eq!(
            check(&renamed, &signed(&p, &FULL, NOW, None), "POST", URI, NOW),
            Err(SignatureError::UnknownKey)
        );
        assert_eq!(
            check(&p, &HeaderMap::new(), "POST", URI, NOW),
            Err(SignatureError::Missing)
        );
        let mut garbage = signed(&p, &FULL, NOW, None);
        garbage.insert("signature", HeaderValue::from_static("sluice=not-base64"));
        assert_eq!(
            check(&p, &garbage, "POST", URI, NOW),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_sluice_response_signature_verifies_offline_and_breaks_with_the_digest() {
        let p = partner();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "sluice-disclosure",
            HeaderValue::from_static("bank.example/sluice/42"),
        );
        let mut trailers = crate::body::digest_trailer(&[7; 32]);
        let (input, sig) = p
            .signer
            .sign_response(200, &headers, Some(&trailers), NOW)
            .unwrap();
        trailers.insert("signature-input", input);
        trailers.insert("signature", sig);
        let key = p.keys[0].ed25519;
        assert_eq!(
            verify_response(200, &headers, &trailers, &key),
            Ok(("p1-2026".to_string(), NOW))
        );
        assert_eq!(
            verify_response(206, &headers, &trailers, &key),
            Err(SignatureError::Invalid)
        );
        let mut other = trailers.clone();
        other.insert(
            "content-digest",
            crate::body::digest_trailer(&[8; 32])["content-digest"].clone(),
        );
        assert_eq!(
            verify_response(200, &headers, &other, &key),
            Err(SignatureError::Invalid)
        );
        let mut moved = headers.clone();
        moved.insert(
            "sluice-disclosure",
            HeaderValue::from_static("bank.example/sluice/43"),
        );
        assert_eq!(
            verify_response(200, &moved, &trailers, &key),
            Err(SignatureError::Invalid)
        );
    }
}
