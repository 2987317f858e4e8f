-- API clients use a session token as a refresh token: each refresh replaces it, and the
-- replaced token's hash is kept so that presenting it again (a stolen token replayed, or the
-- thief's copy after the owner refreshed) revokes the session.
ALTER TABLE sessions ADD COLUMN previous_token_hash TEXT;
CREATE INDEX sessions_previous_token_hash_idx ON sessions (previous_token_hash);
