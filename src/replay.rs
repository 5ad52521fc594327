//! Replay: an operator sends a dead or unrouted message round again, after fixing what was
//! wrong (the Fachverfahren, a mapping, a missing route). The message is routed anew with the
//! current configuration; `replayed` and `routed` are recorded and the queue entry created in
//! one step, so a replay is never half done.

use crate::backend::Records;
use crate::intake::DocumentFormat;
use crate::intake::schema::{self, Verdict};
use crate::ledger::{LedgerError, MessageRecord, Transition};
use crate::message::PAYLOAD_PART;
use crate::message::{MessageId, State};
use crate::payload::get_bytes;
use crate::routing::{RouteInput, RouteMatch, Router};
use amtsbote_xoev::validate::Validator;
use std::sync::Arc;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("message {0} is not in the ledger")]
    NotFound(MessageId),
    #[error(
        "message {id} is {state}; only dead, unrouted or (with --force) delivered messages can be replayed"
    )]
    NotReplayable { id: MessageId, state: State },
    #[error("message {0}: still no route matches; add a route for it first")]
    NoRoute(MessageId),
    #[error("message {id} cannot be replayed: {reason}")]
    Refused { id: MessageId, reason: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Routes a stored message with the current routing table.
pub fn route(router: &Router, m: &MessageRecord) -> Option<RouteMatch> {
    let json = DocumentFormat::Json
        == if m.content_type.contains("json") {
            DocumentFormat::Json
        } else {
            DocumentFormat::Xml
        };
    router.route(&RouteInput {
        tenant: &m.tenant,
        source: &m.source,
        header: &m.header,
        service_key: m.service_key.as_deref(),
        destination: m.destination.as_deref(),
        json,
    })
}

/// Replays one message. `force` allows replaying a delivered message (a Fachverfahren lost it).
/// The message is routed and, where its route says so, validated again with the current
/// configuration, so a parked message goes out once its schema pack is configured.
pub async fn replay(
    stores: &Records,
    router: &Router,
    validator: &Arc<Validator>,
    id: MessageId,
    actor: &str,
    force: bool,
) -> Result<RouteMatch, ReplayError> {
    let detail = stores
        .ledger
        .get(id)
        .await?
        .ok_or(ReplayError::NotFound(id))?;
    let m = detail.message;
    let replayable =
        matches!(m.state, State::Dead | State::Unrouted) || (force && m.state == State::Delivered);
    if !replayable {
        return Err(ReplayError::NotReplayable { id, state: m.state });
    }
    let target = route(router, &m).ok_or(ReplayError::NoRoute(id))?;
    if !m.content_type.contains("json") {
        let refused = |reason: String| ReplayError::Refused { id, reason };
        let document = get_bytes(stores.payloads.as_ref(), id, PAYLOAD_PART)
            .await
            .map_err(|e| refused(e.to_string()))?;
        match schema::check(validator, &target, document.into())
            .await
            .map_err(|e| refused(e.to_string()))?
        {
            Verdict::Deliver(_) => {}
            Verdict::Reject(r) => return Err(refused(r.reason)),
            Verdict::Park(reason) => return Err(refused(reason)),
        }
    }
    let span = crate::telemetry::spans::replay(id, actor, m.traceparent.as_deref());
    let mut envelope = m.envelope(&target.route, &target.connector);
    envelope.mapping = target.mapping.clone();
    if m.state == State::Delivered {
        // Forced: the Fachverfahren lost it, so it must not see this as a repeat.
        envelope.delivery_key = Some(format!("{id}.{}", crate::message::now_millis()));
    }
    stores
        .ledger
        .transitions(
            id,
            vec![
                Transition::new(
                    State::Replayed,
                    actor,
                    format!("replayed (was {})", m.state),
                ),
                Transition::new(
                    State::Routed,
                    actor,
                    format!("route {} to connector {}", target.route, target.connector),
                )
                .enqueue(envelope),
            ],
        )
        .instrument(span)
        .await
        .map_err(|e| match e {
            LedgerError::TransitionNotAllowed { from, .. } => {
                ReplayError::NotReplayable { id, state: from }
            }
            other => ReplayError::Ledger(other),
        })?;
    Ok(target)
}
