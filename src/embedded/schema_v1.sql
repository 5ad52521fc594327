-- amtsbote embedded database, schema version 1: ledger and queue in one file.

CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    source        TEXT NOT NULL,
    transport_id  TEXT,
    received_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    state         TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    header        TEXT NOT NULL,      -- JSON: sniffed XÖV header (metadata only)
    standard      TEXT,
    message_type  TEXT,
    service_key   TEXT,
    route         TEXT,
    connector     TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_reason   TEXT NOT NULL DEFAULT '',
    parts         TEXT NOT NULL,      -- JSON: stored parts (names, sizes, hashes)
    seq           INTEGER NOT NULL,   -- last history entry
    head_hash     TEXT NOT NULL       -- hash of the last history entry
);
-- A transport id is unique per source: the same submission is never processed twice.
CREATE UNIQUE INDEX messages_by_transport ON messages (source, transport_id)
    WHERE transport_id IS NOT NULL;
CREATE INDEX messages_by_state ON messages (state, updated_at);
CREATE INDEX messages_by_tenant ON messages (tenant, state);

CREATE TABLE history (
    message_id  TEXT NOT NULL REFERENCES messages (id),
    seq         INTEGER NOT NULL,
    state       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    attempt     INTEGER,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;

CREATE TRIGGER history_is_append_only_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'the ledger history is append-only'); END;
CREATE TRIGGER history_is_append_only_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'the ledger history is append-only'); END;

-- One live queue entry per message. status 'ready' entries are consumed (when due and not
-- leased); 'dead' entries are the dead letters of the connector.
CREATE TABLE queue (
    message_id        TEXT PRIMARY KEY REFERENCES messages (id),
    connector         TEXT NOT NULL,
    envelope          TEXT NOT NULL,  -- JSON envelope (claim check, no payload)
    status            TEXT NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,  -- attempts started
    first_attempt_at  INTEGER,
    not_before        INTEGER NOT NULL,
    lease_token       TEXT,
    lease_until       INTEGER,
    enqueued_at       INTEGER NOT NULL,
    dead_reason       TEXT
);
CREATE INDEX queue_due ON queue (connector, status, not_before);
