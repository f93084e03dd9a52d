//! Signing what sluice sends to a partner with the institution's Ed25519 key (RFC 9421), as
//! trailers next to the `Content-Digest` of the bytes actually sent.

use http::{HeaderMap, HeaderValue};
use ring::signature::Ed25519KeyPair;
use sfv::{BareItem, InnerList, Item, SerializeValue};

use super::base::{Message, component, serialize_params, signature_base};
use super::verify::SignatureError;

/// The institution's message-signing key and the `keyid` partners know it by.
pub struct MessageSigner {
    key: Ed25519KeyPair,
    keyid: String,
}

impl std::fmt::Debug for MessageSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageSigner")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}

/// The label of sluice's signature in `Signature-Input` / `Signature`.
pub const LABEL: &str = "sluice";

/// The components sluice's signature on a pushed request covers, in order.
pub const REQUEST_COMPONENTS: [(&str, bool); 4] = [
    ("@method", false),
    ("@target-uri", false),
    ("sluice-disclosure", false),
    ("content-digest", true),
];

/// The components sluice's response signature covers, in order.
pub const RESPONSE_COMPONENTS: [(&str, bool); 4] = [
    ("@status", false),
    ("content-type", false),
    ("sluice-disclosure", false),
    ("content-digest", true),
];

impl MessageSigner {
    /// A signer from an Ed25519 key pair.
    pub fn new(key: Ed25519KeyPair, keyid: impl Into<String>) -> Self {
        Self {
            key,
            keyid: keyid.into(),
        }
    }

    /// The key id.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// `Signature-Input` and `Signature` for a response with `status` and `headers`, created at
    /// `created` (Unix seconds). With `trailers`, `content-digest` is covered from them (`;tr`,
    /// a streamed body); without, from `headers` (a body sent whole).
    pub fn sign_response(
        &self,
        status: u16,
        headers: &HeaderMap,
        trailers: Option<&HeaderMap>,
        created: i64,
    ) -> Result<(HeaderValue, HeaderValue), SignatureError> {
        let msg = Message {
            method: None,
            target_uri: None,
            status: Some(status),
            headers,
            trailers,
        };
        let components = covered(&RESPONSE_COMPONENTS, trailers.is_some());
        self.sign_message(&components, Some(super::RESPONSE_TAG), None, &msg, created)
    }

    /// The same for a filtered request sluice sends to a partner (push flow).
    pub fn sign_request(
        &self,
        method: &str,
        target_uri: &str,
        headers: &HeaderMap,
        trailers: Option<&HeaderMap>,
        created: i64,
    ) -> Result<(HeaderValue, HeaderValue), SignatureError> {
        let msg = Message {
            method: Some(method),
            target_uri: Some(target_uri),
            status: None,
            headers,
            trailers,
        };
        let components = covered(&REQUEST_COMPONENTS, trailers.is_some());
        self.sign_message(&components, Some(super::REQUEST_TAG), None, &msg, created)
    }

    /// Signs `msg` over `components` (name, from trailers) with `created`, `keyid`,
    /// `alg="ed25519"` and, when given, `expires` and `tag`; returns the `Signature-Input` and
    /// `Signature` field values (label `sluice`).
    pub fn sign_message(
        &self,
        components: &[(&str, bool)],
        tag: Option<&str>,
        expires: Option<i64>,
        msg: &Message<'_>,
        created: i64,
    ) -> Result<(HeaderValue, HeaderValue), SignatureError> {
        let mut params = InnerList {
            items: components
                .iter()
                .map(|(name, tr)| component(name, *tr))
                .collect(),
            params: sfv::Parameters::new(),
        };
        let key = |k: &'static str| sfv::KeyRef::constant(k).to_owned();
        let created = sfv::Integer::try_from(created).map_err(|_| SignatureError::Malformed)?;
        params
            .params
            .insert(key("created"), BareItem::Integer(created));
        params.params.insert(key("keyid"), string(&self.keyid)?);
        if let Some(expires) = expires {
            let expires = sfv::Integer::try_from(expires).map_err(|_| SignatureError::Malformed)?;
            params
                .params
                .insert(key("expires"), BareItem::Integer(expires));
        }
        params.params.insert(key("alg"), string("ed25519")?);
        if let Some(tag) = tag {
            params.params.insert(key("tag"), string(tag)?);
        }
        let base = signature_base(&params, msg)?;
        let signature = self.key.sign(base.as_bytes());
        let input = format!("{LABEL}={}", serialize_params(&params)?);
        let sig_item = Item {
            bare_item: BareItem::ByteSequence(signature.as_ref().to_vec()),
            params: sfv::Parameters::new(),
        };
        let sig = format!(
            "{LABEL}={}",
            sig_item
                .serialize_value()
                .map_err(|_| SignatureError::Malformed)?
        );
        Ok((
            HeaderValue::try_from(input).map_err(|_| SignatureError::Malformed)?,
            HeaderValue::try_from(sig).map_err(|_| SignatureError::Malformed)?,
        ))
    }
}

/// The components, with `content-digest` from the trailers or, without them, every one from the
/// header section.
fn covered<'a>(components: &[(&'a str, bool)], trailers: bool) -> Vec<(&'a str, bool)> {
    components
        .iter()
        .map(|(name, tr)| (*name, *tr && trailers))
        .collect()
}

fn string(s: &str) -> Result<BareItem, SignatureError> {
    sfv::String::from_string(s.to_string())
        .map(BareItem::String)
        .map_err(|_| SignatureError::Malformed)
}
