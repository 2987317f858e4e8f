-- Token scopes (issue #18 item 6): what a personal access token may do, space-separated names
-- lowest first ("read", "read write", "admin"; each includes those below it). Tokens made
-- before scopes existed keep the power they had: admin.
ALTER TABLE personal_access_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';
