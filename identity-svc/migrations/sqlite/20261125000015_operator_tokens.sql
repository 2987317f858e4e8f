-- Operator tokens (issue #16, docs/accounts.md): the owner role over every account, made and
-- revoked with `owner-token` on the command line. Only the SHA-256 of a token's secret is
-- stored. A revoked token keeps its row (listed with its revocation time).
CREATE TABLE operator_tokens (
    operator_token_uuid BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE UNIQUE INDEX operator_tokens_token_hash_key ON operator_tokens (token_hash);
