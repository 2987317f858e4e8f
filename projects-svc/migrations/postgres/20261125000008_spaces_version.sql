-- A project's `spaces_version` moves on every change to its spaces or to their direct grants,
-- in the transaction of the change, whoever makes it (the API, an event's cascade, a
-- resynchronization): projects-svc keeps a project's spaces and grants in memory between
-- requests and reuses them only while the version it read with the project is the one they were
-- read at, so every replica sees a change on its next request.
--
-- Statement-level triggers with transition tables: one statement that changes thousands of rows
-- (a cascade, a resynchronization) moves each project's version once, not once per row (repeated
-- updates of one row in a transaction walk a growing chain of row versions), and the project rows
-- are locked in one order (by id), so two such statements lock them in the same order.
ALTER TABLE projects ADD COLUMN spaces_version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION spaces_version_bump(ids UUID[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM projects WHERE project_uuid = ANY (ids) ORDER BY project_uuid FOR NO KEY UPDATE;
    UPDATE projects SET spaces_version = spaces_version + 1 WHERE project_uuid = ANY (ids);
END
$$;

CREATE FUNCTION spaces_version_of_spaces() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM spaces_version_bump(ARRAY(SELECT DISTINCT project_uuid FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM spaces_version_bump(ARRAY(SELECT DISTINCT project_uuid FROM old_rows));
    ELSE
        PERFORM spaces_version_bump(ARRAY(
            SELECT project_uuid FROM old_rows UNION SELECT project_uuid FROM new_rows
        ));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER spaces_version_insert AFTER INSERT ON spaces
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_spaces();
CREATE TRIGGER spaces_version_update AFTER UPDATE ON spaces
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_spaces();
CREATE TRIGGER spaces_version_delete AFTER DELETE ON spaces
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_spaces();

-- A grant's space may be gone already (a space's deletion cascades to its grants): the space's
-- own trigger has moved the version then.
CREATE FUNCTION spaces_version_of_grants() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM spaces_version_bump(ARRAY(
            SELECT DISTINCT s.project_uuid FROM new_rows g JOIN spaces s ON s.space_uuid = g.space_uuid
        ));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM spaces_version_bump(ARRAY(
            SELECT DISTINCT s.project_uuid FROM old_rows g JOIN spaces s ON s.space_uuid = g.space_uuid
        ));
    ELSE
        PERFORM spaces_version_bump(ARRAY(
            SELECT s.project_uuid FROM old_rows g JOIN spaces s ON s.space_uuid = g.space_uuid
            UNION
            SELECT s.project_uuid FROM new_rows g JOIN spaces s ON s.space_uuid = g.space_uuid
        ));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER space_user_grants_version_insert AFTER INSERT ON space_user_grants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
CREATE TRIGGER space_user_grants_version_update AFTER UPDATE ON space_user_grants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
CREATE TRIGGER space_user_grants_version_delete AFTER DELETE ON space_user_grants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
CREATE TRIGGER space_group_grants_version_insert AFTER INSERT ON space_group_grants
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
CREATE TRIGGER space_group_grants_version_update AFTER UPDATE ON space_group_grants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
CREATE TRIGGER space_group_grants_version_delete AFTER DELETE ON space_group_grants
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION spaces_version_of_grants();
