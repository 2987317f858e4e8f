//! The `platform` command line: serve (the default), run one event consumer alone, manage
//! operator tokens, rotate and re-wrap the access-token signing keys, or migrate the schemas.

/// The all-in-one process's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "platform",
    about = "Gateway + identity-svc + connections-svc + projects-svc in one process"
)]
pub struct Cli {
    /// The log filter.
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The platform's configuration.
    #[command(flatten)]
    pub config: crate::Config,
}

/// The platform's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the platform (the default).
    Serve,
    /// Apply one producer's events to one consumer's database, alone, until stopped (the same
    /// consumer the services run; its cursor is the consumer's own).
    Consume(ConsumeArgs),
    /// Create, list or revoke operator tokens (the owner role over every account) in
    /// identity-svc's database (`DATA_DIR`, `DATABASE_URL`, `SCHEMA_PREFIX`); works while the
    /// platform runs. `create` prints the token as the last line.
    #[command(name = "owner-token", subcommand)]
    OwnerToken(identity_svc::operator::OwnerToken),
    /// Apply the services' schema migrations (all three, or `--service`), printing each
    /// step, and exit: 0 when every schema is up to date. Safe while the platform runs.
    Migrate(crate::migrate::MigrateArgs),
    /// Signing keys in identity-svc's database: `rotate-signing-key` / `rewrap-signing-keys`.
    #[command(flatten)]
    SigningKeys(identity_svc::signing_keys::SigningKeys),
    /// The operator's toolbox: `create-admin`, `export`, `import`, `rewrap` (crate::toolbox).
    #[command(flatten)]
    Toolbox(crate::toolbox::Toolbox),
}

/// Arguments of `platform consume`.
#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The consuming service whose database receives the effects.
    #[arg(long, value_parser = ["projects", "connections"])]
    pub into: String,
    /// The producer: `identity` or `projects`.
    #[arg(long, value_parser = ["identity", "projects"])]
    pub from: String,
    /// The producer's gRPC URL (`https://` with GRPC_TLS_CA_FILE).
    #[arg(long)]
    pub from_url: String,
    /// The certificate presented to a producer that requires client certificates.
    #[command(flatten)]
    pub tls: service_kit::grpc::tls::CertificateArgs,
    /// The CA of the producer's certificate, for an `https://` URL.
    #[command(flatten)]
    pub tls_ca: service_kit::grpc::tls::CaArgs,
}
