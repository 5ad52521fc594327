//! Traces: one application is one trace, from the transport that brought it to the last
//! delivery attempt, across retries, replays, restarts and replicas.
//!
//! Stages open `tracing` spans (names and attributes listed in docs/operator-guide.md,
//! "Tracing"); when an OTLP endpoint is configured, `tracing-opentelemetry` turns them into
//! OpenTelemetry spans and a batch exporter sends them over gRPC or HTTP. Intake stores the
//! W3C `traceparent` of its span with the message (ledger and queue envelope); every later
//! stage — a worker in another process, after a restart, a replay — starts its span as a
//! child of that context. When tracing is off no layer wants the spans, so they are never
//! built and `traceparent` stays empty: the default costs nothing.
//!
//! Span attributes are ids, tenant, source, standard, connector, sizes and outcomes: the same
//! reviewed fields as the log lines of [`super::events`], never payload content.

use crate::config::{OtlpProtocol, TelemetryConfig};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::collections::HashMap;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The standard variable naming an OTLP endpoint when the configuration names none.
const ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The running trace pipeline; [`Tracing::shutdown`] sends what is still buffered.
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot set up the OTLP trace exporter for {endpoint}: {reason}; check [telemetry] otlp_endpoint and otlp_protocol"
)]
pub struct TraceSetupError {
    endpoint: String,
    reason: String,
}

impl Tracing {
    /// Tracing is off: spans are not built.
    pub fn off() -> Self {
        Tracing { provider: None }
    }

    /// Builds the exporter and the tracer provider as `[telemetry]` says, or nothing when no
    /// endpoint is configured. Must run inside the Tokio runtime (the gRPC channel lives there).
    pub fn from_config(cfg: &TelemetryConfig, instance: &str) -> Result<Self, TraceSetupError> {
        let env_endpoint = std::env::var(ENDPOINT_ENV)
            .ok()
            .filter(|e| !e.trim().is_empty());
        let Some(shown) = cfg.otlp_endpoint.clone().or(env_endpoint) else {
            return Ok(Tracing::off());
        };
        let failed = |reason: String| TraceSetupError {
            endpoint: shown.clone(),
            reason,
        };
        // An endpoint from the configuration is used as given (with the signal path added for
        // HTTP); one from the environment is resolved by the exporter the standard way.
        let exporter = match cfg.otlp_protocol {
            OtlpProtocol::Grpc => {
                let b = SpanExporter::builder().with_tonic();
                match &cfg.otlp_endpoint {
                    Some(e) => b.with_endpoint(e.clone()).build(),
                    None => b.build(),
                }
            }
            OtlpProtocol::Http => {
                let b = SpanExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary);
                match &cfg.otlp_endpoint {
                    Some(e) => b.with_endpoint(http_traces_url(e)).build(),
                    None => b.build(),
                }
            }
        }
        .map_err(|e| failed(e.to_string()))?;
        let mut attributes = vec![
            KeyValue::new("service.name", "amtsbote"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("service.instance.id", instance.to_string()),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ];
        attributes.extend(
            cfg.resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                cfg.sampling_ratio,
            ))))
            .with_resource(Resource::builder().with_attributes(attributes).build())
            .build();
        Ok(Tracing {
            provider: Some(provider),
        })
    }

    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// The tracer for the `tracing-opentelemetry` layer, when tracing is on.
    pub(super) fn tracer(&self) -> Option<opentelemetry_sdk::trace::SdkTracer> {
        self.provider.as_ref().map(|p| p.tracer("amtsbote"))
    }

    /// Exports the spans still buffered and stops the exporter. Called once at shutdown; it
    /// blocks (the batch exporter has its own thread), so it runs off the async workers.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "tracing: not every span could be exported at shutdown");
        }
    }
}

/// `http://collector:4318` → `http://collector:4318/v1/traces`; a full URL stays as it is.
fn http_traces_url(endpoint: &str) -> String {
    if endpoint.trim_end_matches('/').ends_with("/v1/traces") {
        endpoint.to_string()
    } else {
        format!("{}/v1/traces", endpoint.trim_end_matches('/'))
    }
}

/// The W3C `traceparent` of `span`, when tracing is on and the span is sampled or recording.
pub fn traceparent(span: &Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// The `traceparent` of the span the caller is in (for outgoing requests).
pub fn current_traceparent() -> Option<String> {
    traceparent(&Span::current())
}

/// Makes `span` a child of the stored context `traceparent` (set at intake), so that it
/// belongs to the message's trace. Call before the span is first entered. Without a stored
/// context (tracing was off at intake) the span starts a trace of its own.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    let Some(tp) = traceparent else {
        return;
    };
    let carrier = HashMap::from([("traceparent".to_string(), tp.to_string())]);
    let cx: Context = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        // Fails only when the span is disabled (tracing off): nothing to join then.
        let _ = span.set_parent(cx);
    }
}

/// The trace id (32 hex digits) of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`),
/// for the console's link into the trace UI.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let mut fields = traceparent.split('-');
    let (_version, id) = (fields.next()?, fields.next()?);
    let valid = id.len() == 32
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && id.bytes().any(|b| b != b'0');
    valid.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_come_out_of_traceparents() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id(tp), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
        let cfg = TelemetryConfig {
            trace_ui: Some("http://jaeger:16686/trace/{trace_id}".into()),
            ..Default::default()
        };
        assert_eq!(
            trace_id(tp).and_then(|id| cfg.trace_url(id)).as_deref(),
            Some("http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }

    #[test]
    fn http_endpoints_get_the_traces_path_once() {
        assert_eq!(http_traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(http_traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            http_traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }

    #[test]
    fn without_tracing_there_is_no_context() {
        // No subscriber with an OpenTelemetry layer: spans carry no trace context, and
        // joining a stored one is harmless.
        let span = tracing::info_span!("intake");
        continue_trace(
            &span,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(traceparent(&span), None);
    }
}
