-- SQLite's migration of this number keeps customer ids from being reused; PostgreSQL's
-- identity column never reuses one already. Nothing to do: kept so both backends share their
-- migration versions.
SELECT 1;
