-- Tags of a project: created in the API (`yaml_reference` NULL) or replaced as a set from a
-- project's YAML (`yaml_reference` set). Names are unique in a project.
CREATE TABLE tags (
    tag_uuid UUID PRIMARY KEY NOT NULL,
    project_uuid UUID NOT NULL REFERENCES projects (project_uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    yaml_reference TEXT,
    created_by_user_uuid UUID,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX tags_project_uuid_name_key ON tags (project_uuid, name);
