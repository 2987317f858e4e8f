-- PostgreSQL bootstrap for the platform: one database, one login role and one schema per service.
--
-- Run once per PostgreSQL cluster, as a superuser (or a role with CREATEDB and CREATEROLE), with
-- psql; it is idempotent, so running it again is harmless (it does not change existing passwords):
--
--   psql "postgres://admin@db.example:5432/postgres" -v ON_ERROR_STOP=1 \
--        -v identity_password="$(openssl rand -hex 24)" \
--        -v connections_password="$(openssl rand -hex 24)" \
--        -v projects_password="$(openssl rand -hex 24)" \
--        -f deploy/k8s/postgres-init.sql
--
-- Without -v the placeholder passwords below are used: fine on a laptop, never anywhere else.
-- Put the same passwords into the Secret `platform-secrets` (see base/secrets.example.yaml):
--   identity-database-url = postgres://identity:<identity_password>@<host>:5432/platform
-- and likewise for connections and projects.
--
-- Result: each role can log in to `platform` and reach only its own schema (it owns it, and no
-- other role has any privilege on it); nobody can create objects in `public`.

\set ON_ERROR_STOP on

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

-- Login roles: no superuser, no role or database creation, no inheritance of other roles.
SELECT format('CREATE ROLE identity LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L', :'identity_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'identity') \gexec
SELECT format('CREATE ROLE connections LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L', :'connections_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'connections') \gexec
SELECT format('CREATE ROLE projects LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD %L', :'projects_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'projects') \gexec

-- The database (CREATE DATABASE cannot run in a transaction or a DO block: hence \gexec).
SELECT 'CREATE DATABASE platform'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'platform') \gexec

-- Only the three service roles may connect; PUBLIC loses CONNECT and TEMPORARY.
REVOKE ALL ON DATABASE platform FROM PUBLIC;
GRANT CONNECT ON DATABASE platform TO identity, connections, projects;
-- The roles get no CREATE on the database: the schemas exist (created below), and a service
-- creates its schema at startup only when it is missing (service-kit db.rs).

\connect platform

-- Nobody creates objects in `public` (already the default since PostgreSQL 15; explicit for 13/14).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- One schema per service, owned by its role: the owner has every privilege on it, and nobody
-- else has any (no USAGE), so a service cannot even see another's tables.
CREATE SCHEMA IF NOT EXISTS identity AUTHORIZATION identity;
CREATE SCHEMA IF NOT EXISTS connections AUTHORIZATION connections;
CREATE SCHEMA IF NOT EXISTS projects AUTHORIZATION projects;
REVOKE ALL ON SCHEMA identity FROM PUBLIC;
REVOKE ALL ON SCHEMA connections FROM PUBLIC;
REVOKE ALL ON SCHEMA projects FROM PUBLIC;

-- Each role resolves unqualified names in its own schema (the services also set search_path on
-- every connection; this covers psql sessions and tools).
ALTER ROLE identity IN DATABASE platform SET search_path = identity;
ALTER ROLE connections IN DATABASE platform SET search_path = connections;
ALTER ROLE projects IN DATABASE platform SET search_path = projects;
