//! The raw Argon2id rate of this machine: the ceiling of logins per second.
//!
//! Argon2id at the `argon2` crate's defaults (m = 19456 KiB, t = 2, p = 1, a random 16-byte
//! salt per hash), on N OS threads hashing back to back: through `hash_password` (a fresh
//! 19 MiB buffer per hash), or with `--reuse-memory` into one buffer per thread, as
//! identity-svc's hashing threads do.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use argon2::{Argon2, PasswordHasher};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Threads hashing at once.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds to hash for.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Print a markdown table row on stdout.
    #[arg(long)]
    md: bool,
    /// Hash into one reused buffer per thread (`hash_password_into_with_memory`), as
    /// identity-svc does, instead of a fresh buffer per hash.
    #[arg(long)]
    reuse_memory: bool,
    /// Append the result as one JSON line to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub(crate) fn main(args: Args) -> anyhow::Result<()> {
    let threads = args.threads.max(1);
    let duration = Duration::from_secs_f64(args.duration.max(0.1));
    // One untimed hash first (page faults of the 19 MiB block, lazy statics).
    Argon2::default()
        .hash_password(b"warm-up password")
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let busy0 = crate::sys::machine_busy();
    let self0 = crate::sys::cpu_time(None);
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let reuse = args.reuse_memory;
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let argon = Argon2::default();
                let password = format!("loadgen password {i}");
                let mut blocks =
                    vec![argon2::Block::new(); argon2::Params::default().block_count()];
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if reuse {
                        let mut salt = [0u8; 16];
                        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("{e}"))?;
                        let mut out = [0u8; 32];
                        argon
                            .hash_password_into_with_memory(
                                password.as_bytes(),
                                &salt,
                                &mut out,
                                &mut blocks[..],
                            )
                            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                    } else {
                        argon
                            .hash_password(password.as_bytes())
                            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                    }
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| anyhow::anyhow!("hashing thread panicked"))??;
    }
    // The last hash of each thread may end after the deadline: divide by the real time.
    let elapsed = start.elapsed().as_secs_f64();
    let other = busy0
        .zip(crate::sys::machine_busy())
        .zip(self0.zip(crate::sys::cpu_time(None)))
        .map(|((m0, m1), (s0, s1))| {
            (m1.saturating_sub(m0).saturating_sub(s1.saturating_sub(s0))).as_secs_f64() / elapsed
        });
    if let Some(o) = other {
        eprintln!("  other processes' CPU {o:.2} cores");
    }
    let rate = total as f64 / elapsed;
    let per_thread = rate / threads as f64;
    eprintln!(
        "argon2id m=19456 t=2 p=1{}: {threads} thread(s), {total} hashes in {elapsed:.2} s: {rate:.1} hashes/s ({per_thread:.1}/s per thread, {:.1} ms per hash)",
        if args.reuse_memory {
            " (reused memory)"
        } else {
            ""
        },
        1000.0 / per_thread
    );
    if args.md {
        println!(
            "| Argon2id hash (m=19456, t=2, p=1){}, {threads} thread(s) | {rate:.1} | {per_thread:.1} | {:.1} |",
            if args.reuse_memory {
                ", reused memory"
            } else {
                ""
            },
            1000.0 / per_thread
        );
    }
    if let Some(path) = &args.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(
            f,
            "{}",
            json!({
                "label": if args.reuse_memory {
                    format!("argon2id reused memory x{threads}")
                } else {
                    format!("argon2id x{threads}")
                },
                "threads": threads,
                "hashes": total,
                "elapsed_s": elapsed,
                "hashes_per_s": rate,
                "hashes_per_s_per_thread": per_thread,
                "other_cpu_cores": other,
            })
        )?;
    }
    Ok(())
}
