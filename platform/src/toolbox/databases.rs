//! Where the toolbox finds each service's database: the all-in-one's (`DATABASE_URL` with
//! `SCHEMA_PREFIX`, or the SQLite files in `DATA_DIR`), or per service, as the separate
//! binaries name theirs (`IDENTITY_DATABASE_URL`, …), for a deployment of separate services.

use secrecy::SecretString;
use service_kit::{config::parse_secret, db::DbConfig};

/// Per-service databases that override the platform's.
#[derive(Debug, Clone, clap::Args)]
pub struct Databases {
    /// identity-svc's database when it is not the platform's (`postgres://…` or
    /// `sqlite://FILE`); default: the platform's `DATABASE_URL` (or `$DATA_DIR/identity.db`).
    #[arg(long, env = "IDENTITY_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub identity_database_url: Option<SecretString>,
    /// identity-svc's PostgreSQL schema with `--identity-database-url`.
    #[arg(
        long,
        env = "IDENTITY_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "identity"
    )]
    pub identity_database_schema: String,
    /// projects-svc's database when it is not the platform's.
    #[arg(long, env = "PROJECTS_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub projects_database_url: Option<SecretString>,
    /// projects-svc's PostgreSQL schema with `--projects-database-url`.
    #[arg(
        long,
        env = "PROJECTS_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "projects"
    )]
    pub projects_database_schema: String,
    /// connections-svc's database when it is not the platform's.
    #[arg(long, env = "CONNECTIONS_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub connections_database_url: Option<SecretString>,
    /// connections-svc's PostgreSQL schema with `--connections-database-url`.
    #[arg(
        long,
        env = "CONNECTIONS_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "connections"
    )]
    pub connections_database_schema: String,
}

impl Databases {
    /// The platform's own database of `service`, without overrides.
    pub fn default_for(config: &crate::Config, service: &str) -> DbConfig {
        DbConfig {
            url: config.database_url.clone(),
            schema: config.schema(service),
            sqlite_file: config.data_dir.join(format!("{service}.db")),
            max_connections: 2,
        }
    }

    /// The database of `service` (`identity`, `projects` or `connections`).
    pub fn of(&self, config: &crate::Config, service: &str) -> DbConfig {
        let own = match service {
            "identity" => (&self.identity_database_url, &self.identity_database_schema),
            "projects" => (&self.projects_database_url, &self.projects_database_schema),
            _ => (
                &self.connections_database_url,
                &self.connections_database_schema,
            ),
        };
        match own {
            (Some(url), schema) => DbConfig {
                url: Some(url.clone()),
                schema: schema.clone(),
                ..Self::default_for(config, service)
            },
            (None, _) => Self::default_for(config, service),
        }
    }
}

/// Opens and migrates (as the service does at start) the database of `service`.
pub async fn open(db: &DbConfig, service: &str) -> anyhow::Result<service_kit::db::Pool> {
    let pool = service_kit::db::connect(db).await?;
    let (sqlite, postgres) = match service {
        "identity" => (
            &identity_svc::store::SQLITE_MIGRATIONS,
            &identity_svc::store::POSTGRES_MIGRATIONS,
        ),
        "projects" => (
            &projects_svc::SQLITE_MIGRATIONS,
            &projects_svc::POSTGRES_MIGRATIONS,
        ),
        _ => (
            &connections_svc::SQLITE_MIGRATIONS,
            &connections_svc::POSTGRES_MIGRATIONS,
        ),
    };
    pool.migrate(sqlite, postgres)
        .await
        .map_err(|e| anyhow::anyhow!("{service}-svc's database: {e:#}"))?;
    Ok(pool)
}
