//! `[telemetry]`: where traces and metrics go, resolved against the standard OpenTelemetry
//! environment variables.
//!
//! The file sets the defaults; an `OTEL_*` variable, when set, wins — so one image and one
//! `sluice.toml` serve every environment, and the collector's address or credentials can come
//! from the platform. Variables read here: `OTEL_SDK_DISABLED`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`,
//! `OTEL_EXPORTER_OTLP_CLIENT_KEY`, `OTEL_METRIC_EXPORT_INTERVAL` and `OTEL_BSP_MAX_QUEUE_SIZE`. Three more are left to the
//! OpenTelemetry SDK, which reads them itself: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
//! (the resource) and `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (the sampler); when they
//! are set, the file's `service_name` and `sampler_ratio` step aside.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::RawTelemetry;

/// How spans and metrics reach the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (usually port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (usually port 4318; `/v1/traces`, `/v1/metrics`).
    HttpProtobuf,
}

/// Where and how telemetry is exported.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryConfig {
    /// The collector: for gRPC its address, for HTTP the base URL the signal paths go under.
    pub endpoint: http::Uri,
    /// gRPC or HTTP/protobuf.
    pub protocol: Protocol,
    /// `service.name`, unless `OTEL_SERVICE_NAME` sets it (then `None`).
    pub service_name: Option<String>,
    /// How often metrics are sent (spans go in batches as they end).
    pub export_interval: Duration,
    /// Deadline of one export.
    pub timeout: Duration,
    /// Headers (gRPC metadata) on every export, e.g. a collector's API key.
    pub headers: Vec<(String, String)>,
    /// TLS to an `https://` collector: its CA, and the client certificate sluice presents.
    pub tls: sluice_certs::client::ClientMaterial,
    /// Fraction of new traces sampled (a caller's decision is followed), unless
    /// `OTEL_TRACES_SAMPLER` chooses the sampler (then `None`).
    pub sampler_ratio: Option<f64>,
    /// Finished spans waiting for export; beyond this they are dropped, never waited for.
    pub max_queued_spans: usize,
}

/// `[telemetry]` resolved against the environment `env`; `None` when nothing is exported.
pub(super) fn resolve(
    raw: Option<RawTelemetry>,
    env: &dyn Fn(&str) -> Option<String>,
    rel: &dyn Fn(&Path) -> PathBuf,
) -> Result<Option<TelemetryConfig>, String> {
    let Some(t) = raw else { return Ok(None) };
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let (endpoint, from) = match (env("OTEL_EXPORTER_OTLP_ENDPOINT"), t.otlp_endpoint) {
        (Some(e), _) => (e, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        (None, Some(e)) => (e, "telemetry.otlp_endpoint"),
        (None, None) => return Ok(None),
    };
    let uri: http::Uri = endpoint
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.authority().is_some()
                && u.path_and_query().is_none_or(|p| p.query().is_none())
        })
        .ok_or_else(|| {
            format!(
                "{from}: got {endpoint:?}, expected the URL of an OTLP receiver such as \"http://127.0.0.1:4318\" (HTTP) or \"https://collector:4317\" (gRPC)"
            )
        })?;
    let protocol = match env("OTEL_EXPORTER_OTLP_PROTOCOL")
        .map(|p| (p, "OTEL_EXPORTER_OTLP_PROTOCOL"))
        .or(t.protocol.map(|p| (p, "telemetry.protocol")))
    {
        None => Protocol::HttpProtobuf,
        Some((p, from)) => match p.trim() {
            "grpc" => Protocol::Grpc,
            "http/protobuf" => Protocol::HttpProtobuf,
            other => {
                return Err(format!(
                    "{from}: got {other:?}, expected \"grpc\" or \"http/protobuf\""
                ));
            }
        },
    };
    let millis =
        |name: &str, file: Option<u64>, key: &str, range: std::ops::RangeInclusive<u64>| {
            let (v, from) = match env(name) {
                Some(v) => (
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: got {v:?}, expected milliseconds"))?,
                    name.to_string(),
                ),
                None => match file {
                    Some(v) => (v, format!("telemetry.{key}")),
                    None => return Ok(None),
                },
            };
            if range.contains(&v) {
                Ok(Some(Duration::from_millis(v)))
            } else {
                Err(format!(
                    "{from}: got {v}, expected {} to {} (milliseconds)",
                    range.start(),
                    range.end()
                ))
            }
        };
    let export_interval = millis(
        "OTEL_METRIC_EXPORT_INTERVAL",
        t.export_interval_ms,
        "export_interval_ms",
        100..=600_000,
    )?
    .unwrap_or(Duration::from_secs(5));
    let timeout = millis(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        t.timeout_ms,
        "timeout_ms",
        100..=120_000,
    )?
    .unwrap_or(Duration::from_secs(10));
    let mut headers: Vec<(String, String)> = t.headers.unwrap_or_default().into_iter().collect();
    if let Some(list) = env("OTEL_EXPORTER_OTLP_HEADERS") {
        for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                "OTEL_EXPORTER_OTLP_HEADERS: a pair without '=', expected key=value,key=value"
                    .to_string()
            })?;
            let k = k.trim().to_ascii_lowercase();
            let v = percent_decode(v.trim());
            headers.retain(|(have, _)| *have != k);
            headers.push((k, v));
        }
    }
    for (k, v) in &headers {
        let name_ok = http::HeaderName::from_bytes(k.as_bytes()).is_ok();
        // The value is never echoed: it is usually a credential.
        if !name_ok || http::HeaderValue::from_str(v).is_err() {
            return Err(format!(
                "telemetry.headers: the header {k:?} has an invalid name or value; expected an HTTP header name and a visible-ASCII value"
            ));
        }
    }
    let path =
        |name: &str, file: Option<PathBuf>| env(name).map(PathBuf::from).or(file.map(|p| rel(&p)));
    let tls = sluice_certs::client::ClientMaterial {
        ca_bundle: path("OTEL_EXPORTER_OTLP_CERTIFICATE", t.ca),
        system_roots: false,
        cert: path("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", t.client_cert),
        key: path("OTEL_EXPORTER_OTLP_CLIENT_KEY", t.client_key),
    };
    if tls.cert.is_some() != tls.key.is_some() {
        return Err(
            "telemetry.client_cert / client_key: one without the other; expected both or neither"
                .into(),
        );
    }
    if uri.scheme_str() == Some("https") && tls.ca_bundle.is_none() {
        return Err(format!(
            "telemetry.ca: required for the https:// collector {from} names; expected the CA bundle that signed the collector's certificate"
        ));
    }
    let sampler_ratio = match (env("OTEL_TRACES_SAMPLER"), t.sampler_ratio) {
        (Some(_), _) => None,
        (None, None) => Some(1.0),
        (None, Some(r)) if (0.0..=1.0).contains(&r) => Some(r),
        (None, Some(r)) => {
            return Err(format!(
                "telemetry.sampler_ratio: got {r}, expected 0.0 to 1.0"
            ));
        }
    };
    let (queued, from) = match env("OTEL_BSP_MAX_QUEUE_SIZE") {
        Some(v) => (
            v.trim().parse::<usize>().map_err(|_| {
                format!("OTEL_BSP_MAX_QUEUE_SIZE: got {v:?}, expected a number of spans")
            })?,
            "OTEL_BSP_MAX_QUEUE_SIZE",
        ),
        None => (
            t.max_queued_spans.unwrap_or(8192),
            "telemetry.max_queued_spans",
        ),
    };
    let max_queued_spans = match queued {
        n @ 64..=1_048_576 => n,
        n => {
            return Err(format!("{from}: got {n}, expected 64 to 1048576"));
        }
    };
    Ok(Some(TelemetryConfig {
        endpoint: uri,
        protocol,
        service_name: match env("OTEL_SERVICE_NAME") {
            Some(_) => None,
            None => Some(t.service_name.unwrap_or_else(|| "sluice".into())),
        },
        export_interval,
        timeout,
        headers,
        tls,
        sampler_ratio,
        max_queued_spans,
    }))
}

