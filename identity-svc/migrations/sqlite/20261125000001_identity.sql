-- Users, browser sessions, personal access tokens and the keys that sign access tokens.
CREATE TABLE users (
    user_uuid BLOB PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT,
    is_active BOOLEAN NOT NULL,
    is_tracking_anonymized BOOLEAN NOT NULL,
    is_marketing_opted_in BOOLEAN NOT NULL,
    is_setup_complete BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    session_uuid BLOB PRIMARY KEY NOT NULL,
    user_uuid BLOB NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_uuid_idx ON sessions (user_uuid);

CREATE TABLE personal_access_tokens (
    pat_uuid BLOB PRIMARY KEY NOT NULL,
    user_uuid BLOB NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    description TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    auto_generated BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    rotated_at TEXT,
    last_used_at TEXT
);
CREATE UNIQUE INDEX personal_access_tokens_token_hash_key ON personal_access_tokens (token_hash);
CREATE INDEX personal_access_tokens_user_uuid_idx ON personal_access_tokens (user_uuid);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    private_seed BLOB NOT NULL,
    created_at TEXT NOT NULL
);
