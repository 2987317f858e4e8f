//! "Test connection": connects to a customer's PostgreSQL or MySQL/MariaDB database with one
//! connection, runs `SELECT 1`, closes it, and says how that went ([`Outcome`]).
//!
//! # Egress policy (checklist AP-8, server-side request forgery)
//!
//! The host and port come from a tenant, so a connection test is a request the platform sends on
//! a tenant's behalf to an address the tenant chose. Without a policy it would let a tenant reach
//! what only the platform can reach: the cloud's metadata service (credentials of the machine),
//! the cluster's own services, or anything on the loopback interface. [`test_connection`]
//! therefore refuses, without ever opening a socket to the target:
//!
//! 1. **By name**, before any lookup ([`check_host_name`]): names ending in `.svc`,
//!    `.cluster.local`, `.local` or `.internal` (Kubernetes services, mDNS, and cloud metadata
//!    such as `metadata.google.internal`), and `kubernetes.default` / `kubernetes.default.svc`,
//!    always; `localhost` and `*.localhost` unless loopback is allowed; single-label names
//!    (`postgres`, `kubernetes`) unless private addresses are allowed, since resolver search
//!    domains turn them into cluster-internal services.
//! 2. **By address** ([`check_address`]): the name is resolved here, within the timeout, and the
//!    test is refused if *any* resolved address is denied. Always denied: unspecified
//!    (`0.0.0.0/8`, `::`), link-local (`169.254.0.0/16`, `fe80::/10`, home of the
//!    `169.254.169.254` metadata service), other cloud metadata and platform addresses
//!    (`100.100.100.200`, `168.63.129.16`, `fd00:ec2::/32`, `fd20:ce::254`), multicast,
//!    broadcast and reserved space (`240.0.0.0/4`, `192.0.0.0/24`, documentation and
//!    benchmarking ranges, IPv6 outside `2000::/3`). Loopback (`127.0.0.0/8`, `::1`) is denied
//!    unless [`EgressPolicy::allow_loopback`]; private space (`10/8`, `172.16/12`,
//!    `192.168/16`, `100.64/10` shared address space, `fc00::/7`, `fec0::/10`,
//!    `64:ff9b:1::/48`) unless [`EgressPolicy::allow_private`]. An IPv4 address carried
//!    in IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
//!    `2002::/16`) is unwrapped and judged as IPv4.
//! 3. **No second lookup**: the driver is given the vetted IP address, never the name, so a
//!    DNS answer that changes between the check and the connection (DNS rebinding) cannot
//!    redirect it.
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

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    Connection,
    mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlSslMode},
    postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSslMode},
};

/// Longest message, in characters, that an [`Outcome`] carries.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// The application name the probe announces to PostgreSQL servers.
const APPLICATION_NAME: &str = "connections-svc connection test";

/// Which addresses a connection test may reach (AP-8).
///
/// The default denies both loopback and private addresses, as production must.
#[derive(Debug, Clone, Copy, Default)]
pub struct EgressPolicy {
    /// Allows `127.0.0.0/8`, `::1` and the name `localhost` (development and tests).
    pub allow_loopback: bool,
    /// Allows private and shared address space and single-label host names (self-hosted
    /// deployments whose customers' databases live on the same private network).
    pub allow_private: bool,
}

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

/// Vets `host` by name, resolves it (an IP literal resolves to itself) and vets every address.
async fn resolve(policy: &EgressPolicy, host: &str, port: u16) -> Result<Vec<SocketAddr>, Outcome> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addresses = if let Ok(ip) = bare.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        check_host_name(policy, host).map_err(|reason| Outcome::Refused { reason })?;
        match tokio::net::lookup_host((host, port)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                return Err(Outcome::Failed {
                    message: sanitize(&format!("could not resolve {host}: {e}"), None),
                });
            }
        }
    };
    for address in &addresses {
        check_address(policy, address.ip()).map_err(|reason| Outcome::Refused {
            reason: if bare.parse::<IpAddr>().is_ok() {
                reason
            } else {
                sanitize(
                    &format!("{host} resolves to a denied address: {reason}"),
                    None,
                )
            },
        })?;
    }
    Ok(addresses)
}

