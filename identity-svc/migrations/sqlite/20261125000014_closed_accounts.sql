-- Closed accounts (issue #16, docs/accounts.md): closing removes an account and everything
-- below it; what remains is this tombstone, so a later lookup can answer "closed" rather than
-- "never existed". No foreign key: the organization is gone.
CREATE TABLE closed_accounts (
    organization_uuid BLOB PRIMARY KEY NOT NULL,
    closed_at TEXT NOT NULL
);
