-- The member list's key gains the lower-cased email (first name, last name, email, separated by
-- chr(31)): a search tests this one column, held by the memberships' index, instead of three
-- LOWER(...) LIKE on the users table for every member of the organization.
UPDATE memberships SET sort_key = (
    SELECT LOWER(u.first_name) || chr(31) || LOWER(u.last_name) || chr(31) || LOWER(u.email)
    FROM users u WHERE u.user_uuid = memberships.user_uuid
);
