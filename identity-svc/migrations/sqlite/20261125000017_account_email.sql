-- An account's email address (the seed 004 face: the account's "master" address, given when an
-- operator creates the account and its first user). Optional: accounts made otherwise have
-- none. Lower-cased by the service; unique among accounts (NULLs do not collide).
ALTER TABLE organizations ADD COLUMN email TEXT;
CREATE UNIQUE INDEX organizations_email_key ON organizations (email);
