-- Outbox events get a sequence in commit order, which the events subscription serves from a
-- cursor (events.v1). SQLite has one writer at a time, so numbers drawn at insert are in commit
-- order.
CREATE TABLE outbox_events_numbered (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    event_uuid BLOB NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO outbox_events_numbered (event_uuid, event_type, payload, created_at)
    SELECT event_uuid, event_type, payload, created_at FROM outbox_events ORDER BY created_at, event_uuid;
DROP TABLE outbox_events;
ALTER TABLE outbox_events_numbered RENAME TO outbox_events;
CREATE INDEX outbox_events_created_at_idx ON outbox_events (created_at);

-- The highest sequence pruned (retention): a subscriber whose cursor is below it missed events.
CREATE TABLE outbox_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
);
INSERT INTO outbox_pruned (id, through) VALUES (1, 0);
