//! The OpenTelemetry names and units of sluice's metric families.
//!
//! `/metrics` uses Prometheus names (`sluice_disclosures_total`,
//! `http_server_request_duration_seconds`); OTLP gets the same families under OpenTelemetry
//! names (`sluice.disclosures`, `http.server.request.duration` in `s`), as the semantic
//! conventions write them.

/// The OpenTelemetry name and unit of a Prometheus family:
/// `http_server_request_duration_seconds` → (`http.server.request.duration`, `s`).
pub fn otel_name(family: &str) -> (String, &'static str) {
    let (base, unit) = if let Some(b) = family.strip_suffix("_seconds") {
        (b, "s")
    } else if let Some(b) = family.strip_suffix("_total") {
        (b, if b == "sluice_bytes" { "By" } else { "1" })
    } else {
        (family, "1")
    };
    (base.replace('_', "."), unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_families_map_to_otel_names_and_units() {
        assert_eq!(
            otel_name("http_server_request_duration_seconds"),
            ("http.server.request.duration".to_string(), "s")
        );
        assert_eq!(
            otel_name("sluice_disclosures_total"),
            ("sluice.disclosures".to_string(), "1")
        );
        assert_eq!(
            otel_name("sluice_bytes_total"),
            ("sluice.bytes".to_string(), "By")
        );
        assert_eq!(
            otel_name("sluice_ledger_healthy"),
            ("sluice.ledger.healthy".to_string(), "1")
        );
    }
}
