-- Connections (an organization's shared accounts and users' personal warehouse credentials),
-- their sealed secrets, and each user's choice of personal credentials per project. Users,
-- organizations and projects belong to other services: referenced by id only, never joined.
CREATE TABLE connections (
    connection_uuid UUID PRIMARY KEY NOT NULL,
    organization_uuid UUID NOT NULL,
    owner_user_uuid UUID NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('shared', 'personal')),
    provider TEXT NOT NULL,
    name TEXT NOT NULL,
    -- JSON object: language code -> text.
    description TEXT NOT NULL,
    host TEXT NOT NULL,
    port TEXT NOT NULL,
    identifier TEXT NOT NULL,
    scope TEXT NOT NULL,
    expiry TIMESTAMPTZ,
    active BOOLEAN NOT NULL,
    invalid BOOLEAN NOT NULL,
    cache BIGINT NOT NULL CHECK (cache >= 0),
    datasets_meta_sync_enabled BOOLEAN NOT NULL,
    datasets_meta_sync_interval BIGINT NOT NULL CHECK (datasets_meta_sync_interval >= 1),
    linked_at TIMESTAMPTZ NOT NULL,
    -- JSON object of provider settings that are not secret.
    options TEXT NOT NULL,
    last_tested_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX connections_organization_kind_idx ON connections (organization_uuid, kind, created_at);
CREATE INDEX connections_owner_idx ON connections (owner_user_uuid, kind, created_at);

-- One sealed secret per (connection, field): `v{n}:` + base64 envelope (see envelope.rs);
-- key_version repeats n so that a re-wrap finds the rows it must move.
CREATE TABLE connection_secrets (
    connection_uuid UUID NOT NULL REFERENCES connections (connection_uuid) ON DELETE CASCADE,
    field TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    sealed TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_uuid, field)
);
CREATE INDEX connection_secrets_key_version_idx ON connection_secrets (key_version);

CREATE TABLE credentials_preferences (
    user_uuid UUID NOT NULL,
    project_uuid UUID NOT NULL,
    connection_uuid UUID NOT NULL REFERENCES connections (connection_uuid) ON DELETE CASCADE,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_uuid, project_uuid)
);
CREATE INDEX credentials_preferences_connection_idx ON credentials_preferences (connection_uuid);
