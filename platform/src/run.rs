//! What `platform` does for its command line: serve every part, or run one of the operator's
//! subcommands.
//!
//! Here rather than in `main.rs` so that it is compiled with this library: an async body is
//! compiled by the crate that polls it, and the binary is the last unit of the build, alone on
//! one core, while this library is compiled beside the services (docs/benchmarks.md, "First
//! build").

use std::{future::Future, pin::Pin, time::Duration};

use secrecy::SecretString;

use crate::{Cli, Command, Config, ConsumeArgs, Platform};

/// Runs what `cli` asks for, until it is done or (serving) until a signal stops it. Sets up the
/// process's logs and traces first. Not `Send`: the subcommands write to a `dyn Write`; the
/// binary's `main` awaits it on its own thread.
pub fn main(cli: Cli) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>> {
    Box::pin(dispatch(cli))
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let Cli {
        command,
        config,
        log,
    } = cli;
    match command {
        Some(Command::OwnerToken(command)) => {
            // Its answer is stdout; logs go to stderr.
            service_kit::telemetry::init_with_writer(&log.rust_log, std::io::stderr);
            let db = identity_database(&config);
            identity_svc::operator::cli(&db, command, &mut std::io::stdout()).await
        }
        Some(Command::SigningKeys(command)) => {
            service_kit::telemetry::init_with_writer(&log.rust_log, std::io::stderr);
            let db = identity_database(&config);
            let keyring = config
                .identity_settings()?
                .keyring(config.database_url.as_ref(), &config.data_dir)?;
            identity_svc::signing_keys::cli(&db, &keyring, command, &mut std::io::stdout()).await
        }
        Some(Command::Toolbox(command)) => {
            // Results on stdout, progress and logs on stderr.
            service_kit::telemetry::init_with_writer(&log.rust_log, std::io::stderr);
            crate::toolbox::run(&config, command).await
        }
        Some(Command::Migrate(args)) => {
            // The steps go to stdout; logs to stderr.
            service_kit::telemetry::init_with_writer(&log.rust_log, std::io::stderr);
            crate::migrate::run(&config, &args, &mut std::io::stdout()).await
        }
        Some(Command::Consume(args)) => {
            service_kit::telemetry::init(&log.rust_log);
            consume(config, args).await
        }
        Some(Command::Serve) | None => {
            let telemetry = service_kit::telemetry::init_traced(&log.rust_log, &crate::PARTS)?;
            let result = serve(config).await;
            telemetry.shutdown().await;
            result
        }
    }
}

/// Runs every part until a signal stops them.
async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let platform = Platform::start(config, shutdown).await?;
    tracing::info!(url = %format!("http://{}", platform.gateway_addr), "platform started");
    platform.wait().await
}

/// One event consumer alone (`platform consume`).
async fn consume(config: Config, args: ConsumeArgs) -> anyhow::Result<()> {
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
fn identity_database(c: &Config) -> service_kit::db::DbConfig {
    identity_svc::operator::DatabaseArgs {
        database_url: c.database_url.clone(),
        database_schema: c.schema("identity"),
        data_dir: c.data_dir.clone(),
    }
    .database()
}
