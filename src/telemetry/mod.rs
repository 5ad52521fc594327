//! What the broker says about itself: structured logs (text or JSON), Prometheus metrics,
//! and the typed internal events that feed both.
//!
//! Traces (OpenTelemetry, when configured) come from spans the stages open; see [`trace`].
//!
//! Every log line and metric about a message is emitted from [`events`], in one place, so it
//! can be reviewed for personal data: ids, tenants, standards, sizes and hashes only.

pub mod auth_failures;
pub mod events;
pub mod metrics;
pub mod spans;
pub mod trace;
pub mod untrusted;

use crate::config::{LogConfig, LogFormat, TelemetryConfig};
use std::io::IsTerminal;
use tracing_subscriber::filter::{FilterExt, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global log subscriber, without traces. Logs go to stderr; `RUST_LOG`
/// overrides the level.
pub fn init_logging(cfg: &LogConfig) {
    install(cfg, &trace::Tracing::off());
}

/// Installs logs and, when `[telemetry]` names an OTLP endpoint, traces. The returned
/// [`trace::Tracing`] must be shut down at the end to send the last spans.
pub fn init(
    log: &LogConfig,
    telemetry: &TelemetryConfig,
    instance: &str,
) -> Result<trace::Tracing, trace::TraceSetupError> {
    let tracing = trace::Tracing::from_config(telemetry, instance)?;
    install(log, &tracing);
    Ok(tracing)
}

fn install(cfg: &LogConfig, tracing: &trace::Tracing) {
    auth_failures::init(cfg.auth_failure_summary);
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Log lines are events only: spans belong to the traces, so a log line reads the same
    // with tracing on or off, and with tracing off no layer wants a span at all.
    let events_only = filter.and(filter_fn(|m| m.is_event()));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match cfg.format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(events_only)
            .boxed(),
        // Colours only on a terminal: in a file or a journal, escape codes are noise.
        LogFormat::Text => fmt
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(events_only)
            .boxed(),
    };
    // Only the broker's own spans and events: the exporter's HTTP/2 stack logs through
    // `tracing` too, and must not trace its own exports.
    let traces = tracing.tracer().map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(Targets::new().with_target("amtsbote", tracing::Level::INFO))
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init();
}
