-- Email domains whose verified users may join an organization, and the role they get.
CREATE TABLE allowed_email_domains (
    organization_uuid BLOB PRIMARY KEY NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    email_domains TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('member', 'viewer', 'interactive_viewer', 'editor'))
);
