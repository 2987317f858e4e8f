//! identity-svc's configuration: flags or environment variables (12-factor).
//!
//! [`Settings`] holds what the service does (lifetimes, limits, mail); [`Config`] adds where it
//! runs (its address, its database, its credential). The separate binary parses [`Config`]; the
//! all-in-one `platform` flattens the same [`Settings`] into its own configuration, so a
//! variable is read the same way in both. Conventions: `service_kit::config`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    config::{KeySetArgs, ProducerArgs, parse_secret},
    envelope::{Keyring, key_file},
    grpc::tls::{CertificateArgs, ServerTlsArgs},
};

/// identity-svc's process: the wiring of one deployment and the service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(
        long = "identity-listen-addr",
        env = "IDENTITY_LISTEN_ADDR",
        value_name = "IDENTITY_LISTEN_ADDR",
        default_value = "0.0.0.0:50051"
    )]
    pub listen_addr: SocketAddr,
    /// `postgres://…` for PostgreSQL; unset or `sqlite:` for an embedded SQLite file in
    /// `DATA_DIR`.
    #[arg(long = "identity-database-url", env = "IDENTITY_DATABASE_URL", value_name = "IDENTITY_DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL schema this service owns.
    #[arg(
        long = "identity-database-schema",
        env = "IDENTITY_DATABASE_SCHEMA",
        value_name = "IDENTITY_DATABASE_SCHEMA",
        default_value = "identity"
    )]
    pub database_schema: String,
    /// Directory of the embedded SQLite file.
    #[arg(
        long,
        env = "DATA_DIR",
        value_name = "DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,
    /// This service's own credential (at least 32 characters): it would present it to a peer,
    /// and it keys the digests of email passcodes, so every replica needs the same one.
    #[arg(long, env = "SERVICE_CREDENTIAL", value_name = "SERVICE_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub service_credential: SecretString,
    /// The parts that may call this service, by the SHA-256 of each one's credential:
    /// `gateway:<hex>,projects-svc:<hex>,connections-svc:<hex>[,operator:<hex>]`; which
    /// method each may call is fixed in `grpc/callers.rs`.
    #[arg(long, env = "SERVICE_CREDENTIALS", value_name = "SERVICE_CREDENTIALS", value_parser = parse_secret, hide_env_values = true)]
    pub service_credentials: SecretString,
    /// This part's certificate (internal gRPC over TLS).
    #[command(flatten)]
    pub tls: CertificateArgs,
    /// The client certificates its gRPC server requires (mutual TLS).
    #[command(flatten)]
    pub tls_server: ServerTlsArgs,
    /// How the service follows its own signing keys.
    #[command(flatten)]
    pub key_set: KeySetArgs,
    /// Where the process serves its Prometheus metrics.
    #[command(flatten)]
    pub metrics: service_kit::metrics::MetricsArgs,
    /// Its outbox of events.
    #[command(flatten)]
    pub events: ProducerArgs,
    /// Whether it migrates its schema at start, or waits for `migrate`.
    #[command(flatten)]
    pub migrations: service_kit::migrate::MigrationArgs,
    /// What the service does.
    #[command(flatten)]
    pub settings: Settings,
}

