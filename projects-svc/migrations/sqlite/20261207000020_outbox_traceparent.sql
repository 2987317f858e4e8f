-- The W3C traceparent of the span that wrote the event (docs/operations.md, "Traces"), so the
-- consumer's apply span continues the producer's trace; NULL while traces are not exported.
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT;
