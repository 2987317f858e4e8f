-- Organizations, their members with a role each (a user belongs to at most one organization, as
-- in Lightdash), and the outbox of events other services must learn about.
CREATE TABLE organizations (
    organization_uuid UUID PRIMARY KEY,
    name TEXT NOT NULL,
    chart_colors TEXT,
    default_project_uuid UUID,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    user_uuid UUID PRIMARY KEY REFERENCES users (user_uuid) ON DELETE CASCADE,
    organization_uuid UUID NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('member', 'viewer', 'interactive_viewer', 'editor', 'developer', 'admin')),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX memberships_organization_uuid_idx ON memberships (organization_uuid);

CREATE TABLE outbox_events (
    event_uuid UUID PRIMARY KEY,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
