-- amtsbote embedded database, schema version 4: the message's trace.
--
-- The W3C `traceparent` of the intake span, so that every delivery attempt, replay and
-- recovery after a restart continues the same trace (one application = one trace). NULL when
-- tracing was off at intake.
ALTER TABLE messages ADD COLUMN traceparent TEXT;
