//! The Prometheus metrics of one broker process, served at `/metrics`.
//!
//! Labels are ids and enumerations only (tenant, source, connector, state, outcome); never
//! anything taken from a payload.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use std::sync::{Arc, OnceLock};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub tenant: String,
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    pub source: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    /// `accepted`, `not authentic`, `unknown destination`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    pub connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub connector: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub tenant: String,
    pub source: String,
    pub connector: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `route` or `validate` (intake and delivery have their own histograms).
    pub stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

/// One poller of a transport: a FIT-Connect destination or an XTA mailbox (source id).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollerLabels {
    pub tenant: String,
    pub source: String,
    /// `fit-connect` or `xta`.
    pub transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabels {
    pub tenant: String,
    pub source: String,
    /// The FIT-Connect destination id (a UUID the authority registered, not personal data).
    pub destination: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CredentialLabels {
    pub tenant: String,
    pub source: String,
    /// The configuration key naming it: `decryption_keys[0]`, `signing_key`,
    /// `client_certificate`.
    pub credential: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// `ledger`, `queue`, `payload_store`.
    pub check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub connector: String,
    pub status: String,
}

fn latency() -> Histogram {
    // 1 ms … ~65 s
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Received → delivered spans retries and outages: 10 ms … ~7.8 days (factor 4), so that
/// quantiles stay meaningful from a healthy second to a week-long backlog.
fn message_age() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 14))
}

const PREFIX: &str = "amtsbote";

