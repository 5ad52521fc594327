-- amtsbote embedded database, schema version 3: poller leases.
--
-- An inbound poller (a FIT-Connect destination, an XTA mailbox) runs on one broker at a time.
-- The embedded broker is one process, so its leases are always granted; the table is kept so
-- that `amtsbote` shows who polls what the same way on both backends.
CREATE TABLE poller_leases (
    name         TEXT PRIMARY KEY,  -- e.g. `fit-connect:<destination id>`, `xta:<account>`
    holder       TEXT NOT NULL,     -- the replica that polls
    until        INTEGER NOT NULL   -- ms since epoch; after this anyone may take it
) WITHOUT ROWID;
