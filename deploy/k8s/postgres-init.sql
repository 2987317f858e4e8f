-- PostgreSQL bootstrap for the platform: one database; per service one schema, a migration role
-- that owns it, and a runtime role that reads and writes its rows but cannot change it.
--
-- Run once per PostgreSQL cluster, as a superuser (or a role with CREATEDB and CREATEROLE), with
-- psql; it is idempotent, so running it again is harmless (it does not change existing passwords):
--
--   psql "postgres://admin@db.example:5432/postgres" -v ON_ERROR_STOP=1 \
--        -v identity_password="$(openssl rand -hex 24)" \
--        -v connections_password="$(openssl rand -hex 24)" \
--        -v projects_password="$(openssl rand -hex 24)" \
--        -v identity_migrator_password="$(openssl rand -hex 24)" \
--        -v connections_migrator_password="$(openssl rand -hex 24)" \
--        -v projects_migrator_password="$(openssl rand -hex 24)" \
--        -f deploy/k8s/postgres-init.sql
--
-- Without -v the placeholder passwords below are used: fine on a laptop, never anywhere else.
-- `-v dbname=…` names another database than `platform` (the tests use a fresh one each run).
-- Put the same passwords into the Secret `platform-secrets` (see base/secrets.example.yaml):
--   identity-database-url         = postgres://identity:<identity_password>@<host>:5432/platform
--   identity-migrate-database-url = postgres://identity_migrator:<identity_migrator_password>@<host>:5432/platform
-- and likewise for connections and projects.
--
-- Result, per service (identity shown):
-- - `identity_migrator` owns schema `identity` and everything in it: the `migrate` Job logs in
--   as it and creates and alters the tables;
-- - `identity` (the service) has USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables
--   and USAGE/SELECT on its sequences, now and for every table the migrator creates later
--   (ALTER DEFAULT PRIVILEGES); no CREATE on the schema or the database, so it cannot create,
--   alter or drop anything, and the service runs with MIGRATE_ON_START=false. Default
--   privileges cannot leave one table out: `migrate`, as the owner, revokes the writes on
--   `_sqlx_migrations` after migrating, so `identity` only reads the migration state;
-- - nobody else has any privilege on the schema (no USAGE): no service sees another's tables;
--   nobody creates objects in `public`; PUBLIC may neither connect nor create temporary tables.
--
-- Upgrading from the earlier layout (the service's role owned its schema and tables): running
-- this script transfers the ownership to the migrator (ALTER SCHEMA … OWNER, REASSIGN OWNED)
-- and grants the service's role what it needs, so it is the whole upgrade of the database; run
-- it right before applying the release whose Deployments set MIGRATE_ON_START=false (an older
-- replica that restarts in between cannot start: deploy/README.md, section 2).

\set ON_ERROR_STOP on

\if :{?dbname}
\else
  \set dbname platform
\endif
\if :{?identity_password}
\else
  \set identity_password 'change-me-identity'
\endif
\if :{?connections_password}
\else
  \set connections_password 'change-me-connections'
\endif
\if :{?projects_password}
\else
  \set projects_password 'change-me-projects'
\endif
\if :{?identity_migrator_password}
\else
  \set identity_migrator_password 'change-me-identity-migrator'
\endif
\if :{?connections_migrator_password}
\else
  \set connections_migrator_password 'change-me-connections-migrator'
\endif
\if :{?projects_migrator_password}
\else
  \set projects_migrator_password 'change-me-projects-migrator'
\endif

-- Login roles: no superuser, no role or database creation, no inheritance of other roles.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L', r, p)
FROM (VALUES ('identity', :'identity_password'),
             ('connections', :'connections_password'),
             ('projects', :'projects_password'),
             ('identity_migrator', :'identity_migrator_password'),
             ('connections_migrator', :'connections_migrator_password'),
             ('projects_migrator', :'projects_migrator_password')) AS roles (r, p)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) \gexec

-- The database (CREATE DATABASE cannot run in a transaction or a DO block: hence \gexec).
SELECT format('CREATE DATABASE %I', :'dbname')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec

-- Only the six roles may connect; PUBLIC loses CONNECT and TEMPORARY. No role gets CREATE on
-- the database: the schemas exist (created below), and `migrate` creates one only when missing.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE, TEMPORARY ON DATABASE :"dbname" FROM identity, connections, projects,
    identity_migrator, connections_migrator, projects_migrator;
GRANT CONNECT ON DATABASE :"dbname" TO identity, connections, projects,
    identity_migrator, connections_migrator, projects_migrator;

\connect :"dbname"

-- Nobody creates objects in `public` (already the default since PostgreSQL 15; explicit for 13/14).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Per service: the schema, owned by the migrator (also when the service's role owned it before,
-- with everything in it), and the service's role granted rows, not structure.
SELECT format($sql$
    CREATE SCHEMA IF NOT EXISTS %1$I AUTHORIZATION %2$I;
    ALTER SCHEMA %1$I OWNER TO %2$I;
    REASSIGN OWNED BY %3$I TO %2$I;
    REVOKE ALL ON SCHEMA %1$I FROM PUBLIC;
    GRANT USAGE ON SCHEMA %1$I TO %3$I;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$I TO %3$I;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %1$I TO %3$I;
    ALTER DEFAULT PRIVILEGES FOR ROLE %2$I IN SCHEMA %1$I
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %3$I;
    ALTER DEFAULT PRIVILEGES FOR ROLE %2$I IN SCHEMA %1$I
        GRANT USAGE, SELECT ON SEQUENCES TO %3$I;
    ALTER ROLE %3$I IN DATABASE %4$I SET search_path = %1$I;
    ALTER ROLE %2$I IN DATABASE %4$I SET search_path = %1$I
  $sql$, s, s || '_migrator', s, :'dbname')
FROM (VALUES ('identity'), ('connections'), ('projects')) AS services (s) \gexec
