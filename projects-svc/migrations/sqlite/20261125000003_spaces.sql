-- Spaces of a project, nested (`parent_space_uuid`) with Lightdash's newest rule: a nested space
-- with `inherit_parent_permissions` takes its parent's grants and, up to a public root, the
-- project roles. The direct grants of users and of groups on a space. Users and groups belong
-- to identity-svc and are referenced by id only.
CREATE TABLE spaces (
    space_uuid BLOB PRIMARY KEY NOT NULL,
    project_uuid BLOB NOT NULL REFERENCES projects (project_uuid) ON DELETE CASCADE,
    parent_space_uuid BLOB REFERENCES spaces (space_uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    is_private BOOLEAN NOT NULL,
    inherit_parent_permissions BOOLEAN NOT NULL,
    created_by_user_uuid BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX spaces_project_uuid_idx ON spaces (project_uuid);
CREATE INDEX spaces_parent_space_uuid_idx ON spaces (parent_space_uuid);

CREATE TABLE space_user_grants (
    space_uuid BLOB NOT NULL REFERENCES spaces (space_uuid) ON DELETE CASCADE,
    user_uuid BLOB NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    PRIMARY KEY (space_uuid, user_uuid)
);
CREATE INDEX space_user_grants_user_uuid_idx ON space_user_grants (user_uuid);

CREATE TABLE space_group_grants (
    space_uuid BLOB NOT NULL REFERENCES spaces (space_uuid) ON DELETE CASCADE,
    group_uuid BLOB NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    PRIMARY KEY (space_uuid, group_uuid)
);
CREATE INDEX space_group_grants_group_uuid_idx ON space_group_grants (group_uuid);
