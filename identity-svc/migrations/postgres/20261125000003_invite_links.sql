-- Invitations: an admin invites an email address; a pending user (no password) joins the
-- organization with the invited role, and activates by registering with the code. Only the
-- SHA-256 of a code is stored.
CREATE TABLE invite_links (
    code_hash TEXT PRIMARY KEY NOT NULL,
    organization_uuid UUID NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    user_uuid UUID NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX invite_links_organization_uuid_idx ON invite_links (organization_uuid);
CREATE INDEX invite_links_user_uuid_idx ON invite_links (user_uuid);
