//! projects-svc as its own process (Kubernetes). Run: `cargo run -p projects-svc -- --help`.

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = projects_svc::Cli::parse();
    service_kit::telemetry::init(&cli.log.rust_log);
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    projects_svc::Application::build(cli.config, shutdown)
        .await?
        .run()
        .await
}
