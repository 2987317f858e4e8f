//! End-to-end tests: the whole platform in-process (every server on a loopback port 0, real
//! gRPC, a real HTTP client), each test run once on SQLite and once on PostgreSQL.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! each test gets its own schemas. Without a reachable server the PostgreSQL variants skip
//! loudly, except under `CI=true`, where they fail.

#![allow(unreachable_pub)]

mod helpers;

mod account;
mod account_safety;
mod accounts_close;
mod allowed_ips;
mod attributes;
mod body_limits;
mod config;
mod connections;
mod connections_doc;
mod contract;
mod email;
mod errors;
mod events;
mod groups;
mod grpc_auth;
mod ioto;
mod lifecycle;
mod logs;
mod luzmo;
mod metrics;
mod operator;
mod organizations;
mod projects;
mod scopes;
mod settings;
mod signing_keys;
mod slow_clients;
mod spaces;
mod stored;
mod sumvin;
mod swift;
mod swift_matrix;
mod throttling;
mod tls;
mod tokens;
mod toolbox;
mod traces;
