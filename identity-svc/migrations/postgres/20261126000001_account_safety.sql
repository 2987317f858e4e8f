-- Password reset by mail: at most one live link per user; only the SHA-256 of its code is
-- stored. A link works once and until `expires_at`.
CREATE TABLE password_resets (
    user_uuid UUID PRIMARY KEY REFERENCES users (user_uuid) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX password_resets_code_hash_key ON password_resets (code_hash);
