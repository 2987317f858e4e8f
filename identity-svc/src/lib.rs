//! identity-svc: who people are (users), how they prove it (passwords, sessions, personal
//! access tokens), and the keys that sign the access tokens every service verifies.
//!
//! Layers: `grpc` (proto types stop here) -> `domain` (rules, validation) -> `store` (SQL).
//! Architecture invariant: only this crate touches the `identity` schema.

pub mod admin;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod mail;
pub mod operator;
pub mod signing_keys;
pub mod startup;
pub mod store;

pub use config::{Cli, Config, Settings};
pub use startup::Application;

/// identity's schema as the `migrate` subcommand names it (`identity-svc migrate`, `platform migrate`).
pub static SCHEMA: service_kit::migrate::ServiceSchema = service_kit::migrate::ServiceSchema {
    binary: "identity-svc",
    name: "identity",
    url: ("IDENTITY_DATABASE_URL", "identity-database-url"),
    schema: ("IDENTITY_DATABASE_SCHEMA", "identity-database-schema"),
    migrations: service_kit::migrate::Migrations {
        sqlite: &store::SQLITE_MIGRATIONS,
        postgres: &store::POSTGRES_MIGRATIONS,
    },
    compact: &["signing_keys"],
};
