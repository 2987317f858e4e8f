//! identity-svc's configuration: flags or environment variables (12-factor).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;
use service_kit::config::parse_secret;

/// Configuration of identity-svc.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "IDENTITY_LISTEN_ADDR", default_value = "0.0.0.0:50051")]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in `data_dir`.
    #[arg(long, env = "IDENTITY_DATABASE_URL", value_parser = parse_secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
    #[arg(long, env = "IDENTITY_DATABASE_SCHEMA", default_value = "identity")]
    pub database_schema: String,
    /// Directory of the embedded SQLite file.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Largest number of pooled database connections.
    #[arg(long, env = "IDENTITY_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Credential of the trusted internal caller (the gateway); at least 32 characters.
    #[arg(long, env = "INTERNAL_CREDENTIAL", value_parser = parse_secret)]
    pub internal_credential: SecretString,
    /// Password hashes allowed at once (19 MiB each); default: the number of CPUs.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,
    /// Lifetime of access tokens, in seconds (at most 900).
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(30..=900))]
    pub access_token_ttl_seconds: u64,
    /// Failed logins allowed per account in five minutes before it answers 429.
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address in five minutes before it answers 429.
    #[arg(long, env = "LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50)]
    pub login_failures_per_address: u32,
    /// Age at which a new signing key is created, in seconds.
    #[arg(long, env = "SIGNING_KEY_ROTATION_SECONDS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub signing_key_rotation_seconds: u64,
    /// How long verifiers may cache the key set, in seconds: a new key is published twice this
    /// long before it signs, and verifiers refresh their key set this often.
    #[arg(long, env = "JWKS_CACHE_SECONDS", default_value_t = 60)]
    pub jwks_cache_seconds: u64,
    /// Absolute lifetime of a browser session, in seconds.
    #[arg(long, env = "SESSION_TTL_SECONDS", default_value_t = 7 * 24 * 3600)]
    pub session_ttl_seconds: u64,
    /// Where mail goes: `smtp://[user:password@]host[:port][?tls=required]`,
    /// `smtps://[user:password@]host[:port]`, or `file:<directory>` (one `.eml` file per message).
    /// Default: `file:` the `mail` directory under `DATA_DIR`.
    #[arg(long, env = "MAIL_URL", value_parser = parse_secret)]
    pub mail_url: Option<SecretString>,
    /// Sender of the mail this service sends.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Platform <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Lifetime of an email verification passcode, in seconds.
    #[arg(long, env = "EMAIL_PASSCODE_TTL_SECONDS", default_value_t = 15 * 60, value_parser = clap::value_parser!(u64).range(60..=24 * 3600))]
    pub email_passcode_ttl_seconds: u64,
    /// Email verification passcodes one user may request per hour.
    #[arg(long, env = "EMAIL_PASSCODES_PER_HOUR", default_value_t = 5)]
    pub email_passcodes_per_hour: u32,
    /// Invitations one organization may create per hour.
    #[arg(long, env = "INVITATIONS_PER_HOUR", default_value_t = 100)]
    pub invitations_per_hour: u32,
    /// How often expired sessions, passcodes and invitations are deleted, in seconds.
    #[arg(long, env = "PURGE_INTERVAL_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub purge_interval_seconds: u64,
    /// How long outbox events are kept for subscribers, in seconds (a consumer down longer must
    /// resynchronize).
    #[arg(long, env = "EVENTS_RETENTION_SECONDS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub events_retention_seconds: u64,
}

impl Config {
    /// A configuration for tests and the all-in-one binary: the defaults, with these values.
    pub fn new(
        listen_addr: SocketAddr,
        database_url: Option<SecretString>,
        data_dir: PathBuf,
        internal_credential: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            database_url,
            database_schema: "identity".into(),
            data_dir,
            db_max_connections: 10,
            internal_credential,
            password_hash_concurrency: None,
            access_token_ttl_seconds: 900,
            session_ttl_seconds: 7 * 24 * 3600,
            signing_key_rotation_seconds: 7 * 24 * 3600,
            jwks_cache_seconds: 60,
            login_failures_per_account: 10,
            login_failures_per_address: 50,
            mail_url: None,
            mail_from: "Platform <no-reply@localhost>".into(),
            email_passcode_ttl_seconds: 15 * 60,
            email_passcodes_per_hour: 5,
            invitations_per_hour: 100,
            purge_interval_seconds: 600,
            events_retention_seconds: 7 * 24 * 3600,
        }
    }

    /// The mail transport's URL: `MAIL_URL`, or the file outbox under the data directory.
    pub fn mail_url(&self) -> SecretString {
        self.mail_url.clone().unwrap_or_else(|| {
            SecretString::from(format!("file:{}", self.data_dir.join("mail").display()))
        })
    }

    /// Lifetime of access tokens.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_seconds)
    }
}
