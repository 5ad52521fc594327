//! The ledger on PostgreSQL: what several broker replicas share in the cluster backend.
//!
//! It keeps exactly the promises of the embedded [`crate::embedded::SqliteLedger`] (the shared
//! suite in `conformance.rs` checks both), with what a shared database adds:
//! - dedupe on (source, transport id) is a unique constraint, so two replicas admitting the
//!   same submission at the same moment still end with one message (the second waits for the
//!   first's commit and then finds its row);
//! - transitions of one message are serialised with `SELECT … FOR UPDATE`, so the hash chain
//!   stays a chain when two replicas record an outcome for the same message;
//! - the queue is RabbitMQ, so a queue entry is an [`Outbox`] row written in the same
//!   transaction as the ledger change; a relay publishes and deletes it;
//! - poller leases use the database's clock, so replicas with skewed clocks agree on expiry.
//!
//! The connection pool (deadpool) checks each connection with a round trip before handing it
//! out, so connections broken by a PostgreSQL restart or failover are replaced rather than
//! handed out again and again.

use crate::config::cluster::PostgresConfig;
use crate::ledger::chain::{self, Link};
use crate::ledger::{
    Admission, HistoryEntry, InboundClaim, InboundSummary, Ledger, LedgerError, MessageDetail,
    MessageFilter, MessageRecord, NewMessage, Outbox, OutboxEntry, StateCount, Transition,
};
use crate::message::{Envelope, MessageId, Millis, Part, State, XoevHeader, now_millis};
use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Transaction,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{IsolationLevel, NoTls, Row};
use uuid::Uuid;

/// The schema versions this code knows, in order; version N is `MIGRATIONS[N - 1]`.
const MIGRATIONS: &[&str] = &[
    include_str!("pg_schema_v1.sql"),
    include_str!("pg_schema_v2.sql"),
];

/// Key of the advisory lock that serialises migrations when several replicas start at once
/// ("amtsbote" in ASCII). Advisory locks are per database, so installations sharing one
/// database in different schemas only wait for each other briefly at start.
const MIGRATION_LOCK: i64 = 0x616d_7473_626f_7465;

/// Who the history names for the entries written at admission (as the embedded ledger does).
const ADMIT_ACTOR: &str = "intake";

/// The ledger on PostgreSQL. Cheap to clone; clones share the pool and the outbox signal.
#[derive(Clone)]
pub struct PgLedger {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    pool_size: usize,
    statement_timeout: Duration,
    /// Fired after a commit in this process that wrote an outbox row.
    outbox_ready: Notify,
}

/// Describes a PostgreSQL error for an operator: what was being done, and what PostgreSQL
/// said, by SQLSTATE and message only. The DETAIL of an error can quote row values (e.g. the
/// key of a unique violation), so it is left out.
fn pg_err(what: &str, e: tokio_postgres::Error) -> LedgerError {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let text = if code == "57014" {
            format!(
                "PostgreSQL cancelled {what}: it ran longer than [storage.postgres] statement_timeout \
                 (a lock held too long or an overloaded server) or was cancelled by an operator"
            )
        } else if code.starts_with("08") || code.starts_with("57P") {
            format!(
                "the PostgreSQL connection was lost during {what} (SQLSTATE {code}: {}): the server \
                 restarted or dropped the connection; the pool reconnects, try again",
                db.message()
            )
        } else {
            format!(
                "PostgreSQL refused {what} (SQLSTATE {code}): {}",
                db.message()
            )
        };
        return LedgerError::Storage(text);
    }
    if e.is_closed() {
        return LedgerError::Storage(format!(
            "the PostgreSQL connection was closed during {what}: the server restarted or dropped \
             it; the pool reconnects, try again"
        ));
    }
    // Client-side failures (I/O, type conversion): their causes name types and OS errors,
    // never values.
    match std::error::Error::source(&e) {
        Some(cause) => LedgerError::Storage(format!("{what} failed on PostgreSQL: {e}: {cause}")),
        None => LedgerError::Storage(format!("{what} failed on PostgreSQL: {e}")),
    }
}

