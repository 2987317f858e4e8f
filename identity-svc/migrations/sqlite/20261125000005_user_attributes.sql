-- User attributes: named values per organization, set per user and per group, with a default.
CREATE TABLE user_attributes (
    attribute_uuid BLOB PRIMARY KEY NOT NULL,
    organization_uuid BLOB NOT NULL REFERENCES organizations (organization_uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    attribute_default TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX user_attributes_organization_uuid_name_key ON user_attributes (organization_uuid, name);

CREATE TABLE user_attribute_values (
    attribute_uuid BLOB NOT NULL REFERENCES user_attributes (attribute_uuid) ON DELETE CASCADE,
    user_uuid BLOB NOT NULL REFERENCES users (user_uuid) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (attribute_uuid, user_uuid)
);
CREATE INDEX user_attribute_values_user_uuid_idx ON user_attribute_values (user_uuid);

CREATE TABLE group_attribute_values (
    attribute_uuid BLOB NOT NULL REFERENCES user_attributes (attribute_uuid) ON DELETE CASCADE,
    group_uuid BLOB NOT NULL REFERENCES groups (group_uuid) ON DELETE CASCADE,
    value TEXT NOT NULL,
    PRIMARY KEY (attribute_uuid, group_uuid)
);
CREATE INDEX group_attribute_values_group_uuid_idx ON group_attribute_values (group_uuid);
