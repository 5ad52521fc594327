//! The spans the stages open, in one place like the log events in [`super::events`]: each
//! function names a span and its attributes, so what a trace says about a message can be
//! reviewed here for personal data. Attributes are ids, tenant, source, standard, message
//! type, connector, sizes, attempt numbers and outcomes — never payload content, file names
//! or anything else from inside a document.
//!
//! A span that starts a message's trace (the transport fetching or receiving it) has no
//! parent; a span that belongs to a message received earlier (a delivery attempt, a replay,
//! the answer to the sender) continues the trace stored with it ([`super::trace`]).

use super::trace::continue_trace;
use super::untrusted::Untrusted;
use crate::message::{Envelope, MessageId, State, XoevHeader};
use tracing::Span;
use tracing::field::Empty;

/// `POST /api/v1/tenants/{tenant}/messages`, after authentication: starts the trace.
pub fn http_receive(tenant: &str, source: &str, declared_bytes: Option<u64>) -> Span {
    tracing::info_span!(parent: None, "inbound.http",
        otel.kind = "server", tenant, source, declared_bytes, outcome = Empty)
}

/// Records the HTTP status intake answered with.
pub fn record_http_status(span: &Span, status: u16) {
    span.record("outcome", status);
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
}

/// One FIT-Connect poll round of a destination (listing, then the submissions): a trace of
/// its own; each submission starts its own trace ([`fit_connect_submission`]).
pub fn fit_connect_poll(source: &str, destination: &str) -> Span {
    tracing::info_span!(parent: None, "inbound.fit_connect.poll", source, destination)
}

/// Fetching one FIT-Connect submission (and its attachments) from the Zustelldienst: starts
/// the application's trace.
pub fn fit_connect_submission(tenant: &str, source: &str, submission_id: &str) -> Span {
    tracing::info_span!(parent: None, "inbound.fit_connect.fetch",
        otel.kind = "consumer", tenant, source, submission_id, attachments = Empty)
}

/// Decrypting and verifying a FIT-Connect submission (JWE, hashes, authentication tags).
pub fn decrypt_verify(attachments: usize) -> Span {
    tracing::info_span!("decrypt_verify", attachments, outcome = Empty)
}

/// Answering a FIT-Connect sender (`accept-submission` / `reject-submission`), in the trace of
/// the message it answers for.
pub fn fit_connect_answer(
    id: MessageId,
    source: &str,
    answer: &'static str,
    traceparent: Option<&str>,
) -> Span {
    let span = tracing::info_span!(parent: None, "status.fit_connect",
        otel.kind = "producer", message_id = %id, source, answer);
    continue_trace(&span, traceparent);
    span
}

/// How a check ended (`verified`, `rejected`), on its span.
pub fn record_outcome(span: &Span, outcome: &'static str) {
    span.record("outcome", outcome);
}

/// One XTA round of a mailbox: the status list and its pages.
pub fn xta_list(source: &str) -> Span {
    tracing::info_span!(parent: None, "inbound.xta.list", source)
}

/// One XTA message: fetched and taken in (a new trace), or, when the ledger knows it from
/// before a crash, only closed (in the stored trace).
pub fn xta_message(
    tenant: &str,
    source: &str,
    transport_id: &str,
    known: Option<(MessageId, Option<&str>)>,
) -> Span {
    let span = tracing::info_span!(parent: None, "inbound.xta.fetch",
        otel.kind = "consumer", tenant, source, xta_message_id = %Untrusted(transport_id),
        message_id = Empty, size = Empty, repeat = known.is_some());
    if let Some((id, traceparent)) = known {
        span.record("message_id", tracing::field::display(id));
        continue_trace(&span, traceparent);
    }
    span
}

/// Closing an XTA message at the server: the reader's receipt, the only answer XTA 2 has.
pub fn xta_close() -> Span {
    tracing::info_span!("status.xta", otel.kind = "producer")
}

/// Intake of one message: child of the transport's span, parent of every later span of the
/// message (its context is what the ledger stores).
pub fn intake(id: MessageId, tenant: &str, source: &str) -> Span {
    tracing::info_span!("intake", message_id = %id, tenant, source,
        standard = Empty, message_type = Empty, size = Empty, parts = Empty,
        connector = Empty, state = Empty)
}

/// What intake decided, on its span.
pub fn record_intake(
    span: &Span,
    header: Option<&XoevHeader>,
    size: u64,
    parts: usize,
    connector: Option<&str>,
    state: State,
) {
    if let Some(h) = header {
        span.record(
            "standard",
            tracing::field::display(Untrusted(h.standard.as_deref().unwrap_or("-"))),
        );
        span.record(
            "message_type",
            tracing::field::display(Untrusted(h.message_type.as_deref().unwrap_or("-"))),
        );
    }
    span.record("size", size);
    span.record("parts", parts as u64);
    if let Some(c) = connector {
        span.record("connector", c);
    }
    span.record("state", state.as_str());
}

/// The document check: well-formed XML or JSON within limits, the XÖV header sniffed.
pub fn validate(size: usize) -> Span {
    tracing::info_span!("validate", size)
}

/// The XSD check against the route's schema pack.
pub fn validate_schema() -> Span {
    tracing::info_span!("validate.schema")
}

/// The routing decision.
pub fn route() -> Span {
    tracing::info_span!("route", route = Empty, connector = Empty)
}

pub fn record_route(span: &Span, route: Option<(&str, &str)>) {
    if let Some((route, connector)) = route {
        span.record("route", route);
        span.record("connector", connector);
    }
}

/// Storing the main document, encrypted, in the payload store.
pub fn store(size: usize) -> Span {
    tracing::info_span!("store", size)
}

/// The ledger row and the queue entry, written in one transaction.
pub fn enqueue(connector: Option<&str>) -> Span {
    tracing::info_span!("enqueue", connector = connector.unwrap_or("-"))
}

/// One delivery attempt of a worker, in the message's trace whichever process runs it.
pub fn delivery(env: &Envelope, attempt: u32) -> Span {
    let span = tracing::info_span!(parent: None, "delivery",
        otel.kind = "client", message_id = %env.message_id, tenant = %env.tenant,
        source = %env.source, route = %env.route, connector = %env.connector, attempt,
        standard = %Untrusted(env.header.standard.as_deref().unwrap_or("-")),
        message_type = %Untrusted(env.header.message_type.as_deref().unwrap_or("-")),
        size = env.parts.iter().map(|p| p.size).sum::<u64>(), outcome = Empty,
        otel.status_code = Empty);
    continue_trace(&span, env.traceparent.as_deref());
    span
}

/// How a delivery attempt ended: `delivered`, `retrying` or `dead`.
pub fn record_delivery(span: &Span, outcome: State) {
    span.record("outcome", outcome.as_str());
    span.record(
        "otel.status_code",
        if outcome == State::Delivered {
            "ok"
        } else {
            "error"
        },
    );
}

/// An operator sending a message round again, in the message's trace.
pub fn replay(id: MessageId, actor: &str, traceparent: Option<&str>) -> Span {
    let span = tracing::info_span!(parent: None, "replay", message_id = %id, actor);
    continue_trace(&span, traceparent);
    span
}
