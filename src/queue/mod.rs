//! The queue seam: one queue per connector, at-least-once delivery, explicit settlement.
//!
//! A [`Delivery`] is settled exactly once — acknowledged, scheduled for a later retry, or
//! moved to the dead letters — and the type system enforces it (settling consumes the
//! delivery). A delivery that is never settled (the worker died) comes back: after its lease
//! expires in the embedded queue, on channel loss with RabbitMQ.
//!
//! Queue moves are ledger events, so the seam carries the ledger record with them: taking a
//! delivery records its `delivering` transition, settling records the outcome. A backend
//! writes record and queue change in one transaction where it can (embedded: same SQLite
//! file) and otherwise records first and settles second (RabbitMQ), which is safe because a
//! stale entry is recognised by the ledger state when it comes back.
//!
//! Publishing new messages is normally done by the ledger (see [`crate::ledger`]), so that the
//! queue entry and the ledger row commit together; [`Queue::publish`] is for relays and tools.

use crate::ledger::{LedgerError, Transition};
use crate::message::Envelope;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage failed: {0}")]
    Storage(String),
    /// The ledger refused the record that goes with a queue move; nothing was changed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// How a delivery ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done: remove the entry.
    Ack,
    /// Try again after this delay.
    RetryAfter(Duration),
    /// Move to the connector's dead letters, with the reason.
    Dead(String),
}

/// Settling one delivery. Implemented per backend.
#[async_trait]
pub trait Settle: Send + Sync {
    /// Records `record` in the ledger and settles the entry as `outcome`.
    async fn settle(
        self: Box<Self>,
        outcome: Outcome,
        record: Transition,
    ) -> Result<(), QueueError>;
    /// Gives the delivery back without a record (shutdown, or the record failed): the attempt
    /// is not counted and the entry is due again at once.
    async fn release(self: Box<Self>) -> Result<(), QueueError>;
}

/// One message handed to a worker; its `delivering` transition is already recorded.
pub struct Delivery {
    pub envelope: Envelope,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the first attempt started (ms since epoch), for the retry policy's total-time bound.
    pub first_attempt_at: i64,
    settle: Box<dyn Settle>,
}

impl Delivery {
    pub fn new(
        envelope: Envelope,
        attempt: u32,
        first_attempt_at: i64,
        settle: Box<dyn Settle>,
    ) -> Self {
        Delivery {
            envelope,
            attempt,
            first_attempt_at,
            settle,
        }
    }

    /// Records the outcome and settles the entry.
    pub async fn settle(self, outcome: Outcome, record: Transition) -> Result<(), QueueError> {
        self.settle.settle(outcome, record).await
    }

    pub async fn release(self) -> Result<(), QueueError> {
        self.settle.release().await
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("message_id", &self.envelope.message_id)
            .field("connector", &self.envelope.connector)
            .field("attempt", &self.attempt)
            .finish()
    }
}

/// A connector's stream of deliveries.
#[async_trait]
pub trait Consumer: Send {
    /// Waits until at least one delivery is available and returns up to `max` of them, each
    /// with its `delivering` transition recorded for `actor`. Entries whose message the ledger
    /// already shows as finished (an ack lost in a crash) are removed, not returned.
    async fn next_batch(&mut self, max: usize, actor: &str) -> Result<Vec<Delivery>, QueueError>;
}

/// Queue contents of one connector, for metrics and the console.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct QueueDepth {
    pub connector: String,
    /// Waiting and due now.
    pub ready: u64,
    /// Waiting for a retry time.
    pub delayed: u64,
    /// Held by a worker.
    pub leased: u64,
    pub dead: u64,
    /// Age of the oldest waiting entry in ms.
    pub oldest_ms: u64,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Puts an envelope on the queue of `envelope.connector`.
    async fn publish(&self, envelope: &Envelope) -> Result<(), QueueError>;

    async fn consume(&self, connector: &str) -> Result<Box<dyn Consumer>, QueueError>;

    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError>;
}
