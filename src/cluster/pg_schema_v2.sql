-- amtsbote cluster ledger on PostgreSQL, schema version 2: the message's trace (as embedded
-- schema v4). The W3C `traceparent` of the intake span, so that delivery attempts on any
-- replica, replays and recoveries continue the same trace. NULL when tracing was off.
ALTER TABLE messages ADD COLUMN traceparent text;
