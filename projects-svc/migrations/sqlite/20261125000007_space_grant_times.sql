-- When each space grant was made (or last given again): a late `organization.member_removed`
-- event removes only the grants made before the removal (the member may have rejoined since),
-- and a resynchronization only what existed before its snapshot. Grants made before this
-- migration count as old.
ALTER TABLE space_user_grants ADD COLUMN created_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00+00:00';
ALTER TABLE space_group_grants ADD COLUMN created_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00+00:00';