/// Refuses host names that point inside the platform (see the module docs); `Err` is the reason.
/// Does not judge IP literals: [`check_address`] does.
pub fn check_host_name(policy: &EgressPolicy, host: &str) -> Result<(), String> {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err("the host name is empty or longer than 253 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        || name.split('.').any(str::is_empty)
    {
        return Err("the host name is not a valid DNS name".into());
    }
    const INTERNAL_SUFFIXES: [&str; 5] = [
        ".svc",
        ".svc.cluster.local",
        ".cluster.local",
        ".local",
        ".internal",
    ];
    const INTERNAL_NAMES: [&str; 2] = ["kubernetes.default", "kubernetes.default.svc"];
    if INTERNAL_NAMES.contains(&name.as_str())
        || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
    {
        return Err(format!(
            "{name} is a cluster-internal or cloud-internal name"
        ));
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return if policy.allow_loopback {
            Ok(())
        } else {
            Err(format!("{name} is a loopback name"))
        };
    }
    if !name.contains('.') && !policy.allow_private {
        return Err(format!(
            "{name} is a single-label name, which resolver search domains turn into an internal service"
        ));
    }
    Ok(())
}

/// Why an address is denied.
enum Denial {
    Always(&'static str),
    Loopback,
    Private(&'static str),
}

/// Whether `policy` lets a connection test reach `ip`; `Err` is the reason when not.
pub fn check_address(policy: &EgressPolicy, ip: IpAddr) -> Result<(), String> {
    let (judged, denial) = match ip {
        IpAddr::V4(v4) => (v4.into(), classify_v4(v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => (IpAddr::V4(v4), classify_v4(v4)),
            None => (ip, classify_v6(v6)),
        },
    };
    let shown = if judged == ip {
        ip.to_string()
    } else {
        format!("{ip} (IPv4 {judged})")
    };
    match denial {
        None => Ok(()),
        Some(Denial::Loopback) if policy.allow_loopback => Ok(()),
        Some(Denial::Private(_)) if policy.allow_private => Ok(()),
        Some(Denial::Loopback) => Err(format!("{shown} is a loopback address")),
        Some(Denial::Private(what)) | Some(Denial::Always(what)) => {
            Err(format!("{shown} is {what}"))
        }
    }
}

/// The IPv4 address an IPv6 address carries, if it is a way of reaching IPv4: mapped
/// (`::ffff:0:0/96`), compatible (`::/96`, except `::` and `::1`), NAT64 (`64:ff9b::/96`) or
/// 6to4 (`2002::/16`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<Denial> {
    // Specific addresses first: some lie inside ranges that a policy may allow.
    const ALWAYS: &[([u8; 4], u32, &str)] = &[
        (
            [100, 100, 100, 200],
            32,
            "a cloud metadata address (Alibaba Cloud)",
        ),
        (
            [168, 63, 129, 16],
            32,
            "a cloud platform address (Azure WireServer)",
        ),
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        (
            [169, 254, 0, 0],
            16,
            "a link-local address (cloud metadata services live there)",
        ),
        ([192, 0, 0, 0], 24, "reserved (IETF protocol assignments)"),
        ([192, 0, 2, 0], 24, "reserved (documentation)"),
        ([198, 51, 100, 0], 24, "reserved (documentation)"),
        ([203, 0, 113, 0], 24, "reserved (documentation)"),
        ([198, 18, 0, 0], 15, "reserved (benchmarking)"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
    ];
    const PRIVATE: &[([u8; 4], u32, &str)] = &[
        ([10, 0, 0, 0], 8, "a private address (10.0.0.0/8)"),
        ([172, 16, 0, 0], 12, "a private address (172.16.0.0/12)"),
        ([192, 168, 0, 0], 16, "a private address (192.168.0.0/16)"),
        (
            [100, 64, 0, 0],
            10,
            "a shared (carrier-grade NAT) address (100.64.0.0/10)",
        ),
    ];
    if let Some(&(_, _, what)) = ALWAYS.iter().find(|(net, p, _)| in_v4(ip, *net, *p)) {
        return Some(Denial::Always(what));
    }
    if in_v4(ip, [127, 0, 0, 0], 8) {
        return Some(Denial::Loopback);
    }
    PRIVATE
        .iter()
        .find(|(net, p, _)| in_v4(ip, *net, *p))
        .map(|&(_, _, what)| Denial::Private(what))
}

fn classify_v6(ip: Ipv6Addr) -> Option<Denial> {
    const ALWAYS: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "the unspecified address"),
        (
            [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0],
            32,
            "a cloud metadata address (AWS, fd00:ec2::/32)",
        ),
        (
            [0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254],
            128,
            "a cloud metadata address (Google Cloud)",
        ),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "reserved (documentation)",
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            "reserved (documentation)",
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "reserved (IETF protocol assignments, Teredo)",
        ),
    ];
    const PRIVATE: &[([u16; 8], u32, &str)] = &[
        (
            [0xfc00, 0, 0, 0, 0, 0, 0, 0],
            7,
            "a unique local address (fc00::/7)",
        ),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "a site-local address (fec0::/10)",
        ),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "a local-use NAT64 address (64:ff9b:1::/48)",
        ),
    ];
    if let Some(&(_, _, what)) = ALWAYS.iter().find(|(net, p, _)| in_v6(ip, *net, *p)) {
        return Some(Denial::Always(what));
    }
    if ip == Ipv6Addr::LOCALHOST {
        return Some(Denial::Loopback);
    }
    if let Some(&(_, _, what)) = PRIVATE.iter().find(|(net, p, _)| in_v6(ip, *net, *p)) {
        return Some(Denial::Private(what));
    }
    // Global unicast is 2000::/3; the rest is reserved or unassigned.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(Denial::Always("reserved (outside global unicast 2000::/3)"));
    }
    None
}

