//! The worker runtime: for each connector, takes deliveries off its queue with bounded
//! concurrency, delivers them, classifies the outcome, and records it in the ledger before
//! settling the queue entry.
//!
//! Taking a delivery records its `delivering` transition and settling it records the outcome
//! (see [`crate::queue`]): in the embedded backend each in the same transaction as the queue
//! change. A crash between delivery and settlement leaves an entry that comes back; if the
//! outcome was recorded, the queue recognises the message as finished and drops the entry.
//! The message id goes to the Fachverfahren as idempotency key, so a crash *during* a
//! delivery leads to a second attempt that a Fachverfahren honouring the key recognises.

pub mod retry;

use crate::connectors::{ConnectorHandle, DeliveryError, Mapped, Parts};
use crate::ledger::{Ledger, Transition};
use crate::message::PAYLOAD_PART;
use crate::message::{State, now_millis};
use crate::payload::PayloadStore;
use crate::payload::get_bytes;
use crate::queue::{Delivery, Outcome, Queue};
use crate::telemetry::events::{DeliveryDead, DeliverySucceeded, DeliveryWillRetry, WorkerTrouble};
use crate::telemetry::spans;
use amtsbote_xoev::Mapping;
use retry::{Next, RetryPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Compiled mapping files by id, shared by the workers (built by [`crate::plan`]).
pub type Mappings = Arc<BTreeMap<String, Arc<Mapping>>>;

/// Everything a connector's workers need.
#[derive(Clone)]
pub struct WorkerContext {
    pub ledger: Arc<dyn Ledger>,
    pub queue: Arc<dyn Queue>,
    pub store: Arc<dyn PayloadStore>,
    pub mappings: Mappings,
}

/// Runs the workers of one connector until `shutdown` fires, then lets deliveries in flight
/// finish (up to `grace`) before returning.
pub async fn run(
    ctx: WorkerContext,
    handle: ConnectorHandle,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let actor = format!("worker:{}", handle.id);
    let policy = RetryPolicy::new(handle.retry.clone());
    let permits = Arc::new(Semaphore::new(handle.concurrency));
    let tracker = TaskTracker::new();
    let mut consumer = loop {
        match ctx.queue.consume(&handle.id).await {
            Ok(c) => break c,
            Err(e) => {
                WorkerTrouble {
                    connector: &handle.id,
                    id: None,
                    what: "cannot open the queue; retrying",
                    error: &e.to_string(),
                }
                .emit();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    };
    loop {
        let first = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let mut held = vec![first];
        while let Ok(p) = permits.clone().try_acquire_owned() {
            held.push(p);
        }
        let batch = tokio::select! {
            b = consumer.next_batch(held.len(), &actor) => b,
            _ = shutdown.cancelled() => break,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                WorkerTrouble {
                    connector: &handle.id,
                    id: None,
                    what: "cannot read the queue; retrying",
                    error: &e.to_string(),
                }
                .emit();
                drop(held);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
        };
        for delivery in batch {
            let permit = held.pop().expect("never more deliveries than permits");
            let (ctx, handle, policy, actor) =
                (ctx.clone(), handle.clone(), policy.clone(), actor.clone());
            // Each attempt is a span in the message's trace, whichever process runs it.
            let span = spans::delivery(&delivery.envelope, delivery.attempt);
            tracker.spawn(
                async move {
                    process(&ctx, &handle, &policy, &actor, delivery).await;
                    drop(permit);
                }
                .instrument(span),
            );
        }
    }
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(connector = %handle.id, "deliveries still running after the shutdown grace period; their messages come back on the next start");
    }
}

/// One delivery attempt, from a leased delivery (its `delivering` is recorded) to settlement.
async fn process(
    ctx: &WorkerContext,
    handle: &ConnectorHandle,
    policy: &RetryPolicy,
    actor: &str,
    delivery: Delivery,
) {
    let id = delivery.envelope.message_id;
    let attempt = delivery.attempt;
    let connector = handle.id.as_str();

    let started = Instant::now();
    let result = match map(ctx, &delivery.envelope).await {
        Ok(mapped) => {
            let parts = Parts {
                envelope: &delivery.envelope,
                store: ctx.store.as_ref(),
                mapped: mapped.as_ref(),
            };
            handle.connector.deliver(&parts, attempt).await
        }
        Err(e) => Err(e),
    };
    let elapsed = started.elapsed();

    // A failure is recorded twice over: `text` (for the permanent history, the queue and
    // the logs) names the cause; `detail` adds what the Fachverfahren answered.
    let failure = |state: State, prefix: String, e: &DeliveryError, suffix: &str| {
        let text = format!("{prefix}{e}{suffix}");
        let detail = format!("{prefix}{}{suffix}", e.for_ledger());
        Transition::new(state, actor, text).detail(detail)
    };
    let dead = |prefix: String, e: &DeliveryError| {
        DeliveryDead {
            id,
            connector,
            attempt,
            elapsed,
            reason: &e.to_string(),
        }
        .emit();
        let record = failure(State::Dead, prefix, e, "");
        (Outcome::Dead(record.reason.clone()), record)
    };
    let (outcome, record) = match result {
        Ok(receipt) => {
            DeliverySucceeded {
                id,
                connector,
                attempt,
                elapsed,
                received_at: delivery.envelope.received_at,
            }
            .emit();
            let mapped = match &delivery.envelope.mapping {
                Some(m) => format!(" as mapped by {m}"),
                None => String::new(),
            };
            let reason = match &receipt.reference {
                Some(r) => format!("delivered to {connector}{mapped}; reference {r}"),
                None => format!("delivered to {connector}{mapped}"),
            };
            (
                Outcome::Ack,
                Transition::new(State::Delivered, actor, reason),
            )
        }
        Err(e @ DeliveryError::Permanent { .. }) => dead("permanent failure: ".into(), &e),
        Err(e @ DeliveryError::Transient { retry_after, .. }) => {
            let since_first =
                Duration::from_millis((now_millis() - delivery.first_attempt_at).max(0) as u64);
            match policy.after_failure(attempt, since_first, retry_after) {
                Next::RetryIn(delay) => {
                    DeliveryWillRetry {
                        id,
                        connector,
                        attempt,
                        elapsed,
                        delay,
                        reason: &e.to_string(),
                    }
                    .emit();
                    let next =
                        humantime::format_duration(Duration::from_millis(delay.as_millis() as u64));
                    let prefix = format!("attempt {attempt} failed: ");
                    let suffix = format!("; next attempt in {next}");
                    (
                        Outcome::RetryAfter(delay),
                        failure(State::Retrying, prefix, &e, &suffix),
                    )
                }
                Next::GiveUp => dead(format!("gave up after {attempt} attempts: "), &e),
            }
        }
    };

    spans::record_delivery(&tracing::Span::current(), record.to);
    if let Err(e) = delivery.settle(outcome, record.attempt(attempt)).await {
        // Not recorded, not settled: the lease runs out and the message is attempted again
        // (the idempotency key protects the Fachverfahren) rather than settled without a record.
        WorkerTrouble {
            connector,
            id: Some(id),
            what: "cannot record the delivery outcome; the message will be attempted again",
            error: &e.to_string(),
        }
        .emit();
    }
}

/// Applies the route's mapping, if any. A mapping that fails on this message fails the same
/// way next time: a permanent error, naming the mapping file line and the missing path.
async fn map(
    ctx: &WorkerContext,
    env: &crate::message::Envelope,
) -> Result<Option<Mapped>, DeliveryError> {
    let Some(id) = &env.mapping else {
        return Ok(None);
    };
    let Some(mapping) = ctx.mappings.get(id).cloned() else {
        return Err(DeliveryError::permanent(format!(
            "mapping `{id}` is not configured any more; configure it or change the route, then replay"
        )));
    };
    let document = get_bytes(ctx.store.as_ref(), env.message_id, PAYLOAD_PART).await?;
    let output = tokio::task::spawn_blocking(move || mapping.render(&document))
        .await
        .map_err(|e| DeliveryError::transient(format!("mapping task failed: {e}")))?
        .map_err(|e| DeliveryError::permanent(format!("mapping `{id}` failed: {e}")))?;
    Ok(Some(Mapped {
        mapping: id.clone(),
        content_type: output.content_type().to_string(),
        body: output.to_bytes(),
    }))
}
