//! The embedded durable queue: rows in the `queue` table of the embedded database.
//!
//! A consumer leases due entries by writing a lease token and expiry; settling checks the
//! token, so a worker whose lease expired (and whose entry another worker took) cannot ack
//! someone else's attempt. An entry whose lease ran out is due again — that is how a crashed
//! worker's messages come back.

use super::db::{Database, DbFailure};
use super::ledger::{enqueue, transition_tx};
use crate::ledger::{LedgerError, Transition};
use crate::message::{Envelope, MessageId, State, now_millis};
use crate::queue::{Consumer, Delivery, Outcome, Queue, QueueDepth, QueueError, Settle};
use async_trait::async_trait;
use rusqlite::params;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

impl From<DbFailure> for QueueError {
    fn from(e: DbFailure) -> Self {
        QueueError::Storage(e.0)
    }
}

impl From<rusqlite::Error> for QueueError {
    fn from(e: rusqlite::Error) -> Self {
        QueueError::Storage(e.to_string())
    }
}

#[derive(Clone)]
pub struct SqliteQueue {
    db: Database,
    visibility_timeout: Duration,
    poll_interval: Duration,
}

impl SqliteQueue {
    pub fn new(db: Database, visibility_timeout: Duration, poll_interval: Duration) -> Self {
        SqliteQueue {
            db,
            visibility_timeout,
            poll_interval,
        }
    }

    /// Frees every lease. Only for start-up of the single process that owns the database:
    /// leases found then belong to a process that is gone, so their entries are due at once
    /// instead of after the visibility timeout.
    pub async fn release_all_leases(&self) -> Result<u64, QueueError> {
        self.db
            .write(|c| {
                let n = c.execute(
                    "UPDATE queue SET lease_token = NULL, lease_until = NULL WHERE lease_token IS NOT NULL",
                    [],
                )?;
                Ok::<_, QueueError>(n as u64)
            })
            .await
    }

