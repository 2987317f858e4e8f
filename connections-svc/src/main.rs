//! connections-svc as its own process (Kubernetes). Run: `cargo run -p connections-svc -- --help`.
//! `connections-svc migrate`: applies the schema's migrations and exits (`service_kit::migrate`).
//! `connections-svc rewrap` moves every stored secret to the newest key version and exits (run
//! it after adding a key to `CONNECTIONS_KEYS`, before raising the minimum decrypt version).

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `migrate` is parsed on its own: it needs the database settings only (in Kubernetes the
    // migration role's URL), not the service's required ones.
    if std::env::args_os().nth(1).is_some_and(|a| a == "migrate") {
        return service_kit::migrate::main(&connections_svc::SCHEMA, std::env::args_os().skip(1))
            .await;
    }
    // `rewrap` is parsed on its own: it needs the database and key settings, not the service's
    // required credentials (SERVICE_CREDENTIAL, SERVICE_CREDENTIALS).
    if std::env::args_os().nth(1).is_some_and(|a| a == "rewrap") {
        let cli = connections_svc::rewrap_cli::RewrapCli::parse_from(std::env::args_os().skip(1));
        // Progress and logs on stderr; the counts, one JSON line, on stdout.
        service_kit::telemetry::init_with_writer(&cli.log.rust_log, std::io::stderr);
        let report = cli.run().await?;
        println!(r#"{{"moved":{},"failed":{}}}"#, report.moved, report.failed);
        if report.failed > 0 {
            anyhow::bail!("{} secrets could not be re-wrapped", report.failed);
        }
        return Ok(());
    }
    let cli = connections_svc::Cli::parse();
    let telemetry = service_kit::telemetry::init_traced(&cli.log.rust_log, &["connections-svc"])?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let result = match connections_svc::Application::build(cli.config, shutdown).await {
        Ok(app) => app.run().await,
        Err(e) => Err(e),
    };
    telemetry.shutdown().await;
    result
}
