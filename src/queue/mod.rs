//! The queue seam: one queue per connector, at-least-once delivery, explicit settlement.
//!
//! A [`Delivery`] is settled exactly once — acknowledged, scheduled for a later retry, or
//! moved to the dead letters — and the type system enforces it (settling consumes the
//! delivery). A delivery that is never settled (the worker died) comes back: after its lease
//! expires in the embedded queue, on channel loss with RabbitMQ.
//!
//! Publishing new messages is normally done by the ledger (see [`crate::ledger`]), so that the
//! queue entry and the ledger row commit together; [`Queue::publish`] is for relays and tools.

use crate::message::Envelope;
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue storage failed: {0}")]
    Storage(String),
    #[error("the queue is shutting down")]
    Closed,
}

/// How a delivery ends. Implemented per backend.
#[async_trait]
pub trait Settle: Send + Sync {
    async fn ack(self: Box<Self>) -> Result<(), QueueError>;
    async fn retry_after(self: Box<Self>, delay: Duration) -> Result<(), QueueError>;
    async fn dead(self: Box<Self>, reason: &str) -> Result<(), QueueError>;
    /// Gives the delivery back untouched (graceful shutdown): no attempt is counted.
    async fn release(self: Box<Self>) -> Result<(), QueueError>;
}

/// One message handed to a worker.
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

    pub async fn ack(self) -> Result<(), QueueError> {
        self.settle.ack().await
    }

    pub async fn retry_after(self, delay: Duration) -> Result<(), QueueError> {
        self.settle.retry_after(delay).await
    }

    pub async fn dead(self, reason: &str) -> Result<(), QueueError> {
        self.settle.dead(reason).await
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
    /// Waits until at least one delivery is available and returns up to `max` of them.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, QueueError>;
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