/// Connects to `ip` (never the name again), runs `SELECT 1` and closes.
async fn connect_and_query(
    target: &Target,
    ip: IpAddr,
    password: Option<&str>,
) -> Result<(), sqlx::Error> {
    let host = ip.to_string();
    match target.engine {
        Engine::Postgres => {
            // `new_without_pgpass` skips `.pgpass`; the password is always set so that
            // `PGPASSWORD`, the service's own, can never reach a customer's server.
            let mut options = PgConnectOptions::new_without_pgpass()
                .host(&host)
                .port(target.port)
                .username(&target.user)
                .password(password.unwrap_or_default())
                .ssl_mode(match target.tls {
                    Tls::Prefer => PgSslMode::Prefer,
                    Tls::Require => PgSslMode::Require,
                    Tls::VerifyCa => PgSslMode::VerifyCa,
                })
                .application_name(APPLICATION_NAME);
            // Without a database PostgreSQL takes the user name, which is also what PGDATABASE
            // would otherwise override.
            options = options.database(target.database.as_deref().unwrap_or(&target.user));
            let mut connection = PgConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").fetch_one(&mut connection).await?;
            connection.close().await.ok();
        }
        Engine::MySql => {
            let mut options = MySqlConnectOptions::new()
                .host(&host)
                .port(target.port)
                .username(&target.user)
                .ssl_mode(match target.tls {
                    Tls::Prefer => MySqlSslMode::Preferred,
                    Tls::Require => MySqlSslMode::Required,
                    Tls::VerifyCa => MySqlSslMode::VerifyCa,
                })
                // Never send the password in clear text, whatever the server asks for.
                .enable_cleartext_plugin(false);
            // An empty password is no password: MySQL would otherwise get a scramble of "".
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                options = options.password(password);
            }
            if let Some(database) = &target.database {
                options = options.database(database);
            }
            let mut connection = MySqlConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").fetch_one(&mut connection).await?;
            connection.close().await.ok();
        }
    }
    Ok(())
}

