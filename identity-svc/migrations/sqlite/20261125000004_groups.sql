-- Groups of an organization's members (project and space access for groups arrive with
-- projects-svc). Names are unique within an organization.
CREATE TABLE groups (
    group_uuid BLOB PRIMARY KEY NOT NULL,
    organization_uuid BLOB NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by_user_uuid BLOB,
    updated_by_user_uuid BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX groups_organization_uuid_name_key ON groups (organization_uuid, name);

CREATE TABLE group_memberships (
    group_uuid BLOB NOT NULL REFERENCES groups (group_uuid) ON DELETE CASCADE,
    user_uuid BLOB NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    PRIMARY KEY (group_uuid, user_uuid)
);
CREATE INDEX group_memberships_user_uuid_idx ON group_memberships (user_uuid);
