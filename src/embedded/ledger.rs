//! The ledger on the embedded SQLite database.

use super::db::{Database, DbFailure};
use crate::ledger::chain::{self, Link};
use crate::ledger::{
    Admission, HistoryEntry, InboundClaim, InboundSummary, Ledger, LedgerError, MessageDetail,
    MessageFilter, MessageRecord, NewMessage, StateCount, Transition,
};
use crate::message::{Envelope, MessageId, Millis, State, now_millis};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use std::time::Duration;

impl From<DbFailure> for LedgerError {
    fn from(e: DbFailure) -> Self {
        LedgerError::Storage(e.0)
    }
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

fn json_err(e: serde_json::Error) -> LedgerError {
    LedgerError::Storage(format!("stored JSON is unreadable: {e}"))
}

#[derive(Clone)]
pub struct SqliteLedger {
    db: Database,
}

impl SqliteLedger {
    pub fn new(db: Database) -> Self {
        SqliteLedger { db }
    }

    /// Frees every poller lease. Only for start-up of the single process that owns the
    /// database: a lease found then belongs to a process that is gone (killed, crashed), which
    /// would otherwise keep its mailboxes unread until the lease expires.
    pub async fn release_all_poller_leases(&self) -> Result<u64, LedgerError> {
        self.db
            .write(|c| Ok::<_, LedgerError>(c.execute("DELETE FROM poller_leases", [])? as u64))
            .await
    }
}

/// Appends one history entry after `prev_hash` and returns its hash.
fn append_history(conn: &Connection, prev_hash: &str, l: &Link<'_>) -> Result<String, LedgerError> {
    let hash = chain::link(prev_hash, l);
    conn.prepare_cached(
        "INSERT INTO history (message_id, seq, state, at, actor, reason, attempt, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        l.id.to_string(),
        l.seq,
        l.state.as_str(),
        l.at,
        l.actor,
        l.reason,
        l.attempt,
        prev_hash,
        hash
    ])?;
    Ok(hash)
}

/// Inserts or replaces the queue entry for an envelope (replay replaces a dead letter).
pub(super) fn enqueue(conn: &Connection, env: &Envelope, now: Millis) -> Result<(), LedgerError> {
    let json = serde_json::to_string(env).map_err(json_err)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO queue (message_id, connector, envelope, status, attempt, first_attempt_at,
                                       not_before, lease_token, lease_until, enqueued_at, dead_reason)
         VALUES (?1, ?2, ?3, 'ready', 0, NULL, ?4, NULL, NULL, ?4, NULL)",
    )?
    .execute(params![env.message_id.to_string(), env.connector, json, now])?;
    Ok(())
}

fn admit_tx(conn: &Connection, m: &NewMessage) -> Result<Admission, LedgerError> {
    if let Some(tid) = &m.transport_id {
        let existing: Option<String> = conn
            .prepare_cached("SELECT id FROM messages WHERE source = ?1 AND transport_id = ?2")?
            .query_row(params![m.source, tid], |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            return Ok(Admission::Duplicate(parse_id(&id)?));
        }
    }
    let now = m.received_at;
    let genesis = chain::genesis(
        m.id,
        &m.tenant,
        &m.source,
        m.transport_id.as_deref(),
        m.received_at,
    );
    // History first (hashes), then the row with its head.
    m.check_path()?;
    let mut entries = vec![(State::Received, "received".to_string())];
    entries.extend(m.path.iter().cloned());
    let (last_state, last_reason) = entries.last().cloned().expect("received is always there");
    let header = serde_json::to_string(&m.header).map_err(json_err)?;
    let parts = serde_json::to_string(&m.parts).map_err(json_err)?;
    let (route, connector) = match &m.route {
        Some((r, c)) => (Some(r.as_str()), Some(c.as_str())),
        None => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO messages (id, tenant, source, transport_id, received_at, updated_at, state,
                               content_type, header, standard, message_type, service_key, route,
                               connector, attempts, last_reason, parts, seq, head_hash, destination,
                               traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14, ?15, 0, '', ?16, ?17)",
    )?
    .execute(params![
        m.id.to_string(),
        m.tenant,
        m.source,
        m.transport_id,
        m.received_at,
        last_state.as_str(),
        m.content_type,
        header,
        m.header.standard,
        m.header.message_type,
        m.service_key,
        route,
        connector,
        last_reason,
        parts,
        m.destination,
        m.traceparent,
    ])?;
    let mut prev = genesis;
    for (seq, (state, reason)) in entries.iter().enumerate() {
        let link = Link {
            id: m.id,
            seq: seq as u32 + 1,
            state: *state,
            at: now,
            actor: "intake",
            reason,
            attempt: None,
        };
        prev = append_history(conn, &prev, &link)?;
    }
    conn.prepare_cached("UPDATE messages SET seq = ?2, head_hash = ?3 WHERE id = ?1")?
        .execute(params![m.id.to_string(), entries.len() as u32, prev])?;
    if let Some(env) = &m.enqueue {
        enqueue(conn, env, now)?;
    }
    Ok(Admission::Created(m.id))
}

