//! Envelope encryption throughput: connections-svc's own `Keyring` sealing and opening secrets
//! (a fresh data key per seal, XChaCha20-Poly1305 twice, base64), one thread back to back.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use connections_svc::envelope::{Binding, Keyring};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds per operation.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Size of the secret, in bytes (a password: 32; a BigQuery key file: about 2300).
    #[arg(long, default_value_t = 32)]
    secret_bytes: usize,
    /// Print markdown table rows on stdout.
    #[arg(long)]
    md: bool,
    /// Append the results as JSON lines to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Runs `op` back to back for `d`; operations per second.
fn rate(d: Duration, mut op: impl FnMut()) -> (u64, f64) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        for _ in 0..64 {
            op();
        }
        n += 64;
    }
    (n, n as f64 / start.elapsed().as_secs_f64())
}

pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let keyring = Keyring::parse(&Keyring::generate_spec(1), 1)
        .map_err(|e| anyhow::anyhow!("keyring: {e}"))?;
    let org = uuid::Uuid::now_v7();
    let conn = uuid::Uuid::now_v7();
    let binding = Binding {
        organization_uuid: org,
        connection_uuid: conn,
        field: "password",
    };
    let secret = vec![b's'; args.secret_bytes.max(1)];
    let sealed = keyring.seal(&secret, &binding);
    let opened = keyring
        .open(&sealed, &binding)
        .map_err(|e| anyhow::anyhow!("open: {e}"))?;
    anyhow::ensure!(
        secrecy::ExposeSecret::expose_secret(&opened) == secret.as_slice(),
        "round trip"
    );
    let d = Duration::from_secs_f64(args.duration.max(0.1));
    let (seals, seal_rate) = rate(d, || {
        std::hint::black_box(keyring.seal(std::hint::black_box(&secret), &binding));
    });
    let (opens, open_rate) = rate(d, || {
        std::hint::black_box(keyring.open(std::hint::black_box(&sealed), &binding).ok());
    });
    eprintln!(
        "envelope ({} byte secret): seal {seal_rate:.0}/s ({seals} in {:.1} s), open {open_rate:.0}/s ({opens})",
        secret.len(),
        args.duration
    );
    if args.md {
        println!(
            "| seal | {} | {seal_rate:.0} | {:.1} |",
            secret.len(),
            1e6 / seal_rate
        );
        println!(
            "| open | {} | {open_rate:.0} | {:.1} |",
            secret.len(),
            1e6 / open_rate
        );
    }
    if let Some(path) = &args.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for (op, r) in [("seal", seal_rate), ("open", open_rate)] {
            writeln!(
                f,
                "{}",
                json!({"label": format!("envelope-{op}-{}", secret.len()), "ops_per_sec": r, "secret_bytes": secret.len()})
            )?;
        }
    }
    Ok(())
}
