//! "Test connection": connects to a customer's PostgreSQL or MySQL/MariaDB database with one
//! connection, runs `SELECT 1`, closes it, and says how that went ([`Outcome`]).
//!
//! By area: `egress` decides which hosts and addresses a test may reach (AP-8, see its docs:
//! names and every resolved address are vetted, and the driver is given the vetted address,
//! never the name again); `connect` drives the PostgreSQL or MySQL connection and classifies its
//! failure; `message` makes the server's text safe to show.
//!
//! # Secrets (checklists CR-7, CR-8)
//!
//! The password lives in a [`SecretString`]; [`Target`]'s `Debug` shows only whether there is
//! one. It is exposed only to hand it to the driver. Nothing here logs a target's password or
//! the driver's connection options. Error messages come from a remote server and are untrusted
//! text (OWASP API10): control and bidirectional-formatting characters are removed, the
//! password is scrubbed from them as a last defence, and they are capped at
//! [`MAX_MESSAGE_CHARS`] characters.
//!
//! The PostgreSQL driver reads some `PG*` environment variables as defaults; the password
//! (`PGPASSWORD`), TLS mode, application name and `.pgpass` are overridden or skipped here, but
//! `PGSSLCERT`, `PGSSLKEY` and `PGOPTIONS` cannot be cleared through its options, so the
//! service must not run with them set.

mod connect;
mod egress;
mod message;

use std::{fmt, time::Duration};

use secrecy::{ExposeSecret, SecretString};

pub use egress::{EgressPolicy, check_address, check_host_name};
pub use message::MAX_MESSAGE_CHARS;

use connect::{classify, connect_and_query};
use egress::resolve;

/// The wire protocol of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL and what speaks its protocol (Redshift).
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

impl Engine {
    /// The engine of a connection's provider, case-insensitively: `postgres`, `postgresql`,
    /// `redshift` → [`Engine::Postgres`]; `mysql`, `mariadb` → [`Engine::MySql`].
    pub fn from_provider(provider: &str) -> Option<Engine> {
        const POSTGRES: [&str; 3] = ["postgres", "postgresql", "redshift"];
        const MYSQL: [&str; 2] = ["mysql", "mariadb"];
        if POSTGRES.iter().any(|p| p.eq_ignore_ascii_case(provider)) {
            Some(Engine::Postgres)
        } else if MYSQL.iter().any(|p| p.eq_ignore_ascii_case(provider)) {
            Some(Engine::MySql)
        } else {
            None
        }
    }
}

/// How a connection test uses TLS (the connection option `sslmode`).
///
/// The test connects to the vetted IP address, not to the name, so the certificate's name cannot
/// be checked (`verify-full`); `verify-ca` checks the chain against the Mozilla roots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tls {
    /// TLS when the server offers it (the default): works with servers without TLS, but a
    /// network attacker can strip it.
    #[default]
    Prefer,
    /// TLS or nothing, the certificate unchecked: no eavesdropping, no stripping.
    Require,
    /// TLS with a certificate that chains to a trusted root.
    VerifyCa,
}

impl Tls {
    /// The values of the `sslmode` option.
    pub const NAMES: [&'static str; 3] = ["prefer", "require", "verify-ca"];

    /// Parses an `sslmode` option value.
    pub fn parse(value: &str) -> Option<Tls> {
        match value.trim().to_ascii_lowercase().as_str() {
            "prefer" => Some(Tls::Prefer),
            "require" => Some(Tls::Require),
            "verify-ca" | "verify_ca" => Some(Tls::VerifyCa),
            _ => None,
        }
    }
}

/// What to connect to. `host` is a DNS name or an IP address (IPv6 with or without brackets).
pub struct Target {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<SecretString>,
    pub database: Option<String>,
    pub tls: Tls,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("tls", &self.tls)
            .field("database", &self.database)
            .finish()
    }
}

/// How a connection test went. Messages are sanitised server text (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Connected and `SELECT 1` answered.
    Connected,
    /// The server rejected the credentials: the caller marks the connection invalid.
    AuthenticationFailed { message: String },
    /// The egress policy said no; nothing was connected to.
    Refused { reason: String },
    /// Any other failure: invalid input, DNS, connection refused, unknown database, TLS…
    Failed { message: String },
    /// The whole test (lookup, connection and query) took longer than the timeout.
    TimedOut,
}

