-- Throttling kept in the database, so that every replica counts against the same limits
-- (issue #18, checklist AU-6). Keys (emails, client addresses) are stored as SHA-256 only.

-- Fixed windows per scope and key (service_kit::limits): registrations per address and in
-- all, passcode attempts per address, invitations per organization, failed logins per
-- client address.
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX rate_limits_window_start_idx ON rate_limits (window_start);

-- Failed logins of one account from one client address, and until when that pair must wait
-- (growing delays: an attacker elsewhere never locks the account's owner out).
CREATE TABLE login_failures (
    account_hash TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    failures BIGINT NOT NULL,
    blocked_until TIMESTAMPTZ NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (account_hash, address_hash)
);
CREATE INDEX login_failures_last_failure_at_idx ON login_failures (last_failure_at);
