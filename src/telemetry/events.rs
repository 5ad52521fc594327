//! Typed internal events: everything the broker logs or counts about messages, in one place.
//!
//! Each event is a struct with an `emit` method that writes one structured log line and
//! updates the metrics. Fields are ids, tenants, sources, connectors, standards, sizes,
//! durations and reasons the broker itself wrote — never payload content, never a secret.

use super::auth_failures::{self, Endpoint};
use super::metrics::{
    CheckLabels, ConnectorLabels, CredentialLabels, DestinationLabels, OutcomeLabels, PollerLabels,
    RefusedLabels, SourceLabels, StageLabels, TenantLabels, metrics,
};
use super::untrusted::{Detail, Untrusted};
use crate::message::{MessageId, State};
use std::net::IpAddr;
use std::time::Duration;

pub struct MessageAdmitted<'a> {
    pub id: MessageId,
    pub tenant: &'a str,
    pub source: &'a str,
    pub standard: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub size: u64,
    pub parts: usize,
    pub connector: Option<&'a str>,
    /// The state intake left it in: routed, unrouted, rejected (schema) or dead (parked).
    pub state: State,
    pub elapsed: Duration,
}

impl MessageAdmitted<'_> {
    pub fn emit(&self) {
        tracing::info!(
            message_id = %self.id, tenant = self.tenant, source = self.source,
            standard = %Untrusted(self.standard.unwrap_or("-")), message_type = %Untrusted(self.message_type.unwrap_or("-")),
            size = self.size, parts = self.parts, connector = self.connector.unwrap_or("-"),
            elapsed_ms = self.elapsed.as_millis() as u64,
            "message received"
        );
        let m = metrics();
        m.received
            .get_or_create(&SourceLabels {
                tenant: self.tenant.into(),
                source: self.source.into(),
            })
            .inc();
        m.intake_seconds.observe(self.elapsed.as_secs_f64());
        let labels = SourceLabels {
            tenant: self.tenant.into(),
            source: self.source.into(),
        };
        match self.state {
            State::Unrouted => {
                m.unrouted.get_or_create(&labels).inc();
                tracing::warn!(
                    message_id = %self.id, tenant = self.tenant,
                    standard = %Untrusted(self.standard.unwrap_or("-")), message_type = %Untrusted(self.message_type.unwrap_or("-")),
                    "message unrouted: no route matches; it is kept — add a route and run `amtsbote replay`"
                );
            }
            State::Rejected => {
                m.rejected.get_or_create(&labels).inc();
                tracing::warn!(
                    message_id = %self.id, tenant = self.tenant,
                    standard = %Untrusted(self.standard.unwrap_or("-")), message_type = %Untrusted(self.message_type.unwrap_or("-")),
                    "message rejected (schema violation, content intake cannot take, or a failed transport check); kept as rejected — see `amtsbote messages show`; whether the sender learns of it depends on the transport (the source's own log line says)"
                );
            }
            State::Dead => {
                tracing::warn!(
                    message_id = %self.id, tenant = self.tenant, connector = self.connector.unwrap_or("-"),
                    "message parked: no schema to validate against; see `amtsbote messages show`, then replay"
                );
            }
            _ => {}
        }
    }
}

pub struct DuplicateIgnored<'a> {
    pub id: MessageId,
    pub tenant: &'a str,
    pub source: &'a str,
}

impl DuplicateIgnored<'_> {
    pub fn emit(&self) {
        tracing::info!(message_id = %self.id, tenant = self.tenant, source = self.source,
            "repeated transport id: already received, ignored");
        metrics()
            .duplicates
            .get_or_create(&SourceLabels {
                tenant: self.tenant.into(),
                source: self.source.into(),
            })
            .inc();
    }
}

/// A request refused before anything was stored (bad input, auth, size).
pub struct IntakeRefused<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub status: u16,
    /// Short machine-readable kind, e.g. `malformed-xml`, `too-large`, `unauthorized`.
    pub kind: &'a str,
    /// Our own description (parser position and rule), never document content.
    pub detail: &'a str,
}