/// Tests a connection: refuses what `policy` denies, resolves the host once, connects to the
/// vetted address with TLS preferred, runs `SELECT 1` and closes, all within `timeout`.
pub async fn test_connection(policy: &EgressPolicy, target: &Target, timeout: Duration) -> Outcome {
    let outcome = match tokio::time::timeout(timeout, probe(policy, target)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::TimedOut,
    };
    // Host and port are the tenant's own input and no secret (Debug-formatted: no log
    // injection through control characters); the password is never logged.
    match &outcome {
        Outcome::Connected => {
            tracing::debug!(engine = ?target.engine, host = ?target.host, port = target.port, "connection test: connected");
        }
        Outcome::AuthenticationFailed { .. } => {
            tracing::info!(engine = ?target.engine, host = ?target.host, port = target.port, "connection test: authentication failed");
        }
        Outcome::Refused { reason } => {
            tracing::warn!(engine = ?target.engine, host = ?target.host, port = target.port, %reason, "connection test refused by egress policy");
        }
        Outcome::Failed { .. } => {
            tracing::info!(engine = ?target.engine, host = ?target.host, port = target.port, "connection test: failed");
        }
        Outcome::TimedOut => {
            tracing::info!(engine = ?target.engine, host = ?target.host, port = target.port, timeout_ms = timeout.as_millis() as u64, "connection test: timed out");
        }
    }
    outcome
}

/// Everything [`test_connection`] does, without the timeout.
async fn probe(policy: &EgressPolicy, target: &Target) -> Outcome {
    let password = target.password.as_ref().map(|p| p.expose_secret());
    if let Err(message) = validate(target) {
        return Outcome::Failed { message };
    }
    let addresses = match resolve(policy, &target.host, target.port).await {
        Ok(addresses) => addresses,
        Err(outcome) => return outcome,
    };
    // As a client would, the next address is tried after an I/O error (connection refused,
    // say); any other answer is the server's and final. The timeout bounds the attempts.
    let mut last = None;
    for address in addresses {
        match connect_and_query(target, address.ip(), password).await {
            Ok(()) => return Outcome::Connected,
            Err(sqlx::Error::Io(e)) => last = Some(sqlx::Error::Io(e)),
            Err(e) => return classify(target.engine, &e, password),
        }
    }
    match last {
        Some(e) => classify(target.engine, &e, password),
        None => Outcome::Failed {
            message: "the host name resolved to no address".into(),
        },
    }
}

/// Input the drivers would mishandle. PostgreSQL's startup message separates fields with NUL,
/// so a NUL in the user or database name could smuggle extra startup parameters.
fn validate(target: &Target) -> Result<(), String> {
    if target.port == 0 {
        return Err("the port must not be 0".into());
    }
    if target.user.is_empty() {
        return Err("the user name is empty".into());
    }
    if target.user.len() > 256 || target.user.chars().any(char::is_control) {
        return Err("the user name is too long or contains control characters".into());
    }
    if let Some(database) = &target.database
        && (database.len() > 256 || database.chars().any(char::is_control))
    {
        return Err("the database name is too long or contains control characters".into());
    }
    if let Some(password) = &target.password
        && (password.expose_secret().len() > 1024 || password.expose_secret().contains('\0'))
    {
        return Err("the password is too long or contains a NUL character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines() {
        for p in ["postgres", "PostgreSQL", "redshift", "POSTGRES"] {
            assert_eq!(Engine::from_provider(p), Some(Engine::Postgres), "{p}");
        }
        for p in ["mysql", "MariaDB", "MYSQL"] {
            assert_eq!(Engine::from_provider(p), Some(Engine::MySql), "{p}");
        }
        for p in ["", "sqlite", "mssql", "postgres ", "pg"] {
            assert_eq!(Engine::from_provider(p), None, "{p:?}");
        }
    }

    #[test]
    fn target_debug_hides_the_password() {
        let canary = "canary-Pw-1d2c3b";
        let target = Target {
            engine: Engine::Postgres,
            host: "db.example.com".into(),
            port: 5432,
            user: "app".into(),
            password: Some(SecretString::from(canary)),
            database: Some("app".into()),
            tls: Tls::Prefer,
        };
        let debug = format!("{target:?} {target:#?}");
        assert!(!debug.contains(canary), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn validation() {
        let target = |user: &str, database: Option<&str>, password: Option<&str>, port| Target {
            engine: Engine::Postgres,
            host: "db.example.com".into(),
            port,
            user: user.into(),
            password: password.map(SecretString::from),
            database: database.map(Into::into),
            tls: Tls::Prefer,
        };
        assert!(validate(&target("app", Some("app"), Some("pw"), 5432)).is_ok());
        assert!(validate(&target("app", None, None, 5432)).is_ok());
        assert!(validate(&target("app", None, None, 0)).is_err());
        assert!(validate(&target("", None, None, 5432)).is_err());
        assert!(validate(&target("app\0replication\0true", None, None, 5432)).is_err());
        assert!(validate(&target("app", Some("x\0y"), None, 5432)).is_err());
        assert!(validate(&target("app", None, Some("p\0w"), 5432)).is_err());
        let err = validate(&target("app", None, Some(&"canary".repeat(200)), 5432)).unwrap_err();
        assert!(!err.contains("canary"));
    }
}