    /// Leases up to `max` due entries and records their `delivering` transitions, in one
    /// transaction. Entries of messages the ledger shows as finished are removed instead.
    async fn lease(
        &self,
        connector: &str,
        max: usize,
        actor: &str,
    ) -> Result<Vec<Delivery>, QueueError> {
        let token = Uuid::new_v4().to_string();
        let connector = connector.to_string();
        let actor = actor.to_string();
        let visibility = self.visibility_timeout.as_millis() as i64;
        let lease_token = token.clone();
        let leased: Vec<(Envelope, u32, i64)> = self
            .db
            .write(move |c| {
                let now = now_millis();
                let rows: Vec<(String, String, u32, i64)> = c
                    .prepare_cached(
                        "UPDATE queue SET lease_token = ?1, lease_until = ?2, attempt = attempt + 1,
                                          first_attempt_at = COALESCE(first_attempt_at, ?3)
                         WHERE message_id IN (
                             SELECT message_id FROM queue
                             WHERE connector = ?4 AND status = 'ready' AND not_before <= ?3
                               AND (lease_until IS NULL OR lease_until <= ?3)
                             ORDER BY not_before LIMIT ?5)
                         RETURNING message_id, envelope, attempt, first_attempt_at",
                    )?
                    .query_map(
                        params![lease_token, now + visibility, now, connector, max as i64],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                let mut out = Vec::with_capacity(rows.len());
                for (message_id, envelope, attempt, first) in rows {
                    let Ok(envelope) = serde_json::from_str::<Envelope>(&envelope) else {
                        // Cannot happen unless the file was edited; park it rather than block
                        // the queue.
                        c.prepare_cached(
                            "UPDATE queue SET status = 'dead', lease_token = NULL,
                                              dead_reason = 'unreadable queue entry'
                             WHERE message_id = ?1",
                        )?
                        .execute([&message_id])?;
                        tracing::error!(message_id = %message_id, "queue: unreadable entry moved to the dead letters");
                        continue;
                    };
                    let start = Transition::new(State::Delivering, &actor, format!("attempt {attempt}"))
                        .attempt(attempt);
                    match transition_tx(c, envelope.message_id, &start) {
                        Ok(_) => out.push((envelope, attempt, first)),
                        Err(LedgerError::TransitionNotAllowed { from, .. }) => {
                            // The ack of an earlier attempt was lost (crash): nothing to do.
                            c.prepare_cached("DELETE FROM queue WHERE message_id = ?1")?
                                .execute([&message_id])?;
                            tracing::info!(message_id = %message_id, state = %from,
                                "queue: removed a stale entry of a message that is already {from}");
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok::<_, QueueError>(out)
            })
            .await?;
        Ok(leased
            .into_iter()
            .map(|(envelope, attempt, first)| {
                let settle = Box::new(SqliteSettle {
                    db: self.db.clone(),
                    message_id: envelope.message_id,
                    token: token.clone(),
                });
                Delivery::new(envelope, attempt, first, settle)
            })
            .collect())
    }
}

struct SqliteSettle {
    db: Database,
    message_id: MessageId,
    token: String,
}

#[async_trait]
impl Settle for SqliteSettle {
    async fn settle(
        self: Box<Self>,
        outcome: Outcome,
        record: Transition,
    ) -> Result<(), QueueError> {
        let (id, token) = (self.message_id, self.token.clone());
        let changed = self
            .db
            .write(move |c| {
                transition_tx(c, id, &record)?;
                let key = id.to_string();
                let n = match &outcome {
                    Outcome::Ack => c
                        .prepare_cached("DELETE FROM queue WHERE message_id = ?1 AND lease_token = ?2")?
                        .execute(params![key, token])?,
                    Outcome::RetryAfter(delay) => c
                        .prepare_cached(
                            "UPDATE queue SET lease_token = NULL, lease_until = NULL, not_before = ?3
                             WHERE message_id = ?1 AND lease_token = ?2",
                        )?
                        .execute(params![key, token, now_millis() + delay.as_millis() as i64])?,
                    Outcome::Dead(reason) => c
                        .prepare_cached(
                            "UPDATE queue SET status = 'dead', lease_token = NULL, lease_until = NULL,
                                              dead_reason = ?3
                             WHERE message_id = ?1 AND lease_token = ?2",
                        )?
                        .execute(params![key, token, reason])?,
                };
                Ok::<_, QueueError>(n)
            })
            .await?;
        if changed == 0 {
            tracing::warn!(message_id = %self.message_id,
                "queue: the lease expired before settling and the entry was taken again");
        }
        Ok(())
    }

    async fn release(self: Box<Self>) -> Result<(), QueueError> {
        // The attempt is given back, so it is not counted.
        let (id, token) = (self.message_id.to_string(), self.token.clone());
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE queue SET lease_token = NULL, lease_until = NULL, attempt = MAX(attempt - 1, 0)
                     WHERE message_id = ?1 AND lease_token = ?2",
                )?
                .execute(params![id, token])?;
                Ok::<_, QueueError>(())
            })
            .await
    }
}

struct SqliteConsumer {
    queue: SqliteQueue,
    connector: String,
}

#[async_trait]
impl Consumer for SqliteConsumer {
    async fn next_batch(&mut self, max: usize, actor: &str) -> Result<Vec<Delivery>, QueueError> {
        let wakeup = self.queue.db.wakeup(&self.connector);
        loop {
            // Register interest before looking, so a publish between the look and the wait
            // is not missed.
            let notified = wakeup.notified();
            let batch = self.queue.lease(&self.connector, max.max(1), actor).await?;
            if !batch.is_empty() {
                return Ok(batch);
            }
            // Delayed retries and entries published by other processes (the CLI's replay)
            // are found by polling.
            let _ = tokio::time::timeout(self.queue.poll_interval, notified).await;
        }
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn publish(&self, envelope: &Envelope) -> Result<(), QueueError> {
        let env = envelope.clone();
        let connector = env.connector.clone();
        self.db
            .write(move |c| {
                enqueue(c, &env, now_millis()).map_err(|e| QueueError::Storage(e.to_string()))
            })
            .await?;
        self.db.wakeup(&connector).notify_waiters();
        Ok(())
    }

    async fn consume(&self, connector: &str) -> Result<Box<dyn Consumer>, QueueError> {
        Ok(Box::new(SqliteConsumer {
            queue: self.clone(),
            connector: connector.to_string(),
        }))
    }

    async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError> {
        let rows = self
            .db
            .read(|c| {
                let now = now_millis();
                let mut stmt = c.prepare(
                    "SELECT connector,
                            count(CASE WHEN status = 'ready' AND not_before <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) THEN 1 END),
                            count(CASE WHEN status = 'ready' AND not_before > ?1 AND lease_until IS NULL THEN 1 END),
                            count(CASE WHEN status = 'ready' AND lease_until > ?1 THEN 1 END),
                            count(CASE WHEN status = 'dead' THEN 1 END),
                            min(CASE WHEN status = 'ready' THEN enqueued_at END)
                     FROM queue GROUP BY connector ORDER BY connector",
                )?;
                let rows = stmt.query_map([now], |r| {
                    let oldest: Option<i64> = r.get(5)?;
                    Ok(QueueDepth {
                        connector: r.get(0)?,
                        ready: r.get::<_, i64>(1)? as u64,
                        delayed: r.get::<_, i64>(2)? as u64,
                        leased: r.get::<_, i64>(3)? as u64,
                        dead: r.get::<_, i64>(4)? as u64,
                        oldest_ms: oldest.map(|o| (now - o).max(0) as u64).unwrap_or(0),
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(rows)
    }
}

/// Dead letters of one connector, for replay tools: message id → reason.
pub async fn dead_letters(
    db: &Database,
    connector: Option<&str>,
) -> Result<BTreeMap<String, String>, QueueError> {
    let connector = connector.map(str::to_string);
    let rows = db
        .read(move |c| {
            let mut stmt = c.prepare(
                "SELECT message_id, COALESCE(dead_reason, '') FROM queue
                 WHERE status = 'dead' AND (?1 IS NULL OR connector = ?1) ORDER BY message_id",
            )?;
            let rows = stmt.query_map([connector], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<BTreeMap<_, _>>>()
        })
        .await?;
    Ok(rows)
}