/// What identity-svc does, the same in the separate binary and in the all-in-one.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "identity-settings")]
pub struct Settings {
    /// Largest number of pooled database connections.
    #[arg(long, env = "IDENTITY_DB_MAX_CONNECTIONS", value_name = "IDENTITY_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub identity_db_max_connections: u32,
    /// Argon2id password hashes in flight (19 MiB each). Default: the number of CPUs.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", value_name = "PASSWORD_HASH_CONCURRENCY", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub password_hash_concurrency: Option<u16>,
    /// Lifetime of access JWTs, in seconds (30 to 900).
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECONDS", value_name = "ACCESS_TOKEN_TTL_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(30..=900))]
    pub access_token_ttl_seconds: u64,
    /// Key-encryption keys of the access-token signing keys, `1:<base64 of 32 bytes>,2:…`
    /// (the signing keys are stored sealed under the highest version). Default: a key
    /// generated into `$DATA_DIR/identity.keys` (required when identity-svc runs apart on
    /// PostgreSQL). Rotate: add a version, restart, run `identity-svc rewrap-signing-keys`,
    /// then raise IDENTITY_KEY_MIN_DECRYPT_VERSION.
    #[arg(long, env = "IDENTITY_KEYS", value_name = "IDENTITY_KEYS", value_parser = parse_secret, hide_env_values = true)]
    pub identity_keys: Option<SecretString>,
    /// Key versions below this no longer open (raise it after `rewrap-signing-keys` moved
    /// every signing key).
    #[arg(long, env = "IDENTITY_KEY_MIN_DECRYPT_VERSION", value_name = "IDENTITY_KEY_MIN_DECRYPT_VERSION", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub identity_key_min_decrypt_version: u32,
    /// Age at which a new access-token signing key is created, in seconds (rotation with
    /// overlap).
    #[arg(long, env = "SIGNING_KEY_ROTATION_SECONDS", value_name = "SIGNING_KEY_ROTATION_SECONDS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub signing_key_rotation_seconds: u64,
    /// Absolute lifetime of a browser session, in seconds.
    #[arg(long, env = "SESSION_TTL_SECONDS", value_name = "SESSION_TTL_SECONDS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(60..=366 * 24 * 3600))]
    pub session_ttl_seconds: u64,
    /// How long after logging in a session may take admin actions (deleting the user or an
    /// organization, admin invitations and promotions, creating and rotating tokens), in
    /// seconds; an older session must log in again (1 to 366 days).
    #[arg(long, env = "RECENT_LOGIN_SECONDS", value_name = "RECENT_LOGIN_SECONDS", default_value_t = service_kit::scope::DEFAULT_RECENT_LOGIN_SECONDS, value_parser = clap::value_parser!(u64).range(1..=366 * 24 * 3600))]
    pub recent_login_seconds: u64,
    /// Failed logins of one account from one client address before each further attempt from
    /// there must wait (1 s, doubling, up to 15 minutes; forgotten a day after the last).
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", value_name = "LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_account: u32,
    /// Login attempts per client address in five minutes (across accounts; successes not
    /// counted) before login answers 429.
    #[arg(long, env = "LOGIN_FAILURES_PER_ADDRESS", value_name = "LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_failures_per_address: u32,
    /// Where mail (passcodes) goes: `smtp://[user:pass@]host[:port][?tls=required]`,
    /// `smtps://…`, or `file:<dir>` (one `.eml` file per message). Default: `file:` the
    /// `mail` directory under `DATA_DIR`.
    #[arg(long, env = "MAIL_URL", value_name = "MAIL_URL", value_parser = parse_secret, hide_env_values = true)]
    pub mail_url: Option<SecretString>,
    /// Sender of that mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        value_name = "MAIL_FROM",
        default_value = "Platform <no-reply@localhost>"
    )]
    pub mail_from: String,
    /// Lifetime of an email verification passcode, in seconds.
    #[arg(long, env = "EMAIL_PASSCODE_TTL_SECONDS", value_name = "EMAIL_PASSCODE_TTL_SECONDS", default_value_t = 15 * 60, value_parser = clap::value_parser!(u64).range(60..=24 * 3600))]
    pub email_passcode_ttl_seconds: u64,
    /// Email verification passcodes one user may request per hour before 429.
    #[arg(long, env = "EMAIL_PASSCODES_PER_HOUR", value_name = "EMAIL_PASSCODES_PER_HOUR", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub email_passcodes_per_hour: u32,
    /// Invitations one organization may create per hour before 429.
    #[arg(long, env = "INVITATIONS_PER_HOUR", value_name = "INVITATIONS_PER_HOUR", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub invitations_per_hour: u32,
    /// Open registrations from one client address per hour, before 429.
    #[arg(long, env = "REGISTRATIONS_PER_ADDRESS_PER_HOUR", value_name = "REGISTRATIONS_PER_ADDRESS_PER_HOUR", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub registrations_per_address_per_hour: u32,
    /// Open registrations per hour from anywhere, before 429.
    #[arg(long, env = "REGISTRATIONS_PER_HOUR", value_name = "REGISTRATIONS_PER_HOUR", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub registrations_per_hour: u32,
    /// Password reset requests per email address per hour before 429 (counted whether or not
    /// the address has an account).
    #[arg(long, env = "PASSWORD_RESETS_PER_HOUR", value_name = "PASSWORD_RESETS_PER_HOUR", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub password_resets_per_hour: u32,
    /// Password reset requests per client address per hour before 429.
    #[arg(long, env = "PASSWORD_RESETS_PER_ADDRESS_PER_HOUR", value_name = "PASSWORD_RESETS_PER_ADDRESS_PER_HOUR", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub password_resets_per_address_per_hour: u32,
    /// How often expired sessions, passcodes, invitations and reset links are deleted, in
    /// seconds.
    #[arg(long, env = "PURGE_INTERVAL_SECONDS", value_name = "PURGE_INTERVAL_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub purge_interval_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        service_kit::config::defaults()
    }
}

