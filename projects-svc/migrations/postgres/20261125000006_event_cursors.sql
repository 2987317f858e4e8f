-- How far projects-svc has applied each producer's events (events.v1): advanced in the same
-- transaction as each event's effect.
CREATE TABLE event_cursors (
    source TEXT PRIMARY KEY NOT NULL,
    sequence BIGINT NOT NULL
);
