//! The gateway's configuration: flags or environment variables (12-factor).
//!
//! [`Settings`] holds how the public API behaves; [`Config`] adds where the gateway runs and
//! where the services are. The separate binary parses [`Config`]; the all-in-one `platform`
//! flattens the same [`Settings`] into its own configuration. Conventions:
//! `service_kit::config`.

use std::net::SocketAddr;

use secrecy::SecretString;
use service_kit::{
    config::{KeySetArgs, parse_secret},
    grpc::tls::{CaArgs, CertificateArgs},
};

/// The gateway's process: the wiring of one deployment and the API's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(
        long = "gateway-listen-addr",
        env = "GATEWAY_LISTEN_ADDR",
        value_name = "GATEWAY_LISTEN_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub listen_addr: SocketAddr,
    /// URL of identity-svc's gRPC endpoint.
    #[arg(
        long,
        env = "IDENTITY_URL",
        value_name = "IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: String,
    /// URL of projects-svc's gRPC endpoint.
    #[arg(
        long,
        env = "PROJECTS_URL",
        value_name = "PROJECTS_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub projects_url: String,
    /// URL of connections-svc's gRPC endpoint.
    #[arg(
        long,
        env = "CONNECTIONS_URL",
        value_name = "CONNECTIONS_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub connections_url: String,
    /// The gateway's own credential, which it presents to the services on every call (at least
    /// 32 characters; the services accept it by its SHA-256 in their `SERVICE_CREDENTIALS`).
    #[arg(long, env = "SERVICE_CREDENTIAL", value_name = "SERVICE_CREDENTIAL", value_parser = parse_secret, hide_env_values = true)]
    pub service_credential: SecretString,
    /// This part's certificate (internal gRPC over TLS).
    #[command(flatten)]
    pub tls: CertificateArgs,
    /// The CA of the services it calls (internal gRPC over TLS).
    #[command(flatten)]
    pub tls_ca: CaArgs,
    /// How the gateway follows identity-svc's signing keys.
    #[command(flatten)]
    pub key_set: KeySetArgs,
    /// Where the process serves its Prometheus metrics.
    #[command(flatten)]
    pub metrics: service_kit::metrics::MetricsArgs,
    /// How the public API behaves.
    #[command(flatten)]
    pub settings: Settings,
}

/// How the public API behaves, the same in the separate binary and in the all-in-one.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "gateway-settings")]
pub struct Settings {
    /// Send the session cookie only over HTTPS (`Secure`); turn on behind TLS. Always on when
    /// `PUBLIC_URL` is `https://`.
    #[arg(long, env = "COOKIE_SECURE", value_name = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
    /// Base of links the API hands out (invitations, password resets), `http://` or
    /// `https://` (which makes the session cookie `Secure`). Default: the listen address.
    #[arg(long, env = "PUBLIC_URL", value_name = "PUBLIC_URL", value_parser = parse_base_url)]
    pub public_url: Option<String>,
    /// Behind a proxy that appends the client to `X-Forwarded-For`, take that address (the
    /// last entry) as the client's, for login throttling and accounts' allowed IPs; otherwise
    /// the peer address.
    #[arg(long, env = "TRUST_FORWARDED_FOR", value_name = "TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", value_name = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u32).range(1024..=64 * 1024 * 1024))]
    pub body_limit_bytes: u32,
    /// Seconds a client has to send a request's headers, from the connection's start or, on a
    /// kept-alive HTTP/1 connection, from the head's first byte; then the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", value_name = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body, from the end of its headers; then
    /// the request answers 408.
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", value_name = "BODY_READ_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub body_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight, from its last answer or
    /// its opening; then it is closed.
    #[arg(long, env = "KEEP_ALIVE_IDLE_SECS", value_name = "KEEP_ALIVE_IDLE_SECS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub keep_alive_idle_secs: u64,
    /// Client connections served at once; further ones wait unanswered, in the listen queue,
    /// until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", value_name = "MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        service_kit::config::defaults()
    }
}

/// An absolute `http` or `https` URL without a trailing slash.
fn parse_base_url(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("must start with http:// or https://")?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an absolute URL with a host and no spaces".into());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

impl Config {
    /// The defaults, with these values (tests).
    pub fn new(
        listen_addr: SocketAddr,
        identity_url: String,
        service_credential: SecretString,
    ) -> Self {
        Self {
            listen_addr,
            identity_url,
            projects_url: "http://127.0.0.1:50053".into(),
            connections_url: "http://127.0.0.1:50052".into(),
            service_credential,
            tls: Default::default(),
            tls_ca: Default::default(),
            key_set: service_kit::config::defaults(),
            // Tests start many in one process: no endpoint, no port taken.
            metrics: service_kit::metrics::MetricsArgs::off(),
            settings: Settings::default(),
        }
    }
}

/// The gateway's command line.
#[derive(Debug, clap::Parser)]
#[command(name = "gateway", about = "The platform's public REST gateway")]
pub struct Cli {
    /// The log filter.
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// The gateway's configuration.
    #[command(flatten)]
    pub config: Config,
}

#[cfg(test)]
mod tests {
    use super::parse_base_url;

    #[test]
    fn public_urls_are_absolute_http_urls() {
        assert_eq!(
            parse_base_url("https://api.example.com/").as_deref(),
            Ok("https://api.example.com")
        );
        assert!(parse_base_url("http://127.0.0.1:8080/base").is_ok());
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://",
            "https://a b",
            "http:///x",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }
}
