-- Outbox events get a sequence in commit order, which the events subscription serves from a
-- cursor (events.v1). Every transaction that writes an event takes one advisory lock first and
-- draws its number under it, so numbers are drawn in the order the transactions commit: a reader
-- never sees a later event before an earlier one.
CREATE SEQUENCE outbox_events_sequence;
ALTER TABLE outbox_events ADD COLUMN sequence BIGINT;
WITH ordered AS (
    SELECT event_uuid, row_number() OVER (ORDER BY created_at, event_uuid) AS n FROM outbox_events
)
UPDATE outbox_events o SET sequence = ordered.n FROM ordered WHERE o.event_uuid = ordered.event_uuid;
SELECT setval('outbox_events_sequence', COALESCE((SELECT max(sequence) FROM outbox_events), 0) + 1, false);
ALTER TABLE outbox_events ALTER COLUMN sequence SET NOT NULL;
CREATE UNIQUE INDEX outbox_events_sequence_idx ON outbox_events (sequence);
CREATE INDEX outbox_events_created_at_idx ON outbox_events (created_at);

CREATE FUNCTION outbox_events_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7305847261);
    NEW.sequence := nextval('outbox_events_sequence');
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_events_number BEFORE INSERT ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION outbox_events_number();

-- The highest sequence pruned (retention): a subscriber whose cursor is below it missed events.
CREATE TABLE outbox_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through BIGINT NOT NULL
);
INSERT INTO outbox_pruned (id, through) VALUES (1, 0);
