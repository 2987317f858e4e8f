//! The reference: the least an axum JSON endpoint can do, `GET /` answering `{"status":"ok"}`,
//! served on a runtime like the platform's (`#[tokio::main]`: one worker per CPU), with no
//! middleware and no logging.

use std::{io::Write, net::SocketAddr, time::Duration};

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Worker threads; 0 means one per CPU, as `#[tokio::main]` does.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 900)]
    max_secs: u64,
}

pub(crate) fn router() -> Router {
    Router::new().route(
        "/",
        get(|| async { Json::<Value>(json!({ "status": "ok" })) }),
    )
}

pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    crate::ensure_loopback(&args.addr.ip().to_string())?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        builder.worker_threads(args.threads);
    }
    let rt = builder.enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        // The line bench.sh waits for.
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let deadline = tokio::time::sleep(Duration::from_secs(args.max_secs));
        axum::serve(listener, router())
            .with_graceful_shutdown(deadline)
            .await?;
        Ok(())
    })
}