pub(super) fn transition_tx(
    conn: &Connection,
    id: MessageId,
    t: &Transition,
) -> Result<State, LedgerError> {
    let row: Option<(String, u32, String)> = conn
        .prepare_cached("SELECT state, seq, head_hash FROM messages WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((state, seq, head)) = row else {
        return Err(LedgerError::NotFound(id));
    };
    let from: State = state.parse().map_err(LedgerError::Storage)?;
    if !from.can_become(t.to) {
        return Err(LedgerError::TransitionNotAllowed { id, from, to: t.to });
    }
    let now = now_millis();
    let link = Link {
        id,
        seq: seq + 1,
        state: t.to,
        at: now,
        actor: &t.actor,
        reason: &t.reason,
        attempt: t.attempt,
    };
    let hash = append_history(conn, &head, &link)?;
    conn.prepare_cached(
        "UPDATE messages SET state = ?2, updated_at = ?3, seq = ?4, head_hash = ?5, last_reason = ?6,
                             attempts = MAX(attempts, COALESCE(?7, 0)),
                             route = COALESCE(?8, route), connector = COALESCE(?9, connector)
         WHERE id = ?1",
    )?
    .execute(params![
        id.to_string(),
        t.to.as_str(),
        now,
        seq + 1,
        hash,
        t.detail.as_deref().unwrap_or(&t.reason),
        t.attempt,
        t.route.as_ref().map(|r| r.0.as_str()),
        t.route.as_ref().map(|r| r.1.as_str()),
    ])?;
    if let Some(env) = &t.enqueue {
        enqueue(conn, env, now)?;
    }
    if matches!(t.to, State::Resolved | State::Purged) {
        // A dead letter an operator closed is no longer one (replay replaces it instead).
        conn.prepare_cached("DELETE FROM queue WHERE message_id = ?1 AND status = 'dead'")?
            .execute([id.to_string()])?;
    }
    Ok(from)
}

/// The `WHERE` clause and its arguments for a [`MessageFilter`]; the cursor only when paging.
fn where_clause(
    filter: &MessageFilter,
    with_cursor: bool,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if !filter.states.is_empty() {
        let marks = vec!["?"; filter.states.len()].join(",");
        sql.push_str(&format!(" AND state IN ({marks})"));
        args.extend(filter.states.iter().map(|s| s.as_str().to_string().into()));
    }
    let mut text = |column: &str, value: &Option<String>| {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            args.push(v.clone().into());
        }
    };
    text("tenant", &filter.tenant);
    text("connector", &filter.connector);
    text("standard", &filter.standard);
    for (column, op, value) in [
        ("updated_at", "<", filter.updated_before),
        ("updated_at", ">=", filter.updated_after),
        ("received_at", ">=", filter.received_from),
        ("received_at", "<", filter.received_to),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} {op} ?"));
            args.push(v.into());
        }
    }
    if !filter.exclude_tenants.is_empty() {
        let marks = vec!["?"; filter.exclude_tenants.len()].join(",");
        sql.push_str(&format!(" AND tenant NOT IN ({marks})"));
        args.extend(filter.exclude_tenants.iter().map(|t| t.clone().into()));
    }
    if let (true, Some(after)) = (with_cursor, filter.after) {
        // Ids are UUIDv7 text: they sort by arrival.
        sql.push_str(" AND id > ?");
        args.push(after.to_string().into());
    }
    (sql, args)
}

fn parse_id(s: &str) -> Result<MessageId, LedgerError> {
    s.parse()
        .map_err(|_| LedgerError::Storage(format!("invalid message id `{s}` in the ledger")))
}