impl IntakeRefused<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            tenant = %Untrusted(self.tenant),
            source = self.source,
            status = self.status,
            kind = self.kind,
            detail = %Detail(self.detail),
            "intake refused a request; nothing was stored"
        );
        metrics()
            .refused
            .get_or_create(&RefusedLabels {
                source: self.source.into(),
                reason: self.kind.into(),
            })
            .inc();
    }
}

/// A request at the public edge that did not authenticate (intake: no, unknown or
/// unauthorised token, unknown tenant; FIT-Connect callback: forged, stale or replayed).
/// Counted each time; logged as the client's first failure or in a periodic summary (see
/// [`super::auth_failures`]), so that failing requests cannot flood the log.
pub struct AuthFailed<'a> {
    pub endpoint: Endpoint,
    /// The TCP peer, if known.
    pub client: Option<IpAddr>,
    /// The tenant the request named (sender-controlled; escaped and cut here).
    pub tenant: &'a str,
    /// The source the token belongs to, `-` if none.
    pub source: &'a str,
    /// Short kind for the summary, e.g. `unknown token`.
    pub kind: &'static str,
    /// The broker's own description.
    pub detail: &'a str,
}

impl AuthFailed<'_> {
    pub fn emit(&self) {
        let tenant = Untrusted(self.tenant).to_string();
        let detail = format!("{} (source {})", self.detail, self.source);
        auth_failures::log_failure(self.endpoint, self.client, &tenant, self.kind, &detail);
        if self.endpoint == Endpoint::Intake {
            metrics()
                .refused
                .get_or_create(&RefusedLabels {
                    source: self.source.into(),
                    reason: "unauthorized".into(),
                })
                .inc();
        }
    }
}

/// How long the intake stages between parsing and storing took for one message. Metrics
/// only: the message's own log line is [`MessageAdmitted`].
pub struct IntakeStagesTimed {
    pub route: Duration,
    /// `None` when no schema validation ran (JSON, unrouted).
    pub validate: Option<Duration>,
}

impl IntakeStagesTimed {
    pub fn emit(&self) {
        let m = metrics();
        let stages = [("route", Some(self.route)), ("validate", self.validate)];
        for (stage, took) in stages {
            if let Some(took) = took {
                m.stage_seconds
                    .get_or_create(&StageLabels {
                        stage: stage.into(),
                    })
                    .observe(took.as_secs_f64());
            }
        }
    }
}

pub struct DeliverySucceeded<'a> {
    pub id: MessageId,
    pub connector: &'a str,
    pub attempt: u32,
    pub elapsed: Duration,
    /// When the broker received the message (Unix ms), for the end-to-end age.
    pub received_at: i64,
}

impl DeliverySucceeded<'_> {
    pub fn emit(&self) {
        let age_ms = (crate::message::now_millis() - self.received_at).max(0);
        tracing::info!(message_id = %self.id, connector = self.connector, attempt = self.attempt,
            elapsed_ms = self.elapsed.as_millis() as u64, age_ms, "delivered");
        outcome(self.connector, "delivered", self.elapsed);
        metrics()
            .delivered_age_seconds
            .get_or_create(&ConnectorLabels {
                connector: self.connector.into(),
            })
            .observe(age_ms as f64 / 1000.0);
    }
}

pub struct DeliveryWillRetry<'a> {
    pub id: MessageId,
    pub connector: &'a str,
    pub attempt: u32,
    pub elapsed: Duration,
    pub delay: Duration,
    /// The connector's loggable reason (no response content).
    pub reason: &'a str,
}

impl DeliveryWillRetry<'_> {
    pub fn emit(&self) {
        tracing::warn!(message_id = %self.id, connector = self.connector, attempt = self.attempt,
            retry_in_ms = self.delay.as_millis() as u64, reason = self.reason,
            "delivery failed transiently; will retry");
        outcome(self.connector, "retry", self.elapsed);
    }
}

