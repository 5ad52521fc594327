//! The `[telemetry]` section: where the broker sends its traces (OpenTelemetry, OTLP) and how
//! operators get from a message to its trace. Logs and metrics are configured in `[log]` and
//! served on `/metrics`; this section is only about traces.

use serde::Deserialize;
use std::collections::BTreeMap;

/// OpenTelemetry tracing. Off unless an OTLP endpoint is configured here or in the standard
/// `OTEL_EXPORTER_OTLP_ENDPOINT` environment variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// The OTLP receiver (an OpenTelemetry collector, Jaeger, Tempo), e.g.
    /// `http://otel-collector:4317` for gRPC or `http://otel-collector:4318` for HTTP (the
    /// path `/v1/traces` is added when missing). Unset: `OTEL_EXPORTER_OTLP_ENDPOINT`, and
    /// without that, tracing is off.
    pub otlp_endpoint: Option<String>,
    /// `grpc` (OTLP over gRPC, port 4317) or `http` (OTLP over HTTP with protobuf, port 4318).
    pub otlp_protocol: OtlpProtocol,
    /// Share of new traces recorded, 0.0 to 1.0. A message's later spans (deliveries, retries,
    /// replays) follow the decision made at intake, so a trace is kept whole or not at all.
    pub sampling_ratio: f64,
    /// Resource attributes added to every span, e.g. `"deployment.environment" = "prod"`.
    /// `service.name` (default `amtsbote`) and `service.instance.id` (the replica id) are set
    /// by the broker; a key given here wins.
    pub resource: BTreeMap<String, String>,
    /// Link from a message to its trace in a trace UI; `{trace_id}` is replaced, e.g.
    /// `http://jaeger:16686/trace/{trace_id}` or a Grafana Tempo explore URL.
    pub trace_ui: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            otlp_protocol: OtlpProtocol::Grpc,
            sampling_ratio: 1.0,
            resource: BTreeMap::new(),
            trace_ui: None,
        }
    }
}

impl TelemetryConfig {
    /// What `amtsbote check` (and a start) refuses in this section.
    pub fn problems(&self) -> Vec<super::ConfigError> {
        let mut errors = Vec::new();
        let mut err = |key: &str, reason: String| {
            errors.push(super::ConfigError::new(None, Some(key.into()), reason))
        };
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            err(
                "telemetry.sampling_ratio",
                format!(
                    "{} is not a share: give a number from 0.0 (no traces) to 1.0 (every message)",
                    self.sampling_ratio
                ),
            );
        }
        if let Some(e) = &self.otlp_endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            err(
                "telemetry.otlp_endpoint",
                format!("`{e}` is not an http:// or https:// URL, e.g. http://otel-collector:4317"),
            );
        }
        if let Some(t) = &self.trace_ui
            && !t.contains("{trace_id}")
        {
            err(
                "telemetry.trace_ui",
                format!("`{t}` has no `{{trace_id}}` placeholder for the trace id"),
            );
        }
        errors
    }

    /// The link to a trace in the configured trace UI, if one is configured.
    pub fn trace_url(&self, trace_id: &str) -> Option<String> {
        self.trace_ui
            .as_ref()
            .map(|t| t.replace("{trace_id}", trace_id))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    Grpc,
    Http,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let t = TelemetryConfig {
            otlp_endpoint: Some("collector:4317".into()),
            sampling_ratio: 1.5,
            trace_ui: Some("http://jaeger/trace/".into()),
            ..Default::default()
        };
        let keys: Vec<String> = t.problems().iter().map(|e| e.to_string()).collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        for key in ["sampling_ratio", "otlp_endpoint", "trace_ui"] {
            assert!(keys.iter().any(|k| k.contains(key)), "{key}: {keys:?}");
        }
        assert!(TelemetryConfig::default().problems().is_empty());
    }

    #[test]
    fn trace_links_fill_in_the_trace_id() {
        let mut t = TelemetryConfig::default();
        assert_eq!(t.trace_url("abc"), None, "no trace UI configured");
        t.trace_ui = Some("http://jaeger:16686/trace/{trace_id}".into());
        assert_eq!(
            t.trace_url("4bf92f3577b34da6a3ce929d0e0e4736").as_deref(),
            Some("http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }
}