/// `%XX` escapes decoded (W3C baggage-style header values); anything else kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn raw(toml_text: &str) -> RawTelemetry {
        toml::from_str(toml_text).unwrap()
    }

    fn with_env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn rel(p: &Path) -> PathBuf {
        Path::new("/etc/sluice").join(p)
    }

    #[test]
    fn environment_variables_override_the_file() {
        let file = raw(r#"otlp_endpoint = "http://file:4318"
protocol = "http/protobuf"
export_interval_ms = 1000
headers = { "x-team" = "file", "x-key" = "file" }
ca = "ca.pem"
"#);
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://env:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-key=from%20env"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "250"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/run/c.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/run/c.key"),
            ("OTEL_SERVICE_NAME", "sluice-eu"),
            ("OTEL_TRACES_SAMPLER", "parentbased_always_off"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "2048"),
        ];
        let c = resolve(Some(file), &with_env(&vars), &rel)
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "https://env:4317/");
        assert_eq!(c.protocol, Protocol::Grpc);
        assert_eq!(c.export_interval, Duration::from_millis(250));
        let headers: BTreeMap<_, _> = c.headers.into_iter().collect();
        assert_eq!(headers["x-team"], "file");
        assert_eq!(headers["x-key"], "from env");
        assert_eq!(c.tls.ca_bundle, Some(PathBuf::from("/etc/sluice/ca.pem")));
        assert_eq!(c.tls.cert, Some(PathBuf::from("/run/c.pem")));
        assert_eq!(c.service_name, None, "left to the SDK's resource detector");
        assert_eq!(c.sampler_ratio, None, "left to the SDK's sampler variables");
        assert_eq!(c.max_queued_spans, 2048);
    }

    #[test]
    fn bad_values_name_their_source_and_what_was_expected() {
        let file = || Some(raw("otlp_endpoint = \"http://file:4318\"\n"));
        for (vars, want) in [
            (
                vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
                "OTEL_EXPORTER_OTLP_PROTOCOL: got \"http/json\", expected \"grpc\" or \"http/protobuf\"",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")],
                "OTEL_EXPORTER_OTLP_ENDPOINT: got \"ftp://x\"",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
                "OTEL_EXPORTER_OTLP_TIMEOUT: got \"soon\", expected milliseconds",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317")],
                "telemetry.ca: required",
            ),
        ] {
            let err = resolve(file(), &with_env(&vars), &rel).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
        let secret = resolve(
            Some(raw(
                "otlp_endpoint = \"http://c\"\nheaders = { k = \"se\\ncret\" }\n",
            )),
            &with_env(&[]),
            &rel,
        )
        .unwrap_err();
        assert!(
            !secret.contains("se\ncret"),
            "a header value is not echoed: {secret}"
        );
    }

    #[test]
    fn no_table_or_a_disabled_sdk_exports_nothing() {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")];
        assert_eq!(resolve(None, &with_env(&vars), &rel).unwrap(), None);
        let off = [("OTEL_SDK_DISABLED", "true")];
        assert_eq!(
            resolve(
                Some(raw("otlp_endpoint = \"http://c\"\n")),
                &with_env(&off),
                &rel
            )
            .unwrap(),
            None
        );
    }
}