/// Why connecting failed: PostgreSQL's refusal (SQLSTATE and message: a user or database
/// name at most, never the password) or the client's (an OS error, a timeout).
fn connect_failure(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("SQLSTATE {}: {}", db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

fn json_err(what: &str, e: tokio_postgres::Error) -> LedgerError {
    // The cause is serde's message (a field name and position), not the stored value.
    match std::error::Error::source(&e) {
        Some(cause) => LedgerError::Storage(format!("stored {what} is unreadable: {cause}")),
        None => LedgerError::Storage(format!("stored {what} is unreadable: {e}")),
    }
}

impl PgLedger {
    /// Connects to PostgreSQL as `[storage.postgres]` says, and creates or migrates the
    /// ledger's tables. Several replicas may start at once: migrations run one at a time
    /// under an advisory lock, and each sees what the one before did.
    pub async fn connect(cfg: &PostgresConfig) -> Result<PgLedger, LedgerError> {
        let url = crate::secrets::read(&cfg.url)
            .map_err(|e| LedgerError::Storage(format!("[storage.postgres] url: {e}")))?;
        let mut pg: tokio_postgres::Config = url.expose().parse().map_err(|e: tokio_postgres::Error| {
            // The parser's messages can quote a character of the URL (which may be part of
            // the password); only those naming an option are safe to pass on.
            let why = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .filter(|s| s.contains("option `"))
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            LedgerError::Storage(format!(
                "[storage.postgres] url is not a valid PostgreSQL connection string{why}; expected \
                 postgres://user:password@host:port/database"
            ))
        })?;
        let timeout = (!cfg.statement_timeout.is_zero()).then_some(cfg.statement_timeout);
        // statement_timeout as a startup option: it holds for every statement on every
        // connection the pool ever opens, including after a reconnect. Options from the URL
        // (e.g. a search_path) are kept.
        let timeout_ms = cfg.statement_timeout.as_millis();
        let options = match pg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} -c statement_timeout={timeout_ms}"),
            _ => format!("-c statement_timeout={timeout_ms}"),
        };
        pg.options(&options);
        if pg.get_application_name().is_none() {
            // Lets a DBA see (and terminate) amtsbote's sessions in pg_stat_activity.
            pg.application_name("amtsbote");
        }
        if let (None, Some(t)) = (pg.get_connect_timeout(), timeout) {
            pg.connect_timeout(t);
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                // Verified: a round trip before each checkout. A connection broken by a
                // server restart fails the check and is replaced, instead of failing the
                // caller's statement.
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool_size = cfg.pool_size.max(1);
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .build()
            .map_err(|e| {
                LedgerError::Storage(format!("cannot build the PostgreSQL connection pool: {e}"))
            })?;
        let ledger = PgLedger {
            inner: Arc::new(Inner {
                pool,
                pool_size,
                statement_timeout: cfg.statement_timeout,
                outbox_ready: Notify::new(),
            }),
        };
        ledger.migrate().await?;
        Ok(ledger)
    }

    /// A pooled connection, checked to be alive.
    async fn client(&self) -> Result<Object, LedgerError> {
        self.inner.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => LedgerError::Storage(format!(
                "no PostgreSQL connection within {} ([storage.postgres] statement_timeout): all {} \
                 connections ([storage.postgres] pool_size) are busy or the server does not answer",
                humantime::format_duration(self.inner.statement_timeout),
                self.inner.pool_size
            )),
            PoolError::Backend(e) => LedgerError::Storage(format!(
                "cannot connect to PostgreSQL ({}); check that the server runs and that \
                 [storage.postgres] url names the right host, port, database, user and password",
                connect_failure(&e)
            )),
            other => LedgerError::Storage(format!("cannot get a PostgreSQL connection: {other}")),
        })
    }

    /// Applies the migrations this database has not seen yet, in one transaction under an
    /// advisory lock, and records the version reached.
    async fn migrate(&self) -> Result<(), LedgerError> {
        let mut client = self.client().await?;
        let what = "the ledger schema migration";
        let tx = client.transaction().await.map_err(|e| pg_err(what, e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| pg_err(what, e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS amtsbote_schema (
                 version     integer NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(|e| pg_err(what, e))?;
        let version: i32 = tx
            .query_opt("SELECT max(version) FROM amtsbote_schema", &[])
            .await
            .map_err(|e| pg_err(what, e))?
            .and_then(|r| r.get::<_, Option<i32>>(0))
            .unwrap_or(0);
        let known = MIGRATIONS.len() as i32;
        if version > known {
            // Written by a newer amtsbote: its tables may mean things this version does not know.
            return Err(LedgerError::Storage(format!(
                "the PostgreSQL ledger has schema version {version}, this amtsbote knows up to \
                 {known}; run the newer amtsbote"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let v = i as i32 + 1;
            tx.batch_execute(sql)
                .await
                .map_err(|e| pg_err(&format!("applying ledger schema version {v}"), e))?;
            tx.execute("INSERT INTO amtsbote_schema (version) VALUES ($1)", &[&v])
                .await
                .map_err(|e| pg_err(what, e))?;
            tracing::info!(version = v, "PostgreSQL ledger schema migrated");
        }
        tx.commit().await.map_err(|e| pg_err(what, e))
    }

    /// Entries waiting in the outbox (claimed or not), for metrics and tests.
    pub async fn outbox_len(&self) -> Result<u64, LedgerError> {
        let client = self.client().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM outbox", &[])
            .await
            .map_err(|e| pg_err("counting outbox entries", e))?
            .get(0);
        Ok(n as u64)
    }

    fn outbox_written(&self) {
        // notify_one keeps a permit when no relay waits right now, so a commit that lands
        // between a relay's claim and its next wait is not missed.
        self.inner.outbox_ready.notify_one();
    }
}

/// Writes the outbox row for an envelope, inside the caller's transaction.
async fn enqueue(tx: &Transaction<'_>, env: &Envelope) -> Result<(), LedgerError> {
    let what = "writing an outbox entry";
    let stmt = tx
        .prepare_cached("INSERT INTO outbox (message_id, connector, envelope) VALUES ($1, $2, $3)")
        .await
        .map_err(|e| pg_err(what, e))?;
    tx.execute(
        &stmt,
        &[env.message_id.as_uuid(), &env.connector, &Json(env)],
    )
    .await
    .map_err(|e| pg_err(what, e))?;
    Ok(())
}

async fn append_history(
    tx: &Transaction<'_>,
    prev_hash: &str,
    l: &Link<'_>,
) -> Result<String, LedgerError> {
    let what = "appending to the message history";
    let hash = chain::link(prev_hash, l);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO history (message_id, seq, state, at, actor, reason, attempt, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(|e| pg_err(what, e))?;
    tx.execute(
        &stmt,
        &[
            l.id.as_uuid(),
            &i64::from(l.seq),
            &l.state.as_str(),
            &l.at,
            &l.actor,
            &l.reason,
            &l.attempt.map(i64::from),
            &prev_hash,
            &hash,
        ],
    )
    .await
    .map_err(|e| pg_err(what, e))?;
    Ok(hash)
}

async fn find_transport(
    client: &Object,
    source: &str,
    transport_id: &str,
) -> Result<Option<MessageId>, LedgerError> {
    let what = "looking up a transport id";
    let stmt = client
        .prepare_cached("SELECT id FROM messages WHERE source = $1 AND transport_id = $2")
        .await
        .map_err(|e| pg_err(what, e))?;
    let row = client
        .query_opt(&stmt, &[&source, &transport_id])
        .await
        .map_err(|e| pg_err(what, e))?;
    Ok(row.map(|r| MessageId::from(r.get::<_, Uuid>(0))))
}

/// Appends one transition inside the caller's transaction; the row lock taken here holds
/// other replicas' transitions of the same message back until this transaction ends.
async fn transition_tx(
    tx: &Transaction<'_>,
    id: MessageId,
    t: &Transition,
) -> Result<State, LedgerError> {
    let what = "recording a transition";
    let stmt = tx
        .prepare_cached("SELECT state, seq, head_hash FROM messages WHERE id = $1 FOR UPDATE")
        .await
        .map_err(|e| pg_err(what, e))?;
    let Some(row) = tx
        .query_opt(&stmt, &[id.as_uuid()])
        .await
        .map_err(|e| pg_err(what, e))?
    else {
        return Err(LedgerError::NotFound(id));
    };
    let state: String = row.get(0);
    let seq: i64 = row.get(1);
    let head: String = row.get(2);
    let from: State = state.parse().map_err(LedgerError::Storage)?;
    if !from.can_become(t.to) {
        return Err(LedgerError::TransitionNotAllowed { id, from, to: t.to });
    }
    let seq = u32::try_from(seq + 1).map_err(|_| {
        LedgerError::Storage(format!("message {id}: history sequence out of range"))
    })?;
    let now = now_millis();
    let link = Link {
        id,
        seq,
        state: t.to,
        at: now,
        actor: &t.actor,
        reason: &t.reason,
        attempt: t.attempt,
    };
    let hash = append_history(tx, &head, &link).await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE messages SET state = $2, updated_at = $3, seq = $4, head_hash = $5, last_reason = $6,
                                 attempts = GREATEST(attempts, COALESCE($7::bigint, 0)),
                                 route = COALESCE($8, route), connector = COALESCE($9, connector)
             WHERE id = $1",
        )
        .await
        .map_err(|e| pg_err(what, e))?;
    tx.execute(
        &stmt,
        &[
            id.as_uuid(),
            &t.to.as_str(),
            &now,
            &i64::from(seq),
            &hash,
            &t.detail.as_deref().unwrap_or(&t.reason),
            &t.attempt.map(i64::from),
            &t.route.as_ref().map(|r| r.0.as_str()),
            &t.route.as_ref().map(|r| r.1.as_str()),
        ],
    )
    .await
    .map_err(|e| pg_err(what, e))?;
    if let Some(env) = &t.enqueue {
        enqueue(tx, env).await?;
    }
    Ok(from)
}

/// The `WHERE` clause and its arguments for a [`MessageFilter`]; the cursor only when paging.
/// Built per filter rather than one statement with `$n IS NULL OR …` arms, so that
/// PostgreSQL plans each shape with the indexes that fit it.
fn where_clause(
    filter: &MessageFilter,
    with_cursor: bool,
) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut sql = String::from("WHERE true");
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if !filter.states.is_empty() {
        let states: Vec<String> = filter.states.iter().map(|s| s.as_str().into()).collect();
        args.push(Box::new(states));
        sql.push_str(&format!(" AND state = ANY(${})", args.len()));
    }
    for (column, value) in [
        ("tenant", &filter.tenant),
        ("connector", &filter.connector),
        ("standard", &filter.standard),
    ] {
        if let Some(v) = value {
            args.push(Box::new(v.clone()));
            sql.push_str(&format!(" AND {column} = ${}", args.len()));
        }
    }
    for (column, op, value) in [
        ("updated_at", "<", filter.updated_before),
        ("updated_at", ">=", filter.updated_after),
        ("received_at", ">=", filter.received_from),
        ("received_at", "<", filter.received_to),
    ] {
        if let Some(v) = value {
            args.push(Box::new(v));
            sql.push_str(&format!(" AND {column} {op} ${}", args.len()));
        }
    }
    if !filter.exclude_tenants.is_empty() {
        args.push(Box::new(filter.exclude_tenants.clone()));
        sql.push_str(&format!(" AND NOT (tenant = ANY(${}))", args.len()));
    }
    if let (true, Some(after)) = (with_cursor, filter.after) {
        args.push(Box::new(*after.as_uuid()));
        sql.push_str(&format!(" AND id > ${}", args.len()));
    }
    (sql, args)
}

const RECORD_COLUMNS: &str = "id, tenant, source, transport_id, received_at, updated_at, state,
    content_type, header, service_key, route, connector, attempts, last_reason, parts, head_hash,
    destination, traceparent";

fn read_record(r: &Row) -> Result<MessageRecord, LedgerError> {
    let col = |e: tokio_postgres::Error| pg_err("reading a message row", e);
    let state: String = r.try_get(6).map_err(col)?;
    let header: Json<XoevHeader> = r.try_get(8).map_err(|e| json_err("XÖV header JSON", e))?;
    let parts: Json<Vec<Part>> = r.try_get(14).map_err(|e| json_err("parts JSON", e))?;
    let attempts: i64 = r.try_get(12).map_err(col)?;
    Ok(MessageRecord {
        id: MessageId::from(r.try_get::<_, Uuid>(0).map_err(col)?),
        tenant: r.try_get(1).map_err(col)?,
        source: r.try_get(2).map_err(col)?,
        transport_id: r.try_get(3).map_err(col)?,
        received_at: r.try_get(4).map_err(col)?,
        updated_at: r.try_get(5).map_err(col)?,
        state: state.parse().map_err(LedgerError::Storage)?,
        content_type: r.try_get(7).map_err(col)?,
        header: header.0,
        service_key: r.try_get(9).map_err(col)?,
        route: r.try_get(10).map_err(col)?,
        connector: r.try_get(11).map_err(col)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_reason: r.try_get(13).map_err(col)?,
        parts: parts.0,
        head_hash: r.try_get(15).map_err(col)?,
        destination: r.try_get(16).map_err(col)?,
        traceparent: r.try_get(17).map_err(col)?,
    })
}

fn read_history_entry(r: &Row) -> Result<HistoryEntry, LedgerError> {
    let col = |e: tokio_postgres::Error| pg_err("reading the message history", e);
    let seq: i64 = r.try_get(0).map_err(col)?;
    let state: String = r.try_get(1).map_err(col)?;
    let attempt: Option<i64> = r.try_get(5).map_err(col)?;
    Ok(HistoryEntry {
        // Out-of-range values cannot come from amtsbote; they make the chain check fail.
        seq: u32::try_from(seq).unwrap_or(u32::MAX),
        state: state.parse().map_err(LedgerError::Storage)?,
        at: r.try_get(2).map_err(col)?,
        actor: r.try_get(3).map_err(col)?,
        reason: r.try_get(4).map_err(col)?,
        attempt: attempt.map(|a| u32::try_from(a).unwrap_or(u32::MAX)),
        prev_hash: r.try_get(6).map_err(col)?,
        hash: r.try_get(7).map_err(col)?,
    })
}

#[async_trait]
impl Ledger for PgLedger {
    async fn admit(&self, m: NewMessage) -> Result<Admission, LedgerError> {
        let what = "admitting a message";
        let mut client = self.client().await?;
        // The cheap answer for the common repeat (a transport redelivering); the unique
        // constraint below is what holds when two replicas race.
        if let Some(tid) = &m.transport_id
            && let Some(id) = find_transport(&client, &m.source, tid).await?
        {
            return Ok(Admission::Duplicate(id));
        }
        m.check_path()?;
        let mut entries = vec![(State::Received, "received".to_string())];
        entries.extend(m.path.iter().cloned());
        // The chain depends on nothing in the database, so the row is written with its head.
        let now = m.received_at;
        let mut links = Vec::with_capacity(entries.len());
        let mut prev = chain::genesis(
            m.id,
            &m.tenant,
            &m.source,
            m.transport_id.as_deref(),
            m.received_at,
        );
        for (i, (state, reason)) in entries.iter().enumerate() {
            let link = Link {
                id: m.id,
                seq: i as u32 + 1,
                state: *state,
                at: now,
                actor: ADMIT_ACTOR,
                reason,
                attempt: None,
            };
            let hash = chain::link(&prev, &link);
            links.push((prev, hash.clone()));
            prev = hash;
        }
        let (last_state, last_reason) = entries.last().cloned().expect("received is always there");
        let (route, connector) = match &m.route {
            Some((r, c)) => (Some(r.as_str()), Some(c.as_str())),
            None => (None, None),
        };
        let tx = client.transaction().await.map_err(|e| pg_err(what, e))?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO messages (id, tenant, source, transport_id, received_at, updated_at, state,
                                       content_type, header, standard, message_type, service_key, route,
                                       connector, attempts, last_reason, parts, seq, head_hash, destination,
                                       traceparent)
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, $16, $17, $18, $19)
                 ON CONFLICT ON CONSTRAINT messages_transport_unique DO NOTHING",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let inserted = tx
            .execute(
                &stmt,
                &[
                    m.id.as_uuid(),
                    &m.tenant,
                    &m.source,
                    &m.transport_id,
                    &m.received_at,
                    &last_state.as_str(),
                    &m.content_type,
                    &Json(&m.header),
                    &m.header.standard,
                    &m.header.message_type,
                    &m.service_key,
                    &route,
                    &connector,
                    &last_reason,
                    &Json(&m.parts),
                    &(entries.len() as i64),
                    &prev,
                    &m.destination,
                    &m.traceparent,
                ],
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        if inserted == 0 {
            // Another replica admitted the same transport id since the lookup above; the
            // insert waited for its commit, so its row is visible now.
            tx.rollback().await.map_err(|e| pg_err(what, e))?;
            let tid = m.transport_id.as_deref().unwrap_or_default();
            return match find_transport(&client, &m.source, tid).await? {
                Some(id) => Ok(Admission::Duplicate(id)),
                None => Err(LedgerError::Storage(format!(
                    "message {}: PostgreSQL reported a duplicate transport id but has no row for it; \
                     try again",
                    m.id
                ))),
            };
        }
        // The whole first stretch of history in one statement (one round trip, whatever
        // the path's length).
        let stmt = tx
            .prepare_cached(
                "INSERT INTO history (message_id, seq, state, at, actor, reason, attempt, prev_hash, hash)
                 SELECT $1, h.seq, h.state, $2, $3, h.reason, NULL, h.prev_hash, h.hash
                 FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
                      AS h (seq, state, reason, prev_hash, hash)",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let seqs: Vec<i64> = (1..=entries.len() as i64).collect();
        let states: Vec<&str> = entries.iter().map(|(s, _)| s.as_str()).collect();
        let reasons: Vec<&str> = entries.iter().map(|(_, r)| r.as_str()).collect();
        let prevs: Vec<&str> = links.iter().map(|(p, _)| p.as_str()).collect();
        let hashes: Vec<&str> = links.iter().map(|(_, h)| h.as_str()).collect();
        tx.execute(
            &stmt,
            &[
                m.id.as_uuid(),
                &now,
                &ADMIT_ACTOR,
                &seqs,
                &states,
                &reasons,
                &prevs,
                &hashes,
            ],
        )
        .await
        .map_err(|e| pg_err(what, e))?;
        if let Some(env) = &m.enqueue {
            enqueue(&tx, env).await?;
        }
        tx.commit().await.map_err(|e| pg_err(what, e))?;
        if m.enqueue.is_some() {
            self.outbox_written();
        }
        Ok(Admission::Created(m.id))
    }

    async fn find_by_transport(
        &self,
        source: &str,
        transport_id: &str,
    ) -> Result<Option<MessageId>, LedgerError> {
        let client = self.client().await?;
        find_transport(&client, source, transport_id).await
    }

    async fn transitions(&self, id: MessageId, ts: Vec<Transition>) -> Result<State, LedgerError> {
        let what = "recording transitions";
        if ts.is_empty() {
            return Err(LedgerError::Storage("no transition given".into()));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| pg_err(what, e))?;
        let mut first = None;
        for t in &ts {
            // An error drops `tx`, which rolls back everything before it: all or none.
            let from = transition_tx(&tx, id, t).await?;
            first.get_or_insert(from);
        }
        tx.commit().await.map_err(|e| pg_err(what, e))?;
        if ts.iter().any(|t| t.enqueue.is_some()) {
            self.outbox_written();
        }
        Ok(first.expect("at least one transition"))
    }

    async fn get(&self, id: MessageId) -> Result<Option<MessageDetail>, LedgerError> {
        let what = "reading a message";
        let mut client = self.client().await?;
        // One snapshot for the row and its history, so that a transition committed between
        // the two reads cannot look like a broken chain.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| pg_err(what, e))?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM messages WHERE id = $1"
            ))
            .await
            .map_err(|e| pg_err(what, e))?;
        let Some(row) = tx
            .query_opt(&stmt, &[id.as_uuid()])
            .await
            .map_err(|e| pg_err(what, e))?
        else {
            return Ok(None);
        };
        let message = read_record(&row)?;
        let stmt = tx
            .prepare_cached(
                "SELECT seq, state, at, actor, reason, attempt, prev_hash, hash
                 FROM history WHERE message_id = $1 ORDER BY seq",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let history = tx
            .query(&stmt, &[id.as_uuid()])
            .await
            .map_err(|e| pg_err(what, e))?
            .iter()
            .map(read_history_entry)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(|e| pg_err(what, e))?;
        Ok(Some(MessageDetail { message, history }))
    }

    async fn list(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>, LedgerError> {
        let what = "listing messages";
        let (clause, mut args) = where_clause(filter, true);
        // UUIDv7 ids compare bytewise in PostgreSQL as their text does in SQLite: by arrival.
        let mut sql = format!("SELECT {RECORD_COLUMNS} FROM messages {clause} ORDER BY id");
        if filter.limit > 0 {
            args.push(Box::new(i64::try_from(filter.limit).unwrap_or(i64::MAX)));
            sql.push_str(&format!(" LIMIT ${}", args.len()));
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&sql)
            .await
            .map_err(|e| pg_err(what, e))?;
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
        client
            .query(&stmt, &refs)
            .await
            .map_err(|e| pg_err(what, e))?
            .iter()
            .map(read_record)
            .collect()
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        let client = self.client().await?;
        client
            .query_one("SELECT 1", &[])
            .await
            .map(|_| ())
            .map_err(|e| pg_err("checking the ledger database", e))
    }

    async fn count(&self, filter: &MessageFilter) -> Result<u64, LedgerError> {
        let what = "counting messages";
        let (clause, args) = where_clause(filter, false);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT count(*) FROM messages {clause}"))
            .await
            .map_err(|e| pg_err(what, e))?;
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
        let row = client
            .query_one(&stmt, &refs)
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, LedgerError> {
        let what = "counting messages by state";
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tenant, source, connector, state, count(*) FROM messages
                 GROUP BY tenant, source, connector, state ORDER BY tenant, source, connector, state",
                &[],
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        rows.iter()
            .map(|r| {
                let state: String = r.get(3);
                Ok(StateCount {
                    tenant: r.get(0),
                    source: r.get(1),
                    connector: r.get(2),
                    state: state.parse().map_err(LedgerError::Storage)?,
                    count: r.get::<_, i64>(4) as u64,
                })
            })
            .collect()
    }

    async fn inbound_claim(
        &self,
        source: &str,
        transport_id: &str,
        note: &str,
    ) -> Result<(), LedgerError> {
        let what = "recording an inbound claim";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO inbound (source, transport_id, note, claimed_at)
                 VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                 ON CONFLICT (source, transport_id) DO UPDATE SET note = excluded.note",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        client
            .execute(&stmt, &[&source, &transport_id, &note])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(())
    }

    async fn inbound_open(&self, source: &str) -> Result<Vec<InboundClaim>, LedgerError> {
        let what = "reading the inbound journal";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT transport_id, note, claimed_at FROM inbound WHERE source = $1
                 ORDER BY claimed_at, seq",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let rows = client
            .query(&stmt, &[&source])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(rows
            .iter()
            .map(|r| InboundClaim {
                transport_id: r.get(0),
                note: r.get(1),
                claimed_at: r.get::<_, Millis>(2),
            })
            .collect())
    }

    async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, LedgerError> {
        let what = "summarising the inbound journal";
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT source, count(*), min(claimed_at) FROM inbound GROUP BY source",
                &[],
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(rows
            .iter()
            .map(|r| InboundSummary {
                source: r.get(0),
                open: r.get::<_, i64>(1) as u64,
                oldest_claimed_at: r.get::<_, Millis>(2),
            })
            .collect())
    }

    async fn inbound_done(&self, source: &str, transport_id: &str) -> Result<(), LedgerError> {
        let what = "closing an inbound claim";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM inbound WHERE source = $1 AND transport_id = $2")
            .await
            .map_err(|e| pg_err(what, e))?;
        client
            .execute(&stmt, &[&source, &transport_id])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(())
    }

    async fn lease_poller(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, LedgerError> {
        let what = "taking a poller lease";
        let client = self.client().await?;
        // One statement, so two replicas cannot both see the lease free: the loser of the
        // insert race re-checks the winner's committed row in the WHERE. Times are the
        // database's, not the replicas'.
        let stmt = client
            .prepare_cached(
                "INSERT INTO poller_leases (name, holder, until)
                 VALUES ($1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE poller_leases.holder = $2 OR poller_leases.until < now()",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let changed = client
            .execute(&stmt, &[&name, &holder, &ttl.as_secs_f64()])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(changed == 1)
    }

    async fn release_poller(&self, name: &str, holder: &str) -> Result<(), LedgerError> {
        let what = "releasing a poller lease";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM poller_leases WHERE name = $1 AND holder = $2")
            .await
            .map_err(|e| pg_err(what, e))?;
        client
            .execute(&stmt, &[&name, &holder])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for PgLedger {
    async fn outbox_claim(
        &self,
        limit: usize,
        claim_for: Duration,
    ) -> Result<Vec<OutboxEntry>, LedgerError> {
        let what = "claiming outbox entries";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        // SKIP LOCKED: relays on other replicas claiming at the same moment take other rows
        // instead of waiting for these.
        let stmt = client
            .prepare_cached(
                "UPDATE outbox SET claimed_until = now() + make_interval(secs => $2)
                 WHERE seq IN (SELECT seq FROM outbox
                               WHERE claimed_until IS NULL OR claimed_until < now()
                               ORDER BY seq LIMIT $1
                               FOR UPDATE SKIP LOCKED)
                 RETURNING seq, envelope",
            )
            .await
            .map_err(|e| pg_err(what, e))?;
        let rows = client
            .query(&stmt, &[&limit, &claim_for.as_secs_f64()])
            .await
            .map_err(|e| pg_err(what, e))?;
        let mut entries = rows
            .iter()
            .map(|r| {
                let envelope: Json<Envelope> =
                    r.try_get(1).map_err(|e| json_err("outbox envelope", e))?;
                Ok(OutboxEntry {
                    seq: r.get(0),
                    envelope: envelope.0,
                })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        // RETURNING has no order of its own.
        entries.sort_by_key(|e| e.seq);
        Ok(entries)
    }

    async fn outbox_done(&self, seqs: &[i64]) -> Result<(), LedgerError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let what = "removing published outbox entries";
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM outbox WHERE seq = ANY($1)")
            .await
            .map_err(|e| pg_err(what, e))?;
        client
            .execute(&stmt, &[&seqs])
            .await
            .map_err(|e| pg_err(what, e))?;
        Ok(())
    }

    async fn outbox_wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.outbox_ready.notified()).await;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The PostgreSQL ledger against the shared suite, plus what only a shared database shows:
    //! races between replicas, the outbox, the pool after lost connections. Each test works
    //! in a schema of its own on the server named by `AMTSBOTE_TEST_PG_URL`, and drops it.
    use super::*;
    use crate::config::SecretRef;
    use crate::conformance::{self, Subject};
    use crate::ledger::ChainVerdict;
    use crate::queue::{Consumer, Queue, QueueDepth, QueueError};
    use std::collections::{BTreeSet, HashMap};
    use std::time::Instant;

    const URL_VAR: &str = "AMTSBOTE_TEST_PG_URL";

    fn base_url() -> String {
        std::env::var(URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{URL_VAR} is not set: start PostgreSQL with `scripts/services.sh start` and export \
                 what it prints (scripts/test.sh does both)"
            )
        })
    }

    /// A plain connection to the test database, outside any ledger (the "someone else" of a
    /// test: another transaction, a DBA, an attacker).
    async fn admin(schema: Option<&str>) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&base_url(), NoTls)
            .await
            .expect("connect to the test PostgreSQL");
        tokio::spawn(conn);
        if let Some(s) = schema {
            client
                .batch_execute(&format!("SET search_path = {s}"))
                .await
                .unwrap();
        }
        client
    }

    /// A schema of one test's own, dropped when the test ends (also when it fails).
    pub(crate) struct TestSchema {
        name: String,
        dir: tempfile::TempDir,
    }

    impl TestSchema {
        pub(crate) async fn new() -> TestSchema {
            let name = format!("t_{}", Uuid::new_v4().simple());
            admin(None)
                .await
                .batch_execute(&format!("CREATE SCHEMA {name}"))
                .await
                .unwrap();
            TestSchema {
                name,
                dir: tempfile::tempdir().unwrap(),
            }
        }

        /// A configuration whose connections work in this schema and carry `app` as their
        /// application_name, so that a test can find (and terminate) exactly its own.
        fn config(&self, app: &str) -> PostgresConfig {
            let base = base_url();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!(
                "{base}{sep}options=-c%20search_path%3D{}&application_name={app}",
                self.name
            );
            let file = self.dir.path().join(format!("url-{app}"));
            std::fs::write(&file, url).unwrap();
            PostgresConfig {
                url: SecretRef {
                    file: Some(file),
                    env: None,
                },
                pool_size: 4,
                statement_timeout: Duration::from_secs(10),
            }
        }

        pub(crate) async fn ledger(&self) -> PgLedger {
            PgLedger::connect(&self.config("amtsbote-test"))
                .await
                .unwrap()
        }

        async fn admin(&self) -> tokio_postgres::Client {
            admin(Some(&self.name)).await
        }
    }

    impl Drop for TestSchema {
        fn drop(&mut self) {
            let (name, url) = (self.name.clone(), base_url());
            // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
            // a runtime of its own can.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((c, conn)) = tokio_postgres::connect(&url, NoTls).await {
                        tokio::spawn(conn);
                        let _ = c
                            .batch_execute(&format!(
                                "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }

    /// The queue half of a [`Subject`] until the RabbitMQ queue is there: the functions of
    /// the suite run here use only the ledger.
    struct NoQueue;

    #[async_trait]
    impl Queue for NoQueue {
        async fn publish(&self, _: &Envelope) -> Result<(), QueueError> {
            unreachable!("the PostgreSQL ledger tests run only the ledger's part of the suite")
        }
        async fn consume(&self, _: &str) -> Result<Box<dyn Consumer>, QueueError> {
            unreachable!("the PostgreSQL ledger tests run only the ledger's part of the suite")
        }
        async fn depth(&self) -> Result<Vec<QueueDepth>, QueueError> {
            unreachable!("the PostgreSQL ledger tests run only the ledger's part of the suite")
        }
    }

    macro_rules! suite {
        ($($name:ident),*) => {$(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let schema = TestSchema::new().await;
                let s = Subject {
                    ledger: Arc::new(schema.ledger().await),
                    queue: Arc::new(NoQueue),
                    visibility_timeout: Duration::from_millis(300),
                };
                conformance::$name(&s).await;
            }
        )*};
    }

    suite!(
        admission_and_dedupe,
        the_state_machine_is_enforced,
        the_inbound_journal_remembers_open_work,
        one_replica_holds_a_poller_lease,
        list_filters_and_pages,
        resolve_and_purge_are_audited,
        the_trace_context_is_kept
    );

    /// The routed test message with a transport id.
    fn routed(transport_id: Option<&str>) -> NewMessage {
        conformance::new_message(transport_id, Some("c1"))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn two_replicas_admitting_the_same_submission_make_one_message() {
        let schema = TestSchema::new().await;
        let a = schema.ledger().await;
        let b = PgLedger::connect(&schema.config("amtsbote-test-b"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..15 {
            for l in [a.clone(), b.clone()] {
                let m = routed(Some(&format!("race-{i}")));
                tasks.push(tokio::spawn(async move { (i, l.admit(m).await.unwrap()) }));
            }
        }
        let mut by_transport: HashMap<i32, Vec<Admission>> = HashMap::new();
        for t in tasks {
            let (i, admission) = t.await.unwrap();
            by_transport.entry(i).or_default().push(admission);
        }
        for (i, admissions) in &by_transport {
            let ids: BTreeSet<MessageId> = admissions.iter().map(|a| a.id()).collect();
            assert_eq!(ids.len(), 1, "race-{i}: one id for both: {admissions:?}");
            let created = admissions
                .iter()
                .filter(|a| matches!(a, Admission::Created(_)))
                .count();
            assert_eq!(created, 1, "race-{i}: {admissions:?}");
        }
        assert_eq!(a.list(&MessageFilter::default()).await.unwrap().len(), 15);
        assert_eq!(a.outbox_len().await.unwrap(), 15, "one queue entry each");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn transitions_from_two_replicas_keep_one_chain() {
        let schema = TestSchema::new().await;
        let a = schema.ledger().await;
        let b = PgLedger::connect(&schema.config("amtsbote-test-b"))
            .await
            .unwrap();
        let m = routed(None);
        let id = m.id;
        a.admit(m).await.unwrap();
        // `delivering` may follow itself (a new attempt after a lost lease), so every one of
        // these is allowed; without the row lock two would claim the same history seq.
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let l = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                l.transition(
                    id,
                    Transition::new(State::Delivering, "worker:c1", "attempt").attempt(i + 1),
                )
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            a.verify(id).await.unwrap(),
            ChainVerdict::Intact { entries: 23 }
        );
        let rec = b.get(id).await.unwrap().unwrap().message;
        assert_eq!(rec.attempts, 20, "the highest attempt counts");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_admit_racing_an_uncommitted_one_waits_and_returns_the_first_id() {
        let schema = TestSchema::new().await;
        let ledger = schema.ledger().await;
        // Another replica has inserted the same transport id and not committed yet: the
        // lookup cannot see it, so only the unique constraint can stop the second message.
        let mut other = schema.admin().await;
        let tx = other.transaction().await.unwrap();
        let first = MessageId::new();
        tx.execute(
            "INSERT INTO messages (id, tenant, source, transport_id, received_at, updated_at, state,
                                   content_type, header, parts, seq, head_hash)
             VALUES ($1, 'musterstadt', 'formserver', 'held', 0, 0, 'received', 'application/xml',
                     '{\"test\": false}', '[]', 0, '')",
            &[first.as_uuid()],
        )
        .await
        .unwrap();
        let racing = tokio::spawn({
            let ledger = ledger.clone();
            async move { ledger.admit(routed(Some("held"))).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !racing.is_finished(),
            "the second insert waits for the first"
        );
        tx.commit().await.unwrap();
        let admission = tokio::time::timeout(Duration::from_secs(5), racing)
            .await
            .expect("answered once the first committed")
            .unwrap()
            .unwrap();
        assert_eq!(admission, Admission::Duplicate(first));
        assert_eq!(ledger.outbox_len().await.unwrap(), 0, "nothing changed");
        assert_eq!(
            ledger.list(&MessageFilter::default()).await.unwrap().len(),
            1
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn outbox_rows_commit_with_the_ledger_change_and_are_claimed_once() {
        let schema = TestSchema::new().await;
        let ledger = schema.ledger().await;
        let m = routed(None);
        let envelope = m.enqueue.clone().unwrap();
        ledger.admit(m).await.unwrap();
        let unrouted = conformance::new_message(None, None);
        let unrouted_id = unrouted.id;
        ledger.admit(unrouted).await.unwrap();
        assert_eq!(ledger.outbox_len().await.unwrap(), 1, "only the routed one");

        let claimed = ledger
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            claimed[0].envelope, envelope,
            "the envelope comes back whole"
        );
        assert!(
            ledger
                .outbox_claim(10, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty(),
            "a claimed entry is not handed out twice"
        );
        ledger.outbox_done(&[claimed[0].seq]).await.unwrap();
        assert_eq!(ledger.outbox_len().await.unwrap(), 0);

        // A refused transition writes no outbox row, though its first step was allowed.
        let rec = ledger.get(unrouted_id).await.unwrap().unwrap().message;
        let refused = ledger
            .transitions(
                unrouted_id,
                vec![
                    Transition::new(State::Replayed, "operator:test", "route added"),
                    Transition::new(State::Delivered, "operator:test", "no")
                        .enqueue(rec.envelope("gewerbe", "c2")),
                ],
            )
            .await;
        assert!(matches!(
            refused,
            Err(LedgerError::TransitionNotAllowed { .. })
        ));
        assert_eq!(ledger.outbox_len().await.unwrap(), 0);
        // The replay with a route enqueues.
        ledger
            .transitions(
                unrouted_id,
                vec![
                    Transition::new(State::Replayed, "operator:test", "route added"),
                    Transition::new(State::Routed, "operator:test", "route gewerbe")
                        .enqueue(rec.envelope("gewerbe", "c2")),
                ],
            )
            .await
            .unwrap();
        let claimed = ledger
            .outbox_claim(10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].envelope.message_id, unrouted_id);
        assert_eq!(claimed[0].envelope.connector, "c2");
        let rec = ledger.get(unrouted_id).await.unwrap().unwrap().message;
        assert_eq!(rec.connector.as_deref(), Some("c2"));
        assert_eq!(
            ledger.verify(unrouted_id).await.unwrap(),
            ChainVerdict::Intact { entries: 5 }
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_expired_claim_lets_another_relay_publish() {
        let schema = TestSchema::new().await;
        let a = schema.ledger().await;
        let b = PgLedger::connect(&schema.config("amtsbote-test-b"))
            .await
            .unwrap();
        for _ in 0..3 {
            a.admit(routed(None)).await.unwrap();
        }
        let lost = a
            .outbox_claim(10, Duration::from_millis(300))
            .await
            .unwrap();
        assert_eq!(lost.len(), 3);
        assert!(
            b.outbox_claim(10, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );
        // The first relay died without publishing; its claim runs out.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let again = b.outbox_claim(2, Duration::from_secs(30)).await.unwrap();
        let seqs = |es: &[OutboxEntry]| es.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(
            seqs(&again),
            seqs(&lost[..2]),
            "oldest first, up to the limit"
        );
        b.outbox_done(&seqs(&again)).await.unwrap();
        assert_eq!(a.outbox_len().await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn relays_skip_rows_another_relay_is_claiming() {
        let schema = TestSchema::new().await;
        let ledger = schema.ledger().await;
        for _ in 0..2 {
            ledger.admit(routed(None)).await.unwrap();
        }
        // Another relay's claim transaction holds the oldest row locked.
        let mut other = schema.admin().await;
        let tx = other.transaction().await.unwrap();
        let locked: i64 = tx
            .query_one(
                "SELECT seq FROM outbox ORDER BY seq LIMIT 1 FOR UPDATE",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let claimed = tokio::time::timeout(
            Duration::from_secs(3),
            ledger.outbox_claim(10, Duration::from_secs(30)),
        )
        .await
        .expect("a locked row is skipped, not waited for")
        .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_ne!(claimed[0].seq, locked);
        tx.rollback().await.unwrap();

        // Many relays at once: every row goes to exactly one.
        for _ in 0..38 {
            ledger.admit(routed(None)).await.unwrap();
        }
        let b = PgLedger::connect(&schema.config("amtsbote-test-b"))
            .await
            .unwrap();
        let mut relays = Vec::new();
        for l in [ledger.clone(), ledger.clone(), b.clone(), b.clone()] {
            relays.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = l.outbox_claim(3, Duration::from_secs(60)).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|e| e.seq));
                }
            }));
        }
        // The row claimed above stays claimed; the one that was locked is free again.
        let mut all = vec![claimed[0].seq];
        for r in relays {
            all.extend(r.await.unwrap());
        }
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "no row claimed twice: {all:?}");
        assert_eq!(all.len(), 40, "every row claimed");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn outbox_wait_returns_when_this_process_wrote_an_entry() {
        let schema = TestSchema::new().await;
        let ledger = schema.ledger().await;
        let started = Instant::now();
        ledger.outbox_wait(Duration::from_millis(300)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(290),
            "nothing written"
        );
        let writer = ledger.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            writer.admit(routed(None)).await.unwrap();
        });
        let started = Instant::now();
        ledger.outbox_wait(Duration::from_secs(20)).await;
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by the commit: {:?}",
            started.elapsed()
        );
        // A commit while no relay waits is not lost either.
        ledger.admit(routed(None)).await.unwrap();
        let started = Instant::now();
        ledger.outbox_wait(Duration::from_secs(20)).await;
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn replicas_racing_for_a_free_poller_lease_get_one_holder() {
        let schema = TestSchema::new().await;
        let a = schema.ledger().await;
        let b = PgLedger::connect(&schema.config("amtsbote-test-b"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let l = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let holder = format!("replica-{i}");
                let got = l
                    .lease_poller("fit-connect:d1", &holder, Duration::from_secs(30))
                    .await
                    .unwrap();
                got.then_some(holder)
            }));
        }
        let mut holders = Vec::new();
        for t in tasks {
            holders.extend(t.await.unwrap());
        }
        assert_eq!(holders.len(), 1, "{holders:?}");
        let db = schema.admin().await;
        let row = db
            .query_one(
                "SELECT holder, until > now() + interval '25 seconds' FROM poller_leases",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), holders[0]);
        assert!(
            row.get::<_, bool>(1),
            "the ttl counts from the database's now()"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn tampering_with_the_history_is_detected() {
        let schema = TestSchema::new().await;
        let ledger = schema.ledger().await;
        let m = routed(None);
        let id = m.id;
        ledger.admit(m).await.unwrap();
        let db = schema.admin().await;
        // The history is append-only for SQL too.
        let refused = db
            .execute(
                "UPDATE history SET reason = 'x' WHERE message_id = $1",
                &[id.as_uuid()],
            )
            .await;
        assert!(refused.is_err(), "the trigger refuses updates");
        assert!(
            db.execute("DELETE FROM history WHERE message_id = $1", &[id.as_uuid()])
                .await
                .is_err(),
            "and deletes"
        );
        // Someone drops the trigger and rewrites a reason: the chain shows it.
        db.batch_execute("DROP TRIGGER history_is_append_only ON history")
            .await
            .unwrap();
        db.execute(
            "UPDATE history SET reason = 'edited' WHERE message_id = $1 AND seq = 2",
            &[id.as_uuid()],
        )
        .await
        .unwrap();
        assert_eq!(
            ledger.verify(id).await.unwrap(),
            ChainVerdict::Broken { seq: 2 }
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_pool_recovers_after_its_connections_were_terminated() {
        let schema = TestSchema::new().await;
        let app = format!("amtsbote-t-{}", &Uuid::new_v4().simple().to_string()[..12]);
        let ledger = PgLedger::connect(&schema.config(&app)).await.unwrap();
        let m = routed(Some("before"));
        let id = m.id;
        ledger.admit(m).await.unwrap();
        // Several connections in the pool, all idle now.
        let reads: Vec<_> = (0..4)
            .map(|_| {
                let l = ledger.clone();
                tokio::spawn(async move { l.get(id).await.unwrap() })
            })
            .collect();
        for r in reads {
            r.await.unwrap();
        }
        // What a server restart or failover does to them — only to this test's own.
        let db = admin(None).await;
        let terminated: i64 = db
            .query_one(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert!(terminated >= 1, "the ledger's connections were found");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Broken connections are replaced on checkout, not handed out.
        assert!(ledger.get(id).await.unwrap().is_some());
        ledger.admit(routed(Some("after"))).await.unwrap();
        assert_eq!(
            ledger.list(&MessageFilter::default()).await.unwrap().len(),
            2
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connections_carry_the_statement_timeout() {
        let schema = TestSchema::new().await;
        let mut cfg = schema.config("amtsbote-test");
        cfg.statement_timeout = Duration::from_millis(1500);
        let ledger = PgLedger::connect(&cfg).await.unwrap();
        let client = ledger.client().await.unwrap();
        let shown: String = client
            .query_one("SHOW statement_timeout", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(shown, "1500ms");
        let path: String = client
            .query_one("SHOW search_path", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(path, schema.name, "options from the URL are kept");
        let err = client
            .execute("SELECT pg_sleep(3)", &[])
            .await
            .map_err(|e| pg_err("a slow statement", e))
            .unwrap_err();
        assert!(err.to_string().contains("statement_timeout"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn replicas_starting_together_migrate_once_and_newer_schemas_are_refused() {
        let schema = TestSchema::new().await;
        let (ca, cb) = (
            schema.config("amtsbote-test-a"),
            schema.config("amtsbote-test-b"),
        );
        let (a, b) = tokio::join!(PgLedger::connect(&ca), PgLedger::connect(&cb));
        a.unwrap();
        b.unwrap();
        let db = schema.admin().await;
        let versions: Vec<i32> = db
            .query("SELECT version FROM amtsbote_schema", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Each version applied once, whichever replica got there first.
        let mut versions = versions;
        versions.sort();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
        db.execute("INSERT INTO amtsbote_schema (version) VALUES (99)", &[])
            .await
            .unwrap();
        let Err(err) = PgLedger::connect(&schema.config("amtsbote-test")).await else {
            panic!("a newer schema is refused");
        };
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn connection_errors_say_what_failed_and_never_print_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = |url: &str| {
            let file = dir.path().join("url");
            std::fs::write(&file, url).unwrap();
            PostgresConfig {
                url: SecretRef {
                    file: Some(file),
                    env: None,
                },
                pool_size: 2,
                statement_timeout: Duration::from_secs(2),
            }
        };
        let connect = async |c: PostgresConfig| match PgLedger::connect(&c).await {
            Ok(_) => panic!("cannot connect"),
            Err(e) => e.to_string(),
        };
        // Nothing listens on port 1.
        let err = connect(cfg("postgres://amtsbote:hunter2@127.0.0.1:1/amtsbote")).await;
        assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = connect(cfg("postgres://amtsbote:hunter2@127.0.0.1:port/amtsbote")).await;
        assert!(
            err.contains("not a valid PostgreSQL connection string"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        let err = connect(PostgresConfig {
            url: SecretRef {
                file: Some(dir.path().join("missing")),
                env: None,
            },
            pool_size: 2,
            statement_timeout: Duration::from_secs(2),
        })
        .await;
        assert!(err.contains("[storage.postgres] url"), "{err}");
        assert!(err.contains("missing"), "{err}");
    }
}