const RECORD_COLUMNS: &str = "id, tenant, source, transport_id, received_at, updated_at, state,
    content_type, header, service_key, route, connector, attempts, last_reason, parts, head_hash,
    destination, traceparent";

fn read_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MessageRecord, LedgerError>> {
    let id: String = r.get(0)?;
    let state: String = r.get(6)?;
    let header: String = r.get(8)?;
    let parts: String = r.get(14)?;
    let record = (|| {
        Ok(MessageRecord {
            id: parse_id(&id)?,
            tenant: r.get(1)?,
            source: r.get(2)?,
            transport_id: r.get(3)?,
            received_at: r.get(4)?,
            updated_at: r.get(5)?,
            state: state.parse().map_err(LedgerError::Storage)?,
            content_type: r.get(7)?,
            header: serde_json::from_str(&header).map_err(json_err)?,
            service_key: r.get(9)?,
            route: r.get(10)?,
            connector: r.get(11)?,
            attempts: r.get(12)?,
            last_reason: r.get(13)?,
            parts: serde_json::from_str(&parts).map_err(json_err)?,
            head_hash: r.get(15)?,
            destination: r.get(16)?,
            traceparent: r.get(17)?,
        })
    })();
    Ok(record)
}

fn read_history(conn: &Connection, id: MessageId) -> rusqlite::Result<Vec<HistoryEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, state, at, actor, reason, attempt, prev_hash, hash
         FROM history WHERE message_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([id.to_string()], |r| {
        let state: String = r.get(1)?;
        Ok(HistoryEntry {
            seq: r.get(0)?,
            state: state.parse().unwrap_or(State::Received),
            at: r.get(2)?,
            actor: r.get(3)?,
            reason: r.get(4)?,
            attempt: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        })
    })?;
    rows.collect()
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn admit(&self, message: NewMessage) -> Result<Admission, LedgerError> {
        let connector = message.enqueue.as_ref().map(|e| e.connector.clone());
        let admission = self.db.write(move |conn| admit_tx(conn, &message)).await?;
        if let (Admission::Created(_), Some(c)) = (admission, connector) {
            self.db.wakeup(&c).notify_waiters();
        }
        Ok(admission)
    }

    async fn find_by_transport(
        &self,
        source: &str,
        transport_id: &str,
    ) -> Result<Option<MessageId>, LedgerError> {
        let (source, tid) = (source.to_string(), transport_id.to_string());
        let id: Option<String> = self
            .db
            .read(move |c| {
                c.prepare_cached("SELECT id FROM messages WHERE source = ?1 AND transport_id = ?2")?
                    .query_row(params![source, tid], |r| r.get(0))
                    .optional()
            })
            .await?;
        id.as_deref().map(parse_id).transpose()
    }

    async fn transitions(&self, id: MessageId, ts: Vec<Transition>) -> Result<State, LedgerError> {
        let connectors: Vec<String> = ts
            .iter()
            .filter_map(|t| t.enqueue.as_ref().map(|e| e.connector.clone()))
            .collect();
        let from = self
            .db
            .write(move |conn| {
                let mut first = None;
                for t in &ts {
                    let from = transition_tx(conn, id, t)?;
                    first.get_or_insert(from);
                }
                first.ok_or_else(|| LedgerError::Storage("no transition given".into()))
            })
            .await?;
        for c in connectors {
            self.db.wakeup(&c).notify_waiters();
        }
        Ok(from)
    }

    async fn get(&self, id: MessageId) -> Result<Option<MessageDetail>, LedgerError> {
        let found = self
            .db
            .read(move |c| {
                let sql = format!("SELECT {RECORD_COLUMNS} FROM messages WHERE id = ?1");
                let record = c
                    .query_row(&sql, [id.to_string()], read_record)
                    .optional()?;
                match record {
                    None => Ok(None),
                    Some(r) => Ok(Some((r, read_history(c, id)?))),
                }
            })
            .await?;
        match found {
            None => Ok(None),
            Some((record, history)) => Ok(Some(MessageDetail {
                message: record?,
                history,
            })),
        }
    }

    async fn list(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>, LedgerError> {
        let filter = filter.clone();
        let rows = self
            .db
            .read(move |c| {
                let (clause, mut args) = where_clause(&filter, true);
                let sql =
                    format!("SELECT {RECORD_COLUMNS} FROM messages {clause} ORDER BY id LIMIT ?");
                let limit = if filter.limit == 0 {
                    i64::MAX
                } else {
                    filter.limit as i64
                };
                args.push(limit.into());
                let mut stmt = c.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(args), read_record)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().collect()
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        // Through the writer: its group commit begins with BEGIN IMMEDIATE, which fails (after
        // the busy timeout) when the database cannot be written — what intake needs.
        self.db
            .write(|c| {
                c.query_row("SELECT count(*) FROM messages WHERE 0", [], |_| Ok(()))
                    .map_err(LedgerError::from)
            })
            .await
    }

    async fn count(&self, filter: &MessageFilter) -> Result<u64, LedgerError> {
        let filter = filter.clone();
        let n: i64 = self
            .db
            .read(move |c| {
                let (clause, args) = where_clause(&filter, false);
                c.prepare(&format!("SELECT count(*) FROM messages {clause}"))?
                    .query_row(rusqlite::params_from_iter(args), |r| r.get(0))
            })
            .await?;
        Ok(n as u64)
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, LedgerError> {
        let rows = self
            .db
            .read(|c| {
                let mut stmt = c.prepare(
                    "SELECT tenant, source, connector, state, count(*) FROM messages
                     GROUP BY tenant, source, connector, state ORDER BY tenant, source, connector, state",
                )?;
                let rows = stmt.query_map([], |r| {
                    let state: String = r.get(3)?;
                    Ok(StateCount {
                        tenant: r.get(0)?,
                        source: r.get(1)?,
                        connector: r.get(2)?,
                        state: state.parse().unwrap_or(State::Received),
                        count: r.get::<_, i64>(4)? as u64,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(rows)
    }

    async fn inbound_claim(
        &self,
        source: &str,
        transport_id: &str,
        note: &str,
    ) -> Result<(), LedgerError> {
        let (source, tid, note) = (
            source.to_string(),
            transport_id.to_string(),
            note.to_string(),
        );
        self.db
            .write(move |c| {
                c.prepare_cached(
                    "INSERT INTO inbound (source, transport_id, note, claimed_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (source, transport_id) DO UPDATE SET note = excluded.note",
                )?
                .execute(params![source, tid, note, now_millis()])?;
                Ok::<_, LedgerError>(())
            })
            .await
    }

    async fn inbound_open(&self, source: &str) -> Result<Vec<InboundClaim>, LedgerError> {
        let source = source.to_string();
        let rows = self
            .db
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT transport_id, note, claimed_at FROM inbound WHERE source = ?1 ORDER BY claimed_at",
                )?;
                let rows = stmt.query_map([source], |r| {
                    Ok(InboundClaim {
                        transport_id: r.get(0)?,
                        note: r.get(1)?,
                        claimed_at: r.get(2)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(rows)
    }

    async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, LedgerError> {
        let rows = self
            .db
            .read(|c| {
                let mut stmt = c.prepare_cached(
                    "SELECT source, count(*), min(claimed_at) FROM inbound GROUP BY source",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok(InboundSummary {
                        source: r.get(0)?,
                        open: r.get::<_, i64>(1)? as u64,
                        oldest_claimed_at: r.get(2)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(rows)
    }

    async fn inbound_done(&self, source: &str, transport_id: &str) -> Result<(), LedgerError> {
        let (source, tid) = (source.to_string(), transport_id.to_string());
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM inbound WHERE source = ?1 AND transport_id = ?2")?
                    .execute(params![source, tid])?;
                Ok::<_, LedgerError>(())
            })
            .await
    }

    async fn lease_poller(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, LedgerError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.db
            .write(move |c| {
                let now = now_millis();
                let changed = c
                    .prepare_cached(
                        "INSERT INTO poller_leases (name, holder, until) VALUES (?1, ?2, ?3)
                         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                         WHERE poller_leases.holder = excluded.holder OR poller_leases.until < ?4",
                    )?
                    .execute(params![name, holder, now.saturating_add(ttl), now])?;
                Ok::<_, LedgerError>(changed == 1)
            })
            .await
    }

    async fn release_poller(&self, name: &str, holder: &str) -> Result<(), LedgerError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM poller_leases WHERE name = ?1 AND holder = ?2")?
                    .execute(params![name, holder])?;
                Ok::<_, LedgerError>(())
            })
            .await
    }
}
