-- A project's `spaces_version` moves on every change to its spaces or to their direct grants,
-- in the transaction of the change, whoever makes it (the API, an event's cascade, a
-- resynchronization): projects-svc keeps a project's spaces and grants in memory between
-- requests and reuses them only while the version it read with the project is the one they were
-- read at, so every replica sees a change on its next request.
ALTER TABLE projects ADD COLUMN spaces_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION spaces_version_of_space() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = OLD.project_uuid;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.project_uuid IS DISTINCT FROM OLD.project_uuid) THEN
        UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = NEW.project_uuid;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER spaces_version AFTER INSERT OR UPDATE OR DELETE ON spaces
    FOR EACH ROW EXECUTE FUNCTION spaces_version_of_space();

-- A grant's space may be gone already (a space's deletion cascades to its grants): the space's
-- own trigger has moved the version then.
CREATE FUNCTION spaces_version_of_grant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE projects SET spaces_version = spaces_version + 1
            WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = OLD.space_uuid);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.space_uuid IS DISTINCT FROM OLD.space_uuid) THEN
        UPDATE projects SET spaces_version = spaces_version + 1
            WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = NEW.space_uuid);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER spaces_version AFTER INSERT OR UPDATE OR DELETE ON space_user_grants
    FOR EACH ROW EXECUTE FUNCTION spaces_version_of_grant();
CREATE TRIGGER spaces_version AFTER INSERT OR UPDATE OR DELETE ON space_group_grants
    FOR EACH ROW EXECUTE FUNCTION spaces_version_of_grant();
