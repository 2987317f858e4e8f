//! `rotate-signing-key` and `rewrap-signing-keys`: the access-token signing keys on the command
//! line, the same in `identity-svc` (a deployment) and `platform` (the all-in-one). Like
//! `owner-token` they work on the service's database directly (migrating it first if needed),
//! while the service runs. Rules: `domain::keys`; the steps: docs/keys.md.

use std::io::Write;

use service_kit::{
    db::{self, DbConfig},
    envelope::Keyring,
};

use crate::{Settings, domain::keys, operator, store};

/// What to do with the signing keys.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum SigningKeys {
    /// Create a new signing key now. It is published at once; the running service signs with
    /// it once it has been published for twice JWKS_CACHE_SECONDS (every verifier has fetched
    /// it by then), and retires the key signing now once the tokens it signed have expired.
    /// Prints the new key's id as the last line. Needs identity-svc's database and IDENTITY_KEYS
    /// (the all-in-one: DATA_DIR, or DATABASE_URL and SCHEMA_PREFIX); works while it runs.
    #[command(name = "rotate-signing-key")]
    Rotate,
    /// Re-seal every signing key's data key under the newest version of IDENTITY_KEYS (the
    /// keys themselves are not decrypted); then IDENTITY_KEY_MIN_DECRYPT_VERSION may be raised.
    /// Prints the counts; exit 1 when a key could not be re-wrapped. Needs identity-svc's
    /// database and IDENTITY_KEYS; works while the service runs (docs/keys.md).
    #[command(name = "rewrap-signing-keys")]
    Rewrap,
}

impl SigningKeys {
    /// The subcommand's name as typed.
    pub fn name(self) -> &'static str {
        match self {
            SigningKeys::Rotate => "rotate-signing-key",
            SigningKeys::Rewrap => "rewrap-signing-keys",
        }
    }
}

/// `identity-svc rotate-signing-key` / `rewrap-signing-keys`: the service's database and key
/// settings (not its service credentials).
#[derive(Debug, clap::Parser)]
#[command(
    name = "identity-svc",
    about = "Rotate or re-wrap the access-token signing keys in identity-svc's database"
)]
pub struct SigningKeysCli {
    /// The log filter (logs go to stderr).
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// identity-svc's database.
    #[command(flatten)]
    pub db: operator::DatabaseArgs,
    /// identity-svc's settings (IDENTITY_KEYS, IDENTITY_KEY_MIN_DECRYPT_VERSION are read).
    #[command(flatten)]
    pub settings: Settings,
    /// What to do.
    #[command(subcommand)]
    pub command: SigningKeys,
}

impl SigningKeysCli {
    /// The key ring as the service reads it.
    pub fn keyring(&self) -> anyhow::Result<Keyring> {
        self.settings
            .keyring(self.db.database_url.as_ref(), &self.db.data_dir)
    }
}

/// Runs `command` on the database `db` with `keyring`, writing its answer to `out`: `rotate`
/// prints the new key's id on the last line.
pub async fn cli(
    db: &DbConfig,
    keyring: &Keyring,
    command: SigningKeys,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = db::connect(db).await?;
    let result = run(&pool, keyring, command, out).await;
    pool.close().await;
    result
}

async fn run(
    pool: &db::Pool,
    keyring: &Keyring,
    command: SigningKeys,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    pool.migrate(&store::SQLITE_MIGRATIONS, &store::POSTGRES_MIGRATIONS)
        .await?;
    let store = store::for_pool(pool.clone()).await;
    keys::seal_clear_keys(store.as_ref(), keyring).await?;
    match command {
        SigningKeys::Rotate => {
            let kid = keys::rotate_now(store.as_ref(), keyring).await?;
            writeln!(
                out,
                "signing key created and published; it signs once every verifier has fetched it:"
            )?;
            writeln!(out, "{kid}")?;
        }
        SigningKeys::Rewrap => {
            let r = keys::rewrap_all(store.as_ref(), keyring).await?;
            writeln!(
                out,
                "signing keys re-wrapped under key version {}: {} moved, {} already there, {} failed",
                keyring.current_version(),
                r.moved,
                r.current,
                r.failed
            )?;
            anyhow::ensure!(
                r.failed == 0,
                "{} signing keys could not be re-wrapped",
                r.failed
            );
        }
    }
    out.flush()?;
    Ok(())
}
