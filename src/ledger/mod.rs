//! The ledger: one row per message and an append-only, hash-chained history of its states.
//!
//! Every state change in the broker goes through here (one door), and the ledger refuses
//! transitions the state machine does not allow ([`State::can_become`]). The history is the
//! audit trail: who or what changed the state, when and why — never payload content.
//!
//! Enqueueing is part of the ledger's contract: a transition may carry the envelope to put on
//! a connector's queue, and the ledger guarantees the envelope reaches the queue if and only if
//! the transition is committed (same transaction in embedded mode; an outbox row swept to the
//! message broker in cluster mode). That is how "ledger row and queue entry in one transaction"
//! survives the move to RabbitMQ.

pub mod chain;

use crate::message::{Envelope, MessageId, Millis, Part, State, XoevHeader};
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// A message as intake hands it to the ledger.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: MessageId,
    pub tenant: String,
    pub source: String,
    pub transport_id: Option<String>,
    pub received_at: Millis,
    pub content_type: String,
    pub header: XoevHeader,
    pub service_key: Option<String>,
    pub destination: Option<String>,
    pub parts: Vec<Part>,
    /// The transitions after `received`, in order (e.g. validated, routed), each with its reason.
    pub path: Vec<(State, String)>,
    /// Route name and connector when routed.
    pub route: Option<(String, String)>,
    /// The queue entry to create with the row.
    pub enqueue: Option<Envelope>,
    /// W3C `traceparent` of the message's intake span when tracing is on: every later span
    /// (each delivery attempt, replays, after restarts) continues this trace.
    pub traceparent: Option<String>,
}

impl NewMessage {
    /// Whether the state machine allows `received` followed by [`NewMessage::path`]: what
    /// every ledger checks before it admits a message.
    pub fn check_path(&self) -> Result<(), LedgerError> {
        let mut from = State::Received;
        for (to, _) in &self.path {
            if !from.can_become(*to) {
                return Err(LedgerError::TransitionNotAllowed {
                    id: self.id,
                    from,
                    to: *to,
                });
            }
            from = *to;
        }
        Ok(())
    }
}

/// The outcome of [`Ledger::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Created(MessageId),
    /// The transport id was seen before from this source; nothing was changed.
    Duplicate(MessageId),
}

impl Admission {
    pub fn id(&self) -> MessageId {
        match self {
            Admission::Created(id) | Admission::Duplicate(id) => *id,
        }
    }
}

/// A requested state change.
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: State,
    /// Who or what: `intake`, `worker:<connector>`, `operator:<name>`, `cli`.
    pub actor: String,
    /// Why, for people. Goes into the hash-chained, permanent history: never payload
    /// content, nothing a third party wrote.
    pub reason: String,
    /// A fuller account for the operator, e.g. the Fachverfahren's own error answer. Shown
    /// as the message's last reason until the next transition or the purge; never part of
    /// the history, because it may quote personal data back.
    pub detail: Option<String>,
    /// Delivery attempt number this transition belongs to, if any.
    pub attempt: Option<u32>,
    /// New route (name, connector) to record with the transition (replay re-routes).
    pub route: Option<(String, String)>,
    /// Put this envelope on its connector's queue atomically with the transition.
    pub enqueue: Option<Envelope>,
}

impl Transition {
    pub fn new(to: State, actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Transition {
            to,
            actor: actor.into(),
            reason: reason.into(),
            detail: None,
            attempt: None,
            route: None,
            enqueue: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = Some(attempt);
        self
    }

    pub fn enqueue(mut self, envelope: Envelope) -> Self {
        self.route = Some((envelope.route.clone(), envelope.connector.clone()));
        self.enqueue = Some(envelope);
        self
    }
}

/// One entry of a message's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub seq: u32,
    pub state: State,
    pub at: Millis,
    pub actor: String,
    pub reason: String,
    pub attempt: Option<u32>,
    pub prev_hash: String,
    pub hash: String,
}

