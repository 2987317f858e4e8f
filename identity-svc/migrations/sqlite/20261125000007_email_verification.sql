-- Email verification: the address a user proved they receive mail at (their primary email is
-- verified while it equals this), and at most one pending one-time passcode per user. Only the
-- SHA-256 of a passcode is stored; attempts are counted on the row so the bound holds across
-- replicas.
ALTER TABLE users ADD COLUMN verified_email TEXT;

CREATE TABLE email_passcodes (
    user_uuid BLOB PRIMARY KEY NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    email TEXT NOT NULL,
    passcode_hash TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