/// PostgreSQL SQLSTATE class 28 (invalid authorisation specification: 28000, 28P01) and MySQL
/// errors 1044 (database access denied), 1045 (access denied) and 1698 (access denied without
/// password) are rejected credentials; anything else is a failure.
fn classify(engine: Engine, error: &sqlx::Error, password: Option<&str>) -> Outcome {
    let Some(database) = error.as_database_error() else {
        return Outcome::Failed {
            message: sanitize(&error.to_string(), password),
        };
    };
    let (authentication, text) = match engine {
        Engine::Postgres => match database.try_downcast_ref::<PgDatabaseError>() {
            Some(e) => (
                e.code().starts_with("28"),
                format!("{} ({})", e.message(), e.code()),
            ),
            None => (false, database.message().to_owned()),
        },
        Engine::MySql => match database.try_downcast_ref::<MySqlDatabaseError>() {
            Some(e) => (
                matches!(e.number(), 1044 | 1045 | 1698),
                format!("{} (error {})", e.message(), e.number()),
            ),
            None => (false, database.message().to_owned()),
        },
    };
    let message = sanitize(&text, password);
    if authentication {
        Outcome::AuthenticationFailed { message }
    } else {
        Outcome::Failed { message }
    }
}

/// Makes untrusted server text safe to store and show: the password scrubbed, control and
/// bidirectional-formatting characters removed, at most [`MAX_MESSAGE_CHARS`] characters.
fn sanitize(text: &str, password: Option<&str>) -> String {
    const REDACTED: &str = "[redacted]";
    let scrub = |s: &str| match password {
        Some(p) if !p.is_empty() => s.replace(p, REDACTED),
        _ => s.to_owned(),
    };
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    // Scrubbed before and after removing characters, which could otherwise split a password.
    let cleaned: String = scrub(text).chars().filter(|&c| !invisible(c)).collect();
    let cleaned = scrub(&cleaned);
    if cleaned.chars().count() <= MAX_MESSAGE_CHARS {
        return cleaned;
    }
    let mut capped: String = cleaned.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    capped.push('…');
    capped
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: EgressPolicy = EgressPolicy {
        allow_loopback: false,
        allow_private: false,
    };
    const LOOPBACK: EgressPolicy = EgressPolicy {
        allow_loopback: true,
        allow_private: false,
    };
    const PRIVATE: EgressPolicy = EgressPolicy {
        allow_loopback: false,
        allow_private: true,
    };
    const BOTH: EgressPolicy = EgressPolicy {
        allow_loopback: true,
        allow_private: true,
    };

    /// Category of an address: what each policy says about it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        /// Allowed by every policy.
        Public,
        /// Allowed only with `allow_loopback`.
        Loopback,
        /// Allowed only with `allow_private`.
        Private,
        /// Denied by every policy.
        Never,
    }

    #[test]
    fn address_policy_table() {
        use Expect::*;
        let table: &[(&str, Expect)] = &[
            // public
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("172.15.255.255", Public),
            ("172.32.0.1", Public),
            ("100.63.255.255", Public),
            ("100.128.0.0", Public),
            ("2001:4860::8888", Public),
            ("2606:4700:4700::1111", Public),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::808:808", Public),
            // loopback
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::127.0.0.1", Loopback),
            ("2002:7f00:1::", Loopback),
            // private
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.1", Private),
            ("192.168.1.10", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("::ffff:10.1.2.3", Private),
            ("64:ff9b:1::1", Private),
            // never
            ("0.0.0.0", Never),
            ("0.1.2.3", Never),
            ("::", Never),
            ("169.254.169.254", Never),
            ("169.254.0.1", Never),
            ("::ffff:169.254.169.254", Never),
            ("::169.254.169.254", Never),
            ("64:ff9b::a9fe:a9fe", Never),
            ("2002:a9fe:a9fe::1", Never),
            ("fe80::1", Never),
            ("febf::1", Never),
            ("fd00:ec2::254", Never),
            ("fd20:ce::254", Never),
            ("100.100.100.200", Never),
            ("168.63.129.16", Never),
            ("224.0.0.1", Never),
            ("239.255.255.250", Never),
            ("ff02::1", Never),
            ("255.255.255.255", Never),
            ("240.0.0.1", Never),
            ("192.0.0.192", Never),
            ("192.0.2.1", Never),
            ("198.18.0.1", Never),
            ("2001:db8::1", Never),
            ("2001::1", Never),
            ("100::1", Never),
            ("::ffff:0.0.0.0", Never),
            ("::ffff:255.255.255.255", Never),
        ];
        for &(text, expect) in table {
            let ip: IpAddr = text.parse().unwrap();
            let allowed = [NONE, LOOPBACK, PRIVATE, BOTH].map(|p| check_address(&p, ip).is_ok());
            let wanted = match expect {
                Public => [true, true, true, true],
                Loopback => [false, true, false, true],
                Private => [false, false, true, true],
                Never => [false, false, false, false],
            };
            assert_eq!(
                allowed, wanted,
                "{text} should be {expect:?} (none, loopback, private, both)"
            );
            if expect != Public {
                let reason = check_address(&NONE, ip).unwrap_err();
                assert!(
                    reason.starts_with(&ip.to_string()),
                    "{text}: reason {reason:?}"
                );
            }
        }
    }

    #[test]
    fn reasons_name_the_category() {
        let reason = |s: &str| check_address(&NONE, s.parse().unwrap()).unwrap_err();
        assert!(reason("169.254.169.254").contains("link-local"));
        assert!(reason("::ffff:169.254.169.254").contains("IPv4 169.254.169.254"));
        assert!(reason("127.0.0.1").contains("loopback"));
        assert!(reason("10.1.1.1").contains("private"));
        assert!(reason("fd00:ec2::254").contains("metadata"));
    }

    #[test]
    fn host_names() {
        for name in [
            "kubernetes.default",
            "kubernetes.default.svc",
            "KUBERNETES.default.svc.cluster.local",
            "postgres.db.svc",
            "metadata.google.internal",
            "metadata.google.internal.",
            "printer.local",
            "foo.cluster.local",
            "",
            "a..b",
            "bad host.example.com",
            "/var/run/postgresql",
            "user@evil.example.com",
        ] {
            assert!(
                check_host_name(&BOTH, name).is_err(),
                "{name:?} should always be refused"
            );
        }
        for name in ["localhost", "LOCALHOST.", "db.localhost"] {
            assert!(check_host_name(&NONE, name).is_err(), "{name}");
            assert!(check_host_name(&PRIVATE, name).is_err(), "{name}");
            assert!(check_host_name(&LOOPBACK, name).is_ok(), "{name}");
        }
        for name in ["postgres", "kubernetes", "metadata"] {
            assert!(check_host_name(&NONE, name).is_err(), "{name}");
            assert!(check_host_name(&LOOPBACK, name).is_err(), "{name}");
            assert!(check_host_name(&PRIVATE, name).is_ok(), "{name}");
        }
        for name in [
            "db.example.com",
            "db-1.eu_west.example.com.",
            "xn--bcher-kva.example",
        ] {
            assert!(check_host_name(&NONE, name).is_ok(), "{name}");
        }
    }

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
    fn sanitize_strips_caps_and_scrubs() {
        let canary = "canary-Pw-7f3e9b";
        let text =
            format!("bad\u{0}\u{1b}[31m thing\r\n\u{202e}evil {canary} and c\u{7}anary-Pw-7f3e9b");
        let clean = sanitize(&text, Some(canary));
        assert!(!clean.contains(canary), "{clean}");
        assert!(!clean.contains("canary"), "{clean}");
        assert!(
            !clean.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{clean:?}"
        );
        assert_eq!(clean, "bad[31m thingevil [redacted] and [redacted]");

        let long = "é".repeat(1000);
        let capped = sanitize(&long, None);
        assert_eq!(capped.chars().count(), MAX_MESSAGE_CHARS);
        assert!(capped.ends_with('…'));
        assert_eq!(sanitize("short", Some("")), "short");
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
