-- Passcodes sent to a user in the current hour, counted on the passcode's row so that the limit
-- holds across replicas and restarts.
ALTER TABLE email_passcodes ADD COLUMN sends INTEGER NOT NULL DEFAULT 1;
ALTER TABLE email_passcodes ADD COLUMN window_started_at TEXT;
UPDATE email_passcodes SET window_started_at = created_at;
