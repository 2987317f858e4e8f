-- Groups of an organization's members (project and space access for groups arrive with
-- projects-svc). Names are unique within an organization.
CREATE TABLE groups (
    group_uuid UUID PRIMARY KEY NOT NULL,
    organization_uuid UUID NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by_user_uuid UUID,
    updated_by_user_uuid UUID,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX groups_organization_uuid_name_key ON groups (organization_uuid, name);

CREATE TABLE group_memberships (
    group_uuid UUID NOT NULL REFERENCES groups (group_uuid) ON DELETE CASCADE,
    user_uuid UUID NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    PRIMARY KEY (group_uuid, user_uuid)
);
CREATE INDEX group_memberships_user_uuid_idx ON group_memberships (user_uuid);
