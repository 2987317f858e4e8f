-- Who reads a shared connection (issue #17, the Luzmo face): every member of its organization
-- ('organization', what every connection was until now), or only its owner, the organization's
-- admins and the members it is shared with ('restricted'; Luzmo's associate with a User).
ALTER TABLE connections ADD COLUMN visibility TEXT NOT NULL DEFAULT 'organization'
    CHECK (visibility IN ('organization', 'restricted'));

-- The members a restricted connection is shared with. Users belong to identity-svc: referenced
-- by id only; a member's shares go when identity-svc says they left or were deleted.
CREATE TABLE connection_shares (
    connection_uuid UUID NOT NULL REFERENCES connections (connection_uuid) ON DELETE CASCADE,
    user_uuid UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_uuid, user_uuid)
);
CREATE INDEX connection_shares_user_uuid_idx ON connection_shares (user_uuid);
