//! `platform export`: one organization, with its sub-accounts, as one JSON document.

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use anyhow::Context;
use uuid::Uuid;

use super::{Document, FORMAT, sql::Tx, tables::SERVICES};
use crate::toolbox::databases::{self, Databases};

/// Arguments of `platform export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The top-level organization (account) to export; its sub-accounts come with it.
    #[arg(long, value_name = "UUID")]
    pub organization: Uuid,
    /// The file to write (created with mode 0600; replaced whole, never half-written).
    /// Default: standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Per-service databases (a deployment of separate services).
    #[command(flatten)]
    pub databases: Databases,
}

/// Exports as `args` says, writing progress to `progress` and the result to `out`: the
/// document itself (one line) without `--output`, else one JSON line that sums it up.
pub async fn run(
    config: &crate::Config,
    args: &ExportArgs,
    progress: &mut dyn Write,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let exported_at = chrono::Utc::now();
    let mut pools = Vec::new();
    for s in &SERVICES {
        pools.push(databases::open(&args.databases.of(config, s.name), s.name).await?);
    }
    let result = read_all(&pools, args.organization, progress).await;
    for p in &pools {
        p.close().await;
    }
    let (services, accounts, total) = result?;
    let document = Document {
        format: FORMAT.to_owned(),
        exported_at,
        organization_uuid: args.organization,
        services,
    };
    let text = serde_json::to_string(&document)?;
    match &args.output {
        None => writeln!(out, "{text}")?,
        Some(path) => {
            write_private(path, text.as_bytes())?;
            let summary = serde_json::json!({
                "organizationUuid": args.organization,
                "accounts": accounts,
                "rows": total,
                "output": path,
            });
            writeln!(out, "{summary}")?;
        }
    }
    out.flush()?;
    Ok(())
}

type Services = BTreeMap<String, BTreeMap<String, Vec<super::Row>>>;

/// Every service's rows of the organization, each service read in one snapshot.
async fn read_all(
    pools: &[service_kit::db::Pool],
    root: Uuid,
    progress: &mut dyn Write,
) -> anyhow::Result<(Services, usize, usize)> {
    let mut services = Services::new();
    let mut accounts = Vec::new();
    let mut total = 0;
    for (service, pool) in SERVICES.iter().zip(pools) {
        let mut tx = Tx::begin(pool, true).await?;
        if service.name == "identity" {
            accounts = tx.accounts_of(root).await?;
            writeln!(
                progress,
                "export: organization {root}: {} account(s)",
                accounts.len()
            )?;
        }
        let mut tables = BTreeMap::new();
        for table in service.tables {
            let rows = tx.select(table, &accounts).await?;
            writeln!(
                progress,
                "export: {}.{}: {} row(s)",
                service.name,
                table.name,
                rows.len()
            )?;
            total += rows.len();
            tables.insert(table.name.to_owned(), rows);
        }
        tx.commit().await?;
        services.insert(service.name.to_owned(), tables);
    }
    Ok((services, accounts.len(), total))
}

/// Writes `bytes` to `path` readable by its owner only: into a new file beside it, renamed
/// over `path` once complete. A partial file left by an earlier run (or planted: a symlink, a
/// file others may read) is removed first, and the new one is created exclusively (O_EXCL,
/// which follows no symlink) with mode 0600: the document holds password hashes.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .with_context(|| format!("--output {} names no file", path.display()))?;
    let partial = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot remove {}", partial.display()));
        }
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
        .with_context(|| format!("cannot move the export to {}", path.display()))?;
    Ok(())
}