/// A message row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageRecord {
    pub id: MessageId,
    pub tenant: String,
    pub source: String,
    pub transport_id: Option<String>,
    pub received_at: Millis,
    pub updated_at: Millis,
    pub state: State,
    pub content_type: String,
    pub header: XoevHeader,
    pub service_key: Option<String>,
    pub destination: Option<String>,
    pub route: Option<String>,
    pub connector: Option<String>,
    pub attempts: u32,
    pub last_reason: String,
    pub parts: Vec<Part>,
    pub head_hash: String,
    /// W3C `traceparent` of the message's trace (its intake span), when tracing was on at
    /// intake; see [`crate::telemetry::trace::trace_id`] and [`crate::config::TelemetryConfig::trace_url`].
    pub traceparent: Option<String>,
}

impl MessageRecord {
    /// The envelope for (re)queueing this message on `connector` via `route`.
    pub fn envelope(&self, route: &str, connector: &str) -> Envelope {
        Envelope {
            message_id: self.id,
            tenant: self.tenant.clone(),
            source: self.source.clone(),
            transport_id: self.transport_id.clone(),
            received_at: self.received_at,
            header: self.header.clone(),
            service_key: self.service_key.clone(),
            destination: self.destination.clone(),
            route: route.to_string(),
            connector: connector.to_string(),
            parts: self.parts.clone(),
            traceparent: self.traceparent.clone(),
            delivery_key: None,
            mapping: None,
        }
    }
}

/// A message with its full history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: MessageRecord,
    pub history: Vec<HistoryEntry>,
}

/// Selection for [`Ledger::list`]. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub states: Vec<State>,
    pub tenant: Option<String>,
    pub connector: Option<String>,
    /// Only messages last updated before this time (for "older than" queries).
    pub updated_before: Option<Millis>,
    /// Messages of these tenants are left out (retention: tenants with their own period).
    pub exclude_tenants: Vec<String>,
    /// Only messages last updated at or after this time (e.g. delivered in the last hour).
    pub updated_after: Option<Millis>,
    /// Only messages of this standard (the Nachrichtenkopf's key, e.g. `xgewerbeanzeige`).
    pub standard: Option<String>,
    /// Only messages received at or after this time.
    pub received_from: Option<Millis>,
    /// Only messages received before this time.
    pub received_to: Option<Millis>,
    /// Paging cursor: only messages after this one in the listing order (by id, which is
    /// arrival order). The last id of a page is the cursor of the next.
    pub after: Option<MessageId>,
    pub limit: usize,
}

/// Messages per (tenant, connector, state), for metrics and the console.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StateCount {
    pub tenant: String,
    pub source: String,
    pub connector: Option<String>,
    pub state: State,
    pub count: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("message {0} is not in the ledger")]
    NotFound(MessageId),
    #[error("message {id}: the ledger does not allow {from} -> {to}")]
    TransitionNotAllowed {
        id: MessageId,
        from: State,
        to: State,
    },
    #[error(
        "message {id}: history hash chain is broken at entry {seq}; the ledger was modified outside amtsbote"
    )]
    ChainBroken { id: MessageId, seq: u32 },
    #[error("ledger storage failed: {0}")]
    Storage(String),
}

/// Result of [`Ledger::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChainVerdict {
    Intact { entries: u32 },
    Broken { seq: u32 },
}

