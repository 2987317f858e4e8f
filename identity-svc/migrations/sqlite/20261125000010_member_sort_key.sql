-- The member list's order (lower-cased first name, then last name), stored with the membership
-- so that an index gives pages in order: no sort of every member for each page. Compared byte
-- by byte on both backends.
ALTER TABLE memberships ADD COLUMN sort_key TEXT NOT NULL DEFAULT '';
UPDATE memberships SET sort_key = (
    SELECT LOWER(u.first_name) || char(31) || LOWER(u.last_name) FROM users u WHERE u.user_uuid = memberships.user_uuid
);
CREATE INDEX memberships_organization_sort_idx ON memberships (organization_uuid, sort_key, user_uuid);
