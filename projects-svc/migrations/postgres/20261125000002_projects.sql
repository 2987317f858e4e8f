-- Projects of an organization, the direct grants of users and of groups on them, and the
-- outbox of events other services must learn about (a deleted project). Users, organizations
-- and groups belong to identity-svc: they are referenced by id only, never joined.
CREATE TABLE projects (
    project_uuid UUID PRIMARY KEY NOT NULL,
    organization_uuid UUID NOT NULL,
    name TEXT NOT NULL,
    project_type TEXT NOT NULL CHECK (project_type IN ('DEFAULT', 'PREVIEW')),
    created_by_user_uuid UUID,
    scheduler_timezone TEXT NOT NULL,
    upstream_project_uuid UUID,
    warehouse_connection_uuid UUID,
    warehouse_type TEXT NOT NULL CHECK (warehouse_type IN ('bigquery', 'postgres', 'redshift', 'snowflake', 'databricks', 'trino')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX projects_organization_uuid_idx ON projects (organization_uuid);

CREATE TABLE project_user_grants (
    project_uuid UUID NOT NULL REFERENCES projects (project_uuid) ON DELETE CASCADE,
    user_uuid UUID NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'interactive_viewer', 'editor', 'developer', 'admin')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_uuid, user_uuid)
);
CREATE INDEX project_user_grants_user_uuid_idx ON project_user_grants (user_uuid);

CREATE TABLE project_group_grants (
    project_uuid UUID NOT NULL REFERENCES projects (project_uuid) ON DELETE CASCADE,
    group_uuid UUID NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'interactive_viewer', 'editor', 'developer', 'admin')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_uuid, group_uuid)
);
CREATE INDEX project_group_grants_group_uuid_idx ON project_group_grants (group_uuid);

CREATE TABLE outbox_events (
    event_uuid UUID PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