pub struct DeliveryDead<'a> {
    pub id: MessageId,
    pub connector: &'a str,
    pub attempt: u32,
    pub elapsed: Duration,
    pub reason: &'a str,
}

impl DeliveryDead<'_> {
    pub fn emit(&self) {
        tracing::error!(message_id = %self.id, connector = self.connector, attempt = self.attempt,
            reason = self.reason,
            "delivery failed for good; message is dead — see `amtsbote messages show`, fix, then `amtsbote replay`");
        outcome(self.connector, "dead", self.elapsed);
    }
}

fn outcome(connector: &str, outcome: &str, elapsed: Duration) {
    let m = metrics();
    m.deliveries
        .get_or_create(&OutcomeLabels {
            connector: connector.into(),
            outcome: outcome.into(),
        })
        .inc();
    m.delivery_seconds
        .get_or_create(&ConnectorLabels {
            connector: connector.into(),
        })
        .observe(elapsed.as_secs_f64());
}

/// Something in the worker runtime went wrong that is not about one delivery's outcome.
pub struct WorkerTrouble<'a> {
    pub connector: &'a str,
    pub id: Option<MessageId>,
    pub what: &'a str,
    pub error: &'a str,
}

impl WorkerTrouble<'_> {
    pub fn emit(&self) {
        match self.id {
            Some(id) => {
                tracing::error!(connector = self.connector, message_id = %id, error = self.error, "{}", self.what)
            }
            None => tracing::error!(
                connector = self.connector,
                error = self.error,
                "{}",
                self.what
            ),
        }
    }
}

pub struct MessagePurged<'a> {
    pub id: MessageId,
    pub tenant: &'a str,
    pub parts: usize,
    /// The retention period that applied (the tenant's, or `storage.retention`).
    pub retention: Duration,
}

impl MessagePurged<'_> {
    pub fn emit(&self) {
        tracing::info!(message_id = %self.id, tenant = self.tenant, parts = self.parts,
            retention = %humantime::format_duration(self.retention),
            "payload purged after the retention period");
        metrics()
            .purged
            .get_or_create(&TenantLabels {
                tenant: self.tenant.into(),
            })
            .inc();
    }
}

/// A poll round of a FIT-Connect destination or an XTA mailbox completed.
pub struct PollSucceeded<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    /// `fit-connect` or `xta`.
    pub transport: &'static str,
}

impl PollSucceeded<'_> {
    pub fn emit(&self) {
        tracing::debug!(
            tenant = self.tenant,
            source = self.source,
            transport = self.transport,
            "poll round completed"
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        metrics()
            .poll_last_success
            .get_or_create(&PollerLabels {
                tenant: self.tenant.into(),
                source: self.source.into(),
                transport: self.transport.into(),
            })
            .set(now);
    }
}

/// A FIT-Connect poll round failed (Zustelldienst unreachable, token refused, ledger).
pub struct FitConnectPollFailed<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub destination: &'a str,
    /// The client's error (status, problem type; never submission content).
    pub error: &'a str,
    pub retry_in: Duration,
}

impl FitConnectPollFailed<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            source = self.source,
            destination = self.destination,
            error = self.error,
            retry_in_s = self.retry_in.as_secs(),
            "FIT-Connect: polling failed; will try again"
        );
        metrics()
            .fit_connect_poll_failures
            .get_or_create(&DestinationLabels {
                tenant: self.tenant.into(),
                source: self.source.into(),
                destination: self.destination.into(),
            })
            .inc();
    }
}

/// What a source's key or client certificate is good until, said once at start. Keys
/// without a certificate (a bare JWK or PEM key) have no expiry and are not reported.
pub struct CredentialExpiry<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    /// The configuration key naming it, e.g. `decryption_keys[0]`.
    pub credential: &'a str,
    /// Unix time the certificate's validity ends.
    pub expires_at: i64,
}

