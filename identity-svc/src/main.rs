//! identity-svc as its own process (Kubernetes). Run: `cargo run -p identity-svc -- --help`.

use clap::Parser;

// mimalloc rather than the system allocator: see platform/src/main.rs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "identity-svc",
    about = "The platform's identity service (gRPC)"
)]
struct Cli {
    #[command(flatten)]
    config: identity_svc::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("info");
    let cli = Cli::parse();
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    identity_svc::Application::build(cli.config, shutdown)
        .await?
        .run()
        .await
}
