//! projects-svc as its own process (Kubernetes). Run: `cargo run -p projects-svc -- --help`.
//! `projects-svc migrate`: applies the schema's migrations and exits (`service_kit::migrate`).

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `migrate` is parsed on its own: it needs the database settings only (in Kubernetes the
    // migration role's URL), not the service's required ones.
    if std::env::args_os().nth(1).is_some_and(|a| a == "migrate") {
        return service_kit::migrate::main(&projects_svc::SCHEMA, std::env::args_os().skip(1))
            .await;
    }
    let cli = projects_svc::Cli::parse();
    let telemetry = service_kit::telemetry::init_traced(&cli.log.rust_log, &["projects-svc"])?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let result = match projects_svc::Application::build(cli.config, shutdown).await {
        Ok(app) => app.run().await,
        Err(e) => Err(e),
    };
    telemetry.shutdown().await;
    result
}