/// Below this, a certificate is worth a warning at start (and the alert fires).
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 86_400);

impl CredentialExpiry<'_> {
    pub fn emit(&self) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let at = crate::message::format_millis(self.expires_at.saturating_mul(1000));
        if self.expires_at - now < EXPIRY_WARNING.as_secs() as i64 {
            tracing::warn!(tenant = self.tenant, source = self.source, credential = self.credential,
                expires_at = %at,
                "a certificate expires within 30 days (or has expired): obtain a new one and configure it before then");
        } else {
            tracing::info!(tenant = self.tenant, source = self.source, credential = self.credential,
                expires_at = %at, "certificate validity");
        }
        metrics()
            .credential_expiry
            .get_or_create(&CredentialLabels {
                tenant: self.tenant.into(),
                source: self.source.into(),
                credential: self.credential.into(),
            })
            .set(self.expires_at);
    }
}

/// The result of one readiness check (`/readyz` and every scrape). Logged only when it
/// changes, so that a probe every few seconds does not fill the log.
pub struct ReadinessChecked<'a> {
    /// `ledger`, `queue`, `payload_store`.
    pub check: &'static str,
    /// `None` when it passed; otherwise the broker's own description (no URLs, no secrets).
    pub failure: Option<&'a str>,
}

impl ReadinessChecked<'_> {
    pub fn emit(&self) {
        let gauge = metrics().ready.get_or_create(&CheckLabels {
            check: self.check.into(),
        });
        let was = gauge.set(i64::from(self.failure.is_none()));
        match self.failure {
            Some(error) if was != 0 => tracing::error!(
                check = self.check,
                error,
                "not ready: the {} cannot be used; intake and delivery wait until it can",
                self.check
            ),
            None if was == 0 => tracing::info!(
                check = self.check,
                "ready again: the {} answers",
                self.check
            ),
            _ => {}
        }
    }
}

/// An operator changed a message through the admin API (replay, resolve, purge).
pub struct OperatorActed<'a> {
    pub id: MessageId,
    /// `operator:<token name>`.
    pub actor: &'a str,
    /// `replayed`, `resolved`, `purged`.
    pub action: &'static str,
}

impl OperatorActed<'_> {
    pub fn emit(&self) {
        tracing::info!(message_id = %self.id, actor = self.actor, action = self.action,
            "operator changed a message through the admin API");
    }
}

/// An admin API caller was let in but may not do what they asked (a viewer writing).
pub struct AdminForbidden<'a> {
    pub token: &'a str,
    pub action: &'static str,
}

impl AdminForbidden<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            token = self.token,
            action = self.action,
            "admin API: refused, the token's role is viewer; writes need an operator token"
        );
    }
}

/// Labels of an XTA source.
fn xta_labels(tenant: &str, source: &str) -> SourceLabels {
    SourceLabels {
        tenant: tenant.into(),
        source: source.into(),
    }
}

/// The XTA server let the account in (`checkAccountActive` succeeded).
pub struct XtaAccountActive<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub reader: &'a str,
    /// It had been refused before.
    pub recovered: bool,
    /// Unix time the client certificate expires.
    pub certificate_expires_at: i64,
}

impl XtaAccountActive<'_> {
    pub fn emit(&self) {
        if self.recovered {
            tracing::info!(
                tenant = self.tenant,
                source = self.source,
                reader = self.reader,
                "XTA account usable again; polling resumes"
            );
        } else {
            tracing::info!(
                tenant = self.tenant,
                source = self.source,
                reader = self.reader,
                "XTA account active; polling the mailbox"
            );
        }
        let m = metrics();
        let labels = xta_labels(self.tenant, self.source);
        m.xta_account_active.get_or_create(&labels).set(1);
        m.xta_certificate_expiry
            .get_or_create(&labels)
            .set(self.certificate_expires_at);
    }
}

