-- A project's `spaces_version` moves on every change to its spaces or to their direct grants,
-- in the transaction of the change, whoever makes it (the API, an event's cascade, a
-- resynchronization): projects-svc keeps a project's spaces and grants in memory between
-- requests and reuses them only while the version it read with the project is the one they were
-- read at, so every replica sees a change on its next request.
ALTER TABLE projects ADD COLUMN spaces_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER spaces_version_insert AFTER INSERT ON spaces BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = NEW.project_uuid;
END;
CREATE TRIGGER spaces_version_update AFTER UPDATE ON spaces BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid IN (OLD.project_uuid, NEW.project_uuid);
END;
CREATE TRIGGER spaces_version_delete AFTER DELETE ON spaces BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = OLD.project_uuid;
END;

-- A grant's space may be gone already (a space's deletion cascades to its grants): the space's
-- own trigger has moved the version then.
CREATE TRIGGER space_user_grants_version_insert AFTER INSERT ON space_user_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = NEW.space_uuid);
END;
CREATE TRIGGER space_user_grants_version_update AFTER UPDATE ON space_user_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1
        WHERE project_uuid IN ((SELECT project_uuid FROM spaces WHERE space_uuid = OLD.space_uuid), (SELECT project_uuid FROM spaces WHERE space_uuid = NEW.space_uuid));
END;
CREATE TRIGGER space_user_grants_version_delete AFTER DELETE ON space_user_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = OLD.space_uuid);
END;
CREATE TRIGGER space_group_grants_version_insert AFTER INSERT ON space_group_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = NEW.space_uuid);
END;
CREATE TRIGGER space_group_grants_version_update AFTER UPDATE ON space_group_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1
        WHERE project_uuid IN ((SELECT project_uuid FROM spaces WHERE space_uuid = OLD.space_uuid), (SELECT project_uuid FROM spaces WHERE space_uuid = NEW.space_uuid));
END;
CREATE TRIGGER space_group_grants_version_delete AFTER DELETE ON space_group_grants BEGIN
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = (SELECT project_uuid FROM spaces WHERE space_uuid = OLD.space_uuid);
END;