/// The seam between the broker and its state store (SQLite embedded, PostgreSQL in cluster).
/// Both implementations must pass the same test suite.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Creates a message with `received` and the transitions in `path`, and its queue entry,
    /// in one transaction. Unique on (source, transport id): a repeat returns the first id and
    /// changes nothing.
    async fn admit(&self, message: NewMessage) -> Result<Admission, LedgerError>;

    /// Looks up a message by its transport id (dedupe before doing any work).
    async fn find_by_transport(
        &self,
        source: &str,
        transport_id: &str,
    ) -> Result<Option<MessageId>, LedgerError>;

    /// Appends a transition if the state machine allows it, extending the hash chain.
    /// Returns the state the message was in before.
    async fn transition(&self, id: MessageId, t: Transition) -> Result<State, LedgerError> {
        self.transitions(id, vec![t]).await
    }

    /// Appends several transitions atomically (e.g. `replayed` then `routed`): all or none.
    /// Returns the state the message was in before the first.
    async fn transitions(&self, id: MessageId, ts: Vec<Transition>) -> Result<State, LedgerError>;

    async fn get(&self, id: MessageId) -> Result<Option<MessageDetail>, LedgerError>;

    /// Messages matching `filter`, oldest (by id, i.e. arrival) first, at most `limit` (0 = all).
    async fn list(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>, LedgerError>;

    /// How many messages match `filter` (its `limit` and cursor are ignored).
    async fn count(&self, filter: &MessageFilter) -> Result<u64, LedgerError>;

    async fn count_by_state(&self) -> Result<Vec<StateCount>, LedgerError>;

    /// Whether the ledger answers, for readiness: a point lookup of an id no message has.
    /// The embedded ledger overrides it with a probe through its writer, since intake needs
    /// writes and SQLite readers keep working while the write lock is held elsewhere.
    async fn ping(&self) -> Result<(), LedgerError> {
        self.get(MessageId::from(uuid::Uuid::nil()))
            .await
            .map(|_| ())
    }

    /// Recomputes the history's hash chain of one message.
    async fn verify(&self, id: MessageId) -> Result<ChainVerdict, LedgerError> {
        let detail = self.get(id).await?.ok_or(LedgerError::NotFound(id))?;
        Ok(chain::verify(&detail.message, &detail.history))
    }

    /// Inbound journal: records (or updates the note of) a transport id an inbound adapter
    /// has taken or is about to take off its transport and has not answered there yet.
    async fn inbound_claim(
        &self,
        source: &str,
        transport_id: &str,
        note: &str,
    ) -> Result<(), LedgerError>;

    /// Inbound journal: the open claims of a source, oldest first.
    async fn inbound_open(&self, source: &str) -> Result<Vec<InboundClaim>, LedgerError>;

    /// Inbound journal: open claims per source (count, oldest), for metrics; one query for
    /// every source rather than one per destination at each scrape.
    async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, LedgerError>;

    /// Inbound journal: the transport was answered; forget the claim.
    async fn inbound_done(&self, source: &str, transport_id: &str) -> Result<(), LedgerError>;

    /// Poller lease: `holder` (a replica's id) takes or renews the lease `name` (e.g.
    /// `fit-connect:<destination>`, `xta:<account>`) for `ttl`. True if `holder` holds it now:
    /// it was free, expired, or already its own. A replica that dies loses its leases after
    /// `ttl`; pollers renew well before (every poll round).
    async fn lease_poller(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, LedgerError>;

    /// Gives a poller lease up (shutdown), if `holder` holds it.
    async fn release_poller(&self, name: &str, holder: &str) -> Result<(), LedgerError>;
}

/// One queue entry waiting in the cluster ledger's transactional outbox.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// The outbox row's key, for [`Outbox::outbox_done`].
    pub seq: i64,
    pub envelope: Envelope,
}

/// The transactional outbox of the cluster backend. [`Ledger::admit`] and
/// [`Ledger::transitions`] with an `enqueue` write the envelope to an outbox row in the same
/// database transaction as the ledger change; a relay publishes the rows to RabbitMQ with
/// publisher confirms and removes them only once confirmed. A relay that dies mid-publish
/// loses its claim after `claim_for`, and another relay publishes again (consumers are
/// idempotent on the message id).
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` unpublished entries that nobody claimed within the last
    /// `claim_for`, oldest first.
    async fn outbox_claim(
        &self,
        limit: usize,
        claim_for: Duration,
    ) -> Result<Vec<OutboxEntry>, LedgerError>;

    /// Publishing was confirmed: removes the entries.
    async fn outbox_done(&self, seqs: &[i64]) -> Result<(), LedgerError>;

    /// Returns when entries may be waiting: at once after a commit in this process that wrote
    /// one, otherwise after `timeout` (entries written by other replicas are found by polling).
    async fn outbox_wait(&self, timeout: Duration);
}

/// The open claims of one source in the inbound journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSummary {
    pub source: String,
    pub open: u64,
    pub oldest_claimed_at: Millis,
}

/// An open entry of the inbound journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundClaim {
    pub transport_id: String,
    /// The adapter's own notes (JSON): ids and tags it needs to answer, never content.
    pub note: String,
    pub claimed_at: Millis,
}
