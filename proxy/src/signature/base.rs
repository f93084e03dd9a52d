//! The signature base of RFC 9421 §2.5: one line per covered component, `"name";params: value`,
//! then `"@signature-params": (...)` — the exact bytes an Ed25519 signature is made over.

use http::HeaderMap;
use sfv::{BareItem, InnerList, Item, ListEntry, SerializeValue};

use super::error::SignatureError;

/// The message a base is built from: derived components and fields.
#[derive(Debug)]
pub struct Message<'a> {
    /// Request method (requests only).
    pub method: Option<&'a str>,
    /// The absolute target URI `https://authority/path?query` (requests only).
    pub target_uri: Option<&'a str>,
    /// Response status (responses only).
    pub status: Option<u16>,
    /// Header fields.
    pub headers: &'a HeaderMap,
    /// Trailer fields (for components with the `tr` parameter).
    pub trailers: Option<&'a HeaderMap>,
}

/// The value of one covered component, or why it cannot be produced.
fn component_value(item: &Item, msg: &Message<'_>) -> Result<String, SignatureError> {
    let name = item
        .bare_item
        .as_string()
        .ok_or(SignatureError::Malformed)?
        .as_str();
    let trailer = match item.params.len() {
        0 => false,
        1 if item.params.get("tr").and_then(BareItem::as_boolean) == Some(true) => true,
        _ => return Err(SignatureError::Unsupported),
    };
    let uri = || -> Result<http::Uri, SignatureError> {
        msg.target_uri
            .ok_or(SignatureError::Unsupported)?
            .parse()
            .map_err(|_| SignatureError::Malformed)
    };
    if let Some(derived) = name.strip_prefix('@') {
        if trailer {
            return Err(SignatureError::Unsupported);
        }
        return match derived {
            "method" => msg
                .method
                .map(str::to_string)
                .ok_or(SignatureError::Unsupported),
            "target-uri" => msg
                .target_uri
                .map(str::to_string)
                .ok_or(SignatureError::Unsupported),
            "authority" => Ok(uri()?
                .authority()
                .ok_or(SignatureError::Malformed)?
                .as_str()
                .to_ascii_lowercase()),
            "scheme" => Ok(uri()?.scheme_str().unwrap_or("https").to_ascii_lowercase()),
            "path" => Ok(match uri()?.path() {
                "" => "/".to_string(),
                p => p.to_string(),
            }),
            "query" => Ok(format!("?{}", uri()?.query().unwrap_or(""))),
            "request-target" => Ok(uri()?
                .path_and_query()
                .map_or("/".to_string(), |p| p.as_str().to_string())),
            "status" => msg
                .status
                .map(|s| s.to_string())
                .ok_or(SignatureError::Unsupported),
            _ => Err(SignatureError::Unsupported),
        };
    }
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(SignatureError::Malformed);
    }
    let fields = if trailer {
        msg.trailers.ok_or(SignatureError::NotCovered)?
    } else {
        msg.headers
    };
    let values: Vec<String> = fields
        .get_all(name)
        .iter()
        .map(|v| {
            std::str::from_utf8(v.as_bytes())
                .map(|s| s.trim().to_string())
                .map_err(|_| SignatureError::Malformed)
        })
        .collect::<Result<_, _>>()?;
    if values.is_empty() {
        return Err(SignatureError::NotCovered);
    }
    Ok(values.join(", "))
}

/// The signature base for `params` (the inner list of covered components with its
/// parameters) over `msg`.
pub fn signature_base(params: &InnerList, msg: &Message<'_>) -> Result<String, SignatureError> {
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for item in &params.items {
        let id = item
            .serialize_value()
            .map_err(|_| SignatureError::Malformed)?;
        // Each component at most once (§2.5, step 2.1).
        if seen.contains(&id) {
            return Err(SignatureError::Malformed);
        }
        let value = component_value(item, msg)?;
        if value.contains('\n') || value.contains('\r') {
            return Err(SignatureError::Malformed);
        }
        out.push_str(&id);
        out.push_str(": ");
        out.push_str(&value);
        out.push('\n');
        seen.push(id);
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(&serialize_params(params)?);
    Ok(out)
}

/// The canonical serialisation of a signature's inner list with its parameters.
pub fn serialize_params(params: &InnerList) -> Result<String, SignatureError> {
    vec![ListEntry::InnerList(params.clone())]
        .serialize_value()
        .map_err(|_| SignatureError::Malformed)
}

/// A covered-component item: `"name"`, or `"name";tr` for a trailer field.
pub fn component(name: &str, trailer: bool) -> Item {
    let mut item = Item {
        bare_item: BareItem::String(
            sfv::String::from_string(name.to_string()).expect("an ASCII component name"),
        ),
        params: sfv::Parameters::new(),
    };
    if trailer {
        item.params.insert(
            sfv::KeyRef::constant("tr").to_owned(),
            BareItem::Boolean(true),
        );
    }
    item
}
