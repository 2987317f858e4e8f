//! `identity.v1.Accounts` against the real service: gRPC on a loopback port, on SQLite and on
//! PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test; skipped
//! with a warning when unreachable, unless CI=true).

mod allowed_ips;
mod close;
mod crud;
mod harness;
mod invitations;
mod ip_enforcement;
mod lock_order;
mod matrix;
mod operator;
mod paging;
mod races;
mod store_writes;
