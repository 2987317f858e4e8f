//! `platform migrate`: applies the schema migrations of every service (or of one, `--service`)
//! in the all-in-one's database (`DATABASE_URL` and `SCHEMA_PREFIX`, or the SQLite files in
//! `DATA_DIR`), printing each step, and exits: 0 when every schema is up to date.

use std::io::Write;

use service_kit::{db::DbConfig, migrate::ServiceSchema};

/// Arguments of `platform migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Only this service's schema. Default: all three.
    #[arg(long, value_parser = ["identity", "connections", "projects"])]
    pub service: Option<String>,
}

/// The services' schemas, in the order they are migrated.
fn schemas() -> [&'static ServiceSchema; 3] {
    [
        &identity_svc::SCHEMA,
        &connections_svc::SCHEMA,
        &projects_svc::SCHEMA,
    ]
}

/// Migrates the schemas `args` selects, writing each step to `out`; stops at the first failure.
pub async fn run(
    config: &crate::Config,
    args: &MigrateArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    for schema in schemas() {
        if args.service.as_deref().is_some_and(|s| s != schema.name) {
            continue;
        }
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.schema(schema.name),
            sqlite_file: config.data_dir.join(format!("{}.db", schema.name)),
            max_connections: 2,
        };
        service_kit::migrate::run(schema, &db, out).await?;
    }
    Ok(())
}
