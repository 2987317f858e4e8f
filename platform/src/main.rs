//! The whole platform in one process, on embedded SQLite by default.
//!
//! Run: `cargo run --release -p platform` (HTTP API on http://127.0.0.1:8080, data in ./data).

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "platform",
    about = "Gateway + identity-svc + connections-svc + projects-svc in one process"
)]
struct Cli {
    #[command(flatten)]
    config: platform::Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("info");
    let cli = Cli::parse();
    let shutdown = tokio_util::sync::CancellationToken::new();
    service_kit::shutdown::cancel_on_signal(shutdown.clone());
    let platform = platform::Platform::start(cli.config, shutdown).await?;
    tracing::info!(url = %format!("http://{}", platform.gateway_addr), "platform started");
    platform.wait().await
}
