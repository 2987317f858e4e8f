-- Fixed windows of rate limits (service_kit::limits; issue #18): connection tests per user,
-- counted in the database so that every replica counts against the same limit. Keys are
-- stored as SHA-256 only.
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX rate_limits_window_start_idx ON rate_limits (window_start);