/// The XTA server refuses the account (permission fault 9010–9014, or the TLS handshake
/// refused the client certificate): polling this account stops until a later
/// `checkAccountActive` succeeds. Said once per refusal, not every re-check.
pub struct XtaAccountRefused<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub reader: &'a str,
    /// The client's error (operation, fault code, advice; never the server's free text).
    pub error: &'a str,
    pub recheck_in: Duration,
}

impl XtaAccountRefused<'_> {
    pub fn emit(&self) {
        tracing::error!(
            tenant = self.tenant,
            source = self.source,
            reader = self.reader,
            error = self.error,
            recheck_in_s = self.recheck_in.as_secs(),
            "XTA account refused: polling of this mailbox stopped; its messages stay at the XTA server. Check the client certificate (validity, issuer, password) and the account with the XTA provider; the broker re-checks with checkAccountActive"
        );
        metrics()
            .xta_account_active
            .get_or_create(&xta_labels(self.tenant, self.source))
            .set(0);
    }
}

/// A poll round failed for a reason worth retrying (XTA technical fault 9030–9032, HTTP 5xx,
/// timeout, connection, storage).
pub struct XtaPollFailed<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub error: &'a str,
    pub retry_in: Duration,
}

impl XtaPollFailed<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            tenant = self.tenant,
            source = self.source,
            error = self.error,
            retry_in_ms = self.retry_in.as_millis() as u64,
            "XTA: polling failed; will try again"
        );
        metrics()
            .xta_poll_failures
            .get_or_create(&xta_labels(self.tenant, self.source))
            .inc();
    }
}

/// A message fetched from an XTA mailbox is durable here and was closed at the server.
pub struct XtaMessageClosed<'a> {
    pub id: MessageId,
    pub tenant: &'a str,
    pub source: &'a str,
    /// The XTA MessageID.
    pub transport_id: &'a str,
    /// Bytes of content and attachments (0 when it was known already and not fetched again).
    pub size: u64,
    /// Known from an earlier fetch (a crash before close): only closed now.
    pub repeat: bool,
}

impl XtaMessageClosed<'_> {
    pub fn emit(&self) {
        tracing::info!(message_id = %self.id, tenant = self.tenant, source = self.source,
            xta_message_id = %Untrusted(self.transport_id), size = self.size, repeat = self.repeat,
            "XTA: message stored and closed at the XTA server");
        metrics()
            .xta_closed
            .get_or_create(&xta_labels(self.tenant, self.source))
            .inc();
    }
}

/// An XTA message kept as rejected and closed at the server. Says exactly what the sender
/// got: nothing — XTA 2 v3/v4 gives a mailbox reader no way to refuse a message, and the
/// author's transport report shows it as fetched.
pub struct XtaMessageRejected<'a> {
    pub id: MessageId,
    pub tenant: &'a str,
    pub source: &'a str,
    /// The XTA MessageID.
    pub transport_id: &'a str,
    /// The author's party identifier (`prefix:kennung`, an authority, not a person).
    pub author: &'a str,
}

impl XtaMessageRejected<'_> {
    pub fn emit(&self) {
        tracing::warn!(message_id = %self.id, tenant = self.tenant, source = self.source,
            xta_message_id = %Untrusted(self.transport_id), author = %Untrusted(self.author),
            "XTA: message rejected, kept in the ledger as rejected and closed at the XTA server; no report was sent to the author (XTA 2 offers a reader none; the author's transport report shows it as fetched) — tell the author yourself, see `amtsbote messages show`");
    }
}

/// Messages in the mailbox this source's filter leaves for others (not downloaded).
pub struct XtaMessagesLeft<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub count: u64,
}

impl XtaMessagesLeft<'_> {
    pub fn emit(&self) {
        tracing::debug!(
            tenant = self.tenant,
            source = self.source,
            count = self.count,
            "XTA: messages left in the mailbox (the source's filter does not take them)"
        );
        metrics()
            .xta_left
            .get_or_create(&xta_labels(self.tenant, self.source))
            .set(self.count as i64);
    }
}
