//! projects-svc as its own process (Kubernetes). Run: `cargo run -p projects-svc -- --help`.

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "projects-svc")]
struct Cli {
    #[command(flatten)]
    config: projects_svc::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("info");
    let cli = Cli::parse();
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    projects_svc::Application::build(cli.config, shutdown)
        .await?
        .run()
        .await
}