impl Settings {
    /// The key ring of the signing keys: from `IDENTITY_KEYS`, or on embedded SQLite from the
    /// key file `$DATA_DIR/identity.keys` (made on first start). The ring never goes into the
    /// database (CR-6).
    pub fn keyring(
        &self,
        database_url: Option<&SecretString>,
        data_dir: &Path,
    ) -> anyhow::Result<Keyring> {
        let spec = match (&self.identity_keys, database_url) {
            (Some(k), _) => k.clone(),
            (None, Some(url)) if url.expose_secret().starts_with("postgres") => anyhow::bail!(
                "IDENTITY_KEYS is required with PostgreSQL (e.g. 1:$(openssl rand -base64 32))"
            ),
            (None, _) => key_file(&data_dir.join(KEY_FILE))?,
        };
        Keyring::parse(spec.expose_secret(), self.identity_key_min_decrypt_version)
            .map_err(|e| anyhow::anyhow!("IDENTITY_KEYS: {e}"))
    }
}

/// The key file of the embedded stack in `DATA_DIR`.
pub const KEY_FILE: &str = "identity.keys";

impl Config {
    /// The defaults, with these values (tests).
    pub fn new(
        listen_addr: SocketAddr,
        database_url: Option<SecretString>,
        data_dir: PathBuf,
        service_credential: SecretString,
        service_credentials: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            database_url,
            database_schema: "identity".into(),
            data_dir,
            service_credential,
            service_credentials,
            tls: Default::default(),
            tls_server: Default::default(),
            key_set: service_kit::config::defaults(),
            // Tests start many in one process: no endpoint, no port taken.
            metrics: service_kit::metrics::MetricsArgs::off(),
            events: service_kit::config::defaults(),
            migrations: service_kit::migrate::MigrationArgs::default(),
            settings: Settings::default(),
        }
    }

    /// The mail transport's URL: `MAIL_URL`, or the file outbox under the data directory.
    pub fn mail_url(&self) -> SecretString {
        self.settings.mail_url.clone().unwrap_or_else(|| {
            SecretString::from(format!("file:{}", self.data_dir.join("mail").display()))
        })
    }

    /// The key ring of the signing keys ([`Settings::keyring`]).
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        self.settings
            .keyring(self.database_url.as_ref(), &self.data_dir)
    }

    /// Lifetime of access tokens.
    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.access_token_ttl_seconds)
    }
}

/// identity-svc's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "identity-svc",
    about = "The platform's identity service (gRPC)",
    after_help = "Operator tokens: identity-svc owner-token create|list|revoke (see owner-token --help)\n\
                  Signing keys: identity-svc rotate-signing-key | rewrap-signing-keys (see --help of each)"
)]
pub struct Cli {
    /// The log filter.
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// The service's configuration.
    #[command(flatten)]
    pub config: Config,
}
