//! The whole platform in one process, on embedded SQLite by default.
//!
//! Run: `cargo run --release -p platform` (HTTP API on http://127.0.0.1:8080, data in ./data).
//! `platform consume …` runs one event consumer alone (maintenance, and the crash tests);
//! `platform owner-token create|list|revoke` manages operator tokens (`identity_svc::operator`);
//! `platform rotate-signing-key` and `platform rewrap-signing-keys` the access-token signing
//! keys (`identity_svc::signing_keys`); `platform migrate [--service NAME]` the schemas
//! (`platform::migrate`); `platform create-admin|export|import|rewrap` the rest of the
//! operator's toolbox (`platform::toolbox`). What each does is `platform::run`.

use clap::Parser;

// mimalloc rather than the system allocator (glibc): the request path allocates many small,
// short-lived buffers across threads, and mimalloc served the gateway's GET /api/v1/user about
// 12 % faster in an interleaved A/B (docs/benchmarks.md). Every server binary uses it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    platform::run::main(platform::Cli::parse()).await
}
