//! The whole platform in one process, on embedded SQLite by default.
//!
//! Run: `cargo run --release -p platform` (HTTP API on http://127.0.0.1:8080, data in ./data).
//! `platform consume …` runs one event consumer alone (maintenance, and the crash tests);
//! `platform owner-token create|list|revoke` manages operator tokens (`identity_svc::operator`);
//! `platform rotate-signing-key` and `platform rewrap-signing-keys` the access-token signing
//! keys (`identity_svc::signing_keys`); `platform migrate [--service NAME]` the schemas
//! (`platform::migrate`); `platform create-admin|export|import|rewrap` the rest of the
//! operator's toolbox (`platform::toolbox`).

use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;

// mimalloc rather than the system allocator (glibc): the request path allocates many small,
// short-lived buffers across threads, and mimalloc served the gateway's GET /api/v1/user about
// 12 % faster in an interleaved A/B (docs/benchmarks.md). Every server binary uses it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn consume(config: platform::Config, args: platform::ConsumeArgs) -> anyhow::Result<()> {
    // The operator's credential, which the running platform (or the producer) admits on its
    // event subscriptions.
    let credential = service_kit::grpc::InternalCredential::new(
        config
            .operator_credential
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new())),
    )
    .map_err(|_| {
        anyhow::anyhow!("OPERATOR_CREDENTIAL: `platform consume` presents it; set it as the platform was started with")
    })?;
    let pool = service_kit::db::connect(&service_kit::db::DbConfig {
        url: config.database_url.clone(),
        schema: config.schema(&args.into),
        sqlite_file: config.data_dir.join(format!("{}.db", args.into)),
        max_connections: 2,
    })
    .await?;
    let (sink, consumer) = if args.into == "projects" {
        (projects_svc::store::sink_for_pool(pool), "projects-svc")
    } else {
        (
            connections_svc::store::sink_for_pool(pool),
            "connections-svc",
        )
    };
    let source: &'static str = if args.from == "identity" {
        "identity"
    } else {
        "projects"
    };
    let channel = service_kit::grpc::tls::ClientTls::load(&args.tls, &args.tls_ca)?
        .connect_lazy(&args.from_url)?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    tracing::info!(into = %args.into, from = source, "event consumer started");
    outbox::spawn_consumer(
        outbox::ConsumerSettings {
            source,
            consumer,
            max_backoff: Duration::from_secs(5),
            reconcile_every: None,
        },
        channel,
        credential,
        sink,
        shutdown,
    )
    .await?;
    Ok(())
}

/// identity-svc's database in the all-in-one, for the operator's subcommands.
fn identity_database(c: &platform::Config) -> service_kit::db::DbConfig {
    identity_svc::operator::DatabaseArgs {
        database_url: c.database_url.clone(),
        database_schema: c.schema("identity"),
        data_dir: c.data_dir.clone(),
    }
    .database()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = platform::Cli::parse();
    if let Some(platform::Command::OwnerToken(command)) = cli.command {
        // Its answer is stdout; logs go to stderr.
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let c = &cli.config;
        let db = identity_database(c);
        return identity_svc::operator::cli(&db, command, &mut std::io::stdout()).await;
    }
    if let Some(platform::Command::SigningKeys(command)) = cli.command {
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let c = &cli.config;
        let db = identity_database(c);
        let keyring = c
            .identity_settings()?
            .keyring(c.database_url.as_ref(), &c.data_dir)?;
        return identity_svc::signing_keys::cli(&db, &keyring, command, &mut std::io::stdout())
            .await;
    }
    if let Some(platform::Command::Toolbox(command)) = cli.command {
        // Results on stdout, progress and logs on stderr.
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        return platform::toolbox::run(&cli.config, command).await;
    }
    if let Some(platform::Command::Migrate(args)) = &cli.command {
        // The steps go to stdout; logs to stderr.
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        return platform::migrate::run(&cli.config, args, &mut std::io::stdout()).await;
    }
    if let Some(platform::Command::Consume(args)) = cli.command {
        service_kit::telemetry::init(&cli.log.rust_log);
        return consume(cli.config, args).await;
    }
    let telemetry = service_kit::telemetry::init_traced(&cli.log.rust_log, &platform::PARTS)?;
    let result = serve(cli.config).await;
    telemetry.shutdown().await;
    result
}

/// Runs every part until a signal stops them.
async fn serve(config: platform::Config) -> anyhow::Result<()> {
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let platform = platform::Platform::start(config, shutdown).await?;
    tracing::info!(url = %format!("http://{}", platform.gateway_addr), "platform started");
    platform.wait().await
}