/// Registers `metric` and notes its family for [`Metrics::encode`].
fn register(
    registry: &mut Registry,
    families: &mut Vec<(String, String, &'static str)>,
    name: &str,
    help: &str,
    metric: impl Metric,
) {
    let kind = match metric.metric_type() {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::Info => "info",
        MetricType::Unknown => "unknown",
    };
    families.push((name.to_string(), help.to_string(), kind));
    registry.register(name, help, metric);
}

pub struct Metrics {
    pub registry: Registry,
    /// Every registered family: name (without prefix), help, type.
    families: Vec<(String, String, &'static str)>,
    pub received: Family<SourceLabels, Counter>,
    pub duplicates: Family<SourceLabels, Counter>,
    pub refused: Family<RefusedLabels, Counter>,
    pub unrouted: Family<SourceLabels, Counter>,
    pub rejected: Family<SourceLabels, Counter>,
    pub callbacks: Family<CallbackLabels, Counter>,
    pub intake_seconds: Histogram,
    pub deliveries: Family<OutcomeLabels, Counter>,
    pub delivery_seconds: Family<ConnectorLabels, Histogram, fn() -> Histogram>,
    pub messages: Family<StateLabels, Gauge>,
    pub queue: Family<QueueLabels, Gauge>,
    pub queue_oldest_seconds: Family<ConnectorLabels, Gauge>,
    /// Embedded database: duration of one group commit, and jobs per group.
    pub db_commit_seconds: Histogram,
    pub db_group_jobs: Histogram,
    /// Group file-system flushes (payload store, file connector).
    pub fs_flush_seconds: Histogram,
    /// XTA: 1 while the account is let in, 0 while it is refused.
    pub xta_account_active: Family<SourceLabels, Gauge>,
    /// XTA: Unix time the account's client certificate expires.
    pub xta_certificate_expiry: Family<SourceLabels, Gauge>,
    /// XTA: failed poll rounds (transient).
    pub xta_poll_failures: Family<SourceLabels, Counter>,
    /// XTA: messages closed after intake.
    pub xta_closed: Family<SourceLabels, Counter>,
    /// XTA: messages the filter left in the mailbox at the last round.
    pub xta_left: Family<SourceLabels, Gauge>,
    /// Durations of the intake stages between parsing and storing (route, validate).
    pub stage_seconds: Family<StageLabels, Histogram, fn() -> Histogram>,
    /// Received → delivered, per connector (end to end, across retries and restarts).
    pub delivered_age_seconds: Family<ConnectorLabels, Histogram, fn() -> Histogram>,
    /// Payloads deleted after the retention period, per tenant.
    pub purged: Family<TenantLabels, Counter>,
    /// FIT-Connect: failed poll rounds per destination.
    pub fit_connect_poll_failures: Family<DestinationLabels, Counter>,
    /// Unix time of the last poll round that completed, per poller.
    pub poll_last_success: Family<PollerLabels, Gauge>,
    /// Unix time keys and certificates the configuration names expire.
    pub credential_expiry: Family<CredentialLabels, Gauge>,
    /// FIT-Connect: submissions claimed but not yet answered (accepted or rejected) at the
    /// Zustelldienst, and the age of the oldest (read at scrape time).
    pub fit_connect_open: Family<DestinationLabels, Gauge>,
    pub fit_connect_oldest_open_seconds: Family<DestinationLabels, Gauge>,
    /// 1 while a readiness check passes, 0 while it fails (set at each check).
    pub ready: Family<CheckLabels, Gauge>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let mut families = Vec::new();
        let m = Metrics {
            received: Family::default(),
            duplicates: Family::default(),
            refused: Family::default(),
            unrouted: Family::default(),
            rejected: Family::default(),
            callbacks: Family::default(),
            intake_seconds: latency(),
            deliveries: Family::default(),
            delivery_seconds: Family::new_with_constructor(latency),
            messages: Family::default(),
            queue: Family::default(),
            queue_oldest_seconds: Family::default(),
            db_commit_seconds: latency(),
            db_group_jobs: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            fs_flush_seconds: latency(),
            xta_account_active: Family::default(),
            xta_certificate_expiry: Family::default(),
            xta_poll_failures: Family::default(),
            xta_closed: Family::default(),
            xta_left: Family::default(),
            stage_seconds: Family::new_with_constructor(latency),
            delivered_age_seconds: Family::new_with_constructor(message_age),
            purged: Family::default(),
            fit_connect_poll_failures: Family::default(),
            poll_last_success: Family::default(),
            credential_expiry: Family::default(),
            fit_connect_open: Family::default(),
            fit_connect_oldest_open_seconds: Family::default(),
            ready: Family::default(),
            registry: Registry::default(),
            families: Vec::new(),
        };
        register(
            &mut registry,
            &mut families,
            "messages_received",
            "Messages accepted by intake",
            m.received.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "messages_duplicate",
            "Repeated transport ids, ignored",
            m.duplicates.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "intake_refused",
            "Requests refused by intake before anything was stored",
            m.refused.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "messages_rejected",
            "Messages kept as rejected because they violate their schema",
            m.rejected.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "fit_connect_callbacks",
            "FIT-Connect callbacks by outcome (refused ones are not authentic or for unknown destinations)",
            m.callbacks.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "messages_unrouted",
            "Messages no route matched",
            m.unrouted.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "intake_duration_seconds",
            "Time from request to durable",
            m.intake_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "delivery_attempts",
            "Delivery attempts by outcome (delivered, retry, dead)",
            m.deliveries.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "delivery_duration_seconds",
            "Duration of one delivery attempt",
            m.delivery_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "messages",
            "Messages in the ledger by tenant, connector and state",
            m.messages.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "queue_entries",
            "Queue entries by connector and status (ready, delayed, leased, dead)",
            m.queue.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "queue_oldest_age_seconds",
            "Age of the oldest waiting queue entry",
            m.queue_oldest_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "db_commit_duration_seconds",
            "Embedded database: time of one group commit (writes + fsync)",
            m.db_commit_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "db_group_jobs",
            "Embedded database: write jobs per group commit",
            m.db_group_jobs.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "fs_flush_duration_seconds",
            "Time of one group flush of a file system (syncfs)",
            m.fs_flush_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "xta_account_active",
            "XTA: 1 while the XTA server lets the account in, 0 while it refuses it (permission fault or client certificate refused)",
            m.xta_account_active.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "xta_client_certificate_expiry_timestamp_seconds",
            "XTA: when the account's client certificate expires (Unix time)",
            m.xta_certificate_expiry.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "xta_poll_failures",
            "XTA: poll rounds that failed for a transient reason (retried with backoff)",
            m.xta_poll_failures.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "xta_messages_closed",
            "XTA: messages closed at the XTA server after intake made them durable",
            m.xta_closed.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "xta_messages_left",
            "XTA: messages the source's filter left in the mailbox at the last poll round",
            m.xta_left.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "stage_duration_seconds",
            "Duration of an intake stage (route, validate); intake and delivery attempts have their own histograms",
            m.stage_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "message_delivered_age_seconds",
            "End to end: time from receipt to delivery, across retries and restarts",
            m.delivered_age_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "messages_purged",
            "Payloads deleted after the tenant's retention period (ledger row kept, state purged)",
            m.purged.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "fit_connect_poll_failures",
            "FIT-Connect: poll rounds that failed (Zustelldienst unreachable, token refused, ledger), retried with backoff",
            m.fit_connect_poll_failures.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "poll_last_success_timestamp_seconds",
            "When a FIT-Connect destination or XTA mailbox was last polled successfully (Unix time)",
            m.poll_last_success.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "credential_expiry_timestamp_seconds",
            "When a configured key's or client certificate's certificate expires (Unix time)",
            m.credential_expiry.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "fit_connect_open_submissions",
            "FIT-Connect: submissions taken from the Zustelldienst but not yet accepted or rejected there",
            m.fit_connect_open.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "fit_connect_oldest_open_submission_age_seconds",
            "FIT-Connect: age of the oldest submission not yet accepted or rejected (since first seen)",
            m.fit_connect_oldest_open_seconds.clone(),
        );
        register(
            &mut registry,
            &mut families,
            "ready",
            "1 while a readiness check (ledger, queue, payload_store) passes, 0 while it fails",
            m.ready.clone(),
        );
        // The stores opened before anything is served, so each check starts as passed; a
        // failure is then a change worth a log line (see `ReadinessChecked`).
        for check in ["ledger", "queue", "payload_store"] {
            m.ready
                .get_or_create(&CheckLabels {
                    check: check.into(),
                })
                .set(1);
        }
        Metrics {
            registry,
            families,
            ..m
        }
    }

    /// The exposition, OpenMetrics text. Families without a series yet (no dead letter so
    /// far, no XTA source configured) are described all the same, so that every metric the
    /// broker has is visible from its first scrape — and dashboards and alert rules can be
    /// checked against a fresh broker.
    pub fn encode(&self) -> String {
        use prometheus_client::encoding::text;
        use std::fmt::Write;
        let mut out = String::new();
        text::encode_registry(&mut out, &self.registry).expect("writing to a String cannot fail");
        for (name, help, kind) in &self.families {
            if !out.contains(&format!("# TYPE {PREFIX}_{name} ")) {
                // As the registry writes descriptors: help text with a full stop.
                let _ = write!(
                    out,
                    "# HELP {PREFIX}_{name} {help}.\n# TYPE {PREFIX}_{name} {kind}\n"
                );
            }
        }
        text::encode_eof(&mut out).expect("writing to a String cannot fail");
        out
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Arc<Metrics> {
    static METRICS: OnceLock<Arc<Metrics>> = OnceLock::new();
    METRICS.get_or_init(|| Arc::new(Metrics::new()))
}
