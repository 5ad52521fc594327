-- amtsbote cluster ledger on PostgreSQL, schema version 1: the ledger, the inbound journal,
-- poller leases and the transactional outbox. Mirrors the embedded schema (v1–v3) so that
-- both backends keep the same promises; the queue itself lives in RabbitMQ.

CREATE TABLE messages (
    id            uuid PRIMARY KEY,
    tenant        text NOT NULL,
    source        text NOT NULL,
    transport_id  text,
    received_at   bigint NOT NULL,    -- ms since epoch (covered by the hash chain)
    updated_at    bigint NOT NULL,
    state         text NOT NULL,
    content_type  text NOT NULL,
    header        jsonb NOT NULL,     -- sniffed XÖV header (metadata only)
    standard      text,
    message_type  text,
    service_key   text,
    destination   text,
    route         text,
    connector     text,
    attempts      bigint NOT NULL DEFAULT 0,
    last_reason   text NOT NULL DEFAULT '',
    parts         jsonb NOT NULL,     -- stored parts (names, sizes, hashes)
    seq           bigint NOT NULL,    -- last history entry
    head_hash     text NOT NULL,      -- hash of the last history entry
    -- A transport id is unique per source: the same submission is never processed twice,
    -- whichever replica it reaches. NULLs are distinct, so messages without one never clash.
    CONSTRAINT messages_transport_unique UNIQUE (source, transport_id)
);
CREATE INDEX messages_by_state ON messages (state, updated_at);
CREATE INDEX messages_by_tenant ON messages (tenant, state);
CREATE INDEX messages_by_connector ON messages (connector, state);

CREATE TABLE history (
    message_id  uuid NOT NULL REFERENCES messages (id),
    seq         bigint NOT NULL,
    state       text NOT NULL,
    at          bigint NOT NULL,      -- ms since epoch
    actor       text NOT NULL,
    reason      text NOT NULL,
    attempt     bigint,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    PRIMARY KEY (message_id, seq)
);

-- The history is the audit trail: append-only for SQL too. (Someone with the rights can
-- still drop the trigger; the hash chain is what makes that visible.)
CREATE FUNCTION history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger history is append-only';
END
$$;
CREATE TRIGGER history_is_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION history_is_append_only();

-- The inbound journal: transport ids an inbound adapter has taken off its transport (or is
-- about to) and not yet answered there.
CREATE TABLE inbound (
    source        text NOT NULL,
    transport_id  text NOT NULL,
    note          text NOT NULL,      -- adapter's own JSON: case id, tags, problems (no content)
    claimed_at    bigint NOT NULL,    -- ms since epoch, database clock
    seq           bigserial NOT NULL, -- tie-breaker for claims within the same millisecond
    PRIMARY KEY (source, transport_id)
);

-- Poller leases: one replica polls a FIT-Connect destination or an XTA mailbox at a time.
-- Times are the database's clock, so replicas with skewed clocks still agree.
CREATE TABLE poller_leases (
    name    text PRIMARY KEY,         -- e.g. `fit-connect:<destination id>`, `xta:<account>`
    holder  text NOT NULL,            -- the replica that polls
    until   timestamptz NOT NULL      -- after this anyone may take it
);

-- The transactional outbox: queue entries written in the same transaction as the ledger
-- change, published to RabbitMQ by a relay and deleted once the broker confirmed them.
CREATE TABLE outbox (
    seq            bigserial PRIMARY KEY,
    message_id     uuid NOT NULL,
    connector      text NOT NULL,
    envelope       jsonb NOT NULL,    -- the Envelope (claim check, no payload)
    claimed_until  timestamptz,       -- a relay is publishing it until then
    created_at     timestamptz NOT NULL DEFAULT now()
);
