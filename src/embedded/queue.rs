//! The embedded durable queue: rows in the `queue` table of the embedded database.
//!
//! A consumer leases due entries by writing a lease token and expiry; settling checks the
//! token, so a worker whose lease expired (and whose entry another worker took) cannot ack
//! someone else's attempt. An entry whose lease ran out is due again — that is how a crashed
//! worker's messages come back.

use super::db::{Database, DbFailure};
use super::ledger::enqueue;
use crate::message::{Envelope, now_millis};
use crate::queue::{Consumer, Delivery, Queue, QueueDepth, QueueError, Settle};
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

    async fn lease(&self, connector: &str, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let token = Uuid::new_v4().to_string();
        let connector = connector.to_string();
        let visibility = self.visibility_timeout.as_millis() as i64;
        let lease_token = token.clone();
        let leased: Vec<(String, String, u32, i64)> = self
            .db
            .write(move |c| {
                let now = now_millis();
                let mut stmt = c.prepare_cached(
                    "UPDATE queue SET lease_token = ?1, lease_until = ?2, attempt = attempt + 1,
                                      first_attempt_at = COALESCE(first_attempt_at, ?3)
                     WHERE message_id IN (
                         SELECT message_id FROM queue
                         WHERE connector = ?4 AND status = 'ready' AND not_before <= ?3
                           AND (lease_until IS NULL OR lease_until <= ?3)
                         ORDER BY not_before LIMIT ?5)
                     RETURNING message_id, envelope, attempt, first_attempt_at",
                )?;
                let rows = stmt.query_map(
                    params![lease_token, now + visibility, now, connector, max as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                Ok::<_, QueueError>(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await?;
        let mut out = Vec::with_capacity(leased.len());
        for (message_id, envelope, attempt, first) in leased {
            let envelope: Envelope = serde_json::from_str(&envelope).map_err(|e| {
                QueueError::Storage(format!("queue entry {message_id} is unreadable: {e}"))
            })?;
            let settle = Box::new(SqliteSettle {
                db: self.db.clone(),
                message_id,
                token: token.clone(),
            });
            out.push(Delivery::new(envelope, attempt, first, settle));
        }
        Ok(out)
    }
}

struct SqliteSettle {
    db: Database,
    message_id: String,
    token: String,
}

impl SqliteSettle {
    /// Runs an update of this entry guarded by the lease token. A lost lease is not an error
    /// for the caller (the entry expired and someone else holds it now) but is logged.
    async fn guarded<F>(self: Box<Self>, action: &'static str, update: F) -> Result<(), QueueError>
    where
        F: FnOnce(&rusqlite::Connection, &str, &str) -> rusqlite::Result<usize> + Send + 'static,
    {
        let (id, token) = (self.message_id.clone(), self.token.clone());
        let changed = self
            .db
            .write(move |c| Ok::<_, QueueError>(update(c, &id, &token)?))
            .await?;
        if changed == 0 {
            tracing::warn!(message_id = %self.message_id, action,
                "queue: the lease expired before settling and the entry was taken again");
        }
        Ok(())
    }
}

#[async_trait]
impl Settle for SqliteSettle {
    async fn ack(self: Box<Self>) -> Result<(), QueueError> {
        self.guarded("ack", |c, id, token| {
            c.prepare_cached("DELETE FROM queue WHERE message_id = ?1 AND lease_token = ?2")?
                .execute(params![id, token])
        })
        .await
    }

    async fn retry_after(self: Box<Self>, delay: Duration) -> Result<(), QueueError> {
        let at = now_millis() + delay.as_millis() as i64;
        self.guarded("retry", move |c, id, token| {
            c.prepare_cached(
                "UPDATE queue SET lease_token = NULL, lease_until = NULL, not_before = ?3
                 WHERE message_id = ?1 AND lease_token = ?2",
            )?
            .execute(params![id, token, at])
        })
        .await
    }

    async fn dead(self: Box<Self>, reason: &str) -> Result<(), QueueError> {
        let reason = reason.to_string();
        self.guarded("dead", move |c, id, token| {
            c.prepare_cached(
                "UPDATE queue SET status = 'dead', lease_token = NULL, lease_until = NULL, dead_reason = ?3
                 WHERE message_id = ?1 AND lease_token = ?2",
            )?
            .execute(params![id, token, reason])
        })
        .await
    }

    async fn release(self: Box<Self>) -> Result<(), QueueError> {
        // The attempt never started, so it is not counted.
        self.guarded("release", |c, id, token| {
            c.prepare_cached(
                "UPDATE queue SET lease_token = NULL, lease_until = NULL, attempt = MAX(attempt - 1, 0)
                 WHERE message_id = ?1 AND lease_token = ?2",
            )?
            .execute(params![id, token])
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
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let wakeup = self.queue.db.wakeup(&self.connector);
        loop {
            // Register interest before looking, so a publish between the look and the wait
            // is not missed.
            let notified = wakeup.notified();
            let batch = self.queue.lease(&self.connector, max.max(1)).await?;
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
                            sum(status = 'ready' AND not_before <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)),
                            sum(status = 'ready' AND not_before > ?1 AND lease_until IS NULL),
                            sum(status = 'ready' AND lease_until > ?1),
                            sum(status = 'dead'),
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
