//! Configuration shared by every binary: helpers for the typed configurations (clap, each
//! variable settable as `--flag` or from the environment) and the settings more than one
//! service reads, declared once so that the all-in-one `platform` reads each variable once.
//!
//! Conventions, checked for every binary by `platform/tests/api/config.rs`:
//! - every setting has an environment variable, and its flag is that name in lower case with
//!   dashes (`ACCESS_TOKEN_TTL_SECONDS` is `--access-token-ttl-seconds`);
//! - its value name is the variable's name, so a bad value stops start-up with a message that
//!   names the variable;
//! - a secret's value is never shown by `--help` (`hide_env_values`) nor echoed by an error.

use clap::{Args, Command, FromArgMatches};
use secrecy::SecretString;

/// Internal gRPC over TLS (`GRPC_TLS_*`, `GRPC_HEALTH_LISTEN_ADDR`), declared beside the code
/// that reads them.
pub use crate::grpc::tls::{CaArgs, CertificateArgs, ServerTlsArgs};

/// Parses a secret from the command line or the environment without ever echoing it back.
pub fn parse_secret(value: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(value.to_owned()))
}

/// How many CPUs this process may use (at least 1).
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The defaults of a settings type, from its clap declarations alone (the environment is not
/// read): the one place a default is written is the `#[arg(default_value…)]` of its field.
///
/// # Panics
/// When `T` has a required argument (a settings type must not).
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(Command::new("defaults")).mut_args(|a| a.env(None));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every setting has a default");
    T::from_arg_matches(&matches).expect("the defaults parse")
}

/// The log filter of a binary.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter (`info`, `warn`, `identity_svc=debug,info`, …); logs are JSON lines on
    /// stdout.
    #[arg(
        long = "rust-log",
        env = "RUST_LOG",
        value_name = "RUST_LOG",
        default_value = "info",
        value_parser = parse_log_filter
    )]
    pub rust_log: String,
}

pub(crate) fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|e| e.to_string())
}

/// How verifiers of access tokens follow identity-svc's signing keys (every service and the
/// gateway; identity-svc publishes a new key this long, twice over, before it signs with it).
#[derive(Debug, Clone, Args)]
pub struct KeySetArgs {
    /// How often the key set is refreshed, in seconds; identity-svc publishes a new key twice
    /// this long before it signs with it.
    #[arg(
        long = "jwks-cache-seconds",
        env = "JWKS_CACHE_SECONDS",
        value_name = "JWKS_CACHE_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub jwks_cache_seconds: u64,
}

impl KeySetArgs {
    /// The refresh interval.
    pub fn refresh_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.jwks_cache_seconds)
    }
}

/// Settings of a service that produces events (identity-svc, projects-svc).
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    /// How long outbox events are kept for subscribers, in seconds; a consumer away longer
    /// resynchronizes from a snapshot.
    #[arg(
        long = "events-retention-seconds",
        env = "EVENTS_RETENTION_SECONDS",
        value_name = "EVENTS_RETENTION_SECONDS",
        default_value_t = 7 * 24 * 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub events_retention_seconds: u64,
}

/// Settings of a service that consumes other services' events (projects-svc,
/// connections-svc).
#[derive(Debug, Clone, Args)]
pub struct ConsumerArgs {
    /// Whether the service applies the other services' events (deletions cascade). Off only
    /// for tests and maintenance.
    #[arg(
        long = "consume-events",
        env = "CONSUME_EVENTS",
        value_name = "CONSUME_EVENTS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub consume_events: bool,
    /// How often the service also reconciles with the producers' snapshots, in seconds
    /// (removes rows that escaped a cascade by racing it).
    #[arg(
        long = "events-reconcile-seconds",
        env = "EVENTS_RECONCILE_SECONDS",
        value_name = "EVENTS_RECONCILE_SECONDS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub events_reconcile_seconds: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_declarations() {
        let c: ConsumerArgs = defaults();
        assert!(c.consume_events);
        assert_eq!(c.events_reconcile_seconds, 3600);
        assert_eq!(defaults::<KeySetArgs>().jwks_cache_seconds, 60);
    }
}
