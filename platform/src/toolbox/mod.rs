//! The operator's toolbox beyond serving (docs/operations.md, "The operator's toolbox"):
//! `create-admin`, `export`, `import` and `rewrap`. Each works on the services' databases
//! directly, with the platform's settings (`DATA_DIR`, `DATABASE_URL`, `SCHEMA_PREFIX`, the key
//! settings), writes its progress to stderr and its result to stdout, the last line of which is
//! one JSON object a script can read.

pub mod databases;
pub mod transfer;

use std::io::Write;

use anyhow::Context;

use crate::Config;

/// The toolbox's subcommands of `platform`.
#[derive(Debug, clap::Subcommand)]
pub enum Toolbox {
    /// Create the first user and organization, the user its admin, without a browser.
    ///
    /// The rules are the API's (email, names, the password policy, Argon2id); the user logs in
    /// at once. The password comes from ADMIN_PASSWORD or, with --password-stdin, from the first
    /// line of standard input; it is never an argument. Running it again with the same email
    /// and organization name changes nothing and succeeds; another taken email fails (exit 1).
    /// Needs identity-svc's database (DATA_DIR, or DATABASE_URL and SCHEMA_PREFIX); works while
    /// the platform runs. The last line of stdout: {"organizationUuid","userUuid","created"}.
    #[command(name = "create-admin")]
    CreateAdmin(identity_svc::admin::CreateAdmin),
    /// Write one organization (with its sub-accounts) as one JSON document, platform-org-export/1.
    ///
    /// It holds every service's rows of the organization: its accounts, members and their users
    /// (with password hashes), personal access tokens (digests), groups, attributes,
    /// invitations, allowed IPs; projects, spaces, grants, tags; connections with their secrets
    /// as sealed (never decrypted: the target needs the same CONNECTIONS_KEYS versions). Treat
    /// the file as a backup. Reads each service's database in one snapshot; works while the
    /// platform runs (stop writes for a cut consistent across services). Progress on stderr;
    /// with --output, the last line of stdout is {"organizationUuid","accounts","rows","output"}.
    Export(transfer::export::ExportArgs),
    /// Write an organization exported by `export` into this deployment's databases.
    ///
    /// The document is checked whole first (format, every row; each account's path and depth
    /// as its parent chain gives them; every user given something is one of its members;
    /// emails lower-cased; every connection secret opens under this deployment's
    /// CONNECTIONS_KEYS): a document failing a check writes nothing. Then each service's rows
    /// are written in its own transaction, the three committed in turn (identity, projects,
    /// connections) once all are written: not atomic across databases, so a failed commit
    /// names the services committed and not, and running the same import again skips a
    /// service already holding exactly the document's rows ("already imported"). A service
    /// holding other rows of the organization, or a taken email, is refused. The schemas must
    /// be current (`platform migrate`). On SQLite it holds identity's write lock throughout:
    /// run it at a quiet time. Progress on stderr; the last line of stdout is
    /// {"organizationUuid","accounts","rows"}.
    Import(transfer::import::ImportArgs),
    /// Re-wrap every connection secret under the newest version of CONNECTIONS_KEYS.
    ///
    /// No secret is decrypted: each data key is re-sealed. Run it after adding a key version
    /// and restarting; then raise CONNECTIONS_KEY_MIN_DECRYPT_VERSION (docs/keys.md). Needs
    /// connections-svc's database and CONNECTIONS_KEYS (default: $DATA_DIR/connections.keys);
    /// works while the platform runs. Counts on stderr after each batch of 500; the last line of
    /// stdout is {"moved","failed"}; exit 1 when any secret could not be re-wrapped.
    Rewrap,
}

/// Runs `command` with the platform's `config`.
pub async fn run(config: &Config, command: Toolbox) -> anyhow::Result<()> {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match command {
        Toolbox::CreateAdmin(args) => {
            let password = identity_svc::admin::read_password(&args)?;
            let db = databases::Databases::default_for(config, "identity");
            identity_svc::admin::cli(&db, &args, password, &mut out).await
        }
        Toolbox::Export(args) => transfer::export::run(config, &args, &mut err, &mut out).await,
        Toolbox::Import(args) => {
            let keyring = connections_keyring(config)?;
            transfer::import::run(config, &args, &keyring, &mut err, &mut out).await
        }
        Toolbox::Rewrap => {
            let keyring = connections_keyring(config)?;
            let db = databases::Databases::default_for(config, "connections");
            let r = connections_svc::rewrap_database(&db, &keyring, &mut err).await?;
            writeln!(out, r#"{{"moved":{},"failed":{}}}"#, r.moved, r.failed)?;
            anyhow::ensure!(
                r.failed == 0,
                "{} secrets could not be re-wrapped",
                r.failed
            );
            Ok(())
        }
    }
}

/// connections-svc's key ring as the all-in-one reads it.
fn connections_keyring(config: &Config) -> anyhow::Result<connections_svc::envelope::Keyring> {
    let settings = config.connections_settings()?;
    let spec = settings
        .connections_keys
        .context("CONNECTIONS_KEYS: not set")?;
    connections_svc::envelope::Keyring::parse(
        secrecy::ExposeSecret::expose_secret(&spec),
        settings.connections_key_min_decrypt_version,
    )
    .map_err(|e| anyhow::anyhow!("CONNECTIONS_KEYS: {e}"))
}
