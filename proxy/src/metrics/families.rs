//! The families sluice exports, each declared once with its type and help: `/metrics`, the OTLP
//! instruments and the deploy checks (alert rules, dashboard) read this list.

/// (name, type, help) of every family sluice exports.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "sluice_requests_total",
        "counter",
        "Requests answered, by listener kind and status class.",
    ),
    (
        "sluice_rejections_total",
        "counter",
        "Requests refused, by reason code.",
    ),
    (
        "sluice_disclosures_total",
        "counter",
        "Disclosures ended, by partner, contract and outcome.",
    ),
    (
        "sluice_records_total",
        "counter",
        "Records disclosed, by partner and contract.",
    ),
    (
        "sluice_fields_total",
        "counter",
        "Field occurrences by what the contract did to them.",
    ),
    (
        "sluice_bytes_total",
        "counter",
        "Body bytes filtered, in (from the source) and out (to the recipient).",
    ),
    (
        "sluice_telemetry_spans_dropped_total",
        "counter",
        "Spans the OTLP exporter lost: queue_full (the span queue was full when the span ended) or export_failed (the collector did not take the batch).",
    ),
    (
        "sluice_log_lines_dropped_total",
        "counter",
        "Log lines dropped because the reader of standard output fell behind and the log's queue was full (the proxy never waits for it).",
    ),
    (
        "http_server_request_duration_seconds",
        "histogram",
        "Time from request head to response head.",
    ),
    (
        "sluice_ledger_append_duration_seconds",
        "histogram",
        "Time for a disclosure's begin entry to become durable.",
    ),
    (
        "sluice_ledger_healthy",
        "gauge",
        "1 while the ledger can write, else 0.",
    ),
    (
        "sluice_ledger_store_lag_entries",
        "gauge",
        "Durable ledger entries not yet in the evidence store.",
    ),
    (
        "sluice_ledger_store_lag_seconds",
        "gauge",
        "While the evidence store is behind the ledger: the age in seconds of the newest entry it holds (0 when it holds them all).",
    ),
    (
        "sluice_ledger_store_connected",
        "gauge",
        "1 while the shipper is connected to the evidence store, else 0.",
    ),
    (
        "sluice_ledger_store_refused",
        "gauge",
        "1 once the evidence store refused this ledger (a fork, a rewritten entry, another key): shipping stopped.",
    ),
    (
        "sluice_certificate_expiry_days",
        "gauge",
        "Whole days until a listener certificate (or a CA it trusts) expires.",
    ),
    (
        "sluice_policy_contracts",
        "gauge",
        "Contracts in the loaded policy.",
    ),
    (
        "sluice_crl_next_update_seconds",
        "gauge",
        "Seconds until a listener's client CRL reaches its nextUpdate (negative once stale).",
    ),
    (
        "sluice_connections_refused_total",
        "counter",
        "Connections refused, by cap (listener_limit, source_limit, partner_limit).",
    ),
    (
        "sluice_shadow_bodies_total",
        "counter",
        "Bodies the shadow candidate policy saw, by contract, route and result (same, different, skipped).",
    ),
    (
        "sluice_shadow_differences_total",
        "counter",
        "What the candidate policy would do differently, by contract, route, rule path and kind.",
    ),
    (
        "sluice_connections_closed_total",
        "counter",
        "Connections sluice closed, by reason (idle, max_age, send_timeout, header_timeout, revoked, shutdown).",
    ),
];

/// The help text declared for `family` (empty for an undeclared one).
pub fn help(family: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|f| f.0 == family)
        .map(|f| f.2)
        .unwrap_or_default()
}
