-- amtsbote embedded database, schema version 2: the inbound journal.
--
-- Transport ids an inbound adapter has taken off its transport (or is about to) and not yet
-- answered there. FIT-Connect hides a submission from its list once it was fetched, so the
-- adapter writes the claim before fetching and finds unfinished work here after a crash.
CREATE TABLE inbound (
    source        TEXT NOT NULL,
    transport_id  TEXT NOT NULL,
    note          TEXT NOT NULL,     -- adapter's own JSON: case id, tags, problems (no content)
    claimed_at    INTEGER NOT NULL,
    PRIMARY KEY (source, transport_id)
) WITHOUT ROWID;

-- The transport's destination a message was addressed to (FIT-Connect destination id, XTA
-- reader mailbox), for routing and replay.
ALTER TABLE messages ADD COLUMN destination TEXT;
